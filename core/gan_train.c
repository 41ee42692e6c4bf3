/* The training steps of every GAN variant: Algorithm 1 of Goodfellow et al.
 * (d_steps discriminator updates, then one generator update) with each
 * family's losses, the conditioning of cgan/cdcgan, and the tricks
 * (one-sided label smoothing, feature matching, weight clipping). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

/* Streams of their own for fake labels and labelled-batch draws. */
#define LABEL_STREAM 0x6c6162656c73ull

static size_t image_numel(const gantry_gan_config *c)
{
    return c->channels * c->height * c->width;
}

static gantry_status item(gantry_gan *gan, double *out)
{
    float v;
    GANTRY_TRY(gantry_tensor_item(gan->scalar, &v));
    *out = v;
    return GANTRY_OK;
}

gantry_status gantry__gan_condition(gantry_gan *gan, const uint8_t *labels, size_t n)
{
    const gantry_gan_config *c = &gan->config;
    size_t k = c->classes, hw = c->height * c->width;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= k)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: label %u of image %zu outside 0..%zu", c->model,
                                    (unsigned)labels[i], i, k - 1);
    float *h = gan->host_labels;
    for (size_t i = 0; i < n * k; i++)
        h[i] = (i % k) == labels[i / k] ? 1.0f : 0.0f;
    GANTRY_TRY(gantry_tensor_write(gan->onehot, h, n * k));
    if (!gan->planes)
        return GANTRY_OK;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            for (size_t p = 0; p < hw; p++)
                h[(i * k + j) * hw + p] = j == labels[i] ? 1.0f : 0.0f;
    return gantry_tensor_write(gan->planes, h, n * k * hw);
}

/* Conditional models: G's input rows `dst` = [z, the current one-hot]. */
static gantry_status g_input_into(gantry_gan *gan, const gantry_tensor *z, gantry_tensor *dst)
{
    const gantry_gan_config *c = &gan->config;
    size_t n = c->batch, k = c->classes;
    GANTRY_TRY(gantry_op_copy_rows(z, c->z_dim, 0, dst, c->z_dim + k, 0, n, c->z_dim));
    return gantry_op_copy_rows(gan->onehot, k, 0, dst, c->z_dim + k, c->z_dim, n, k);
}

gantry_status gantry__gan_g_input(gantry_gan *gan, gantry_tensor *z, gantry_tensor **in)
{
    if (!gan->conditional) {
        *in = z;
        return GANTRY_OK;
    }
    GANTRY_TRY(g_input_into(gan, z, gan->g_in));
    *in = gan->g_in;
    return GANTRY_OK;
}

/* Columns per row of D's conditional input. */
static size_t d_width(const gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    return image_numel(c) + c->classes * (gan->conv ? c->height * c->width : 1);
}

/* Conditional models: D's input rows `dst` for an image batch under the
 * current conditioning. */
static gantry_status d_input_into(gantry_gan *gan, const gantry_tensor *image, gantry_tensor *dst)
{
    const gantry_gan_config *c = &gan->config;
    size_t n = c->batch, chw = image_numel(c), width = d_width(gan);
    const gantry_tensor *cond = gan->conv ? gan->planes : gan->onehot;
    GANTRY_TRY(gantry_op_copy_rows(image, chw, 0, dst, width, 0, n, chw));
    return gantry_op_copy_rows(cond, width - chw, 0, dst, width, chw, n, width - chw);
}

/* D's input for an image batch under the current conditioning. */
static gantry_status d_input(gantry_gan *gan, const gantry_tensor *image, const gantry_tensor **in)
{
    if (!gan->conditional) {
        *in = image;
        return GANTRY_OK;
    }
    GANTRY_TRY(d_input_into(gan, image, gan->d_in));
    *in = gan->d_in;
    return GANTRY_OK;
}

