/* Argument validation of every checked op (gantry/ops.h) and of the tensor
 * functions (gantry/tensor.h); main() requires rejection cases for every op
 * of GANTRY_BACKEND_OPS (the memory family through the tensor functions).
 *
 * Each op is called with a NULL tensor in every position, mismatched shapes,
 * bad scalars where it takes any, and a tensor from a second instance of the
 * reference backend.  Every rejection must carry the right status and a
 * message naming the op; and because the core promises to validate before
 * the backend sees anything, every tensor the op would have written is
 * filled with a sentinel first and must still hold it afterwards.  Each op
 * is also called once with valid arguments, so a rejection cannot come from
 * a broken setup. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/tensor.h"
#include "tests/test.h"

static gantry_backend *be, *be2;

#define SENTINEL 12345.5f

/* ---- helpers ------------------------------------------------------------ */

/* A tensor (d0, d1, d2, d3) on `b` holding 0.25, 0.5, 0.75, ... */
static gantry_tensor *tnew_on(gantry_backend *b, size_t d0, size_t d1, size_t d2, size_t d3)
{
    gantry_tensor *t = NULL;
    REQUIRE(gantry_tensor_new(b, &t, d0, d1, d2, d3) == GANTRY_OK);
    size_t n = gantry_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    REQUIRE(v);
    for (size_t i = 0; i < n; i++)
        v[i] = 0.25f * (float)(i % 7 + 1);
    REQUIRE(gantry_tensor_write(t, v, n) == GANTRY_OK);
    free(v);
    return t;
}

static gantry_tensor *tnew(size_t d0, size_t d1, size_t d2, size_t d3)
{
    return tnew_on(be, d0, d1, d2, d3);
}

static void set_sentinel(gantry_tensor *t)
{
    size_t n = gantry_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    REQUIRE(v);
    for (size_t i = 0; i < n; i++)
        v[i] = SENTINEL;
    REQUIRE(gantry_tensor_write(t, v, n) == GANTRY_OK);
    free(v);
}

static int holds_sentinel(const gantry_tensor *t)
{
    size_t n = gantry_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    REQUIRE(v);
    REQUIRE(gantry_tensor_read(t, v, n) == GANTRY_OK);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= v[i] == SENTINEL;
    free(v);
    return ok;
}

#define MAX_GUARDS 8

/* The ops that have rejection cases (the op name each REJECT expects in
 * the message), so that main() can require one for every op of
 * GANTRY_BACKEND_OPS: a new op without validation tests fails here. */
static const char *rejected_ops[256];
static size_t rejected_count;

static void note_rejection(const char *op)
{
    for (size_t i = 0; i < rejected_count; i++)
        if (strcmp(rejected_ops[i], op) == 0)
            return;
    if (rejected_count < sizeof rejected_ops / sizeof *rejected_ops)
        rejected_ops[rejected_count++] = op;
}

/* Fills the guarded tensors (NULLs skipped) with the sentinel, runs `call`,
 * expects `status` and a message containing `needle`, then checks that
 * every guarded tensor still holds the sentinel. */
