/* The version-3 convolution ops (conv2d_forward, conv2d_backward_data,
 * conv2d_backward_weight) as the version-2 sequences that define them in
 * gantry/backend.h: im2col, gemm, swap_axes, col2im through the backend's
 * own methods, with the column matrix and the swapped output side in the
 * op's work buffer:
 *   work = [ col: c*kh*kw x n*oh*ow | t: o x n*oh*ow ].
 * A backend without a fused path defines its three methods with
 *   CONV_SEQUENCE_DEFINE(prefix, scope)
 * for functions prefix_im2col, prefix_gemm, prefix_swap_axes, prefix_col2im,
 * defining prefix_conv2d_forward etc. with `scope` (empty or static); one
 * with a fused path for some of them uses the conv_sequence_* functions for
 * the rest. */
#ifndef GANTRY_BACKENDS_CONV_SEQUENCE_H
#define GANTRY_BACKENDS_CONV_SEQUENCE_H

#include "gantry/backend.h"

typedef struct conv_sequence_ops {
    GANTRY_BACKEND_METHOD_TYPE(im2col) *im2col;
    GANTRY_BACKEND_METHOD_TYPE(col2im) *col2im;
    GANTRY_BACKEND_METHOD_TYPE(swap_axes) *swap_axes;
    GANTRY_BACKEND_METHOD_TYPE(gemm) *gemm;
} conv_sequence_ops;

#define CONV_SEQUENCE_TRY(expr)                                                                        \
    do {                                                                                               \
        gantry_status conv_sequence_s_ = (expr);                                                       \
        if (conv_sequence_s_ != GANTRY_OK)                                                             \
            return conv_sequence_s_;                                                                   \
    } while (0)

/* The column matrix and the swapped output side inside `work`. */
static inline void conv_sequence_split(const gantry_conv_geometry *g, gantry_mem work, gantry_mem *col, gantry_mem *t)
{
    *col = work;
    *t = work;
    t->offset += g->c * g->kh * g->kw * g->n * g->oh * g->ow;
}

/* `kept` (gantry_conv_kept): col still holds im2col(x) (KEPT_IMAGE: every
 * op that reads x leaves it there) and t the swapped dy (KEPT_OUTSIDE:
 * every op that reads dy leaves it there). */
static inline gantry_status conv_sequence_forward(const conv_sequence_ops *ops, void *ctx, gantry_mem x, gantry_mem w,
                                                  gantry_mem y, size_t o, const gantry_conv_geometry *g,
                                                  gantry_mem work, unsigned kept)
{
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    gantry_mem col, t;
    conv_sequence_split(g, work, &col, &t);
    if (!(kept & GANTRY_CONV_KEPT_IMAGE))
        CONV_SEQUENCE_TRY(ops->im2col(ctx, x, col, g));
    CONV_SEQUENCE_TRY(ops->gemm(ctx, 0, 0, o, np, ckk, 1.0f, w, ckk, col, np, 0.0f, t, np));
    return ops->swap_axes(ctx, t, y, o, g->n, g->oh * g->ow);
}

static inline gantry_status conv_sequence_backward_data(const conv_sequence_ops *ops, void *ctx, gantry_mem dy,
                                                        gantry_mem w, gantry_mem dx, size_t o,
                                                        const gantry_conv_geometry *g, gantry_mem work,
                                                        unsigned kept)
{
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    gantry_mem col, t;
    conv_sequence_split(g, work, &col, &t);
    if (!(kept & GANTRY_CONV_KEPT_OUTSIDE))
        CONV_SEQUENCE_TRY(ops->swap_axes(ctx, dy, t, g->n, o, g->oh * g->ow));
    CONV_SEQUENCE_TRY(ops->gemm(ctx, 1, 0, ckk, np, o, 1.0f, w, ckk, t, np, 0.0f, col, np));
    return ops->col2im(ctx, col, dx, g, 0.0f);
}

static inline gantry_status conv_sequence_backward_weight(const conv_sequence_ops *ops, void *ctx, gantry_mem x,
                                                          gantry_mem dy, gantry_mem dw, size_t o,
                                                          const gantry_conv_geometry *g, float beta, gantry_mem work,
                                                          unsigned kept)
{
    size_t ckk = g->c * g->kh * g->kw, np = g->n * g->oh * g->ow;
    gantry_mem col, t;
    conv_sequence_split(g, work, &col, &t);
    if (!(kept & GANTRY_CONV_KEPT_IMAGE))
        CONV_SEQUENCE_TRY(ops->im2col(ctx, x, col, g));
    if (!(kept & GANTRY_CONV_KEPT_OUTSIDE))
        CONV_SEQUENCE_TRY(ops->swap_axes(ctx, dy, t, g->n, o, g->oh * g->ow));
    return ops->gemm(ctx, 0, 1, o, ckk, np, 1.0f, t, np, col, np, beta, dw, ckk);
}

#define CONV_SEQUENCE_DEFINE(prefix, scope)                                                            \
    static const conv_sequence_ops prefix##_conv_sequence = { prefix##_im2col, prefix##_col2im,        \
                                                              prefix##_swap_axes, prefix##_gemm };     \
    scope gantry_status prefix##_conv2d_forward(void *ctx, gantry_mem x, gantry_mem w, gantry_mem y, size_t o, \
                                                const gantry_conv_geometry *g, gantry_mem work, unsigned kept) \
    {                                                                                                  \
        return conv_sequence_forward(&prefix##_conv_sequence, ctx, x, w, y, o, g, work, kept);         \
    }                                                                                                  \
    scope gantry_status prefix##_conv2d_backward_data(void *ctx, gantry_mem dy, gantry_mem w, gantry_mem dx,   \
                                                      size_t o, const gantry_conv_geometry *g, gantry_mem work, \
                                                      unsigned kept)                                   \
    {                                                                                                  \
        return conv_sequence_backward_data(&prefix##_conv_sequence, ctx, dy, w, dx, o, g, work, kept); \
    }                                                                                                  \
    scope gantry_status prefix##_conv2d_backward_weight(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem dw, \
                                                        size_t o, const gantry_conv_geometry *g, float beta,   \
                                                        gantry_mem work, unsigned kept)                \
    {                                                                                                  \
        return conv_sequence_backward_weight(&prefix##_conv_sequence, ctx, x, dy, dw, o, g, beta, work, kept); \
    }

#endif
