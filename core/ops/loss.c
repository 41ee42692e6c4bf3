/* Checked ops of the loss family: binary cross-entropy, regression, softmax cross-entropy, log-sum-exp. */
#include "core/ops/ops_check.h"

gantry_status gantry_op_bce_logits_forward(const gantry_tensor *x, float target, gantry_tensor *out)
{
    static const char op[] = "bce_logits_forward";
    CHECK_TENSORS(op, "x,out", x, out);
    GANTRY_TRY(check_range(op, "target", target, 0.0f, 1.0f));
    return DISPATCH(x, bce_logits_forward, MEM(x), x->numel, target, MEM(out));
}

gantry_status gantry_op_bce_logits_backward(const gantry_tensor *x, float target, float scale, gantry_tensor *dx)
{
    static const char op[] = "bce_logits_backward";
    CHECK_TENSORS(op, "x,dx", x, dx);
    GANTRY_TRY(check_range(op, "target", target, 0.0f, 1.0f));
    GANTRY_TRY(check_finite(op, "scale", scale));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, bce_logits_backward, MEM(x), x->numel, target, scale, MEM(dx));
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
    return DISPATCH(x, regression_loss_forward, kind, MEM(x), MEM(t), x->numel, MEM(out));
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
    return DISPATCH(x, regression_loss_backward, kind, MEM(x), MEM(t), x->numel, scale, MEM(dx));
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
    return DISPATCH(x, softmax_ce_forward, MEM(x), MEM(t), x->shape[0], x->shape[1], MEM(out));
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
    return DISPATCH(x, softmax_ce_backward, MEM(x), MEM(t), x->shape[0], x->shape[1], scale, MEM(dx));
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
    return DISPATCH(x, logsumexp_forward, MEM(x), MEM(out), x->shape[0], x->shape[1]);
}

gantry_status gantry_op_logsumexp_backward(const gantry_tensor *x, const gantry_tensor *dout, gantry_tensor *dx)
{
    static const char op[] = "logsumexp_backward";
    CHECK_TENSORS(op, "x,dout,dx", x, dout, dx);
    GANTRY_TRY(check_rows(op, x));
    GANTRY_TRY(check_row_values(op, "dout", dout, x->shape[0]));
    GANTRY_TRY(same_numel(op, "x", x, "dx", dx));
    return DISPATCH(x, logsumexp_backward, MEM(x), MEM(dout), MEM(dx), x->shape[0], x->shape[1]);
}
