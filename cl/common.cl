/* gantry opencl kernels: what every file shares.  OpenCL C 1.2, no
 * extensions.  The host prepends nothing but -D options:
 *   WG      1-D work-group size, a power of two (GPU 256, CPU 64)
 *   VW      vector width of the elementwise kernels: 1, 2, 4, 8 or 16
 *   BN_LX   channels per work-group of the per-channel kernels (bias_grad,
 *           batchnorm); BN_LY = WG / BN_LX rows of each channel in parallel
 * Every file states its FP_CONTRACT: off wherever a result must round like
 * the reference's formula (no silent fused multiply-adds). */
#pragma OPENCL FP_CONTRACT OFF

#ifndef WG
#define WG 64
#endif
#ifndef VW
#define VW 4
#endif
#ifndef BN_LX
#define BN_LX 8
#endif
#define BN_LY (WG / BN_LX)

#define GANTRY_CAT_(a, b) a##b
#define GANTRY_CAT(a, b) GANTRY_CAT_(a, b)

/* floatv: VW floats; VLOAD/VSTORE: the i-th vector of p (any float
 * alignment: views start at arbitrary offsets). */
#if VW == 1
#define floatv float
#define VLOAD(i, p) ((p)[i])
#define VSTORE(v, i, p) ((p)[i] = (v))
#else
#define floatv GANTRY_CAT(float, VW)
#define VLOAD(i, p) GANTRY_CAT(vload, VW)(i, p)
#define VSTORE(v, i, p) GANTRY_CAT(vstore, VW)(v, i, p)
#endif

/* ---- compensated sums -------------------------------------------------------
 * A running sum as a float2 (x: the float sum, y: the accumulated rounding
 * errors), updated with Knuth's TwoSum, which is exact in IEEE arithmetic
 * without reassociation (never build with -cl-fast-relaxed-math).  About
 * twice float precision, so sums of 10^6 terms stay close to the reference's
 * double accumulation whatever the order. */
float2 fsum_add(float2 acc, float v)
{
    float s = acc.x + v;
    float bp = s - acc.x;
    float err = (acc.x - (s - bp)) + (v - bp);
    return (float2)(s, acc.y + err);
}

float2 fsum_merge(float2 a, float2 b)
{
    float s = a.x + b.x;
    float bp = s - a.x;
    float err = (a.x - (s - bp)) + (b.x - bp);
    return (float2)(s, (a.y + b.y) + err);
}

/* The rounded total; a non-finite float sum (Inf, NaN) is the answer as is
 * (its error term is NaN). */
float fsum_value(float2 a)
{
    return isfinite(a.x) ? a.x + a.y : a.x;
}

/* ---- float-float arithmetic -------------------------------------------------
 * A value as an unevaluated sum hi + lo of two floats (float2: x = hi,
 * y = lo), ~48 significant bits, from error-free transformations (TwoSum,
 * and TwoProd through fma, which is exact).  For the few places where a
 * float formula cancels badly (the batch-norm gradient). */
float2 ff_two_sum(float a, float b)
{
    float s = a + b;
    float bp = s - a;
    return (float2)(s, (a - (s - bp)) + (b - bp));
}

float2 ff_two_prod(float a, float b)
{
    float p = a * b;
    return (float2)(p, fma(a, b, -p));
}

/* Renormalises (hi, lo) so that hi is the rounded value. */
float2 ff_norm(float2 a)
{
    float s = a.x + a.y;
    return (float2)(s, a.y - (s - a.x));
}

float2 ff_add(float2 a, float2 b)
{
    float2 s = ff_two_sum(a.x, b.x);
    return ff_norm((float2)(s.x, s.y + (a.y + b.y)));
}

float2 ff_mul(float2 a, float2 b)
{
    float2 p = ff_two_prod(a.x, b.x);
    return ff_norm((float2)(p.x, p.y + (a.x * b.y + a.y * b.x)));
}

float2 ff_mul_f(float2 a, float b)
{
    float2 p = ff_two_prod(a.x, b);
    return ff_norm((float2)(p.x, p.y + a.y * b));
}

float2 ff_div_f(float2 a, float b)
{
    float q = a.x / b;
    float r = fma(-q, b, a.x); /* exact remainder */
    return ff_norm((float2)(q, (r + a.y) / b));
}

/* Rounded to float; non-finite values as the float part says. */
float ff_value(float2 a)
{
    return isfinite(a.x) ? a.x + a.y : a.x;
}

/* Sum over a 1-D work-group of WG (tree in local memory); every work-item
 * gets the total.  `sh` holds WG float2. */
