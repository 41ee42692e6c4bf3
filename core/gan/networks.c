/* The networks of the models: the MLPs of Goodfellow et al. over C*H*W,
 * and the DCGAN networks of Radford et al.: for 28x28 images today's
 * (Linear + two ConvTranspose2d, two Conv2d + Linear), for the sizes 32 to
 * 128 the paper's all-convolutional ones (gantry__gan_allconv_depth); a
 * family may build its own D (began.c). */
#include "core/gan/gan_impl.h"
#include "gantry/nn.h"

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
    GANTRY_TRY(gantry_seq_add_linear(g, in, gantry__gan_image_numel(c)));
    GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_TANH, 0.0f));
    size_t image[3] = { c->channels, c->height, c->width };
    return gantry_seq_add_unflatten(g, 3, image);
}

/* Minibatch discrimination (when configured), then D's last Linear over
 * `features` flattened values. */
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

size_t gantry__gan_allconv_depth(const gantry_gan_config *c)
{
    if (c->height != c->width)
        return 0;
    for (size_t k = 3, size = 32; size <= 128; k++, size *= 2)
        if (c->height == size)
            return k;
    return 0;
}

static gantry_status conv(gantry_seq *s, int transposed, size_t in, size_t out, size_t stride, size_t padding)
{
    return gantry_seq_add_conv(s, &(gantry_conv_spec){ .in = in, .out = out, .kernel = 4, .stride = stride,
                                                      .padding = padding, .transposed = transposed, .no_bias = 1 });
}

/* The DCGAN paper's G for S = 4 * 2^k: z as [N, in, 1, 1] into
 * ConvT(in, 2^(k-1) w, 4, 1, 0) (4x4), then stride-2 ConvT(4, 2, 1) blocks
 * with BN and ReLU halving the channels to w at S/2, ConvT(w, C) to S and
 * Tanh; no bias (every convolution but the last feeds a batch norm, and the
 * PyTorch DCGAN tutorial's networks, whose state_dict this one matches at
 * 64x64 RGB, have none). */
static gantry_status allconv_generator(gantry_seq *g, const gantry_gan_config *c, size_t in)
{
    size_t k = gantry__gan_allconv_depth(c), ch = c->base_channels << (k - 1);
    GANTRY_TRY(conv(g, 1, in, ch, 1, 0));
    for (;;) {
        GANTRY_TRY(gantry_seq_add_batchnorm(g, ch, 1e-5f, 0.1f));
        GANTRY_TRY(gantry_seq_add_activation(g, GANTRY_ACT_RELU, 0.0f));
        if (ch == c->base_channels)
            break;
        GANTRY_TRY(conv(g, 1, ch, ch / 2, 2, 1));
        ch /= 2;
    }
    GANTRY_TRY(conv(g, 1, ch, c->channels, 2, 1));
    return gantry_seq_add_activation(g, GANTRY_ACT_TANH, 0.0f);
}

/* Its mirror: Conv(in, w, 4, 2, 1) LReLU(0.2), stride-2 Conv blocks with BN
 * and LReLU doubling the channels down to 4x4, then a 4x4 valid Conv to the
 * outputs and Flatten; with minibatch discrimination the last Conv becomes
 * Flatten, MBD and a Linear over the 4x4 features (the same product). */
static gantry_status allconv_discriminator(gantry_seq *d, const gantry_gan_config *c, size_t in_channels,
                                           size_t out)
{
    size_t k = gantry__gan_allconv_depth(c), ch = c->base_channels;
    GANTRY_TRY(conv(d, 0, in_channels, ch, 2, 1));
    GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    for (size_t i = 1; i < k; i++, ch *= 2) {
        GANTRY_TRY(conv(d, 0, ch, ch * 2, 2, 1));
        GANTRY_TRY(gantry_seq_add_batchnorm(d, ch * 2, 1e-5f, 0.1f));
        GANTRY_TRY(gantry_seq_add_activation(d, GANTRY_ACT_LEAKY_RELU, 0.2f));
    }
    if (c->minibatch_disc) {
        GANTRY_TRY(gantry_seq_add_flatten(d));
        return head(d, c, ch * 16, out);
    }
    GANTRY_TRY(conv(d, 0, ch, out, 1, 0));
    return gantry_seq_add_flatten(d);
}

/* D's outputs per image: a logit per class, or one logit or score. */
size_t gantry__gan_d_outputs(const gantry_gan *gan)
{
    return gan->family->d_classes ? gan->config.classes : 1;
}

gantry_status gantry__gan_build_discriminator(const gantry_gan *gan, gantry_seq *d)
{
    if (gan->family->build_discriminator)
        return gan->family->build_discriminator(gan, d);
    const gantry_gan_config *c = &gan->config;
    size_t cond = gan->conditional ? c->classes : 0;
    size_t d_out = gantry__gan_d_outputs(gan);
    if (!gan->conv)
        return mlp_discriminator(d, c, gantry__gan_image_numel(c) + cond, d_out);
    if (gantry__gan_allconv_depth(c))
        return allconv_discriminator(d, c, c->channels + cond, d_out);
    return conv_discriminator(d, c, c->channels + cond, d_out);
}

gantry_status gantry__gan_build_networks(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    size_t g_in = c->z_dim + (gan->conditional ? c->classes : 0);
    GANTRY_TRY(!gan->conv                        ? mlp_generator(gan->g, c, g_in)
               : gantry__gan_allconv_depth(c) ? allconv_generator(gan->g, c, g_in)
                                              : conv_generator(gan->g, c, g_in));
    return gantry__gan_build_discriminator(gan, gan->d);
}

gantry_status gantry__gan_plan_networks(const gantry_gan_config *config, gantry_seq **g, gantry_seq **d)
{
    *g = *d = NULL;
    const gan_model *m = gantry__gan_model(config->model);
    if (!m)
        return gantry_set_error(GANTRY_NOT_FOUND, "unknown model '%s'", config->model);
    /* Only what the builders read: the configuration and the model's kind. */
    gantry_gan plan = { .config = *config, .family = m->family, .conv = m->conv, .conditional = m->conditional };
    gantry_status s = gantry__seq_create_plan(&plan.g);
    if (!s)
        s = gantry__seq_create_plan(&plan.d);
    if (!s)
        s = gantry__gan_build_networks(&plan);
    if (s) {
        gantry_seq_destroy(plan.g);
        gantry_seq_destroy(plan.d);
        return s;
    }
    *g = plan.g;
    *d = plan.d;
    return GANTRY_OK;
}
