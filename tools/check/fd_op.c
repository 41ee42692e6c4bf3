/* Finite-difference rows of single ops (tools/check/fd_op.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gantry/philox.h"
#include "tools/check/fd_op.h"

void check_fd_row_case(check_suite *s, check_row *r, const char *config, const check_fd_result *res)
{
    char desc[128], problem[256] = "";
    snprintf(desc, sizeof desc, "%s %s", config, res->what);
    if (!(res->error <= r->limit))
        snprintf(problem, sizeof problem, "%s error %.3g > %g (element %zu: analytic %.7g, numeric %.7g)", res->what,
                 res->error, r->limit, res->worst, (double)res->analytic, res->numeric);
    check_row_case(s, r, desc, res->error, problem);
}

/* L = sum_i w_i out_i (w NULL: out[0]) after the forward. */
static gantry_status op_objective(void *user, double *l)
{
    check_fd_op *p = user;
    GANTRY_TRY(p->forward(p));
    size_t n = gantry_tensor_numel(p->out);
    GANTRY_TRY(check_read_tensor(p->out, p->out_host));
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += (p->w ? p->w[i] : 1.0) * (double)p->out_host[i];
    *l = acc;
    return GANTRY_OK;
}

gantry_status check_fd_op_compare(check_suite *s, check_row *r, check_fd_op *p, int k, const gantry_tensor *grad,
                                  double scale, const char *config, const char *what)
{
    size_t n = gantry_tensor_numel(grad);
    float *a = check_host_alloc(n);
    double *num = malloc((n ? n : 1) * sizeof *num);
    gantry_status st = a && num ? GANTRY_OK : gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!st)
        st = check_read_tensor(grad, a);
    if (!st)
        st = check_fd_numeric(p->t[p->in_at[k]], p->in[k], 1e-2, op_objective, p, num);
    if (!st) {
        for (size_t i = 0; i < n; i++)
            num[i] *= scale;
        check_fd_result res;
        memset(&res, 0, sizeof res);
        snprintf(res.what, sizeof res.what, "%s", what);
        check_fd_error(a, num, n, &res);
        check_fd_row_case(s, r, config, &res);
    }
    free(a);
    free(num);
    return st;
}

void check_fd_op_finish(check_suite *s, check_row *r, check_fd_op *p, gantry_status st, float *x,
                        const gantry_tensor *grad, double scale, const char *config, const char *what, float **host,
                        size_t nhost)
{
    p->in[0] = x;
    p->in_at[0] = 0;
    if (!st)
        st = check_fd_op_compare(s, r, p, 0, grad, scale, config, what);
    if (st)
        check_row_failed(s, r, config);
    check_fd_op_free(p, host, nhost);
}

void check_fd_op_free(check_fd_op *p, float **host, size_t nhost)
{
    for (size_t i = 0; i < CHECK_ARRAY_LEN(p->t); i++)
        gantry_tensor_destroy(p->t[i]);
    for (size_t i = 0; i < nhost; i++)
        free(host[i]);
    free(p->out_host);
}

void check_fd_weights(double *w, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        w[i] = gantry_philox_uniform(seed ^ 0x5eedu, 0, i, -1.0f, 1.0f);
}

void check_fd_op_single_input(check_suite *s, check_row *r, check_fd_op *p, gantry_status st, float *x, int ndim,
                              const size_t *shape, int out_ndim, const size_t *out_shape,
                              check_fd_backward_fn backward, uint64_t seed, const char *config, const char *what)
{
    size_t no = 1;
    for (int i = 0; i < out_ndim; i++)
        no *= out_shape[i];
    float *wf = check_host_alloc(no);
    double *w = malloc(no * sizeof *w);
    float *host[] = { x, wf };
    if (!st && (!wf || !w))
        st = gantry_set_error(GANTRY_OUT_OF_MEMORY, "out of host memory");
    if (!st) {
        check_fd_weights(w, no, seed);
        for (size_t i = 0; i < no; i++)
            wf[i] = (float)w[i];
    }
    p->out_host = check_host_alloc(no);
    p->w = w;
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, x, &p->t[0]);
    if (!st)
        st = check_host_tensor(s->test, out_ndim, out_shape, NULL, &p->t[1]);
    if (!st)
        st = check_host_tensor(s->test, out_ndim, out_shape, wf, &p->t[2]);
    if (!st)
        st = check_host_tensor(s->test, ndim, shape, NULL, &p->t[3]);
    if (!st)
        st = backward(p->t[0], p->t[2], p->t[3]);
    p->out = p->t[1];
    check_fd_op_finish(s, r, p, st, x, p->t[3], 1.0, config, what, host, CHECK_ARRAY_LEN(host));
    free(w);
}
