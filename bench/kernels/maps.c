/* maps: n pseudo-random int keys inserted into a map, then 4n lookups.
 * The map is the backend's: entries sorted by key in one array, binary
 * search, inserting shifts the entries above. */
#include "v_print.h"

struct entry {
    int64_t key, value;
};
struct map {
    struct entry *entries;
    int64_t len, cap;
};

/* The index of key, or where it would go. */
static int64_t find(const struct map *m, int64_t key) {
    int64_t lo = 0, hi = m->len;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (m->entries[mid].key < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void map_put(struct map *m, int64_t key, int64_t value) {
    int64_t i = find(m, key);
    if (i < m->len && m->entries[i].key == key) {
        m->entries[i].value = value;
        return;
    }
    if (m->len == m->cap) {
        int64_t cap = m->cap == 0 ? 8 : m->cap * 2;
        struct entry *entries = v_alloc(cap * sizeof *entries);
        memcpy(entries, m->entries, m->len * sizeof *entries);
        m->entries = entries;
        m->cap = cap;
    }
    memmove(m->entries + i + 1, m->entries + i, (m->len - i) * sizeof *m->entries);
    m->entries[i] = (struct entry){key, value};
    m->len += 1;
}

static int64_t map_get(const struct map *m, int64_t key) {
    int64_t i = find(m, key);
    return i < m->len && m->entries[i].key == key ? m->entries[i].value : 0;
}

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 100000);
    struct map m = {NULL, 0, 0};
    int64_t seed = 42;
    for (int64_t i = 0; i < n; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        map_put(&m, seed % (n * 4), i + 1);
    }
    int64_t found = 0, sum = 0;
    for (int64_t key = 0; key < n * 4; key++) {
        int64_t value = map_get(&m, key);
        if (value != 0) {
            found += 1;
            sum += value * (key % 1000);
        }
    }
    v_print_str("size: ");
    v_print_int(m.len);
    v_print_str("found: ");
    v_print_int(found);
    v_print_str("sum: ");
    v_print_int(sum);
    return 0;
}
