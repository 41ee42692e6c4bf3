/* gantry opencl kernels: inverted dropout masks, mask[i] = u_i >= p ?
 * keep : 0 with u_i the uniform of element i that rand_uniform(seed,
 * offset) over [0, 1) draws (philox.cl: block offset + i / 4, word i % 4;
 * lo + (hi - lo) u is u itself for [0, 1), so the comparison sees the same
 * bits as gantry_philox_uniform) and keep = 1 / (1 - p) rounded once on the
 * host from double, as the reference.  One work-item per counter block. */
#pragma OPENCL FP_CONTRACT OFF

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
