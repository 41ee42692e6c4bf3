/* `gantry check`, the conv family: im2col, col2im, swap_axes and
 * copy_rows, compared with the reference, and on the backend under test
 * alone the adjoint identities between them.
 *
 * Grids: convolutions over n in {1, 2, 7}, c in {1, 3, 13}, h, w in {1, 5,
 * 7, 14, 28}, kernels 1..5 (non-square too), strides 1..3, padding 0..2 (a
 * fixed list of corner cases and a deterministic pseudo-random sample), and
 * in the full grid the DCGAN layers (batch 64, 1, 64 or 128 channels, 28x28,
 * 14x14 and 7x7, kernel 4, stride 2, padding 1); swap_axes over a, b, inner
 * in {1, 3, 7, 64, 129} (up to 64 x 64 x 129 elements); copy_rows with
 * column offsets on both sides.  NaN/Inf go into the data moved (copied as
 * they are) and into col2im's sums (IEEE sums of NaN and +-Inf do not
 * depend on the order).
 *
 * adjoint(...): <A x, c> == <x, A^T c> for im2col/col2im, swap_axes (with
 * itself, axes swapped) and copy_rows (with itself, the other way), the
 * relative difference of the two.  The data are small integers, so both
 * inner products are exact in any summation order and a correct backend
 * gives exactly 0.  They run with the op they exercise (`--op col2im` also
 * runs adjoint(im2col,col2im)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/rows.h"

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
    uint64_t r = check_mix(0xC0417ull + i);
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
        return CHECK_ARRAY_LEN(conv_fixed) + CONV_GENERATED_QUICK;
    return CHECK_ARRAY_LEN(conv_fixed) + CONV_GENERATED_FULL + (dcgan ? CHECK_ARRAY_LEN(conv_dcgan) : 0);
}

static conv conv_at(size_t i)
{
    if (i < CHECK_ARRAY_LEN(conv_fixed))
        return conv_fixed[i];
    i -= CHECK_ARRAY_LEN(conv_fixed);
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

/* Every geometry, the DCGAN layers too. */
static size_t conv_points(const check_suite *s)
{
    return conv_count(s, 1);
}

/* variant 1: NaN/Inf in x (the DCGAN layers once) */
static int im2col_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    (void)s;
    (void)spec;
    conv d = conv_at(p->at);
    gantry_conv_geometry g = conv_geometry(d);
    if (p->variant && d.n == 64)
        return 0;
    size_t nx = d.n * d.c * d.h * d.w, rows = d.c * d.kh * d.kw, cols = d.n * g.oh * g.ow;
    char shape[96];
    c->run = run_im2col;
    conv_pack(c, d);
    float *x = check_case_arg(c, "x", CHECK_IN, 4, d.n, d.c, d.h, d.w);
    check_fill_uniform(c, x, nx, -2.0f, 2.0f);
    if (p->variant)
        check_inject_nonfinite(x, nx, p->index);
    /* garbage where the padding's zeros must go */
    check_fill_uniform(c, check_arg_2d(c, "col", CHECK_OUT, rows, cols), rows * cols, 5.0f, 9.0f);
    conv_str(d, shape, sizeof shape);
    snprintf(c->desc, sizeof c->desc, "%s%s", shape, p->variant ? " with NaN/Inf" : "");
    return 1;
}

/* variant 0: overwrite, 1: accumulate, 2: either, with NaN/Inf in col */
static int col2im_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    (void)s;
    (void)spec;
    conv d = conv_at(p->at);
    gantry_conv_geometry g = conv_geometry(d);
    int nonfinite = p->variant == 2;
    if (nonfinite && d.n == 64)
        return 0;
    int acc = nonfinite ? (int)(p->at % 2) : p->variant;
    size_t nx = d.n * d.c * d.h * d.w, rows = d.c * d.kh * d.kw, cols = d.n * g.oh * g.ow;
    char shape[96];
    c->run = run_col2im;
    conv_pack(c, d);
    c->i[0] = acc;
    float *col = check_arg_2d(c, "col", CHECK_IN, rows, cols);
    check_fill_uniform(c, col, rows * cols, -1.0f, 1.0f);
    if (nonfinite)
        check_inject_nonfinite(col, rows * cols, p->index);
    /* Overwriting: large finite garbage (the ABI does not promise that x
     * is not read when beta is 0, so no NaN). */
    float *x = check_case_arg(c, "x", CHECK_OUT, 4, d.n, d.c, d.h, d.w);
    check_fill_uniform(c, x, nx, acc ? -1.0f : -1e6f, acc ? 1.0f : 1e6f);
    conv_str(d, shape, sizeof shape);
    snprintf(c->desc, sizeof c->desc, "%s accumulate=%d%s", shape, acc, nonfinite ? " with NaN/Inf" : "");
    return 1;
}

