/* Layers: Linear, BatchNorm (1d and 2d), activations, Flatten/Unflatten. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn_bn_sync.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

gantry_status gantry__ensure_tensor(gantry_backend *be, gantry_tensor **t, int ndim, const size_t *shape)
{
    if (*t && (*t)->ndim == ndim && memcmp((*t)->shape, shape, (size_t)ndim * sizeof *shape) == 0)
        return GANTRY_OK;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    if (*t && (*t)->owns_buffer && numel && numel <= (*t)->capacity) {
        /* A smaller or alternating batch (D sees 2N rows, then N) keeps the buffer. */
        (*t)->ndim = ndim;
        (*t)->numel = numel;
        memcpy((*t)->shape, shape, (size_t)ndim * sizeof *shape);
        return GANTRY_OK;
    }
    gantry_tensor_destroy(*t);
    *t = NULL;
    return gantry_tensor_create(be, ndim, shape, t);
}

gantry_status gantry__layer_new(gantry_backend *be, const layer_class *cls, size_t priv_size, gantry_layer **out)
{
    *out = NULL;
    gantry_layer *l = calloc(1, sizeof *l);
    void *priv = priv_size ? calloc(1, priv_size) : NULL;
    if (!l || (priv_size && !priv)) {
        free(l);
        free(priv);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: out of host memory", cls->name);
    }
    l->cls = cls;
    l->be = be;
    l->priv = priv;
    l->groups = 1;
    l->group = LAYER_ALL_GROUPS;
    *out = l;
    return GANTRY_OK;
}

/* Adds a state entry; with_grad makes it a trainable parameter. */
gantry_status gantry__layer_add_state(gantry_layer *l, const char *name, size_t n, int with_grad)
{
    /* Counted first so that gantry__layer_destroy frees whatever exists. */
    gantry_param *p = &l->state[l->nstate++];
    snprintf(p->name, sizeof p->name, "%s", name);
    if (with_grad)
        l->nparams++;
    GANTRY_TRY(gantry_tensor_new(l->be, &p->value, n, 0, 0, 0));
    if (with_grad) {
        GANTRY_TRY(gantry_tensor_new(l->be, &p->grad, n, 0, 0, 0));
        GANTRY_TRY(gantry_op_fill(p->grad, 0.0f));
    }
    return GANTRY_OK;
}

void gantry__layer_destroy(gantry_layer *l)
{
    if (!l)
        return;
    if (l->cls->destroy)
        l->cls->destroy(l);
    for (size_t i = 0; i < l->nstate; i++) {
        gantry_tensor_destroy(l->state[i].value);
        gantry_tensor_destroy(l->state[i].grad);
    }
    if (l->y != &l->y_view)
        gantry_tensor_destroy(l->y);
    if (l->dx != &l->dx_view)
        gantry_tensor_destroy(l->dx);
    free(l->priv);
    free(l);
}

/* A 2-D alias [rows, numel/rows] of t, without allocation. */
gantry_tensor gantry__as_matrix(const gantry_tensor *t, size_t cols)
{
    gantry_tensor m = *t;
    m.owns_buffer = 0;
    m.capacity = 0;
    m.ndim = 2;
    m.shape[0] = t->numel / cols;
    m.shape[1] = cols;
    m.shape[2] = m.shape[3] = 0;
    return m;
}

gantry_tensor gantry__rows(const gantry_tensor *t, size_t first, size_t count)
{
    assert(first + count <= t->shape[0]);
    gantry_tensor r = *t;
    size_t row = t->numel / t->shape[0];
    r.owns_buffer = 0;
    r.capacity = 0;
    r.offset += first * row;
    r.shape[0] = count;
    r.numel = count * row;
    return r;
}

gantry_status gantry__fill_uniform_host(gantry_tensor *t, uint64_t seed, uint64_t *offset, float bound)
{
    float *host = malloc(t->numel * sizeof *host);
    if (!host)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "init: out of host memory");
    for (size_t i = 0; i < t->numel; i++)
        host[i] = gantry_philox_uniform(seed, *offset, i, -bound, bound);
    *offset += gantry_philox_uniform_blocks(t->numel);
    gantry_status s = gantry_tensor_write(t, host, t->numel);
    free(host);
    return s;
}

