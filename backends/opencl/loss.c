/* gantry opencl backend: the loss family (kernels in cl/loss.cl).  Each op
 * sets its kernel's arguments and enqueues it; nothing waits.  Launch
 * shapes (ocl_launch.c):
 *   reductions    the forward losses: binary cross-entropy and regression
 *                 stride their groups over the elements, softmax
 *                 cross-entropy over the rows (a group of WG per row at a
 *                 time, reduced in local memory); all add their partials
 *                 with reduce_final, as sum and mean
 *   elementwise   the backward passes of binary cross-entropy and
 *                 regression: an element per work-item
 *   row groups    softmax_ce_backward, log-sum-exp: a work-group of WG per
 *                 row, reduced in local memory
 * Formulas follow the reference backend's (backends/reference/). */
#include "ocl_impl.h"

/* ---- binary cross-entropy on logits ---------------------------------------------- */

gantry_status ocl_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(target) };
    size_t groups = ocl_reduction_groups(c, ocl_div_up(n, c->wg));
    return ocl_reduce(c, "bce_logits_forward", OCL_K_bce_forward_partial, groups, OCL_ARG_COUNT(args), args, out,
                      n ? (float)n : 1.0f);
}

gantry_status ocl_bce_logits_backward(void *ctx, gantry_mem x, size_t n, float target, float scale, gantry_mem dx)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), dxm = ocl_mem_arg_of(dx);
    cl_ulong nn = n;
    float k = (float)((double)scale / (double)n);
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(dxm), OCL_ARG(nn), OCL_ARG(target), OCL_ARG(k) };
    return ocl_launch_1d(c, "bce_logits_backward", OCL_K_bce_backward, n, OCL_ARG_COUNT(args), args);
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
    cl_int kd = (cl_int)kind;
    ocl_mem_arg xm = ocl_mem_arg_of(x), tm = ocl_mem_arg_of(t);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(kd), OCL_MEM_ARGS(xm), OCL_MEM_ARGS(tm), OCL_ARG(nn) };
    size_t groups = ocl_reduction_groups(c, ocl_div_up(n, c->wg));
    return ocl_reduce(c, op, OCL_K_regression_partial, groups, OCL_ARG_COUNT(args), args, out, n ? (float)n : 1.0f);
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
    ocl_mem_arg xm = ocl_mem_arg_of(x), tm = ocl_mem_arg_of(t), dxm = ocl_mem_arg_of(dx);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(kd), OCL_MEM_ARGS(xm), OCL_MEM_ARGS(tm), OCL_MEM_ARGS(dxm), OCL_ARG(nn), OCL_ARG(k) };
    return ocl_launch_1d(c, op, OCL_K_regression_backward, n, OCL_ARG_COUNT(args), args);
}

/* ---- softmax cross-entropy, log-sum-exp ------------------------------------------- */

gantry_status ocl_softmax_ce_forward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, gantry_mem out)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), tm = ocl_mem_arg_of(t);
    cl_ulong r = rows, kk = k;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(tm), OCL_ARG(r), OCL_ARG(kk) };
    return ocl_reduce(c, "softmax_ce_forward", OCL_K_softmax_ce_forward, ocl_reduction_groups(c, rows),
                      OCL_ARG_COUNT(args), args, out, (float)rows);
}

gantry_status ocl_softmax_ce_backward(void *ctx, gantry_mem x, gantry_mem t, size_t rows, size_t k, float scale,
                                      gantry_mem dx)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), tm = ocl_mem_arg_of(t), dxm = ocl_mem_arg_of(dx);
    cl_ulong kk = k;
    float sc = (float)((double)scale / (double)rows);
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(tm), OCL_MEM_ARGS(dxm), OCL_ARG(kk), OCL_ARG(sc) };
    return ocl_launch_row_groups(c, "softmax_ce_backward", OCL_K_softmax_ce_backward, rows, OCL_ARG_COUNT(args),
                                 args);
}

gantry_status ocl_logsumexp_forward(void *ctx, gantry_mem x, gantry_mem out, size_t rows, size_t k)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), om = ocl_mem_arg_of(out);
    cl_ulong kk = k;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(om), OCL_ARG(kk) };
    return ocl_launch_row_groups(c, "logsumexp_forward", OCL_K_logsumexp_forward, rows, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_logsumexp_backward(void *ctx, gantry_mem x, gantry_mem dout, gantry_mem dx, size_t rows, size_t k)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), dm = ocl_mem_arg_of(dout), dxm = ocl_mem_arg_of(dx);
    cl_ulong kk = k;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(dm), OCL_MEM_ARGS(dxm), OCL_ARG(kk) };
    return ocl_launch_row_groups(c, "logsumexp_backward", OCL_K_logsumexp_backward, rows, OCL_ARG_COUNT(args), args);
}
