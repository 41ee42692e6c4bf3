/* gantry: the Philox4x32-10 counter-based generator (Salmon et al., SC'11).
 *
 * Header-only so that the core and every backend, including third-party
 * modules, draw exactly the same numbers for the same (seed, offset).
 *
 * Stream layout, which every backend must reproduce:
 *   key     = { seed & 0xffffffff, seed >> 32 }
 *   counter = { block & 0xffffffff, block >> 32, 0, 0 }
 *   uniform element i of a fill at `offset` uses block offset + i/4, word i%4,
 *           u = (word >> 8) * 2^-24 in [0, 1), value = lo + (hi - lo) * u
 *           evaluated in float without contraction;
 *   normal  element i uses block offset + i/2, words 2*(i%2) and 2*(i%2)+1 as
 *           u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1], u2 = (w1 >> 8) * 2^-24,
 *           value = mean + std * sqrt(-2 ln u1) * cos(2 pi u2).
 * A fill of n elements therefore consumes gantry_philox_uniform_blocks(n) or
 * gantry_philox_normal_blocks(n) counter blocks; callers advance their offset
 * by that much so successive draws never overlap. */
#ifndef GANTRY_PHILOX_H
#define GANTRY_PHILOX_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gantry_philox_block {
    uint32_t v[4];
} gantry_philox_block;

static inline gantry_philox_block gantry_philox4x32_10(uint64_t seed, uint64_t block)
{
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    gantry_philox_block out = { { c0, c1, c2, c3 } };
    return out;
}

static inline float gantry_philox_u01(uint32_t word)
{
    return (float)(word >> 8) * (1.0f / 16777216.0f);
}

/* (0, 1]: safe for a logarithm. */
static inline float gantry_philox_u01_open(uint32_t word)
{
    return (float)((word >> 8) + 1u) * (1.0f / 16777216.0f);
}

static inline uint64_t gantry_philox_uniform_blocks(size_t n)
{
    return ((uint64_t)n + 3) / 4;
}

static inline uint64_t gantry_philox_normal_blocks(size_t n)
{
    return ((uint64_t)n + 1) / 2;
}

static inline float gantry_philox_uniform(uint64_t seed, uint64_t offset, size_t i, float lo, float hi)
{
    gantry_philox_block b = gantry_philox4x32_10(seed, offset + i / 4);
    float u = gantry_philox_u01(b.v[i % 4]);
    float span = hi - lo;
    float scaled = span * u;
    return lo + scaled;
}

/* The normal drawn from words w and w + 1 (w = 0 or 2) of a block. */
static inline float gantry_philox_normal_of(const gantry_philox_block *b, unsigned w, float mean, float std)
{
    double u1 = gantry_philox_u01_open(b->v[w]);
    double u2 = gantry_philox_u01(b->v[w + 1]);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    return (float)(mean + std * z);
}

static inline float gantry_philox_normal(uint64_t seed, uint64_t offset, size_t i, float mean, float std)
{
    gantry_philox_block b = gantry_philox4x32_10(seed, offset + i / 2);
    return gantry_philox_normal_of(&b, (unsigned)(i % 2) * 2, mean, std);
}

#endif
