/* gantry opencl backend: buffers and every op but GEMM.
 *
 * Each op sets its kernel's arguments and enqueues it on the in-order queue;
 * nothing waits except buffer_read, buffer_write (blocking, so the caller
 * may reuse its host memory at once) and synchronize.  Launch shapes:
 *   elementwise    1-D groups of WG, one vector of VW floats per work-item
 *                  (then one work-item per tail element); no grid-stride
 *                  loops, which PoCL cannot vectorise across work-items
 *   rows           bias_add, batchnorm_forward_eval: [columns, rows], an
 *                  element per work-item
 *   per-channel    2-D groups of BN_LX channels x BN_LY rows, one group per
 *                  BN_LX channels; the rows of a channel are reduced in local
 *                  memory (bias_grad, batchnorm training and backward; on
 *                  CPUs batch norm instead walks a channel per work-item, or
 *                  VW channels of an [outer, channels] tensor)
 *   reductions     stage 1: up to max_groups groups of compensated partial
 *                  sums (grid-stride), stage 2: one group adds them; a single
 *                  group writes the result directly
 * Kernel sources: cl/<family>.cl; formulas follow backends/reference/reference.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ocl_impl.h"

size_t ocl_round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

size_t ocl_div_up(size_t x, size_t d)
{
    return (x + d - 1) / d;
}

/* Work-items per dimension of one enqueue: whole groups, at most
 * OCL_MAX_GROUPS_PER_DIM of them and at most maxdim= work-items. */
static size_t slice_items(const ocl_ctx *c, size_t local)
{
    size_t groups = OCL_MAX_GROUPS_PER_DIM;
    if (c->dev.max_global && c->dev.max_global / local < groups)
        groups = c->dev.max_global / local;
    return (groups ? groups : 1) * local;
}

gantry_status ocl_launch(ocl_ctx *c, const char *op, ocl_kernel_id k, cl_uint dims, const size_t *global,
                         const size_t *local, size_t nargs, const ocl_arg *args)
{
    cl_kernel kernel = c->kernels[k];
    if (!kernel)
        return ocl_error(c->host, GANTRY_INTERNAL, OCL_NAME ": %s on '%s': kernel '%s' is not loaded", op, c->dev.name,
                         ocl_kernel_names[k]);
    /* What a strict device refuses and PoCL forgives: checked here, once,
     * for every launch. */
    size_t group = 1, step[3] = { 1, 1, 1 };
    int slices = 0;
    for (cl_uint d = 0; d < dims; d++) {
        group *= local[d];
        if (local[d] > c->dev.max_item[d] || global[d] % local[d])
            return ocl_error(c->host, GANTRY_INTERNAL,
                             OCL_NAME ": %s on '%s': kernel '%s' launched with %zu work-items in a group along dimension "
                             "%u of %zu (the device takes %zu)",
                             op, c->dev.name, ocl_kernel_names[k], local[d], d, global[d], c->dev.max_item[d]);
        step[d] = slice_items(c, local[d]);
        slices |= global[d] > step[d];
    }
    if (group > c->dev.max_wg || (c->kernel_wg[k] && group > c->kernel_wg[k]))
        return ocl_error(c->host, GANTRY_INTERNAL,
                         OCL_NAME ": %s on '%s': kernel '%s' launched with work-groups of %zu, beyond the device's %zu "
                         "(the kernel's: %zu)",
                         op, c->dev.name, ocl_kernel_names[k], group, c->dev.max_wg, c->kernel_wg[k]);
    if (slices && ocl_kernel_whole[k])
        return ocl_error(c->host, GANTRY_INTERNAL,
                         OCL_NAME ": %s on '%s': kernel '%s' strides over its whole grid, which exceeds the device's "
                         "limit of %zu work-items along a dimension",
                         op, c->dev.name, ocl_kernel_names[k], step[0]);
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %zu)", ocl_kernel_names[k], i);
            return ocl_fail(c, err, op, what);
        }
    }
    /* Larger grids in slices: the kernels index by get_global_id, which
     * includes the slice's offset. */
    size_t off[3] = { 0, 0, 0 }, size[3];
    for (;;) {
        for (cl_uint d = 0; d < dims; d++)
            size[d] = global[d] - off[d] < step[d] ? global[d] - off[d] : step[d];
        cl_int err = clEnqueueNDRangeKernel(c->queue, kernel, dims, slices ? off : NULL, size, local, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", ocl_kernel_names[k]);
            return ocl_fail(c, err, op, what);
        }
        cl_uint d = 0;
        while (d < dims && (off[d] += step[d]) >= global[d])
            off[d++] = 0;
        if (d == dims)
            return GANTRY_OK;
    }
}

