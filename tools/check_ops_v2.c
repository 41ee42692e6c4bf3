/* `gantry check`, ABI version 2: the ops appended to the backend vtable
 * (im2col, col2im, swap_axes, copy_rows, the regression, softmax
 * cross-entropy and log-sum-exp losses, dropout masks, minibatch
 * discrimination, batch norm with given statistics) on the reference and on
 * the backend under test, with the harness and conventions of
 * tools/check_ops.c: Philox inputs keyed by op and case, every tensor a
 * guarded view at an odd offset, NMSE against the reference, NaN/Inf
 * positions where the ABI defines them, a quick and a full grid.
 *
 * Grids: convolutions over n in {1, 2, 7}, c in {1, 3, 13}, h, w in {1, 5,
 * 7, 14, 28}, kernels 1..5 (non-square too), strides 1..3, padding 0..2 (a
 * fixed list of corner cases and a deterministic pseudo-random sample), and
 * in the full grid the DCGAN layers (batch 64, 1, 64 or 128 channels, 28x28,
 * 14x14 and 7x7, kernel 4, stride 2, padding 1); swap_axes over a, b, inner
 * in {1, 3, 7, 64, 129} (up to 64 x 64 x 129 elements); copy_rows with column offsets on both sides;
 * softmax and log-sum-exp with k in {1, 2, 10, 11, 257} and 1..512 rows,
 * one-hot, general and unnormalised targets, and logits up to +-100;
 * regression losses with n up to 100003; dropout with p in {0, 0.3, 0.5,
 * 0.9} over several seeds and offsets; minibatch discrimination with n in
 * {1, 2, 7, 64}, b in {1, 5, 16}, c in {1, 3, 5}, with duplicate samples;
 * frozen batch norm on [N, C] and [N, C, H, W].
 *
 * Limits (NMSE against the reference b, which computes in double and rounds
 * once; see tools/check_ops.c for the general reasoning):
 *
 *   op                           limit  why
 *   im2col, swap_axes,           0      move values (im2col also writes exact zeros in the padding)
 *     copy_rows
 *   col2im                       1e-11  each image element sums at most ceil(kh/sh) * ceil(kw/sw) <= 25
 *                                       col entries (plus the old value with accumulate) in some
 *                                       order: <= 25 roundings of values of one size, NMSE ~1e-15;
 *                                       one lost or doubled entry among 10^3 elements gives ~1e-4
 *   regression_loss_backward     1e-12  2 (x - t) scale / n or sign(x - t) scale / n: a difference
 *                                       (exact sign) and two or three products, <= 2 ulp
 *   dropout_mask                 1e-12  which elements are kept is exact (integer Philox, an exact
 *                                       uniform, one comparison); 1 / (1 - p) computed in float is two
 *                                       roundings, 1 ulp; one misplaced zero gives >= 1 / n >= 1e-5
 *   batchnorm_forward_frozen     1e-12  (x - mean) invstd gamma + beta: a few roundings, a few ulp
 *   regression_loss_forward      1e-8   one scalar, a mean of up to 1e5 non-negative terms: no
 *   softmax_ce_forward                  cancellation; running float sums of 10^6 such terms reach
 *                                       ~1e-9 (bce_logits_forward), fewer terms less; softmax_ce adds
 *                                       a log-sum-exp per row (expf, logf: a few ulp)
 *   logsumexp_forward            1e-9   one value per row from a sum of up to 257 exponentials in
 *   logsumexp_backward                  another order (and expf/logf): relative error ~1e-7 per
 *   softmax_ce_backward                 value, NMSE ~1e-14; the backwards scale every element of
 *                                       a row by exp(x - lse) with that row's sum; one wrong element
 *                                       of 512 x 257 gives ~1e-5
 *   minibatch_disc_forward       1e-9   sums over the batch (up to 64 terms) of exp of float L1
 *   minibatch_disc_backward             distances; the backward has terms of both signs that may
 *                                       cancel, so as batchnorm_backward and bias_grad
 *   batchnorm_backward_frozen    1e-9   dx is elementwise, dgamma and dbeta are per-channel sums
 *   vbn_forward, vbn_backward    1e-9   per-example sums over H*W feed every element of the example;
 *                                       dgamma and dbeta are per-channel sums (gradcheck(virtual_batchnorm)
 *                                       in tools/check_grad.c checks the backward against differences)
 *                                       over up to 512 x 35 values in another order (as bias_grad)
 *
 * NaN/Inf: injected where the ABI's formula defines the result whatever
 * the implementation: data movement (im2col, swap_axes, copy_rows: copied
 * as they are), col2im (IEEE sums of NaN and +-Inf do not depend on the
 * order), the MSE and L1 gradients (sign(NaN) = 0), the frozen batch-norm
 * forward, and non-finite logits in the softmax cross-entropy and
 * log-sum-exp, forward and backward, as backend.h defines them after
 * torch.logsumexp: rows with a NaN, with -Inf at some entries, with +Inf,
 * with +Inf and NaN, all -Inf; and for the cross-entropy forward also -Inf
 * logits only where the target is 0 (those terms contribute nothing, so the
 * loss stays finite and is compared as a number).
 *
 * Besides the comparisons, on the backend under test alone:
 *   gradcheck(...)    central differences of each backward op's own forward
 *                     (metric "fd", the method and tolerance 1e-2 of
 *                     tools/check_grad.c), kept away from the kinks of L1
 *                     and of minibatch discrimination;
 *   adjoint(...)      <A x, c> == <x, A^T c> for im2col/col2im, swap_axes
 *                     (with itself, axes swapped) and copy_rows (with
 *                     itself, the other way): relative error, limit 1e-5.
 *                     The data are small integers, so both inner products
 *                     are exact in any summation order and a correct
 *                     backend gives exactly 0.
 * They run with the op they exercise (`--op col2im` also runs
 * adjoint(im2col,col2im), `--op softmax_ce_backward` gradcheck(softmax_ce)).
 *
 * README.md (## gantry check) repeats this table with the measured errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check.h"
#include "tools/check_grad.h"

#define LIMIT_EXACT 0.0
#define LIMIT_ELEMENTWISE 1e-12
#define LIMIT_COL2IM 1e-11
#define LIMIT_MEAN 1e-8
#define LIMIT_ROWS 1e-9
#define LIMIT_ADJOINT 1e-5

#define ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

#define TRY(expr)                                                                                       \
    do {                                                                                                \
        gantry_status try_s_ = (expr);                                                                  \
        if (try_s_)                                                                                     \
            return try_s_;                                                                              \
    } while (0)

/* ---- helpers (as in check_ops.c) -------------------------------------------- */

/* A case key: the op's name hashed with the case number. */
static uint64_t case_seed(const char *op, size_t index)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = op; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull);
}

/* splitmix64: picks the generated grid points. */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static float *arg_1d(check_case *c, const char *name, int out, size_t n)
{
    return check_case_arg(c, name, out, 1, n, 0, 0, 0);
}

static float *arg_2d(check_case *c, const char *name, int out, size_t d0, size_t d1)
{
    return check_case_arg(c, name, out, 2, d0, d1, 0, 0);
}

static float *uniform_arg(check_case *c, const char *name, int out, size_t n, float lo, float hi)
{
    float *v = arg_1d(c, name, out, n);
    check_fill_uniform(c, v, n, lo, hi);
    return v;
}

/* ---- convolution geometries --------------------------------------------------- */

typedef struct conv {
    size_t n, c, h, w, kh, kw, sh, sw, ph, pw;
} conv;

/* Corner cases: all of size 1, kernels that mostly read padding, strides
 * larger than the kernel (image positions no column reads: col2im must
 * still write them), kernels as large as the padded input, non-square
 * everything. */
static const conv conv_fixed[] = {
    { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 },   { 1, 1, 1, 1, 3, 3, 1, 1, 1, 1 },   { 1, 1, 5, 5, 3, 3, 1, 1, 1, 1 },
    { 2, 3, 7, 5, 3, 2, 2, 1, 0, 1 },   { 2, 3, 5, 7, 1, 1, 3, 3, 0, 0 },   { 1, 1, 1, 5, 1, 5, 1, 1, 0, 2 },
    { 1, 13, 5, 1, 5, 1, 2, 1, 2, 0 },  { 7, 1, 28, 14, 5, 3, 3, 2, 2, 0 }, { 2, 13, 7, 7, 2, 4, 3, 1, 2, 1 },
    { 1, 3, 28, 28, 4, 4, 2, 2, 1, 1 }, { 7, 13, 14, 14, 5, 5, 1, 1, 2, 2 }, { 2, 1, 7, 28, 4, 5, 3, 2, 0, 2 },
};
/* DCGAN on 28x28 at batch 64: D's convolutions 28 -> 14 (1 channel in)
 * and 14 -> 7 (64 in), G's transposed ones 7 -> 14 -> 28 (col2im with the
 * same geometries), and a 7x7 layer of 128 channels.  (14x14 with 128
 * channels, a 2048 x 3136 col, would double the time of these rows and
 * exercise nothing the 64-channel one does not.) */
