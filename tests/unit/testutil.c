/* Test helpers: hex decoding and loading the project's copies of the RFC
 * test vectors (tests/vectors/, see its README). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t tu_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ' || *p == '\n') {
            p++;
            continue;
        }
        int hi = nibble(p[0]), lo = p[1] ? nibble(p[1]) : -1;
        if (hi < 0 || lo < 0)
            fail_msg("bad hex near '%s'", p);
        if (n >= cap)
            fail_msg("hex longer than %zu bytes", cap);
        out[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return n;
}

json_t *tu_load_vectors(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CS_VECTORS_DIR, name);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (j == NULL)
        fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

size_t tu_json_hex(json_t *obj, const char *key, uint8_t *out, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("vector member '%s' missing or not a string", key);
    return tu_hex(json_string_value(v), out, cap);
}
