/* gantry opencl backend: the random family (kernels in cl/random.cl):
 * Philox4x32-10 uniform and normal fills and dropout masks, the stream of
 * gantry/philox.h; a counter block (4 uniforms, or 2 normals) per
 * work-item. */
#include "ocl_impl.h"

gantry_status ocl_rand_uniform(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float lo, float hi)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x);
    cl_ulong nn = n, s = seed, o = offset;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(s), OCL_ARG(o), OCL_ARG(lo), OCL_ARG(hi) };
    return ocl_launch_1d(c, "rand_uniform", OCL_K_rand_uniform, ocl_div_up(n, 4), OCL_ARG_COUNT(args), args);
}

gantry_status ocl_rand_normal(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float mean,
                              float std)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg xm = ocl_mem_arg_of(x);
    cl_ulong nn = n, s = seed, o = offset;
    ocl_arg args[] = { OCL_MEM_ARGS(xm), OCL_ARG(nn), OCL_ARG(s), OCL_ARG(o), OCL_ARG(mean), OCL_ARG(std) };
    return ocl_launch_1d(c, "rand_normal", OCL_K_rand_normal, ocl_div_up(n, 2), OCL_ARG_COUNT(args), args);
}

gantry_status ocl_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg mm = ocl_mem_arg_of(mask);
    cl_ulong nn = n, s = seed, o = offset;
    float keep = (float)(1.0 / (1.0 - (double)p)); /* as the reference rounds it */
    ocl_arg args[] = { OCL_MEM_ARGS(mm), OCL_ARG(nn), OCL_ARG(p), OCL_ARG(keep), OCL_ARG(s), OCL_ARG(o) };
    return ocl_launch_1d(c, "dropout_mask", OCL_K_dropout_mask, ocl_div_up(n, 4), OCL_ARG_COUNT(args), args);
}
