/* gantry internal: .npy arrays of either dtype gantry reads. */
#ifndef GANTRY_CORE_NPY_H
#define GANTRY_CORE_NPY_H

#include <stddef.h>

#include "gantry/status.h"

typedef enum gantry__npy_dtype {
    GANTRY__NPY_F32, /* '<f4' */
    GANTRY__NPY_U8,  /* '|u1' */
} gantry__npy_dtype;

typedef struct gantry__npy_array {
    gantry__npy_dtype dtype;
    int ndim; /* 0 to 4 */
    size_t shape[4];
    void *data; /* malloc'd, product(shape) elements in host order */
} gantry__npy_array;

/* Reads a C-order .npy of float32 or uint8 (see core/npy.c); errors name
 * the path. */
gantry_status gantry__npy_read_array(const char *path, gantry__npy_array *out);

#endif