/* A 1-D launch of `items` work-items (rounded up to whole groups). */
gantry_status ocl_launch_1d(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items, size_t nargs,
                            const ocl_arg *args)
{
    size_t global = ocl_round_up(items ? items : 1, c->wg), local = c->wg;
    return ocl_launch(c, op, k, 1, &global, &local, nargs, args);
}

/* Work-items of an elementwise kernel over n floats: one per vector of VW,
 * then one per element of the n % VW tail. */
static size_t vector_items(const ocl_ctx *c, size_t n)
{
    return n / c->vw + n % c->vw;
}

/* An element per work-item of `rows` rows of `cols` floats: dimension 0
 * the columns (coalesced), dimension 1 the rows. */
gantry_status ocl_launch_rows(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t rows, size_t cols, size_t nargs,
                              const ocl_arg *args)
{
    size_t global[2] = { ocl_round_up(cols ? cols : 1, c->wg), rows ? rows : 1 }, local[2] = { c->wg, 1 };
    return ocl_launch(c, op, k, 2, global, local, nargs, args);
}

/* One group of BN_LX x BN_LY work-items per BN_LX channels. */
gantry_status ocl_launch_channels(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t channels, size_t nargs,
                                  const ocl_arg *args)
{
    size_t ly = c->wg / c->bn_lx;
    size_t global[2] = { ocl_round_up(channels, c->bn_lx), ly }, local[2] = { c->bn_lx, ly };
    return ocl_launch(c, op, k, 2, global, local, nargs, args);
}

gantry_status ocl_scratch(ocl_ctx *c, const char *op, size_t bytes, cl_mem *out)
{
    if (!c->scratch || c->scratch_bytes < bytes) {
        size_t want = bytes < 65536 ? 65536 : bytes + bytes / 4;
        cl_int err;
        cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, want, NULL, &err);
        if (!m)
            return ocl_fail(c, err, op, "clCreateBuffer (scratch)");
        /* Commands already queued keep the old buffer alive until they finish. */
        if (c->scratch)
            clReleaseMemObject(c->scratch);
        c->scratch = m;
        c->scratch_bytes = want;
    }
    *out = c->scratch;
    return GANTRY_OK;
}

/* ---- buffers ------------------------------------------------------------- */

gantry_status ocl_buffer_alloc(void *ctx, size_t bytes, void **buf)
{
    ocl_ctx *c = ctx;
    /* A zero-byte buffer must still be valid; round up so that sizes stay
     * multiples of a vector. */
    size_t size = ocl_round_up(bytes ? bytes : 1, 64);
    if (c->dev.max_alloc && size > c->dev.max_alloc)
        return ocl_error(c->host, GANTRY_DEVICE_OUT_OF_MEMORY,
                         OCL_NAME ": buffer_alloc on '%s': %zu bytes exceed the device's largest allocation (%llu bytes)",
                         c->dev.name, bytes, (unsigned long long)c->dev.max_alloc);
    if (c->dev.global_mem && c->allocated + size > c->dev.global_mem)
        return ocl_error(c->host, GANTRY_DEVICE_OUT_OF_MEMORY,
                         OCL_NAME ": buffer_alloc on '%s': %zu more bytes exceed the device's memory (%zu of %llu bytes "
                         "in use)",
                         c->dev.name, bytes, c->allocated, (unsigned long long)c->dev.global_mem);
    cl_int err;
    cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, size, NULL, &err);
    if (!m) {
        char what[64];
        snprintf(what, sizeof what, "clCreateBuffer(%zu bytes)", bytes);
        return ocl_fail(c, err, "buffer_alloc", what);
    }
    c->allocated += size;
    *buf = m;
    return GANTRY_OK;
}

void ocl_buffer_free(void *ctx, void *buf)
{
    ocl_ctx *c = ctx;
    if (!buf)
        return;
    size_t size = 0;
    if (clGetMemObjectInfo((cl_mem)buf, CL_MEM_SIZE, sizeof size, &size, NULL) == CL_SUCCESS)
        c->allocated -= size <= c->allocated ? size : c->allocated;
    clReleaseMemObject((cl_mem)buf);
}

