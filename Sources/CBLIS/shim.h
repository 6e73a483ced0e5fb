// The part of BLIS's typed API that lstmd uses (libblis-dev, BLIS 0.9).
//
// Declared here instead of including <blis.h>: that header includes <omp.h>, which only GCC
// ships, so Swift's clang cannot import it. The declarations match blis.h 0.9.0 on x86_64
// (dim_t and inc_t are 64-bit integers; trans_t and arch_t are int-sized enums, and lstmd passes
// only BLIS_NO_TRANSPOSE = 0, expressing transposes through the strides instead).
#include <stdint.h>

void bli_sgemm(
    int transa, int transb, int64_t m, int64_t n, int64_t k, float *alpha,
    float *a, int64_t rs_a, int64_t cs_a, float *b, int64_t rs_b, int64_t cs_b,
    float *beta, float *c, int64_t rs_c, int64_t cs_c);
void bli_thread_set_num_threads(int64_t value);
int bli_arch_query_id(void);
char *bli_arch_string(int id);
char *bli_info_get_version_str(void);
