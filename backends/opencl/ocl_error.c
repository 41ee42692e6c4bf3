/* gantry opencl backend: every OpenCL and CLBlast status has a name and a
 * gantry status, from one table each, so messages and codes cannot drift.
 *
 *   device memory exhausted  CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_OUT_OF_RESOURCES
 *                            (and CLBlast's -4/-5, which are the same codes)
 *                            -> GANTRY_DEVICE_OUT_OF_MEMORY
 *   host memory              CL_OUT_OF_HOST_MEMORY -> GANTRY_OUT_OF_MEMORY
 *   compiler                 CL_BUILD_PROGRAM_FAILURE, CL_COMPILE/LINK_PROGRAM_FAILURE,
 *                            CL_INVALID_BUILD_OPTIONS -> GANTRY_BUILD
 *   nothing there            CL_DEVICE_NOT_FOUND, CL_PLATFORM_NOT_FOUND_KHR,
 *                            CL_INVALID_KERNEL_NAME -> GANTRY_NOT_FOUND
 *   a bad program binary     CL_INVALID_BINARY -> GANTRY_CORRUPT_FILE
 *   CLBlast: not implemented -> GANTRY_UNSUPPORTED; argument checks (its
 *            -1024..-1007, -2050..-2042) -> GANTRY_INVALID_ARGUMENT
 *   everything else          -> GANTRY_DEVICE */
#include <stdarg.h>
#include <stdio.h>

#include "ocl_impl.h"