#define REJECT(call, status, needle, ...)                                                               \
    do {                                                                                                \
        const gantry_tensor *guards_[] = { __VA_ARGS__ };                                               \
        note_rejection(needle);                                                                         \
        size_t nguards_ = sizeof guards_ / sizeof *guards_;                                             \
        for (size_t g_ = 0; g_ < nguards_; g_++)                                                        \
            if (guards_[g_])                                                                            \
                set_sentinel((gantry_tensor *)guards_[g_]);                                             \
        gantry_clear_error();                                                                           \
        CHECK_STATUS(call, status);                                                                     \
        CHECK_ERROR_MENTIONS(needle);                                                                   \
        for (size_t g_ = 0; g_ < nguards_; g_++)                                                        \
            if (guards_[g_] && !holds_sentinel(guards_[g_])) {                                          \
                test_failures++;                                                                        \
                fprintf(stderr, "%s:%d: %s wrote into guarded tensor %zu before rejecting\n", __FILE__, \
                        __LINE__, #call, g_);                                                           \
            }                                                                                           \
    } while (0)

#define INVALID GANTRY_INVALID_ARGUMENT
#define SHAPE GANTRY_SHAPE_MISMATCH
#define OTHER_BE GANTRY_BACKEND_MISMATCH

static const float fnan = NAN;
static const float finf = INFINITY;

/* ---- tensors ------------------------------------------------------------ */

static void test_tensor_create(void)
{
    gantry_tensor *dummy = (gantry_tensor *)&dummy; /* any non-NULL value */
    gantry_tensor *t = dummy;
    size_t shape5[5] = { 2, 2, 2, 2, 2 };

    CHECK_STATUS(gantry_tensor_create(be, 0, shape5, &t), INVALID);
    CHECK_ERROR_MENTIONS("tensor_create");
    CHECK_ERROR_MENTIONS("0 dimensions");
    CHECK(t == NULL);

    t = dummy;
    CHECK_STATUS(gantry_tensor_create(be, 5, shape5, &t), INVALID);
    CHECK_ERROR_MENTIONS("5 dimensions");
    CHECK(t == NULL);

    CHECK_STATUS(gantry_tensor_create(be, -1, shape5, &t), INVALID);
    CHECK_STATUS(gantry_tensor_create(be, 2, NULL, &t), INVALID);
    CHECK_ERROR_MENTIONS("shape is NULL");
    CHECK_STATUS(gantry_tensor_create(NULL, 2, shape5, &t), INVALID);
    CHECK_ERROR_MENTIONS("tensor_create");
    CHECK_STATUS(gantry_tensor_create(be, 2, shape5, NULL), INVALID);

    size_t zero_dim[3] = { 4, 0, 3 };
    t = dummy;
    CHECK_STATUS(gantry_tensor_create(be, 3, zero_dim, &t), INVALID);
    CHECK_ERROR_MENTIONS("dimension 1 is 0");
    CHECK(t == NULL);

    /* gantry_tensor_new: d0 is required; a zero after a nonzero entry is a
     * zero dimension, not a shorter shape. */
    CHECK_STATUS(gantry_tensor_new(be, &t, 0, 0, 0, 0), INVALID);
    CHECK_STATUS(gantry_tensor_new(be, &t, 0, 3, 0, 0), INVALID);
    CHECK_STATUS(gantry_tensor_new(be, &t, 2, 0, 3, 0), INVALID);

    /* Element counts whose byte size would overflow size_t. */
    size_t huge[2] = { SIZE_MAX / 2, 4 };
    CHECK_STATUS(gantry_tensor_create(be, 2, huge, &t), INVALID);
    CHECK_ERROR_MENTIONS("too large");
    size_t huge4[4] = { 1u << 16, 1u << 16, 1u << 16, 1u << 16 };
    CHECK_STATUS(gantry_tensor_create(be, 4, huge4, &t), INVALID);

    /* Valid shapes of every rank, with their accessors. */
    for (int nd = 1; nd <= 4; nd++) {
        size_t shape[4] = { 2, 3, 4, 5 };
        t = NULL;
        CHECK_OK(gantry_tensor_create(be, nd, shape, &t));
        REQUIRE(t);
        CHECK(gantry_tensor_ndim(t) == nd);
        size_t n = 1;
        for (int i = 0; i < nd; i++) {
            CHECK(gantry_tensor_dim(t, i) == shape[i]);
            n *= shape[i];
        }
        CHECK(gantry_tensor_dim(t, nd) == 0);
        CHECK(gantry_tensor_dim(t, -1) == 0);
        CHECK(gantry_tensor_numel(t) == n);
        CHECK(gantry_tensor_backend(t) == be);
        gantry_tensor_destroy(t);
    }
    CHECK_OK(gantry_tensor_new(be, &t, 3, 1, 0, 0));
    CHECK(gantry_tensor_ndim(t) == 2);
    gantry_tensor_destroy(t);

    /* Accessors and destroy accept NULL. */
    CHECK(gantry_tensor_ndim(NULL) == 0);
    CHECK(gantry_tensor_dim(NULL, 0) == 0);
    CHECK(gantry_tensor_numel(NULL) == 0);
    CHECK(gantry_tensor_backend(NULL) == NULL);
    gantry_tensor_destroy(NULL);
}

static void test_tensor_view_reshape(void)
{
    gantry_tensor *base = tnew(4, 6, 0, 0); /* 24 elements */
    gantry_tensor *dummy = (gantry_tensor *)&dummy;
    gantry_tensor *v = dummy;
    size_t s6[1] = { 6 }, s25[1] = { 25 }, s1[1] = { 1 }, s23[2] = { 2, 3 };

    CHECK_STATUS(gantry_tensor_view(base, 20, 1, s6, &v), SHAPE);
    CHECK_ERROR_MENTIONS("tensor_view");
    CHECK(v == NULL);
    CHECK_STATUS(gantry_tensor_view(base, 0, 1, s25, &v), SHAPE);
    CHECK_STATUS(gantry_tensor_view(base, 24, 1, s1, &v), SHAPE);
    CHECK_STATUS(gantry_tensor_view(base, 25, 1, s1, &v), SHAPE);
    CHECK_STATUS(gantry_tensor_view(base, SIZE_MAX, 1, s1, &v), SHAPE);
    CHECK_STATUS(gantry_tensor_view(base, SIZE_MAX - 2, 1, s6, &v), SHAPE);
    CHECK_STATUS(gantry_tensor_view(base, 0, 0, s6, &v), INVALID);
    CHECK_STATUS(gantry_tensor_view(base, 0, 5, s6, &v), INVALID);
    CHECK_STATUS(gantry_tensor_view(base, 0, 1, NULL, &v), INVALID);
    size_t s0[1] = { 0 };
    CHECK_STATUS(gantry_tensor_view(base, 0, 1, s0, &v), INVALID);
    CHECK_STATUS(gantry_tensor_view(NULL, 0, 1, s6, &v), INVALID);
    CHECK_STATUS(gantry_tensor_view(base, 0, 1, s6, NULL), INVALID);

    /* A view that ends exactly at the end is fine and addresses the right
     * elements; a view of a view adds the offsets. */
    float all[24], got[6];
    for (int i = 0; i < 24; i++)
        all[i] = (float)i;
    REQUIRE(gantry_tensor_write(base, all, 24) == GANTRY_OK);
    CHECK_OK(gantry_tensor_view(base, 18, 1, s6, &v));
    REQUIRE(v);
    CHECK_OK(gantry_tensor_read(v, got, 6));
    CHECK(got[0] == 18.0f && got[5] == 23.0f);
    gantry_tensor *vv = NULL;
    CHECK_OK(gantry_tensor_view(v, 2, 2, (size_t[]){ 2, 2 }, &vv));
    REQUIRE(vv);
    CHECK_OK(gantry_tensor_read(vv, got, 4));
    CHECK(got[0] == 20.0f && got[3] == 23.0f);
    gantry_tensor_destroy(vv);
    CHECK_STATUS(gantry_tensor_view(v, 2, 1, s6, &vv), SHAPE); /* bounded by the view, not the base */
    CHECK(vv == NULL);
    gantry_tensor_destroy(v);

    /* Reshape: the element count must stay; a rejected reshape keeps the
     * old shape. */
    CHECK_STATUS(gantry_tensor_reshape(base, 1, s25), SHAPE);
    CHECK_ERROR_MENTIONS("tensor_reshape");
    CHECK_STATUS(gantry_tensor_reshape(base, 2, s23), SHAPE);
    CHECK_STATUS(gantry_tensor_reshape(base, 0, s23), INVALID);
    CHECK_STATUS(gantry_tensor_reshape(base, 5, (size_t[]){ 1, 2, 3, 4, 1 }), INVALID);
    CHECK_STATUS(gantry_tensor_reshape(base, 2, (size_t[]){ 24, 0 }), INVALID);
    CHECK_STATUS(gantry_tensor_reshape(NULL, 1, s6), INVALID);
    CHECK(gantry_tensor_ndim(base) == 2 && gantry_tensor_dim(base, 0) == 4 && gantry_tensor_dim(base, 1) == 6);
    CHECK_OK(gantry_tensor_reshape(base, 3, (size_t[]){ 2, 3, 4 }));
    CHECK(gantry_tensor_ndim(base) == 3 && gantry_tensor_dim(base, 2) == 4 && gantry_tensor_numel(base) == 24);
    gantry_tensor_destroy(base);
}

static void test_tensor_transfers(void)
{
    gantry_tensor *t = tnew(2, 3, 0, 0);
    float host[8];
    for (int i = 0; i < 8; i++)
        host[i] = -1.0f;

    /* A write of the wrong count changes nothing. */
    set_sentinel(t);
    CHECK_STATUS(gantry_tensor_write(t, host, 5), SHAPE);
    CHECK_ERROR_MENTIONS("tensor_write");
    CHECK_STATUS(gantry_tensor_write(t, host, 7), SHAPE);
    CHECK_STATUS(gantry_tensor_write(t, host, 0), SHAPE);
    CHECK_STATUS(gantry_tensor_write(t, NULL, 6), INVALID);
    CHECK_STATUS(gantry_tensor_write(NULL, host, 6), INVALID);
    CHECK(holds_sentinel(t));

    /* A read of the wrong count writes nothing to the host. */
    CHECK_STATUS(gantry_tensor_read(t, host, 5), SHAPE);
    CHECK_ERROR_MENTIONS("tensor_read");
    CHECK_STATUS(gantry_tensor_read(t, host, 8), SHAPE);
    CHECK_STATUS(gantry_tensor_read(t, NULL, 6), INVALID);
    CHECK_STATUS(gantry_tensor_read(NULL, host, 6), INVALID);
    int untouched = 1;
    for (int i = 0; i < 8; i++)
        untouched &= host[i] == -1.0f;
    CHECK(untouched);

    /* Copy: same backend, same element count. */
    gantry_tensor *same = tnew(3, 2, 0, 0), *smaller = tnew(5, 0, 0, 0), *other = tnew_on(be2, 2, 3, 0, 0);
    REJECT(gantry_tensor_copy(t, smaller), SHAPE, "tensor_copy", t);
    REJECT(gantry_tensor_copy(smaller, t), SHAPE, "tensor_copy", smaller);
    REJECT(gantry_tensor_copy(t, other), OTHER_BE, "tensor_copy", t);
    REJECT(gantry_tensor_copy(other, t), OTHER_BE, "tensor_copy", other);
    REJECT(gantry_tensor_copy(t, NULL), INVALID, "tensor_copy", t);
    CHECK_STATUS(gantry_tensor_copy(NULL, t), INVALID);
    CHECK_OK(gantry_tensor_copy(t, same)); /* shapes may differ, counts may not */

    float value = -2.0f;
    CHECK_STATUS(gantry_tensor_item(NULL, &value), INVALID);
    CHECK_STATUS(gantry_tensor_item(t, NULL), INVALID);
    CHECK(value == -2.0f);
    CHECK_OK(gantry_tensor_item(t, &value));
    CHECK(value == 0.25f);

    CHECK_STATUS(gantry_backend_synchronize(NULL), INVALID);
    CHECK_OK(gantry_backend_synchronize(be));

    gantry_tensor_destroy(same);
    gantry_tensor_destroy(smaller);
    gantry_tensor_destroy(other);
    gantry_tensor_destroy(t);
}

/* ---- ops ---------------------------------------------------------------- */

static void test_gemm(void)
{
    gantry_tensor *a = tnew(2, 3, 0, 0), *b = tnew(3, 4, 0, 0), *c = tnew(2, 4, 0, 0);
    gantry_tensor *bt = tnew(4, 3, 0, 0), *c42 = tnew(4, 2, 0, 0), *a1 = tnew(6, 0, 0, 0);
    gantry_tensor *a3 = tnew(2, 3, 1, 0), *b_other = tnew_on(be2, 3, 4, 0, 0), *c_other = tnew_on(be2, 2, 4, 0, 0);

    REJECT(gantry_op_gemm(0, 0, 1.0f, NULL, b, 0.0f, c), INVALID, "gemm", c);
    CHECK_ERROR_MENTIONS("'A'");
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, NULL, 0.0f, c), INVALID, "gemm", c);
    CHECK_ERROR_MENTIONS("'B'");
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b, 0.0f, NULL), INVALID, "gemm", NULL);
    CHECK_ERROR_MENTIONS("'C'");

    REJECT(gantry_op_gemm(0, 0, 1.0f, a, bt, 0.0f, c), SHAPE, "gemm", c);   /* inner dims 3 vs 4 */
    REJECT(gantry_op_gemm(0, 1, 1.0f, a, b, 0.0f, c), SHAPE, "gemm", c);    /* B^T is 4 x 3 */
    REJECT(gantry_op_gemm(1, 0, 1.0f, a, b, 0.0f, c), SHAPE, "gemm", c);    /* A^T is 3 x 2 */
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b, 0.0f, c42), SHAPE, "gemm", c42); /* C is 4 x 2, not 2 x 4 */
    REJECT(gantry_op_gemm(0, 0, 1.0f, a1, b, 0.0f, c), SHAPE, "gemm", c);   /* 1-D A */
    REJECT(gantry_op_gemm(0, 0, 1.0f, a3, b, 0.0f, c), SHAPE, "gemm", c);   /* 3-D A */
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b, 0.0f, a1), SHAPE, "gemm", a1);

    REJECT(gantry_op_gemm(0, 0, fnan, a, b, 0.0f, c), INVALID, "gemm", c);
    CHECK_ERROR_MENTIONS("alpha");
    REJECT(gantry_op_gemm(0, 0, finf, a, b, 0.0f, c), INVALID, "gemm", c);
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b, fnan, c), INVALID, "gemm", c);
    CHECK_ERROR_MENTIONS("beta");
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b, -finf, c), INVALID, "gemm", c);

    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b_other, 0.0f, c), OTHER_BE, "gemm", c);
    REJECT(gantry_op_gemm(0, 0, 1.0f, a, b, 0.0f, c_other), OTHER_BE, "gemm", c_other);

    CHECK_OK(gantry_op_gemm(0, 0, 1.0f, a, b, 0.0f, c));
    CHECK_OK(gantry_op_gemm(0, 1, 1.0f, a, bt, 0.0f, c));
    CHECK_OK(gantry_op_gemm(1, 0, 1.0f, a, c, 0.0f, b));   /* (2x3)^T (2x4) = 3x4 */
    CHECK_OK(gantry_op_gemm(1, 1, 1.0f, a, c42, 1.0f, b)); /* (2x3)^T (4x2)^T = 3x4 */
    gantry_tensor *t[] = { a, b, c, bt, c42, a1, a3, b_other, c_other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

static void test_fill_clamp_rand(void)
{
    gantry_tensor *x = tnew(3, 2, 0, 0);

    REJECT(gantry_op_fill(NULL, 1.0f), INVALID, "fill", x);
    CHECK_OK(gantry_op_fill(x, 2.0f));

    REJECT(gantry_op_clamp(NULL, 0.0f, 1.0f), INVALID, "clamp", x);
    REJECT(gantry_op_clamp(x, 1.0f, 0.0f), INVALID, "clamp", x);
    REJECT(gantry_op_clamp(x, fnan, 1.0f), INVALID, "clamp", x);
    REJECT(gantry_op_clamp(x, 0.0f, fnan), INVALID, "clamp", x);
    CHECK_OK(gantry_op_clamp(x, 0.5f, 0.5f));
    CHECK_OK(gantry_op_clamp(x, -finf, finf));

    REJECT(gantry_op_rand_uniform(NULL, 1, 0, 0.0f, 1.0f), INVALID, "rand_uniform", x);
    REJECT(gantry_op_rand_uniform(x, 1, 0, 1.0f, 0.0f), INVALID, "rand_uniform", x);
    REJECT(gantry_op_rand_uniform(x, 1, 0, fnan, 1.0f), INVALID, "rand_uniform", x);
    REJECT(gantry_op_rand_uniform(x, 1, 0, 0.0f, finf), INVALID, "rand_uniform", x);
    CHECK_OK(gantry_op_rand_uniform(x, 1, 0, -1.0f, 1.0f));

    REJECT(gantry_op_rand_normal(NULL, 1, 0, 0.0f, 1.0f), INVALID, "rand_normal", x);
    REJECT(gantry_op_rand_normal(x, 1, 0, 0.0f, -1.0f), INVALID, "rand_normal", x);
    REJECT(gantry_op_rand_normal(x, 1, 0, 0.0f, fnan), INVALID, "rand_normal", x);
    REJECT(gantry_op_rand_normal(x, 1, 0, fnan, 1.0f), INVALID, "rand_normal", x);
    REJECT(gantry_op_rand_normal(x, 1, 0, finf, 1.0f), INVALID, "rand_normal", x);
    CHECK_OK(gantry_op_rand_normal(x, 1, 0, 0.0f, 1.0f));
    gantry_tensor_destroy(x);
}

static void test_bias(void)
{
    gantry_tensor *x = tnew(2, 3, 0, 0), *x4 = tnew(2, 3, 2, 2), *bias = tnew(3, 0, 0, 0);
    gantry_tensor *bias4 = tnew(4, 0, 0, 0), *x1 = tnew(3, 0, 0, 0), *bias_other = tnew_on(be2, 3, 0, 0, 0);

    REJECT(gantry_op_bias_add(NULL, bias), INVALID, "bias_add", bias);
    REJECT(gantry_op_bias_add(x, NULL), INVALID, "bias_add", x);
    CHECK_ERROR_MENTIONS("'bias'");
    REJECT(gantry_op_bias_add(x, bias4), SHAPE, "bias_add", x);
    REJECT(gantry_op_bias_add(x4, bias4), SHAPE, "bias_add", x4);
    REJECT(gantry_op_bias_add(x1, bias), SHAPE, "bias_add", x1);
    REJECT(gantry_op_bias_add(x, bias_other), OTHER_BE, "bias_add", x);
    CHECK_OK(gantry_op_bias_add(x, bias));
    CHECK_OK(gantry_op_bias_add(x4, bias));

    for (int acc = 0; acc <= 1; acc++) {
        REJECT(gantry_op_bias_grad(NULL, bias, acc), INVALID, "bias_grad", bias);
        REJECT(gantry_op_bias_grad(x, NULL, acc), INVALID, "bias_grad", NULL);
        REJECT(gantry_op_bias_grad(x, bias4, acc), SHAPE, "bias_grad", bias4);
        REJECT(gantry_op_bias_grad(x4, bias4, acc), SHAPE, "bias_grad", bias4);
        REJECT(gantry_op_bias_grad(x1, bias, acc), SHAPE, "bias_grad", bias);
        REJECT(gantry_op_bias_grad(x, bias_other, acc), OTHER_BE, "bias_grad", bias_other);
        CHECK_OK(gantry_op_bias_grad(x4, bias, acc));
    }
    gantry_tensor *t[] = { x, x4, bias, bias4, x1, bias_other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

static void test_activation(void)
{
    gantry_tensor *x = tnew(2, 3, 0, 0), *y = tnew(3, 2, 0, 0), *dy = tnew(6, 0, 0, 0), *dx = tnew(2, 3, 0, 0);
    gantry_tensor *small = tnew(5, 0, 0, 0), *y_other = tnew_on(be2, 2, 3, 0, 0);
    const gantry_activation act = GANTRY_ACT_LEAKY_RELU;

    REJECT(gantry_op_activation_forward(act, 0.2f, NULL, y), INVALID, "activation_forward", y);
    REJECT(gantry_op_activation_forward(act, 0.2f, x, NULL), INVALID, "activation_forward", NULL);
    REJECT(gantry_op_activation_forward(act, 0.2f, x, small), SHAPE, "activation_forward", small);
    REJECT(gantry_op_activation_forward(act, 0.2f, small, y), SHAPE, "activation_forward", y);
    REJECT(gantry_op_activation_forward((gantry_activation)99, 0.2f, x, y), INVALID, "activation_forward", y);
    CHECK_ERROR_MENTIONS("unknown activation");
    REJECT(gantry_op_activation_forward((gantry_activation)-1, 0.2f, x, y), INVALID, "activation", y);
    REJECT(gantry_op_activation_forward((gantry_activation)5, 0.2f, x, y), INVALID, "activation", y);
    REJECT(gantry_op_activation_forward(act, fnan, x, y), INVALID, "activation_forward", y);
    REJECT(gantry_op_activation_forward(act, finf, x, y), INVALID, "activation_forward", y);
    REJECT(gantry_op_activation_forward(act, 0.2f, x, y_other), OTHER_BE, "activation_forward", y_other);
    for (int a = GANTRY_ACT_IDENTITY; a <= GANTRY_ACT_SIGMOID; a++)
        CHECK_OK(gantry_op_activation_forward((gantry_activation)a, 0.2f, x, y));

    static const char op[] = "activation_backward";
    REJECT(gantry_op_activation_backward(act, 0.2f, NULL, y, dy, dx), INVALID, op, dx);
    REJECT(gantry_op_activation_backward(act, 0.2f, x, NULL, dy, dx), INVALID, op, dx);
    REJECT(gantry_op_activation_backward(act, 0.2f, x, y, NULL, dx), INVALID, op, dx);
    CHECK_ERROR_MENTIONS("'dy'");
    REJECT(gantry_op_activation_backward(act, 0.2f, x, y, dy, NULL), INVALID, op, NULL);
    CHECK_ERROR_MENTIONS("'dx'");
    REJECT(gantry_op_activation_backward(act, 0.2f, x, small, dy, dx), SHAPE, op, dx);
    REJECT(gantry_op_activation_backward(act, 0.2f, x, y, small, dx), SHAPE, op, dx);
    REJECT(gantry_op_activation_backward(act, 0.2f, x, y, dy, small), SHAPE, op, small);
    REJECT(gantry_op_activation_backward(act, 0.2f, small, y, dy, dx), SHAPE, op, dx);
    REJECT(gantry_op_activation_backward((gantry_activation)17, 0.2f, x, y, dy, dx), INVALID, op, dx);
    CHECK_ERROR_MENTIONS("unknown activation");
    REJECT(gantry_op_activation_backward(act, fnan, x, y, dy, dx), INVALID, op, dx);
    REJECT(gantry_op_activation_backward(act, 0.2f, x, y, dy, y_other), OTHER_BE, op, y_other);
    REJECT(gantry_op_activation_backward(act, 0.2f, x, y_other, dy, dx), OTHER_BE, op, dx);
    for (int a = GANTRY_ACT_IDENTITY; a <= GANTRY_ACT_SIGMOID; a++)
        CHECK_OK(gantry_op_activation_backward((gantry_activation)a, 0.2f, x, y, dy, dx));

    gantry_tensor *t[] = { x, y, dy, dx, small, y_other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

static void test_batchnorm(void)
{
    enum { C = 3 };
    gantry_tensor *x = tnew(4, C, 0, 0), *y = tnew(4, C, 0, 0), *x4 = tnew(2, C, 2, 1), *y4 = tnew(2, C, 2, 1);
    gantry_tensor *one = tnew(1, C, 0, 0), *one4 = tnew(1, C, 1, 1), *y_one = tnew(1, C, 0, 0);
    gantry_tensor *x1 = tnew(C, 0, 0, 0), *y_small = tnew(11, 0, 0, 0), *wrong = tnew(C - 1, 0, 0, 0);
    gantry_tensor *pc[6]; /* gamma, beta, running_mean, running_var, save_mean, save_invstd */
    for (int i = 0; i < 6; i++)
        pc[i] = tnew(C, 0, 0, 0);
    gantry_tensor *other = tnew_on(be2, C, 0, 0, 0);
    gantry_tensor *g = pc[0], *bt = pc[1], *rm = pc[2], *rv = pc[3], *sm = pc[4], *si = pc[5];

    /* ---- training forward ---- */
    static const char ft[] = "batchnorm_forward_train";
#define FT(X, Y, G, B, RM, RV, SM, SI, MOM, EPS) gantry_op_batchnorm_forward_train(X, Y, G, B, RM, RV, SM, SI, MOM, EPS)
#define FT_OUT y, rm, rv, sm, si
    REJECT(FT(NULL, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), INVALID, ft, FT_OUT);
    REJECT(FT(x, NULL, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), INVALID, ft, rm, rv, sm, si);
    REJECT(FT(x, y, NULL, bt, rm, rv, sm, si, 0.1f, 1e-5f), INVALID, ft, FT_OUT);
    CHECK_ERROR_MENTIONS("'gamma'");
    REJECT(FT(x, y, g, NULL, rm, rv, sm, si, 0.1f, 1e-5f), INVALID, ft, FT_OUT);
    REJECT(FT(x, y, g, bt, NULL, rv, sm, si, 0.1f, 1e-5f), INVALID, ft, y, rv, sm, si);
    CHECK_ERROR_MENTIONS("'running_mean'");
    REJECT(FT(x, y, g, bt, rm, NULL, sm, si, 0.1f, 1e-5f), INVALID, ft, y, rm, sm, si);
    REJECT(FT(x, y, g, bt, rm, rv, NULL, si, 0.1f, 1e-5f), INVALID, ft, y, rm, rv, si);
    REJECT(FT(x, y, g, bt, rm, rv, sm, NULL, 0.1f, 1e-5f), INVALID, ft, y, rm, rv, sm);
    CHECK_ERROR_MENTIONS("'save_invstd'");
    /* shapes */
    REJECT(FT(x, y_small, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), SHAPE, ft, y_small, rm, rv, sm, si);
    REJECT(FT(x1, x1, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), SHAPE, ft, x1, rm, rv, sm, si);
    for (int k = 0; k < 6; k++) {
        gantry_tensor *a[6] = { g, bt, rm, rv, sm, si };
        a[k] = wrong;
        REJECT(FT(x, y, a[0], a[1], a[2], a[3], a[4], a[5], 0.1f, 1e-5f), SHAPE, ft, y, a[2], a[3], a[4], a[5]);
        CHECK_ERROR_MENTIONS("one value per channel");
    }
    /* one value per channel: no batch statistics */
    REJECT(FT(one, y_one, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), SHAPE, ft, y_one, rm, rv, sm, si);
    CHECK_ERROR_MENTIONS("at least two");
    REJECT(FT(one4, one4, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), SHAPE, ft, one4, rm, rv, sm, si);
    /* scalars */
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, 0.0f), INVALID, ft, FT_OUT);
    CHECK_ERROR_MENTIONS("eps");
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, -1e-5f), INVALID, ft, FT_OUT);
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, fnan), INVALID, ft, FT_OUT);
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, finf), INVALID, ft, FT_OUT);
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, 1.5f, 1e-5f), INVALID, ft, FT_OUT);
    CHECK_ERROR_MENTIONS("momentum");
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, -0.1f, 1e-5f), INVALID, ft, FT_OUT);
    REJECT(FT(x, y, g, bt, rm, rv, sm, si, fnan, 1e-5f), INVALID, ft, FT_OUT);
    /* backends */
    REJECT(FT(x, y, g, bt, other, rv, sm, si, 0.1f, 1e-5f), OTHER_BE, ft, y, other, rv, sm, si);
    REJECT(FT(x, y, g, bt, rm, rv, sm, other, 0.1f, 1e-5f), OTHER_BE, ft, y, rm, rv, sm, other);
    CHECK_OK(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f));
    CHECK_OK(FT(x4, y4, g, bt, rm, rv, sm, si, 0.1f, 1e-5f));
    CHECK_OK(FT(x4, y4, g, bt, rm, rv, sm, si, 0.0f, 1e-5f));
    CHECK_OK(FT(x4, y4, g, bt, rm, rv, sm, si, 1.0f, 1e-5f));

    /* ---- evaluation forward: one value per channel is fine ---- */
    static const char fe[] = "batchnorm_forward_eval";
    REJECT(gantry_op_batchnorm_forward_eval(NULL, y, g, bt, rm, rv, 1e-5f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, NULL, g, bt, rm, rv, 1e-5f), INVALID, fe, NULL);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, NULL, bt, rm, rv, 1e-5f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, NULL, rm, rv, 1e-5f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, NULL, rv, 1e-5f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, rm, NULL, 1e-5f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y_small, g, bt, rm, rv, 1e-5f), SHAPE, fe, y_small);
    REJECT(gantry_op_batchnorm_forward_eval(x1, x1, g, bt, rm, rv, 1e-5f), SHAPE, fe, x1);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, wrong, bt, rm, rv, 1e-5f), SHAPE, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, wrong, rm, rv, 1e-5f), SHAPE, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, wrong, rv, 1e-5f), SHAPE, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, rm, wrong, 1e-5f), SHAPE, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, rm, rv, 0.0f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, rm, rv, -1.0f), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, bt, rm, rv, fnan), INVALID, fe, y);
    REJECT(gantry_op_batchnorm_forward_eval(x, y, g, other, rm, rv, 1e-5f), OTHER_BE, fe, y);
    CHECK_OK(gantry_op_batchnorm_forward_eval(x, y, g, bt, rm, rv, 1e-5f));
    CHECK_OK(gantry_op_batchnorm_forward_eval(one, y_one, g, bt, rm, rv, 1e-5f));
    CHECK_OK(gantry_op_batchnorm_forward_eval(x4, y4, g, bt, rm, rv, 1e-5f));

    /* ---- backward (of the training forward) ---- */
    static const char bw[] = "batchnorm_backward";
    gantry_tensor *dy = tnew(4, C, 0, 0), *dx = tnew(4, C, 0, 0), *dg = tnew(C, 0, 0, 0), *db = tnew(C, 0, 0, 0);
    REQUIRE(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f) == GANTRY_OK);
