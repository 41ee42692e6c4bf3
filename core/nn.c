/* The Sequential container: layer order, state_dict names, and the
 * forward/backward drivers. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn_layer.h"
#include "core/state_io.h"
#include "gantry/ops.h"

struct gantry_seq {
    gantry_backend *be;
    gantry_layer **layers;
    size_t nlayers, cap;
    /* Flattened views of every layer's state with full names ("3.weight"):
     * parameters in `params`, everything in `state`, both in state_dict order. */
    gantry_param *params, *state;
    size_t nparams, nstate;
    int forwarded;
    size_t groups; /* of the last forward */
    int grads_deferred; /* gantry__seq_defer_zero_grad: the grads are logically zero */
    /* A plan (gantry__seq_create_plan): no layers, only the state entries
     * they would have, in state_dict order. */
    int is_plan;
    size_t plan_layers, nplan, plan_cap;
    plan_entry *plan;
};

gantry_status gantry_seq_create(gantry_backend *be, gantry_seq **out)
{
    if (!be || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_create: backend or out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "seq_create: out of host memory");
    (*out)->be = be;
    return GANTRY_OK;
}

void gantry_seq_destroy(gantry_seq *seq)
{
    if (!seq)
        return;
    for (size_t i = 0; i < seq->nlayers; i++)
        gantry__layer_destroy(seq->layers[i]);
    free(seq->layers);
    free(seq->params);
    free(seq->state);
    free(seq->plan);
    free(seq);
}

/* ---- plans ---------------------------------------------------------------- */

/* The state entries a layer of each kind has, as the layers' create
 * functions (nn_layers.c, nn_conv.c, nn_minibatch_disc.c) make them: a
 * change there must be made here too, and the tests that load a saved
 * checkpoint of every model would catch one that is not. */

gantry_status gantry__seq_create_plan(gantry_seq **out)
{
    if (!out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_create_plan: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "seq: out of host memory");
    (*out)->is_plan = 1;
    return GANTRY_OK;
}

size_t gantry__seq_plan_count(const gantry_seq *plan)
{
    return plan ? plan->nplan : 0;
}

const plan_entry *gantry__seq_plan_entry(const gantry_seq *plan, size_t i)
{
    return plan && i < plan->nplan ? &plan->plan[i] : NULL;
}

/* Entry `name` of the layer being planned; ndim 0 is a scalar. */
static gantry_status plan_state(gantry_seq *seq, const char *name, gantry_dtype dtype, int ndim, const size_t *shape)
{
    if (seq->nplan == seq->plan_cap) {
        size_t cap = seq->plan_cap ? 2 * seq->plan_cap : 16;
        plan_entry *p = realloc(seq->plan, cap * sizeof *p);
        if (!p)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "seq: out of host memory");
        seq->plan = p;
        seq->plan_cap = cap;
    }
    plan_entry *e = &seq->plan[seq->nplan++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%zu.%s", seq->plan_layers, name);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        e->shape[d] = shape[d];
    return GANTRY_OK;
}

#define PLAN_F32(seq, name, ...)                                                                        \
    plan_state(seq, name, GANTRY_DTYPE_F32, (int)(sizeof((size_t[]){ __VA_ARGS__ }) / sizeof(size_t)),   \
               (size_t[]){ __VA_ARGS__ })

static gantry_status plan_linear(gantry_seq *seq, size_t in, size_t out)
{
    GANTRY_TRY(PLAN_F32(seq, "weight", out, in));
    return PLAN_F32(seq, "bias", out);
}

static gantry_status plan_batchnorm(gantry_seq *seq, size_t features)
{
    static const char *const names[] = { "weight", "bias", "running_mean", "running_var" };
    for (size_t i = 0; i < 4; i++)
        GANTRY_TRY(PLAN_F32(seq, names[i], features));
    return plan_state(seq, "num_batches_tracked", GANTRY_DTYPE_I64, 0, NULL);
}

static gantry_status plan_conv(gantry_seq *seq, const gantry_conv_spec *c)
{
    size_t k = c->kernel;
    GANTRY_TRY(c->transposed ? PLAN_F32(seq, "weight", c->in, c->out, k, k) : PLAN_F32(seq, "weight", c->out, c->in, k, k));
    return c->no_bias ? GANTRY_OK : PLAN_F32(seq, "bias", c->out);
}

