/* gantry opencl backend: the norm family (kernels in cl/norm.cl): batch
 * normalisation with the batch's, the running or given (frozen)
 * statistics, and virtual batch norm.  Launch shapes (ocl_launch.c):
 *   per-channel   batchnorm training and backward (channel items on CPU
 *                 devices, row groups of a channel each on GPUs where
 *                 inner > 1), batchnorm_backward_frozen
 *   rows          batchnorm_forward_eval, batchnorm_forward_frozen
 *   per-pair      vbn_forward, vbn_backward: a work-group of WG per (example,
 *                 channel) pair, or a work-item per pair where inner is small;
 *                 the backward's per-pair sums go through the scratch buffer to
 *                 a per-channel kernel for dgamma and dbeta
 * Formulas follow the reference backend's (backends/reference/). */
#include "ocl_impl.h"

#include "../bn_act_sequence.h"

/* Virtual batch norm runs a work-group of WG per (example, channel) pair
 * from this many inner values per pair (WG / 2 or more), a work-item per
 * pair below. */
#define VBN_GROUP_MIN(c) ((c)->wg / 2)

/* GPUs: batch norm of [outer, channels, inner] with inner > 1 runs a
 * work-group per channel, whose neighbouring work-items read neighbouring
 * floats (the column groups read a channel each, inner floats apart, and
 * 64 channels fill only 2 groups); measured on an H200 for DCGAN's
 * 64 x 64 x 14 x 14: see docs/benchmarks.md. */
static int use_channel_groups(const ocl_ctx *c, size_t inner)
{
    return c->gpu_shaped && inner > 1;
}

/* ---- with the batch's statistics, or the running ones ----------------------------- */

gantry_status ocl_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                          gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,
                                          gantry_mem save_invstd, size_t outer, size_t channels, size_t inner,
                                          float momentum, float eps)
{
    ocl_ctx *c = ctx;
    static const char op[] = "batchnorm_forward_train";
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y), gm = ocl_mem_arg_of(gamma),
                bm = ocl_mem_arg_of(beta), rmm = ocl_mem_arg_of(running_mean), rvm = ocl_mem_arg_of(running_var),
                smm = ocl_mem_arg_of(save_mean), sim = ocl_mem_arg_of(save_invstd);
    cl_ulong o = outer, ch = channels, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(ym),  OCL_MEM_ARGS(gm),  OCL_MEM_ARGS(bm), OCL_MEM_ARGS(rmm),
                       OCL_MEM_ARGS(rvm), OCL_MEM_ARGS(smm), OCL_MEM_ARGS(sim), OCL_ARG(o),       OCL_ARG(ch),
                       OCL_ARG(in),       OCL_ARG(momentum), OCL_ARG(eps) };
    if (ocl_use_channel_items(c, channels, inner))
        return ocl_launch_channel_items(c, op, OCL_K_bn_forward_train_rows, channels, inner, OCL_ARG_COUNT(args),
                                        args);
    if (use_channel_groups(c, inner))
        return ocl_launch_row_groups(c, op, OCL_K_bn_forward_train_groups, channels, OCL_ARG_COUNT(args), args);
    return ocl_launch_channels(c, op, OCL_K_bn_forward_train, channels, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_batchnorm_forward_eval(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                         gantry_mem running_mean, gantry_mem running_var, size_t outer,
                                         size_t channels, size_t inner, float eps)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y), gm = ocl_mem_arg_of(gamma),
                bm = ocl_mem_arg_of(beta), rmm = ocl_mem_arg_of(running_mean), rvm = ocl_mem_arg_of(running_var);
    cl_ulong o = outer, cols = (cl_ulong)channels * inner, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(ym), OCL_MEM_ARGS(gm), OCL_MEM_ARGS(bm), OCL_MEM_ARGS(rmm),
                       OCL_MEM_ARGS(rvm), OCL_ARG(o),       OCL_ARG(cols),    OCL_ARG(in),      OCL_ARG(eps) };
    return ocl_launch_rows(c, "batchnorm_forward_eval", OCL_K_bn_forward_eval, outer, channels * inner,
                           OCL_ARG_COUNT(args), args);
}