gantry_status gantry__fill_normal_host(gantry_tensor *t, uint64_t seed, uint64_t *offset, float mean, float std)
{
    float *host = malloc(t->numel * sizeof *host);
    if (!host)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "init: out of host memory");
    for (size_t i = 0; i < t->numel; i++)
        host[i] = gantry_philox_normal(seed, *offset, i, mean, std);
    *offset += gantry_philox_normal_blocks(t->numel);
    gantry_status s = gantry_tensor_write(t, host, t->numel);
    free(host);
    return s;
}

/* ---- Linear ------------------------------------------------------------ */

typedef struct linear_priv {
    size_t in, out;
} linear_priv;

static gantry_status linear_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    const linear_priv *p = l->priv;
    if (x->ndim < 2 || x->numel != x->shape[0] * p->in) {
        char b[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "Linear(%zu, %zu): input %s does not have %zu features",
                                p->in, p->out, gantry__shape_str(x, b, sizeof b), p->in);
    }
    size_t shape[2] = { x->shape[0], p->out };
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, 2, shape));
    gantry_tensor x2 = gantry__as_matrix(x, p->in);
    GANTRY_TRY(gantry_op_gemm(0, 1, 1.0f, &x2, l->state[0].value, 0.0f, l->y));
    return gantry_op_bias_add(l->y, l->state[1].value);
}

static gantry_status linear_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    const linear_priv *p = l->priv;
    if (dy->numel != l->y->numel)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "Linear(%zu, %zu): gradient of %zu elements for an output of %zu",
                                p->in, p->out, dy->numel, l->y->numel);
    gantry_tensor dy2 = gantry__as_matrix(dy, p->out);
    gantry_tensor x2 = gantry__as_matrix(l->x, p->in);
    if (param_grads) {
        GANTRY_TRY(gantry_op_gemm(1, 0, 1.0f, &dy2, &x2, gantry__grad_beta(param_grads), l->state[0].grad));
        GANTRY_TRY(gantry_op_bias_grad(&dy2, l->state[1].grad, param_grads == LAYER_GRADS_ADD));
    }
    if (need_dx) {
        GANTRY_TRY(gantry__ensure_tensor(l->be, &l->dx, l->x->ndim, l->x->shape));
        gantry_tensor dx2 = gantry__as_matrix(l->dx, p->in);
        GANTRY_TRY(gantry_op_gemm(0, 0, 1.0f, &dy2, l->state[0].value, 0.0f, &dx2));
    }
    return GANTRY_OK;
}

static gantry_status linear_init(gantry_layer *l, uint64_t seed, uint64_t *offset)
{
    const linear_priv *p = l->priv;
    /* kaiming_uniform_(a = sqrt(5)) gives bound = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in). */
    float bound = (float)(1.0 / sqrt((double)p->in));
    GANTRY_TRY(gantry__fill_uniform_host(l->state[0].value, seed, offset, bound));
    return gantry__fill_uniform_host(l->state[1].value, seed, offset, bound);
}

static void linear_describe(const gantry_layer *l, char *buf, size_t size)
{
    const linear_priv *p = l->priv;
    snprintf(buf, size, "Linear(%zu, %zu)", p->in, p->out);
}

static const layer_class linear_class = {
    .name = "Linear",
    .forward = linear_forward,
    .backward = linear_backward,
    .init = linear_init,
    .describe = linear_describe,
    .rows_independent = 1,
    .groupable = 1,
};

gantry_status gantry__linear_create(gantry_backend *be, size_t in, size_t out, gantry_layer **out_layer)
{
    if (in == 0 || out == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "Linear(%zu, %zu): features must be positive", in, out);
    GANTRY_TRY(gantry__layer_new(be, &linear_class, sizeof(linear_priv), out_layer));
    gantry_layer *l = *out_layer;
    linear_priv *p = l->priv;
    p->in = in;
    p->out = out;
    gantry_status s = gantry__layer_add_state(l, "weight", in * out, 1);
    if (!s)
        s = gantry_tensor_reshape(l->state[0].value, 2, (size_t[]){ out, in });
    if (!s)
        s = gantry_tensor_reshape(l->state[0].grad, 2, (size_t[]){ out, in });
    if (!s)
        s = gantry__layer_add_state(l, "bias", out, 1);
    if (!s)
        s = linear_init(l, 0, &(uint64_t){ 0 });
    if (s) {
        gantry__layer_destroy(l);
        *out_layer = NULL;
    }
    return s;
}

/* ---- BatchNorm --------------------------------------------------------- */

