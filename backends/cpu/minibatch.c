/* gantry cpu backend: minibatch discrimination (Salimans et al. 2016).
 *
 * Samples i run in parallel; every L1 distance, exponential and sum over j
 * is computed in the reference's order, so the result is its bits on any
 * thread count.  The backward computes e_ijk once per (i, k, j) instead of
 * once per l (the same value) and accumulates each dm element over j
 * ascending.
 *
 * This file must never be built with -ffast-math or -ffp-contract=fast. */
#include "../host_minibatch.h"
#include "cpu_impl.h"

/* minibatch_disc_backward accumulates at most this many of the c
 * dimensions at a time (doubles on the stack). */
#define MBD_TILE 64

gantry_status cpu_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t c)
{
    const cpu_ctx *cx = ctx;
    const float *mp = cpu_cf(m);
    float *op = cpu_f(o);
    int t = cpu_threads_for(cx, n * n * b * c, CPU_GRAIN);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++) {
            const float *mi = mp + (i * b + k) * c;
            double acc = 0.0;
            for (size_t j = 0; j < n; j++)
                acc += host_mbd_similarity(mi, mp + (j * b + k) * c, c);
            op[i * b + k] = (float)acc;
        }
    return GANTRY_OK;
}

gantry_status cpu_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t c)
{
    const cpu_ctx *cx = ctx;
    const float *mp = cpu_cf(m), *dp = cpu_cf(dout);
    float *dmp = cpu_f(dm);
    int t = cpu_threads_for(cx, n * n * b * c, CPU_GRAIN / 2);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++) {
            const float *mi = mp + (i * b + k) * c;
            const double dpi = dp[i * b + k];
            for (size_t l0 = 0; l0 < c; l0 += MBD_TILE) {
                const size_t len = cpu_min_size(MBD_TILE, c - l0);
                double acc[MBD_TILE];
                for (size_t l = 0; l < len; l++)
                    acc[l] = 0.0;
                for (size_t j = 0; j < n; j++) {
                    const float *mj = mp + (j * b + k) * c;
                    const double w = dpi + (double)dp[j * b + k];
                    const double e = host_mbd_similarity(mi, mj, c);
                    for (size_t l = 0; l < len; l++) {
                        double diff = (double)mi[l0 + l] - (double)mj[l0 + l];
                        if (diff == 0.0)
                            continue;
                        acc[l] -= w * e * (diff > 0.0 ? 1.0 : -1.0);
                    }
                }
                for (size_t l = 0; l < len; l++)
                    dmp[(i * b + k) * c + l0 + l] = (float)acc[l];
            }
        }
    return GANTRY_OK;
}
