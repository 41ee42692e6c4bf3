/* `gantry check`, the conv family: im2col, col2im, swap_axes and
 * copy_rows, and the convolution ops conv2d_forward, conv2d_backward_data
 * and conv2d_backward_weight, compared with the reference, and on the
 * backend under test alone the adjoint identities between them and
 * finite-difference gradients of the convolution ops.
 *
 * Grids: convolutions over n in {1, 2, 7}, c in {1, 3, 13}, h, w in {1, 5,
 * 7, 14, 28}, kernels 1..5 (non-square too), strides 1..3, padding 0..2 (a
 * fixed list of corner cases and a deterministic pseudo-random sample), and
 * in the full grid the DCGAN layers (batch 64, 1, 64 or 128 channels, 28x28,
 * 14x14 and 7x7, kernel 4, stride 2, padding 1); swap_axes over a, b, inner
 * in {1, 3, 7, 64, 129} (up to 64 x 64 x 129 elements); copy_rows with
 * column offsets on both sides.  NaN/Inf go into the data moved (copied as
 * they are) and into col2im's sums (IEEE sums of NaN and +-Inf do not
 * depend on the order).  The convolution ops take these geometries (not
 * im2col's DCGAN layers) with two output channel counts each (1 to 100,
 * most not a multiple of a GEMM tile), and in the full grid DCGAN-like
 * layers with their own (1 or 3 image channels to 64, 64 to 128 at 14x14,
 * a latent of 100 onto 4x4 x 256, 4x4 x 256 to one logit); NaN-free data,
 * since their sums are gemm's; conv2d_backward_weight overwriting and
 * accumulating.  Their scratch is no case argument (its contents are
 * undefined afterwards): each run makes its own, guarded like the
 * arguments.
 *
 * adjoint(...): <A x, c> == <x, A^T c> for im2col/col2im, swap_axes (with
 * itself, axes swapped), copy_rows (with itself, the other way) and
 * conv2d_forward with conv2d_backward_data (in x) and with
 * conv2d_backward_weight (in w), the relative difference of the two.  The
 * data are small integers, so both inner products are exact in any
 * summation order and a correct backend gives exactly 0.  They run with
 * the op they exercise (`--op col2im` also runs adjoint(im2col,col2im)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/fd_op.h"
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

/* ---- conv2d_forward, conv2d_backward_data, conv2d_backward_weight ------------------ */

/* DCGAN-like layers at batch 64 with their convolution's output channels
 * o: D's first convolution and G's last transposed one (1 or 3 image
 * channels at 28x28 and 32x32, o = 64), D's second and G's middle one (64
 * channels at 14x14, o = 128), and the all-convolutional networks' ends at
 * 32x32: G's first layer (a latent of 100 onto 4x4 x 256, kernel 4, stride
 * 1, no padding) and D's last (4x4 x 256 to one logit). */
typedef struct conv_layer {
    conv d;
    size_t o;
} conv_layer;

static const conv_layer conv_layers[] = {
    { { 64, 1, 28, 28, 4, 4, 2, 2, 1, 1 }, 64 },   { { 64, 3, 32, 32, 4, 4, 2, 2, 1, 1 }, 64 },
    { { 64, 64, 14, 14, 4, 4, 2, 2, 1, 1 }, 128 }, { { 64, 256, 4, 4, 4, 4, 1, 1, 0, 0 }, 100 },
    { { 64, 256, 4, 4, 4, 4, 1, 1, 0, 0 }, 1 },
};

/* Output channels for the other geometries: 1, and counts that are not
 * multiples of a GEMM tile's 4, 8, 12, 16 or 32 rows next to some that are. */
static const size_t conv_outs[] = { 1, 3, 13, 16, 17, 33, 48, 7, 64, 100 };

/* The geometries without the DCGAN ones of im2col, then (full grid) the layers. */
static size_t conv_op_points(const check_suite *s)
{
    return conv_count(s, 0) + (s->quick ? 0 : CHECK_ARRAY_LEN(conv_layers));
}

/* The geometry at point `at` and its output channels (by variant). */
static conv_layer conv_op_at(const check_suite *s, size_t at, int variant)
{
    size_t general = conv_count(s, 0);
    if (at >= general)
        return conv_layers[at - general];
    return (conv_layer){ conv_at(at), conv_outs[(2 * at + (size_t)variant) % CHECK_ARRAY_LEN(conv_outs)] };
}

/* The scratch the ops ask for: (c kh kw + o) x n oh ow floats. */
static size_t conv_work_size(const gantry_conv_geometry *g, size_t o)
{
    return (g->c * g->kh * g->kw + o) * g->n * g->oh * g->ow;
}

