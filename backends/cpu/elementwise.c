/* gantry cpu backend: fill, bias, activations, element-wise arithmetic,
 * clamp and the whole-tensor reductions.
 *
 * Each loop is an OpenMP `parallel for simd` over the elements, on one
 * thread below CPU_GRAIN elements.  Every lane reads its inputs before
 * writing its output, so the in-place forms the ABI allows (y == a, ...)
 * stay correct when vectorised.  The float ops (add, mul, scale) and axpy
 * (double, as the reference) give the reference's bits; clamp keeps its
 * comparisons so NaN passes through; sums add double partial sums over
 * fixed chunks (eight interleaved double accumulators within a chunk), which
 * rounds to the reference's float result except in the rarest ties, and to
 * the same result on any number of threads.  Bias gradients sum per
 * channel as cpu_impl.h's CPU_CH_BLOCK describes: the reference's bits.
 *
 * Non-trivial arithmetic is double and rounded once, as in the reference:
 * sigmoid calls the double libm functions, which the reference's results
 * depend on; tanh is ../tanh_double.h's, which both share and which
 * vectorises (AVX2 where the CPU has it).  NaN behaviour follows the
 * reference's expressions: relu(NaN) = 0 (the comparison is false),
 * leaky_relu(NaN) = NaN.
 *
 * Test-only fault (GANTRY_CPU_FAULT, the faulty/ build): bias_grad scales
 * dbias[0] by 1.001, a relative error of 1e-3 that a comparison against the
 * reference backend must catch. */
#include "../lane_sums.h"
#include "../sigmoid_double.h"
#include "../tanh_double.h"
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

/* ---- bias --------------------------------------------------------------- */

gantry_status cpu_bias_add(void *ctx, gantry_mem x, gantry_mem bias, size_t outer, size_t channels, size_t inner)
{
    const cpu_ctx *c = ctx;
    float *xp = cpu_f(x);
    const float *bp = cpu_cf(bias);
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN);
    if (inner == 1) {
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t o = 0; o < outer; o++) {
            float *row = xp + o * channels;
#pragma omp simd
            for (size_t ch = 0; ch < channels; ch++)
                row[ch] += bp[ch];
        }
    } else {
        size_t planes = outer * channels;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t oc = 0; oc < planes; oc++) {
            float *run = xp + oc * inner;
            const float b = bp[oc % channels];
#pragma omp simd
            for (size_t i = 0; i < inner; i++)
                run[i] += b;
        }
    }
    return GANTRY_OK;
}

gantry_status cpu_bias_grad(void *ctx, gantry_mem dy, gantry_mem dbias, size_t outer, size_t channels, size_t inner,
                            float beta)
{
    const cpu_ctx *c = ctx;
    const float *dyp = cpu_cf(dy);
    float *dbp = cpu_f(dbias);
    const double bt = beta;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN);
    if (inner == 1) {
        size_t blocks = (channels + CPU_CH_BLOCK - 1) / CPU_CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            size_t c0 = blk * CPU_CH_BLOCK, cb = cpu_min_size(CPU_CH_BLOCK, channels - c0);
            double acc[CPU_CH_BLOCK] = { 0.0 };
            for (size_t o = 0; o < outer; o++) {
                const float *row = dyp + o * channels + c0;
                for (size_t j = 0; j < cb; j++)
                    acc[j] += row[j];
            }
            for (size_t j = 0; j < cb; j++) {
                double r = acc[j];
                if (beta != 0.0f) /* beta == 0: dbias is not read */
                    r += bt * (double)dbp[c0 + j];
                dbp[c0 + j] = (float)r;
            }
        }
    } else {
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t ch = 0; ch < channels; ch++) {
            double acc = 0.0;
            for (size_t o = 0; o < outer; o++)
                acc += gantry_run_sum(dyp + (o * channels + ch) * inner, inner);
            if (beta != 0.0f)
                acc += bt * (double)dbp[ch];
            dbp[ch] = (float)acc;
        }
    }
#ifdef GANTRY_CPU_FAULT
    dbp[0] = dbp[0] * 1.001f; /* the injected fault: see the top of this file */
#endif
    return GANTRY_OK;
}

/* ---- activations -------------------------------------------------------- */

static void tanh_base(const float *xp, float *yp, size_t n, int t)
{
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        yp[i] = (float)gantry_tanh_double((double)xp[i]);
}

#if CPU_X86
CPU_AVX2 static void tanh_avx2(const float *xp, float *yp, size_t n, int t)
{
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        yp[i] = (float)gantry_tanh_double((double)xp[i]);
}
#endif

