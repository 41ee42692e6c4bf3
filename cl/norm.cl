/* gantry opencl kernels: batch normalisation, in sections: with the batch
 * statistics (training, evaluation, backward), with given statistics
 * (frozen), virtual batch norm. */
#pragma OPENCL FP_CONTRACT OFF

/* ---- batch normalisation over [outer, channels, inner].
 *
 * Training forward and backward: one BN_LX x BN_LY work-group per BN_LX
 * channels (the layout of bias_grad).  Statistics are compensated sums
 * (common.cl), reduced over the BN_LY work-items of a channel in local
 * memory; the mean first, then the biased variance about it (two passes, as
 * the reference), then the outputs.  Every pass of a channel finishes before
 * any output of it is written, so y may alias x and dx may alias dy.
 * Evaluation: one element per work-item with the running statistics, laid
 * out like bias_add. */

/* A channel's sum over the work-items that share it: BN_LY of a column
 * group, or the whole group of WG (`whole`, the same for the whole group). */
float2 bn_channel_sum(float2 v, __local float2 *sh, int whole)
{
    return whole ? group_sum(v, sh) : column_sum(v, sh);
}

/* One channel's training forward from `lanes` work-items, this one `lane`
 * (the pointers already at their offsets); `valid` is 0 for the work-items
 * of a column group past the last channel, which still join the barriers. */
void bn_forward_train_lanes(__global const float *x, __global float *y, __global const float *gamma,
                            __global const float *beta, __global float *rmean, __global float *rvar,
                            __global float *smean, __global float *sinvstd, size_t ch, size_t lane, size_t lanes,
                            int valid, int whole, __local float2 *sh, size_t outer, size_t channels, size_t inner,
                            float momentum, float eps)
{
    const size_t rows = outer * inner;
    const float count = (float)rows;

    float2 acc = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = lane; r < rows; r += lanes)
            acc = fsum_add(acc, x[channel_at(r, ch, channels, inner)]);
    acc = bn_channel_sum(acc, sh, whole);
    const float mean = fsum_value(acc) / count;

    float2 sq = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = lane; r < rows; r += lanes) {
            float d = x[channel_at(r, ch, channels, inner)] - mean;
            sq = fsum_add(sq, d * d);
        }
    sq = bn_channel_sum(sq, sh, whole);
    const float var = fsum_value(sq) / count;
    const float invstd = 1.0f / sqrt(var + eps);
    if (!valid)
        return; /* no barrier below */

    const float g = gamma[ch], b = beta[ch];
    for (size_t r = lane; r < rows; r += lanes) {
        size_t at = channel_at(r, ch, channels, inner);
        y[at] = g * ((x[at] - mean) * invstd) + b;
    }
    if (lane == 0) {
        const float unbiased = rows > 1 ? var * count / (count - 1.0f) : var;
        smean[ch] = mean;
        sinvstd[ch] = invstd;
        rmean[ch] = (1.0f - momentum) * rmean[ch] + momentum * mean;
        rvar[ch] = (1.0f - momentum) * rvar[ch] + momentum * unbiased;
    }
}

#define BN_FORWARD_TRAIN_PARAMS                                                                                     \
    __global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma, ulong go,          \
        __global const float *beta, ulong bo, __global float *rmean, ulong rmo, __global float *rvar, ulong rvo,    \
        __global float *smean, ulong smo, __global float *sinvstd, ulong sio, ulong outer, ulong channels,          \
        ulong inner, float momentum, float eps
#define BN_FORWARD_TRAIN_POINTERS x + xo, y + yo, gamma + go, beta + bo, rmean + rmo, rvar + rvo, smean + smo, sinvstd + sio

__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void bn_forward_train(BN_FORWARD_TRAIN_PARAMS)
{
    __local float2 sh[BN_LX * BN_LY];
    const size_t ch = get_global_id(0);
    bn_forward_train_lanes(BN_FORWARD_TRAIN_POINTERS, ch, get_local_id(1), BN_LY, ch < channels, 0, sh, outer,
                           channels, inner, momentum, eps);
}

