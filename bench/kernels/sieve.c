/* sieve: Eratosthenes over an array of bytes, primes up to n. */
#include "v_print.h"

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 60000000);
    uint8_t *flags = v_alloc(n + 1);
    for (int64_t i = 0; i <= n; i++) flags[i] = 1;
    flags[0] = 0;
    flags[1] = 0;
    for (int64_t i = 2; i * i <= n; i++) {
        if (flags[i] != 0) {
            for (int64_t j = i * i; j <= n; j += i) flags[j] = 0;
        }
    }
    int64_t count = 0, sum = 0, last = 0;
    for (int64_t i = 0; i <= n; i++) {
        if (flags[i] != 0) {
            count += 1;
            sum += i;
            last = i;
        }
    }
    v_print_str("primes: ");
    v_print_int(count);
    v_print_str("sum: ");
    v_print_int(sum);
    v_print_str("largest: ");
    v_print_int(last);
    return 0;
}
