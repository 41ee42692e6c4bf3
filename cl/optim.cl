/* gantry opencl kernels: SGD, Adam and RMSprop updates (torch.optim
 * formulas, foreach off).  The gradient is never written: weight decay goes
 * into a local g.  Step-dependent constants come from the host (computed
 * in double there): Adam's step_size = lr / (1 - beta1^step) and
 * sqrt_bc2 = sqrt(1 - beta2^step). */
#pragma OPENCL FP_CONTRACT OFF

/* Each kernel: a vector of VW floats per work-item (explicit vectors: 2.4x
 * faster than scalar code on PoCL), the n % VW tail element-wise; the
 * update formula once, as a macro over the type T. */
#define VECTOR_OR_TAIL(BODY)                                                                            \
    const size_t nv_ = n / VW, wi_ = get_global_id(0);                                                 \
    if (wi_ < nv_) {                                                                                    \
        BODY(floatv, VLOAD, VSTORE, wi_)                                                                \
    } else if (nv_ * VW + (wi_ - nv_) < n) {                                                            \
        const size_t i_ = nv_ * VW + (wi_ - nv_);                                                       \
        BODY(float, SLOAD, SSTORE, i_)                                                                  \
    }

#define SLOAD(i, p) ((p)[i])
#define SSTORE(x, i, p) ((p)[i] = (x))

#define SGD_BODY(T, LOAD, STORE, i)                                                                     \
    T gi = LOAD(i, g);                                                                                  \
    const T pi = LOAD(i, p);                                                                            \
    if (weight_decay != 0.0f)                                                                           \
        gi = gi + weight_decay * pi;                                                                    \
    T step = gi;                                                                                        \
    if (use_v) {                                                                                        \
        step = momentum * LOAD(i, v) + gi;                                                              \
        STORE(step, i, v);                                                                              \
    }                                                                                                   \
    STORE(pi - lr * step, i, p);

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
sgd_update(__global float *p, ulong po, __global const float *g, ulong go, __global float *v, ulong vo, ulong n,
           float lr, float momentum, float weight_decay, int use_v)
{
    p += po;
    g += go;
    v += vo;
    VECTOR_OR_TAIL(SGD_BODY)
}

/* The stored (float) moments drive the step, as in PyTorch. */
#define ADAM_BODY(T, LOAD, STORE, i)                                                                    \
    T gi = LOAD(i, g);                                                                                  \
    const T pi = LOAD(i, p);                                                                            \
    if (weight_decay != 0.0f)                                                                           \
        gi = gi + weight_decay * pi;                                                                    \
    const T mi = beta1 * LOAD(i, m) + one_minus_beta1 * gi;                                             \
    const T vi = beta2 * LOAD(i, v) + one_minus_beta2 * gi * gi;                                        \
    STORE(mi, i, m);                                                                                    \
    STORE(vi, i, v);                                                                                    \
    const T denom = sqrt(vi) / sqrt_bc2 + eps;                                                          \
    STORE(pi - step_size * mi / denom, i, p);

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
adam_update(__global float *p, ulong po, __global const float *g, ulong go, __global float *m, ulong mo,
            __global float *v, ulong vo, ulong n, float beta1, float beta2, float one_minus_beta1,
            float one_minus_beta2, float step_size, float sqrt_bc2, float eps, float weight_decay)
{
    p += po;
    g += go;
    m += mo;
    v += vo;
    VECTOR_OR_TAIL(ADAM_BODY)
}

#define RMSPROP_BODY(T, LOAD, STORE, i)                                                                 \
    T gi = LOAD(i, g);                                                                                  \
    const T pi = LOAD(i, p);                                                                            \
    if (weight_decay != 0.0f)                                                                           \
        gi = gi + weight_decay * pi;                                                                    \
    const T si = alpha * LOAD(i, sq) + one_minus_alpha * gi * gi;                                       \
    STORE(si, i, sq);                                                                                   \
    STORE(pi - lr * gi / (sqrt(si) + eps), i, p);

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void
rmsprop_update(__global float *p, ulong po, __global const float *g, ulong go, __global float *sq, ulong so, ulong n,
               float lr, float alpha, float one_minus_alpha, float eps, float weight_decay)
{
    p += po;
    g += go;
    sq += so;
    VECTOR_OR_TAIL(RMSPROP_BODY)
}
