/* Internal to `gantry train`: data-parallel training across the processes
 * of an MPI job (`mpirun -np N gantry train ...`, a build with -Dmpi).
 *
 * Each rank trains the same model on its own backend and device: it draws
 * its share of every global batch (--batch is the global batch) and of the
 * noise, computes gradients on its rows, and before every optimizer step
 * the ranks sum their gradients (MPI_Allreduce, in buckets) and divide by N,
 * so every rank applies the same update.  Rank 0 writes every file.  The
 * ranks compare a hash of their weights every --check-every steps and at
 * every save; a collective that waits longer than --mpi-timeout ends the
 * job (a rank died or hangs) instead of hanging.
 *
 * Without MPI (a build without it, or a process not started by an MPI
 * launcher) every function here is the single-process case: rank 0 of 1,
 * no communication (train_mpi_single.c). */
#ifndef GANTRY_TRAIN_MPI_H
#define GANTRY_TRAIN_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/gan.h"

typedef struct train_session train_session;

/* Options of the MPI runs (cmd_train parses them in any build). */
typedef struct train_mpi_options {
    uint64_t check_every; /* steps between weight-hash comparisons (default 100) */
    double timeout;       /* seconds a rank waits for the others once training runs (default 120) */
} train_mpi_options;

#define TRAIN_MPI_CHECK_EVERY 100
#define TRAIN_MPI_TIMEOUT 120.0

/* MPI_Init when an MPI launcher started this process; an exit code (0 OK). */
int train_mpi_init(const train_mpi_options *o);
/* The exit code of the whole job from this rank's rc (the largest over the
 * ranks), after MPI_Finalize.  Call once, last. */
int train_mpi_end(int rc);
/* Whether this process is one of an MPI job (also with -np 1). */
int train_mpi_on(void);
unsigned train_mpi_rank(void);
unsigned train_mpi_world(void);

/* Collective: this rank's status in, the job's out: the first failing
 * rank's error (its message prefixed with "rank R: " on the other ranks). */
gantry_status train_mpi_agree(gantry_status s);
/* Collective: fn(user) on rank 0, then on the others (a data cache that
 * rank 0 fills, the others read); the job's status. */
gantry_status train_mpi_rank0_first(gantry_status (*fn)(void *user), void *user);
/* Collective: the shard and the gradient hook on t->gan, the loader's
 * shard, a check that every rank runs the same build, model, data and
 * steps, and a line on stderr per rank naming its backend and device. */
gantry_status train_mpi_attach(train_session *t);
/* --sync-bn (t->info.sync_bn) on both networks with `reduce`; NULL: one
 * process's statistics, through the same code (train_prepare.c). */
gantry_status train_sync_bn(train_session *t, gantry_stats_reduce reduce);
/* Collective, after every step: a failed step on any rank other than a
 * diverged one (GANTRY_NUMERIC) ends the job here; the stats become the
 * mean over the ranks, and *interrupted the OR of the ranks' Ctrl-C. */
gantry_status train_mpi_step_end(train_session *t, gantry_status s, gantry_gan_stats *st, int *interrupted);
/* Collective: the buffers (batch norm's running statistics) from rank 0,
 * then the ranks' weight hashes compared; `step` names the check. */
gantry_status train_mpi_sync(train_session *t, uint64_t step);
/* Whether the weights are compared after step `done` (every --check-every). */
int train_mpi_check_due(uint64_t done);
/* The gradient exchange for the run's summary (rank 0): bytes and time per
 * step into buf; "" without MPI. */
const char *train_mpi_summary(uint64_t steps, char *buf, size_t size);

#endif
