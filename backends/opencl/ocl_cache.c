/* gantry opencl backend: the program binary cache file (ocl_cache.h): the
 * header, and reading an entry back without trusting any of it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl_cache.h"

uint64_t ocl_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

char *ocl_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *grown = realloc(buf, ncap);
            if (!grown) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = grown;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    *size = len;
    return buf;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void ocl_cache_header(unsigned char header[OCL_CACHE_HEADER_SIZE], uint64_t key, const unsigned char *bin,
                      size_t size)
{
    memset(header, 0, OCL_CACHE_HEADER_SIZE);
    memcpy(header, OCL_CACHE_MAGIC, 8);
    put_u32(header + 8, OCL_CACHE_FORMAT);
    put_u32(header + 12, OCL_CACHE_HEADER_SIZE);
    put_u64(header + 16, key);
    put_u64(header + 24, size);
    put_u64(header + 32, ocl_fnv1a(OCL_FNV_BASIS, bin, size));
}

/* What is wrong with the entry buf[0..size) for `key`, or NULL. */
static const char *cache_problem(const unsigned char *buf, size_t size, uint64_t key)
{
    if (size < OCL_CACHE_HEADER_SIZE)
        return "truncated header";
    if (memcmp(buf, OCL_CACHE_MAGIC, 8) != 0)
        return "bad magic";
    if (get_u32(buf + 8) != OCL_CACHE_FORMAT)
        return "another format version";
    if (get_u32(buf + 12) != OCL_CACHE_HEADER_SIZE)
        return "bad header size";
    if (get_u64(buf + 16) != key)
        return "stale (key mismatch)";
    if (get_u64(buf + 24) != size - OCL_CACHE_HEADER_SIZE)
        return "truncated or padded (size mismatch)";
    if (get_u64(buf + 24) == 0)
        return "empty binary";
    if (get_u64(buf + 32) != ocl_fnv1a(OCL_FNV_BASIS, buf + OCL_CACHE_HEADER_SIZE, size - OCL_CACHE_HEADER_SIZE))
        return "checksum mismatch";
    return NULL;
}

unsigned char *ocl_cache_read(const char *path, uint64_t key, size_t *payload_size, char *why, size_t why_size)
{
    why[0] = '\0';
    size_t size = 0;
    unsigned char *buf = (unsigned char *)ocl_read_file(path, &size);
    if (!buf) {
        if (errno != ENOENT && errno != ENOTDIR) /* none there (or no directory): a plain miss */
            snprintf(why, why_size, "cannot be read: %s", strerror(errno));
        return NULL;
    }
    const char *problem = cache_problem(buf, size, key);
    if (problem) {
        snprintf(why, why_size, "%s", problem);
        free(buf);
        return NULL;
    }
    *payload_size = size - OCL_CACHE_HEADER_SIZE;
    memmove(buf, buf + OCL_CACHE_HEADER_SIZE, *payload_size);
    return buf;
}
