/* gantry opencl backend: the ops of ABI version 2.
 *
 * As in ocl_ops.c, each op sets its kernel's arguments and enqueues it on the
 * in-order queue; nothing waits.  Launch shapes:
 *   rows          im2col (kw elements per work-item, a row per (ci, ki)),
 *                 swap_axes, copy_rows, batchnorm_forward_frozen: an
 *                 element per work-item, dimension 0 the columns of a row
 *                 (coalesced), dimension 1 the rows
 *   elementwise   regression backward, col2im (a gather per run of columns
 *                 of an image row: a row of VW planes on CPUs, an element
 *                 on GPUs),
 *                 dropout (a Philox block per work-item), minibatch
 *                 discrimination (per (i, k) pair, per weight, per element)
 *   row groups    softmax cross-entropy, log-sum-exp: a work-group of WG per
 *                 row, reduced in local memory; the forward cross-entropy
 *                 strides at most max_groups groups over the rows and adds
 *                 their partials with reduce_final, as the other losses
 *   per-channel   batchnorm_backward_frozen: the layout of batchnorm_backward
 *   per-pair      vbn_forward, vbn_backward: a work-group of WG per (example,
 *                 channel) pair, or a work-item per pair where inner is small;
 *                 the backward's per-pair sums go through the scratch buffer to
 *                 a per-channel kernel for dgamma and dbeta
 * Kernel sources: cl/conv.cl, regression.cl, softmax.cl, dropout.cl,
 * minibatch.cl, batchnorm_frozen.cl (virtual batch norm too); formulas follow
 * backends/reference/ref_v2.c. */
#include <stdio.h>

#include "ocl_impl.h"

/* Virtual batch norm runs a work-group of WG per (example, channel) pair
 * from this many inner values per pair (WG / 2 or more), a work-item per
 * pair below. */
#define OCL_V2_VBN_GROUP_MIN(c) ((c)->wg / 2)

/* The minibatch-discrimination backward pass keeps its weights for a chunk
 * of rows in the scratch buffer, at most this many bytes (or one row). */
#define OCL_V2_MBD_SCRATCH ((size_t)64 << 20)

/* A gantry_mem as the two kernel arguments (buffer, float offset). */
typedef struct mem_arg {
    cl_mem buf;
    cl_ulong off;
} mem_arg;

static mem_arg M(gantry_mem m)
{
    mem_arg a = { (cl_mem)m.buf, (cl_ulong)m.offset };
    return a;
}

#define MEM_ARGS(m) OCL_ARG((m).buf), OCL_ARG((m).off)
#define ARGC(a) (sizeof(a) / sizeof *(a))

/* Stage 2 of a loss whose stage 1 left `groups` partials in c->partials. */
static gantry_status reduce_partials(ocl_ctx *c, const char *op, size_t groups, mem_arg om, float divisor)
{
    if (groups == 1)
        return GANTRY_OK;
    cl_ulong count = groups;
    ocl_arg args[] = { OCL_ARG(c->partials), OCL_ARG(count), MEM_ARGS(om), OCL_ARG(divisor) };
    size_t global = c->wg, local = c->wg;
    return ocl_launch(c, op, OCL_K_reduce_final, 1, &global, &local, ARGC(args), args);
}

/* Stage-1 groups for `work` units (elements or rows) of a loss. */
static size_t loss_groups(const ocl_ctx *c, size_t work)
{
    size_t groups = work ? work : 1;
    if (groups > c->max_groups)
        groups = c->max_groups;
    if (groups > c->partials_count)
        groups = c->partials_count;
    return groups;
}

/* ---- convolution unfolding and data movement --------------------------------- */

