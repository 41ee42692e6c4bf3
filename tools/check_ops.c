/* `gantry check`: every op of the backend vtable on the reference and on the
 * backend under test, over a grid of shapes, compared by NMSE.
 *
 * Shapes: 1, primes (7, 13, 31, 127), sizes one off powers of two (15, 17,
 * 33, 63, 65, 129, 255, 257, ...), so nothing is a multiple of a tile or a
 * vector width, plus batch 1 and batch 512.  Inputs come from Philox on the
 * host, keyed by the op and the case number, so every run is the same.
 * Every tensor is a view at an odd offset into a buffer guarded by
 * sentinels (tools/check_harness.c); elementwise ops, activations, clamp
 * and the BCE gradient also get NaN, +Inf and -Inf in their inputs, and
 * both backends must put non-finite values at the same positions.
 *
 * Limits (NMSE = sum((a-b)^2) / sum(b^2) against the reference b; the
 * buffer rows count differing elements).  The reference computes in double
 * and rounds once; a float backend rounds several times and sums in another
 * order, so the limit is 0 only where there is a single correctly rounded
 * IEEE operation (or none) per element, and looser only where a summation
 * order differs:
 *
 *   op                                  limit  why
 *   buffer_write/read/copy, fill        0      moves bits
 *   rand_uniform                        0      integer Philox, then one float multiply and one add,
 *                                              specified without contraction (gantry/philox.h)
 *   add, mul, scale, bias_add, clamp    0      one correctly rounded operation (or a comparison)
 *   activation identity/relu/           0      a comparison and at most one float product; exact
 *     leaky_relu forward and backward          in double too, so the reference rounds identically
 *   axpy                                1e-12  y + a*x fused (one rounding) or not (two): <= 1 ulp
 *   activation tanh/sigmoid fwd/bwd     1e-12  libm or vector tanh/exp are not correctly rounded:
 *   bce_logits_backward                        a few ulp per element, NMSE ~1e-14; any formula
 *   rand_normal                                error is >= 1e-6
 *   batchnorm_forward_eval              1e-12  (x - mean) * invstd * gamma + beta, sqrt: a few ulp
 *   sgd/adam/rmsprop_update             1e-12  sqrt and division in float: a few ulp of the update
 *   gemm                                1e-9   dot products of up to 1024 terms in another order
 *                                              (blocks, vector lanes, float partial sums): relative
 *                                              error ~sqrt(k) ulp, NMSE ~1e-13; one wrong element of
 *                                              512 x 257 already gives ~1e-5
 *   bias_grad                           1e-9   column sums over up to 512 values in another order:
 *                                              running float sums reach 2e-10 (one channel, 200
 *                                              seeds); a 1e-3 relative error in one of 257 channels
 *                                              gives ~4e-9, in a single channel 1e-6
 *   sum, mean                           1e-7   one scalar, so NMSE = (relative error)^2, of up to
 *                                              10^6 terms of both signs whose total can be small:
 *                                              pairwise/tree float sums (GPUs) reach ~1e-9, running
 *                                              float sums in 8 lanes ~3e-7 (simulated, 20 seeds);
 *                                              small n, where one lost or doubled term is ~1e-2,
 *                                              catch indexing errors
 *   bce_logits_forward                  1e-8   a mean of up to 10^6 positive terms: no cancellation;
 *                                              a running float sum reaches ~1e-9
 *   batchnorm_forward_train             1e-9   per-channel mean and variance over the batch in
 *                                              another order
 *   batchnorm_backward                  1e-9   two per-channel sums feed dx = k (m dy - sum dy -
 *                                              xhat sum(dy xhat)), a difference of three terms
 *
 * README.md (## gantry check) repeats this table with the errors measured
 * for the cpu backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check.h"

#define LIMIT_EXACT 0.0
#define LIMIT_ELEMENTWISE 1e-12
#define LIMIT_GEMM 1e-9
#define LIMIT_BIAS_GRAD 1e-9
#define LIMIT_SUM 1e-7
#define LIMIT_BCE_FORWARD 1e-8
#define LIMIT_BATCHNORM 1e-9

#define ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

/* Sizes of 1-D ops: 1, primes, one off powers of two, and up to 512 x 257. */
static const size_t sizes_full[] = { 1,   2,   3,   4,   5,    7,    8,     9,     13,         15,
                                     16,  17,  31,  32,  33,   63,   64,    65,    127,        128,
                                     129, 255, 256, 257, 1021, 4099, 65537, 131584 /* 512 x 257 */ };
static const size_t sizes_quick[] = { 1, 7, 13, 33, 129, 4099 };

typedef struct grid {
    const size_t *v;
    size_t n;
} grid;

static grid sizes_of(const check_suite *s)
{
    grid g = { sizes_full, ARRAY_LEN(sizes_full) };
    if (s->quick) {
        g.v = sizes_quick;
        g.n = ARRAY_LEN(sizes_quick);
    }
    return g;
}

/* [outer, channels, h, w] shapes of the per-channel ops; h = w = 0 means 2-D. */
typedef struct nchw {
    size_t n, c, h, w;
} nchw;

