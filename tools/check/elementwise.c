/* `gantry check`, the elementwise family: fill, the bias ops, activations,
 * add, mul, scale, axpy, clamp and the sums, over the 1-D sizes and the
 * per-channel shapes of tools/check/grid.c.  Elementwise ops, activations
 * and clamp also get NaN, +Inf and -Inf in their inputs, and both backends
 * must put non-finite values at the same positions. */
#include <math.h>
#include <stdio.h>

#include "gantry/ops.h"
#include "tools/check/grid.h"
#include "tools/check/rows.h"

/* ---- fill ------------------------------------------------------------------ */

static gantry_status run_fill(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_fill(t[0], c->f[0]);
}

static const float fill_values[] = { 0.0f, -0.0f, 1.0f, -1.5f, 3.25e-5f, 1e30f, NAN, INFINITY };

/* A variant per value of fill_values (every third in the quick grid). */
static int fill_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    (void)spec;
    if (s->quick && p->variant % 3)
        return 0;
    size_t n = check_size_at(s, p->at);
    c->run = run_fill;
    check_uniform_arg(c, "x", CHECK_OUT, n, -1.0f, 1.0f);
    c->f[0] = fill_values[p->variant];
    snprintf(c->desc, sizeof c->desc, "n=%zu value=%g", n, (double)c->f[0]);
    return 1;
}

/* ---- bias ------------------------------------------------------------------ */

static gantry_status run_bias_add(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_bias_add(t[0], t[1]);
}

static gantry_status run_bias_grad(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_bias_grad(t[0], t[1], c->i[0]);
}

/* variant 1: NaN/Inf in x (and in the bias when it has more than 3 channels) */
static int bias_add_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    check_nchw d = check_channel_at(s, p->at);
    size_t n = check_nchw_numel(d);
    (void)spec;
    c->run = run_bias_add;
    float *x = check_arg_nchw(c, "x", CHECK_OUT, d);
    check_fill_uniform(c, x, n, -2.0f, 2.0f);
    float *b = check_uniform_arg(c, "bias", CHECK_IN, d.c, -1.0f, 1.0f);
    if (p->variant) {
        check_inject_nonfinite(x, n, p->index);
        if (d.c > 3)
            check_inject_nonfinite(b, d.c, p->index + 1);
    }
    check_nchw_desc(c, "x", d, "%s", p->variant ? " with NaN/Inf" : "");
    return 1;
}

/* variant 1: accumulate into dbias */
static int bias_grad_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    int acc = p->variant;
    check_nchw d = check_channel_at(s, p->at);
    (void)spec;
    c->run = run_bias_grad;
    c->i[0] = acc;
    check_fill_uniform(c, check_arg_nchw(c, "dy", CHECK_IN, d), check_nchw_numel(d), -1.0f, 1.0f);
    /* Without accumulation the old values must not matter: large finite
     * garbage (the ABI does not promise that they are never read, so no
     * NaN). */
    check_uniform_arg(c, "dbias", CHECK_OUT, d.c, acc ? -1.0f : -1e6f, acc ? 1.0f : 1e6f);
    check_nchw_desc(c, "dy", d, " accumulate=%d", acc);
    return 1;
}

/* ---- activations ----------------------------------------------------------- */

static double host_activation(gantry_activation act, float param, double v)
{
    switch (act) {
    case GANTRY_ACT_RELU: return v > 0.0 ? v : 0.0;
    case GANTRY_ACT_LEAKY_RELU: return v > 0.0 ? v : (double)param * v;
    case GANTRY_ACT_TANH: return tanh(v);
    case GANTRY_ACT_SIGMOID: return 1.0 / (1.0 + exp(-v));
    default: return v;
    }
}

/* Inputs in [-6, 6] (tanh and sigmoid saturate at the ends), with exact
 * +0 and -0 (the kink of ReLU and LeakyReLU) among them. */
static void activation_input(check_case *c, float *x, size_t n)
{
    check_fill_uniform(c, x, n, -6.0f, 6.0f);
    for (size_t i = 5; x && i < n; i += 53)
        x[i] = (i / 53) % 2 ? -0.0f : 0.0f;
}