/* Ends a planned layer: the next one's entries get the next index. */
static gantry_status plan_next(gantry_seq *seq, gantry_status s)
{
    seq->plan_layers++;
    return s;
}

/* Rebuilds the flattened name lists after a layer was appended. */
static gantry_status index_state(gantry_seq *seq)
{
    size_t np = 0, ns = 0;
    for (size_t i = 0; i < seq->nlayers; i++) {
        np += seq->layers[i]->nparams;
        ns += seq->layers[i]->nstate;
    }
    gantry_param *params = calloc(np ? np : 1, sizeof *params);
    gantry_param *state = calloc(ns ? ns : 1, sizeof *state);
    if (!params || !state) {
        free(params);
        free(state);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "seq: out of host memory");
    }
    size_t ip = 0, is = 0;
    for (size_t i = 0; i < seq->nlayers; i++) {
        const gantry_layer *l = seq->layers[i];
        for (size_t j = 0; j < l->nstate; j++) {
            gantry_param e = l->state[j];
            snprintf(e.name, sizeof e.name, "%zu.%.40s", i, l->state[j].name);
            state[is++] = e;
            if (j < l->nparams)
                params[ip++] = e;
        }
    }
    free(seq->params);
    free(seq->state);
    seq->params = params;
    seq->state = state;
    seq->nparams = np;
    seq->nstate = ns;
    return GANTRY_OK;
}

static gantry_status append(gantry_seq *seq, gantry_status created, gantry_layer *l)
{
    if (created)
        return created;
    if (seq->nlayers == seq->cap) {
        size_t cap = seq->cap ? seq->cap * 2 : 8;
        gantry_layer **layers = realloc(seq->layers, cap * sizeof *layers);
        if (!layers) {
            gantry__layer_destroy(l);
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "seq: out of host memory");
        }
        seq->layers = layers;
        seq->cap = cap;
    }
    seq->layers[seq->nlayers++] = l;
    seq->forwarded = 0;
    return index_state(seq);
}

