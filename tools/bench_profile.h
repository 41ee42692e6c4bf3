/* Internal to `gantry bench --profile`: the op-by-op table of profiled
 * training steps. */
#ifndef GANTRY_BENCH_PROFILE_H
#define GANTRY_BENCH_PROFILE_H

#include <stdint.h>

/* Prints the profiler's table (gantry_profile_read) for `steps` profiled
 * steps that took step_ms on average: ops by time spent, per step.  With
 * json, the value of a "profile" key (no newline). */
void bench_profile_print(uint64_t steps, double step_ms, int json);

#endif