static gantry_status run_act_forward(gantry_tensor *const *t, const check_case *c)
{
    /* in place: y is x */
    return gantry_op_activation_forward((gantry_activation)c->i[0], c->f[0], t[0], c->i[1] ? t[0] : t[1]);
}

static gantry_status run_act_backward(gantry_tensor *const *t, const check_case *c)
{
    /* in place: dx is dy */
    return gantry_op_activation_backward((gantry_activation)c->i[0], c->f[0], t[0], t[1], t[2],
                                         c->i[1] ? t[2] : t[3]);
}

static void activation_forward_args(check_case *c, size_t n, int in_place, int nonfinite, size_t index)
{
    float *x = check_arg_1d(c, "x", in_place ? CHECK_OUT : CHECK_IN, n);
    activation_input(c, x, n);
    if (nonfinite)
        check_inject_nonfinite(x, n, index);
    if (!in_place)
        check_uniform_arg(c, "y", CHECK_OUT, n, -1.0f, 1.0f);
}

/* y as the forward computes it from x, so that the backward sees a
 * consistent pair. */
static void activation_backward_args(check_case *c, gantry_activation act, float param, size_t n, int in_place,
                                     int nonfinite, size_t index)
{
    float *x = check_arg_1d(c, "x", CHECK_IN, n);
    activation_input(c, x, n);
    float *y = check_arg_1d(c, "y", CHECK_IN, n);
    for (size_t j = 0; x && y && j < n; j++)
        y[j] = (float)host_activation(act, param, x[j]);
    float *dy = check_uniform_arg(c, "dy", in_place ? CHECK_OUT : CHECK_IN, n, -1.0f, 1.0f);
    if (nonfinite) {
        check_inject_nonfinite(x, n, index);
        check_inject_nonfinite(y, n, index + 5);
        check_inject_nonfinite(dy, n, index + 11);
    }
    if (!in_place)
        check_uniform_arg(c, "dx", CHECK_OUT, n, -1.0f, 1.0f);
}

/* One row per activation (spec->variant) and direction; variant bit 0:
 * NaN/Inf in the inputs, bit 1: in place. */
static int activation_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    gantry_activation act = (gantry_activation)spec->variant;
    int backward = spec->op == CHECK_OP_activation_backward;
    int nonfinite = p->variant & 1, in_place = p->variant >> 1;
    size_t n = check_size_at(s, p->at);
    float param = act == GANTRY_ACT_LEAKY_RELU ? (p->index % 3 ? 0.2f : 0.01f) : 0.0f;
    c->run = backward ? run_act_backward : run_act_forward;
    c->i[0] = (int)act;
    c->i[1] = in_place;
    c->f[0] = param;
    if (backward)
        activation_backward_args(c, act, param, n, in_place, nonfinite, p->index);
    else
        activation_forward_args(c, n, in_place, nonfinite, p->index);
    snprintf(c->desc, sizeof c->desc, "n=%zu%s%s%s", n, param != 0.0f && param != 0.2f ? " slope 0.01" : "",
             in_place ? " in place" : "", nonfinite ? " with NaN/Inf" : "");
    return 1;
}

/* ---- add, mul, scale, axpy, clamp ------------------------------------------ */

static gantry_status run_add(gantry_tensor *const *t, const check_case *c)
{
    /* alias: 0 separate y, 1 y is a, 2 y is b */
    return gantry_op_add(t[0], t[1], c->i[0] == 1 ? t[0] : c->i[0] == 2 ? t[1] : t[2]);
}

static gantry_status run_mul(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_mul(t[0], t[1], c->i[0] == 1 ? t[0] : c->i[0] == 2 ? t[1] : t[2]);
}

static gantry_status run_scale(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_scale(t[0], c->f[0], c->i[0] ? t[0] : t[1]);
}

static gantry_status run_axpy(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_axpy(c->f[0], t[0], t[1]);
}

static gantry_status run_clamp(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_clamp(t[0], c->f[0], c->f[1]);
}

static const char *const alias_names[] = { "", " y=a", " y=b" };

