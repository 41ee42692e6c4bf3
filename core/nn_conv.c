/* Conv2d and ConvTranspose2d through the backend's convolution ops, with
 * PyTorch's weight layouts: Conv2d [out, in, k, k], ConvTranspose2d
 * [in, out, k, k].
 *
 * ConvTranspose2d is the adjoint of the convolution from y-space to
 * x-space: its forward is that convolution's conv2d_backward_data, its input
 * gradient the convolution's forward, its weight gradient the convolution's
 * conv2d_backward_weight with image and output exchanged.  So both layers
 * use one geometry: that of the convolution whose input has the larger
 * spatial size. */
#include <math.h>
#include <stdio.h>

#include "core/nn_layer.h"
#include "gantry/ops.h"

typedef struct conv_priv {
    int transposed, bias;
    size_t in, out, k, stride, padding;
    gantry_conv_geometry g; /* of the last forward */
    gantry_tensor *work;    /* the convolution ops' scratch */
    /* What work still holds for the next pass (GANTRY_CONV_IMAGE_IN_WORK
     * for the image side, GANTRY_CONV_OUTSIDE_IN_WORK for the output side;
     * only ever of the forward's input x, the one tensor that stays the
     * same until the backward) */
    int kept;
} conv_priv;

static const char *conv_name(const conv_priv *p)
{
    return p->transposed ? "ConvTranspose2d" : "Conv2d";
}

static gantry_status conv_bad_input(const conv_priv *p, const gantry_tensor *x, const char *why)
{
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s(%zu, %zu, %zu, %zu, %zu): input %s %s", conv_name(p), p->in,
                            p->out, p->k, p->stride, p->padding, gantry__shape_str(x, b, sizeof b), why);
}

/* The convolution geometry for input x; for the transposed layer, that of
 * the convolution from its output back to its input. */
static gantry_status conv_geometry(conv_priv *p, const gantry_tensor *x)
{
    if ((x->ndim != 4 && x->ndim != 2) || x->shape[1] != p->in)
        return conv_bad_input(p, x,
                              p->in == 1 ? "is not [N, 1, H, W]" : "is not [N, in_channels, H, W] nor [N, in_channels]");
    /* [N, in] is [N, in, 1, 1]: the same values in the same order */
    size_t xh = x->ndim == 4 ? x->shape[2] : 1, xw = x->ndim == 4 ? x->shape[3] : 1;
    gantry_conv_geometry g = { .n = x->shape[0], .kh = p->k, .kw = p->k, .sh = p->stride, .sw = p->stride,
                               .ph = p->padding, .pw = p->padding };
    if (!p->transposed) {
        g.c = p->in;
        g.h = xh;
        g.w = xw;
    } else {
        size_t h = xh, w = xw;
        if ((h - 1) * p->stride + p->k <= 2 * p->padding || (w - 1) * p->stride + p->k <= 2 * p->padding)
            return conv_bad_input(p, x, "is too small for this padding");
        g.c = p->out;
        g.h = (h - 1) * p->stride + p->k - 2 * p->padding;
        g.w = (w - 1) * p->stride + p->k - 2 * p->padding;
    }
    GANTRY_TRY(gantry_conv_geometry_finish(&g));
    if (p->transposed && (g.oh != xh || g.ow != xw))
        return conv_bad_input(p, x, "does not map back onto itself");
    p->g = g;
    return GANTRY_OK;
}

/* The scratch the convolution ops ask for at geometry g: (c k k + o) x
 * n oh ow floats, o the convolution's output channels. */
static gantry_status conv_work(gantry_layer *l, conv_priv *p)
{
    const gantry_conv_geometry *g = &p->g;
    size_t o = p->transposed ? p->in : p->out;
    return gantry__ensure_tensor(l->be, &p->work, 1, (size_t[]){ (g->c * g->kh * g->kw + o) * g->n * g->oh * g->ow });
}

static gantry_status conv_forward(gantry_layer *l, const gantry_tensor *x, int training)
{
    (void)training;
    conv_priv *p = l->priv;
    GANTRY_TRY(conv_geometry(p, x));
    const gantry_conv_geometry *g = &p->g;
    GANTRY_TRY(conv_work(l, p));
    gantry_tensor *w = l->state[0].value;
    if (!p->transposed) {
        GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, 4, (size_t[]){ g->n, p->out, g->oh, g->ow }));
        GANTRY_TRY(gantry_op_conv2d_forward(x, w, l->y, g, 0, p->work));
        p->kept = GANTRY_CONV_IMAGE_IN_WORK; /* x is Conv2d's image side */
    } else {
        GANTRY_TRY(gantry__ensure_tensor(l->be, &l->y, 4, (size_t[]){ g->n, p->out, g->h, g->w }));
        GANTRY_TRY(gantry_op_conv2d_backward_data(x, w, l->y, g, 0, p->work));
        p->kept = GANTRY_CONV_OUTSIDE_IN_WORK; /* and ConvTranspose2d's output side */
    }
    return p->bias ? gantry_op_bias_add(l->y, l->state[1].value) : GANTRY_OK;
}

/* The passes share the work buffer: the weight gradient reuses what the
 * forward left of x there, the input gradient what the weight gradient left
 * of dy (within one call: dy differs between calls). */
