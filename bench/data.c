/* The algorithms of bench/data_x86_64.ir in C: immutable strings rebuilt
 * by concatenation, a doubling array, a sorted array map with binary
 * search and insertion by moving entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *ptr; long len; } str;
static str concat(str a, str b) {
    str s = { malloc(a.len + b.len + 1), a.len + b.len };
    memcpy(s.ptr, a.ptr, a.len);
    memcpy(s.ptr + a.len, b.ptr, b.len);
    return s;
}
static str int_to_str(long v) {
    str s = { malloc(24), 0 };
    s.len = sprintf(s.ptr, "%ld", v);
    return s;
}
typedef struct { long key, value; } entry;
typedef struct { entry *e; long len, cap; } map;
static long find(map *m, long key) {
    long lo = 0, hi = m->len;
    while (lo < hi) { long mid = (lo + hi) / 2; if (m->e[mid].key < key) lo = mid + 1; else hi = mid; }
    return lo;
}
static void put(map *m, long key, long value) {
    long i = find(m, key);
    if (i < m->len && m->e[i].key == key) { m->e[i].value = value; return; }
    if (m->len == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        entry *n = malloc(m->cap * sizeof(entry));
        memcpy(n, m->e, m->len * sizeof(entry));
        m->e = n;
    }
    memmove(m->e + i + 1, m->e + i, (m->len - i) * sizeof(entry));
    m->e[i].key = key; m->e[i].value = value; m->len++;
}
static long get(map *m, long key) {
    long i = find(m, key);
    return i < m->len && m->e[i].key == key ? m->e[i].value : 0;
}
int main(void) {
    str s = { "", 0 };
    for (long i = 0; i < 20000; i++) s = concat(s, int_to_str(i % 10));
    printf("%ld\n", s.len);
    long len = 0, cap = 0, *a = NULL;
    for (long i = 0; i < 1000000; i++) {
        if (len == cap) { cap = cap ? 2 * cap : 4; long *n = malloc(cap * 8); if (a) memcpy(n, a, len * 8); a = n; }
        a[len++] = i;
    }
    long sum = 0;
    for (int p = 0; p < 10; p++) for (long i = 0; i < len; i++) sum += a[i];
    printf("%ld\n", sum);
    map m = { NULL, 0, 0 };
    for (long i = 0; i < 100000; i++) put(&m, (i * 7919) % 100003, i);
    long total = 0;
    for (long i = 0; i < 100000; i++) total += get(&m, (i * 7919) % 100003);
    printf("%ld\n", total);
    return 0;
}
