/* Checked ops of the norm family: batch norm: training, inference, with given statistics, virtual. */
#include "core/ops/ops_check.h"

static gantry_status check_bn_input(const char *op, const gantry_tensor *x, const char *y_name, const gantry_tensor *y,
                                    float eps, int training)
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

/* The training forward's arguments (shared with the fused op). */
static gantry_status check_bn_train(const char *op, const gantry_tensor *x, const gantry_tensor *y,
                                    const gantry_tensor *gamma, const gantry_tensor *beta,
                                    const gantry_tensor *running_mean, const gantry_tensor *running_var,
                                    const gantry_tensor *save_mean, const gantry_tensor *save_invstd, float momentum,
                                    float eps)
{
    CHECK_TENSORS(op, "x,y,gamma,beta,running_mean,running_var,save_mean,save_invstd", x, y, gamma, beta, running_mean,
                  running_var, save_mean, save_invstd);
    GANTRY_TRY(check_bn_input(op, x, "y", y, eps, 1));
    GANTRY_TRY(check_range(op, "momentum", momentum, 0.0f, 1.0f));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "beta", beta, c));
    GANTRY_TRY(check_per_channel(op, "running_mean", running_mean, c));
    GANTRY_TRY(check_per_channel(op, "running_var", running_var, c));
    GANTRY_TRY(check_per_channel(op, "save_mean", save_mean, c));
    return check_per_channel(op, "save_invstd", save_invstd, c);
}

/* The activations a batch norm op can apply: those whose derivative the
 * output's sign gives. */
static gantry_status check_fused_act(const char *op, gantry_activation act, float param)
{
    if (act == GANTRY_ACT_RELU || (act == GANTRY_ACT_LEAKY_RELU && param >= 0.0f && isfinite(param)))
        return GANTRY_OK;
    return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                            "%s: activation %d(%g): only ReLU and LeakyReLU with a slope >= 0 can follow batch norm "
                            "in one op",
                            op, (int)act, (double)param);
}

gantry_status gantry_op_batchnorm_forward_train(const gantry_tensor *x, gantry_tensor *y, const gantry_tensor *gamma,
                                                const gantry_tensor *beta, gantry_tensor *running_mean,
                                                gantry_tensor *running_var, gantry_tensor *save_mean,
                                                gantry_tensor *save_invstd, float momentum, float eps)
{
    static const char op[] = "batchnorm_forward_train";
    GANTRY_TRY(check_bn_train(op, x, y, gamma, beta, running_mean, running_var, save_mean, save_invstd, momentum, eps));
    return DISPATCH(x, batchnorm_forward_train, MEM(x), MEM(y), MEM(gamma), MEM(beta), MEM(running_mean),
                    MEM(running_var), MEM(save_mean), MEM(save_invstd), x->shape[0], x->shape[1], gantry__inner(x),
                    momentum, eps);
}

gantry_status gantry_op_batchnorm_act_forward_train(gantry_activation act, float param, const gantry_tensor *x,
                                                    gantry_tensor *y, const gantry_tensor *gamma,
                                                    const gantry_tensor *beta, gantry_tensor *running_mean,
                                                    gantry_tensor *running_var, gantry_tensor *save_mean,
                                                    gantry_tensor *save_invstd, float momentum, float eps)
{
    static const char op[] = "batchnorm_act_forward_train";
    GANTRY_TRY(check_bn_train(op, x, y, gamma, beta, running_mean, running_var, save_mean, save_invstd, momentum, eps));
    GANTRY_TRY(check_fused_act(op, act, param));
    return DISPATCH(x, batchnorm_act_forward_train, act, param, MEM(x), MEM(y), MEM(gamma), MEM(beta),
                    MEM(running_mean), MEM(running_var), MEM(save_mean), MEM(save_invstd), x->shape[0], x->shape[1],
                    gantry__inner(x), momentum, eps);
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
    return DISPATCH(x, batchnorm_forward_eval, MEM(x), MEM(y), MEM(gamma), MEM(beta), MEM(running_mean),
                    MEM(running_var), x->shape[0], c, gantry__inner(x), eps);
}