gantry_status ocl_im2col(void *ctx, gantry_mem x, gantry_mem col, const gantry_conv_geometry *g)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), cm = M(col);
    cl_ulong ch = g->c, h = g->h, w = g->w, kh = g->kh, kw = g->kw, sh = g->sh, sw = g->sw, ph = g->ph, pw = g->pw,
             oh = g->oh, ow = g->ow, cols = (cl_ulong)g->n * g->oh * g->ow;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(cm), OCL_ARG(ch), OCL_ARG(h),  OCL_ARG(w),  OCL_ARG(kh),
                       OCL_ARG(kw),  OCL_ARG(sh),  OCL_ARG(sw), OCL_ARG(ph), OCL_ARG(pw), OCL_ARG(oh),
                       OCL_ARG(ow),  OCL_ARG(cols) };
    /* A row per (ci, ki): the kernel writes its kw rows of col. */
    return ocl_launch_rows(c, "im2col", OCL_K_im2col, g->c * g->kh, (size_t)cols, ARGC(args), args);
}

gantry_status ocl_col2im(void *ctx, gantry_mem col, gantry_mem x, const gantry_conv_geometry *g, float beta)
{
    ocl_ctx *c = ctx;
    mem_arg cm = M(col), xm = M(x);
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
    ocl_arg args[] = { MEM_ARGS(cm), MEM_ARGS(xm), OCL_ARG(ch),   OCL_ARG(h),    OCL_ARG(w),  OCL_ARG(kh),
                       OCL_ARG(kw),  OCL_ARG(sh),  OCL_ARG(sw),   OCL_ARG(ph),   OCL_ARG(pw), OCL_ARG(oh),
                       OCL_ARG(ow),  OCL_ARG(cols), OCL_ARG(n),   OCL_ARG(beta), OCL_ARG(rn), OCL_ARG(ln),
                       OCL_ARG(units) };
    return ocl_launch_1d(c, "col2im", OCL_K_col2im, (size_t)units, ARGC(args), args);
}

gantry_status ocl_swap_axes(void *ctx, gantry_mem x, gantry_mem y, size_t a, size_t b, size_t inner)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), ym = M(y);
    cl_ulong aa = a, bb = b, in = inner;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(ym), OCL_ARG(aa), OCL_ARG(bb), OCL_ARG(in) };
    return ocl_launch_rows(c, "swap_axes", OCL_K_swap_axes, b, a * inner, ARGC(args), args);
}

gantry_status ocl_copy_rows(void *ctx, gantry_mem x, size_t ldx, gantry_mem y, size_t ldy, size_t rows, size_t cols)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), ym = M(y);
    cl_ulong lx = ldx, ly = ldy, cc = cols;
    ocl_arg args[] = { MEM_ARGS(xm), OCL_ARG(lx), MEM_ARGS(ym), OCL_ARG(ly), OCL_ARG(cc) };
    return ocl_launch_rows(c, "copy_rows", OCL_K_copy_rows, rows, cols, ARGC(args), args);
}

/* ---- regression losses ------------------------------------------------------------ */

static gantry_status check_loss_kind(ocl_ctx *c, const char *op, gantry_loss_kind kind)
{
    if (kind != GANTRY_LOSS_MSE && kind != GANTRY_LOSS_L1)
        return ocl_error(c->host, GANTRY_UNSUPPORTED, OCL_NAME ": %s: unknown loss kind %d", op, (int)kind);
    return GANTRY_OK;
}

gantry_status ocl_regression_loss_forward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                          gantry_mem out)
{
    ocl_ctx *c = ctx;
    static const char op[] = "regression_loss_forward";
    GANTRY_TRY(check_loss_kind(c, op, kind));
    size_t groups = loss_groups(c, ocl_div_up(n, c->wg));
    cl_int kd = (cl_int)kind;
    mem_arg xm = M(x), tm = M(t), om = M(out);
    cl_ulong nn = n;
    float divisor = n ? (float)n : 1.0f;
    ocl_arg args[] = { OCL_ARG(kd),         MEM_ARGS(xm), MEM_ARGS(tm),     OCL_ARG(nn),
                       OCL_ARG(c->partials), MEM_ARGS(om), OCL_ARG(divisor) };
    size_t global = groups * c->wg, local = c->wg;
    GANTRY_TRY(ocl_launch(c, op, OCL_K_regression_partial, 1, &global, &local, ARGC(args), args));
    return reduce_partials(c, op, groups, om, divisor);
}