static gantry_status conv_backward(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx)
{
    conv_priv *p = l->priv;
    const gantry_conv_geometry *g = &p->g;
    if (dy->numel != l->y->numel)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: gradient of %zu elements for an output of %zu",
                                conv_name(p), dy->numel, l->y->numel);
    gantry_tensor *w = l->state[0].value, *dw = l->state[0].grad;
    /* the convolution's image side and output side */
    const gantry_tensor *image = p->transposed ? dy : l->x, *outside = p->transposed ? l->x : dy;
    int kept = p->kept;
    p->kept = 0; /* the passes below overwrite work */
    if (param_grads) {
        int flags = (param_grads == LAYER_GRADS_ADD ? GANTRY_CONV_ACCUMULATE : 0) | kept;
        GANTRY_TRY(gantry_op_conv2d_backward_weight(image, outside, dw, g, flags, p->work));
        if (p->bias)
            GANTRY_TRY(gantry_op_bias_grad(dy, l->state[1].grad, param_grads == LAYER_GRADS_ADD));
        /* work now holds both sides: of dy for this call only */
        kept = GANTRY_CONV_IMAGE_IN_WORK | GANTRY_CONV_OUTSIDE_IN_WORK;
    } else {
        kept = 0;
    }
    if (need_dx) {
        GANTRY_TRY(gantry__ensure_tensor(l->be, &l->dx, l->x->ndim, l->x->shape));
        if (!p->transposed)
            GANTRY_TRY(gantry_op_conv2d_backward_data(dy, w, l->dx, g, kept & GANTRY_CONV_OUTSIDE_IN_WORK, p->work));
        else
            GANTRY_TRY(gantry_op_conv2d_forward(dy, w, l->dx, g, kept & GANTRY_CONV_IMAGE_IN_WORK, p->work));
    } else if (param_grads) {
        /* what stays valid after the call: the side that is x */
        p->kept = p->transposed ? GANTRY_CONV_OUTSIDE_IN_WORK : GANTRY_CONV_IMAGE_IN_WORK;
    }
    return GANTRY_OK;
}

static gantry_status conv_init(gantry_layer *l, uint64_t seed, uint64_t *offset)
{
    const conv_priv *p = l->priv;
    /* PyTorch: kaiming_uniform_(a = sqrt(5)) -> 1/sqrt(fan_in), fan_in from
     * weight dim 1 times the kernel area (out for ConvTranspose2d). */
    size_t fan_in = (p->transposed ? p->out : p->in) * p->k * p->k;
    float bound = (float)(1.0 / sqrt((double)fan_in));
    GANTRY_TRY(gantry__fill_uniform_host(l->state[0].value, seed, offset, bound));
    return p->bias ? gantry__fill_uniform_host(l->state[1].value, seed, offset, bound) : GANTRY_OK;
}

static void conv_describe(const gantry_layer *l, char *buf, size_t size)
{
    const conv_priv *p = l->priv;
    snprintf(buf, size, "%s(%zu, %zu, kernel_size=%zu, stride=%zu, padding=%zu%s)", conv_name(p), p->in, p->out, p->k,
             p->stride, p->padding, p->bias ? "" : ", bias=False");
}

static void conv_destroy(gantry_layer *l)
{
    conv_priv *p = l->priv;
    gantry_tensor_destroy(p->work);
}

static const layer_class conv_class = {
    .name = "Conv",
    .forward = conv_forward,
    .backward = conv_backward,
    .init = conv_init,
    .describe = conv_describe,
    .destroy = conv_destroy,
    .rows_independent = 1,
};

gantry_status gantry__conv_create(gantry_backend *be, const gantry_conv_spec *spec, gantry_layer **out_layer)
{
    const int transposed = spec->transposed != 0;
    const size_t in = spec->in, out = spec->out, k = spec->kernel, stride = spec->stride, padding = spec->padding;
    if (!in || !out || !k || !stride || padding >= k)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "%s(%zu, %zu, %zu, %zu, %zu): sizes, kernel and stride must be positive and "
                                "padding smaller than the kernel",
                                transposed ? "ConvTranspose2d" : "Conv2d", in, out, k, stride, padding);
    GANTRY_TRY(gantry__layer_new(be, &conv_class, sizeof(conv_priv), out_layer));
    gantry_layer *l = *out_layer;
    conv_priv *p = l->priv;
    *p = (conv_priv){ .transposed = transposed, .bias = !spec->no_bias, .in = in, .out = out, .k = k,
                      .stride = stride, .padding = padding };
    size_t shape[4] = { transposed ? in : out, transposed ? out : in, k, k };
    gantry_status s = gantry__layer_add_state(l, "weight", in * out * k * k, 1);
    if (!s)
        s = gantry_tensor_reshape(l->state[0].value, 4, shape);
    if (!s)
        s = gantry_tensor_reshape(l->state[0].grad, 4, shape);
    if (!s && p->bias)
        s = gantry__layer_add_state(l, "bias", out, 1);
    if (!s)
        s = conv_init(l, 0, &(uint64_t){ 0 });
    if (s) {
        gantry__layer_destroy(l);
        *out_layer = NULL;
    }
    return s;
}
