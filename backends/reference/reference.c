/* gantry reference backend: the module entry, instances and the ops table
 * (reference_impl.h says how the backend works and where each op is). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "reference_impl.h"

#include "../host_module.h"

gantry_status ref_error(const gantry_host *host, gantry_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = host_vreport(host, status, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- module ------------------------------------------------------------- */

static int ref_probe(const gantry_backend_options *opts, char *why, size_t why_size)
{
    (void)opts;
    if (why && why_size > 0)
        why[0] = '\0';
    return 10;
}

static void ref_describe(const gantry_backend_options *opts, char *buf, size_t size)
{
    (void)opts;
    if (buf && size > 0)
        snprintf(buf, size, "host memory, single thread, float64 accumulation");
}

static gantry_status ref_create(const gantry_backend_options *opts, void **ctx)
{
    const gantry_host *host = host_of_options(opts);
    ref_ctx *c = malloc(sizeof *c);
    if (!c)
        return ref_error(host, GANTRY_OUT_OF_MEMORY, REF_NAME ": create: out of memory (%zu bytes)",
                         sizeof *c);
    c->host = host;
    *ctx = c;
    return GANTRY_OK;
}

static void ref_destroy(void *ctx)
{
    free(ctx);
}

/* ---- the table ---------------------------------------------------------- */

#define REF_ENTRY(name, family) .name = ref_##name,
static const gantry_backend_ops ref_ops = {
    .abi_version = GANTRY_BACKEND_ABI_VERSION,
    .struct_size = sizeof(gantry_backend_ops),
    .name = REF_NAME,
    .description = "plain single-threaded C loops with float64 accumulation; the oracle for other backends",
    .probe = ref_probe,
    .describe = ref_describe,
    .create = ref_create,
    .destroy = ref_destroy,
    GANTRY_BACKEND_OPS(REF_ENTRY)
};
#undef REF_ENTRY

/* The module's only exported symbol. */
__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void);

__attribute__((visibility("default"))) const gantry_backend_ops *gantry_backend_entry(void)
{
    return &ref_ops;
}
