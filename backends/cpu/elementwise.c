/* gantry cpu backend: fill, element-wise arithmetic, clamp and the
 * whole-tensor reductions.
 *
 * Each loop is an OpenMP `parallel for simd` over the elements, on one
 * thread below CPU_GRAIN elements.  Every lane reads its inputs before
 * writing its output, so the in-place forms the ABI allows (y == a, ...)
 * stay correct when vectorised.  The float ops (add, mul, scale) and axpy
 * (double, as the reference) give the reference's bits; clamp keeps its
 * comparisons so NaN passes through; sums add double partial sums over
 * fixed chunks (eight interleaved double accumulators within a chunk), which
 * rounds to the reference's float result except in the rarest ties, and to
 * the same result on any number of threads. */
#include "cpu_impl.h"

gantry_status cpu_fill(void *ctx, gantry_mem x, size_t n, float value)
{
    const cpu_ctx *c = ctx;
    float *xp = cpu_f(x);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        xp[i] = value;
    return GANTRY_OK;
}

gantry_status cpu_add(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    const cpu_ctx *c = ctx;
    const float *ap = cpu_cf(a), *bp = cpu_cf(b);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        yp[i] = ap[i] + bp[i];
    return GANTRY_OK;
}

gantry_status cpu_mul(void *ctx, gantry_mem a, gantry_mem b, gantry_mem y, size_t n)
{
    const cpu_ctx *c = ctx;
    const float *ap = cpu_cf(a), *bp = cpu_cf(b);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        yp[i] = ap[i] * bp[i];
    return GANTRY_OK;
}

gantry_status cpu_scale(void *ctx, gantry_mem x, gantry_mem y, float alpha, size_t n)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        yp[i] = alpha * xp[i];
    return GANTRY_OK;
}

gantry_status cpu_axpy(void *ctx, float alpha, gantry_mem x, gantry_mem y, size_t n)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *yp = cpu_f(y);
    const double a = alpha;
    int t = cpu_threads_for(c, n, CPU_GRAIN);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        yp[i] = (float)((double)yp[i] + a * (double)xp[i]);
    return GANTRY_OK;
}

gantry_status cpu_clamp(void *ctx, gantry_mem x, size_t n, float lo, float hi)
{
    const cpu_ctx *c = ctx;
    float *xp = cpu_f(x);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = xp[i];
        /* Comparisons, as the reference: NaN passes through unchanged. */
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        xp[i] = v;
    }
    return GANTRY_OK;
}

/* ---- reductions --------------------------------------------------------- */

static double sum_serial(const float *x, size_t n)
{
    double acc[8] = { 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 };
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            acc[j] += (double)x[i + j];
    double s = 0.0;
    for (; i < n; i++)
        s += (double)x[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s;
}

/* Up to CPU_MAX_REDUCE_CHUNKS chunks of at least `grain` elements each,
 * their bounds a function of n alone: partial sums combined in chunk order
 * give the same bits on any number of threads. */
size_t cpu_reduce_chunks(size_t n, size_t grain)
{
    size_t chunks = n / grain;
    if (chunks < 1)
        chunks = 1;
    return chunks < CPU_MAX_REDUCE_CHUNKS ? chunks : CPU_MAX_REDUCE_CHUNKS;
}

double cpu_sum_double(const cpu_ctx *c, const float *x, size_t n)
{
    size_t chunks = cpu_reduce_chunks(n, CPU_GRAIN);
    if (chunks == 1)
        return sum_serial(x, n);
    double part[CPU_MAX_REDUCE_CHUNKS];
    int t = cpu_threads_for(c, chunks, 1);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < chunks; ch++) {
        size_t lo = n / chunks * ch, hi = ch + 1 == chunks ? n : n / chunks * (ch + 1);
        part[ch] = sum_serial(x + lo, hi - lo);
    }
    double s = 0.0;
    for (size_t ch = 0; ch < chunks; ch++)
        s += part[ch];
    return s;
}

gantry_status cpu_sum(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    double s = cpu_sum_double(ctx, cpu_cf(x), n);
    cpu_f(out)[0] = (float)s;
    return GANTRY_OK;
}

gantry_status cpu_mean(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    double s = cpu_sum_double(ctx, cpu_cf(x), n);
    cpu_f(out)[0] = (float)(n ? s / (double)n : 0.0);
    return GANTRY_OK;
}
