/* The summation order the host backends (reference and cpu) share for the
 * per-channel reductions of batch norm and bias gradients, so that the cpu
 * backend can vectorise them and still return the reference's bits.
 *
 * A channel's values come as contiguous runs (one per image of NCHW data).
 * Each run is summed in double over 8 lanes, value i into lane i % 8, the
 * lanes combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)); the
 * channel's total adds the runs' sums in order.  Eight independent chains
 * instead of one: a single serial double sum waits on the adder's latency
 * for every value (it was 6% of a DCGAN training step).  A run of one value
 * sums to that value, so [N, C] data keeps the plain serial order. */
#ifndef GANTRY_BACKENDS_LANE_SUMS_H
#define GANTRY_BACKENDS_LANE_SUMS_H

#include <stddef.h>

#define GANTRY_LANES 8

static inline double gantry_lanes_combine(const double l[GANTRY_LANES])
{
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* sum of x[0..n) */
static inline double gantry_run_sum(const float *x, size_t n)
{
    double l[GANTRY_LANES] = { 0.0 };
    size_t i = 0;
    for (; i + GANTRY_LANES <= n; i += GANTRY_LANES)
        for (size_t j = 0; j < GANTRY_LANES; j++)
            l[j] += x[i + j];
    for (size_t j = 0; i + j < n; j++)
        l[j] += x[i + j];
    return gantry_lanes_combine(l);
}

/* sum of (x[i] - mean)^2 */
static inline double gantry_run_sum_sqdev(const float *x, size_t n, double mean)
{
    double l[GANTRY_LANES] = { 0.0 };
    size_t i = 0;
    for (; i + GANTRY_LANES <= n; i += GANTRY_LANES)
        for (size_t j = 0; j < GANTRY_LANES; j++) {
            double d = x[i + j] - mean;
            l[j] += d * d;
        }
    for (size_t j = 0; i + j < n; j++) {
        double d = x[i + j] - mean;
        l[j] += d * d;
    }
    return gantry_lanes_combine(l);
}

/* Batch norm backward's two sums over x[0..n) into lanes a and b, n a
 * multiple of GANTRY_LANES unless it is a run's last piece: a run summed
 * in such pieces gives the sums of one call. */
static inline void gantry_run_lanes_bn_grad(const float *x, const float *dy, size_t n, double mean, double invstd,
                                            double a[GANTRY_LANES], double b[GANTRY_LANES])
{
    size_t i = 0;
    for (; i + GANTRY_LANES <= n; i += GANTRY_LANES)
        for (size_t j = 0; j < GANTRY_LANES; j++) {
            double xhat = (x[i + j] - mean) * invstd;
            a[j] += dy[i + j];
            b[j] += dy[i + j] * xhat;
        }
    for (size_t j = 0; i + j < n; j++) {
        double xhat = (x[i + j] - mean) * invstd;
        a[j] += dy[i + j];
        b[j] += dy[i + j] * xhat;
    }
}

/* Batch norm backward's two sums: *sdy += sum dy[i], *sdyx += sum dy[i] xhat[i]
 * with xhat = (x - mean) invstd. */
static inline void gantry_run_sum_bn_grad(const float *x, const float *dy, size_t n, double mean, double invstd,
                                          double *sdy, double *sdyx)
{
    double a[GANTRY_LANES] = { 0.0 }, b[GANTRY_LANES] = { 0.0 };
    gantry_run_lanes_bn_grad(x, dy, n, mean, invstd, a, b);
    *sdy += gantry_lanes_combine(a);
    *sdyx += gantry_lanes_combine(b);
}

#endif
