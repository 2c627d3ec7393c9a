/* coreseal/cose.h: the COSE pieces OSCORE and EDHOC stand on (RFC 9052,
 * RFC 9053): the algorithm table, Enc_structure for Encrypt0,
 * Sig_structure for Signature1, and COSE_Key. */
#ifndef CORESEAL_COSE_H
#define CORESEAL_COSE_H

#include "coreseal/common.h"

typedef enum {
    COSE_OK = 0,
    COSE_ERR_BAD_ARG = CS_ERR_RANGE_COSE | 0x01,
    COSE_ERR_NO_SPACE,       /* output buffer too small */
    COSE_ERR_MALFORMED,      /* not valid CBOR of the expected shape */
    COSE_ERR_UNKNOWN_ALG,    /* algorithm not in the table */
    COSE_ERR_MISSING_PARAM,  /* a parameter the key type requires is absent */
    COSE_ERR_BAD_KEY_TYPE,   /* kty/crv combination not supported */
    COSE_ERR_DUPLICATE_LABEL /* the same map label twice (RFC 9052 §3) */
} cose_err_t;

/* Header parameter labels (RFC 9052 §3.1, RFC 8613 §6.1, RFC 9360, RFC 9528). */
enum {
    COSE_HDR_ALG = 1,
    COSE_HDR_CRIT = 2,
    COSE_HDR_CONTENT_TYPE = 3,
    COSE_HDR_KID = 4,
    COSE_HDR_IV = 5,
    COSE_HDR_PARTIAL_IV = 6,
    COSE_HDR_KID_CONTEXT = 10,
    COSE_HDR_KCWT = 13,
    COSE_HDR_KCCS = 14,
    COSE_HDR_X5CHAIN = 33,
    COSE_HDR_X5T = 34,
};

/* COSE_Key labels and values (RFC 9052 §7, RFC 9053 §7). */
enum {
    COSE_KEY_KTY = 1,
    COSE_KEY_KID = 2,
    COSE_KEY_ALG = 3,
    COSE_KEY_CRV = -1,
    COSE_KEY_K = -1,
    COSE_KEY_X = -2,
    COSE_KEY_Y = -3,
    COSE_KEY_D = -4,
    COSE_KTY_OKP = 1,
    COSE_KTY_EC2 = 2,
    COSE_KTY_SYMMETRIC = 4,
};

typedef enum {
    COSE_ALG_KIND_AEAD,
    COSE_ALG_KIND_HASH,
    COSE_ALG_KIND_HKDF, /* "HKDF SHA-256" etc. as OSCORE names them */
    COSE_ALG_KIND_SIGN,
} cose_alg_kind_t;

typedef struct {
    int32_t id;
    const char *name;
    cose_alg_kind_t kind;
    uint8_t key_len;   /* AEAD key bytes */
    uint8_t nonce_len; /* AEAD nonce bytes */
    uint8_t tag_len;   /* AEAD tag bytes */
    int32_t hash;      /* HKDF: the hash it uses; HASH: itself */
} cose_alg_info_t;

/* NULL if the algorithm is not one coreseal knows. Names compare exactly
 * ("AES-CCM-16-64-128", "A128GCM", "HKDF SHA-256", "EdDSA", ...). */
const cose_alg_info_t *cose_alg_by_id(int32_t id);
const cose_alg_info_t *cose_alg_by_name(const char *name);

/* ["Encrypt0", protected, external_aad] (RFC 9052 §5.3). */
CS_MUST_CHECK cose_err_t cose_encode_enc_structure(uint8_t *out, size_t cap, size_t *len,
                                                   const uint8_t *protected_hdr,
                                                   size_t protected_len,
                                                   const uint8_t *external_aad,
                                                   size_t external_aad_len);

/* ["Signature1", body_protected, external_aad, payload] (RFC 9052 §4.4). */
CS_MUST_CHECK cose_err_t cose_encode_sig_structure(uint8_t *out, size_t cap, size_t *len,
                                                   const uint8_t *protected_hdr,
                                                   size_t protected_len,
                                                   const uint8_t *external_aad,
                                                   size_t external_aad_len,
                                                   const uint8_t *payload, size_t payload_len);

/* A COSE_Key as a view: byte fields point into the decoded input or into
 * caller memory when encoding. Absent byte fields have length 0 and NULL. */
typedef struct {
    int64_t kty;
    int64_t crv;     /* OKP/EC2 */
    int64_t alg;     /* valid when has_alg */
    bool has_alg;
    const uint8_t *kid;
    size_t kid_len;
    const uint8_t *x, *y, *d, *k;
    size_t x_len, y_len, d_len, k_len;
} cose_key_t;

/* Deterministic encoding: labels in the order RFC 8949 §4.2.1 requires. */
CS_MUST_CHECK cose_err_t cose_key_encode(const cose_key_t *key, uint8_t *out, size_t cap,
                                         size_t *len);
/* Unknown labels are skipped; kty-specific members are checked. */
CS_MUST_CHECK cose_err_t cose_key_decode(cose_key_t *key, const uint8_t *in, size_t len);

#endif
