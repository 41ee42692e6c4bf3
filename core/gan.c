/* GAN models: the paper defaults of each variant, the networks, creation
 * and sampling.  The training steps are in gan_train.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

static const struct model_info {
    const char *name;
    gan_family family;
    int conv, conditional;
    const char *paper;
} models[] = {
    { "gan", FAMILY_BCE, 0, 0, "Goodfellow et al. 2014, Generative Adversarial Nets" },
    { "cgan", FAMILY_BCE, 0, 1, "Mirza & Osindero 2014, Conditional Generative Adversarial Nets" },
    { "dcgan", FAMILY_BCE, 1, 0, "Radford et al. 2015, Unsupervised Representation Learning with DCGANs" },
    { "cdcgan", FAMILY_BCE, 1, 1, "conditional DCGAN: Radford et al. 2015 with Mirza & Osindero's labels" },
    { "wgan", FAMILY_WGAN, 1, 0, "Arjovsky et al. 2017, Wasserstein GAN" },
    { "lsgan", FAMILY_LS, 1, 0, "Mao et al. 2017, Least Squares Generative Adversarial Networks" },
    { "began", FAMILY_BEGAN, 1, 0, "Berthelot et al. 2017, BEGAN: Boundary Equilibrium GANs" },
    { "sgan", FAMILY_SGAN, 1, 0, "Salimans et al. 2016, Improved Techniques for Training GANs (semi-supervised)" },
};

#define NMODELS (sizeof models / sizeof *models)

static const struct model_info *find_model(const char *name)
{
    for (size_t i = 0; i < NMODELS; i++)
        if (strcmp(models[i].name, name) == 0)
            return &models[i];
    return NULL;
}

const char *const *gantry_gan_models(void)
{
    static const char *names[NMODELS + 1];
    for (size_t i = 0; i < NMODELS; i++)
        names[i] = models[i].name;
    return names;
}

const char *gantry_gan_model_paper(const char *model)
{
    const struct model_info *m = model ? find_model(model) : NULL;
    return m ? m->paper : NULL;
}

static gantry_status unknown_model(const char *model)
{
    char list[160] = "";
    for (size_t i = 0; i < NMODELS; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", models[i].name);
    return gantry_set_error(GANTRY_NOT_FOUND, "unknown model '%s'; available: %s", model, list);
}

gantry_status gantry_gan_defaults(const char *model, gantry_gan_config *config)
{
    if (!config)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_defaults: config is NULL");
    if (!model)
        model = "gan";
    const struct model_info *m = find_model(model);
    if (!m)
        return unknown_model(model);
    memset(config, 0, sizeof *config);
    snprintf(config->model, sizeof config->model, "%s", model);
    config->batch = 64;
    config->z_dim = 100;
    config->channels = 1;
    config->height = 28;
    config->width = 28;
    config->d_steps = 1;
    config->g_loss = GANTRY_G_LOSS_NONSAT;
    config->optimizer = GANTRY_OPTIM_ADAM;
    config->lr = 2e-4f;
    config->beta1 = 0.5f;
    config->beta2 = 0.999f;
    config->base_channels = 64;
    config->label_smoothing = 1.0f;
    config->classes = (m->conditional || m->family == FAMILY_SGAN) ? 10 : 0;
    switch (m->family) {
    case FAMILY_WGAN: /* Algorithm 1 of the paper */
        config->optimizer = GANTRY_OPTIM_RMSPROP;
        config->lr = 5e-5f;
        config->d_steps = 5;
        config->clip = 0.01f;
        break;
    case FAMILY_BEGAN: /* section 4 of the paper */
        config->lr = 1e-4f;
        config->began_gamma = 0.5f;
        config->began_lambda_k = 0.001f;
        config->began_hidden = 64;
        break;
    default:
        break;
    }
    return GANTRY_OK;
}

/* ---- networks ----------------------------------------------------------- */

