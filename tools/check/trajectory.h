/* The training trajectory of `gantry check`: a GAN trained from one seed
 * on the reference and on the backend under test, its losses compared step
 * by step (tools/check/trajectory.c).  tests/test_trajectory.c uses it
 * directly. */
#ifndef GANTRY_TOOLS_CHECK_TRAJECTORY_H
#define GANTRY_TOOLS_CHECK_TRAJECTORY_H

#include <stdint.h>

#include "gantry/status.h"
#include "gantry/tensor.h"

/* The GAN trained from one seed on both backends. */
typedef struct check_traj_step {
    double d_loss[2], g_loss[2]; /* [0] reference, [1] backend under test */
} check_traj_step;

typedef struct check_traj {
    size_t state_tensors, state_values;
    size_t state_mismatches;   /* values of the initial state that differ in bits */
    char first_mismatch[128];  /* the state entry that differs first */
    unsigned steps;
    check_traj_step step[64];
} check_traj;

#define CHECK_TRAJ_STEPS 20
#define CHECK_TRAJ_STEPS_QUICK 5
#define CHECK_TRAJ_SEED 20140610u
/* dcgan's trajectory: --width and batch. */
#define CHECK_TRAJ_CONV_WIDTH 8
#define CHECK_TRAJ_CONV_BATCH 16

/* The reference's losses of one seed: training the reference is most of the
 * time `gantry check` takes, and it is the same for every backend. */
typedef struct check_traj_cache {
    uint64_t seed;
    unsigned steps; /* valid entries */
    double d_loss[64], g_loss[64];
} check_traj_cache;

/* Called after each training step (1-based) when not NULL. */
typedef void (*check_traj_progress_fn)(void *user, unsigned step);

/* Builds the GAN of gantry_gan_defaults("gan") with batch 64 on both
 * backends, compares the initial state bit for bit, then trains `steps`
 * (<= 64) steps on synthetic Philox data in [-1, 1].  With a `cache` that
 * holds the steps of this seed the reference is not trained again; without
 * one (NULL, or too few steps) it is, and the cache receives its losses. */
gantry_status check_trajectory(gantry_backend *ref, gantry_backend *test, unsigned steps, uint64_t seed,
                               check_traj_cache *cache, check_traj *out, check_traj_progress_fn progress,
                               void *user);
/* As check_trajectory for another model of gantry_gan_defaults; conv
 * models are built CHECK_TRAJ_CONV_WIDTH wide with batch
 * CHECK_TRAJ_CONV_BATCH, and do not use the cache. */
gantry_status check_trajectory_model(gantry_backend *ref, gantry_backend *test, const char *model, unsigned steps,
                                     uint64_t seed, check_traj_cache *cache, check_traj *out,
                                     check_traj_progress_fn progress, void *user);
/* Relative loss difference allowed at step k (1-based). */
double check_trajectory_limit(unsigned step);
/* |a - b| / |b| (|a - b| when b is 0; infinite when either is not finite). */
double check_rel_diff(double a, double b);

#endif
