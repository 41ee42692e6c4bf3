/* Internal: the hooks of the op profiler (core/profile.c) around every
 * dispatch to a backend. */
#ifndef GANTRY_CORE_PROFILE_H
#define GANTRY_CORE_PROFILE_H

#include "gantry/tensor.h"

/* Notes the start of an op (when profiling is on). */
void gantry__profile_mark(void);
/* Ends op `op` on `be` (synchronising it first), records its time, and
 * returns `s` (or the synchronisation's error). */
gantry_status gantry__profile_end(gantry_backend *be, const char *op, gantry_status s);

/* `return OPS(t)->fn(CTX(t), ...)` with the profiler's hooks around the call:
 * the comma operator marks the start before the backend runs. */
#define GANTRY__DISPATCH(be, name, call) (gantry__profile_mark(), gantry__profile_end((be), (name), (call)))

#endif