static size_t image_size(const gantry_gan_config *c)
{
    return c->channels * c->height * c->width;
}

/* G = Linear(z,128) LReLU(.2) Linear(128,256) BN LReLU Linear(256,512) BN
 *     LReLU Linear(512,1024) BN LReLU Linear(1024,C*H*W) Tanh Unflatten */
static gantry_status mlp_generator(gantry_seq *g, const gantry_gan_config *c, size_t in)
{
    static const size_t widths[] = { 128, 256, 512, 1024 };
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        GANTRY_TRY(gantry_seq_add_linear(g, in, widths[i]));
        if (i > 0)
            GANTRY_TRY(gantry_seq_add_batchnorm(g, widths[i], 1e-5f, 0.1f));
        GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_LEAKY_RELU, 0.2f));
        in = widths[i];
    }
    GANTRY_TRY(gantry_seq_add_linear(g, in, image_size(c)));
    GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_TANH, 0.0f));
    size_t image[3] = { c->channels, c->height, c->width };
    return gantry_seq_add_unflatten(g, 3, image);
}

/* Minibatch discrimination (when configured), then D's last Linear. */
static gantry_status head(gantry_seq *d, const gantry_gan_config *c, size_t features, size_t out)
{
    if (c->minibatch_disc) {
        GANTRY_TRY(gantry_seq_add_minibatch_disc(d, features, 50, 5));
        features += 50;
    }
    return gantry_seq_add_linear(d, features, out);
}

/* D = Flatten Linear(in,512) LReLU(.2) Linear(512,256) LReLU Linear(256,out) */
static gantry_status mlp_discriminator(gantry_seq *d, const gantry_gan_config *c, size_t in, size_t out)
{
    GANTRY_TRY(gantry_seq_add_flatten(d));
    GANTRY_TRY(gantry_seq_add_linear(d, in, 512));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_linear(d, 512, 256));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    return head(d, c, 256, out);
}

/* G = Linear(in, 2w*h/4*w/4), Unflatten, BN2d(2w), ReLU, ConvT(2w, w, 4, 2, 1),
 *     BN2d(w), ReLU, ConvT(w, C, 4, 2, 1), Tanh */
static gantry_status conv_generator(gantry_seq *g, const gantry_gan_config *c, size_t in)
{
    size_t w = c->base_channels, h4 = c->height / 4, w4 = c->width / 4;
    GANTRY_TRY(gantry_seq_add_linear(g, in, 2 * w * h4 * w4));
    GANTRY_TRY(gantry_seq_add_unflatten(g, 3, (size_t[]){ 2 * w, h4, w4 }));
    GANTRY_TRY(gantry_seq_add_batchnorm(g, 2 * w, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_RELU, 0.0f));
    GANTRY_TRY(gantry_seq_add_conv_transpose2d(g, 2 * w, w, 4, 2, 1));
    GANTRY_TRY(gantry_seq_add_batchnorm(g, w, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_RELU, 0.0f));
    GANTRY_TRY(gantry_seq_add_conv_transpose2d(g, w, c->channels, 4, 2, 1));
    return gantry_seq_add_activation(g, GANTRY_ACT_TANH, 0.0f);
}

/* D = Conv(in, w, 4, 2, 1), LReLU(0.2), Conv(w, 2w, 4, 2, 1), BN2d(2w),
 *     LReLU(0.2), Flatten, Linear(2w*h/4*w/4, out) */
static gantry_status conv_discriminator(gantry_seq *d, const gantry_gan_config *c, size_t in_channels, size_t out)
{
    size_t w = c->base_channels, h4 = c->height / 4, w4 = c->width / 4;
    GANTRY_TRY(gantry_seq_add_conv2d(d, in_channels, w, 4, 2, 1));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_conv2d(d, w, 2 * w, 4, 2, 1));
    GANTRY_TRY(gantry_seq_add_batchnorm(d, 2 * w, 1e-5f, 0.1f));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_flatten(d));
    return head(d, c, 2 * w * h4 * w4, out);
}

