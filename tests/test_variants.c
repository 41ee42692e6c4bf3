/* The GAN trainers' tricks on the reference backend: unrolling leaves D as
 * its own steps left it, weight clipping bounds D, BEGAN keeps k_t in
 * [0, 1], conditional sampling depends on the label, every model's
 * defaults are its paper's, and stale gradient buffers never leak into a
 * training step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/gan.h"
#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tests/test.h"

static gantry_backend *be;

static gantry_gan *small_gan(const char *model, void (*tweak)(gantry_gan_config *))
{
    gantry_gan_config c;
    REQUIRE(gantry_gan_defaults(model, &c) == GANTRY_OK);
    c.batch = 8;
    c.base_channels = 4;
    c.seed = 11;
    if (tweak)
        tweak(&c);
    gantry_gan *gan = NULL;
    REQUIRE(gantry_gan_create(be, &c, &gan) == GANTRY_OK);
    return gan;
}

static float *real_batch(const gantry_gan *gan, unsigned batches)
{
    const gantry_gan_config *c = gantry_gan_config_of(gan);
    size_t n = batches * c->batch * c->channels * c->height * c->width;
    float *x = malloc(n * sizeof *x);
    REQUIRE(x);
    for (size_t i = 0; i < n; i++)
        x[i] = gantry_philox_uniform(5, 0, i, -1.0f, 1.0f);
    return x;
}

/* Every parameter of seq, concatenated. */
static float *seq_params(gantry_seq *d, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < gantry_seq_param_count(d); i++)
        total += gantry_tensor_numel(gantry_seq_param(d, i)->value);
    float *v = malloc(total * sizeof *v), *at = v;
    REQUIRE(v);
    for (size_t i = 0; i < gantry_seq_param_count(d); i++) {
        const gantry_param *p = gantry_seq_param(d, i);
        REQUIRE(gantry_tensor_read(p->value, at, gantry_tensor_numel(p->value)) == GANTRY_OK);
        at += gantry_tensor_numel(p->value);
    }
    *count = total;
    return v;
}

/* Every parameter of D.  (Buffers differ: G's update runs D in training
 * mode, which moves BN's running statistics, and unrolling restores them
 * to before that.) */
static float *d_state(gantry_gan *gan, size_t *count)
{
    return seq_params(gantry_gan_discriminator(gan), count);
}

/* NaN into every parameter gradient of seq. */
static void poison_grads(gantry_seq *seq)
{
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++)
        REQUIRE(gantry_op_fill(gantry_seq_param(seq, i)->grad, NAN) == GANTRY_OK);
}

/* 1: G's and D's parameters of a and b agree bit for bit. */
static int same_params(gantry_gan *a, gantry_gan *b)
{
    int same = 1;
    for (int which = 0; which < 2; which++) {
        size_t na, nb;
        float *pa = seq_params(which ? gantry_gan_discriminator(a) : gantry_gan_generator(a), &na);
        float *pb = seq_params(which ? gantry_gan_discriminator(b) : gantry_gan_generator(b), &nb);
        same = same && na == nb && memcmp(pa, pb, na * sizeof *pa) == 0;
        free(pa);
        free(pb);
    }
    return same;
}

static void with_minibatch_disc(gantry_gan_config *c)
{
    c->minibatch_disc = 1;
}

static void with_vbn(gantry_gan_config *c)
{
    c->vbn = GANTRY_BN_VIRTUAL;
}

static void with_ref_bn(gantry_gan_config *c)
{
    c->vbn = GANTRY_BN_REFERENCE;
}

/* A training step overwrites the gradient buffers instead of adding to
 * zeros it never writes (core/nn.c, gantry__seq_defer_zero_grad): whatever
 * they held before the step must not matter.  Two identical models, one
 * with NaN in every gradient buffer between steps, must train alike; a
 * layer that read its stale gradient would turn the weights to NaN. */
