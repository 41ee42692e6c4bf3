/* `gantry check`, the loss family: BCE with logits, the regression losses
 * (MSE, L1), the softmax cross-entropy and log-sum-exp, forward and
 * backward, and every backward against finite differences of its forward.
 *
 * Grids: BCE over the sizes of sum and mean; regression losses with n up to
 * 100003; softmax and log-sum-exp with k in {1, 2, 10, 11, 257} and 1..512
 * rows, one-hot, general and unnormalised targets, and logits up to +-100.
 *
 * NaN/Inf: injected where the ABI's formula defines the result whatever
 * the implementation: the BCE, MSE and L1 gradients (sign(NaN) = 0), and
 * non-finite logits in the softmax cross-entropy and log-sum-exp, forward
 * and backward, as backend.h defines them after torch.logsumexp: rows with
 * a NaN, with -Inf at some entries, with +Inf, with +Inf and NaN, all -Inf;
 * and for the cross-entropy forward also -Inf logits only where the target
 * is 0 (those terms contribute nothing, so the loss stays finite and is
 * compared as a number). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/fd_op.h"
#include "tools/check/grid.h"
#include "tools/check/rows.h"

/* ---- BCE with logits ---------------------------------------------------------------- */

static gantry_status run_bce_forward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_bce_logits_forward(t[0], c->f[0], t[1]);
}

static gantry_status run_bce_backward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_bce_logits_backward(t[0], c->f[0], c->f[1], t[1]);
}

/* Over the sizes of sum and mean, with logits far into both tails. */
static int bce_forward_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const float targets[] = { 1.0f, 0.0f, 0.9f, 0.25f };
    (void)spec;
    size_t n = check_reduction_at(s, p->at);
    c->run = run_bce_forward;
    float *x = check_uniform_arg(c, "x", CHECK_IN, n, -8.0f, 8.0f);
    if (x && n > 2) {
        x[0] = 30.0f;
        x[n - 1] = -30.0f;
    }
    check_uniform_arg(c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
    c->f[0] = targets[p->index % CHECK_ARRAY_LEN(targets)];
    snprintf(c->desc, sizeof c->desc, "n=%zu target=%g", n, (double)c->f[0]);
    return 1;
}

/* variant bit 0: NaN/Inf in x */
static int bce_backward_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const float targets[] = { 1.0f, 0.0f, 0.9f };
    static const float scales[] = { 1.0f, -1.0f, 0.5f, 0.0f };
    (void)spec;
    size_t n = check_size_at(s, p->at);
    c->run = run_bce_backward;
    float *x = check_uniform_arg(c, "x", CHECK_IN, n, -8.0f, 8.0f);
    if (p->variant & 1)
        check_inject_nonfinite(x, n, p->index);
    check_uniform_arg(c, "dx", CHECK_OUT, n, -1.0f, 1.0f);
    c->f[0] = targets[p->index % CHECK_ARRAY_LEN(targets)];
    c->f[1] = scales[p->index % CHECK_ARRAY_LEN(scales)];
    snprintf(c->desc, sizeof c->desc, "n=%zu target=%g scale=%g%s", n, (double)c->f[0], (double)c->f[1],
             p->variant & 1 ? " with NaN/Inf" : "");
    return 1;
}

/* ---- regression losses ------------------------------------------------------------- */

static const size_t loss_sizes_full[] = { 1, 2, 3, 7, 13, 33, 129, 257, 1021, 4099, 65537, 100003 };
static const size_t loss_sizes_quick[] = { 1, 7, 129, 4099 };

static gantry_status run_regression_forward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_regression_loss_forward((gantry_loss_kind)c->i[0], t[0], t[1], t[2]);
}

static gantry_status run_regression_backward(gantry_tensor *const *t, const check_case *c)
{
    /* in place: dx is x */
    return gantry_op_regression_loss_backward((gantry_loss_kind)c->i[0], t[0], t[1], c->f[0], c->i[1] ? t[0] : t[2]);
}