/* BEGAN's D: encoder Conv(C, w) LReLU Conv(w, 2w) LReLU Flatten Linear(., h),
 * decoder Linear(h, .) Unflatten ReLU ConvT(2w, w) ReLU ConvT(w, C) Tanh. */
static gantry_status autoencoder(gantry_seq *d, const gantry_gan_config *c)
{
    size_t w = c->base_channels, h4 = c->height / 4, w4 = c->width / 4, flat = 2 * w * h4 * w4;
    GANTRY_TRY(gantry_seq_add_conv2d(d, c->channels, w, 4, 2, 1));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_conv2d(d, w, 2 * w, 4, 2, 1));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_flatten(d));
    GANTRY_TRY(gantry_seq_add_linear(d, flat, c->began_hidden));
    GANTRY_TRY(gantry_seq_add_linear(d, c->began_hidden, flat));
    GANTRY_TRY(gantry_seq_add_unflatten(d, 3, (size_t[]){ 2 * w, h4, w4 }));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_RELU, 0.0f));
    GANTRY_TRY(gantry_seq_add_conv_transpose2d(d, 2 * w, w, 4, 2, 1));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_RELU, 0.0f));
    GANTRY_TRY(gantry_seq_add_conv_transpose2d(d, w, c->channels, 4, 2, 1));
    return gantry_seq_add_activation(d, GANTRY_ACT_TANH, 0.0f);
}

/* D's outputs per image: K class logits for sgan, one logit or score otherwise. */
static size_t d_outputs(const gantry_gan *gan)
{
    return gan->family == FAMILY_SGAN ? gan->config.classes : 1;
}

/* D (or its snapshot for --unroll) into `d`. */
static gantry_status build_discriminator(const gantry_gan *gan, gantry_seq *d)
{
    const gantry_gan_config *c = &gan->config;
    size_t cond = gan->conditional ? c->classes : 0;
    size_t d_out = d_outputs(gan);
    if (!gan->conv)
        return mlp_discriminator(d, c, image_size(c) + cond, d_out);
    if (gan->family == FAMILY_BEGAN)
        return autoencoder(d, c);
    return conv_discriminator(d, c, c->channels + cond, d_out);
}

static gantry_status build_networks(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    size_t g_in = c->z_dim + (gan->conditional ? c->classes : 0);
    GANTRY_TRY(gan->conv ? conv_generator(gan->g, c, g_in) : mlp_generator(gan->g, c, g_in));
    return build_discriminator(gan, gan->d);
}

/* --vbn: a fixed batch of noise (and, for conditional models, labels
 * cycling through the classes) from a Philox stream of its own. */
#define REFERENCE_STREAM 0x7662726566ull

static gantry_status create_reference_batch(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    GANTRY_TRY(gantry_tensor_new(gan->be, &gan->z_ref, c->batch, c->z_dim, 0, 0));
    GANTRY_TRY(gantry_op_rand_normal(gan->z_ref, c->seed ^ REFERENCE_STREAM, 0, 0.0f, 1.0f));
    if (c->classes) {
        gan->ref_labels = malloc(c->batch);
        if (!gan->ref_labels)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
        for (size_t i = 0; i < c->batch; i++)
            gan->ref_labels[i] = (uint8_t)(i % c->classes);
    }
    return GANTRY_OK;
}

