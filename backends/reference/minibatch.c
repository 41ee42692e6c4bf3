/* gantry reference backend: minibatch discrimination (Salimans et al.
 * 2016). */
#include "reference_impl.h"

#include "../host_minibatch.h"

/* exp(-L1 distance) between rows i and j of kernel k. */
static double mbd_similarity(const float *mp, size_t i, size_t j, size_t k, size_t b, size_t c)
{
    return host_mbd_similarity(mp + (i * b + k) * c, mp + (j * b + k) * c, c);
}

gantry_status ref_minibatch_disc_forward(void *ctx, gantry_mem m, gantry_mem o, size_t n, size_t b, size_t c)
{
    (void)ctx;
    const float *mp = ref_cf(m);
    float *op = ref_f(o);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++) {
            double acc = 0.0;
            for (size_t j = 0; j < n; j++)
                acc += mbd_similarity(mp, i, j, k, b, c);
            op[i * b + k] = (float)acc;
        }
    return GANTRY_OK;
}

gantry_status ref_minibatch_disc_backward(void *ctx, gantry_mem m, gantry_mem dout, gantry_mem dm, size_t n, size_t b,
                                          size_t c)
{
    (void)ctx;
    const float *mp = ref_cf(m), *dp = ref_cf(dout);
    float *dmp = ref_f(dm);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < b; k++)
            for (size_t l = 0; l < c; l++) {
                double acc = 0.0;
                double mil = mp[(i * b + k) * c + l];
                for (size_t j = 0; j < n; j++) {
                    double diff = mil - (double)mp[(j * b + k) * c + l];
                    if (diff == 0.0)
                        continue;
                    double e = mbd_similarity(mp, i, j, k, b, c);
                    acc -= ((double)dp[i * b + k] + (double)dp[j * b + k]) * e * (diff > 0.0 ? 1.0 : -1.0);
                }
                dmp[(i * b + k) * c + l] = (float)acc;
            }
    return GANTRY_OK;
}