/* t near x for some elements (small differences), with exact ties. */
static void regression_inputs(check_case *c, float *x, float *t, size_t n)
{
    check_fill_uniform(c, x, n, -3.0f, 3.0f);
    check_fill_uniform(c, t, n, -3.0f, 3.0f);
    for (size_t i = 0; x && t && i < n; i++) {
        if (i % 11 == 4)
            t[i] = x[i]; /* x - t = 0: sign(0) = 0 for L1 */
        else if (i % 11 == 7)
            t[i] = x[i] + 1e-3f * t[i];
    }
}

static size_t regression_points(const check_suite *s)
{
    return s->quick ? CHECK_ARRAY_LEN(loss_sizes_quick) : CHECK_ARRAY_LEN(loss_sizes_full);
}

/* variant bit 0: L1; variant 2, 3: backward in place (forward: plain
 * again, other inputs); variant 4, 5: NaN/Inf (the L1 gradient with
 * sign(NaN) = 0) */
static int regression_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const float scales[] = { 1.0f, -1.0f, 0.5f, 2.5f, 0.0f };
    int backward = spec->op == CHECK_OP_regression_loss_backward;
    int l1 = p->variant & 1, in_place = backward && p->variant / 2 == 1, nonfinite = p->variant / 2 == 2;
    size_t n = s->quick ? loss_sizes_quick[p->at] : loss_sizes_full[p->at];
    c->run = backward ? run_regression_backward : run_regression_forward;
    c->i[0] = l1 ? GANTRY_LOSS_L1 : GANTRY_LOSS_MSE;
    c->i[1] = in_place;
    c->f[0] = scales[p->index % CHECK_ARRAY_LEN(scales)];
    float *x = check_arg_1d(c, "x", in_place ? CHECK_OUT : CHECK_IN, n);
    float *t = check_arg_1d(c, "t", CHECK_IN, n);
    regression_inputs(c, x, t, n);
    if (nonfinite)
        check_inject_nonfinite(x, n, p->index);
    if (backward) {
        if (!in_place)
            check_uniform_arg(c, "dx", CHECK_OUT, n, -1.0f, 1.0f);
        snprintf(c->desc, sizeof c->desc, "%s n=%zu scale=%g%s%s", l1 ? "L1" : "MSE", n, (double)c->f[0],
                 in_place ? " in place" : "", nonfinite ? " with NaN/Inf" : "");
    } else {
        check_uniform_arg(c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
        snprintf(c->desc, sizeof c->desc, "%s n=%zu%s", l1 ? "L1" : "MSE", n, nonfinite ? " with NaN/Inf" : "");
    }
    return 1;
}

/* ---- softmax cross-entropy, log-sum-exp ------------------------------------------- */

static const size_t class_counts[] = { 1, 2, 10, 11, 257 };
static const size_t row_counts_full[] = { 1, 2, 7, 64, 129, 512 };
static const size_t row_counts_quick[] = { 1, 7, 129 };

enum { TARGET_ONE_HOT, TARGET_PROBS, TARGET_UNNORMALISED, TARGET_COUNT };
static const char *const target_names[] = { "one-hot", "probabilities", "unnormalised" };

/* Logits in [-4, 4], or [-100, 100] (exp overflows float without the max
 * subtracted). */
static void logits(check_case *c, float *x, size_t n, int large)
{
    check_fill_uniform(c, x, n, large ? -100.0f : -4.0f, large ? 100.0f : 4.0f);
}

/* Rows in turn: a NaN; -Inf at a few entries (not all); one +Inf; +Inf
 * and NaN; all -Inf; untouched. */
static void inject_logits(float *x, size_t rows, size_t k, uint64_t phase)
{
    for (size_t r = 0; x && r < rows; r++) {
        float *row = x + r * k;
        size_t at = (r * 7 + phase) % k;
        switch ((r + phase) % 6) {
        case 0: row[at] = NAN; break;
        case 1:
            for (size_t j = (r + phase) % 2; j < k && k > 1; j += 3)
                row[j] = -INFINITY;
            break;
        case 2: row[at] = INFINITY; break;
        case 3:
            row[at] = INFINITY;
            row[(at + 1) % k] = NAN; /* k == 1: just NaN */
            break;
        case 4:
            for (size_t j = 0; j < k; j++)
                row[j] = -INFINITY;
            break;
        default: break;
        }
    }
}

