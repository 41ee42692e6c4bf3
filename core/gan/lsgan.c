/* Least squares GAN (Mao et al. 2017): D minimises
 * 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] and G 1/2 E[(D(G(z)) - c)^2],
 * with a = 0, b = c = 1 (b: the smoothed label when smoothing). */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "gantry/ops.h"

struct lsgan_state {
    gantry_tensor *target; /* [N, 1]: the constant target of D's output */
};

static gantry_status create(gantry_gan *gan)
{
    struct lsgan_state *st = gan->family_state = gantry__gan_calloc(1, sizeof *st);
    if (!st)
        return GANTRY_OUT_OF_MEMORY;
    return gantry_tensor_new(gan->be, &st->target, gan->config.batch, 1, 0, 0);
}

static void destroy(gantry_gan *gan)
{
    struct lsgan_state *st = gan->family_state;
    if (!st)
        return;
    gantry_tensor_destroy(st->target);
    free(st);
    gan->family_state = NULL;
}

/* 1/2 E[(out - target)^2] into *loss, with the target kept for the gradient. */
static gantry_status half_mse(gantry_gan *gan, const gantry_tensor *out, float target, double *loss)
{
    struct lsgan_state *st = gan->family_state;
    GANTRY_TRY(gantry_op_fill(st->target, target));
    GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, out, st->target, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, loss));
    *loss *= 0.5;
    return GANTRY_OK;
}

static gantry_status d_loss(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dout, double *loss,
                            double *mean_out)
{
    struct lsgan_state *st = gan->family_state;
    GANTRY_TRY(half_mse(gan, out, real ? gan->config.label_smoothing : 0.0f, loss));
    GANTRY_TRY(gantry_op_mean(out, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, mean_out));
    return gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, out, st->target, 0.5f, dout);
}

static gantry_status g_loss(gantry_gan *gan, const gantry_tensor *out, double *loss)
{
    struct lsgan_state *st = gan->family_state;
    GANTRY_TRY(half_mse(gan, out, 1.0f, loss));
    return gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, out, st->target, 0.5f, gan->dlogits);
}

const gan_family gantry__gan_lsgan = {
    .name = "lsgan",
    .create = create,
    .destroy = destroy,
    .d_loss = d_loss,
    .g_loss = g_loss,
};