typedef struct activation_priv {
    gantry_activation act;
    float param;
} activation_priv;

typedef struct batchnorm_priv {
    size_t features;
    float eps, momentum;
    int64_t batches_tracked;
    gantry_tensor *save_mean, *save_invstd;
    gantry_tensor *scratch_dgamma, *scratch_dbeta; /* when parameter grads are not wanted */
    int trained_last; /* the last forward used batch statistics */
    /* Virtual batch norm (Salimans et al. 2016): statistics of the last
     * reference pass, and per-example statistics of the last forward. */
    int virtual_mode, virtual_last;
    gantry_tensor *ref_mean, *ref_invstd, *vsave_mean, *vsave_invstd;
    size_t ref_count;
    gantry__bn_sync sync; /* statistics over every process (gantry_seq_set_batchnorm_sync) */
} batchnorm_priv;

enum { BN_WEIGHT, BN_BIAS, BN_RUNNING_MEAN, BN_RUNNING_VAR, BN_BATCHES };

/* The batch statistics' forward: this process's rows, or every process's;
 * with act, that activation applied in the same op (not with sync). */
static gantry_status bn_forward_train(batchnorm_priv *p, const gantry_param *st, const activation_priv *act,
                                      const gantry_tensor *x, gantry_tensor *y, gantry_tensor *mean,
                                      gantry_tensor *invstd)
{
    if (act)
        return gantry_op_batchnorm_act_forward_train(act->act, act->param, x, y, st[BN_WEIGHT].value,
                                                     st[BN_BIAS].value, st[BN_RUNNING_MEAN].value,
                                                     st[BN_RUNNING_VAR].value, mean, invstd, p->momentum, p->eps);
    if (p->sync.reduce)
        return gantry__bn_sync_forward(&p->sync, x, y, st[BN_WEIGHT].value, st[BN_BIAS].value,
                                       st[BN_RUNNING_MEAN].value, st[BN_RUNNING_VAR].value, mean, invstd, p->momentum,
                                       p->eps);
    return gantry_op_batchnorm_forward_train(x, y, st[BN_WEIGHT].value, st[BN_BIAS].value, st[BN_RUNNING_MEAN].value,
                                             st[BN_RUNNING_VAR].value, mean, invstd, p->momentum, p->eps);
}


/* Training mode over l->groups stacked batches: each normalised by its own
 * statistics, kept as row g of save_mean and save_invstd; the running
 * statistics move once per group, in order, as after that many forwards. */
static gantry_status batchnorm_forward_groups(gantry_layer *l, const activation_priv *act, gantry_tensor *out,
                                              const gantry_tensor *x)
{
    batchnorm_priv *p = l->priv;
    gantry_param *st = l->state;
    size_t groups = l->groups, rows = x->shape[0] / groups;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->save_mean, 2, (size_t[]){ groups, p->features }));
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->save_invstd, 2, (size_t[]){ groups, p->features }));
    for (size_t g = 0; g < groups; g++) {
        gantry_tensor xg = gantry__rows(x, g * rows, rows), yg = gantry__rows(out, g * rows, rows);
        gantry_tensor mean = gantry__rows(p->save_mean, g, 1), invstd = gantry__rows(p->save_invstd, g, 1);
        GANTRY_TRY(bn_forward_train(p, st, act, &xg, &yg, &mean, &invstd));
        p->batches_tracked++;
    }
    return GANTRY_OK;
}

/* Training with the batch's statistics into out: per stacked group, or
 * over the whole batch; with act, that activation in the same op. */
static gantry_status batchnorm_train(gantry_layer *l, const activation_priv *act, gantry_tensor *out,
                                     const gantry_tensor *x)
{
    batchnorm_priv *p = l->priv;
    if (l->groups > 1)
        return batchnorm_forward_groups(l, act, out, x);
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->save_mean, 1, (size_t[]){ p->features }));
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->save_invstd, 1, (size_t[]){ p->features }));
    GANTRY_TRY(bn_forward_train(p, l->state, act, x, out, p->save_mean, p->save_invstd));
    p->batches_tracked++;
    return GANTRY_OK;
}

static gantry_status batchnorm_check_input(const batchnorm_priv *p, const gantry_tensor *x)
{
    if (x->ndim >= 2 && x->shape[1] == p->features)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "BatchNorm(%zu): input %s does not have %zu channels", p->features,
                            gantry__shape_str(x, b, sizeof b), p->features);
}