/* GPUs, [outer, channels, inner] with inner > 1: a work-group of WG per
 * channel, whose neighbours read neighbouring floats of a run of inner.  In
 * the column groups above neighbours read different channels, inner floats
 * apart, and a layer of 64 channels fills 2 groups: 1.55 ms for DCGAN's
 * 64 x 64 x 14 x 14 on an H200. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void bn_forward_train_groups(BN_FORWARD_TRAIN_PARAMS)
{
    __local float2 sh[WG];
    bn_forward_train_lanes(BN_FORWARD_TRAIN_POINTERS, get_global_id(0) / WG, get_local_id(0), WG, 1, 1, sh, outer,
                           channels, inner, momentum, eps);
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
void bn_backward_lanes(__global const float *x, __global const float *dy, __global const float *gamma,
                       __global const float *smean, __global const float *sinvstd, __global float *dx,
                       __global float *dgamma, __global float *dbeta, size_t ch, size_t lane, size_t lanes, int valid,
                       int whole, __local float2 *sh, size_t outer, size_t channels, size_t inner, float grad_beta)
{
    const size_t rows = outer * inner;
    const float mean = valid ? smean[ch] : 0.0f, invstd = valid ? sinvstd[ch] : 0.0f;

    float2 sdy = (float2)(0.0f, 0.0f), sdyx = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t r = lane; r < rows; r += lanes) {
            size_t at = channel_at(r, ch, channels, inner);
            float g = dy[at];
            float2 gx = ff_mul_f(ff_mul_f(ff_two_sum(x[at], -mean), invstd), g); /* dy * xhat */
            sdy = fsum_add(sdy, g);
            sdyx = fsum_add(sdyx, gx.x);
            sdyx.y += gx.y;
        }
    sdy = bn_channel_sum(sdy, sh, whole);
    sdyx = bn_channel_sum(sdyx, sh, whole);
    if (!valid)
        return;

    const float count = (float)rows;
    const float2 sum_dy = ff_norm(sdy), sum_dyx = ff_norm(sdyx);
    const float2 k = ff_div_f(ff_two_prod(gamma[ch], invstd), count);
    for (size_t r = lane; r < rows; r += lanes) {
        size_t at = channel_at(r, ch, channels, inner);
        float2 xhat = ff_mul_f(ff_two_sum(x[at], -mean), invstd);
        float2 t = ff_add(ff_two_prod(count, dy[at]), -sum_dy);
        t = ff_add(t, -ff_mul(xhat, sum_dyx));
        dx[at] = ff_value(ff_mul(k, t));
    }
    if (lane == 0) {
        if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
            sdyx = fsum_add(sdyx, grad_beta * dgamma[ch]);
            sdy = fsum_add(sdy, grad_beta * dbeta[ch]);
        }
        dgamma[ch] = fsum_value(sdyx);
        dbeta[ch] = fsum_value(sdy);
    }
}

#define BN_BACKWARD_PARAMS                                                                                          \
    __global const float *x, ulong xo, __global const float *dy, ulong dyo, __global const float *gamma, ulong go,  \
        __global const float *smean, ulong smo, __global const float *sinvstd, ulong sio, __global float *dx,       \
        ulong dxo, __global float *dgamma, ulong dgo, __global float *dbeta, ulong dbo, ulong outer, ulong channels, \
        ulong inner, float grad_beta
#define BN_BACKWARD_POINTERS x + xo, dy + dyo, gamma + go, smean + smo, sinvstd + sio, dx + dxo, dgamma + dgo, dbeta + dbo

__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void bn_backward(BN_BACKWARD_PARAMS)
{
    __local float2 sh[BN_LX * BN_LY];
    const size_t ch = get_global_id(0);
    bn_backward_lanes(BN_BACKWARD_POINTERS, ch, get_local_id(1), BN_LY, ch < channels, 0, sh, outer, channels, inner,
                      grad_beta);
}

/* GPUs, inner > 1: a work-group per channel, as bn_forward_train_groups. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void bn_backward_groups(BN_BACKWARD_PARAMS)
{
    __local float2 sh[WG];
    bn_backward_lanes(BN_BACKWARD_POINTERS, get_global_id(0) / WG, get_local_id(0), WG, 1, 1, sh, outer, channels,
                      inner, grad_beta);
}

/* ---- CPU devices: [outer, channels] tensors, VW channels per work-item ----
 * The kernels above reduce each channel with BN_LY work-items and local
 * memory; PoCL runs such a group as short loops between barriers, one
 * work-item at a time, and does not vectorise the float-float arithmetic of
 * the backward pass (3-4x slower than this).  Here each work-item owns VW
 * adjacent channels of a BatchNorm1d input (inner == 1, channels % VW == 0)
 * as one vector, walks all rows itself (no barriers), and the same
 * compensated / float-float formulas run on vectors (ffv, common.cl).  The
 * host uses these on CPU devices only: a GPU needs the parallelism over
 * rows. */

