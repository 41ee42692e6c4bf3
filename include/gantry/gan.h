/* gantry: GAN models and their training loops.
 *
 * Models (gantry_gan_defaults gives each its paper's settings):
 *   gan     Goodfellow et al. 2014, the MLPs below
 *   cgan    Mirza & Osindero 2014: gan with one-hot labels concatenated to z
 *           and to D's input
 *   dcgan   Radford et al. 2015 for 28x28 (docs/models.md lists the layers)
 *   cdcgan  dcgan with labels concatenated to z and as extra input channels of D
 *   wgan    Arjovsky et al. 2017: dcgan networks, a critic without sigmoid,
 *           RMSProp 5e-5, 5 critic steps, weight clipping 0.01
 *   lsgan   Mao et al. 2017: dcgan networks, least-squares losses (a=0, b=c=1)
 *   began   Berthelot et al. 2017: dcgan generator, an autoencoder D with L1
 *           reconstruction loss, equilibrium gamma and the k_t control
 *   sgan    Salimans et al. 2016: D classifies K classes; D(x) = Z/(Z+1) with
 *           Z the sum of exp(logits); labelled, unlabelled and fake terms
 *
 * `gan` is the original GAN of Goodfellow et al. (2014), trained with
 * Algorithm 1 of the paper: `d_steps` discriminator updates, each on a fresh
 * real minibatch and fresh noise, then one generator update on fresh noise.
 * The networks are the widely used MLPs:
 *   G = Linear(z,128) LReLU(.2) Linear(128,256) BN LReLU Linear(256,512) BN
 *       LReLU Linear(512,1024) BN LReLU Linear(1024,C*H*W) Tanh Unflatten
 *   D = Flatten Linear(C*H*W,512) LReLU(.2) Linear(512,256) LReLU Linear(256,1)
 * with Adam (lr 2e-4, betas 0.5, 0.999), batch 64 and z ~ N(0, I). */
#ifndef GANTRY_GAN_H
#define GANTRY_GAN_H

#include "gantry/io.h"
#include "gantry/nn.h"
#include "gantry/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gantry_g_loss {
    GANTRY_G_LOSS_NONSAT = 0,  /* minimise -log D(G(z)) */
    GANTRY_G_LOSS_MINIMAX = 1, /* minimise log(1 - D(G(z))) */
} gantry_g_loss;

typedef struct gantry_gan_config {
    char model[32];                 /* "gan" */
    size_t batch;                   /* 64 */
    size_t z_dim;                   /* 100 */
    size_t channels, height, width; /* image shape: 1 x 28 x 28 */
    unsigned d_steps;               /* k of Algorithm 1: 1 */
    gantry_g_loss g_loss;           /* non-saturating */
    float lr, beta1, beta2;         /* Adam: 2e-4, 0.5, 0.999 */
    uint64_t seed;                  /* initial weights and the noise stream */
    /* Added with the variants. */
    gantry_optim_kind optimizer; /* Adam; RMSProp (lr, alpha 0.99) for wgan */
    size_t classes;              /* labels of cgan, cdcgan, sgan: 10; 0 otherwise */
    size_t base_channels;        /* conv networks' first width (64); G uses 2x, 1x; D 1x, 2x */
    float clip;                  /* wgan weight clipping: 0.01; 0 = none */
    float label_smoothing;       /* D's target for real data (one-sided smoothing): 1 = none */
    int minibatch_disc;          /* minibatch discrimination before D's last layer */
    int feature_matching;        /* G matches the mean of D's penultimate features */
    float began_gamma;           /* began: diversity ratio gamma (0.5) */
    float began_lambda_k;        /* began: k_t learning rate (0.001) */
    size_t began_hidden;         /* began: autoencoder code size (64) */
    gantry_bn_mode vbn;          /* G's batch norm: batch (0), virtual (--vbn) or reference (--ref-bn),
                                    against a fixed reference batch of noise */
    unsigned unroll;             /* G's update against D unrolled this many steps ahead (0: off) */
} gantry_gan_config;

/* The model names gantry_gan_defaults knows, in order, NULL-terminated. */
GANTRY_API const char *const *gantry_gan_models(void);
/* One line naming the paper of a model, or NULL. */
GANTRY_API const char *gantry_gan_model_paper(const char *model);

/* The paper's defaults for `model`; NULL model means "gan". */
GANTRY_API gantry_status gantry_gan_defaults(const char *model, gantry_gan_config *config);

typedef struct gantry_gan gantry_gan;

/* Builds G and D on `be` with weights drawn from config->seed.  The caller
 * owns *out. */
GANTRY_API gantry_status gantry_gan_create(gantry_backend *be, const gantry_gan_config *config, gantry_gan **out);
GANTRY_API void gantry_gan_destroy(gantry_gan *gan);
GANTRY_API const gantry_gan_config *gantry_gan_config_of(const gantry_gan *gan);
GANTRY_API gantry_seq *gantry_gan_generator(gantry_gan *gan);
GANTRY_API gantry_seq *gantry_gan_discriminator(gantry_gan *gan);
/* The rows of one D pass in a discriminator update: 2 x batch when D has
 * no layer that mixes a batch's rows (no batch norm, dropout or minibatch
 * discrimination), so the real and the fake batch go through D stacked as
 * one (the same values, each weight read once per pass); batch otherwise
 * (two passes), and for began's autoencoder D. */
