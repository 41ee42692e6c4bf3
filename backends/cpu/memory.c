/* gantry cpu backend: buffers, 64-byte aligned host blocks; a gantry_mem
 * addresses `(float *)buf + offset`.  The other memory methods are
 * ../host_memory.h's (cpu_impl.h names them). */
#include <stdlib.h>

#include "cpu_impl.h"

gantry_status cpu_buffer_alloc(void *ctx, size_t bytes, void **buf)
{
    cpu_ctx *c = ctx;
    /* Round up so a zero-byte buffer is still a valid, distinct block. */
    size_t rounded = bytes ? (bytes + CPU_ALIGN - 1) / CPU_ALIGN * CPU_ALIGN : CPU_ALIGN;
    if (rounded < bytes)
        return cpu_error(c, GANTRY_OUT_OF_MEMORY, CPU_NAME ": buffer_alloc of %zu bytes: size overflows", bytes);
    void *p = NULL;
    if (posix_memalign(&p, CPU_ALIGN, rounded) != 0)
        return cpu_error(c, GANTRY_OUT_OF_MEMORY, CPU_NAME ": buffer_alloc of %zu bytes failed", bytes);
    *buf = p;
    return GANTRY_OK;
}