/* ---- swap_axes, copy_rows --------------------------------------------------------- */

static const size_t axis_sizes[] = { 1, 3, 7, 64, 129 };

static gantry_status run_swap_axes(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_swap_axes(t[0], t[1], (size_t)c->u[0], (size_t)c->u[1], (size_t)c->u[2]);
}

/* Every (a, b, inner) of axis_sizes^3. */
static size_t swap_points(const check_suite *s)
{
    (void)s;
    return CHECK_ARRAY_LEN(axis_sizes) * CHECK_ARRAY_LEN(axis_sizes) * CHECK_ARRAY_LEN(axis_sizes);
}

static int swap_axes_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    const size_t na = CHECK_ARRAY_LEN(axis_sizes);
    size_t i = p->at / (na * na), j = p->at / na % na, k = p->at % na;
    size_t a = axis_sizes[i], b = axis_sizes[j], inner = axis_sizes[k], n = a * b * inner;
    (void)spec;
    if (s->quick && (i + 2 * j + 3 * k) % 5)
        return 0;
    if (n > 600000)
        return 0; /* 64 x 129 x 129 and 129^3: time, and nothing new */
    int nonfinite = p->index % 7 == 3;
    c->run = run_swap_axes;
    c->u[0] = a;
    c->u[1] = b;
    c->u[2] = inner;
    float *x = check_case_arg(c, "x", CHECK_IN, 3, a, b, inner, 0);
    check_fill_uniform(c, x, n, -4.0f, 4.0f);
    if (nonfinite)
        check_inject_nonfinite(x, n, p->index);
    check_fill_uniform(c, check_case_arg(c, "y", CHECK_OUT, 3, b, a, inner, 0), n, -1.0f, 1.0f);
    snprintf(c->desc, sizeof c->desc, "a=%zu b=%zu inner=%zu%s", a, b, inner, nonfinite ? " with NaN/Inf" : "");
    return 1;
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

/* Every row count with every layout. */
static size_t copy_rows_points(const check_suite *s)
{
    (void)s;
    return CHECK_ARRAY_LEN(row_counts) * CHECK_ARRAY_LEN(row_layouts);
}

static int copy_rows_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    size_t i = p->at / CHECK_ARRAY_LEN(row_layouts), j = p->at % CHECK_ARRAY_LEN(row_layouts);
    (void)spec;
    if (s->quick && (i + j) % 3)
        return 0;
    size_t rows = row_counts[i];
    row_layout l = row_layouts[j];
    int nonfinite = p->index % 5 == 2;
    c->run = run_copy_rows;
    c->u[0] = l.ldx;
    c->u[1] = l.x_col;
    c->u[2] = l.ldy;
    c->u[3] = l.y_col;
    c->i[0] = (int)rows;
    c->i[1] = (int)l.cols;
    float *x = check_arg_2d(c, "x", CHECK_IN, rows, l.ldx);
    check_fill_uniform(c, x, rows * l.ldx, -4.0f, 4.0f);
    if (nonfinite)
        check_inject_nonfinite(x, rows * l.ldx, p->index);
    /* the columns of y outside the copy must stay as they are */
    check_fill_uniform(c, check_arg_2d(c, "y", CHECK_OUT, rows, l.ldy), rows * l.ldy, -1.0f, 1.0f);
    snprintf(c->desc, sizeof c->desc, "rows=%zu x cols [%zu, %zu) of %zu -> y cols [%zu, %zu) of %zu%s", rows,
             l.x_col, l.x_col + l.cols, l.ldx, l.y_col, l.y_col + l.cols, l.ldy, nonfinite ? " with NaN/Inf" : "");
    return 1;
}

/* ---- adjoints on the backend under test ------------------------------------------------ */

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
    p->x = check_host_alloc(p->nx);
    p->c = check_host_alloc(p->ny);
    p->ax = check_host_alloc(p->ny);
    p->atc = check_host_alloc(p->nx);
    if (!p->x || !p->c || !p->ax || !p->atc)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    small_integers(p->x, p->nx, seed);
    small_integers(p->c, p->ny, seed + 1);
    GANTRY_TRY(check_host_tensor(s->test, xdim, xshape, p->x, &p->tx));
    GANTRY_TRY(check_host_tensor(s->test, ydim, yshape, p->c, &p->tc));
    GANTRY_TRY(check_host_tensor(s->test, ydim, yshape, NULL, &p->tax));
    return check_host_tensor(s->test, xdim, xshape, NULL, &p->tatc);
}

/* Reads A x and A^T c back (when st, the ops' status, is OK), takes the
 * two dot products and releases everything. */