GANTRY_API size_t gantry_gan_d_update_rows(const gantry_gan *gan);
/* The rows of G's forward pass in a training step: 2 x batch when G is an
 * MLP (Linear, batch norm, activations) and the step draws G's two noise
 * batches (discriminator and generator update) with nothing else running G
 * in between (d_steps 1, no --unroll, no --vbn): one pass over both, each
 * batch normalised by its own statistics (the same values as two passes);
 * batch otherwise. */
GANTRY_API size_t gantry_gan_g_forward_rows(const gantry_gan *gan);

typedef struct gantry_gan_stats {
    double d_loss;  /* BCE(D(x), 1) + BCE(D(G(z)), 0), mean over the d steps */
    double g_loss;  /* the generator's objective as configured */
    double d_real;  /* mean D(x) */
    double d_fake;  /* mean D(G(z)) during the discriminator update */
    /* Model-specific measures (0 where they do not apply). */
    double wasserstein; /* wgan: mean critic(x) - mean critic(G(z)), the paper's estimate */
    double k;           /* began: k_t after the step */
    double m_global;    /* began: convergence measure L(x) + |gamma L(x) - L(G(z))| */
    double d_class;     /* sgan: the supervised cross-entropy */
} gantry_gan_stats;

/* One iteration of Algorithm 1.  `real` holds d_steps * batch images
 * (NCHW floats in [-1, 1]) on the host.  Non-finite losses are reported as
 * GANTRY_NUMERIC. */
GANTRY_API gantry_status gantry_gan_train_step(gantry_gan *gan, const float *real, gantry_gan_stats *stats);
/* As gantry_gan_train_step with the labels of the real images (d_steps *
 * batch values < classes); conditional models need them, others ignore them. */
GANTRY_API gantry_status gantry_gan_train_step_labeled(gantry_gan *gan, const float *real, const uint8_t *labels,
                                                       gantry_gan_stats *stats);
/* sgan: the labelled examples (copied), from which each step draws a batch. */
GANTRY_API gantry_status gantry_gan_set_labeled(gantry_gan *gan, const float *images, const uint8_t *labels, size_t n);
/* sgan: D's class predictions (argmax of the logits, evaluation mode). */
GANTRY_API gantry_status gantry_gan_classify(gantry_gan *gan, const float *images, size_t n, uint8_t *predictions);
GANTRY_API int gantry_gan_is_conditional(const gantry_gan *gan);
GANTRY_API uint64_t gantry_gan_steps(const gantry_gan *gan);

/* Data-parallel training over `world` processes (gantry train under MPI),
 * each with its own gantry_gan built alike on its own backend:
 *   - this one is process `rank`: each noise (and fake-label) draw of a step
 *     is slice `rank` of the draw one process would make for the whole
 *     global batch (world x config.batch rows), so that the processes
 *     together draw what one process does (exactly so when batch x z_dim is
 *     even and, for labels, batch a multiple of 4);
 *   - `hook` (may be NULL) runs around every optimizer step with the network
 *     being updated (gantry_gan_generator or _discriminator): with
 *     updated = 0 before it, the gradients computed on this process's rows
 *     in the network, where it must leave what every process applies (e.g.
 *     their mean over the processes); with updated = 1 after it (e.g. to
 *     make the weights of processes whose backends round differently the
 *     same).  An error it returns ends the step.
 * rank 0 of 1 with no hook is the ordinary single-process training. */
typedef gantry_status (*gantry_gan_grad_hook)(void *user, gantry_gan *gan, gantry_seq *net, int updated);
GANTRY_API gantry_status gantry_gan_set_data_parallel(gantry_gan *gan, unsigned rank, unsigned world,
                                                      gantry_gan_grad_hook hook, void *user);

/* Generates n images into `images` (n * C*H*W floats in [-1, 1]) from the
 * noise stream (seed, 0), with G in evaluation mode.  Conditional models
 * draw image i of class (i / 8) % classes: one class per row of an 8-wide grid. */
GANTRY_API gantry_status gantry_gan_sample(gantry_gan *gan, size_t n, uint64_t seed, float *images);
/* As gantry_gan_sample with a class per image (conditional models). */
GANTRY_API gantry_status gantry_gan_sample_labeled(gantry_gan *gan, size_t n, uint64_t seed, const uint8_t *labels,
                                                   float *images);

/* Checkpoints: safetensors with PyTorch state_dict names prefixed "G." and
 * "D." and the configuration in __metadata__ (see docs/models.md).  `extra` adds
 * metadata entries. */
GANTRY_API gantry_status gantry_gan_save(gantry_gan *gan, const char *path, const gantry_st_meta *extra,
                                         size_t extra_count);
/* Rebuilds the model a checkpoint describes on `be` and loads its weights. */
GANTRY_API gantry_status gantry_gan_load(gantry_backend *be, const char *path, gantry_gan **out);

/* What resuming a training run needs beyond the checkpoint, in a second
 * safetensors file: both optimizers' state as tensors "opt_G.<name>.<slot>"
 * and "opt_D.<name>.<slot>" (state_dict names of the parameters, torch.optim
 * slot names), and in __metadata__ the step, the noise and label stream
 * offsets, BEGAN's k_t and the optimizers' step counts.  Write it right after
 * the checkpoint of the same step; `extra` adds metadata entries. */
GANTRY_API gantry_status gantry_gan_save_training(gantry_gan *gan, const char *path, const gantry_st_meta *extra,
                                                  size_t extra_count);
/* Restores that state into a model loaded from the checkpoint of the same
 * save (gantry_gan_load), which is checked: the model and step must match.
 * Training then continues bit for bit as it would have without the stop. */
GANTRY_API gantry_status gantry_gan_load_training(gantry_gan *gan, const char *path);

#ifdef __cplusplus
}
#endif
#endif