static gantry_status batchnorm_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    batchnorm_priv *p = l->priv;
    GANTRY_TRY(batchnorm_check_input(p, x));
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, x->ndim, x->shape));
    gantry_param *st = l->state;
    l->fused_act = NULL;
    p->trained_last = training;
    p->virtual_last = p->virtual_mode && training == 1;
    if (p->virtual_last && p->virtual_mode == GANTRY_BN_REFERENCE) {
        if (!p->ref_count)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                    "BatchNorm(%zu): reference batch norm needs a reference pass first", p->features);
        return gantry_op_batchnorm_forward_frozen(x, l->y, st[BN_WEIGHT].value, st[BN_BIAS].value, p->ref_mean,
                                                  p->ref_invstd);
    }
    if (p->virtual_last) {
        if (!p->ref_count)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                    "BatchNorm(%zu): virtual batch norm needs a reference pass first", p->features);
        size_t per_example[2] = { x->shape[0], p->features };
        GANTRY_TRY(gantry__ensure_tensor(l->be, &p->vsave_mean, 2, per_example));
        GANTRY_TRY(gantry__ensure_tensor(l->be, &p->vsave_invstd, 2, per_example));
        return gantry_op_vbn_forward(x, l->y, st[BN_WEIGHT].value, st[BN_BIAS].value, p->ref_mean, p->ref_invstd,
                                     p->ref_count, p->vsave_mean, p->vsave_invstd, p->eps);
    }
    if (!training)
        return gantry_op_batchnorm_forward_eval(x, l->y, st[BN_WEIGHT].value, st[BN_BIAS].value,
                                                st[BN_RUNNING_MEAN].value, st[BN_RUNNING_VAR].value, p->eps);
    if (l->groups > 1 && p->virtual_mode)
        return gantry_set_error(GANTRY_UNSUPPORTED, "BatchNorm(%zu): virtual batch norm of stacked batches",
                                p->features);
    GANTRY_TRY(batchnorm_train(l, NULL, l->y, x));
    if (p->virtual_mode && training == GANTRY_FORWARD_REFERENCE) {
        GANTRY_TRY(gantry__ensure_tensor(l->be, &p->ref_mean, 1, (size_t[]){ p->features }));
        GANTRY_TRY(gantry__ensure_tensor(l->be, &p->ref_invstd, 1, (size_t[]){ p->features }));
        GANTRY_TRY(gantry_tensor_copy(p->ref_mean, p->save_mean));
        GANTRY_TRY(gantry_tensor_copy(p->ref_invstd, p->save_invstd));
        p->ref_count = x->numel / p->features;
    }
    return GANTRY_OK;
}

/* The backward of a batch norm whose forward applied activation `act`
 * (NULL: none) with output act_y, from dy, the gradient of that output. */
