/* Internal: the GAN struct, the interface each GAN family implements
 * (bce.c, wgan.c, lsgan.c, began.c, sgan.c) and the functions the files of
 * core/gan/ share with each other and with the checkpoint code. */
#ifndef GANTRY_GAN_IMPL_H
#define GANTRY_GAN_IMPL_H

#include <stdio.h>

#include "core/tensor_impl.h"
#include "gantry/gan.h"
#include "core/state_io.h"

typedef struct gan_family gan_family;

struct gantry_gan {
    gantry_backend *be;
    gantry_gan_config config;
    const gan_family *family;
    void *family_state; /* the family's own struct, made by its create method */
    int conv;           /* DCGAN-style networks */
    int conditional;    /* labels go into G and D */
    gantry_seq *g, *d;
    gantry_optim *opt_g, *opt_d;
    uint64_t steps;
    uint64_t noise_offset; /* next Philox block of the training noise stream */
    uint64_t label_offset; /* next Philox block of the fake-label / labelled-draw stream */
    /* Data-parallel training (gantry_gan_set_data_parallel): this process is
     * shard `rank` of `world`, and grad_hook runs before each update. */
    unsigned shard_rank, shard_world;
    gantry_gan_grad_hook grad_hook;
    void *grad_user;
    /* Step tensors, allocated once. */
    gantry_tensor *real;    /* [N, C, H, W]: the real batch on the device */
    gantry_tensor *z;       /* [N, z_dim]: G's noise */
    gantry_tensor *dlogits; /* [N, D's outputs]: the gradient of D's output */
    gantry_tensor *scalar;  /* [1]: a loss or a mean on its way to the host */
    /* The tricks' state, each owned by the file of its trick; NULL when off. */
    struct gan_cond *cond;       /* condition.c: cgan, cdcgan */
    struct gan_d_stack *d_stack; /* d_step.c: D's stacked update */
    struct gan_g_pair *g_pair;   /* noise.c: G's stacked pair */
    struct gan_vbn *vbn;         /* vbn.c: --vbn, --ref-bn */
    struct gan_unroll *unroll;   /* unroll.c: --unroll */
    struct gan_fm *fm;           /* feature_matching.c: --feature-matching */
};

/* ---- the family interface ------------------------------------------------ */

/* How D is trained and what G's objective is: what differs between the GAN
 * variants.  Optional methods may be NULL; the comment says what the shared
 * code does then. */
struct gan_family {
    /* D has one logit per class (and classifies), instead of one output. */
    int d_classes;
    /* Optional: the paper's settings over the shared defaults. */
    void (*defaults)(gantry_gan_config *c);
    /* Optional: what the family refuses, after the shared checks. */
    gantry_status (*check)(const gantry_gan_config *c);
    /* Optional: D (or its twin for --unroll) into d; NULL: the shared MLP or
     * conv discriminator (networks.c). */
    gantry_status (*build_discriminator)(const gantry_gan *gan, gantry_seq *d);
    /* Optional: makes gan->family_state (the family's scratch tensors) once
     * the networks exist, and frees it, also after a create that failed
     * half-way. */
    gantry_status (*create)(gantry_gan *gan);
    void (*destroy)(gantry_gan *gan);
    /* Optional: a whole training step, for a family that trains its own way
     * (BEGAN); NULL: Algorithm 1 (step.c) with the tricks, which calls the
     * methods below; D's stacked update and G's stacked pair are for it alone. */
    gantry_status (*step)(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc);
    /* D's loss on its output `out` for a real (target 1, or the smoothed
     * label) or a fake batch; the gradient goes to dout.  *loss is the term
     * of D's objective, *mean_out the mean probability or score. */
    gantry_status (*d_loss)(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dout, double *loss,
                            double *mean_out);
    /* Optional: one more term of D's objective, backpropagated into D before
     * D's update (sgan's labelled batch); it adds to acc. */
    gantry_status (*d_extra_term)(gantry_gan *gan, gantry_gan_stats *acc);
    /* Optional: the model-specific stats of one D update from its mean
     * outputs on the real and the fake batch. */
    void (*d_stats)(gantry_gan_stats *acc, double out_real, double out_fake);
    /* G's objective on D's output for the fake batch; the gradient goes to
     * gan->dlogits. */
    gantry_status (*g_loss)(gantry_gan *gan, const gantry_tensor *out, double *loss);
    /* Optional: takes labelled examples (sgan); NULL: refused. */
    gantry_status (*set_labeled)(gantry_gan *gan, const float *images, const uint8_t *labels, size_t n);
    /* Optional: the number the training state keeps as "k_t" (BEGAN's k_t),
     * and restoring it; NULL: 0, and nothing to restore.  The format has the
     * entry for every model. */
    float (*k_t)(const gantry_gan *gan);
    void (*set_k_t)(gantry_gan *gan, float k_t);
};

