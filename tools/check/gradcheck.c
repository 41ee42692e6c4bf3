/* `gantry check --op gradcheck`: finite-difference checks of every layer's
 * backward pass and of the BCE loss on the backend under test, with the
 * method and tolerance of tests/test_grad.c (tools/check/fd.h).  Each row
 * is a layer checked in a few configurations: a fresh Sequential, an input,
 * dx and every parameter gradient. */
#include <stdio.h>
#include <string.h>

#include "gantry/nn.h"
#include "gantry/philox.h"
#include "tools/check/fd_op.h"
#include "tools/check/rows.h"

typedef gantry_status (*build_fn)(gantry_seq *seq, const void *arg);

/* One configuration of a layer. */
typedef struct grad_config {
    const char *desc;
    const void *arg; /* the builder's */
    int ndim;
    size_t shape[4];
    uint64_t seed;
    double eps;
} grad_config;

/* A layer's row: its builder, the range of its inputs (`gap`: kept that
 * far from 0, the kink of ReLU and LeakyReLU), its configurations. */
typedef struct grad_layer {
    build_fn build;
    float lo, hi, gap;
    int virtual_bn; /* virtual batch norm: a reference pass before the check */
    const grad_config *configs;
    size_t count;
} grad_layer;

typedef struct grad_ctx {
    check_suite *s;
    check_row *row;
    const char *config;
} grad_ctx;

static void report_to_row(void *user, const check_fd_result *r)
{
    const grad_ctx *g = user;
    check_fd_row_case(g->s, g->row, g->config, r);
}

/* Virtual batch norm: the reference pass that sets its statistics, on a
 * batch of 7 drawn like the input. */
static gantry_status reference_pass(check_suite *s, gantry_seq *seq, const grad_config *gc, const grad_layer *l)
{
    size_t shape[4];
    memcpy(shape, gc->shape, sizeof shape);
    shape[0] = 7;
    gantry_tensor *ref = NULL, *y;
    GANTRY_TRY(gantry_seq_set_virtual_batchnorm(seq, GANTRY_BN_VIRTUAL));
    GANTRY_TRY(check_fd_random_tensor(s->test, gc->ndim, shape, gc->seed + 4, l->lo, l->hi, 0.0f, &ref));
    gantry_status st = gantry_seq_forward(seq, ref, GANTRY_FORWARD_REFERENCE, &y);
    gantry_tensor_destroy(ref);
    return st;
}

/* One configuration: a fresh Sequential from the layer's builder, an
 * input, the check. */
