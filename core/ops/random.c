/* Checked ops of the random family: Philox fills and dropout masks. */
#include "core/ops/ops_check.h"

gantry_status gantry_op_rand_uniform(gantry_tensor *x, uint64_t seed, uint64_t offset, float lo, float hi)
{
    CHECK_TENSORS("rand_uniform", "x", x);
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "rand_uniform: bounds [%g, %g] are not a finite range",
                                (double)lo, (double)hi);
    return DISPATCH(x, rand_uniform, MEM(x), x->numel, seed, offset, lo, hi);
}

gantry_status gantry_op_rand_normal(gantry_tensor *x, uint64_t seed, uint64_t offset, float mean, float std)
{
    CHECK_TENSORS("rand_normal", "x", x);
    GANTRY_TRY(check_finite("rand_normal", "mean", mean));
    if (!(std >= 0.0f) || !isfinite(std))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "rand_normal: std = %g must be >= 0", (double)std);
    return DISPATCH(x, rand_normal, MEM(x), x->numel, seed, offset, mean, std);
}

gantry_status gantry_op_dropout_mask(gantry_tensor *mask, float p, uint64_t seed, uint64_t offset)
{
    static const char op[] = "dropout_mask";
    CHECK_TENSORS(op, "mask", mask);
    if (!(p >= 0.0f && p < 1.0f))
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "%s: p = %g outside [0, 1)", op, (double)p);
    return DISPATCH(mask, dropout_mask, MEM(mask), mask->numel, p, seed, offset);
}