/* -Inf at every other entry whose target is 0 (the cross-entropy forward
 * skips those terms: the loss stays finite). */
static void inject_logits_where_t0(float *x, const float *t, size_t n, uint64_t phase)
{
    for (size_t i = 0; x && t && i < n; i++)
        if (t[i] == 0.0f && (i + phase) % 2 == 0)
            x[i] = -INFINITY;
}

/* Targets: one-hot rows, probabilities summing to 1, or non-negative
 * values summing to anything in about [0.3, 2] (the ABI's formulas hold for
 * any t). */
static void targets(check_case *c, float *t, size_t rows, size_t k, int kind)
{
    check_fill_uniform(c, t, rows * k, 0.0f, 1.0f);
    for (size_t r = 0; t && r < rows; r++) {
        float *row = t + r * k;
        if (kind == TARGET_ONE_HOT) {
            size_t hot = (size_t)(row[0] * (float)k) % k;
            for (size_t j = 0; j < k; j++)
                row[j] = j == hot ? 1.0f : 0.0f;
            continue;
        }
        double sum = 0.0;
        for (size_t j = 0; j < k; j++)
            sum += row[j];
        double want = kind == TARGET_PROBS ? 1.0 : 0.3 + 1.7 * (double)((r * 37 + k) % 10) / 9.0;
        for (size_t j = 0; j < k; j++)
            row[j] = (float)(row[j] * want / sum);
    }
}

static gantry_status run_softmax_ce_forward(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_softmax_ce_forward(t[0], t[1], t[2]);
}

static gantry_status run_softmax_ce_backward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_softmax_ce_backward(t[0], t[1], c->f[0], t[2]);
}

static gantry_status run_logsumexp_forward(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_logsumexp_forward(t[0], t[1]);
}

static gantry_status run_logsumexp_backward(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_logsumexp_backward(t[0], t[1], t[2]);
}

/* Every row count with every class count. */
static size_t softmax_points(const check_suite *s)
{
    size_t rows = s->quick ? CHECK_ARRAY_LEN(row_counts_quick) : CHECK_ARRAY_LEN(row_counts_full);
    return rows * CHECK_ARRAY_LEN(class_counts);
}

