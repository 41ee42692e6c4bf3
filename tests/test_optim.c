/* Optimizers (core/optim.c) against the same updates computed by hand.
 *
 * A Sequential with one Linear(3, 2) gets fixed parameters; each step feeds
 * a different fixed batch and output gradient, so the gradients change from
 * step to step.  The host recomputes the gradients (dW = dy^T x,
 * db = column sums of dy) and torch.optim's update rules in double, and the
 * parameters on the device must follow within 1e-6 of their scale (they are
 * of order 1) for three steps; the displacement from the start must match
 * to 1e-4 relative, which checks the updates themselves rather than the
 * large parameter values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/nn.h"
#include "gantry/ops.h"
#include "gantry/optim.h"
#include "gantry/philox.h"
#include "gantry/tensor.h"
#include "tests/test.h"

static gantry_backend *be;

enum { IN = 3, OUT = 2, BATCH = 4, NW = OUT * IN, NP = NW + OUT, STEPS = 3 };

static const float W0[NW] = { 0.50f, -0.75f, 0.25f, -0.40f, 0.90f, -0.30f };
static const float B0[OUT] = { 0.20f, -0.60f };

/* The batch and output gradient of step `t` (1-based). */
static void step_data(int t, float *x, float *dy)
{
    for (int i = 0; i < BATCH * IN; i++)
        x[i] = gantry_philox_uniform(1000 + (uint64_t)t, 0, (size_t)i, -1.0f, 1.0f);
    for (int i = 0; i < BATCH * OUT; i++)
        dy[i] = gantry_philox_uniform(2000 + (uint64_t)t, 0, (size_t)i, -1.0f, 1.0f);
}

/* g[0..NW) = dW (row-major [OUT, IN]), g[NW..NP) = db. */
static void host_grads(const float *x, const float *dy, double *g)
{
    for (int o = 0; o < OUT; o++) {
        for (int i = 0; i < IN; i++) {
            double s = 0.0;
            for (int b = 0; b < BATCH; b++)
                s += (double)dy[b * OUT + o] * (double)x[b * IN + i];
            g[o * IN + i] = s;
        }
        double s = 0.0;
        for (int b = 0; b < BATCH; b++)
            s += dy[b * OUT + o];
        g[NW + o] = s;
    }
}

/* torch.optim's update of one element, in double; s1/s2 are the state. */
static void host_update(const gantry_optim_config *c, uint64_t step, double *p, double g, double *s1, double *s2)
{
    if (c->weight_decay != 0.0f)
        g += (double)c->weight_decay * *p;
    switch (c->kind) {
    case GANTRY_OPTIM_SGD:
        if (c->momentum != 0.0f) {
            *s1 = (double)c->momentum * *s1 + g; /* the first buffer is g itself, as in torch */
            g = *s1;
        }
        *p -= (double)c->lr * g;
        break;
    case GANTRY_OPTIM_ADAM: {
        double b1 = c->beta1, b2 = c->beta2;
        *s1 = b1 * *s1 + (1.0 - b1) * g;
        *s2 = b2 * *s2 + (1.0 - b2) * g * g;
        double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
        *p -= (double)c->lr / bc1 * *s1 / (sqrt(*s2) / sqrt(bc2) + (double)c->eps);
        break;
    }
    case GANTRY_OPTIM_RMSPROP: {
        double a = c->alpha;
        *s1 = a * *s1 + (1.0 - a) * g * g;
        *p -= (double)c->lr * g / (sqrt(*s1) + (double)c->eps);
        break;
    }
    }
}

static gantry_tensor *tensor_of(const float *v, size_t d0, size_t d1)
{
    gantry_tensor *t = NULL;
    REQUIRE(gantry_tensor_new(be, &t, d0, d1, 0, 0) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(t, v, d0 * d1) == GANTRY_OK);
    return t;
}

static gantry_seq *linear_model(void)
{
    gantry_seq *seq = NULL;
    REQUIRE(gantry_seq_create(be, &seq) == GANTRY_OK);
    REQUIRE(gantry_seq_add_linear(seq, IN, OUT) == GANTRY_OK);
    REQUIRE(gantry_seq_param_count(seq) == 2);
    const gantry_param *w = gantry_seq_param(seq, 0), *b = gantry_seq_param(seq, 1);
    REQUIRE(strcmp(w->name, "0.weight") == 0 && strcmp(b->name, "0.bias") == 0);
    REQUIRE(gantry_tensor_write(w->value, W0, NW) == GANTRY_OK);
    REQUIRE(gantry_tensor_write(b->value, B0, OUT) == GANTRY_OK);
    return seq;
}

