/* backends/tanh_double.h, the vectorisable tanh the reference and cpu
 * backends share, against libm's tanh: on a sample of every float in
 * [-25, 25] (every 61st bit pattern, both signs) the results rounded to
 * float must be libm's, and the double results within 8 ulps of libm's.
 * (The whole range, every float, was checked once by hand: no float differs,
 * at most 4 ulps in double.)  Plus the special values. */
#include <stdint.h>

#include "../backends/tanh_double.h"
#include "test.h"

static double ulps_apart(double a, double b)
{
    if (a == b)
        return 0.0;
    double ulp = nextafter(fabs(b), INFINITY) - fabs(b);
    return fabs(a - b) / ulp;
}

static void test_sampled_floats(void)
{
    long checked = 0, float_differs = 0;
    double worst = 0.0;
    float worst_x = 0.0f;
    for (uint32_t u = 0; u < 0x41c80000u; u += 61) { /* 0x41c80000 = 25.0f */
        float f;
        memcpy(&f, &u, sizeof f);
        for (int s = 0; s < 2; s++) {
            float x = s ? -f : f;
            double ours = gantry_tanh_double((double)x), libm = tanh((double)x);
            double d = ulps_apart(ours, libm);
            if (d > worst) {
                worst = d;
                worst_x = x;
            }
            float_differs += (float)ours != (float)libm || signbit(ours) != signbit(libm);
            checked++;
        }
    }
    printf("tanh_double: %ld floats, worst %.2f double ulps (at %.9g), %ld float results differ\n", checked, worst,
           (double)worst_x, float_differs);
    CHECK(checked > 30000000);
    CHECK(worst <= 8.0);
    CHECK(float_differs == 0);
}

static void test_special_values(void)
{
    CHECK(isnan(gantry_tanh_double(NAN)));
    CHECK(gantry_tanh_double(INFINITY) == 1.0);
    CHECK(gantry_tanh_double(-INFINITY) == -1.0);
    CHECK(gantry_tanh_double(0.0) == 0.0 && !signbit(gantry_tanh_double(0.0)));
    CHECK(gantry_tanh_double(-0.0) == 0.0 && signbit(gantry_tanh_double(-0.0)));
    CHECK(gantry_tanh_double(22.0) == 1.0 && gantry_tanh_double(-1e30) == -1.0);
    CHECK(gantry_tanh_double(1e-300) == 1e-300); /* tanh(x) = x below half an ulp's worth of x^3/3 */
    CHECK(gantry_tanh_double(0x1p-1074) == 0x1p-1074);
    CHECK(ulps_apart(gantry_tanh_double(0.5), tanh(0.5)) <= 4.0);
}

int main(void)
{
    test_sampled_floats();
    test_special_values();
    return test_finish("test_tanh_double");
}
