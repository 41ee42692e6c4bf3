/* gantry reference backend: the optimizer updates.  The gradient buffer is
 * never written: weight decay goes into a local g. */
#include <math.h>

#include "reference_impl.h"

gantry_status ref_sgd_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem v, size_t n, float lr,
                             float momentum, float weight_decay)
{
    (void)ctx;
    float *pp = ref_f(p);
    const float *gp = ref_cf(g);
    float *vp = momentum != 0.0f ? ref_f(v) : NULL;
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += (double)weight_decay * (double)pp[i];
        double step = gi;
        if (vp) {
            vp[i] = (float)((double)momentum * (double)vp[i] + gi);
            step = vp[i];
        }
        pp[i] = (float)((double)pp[i] - (double)lr * step);
    }
    return GANTRY_OK;
}

gantry_status ref_adam_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem m, gantry_mem v, size_t n,
                              float lr, float beta1, float beta2, float eps, float weight_decay,
                              uint64_t step)
{
    ref_ctx *c = ctx;
    if (step == 0)
        return ref_error(c->host, GANTRY_INVALID_ARGUMENT, REF_NAME ": adam_update: step must count from 1");
    float *pp = ref_f(p);
    const float *gp = ref_cf(g);
    float *mp = ref_f(m);
    float *vp = ref_f(v);
    const double b1 = beta1, b2 = beta2;
    const double bc1 = 1.0 - pow(b1, (double)step);
    const double bc2 = 1.0 - pow(b2, (double)step);
    const double step_size = (double)lr / bc1;
    const double sqrt_bc2 = sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += (double)weight_decay * (double)pp[i];
        mp[i] = (float)(b1 * (double)mp[i] + (1.0 - b1) * gi);
        vp[i] = (float)(b2 * (double)vp[i] + (1.0 - b2) * gi * gi);
        /* The stored (float) moments drive the step, as in PyTorch. */
        double denom = sqrt((double)vp[i]) / sqrt_bc2 + (double)eps;
        pp[i] = (float)((double)pp[i] - step_size * (double)mp[i] / denom);
    }
    return GANTRY_OK;
}

gantry_status ref_rmsprop_update(void *ctx, gantry_mem p, gantry_mem g, gantry_mem sq, size_t n, float lr,
                                 float alpha, float eps, float weight_decay)
{
    (void)ctx;
    float *pp = ref_f(p);
    const float *gp = ref_cf(g);
    float *sp = ref_f(sq);
    const double a = alpha;
    for (size_t i = 0; i < n; i++) {
        double gi = gp[i];
        if (weight_decay != 0.0f)
            gi += (double)weight_decay * (double)pp[i];
        sp[i] = (float)(a * (double)sp[i] + (1.0 - a) * gi * gi);
        pp[i] = (float)((double)pp[i] - (double)lr * gi / (sqrt((double)sp[i]) + (double)eps));
    }
    return GANTRY_OK;
}
