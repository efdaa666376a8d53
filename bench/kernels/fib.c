/* fib: naive doubly recursive Fibonacci. */
#include "v_print.h"

static int64_t fib(int64_t n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 42);
    v_print_str("fib: ");
    v_print_int(fib(n));
    return 0;
}
