/* D's update in Algorithm 1: a term on the real and one on the fake batch,
 * the family's loss on each, then D's optimizer step and weight clipping.
 *
 * When D's layers keep the rows of a batch apart (no batch norm, dropout or
 * minibatch discrimination), the update runs the real and the fake batch
 * through D as one batch of 2N rows: every weight is read once per pass
 * instead of twice, in products twice as tall.  Real rows first, fake rows
 * after; gan->real is then a view of the real rows. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"

struct gan_d_stack {
    gantry_tensor *input; /* [2N, D's input] */
    gantry_tensor *grad;  /* [2N, D's outputs]: the gradient of D's stacked output */
};

gantry_status gantry__gan_d_stack_create(gantry_gan *gan)
{
    /* A family with its own step (BEGAN) updates D its own way. */
    if (gan->family->step || !gantry__seq_rows_independent(gan->d))
        return GANTRY_OK;
    const gantry_gan_config *c = &gan->config;
    size_t n = c->batch, cond = gan->conditional ? c->classes : 0;
    struct gan_d_stack *st = gan->d_stack = gantry__gan_calloc(1, sizeof *st);
    if (!st)
        return GANTRY_OUT_OF_MEMORY;
    if (gan->conv)
        GANTRY_TRY(gantry_tensor_new(gan->be, &st->input, 2 * n, c->channels + cond, c->height, c->width));
    else
        GANTRY_TRY(gantry_tensor_new(gan->be, &st->input, 2 * n, gantry__gan_image_numel(c) + cond, 0, 0));
    GANTRY_TRY(gantry_tensor_new(gan->be, &st->grad, 2 * n, gantry__gan_d_outputs(gan), 0, 0));
    if (gan->conditional) /* images go through the conditioning first */
        return GANTRY_OK;
    return gantry_tensor_view(st->input, 0, 4, (size_t[]){ n, c->channels, c->height, c->width }, &gan->real);
}

void gantry__gan_d_stack_destroy(gantry_gan *gan)
{
    if (!gan->d_stack)
        return;
    gantry_tensor_destroy(gan->d_stack->input);
    gantry_tensor_destroy(gan->d_stack->grad);
    free(gan->d_stack);
    gan->d_stack = NULL;
}

/* One term of D's objective on an image batch, backpropagated into D. */
static gantry_status d_term(gantry_gan *gan, const gantry_tensor *image, int real, double *loss, double *mean_out)
{
    const gantry_tensor *in;
    gantry_tensor *out;
    GANTRY_TRY(gantry__gan_d_input(gan, image, &in));
    GANTRY_TRY(gantry_seq_forward(gan->d, in, 1, &out));
    if (real && gan->fm)
        GANTRY_TRY(gantry__gan_fm_record_real(gan));
    GANTRY_TRY(gan->family->d_loss(gan, out, real, gan->dlogits, loss, mean_out));
    return gantry_seq_backward(gan->d, gan->dlogits, 1, NULL);
}

/* Both terms of D's objective from one pass of the stacked batch (gan->real
 * already in its real rows): the same values as two passes.  The gradient
 * of D's output goes to the stack's grad; one backward pass then sums the
 * weight gradients of both batches in one product. */
static gantry_status d_terms_stacked(gantry_gan *gan, double *loss_real, double *out_real, double *loss_fake,
                                     double *out_fake)
{
    struct gan_d_stack *st = gan->d_stack;
    size_t n = gan->config.batch;
    gantry_tensor real_rows = gantry__rows(st->input, 0, n), fake_rows = gantry__rows(st->input, n, n);
    gantry_tensor *fake, *out;
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_d_input_into(gan, gan->real, &real_rows));
    GANTRY_TRY(gantry__gan_generate(gan, &fake));
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_d_input_into(gan, fake, &fake_rows));
    else
        GANTRY_TRY(gantry_tensor_copy(&fake_rows, fake));
    GANTRY_TRY(gantry_seq_forward(gan->d, st->input, 1, &out));
    if (gan->fm)
        GANTRY_TRY(gantry__gan_fm_record_real(gan));
    gantry_tensor out_real_rows = gantry__rows(out, 0, n), out_fake_rows = gantry__rows(out, n, n);
    gantry_tensor d_real = gantry__rows(st->grad, 0, n), d_fake = gantry__rows(st->grad, n, n);
    GANTRY_TRY(gan->family->d_loss(gan, &out_real_rows, 1, &d_real, loss_real, out_real));
    GANTRY_TRY(gan->family->d_loss(gan, &out_fake_rows, 0, &d_fake, loss_fake, out_fake));
    return gantry_seq_backward(gan->d, st->grad, 1, NULL);
}

gantry_status gantry__gan_d_step(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc)
{
    const gantry_gan_config *c = &gan->config;
    const gan_family *fam = gan->family;
    double loss_real, loss_fake, out_real, out_fake;
    gantry_tensor *fake;
    GANTRY_TRY(gantry_tensor_write(gan->real, real, gantry_tensor_numel(gan->real)));
    gantry__seq_defer_zero_grad(gan->d);
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, labels, c->batch));
    if (gan->d_stack) {
        GANTRY_TRY(d_terms_stacked(gan, &loss_real, &out_real, &loss_fake, &out_fake));
    } else {
        GANTRY_TRY(d_term(gan, gan->real, 1, &loss_real, &out_real));
        GANTRY_TRY(gantry__gan_generate(gan, &fake));
        GANTRY_TRY(d_term(gan, fake, 0, &loss_fake, &out_fake));
    }
    if (fam->d_extra_term)
        GANTRY_TRY(fam->d_extra_term(gan, acc));
    GANTRY_TRY(gantry__gan_update(gan, gan->d, gan->opt_d));
    if (c->clip > 0.0f)
        GANTRY_TRY(gantry_seq_clamp_params(gan->d, -c->clip, c->clip));
    acc->d_loss += loss_real + loss_fake;
    acc->d_real += out_real;
    acc->d_fake += out_fake;
    if (fam->d_stats)
        fam->d_stats(acc, out_real, out_fake);
    return GANTRY_OK;
}
