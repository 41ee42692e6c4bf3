/* gantry opencl kernels: batch normalisation over [outer, channels, inner]
 * with given per-channel statistics (reference and virtual batch norm).
 *
 * Forward: y = gamma ((x - mean) invstd) + beta, one element per work-item
 * laid out like bn_forward_eval; the difference is exact and the rest runs
 * in float-float (common.cl), rounded once, as the reference rounds its
 * double result (a non-finite result as the plain float formula gives it:
 * the float-float steps would turn Inf into NaN).  Rows from r0 (the host launches at most 65535 at a time,
 * as for conv.cl).  y may alias x.
 * Backward: dx = (gamma invstd) dy, dgamma = sum dy (x - mean) invstd,
 * dbeta = sum dy (+ grad_beta * the old values), one BN_LX x BN_LY
 * work-group per BN_LX channels as bn_backward, compensated sums reduced in
 * local memory; each work-item reads x and dy of an element before writing
 * its dx, so dx may alias either. */
#pragma OPENCL FP_CONTRACT OFF

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
bn_forward_frozen(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma,
                  ulong go, __global const float *beta, ulong bo, __global const float *mean, ulong mo,
                  __global const float *invstd, ulong io, ulong outer, ulong cols, ulong inner, ulong r0)
{
    x += xo;
    y += yo;
    const size_t col = get_global_id(0), o = r0 + get_global_id(1);
    if (col >= cols || o >= outer)
        return;
    const size_t ch = inner == 1 ? col : col / inner, at = o * cols + col;
    const float xv = x[at], mu = mean[mo + ch], inv = invstd[io + ch], g = gamma[go + ch], b = beta[bo + ch];
    const float plain = g * ((xv - mu) * inv) + b; /* Inf and NaN as the formula gives them */
    const float2 xhat = ff_mul_f(ff_two_sum(xv, -mu), inv);
    y[at] = isfinite(plain) ? ff_value(ff_add(ff_mul_f(xhat, g), (float2)(b, 0.0f))) : plain;
}

__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void
bn_backward_frozen(__global const float *x, ulong xo, __global const float *dy, ulong dyo, __global const float *gamma,
                   ulong go, __global const float *mean, ulong mo, __global const float *invstd, ulong io,
                   __global float *dx, ulong dxo, __global float *dgamma, ulong dgo, __global float *dbeta, ulong dbo,
                   ulong outer, ulong channels, ulong inner, float grad_beta)
{
    __local float2 sh[BN_LX * BN_LY];
    x += xo;
    dy += dyo;
    dx += dxo;
    const size_t ch = get_global_id(0), ly = get_local_id(1), rows = outer * inner;
    const int valid = ch < channels;
    const float mu = valid ? mean[mo + ch] : 0.0f, inv = valid ? invstd[io + ch] : 0.0f;
    const float2 k = ff_two_prod(valid ? gamma[go + ch] : 0.0f, inv);

    float2 sdy = (float2)(0.0f, 0.0f), sdyx = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = ly; r < rows; r += BN_LY) {
            const size_t at = channel_at(r, ch, channels, inner);
            const float g = dy[at], xv = x[at];
            const float plain_gx = g * ((xv - mu) * inv), plain_dx = g * (k.x + k.y);
            float2 gx = ff_mul_f(ff_mul_f(ff_two_sum(xv, -mu), inv), g); /* dy * xhat */
            if (!isfinite(plain_gx)) /* Inf and NaN as the formula gives them */
                gx = (float2)(plain_gx, 0.0f);
            sdy = fsum_add(sdy, g);
            sdyx = fsum_add(sdyx, gx.x);
            sdyx.y += gx.y;
            dx[at] = isfinite(plain_dx) ? ff_value(ff_mul_f(k, g)) : plain_dx;
        }
    sdy = column_sum(sdy, sh);
    sdyx = column_sum(sdyx, sh);
    if (!valid || ly != 0)
        return;
    if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
        sdyx = fsum_add(sdyx, dgamma[dgo + ch]);
        sdy = fsum_add(sdy, dbeta[dbo + ch]);
    }
    dgamma[dgo + ch] = fsum_value(sdyx);
    dbeta[dbo + ch] = fsum_value(sdy);
}