gantry_status ocl_buffer_write(void *ctx, void *buf, size_t offset, const void *src, size_t bytes)
{
    ocl_ctx *c = ctx;
    if (!bytes)
        return GANTRY_OK;
    cl_int err = clEnqueueWriteBuffer(c->queue, (cl_mem)buf, CL_TRUE, offset, bytes, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "buffer_write", "clEnqueueWriteBuffer");
}

gantry_status ocl_buffer_read(void *ctx, void *buf, size_t offset, void *dst, size_t bytes)
{
    ocl_ctx *c = ctx;
    if (!bytes)
        return GANTRY_OK;
    cl_int err = clEnqueueReadBuffer(c->queue, (cl_mem)buf, CL_TRUE, offset, bytes, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "buffer_read", "clEnqueueReadBuffer");
}

gantry_status ocl_buffer_copy(void *ctx, void *dst, size_t dst_offset, void *src, size_t src_offset, size_t bytes)
{
    ocl_ctx *c = ctx;
    if (!bytes || (dst == src && dst_offset == src_offset))
        return GANTRY_OK;
    cl_int err;
    if (dst == src && dst_offset < src_offset + bytes && src_offset < dst_offset + bytes) {
        /* Overlapping ranges of one buffer (memmove): clEnqueueCopyBuffer
         * refuses them, so go through the scratch buffer. */
        cl_mem tmp = NULL;
        GANTRY_TRY(ocl_scratch(c, "buffer_copy", bytes, &tmp));
        err = clEnqueueCopyBuffer(c->queue, (cl_mem)src, tmp, src_offset, 0, bytes, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueCopyBuffer(c->queue, tmp, (cl_mem)dst, 0, dst_offset, bytes, 0, NULL, NULL);
    } else {
        err = clEnqueueCopyBuffer(c->queue, (cl_mem)src, (cl_mem)dst, src_offset, dst_offset, bytes, 0, NULL, NULL);
    }
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "buffer_copy", "clEnqueueCopyBuffer");
}

gantry_status ocl_fill(void *ctx, gantry_mem x, size_t n, float value)
{
    ocl_ctx *c = ctx;
    if (!n)
        return GANTRY_OK;
    cl_int err = clEnqueueFillBuffer(c->queue, (cl_mem)x.buf, &value, sizeof value, x.offset * sizeof(float),
                                     n * sizeof(float), 0, NULL, NULL);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "fill", "clEnqueueFillBuffer");
}

/* ---- kernel arguments ------------------------------------------------------ */

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

/* ---- bias ---------------------------------------------------------------- */

gantry_status ocl_bias_add(void *ctx, gantry_mem x, gantry_mem bias, size_t outer, size_t channels, size_t inner)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), bm = M(bias);
    cl_ulong o = outer, cols = (cl_ulong)channels * inner, in = inner;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(bm), OCL_ARG(o), OCL_ARG(cols), OCL_ARG(in) };
    return ocl_launch_rows(c, "bias_add", OCL_K_bias_add, outer, channels * inner, ARGC(args), args);
}

/* The vector-per-work-item kernels of the per-channel reductions (bias_grad,
 * batch norm; CPU devices) take [outer, channels] with whole vectors of
 * channels, and [outer, channels, inner > 1] with a channel per work-item;
 * everything else the per-channel groups. */
static int use_rows_kernels(const ocl_ctx *c, size_t channels, size_t inner)
{
    return c->bn_rows && c->vw > 1 && (inner > 1 || channels % c->vw == 0);
}

/* Launches a rows kernel: inner == 1, a work-item per VW channels in groups
 * of WG; inner > 1, a work-item per channel in groups of one, so that the
 * few channels (64-128 in DCGAN) spread over every core of the CPU. */
static gantry_status launch_rows_kernel(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t channels, size_t inner,
                                    size_t nargs, const ocl_arg *args)
{
    if (inner == 1)
        return ocl_launch_1d(c, op, k, channels / c->vw, nargs, args);
    size_t global = channels, local = 1;
    return ocl_launch(c, op, k, 1, &global, &local, nargs, args);
}

