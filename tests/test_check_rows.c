/* `gantry check` covers the backend ABI: every method of GANTRY_BACKEND_OPS
 * has a row in its family's file (tools/check/FAMILY.c) or is listed as
 * checked through the others (buffer_alloc, buffer_free, synchronize), and
 * every row names its metric, limit and reason once.  A new method without
 * a check row fails here. */
#include <stdio.h>

#include "tests/test.h"
#include "tools/check/rows.h"

int main(void)
{
    size_t gaps = check_coverage(stderr);
    printf("%d ops, %zu checked through others, %zu gaps\n", (int)CHECK_OP_COUNT, check_indirect_count, gaps);
    CHECK(gaps == 0);
    /* --op finds every method with rows and nothing else */
    check_op op;
    CHECK(check_op_lookup("gemm", &op) && op == CHECK_OP_gemm);
    CHECK(check_op_lookup("trajectory", &op) && op == CHECK_OP_trajectory);
    CHECK(!check_op_lookup("synchronize", &op));
    CHECK(!check_op_lookup("nosuch", &op));
    return test_finish("test_check_rows");
}