/* All parameters (W then b) into v[NP]; likewise the gradients. */
static void read_params(gantry_seq *seq, float *v, int grads)
{
    const gantry_param *w = gantry_seq_param(seq, 0), *b = gantry_seq_param(seq, 1);
    REQUIRE(gantry_tensor_read(grads ? w->grad : w->value, v, NW) == GANTRY_OK);
    REQUIRE(gantry_tensor_read(grads ? b->grad : b->value, v + NW, OUT) == GANTRY_OK);
}

static void run_case(const char *name, const gantry_optim_config *cfg)
{
    gantry_seq *seq = linear_model();
    gantry_optim *opt = NULL;
    CHECK_OK(gantry_optim_create(seq, cfg, &opt));
    REQUIRE(opt);
    CHECK(gantry_optim_steps(opt) == 0);

    double p[NP], s1[NP] = { 0 }, s2[NP] = { 0 }, p0[NP];
    for (int i = 0; i < NW; i++)
        p[i] = W0[i];
    for (int i = 0; i < OUT; i++)
        p[NW + i] = B0[i];
    memcpy(p0, p, sizeof p);

    double worst = 0.0, worst_disp = 0.0;
    for (int t = 1; t <= STEPS; t++) {
        float x[BATCH * IN], dy[BATCH * OUT];
        step_data(t, x, dy);
        gantry_tensor *xt = tensor_of(x, BATCH, IN), *dyt = tensor_of(dy, BATCH, OUT), *y = NULL;
        CHECK_OK(gantry_seq_zero_grad(seq));
        CHECK_OK(gantry_seq_forward(seq, xt, 1, &y));
        CHECK_OK(gantry_seq_backward(seq, dyt, 1, NULL));

        double g[NP];
        host_grads(x, dy, g);
        float dg[NP];
        read_params(seq, dg, 1);
        for (int i = 0; i < NP; i++)
            CHECK_NEAR(dg[i], g[i], 1e-6 * (1.0 + fabs(g[i])));

        CHECK_OK(gantry_optim_step(opt));
        CHECK(gantry_optim_steps(opt) == (uint64_t)t);
        for (int i = 0; i < NP; i++)
            host_update(cfg, (uint64_t)t, &p[i], g[i], &s1[i], &s2[i]);

        float dp[NP];
        read_params(seq, dp, 0);
        for (int i = 0; i < NP; i++) {
            double err = fabs(dp[i] - p[i]);
            double scale = fabs(p[i]) > 1.0 ? fabs(p[i]) : 1.0;
            if (err / scale > worst)
                worst = err / scale;
            CHECK_NEAR(dp[i], p[i], 1e-6 * scale);
            /* The displacement from the start, relative to itself. */
            double dd = (double)dp[i] - p0[i], hd = p[i] - p0[i];
            double derr = fabs(dd - hd) / (fabs(hd) + 1e-12);
            if (derr > worst_disp)
                worst_disp = derr;
            CHECK_NEAR(dd, hd, 1e-4 * fabs(hd) + 3e-7);
        }

        /* The step reads the gradients but leaves them as they were (weight
         * decay goes into a local copy, as in torch). */
        float after[NP];
        read_params(seq, after, 1);
        CHECK(memcmp(after, dg, sizeof after) == 0);

        gantry_tensor_destroy(xt);
        gantry_tensor_destroy(dyt);
    }
    printf("%-34s worst error %.2e of scale, %.2e of displacement\n", name, worst, worst_disp);
    gantry_optim_destroy(opt);
    gantry_seq_destroy(seq);
}