static gantry_status check_config(const gantry_gan_config *c, const struct model_info *m)
{
    if (!m)
        return unknown_model(c->model);
    if (c->batch < 2)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "batch %zu: batch norm needs at least 2", c->batch);
    if (!c->z_dim || !c->channels || !c->height || !c->width)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "model sizes must be positive");
    if (m->conv && (c->height % 4 || c->width % 4 || c->height < 4 || c->width < 4))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: image %zux%zu must be a multiple of 4 in both sizes",
                                c->model, c->height, c->width);
    if (m->conv && (c->base_channels < 1 || c->base_channels > 4096))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: width %zu outside 1..4096", c->model, c->base_channels);
    if ((m->conditional || m->family == FAMILY_SGAN) && (c->classes < 2 || c->classes > 256))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %zu classes, needs 2..256", c->model, c->classes);
    if (c->d_steps < 1 || c->d_steps > 100)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "d_steps %u outside 1..100", c->d_steps);
    if (c->g_loss != GANTRY_G_LOSS_NONSAT && c->g_loss != GANTRY_G_LOSS_MINIMAX)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unknown generator loss %d", (int)c->g_loss);
    if (!(c->lr > 0.0f) || !isfinite(c->lr))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "learning rate %g must be positive", (double)c->lr);
    if (c->optimizer != GANTRY_OPTIM_ADAM && c->optimizer != GANTRY_OPTIM_RMSPROP && c->optimizer != GANTRY_OPTIM_SGD)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unknown optimizer %d", (int)c->optimizer);
    if (!(c->clip >= 0.0f) || !isfinite(c->clip))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "clip %g must be >= 0", (double)c->clip);
    if (!(c->label_smoothing > 0.0f && c->label_smoothing <= 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "label smoothing %g outside (0, 1]",
                                (double)c->label_smoothing);
    if (m->family == FAMILY_BEGAN) {
        if (!(c->began_gamma > 0.0f && c->began_gamma <= 1.0f) || !(c->began_lambda_k >= 0.0f) || !c->began_hidden)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "began: gamma %g outside (0, 1], lambda_k %g or hidden %zu",
                                    (double)c->began_gamma, (double)c->began_lambda_k, c->began_hidden);
        if (c->minibatch_disc || c->feature_matching || c->label_smoothing != 1.0f)
            return gantry_set_error(GANTRY_UNSUPPORTED,
                                    "began: its autoencoder D has no logits or features for --minibatch-disc, "
                                    "--feature-matching or --label-smoothing");
    }
    if (c->vbn != GANTRY_BN_BATCH && c->vbn != GANTRY_BN_VIRTUAL && c->vbn != GANTRY_BN_REFERENCE)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unknown batch norm mode %d", (int)c->vbn);
    if (c->unroll > 100)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unroll %u outside 0..100", c->unroll);
    if (c->unroll && m->family == FAMILY_BEGAN)
        return gantry_set_error(GANTRY_UNSUPPORTED, "began: --unroll is not supported (its k_t control already "
                                                     "balances D and G)");
    if (m->family == FAMILY_WGAN && c->label_smoothing != 1.0f)
        return gantry_set_error(GANTRY_UNSUPPORTED, "wgan: the critic has no targets to smooth");
    return GANTRY_OK;
}

static gantry_optim_config optim_config(const gantry_gan_config *c)
{
    gantry_optim_config o = gantry_optim_defaults(c->optimizer);
    o.lr = c->lr;
    if (c->optimizer == GANTRY_OPTIM_ADAM) {
        o.beta1 = c->beta1;
        o.beta2 = c->beta2;
    }
    return o;
}

#define TRY_ALLOC(expr)                                                                                 \
    do {                                                                                                \
        if (!s)                                                                                         \
            s = (expr);                                                                                 \
    } while (0)

