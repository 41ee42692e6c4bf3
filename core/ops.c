/* Checked dispatch: every op validates its arguments, then calls the
 * backend through its vtable.  Backends trust what arrives here. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/profile.h"
#include "core/tensor_impl.h"
#include "gantry/ops.h"

/* Picks the comma-separated name number `i` out of `names`. */
static const char *arg_name(const char *names, size_t i, char *buf, size_t size)
{
    const char *p = names;
    while (i-- && (p = strchr(p, ',')))
        p++;
    if (!p)
        return "?";
    size_t len = strcspn(p, ",");
    if (len >= size)
        len = size - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

static gantry_status check_tensors(const char *op, const char *names, const gantry_tensor *const *ts,
                                   size_t count)
{
    char name[32], other[32];
    for (size_t i = 0; i < count; i++) {
        if (!ts[i])
            return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: tensor '%s' is NULL", op,
                                    arg_name(names, i, name, sizeof name));
        if (ts[i]->be != ts[0]->be)
            return gantry_set_error(GANTRY_BACKEND_MISMATCH, "%s: '%s' is on backend '%s' but '%s' on '%s'", op,
                                    arg_name(names, i, name, sizeof name), ts[i]->be->name,
                                    arg_name(names, 0, other, sizeof other), ts[0]->be->name);
    }
    return GANTRY_OK;
}

#define CHECK_TENSORS(op, names, ...)                                                                   \
    do {                                                                                                \
        const gantry_tensor *const check_ts_[] = { __VA_ARGS__ };                                       \
        gantry_status check_s_ = check_tensors(op, names, check_ts_, sizeof check_ts_ / sizeof *check_ts_); \
        if (check_s_)                                                                                   \
            return check_s_;                                                                            \
    } while (0)

static gantry_status same_numel(const char *op, const char *an, const gantry_tensor *a, const char *bn,
                                const gantry_tensor *b)
{
    if (a->numel == b->numel)
        return GANTRY_OK;
    char sa[96], sb[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s and '%s' %s differ in size", op, an,
                            gantry__shape_str(a, sa, sizeof sa), bn, gantry__shape_str(b, sb, sizeof sb));
}

static gantry_status check_finite(const char *op, const char *name, float v)
{
    if (isfinite(v))
        return GANTRY_OK;
    return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %s is %g", op, name, (double)v);
}

static gantry_status check_range(const char *op, const char *name, float v, float lo, float hi)
{
    if (v >= lo && v <= hi)
        return GANTRY_OK;
    return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: %s = %g outside [%g, %g]", op, name, (double)v,
                            (double)lo, (double)hi);
}

/* x must be [N, C, ...] with at least two dimensions. */
static gantry_status check_channels(const char *op, const char *name, const gantry_tensor *x)
{
    if (x->ndim >= 2)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s needs a batch and a channel dimension", op, name,
                            gantry__shape_str(x, b, sizeof b));
}

static gantry_status check_per_channel(const char *op, const char *name, const gantry_tensor *v, size_t channels)
{
    if (v->numel == channels)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s should hold one value per channel (%zu)", op,
                            name, gantry__shape_str(v, b, sizeof b), channels);
}

#define OPS(t) ((t)->be->ops)
/* OPS(t)->fn(CTX(t), ...) through the profiler's hooks. */
#define DISPATCH(t, fn, ...) GANTRY__DISPATCH((t)->be, #fn, OPS(t)->fn(CTX(t), __VA_ARGS__))
#define CTX(t) ((t)->be->ctx)
#define M(t) gantry__mem(t)

gantry_status gantry_op_gemm(int trans_a, int trans_b, float alpha, const gantry_tensor *a,
                             const gantry_tensor *b, float beta, gantry_tensor *c)
{
    static const char op[] = "gemm";
    CHECK_TENSORS(op, "A,B,C", a, b, c);
    GANTRY_TRY(check_finite(op, "alpha", alpha));
    GANTRY_TRY(check_finite(op, "beta", beta));
    if (a->ndim != 2 || b->ndim != 2 || c->ndim != 2)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "gemm: A, B and C must be 2-D (got %d, %d, %d dims)",
                                a->ndim, b->ndim, c->ndim);
    size_t m = trans_a ? a->shape[1] : a->shape[0];
    size_t k = trans_a ? a->shape[0] : a->shape[1];
    size_t kb = trans_b ? b->shape[1] : b->shape[0];
    size_t n = trans_b ? b->shape[0] : b->shape[1];
    if (k != kb || c->shape[0] != m || c->shape[1] != n) {
        char sa[96], sb[96], sc[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "gemm: op(A) of %s%s times op(B) of %s%s does not give C %s", trans_a ? "A^T, A " : "A ",
                                gantry__shape_str(a, sa, sizeof sa), trans_b ? "B^T, B " : "B ",
                                gantry__shape_str(b, sb, sizeof sb), gantry__shape_str(c, sc, sizeof sc));
    }
    return DISPATCH(c, gemm, trans_a != 0, trans_b != 0, m, n, k, alpha, M(a), a->shape[1], M(b), b->shape[1],
                        beta, M(c), c->shape[1]);
}

