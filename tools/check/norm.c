/* `gantry check`, the norm family: batch normalisation in training and
 * evaluation and its backward over the per-channel shapes, batch norm with
 * given (frozen) statistics and virtual batch norm over shapes of their
 * own, and the frozen backward against finite differences of its forward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/fd_op.h"
#include "tools/check/grid.h"
#include "tools/check/rows.h"

/* ---- training and evaluation ------------------------------------------------ */

static gantry_status run_bn_train(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_batchnorm_forward_train(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], c->f[0], c->f[1]);
}

static gantry_status run_bn_eval(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_batchnorm_forward_eval(t[0], t[1], t[2], t[3], t[4], t[5], c->f[1]);
}

static gantry_status run_bn_backward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_batchnorm_backward(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], c->i[0]);
}

/* The fused ops: the activation in i[1], its parameter in f[2]. */
static gantry_status run_bn_act_train(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_batchnorm_act_forward_train((gantry_activation)c->i[1], c->f[2], t[0], t[1], t[2], t[3], t[4],
                                                 t[5], t[6], t[7], c->f[0], c->f[1]);
}

static gantry_status run_bn_act_backward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_batchnorm_act_backward((gantry_activation)c->i[1], c->f[2], t[0], t[8], t[1], t[2], t[3], t[4],
                                            t[5], t[6], t[7], c->i[0]);
}

/* x with a different mean and spread per channel, as activations have. */
static void bn_input(check_case *c, float *x, check_nchw d)
{
    size_t inner = check_nchw_inner(d), n = check_nchw_numel(d);
    check_fill_uniform(c, x, n, -1.0f, 1.0f);
    if (!x)
        return;
    for (size_t ch = 0; ch < d.c; ch++) {
        float shift = gantry_philox_uniform(c->seed ^ 0xb1a5, ch, 0, -2.0f, 2.0f);
        float spread = gantry_philox_uniform(c->seed ^ 0xb1a5, ch, 1, 0.1f, 3.0f);
        for (size_t o = 0; o < d.n; o++)
            for (size_t i = 0; i < inner; i++) {
                float *v = &x[(o * d.c + ch) * inner + i];
                *v = shift + spread * *v;
            }
    }
}

/* save_mean and save_invstd as the training forward computes them. */
static void bn_stats(const float *x, check_nchw d, float eps, float *mean, float *invstd)
{
    size_t inner = check_nchw_inner(d), count = d.n * inner;
    for (size_t ch = 0; x && mean && invstd && ch < d.c; ch++) {
        double sum = 0.0, sq = 0.0;
        for (size_t o = 0; o < d.n; o++)
            for (size_t i = 0; i < inner; i++)
                sum += x[(o * d.c + ch) * inner + i];
        double m = sum / (double)count;
        for (size_t o = 0; o < d.n; o++)
            for (size_t i = 0; i < inner; i++) {
                double v = x[(o * d.c + ch) * inner + i] - m;
                sq += v * v;
            }
        mean[ch] = (float)m;
        invstd[ch] = (float)(1.0 / sqrt(sq / (double)count + (double)eps));
    }
}