static void test_stale_grads_ignored(void)
{
    static const struct {
        const char *model;
        void (*tweak)(gantry_gan_config *);
    } cases[] = { { "gan", NULL },  { "gan", with_minibatch_disc }, { "gan", with_vbn }, { "gan", with_ref_bn },
                  { "dcgan", NULL }, { "cgan", NULL }, { "wgan", NULL }, { "began", NULL } };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gantry_gan *a = small_gan(cases[i].model, cases[i].tweak), *b = small_gan(cases[i].model, cases[i].tweak);
        const gantry_gan_config *c = gantry_gan_config_of(a);
        unsigned per_step = c->d_steps ? c->d_steps : 1;
        float *x = real_batch(a, per_step);
        uint8_t labels[64] = { 0 };
        for (size_t j = 0; c->classes && j < c->batch * per_step && j < sizeof labels; j++)
            labels[j] = (uint8_t)(j % c->classes);
        gantry_gan_stats sa, sb;
        for (int step = 0; step < 3; step++) {
            if (step > 0) {
                poison_grads(gantry_gan_generator(b));
                poison_grads(gantry_gan_discriminator(b));
            }
            if (gantry_gan_is_conditional(a)) {
                CHECK_OK(gantry_gan_train_step_labeled(a, x, labels, &sa));
                CHECK_OK(gantry_gan_train_step_labeled(b, x, labels, &sb));
            } else {
                CHECK_OK(gantry_gan_train_step(a, x, &sa));
                CHECK_OK(gantry_gan_train_step(b, x, &sb));
            }
        }
        if (!same_params(a, b))
            fprintf(stderr, "stale gradients changed training: %s (case %zu)\n", cases[i].model, i);
        CHECK(same_params(a, b));
        CHECK(sa.g_loss == sb.g_loss && sa.d_loss == sb.d_loss);
        free(x);
        gantry_gan_destroy(a);
        gantry_gan_destroy(b);
    }
}

static void unroll3(gantry_gan_config *c)
{
    c->unroll = 3;
}

static void test_unroll_restores_d(void)
{
    /* The first step's D update draws the same noise with and without
     * unrolling; afterwards the unrolled D must be back at exactly that state. */
    gantry_gan *plain = small_gan("dcgan", NULL), *unrolled = small_gan("dcgan", unroll3);
    float *x = real_batch(plain, 1);
    CHECK_OK(gantry_gan_train_step(plain, x, NULL));
    CHECK_OK(gantry_gan_train_step(unrolled, x, NULL));
    size_t n1, n2;
    float *a = d_state(plain, &n1), *b = d_state(unrolled, &n2);
    CHECK(n1 == n2 && memcmp(a, b, n1 * sizeof *a) == 0);
    free(a);
    free(b);
    free(x);
    gantry_gan_destroy(plain);
    gantry_gan_destroy(unrolled);
}

static void test_wgan(void)
{
    gantry_gan *gan = small_gan("wgan", NULL);
    const gantry_gan_config *c = gantry_gan_config_of(gan);
    CHECK(c->optimizer == GANTRY_OPTIM_RMSPROP && c->d_steps == 5 && fabsf(c->clip - 0.01f) < 1e-9f &&
          fabsf(c->lr - 5e-5f) < 1e-12f);
    float *x = real_batch(gan, c->d_steps);
    gantry_gan_stats st;
    CHECK_OK(gantry_gan_train_step(gan, x, &st));
    CHECK(isfinite(st.wasserstein) && st.wasserstein != 0.0);
    CHECK(fabs(st.d_loss + st.wasserstein) < 1e-6); /* the critic's loss is minus the estimate */
    /* Every parameter is clipped; the running statistics (buffers) are not parameters. */
    gantry_seq *d = gantry_gan_discriminator(gan);
    for (size_t i = 0; i < gantry_seq_param_count(d); i++) {
        const gantry_param *p = gantry_seq_param(d, i);
        size_t m = gantry_tensor_numel(p->value);
        float *w = malloc(m * sizeof *w);
        REQUIRE(w && gantry_tensor_read(p->value, w, m) == GANTRY_OK);
        for (size_t j = 0; j < m; j++)
            CHECK(w[j] >= -0.01f && w[j] <= 0.01f);
        free(w);
    }
    free(x);
    gantry_gan_destroy(gan);
}

static void test_began(void)
{
    gantry_gan *gan = small_gan("began", NULL);
    float *x = real_batch(gan, 1);
    for (int i = 0; i < 3; i++) {
        gantry_gan_stats st;
        CHECK_OK(gantry_gan_train_step(gan, x, &st));
        CHECK(st.k >= 0.0 && st.k <= 1.0);
        /* M_global = L(x) + |gamma L(x) - L(G(z))| >= L(x) = d_real */
        CHECK(st.m_global >= st.d_real - 1e-9 && st.d_real > 0.0);
    }
    free(x);
    gantry_gan_destroy(gan);
}

