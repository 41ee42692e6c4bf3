/* gantry opencl backend: the memory family.  Buffers are cl_mem objects;
 * buffer_read, buffer_write (blocking, so the caller may reuse its host
 * memory at once) and synchronize are the only calls that wait.  The
 * scratch buffer serves the ops that need device memory of their own. */
#include <stdio.h>

#include "ocl_impl.h"

gantry_status ocl_buffer_alloc(void *ctx, size_t bytes, void **buf)
{
    ocl_ctx *c = ctx;
    /* A zero-byte buffer must still be valid; round up so that sizes stay
     * multiples of a vector. */
    size_t size = ocl_round_up(bytes ? bytes : 1, 64);
    if (c->dev.max_alloc && size > c->dev.max_alloc)
        return ocl_error(c->host, GANTRY_DEVICE_OUT_OF_MEMORY,
                         OCL_NAME ": buffer_alloc on '%s': %zu bytes exceed the device's largest allocation (%llu bytes)",
                         c->dev.name, bytes, (unsigned long long)c->dev.max_alloc);
    if (c->dev.global_mem && c->allocated + size > c->dev.global_mem)
        return ocl_error(c->host, GANTRY_DEVICE_OUT_OF_MEMORY,
                         OCL_NAME ": buffer_alloc on '%s': %zu more bytes exceed the device's memory (%zu of %llu bytes "
                         "in use)",
                         c->dev.name, bytes, c->allocated, (unsigned long long)c->dev.global_mem);
    cl_int err;
    cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, size, NULL, &err);
    if (!m) {
        char what[64];
        snprintf(what, sizeof what, "clCreateBuffer(%zu bytes)", bytes);
        return ocl_fail(c, err, "buffer_alloc", what);
    }
    c->allocated += size;
    *buf = m;
    return GANTRY_OK;
}

void ocl_buffer_free(void *ctx, void *buf)
{
    ocl_ctx *c = ctx;
    if (!buf)
        return;
    size_t size = 0;
    if (clGetMemObjectInfo((cl_mem)buf, CL_MEM_SIZE, sizeof size, &size, NULL) == CL_SUCCESS)
        c->allocated -= size <= c->allocated ? size : c->allocated;
    clReleaseMemObject((cl_mem)buf);
}

gantry_status ocl_buffer_write(void *ctx, void *buf, size_t offset, const void *src, size_t bytes)
{
    ocl_ctx *c = ctx;
    if (!bytes)
        return GANTRY_OK;
    cl_int err = clEnqueueWriteBuffer(c->queue, (cl_mem)buf, CL_TRUE, offset, bytes, src, 0, NULL, NULL);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "buffer_write", "clEnqueueWriteBuffer");
}

gantry_status ocl_buffer_read(void *ctx, void *buf, size_t offset, void *dst, size_t bytes)
{
    ocl_ctx *c = ctx;
    if (!bytes)
        return GANTRY_OK;
    cl_int err = clEnqueueReadBuffer(c->queue, (cl_mem)buf, CL_TRUE, offset, bytes, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "buffer_read", "clEnqueueReadBuffer");
}

gantry_status ocl_buffer_copy(void *ctx, void *dst, size_t dst_offset, void *src, size_t src_offset, size_t bytes)
{
    ocl_ctx *c = ctx;
    if (!bytes || (dst == src && dst_offset == src_offset))
        return GANTRY_OK;
    cl_int err;
    if (dst == src && dst_offset < src_offset + bytes && src_offset < dst_offset + bytes) {
        /* Overlapping ranges of one buffer (memmove): clEnqueueCopyBuffer
         * refuses them, so go through the scratch buffer. */
        cl_mem tmp = NULL;
        GANTRY_TRY(ocl_scratch(c, "buffer_copy", bytes, &tmp));
        err = clEnqueueCopyBuffer(c->queue, (cl_mem)src, tmp, src_offset, 0, bytes, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueCopyBuffer(c->queue, tmp, (cl_mem)dst, 0, dst_offset, bytes, 0, NULL, NULL);
    } else {
        err = clEnqueueCopyBuffer(c->queue, (cl_mem)src, (cl_mem)dst, src_offset, dst_offset, bytes, 0, NULL, NULL);
    }
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "buffer_copy", "clEnqueueCopyBuffer");
}

gantry_status ocl_synchronize(void *ctx)
{
    ocl_ctx *c = ctx;
    cl_int err = clFinish(c->queue);
    return err == CL_SUCCESS ? GANTRY_OK : ocl_fail(c, err, "synchronize", "clFinish");
}

gantry_status ocl_scratch(ocl_ctx *c, const char *op, size_t bytes, cl_mem *out)
{
    if (!c->scratch || c->scratch_bytes < bytes) {
        size_t want = bytes < 65536 ? 65536 : bytes + bytes / 4;
        cl_int err;
        cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, want, NULL, &err);
        if (!m)
            return ocl_fail(c, err, op, "clCreateBuffer (scratch)");
        /* Commands already queued keep the old buffer alive until they finish. */
        if (c->scratch)
            clReleaseMemObject(c->scratch);
        c->scratch = m;
        c->scratch_bytes = want;
    }
    *out = c->scratch;
    return GANTRY_OK;
}
