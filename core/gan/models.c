/* The GAN models: their table (family, networks, paper), the paper
 * defaults of each and the checks of a configuration. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/gan/gan_impl.h"

static const gan_model models[] = {
    { "gan", &gantry__gan_bce, 0, 0, "Goodfellow et al. 2014, Generative Adversarial Nets" },
    { "cgan", &gantry__gan_bce, 0, 1, "Mirza & Osindero 2014, Conditional Generative Adversarial Nets" },
    { "dcgan", &gantry__gan_bce, 1, 0, "Radford et al. 2015, Unsupervised Representation Learning with DCGANs" },
    { "cdcgan", &gantry__gan_bce, 1, 1, "conditional DCGAN: Radford et al. 2015 with Mirza & Osindero's labels" },
    { "wgan", &gantry__gan_wgan, 1, 0, "Arjovsky et al. 2017, Wasserstein GAN" },
    { "lsgan", &gantry__gan_lsgan, 1, 0, "Mao et al. 2017, Least Squares Generative Adversarial Networks" },
    { "began", &gantry__gan_began, 1, 0, "Berthelot et al. 2017, BEGAN: Boundary Equilibrium GANs" },
    { "sgan", &gantry__gan_sgan, 1, 0, "Salimans et al. 2016, Improved Techniques for Training GANs (semi-supervised)" },
};

#define NMODELS (sizeof models / sizeof *models)

const gan_model *gantry__gan_model(const char *name)
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
    const gan_model *m = model ? gantry__gan_model(model) : NULL;
    return m ? m->paper : NULL;
}

static gantry_status unknown_model(const char *model)
{
    char list[160] = "";
    for (size_t i = 0; i < NMODELS; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", models[i].name);
    return gantry_set_error(GANTRY_NOT_FOUND, "unknown model '%s'; available: %s", model, list);
}

/* The model's labels: the conditioning of cgan and cdcgan, sgan's classes. */
static int has_classes(const gan_model *m)
{
    return m->conditional || m->family->d_classes;
}

gantry_status gantry_gan_defaults(const char *model, gantry_gan_config *config)
{
    if (!config)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_defaults: config is NULL");
    if (!model)
        model = "gan";
    const gan_model *m = gantry__gan_model(model);
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
    config->classes = has_classes(m) ? 10 : 0;
    if (m->family->defaults)
        m->family->defaults(config);
    return GANTRY_OK;
}

gantry_status gantry__gan_check_config(const gantry_gan_config *c, const gan_model *m)
{
    if (!m)
        return unknown_model(c->model);
    if (c->batch < 2)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "batch %zu: batch norm needs at least 2", c->batch);
    if (!c->z_dim || !c->channels || !c->height || !c->width)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "model sizes must be positive");
    if (m->conv && !(c->height == 28 && c->width == 28) && !gantry__gan_allconv_depth(c))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "%s: no networks for %zux%zu images; the conv models train on 28x28 (today's DCGAN "
                                "networks) and 32x32, 64x64 or 128x128 (the DCGAN paper's); --image-size resizes",
                                c->model, c->height, c->width);
    if (m->conv && (c->base_channels < 1 || c->base_channels > 4096))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: width %zu outside 1..4096", c->model, c->base_channels);
    if (has_classes(m) && (c->classes < 2 || c->classes > 256))
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
    if (c->vbn != GANTRY_BN_BATCH && c->vbn != GANTRY_BN_VIRTUAL && c->vbn != GANTRY_BN_REFERENCE)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unknown batch norm mode %d", (int)c->vbn);
    if (c->unroll > 100)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "unroll %u outside 0..100", c->unroll);
    return m->family->check ? m->family->check(c) : GANTRY_OK;
}
