/* Files for the io tests: a private temporary directory and paths in it,
 * raw reads and writes, and IDX file images.  Every failure to set up is
 * fatal (REQUIRE). */
#ifndef GANTRY_TEST_FILES_H
#define GANTRY_TEST_FILES_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char tmp_root[64];

/* Makes the private temporary directory /tmp/gantry-test-NAME-XXXXXX. */
static inline void test_tmp_init(const char *name)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/gantry-test-%s-XXXXXX", name);
    REQUIRE(mkdtemp(tmp_root));
}

/* A path inside the temporary directory; a ring of buffers so that a few can
 * be live at once. */
static inline const char *tp(const char *name)
{
    static char ring[8][512];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", tmp_root, name);
    return p;
}

static inline void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        REQUIRE(p);
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Number of entries in `dir` whose name contains `needle`. */
static inline int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && strstr(e->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static inline int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static inline void write_raw(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    REQUIRE(size == 0 || fwrite(data, 1, size, f) == size);
    REQUIRE(fclose(f) == 0);
}

static inline unsigned char *read_raw(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    REQUIRE(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    REQUIRE(n >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)n + 1);
    REQUIRE(b);
    REQUIRE(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

static inline void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX image file image: magic, N, R, C, then `data_len` bytes taken from
 * `pixels` (which may be shorter or longer than N*R*C). */
static inline unsigned char *idx_images(uint32_t magic, uint32_t n, uint32_t r, uint32_t c, const unsigned char *pixels,
                                        size_t data_len, size_t *size)
{
    unsigned char *b = malloc(16 + data_len);
    REQUIRE(b);
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, r);
    put_be32(b + 12, c);
    memcpy(b + 16, pixels, data_len);
    *size = 16 + data_len;
    return b;
}

static inline unsigned char *idx_labels(uint32_t n, const unsigned char *labels, size_t data_len, size_t *size)
{
    unsigned char *b = malloc(8 + data_len);
    REQUIRE(b);
    put_be32(b, 0x00000801u);
    put_be32(b + 4, n);
    memcpy(b + 8, labels, data_len);
    *size = 8 + data_len;
    return b;
}

/* A .npy file (format 1.0) with header dict `header`, padded as numpy pads
 * it, then `data_bytes` bytes of `data` (zeros when NULL). */
static inline void write_npy_raw(const char *path, const char *header, const void *data, size_t data_bytes)
{
    size_t hl = strlen(header);
    size_t pad = 64 - (10 + hl + 1) % 64;
    size_t total = 10 + hl + pad + 1;
    unsigned char *f = calloc(1, total + data_bytes);
    REQUIRE(f);
    memcpy(f, "\x93NUMPY\x01\x00", 8);
    f[8] = (unsigned char)((hl + pad + 1) & 0xff);
    f[9] = (unsigned char)((hl + pad + 1) >> 8);
    memcpy(f + 10, header, hl);
    memset(f + 10 + hl, ' ', pad);
    f[total - 1] = '\n';
    if (data)
        memcpy(f + total, data, data_bytes);
    write_raw(path, f, total + data_bytes);
    free(f);
}

#endif