static const nchw channel_shapes_full[] = {
    { 1, 1, 0, 0 },    { 2, 1, 0, 0 },   { 1, 7, 0, 0 },   { 7, 13, 0, 0 },   { 13, 1, 0, 0 },
    { 64, 33, 0, 0 },  { 64, 256, 0, 0 }, { 31, 127, 0, 0 }, { 512, 1, 0, 0 }, { 512, 65, 0, 0 },
    { 512, 257, 0, 0 }, { 1, 3, 5, 7 },   { 2, 5, 3, 3 },   { 7, 13, 3, 3 },   { 3, 33, 7, 7 },
    { 64, 31, 2, 2 },  { 512, 3, 1, 5 }, { 13, 65, 1, 1 },
};
static const nchw channel_shapes_quick[] = {
    { 1, 1, 0, 0 }, { 2, 7, 0, 0 }, { 7, 13, 0, 0 }, { 512, 33, 0, 0 }, { 1, 3, 5, 7 }, { 13, 31, 3, 3 },
};

typedef struct channel_grid {
    const nchw *v;
    size_t n;
} channel_grid;

static channel_grid channel_shapes(const check_suite *s)
{
    channel_grid g = { channel_shapes_full, ARRAY_LEN(channel_shapes_full) };
    if (s->quick) {
        g.v = channel_shapes_quick;
        g.n = ARRAY_LEN(channel_shapes_quick);
    }
    return g;
}

static size_t nchw_inner(nchw d)
{
    return d.h ? d.h * d.w : 1;
}

static size_t nchw_numel(nchw d)
{
    return d.n * d.c * nchw_inner(d);
}

static void nchw_str(nchw d, char *buf, size_t size)
{
    if (d.h)
        snprintf(buf, size, "[%zu, %zu, %zu, %zu]", d.n, d.c, d.h, d.w);
    else
        snprintf(buf, size, "[%zu, %zu]", d.n, d.c);
}

/* A case key: the op's name hashed with the case number. */
static uint64_t case_seed(const char *op, size_t index)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = op; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull);
}

static float *arg_nchw(check_case *c, const char *name, int out, nchw d)
{
    if (d.h)
        return check_case_arg(c, name, out, 4, d.n, d.c, d.h, d.w);
    return check_case_arg(c, name, out, 2, d.n, d.c, 0, 0);
}

static float *arg_1d(check_case *c, const char *name, int out, size_t n)
{
    return check_case_arg(c, name, out, 1, n, 0, 0, 0);
}

static float *uniform_arg(check_case *c, const char *name, int out, size_t n, float lo, float hi)
{
    float *v = arg_1d(c, name, out, n);
    check_fill_uniform(c, v, n, lo, hi);
    return v;
}

static void fill_value(float *v, size_t n, float value)
{
    if (v)
        for (size_t i = 0; i < n; i++)
            v[i] = value;
}

/* ---- buffers ---------------------------------------------------------------
 * Transfers at many (offset, length) windows of a guarded buffer, checked
 * against what was written: every element must come back bit for bit and
 * nothing outside the window may change.  The error is the number of
 * elements that differ. */

static const size_t window_lengths[] = { 1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33, 64, 65, 127, 257, 1021, 4099 };
static const size_t window_offsets[] = { 0, 1, 2, 3, 5, 7, 8, 13, 17 };

enum { BUF_WRITE, BUF_READ, BUF_COPY };

static size_t count_differences(const float *a, const float *b, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += memcmp(&a[i], &b[i], sizeof *a) != 0;
    return bad;
}

/* A buffer of BUF_TOTAL floats holds every window with guards after it. */
#define BUF_TOTAL (17 + 4099 + 17 + CHECK_TRAIL)
#define HOST_GUARD 16

/* write: data into [off, off + len) of a buffer of sentinels.
 * read: [off, off + len) of a buffer of data into a host array followed by
 *       a guard of sentinels.
 * copy: data from another buffer at another offset, or (short windows at
 *       odd offsets) from far away in the same buffer, into [off, off + len);
 *       the source must stay as it was.
 * Fills want[] (BUF_TOTAL, or len + HOST_GUARD for read) and got[] with
 * what should and what did come back. */
static gantry_status buffer_window_run(gantry_backend *be, int mode, size_t off, size_t len, uint64_t seed,
                                       float *want, float *got, size_t *count)
{
    gantry_tensor *base = NULL, *view = NULL, *base2 = NULL, *view2 = NULL;
    gantry_status s = gantry_tensor_new(be, &base, BUF_TOTAL, 0, 0, 0);
    float *src = malloc(BUF_TOTAL * sizeof *src);
    if (!s && !src)
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!s && mode == BUF_READ) {
        for (size_t i = 0; i < BUF_TOTAL; i++)
            src[i] = gantry_philox_uniform(seed, 0, i, -8.0f, 8.0f);
        for (size_t i = 0; i < len + HOST_GUARD; i++) {
            want[i] = i < len ? src[off + i] : CHECK_SENTINEL;
            got[i] = CHECK_SENTINEL;
        }
        *count = len + HOST_GUARD;
        s = gantry_tensor_write(base, src, BUF_TOTAL);
        if (!s)
            s = gantry_tensor_view(base, off, 1, &len, &view);
        if (!s)
            s = gantry_tensor_read(view, got, len);
    } else if (!s) {
        for (size_t i = 0; i < BUF_TOTAL; i++)
            want[i] = CHECK_SENTINEL;
        *count = BUF_TOTAL;
        const float *data = src;
        for (size_t i = 0; i < len; i++)
            src[i] = gantry_philox_uniform(seed, 0, i, -8.0f, 8.0f);
        if (mode == BUF_WRITE) {
            s = gantry_tensor_write(base, want, BUF_TOTAL);
            if (!s)
                s = gantry_tensor_view(base, off, 1, &len, &view);
            if (!s)
                s = gantry_tensor_write(view, data, len);
        } else {
            int same = len <= 64 && off % 2 == 1;
            size_t off2 = (same ? 2048 : 0) + (off * 7 + 3) % 17;
            float *image = malloc(BUF_TOTAL * sizeof *image);
            if (!image)
                s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
            if (!s) {
                for (size_t i = 0; i < BUF_TOTAL; i++)
                    image[i] = CHECK_SENTINEL;
                memcpy(image + off2, data, len * sizeof *image);
                if (same)
                    memcpy(want, image, BUF_TOTAL * sizeof *want); /* the source stays */
                else
                    s = gantry_tensor_new(be, &base2, BUF_TOTAL, 0, 0, 0);
            }
            if (!s)
                s = gantry_tensor_write(same ? base : base2, image, BUF_TOTAL);
            if (!s && !same)
                s = gantry_tensor_write(base, want, BUF_TOTAL);
            if (!s)
                s = gantry_tensor_view(same ? base : base2, off2, 1, &len, &view2);
            if (!s)
                s = gantry_tensor_view(base, off, 1, &len, &view);
            if (!s)
                s = gantry_tensor_copy(view, view2);
            if (!s && !same) {
                s = gantry_tensor_read(base2, got, BUF_TOTAL);
                if (!s && count_differences(got, image, BUF_TOTAL))
                    s = gantry_set_error(GANTRY_INTERNAL, "buffer_copy changed its source");
            }
            free(image);
        }
        memcpy(want + off, data, len * sizeof *want);
        if (!s)
            s = gantry_tensor_read(base, got, BUF_TOTAL);
    }
    free(src);
    gantry_tensor_destroy(view2);
    gantry_tensor_destroy(base2);
    gantry_tensor_destroy(view);
    gantry_tensor_destroy(base);
    return s;
}

