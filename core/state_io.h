/* Internal to the core: safetensors entries named for a file, shared by the
 * GAN checkpoints (checkpoint.c, which implements these) and the classifier
 * (eval/classifier.c). */
#ifndef GANTRY_STATE_IO_H
#define GANTRY_STATE_IO_H

#include <stdint.h>
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
/* A state entry a network would have: its name in gantry_seq_state ("3.weight"), dtype and shape. */
typedef struct plan_entry {
    char name[64];
    gantry_dtype dtype;
    int ndim; /* 0: a scalar */
    size_t shape[4];
} plan_entry;
/* nn.c: a plan is a Sequential that creates no layer and no tensor: its
 * gantry_seq_add_* calls only record the state entries the layers would
 * have.  A network built into a plan from a file's metadata can thus be
 * compared with the file's tensors before anything is allocated (metadata
 * asking for a huge network is refused at once).  Nothing but the add
 * functions, the two below and gantry_seq_destroy may be called on one. */
gantry_status gantry__seq_create_plan(gantry_seq **out);
size_t gantry__seq_plan_count(const gantry_seq *plan);
const plan_entry *gantry__seq_plan_entry(const gantry_seq *plan, size_t i);
/* checkpoint.c: every entry of `plan` is in the file as prefix + name with
 * the same dtype and shape, and the file has no other entry beginning with
 * `prefix`; otherwise GANTRY_CORRUPT_FILE naming the file, the tensor and
 * `asked_by`, the metadata the plan was built from ("z_dim = 100, ..."). */
gantry_status gantry__st_check_plan(const gantry_safetensors *st, const char *path, const gantry_seq *plan,
                                    const char *prefix, const char *asked_by);
/* checkpoint.c: metadata `key` as n comma-separated integers of digits only
 * in min..max ("1,28,28"), or as n finite numbers (strtof's syntax, nothing
 * before or after); GANTRY_CORRUPT_FILE naming the file and key otherwise.
 * An absent key leaves out as it is, unless `required`. */
gantry_status gantry__st_meta_uints(const gantry_safetensors *st, const char *path, const char *key, size_t n,
                                    int required, uint64_t min, uint64_t max, uint64_t *out);
gantry_status gantry__st_meta_floats(const gantry_safetensors *st, const char *path, const char *key, size_t n,
                                     int required, float *out);
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