/* ---- CPU devices, [outer, channels, inner] with inner > 1: a channel per
 * work-item, its outer runs of inner contiguous floats as vectors of VW
 * (the last inner % VW of a run one by one), lanes merged at the end.
 * The group kernels' per-element division of r into (o, i) and BN_LY-way
 * interleaving across work-items PoCL cannot vectorise made them 10-20x
 * slower (4-16 ms for DCGAN's 64 x 128 x 7 x 7 and 64 x 64 x 14 x 14). */

void bn_forward_channel(__global const float *x, __global float *y, __global const float *gamma,
                        __global const float *beta, __global float *rmean, __global float *rvar, __global float *smean,
                        __global float *sinvstd, size_t ch, size_t outer, size_t channels, size_t inner,
                        float momentum, float eps)
{
    const size_t stride = channels * inner, rows = outer * inner;
    x += ch * inner;
    y += ch * inner;
    const float count = (float)rows;
    const float mean = fsum_value(channel_sum(x, outer, stride, inner, 0, 0.0f)) / count;
    const float var = fsum_value(channel_sum(x, outer, stride, inner, 1, mean)) / count;
    const float invstd = 1.0f / sqrt(var + eps);
    const float g = gamma[ch], b = beta[ch];
    const floatv gv = (floatv)(g), bv = (floatv)(b), mv = (floatv)(mean), iv = (floatv)(invstd);
    const size_t vec_end = inner - inner % VW;
    for (size_t o = 0; o < outer; o++, x += stride, y += stride) {
        for (size_t i = 0; i < vec_end; i += VW)
            VSTORE(gv * ((VLOAD(0, x + i) - mv) * iv) + bv, 0, y + i);
        for (size_t i = vec_end; i < inner; i++)
            y[i] = g * ((x[i] - mean) * invstd) + b;
    }
    const float unbiased = rows > 1 ? var * count / (count - 1.0f) : var;
    smean[ch] = mean;
    sinvstd[ch] = invstd;
    rmean[ch] = (1.0f - momentum) * rmean[ch] + momentum * mean;
    rvar[ch] = (1.0f - momentum) * rvar[ch] + momentum * unbiased;
}