gantry_status cpu_activation_forward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                     size_t n)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
    switch (act) {
    case GANTRY_ACT_IDENTITY:
        if (xp != yp) {
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
            for (size_t i = 0; i < n; i++)
                yp[i] = xp[i];
        }
        return GANTRY_OK;
    case GANTRY_ACT_RELU:
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float v = xp[i];
            yp[i] = v > 0.0f ? v : 0.0f;
        }
        return GANTRY_OK;
    case GANTRY_ACT_LEAKY_RELU:
        /* param * x in float is the reference's double product rounded
         * once.  Both sides are computed and one selected: a conditional
         * multiply would not vectorise (GCC keeps FP traps where they were). */
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float v = xp[i], neg = param * v;
            yp[i] = v > 0.0f ? v : neg;
        }
        return GANTRY_OK;
    case GANTRY_ACT_TANH:
        t = cpu_threads_for(c, n, CPU_GRAIN / 4);
#if CPU_X86
        if (c->avx2) {
            tanh_avx2(xp, yp, n, t);
            return GANTRY_OK;
        }
#endif
        tanh_base(xp, yp, n, t);
        return GANTRY_OK;
    case GANTRY_ACT_SIGMOID:
        t = cpu_threads_for(c, n, CPU_GRAIN / 16);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++)
            yp[i] = (float)gantry_sigmoid_double((double)xp[i]);
        return GANTRY_OK;
    }
    return cpu_error(c, GANTRY_UNSUPPORTED, CPU_NAME ": activation_forward: unknown activation %d", (int)act);
}

gantry_status cpu_activation_backward(void *ctx, gantry_activation act, float param, gantry_mem x, gantry_mem y,
                                      gantry_mem dy, gantry_mem dx, size_t n)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *yp = cpu_cf(y), *dyp = cpu_cf(dy);
    float *dxp = cpu_f(dx);
    int t = cpu_threads_for(c, n, CPU_GRAIN);
    switch (act) {
    case GANTRY_ACT_IDENTITY:
        if (dxp != dyp) {
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
            for (size_t i = 0; i < n; i++)
                dxp[i] = dyp[i];
        }
        return GANTRY_OK;
    case GANTRY_ACT_RELU:
        /* 0 * dy, not 0: keeps the reference's -0 and NaN for dy < 0, Inf. */
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float g = dyp[i], zero = 0.0f * g;
            dxp[i] = xp[i] > 0.0f ? g : zero;
        }
        return GANTRY_OK;
    case GANTRY_ACT_LEAKY_RELU:
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float g = dyp[i], neg = param * g;
            dxp[i] = xp[i] > 0.0f ? g : neg;
        }
        return GANTRY_OK;
    case GANTRY_ACT_TANH:
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            double yv = yp[i];
            dxp[i] = (float)((1.0 - yv * yv) * (double)dyp[i]);
        }
        return GANTRY_OK;
    case GANTRY_ACT_SIGMOID:
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            double yv = yp[i];
            dxp[i] = (float)(yv * (1.0 - yv) * (double)dyp[i]);
        }
        return GANTRY_OK;
    }
    return cpu_error(c, GANTRY_UNSUPPORTED, CPU_NAME ": activation_backward: unknown activation %d", (int)act);
}

/* ---- arithmetic --------------------------------------------------------- */

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
static size_t reduce_chunks(size_t n, size_t grain)
{
    size_t chunks = n / grain;
    if (chunks < 1)
        chunks = 1;
    return chunks < CPU_MAX_REDUCE_CHUNKS ? chunks : CPU_MAX_REDUCE_CHUNKS;
}

double cpu_chunked_sum(const cpu_ctx *c, size_t n, size_t grain, cpu_range_sum_fn sum, const void *arg)
{
    size_t chunks = reduce_chunks(n, grain);
    if (chunks == 1)
        return sum(arg, 0, n);
    double part[CPU_MAX_REDUCE_CHUNKS];
    int t = cpu_threads_for(c, chunks, 1);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < chunks; ch++) {
        size_t lo = n / chunks * ch, hi = ch + 1 == chunks ? n : n / chunks * (ch + 1);
        part[ch] = sum(arg, lo, hi);
    }
    double s = 0.0;
    for (size_t ch = 0; ch < chunks; ch++)
        s += part[ch];
    return s;
}

static double sum_range(const void *x, size_t lo, size_t hi)
{
    return sum_serial((const float *)x + lo, hi - lo);
}

gantry_status cpu_sum(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    double s = cpu_chunked_sum(ctx, n, CPU_GRAIN, sum_range, cpu_cf(x));
    cpu_f(out)[0] = (float)s;
    return GANTRY_OK;
}

gantry_status cpu_mean(void *ctx, gantry_mem x, gantry_mem out, size_t n)
{
    double s = cpu_chunked_sum(ctx, n, CPU_GRAIN, sum_range, cpu_cf(x));
    cpu_f(out)[0] = (float)(n ? s / (double)n : 0.0);
    return GANTRY_OK;
}
