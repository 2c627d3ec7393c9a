/* coreseal/crypto_openssl.h: the default crypto backend, on OpenSSL 3.
 *
 * The backend state caches one cipher context per AEAD so that protecting a
 * message re-keys a context instead of allocating one: after warm-up the
 * OSCORE fast path makes no heap allocation. One state per thread. */
#ifndef CORESEAL_CRYPTO_OPENSSL_H
#define CORESEAL_CRYPTO_OPENSSL_H

#include "coreseal/crypto.h"

typedef struct cs_openssl cs_openssl_t;

/* Creates the backend state and fills *c. Returns CS_CRYPTO_ERR_BACKEND if
 * OpenSSL cannot be set up. */
CS_MUST_CHECK cs_crypto_err_t cs_crypto_openssl_new(cs_crypto_t *c);
void cs_crypto_openssl_free(cs_crypto_t *c);

#endif