extern const gan_family gantry__gan_bce;   /* gan, cgan, dcgan, cdcgan */
extern const gan_family gantry__gan_wgan;  /* critic scores */
extern const gan_family gantry__gan_lsgan; /* least squares */
extern const gan_family gantry__gan_began; /* autoencoder D */
extern const gan_family gantry__gan_sgan;  /* K-class D */

/* bce.c, for sgan's D(x) = sigmoid(logsumexp(logits)): D's binary
 * cross-entropy on `logit` with its gradient into dlogit (probs: scratch of
 * logit's shape, may be dlogit), and G's as configured (nonsat or minimax). */
gantry_status gantry__gan_bce_d_loss(gantry_gan *gan, const gantry_tensor *logit, float target, gantry_tensor *probs,
                                     gantry_tensor *dlogit, double *loss, double *mean_out);
gantry_status gantry__gan_bce_g_loss(gantry_gan *gan, const gantry_tensor *logit, gantry_tensor *dlogit,
                                     double *loss);

/* ---- shared machinery ---------------------------------------------------- */

/* Each trick's _create below leaves its state NULL when the model does
 * without it; its _destroy frees whatever a create made, even half-way. */

/* A stream of its own for fake labels (condition.c) and labelled-batch
 * draws (sgan.c). */
#define GANTRY__LABEL_STREAM 0x6c6162656c73ull

static inline size_t gantry__gan_image_numel(const gantry_gan_config *c)
{
    return c->channels * c->height * c->width;
}

/* gan->scalar's value on the host. */
static inline gantry_status gantry__gan_item(gantry_gan *gan, double *out)
{
    float v;
    GANTRY_TRY(gantry_tensor_item(gan->scalar, &v));
    *out = v;
    return GANTRY_OK;
}

/* calloc, setting gan_create's error when it fails. */
void *gantry__gan_calloc(size_t count, size_t size);
/* create and destroy methods for a family whose state is one scratch
 * tensor shaped as D's output [N, D's outputs] (bce's probabilities,
 * lsgan's targets): gan->family_state is that tensor. */
gantry_status gantry__gan_output_scratch_create(gantry_gan *gan);
void gantry__gan_output_scratch_destroy(gantry_gan *gan);

/* models.c: the model table and the configuration checks. */
typedef struct gan_model {
    const char *name;
    const gan_family *family;
    int conv, conditional;
    const char *paper;
} gan_model;
const gan_model *gantry__gan_model(const char *name);
gantry_status gantry__gan_check_config(const gantry_gan_config *c, const gan_model *m);

/* networks.c */
size_t gantry__gan_d_outputs(const gantry_gan *gan);
/* k for the DCGAN paper's all-convolutional networks at S = 4 * 2^k
 * (square images of 32, 64 or 128: k = 3, 4, 5), 0 for other shapes. */
size_t gantry__gan_allconv_depth(const gantry_gan_config *c);
gantry_status gantry__gan_build_networks(gantry_gan *gan);
/* G and D of `config` as plans (state_io.h): the state entries they would
 * have, without allocating any; the caller destroys both. */
gantry_status gantry__gan_plan_networks(const gantry_gan_config *config, gantry_seq **g, gantry_seq **d);
/* D, or its snapshot for --unroll, into d. */
gantry_status gantry__gan_build_discriminator(const gantry_gan *gan, gantry_seq *d);

/* condition.c: cgan's and cdcgan's labels into G and D. */
gantry_status gantry__gan_cond_create(gantry_gan *gan);
void gantry__gan_cond_destroy(gantry_gan *gan);
/* Writes the conditioning tensors (one-hot, planes) for these labels. */
gantry_status gantry__gan_condition(gantry_gan *gan, const uint8_t *labels, size_t n);
/* Conditions a whole batch on the first m (<= batch) of `labels`, the rest
 * of the batch on labels[0]: sampling's last, partial chunk. */
