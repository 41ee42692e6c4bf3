/* gantry opencl backend: the conv family (kernels in cl/conv.cl):
 * convolution unfolding and the data movement around it.  Launch shapes
 * (ocl_launch.c):
 *   rows          im2col (kw elements per work-item, a row per (ci, ki)),
 *                 swap_axes, copy_rows: an element per work-item,
 *                 dimension 0 the columns of a row (coalesced), dimension 1
 *                 the rows
 *   elementwise   col2im: a gather per run of columns of an image row (a
 *                 row of VW planes on CPUs, an element on GPUs) */
#include "ocl_impl.h"

#include "../conv_sequence.h"

gantry_status ocl_im2col(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), cm = ocl_mem_arg_of(col);
    cl_ulong ch = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw, ph = g->ph, pw = g->pw,
             oh = g->oh, ow = g->ow, cols = (cl_ulong)g->n * g->oh * g->ow;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(cm), OCL_ARG(ch), OCL_ARG(h),  OCL_ARG(w),
                       OCL_ARG(kh),      OCL_ARG(kw),      OCL_ARG(sh), OCL_ARG(sw), OCL_ARG(ph),
                       OCL_ARG(pw),      OCL_ARG(oh),      OCL_ARG(ow), OCL_ARG(cols) };
    /* A row per (ci, ki): the kernel writes its kw rows of col. */
    return ocl_launch_rows(c, "im2col", OCL_K_im2col, g->c * g->kh, (size_t)cols, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_col2im(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg cm = ocl_mem_arg_of(col), xm = ocl_mem_arg_of(x);
    if (!g->n || !g->c || !g->h || !g->w)
        return GANTRY_OK;
    /* A work-item per run of `run` columns of an image row of `lanes`
     * planes (b, ci): on CPU devices a whole row of VW planes as vectors
     * (the row's index arithmetic then serves w VW elements, the sums run
     * VW wide; 2-3x less CPU time on PoCL for DCGAN's 64 x 64 x 14 x 14,
     * where the scattered col reads now bound it), on GPUs
     * an element, whose work-items are cheap and whose writes stay
     * coalesced. */
    const int gpu = c->gpu_shaped;
    const size_t run = gpu ? 1 : g->w, runs = ocl_div_up(g->w, run), lanes = gpu ? 1 : c->vw;
    cl_ulong ch = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw, ph = g->ph, pw = g->pw,
             oh = g->oh, ow = g->ow, cols = (cl_ulong)g->n * g->oh * g->ow, n = g->n, rn = run, ln = lanes,
             units = (cl_ulong)ocl_div_up(g->n, lanes) * g->c * g->h * runs;
    ocl_arg args[] = { OCL_MEM_ARGS(cm), OCL_MEM_ARGS(xm), OCL_ARG(ch),   OCL_ARG(h),  OCL_ARG(w),    OCL_ARG(kh),
                       OCL_ARG(kw),      OCL_ARG(sh),      OCL_ARG(sw),   OCL_ARG(ph), OCL_ARG(pw),   OCL_ARG(oh),
                       OCL_ARG(ow),      OCL_ARG(cols),    OCL_ARG(n),    OCL_ARG(beta), OCL_ARG(rn), OCL_ARG(ln),
                       OCL_ARG(units) };
    return ocl_launch_1d(c, "col2im", OCL_K_col2im, (size_t)units, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_swap_axes(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y);
    cl_ulong aa = a, bb = b, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(ym), OCL_ARG(aa), OCL_ARG(bb), OCL_ARG(in) };
    return ocl_launch_rows(c, "swap_axes", OCL_K_swap_axes, b, a * inner, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_copy_rows(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows, size_t cols)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y);
    cl_ulong lx = ldx, ly = ldy, cc = cols;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_ARG(lx), OCL_MEM_ARGS(ym), OCL_ARG(ly), OCL_ARG(cc) };
    return ocl_launch_rows(c, "copy_rows", OCL_K_copy_rows, rows, cols, OCL_ARG_COUNT(args), args);
}

/* The convolution ops as the sequences of the kernels above and the GEMM
 * (CLBlast or our own), the column matrix in the op's work buffer.  An
 * implicit-GEMM kernel (patches read straight from the image) is the next
 * step for GPUs. */
CONV_SEQUENCE_DEFINE(ocl, )