static void test_conditional_sampling(void)
{
    gantry_gan *gan = small_gan("cdcgan", NULL);
    const gantry_gan_config *c = gantry_gan_config_of(gan);
    size_t per = c->channels * c->height * c->width;
    float *a = malloc(3 * per * sizeof *a), *b = malloc(3 * per * sizeof *b);
    REQUIRE(a && b);
    uint8_t la[3] = { 1, 1, 1 }, lb[3] = { 7, 7, 7 }, bad[3] = { 0, 10, 0 };
    CHECK_OK(gantry_gan_sample_labeled(gan, 3, 4, la, a));
    CHECK_OK(gantry_gan_sample_labeled(gan, 3, 4, lb, b));
    CHECK(memcmp(a, b, 3 * per * sizeof *a) != 0); /* same noise, another class */
    CHECK(gantry_gan_sample_labeled(gan, 3, 4, bad, a) == GANTRY_INVALID_ARGUMENT);
    CHECK(gantry_gan_sample_labeled(gan, 3, 4, NULL, a) == GANTRY_INVALID_ARGUMENT);
    float *x = real_batch(gan, 1);
    CHECK(gantry_gan_train_step(gan, x, NULL) == GANTRY_INVALID_ARGUMENT); /* labels are required */
    free(x);
    free(a);
    free(b);
    gantry_gan_destroy(gan);
}

static void test_defaults(void)
{
    const char *const *models = gantry_gan_models();
    size_t count = 0;
    for (; models[count]; count++) {
        gantry_gan_config c;
        CHECK_OK(gantry_gan_defaults(models[count], &c));
        CHECK(gantry_gan_model_paper(models[count]) != NULL);
    }
    CHECK(count == 8);
    gantry_gan_config c;
    CHECK(gantry_gan_defaults("nosuch", &c) == GANTRY_NOT_FOUND);
    CHECK(strstr(gantry_last_error(), "sgan") != NULL); /* the message lists the models */
    CHECK_OK(gantry_gan_defaults("began", &c));
    CHECK(fabsf(c.began_gamma - 0.5f) < 1e-9f && fabsf(c.lr - 1e-4f) < 1e-12f);
    c.label_smoothing = 0.9f;
    gantry_gan *gan = NULL;
    CHECK(gantry_gan_create(be, &c, &gan) == GANTRY_UNSUPPORTED && !gan);
}

/* Sampling between steps (an evaluation forward of another batch size,
 * which leaves batch norm outputs of that size) changes nothing in
 * training: G's grouped step (two noise batches stacked, a BatchNorm and
 * its activation as one op) then differentiates one group of rows. */
static void test_sampling_between_steps(void)
{
    static const char *const models[] = { "gan", "dcgan" };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        gantry_gan *a = small_gan(models[i], NULL), *b = small_gan(models[i], NULL);
        const gantry_gan_config *c = gantry_gan_config_of(a);
        float *x = real_batch(a, 1), *images = malloc(5 * c->channels * c->height * c->width * sizeof *images);
        REQUIRE(images);
        gantry_gan_stats sa, sb;
        for (int step = 0; step < 3; step++) {
            CHECK_OK(gantry_gan_train_step(a, x, &sa));
            CHECK_OK(gantry_gan_train_step(b, x, &sb));
            CHECK_OK(gantry_gan_sample(b, 5, 3, images));
        }
        CHECK(same_params(a, b));
        CHECK(sa.g_loss == sb.g_loss && sa.d_loss == sb.d_loss);
        free(x);
        free(images);
        gantry_gan_destroy(a);
        gantry_gan_destroy(b);
    }
}

int main(void)
{
    REQUIRE(gantry_backend_open("reference", NULL, &be) == GANTRY_OK);
    test_defaults();
    test_unroll_restores_d();
    test_wgan();
    test_began();
    test_conditional_sampling();
    test_stale_grads_ignored();
    test_sampling_between_steps();
    gantry_backend_close(be);
    return test_finish("test_variants");
}