/* The ops as spec->variant of their rows (and a case's i[1]) name them. */
enum { CONV_FORWARD, CONV_BACKWARD_DATA, CONV_BACKWARD_WEIGHT };

/* A case's op on its three tensors; i[0]: accumulate. */
static gantry_status conv_op(gantry_tensor *const *t, const check_case *c, const gantry_conv_geometry *g,
                             gantry_tensor *work)
{
    switch (c->i[1]) {
    case CONV_FORWARD: return gantry_op_conv2d_forward(t[0], t[1], t[2], g, 0, work);             /* x, w, y */
    case CONV_BACKWARD_DATA: return gantry_op_conv2d_backward_data(t[0], t[1], t[2], g, 0, work); /* dy, w, dx */
    default: return gantry_op_conv2d_backward_weight(t[0], t[1], t[2], g, c->i[0], work);      /* x, dy, dw */
    }
}

/* Runs the op with a scratch tensor the case's arguments do not hold (its
 * contents after the op are undefined, so neither unchanged nor compared):
 * made for the run on the backend of the case's tensors, NaN inside (an op
 * that reads scratch it has not written spreads it) between CHECK_LEAD and
 * CHECK_TRAIL sentinels that must survive, as around every case tensor. */
static gantry_status run_conv_op(gantry_tensor *const *t, const check_case *c)
{
    gantry_conv_geometry g = conv_geometry(conv_unpack(c));
    size_t n = conv_work_size(&g, (size_t)c->u[3]), total = CHECK_LEAD + n + CHECK_TRAIL;
    float *host = check_host_alloc(total);
    gantry_tensor *base = NULL, *work = NULL;
    gantry_status st = host ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory for work");
    for (size_t i = 0; host && i < total; i++)
        host[i] = i < CHECK_LEAD || i >= CHECK_LEAD + n ? CHECK_SENTINEL : NAN;
    if (!st)
        st = gantry_tensor_new(gantry_tensor_backend(t[0]), &base, total, 0, 0, 0);
    if (!st)
        st = gantry_tensor_write(base, host, total);
    if (!st)
        st = gantry_tensor_view(base, CHECK_LEAD, 1, &n, &work);
    if (!st)
        st = conv_op(t, c, &g, work);
    if (!st)
        st = gantry_tensor_read(base, host, total);
    long where = 0;
    size_t damaged = st ? 0 : check_guard_damage(host, n, &where);
    if (damaged && where < 0)
        st = gantry_set_error(GANTRY_INTERNAL, "wrote %zu guard element(s) around 'work' [%zu], first %ld before it",
                              damaged, n, -where);
    else if (damaged)
        st = gantry_set_error(GANTRY_INTERNAL, "wrote %zu guard element(s) around 'work' [%zu], first at n+%ld",
                              damaged, n, where - (long)n);
    gantry_tensor_destroy(work);
    gantry_tensor_destroy(base);
    free(host);
    return st;
}

/* A case's three tensors: the image side [n, c, h, w], the weights
 * [o, c, kh, kw] and the output side [n, o, oh, ow] (0, 1, 2), in the op's
 * argument order; the one the op writes holds large finite garbage when it
 * is overwritten (the ABI does not promise that it is not read, so no
 * NaN), values like the inputs' (in [-1, 1]) when accumulated into. */
static void conv_op_args(check_case *c, int op, conv d, size_t o, const gantry_conv_geometry *g, int accumulate)
{
    static const char *const names[3][3] = { { "x", "w", "y" }, { "dx", "w", "dy" }, { "x", "dw", "dy" } };
    static const int order[3][3] = { { 0, 1, 2 }, { 2, 1, 0 }, { 0, 2, 1 } }, written[3] = { 2, 0, 1 };
    const size_t shapes[3][4] = { { d.n, d.c, d.h, d.w }, { o, d.c, d.kh, d.kw }, { d.n, o, g->oh, g->ow } };
    for (int k = 0; k < 3; k++) {
        int i = order[op][k], out = i == written[op];
        const size_t *sh = shapes[i];
        float *v = check_case_arg(c, names[op][i], out ? CHECK_OUT : CHECK_IN, 4, sh[0], sh[1], sh[2], sh[3]);
        size_t n = sh[0] * sh[1] * sh[2] * sh[3];
        if (out && !accumulate)
            check_fill_uniform(c, v, n, -1e6f, 1e6f);
        else
            check_fill_uniform(c, v, n, -1.0f, 1.0f);
    }
}