/* The training backward's arguments (shared with the fused op). */
static gantry_status check_bn_backward(const char *op, const gantry_tensor *x, const gantry_tensor *dy,
                                       const gantry_tensor *gamma, const gantry_tensor *save_mean,
                                       const gantry_tensor *save_invstd, const gantry_tensor *dx,
                                       const gantry_tensor *dgamma, const gantry_tensor *dbeta)
{
    CHECK_TENSORS(op, "x,dy,gamma,save_mean,save_invstd,dx,dgamma,dbeta", x, dy, gamma, save_mean, save_invstd, dx,
                  dgamma, dbeta);
    GANTRY_TRY(check_bn_input(op, x, "dy", dy, 1.0f, 1));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    size_t c = x->shape[1];
    GANTRY_TRY(check_per_channel(op, "gamma", gamma, c));
    GANTRY_TRY(check_per_channel(op, "save_mean", save_mean, c));
    GANTRY_TRY(check_per_channel(op, "save_invstd", save_invstd, c));
    GANTRY_TRY(check_per_channel(op, "dgamma", dgamma, c));
    return check_per_channel(op, "dbeta", dbeta, c);
}

gantry_status gantry_op_batchnorm_backward(const gantry_tensor *x, const gantry_tensor *dy, const gantry_tensor *gamma,
                                           const gantry_tensor *save_mean, const gantry_tensor *save_invstd,
                                           gantry_tensor *dx, gantry_tensor *dgamma, gantry_tensor *dbeta,
                                           int accumulate)
{
    static const char op[] = "batchnorm_backward";
    GANTRY_TRY(check_bn_backward(op, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta));
    return DISPATCH(x, batchnorm_backward, MEM(x), MEM(dy), MEM(gamma), MEM(save_mean), MEM(save_invstd), MEM(dx),
                    MEM(dgamma), MEM(dbeta), x->shape[0], x->shape[1], gantry__inner(x), accumulate ? 1.0f : 0.0f);
}

gantry_status gantry_op_batchnorm_act_backward(gantry_activation act, float param, const gantry_tensor *x,
                                               const gantry_tensor *y, const gantry_tensor *dy,
                                               const gantry_tensor *gamma, const gantry_tensor *save_mean,
                                               const gantry_tensor *save_invstd, gantry_tensor *dx,
                                               gantry_tensor *dgamma, gantry_tensor *dbeta, int accumulate)
{
    static const char op[] = "batchnorm_act_backward";
    GANTRY_TRY(check_bn_backward(op, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta));
    CHECK_TENSORS(op, "x,y", x, y);
    GANTRY_TRY(same_numel(op, "x", x, "y", y));
    GANTRY_TRY(check_fused_act(op, act, param));
    return DISPATCH(x, batchnorm_act_backward, act, param, MEM(x), MEM(y), MEM(dy), MEM(gamma), MEM(save_mean),
                    MEM(save_invstd), MEM(dx), MEM(dgamma), MEM(dbeta), x->shape[0], x->shape[1], gantry__inner(x),
                    accumulate ? 1.0f : 0.0f);
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
    return DISPATCH(x, batchnorm_forward_frozen, MEM(x), MEM(y), MEM(gamma), MEM(beta), MEM(mean), MEM(invstd),
                    x->shape[0], c, gantry__inner(x));
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
    return DISPATCH(x, batchnorm_backward_frozen, MEM(x), MEM(dy), MEM(gamma), MEM(mean), MEM(invstd), MEM(dx),
                    MEM(dgamma), MEM(dbeta), x->shape[0], c, gantry__inner(x), accumulate ? 1.0f : 0.0f);
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
    return DISPATCH(x, vbn_forward, MEM(x), MEM(y), MEM(gamma), MEM(beta), MEM(ref_mean), MEM(ref_invstd), ref_count,
                    MEM(save_mean), MEM(save_invstd), x->shape[0], c, gantry__inner(x), eps);
}

gantry_status gantry_op_vbn_backward(const gantry_tensor *x, const gantry_tensor *dy, const gantry_tensor *gamma,
                                     const gantry_tensor *save_mean, const gantry_tensor *save_invstd, size_t ref_count,
                                     gantry_tensor *dx, gantry_tensor *dgamma, gantry_tensor *dbeta, int accumulate)
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
    return DISPATCH(x, vbn_backward, MEM(x), MEM(dy), MEM(gamma), MEM(save_mean), MEM(save_invstd), MEM(dx),
                    MEM(dgamma), MEM(dbeta), ref_count, x->shape[0], c, gantry__inner(x), accumulate ? 1.0f : 0.0f);
}