/* The image part of D's input gradient. */
static gantry_status image_grad(gantry_gan *gan, gantry_tensor *dx, gantry_tensor **dimage)
{
    if (!gan->conditional) {
        *dimage = dx;
        return GANTRY_OK;
    }
    const gantry_gan_config *c = &gan->config;
    size_t chw = image_numel(c);
    GANTRY_TRY(gantry_op_copy_rows(dx, d_width(gan), 0, gan->dimage, chw, 0, c->batch, chw));
    *dimage = gan->dimage;
    return GANTRY_OK;
}

/* --vbn: G's reference pass on the fixed reference batch, which sets the
 * statistics its virtual batch norm layers use next. */
static gantry_status reference_pass(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    gantry_tensor *in, *out;
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, gan->ref_labels, c->batch));
    GANTRY_TRY(gantry__gan_g_input(gan, gan->z_ref, &in));
    return gantry_seq_forward(gan->g, in, GANTRY_FORWARD_REFERENCE, &out);
}

/* The next batch of noise into z, and for conditional models the next
 * uniform labels into `labels`. */
static gantry_status draw_noise(gantry_gan *gan, gantry_tensor *z, uint8_t *labels)
{
    const gantry_gan_config *c = &gan->config;
    GANTRY_TRY(gantry_op_rand_normal(z, c->seed, gan->noise_offset, 0.0f, 1.0f));
    gan->noise_offset += gantry_philox_normal_blocks(gantry_tensor_numel(z));
    if (!gan->conditional)
        return GANTRY_OK;
    for (size_t i = 0; i < c->batch; i++) {
        float u = gantry_philox_uniform(c->seed ^ LABEL_STREAM, gan->label_offset, i, 0.0f, (float)c->classes);
        labels[i] = (uint8_t)(u < (float)c->classes ? u : (float)c->classes - 1.0f);
    }
    gan->label_offset += gantry_philox_uniform_blocks(c->batch);
    return GANTRY_OK;
}

/* gan->g_stacked: both of the step's noise batches, drawn in the order two
 * generate calls draw them, through G at once.  *fake = the first fake;
 * gan->fake_second the other; the conditioning is the first batch's. */
static gantry_status generate_pair(gantry_gan *gan, gantry_tensor **fake)
{
    size_t n = gan->config.batch;
    gantry_tensor z0 = gantry__rows(gan->z_pair, 0, n), z1 = gantry__rows(gan->z_pair, n, n);
    GANTRY_TRY(draw_noise(gan, &z0, gan->fake_labels));
    GANTRY_TRY(draw_noise(gan, &z1, gan->fake_labels2));
    const gantry_tensor *in = gan->z_pair;
    if (gan->conditional) {
        gantry_tensor in0 = gantry__rows(gan->g_in_pair, 0, n), in1 = gantry__rows(gan->g_in_pair, n, n);
        GANTRY_TRY(gantry__gan_condition(gan, gan->fake_labels2, n));
        GANTRY_TRY(g_input_into(gan, &z1, &in1));
        GANTRY_TRY(gantry__gan_condition(gan, gan->fake_labels, n));
        GANTRY_TRY(g_input_into(gan, &z0, &in0));
        in = gan->g_in_pair;
    }
    gantry_tensor *out;
    GANTRY_TRY(gantry__seq_forward_groups(gan->g, in, 1, 2, &out));
    gan->fake_first = gantry__rows(out, 0, n);
    gan->fake_second = gantry__rows(out, n, n);
    gan->pair_next = 1;
    *fake = &gan->fake_first;
    return GANTRY_OK;
}

/* Fresh noise (and, for conditional models, fresh uniform labels), then
 * G's output in training mode. */
static gantry_status generate(gantry_gan *gan, gantry_tensor **fake)
{
    const gantry_gan_config *c = &gan->config;
    if (gan->g_stacked && !gan->pair_next)
        return generate_pair(gan, fake);
    if (gan->g_stacked) { /* the second of the pair: G's update */
        gan->pair_next = 0;
        if (gan->conditional)
            GANTRY_TRY(gantry__gan_condition(gan, gan->fake_labels2, c->batch));
        *fake = &gan->fake_second;
        return GANTRY_OK;
    }
    if (c->vbn)
        GANTRY_TRY(reference_pass(gan));
    GANTRY_TRY(draw_noise(gan, gan->z, gan->fake_labels));
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, gan->fake_labels, c->batch));
    gantry_tensor *in;
    GANTRY_TRY(gantry__gan_g_input(gan, gan->z, &in));
    return gantry_seq_forward(gan->g, in, 1, fake);
}