gantry_status ocl_regression_loss_backward(void *ctx, gantry_loss_kind kind, gantry_mem x, gantry_mem t, size_t n,
                                           float scale, gantry_mem dx)
{
    ocl_ctx *c = ctx;
    static const char op[] = "regression_loss_backward";
    GANTRY_TRY(check_loss_kind(c, op, kind));
    cl_int kd = (cl_int)kind;
    /* The factor rounded once from double: 2 scale / n (MSE), scale / n (L1). */
    float k = (float)((kind == GANTRY_LOSS_MSE ? 2.0 : 1.0) * (double)scale / (double)n);
    mem_arg xm = M(x), tm = M(t), dxm = M(dx);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(kd), MEM_ARGS(xm), MEM_ARGS(tm), MEM_ARGS(dxm), OCL_ARG(nn), OCL_ARG(k) };
    return ocl_launch_1d(c, op, OCL_K_regression_backward, n, ARGC(args), args);
}

/* ---- softmax cross-entropy, log-sum-exp ------------------------------------------- */

/* One group of WG per row. */
static gantry_status launch_row_groups(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t rows, size_t nargs,
                                       const ocl_arg *args)
{
    size_t global = rows * c->wg, local = c->wg;
    return ocl_launch(c, op, k, 1, &global, &local, nargs, args);
}

gantry_status ocl_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out)
{
    ocl_ctx *c = ctx;
    static const char op[] = "softmax_ce_forward";
    size_t groups = loss_groups(c, rows);
    mem_arg xm = M(x), tm = M(t), om = M(out);
    cl_ulong r = rows, kk = k;
    float divisor = (float)rows;
    ocl_arg args[] = { MEM_ARGS(xm),         MEM_ARGS(tm), OCL_ARG(r),      OCL_ARG(kk),
                       OCL_ARG(c->partials), MEM_ARGS(om), OCL_ARG(divisor) };
    size_t global = groups * c->wg, local = c->wg;
    GANTRY_TRY(ocl_launch(c, op, OCL_K_softmax_ce_forward, 1, &global, &local, ARGC(args), args));
    return reduce_partials(c, op, groups, om, divisor);
}

gantry_status ocl_softmax_ce_backward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                      gantry_mem dx)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), tm = M(t), dxm = M(dx);
    cl_ulong kk = k;
    float sc = (float)((double)scale / (double)rows);
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(tm), MEM_ARGS(dxm), OCL_ARG(kk), OCL_ARG(sc) };
    return launch_row_groups(c, "softmax_ce_backward", OCL_K_softmax_ce_backward, rows, ARGC(args), args);
}

gantry_status ocl_logsumexp_forward(void *ctx, gantry_mem x, gantry_mem out, size_t rows, size_t k)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), om = M(out);
    cl_ulong kk = k;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(om), OCL_ARG(kk) };
    return launch_row_groups(c, "logsumexp_forward", OCL_K_logsumexp_forward, rows, ARGC(args), args);
}

gantry_status ocl_logsumexp_backward(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows, size_t k)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), dm = M(dout), dxm = M(dx);
    cl_ulong kk = k;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(dm), MEM_ARGS(dxm), OCL_ARG(kk) };
    return launch_row_groups(c, "logsumexp_backward", OCL_K_logsumexp_backward, rows, ARGC(args), args);
}

/* ---- dropout -------------------------------------------------------------------- */

gantry_status ocl_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset)
{
    ocl_ctx *c = ctx;
    mem_arg mm = M(mask);
    cl_ulong nn = n, s = seed, o = offset;
    float keep = (float)(1.0 / (1.0 - (double)p)); /* as the reference rounds it */
    ocl_arg args[] = { MEM_ARGS(mm), OCL_ARG(nn), OCL_ARG(p), OCL_ARG(keep), OCL_ARG(s), OCL_ARG(o) };
    return ocl_launch_1d(c, "dropout_mask", OCL_K_dropout_mask, ocl_div_up(n, 4), ARGC(args), args);
}

