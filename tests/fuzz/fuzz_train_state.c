/* libFuzzer harness: gantry_gan_load_training (core/train_state.c): the
 * optimizer slots and counters of a run, loaded on top of a GAN.  One small
 * GAN of each conv model (fuzz_gan.h, the same as the seeds') is built once;
 * each input is offered to all of them, and only the one of its model gets
 * past the metadata. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_gan.h"

static gantry_gan *gans[FUZZ_GAN_MODELS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t m = 0; m < FUZZ_GAN_MODELS; m++) {
        gantry_gan_config c;
        if (fuzz_gan_config(fuzz_gan_models[m], &c) != GANTRY_OK ||
            gantry_gan_create(fuzz_backend(), &c, &gans[m]) != GANTRY_OK) {
            fprintf(stderr, "fuzz: cannot build %s: %s\n", fuzz_gan_models[m], gantry_last_error());
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("train-state", data, size);
    for (size_t m = 0; m < FUZZ_GAN_MODELS; m++)
        (void)gantry_gan_load_training(gans[m], path);
    return 0;
}