/* The cross-entropy's targets and output. */
static void softmax_ce_args(check_case *c, int backward, float *x, size_t rows, size_t k, int tkind,
                            int minus_inf_t0, size_t index)
{
    float *t = check_arg_2d(c, "t", CHECK_IN, rows, k);
    targets(c, t, rows, k, tkind);
    if (minus_inf_t0)
        inject_logits_where_t0(x, t, rows * k, index);
    if (!backward)
        check_uniform_arg(c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
    else
        check_fill_uniform(c, check_arg_2d(c, "dx", CHECK_OUT, rows, k), rows * k, -1.0f, 1.0f);
}

/* spec->variant: 0 softmax_ce_forward, 1 softmax_ce_backward,
 * 2 logsumexp_forward, 3 logsumexp_backward.  variant 0..2: the target
 * kinds (log-sum-exp: plain), 3: logits up to +-100, 4: NaN/Inf logits
 * (inject_logits), 5: the CE forward with -Inf logits where one-hot
 * targets are 0 */
static int softmax_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const check_run_fn runs[] = { run_softmax_ce_forward, run_softmax_ce_backward, run_logsumexp_forward,
                                         run_logsumexp_backward };
    static const float scales[] = { 1.0f, 0.5f, -2.0f, 1.0f, 0.0f };
    int which = spec->variant, ce = which < 2, variant = p->variant;
    size_t i = p->at / CHECK_ARRAY_LEN(class_counts), j = p->at % CHECK_ARRAY_LEN(class_counts);
    int large = variant == 3, nonfinite = variant == 4, minus_inf_t0 = variant == 5;
    int tkind = variant < TARGET_COUNT ? variant : minus_inf_t0 ? TARGET_ONE_HOT : (int)(p->index % TARGET_COUNT);
    if ((!ce && variant > 0 && variant < 3) || (minus_inf_t0 && which != 0) || (s->quick && large && i > 0))
        return 0;
    size_t rows = s->quick ? row_counts_quick[i] : row_counts_full[i], k = class_counts[j];
    const char *logit_kind = large ? " logits +-100" : "";
    c->run = runs[which];
    c->f[0] = scales[p->index % CHECK_ARRAY_LEN(scales)];
    float *x = check_arg_2d(c, "x", CHECK_IN, rows, k);
    logits(c, x, rows * k, large);
    if (nonfinite)
        inject_logits(x, rows, k, p->index);
    if (ce) {
        softmax_ce_args(c, which == 1, x, rows, k, tkind, minus_inf_t0, p->index);
        snprintf(c->desc, sizeof c->desc, "[%zu, %zu] %s%s%s", rows, k, target_names[tkind], logit_kind,
                 nonfinite ? " with NaN/Inf" : minus_inf_t0 ? " with -Inf where t = 0" : "");
        if (which == 1) {
            size_t used = strlen(c->desc);
            snprintf(c->desc + used, sizeof c->desc - used, " scale=%g", (double)c->f[0]);
        }
        return 1;
    }
    if (which == 2) {
        check_uniform_arg(c, "out", CHECK_OUT, rows, -1.0f, 1.0f);
    } else {
        check_uniform_arg(c, "dout", CHECK_IN, rows, -2.0f, 2.0f);
        check_fill_uniform(c, check_arg_2d(c, "dx", CHECK_OUT, rows, k), rows * k, -1.0f, 1.0f);
    }
    snprintf(c->desc, sizeof c->desc, "[%zu, %zu]%s%s", rows, k, logit_kind, nonfinite ? " with NaN/Inf" : "");
    return 1;
}

/* ---- finite differences of each backward against its own forward ----------------- */

typedef gantry_status (*loss_backward_fn)(const check_fd_op *p, float scale, gantry_tensor *dx);

/* A loss of x against targets t of one shape into a scalar: L = out[0],
 * dx = backward(scale) against scale times the differences of
 * p->forward(t[0] = x, t[1] = t, t[2] = out).  `st` carries an earlier
 * failure; x and t are freed here. */
static void fd_loss(check_suite *s, check_row *r, check_fd_op *p, gantry_status st, float *x, float *t, int ndim,
                    const size_t *shape, float scale, loss_backward_fn backward, const char *config)
{
    float *host[] = { x, t };
    size_t one[1] = { 1 };
    p->out_host = check_host_alloc(1);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, x, &p->t[0]);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, t, &p->t[1]);
    if (!st)
        st = check_host_tensor(s->test, 1, one, NULL, &p->t[2]);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, NULL, &p->t[3]);
    if (!st)
        st = backward(p, scale, p->t[3]);
    p->out = p->t[2];
    check_fd_op_finish(s, r, p, st, x, p->t[3], scale, config, "dx", host, CHECK_ARRAY_LEN(host));
}

/* regression losses: out = loss(x, t); dx = backward(scale) */

static gantry_status fd_regression_forward(check_fd_op *p)
{
    return gantry_op_regression_loss_forward((gantry_loss_kind)p->i0, p->t[0], p->t[1], p->t[2]);
}

static gantry_status fd_regression_backward(const check_fd_op *p, float scale, gantry_tensor *dx)
{
    return gantry_op_regression_loss_backward((gantry_loss_kind)p->i0, p->t[0], p->t[1], scale, dx);
}

static void fd_regression(check_suite *s, check_row *r, gantry_loss_kind kind, size_t n, float scale, uint64_t seed)
{
    check_fd_op p;
    memset(&p, 0, sizeof p);
    float *x = check_host_alloc(n), *t = check_host_alloc(n);
    char config[96];
    snprintf(config, sizeof config, "%s n=%zu scale=%g", kind == GANTRY_LOSS_L1 ? "L1" : "MSE", n, (double)scale);
    gantry_status st = x && t ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    /* |x - t| >= 5e-2, five steps away from the kink of L1 */
    for (size_t i = 0; !st && i < n; i++) {
        x[i] = gantry_philox_uniform(seed, 0, i, -2.0f, 2.0f);
        float d = gantry_philox_uniform(seed, 1, i, 5e-2f, 1.0f);
        t[i] = i % 2 ? x[i] + d : x[i] - d;
    }
    p.i0 = kind;
    p.forward = fd_regression_forward;
    fd_loss(s, r, &p, st, x, t, 1, (size_t[]){ n }, scale, fd_regression_backward, config);
}

