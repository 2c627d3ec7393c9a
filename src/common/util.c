/* Secure wipe and constant-time compare: the two helpers every layer that
 * touches secrets needs (design.md, "Secrets"). */
#include "coreseal/common.h"

#include <string.h>

void cs_wipe(void *p, size_t n)
{
    /* A volatile function pointer keeps the call alive: the compiler cannot
     * prove it is memset, so it cannot drop it as a dead store. */
    static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;
    if (p != NULL && n > 0)
        wipe_memset(p, 0, n);
}

bool cs_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}
