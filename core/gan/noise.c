/* G's fakes in training: the noise stream (and the fake labels of the
 * conditional models), and G's stacked pair.
 *
 * Algorithm 1 draws G's noise twice a step, for the discriminator and the
 * generator update, while G stays unchanged in between: when G is groupable
 * (an MLP) and nothing else runs G in between (one D step, no unrolling, no
 * virtual batch norm), one forward over both noise batches stacked, each
 * batch normalised by its own statistics, gives both fakes (the same values
 * as two forwards); the generator update then backpropagates through the
 * second group alone. */
#include <stdlib.h>

#include "core/gan/gan_impl.h"
#include "core/nn_layer.h"
#include "gantry/ops.h"
#include "gantry/philox.h"

struct gan_g_pair {
    int next;                  /* the second fake of this step is ready */
    gantry_tensor *z;          /* [2N, z_dim] */
    gantry_tensor *g_in;       /* conditional: [2N, z_dim + classes] */
    uint8_t *labels;           /* conditional: the second batch's labels */
    gantry_tensor first, second; /* rows 0..N and N..2N of G's stacked output */
};

gantry_status gantry__gan_g_pair_create(gantry_gan *gan)
{
    const gantry_gan_config *c = &gan->config;
    /* A family with its own step draws its noise its own way. */
    if (gan->family->step || c->d_steps != 1 || c->unroll || c->vbn || !gantry__seq_groupable(gan->g))
        return GANTRY_OK;
    size_t n = c->batch;
    struct gan_g_pair *p = gan->g_pair = gantry__gan_calloc(1, sizeof *p);
    if (!p)
        return GANTRY_OUT_OF_MEMORY;
    GANTRY_TRY(gantry_tensor_new(gan->be, &p->z, 2 * n, c->z_dim, 0, 0));
    if (!gan->conditional)
        return GANTRY_OK;
    GANTRY_TRY(gantry_tensor_new(gan->be, &p->g_in, 2 * n, c->z_dim + c->classes, 0, 0));
    return (p->labels = gantry__gan_calloc(n, 1)) ? GANTRY_OK : GANTRY_OUT_OF_MEMORY;
}

void gantry__gan_g_pair_destroy(gantry_gan *gan)
{
    struct gan_g_pair *p = gan->g_pair;
    if (!p)
        return;
    gantry_tensor_destroy(p->z);
    gantry_tensor_destroy(p->g_in);
    free(p->labels);
    free(p);
    gan->g_pair = NULL;
}

void gantry__gan_g_pair_reset(gantry_gan *gan)
{
    if (gan->g_pair)
        gan->g_pair->next = 0;
}

/* The next batch of noise into z, and for conditional models the next
 * uniform labels into `labels`. */
static gantry_status draw_noise(gantry_gan *gan, gantry_tensor *z, uint8_t *labels)
{
    const gantry_gan_config *c = &gan->config;
    uint64_t offset = gantry__gan_shard_draw(gan, &gan->noise_offset, gantry_philox_normal_blocks(gantry_tensor_numel(z)));
    GANTRY_TRY(gantry_op_rand_normal(z, c->seed, offset, 0.0f, 1.0f));
    if (gan->conditional)
        gantry__gan_draw_labels(gan, labels);
    return GANTRY_OK;
}

/* Both of the step's noise batches, drawn in the order two generate calls
 * draw them, through G at once.  *fake = the first fake; the pair keeps the
 * other; the conditioning is the first batch's. */
static gantry_status generate_pair(gantry_gan *gan, gantry_tensor **fake)
{
    struct gan_g_pair *p = gan->g_pair;
    size_t n = gan->config.batch;
    uint8_t *labels = gantry__gan_fake_labels(gan);
    gantry_tensor z0 = gantry__rows(p->z, 0, n), z1 = gantry__rows(p->z, n, n);
    GANTRY_TRY(draw_noise(gan, &z0, labels));
    GANTRY_TRY(draw_noise(gan, &z1, p->labels));
    const gantry_tensor *in = p->z;
    if (gan->conditional) {
        gantry_tensor in0 = gantry__rows(p->g_in, 0, n), in1 = gantry__rows(p->g_in, n, n);
        GANTRY_TRY(gantry__gan_condition(gan, p->labels, n));
        GANTRY_TRY(gantry__gan_g_input_into(gan, &z1, &in1));
        GANTRY_TRY(gantry__gan_condition(gan, labels, n));
        GANTRY_TRY(gantry__gan_g_input_into(gan, &z0, &in0));
        in = p->g_in;
    }
    gantry_tensor *out;
    GANTRY_TRY(gantry__seq_forward_groups(gan->g, in, 1, 2, &out));
    p->first = gantry__rows(out, 0, n);
    p->second = gantry__rows(out, n, n);
    p->next = 1;
    *fake = &p->first;
    return GANTRY_OK;
}

/* The second fake of the pair: G's update. */
static gantry_status pair_second(gantry_gan *gan, gantry_tensor **fake)
{
    struct gan_g_pair *p = gan->g_pair;
    p->next = 0;
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, p->labels, gan->config.batch));
    *fake = &p->second;
    return GANTRY_OK;
}

gantry_status gantry__gan_generate(gantry_gan *gan, gantry_tensor **fake)
{
    const gantry_gan_config *c = &gan->config;
    if (gan->g_pair)
        return gan->g_pair->next ? pair_second(gan, fake) : generate_pair(gan, fake);
    if (gan->vbn)
        GANTRY_TRY(gantry__gan_vbn_pass(gan));
    uint8_t *labels = gantry__gan_fake_labels(gan);
    GANTRY_TRY(draw_noise(gan, gan->z, labels));
    if (gan->conditional)
        GANTRY_TRY(gantry__gan_condition(gan, labels, c->batch));
    gantry_tensor *in;
    GANTRY_TRY(gantry__gan_g_input(gan, gan->z, &in));
    return gantry_seq_forward(gan->g, in, 1, fake);
}

gantry_status gantry__gan_g_backward(gantry_gan *gan, const gantry_tensor *dfake)
{
    if (gan->g_pair)
        return gantry__seq_backward_group(gan->g, 1, dfake, 1, NULL);
    return gantry_seq_backward(gan->g, dfake, 1, NULL);
}
