/* gantry reference backend: Philox4x32-10 fills (gantry/philox.h) and
 * dropout masks. */
#include "gantry/philox.h"

#include "reference_impl.h"

gantry_status ref_rand_uniform(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float lo,
                               float hi)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++)
        xp[i] = gantry_philox_uniform(seed, offset, i, lo, hi);
    return GANTRY_OK;
}

gantry_status ref_rand_normal(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float mean,
                              float std)
{
    (void)ctx;
    float *xp = ref_f(x);
    for (size_t i = 0; i < n; i++)
        xp[i] = gantry_philox_normal(seed, offset, i, mean, std);
    return GANTRY_OK;
}

gantry_status ref_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset)
{
    (void)ctx;
    float *mp = ref_f(mask);
    const float keep = (float)(1.0 / (1.0 - (double)p));
    for (size_t i = 0; i < n; i++)
        mp[i] = gantry_philox_uniform(seed, offset, i, 0.0f, 1.0f) >= p ? keep : 0.0f;
    return GANTRY_OK;
}
