/* mandelbrot: an n x n grid over [-1.5, 0.5] x [-1, 1], 50 iterations. */
#include "v_print.h"

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 4000);
    int64_t inside = 0, iterations = 0;
    for (int64_t y = 0; y < n; y++) {
        double ci = 2.0 * (double)y / (double)n - 1.0;
        for (int64_t x = 0; x < n; x++) {
            double cr = 2.0 * (double)x / (double)n - 1.5;
            double zr = 0.0, zi = 0.0;
            int64_t i = 0;
            for (; i < 50; i++) {
                double tr = zr * zr - zi * zi + cr;
                double ti = 2.0 * zr * zi + ci;
                zr = tr;
                zi = ti;
                if (zr * zr + zi * zi > 4.0) break;
            }
            if (i == 50) inside += 1;
            iterations += i;
        }
    }
    v_print_str("inside: ");
    v_print_int(inside);
    v_print_str("iterations: ");
    v_print_int(iterations);
    return 0;
}
