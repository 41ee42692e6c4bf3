/* BEGAN (Berthelot et al. 2017): D is an autoencoder with the L1
 * reconstruction loss L(v) = E|v - D(v)|;
 *   L_D = L(x) - k_t L(G(z_D)),  L_G = L(G(z_G)),
 *   k_{t+1} = clamp(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1).
 * Its step is its own: d_steps updates of D, one of G, then k_t. */
#include <math.h>
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"

struct began_state {
    float k_t;
    gantry_tensor *ae_grad; /* [N, C, H, W]: the gradient of D's reconstruction */
    gantry_tensor *dimage;  /* [N, C, H, W]: the loss's direct gradient in the image */
};

static void defaults(gantry_gan_config *c) /* section 4 of the paper */
{
    c->lr = 1e-4f;
    c->began_gamma = 0.5f;
    c->began_lambda_k = 0.001f;
    c->began_hidden = 64;
}

static gantry_status check(const gantry_gan_config *c)
{
    if (!(c->began_gamma > 0.0f && c->began_gamma <= 1.0f) || !(c->began_lambda_k >= 0.0f) || !c->began_hidden)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "began: gamma %g outside (0, 1], lambda_k %g or hidden %zu",
                                (double)c->began_gamma, (double)c->began_lambda_k, c->began_hidden);
    if (c->minibatch_disc || c->feature_matching || c->label_smoothing != 1.0f)
        return gantry_set_error(GANTRY_UNSUPPORTED,
                                "began: its autoencoder D has no logits or features for --minibatch-disc, "
                                "--feature-matching or --label-smoothing");
    if (c->unroll)
        return gantry_set_error(GANTRY_UNSUPPORTED, "began: --unroll is not supported (its k_t control already "
                                                     "balances D and G)");
    return GANTRY_OK;
}

/* D: encoder Conv(C, w) LReLU Conv(w, 2w) LReLU Flatten Linear(., h),
 * decoder Linear(h, .) Unflatten ReLU ConvT(2w, w) ReLU ConvT(w, C) Tanh. */
static gantry_status autoencoder(const gantry_gan *gan, gantry_seq *d)
{
    const gantry_gan_config *c = &gan->config;
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

static gantry_status create(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    struct began_state *st = gan->family_state = gantry__gan_calloc(1, sizeof *st);
    if (!st)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_tensor_new(gan->be, &st->ae_grad, c->batch, c->channels, c->height, c->width));
    return gantry_tensor_new(gan->be, &st->dimage, c->batch, c->channels, c->height, c->width);
}

static void destroy(gantry_gan *gan)
{
    struct began_state *st = gan->family_state;
    if (!st)
        return;
    gantry_tensor_destroy(st->ae_grad);
    gantry_tensor_destroy(st->dimage);
    free(st);
    gan->family_state = NULL;
}

/* D's reconstruction *ae of v, and L(v). */
static gantry_status reconstruction(gantry_gan *gan, const gantry_tensor *v, double *loss, gantry_tensor **ae)
{
    GANTRY_TRY(gantry_seq_forward(gan->d, v, 1, ae));
    GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_L1, *ae, v, gan->scalar));
    return gantry__gan_item(gan, loss);
}

static gantry_status d_step(gantry_gan *gan, const float *real, gantry_gan_stats *acc, double *l_real)
{
    struct began_state *st = gan->family_state;
    gantry_tensor *fake, *ae;
    double l_fake;
    float k = st->k_t;
    GANTRY_TRY(gantry_tensor_write(gan->real, real, gantry_tensor_numel(gan->real)));
    gantry__seq_defer_zero_grad(gan->d);
    GANTRY_TRY(reconstruction(gan, gan->real, l_real, &ae));
    GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, ae, gan->real, 1.0f, st->ae_grad));
    GANTRY_TRY(gantry_seq_backward(gan->d, st->ae_grad, 1, NULL));
    GANTRY_TRY(gantry__gan_generate(gan, &fake));
    GANTRY_TRY(reconstruction(gan, fake, &l_fake, &ae));
    if (k != 0.0f) {
        GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, ae, fake, -k, st->ae_grad));
        GANTRY_TRY(gantry_seq_backward(gan->d, st->ae_grad, 1, NULL));
    }
    GANTRY_TRY(gantry__gan_update(gan, gan->d, gan->opt_d));
    acc->d_loss += *l_real - (double)k * l_fake;
    acc->d_real += *l_real;
    acc->d_fake += l_fake;
    return GANTRY_OK;
}

static gantry_status g_step(gantry_gan *gan, double *l_g)
{
    struct began_state *st = gan->family_state;
    gantry_tensor *fake, *ae, *dx;
    gantry__seq_defer_zero_grad(gan->g);
    GANTRY_TRY(gantry__gan_generate(gan, &fake));
    GANTRY_TRY(reconstruction(gan, fake, l_g, &ae));
    /* d|v - D(v)| / dv: through D, and directly. */
    GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, ae, fake, 1.0f, st->ae_grad));
    GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, fake, ae, 1.0f, st->dimage));
    GANTRY_TRY(gantry_seq_backward(gan->d, st->ae_grad, 0, &dx));
    GANTRY_TRY(gantry_op_axpy(1.0f, st->dimage, dx));
    GANTRY_TRY(gantry_seq_backward(gan->g, dx, 1, NULL));
    return gantry__gan_update(gan, gan->g, gan->opt_g);
}

static gantry_status step(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc)
{
    (void)labels; /* unconditional */
    const gantry_gan_config *c = &gan->config;
    struct began_state *st = gan->family_state;
    size_t per_batch = gantry_tensor_numel(gan->real);
    double l_real = 0.0, sum_real = 0.0;
    for (unsigned k = 0; k < c->d_steps; k++) {
        GANTRY_TRY(d_step(gan, real + (size_t)k * per_batch, acc, &l_real));
        sum_real += l_real;
    }
    GANTRY_TRY(g_step(gan, &acc->g_loss));
    double balance = (double)c->began_gamma * (sum_real / c->d_steps) - acc->g_loss;
    double k_next = (double)st->k_t + (double)c->began_lambda_k * balance;
    st->k_t = (float)(k_next < 0.0 ? 0.0 : k_next > 1.0 ? 1.0 : k_next);
    acc->k = st->k_t;
    acc->m_global = sum_real / c->d_steps + fabs(balance);
    return GANTRY_OK;
}

static float k_t(const gantry_gan *gan)
{
    const struct began_state *st = gan->family_state;
    return st->k_t;
}

static void set_k_t(gantry_gan *gan, float k)
{
    struct began_state *st = gan->family_state;
    st->k_t = k;
}

const gan_family gantry__gan_began = {
    .defaults = defaults,
    .check = check,
    .build_discriminator = autoencoder,
    .create = create,
    .destroy = destroy,
    .step = step,
    .k_t = k_t,
    .set_k_t = set_k_t,
};
