/* gantry opencl kernels: convolution unfolding and data movement.
 *
 * im2col: one work-item per column of col [c kh kw, n oh ow] and pair
 * (ci, ki), writing that column's kw rows kj; dimension 0 the columns
 * (coalesced writes; coalesced reads for stride 1), dimension 1 the pairs.
 * An element per work-item spent most of its time dividing j into (b, oy,
 * ox) in 64 bits: 2-4x slower on PoCL for DCGAN's [1024, 3136].
 * col2im: the adjoint as a gather, one work-item per image element
 * (dimension 0 the pixels of one plane, dimension 1 the planes (b, ci)),
 * which adds the (at most ceil(kh/sh) ceil(kw/sw)) col entries
 * im2col copied from it in the reference's (ki, kj) order as a compensated
 * sum (no atomics; a few terms round as the reference's double sum does).
 * swap_axes: one work-item per element of y, dimension 0 the a * inner
 * floats of one output row.  copy_rows: one work-item per copied
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
    /* Dimension 1 the pairs (ci, ki); each work-item writes column j of
     * their kw rows (kj = 0 .. kw - 1), so the division of j into (b, oy,
     * ox) serves kw elements, and each of those rows is still written
     * coalesced across the work-group. */
    const size_t j = get_global_id(0), rk = r0 + get_global_id(1);
    if (j >= cols)
        return;
    const size_t ki = rk % kh, ci = rk / kh;
    const size_t plane = oh * ow, b = j / plane, p = j - b * plane, oy = p / ow, ox = p - oy * ow;
    /* Unsigned: a position in the padding wraps to a huge value. */
    const size_t iy = oy * sh + ki - ph;
    const size_t xrow = ((b * c + ci) * h + iy) * w; /* read only if iy < h */
    __global float *cp = col + rk * kw * cols + j;
    size_t ix = ox * sw - pw;
    for (size_t kj = 0; kj < kw; kj++, ix++) {
        float v = 0.0f;
        if (iy < h && ix < w)
            v = x[xrow + ix];
        cp[kj * cols] = v;
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
col2im(__global const float *col, ulong co, __global float *x, ulong xo, ulong c, ulong h, ulong w, ulong kh, ulong kw,
       ulong sh, ulong sw, ulong ph, ulong pw, ulong oh, ulong ow, ulong cols, float beta, ulong r0)
{
    col += co;
    x += xo;
    /* Dimension 1 the image plane (b, ci): its divisions are the same for
     * the whole work-group.  Per element one division for (iy, ix) and one
     * per axis for the first tap, not 11 (a 64-bit division takes tens of
     * cycles on a CPU; 15% faster on PoCL, DCGAN's 64 x 64 x 14 x 14). */
    const size_t p = get_global_id(0), r = r0 + get_global_id(1), hw = h * w;
    if (p >= hw)
        return;
    const size_t ci = r % c, b = r / c, iy = p / w, ix = p - iy * w, i = r * hw + p;
    /* Taps ki with ty - ki = oy * sh for 0 <= oy < oh, in ascending ki (the
     * reference's order): from oy = min(oh - 1, ty / sh) down, while
     * ki <= min(kh - 1, ty). */
    const size_t ty = iy + ph, tx = ix + pw;
    const size_t ky_hi = min(kh - 1, ty), kx_hi = min(kw - 1, tx);
    const size_t oy_hi = min(oh - 1, ty / sh), ox_hi = min(ow - 1, tx / sw);
    float2 acc = (float2)(0.0f, 0.0f);
    if (beta != 0.0f) /* beta == 0: x is not read (it may hold NaN) */
        acc.x = x[i];
    const size_t cbase = b * oh * ow;
    size_t oy = oy_hi;
    for (size_t ki = ty - oy_hi * sh; ki <= ky_hi; ki += sh, oy--) {
        __global const float *crow = col + (ci * kh + ki) * kw * cols + cbase + oy * ow;
        size_t ox = ox_hi;
        for (size_t kj = tx - ox_hi * sw; kj <= kx_hi; kj += sw, ox--)
            acc = fsum_add(acc, crow[kj * cols + ox]);
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
