/* gantry cpu backend: bias, activations, batch normalisation and the
 * binary cross-entropy loss.
 *
 * Per-channel ops run channels in parallel.  For [N, C] tensors (inner ==
 * 1, every linear layer) a thread takes a block of CH_BLOCK adjacent
 * channels and walks the rows, so each row is read as one contiguous run
 * and the per-channel double accumulators sit side by side in vector
 * registers; every channel still sums its values in the reference's order
 * (ascending row), so bias gradients and batch-norm statistics give the
 * reference's bits.  For [N, C, H, W] a thread takes whole channels and
 * sums each image's run in the lanes of ../lane_sums.h, as the reference.
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
#include <math.h>

#include "../lane_sums.h"
#include "../tanh_double.h"
#include "cpu_impl.h"

#define CH_BLOCK 32

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* ---- bias ------------------------------------------------------------------- */

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
        size_t blocks = (channels + CH_BLOCK - 1) / CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            size_t c0 = blk * CH_BLOCK, cb = min_size(CH_BLOCK, channels - c0);
            double acc[CH_BLOCK] = { 0.0 };
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

static double sigmoid(double x)
{
    /* Both branches avoid exp() of a large positive argument. */
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

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
            yp[i] = (float)sigmoid((double)xp[i]);
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

/* ---- batch normalisation ------------------------------------------------ */

gantry_status cpu_batchnorm_forward_train(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                          gantry_mem running_mean, gantry_mem running_var, gantry_mem save_mean,
                                          gantry_mem save_invstd, size_t outer, size_t channels, size_t inner,
                                          float momentum, float eps)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    float *yp = cpu_f(y), *rm = cpu_f(running_mean), *rv = cpu_f(running_var);
    float *sm = cpu_f(save_mean), *si = cpu_f(save_invstd);
    const double count = (double)(outer * inner), mom = momentum;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        size_t blocks = (channels + CH_BLOCK - 1) / CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            size_t c0 = blk * CH_BLOCK, cb = min_size(CH_BLOCK, channels - c0);
            double sum[CH_BLOCK] = { 0.0 }, sq[CH_BLOCK] = { 0.0 }, mean[CH_BLOCK], invstd[CH_BLOCK];
            double g[CH_BLOCK], b[CH_BLOCK];
            for (size_t o = 0; o < outer; o++) {
                const float *row = xp + o * channels + c0;
                for (size_t j = 0; j < cb; j++)
                    sum[j] += row[j];
            }
            for (size_t j = 0; j < cb; j++)
                mean[j] = sum[j] / count;
            for (size_t o = 0; o < outer; o++) {
                const float *row = xp + o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    double d = row[j] - mean[j];
                    sq[j] += d * d;
                }
            }
            for (size_t j = 0; j < cb; j++) {
                const double var = sq[j] / count;
                const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
                invstd[j] = 1.0 / sqrt(var + (double)eps);
                g[j] = gp[c0 + j];
                b[j] = bp[c0 + j];
                sm[c0 + j] = (float)mean[j];
                si[c0 + j] = (float)invstd[j];
                rm[c0 + j] = (float)((1.0 - mom) * rm[c0 + j] + mom * mean[j]);
                rv[c0 + j] = (float)((1.0 - mom) * rv[c0 + j] + mom * unbiased);
            }
            for (size_t o = 0; o < outer; o++) {
                const float *row = xp + o * channels + c0;
                float *out = yp + o * channels + c0;
                for (size_t j = 0; j < cb; j++)
                    out[j] = (float)(g[j] * ((row[j] - mean[j]) * invstd[j]) + b[j]);
            }
        }
        return GANTRY_OK;
    }
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        /* Two passes, as the reference: the mean, then the biased variance. */
        double sum = 0.0, sq = 0.0;
        for (size_t o = 0; o < outer; o++)
            sum += gantry_run_sum(xp + (o * channels + ch) * inner, inner);
        const double mean = sum / count;
        for (size_t o = 0; o < outer; o++)
            sq += gantry_run_sum_sqdev(xp + (o * channels + ch) * inner, inner, mean);
        const double var = sq / count;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        const double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        const double g = gp[ch], b = bp[ch];
        for (size_t o = 0; o < outer; o++) {
            const float *run = xp + (o * channels + ch) * inner;
            float *out = yp + (o * channels + ch) * inner;
            for (size_t i = 0; i < inner; i++)
                out[i] = (float)(g * ((run[i] - mean) * invstd) + b);
        }
        sm[ch] = (float)mean;
        si[ch] = (float)invstd;
        rm[ch] = (float)((1.0 - mom) * rm[ch] + mom * mean);
        rv[ch] = (float)((1.0 - mom) * rv[ch] + mom * unbiased);
    }
    return GANTRY_OK;
}

gantry_status cpu_batchnorm_forward_eval(void *ctx, gantry_mem x, gantry_mem y, gantry_mem gamma, gantry_mem beta,
                                         gantry_mem running_mean, gantry_mem running_var, size_t outer,
                                         size_t channels, size_t inner, float eps)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *gp = cpu_cf(gamma), *bp = cpu_cf(beta);
    const float *rm = cpu_cf(running_mean), *rv = cpu_cf(running_var);
    float *yp = cpu_f(y);
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    size_t planes = outer * channels;
    /* Every (row, channel) plane is independent: parallel over all of them. */
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t oc = 0; oc < planes; oc++) {
        size_t ch = oc % channels;
        const double mean = rm[ch];
        const double invstd = 1.0 / sqrt((double)rv[ch] + (double)eps);
        const double g = gp[ch], b = bp[ch];
        const float *run = xp + oc * inner;
        float *out = yp + oc * inner;
        for (size_t i = 0; i < inner; i++)
            out[i] = (float)(g * ((run[i] - mean) * invstd) + b);
    }
    return GANTRY_OK;
}

