/* The grids `gantry check` draws its cases from where several families
 * share them, each a full grid and a quick one: sizes of 1-D ops, sizes of
 * reductions to one scalar, and [outer, channels, h, w] shapes of the
 * per-channel ops.  Each has a count of points (a row's `points`) and the
 * point at a number. */
#ifndef GANTRY_TOOLS_CHECK_GRID_H
#define GANTRY_TOOLS_CHECK_GRID_H

#include <stddef.h>

#include "tools/check/harness.h"

/* 1, primes, one off powers of two, and up to 512 x 257. */
size_t check_size_points(const check_suite *s);
size_t check_size_at(const check_suite *s, size_t at);

/* The 1-D sizes, and in the full grid 10^6 + 3 as well. */
size_t check_reduction_points(const check_suite *s);
size_t check_reduction_at(const check_suite *s, size_t at);

/* [outer, channels, h, w]; h = w = 0 means 2-D [outer, channels]. */
typedef struct check_nchw {
    size_t n, c, h, w;
} check_nchw;

size_t check_channel_points(const check_suite *s);
check_nchw check_channel_at(const check_suite *s, size_t at);

/* A row's grid (check_spec's points and variants): the 1-D sizes, the
 * reductions' sizes or the channel shapes, `v` variants at each point. */
#define CHECK_SIZES(v) .points = check_size_points, .variants = (v)
#define CHECK_REDUCTIONS(v) .points = check_reduction_points, .variants = (v)
#define CHECK_CHANNELS(v) .points = check_channel_points, .variants = (v)

size_t check_nchw_inner(check_nchw d);
size_t check_nchw_numel(check_nchw d);
/* c->desc: NAME "[n, c, h, w]" or NAME "[n, c]", then `fmt` with its
 * arguments. */
void check_nchw_desc(check_case *c, const char *name, check_nchw d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
float *check_arg_nchw(check_case *c, const char *name, int out, check_nchw d);

#endif