static gantry_status adjoint_end(adjoint_pair *p, gantry_status st, double *lhs, double *rhs)
{
    if (!st)
        st = check_read_tensor(p->tax, p->ax);
    if (!st)
        st = check_read_tensor(p->tatc, p->atc);
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

static void check_adjoint_conv(check_suite *s, check_row *r, const check_spec *spec)
{
    size_t count = conv_count(s, 0);
    for (size_t i = 0; i < count; i++) {
        conv d = conv_at(i);
        double lhs = 0.0, rhs = 0.0;
        gantry_status st = adjoint_conv(s, d, check_case_seed(spec->name, i), &lhs, &rhs);
        char desc[128];
        conv_str(d, desc, sizeof desc);
        adjoint_case(s, r, desc, st, lhs, rhs);
    }
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

static void check_adjoint_swap(check_suite *s, check_row *r, const check_spec *spec)
{
    const size_t na = CHECK_ARRAY_LEN(axis_sizes);
    size_t index = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < na; j++)
            for (size_t k = 0; k < na; k++, index++) {
                size_t a = axis_sizes[i], b = axis_sizes[j], inner = axis_sizes[k];
                if ((i + 2 * j + 3 * k) % (s->quick ? 7 : 3) || a * b * inner > 600000)
                    continue;
                double lhs = 0.0, rhs = 0.0;
                gantry_status st = adjoint_swap(s, a, b, inner, check_case_seed(spec->name, index), &lhs, &rhs);
                char desc[128];
                snprintf(desc, sizeof desc, "a=%zu b=%zu inner=%zu", a, b, inner);
                adjoint_case(s, r, desc, st, lhs, rhs);
            }
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

static void check_adjoint_rows(check_suite *s, check_row *r, const check_spec *spec)
{
    size_t index = 0;
    for (size_t i = 0; i < CHECK_ARRAY_LEN(row_counts); i++)
        for (size_t j = 0; j < CHECK_ARRAY_LEN(row_layouts); j++, index++) {
            if (s->quick && (i + j) % 4)
                continue;
            size_t rows = row_counts[i];
            row_layout l = row_layouts[j];
            double lhs = 0.0, rhs = 0.0;
            gantry_status st = adjoint_rows(s, rows, l, check_case_seed(spec->name, index), &lhs, &rhs);
            char desc[128];
            snprintf(desc, sizeof desc, "rows=%zu x cols [%zu, %zu) of %zu <-> y cols [%zu, %zu) of %zu", rows,
                     l.x_col, l.x_col + l.cols, l.ldx, l.y_col, l.y_col + l.cols, l.ldy);
            adjoint_case(s, r, desc, st, lhs, rhs);
        }
}

/* ---- the rows ------------------------------------------------------------------------- */

static const char why_adjoint[] = "<A x, c> = <x, A^T c> on small integers: both inner products are exact in any "
                                  "summation order, so a correct backend gives exactly 0";

static const check_spec table[] = {
    { .name = "im2col", .op = CHECK_OP_im2col, .metric = "nmse", .limit = 0,
      .why = "moves values (and writes exact zeros in the padding)", .points = conv_points,
      .variants = 2, .build = im2col_case },
    { .name = "col2im", .op = CHECK_OP_col2im, .metric = "nmse", .limit = 1e-11,
      .why = "each image element sums at most ceil(kh/sh) * ceil(kw/sw) <= 25 col entries (plus the old value "
             "with accumulate) in some order: <= 25 roundings of values of one size, NMSE ~1e-15; one lost or "
             "doubled entry among 10^3 elements gives ~1e-4",
      .points = conv_points, .variants = 3, .build = col2im_case },
    { .name = "adjoint(im2col,col2im)", .op = CHECK_OP_col2im, .metric = "rel", .limit = 1e-5,
      .why = why_adjoint, .run = check_adjoint_conv },
    { .name = "swap_axes", .op = CHECK_OP_swap_axes, .metric = "nmse", .limit = 0, .why = "moves values",
      .points = swap_points, .variants = 1, .build = swap_axes_case },
    { .name = "adjoint(swap_axes)", .op = CHECK_OP_swap_axes, .metric = "rel", .limit = 1e-5, .why = why_adjoint,
      .run = check_adjoint_swap },
    { .name = "copy_rows", .op = CHECK_OP_copy_rows, .metric = "nmse", .limit = 0, .why = "moves values",
      .points = copy_rows_points, .variants = 1, .build = copy_rows_case },
    { .name = "adjoint(copy_rows)", .op = CHECK_OP_copy_rows, .metric = "rel", .limit = 1e-5, .why = why_adjoint,
      .run = check_adjoint_rows },
};

const check_family check_family_conv = CHECK_FAMILY(conv, table);
