/* matmul: naive n x n integer product, i-j-k loops, rows as arrays of
 * row pointers ([][]int). */
#include "v_print.h"

static int64_t **matrix(int64_t n, int64_t seed) {
    int64_t **m = v_alloc(n * sizeof *m);
    for (int64_t i = 0; i < n; i++) {
        int64_t *row = v_alloc(n * sizeof *row);
        for (int64_t j = 0; j < n; j++) row[j] = (i * j + seed) % 7 - 3;
        m[i] = row;
    }
    return m;
}

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 900);
    int64_t **a = matrix(n, 1), **b = matrix(n, 2), **c = matrix(n, 0);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t sum = 0;
            for (int64_t k = 0; k < n; k++) sum += a[i][k] * b[k][j];
            c[i][j] = sum;
        }
    }
    int64_t total = 0, trace = 0;
    for (int64_t i = 0; i < n; i++) {
        trace += c[i][i];
        for (int64_t j = 0; j < n; j++) total += c[i][j] * (i + j + 1);
    }
    v_print_str("trace: ");
    v_print_int(trace);
    v_print_str("weighted sum: ");
    v_print_int(total);
    return 0;
}
