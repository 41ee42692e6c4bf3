/* The minibatch-discrimination layer. */
#include <math.h>
#include <stdio.h>

#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

/* Salimans et al. 2016, section 3.2: M = x T viewed [N, B, C];
 * o[i, b] = sum_j exp(-||M[i, b] - M[j, b]||_1); y = [x, o]. */
typedef struct mbd_priv {
    size_t in, kernels, dims;
    gantry_tensor *m, *dm, *dout;
} mbd_priv;

static gantry_status mbd_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    (void)training;
    mbd_priv *p = l->priv;
    if (x->ndim != 2 || x->shape[1] != p->in) {
        char b[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "MinibatchDiscrimination(%zu, %zu, %zu): input %s is not [N, %zu]",
                                p->in, p->kernels, p->dims, gantry__shape_str(x, b, sizeof b), p->in);
    }
    size_t n = x->shape[0], width = p->in + p->kernels;
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->m, 3, (size_t[]){ n, p->kernels, p->dims }));
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->dout, 2, (size_t[]){ n, p->kernels }));
    GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, 2, (size_t[]){ n, width }));
    gantry_tensor m2 = gantry__as_matrix(p->m, p->kernels * p->dims);
    gantry_tensor t2 = gantry__as_matrix(l->state[0].value, p->kernels * p->dims);
    GANTRY_TRY(gantry_op_gemm(0, 0, 1.0f, x, &t2, 0.0f, &m2));
    GANTRY_TRY(gantry_op_minibatch_disc_forward(p->m, p->dout)); /* dout as scratch for o */
    GANTRY_TRY(gantry_op_copy_rows(x, p->in, 0, l->y, width, 0, n, p->in));
    return gantry_op_copy_rows(p->dout, p->kernels, 0, l->y, width, p->in, n, p->kernels);
}

static gantry_status mbd_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    mbd_priv *p = l->priv;
    size_t n = l->x->shape[0], width = p->in + p->kernels;
    if (dy->numel != n * width)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "MinibatchDiscrimination: gradient of %zu elements for %zu",
                                dy->numel, n * width);
    GANTRY_TRY(gantry__ensure_tensor(l->be, &p->dm, 3, p->m->shape));
    GANTRY_TRY(gantry_op_copy_rows(dy, width, p->in, p->dout, p->kernels, 0, n, p->kernels));
    GANTRY_TRY(gantry_op_minibatch_disc_backward(p->m, p->dout, p->dm));
    gantry_tensor dm2 = gantry__as_matrix(p->dm, p->kernels * p->dims);
    if (param_grads) {
        gantry_tensor dt2 = gantry__as_matrix(l->state[0].grad, p->kernels * p->dims);
        GANTRY_TRY(gantry_op_gemm(1, 0, 1.0f, l->x, &dm2, gantry__grad_beta(param_grads), &dt2));
    }
    if (need_dx) {
        GANTRY_TRY(gantry__ensure_tensor(l->be, &l->dx, 2, l->x->shape));
        GANTRY_TRY(gantry_op_copy_rows(dy, width, 0, l->dx, p->in, 0, n, p->in));
        gantry_tensor t2 = gantry__as_matrix(l->state[0].value, p->kernels * p->dims);
        GANTRY_TRY(gantry_op_gemm(0, 1, 1.0f, &dm2, &t2, 1.0f, l->dx));
    }
    return GANTRY_OK;
}

static gantry_status mbd_init(gantry_layer *l, uint64_t seed, uint64_t *offset)
{
    /* Small weights keep the L1 distances, and so exp(-d), in range at the start. */
    return gantry__fill_normal_host(l->state[0].value, seed, offset, 0.0f, 0.05f);
}

static void mbd_describe(const gantry_layer *l, char *buf, size_t size)
{
    const mbd_priv *p = l->priv;
    snprintf(buf, size, "MinibatchDiscrimination(%zu, kernels=%zu, dims=%zu)", p->in, p->kernels, p->dims);
}

static void mbd_destroy(gantry_layer *l)
{
    mbd_priv *p = l->priv;
    gantry_tensor_destroy(p->m);
    gantry_tensor_destroy(p->dm);
    gantry_tensor_destroy(p->dout);
}

static const layer_class mbd_class = {
    .name = "MinibatchDiscrimination",
    .forward = mbd_forward,
    .backward = mbd_backward,
    .init = mbd_init,
    .describe = mbd_describe,
    .destroy = mbd_destroy,
};

gantry_status gantry__minibatch_disc_create(gantry_backend *be, size_t in, size_t kernels, size_t dims,
                                            gantry_layer **out_layer)
{
    if (!in || !kernels || !dims)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "MinibatchDiscrimination(%zu, %zu, %zu): sizes must be positive",
                                in, kernels, dims);
    GANTRY_TRY(gantry__layer_new(be, &mbd_class, sizeof(mbd_priv), out_layer));
    gantry_layer *l = *out_layer;
    mbd_priv *p = l->priv;
    p->in = in;
    p->kernels = kernels;
    p->dims = dims;
    size_t shape[3] = { in, kernels, dims };
    gantry_status s = gantry__layer_add_state(l, "T", in * kernels * dims, 1);
    if (!s)
        s = gantry_tensor_reshape(l->state[0].value, 3, shape);
    if (!s)
        s = gantry_tensor_reshape(l->state[0].grad, 3, shape);
    if (!s)
        s = mbd_init(l, 0, &(uint64_t){ 0 });
    if (s) {
        gantry__layer_destroy(l);
        *out_layer = NULL;
    }
    return s;
}