gantry_status gantry_op_fill(gantry_tensor *x, float value)
{
    CHECK_TENSORS("fill", "x", x);
    return DISPATCH(x, fill, M(x), x->numel, value);
}

gantry_status gantry_op_bias_add(gantry_tensor *x, const gantry_tensor *bias)
{
    static const char op[] = "bias_add";
    CHECK_TENSORS(op, "x,bias", x, bias);
    GANTRY_TRY(check_channels(op, "x", x));
    GANTRY_TRY(check_per_channel(op, "bias", bias, x->shape[1]));
    return DISPATCH(x, bias_add, M(x), M(bias), x->shape[0], x->shape[1], gantry__inner(x));
}

gantry_status gantry_op_bias_grad(const gantry_tensor *dy, gantry_tensor *dbias, int accumulate)
{
    static const char op[] = "bias_grad";
    CHECK_TENSORS(op, "dy,dbias", dy, dbias);
    GANTRY_TRY(check_channels(op, "dy", dy));
    GANTRY_TRY(check_per_channel(op, "dbias", dbias, dy->shape[1]));
    return DISPATCH(dy, bias_grad, M(dy), M(dbias), dy->shape[0], dy->shape[1], gantry__inner(dy),
                              accumulate ? 1.0f : 0.0f);
}

static gantry_status check_activation(const char *op, gantry_activation act, float param)
{
    if (act < GANTRY_ACT_IDENTITY || act > GANTRY_ACT_SIGMOID)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: unknown activation %d", op, (int)act);
    return check_finite(op, "activation parameter", param);
}

gantry_status gantry_op_activation_forward(gantry_activation act, float param, const gantry_tensor *x,
                                           gantry_tensor *y)
{
    static const char op[] = "activation_forward";
    CHECK_TENSORS(op, "x,y", x, y);
    GANTRY_TRY(check_activation(op, act, param));
    GANTRY_TRY(same_numel(op, "x", x, "y", y));
    return DISPATCH(x, activation_forward, act, param, M(x), M(y), x->numel);
}

gantry_status gantry_op_activation_backward(gantry_activation act, float param, const gantry_tensor *x,
                                            const gantry_tensor *y, const gantry_tensor *dy, gantry_tensor *dx)
{
    static const char op[] = "activation_backward";
    CHECK_TENSORS(op, "x,y,dy,dx", x, y, dy, dx);
    GANTRY_TRY(check_activation(op, act, param));
    GANTRY_TRY(same_numel(op, "x", x, "y", y));
    GANTRY_TRY(same_numel(op, "x", x, "dy", dy));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, activation_backward, act, param, M(x), M(y), M(dy), M(dx), x->numel);
}

static gantry_status check_bn_input(const char *op, const gantry_tensor *x, const char *y_name,
                                    const gantry_tensor *y, float eps, int training)
{
    GANTRY_TRY(check_channels(op, "x", x));
    GANTRY_TRY(same_numel(op, "x", x, y_name, y));
    if (!(eps > 0.0f) || !isfinite(eps))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: eps = %g must be positive", op, (double)eps);
    if (training && x->shape[0] * gantry__inner(x) < 2) {
        char b[96];
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "%s: x %s has one value per channel; batch statistics need at least two", op,
                                gantry__shape_str(x, b, sizeof b));
    }
    return GANTRY_OK;
}

