/* binary_trees: allocate and walk perfect binary trees (the benchmark
 * game's binary-trees, nodes from the bump heap, never freed). */
#include "v_print.h"

struct node {
    struct node *left, *right;
};

static struct node *make(int64_t depth) {
    struct node *n = v_alloc(sizeof *n);
    n->left = NULL;
    n->right = NULL;
    if (depth > 0) {
        n->left = make(depth - 1);
        n->right = make(depth - 1);
    }
    return n;
}

static int64_t check(struct node *n) {
    if (n->left == NULL) return 1;
    return 1 + check(n->left) + check(n->right);
}

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 18);
    int64_t min_depth = 4, max_depth = n;
    if (min_depth + 2 > n) max_depth = min_depth + 2;
    v_print_str("stretch tree check: ");
    v_print_int(check(make(max_depth + 1)));
    struct node *long_lived = make(max_depth);
    for (int64_t depth = min_depth; depth <= max_depth; depth += 2) {
        int64_t iterations = (int64_t)1 << (max_depth - depth + min_depth);
        int64_t sum = 0;
        for (int64_t i = 0; i < iterations; i++) sum += check(make(depth));
        v_print_str("depth ");
        printf("%lld", (long long)depth);
        v_print_str(" check: ");
        v_print_int(sum);
    }
    v_print_str("long lived tree check: ");
    v_print_int(check(long_lived));
    return 0;
}
