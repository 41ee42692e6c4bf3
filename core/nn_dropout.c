/* The Dropout layer: an inverted-dropout mask drawn from Philox per
 * training forward (gantry_op_dropout_mask), identity in evaluation. */
#include <stdio.h>

#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

typedef struct dropout_priv {
    float p;
    uint64_t seed, offset; /* the mask stream: advances with every training forward */
    gantry_tensor *mask;
    int masked; /* the last forward applied a mask */
} dropout_priv;

static gantry_status dropout_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    dropout_priv *p = l->priv;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, x->ndim, x->shape));
    p->masked = training && p->p > 0.0f;
    if (!p->masked)
        return gantry_tensor_copy(l->y, x);
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->mask, x->ndim, x->shape));
    GANTRY_TRY(gantry_op_dropout_mask(p->mask, p->p, p->seed, p->offset));
    p->offset += gantry_philox_uniform_blocks(x->numel);
    return gantry_op_mul(x, p->mask, l->y);
}

static gantry_status dropout_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    (void)param_grads;
    dropout_priv *p = l->priv;
    if (!need_dx)
        return GANTRY_OK;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->dx, l->x->ndim, l->x->shape));
    return p->masked ? gantry_op_mul(dy, p->mask, l->dx) : gantry_tensor_copy(l->dx, dy);
}

static gantry_status dropout_init(gantry_layer *l, uint64_t seed, uint64_t *offset)
{
    dropout_priv *p = l->priv;
    /* Masks get a stream of their own, derived from the model seed and the
     * layer's place in the initialisation order. */
    p->seed = seed ^ 0x64726f706f7574ull ^ (*offset * 0x9e3779b97f4a7c15ull);
    p->offset = 0;
    return GANTRY_OK;
}

static void dropout_describe(const gantry_layer *l, char *buf, size_t size)
{
    snprintf(buf, size, "Dropout(p=%g)", (double)((const dropout_priv *)l->priv)->p);
}

static void dropout_destroy(gantry_layer *l)
{
    gantry_tensor_destroy(((dropout_priv *)l->priv)->mask);
}

static const layer_class dropout_class = {
    .name = "Dropout",
    .forward = dropout_forward,
    .backward = dropout_backward,
    .init = dropout_init,
    .describe = dropout_describe,
    .destroy = dropout_destroy,
};

gantry_status gantry__dropout_create(gantry_backend *be, float p, gantry_layer **out_layer)
{
    if (!(p >= 0.0f && p < 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "Dropout(p=%g): p must be in [0, 1)", (double)p);
    GANTRY_TRY(gantry__layer_new(be, &dropout_class, sizeof(dropout_priv), out_layer));
    ((dropout_priv *)(*out_layer)->priv)->p = p;
    return GANTRY_OK;
}
