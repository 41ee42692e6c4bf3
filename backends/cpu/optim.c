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

/* The AVX-512 loops run with the AVX-512 GEMM kernels, so GANTRY_CPU_GEMM=avx2
 * forces the AVX2 loops too and a test can compare both. */
static int optim_avx512(const cpu_ctx *c)
{
    return c->kernels->isa == CPU_ISA_AVX512;
}

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

/* Adam's constants for one step, shared by both loops below. */
typedef struct adam_step {
    double b1, b2, wd, eps, step_size, inv_sqrt_bc2;
    int decay;
} adam_step;

/* The per-element update, inlined into a baseline loop, an AVX2 loop and an
 * AVX-512 loop: the double square root and division dominate, and the
 * baseline ISA (SSE2) does them two at a time where AVX does four and
 * AVX-512 eight (on Zen 4, whose other units split a 512-bit operation in
 * two, the divider and square root still run 512 bits at a time: 0.56 ->
 * 0.43 ms for 802,816 parameters).  Same operations in the same order in
 * all (no FMA: -std=c11 forbids contraction; every one of them is
 * correctly rounded), so all give the reference's bits. */
static inline __attribute__((always_inline)) void adam_elem(const adam_step *s, float *pp, const float *gp,
                                                            float *mp, float *vp, size_t i)
{
    double gi = gp[i];
    if (s->decay)
        gi += s->wd * (double)pp[i];
    float mi = (float)(s->b1 * (double)mp[i] + (1.0 - s->b1) * gi);
    float vi = (float)(s->b2 * (double)vp[i] + (1.0 - s->b2) * gi * gi);
    mp[i] = mi;
    vp[i] = vi;
    double denom = sqrt((double)vi) * s->inv_sqrt_bc2 + s->eps;
    pp[i] = (float)((double)pp[i] - s->step_size * (double)mi / denom);
}

#define ADAM_LOOP                                                                              \
    _Pragma("omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)") \
    for (size_t i = 0; i < n; i++)                                                             \
        adam_elem(s, pp, gp, mp, vp, i);

static void adam_base(const adam_step *s, float *pp, const float *gp, float *mp, float *vp, size_t n, int t)
{
    ADAM_LOOP
}

#if CPU_X86
CPU_AVX2 static void adam_avx2(const adam_step *s, float *pp, const float *gp, float *mp, float *vp, size_t n, int t)
{
    ADAM_LOOP
}

CPU_AVX512 static void adam_avx512(const adam_step *s, float *pp, const float *gp, float *mp, float *vp, size_t n,
                                   int t)
{
    ADAM_LOOP
}
#endif

gantry_status cpu_adam_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem m, gantry_mem v, size_t n, float lr,
                              float beta1, float beta2, float eps, float weight_decay, uint64_t step)
{
    const cpu_ctx *c = ctx;
    if (step == 0)
        return cpu_error(c, GANTRY_INVALID_ARGUMENT, CPU_NAME ": adam_update: step must count from 1");
    adam_step s = { .b1 = beta1, .b2 = beta2, .wd = weight_decay, .eps = eps, .decay = weight_decay != 0.0f };
    const double bc1 = 1.0 - pow(s.b1, (double)step);
    const double bc2 = 1.0 - pow(s.b2, (double)step);
    s.step_size = (double)lr / bc1;
    /* One division less than the reference's sqrt(v) / sqrt(bc2): the
     * double results differ in the last bit at most, far below the float
     * rounding of p (not one p differed in 1.2e7 test updates). */
    s.inv_sqrt_bc2 = 1.0 / sqrt(bc2);
    int t = cpu_threads_for(c, n, CPU_GRAIN / 4);
#if CPU_X86
    if (optim_avx512(c)) {
        adam_avx512(&s, cpu_f(p), cpu_cf(g), cpu_f(m), cpu_f(v), n, t);
        return GANTRY_OK;
    }
    if (c->avx2) {
        adam_avx2(&s, cpu_f(p), cpu_cf(g), cpu_f(m), cpu_f(v), n, t);
        return GANTRY_OK;
    }
#endif
    adam_base(&s, cpu_f(p), cpu_cf(g), cpu_f(m), cpu_f(v), n, t);
    return GANTRY_OK;
}

/* RMSProp's per-element update, three loops as Adam's. */
static inline __attribute__((always_inline)) void rmsprop_elem(double a, double lrd, double epsd, double wd,
                                                               int decay, float *pp, const float *gp, float *sp,
                                                               size_t i)
{
    double gi = gp[i];
    if (decay)
        gi += wd * (double)pp[i];
    float si = (float)(a * (double)sp[i] + (1.0 - a) * gi * gi);
    sp[i] = si;
    pp[i] = (float)((double)pp[i] - lrd * gi / (sqrt((double)si) + epsd));
}

#define RMSPROP_LOOP                                                                           \
    _Pragma("omp parallel for simd num_threads(t) if (parallel : t > 1) schedule(static)") \
    for (size_t i = 0; i < n; i++)                                                             \
        rmsprop_elem(a, lrd, epsd, wd, decay, pp, gp, sp, i);

static void rmsprop_base(double a, double lrd, double epsd, double wd, int decay, float *pp, const float *gp,
                         float *sp, size_t n, int t)
{
    RMSPROP_LOOP
}

#if CPU_X86
CPU_AVX2 static void rmsprop_avx2(double a, double lrd, double epsd, double wd, int decay, float *pp, const float *gp,
                                  float *sp, size_t n, int t)
{
    RMSPROP_LOOP
}

CPU_AVX512 static void rmsprop_avx512(double a, double lrd, double epsd, double wd, int decay, float *pp,
                                      const float *gp, float *sp, size_t n, int t)
{
    RMSPROP_LOOP
}
#endif

gantry_status cpu_rmsprop_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                 float alpha, float eps, float weight_decay)
{
    const cpu_ctx *c = ctx;
    const double a = alpha, lrd = lr, epsd = eps, wd = weight_decay;
    const int decay = weight_decay != 0.0f;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 4);
#if CPU_X86
    if (optim_avx512(c)) {
        rmsprop_avx512(a, lrd, epsd, wd, decay, cpu_f(p), cpu_cf(g), cpu_f(sq), n, t);
        return GANTRY_OK;
    }
    if (c->avx2) {
        rmsprop_avx2(a, lrd, epsd, wd, decay, cpu_f(p), cpu_cf(g), cpu_f(sq), n, t);
        return GANTRY_OK;
    }
#endif
    rmsprop_base(a, lrd, epsd, wd, decay, cpu_f(p), cpu_cf(g), cpu_f(sq), n, t);
    return GANTRY_OK;
}
