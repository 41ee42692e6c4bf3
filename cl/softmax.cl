/* gantry opencl kernels: row-wise softmax reductions over x [rows, k]:
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
 * compensated partials for reduce_final (reduce.cl), like the other
 * losses.  Every row's reads finish (barriers) before its dx is written,
 * so dx may alias x. */
#pragma OPENCL FP_CONTRACT OFF

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
