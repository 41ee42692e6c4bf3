/* gantry opencl kernels: the regression losses, MSE and L1, of x against a
 * target tensor t (kind 0: MSE, 1: L1, as gantry_loss_kind).
 *
 * Forward: the two-stage sum of reduce.cl with two inputs: stage 1 here
 * (grid-stride, compensated, one float2 partial per group, or out[0]
 * directly from a single group), stage 2 reduce_final.  Each difference is
 * exact (TwoSum) and its square a float-float product, so a term carries
 * ~48 bits into the compensated sum, close to the reference's double.
 * Backward: dx = k2 (x - t) (MSE, k2 = 2 scale / n) or k sign(x - t) (L1,
 * k = scale / n), with k, k2 rounded once on the host from double and the
 * difference kept exact, so dx is within an ulp of the reference.  One
 * element per work-item; dx may alias x or t. */
#pragma OPENCL FP_CONTRACT OFF

/* (x - t)^2 or |x - t| as hi + lo; a non-finite value (Inf or NaN in x or
 * t, overflow) as the plain float formula gives it, with lo 0 (the
 * float-float steps would turn Inf into NaN). */
float2 regression_term(int kind, float xv, float tv)
{
    float2 d = ff_two_sum(xv, -tv);
    float2 v = kind == 0 ? ff_mul(d, d) : d.x < 0.0f ? -d : d;
    float plain = kind == 0 ? d.x * d.x : fabs(d.x);
    return isfinite(plain) ? v : (float2)(plain, 0.0f);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
regression_partial(int kind, __global const float *x, ulong xo, __global const float *t, ulong to, ulong n,
                   __global float2 *partial, __global float *out, ulong oo, float divisor)
{
    __local float2 sh[WG];
    x += xo;
    t += to;
    const size_t gs = get_global_size(0);
    float2 acc = (float2)(0.0f, 0.0f);
    for (size_t i = get_global_id(0); i < n; i += gs) {
        float2 v = regression_term(kind, x[i], t[i]);
        acc = fsum_add(acc, v.x);
        acc.y += v.y;
    }
    acc = group_sum(acc, sh);
    if (get_local_id(0) == 0) {
        if (get_num_groups(0) == 1)
            out[oo] = fsum_value(acc) / divisor;
        else
            partial[get_group_id(0)] = acc;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
regression_backward(int kind, __global const float *x, ulong xo, __global const float *t, ulong to, __global float *dx,
                    ulong dxo, ulong n, float k)
{
    const size_t i = get_global_id(0);
    if (i >= n)
        return;
    const float xv = x[xo + i], tv = t[to + i];
    float g;
    if (kind == 0) {
        const float plain = (xv - tv) * k; /* Inf and NaN as the formula gives them */
        g = isfinite(plain) ? ff_value(ff_mul_f(ff_two_sum(xv, -tv), k)) : plain;
    } else {
        const float d = xv - tv; /* its sign is exact; NaN counts as 0, as in the reference */
        g = d > 0.0f ? k : d < 0.0f ? -k : 0.0f * k;
    }
    dx[dxo + i] = g;
}