gantry_status gantry_op_batchnorm_forward_train(const gantry_tensor *x, gantry_tensor *y, const gantry_tensor *gamma,
                                                const gantry_tensor *beta, gantry_tensor *running_mean,
                                                gantry_tensor *running_var, gantry_tensor *save_mean,
                                                gantry_tensor *save_invstd, float momentum, float eps)
{
    static const char op[] = "batchnorm_forward_train";
    CHECK_TENSORS(op, "x,y,gamma,beta,running_mean,running_var,save_mean,save_invstd", x, y, gamma, beta,
                  running_mean, running_var, save_mean, save_invstd);
    GANTRY_TRY(check_bn_input(op, x, "y", y, eps, 1));
    GANTRY_TRY(check_range(op, "momentum", momentum, 0.0f, 1.0f));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "beta", beta, c));
    GANTRY_TRY(check_per_channel(op, "running_mean", running_mean, c));
    GANTRY_TRY(check_per_channel(op, "running_var", running_var, c));
    GANTRY_TRY(check_per_channel(op, "save_mean", save_mean, c));
    GANTRY_TRY(check_per_channel(op, "save_invstd", save_invstd, c));
    return DISPATCH(x, batchnorm_forward_train, M(x), M(y), M(gamma), M(beta), M(running_mean), M(running_var),
                                           M(save_mean), M(save_invstd), x->shape[0], c, gantry__inner(x),
                                           momentum, eps);
}

gantry_status gantry_op_batchnorm_forward_eval(const gantry_tensor *x, gantry_tensor *y, const gantry_tensor *gamma,
                                               const gantry_tensor *beta, const gantry_tensor *running_mean,
                                               const gantry_tensor *running_var, float eps)
{
    static const char op[] = "batchnorm_forward_eval";
    CHECK_TENSORS(op, "x,y,gamma,beta,running_mean,running_var", x, y, gamma, beta, running_mean, running_var);
    GANTRY_TRY(check_bn_input(op, x, "y", y, eps, 0));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "beta", beta, c));
    GANTRY_TRY(check_per_channel(op, "running_mean", running_mean, c));
    GANTRY_TRY(check_per_channel(op, "running_var", running_var, c));
    return DISPATCH(x, batchnorm_forward_eval, M(x), M(y), M(gamma), M(beta), M(running_mean), M(running_var),
                                          x->shape[0], c, gantry__inner(x), eps);
}

gantry_status gantry_op_batchnorm_backward(const gantry_tensor *x, const gantry_tensor *dy, const gantry_tensor *gamma,
                                           const gantry_tensor *save_mean, const gantry_tensor *save_invstd,
                                           gantry_tensor *dx, gantry_tensor *dgamma, gantry_tensor *dbeta,
                                           int accumulate)
{
    static const char op[] = "batchnorm_backward";
    CHECK_TENSORS(op, "x,dy,gamma,save_mean,save_invstd,dx,dgamma,dbeta", x, dy, gamma, save_mean, save_invstd, dx,
                  dgamma, dbeta);
    GANTRY_TRY(check_bn_input(op, x, "dy", dy, 1.0f, 1));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "save_mean", save_mean, c));
    GANTRY_TRY(check_per_channel(op, "save_invstd", save_invstd, c));
    GANTRY_TRY(check_per_channel(op, "dgamma", dgamma, c));
    GANTRY_TRY(check_per_channel(op, "dbeta", dbeta, c));
    return DISPATCH(x, batchnorm_backward, M(x), M(dy), M(gamma), M(save_mean), M(save_invstd), M(dx), M(dgamma),
                                      M(dbeta), x->shape[0], c, gantry__inner(x), accumulate ? 1.0f : 0.0f);
}

gantry_status gantry_op_add(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y)
{
    CHECK_TENSORS("add", "a,b,y", a, b, y);
    GANTRY_TRY(same_numel("add", "a", a, "b", b));
    GANTRY_TRY(same_numel("add", "a", a, "y", y));
    return DISPATCH(a, add, M(a), M(b), M(y), a->numel);
}

gantry_status gantry_op_mul(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y)
{
    CHECK_TENSORS("mul", "a,b,y", a, b, y);
    GANTRY_TRY(same_numel("mul", "a", a, "b", b));
    GANTRY_TRY(same_numel("mul", "a", a, "y", y));
    return DISPATCH(a, mul, M(a), M(b), M(y), a->numel);
}

gantry_status gantry_op_scale(const gantry_tensor *x, float alpha, gantry_tensor *y)
{
    CHECK_TENSORS("scale", "x,y", x, y);
    GANTRY_TRY(check_finite("scale", "alpha", alpha));
    GANTRY_TRY(same_numel("scale", "x", x, "y", y));
    return DISPATCH(x, scale, M(x), M(y), alpha, x->numel);
}