gantry_status cpu_batchnorm_backward(void *ctx, gantry_mem x, gantry_mem dy, gantry_mem gamma, gantry_mem save_mean,
                                     gantry_mem save_invstd, gantry_mem dx, gantry_mem dgamma, gantry_mem dbeta,
                                     size_t outer, size_t channels, size_t inner, float grad_beta)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x), *dyp = cpu_cf(dy), *gp = cpu_cf(gamma);
    const float *sm = cpu_cf(save_mean), *si = cpu_cf(save_invstd);
    float *dxp = cpu_f(dx), *dgp = cpu_f(dgamma), *dbp = cpu_f(dbeta);
    const double count = (double)(outer * inner), gb = grad_beta;
    int t = cpu_threads_for(c, outer * channels * inner, CPU_GRAIN / 4);
    if (inner == 1) {
        size_t blocks = (channels + CH_BLOCK - 1) / CH_BLOCK;
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t blk = 0; blk < blocks; blk++) {
            size_t c0 = blk * CH_BLOCK, cb = min_size(CH_BLOCK, channels - c0);
            double mean[CH_BLOCK], invstd[CH_BLOCK], k[CH_BLOCK];
            double sdy[CH_BLOCK] = { 0.0 }, sdyx[CH_BLOCK] = { 0.0 };
            for (size_t j = 0; j < cb; j++) {
                mean[j] = sm[c0 + j];
                invstd[j] = si[c0 + j];
            }
            for (size_t o = 0; o < outer; o++) {
                const float *xr = xp + o * channels + c0, *dyr = dyp + o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    double xhat = (xr[j] - mean[j]) * invstd[j];
                    sdy[j] += dyr[j];
                    sdyx[j] += dyr[j] * xhat;
                }
            }
            /* dx = gamma * invstd / m * (m * dy - sum(dy) - xhat * sum(dy * xhat)) */
            for (size_t j = 0; j < cb; j++)
                k[j] = (double)gp[c0 + j] * invstd[j] / count;
            for (size_t o = 0; o < outer; o++) {
                const float *xr = xp + o * channels + c0, *dyr = dyp + o * channels + c0;
                float *dxr = dxp + o * channels + c0;
                for (size_t j = 0; j < cb; j++) {
                    double xhat = (xr[j] - mean[j]) * invstd[j];
                    dxr[j] = (float)(k[j] * (count * dyr[j] - sdy[j] - xhat * sdyx[j]));
                }
            }
            for (size_t j = 0; j < cb; j++) {
                double dg = sdyx[j], db = sdy[j];
                if (grad_beta != 0.0f) { /* grad_beta == 0: the old gradients are not read */
                    dg += gb * (double)dgp[c0 + j];
                    db += gb * (double)dbp[c0 + j];
                }
                dgp[c0 + j] = (float)dg;
                dbp[c0 + j] = (float)db;
            }
        }
        return GANTRY_OK;
    }
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t ch = 0; ch < channels; ch++) {
        const double mean = sm[ch], invstd = si[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (size_t o = 0; o < outer; o++) {
            size_t at = (o * channels + ch) * inner;
            gantry_run_sum_bn_grad(xp + at, dyp + at, inner, mean, invstd, &sdy, &sdyx);
        }
        const double k = (double)gp[ch] * invstd / count;
        for (size_t o = 0; o < outer; o++) {
            size_t at = (o * channels + ch) * inner;
            for (size_t i = 0; i < inner; i++) {
                double xhat = (xp[at + i] - mean) * invstd;
                dxp[at + i] = (float)(k * (count * dyp[at + i] - sdy - xhat * sdyx));
            }
        }
        double dg = sdyx, db = sdy;
        if (grad_beta != 0.0f) {
            dg += gb * (double)dgp[ch];
            db += gb * (double)dbp[ch];
        }
        dgp[ch] = (float)dg;
        dbp[ch] = (float)db;
    }
    return GANTRY_OK;
}

/* ---- losses ------------------------------------------------------------- */

static double bce_run(const float *x, size_t n, double t)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        acc += (v > 0.0 ? v : 0.0) - v * t + log1p(exp(-fabs(v)));
    }
    return acc;
}

gantry_status cpu_bce_logits_forward(void *ctx, gantry_mem x, size_t n, float target, gantry_mem out)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    const double tg = target;
    size_t chunks = cpu_reduce_chunks(n, CPU_GRAIN / 16);
    double acc = 0.0;
    if (chunks == 1) {
        acc = bce_run(xp, n, tg); /* the reference's order exactly */
    } else {
        double part[CPU_MAX_REDUCE_CHUNKS];
        int t = cpu_threads_for(c, chunks, 1);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t ch = 0; ch < chunks; ch++) {
            size_t lo = n / chunks * ch, hi = ch + 1 == chunks ? n : n / chunks * (ch + 1);
            part[ch] = bce_run(xp + lo, hi - lo, tg);
        }
        for (size_t ch = 0; ch < chunks; ch++)
            acc += part[ch];
    }
    cpu_f(out)[0] = (float)(n ? acc / (double)n : 0.0);
    return GANTRY_OK;
}

gantry_status cpu_bce_logits_backward(void *ctx, gantry_mem x, size_t n, float target, float scale, gantry_mem dx)
{
    const cpu_ctx *c = ctx;
    const float *xp = cpu_cf(x);
    float *dxp = cpu_f(dx);
    const double tg = target, k = (double)scale / (double)n;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 16);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        dxp[i] = (float)(k * (sigmoid(xp[i]) - tg));
    return GANTRY_OK;
}
