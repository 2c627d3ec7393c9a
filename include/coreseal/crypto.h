/* coreseal/crypto.h: the one door through which the core reaches crypto.
 *
 * A backend fills a cs_crypto_t with function pointers and an opaque state
 * pointer (for caches or a PSA key store). Algorithms are named by their
 * COSE identifiers (RFC 9053, IANA "COSE Algorithms"/"COSE Elliptic
 * Curves"), so no translation table sits between the protocols and the door.
 * Keys cross the door as raw bytes, which both OpenSSL and PSA
 * (psa_import_key) accept.
 *
 * Key and point formats:
 *   X25519, Ed25519: 32-byte raw keys (RFC 7748, RFC 8032).
 *   P-256/P-384 private: the scalar (32/48 bytes, big endian).
 *   P-256/P-384 public:  SEC1 uncompressed (04||x||y) or compressed
 *                        (02/03||x); ECDH output is the x coordinate.
 *   ECDSA signatures:    r||s, fixed width (RFC 9053 §2.1), never DER. */
#ifndef CORESEAL_CRYPTO_H
#define CORESEAL_CRYPTO_H

#include "coreseal/common.h"

typedef enum {
    CS_CRYPTO_OK = 0,
    CS_CRYPTO_ERR_BAD_ARG = CS_ERR_RANGE_CRYPTO | 0x01,
    CS_CRYPTO_ERR_UNSUPPORTED, /* algorithm not offered by this backend */
    CS_CRYPTO_ERR_AUTH,        /* AEAD tag or signature did not verify */
    CS_CRYPTO_ERR_BAD_KEY,     /* key or point rejected (wrong size, not on curve) */
    CS_CRYPTO_ERR_NO_SPACE,    /* output buffer too small */
    CS_CRYPTO_ERR_BACKEND,     /* the backend library failed */
    CS_CRYPTO_ERR_RANDOM,      /* no randomness available */
} cs_crypto_err_t;

/* COSE algorithm identifiers used at the door. */
enum {
    CS_AEAD_A128GCM = 1,
    CS_AEAD_A192GCM = 2,
    CS_AEAD_A256GCM = 3,
    CS_AEAD_AES_CCM_16_64_128 = 10,
    CS_AEAD_AES_CCM_16_64_256 = 11,
    CS_AEAD_CHACHA20_POLY1305 = 24,
    CS_AEAD_AES_CCM_16_128_128 = 30,
    CS_HASH_SHA256 = -16,
    CS_HASH_SHA384 = -43,
    CS_SIG_EDDSA = -8,
    CS_SIG_ES256 = -7,
    CS_SIG_ES384 = -35,
    CS_CRV_P256 = 1,
    CS_CRV_P384 = 2,
    CS_CRV_X25519 = 4,
    CS_CRV_ED25519 = 6,
};

#define CS_AEAD_MAX_KEY 32
#define CS_AEAD_MAX_NONCE 13
#define CS_AEAD_MAX_TAG 16
#define CS_HASH_MAX 48
#define CS_EC_MAX_PRIV 48
#define CS_EC_MAX_PUB 97 /* 04 || x || y for P-384 */
#define CS_SIG_MAX 96

/* What a caller can ask a backend whether it has. */
typedef enum {
    CS_OP_AEAD,
    CS_OP_HASH, /* and HKDF with that hash */
    CS_OP_ECDH, /* alg = curve */
    CS_OP_SIGN, /* alg = signature algorithm */
} cs_crypto_op_t;

typedef struct cs_crypto {
    void *state;
    const char *name;

    bool (*supports)(void *state, cs_crypto_op_t op, int32_t alg);

    /* ct gets pt_len ciphertext bytes then the tag; ct == pt is allowed
     * (in place), other overlap is not. Key and nonce lengths are those of
     * the COSE algorithm (cose_alg_info). */
    cs_crypto_err_t (*aead_seal)(void *state, int32_t alg, const uint8_t *key,
                                 const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                                 size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t *ct);
    /* ct_len includes the tag; pt gets ct_len - tag bytes; pt == ct is
     * allowed. On CS_CRYPTO_ERR_AUTH the output has been wiped. */
    cs_crypto_err_t (*aead_open)(void *state, int32_t alg, const uint8_t *key,
                                 const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                                 size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt);

    cs_crypto_err_t (*hash)(void *state, int32_t alg, const uint8_t *msg, size_t len,
                            uint8_t *out);
    /* RFC 5869. prk is hash-length bytes. */
    cs_crypto_err_t (*hkdf_extract)(void *state, int32_t hash_alg, const uint8_t *salt,
                                    size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                    uint8_t *prk);
    cs_crypto_err_t (*hkdf_expand)(void *state, int32_t hash_alg, const uint8_t *prk,
                                   size_t prk_len, const uint8_t *info, size_t info_len,
                                   uint8_t *okm, size_t okm_len);

    /* Fresh key pair for an ECDH curve or a signature curve. */
    cs_crypto_err_t (*keygen)(void *state, int32_t crv, uint8_t *priv, size_t *priv_len,
                              uint8_t *pub, size_t *pub_len);
    /* Public key of a private key (pub: CS_EC_MAX_PUB bytes; NIST curves
     * uncompressed). */
    cs_crypto_err_t (*public_key)(void *state, int32_t crv, const uint8_t *priv,
                                  size_t priv_len, uint8_t *pub, size_t *pub_len);
    cs_crypto_err_t (*ecdh)(void *state, int32_t crv, const uint8_t *priv, size_t priv_len,
                            const uint8_t *peer_pub, size_t peer_len, uint8_t *secret,
                            size_t *secret_len);

    cs_crypto_err_t (*sign)(void *state, int32_t alg, const uint8_t *priv, size_t priv_len,
                            const uint8_t *msg, size_t msg_len, uint8_t *sig,
                            size_t *sig_len);
    cs_crypto_err_t (*verify)(void *state, int32_t alg, const uint8_t *pub, size_t pub_len,
                              const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                              size_t sig_len);

    cs_crypto_err_t (*random)(void *state, uint8_t *buf, size_t len);

    /* X.509 (optional: NULL in a backend without it). The public key of
     * chain[0], the end-entity certificate (DER), once chain[0..n) (its
     * issuers as the peer sent them) verifies at the current time up to
     * one of the anchors (DER; an anchor is trusted as given, self-signed
     * or not): *crv its curve, pub (CS_EC_MAX_PUB bytes) in the door's
     * format, and (cn not NULL) its subject's common name, "" without one
     * that fits cn_cap. CS_CRYPTO_ERR_BAD_KEY for a certificate that does
     * not parse or a key on a curve the door lacks, CS_CRYPTO_ERR_AUTH when
     * the chain does not verify. */
    cs_crypto_err_t (*x509_verify)(void *state, const uint8_t *const *chain, const size_t *chain_len,
                                   size_t n, const uint8_t *const *anchors, const size_t *anchor_len,
                                   size_t n_anchors, int32_t *crv, uint8_t *pub, size_t *pub_len, char *cn,
                                   size_t cn_cap);
} cs_crypto_t;

/* Sizes by algorithm, 0 if unknown: digest length of a hash algorithm,
 * private/public/signature sizes of a curve or signature algorithm. */
size_t cs_hash_len(int32_t hash_alg);
size_t cs_crv_priv_len(int32_t crv);
size_t cs_sig_len(int32_t sig_alg);
/* Curve a signature algorithm runs on (EdDSA: Ed25519). */
int32_t cs_sig_curve(int32_t sig_alg);

#endif
