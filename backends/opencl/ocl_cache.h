/* gantry opencl backend: the program binary cache file, without OpenCL.
 *
 * Reading a cache entry and checking its header needs no device, so this
 * part stands alone (ocl_cache.c): the backend uses it, and the fuzz
 * harness tests/fuzz/fuzz_opencl_cache.c runs it on hostile files. */
#ifndef GANTRY_OCL_CACHE_H
#define GANTRY_OCL_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* The program binary cache file: this header (little-endian fields), then
 * `payload_size` bytes of the clGetProgramInfo(CL_PROGRAM_BINARIES) blob.
 * Tests read it to make an offline binary (tests/test_opencl_cache.c). */
#define OCL_CACHE_MAGIC "GNTRYOCL"
#define OCL_CACHE_FORMAT 1u
#define OCL_CACHE_HEADER_SIZE 48u
/*   0  char[8]  magic
 *   8  u32      format version (OCL_CACHE_FORMAT)
 *  12  u32      header size (OCL_CACHE_HEADER_SIZE)
 *  16  u64      key: FNV-1a of platform, device, driver, options and sources
 *  24  u64      payload size
 *  32  u64      FNV-1a of the payload
 *  40  u64      reserved (0) */

/* 64-bit FNV-1a, chained through `h` (start with OCL_FNV_BASIS). */
#define OCL_FNV_BASIS 0xcbf29ce484222325ull
uint64_t ocl_fnv1a(uint64_t h, const void *data, size_t n);

/* Reads a whole file, NUL-terminated (not counted in *size).  NULL with
 * errno set on failure. */
char *ocl_read_file(const char *path, size_t *size);

/* The header of an entry for `key` holding bin[0..size). */
void ocl_cache_header(unsigned char header[OCL_CACHE_HEADER_SIZE], uint64_t key, const unsigned char *bin,
                      size_t size);

/* Loads and checks the entry at `path` for `key`; returns the payload
 * (malloc'd, *payload_size bytes) or NULL with `why` saying what was wrong
 * ("" when there simply is none). */
unsigned char *ocl_cache_read(const char *path, uint64_t key, size_t *payload_size, char *why, size_t why_size);

#endif