void bn_backward_channel(__global const float *x, __global const float *dy, __global const float *gamma,
                         __global const float *smean, __global const float *sinvstd, __global float *dx,
                         __global float *dgamma, __global float *dbeta, size_t ch, size_t outer, size_t channels,
                         size_t inner, float grad_beta)
{
    const size_t stride = channels * inner, rows = outer * inner, vec_end = inner - inner % VW;
    x += ch * inner;
    dy += ch * inner;
    dx += ch * inner;
    const float mean = smean[ch], invstd = sinvstd[ch];
    const floatv zero = (floatv)(0.0f), mv = (floatv)(mean), iv = (floatv)(invstd);

    ffv vdy = { zero, zero }, vdyx = { zero, zero };
    float2 sdy = (float2)(0.0f, 0.0f), sdyx = (float2)(0.0f, 0.0f);
    __global const float *xp = x, *dyp = dy;
    for (size_t o = 0; o < outer; o++, xp += stride, dyp += stride) {
        for (size_t i = 0; i < vec_end; i += VW) {
            const floatv g = VLOAD(0, dyp + i);
            ffv gx = ffv_mul_f(ffv_mul_f(ffv_two_sum(VLOAD(0, xp + i), -mv), iv), g); /* dy * xhat */
            vdy = ffv_acc(vdy, g);
            vdyx = ffv_acc(vdyx, gx.hi);
            vdyx.lo = vdyx.lo + gx.lo;
        }
        for (size_t i = vec_end; i < inner; i++) {
            const float g = dyp[i];
            float2 gx = ff_mul_f(ff_mul_f(ff_two_sum(xp[i], -mean), invstd), g);
            sdy = fsum_add(sdy, g);
            sdyx = fsum_add(sdyx, gx.x);
            sdyx.y += gx.y;
        }
    }
    sdy = ffv_total(vdy, sdy);
    sdyx = ffv_total(vdyx, sdyx);

    const float count = (float)rows;
    const float2 sum_dy = ff_norm(sdy), sum_dyx = ff_norm(sdyx);
    const float2 k = ff_div_f(ff_two_prod(gamma[ch], invstd), count);
    const ffv kv = { (floatv)(k.x), (floatv)(k.y) }, sdv = { (floatv)(-sum_dy.x), (floatv)(-sum_dy.y) },
              sxv = { (floatv)(sum_dyx.x), (floatv)(sum_dyx.y) };
    const floatv cv = (floatv)(count);
    for (size_t o = 0; o < outer; o++, x += stride, dy += stride, dx += stride) {
        for (size_t i = 0; i < vec_end; i += VW) {
            ffv xhat = ffv_mul_f(ffv_two_sum(VLOAD(0, x + i), -mv), iv);
            ffv t = ffv_add(ffv_two_prod(cv, VLOAD(0, dy + i)), sdv);
            t = ffv_add(t, ffv_neg(ffv_mul(xhat, sxv)));
            VSTORE(ffv_value(ffv_mul(kv, t)), 0, dx + i);
        }
        for (size_t i = vec_end; i < inner; i++) {
            float2 xhat = ff_mul_f(ff_two_sum(x[i], -mean), invstd);
            float2 t = ff_add(ff_two_prod(count, dy[i]), -sum_dy);
            t = ff_add(t, -ff_mul(xhat, sum_dyx));
            dx[i] = ff_value(ff_mul(k, t));
        }
    }
    if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
        sdyx = fsum_add(sdyx, grad_beta * dgamma[ch]);
        sdy = fsum_add(sdy, grad_beta * dbeta[ch]);
    }
    dgamma[ch] = fsum_value(sdyx);
    dbeta[ch] = fsum_value(sdy);
}

__kernel void
bn_forward_train_rows(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma,
                      ulong go, __global const float *beta, ulong bo, __global float *rmean, ulong rmo,
                      __global float *rvar, ulong rvo, __global float *smean, ulong smo, __global float *sinvstd,
                      ulong sio, ulong outer, ulong channels, ulong inner, float momentum, float eps)
{
    if (inner > 1) {
        const size_t ch = get_global_id(0);
        if (ch < channels)
            bn_forward_channel(x + xo, y + yo, gamma + go, beta + bo, rmean + rmo, rvar + rvo, smean + smo,
                               sinvstd + sio, ch, outer, channels, inner, momentum, eps);
        return;
    }
    const size_t ch = get_global_id(0) * VW;
    if (ch >= channels)
        return;
    x += xo + ch;
    y += yo + ch;
    const floatv count = (floatv)((float)outer);
    const floatv zero = (floatv)(0.0f);

    ffv acc = { zero, zero };
    for (size_t r = 0; r < outer; r++)
        acc = ffv_acc(acc, VLOAD(0, x + r * channels));
    const floatv mean = ffv_value(acc) / count;
    ffv sq = { zero, zero };
    for (size_t r = 0; r < outer; r++) {
        floatv d = VLOAD(0, x + r * channels) - mean;
        sq = ffv_acc(sq, d * d);
    }
    const floatv var = ffv_value(sq) / count;
    const floatv invstd = (floatv)(1.0f) / sqrt(var + eps);

    const floatv g = VLOAD(0, gamma + go + ch), b = VLOAD(0, beta + bo + ch);
    for (size_t r = 0; r < outer; r++)
        VSTORE(g * ((VLOAD(0, x + r * channels) - mean) * invstd) + b, 0, y + r * channels);
    const floatv unbiased = outer > 1 ? var * count / (count - (floatv)(1.0f)) : var;
    VSTORE(mean, 0, smean + smo + ch);
    VSTORE(invstd, 0, sinvstd + sio + ch);
    VSTORE((1.0f - momentum) * VLOAD(0, rmean + rmo + ch) + momentum * mean, 0, rmean + rmo + ch);
    VSTORE((1.0f - momentum) * VLOAD(0, rvar + rvo + ch) + momentum * unbiased, 0, rvar + rvo + ch);
}