/* Index of D's penultimate layer, whose output feature matching uses. */
static size_t feature_layer(const gantry_gan *gan)
{
    return gantry_seq_layer_count(gan->d) - 2;
}

/* out [1, F] = the mean of D's features over the first batch of its last
 * forward pass (the real rows of a stacked pass). */
static gantry_status feature_mean(gantry_gan *gan, gantry_tensor **out)
{
    gantry_tensor *feat = gantry_seq_output(gan->d, feature_layer(gan));
    size_t n = gan->config.batch, f = gantry_tensor_numel(feat) / feat->shape[0];
    GANTRY_TRY(gantry__ensure_tensor(gan->be, out, 2, (size_t[]){ 1, f }));
    gantry_tensor all = gantry__as_matrix(feat, f), feat2 = gantry__rows(&all, 0, n);
    return gantry_op_gemm(1, 0, 1.0f / (float)n, gan->ones, &feat2, 0.0f, *out);
}

/* The loss of D's output `out` against real (target 1) or fake data, by
 * family; the gradient goes to dlogits.  *loss is the term of D's
 * objective, *mean_out the mean probability (BCE, sgan) or score. */
static gantry_status d_loss_term(gantry_gan *gan, const gantry_tensor *out, int real, gantry_tensor *dlogits,
                                 double *loss, double *mean_out)
{
    const gantry_gan_config *c = &gan->config;
    float target = real ? c->label_smoothing : 0.0f;
    double m;
    switch (gan->family) {
    case FAMILY_LS: /* 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2], a = 0, b = 1 */
        GANTRY_TRY(gantry_op_fill(gan->target, target));
        GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, out, gan->target, gan->scalar));
        GANTRY_TRY(item(gan, loss));
        *loss *= 0.5;
        GANTRY_TRY(gantry_op_mean(out, gan->scalar));
        GANTRY_TRY(item(gan, mean_out));
        return gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, out, gan->target, 0.5f, dlogits);
    case FAMILY_WGAN: /* the critic maximises E[f(x)] - E[f(G(z))] */
        GANTRY_TRY(gantry_op_mean(out, gan->scalar));
        GANTRY_TRY(item(gan, &m));
        *mean_out = m;
        *loss = real ? -m : m;
        return gantry_op_fill(dlogits, (real ? -1.0f : 1.0f) / (float)c->batch);
    case FAMILY_SGAN: /* D(x) = Z / (Z + 1) = sigmoid(logsumexp(logits)) */
        GANTRY_TRY(gantry_op_logsumexp_forward(out, gan->lse));
        GANTRY_TRY(gantry_op_bce_logits_forward(gan->lse, target, gan->scalar));
        GANTRY_TRY(item(gan, loss));
        GANTRY_TRY(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0.0f, gan->lse, gan->dlse));
        GANTRY_TRY(gantry_op_mean(gan->dlse, gan->scalar));
        GANTRY_TRY(item(gan, mean_out));
        GANTRY_TRY(gantry_op_bce_logits_backward(gan->lse, target, 1.0f, gan->dlse));
        return gantry_op_logsumexp_backward(out, gan->dlse, dlogits);
    default:
        GANTRY_TRY(gantry_op_bce_logits_forward(out, target, gan->scalar));
        GANTRY_TRY(item(gan, loss));
        GANTRY_TRY(gantry_op_activation_forward(GANTRY_ACT_SIGMOID, 0.0f, out, gan->probs));
        GANTRY_TRY(gantry_op_mean(gan->probs, gan->scalar));
        GANTRY_TRY(item(gan, mean_out));
        return gantry_op_bce_logits_backward(out, target, 1.0f, dlogits);
    }
}

