/* Checked ops of the elementwise family: fill, bias, activations, arithmetic, reductions, clamp. */
#include "core/ops/ops_check.h"

gantry_status gantry_op_fill(gantry_tensor *x, float value)
{
    CHECK_TENSORS("fill", "x", x);
    return DISPATCH(x, fill, MEM(x), x->numel, value);
}

gantry_status gantry_op_bias_add(gantry_tensor *x, const gantry_tensor *bias)
{
    static const char op[] = "bias_add";
    CHECK_TENSORS(op, "x,bias", x, bias);
    GANTRY_TRY(check_channels(op, "x", x));
    GANTRY_TRY(check_per_channel(op, "bias", bias, x->shape[1]));
    return DISPATCH(x, bias_add, MEM(x), MEM(bias), x->shape[0], x->shape[1], gantry__inner(x));
}

gantry_status gantry_op_bias_grad(const gantry_tensor *dy, gantry_tensor *dbias, int accumulate)
{
    static const char op[] = "bias_grad";
    CHECK_TENSORS(op, "dy,dbias", dy, dbias);
    GANTRY_TRY(check_channels(op, "dy", dy));
    GANTRY_TRY(check_per_channel(op, "dbias", dbias, dy->shape[1]));
    return DISPATCH(dy, bias_grad, MEM(dy), MEM(dbias), dy->shape[0], dy->shape[1], gantry__inner(dy),
                    accumulate ? 1.0f : 0.0f);
}

static gantry_status check_activation(const char *op, gantry_activation act, float param)
{
    if (act < GANTRY_ACT_IDENTITY || act > GANTRY_ACT_SIGMOID)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: unknown activation %d", op, (int)act);
    return check_finite(op, "activation parameter", param);
}

gantry_status gantry_op_activation_forward(gantry_activation act, float param, const gantry_tensor *x, gantry_tensor *y)
{
    static const char op[] = "activation_forward";
    CHECK_TENSORS(op, "x,y", x, y);
    GANTRY_TRY(check_activation(op, act, param));
    GANTRY_TRY(same_numel(op, "x", x, "y", y));
    return DISPATCH(x, activation_forward, act, param, MEM(x), MEM(y), x->numel);
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
    return DISPATCH(x, activation_backward, act, param, MEM(x), MEM(y), MEM(dy), MEM(dx), x->numel);
}

gantry_status gantry_op_add(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y)
{
    CHECK_TENSORS("add", "a,b,y", a, b, y);
    GANTRY_TRY(same_numel("add", "a", a, "b", b));
    GANTRY_TRY(same_numel("add", "a", a, "y", y));
    return DISPATCH(a, add, MEM(a), MEM(b), MEM(y), a->numel);
}

gantry_status gantry_op_mul(const gantry_tensor *a, const gantry_tensor *b, gantry_tensor *y)
{
    CHECK_TENSORS("mul", "a,b,y", a, b, y);
    GANTRY_TRY(same_numel("mul", "a", a, "b", b));
    GANTRY_TRY(same_numel("mul", "a", a, "y", y));
    return DISPATCH(a, mul, MEM(a), MEM(b), MEM(y), a->numel);
}

gantry_status gantry_op_scale(const gantry_tensor *x, float alpha, gantry_tensor *y)
{
    CHECK_TENSORS("scale", "x,y", x, y);
    GANTRY_TRY(check_finite("scale", "alpha", alpha));
    GANTRY_TRY(same_numel("scale", "x", x, "y", y));
    return DISPATCH(x, scale, MEM(x), MEM(y), alpha, x->numel);
}

gantry_status gantry_op_axpy(float alpha, const gantry_tensor *x, gantry_tensor *y)
{
    CHECK_TENSORS("axpy", "x,y", x, y);
    GANTRY_TRY(check_finite("axpy", "alpha", alpha));
    GANTRY_TRY(same_numel("axpy", "x", x, "y", y));
    return DISPATCH(x, axpy, alpha, MEM(x), MEM(y), x->numel);
}

gantry_status gantry_op_sum(const gantry_tensor *x, gantry_tensor *out)
{
    CHECK_TENSORS("sum", "x,out", x, out);
    return DISPATCH(x, sum, MEM(x), MEM(out), x->numel);
}

gantry_status gantry_op_mean(const gantry_tensor *x, gantry_tensor *out)
{
    CHECK_TENSORS("mean", "x,out", x, out);
    return DISPATCH(x, mean, MEM(x), MEM(out), x->numel);
}

gantry_status gantry_op_clamp(gantry_tensor *x, float lo, float hi)
{
    CHECK_TENSORS("clamp", "x", x);
    if (!(lo <= hi))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "clamp: bounds [%g, %g] are empty", (double)lo, (double)hi);
    return DISPATCH(x, clamp, MEM(x), x->numel, lo, hi);
}
