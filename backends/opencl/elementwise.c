/* gantry opencl backend: the elementwise family (kernels in
 * cl/elementwise.cl).  Each op sets its kernel's arguments and enqueues it
 * on the in-order queue; nothing waits.  Launch shapes (ocl_launch.c):
 *   elementwise    add, mul, scale, axpy, clamp, activations: a vector of
 *                  VW floats per work-item
 *   rows           bias_add
 *   per-channel    bias_grad (channel items on CPU devices)
 *   reductions     sum, mean
 * Formulas follow the reference backend's (backends/reference/). */
#include "ocl_impl.h"

gantry_status ocl_fill(void *ctx, gantry_mem x, size_t n, float value)
{
    ocl_ctx *c = ctx;
    if (!n)
        return GANTRY_OK;
    cl_int err = clEnqueueFillBuffer(c->queue, (cl_mem)x.buf, &value, sizeof value, x.offset * sizeof(float),
                                     n * sizeof(float), 0, NULL, NULL);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "fill", "clEnqueueFillBuffer");
}

/* ---- bias ---------------------------------------------------------------- */

gantry_status ocl_bias_add(void *ctx, gantry_mem x, gantry_mem bias, size_t outer, size_t channels, size_t inner)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), bm = ocl_mem_arg_of(bias);
    cl_ulong o = outer, cols = (cl_ulong)channels * inner, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(bm), OCL_ARG(o), OCL_ARG(cols), OCL_ARG(in) };
    return ocl_launch_rows(c, "bias_add", OCL_K_bias_add, outer, channels * inner, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_bias_grad(void *ctx, gantry_mem dy, gantry_mem dbias, size_t outer, size_t channels, size_t inner,
                            float beta)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg dm = ocl_mem_arg_of(dy), bm = ocl_mem_arg_of(dbias);
    cl_ulong o = outer, ch = channels, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(dm), OCL_MEM_ARGS(bm), OCL_ARG(o), OCL_ARG(ch), OCL_ARG(in), OCL_ARG(beta) };
    if (ocl_use_channel_items(c, channels, inner))
        return ocl_launch_channel_items(c, "bias_grad", OCL_K_bias_grad_rows, channels, inner, OCL_ARG_COUNT(args),
                                        args);
    return ocl_launch_channels(c, "bias_grad", OCL_K_bias_grad, channels, OCL_ARG_COUNT(args), args);
}

/* ---- activations ------------------------------------------------------------ */

static gantry_status check_act(ocl_ctx *c, const char *op, gantry_activation act)
{
    if ((int)act < GANTRY_ACT_IDENTITY || act > GANTRY_ACT_SIGMOID)
        return ocl_error(c->host, GANTRY_UNSUPPORTED, OCL_NAME ": %s: unknown activation %d", op, (int)act);
    return GANTRY_OK;
}

/* An unused input (x for tanh/sigmoid, y for relu) may come without a
 * buffer; the kernel never reads it, but it needs some valid buffer. */
static ocl_mem_arg mem_arg_or(gantry_mem m, gantry_mem fallback)
{
    return ocl_mem_arg_of(m.buf ? m : fallback);
}

gantry_status ocl_activation_forward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                     size_t n)
{
    ocl_ctx *c = ctx;
    GANTRY_TRY(check_act(c, "activation_forward", act));
    cl_int a = (cl_int)act;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(a), OCL_ARG(param), OCL_MEM_ARGS(xm), OCL_MEM_ARGS(ym), OCL_ARG(nn) };
    return ocl_launch_1d(c, "activation_forward", OCL_K_act_forward, ocl_vector_items(c, n), OCL_ARG_COUNT(args),
                         args);
}

gantry_status ocl_activation_backward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                      gantry_mem dy, gantry_mem dx, size_t n)
{
    ocl_ctx *c = ctx;
    GANTRY_TRY(check_act(c, "activation_backward", act));
    cl_int a = (cl_int)act;
    ocl_mem_arg xm = mem_arg_or(x, dy), ym = mem_arg_or(y, dy), dym = ocl_mem_arg_of(dy), dxm = ocl_mem_arg_of(dx);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(a),         OCL_ARG(param),    OCL_MEM_ARGS(xm), OCL_MEM_ARGS(ym),
                       OCL_MEM_ARGS(dym), OCL_MEM_ARGS(dxm), OCL_ARG(nn) };
    return ocl_launch_1d(c, "activation_backward", OCL_K_act_backward, ocl_vector_items(c, n), OCL_ARG_COUNT(args),
                         args);
}

/* ---- add, mul, scale, axpy, clamp ---------------------------------------------- */

static gantry_status binary(ocl_ctx *c, const char *op, ocl_kernel_id k, gantry_mem a, gantry_mem b, gantry_mem y,
                            size_t n)
{
    ocl_mem_arg am = ocl_mem_arg_of(a), bm = ocl_mem_arg_of(b), ym = ocl_mem_arg_of(y);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(am), OCL_MEM_ARGS(bm), OCL_MEM_ARGS(ym), OCL_ARG(nn) };
    return ocl_launch_1d(c, op, k, ocl_vector_items(c, n), OCL_ARG_COUNT(args), args);
}

gantry_status ocl_add(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    return binary(ctx, "add", OCL_K_ew_add, a, b, y, n);
}

gantry_status ocl_mul(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    return binary(ctx, "mul", OCL_K_ew_mul, a, b, y, n);
}

gantry_status ocl_scale(void *ctx, gantry_mem x, gantry_mem y, float alpha, size_t n)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(ym), OCL_ARG(alpha), OCL_ARG(nn) };
    return ocl_launch_1d(c, "scale", OCL_K_ew_scale, ocl_vector_items(c, n), OCL_ARG_COUNT(args), args);
}

gantry_status ocl_axpy(void *ctx, float alpha, gantry_mem x, gantry_mem y, size_t n)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(alpha), OCL_MEM_ARGS(xm), OCL_MEM_ARGS(ym), OCL_ARG(nn) };
    return ocl_launch_1d(c, "axpy", OCL_K_ew_axpy, ocl_vector_items(c, n), OCL_ARG_COUNT(args), args);
}

gantry_status ocl_clamp(void *ctx, gantry_mem x, size_t n, float lo, float hi)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(lo), OCL_ARG(hi) };
    return ocl_launch_1d(c, "clamp", OCL_K_ew_clamp, ocl_vector_items(c, n), OCL_ARG_COUNT(args), args);
}

/* ---- sum, mean ------------------------------------------------------------------- */

/* out[0] = (sum of x[0..n)) / divisor through the two-stage reduction. */
static gantry_status sum_over(ocl_ctx *c, const char *op, gantry_mem x, size_t n, gantry_mem out, float divisor)
{
    ocl_mem_arg xm = ocl_mem_arg_of(x);
    cl_ulong nn = n;
    float unused_t = 0.0f; /* sum_partial's term ignores the loss target */
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(unused_t) };
    size_t groups = ocl_reduction_groups(c, ocl_div_up(n, c->wg));
    return ocl_reduce(c, op, OCL_K_sum_partial, groups, OCL_ARG_COUNT(args), args, out, divisor);
}

gantry_status ocl_sum(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    return sum_over(ctx, "sum", x, n, out, 1.0f);
}

gantry_status ocl_mean(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    return sum_over(ctx, "mean", x, n, out, n ? (float)n : 1.0f);
}