/* softmax cross-entropy: out = ce(x, t), dx = backward(scale) */

static gantry_status fd_softmax_ce_forward(check_fd_op *p)
{
    return gantry_op_softmax_ce_forward(p->t[0], p->t[1], p->t[2]);
}

static gantry_status fd_softmax_ce_backward(const check_fd_op *p, float scale, gantry_tensor *dx)
{
    return gantry_op_softmax_ce_backward(p->t[0], p->t[1], scale, dx);
}

static void fd_softmax_ce(check_suite *s, check_row *r, size_t rows, size_t k, int tkind, float scale, uint64_t seed)
{
    check_fd_op p;
    memset(&p, 0, sizeof p);
    size_t n = rows * k;
    float *x = check_host_alloc(n), *t = check_host_alloc(n);
    char config[96];
    snprintf(config, sizeof config, "[%zu, %zu] %s scale=%g", rows, k, target_names[tkind], (double)scale);
    gantry_status st = x && t ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    check_case hc; /* only for its Philox stream */
    check_case_init(&hc, seed, NULL);
    check_fill_uniform(&hc, x, n, -3.0f, 3.0f);
    targets(&hc, t, rows, k, tkind);
    p.forward = fd_softmax_ce_forward;
    fd_loss(s, r, &p, st, x, t, 2, (size_t[]){ rows, k }, scale, fd_softmax_ce_backward, config);
}

/* log-sum-exp: L = sum_r w_r lse_r, dx = backward(dout = w) */

static gantry_status fd_logsumexp_forward(check_fd_op *p)
{
    return gantry_op_logsumexp_forward(p->t[0], p->t[1]);
}

static void fd_logsumexp(check_suite *s, check_row *r, size_t rows, size_t k, uint64_t seed)
{
    check_fd_op p;
    memset(&p, 0, sizeof p);
    size_t n = rows * k;
    float *x = check_host_alloc(n);
    char config[96];
    snprintf(config, sizeof config, "[%zu, %zu]", rows, k);
    gantry_status st = x ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; !st && i < n; i++)
        x[i] = gantry_philox_uniform(seed, 0, i, -3.0f, 3.0f);
    p.forward = fd_logsumexp_forward;
    check_fd_op_single_input(s, r, &p, st, x, 2, (size_t[]){ rows, k }, 1, (size_t[]){ rows },
                             gantry_op_logsumexp_backward, seed, config, "dx");
}

/* spec->variant: 1 for L1 */
static void gradcheck_regression(check_suite *s, check_row *r, const check_spec *spec)
{
    static const size_t sizes[] = { 1, 7, 64 };
    static const float scales[] = { 1.0f, -0.5f, 3.0f };
    int l1 = spec->variant;
    for (size_t i = 0; i < CHECK_ARRAY_LEN(sizes); i++)
        fd_regression(s, r, l1 ? GANTRY_LOSS_L1 : GANTRY_LOSS_MSE, sizes[i], scales[i], 700 + 10 * i + (size_t)l1);
}

static void gradcheck_softmax_ce(check_suite *s, check_row *r, const check_spec *spec)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 1, 2 }, { 3, 10 }, { 5, 11 }, { 2, 7 } };
    static const float scales[] = { 1.0f, 1.0f, 0.5f, 1.0f, -2.0f };
    (void)spec;
    for (size_t i = 0; i < CHECK_ARRAY_LEN(shapes); i++)
        fd_softmax_ce(s, r, shapes[i][0], shapes[i][1], (int)(i % TARGET_COUNT), scales[i], 800 + i);
}

