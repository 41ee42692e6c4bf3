/* The reference backend against hand-computed results.
 *
 * Every expected number below was worked out by hand (or by the plain
 * arithmetic shown next to it) and is written as a literal, so this test
 * checks the oracle itself rather than comparing it with another backend.
 * Everything goes through the public core API (gantry_backend_open,
 * gantry_tensor_*, gantry_op_*), except for a few checks of the module's
 * ABI table (probe, describe, zero-byte and failing allocations) that open
 * the module directly. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/backend.h"
#include "gantry/ops.h"
#include "gantry/philox.h"
#include "gantry/tensor.h"
#include "tests/test.h"

static gantry_backend *be;

/* ---- helpers ------------------------------------------------------------ */

/* A tensor of shape (d0, d1, d2, d3) holding `data` (NULL: left as is). */
static gantry_tensor *tnew(const float *data, size_t d0, size_t d1, size_t d2, size_t d3)
{
    gantry_tensor *t = NULL;
    REQUIRE(gantry_tensor_new(be, &t, d0, d1, d2, d3) == GANTRY_OK);
    if (data)
        REQUIRE(gantry_tensor_write(t, data, gantry_tensor_numel(t)) == GANTRY_OK);
    return t;
}

static void tget(const gantry_tensor *t, float *out)
{
    REQUIRE(gantry_tensor_read(t, out, gantry_tensor_numel(t)) == GANTRY_OK);
}

/* Compares got[0..n) with want[0..n): |got - want| <= tol * (1 + |want|);
 * NaN is expected exactly where want is NaN. */
static void check_array_at(const char *what, int line, const float *got, const float *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int ok = isnan(w) ? isnan(g) : (!isnan(g) && fabs(g - w) <= tol * (1.0 + fabs(w)));
        test_checks++;
        if (!ok) {
            test_failures++;
            fprintf(stderr, "%s:%d: %s[%zu] = %.9g, expected %.9g (tol %g)\n", __FILE__, line, what, i, g, w,
                    tol);
        }
    }
}

#define CHECK_ARRAY(got, want, n, tol) check_array_at(#got, __LINE__, (got), (want), (n), (tol))

/* Reads tensor t and compares it with the literal list that follows. */
#define CHECK_TENSOR(t, tol, ...)                                                                       \
    do {                                                                                                \
        const float want_[] = { __VA_ARGS__ };                                                          \
        size_t n_ = sizeof want_ / sizeof *want_;                                                       \
        float got_[64];                                                                                 \
        REQUIRE(gantry_tensor_numel(t) == n_ && n_ <= 64);                                              \
        tget((t), got_);                                                                                \
        check_array_at(#t, __LINE__, got_, want_, n_, (tol));                                           \
    } while (0)

#define TOL 1e-6

/* ---- the module itself -------------------------------------------------- */

static void test_module(void)
{
    CHECK(strcmp(gantry_backend_name(be), "reference") == 0);
    CHECK_OK(gantry_backend_synchronize(be));

    gantry_backend_info *infos = NULL;
    size_t count = 0;
    CHECK_OK(gantry_backend_scan(&infos, &count));
    const gantry_backend_info *ref = NULL;
    for (size_t i = 0; i < count; i++)
        if (strcmp(infos[i].name, "reference") == 0)
            ref = &infos[i];
    REQUIRE(ref != NULL);
    CHECK(ref->usable);
    CHECK(ref->score == 10);
    CHECK(ref->abi_version == GANTRY_BACKEND_ABI_VERSION);
    CHECK(ref->description[0] != '\0');
    CHECK(strstr(ref->devices, "float64") != NULL);

    /* The raw table: what the core cannot reach through tensors. */
    void *handle = dlopen(ref->path, RTLD_NOW | RTLD_LOCAL);
    REQUIRE(handle != NULL);
    void *sym = dlsym(handle, GANTRY_BACKEND_ENTRY_SYMBOL);
    REQUIRE(sym != NULL);
    gantry_backend_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const gantry_backend_ops *ops = entry();
    REQUIRE(ops != NULL);
    CHECK(ops->abi_version == GANTRY_BACKEND_ABI_VERSION);
    CHECK(ops->struct_size == sizeof(gantry_backend_ops));
    CHECK(strcmp(ops->name, "reference") == 0);
    CHECK(dlsym(handle, "ref_ops") == NULL); /* everything but the entry is hidden */
    CHECK(dlsym(handle, "ref_gemm") == NULL);

    /* Every method is present: the module functions and the list's ops. */
    CHECK(ops->probe && ops->describe && ops->create && ops->destroy);
#define CHECK_PRESENT(name, family)                                                                     \
    if (!ops->name) {                                                                                   \
        test_failures++;                                                                                \
        fprintf(stderr, "reference: method '%s' (%s) is NULL\n", #name, #family);                      \
    }                                                                                                   \
    test_checks++;
    GANTRY_BACKEND_OPS(CHECK_PRESENT)
#undef CHECK_PRESENT

    gantry_host host = { GANTRY_BACKEND_ABI_VERSION, sizeof host, gantry_set_error, NULL };
    gantry_backend_options opts = { .struct_size = sizeof opts, .host = &host };
    char why[64] = "x";
    CHECK(ops->probe(&opts, why, sizeof why) == 10);
    char desc[256] = "";
    ops->describe(&opts, desc, sizeof desc);
    CHECK(strstr(desc, "single thread") != NULL);

    void *ctx = NULL;
    CHECK_OK(ops->create(&opts, &ctx));
    REQUIRE(ctx != NULL);
    void *buf = NULL;
    CHECK_OK(ops->buffer_alloc(ctx, 0, &buf)); /* zero bytes: still a valid buffer */
    CHECK(buf != NULL);
    ops->buffer_free(ctx, buf);

    /* Byte offsets in write/read/copy; float offsets in gantry_mem. */
    CHECK_OK(ops->buffer_alloc(ctx, 8 * sizeof(float), &buf));
    const float src[4] = { 1, 2, 3, 4 };
    float dst[8];
    CHECK_OK(ops->fill(ctx, (gantry_mem){ buf, 0 }, 8, -1.0f));
    CHECK_OK(ops->buffer_write(ctx, buf, 2 * sizeof(float), src, sizeof src));
    CHECK_OK(ops->buffer_copy(ctx, buf, 5 * sizeof(float), buf, 2 * sizeof(float), 3 * sizeof(float)));
    CHECK_OK(ops->buffer_read(ctx, buf, 0, dst, sizeof dst));
    const float want_copy[8] = { -1, -1, 1, 2, 3, 1, 2, 3 }; /* overlapping copy */
    CHECK_ARRAY(dst, want_copy, 8, 0.0);
    CHECK_OK(ops->fill(ctx, (gantry_mem){ buf, 6 }, 2, 7.0f));
    CHECK_OK(ops->buffer_read(ctx, buf, 4 * sizeof(float), dst, 4 * sizeof(float)));
    const float want_fill[4] = { 3, 1, 7, 7 };
    CHECK_ARRAY(dst, want_fill, 4, 0.0);
    CHECK_OK(ops->synchronize(ctx));
    ops->buffer_free(ctx, buf);

#if defined(__SANITIZE_ADDRESS__)
#define REF_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REF_TEST_ASAN 1
#endif
#endif
#ifndef REF_TEST_ASAN
    /* An impossible allocation fails cleanly with a message (AddressSanitizer
     * would report it as an error instead, so this part is skipped there). */
    gantry_clear_error();
    buf = NULL;
    CHECK_STATUS(ops->buffer_alloc(ctx, SIZE_MAX - 4096, &buf), GANTRY_OUT_OF_MEMORY);
    CHECK_ERROR_MENTIONS("reference");
    CHECK_ERROR_MENTIONS("buffer_alloc");
#endif

    ops->destroy(ctx);
    dlclose(handle);
    free(infos);
}

/* ---- gemm --------------------------------------------------------------- */

static void test_gemm(void)
{
    /* A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12]
     * A B = [1*7+2*9+3*11  1*8+2*10+3*12; 4*7+5*9+6*11  4*8+5*10+6*12]
     *     = [58 64; 139 154] */
    const float a[6] = { 1, 2, 3, 4, 5, 6 };
    const float at[6] = { 1, 4, 2, 5, 3, 6 }; /* A stored transposed, 3 x 2 */
    const float b[6] = { 7, 8, 9, 10, 11, 12 };
    const float bt[6] = { 7, 9, 11, 8, 10, 12 }; /* B stored transposed, 2 x 3 */
    const float c0[4] = { 1, 2, 3, 4 };
    const float nan4[4] = { NAN, NAN, NAN, NAN };

    gantry_tensor *ta = tnew(a, 2, 3, 0, 0), *tat = tnew(at, 3, 2, 0, 0);
    gantry_tensor *tb = tnew(b, 3, 2, 0, 0), *tbt = tnew(bt, 2, 3, 0, 0);
    gantry_tensor *tc = tnew(NULL, 2, 2, 0, 0);

    for (int trans_a = 0; trans_a <= 1; trans_a++) {
        for (int trans_b = 0; trans_b <= 1; trans_b++) {
            const gantry_tensor *pa = trans_a ? tat : ta;
            const gantry_tensor *pb = trans_b ? tbt : tb;
            /* beta = 0 over NaN: C must not be read. */
            REQUIRE(gantry_tensor_write(tc, nan4, 4) == GANTRY_OK);
            CHECK_OK(gantry_op_gemm(trans_a, trans_b, 1.0f, pa, pb, 0.0f, tc));
            CHECK_TENSOR(tc, 0.0, 58, 64, 139, 154);
            /* alpha = 2, beta = 1: 2 * AB + C */
            REQUIRE(gantry_tensor_write(tc, c0, 4) == GANTRY_OK);
            CHECK_OK(gantry_op_gemm(trans_a, trans_b, 2.0f, pa, pb, 1.0f, tc));
            CHECK_TENSOR(tc, 0.0, 117, 130, 281, 312);
            /* alpha = -1, beta = 0.5: -AB + C/2 */
            REQUIRE(gantry_tensor_write(tc, c0, 4) == GANTRY_OK);
            CHECK_OK(gantry_op_gemm(trans_a, trans_b, -1.0f, pa, pb, 0.5f, tc));
            CHECK_TENSOR(tc, 0.0, -57.5, -63, -137.5, -152);
        }
    }

    /* op(A) 3 x 2 times op(B) 2 x 3 (A^T B^T with A 2x3, B 3x2 stored):
     * A^T = [1 4; 2 5; 3 6], B^T = [7 9 11; 8 10 12]
     * row 0: [1*7+4*8, 1*9+4*10, 1*11+4*12] = [39 49 59]
     * row 1: [2*7+5*8, 2*9+5*10, 2*11+5*12] = [54 68 82]
     * row 2: [3*7+6*8, 3*9+6*10, 3*11+6*12] = [69 87 105] */
    gantry_tensor *c33 = tnew(NULL, 3, 3, 0, 0);
    CHECK_OK(gantry_op_fill(c33, NAN));
    CHECK_OK(gantry_op_gemm(1, 1, 1.0f, ta, tb, 0.0f, c33));
    CHECK_TENSOR(c33, 0.0, 39, 49, 59, 54, 68, 82, 69, 87, 105);

    /* Views: the operands start at element offsets inside larger buffers. */
    const float big[10] = { 99, 99, 1, 2, 3, 4, 5, 6, 99, 99 };
    gantry_tensor *tbig = tnew(big, 10, 0, 0, 0);
    gantry_tensor *va = NULL, *vc = NULL;
    size_t sa[2] = { 2, 3 };
    CHECK_OK(gantry_tensor_view(tbig, 2, 2, sa, &va));
    gantry_tensor *cbig = tnew(NULL, 7, 0, 0, 0);
    CHECK_OK(gantry_op_fill(cbig, -5.0f));
    size_t sc[2] = { 2, 2 };
    CHECK_OK(gantry_tensor_view(cbig, 3, 2, sc, &vc));
    CHECK_OK(gantry_op_gemm(0, 0, 1.0f, va, tb, 0.0f, vc));
    CHECK_TENSOR(cbig, 0.0, -5, -5, -5, 58, 64, 139, 154);

    /* Dot products accumulate in double: 2^24 + 1 + 1 + 1 + 1 = 16777220
     * exactly, where float accumulation would stay at 2^24. */
    const float row[5] = { 16777216.0f, 1, 1, 1, 1 };
    const float ones[5] = { 1, 1, 1, 1, 1 };
    gantry_tensor *tr = tnew(row, 1, 5, 0, 0), *to = tnew(ones, 5, 1, 0, 0), *t11 = tnew(NULL, 1, 1, 0, 0);
    CHECK_OK(gantry_op_gemm(0, 0, 1.0f, tr, to, 0.0f, t11));
    CHECK_TENSOR(t11, 0.0, 16777220.0f);

    gantry_tensor_destroy(va);
    gantry_tensor_destroy(vc);
    gantry_tensor *all[] = { ta, tat, tb, tbt, tc, c33, tbig, cbig, tr, to, t11 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- elementwise: bias -------------------------------------------------- */

static void test_bias(void)
{
    /* x [2, 3, 1, 2] = 0..11: channel of element e is (e / 2) % 3. */
    float seq[12];
    for (int i = 0; i < 12; i++)
        seq[i] = (float)i;
    const float bias[3] = { 10, 20, 30 };
    gantry_tensor *x = tnew(seq, 2, 3, 1, 2), *tb = tnew(bias, 3, 0, 0, 0);
    CHECK_OK(gantry_op_bias_add(x, tb));
    CHECK_TENSOR(x, 0.0, 10, 11, 22, 23, 34, 35, 16, 17, 28, 29, 40, 41);

    /* dbias[c] over dy = 0..11: c0 = 0+1+6+7, c1 = 2+3+8+9, c2 = 4+5+10+11 */
    gantry_tensor *dy = tnew(seq, 2, 3, 1, 2), *db = tnew(NULL, 3, 0, 0, 0);
    CHECK_OK(gantry_op_fill(db, NAN)); /* not accumulating: old dbias is not read */
    CHECK_OK(gantry_op_bias_grad(dy, db, 0));
    CHECK_TENSOR(db, 0.0, 14, 22, 30);
    const float one3[3] = { 1, 1, 1 };
    REQUIRE(gantry_tensor_write(db, one3, 3) == GANTRY_OK);
    CHECK_OK(gantry_op_bias_grad(dy, db, 1));
    CHECK_TENSOR(db, 0.0, 15, 23, 31);

    /* [N, C] = [2, 3]: inner = 1. */
    const float x2[6] = { 1, 2, 3, 4, 5, 6 };
    gantry_tensor *t2 = tnew(x2, 2, 3, 0, 0);
    CHECK_OK(gantry_op_bias_grad(t2, db, 0));
    CHECK_TENSOR(db, 0.0, 5, 7, 9);
    CHECK_OK(gantry_op_bias_add(t2, tb));
    CHECK_TENSOR(t2, 0.0, 11, 22, 33, 14, 25, 36);

    /* Double accumulation: 2^24 + 4 * 1 = 16777220 in channel 0. */
    const float acc[10] = { 16777216.0f, 0, 1, 0, 1, 0, 1, 0, 1, 0 };
    gantry_tensor *ta = tnew(acc, 5, 2, 0, 0), *db2 = tnew(NULL, 2, 0, 0, 0);
    CHECK_OK(gantry_op_bias_grad(ta, db2, 0));
    CHECK_TENSOR(db2, 0.0, 16777220.0f, 0);

    gantry_tensor *all[] = { x, tb, dy, db, t2, ta, db2 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- elementwise: activations ------------------------------------------- */

static void test_activations(void)
{
    const float xs[5] = { -2, -0.5f, 0, 0.5f, 2 };
    const float dys[5] = { 1, 2, 3, 4, 5 };
    gantry_tensor *x = tnew(xs, 5, 0, 0, 0), *y = tnew(NULL, 5, 0, 0, 0);
    gantry_tensor *dy = tnew(dys, 5, 0, 0, 0), *dx = tnew(NULL, 5, 0, 0, 0);

    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_IDENTITY, 0, x, y));
    CHECK_TENSOR(y, 0.0, -2, -0.5f, 0, 0.5f, 2);
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_IDENTITY, 0, x, y, dy, dx));
    CHECK_TENSOR(dx, 0.0, 1, 2, 3, 4, 5);

    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_RELU, 0, x, y));
    CHECK_TENSOR(y, 0.0, 0, 0, 0, 0.5f, 2);
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_RELU, 0, x, y, dy, dx));
    CHECK_TENSOR(dx, 0.0, 0, 0, 0, 4, 5); /* f'(0) = 0 */

    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_LEAKY_RELU, 0.2f, x, y));
    CHECK_TENSOR(y, TOL, -0.4f, -0.1f, 0, 0.5f, 2);
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_LEAKY_RELU, 0.2f, x, y, dy, dx));
    CHECK_TENSOR(dx, TOL, 0.2f, 0.4f, 0.6f, 4, 5); /* f'(0) = slope */

    /* tanh(0.5) = 0.462117157, tanh(2) = 0.96402758; dx = dy (1 - y^2) */
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_TANH, 0, x, y));
    CHECK_TENSOR(y, TOL, -0.96402758f, -0.462117157f, 0, 0.462117157f, 0.96402758f);
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_TANH, 0, x, y, dy, dx));
    CHECK_TENSOR(dx, TOL, 0.0706508249f, 1.57289547f, 3, 3.14579093f, 0.353254124f);

    /* sigmoid(2) = 1 / (1 + e^-2) = 0.880797078; dx = dy y (1 - y) */
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0, x, y));
    CHECK_TENSOR(y, TOL, 0.119202922f, 0.377540669f, 0.5f, 0.622459331f, 0.880797078f);
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_SIGMOID, 0, x, y, dy, dx));
    CHECK_TENSOR(dx, TOL, 0.104993585f, 0.470007424f, 0.75f, 0.940014849f, 0.524967927f);

    /* Saturation stays finite: sigmoid(-100) = e^-100 / (1 + e^-100), sigmoid(100) = 1; tanh(+-100) = +-1. */
    const float big[2] = { -100, 100 };
    gantry_tensor *tbig = tnew(big, 2, 0, 0, 0), *ybig = tnew(NULL, 2, 0, 0, 0);
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0, tbig, ybig));
    CHECK_TENSOR(ybig, TOL, 3.7835058e-44f, 1); /* e^-100 is a float denormal */
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_TANH, 0, tbig, ybig));
    CHECK_TENSOR(ybig, 0.0, -1, 1);

    /* In place: y == x forward, dx == dy backward. */
    gantry_tensor *xy = tnew(xs, 5, 0, 0, 0);
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_LEAKY_RELU, 0.1f, xy, xy));
    CHECK_TENSOR(xy, TOL, -0.2f, -0.05f, 0, 0.5f, 2);
    gantry_tensor *g = tnew(dys, 5, 0, 0, 0);
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_RELU, 0, x, x, g, g));
    CHECK_TENSOR(g, 0.0, 0, 0, 0, 4, 5);
    REQUIRE(gantry_tensor_write(g, dys, 5) == GANTRY_OK);
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0, x, y));
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_SIGMOID, 0, x, y, g, g));
    CHECK_TENSOR(g, TOL, 0.104993585f, 0.470007424f, 0.75f, 0.940014849f, 0.524967927f);
    /* Backward writing over y itself (dx == y) for tanh. */
    CHECK_OK(gantry_op_activation_forward(GANTRY_ACT_TANH, 0, x, y));
    CHECK_OK(gantry_op_activation_backward(GANTRY_ACT_TANH, 0, x, y, dy, y));
    CHECK_TENSOR(y, TOL, 0.0706508249f, 1.57289547f, 3, 3.14579093f, 0.353254124f);

    gantry_tensor *all[] = { x, y, dy, dx, tbig, ybig, xy, g };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- norm: batch normalisation ------------------------------------------ */

