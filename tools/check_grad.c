/* Finite-difference checks of every layer's backward pass on the backend
 * under test (the method of tests/test_grad.c; see tools/check_grad.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/nn.h"
#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check.h"
#include "tools/check_grad.h"

#define TRY(expr)                                                                                       \
    do {                                                                                                \
        gantry_status try_s_ = (expr);                                                                  \
        if (try_s_)                                                                                     \
            return try_s_;                                                                              \
    } while (0)

/* ---- the shared method ------------------------------------------------------ */

static gantry_status read_all(const gantry_tensor *t, float **out)
{
    size_t n = gantry_tensor_numel(t);
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    gantry_status s = gantry_tensor_read(t, *out, n);
    if (s) {
        free(*out);
        *out = NULL;
    }
    return s;
}

gantry_status check_grad_random_tensor(gantry_backend *be, int ndim, const size_t *shape, uint64_t seed, float lo,
                                       float hi, float gap, gantry_tensor **out)
{
    TRY(gantry_tensor_create(be, ndim, shape, out));
    size_t n = gantry_tensor_numel(*out);
    float *v = malloc(n * sizeof *v);
    if (!v)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    for (size_t i = 0; i < n; i++) {
        v[i] = gantry_philox_uniform(seed, 0, i, lo, hi);
        if (fabsf(v[i]) < gap)
            v[i] += v[i] < 0.0f ? -2.0f * gap : 2.0f * gap;
    }
    gantry_status s = gantry_tensor_write(*out, v, n);
    free(v);
    return s;
}

static gantry_status write_uniform(gantry_tensor *t, uint64_t seed, float lo, float hi)
{
    size_t n = gantry_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    if (!v)
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    for (size_t i = 0; i < n; i++)
        v[i] = gantry_philox_uniform(seed, 0, i, lo, hi);
    gantry_status s = gantry_tensor_write(t, v, n);
    free(v);
    return s;
}

gantry_status check_grad_randomize_batchnorm(gantry_seq *seq, uint64_t seed)
{
    for (size_t i = 0; i < gantry_seq_param_count(seq); i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        /* "k.weight" belongs to a BatchNorm when "k.running_mean" exists. */
        char running[80];
        snprintf(running, sizeof running, "%.*s.running_mean", (int)strcspn(p->name, "."), p->name);
        int is_bn = 0;
        for (size_t j = 0; j < gantry_seq_state_count(seq); j++)
            is_bn |= strcmp(gantry_seq_state(seq, j)->name, running) == 0;
        if (!is_bn)
            continue;
        if (strstr(p->name, ".weight"))
            TRY(write_uniform(p->value, seed + i, 0.5f, 1.5f));
        else
            TRY(write_uniform(p->value, seed + i, -0.5f, 0.5f));
    }
    return GANTRY_OK;
}

double check_grad_error(const float *analytic, const double *numeric, size_t n, check_grad_result *r)
{
    double max_diff = 0.0, max_num = 0.0;
    size_t worst = 0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)analytic[i] - numeric[i]);
        finite &= isfinite(analytic[i]) && isfinite(numeric[i]);
        if (d > max_diff) {
            max_diff = d;
            worst = i;
        }
        if (fabs(numeric[i]) > max_num)
            max_num = fabs(numeric[i]);
    }
    double err = max_diff / (max_num > CHECK_GRAD_FLOOR ? max_num : CHECK_GRAD_FLOOR);
    if (!finite)
        err = INFINITY;
    if (r) {
        r->n = n;
        r->max_grad = max_num;
        r->error = err;
        r->worst = worst;
        r->analytic = n ? analytic[worst] : 0.0f;
        r->numeric = n ? numeric[worst] : 0.0;
    }
    return err;
}

/* L = sum w_i y_i for y = seq(x) in training mode. */
static gantry_status objective(gantry_seq *seq, const gantry_tensor *x, const double *w, size_t ny, double *l)
{
    gantry_tensor *y = NULL;
    TRY(gantry_seq_forward(seq, x, 1, &y));
    if (gantry_tensor_numel(y) != ny)
        return gantry_set_error(GANTRY_INTERNAL, "gradient check: output size changed");
    float *v;
    TRY(read_all(y, &v));
    double acc = 0.0;
    for (size_t i = 0; i < ny; i++)
        acc += w[i] * (double)v[i];
    free(v);
    *l = acc;
    return GANTRY_OK;
}