#define BW(X, DY, G, SM, SI, DX, DG, DB) gantry_op_batchnorm_backward(X, DY, G, SM, SI, DX, DG, DB, 1)
    REJECT(BW(NULL, dy, g, sm, si, dx, dg, db), INVALID, bw, dx, dg, db);
    REJECT(BW(x, NULL, g, sm, si, dx, dg, db), INVALID, bw, dx, dg, db);
    REJECT(BW(x, dy, NULL, sm, si, dx, dg, db), INVALID, bw, dx, dg, db);
    REJECT(BW(x, dy, g, NULL, si, dx, dg, db), INVALID, bw, dx, dg, db);
    REJECT(BW(x, dy, g, sm, NULL, dx, dg, db), INVALID, bw, dx, dg, db);
    REJECT(BW(x, dy, g, sm, si, NULL, dg, db), INVALID, bw, dg, db);
    REJECT(BW(x, dy, g, sm, si, dx, NULL, db), INVALID, bw, dx, db);
    CHECK_ERROR_MENTIONS("'dgamma'");
    REJECT(BW(x, dy, g, sm, si, dx, dg, NULL), INVALID, bw, dx, dg);
    REJECT(BW(x, y_small, g, sm, si, dx, dg, db), SHAPE, bw, dx, dg, db);
    REJECT(BW(x, dy, g, sm, si, y_small, dg, db), SHAPE, bw, y_small, dg, db);
    REJECT(BW(x1, x1, g, sm, si, dx, dg, db), SHAPE, bw, dx, dg, db);
    REJECT(BW(one, y_one, g, sm, si, y_one, dg, db), SHAPE, bw, y_one, dg, db);
    CHECK_ERROR_MENTIONS("at least two");
    for (int k = 0; k < 5; k++) {
        gantry_tensor *a[5] = { g, sm, si, dg, db };
        a[k] = wrong;
        REJECT(BW(x, dy, a[0], a[1], a[2], dx, a[3], a[4]), SHAPE, bw, dx, a[3], a[4]);
        CHECK_ERROR_MENTIONS("one value per channel");
    }
    REJECT(BW(x, dy, g, sm, si, dx, other, db), OTHER_BE, bw, dx, other, db);
    REJECT(gantry_op_batchnorm_backward(x, dy, g, sm, si, dx, dg, other, 0), OTHER_BE, bw, dx, dg, other);
    CHECK_OK(BW(x, dy, g, sm, si, dx, dg, db));
    CHECK_OK(gantry_op_batchnorm_backward(x, dy, g, sm, si, dx, dg, db, 0));

    /* ---- with an activation after it: the checks above, and the activation ---- */
    static const char fa[] = "batchnorm_act_forward_train", ba[] = "batchnorm_act_backward";
    const gantry_activation relu = GANTRY_ACT_RELU, leaky = GANTRY_ACT_LEAKY_RELU;
    REJECT(gantry_op_batchnorm_act_forward_train(relu, 0.0f, NULL, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), INVALID,
           fa, FT_OUT);
    REJECT(gantry_op_batchnorm_act_forward_train(relu, 0.0f, x, y, g, bt, rm, rv, sm, si, 1.5f, 1e-5f), INVALID, fa,
           FT_OUT);
    REJECT(gantry_op_batchnorm_act_forward_train(relu, 0.0f, one, y_one, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), SHAPE,
           fa, y_one, rm, rv, sm, si);
    REJECT(gantry_op_batchnorm_act_forward_train(GANTRY_ACT_TANH, 0.0f, x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f),
           INVALID, fa, FT_OUT);
    CHECK_ERROR_MENTIONS("LeakyReLU with a slope >= 0");
    REJECT(gantry_op_batchnorm_act_forward_train(leaky, -0.2f, x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), INVALID,
           fa, FT_OUT);
    REJECT(gantry_op_batchnorm_act_forward_train(leaky, fnan, x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f), INVALID, fa,
           FT_OUT);
    REJECT(gantry_op_batchnorm_act_forward_train(relu, 0.0f, x, y, g, bt, rm, rv, sm, other, 0.1f, 1e-5f), OTHER_BE,
           fa, y, rm, rv, sm, other);
    CHECK_OK(gantry_op_batchnorm_act_forward_train(relu, 0.0f, x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f));
    CHECK_OK(gantry_op_batchnorm_act_forward_train(leaky, 0.2f, x4, y4, g, bt, rm, rv, sm, si, 0.1f, 1e-5f));
    REQUIRE(FT(x, y, g, bt, rm, rv, sm, si, 0.1f, 1e-5f) == GANTRY_OK);
    REJECT(gantry_op_batchnorm_act_backward(relu, 0.0f, x, NULL, dy, g, sm, si, dx, dg, db, 1), INVALID, ba, dx, dg,
           db);
    CHECK_ERROR_MENTIONS("'y'");
    REJECT(gantry_op_batchnorm_act_backward(relu, 0.0f, x, y_small, dy, g, sm, si, dx, dg, db, 1), SHAPE, ba, dx, dg,
           db);
    REJECT(gantry_op_batchnorm_act_backward(relu, 0.0f, x, y, dy, g, sm, si, dx, dg, NULL, 1), INVALID, ba, dx, dg);
    REJECT(gantry_op_batchnorm_act_backward(relu, 0.0f, x, y, dy, wrong, sm, si, dx, dg, db, 1), SHAPE, ba, dx, dg,
           db);
    REJECT(gantry_op_batchnorm_act_backward(GANTRY_ACT_SIGMOID, 0.0f, x, y, dy, g, sm, si, dx, dg, db, 1), INVALID,
           ba, dx, dg, db);
    REJECT(gantry_op_batchnorm_act_backward(leaky, finf, x, y, dy, g, sm, si, dx, dg, db, 1), INVALID, ba, dx, dg,
           db);
    REJECT(gantry_op_batchnorm_act_backward(relu, 0.0f, x, y, dy, g, sm, si, dx, other, db, 1), OTHER_BE, ba, dx,
           other, db);
    CHECK_OK(gantry_op_batchnorm_act_backward(relu, 0.0f, x, y, dy, g, sm, si, dx, dg, db, 1));
    CHECK_OK(gantry_op_batchnorm_act_backward(leaky, 0.2f, x, y, dy, g, sm, si, dy, dg, db, 0)); /* dx = dy */