/* ---- minibatch discrimination -------------------------------------------------------- */

gantry_status ocl_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t dims)
{
    ocl_ctx *c = ctx;
    mem_arg mm = M(m), om = M(o);
    cl_ulong nn = n, bb = b, cc = dims;
    ocl_arg args[] = { MEM_ARGS(mm), MEM_ARGS(om), OCL_ARG(nn), OCL_ARG(bb), OCL_ARG(cc) };
    return ocl_launch_1d(c, "minibatch_disc_forward", OCL_K_mbd_forward, n * b, ARGC(args), args);
}

gantry_status ocl_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t dims)
{
    ocl_ctx *c = ctx;
    static const char op[] = "minibatch_disc_backward";
    /* Rows i per chunk: their weights w[b, ni, n] fit the scratch limit. */
    size_t row_bytes = b * n * sizeof(float);
    size_t ni = row_bytes && OCL_V2_MBD_SCRATCH / row_bytes > 0 ? OCL_V2_MBD_SCRATCH / row_bytes : 1;
    if (ni > n)
        ni = n;
    cl_mem w = NULL;
    GANTRY_TRY(ocl_scratch(c, op, ni * row_bytes, &w));
    mem_arg mm = M(m), dom = M(dout), dmm = M(dm);
    cl_ulong nn = n, bb = b, cc = dims;
    for (size_t i0 = 0; i0 < n; i0 += ni) {
        cl_ulong first = i0, count = n - i0 < ni ? n - i0 : ni;
        ocl_arg wargs[] = { MEM_ARGS(mm), MEM_ARGS(dom), OCL_ARG(w),     OCL_ARG(nn),
                            OCL_ARG(bb),  OCL_ARG(cc),   OCL_ARG(first), OCL_ARG(count) };
        GANTRY_TRY(ocl_launch_1d(c, op, OCL_K_mbd_weights, (size_t)count * b * n, ARGC(wargs), wargs));
        ocl_arg args[] = { MEM_ARGS(mm), OCL_ARG(w),  MEM_ARGS(dmm),  OCL_ARG(nn),
                           OCL_ARG(bb),  OCL_ARG(cc), OCL_ARG(first), OCL_ARG(count) };
        GANTRY_TRY(ocl_launch_1d(c, op, OCL_K_mbd_backward, (size_t)count * b * dims, ARGC(args), args));
    }
    return GANTRY_OK;
}

/* ---- batch norm with given statistics -------------------------------------------------- */

gantry_status ocl_batchnorm_forward_frozen(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                           gantry_mem mean, gantry_mem invstd, size_t outer, size_t channels,
                                           size_t inner)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), ym = M(y), gm = M(gamma), bm = M(beta), mm = M(mean), im = M(invstd);
    cl_ulong o = outer, cols = (cl_ulong)channels * inner, in = inner;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(ym), MEM_ARGS(gm),  MEM_ARGS(bm), MEM_ARGS(mm),
                       MEM_ARGS(im), OCL_ARG(o),   OCL_ARG(cols), OCL_ARG(in) };
    return ocl_launch_rows(c, "batchnorm_forward_frozen", OCL_K_bn_forward_frozen, outer, channels * inner,
                           ARGC(args), args);
}

gantry_status ocl_batchnorm_backward_frozen(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem mean,
                                            gantry_mem invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                            size_t outer, size_t channels, size_t inner, float grad_beta)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), dym = M(dy), gm = M(gamma), mm = M(mean), im = M(invstd), dxm = M(dx), dgm = M(dgamma),
            dbm = M(dbeta);
    cl_ulong o = outer, ch = channels, in = inner;
    ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(dym), MEM_ARGS(gm), MEM_ARGS(mm), MEM_ARGS(im),
                       MEM_ARGS(dxm), MEM_ARGS(dgm), MEM_ARGS(dbm), OCL_ARG(o),  OCL_ARG(ch),
                       OCL_ARG(in),   OCL_ARG(grad_beta) };
    return ocl_launch_channels(c, "batchnorm_backward_frozen", OCL_K_bn_backward_frozen, channels, ARGC(args), args);
}

