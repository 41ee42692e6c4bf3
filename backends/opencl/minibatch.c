/* gantry opencl backend: the minibatch family (kernels in
 * cl/minibatch.cl): minibatch discrimination, a work-item per (i, k) pair
 * forward; backward a work-item per weight, then per element, in chunks of
 * rows whose weights fit the scratch buffer. */
#include "ocl_impl.h"

/* The minibatch-discrimination backward pass keeps its weights for a chunk
 * of rows in the scratch buffer, at most this many bytes (or one row). */
#define MBD_SCRATCH ((size_t)64 << 20)

gantry_status ocl_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t dims)
{
    ocl_ctx *c = ctx;
    ocl_mem_arg mm = ocl_mem_arg_of(m), om = ocl_mem_arg_of(o);
    cl_ulong nn = n, bb = b, cc = dims;
    ocl_arg args[] = { OCL_MEM_ARGS(mm), OCL_MEM_ARGS(om), OCL_ARG(nn), OCL_ARG(bb), OCL_ARG(cc) };
    return ocl_launch_1d(c, "minibatch_disc_forward", OCL_K_mbd_forward, n * b, OCL_ARG_COUNT(args), args);
}

gantry_status ocl_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t dims)
{
    ocl_ctx *c = ctx;
    static const char op[] = "minibatch_disc_backward";
    /* Rows i per chunk: their weights w[b, ni, n] fit the scratch limit. */
    size_t row_bytes = b * n * sizeof(float);
    size_t ni = row_bytes && MBD_SCRATCH / row_bytes > 0 ? MBD_SCRATCH / row_bytes : 1;
    if (ni > n)
        ni = n;
    cl_mem w = NULL;
    GANTRY_TRY(ocl_scratch(c, op, ni * row_bytes, &w));
    ocl_mem_arg mm = ocl_mem_arg_of(m), dom = ocl_mem_arg_of(dout), dmm = ocl_mem_arg_of(dm);
    cl_ulong nn = n, bb = b, cc = dims;
    for (size_t i0 = 0; i0 < n; i0 += ni) {
        cl_ulong first = i0, count = n - i0 < ni ? n - i0 : ni;
        ocl_arg wargs[] = { OCL_MEM_ARGS(mm), OCL_MEM_ARGS(dom), OCL_ARG(w),     OCL_ARG(nn),
                            OCL_ARG(bb),      OCL_ARG(cc),       OCL_ARG(first), OCL_ARG(count) };
        GANTRY_TRY(ocl_launch_1d(c, op, OCL_K_mbd_weights, (size_t)count * b * n, OCL_ARG_COUNT(wargs), wargs));
        ocl_arg args[] = { OCL_MEM_ARGS(mm), OCL_ARG(w),  OCL_MEM_ARGS(dmm), OCL_ARG(nn),
                           OCL_ARG(bb),      OCL_ARG(cc), OCL_ARG(first),    OCL_ARG(count) };
        GANTRY_TRY(ocl_launch_1d(c, op, OCL_K_mbd_backward, (size_t)count * b * dims, OCL_ARG_COUNT(args), args));
    }
    return GANTRY_OK;
}