/* The inputs every backward takes first: dy and gamma. */
static void backward_inputs(check_case *c, check_nchw d)
{
    check_fill_uniform(c, check_arg_nchw(c, "dy", CHECK_IN, d), check_nchw_numel(d), -1.0f, 1.0f);
    check_uniform_arg(c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
}

/* dx, and dgamma and dbeta: accumulated into, or overwritten over large
 * finite garbage (the ABI does not promise that they are not read). */
static void gradient_outputs(check_case *c, check_nchw d, int accumulate)
{
    check_fill_uniform(c, check_arg_nchw(c, "dx", CHECK_OUT, d), check_nchw_numel(d), -1.0f, 1.0f);
    check_uniform_arg(c, "dgamma", CHECK_OUT, d.c, accumulate ? -1.0f : -1e6f, accumulate ? 1.0f : 1e6f);
    check_uniform_arg(c, "dbeta", CHECK_OUT, d.c, accumulate ? -1.0f : -1e6f, accumulate ? 1.0f : 1e6f);
}

/* The output and the affine parameters every forward takes. */
static void forward_args(check_case *c, check_nchw d)
{
    check_fill_uniform(c, check_arg_nchw(c, "y", CHECK_OUT, d), check_nchw_numel(d), -1.0f, 1.0f);
    check_uniform_arg(c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
    check_uniform_arg(c, "beta", CHECK_IN, d.c, -0.5f, 0.5f);
}

/* Given statistics: `count` means and 1/std. */
static void given_stats(check_case *c, const char *mean, const char *invstd, size_t count)
{
    check_uniform_arg(c, mean, CHECK_IN, count, -1.0f, 1.0f);
    check_uniform_arg(c, invstd, CHECK_IN, count, 0.25f, 4.0f);
}

/* spec->variant: 0 the training forward, 1 evaluation, 2 the backward, 3
 * and 4 the training forward and the backward with an activation after
 * (ReLU at even points, LeakyReLU(0.2) at odd ones; the backward's y, the
 * forward's output, of both signs); variant 1: eps 1e-3 and momentum 1
 * (backward: accumulate) */
static int batchnorm_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const check_run_fn runs[] = { run_bn_train, run_bn_eval, run_bn_backward, run_bn_act_train,
                                         run_bn_act_backward };
    int act = spec->variant >= 3, variant = p->variant;
    int which = !act ? spec->variant : spec->variant == 3 ? 0 : 2; /* the plain op's arguments, then y */
    check_nchw d = check_channel_at(s, p->at);
    if (which != 1 && d.n * check_nchw_inner(d) < 2)
        return 0; /* batch statistics need two values per channel */
    const float eps = variant ? 1e-3f : 1e-5f, momentum = variant ? 1.0f : 0.1f;
    c->run = runs[spec->variant];
    c->i[1] = p->index % 2 ? GANTRY_ACT_LEAKY_RELU : GANTRY_ACT_RELU;
    c->f[2] = p->index % 2 ? 0.2f : 0.0f;
    c->f[0] = momentum;
    c->f[1] = eps;
    c->i[0] = variant; /* backward: accumulate into dgamma and dbeta */
    float *x = check_arg_nchw(c, "x", CHECK_IN, d);
    bn_input(c, x, d);
    if (which == 2) {
        backward_inputs(c, d);
        float *mean = check_arg_1d(c, "save_mean", CHECK_IN, d.c);
        float *invstd = check_arg_1d(c, "save_invstd", CHECK_IN, d.c);
        bn_stats(x, d, eps, mean, invstd);
        gradient_outputs(c, d, variant);
        if (act)
            check_fill_uniform(c, check_arg_nchw(c, "y", CHECK_IN, d), check_nchw_numel(d), -1.0f, 1.0f);
    } else {
        forward_args(c, d);
        int out = which == 0 ? CHECK_OUT : CHECK_IN;
        check_uniform_arg(c, "running_mean", out, d.c, -0.5f, 0.5f);
        check_uniform_arg(c, "running_var", out, d.c, 0.25f, 4.0f);
        if (which == 0) {
            check_uniform_arg(c, "save_mean", CHECK_OUT, d.c, -9.0f, 9.0f);
            check_uniform_arg(c, "save_invstd", CHECK_OUT, d.c, -9.0f, 9.0f);
        }
    }
    const char *f = !act ? "" : p->index % 2 ? " LeakyReLU(0.2)" : " ReLU";
    if (which == 2)
        check_nchw_desc(c, "x", d, " accumulate=%d%s", variant, f);
    else if (act)
        check_nchw_desc(c, "x", d, " momentum=%g eps=%g%s", (double)momentum, (double)eps, f);
    else if (which == 1)
        check_nchw_desc(c, "x", d, " eps=%g", (double)eps);
    else
        check_nchw_desc(c, "x", d, " momentum=%g eps=%g", (double)momentum, (double)eps);
    return 1;
}

/* ---- given statistics: frozen and virtual batch norm ------------------------------------- */

static const check_nchw bn_shapes_full[] = {
    { 1, 1, 0, 0 },   { 2, 1, 0, 0 },    { 1, 7, 0, 0 },    { 7, 13, 0, 0 },  { 64, 33, 0, 0 },
    { 31, 127, 0, 0 }, { 512, 65, 0, 0 }, { 512, 257, 0, 0 }, { 1, 3, 5, 7 },  { 2, 5, 3, 3 },
    { 7, 13, 3, 3 },  { 64, 31, 2, 2 },  { 512, 3, 1, 5 },  { 13, 65, 1, 1 }, { 64, 64, 7, 7 },
};
static const check_nchw bn_shapes_quick[] = { { 1, 1, 0, 0 }, { 7, 13, 0, 0 }, { 512, 33, 0, 0 }, { 1, 3, 5, 7 },
                                              { 13, 31, 3, 3 } };

static size_t bn_shape_points(const check_suite *s)
{
    return s->quick ? CHECK_ARRAY_LEN(bn_shapes_quick) : CHECK_ARRAY_LEN(bn_shapes_full);
}

static gantry_status run_bn_forward_frozen(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_batchnorm_forward_frozen(t[0], t[1], t[2], t[3], t[4], t[5]);
}

static gantry_status run_bn_backward_frozen(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_batchnorm_backward_frozen(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], c->i[0]);
}