#undef FT
#undef FT_OUT
#undef BW

    gantry_tensor *t[] = { x, y, x4, y4, one, one4, y_one, x1, y_small, wrong, other, dy, dx, dg, db };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
    for (int i = 0; i < 6; i++)
        gantry_tensor_destroy(pc[i]);
}

static void test_elementwise(void)
{
    gantry_tensor *a = tnew(2, 3, 0, 0), *b = tnew(6, 0, 0, 0), *y = tnew(3, 2, 0, 0), *small = tnew(5, 0, 0, 0);
    gantry_tensor *other = tnew_on(be2, 2, 3, 0, 0), *out = tnew(1, 0, 0, 0);

    REJECT(gantry_op_add(NULL, b, y), INVALID, "add", y);
    REJECT(gantry_op_add(a, NULL, y), INVALID, "add", y);
    REJECT(gantry_op_add(a, b, NULL), INVALID, "add", NULL);
    REJECT(gantry_op_add(a, small, y), SHAPE, "add", y);
    REJECT(gantry_op_add(a, b, small), SHAPE, "add", small);
    REJECT(gantry_op_add(small, b, y), SHAPE, "add", y);
    REJECT(gantry_op_add(a, other, y), OTHER_BE, "add", y);
    REJECT(gantry_op_add(a, b, other), OTHER_BE, "add", other);
    CHECK_OK(gantry_op_add(a, b, y));

    REJECT(gantry_op_mul(NULL, b, y), INVALID, "mul", y);
    REJECT(gantry_op_mul(a, NULL, y), INVALID, "mul", y);
    REJECT(gantry_op_mul(a, b, NULL), INVALID, "mul", NULL);
    REJECT(gantry_op_mul(a, small, y), SHAPE, "mul", y);
    REJECT(gantry_op_mul(a, b, small), SHAPE, "mul", small);
    REJECT(gantry_op_mul(a, other, y), OTHER_BE, "mul", y);
    CHECK_OK(gantry_op_mul(a, b, y));

    REJECT(gantry_op_scale(NULL, 2.0f, y), INVALID, "scale", y);
    REJECT(gantry_op_scale(a, 2.0f, NULL), INVALID, "scale", NULL);
    REJECT(gantry_op_scale(a, 2.0f, small), SHAPE, "scale", small);
    REJECT(gantry_op_scale(a, fnan, y), INVALID, "scale", y);
    CHECK_ERROR_MENTIONS("alpha");
    REJECT(gantry_op_scale(a, -finf, y), INVALID, "scale", y);
    REJECT(gantry_op_scale(a, 2.0f, other), OTHER_BE, "scale", other);
    CHECK_OK(gantry_op_scale(a, 2.0f, y));

    REJECT(gantry_op_axpy(2.0f, NULL, y), INVALID, "axpy", y);
    REJECT(gantry_op_axpy(2.0f, a, NULL), INVALID, "axpy", NULL);
    REJECT(gantry_op_axpy(2.0f, a, small), SHAPE, "axpy", small);
    REJECT(gantry_op_axpy(2.0f, small, y), SHAPE, "axpy", y);
    REJECT(gantry_op_axpy(fnan, a, y), INVALID, "axpy", y);
    REJECT(gantry_op_axpy(finf, a, y), INVALID, "axpy", y);
    REJECT(gantry_op_axpy(2.0f, other, y), OTHER_BE, "axpy", y);
    CHECK_OK(gantry_op_axpy(2.0f, a, y));

    /* Reductions: any out with at least one element. */
    REJECT(gantry_op_sum(NULL, out), INVALID, "sum", out);
    REJECT(gantry_op_sum(a, NULL), INVALID, "sum", NULL);
    REJECT(gantry_op_sum(a, other), OTHER_BE, "sum", other);
    CHECK_OK(gantry_op_sum(a, out));
    CHECK_OK(gantry_op_sum(a, small));
    REJECT(gantry_op_mean(NULL, out), INVALID, "mean", out);
    REJECT(gantry_op_mean(a, NULL), INVALID, "mean", NULL);
    REJECT(gantry_op_mean(other, out), OTHER_BE, "mean", out);
    CHECK_OK(gantry_op_mean(a, out));

    gantry_tensor *t[] = { a, b, y, small, other, out };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

static void test_bce(void)
{
    gantry_tensor *x = tnew(8, 1, 0, 0), *dx = tnew(8, 0, 0, 0), *out = tnew(1, 0, 0, 0), *small = tnew(7, 0, 0, 0);
    gantry_tensor *other = tnew_on(be2, 1, 0, 0, 0);

    static const char fw[] = "bce_logits_forward";
    REJECT(gantry_op_bce_logits_forward(NULL, 1.0f, out), INVALID, fw, out);
    REJECT(gantry_op_bce_logits_forward(x, 1.0f, NULL), INVALID, fw, NULL);
    REJECT(gantry_op_bce_logits_forward(x, -0.1f, out), INVALID, fw, out);
    CHECK_ERROR_MENTIONS("target");
    REJECT(gantry_op_bce_logits_forward(x, 1.1f, out), INVALID, fw, out);
    REJECT(gantry_op_bce_logits_forward(x, fnan, out), INVALID, fw, out);
    REJECT(gantry_op_bce_logits_forward(x, 1.0f, other), OTHER_BE, fw, other);
    CHECK_OK(gantry_op_bce_logits_forward(x, 0.0f, out));
    CHECK_OK(gantry_op_bce_logits_forward(x, 1.0f, out));
    CHECK_OK(gantry_op_bce_logits_forward(x, 0.9f, out));

    static const char bw[] = "bce_logits_backward";
    REJECT(gantry_op_bce_logits_backward(NULL, 1.0f, 1.0f, dx), INVALID, bw, dx);
    REJECT(gantry_op_bce_logits_backward(x, 1.0f, 1.0f, NULL), INVALID, bw, NULL);
    REJECT(gantry_op_bce_logits_backward(x, 1.0f, 1.0f, small), SHAPE, bw, small);
    REJECT(gantry_op_bce_logits_backward(x, -0.5f, 1.0f, dx), INVALID, bw, dx);
    REJECT(gantry_op_bce_logits_backward(x, 2.0f, 1.0f, dx), INVALID, bw, dx);
    REJECT(gantry_op_bce_logits_backward(x, fnan, 1.0f, dx), INVALID, bw, dx);
    REJECT(gantry_op_bce_logits_backward(x, 1.0f, fnan, dx), INVALID, bw, dx);
    CHECK_ERROR_MENTIONS("scale");
    REJECT(gantry_op_bce_logits_backward(x, 1.0f, finf, dx), INVALID, bw, dx);
    REJECT(gantry_op_bce_logits_backward(other, 1.0f, 1.0f, dx), OTHER_BE, bw, dx);
    CHECK_OK(gantry_op_bce_logits_backward(x, 1.0f, -1.0f, dx));

    gantry_tensor *t[] = { x, dx, out, small, other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

static void test_optimizer_ops(void)
{
    gantry_tensor *p = tnew(2, 3, 0, 0), *g = tnew(6, 0, 0, 0), *m = tnew(2, 3, 0, 0), *v = tnew(2, 3, 0, 0);
    gantry_tensor *small = tnew(5, 0, 0, 0), *other = tnew_on(be2, 2, 3, 0, 0);

    /* ---- SGD ---- */
    static const char sgd[] = "sgd_update";
    REJECT(gantry_op_sgd_update(NULL, g, v, 0.1f, 0.9f, 0.0f), INVALID, sgd, v);
    REJECT(gantry_op_sgd_update(p, NULL, v, 0.1f, 0.9f, 0.0f), INVALID, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, g, NULL, 0.1f, 0.9f, 0.0f), INVALID, sgd, p); /* momentum needs v */
    CHECK_ERROR_MENTIONS("'v'");
    REJECT(gantry_op_sgd_update(NULL, g, NULL, 0.1f, 0.0f, 0.0f), INVALID, sgd, g);
    REJECT(gantry_op_sgd_update(p, NULL, NULL, 0.1f, 0.0f, 0.0f), INVALID, sgd, p);
    REJECT(gantry_op_sgd_update(p, small, v, 0.1f, 0.9f, 0.0f), SHAPE, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, small, NULL, 0.1f, 0.0f, 0.0f), SHAPE, sgd, p);
    REJECT(gantry_op_sgd_update(p, g, small, 0.1f, 0.9f, 0.0f), SHAPE, sgd, p, small);
    REJECT(gantry_op_sgd_update(p, g, v, -0.1f, 0.9f, 0.0f), INVALID, sgd, p, v);
    CHECK_ERROR_MENTIONS("learning rate");
    REJECT(gantry_op_sgd_update(p, g, v, fnan, 0.9f, 0.0f), INVALID, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, g, v, finf, 0.9f, 0.0f), INVALID, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, g, v, 0.1f, 1.5f, 0.0f), INVALID, sgd, p, v);
    CHECK_ERROR_MENTIONS("momentum");
    REJECT(gantry_op_sgd_update(p, g, v, 0.1f, -0.5f, 0.0f), INVALID, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, g, v, 0.1f, fnan, 0.0f), INVALID, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, g, v, 0.1f, 0.9f, -1e-4f), INVALID, sgd, p, v);
    CHECK_ERROR_MENTIONS("weight decay");
    REJECT(gantry_op_sgd_update(p, g, v, 0.1f, 0.9f, fnan), INVALID, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, other, v, 0.1f, 0.9f, 0.0f), OTHER_BE, sgd, p, v);
    REJECT(gantry_op_sgd_update(p, g, other, 0.1f, 0.9f, 0.0f), OTHER_BE, sgd, p, other);
    REJECT(gantry_op_sgd_update(p, g, other, 0.1f, 0.0f, 0.0f), OTHER_BE, sgd, p, other); /* unused v still checked */
    REJECT(gantry_op_sgd_update(p, other, NULL, 0.1f, 0.0f, 0.0f), OTHER_BE, sgd, p);
    CHECK_OK(gantry_op_sgd_update(p, g, NULL, 0.1f, 0.0f, 0.0f));
    CHECK_OK(gantry_op_sgd_update(p, g, v, 0.1f, 0.9f, 1e-4f));
    CHECK_OK(gantry_op_sgd_update(p, g, v, 0.0f, 0.0f, 0.0f));

    /* ---- Adam ---- */
    static const char adam[] = "adam_update";
