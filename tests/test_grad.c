/* Finite-difference checks of every layer's backward pass and of the BCE
 * loss on the reference backend, with the method of tools/check/fd.h
 * (shared with `gantry check`): for a Sequential f and an input x the
 * objective is L = sum_i w_i y_i with y = f(x) and fixed random weights w;
 * analytic gradients from gantry_seq_backward(dy = w) are compared with
 * central differences of L over every element of x and of every parameter,
 * the error of a tensor being relative to its largest component. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/nn.h"
#include "gantry/ops.h"
#include "gantry/philox.h"
#include "gantry/tensor.h"
#include "tests/test.h"
#include "tools/check/fd.h"

static gantry_backend *be;
static double worst_overall;

/* ---- helpers ------------------------------------------------------------ */

static gantry_tensor *random_tensor(int ndim, const size_t *shape, uint64_t seed, float lo, float hi, float gap)
{
    gantry_tensor *t = NULL;
    REQUIRE(check_fd_random_tensor(be, ndim, shape, seed, lo, hi, gap, &t) == GANTRY_OK);
    return t;
}

static float *read_all(const gantry_tensor *t)
{
    size_t n = gantry_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    REQUIRE(v);
    REQUIRE(gantry_tensor_read(t, v, n) == GANTRY_OK);
    return v;
}

static int same_shape(const gantry_tensor *a, const gantry_tensor *b)
{
    if (gantry_tensor_ndim(a) != gantry_tensor_ndim(b))
        return 0;
    for (int i = 0; i < gantry_tensor_ndim(a); i++)
        if (gantry_tensor_dim(a, i) != gantry_tensor_dim(b, i))
            return 0;
    return 1;
}

/* Prints one gradient tensor's result and counts it as a check. */
static void report_at(int line, const char *name, const check_fd_result *r, double tol)
{
    printf("  %-34s n=%-3zu max|grad| %-9.3g error %.2e\n", name, r->n, r->max_grad, r->error);
    if (r->error > worst_overall)
        worst_overall = r->error;
    test_checks++;
    if (!(r->error <= tol)) { /* +inf when a value is not finite */
        test_failures++;
        fprintf(stderr, "%s:%d: %s: error %.3g > %g (element %zu: analytic %.7g, numeric %.7g)\n", __FILE__, line,
                name, r->error, tol, r->worst, (double)r->analytic, r->numeric);
    }
}

/* Compares analytic against numeric values and reports. */
static void compare_at(int line, const char *what, const float *analytic, const double *numeric, size_t n,
                       double tol)
{
    check_fd_result r;
    memset(&r, 0, sizeof r);
    check_fd_error(analytic, numeric, n, &r);
    report_at(line, what, &r, tol);
}

#define COMPARE(what, a, n_, count, tol) compare_at(__LINE__, what, a, n_, count, tol)

typedef struct grad_ctx {
    const char *name;
    double tol;
    int line;
} grad_ctx;

static void report_grad(void *user, const check_fd_result *r)
{
    const grad_ctx *g = user;
    char what[160];
    snprintf(what, sizeof what, "%s %s", g->name, r->what);
    report_at(g->line, what, r, g->tol);
}

/* Checks dx and every parameter gradient of `seq` at x: the shapes of one
 * backward pass, then check_fd_seq's differences. */
static void grad_check_at(int line, const char *name, gantry_seq *seq, gantry_tensor *x, uint64_t seed, double eps,
                          double tol)
{
    printf("%s\n", name);
    gantry_tensor *y = NULL, *dx = NULL;
    REQUIRE(gantry_seq_forward(seq, x, 1, &y) == GANTRY_OK);
    size_t yshape[GANTRY_MAX_DIMS];
    for (int i = 0; i < gantry_tensor_ndim(y); i++)
        yshape[i] = gantry_tensor_dim(y, i);
    gantry_tensor *dy = random_tensor(gantry_tensor_ndim(y), yshape, seed ^ 0x5eedu, -1.0f, 1.0f, 0.0f);
    CHECK_OK(gantry_seq_zero_grad(seq));
    CHECK_OK(gantry_seq_backward(seq, dy, 1, &dx));
    REQUIRE(dx);
    CHECK(same_shape(dx, x));
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        REQUIRE(p && p->grad && same_shape(p->grad, p->value));
    }
    gantry_tensor_destroy(dy);

    grad_ctx g = { name, tol, line };
    CHECK_OK(check_fd_seq(seq, x, seed, eps, report_grad, &g));
}

