/* Checked ops of the conv family: convolution unfolding (im2col, col2im) and reshuffles. */
#include "core/ops/ops_check.h"

gantry_status gantry_conv_geometry_finish(gantry_conv_geometry *g)
{
    if (!g)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "conv geometry is NULL");
    if (!g->n || !g->c || !g->h || !g->w || !g->kh || !g->kw || !g->sh || !g->sw)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "convolution: sizes, kernel and stride must be positive (input %zux%zux%zux%zu, "
                                "kernel %zux%zu, stride %zux%zu)",
                                g->n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw);
    if (g->h + 2 * g->ph < g->kh || g->w + 2 * g->pw < g->kw)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "convolution: kernel %zux%zu does not fit the padded input %zux%zu (padding %zu, %zu)",
                                g->kh, g->kw, g->h, g->w, g->ph, g->pw);
    g->oh = (g->h + 2 * g->ph - g->kh) / g->sh + 1;
    g->ow = (g->w + 2 * g->pw - g->kw) / g->sw + 1;
    return GANTRY_OK;
}

static gantry_status check_conv(const char *op, const gantry_tensor *x, const gantry_tensor *col,
                                const gantry_conv_geometry *g)
{
    if (!g)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: geometry is NULL", op);
    gantry_conv_geometry want = *g;
    GANTRY_TRY(gantry_conv_geometry_finish(&want));
    if (want.oh != g->oh || want.ow != g->ow)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: output %zux%zu should be %zux%zu for this geometry", op,
                                g->oh, g->ow, want.oh, want.ow);
    char b[96];
    if (x->numel != g->n * g->c * g->h * g->w)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: image tensor %s is not [%zu, %zu, %zu, %zu]", op,
                                gantry__shape_str(x, b, sizeof b), g->n, g->c, g->h, g->w);
    size_t rows = g->c * g->kh * g->kw, cols = g->n * g->oh * g->ow;
    if (col->numel != rows * cols)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: column tensor %s should hold [%zu, %zu]", op,
                                gantry__shape_str(col, b, sizeof b), rows, cols);
    return GANTRY_OK;
}

gantry_status gantry_op_im2col(const gantry_tensor *x, gantry_tensor *col, const gantry_conv_geometry *g)
{
    static const char op[] = "im2col";
    CHECK_TENSORS(op, "x,col", x, col);
    GANTRY_TRY(check_conv(op, x, col, g));
    return DISPATCH(x, im2col, MEM(x), MEM(col), g);
}

gantry_status gantry_op_col2im(const gantry_tensor *col, gantry_tensor *x, const gantry_conv_geometry *g,
                               int accumulate)
{
    static const char op[] = "col2im";
    CHECK_TENSORS(op, "col,x", col, x);
    GANTRY_TRY(check_conv(op, x, col, g));
    return DISPATCH(x, col2im, MEM(col), MEM(x), g, accumulate ? 1.0f : 0.0f);
}

gantry_status gantry_op_swap_axes(const gantry_tensor *x, gantry_tensor *y, size_t a, size_t b, size_t inner)
{
    static const char op[] = "swap_axes";
    CHECK_TENSORS(op, "x,y", x, y);
    GANTRY_TRY(same_numel(op, "x", x, "y", y));
    if (!a || !b || !inner || x->numel != a * b * inner)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: [%zu, %zu, %zu] does not match %zu elements", op, a, b,
                                inner, x->numel);
    if (x->buf == y->buf && x->offset < y->offset + y->numel && y->offset < x->offset + x->numel)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: x and y overlap", op);
    return DISPATCH(x, swap_axes, MEM(x), MEM(y), a, b, inner);
}

gantry_status gantry_op_copy_rows(const gantry_tensor *x, size_t ldx, size_t x_col, gantry_tensor *y, size_t ldy,
                                  size_t y_col, size_t rows, size_t cols)
{
    static const char op[] = "copy_rows";
    CHECK_TENSORS(op, "x,y", x, y);
    if (!rows || !cols || x_col + cols > ldx || y_col + cols > ldy)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "%s: columns [%zu, %zu) of rows %zu wide and [%zu, %zu) of rows %zu wide", op, x_col,
                                x_col + cols, ldx, y_col, y_col + cols, ldy);
    if (rows * ldx > x->numel || rows * ldy > y->numel)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: %zu rows of %zu and %zu exceed %zu and %zu elements", op,
                                rows, ldx, ldy, x->numel, y->numel);
    gantry_mem mx = MEM(x), my = MEM(y);
    mx.offset += x_col;
    my.offset += y_col;
    if (mx.buf == my.buf && mx.offset < my.offset + rows * ldy && my.offset < mx.offset + rows * ldx)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: x and y overlap", op);
    return DISPATCH(x, copy_rows, mx, ldx, my, ldy, rows, cols);
}

/* The checks the three convolution ops share: x the image [n, c, h, w], w
 * the weights [o, c, kh, kw] (o follows from w's size), y the output-side
 * tensor [n, o, oh, ow], the scratch large enough, and the written tensor
 * (x, w or y: out_at 0, 1 or 2) overlapping none of the others, the very
 * same tensor passed twice included. */
