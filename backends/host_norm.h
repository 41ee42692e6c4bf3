/* Virtual batch norm's per-example arithmetic (backend.h, vbn_forward and
 * vbn_backward), shared by the host backends (reference and cpu) so that
 * they agree bit for bit: the sums over one example's plane of `inner`
 * values of a channel, in double, in index order, from 0.0. */
#ifndef GANTRY_BACKENDS_HOST_NORM_H
#define GANTRY_BACKENDS_HOST_NORM_H

#include <math.h>
#include <stddef.h>

typedef struct host_vbn_stats {
    double mean, invstd;
} host_vbn_stats;

/* The plane's statistics together with the reference batch's: ref_count
 * values of mean ref_mean, ref_invstd = 1/sqrt(var_r + eps). */
static inline host_vbn_stats host_vbn_plane_stats(const float *x, size_t inner, float ref_mean, float ref_invstd,
                                                  size_t ref_count, float eps)
{
    const double r = (double)ref_count, n = r + (double)inner;
    double s = 0.0, q = 0.0;
    for (size_t i = 0; i < inner; i++) { /* in order: no simd reduction */
        s += x[i];
        q += (double)x[i] * (double)x[i];
    }
    const double rmean = ref_mean, rvar = 1.0 / ((double)ref_invstd * (double)ref_invstd) - (double)eps;
    host_vbn_stats st;
    st.mean = (r * rmean + s) / n;
    double var = (r * (rvar + rmean * rmean) + q) / n - st.mean * st.mean;
    if (var < 0.0)
        var = 0.0;
    st.invstd = 1.0 / sqrt(var + (double)eps);
    return st;
}

typedef struct host_vbn_grad_sums {
    double dy, dy_xhat;
} host_vbn_grad_sums;

/* The plane's sum of dy and of dy xhat, xhat = (x - mean) invstd. */
static inline host_vbn_grad_sums host_vbn_plane_grad_sums(const float *x, const float *dy, size_t inner, double mean,
                                                          double invstd)
{
    host_vbn_grad_sums s = { 0.0, 0.0 };
    for (size_t i = 0; i < inner; i++) { /* in order: no simd reduction */
        double xhat = ((double)x[i] - mean) * invstd;
        s.dy += dy[i];
        s.dy_xhat += (double)dy[i] * xhat;
    }
    return s;
}

#endif
