/* gantry cpu backend: Philox4x32-10 fills, bit-identical to the reference.
 *
 * Every element depends only on (seed, offset, its index), so the fills
 * split into independent ranges per thread.  Uniform fills generate each
 * counter block once for its four elements and apply gantry/philox.h's
 * float formula, written as the header writes it (u, span, scaled, lo +
 * scaled, each rounded to float; ISO C mode contracts nothing); normal
 * fills draw each block once for its two elements, through the header's
 * gantry_philox_normal_of, as the reference's gantry_philox_normal does.
 * Dropout masks draw their uniforms in [0, 1) as the uniform fills do.
 *
 * This file must never be built with -ffast-math or -ffp-contract=fast. */
#include "gantry/philox.h"

#include "cpu_impl.h"

/* The header's gantry_philox_uniform, for one word of a block already drawn. */
static inline float uniform_of(uint32_t word, float lo, float hi)
{
    float u = gantry_philox_u01(word);
    float span = hi - lo;
    float scaled = span * u;
    return lo + scaled;
}

gantry_status cpu_rand_uniform(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float lo, float hi)
{
    const cpu_ctx *c = ctx;
    float *xp = cpu_f(x);
    const size_t blocks = (n + 3) / 4;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 8);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        gantry_philox_block b = gantry_philox4x32_10(seed, offset + blk);
        size_t i0 = blk * 4, end = n - i0 < 4 ? n - i0 : 4;
        for (size_t w = 0; w < end; w++)
            xp[i0 + w] = uniform_of(b.v[w], lo, hi);
    }
    return GANTRY_OK;
}

gantry_status cpu_rand_normal(void *ctx, gantry_mem x, size_t n, uint64_t seed, uint64_t offset, float mean,
                              float std)
{
    const cpu_ctx *c = ctx;
    float *xp = cpu_f(x);
    const size_t blocks = (n + 1) / 2;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 16);
    /* each block drawn once for its two elements */
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        gantry_philox_block b = gantry_philox4x32_10(seed, offset + blk);
        xp[2 * blk] = gantry_philox_normal_of(&b, 0, mean, std);
        if (2 * blk + 1 < n)
            xp[2 * blk + 1] = gantry_philox_normal_of(&b, 2, mean, std);
    }
    return GANTRY_OK;
}

gantry_status cpu_dropout_mask(void *ctx, gantry_mem mask, size_t n, float p, uint64_t seed, uint64_t offset)
{
    const cpu_ctx *c = ctx;
    float *mp = cpu_f(mask);
    const float keep = (float)(1.0 / (1.0 - (double)p));
    const size_t blocks = (n + 3) / 4;
    int t = cpu_threads_for(c, n, CPU_GRAIN / 8);
#pragma omp parallel for num_threads(t) if (parallel : t > 1) schedule(static)
    for (size_t blk = 0; blk < blocks; blk++) {
        gantry_philox_block b = gantry_philox4x32_10(seed, offset + blk);
        size_t i0 = blk * 4, end = n - i0 < 4 ? n - i0 : 4;
        for (size_t w = 0; w < end; w++) /* gantry_philox_uniform(seed, offset, i0 + w, 0, 1) */
            mp[i0 + w] = uniform_of(b.v[w], 0.0f, 1.0f) >= p ? keep : 0.0f;
    }
    return GANTRY_OK;
}