__kernel void
bn_backward_rows(__global const float *x, ulong xo, __global const float *dy, ulong dyo, __global const float *gamma,
                 ulong go, __global const float *smean, ulong smo, __global const float *sinvstd, ulong sio,
                 __global float *dx, ulong dxo, __global float *dgamma, ulong dgo, __global float *dbeta, ulong dbo,
                 ulong outer, ulong channels, ulong inner, float grad_beta)
{
    if (inner > 1) {
        const size_t ch = get_global_id(0);
        if (ch < channels)
            bn_backward_channel(x + xo, dy + dyo, gamma + go, smean + smo, sinvstd + sio, dx + dxo, dgamma + dgo,
                                dbeta + dbo, ch, outer, channels, inner, grad_beta);
        return;
    }
    const size_t ch = get_global_id(0) * VW;
    if (ch >= channels)
        return;
    x += xo + ch;
    dy += dyo + ch;
    dx += dxo + ch;
    const floatv zero = (floatv)(0.0f);
    const floatv mean = VLOAD(0, smean + smo + ch), invstd = VLOAD(0, sinvstd + sio + ch);

    ffv sdy = { zero, zero }, sdyx = { zero, zero };
    for (size_t r = 0; r < outer; r++) {
        const floatv g = VLOAD(0, dy + r * channels);
        ffv gx = ffv_mul_f(ffv_mul_f(ffv_two_sum(VLOAD(0, x + r * channels), -mean), invstd), g); /* dy * xhat */
        sdy = ffv_acc(sdy, g);
        sdyx = ffv_acc(sdyx, gx.hi);
        sdyx.lo = sdyx.lo + gx.lo;
    }
    const floatv count = (floatv)((float)outer);
    const ffv sum_dy = ffv_norm(sdy), sum_dyx = ffv_norm(sdyx);
    const ffv k = ffv_div_f(ffv_two_prod(VLOAD(0, gamma + go + ch), invstd), count);
    for (size_t r = 0; r < outer; r++) {
        ffv xhat = ffv_mul_f(ffv_two_sum(VLOAD(0, x + r * channels), -mean), invstd);
        ffv t = ffv_add(ffv_two_prod(count, VLOAD(0, dy + r * channels)), ffv_neg(sum_dy));
        t = ffv_add(t, ffv_neg(ffv_mul(xhat, sum_dyx)));
        VSTORE(ffv_value(ffv_mul(k, t)), 0, dx + r * channels);
    }
    if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
        sdyx = ffv_acc(sdyx, grad_beta * VLOAD(0, dgamma + dgo + ch));
        sdy = ffv_acc(sdy, grad_beta * VLOAD(0, dbeta + dbo + ch));
    }
    VSTORE(ffv_value(sdyx), 0, dgamma + dgo + ch);
    VSTORE(ffv_value(sdy), 0, dbeta + dbo + ch);
}

/* ---- batch normalisation over [outer, channels, inner]
 * with given per-channel statistics (reference and virtual batch norm).
 *
 * Forward: y = gamma ((x - mean) invstd) + beta, one element per work-item
 * laid out like bn_forward_eval; the difference is exact and the rest runs
 * in float-float (common.cl), rounded once, as the reference rounds its
 * double result (a non-finite result as the plain float formula gives it:
 * the float-float steps would turn Inf into NaN).  y may alias x.
 * Backward: dx = (gamma invstd) dy, dgamma = sum dy (x - mean) invstd,
 * dbeta = sum dy (+ grad_beta * the old values), one BN_LX x BN_LY
 * work-group per BN_LX channels as bn_backward, compensated sums reduced in
 * local memory; each work-item reads x and dy of an element before writing
 * its dx, so dx may alias either.
 * Virtual batch norm (vbn_*, after them): statistics per (example, channel)
 * pair mixed with the reference batch's, as the header's formulas; see
 * there. */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