#define grad_check(name, seq, x, seed, eps, tol) grad_check_at(__LINE__, name, seq, x, seed, eps, tol)

static gantry_seq *new_seq(void)
{
    gantry_seq *seq = NULL;
    REQUIRE(gantry_seq_create(be, &seq) == GANTRY_OK);
    return seq;
}

static void init_seq(gantry_seq *seq, uint64_t seed)
{
    uint64_t offset = 0;
    REQUIRE(gantry_seq_init(seq, seed, &offset) == GANTRY_OK);
}

static void randomize_batchnorm(gantry_seq *seq, uint64_t seed)
{
    REQUIRE(check_fd_randomize_batchnorm(seq, seed) == GANTRY_OK);
}

/* ---- layers ------------------------------------------------------------- */

static void test_linear(void)
{
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_linear(seq, 5, 4));
    init_seq(seq, 11);
    size_t shape[2] = { 6, 5 };
    gantry_tensor *x = random_tensor(2, shape, 12, -1.0f, 1.0f, 0.0f);
    grad_check("Linear(5, 4)", seq, x, 13, 1e-2, CHECK_FD_TOL);

    /* A 4-D input is flattened by Linear; dx comes back in the input's shape. */
    gantry_seq *seq4 = new_seq();
    CHECK_OK(gantry_seq_add_linear(seq4, 6, 3));
    init_seq(seq4, 14);
    size_t shape4[4] = { 2, 3, 2, 1 };
    gantry_tensor *x4 = random_tensor(4, shape4, 15, -1.0f, 1.0f, 0.0f);
    grad_check("Linear(6, 3) on [2, 3, 2, 1]", seq4, x4, 16, 1e-2, CHECK_FD_TOL);

    gantry_tensor_destroy(x);
    gantry_tensor_destroy(x4);
    gantry_seq_destroy(seq);
    gantry_seq_destroy(seq4);
}

