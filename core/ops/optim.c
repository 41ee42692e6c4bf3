/* Checked ops of the optim family: SGD, Adam and RMSProp updates. */
#include "core/ops/ops_check.h"

static gantry_status check_lr(const char *op, float lr, float weight_decay)
{
    if (!(lr >= 0.0f) || !isfinite(lr))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: learning rate %g must be >= 0", op, (double)lr);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: weight decay %g must be >= 0", op, (double)weight_decay);
    return GANTRY_OK;
}

gantry_status gantry_op_sgd_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *v, float lr, float momentum,
                                   float weight_decay)
{
    static const char op[] = "sgd_update";
    GANTRY_TRY(check_lr(op, lr, weight_decay));
    GANTRY_TRY(check_range(op, "momentum", momentum, 0.0f, 1.0f));
    if (momentum != 0.0f) {
        CHECK_TENSORS(op, "p,g,v", p, g, v);
        GANTRY_TRY(same_numel(op, "p", p, "v", v));
    } else {
        CHECK_TENSORS(op, "p,g", p, g);
        if (v && v->be != p->be)
            return gantry_set_error(GANTRY_BACKEND_MISMATCH, "%s: 'v' is on another backend", op);
    }
    GANTRY_TRY(same_numel(op, "p", p, "g", g));
    gantry_mem vm = v ? MEM(v) : MEM(p);
    return DISPATCH(p, sgd_update, MEM(p), MEM(g), vm, p->numel, lr, momentum, weight_decay);
}

gantry_status gantry_op_adam_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *m, gantry_tensor *v,
                                    float lr, float beta1, float beta2, float eps, float weight_decay, uint64_t step)
{
    static const char op[] = "adam_update";
    CHECK_TENSORS(op, "p,g,m,v", p, g, m, v);
    GANTRY_TRY(check_lr(op, lr, weight_decay));
    GANTRY_TRY(same_numel(op, "p", p, "g", g));
    GANTRY_TRY(same_numel(op, "p", p, "m", m));
    GANTRY_TRY(same_numel(op, "p", p, "v", v));
    if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: betas (%g, %g) must lie in [0, 1)", op, (double)beta1,
                                (double)beta2);
    if (!(eps > 0.0f) || !isfinite(eps))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: eps = %g must be positive", op, (double)eps);
    if (step == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: step counts from 1", op);
    return DISPATCH(p, adam_update, MEM(p), MEM(g), MEM(m), MEM(v), p->numel, lr, beta1, beta2, eps, weight_decay,
                    step);
}

gantry_status gantry_op_rmsprop_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *sq, float lr,
                                       float alpha, float eps, float weight_decay)
{
    static const char op[] = "rmsprop_update";
    CHECK_TENSORS(op, "p,g,sq", p, g, sq);
    GANTRY_TRY(check_lr(op, lr, weight_decay));
    GANTRY_TRY(same_numel(op, "p", p, "g", g));
    GANTRY_TRY(same_numel(op, "p", p, "sq", sq));
    GANTRY_TRY(check_range(op, "alpha", alpha, 0.0f, 1.0f));
    if (!(eps > 0.0f) || !isfinite(eps))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: eps = %g must be positive", op, (double)eps);
    return DISPATCH(p, rmsprop_update, MEM(p), MEM(g), MEM(sq), p->numel, lr, alpha, eps, weight_decay);
}