/* One term of D's objective on an image batch, backpropagated into D. */
static gantry_status d_term(gantry_gan *gan, const gantry_tensor *image, int real, double *loss, double *mean_out)
{
    const gantry_tensor *in;
    gantry_tensor *out;
    GANTRY_TRY(d_input(gan, image, &in));
    GANTRY_TRY(gantry_seq_forward(gan->d, in, 1, &out));
    if (real && gan->config.feature_matching)
        GANTRY_TRY(feature_mean(gan, &gan->feat_real));
    GANTRY_TRY(d_loss_term(gan, out, real, gan->dlogits, loss, mean_out));
    return gantry_seq_backward(gan->d, gan->dlogits, 1, NULL);
}

/* sgan: the supervised cross-entropy on a batch drawn from the labelled set. */
static gantry_status sgan_labeled_term(gantry_gan *gan, double *loss)
{
    const gantry_gan_config *c = &gan->config;
    if (!gan->labeled_n)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "sgan: no labelled examples (gantry_gan_set_labeled; gantry train --labeled N)");
    size_t n = c->batch, chw = image_numel(c), k = c->classes;
    float *images = gan->lab_host, *targets = gan->lab_host + n * chw;
    for (size_t i = 0; i < n; i++) {
        float u = gantry_philox_uniform(c->seed ^ LABEL_STREAM, gan->label_offset, i, 0.0f, (float)gan->labeled_n);
        size_t j = (size_t)u < gan->labeled_n ? (size_t)u : gan->labeled_n - 1;
        memcpy(images + i * chw, gan->labeled_images + j * chw, chw * sizeof *images);
        for (size_t l = 0; l < k; l++)
            targets[i * k + l] = l == gan->labeled_labels[j] ? 1.0f : 0.0f;
    }
    gan->label_offset += gantry_philox_uniform_blocks(n);
    GANTRY_TRY(gantry_tensor_write(gan->lab_real, images, n * chw));
    GANTRY_TRY(gantry_tensor_write(gan->lab_target, targets, n * k));
    gantry_tensor *out;
    GANTRY_TRY(gantry_seq_forward(gan->d, gan->lab_real, 1, &out));
    GANTRY_TRY(gantry_op_softmax_ce_forward(out, gan->lab_target, gan->scalar));
    GANTRY_TRY(item(gan, loss));
    GANTRY_TRY(gantry_op_softmax_ce_backward(out, gan->lab_target, 1.0f, gan->dlogits));
    return gantry_seq_backward(gan->d, gan->dlogits, 1, NULL);
}

/* Both terms of D's objective from one pass of the stacked batch (gan->real
 * already in its real rows): the same values as two passes.  The gradient
 * of D's output goes to gan->dstack; one backward pass then sums the weight
 * gradients of both batches in one product. */
static gantry_status d_terms_stacked(gantry_gan *gan, double *loss_real, double *out_real, double *loss_fake,
                                     double *out_fake)
{
    size_t n = gan->config.batch;
    gantry_tensor real_rows = gantry__rows(gan->d_stack, 0, n), fake_rows = gantry__rows(gan->d_stack, n, n);
    gantry_tensor *fake, *out;
    if (gan->conditional)
        GANTRY_TRY(d_input_into(gan, gan->real, &real_rows));
    GANTRY_TRY(generate(gan, &fake));
    if (gan->conditional)
        GANTRY_TRY(d_input_into(gan, fake, &fake_rows));
    else
        GANTRY_TRY(gantry_tensor_copy(&fake_rows, fake));
    GANTRY_TRY(gantry_seq_forward(gan->d, gan->d_stack, 1, &out));
    if (gan->config.feature_matching)
        GANTRY_TRY(feature_mean(gan, &gan->feat_real));
    gantry_tensor out_real_rows = gantry__rows(out, 0, n), out_fake_rows = gantry__rows(out, n, n);
    gantry_tensor d_real = gantry__rows(gan->dstack, 0, n), d_fake = gantry__rows(gan->dstack, n, n);
    GANTRY_TRY(d_loss_term(gan, &out_real_rows, 1, &d_real, loss_real, out_real));
    return d_loss_term(gan, &out_fake_rows, 0, &d_fake, loss_fake, out_fake);
}

