/* `gantry train` in a build without MPI: always rank 0 of 1 (see
 * train_mpi.h).  Started by mpirun with more processes, each would train
 * alone into the same files, so that is refused. */
#include <stdio.h>
#include <stdlib.h>

#include "tools/cli.h"
#include "tools/train.h"
#include "tools/train_mpi.h"

int train_mpi_init(const train_mpi_options *o)
{
    (void)o;
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) {
            fprintf(stderr, "gantry: started by an MPI launcher with %s processes, but this gantry was built without "
                            "MPI (meson setup -Dmpi=enabled, with libopenmpi-dev installed)\n", v);
            return CLI_ERROR;
        }
    }
    return CLI_OK;
}

int train_mpi_end(int rc)
{
    return rc;
}

int train_mpi_on(void)
{
    return 0;
}

unsigned train_mpi_rank(void)
{
    return 0;
}

unsigned train_mpi_world(void)
{
    return 1;
}

gantry_status train_mpi_agree(gantry_status s)
{
    return s;
}

gantry_status train_mpi_rank0_first(gantry_status (*fn)(void *user), void *user)
{
    return fn(user);
}

gantry_status train_mpi_attach(train_session *t)
{
    return train_sync_bn(t, NULL);
}

gantry_status train_mpi_step_end(train_session *t, gantry_status s, gantry_gan_stats *st, int *interrupted)
{
    (void)t;
    (void)st;
    (void)interrupted;
    return s;
}

gantry_status train_mpi_sync(train_session *t, uint64_t step)
{
    (void)t;
    (void)step;
    return GANTRY_OK;
}

int train_mpi_check_due(uint64_t done)
{
    (void)done;
    return 0;
}

const char *train_mpi_summary(uint64_t steps, char *buf, size_t size)
{
    (void)steps;
    snprintf(buf, size, "%s", "");
    return buf;
}
