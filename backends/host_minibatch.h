/* Minibatch discrimination's similarity, shared by the host backends
 * (reference and cpu) so that they agree bit for bit. */
#ifndef GANTRY_BACKENDS_HOST_MINIBATCH_H
#define GANTRY_BACKENDS_HOST_MINIBATCH_H

#include <math.h>
#include <stddef.h>

/* exp(-L1 distance) between rows mi and mj of c values, the distance
 * summed in double in index order. */
static inline double host_mbd_similarity(const float *mi, const float *mj, size_t c)
{
    double d = 0.0;
    for (size_t l = 0; l < c; l++)
        d += fabs((double)mi[l] - (double)mj[l]);
    return exp(-d);
}

#endif
