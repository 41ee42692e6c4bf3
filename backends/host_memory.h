/* Buffer methods shared by the backends whose buffers are plain host
 * memory (reference, cpu): a buffer is a pointer, offsets count bytes, and
 * every op has finished when it returns.  memmove, because a copy may stay
 * within one buffer.  Inline, so that a backend's internal header can
 * include it for every file and name these as its own methods. */
#ifndef GANTRY_BACKENDS_HOST_MEMORY_H
#define GANTRY_BACKENDS_HOST_MEMORY_H

#include <stdlib.h>
#include <string.h>

#include "gantry/backend.h"

static inline void host_buffer_free(void *ctx, void *buf)
{
    (void)ctx;
    free(buf);
}

static inline gantry_status host_buffer_write(void *ctx, void *buf, size_t offset, const void *src, size_t bytes)
{
    (void)ctx;
    if (bytes)
        memmove((char *)buf + offset, src, bytes);
    return GANTRY_OK;
}

static inline gantry_status host_buffer_read(void *ctx, void *buf, size_t offset, void *dst, size_t bytes)
{
    (void)ctx;
    if (bytes)
        memmove(dst, (const char *)buf + offset, bytes);
    return GANTRY_OK;
}

static inline gantry_status host_buffer_copy(void *ctx, void *dst, size_t dst_offset, void *src, size_t src_offset,
                                             size_t bytes)
{
    (void)ctx;
    if (bytes)
        memmove((char *)dst + dst_offset, (const char *)src + src_offset, bytes);
    return GANTRY_OK;
}

static inline gantry_status host_synchronize(void *ctx)
{
    (void)ctx;
    return GANTRY_OK;
}

#endif