#define CHECK_SEQ(seq)                                                                                  \
    do {                                                                                                \
        if (!(seq))                                                                                     \
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: Sequential is NULL", __func__);      \
    } while (0)

gantry_status gantry_seq_add_linear(gantry_seq *seq, size_t in_features, size_t out_features)
{
    CHECK_SEQ(seq);
    if (seq->is_plan)
        return plan_next(seq, plan_linear(seq, in_features, out_features));
    gantry_layer *l = NULL;
    gantry_status s = gantry__linear_create(seq->be, in_features, out_features, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_batchnorm(gantry_seq *seq, size_t features, float eps, float momentum)
{
    CHECK_SEQ(seq);
    if (seq->is_plan)
        return plan_next(seq, plan_batchnorm(seq, features));
    gantry_layer *l = NULL;
    gantry_status s = gantry__batchnorm_create(seq->be, features, eps, momentum, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_activation(gantry_seq *seq, gantry_activation act, float param)
{
    CHECK_SEQ(seq);
    if (seq->is_plan)
        return plan_next(seq, GANTRY_OK);
    gantry_layer *l = NULL;
    gantry_status s = gantry__activation_create(seq->be, act, param, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_flatten(gantry_seq *seq)
{
    CHECK_SEQ(seq);
    if (seq->is_plan)
        return plan_next(seq, GANTRY_OK);
    gantry_layer *l = NULL;
    gantry_status s = gantry__reshape_create(seq->be, 0, NULL, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_unflatten(gantry_seq *seq, int ndim, const size_t *shape)
{
    CHECK_SEQ(seq);
    if (ndim < 1)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "Unflatten: needs at least one dimension");
    if (seq->is_plan)
        return plan_next(seq, GANTRY_OK);
    gantry_layer *l = NULL;
    gantry_status s = gantry__reshape_create(seq->be, ndim, shape, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_conv(gantry_seq *seq, const gantry_conv_spec *spec)
{
    CHECK_SEQ(seq);
    if (!spec)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_seq_add_conv: spec is NULL");
    if (seq->is_plan)
        return plan_next(seq, plan_conv(seq, spec));
    gantry_layer *l = NULL;
    gantry_status s = gantry__conv_create(seq->be, spec, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_conv2d(gantry_seq *seq, size_t in, size_t out, size_t k, size_t stride, size_t padding)
{
    return gantry_seq_add_conv(seq, &(gantry_conv_spec){ in, out, k, stride, padding, 0, 0 });
}

gantry_status gantry_seq_add_conv_transpose2d(gantry_seq *seq, size_t in, size_t out, size_t k, size_t stride,
                                              size_t padding)
{
    return gantry_seq_add_conv(seq, &(gantry_conv_spec){ in, out, k, stride, padding, 1, 0 });
}

gantry_status gantry_seq_add_dropout(gantry_seq *seq, float p)
{
    CHECK_SEQ(seq);
    if (seq->is_plan)
        return plan_next(seq, GANTRY_OK);
    gantry_layer *l = NULL;
    gantry_status s = gantry__dropout_create(seq->be, p, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_add_minibatch_disc(gantry_seq *seq, size_t in, size_t kernels, size_t dims)
{
    CHECK_SEQ(seq);
    if (seq->is_plan)
        return plan_next(seq, PLAN_F32(seq, "T", in, kernels, dims));
    gantry_layer *l = NULL;
    gantry_status s = gantry__minibatch_disc_create(seq->be, in, kernels, dims, &l);
    return append(seq, s, l);
}

gantry_status gantry_seq_init_normal(gantry_seq *seq, float std, uint64_t seed, uint64_t *offset)
{
    CHECK_SEQ(seq);
    if (!offset || !(std >= 0.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_init_normal: offset is NULL or std < 0");
    for (size_t i = 0; i < seq->nlayers; i++) {
        gantry_layer *l = seq->layers[i];
        const char *name = l->cls->name;
        int is_bn = strcmp(name, "BatchNorm") == 0;
        if (!is_bn && strcmp(name, "Linear") != 0 && strcmp(name, "Conv") != 0)
            continue;
        GANTRY_TRY(gantry__fill_normal_host(l->state[0].value, seed, offset, is_bn ? 1.0f : 0.0f, std));
        if (l->nparams > 1) /* the bias (a convolution without one has only its weight) */
            GANTRY_TRY(gantry_op_fill(l->state[1].value, 0.0f));
    }
    return GANTRY_OK;
}

gantry_status gantry_seq_init(gantry_seq *seq, uint64_t seed, uint64_t *offset)
{
    CHECK_SEQ(seq);
    if (!offset)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_init: offset is NULL");
    for (size_t i = 0; i < seq->nlayers; i++) {
        gantry_layer *l = seq->layers[i];
        if (l->cls->init) {
            gantry_status s = l->cls->init(l, seed, offset);
            if (s)
                return s;
        }
    }
    return gantry_seq_zero_grad(seq);
}

gantry_status gantry_seq_forward(gantry_seq *seq, const gantry_tensor *x, int training, gantry_tensor **y)
{
    return gantry__seq_forward_groups(seq, x, training, 1, y);
}

gantry_status gantry__seq_forward_groups(gantry_seq *seq, const gantry_tensor *x, int training, size_t groups,
                                         gantry_tensor **y)
{
    CHECK_SEQ(seq);
    if (!x || !y)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_forward: input or output is NULL");
    if (x->be != seq->be)
        return gantry_set_error(GANTRY_BACKEND_MISMATCH, "seq_forward: input is on backend '%s', model on '%s'",
                                x->be->name, seq->be->name);
    if (x->ndim < 2)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "seq_forward: input needs a batch dimension");
    /* Grouping is internal: callers check gantry__seq_groupable first. */
    assert(groups == 1 || (x->shape[0] % groups == 0 && gantry__seq_groupable(seq)));
    const gantry_tensor *cur = x;
    seq->groups = groups;
    for (size_t i = 0; i < seq->nlayers; i++) {
        gantry_layer *l = seq->layers[i];
        l->x = cur;
        l->groups = groups;
        l->group = LAYER_ALL_GROUPS;
        gantry_layer *next = i + 1 < seq->nlayers ? seq->layers[i + 1] : NULL;
        gantry_status s;
        if (next && gantry__batchnorm_act_fusable(l, next, training)) {
            /* the activation's input, the normalised values, is never made */
            next->x = NULL;
            next->groups = groups;
            next->group = LAYER_ALL_GROUPS;
            s = gantry__batchnorm_act_forward(l, next, cur);
            l = next;
            i++;
        } else {
            s = l->cls->forward(l, cur, training);
        }
        if (s) {
            seq->forwarded = 0;
            return s;
        }
        cur = l->y;
    }
    seq->forwarded = 1;
    *y = (gantry_tensor *)cur;
    return GANTRY_OK;
}

gantry_tensor *gantry_seq_output(gantry_seq *seq, size_t layer)
{
    if (!seq || !seq->forwarded || layer >= seq->nlayers || seq->layers[layer]->fused_act)
        return NULL;
    return seq->layers[layer]->y;
}

gantry_status gantry_seq_backward(gantry_seq *seq, const gantry_tensor *dy, int param_grads, gantry_tensor **dx)
{
    CHECK_SEQ(seq);
    if (seq->nlayers == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_backward: the Sequential has no layers");
    return gantry_seq_backward_from(seq, seq->nlayers - 1, dy, param_grads, dx);
}

/* One layer's backward, of every row or of one group's rows (x and y
 * narrowed to them for the call); with l->fused_act set by the last
 * forward (fused), the backward through that activation too, dy the
 * gradient of its output. */
static gantry_status layer_backward(gantry_layer *l, size_t group, const gantry_tensor *dy, int mode, int need_dx,
                                    int fused)
{
    const gantry_tensor *x_all = l->x;
    gantry_tensor *y_all = l->y, *act_y = fused ? l->fused_act->y : NULL;
    gantry_tensor x, y, ay;
    if (group != LAYER_ALL_GROUPS && l->groups != 1) {
        size_t rows = x_all->shape[0] / l->groups;
        x = gantry__rows(x_all, group * rows, rows);
        l->x = &x;
        if (!fused) { /* a fused batch norm's own y is not this forward's (an earlier one's, or none) */
            y = gantry__rows(y_all, group * rows, rows);
            l->y = &y;
        }
        if (act_y) {
            ay = gantry__rows(act_y, group * rows, rows);
            act_y = &ay;
        }
        l->group = group;
    }
    gantry_status s = fused ? gantry__batchnorm_act_backward(l, act_y, dy, mode, need_dx)
                            : l->cls->backward(l, dy, mode, need_dx);
    l->x = x_all;
    l->y = y_all;
    l->group = LAYER_ALL_GROUPS;
    return s;
}

static gantry_status backward_from(gantry_seq *seq, size_t layer, size_t group, const gantry_tensor *dy,
                                   int param_grads, gantry_tensor **dx);

gantry_status gantry_seq_backward_from(gantry_seq *seq, size_t layer, const gantry_tensor *dy, int param_grads,
                                       gantry_tensor **dx)
{
    return backward_from(seq, layer, LAYER_ALL_GROUPS, dy, param_grads, dx);
}

gantry_status gantry__seq_backward_group(gantry_seq *seq, size_t group, const gantry_tensor *dy, int param_grads,
                                         gantry_tensor **dx)
{
    CHECK_SEQ(seq);
    if (seq->nlayers == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_backward: the Sequential has no layers");
    if (group >= seq->groups)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_backward: group %zu of a forward of %zu", group,
                                seq->groups);
    return backward_from(seq, seq->nlayers - 1, group, dy, param_grads, dx);
}

static gantry_status backward_from(gantry_seq *seq, size_t layer, size_t group, const gantry_tensor *dy,
                                   int param_grads, gantry_tensor **dx)
{
    CHECK_SEQ(seq);
    if (layer >= seq->nlayers)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_backward: layer %zu of %zu", layer, seq->nlayers);
    if (!dy)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_backward: gradient is NULL");
    if (!seq->forwarded)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "seq_backward: no forward pass to differentiate");
    if (dy->be != seq->be)
        return gantry_set_error(GANTRY_BACKEND_MISMATCH, "seq_backward: gradient on another backend");
    int mode = param_grads ? LAYER_GRADS_ADD : 0;
    if (param_grads && seq->grads_deferred) {
        if (layer + 1 == seq->nlayers) /* every layer below writes its gradients */
            mode = LAYER_GRADS_SET;
        else
            GANTRY_TRY(gantry__seq_settle_grads(seq));
        seq->grads_deferred = 0;
    }
    /* Below the lowest layer with parameters, input gradients serve only a
     * caller that asked for *dx (a Flatten in front of D's first Linear
     * made that Linear compute one for nothing: 8% of a GAN step). */
    size_t lowest = 0;
    while (lowest < layer && seq->layers[lowest]->nparams == 0)
        lowest++;
    const gantry_tensor *cur = dy;
    for (size_t i = layer + 1; i-- > 0;) {
        gantry_layer *l = seq->layers[i];
        int need_dx = dx != NULL || (param_grads && i > lowest);
        int fused = i > 0 && seq->layers[i - 1]->fused_act == l;
        if (fused) { /* this activation and the batch norm below it, in one op */
            if (!need_dx)
                break;
            l = seq->layers[--i];
            need_dx = dx != NULL || (param_grads && i > lowest);
        }
        gantry_status s = layer_backward(l, group, cur, mode, need_dx, fused);
        if (s) {
            if (mode == LAYER_GRADS_SET) /* some were written, some not: still all owed a zero */
                seq->grads_deferred = 1;
            return s;
        }
        if (!need_dx)
            break;
        cur = l->dx;
    }
    if (dx)
        *dx = (gantry_tensor *)cur;
    return GANTRY_OK;
}

gantry_status gantry_seq_zero_grad(gantry_seq *seq)
{
    CHECK_SEQ(seq);
    for (size_t i = 0; i < seq->nparams; i++) {
        gantry_status s = gantry_op_fill(seq->params[i].grad, 0.0f);
        if (s)
            return s;
    }
    seq->grads_deferred = 0;
    return GANTRY_OK;
}

void gantry__seq_defer_zero_grad(gantry_seq *seq)
{
    seq->grads_deferred = seq->nparams > 0;
}

int gantry__seq_rows_independent(const gantry_seq *seq)
{
    for (size_t i = 0; i < seq->nlayers; i++)
        if (!seq->layers[i]->cls->rows_independent)
            return 0;
    return 1;
}

int gantry__seq_groupable(const gantry_seq *seq)
{
    for (size_t i = 0; i < seq->nlayers; i++)
        if (!seq->layers[i]->cls->groupable)
            return 0;
    return 1;
}

gantry_status gantry__seq_settle_grads(gantry_seq *seq)
{
    return seq->grads_deferred ? gantry_seq_zero_grad(seq) : GANTRY_OK;
}

size_t gantry_seq_param_count(const gantry_seq *seq)
{
    return seq ? seq->nparams : 0;
}

const gantry_param *gantry_seq_param(const gantry_seq *seq, size_t i)
{
    return (seq && i < seq->nparams) ? &seq->params[i] : NULL;
}

size_t gantry_seq_state_count(const gantry_seq *seq)
{
    return seq ? seq->nstate : 0;
}

const gantry_param *gantry_seq_state(const gantry_seq *seq, size_t i)
{
    return (seq && i < seq->nstate) ? &seq->state[i] : NULL;
}

size_t gantry_seq_layer_count(const gantry_seq *seq)
{
    return seq ? seq->nlayers : 0;
}

const char *gantry_seq_layer_describe(const gantry_seq *seq, size_t i, char *buf, size_t size)
{
    if (!seq || i >= seq->nlayers || !buf || !size)
        return "";
    seq->layers[i]->cls->describe(seq->layers[i], buf, size);
    return buf;
}

gantry_status gantry_seq_set_virtual_batchnorm(gantry_seq *seq, gantry_bn_mode mode)
{
    CHECK_SEQ(seq);
    if (mode != GANTRY_BN_BATCH && mode != GANTRY_BN_VIRTUAL && mode != GANTRY_BN_REFERENCE)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "batch norm mode %d", (int)mode);
    for (size_t i = 0; i < seq->nlayers; i++)
        gantry__batchnorm_set_virtual(seq->layers[i], (int)mode);
    return GANTRY_OK;
}

gantry_status gantry_seq_set_batchnorm_sync(gantry_seq *seq, gantry_stats_reduce reduce, void *user)
{
    CHECK_SEQ(seq);
    for (size_t i = 0; i < seq->nlayers; i++)
        gantry__batchnorm_set_sync(seq->layers[i], reduce, user);
    return GANTRY_OK;
}

gantry_status gantry_seq_clamp_params(gantry_seq *seq, float lo, float hi)
{
    CHECK_SEQ(seq);
    for (size_t i = 0; i < seq->nparams; i++) {
        gantry_status s = gantry_op_clamp(seq->params[i].value, lo, hi);
        if (s)
            return s;
    }
    return GANTRY_OK;
}
