/* Internal: the layer interface that nn.c's Sequential drives and
 * nn_layers.c implements. */
#ifndef GANTRY_NN_LAYER_H
#define GANTRY_NN_LAYER_H

#include "core/tensor_impl.h"
#include "gantry/nn.h"

typedef struct gantry_layer gantry_layer;

typedef struct layer_class {
    const char *name;
    /* Sets l->y from x (kept in l->x for the backward pass). */
    gantry_status (*forward)(gantry_layer *l, const gantry_tensor *x, int training);
    /* Parameter gradients per param_grads (0, LAYER_GRADS_ADD or
     * LAYER_GRADS_SET); sets l->dx when need_dx. */
    gantry_status (*backward)(gantry_layer *l, const gantry_tensor *dy, int param_grads, int need_dx);
    /* Optional: draws initial parameters. */
    gantry_status (*init)(gantry_layer *l, uint64_t seed, uint64_t *offset);
    void (*describe)(const gantry_layer *l, char *buf, size_t size);
    void (*destroy)(gantry_layer *l);
    /* Row i of the output depends on row i of the input alone (no batch
     * statistics, no random draws), so batches can be stacked. */
    int rows_independent;
    /* A forward over l->groups equal groups of rows treats each group as a
     * batch of its own (rows_independent layers, and batch norm with
     * statistics per group), and a backward can differentiate one group
     * alone: it reads only that group's rows of x, y and dy, and its
     * statistics. */
    int groupable;
} layer_class;

#define LAYER_MAX_STATE 5
#define LAYER_ALL_GROUPS ((size_t)-1)

/* A backward pass's param_grads: 0 leaves the parameter gradients alone,
 * LAYER_GRADS_ADD adds to them, LAYER_GRADS_SET overwrites them without
 * reading them (the first backward after gantry__seq_defer_zero_grad: the
 * zero fill and the read of those zeros are skipped). */
#define LAYER_GRADS_ADD 1
#define LAYER_GRADS_SET 2

/* The beta (0 or 1) of the ops that add into a gradient buffer. */
static inline float gantry__grad_beta(int param_grads)
{
    return param_grads == LAYER_GRADS_SET ? 0.0f : 1.0f;
}

struct gantry_layer {
    const layer_class *cls;
    gantry_backend *be;
    const gantry_tensor *x; /* input of the last forward pass */
    gantry_tensor *y;       /* output: owned, or &y_view for reshapes */
    gantry_tensor *dx;      /* input gradient: owned, or &dx_view */
    gantry_tensor y_view, dx_view;
    /* Set by the Sequential: the last forward's batch was `groups` equal
     * groups of rows (1: one batch); a backward differentiates group
     * `group` alone, or every row when it is LAYER_ALL_GROUPS. */
    size_t groups, group;
    /* state_dict entries with local names ("weight"); parameters first. */
    gantry_param state[LAYER_MAX_STATE];
    size_t nparams, nstate;
    void *priv; /* layer-specific data */
    /* Batch norm: the activation layer after it that its last forward
     * applied in the same op (its own output was not computed), or NULL. */
    struct gantry_layer *fused_act;
};

/* Constructors; each returns a layer owned by the caller (destroy with
 * gantry__layer_destroy). */
gantry_status gantry__linear_create(gantry_backend *be, size_t in, size_t out, gantry_layer **out_layer);
gantry_status gantry__batchnorm_create(gantry_backend *be, size_t features, float eps, float momentum,
                                       gantry_layer **out_layer);
gantry_status gantry__activation_create(gantry_backend *be, gantry_activation act, float param,
                                        gantry_layer **out_layer);
/* ndim == 0: Flatten; otherwise Unflatten(1, shape). */
gantry_status gantry__reshape_create(gantry_backend *be, int ndim, const size_t *shape, gantry_layer **out_layer);
void gantry__layer_destroy(gantry_layer *l);

/* Whether batch norm layer l and activation layer next can run as one op
 * each way in a forward with this `training` (see nn_layers.c); the fused
 * forward (x the batch norm's input; sets l->fused_act), and the backward
 * through both, from dy, the gradient of act's output act_y (rows of one
 * group when l->group says so). */
