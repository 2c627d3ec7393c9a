/* Shared by the host-side store files (context, state, EDHOC key files);
 * not part of the public API. */
#ifndef CORESEAL_STORE_INTERNAL_H
#define CORESEAL_STORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* n hex digits (either case) into out (cap bytes); false on an odd count,
 * a non-hex character or too many bytes. */
bool cs_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len);
/* A JSON string of 2n lowercase hex digits. */
json_t *cs_json_hex(const uint8_t *p, size_t n);

#endif
