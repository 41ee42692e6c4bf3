/* gantry opencl kernels: convolution unfolding and data movement.
 *
 * im2col: one work-item per column of col [c kh kw, n oh ow] and pair
 * (ci, ki), writing that column's kw rows kj; dimension 0 the columns
 * (coalesced writes; coalesced reads for stride 1), dimension 1 the pairs.
 * An element per work-item spent most of its time dividing j into (b, oy,
 * ox) in 64 bits: 2-4x slower on PoCL for DCGAN's [1024, 3136].
 * col2im: the adjoint as a gather: each image element adds the (at most
 * ceil(kh/sh) ceil(kw/sw)) col entries im2col copied from it in the
 * reference's (ki, kj) order as a compensated sum (no atomics; a few terms
 * round as the reference's double sum does).  1-D, one work-item per run
 * of `run` columns of an image row of `lanes` planes (the host's choice:
 * on CPUs a whole row of VW planes as vectors, on GPUs an element).
 * swap_axes: one work-item per element of y, dimension 0 the a * inner
 * floats of one output row.  copy_rows: one work-item per copied
 * element, dimension 0 the columns.  The layout is that of bias_add: rows
 * along dimension 1, so no division on the row index (ocl_launch cuts a
 * grid beyond a device's limits into slices; get_global_id includes their
 * offsets). */