#define OCL_CL_ERRORS(X)                                                                                \
    X(CL_SUCCESS, 0, OK)                                                                                \
    X(CL_DEVICE_NOT_FOUND, -1, NOT_FOUND)                                                               \
    X(CL_DEVICE_NOT_AVAILABLE, -2, DEVICE)                                                              \
    X(CL_COMPILER_NOT_AVAILABLE, -3, BUILD)                                                             \
    X(CL_MEM_OBJECT_ALLOCATION_FAILURE, -4, DEVICE_OUT_OF_MEMORY)                                       \
    X(CL_OUT_OF_RESOURCES, -5, DEVICE_OUT_OF_MEMORY)                                                    \
    X(CL_OUT_OF_HOST_MEMORY, -6, OUT_OF_MEMORY)                                                         \
    X(CL_PROFILING_INFO_NOT_AVAILABLE, -7, DEVICE)                                                      \
    X(CL_MEM_COPY_OVERLAP, -8, DEVICE)                                                                  \
    X(CL_IMAGE_FORMAT_MISMATCH, -9, DEVICE)                                                             \
    X(CL_IMAGE_FORMAT_NOT_SUPPORTED, -10, DEVICE)                                                       \
    X(CL_BUILD_PROGRAM_FAILURE, -11, BUILD)                                                             \
    X(CL_MAP_FAILURE, -12, DEVICE)                                                                      \
    X(CL_MISALIGNED_SUB_BUFFER_OFFSET, -13, DEVICE)                                                     \
    X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST, -14, DEVICE)                                        \
    X(CL_COMPILE_PROGRAM_FAILURE, -15, BUILD)                                                           \
    X(CL_LINKER_NOT_AVAILABLE, -16, BUILD)                                                              \
    X(CL_LINK_PROGRAM_FAILURE, -17, BUILD)                                                              \
    X(CL_DEVICE_PARTITION_FAILED, -18, DEVICE)                                                          \
    X(CL_KERNEL_ARG_INFO_NOT_AVAILABLE, -19, DEVICE)                                                    \
    X(CL_INVALID_VALUE, -30, DEVICE)                                                                    \
    X(CL_INVALID_DEVICE_TYPE, -31, DEVICE)                                                              \
    X(CL_INVALID_PLATFORM, -32, DEVICE)                                                                 \
    X(CL_INVALID_DEVICE, -33, DEVICE)                                                                   \
    X(CL_INVALID_CONTEXT, -34, DEVICE)                                                                  \
    X(CL_INVALID_QUEUE_PROPERTIES, -35, DEVICE)                                                         \
    X(CL_INVALID_COMMAND_QUEUE, -36, DEVICE)                                                            \
    X(CL_INVALID_HOST_PTR, -37, DEVICE)                                                                 \
    X(CL_INVALID_MEM_OBJECT, -38, DEVICE)                                                               \
    X(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, -39, DEVICE)                                                  \
    X(CL_INVALID_IMAGE_SIZE, -40, DEVICE)                                                               \
    X(CL_INVALID_SAMPLER, -41, DEVICE)                                                                  \
    X(CL_INVALID_BINARY, -42, CORRUPT_FILE)                                                             \
    X(CL_INVALID_BUILD_OPTIONS, -43, BUILD)                                                             \
    X(CL_INVALID_PROGRAM, -44, DEVICE)                                                                  \
    X(CL_INVALID_PROGRAM_EXECUTABLE, -45, DEVICE)                                                       \
    X(CL_INVALID_KERNEL_NAME, -46, NOT_FOUND)                                                           \
    X(CL_INVALID_KERNEL_DEFINITION, -47, DEVICE)                                                        \
    X(CL_INVALID_KERNEL, -48, DEVICE)                                                                   \
    X(CL_INVALID_ARG_INDEX, -49, DEVICE)                                                                \
    X(CL_INVALID_ARG_VALUE, -50, DEVICE)                                                                \
    X(CL_INVALID_ARG_SIZE, -51, DEVICE)                                                                 \
    X(CL_INVALID_KERNEL_ARGS, -52, DEVICE)                                                              \
    X(CL_INVALID_WORK_DIMENSION, -53, DEVICE)                                                           \
    X(CL_INVALID_WORK_GROUP_SIZE, -54, DEVICE)                                                          \
    X(CL_INVALID_WORK_ITEM_SIZE, -55, DEVICE)                                                           \
    X(CL_INVALID_GLOBAL_OFFSET, -56, DEVICE)                                                            \
    X(CL_INVALID_EVENT_WAIT_LIST, -57, DEVICE)                                                          \
    X(CL_INVALID_EVENT, -58, DEVICE)                                                                    \
    X(CL_INVALID_OPERATION, -59, DEVICE)                                                                \
    X(CL_INVALID_GL_OBJECT, -60, DEVICE)                                                                \
    X(CL_INVALID_BUFFER_SIZE, -61, DEVICE)                                                              \
    X(CL_INVALID_MIP_LEVEL, -62, DEVICE)                                                                \
    X(CL_INVALID_GLOBAL_WORK_SIZE, -63, DEVICE)                                                         \
    X(CL_INVALID_PROPERTY, -64, DEVICE)                                                                 \
    X(CL_INVALID_IMAGE_DESCRIPTOR, -65, DEVICE)                                                         \
    X(CL_INVALID_COMPILER_OPTIONS, -66, BUILD)                                                          \
    X(CL_INVALID_LINKER_OPTIONS, -67, BUILD)                                                            \
    X(CL_INVALID_DEVICE_PARTITION_COUNT, -68, DEVICE)                                                   \
    X(CL_INVALID_PIPE_SIZE, -69, DEVICE)                                                                \
    X(CL_INVALID_DEVICE_QUEUE, -70, DEVICE)                                                             \
    X(CL_INVALID_GL_SHAREGROUP_REFERENCE_KHR, -1000, DEVICE)                                            \
    X(CL_PLATFORM_NOT_FOUND_KHR, -1001, NOT_FOUND)