static gantry_status bn_backward(gantry_layer *l, const activation_priv *act, const gantry_tensor *act_y,
                                 const gantry_tensor *dy, int param_grads, int need_dx)
{
    batchnorm_priv *p = l->priv;
    if (!p->trained_last)
        return gantry_set_error(GANTRY_UNSUPPORTED,
                                "BatchNorm(%zu): backward after an evaluation-mode forward is not supported",
                                p->features);
    /* The op computes dx together with dgamma/dbeta; when the caller wants
     * neither it is skipped, when it wants only dx the parameter gradients
     * go to scratch so the real ones stay untouched. */
    if (!param_grads && !need_dx)
        return GANTRY_OK;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->dx, l->x->ndim, l->x->shape));
    gantry_param *st = l->state;
    const int add = param_grads == LAYER_GRADS_ADD; /* scratch and SET overwrite */
    if (p->virtual_last && p->virtual_mode == GANTRY_BN_REFERENCE)
        return gantry_op_batchnorm_backward_frozen(l->x, dy, st[BN_WEIGHT].value, p->ref_mean, p->ref_invstd, l->dx,
                                                   param_grads ? st[BN_WEIGHT].grad : p->scratch_dgamma,
                                                   param_grads ? st[BN_BIAS].grad : p->scratch_dbeta, add);
    if (p->virtual_last)
        return gantry_op_vbn_backward(l->x, dy, st[BN_WEIGHT].value, p->vsave_mean, p->vsave_invstd, p->ref_count,
                                      l->dx, param_grads ? st[BN_WEIGHT].grad : p->scratch_dgamma,
                                      param_grads ? st[BN_BIAS].grad : p->scratch_dbeta, add);
    gantry_tensor mean = *p->save_mean, invstd = *p->save_invstd;
    if (l->groups > 1) { /* the Sequential narrowed x and y to one group */
        if (l->group >= l->groups)
            return gantry_set_error(GANTRY_UNSUPPORTED, "BatchNorm(%zu): backward of %zu stacked batches at once",
                                    p->features, l->groups);
        mean = gantry__rows(p->save_mean, l->group, 1);
        invstd = gantry__rows(p->save_invstd, l->group, 1);
    }
    if (p->sync.reduce)
        return gantry__bn_sync_backward(&p->sync, l->x, dy, st[BN_WEIGHT].value, &mean, &invstd, l->dx,
                                        param_grads ? st[BN_WEIGHT].grad : p->scratch_dgamma,
                                        param_grads ? st[BN_BIAS].grad : p->scratch_dbeta, p->scratch_dgamma,
                                        p->scratch_dbeta, add);
    if (act)
        return gantry_op_batchnorm_act_backward(act->act, act->param, l->x, act_y, dy, st[BN_WEIGHT].value, &mean,
                                                &invstd, l->dx, param_grads ? st[BN_WEIGHT].grad : p->scratch_dgamma,
                                                param_grads ? st[BN_BIAS].grad : p->scratch_dbeta, add);
    return gantry_op_batchnorm_backward(l->x, dy, st[BN_WEIGHT].value, &mean, &invstd, l->dx,
                                        param_grads ? st[BN_WEIGHT].grad : p->scratch_dgamma,
                                        param_grads ? st[BN_BIAS].grad : p->scratch_dbeta, add);
}

static gantry_status batchnorm_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    return bn_backward(l, NULL, NULL, dy, param_grads, need_dx);
}

static gantry_status batchnorm_init(gantry_layer *l, uint64_t seed, uint64_t *offset)
{
    batchnorm_priv *p = l->priv;
    p->batches_tracked = 0;
    GANTRY_TRY(gantry_op_fill(l->state[BN_WEIGHT].value, 1.0f));
    GANTRY_TRY(gantry_op_fill(l->state[BN_BIAS].value, 0.0f));
    GANTRY_TRY(gantry_op_fill(l->state[BN_RUNNING_MEAN].value, 0.0f));
    return gantry_op_fill(l->state[BN_RUNNING_VAR].value, 1.0f);
}

static void batchnorm_describe(const gantry_layer *l, char *buf, size_t size)
{
    const batchnorm_priv *p = l->priv;
    snprintf(buf, size, "%sBatchNorm(%zu, eps=%g, momentum=%g)",
             p->virtual_mode == GANTRY_BN_VIRTUAL ? "Virtual" : p->virtual_mode == GANTRY_BN_REFERENCE ? "Reference" : "",
             p->features,
             (double)p->eps, (double)p->momentum);
}

static void batchnorm_destroy(gantry_layer *l)
{
    batchnorm_priv *p = l->priv;
    gantry_tensor_destroy(p->save_mean);
    gantry_tensor_destroy(p->save_invstd);
    gantry_tensor_destroy(p->scratch_dgamma);
    gantry_tensor_destroy(p->scratch_dbeta);
    gantry_tensor_destroy(p->ref_mean);
    gantry_tensor_destroy(p->ref_invstd);
    gantry_tensor_destroy(p->vsave_mean);
    gantry_tensor_destroy(p->vsave_invstd);
    gantry__bn_sync_free(&p->sync);
}

void gantry__batchnorm_set_virtual(gantry_layer *l, int mode)
{
    if (strcmp(l->cls->name, "BatchNorm") != 0)
        return;
    batchnorm_priv *p = l->priv;
    p->virtual_mode = mode;
    p->ref_count = 0;
}

void gantry__batchnorm_set_sync(gantry_layer *l, gantry_stats_reduce reduce, void *user)
{
    if (strcmp(l->cls->name, "BatchNorm") != 0)
        return;
    batchnorm_priv *p = l->priv;
    p->sync.reduce = reduce;
    p->sync.user = user;
}

static const layer_class batchnorm_class = {
    .name = "BatchNorm",
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .init = batchnorm_init,
    .describe = batchnorm_describe,
    .destroy = batchnorm_destroy,
    .groupable = 1,
};

