/* gantry cpu backend: the fused optimizer updates.
 *
 * One parallel, vectorised pass per parameter tensor reads p, g and the
 * moments once and writes p and the moments once.  The per-element
 * arithmetic is the reference's, in double with the same expressions and
 * the same rounding points (the stored float moments drive the step, as in
 * PyTorch), so the updates give the reference's bits.  The gradient buffer
 * is never written: weight decay goes into a local g. */
#include <math.h>

#include "cpu_impl.h"

gantry_status cpu_sgd_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem v, size_t n, float lr, float momentum,
                             float weight_decay)
{
    const cpu_ctx *c = ctx;
    float *pp = cpu_f(p);
    const float *gp = cpu_cf(g);
    const double lrd = lr, mom = momentum, wd = weight_decay;
    int t = cpu_threads_for(c, n, CPU_GRAIN);
    if (momentum == 0.0f) { /* v is not used (the core may pass p for it) */
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
        for (size_t i = 0; i < n; i++) {
            double gi = gp[i];
            if (weight_decay != 0.0f)
                gi += wd * (double)pp[i];
            pp[i] = (float)((double)pp[i] - lrd * gi);
        }
        return GANTRY_OK;
    }
    float *vp = cpu_f(v);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += wd * (double)pp[i];
        float vi = (float)(mom * (double)vp[i] + gi);
        vp[i] = vi;
        pp[i] = (float)((double)pp[i] - lrd * (double)vi);
    }
    return GANTRY_OK;
}

gantry_status cpu_adam_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem m, gantry_mem v, size_t n, float lr,
                              float beta1, float beta2, float eps, float weight_decay, uint64_t step)
{
    const cpu_ctx *c = ctx;
    if (step == 0)
        return cpu_error(c, GANTRY_INVALID_ARGUMENT, CPU_NAME ": adam_update: step must count from 1");
    float *pp = cpu_f(p), *mp = cpu_f(m), *vp = cpu_f(v);
    const float *gp = cpu_cf(g);
    const double b1 = beta1, b2 = beta2, wd = weight_decay, epsd = eps;
    const double bc1 = 1.0 - pow(b1, (double)step);
    const double bc2 = 1.0 - pow(b2, (double)step);
    const double step_size = (double)lr / bc1;
    /* One division less than the reference's sqrt(v) / sqrt(bc2): the
     * double results differ in the last bit at most, far below the float
     * rounding of p (not one p differed in 1.2e7 test updates). */
    const double inv_sqrt_bc2 = 1.0 / sqrt(bc2);
    int t = cpu_threads_for(c, n, CPU_GRAIN / 4);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += wd * (double)pp[i];
        float mi = (float)(b1 * (double)mp[i] + (1.0 - b1) * gi);
        float vi = (float)(b2 * (double)vp[i] + (1.0 - b2) * gi * gi);
        mp[i] = mi;
        vp[i] = vi;
        double denom = sqrt((double)vi) * inv_sqrt_bc2 + epsd;
        pp[i] = (float)((double)pp[i] - step_size * (double)mi / denom);
    }
    return GANTRY_OK;
}

gantry_status cpu_rmsprop_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                 float alpha, float eps, float weight_decay)
{
    const cpu_ctx *c = ctx;
    float *pp = cpu_f(p), *sp = cpu_f(sq);
    const float *gp = cpu_cf(g);
    const double a = alpha, lrd = lr, epsd = eps, wd = weight_decay;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 4);
#pragma omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += wd * (double)pp[i];
        float si = (float)(a * (double)sp[i] + (1.0 - a) * gi * gi);
        sp[i] = si;
        pp[i] = (float)((double)pp[i] - lrd * gi / (sqrt((double)si) + epsd));
    }
    return GANTRY_OK;
}