gantry_status ocl_bias_grad(void *ctx, gantry_mem dy, gantry_mem dbias, size_t outer, size_t channels, size_t inner,
                            float beta)
{
    ocl_ctx *c = ctx;
    mem_arg dm = M(dy), bm = M(dbias);
    cl_ulong o = outer, ch = channels, in = inner;
    ocl_arg args[] = { MEM_ARGS(dm), MEM_ARGS(bm), OCL_ARG(o), OCL_ARG(ch), OCL_ARG(in), OCL_ARG(beta) };
    if (use_rows_kernels(c, channels, inner))
        return launch_rows_kernel(c, "bias_grad", OCL_K_bias_grad_rows, channels, inner, ARGC(args), args);
    return ocl_launch_channels(c, "bias_grad", OCL_K_bias_grad, channels, ARGC(args), args);
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
static mem_arg M_or(gantry_mem m, gantry_mem fallback)
{
    return m.buf ? M(m) : M(fallback);
}

gantry_status ocl_activation_forward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                     size_t n)
{
    ocl_ctx *c = ctx;
    GANTRY_TRY(check_act(c, "activation_forward", act));
    cl_int a = (cl_int)act;
    mem_arg xm = M(x), ym = M(y);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(a), OCL_ARG(param), MEM_ARGS(xm), MEM_ARGS(ym), OCL_ARG(nn) };
    return ocl_launch_1d(c, "activation_forward", OCL_K_act_forward, vector_items(c, n), ARGC(args), args);
}

gantry_status ocl_activation_backward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                      gantry_mem dy, gantry_mem dx, size_t n)
{
    ocl_ctx *c = ctx;
    GANTRY_TRY(check_act(c, "activation_backward", act));
    cl_int a = (cl_int)act;
    mem_arg xm = M_or(x, dy), ym = M_or(y, dy), dym = M(dy), dxm = M(dx);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(a), OCL_ARG(param), MEM_ARGS(xm), MEM_ARGS(ym), MEM_ARGS(dym), MEM_ARGS(dxm),
                       OCL_ARG(nn) };
    return ocl_launch_1d(c, "activation_backward", OCL_K_act_backward, vector_items(c, n), ARGC(args), args);
}

/* ---- batch normalisation ------------------------------------------------------ */

gantry_status ocl_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                          gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,
                                          gantry_mem save_invstd, size_t outer, size_t channels, size_t inner,
                                          float momentum, float eps)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), ym = M(y), gm = M(gamma), bm = M(beta), rmm = M(running_mean), rvm = M(running_var),
            smm = M(save_mean), sim = M(save_invstd);
    cl_ulong o = outer, ch = channels, in = inner;
    if (use_rows_kernels(c, channels, inner)) {
        ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(ym),  MEM_ARGS(gm), MEM_ARGS(bm), MEM_ARGS(rmm),
                           MEM_ARGS(rvm), MEM_ARGS(smm), MEM_ARGS(sim), OCL_ARG(o),  OCL_ARG(ch),
                           OCL_ARG(in),   OCL_ARG(momentum), OCL_ARG(eps) };
        return launch_rows_kernel(c, "batchnorm_forward_train", OCL_K_bn_forward_train_rows, channels, inner, ARGC(args),
                              args);
    }
    ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(ym),  MEM_ARGS(gm),   MEM_ARGS(bm),       MEM_ARGS(rmm),
                       MEM_ARGS(rvm), MEM_ARGS(smm), MEM_ARGS(sim),  OCL_ARG(o),         OCL_ARG(ch),
                       OCL_ARG(in),   OCL_ARG(momentum), OCL_ARG(eps) };
    return ocl_launch_channels(c, "batchnorm_forward_train", OCL_K_bn_forward_train, channels, ARGC(args), args);
}

gantry_status ocl_batchnorm_forward_eval(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                         gantry_mem running_mean, gantry_mem running_var, size_t outer,
                                         size_t channels, size_t inner, float eps)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), ym = M(y), gm = M(gamma), bm = M(beta), rmm = M(running_mean), rvm = M(running_var);
    cl_ulong o = outer, cols = (cl_ulong)channels * inner, in = inner;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(ym),  MEM_ARGS(gm),  MEM_ARGS(bm), MEM_ARGS(rmm),
                       MEM_ARGS(rvm), OCL_ARG(o),   OCL_ARG(cols), OCL_ARG(in),  OCL_ARG(eps) };
    return ocl_launch_rows(c, "batchnorm_forward_eval", OCL_K_bn_forward_eval, outer, channels * inner, ARGC(args),
                           args);
}