/* Virtual batch norm: i[1] is the reference batch's value count per channel. */
static gantry_status run_vbn_forward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_vbn_forward(t[0], t[1], t[2], t[3], t[4], t[5], (size_t)c->i[1], t[6], t[7], 1e-5f);
}

static gantry_status run_vbn_backward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_vbn_backward(t[0], t[1], t[2], t[3], t[4], (size_t)c->i[1], t[5], t[6], t[7], c->i[0]);
}

/* spec->variant: 0 frozen, 1 virtual batch norm.  variant 1: forward
 * NaN/Inf in x, backward accumulate.  Virtual batch norm's statistics are
 * per example ([outer, channels]), the reference batch's per channel. */
static int given_stats_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const size_t ref_counts[] = { 1, 64, 448 };
    static const check_run_fn runs[2][2] = { { run_bn_forward_frozen, run_bn_backward_frozen },
                                             { run_vbn_forward, run_vbn_backward } };
    int vbn = spec->variant, variant = p->variant;
    int backward = spec->op == CHECK_OP_batchnorm_backward_frozen || spec->op == CHECK_OP_vbn_backward;
    check_nchw d = s->quick ? bn_shapes_quick[p->at] : bn_shapes_full[p->at];
    size_t n = check_nchw_numel(d), per = d.n * d.c;
    char ref[32] = "";
    c->run = runs[vbn][backward];
    c->i[0] = variant;
    if (vbn)
        c->i[1] = (int)ref_counts[p->index % CHECK_ARRAY_LEN(ref_counts)];
    float *x = check_arg_nchw(c, "x", CHECK_IN, d);
    check_fill_uniform(c, x, n, -3.0f, 3.0f);
    if (backward) {
        backward_inputs(c, d);
        given_stats(c, vbn ? "save_mean" : "mean", vbn ? "save_invstd" : "invstd", vbn ? per : d.c);
        gradient_outputs(c, d, variant);
    } else {
        if (variant)
            check_inject_nonfinite(x, n, p->index);
        forward_args(c, d);
        given_stats(c, vbn ? "ref_mean" : "mean", vbn ? "ref_invstd" : "invstd", d.c);
        if (vbn) {
            check_uniform_arg(c, "save_mean", CHECK_OUT, per, -1.0f, 1.0f);
            check_uniform_arg(c, "save_invstd", CHECK_OUT, per, -1.0f, 1.0f);
        }
    }
    if (vbn)
        snprintf(ref, sizeof ref, " ref_count=%d", c->i[1]);
    check_nchw_desc(c, "x", d, "%s%s", ref,
                    backward ? (variant ? " accumulate=1" : " accumulate=0") : (variant ? " with NaN/Inf" : ""));
    return 1;
}

/* ---- the frozen backward against finite differences -------------------------------------
 * L = sum w y, (dx, dgamma, dbeta) = backward(dy = w) with mean and invstd
 * held constant */