#pragma OPENCL FP_CONTRACT OFF

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
im2col(__global const float *x, ulong xo, __global float *col, ulong co, ulong c, ulong h, ulong w, ulong kh, ulong kw,
       ulong sh, ulong sw, ulong ph, ulong pw, ulong oh, ulong ow, ulong cols)
{
    x += xo;
    col += co;
    /* Dimension 1 the pairs (ci, ki); each work-item writes column j of
     * their kw rows (kj = 0 .. kw - 1), so the division of j into (b, oy,
     * ox) serves kw elements, and each of those rows is still written
     * coalesced across the work-group. */
    const size_t j = get_global_id(0), rk = get_global_id(1);
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

/* The planes b0 .. b0 + VW - 1 (lane l: b0 + l, loads clamped to b < n,
 * stores only there) of col2im at one image position: the same taps at the
 * same offsets from each plane's columns, so the compensated sums run on
 * vectors with lane-wise the scalar code's arithmetic (bit-identical).
 * GATHER builds the vector from its lanes' floats p[o[l]] directly, not
 * through a private array and vload (a vector load of floats just stored
 * one by one cannot be store-forwarded on x86). */
#if VW > 1
#if VW == 2
#define GATHER(p, o) ((floatv)((p)[(o)[0]], (p)[(o)[1]]))
#elif VW == 4
#define GATHER(p, o) ((floatv)((p)[(o)[0]], (p)[(o)[1]], (p)[(o)[2]], (p)[(o)[3]]))
#elif VW == 8
#define GATHER(p, o) \
    ((floatv)((p)[(o)[0]], (p)[(o)[1]], (p)[(o)[2]], (p)[(o)[3]], \
              (p)[(o)[4]], (p)[(o)[5]], (p)[(o)[6]], (p)[(o)[7]]))
#else
#define GATHER(p, o) \
    ((floatv)((p)[(o)[0]], (p)[(o)[1]], (p)[(o)[2]], (p)[(o)[3]], \
              (p)[(o)[4]], (p)[(o)[5]], (p)[(o)[6]], (p)[(o)[7]], \
              (p)[(o)[8]], (p)[(o)[9]], (p)[(o)[10]], (p)[(o)[11]], \
              (p)[(o)[12]], (p)[(o)[13]], (p)[(o)[14]], (p)[(o)[15]]))
#endif

void col2im_lanes(__global const float *cplane, __global float *xp, size_t ki_lo, size_t ki_hi, size_t oy_hi,
                  size_t kx_lo, size_t kx_hi, size_t ox_hi, size_t sh, size_t sw, size_t kw, size_t ow, size_t cols,
                  size_t cstride, size_t xstride, uint nl, int accumulate)
{
    size_t co[VW], xoff[VW];
    for (uint l = 0; l < VW; l++) {
        co[l] = min(l, nl - 1) * cstride;
        xoff[l] = min(l, nl - 1) * xstride;
    }
    floatv hi = (floatv)(0.0f), lo = (floatv)(0.0f);
    if (accumulate)
        hi = GATHER(xp, xoff);
    size_t oy = oy_hi;
    for (size_t ki = ki_lo; ki <= ki_hi; ki += sh, oy--) {
        size_t ox = ox_hi;
        for (size_t kj = kx_lo; kj <= kx_hi; kj += sw, ox--) {
            __global const float *cp = cplane + (ki * kw + kj) * cols + oy * ow + ox;
            const floatv v = GATHER(cp, co), s = hi + v, bp = s - hi;
            lo = lo + ((hi - (s - bp)) + (v - bp));
            hi = s;
        }
    }
    float r[VW];
    VSTORE(select(hi, hi + lo, isfinite(hi)), 0, r);
    for (uint l = 0; l < nl; l++)
        xp[l * xstride] = r[l];
}
#endif

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
col2im(__global const float *col, ulong co, __global float *x, ulong xo, ulong c, ulong h, ulong w, ulong kh, ulong kw,
       ulong sh, ulong sw, ulong ph, ulong pw, ulong oh, ulong ow, ulong cols, ulong n, float beta, ulong run,
       ulong lanes, ulong units)
{
    col += co;
    x += xo;
    /* Work-item u: columns [ix0, ix0 + run) of image row iy of `lanes`
     * planes (b0 .. b0 + lanes - 1, ci), runs = ceil(w / run) work-items
     * per row, in the order (ci, b0, iy, run).  Its divisions (in 32 bits
     * where every index fits) and the row's first vertical tap serve the
     * whole run, and along the run the first horizontal tap moves by
     * increments: no division per element, which is what an element per
     * work-item spent most of its time on on CPUs (64-bit divisions of tens
     * of cycles).  The host passes run = w and lanes = VW on CPU devices,
     * run = lanes = 1 on GPUs (an element per work-item, coalesced writes).
     * ci outermost: consecutive work-items read the same kh kw rows of col
     * (whose columns are (b, oy, ox)) front to back. */
    const size_t u = get_global_id(0);
    if (u >= units)
        return;
    const size_t runs = (w + run - 1) / run, nb = (n + lanes - 1) / lanes;
    size_t rr, t, ci;
    if (units <= UINT_MAX) { /* every dividend and divisor below is <= units */
        const uint r32 = runs == 1 ? (uint)u : (uint)u / (uint)runs, t32 = r32 / (uint)h;
        rr = r32;
        t = t32;
        ci = t32 / (uint)nb;
    } else {
        rr = runs == 1 ? u : u / runs;
        t = rr / h;
        ci = t / nb;
    }
    const size_t k = u - rr * runs, iy = rr - t * h, b = (t - ci * nb) * lanes, row = (b * c + ci) * h + iy;
    /* Taps ki with ty - ki = oy * sh for 0 <= oy < oh, in ascending ki (the
     * reference's order): from oy = min(oh - 1, ty / sh) down, while
     * ki <= min(kh - 1, ty); the same for the whole row. */
    const size_t ty = iy + ph, ky_hi = min(kh - 1, ty), oy_hi = min(oh - 1, ty / sh), ky_lo = ty - oy_hi * sh;
    __global const float *cplane = col + ci * kh * kw * cols + b * oh * ow;
    const size_t ix0 = k * run, ix1 = min(w, ix0 + run);
    /* tx = ix + pw = qx * sw + rx, kept up to date along the run */
    size_t tx = ix0 + pw, qx = tx / sw, rx = tx - qx * sw;
    for (size_t ix = ix0; ix < ix1; ix++, tx++) {
        const size_t i = row * w + ix, kx_hi = min(kw - 1, tx), ox_hi = min(ow - 1, qx), kx_lo = tx - ox_hi * sw;
#if VW > 1
        if (lanes > 1) {
            col2im_lanes(cplane, x + i, ky_lo, ky_hi, oy_hi, kx_lo, kx_hi, ox_hi, sh, sw, kw, ow, cols, oh * ow,
                         c * h * w, (uint)min(lanes, n - b), beta != 0.0f);
        } else
#endif
        {
            float2 acc = (float2)(0.0f, 0.0f);
            if (beta != 0.0f) /* beta == 0: x is not read (it may hold NaN) */
                acc.x = x[i];
            size_t oy = oy_hi;
            for (size_t ki = ky_lo; ki <= ky_hi; ki += sh, oy--) {
                __global const float *crow = cplane + ki * kw * cols + oy * ow;
                size_t ox = ox_hi;
                for (size_t kj = kx_lo; kj <= kx_hi; kj += sw, ox--)
                    acc = fsum_add(acc, crow[kj * cols + ox]);
            }
            x[i] = fsum_value(acc);
        }
        if (++rx == sw) {
            rx = 0;
            qx++;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
swap_axes(__global const float *x, ulong xo, __global float *y, ulong yo, ulong a, ulong b, ulong inner)
{
    x += xo;
    y += yo;
    const size_t q = get_global_id(0), j = get_global_id(1), width = a * inner;
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
copy_rows(__global const float *x, ulong xo, ulong ldx, __global float *y, ulong yo, ulong ldy, ulong cols)
{
    const size_t i = get_global_id(0), r = get_global_id(1);
    if (i < cols)
        y[yo + r * ldy + i] = x[xo + r * ldx + i];
}
