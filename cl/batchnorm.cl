/* gantry opencl kernels: batch normalisation over [outer, channels, inner].
 *
 * Training forward and backward: one BN_LX x BN_LY work-group per BN_LX
 * channels (the layout of bias_grad).  Statistics are compensated sums
 * (common.cl), reduced over the BN_LY work-items of a channel in local
 * memory; the mean first, then the biased variance about it (two passes, as
 * the reference), then the outputs.  Every pass of a channel finishes before
 * any output of it is written, so y may alias x and dx may alias dy.
 * Evaluation: one element per work-item with the running statistics, laid
 * out like bias_add. */
#pragma OPENCL FP_CONTRACT OFF

__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void
bn_forward_train(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma, ulong go,
                 __global const float *beta, ulong bo, __global float *rmean, ulong rmo, __global float *rvar, ulong rvo,
                 __global float *smean, ulong smo, __global float *sinvstd, ulong sio, ulong outer, ulong channels,
                 ulong inner, float momentum, float eps)
{
    __local float2 sh[BN_LX * BN_LY];
    x += xo;
    y += yo;
    const size_t ch = get_global_id(0), ly = get_local_id(1), rows = outer * inner;
    const int valid = ch < channels;
    const float count = (float)rows;

    float2 acc = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = ly; r < rows; r += BN_LY)
            acc = fsum_add(acc, x[channel_at(r, ch, channels, inner)]);
    acc = column_sum(acc, sh);
    const float mean = fsum_value(acc) / count;

    float2 sq = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = ly; r < rows; r += BN_LY) {
            float d = x[channel_at(r, ch, channels, inner)] - mean;
            sq = fsum_add(sq, d * d);
        }
    sq = column_sum(sq, sh);
    const float var = fsum_value(sq) / count;
    const float invstd = 1.0f / sqrt(var + eps);
    if (!valid)
        return; /* no barrier below */

    const float g = gamma[go + ch], b = beta[bo + ch];
    for (size_t r = ly; r < rows; r += BN_LY) {
        size_t at = channel_at(r, ch, channels, inner);
        y[at] = g * ((x[at] - mean) * invstd) + b;
    }
    if (ly == 0) {
        const float unbiased = rows > 1 ? var * count / (count - 1.0f) : var;
        smean[smo + ch] = mean;
        sinvstd[sio + ch] = invstd;
        rmean[rmo + ch] = (1.0f - momentum) * rmean[rmo + ch] + momentum * mean;
        rvar[rvo + ch] = (1.0f - momentum) * rvar[rvo + ch] + momentum * unbiased;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
bn_forward_eval(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma, ulong go,
                __global const float *beta, ulong bo, __global const float *rmean, ulong rmo,
                __global const float *rvar, ulong rvo, ulong outer, ulong cols, ulong inner, float eps)
{
    x += xo;
    y += yo;
    const size_t col = get_global_id(0), o = get_global_id(1);
    if (col >= cols || o >= outer)
        return;
    const size_t ch = inner == 1 ? col : col / inner, at = o * cols + col;
    const float mean = rmean[rmo + ch], invstd = 1.0f / sqrt(rvar[rvo + ch] + eps);
    y[at] = gamma[go + ch] * ((x[at] - mean) * invstd) + beta[bo + ch];
}

/* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat));
 * dgamma = sum(dy * xhat) (+ grad_beta * dgamma), dbeta = sum(dy) (+ ...).
 * The three terms of dx nearly cancel for small batches (m = 2: dx is of
 * the order of eps), so xhat, the products and the differences are kept in
 * float-float (common.cl) and rounded once at the end, as the reference
 * rounds its double result. */
__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void
bn_backward(__global const float *x, ulong xo, __global const float *dy, ulong dyo, __global const float *gamma,
            ulong go, __global const float *smean, ulong smo, __global const float *sinvstd, ulong sio,
            __global float *dx, ulong dxo, __global float *dgamma, ulong dgo, __global float *dbeta, ulong dbo,
            ulong outer, ulong channels, ulong inner, float grad_beta)
{
    __local float2 sh[BN_LX * BN_LY];
    x += xo;
    dy += dyo;
    dx += dxo;
    const size_t ch = get_global_id(0), ly = get_local_id(1), rows = outer * inner;
    const int valid = ch < channels;
    const float mean = valid ? smean[smo + ch] : 0.0f, invstd = valid ? sinvstd[sio + ch] : 0.0f;

    float2 sdy = (float2)(0.0f, 0.0f), sdyx = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = ly; r < rows; r += BN_LY) {
            size_t at = channel_at(r, ch, channels, inner);
            float g = dy[at];
            float2 gx = ff_mul_f(ff_mul_f(ff_two_sum(x[at], -mean), invstd), g); /* dy * xhat */
            sdy = fsum_add(sdy, g);
            sdyx = fsum_add(sdyx, gx.x);
            sdyx.y += gx.y;
        }
    sdy = column_sum(sdy, sh);
    sdyx = column_sum(sdyx, sh);
    if (!valid)
        return;

    const float count = (float)rows;
    const float2 sum_dy = ff_norm(sdy), sum_dyx = ff_norm(sdyx);
    const float2 k = ff_div_f(ff_two_prod(gamma[go + ch], invstd), count);
    for (size_t r = ly; r < rows; r += BN_LY) {
        size_t at = channel_at(r, ch, channels, inner);
        float2 xhat = ff_mul_f(ff_two_sum(x[at], -mean), invstd);
        float2 t = ff_add(ff_two_prod(count, dy[at]), -sum_dy);
        t = ff_add(t, -ff_mul(xhat, sum_dyx));
        dx[at] = ff_value(ff_mul(k, t));
    }
    if (ly == 0) {
        if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
            sdyx = fsum_add(sdyx, grad_beta * dgamma[dgo + ch]);
            sdy = fsum_add(sdy, grad_beta * dbeta[dbo + ch]);
        }
        dgamma[dgo + ch] = fsum_value(sdyx);
        dbeta[dbo + ch] = fsum_value(sdy);
    }
}
