/* gantry reference backend: the data movement of convolution as GEMM
 * (im2col and its adjoint col2im) and the reshuffles around it (swap_axes,
 * copy_rows). */
#include <string.h>

#include "reference_impl.h"

#include "../conv_sequence.h"

/* The image position im2col reads for (row, column) of col, or -1 in the padding. */
static long conv_source(const gantry_conv_geometry *g, size_t row, size_t column)
{
    size_t kj = row % g->kw, ki = (row / g->kw) % g->kh, ci = row / (g->kw * g->kh);
    size_t ox = column % g->ow, oy = (column / g->ow) % g->oh, b = column / (g->ow * g->oh);
    long iy = (long)(oy * g->sh + ki) - (long)g->ph, ix = (long)(ox * g->sw + kj) - (long)g->pw;
    if (iy < 0 || ix < 0 || iy >= (long)g->h || ix >= (long)g->w)
        return -1;
    return (long)(((b * g->c + ci) * g->h + (size_t)iy) * g->w + (size_t)ix);
}

gantry_status ref_im2col(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *cp = ref_f(col);
    size_t rows = g->c * g->kh * g->kw, cols = g->n * g->oh * g->ow;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) {
            long at = conv_source(g, r, j);
            cp[r * cols + j] = at < 0 ? 0.0f : xp[at];
        }
    return GANTRY_OK;
}

gantry_status ref_col2im(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta)
{
    (void)ctx;
    const float *cp = ref_cf(col);
    float *xp = ref_f(x);
    size_t n = g->n * g->c * g->h * g->w, cols = g->n * g->oh * g->ow;
    /* Gathered per image position in float64, in (row, column) order. */
    for (size_t i = 0; i < n; i++) {
        size_t ix = i % g->w, iy = (i / g->w) % g->h, ci = (i / (g->w * g->h)) % g->c, b = i / (g->w * g->h * g->c);
        double acc = beta != 0.0f ? (double)xp[i] : 0.0;
        for (size_t ki = 0; ki < g->kh; ki++) {
            long ty = (long)(iy + g->ph) - (long)ki;
            if (ty < 0 || ty % (long)g->sh != 0 || ty / (long)g->sh >= (long)g->oh)
                continue;
            for (size_t kj = 0; kj < g->kw; kj++) {
                long tx = (long)(ix + g->pw) - (long)kj;
                if (tx < 0 || tx % (long)g->sw != 0 || tx / (long)g->sw >= (long)g->ow)
                    continue;
                size_t r = (ci * g->kh + ki) * g->kw + kj;
                size_t j = (b * g->oh + (size_t)(ty / (long)g->sh)) * g->ow + (size_t)(tx / (long)g->sw);
                acc += cp[r * cols + j];
            }
        }
        xp[i] = (float)acc;
    }
    return GANTRY_OK;
}

gantry_status ref_swap_axes(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t i = 0; i < a; i++)
        for (size_t j = 0; j < b; j++)
            memcpy(yp + (j * a + i) * inner, xp + (i * b + j) * inner, inner * sizeof *yp);
    return GANTRY_OK;
}

gantry_status ref_copy_rows(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows, size_t cols)
{
    (void)ctx;
    const float *xp = ref_cf(x);
    float *yp = ref_f(y);
    for (size_t r = 0; r < rows; r++)
        memcpy(yp + r * ldy, xp + r * ldx, cols * sizeof *yp);
    return GANTRY_OK;
}

/* The convolution ops as the sequences that define them (the oracle). */
CONV_SEQUENCE_DEFINE(ref, )