gantry_status gantry__batchnorm_create(gantry_backend *be, size_t features, float eps, float momentum,
                                       gantry_layer **out_layer)
{
    if (features == 0 || !(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "BatchNorm(%zu, eps=%g, momentum=%g): invalid arguments",
                                features, (double)eps, (double)momentum);
    GANTRY_TRY(gantry__layer_new(be, &batchnorm_class, sizeof(batchnorm_priv), out_layer));
    gantry_layer *l = *out_layer;
    batchnorm_priv *p = l->priv;
    p->features = features;
    p->eps = eps;
    p->momentum = momentum;
    gantry_status s = gantry__layer_add_state(l, "weight", features, 1);
    if (!s)
        s = gantry__layer_add_state(l, "bias", features, 1);
    if (!s)
        s = gantry__layer_add_state(l, "running_mean", features, 0);
    if (!s)
        s = gantry__layer_add_state(l, "running_var", features, 0);
    if (!s) {
        gantry_param *nb = &l->state[BN_BATCHES];
        snprintf(nb->name, sizeof nb->name, "num_batches_tracked");
        nb->counter = &p->batches_tracked;
        l->nstate++;
    }
    if (!s)
        s = gantry_tensor_new(be, &p->save_mean, features, 0, 0, 0);
    if (!s)
        s = gantry_tensor_new(be, &p->save_invstd, features, 0, 0, 0);
    if (!s)
        s = gantry_tensor_new(be, &p->scratch_dgamma, features, 0, 0, 0);
    if (!s)
        s = gantry_tensor_new(be, &p->scratch_dbeta, features, 0, 0, 0);
    if (!s)
        s = batchnorm_init(l, 0, NULL);
    if (s) {
        gantry__layer_destroy(l);
        *out_layer = NULL;
    }
    return s;
}

/* ---- activations ------------------------------------------------------- */

static gantry_status activation_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    const activation_priv *p = l->priv;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, x->ndim, x->shape));
    return gantry_op_activation_forward(p->act, p->param, x, l->y);
}

static gantry_status activation_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    const activation_priv *p = l->priv;
    if (!need_dx)
        return GANTRY_OK;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->dx, l->x->ndim, l->x->shape));
    return gantry_op_activation_backward(p->act, p->param, l->x, l->y, dy, l->dx);
}

static void activation_describe(const gantry_layer *l, char *buf, size_t size)
{
    const activation_priv *p = l->priv;
    switch (p->act) {
    case GANTRY_ACT_RELU: snprintf(buf, size, "ReLU()"); break;
    case GANTRY_ACT_LEAKY_RELU: snprintf(buf, size, "LeakyReLU(%g)", (double)p->param); break;
    case GANTRY_ACT_TANH: snprintf(buf, size, "Tanh()"); break;
    case GANTRY_ACT_SIGMOID: snprintf(buf, size, "Sigmoid()"); break;
    default: snprintf(buf, size, "Identity()"); break;
    }
}

static const layer_class activation_class = {
    .name = "Activation",
    .forward = activation_forward,
    .backward = activation_backward,
    .describe = activation_describe,
    .rows_independent = 1,
    .groupable = 1,
};

/* ---- batch norm and the activation after it, one op each way --------------
 * A training forward with the batch's own statistics, followed by ReLU or
 * LeakyReLU (slope >= 0), runs as one op that writes the activation's
 * output alone, and the backward as one op from that output: the bits of
 * the two layers, without a pass over the normalised values each way. */

int gantry__batchnorm_act_fusable(const gantry_layer *l, const gantry_layer *next, int training)
{
    if (l->cls != &batchnorm_class || next->cls != &activation_class || training != 1)
        return 0;
    const batchnorm_priv *p = l->priv;
    const activation_priv *a = next->priv;
    return !p->virtual_mode && !p->sync.reduce &&
           (a->act == GANTRY_ACT_RELU || (a->act == GANTRY_ACT_LEAKY_RELU && a->param >= 0.0f));
}

gantry_status gantry__batchnorm_act_forward(gantry_layer *l, gantry_layer *act, const gantry_tensor *x)
{
    batchnorm_priv *p = l->priv;
    GANTRY_TRY(batchnorm_check_input(p, x));
    GANTRY_TRY(gantry__ensure_tensor(act->be, &act->y, x->ndim, x->shape));
    l->fused_act = NULL;
    p->trained_last = 1;
    p->virtual_last = 0;
    GANTRY_TRY(batchnorm_train(l, act->priv, act->y, x));
    l->fused_act = act;
    return GANTRY_OK;
}

