/* gantry opencl kernels: the losses, in sections: binary cross-entropy on
 * logits, regression (MSE, L1), softmax cross-entropy and log-sum-exp. */
#pragma OPENCL FP_CONTRACT OFF

/* ---- binary cross-entropy on logits against a constant
 * target t.
 *
 * Forward: mean of max(x, 0) - x t + log(1 + exp(-|x|)), through the
 * two-stage sum of elementwise.cl.  Backward: dx = k (sigmoid(x) - t) with
 * k = scale / n, written as (1 - t) sigmoid(x) - t sigmoid(-x) so that the
 * difference does not cancel for large |x| (float sigmoid(20) is 1.0). */

float bce_term(float v, float t)
{
    return ((v > 0.0f ? v : 0.0f) - v * t) + log1p(exp(-fabs(v)));
}

REDUCE_PARTIAL(bce_forward_partial, bce_term)

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
bce_backward(__global const float *x, ulong xo, __global float *dx, ulong dxo, ulong n, float t, float k)
{
    x += xo;
    dx += dxo;
    const size_t i = get_global_id(0);
    if (i < n) {
        float v = x[i], s, sm; /* sigmoid(v), sigmoid(-v) */
        if (v >= 0.0f) {
            float e = exp(-v);
            s = 1.0f / (1.0f + e);
            sm = e / (1.0f + e);
        } else {
            float e = exp(v); /* NaN lands here and stays NaN */
            s = e / (1.0f + e);
            sm = 1.0f / (1.0f + e);
        }
        dx[i] = k * ((1.0f - t) * s - t * sm);
    }
}

/* ---- the regression losses, MSE and L1, of x against a
 * target tensor t (kind 0: MSE, 1: L1, as gantry_loss_kind).
 *
 * Forward: the two-stage sum of elementwise.cl with two inputs: stage 1 here
 * (grid-stride, compensated, one float2 partial per group, or out[0]
 * directly from a single group), stage 2 reduce_final.  Each difference is
 * exact (TwoSum) and its square a float-float product, so a term carries
 * ~48 bits into the compensated sum, close to the reference's double.
 * Backward: dx = k2 (x - t) (MSE, k2 = 2 scale / n) or k sign(x - t) (L1,
 * k = scale / n), with k, k2 rounded once on the host from double and the
 * difference kept exact, so dx is within an ulp of the reference.  One
 * element per work-item; dx may alias x or t. */

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

/* ---- row-wise softmax reductions over x [rows, k]:
 * softmax cross-entropy against target probabilities t, log-sum-exp.
 *
 * A work-group of WG per row: its work-items stride over the row's k
 * entries (adjacent work-items read adjacent floats), the row maximum m is
 * reduced in local memory, then the compensated sum s = sum exp(x - m) (and
 * for the cross-entropy gradient the sum of t); log-sum-exp is m +
 * log1p(s - 1) (row_log_sum), softmax exp(x - m) / s.  As the ABI says
 * (and the reference does), a NaN anywhere in a row makes m NaN, and a row
 * whose maximum is infinite has log-sum-exp m (softmax exp(x - m): NaN
 * where x = m).  The forward cross-entropy strides its groups over the rows and sums the row losses as
 * compensated partials for reduce_final (elementwise.cl), like the other
 * losses.  Every row's reads finish (barriers) before its dx is written,
 * so dx may alias x. */

/* max(a, b), NaN when either is NaN (fmax would drop it). */
float nan_max(float a, float b)
{
    return isnan(a) || isnan(b) ? a + b : fmax(a, b);
}

/* The maximum over a 1-D work-group of WG, NaN if any is; every work-item
 * gets it.  `sh` holds WG floats. */
