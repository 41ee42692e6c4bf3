/* The shared grids of `gantry check` (tools/check/grid.h).
 *
 * Shapes: 1, primes (7, 13, 31, 127), sizes one off powers of two (15, 17,
 * 33, 63, 65, 129, 255, 257, ...), so nothing is a multiple of a tile or a
 * vector width, plus batch 1 and batch 512. */
#include <stdarg.h>
#include <stdio.h>

#include "tools/check/grid.h"

/* The last size only for reductions: 10^6 terms. */
static const size_t sizes_full[] = { 1,   2,   3,   4,   5,    7,    8,     9,     13,                     15,
                                     16,  17,  31,  32,  33,   63,   64,    65,    127,                    128,
                                     129, 255, 256, 257, 1021, 4099, 65537, 131584 /* 512 x 257 */, 1000003 };
static const size_t sizes_quick[] = { 1, 7, 13, 33, 129, 4099 };

size_t check_reduction_points(const check_suite *s)
{
    return s->quick ? CHECK_ARRAY_LEN(sizes_quick) : CHECK_ARRAY_LEN(sizes_full);
}

size_t check_reduction_at(const check_suite *s, size_t at)
{
    return s->quick ? sizes_quick[at] : sizes_full[at];
}

size_t check_size_points(const check_suite *s)
{
    return check_reduction_points(s) - !s->quick;
}

size_t check_size_at(const check_suite *s, size_t at)
{
    return check_reduction_at(s, at);
}

static const check_nchw channel_shapes_full[] = {
    { 1, 1, 0, 0 },    { 2, 1, 0, 0 },   { 1, 7, 0, 0 },   { 7, 13, 0, 0 },   { 13, 1, 0, 0 },
    { 64, 33, 0, 0 },  { 64, 256, 0, 0 }, { 31, 127, 0, 0 }, { 512, 1, 0, 0 }, { 512, 65, 0, 0 },
    { 512, 257, 0, 0 }, { 1, 3, 5, 7 },   { 2, 5, 3, 3 },   { 7, 13, 3, 3 },   { 3, 33, 7, 7 },
    { 64, 31, 2, 2 },  { 512, 3, 1, 5 }, { 13, 65, 1, 1 },
};
static const check_nchw channel_shapes_quick[] = {
    { 1, 1, 0, 0 }, { 2, 7, 0, 0 }, { 7, 13, 0, 0 }, { 512, 33, 0, 0 }, { 1, 3, 5, 7 }, { 13, 31, 3, 3 },
};

size_t check_channel_points(const check_suite *s)
{
    return s->quick ? CHECK_ARRAY_LEN(channel_shapes_quick) : CHECK_ARRAY_LEN(channel_shapes_full);
}

check_nchw check_channel_at(const check_suite *s, size_t at)
{
    return s->quick ? channel_shapes_quick[at] : channel_shapes_full[at];
}

size_t check_nchw_inner(check_nchw d)
{
    return d.h ? d.h * d.w : 1;
}

size_t check_nchw_numel(check_nchw d)
{
    return d.n * d.c * check_nchw_inner(d);
}

void check_nchw_desc(check_case *c, const char *name, check_nchw d, const char *fmt, ...)
{
    int used;
    if (d.h)
        used = snprintf(c->desc, sizeof c->desc, "%s [%zu, %zu, %zu, %zu]", name, d.n, d.c, d.h, d.w);
    else
        used = snprintf(c->desc, sizeof c->desc, "%s [%zu, %zu]", name, d.n, d.c);
    if (used < 0 || (size_t)used >= sizeof c->desc)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->desc + used, sizeof c->desc - (size_t)used, fmt, ap);
    va_end(ap);
}

float *check_arg_nchw(check_case *c, const char *name, int out, check_nchw d)
{
    if (d.h)
        return check_case_arg(c, name, out, 4, d.n, d.c, d.h, d.w);
    return check_case_arg(c, name, out, 2, d.n, d.c, 0, 0);
}