static gantry_status discriminator_step(gantry_gan *gan, const float *real, const uint8_t *labels,
                                        gantry_gan_stats *acc)
{
    const gantry_gan_config *c = &gan->config;
    double loss_real, loss_fake, out_real, out_fake;
    gantry_tensor *fake;
    GANTRY_TRY(gantry_tensor_write(gan->real, real, gantry_tensor_numel(gan->real)));
    gantry__seq_defer_zero_grad(gan->d);
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, labels, c->batch));
    if (gan->stacked) {
        GANTRY_TRY(d_terms_stacked(gan, &loss_real, &out_real, &loss_fake, &out_fake));
        GANTRY_TRY(gantry_seq_backward(gan->d, gan->dstack, 1, NULL));
    } else {
        GANTRY_TRY(d_term(gan, gan->real, 1, &loss_real, &out_real));
        GANTRY_TRY(generate(gan, &fake));
        GANTRY_TRY(d_term(gan, fake, 0, &loss_fake, &out_fake));
    }
    if (gan->family == FAMILY_SGAN) {
        double ce = 0.0;
        GANTRY_TRY(sgan_labeled_term(gan, &ce));
        acc->d_class += ce;
        acc->d_loss += ce;
    }
    GANTRY_TRY(gantry_optim_step(gan->opt_d));
    if (c->clip > 0.0f)
        GANTRY_TRY(gantry_seq_clamp_params(gan->d, -c->clip, c->clip));
    acc->d_loss += loss_real + loss_fake;
    acc->d_real += out_real;
    acc->d_fake += out_fake;
    if (gan->family == FAMILY_WGAN)
        acc->wasserstein += out_real - out_fake;
    return GANTRY_OK;
}

/* Feature matching: || E f(x) - E f(G(z)) ||^2 over D's penultimate features;
 * the gradient of D's feature output goes to gan->dfeat. */
static gantry_status feature_matching_loss(gantry_gan *gan, double *loss)
{
    if (!gan->feat_real)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "feature matching: no real batch seen yet");
    GANTRY_TRY(feature_mean(gan, &gan->feat_fake));
    size_t n = gan->config.batch, f = gantry_tensor_numel(gan->feat_fake);
    GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, gan->feat_fake, gan->feat_real, gan->scalar));
    GANTRY_TRY(item(gan, loss));
    *loss *= (double)f;
    GANTRY_TRY(gantry_op_axpy(-1.0f, gan->feat_real, gan->feat_fake)); /* now the difference */
    GANTRY_TRY(gantry__ensure_tensor(gan->be, &gan->dfeat, 2, (size_t[]){ n, f }));
    return gantry_op_gemm(0, 0, 2.0f / (float)n, gan->ones, gan->feat_fake, 0.0f, gan->dfeat);
}

/* G's objective on D's output; the gradient goes to gan->dlogits. */
static gantry_status g_loss_term(gantry_gan *gan, const gantry_tensor *out, double *loss)
{
    const gantry_gan_config *c = &gan->config;
    const gantry_tensor *logit = out;
    double m;
    switch (gan->family) {
    case FAMILY_LS: /* 1/2 E[(D(G(z)) - c)^2], c = 1 */
        GANTRY_TRY(gantry_op_fill(gan->target, 1.0f));
        GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_MSE, out, gan->target, gan->scalar));
        GANTRY_TRY(item(gan, loss));
        *loss *= 0.5;
        return gantry_op_regression_loss_backward(GANTRY_LOSS_MSE, out, gan->target, 0.5f, gan->dlogits);
    case FAMILY_WGAN:
        GANTRY_TRY(gantry_op_mean(out, gan->scalar));
        GANTRY_TRY(item(gan, &m));
        *loss = -m;
        return gantry_op_fill(gan->dlogits, -1.0f / (float)c->batch);
    case FAMILY_SGAN:
        GANTRY_TRY(gantry_op_logsumexp_forward(out, gan->lse));
        logit = gan->lse;
        break;
    default:
        break;
    }
    gantry_tensor *dlogit = gan->family == FAMILY_SGAN ? gan->dlse : gan->dlogits;
    if (c->g_loss == GANTRY_G_LOSS_MINIMAX) { /* log(1 - D(G(z))) = -BCE(logit, 0) */
        GANTRY_TRY(gantry_op_bce_logits_forward(logit, 0.0f, gan->scalar));
        GANTRY_TRY(item(gan, loss));
        *loss = -*loss;
        GANTRY_TRY(gantry_op_bce_logits_backward(logit, 0.0f, -1.0f, dlogit));
    } else {
        GANTRY_TRY(gantry_op_bce_logits_forward(logit, 1.0f, gan->scalar));
        GANTRY_TRY(item(gan, loss));
        GANTRY_TRY(gantry_op_bce_logits_backward(logit, 1.0f, 1.0f, dlogit));
    }
    if (gan->family == FAMILY_SGAN)
        return gantry_op_logsumexp_backward(out, gan->dlse, gan->dlogits);
    return GANTRY_OK;
}

