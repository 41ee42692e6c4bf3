/* gantry: status codes and the per-thread last-error message.
 *
 * Every fallible gantry function returns a gantry_status.  GANTRY_OK is 0 and
 * every error is negative.  When a function fails it also leaves a one-line
 * message in a per-thread buffer, read with gantry_last_error(), that names
 * the op, file or device involved and what was wrong. */
#ifndef GANTRY_STATUS_H
#define GANTRY_STATUS_H

#include "gantry/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One list generates the enum, gantry_strerror() and gantry_status_name(),
 * so codes and messages cannot drift apart.  Values are part of the ABI:
 * append only. */
#define GANTRY_STATUS_LIST(X)                                                   \
    X(OK, 0, "success")                                                         \
    X(INVALID_ARGUMENT, -1, "invalid argument")                                 \
    X(SHAPE_MISMATCH, -2, "tensor shapes do not match")                         \
    X(BACKEND_MISMATCH, -3, "tensors belong to different backends")             \
    X(OUT_OF_MEMORY, -4, "out of host memory")                                  \
    X(DEVICE_OUT_OF_MEMORY, -5, "out of device memory")                         \
    X(IO, -6, "input/output error")                                             \
    X(CORRUPT_FILE, -7, "corrupt or malformed file")                            \
    X(NOT_FOUND, -8, "not found")                                               \
    X(UNSUPPORTED, -9, "not supported")                                         \
    X(ABI_MISMATCH, -10, "backend ABI mismatch")                                \
    X(NO_BACKEND, -11, "no usable backend")                                     \
    X(DEVICE, -12, "device error")                                              \
    X(BUILD, -13, "kernel build failed")                                        \
    X(NUMERIC, -14, "non-finite value")                                         \
    X(INTERNAL, -15, "internal error")

typedef enum gantry_status {
#define GANTRY_X_ENUM(name, value, text) GANTRY_##name = value,
    GANTRY_STATUS_LIST(GANTRY_X_ENUM)
#undef GANTRY_X_ENUM
} gantry_status;

/* A static description of the status ("tensor shapes do not match"). */
GANTRY_API const char *gantry_strerror(gantry_status status);

/* The enum name without prefix ("SHAPE_MISMATCH"). */
GANTRY_API const char *gantry_status_name(gantry_status status);

/* The message of the last error on this thread; "" when none was set.
 * The pointer stays valid until the next gantry call on this thread. */
GANTRY_API const char *gantry_last_error(void);

/* Records a formatted message for `status` on this thread and returns
 * `status`, so callers can write `return gantry_set_error(...)`.
 * The message is truncated at 1 KiB. */
GANTRY_API gantry_status gantry_set_error(gantry_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Returns from the calling function with the status of `expr` when it
 * failed; the message is already set by whatever failed. */
#define GANTRY_TRY(expr)                                                                                \
    do {                                                                                                \
        gantry_status gantry_try_status_ = (expr);                                                      \
        if (gantry_try_status_ != GANTRY_OK)                                                            \
            return gantry_try_status_;                                                                  \
    } while (0)

/* Clears the last-error message of this thread. */
GANTRY_API void gantry_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