gantry_status ocl_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                     gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                     size_t outer, size_t channels, size_t inner, float grad_beta)
{
    ocl_ctx *c = ctx;
    static const char op[] = "batchnorm_backward";
    ocl_mem_arg xm = ocl_mem_arg_of(x), dym = ocl_mem_arg_of(dy), gm = ocl_mem_arg_of(gamma),
                smm = ocl_mem_arg_of(save_mean), sim = ocl_mem_arg_of(save_invstd), dxm = ocl_mem_arg_of(dx),
                dgm = ocl_mem_arg_of(dgamma), dbm = ocl_mem_arg_of(dbeta);
    cl_ulong o = outer, ch = channels, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(dym), OCL_MEM_ARGS(gm),  OCL_MEM_ARGS(smm),
                       OCL_MEM_ARGS(sim), OCL_MEM_ARGS(dxm), OCL_MEM_ARGS(dgm), OCL_MEM_ARGS(dbm),
                       OCL_ARG(o),        OCL_ARG(ch),       OCL_ARG(in),       OCL_ARG(grad_beta) };
    if (ocl_use_channel_items(c, channels, inner))
        return ocl_launch_channel_items(c, op, OCL_K_bn_backward_rows, channels, inner, OCL_ARG_COUNT(args), args);
    if (use_channel_groups(c, inner))
        return ocl_launch_row_groups(c, op, OCL_K_bn_backward_groups, channels, OCL_ARG_COUNT(args), args);
    return ocl_launch_channels(c, op, OCL_K_bn_backward, channels, OCL_ARG_COUNT(args), args);
}

/* ---- with the activation after it -------------------------------------------------- */

/* The two kernels in turn (bn_act_sequence.h); a kernel of their own would
 * save one pass over y. */
BN_ACT_SEQUENCE_DEFINE(ocl)

/* ---- with given statistics --------------------------------------------------------- */

gantry_status ocl_batchnorm_forward_frozen(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                           gantry_mem mean, gantry_mem invstd, size_t outer, size_t channels,
                                           size_t inner)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y), gm = ocl_mem_arg_of(gamma),
                bm = ocl_mem_arg_of(beta), mm = ocl_mem_arg_of(mean), im = ocl_mem_arg_of(invstd);
    cl_ulong o = outer, cols = (cl_ulong)channels * inner, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_MEM_ARGS(ym), OCL_MEM_ARGS(gm), OCL_MEM_ARGS(bm), OCL_MEM_ARGS(mm),
                       OCL_MEM_ARGS(im), OCL_ARG(o),       OCL_ARG(cols),    OCL_ARG(in) };
    return ocl_launch_rows(c, "batchnorm_forward_frozen", OCL_K_bn_forward_frozen, outer, channels * inner,
                           OCL_ARG_COUNT(args), args);
}