/* One window on one backend; returns differing elements (or SIZE_MAX when
 * an op failed, with `problem` set). */
static size_t buffer_window(gantry_backend *be, int mode, size_t off, size_t len, uint64_t seed, char *problem,
                            size_t psize)
{
    float *want = malloc(BUF_TOTAL * sizeof *want), *got = malloc(BUF_TOTAL * sizeof *got);
    size_t count = 0, bad = SIZE_MAX;
    gantry_status s = (want && got) ? buffer_window_run(be, mode, off, len, seed, want, got, &count)
                                    : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (s)
        snprintf(problem, psize, "%s failed: %s", gantry_backend_name(be), gantry_last_error());
    else
        bad = count_differences(got, want, count);
    free(want);
    free(got);
    return bad;
}

static void check_buffer(check_suite *s, const char *name, int mode)
{
    check_row r;
    check_row_begin(s, &r, name, "diffs", LIMIT_EXACT);
    size_t index = 0;
    for (size_t i = 0; i < ARRAY_LEN(window_lengths); i++)
        for (size_t j = 0; j < ARRAY_LEN(window_offsets); j++, index++) {
            if (s->quick && (i + j) % 3)
                continue;
            size_t len = window_lengths[i], off = window_offsets[j];
            char desc[96], problem[320] = "";
            snprintf(desc, sizeof desc, "%zu floats at offset %zu", len, off);
            size_t bad = 0;
            gantry_backend *bes[2] = { s->ref, s->test };
            for (int k = 0; k < 2 && !problem[0]; k++) {
                size_t b = buffer_window(bes[k], mode, off, len, case_seed(name, index), problem, sizeof problem);
                if (b != SIZE_MAX && b > bad)
                    bad = b;
                if (!problem[0] && b)
                    snprintf(problem, sizeof problem, "%s: %zu element(s) differ from what was written",
                             k ? s->backend_name : "reference", b);
            }
            check_row_case(s, &r, desc, (double)bad, problem);
        }
    check_row_end(s, &r);
}

/* ---- fill ------------------------------------------------------------------ */

static gantry_status run_fill(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_fill(t[0], c->f[0]);
}