gantry_status gantry_op_axpy(float alpha, const gantry_tensor *x, gantry_tensor *y)
{
    CHECK_TENSORS("axpy", "x,y", x, y);
    GANTRY_TRY(check_finite("axpy", "alpha", alpha));
    GANTRY_TRY(same_numel("axpy", "x", x, "y", y));
    return DISPATCH(x, axpy, alpha, M(x), M(y), x->numel);
}

gantry_status gantry_op_sum(const gantry_tensor *x, gantry_tensor *out)
{
    CHECK_TENSORS("sum", "x,out", x, out);
    return DISPATCH(x, sum, M(x), M(out), x->numel);
}

gantry_status gantry_op_mean(const gantry_tensor *x, gantry_tensor *out)
{
    CHECK_TENSORS("mean", "x,out", x, out);
    return DISPATCH(x, mean, M(x), M(out), x->numel);
}

gantry_status gantry_op_bce_logits_forward(const gantry_tensor *x, float target, gantry_tensor *out)
{
    static const char op[] = "bce_logits_forward";
    CHECK_TENSORS(op, "x,out", x, out);
    GANTRY_TRY(check_range(op, "target", target, 0.0f, 1.0f));
    return DISPATCH(x, bce_logits_forward, M(x), x->numel, target, M(out));
}

gantry_status gantry_op_bce_logits_backward(const gantry_tensor *x, float target, float scale, gantry_tensor *dx)
{
    static const char op[] = "bce_logits_backward";
    CHECK_TENSORS(op, "x,dx", x, dx);
    GANTRY_TRY(check_range(op, "target", target, 0.0f, 1.0f));
    GANTRY_TRY(check_finite(op, "scale", scale));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, bce_logits_backward, M(x), x->numel, target, scale, M(dx));
}

static gantry_status check_lr(const char *op, float lr, float weight_decay)
{
    if (!(lr >= 0.0f) || !isfinite(lr))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: learning rate %g must be >= 0", op, (double)lr);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: weight decay %g must be >= 0", op,
                                (double)weight_decay);
    return GANTRY_OK;
}

gantry_status gantry_op_sgd_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *v, float lr,
                                   float momentum, float weight_decay)
{
    static const char op[] = "sgd_update";
    GANTRY_TRY(check_lr(op, lr, weight_decay));
    GANTRY_TRY(check_range(op, "momentum", momentum, 0.0f, 1.0f));
    if (momentum != 0.0f) {
        CHECK_TENSORS(op, "p,g,v", p, g, v);
        GANTRY_TRY(same_numel(op, "p", p, "v", v));
    } else {
        CHECK_TENSORS(op, "p,g", p, g);
        if (v && v->be != p->be)
            return gantry_set_error(GANTRY_BACKEND_MISMATCH, "%s: 'v' is on another backend", op);
    }
    GANTRY_TRY(same_numel(op, "p", p, "g", g));
    gantry_mem vm = v ? M(v) : M(p);
    return DISPATCH(p, sgd_update, M(p), M(g), vm, p->numel, lr, momentum, weight_decay);
}

gantry_status gantry_op_adam_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *m, gantry_tensor *v,
                                    float lr, float beta1, float beta2, float eps, float weight_decay,
                                    uint64_t step)
{
    static const char op[] = "adam_update";
    CHECK_TENSORS(op, "p,g,m,v", p, g, m, v);
    GANTRY_TRY(check_lr(op, lr, weight_decay));
    GANTRY_TRY(same_numel(op, "p", p, "g", g));
    GANTRY_TRY(same_numel(op, "p", p, "m", m));
    GANTRY_TRY(same_numel(op, "p", p, "v", v));
    if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: betas (%g, %g) must lie in [0, 1)", op,
                                (double)beta1, (double)beta2);
    if (!(eps > 0.0f) || !isfinite(eps))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: eps = %g must be positive", op, (double)eps);
    if (step == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: step counts from 1", op);
    return DISPATCH(p, adam_update, M(p), M(g), M(m), M(v), p->numel, lr, beta1, beta2, eps, weight_decay,
                               step);
}

gantry_status gantry_op_rmsprop_update(gantry_tensor *p, const gantry_tensor *g, gantry_tensor *sq, float lr,
                                       float alpha, float eps, float weight_decay)
{
    static const char op[] = "rmsprop_update";
    CHECK_TENSORS(op, "p,g,sq", p, g, sq);
    GANTRY_TRY(check_lr(op, lr, weight_decay));
    GANTRY_TRY(same_numel(op, "p", p, "g", g));
    GANTRY_TRY(same_numel(op, "p", p, "sq", sq));
    GANTRY_TRY(check_range(op, "alpha", alpha, 0.0f, 1.0f));
    if (!(eps > 0.0f) || !isfinite(eps))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: eps = %g must be positive", op, (double)eps);
    return DISPATCH(p, rmsprop_update, M(p), M(g), M(sq), p->numel, lr, alpha, eps, weight_decay);
}

