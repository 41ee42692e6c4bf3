/* gantry: optimizers over a Sequential's parameters (torch.optim formulas). */
#ifndef GANTRY_OPTIM_H
#define GANTRY_OPTIM_H

#include "gantry/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gantry_optim_kind {
    GANTRY_OPTIM_SGD = 0,
    GANTRY_OPTIM_ADAM = 1,
    GANTRY_OPTIM_RMSPROP = 2,
} gantry_optim_kind;

typedef struct gantry_optim_config {
    gantry_optim_kind kind;
    float lr;
    float momentum;     /* SGD */
    float beta1, beta2; /* Adam */
    float alpha;        /* RMSProp smoothing */
    float eps;          /* Adam, RMSProp */
    float weight_decay;
} gantry_optim_config;

/* PyTorch's defaults for `kind` (SGD lr 1e-3 here, since torch has none). */
GANTRY_API gantry_optim_config gantry_optim_defaults(gantry_optim_kind kind);

typedef struct gantry_optim gantry_optim;

/* Optimises the trainable parameters of `seq`, which must outlive the
 * optimizer.  State (moments) starts at zero.  The caller owns *out. */
GANTRY_API gantry_status gantry_optim_create(gantry_seq *seq, const gantry_optim_config *config,
                                             gantry_optim **out);
GANTRY_API void gantry_optim_destroy(gantry_optim *opt);
/* One update from the current gradients. */
GANTRY_API gantry_status gantry_optim_step(gantry_optim *opt);
GANTRY_API uint64_t gantry_optim_steps(const gantry_optim *opt);
/* Copies the per-parameter state and step count of src into dst, two
 * optimizers of one kind over Sequentials of the same shapes (a snapshot
 * for unrolled GANs). */
GANTRY_API gantry_status gantry_optim_copy_state(gantry_optim *dst, const gantry_optim *src);

/* The per-parameter state, for saving and restoring a training run, named
 * as in torch.optim's state_dict: Adam keeps "exp_avg" and "exp_avg_sq",
 * RMSProp "square_avg", SGD with momentum "momentum_buffer", SGD without
 * none.  Slot s of parameter i (gantry_seq_param order) has the parameter's
 * shape; the optimizer owns it (write it with gantry_tensor_write). */
GANTRY_API size_t gantry_optim_slot_count(const gantry_optim *opt);
GANTRY_API const char *gantry_optim_slot_name(const gantry_optim *opt, size_t slot);
GANTRY_API gantry_tensor *gantry_optim_slot(gantry_optim *opt, size_t param, size_t slot);
/* The update count, which Adam's bias corrections use: restored with the slots. */
GANTRY_API void gantry_optim_set_steps(gantry_optim *opt, uint64_t steps);
/* A new learning rate for the next updates (a schedule's step); the state
 * is kept. */
GANTRY_API gantry_status gantry_optim_set_lr(gantry_optim *opt, float lr);

#ifdef __cplusplus
}
#endif
#endif