static void test_batchnorm(void)
{
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_batchnorm(seq, 4, 1e-5f, 0.1f));
    init_seq(seq, 21);
    randomize_batchnorm(seq, 22);
    size_t shape[2] = { 6, 4 };
    gantry_tensor *x = random_tensor(2, shape, 23, -2.0f, 2.0f, 0.0f);
    grad_check("BatchNorm1d(4) [6, 4]", seq, x, 24, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);

    /* The smallest batch that has statistics: two values per channel, which
     * normalise to -1 and +1 whatever they are, so dx is ~0. */
    size_t shape2[2] = { 2, 4 };
    x = random_tensor(2, shape2, 25, -2.0f, 2.0f, 0.0f);
    grad_check("BatchNorm1d(4) [2, 4]", seq, x, 26, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);

    seq = new_seq();
    CHECK_OK(gantry_seq_add_batchnorm(seq, 3, 1e-5f, 0.1f));
    init_seq(seq, 27);
    randomize_batchnorm(seq, 28);
    size_t shape4[4] = { 3, 3, 2, 2 };
    x = random_tensor(4, shape4, 29, -2.0f, 2.0f, 0.0f);
    grad_check("BatchNorm2d(3) [3, 3, 2, 2]", seq, x, 30, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);

    /* A batch of one image: the statistics run over H*W only. */
    size_t shape1[4] = { 1, 3, 2, 3 };
    x = random_tensor(4, shape1, 31, -2.0f, 2.0f, 0.0f);
    grad_check("BatchNorm2d(3) [1, 3, 2, 3]", seq, x, 32, 1e-3, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

/* xshape of xdim dims; a 2-D [N, C] input is the [N, C, 1, 1] of a latent
 * vector; no_bias drops the bias as the DCGAN paper's layers do. */
static void conv_case(int line, int transposed, size_t in, size_t out, size_t k, size_t stride, size_t pad,
                      int no_bias, int xdim, const size_t *xshape, uint64_t seed)
{
    char name[160];
    snprintf(name, sizeof name, "%s(%zu, %zu, %zu, %zu, %zu%s) [%zu, %zu, %zu, %zu]",
             transposed ? "ConvTranspose2d" : "Conv2d", in, out, k, stride, pad, no_bias ? ", bias=False" : "",
             xshape[0], xshape[1], xdim > 2 ? xshape[2] : 1, xdim > 2 ? xshape[3] : 1);
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_conv(seq, &(gantry_conv_spec){ in, out, k, stride, pad, transposed, no_bias }));
    init_seq(seq, seed);
    gantry_tensor *x = random_tensor(xdim, xshape, seed + 1, -1.0f, 1.0f, 0.0f);
    grad_check_at(line, name, seq, x, seed + 2, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

static void test_conv(void)
{
    conv_case(__LINE__, 0, 3, 4, 3, 2, 1, 0, 4, (size_t[]){ 2, 3, 5, 6 }, 41);
    conv_case(__LINE__, 0, 2, 3, 4, 2, 1, 0, 4, (size_t[]){ 2, 2, 6, 6 }, 42);
    conv_case(__LINE__, 0, 1, 2, 1, 1, 0, 0, 4, (size_t[]){ 1, 1, 3, 2 }, 43);
    conv_case(__LINE__, 1, 3, 2, 4, 2, 1, 0, 4, (size_t[]){ 2, 3, 3, 4 }, 44);
    conv_case(__LINE__, 1, 2, 3, 3, 1, 0, 0, 4, (size_t[]){ 1, 2, 2, 3 }, 45);
    conv_case(__LINE__, 1, 2, 2, 3, 3, 2, 0, 4, (size_t[]){ 3, 2, 2, 2 }, 46);
    conv_case(__LINE__, 0, 3, 2, 4, 2, 1, 1, 4, (size_t[]){ 2, 3, 6, 6 }, 47);
    conv_case(__LINE__, 1, 5, 3, 4, 1, 0, 1, 2, (size_t[]){ 2, 5 }, 48);
}

static void test_minibatch_disc(void)
{
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_minibatch_disc(seq, 5, 3, 2));
    init_seq(seq, 51);
    size_t shape[2] = { 4, 5 };
    /* Rows of M = x T far apart, so no L1 kink |M_i - M_j| lies within the
     * finite-difference step. */
    const gantry_param *t = gantry_seq_param(seq, 0);
    gantry_tensor *tv = random_tensor(3, (size_t[]){ 5, 3, 2 }, 54, -1.0f, 1.0f, 0.0f);
    CHECK_OK(gantry_tensor_copy(t->value, tv));
    gantry_tensor_destroy(tv);
    gantry_tensor *x = random_tensor(2, shape, 52, -1.0f, 1.0f, 0.0f);
    grad_check("MinibatchDiscrimination(5, 3, 2) [4, 5]", seq, x, 53, 1e-3, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

static void test_virtual_batchnorm(void)
{
    /* Reference statistics from one batch, then another batch normalised
     * with them: the backward holds the reference statistics constant, and
     * so do the finite differences (no reference pass in between). */
    static const size_t shapes[][4] = { { 5, 3, 0, 0 }, { 3, 2, 2, 3 }, { 1, 2, 3, 1 }, { 4, 3, 0, 0 }, { 2, 2, 2, 2 } };
    for (size_t k = 0; k < 5; k++) {
        gantry_bn_mode mode = k < 3 ? GANTRY_BN_VIRTUAL : GANTRY_BN_REFERENCE;
        int ndim = shapes[k][2] ? 4 : 2;
        gantry_seq *seq = new_seq();
        CHECK_OK(gantry_seq_add_batchnorm(seq, shapes[k][1], 1e-5f, 0.1f));
        init_seq(seq, 71);
        randomize_batchnorm(seq, 72);
        CHECK_OK(gantry_seq_set_virtual_batchnorm(seq, mode));
        gantry_tensor *ref = random_tensor(ndim, (size_t[]){ 7, shapes[k][1], shapes[k][2], shapes[k][3] }, 73 + k,
                                           -2.0f, 2.0f, 0.0f);
        gantry_tensor *x = random_tensor(ndim, shapes[k], 76 + k, -2.0f, 2.0f, 0.0f), *y = NULL;
        CHECK(gantry_seq_forward(seq, x, 1, &y) == GANTRY_INVALID_ARGUMENT); /* no reference pass yet */
        CHECK_OK(gantry_seq_forward(seq, ref, GANTRY_FORWARD_REFERENCE, &y));
        char name[96];
        snprintf(name, sizeof name, "%sBatchNorm(%zu) [%zu, %zu%s]", k < 3 ? "Virtual" : "Reference", shapes[k][1],
                 shapes[k][0], shapes[k][1],
                 ndim == 4 ? ", H, W" : "");
        grad_check_at(__LINE__, name, seq, x, 79 + k, 1e-2, CHECK_FD_TOL);
        gantry_tensor_destroy(ref);
        gantry_tensor_destroy(x);
        gantry_seq_destroy(seq);
    }
}

static void test_dropout(void)
{
    /* The mask changes with every training forward, so finite differences
     * do not apply; backward must multiply by the forward's mask. */
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_dropout(seq, 0.5f));
    init_seq(seq, 61);
    size_t shape[2] = { 8, 33 };
    gantry_tensor *x = random_tensor(2, shape, 62, 0.5f, 1.5f, 0.0f), *y = NULL, *dx = NULL;
    REQUIRE(gantry_seq_forward(seq, x, 1, &y) == GANTRY_OK);
    float *xv = read_all(x), *yv = read_all(y);
    size_t zeros = 0, n = 8 * 33;
    for (size_t i = 0; i < n; i++) {
        zeros += yv[i] == 0.0f;
        CHECK(yv[i] == 0.0f || yv[i] == xv[i] * 2.0f);
    }
    CHECK(zeros > n / 4 && zeros < 3 * n / 4);
    CHECK_OK(gantry_seq_backward(seq, x, 1, &dx)); /* dy = x: dx must equal y */
    float *dxv = read_all(dx);
    for (size_t i = 0; i < n; i++)
        CHECK(dxv[i] == yv[i]);
    REQUIRE(gantry_seq_forward(seq, x, 0, &y) == GANTRY_OK); /* evaluation: identity */
    free(yv);
    yv = read_all(y);
    CHECK(memcmp(yv, xv, n * sizeof *xv) == 0);
    free(xv);
    free(yv);
    free(dxv);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

static void test_activations(void)
{
    static const struct {
        gantry_activation act;
        float param;
        const char *name;
    } acts[] = {
        { GANTRY_ACT_IDENTITY, 0.0f, "Identity" },
        { GANTRY_ACT_RELU, 0.0f, "ReLU" },
        { GANTRY_ACT_LEAKY_RELU, 0.2f, "LeakyReLU(0.2)" },
        { GANTRY_ACT_TANH, 0.0f, "Tanh" },
        { GANTRY_ACT_SIGMOID, 0.0f, "Sigmoid" },
    };
    size_t shape[2] = { 4, 5 }, shape4[4] = { 2, 2, 2, 2 };
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
        gantry_seq *seq = new_seq();
        CHECK_OK(gantry_seq_add_activation(seq, acts[i].act, acts[i].param));
        /* Points at least 5e-2 from the kink, steps of 1e-2. */
        gantry_tensor *x = random_tensor(2, shape, 40 + i, -3.0f, 3.0f, 5e-2f);
        grad_check(acts[i].name, seq, x, 50 + i, 1e-2, CHECK_FD_TOL);
        gantry_tensor_destroy(x);
        x = random_tensor(4, shape4, 60 + i, -3.0f, 3.0f, 5e-2f);
        char name[64];
        snprintf(name, sizeof name, "%s [2, 2, 2, 2]", acts[i].name);
        grad_check(name, seq, x, 70 + i, 1e-2, CHECK_FD_TOL);
        gantry_tensor_destroy(x);
        gantry_seq_destroy(seq);
    }
}

static void test_reshapes(void)
{
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_flatten(seq));
    size_t s4[4] = { 2, 3, 2, 2 };
    gantry_tensor *x = random_tensor(4, s4, 80, -1.0f, 1.0f, 0.0f);
    gantry_tensor *y = NULL;
    CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
    CHECK(y && gantry_tensor_ndim(y) == 2 && gantry_tensor_dim(y, 0) == 2 && gantry_tensor_dim(y, 1) == 12);
    grad_check("Flatten [2, 3, 2, 2]", seq, x, 81, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);

    seq = new_seq();
    size_t u[3] = { 3, 2, 2 };
    CHECK_OK(gantry_seq_add_unflatten(seq, 3, u));
    size_t s2[2] = { 2, 12 };
    x = random_tensor(2, s2, 82, -1.0f, 1.0f, 0.0f);
    CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
    CHECK(y && gantry_tensor_ndim(y) == 4 && gantry_tensor_dim(y, 1) == 3 && gantry_tensor_dim(y, 3) == 2);
    grad_check("Unflatten(1, (3, 2, 2))", seq, x, 83, 1e-2, CHECK_FD_TOL);
    gantry_seq_destroy(seq);

    /* Unflatten -> BatchNorm2d -> LeakyReLU -> Flatten -> Linear: the
     * reshapes route gradients through a 4-D section. */
    seq = new_seq();
    CHECK_OK(gantry_seq_add_unflatten(seq, 3, u));
    CHECK_OK(gantry_seq_add_batchnorm(seq, 3, 1e-5f, 0.1f));
    CHECK_OK(gantry_seq_add_flatten(seq));
    CHECK_OK(gantry_seq_add_linear(seq, 12, 5));
    init_seq(seq, 84);
    randomize_batchnorm(seq, 85);
    grad_check("Unflatten-BN2d-Flatten-Linear", seq, x, 86, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

static gantry_seq *small_model(void)
{
    gantry_seq *seq = new_seq();
    CHECK_OK(gantry_seq_add_linear(seq, 4, 6));
    CHECK_OK(gantry_seq_add_batchnorm(seq, 6, 1e-5f, 0.1f));
    CHECK_OK(gantry_seq_add_activation(seq, GANTRY_ACT_LEAKY_RELU, 0.2f));
    CHECK_OK(gantry_seq_add_linear(seq, 6, 3));
    CHECK_OK(gantry_seq_add_activation(seq, GANTRY_ACT_TANH, 0.0f));
    init_seq(seq, 90);
    randomize_batchnorm(seq, 91);
    return seq;
}

static void test_sequential(void)
{
    gantry_seq *seq = small_model();
    CHECK(gantry_seq_param_count(seq) == 6);
    size_t shape[2] = { 5, 4 };
    gantry_tensor *x = random_tensor(2, shape, 92, -1.5f, 1.5f, 0.0f);
    /* The bias of the first Linear has a zero gradient: BatchNorm removes
     * any shift of its input. */
    grad_check("Linear-BN-LReLU-Linear-Tanh", seq, x, 93, 1e-2, CHECK_FD_TOL);
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

/* BatchNorm followed by ReLU or LeakyReLU runs as one op each way in a
 * training forward: its gradients against differences, its output the bits
 * of the two ops in turn (the op-level comparison is gantry check's), and
 * the BatchNorm's own output, never computed, reported as absent. */
static void test_batchnorm_activation(void)
{
    static const struct {
        gantry_activation act;
        float param;
        const char *name;
    } acts[] = { { GANTRY_ACT_RELU, 0.0f, "BatchNorm2d(3)-ReLU [3, 3, 2, 2]" },
                 { GANTRY_ACT_LEAKY_RELU, 0.2f, "BatchNorm2d(3)-LeakyReLU [3, 3, 2, 2]" } };
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        gantry_seq *seq = new_seq();
        CHECK_OK(gantry_seq_add_batchnorm(seq, 3, 1e-5f, 0.1f));
        CHECK_OK(gantry_seq_add_activation(seq, acts[a].act, acts[a].param));
        init_seq(seq, 41 + a);
        randomize_batchnorm(seq, 43 + a);
        size_t shape[4] = { 3, 3, 2, 2 };
        gantry_tensor *x = random_tensor(4, shape, 45 + a, -2.0f, 2.0f, 0.0f);
        grad_check(acts[a].name, seq, x, 47 + a, 1e-2, CHECK_FD_TOL);

        gantry_tensor *y = NULL, *bn = NULL, *mean = NULL, *invstd = NULL, *rm = NULL, *rv = NULL;
        const gantry_param *gamma = gantry_seq_param(seq, 0), *beta = gantry_seq_param(seq, 1);
        CHECK_OK(gantry_tensor_create(be, 4, shape, &bn));
        CHECK_OK(gantry_tensor_new(be, &mean, 3, 0, 0, 0));
        CHECK_OK(gantry_tensor_new(be, &invstd, 3, 0, 0, 0));
        CHECK_OK(gantry_tensor_new(be, &rm, 3, 0, 0, 0));
        CHECK_OK(gantry_tensor_new(be, &rv, 3, 0, 0, 0));
        CHECK_OK(gantry_op_fill(rm, 0.0f));
        CHECK_OK(gantry_op_fill(rv, 1.0f));
        CHECK_OK(gantry_op_batchnorm_forward_train(x, bn, gamma->value, beta->value, rm, rv, mean, invstd, 0.1f,
                                                   1e-5f));
        CHECK_OK(gantry_op_activation_forward(acts[a].act, acts[a].param, bn, bn));
        CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
        float *want = read_all(bn), *got = read_all(y);
        CHECK(memcmp(want, got, 36 * sizeof *got) == 0);
        CHECK(gantry_seq_output(seq, 0) == NULL);
        CHECK(gantry_seq_output(seq, 1) == y);
        CHECK_OK(gantry_seq_forward(seq, x, 0, &y)); /* evaluation: two ops, both outputs */
        CHECK(gantry_seq_output(seq, 0) != NULL);
        free(want);
        free(got);
        gantry_tensor *t[] = { x, bn, mean, invstd, rm, rv };
        for (size_t i = 0; i < sizeof t / sizeof *t; i++)
            gantry_tensor_destroy(t[i]);
        gantry_seq_destroy(seq);
    }
}

/* ---- gradient bookkeeping ------------------------------------------------ */

static void fill_param_grads(gantry_seq *seq, float value)
{
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++)
        REQUIRE(gantry_op_fill(gantry_seq_param(seq, i)->grad, value) == GANTRY_OK);
}

/* Every gradient equals `factor` times the saved copy (within 1e-6). */
static int grads_are(gantry_seq *seq, float *const *saved, float factor)
{
    int ok = 1;
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        float *g = read_all(p->grad);
        for (size_t j = 0; j < gantry_tensor_numel(p->grad); j++) {
            double want = (double)factor * saved[i][j];
            if (!(fabs(g[j] - want) <= 1e-6 * (1.0 + fabs(want)))) {
                fprintf(stderr, "  %s[%zu] = %.9g, expected %.9g\n", p->name, j, (double)g[j], want);
                ok = 0;
                break;
            }
        }
        free(g);
    }
    return ok;
}

static int grads_all(gantry_seq *seq, float value)
{
    int ok = 1;
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        float *g = read_all(p->grad);
        for (size_t j = 0; j < gantry_tensor_numel(p->grad); j++)
            ok &= g[j] == value;
        free(g);
    }
    return ok;
}

