/* gantry opencl kernels: activation forward and backward.
 *
 * `act` is gantry_activation (0 identity, 1 relu, 2 leaky relu with slope
 * `param`, 3 tanh, 4 sigmoid), the same for every work-item.  The formulas
 * are the reference's, including its NaN behaviour: relu(NaN) = 0 (a failed
 * comparison), and the backward pass multiplies f'(x) by dy, so 0 * Inf is
 * NaN there too.  y may alias x, dx may alias dy. */
#pragma OPENCL FP_CONTRACT OFF

/* The formulas once, for T = float (the tail) and T = floatv (VW floats
 * per work-item, explicit vectors: PoCL's implicit vectorisation across
 * work-items left these 2.5x slower).  Vector ?: selects per component. */
#define ACT_FORWARD(T, v, r)                                                                            \
    switch (act) {                                                                                      \
    case 1: r = v > (T)(0.0f) ? v : (T)(0.0f); break;                                                   \
    case 2: r = v > (T)(0.0f) ? v : param * v; break;                                                   \
    case 3: r = tanh(v); break;                                                                         \
    case 4: { /* sigmoid_f: exp() of -|x| only */                                                       \
        T e_ = exp(-fabs(v));                                                                           \
        r = v >= (T)(0.0f) ? (T)(1.0f) / ((T)(1.0f) + e_) : e_ / ((T)(1.0f) + e_);                      \
        break;                                                                                          \
    }                                                                                                   \
    default: r = v; break;                                                                              \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
act_forward(int act, float param, __global const float *x, ulong xo, __global float *y, ulong yo, ulong n)
{
    x += xo;
    y += yo;
    const size_t nv = n / VW, v = get_global_id(0);
    if (v < nv) {
        floatv xv = VLOAD(v, x), r;
        ACT_FORWARD(floatv, xv, r)
        VSTORE(r, v, y);
    } else {
        const size_t i = nv * VW + (v - nv);
        if (i < n) {
            float xs = x[i], r;
            ACT_FORWARD(float, xs, r)
            y[i] = r;
        }
    }
}

/* f'(x) from x (relu, leaky relu) or from y (tanh, sigmoid), times dy. */
#define ACT_BACKWARD(T, LOAD_X, LOAD_Y, d)                                                              \
    switch (act) {                                                                                      \
    case 1: d = LOAD_X > (T)(0.0f) ? (T)(1.0f) : (T)(0.0f); break;   /* f'(0) = 0 */                    \
    case 2: d = LOAD_X > (T)(0.0f) ? (T)(1.0f) : (T)(param); break;  /* f'(0) = slope, as PyTorch */    \
    case 3: { T t_ = LOAD_Y; d = fma(-t_, t_, (T)(1.0f)); break; }   /* exact t*t: no cancellation */   \
    case 4: { T t_ = LOAD_Y; d = t_ * ((T)(1.0f) - t_); break; }                                        \
    default: d = (T)(1.0f); break;                                                                      \
    }

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
act_backward(int act, float param, __global const float *x, ulong xo, __global const float *y, ulong yo,
             __global const float *dy, ulong dyo, __global float *dx, ulong dxo, ulong n)
{
    x += xo;
    y += yo;
    dy += dyo;
    dx += dxo;
    const size_t nv = n / VW, v = get_global_id(0);
    if (v < nv) {
        floatv d;
        ACT_BACKWARD(floatv, VLOAD(v, x), VLOAD(v, y), d)
        VSTORE(d * VLOAD(v, dy), v, dx);
    } else {
        const size_t i = nv * VW + (v - nv);
        if (i < n) {
            float d;
            ACT_BACKWARD(float, x[i], y[i], d)
            dx[i] = d * dy[i];
        }
    }
}