gantry_status gantry_op_clamp(gantry_tensor *x, float lo, float hi)
{
    CHECK_TENSORS("clamp", "x", x);
    if (!(lo <= hi))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "clamp: bounds [%g, %g] are empty", (double)lo,
                                (double)hi);
    return DISPATCH(x, clamp, M(x), x->numel, lo, hi);
}

gantry_status gantry_op_rand_uniform(gantry_tensor *x, uint64_t seed, uint64_t offset, float lo, float hi)
{
    CHECK_TENSORS("rand_uniform", "x", x);
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "rand_uniform: bounds [%g, %g] are not a finite range",
                                (double)lo, (double)hi);
    return DISPATCH(x, rand_uniform, M(x), x->numel, seed, offset, lo, hi);
}

gantry_status gantry_op_rand_normal(gantry_tensor *x, uint64_t seed, uint64_t offset, float mean, float std)
{
    CHECK_TENSORS("rand_normal", "x", x);
    GANTRY_TRY(check_finite("rand_normal", "mean", mean));
    if (!(std >= 0.0f) || !isfinite(std))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "rand_normal: std = %g must be >= 0", (double)std);
    return DISPATCH(x, rand_normal, M(x), x->numel, seed, offset, mean, std);
}

/* ---- ABI version 2 ------------------------------------------------------ */

gantry_status gantry_conv_geometry_finish(gantry_conv_geometry *g)
{
    if (!g)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "conv geometry is NULL");
    if (!g->n || !g->c || !g->h || !g->w || !g->kh || !g->kw || !g->sh || !g->sw)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "convolution: sizes, kernel and stride must be positive (input %zux%zux%zux%zu, "
                                "kernel %zux%zu, stride %zux%zu)",
                                g->n, g->c, g->h, g->w, g->kh, g->kw, g->sh, g->sw);
    if (g->h + 2 * g->ph < g->kh || g->w + 2 * g->pw < g->kw)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "convolution: kernel %zux%zu does not fit the padded input %zux%zu (padding %zu, %zu)",
                                g->kh, g->kw, g->h, g->w, g->ph, g->pw);
    g->oh = (g->h + 2 * g->ph - g->kh) / g->sh + 1;
    g->ow = (g->w + 2 * g->pw - g->kw) / g->sw + 1;
    return GANTRY_OK;
}

static gantry_status check_conv(const char *op, const gantry_tensor *x, const gantry_tensor *col,
                                const gantry_conv_geometry *g)
{
    if (!g)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: geometry is NULL", op);
    gantry_conv_geometry want = *g;
    GANTRY_TRY(gantry_conv_geometry_finish(&want));
    if (want.oh != g->oh || want.ow != g->ow)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: output %zux%zu should be %zux%zu for this geometry", op,
                                g->oh, g->ow, want.oh, want.ow);
    char b[96];
    if (x->numel != g->n * g->c * g->h * g->w)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: image tensor %s is not [%zu, %zu, %zu, %zu]", op,
                                gantry__shape_str(x, b, sizeof b), g->n, g->c, g->h, g->w);
    size_t rows = g->c * g->kh * g->kw, cols = g->n * g->oh * g->ow;
    if (col->numel != rows * cols)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: column tensor %s should hold [%zu, %zu]", op,
                                gantry__shape_str(col, b, sizeof b), rows, cols);
    return GANTRY_OK;
}

gantry_status gantry_op_im2col(const gantry_tensor *x, gantry_tensor *col, const gantry_conv_geometry *g)
{
    static const char op[] = "im2col";
    CHECK_TENSORS(op, "x,col", x, col);
    GANTRY_TRY(check_conv(op, x, col, g));
    return DISPATCH(x, im2col, M(x), M(col), g);
}

gantry_status gantry_op_col2im(const gantry_tensor *col, gantry_tensor *x, const gantry_conv_geometry *g,
                               int accumulate)
{
    static const char op[] = "col2im";
    CHECK_TENSORS(op, "col,x", col, x);
    GANTRY_TRY(check_conv(op, x, col, g));
    return DISPATCH(x, col2im, M(col), M(x), g, accumulate ? 1.0f : 0.0f);
}