static gantry_status create_step_tensors(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    gantry_backend *be = gan->be;
    size_t n = c->batch, d_out = d_outputs(gan), hw = c->height * c->width;
    gantry_status s = GANTRY_OK;
    gan->stacked = gan->family != FAMILY_BEGAN && gantry__seq_rows_independent(gan->d);
    if (gan->stacked) {
        size_t cond = gan->conditional ? c->classes : 0;
        if (gan->conv)
            TRY_ALLOC(gantry_tensor_new(be, &gan->d_stack, 2 * n, c->channels + cond, c->height, c->width));
        else
            TRY_ALLOC(gantry_tensor_new(be, &gan->d_stack, 2 * n, image_size(c) + cond, 0, 0));
        TRY_ALLOC(gantry_tensor_new(be, &gan->dstack, 2 * n, d_out, 0, 0));
    }
    if (gan->stacked && !gan->conditional) /* images go straight into D's stacked input */
        TRY_ALLOC(gantry_tensor_view(gan->d_stack, 0, 4, (size_t[]){ n, c->channels, c->height, c->width },
                                     &gan->real));
    else
        TRY_ALLOC(gantry_tensor_new(be, &gan->real, n, c->channels, c->height, c->width));
    TRY_ALLOC(gantry_tensor_new(be, &gan->z, n, c->z_dim, 0, 0));
    TRY_ALLOC(gantry_tensor_new(be, &gan->dlogits, n, d_out, 0, 0));
    TRY_ALLOC(gantry_tensor_new(be, &gan->probs, n, d_out, 0, 0));
    TRY_ALLOC(gantry_tensor_new(be, &gan->target, n, d_out, 0, 0));
    TRY_ALLOC(gantry_tensor_new(be, &gan->scalar, 1, 0, 0, 0));
    TRY_ALLOC(gantry_tensor_new(be, &gan->ones, n, 1, 0, 0));
    TRY_ALLOC(gantry_op_fill(gan->ones, 1.0f));
    if (gan->conditional) {
        size_t k = c->classes;
        TRY_ALLOC(gantry_tensor_new(be, &gan->g_in, n, c->z_dim + k, 0, 0));
        TRY_ALLOC(gantry_tensor_new(be, &gan->onehot, n, k, 0, 0));
        TRY_ALLOC(gantry_tensor_new(be, &gan->dimage, n, c->channels, c->height, c->width));
        if (gan->conv) {
            TRY_ALLOC(gantry_tensor_new(be, &gan->planes, n, k * hw, 0, 0));
            TRY_ALLOC(gantry_tensor_new(be, &gan->d_in, n, c->channels + k, c->height, c->width));
        } else {
            TRY_ALLOC(gantry_tensor_new(be, &gan->d_in, n, image_size(c) + k, 0, 0));
        }
        if (!s && !(gan->host_labels = malloc(n * k * (gan->conv ? hw : 1) * sizeof(float))))
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    }
    if (c->classes && !s && !(gan->fake_labels = malloc(n)))
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    gan->g_stacked = gan->family != FAMILY_BEGAN && c->d_steps == 1 && !c->unroll && !c->vbn &&
                     gantry__seq_groupable(gan->g);
    if (gan->g_stacked) {
        TRY_ALLOC(gantry_tensor_new(be, &gan->z_pair, 2 * n, c->z_dim, 0, 0));
        if (gan->conditional)
            TRY_ALLOC(gantry_tensor_new(be, &gan->g_in_pair, 2 * n, c->z_dim + c->classes, 0, 0));
        if (gan->conditional && !s && !(gan->fake_labels2 = malloc(n)))
            s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    }
    if (gan->family == FAMILY_SGAN) {
        TRY_ALLOC(gantry_tensor_new(be, &gan->lse, n, 1, 0, 0));
        TRY_ALLOC(gantry_tensor_new(be, &gan->dlse, n, 1, 0, 0));
        TRY_ALLOC(gantry_tensor_new(be, &gan->lab_real, n, c->channels, c->height, c->width));
        TRY_ALLOC(gantry_tensor_new(be, &gan->lab_target, n, c->classes, 0, 0));
    }
    if (gan->family == FAMILY_SGAN && !s && !(gan->lab_host = malloc(n * (image_size(c) + c->classes) * sizeof(float))))
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    if (gan->family == FAMILY_BEGAN) {
        TRY_ALLOC(gantry_tensor_new(be, &gan->ae_grad, n, c->channels, c->height, c->width));
        TRY_ALLOC(gantry_tensor_new(be, &gan->dimage, n, c->channels, c->height, c->width));
    }
    return s;
}