/* add and mul; variant % 3: y separate, y = a, y = b; variant / 3: NaN/Inf */
static int binary_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    int alias = p->variant % 3, nonfinite = p->variant / 3;
    size_t n = check_size_at(s, p->at);
    c->run = spec->op == CHECK_OP_mul ? run_mul : run_add;
    c->i[0] = alias;
    float *a = check_uniform_arg(c, "a", alias == 1 ? CHECK_OUT : CHECK_IN, n, -4.0f, 4.0f);
    float *b = check_uniform_arg(c, "b", alias == 2 ? CHECK_OUT : CHECK_IN, n, -4.0f, 4.0f);
    if (!alias)
        check_uniform_arg(c, "y", CHECK_OUT, n, -1.0f, 1.0f);
    if (nonfinite) {
        check_inject_nonfinite(a, n, p->index);
        check_inject_nonfinite(b, n, p->index + 7);
        if (b && n > 3)
            b[n / 2] = 0.0f; /* Inf * 0 */
        if (a && n > 3)
            a[n / 2] = INFINITY;
    }
    snprintf(c->desc, sizeof c->desc, "n=%zu%s%s", n, alias_names[alias], nonfinite ? " with NaN/Inf" : "");
    return 1;
}

/* scale (also in place) and axpy; variant bit 0: NaN/Inf, bit 1: in place */
static int scale_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const float alphas[] = { 2.5f, -0.75f, 0.0f, 1.0f, 1e-3f, -3.0f };
    int axpy = spec->op == CHECK_OP_axpy;
    int nonfinite = p->variant & 1, in_place = p->variant >> 1;
    size_t n = check_size_at(s, p->at);
    c->run = axpy ? run_axpy : run_scale;
    c->f[0] = alphas[p->index % CHECK_ARRAY_LEN(alphas)];
    c->i[0] = in_place && !axpy;
    float *x = check_uniform_arg(c, "x", c->i[0] ? CHECK_OUT : CHECK_IN, n, -4.0f, 4.0f);
    float *y = NULL;
    if (!c->i[0])
        y = check_uniform_arg(c, "y", CHECK_OUT, n, -4.0f, 4.0f);
    if (nonfinite) {
        check_inject_nonfinite(x, n, p->index);
        if (axpy)
            check_inject_nonfinite(y, n, p->index + 3);
    }
    snprintf(c->desc, sizeof c->desc, "n=%zu alpha=%g%s%s", n, (double)c->f[0], c->i[0] ? " in place" : "",
             nonfinite ? " with NaN/Inf" : "");
    return 1;
}

/* variant bit 0: NaN/Inf */
static int clamp_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const float bounds[][2] = { { -1.0f, 1.0f }, { 0.0f, 0.5f }, { -0.25f, -0.25f }, { -INFINITY, 0.5f },
                                       { -0.01f, 0.01f } };
    (void)spec;
    size_t n = check_size_at(s, p->at);
    const float *b = bounds[p->index % CHECK_ARRAY_LEN(bounds)];
    c->run = run_clamp;
    float *x = check_uniform_arg(c, "x", CHECK_OUT, n, -3.0f, 3.0f);
    if (p->variant & 1)
        check_inject_nonfinite(x, n, p->index);
    c->f[0] = b[0];
    c->f[1] = b[1];
    snprintf(c->desc, sizeof c->desc, "n=%zu [%g, %g]%s", n, (double)b[0], (double)b[1],
             p->variant & 1 ? " with NaN/Inf" : "");
    return 1;
}

/* ---- sum, mean -------------------------------------------------------------- */

static gantry_status run_sum(gantry_tensor *const *t, const check_case *c)
{
    return c->i[0] ? gantry_op_mean(t[0], t[1]) : gantry_op_sum(t[0], t[1]);
}

/* variant 1: values of one sign, so the sum is not small */
static int sum_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    size_t n = check_reduction_at(s, p->at);
    c->run = run_sum;
    c->i[0] = spec->op == CHECK_OP_mean;
    check_uniform_arg(c, "x", CHECK_IN, n, p->variant ? 0.0f : -1.0f, 1.0f);
    check_uniform_arg(c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
    snprintf(c->desc, sizeof c->desc, "n=%zu x in [%d, 1]", n, p->variant ? 0 : -1);
    return 1;
}

/* ---- the rows ---------------------------------------------------------------
 * NMSE against the reference, which computes in double and rounds once; a
 * float backend rounds several times and sums in another order, so the
 * limit is 0 only where there is a single correctly rounded IEEE operation
 * (or none) per element, and looser only where a summation order differs. */