/* CLBlast's own codes (clblast_c.h); the small negative ones are OpenCL's. */
#define OCL_CLBLAST_ERRORS(X)                                                                           \
    X(CLBlastNotImplemented, -1024, UNSUPPORTED)                                                        \
    X(CLBlastInvalidMatrixA, -1022, INVALID_ARGUMENT)                                                   \
    X(CLBlastInvalidMatrixB, -1021, INVALID_ARGUMENT)                                                   \
    X(CLBlastInvalidMatrixC, -1020, INVALID_ARGUMENT)                                                   \
    X(CLBlastInvalidVectorX, -1019, INVALID_ARGUMENT)                                                   \
    X(CLBlastInvalidVectorY, -1018, INVALID_ARGUMENT)                                                   \
    X(CLBlastInvalidDimension, -1017, INVALID_ARGUMENT)                                                 \
    X(CLBlastInvalidLeadDimA, -1016, INVALID_ARGUMENT)                                                  \
    X(CLBlastInvalidLeadDimB, -1015, INVALID_ARGUMENT)                                                  \
    X(CLBlastInvalidLeadDimC, -1014, INVALID_ARGUMENT)                                                  \
    X(CLBlastInvalidIncrementX, -1013, INVALID_ARGUMENT)                                                \
    X(CLBlastInvalidIncrementY, -1012, INVALID_ARGUMENT)                                                \
    X(CLBlastInsufficientMemoryA, -1011, INVALID_ARGUMENT)                                              \
    X(CLBlastInsufficientMemoryB, -1010, INVALID_ARGUMENT)                                              \
    X(CLBlastInsufficientMemoryC, -1009, INVALID_ARGUMENT)                                              \
    X(CLBlastInsufficientMemoryX, -1008, INVALID_ARGUMENT)                                              \
    X(CLBlastInsufficientMemoryY, -1007, INVALID_ARGUMENT)                                              \
    X(CLBlastInsufficientMemoryTemp, -2050, INVALID_ARGUMENT)                                           \
    X(CLBlastInvalidBatchCount, -2049, INVALID_ARGUMENT)                                                \
    X(CLBlastInvalidOverrideKernel, -2048, INVALID_ARGUMENT)                                            \
    X(CLBlastMissingOverrideParameter, -2047, INVALID_ARGUMENT)                                         \
    X(CLBlastInvalidLocalMemUsage, -2046, DEVICE)                                                       \
    X(CLBlastNoHalfPrecision, -2045, UNSUPPORTED)                                                       \
    X(CLBlastNoDoublePrecision, -2044, UNSUPPORTED)                                                     \
    X(CLBlastInvalidVectorScalar, -2043, INVALID_ARGUMENT)                                              \
    X(CLBlastInsufficientMemoryScalar, -2042, INVALID_ARGUMENT)                                         \
    X(CLBlastDatabaseError, -2041, DEVICE)                                                              \
    X(CLBlastUnknownError, -2040, DEVICE)                                                               \
    X(CLBlastUnexpectedError, -2039, DEVICE)

const char *ocl_cl_error_name(cl_int err)
{
    switch (err) {
#define OCL_X_NAME(name, value, status)                                                                 \
    case value:                                                                                         \
        return #name;
        OCL_CL_ERRORS(OCL_X_NAME)
#undef OCL_X_NAME
    default:
        return "unknown OpenCL error";
    }
}

gantry_status ocl_status_of_cl(cl_int err)
{
    switch (err) {
#define OCL_X_STATUS(name, value, status)                                                               \
    case value:                                                                                         \
        return GANTRY_##status;
        OCL_CL_ERRORS(OCL_X_STATUS)
#undef OCL_X_STATUS
    default:
        return GANTRY_DEVICE;
    }
}

const char *ocl_clblast_error_name(int status)
{
    switch (status) {
#define OCL_X_NAME(name, value, st)                                                                     \
    case value:                                                                                         \
        return #name;
        OCL_CLBLAST_ERRORS(OCL_X_NAME)
#undef OCL_X_NAME
    default:
        return ocl_cl_error_name(status);
    }
}

gantry_status ocl_status_of_clblast(int status)
{
    switch (status) {
#define OCL_X_STATUS(name, value, st)                                                                   \
    case value:                                                                                         \
        return GANTRY_##st;
        OCL_CLBLAST_ERRORS(OCL_X_STATUS)
#undef OCL_X_STATUS
    default:
        return ocl_status_of_cl(status);
    }
}

gantry_status ocl_error(const gantry_host *host, gantry_status status, const char *fmt, ...)
{
    if (!host || !host->set_error)
        return status;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return host->set_error(status, "%s", msg);
}

void ocl_log(const gantry_host *host, gantry_log_level level, const char *fmt, ...)
{
    if (!host || !host->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    host->log(level, "%s", msg);
}

gantry_status ocl_fail(const ocl_ctx *c, cl_int err, const char *op, const char *what)
{
    gantry_status s = ocl_status_of_cl(err);
    if (s == GANTRY_OK)
        s = GANTRY_INTERNAL;
    return ocl_error(c->host, s, OCL_NAME ": %s on '%s': %s failed: %s (%d)", op, c->dev.name, what,
                     ocl_cl_error_name(err), (int)err);
}

gantry_status ocl_fail_clblast(const ocl_ctx *c, int status, const char *op, const char *what)
{
    gantry_status s = ocl_status_of_clblast(status);
    if (s == GANTRY_OK)
        s = GANTRY_INTERNAL;
    return ocl_error(c->host, s, OCL_NAME ": %s on '%s': %s failed: %s (%d)", op, c->dev.name, what,
                     ocl_clblast_error_name(status), status);
}
