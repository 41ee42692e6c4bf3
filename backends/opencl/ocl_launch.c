/* gantry opencl backend: every kernel launch, and the launch shapes the op
 * families share.
 *
 * ocl_launch is the one place a kernel is enqueued: it checks the
 * work-group against the kernel's and the device's limits and cuts a grid
 * beyond the device's limits into slices with global offsets.  The shapes
 * built on it:
 *   elementwise    1-D groups of WG, one vector of VW floats per work-item
 *                  (then one work-item per tail element); no grid-stride
 *                  loops, which PoCL cannot vectorise across work-items
 *   rows           an element per work-item of [columns, rows]: dimension 0
 *                  the columns of a row (coalesced), dimension 1 the rows
 *   per-channel    2-D groups of BN_LX channels x BN_LY rows, one group per
 *                  BN_LX channels; the rows of a channel are reduced in local
 *                  memory (on CPUs the channel-items kernels instead walk a
 *                  channel per work-item, or VW channels of an [outer,
 *                  channels] tensor)
 *   row groups     a work-group of WG per row (or per (example, channel)
 *                  pair), reduced in local memory
 *   reductions     stage 1: up to max_groups groups of compensated partial
 *                  sums (grid-stride), stage 2: one group adds them; a single
 *                  group writes the result directly */
#include <stdio.h>
#include <string.h>

#include "ocl_impl.h"

size_t ocl_round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

size_t ocl_div_up(size_t x, size_t d)
{
    return (x + d - 1) / d;
}

/* Work-items per dimension of one enqueue: whole groups, at most
 * OCL_MAX_GROUPS_PER_DIM of them and at most maxdim= work-items. */
static size_t slice_items(const ocl_ctx *c, size_t local)
{
    size_t groups = OCL_MAX_GROUPS_PER_DIM;
    if (c->dev.max_global && c->dev.max_global / local < groups)
        groups = c->dev.max_global / local;
    return (groups ? groups : 1) * local;
}

gantry_status ocl_launch(ocl_ctx *c, const char *op, ocl_kernel_id k, cl_uint dims, const size_t *global,
                         const size_t *local, size_t nargs, const ocl_arg *args)
{
    cl_kernel kernel = c->kernels[k];
    if (!kernel)
        return ocl_error(c->host, GANTRY_INTERNAL, OCL_NAME ": %s on '%s': kernel '%s' is not loaded", op, c->dev.name,
                         ocl_kernel_names[k]);
    /* What a strict device refuses and PoCL forgives: checked here, once,
     * for every launch. */
    size_t group = 1, step[3] = { 1, 1, 1 };
    int slices = 0;
    for (cl_uint d = 0; d < dims; d++) {
        group *= local[d];
        if (local[d] > c->dev.max_item[d] || global[d] % local[d])
            return ocl_error(c->host, GANTRY_INTERNAL,
                             OCL_NAME ": %s on '%s': kernel '%s' launched with %zu work-items in a group along dimension "
                             "%u of %zu (the device takes %zu)",
                             op, c->dev.name, ocl_kernel_names[k], local[d], d, global[d], c->dev.max_item[d]);
        step[d] = slice_items(c, local[d]);
        slices |= global[d] > step[d];
    }
    if (group > c->dev.max_wg || (c->kernel_wg[k] && group > c->kernel_wg[k]))
        return ocl_error(c->host, GANTRY_INTERNAL,
                         OCL_NAME ": %s on '%s': kernel '%s' launched with work-groups of %zu, beyond the device's %zu "
                         "(the kernel's: %zu)",
                         op, c->dev.name, ocl_kernel_names[k], group, c->dev.max_wg, c->kernel_wg[k]);
    if (slices && ocl_kernel_whole[k])
        return ocl_error(c->host, GANTRY_INTERNAL,
                         OCL_NAME ": %s on '%s': kernel '%s' strides over its whole grid, which exceeds the device's "
                         "limit of %zu work-items along a dimension",
                         op, c->dev.name, ocl_kernel_names[k], step[0]);
    for (size_t i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clSetKernelArg(%s, %zu)", ocl_kernel_names[k], i);
            return ocl_fail(c, err, op, what);
        }
    }
    /* Larger grids in slices: the kernels index by get_global_id, which
     * includes the slice's offset. */
    size_t off[3] = { 0, 0, 0 }, size[3];
    for (;;) {
        for (cl_uint d = 0; d < dims; d++)
            size[d] = global[d] - off[d] < step[d] ? global[d] - off[d] : step[d];
        cl_int err = clEnqueueNDRangeKernel(c->queue, kernel, dims, slices ? off : NULL, size, local, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s)", ocl_kernel_names[k]);
            return ocl_fail(c, err, op, what);
        }
        cl_uint d = 0;
        while (d < dims && (off[d] += step[d]) >= global[d])
            off[d++] = 0;
        if (d == dims)
            return GANTRY_OK;
    }
}

