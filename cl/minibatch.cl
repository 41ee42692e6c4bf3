/* gantry opencl kernels: minibatch discrimination (Salimans et al. 2016)
 * over m [n, b, c]: o[i, k] = sum_j exp(-sum_l |m[i, k, l] - m[j, k, l]|).
 *
 * Forward: one work-item per (i, k), numbered k-major (q = k n + i) so
 * that the work-items of a group mostly share k and read the same m[j, k, :]
 * at once (broadcast loads); the L1 distance is a float sum of c positive
 * terms, o a compensated sum.
 * Backward, in two passes over a chunk of rows i0 <= i < i0 + ni (the host
 * sizes the chunk to its scratch buffer):
 *   mbd_weights   w[k, i - i0, j] = (dout[i, k] + dout[j, k]) e_ijk, one
 *                 work-item per entry of w in its order (coalesced writes)
 *   mbd_backward  dm[i, k, l] = -sum_j w[k, i - i0, j] sign(m[i,k,l] - m[j,k,l]),
 *                 one work-item per element of dm in its order (coalesced
 *                 reads of m[j, k, :] and writes), a compensated sum; equal
 *                 entries (sign 0) are skipped as in the reference.
 * Each e_ijk is thus computed once per (i, j, k) rather than once per l. */
#pragma OPENCL FP_CONTRACT OFF

/* exp(-L1 distance) of m[i, k, :] and m[j, k, :]. */
float mbd_similarity(__global const float *m, size_t i, size_t j, size_t k, ulong b, ulong c)
{
    __global const float *mi = m + (i * b + k) * c, *mj = m + (j * b + k) * c;
    float d = 0.0f;
    for (size_t l = 0; l < c; l++)
        d += fabs(mi[l] - mj[l]);
    return exp(-d);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
mbd_forward(__global const float *m, ulong mo, __global float *o, ulong oo, ulong n, ulong b, ulong c)
{
    m += mo;
    const size_t q = get_global_id(0);
    if (q >= n * b)
        return;
    const size_t k = q / n, i = q - k * n;
    float2 acc = (float2)(0.0f, 0.0f);
    for (size_t j = 0; j < n; j++)
        acc = fsum_add(acc, mbd_similarity(m, i, j, k, b, c));
    o[oo + i * b + k] = fsum_value(acc);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
mbd_weights(__global const float *m, ulong mo, __global const float *dout, ulong doo, __global float *w, ulong n,
            ulong b, ulong c, ulong i0, ulong ni)
{
    m += mo;
    dout += doo;
    const size_t q = get_global_id(0); /* (k ni + (i - i0)) n + j */
    if (q >= b * ni * n)
        return;
    const size_t row = q / n, j = q - row * n, k = row / ni, i = i0 + (row - k * ni);
    w[q] = (dout[i * b + k] + dout[j * b + k]) * mbd_similarity(m, i, j, k, b, c);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
mbd_backward(__global const float *m, ulong mo, __global const float *w, __global float *dm, ulong dmo, ulong n,
             ulong b, ulong c, ulong i0, ulong ni)
{
    m += mo;
    dm += dmo;
    const size_t q = get_global_id(0); /* ((i - i0) b + k) c + l */
    if (q >= ni * b * c)
        return;
    const size_t l = q % c, ik = q / c, k = ik % b, il = ik / b, i = i0 + il;
    __global const float *wr = w + (k * ni + il) * n;
    const float v = m[(i * b + k) * c + l];
    float2 acc = (float2)(0.0f, 0.0f);
    for (size_t j = 0; j < n; j++) {
        const float diff = v - m[(j * b + k) * c + l];
        if (diff != 0.0f) /* NaN passes and makes the sum NaN, as in the reference */
            acc = fsum_add(acc, diff > 0.0f ? -wr[j] : wr[j]);
    }
    dm[(i * b + k) * c + l] = fsum_value(acc);
}
