/* gantry opencl kernels: bias_add and bias_grad over [outer, channels, inner].
 *
 * bias_add: one element per work-item, dimension 0 the channels * inner
 * columns of a row (coalesced), dimension 1 the outer rows.
 * bias_grad: one BN_LX x BN_LY work-group per BN_LX channels; the BN_LY
 * work-items of a channel take every BN_LY-th row (for inner == 1 adjacent
 * work-items read adjacent floats), with compensated sums, then a tree in
 * local memory.  dbias = sum (+ beta * dbias when beta != 0, folded into the
 * same compensated sum and rounded once). */
#pragma OPENCL FP_CONTRACT OFF

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
