/* strings: build n short lines with int_to_str and string_concat, joined
 * into chunks of at most 64 bytes; strings are immutable (ptr, len) pairs
 * on the bump heap, as the backend's. */
#include "v_print.h"

struct string {
    const char *ptr;
    int64_t len;
};

static struct string concat(struct string a, struct string b) {
    char *p = v_alloc(a.len + b.len);
    memcpy(p, a.ptr, a.len);
    memcpy(p + a.len, b.ptr, b.len);
    return (struct string){p, a.len + b.len};
}

static struct string int_to_str(int64_t n) {
    char digits[24];
    int count = 0;
    uint64_t magnitude = n < 0 ? -(uint64_t)n : (uint64_t)n;
    do {
        digits[count++] = '0' + magnitude % 10;
        magnitude /= 10;
    } while (magnitude != 0);
    if (n < 0) digits[count++] = '-';
    char *p = v_alloc(count);
    for (int i = 0; i < count; i++) p[i] = digits[count - 1 - i];
    return (struct string){p, count};
}

static struct string lit(const char *s) { return (struct string){s, (int64_t)strlen(s)}; }

int main(int argc, char **argv) {
    int64_t n = v_size_arg(argc, argv, 6000000);
    struct string chunk = lit("");
    int64_t total = 0, chunks = 0;
    for (int64_t i = 0; i < n; i++) {
        struct string line = concat(concat(lit("item "), int_to_str(i * 7 - 1000)), lit(";"));
        total += line.len;
        chunk = concat(chunk, line);
        if (chunk.len > 64) {
            chunks += 1;
            chunk = lit("");
        }
    }
    v_print_str("total length: ");
    v_print_int(total);
    v_print_str("chunks: ");
    v_print_int(chunks);
    printf("%.*s\n", (int)chunk.len, chunk.ptr);
    return 0;
}