gantry_status gantry__gan_condition_padded(gantry_gan *gan, const uint8_t *labels, size_t m);
/* The batch of labels the training noise draws for G (NULL: unconditional). */
uint8_t *gantry__gan_fake_labels(gantry_gan *gan);
/* The next uniform labels of the label stream into labels[0..batch). */
void gantry__gan_draw_labels(gantry_gan *gan, uint8_t *labels);
/* G's input for noise z [batch, z_dim] (conditional: with the current one-hot). */
gantry_status gantry__gan_g_input(gantry_gan *gan, gantry_tensor *z, gantry_tensor **in);
/* Conditional models: G's input rows `dst` = [z, the current one-hot]. */
gantry_status gantry__gan_g_input_into(gantry_gan *gan, const gantry_tensor *z, gantry_tensor *dst);
/* D's input for an image batch under the current conditioning. */
gantry_status gantry__gan_d_input(gantry_gan *gan, const gantry_tensor *image, const gantry_tensor **in);
/* Conditional models: D's input rows `dst` for an image batch. */
gantry_status gantry__gan_d_input_into(gantry_gan *gan, const gantry_tensor *image, gantry_tensor *dst);
/* The image part of D's input gradient. */
gantry_status gantry__gan_image_grad(gantry_gan *gan, gantry_tensor *dx, gantry_tensor **dimage);

/* noise.c: the training noise, and G's stacked pair. */
gantry_status gantry__gan_g_pair_create(gantry_gan *gan);
void gantry__gan_g_pair_destroy(gantry_gan *gan);
/* Forgets a fake left by a step that failed half-way. */
void gantry__gan_g_pair_reset(gantry_gan *gan);
/* Fresh noise (and, for conditional models, fresh uniform labels), then
 * G's output in training mode. */
gantry_status gantry__gan_generate(gantry_gan *gan, gantry_tensor **fake);
/* G's backward pass from the gradient of the last fake, into G's weights. */
gantry_status gantry__gan_g_backward(gantry_gan *gan, const gantry_tensor *dfake);

/* vbn.c: --vbn and --ref-bn. */
gantry_status gantry__gan_vbn_create(gantry_gan *gan);
void gantry__gan_vbn_destroy(gantry_gan *gan);
/* G's reference pass, which sets the statistics its batch norm uses next. */
gantry_status gantry__gan_vbn_pass(gantry_gan *gan);

/* d_step.c: D's update (the real and the fake batch stacked where D allows).
 * With the stacking, unconditional models' gan->real is a view of the
 * stacked input's real rows. */
gantry_status gantry__gan_d_stack_create(gantry_gan *gan);
void gantry__gan_d_stack_destroy(gantry_gan *gan);
gantry_status gantry__gan_d_step(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc);

/* step.c */
gantry_status gantry__gan_g_step(gantry_gan *gan, double *g_loss);
/* An optimizer step of `net` (G or D) by `opt`, between the data-parallel
 * hook's two calls (gantry_gan_set_data_parallel). */
gantry_status gantry__gan_update(gantry_gan *gan, gantry_seq *net, gantry_optim *opt);
/* The Philox offset of this shard's draw of `blocks` blocks (of a stream
 * at *offset), which then moves past every shard's draw: shard r of W
 * draws the r-th slice of what one process drawing all W slices draws. */
uint64_t gantry__gan_shard_draw(const gantry_gan *gan, uint64_t *offset, uint64_t blocks);

/* unroll.c: --unroll. */
gantry_status gantry__gan_unroll_create(gantry_gan *gan, const gantry_optim_config *oc);
void gantry__gan_unroll_destroy(gantry_gan *gan);
gantry_status gantry__gan_unrolled_g_step(gantry_gan *gan, const float *real, const uint8_t *labels,
                                          double *g_loss);

/* feature_matching.c: --feature-matching. */
gantry_status gantry__gan_fm_create(gantry_gan *gan);
void gantry__gan_fm_destroy(gantry_gan *gan);
/* Keeps the mean of D's features over the real rows of its last forward. */
gantry_status gantry__gan_fm_record_real(gantry_gan *gan);
/* G's loss on the fake batch D saw last, backpropagated through D: *dx. */
gantry_status gantry__gan_fm_backward(gantry_gan *gan, double *loss, gantry_tensor **dx);

#endif
