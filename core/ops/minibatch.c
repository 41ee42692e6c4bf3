/* Checked ops of the minibatch family: minibatch discrimination. */
#include "core/ops/ops_check.h"

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
    return DISPATCH(m, minibatch_disc_forward, MEM(m), MEM(o), m->shape[0], m->shape[1], m->shape[2]);
}

gantry_status gantry_op_minibatch_disc_backward(const gantry_tensor *m, const gantry_tensor *dout, gantry_tensor *dm)
{
    static const char op[] = "minibatch_disc_backward";
    CHECK_TENSORS(op, "m,dout,dm", m, dout, dm);
    GANTRY_TRY(check_mbd(op, m, "dout", dout));
    GANTRY_TRY(same_numel(op, "m", m, "dm", dm));
    return DISPATCH(m, minibatch_disc_backward, MEM(m), MEM(dout), MEM(dm), m->shape[0], m->shape[1], m->shape[2]);
}
