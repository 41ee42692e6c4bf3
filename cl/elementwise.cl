/* gantry opencl kernels: the elementwise family, in sections: add, mul,
 * scale, axpy and clamp; activations; bias_add and bias_grad; the two-stage
 * sums (sum, mean), whose reduction loss.cl instantiates for its losses. */
#pragma OPENCL FP_CONTRACT OFF

/* ---- add, mul, scale, axpy, clamp.
 *
 * One vector of VW floats per work-item (vloadN/vstoreN: views may start at
 * any float offset); the n % VW tail elements go to the work-items after
 * the last vector.  No grid-stride loops: PoCL vectorises a kernel across
 * work-items only when each work-item's body is straight-line code (a loop
 * in it made these 10x slower), and GPUs do not mind.  Each
 * element reads its inputs before its output is written, so y may alias an
 * input.  One IEEE operation per element (axpy: two, no fused multiply-add)
 * as the reference rounds. */

#define EW_LOOP(BODY_V, BODY_S)                                                                         \
    const size_t nv = n / VW, v = get_global_id(0);                                                    \
    if (v < nv) {                                                                                       \
        BODY_V;                                                                                         \
    } else {                                                                                            \
        const size_t i = nv * VW + (v - nv);                                                            \
        if (i < n) {                                                                                    \
            BODY_S;                                                                                     \
        }                                                                                               \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_add(__global const float *a, ulong ao, __global const float *b, ulong bo, __global float *y, ulong yo, ulong n)
{
    a += ao;
    b += bo;
    y += yo;
    EW_LOOP(VSTORE(VLOAD(v, a) + VLOAD(v, b), v, y), y[i] = a[i] + b[i])
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_mul(__global const float *a, ulong ao, __global const float *b, ulong bo, __global float *y, ulong yo, ulong n)
{
    a += ao;
    b += bo;
    y += yo;
    EW_LOOP(VSTORE(VLOAD(v, a) * VLOAD(v, b), v, y), y[i] = a[i] * b[i])
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_scale(__global const float *x, ulong xo, __global float *y, ulong yo, float alpha, ulong n)
{
    x += xo;
    y += yo;
    EW_LOOP(VSTORE(alpha * VLOAD(v, x), v, y), y[i] = alpha * x[i])
}

/* y += alpha * x: a product and a sum, each rounded. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_axpy(float alpha, __global const float *x, ulong xo, __global float *y, ulong yo, ulong n)
{
    x += xo;
    y += yo;
    EW_LOOP(VSTORE(VLOAD(v, y) + alpha * VLOAD(v, x), v, y), y[i] = y[i] + alpha * x[i])
}

/* Comparisons, not fmin/fmax, so that NaN passes through unchanged. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_clamp(__global float *x, ulong xo, ulong n, float lo, float hi)
{
    x += xo;
    EW_LOOP(floatv t = VLOAD(v, x); t = t < lo ? (floatv)(lo) : t; t = t > hi ? (floatv)(hi) : t; VSTORE(t, v, x),
            float t = x[i]; t = t < lo ? lo : t; t = t > hi ? hi : t; x[i] = t)
}

/* ---- activation forward and backward.
 *
 * `act` is gantry_activation (0 identity, 1 relu, 2 leaky relu with slope
 * `param`, 3 tanh, 4 sigmoid), the same for every work-item.  The formulas
 * are the reference's, including its NaN behaviour: relu(NaN) = 0 (a failed
 * comparison), and the backward pass multiplies f'(x) by dy, so 0 * Inf is
 * NaN there too.  y may alias x, dx may alias dy. */

/* The formulas once, for T = float (the tail) and T = floatv (VW floats
 * per work-item, explicit vectors: PoCL's implicit vectorisation across
 * work-items left these 2.5x slower).  Vector ?: selects per component. */
#define ACT_FORWARD(T, v, r)                                                                            \
    switch (act) {                                                                                      \
    case 1: r = v > (T)(0.0f) ? v : (T)(0.0f); break;                                                   \
    case 2: r = v > (T)(0.0f) ? v : param * v; break;                                                   \
    case 3: r = tanh(v); break;                                                                         \
    case 4: { /* sigmoid_f: exp() of -|x| only */                                                       \
        T e_ = exp(-fabs(v));                                                                           \
        r = v >= (T)(0.0f) ? (T)(1.0f) / ((T)(1.0f) + e_) : e_ / ((T)(1.0f) + e_);                      \
        break;                                                                                          \
    }                                                                                                   \
    default: r = v; break;                                                                              \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
act_forward(int act, float param, __global const float *x, ulong xo, __global float *y, ulong yo, ulong n)
{
    x += xo;
    y += yo;
    const size_t nv = n / VW, v = get_global_id(0);
    if (v < nv) {
        floatv xv = VLOAD(v, x), r;
        ACT_FORWARD(floatv, xv, r)
        VSTORE(r, v, y);
    } else {
        const size_t i = nv * VW + (v - nv);
        if (i < n) {
            float xs = x[i], r;
            ACT_FORWARD(float, xs, r)
            y[i] = r;
        }
    }
}

/* f'(x) from x (relu, leaky relu) or from y (tanh, sigmoid), times dy. */
#define ACT_BACKWARD(T, LOAD_X, LOAD_Y, d)                                                              \
    switch (act) {                                                                                      \
    case 1: d = LOAD_X > (T)(0.0f) ? (T)(1.0f) : (T)(0.0f); break;   /* f'(0) = 0 */                    \
    case 2: d = LOAD_X > (T)(0.0f) ? (T)(1.0f) : (T)(param); break;  /* f'(0) = slope, as PyTorch */    \
    case 3: { T t_ = LOAD_Y; d = fma(-t_, t_, (T)(1.0f)); break; }   /* exact t*t: no cancellation */   \
    case 4: { T t_ = LOAD_Y; d = t_ * ((T)(1.0f) - t_); break; }                                        \
    default: d = (T)(1.0f); break;                                                                      \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
act_backward(int act, float param, __global const float *x, ulong xo, __global const float *y, ulong yo,
             __global const float *dy, ulong dyo, __global float *dx, ulong dxo, ulong n)
{
    x += xo;
    y += yo;
    dy += dyo;
    dx += dxo;
    const size_t nv = n / VW, v = get_global_id(0);
    if (v < nv) {
        floatv d;
        ACT_BACKWARD(floatv, VLOAD(v, x), VLOAD(v, y), d)
        VSTORE(d * VLOAD(v, dy), v, dx);
    } else {
        const size_t i = nv * VW + (v - nv);
        if (i < n) {
            float d;
            ACT_BACKWARD(float, x[i], y[i], d)
            dx[i] = d * dy[i];
        }
    }
}

/* ---- bias_add and bias_grad over [outer, channels, inner].
 *
 * bias_add: one element per work-item, dimension 0 the channels * inner
 * columns of a row (coalesced), dimension 1 the outer rows.
 * bias_grad: one BN_LX x BN_LY work-group per BN_LX channels; the BN_LY
 * work-items of a channel take every BN_LY-th row (for inner == 1 adjacent
 * work-items read adjacent floats), with compensated sums, then a tree in
 * local memory.  dbias = sum (+ beta * dbias when beta != 0, folded into the
 * same compensated sum and rounded once). */

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
bias_add(__global float *x, ulong xo, __global const float *bias, ulong bo, ulong outer, ulong cols, ulong inner)
{
    x += xo;
    bias += bo;
    const size_t col = get_global_id(0), o = get_global_id(1);
    if (col >= cols || o >= outer)
        return;
    x[o * cols + col] += bias[inner == 1 ? col : col / inner];
}

__kernel __attribute__((reqd_work_group_size(BN_LX, BN_LY, 1))) void
bias_grad(__global const float *dy, ulong dyo, __global float *db, ulong dbo, ulong outer, ulong channels, ulong inner,
          float beta)
{
    __local float2 sh[BN_LX * BN_LY];
    dy += dyo;
    db += dbo;
    const size_t ch = get_global_id(0), ly = get_local_id(1), rows = outer * inner;
    float2 acc = (float2)(0.0f, 0.0f);
    if (ch < channels)
        for (size_t r = ly; r < rows; r += BN_LY)
            acc = fsum_add(acc, dy[channel_at(r, ch, channels, inner)]);
    acc = column_sum(acc, sh);
    if (ly == 0 && ch < channels) {
        if (beta != 0.0f) /* beta == 0: dbias is not read (it may hold NaN) */
            acc = fsum_add(acc, beta * db[ch]);
        db[ch] = fsum_value(acc);
    }
}

/* bias_grad on CPU devices, laid out as norm.cl's *_rows kernels (the group
 * kernel above was 10-20x slower there: 3.2 ms for 64 x 64 x 14 x 14):
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

/* ---- sums over n floats in two stages.
 *
 * Stage 1 (REDUCE_PARTIAL): each work-item adds every global-size-th term
 * into a compensated sum, the group adds its work-items' sums in local
 * memory and stores one float2 partial per group; a launch of a single group
 * writes out[0] = total / divisor itself.  Stage 2 (reduce_final, one group)
 * adds the partials and writes out[0].  loss.cl instantiates stage 1 for
 * the binary cross-entropy terms. */

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
