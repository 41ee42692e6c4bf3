/* gantry: what the opencl module exports besides gantry_backend_entry, for
 * tools that look it up with dlsym() in the module that
 * gantry_backend_scan() reports (`gantry backends --opencl-source`).  It is
 * no part of the backend ABI: the core never calls it.  Needs only the
 * backend ABI's types, not OpenCL's headers. */
#ifndef GANTRY_OPENCL_H
#define GANTRY_OPENCL_H

#include <stddef.h>

#include "gantry/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GANTRY_OPENCL_PROGRAM_SOURCE_SYMBOL "gantry_opencl_program_source"

/* The program the opencl backend builds, for an offline compiler (Intel's
 * aoc, AMD/Xilinx v++) whose binary then goes to GANTRY_OPENCL_BINARY. */
typedef struct gantry_opencl_program {
    /* Every cl/ file in program order as one text, each headed by its
     * `#line 1 "NAME.cl"` directive: exactly what the backend hands
     * clCreateProgramWithSource.  malloc'd; release with free(). */
    char *source;
    size_t source_size; /* without the terminating NUL */
    /* The build options the backend passes clBuildProgram for the device:
     * the tunables as -D options (-DWG=... -DVW=... -DBN_LX=...), -cl-std
     * and the rounding flags.  A binary records the tunables it was
     * compiled with (gantry_config, cl/common.cl) and the backend adopts
     * them, so other -D values work too, within the device's limits. */
    char build_options[512];
    /* "P:D TYPE 'NAME' (PLATFORM)": the device they were chosen for. */
    char device[640];
} gantry_opencl_program;

/* Fills `out` for the device that opts->device (GANTRY_OPENCL_DEVICE, with
 * its settings: wg=, vw=, profile=, maxwg= ...) selects, from the embedded
 * kernels or opts->kernel_dir (GANTRY_CL_DIR); opts->gemm
 * (GANTRY_OPENCL_GEMM) is checked as create() checks it.  Needs the
 * device, not its compiler.  The options are those create() starts with: a
 * device whose compiler fits some kernel only in smaller work-groups makes
 * create() halve WG and build again, which an offline binary cannot (it
 * then fails naming the kernel: compile with a smaller wg=).  Returns
 * GANTRY_OK, or an error reported through opts->host->set_error. */
typedef gantry_status gantry_opencl_program_source_fn(const gantry_backend_options *opts,
                                                      gantry_opencl_program *out);

/* The module's definition is checked against this declaration; a tool
 * calls it through the pointer dlsym() returns. */
gantry_opencl_program_source_fn gantry_opencl_program_source;

#ifdef __cplusplus
}
#endif
#endif
