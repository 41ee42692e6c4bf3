/* Optimizers: per-parameter state on the backend, one fused update op per
 * parameter per step. */
#include <math.h>
#include <stdlib.h>

#include "core/nn_layer.h"
#include "core/tensor_impl.h"
#include "gantry/ops.h"
#include "gantry/optim.h"

struct gantry_optim {
    gantry_seq *seq;
    gantry_optim_config config;
    uint64_t steps;
    size_t count;
    gantry_tensor **state1, **state2; /* momentum / first moment / square average; second moment */
};

gantry_optim_config gantry_optim_defaults(gantry_optim_kind kind)
{
    gantry_optim_config c = { .kind = kind, .lr = 1e-3f };
    switch (kind) {
    case GANTRY_OPTIM_ADAM:
        c.beta1 = 0.9f;
        c.beta2 = 0.999f;
        c.eps = 1e-8f;
        break;
    case GANTRY_OPTIM_RMSPROP:
        c.lr = 1e-2f;
        c.alpha = 0.99f;
        c.eps = 1e-8f;
        break;
    default:
        break;
    }
    return c;
}

void gantry_optim_destroy(gantry_optim *opt)
{
    if (!opt)
        return;
    for (size_t i = 0; i < opt->count; i++) {
        if (opt->state1)
            gantry_tensor_destroy(opt->state1[i]);
        if (opt->state2)
            gantry_tensor_destroy(opt->state2[i]);
    }
    free(opt->state1);
    free(opt->state2);
    free(opt);
}

static gantry_status zeros_like(const gantry_tensor *p, gantry_tensor **out)
{
    gantry_status s = gantry_tensor_create(p->be, p->ndim, p->shape, out);
    return s ? s : gantry_op_fill(*out, 0.0f);
}

gantry_status gantry_optim_create(gantry_seq *seq, const gantry_optim_config *config, gantry_optim **out)
{
    if (!seq || !config || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "optim_create: NULL argument");
    *out = NULL;
    if (config->kind < GANTRY_OPTIM_SGD || config->kind > GANTRY_OPTIM_RMSPROP)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "optim_create: unknown optimizer %d", (int)config->kind);
    gantry_optim *opt = calloc(1, sizeof *opt);
    if (!opt)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "optim_create: out of host memory");
    opt->seq = seq;
    opt->config = *config;
    opt->count = gantry_seq_param_count(seq);
    size_t n = opt->count ? opt->count : 1;
    opt->state1 = calloc(n, sizeof *opt->state1);
    opt->state2 = calloc(n, sizeof *opt->state2);
    gantry_status s = (opt->state1 && opt->state2) ? GANTRY_OK
                                                    : gantry_set_error(GANTRY_OUT_OF_MEMORY, "optim_create: out of host memory");
    int needs1 = config->kind != GANTRY_OPTIM_SGD || config->momentum != 0.0f;
    int needs2 = config->kind == GANTRY_OPTIM_ADAM;
    for (size_t i = 0; !s && i < opt->count; i++) {
        const gantry_tensor *p = gantry_seq_param(seq, i)->value;
        if (needs1)
            s = zeros_like(p, &opt->state1[i]);
        if (!s && needs2)
            s = zeros_like(p, &opt->state2[i]);
    }
    if (s) {
        gantry_optim_destroy(opt);
        return s;
    }
    *out = opt;
    return GANTRY_OK;
}

gantry_status gantry_optim_step(gantry_optim *opt)
{
    if (!opt)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "optim_step: optimizer is NULL");
    const gantry_optim_config *c = &opt->config;
    GANTRY_TRY(gantry__seq_settle_grads(opt->seq)); /* deferred zeros, when no backward came */
    uint64_t step = opt->steps + 1; /* counted only once every parameter moved */
    for (size_t i = 0; i < opt->count; i++) {
        const gantry_param *p = gantry_seq_param(opt->seq, i);
        gantry_status s;
        switch (c->kind) {
        case GANTRY_OPTIM_ADAM:
            s = gantry_op_adam_update(p->value, p->grad, opt->state1[i], opt->state2[i], c->lr, c->beta1, c->beta2,
                                      c->eps, c->weight_decay, step);
            break;
        case GANTRY_OPTIM_RMSPROP:
            s = gantry_op_rmsprop_update(p->value, p->grad, opt->state1[i], c->lr, c->alpha, c->eps,
                                         c->weight_decay);
            break;
        default:
            s = gantry_op_sgd_update(p->value, p->grad, opt->state1[i], c->lr, c->momentum, c->weight_decay);
            break;
        }
        if (s)
            return s;
    }
    opt->steps = step;
    return GANTRY_OK;
}

uint64_t gantry_optim_steps(const gantry_optim *opt)
{
    return opt ? opt->steps : 0;
}

gantry_status gantry_optim_copy_state(gantry_optim *dst, const gantry_optim *src)
{
    if (!dst || !src)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "optim_copy_state: NULL argument");
    if (dst->config.kind != src->config.kind || dst->count != src->count)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "optim_copy_state: optimizers of different kinds or sizes");
    for (size_t i = 0; i < src->count; i++) {
        if (src->state1 && src->state1[i] && dst->state1 && dst->state1[i])
            GANTRY_TRY(gantry_tensor_copy(dst->state1[i], src->state1[i]));
        if (src->state2 && src->state2[i] && dst->state2 && dst->state2[i])
            GANTRY_TRY(gantry_tensor_copy(dst->state2[i], src->state2[i]));
    }
    dst->steps = src->steps;
    return GANTRY_OK;
}

size_t gantry_optim_slot_count(const gantry_optim *opt)
{
    if (!opt)
        return 0;
    switch (opt->config.kind) {
    case GANTRY_OPTIM_ADAM: return 2;
    case GANTRY_OPTIM_RMSPROP: return 1;
    default: return opt->config.momentum != 0.0f;
    }
}

const char *gantry_optim_slot_name(const gantry_optim *opt, size_t slot)
{
    if (slot >= gantry_optim_slot_count(opt))
        return NULL;
    switch (opt->config.kind) {
    case GANTRY_OPTIM_ADAM: return slot ? "exp_avg_sq" : "exp_avg";
    case GANTRY_OPTIM_RMSPROP: return "square_avg";
    default: return "momentum_buffer";
    }
}

gantry_tensor *gantry_optim_slot(gantry_optim *opt, size_t param, size_t slot)
{
    if (!opt || param >= opt->count || slot >= gantry_optim_slot_count(opt))
        return NULL;
    return slot ? opt->state2[param] : opt->state1[param];
}

void gantry_optim_set_steps(gantry_optim *opt, uint64_t steps)
{
    if (opt)
        opt->steps = steps;
}

gantry_status gantry_optim_set_lr(gantry_optim *opt, float lr)
{
    if (!opt || !(lr > 0.0f) || !isfinite(lr))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "optim_set_lr: learning rate %g (must be finite and > 0)",
                                (double)lr);
    opt->config.lr = lr;
    return GANTRY_OK;
}