static void gradcheck_logsumexp(check_suite *s, check_row *r, const check_spec *spec)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 2, 2 }, { 3, 10 }, { 4, 11 } };
    (void)spec;
    for (size_t i = 0; i < CHECK_ARRAY_LEN(shapes); i++)
        fd_logsumexp(s, r, shapes[i][0], shapes[i][1], 900 + i);
}

/* ---- the rows ------------------------------------------------------------------------ */

static const char why_mean[] = "one scalar, a mean of up to 1e5 non-negative terms: no cancellation; running float "
                               "sums of 10^6 such terms reach ~1e-9 (bce_logits_forward), fewer terms less";
static const char why_lse[] = "one value per row from a sum of up to 257 exponentials in another order (and "
                              "expf/logf): relative error ~1e-7 per value, NMSE ~1e-14";
static const char why_lse_backward[] = "the backwards scale every element of a row by exp(x - lse) with that row's "
                                       "sum (see logsumexp_forward); one wrong element of 512 x 257 gives ~1e-5";

static const check_spec table[] = {
    { .name = "regression_loss_forward", .op = CHECK_OP_regression_loss_forward, .metric = "nmse", .limit = 1e-8,
      .why = why_mean, .points = regression_points, .variants = 6, .build = regression_case },
    { .name = "regression_loss_backward", .op = CHECK_OP_regression_loss_backward, .metric = "nmse",
      .limit = 1e-12,
      .why = "2 (x - t) scale / n or sign(x - t) scale / n: a difference (exact sign) and two or three products, "
             "<= 2 ulp",
      .points = regression_points, .variants = 6, .build = regression_case },
    CHECK_FD_ROW("mse_loss", regression_loss_backward, "dx against differences of the forward; ",
                 gradcheck_regression, 0),
    CHECK_FD_ROW("l1_loss", regression_loss_backward,
                 "dx against differences of the forward, |x - t| five steps from the kink; ", gradcheck_regression,
                 1),
    { .name = "softmax_ce_forward", .op = CHECK_OP_softmax_ce_forward, .metric = "nmse", .limit = 1e-8,
      .why = "as regression_loss_forward, plus a log-sum-exp per row (expf, logf: a few ulp)",
      .points = softmax_points, .variants = 6, .build = softmax_case, .variant = 0 },
    { .name = "softmax_ce_backward", .op = CHECK_OP_softmax_ce_backward, .metric = "nmse", .limit = 1e-9,
      .why = why_lse_backward, .points = softmax_points, .variants = 6, .build = softmax_case, .variant = 1 },
    CHECK_FD_ROW("softmax_ce", softmax_ce_backward, "dx against differences of the forward; ",
                 gradcheck_softmax_ce, 0),
    { .name = "logsumexp_forward", .op = CHECK_OP_logsumexp_forward, .metric = "nmse", .limit = 1e-9,
      .why = why_lse, .points = softmax_points, .variants = 6, .build = softmax_case, .variant = 2 },
    { .name = "logsumexp_backward", .op = CHECK_OP_logsumexp_backward, .metric = "nmse", .limit = 1e-9,
      .why = why_lse_backward, .points = softmax_points, .variants = 6, .build = softmax_case, .variant = 3 },
    CHECK_FD_ROW("logsumexp", logsumexp_backward, "dx against differences of the forward; ", gradcheck_logsumexp,
                 0),
    { .name = "bce_logits_forward", .op = CHECK_OP_bce_logits_forward, .metric = "nmse", .limit = 1e-8,
      .why = "a mean of up to 10^6 positive terms: no cancellation; a running float sum reaches ~1e-9",
      CHECK_REDUCTIONS(2), .build = bce_forward_case },
    { .name = "bce_logits_backward", .op = CHECK_OP_bce_logits_backward, .metric = "nmse", .limit = 1e-12,
      .why = "sigmoid through libm or vector exp, not correctly rounded: a few ulp per element, NMSE ~1e-14; "
             "any formula error is >= 1e-6",
      CHECK_SIZES(4), .build = bce_backward_case },
};

const check_family check_family_loss = CHECK_FAMILY(loss, table);
