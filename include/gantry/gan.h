/* gantry: GAN models and their training loop.
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
} gantry_gan_config;

/* The paper's defaults for `model` ("gan"); NULL model means "gan". */
GANTRY_API gantry_status gantry_gan_defaults(const char *model, gantry_gan_config *config);

typedef struct gantry_gan gantry_gan;

/* Builds G and D on `be` with weights drawn from config->seed.  The caller
 * owns *out. */
GANTRY_API gantry_status gantry_gan_create(gantry_backend *be, const gantry_gan_config *config, gantry_gan **out);
GANTRY_API void gantry_gan_destroy(gantry_gan *gan);
GANTRY_API const gantry_gan_config *gantry_gan_config_of(const gantry_gan *gan);
GANTRY_API gantry_seq *gantry_gan_generator(gantry_gan *gan);
GANTRY_API gantry_seq *gantry_gan_discriminator(gantry_gan *gan);

typedef struct gantry_gan_stats {
    double d_loss;  /* BCE(D(x), 1) + BCE(D(G(z)), 0), mean over the d steps */
    double g_loss;  /* the generator's objective as configured */
    double d_real;  /* mean D(x) */
    double d_fake;  /* mean D(G(z)) during the discriminator update */
} gantry_gan_stats;

/* One iteration of Algorithm 1.  `real` holds d_steps * batch images
 * (NCHW floats in [-1, 1]) on the host.  Non-finite losses are reported as
 * GANTRY_NUMERIC. */
GANTRY_API gantry_status gantry_gan_train_step(gantry_gan *gan, const float *real, gantry_gan_stats *stats);
GANTRY_API uint64_t gantry_gan_steps(const gantry_gan *gan);

/* Generates n images into `images` (n * C*H*W floats in [-1, 1]) from the
 * noise stream (seed, 0), with G in evaluation mode. */
GANTRY_API gantry_status gantry_gan_sample(gantry_gan *gan, size_t n, uint64_t seed, float *images);

/* Checkpoints: safetensors with PyTorch state_dict names prefixed "G." and
 * "D." and the configuration in __metadata__ (see README).  `extra` adds
 * metadata entries. */
GANTRY_API gantry_status gantry_gan_save(gantry_gan *gan, const char *path, const gantry_st_meta *extra,
                                         size_t extra_count);
/* Rebuilds the model a checkpoint describes on `be` and loads its weights. */
GANTRY_API gantry_status gantry_gan_load(gantry_backend *be, const char *path, gantry_gan **out);

#ifdef __cplusplus
}
#endif
#endif