static void test_bookkeeping(void)
{
    gantry_seq *seq = small_model();
    size_t np = gantry_seq_param_count(seq);
    size_t shape[2] = { 5, 4 }, yshape[2] = { 5, 3 };
    gantry_tensor *x = random_tensor(2, shape, 100, -1.0f, 1.0f, 0.0f);
    gantry_tensor *dy = random_tensor(2, yshape, 101, -1.0f, 1.0f, 0.0f);
    gantry_tensor *y = NULL, *dx = NULL;

    /* Reference: zero, one backward. */
    CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
    CHECK_OK(gantry_seq_zero_grad(seq));
    CHECK(grads_all(seq, 0.0f));
    CHECK_OK(gantry_seq_backward(seq, dy, 1, &dx));
    float *dx1 = read_all(dx);
    float **g1 = calloc(np, sizeof *g1);
    REQUIRE(g1);
    for (size_t i = 0; i < np; i++)
        g1[i] = read_all(gantry_seq_param(seq, i)->grad);

    /* Gradients accumulate over backward calls until zero_grad. */
    CHECK_OK(gantry_seq_backward(seq, dy, 1, &dx));
    CHECK(grads_are(seq, g1, 2.0f));
    CHECK_OK(gantry_seq_backward(seq, dy, 1, NULL)); /* no dx wanted: parameter gradients still come */
    CHECK(grads_are(seq, g1, 3.0f));
    CHECK_OK(gantry_seq_zero_grad(seq));
    CHECK(grads_all(seq, 0.0f));
    CHECK_OK(gantry_seq_backward(seq, dy, 1, NULL));
    CHECK(grads_are(seq, g1, 1.0f));

    /* param_grads = 0 leaves the gradient tensors untouched and still gives
     * the same dx. */
    fill_param_grads(seq, 7.5f);
    dx = NULL;
    CHECK_OK(gantry_seq_backward(seq, dy, 0, &dx));
    CHECK(grads_all(seq, 7.5f));
    REQUIRE(dx);
    float *dx0 = read_all(dx);
    CHECK(memcmp(dx0, dx1, gantry_tensor_numel(x) * sizeof *dx0) == 0);
    CHECK_OK(gantry_seq_backward(seq, dy, 0, NULL)); /* nothing wanted at all */
    CHECK(grads_all(seq, 7.5f));
    free(dx0);

    /* gantry_seq_init also zeroes the gradients. */
    init_seq(seq, 90);
    CHECK(grads_all(seq, 0.0f));

    for (size_t i = 0; i < np; i++)
        free(g1[i]);
    free(g1);
    free(dx1);

    /* A gradient of the wrong size is refused. */
    CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
    gantry_tensor *bad = random_tensor(2, (size_t[]){ 5, 4 }, 102, -1.0f, 1.0f, 0.0f);
    gantry_clear_error();
    CHECK(gantry_seq_backward(seq, bad, 1, &dx) == GANTRY_SHAPE_MISMATCH);
    CHECK(gantry_last_error()[0] != '\0');
    CHECK_STATUS(gantry_seq_backward(seq, NULL, 1, &dx), GANTRY_INVALID_ARGUMENT);
    gantry_tensor_destroy(bad);

    /* BatchNorm cannot differentiate an evaluation-mode forward. */
    CHECK_OK(gantry_seq_forward(seq, x, 0, &y));
    CHECK_STATUS(gantry_seq_backward(seq, dy, 1, &dx), GANTRY_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("BatchNorm");

    /* After a failed forward there is nothing to differentiate. */
    gantry_tensor *wrong = random_tensor(2, (size_t[]){ 5, 7 }, 103, -1.0f, 1.0f, 0.0f);
    CHECK_STATUS(gantry_seq_forward(seq, wrong, 1, &y), GANTRY_SHAPE_MISMATCH);
    CHECK_ERROR_MENTIONS("Linear(4, 6)");
    CHECK(gantry_seq_backward(seq, dy, 1, &dx) != GANTRY_OK);
    gantry_tensor_destroy(wrong);

    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);

    /* Backward before any forward is an error, and so is backward after a
     * layer was appended (the old forward no longer describes the model). */
    seq = new_seq();
    CHECK_OK(gantry_seq_add_linear(seq, 4, 3));
    dx = NULL;
    CHECK_STATUS(gantry_seq_backward(seq, dy, 1, &dx), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("forward");
    CHECK(dx == NULL);
    x = random_tensor(2, (size_t[]){ 5, 4 }, 104, -1.0f, 1.0f, 0.0f);
    CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
    CHECK_OK(gantry_seq_add_activation(seq, GANTRY_ACT_TANH, 0.0f));
    CHECK_STATUS(gantry_seq_backward(seq, dy, 1, &dx), GANTRY_INVALID_ARGUMENT);
    CHECK_OK(gantry_seq_forward(seq, x, 1, &y));
    CHECK_OK(gantry_seq_backward(seq, dy, 1, &dx));
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);

    gantry_tensor_destroy(dy);
}