static gantry_status generator_step(gantry_gan *gan, double *g_loss)
{
    gantry_tensor *fake, *out, *dx, *dimage;
    const gantry_tensor *in;
    gantry__seq_defer_zero_grad(gan->g);
    GANTRY_TRY(generate(gan, &fake));
    GANTRY_TRY(d_input(gan, fake, &in));
    GANTRY_TRY(gantry_seq_forward(gan->d, in, 1, &out));
    if (gan->config.feature_matching) {
        GANTRY_TRY(feature_matching_loss(gan, g_loss));
        GANTRY_TRY(gantry_seq_backward_from(gan->d, feature_layer(gan), gan->dfeat, 0, &dx));
    } else {
        GANTRY_TRY(g_loss_term(gan, out, g_loss));
        GANTRY_TRY(gantry_seq_backward(gan->d, gan->dlogits, 0, &dx));
    }
    GANTRY_TRY(image_grad(gan, dx, &dimage));
    if (gan->g_stacked)
        GANTRY_TRY(gantry__seq_backward_group(gan->g, 1, dimage, 1, NULL));
    else
        GANTRY_TRY(gantry_seq_backward(gan->g, dimage, 1, NULL));
    return gantry_optim_step(gan->opt_g);
}

/* BEGAN: L(v) = E|v - D(v)|;  L_D = L(x) - k_t L(G(z_D));  L_G = L(G(z_G));
 * k_{t+1} = clamp(k_t + lambda_k (gamma L(x) - L(G(z_G))), 0, 1). */
static gantry_status began_reconstruction(gantry_gan *gan, const gantry_tensor *v, double *loss, gantry_tensor **ae)
{
    GANTRY_TRY(gantry_seq_forward(gan->d, v, 1, ae));
    GANTRY_TRY(gantry_op_regression_loss_forward(GANTRY_LOSS_L1, *ae, v, gan->scalar));
    return item(gan, loss);
}

static gantry_status began_d_step(gantry_gan *gan, const float *real, gantry_gan_stats *acc, double *l_real)
{
    gantry_tensor *fake, *ae;
    double l_fake;
    float k = gan->k_t;
    GANTRY_TRY(gantry_tensor_write(gan->real, real, gantry_tensor_numel(gan->real)));
    gantry__seq_defer_zero_grad(gan->d);
    GANTRY_TRY(began_reconstruction(gan, gan->real, l_real, &ae));
    GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, ae, gan->real, 1.0f, gan->ae_grad));
    GANTRY_TRY(gantry_seq_backward(gan->d, gan->ae_grad, 1, NULL));
    GANTRY_TRY(generate(gan, &fake));
    GANTRY_TRY(began_reconstruction(gan, fake, &l_fake, &ae));
    if (k != 0.0f) {
        GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, ae, fake, -k, gan->ae_grad));
        GANTRY_TRY(gantry_seq_backward(gan->d, gan->ae_grad, 1, NULL));
    }
    GANTRY_TRY(gantry_optim_step(gan->opt_d));
    acc->d_loss += *l_real - (double)k * l_fake;
    acc->d_real += *l_real;
    acc->d_fake += l_fake;
    return GANTRY_OK;
}