gantry_status gantry_op_swap_axes(const gantry_tensor *x, gantry_tensor *y, size_t a, size_t b, size_t inner)
{
    static const char op[] = "swap_axes";
    CHECK_TENSORS(op, "x,y", x, y);
    GANTRY_TRY(same_numel(op, "x", x, "y", y));
    if (!a || !b || !inner || x->numel != a * b * inner)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: [%zu, %zu, %zu] does not match %zu elements", op, a, b,
                                inner, x->numel);
    if (x->buf == y->buf && x->offset < y->offset + y->numel && y->offset < x->offset + x->numel)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: x and y overlap", op);
    return DISPATCH(x, swap_axes, M(x), M(y), a, b, inner);
}

gantry_status gantry_op_copy_rows(const gantry_tensor *x, size_t ldx, size_t x_col, gantry_tensor *y, size_t ldy,
                                  size_t y_col, size_t rows, size_t cols)
{
    static const char op[] = "copy_rows";
    CHECK_TENSORS(op, "x,y", x, y);
    if (!rows || !cols || x_col + cols > ldx || y_col + cols > ldy)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH,
                                "%s: columns [%zu, %zu) of rows %zu wide and [%zu, %zu) of rows %zu wide", op, x_col,
                                x_col + cols, ldx, y_col, y_col + cols, ldy);
    if (rows * ldx > x->numel || rows * ldy > y->numel)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: %zu rows of %zu and %zu exceed %zu and %zu elements", op,
                                rows, ldx, ldy, x->numel, y->numel);
    gantry_mem mx = M(x), my = M(y);
    mx.offset += x_col;
    my.offset += y_col;
    if (mx.buf == my.buf && mx.offset < my.offset + rows * ldy && my.offset < mx.offset + rows * ldx)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: x and y overlap", op);
    return DISPATCH(x, copy_rows, mx, ldx, my, ldy, rows, cols);
}

static gantry_status check_loss_kind(const char *op, gantry_loss_kind kind)
{
    if (kind == GANTRY_LOSS_MSE || kind == GANTRY_LOSS_L1)
        return GANTRY_OK;
    return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: unknown loss kind %d", op, (int)kind);
}

gantry_status gantry_op_regression_loss_forward(gantry_loss_kind kind, const gantry_tensor *x, const gantry_tensor *t,
                                                gantry_tensor *out)
{
    static const char op[] = "regression_loss_forward";
    CHECK_TENSORS(op, "x,t,out", x, t, out);
    GANTRY_TRY(check_loss_kind(op, kind));
    GANTRY_TRY(same_numel(op, "x", x, "t", t));
    return DISPATCH(x, regression_loss_forward, kind, M(x), M(t), x->numel, M(out));
}

gantry_status gantry_op_regression_loss_backward(gantry_loss_kind kind, const gantry_tensor *x, const gantry_tensor *t,
                                                 float scale, gantry_tensor *dx)
{
    static const char op[] = "regression_loss_backward";
    CHECK_TENSORS(op, "x,t,dx", x, t, dx);
    GANTRY_TRY(check_loss_kind(op, kind));
    GANTRY_TRY(check_finite(op, "scale", scale));
    GANTRY_TRY(same_numel(op, "x", x, "t", t));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, regression_loss_backward, kind, M(x), M(t), x->numel, scale, M(dx));
}

static gantry_status check_rows(const char *op, const gantry_tensor *x)
{
    if (x->ndim == 2)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: x %s must be [rows, classes]", op,
                            gantry__shape_str(x, b, sizeof b));
}

gantry_status gantry_op_softmax_ce_forward(const gantry_tensor *x, const gantry_tensor *t, gantry_tensor *out)
{
    static const char op[] = "softmax_ce_forward";
    CHECK_TENSORS(op, "x,t,out", x, t, out);
    GANTRY_TRY(check_rows(op, x));
    GANTRY_TRY(same_numel(op, "x", x, "t", t));
    return DISPATCH(x, softmax_ce_forward, M(x), M(t), x->shape[0], x->shape[1], M(out));
}

gantry_status gantry_op_softmax_ce_backward(const gantry_tensor *x, const gantry_tensor *t, float scale,
                                            gantry_tensor *dx)
{
    static const char op[] = "softmax_ce_backward";
    CHECK_TENSORS(op, "x,t,dx", x, t, dx);
    GANTRY_TRY(check_rows(op, x));
    GANTRY_TRY(check_finite(op, "scale", scale));
    GANTRY_TRY(same_numel(op, "x", x, "t", t));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, softmax_ce_backward, M(x), M(t), x->shape[0], x->shape[1], scale, M(dx));
}

