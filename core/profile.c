/* Op-by-op timing for gantry_profile_enable (ops.h): the dispatch of every
 * op (ops.c) and tensor transfer (tensor.c) goes through
 * gantry__profile_mark / gantry__profile_end, which cost one branch each
 * while profiling is off. */
#include <string.h>
#include <time.h>

#include "core/profile.h"
#include "gantry/ops.h"

#define MAX_OPS 64

static int active;
static gantry_op_time table[MAX_OPS];
static size_t entries;
static struct timespec started; /* by the last mark; ops do not nest */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

void gantry__profile_mark(void)
{
    if (active)
        clock_gettime(CLOCK_MONOTONIC, &started);
}

gantry_status gantry__profile_end(gantry_backend *be, const char *op, gantry_status s)
{
    if (!active)
        return s;
    if (!s)
        s = gantry_backend_synchronize(be);
    double spent = seconds_since(&started);
    size_t i = 0;
    while (i < entries && strcmp(table[i].op, op) != 0) /* op names are the callers' literals */
        i++;
    if (i == entries && entries < MAX_OPS)
        table[entries++] = (gantry_op_time){ .op = op };
    if (i < entries) {
        table[i].calls++;
        table[i].seconds += spent;
    }
    return s;
}

void gantry_profile_enable(int on)
{
    if (on)
        entries = 0;
    active = on != 0;
}

size_t gantry_profile_read(gantry_op_time *out, size_t cap)
{
    for (size_t i = 0; out && i < entries && i < cap; i++)
        out[i] = table[i];
    return entries;
}
