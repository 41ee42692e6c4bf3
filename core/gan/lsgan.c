/* Least squares GAN (Mao et al. 2017): D minimises
 * 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] and G 1/2 E[(D(G(z)) - c)^2],
 * with a = 0, b = c = 1 (b: the smoothed label when smoothing). */
#include "core/gan/gan_impl.h"
#include "gantry/ops.h"

/* The family's state: D's constant target [N, 1]. */
static gantry_tensor *target(const gantry_gan *gan)
{
    return gan->family_state;
}

/* 1/2 E[(out - value)^2] into *loss, with the target kept for the gradient. */
static gantry_status half_mse(gantry_gan *gan, const gantry_tensor *out, float value, double *loss)
{
    GANTRY_TRY(gantry_op_fill(target(gan), value));
    GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, out, target(gan), gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, loss));
    *loss *= 0.5;
    return GANTRY_OK;
}

static gantry_status d_loss(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dout, double *loss,
                            double *mean_out)
{
    GANTRY_TRY(half_mse(gan, out, real ? gan->config.label_smoothing : 0.0f, loss));
    GANTRY_TRY(gantry_op_mean(out, gan->scalar));
    GANTRY_TRY(gantry__gan_item(gan, mean_out));
    return gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, out, target(gan), 0.5f, dout);
}

static gantry_status g_loss(gantry_gan *gan, const gantry_tensor *out, double *loss)
{
    GANTRY_TRY(half_mse(gan, out, 1.0f, loss));
    return gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, out, target(gan), 0.5f, gan->dlogits);
}

const gan_family gantry__gan_lsgan = {
    .create = gantry__gan_output_scratch_create,
    .destroy = gantry__gan_output_scratch_destroy,
    .d_loss = d_loss,
    .g_loss = g_loss,
};
