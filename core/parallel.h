/* gantry internal: run one task per index on every core. */
#ifndef GANTRY_CORE_PARALLEL_H
#define GANTRY_CORE_PARALLEL_H

#include <stddef.h>

#include "gantry/data.h"

typedef void (*gantry__task_fn)(void *ctx, size_t index);

/* How many threads `threads` means: itself when > 0, else one per online
 * core. */
int gantry__thread_count(int threads);

/* Runs task(ctx, i) for every i in [0, n) on up to `threads` threads (see
 * gantry__thread_count), each index exactly once, and returns when all
 * have run.  Tasks must only touch what belongs to their index, so the
 * result cannot depend on the thread count.  When `opts` has a progress
 * callback, it is called on this thread about ten times a second and once
 * at the end with (done_before + tasks done, total).  Threads that cannot
 * be started leave their share to the others, down to this thread alone. */
void gantry__parallel_for(size_t n, int threads, gantry__task_fn task, void *ctx, const gantry_data_options *opts,
                          size_t done_before, size_t total);

#endif