static gantry_status check_conv_op(const char *op, const gantry_tensor *x, const gantry_tensor *w,
                                   const gantry_tensor *y, const gantry_tensor *work, size_t out_at,
                                   const gantry_conv_geometry *g, size_t *out_channels)
{
    if (!g)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: geometry is NULL", op);
    gantry_conv_geometry want = *g;
    GANTRY_TRY(gantry_conv_geometry_finish(&want));
    if (want.oh != g->oh || want.ow != g->ow)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: output %zux%zu should be %zux%zu for this geometry", op,
                                g->oh, g->ow, want.oh, want.ow);
    char b[96];
    if (x->numel != g->n * g->c * g->h * g->w)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: image tensor %s is not [%zu, %zu, %zu, %zu]", op,
                                gantry__shape_str(x, b, sizeof b), g->n, g->c, g->h, g->w);
    size_t ckk = g->c * g->kh * g->kw, cols = g->n * g->oh * g->ow;
    size_t o = w->numel / ckk;
    if (!o || w->numel != o * ckk)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: weight tensor %s is not [out, %zu, %zu, %zu]", op,
                                gantry__shape_str(w, b, sizeof b), g->c, g->kh, g->kw);
    if (y->numel != o * cols)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: output-side tensor %s is not [%zu, %zu, %zu, %zu]", op,
                                gantry__shape_str(y, b, sizeof b), g->n, o, g->oh, g->ow);
    if (work->numel < (ckk + o) * cols)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: work tensor %s holds fewer than (%zu + %zu) x %zu floats",
                                op, gantry__shape_str(work, b, sizeof b), ckk, o, cols);
    const gantry_tensor *others[] = { x, w, y, work }, *out = others[out_at];
    for (size_t i = 0; i < sizeof others / sizeof *others; i++)
        if (i != out_at && others[i]->buf == out->buf && others[i]->offset < out->offset + out->numel &&
            out->offset < others[i]->offset + others[i]->numel)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: the output overlaps an input or the work tensor",
                                    op);
    *out_channels = o;
    return GANTRY_OK;
}

/* The flags an op takes, and what they tell its backend. */
static gantry_status check_flags(const char *op, int flags, int allowed, unsigned *kept)
{
    if (flags & ~allowed)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: unknown flags 0x%x", op, (unsigned)(flags & ~allowed));
    *kept = (flags & GANTRY_CONV_IMAGE_IN_WORK ? GANTRY_CONV_KEPT_IMAGE : 0u) |
            (flags & GANTRY_CONV_OUTSIDE_IN_WORK ? GANTRY_CONV_KEPT_OUTSIDE : 0u);
    return GANTRY_OK;
}

gantry_status gantry_op_conv2d_forward(const gantry_tensor *x, const gantry_tensor *w, gantry_tensor *y,
                                       const gantry_conv_geometry *g, int flags, gantry_tensor *work)
{
    static const char op[] = "conv2d_forward";
    CHECK_TENSORS(op, "x,w,y,work", x, w, y, work);
    size_t o;
    unsigned kept = 0;
    GANTRY_TRY(check_flags(op, flags, GANTRY_CONV_IMAGE_IN_WORK, &kept));
    GANTRY_TRY(check_conv_op(op, x, w, y, work, 2, g, &o));
    return DISPATCH(y, conv2d_forward, MEM(x), MEM(w), MEM(y), o, g, MEM(work), kept);
}

gantry_status gantry_op_conv2d_backward_data(const gantry_tensor *dy, const gantry_tensor *w, gantry_tensor *dx,
                                             const gantry_conv_geometry *g, int flags, gantry_tensor *work)
{
    static const char op[] = "conv2d_backward_data";
    CHECK_TENSORS(op, "dy,w,dx,work", dy, w, dx, work);
    size_t o;
    unsigned kept = 0;
    GANTRY_TRY(check_flags(op, flags, GANTRY_CONV_OUTSIDE_IN_WORK, &kept));
    GANTRY_TRY(check_conv_op(op, dx, w, dy, work, 0, g, &o));
    return DISPATCH(dx, conv2d_backward_data, MEM(dy), MEM(w), MEM(dx), o, g, MEM(work), kept);
}

gantry_status gantry_op_conv2d_backward_weight(const gantry_tensor *x, const gantry_tensor *dy, gantry_tensor *dw,
                                               const gantry_conv_geometry *g, int flags, gantry_tensor *work)
{
    static const char op[] = "conv2d_backward_weight";
    CHECK_TENSORS(op, "x,dy,dw,work", x, dy, dw, work);
    size_t o;
    unsigned kept = 0;
    GANTRY_TRY(check_flags(op, flags, GANTRY_CONV_ACCUMULATE | GANTRY_CONV_IMAGE_IN_WORK | GANTRY_CONV_OUTSIDE_IN_WORK,
                           &kept));
    GANTRY_TRY(check_conv_op(op, x, dw, dy, work, 1, g, &o));
    return DISPATCH(dw, conv2d_backward_weight, MEM(x), MEM(dy), MEM(dw), o, g,
                    flags & GANTRY_CONV_ACCUMULATE ? 1.0f : 0.0f, MEM(work), kept);
}