gantry_status gantry_gan_create(gantry_backend *be, const gantry_gan_config *config, gantry_gan **out)
{
    if (!be || !config || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_create: NULL argument");
    *out = NULL;
    const struct model_info *m = find_model(config->model);
    GANTRY_TRY(check_config(config, m));
    gantry_gan *gan = calloc(1, sizeof *gan);
    if (!gan)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    gan->be = be;
    gan->config = *config;
    gan->family = m->family;
    gan->conv = m->conv;
    gan->conditional = m->conditional;
    const gantry_gan_config *c = &gan->config;
    gantry_optim_config oc = optim_config(c);

    uint64_t offset = 0;
    gantry_status s = gantry_seq_create(be, &gan->g);
    TRY_ALLOC(gantry_seq_create(be, &gan->d));
    TRY_ALLOC(build_networks(gan));
    TRY_ALLOC(gantry_seq_init(gan->g, c->seed, &offset));
    TRY_ALLOC(gantry_seq_init(gan->d, c->seed, &offset));
    if (gan->conv) { /* Radford et al.: N(0, 0.02) weights, BN gamma N(1, 0.02) */
        TRY_ALLOC(gantry_seq_init_normal(gan->g, 0.02f, c->seed, &offset));
        TRY_ALLOC(gantry_seq_init_normal(gan->d, 0.02f, c->seed, &offset));
    }
    TRY_ALLOC(gantry_optim_create(gan->g, &oc, &gan->opt_g));
    TRY_ALLOC(gantry_optim_create(gan->d, &oc, &gan->opt_d));
    TRY_ALLOC(create_step_tensors(gan));
    if (c->vbn)
        TRY_ALLOC(gantry_seq_set_virtual_batchnorm(gan->g, c->vbn));
    if (c->vbn)
        TRY_ALLOC(create_reference_batch(gan));
    if (c->unroll) { /* D's twin holds the snapshot */
        TRY_ALLOC(gantry_seq_create(be, &gan->d_saved));
        TRY_ALLOC(build_discriminator(gan, gan->d_saved));
        TRY_ALLOC(gantry_optim_create(gan->d_saved, &oc, &gan->opt_saved));
    }
    if (s) {
        gantry_gan_destroy(gan);
        return s;
    }
    gan->noise_offset = offset;
    *out = gan;
    return GANTRY_OK;
}

void gantry_gan_destroy(gantry_gan *gan)
{
    if (!gan)
        return;
    gantry_tensor *tensors[] = { gan->real,   gan->z,         gan->dlogits,  gan->probs,     gan->scalar,
                                 gan->target, gan->g_in,      gan->d_in,     gan->onehot,    gan->planes,
                                 gan->dimage, gan->ones,      gan->feat_real, gan->feat_fake, gan->dfeat,
                                 gan->lse,    gan->dlse,      gan->ae_grad,  gan->lab_real,  gan->lab_target,
                                 gan->dstack, gan->d_stack, gan->z_pair, gan->g_in_pair };
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++)
        gantry_tensor_destroy(tensors[i]);
    free(gan->host_labels);
    free(gan->fake_labels);
    free(gan->fake_labels2);
    free(gan->labeled_images);
    free(gan->labeled_labels);
    free(gan->lab_host);
    free(gan->ref_labels);
    gantry_tensor_destroy(gan->z_ref);
    gantry_optim_destroy(gan->opt_saved);
    gantry_seq_destroy(gan->d_saved);
    gantry_optim_destroy(gan->opt_g);
    gantry_optim_destroy(gan->opt_d);
    gantry_seq_destroy(gan->g);
    gantry_seq_destroy(gan->d);
    free(gan);
}

const gantry_gan_config *gantry_gan_config_of(const gantry_gan *gan)
{
    return gan ? &gan->config : NULL;
}

