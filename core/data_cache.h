/* gantry internal: the cache of decoded image folders.
 *
 * One file per folder and preprocessing, CACHE/data/KEY.images, where KEY
 * hashes the cache format version, the requested image size and channels,
 * and every file's relative name, size and modification time (ns).  The
 * file: a 128-byte header (magic, version, header size, key, count,
 * channels, height, width, classes, whether there are labels, the bytes of
 * class names, skipped images, payload bytes, and a CRC-32 of the header's
 * first 96 bytes and the payload, all little-endian), then the payload:
 * the pixels, the labels, the class names each ended by a NUL.  It is
 * written atomically and memory-mapped when read. */
#ifndef GANTRY_CORE_DATA_CACHE_H
#define GANTRY_CORE_DATA_CACHE_H

#include <stdint.h>

#include "core/image_scan.h"
#include "gantry/data.h"

typedef struct gantry__cache {
    char *dir;  /* CACHE/data, or NULL: no cache */
    char *path; /* CACHE/data/KEY.images */
    uint64_t key;
} gantry__cache;

/* Where the cache of `scan` under `opts` is (nothing on disk is touched);
 * c->dir is NULL when caching is off or no folder is known.  Fails only for
 * lack of memory. */
gantry_status gantry__cache_locate(const gantry__scan *scan, const gantry_data_options *opts, gantry__cache *c);

/* The cached data set, or NULL on a miss; a cache file that is there but
 * corrupt is reported through opts->warn (and will be rebuilt), one that
 * cannot be opened too, and then the cache is turned off (*c released). */
gantry_dataset *gantry__cache_read(gantry__cache *c, const gantry_data_options *opts);

/* Stores `ds`; a failure is reported through opts->warn, never returned. */
void gantry__cache_write(const gantry__cache *c, const gantry_dataset *ds, const gantry_data_options *opts);

void gantry__cache_free(gantry__cache *c);

#endif