#define ADAM(P, G, M, V, LR, B1, B2, EPS, WD, STEP) gantry_op_adam_update(P, G, M, V, LR, B1, B2, EPS, WD, STEP)
    REJECT(ADAM(NULL, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, m, v);
    REJECT(ADAM(p, NULL, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, NULL, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, v);
    REJECT(ADAM(p, g, m, NULL, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m);
    REJECT(ADAM(p, small, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), SHAPE, adam, p, m, v);
    REJECT(ADAM(p, g, small, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), SHAPE, adam, p, small, v);
    REJECT(ADAM(p, g, m, small, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), SHAPE, adam, p, m, small);
    REJECT(ADAM(p, g, m, v, -1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    CHECK_ERROR_MENTIONS("learning rate");
    REJECT(ADAM(p, g, m, v, fnan, 0.9f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    CHECK_ERROR_MENTIONS("betas");
    REJECT(ADAM(p, g, m, v, 1e-3f, -0.1f, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 1.0f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, -0.5f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, fnan, 0.999f, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, fnan, 1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, 0.0f, 0.0f, 1), INVALID, adam, p, m, v);
    CHECK_ERROR_MENTIONS("eps");
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, -1e-8f, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, fnan, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, finf, 0.0f, 1), INVALID, adam, p, m, v);
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, -0.01f, 1), INVALID, adam, p, m, v);
    CHECK_ERROR_MENTIONS("weight decay");
    REJECT(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0), INVALID, adam, p, m, v);
    CHECK_ERROR_MENTIONS("step");
    REJECT(ADAM(p, g, m, other, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), OTHER_BE, adam, p, m, other);
    REJECT(ADAM(p, other, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), OTHER_BE, adam, p, m, v);
    CHECK_OK(ADAM(p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
    CHECK_OK(ADAM(p, g, m, v, 1e-3f, 0.0f, 0.0f, 1e-8f, 0.01f, 2));
#undef ADAM

    /* ---- RMSProp ---- */
    static const char rms[] = "rmsprop_update";
    REJECT(gantry_op_rmsprop_update(NULL, g, v, 1e-2f, 0.99f, 1e-8f, 0.0f), INVALID, rms, v);
    REJECT(gantry_op_rmsprop_update(p, NULL, v, 1e-2f, 0.99f, 1e-8f, 0.0f), INVALID, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, NULL, 1e-2f, 0.99f, 1e-8f, 0.0f), INVALID, rms, p);
    CHECK_ERROR_MENTIONS("'sq'");
    REJECT(gantry_op_rmsprop_update(p, small, v, 1e-2f, 0.99f, 1e-8f, 0.0f), SHAPE, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, small, 1e-2f, 0.99f, 1e-8f, 0.0f), SHAPE, rms, p, small);
    REJECT(gantry_op_rmsprop_update(p, g, v, -1e-2f, 0.99f, 1e-8f, 0.0f), INVALID, rms, p, v);
    CHECK_ERROR_MENTIONS("learning rate");
    REJECT(gantry_op_rmsprop_update(p, g, v, finf, 0.99f, 1e-8f, 0.0f), INVALID, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, v, 1e-2f, 1.5f, 1e-8f, 0.0f), INVALID, rms, p, v);
    CHECK_ERROR_MENTIONS("alpha");
    REJECT(gantry_op_rmsprop_update(p, g, v, 1e-2f, -0.1f, 1e-8f, 0.0f), INVALID, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, v, 1e-2f, fnan, 1e-8f, 0.0f), INVALID, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, v, 1e-2f, 0.99f, 0.0f, 0.0f), INVALID, rms, p, v);
    CHECK_ERROR_MENTIONS("eps");
    REJECT(gantry_op_rmsprop_update(p, g, v, 1e-2f, 0.99f, fnan, 0.0f), INVALID, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, v, 1e-2f, 0.99f, 1e-8f, -1.0f), INVALID, rms, p, v);
    REJECT(gantry_op_rmsprop_update(p, g, other, 1e-2f, 0.99f, 1e-8f, 0.0f), OTHER_BE, rms, p, other);
    CHECK_OK(gantry_op_rmsprop_update(p, g, v, 1e-2f, 0.99f, 1e-8f, 0.0f));

    gantry_tensor *t[] = { p, g, m, v, small, other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

/* ---- conv ----------------------------------------------------------------- */

static void test_conv(void)
{
    /* 2 images of 3 x 5 x 4, kernel 3 x 2, stride 2 x 1, padding 1 x 0:
     * output 3 x 3, col [3*3*2, 2*3*3] = [18, 18]. */
    gantry_conv_geometry g = { .n = 2, .c = 3, .h = 5, .w = 4, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 0 };
    CHECK_OK(gantry_conv_geometry_finish(&g));
    CHECK(g.oh == 3 && g.ow == 3);
    gantry_tensor *x = tnew(2, 3, 5, 4), *col = tnew(18, 18, 0, 0), *small = tnew(18, 17, 0, 0);
    gantry_tensor *x_small = tnew(2, 3, 5, 3), *other = tnew_on(be2, 18, 18, 0, 0);

    gantry_conv_geometry bad = g;
    bad.kh = 0;
    CHECK_STATUS(gantry_conv_geometry_finish(&bad), INVALID);
    CHECK_ERROR_MENTIONS("must be positive");
    bad = g;
    bad.kw = 9; /* wider than the padded input */
    CHECK_STATUS(gantry_conv_geometry_finish(&bad), SHAPE);
    CHECK_ERROR_MENTIONS("does not fit");
    CHECK_STATUS(gantry_conv_geometry_finish(NULL), INVALID);

    REJECT(gantry_op_im2col(NULL, col, &g), INVALID, "im2col", col);
    REJECT(gantry_op_im2col(x, NULL, &g), INVALID, "im2col", NULL);
    REJECT(gantry_op_im2col(x, col, NULL), INVALID, "im2col", col);
    CHECK_ERROR_MENTIONS("geometry");
    REJECT(gantry_op_im2col(x, small, &g), SHAPE, "im2col", small);
    REJECT(gantry_op_im2col(x_small, col, &g), SHAPE, "im2col", col);
    bad = g;
    bad.oh = 4; /* not what the geometry gives */
    REJECT(gantry_op_im2col(x, col, &bad), INVALID, "im2col", col);
    CHECK_ERROR_MENTIONS("should be 3x3");
    REJECT(gantry_op_im2col(x, other, &g), OTHER_BE, "im2col", other);
    CHECK_OK(gantry_op_im2col(x, col, &g));

    for (int acc = 0; acc <= 1; acc++) {
        REJECT(gantry_op_col2im(NULL, x, &g, acc), INVALID, "col2im", x);
        REJECT(gantry_op_col2im(col, NULL, &g, acc), INVALID, "col2im", NULL);
        REJECT(gantry_op_col2im(col, x, NULL, acc), INVALID, "col2im", x);
        REJECT(gantry_op_col2im(small, x, &g, acc), SHAPE, "col2im", x);
        REJECT(gantry_op_col2im(col, x_small, &g, acc), SHAPE, "col2im", x_small);
        REJECT(gantry_op_col2im(other, x, &g, acc), OTHER_BE, "col2im", x);
        CHECK_OK(gantry_op_col2im(col, x, &g, acc));
    }

    /* swap_axes: x [a, b, inner] -> y [b, a, inner] */
    gantry_tensor *s = tnew(2, 3, 4, 0), *sy = tnew(3, 2, 4, 0), *s_small = tnew(23, 0, 0, 0);
    REJECT(gantry_op_swap_axes(NULL, sy, 2, 3, 4), INVALID, "swap_axes", sy);
    REJECT(gantry_op_swap_axes(s, NULL, 2, 3, 4), INVALID, "swap_axes", NULL);
    REJECT(gantry_op_swap_axes(s, s_small, 2, 3, 4), SHAPE, "swap_axes", s_small);
    REJECT(gantry_op_swap_axes(s, sy, 2, 3, 5), SHAPE, "swap_axes", sy);
    CHECK_ERROR_MENTIONS("does not match 24 elements");
    REJECT(gantry_op_swap_axes(s, sy, 0, 3, 4), SHAPE, "swap_axes", sy);
    REJECT(gantry_op_swap_axes(s, s, 2, 3, 4), INVALID, "swap_axes", NULL);
    CHECK_ERROR_MENTIONS("overlap");
    gantry_tensor *s_other = tnew_on(be2, 3, 2, 4, 0);
    REJECT(gantry_op_swap_axes(s, s_other, 2, 3, 4), OTHER_BE, "swap_axes", s_other);
    CHECK_OK(gantry_op_swap_axes(s, sy, 2, 3, 4));

    /* copy_rows: columns [1, 3) of x [4, 5] into columns [2, 4) of y [4, 6] */
    gantry_tensor *cx = tnew(4, 5, 0, 0), *cy = tnew(4, 6, 0, 0), *c_other = tnew_on(be2, 4, 6, 0, 0);
    REJECT(gantry_op_copy_rows(NULL, 5, 1, cy, 6, 2, 4, 2), INVALID, "copy_rows", cy);
    REJECT(gantry_op_copy_rows(cx, 5, 1, NULL, 6, 2, 4, 2), INVALID, "copy_rows", NULL);
    REJECT(gantry_op_copy_rows(cx, 5, 4, cy, 6, 2, 4, 2), SHAPE, "copy_rows", cy); /* past x's row */
    REJECT(gantry_op_copy_rows(cx, 5, 1, cy, 6, 5, 4, 2), SHAPE, "copy_rows", cy); /* past y's row */
    REJECT(gantry_op_copy_rows(cx, 5, 1, cy, 6, 2, 5, 2), SHAPE, "copy_rows", cy); /* five rows of four */
    CHECK_ERROR_MENTIONS("exceed");
    REJECT(gantry_op_copy_rows(cx, 5, 1, cy, 6, 2, 0, 2), SHAPE, "copy_rows", cy);
    REJECT(gantry_op_copy_rows(cy, 6, 0, cy, 6, 1, 4, 2), INVALID, "copy_rows", NULL);
    CHECK_ERROR_MENTIONS("overlap");
    REJECT(gantry_op_copy_rows(cx, 5, 1, c_other, 6, 2, 4, 2), OTHER_BE, "copy_rows", c_other);
    CHECK_OK(gantry_op_copy_rows(cx, 5, 1, cy, 6, 2, 4, 2));

    gantry_tensor *t[] = { x, col, small, x_small, other, s, sy, s_small, s_other, cx, cy, c_other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

/* ---- convolution ops (ABI version 3) ------------------------------------ */

static void test_conv_ops(void)
{
    /* test_conv's geometry with o = 4: x [2, 3, 5, 4], w [4, 3, 3, 2], y
     * [2, 4, 3, 3]; work (3*3*2 + 4) x 2*3*3 = 396 floats. */
    gantry_conv_geometry g = { .n = 2, .c = 3, .h = 5, .w = 4, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 0 };
    CHECK_OK(gantry_conv_geometry_finish(&g));
    gantry_tensor *x = tnew(2, 3, 5, 4), *w = tnew(4, 3, 3, 2), *y = tnew(2, 4, 3, 3), *work = tnew(396, 0, 0, 0);
    gantry_tensor *x_small = tnew(2, 3, 5, 3), *y_small = tnew(2, 4, 3, 2), *work_small = tnew(395, 0, 0, 0);
    gantry_tensor *w_odd = tnew(5, 3, 3, 1), *w5 = tnew(5, 3, 3, 2); /* 45 = no whole [out, 3, 3, 2]; o = 5 */
    gantry_tensor *w_other = tnew_on(be2, 4, 3, 3, 2), *y_other = tnew_on(be2, 2, 4, 3, 3);
    gantry_tensor *work_other = tnew_on(be2, 396, 0, 0, 0);
    gantry_conv_geometry bad = g;
    bad.oh = 4; /* not what the geometry gives */

    /* Views that overlap: the written tensor over an input or over work. */
    gantry_tensor *base = tnew(200, 0, 0, 0), *xv = NULL, *yv = NULL, *wv = NULL, *dyv = NULL;
    gantry_tensor *yw = NULL, *xw = NULL, *ww = NULL;
    REQUIRE(gantry_tensor_view(base, 0, 4, (size_t[]){ 2, 3, 5, 4 }, &xv) == GANTRY_OK);   /* [0, 120) */
    REQUIRE(gantry_tensor_view(base, 100, 4, (size_t[]){ 2, 4, 3, 3 }, &yv) == GANTRY_OK); /* [100, 172) */
    REQUIRE(gantry_tensor_view(base, 110, 4, (size_t[]){ 4, 3, 3, 2 }, &wv) == GANTRY_OK); /* [110, 182) */
    REQUIRE(gantry_tensor_view(base, 128, 4, (size_t[]){ 2, 4, 3, 3 }, &dyv) == GANTRY_OK); /* [128, 200) */
    REQUIRE(gantry_tensor_view(work, 324, 4, (size_t[]){ 2, 4, 3, 3 }, &yw) == GANTRY_OK);  /* work's tail */
    REQUIRE(gantry_tensor_view(work, 0, 4, (size_t[]){ 2, 3, 5, 4 }, &xw) == GANTRY_OK);    /* work's head */
    REQUIRE(gantry_tensor_view(work, 200, 4, (size_t[]){ 4, 3, 3, 2 }, &ww) == GANTRY_OK);  /* inside it */

    static const char f[] = "conv2d_forward";
    REJECT(gantry_op_conv2d_forward(NULL, w, y, &g, 0, work), INVALID, f, y, work);
    REJECT(gantry_op_conv2d_forward(x, NULL, y, &g, 0, work), INVALID, f, y, work);
    REJECT(gantry_op_conv2d_forward(x, w, NULL, &g, 0, work), INVALID, f, work);
    REJECT(gantry_op_conv2d_forward(x, w, y, &g, 0, NULL), INVALID, f, y);
    REJECT(gantry_op_conv2d_forward(x, w, y, NULL, 0, work), INVALID, f, y, work);
    CHECK_ERROR_MENTIONS("geometry");
    REJECT(gantry_op_conv2d_forward(x, w, y, &bad, 0, work), INVALID, f, y, work);
    CHECK_ERROR_MENTIONS("should be 3x3");
    REJECT(gantry_op_conv2d_forward(x_small, w, y, &g, 0, work), SHAPE, f, y, work);
    REJECT(gantry_op_conv2d_forward(x, w_odd, y, &g, 0, work), SHAPE, f, y, work);
    CHECK_ERROR_MENTIONS("weight tensor");
    REJECT(gantry_op_conv2d_forward(x, w5, y, &g, 0, work), SHAPE, f, y, work); /* y is not [2, 5, 3, 3] */
    REJECT(gantry_op_conv2d_forward(x, w, y_small, &g, 0, work), SHAPE, f, y_small, work);
    REJECT(gantry_op_conv2d_forward(x, w, y, &g, 0, work_small), SHAPE, f, y, work_small);
    CHECK_ERROR_MENTIONS("work tensor");
    REJECT(gantry_op_conv2d_forward(xv, w, yv, &g, 0, work), INVALID, f, base, work); /* y over x */
    CHECK_ERROR_MENTIONS("overlaps");
    REJECT(gantry_op_conv2d_forward(x, wv, yv, &g, 0, work), INVALID, f, base, work); /* y over w */
    REJECT(gantry_op_conv2d_forward(x, w, yw, &g, 0, work), INVALID, f, work); /* y inside work */
    REJECT(gantry_op_conv2d_forward(x, w_other, y, &g, 0, work), OTHER_BE, f, y, work);
    REJECT(gantry_op_conv2d_forward(x, w, y_other, &g, 0, work), OTHER_BE, f, y_other, work);
    CHECK_OK(gantry_op_conv2d_forward(x, w, y, &g, 0, work));

    static const char d[] = "conv2d_backward_data";
    REJECT(gantry_op_conv2d_backward_data(NULL, w, x, &g, 0, work), INVALID, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, NULL, x, &g, 0, work), INVALID, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, w, NULL, &g, 0, work), INVALID, d, work);
    REJECT(gantry_op_conv2d_backward_data(y, w, x, &g, 0, NULL), INVALID, d, x);
    REJECT(gantry_op_conv2d_backward_data(y, w, x, NULL, 0, work), INVALID, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, w, x, &bad, 0, work), INVALID, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y_small, w, x, &g, 0, work), SHAPE, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, w_odd, x, &g, 0, work), SHAPE, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, w5, x, &g, 0, work), SHAPE, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, w, x_small, &g, 0, work), SHAPE, d, x_small, work);
    REJECT(gantry_op_conv2d_backward_data(y, w, x, &g, 0, work_small), SHAPE, d, x, work_small);
    REJECT(gantry_op_conv2d_backward_data(yv, w, xv, &g, 0, work), INVALID, d, base, work); /* dx over dy */
    CHECK_ERROR_MENTIONS("overlaps");
    REJECT(gantry_op_conv2d_backward_data(y, w, xw, &g, 0, work), INVALID, d, work); /* dx inside work */
    REJECT(gantry_op_conv2d_backward_data(y_other, w, x, &g, 0, work), OTHER_BE, d, x, work);
    REJECT(gantry_op_conv2d_backward_data(y, w, x, &g, 0, work_other), OTHER_BE, d, x, work_other);
    CHECK_OK(gantry_op_conv2d_backward_data(y, w, x, &g, 0, work));

    static const char b[] = "conv2d_backward_weight";
    for (int acc = 0; acc <= 1; acc++) {
        REJECT(gantry_op_conv2d_backward_weight(NULL, y, w, &g, acc, work), INVALID, b, w, work);
        REJECT(gantry_op_conv2d_backward_weight(x, NULL, w, &g, acc, work), INVALID, b, w, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y, NULL, &g, acc, work), INVALID, b, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y, w, &g, acc, NULL), INVALID, b, w);
        REJECT(gantry_op_conv2d_backward_weight(x, y, w, NULL, acc, work), INVALID, b, w, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y, w, &bad, acc, work), INVALID, b, w, work);
        REJECT(gantry_op_conv2d_backward_weight(x_small, y, w, &g, acc, work), SHAPE, b, w, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y, w_odd, &g, acc, work), SHAPE, b, w_odd, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y, w5, &g, acc, work), SHAPE, b, w5, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y_small, w, &g, acc, work), SHAPE, b, w, work);
        REJECT(gantry_op_conv2d_backward_weight(x, y, w, &g, acc, work_small), SHAPE, b, w, work_small);
        REJECT(gantry_op_conv2d_backward_weight(x, yv, wv, &g, acc, work), INVALID, b, base, work); /* dw over dy */
        CHECK_ERROR_MENTIONS("overlaps");
        REJECT(gantry_op_conv2d_backward_weight(x, dyv, wv, &g, acc, work), INVALID, b, base, work); /* dy behind dw */
        REJECT(gantry_op_conv2d_backward_weight(x, y, ww, &g, acc, work), INVALID, b, work); /* dw inside work */
        REJECT(gantry_op_conv2d_backward_weight(x, y, w_other, &g, acc, work), OTHER_BE, b, w_other, work);
        CHECK_OK(gantry_op_conv2d_backward_weight(x, y, w, &g, acc, work));
    }

    gantry_tensor *t[] = { yw, xw, ww, dyv, wv, yv, xv, base, x, w, y, work, x_small, y_small, work_small, w_odd, w5,
                           w_other, y_other, work_other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

/* The output passed as the very tensor of an input: the overlap test must
 * not skip it for being the output.  A geometry where the weights and the
 * output side have one size (c kh kw = n oh ow = 9, o = 2), so no size
 * check catches it first. */
static void test_conv_ops_same_tensor(void)
{
    gantry_conv_geometry g = { .n = 1, .c = 1, .h = 3, .w = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1 };
    CHECK_OK(gantry_conv_geometry_finish(&g));
    gantry_tensor *x = tnew(1, 1, 3, 3), *w = tnew(2, 1, 3, 3), *y = tnew(1, 2, 3, 3), *work = tnew(99, 0, 0, 0);
    REJECT(gantry_op_conv2d_forward(x, w, w, &g, 0, work), INVALID, "conv2d_forward", w, work);
    REJECT(gantry_op_conv2d_backward_weight(x, y, y, &g, 0, work), INVALID, "conv2d_backward_weight", y, work);
    gantry_tensor *x2 = tnew(1, 2, 3, 3); /* c = 2 for backward_data: dx and dy both 18 */
    gantry_conv_geometry g2 = g;
    g2.c = 2;
    gantry_tensor *w2 = tnew(2, 2, 3, 3), *work2 = tnew(180, 0, 0, 0);
    REJECT(gantry_op_conv2d_backward_data(x2, w2, x2, &g2, 0, work2), INVALID, "conv2d_backward_data", x2, work2);
    CHECK_OK(gantry_op_conv2d_forward(x, w, y, &g, 0, work));
    gantry_tensor *t[] = { x, w, y, work, x2, w2, work2 };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

/* ---- losses beyond BCE ------------------------------------------------------- */

static void test_losses(void)
{
    gantry_tensor *x = tnew(4, 5, 0, 0), *t = tnew(20, 0, 0, 0), *dx = tnew(4, 5, 0, 0), *out = tnew(1, 0, 0, 0);
    gantry_tensor *small = tnew(19, 0, 0, 0), *x1 = tnew(20, 0, 0, 0), *x3 = tnew(4, 5, 1, 0);
    gantry_tensor *rows = tnew(4, 0, 0, 0), *rows3 = tnew(3, 0, 0, 0), *other = tnew_on(be2, 4, 5, 0, 0);

    for (int kind = GANTRY_LOSS_MSE; kind <= GANTRY_LOSS_L1; kind++) {
        gantry_loss_kind k = (gantry_loss_kind)kind;
        static const char rf[] = "regression_loss_forward", rb[] = "regression_loss_backward";
        REJECT(gantry_op_regression_loss_forward(k, NULL, t, out), INVALID, rf, out);
        REJECT(gantry_op_regression_loss_forward(k, x, NULL, out), INVALID, rf, out);
        REJECT(gantry_op_regression_loss_forward(k, x, t, NULL), INVALID, rf, NULL);
        REJECT(gantry_op_regression_loss_forward(k, x, small, out), SHAPE, rf, out);
        REJECT(gantry_op_regression_loss_forward(k, x, t, other), OTHER_BE, rf, other);
        CHECK_OK(gantry_op_regression_loss_forward(k, x, t, out));

        REJECT(gantry_op_regression_loss_backward(k, NULL, t, 1.0f, dx), INVALID, rb, dx);
        REJECT(gantry_op_regression_loss_backward(k, x, NULL, 1.0f, dx), INVALID, rb, dx);
        REJECT(gantry_op_regression_loss_backward(k, x, t, 1.0f, NULL), INVALID, rb, NULL);
        REJECT(gantry_op_regression_loss_backward(k, x, small, 1.0f, dx), SHAPE, rb, dx);
        REJECT(gantry_op_regression_loss_backward(k, x, t, 1.0f, small), SHAPE, rb, small);
        REJECT(gantry_op_regression_loss_backward(k, x, t, fnan, dx), INVALID, rb, dx);
        CHECK_ERROR_MENTIONS("scale");
        REJECT(gantry_op_regression_loss_backward(k, x, t, finf, dx), INVALID, rb, dx);
        REJECT(gantry_op_regression_loss_backward(k, x, t, 1.0f, other), OTHER_BE, rb, other);
        CHECK_OK(gantry_op_regression_loss_backward(k, x, t, -0.5f, dx));
    }
    REJECT(gantry_op_regression_loss_forward((gantry_loss_kind)2, x, t, out), INVALID, "regression_loss_forward", out);
    CHECK_ERROR_MENTIONS("unknown loss kind 2");
    REJECT(gantry_op_regression_loss_backward((gantry_loss_kind)-1, x, t, 1.0f, dx), INVALID,
           "regression_loss_backward", dx);

    static const char sf[] = "softmax_ce_forward", sb[] = "softmax_ce_backward";
    REJECT(gantry_op_softmax_ce_forward(NULL, t, out), INVALID, sf, out);
    REJECT(gantry_op_softmax_ce_forward(x, NULL, out), INVALID, sf, out);
    REJECT(gantry_op_softmax_ce_forward(x, t, NULL), INVALID, sf, NULL);
    REJECT(gantry_op_softmax_ce_forward(x1, t, out), SHAPE, sf, out);
    CHECK_ERROR_MENTIONS("[rows, classes]");
    REJECT(gantry_op_softmax_ce_forward(x3, t, out), SHAPE, sf, out);
    REJECT(gantry_op_softmax_ce_forward(x, small, out), SHAPE, sf, out);
    REJECT(gantry_op_softmax_ce_forward(other, t, out), OTHER_BE, sf, out);
    CHECK_OK(gantry_op_softmax_ce_forward(x, t, out));

    REJECT(gantry_op_softmax_ce_backward(NULL, t, 1.0f, dx), INVALID, sb, dx);
    REJECT(gantry_op_softmax_ce_backward(x, NULL, 1.0f, dx), INVALID, sb, dx);
    REJECT(gantry_op_softmax_ce_backward(x, t, 1.0f, NULL), INVALID, sb, NULL);
    REJECT(gantry_op_softmax_ce_backward(x1, t, 1.0f, dx), SHAPE, sb, dx);
    REJECT(gantry_op_softmax_ce_backward(x, small, 1.0f, dx), SHAPE, sb, dx);
    REJECT(gantry_op_softmax_ce_backward(x, t, 1.0f, small), SHAPE, sb, small);
    REJECT(gantry_op_softmax_ce_backward(x, t, fnan, dx), INVALID, sb, dx);
    REJECT(gantry_op_softmax_ce_backward(x, t, 1.0f, other), OTHER_BE, sb, other);
    CHECK_OK(gantry_op_softmax_ce_backward(x, t, 2.0f, dx));

    static const char lf[] = "logsumexp_forward", lb[] = "logsumexp_backward";
    REJECT(gantry_op_logsumexp_forward(NULL, rows), INVALID, lf, rows);
    REJECT(gantry_op_logsumexp_forward(x, NULL), INVALID, lf, NULL);
    REJECT(gantry_op_logsumexp_forward(x1, rows), SHAPE, lf, rows);
    REJECT(gantry_op_logsumexp_forward(x, rows3), SHAPE, lf, rows3);
    CHECK_ERROR_MENTIONS("one value per row (4)");
    REJECT(gantry_op_logsumexp_forward(other, rows), OTHER_BE, lf, rows);
    CHECK_OK(gantry_op_logsumexp_forward(x, rows));

    REJECT(gantry_op_logsumexp_backward(NULL, rows, dx), INVALID, lb, dx);
    REJECT(gantry_op_logsumexp_backward(x, NULL, dx), INVALID, lb, dx);
    REJECT(gantry_op_logsumexp_backward(x, rows, NULL), INVALID, lb, NULL);
    REJECT(gantry_op_logsumexp_backward(x3, rows, dx), SHAPE, lb, dx);
    REJECT(gantry_op_logsumexp_backward(x, rows3, dx), SHAPE, lb, dx);
    REJECT(gantry_op_logsumexp_backward(x, rows, small), SHAPE, lb, small);
    REJECT(gantry_op_logsumexp_backward(x, rows, other), OTHER_BE, lb, other);
    CHECK_OK(gantry_op_logsumexp_backward(x, rows, dx));

    gantry_tensor *all[] = { x, t, dx, out, small, x1, x3, rows, rows3, other };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- dropout and minibatch discrimination ------------------------------------ */

static void test_dropout_mbd(void)
{
    gantry_tensor *mask = tnew(3, 4, 0, 0);
    static const char dm[] = "dropout_mask";
    REJECT(gantry_op_dropout_mask(NULL, 0.5f, 1, 0), INVALID, dm, mask);
    REJECT(gantry_op_dropout_mask(mask, 1.0f, 1, 0), INVALID, dm, mask);
    CHECK_ERROR_MENTIONS("outside [0, 1)");
    REJECT(gantry_op_dropout_mask(mask, -0.1f, 1, 0), INVALID, dm, mask);
    REJECT(gantry_op_dropout_mask(mask, fnan, 1, 0), INVALID, dm, mask);
    CHECK_OK(gantry_op_dropout_mask(mask, 0.0f, 1, 0));
    CHECK_OK(gantry_op_dropout_mask(mask, 0.5f, 7, 3));

    /* m [n, b, c] = [4, 3, 2]; o, dout [4, 3] */
    gantry_tensor *m = tnew(4, 3, 2, 0), *o = tnew(4, 3, 0, 0), *dmm = tnew(24, 0, 0, 0), *m2 = tnew(4, 6, 0, 0);
    gantry_tensor *o_small = tnew(11, 0, 0, 0), *dm_small = tnew(23, 0, 0, 0), *other = tnew_on(be2, 4, 3, 0, 0);
    static const char mf[] = "minibatch_disc_forward", mb[] = "minibatch_disc_backward";
    REJECT(gantry_op_minibatch_disc_forward(NULL, o), INVALID, mf, o);
    REJECT(gantry_op_minibatch_disc_forward(m, NULL), INVALID, mf, NULL);
    REJECT(gantry_op_minibatch_disc_forward(m2, o), SHAPE, mf, o);
    CHECK_ERROR_MENTIONS("[n, kernels, dims]");
    REJECT(gantry_op_minibatch_disc_forward(m, o_small), SHAPE, mf, o_small);
    REJECT(gantry_op_minibatch_disc_forward(m, other), OTHER_BE, mf, other);
    CHECK_OK(gantry_op_minibatch_disc_forward(m, o));

    REJECT(gantry_op_minibatch_disc_backward(NULL, o, dmm), INVALID, mb, dmm);
    REJECT(gantry_op_minibatch_disc_backward(m, NULL, dmm), INVALID, mb, dmm);
    REJECT(gantry_op_minibatch_disc_backward(m, o, NULL), INVALID, mb, NULL);
    REJECT(gantry_op_minibatch_disc_backward(m2, o, dmm), SHAPE, mb, dmm);
    REJECT(gantry_op_minibatch_disc_backward(m, o_small, dmm), SHAPE, mb, dmm);
    REJECT(gantry_op_minibatch_disc_backward(m, o, dm_small), SHAPE, mb, dm_small);
    REJECT(gantry_op_minibatch_disc_backward(m, other, dmm), OTHER_BE, mb, dmm);
    CHECK_OK(gantry_op_minibatch_disc_backward(m, o, dmm));

    gantry_tensor *t[] = { mask, m, o, dmm, m2, o_small, dm_small, other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

/* ---- batch norm with given statistics, virtual batch norm -------------------- */

static void test_frozen_and_virtual_batchnorm(void)
{
    enum { N = 2, C = 3 };
    gantry_tensor *x = tnew(N, C, 2, 2), *y = tnew(N, C, 2, 2), *dx = tnew(N, C, 2, 2), *x1 = tnew(N * C * 4, 0, 0, 0);
    gantry_tensor *y_small = tnew(N * C * 4 - 1, 0, 0, 0), *wrong = tnew(C + 1, 0, 0, 0);
    gantry_tensor *pc[6]; /* gamma, beta, mean, invstd, dgamma, dbeta */
    for (int i = 0; i < 6; i++)
        pc[i] = tnew(C, 0, 0, 0);
    gantry_tensor *g = pc[0], *bt = pc[1], *mu = pc[2], *is = pc[3], *dg = pc[4], *db = pc[5];
    gantry_tensor *pe[2] = { tnew(N, C, 0, 0), tnew(N * C, 0, 0, 0) }; /* per example: save_mean, save_invstd */
    gantry_tensor *other = tnew_on(be2, C, 0, 0, 0);

    static const char ff[] = "batchnorm_forward_frozen";
    REJECT(gantry_op_batchnorm_forward_frozen(NULL, y, g, bt, mu, is), INVALID, ff, y);
    REJECT(gantry_op_batchnorm_forward_frozen(x, NULL, g, bt, mu, is), INVALID, ff, NULL);
    REJECT(gantry_op_batchnorm_forward_frozen(x, y, g, bt, NULL, is), INVALID, ff, y);
    CHECK_ERROR_MENTIONS("'mean'");
    REJECT(gantry_op_batchnorm_forward_frozen(x1, y, g, bt, mu, is), SHAPE, ff, y);
    REJECT(gantry_op_batchnorm_forward_frozen(x, y_small, g, bt, mu, is), SHAPE, ff, y_small);
    REJECT(gantry_op_batchnorm_forward_frozen(x, y, wrong, bt, mu, is), SHAPE, ff, y);
    CHECK_ERROR_MENTIONS("one value per channel (3)");
    REJECT(gantry_op_batchnorm_forward_frozen(x, y, g, bt, mu, wrong), SHAPE, ff, y);
    REJECT(gantry_op_batchnorm_forward_frozen(x, y, g, bt, other, is), OTHER_BE, ff, y);
    CHECK_OK(gantry_op_batchnorm_forward_frozen(x, y, g, bt, mu, is));

    static const char fb[] = "batchnorm_backward_frozen";
    for (int acc = 0; acc <= 1; acc++) {
        REJECT(gantry_op_batchnorm_backward_frozen(NULL, y, g, mu, is, dx, dg, db, acc), INVALID, fb, dx, dg, db);
        REJECT(gantry_op_batchnorm_backward_frozen(x, y, g, mu, is, NULL, dg, db, acc), INVALID, fb, dg, db);
        REJECT(gantry_op_batchnorm_backward_frozen(x, y, g, mu, is, dx, NULL, db, acc), INVALID, fb, dx, db);
        REJECT(gantry_op_batchnorm_backward_frozen(x, y_small, g, mu, is, dx, dg, db, acc), SHAPE, fb, dx, dg, db);
        REJECT(gantry_op_batchnorm_backward_frozen(x, y, g, mu, is, y_small, dg, db, acc), SHAPE, fb, y_small, dg, db);
        REJECT(gantry_op_batchnorm_backward_frozen(x, y, g, mu, is, dx, wrong, db, acc), SHAPE, fb, dx, wrong, db);
        REJECT(gantry_op_batchnorm_backward_frozen(x, y, g, mu, is, dx, dg, other, acc), OTHER_BE, fb, dx, dg,
               other);
        CHECK_OK(gantry_op_batchnorm_backward_frozen(x, y, g, mu, is, dx, dg, db, acc));
    }

    static const char vf[] = "vbn_forward";
    gantry_tensor *sm = pe[0], *si = pe[1];
    REJECT(gantry_op_vbn_forward(NULL, y, g, bt, mu, is, 8, sm, si, 1e-5f), INVALID, vf, y, sm, si);
    REJECT(gantry_op_vbn_forward(x, y, g, bt, mu, is, 8, NULL, si, 1e-5f), INVALID, vf, y, si);
    CHECK_ERROR_MENTIONS("'save_mean'");
    REJECT(gantry_op_vbn_forward(x, y, g, bt, mu, is, 0, sm, si, 1e-5f), INVALID, vf, y, sm, si);
    CHECK_ERROR_MENTIONS("reference batch is empty");
    REJECT(gantry_op_vbn_forward(x, y, g, bt, mu, is, 8, sm, si, 0.0f), INVALID, vf, y, sm, si);
    CHECK_ERROR_MENTIONS("eps");
    REJECT(gantry_op_vbn_forward(x, y, g, bt, mu, is, 8, sm, si, fnan), INVALID, vf, y, sm, si);
    REJECT(gantry_op_vbn_forward(x1, y, g, bt, mu, is, 8, sm, si, 1e-5f), SHAPE, vf, y, sm, si);
    REJECT(gantry_op_vbn_forward(x, y, g, bt, wrong, is, 8, sm, si, 1e-5f), SHAPE, vf, y, sm, si);
    REJECT(gantry_op_vbn_forward(x, y, g, bt, mu, is, 8, wrong, si, 1e-5f), SHAPE, vf, y, wrong, si);
    CHECK_ERROR_MENTIONS("one value per example and channel (6)");
    REJECT(gantry_op_vbn_forward(x, y, g, other, mu, is, 8, sm, si, 1e-5f), OTHER_BE, vf, y, sm, si);
    CHECK_OK(gantry_op_vbn_forward(x, y, g, bt, mu, is, 8, sm, si, 1e-5f));

    static const char vb[] = "vbn_backward";
    for (int acc = 0; acc <= 1; acc++) {
        REJECT(gantry_op_vbn_backward(NULL, y, g, sm, si, 8, dx, dg, db, acc), INVALID, vb, dx, dg, db);
        REJECT(gantry_op_vbn_backward(x, y, g, sm, NULL, 8, dx, dg, db, acc), INVALID, vb, dx, dg, db);
        REJECT(gantry_op_vbn_backward(x, y, g, sm, si, 0, dx, dg, db, acc), INVALID, vb, dx, dg, db);
        REJECT(gantry_op_vbn_backward(x, y, g, sm, si, 8, y_small, dg, db, acc), SHAPE, vb, y_small, dg, db);
        REJECT(gantry_op_vbn_backward(x, y, g, wrong, si, 8, dx, dg, db, acc), SHAPE, vb, dx, dg, db);
        REJECT(gantry_op_vbn_backward(x, y, g, sm, si, 8, dx, dg, wrong, acc), SHAPE, vb, dx, dg, wrong);
        REJECT(gantry_op_vbn_backward(x, y, other, sm, si, 8, dx, dg, db, acc), OTHER_BE, vb, dx, dg, db);
        CHECK_OK(gantry_op_vbn_backward(x, y, g, sm, si, 8, dx, dg, db, acc));
    }

    gantry_tensor *t[] = { x, y, dx, x1, y_small, wrong, g, bt, mu, is, dg, db, sm, si, other };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        gantry_tensor_destroy(t[i]);
}

/* Every op of the backend list has rejection cases above; the memory family
 * is validated through the tensor functions (test_tensor_transfers). */
static void test_every_op_covered(void)
{
#define REQUIRE_COVERED(name, family)                                                                   \
    if (strcmp(#family, "memory") != 0) {                                                               \
        int found_ = 0;                                                                                 \
        for (size_t i_ = 0; i_ < rejected_count; i_++)                                                  \
            found_ |= strcmp(rejected_ops[i_], #name) == 0;                                             \
        if (!found_) {                                                                                  \
            test_failures++;                                                                            \
            fprintf(stderr, "op '%s' (%s) has no validation cases in this test\n", #name, #family);     \
        }                                                                                               \
        test_checks++;                                                                                  \
    }
    GANTRY_BACKEND_OPS(REQUIRE_COVERED)
#undef REQUIRE_COVERED
}

/* Views are tensors too: a view of the right size passes, and a view on
 * another backend is still caught. */
static void test_views_in_ops(void)
{
    gantry_tensor *base = tnew(4, 6, 0, 0), *base2 = tnew_on(be2, 24, 0, 0, 0), *v1 = NULL, *v2 = NULL, *vo = NULL;
    size_t s23[2] = { 2, 3 };
    REQUIRE(gantry_tensor_view(base, 0, 2, s23, &v1) == GANTRY_OK);
    REQUIRE(gantry_tensor_view(base, 12, 2, s23, &v2) == GANTRY_OK);
    REQUIRE(gantry_tensor_view(base2, 6, 2, s23, &vo) == GANTRY_OK);
    CHECK_OK(gantry_op_add(v1, v1, v2));
    REJECT(gantry_op_add(v1, vo, v2), OTHER_BE, "add", v2);
    REJECT(gantry_op_add(v1, v1, base), SHAPE, "add", base);
    gantry_tensor_destroy(v1);
    gantry_tensor_destroy(v2);
    gantry_tensor_destroy(vo);
    gantry_tensor_destroy(base);
    gantry_tensor_destroy(base2);
}

int main(void)
{
    REQUIRE(gantry_backend_open("reference", NULL, &be) == GANTRY_OK);
    REQUIRE(gantry_backend_open("reference", NULL, &be2) == GANTRY_OK);
    REQUIRE(be != be2);

    test_tensor_create();
    test_tensor_view_reshape();
    test_tensor_transfers();
    test_gemm();
    test_fill_clamp_rand();
    test_bias();
    test_activation();
    test_batchnorm();
    test_elementwise();
    test_bce();
    test_optimizer_ops();
    test_conv();
    test_conv_ops();
    test_conv_ops_same_tensor();
    test_losses();
    test_dropout_mbd();
    test_frozen_and_virtual_batchnorm();
    test_views_in_ops();
    test_every_op_covered();

    gantry_backend_close(be2);
    gantry_backend_close(be);
    return test_finish("test_validation");
}