static void grad_case(check_suite *s, check_row *row, const grad_layer *l, const grad_config *gc)
{
    gantry_seq *seq = NULL;
    gantry_tensor *x = NULL;
    grad_ctx g = { s, row, gc->desc };
    gantry_status st = gantry_seq_create(s->test, &seq);
    if (!st)
        st = l->build(seq, gc->arg);
    if (!st) {
        uint64_t offset = 0;
        st = gantry_seq_init(seq, gc->seed, &offset);
    }
    if (!st)
        st = check_fd_randomize_batchnorm(seq, gc->seed + 1);
    if (!st && l->virtual_bn)
        st = reference_pass(s, seq, gc, l);
    if (!st)
        st = check_fd_random_tensor(s->test, gc->ndim, gc->shape, gc->seed + 2, l->lo, l->hi, l->gap, &x);
    if (!st)
        st = check_fd_seq(seq, x, gc->seed + 3, gc->eps, report_to_row, &g);
    if (st)
        check_row_failed(s, row, gc->desc);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

/* ---- the layers ---------------------------------------------------------------- */

typedef struct linear_arg {
    size_t in, out;
} linear_arg;

static gantry_status build_linear(gantry_seq *seq, const void *arg)
{
    const linear_arg *l = arg;
    return gantry_seq_add_linear(seq, l->in, l->out);
}

static gantry_status build_batchnorm(gantry_seq *seq, const void *arg)
{
    return gantry_seq_add_batchnorm(seq, *(const size_t *)arg, 1e-5f, 0.1f);
}

typedef struct act_arg {
    gantry_activation act;
    float param;
} act_arg;

static gantry_status build_activation(gantry_seq *seq, const void *arg)
{
    const act_arg *a = arg;
    return gantry_seq_add_activation(seq, a->act, a->param);
}

typedef struct conv_arg {
    int transposed;
    size_t in, out, k, stride, padding;
    int no_bias;
} conv_arg;

static gantry_status build_conv(gantry_seq *seq, const void *arg)
{
    const conv_arg *c = arg;
    return gantry_seq_add_conv(seq, &(gantry_conv_spec){ c->in, c->out, c->k, c->stride, c->padding, c->transposed,
                                                         c->no_bias });
}

/* Linear -> BatchNorm -> LeakyReLU -> Linear -> Tanh, the GAN's pattern. */
static gantry_status build_stack(gantry_seq *seq, const void *arg)
{
    (void)arg;
    GANTRY_TRY(gantry_seq_add_linear(seq, 4, 6));
    GANTRY_TRY(gantry_seq_add_batchnorm(seq, 6, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(seq, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_linear(seq, 6, 3));
    return gantry_seq_add_activation(seq, GANTRY_ACT_TANH, 0.0f);
}

/* BatchNorm followed by ReLU or LeakyReLU: a training forward runs them
 * as one op each way (batchnorm_act_forward_train, batchnorm_act_backward). */
typedef struct bn_act_arg {
    size_t features;
    gantry_activation act;
    float param;
} bn_act_arg;

static gantry_status build_bn_act(gantry_seq *seq, const void *arg)
{
    const bn_act_arg *a = arg;
    GANTRY_TRY(gantry_seq_add_batchnorm(seq, a->features, 1e-5f, 0.1f));
    return gantry_seq_add_activation(seq, a->act, a->param);
}

static const bn_act_arg bn_relu3 = { 3, GANTRY_ACT_RELU, 0.0f }, bn_leaky4 = { 4, GANTRY_ACT_LEAKY_RELU, 0.2f },
                        bn_relu5 = { 5, GANTRY_ACT_RELU, 0.0f };

static const linear_arg l54 = { 5, 4 }, l63 = { 6, 3 }, l137 = { 13, 7 };
static const size_t c2 = 2, c3 = 3, c4 = 4, c5 = 5;
static const conv_arg conv1 = { 0, 3, 4, 3, 2, 1, 0 }, conv2 = { 0, 2, 3, 4, 2, 1, 0 }, conv3 = { 0, 1, 2, 1, 1, 0, 0 };
static const conv_arg convt1 = { 1, 3, 2, 4, 2, 1, 0 }, convt2 = { 1, 2, 3, 3, 1, 0, 0 },
                      convt3 = { 1, 2, 2, 3, 3, 2, 0 };
/* The DCGAN paper's layers: no bias, and a latent vector [N, C] into the first ConvTranspose2d as [N, C, 1, 1]. */
static const conv_arg conv4 = { 0, 3, 2, 4, 2, 1, 1 }, convt4 = { 1, 5, 3, 4, 1, 0, 1 };

static const grad_config linear_configs[] = {
    { "Linear(5, 4) x [6, 5]", &l54, 2, { 6, 5 }, 11, 1e-2 },
    { "Linear(6, 3) x [2, 3, 2, 1]", &l63, 4, { 2, 3, 2, 1 }, 14, 1e-2 },
    { "Linear(13, 7) x [1, 13]", &l137, 2, { 1, 13 }, 17, 1e-2 },
};
static const grad_config batchnorm_configs[] = {
    { "BatchNorm1d(4) x [6, 4]", &c4, 2, { 6, 4 }, 21, 1e-2 },
    { "BatchNorm1d(4) x [2, 4]", &c4, 2, { 2, 4 }, 25, 1e-2 },
    { "BatchNorm2d(3) x [3, 3, 2, 2]", &c3, 4, { 3, 3, 2, 2 }, 27, 1e-2 },
    { "BatchNorm2d(3) x [1, 3, 2, 3]", &c3, 4, { 1, 3, 2, 3 }, 31, 1e-3 },
    { "BatchNorm1d(5) x [13, 5]", &c5, 2, { 13, 5 }, 35, 1e-2 },
};
static const grad_config bn_act_configs[] = {
    { "BatchNorm2d(3)-ReLU x [3, 3, 2, 2]", &bn_relu3, 4, { 3, 3, 2, 2 }, 41, 1e-2 },
    { "BatchNorm1d(4)-LeakyReLU(0.2) x [6, 4]", &bn_leaky4, 2, { 6, 4 }, 43, 1e-2 },
    { "BatchNorm2d(5)-ReLU x [2, 5, 3, 1]", &bn_relu5, 4, { 2, 5, 3, 1 }, 45, 1e-2 },
};
static const grad_config vbn_configs[] = {
    { "VirtualBatchNorm(3) x [5, 3]", &c3, 2, { 5, 3 }, 71, 1e-2 },
    { "VirtualBatchNorm(2) x [3, 2, 2, 3]", &c2, 4, { 3, 2, 2, 3 }, 72, 1e-2 },
    { "VirtualBatchNorm(2) x [1, 2, 3, 1]", &c2, 4, { 1, 2, 3, 1 }, 73, 1e-2 },
};
static const grad_config conv_configs[] = {
    { "Conv2d(3, 4, 3, 2, 1) x [2, 3, 5, 6]", &conv1, 4, { 2, 3, 5, 6 }, 81, 1e-2 },
    { "Conv2d(2, 3, 4, 2, 1) x [2, 2, 6, 6]", &conv2, 4, { 2, 2, 6, 6 }, 82, 1e-2 },
    { "Conv2d(1, 2, 1, 1, 0) x [1, 1, 3, 2]", &conv3, 4, { 1, 1, 3, 2 }, 83, 1e-2 },
    { "Conv2d(3, 2, 4, 2, 1, bias=False) x [2, 3, 6, 6]", &conv4, 4, { 2, 3, 6, 6 }, 87, 1e-2 },
};
static const grad_config convt_configs[] = {
    { "ConvTranspose2d(3, 2, 4, 2, 1) x [2, 3, 3, 4]", &convt1, 4, { 2, 3, 3, 4 }, 84, 1e-2 },
    { "ConvTranspose2d(2, 3, 3, 1, 0) x [1, 2, 2, 3]", &convt2, 4, { 1, 2, 2, 3 }, 85, 1e-2 },
    { "ConvTranspose2d(2, 2, 3, 3, 2) x [3, 2, 2, 2]", &convt3, 4, { 3, 2, 2, 2 }, 86, 1e-2 },
    { "ConvTranspose2d(5, 3, 4, 1, 0, bias=False) x [2, 5]", &convt4, 2, { 2, 5 }, 88, 1e-2 },
};
static const grad_config stack_configs[] = {
    { "Linear-BN-LReLU-Linear-Tanh x [5, 4]", NULL, 2, { 5, 4 }, 90, 1e-2 },
};

#define LAYER(build, lo, hi, virtual_bn, configs) { build, lo, hi, 0.0f, virtual_bn, configs, CHECK_ARRAY_LEN(configs) }

enum { LINEAR, BATCHNORM, BATCHNORM_ACT, VIRTUAL_BATCHNORM, CONV2D, CONV_TRANSPOSE2D, STACK };
static const grad_layer layers[] = {
    [LINEAR] = LAYER(build_linear, -1.0f, 1.0f, 0, linear_configs),
    [BATCHNORM] = LAYER(build_batchnorm, -2.0f, 2.0f, 0, batchnorm_configs),
    [BATCHNORM_ACT] = LAYER(build_bn_act, -2.0f, 2.0f, 0, bn_act_configs),
    [VIRTUAL_BATCHNORM] = LAYER(build_batchnorm, -2.0f, 2.0f, 1, vbn_configs),
    [CONV2D] = LAYER(build_conv, -1.0f, 1.0f, 0, conv_configs),
    [CONV_TRANSPOSE2D] = LAYER(build_conv, -1.0f, 1.0f, 0, convt_configs),
    [STACK] = LAYER(build_stack, -1.5f, 1.5f, 0, stack_configs),
};

static void check_layer(check_suite *s, check_row *r, const check_spec *spec)
{
    const grad_layer *l = &layers[spec->variant];
    for (size_t i = 0; i < l->count; i++)
        grad_case(s, r, l, &l->configs[i]);
}

/* Every activation at points at least 5e-2 from the kink, steps of 1e-2;
 * spec->variant is the activation. */
static void check_activation(check_suite *s, check_row *r, const check_spec *spec)
{
    act_arg a = { (gantry_activation)spec->variant, spec->variant == GANTRY_ACT_LEAKY_RELU ? 0.2f : 0.0f };
    grad_layer l = { build_activation, -3.0f, 3.0f, 5e-2f, 0, NULL, 0 };
    grad_config x2 = { "x [4, 5]", &a, 2, { 4, 5 }, 40 + (uint64_t)spec->variant, 1e-2 };
    grad_config x4 = { "x [2, 2, 2, 2]", &a, 4, { 2, 2, 2, 2 }, 60 + (uint64_t)spec->variant, 1e-2 };
    grad_case(s, r, &l, &x2);
    grad_case(s, r, &l, &x4);
}

/* ---- the BCE loss ---------------------------------------------------------------- */

static void check_bce(check_suite *s, check_row *r, const check_spec *spec)
{
    enum { N = 13 };
    static const float targets[] = { 0.0f, 1.0f, 0.9f };
    (void)spec;
    gantry_tensor *x = NULL, *dx = NULL, *out = NULL;
    float xv[N], a[N];
    double num[N];
    gantry_status st = gantry_tensor_new(s->test, &x, N, 0, 0, 0);
    if (!st)
        st = gantry_tensor_new(s->test, &dx, N, 0, 0, 0);
    if (!st)
        st = gantry_tensor_new(s->test, &out, 1, 0, 0, 0);
    for (int i = 0; i < N; i++)
        xv[i] = gantry_philox_uniform(110, 0, (size_t)i, -4.0f, 4.0f);
    xv[0] = 9.0f; /* far into both tails */
    xv[1] = -9.0f;
    for (size_t k = 0; !st && k < CHECK_ARRAY_LEN(targets); k++) {
        st = check_fd_bce_logits(x, dx, out, xv, targets[k], 1e-2, a, num);
        if (!st) {
            check_fd_result res;
            memset(&res, 0, sizeof res);
            snprintf(res.what, sizeof res.what, "dx");
            check_fd_error(a, num, N, &res);
            char config[64];
            snprintf(config, sizeof config, "n=%d target=%g", N, (double)targets[k]);
            check_fd_row_case(s, r, config, &res);
        }
    }
    if (st)
        check_row_failed(s, r, "bce_logits");
    gantry_tensor_destroy(x);
    gantry_tensor_destroy(dx);
    gantry_tensor_destroy(out);
}

/* ---- the rows --------------------------------------------------------------------- */

#define GRAD_ROW(row, fn, v) CHECK_FD_ROW(row, gradcheck, "", fn, v)

static const check_spec table[] = {
    GRAD_ROW("linear", check_layer, LINEAR),
    GRAD_ROW("batchnorm", check_layer, BATCHNORM),
    GRAD_ROW("batchnorm_act", check_layer, BATCHNORM_ACT),
    GRAD_ROW("identity", check_activation, GANTRY_ACT_IDENTITY),
    GRAD_ROW("relu", check_activation, GANTRY_ACT_RELU),
    GRAD_ROW("leaky_relu", check_activation, GANTRY_ACT_LEAKY_RELU),
    GRAD_ROW("tanh", check_activation, GANTRY_ACT_TANH),
    GRAD_ROW("sigmoid", check_activation, GANTRY_ACT_SIGMOID),
    GRAD_ROW("virtual_batchnorm", check_layer, VIRTUAL_BATCHNORM),
    GRAD_ROW("conv2d", check_layer, CONV2D),
    GRAD_ROW("conv_transpose2d", check_layer, CONV_TRANSPOSE2D),
    GRAD_ROW("stack", check_layer, STACK),
    GRAD_ROW("bce_logits", check_bce, 0),
};

const check_family check_family_gradcheck = CHECK_FAMILY(gradcheck, table);