int gantry__batchnorm_act_fusable(const gantry_layer *l, const gantry_layer *next, int training);
gantry_status gantry__batchnorm_act_forward(gantry_layer *l, gantry_layer *act, const gantry_tensor *x);
gantry_status gantry__batchnorm_act_backward(gantry_layer *l, const gantry_tensor *act_y, const gantry_tensor *dy,
                                             int param_grads, int need_dx);
/* Sets a BatchNorm layer's gantry_bn_mode (no-op for other layers). */
void gantry__batchnorm_set_virtual(gantry_layer *l, int mode);
/* Sets a BatchNorm layer's statistics reduction (no-op for other layers). */
void gantry__batchnorm_set_sync(gantry_layer *l, gantry_stats_reduce reduce, void *user);
/* Conv2d and ConvTranspose2d as the spec says, square kernels. */
gantry_status gantry__conv_create(gantry_backend *be, const gantry_conv_spec *spec, gantry_layer **out_layer);
/* Dropout(p); masks from Philox (seed, a per-layer counter). */
gantry_status gantry__dropout_create(gantry_backend *be, float p, gantry_layer **out_layer);
/* Minibatch discrimination: [N, A] -> [N, A + B] (B kernels of C dims). */
gantry_status gantry__minibatch_disc_create(gantry_backend *be, size_t in, size_t kernels, size_t dims,
                                            gantry_layer **out_layer);

/* For layer implementations: a zeroed layer of class `cls` with priv_size
 * bytes of private data; a state entry (with_grad: a trainable parameter). */
gantry_status gantry__layer_new(gantry_backend *be, const layer_class *cls, size_t priv_size, gantry_layer **out);
gantry_status gantry__layer_add_state(gantry_layer *l, const char *name, size_t n, int with_grad);
/* A 2-D alias [numel/cols, cols] of t, without allocation. */
gantry_tensor gantry__as_matrix(const gantry_tensor *t, size_t cols);
/* Rows [first, first + count) of t (along dimension 0), without allocation. */
gantry_tensor gantry__rows(const gantry_tensor *t, size_t first, size_t count);
/* U(-bound, bound) from Philox (seed, *offset), drawn on the host. */
gantry_status gantry__fill_uniform_host(gantry_tensor *t, uint64_t seed, uint64_t *offset, float bound);
/* N(mean, std) from Philox (seed, *offset), drawn on the host. */
gantry_status gantry__fill_normal_host(gantry_tensor *t, uint64_t seed, uint64_t *offset, float mean, float std);

/* Marks every parameter gradient of seq as zero without writing it: the
 * next backward pass through all layers overwrites them (LAYER_GRADS_SET)
 * instead of adding to zeros, saving a pass over every gradient buffer.  A
 * backward from an inner layer fills the zeros first, and so does
 * gantry__seq_settle_grads, which anything that reads the gradients before
 * a backward must call (gantry_optim_step does). */
void gantry__seq_defer_zero_grad(gantry_seq *seq);
/* Whether every layer of seq is rows_independent: two batches through it
 * stacked into one give each batch's own outputs. */
int gantry__seq_rows_independent(const gantry_seq *seq);
/* Whether every layer of seq is groupable (see layer_class). */
int gantry__seq_groupable(const gantry_seq *seq);
/* gantry_seq_forward of `groups` batches stacked in x (equal numbers of
 * rows), each normalised by its own batch statistics: the outputs, and the
 * running statistics, of `groups` forward passes in order, from one pass
 * whose products are `groups` times as tall.  seq must be groupable. */
gantry_status gantry__seq_forward_groups(gantry_seq *seq, const gantry_tensor *x, int training, size_t groups,
                                         gantry_tensor **y);
/* gantry_seq_backward of group `group` of the last (grouped) forward: dy
 * holds that group's rows; the gradients of a forward of that batch alone. */
gantry_status gantry__seq_backward_group(gantry_seq *seq, size_t group, const gantry_tensor *dy, int param_grads,
                                         gantry_tensor **dx);
gantry_status gantry__seq_settle_grads(gantry_seq *seq);

/* Gives *t exactly this shape, reallocating only when it needs more floats
 * than its buffer holds (a larger batch), so steady-state steps allocate
 * nothing, even when the batch alternates between sizes. */
gantry_status gantry__ensure_tensor(gantry_backend *be, gantry_tensor **t, int ndim, const size_t *shape);

#endif
