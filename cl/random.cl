/* gantry opencl kernels: random numbers, in sections: Philox4x32-10 fills,
 * dropout masks drawn from the same stream. */
#pragma OPENCL FP_CONTRACT OFF

/* ---- Philox4x32-10 fills, the stream of
 * include/gantry/philox.h bit for bit.
 *
 *   key = { seed & 0xffffffff, seed >> 32 }, counter = { block, block >> 32, 0, 0 }
 *   uniform: element i uses block offset + i / 4, word i % 4,
 *            u = (word >> 8) * 2^-24, value = lo + (hi - lo) * u, in float
 *            without contraction: identical bits to gantry_philox_uniform.
 *   normal:  element i uses block offset + i / 2, words 2 (i % 2) and 2 (i % 2) + 1,
 *            u1 = ((w0 >> 8) + 1) * 2^-24, u2 = (w1 >> 8) * 2^-24,
 *            value = mean + std * sqrt(-2 log u1) * cos(2 pi u2).
 * The normal transform runs in float (OpenCL C without extensions has no
 * double): log, sqrt and cospi(2 u2) (exact argument, no rounding of 2 pi u2)
 * are within a few ulp, so values differ from the reference's double
 * evaluation by a few float ulp (relative ~1e-7, at most ~1e-6 near the
 * zeros of the cosine, absolute ~1e-7); the normalised squared error over a
 * fill is ~1e-14.  One work-item per counter block (no loops: see
 * elementwise.cl). */

uint4 philox4x32_10(ulong seed, ulong block)
{
    uint c0 = (uint)block, c1 = (uint)(block >> 32), c2 = 0u, c3 = 0u;
    uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint hi0 = mul_hi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        uint hi1 = mul_hi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        uint n0 = hi1 ^ c1 ^ k0;
        uint n2 = hi0 ^ c3 ^ k1;
        c1 = lo1;
        c3 = lo0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return (uint4)(c0, c1, c2, c3);
}

float philox_u01(uint word)
{
    return (float)(word >> 8) * (1.0f / 16777216.0f);
}

float philox_uniform(uint word, float lo, float hi)
{
    float u = philox_u01(word);
    float span = hi - lo;
    float scaled = span * u;
    return lo + scaled;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
rand_uniform(__global float *x, ulong xo, ulong n, ulong seed, ulong offset, float lo, float hi)
{
    x += xo;
    const size_t blocks = (n + 3) / 4, b = get_global_id(0);
    if (b < blocks) {
        uint4 w = philox4x32_10(seed, offset + b);
        const size_t i = b * 4;
        if (i + 4 <= n) {
            vstore4((float4)(philox_uniform(w.x, lo, hi), philox_uniform(w.y, lo, hi), philox_uniform(w.z, lo, hi),
                             philox_uniform(w.w, lo, hi)),
                    0, x + i);
        } else {
            x[i] = philox_uniform(w.x, lo, hi);
            if (i + 1 < n)
                x[i + 1] = philox_uniform(w.y, lo, hi);
            if (i + 2 < n)
                x[i + 2] = philox_uniform(w.z, lo, hi);
        }
    }
}

float philox_normal(uint w0, uint w1, float mean, float std)
{
    float u1 = (float)((w0 >> 8) + 1u) * (1.0f / 16777216.0f); /* (0, 1] */
    float u2 = (float)(w1 >> 8) * (1.0f / 16777216.0f);        /* [0, 1) */
    float z = sqrt(-2.0f * log(u1)) * cospi(2.0f * u2);
    return mean + std * z;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
rand_normal(__global float *x, ulong xo, ulong n, ulong seed, ulong offset, float mean, float std)
{
    x += xo;
    const size_t blocks = (n + 1) / 2, b = get_global_id(0);
    if (b < blocks) {
        uint4 w = philox4x32_10(seed, offset + b);
        const size_t i = b * 2;
        x[i] = philox_normal(w.x, w.y, mean, std);
        if (i + 1 < n)
            x[i + 1] = philox_normal(w.z, w.w, mean, std);
    }
}

/* ---- inverted dropout masks, mask[i] = u_i >= p ?
 * keep : 0 with u_i the uniform of element i that rand_uniform(seed,
 * offset) over [0, 1) draws (above: block offset + i / 4, word i % 4;
 * lo + (hi - lo) u is u itself for [0, 1), so the comparison sees the same
 * bits as gantry_philox_uniform) and keep = 1 / (1 - p) rounded once on the
 * host from double, as the reference.  One work-item per counter block. */

float dropout_keep(uint word, float p, float keep)
{
    return philox_u01(word) >= p ? keep : 0.0f;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
dropout_mask(__global float *mask, ulong mo, ulong n, float p, float keep, ulong seed, ulong offset)
{
    mask += mo;
    const size_t blocks = (n + 3) / 4, b = get_global_id(0);
    if (b >= blocks)
        return;
    const uint4 w = philox4x32_10(seed, offset + b);
    const size_t i = b * 4;
    if (i + 4 <= n) {
        vstore4((float4)(dropout_keep(w.x, p, keep), dropout_keep(w.y, p, keep), dropout_keep(w.z, p, keep),
                         dropout_keep(w.w, p, keep)),
                0, mask + i);
    } else {
        mask[i] = dropout_keep(w.x, p, keep);
        if (i + 1 < n)
            mask[i + 1] = dropout_keep(w.y, p, keep);
        if (i + 2 < n)
            mask[i + 2] = dropout_keep(w.z, p, keep);
    }
}