bn_forward_frozen(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma,
                  ulong go, __global const float *beta, ulong bo, __global const float *mean, ulong mo,
                  __global const float *invstd, ulong io, ulong outer, ulong cols, ulong inner)
{
    x += xo;
    y += yo;
    const size_t col = get_global_id(0), o = get_global_id(1);
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

/* ---- virtual batch norm -------------------------------------------------------
 * Forward: per (example, channel) pair the compensated sums S and Q (x^2
 * exact as a float-float product) over its inner values, then mean, var and
 * invstd in float-float (the variance cancels when the mean is large) and y
 * as bn_forward_frozen, rounded once; wherever a float-float value is not
 * finite the plain float formula stands (Inf and NaN as it gives them).
 * vbn_forward: one work-group of WG per pair (pair = group id), reduced in
 * local memory; every work-item reaches every barrier (no early return).
 * vbn_forward_items: a work-item per pair, for small inner.  The reads of a
 * pair finish before its writes (y may alias x).
 * Backward: per pair sum dy and sum dy xhat (as bn_backward_frozen), then
 * dx = gamma invstd (dy - sum dy / n - xhat sum dy xhat / n) in float-float.
 * vbn_backward: a work-group of WG per pair writes dx and the pair's two
 * sums (float2 each, as a float4) to `part`; vbn_backward_channels, one
 * BN_LX x BN_LY work-group per BN_LX channels as bn_backward_frozen, adds
 * them over the examples into dgamma and dbeta (from_part = 1), or, for
 * small inner, computes each pair's sums and dx itself (from_part = 0). */

/* A count as float-float (exact below 2^48). */
float2 vbn_count(ulong n)
{
    const float h = (float)n;
    return (float2)(h, (float)((long)n - (long)h));
}

/* a / b in float-float (b != 0). */
float2 vbn_ff_div(float2 a, float2 b)
{
    const float q = a.x / b.x;
    const float2 r = ff_add(a, -ff_mul_f(b, q));
    return ff_norm((float2)(q, r.x / b.x));
}

/* sqrt(a) in float-float (a > 0): a Newton step from the float root. */
float2 vbn_ff_sqrt(float2 a)
{
    const float s = sqrt(a.x);
    const float2 e = ff_add(a, -ff_two_prod(s, s));
    return ff_norm((float2)(s, e.x / (2.0f * s)));
}

/* mean and invstd of a pair from its compensated sums s (of x) and q (of
 * x^2) and the reference statistics of its channel. */
void vbn_stats(float2 s, float2 q, float rm, float ri, ulong ref_count, ulong inner, float eps, float2 *mean,
               float2 *invstd)
{
    const float2 r = vbn_count(ref_count), n = vbn_count(ref_count + inner);
    /* var_r = 1 / ri^2 - eps, then var_r + rm^2 */
    const float2 rvar = ff_add(ff_div_f(ff_div_f((float2)(1.0f, 0.0f), ri), ri), (float2)(-eps, 0.0f));
    const float2 rsq = ff_add(rvar, ff_two_prod(rm, rm));
    float2 m = vbn_ff_div(ff_add(ff_mul_f(r, rm), ff_norm(s)), n);
    float2 var = ff_add(vbn_ff_div(ff_add(ff_mul(r, rsq), ff_norm(q)), n), -ff_mul(m, m));
    if (var.x < 0.0f)
        var = (float2)(0.0f, 0.0f);
    float2 inv = vbn_ff_div((float2)(1.0f, 0.0f), vbn_ff_sqrt(ff_add(var, (float2)(eps, 0.0f))));

    /* the plain float formula, for what is not finite above */
    const float pm = (r.x * rm + fsum_value(s)) / n.x;
    float pv = (r.x * ((1.0f / (ri * ri) - eps) + rm * rm) + fsum_value(q)) / n.x - pm * pm;
    if (pv < 0.0f)
        pv = 0.0f;
    if (!isfinite(m.x))
        m = (float2)(pm, 0.0f);
    if (!isfinite(inv.x))
        inv = (float2)(1.0f / sqrt(pv + eps), 0.0f);
    *mean = m;
    *invstd = inv;
}

/* y of one element, as bn_forward_frozen with float-float statistics. */
float vbn_y(float xv, float2 mean, float2 inv, float g, float b)
{
    const float plain = g * ((xv - mean.x) * inv.x) + b; /* Inf and NaN as the formula gives them */
    const float2 xhat = ff_mul(ff_add((float2)(xv, 0.0f), -mean), inv);
    return isfinite(plain) ? ff_value(ff_add(ff_mul_f(xhat, g), (float2)(b, 0.0f))) : plain;
}

/* Adds x (from `first`, every `step`-th of `inner`) to the sums s and q. */
void vbn_sums(__global const float *x, size_t first, size_t step, size_t inner, float2 *s, float2 *q)
{
    float2 ss = *s, qq = *q;
    for (size_t i = first; i < inner; i += step) {
        const float v = x[i];
        const float2 v2 = ff_two_prod(v, v);
        ss = fsum_add(ss, v);
        qq = fsum_add(qq, v2.x);
        qq.y += v2.y;
    }
    *s = ss;
    *q = qq;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
vbn_forward(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma, ulong go,
            __global const float *beta, ulong bo, __global const float *rmean, ulong rmo,
            __global const float *rinvstd, ulong rio, __global float *smean, ulong smo, __global float *sinvstd,
            ulong sio, ulong ref_count, ulong channels, ulong inner, float eps)
{
    __local float2 sh[WG];
    const size_t pair = get_global_id(0) / WG, ch = pair % channels, l = get_local_id(0);
    x += xo + pair * inner;
    y += yo + pair * inner;
    float2 s = (float2)(0.0f, 0.0f), q = (float2)(0.0f, 0.0f);
    vbn_sums(x, l, WG, inner, &s, &q);
    s = group_sum(s, sh);
    q = group_sum(q, sh);
    float2 mean, inv;
    vbn_stats(s, q, rmean[rmo + ch], rinvstd[rio + ch], ref_count, inner, eps, &mean, &inv);
    const float g = gamma[go + ch], b = beta[bo + ch];
    for (size_t i = l; i < inner; i += WG)
        y[i] = vbn_y(x[i], mean, inv, g, b);
    if (l == 0) {
        smean[smo + pair] = ff_value(mean);
        sinvstd[sio + pair] = ff_value(inv);
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
vbn_forward_items(__global const float *x, ulong xo, __global float *y, ulong yo, __global const float *gamma,
                  ulong go, __global const float *beta, ulong bo, __global const float *rmean, ulong rmo,
                  __global const float *rinvstd, ulong rio, __global float *smean, ulong smo,
                  __global float *sinvstd, ulong sio, ulong ref_count, ulong pairs, ulong channels, ulong inner,
                  float eps)
{
    const size_t pair = get_global_id(0), ch = pair % channels;
    if (pair >= pairs)
        return; /* no barrier in this kernel */
    x += xo + pair * inner;
    y += yo + pair * inner;
    float2 s = (float2)(0.0f, 0.0f), q = (float2)(0.0f, 0.0f);
    vbn_sums(x, 0, 1, inner, &s, &q);
    float2 mean, inv;
    vbn_stats(s, q, rmean[rmo + ch], rinvstd[rio + ch], ref_count, inner, eps, &mean, &inv);
    const float g = gamma[go + ch], b = beta[bo + ch];
    for (size_t i = 0; i < inner; i++)
        y[i] = vbn_y(x[i], mean, inv, g, b);
    smean[smo + pair] = ff_value(mean);
    sinvstd[sio + pair] = ff_value(inv);
}

/* Adds dy and dy xhat of a pair (from `first`, every `step`-th of `inner`)
 * to sdy and sdyx, as bn_backward_frozen. */
void vbn_grad_sums(__global const float *x, __global const float *dy, float mu, float inv, size_t first, size_t step,
                   size_t inner, float2 *sdy, float2 *sdyx)
{
    float2 a = *sdy, b = *sdyx;
    for (size_t i = first; i < inner; i += step) {
        const float g = dy[i], xv = x[i];
        const float plain_gx = g * ((xv - mu) * inv);
        float2 gx = ff_mul_f(ff_mul_f(ff_two_sum(xv, -mu), inv), g); /* dy * xhat */
        if (!isfinite(plain_gx)) /* Inf and NaN as the formula gives them */
            gx = (float2)(plain_gx, 0.0f);
        a = fsum_add(a, g);
        b = fsum_add(b, gx.x);
        b.y += gx.y;
    }
    *sdy = a;
    *sdyx = b;
}

/* dx of a pair (from `first`, every `step`-th of `inner`) given its sums. */
void vbn_grad_dx(__global const float *x, __global const float *dy, __global float *dx, float mu, float inv, float g,
                 float2 sdy, float2 sdyx, ulong ref_count, size_t first, size_t step, size_t inner)
{
    const float2 n = vbn_count(ref_count + inner), k = ff_two_prod(g, inv);
    const float2 a = vbn_ff_div(ff_norm(sdy), n), b = vbn_ff_div(ff_norm(sdyx), n);
    const float pk = k.x + k.y, pa = fsum_value(sdy) / n.x, pb = fsum_value(sdyx) / n.x;
    for (size_t i = first; i < inner; i += step) {
        const float d = dy[i], xv = x[i];
        const float plain = pk * ((d - pa) - ((xv - mu) * inv) * pb); /* Inf and NaN as the formula gives them */
        const float2 xhat = ff_mul_f(ff_two_sum(xv, -mu), inv);
        float2 t = ff_add((float2)(d, 0.0f), -a);
        t = ff_add(t, -ff_mul(xhat, b));
        dx[i] = isfinite(plain) ? ff_value(ff_mul(k, t)) : plain;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
vbn_backward(__global const float *x, ulong xo, __global const float *dy, ulong dyo, __global const float *gamma,
             ulong go, __global const float *smean, ulong smo, __global const float *sinvstd, ulong sio,
             __global float *dx, ulong dxo, __global float4 *part, ulong ref_count, ulong channels, ulong inner)
{
    __local float2 sh[WG];
    const size_t pair = get_global_id(0) / WG, ch = pair % channels, l = get_local_id(0);
    x += xo + pair * inner;
    dy += dyo + pair * inner;
    dx += dxo + pair * inner;
    const float mu = smean[smo + pair], inv = sinvstd[sio + pair];
    float2 sdy = (float2)(0.0f, 0.0f), sdyx = (float2)(0.0f, 0.0f);
    vbn_grad_sums(x, dy, mu, inv, l, WG, inner, &sdy, &sdyx);
    sdy = group_sum(sdy, sh);
    sdyx = group_sum(sdyx, sh);
    vbn_grad_dx(x, dy, dx, mu, inv, gamma[go + ch], sdy, sdyx, ref_count, l, WG, inner);
    if (l == 0)
        part[pair] = (float4)(sdy, sdyx);
}

__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void
vbn_backward_channels(__global const float *x, ulong xo, __global const float *dy, ulong dyo,
                      __global const float *gamma, ulong go, __global const float *smean, ulong smo,
                      __global const float *sinvstd, ulong sio, __global float *dx, ulong dxo,
                      __global const float4 *part, ulong from_part, __global float *dgamma, ulong dgo,
                      __global float *dbeta, ulong dbo, ulong ref_count, ulong outer, ulong channels, ulong inner,
                      float grad_beta)
{
    __local float2 sh[BN_LX * BN_LY];
    const size_t ch = get_global_id(0), ly = get_local_id(1);
    const int valid = ch < channels;
    const float g = valid ? gamma[go + ch] : 0.0f;
    float2 tdy = (float2)(0.0f, 0.0f), tdyx = (float2)(0.0f, 0.0f);
    if (valid)
        for (size_t o = ly; o < outer; o += BN_LY) {
            const size_t pair = o * channels + ch;
            float2 sdy = (float2)(0.0f, 0.0f), sdyx = (float2)(0.0f, 0.0f);
            if (from_part) {
                const float4 p = part[pair];
                sdy = p.xy;
                sdyx = p.zw;
            } else {
                const size_t at = pair * inner;
                const float mu = smean[smo + pair], inv = sinvstd[sio + pair];
                vbn_grad_sums(x + xo + at, dy + dyo + at, mu, inv, 0, 1, inner, &sdy, &sdyx);
                vbn_grad_dx(x + xo + at, dy + dyo + at, dx + dxo + at, mu, inv, g, sdy, sdyx, ref_count, 0, 1, inner);
            }
            tdy = fsum_merge(tdy, sdy);
            tdyx = fsum_merge(tdyx, sdyx);
        }
    tdy = column_sum(tdy, sh);
    tdyx = column_sum(tdyx, sh);
    if (!valid || ly != 0)
        return; /* after the last barrier */
    if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
        tdyx = fsum_add(tdyx, dgamma[dgo + ch]);
        tdy = fsum_add(tdy, dbeta[dbo + ch]);
    }
    dgamma[dgo + ch] = fsum_value(tdyx);
    dbeta[dbo + ch] = fsum_value(tdy);
}