static void test_batchnorm(void)
{
    /* x [2, 2, 1, 2] (outer 2, channels 2, inner 2), element order
     * o0c0 o0c0 o0c1 o0c1 o1c0 o1c0 o1c1 o1c1.
     * channel 0 = {1, 2, 3, 4}: mean 2.5, biased var 1.25, unbiased 5/3
     * channel 1 = {2, 6, 2, 6}: mean 4,   biased var 4,    unbiased 16/3
     * eps = 1e-5: invstd0 = 1/sqrt(1.25001) = 0.8944236133,
     *             invstd1 = 1/sqrt(4.00001) = 0.499999375
     * gamma = {2, 0.5}, beta = {1, -1}: y = gamma (x - mean) invstd + beta */
    const float xv[8] = { 1, 2, 2, 6, 3, 4, 2, 6 };
    const float gv[2] = { 2, 0.5f }, bv[2] = { 1, -1 };
    const float rm0[2] = { 0, 0 }, rv0[2] = { 1, 1 };
    gantry_tensor *x = tnew(xv, 2, 2, 1, 2), *y = tnew(NULL, 2, 2, 1, 2);
    gantry_tensor *gamma = tnew(gv, 2, 0, 0, 0), *beta = tnew(bv, 2, 0, 0, 0);
    gantry_tensor *rm = tnew(rm0, 2, 0, 0, 0), *rv = tnew(rv0, 2, 0, 0, 0);
    gantry_tensor *sm = tnew(NULL, 2, 0, 0, 0), *si = tnew(NULL, 2, 0, 0, 0);

    CHECK_OK(gantry_op_batchnorm_forward_train(x, y, gamma, beta, rm, rv, sm, si, 0.1f, 1e-5f));
    CHECK_TENSOR(y, TOL, -1.68327084f, 0.105576387f, -1.49999938f, -0.500000625f, 1.89442361f, 3.68327084f,
                 -1.49999938f, -0.500000625f);
    CHECK_TENSOR(sm, TOL, 2.5f, 4);
    CHECK_TENSOR(si, TOL, 0.8944236133f, 0.499999375f);
    /* running_mean = 0.9 * 0 + 0.1 * mean; running_var = 0.9 * 1 + 0.1 * unbiased */
    CHECK_TENSOR(rm, TOL, 0.25f, 0.4f);
    CHECK_TENSOR(rv, TOL, 1.066666667f, 1.433333333f);

    /* Backward with dy = 1 at one element of each channel:
     * channel 0: dy = {0, 0, 0, 1}: sum dy = 1, sum dy xhat = 1.5 invstd0 = 1.34163542
     *   dx = gamma invstd / 4 (4 dy - 1 - xhat 1.34163542)
     * channel 1: dy = {1, 0, 0, 0}, xhat = {-1, 1, -1, 1} invstd1*2:
     *   sum dy = 1, sum dy xhat = -0.99999875 */
    const float dyv[8] = { 0, 0, 1, 0, 0, 1, 0, 0 };
    gantry_tensor *dy = tnew(dyv, 2, 2, 1, 2), *dx = tnew(NULL, 2, 2, 1, 2);
    gantry_tensor *dg = tnew(NULL, 2, 0, 0, 0), *db = tnew(NULL, 2, 0, 0, 0);
    CHECK_OK(gantry_op_fill(dg, NAN)); /* not accumulating: not read */
    CHECK_OK(gantry_op_fill(db, NAN));
    CHECK_OK(gantry_op_fill(dx, NAN));
    CHECK_OK(gantry_op_batchnorm_backward(x, dy, gamma, sm, si, dx, dg, db, 0));
    CHECK_TENSOR(dx, TOL, 0.357763006f, -0.178886869f, 0.125f, -1.56249414e-07f, -0.715536744f, 0.536660608f,
                 -0.124999688f, -1.56249414e-07f);
    CHECK_TENSOR(dg, TOL, 1.34163542f, -0.99999875f);
    CHECK_TENSOR(db, TOL, 1, 1);
    const float old_g[2] = { 10, 20 }, old_b[2] = { 1, 2 };
    REQUIRE(gantry_tensor_write(dg, old_g, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(db, old_b, 2) == GANTRY_OK);
    CHECK_OK(gantry_op_batchnorm_backward(x, dy, gamma, sm, si, dx, dg, db, 1));
    CHECK_TENSOR(dg, TOL, 11.34163542f, 19.00000125f);
    CHECK_TENSOR(db, TOL, 2, 3);

    /* dy = a (x - mean) + b per channel is (up to eps) in the null space of the
     * input gradient: channel 0 dy = x = {1, 2, 3, 4}, channel 1 dy = {5, 5, 5, 5}.
     * With eps what remains is dx = gamma xhat eps / (var + eps):
     * channel 0: 2 * {-1.5, -0.5, 0.5, 1.5} invstd0 * 1e-5 / 1.25001 */
    const float dy_null[8] = { 1, 2, 5, 5, 3, 4, 5, 5 };
    REQUIRE(gantry_tensor_write(dy, dy_null, 8) == GANTRY_OK);
    CHECK_OK(gantry_op_batchnorm_backward(x, dy, gamma, sm, si, dx, dg, db, 0));
    CHECK_TENSOR(dx, TOL, -2.1465995e-05f, -7.1553317e-06f, 0, 0, 7.1553317e-06f, 2.1465995e-05f, 0, 0);
    /* dgamma0 = invstd0 (1 (-1.5) + 2 (-0.5) + 3 (0.5) + 4 (1.5)) = 5 invstd0 */
    CHECK_TENSOR(dg, TOL, 4.4721180665f, 0);
    CHECK_TENSOR(db, TOL, 10, 20);

    /* dx may alias dy (written per channel after its sums). */
    REQUIRE(gantry_tensor_write(dy, dyv, 8) == GANTRY_OK);
    CHECK_OK(gantry_op_batchnorm_backward(x, dy, gamma, sm, si, dy, dg, db, 0));
    CHECK_TENSOR(dy, TOL, 0.357763006f, -0.178886869f, 0.125f, -1.56249414e-07f, -0.715536744f, 0.536660608f,
                 -0.124999688f, -1.56249414e-07f);

    /* Eval with running_mean {1, -1}, running_var {4, 0.25}, gamma {3, 0.5},
     * beta {0, 2}: channel 0: 3 (x - 1) / sqrt(4.00001), channel 1:
     * 0.5 (x + 1) / sqrt(0.25001) + 2 */
    const float erm[2] = { 1, -1 }, erv[2] = { 4, 0.25f }, eg[2] = { 3, 0.5f }, eb[2] = { 0, 2 };
    REQUIRE(gantry_tensor_write(rm, erm, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(rv, erv, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(gamma, eg, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(beta, eb, 2) == GANTRY_OK);
    CHECK_OK(gantry_op_batchnorm_forward_eval(x, y, gamma, beta, rm, rv, 1e-5f));
    CHECK_TENSOR(y, TOL, 0, 1.49999813f, 4.99994f, 8.99986f, 2.99999625f, 4.49999438f, 4.99994f, 8.99986f);
    CHECK_TENSOR(rm, 0.0, 1, -1); /* eval leaves the running statistics alone */
    CHECK_TENSOR(rv, 0.0, 4, 0.25f);

    /* In place training forward (y == x) on [N, C] = [2, 1]: x = {1, 3},
     * mean 2, var 1, unbiased var 2; momentum 1 replaces the running stats. */
    const float x2v[2] = { 1, 3 }, one = 1, zero = 0;
    gantry_tensor *x2 = tnew(x2v, 2, 1, 0, 0);
    gantry_tensor *g1 = tnew(&one, 1, 0, 0, 0), *b1 = tnew(&zero, 1, 0, 0, 0);
    gantry_tensor *rm1 = tnew(&zero, 1, 0, 0, 0), *rv1 = tnew(&one, 1, 0, 0, 0);
    gantry_tensor *sm1 = tnew(NULL, 1, 0, 0, 0), *si1 = tnew(NULL, 1, 0, 0, 0);
    CHECK_OK(gantry_op_batchnorm_forward_train(x2, x2, g1, b1, rm1, rv1, sm1, si1, 1.0f, 1e-5f));
    CHECK_TENSOR(x2, TOL, -0.999995f, 0.999995f); /* +-1 / sqrt(1.00001) */
    CHECK_TENSOR(rm1, TOL, 2);
    CHECK_TENSOR(rv1, TOL, 2);
    CHECK_TENSOR(sm1, TOL, 2);
    CHECK_TENSOR(si1, TOL, 0.999995f);

    gantry_tensor *all[] = { x, y, gamma, beta, rm, rv, sm, si, dy, dx, dg, db, x2, g1, b1, rm1, rv1, sm1, si1 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- elementwise: arithmetic and reductions ----------------------------- */

static void test_elementwise(void)
{
    const float av[4] = { 1, 2, 3, -4 }, bv[4] = { 10, 20, 30, 0.5f };
    gantry_tensor *a = tnew(av, 4, 0, 0, 0), *b = tnew(bv, 4, 0, 0, 0), *y = tnew(NULL, 4, 0, 0, 0);

    CHECK_OK(gantry_op_add(a, b, y));
    CHECK_TENSOR(y, 0.0, 11, 22, 33, -3.5f);
    CHECK_OK(gantry_op_mul(a, b, y));
    CHECK_TENSOR(y, 0.0, 10, 40, 90, -2);
    CHECK_OK(gantry_op_scale(a, -0.5f, y));
    CHECK_TENSOR(y, 0.0, -0.5f, -1, -1.5f, 2);
    const float ones[4] = { 1, 1, 1, 1 };
    REQUIRE(gantry_tensor_write(y, ones, 4) == GANTRY_OK);
    CHECK_OK(gantry_op_axpy(2.0f, a, y)); /* y = 1 + 2 a */
    CHECK_TENSOR(y, 0.0, 3, 5, 7, -7);

    /* In place: every output may alias every input. */
    gantry_tensor *c = tnew(av, 4, 0, 0, 0);
    CHECK_OK(gantry_op_add(c, c, c));
    CHECK_TENSOR(c, 0.0, 2, 4, 6, -8);
    CHECK_OK(gantry_op_mul(c, c, c));
    CHECK_TENSOR(c, 0.0, 4, 16, 36, 64);
    CHECK_OK(gantry_op_scale(c, 0.25f, c));
    CHECK_TENSOR(c, 0.0, 1, 4, 9, 16);
    CHECK_OK(gantry_op_axpy(-1.0f, c, c)); /* y = y - y */
    CHECK_TENSOR(c, 0.0, 0, 0, 0, 0);
    CHECK_OK(gantry_op_add(a, b, b)); /* y == b */
    CHECK_TENSOR(b, 0.0, 11, 22, 33, -3.5f);

    gantry_tensor *out = tnew(NULL, 1, 0, 0, 0);
    CHECK_OK(gantry_op_sum(a, out));
    CHECK_TENSOR(out, 0.0, 2); /* 1 + 2 + 3 - 4 */
    CHECK_OK(gantry_op_mean(a, out));
    CHECK_TENSOR(out, 0.0, 0.5f);
    /* Sums accumulate in double: 2^24 + 1 + 1 + 1 + 1 = 16777220. */
    const float accv[5] = { 16777216.0f, 1, 1, 1, 1 };
    gantry_tensor *acc = tnew(accv, 5, 0, 0, 0);
    CHECK_OK(gantry_op_sum(acc, out));
    CHECK_TENSOR(out, 0.0, 16777220.0f);
    CHECK_OK(gantry_op_mean(acc, out));
    CHECK_TENSOR(out, 0.0, 3355444.0f); /* 16777220 / 5 */
    /* out may be a larger tensor: only element 0 is written. */
    const float sentinel[3] = { -7, -7, -7 };
    gantry_tensor *out3 = tnew(sentinel, 3, 0, 0, 0);
    CHECK_OK(gantry_op_sum(a, out3));
    CHECK_TENSOR(out3, 0.0, 2, -7, -7);

    /* fill and clamp; clamp passes NaN through. */
    gantry_tensor *f = tnew(NULL, 6, 0, 0, 0);
    CHECK_OK(gantry_op_fill(f, 3.5f));
    CHECK_TENSOR(f, 0.0, 3.5f, 3.5f, 3.5f, 3.5f, 3.5f, 3.5f);
    const float cv[6] = { -2, -0.5f, 0, 0.5f, 2, NAN };
    REQUIRE(gantry_tensor_write(f, cv, 6) == GANTRY_OK);
    CHECK_OK(gantry_op_clamp(f, -1, 1));
    CHECK_TENSOR(f, 0.0, -1, -0.5f, 0, 0.5f, 1, NAN);
    CHECK_OK(gantry_op_clamp(f, 0.25f, 0.25f));
    CHECK_TENSOR(f, 0.0, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, NAN);

    /* tensor_copy goes through buffer_copy. */
    gantry_tensor *cp = tnew(NULL, 4, 0, 0, 0);
    CHECK_OK(gantry_tensor_copy(cp, a));
    CHECK_TENSOR(cp, 0.0, 1, 2, 3, -4);
    float item = 0;
    CHECK_OK(gantry_tensor_item(cp, &item));
    CHECK(item == 1.0f);

    gantry_tensor *all[] = { a, b, y, c, out, acc, out3, f, cp };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- loss: BCE with logits ---------------------------------------------- */

static void test_bce(void)
{
    gantry_tensor *out = tnew(NULL, 1, 0, 0, 0);
    const float zeros[2] = { 0, 0 };
    gantry_tensor *x0 = tnew(zeros, 2, 0, 0, 0), *dx = tnew(NULL, 2, 0, 0, 0);

    /* At x = 0 the loss is log 2 for any target; the gradient is (0.5 - t) / n. */
    CHECK_OK(gantry_op_bce_logits_forward(x0, 1.0f, out));
    CHECK_TENSOR(out, TOL, 0.6931471806f);
    CHECK_OK(gantry_op_bce_logits_forward(x0, 0.0f, out));
    CHECK_TENSOR(out, TOL, 0.6931471806f);
    CHECK_OK(gantry_op_bce_logits_backward(x0, 1.0f, 1.0f, dx));
    CHECK_TENSOR(dx, 0.0, -0.25f, -0.25f);
    CHECK_OK(gantry_op_bce_logits_backward(x0, 0.0f, -2.0f, dx)); /* -2 (0.5 - 0) / 2 */
    CHECK_TENSOR(dx, 0.0, -0.5f, -0.5f);

    /* x = {2, -3}, t = 1:
     * loss(2)  = 2 - 2 + log1p(e^-2) = 0.126928011
     * loss(-3) = 0 + 3 + log1p(e^-3) = 3.048587352; mean 1.587757681
     * dx = (sigmoid(x) - 1) / 2 = {-0.059601461, -0.4762870634} */
    const float xv[2] = { 2, -3 };
    gantry_tensor *x = tnew(xv, 2, 0, 0, 0);
    CHECK_OK(gantry_op_bce_logits_forward(x, 1.0f, out));
    CHECK_TENSOR(out, TOL, 1.587757681f);
    CHECK_OK(gantry_op_bce_logits_backward(x, 1.0f, 1.0f, dx));
    CHECK_TENSOR(dx, TOL, -0.05960146101f, -0.4762870634f);
    /* t = 0.5: loss = max(x,0) - x/2 + log1p(e^-|x|): {1 + 0.126928011, 1.5 + 0.048587352} */
    CHECK_OK(gantry_op_bce_logits_forward(x, 0.5f, out));
    CHECK_TENSOR(out, TOL, 1.3377576815f);

    /* Large logits stay finite: x = -100, t = 1 costs 100; x = 100 costs 0. */
    const float big[2] = { -100, 100 };
    gantry_tensor *xb = tnew(big, 2, 0, 0, 0);
    CHECK_OK(gantry_op_bce_logits_forward(xb, 1.0f, out));
    CHECK_TENSOR(out, TOL, 50);
    CHECK_OK(gantry_op_bce_logits_backward(xb, 1.0f, 1.0f, dx));
    CHECK_TENSOR(dx, TOL, -0.5f, 0);

    /* dx may alias x. */
    CHECK_OK(gantry_op_bce_logits_backward(x, 0.0f, 4.0f, x)); /* 4 sigmoid(x) / 2 */
    CHECK_TENSOR(x, TOL, 1.761594156f, 0.0948517463f);

    gantry_tensor *all[] = { out, x0, dx, x, xb };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- optim: SGD, Adam, RMSProp ------------------------------------------ */

static void test_sgd(void)
{
    /* Momentum 0.9, lr 0.1, g = 0.5 twice:
     * step 1: v = 0.5,              p = 1 - 0.05 = 0.95
     * step 2: v = 0.45 + 0.5 = 0.95, p = 0.95 - 0.095 = 0.855 */
    const float p0[2] = { 1, -1 }, g0[2] = { 0.5f, -2 }, z[2] = { 0, 0 };
    gantry_tensor *p = tnew(p0, 2, 0, 0, 0), *g = tnew(g0, 2, 0, 0, 0), *v = tnew(z, 2, 0, 0, 0);
    CHECK_OK(gantry_op_sgd_update(p, g, v, 0.1f, 0.9f, 0));
    CHECK_TENSOR(v, TOL, 0.5f, -2);
    CHECK_TENSOR(p, TOL, 0.95f, -0.8f);
    CHECK_OK(gantry_op_sgd_update(p, g, v, 0.1f, 0.9f, 0));
    CHECK_TENSOR(v, TOL, 0.95f, -3.8f); /* -1.8 - 2 */
    CHECK_TENSOR(p, TOL, 0.855f, -0.42f);
    CHECK_TENSOR(g, 0.0, 0.5f, -2);

    /* No momentum, weight decay 0.1: g' = g + 0.1 p; p = 2 - 0.5 (1 + 0.2) = 1.4.
     * The gradient tensor itself is not modified. */
    const float p1[2] = { 2, -2 }, g1[2] = { 1, 0 };
    REQUIRE(gantry_tensor_write(p, p1, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(g, g1, 2) == GANTRY_OK);
    CHECK_OK(gantry_op_sgd_update(p, g, NULL, 0.5f, 0, 0.1f));
    CHECK_TENSOR(p, TOL, 1.4f, -1.9f); /* -2 - 0.5 (0 - 0.2) */
    CHECK_TENSOR(g, 0.0, 1, 0);

    gantry_tensor_destroy(p);
    gantry_tensor_destroy(g);
    gantry_tensor_destroy(v);
}

static void test_adam(void)
{
    /* lr 0.1, betas (0.9, 0.999), eps 1e-8, step 1:
     * m = 0.1 g, v = 0.001 g^2; bc1 = 0.1, bc2 = 0.001;
     * p -= 0.1/0.1 * 0.1 g / (|g| + 1e-8) = 0.1 g / (|g| + 1e-8), about 0.1 sign(g);
     * g = 0 leaves p alone (0 / eps). */
    const float p0[3] = { 1, 1, 1 }, g0[3] = { 0.5f, -2, 0 }, z[3] = { 0, 0, 0 };
    gantry_tensor *p = tnew(p0, 3, 0, 0, 0), *g = tnew(g0, 3, 0, 0, 0);
    gantry_tensor *m = tnew(z, 3, 0, 0, 0), *v = tnew(z, 3, 0, 0, 0);
    CHECK_OK(gantry_op_adam_update(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 1));
    CHECK_TENSOR(m, TOL, 0.05f, -0.2f, 0);
    CHECK_TENSOR(v, TOL, 0.00025f, 0.004f, 0);
    /* 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002; 1 + 0.1 * 2 / (2 + 1e-8) = 1.0999999995 */
    CHECK_TENSOR(p, 1e-7, 0.900000002f, 1.0999999995f, 1);
    /* step 2, same g: m = 0.045 + 0.05 = 0.095, v = 0.999 * 0.00025 + 0.001 * 0.25 = 0.00049975;
     * bc1 = 0.19, bc2 = 0.001999; v / bc2 = 0.25 exactly, so
     * p -= 0.1 / 0.19 * 0.095 / (0.5 + 1e-8) = 0.1 (element 0), likewise 0.1 sign(g) for element 1 */
    CHECK_OK(gantry_op_adam_update(p, g, m, v, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 2));
    CHECK_TENSOR(m, TOL, 0.095f, -0.38f, 0);
    CHECK_TENSOR(v, TOL, 0.00049975f, 0.007996f, 0);
    CHECK_TENSOR(p, 1e-5, 0.8f, 1.2f, 1);
    CHECK_TENSOR(g, 0.0, 0.5f, -2, 0);

    /* Weight decay enters g before the moments: p = 1, g = 0, wd = 0.5:
     * g' = 0.5, first step moves p by 0.1 sign(g') -> 0.9; g stays 0. */
    const float one = 1, zero = 0;
    gantry_tensor *p1 = tnew(&one, 1, 0, 0, 0), *g1 = tnew(&zero, 1, 0, 0, 0);
    gantry_tensor *m1 = tnew(&zero, 1, 0, 0, 0), *v1 = tnew(&zero, 1, 0, 0, 0);
    CHECK_OK(gantry_op_adam_update(p1, g1, m1, v1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1));
    CHECK_TENSOR(m1, TOL, 0.05f);
    CHECK_TENSOR(v1, TOL, 0.00025f);
    CHECK_TENSOR(p1, 1e-7, 0.900000002f);
    CHECK_TENSOR(g1, 0.0, 0);

    /* Large eps shows it is added after the bias-corrected sqrt(v):
     * step 1, g = 0.5, eps = 0.5: p -= 0.1 * 0.5 / (0.5 + 0.5) = 0.05 */
    REQUIRE(gantry_tensor_write(p1, &one, 1) == GANTRY_OK);
    const float half = 0.5f;
    REQUIRE(gantry_tensor_write(g1, &half, 1) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(m1, &zero, 1) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(v1, &zero, 1) == GANTRY_OK);
    CHECK_OK(gantry_op_adam_update(p1, g1, m1, v1, 0.1f, 0.9f, 0.999f, 0.5f, 0, 1));
    CHECK_TENSOR(p1, 1e-6, 0.95f);

    gantry_tensor *all[] = { p, g, m, v, p1, g1, m1, v1 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

static void test_rmsprop(void)
{
    /* lr 0.01, alpha 0.99, eps 1e-8: sq = 0.01 g^2 = {0.0025, 0.04},
     * sqrt(sq) = {0.05, 0.2}; p -= 0.01 g / (sqrt(sq) + 1e-8) = {0.1, -0.1} */
    const float p0[2] = { 1, -1 }, g0[2] = { 0.5f, -2 }, z[2] = { 0, 0 };
    gantry_tensor *p = tnew(p0, 2, 0, 0, 0), *g = tnew(g0, 2, 0, 0, 0), *sq = tnew(z, 2, 0, 0, 0);
    CHECK_OK(gantry_op_rmsprop_update(p, g, sq, 0.01f, 0.99f, 1e-8f, 0));
    CHECK_TENSOR(sq, TOL, 0.0025f, 0.04f);
    CHECK_TENSOR(p, 1e-6, 0.9f, -0.9f);
    CHECK_TENSOR(g, 0.0, 0.5f, -2);

    /* Weight decay 1: g' = g + p = {0.5 + 0.9, -2 - 0.9} = {1.4, -2.9};
     * sq = 0.99 sq + 0.01 g'^2 = {0.002475 + 0.0196, 0.0396 + 0.0841} = {0.022075, 0.1237} */
    CHECK_OK(gantry_op_rmsprop_update(p, g, sq, 0.01f, 0.99f, 1e-8f, 1.0f));
    CHECK_TENSOR(sq, TOL, 0.022075f, 0.1237f);
    /* p = 0.9 - 0.014 / sqrt(0.022075) = 0.9 - 0.0942275023;
     * -0.9 + 0.029 / sqrt(0.1237) = -0.9 + 0.0824542694 */
    CHECK_TENSOR(p, 1e-6, 0.805772498f, -0.817545731f);
    CHECK_TENSOR(g, 0.0, 0.5f, -2);

    /* Large eps shows it is added outside the sqrt: g = 0.5, sq = 0, eps = 0.05:
     * sq = 0.0025, sqrt(sq) + eps = 0.1, p -= 0.01 * 0.5 / 0.1 = 0.05 */
    REQUIRE(gantry_tensor_write(p, p0, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(sq, z, 2) == GANTRY_OK);
    CHECK_OK(gantry_op_rmsprop_update(p, g, sq, 0.01f, 0.99f, 0.05f, 0));
    CHECK_TENSOR(p, 1e-6, 0.95f, -0.92f); /* -1 + 0.01 * 2 / (0.2 + 0.05) */

    gantry_tensor_destroy(p);
    gantry_tensor_destroy(g);
    gantry_tensor_destroy(sq);
}

/* ---- random: Philox fills ----------------------------------------------- */

/* Philox4x32-10 with the full 128-bit counter, written from the paper
 * independently of gantry/philox.h, for the Random123 known answers. */
static void philox_full(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        if (r > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t prod0 = (uint64_t)0xD2511F53u * x0;
        uint64_t prod1 = (uint64_t)0xCD9E8D57u * x2;
        uint32_t hi0 = (uint32_t)(prod0 >> 32), lo0 = (uint32_t)prod0;
        uint32_t hi1 = (uint32_t)(prod1 >> 32), lo1 = (uint32_t)prod1;
        uint32_t y0 = hi1 ^ x1 ^ k0, y1 = lo1, y2 = hi0 ^ x3 ^ k1, y3 = lo0;
        x0 = y0;
        x1 = y1;
        x2 = y2;
        x3 = y3;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

static void test_philox(void)
{
    /* Random123 kat_vectors, philox4x32 10. */
    static const struct {
        uint32_t ctr[4], key[2], want[4];
    } kat[3] = {
        { { 0, 0, 0, 0 }, { 0, 0 }, { 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u } },
        { { 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu },
          { 0xffffffffu, 0xffffffffu },
          { 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu } },
        { { 0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u },
          { 0xa4093822u, 0x299f31d0u },
          { 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u } },
    };
    for (int t = 0; t < 3; t++) {
        uint32_t got[4];
        philox_full(kat[t].ctr, kat[t].key, got);
        for (int w = 0; w < 4; w++)
            CHECK(got[w] == kat[t].want[w]);
    }
    /* The header's block function: counter {block, 0, 0} only. */
    gantry_philox_block b0 = gantry_philox4x32_10(0, 0);
    for (int w = 0; w < 4; w++)
        CHECK(b0.v[w] == kat[0].want[w]);
    /* ... and it agrees with the full-counter version for other seeds and blocks. */
    const uint64_t seeds[3] = { 1, 0x123456789abcdefull, UINT64_MAX };
    const uint64_t blocks[3] = { 1, 0xfedcba9876543210ull, UINT64_MAX };
    for (int s = 0; s < 3; s++) {
        for (int k = 0; k < 3; k++) {
            uint32_t ctr[4] = { (uint32_t)blocks[k], (uint32_t)(blocks[k] >> 32), 0, 0 };
            uint32_t key[2] = { (uint32_t)seeds[s], (uint32_t)(seeds[s] >> 32) };
            uint32_t want[4];
            philox_full(ctr, key, want);
            gantry_philox_block got = gantry_philox4x32_10(seeds[s], blocks[k]);
            for (int w = 0; w < 4; w++)
                CHECK(got.v[w] == want[w]);
        }
    }

    /* Uniform, seed 0, offset 0: the words of block 0 >> 8, times 2^-24:
     * 0x6627e8 / 2^24 = 0.3990464211, 0xe169c5 / 2^24 = 0.880520165,
     * 0xbc57ac / 2^24 = 0.7357127666, 0x9b00db / 2^24 = 0.6054818034 */
    gantry_tensor *u = tnew(NULL, 4, 0, 0, 0);
    CHECK_OK(gantry_op_rand_uniform(u, 0, 0, 0.0f, 1.0f));
    CHECK_TENSOR(u, 1e-9, 0.3990464211f, 0.880520165f, 0.7357127666f, 0.6054818034f);
    /* [lo, hi) = [-1, 3): -1 + 4 u */
    CHECK_OK(gantry_op_rand_uniform(u, 0, 0, -1.0f, 3.0f));
    CHECK_TENSOR(u, 1e-7, 0.5961856842f, 2.52208066f, 1.942851066f, 1.421927214f);

    /* The stream layout: element i at offset o is word i % 4 of block o + i / 4,
     * so a fill at offset 1 continues a fill at offset 0 four elements on. */
    enum { N = 11 };
    gantry_tensor *u0 = tnew(NULL, N, 0, 0, 0), *u1 = tnew(NULL, N - 4, 0, 0, 0);
    const uint64_t seed = 0x5eedull << 40 | 42;
    CHECK_OK(gantry_op_rand_uniform(u0, seed, 7, -2.0f, 2.0f));
    CHECK_OK(gantry_op_rand_uniform(u1, seed, 8, -2.0f, 2.0f));
    float a0[N], a1[N - 4], want[N];
    tget(u0, a0);
    tget(u1, a1);
    CHECK_ARRAY(a1, a0 + 4, N - 4, 0.0);
    for (size_t i = 0; i < N; i++) {
        uint32_t ctr[4] = { (uint32_t)(7 + i / 4), 0, 0, 0 };
        uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
        uint32_t words[4];
        philox_full(ctr, key, words);
        volatile float unit = (float)(words[i % 4] >> 8) * (1.0f / 16777216.0f);
        volatile float scaled = 4.0f * unit;
        want[i] = -2.0f + scaled;
        CHECK(a0[i] >= -2.0f && a0[i] < 2.0f);
    }
    CHECK_ARRAY(a0, want, N, 0.0); /* bit for bit */

    /* Normal element 0, seed 0, offset 0: u1 = (0x6627e8 + 1) / 2^24,
     * u2 = 0xe169c5 / 2^24, z = sqrt(-2 ln u1) cos(2 pi u2) = 0.9911374751 */
    gantry_tensor *n1 = tnew(NULL, 3, 0, 0, 0);
    CHECK_OK(gantry_op_rand_normal(n1, 0, 0, 0.0f, 1.0f));
    float nv[3];
    tget(n1, nv);
    CHECK_NEAR(nv[0], 0.9911374751, 1e-6);
    /* element 1 uses words 2, 3 of block 0; element 2 words 0, 1 of block 1 */
    for (size_t i = 0; i < 3; i++) {
        gantry_philox_block blk = gantry_philox4x32_10(0, i / 2);
        double w1 = ((blk.v[2 * (i % 2)] >> 8) + 1) / 16777216.0, w2 = (blk.v[2 * (i % 2) + 1] >> 8) / 16777216.0;
        CHECK_NEAR(nv[i], sqrt(-2.0 * log(w1)) * cos(2.0 * 3.14159265358979323846 * w2), 1e-6);
    }
    CHECK_OK(gantry_op_rand_normal(n1, 0, 0, 2.0f, 3.0f));
    tget(n1, nv);
    CHECK_NEAR(nv[0], 2.0 + 3.0 * 0.9911374751, 4e-6);

    /* 100k normals: mean within 0.01, std within 0.01 of N(0, 1); with
     * mean 5, std 2 the same statistics scale accordingly. */
    enum { BIG = 100000 };
    gantry_tensor *nb = tnew(NULL, BIG, 0, 0, 0);
    float *buf = malloc(BIG * sizeof *buf);
    REQUIRE(buf != NULL);
    const float params[2][2] = { { 0.0f, 1.0f }, { 5.0f, 2.0f } };
    for (int k = 0; k < 2; k++) {
        CHECK_OK(gantry_op_rand_normal(nb, 1234 + (uint64_t)k, 99, params[k][0], params[k][1]));
        tget(nb, buf);
        double s = 0, s2 = 0;
        int finite = 1;
        for (size_t i = 0; i < BIG; i++) {
            finite &= isfinite(buf[i]) != 0;
            s += buf[i];
        }
        double mean = s / BIG;
        for (size_t i = 0; i < BIG; i++)
            s2 += (buf[i] - mean) * (buf[i] - mean);
        double sd = sqrt(s2 / (BIG - 1));
        CHECK(finite);
        CHECK_NEAR(mean, params[k][0], 0.01 * params[k][1]);
        CHECK_NEAR(sd, params[k][1], 0.01 * params[k][1]);
    }
    /* 100k uniforms on [0, 1): mean 1/2, variance 1/12, all inside. */
    CHECK_OK(gantry_op_rand_uniform(nb, 777, 0, 0.0f, 1.0f));
    tget(nb, buf);
    double s = 0, s2 = 0;
    int inside = 1;
    for (size_t i = 0; i < BIG; i++) {
        inside &= buf[i] >= 0.0f && buf[i] < 1.0f;
        s += buf[i];
        s2 += (double)buf[i] * buf[i];
    }
    CHECK(inside);
    CHECK_NEAR(s / BIG, 0.5, 0.01);
    CHECK_NEAR(s2 / BIG - (s / BIG) * (s / BIG), 1.0 / 12.0, 0.005);
    free(buf);

    gantry_tensor *all[] = { u, u0, u1, n1, nb };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- conv: im2col, col2im and the convolution ops ----------------------- */

/* A geometry with oh, ow filled in. */
static gantry_conv_geometry geometry(size_t n, size_t c, size_t h, size_t w, size_t kh, size_t kw, size_t sh,
                                     size_t sw, size_t ph, size_t pw)
{
    gantry_conv_geometry g = { n, c, h, w, kh, kw, sh, sw, ph, pw, 0, 0 };
    REQUIRE(gantry_conv_geometry_finish(&g) == GANTRY_OK);
    return g;
}

static void test_im2col_literal(void)
{
    /* x = [1 2 3; 4 5 6; 7 8 9] as [1, 1, 3, 3] */
    const float xv[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    gantry_tensor *x = tnew(xv, 1, 1, 3, 3);

    /* 2x2 kernel, stride 1, no padding: 2x2 outputs; row (ki, kj) lists
     * x[oy + ki, ox + kj] over (oy, ox) = (0,0) (0,1) (1,0) (1,1). */
    gantry_conv_geometry g = geometry(1, 1, 3, 3, 2, 2, 1, 1, 0, 0);
    CHECK(g.oh == 2 && g.ow == 2);
    gantry_tensor *col = tnew(NULL, 4, 4, 0, 0);
    CHECK_OK(gantry_op_fill(col, NAN));
    CHECK_OK(gantry_op_im2col(x, col, &g));
    CHECK_TENSOR(col, 0.0, 1, 2, 4, 5, /**/ 2, 3, 5, 6, /**/ 4, 5, 7, 8, /**/ 5, 6, 8, 9);

    /* col2im of all ones counts the windows over each pixel: corners 1,
     * edges 2, centre 4; accumulating adds that to x. */
    CHECK_OK(gantry_op_fill(col, 1.0f));
    gantry_tensor *back = tnew(NULL, 1, 1, 3, 3);
    CHECK_OK(gantry_op_fill(back, NAN)); /* overwritten, not read */
    CHECK_OK(gantry_op_col2im(col, back, &g, 0));
    CHECK_TENSOR(back, 0.0, 1, 2, 1, 2, 4, 2, 1, 2, 1);
    CHECK_OK(gantry_op_col2im(col, x, &g, 1));
    CHECK_TENSOR(x, 0.0, 2, 4, 4, 6, 9, 8, 8, 10, 10);
    REQUIRE(gantry_tensor_write(x, xv, 9) == GANTRY_OK);

    /* 3x3 kernel, stride 2, padding 1: outputs at top-left corners (-1,-1)
     * (-1,1) (1,-1) (1,1); zeros where the window hangs over the edge. */
    g = geometry(1, 1, 3, 3, 3, 3, 2, 2, 1, 1);
    CHECK(g.oh == 2 && g.ow == 2);
    gantry_tensor *col9 = tnew(NULL, 9, 4, 0, 0);
    CHECK_OK(gantry_op_fill(col9, NAN));
    CHECK_OK(gantry_op_im2col(x, col9, &g));
    CHECK_TENSOR(col9, 0.0, 0, 0, 0, 5, /**/ 0, 0, 4, 6, /**/ 0, 0, 5, 0, /**/ 0, 2, 0, 8, /**/ 1, 3, 7, 9, /**/
                 2, 0, 8, 0, /**/ 0, 5, 0, 0, /**/ 4, 6, 0, 0, /**/ 5, 0, 0, 0);
    /* the adjoint puts every entry back where it came from: pixel (i, j)
     * is read once per window that covers it (corners 1, edges 2, centre 4) */
    CHECK_OK(gantry_op_col2im(col9, back, &g, 0));
    CHECK_TENSOR(back, 0.0, 1, 4, 3, 8, 20, 12, 7, 16, 9);

    /* Stride 3 > kernel 1 on 3x3: a single output, at (0, 0); col2im
     * writes 0 to the eight pixels no window reads. */
    g = geometry(1, 1, 3, 3, 1, 1, 3, 3, 0, 0);
    CHECK(g.oh == 1 && g.ow == 1);
    gantry_tensor *col1 = tnew(NULL, 1, 1, 0, 0);
    CHECK_OK(gantry_op_im2col(x, col1, &g));
    CHECK_TENSOR(col1, 0.0, 1);
    CHECK_OK(gantry_op_fill(back, 7.0f));
    CHECK_OK(gantry_op_col2im(col1, back, &g, 0));
    CHECK_TENSOR(back, 0.0, 1, 0, 0, 0, 0, 0, 0, 0, 0);

    /* Geometry errors: a kernel larger than the padded input. */
    gantry_conv_geometry bad = { 1, 1, 3, 3, 6, 6, 1, 1, 1, 1, 0, 0 };
    CHECK(gantry_conv_geometry_finish(&bad) != GANTRY_OK);

    gantry_tensor *all[] = { x, col, back, col9, col1 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* im2col then a GEMM with the weights [co, c*kh*kw] against a direct
 * convolution, and col2im of W^T dy against the direct input gradient. */
static void conv_against_direct(size_t n, size_t c, size_t h, size_t w, size_t co, size_t kh, size_t kw, size_t sh,
                                size_t sw, size_t ph, size_t pw)
{
    gantry_conv_geometry g = geometry(n, c, h, w, kh, kw, sh, sw, ph, pw);
    size_t oh = g.oh, ow = g.ow, nx = n * c * h * w, k = c * kh * kw, cols = n * oh * ow;
    float *xv = malloc(nx * sizeof *xv), *wv = malloc(co * k * sizeof *wv), *dyv = malloc(co * cols * sizeof *dyv);
    float *got = malloc((co * cols > nx ? co * cols : nx) * sizeof *got);
    float *want = malloc((co * cols > nx ? co * cols : nx) * sizeof *want);
    REQUIRE(xv && wv && dyv && got && want);
    for (size_t i = 0; i < nx; i++)
        xv[i] = gantry_philox_uniform(31, 0, i, -1.0f, 1.0f);
    for (size_t i = 0; i < co * k; i++)
        wv[i] = gantry_philox_uniform(32, 0, i, -1.0f, 1.0f);
    for (size_t i = 0; i < co * cols; i++)
        dyv[i] = gantry_philox_uniform(33, 0, i, -1.0f, 1.0f);

    /* y[b, o, oy, ox] = sum over ci, ki, kj of W[o, ci, ki, kj] x[b, ci, oy sh - ph + ki, ox sw - pw + kj],
     * compared in the GEMM's layout [o, (b oh + oy) ow + ox]. */
    double *dx = calloc(nx, sizeof *dx);
    REQUIRE(dx != NULL);
    for (size_t b = 0; b < n; b++)
        for (size_t o = 0; o < co; o++)
            for (size_t oy = 0; oy < oh; oy++)
                for (size_t ox = 0; ox < ow; ox++) {
                    double acc = 0.0;
                    size_t yat = o * cols + (b * oh + oy) * ow + ox;
                    for (size_t ci = 0; ci < c; ci++)
                        for (size_t ki = 0; ki < kh; ki++)
                            for (size_t kj = 0; kj < kw; kj++) {
                                long iy = (long)(oy * sh + ki) - (long)ph, ix = (long)(ox * sw + kj) - (long)pw;
                                if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w)
                                    continue;
                                size_t xat = ((b * c + ci) * h + (size_t)iy) * w + (size_t)ix;
                                double wt = wv[o * k + (ci * kh + ki) * kw + kj];
                                acc += wt * xv[xat];
                                dx[xat] += wt * dyv[yat];
                            }
                    want[yat] = (float)acc;
                }

    gantry_tensor *x = tnew(xv, n, c, h, w), *wt = tnew(wv, co, k, 0, 0), *col = tnew(NULL, k, cols, 0, 0);
    gantry_tensor *y = tnew(NULL, co, cols, 0, 0), *dy = tnew(dyv, co, cols, 0, 0), *dx_t = tnew(NULL, n, c, h, w);
    CHECK_OK(gantry_op_im2col(x, col, &g));
    CHECK_OK(gantry_op_gemm(0, 0, 1.0f, wt, col, 0.0f, y));
    tget(y, got);
    CHECK_ARRAY(got, want, co * cols, 1e-5);

    CHECK_OK(gantry_op_gemm(1, 0, 1.0f, wt, dy, 0.0f, col)); /* dcol = W^T dy */
    CHECK_OK(gantry_op_col2im(col, dx_t, &g, 0));
    tget(dx_t, got);
    for (size_t i = 0; i < nx; i++)
        want[i] = (float)dx[i];
    CHECK_ARRAY(got, want, nx, 1e-5);

    gantry_tensor *all[] = { x, wt, col, y, dy, dx_t };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
    free(xv);
    free(wv);
    free(dyv);
    free(got);
    free(want);
    free(dx);
}

/* The three convolution ops (ABI version 3) on a case worked by hand: x =
 * 1..9 as [1, 1, 3, 3], w = [1 2; 3 4] as [1, 1, 2, 2], stride 1, no
 * padding, so y is 2x2; dy all ones. */
static void test_conv_ops_literal(void)
{
    const float xv[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, wv[4] = { 1, 2, 3, 4 }, ones[4] = { 1, 1, 1, 1 };
    gantry_conv_geometry g = geometry(1, 1, 3, 3, 2, 2, 1, 1, 0, 0);
    gantry_tensor *x = tnew(xv, 1, 1, 3, 3), *w = tnew(wv, 1, 1, 2, 2), *y = tnew(NULL, 1, 1, 2, 2);
    gantry_tensor *dy = tnew(ones, 1, 1, 2, 2), *dx = tnew(NULL, 1, 1, 3, 3), *dw = tnew(NULL, 1, 1, 2, 2);
    gantry_tensor *work = tnew(NULL, (4 + 1) * 4, 0, 0, 0);
    CHECK_OK(gantry_op_fill(work, NAN)); /* scratch: written before it is read */

    /* y[oy, ox] = 1 x[oy, ox] + 2 x[oy, ox+1] + 3 x[oy+1, ox] + 4 x[oy+1, ox+1]:
     * 1+4+12+20, 2+6+15+24, 4+10+21+32, 5+12+24+36 */
    CHECK_OK(gantry_op_fill(y, NAN)); /* overwritten, not read */
    CHECK_OK(gantry_op_conv2d_forward(x, w, y, &g, 0, work));
    CHECK_TENSOR(y, 0.0, 37, 47, 67, 77);

    /* dx[i, j] = the sum of w over the windows covering (i, j): corners one
     * weight each, edges two, the centre all four */
    CHECK_OK(gantry_op_fill(dx, NAN));
    CHECK_OK(gantry_op_conv2d_backward_data(dy, w, dx, &g, 0, work));
    CHECK_TENSOR(dx, 0.0, 1, 1 + 2, 2, 1 + 3, 1 + 2 + 3 + 4, 2 + 4, 3, 3 + 4, 4);

    /* dw[ki, kj] = the sum of the 2x2 block of x at (ki, kj): 1+2+4+5,
     * 2+3+5+6, 4+5+7+8, 5+6+8+9; accumulating adds it again */
    CHECK_OK(gantry_op_fill(dw, NAN));
    CHECK_OK(gantry_op_conv2d_backward_weight(x, dy, dw, &g, 0, work));
    CHECK_TENSOR(dw, 0.0, 12, 16, 24, 28);
    CHECK_OK(gantry_op_conv2d_backward_weight(x, dy, dw, &g, 1, work));
    CHECK_TENSOR(dw, 0.0, 24, 32, 48, 56);

    gantry_tensor *all[] = { x, w, y, dy, dx, dw, work };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* conv2d_forward, conv2d_backward_data and conv2d_backward_weight (both
 * overwriting and accumulating) against the direct convolution in double:
 * one 7-loop nest over (b, o, oy, ox, ci, ki, kj) sums y, dx and dw.  The
 * forward and the weight gradient are double sums rounded once, as the
 * reference's gemm: within 1e-7 (half an ulp is 6e-8; measured within
 * 1e-8).  The input gradient also rounds each column entry before col2im
 * adds up to ceil(kh/sh) ceil(kw/sw) of them: within 1e-6 (measured 3e-7). */
static void conv_ops_against_direct(size_t n, size_t c, size_t h, size_t w, size_t co, size_t kh, size_t kw, size_t sh,
                                    size_t sw, size_t ph, size_t pw)
{
    gantry_conv_geometry g = geometry(n, c, h, w, kh, kw, sh, sw, ph, pw);
    size_t oh = g.oh, ow = g.ow, nx = n * c * h * w, nw = co * c * kh * kw, ny = n * co * oh * ow;
    size_t most = nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny);
    float *xv = malloc(nx * sizeof *xv), *wv = malloc(nw * sizeof *wv), *dyv = malloc(ny * sizeof *dyv);
    float *dw0 = malloc(nw * sizeof *dw0), *got = malloc(most * sizeof *got), *want = malloc(most * sizeof *want);
    double *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw);
    REQUIRE(xv && wv && dyv && dw0 && got && want && y && dx && dw);
    for (size_t i = 0; i < nx; i++)
        xv[i] = gantry_philox_uniform(41, 0, i, -1.0f, 1.0f);
    for (size_t i = 0; i < nw; i++) {
        wv[i] = gantry_philox_uniform(42, 0, i, -1.0f, 1.0f);
        dw0[i] = gantry_philox_uniform(44, 0, i, -1.0f, 1.0f);
    }
    for (size_t i = 0; i < ny; i++)
        dyv[i] = gantry_philox_uniform(43, 0, i, -1.0f, 1.0f);

    for (size_t b = 0; b < n; b++)
        for (size_t o = 0; o < co; o++)
            for (size_t oy = 0; oy < oh; oy++)
                for (size_t ox = 0; ox < ow; ox++) {
                    size_t yat = ((b * co + o) * oh + oy) * ow + ox;
                    for (size_t ci = 0; ci < c; ci++)
                        for (size_t ki = 0; ki < kh; ki++)
                            for (size_t kj = 0; kj < kw; kj++) {
                                long iy = (long)(oy * sh + ki) - (long)ph, ix = (long)(ox * sw + kj) - (long)pw;
                                if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w)
                                    continue;
                                size_t xat = ((b * c + ci) * h + (size_t)iy) * w + (size_t)ix;
                                size_t wat = ((o * c + ci) * kh + ki) * kw + kj;
                                y[yat] += (double)wv[wat] * xv[xat];
                                dx[xat] += (double)wv[wat] * dyv[yat];
                                dw[wat] += (double)xv[xat] * dyv[yat];
                            }
                }

    gantry_tensor *x_t = tnew(xv, n, c, h, w), *w_t = tnew(wv, co, c, kh, kw), *dy_t = tnew(dyv, n, co, oh, ow);
    gantry_tensor *y_t = tnew(NULL, n, co, oh, ow), *dx_t = tnew(NULL, n, c, h, w), *dw_t = tnew(NULL, co, c, kh, kw);
    gantry_tensor *work = tnew(NULL, (c * kh * kw + co) * n * oh * ow, 0, 0, 0);
    CHECK_OK(gantry_op_fill(work, NAN));
    CHECK_OK(gantry_op_fill(y_t, NAN));
    CHECK_OK(gantry_op_conv2d_forward(x_t, w_t, y_t, &g, 0, work));
    tget(y_t, got);
    for (size_t i = 0; i < ny; i++)
        want[i] = (float)y[i];
    CHECK_ARRAY(got, want, ny, 1e-7);

    CHECK_OK(gantry_op_fill(dx_t, NAN));
    CHECK_OK(gantry_op_conv2d_backward_data(dy_t, w_t, dx_t, &g, 0, work));
    tget(dx_t, got);
    for (size_t i = 0; i < nx; i++)
        want[i] = (float)dx[i];
    CHECK_ARRAY(got, want, nx, 1e-6);

    CHECK_OK(gantry_op_fill(dw_t, NAN));
    CHECK_OK(gantry_op_conv2d_backward_weight(x_t, dy_t, dw_t, &g, 0, work));
    tget(dw_t, got);
    for (size_t i = 0; i < nw; i++)
        want[i] = (float)dw[i];
    CHECK_ARRAY(got, want, nw, 1e-7);
    REQUIRE(gantry_tensor_write(dw_t, dw0, nw) == GANTRY_OK);
    CHECK_OK(gantry_op_conv2d_backward_weight(x_t, dy_t, dw_t, &g, 1, work));
    tget(dw_t, got);
    for (size_t i = 0; i < nw; i++)
        want[i] = (float)(dw0[i] + dw[i]);
    CHECK_ARRAY(got, want, nw, 1e-7);

    gantry_tensor *all[] = { x_t, w_t, dy_t, y_t, dx_t, dw_t, work };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
    free(xv);
    free(wv);
    free(dyv);
    free(dw0);
    free(got);
    free(want);
    free(y);
    free(dx);
    free(dw);
}

static void test_conv(void)
{
    test_im2col_literal();
    /*                  n  c  h  w co kh kw sh sw ph pw */
    conv_against_direct(2, 3, 5, 7, 4, 3, 2, 2, 1, 1, 0);
    conv_against_direct(1, 2, 7, 7, 3, 4, 4, 2, 2, 1, 1); /* DCGAN's k 4, s 2, p 1 */
    conv_against_direct(3, 1, 6, 5, 2, 5, 3, 3, 2, 2, 1);
    conv_against_direct(2, 2, 4, 4, 3, 1, 1, 3, 3, 2, 2); /* padding wider than the kernel: zero outputs */
    conv_against_direct(1, 3, 1, 1, 2, 3, 3, 1, 1, 1, 1); /* a single pixel */
    conv_against_direct(2, 4, 14, 14, 5, 4, 4, 2, 2, 1, 1);

    test_conv_ops_literal();
    /*                      n  c   h   w  co kh kw sh sw ph pw */
    conv_ops_against_direct(2, 3, 5, 7, 4, 3, 2, 2, 1, 1, 0);    /* kh != kw, strides 2 and 1 */
    conv_ops_against_direct(1, 2, 7, 7, 3, 4, 4, 2, 2, 1, 1);    /* DCGAN's k 4, s 2, p 1 */
    conv_ops_against_direct(3, 1, 6, 5, 13, 5, 3, 1, 2, 2, 1);   /* one image channel, 13 outputs */
    conv_ops_against_direct(2, 2, 4, 4, 3, 1, 1, 3, 3, 2, 2);    /* padding wider than the kernel */
    conv_ops_against_direct(1, 3, 1, 1, 2, 3, 3, 1, 1, 1, 1);    /* a single pixel */
    conv_ops_against_direct(2, 5, 4, 4, 7, 4, 4, 1, 1, 0, 0);    /* 4x4 onto 1x1, as a latent into G */
    conv_ops_against_direct(2, 16, 14, 14, 17, 4, 4, 2, 2, 1, 1); /* 256-term sums, 17 outputs */
    conv_ops_against_direct(1, 3, 9, 8, 1, 2, 5, 1, 1, 0, 2);    /* one output channel, kw > kh */
}

/* ---- conv: reshuffles --------------------------------------------------- */

static void test_reshuffle(void)
{
    /* x [2, 3, 2] = 0..11; y[j, i, :] = x[i, j, :] is [3, 2, 2] */
    float xv[12];
    for (int i = 0; i < 12; i++)
        xv[i] = (float)i;
    gantry_tensor *x = tnew(xv, 2, 3, 2, 0), *y = tnew(NULL, 3, 2, 2, 0);
    CHECK_OK(gantry_op_swap_axes(x, y, 2, 3, 2));
    CHECK_TENSOR(y, 0.0, 0, 1, 6, 7, /**/ 2, 3, 8, 9, /**/ 4, 5, 10, 11);
    /* inner 1: a plain transpose of [2, 6] */
    CHECK_OK(gantry_op_swap_axes(x, y, 2, 6, 1));
    CHECK_TENSOR(y, 0.0, 0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11);
    CHECK_STATUS(gantry_op_swap_axes(x, x, 2, 3, 2), GANTRY_INVALID_ARGUMENT); /* aliasing */

    /* copy_rows: columns [1, 3) of x [2, 3] into columns [2, 4) of y [2, 5] */
    const float av[6] = { 1, 2, 3, 4, 5, 6 };
    gantry_tensor *a = tnew(av, 2, 3, 0, 0), *b = tnew(NULL, 2, 5, 0, 0);
    CHECK_OK(gantry_op_fill(b, -1.0f));
    CHECK_OK(gantry_op_copy_rows(a, 3, 1, b, 5, 2, 2, 2));
    CHECK_TENSOR(b, 0.0, -1, -1, 2, 3, -1, /**/ -1, -1, 5, 6, -1);
    /* and back (the gradient of the concatenation): columns [2, 4) of b into [0, 2) of a */
    CHECK_OK(gantry_op_copy_rows(b, 5, 3, a, 3, 0, 2, 2));
    CHECK_TENSOR(a, 0.0, 3, -1, 3, 6, -1, 6);
    CHECK_STATUS(gantry_op_copy_rows(a, 3, 2, b, 5, 0, 2, 2), GANTRY_SHAPE_MISMATCH); /* columns past ldx */

    gantry_tensor *all[] = { x, y, a, b };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- loss: regression, softmax cross-entropy, logsumexp ----------------- */

static void test_regression_softmax_losses(void)
{
    /* x = {1, 2, -1}, t = {0, 4, -1}: x - t = {1, -2, 0}
     * MSE = (1 + 4 + 0) / 3 = 5/3, L1 = (1 + 2 + 0) / 3 = 1
     * dMSE = scale 2 (x - t) / 3, dL1 = scale sign(x - t) / 3 with sign(0) = 0 */
    const float xv[3] = { 1, 2, -1 }, tv[3] = { 0, 4, -1 };
    gantry_tensor *x = tnew(xv, 3, 0, 0, 0), *t = tnew(tv, 3, 0, 0, 0), *out = tnew(NULL, 1, 0, 0, 0);
    gantry_tensor *dx = tnew(NULL, 3, 0, 0, 0);
    CHECK_OK(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, x, t, out));
    CHECK_TENSOR(out, TOL, 1.66666667f);
    CHECK_OK(gantry_op_regression_loss_forward(GANTRY_LOSS_L1, x, t, out));
    CHECK_TENSOR(out, TOL, 1);
    CHECK_OK(gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, x, t, 1.0f, dx));
    CHECK_TENSOR(dx, TOL, 0.66666667f, -1.33333333f, 0);
    CHECK_OK(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, x, t, -3.0f, dx));
    CHECK_TENSOR(dx, TOL, -1, 1, 0);
    CHECK_OK(gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, x, t, 0.5f, x)); /* in place */
    CHECK_TENSOR(x, TOL, 0.33333333f, -0.66666667f, 0);

    /* Softmax cross-entropy, 3 rows of 2 classes:
     * row 0: x {0, 0}, t {1, 0}: softmax {1/2, 1/2}, loss ln 2 = 0.693147181
     * row 1: x {0, ln 3}, t {1/2, 1/2}: softmax {1/4, 3/4},
     *        loss -(ln(1/4) + ln(3/4)) / 2 = 0.836988056
     * row 2: x {1, -1}, t {0, 2} (not normalised): softmax_1 = 1 / (1 + e^2) = 0.119202922,
     *        loss -2 ln 0.119202922 = 4.25385602
     * mean = 5.78399126 / 3 = 1.92799709
     * dx = scale / 3 (softmax sum(t) - t): row 0 {-1/6, 1/6}, row 1 {-1/12, 1/12},
     *        row 2 (sum t = 2) {(2 * 0.880797078 - 0) / 3, (2 * 0.119202922 - 2) / 3} */
    const float cx[6] = { 0, 0, 0, 1.09861229f, 1, -1 }, ct[6] = { 1, 0, 0.5f, 0.5f, 0, 2 };
    gantry_tensor *sx = tnew(cx, 3, 2, 0, 0), *st = tnew(ct, 3, 2, 0, 0), *sdx = tnew(NULL, 3, 2, 0, 0);
    CHECK_OK(gantry_op_softmax_ce_forward(sx, st, out));
    CHECK_TENSOR(out, TOL, 1.92799709f);
    CHECK_OK(gantry_op_softmax_ce_backward(sx, st, 1.0f, sdx));
    CHECK_TENSOR(sdx, TOL, -0.166666667f, 0.166666667f, -0.0833333333f, 0.0833333333f, 0.587198052f, -0.587198052f);
    CHECK_OK(gantry_op_softmax_ce_backward(sx, st, -2.0f, sdx));
    CHECK_TENSOR(sdx, TOL, 0.333333333f, -0.333333333f, 0.166666667f, -0.166666667f, -1.1743961f, 1.1743961f);

    /* log-sum-exp of 3 rows of 3:
     * {0, ln 3, -inf}: ln(1 + 3 + 0) = 1.38629436 (a masked class)
     * {1000, 1000, 1000}: 1000 + ln 3 = 1001.09861 (no overflow)
     * {-1, 2, 0.5}: ln(e^-1 + e^2 + e^0.5) = 2.2413113
     * backward, dout {2, -1, 0.5}: dout_r softmax(x_r):
     * {1/2, 3/2, 0}, {-1/3, -1/3, -1/3}, 0.5 {0.0391126, 0.785597, 0.175290} */
    const float lx[9] = { 0, 1.09861229f, -INFINITY, 1000, 1000, 1000, -1, 2, 0.5f }, ld[3] = { 2, -1, 0.5f };
    gantry_tensor *lxt = tnew(lx, 3, 3, 0, 0), *lo = tnew(NULL, 3, 0, 0, 0), *ldt = tnew(ld, 3, 0, 0, 0);
    gantry_tensor *ldx = tnew(NULL, 3, 3, 0, 0);
    CHECK_OK(gantry_op_logsumexp_forward(lxt, lo));
    CHECK_TENSOR(lo, TOL, 1.38629436f, 1001.09861f, 2.2413113f);
    CHECK_OK(gantry_op_logsumexp_backward(lxt, ldt, ldx));
    CHECK_TENSOR(ldx, TOL, 0.5f, 1.5f, 0, -0.333333333f, -0.333333333f, -0.333333333f, 0.0195562866f,
                 0.392798517f, 0.0876451961f);

    gantry_tensor *all[] = { x, t, out, dx, sx, st, sdx, lxt, lo, ldt, ldx };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- random: dropout masks ---------------------------------------------- */

static void test_dropout(void)
{
    enum { N = 1000 };
    float got[N], want[N];
    gantry_tensor *m = tnew(NULL, N, 0, 0, 0);
    /* mask = u >= p ? 1 / (1 - p) : 0 with u the uniforms rand_uniform(seed, offset) draws */
    static const float ps[] = { 0.5f, 0.75f };
    static const float keep[] = { 2, 4 };
    for (int k = 0; k < 2; k++) {
        CHECK_OK(gantry_op_dropout_mask(m, ps[k], 42, 7));
        tget(m, got);
        size_t kept = 0;
        for (size_t i = 0; i < N; i++) {
            want[i] = gantry_philox_uniform(42, 7, i, 0.0f, 1.0f) >= ps[k] ? keep[k] : 0.0f;
            kept += got[i] != 0.0f;
        }
        CHECK_ARRAY(got, want, N, 0.0);
        CHECK(kept > N * (1 - ps[k]) - 60 && kept < N * (1 - ps[k]) + 60);
    }
    /* the same stream as rand_uniform */
    gantry_tensor *u = tnew(NULL, N, 0, 0, 0);
    CHECK_OK(gantry_op_rand_uniform(u, 42, 7, 0.0f, 1.0f));
    tget(u, want);
    CHECK_OK(gantry_op_dropout_mask(m, 0.5f, 42, 7));
    tget(m, got);
    int same = 1;
    for (size_t i = 0; i < N; i++)
        same &= got[i] == (want[i] >= 0.5f ? 2.0f : 0.0f);
    CHECK(same);
    /* p = 0 keeps everything with scale 1 */
    CHECK_OK(gantry_op_dropout_mask(m, 0.0f, 1, 0));
    tget(m, got);
    for (size_t i = 0; i < N; i++)
        want[i] = 1.0f;
    CHECK_ARRAY(got, want, N, 0.0);
    CHECK_STATUS(gantry_op_dropout_mask(m, 1.0f, 1, 0), GANTRY_INVALID_ARGUMENT);
    gantry_tensor_destroy(m);
    gantry_tensor_destroy(u);
}

/* ---- minibatch: discrimination ------------------------------------------ */

static void test_minibatch_disc(void)
{
    /* n = 3 samples, 1 kernel, 1 dim: m = {0, 1, 3}; L1 distances 1 (0-1),
     * 3 (0-2), 2 (1-2); o_i = sum_j exp(-d_ij) with d_ii = 0:
     * o = {1 + e^-1 + e^-3, 1 + e^-1 + e^-2, 1 + e^-3 + e^-2}
     *   = {1.41766651, 1.50321472, 1.18512235}
     * dout = {1, 0, 0}: dm_i = -sum_j (dout_i + dout_j) e^-d_ij sign(m_i - m_j)
     * dm_0 = e^-1 + e^-3 = 0.417666510, dm_1 = -e^-1, dm_2 = -e^-3 */
    const float mv[3] = { 0, 1, 3 }, dv[3] = { 1, 0, 0 };
    gantry_tensor *m = tnew(mv, 3, 1, 1, 0), *o = tnew(NULL, 3, 1, 0, 0), *d = tnew(dv, 3, 1, 0, 0);
    gantry_tensor *dm = tnew(NULL, 3, 1, 1, 0);
    CHECK_OK(gantry_op_minibatch_disc_forward(m, o));
    CHECK_TENSOR(o, TOL, 1.41766651f, 1.50321472f, 1.18512235f);
    CHECK_OK(gantry_op_fill(dm, NAN)); /* overwritten */
    CHECK_OK(gantry_op_minibatch_disc_backward(m, d, dm));
    CHECK_TENSOR(dm, TOL, 0.417666510f, -0.367879441f, -0.0497870684f);

    /* n = 2, b = 2 kernels, c = 2 dims: kernel 0 rows {0, 0} and {1, 0.5}
     * (distance 1.5), kernel 1 rows {1, 1} and {1, 1} (equal: distance 0).
     * o = {1 + e^-1.5, 2, 1 + e^-1.5, 2} (layout [n, b]).
     * dout = {1, 1, 0, 0}: kernel 0, sample 0: -(1 + 0) e^-1.5 sign(-1), sign(-0.5) = +e^-1.5 each;
     * sample 1: -e^-1.5 each; kernel 1: every difference is 0, sign(0) = 0. */
    const float m2v[8] = { 0, 0, 1, 1, /**/ 1, 0.5f, 1, 1 }, d2v[4] = { 1, 1, 0, 0 };
    gantry_tensor *m2 = tnew(m2v, 2, 2, 2, 0), *o2 = tnew(NULL, 2, 2, 0, 0), *d2 = tnew(d2v, 2, 2, 0, 0);
    gantry_tensor *dm2 = tnew(NULL, 2, 2, 2, 0);
    CHECK_OK(gantry_op_minibatch_disc_forward(m2, o2));
    CHECK_TENSOR(o2, TOL, 1.22313016f, 2, 1.22313016f, 2);
    CHECK_OK(gantry_op_minibatch_disc_backward(m2, d2, dm2));
    CHECK_TENSOR(dm2, TOL, 0.22313016f, 0.22313016f, 0, 0, -0.22313016f, -0.22313016f, 0, 0);

    gantry_tensor *all[] = { m, o, d, dm, m2, o2, d2, dm2 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

/* ---- norm: batch normalisation with given statistics -------------------- */

static void test_batchnorm_frozen(void)
{
    /* x [2, 2], gamma {2, 0.5}, beta {1, -1}, mean {1, -2}, invstd {0.5, 4}:
     * xhat = (x - mean) invstd; x = {3, -1, 0, -2.5} -> xhat = {1, 4, -0.5, -2}
     * y = gamma xhat + beta = {3, 1, 0, -2} */
    const float xv[4] = { 3, -1, 0, -2.5f }, gv[2] = { 2, 0.5f }, bv[2] = { 1, -1 }, mv[2] = { 1, -2 },
                iv[2] = { 0.5f, 4 };
    gantry_tensor *x = tnew(xv, 2, 2, 0, 0), *y = tnew(NULL, 2, 2, 0, 0), *gamma = tnew(gv, 2, 0, 0, 0);
    gantry_tensor *beta = tnew(bv, 2, 0, 0, 0), *mean = tnew(mv, 2, 0, 0, 0), *invstd = tnew(iv, 2, 0, 0, 0);
    CHECK_OK(gantry_op_batchnorm_forward_frozen(x, y, gamma, beta, mean, invstd));
    CHECK_TENSOR(y, TOL, 3, 1, 0, -2);

    /* dy = {1, 2, -1, 0.5}: dx = dy gamma invstd = {1, 4, -1, 1}
     * dgamma = sum dy xhat = {1 + 0.5, 8 - 1} = {1.5, 7}; dbeta = sum dy = {0, 2.5};
     * accumulating onto {10, 20} and {1, 2}: {11.5, 27}, {1, 4.5} */
    const float dyv[4] = { 1, 2, -1, 0.5f }, og[2] = { 10, 20 }, ob[2] = { 1, 2 };
    gantry_tensor *dy = tnew(dyv, 2, 2, 0, 0), *dx = tnew(NULL, 2, 2, 0, 0);
    gantry_tensor *dg = tnew(NULL, 2, 0, 0, 0), *db = tnew(NULL, 2, 0, 0, 0);
    CHECK_OK(gantry_op_fill(dg, NAN)); /* not accumulating: not read */
    CHECK_OK(gantry_op_fill(db, NAN));
    CHECK_OK(gantry_op_batchnorm_backward_frozen(x, dy, gamma, mean, invstd, dx, dg, db, 0));
    CHECK_TENSOR(dx, TOL, 1, 4, -1, 1);
    CHECK_TENSOR(dg, TOL, 1.5f, 7);
    CHECK_TENSOR(db, TOL, 0, 2.5f);
    REQUIRE(gantry_tensor_write(dg, og, 2) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(db, ob, 2) == GANTRY_OK);
    CHECK_OK(gantry_op_batchnorm_backward_frozen(x, dy, gamma, mean, invstd, dx, dg, db, 1));
    CHECK_TENSOR(dg, TOL, 11.5f, 27);
    CHECK_TENSOR(db, TOL, 1, 4.5f);

    /* [N, C, H, W] = [1, 2, 1, 2]: channel 0 {3, -1}, channel 1 {0, -2.5} */
    gantry_tensor *x4 = tnew(xv, 1, 2, 1, 2), *y4 = tnew(NULL, 1, 2, 1, 2);
    CHECK_OK(gantry_op_batchnorm_forward_frozen(x4, y4, gamma, beta, mean, invstd));
    /* channel 0: 2 (x - 1) 0.5 + 1 = {3, -1}; channel 1: 0.5 (x + 2) 4 - 1 = {3, -2} */
    CHECK_TENSOR(y4, TOL, 3, -1, 3, -2);

    gantry_tensor *all[] = { x, y, gamma, beta, mean, invstd, dy, dx, dg, db, x4, y4 };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        gantry_tensor_destroy(all[i]);
}

int main(void)
{
    REQUIRE(gantry_backend_open("reference", NULL, &be) == GANTRY_OK);
    test_module();
    test_gemm();
    test_bias();
    test_activations();
    test_batchnorm();
    test_elementwise();
    test_bce();
    test_sgd();
    test_adam();
    test_rmsprop();
    test_philox();
    test_conv();
    test_reshuffle();
    test_regression_softmax_losses();
    test_dropout();
    test_minibatch_disc();
    test_batchnorm_frozen();
    gantry_backend_close(be);
    return test_finish("test_reference_ops");
}