float2 group_sum(float2 v, __local float2 *sh)
{
    const size_t l = get_local_id(0);
    sh[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = WG / 2; s > 0; s >>= 1) {
        if (l < s)
            sh[l] = fsum_merge(sh[l], sh[l + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float2 r = sh[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* Sum over dimension 1 of a BN_LX x BN_LY work-group: each column (channel)
 * gets the total of its BN_LY work-items.  `sh` holds WG float2. */
float2 column_sum(float2 v, __local float2 *sh)
{
#if BN_LY == 1
    (void)sh; /* one work-item per channel: nothing to add */
    return v;
#else
    const size_t lx = get_local_id(0), ly = get_local_id(1);
    sh[ly * BN_LX + lx] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = BN_LY / 2; s > 0; s >>= 1) {
        if (ly < s)
            sh[ly * BN_LX + lx] = fsum_merge(sh[ly * BN_LX + lx], sh[(ly + s) * BN_LX + lx]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float2 r = sh[lx];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
#endif
}

/* Element r (0 <= r < outer * inner) of channel ch in an [outer, channels,
 * inner] tensor. */
size_t channel_at(size_t r, size_t ch, size_t channels, size_t inner)
{
    if (inner == 1)
        return r * channels + ch;
    size_t o = r / inner;
    return (o * channels + ch) * inner + (r - o * inner);
}

/* ---- float-float on vectors ----------------------------------------------
 * VW lanes of the compensated sums and float-float values above, lane-wise
 * the same formulas: for the CPU kernels that walk whole channels in one
 * work-item (norm.cl's *_rows kernels, elementwise.cl's bias_grad_rows). */

typedef struct ffv {
    floatv hi, lo;
} ffv;

ffv ffv_two_sum(floatv a, floatv b)
{
    ffv r;
    r.hi = a + b;
    floatv bp = r.hi - a;
    r.lo = (a - (r.hi - bp)) + (b - bp);
    return r;
}

ffv ffv_two_prod(floatv a, floatv b)
{
    ffv r;
    r.hi = a * b;
    r.lo = fma(a, b, -r.hi);
    return r;
}

ffv ffv_norm(ffv a)
{
    ffv r;
    r.hi = a.hi + a.lo;
    r.lo = a.lo - (r.hi - a.hi);
    return r;
}

ffv ffv_add(ffv a, ffv b)
{
    ffv s = ffv_two_sum(a.hi, b.hi);
    s.lo = s.lo + (a.lo + b.lo);
    return ffv_norm(s);
}

ffv ffv_neg(ffv a)
{
    a.hi = -a.hi;
    a.lo = -a.lo;
    return a;
}

ffv ffv_mul(ffv a, ffv b)
{
    ffv p = ffv_two_prod(a.hi, b.hi);
    p.lo = p.lo + (a.hi * b.lo + a.lo * b.hi);
    return ffv_norm(p);
}

ffv ffv_mul_f(ffv a, floatv b)
{
    ffv p = ffv_two_prod(a.hi, b);
    p.lo = p.lo + a.lo * b;
    return ffv_norm(p);
}

ffv ffv_div_f(ffv a, floatv b)
{
    ffv r;
    r.hi = a.hi / b;
    floatv rem = fma(-r.hi, b, a.hi); /* exact remainder */
    r.lo = (rem + a.lo) / b;
    return ffv_norm(r);
}

/* A compensated running sum (fsum_add, per lane). */
ffv ffv_acc(ffv acc, floatv v)
{
    floatv s = acc.hi + v;
    floatv bp = s - acc.hi;
    acc.lo = acc.lo + ((acc.hi - (s - bp)) + (v - bp));
    acc.hi = s;
    return acc;
}

floatv ffv_value(ffv a)
{
    return select(a.hi, a.hi + a.lo, isfinite(a.hi));
}

/* The lanes of a (and the scalar sum t) as one compensated sum. */
float2 ffv_total(ffv a, float2 t)
{
#if VW == 1
    return fsum_merge(t, (float2)(a.hi, a.lo));
#else
    float hi[VW], lo[VW];
    VSTORE(a.hi, 0, hi);
    VSTORE(a.lo, 0, lo);
    for (int l = 0; l < VW; l++)
        t = fsum_merge(t, (float2)(hi[l], lo[l]));
    return t;
#endif
}

/* Sum and sum of squared deviations from `mean` (pass 2) of one channel of
 * an [outer, channels, inner] tensor: x at its first element, `stride`
 * floats from one of its outer runs of inner contiguous floats to the next;
 * each run as vectors of VW (the last inner % VW one by one), lanes merged
 * at the end. */
float2 channel_sum(__global const float *x, size_t outer, size_t stride, size_t inner, int squares, float mean)
{
    const floatv zero = (floatv)(0.0f), mv = (floatv)(mean);
    ffv acc = { zero, zero };
    float2 t = (float2)(0.0f, 0.0f);
    const size_t vec_end = inner - inner % VW;
    for (size_t o = 0; o < outer; o++, x += stride) {
        for (size_t i = 0; i < vec_end; i += VW) {
            floatv v = VLOAD(0, x + i);
            if (squares) {
                v = v - mv;
                v = v * v;
            }
            acc = ffv_acc(acc, v);
        }
        for (size_t i = vec_end; i < inner; i++) {
            float v = x[i];
            if (squares) {
                v = v - mean;
                v = v * v;
            }
            t = fsum_add(t, v);
        }
    }
    return ffv_total(acc, t);
}

/* The tunables this program was compiled with, for the host to adopt when
 * it loads an offline binary (GANTRY_OPENCL_BINARY) built elsewhere. */
__kernel void gantry_config(__global uint *out)
{
    if (get_global_id(0) == 0) {
        out[0] = 1u; /* format of this record */
        out[1] = WG;
        out[2] = VW;
        out[3] = BN_LX;
    }
}
