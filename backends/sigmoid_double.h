/* The logistic function in double, as the host backends (reference and
 * cpu) compute it for the sigmoid activation and the gradient of BCE with
 * logits, so that they agree bit for bit.  It calls libm's exp(), which
 * the reference's results depend on (unlike tanh_double.h, it does not
 * vectorise). */
#ifndef GANTRY_BACKENDS_SIGMOID_DOUBLE_H
#define GANTRY_BACKENDS_SIGMOID_DOUBLE_H

#include <math.h>

static inline double gantry_sigmoid_double(double x)
{
    /* Both branches avoid exp() of a large positive argument. */
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

#endif