float group_max(float v, __local float *sh)
{
    const size_t l = get_local_id(0);
    sh[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = WG / 2; s > 0; s >>= 1) {
        if (l < s)
            sh[l] = nan_max(sh[l], sh[l + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* The row maximum, NaN when the row holds a NaN. */
float row_max(__global const float *row, ulong k, __local float *shm)
{
    float m = -INFINITY;
    for (size_t j = get_local_id(0); j < k; j += WG)
        m = nan_max(m, row[j]);
    return group_max(m, shm);
}

/* sum exp(row - m) as a compensated (hi, lo) pair; meaningful for finite m
 * only, but every work-item of the group calls it whatever m is: barriers
 * only in code that the whole group runs unconditionally (PoCL 3.1 spun
 * forever in logsumexp_forward when its barriers sat behind a uniform
 * early return). */
float2 row_expsum(__global const float *row, ulong k, float m, __local float2 *sh)
{
    const float shift = isfinite(m) ? m : 0.0f;
    float2 acc = (float2)(0.0f, 0.0f);
    for (size_t j = get_local_id(0); j < k; j += WG)
        acc = fsum_add(acc, exp(row[j] - shift));
    return group_sum(acc, sh);
}

/* log s for s = sum exp(row - m) >= 1 (the maximum's own term is 1), as
 * log1p(s - 1): s - 1 from the pair keeps the digits that a rounded s
 * would lose (log(1 + 1e-9) in floats is 0), as the reference's log_sum.
 * 0 when m is not finite. */
float row_log_sum(float2 s, float m)
{
    return isfinite(m) ? log1p((s.x - 1.0f) + s.y) : 0.0f;
}

/* softmax(row)_j from m and s (s unused when m is infinite or NaN). */
float row_softmax(float v, float m, float s)
{
    return isfinite(m) ? exp(v - m) / s : exp(v - m);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
softmax_ce_forward(__global const float *x, ulong xo, __global const float *t, ulong to, ulong rows, ulong k,
                   __global float2 *partial, __global float *out, ulong oo, float divisor)
{
    __local float shm[WG];
    __local float2 sh[WG];
    x += xo;
    t += to;
    float2 total = (float2)(0.0f, 0.0f); /* meaningful in work-item 0 */
    for (size_t r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        __global const float *xr = x + r * k, *tr = t + r * k;
        const float m = row_max(xr, k, shm);
        const float ls = row_log_sum(row_expsum(xr, k, m, sh), m);
        /* -t (x - lse) = t ((m - x) + log s); t == 0 terms are skipped. */
        float2 acc = (float2)(0.0f, 0.0f);
        for (size_t j = get_local_id(0); j < k; j += WG) {
            const float tv = tr[j];
            if (tv != 0.0f)
                acc = fsum_add(acc, tv * ((m - xr[j]) + ls));
        }
        acc = group_sum(acc, sh);
        total = fsum_merge(total, acc);
    }
    if (get_local_id(0) == 0) {
        if (get_num_groups(0) == 1)
            out[oo] = fsum_value(total) / divisor;
        else
            partial[get_group_id(0)] = total;
    }
}

/* dx = sc (softmax(x) sum(t) - t), sc = scale / rows: p sum(t) - t in
 * float-float, rounded once after the scaling. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
softmax_ce_backward(__global const float *x, ulong xo, __global const float *t, ulong to, __global float *dx, ulong dxo,
                    ulong k, float sc)
{
    __local float shm[WG];
    __local float2 sh[WG];
    const size_t r = get_global_id(0) / WG; /* a group per row; with the launch's offset */
    __global const float *xr = x + xo + r * k, *tr = t + to + r * k;
    __global float *dr = dx + dxo + r * k;
    const float m = row_max(xr, k, shm);
    float2 tacc = (float2)(0.0f, 0.0f);
    for (size_t j = get_local_id(0); j < k; j += WG)
        tacc = fsum_add(tacc, tr[j]);
    const float s = fsum_value(row_expsum(xr, k, m, sh));
    const float tsum = fsum_value(group_sum(tacc, sh));
    for (size_t j = get_local_id(0); j < k; j += WG) {
        const float p = row_softmax(xr[j], m, s), tv = tr[j];
        float2 d = ff_add(ff_two_prod(p, tsum), (float2)(-tv, 0.0f));
        dr[j] = ff_value(ff_mul_f(d, sc));
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
logsumexp_forward(__global const float *x, ulong xo, __global float *out, ulong oo, ulong k)
{
    __local float shm[WG];
    __local float2 sh[WG];
    const size_t r = get_global_id(0) / WG; /* a group per row; with the launch's offset */
    __global const float *xr = x + xo + r * k;
    const float m = row_max(xr, k, shm);
    const float ls = row_log_sum(row_expsum(xr, k, m, sh), m);
    if (get_local_id(0) == 0)
        out[oo + r] = m + ls;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
logsumexp_backward(__global const float *x, ulong xo, __global const float *dout, ulong doo, __global float *dx,
                   ulong dxo, ulong k)
{
    __local float shm[WG];
    __local float2 sh[WG];
    const size_t r = get_global_id(0) / WG; /* a group per row; with the launch's offset */
    __global const float *xr = x + xo + r * k;
    __global float *dr = dx + dxo + r * k;
    const float m = row_max(xr, k, shm);
    const float s = fsum_value(row_expsum(xr, k, m, sh)); /* its barriers also order every read of the row before dx */
    const float g = dout[doo + r];
    for (size_t j = get_local_id(0); j < k; j += WG)
        dr[j] = g * row_softmax(xr[j], m, s);
}