static void test_updates(void)
{
    gantry_optim_config c = gantry_optim_defaults(GANTRY_OPTIM_SGD);
    c.lr = 0.05f;
    run_case("SGD(lr=0.05)", &c);
    c.momentum = 0.9f;
    run_case("SGD(lr=0.05, momentum=0.9)", &c);
    c.weight_decay = 0.1f;
    run_case("SGD(lr=0.05, momentum=0.9, wd=0.1)", &c);
    c.momentum = 0.0f;
    run_case("SGD(lr=0.05, wd=0.1)", &c);

    c = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    run_case("Adam()", &c);
    c.lr = 2e-2f;
    c.beta1 = 0.5f; /* the DCGAN setting */
    run_case("Adam(lr=2e-2, betas=(0.5, 0.999))", &c);
    c.weight_decay = 0.05f;
    c.eps = 1e-3f;
    run_case("Adam(lr=2e-2, b1=0.5, eps=1e-3, wd=0.05)", &c);

    c = gantry_optim_defaults(GANTRY_OPTIM_RMSPROP);
    run_case("RMSprop()", &c);
    c.lr = 5e-3f;
    c.alpha = 0.9f;
    c.weight_decay = 0.1f;
    run_case("RMSprop(lr=5e-3, alpha=0.9, wd=0.1)", &c);
}

static void test_defaults(void)
{
    gantry_optim_config s = gantry_optim_defaults(GANTRY_OPTIM_SGD);
    CHECK(s.kind == GANTRY_OPTIM_SGD);
    CHECK(s.lr == 1e-3f);
    CHECK(s.momentum == 0.0f);
    CHECK(s.weight_decay == 0.0f);

    gantry_optim_config a = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    CHECK(a.kind == GANTRY_OPTIM_ADAM);
    CHECK(a.lr == 1e-3f);
    CHECK(a.beta1 == 0.9f);
    CHECK(a.beta2 == 0.999f);
    CHECK(a.eps == 1e-8f);
    CHECK(a.weight_decay == 0.0f);

    gantry_optim_config r = gantry_optim_defaults(GANTRY_OPTIM_RMSPROP);
    CHECK(r.kind == GANTRY_OPTIM_RMSPROP);
    CHECK(r.lr == 1e-2f);
    CHECK(r.alpha == 0.99f);
    CHECK(r.eps == 1e-8f);
    CHECK(r.momentum == 0.0f);
    CHECK(r.weight_decay == 0.0f);
}

/* Only trainable parameters move; buffers (running statistics) do not. */
static void test_parameters_only(void)
{
    gantry_seq *seq = NULL;
    REQUIRE(gantry_seq_create(be, &seq) == GANTRY_OK);
    CHECK_OK(gantry_seq_add_linear(seq, IN, 4));
    CHECK_OK(gantry_seq_add_batchnorm(seq, 4, 1e-5f, 0.1f));
    CHECK_OK(gantry_seq_add_linear(seq, 4, OUT));
    uint64_t off = 0;
    CHECK_OK(gantry_seq_init(seq, 5, &off));
    CHECK(gantry_seq_param_count(seq) == 6);

    float x[BATCH * IN], dy[BATCH * OUT];
    step_data(1, x, dy);
    gantry_tensor *xt = tensor_of(x, BATCH, IN), *dyt = tensor_of(dy, BATCH, OUT), *y = NULL;
    CHECK_OK(gantry_seq_forward(seq, xt, 1, &y));
    CHECK_OK(gantry_seq_backward(seq, dyt, 1, NULL));

    gantry_optim_config c = gantry_optim_defaults(GANTRY_OPTIM_SGD);
    c.lr = 0.1f;
    gantry_optim *opt = NULL;
    CHECK_OK(gantry_optim_create(seq, &c, &opt));
    REQUIRE(opt);

    size_t ns = gantry_seq_state_count(seq);
    float *before[16] = { 0 }, *grads[16] = { 0 };
    REQUIRE(ns <= 16);
    for (size_t i = 0; i < ns; i++) {
        const gantry_param *s = gantry_seq_state(seq, i);
        if (!s->value)
            continue;
        size_t n = gantry_tensor_numel(s->value);
        before[i] = malloc(n * sizeof(float));
        REQUIRE(before[i]);
        REQUIRE(gantry_tensor_read(s->value, before[i], n) == GANTRY_OK);
        if (s->grad) {
            grads[i] = malloc(n * sizeof(float));
            REQUIRE(grads[i]);
            REQUIRE(gantry_tensor_read(s->grad, grads[i], n) == GANTRY_OK);
        }
    }
    CHECK_OK(gantry_optim_step(opt));
    for (size_t i = 0; i < ns; i++) {
        const gantry_param *s = gantry_seq_state(seq, i);
        if (!s->value)
            continue;
        size_t n = gantry_tensor_numel(s->value);
        float *now = malloc(n * sizeof *now);
        REQUIRE(now);
        REQUIRE(gantry_tensor_read(s->value, now, n) == GANTRY_OK);
        for (size_t j = 0; j < n; j++) {
            double want = s->grad ? (double)before[i][j] - 0.1 * (double)grads[i][j] : (double)before[i][j];
            if (!(fabs(now[j] - want) <= 1e-6 * (1.0 + fabs(want)))) {
                test_failures++;
                fprintf(stderr, "%s: %s[%zu] = %.9g after an SGD step, expected %.9g\n", __FILE__, s->name, j,
                        (double)now[j], want);
                break;
            }
        }
        test_checks++;
        free(now);
        free(before[i]);
        free(grads[i]);
    }
    gantry_optim_destroy(opt);
    gantry_tensor_destroy(xt);
    gantry_tensor_destroy(dyt);
    gantry_seq_destroy(seq);
}

