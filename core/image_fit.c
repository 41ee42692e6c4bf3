/* One image to the target channels and size: colour conversion into
 * planes, then each plane resized and centre-cropped. */
#include <stdlib.h>
#include <string.h>

#include "core/image.h"

/* ITU-R 601 luma in integers, rounded: PIL's convert("L") weights. */
static uint8_t luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
}

/* `planes` (1 or 3) contiguous planes of src: its gray plane, its three
 * colour planes, or the luma of its colours. */
static void to_planes(const gantry__image_view *src, size_t planes, uint8_t *dst)
{
    size_t area = src->width * src->height, cs = src->channel_step;
    for (size_t y = 0; y < src->height; y++) {
        const uint8_t *row = src->data + y * src->row_step;
        uint8_t *out = dst + y * src->width;
        for (size_t x = 0; x < src->width; x++) {
            const uint8_t *p = row + x * src->pixel_step;
            if (src->colors == 1) {
                out[x] = p[0];
            } else if (planes == 1) {
                out[x] = luma(p[0], p[cs], p[2 * cs]);
            } else {
                out[x] = p[0];
                out[area + x] = p[cs];
                out[2 * area + x] = p[2 * cs];
            }
        }
    }
}

gantry_status gantry__image_fit(const gantry__image_view *src, size_t channels, size_t size, uint8_t *dst)
{
    /* gray to RGB: resize the one plane, then copy it (the same result as
     * resizing three equal planes, at a third of the work) */
    size_t planes = src->colors == 1 ? 1 : channels, out_area = size * size;
    if (src->width == size && src->height == size) {
        to_planes(src, planes, dst);
    } else {
        size_t area = src->width * src->height;
        uint8_t *tmp = malloc(planes * area);
        if (!tmp)
            return gantry_set_error(GANTRY_OUT_OF_MEMORY, "image of %zux%zu: out of memory", src->width,
                                    src->height);
        to_planes(src, planes, tmp);
        gantry_status s = GANTRY_OK;
        for (size_t k = 0; k < planes && s == GANTRY_OK; k++)
            s = gantry__resize_plane(tmp + k * area, src->width, src->height, size, dst + k * out_area);
        free(tmp);
        if (s != GANTRY_OK)
            return s;
    }
    for (size_t k = planes; k < channels; k++)
        memcpy(dst + k * out_area, dst, out_area);
    return GANTRY_OK;
}
