/* Internal to the core: safetensors entries named for a file, shared by the
 * GAN checkpoints (checkpoint.c, which implements these) and the classifier
 * (eval/classifier.c). */
#ifndef GANTRY_STATE_IO_H
#define GANTRY_STATE_IO_H

#include <stdio.h>

#include "gantry/io.h"
#include "gantry/nn.h"

typedef struct state_ref {
    char name[80];
    const gantry_param *param; /* a tensor (F32) or an int64 counter (I64 scalar) */
} state_ref;
/* Reads every ref's tensor back to the host and writes them with `meta`. */
gantry_status gantry__st_write_refs(const char *path, const state_ref *refs, size_t count, const gantry_st_meta *meta,
                                   size_t meta_count);
/* The same with `meta` followed by `extra`. */
gantry_status gantry__st_write_refs_extra(const char *path, const state_ref *refs, size_t count,
                                         const gantry_st_meta *meta, size_t meta_count, const gantry_st_meta *extra,
                                         size_t extra_count);
/* Writes the file's entry named ref->name into ref->param, checking dtype and shape. */
gantry_status gantry__st_load_ref(const gantry_safetensors *st, const char *path, const state_ref *ref);
/* Appends metadata entry k, printf-formatted into values[n], as meta[n++]. */
#define GANTRY__META_ADD(meta, values, n, k, ...)                                                  \
    do {                                                                                            \
        snprintf((values)[n], sizeof(values)[n], __VA_ARGS__);                                      \
        (meta)[n].key = (k);                                                                        \
        (meta)[n].value = (values)[n];                                                              \
        (n)++;                                                                                      \
    } while (0)

#endif