/* spec->variant is the op; variant 1 of the grid takes the other output
 * channel count, and accumulates for backward_weight.  A layer's point has
 * its own o, so the second variant of the other two ops would repeat it. */
static int conv_op_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    int op = spec->variant, accumulate = op == CONV_BACKWARD_WEIGHT && p->variant;
    if (p->variant && op != CONV_BACKWARD_WEIGHT && p->at >= conv_count(s, 0))
        return 0;
    conv_layer l = conv_op_at(s, p->at, p->variant);
    gantry_conv_geometry g = conv_geometry(l.d);
    char shape[96];
    c->run = run_conv_op;
    conv_pack(c, l.d);
    c->u[3] = l.o;
    c->i[0] = accumulate;
    c->i[1] = op;
    conv_op_args(c, op, l.d, l.o, &g, accumulate);
    conv_str(l.d, shape, sizeof shape);
    snprintf(c->desc, sizeof c->desc, "%s o %zu%s", shape, l.o,
             op == CONV_BACKWARD_WEIGHT ? (accumulate ? " accumulate=1" : " accumulate=0") : "");
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

/* The convolution ops are bilinear in (image, weights) and (output side,
 * weights), so forward's adjoint in x is backward_data (w fixed) and in w
 * backward_weight (x fixed): <conv2d_forward(x, w), dy> against
 * <x, conv2d_backward_data(dy, w)> (weight 0) or
 * <w, conv2d_backward_weight(x, dy)> (weight 1) on the backend under test;
 * the pair's x is the image or the weights, the other one `fixed`. */
static gantry_status adjoint_conv_op(check_suite *s, conv_layer l, int weight, uint64_t seed, double *lhs,
                                     double *rhs)
{
    gantry_conv_geometry g = conv_geometry(l.d);
    size_t image[4] = { l.d.n, l.d.c, l.d.h, l.d.w }, wshape[4] = { l.o, l.d.c, l.d.kh, l.d.kw };
    size_t yshape[4] = { l.d.n, l.o, g.oh, g.ow }, nwork = conv_work_size(&g, l.o);
    const size_t *fshape = weight ? image : wshape;
    size_t nf = fshape[0] * fshape[1] * fshape[2] * fshape[3];
    adjoint_pair p;
    gantry_tensor *fixed = NULL, *work = NULL;
    float *f = check_host_alloc(nf);
    gantry_status st = adjoint_begin(s, &p, seed, 4, weight ? wshape : image, 4, yshape);
    if (!st && !f)
        st = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!st) {
        small_integers(f, nf, seed + 2);
        st = check_host_tensor(s->test, 4, fshape, f, &fixed);
    }
    if (!st)
        st = check_host_tensor(s->test, 1, &nwork, NULL, &work);
    if (!st)
        st = weight ? gantry_op_conv2d_forward(fixed, p.tx, p.tax, &g, 0, work)
                    : gantry_op_conv2d_forward(p.tx, fixed, p.tax, &g, 0, work);
    if (!st)
        st = weight ? gantry_op_conv2d_backward_weight(fixed, p.tc, p.tatc, &g, 0, work)
                    : gantry_op_conv2d_backward_data(p.tc, fixed, p.tatc, &g, 0, work);
    gantry_tensor_destroy(fixed);
    gantry_tensor_destroy(work);
    free(f);
    return adjoint_end(&p, st, lhs, rhs);
}

/* Every geometry of the comparison rows with its first output channel
 * count; spec->variant: 1 for the weights. */
static void check_adjoint_conv_op(check_suite *s, check_row *r, const check_spec *spec)
{
    size_t count = conv_op_points(s);
    for (size_t i = 0; i < count; i++) {
        conv_layer l = conv_op_at(s, i, 0);
        double lhs = 0.0, rhs = 0.0;
        gantry_status st = adjoint_conv_op(s, l, spec->variant, check_case_seed(spec->name, i), &lhs, &rhs);
        char shape[96], desc[128];
        conv_str(l.d, shape, sizeof shape);
        snprintf(desc, sizeof desc, "%s o %zu", shape, l.o);
        adjoint_case(s, r, desc, st, lhs, rhs);
    }
}

/* ---- the convolution ops against finite differences -------------------------------------
 * The objective is L = sum w_L out of a layer's forward: Conv2d's
 * out = conv2d_forward(x, w) with dx = conv2d_backward_data(w_L, w) and
 * dw = conv2d_backward_weight(x, w_L); ConvTranspose2d's
 * out = conv2d_backward_data(z, w) with dz = conv2d_forward(w_L, w) and
 * dw = conv2d_backward_weight(w_L, z), as core/nn_conv.c uses them. */

