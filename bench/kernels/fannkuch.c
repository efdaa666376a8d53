/* fannkuch: pancake flips over every permutation of 0..n-1 (the
 * benchmark game's fannkuch-redux, one thread). */
#include "v_print.h"

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 11);
    int64_t *perm = v_alloc(n * 8), *perm1 = v_alloc(n * 8), *count = v_alloc(n * 8);
    for (int64_t i = 0; i < n; i++) {
        perm[i] = 0;
        perm1[i] = i;
        count[i] = 0;
    }
    int64_t max_flips = 0, checksum = 0, perm_count = 0, r = n;
    for (;;) {
        while (r != 1) {
            count[r - 1] = r;
            r -= 1;
        }
        for (int64_t i = 0; i < n; i++) perm[i] = perm1[i];
        int64_t flips = 0;
        for (;;) {
            int64_t k = perm[0];
            if (k == 0) break;
            int64_t lo = 0, hi = k;
            while (lo < hi) {
                int64_t t = perm[lo];
                perm[lo] = perm[hi];
                perm[hi] = t;
                lo += 1;
                hi -= 1;
            }
            flips += 1;
        }
        if (flips > max_flips) max_flips = flips;
        if (perm_count % 2 == 0) checksum += flips;
        else checksum -= flips;
        /* the next permutation */
        for (;;) {
            if (r == n) {
                v_print_str("checksum: ");
                v_print_int(checksum);
                v_print_str("max flips: ");
                v_print_int(max_flips);
                return 0;
            }
            int64_t perm0 = perm1[0];
            for (int64_t i = 0; i < r; i++) perm1[i] = perm1[i + 1];
            perm1[r] = perm0;
            count[r] -= 1;
            if (count[r] > 0) break;
            r += 1;
        }
        perm_count += 1;
    }
}
