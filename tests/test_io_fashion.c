/* io suite: the real Fashion-MNIST files from Debian's dataset-fashion-mnist
 * package, when installed; otherwise the test is skipped (exit status 77). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gantry/data.h"
#include "gantry/status.h"
#include "test.h"

static void check_split(const char *split, size_t count)
{
    gantry_dataset *ds = NULL;
    CHECK_OK(gantry_dataset_load(GANTRY_FASHION_MNIST_DIR, split, 0, &ds));
    if (!ds)
        return;
    CHECK(ds->count == count);
    CHECK(ds->channels == 1 && ds->height == 28 && ds->width == 28);
    CHECK(ds->labels != NULL);
    CHECK(ds->num_classes == 10);
    size_t n = ds->count * 28 * 28;
    uint8_t lo = 255, hi = 0;
    for (size_t i = 0; i < n; i++) {
        lo = ds->pixels[i] < lo ? ds->pixels[i] : lo;
        hi = ds->pixels[i] > hi ? ds->pixels[i] : hi;
    }
    CHECK(lo == 0);   /* background pixels are 0 */
    CHECK(hi == 255); /* and some pixel is 255 */
    /* gantry_dataset_images gives value / 127.5 - 1, 1,000 images at a time */
    float *chunk = malloc(1000 * 28 * 28 * sizeof *chunk);
    int same = chunk != NULL;
    for (size_t i = 0; same && i < ds->count; i += 1000) {
        size_t k = ds->count - i < 1000 ? ds->count - i : 1000;
        same = gantry_dataset_images(ds, i, k, chunk) == GANTRY_OK;
        for (size_t j = 0; same && j < k * 28 * 28; j++)
            same = chunk[j] == (float)ds->pixels[i * 28 * 28 + j] / 127.5f - 1.0f;
    }
    CHECK(same);
    free(chunk);
    size_t per_class[10] = { 0 };
    int labels_ok = 1;
    for (size_t i = 0; ds->labels && i < ds->count; i++) {
        labels_ok &= ds->labels[i] < 10;
        if (ds->labels[i] < 10)
            per_class[ds->labels[i]]++;
    }
    CHECK(labels_ok);
    for (int c = 0; c < 10; c++)
        CHECK(per_class[c] == count / 10); /* Fashion-MNIST is balanced */
    gantry_dataset_destroy(ds);

    /* the same through the "fashion-mnist" name, with a limit */
    ds = NULL;
    CHECK_OK(gantry_dataset_load("fashion-mnist", split, 100, &ds));
    CHECK(ds && ds->count == 100 && ds->num_classes == 10);
    gantry_dataset_destroy(ds);
}

int main(void)
{
    struct stat st;
    if (stat(GANTRY_FASHION_MNIST_DIR, &st) != 0) {
        printf("skipped: %s is not installed (apt-get install dataset-fashion-mnist)\n", GANTRY_FASHION_MNIST_DIR);
        return 77;
    }
    /* the suite's environment points GANTRY_DATA_DIR elsewhere */
    setenv("GANTRY_DATA_DIR", GANTRY_FASHION_MNIST_DIR, 1);
    check_split("train", 60000);
    check_split("t10k", 10000);
    return test_finish("io-fashion-mnist");
}
