/* gantry opencl backend: the optim family (kernels in cl/optim.cl): SGD,
 * Adam and RMSprop updates, a vector of VW floats per work-item.  The
 * step-dependent constants are computed on the host in double, as the
 * reference does (backends/reference/). */
#include <math.h>

#include "ocl_impl.h"

gantry_status ocl_sgd_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem v, size_t n, float lr, float momentum,
                             float weight_decay)
{
    ocl_ctx *c = ctx;
    cl_int use_v = momentum != 0.0f;
    ocl_mem_arg pm = ocl_mem_arg_of(p), gm = ocl_mem_arg_of(g), vm = ocl_mem_arg_of(use_v ? v : p);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(pm), OCL_MEM_ARGS(gm),      OCL_MEM_ARGS(vm),     OCL_ARG(nn),
                       OCL_ARG(lr),      OCL_ARG(momentum),     OCL_ARG(weight_decay), OCL_ARG(use_v) };
    return ocl_launch_1d(c, "sgd_update", OCL_K_sgd_update, ocl_vector_items(c, n), OCL_ARG_COUNT(args), args);
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
    ocl_mem_arg pm = ocl_mem_arg_of(p), gm = ocl_mem_arg_of(g), mm = ocl_mem_arg_of(m), vm = ocl_mem_arg_of(v);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(pm), OCL_MEM_ARGS(gm),   OCL_MEM_ARGS(mm),    OCL_MEM_ARGS(vm), OCL_ARG(nn),
                       OCL_ARG(beta1),   OCL_ARG(beta2),     OCL_ARG(omb1),       OCL_ARG(omb2),    OCL_ARG(step_size),
                       OCL_ARG(sqrt_bc2), OCL_ARG(eps),      OCL_ARG(weight_decay) };
    return ocl_launch_1d(c, "adam_update", OCL_K_adam_update, ocl_vector_items(c, n), OCL_ARG_COUNT(args), args);
}

gantry_status ocl_rmsprop_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                 float alpha, float eps, float weight_decay)
{
    ocl_ctx *c = ctx;
    float oma = (float)(1.0 - (double)alpha);
    ocl_mem_arg pm = ocl_mem_arg_of(p), gm = ocl_mem_arg_of(g), sm = ocl_mem_arg_of(sq);
    cl_ulong nn = n;
    ocl_arg args[] = { OCL_MEM_ARGS(pm), OCL_MEM_ARGS(gm), OCL_MEM_ARGS(sm), OCL_ARG(nn),          OCL_ARG(lr),
                       OCL_ARG(alpha),   OCL_ARG(oma),     OCL_ARG(eps),     OCL_ARG(weight_decay) };
    return ocl_launch_1d(c, "rmsprop_update", OCL_K_rmsprop_update, ocl_vector_items(c, n), OCL_ARG_COUNT(args),
                         args);
}