static gantry_status check_row_values(const char *op, const char *name, const gantry_tensor *v, size_t rows)
{
    if (v->numel == rows)
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s should hold one value per row (%zu)", op, name,
                            gantry__shape_str(v, b, sizeof b), rows);
}

gantry_status gantry_op_logsumexp_forward(const gantry_tensor *x, gantry_tensor *out)
{
    static const char op[] = "logsumexp_forward";
    CHECK_TENSORS(op, "x,out", x, out);
    GANTRY_TRY(check_rows(op, x));
    GANTRY_TRY(check_row_values(op, "out", out, x->shape[0]));
    return DISPATCH(x, logsumexp_forward, M(x), M(out), x->shape[0], x->shape[1]);
}

gantry_status gantry_op_logsumexp_backward(const gantry_tensor *x, const gantry_tensor *dout, gantry_tensor *dx)
{
    static const char op[] = "logsumexp_backward";
    CHECK_TENSORS(op, "x,dout,dx", x, dout, dx);
    GANTRY_TRY(check_rows(op, x));
    GANTRY_TRY(check_row_values(op, "dout", dout, x->shape[0]));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, logsumexp_backward, M(x), M(dout), M(dx), x->shape[0], x->shape[1]);
}

gantry_status gantry_op_dropout_mask(gantry_tensor *mask, float p, uint64_t seed, uint64_t offset)
{
    static const char op[] = "dropout_mask";
    CHECK_TENSORS(op, "mask", mask);
    if (!(p >= 0.0f && p < 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: p = %g outside [0, 1)", op, (double)p);
    return DISPATCH(mask, dropout_mask, M(mask), mask->numel, p, seed, offset);
}

static gantry_status check_mbd(const char *op, const gantry_tensor *m, const char *o_name, const gantry_tensor *o)
{
    char b[96];
    if (m->ndim != 3)
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: m %s must be [n, kernels, dims]", op,
                                gantry__shape_str(m, b, sizeof b));
    if (o->numel != m->shape[0] * m->shape[1])
        return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s should be [%zu, %zu]", op, o_name,
                                gantry__shape_str(o, b, sizeof b), m->shape[0], m->shape[1]);
    return GANTRY_OK;
}

gantry_status gantry_op_minibatch_disc_forward(const gantry_tensor *m, gantry_tensor *o)
{
    static const char op[] = "minibatch_disc_forward";
    CHECK_TENSORS(op, "m,o", m, o);
    GANTRY_TRY(check_mbd(op, m, "o", o));
    return DISPATCH(m, minibatch_disc_forward, M(m), M(o), m->shape[0], m->shape[1], m->shape[2]);
}

gantry_status gantry_op_minibatch_disc_backward(const gantry_tensor *m, const gantry_tensor *dout, gantry_tensor *dm)
{
    static const char op[] = "minibatch_disc_backward";
    CHECK_TENSORS(op, "m,dout,dm", m, dout, dm);
    GANTRY_TRY(check_mbd(op, m, "dout", dout));
    GANTRY_TRY(same_numel(op, "m", m, "dm", dm));
    return DISPATCH(m, minibatch_disc_backward, M(m), M(dout), M(dm), m->shape[0], m->shape[1], m->shape[2]);
}

gantry_status gantry_op_batchnorm_forward_frozen(const gantry_tensor *x, gantry_tensor *y, const gantry_tensor *gamma,
                                                 const gantry_tensor *beta, const gantry_tensor *mean,
                                                 const gantry_tensor *invstd)
{
    static const char op[] = "batchnorm_forward_frozen";
    CHECK_TENSORS(op, "x,y,gamma,beta,mean,invstd", x, y, gamma, beta, mean, invstd);
    GANTRY_TRY(check_bn_input(op, x, "y", y, 1.0f, 0));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "beta", beta, c));
    GANTRY_TRY(check_per_channel(op, "mean", mean, c));
    GANTRY_TRY(check_per_channel(op, "invstd", invstd, c));
    return DISPATCH(x, batchnorm_forward_frozen, M(x), M(y), M(gamma), M(beta), M(mean), M(invstd), x->shape[0],
                                            c, gantry__inner(x));
}