static void test_errors(void)
{
    gantry_seq *seq = linear_model();
    gantry_optim_config c = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    gantry_optim *opt = (gantry_optim *)&opt;

    CHECK_STATUS(gantry_optim_create(NULL, &c, &opt), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_optim_create(seq, NULL, &opt), GANTRY_INVALID_ARGUMENT);
    CHECK_STATUS(gantry_optim_create(seq, &c, NULL), GANTRY_INVALID_ARGUMENT);
    opt = (gantry_optim *)&opt;
    c.kind = (gantry_optim_kind)7;
    CHECK_STATUS(gantry_optim_create(seq, &c, &opt), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown optimizer");
    CHECK(opt == NULL);
    CHECK_STATUS(gantry_optim_step(NULL), GANTRY_INVALID_ARGUMENT);
    CHECK(gantry_optim_steps(NULL) == 0);
    gantry_optim_destroy(NULL);

    /* Bad hyperparameters surface from the op, and nothing moves. */
    c = gantry_optim_defaults(GANTRY_OPTIM_SGD);
    c.lr = -1.0f;
    opt = NULL;
    CHECK_OK(gantry_optim_create(seq, &c, &opt));
    REQUIRE(opt);
    CHECK_STATUS(gantry_optim_step(opt), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("learning rate");
    float now[NP];
    read_params(seq, now, 0);
    CHECK(memcmp(now, W0, sizeof W0) == 0 && memcmp(now + NW, B0, sizeof B0) == 0);
    gantry_optim_destroy(opt);

    c = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    c.beta2 = 1.0f;
    CHECK_OK(gantry_optim_create(seq, &c, &opt));
    CHECK_STATUS(gantry_optim_step(opt), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("betas");
    gantry_optim_destroy(opt);

    c = gantry_optim_defaults(GANTRY_OPTIM_RMSPROP);
    c.eps = 0.0f;
    CHECK_OK(gantry_optim_create(seq, &c, &opt));
    CHECK_STATUS(gantry_optim_step(opt), GANTRY_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("eps");
    gantry_optim_destroy(opt);
    read_params(seq, now, 0);
    CHECK(memcmp(now, W0, sizeof W0) == 0 && memcmp(now + NW, B0, sizeof B0) == 0);

    /* An optimizer over a model without parameters steps without effect. */
    gantry_seq *empty = NULL;
    REQUIRE(gantry_seq_create(be, &empty) == GANTRY_OK);
    CHECK_OK(gantry_seq_add_activation(empty, GANTRY_ACT_TANH, 0.0f));
    c = gantry_optim_defaults(GANTRY_OPTIM_ADAM);
    CHECK_OK(gantry_optim_create(empty, &c, &opt));
    CHECK_OK(gantry_optim_step(opt));
    CHECK(gantry_optim_steps(opt) == 1);
    gantry_optim_destroy(opt);
    gantry_seq_destroy(empty);
    gantry_seq_destroy(seq);
}

/* A one-layer model with W0/B0, after one forward and backward on step t's data. */
static gantry_seq *model_with_grads(int t)
{
    gantry_seq *seq = linear_model();
    float x[BATCH * IN], dy[BATCH * OUT];
    step_data(t, x, dy);
    gantry_tensor *xt = tensor_of(x, BATCH, IN), *dyt = tensor_of(dy, BATCH, OUT), *y = NULL;
    CHECK_OK(gantry_seq_forward(seq, xt, 1, &y));
    CHECK_OK(gantry_seq_backward(seq, dyt, 1, NULL));
    gantry_tensor_destroy(xt);
    gantry_tensor_destroy(dyt);
    return seq;
}

/* The slots and step count, copied into a new optimizer over another model
 * with the same parameters, make its next update the original's, bit for
 * bit (what resuming a training run relies on). */
static void test_slots(void)
{
    static const struct {
        gantry_optim_kind kind;
        float momentum;
        size_t slots;
        const char *names[2];
    } cases[] = {
        { GANTRY_OPTIM_SGD, 0.0f, 0, { NULL, NULL } },
        { GANTRY_OPTIM_SGD, 0.9f, 1, { "momentum_buffer", NULL } },
        { GANTRY_OPTIM_ADAM, 0.0f, 2, { "exp_avg", "exp_avg_sq" } },
        { GANTRY_OPTIM_RMSPROP, 0.0f, 1, { "square_avg", NULL } },
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        gantry_optim_config c = gantry_optim_defaults(cases[ci].kind);
        c.momentum = cases[ci].momentum;
        c.lr = 0.05f;
        gantry_seq *a = model_with_grads(1), *b = model_with_grads(1);
        gantry_optim *oa = NULL, *ob = NULL;
        CHECK_OK(gantry_optim_create(a, &c, &oa));
        CHECK_OK(gantry_optim_create(b, &c, &ob));
        REQUIRE(oa && ob);
        CHECK(gantry_optim_slot_count(oa) == cases[ci].slots);
        for (size_t k = 0; k < 2; k++) {
            const char *name = gantry_optim_slot_name(oa, k);
            CHECK(cases[ci].names[k] ? name && strcmp(name, cases[ci].names[k]) == 0 : name == NULL);
        }
        CHECK(gantry_optim_slot(oa, 2, 0) == NULL); /* one Linear: parameters 0 and 1 */
        CHECK(gantry_optim_slot(oa, 0, cases[ci].slots) == NULL);
        /* Two steps on a; then b takes a's parameters, slots and count. */
        CHECK_OK(gantry_optim_step(oa));
        CHECK_OK(gantry_optim_step(oa));
        float buf[NW];
        for (size_t i = 0; i < 2; i++) {
            size_t n = i ? OUT : NW;
            CHECK_OK(gantry_tensor_read(gantry_seq_param(a, i)->value, buf, n));
            CHECK_OK(gantry_tensor_write(gantry_seq_param(b, i)->value, buf, n));
            for (size_t k = 0; k < cases[ci].slots; k++) {
                gantry_tensor *sa = gantry_optim_slot(oa, i, k), *sb = gantry_optim_slot(ob, i, k);
                REQUIRE(sa && sb && gantry_tensor_numel(sa) == n);
                CHECK_OK(gantry_tensor_read(sa, buf, n));
                CHECK_OK(gantry_tensor_write(sb, buf, n));
            }
        }
        gantry_optim_set_steps(ob, gantry_optim_steps(oa));
        CHECK(gantry_optim_steps(ob) == 2);
        CHECK_OK(gantry_optim_step(oa));
        CHECK_OK(gantry_optim_step(ob));
        for (size_t i = 0; i < 2; i++) {
            size_t n = i ? OUT : NW;
            float pa[NW], pb[NW];
            CHECK_OK(gantry_tensor_read(gantry_seq_param(a, i)->value, pa, n));
            CHECK_OK(gantry_tensor_read(gantry_seq_param(b, i)->value, pb, n));
            CHECK(memcmp(pa, pb, n * sizeof *pa) == 0);
            CHECK(memcmp(pa, i ? B0 : W0, n * sizeof *pa) != 0); /* and they did move */
        }
        gantry_optim_destroy(oa);
        gantry_optim_destroy(ob);
        gantry_seq_destroy(a);
        gantry_seq_destroy(b);
    }
    CHECK(gantry_optim_slot_count(NULL) == 0);
    CHECK(gantry_optim_slot(NULL, 0, 0) == NULL);
    CHECK(gantry_optim_slot_name(NULL, 0) == NULL);
}

int main(void)
{
    REQUIRE(gantry_backend_open("reference", NULL, &be) == GANTRY_OK);
    test_defaults();
    test_updates();
    test_parameters_only();
    test_slots();
    test_errors();
    gantry_backend_close(be);
    return test_finish("test_optim");
}