static gantry_status fd_bn_forward(check_fd_op *p)
{
    return gantry_op_batchnorm_forward_frozen(p->t[0], p->t[1], p->t[2], p->t[3], p->t[4], p->t[5]);
}

static void fd_bn_frozen(check_suite *s, check_row *r, int ndim, const size_t *shape, uint64_t seed)
{
    check_fd_op p;
    memset(&p, 0, sizeof p);
    size_t n = 1, ch = shape[1];
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *x = check_host_alloc(n), *wf = check_host_alloc(n), *gamma = check_host_alloc(ch);
    float *beta = check_host_alloc(ch), *mean = check_host_alloc(ch), *invstd = check_host_alloc(ch);
    double *w = malloc(n * sizeof *w);
    float *host[] = { x, gamma, beta, mean, invstd, wf };
    char config[96];
    if (ndim == 4)
        snprintf(config, sizeof config, "x [%zu, %zu, %zu, %zu]", shape[0], shape[1], shape[2], shape[3]);
    else
        snprintf(config, sizeof config, "x [%zu, %zu]", shape[0], shape[1]);
    gantry_status st = x && gamma && beta && mean && invstd && wf && w
                           ? GANTRY_OK
                           : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; !st && i < n; i++)
        x[i] = gantry_philox_uniform(seed, 0, i, -2.0f, 2.0f);
    for (size_t i = 0; !st && i < ch; i++) {
        gamma[i] = gantry_philox_uniform(seed, 1, i, 0.5f, 1.5f);
        beta[i] = gantry_philox_uniform(seed, 2, i, -0.5f, 0.5f);
        mean[i] = gantry_philox_uniform(seed, 3, i, -0.5f, 0.5f);
        invstd[i] = gantry_philox_uniform(seed, 4, i, 0.5f, 2.0f);
    }
    if (!st) {
        check_fd_weights(w, n, seed);
        for (size_t i = 0; i < n; i++)
            wf[i] = (float)w[i];
    }
    size_t cshape[1] = { ch };
    p.forward = fd_bn_forward;
    p.out_host = check_host_alloc(n);
    p.w = w;
    /* t: x y gamma beta mean invstd | dy dx; dgamma, dbeta after */
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, x, &p.t[0]);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, NULL, &p.t[1]);
    if (!st)
        st = check_host_tensor(s->test, 1, cshape, gamma, &p.t[2]);
    if (!st)
        st = check_host_tensor(s->test, 1, cshape, beta, &p.t[3]);
    if (!st)
        st = check_host_tensor(s->test, 1, cshape, mean, &p.t[4]);
    if (!st)
        st = check_host_tensor(s->test, 1, cshape, invstd, &p.t[5]);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, wf, &p.t[6]);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, NULL, &p.t[7]);
    gantry_tensor *dgamma = NULL, *dbeta = NULL;
    if (!st)
        st = check_host_tensor(s->test, 1, cshape, NULL, &dgamma);
    if (!st)
        st = check_host_tensor(s->test, 1, cshape, NULL, &dbeta);
    if (!st)
        st = gantry_op_batchnorm_backward_frozen(p.t[0], p.t[6], p.t[2], p.t[4], p.t[5], p.t[7], dgamma, dbeta, 0);
    p.out = p.t[1];
    p.in[0] = x;
    p.in_at[0] = 0;
    p.in[1] = gamma;
    p.in_at[1] = 2;
    p.in[2] = beta;
    p.in_at[2] = 3;
    if (!st)
        st = check_fd_op_compare(s, r, &p, 0, p.t[7], 1.0, config, "dx");
    if (!st)
        st = check_fd_op_compare(s, r, &p, 1, dgamma, 1.0, config, "dgamma");
    if (!st)
        st = check_fd_op_compare(s, r, &p, 2, dbeta, 1.0, config, "dbeta");
    if (st)
        check_row_failed(s, r, config);
    gantry_tensor_destroy(dgamma);
    gantry_tensor_destroy(dbeta);
    check_fd_op_free(&p, host, CHECK_ARRAY_LEN(host));
    free(w);
}