gantry_status gantry_op_batchnorm_backward_frozen(const gantry_tensor *x, const gantry_tensor *dy,
                                                  const gantry_tensor *gamma, const gantry_tensor *mean,
                                                  const gantry_tensor *invstd, gantry_tensor *dx, gantry_tensor *dgamma,
                                                  gantry_tensor *dbeta, int accumulate)
{
    static const char op[] = "batchnorm_backward_frozen";
    CHECK_TENSORS(op, "x,dy,gamma,mean,invstd,dx,dgamma,dbeta", x, dy, gamma, mean, invstd, dx, dgamma, dbeta);
    GANTRY_TRY(check_bn_input(op, x, "dy", dy, 1.0f, 0));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "mean", mean, c));
    GANTRY_TRY(check_per_channel(op, "invstd", invstd, c));
    GANTRY_TRY(check_per_channel(op, "dgamma", dgamma, c));
    GANTRY_TRY(check_per_channel(op, "dbeta", dbeta, c));
    return DISPATCH(x, batchnorm_backward_frozen, M(x), M(dy), M(gamma), M(mean), M(invstd), M(dx), M(dgamma),
                                             M(dbeta), x->shape[0], c, gantry__inner(x), accumulate ? 1.0f : 0.0f);
}

static gantry_status check_per_example(const char *op, const char *name, const gantry_tensor *v, const gantry_tensor *x)
{
    if (v->numel == x->shape[0] * x->shape[1])
        return GANTRY_OK;
    char b[96];
    return gantry_set_error(GANTRY_SHAPE_MISMATCH, "%s: '%s' %s should hold one value per example and channel (%zu)",
                            op, name, gantry__shape_str(v, b, sizeof b), x->shape[0] * x->shape[1]);
}

gantry_status gantry_op_vbn_forward(const gantry_tensor *x, gantry_tensor *y, const gantry_tensor *gamma,
                                    const gantry_tensor *beta, const gantry_tensor *ref_mean,
                                    const gantry_tensor *ref_invstd, size_t ref_count, gantry_tensor *save_mean,
                                    gantry_tensor *save_invstd, float eps)
{
    static const char op[] = "vbn_forward";
    CHECK_TENSORS(op, "x,y,gamma,beta,ref_mean,ref_invstd,save_mean,save_invstd", x, y, gamma, beta, ref_mean,
                  ref_invstd, save_mean, save_invstd);
    GANTRY_TRY(check_bn_input(op, x, "y", y, eps, 0));
    if (ref_count == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: the reference batch is empty", op);
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "beta", beta, c));
    GANTRY_TRY(check_per_channel(op, "ref_mean", ref_mean, c));
    GANTRY_TRY(check_per_channel(op, "ref_invstd", ref_invstd, c));
    GANTRY_TRY(check_per_example(op, "save_mean", save_mean, x));
    GANTRY_TRY(check_per_example(op, "save_invstd", save_invstd, x));
    return DISPATCH(x, vbn_forward, M(x), M(y), M(gamma), M(beta), M(ref_mean), M(ref_invstd), ref_count,
                               M(save_mean), M(save_invstd), x->shape[0], c, gantry__inner(x), eps);
}

gantry_status gantry_op_vbn_backward(const gantry_tensor *x, const gantry_tensor *dy, const gantry_tensor *gamma,
                                     const gantry_tensor *save_mean, const gantry_tensor *save_invstd,
                                     size_t ref_count, gantry_tensor *dx, gantry_tensor *dgamma, gantry_tensor *dbeta,
                                     int accumulate)
{
    static const char op[] = "vbn_backward";
    CHECK_TENSORS(op, "x,dy,gamma,save_mean,save_invstd,dx,dgamma,dbeta", x, dy, gamma, save_mean, save_invstd, dx,
                  dgamma, dbeta);
    GANTRY_TRY(check_bn_input(op, x, "dy", dy, 1.0f, 0));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    if (ref_count == 0)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: the reference batch is empty", op);
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_example(op, "save_mean", save_mean, x));
    GANTRY_TRY(check_per_example(op, "save_invstd", save_invstd, x));
    GANTRY_TRY(check_per_channel(op, "dgamma", dgamma, c));
    GANTRY_TRY(check_per_channel(op, "dbeta", dbeta, c));
    return DISPATCH(x, vbn_backward, M(x), M(dy), M(gamma), M(save_mean), M(save_invstd), M(dx), M(dgamma),
                                M(dbeta), ref_count, x->shape[0], c, gantry__inner(x), accumulate ? 1.0f : 0.0f);
}