static const conv conv_dcgan[] = {
    { 64, 1, 28, 28, 4, 4, 2, 2, 1, 1 },
    { 64, 64, 14, 14, 4, 4, 2, 2, 1, 1 },
    { 64, 128, 7, 7, 4, 4, 2, 2, 1, 1 },
};
#define CONV_GENERATED_FULL 40
#define CONV_GENERATED_QUICK 4

/* The i-th pseudo-random geometry over the grid, made to fit. */
static conv conv_generated(size_t i)
{
    static const size_t ns[] = { 1, 2, 7 }, cs[] = { 1, 3, 13 }, hw[] = { 1, 5, 7, 14, 28 };
    uint64_t r = mix(0xC0417ull + i);
    conv g;
    g.n = ns[r % 3];
    r /= 3;
    g.c = cs[r % 3];
    r /= 3;
    g.h = hw[r % 5];
    r /= 5;
    g.w = r % 3 == 0 ? g.h : hw[(r / 3) % 5]; /* square a third of the time */
    r /= 15;
    g.kh = 1 + r % 5;
    r /= 5;
    g.kw = r % 3 == 0 ? g.kh : 1 + (r / 3) % 5;
    r /= 15;
    g.sh = 1 + r % 3;
    r /= 3;
    g.sw = r % 2 ? g.sh : 1 + (r / 2) % 3;
    r /= 6;
    g.ph = r % 3;
    r /= 3;
    g.pw = r % 2 ? g.ph : (r / 2) % 3;
    while (g.kh > g.h + 2 * g.ph) {
        if (g.ph < 2)
            g.ph++;
        else
            g.kh--;
    }
    while (g.kw > g.w + 2 * g.pw) {
        if (g.pw < 2)
            g.pw++;
        else
            g.kw--;
    }
    return g;
}

static size_t conv_count(const check_suite *s, int dcgan)
{
    if (s->quick)
        return ARRAY_LEN(conv_fixed) + CONV_GENERATED_QUICK;
    return ARRAY_LEN(conv_fixed) + CONV_GENERATED_FULL + (dcgan ? ARRAY_LEN(conv_dcgan) : 0);
}

static conv conv_at(size_t i)
{
    if (i < ARRAY_LEN(conv_fixed))
        return conv_fixed[i];
    i -= ARRAY_LEN(conv_fixed);
    if (i < CONV_GENERATED_FULL)
        return conv_generated(i);
    return conv_dcgan[i - CONV_GENERATED_FULL];
}

static gantry_conv_geometry conv_geometry(conv d)
{
    gantry_conv_geometry g = { d.n, d.c, d.h, d.w, d.kh, d.kw, d.sh, d.sw, d.ph, d.pw, 0, 0 };
    gantry_conv_geometry_finish(&g); /* the grid only holds geometries that fit */
    return g;
}

static void conv_str(conv d, char *buf, size_t size)
{
    snprintf(buf, size, "x [%zu, %zu, %zu, %zu] k %zux%zu s %zu,%zu p %zu,%zu", d.n, d.c, d.h, d.w, d.kh, d.kw,
             d.sh, d.sw, d.ph, d.pw);
}

/* The geometry travels in a case's u[] (every size < 2^16). */
static void conv_pack(check_case *c, conv d)
{
    c->u[0] = d.n | d.c << 16 | (uint64_t)d.h << 32 | (uint64_t)d.w << 48;
    c->u[1] = d.kh | d.kw << 16 | (uint64_t)d.sh << 32 | (uint64_t)d.sw << 48;
    c->u[2] = d.ph | d.pw << 16;
}

static conv conv_unpack(const check_case *c)
{
    conv d;
    d.n = c->u[0] & 0xFFFF;
    d.c = (c->u[0] >> 16) & 0xFFFF;
    d.h = (c->u[0] >> 32) & 0xFFFF;
    d.w = c->u[0] >> 48;
    d.kh = c->u[1] & 0xFFFF;
    d.kw = (c->u[1] >> 16) & 0xFFFF;
    d.sh = (c->u[1] >> 32) & 0xFFFF;
    d.sw = c->u[1] >> 48;
    d.ph = c->u[2] & 0xFFFF;
    d.pw = (c->u[2] >> 16) & 0xFFFF;
    return d;
}

/* ---- im2col, col2im ------------------------------------------------------------- */

static gantry_status run_im2col(gantry_tensor *const *t, const check_case *c)
{
    gantry_conv_geometry g = conv_geometry(conv_unpack(c));
    return gantry_op_im2col(t[0], t[1], &g);
}

static gantry_status run_col2im(gantry_tensor *const *t, const check_case *c)
{
    gantry_conv_geometry g = conv_geometry(conv_unpack(c));
    return gantry_op_col2im(t[0], t[1], &g, c->i[0]);
}

