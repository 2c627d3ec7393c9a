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

/* Not part of the door: an X.509 v3 certificate (DER, into out[cap]) for
 * the public key pub on crv (door format), subject CN=cn, valid from now
 * for `days`, a CA (basicConstraints CA:TRUE, keyCertSign) if ca. Signed
 * by issuer_priv on issuer_crv (P-256, P-384 or Ed25519) whose certificate
 * is issuer_cert (DER), or, with issuer_cert NULL, self-signed (issuer_priv
 * being the key's own). For `coreseal edhoc keygen --x509` and tests. */
CS_MUST_CHECK cs_crypto_err_t cs_openssl_make_certificate(int32_t crv, const uint8_t *pub, size_t pub_len,
                                                          const char *cn, unsigned days, bool ca,
                                                          int32_t issuer_crv, const uint8_t *issuer_priv,
                                                          size_t issuer_priv_len, const uint8_t *issuer_cert,
                                                          size_t issuer_cert_len, uint8_t *out, size_t cap,
                                                          size_t *len);

/* The subject's (first) common name of an OpenSSL X509 into out[cap]:
 * false, with out "", if there is none, it does not fit, or it holds a
 * NUL (a name cut short could pass for another). x509_verify's CN, and
 * the DTLS layer's peer names. */
struct x509_st;
bool cs_openssl_subject_cn(const struct x509_st *x, char *out, size_t cap);

/* The certificate der as PEM text ("-----BEGIN CERTIFICATE-----"...), a
 * NUL-terminated string in out[cap]. */
CS_MUST_CHECK cs_crypto_err_t cs_openssl_certificate_pem(const uint8_t *der, size_t len, char *out, size_t cap);

#endif
