/* The original GAN (Goodfellow et al. 2014): model, Algorithm 1, sampling. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "core/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

gantry_status gantry_gan_defaults(const char *model, gantry_gan_config *config)
{
    if (!config)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_defaults: config is NULL");
    if (!model)
        model = "gan";
    if (strcmp(model, "gan") != 0)
        return gantry_set_error(GANTRY_NOT_FOUND, "unknown model '%s'; available: gan", model);
    memset(config, 0, sizeof *config);
    snprintf(config->model, sizeof config->model, "%s", model);
    config->batch = 64;
    config->z_dim = 100;
    config->channels = 1;
    config->height = 28;
    config->width = 28;
    config->d_steps = 1;
    config->g_loss = GANTRY_G_LOSS_NONSAT;
    config->lr = 2e-4f;
    config->beta1 = 0.5f;
    config->beta2 = 0.999f;
    config->seed = 0;
    return GANTRY_OK;
}

static gantry_status build_generator(gantry_seq *g, const gantry_gan_config *c)
{
    static const size_t widths[] = { 128, 256, 512, 1024 };
    size_t in = c->z_dim;
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        GANTRY_TRY(gantry_seq_add_linear(g, in, widths[i]));
        if (i > 0)
            GANTRY_TRY(gantry_seq_add_batchnorm(g, widths[i], 1e-5f, 0.1f));
        GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_LEAKY_RELU, 0.2f));
        in = widths[i];
    }
    GANTRY_TRY(gantry_seq_add_linear(g, in, c->channels * c->height * c->width));
    GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_TANH, 0.0f));
    size_t image[3] = { c->channels, c->height, c->width };
    return gantry_seq_add_unflatten(g, 3, image);
}

static gantry_status build_discriminator(gantry_seq *d, const gantry_gan_config *c)
{
    GANTRY_TRY(gantry_seq_add_flatten(d));
    GANTRY_TRY(gantry_seq_add_linear(d, c->channels * c->height * c->width, 512));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    GANTRY_TRY(gantry_seq_add_linear(d, 512, 256));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    return gantry_seq_add_linear(d, 256, 1);
}

static gantry_status check_config(const gantry_gan_config *c)
{
    if (strcmp(c->model, "gan") != 0)
        return gantry_set_error(GANTRY_NOT_FOUND, "unknown model '%s'; available: gan", c->model);
    if (c->batch < 2)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "batch %zu: batch norm needs at least 2", c->batch);
    if (!c->z_dim || !c->channels || !c->height || !c->width)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "model sizes must be positive");
    if (c->d_steps < 1 || c->d_steps > 100)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "d_steps %u outside 1..100", c->d_steps);
    if (c->g_loss != GANTRY_G_LOSS_NONSAT && c->g_loss != GANTRY_G_LOSS_MINIMAX)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unknown generator loss %d", (int)c->g_loss);
    if (!(c->lr > 0.0f) || !isfinite(c->lr))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "learning rate %g must be positive", (double)c->lr);
    return GANTRY_OK;
}

gantry_status gantry_gan_create(gantry_backend *be, const gantry_gan_config *config, gantry_gan **out)
{
    if (!be || !config || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_create: NULL argument");
    *out = NULL;
    GANTRY_TRY(check_config(config));
    gantry_gan *gan = calloc(1, sizeof *gan);
    if (!gan)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_create: out of host memory");
    gan->be = be;
    gan->config = *config;
    const gantry_gan_config *c = &gan->config;
    gantry_optim_config adam = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    adam.lr = c->lr;
    adam.beta1 = c->beta1;
    adam.beta2 = c->beta2;

    uint64_t offset = 0;
    gantry_status s = gantry_seq_create(be, &gan->g);
    if (!s)
        s = gantry_seq_create(be, &gan->d);
    if (!s)
        s = build_generator(gan->g, c);
    if (!s)
        s = build_discriminator(gan->d, c);
    if (!s)
        s = gantry_seq_init(gan->g, c->seed, &offset);
    if (!s)
        s = gantry_seq_init(gan->d, c->seed, &offset);
    if (!s)
        s = gantry_optim_create(gan->g, &adam, &gan->opt_g);
    if (!s)
        s = gantry_optim_create(gan->d, &adam, &gan->opt_d);
    if (!s)
        s = gantry_tensor_new(be, &gan->real, c->batch, c->channels, c->height, c->width);
    if (!s)
        s = gantry_tensor_new(be, &gan->z, c->batch, c->z_dim, 0, 0);
    if (!s)
        s = gantry_tensor_new(be, &gan->dlogits, c->batch, 1, 0, 0);
    if (!s)
        s = gantry_tensor_new(be, &gan->probs, c->batch, 1, 0, 0);
    if (!s)
        s = gantry_tensor_new(be, &gan->scalar, 1, 0, 0, 0);
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
    gantry_tensor_destroy(gan->real);
    gantry_tensor_destroy(gan->z);
    gantry_tensor_destroy(gan->dlogits);
    gantry_tensor_destroy(gan->probs);
    gantry_tensor_destroy(gan->scalar);
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

uint64_t gantry_gan_steps(const gantry_gan *gan)
{
    return gan ? gan->steps : 0;
}

/* Fresh training noise in gan->z, then G(z) in training mode. */
static gantry_status generate(gantry_gan *gan, gantry_tensor **fake)
{
    GANTRY_TRY(gantry_op_rand_normal(gan->z, gan->config.seed, gan->noise_offset, 0.0f, 1.0f));
    gan->noise_offset += gantry_philox_normal_blocks(gantry_tensor_numel(gan->z));
    return gantry_seq_forward(gan->g, gan->z, 1, fake);
}