static void check_im2col(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "im2col", "nmse", LIMIT_EXACT);
    size_t count = conv_count(s, 1), index = 0;
    for (size_t i = 0; i < count; i++)
        for (int nonfinite = 0; nonfinite < 2; nonfinite++, index++) {
            conv d = conv_at(i);
            gantry_conv_geometry g = conv_geometry(d);
            if (nonfinite && d.n == 64)
                continue; /* the DCGAN layers once */
            size_t nx = d.n * d.c * d.h * d.w, rows = d.c * d.kh * d.kw, cols = d.n * g.oh * g.ow;
            check_case c;
            check_case_init(&c, case_seed("im2col", index), run_im2col);
            conv_pack(&c, d);
            float *x = check_case_arg(&c, "x", CHECK_IN, 4, d.n, d.c, d.h, d.w);
            check_fill_uniform(&c, x, nx, -2.0f, 2.0f);
            if (nonfinite)
                check_inject_nonfinite(x, nx, index);
            /* garbage where the padding's zeros must go */
            check_fill_uniform(&c, arg_2d(&c, "col", CHECK_OUT, rows, cols), rows * cols, 5.0f, 9.0f);
            char shape[96];
            conv_str(d, shape, sizeof shape);
            snprintf(c.desc, sizeof c.desc, "%s%s", shape, nonfinite ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

static void check_col2im(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "col2im", "nmse", LIMIT_COL2IM);
    size_t count = conv_count(s, 1), index = 0;
    for (size_t i = 0; i < count; i++)
        for (int variant = 0; variant < 3; variant++, index++) {
            /* 0: overwrite, 1: accumulate, 2: either, with NaN/Inf in col */
            conv d = conv_at(i);
            gantry_conv_geometry g = conv_geometry(d);
            if (variant == 2 && d.n == 64)
                continue;
            int acc = variant == 2 ? (int)(i % 2) : variant;
            size_t nx = d.n * d.c * d.h * d.w, rows = d.c * d.kh * d.kw, cols = d.n * g.oh * g.ow;
            check_case c;
            check_case_init(&c, case_seed("col2im", index), run_col2im);
            conv_pack(&c, d);
            c.i[0] = acc;
            float *col = arg_2d(&c, "col", CHECK_IN, rows, cols);
            check_fill_uniform(&c, col, rows * cols, -1.0f, 1.0f);
            if (variant == 2)
                check_inject_nonfinite(col, rows * cols, index);
            /* Overwriting: large finite garbage (the ABI does not promise
             * that x is not read when beta is 0, so no NaN). */
            float *x = check_case_arg(&c, "x", CHECK_OUT, 4, d.n, d.c, d.h, d.w);
            check_fill_uniform(&c, x, nx, acc ? -1.0f : -1e6f, acc ? 1.0f : 1e6f);
            char shape[96];
            conv_str(d, shape, sizeof shape);
            snprintf(c.desc, sizeof c.desc, "%s accumulate=%d%s", shape, acc, variant == 2 ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- swap_axes, copy_rows --------------------------------------------------------- */

static const size_t axis_sizes[] = { 1, 3, 7, 64, 129 };

static gantry_status run_swap_axes(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_swap_axes(t[0], t[1], (size_t)c->u[0], (size_t)c->u[1], (size_t)c->u[2]);
}

static void check_swap_axes(check_suite *s)
{
    const size_t na = ARRAY_LEN(axis_sizes);
    check_row r;
    check_row_begin(s, &r, "swap_axes", "nmse", LIMIT_EXACT);
    size_t index = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < na; j++)
            for (size_t k = 0; k < na; k++, index++) {
                size_t a = axis_sizes[i], b = axis_sizes[j], inner = axis_sizes[k], n = a * b * inner;
                if (s->quick && (i + 2 * j + 3 * k) % 5)
                    continue;
                if (n > 600000)
                    continue; /* 64 x 129 x 129 and 129^3: time, and nothing new */
                int nonfinite = index % 7 == 3;
                check_case c;
                check_case_init(&c, case_seed("swap_axes", index), run_swap_axes);
                c.u[0] = a;
                c.u[1] = b;
                c.u[2] = inner;
                float *x = check_case_arg(&c, "x", CHECK_IN, 3, a, b, inner, 0);
                check_fill_uniform(&c, x, n, -4.0f, 4.0f);
                if (nonfinite)
                    check_inject_nonfinite(x, n, index);
                check_fill_uniform(&c, check_case_arg(&c, "y", CHECK_OUT, 3, b, a, inner, 0), n, -1.0f, 1.0f);
                snprintf(c.desc, sizeof c.desc, "a=%zu b=%zu inner=%zu%s", a, b, inner,
                         nonfinite ? " with NaN/Inf" : "");
                check_case_run(s, &r, &c);
            }
    check_row_end(s, &r);
}

/* Column layouts of copy_rows: x [rows, ldx] columns [x_col, x_col + cols)
 * into y [rows, ldy] columns [y_col, ...): whole rows, the two halves of a
 * concatenation and their gradients (slicing out), odd offsets. */
typedef struct row_layout {
    size_t ldx, x_col, ldy, y_col, cols;
} row_layout;

static const row_layout row_layouts[] = {
    { 1, 0, 1, 0, 1 },       { 5, 0, 5, 0, 5 },     { 3, 0, 10, 0, 3 },      { 7, 0, 10, 3, 7 },
    { 10, 3, 7, 0, 7 },      { 13, 5, 33, 17, 8 },  { 64, 1, 129, 64, 63 },  { 129, 0, 257, 128, 129 },
    { 33, 32, 1, 0, 1 },     { 257, 127, 65, 1, 64 },
};
static const size_t row_counts[] = { 1, 2, 7, 64, 129, 512 };

static gantry_status run_copy_rows(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_copy_rows(t[0], (size_t)c->u[0], (size_t)c->u[1], t[1], (size_t)c->u[2], (size_t)c->u[3],
                               (size_t)c->i[0], (size_t)c->i[1]);
}

static void check_copy_rows(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "copy_rows", "nmse", LIMIT_EXACT);
    size_t index = 0;
    for (size_t i = 0; i < ARRAY_LEN(row_counts); i++)
        for (size_t j = 0; j < ARRAY_LEN(row_layouts); j++, index++) {
            if (s->quick && (i + j) % 3)
                continue;
            size_t rows = row_counts[i];
            row_layout l = row_layouts[j];
            int nonfinite = index % 5 == 2;
            check_case c;
            check_case_init(&c, case_seed("copy_rows", index), run_copy_rows);
            c.u[0] = l.ldx;
            c.u[1] = l.x_col;
            c.u[2] = l.ldy;
            c.u[3] = l.y_col;
            c.i[0] = (int)rows;
            c.i[1] = (int)l.cols;
            float *x = arg_2d(&c, "x", CHECK_IN, rows, l.ldx);
            check_fill_uniform(&c, x, rows * l.ldx, -4.0f, 4.0f);
            if (nonfinite)
                check_inject_nonfinite(x, rows * l.ldx, index);
            /* the columns of y outside the copy must stay as they are */
            check_fill_uniform(&c, arg_2d(&c, "y", CHECK_OUT, rows, l.ldy), rows * l.ldy, -1.0f, 1.0f);
            snprintf(c.desc, sizeof c.desc, "rows=%zu x cols [%zu, %zu) of %zu -> y cols [%zu, %zu) of %zu%s", rows,
                     l.x_col, l.x_col + l.cols, l.ldx, l.y_col, l.y_col + l.cols, l.ldy,
                     nonfinite ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
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

static void check_regression(check_suite *s, int backward)
{
    static const float scales[] = { 1.0f, -1.0f, 0.5f, 2.5f, 0.0f };
    const char *name = backward ? "regression_loss_backward" : "regression_loss_forward";
    const size_t *sizes = s->quick ? loss_sizes_quick : loss_sizes_full;
    size_t nsizes = s->quick ? ARRAY_LEN(loss_sizes_quick) : ARRAY_LEN(loss_sizes_full);
    check_row r;
    check_row_begin(s, &r, name, "nmse", backward ? LIMIT_ELEMENTWISE : LIMIT_MEAN);
    size_t index = 0;
    for (size_t i = 0; i < nsizes; i++)
        for (int variant = 0; variant < 6; variant++, index++) {
            /* bit 0: L1; variant 2, 3: backward in place (forward: plain
             * again, other inputs); variant 4, 5: NaN/Inf (the L1 gradient
             * with sign(NaN) = 0) */
            int l1 = variant & 1, in_place = backward && variant / 2 == 1, nonfinite = variant / 2 == 2;
            size_t n = sizes[i];
            check_case c;
            check_case_init(&c, case_seed(name, index), backward ? run_regression_backward : run_regression_forward);
            c.i[0] = l1 ? GANTRY_LOSS_L1 : GANTRY_LOSS_MSE;
            c.i[1] = in_place;
            c.f[0] = scales[index % ARRAY_LEN(scales)];
            float *x = arg_1d(&c, "x", in_place ? CHECK_OUT : CHECK_IN, n);
            float *t = arg_1d(&c, "t", CHECK_IN, n);
            regression_inputs(&c, x, t, n);
            if (nonfinite)
                check_inject_nonfinite(x, n, index);
            if (backward) {
                if (!in_place)
                    uniform_arg(&c, "dx", CHECK_OUT, n, -1.0f, 1.0f);
                snprintf(c.desc, sizeof c.desc, "%s n=%zu scale=%g%s%s", l1 ? "L1" : "MSE", n, (double)c.f[0],
                         in_place ? " in place" : "", nonfinite ? " with NaN/Inf" : "");
            } else {
                uniform_arg(&c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
                snprintf(c.desc, sizeof c.desc, "%s n=%zu%s", l1 ? "L1" : "MSE", n, nonfinite ? " with NaN/Inf" : "");
            }
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
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

/* which: 0 softmax_ce_forward, 1 softmax_ce_backward, 2 logsumexp_forward,
 * 3 logsumexp_backward */
static void check_softmax(check_suite *s, int which)
{
    static const char *const names[] = { "softmax_ce_forward", "softmax_ce_backward", "logsumexp_forward",
                                         "logsumexp_backward" };
    static const check_run_fn runs[] = { run_softmax_ce_forward, run_softmax_ce_backward, run_logsumexp_forward,
                                         run_logsumexp_backward };
    static const double limits[] = { LIMIT_MEAN, LIMIT_ROWS, LIMIT_ROWS, LIMIT_ROWS };
    static const float scales[] = { 1.0f, 0.5f, -2.0f, 1.0f, 0.0f };
    const char *name = names[which];
    int ce = which < 2;
    const size_t *rowsv = s->quick ? row_counts_quick : row_counts_full;
    size_t nrows = s->quick ? ARRAY_LEN(row_counts_quick) : ARRAY_LEN(row_counts_full);
    check_row r;
    check_row_begin(s, &r, name, "nmse", limits[which]);
    size_t index = 0;
    for (size_t i = 0; i < nrows; i++)
        for (size_t j = 0; j < ARRAY_LEN(class_counts); j++)
            for (int variant = 0; variant < 6; variant++, index++) {
                /* 0..2: the target kinds (log-sum-exp: plain), 3: logits up
                 * to +-100, 4: NaN/Inf logits (inject_logits), 5: the CE
                 * forward with -Inf logits where one-hot targets are 0 */
                int large = variant == 3, nonfinite = variant == 4, minus_inf_t0 = variant == 5;
                int tkind = variant < TARGET_COUNT ? variant
                            : minus_inf_t0          ? TARGET_ONE_HOT
                                                    : (int)(index % TARGET_COUNT);
                if (!ce && variant > 0 && variant < 3)
                    continue;
                if (minus_inf_t0 && which != 0)
                    continue;
                if (s->quick && variant == 3 && i > 0)
                    continue;
                size_t rows = rowsv[i], k = class_counts[j];
                check_case c;
                check_case_init(&c, case_seed(name, index), runs[which]);
                c.f[0] = scales[index % ARRAY_LEN(scales)];
                float *x = arg_2d(&c, "x", CHECK_IN, rows, k);
                logits(&c, x, rows * k, large);
                if (nonfinite)
                    inject_logits(x, rows, k, index);
                if (ce) {
                    float *t = arg_2d(&c, "t", CHECK_IN, rows, k);
                    targets(&c, t, rows, k, tkind);
                    if (minus_inf_t0)
                        inject_logits_where_t0(x, t, rows * k, index);
                    if (which == 0)
                        uniform_arg(&c, "out", CHECK_OUT, 1, -1.0f, 1.0f);
                    else
                        check_fill_uniform(&c, arg_2d(&c, "dx", CHECK_OUT, rows, k), rows * k, -1.0f, 1.0f);
                    snprintf(c.desc, sizeof c.desc, "[%zu, %zu] %s%s%s", rows, k, target_names[tkind],
                             large ? " logits +-100" : "",
                             nonfinite ? " with NaN/Inf" : minus_inf_t0 ? " with -Inf where t = 0" : "");
                    if (which == 1) {
                        size_t used = strlen(c.desc);
                        snprintf(c.desc + used, sizeof c.desc - used, " scale=%g", (double)c.f[0]);
                    }
                } else if (which == 2) {
                    uniform_arg(&c, "out", CHECK_OUT, rows, -1.0f, 1.0f);
                    snprintf(c.desc, sizeof c.desc, "[%zu, %zu]%s%s", rows, k, large ? " logits +-100" : "",
                             nonfinite ? " with NaN/Inf" : "");
                } else {
                    uniform_arg(&c, "dout", CHECK_IN, rows, -2.0f, 2.0f);
                    check_fill_uniform(&c, arg_2d(&c, "dx", CHECK_OUT, rows, k), rows * k, -1.0f, 1.0f);
                    snprintf(c.desc, sizeof c.desc, "[%zu, %zu]%s%s", rows, k, large ? " logits +-100" : "",
                             nonfinite ? " with NaN/Inf" : "");
                }
                check_case_run(s, &r, &c);
            }
    check_row_end(s, &r);
}

/* ---- dropout ------------------------------------------------------------------------ */

static gantry_status run_dropout(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_dropout_mask(t[0], c->f[0], c->u[0], c->u[1]);
}

static void check_dropout(check_suite *s)
{
    static const size_t sizes_full[] = { 1, 2, 7, 13, 33, 129, 257, 4099, 65537, 100003 };
    static const size_t sizes_quick[] = { 1, 13, 257, 4099 };
    static const float ps[] = { 0.0f, 0.3f, 0.5f, 0.9f };
    /* keys and counters with high words set, offsets that cross 2^32 */
    static const uint64_t seeds[] = { 0, 1, 0xDEADBEEFCAFEF00Dull, 20140610 };
    static const uint64_t offsets[] = { 0, 5, 0xFFFFFFFEull, 1ull << 40 };
    const size_t *sizes = s->quick ? sizes_quick : sizes_full;
    size_t nsizes = s->quick ? ARRAY_LEN(sizes_quick) : ARRAY_LEN(sizes_full);
    check_row r;
    check_row_begin(s, &r, "dropout_mask", "nmse", LIMIT_ELEMENTWISE);
    size_t index = 0;
    for (size_t i = 0; i < nsizes; i++)
        for (size_t k = 0; k < ARRAY_LEN(ps); k++, index++) {
            size_t n = sizes[i];
            check_case c;
            check_case_init(&c, case_seed("dropout_mask", index), run_dropout);
            uniform_arg(&c, "mask", CHECK_OUT, n, -1.0f, 1.0f);
            c.f[0] = ps[k];
            c.u[0] = seeds[(index + i) % ARRAY_LEN(seeds)];
            c.u[1] = offsets[index % ARRAY_LEN(offsets)];
            snprintf(c.desc, sizeof c.desc, "n=%zu p=%g seed=%llu offset=%llu", n, (double)c.f[0],
                     (unsigned long long)c.u[0], (unsigned long long)c.u[1]);
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- minibatch discrimination -------------------------------------------------------- */

static const size_t mbd_n[] = { 1, 2, 7, 64 }, mbd_b[] = { 1, 5, 16 }, mbd_c[] = { 1, 3, 5 };

static gantry_status run_mbd_forward(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_minibatch_disc_forward(t[0], t[1]);
}

static gantry_status run_mbd_backward(gantry_tensor *const *t, const check_case *c)
{
    (void)c;
    return gantry_op_minibatch_disc_backward(t[0], t[1], t[2]);
}

/* m in [-spread, spread]; with `dup`, the last sample repeats the first
 * (a collapsed generator), so exact ties occur between samples too. */
static void mbd_input(check_case *c, float *m, size_t n, size_t b, size_t ch, float spread, int dup)
{
    check_fill_uniform(c, m, n * b * ch, -spread, spread);
    if (m && dup && n > 1)
        memcpy(m + (n - 1) * b * ch, m, b * ch * sizeof *m);
}

static void check_mbd(check_suite *s, int backward)
{
    const char *name = backward ? "minibatch_disc_backward" : "minibatch_disc_forward";
    check_row r;
    check_row_begin(s, &r, name, "nmse", LIMIT_ROWS);
    size_t index = 0;
    for (size_t i = 0; i < ARRAY_LEN(mbd_n); i++)
        for (size_t j = 0; j < ARRAY_LEN(mbd_b); j++)
            for (size_t k = 0; k < ARRAY_LEN(mbd_c); k++)
                for (int dup = 0; dup < 2; dup++, index++) {
                    size_t n = mbd_n[i], b = mbd_b[j], ch = mbd_c[k];
                    if (dup && n == 1)
                        continue;
                    if (s->quick && (i + j + k + (size_t)dup) % 3)
                        continue;
                    /* closer samples at larger c, so exp(-distance) is not tiny */
                    float spread = ch == 1 ? 1.0f : 0.4f;
                    check_case c;
                    check_case_init(&c, case_seed(name, index), backward ? run_mbd_backward : run_mbd_forward);
                    float *m = check_case_arg(&c, "m", CHECK_IN, 3, n, b, ch, 0);
                    mbd_input(&c, m, n, b, ch, spread, dup);
                    if (backward) {
                        check_fill_uniform(&c, arg_2d(&c, "dout", CHECK_IN, n, b), n * b, -1.0f, 1.0f);
                        check_fill_uniform(&c, check_case_arg(&c, "dm", CHECK_OUT, 3, n, b, ch, 0), n * b * ch,
                                           -1.0f, 1.0f);
                    } else {
                        check_fill_uniform(&c, arg_2d(&c, "o", CHECK_OUT, n, b), n * b, -1.0f, 1.0f);
                    }
                    snprintf(c.desc, sizeof c.desc, "m [%zu, %zu, %zu]%s", n, b, ch,
                             dup ? " first and last sample equal" : "");
                    check_case_run(s, &r, &c);
                }
    check_row_end(s, &r);
}

/* ---- frozen batch norm ------------------------------------------------------------------ */

typedef struct nchw {
    size_t n, c, h, w; /* h = w = 0: [N, C] */
} nchw;

static const nchw bn_shapes_full[] = {
    { 1, 1, 0, 0 },   { 2, 1, 0, 0 },    { 1, 7, 0, 0 },    { 7, 13, 0, 0 },  { 64, 33, 0, 0 },
    { 31, 127, 0, 0 }, { 512, 65, 0, 0 }, { 512, 257, 0, 0 }, { 1, 3, 5, 7 },  { 2, 5, 3, 3 },
    { 7, 13, 3, 3 },  { 64, 31, 2, 2 },  { 512, 3, 1, 5 },  { 13, 65, 1, 1 }, { 64, 64, 7, 7 },
};
static const nchw bn_shapes_quick[] = { { 1, 1, 0, 0 }, { 7, 13, 0, 0 }, { 512, 33, 0, 0 }, { 1, 3, 5, 7 },
                                        { 13, 31, 3, 3 } };

static size_t nchw_inner(nchw d)
{
    return d.h ? d.h * d.w : 1;
}

static float *arg_nchw(check_case *c, const char *name, int out, nchw d)
{
    if (d.h)
        return check_case_arg(c, name, out, 4, d.n, d.c, d.h, d.w);
    return check_case_arg(c, name, out, 2, d.n, d.c, 0, 0);
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

static void check_vbn(check_suite *s, int backward)
{
    const char *name = backward ? "vbn_backward" : "vbn_forward";
    static const size_t ref_counts[] = { 1, 64, 448 };
    const nchw *shapes = s->quick ? bn_shapes_quick : bn_shapes_full;
    size_t nshapes = s->quick ? ARRAY_LEN(bn_shapes_quick) : ARRAY_LEN(bn_shapes_full);
    check_row r;
    check_row_begin(s, &r, name, "nmse", LIMIT_ROWS);
    size_t index = 0;
    for (size_t i = 0; i < nshapes; i++)
        for (int variant = 0; variant < 2; variant++, index++) {
            /* forward: NaN/Inf in x on the second variant; backward: accumulate */
            nchw d = shapes[i];
            size_t n = d.n * d.c * nchw_inner(d), per = d.n * d.c;
            check_case c;
            check_case_init(&c, case_seed(name, index), backward ? run_vbn_backward : run_vbn_forward);
            c.i[0] = variant;
            c.i[1] = (int)ref_counts[index % ARRAY_LEN(ref_counts)];
            float *x = arg_nchw(&c, "x", CHECK_IN, d);
            check_fill_uniform(&c, x, n, -3.0f, 3.0f);
            if (backward) {
                check_fill_uniform(&c, arg_nchw(&c, "dy", CHECK_IN, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
                uniform_arg(&c, "save_mean", CHECK_IN, per, -1.0f, 1.0f);
                uniform_arg(&c, "save_invstd", CHECK_IN, per, 0.25f, 4.0f);
                check_fill_uniform(&c, arg_nchw(&c, "dx", CHECK_OUT, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "dgamma", CHECK_OUT, d.c, variant ? -1.0f : -1e6f, variant ? 1.0f : 1e6f);
                uniform_arg(&c, "dbeta", CHECK_OUT, d.c, variant ? -1.0f : -1e6f, variant ? 1.0f : 1e6f);
            } else {
                if (variant)
                    check_inject_nonfinite(x, n, index);
                check_fill_uniform(&c, arg_nchw(&c, "y", CHECK_OUT, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
                uniform_arg(&c, "beta", CHECK_IN, d.c, -0.5f, 0.5f);
                uniform_arg(&c, "ref_mean", CHECK_IN, d.c, -1.0f, 1.0f);
                uniform_arg(&c, "ref_invstd", CHECK_IN, d.c, 0.25f, 4.0f);
                uniform_arg(&c, "save_mean", CHECK_OUT, per, -1.0f, 1.0f);
                uniform_arg(&c, "save_invstd", CHECK_OUT, per, -1.0f, 1.0f);
            }
            char shape[64];
            if (d.h)
                snprintf(shape, sizeof shape, "[%zu, %zu, %zu, %zu]", d.n, d.c, d.h, d.w);
            else
                snprintf(shape, sizeof shape, "[%zu, %zu]", d.n, d.c);
            snprintf(c.desc, sizeof c.desc, "x %s ref_count=%d%s", shape, c.i[1],
                     backward ? (variant ? " accumulate=1" : " accumulate=0") : (variant ? " with NaN/Inf" : ""));
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

static void check_bn_frozen(check_suite *s, int backward)
{
    const char *name = backward ? "batchnorm_backward_frozen" : "batchnorm_forward_frozen";
    const nchw *shapes = s->quick ? bn_shapes_quick : bn_shapes_full;
    size_t nshapes = s->quick ? ARRAY_LEN(bn_shapes_quick) : ARRAY_LEN(bn_shapes_full);
    check_row r;
    check_row_begin(s, &r, name, "nmse", backward ? LIMIT_ROWS : LIMIT_ELEMENTWISE);
    size_t index = 0;
    for (size_t i = 0; i < nshapes; i++)
        for (int variant = 0; variant < 2; variant++, index++) {
            /* forward: NaN/Inf in x; backward: accumulate */
            nchw d = shapes[i];
            size_t n = d.n * d.c * nchw_inner(d);
            check_case c;
            check_case_init(&c, case_seed(name, index), backward ? run_bn_backward_frozen : run_bn_forward_frozen);
            c.i[0] = variant;
            float *x = arg_nchw(&c, "x", CHECK_IN, d);
            check_fill_uniform(&c, x, n, -3.0f, 3.0f);
            if (backward) {
                check_fill_uniform(&c, arg_nchw(&c, "dy", CHECK_IN, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
                uniform_arg(&c, "mean", CHECK_IN, d.c, -1.0f, 1.0f);
                uniform_arg(&c, "invstd", CHECK_IN, d.c, 0.25f, 4.0f);
                check_fill_uniform(&c, arg_nchw(&c, "dx", CHECK_OUT, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "dgamma", CHECK_OUT, d.c, variant ? -1.0f : -1e6f, variant ? 1.0f : 1e6f);
                uniform_arg(&c, "dbeta", CHECK_OUT, d.c, variant ? -1.0f : -1e6f, variant ? 1.0f : 1e6f);
            } else {
                if (variant)
                    check_inject_nonfinite(x, n, index);
                check_fill_uniform(&c, arg_nchw(&c, "y", CHECK_OUT, d), n, -1.0f, 1.0f);
                uniform_arg(&c, "gamma", CHECK_IN, d.c, 0.5f, 1.5f);
                uniform_arg(&c, "beta", CHECK_IN, d.c, -0.5f, 0.5f);
                uniform_arg(&c, "mean", CHECK_IN, d.c, -1.0f, 1.0f);
                uniform_arg(&c, "invstd", CHECK_IN, d.c, 0.25f, 4.0f);
            }
            char shape[64];
            if (d.h)
                snprintf(shape, sizeof shape, "[%zu, %zu, %zu, %zu]", d.n, d.c, d.h, d.w);
            else
                snprintf(shape, sizeof shape, "[%zu, %zu]", d.n, d.c);
            if (backward)
                snprintf(c.desc, sizeof c.desc, "x %s accumulate=%d", shape, variant);
            else
                snprintf(c.desc, sizeof c.desc, "x %s%s", shape, variant ? " with NaN/Inf" : "");
            check_case_run(s, &r, &c);
        }
    check_row_end(s, &r);
}

/* ---- on the backend under test: tensors from the host ------------------------------------ */

/* A tensor holding v, or (v NULL) 1000.5 everywhere: an output element an
 * op fails to write then spoils an inner product of integers. */
static gantry_status host_tensor(gantry_backend *be, int ndim, const size_t *shape, const float *v,
                                 gantry_tensor **out)
{
    TRY(gantry_tensor_create(be, ndim, shape, out));
    return v ? gantry_tensor_write(*out, v, gantry_tensor_numel(*out)) : gantry_op_fill(*out, 1000.5f);
}

static gantry_status read_tensor(const gantry_tensor *t, float *v)
{
    return gantry_tensor_read(t, v, gantry_tensor_numel(t));
}

static float *host_alloc(size_t n)
{
    return malloc((n ? n : 1) * sizeof(float));
}

/* Philox integers in [-8, 8]: every product and sum below is exact. */
static void small_integers(float *v, size_t n, uint64_t seed)
{
    for (size_t i = 0; v && i < n; i++)
        v[i] = floorf(gantry_philox_uniform(seed, 0, i, -8.0f, 9.0f));
}

static double dot(const float *a, const float *b, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += (double)a[i] * (double)b[i];
    return acc;
}

/* Records |lhs - rhs| / max(|lhs|, |rhs|) (0 when both are 0), or the
 * failure of an op. */
static void adjoint_case(check_suite *s, check_row *r, const char *desc, gantry_status st, double lhs, double rhs)
{
    char problem[320] = "";
    double err = 0.0;
    if (st) {
        snprintf(problem, sizeof problem, "%s failed: %s", s->backend_name, gantry_last_error());
    } else {
        double scale = fmax(fabs(lhs), fabs(rhs));
        err = scale > 0.0 ? fabs(lhs - rhs) / scale : 0.0;
        if (!isfinite(lhs) || !isfinite(rhs))
            err = INFINITY;
        if (!(err <= r->limit))
            snprintf(problem, sizeof problem, "<A x, c> = %.17g but <x, A^T c> = %.17g", lhs, rhs);
    }
    check_row_case(s, r, desc, err, problem);
}

/* The operands of one adjoint check <A x, c> == <x, A^T c>: x and A^T c
 * of one shape, c and A x of the other, on the host and on the backend. */
typedef struct adjoint_pair {
    size_t nx, ny;
    float *x, *c, *ax, *atc;
    gantry_tensor *tx, *tc, *tax, *tatc;
} adjoint_pair;

/* x and c small integers (every product and sum exact), A x and A^T c
 * tensors filled with sentinels; the caller runs A and A^T, then
 * adjoint_end. */
static gantry_status adjoint_begin(check_suite *s, adjoint_pair *p, uint64_t seed, int xdim, const size_t *xshape,
                                   int ydim, const size_t *yshape)
{
    memset(p, 0, sizeof *p);
    p->nx = p->ny = 1;
    for (int i = 0; i < xdim; i++)
        p->nx *= xshape[i];
    for (int i = 0; i < ydim; i++)
        p->ny *= yshape[i];
    p->x = host_alloc(p->nx);
    p->c = host_alloc(p->ny);
    p->ax = host_alloc(p->ny);
    p->atc = host_alloc(p->nx);
    if (!p->x || !p->c || !p->ax || !p->atc)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    small_integers(p->x, p->nx, seed);
    small_integers(p->c, p->ny, seed + 1);
    TRY(host_tensor(s->test, xdim, xshape, p->x, &p->tx));
    TRY(host_tensor(s->test, ydim, yshape, p->c, &p->tc));
    TRY(host_tensor(s->test, ydim, yshape, NULL, &p->tax));
    return host_tensor(s->test, xdim, xshape, NULL, &p->tatc);
}

/* Reads A x and A^T c back (when st, the ops' status, is OK), takes the
 * two dot products and releases everything. */
static gantry_status adjoint_end(adjoint_pair *p, gantry_status st, double *lhs, double *rhs)
{
    if (!st)
        st = read_tensor(p->tax, p->ax);
    if (!st)
        st = read_tensor(p->tatc, p->atc);
    if (!st) {
        *lhs = dot(p->ax, p->c, p->ny);
        *rhs = dot(p->x, p->atc, p->nx);
    }
    gantry_tensor_destroy(p->tx);
    gantry_tensor_destroy(p->tc);
    gantry_tensor_destroy(p->tax);
    gantry_tensor_destroy(p->tatc);
    free(p->x);
    free(p->c);
    free(p->ax);
    free(p->atc);
    return st;
}

/* <im2col(x), c> against <x, col2im(c)> (overwriting) on the backend under test. */
static gantry_status adjoint_conv(check_suite *s, conv d, uint64_t seed, double *lhs, double *rhs)
{
    gantry_conv_geometry g = conv_geometry(d);
    size_t xshape[4] = { d.n, d.c, d.h, d.w }, cshape[2] = { d.c * d.kh * d.kw, d.n * g.oh * g.ow };
    adjoint_pair p;
    gantry_status st = adjoint_begin(s, &p, seed, 4, xshape, 2, cshape);
    if (!st)
        st = gantry_op_im2col(p.tx, p.tax, &g);
    if (!st)
        st = gantry_op_col2im(p.tc, p.tatc, &g, 0);
    return adjoint_end(&p, st, lhs, rhs);
}

static void check_adjoint_conv(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "adjoint(im2col,col2im)", "rel", LIMIT_ADJOINT);
    size_t count = conv_count(s, 0);
    for (size_t i = 0; i < count; i++) {
        conv d = conv_at(i);
        double lhs = 0.0, rhs = 0.0;
        gantry_status st = adjoint_conv(s, d, case_seed("adjoint(im2col,col2im)", i), &lhs, &rhs);
        char desc[128];
        conv_str(d, desc, sizeof desc);
        adjoint_case(s, &r, desc, st, lhs, rhs);
    }
    check_row_end(s, &r);
}

/* swap(a, b)'s adjoint is swap(b, a). */
static gantry_status adjoint_swap(check_suite *s, size_t a, size_t b, size_t inner, uint64_t seed, double *lhs,
                                  double *rhs)
{
    size_t xs[3] = { a, b, inner }, ys[3] = { b, a, inner };
    adjoint_pair p;
    gantry_status st = adjoint_begin(s, &p, seed, 3, xs, 3, ys);
    if (!st)
        st = gantry_op_swap_axes(p.tx, p.tax, a, b, inner);
    if (!st)
        st = gantry_op_swap_axes(p.tc, p.tatc, b, a, inner);
    return adjoint_end(&p, st, lhs, rhs);
}

static void check_adjoint_swap(check_suite *s)
{
    const size_t na = ARRAY_LEN(axis_sizes);
    check_row r;
    check_row_begin(s, &r, "adjoint(swap_axes)", "rel", LIMIT_ADJOINT);
    size_t index = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < na; j++)
            for (size_t k = 0; k < na; k++, index++) {
                size_t a = axis_sizes[i], b = axis_sizes[j], inner = axis_sizes[k];
                if ((i + 2 * j + 3 * k) % (s->quick ? 7 : 3) || a * b * inner > 600000)
                    continue;
                double lhs = 0.0, rhs = 0.0;
                gantry_status st = adjoint_swap(s, a, b, inner, case_seed("adjoint(swap_axes)", index), &lhs, &rhs);
                char desc[128];
                snprintf(desc, sizeof desc, "a=%zu b=%zu inner=%zu", a, b, inner);
                adjoint_case(s, &r, desc, st, lhs, rhs);
            }
    check_row_end(s, &r);
}

/* copy_rows into zeros (P x) and back the other way into zeros (P^T c). */
static gantry_status adjoint_rows(check_suite *s, size_t rows, row_layout l, uint64_t seed, double *lhs,
                                  double *rhs)
{
    size_t xs[2] = { rows, l.ldx }, ys[2] = { rows, l.ldy };
    adjoint_pair p;
    gantry_status st = adjoint_begin(s, &p, seed, 2, xs, 2, ys);
    if (!st)
        st = gantry_op_fill(p.tax, 0.0f);
    if (!st)
        st = gantry_op_fill(p.tatc, 0.0f);
    if (!st)
        st = gantry_op_copy_rows(p.tx, l.ldx, l.x_col, p.tax, l.ldy, l.y_col, rows, l.cols);
    if (!st)
        st = gantry_op_copy_rows(p.tc, l.ldy, l.y_col, p.tatc, l.ldx, l.x_col, rows, l.cols);
    return adjoint_end(&p, st, lhs, rhs);
}

static void check_adjoint_rows(check_suite *s)
{
    check_row r;
    check_row_begin(s, &r, "adjoint(copy_rows)", "rel", LIMIT_ADJOINT);
    size_t index = 0;
    for (size_t i = 0; i < ARRAY_LEN(row_counts); i++)
        for (size_t j = 0; j < ARRAY_LEN(row_layouts); j++, index++) {
            if (s->quick && (i + j) % 4)
                continue;
            size_t rows = row_counts[i];
            row_layout l = row_layouts[j];
            double lhs = 0.0, rhs = 0.0;
            gantry_status st = adjoint_rows(s, rows, l, case_seed("adjoint(copy_rows)", index), &lhs, &rhs);
            char desc[128];
            snprintf(desc, sizeof desc, "rows=%zu x cols [%zu, %zu) of %zu <-> y cols [%zu, %zu) of %zu", rows,
                     l.x_col, l.x_col + l.cols, l.ldx, l.y_col, l.y_col + l.cols, l.ldy);
            adjoint_case(s, &r, desc, st, lhs, rhs);
        }
    check_row_end(s, &r);
}

/* ---- finite differences of each backward op against its own forward ---------------------- */

/* An objective L = sum_i w_i out_i (w NULL: out[0]) of a forward op on the
 * backend under test, and the inputs that may be perturbed. */
typedef struct fd_problem {
    gantry_tensor *t[8]; /* the op's tensors */
    float *in[3];        /* host values of the perturbed inputs */
    int in_at[3];        /* ... which t[] they are */
    gantry_tensor *out;
    const double *w;
    float *out_host;
    gantry_status (*forward)(struct fd_problem *p);
    int i0; /* an op parameter (the loss kind) */
} fd_problem;

static gantry_status fd_objective(fd_problem *p, double *l)
{
    TRY(p->forward(p));
    size_t n = gantry_tensor_numel(p->out);
    TRY(read_tensor(p->out, p->out_host));
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += (p->w ? p->w[i] : 1.0) * (double)p->out_host[i];
    *l = acc;
    return GANTRY_OK;
}

/* dL/d(input k) by central differences, the step taken in float as the
 * denominator (tools/check_grad.c); the input is restored afterwards. */
static gantry_status fd_numeric(fd_problem *p, int k, double eps, double *num)
{
    gantry_tensor *t = p->t[p->in_at[k]];
    float *v = p->in[k];
    size_t n = gantry_tensor_numel(t);
    gantry_status st = GANTRY_OK;
    for (size_t i = 0; i < n && !st; i++) {
        float orig = v[i], vp = (float)(orig + eps), vm = (float)(orig - eps);
        double lp = 0.0, lm = 0.0;
        v[i] = vp;
        st = gantry_tensor_write(t, v, n);
        if (!st)
            st = fd_objective(p, &lp);
        v[i] = vm;
        if (!st)
            st = gantry_tensor_write(t, v, n);
        if (!st)
            st = fd_objective(p, &lm);
        v[i] = orig;
        num[i] = (lp - lm) / ((double)vp - (double)vm);
    }
    gantry_status r = gantry_tensor_write(t, v, n);
    return st ? st : r;
}

static void fd_row_begin(check_suite *s, check_row *r, const char *name)
{
    check_row_begin(s, r, name, "fd", CHECK_GRAD_TOL);
    /* not a comparison between backends: the tolerance of the differences
     * stays when the reference is checked against itself */
    r->limit = CHECK_GRAD_TOL;
}

/* Compares the analytic gradient (read from tensor `grad`, times 1/scale)
 * with the numeric one of input k and records a case. */
static gantry_status fd_compare(check_suite *s, check_row *r, fd_problem *p, int k, const gantry_tensor *grad,
                                double scale, const char *config, const char *what)
{
    size_t n = gantry_tensor_numel(grad);
    float *a = host_alloc(n);
    double *num = malloc((n ? n : 1) * sizeof *num);
    gantry_status st = a && num ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!st)
        st = read_tensor(grad, a);
    if (!st)
        st = fd_numeric(p, k, 1e-2, num);
    if (!st) {
        for (size_t i = 0; i < n; i++)
            num[i] *= scale;
        check_grad_result res;
        memset(&res, 0, sizeof res);
        check_grad_error(a, num, n, &res);
        char desc[128], problem[256] = "";
        snprintf(desc, sizeof desc, "%s %s", config, what);
        if (!(res.error <= r->limit))
            snprintf(problem, sizeof problem, "%s error %.3g > %g (element %zu: analytic %.7g, numeric %.7g)", what,
                     res.error, r->limit, res.worst, (double)res.analytic, res.numeric);
        check_row_case(s, r, desc, res.error, problem);
    }
    free(a);
    free(num);
    return st;
}

static void fd_failed(check_suite *s, check_row *r, const char *config)
{
    char problem[320];
    snprintf(problem, sizeof problem, "%s failed: %s", s->backend_name, gantry_last_error());
    check_row_case(s, r, config, INFINITY, problem);
}

static void fd_free(fd_problem *p, float **host, size_t nhost)
{
    for (size_t i = 0; i < ARRAY_LEN(p->t); i++)
        gantry_tensor_destroy(p->t[i]);
    for (size_t i = 0; i < nhost; i++)
        free(host[i]);
    free(p->out_host);
}

static void fd_weights(double *w, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        w[i] = gantry_philox_uniform(seed ^ 0x5eedu, 0, i, -1.0f, 1.0f);
}

/* regression losses: out = loss(x, t); dx = backward(scale) */

static gantry_status fd_regression_forward(fd_problem *p)
{
    return gantry_op_regression_loss_forward((gantry_loss_kind)p->i0, p->t[0], p->t[1], p->t[2]);
}

static void fd_regression(check_suite *s, check_row *r, gantry_loss_kind kind, size_t n, float scale, uint64_t seed)
{
    fd_problem p;
    memset(&p, 0, sizeof p);
    float *x = host_alloc(n), *t = host_alloc(n);
    float *host[] = { x, t };
    char config[96];
    snprintf(config, sizeof config, "%s n=%zu scale=%g", kind == GANTRY_LOSS_L1 ? "L1" : "MSE", n, (double)scale);
    gantry_status st = x && t ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    /* |x - t| >= 5e-2, five steps away from the kink of L1 */
    for (size_t i = 0; !st && i < n; i++) {
        x[i] = gantry_philox_uniform(seed, 0, i, -2.0f, 2.0f);
        float d = gantry_philox_uniform(seed, 1, i, 5e-2f, 1.0f);
        t[i] = i % 2 ? x[i] + d : x[i] - d;
    }
    size_t shape[1] = { n }, one[1] = { 1 };
    p.i0 = kind;
    p.forward = fd_regression_forward;
    p.out_host = host_alloc(1);
    if (!st)
        st = host_tensor(s->test, 1, shape, x, &p.t[0]);
    if (!st)
        st = host_tensor(s->test, 1, shape, t, &p.t[1]);
    if (!st)
        st = host_tensor(s->test, 1, one, NULL, &p.t[2]);
    if (!st)
        st = host_tensor(s->test, 1, shape, NULL, &p.t[3]);
    if (!st)
        st = gantry_op_regression_loss_backward(kind, p.t[0], p.t[1], scale, p.t[3]);
    p.out = p.t[2];
    p.in[0] = x;
    p.in_at[0] = 0;
    if (!st)
        st = fd_compare(s, r, &p, 0, p.t[3], scale, config, "dx");
    if (st)
        fd_failed(s, r, config);
    fd_free(&p, host, ARRAY_LEN(host));
}

/* softmax cross-entropy: out = ce(x, t), dx = backward(scale) */

static gantry_status fd_softmax_ce_forward(fd_problem *p)
{
    return gantry_op_softmax_ce_forward(p->t[0], p->t[1], p->t[2]);
}

static void fd_softmax_ce(check_suite *s, check_row *r, size_t rows, size_t k, int tkind, float scale, uint64_t seed)
{
    fd_problem p;
    memset(&p, 0, sizeof p);
    size_t n = rows * k;
    float *x = host_alloc(n), *t = host_alloc(n);
    float *host[] = { x, t };
    char config[96];
    snprintf(config, sizeof config, "[%zu, %zu] %s scale=%g", rows, k, target_names[tkind], (double)scale);
    gantry_status st = x && t ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    check_case hc; /* only for its Philox stream */
    check_case_init(&hc, seed, NULL);
    check_fill_uniform(&hc, x, n, -3.0f, 3.0f);
    targets(&hc, t, rows, k, tkind);
    size_t shape[2] = { rows, k }, one[1] = { 1 };
    p.forward = fd_softmax_ce_forward;
    p.out_host = host_alloc(1);
    if (!st)
        st = host_tensor(s->test, 2, shape, x, &p.t[0]);
    if (!st)
        st = host_tensor(s->test, 2, shape, t, &p.t[1]);
    if (!st)
        st = host_tensor(s->test, 1, one, NULL, &p.t[2]);
    if (!st)
        st = host_tensor(s->test, 2, shape, NULL, &p.t[3]);
    if (!st)
        st = gantry_op_softmax_ce_backward(p.t[0], p.t[1], scale, p.t[3]);
    p.out = p.t[2];
    p.in[0] = x;
    p.in_at[0] = 0;
    if (!st)
        st = fd_compare(s, r, &p, 0, p.t[3], scale, config, "dx");
    if (st)
        fd_failed(s, r, config);
    fd_free(&p, host, ARRAY_LEN(host));
}

/* An op with one input x and one output: L = sum w out with fd_weights,
 * dx = backward(x, dout = w, dx) against finite differences of
 * p->forward(t[0] = x, t[1] = out).  `st` carries an earlier failure (of
 * setting up x); x is freed here. */
typedef gantry_status (*fd_backward_fn)(const gantry_tensor *x, const gantry_tensor *dout, gantry_tensor *dx);

static void fd_single_input(check_suite *s, check_row *r, fd_problem *p, gantry_status st, float *x, int ndim,
                            const size_t *shape, int out_ndim, const size_t *out_shape, fd_backward_fn backward,
                            uint64_t seed, const char *config, const char *what)
{
    size_t no = 1;
    for (int i = 0; i < out_ndim; i++)
        no *= out_shape[i];
    float *wf = host_alloc(no);
    double *w = malloc(no * sizeof *w);
    float *host[] = { x, wf };
    if (!st && (!wf || !w))
        st = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!st) {
        fd_weights(w, no, seed);
        for (size_t i = 0; i < no; i++)
            wf[i] = (float)w[i];
    }
    p->out_host = host_alloc(no);
    p->w = w;
    if (!st)
        st = host_tensor(s->test, ndim, shape, x, &p->t[0]);
    if (!st)
        st = host_tensor(s->test, out_ndim, out_shape, NULL, &p->t[1]);
    if (!st)
        st = host_tensor(s->test, out_ndim, out_shape, wf, &p->t[2]);
    if (!st)
        st = host_tensor(s->test, ndim, shape, NULL, &p->t[3]);
    if (!st)
        st = backward(p->t[0], p->t[2], p->t[3]);
    p->out = p->t[1];
    p->in[0] = x;
    p->in_at[0] = 0;
    if (!st)
        st = fd_compare(s, r, p, 0, p->t[3], 1.0, config, what);
    if (st)
        fd_failed(s, r, config);
    fd_free(p, host, ARRAY_LEN(host));
    free(w);
}

/* log-sum-exp: L = sum_r w_r lse_r, dx = backward(dout = w) */

static gantry_status fd_logsumexp_forward(fd_problem *p)
{
    return gantry_op_logsumexp_forward(p->t[0], p->t[1]);
}

static void fd_logsumexp(check_suite *s, check_row *r, size_t rows, size_t k, uint64_t seed)
{
    fd_problem p;
    memset(&p, 0, sizeof p);
    size_t n = rows * k;
    float *x = host_alloc(n);
    char config[96];
    snprintf(config, sizeof config, "[%zu, %zu]", rows, k);
    gantry_status st = x ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (size_t i = 0; !st && i < n; i++)
        x[i] = gantry_philox_uniform(seed, 0, i, -3.0f, 3.0f);
    p.forward = fd_logsumexp_forward;
    fd_single_input(s, r, &p, st, x, 2, (size_t[]){ rows, k }, 1, (size_t[]){ rows }, gantry_op_logsumexp_backward,
                    seed, config, "dx");
}

/* minibatch discrimination: L = sum w o, dm = backward(dout = w) */

static gantry_status fd_mbd_forward(fd_problem *p)
{
    return gantry_op_minibatch_disc_forward(p->t[0], p->t[1]);
}

static void fd_mbd(check_suite *s, check_row *r, size_t n, size_t b, size_t ch, uint64_t seed)
{
    fd_problem p;
    memset(&p, 0, sizeof p);
    size_t nm = n * b * ch;
    float *m = host_alloc(nm);
    char config[96];
    snprintf(config, sizeof config, "m [%zu, %zu, %zu]", n, b, ch);
    gantry_status st = m ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    /* Away from the kinks |m_ikl - m_jkl| = 0 (i != j): per (k, l) the
     * samples sit on a shuffled grid of spacing 0.2 with jitter < 0.05,
     * so every difference is > 0.1, ten steps. */
    for (size_t kk = 0; !st && kk < b; kk++)
        for (size_t l = 0; l < ch; l++) {
            /* i -> (2 i + shift) mod n is a permutation for odd n */
            size_t shift = (size_t)(mix(seed + kk * 31 + l) % n), stride = n % 2 ? 2 : 1;
            for (size_t i = 0; i < n; i++) {
                size_t slot = (i * stride + shift) % n;
                float jitter = gantry_philox_uniform(seed, kk * ch + l, i, -0.05f, 0.05f);
                m[(i * b + kk) * ch + l] = 0.2f * (float)slot - 0.1f * (float)n + jitter;
            }
        }
    p.forward = fd_mbd_forward;
    fd_single_input(s, r, &p, st, m, 3, (size_t[]){ n, b, ch }, 2, (size_t[]){ n, b },
                    gantry_op_minibatch_disc_backward, seed, config, "dm");
}

/* frozen batch norm: L = sum w y, (dx, dgamma, dbeta) = backward(dy = w)
 * with mean and invstd held constant */

static gantry_status fd_bn_forward(fd_problem *p)
{
    return gantry_op_batchnorm_forward_frozen(p->t[0], p->t[1], p->t[2], p->t[3], p->t[4], p->t[5]);
}

static void fd_bn_frozen(check_suite *s, check_row *r, int ndim, const size_t *shape, uint64_t seed)
{
    fd_problem p;
    memset(&p, 0, sizeof p);
    size_t n = 1, ch = shape[1];
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *x = host_alloc(n), *gamma = host_alloc(ch), *beta = host_alloc(ch), *mean = host_alloc(ch);
    float *invstd = host_alloc(ch), *wf = host_alloc(n);
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
        fd_weights(w, n, seed);
        for (size_t i = 0; i < n; i++)
            wf[i] = (float)w[i];
    }
    size_t cshape[1] = { ch };
    p.forward = fd_bn_forward;
    p.out_host = host_alloc(n);
    p.w = w;
    /* t: x y gamma beta mean invstd | dy dx; dgamma, dbeta after */
    if (!st)
        st = host_tensor(s->test, ndim, shape, x, &p.t[0]);
    if (!st)
        st = host_tensor(s->test, ndim, shape, NULL, &p.t[1]);
    if (!st)
        st = host_tensor(s->test, 1, cshape, gamma, &p.t[2]);
    if (!st)
        st = host_tensor(s->test, 1, cshape, beta, &p.t[3]);
    if (!st)
        st = host_tensor(s->test, 1, cshape, mean, &p.t[4]);
    if (!st)
        st = host_tensor(s->test, 1, cshape, invstd, &p.t[5]);
    if (!st)
        st = host_tensor(s->test, ndim, shape, wf, &p.t[6]);
    if (!st)
        st = host_tensor(s->test, ndim, shape, NULL, &p.t[7]);
    gantry_tensor *dgamma = NULL, *dbeta = NULL;
    if (!st)
        st = host_tensor(s->test, 1, cshape, NULL, &dgamma);
    if (!st)
        st = host_tensor(s->test, 1, cshape, NULL, &dbeta);
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
        st = fd_compare(s, r, &p, 0, p.t[7], 1.0, config, "dx");
    if (!st)
        st = fd_compare(s, r, &p, 1, dgamma, 1.0, config, "dgamma");
    if (!st)
        st = fd_compare(s, r, &p, 2, dbeta, 1.0, config, "dbeta");
    if (st)
        fd_failed(s, r, config);
    gantry_tensor_destroy(dgamma);
    gantry_tensor_destroy(dbeta);
    fd_free(&p, host, ARRAY_LEN(host));
    free(w);
}

static void gradcheck_regression(check_suite *s)
{
    static const size_t sizes[] = { 1, 7, 64 };
    static const float scales[] = { 1.0f, -0.5f, 3.0f };
    for (int l1 = 0; l1 < 2; l1++) {
        check_row r;
        fd_row_begin(s, &r, l1 ? "gradcheck(l1_loss)" : "gradcheck(mse_loss)");
        for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
            fd_regression(s, &r, l1 ? GANTRY_LOSS_L1 : GANTRY_LOSS_MSE, sizes[i], scales[i], 700 + 10 * i + l1);
        check_row_end(s, &r);
    }
}

static void gradcheck_softmax_ce(check_suite *s)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 1, 2 }, { 3, 10 }, { 5, 11 }, { 2, 7 } };
    static const float scales[] = { 1.0f, 1.0f, 0.5f, 1.0f, -2.0f };
    check_row r;
    fd_row_begin(s, &r, "gradcheck(softmax_ce)");
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++)
        fd_softmax_ce(s, &r, shapes[i][0], shapes[i][1], (int)(i % TARGET_COUNT), scales[i], 800 + i);
    check_row_end(s, &r);
}

static void gradcheck_logsumexp(check_suite *s)
{
    static const size_t shapes[][2] = { { 1, 1 }, { 2, 2 }, { 3, 10 }, { 4, 11 } };
    check_row r;
    fd_row_begin(s, &r, "gradcheck(logsumexp)");
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++)
        fd_logsumexp(s, &r, shapes[i][0], shapes[i][1], 900 + i);
    check_row_end(s, &r);
}

static void gradcheck_mbd(check_suite *s)
{
    static const size_t shapes[][3] = { { 1, 1, 1 }, { 2, 1, 1 }, { 3, 5, 3 }, { 7, 2, 5 } };
    check_row r;
    fd_row_begin(s, &r, "gradcheck(minibatch_disc)");
    for (size_t i = 0; i < ARRAY_LEN(shapes); i++)
        fd_mbd(s, &r, shapes[i][0], shapes[i][1], shapes[i][2], 1000 + i);
    check_row_end(s, &r);
}

static void gradcheck_bn_frozen(check_suite *s)
{
    static const size_t nc[2] = { 5, 4 }, one[2] = { 1, 3 }, nchw4[4] = { 2, 3, 2, 2 };
    check_row r;
    fd_row_begin(s, &r, "gradcheck(batchnorm_frozen)");
    fd_bn_frozen(s, &r, 2, nc, 1100);
    fd_bn_frozen(s, &r, 2, one, 1101);
    fd_bn_frozen(s, &r, 4, nchw4, 1102);
    check_row_end(s, &r);
}

/* ---- the table -------------------------------------------------------------------------- */

void check_ops_v2_run(check_suite *s, const char *name)
{
    if (!strcmp(name, "im2col")) {
        check_im2col(s);
    } else if (!strcmp(name, "col2im")) {
        check_col2im(s);
        check_adjoint_conv(s);
    } else if (!strcmp(name, "swap_axes")) {
        check_swap_axes(s);
        check_adjoint_swap(s);
    } else if (!strcmp(name, "copy_rows")) {
        check_copy_rows(s);
        check_adjoint_rows(s);
    } else if (!strcmp(name, "regression_loss_forward")) {
        check_regression(s, 0);
    } else if (!strcmp(name, "regression_loss_backward")) {
        check_regression(s, 1);
        gradcheck_regression(s);
    } else if (!strcmp(name, "softmax_ce_forward")) {
        check_softmax(s, 0);
    } else if (!strcmp(name, "softmax_ce_backward")) {
        check_softmax(s, 1);
        gradcheck_softmax_ce(s);
    } else if (!strcmp(name, "logsumexp_forward")) {
        check_softmax(s, 2);
    } else if (!strcmp(name, "logsumexp_backward")) {
        check_softmax(s, 3);
        gradcheck_logsumexp(s);
    } else if (!strcmp(name, "dropout_mask")) {
        check_dropout(s);
    } else if (!strcmp(name, "minibatch_disc_forward")) {
        check_mbd(s, 0);
    } else if (!strcmp(name, "minibatch_disc_backward")) {
        check_mbd(s, 1);
        gradcheck_mbd(s);
    } else if (!strcmp(name, "batchnorm_forward_frozen")) {
        check_bn_frozen(s, 0);
    } else if (!strcmp(name, "batchnorm_backward_frozen")) {
        check_bn_frozen(s, 1);
        gradcheck_bn_frozen(s);
    } else if (!strcmp(name, "vbn_forward")) {
        check_vbn(s, 0);
    } else if (!strcmp(name, "vbn_backward")) {
        check_vbn(s, 1);
    }
}
