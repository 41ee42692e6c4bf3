/* gantry reference backend: buffers, malloc'd blocks of floats.  The other
 * memory methods are ../host_memory.h's (reference_impl.h names them). */
#include <stdlib.h>

#include "reference_impl.h"

gantry_status ref_buffer_alloc(void *ctx, size_t bytes, void **buf)
{
    ref_ctx *c = ctx;
    /* malloc(0) may return NULL; a zero-byte buffer must still be valid. */
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        return ref_error(c->host, GANTRY_OUT_OF_MEMORY, REF_NAME ": buffer_alloc of %zu bytes failed", bytes);
    *buf = p;
    return GANTRY_OK;
}
