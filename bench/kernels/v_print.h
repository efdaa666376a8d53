/* What the C twins share: printing as the backend's IR prints (print_int,
 * print_float: V's f64 text), reading the size argument as string__int
 * does, and a bump arena like the backend's heap (nothing freed), so both
 * sides of a kernel do the same work. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* string__int: optional sign, then decimal digits up to the first other
 * byte; none gives 0. */
static int64_t v_string_int(const char *s) {
    int64_t sign = 1, n = 0;
    if (*s == '-' || *s == '+') sign = *s++ == '-' ? -1 : 1;
    while (*s >= '0' && *s <= '9') n = n * 10 + (*s++ - '0');
    return sign * n;
}

/* The size argument argv[1], or `fallback` when there is none. */
static int64_t v_size_arg(int argc, char **argv, int64_t fallback) {
    return argc >= 2 ? v_string_int(argv[1]) : fallback;
}

/* print_float: the shortest decimal that reads back to x, plain for
 * 1e-5 <= |x| < 1e16 (always with a fraction: "1.0"), else d[.ddd]e±XX. */
static void v_print_float(double x) {
    if (x != x) { puts("nan"); return; }
    if (x == 1.0 / 0.0) { puts("inf"); return; }
    if (x == -1.0 / 0.0) { puts("-inf"); return; }
    if (x == 0.0) { puts(signbit(x) ? "-0.0" : "0.0"); return; }
    char buf[64];
    int precision;
    for (precision = 0; precision < 17; precision++) {
        snprintf(buf, sizeof buf, "%.*e", precision, x);
        if (strtod(buf, NULL) == x) break;
    }
    /* buf is [-]d[.ddd]e±XX: split it into digits and exponent. */
    char digits[32];
    int n = 0, negative = buf[0] == '-';
    char *p = buf + negative;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[n++] = *p;
    digits[n] = 0;
    int exponent = atoi(p + 1);
    double magnitude = negative ? -x : x;
    if (negative) putchar('-');
    if (magnitude >= 1e-5 && magnitude < 1e16) {
        if (exponent >= 0) {
            for (int i = 0; i <= exponent; i++) putchar(i < n ? digits[i] : '0');
            putchar('.');
            if (exponent + 1 >= n) putchar('0');
            else fputs(digits + exponent + 1, stdout);
        } else {
            fputs("0.", stdout);
            for (int i = 0; i < -exponent - 1; i++) putchar('0');
            fputs(digits, stdout);
        }
    } else {
        putchar(digits[0]);
        if (n > 1) printf(".%s", digits + 1);
        printf("e%c%02d", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
    }
    putchar('\n');
}

/* print_int */
static void v_print_int(int64_t n) { printf("%lld\n", (long long)n); }

/* print_str of a literal */
static void v_print_str(const char *s) { fputs(s, stdout); }

/* The backend's heap: bump allocation from large regions, never freed. */
static char *v_arena_next, *v_arena_end;
static void *v_alloc(size_t size) {
    size = (size + 7) & ~(size_t)7;
    if ((size_t)(v_arena_end - v_arena_next) < size) {
        size_t region = size > (64u << 20) ? size : (64u << 20);
        v_arena_next = malloc(region);
        if (!v_arena_next) { fputs("out of memory\n", stderr); exit(1); }
        v_arena_end = v_arena_next + region;
    }
    void *p = v_arena_next;
    v_arena_next += size;
    return p;
}