gantry_status gantry__batchnorm_act_backward(gantry_layer *l, const gantry_tensor *act_y, const gantry_tensor *dy,
                                             int param_grads, int need_dx)
{
    return bn_backward(l, l->fused_act->priv, act_y, dy, param_grads, need_dx);
}

gantry_status gantry__activation_create(gantry_backend *be, gantry_activation act, float param,
                                        gantry_layer **out_layer)
{
    if (act < GANTRY_ACT_IDENTITY || act > GANTRY_ACT_SIGMOID || !isfinite(param))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "activation %d(%g): unknown activation or bad parameter",
                                (int)act, (double)param);
    GANTRY_TRY(gantry__layer_new(be, &activation_class, sizeof(activation_priv), out_layer));
    activation_priv *p = (*out_layer)->priv;
    p->act = act;
    p->param = param;
    return GANTRY_OK;
}

/* ---- Flatten / Unflatten ----------------------------------------------- */

typedef struct reshape_priv {
    int ndim; /* 0: Flatten */
    size_t shape[3];
} reshape_priv;

/* An alias of `src` with another shape, in storage the layer owns. */
static void alias(gantry_tensor *view, const gantry_tensor *src, int ndim, const size_t *shape)
{
    *view = *src;
    view->owns_buffer = 0;
    view->capacity = 0;
    view->ndim = ndim;
    memset(view->shape, 0, sizeof view->shape);
    memcpy(view->shape, shape, (size_t)ndim * sizeof *shape);
}

static gantry_status reshape_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    const reshape_priv *p = l->priv;
    size_t shape[4] = { x->shape[0], x->numel / x->shape[0], 0, 0 };
    int ndim = 2;
    if (p->ndim) {
        size_t n = 1;
        for (int i = 0; i < p->ndim; i++)
            n *= p->shape[i];
        if (x->ndim != 2 || x->shape[1] != n) {
            char b[96];
            return gantry_set_error(GANTRY_SHAPE_MISMATCH, "Unflatten: input %s does not have %zu features",
                                    gantry__shape_str(x, b, sizeof b), n);
        }
        memcpy(shape + 1, p->shape, (size_t)p->ndim * sizeof *shape);
        ndim = 1 + p->ndim;
    }
    alias(&l->y_view, x, ndim, shape);
    l->y = &l->y_view;
    return GANTRY_OK;
}

static gantry_status reshape_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    if (dy->numel != l->x->numel)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: gradient of %zu elements for an input of %zu",
                                ((const reshape_priv *)l->priv)->ndim ? "Unflatten" : "Flatten", dy->numel,
                                l->x->numel);
    alias(&l->dx_view, dy, l->x->ndim, l->x->shape);
    l->dx = &l->dx_view;
    return GANTRY_OK;
}

static void reshape_describe(const gantry_layer *l, char *buf, size_t size)
{
    const reshape_priv *p = l->priv;
    if (p->ndim == 0)
        snprintf(buf, size, "Flatten()");
    else if (p->ndim == 1)
        snprintf(buf, size, "Unflatten(1, (%zu,))", p->shape[0]);
    else if (p->ndim == 2)
        snprintf(buf, size, "Unflatten(1, (%zu, %zu))", p->shape[0], p->shape[1]);
    else
        snprintf(buf, size, "Unflatten(1, (%zu, %zu, %zu))", p->shape[0], p->shape[1], p->shape[2]);
}

static const layer_class reshape_class = {
    .name = "Reshape",
    .forward = reshape_forward,
    .backward = reshape_backward,
    .describe = reshape_describe,
    .rows_independent = 1,
    .groupable = 1,
};

gantry_status gantry__reshape_create(gantry_backend *be, int ndim, const size_t *shape, gantry_layer **out_layer)
{
    if (ndim < 0 || ndim > 3 || (ndim && !shape))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "Unflatten: %d dimensions (1 to 3 supported)", ndim);
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "Unflatten: dimension %d is 0", i);
    GANTRY_TRY(gantry__layer_new(be, &reshape_class, sizeof(reshape_priv), out_layer));
    reshape_priv *p = (*out_layer)->priv;
    p->ndim = ndim;
    if (ndim)
        memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    return GANTRY_OK;
}
