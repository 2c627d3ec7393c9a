/* bench/measure.h: what the benchmarks measure with: a monotonic clock, and
 * a count of every heap allocation of the process (OpenSSL's included),
 * by replacing malloc/calloc/realloc. Include it in one file per program. */
#ifndef CORESEAL_BENCH_MEASURE_H
#define CORESEAL_BENCH_MEASURE_H

#include <stddef.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long allocations;
void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
