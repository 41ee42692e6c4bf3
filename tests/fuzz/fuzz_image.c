/* libFuzzer harness: the image decoders: gantry__image_read
 * (core/image_file.c) tells PNG (core/image_png.c) from JPEG
 * (core/image_jpeg.c) by content; the header alone, then the pixels, which
 * are fitted (core/image_fit.c, image_resize.c) to 8x8 gray and RGB as a
 * data folder would.  The fit's buffers are small; the decoded image is as
 * large as the header says, up to GANTRY__MAX_IMAGE_PIXELS. */
#include "core/image.h"
#include "tests/fuzz/fuzz.h"

#define SIDE 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("image", data, size);
    gantry__image_info info;
    if (gantry__image_read(path, &info, NULL) != GANTRY_OK)
        return 0;
    gantry__image img;
    if (gantry__image_read(path, &info, &img) != GANTRY_OK)
        return 0;
    const gantry__image_view *v = &img.view;
    if (v->width != info.width || v->height != info.height)
        abort(); /* the pixels disagree with the header read a moment ago */
    uint8_t planes[3 * SIDE * SIDE];
    (void)gantry__image_fit(v, 1, SIDE, planes);
    (void)gantry__image_fit(v, 3, SIDE, planes);
    fuzz_touch(planes, sizeof planes);
    free(img.data);
    return 0;
}