/* D's loss on one batch against `target`, backpropagated into D's
 * gradients; reports the loss and the mean of D's probabilities. */
static gantry_status discriminator_term(gantry_gan *gan, const gantry_tensor *input, float target, double *loss,
                                        double *mean_prob)
{
    gantry_tensor *logits;
    float v;
    GANTRY_TRY(gantry_seq_forward(gan->d, input, 1, &logits));
    GANTRY_TRY(gantry_op_bce_logits_forward(logits, target, gan->scalar));
    GANTRY_TRY(gantry_tensor_item(gan->scalar, &v));
    *loss = v;
    GANTRY_TRY(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0.0f, logits, gan->probs));
    GANTRY_TRY(gantry_op_mean(gan->probs, gan->scalar));
    GANTRY_TRY(gantry_tensor_item(gan->scalar, &v));
    *mean_prob = v;
    GANTRY_TRY(gantry_op_bce_logits_backward(logits, target, 1.0f, gan->dlogits));
    return gantry_seq_backward(gan->d, gan->dlogits, 1, NULL);
}

static gantry_status discriminator_step(gantry_gan *gan, const float *real, gantry_gan_stats *acc)
{
    double loss_real, loss_fake, p_real, p_fake;
    gantry_tensor *fake;
    GANTRY_TRY(gantry_tensor_write(gan->real, real, gantry_tensor_numel(gan->real)));
    GANTRY_TRY(gantry_seq_zero_grad(gan->d));
    GANTRY_TRY(discriminator_term(gan, gan->real, 1.0f, &loss_real, &p_real));
    GANTRY_TRY(generate(gan, &fake));
    GANTRY_TRY(discriminator_term(gan, fake, 0.0f, &loss_fake, &p_fake));
    GANTRY_TRY(gantry_optim_step(gan->opt_d));
    acc->d_loss += loss_real + loss_fake;
    acc->d_real += p_real;
    acc->d_fake += p_fake;
    return GANTRY_OK;
}

static gantry_status generator_step(gantry_gan *gan, double *g_loss)
{
    gantry_tensor *fake, *logits, *dfake;
    float v;
    GANTRY_TRY(gantry_seq_zero_grad(gan->g));
    GANTRY_TRY(generate(gan, &fake));
    GANTRY_TRY(gantry_seq_forward(gan->d, fake, 1, &logits));
    if (gan->config.g_loss == GANTRY_G_LOSS_MINIMAX) {
        /* log(1 - D(G(z))) = -BCE(logits, 0) */
        GANTRY_TRY(gantry_op_bce_logits_forward(logits, 0.0f, gan->scalar));
        GANTRY_TRY(gantry_tensor_item(gan->scalar, &v));
        *g_loss = -(double)v;
        GANTRY_TRY(gantry_op_bce_logits_backward(logits, 0.0f, -1.0f, gan->dlogits));
    } else {
        GANTRY_TRY(gantry_op_bce_logits_forward(logits, 1.0f, gan->scalar));
        GANTRY_TRY(gantry_tensor_item(gan->scalar, &v));
        *g_loss = v;
        GANTRY_TRY(gantry_op_bce_logits_backward(logits, 1.0f, 1.0f, gan->dlogits));
    }
    GANTRY_TRY(gantry_seq_backward(gan->d, gan->dlogits, 0, &dfake));
    GANTRY_TRY(gantry_seq_backward(gan->g, dfake, 1, NULL));
    return gantry_optim_step(gan->opt_g);
}

gantry_status gantry_gan_train_step(gantry_gan *gan, const float *real, gantry_gan_stats *stats)
{
    if (!gan || !real)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_train_step: NULL argument");
    gantry_gan_stats acc = { 0 };
    size_t per_batch = gantry_tensor_numel(gan->real);
    for (unsigned k = 0; k < gan->config.d_steps; k++)
        GANTRY_TRY(discriminator_step(gan, real + (size_t)k * per_batch, &acc));
    GANTRY_TRY(generator_step(gan, &acc.g_loss));
    double n = gan->config.d_steps;
    acc.d_loss /= n;
    acc.d_real /= n;
    acc.d_fake /= n;
    gan->steps++;
    if (stats)
        *stats = acc;
    if (!isfinite(acc.d_loss) || !isfinite(acc.g_loss))
        return gantry_set_error(GANTRY_NUMERIC, "training step %llu: loss is not finite (d_loss %g, g_loss %g)",
                                (unsigned long long)gan->steps, acc.d_loss, acc.g_loss);
    return GANTRY_OK;
}

gantry_status gantry_gan_sample(gantry_gan *gan, size_t n, uint64_t seed, float *images)
{
    if (!gan || !images || n == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_sample: NULL output or n == 0");
    const gantry_gan_config *c = &gan->config;
    size_t chunk = n < 256 ? n : 256, per_image = c->channels * c->height * c->width;
    uint64_t offset = 0;
    gantry_tensor *z = NULL;
    gantry_status s = GANTRY_OK;
    for (size_t done = 0; !s && done < n; done += chunk) {
        size_t m = n - done < chunk ? n - done : chunk;
        size_t shape[2] = { m, c->z_dim };
        gantry_tensor *fake;
        s = gantry__ensure_tensor(gan->be, &z, 2, shape);
        if (!s)
            s = gantry_op_rand_normal(z, seed, offset, 0.0f, 1.0f);
        offset += gantry_philox_normal_blocks(m * c->z_dim);
        if (!s)
            s = gantry_seq_forward(gan->g, z, 0, &fake);
        if (!s)
            s = gantry_tensor_read(fake, images + done * per_image, m * per_image);
    }
    gantry_tensor_destroy(z);
    return s;
}
