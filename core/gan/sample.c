/* A trained model at work: G's samples (evaluation mode, in chunks) and,
 * where D has a logit per class, D's class predictions. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

/* Images [done, done + m) of a sample from G's output for their chunk. */
static gantry_status read_chunk(const gantry_gan *gan, gantry_tensor *fake, size_t done, size_t m, float *images)
{
    size_t per_image = gantry__gan_image_numel(&gan->config);
    if (m == gantry_tensor_dim(fake, 0))
        return gantry_tensor_read(fake, images + done * per_image, m * per_image);
    gantry_tensor *part = NULL; /* the last, partial chunk */
    gantry_status s = gantry_tensor_view(fake, 0, 2, (size_t[]){ m, per_image }, &part);
    if (!s)
        s = gantry_tensor_read(part, images + done * per_image, m * per_image);
    gantry_tensor_destroy(part);
    return s;
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
    size_t chunk = gan->conditional ? c->batch : (n < 256 ? n : 256);
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
            s = gantry__gan_condition_padded(gan, labels + done, m);
            if (!s)
                s = gantry__gan_g_input(gan, z, &g_in);
        }
        if (!s)
            s = gantry_seq_forward(gan->g, g_in, 0, &fake);
        if (!s)
            s = read_chunk(gan, fake, done, m, images);
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

/* The index of the largest of k logits. */
static uint8_t argmax(const float *logits, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (logits[j] > logits[best])
            best = j;
    return (uint8_t)best;
}

gantry_status gantry_gan_classify(gantry_gan *gan, const float *images, size_t n, uint8_t *predictions)
{
    if (!gan || !images || !predictions || !n)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gan_classify: NULL argument or n == 0");
    const gantry_gan_config *c = &gan->config;
    if (!gan->family->d_classes)
        return gantry_set_error(GANTRY_UNSUPPORTED, "%s: D is not a classifier (use sgan)", c->model);
    size_t chw = gantry__gan_image_numel(c), k = c->classes, chunk = 256;
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
        for (size_t i = 0; !s && i < m; i++)
            predictions[done + i] = argmax(logits + i * k, k);
    }
    gantry_tensor_destroy(x);
    free(logits);
    return s;
}