typedef struct conv_fd {
    check_fd_op op; /* first: the forward gets &op and finds the rest */
    gantry_conv_geometry g;
    int transposed;
} conv_fd;

/* t: x [n, c, h, w], w [o, c, kh, kw], z [n, o, oh, ow], work, w_L (the
 * forward's output shape), the analytic gradient */
static gantry_status fd_conv_forward(check_fd_op *p)
{
    const conv_fd *f = (const conv_fd *)p;
    if (f->transposed)
        return gantry_op_conv2d_backward_data(p->t[2], p->t[1], p->t[0], &f->g, 0, p->t[3]);
    return gantry_op_conv2d_forward(p->t[0], p->t[1], p->t[2], &f->g, 0, p->t[3]);
}

/* The analytic gradient into t[5]: of the layer's input, or (weight) of w. */
static gantry_status fd_conv_gradient(conv_fd *f, int weight)
{
    gantry_tensor **t = f->op.t;
    if (weight)
        return f->transposed ? gantry_op_conv2d_backward_weight(t[4], t[2], t[5], &f->g, 0, t[3])
                             : gantry_op_conv2d_backward_weight(t[0], t[4], t[5], &f->g, 0, t[3]);
    return f->transposed ? gantry_op_conv2d_forward(t[4], t[1], t[5], &f->g, 0, t[3])
                         : gantry_op_conv2d_backward_data(t[4], t[1], t[5], &f->g, 0, t[3]);
}

static void fd_conv(check_suite *s, check_row *r, conv_layer l, int transposed, int weight, uint64_t seed)
{
    conv_fd f;
    memset(&f, 0, sizeof f);
    check_fd_op *p = &f.op;
    conv d = l.d;
    f.g = conv_geometry(d);
    f.transposed = transposed;
    size_t shapes[3][4] = { { d.n, d.c, d.h, d.w }, { l.o, d.c, d.kh, d.kw }, { d.n, l.o, f.g.oh, f.g.ow } };
    size_t n[3], nwork = conv_work_size(&f.g, l.o);
    for (int i = 0; i < 3; i++)
        n[i] = shapes[i][0] * shapes[i][1] * shapes[i][2] * shapes[i][3];
    int in = weight ? 1 : transposed ? 2 : 0, out = transposed ? 0 : 2; /* perturbed and output tensors */
    float *x = check_host_alloc(n[0]), *w = check_host_alloc(n[1]), *z = check_host_alloc(n[2]);
    float *wf = check_host_alloc(n[out]);
    double *wl = malloc(n[out] * sizeof *wl);
    float *host[] = { x, w, z, wf }, *values[3] = { x, w, z };
    char shape[96], config[128];
    conv_str(d, shape, sizeof shape);
    snprintf(config, sizeof config, "%s %s o %zu", transposed ? "ConvTranspose2d" : "Conv2d", shape, l.o);
    gantry_status st =
        x && w && z && wf && wl ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    for (int i = 0; !st && i < 3; i++)
        for (size_t j = 0; j < n[i]; j++)
            values[i][j] = gantry_philox_uniform(seed, (uint64_t)i, j, -1.0f, 1.0f);
    if (!st) {
        check_fd_weights(wl, n[out], seed);
        for (size_t j = 0; j < n[out]; j++)
            wf[j] = (float)wl[j];
    }
    p->forward = fd_conv_forward;
    p->out_host = check_host_alloc(n[out]);
    p->w = wl;
    for (int i = 0; !st && i < 3; i++)
        st = check_host_tensor(s->test, 4, shapes[i], values[i], &p->t[i]);
    if (!st)
        st = check_host_tensor(s->test, 1, &nwork, NULL, &p->t[3]);
    if (!st)
        st = check_host_tensor(s->test, 4, shapes[out], wf, &p->t[4]);
    if (!st)
        st = check_host_tensor(s->test, 4, shapes[weight ? 1 : in], NULL, &p->t[5]);
    if (!st)
        st = fd_conv_gradient(&f, weight);
    p->out = p->t[out];
    p->in[0] = values[in];
    p->in_at[0] = in;
    if (!st)
        st = check_fd_op_compare(s, r, p, 0, p->t[5], 1.0, config, weight ? "dw" : transposed ? "dz" : "dx");
    if (st)
        check_row_failed(s, r, config);
    check_fd_op_free(p, host, CHECK_ARRAY_LEN(host));
    free(wl);
}

