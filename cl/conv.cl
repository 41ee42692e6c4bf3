/* gantry opencl kernels: convolution unfolding and data movement.
 *
 * im2col: one work-item per element of col [c kh kw, n oh ow]; dimension 0
 * the columns of one row (coalesced writes; coalesced reads for stride 1),
 * dimension 1 the rows.  col2im: the adjoint as a gather, one work-item per
 * image element, which adds the (at most ceil(kh/sh) ceil(kw/sw)) col
 * entries im2col copied from it in the reference's (ki, kj) order as a
 * compensated sum (no atomics; a few terms round as the reference's double
 * sum does).  swap_axes: one work-item per element of y, dimension 0 the
 * a * inner floats of one output row.  copy_rows: one work-item per copied
 * element, dimension 0 the columns.  The layout is that of bias_add: rows
 * along dimension 1, so no division on the row index; the host launches at
 * most 65535 rows at a time (some GPUs' limit on a grid dimension other
 * than the first), from row r0. */
#pragma OPENCL FP_CONTRACT OFF

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
im2col(__global const float *x, ulong xo, __global float *col, ulong co, ulong c, ulong h, ulong w, ulong kh, ulong kw,
       ulong sh, ulong sw, ulong ph, ulong pw, ulong oh, ulong ow, ulong cols, ulong r0)
{
    x += xo;
    col += co;
    const size_t j = get_global_id(0), r = r0 + get_global_id(1);
    if (j >= cols)
        return;
    const size_t kj = r % kw, rk = r / kw, ki = rk % kh, ci = rk / kh;
    const size_t plane = oh * ow, b = j / plane, p = j - b * plane, oy = p / ow, ox = p - oy * ow;
    /* Unsigned: a position in the padding wraps to a huge value. */
    const size_t iy = oy * sh + ki - ph, ix = ox * sw + kj - pw;
    float v = 0.0f;
    if (iy < h && ix < w)
        v = x[((b * c + ci) * h + iy) * w + ix];
    col[r * cols + j] = v;
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
col2im(__global const float *col, ulong co, __global float *x, ulong xo, ulong total, ulong c, ulong h, ulong w,
       ulong kh, ulong kw, ulong sh, ulong sw, ulong ph, ulong pw, ulong oh, ulong ow, ulong cols, float beta)
{
    col += co;
    x += xo;
    const size_t i = get_global_id(0);
    if (i >= total)
        return;
    const size_t ix = i % w, t1 = i / w, iy = t1 % h, t2 = t1 / h, ci = t2 % c, b = t2 / c;
    /* Taps ki with ty - ki = oy * sh for 0 <= oy < oh: ki = ty mod sh, then
     * every sh-th, from the smallest with oy < oh up to min(kh - 1, ty). */
    const size_t ty = iy + ph, tx = ix + pw;
    const size_t ky_hi = min(kh - 1, ty), kx_hi = min(kw - 1, tx);
    size_t ky_lo = ty >= (oh - 1) * sh ? ty - (oh - 1) * sh : 0;
    size_t kx_lo = tx >= (ow - 1) * sw ? tx - (ow - 1) * sw : 0;
    ky_lo += (ty - ky_lo) % sh; /* ty - ky_lo becomes a multiple of sh */
    kx_lo += (tx - kx_lo) % sw;
    float2 acc = (float2)(0.0f, 0.0f);
    if (beta != 0.0f) /* beta == 0: x is not read (it may hold NaN) */
        acc.x = x[i];
    const size_t cbase = b * oh * ow;
    for (size_t ki = ky_lo; ki <= ky_hi; ki += sh) {
        const size_t oy = (ty - ki) / sh;
        const size_t rbase = (ci * kh + ki) * kw;
        for (size_t kj = kx_lo; kj <= kx_hi; kj += sw) {
            const size_t ox = (tx - kj) / sw;
            acc = fsum_add(acc, col[(rbase + kj) * cols + cbase + oy * ow + ox]);
        }
    }
    x[i] = fsum_value(acc);
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
swap_axes(__global const float *x, ulong xo, __global float *y, ulong yo, ulong a, ulong b, ulong inner, ulong r0)
{
    x += xo;
    y += yo;
    const size_t q = get_global_id(0), j = r0 + get_global_id(1), width = a * inner;
    if (q >= width)
        return;
    size_t i = q, k = 0;
    if (inner != 1) {
        i = q / inner;
        k = q - i * inner;
    }
    y[j * width + q] = x[(i * b + j) * inner + k];
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
copy_rows(__global const float *x, ulong xo, ulong ldx, __global float *y, ulong yo, ulong ldy, ulong cols, ulong r0)
{
    const size_t i = get_global_id(0), r = r0 + get_global_id(1);
    if (i < cols)
        y[yo + r * ldy + i] = x[xo + r * ldx + i];
}
