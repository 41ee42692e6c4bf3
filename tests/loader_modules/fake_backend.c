/* Deliberately broken (or unusable) backend modules for tests/test_loader.c.
 *
 * One source, compiled once per kind with -DFAKE_KIND_<KIND> and
 * -DFAKE_NAME=<kind>; the loader must skip each with a clear reason and
 * never call into a table it refused:
 *   badabi      abi_version one past GANTRY_BACKEND_ABI_VERSION
 *   noentry     exports no gantry_backend_entry symbol at all
 *   nullentry   gantry_backend_entry returns NULL
 *   small       struct_size smaller than sizeof(gantry_backend_ops)
 *   misnamed    the table names itself differently from the file
 *   zero        a valid table whose probe returns 0 with a reason
 *   failcreate  usable (score 1) but create fails with a message
 *   silentfail  usable (score 1) but create fails without a message
 * The usable ones describe() the options the core handed them, so the test
 * can check what the loader passes to a module. */
#include <stdio.h>
#include <string.h>

#include "gantry/backend.h"

#define FAKE_STR2(x) #x
#define FAKE_STR(x) FAKE_STR2(x)
#define FAKE_NAME_STR FAKE_STR(FAKE_NAME)

#define FAKE_EXPORT __attribute__((visibility("default")))

/* The host and options the core passes must carry its ABI. */
static int options_ok(const gantry_backend_options *opts)
{
    return opts && opts->struct_size == sizeof(gantry_backend_options) && opts->host &&
           opts->host->abi_version == GANTRY_BACKEND_ABI_VERSION && opts->host->set_error && opts->host->log;
}

static int fake_probe(const gantry_backend_options *opts, char *why, size_t why_size)
{
    if (!options_ok(opts)) {
        snprintf(why, why_size, "bad options or host table from the core");
        return 0;
    }
#if defined(FAKE_KIND_ZERO)
    snprintf(why, why_size, "no device for testing");
    return 0;
#else
    return 1;
#endif
}

static void fake_describe(const gantry_backend_options *opts, char *buf, size_t size)
{
    snprintf(buf, size, "fake %s: threads=%d device=%s cache=%s", FAKE_NAME_STR, opts->num_threads,
             opts->device ? opts->device : "(none)", opts->cache_dir ? opts->cache_dir : "(none)");
}

static gantry_status fake_create(const gantry_backend_options *opts, void **ctx)
{
    *ctx = NULL;
#if defined(FAKE_KIND_SILENTFAIL)
    (void)opts;
    return GANTRY_DEVICE;
#else
    /* The message echoes the options, so the test sees what create got. */
    return opts->host->set_error(GANTRY_DEVICE, "%s: simulated device failure (threads=%d device=%s cache=%s)",
                                 FAKE_NAME_STR, opts->num_threads, opts->device ? opts->device : "(none)",
                                 opts->cache_dir ? opts->cache_dir : "(none)");
#endif
}

static void fake_destroy(void *ctx)
{
    (void)ctx;
}

/* The data ops of a fake module are never called (create fails or the test
 * never runs an op); they only have to be present for the loader to accept
 * the table.  Casting from void (*)(void) keeps -Wcast-function-type quiet. */
static void fake_never_called(void)
{
}

#define FAKE_OP(name, family) .name = (GANTRY_BACKEND_METHOD_TYPE(name) *)fake_never_called,

#if defined(FAKE_KIND_INCOMPLETE)
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
static const gantry_backend_ops fake_ops = {
#if defined(FAKE_KIND_BADABI)
    .abi_version = GANTRY_BACKEND_ABI_VERSION + 1,
#else
    .abi_version = GANTRY_BACKEND_ABI_VERSION,
#endif
#if defined(FAKE_KIND_SMALL)
    .struct_size = (uint32_t)offsetof(gantry_backend_ops, synchronize),
#else
    .struct_size = sizeof(gantry_backend_ops),
#endif
#if defined(FAKE_KIND_MISNAMED)
    .name = "somebodyelse",
#else
    .name = FAKE_NAME_STR,
#endif
    .description = "a broken module for the loader tests",
    .probe = fake_probe,
    .describe = fake_describe,
    .create = fake_create,
    .destroy = fake_destroy,
    GANTRY_BACKEND_OPS(FAKE_OP)
#if defined(FAKE_KIND_INCOMPLETE)
    .gemm = NULL, /* overrides the list's entry: the method the loader must find missing */
#endif
};

#if defined(FAKE_KIND_NOENTRY)
/* Some other symbol, so the module is a valid library without the entry. */
FAKE_EXPORT const gantry_backend_ops *gantry_backend_entry_point(void);

FAKE_EXPORT const gantry_backend_ops *gantry_backend_entry_point(void)
{
    return &fake_ops;
}
#else
FAKE_EXPORT const gantry_backend_ops *gantry_backend_entry(void);

FAKE_EXPORT const gantry_backend_ops *gantry_backend_entry(void)
{
#if defined(FAKE_KIND_NULLENTRY)
    /* Always NULL; written so that the table still counts as used. */
    return fake_ops.abi_version == 0 ? &fake_ops : NULL;
#else
    return &fake_ops;
#endif
}
#endif
