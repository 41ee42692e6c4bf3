/* Shared by the libFuzzer harnesses: the input written to a file of this
 * process (the readers take paths), an input split in two files, and a
 * sink that makes the harness read every byte a reader hands back, so that
 * AddressSanitizer checks the reader's promise that they are in bounds.
 *
 * Files live in /dev/shm (memory) when it exists, else in $TMPDIR or /tmp,
 * named with the process id: libFuzzer's -jobs and -fork run several
 * processes at once. */
#ifndef GANTRY_FUZZ_H
#define GANTRY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Every path fuzz_path made, removed at exit (newest first: files before
 * the folder that holds them). */
static char fuzz_made[16][512];
static int fuzz_made_count;

static void fuzz_cleanup(void)
{
    while (fuzz_made_count > 0)
        remove(fuzz_made[--fuzz_made_count]);
}

/* The path "<tmp>/gantry-fuzz-<pid>-<name>", the same for every call with
 * that name (valid for the life of the process). */
static const char *fuzz_path(const char *name)
{
    char p[512];
    const char *dir = "/dev/shm";
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0)
        dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(p, sizeof p, "%s/gantry-fuzz-%ld-%s", dir, (long)getpid(), name);
    for (int i = 0; i < fuzz_made_count; i++)
        if (strcmp(fuzz_made[i], p) == 0)
            return fuzz_made[i];
    if (fuzz_made_count == 16)
        abort(); /* a harness with more files than this is a bug */
    if (fuzz_made_count == 0)
        atexit(fuzz_cleanup);
    memcpy(fuzz_made[fuzz_made_count], p, sizeof p);
    return fuzz_made[fuzz_made_count++];
}

/* Writes data[0..size) to `path`; aborts when it cannot (a harness that
 * cannot write its input tests nothing). */
static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* The input as the file fuzz_path(name). */
static const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(name);
    fuzz_write(path, data, size);
    return path;
}

/* Two files and a small number from one input: a 4-byte big-endian prefix
 * whose low 24 bits are the length of the first part (clamped to what is
 * there) and whose top byte is `small`; the second part is the rest, and
 * absent (*b = NULL) when the first takes everything. */
typedef struct fuzz_parts {
    const uint8_t *a, *b;
    size_t a_size, b_size;
    unsigned small;
} fuzz_parts;

static fuzz_parts fuzz_split(const uint8_t *data, size_t size)
{
    fuzz_parts p = { data, NULL, 0, 0, 0 };
    if (size < 4)
        return p;
    uint32_t prefix = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    size_t rest = size - 4, n = prefix & 0xffffffu;
    p.small = prefix >> 24;
    p.a = data + 4;
    p.a_size = n < rest ? n : rest;
    if (p.a_size < rest) {
        p.b = p.a + p.a_size;
        p.b_size = rest - p.a_size;
    }
    return p;
}

/* Reads every byte of p[0..n): a folded sum the optimiser cannot drop. */
static volatile uint8_t fuzz_sink_byte;

static void fuzz_touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= b[i];
    fuzz_sink_byte ^= x;
}

#endif