static void check_fill(check_suite *s)
{
    static const float values[] = { 0.0f, -0.0f, 1.0f, -1.5f, 3.25e-5f, 1e30f, NAN, INFINITY };
    check_row r;
    check_row_begin(s, &r, "fill", "nmse", LIMIT_EXACT);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (size_t k = 0; k < ARRAY_LEN(values); k++, index++) {
            if (s->quick && k % 3)
                continue;
            check_case c;
            check_case_init(&c, case_seed("fill", index), run_fill);
            uniform_arg(&c, "x", CHECK_OUT, g.v[i], -1.0f, 1.0f);
            c.f[0] = values[k];
            snprintf(c.desc, sizeof c.desc, "n=%zu value=%g", g.v[i], (double)values[k]);
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- gemm ------------------------------------------------------------------ */

static gantry_status run_gemm(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_gemm(c->i[0], c->i[1], c->f[0], t[0], t[1], c->f[1], t[2]);
}

typedef struct mnk {
    size_t m, n, k;
} mnk;

/* The GAN's own products among them: 64 x 784 x 512 (D's first layer),
 * 64 x 1024 x 784 (G's last), and batch 512. */
static const mnk gemm_large_full[] = {
    { 512, 33, 257 }, { 129, 257, 65 }, { 257, 127, 129 }, { 512, 1, 129 },  { 1, 512, 257 },
    { 64, 512, 784 }, { 64, 784, 1024 }, { 512, 257, 31 }, { 127, 129, 255 },
};
static const mnk gemm_large_quick[] = { { 129, 65, 257 }, { 512, 31, 13 } };

static void gemm_case(check_suite *s, check_row *r, size_t index, int ta, int tb, mnk d)
{
    /* alpha, beta; beta == 0 runs over a C full of NaN, which must not be read. */
    static const float variants[][2] = { { 1.0f, 0.0f }, { 1.0f, 1.0f }, { 0.75f, -0.5f }, { -1.25f, 0.0f },
                                          { 2.0f, 0.5f }, { 0.0f, 1.5f } };
    const float *v = variants[index % ARRAY_LEN(variants)];
    check_case c;
    check_case_init(&c, case_seed("gemm", index), run_gemm);
    float *a = ta ? check_case_arg(&c, "A", CHECK_IN, 2, d.k, d.m, 0, 0)
                  : check_case_arg(&c, "A", CHECK_IN, 2, d.m, d.k, 0, 0);
    check_fill_uniform(&c, a, d.m * d.k, -1.0f, 1.0f);
    float *b = tb ? check_case_arg(&c, "B", CHECK_IN, 2, d.n, d.k, 0, 0)
                  : check_case_arg(&c, "B", CHECK_IN, 2, d.k, d.n, 0, 0);
    check_fill_uniform(&c, b, d.k * d.n, -1.0f, 1.0f);
    float *cm = check_case_arg(&c, "C", CHECK_OUT, 2, d.m, d.n, 0, 0);
    if (v[1] == 0.0f)
        fill_value(cm, d.m * d.n, NAN);
    else
        check_fill_uniform(&c, cm, d.m * d.n, -1.0f, 1.0f);
    c.i[0] = ta;
    c.i[1] = tb;
    c.f[0] = v[0];
    c.f[1] = v[1];
    snprintf(c.desc, sizeof c.desc, "%c%c m=%zu n=%zu k=%zu alpha=%g beta=%g%s", ta ? 'T' : 'N', tb ? 'T' : 'N', d.m,
             d.n, d.k, (double)v[0], (double)v[1], v[1] == 0.0f ? " (C NaN)" : "");
    check_case_run(s, r, &c);
}

static void check_gemm(check_suite *s)
{
    static const size_t dims_full[] = { 1, 7, 13, 33, 65 }, dims_quick[] = { 1, 7, 33 };
    const size_t *dims = s->quick ? dims_quick : dims_full;
    size_t nd = s->quick ? ARRAY_LEN(dims_quick) : ARRAY_LEN(dims_full);
    const mnk *large = s->quick ? gemm_large_quick : gemm_large_full;
    size_t nl = s->quick ? ARRAY_LEN(gemm_large_quick) : ARRAY_LEN(gemm_large_full);
    check_row r;
    check_row_begin(s, &r, "gemm", "nmse", LIMIT_GEMM);
    size_t index = 0;
    for (int t = 0; t < 4; t++) {
        int ta = t >> 1, tb = t & 1;
        for (size_t i = 0; i < nd; i++)
            for (size_t j = 0; j < nd; j++)
                for (size_t k = 0; k < nd; k++)
                    gemm_case(s, &r, index++, ta, tb, (mnk){ dims[i], dims[j], dims[k] });
        for (size_t i = 0; i < nl; i++)
            gemm_case(s, &r, index++, ta, tb, large[i]);
    }
    check_row_end(s, &r);
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

static void check_bias_add(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "bias_add", "nmse", LIMIT_EXACT);
    channel_grid g = channel_shapes(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int nonfinite = 0; nonfinite < 2; nonfinite++, index++) {
            nchw d = g.v[i];
            check_case c;
            check_case_init(&c, case_seed("bias_add", index), run_bias_add);
            float *x = arg_nchw(&c, "x", CHECK_OUT, d);
            check_fill_uniform(&c, x, nchw_numel(d), -2.0f, 2.0f);
            float *b = uniform_arg(&c, "bias", CHECK_IN, d.c, -1.0f, 1.0f);
            if (nonfinite) {
                check_inject_nonfinite(x, nchw_numel(d), index);
                if (d.c > 3)
                    check_inject_nonfinite(b, d.c, index + 1);
            }
            char shape[64];
            nchw_str(d, shape, sizeof shape);
            snprintf(c.desc, sizeof c.desc, "x %s%s", shape, nonfinite ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

static void check_bias_grad(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "bias_grad", "nmse", LIMIT_BIAS_GRAD);
    channel_grid g = channel_shapes(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int acc = 0; acc < 2; acc++, index++) {
            nchw d = g.v[i];
            check_case c;
            check_case_init(&c, case_seed("bias_grad", index), run_bias_grad);
            float *dy = arg_nchw(&c, "dy", CHECK_IN, d);
            check_fill_uniform(&c, dy, nchw_numel(d), -1.0f, 1.0f);
            /* Without accumulation the old values must not matter: large
             * finite garbage (the ABI does not promise that they are never
             * read, so no NaN). */
            float *db = arg_1d(&c, "dbias", CHECK_OUT, d.c);
            check_fill_uniform(&c, db, d.c, acc ? -1.0f : -1e6f, acc ? 1.0f : 1e6f);
            c.i[0] = acc;
            char shape[64];
            nchw_str(d, shape, sizeof shape);
            snprintf(c.desc, sizeof c.desc, "dy %s accumulate=%d", shape, acc);
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- activations ----------------------------------------------------------- */

static const struct {
    gantry_activation act;
    const char *name;
    double limit;
} activations[] = {
    { GANTRY_ACT_IDENTITY, "identity", LIMIT_EXACT },   { GANTRY_ACT_RELU, "relu", LIMIT_EXACT },
    { GANTRY_ACT_LEAKY_RELU, "leaky_relu", LIMIT_EXACT }, { GANTRY_ACT_TANH, "tanh", LIMIT_ELEMENTWISE },
    { GANTRY_ACT_SIGMOID, "sigmoid", LIMIT_ELEMENTWISE },
};

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

static void check_activation(check_suite *s, int backward)
{
    grid g = sizes_of(s);
    for (size_t a = 0; a < ARRAY_LEN(activations); a++) {
        char name[48];
        snprintf(name, sizeof name, "activation_%s(%s)", backward ? "backward" : "forward", activations[a].name);
        check_row r;
        check_row_begin(s, &r, name, "nmse", activations[a].limit);
        size_t index = 0;
        for (size_t i = 0; i < g.n; i++)
            for (int variant = 0; variant < 4; variant++, index++) {
                /* bit 0: NaN/Inf in the inputs; bit 1: in place */
                int nonfinite = variant & 1, in_place = variant >> 1;
                size_t n = g.v[i];
                float param = activations[a].act == GANTRY_ACT_LEAKY_RELU ? (index % 3 ? 0.2f : 0.01f) : 0.0f;
                check_case c;
                check_case_init(&c, case_seed(name, index), backward ? run_act_backward : run_act_forward);
                c.i[0] = (int)activations[a].act;
                c.i[1] = in_place;
                c.f[0] = param;
                if (!backward) {
                    float *x = arg_1d(&c, "x", in_place ? CHECK_OUT : CHECK_IN, n);
                    activation_input(&c, x, n);
                    if (nonfinite)
                        check_inject_nonfinite(x, n, index);
                    if (!in_place)
                        uniform_arg(&c, "y", CHECK_OUT, n, -1.0f, 1.0f);
                } else {
                    float *x = arg_1d(&c, "x", CHECK_IN, n);
                    activation_input(&c, x, n);
                    float *y = arg_1d(&c, "y", CHECK_IN, n);
                    for (size_t j = 0; x && y && j < n; j++)
                        y[j] = (float)host_activation(activations[a].act, param, x[j]);
                    float *dy = uniform_arg(&c, "dy", in_place ? CHECK_OUT : CHECK_IN, n, -1.0f, 1.0f);
                    if (nonfinite) {
                        check_inject_nonfinite(x, n, index);
                        check_inject_nonfinite(y, n, index + 5);
                        check_inject_nonfinite(dy, n, index + 11);
                    }
                    if (!in_place)
                        uniform_arg(&c, "dx", CHECK_OUT, n, -1.0f, 1.0f);
                }
                snprintf(c.desc, sizeof c.desc, "n=%zu%s%s%s", n, param != 0.0f && param != 0.2f ? " slope 0.01" : "",
                         in_place ? " in place" : "", nonfinite ? " with NaN/Inf" : "");
                check_case_run(s, &r, &c);
            }
        check_row_end(s, &r);
    }
}

/* ---- batch normalisation --------------------------------------------------- */

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

/* x with a different mean and spread per channel, as activations have. */
static void bn_input(check_case *c, float *x, nchw d)
{
    size_t inner = nchw_inner(d), n = nchw_numel(d);
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
static void bn_stats(const float *x, nchw d, float eps, float *mean, float *invstd)
{
    size_t inner = nchw_inner(d), count = d.n * inner;
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

static void check_batchnorm(check_suite *s, int which)
{
    static const char *const names[] = { "batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward" };
    static const check_run_fn runs[] = { run_bn_train, run_bn_eval, run_bn_backward };
    const char *name = names[which];
    check_row r;
    check_row_begin(s, &r, name, "nmse", which == 1 ? LIMIT_ELEMENTWISE : LIMIT_BATCHNORM);
    channel_grid g = channel_shapes(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 2; variant++, index++) {
            nchw d = g.v[i];
            if (which != 1 && d.n * nchw_inner(d) < 2)
                continue; /* batch statistics need two values per channel */
            const float eps = variant ? 1e-3f : 1e-5f, momentum = variant ? 1.0f : 0.1f;
            check_case c;
            check_case_init(&c, case_seed(name, index), runs[which]);
            c.f[0] = momentum;
            c.f[1] = eps;
            c.i[0] = variant; /* backward: accumulate into dgamma and dbeta */
            float *x = arg_nchw(&c, "x", CHECK_IN, d);
            bn_input(&c, x, d);
            size_t n = nchw_numel(d);
            if (which == 2) {
                check_fill_uniform(&c, arg_nchw(&c, "dy", CHECK_IN, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
                float *mean = arg_1d(&c, "save_mean", CHECK_IN, d.c);
                float *invstd = arg_1d(&c, "save_invstd", CHECK_IN, d.c);
                bn_stats(x, d, eps, mean, invstd);
                check_fill_uniform(&c, arg_nchw(&c, "dx", CHECK_OUT, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "dgamma", CHECK_OUT, d.c, variant ? -1.0f : -1e6f, variant ? 1.0f : 1e6f);
                uniform_arg(&c, "dbeta", CHECK_OUT, d.c, variant ? -1.0f : -1e6f, variant ? 1.0f : 1e6f);
            } else {
                check_fill_uniform(&c, arg_nchw(&c, "y", CHECK_OUT, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
                uniform_arg(&c, "beta", CHECK_IN, d.c, -0.5f, 0.5f);
                int out = which == 0 ? CHECK_OUT : CHECK_IN;
                uniform_arg(&c, "running_mean", out, d.c, -0.5f, 0.5f);
                uniform_arg(&c, "running_var", out, d.c, 0.25f, 4.0f);
                if (which == 0) {
                    uniform_arg(&c, "save_mean", CHECK_OUT, d.c, -9.0f, 9.0f);
                    uniform_arg(&c, "save_invstd", CHECK_OUT, d.c, -9.0f, 9.0f);
                }
            }
            char shape[64];
            nchw_str(d, shape, sizeof shape);
            if (which == 2)
                snprintf(c.desc, sizeof c.desc, "x %s accumulate=%d", shape, variant);
            else if (which == 1)
                snprintf(c.desc, sizeof c.desc, "x %s eps=%g", shape, (double)eps);
            else
                snprintf(c.desc, sizeof c.desc, "x %s momentum=%g eps=%g", shape, (double)momentum, (double)eps);
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- elementwise ----------------------------------------------------------- */

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

static gantry_status run_bce_backward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_bce_logits_backward(t[0], c->f[0], c->f[1], t[1]);
}

static const char *const alias_names[] = { "", " y=a", " y=b" };

static void check_binary(check_suite *s, const char *name, check_run_fn run)
{
    check_row r;
    check_row_begin(s, &r, name, "nmse", LIMIT_EXACT);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 6; variant++, index++) {
            int alias = variant % 3, nonfinite = variant / 3;
            size_t n = g.v[i];
            check_case c;
            check_case_init(&c, case_seed(name, index), run);
            c.i[0] = alias;
            float *a = uniform_arg(&c, "a", alias == 1 ? CHECK_OUT : CHECK_IN, n, -4.0f, 4.0f);
            float *b = uniform_arg(&c, "b", alias == 2 ? CHECK_OUT : CHECK_IN, n, -4.0f, 4.0f);
            if (!alias)
                uniform_arg(&c, "y", CHECK_OUT, n, -1.0f, 1.0f);
            if (nonfinite) {
                check_inject_nonfinite(a, n, index);
                check_inject_nonfinite(b, n, index + 7);
                if (b && n > 3)
                    b[n / 2] = 0.0f; /* Inf * 0 */
                if (a && n > 3)
                    a[n / 2] = INFINITY;
            }
            snprintf(c.desc, sizeof c.desc, "n=%zu%s%s", n, alias_names[alias], nonfinite ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

static void check_scale(check_suite *s, int axpy)
{
    static const float alphas[] = { 2.5f, -0.75f, 0.0f, 1.0f, 1e-3f, -3.0f };
    const char *name = axpy ? "axpy" : "scale";
    check_row r;
    check_row_begin(s, &r, name, "nmse", axpy ? LIMIT_ELEMENTWISE : LIMIT_EXACT);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 4; variant++, index++) {
            int nonfinite = variant & 1, in_place = variant >> 1;
            size_t n = g.v[i];
            check_case c;
            check_case_init(&c, case_seed(name, index), axpy ? run_axpy : run_scale);
            c.f[0] = alphas[index % ARRAY_LEN(alphas)];
            c.i[0] = in_place && !axpy;
            float *x = uniform_arg(&c, "x", c.i[0] ? CHECK_OUT : CHECK_IN, n, -4.0f, 4.0f);
            float *y = NULL;
            if (!c.i[0])
                y = uniform_arg(&c, "y", CHECK_OUT, n, -4.0f, 4.0f);
            if (nonfinite) {
                check_inject_nonfinite(x, n, index);
                if (axpy)
                    check_inject_nonfinite(y, n, index + 3);
            }
            snprintf(c.desc, sizeof c.desc, "n=%zu alpha=%g%s%s", n, (double)c.f[0], c.i[0] ? " in place" : "",
                     nonfinite ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

static void check_clamp(check_suite *s)
{
    static const float bounds[][2] = { { -1.0f, 1.0f }, { 0.0f, 0.5f }, { -0.25f, -0.25f }, { -INFINITY, 0.5f },
                                       { -0.01f, 0.01f } };
    check_row r;
    check_row_begin(s, &r, "clamp", "nmse", LIMIT_EXACT);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 4; variant++, index++) {
            size_t n = g.v[i];
            const float *b = bounds[index % ARRAY_LEN(bounds)];
            check_case c;
            check_case_init(&c, case_seed("clamp", index), run_clamp);
            float *x = uniform_arg(&c, "x", CHECK_OUT, n, -3.0f, 3.0f);
            if (variant & 1)
                check_inject_nonfinite(x, n, index);
            c.f[0] = b[0];
            c.f[1] = b[1];
            snprintf(c.desc, sizeof c.desc, "n=%zu [%g, %g]%s", n, (double)b[0], (double)b[1],
                     variant & 1 ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- reductions and the loss ---------------------------------------------- */

static gantry_status run_sum(gantry_tensor *const *t, const check_case *c)
{
    return c->i[0] ? gantry_op_mean(t[0], t[1]) : gantry_op_sum(t[0], t[1]);
}

static gantry_status run_bce_forward(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_bce_logits_forward(t[0], c->f[0], t[1]);
}

static void check_reduction(check_suite *s, const char *name)
{
    static const size_t extra[] = { 1000003 };
    int mean = !strcmp(name, "mean"), bce = !strcmp(name, "bce_logits_forward");
    static const float targets[] = { 1.0f, 0.0f, 0.9f, 0.25f };
    check_row r;
    check_row_begin(s, &r, name, "nmse", bce ? LIMIT_BCE_FORWARD : LIMIT_SUM);
    grid g = sizes_of(s);
    size_t count = g.n + (s->quick ? 0 : ARRAY_LEN(extra)), index = 0;
    for (size_t i = 0; i < count; i++)
        for (int variant = 0; variant < 2; variant++, index++) {
            size_t n = i < g.n ? g.v[i] : extra[i - g.n];
            check_case c;
            check_case_init(&c, case_seed(name, index), bce ? run_bce_forward : run_sum);
            c.i[0] = mean;
            /* variant 1: values of one sign, so the sum is not small */
            float *x = bce ? uniform_arg(&c, "x", CHECK_IN, n, -8.0f, 8.0f)
                           : uniform_arg(&c, "x", CHECK_IN, n, variant ? 0.0f : -1.0f, 1.0f);
            if (bce && x && n > 2) {
                x[0] = 30.0f; /* far into both tails */
                x[n - 1] = -30.0f;
            }
            uniform_arg(&c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
            c.f[0] = targets[index % ARRAY_LEN(targets)];
            if (bce)
                snprintf(c.desc, sizeof c.desc, "n=%zu target=%g", n, (double)c.f[0]);
            else
                snprintf(c.desc, sizeof c.desc, "n=%zu x in [%d, 1]", n, variant ? 0 : -1);
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

static void check_bce_backward(check_suite *s)
{
    static const float targets[] = { 1.0f, 0.0f, 0.9f };
    static const float scales[] = { 1.0f, -1.0f, 0.5f, 0.0f };
    check_row r;
    check_row_begin(s, &r, "bce_logits_backward", "nmse", LIMIT_ELEMENTWISE);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 4; variant++, index++) {
            size_t n = g.v[i];
            check_case c;
            check_case_init(&c, case_seed("bce_logits_backward", index), run_bce_backward);
            float *x = uniform_arg(&c, "x", CHECK_IN, n, -8.0f, 8.0f);
            if (variant & 1)
                check_inject_nonfinite(x, n, index);
            uniform_arg(&c, "dx", CHECK_OUT, n, -1.0f, 1.0f);
            c.f[0] = targets[index % ARRAY_LEN(targets)];
            c.f[1] = scales[index % ARRAY_LEN(scales)];
            snprintf(c.desc, sizeof c.desc, "n=%zu target=%g scale=%g%s", n, (double)c.f[0], (double)c.f[1],
                     variant & 1 ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- optimizers ------------------------------------------------------------ */

static gantry_status run_sgd(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_sgd_update(t[0], t[1], c->i[0] ? t[2] : NULL, c->f[0], c->f[1], c->f[2]);
}

static gantry_status run_adam(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_adam_update(t[0], t[1], t[2], t[3], c->f[0], c->f[1], c->f[2], c->f[3], c->f[4], c->u[0]);
}

static gantry_status run_rmsprop(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_rmsprop_update(t[0], t[1], t[2], c->f[0], c->f[1], c->f[2], c->f[3]);
}

static void check_optimizer(check_suite *s, const char *name)
{
    int kind = !strcmp(name, "sgd_update") ? 0 : !strcmp(name, "adam_update") ? 1 : 2;
    static const uint64_t adam_steps[] = { 1, 2, 10, 1000 };
    check_row r;
    check_row_begin(s, &r, name, "nmse", LIMIT_ELEMENTWISE);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 4; variant++, index++) {
            size_t n = g.v[i];
            float wd = variant & 1 ? 1e-2f : 0.0f;
            check_case c;
            check_case_init(&c, case_seed(name, index), kind == 0 ? run_sgd : kind == 1 ? run_adam : run_rmsprop);
            uniform_arg(&c, "p", CHECK_OUT, n, -1.0f, 1.0f);
            uniform_arg(&c, "g", CHECK_IN, n, -0.1f, 0.1f);
            if (kind == 0) {
                /* momentum 0 with and without v (NULL) */
                float momentum = variant & 2 ? 0.9f : 0.0f;
                c.i[0] = momentum != 0.0f || index % 3 == 0;
                if (c.i[0])
                    uniform_arg(&c, "v", momentum != 0.0f ? CHECK_OUT : CHECK_IN, n, -0.1f, 0.1f);
                c.f[0] = 0.01f;
                c.f[1] = momentum;
                c.f[2] = wd;
                snprintf(c.desc, sizeof c.desc, "n=%zu momentum=%g weight_decay=%g%s", n, (double)momentum,
                         (double)wd, c.i[0] ? "" : " v=NULL");
            } else if (kind == 1) {
                uniform_arg(&c, "m", CHECK_OUT, n, -0.05f, 0.05f);
                uniform_arg(&c, "v", CHECK_OUT, n, 0.0f, 1e-3f);
                c.f[0] = variant & 2 ? 1e-3f : 2e-4f;
                c.f[1] = variant & 2 ? 0.9f : 0.5f;
                c.f[2] = 0.999f;
                c.f[3] = 1e-8f;
                c.f[4] = wd;
                c.u[0] = adam_steps[index % ARRAY_LEN(adam_steps)];
                snprintf(c.desc, sizeof c.desc, "n=%zu lr=%g beta1=%g step=%llu weight_decay=%g", n, (double)c.f[0],
                         (double)c.f[1], (unsigned long long)c.u[0], (double)wd);
            } else {
                uniform_arg(&c, "sq", CHECK_OUT, n, 0.0f, 1e-2f);
                c.f[0] = 1e-2f;
                c.f[1] = variant & 2 ? 0.9f : 0.99f;
                c.f[2] = 1e-8f;
                c.f[3] = wd;
                snprintf(c.desc, sizeof c.desc, "n=%zu alpha=%g weight_decay=%g", n, (double)c.f[1], (double)wd);
            }
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- random fills ---------------------------------------------------------- */

static gantry_status run_rand(gantry_tensor *const *t, const check_case *c)
{
    if (c->i[0])
        return gantry_op_rand_normal(t[0], c->u[0], c->u[1], c->f[0], c->f[1]);
    return gantry_op_rand_uniform(t[0], c->u[0], c->u[1], c->f[0], c->f[1]);
}

static void check_rand(check_suite *s, int normal)
{
    /* Keys and counters with high words set, and offsets that cross 2^32. */
    static const uint64_t seeds[] = { 0, 1, 0xDEADBEEFCAFEF00Dull, 20140610 };
    static const uint64_t offsets[] = { 0, 5, 0xFFFFFFFEull, 1ull << 40 };
    static const float params[][2] = { { 0.0f, 1.0f }, { -1.0f, 1.0f }, { -0.5f, 3.0f }, { 2.0f, 2.0f } };
    const char *name = normal ? "rand_normal" : "rand_uniform";
    check_row r;
    check_row_begin(s, &r, name, "nmse", normal ? LIMIT_ELEMENTWISE : LIMIT_EXACT);
    grid g = sizes_of(s);
    size_t index = 0;
    for (size_t i = 0; i < g.n; i++)
        for (int variant = 0; variant < 4; variant++, index++) {
            size_t n = g.v[i];
            check_case c;
            check_case_init(&c, case_seed(name, index), run_rand);
            uniform_arg(&c, "x", CHECK_OUT, n, -1.0f, 1.0f);
            c.i[0] = normal;
            c.u[0] = seeds[(index + i) % ARRAY_LEN(seeds)];
            c.u[1] = offsets[index % ARRAY_LEN(offsets)];
            const float *p = params[(index / 2) % ARRAY_LEN(params)];
            /* normal: (mean, std) = (p0, |p1 - p0|) */
            c.f[0] = p[0];
            c.f[1] = normal ? fabsf(p[1] - p[0]) : p[1];
            snprintf(c.desc, sizeof c.desc, "n=%zu seed=%llu offset=%llu %s=%g %s=%g", n, (unsigned long long)c.u[0],
                     (unsigned long long)c.u[1], normal ? "mean" : "lo", (double)c.f[0], normal ? "std" : "hi",
                     (double)c.f[1]);
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- the table ------------------------------------------------------------- */

const char *const check_op_names[] = {
    "buffer_write", "buffer_read", "buffer_copy", "fill", "gemm", "bias_add", "bias_grad", "activation_forward",
    "activation_backward", "batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward", "add", "mul",
    "scale", "axpy", "sum", "mean", "bce_logits_forward", "bce_logits_backward", "sgd_update", "adam_update",
    "rmsprop_update", "clamp", "rand_uniform", "rand_normal",
    /* ABI version 2: tools/check_ops_v2.c */
    "im2col", "col2im", "swap_axes", "copy_rows", "regression_loss_forward", "regression_loss_backward",
    "softmax_ce_forward", "softmax_ce_backward", "logsumexp_forward", "logsumexp_backward", "dropout_mask",
    "minibatch_disc_forward", "minibatch_disc_backward", "batchnorm_forward_frozen", "batchnorm_backward_frozen",
    "vbn_forward", "vbn_backward", "gradcheck", "trajectory", NULL,
};

void check_ops_run(check_suite *s, const char *name)
{
    if (!strcmp(name, "buffer_write"))
        check_buffer(s, name, BUF_WRITE);
    else if (!strcmp(name, "buffer_read"))
        check_buffer(s, name, BUF_READ);
    else if (!strcmp(name, "buffer_copy"))
        check_buffer(s, name, BUF_COPY);
    else if (!strcmp(name, "fill"))
        check_fill(s);
    else if (!strcmp(name, "gemm"))
        check_gemm(s);
    else if (!strcmp(name, "bias_add"))
        check_bias_add(s);
    else if (!strcmp(name, "bias_grad"))
        check_bias_grad(s);
    else if (!strcmp(name, "activation_forward"))
        check_activation(s, 0);
    else if (!strcmp(name, "activation_backward"))
        check_activation(s, 1);
    else if (!strcmp(name, "batchnorm_forward_train"))
        check_batchnorm(s, 0);
    else if (!strcmp(name, "batchnorm_forward_eval"))
        check_batchnorm(s, 1);
    else if (!strcmp(name, "batchnorm_backward"))
        check_batchnorm(s, 2);
    else if (!strcmp(name, "add"))
        check_binary(s, name, run_add);
    else if (!strcmp(name, "mul"))
        check_binary(s, name, run_mul);
    else if (!strcmp(name, "scale"))
        check_scale(s, 0);
    else if (!strcmp(name, "axpy"))
        check_scale(s, 1);
    else if (!strcmp(name, "sum") || !strcmp(name, "mean") || !strcmp(name, "bce_logits_forward"))
        check_reduction(s, name);
    else if (!strcmp(name, "bce_logits_backward"))
        check_bce_backward(s);
    else if (!strcmp(name, "sgd_update") || !strcmp(name, "adam_update") || !strcmp(name, "rmsprop_update"))
        check_optimizer(s, name);
    else if (!strcmp(name, "clamp"))
        check_clamp(s);
    else if (!strcmp(name, "rand_uniform"))
        check_rand(s, 0);
    else if (!strcmp(name, "rand_normal"))
        check_rand(s, 1);
    else if (!strcmp(name, "gradcheck"))
        check_grad_run(s);
    else if (!strcmp(name, "trajectory"))
        check_trajectory_run(s);
    else
        check_ops_v2_run(s, name);
}
