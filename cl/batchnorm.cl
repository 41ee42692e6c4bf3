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

/* ---- CPU devices: [outer, channels] tensors, VW channels per work-item ----
 * The kernels above reduce each channel with BN_LY work-items and local
 * memory; PoCL runs such a group as short loops between barriers, one
 * work-item at a time, and does not vectorise the float-float arithmetic of
 * the backward pass (3-4x slower than this).  Here each work-item owns VW
 * adjacent channels of a BatchNorm1d input (inner == 1, channels % VW == 0)
 * as one vector, walks all rows itself (no barriers), and the same
 * compensated / float-float formulas run on vectors.  The host uses these
 * on CPU devices only: a GPU needs the parallelism over rows. */

typedef struct ffv {
    floatv hi, lo;
} ffv;

ffv ffv_two_sum(floatv a, floatv b)
{
    ffv r;
    r.hi = a + b;
    floatv bp = r.hi - a;
    r.lo = (a - (r.hi - bp)) + (b - bp);
    return r;
}

ffv ffv_two_prod(floatv a, floatv b)
{
    ffv r;
    r.hi = a * b;
    r.lo = fma(a, b, -r.hi);
    return r;
}

ffv ffv_norm(ffv a)
{
    ffv r;
    r.hi = a.hi + a.lo;
    r.lo = a.lo - (r.hi - a.hi);
    return r;
}

ffv ffv_add(ffv a, ffv b)
{
    ffv s = ffv_two_sum(a.hi, b.hi);
    s.lo = s.lo + (a.lo + b.lo);
    return ffv_norm(s);
}

ffv ffv_neg(ffv a)
{
    a.hi = -a.hi;
    a.lo = -a.lo;
    return a;
}

ffv ffv_mul(ffv a, ffv b)
{
    ffv p = ffv_two_prod(a.hi, b.hi);
    p.lo = p.lo + (a.hi * b.lo + a.lo * b.hi);
    return ffv_norm(p);
}

ffv ffv_mul_f(ffv a, floatv b)
{
    ffv p = ffv_two_prod(a.hi, b);
    p.lo = p.lo + a.lo * b;
    return ffv_norm(p);
}

ffv ffv_div_f(ffv a, floatv b)
{
    ffv r;
    r.hi = a.hi / b;
    floatv rem = fma(-r.hi, b, a.hi); /* exact remainder */
    r.lo = (rem + a.lo) / b;
    return ffv_norm(r);
}

/* A compensated running sum (fsum_add of common.cl, per lane). */
ffv ffv_acc(ffv acc, floatv v)
{
    floatv s = acc.hi + v;
    floatv bp = s - acc.hi;
    acc.lo = acc.lo + ((acc.hi - (s - bp)) + (v - bp));
    acc.hi = s;
    return acc;
}

floatv ffv_value(ffv a)
{
    return select(a.hi, a.hi + a.lo, isfinite(a.hi));
}

/* ---- CPU devices, [outer, channels, inner] with inner > 1: a channel per
 * work-item, its outer runs of inner contiguous floats as vectors of VW
 * (the last inner % VW of a run one by one), lanes merged at the end.
 * The group kernels' per-element division of r into (o, i) and BN_LY-way
 * interleaving across work-items PoCL cannot vectorise made them 10-20x
 * slower (4-16 ms for DCGAN's 64 x 128 x 7 x 7 and 64 x 64 x 14 x 14). */

/* The lanes of a (and the scalar sum t) as one compensated sum. */
float2 ffv_total(ffv a, float2 t)
{
#if VW == 1
    return fsum_merge(t, (float2)(a.hi, a.lo));
#else
    float hi[VW], lo[VW];
    VSTORE(a.hi, 0, hi);
    VSTORE(a.lo, 0, lo);
    for (int l = 0; l < VW; l++)
        t = fsum_merge(t, (float2)(hi[l], lo[l]));
    return t;
#endif
}

/* Sum and sum of squared deviations from `mean` (pass 2) of one channel. */
float2 channel_sum(__global const float *x, size_t outer, size_t stride, size_t inner, int squares, float mean)
{
    const floatv zero = (floatv)(0.0f), mv = (floatv)(mean);
    ffv acc = { zero, zero };
    float2 t = (float2)(0.0f, 0.0f);
    const size_t vec_end = inner - inner % VW;
    for (size_t o = 0; o < outer; o++, x += stride) {
        for (size_t i = 0; i < vec_end; i += VW) {
            floatv v = VLOAD(0, x + i);
            if (squares) {
                v = v - mv;
                v = v * v;
            }
            acc = ffv_acc(acc, v);
        }
        for (size_t i = vec_end; i < inner; i++) {
            float v = x[i];
            if (squares) {
                v = v - mean;
                v = v * v;
            }
            t = fsum_add(t, v);
        }
    }
    return ffv_total(acc, t);
}

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

/* bias_grad on CPU devices, laid out as the rows kernels above (the group
 * kernel of bias.cl was 10-20x slower there: 3.2 ms for 64 x 64 x 14 x 14):
 * inner > 1, a channel per work-item; inner == 1, VW channels per
 * work-item.  The same compensated sum, beta * dbias folded in, rounded once. */
__kernel void
bias_grad_rows(__global const float *dy, ulong dyo, __global float *db, ulong dbo, ulong outer, ulong channels,
               ulong inner, float beta)
{
    dy += dyo;
    db += dbo;
    if (inner > 1) {
        const size_t ch = get_global_id(0);
        if (ch >= channels)
            return;
        float2 s = channel_sum(dy + ch * inner, outer, channels * inner, inner, 0, 0.0f);
        if (beta != 0.0f) /* beta == 0: dbias is not read (it may hold NaN) */
            s = fsum_add(s, beta * db[ch]);
        db[ch] = fsum_value(s);
        return;
    }
    const size_t ch = get_global_id(0) * VW;
    if (ch >= channels)
        return;
    const floatv zero = (floatv)(0.0f);
    ffv acc = { zero, zero };
    for (size_t r = 0; r < outer; r++)
        acc = ffv_acc(acc, VLOAD(0, dy + ch + r * channels));
    if (beta != 0.0f)
        acc = ffv_acc(acc, beta * VLOAD(0, db + ch));
    VSTORE(ffv_value(acc), 0, db + ch);
}
