/* gantry opencl kernels: add, mul, scale, axpy, clamp.
 *
 * One vector of VW floats per work-item (vloadN/vstoreN: views may start at
 * any float offset); the n % VW tail elements go to the work-items after
 * the last vector.  No grid-stride loops: PoCL vectorises a kernel across
 * work-items only when each work-item's body is straight-line code (a loop
 * in it made these 10x slower), and GPUs do not mind.  Each
 * element reads its inputs before its output is written, so y may alias an
 * input.  One IEEE operation per element (axpy: two, no fused multiply-add)
 * as the reference rounds. */
#pragma OPENCL FP_CONTRACT OFF

#define EW_LOOP(BODY_V, BODY_S)                                                                         \
    const size_t nv = n / VW, v = get_global_id(0);                                                    \
    if (v < nv) {                                                                                       \
        BODY_V;                                                                                         \
    } else {                                                                                            \
        const size_t i = nv * VW + (v - nv);                                                            \
        if (i < n) {                                                                                    \
            BODY_S;                                                                                     \
        }                                                                                               \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_add(__global const float *a, ulong ao, __global const float *b, ulong bo, __global float *y, ulong yo, ulong n)
{
    a += ao;
    b += bo;
    y += yo;
    EW_LOOP(VSTORE(VLOAD(v, a) + VLOAD(v, b), v, y), y[i] = a[i] + b[i])
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_mul(__global const float *a, ulong ao, __global const float *b, ulong bo, __global float *y, ulong yo, ulong n)
{
    a += ao;
    b += bo;
    y += yo;
    EW_LOOP(VSTORE(VLOAD(v, a) * VLOAD(v, b), v, y), y[i] = a[i] * b[i])
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_scale(__global const float *x, ulong xo, __global float *y, ulong yo, float alpha, ulong n)
{
    x += xo;
    y += yo;
    EW_LOOP(VSTORE(alpha * VLOAD(v, x), v, y), y[i] = alpha * x[i])
}

/* y += alpha * x: a product and a sum, each rounded. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_axpy(float alpha, __global const float *x, ulong xo, __global float *y, ulong yo, ulong n)
{
    x += xo;
    y += yo;
    EW_LOOP(VSTORE(VLOAD(v, y) + alpha * VLOAD(v, x), v, y), y[i] = y[i] + alpha * x[i])
}

/* Comparisons, not fmin/fmax, so that NaN passes through unchanged. */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
ew_clamp(__global float *x, ulong xo, ulong n, float lo, float hi)
{
    x += xo;
    EW_LOOP(floatv t = VLOAD(v, x); t = t < lo ? (floatv)(lo) : t; t = t > hi ? (floatv)(hi) : t; VSTORE(t, v, x),
            float t = x[i]; t = t < lo ? lo : t; t = t > hi ? hi : t; x[i] = t)
}