gantry_seq *gantry_gan_generator(gantry_gan *gan)
{
    return gan ? gan->g : NULL;
}

gantry_seq *gantry_gan_discriminator(gantry_gan *gan)
{
    return gan ? gan->d : NULL;
}

size_t gantry_gan_d_update_rows(const gantry_gan *gan)
{
    if (!gan)
        return 0;
    return gan->stacked ? 2 * gan->config.batch : gan->config.batch;
}

size_t gantry_gan_g_forward_rows(const gantry_gan *gan)
{
    if (!gan)
        return 0;
    return gan->g_stacked ? 2 * gan->config.batch : gan->config.batch;
}

uint64_t gantry_gan_steps(const gantry_gan *gan)
{
    return gan ? gan->steps : 0;
}

int gantry_gan_is_conditional(const gantry_gan *gan)
{
    return gan && gan->conditional;
}

gantry_status gantry_gan_sample_labeled(gantry_gan *gan, size_t n, uint64_t seed, const uint8_t *labels,
                                        float *images)
{
    if (!gan || !images || n == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_sample: NULL output or n == 0");
    const gantry_gan_config *c = &gan->config;
    if (gan->conditional && !labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: sampling needs a label per image", c->model);
    for (size_t i = 0; gan->conditional && i < n; i++)
        if (labels[i] >= c->classes)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: label %u outside 0..%zu", c->model,
                                    (unsigned)labels[i], c->classes - 1);
    /* Conditional models sample in chunks of the training batch, whose
     * conditioning tensors exist; others in chunks of up to 256. */
    size_t chunk = gan->conditional ? c->batch : (n < 256 ? n : 256), per_image = image_size(c);
    uint64_t offset = 0;
    gantry_tensor *z = NULL, *g_in = NULL;
    gantry_status s = GANTRY_OK;
    for (size_t done = 0; !s && done < n; done += chunk) {
        size_t m = n - done < chunk ? n - done : chunk;
        size_t shape[2] = { gan->conditional ? chunk : m, c->z_dim };
        gantry_tensor *fake;
        s = gantry__ensure_tensor(gan->be, &z, 2, shape);
        if (!s)
            s = gantry_op_rand_normal(z, seed, offset, 0.0f, 1.0f);
        offset += gantry_philox_normal_blocks(shape[0] * c->z_dim);
        g_in = z;
        if (!s && gan->conditional) {
            for (size_t i = 0; i < chunk; i++)
                gan->fake_labels[i] = labels[done + (i < m ? i : 0)];
            s = gantry__gan_condition(gan, gan->fake_labels, chunk);
            if (!s)
                s = gantry__gan_g_input(gan, z, &g_in);
        }
        if (!s)
            s = gantry_seq_forward(gan->g, g_in, 0, &fake);
        if (!s && m < gantry_tensor_dim(fake, 0)) { /* the last, partial chunk */
            gantry_tensor *part = NULL;
            s = gantry_tensor_view(fake, 0, 2, (size_t[]){ m, per_image }, &part);
            if (!s)
                s = gantry_tensor_read(part, images + done * per_image, m * per_image);
            gantry_tensor_destroy(part);
        } else if (!s) {
            s = gantry_tensor_read(fake, images + done * per_image, m * per_image);
        }
    }
    gantry_tensor_destroy(z);
    return s;
}

gantry_status gantry_gan_sample(gantry_gan *gan, size_t n, uint64_t seed, float *images)
{
    if (!gan || !gan->conditional)
        return gantry_gan_sample_labeled(gan, n, seed, NULL, images);
    uint8_t *labels = malloc(n ? n : 1);
    if (!labels)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_sample: out of host memory");
    for (size_t i = 0; i < n; i++)
        labels[i] = (uint8_t)((i / 8) % gan->config.classes);
    gantry_status s = gantry_gan_sample_labeled(gan, n, seed, labels, images);
    free(labels);
    return s;
}
