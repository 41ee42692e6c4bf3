/* `gantry check`, the optim family: the SGD, Adam and RMSprop updates over
 * the 1-D sizes, with and without weight decay and momentum, Adam at
 * several steps. */
#include <stdio.h>

#include "gantry/ops.h"
#include "tools/check/grid.h"
#include "tools/check/rows.h"

static gantry_status run_sgd(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_sgd_update(t[0], t[1], c->i[0] ? t[2] : NULL, c->f[0], c->f[1], c->f[2]);
}

static gantry_status run_adam(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_adam_update(t[0], t[1], t[2], t[3], c->f[0], c->f[1], c->f[2], c->f[3], c->f[4], c->u[0]);
}

static gantry_status run_rmsprop(gantry_tensor *const *t, const check_case *c)
{
    return gantry_op_rmsprop_update(t[0], t[1], t[2], c->f[0], c->f[1], c->f[2], c->f[3]);
}

/* The parameters and their gradient; returns n.  Variant bit 0: weight
 * decay 1e-2. */
static size_t update_args(check_suite *s, check_case *c, const check_point *p, float *weight_decay)
{
    size_t n = check_size_at(s, p->at);
    *weight_decay = p->variant & 1 ? 1e-2f : 0.0f;
    check_uniform_arg(c, "p", CHECK_OUT, n, -1.0f, 1.0f);
    check_uniform_arg(c, "g", CHECK_IN, n, -0.1f, 0.1f);
    return n;
}

/* variant bit 1: momentum 0.9; momentum 0 with and without v (NULL) */
static int sgd_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    (void)spec;
    float wd;
    size_t n = update_args(s, c, p, &wd);
    float momentum = p->variant & 2 ? 0.9f : 0.0f;
    c->run = run_sgd;
    c->i[0] = momentum != 0.0f || p->index % 3 == 0;
    if (c->i[0])
        check_uniform_arg(c, "v", momentum != 0.0f ? CHECK_OUT : CHECK_IN, n, -0.1f, 0.1f);
    c->f[0] = 0.01f;
    c->f[1] = momentum;
    c->f[2] = wd;
    snprintf(c->desc, sizeof c->desc, "n=%zu momentum=%g weight_decay=%g%s", n, (double)momentum, (double)wd,
             c->i[0] ? "" : " v=NULL");
    return 1;
}

/* variant bit 1: lr 1e-3 and beta1 0.9, else 2e-4 and 0.5 */
static int adam_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    static const uint64_t adam_steps[] = { 1, 2, 10, 1000 };
    (void)spec;
    float wd;
    size_t n = update_args(s, c, p, &wd);
    c->run = run_adam;
    check_uniform_arg(c, "m", CHECK_OUT, n, -0.05f, 0.05f);
    check_uniform_arg(c, "v", CHECK_OUT, n, 0.0f, 1e-3f);
    c->f[0] = p->variant & 2 ? 1e-3f : 2e-4f;
    c->f[1] = p->variant & 2 ? 0.9f : 0.5f;
    c->f[2] = 0.999f;
    c->f[3] = 1e-8f;
    c->f[4] = wd;
    c->u[0] = adam_steps[p->index % CHECK_ARRAY_LEN(adam_steps)];
    snprintf(c->desc, sizeof c->desc, "n=%zu lr=%g beta1=%g step=%llu weight_decay=%g", n, (double)c->f[0],
             (double)c->f[1], (unsigned long long)c->u[0], (double)wd);
    return 1;
}

/* variant bit 1: alpha 0.9, else 0.99 */
static int rmsprop_case(check_suite *s, const check_spec *spec, check_case *c, const check_point *p)
{
    (void)spec;
    float wd;
    size_t n = update_args(s, c, p, &wd);
    c->run = run_rmsprop;
    check_uniform_arg(c, "sq", CHECK_OUT, n, 0.0f, 1e-2f);
    c->f[0] = 1e-2f;
    c->f[1] = p->variant & 2 ? 0.9f : 0.99f;
    c->f[2] = 1e-8f;
    c->f[3] = wd;
    snprintf(c->desc, sizeof c->desc, "n=%zu alpha=%g weight_decay=%g", n, (double)c->f[1], (double)wd);
    return 1;
}

static const char why_update[] = "sqrt and division in float: a few ulp of the update";

static const check_spec table[] = {
    { .name = "sgd_update", .op = CHECK_OP_sgd_update, .metric = "nmse", .limit = 1e-12, .why = why_update,
      CHECK_SIZES(4), .build = sgd_case },
    { .name = "adam_update", .op = CHECK_OP_adam_update, .metric = "nmse", .limit = 1e-12, .why = why_update,
      CHECK_SIZES(4), .build = adam_case },
    { .name = "rmsprop_update", .op = CHECK_OP_rmsprop_update, .metric = "nmse", .limit = 1e-12,
      .why = why_update, CHECK_SIZES(4), .build = rmsprop_case },
};

const check_family check_family_optim = CHECK_FAMILY(optim, table);
