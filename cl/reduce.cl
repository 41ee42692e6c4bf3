/* gantry opencl kernels: sums over n floats in two stages.
 *
 * Stage 1 (REDUCE_PARTIAL): each work-item adds every global-size-th term
 * into a compensated sum, the group adds its work-items' sums in local
 * memory and stores one float2 partial per group; a launch of a single group
 * writes out[0] = total / divisor itself.  Stage 2 (reduce_final, one group)
 * adds the partials and writes out[0].  losses.cl instantiates stage 1 for
 * the binary cross-entropy terms. */
#pragma OPENCL FP_CONTRACT OFF

#define REDUCE_PARTIAL(NAME, TERM)                                                                      \
    __kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void NAME(                                 \
        __global const float *x, ulong xo, ulong n, float t, __global float2 *partial, __global float *out, \
        ulong oo, float divisor)                                                                        \
    {                                                                                                   \
        __local float2 sh[WG];                                                                          \
        x += xo;                                                                                        \
        const size_t gs = get_global_size(0);                                                           \
        float2 acc = (float2)(0.0f, 0.0f);                                                              \
        for (size_t i = get_global_id(0); i < n; i += gs)                                               \
            acc = fsum_add(acc, TERM(x[i], t));                                                         \
        acc = group_sum(acc, sh);                                                                       \
        if (get_local_id(0) == 0) {                                                                     \
            if (get_num_groups(0) == 1)                                                                 \
                out[oo] = fsum_value(acc) / divisor;                                                    \
            else                                                                                        \
                partial[get_group_id(0)] = acc;                                                         \
        }                                                                                               \
    }

#define TERM_IDENTITY(v, t) (v)

REDUCE_PARTIAL(sum_partial, TERM_IDENTITY)

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
reduce_final(__global const float2 *partial, ulong count, __global float *out, ulong oo, float divisor)
{
    __local float2 sh[WG];
    float2 acc = (float2)(0.0f, 0.0f);
    for (size_t i = get_local_id(0); i < count; i += WG)
        acc = fsum_merge(acc, partial[i]);
    acc = group_sum(acc, sh);
    if (get_local_id(0) == 0)
        out[oo] = fsum_value(acc) / divisor;
}