/* ---- launch shapes -------------------------------------------------------- */

gantry_status ocl_launch_1d(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t items, size_t nargs,
                            const ocl_arg *args)
{
    size_t global = ocl_round_up(items ? items : 1, c->wg), local = c->wg;
    return ocl_launch(c, op, k, 1, &global, &local, nargs, args);
}

size_t ocl_vector_items(const ocl_ctx *c, size_t n)
{
    return n / c->vw + n % c->vw;
}

gantry_status ocl_launch_rows(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t rows, size_t cols, size_t nargs,
                              const ocl_arg *args)
{
    size_t global[2] = { ocl_round_up(cols ? cols : 1, c->wg), rows ? rows : 1 }, local[2] = { c->wg, 1 };
    return ocl_launch(c, op, k, 2, global, local, nargs, args);
}

gantry_status ocl_launch_channels(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t channels, size_t nargs,
                                  const ocl_arg *args)
{
    size_t ly = c->wg / c->bn_lx;
    size_t global[2] = { ocl_round_up(channels, c->bn_lx), ly }, local[2] = { c->bn_lx, ly };
    return ocl_launch(c, op, k, 2, global, local, nargs, args);
}

int ocl_use_channel_items(const ocl_ctx *c, size_t channels, size_t inner)
{
    return c->bn_rows && c->vw > 1 && (inner > 1 || channels % c->vw == 0);
}

gantry_status ocl_launch_channel_items(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t channels, size_t inner,
                                       size_t nargs, const ocl_arg *args)
{
    if (inner == 1)
        return ocl_launch_1d(c, op, k, channels / c->vw, nargs, args);
    size_t global = channels, local = 1;
    return ocl_launch(c, op, k, 1, &global, &local, nargs, args);
}

gantry_status ocl_launch_row_groups(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t rows, size_t nargs,
                                    const ocl_arg *args)
{
    size_t global = rows * c->wg, local = c->wg;
    return ocl_launch(c, op, k, 1, &global, &local, nargs, args);
}

/* ---- two-stage reductions --------------------------------------------------- */

size_t ocl_reduction_groups(const ocl_ctx *c, size_t work)
{
    size_t groups = work ? work : 1;
    if (groups > c->max_groups)
        groups = c->max_groups;
    if (groups > c->partials_count)
        groups = c->partials_count;
    return groups;
}

gantry_status ocl_reduce(ocl_ctx *c, const char *op, ocl_kernel_id k, size_t groups, size_t nargs,
                         const ocl_arg *args, gantry_mem out, float divisor)
{
    ocl_arg all[OCL_REDUCE_MAX_ARGS + 4];
    if (nargs > OCL_REDUCE_MAX_ARGS)
        return ocl_error(c->host, GANTRY_INTERNAL, OCL_NAME ": %s: %zu arguments for '%s', more than %d", op, nargs,
                         ocl_kernel_names[k], OCL_REDUCE_MAX_ARGS);
    ocl_mem_arg om = ocl_mem_arg_of(out);
    memcpy(all, args, nargs * sizeof *args);
    all[nargs++] = OCL_ARG(c->partials);
    all[nargs++] = OCL_ARG(om.buf);
    all[nargs++] = OCL_ARG(om.offset);
    all[nargs++] = OCL_ARG(divisor);
    size_t global = groups * c->wg, local = c->wg;
    GANTRY_TRY(ocl_launch(c, op, k, 1, &global, &local, nargs, all));
    if (groups == 1)
        return GANTRY_OK;
    cl_ulong count = groups;
    ocl_arg final_args[] = { OCL_ARG(c->partials), OCL_ARG(count), OCL_MEM_ARGS(om), OCL_ARG(divisor) };
    global = c->wg;
    return ocl_launch(c, op, OCL_K_reduce_final, 1, &global, &local, OCL_ARG_COUNT(final_args), final_args);
}