gantry_status ocl_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                     gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                     size_t outer, size_t channels, size_t inner, float grad_beta)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), dym = M(dy), gm = M(gamma), smm = M(save_mean), sim = M(save_invstd), dxm = M(dx),
            dgm = M(dgamma), dbm = M(dbeta);
    cl_ulong o = outer, ch = channels, in = inner;
    if (use_rows_kernels(c, channels, inner)) {
        ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(dym), MEM_ARGS(gm), MEM_ARGS(smm), MEM_ARGS(sim),
                           MEM_ARGS(dxm), MEM_ARGS(dgm), MEM_ARGS(dbm), OCL_ARG(o),   OCL_ARG(ch),
                           OCL_ARG(in),   OCL_ARG(grad_beta) };
        return launch_rows_kernel(c, "batchnorm_backward", OCL_K_bn_backward_rows, channels, inner, ARGC(args), args);
    }
    ocl_arg args[] = { MEM_ARGS(xm),  MEM_ARGS(dym), MEM_ARGS(gm), MEM_ARGS(smm), MEM_ARGS(sim),
                       MEM_ARGS(dxm), MEM_ARGS(dgm), MEM_ARGS(dbm), OCL_ARG(o),   OCL_ARG(ch),
                       OCL_ARG(in),   OCL_ARG(grad_beta) };
    return ocl_launch_channels(c, "batchnorm_backward", OCL_K_bn_backward, channels, ARGC(args), args);
}

/* ---- elementwise ------------------------------------------------------------- */

static gantry_status binary(ocl_ctx *c, const char *op, ocl_kernel_id k, gantry_mem a, gantry_mem b, gantry_mem y,
                            size_t n)
{
    mem_arg am = M(a), bm = M(b), ym = M(y);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(am), MEM_ARGS(bm), MEM_ARGS(ym), OCL_ARG(nn) };
    return ocl_launch_1d(c, op, k, vector_items(c, n), ARGC(args), args);
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
    mem_arg xm = M(x), ym = M(y);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(ym), OCL_ARG(alpha), OCL_ARG(nn) };
    return ocl_launch_1d(c, "scale", OCL_K_ew_scale, vector_items(c, n), ARGC(args), args);
}

gantry_status ocl_axpy(void *ctx, float alpha, gantry_mem x, gantry_mem y, size_t n)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), ym = M(y);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_ARG(alpha), MEM_ARGS(xm), MEM_ARGS(ym), OCL_ARG(nn) };
    return ocl_launch_1d(c, "axpy", OCL_K_ew_axpy, vector_items(c, n), ARGC(args), args);
}

gantry_status ocl_clamp(void *ctx, gantry_mem x, size_t n, float lo, float hi)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(lo), OCL_ARG(hi) };
    return ocl_launch_1d(c, "clamp", OCL_K_ew_clamp, vector_items(c, n), ARGC(args), args);
}

/* ---- reductions --------------------------------------------------------------- */

/* Stage 1 (`k`: sum_partial or bce_forward_partial) and, with more than one
 * group, stage 2.  out[0] = (sum of term(x[i], t)) / divisor. */
static gantry_status reduce(ocl_ctx *c, const char *op, ocl_kernel_id k, gantry_mem x, size_t n, float t,
                            gantry_mem out, float divisor)
{
    size_t groups = ocl_div_up(n ? n : 1, c->wg);
    if (groups > c->max_groups)
        groups = c->max_groups;
    if (groups > c->partials_count)
        groups = c->partials_count;
    mem_arg xm = M(x), om = M(out);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(t), OCL_ARG(c->partials), MEM_ARGS(om), OCL_ARG(divisor) };
    size_t global = groups * c->wg, local = c->wg;
    GANTRY_TRY(ocl_launch(c, op, k, 1, &global, &local, ARGC(args), args));
    if (groups == 1)
        return GANTRY_OK;
    cl_ulong count = groups;
    ocl_arg fargs[] = { OCL_ARG(c->partials), OCL_ARG(count), MEM_ARGS(om), OCL_ARG(divisor) };
    global = c->wg;
    return ocl_launch(c, op, OCL_K_reduce_final, 1, &global, &local, ARGC(fargs), fargs);
}

gantry_status ocl_sum(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    return reduce(ctx, "sum", OCL_K_sum_partial, x, n, 0.0f, out, 1.0f);
}

gantry_status ocl_mean(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    return reduce(ctx, "mean", OCL_K_sum_partial, x, n, 0.0f, out, n ? (float)n : 1.0f);
}

gantry_status ocl_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    return reduce(ctx, "bce_logits_forward", OCL_K_bce_forward_partial, x, n, target, out, n ? (float)n : 1.0f);
}

