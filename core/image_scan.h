/* gantry internal: the image files of a folder, in data set order. */
#ifndef GANTRY_CORE_IMAGE_SCAN_H
#define GANTRY_CORE_IMAGE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "gantry/data.h"
#include "gantry/status.h"

typedef struct gantry__scan_entry {
    char *rel;        /* path below the folder, malloc'd; any bytes but '/' and NUL */
    size_t base;      /* where the base name starts in rel */
    uint8_t label;    /* its class folder's index; 0 without classes */
    int64_t size;     /* from stat (lstat for a dangling link); -1 when neither works */
    int64_t mtime_ns; /* modification time in nanoseconds */
} gantry__scan_entry;

typedef struct gantry__scan {
    gantry__scan_entry *files; /* ordered by base name, then by rel */
    size_t count;
    size_t num_classes; /* class folders; 0: no labels */
    char *class_names;  /* their names, each ended by a NUL, sorted; NULL without classes */
    size_t names_size;  /* bytes of class_names */
    size_t ignored;     /* other files seen (not .png, .jpg or .jpeg) */
} gantry__scan;

/* Walks `dir` recursively (following links, skipping hidden entries and
 * link loops) for names ending in .png, .jpg or .jpeg (any case), whatever
 * they turn out to be; a subfolder that cannot be read is reported through
 * opts->warn and left out.  The top folder's subfolders are the classes
 * when it holds no image names of its own. */
gantry_status gantry__scan_images(const char *dir, const gantry_data_options *opts, gantry__scan *out);
void gantry__scan_free(gantry__scan *scan);

/* dir + "/" + rel, malloc'd (NULL when out of memory). */
char *gantry__path_join(const char *dir, const char *rel);

#endif
