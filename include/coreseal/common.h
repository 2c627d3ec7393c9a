/* coreseal/common.h: what every module shares: the error-code scheme,
 * secure wiping and constant-time comparison.
 *
 * Error codes: 0 is success everywhere; each module owns one range so a
 * single coreseal_strerror() explains any code (BearSSL-style ranges). */
#ifndef CORESEAL_COMMON_H
#define CORESEAL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define CS_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CS_MUST_CHECK
#endif

/* Module ranges: code = range | detail. */
#define CS_ERR_RANGE_CBOR 0x0100
#define CS_ERR_RANGE_COSE 0x0200
#define CS_ERR_RANGE_COAP 0x0300
#define CS_ERR_RANGE_OSCORE 0x0400
#define CS_ERR_RANGE_EDHOC 0x0500
#define CS_ERR_RANGE_LWM2M 0x0600
#define CS_ERR_RANGE_CRYPTO 0x0700
#define CS_ERR_RANGE_STORE 0x0800 /* host layer: files */
#define CS_ERR_RANGE_NET 0x0900   /* host layer: sockets */

#define CS_OK 0

/* Time in milliseconds on the host's monotonic clock; the core never reads
 * a clock itself, every timer function takes `now`. */
typedef uint64_t cs_time_ms_t;
#define CS_TIME_NEVER UINT64_MAX

/* "OSCORE: replayed or old message"; never NULL, never allocates. */
const char *coreseal_strerror(int code);
/* "OSCORE_ERR_REPLAY", for logs and -v output; never NULL. */
const char *coreseal_errname(int code);

/* Zero a secret; the compiler may not elide it. */
void cs_wipe(void *p, size_t n);

/* True when a and b hold the same n bytes; time depends on n only. */
CS_MUST_CHECK bool cs_ct_equal(const void *a, const void *b, size_t n);

#endif
