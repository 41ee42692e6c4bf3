/* `gantry bench --profile`: where a training step goes, op by op. */
#include <stdio.h>
#include <stdlib.h>

#include "gantry/ops.h"
#include "tools/bench_profile.h"

#define MAX_ROWS 64

static int by_time(const void *a, const void *b)
{
    double x = ((const gantry_op_time *)a)->seconds, y = ((const gantry_op_time *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

void bench_profile_print(uint64_t steps, double step_ms, int json)
{
    gantry_op_time rows[MAX_ROWS];
    size_t n = gantry_profile_read(rows, MAX_ROWS);
    if (n > MAX_ROWS)
        n = MAX_ROWS;
    qsort(rows, n, sizeof *rows, by_time);
    double per = steps ? 1e3 / (double)steps : 0.0, ops_ms = 0.0;
    for (size_t i = 0; i < n; i++)
        ops_ms += rows[i].seconds * per;
    if (json) {
        printf("{\"steps\": %llu, \"ms_per_step\": %.6g, \"ops_ms_per_step\": %.6g, \"ops\": [",
               (unsigned long long)steps, step_ms, ops_ms);
        for (size_t i = 0; i < n; i++)
            printf("%s{\"op\": \"%s\", \"calls_per_step\": %.6g, \"ms_per_step\": %.6g, \"share\": %.6g}",
                   i ? ", " : "", rows[i].op, (double)rows[i].calls / (double)steps, rows[i].seconds * per,
                   ops_ms > 0 ? rows[i].seconds * per / ops_ms : 0.0);
        printf("]}");
        return;
    }
    printf("\nprofile:  %llu more steps, every op timed to its end (synchronised): %.3f ms/step,\n"
           "          of which the ops %.3f ms and the core's own work the rest (means)\n\n",
           (unsigned long long)steps, step_ms, ops_ms);
    printf("%-28s %10s %10s %7s\n", "op", "calls/step", "ms/step", "share");
    for (size_t i = 0; i < n; i++)
        printf("%-28s %10.1f %10.3f %6.1f%%\n", rows[i].op, (double)rows[i].calls / (double)steps,
               rows[i].seconds * per, ops_ms > 0 ? 100.0 * rows[i].seconds * per / ops_ms : 0.0);
}