/* Small geometries (every element perturbed): padding, strides 1 and 2,
 * kh != kw, 1x1, DCGAN's kernel 4 stride 2 padding 1, and 4x4 onto 1x1 as
 * the all-convolutional networks' ends; each as Conv2d and as
 * ConvTranspose2d.  spec->variant: 1 for dw. */
static void gradcheck_conv_op(check_suite *s, check_row *r, const check_spec *spec)
{
    static const conv_layer layers[] = {
        { { 2, 3, 5, 6, 3, 3, 2, 2, 1, 1 }, 4 }, { { 1, 2, 6, 6, 4, 4, 2, 2, 1, 1 }, 3 },
        { { 2, 1, 4, 5, 2, 3, 1, 2, 0, 1 }, 2 }, { { 1, 3, 3, 3, 1, 1, 1, 1, 0, 0 }, 5 },
        { { 2, 2, 4, 4, 4, 4, 1, 1, 0, 0 }, 3 },
    };
    for (size_t i = 0; i < CHECK_ARRAY_LEN(layers); i++)
        for (int transposed = 0; transposed <= 1; transposed++)
            fd_conv(s, r, layers[i], transposed, spec->variant, 1200 + 2 * i + (size_t)transposed);
}

/* ---- the rows ------------------------------------------------------------------------- */

static const char why_adjoint[] = "<A x, c> = <x, A^T c> on small integers: both inner products are exact in any "
                                  "summation order, so a correct backend gives exactly 0";

static const char why_adjoint_conv[] =
    "<conv2d_forward(x, w), dy> = <x, conv2d_backward_data(dy, w)> = <w, conv2d_backward_weight(x, dy)> on "
    "small integers: every element (|sum| < 2^24) and both inner products are exact in any summation order, so a "
    "correct backend gives exactly 0";

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
    { .name = "conv2d_forward", .op = CHECK_OP_conv2d_forward, .metric = "nmse", .limit = 1e-9,
      .why = "as gemm: dot products of c kh kw terms (up to 256 x 16) in another order, relative error ~sqrt(K) "
             "ulp; measured at most 2.0e-12 (cpu, opencl); one wrong element of the 64 x 128 x 7 x 7 output "
             "gives ~2.5e-6",
      .points = conv_op_points, .variants = 2, .build = conv_op_case, .variant = CONV_FORWARD },
    { .name = "conv2d_backward_data", .op = CHECK_OP_conv2d_backward_data, .metric = "nmse", .limit = 1e-9,
      .why = "as gemm and col2im: each image element sums o x (the windows over it, <= ceil(kh/sh) "
             "ceil(kw/sw)) terms (up to 100 x 15) in another order; measured at most 3.1e-13 (cpu, opencl); one "
             "wrong element of 64 x 64 x 14 x 14 gives ~1e-6",
      .points = conv_op_points, .variants = 2, .build = conv_op_case, .variant = CONV_BACKWARD_DATA },
    { .name = "adjoint(conv2d_backward_data)", .op = CHECK_OP_conv2d_backward_data, .metric = "rel",
      .limit = 1e-5, .why = why_adjoint_conv, .run = check_adjoint_conv_op, .variant = 0 },
    CHECK_FD_ROW("conv2d_data", conv2d_backward_data,
                 "Conv2d's dx (conv2d_backward_data) and ConvTranspose2d's dz (conv2d_forward) against differences "
                 "of the layer's forward; ",
                 gradcheck_conv_op, 0),
    { .name = "conv2d_backward_weight", .op = CHECK_OP_conv2d_backward_weight, .metric = "nmse", .limit = 1e-9,
      .why = "as gemm: dot products of n oh ow terms (up to 64 x 16 x 16) in another order, plus the old value "
             "with accumulate; measured at most 6.2e-13 (cpu, opencl); one wrong element of 128 x 64 x 4 x 4 "
             "gives ~8e-6",
      .points = conv_op_points, .variants = 2, .build = conv_op_case, .variant = CONV_BACKWARD_WEIGHT },
    { .name = "adjoint(conv2d_backward_weight)", .op = CHECK_OP_conv2d_backward_weight, .metric = "rel",
      .limit = 1e-5, .why = why_adjoint_conv, .run = check_adjoint_conv_op, .variant = 1 },
    CHECK_FD_ROW("conv2d_weight", conv2d_backward_weight,
                 "dw of Conv2d and of ConvTranspose2d (conv2d_backward_weight, image and output side exchanged) "
                 "against differences of the layer's forward; ",
                 gradcheck_conv_op, 1),
};

const check_family check_family_conv = CHECK_FAMILY(conv, table);
