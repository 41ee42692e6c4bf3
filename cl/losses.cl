/* gantry opencl kernels: binary cross-entropy on logits against a constant
 * target t.
 *
 * Forward: mean of max(x, 0) - x t + log(1 + exp(-|x|)), through the
 * two-stage sum of reduce.cl.  Backward: dx = k (sigmoid(x) - t) with
 * k = scale / n, written as (1 - t) sigmoid(x) - t sigmoid(-x) so that the
 * difference does not cancel for large |x| (float sigmoid(20) is 1.0). */
#pragma OPENCL FP_CONTRACT OFF

float bce_term(float v, float t)
{
    return ((v > 0.0f ? v : 0.0f) - v * t) + log1p(exp(-fabs(v)));
}

REDUCE_PARTIAL(bce_forward_partial, bce_term)

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
bce_backward(__global const float *x, ulong xo, __global float *dx, ulong dxo, ulong n, float t, float k)
{
    x += xo;
    dx += dxo;
    const size_t i = get_global_id(0);
    if (i < n) {
        float v = x[i], s, sm; /* sigmoid(v), sigmoid(-v) */
        if (v >= 0.0f) {
            float e = exp(-v);
            s = 1.0f / (1.0f + e);
            sm = e / (1.0f + e);
        } else {
            float e = exp(v); /* NaN lands here and stays NaN */
            s = e / (1.0f + e);
            sm = 1.0f / (1.0f + e);
        }
        dx[i] = k * ((1.0f - t) * s - t * sm);
    }
}