static void gradcheck_bn_frozen(check_suite *s, check_row *r, const check_spec *spec)
{
    static const size_t nc[2] = { 5, 4 }, one[2] = { 1, 3 }, nchw4[4] = { 2, 3, 2, 2 };
    (void)spec;
    fd_bn_frozen(s, r, 2, nc, 1100);
    fd_bn_frozen(s, r, 2, one, 1101);
    fd_bn_frozen(s, r, 4, nchw4, 1102);
}

/* ---- the rows ------------------------------------------------------------------------ */

static const check_spec table[] = {
    { .name = "batchnorm_forward_train", .op = CHECK_OP_batchnorm_forward_train, .metric = "nmse", .limit = 1e-9,
      .why = "per-channel mean and variance over the batch in another order", CHECK_CHANNELS(2),
      .build = batchnorm_case, .variant = 0 },
    { .name = "batchnorm_forward_eval", .op = CHECK_OP_batchnorm_forward_eval, .metric = "nmse", .limit = 1e-12,
      .why = "(x - mean) * invstd * gamma + beta, sqrt: a few ulp", CHECK_CHANNELS(2), .build = batchnorm_case,
      .variant = 1 },
    { .name = "batchnorm_backward", .op = CHECK_OP_batchnorm_backward, .metric = "nmse", .limit = 1e-9,
      .why = "two per-channel sums feed dx = k (m dy - sum dy - xhat sum(dy xhat)), a difference of three terms",
      CHECK_CHANNELS(2), .build = batchnorm_case, .variant = 2 },
    { .name = "batchnorm_forward_frozen", .op = CHECK_OP_batchnorm_forward_frozen, .metric = "nmse",
      .limit = 1e-12, .why = "(x - mean) invstd gamma + beta: a few roundings, a few ulp",
      .points = bn_shape_points, .variants = 2, .build = given_stats_case },
    { .name = "batchnorm_backward_frozen", .op = CHECK_OP_batchnorm_backward_frozen, .metric = "nmse",
      .limit = 1e-9,
      .why = "dx is elementwise; dgamma and dbeta are per-channel sums over up to 512 x 35 values in another "
             "order (as bias_grad)",
      .points = bn_shape_points, .variants = 2, .build = given_stats_case },
    { .name = "batchnorm_act_forward_train", .op = CHECK_OP_batchnorm_act_forward_train, .metric = "nmse",
      .limit = 1e-9, .why = "batchnorm_forward_train's, then ReLU or LeakyReLU: exact or one more rounding",
      CHECK_CHANNELS(2), .build = batchnorm_case, .variant = 3 },
    { .name = "batchnorm_act_backward", .op = CHECK_OP_batchnorm_act_backward, .metric = "nmse", .limit = 1e-9,
      .why = "batchnorm_backward's of the activation's gradient, which is exact or one rounding; "
             "gradcheck(batchnorm_act) checks it against differences",
      CHECK_CHANNELS(2), .build = batchnorm_case, .variant = 4 },
    CHECK_FD_ROW("batchnorm_frozen", batchnorm_backward_frozen,
                 "dx, dgamma and dbeta against differences of the frozen forward; ", gradcheck_bn_frozen, 0),
    { .name = "vbn_forward", .op = CHECK_OP_vbn_forward, .metric = "nmse", .limit = 1e-9,
      .why = "per-example sums over H*W feed every element of the example", .points = bn_shape_points,
      .variants = 2, .build = given_stats_case, .variant = 1 },
    { .name = "vbn_backward", .op = CHECK_OP_vbn_backward, .metric = "nmse", .limit = 1e-9,
      .why = "per-example sums over H*W feed every element of the example; dgamma and dbeta are per-channel sums "
             "over up to 512 x 35 values in another order (as bias_grad); gradcheck(virtual_batchnorm) checks "
             "the backward against differences",
      .points = bn_shape_points, .variants = 2, .build = given_stats_case,
      .variant = 1 },
};

const check_family check_family_norm = CHECK_FAMILY(norm, table);