gantry_status ocl_batchnorm_backward_frozen(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem mean,
                                            gantry_mem invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                            size_t outer, size_t channels, size_t inner, float grad_beta)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x), dym = ocl_mem_arg_of(dy), gm = ocl_mem_arg_of(gamma),
                mm = ocl_mem_arg_of(mean), im = ocl_mem_arg_of(invstd), dxm = ocl_mem_arg_of(dx),
                dgm = ocl_mem_arg_of(dgamma), dbm = ocl_mem_arg_of(dbeta);
    cl_ulong o = outer, ch = channels, in = inner;
    ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(dym), OCL_MEM_ARGS(gm),  OCL_MEM_ARGS(mm),
                       OCL_MEM_ARGS(im),  OCL_MEM_ARGS(dxm), OCL_MEM_ARGS(dgm), OCL_MEM_ARGS(dbm),
                       OCL_ARG(o),        OCL_ARG(ch),       OCL_ARG(in),       OCL_ARG(grad_beta) };
    return ocl_launch_channels(c, "batchnorm_backward_frozen", OCL_K_bn_backward_frozen, channels,
                               OCL_ARG_COUNT(args), args);
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
    ocl_mem_arg xm = ocl_mem_arg_of(x), ym = ocl_mem_arg_of(y), gm = ocl_mem_arg_of(gamma),
                bm = ocl_mem_arg_of(beta), rmm = ocl_mem_arg_of(ref_mean), rim = ocl_mem_arg_of(ref_invstd),
                smm = ocl_mem_arg_of(save_mean), sim = ocl_mem_arg_of(save_invstd);
    cl_ulong rc = ref_count, np = pairs, ch = channels, in = inner;
    if (inner >= VBN_GROUP_MIN(c)) {
        ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(ym),  OCL_MEM_ARGS(gm),  OCL_MEM_ARGS(bm),
                           OCL_MEM_ARGS(rmm), OCL_MEM_ARGS(rim), OCL_MEM_ARGS(smm), OCL_MEM_ARGS(sim),
                           OCL_ARG(rc),       OCL_ARG(ch),       OCL_ARG(in),       OCL_ARG(eps) };
        return ocl_launch_row_groups(c, op, OCL_K_vbn_forward, pairs, OCL_ARG_COUNT(args), args);
    }
    ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(ym),  OCL_MEM_ARGS(gm),  OCL_MEM_ARGS(bm), OCL_MEM_ARGS(rmm),
                       OCL_MEM_ARGS(rim), OCL_MEM_ARGS(smm), OCL_MEM_ARGS(sim), OCL_ARG(rc),      OCL_ARG(np),
                       OCL_ARG(ch),       OCL_ARG(in),       OCL_ARG(eps) };
    return ocl_launch_1d(c, op, OCL_K_vbn_forward_items, pairs, OCL_ARG_COUNT(args), args);
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
    ocl_mem_arg xm = ocl_mem_arg_of(x), dym = ocl_mem_arg_of(dy), gm = ocl_mem_arg_of(gamma),
                smm = ocl_mem_arg_of(save_mean), sim = ocl_mem_arg_of(save_invstd), dxm = ocl_mem_arg_of(dx),
                dgm = ocl_mem_arg_of(dgamma), dbm = ocl_mem_arg_of(dbeta);
    cl_ulong rc = ref_count, o = outer, ch = channels, in = inner, from_part = 0;
    cl_mem part = c->partials; /* not read unless from_part */
    if (pairs && inner >= VBN_GROUP_MIN(c)) {
        /* dx and each pair's two sums (a float4) */
        GANTRY_TRY(ocl_scratch(c, op, pairs * 4 * sizeof(float), &part));
        from_part = 1;
        ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(dym), OCL_MEM_ARGS(gm), OCL_MEM_ARGS(smm),
                           OCL_MEM_ARGS(sim), OCL_MEM_ARGS(dxm), OCL_ARG(part),    OCL_ARG(rc),
                           OCL_ARG(ch),       OCL_ARG(in) };
        GANTRY_TRY(ocl_launch_row_groups(c, op, OCL_K_vbn_backward, pairs, OCL_ARG_COUNT(args), args));
    }
    ocl_arg args[] = { OCL_MEM_ARGS(xm),  OCL_MEM_ARGS(dym), OCL_MEM_ARGS(gm),  OCL_MEM_ARGS(smm), OCL_MEM_ARGS(sim),
                       OCL_MEM_ARGS(dxm), OCL_ARG(part),     OCL_ARG(from_part), OCL_MEM_ARGS(dgm), OCL_MEM_ARGS(dbm),
                       OCL_ARG(rc),       OCL_ARG(o),        OCL_ARG(ch),       OCL_ARG(in),       OCL_ARG(grad_beta) };
    return ocl_launch_channels(c, op, OCL_K_vbn_backward_channels, channels, OCL_ARG_COUNT(args), args);
}