static gantry_status began_g_step(gantry_gan *gan, double *l_g)
{
    gantry_tensor *fake, *ae, *dx;
    gantry__seq_defer_zero_grad(gan->g);
    GANTRY_TRY(generate(gan, &fake));
    GANTRY_TRY(began_reconstruction(gan, fake, l_g, &ae));
    /* d|v - D(v)| / dv: through D, and directly. */
    GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, ae, fake, 1.0f, gan->ae_grad));
    GANTRY_TRY(gantry_op_regression_loss_backward(GANTRY_LOSS_L1, fake, ae, 1.0f, gan->dimage));
    GANTRY_TRY(gantry_seq_backward(gan->d, gan->ae_grad, 0, &dx));
    GANTRY_TRY(gantry_op_axpy(1.0f, gan->dimage, dx));
    GANTRY_TRY(gantry_seq_backward(gan->g, dx, 1, NULL));
    return gantry_optim_step(gan->opt_g);
}

/* dst's parameters and buffers = src's (two Sequentials of one architecture). */
static gantry_status copy_state(gantry_seq *dst, gantry_seq *src)
{
    for (size_t i = 0; i < gantry_seq_state_count(src); i++) {
        const gantry_param *from = gantry_seq_state(src, i), *to = gantry_seq_state(dst, i);
        if (from->counter)
            *to->counter = *from->counter;
        else
            GANTRY_TRY(gantry_tensor_copy(to->value, from->value));
    }
    return GANTRY_OK;
}

/* Unrolled GAN (Metz et al. 2017): D takes `unroll` more steps on the last
 * real batch, G updates against that D, then D returns to its snapshot.
 * First-order: G's gradient does not flow back through the unrolled D
 * updates, only through the unrolled D's output. */
static gantry_status unrolled_generator_step(gantry_gan *gan, const float *real, const uint8_t *labels,
                                             double *g_loss)
{
    gantry_gan_stats ignored = { 0 };
    GANTRY_TRY(copy_state(gan->d_saved, gan->d));
    GANTRY_TRY(gantry_optim_copy_state(gan->opt_saved, gan->opt_d));
    for (unsigned k = 0; k < gan->config.unroll; k++)
        GANTRY_TRY(discriminator_step(gan, real, labels, &ignored));
    GANTRY_TRY(generator_step(gan, g_loss));
    GANTRY_TRY(copy_state(gan->d, gan->d_saved));
    return gantry_optim_copy_state(gan->opt_d, gan->opt_saved);
}

gantry_status gantry__gan_step(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc)
{
    const gantry_gan_config *c = &gan->config;
    size_t per_batch = gantry_tensor_numel(gan->real);
    gan->pair_next = 0; /* a step that failed half-way leaves no fake behind */
    if (gan->conditional && !labels)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: training needs the labels of the real images",
                                c->model);
    if (gan->family == FAMILY_BEGAN) {
        double l_real = 0.0, sum_real = 0.0;
        for (unsigned k = 0; k < c->d_steps; k++) {
            GANTRY_TRY(began_d_step(gan, real + (size_t)k * per_batch, acc, &l_real));
            sum_real += l_real;
        }
        GANTRY_TRY(began_g_step(gan, &acc->g_loss));
        double balance = (double)c->began_gamma * (sum_real / c->d_steps) - acc->g_loss;
        double k_next = (double)gan->k_t + (double)c->began_lambda_k * balance;
        gan->k_t = (float)(k_next < 0.0 ? 0.0 : k_next > 1.0 ? 1.0 : k_next);
        acc->k = gan->k_t;
        acc->m_global = sum_real / c->d_steps + fabs(balance);
        return GANTRY_OK;
    }
    for (unsigned k = 0; k < c->d_steps; k++)
        GANTRY_TRY(discriminator_step(gan, real + (size_t)k * per_batch, labels ? labels + (size_t)k * c->batch : NULL,
                                      acc));
    if (!c->unroll)
        return generator_step(gan, &acc->g_loss);
    return unrolled_generator_step(gan, real + (size_t)(c->d_steps - 1) * per_batch,
                                   labels ? labels + (size_t)(c->d_steps - 1) * c->batch : NULL, &acc->g_loss);
}

