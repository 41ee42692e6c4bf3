/* libFuzzer harness: gantry_gan_load (core/checkpoint.c) on the reference
 * backend: a checkpoint's metadata builds the networks, then every G.* and
 * D.* tensor is checked and copied in.  A loaded GAN is destroyed again, so
 * LeakSanitizer sees whatever a failed load leaves behind. */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_gan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)fuzz_backend();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gantry_gan *gan = NULL;
    if (gantry_gan_load(fuzz_backend(), fuzz_file("ckpt", data, size), &gan) == GANTRY_OK)
        gantry_gan_destroy(gan);
    return 0;
}