/* ---- the loss ------------------------------------------------------------ */

static double host_bce(const float *x, size_t n, double t)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        acc += (v > 0.0 ? v : 0.0) - v * t + log1p(exp(-fabs(v)));
    }
    return acc / (double)n;
}

static void test_bce(void)
{
    enum { N = 12 };
    gantry_tensor *x = NULL, *dx = NULL, *dxs = NULL, *out = NULL;
    REQUIRE(gantry_tensor_new(be, &x, N, 0, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &dx, N, 0, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &dxs, N, 0, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_new(be, &out, 1, 0, 0, 0) == GANTRY_OK);
    float xv[N];
    for (int i = 0; i < N; i++)
        xv[i] = gantry_philox_uniform(110, 0, (size_t)i, -4.0f, 4.0f);
    xv[0] = 9.0f; /* far into both tails */
    xv[1] = -9.0f;
    REQUIRE(gantry_tensor_write(x, xv, N) == GANTRY_OK);

    static const float targets[] = { 0.0f, 1.0f, 0.9f };
    for (size_t k = 0; k < sizeof targets / sizeof *targets; k++) {
        float t = targets[k];
        printf("BCE-with-logits, target %g\n", (double)t);
        float l = 0.0f;
        CHECK_OK(gantry_op_bce_logits_forward(x, t, out));
        CHECK_OK(gantry_tensor_item(out, &l));
        double hl = host_bce(xv, N, t);
        CHECK_NEAR(l, hl, 1e-6 * (1.0 + fabs(hl)));

        /* The backward, and central differences of the loss as the op
         * computes it. */
        float a[N];
        double num[N];
        REQUIRE(check_fd_bce_logits(x, dx, out, xv, t, 1e-2, a, num) == GANTRY_OK);
        /* The analytic form (sigmoid(x) - t) / n, in double. */
        double exact[N];
        for (int i = 0; i < N; i++)
            exact[i] = (1.0 / (1.0 + exp(-(double)xv[i])) - t) / N;
        char what[64];
        snprintf(what, sizeof what, "bce(t=%g) dx vs formula", (double)t);
        COMPARE(what, a, exact, N, 1e-6);

        snprintf(what, sizeof what, "bce(t=%g) dx vs differences", (double)t);
        COMPARE(what, a, num, N, CHECK_FD_TOL);

        /* scale carries sign and weight: -1 negates exactly, 2.5 scales. */
        float s[N];
        CHECK_OK(gantry_op_bce_logits_backward(x, t, -1.0f, dxs));
        CHECK_OK(gantry_tensor_read(dxs, s, N));
        int negated = 1;
        for (int i = 0; i < N; i++)
            negated &= s[i] == -a[i];
        CHECK(negated);
        CHECK_OK(gantry_op_bce_logits_backward(x, t, 2.5f, dxs));
        CHECK_OK(gantry_tensor_read(dxs, s, N));
        for (int i = 0; i < N; i++)
            CHECK_NEAR(s[i], 2.5 * a[i], 1e-6 * fabs(2.5 * a[i]) + 1e-12);
        CHECK_OK(gantry_op_bce_logits_backward(x, t, 0.0f, dxs));
        CHECK_OK(gantry_tensor_read(dxs, s, N));
        for (int i = 0; i < N; i++)
            CHECK(s[i] == 0.0f);
    }
    gantry_tensor_destroy(x);
    gantry_tensor_destroy(dx);
    gantry_tensor_destroy(dxs);
    gantry_tensor_destroy(out);
}

int main(void)
{
    REQUIRE(gantry_backend_open("reference", NULL, &be) == GANTRY_OK);
    test_linear();
    test_batchnorm();
    test_batchnorm_activation();
    test_conv();
    test_minibatch_disc();
    test_dropout();
    test_virtual_batchnorm();
    test_activations();
    test_reshapes();
    test_sequential();
    test_bookkeeping();
    test_bce();
    printf("worst gradient error: %.3g (tolerance %g)\n", worst_overall, CHECK_FD_TOL);
    gantry_backend_close(be);
    return test_finish("test_grad");
}