gantry_status gantry_gan_train_step_labeled(gantry_gan *gan, const float *real, const uint8_t *labels,
                                            gantry_gan_stats *stats)
{
    if (!gan || !real)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_train_step: NULL argument");
    gantry_gan_stats acc = { 0 };
    GANTRY_TRY(gantry__gan_step(gan, real, labels, &acc));
    double n = gan->config.d_steps;
    acc.d_loss /= n;
    acc.d_real /= n;
    acc.d_fake /= n;
    acc.wasserstein /= n;
    acc.d_class /= n;
    gan->steps++;
    if (stats)
        *stats = acc;
    if (!isfinite(acc.d_loss) || !isfinite(acc.g_loss))
        return gantry_set_error(GANTRY_NUMERIC, "training step %llu: loss is not finite (d_loss %g, g_loss %g)",
                                (unsigned long long)gan->steps, acc.d_loss, acc.g_loss);
    return GANTRY_OK;
}

gantry_status gantry_gan_train_step(gantry_gan *gan, const float *real, gantry_gan_stats *stats)
{
    return gantry_gan_train_step_labeled(gan, real, NULL, stats);
}

gantry_status gantry_gan_set_labeled(gantry_gan *gan, const float *images, const uint8_t *labels, size_t n)
{
    if (!gan || !images || !labels || !n)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_set_labeled: NULL argument or no examples");
    const gantry_gan_config *c = &gan->config;
    if (gan->family != FAMILY_SGAN)
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: only sgan trains on labelled examples", c->model);
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= c->classes)
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "sgan: label %u of example %zu outside 0..%zu",
                                    (unsigned)labels[i], i, c->classes - 1);
    size_t chw = image_numel(c);
    float *im = malloc(n * chw * sizeof *im);
    uint8_t *lb = malloc(n);
    if (!im || !lb) {
        free(im);
        free(lb);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_set_labeled: out of host memory");
    }
    memcpy(im, images, n * chw * sizeof *im);
    memcpy(lb, labels, n);
    free(gan->labeled_images);
    free(gan->labeled_labels);
    gan->labeled_images = im;
    gan->labeled_labels = lb;
    gan->labeled_n = n;
    return GANTRY_OK;
}

gantry_status gantry_gan_classify(gantry_gan *gan, const float *images, size_t n, uint8_t *predictions)
{
    if (!gan || !images || !predictions || !n)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_classify: NULL argument or n == 0");
    const gantry_gan_config *c = &gan->config;
    if (gan->family != FAMILY_SGAN)
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: D is not a classifier (use sgan)", c->model);
    size_t chw = image_numel(c), k = c->classes, chunk = 256;
    gantry_tensor *x = NULL;
    float *logits = malloc(chunk * k * sizeof *logits);
    gantry_status s = logits ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "gan_classify: out of host memory");
    for (size_t done = 0; !s && done < n; done += chunk) {
        size_t m = n - done < chunk ? n - done : chunk;
        gantry_tensor *out;
        s = gantry__ensure_tensor(gan->be, &x, 4, (size_t[]){ m, c->channels, c->height, c->width });
        if (!s)
            s = gantry_tensor_write(x, images + done * chw, m * chw);
        if (!s)
            s = gantry_seq_forward(gan->d, x, 0, &out);
        if (!s)
            s = gantry_tensor_read(out, logits, m * k);
        for (size_t i = 0; !s && i < m; i++) {
            size_t best = 0;
            for (size_t j = 1; j < k; j++)
                if (logits[i * k + j] > logits[i * k + best])
                    best = j;
            predictions[done + i] = (uint8_t)best;
        }
    }
    gantry_tensor_destroy(x);
    free(logits);
    return s;
}
