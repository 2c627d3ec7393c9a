/* LD_PRELOAD helper for benchmarks: counts heap allocations of a process
 * and prints the total at exit ("malloc_count: N"). */
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long count;

void *malloc(size_t n) { count++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count++; return __libc_realloc(p, n); }

__attribute__((destructor)) static void report(void)
{
    fprintf(stderr, "malloc_count: %lu\n", count);
}
