/* The memory of a data set: making, shrinking and releasing it, class
 * names, and pixels as floats. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/dataset_impl.h"

gantry_status gantry__dataset_wrap(size_t count, size_t c, size_t h, size_t w, uint8_t *pixels, uint8_t *labels,
                                   gantry_dataset **out)
{
    gantry_dataset *ds = calloc(1, sizeof *ds);
    gantry_dataset_storage *st = calloc(1, sizeof *st);
    if (!ds || !st) {
        free(ds);
        free(st);
        free(pixels);
        free(labels);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "data set: out of memory");
    }
    st->pixels = pixels;
    st->labels = labels;
    ds->count = count;
    ds->channels = c;
    ds->height = h;
    ds->width = w;
    ds->pixels = pixels;
    ds->labels = labels;
    ds->storage = st;
    *out = ds;
    return GANTRY_OK;
}

gantry_status gantry__dataset_alloc(size_t count, size_t c, size_t h, size_t w, int with_labels, const char *what,
                                    gantry_dataset **out)
{
    size_t item = c * h * w;
    uint8_t *pixels = item && count <= SIZE_MAX / item ? malloc(count ? count * item : 1) : NULL;
    uint8_t *labels = with_labels ? malloc(count ? count : 1) : NULL;
    if (!pixels || (with_labels && !labels)) {
        free(pixels);
        free(labels);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "%s: cannot allocate %zu images of %zux%zux%zu", what, count,
                                c, h, w);
    }
    return gantry__dataset_wrap(count, c, h, w, pixels, labels, out);
}

void gantry__dataset_truncate(gantry_dataset *ds, size_t count)
{
    gantry_dataset_storage *st = ds->storage;
    ds->count = count;
    if (st->pixels) {
        size_t bytes = count * gantry__image_bytes(ds);
        uint8_t *p = realloc(st->pixels, bytes ? bytes : 1);
        if (p)
            st->pixels = p;
        ds->pixels = st->pixels;
    }
    if (st->labels) {
        uint8_t *l = realloc(st->labels, count ? count : 1);
        if (l)
            st->labels = l;
        ds->labels = st->labels;
    }
}

gantry_status gantry_dataset_split_off(gantry_dataset *ds, size_t n, gantry_dataset **tail)
{
    if (!ds || !tail || !ds->storage)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_dataset_split_off: %s",
                                !ds ? "no data set" : !tail ? "tail is NULL" : "not a data set the library made");
    *tail = NULL;
    if (n == 0 || n >= ds->count)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "split off %zu of %zu images: leave some on both sides", n,
                                ds->count);
    size_t keep = ds->count - n, item = gantry__image_bytes(ds);
    GANTRY_TRY(gantry__dataset_alloc(n, ds->channels, ds->height, ds->width, ds->labels != NULL, ds->kind, tail));
    gantry_dataset *t = *tail;
    memcpy(t->storage->pixels, ds->pixels + keep * item, n * item);
    if (ds->labels)
        memcpy(t->storage->labels, ds->labels + keep, n);
    t->num_classes = ds->num_classes;
    t->kind = ds->kind;
    if (ds->class_names) {
        size_t size = 0;
        for (size_t i = 0; i < ds->num_classes; i++)
            size += strlen(ds->class_names[i]) + 1;
        char *names = malloc(size ? size : 1), *p = names;
        if (!names) {
            gantry_dataset_destroy(t);
            *tail = NULL;
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "split off: out of host memory");
        }
        for (size_t i = 0; i < ds->num_classes; i++)
            p += sprintf(p, "%s", ds->class_names[i]) + 1;
        gantry_status s = gantry__dataset_set_names(t, names, size, 1);
        free(names);
        if (s) {
            gantry_dataset_destroy(t);
            *tail = NULL;
            return s;
        }
    }
    gantry__dataset_truncate(ds, keep); /* mapped pixels stay mapped: the head is a prefix of them */
    return GANTRY_OK;
}

gantry_status gantry__dataset_set_names(gantry_dataset *ds, const char *names, size_t size, int copy)
{
    gantry_dataset_storage *st = ds->storage;
    const char **list = malloc((ds->num_classes ? ds->num_classes : 1) * sizeof *list);
    char *own = copy ? malloc(size ? size : 1) : NULL;
    if (!list || (copy && !own)) {
        free(list);
        free(own);
        return gantry_set_error(GANTRY_OUT_OF_MEMORY, "data set: out of memory for %zu class names", ds->num_classes);
    }
    if (copy) {
        memcpy(own, names, size);
        names = own;
    }
    const char *p = names;
    for (size_t i = 0; i < ds->num_classes; i++) {
        list[i] = p;
        p += strlen(p) + 1;
    }
    free(st->names); /* names set before, if any */
    st->names = own;
    free(st->name_list);
    st->name_list = list;
    ds->class_names = list;
    return GANTRY_OK;
}

void gantry_dataset_destroy(gantry_dataset *ds)
{
    if (!ds)
        return;
    gantry_dataset_storage *st = ds->storage;
    if (st) {
        free(st->pixels);
        free(st->labels);
        free(st->names);
        free(st->name_list);
        if (st->map)
            munmap(st->map, st->map_size);
        free(st);
    }
    free(ds);
}

void gantry__pixels_to_float(const uint8_t *pixels, size_t n, float *out)
{
    /* The table of the IDX reader before data sets held bytes: batches stay
     * bit for bit what they were. */
    float lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = (float)v / 127.5f - 1.0f;
    for (size_t i = 0; i < n; i++)
        out[i] = lut[pixels[i]];
}

gantry_status gantry_dataset_images(const gantry_dataset *ds, size_t first, size_t n, float *out)
{
    if (!ds || !ds->pixels || !out)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT, "gantry_dataset_images: %s is NULL",
                                !ds || !ds->pixels ? "the data set" : "out");
    if (first > ds->count || n > ds->count - first)
        return gantry_set_error(GANTRY_INVALID_ARGUMENT,
                                "gantry_dataset_images: images %zu..%zu asked of a data set of %zu", first,
                                first + n, ds->count);
    size_t item = gantry__image_bytes(ds);
    gantry__pixels_to_float(ds->pixels + first * item, n * item, out);
    return GANTRY_OK;
}

void gantry__data_warn(const gantry_data_options *opts, const char *fmt, ...)
{
    if (!opts || !opts->warn)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opts->warn(msg, opts->user);
}
