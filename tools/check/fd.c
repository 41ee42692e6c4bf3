/* Finite differences (tools/check/fd.h): the one central-difference loop,
 * the error measure, and the objectives of a Sequential and of the BCE
 * loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/nn.h"
#include "gantry/ops.h"
#include "gantry/philox.h"
#include "tools/check/fd.h"

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

gantry_status check_fd_random_tensor(gantry_backend *be, int ndim, const size_t *shape, uint64_t seed, float lo,
                                       float hi, float gap, gantry_tensor **out)
{
    GANTRY_TRY(gantry_tensor_create(be, ndim, shape, out));
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

gantry_status check_fd_randomize_batchnorm(gantry_seq *seq, uint64_t seed)
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
            GANTRY_TRY(write_uniform(p->value, seed + i, 0.5f, 1.5f));
        else
            GANTRY_TRY(write_uniform(p->value, seed + i, -0.5f, 0.5f));
    }
    return GANTRY_OK;
}

double check_fd_error(const float *analytic, const double *numeric, size_t n, check_fd_result *r)
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
    double err = max_diff / (max_num > CHECK_FD_FLOOR ? max_num : CHECK_FD_FLOOR);
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

gantry_status check_fd_numeric(gantry_tensor *t, float *v, double eps, check_fd_objective_fn objective, void *user,
                               double *num)
{
    size_t n = gantry_tensor_numel(t);
    gantry_status s = GANTRY_OK;
    for (size_t i = 0; i < n && !s; i++) {
        float orig = v[i];
        float vp = (float)(orig + eps), vm = (float)(orig - eps);
        double lp = 0.0, lm = 0.0;
        v[i] = vp;
        s = gantry_tensor_write(t, v, n);
        if (!s)
            s = objective(user, &lp);
        v[i] = vm;
        if (!s)
            s = gantry_tensor_write(t, v, n);
        if (!s)
            s = objective(user, &lm);
        v[i] = orig;
        num[i] = (lp - lm) / ((double)vp - (double)vm);
    }
    gantry_status r = gantry_tensor_write(t, v, n);
    return s ? s : r;
}

/* ---- a Sequential ------------------------------------------------------------ */

typedef struct seq_objective {
    gantry_seq *seq;
    const gantry_tensor *x;
    const double *w;
    size_t ny;
} seq_objective;

/* L = sum w_i y_i for y = seq(x) in training mode. */
static gantry_status seq_loss(void *user, double *l)
{
    const seq_objective *o = user;
    gantry_tensor *y = NULL;
    GANTRY_TRY(gantry_seq_forward(o->seq, o->x, 1, &y));
    if (gantry_tensor_numel(y) != o->ny)
        return gantry_set_error(GANTRY_INTERNAL, "gradient check: output size changed");
    float *v;
    GANTRY_TRY(read_all(y, &v));
    double acc = 0.0;
    for (size_t i = 0; i < o->ny; i++)
        acc += o->w[i] * (double)v[i];
    free(v);
    *l = acc;
    return GANTRY_OK;
}

/* dL/dt for every element of t (the input or a parameter's value). */
static gantry_status seq_numeric(const seq_objective *o, gantry_tensor *t, double eps, double *out)
{
    float *v;
    GANTRY_TRY(read_all(t, &v));
    gantry_status s = check_fd_numeric(t, v, eps, seq_loss, (void *)o, out);
    free(v);
    return s;
}

gantry_status check_fd_seq(gantry_seq *seq, const gantry_tensor *x, uint64_t seed, double eps,
                             check_fd_report_fn report, void *user)
{
    gantry_backend *be = gantry_tensor_backend(x);
    gantry_tensor *y = NULL, *dy = NULL, *dx = NULL;
    float *wf = NULL, *a_dx = NULL;
    double *w = NULL, *num = NULL;
    GANTRY_TRY(gantry_seq_forward(seq, x, 1, &y));
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
    check_fd_result r;
    seq_objective o = { seq, x, w, ny };
    if (!s) {
        num = malloc(nx * sizeof *num);
        s = num ? seq_numeric(&o, (gantry_tensor *)x, eps, num)
                : gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
    }
    if (!s) {
        memset(&r, 0, sizeof r);
        snprintf(r.what, sizeof r.what, "dx");
        check_fd_error(a_dx, num, nx, &r);
        report(user, &r);
    }
    for (size_t i = 0; !s && i < np; i++) {
        const gantry_param *p = gantry_seq_param(seq, i);
        size_t n = gantry_tensor_numel(p->value);
        free(num);
        num = malloc(n * sizeof *num);
        s = num ? seq_numeric(&o, p->value, eps, num)
                : gantry_set_error(GANTRY_OUT_OF_MEMORY, "gradient check: out of host memory");
        if (!s) {
            memset(&r, 0, sizeof r);
            snprintf(r.what, sizeof r.what, "d%s", p->name);
            check_fd_error(grads[i], num, n, &r);
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

/* ---- the BCE loss ------------------------------------------------------------ */

typedef struct bce_objective {
    const gantry_tensor *x;
    gantry_tensor *out;
    float t;
} bce_objective;

static gantry_status bce_loss(void *user, double *l)
{
    const bce_objective *o = user;
    float v = 0.0f;
    GANTRY_TRY(gantry_op_bce_logits_forward(o->x, o->t, o->out));
    GANTRY_TRY(gantry_tensor_item(o->out, &v));
    *l = v;
    return GANTRY_OK;
}

gantry_status check_fd_bce_logits(gantry_tensor *x, gantry_tensor *dx, gantry_tensor *out, float *xv, float t,
                                  double eps, float *analytic, double *numeric)
{
    size_t n = gantry_tensor_numel(x);
    bce_objective o = { x, out, t };
    GANTRY_TRY(gantry_tensor_write(x, xv, n));
    GANTRY_TRY(gantry_op_bce_logits_backward(x, t, 1.0f, dx));
    GANTRY_TRY(gantry_tensor_read(dx, analytic, n));
    return check_fd_numeric(x, xv, eps, bce_loss, &o, numeric);
}
