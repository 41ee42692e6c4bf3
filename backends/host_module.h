/* What the modules of the host backends (reference, cpu) share around
 * their ops: the host services in the creation options, and reporting an
 * error through them. */
#ifndef GANTRY_BACKENDS_HOST_MODULE_H
#define GANTRY_BACKENDS_HOST_MODULE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "gantry/backend.h"

/* opts->host, or NULL when there are no options or they predate the field. */
static inline const gantry_host *host_of_options(const gantry_backend_options *opts)
{
    if (!opts || opts->struct_size < offsetof(gantry_backend_options, host) + sizeof(opts->host))
        return NULL;
    return opts->host;
}

/* Reports through `host` when there is one; always returns `status`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
static inline gantry_status host_vreport(const gantry_host *host, gantry_status status, const char *fmt, va_list ap)
{
    if (!host || !host->set_error)
        return status;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return host->set_error(status, "%s", msg);
}

#endif