/* dL/dt by central differences for every element of t (the input or a
 * parameter's value); t is restored afterwards. */
static gantry_status numeric_grad(gantry_seq *seq, const gantry_tensor *x, gantry_tensor *t, const double *w,
                                  size_t ny, double eps, double *out)
{
    size_t n = gantry_tensor_numel(t);
    float *v;
    TRY(read_all(t, &v));
    gantry_status s = GANTRY_OK;
    for (size_t i = 0; i < n && !s; i++) {
        float orig = v[i];
        float vp = (float)(orig + eps), vm = (float)(orig - eps);
        double lp = 0.0, lm = 0.0;
        v[i] = vp;
        s = gantry_tensor_write(t, v, n);
        if (!s)
            s = objective(seq, x, w, ny, &lp);
        v[i] = vm;
        if (!s)
            s = gantry_tensor_write(t, v, n);
        if (!s)
            s = objective(seq, x, w, ny, &lm);
        v[i] = orig;
        out[i] = (lp - lm) / ((double)vp - (double)vm);
    }
    gantry_status r = gantry_tensor_write(t, v, n);
    free(v);
    return s ? s : r;
}

gantry_status check_grad_seq(gantry_seq *seq, const gantry_tensor *x, uint64_t seed, double eps,
                             check_grad_report_fn report, void *user)
{
    gantry_backend *be = gantry_tensor_backend(x);
    gantry_tensor *y = NULL, *dy = NULL, *dx = NULL;
    float *wf = NULL, *a_dx = NULL;
    double *w = NULL, *num = NULL;
    TRY(gantry_seq_forward(seq, x, 1, &y));
    size_t ny = gantry_tensor_numel(y), nx = gantry_tensor_numel(x);
    int ndim = gantry_tensor_ndim(y);
    size_t yshape[GANTRY_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        yshape[i] = gantry_tensor_dim(y, i);
    gantry_status s = gantry_tensor_create(be, ndim, yshape, &dy);
    wf = malloc(ny * sizeof *wf);
    w = malloc(ny * sizeof *w);
    if (!s && (!wf || !w))
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    if (!s) {
        for (size_t i = 0; i < ny; i++) {
            wf[i] = gantry_philox_uniform(seed ^ 0x5eedu, 0, i, -1.0f, 1.0f);
            w[i] = wf[i];
        }
        s = gantry_tensor_write(dy, wf, ny);
    }
    /* Analytic gradients. */
    if (!s)
        s = gantry_seq_zero_grad(seq);
    if (!s)
        s = gantry_seq_backward(seq, dy, 1, &dx);
    if (!s && (!dx || gantry_tensor_numel(dx) != nx))
        s = gantry_set_error(GANTRY_INTERNAL, "gradient check: dx has the wrong size");
    if (!s)
        s = read_all(dx, &a_dx);
    size_t np = gantry_seq_param_count(seq);
    float **grads = calloc(np ? np : 1, sizeof *grads);
    if (!s && !grads)
        s = gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    for (size_t i = 0; !s && i < np; i++)
        s = read_all(gantry_seq_param(seq, i)->grad, &grads[i]);

    /* Numeric gradients: x, then every parameter. */
    check_grad_result r;
    if (!s) {
        num = malloc(nx * sizeof *num);
        s = num ? numeric_grad(seq, x, (gantry_tensor *)x, w, ny, eps, num)
                : gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    }
    if (!s) {
        memset(&r, 0, sizeof r);
        snprintf(r.what, sizeof r.what, "dx");
        check_grad_error(a_dx, num, nx, &r);
        report(user, &r);
    }
    for (size_t i = 0; !s && i < np; i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        size_t n = gantry_tensor_numel(p->value);
        free(num);
        num = malloc(n * sizeof *num);
        s = num ? numeric_grad(seq, x, p->value, w, ny, eps, num)
                : gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
        if (!s) {
            memset(&r, 0, sizeof r);
            snprintf(r.what, sizeof r.what, "d%s", p->name);
            check_grad_error(grads[i], num, n, &r);
            report(user, &r);
        }
    }
    for (size_t i = 0; grads && i < np; i++)
        free(grads[i]);
    free(grads);
    free(num);
    free(a_dx);
    free(w);
    free(wf);
    gantry_tensor_destroy(dy);
    return s;
}

/* ---- gantry check's rows ------------------------------------------------------ */

typedef struct grad_ctx {
    check_suite *s;
    check_row *row;
    const char *config;
} grad_ctx;

static void report_to_row(void *user, const check_grad_result *r)
{
    grad_ctx *g = user;
    char desc[128], problem[256] = "";
    snprintf(desc, sizeof desc, "%s %s", g->config, r->what);
    if (!(r->error <= g->row->limit))
        snprintf(problem, sizeof problem, "%s error %.3g > %g (element %zu: analytic %.7g, numeric %.7g)", r->what,
                 r->error, g->row->limit, r->worst, (double)r->analytic, r->numeric);
    check_row_case(g->s, g->row, desc, r->error, problem);
}

typedef struct grad_config {
    const char *desc;
    int ndim;
    size_t shape[4];
    uint64_t seed;
    double eps;
} grad_config;

/* Virtual batch norm: the reference pass that sets its statistics, on a
 * batch of 7 drawn like the input. */
static gantry_status reference_pass(check_suite *s, gantry_seq *seq, const grad_config *gc, float lo, float hi)
{
    size_t shape[4];
    memcpy(shape, gc->shape, sizeof shape);
    shape[0] = 7;
    gantry_tensor *ref = NULL, *y;
    TRY(gantry_seq_set_virtual_batchnorm(seq, GANTRY_BN_VIRTUAL));
    TRY(check_grad_random_tensor(s->test, gc->ndim, shape, gc->seed + 4, lo, hi, 0.0f, &ref));
    gantry_status st = gantry_seq_forward(seq, ref, GANTRY_FORWARD_REFERENCE, &y);
    gantry_tensor_destroy(ref);
    return st;
}

static int virtual_bn; /* grad_case runs a reference pass first */

/* One configuration: a fresh Sequential from `build`, an input, the check. */
static void grad_case(check_suite *s, check_row *row, const grad_config *gc, gantry_status (*build)(gantry_seq *, const void *),
                      const void *arg, float lo, float hi, float gap)
{
    gantry_seq *seq = NULL;
    gantry_tensor *x = NULL;
    grad_ctx g = { s, row, gc->desc };
    gantry_status st = gantry_seq_create(s->test, &seq);
    if (!st)
        st = build(seq, arg);
    if (!st) {
        uint64_t offset = 0;
        st = gantry_seq_init(seq, gc->seed, &offset);
    }
    if (!st)
        st = check_grad_randomize_batchnorm(seq, gc->seed + 1);
    if (!st && virtual_bn)
        st = reference_pass(s, seq, gc, lo, hi);
    if (!st)
        st = check_grad_random_tensor(s->test, gc->ndim, gc->shape, gc->seed + 2, lo, hi, gap, &x);
    if (!st)
        st = check_grad_seq(seq, x, gc->seed + 3, gc->eps, report_to_row, &g);
    if (st) {
        char problem[320];
        snprintf(problem, sizeof problem, "%s failed: %s", s->backend_name, gantry_last_error());
        check_row_case(s, row, gc->desc, INFINITY, problem);
    }
    gantry_tensor_destroy(x);
    gantry_seq_destroy(seq);
}

static void fd_row_begin(check_suite *s, check_row *r, const char *name)
{
    check_row_begin(s, r, name, "fd", CHECK_GRAD_TOL);
    /* Not a comparison between backends: the tolerance of the differences
     * stays even when the reference is checked against itself. */
    r->limit = CHECK_GRAD_TOL;
}

typedef struct linear_arg {
    size_t in, out;
} linear_arg;

static gantry_status build_linear(gantry_seq *seq, const void *arg)
{
    const linear_arg *l = arg;
    return gantry_seq_add_linear(seq, l->in, l->out);
}

static gantry_status build_batchnorm(gantry_seq *seq, const void *arg)
{
    return gantry_seq_add_batchnorm(seq, *(const size_t *)arg, 1e-5f, 0.1f);
}

typedef struct act_arg {
    gantry_activation act;
    float param;
} act_arg;

static gantry_status build_activation(gantry_seq *seq, const void *arg)
{
    const act_arg *a = arg;
    return gantry_seq_add_activation(seq, a->act, a->param);
}

typedef struct conv_arg {
    int transposed;
    size_t in, out, k, stride, padding;
} conv_arg;

static gantry_status build_conv(gantry_seq *seq, const void *arg)
{
    const conv_arg *c = arg;
    if (c->transposed)
        return gantry_seq_add_conv_transpose2d(seq, c->in, c->out, c->k, c->stride, c->padding);
    return gantry_seq_add_conv2d(seq, c->in, c->out, c->k, c->stride, c->padding);
}

/* Linear -> BatchNorm -> LeakyReLU -> Linear -> Tanh, the GAN's pattern. */
static gantry_status build_stack(gantry_seq *seq, const void *arg)
{
    (void)arg;
    TRY(gantry_seq_add_linear(seq, 4, 6));
    TRY(gantry_seq_add_batchnorm(seq, 6, 1e-5f, 0.1f));
    TRY(gantry_seq_add_activation(seq, GANTRY_ACT_LEAKY_RELU, 0.2f));
    TRY(gantry_seq_add_linear(seq, 6, 3));
    return gantry_seq_add_activation(seq, GANTRY_ACT_TANH, 0.0f);
}

static void check_bce_grad(check_suite *s, check_row *row)
{
    enum { N = 13 };
    static const float targets[] = { 0.0f, 1.0f, 0.9f };
    gantry_tensor *x = NULL, *dx = NULL, *out = NULL;
    float xv[N], pert[N], a[N];
    double num[N];
    gantry_status st = gantry_tensor_new(s->test, &x, N, 0, 0, 0);
    if (!st)
        st = gantry_tensor_new(s->test, &dx, N, 0, 0, 0);
    if (!st)
        st = gantry_tensor_new(s->test, &out, 1, 0, 0, 0);
    for (int i = 0; i < N; i++)
        xv[i] = gantry_philox_uniform(110, 0, (size_t)i, -4.0f, 4.0f);
    xv[0] = 9.0f; /* far into both tails */
    xv[1] = -9.0f;
    for (size_t k = 0; !st && k < sizeof targets / sizeof *targets; k++) {
        float t = targets[k];
        st = gantry_tensor_write(x, xv, N);
        if (!st)
            st = gantry_op_bce_logits_backward(x, t, 1.0f, dx);
        if (!st)
            st = gantry_tensor_read(dx, a, N);
        memcpy(pert, xv, sizeof pert);
        for (int i = 0; !st && i < N; i++) {
            const double eps = 1e-2;
            float vp = (float)(xv[i] + eps), vm = (float)(xv[i] - eps), lp = 0.0f, lm = 0.0f;
            pert[i] = vp;
            st = gantry_tensor_write(x, pert, N);
            if (!st)
                st = gantry_op_bce_logits_forward(x, t, out);
            if (!st)
                st = gantry_tensor_item(out, &lp);
            pert[i] = vm;
            if (!st)
                st = gantry_tensor_write(x, pert, N);
            if (!st)
                st = gantry_op_bce_logits_forward(x, t, out);
            if (!st)
                st = gantry_tensor_item(out, &lm);
            pert[i] = xv[i];
            num[i] = ((double)lp - (double)lm) / ((double)vp - (double)vm);
        }
        if (!st) {
            check_grad_result r;
            memset(&r, 0, sizeof r);
            snprintf(r.what, sizeof r.what, "dx");
            check_grad_error(a, num, N, &r);
            char config[64];
            snprintf(config, sizeof config, "n=%d target=%g", N, (double)t);
            grad_ctx g = { s, row, config };
            report_to_row(&g, &r);
        }
    }
    if (st) {
        char problem[320];
        snprintf(problem, sizeof problem, "%s failed: %s", s->backend_name, gantry_last_error());
        check_row_case(s, row, "bce_logits", INFINITY, problem);
    }
    gantry_tensor_destroy(x);
    gantry_tensor_destroy(dx);
    gantry_tensor_destroy(out);
}

void check_grad_run(check_suite *s)
{
    check_row r;

    fd_row_begin(s, &r, "gradcheck(linear)");
    {
        static const linear_arg l54 = { 5, 4 }, l63 = { 6, 3 }, l137 = { 13, 7 };
        grad_config a = { "Linear(5, 4) x [6, 5]", 2, { 6, 5 }, 11, 1e-2 };
        grad_config b = { "Linear(6, 3) x [2, 3, 2, 1]", 4, { 2, 3, 2, 1 }, 14, 1e-2 };
        grad_config c = { "Linear(13, 7) x [1, 13]", 2, { 1, 13 }, 17, 1e-2 };
        grad_case(s, &r, &a, build_linear, &l54, -1.0f, 1.0f, 0.0f);
        grad_case(s, &r, &b, build_linear, &l63, -1.0f, 1.0f, 0.0f);
        grad_case(s, &r, &c, build_linear, &l137, -1.0f, 1.0f, 0.0f);
    }
    check_row_end(s, &r);

    fd_row_begin(s, &r, "gradcheck(batchnorm)");
    {
        static const size_t c4 = 4, c3 = 3, c5 = 5;
        grad_config a = { "BatchNorm1d(4) x [6, 4]", 2, { 6, 4 }, 21, 1e-2 };
        grad_config b = { "BatchNorm1d(4) x [2, 4]", 2, { 2, 4 }, 25, 1e-2 };
        grad_config c = { "BatchNorm2d(3) x [3, 3, 2, 2]", 4, { 3, 3, 2, 2 }, 27, 1e-2 };
        grad_config d = { "BatchNorm2d(3) x [1, 3, 2, 3]", 4, { 1, 3, 2, 3 }, 31, 1e-3 };
        grad_config e = { "BatchNorm1d(5) x [13, 5]", 2, { 13, 5 }, 35, 1e-2 };
        grad_case(s, &r, &a, build_batchnorm, &c4, -2.0f, 2.0f, 0.0f);
        grad_case(s, &r, &b, build_batchnorm, &c4, -2.0f, 2.0f, 0.0f);
        grad_case(s, &r, &c, build_batchnorm, &c3, -2.0f, 2.0f, 0.0f);
        grad_case(s, &r, &d, build_batchnorm, &c3, -2.0f, 2.0f, 0.0f);
        grad_case(s, &r, &e, build_batchnorm, &c5, -2.0f, 2.0f, 0.0f);
    }
    check_row_end(s, &r);

    static const struct {
        act_arg a;
        const char *name;
    } acts[] = {
        { { GANTRY_ACT_IDENTITY, 0.0f }, "identity" }, { { GANTRY_ACT_RELU, 0.0f }, "relu" },
        { { GANTRY_ACT_LEAKY_RELU, 0.2f }, "leaky_relu" }, { { GANTRY_ACT_TANH, 0.0f }, "tanh" },
        { { GANTRY_ACT_SIGMOID, 0.0f }, "sigmoid" },
    };
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
        char name[48];
        snprintf(name, sizeof name, "gradcheck(%s)", acts[i].name);
        fd_row_begin(s, &r, name);
        /* Points at least 5e-2 from the kink, steps of 1e-2. */
        grad_config a = { "x [4, 5]", 2, { 4, 5 }, 40 + i, 1e-2 };
        grad_config b = { "x [2, 2, 2, 2]", 4, { 2, 2, 2, 2 }, 60 + i, 1e-2 };
        grad_case(s, &r, &a, build_activation, &acts[i].a, -3.0f, 3.0f, 5e-2f);
        grad_case(s, &r, &b, build_activation, &acts[i].a, -3.0f, 3.0f, 5e-2f);
        check_row_end(s, &r);
    }

    fd_row_begin(s, &r, "gradcheck(virtual_batchnorm)");
    {
        static const size_t c3 = 3, c2 = 2;
        grad_config a = { "VirtualBatchNorm(3) x [5, 3]", 2, { 5, 3 }, 71, 1e-2 };
        grad_config b = { "VirtualBatchNorm(2) x [3, 2, 2, 3]", 4, { 3, 2, 2, 3 }, 72, 1e-2 };
        grad_config c = { "VirtualBatchNorm(2) x [1, 2, 3, 1]", 4, { 1, 2, 3, 1 }, 73, 1e-2 };
        virtual_bn = 1;
        grad_case(s, &r, &a, build_batchnorm, &c3, -2.0f, 2.0f, 0.0f);
        grad_case(s, &r, &b, build_batchnorm, &c2, -2.0f, 2.0f, 0.0f);
        grad_case(s, &r, &c, build_batchnorm, &c2, -2.0f, 2.0f, 0.0f);
        virtual_bn = 0;
    }
    check_row_end(s, &r);

    fd_row_begin(s, &r, "gradcheck(conv2d)");
    {
        static const conv_arg c1 = { 0, 3, 4, 3, 2, 1 }, c2 = { 0, 2, 3, 4, 2, 1 }, c3 = { 0, 1, 2, 1, 1, 0 };
        grad_config a = { "Conv2d(3, 4, 3, 2, 1) x [2, 3, 5, 6]", 4, { 2, 3, 5, 6 }, 81, 1e-2 };
        grad_config b = { "Conv2d(2, 3, 4, 2, 1) x [2, 2, 6, 6]", 4, { 2, 2, 6, 6 }, 82, 1e-2 };
        grad_config c = { "Conv2d(1, 2, 1, 1, 0) x [1, 1, 3, 2]", 4, { 1, 1, 3, 2 }, 83, 1e-2 };
        grad_case(s, &r, &a, build_conv, &c1, -1.0f, 1.0f, 0.0f);
        grad_case(s, &r, &b, build_conv, &c2, -1.0f, 1.0f, 0.0f);
        grad_case(s, &r, &c, build_conv, &c3, -1.0f, 1.0f, 0.0f);
    }
    check_row_end(s, &r);

    fd_row_begin(s, &r, "gradcheck(conv_transpose2d)");
    {
        static const conv_arg c1 = { 1, 3, 2, 4, 2, 1 }, c2 = { 1, 2, 3, 3, 1, 0 }, c3 = { 1, 2, 2, 3, 3, 2 };
        grad_config a = { "ConvTranspose2d(3, 2, 4, 2, 1) x [2, 3, 3, 4]", 4, { 2, 3, 3, 4 }, 84, 1e-2 };
        grad_config b = { "ConvTranspose2d(2, 3, 3, 1, 0) x [1, 2, 2, 3]", 4, { 1, 2, 2, 3 }, 85, 1e-2 };
        grad_config c = { "ConvTranspose2d(2, 2, 3, 3, 2) x [3, 2, 2, 2]", 4, { 3, 2, 2, 2 }, 86, 1e-2 };
        grad_case(s, &r, &a, build_conv, &c1, -1.0f, 1.0f, 0.0f);
        grad_case(s, &r, &b, build_conv, &c2, -1.0f, 1.0f, 0.0f);
        grad_case(s, &r, &c, build_conv, &c3, -1.0f, 1.0f, 0.0f);
    }
    check_row_end(s, &r);

    fd_row_begin(s, &r, "gradcheck(stack)");
    {
        grad_config a = { "Linear-BN-LReLU-Linear-Tanh x [5, 4]", 2, { 5, 4 }, 90, 1e-2 };
        grad_case(s, &r, &a, build_stack, NULL, -1.5f, 1.5f, 0.0f);
    }
    check_row_end(s, &r);

    fd_row_begin(s, &r, "gradcheck(bce_logits)");
    check_bce_grad(s, &r);
    check_row_end(s, &r);
}
