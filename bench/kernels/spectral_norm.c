/* spectral_norm: the largest eigenvalue of A^T A by ten power iterations,
 * A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1) from eval_a. */
#include "v_print.h"

static double eval_a(int64_t i, int64_t j) {
    return 1.0 / (double)((i + j) * (i + j + 1) / 2 + i + 1);
}

static void mul_av(int64_t n, const double *v, double *av) {
    for (int64_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) sum = sum + eval_a(i, j) * v[j];
        av[i] = sum;
    }
}

static void mul_atv(int64_t n, const double *v, double *atv) {
    for (int64_t i = 0; i < n; i++) {
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) sum = sum + eval_a(j, i) * v[j];
        atv[i] = sum;
    }
}

static void mul_atav(int64_t n, const double *v, double *atav, double *tmp) {
    mul_av(n, v, tmp);
    mul_atv(n, tmp, atav);
}

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 4000);
    double *u = v_alloc(n * sizeof *u), *v = v_alloc(n * sizeof *v), *tmp = v_alloc(n * sizeof *tmp);
    for (int64_t i = 0; i < n; i++) {
        u[i] = 1.0;
        v[i] = 0.0;
        tmp[i] = 0.0;
    }
    for (int64_t i = 0; i < 10; i++) {
        mul_atav(n, u, v, tmp);
        mul_atav(n, v, u, tmp);
    }
    double vbv = 0.0, vv = 0.0;
    for (int64_t i = 0; i < n; i++) {
        vbv = vbv + u[i] * v[i];
        vv = vv + v[i] * v[i];
    }
    v_print_str("vBv: ");
    v_print_float(vbv);
    v_print_str("vv: ");
    v_print_float(vv);
    v_print_str("norm: ");
    v_print_float(sqrt(vbv / vv));
    return 0;
}