gantry_status ocl_bce_logits_backward(void *ctx, gantry_mem x, size_t n, float target, float scale, gantry_mem dx)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x), dxm = M(dx);
    cl_ulong nn = n;
    float k = (float)((double)scale / (double)n);
    ocl_arg args[] = { MEM_ARGS(xm), MEM_ARGS(dxm), OCL_ARG(nn), OCL_ARG(target), OCL_ARG(k) };
    return ocl_launch_1d(c, "bce_logits_backward", OCL_K_bce_backward, n, ARGC(args), args);
}

/* ---- optimizers ------------------------------------------------------------------ */

gantry_status ocl_sgd_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem v, size_t n, float lr, float momentum,
                             float weight_decay)
{
    ocl_ctx *c = ctx;
    cl_int use_v = momentum != 0.0f;
    mem_arg pm = M(p), gm = M(g), vm = use_v ? M(v) : M(p);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(pm),   MEM_ARGS(gm), MEM_ARGS(vm), OCL_ARG(nn), OCL_ARG(lr), OCL_ARG(momentum),
                       OCL_ARG(weight_decay), OCL_ARG(use_v) };
    return ocl_launch_1d(c, "sgd_update", OCL_K_sgd_update, vector_items(c, n), ARGC(args), args);
}

gantry_status ocl_adam_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem m, gantry_mem v, size_t n, float lr,
                              float beta1, float beta2, float eps, float weight_decay, uint64_t step)
{
    ocl_ctx *c = ctx;
    if (step == 0)
        return ocl_error(c->host, GANTRY_INVALID_ARGUMENT, OCL_NAME ": adam_update: step must count from 1");
    /* The step-dependent constants in double on the host, as the reference. */
    const double b1 = beta1, b2 = beta2;
    const double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    float step_size = (float)((double)lr / bc1), sqrt_bc2 = (float)sqrt(bc2);
    float omb1 = (float)(1.0 - b1), omb2 = (float)(1.0 - b2);
    mem_arg pm = M(p), gm = M(g), mm = M(m), vm = M(v);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(pm),  MEM_ARGS(gm),      MEM_ARGS(mm),     MEM_ARGS(vm), OCL_ARG(nn),
                       OCL_ARG(beta1), OCL_ARG(beta2),   OCL_ARG(omb1),    OCL_ARG(omb2), OCL_ARG(step_size),
                       OCL_ARG(sqrt_bc2), OCL_ARG(eps),  OCL_ARG(weight_decay) };
    return ocl_launch_1d(c, "adam_update", OCL_K_adam_update, vector_items(c, n), ARGC(args), args);
}

gantry_status ocl_rmsprop_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                 float alpha, float eps, float weight_decay)
{
    ocl_ctx *c = ctx;
    float oma = (float)(1.0 - (double)alpha);
    mem_arg pm = M(p), gm = M(g), sm = M(sq);
    cl_ulong nn = n;
    ocl_arg args[] = { MEM_ARGS(pm), MEM_ARGS(gm), MEM_ARGS(sm), OCL_ARG(nn), OCL_ARG(lr), OCL_ARG(alpha),
                       OCL_ARG(oma), OCL_ARG(eps), OCL_ARG(weight_decay) };
    return ocl_launch_1d(c, "rmsprop_update", OCL_K_rmsprop_update, vector_items(c, n), ARGC(args), args);
}

/* ---- random fills ----------------------------------------------------------------- */

gantry_status ocl_rand_uniform(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float lo, float hi)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x);
    cl_ulong nn = n, s = seed, o = offset;
    ocl_arg args[] = { MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(s), OCL_ARG(o), OCL_ARG(lo), OCL_ARG(hi) };
    return ocl_launch_1d(c, "rand_uniform", OCL_K_rand_uniform, ocl_div_up(n, 4), ARGC(args), args);
}

gantry_status ocl_rand_normal(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float mean,
                              float std)
{
    ocl_ctx *c = ctx;
    mem_arg xm = M(x);
    cl_ulong nn = n, s = seed, o = offset;
    ocl_arg args[] = { MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(s), OCL_ARG(o), OCL_ARG(mean), OCL_ARG(std) };
    return ocl_launch_1d(c, "rand_normal", OCL_K_rand_normal, ocl_div_up(n, 2), ARGC(args), args);
}

gantry_status ocl_synchronize(void *ctx)
{
    ocl_ctx *c = ctx;
    cl_int err = clFinish(c->queue);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "synchronize", "clFinish");
}