/* ---- virtual batch norm ------------------------------------------------------------ */

gantry_status ocl_vbn_forward(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                              gantry_mem ref_mean, gantry_mem ref_invstd, size_t ref_count, gantry_mem save_mean,
                              gantry_mem save_invstd, size_t outer, size_t channels, size_t inner, float eps)
{
    ocl_ctx *c = ctx;
    static const char op[] = "vbn_forward";
    const size_t pairs = outer * channels;
    if (!pairs)
        return GANTRY_OK;
    mem_arg xm = M(x), ym = M(y), gm = M(gamma), bm = M(beta), rmm = M(ref_mean), rim = M(ref_invstd),
            smm = M(save_mean), sim = M(save_invstd);
    cl_ulong rc = ref_count, np = pairs, ch = channels, in = inner;
    if (inner >= OCL_V2_VBN_GROUP_MIN(c)) {
        ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(ym),  MEM_ARGS(gm), MEM_ARGS(bm), MEM_ARGS(rmm),
                           MEM_ARGS(rim), MEM_ARGS(smm), MEM_ARGS(sim), OCL_ARG(rc), OCL_ARG(ch),
                           OCL_ARG(in),   OCL_ARG(eps) };
        return launch_row_groups(c, op, OCL_K_vbn_forward, pairs, ARGC(args), args);
    }
    ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(ym),  MEM_ARGS(gm), MEM_ARGS(bm), MEM_ARGS(rmm),
                       MEM_ARGS(rim), MEM_ARGS(smm), MEM_ARGS(sim), OCL_ARG(rc), OCL_ARG(np),
                       OCL_ARG(ch),   OCL_ARG(in),   OCL_ARG(eps) };
    return ocl_launch_1d(c, op, OCL_K_vbn_forward_items, pairs, ARGC(args), args);
}

gantry_status ocl_vbn_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                               gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                               size_t ref_count, size_t outer, size_t channels, size_t inner, float grad_beta)
{
    ocl_ctx *c = ctx;
    static const char op[] = "vbn_backward";
    const size_t pairs = outer * channels;
    if (!channels)
        return GANTRY_OK;
    mem_arg xm = M(x), dym = M(dy), gm = M(gamma), smm = M(save_mean), sim = M(save_invstd), dxm = M(dx),
            dgm = M(dgamma), dbm = M(dbeta);
    cl_ulong rc = ref_count, o = outer, ch = channels, in = inner, from_part = 0;
    cl_mem part = c->partials; /* not read unless from_part */
    if (pairs && inner >= OCL_V2_VBN_GROUP_MIN(c)) {
        /* dx and each pair's two sums (a float4) */
        GANTRY_TRY(ocl_scratch(c, op, pairs * 4 * sizeof(float), &part));
        from_part = 1;
        ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(dym), MEM_ARGS(gm), MEM_ARGS(smm), MEM_ARGS(sim),
                           MEM_ARGS(dxm), OCL_ARG(part), OCL_ARG(rc), OCL_ARG(ch),   OCL_ARG(in) };
        GANTRY_TRY(launch_row_groups(c, op, OCL_K_vbn_backward, pairs, ARGC(args), args));
    }
    ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(dym),  MEM_ARGS(gm),       MEM_ARGS(smm), MEM_ARGS(sim),
                       MEM_ARGS(dxm), OCL_ARG(part),  OCL_ARG(from_part), MEM_ARGS(dgm), MEM_ARGS(dbm),
                       OCL_ARG(rc),   OCL_ARG(o),     OCL_ARG(ch),        OCL_ARG(in),   OCL_ARG(grad_beta) };
    return ocl_launch_channels(c, op, OCL_K_vbn_backward_channels, channels, ARGC(args), args);
}