static const char why_one_rounding[] = "one correctly rounded operation (or a comparison) per element";
static const char why_kink[] = "a comparison and at most one float product; exact in double too, so the reference "
                               "rounds identically";
static const char why_libm[] = "libm or vector tanh/exp are not correctly rounded: a few ulp per element, NMSE "
                               "~1e-14; any formula error is >= 1e-6";
static const char why_sum[] = "one scalar, so NMSE = (relative error)^2, of up to 10^6 terms of both signs whose "
                              "total can be small: pairwise/tree float sums (GPUs) reach ~1e-9, running float sums "
                              "in 8 lanes ~3e-7 (simulated, 20 seeds); small n, where one lost or doubled term is "
                              "~1e-2, catch indexing errors";

/* An activation's row in one direction; the limit is its own, the same
 * both ways. */
#define ACTIVATION_ROW(dir, fn, act, lim, reason)                                                      \
    { .name = "activation_" #dir "(" #fn ")", .op = CHECK_OP_activation_##dir, .metric = "nmse",     \
      .limit = lim, .why = reason, CHECK_SIZES(4), .build = activation_case, .variant = act }
#define ACTIVATION_ROWS(dir)                                                                          \
    ACTIVATION_ROW(dir, identity, GANTRY_ACT_IDENTITY, 0, why_kink),                                 \
        ACTIVATION_ROW(dir, relu, GANTRY_ACT_RELU, 0, why_kink),                                     \
        ACTIVATION_ROW(dir, leaky_relu, GANTRY_ACT_LEAKY_RELU, 0, why_kink),                         \
        ACTIVATION_ROW(dir, tanh, GANTRY_ACT_TANH, 1e-12, why_libm),                                 \
        ACTIVATION_ROW(dir, sigmoid, GANTRY_ACT_SIGMOID, 1e-12, why_libm)

static const check_spec table[] = {
    { .name = "fill", .op = CHECK_OP_fill, .metric = "nmse", .limit = 0, .why = "moves bits (NaN and Inf too)",
      CHECK_SIZES((int)CHECK_ARRAY_LEN(fill_values)), .build = fill_case },
    { .name = "bias_add", .op = CHECK_OP_bias_add, .metric = "nmse", .limit = 0, .why = why_one_rounding,
      CHECK_CHANNELS(2), .build = bias_add_case },
    { .name = "bias_grad", .op = CHECK_OP_bias_grad, .metric = "nmse", .limit = 1e-9,
      .why = "column sums over up to 512 values in another order: running float sums reach 2e-10 (one channel, "
             "200 seeds); a 1e-3 relative error in one of 257 channels gives ~4e-9, in a single channel 1e-6",
      CHECK_CHANNELS(2), .build = bias_grad_case },
    ACTIVATION_ROWS(forward),
    ACTIVATION_ROWS(backward),
    { .name = "add", .op = CHECK_OP_add, .metric = "nmse", .limit = 0, .why = why_one_rounding, CHECK_SIZES(6),
      .build = binary_case },
    { .name = "mul", .op = CHECK_OP_mul, .metric = "nmse", .limit = 0, .why = why_one_rounding, CHECK_SIZES(6),
      .build = binary_case },
    { .name = "scale", .op = CHECK_OP_scale, .metric = "nmse", .limit = 0, .why = why_one_rounding, CHECK_SIZES(4),
      .build = scale_case },
    { .name = "axpy", .op = CHECK_OP_axpy, .metric = "nmse", .limit = 1e-12,
      .why = "y + a*x fused (one rounding) or not (two): <= 1 ulp", CHECK_SIZES(4), .build = scale_case },
    { .name = "sum", .op = CHECK_OP_sum, .metric = "nmse", .limit = 1e-7, .why = why_sum, CHECK_REDUCTIONS(2),
      .build = sum_case },
    { .name = "mean", .op = CHECK_OP_mean, .metric = "nmse", .limit = 1e-7, .why = why_sum, CHECK_REDUCTIONS(2),
      .build = sum_case },
    { .name = "clamp", .op = CHECK_OP_clamp, .metric = "nmse", .limit = 0, .why = "two comparisons", CHECK_SIZES(4),
      .build = clamp_case },
};

const check_family check_family_elementwise = CHECK_FAMILY(elementwise, table);
