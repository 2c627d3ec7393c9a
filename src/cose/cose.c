/* COSE basics: algorithm table (RFC 9053 §2, §4, IANA), Enc_structure
 * (RFC 9052 §5.3), Sig_structure (§4.4) and COSE_Key (§7). */
#include "coreseal/cose.h"

#include "coreseal/cbor.h"
#include "coreseal/crypto.h"

#include <string.h>

static const cose_alg_info_t algs[] = {
    {CS_AEAD_AES_CCM_16_64_128, "AES-CCM-16-64-128", COSE_ALG_KIND_AEAD, 16, 13, 8, 0},
    {CS_AEAD_AES_CCM_16_64_256, "AES-CCM-16-64-256", COSE_ALG_KIND_AEAD, 32, 13, 8, 0},
    {CS_AEAD_AES_CCM_16_128_128, "AES-CCM-16-128-128", COSE_ALG_KIND_AEAD, 16, 13, 16, 0},
    {CS_AEAD_A128GCM, "A128GCM", COSE_ALG_KIND_AEAD, 16, 12, 16, 0},
    {CS_AEAD_A192GCM, "A192GCM", COSE_ALG_KIND_AEAD, 24, 12, 16, 0},
    {CS_AEAD_A256GCM, "A256GCM", COSE_ALG_KIND_AEAD, 32, 12, 16, 0},
    {CS_AEAD_CHACHA20_POLY1305, "ChaCha20/Poly1305", COSE_ALG_KIND_AEAD, 32, 12, 16, 0},
    {CS_HASH_SHA256, "SHA-256", COSE_ALG_KIND_HASH, 0, 0, 0, CS_HASH_SHA256},
    {CS_HASH_SHA384, "SHA-384", COSE_ALG_KIND_HASH, 0, 0, 0, CS_HASH_SHA384},
    {-10, "HKDF SHA-256", COSE_ALG_KIND_HKDF, 0, 0, 0, CS_HASH_SHA256},
    {CS_SIG_EDDSA, "EdDSA", COSE_ALG_KIND_SIGN, 0, 0, 0, 0},
    {CS_SIG_ES256, "ES256", COSE_ALG_KIND_SIGN, 0, 0, 0, CS_HASH_SHA256},
    {CS_SIG_ES384, "ES384", COSE_ALG_KIND_SIGN, 0, 0, 0, CS_HASH_SHA384},
};

const cose_alg_info_t *cose_alg_by_id(int32_t id)
{
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (algs[i].id == id)
            return &algs[i];
    return NULL;
}

const cose_alg_info_t *cose_alg_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    return NULL;
}

static cose_err_t finish(const cbor_enc_t *e, size_t *len)
{
    return cbor_enc_finish(e, len) == CBOR_OK ? COSE_OK : COSE_ERR_NO_SPACE;
}

cose_err_t cose_encode_enc_structure(uint8_t *out, size_t cap, size_t *len,
                                     const uint8_t *protected_hdr, size_t protected_len,
                                     const uint8_t *external_aad, size_t external_aad_len)
{
    if (!out || !len || (protected_len && !protected_hdr) || (external_aad_len && !external_aad))
        return COSE_ERR_BAD_ARG;
    cbor_enc_t e;
    cbor_enc_init(&e, out, cap);
    cbor_encode_array(&e, 3);
    cbor_encode_tstr(&e, "Encrypt0", 8);
    cbor_encode_bstr(&e, protected_hdr, protected_len);
    cbor_encode_bstr(&e, external_aad, external_aad_len);
    return finish(&e, len);
}

cose_err_t cose_encode_sig_structure(uint8_t *out, size_t cap, size_t *len,
                                     const uint8_t *protected_hdr, size_t protected_len,
                                     const uint8_t *external_aad, size_t external_aad_len,
                                     const uint8_t *payload, size_t payload_len)
{
    if (!out || !len || (protected_len && !protected_hdr) ||
        (external_aad_len && !external_aad) || (payload_len && !payload))
        return COSE_ERR_BAD_ARG;
    cbor_enc_t e;
    cbor_enc_init(&e, out, cap);
    cbor_encode_array(&e, 4);
    cbor_encode_tstr(&e, "Signature1", 10);
    cbor_encode_bstr(&e, protected_hdr, protected_len);
    cbor_encode_bstr(&e, external_aad, external_aad_len);
    cbor_encode_bstr(&e, payload, payload_len);
    return finish(&e, len);
}

/* ---------------------------------------------------------------- COSE_Key */

static cose_err_t key_check(const cose_key_t *k)
{
    switch (k->kty) {
    case COSE_KTY_OKP:
        if (k->crv != CS_CRV_X25519 && k->crv != CS_CRV_ED25519)
            return COSE_ERR_BAD_KEY_TYPE;
        return k->x_len || k->d_len ? COSE_OK : COSE_ERR_MISSING_PARAM;
    case COSE_KTY_EC2:
        if (k->crv != CS_CRV_P256 && k->crv != CS_CRV_P384)
            return COSE_ERR_BAD_KEY_TYPE;
        return k->x_len || k->d_len ? COSE_OK : COSE_ERR_MISSING_PARAM;
    case COSE_KTY_SYMMETRIC:
        return k->k_len ? COSE_OK : COSE_ERR_MISSING_PARAM;
    default:
        return COSE_ERR_BAD_KEY_TYPE;
    }
}

cose_err_t cose_key_encode(const cose_key_t *key, uint8_t *out, size_t cap, size_t *len)
{
    if (!key || !out || !len)
        return COSE_ERR_BAD_ARG;
    cose_err_t err = key_check(key);
    if (err != COSE_OK)
        return err;
    bool sym = key->kty == COSE_KTY_SYMMETRIC;
    size_t pairs = 1 + (key->kid_len > 0) + key->has_alg +
                   (sym ? 1 : 1 + (key->x_len > 0) + (key->y_len > 0) + (key->d_len > 0));
    /* Deterministic order: 1, 2, 3, then -1, -2, -3, -4 (encoded 0x20..). */
    cbor_enc_t e;
    cbor_enc_init(&e, out, cap);
    cbor_encode_map(&e, pairs);
    cbor_encode_int(&e, COSE_KEY_KTY);
    cbor_encode_int(&e, key->kty);
    if (key->kid_len) {
        cbor_encode_int(&e, COSE_KEY_KID);
        cbor_encode_bstr(&e, key->kid, key->kid_len);
    }
    if (key->has_alg) {
        cbor_encode_int(&e, COSE_KEY_ALG);
        cbor_encode_int(&e, key->alg);
    }
    if (sym) {
        cbor_encode_int(&e, COSE_KEY_K);
        cbor_encode_bstr(&e, key->k, key->k_len);
        return finish(&e, len);
    }
    cbor_encode_int(&e, COSE_KEY_CRV);
    cbor_encode_int(&e, key->crv);
    const uint8_t *vals[3] = {key->x, key->y, key->d};
    size_t lens[3] = {key->x_len, key->y_len, key->d_len};
    for (int i = 0; i < 3; i++) {
        if (lens[i]) {
            cbor_encode_int(&e, COSE_KEY_X - i);
            cbor_encode_bstr(&e, vals[i], lens[i]);
        }
    }
    return finish(&e, len);
}

/* Reads one bstr member into (*p, *n); a second occurrence is an error. */
static cose_err_t key_bstr(cbor_dec_t *d, const uint8_t **p, size_t *n)
{
    if (*p != NULL)
        return COSE_ERR_DUPLICATE_LABEL;
    /* Decoded strings never have a NULL pointer, even when empty. */
    return cbor_decode_bstr(d, p, n) == CBOR_OK ? COSE_OK : COSE_ERR_MALFORMED;
}

cose_err_t cose_key_decode(cose_key_t *key, const uint8_t *in, size_t len)
{
    if (!key || !in)
        return COSE_ERR_BAD_ARG;
    memset(key, 0, sizeof *key);
    cbor_dec_t d;
    size_t pairs;
    cbor_dec_init(&d, in, len, 0);
    if (cbor_decode_map(&d, &pairs) != CBOR_OK)
        return COSE_ERR_MALFORMED;
    /* -1 is crv or k depending on kty, which may come later: keep it raw. */
    const uint8_t *minus1 = NULL;
    size_t minus1_len = 0;
    bool seen_kty = false, seen_crv_int = false;
    int64_t crv_int = 0;
    for (size_t i = 0; i < pairs; i++) {
        int64_t label;
        if (cbor_decode_int(&d, &label) != CBOR_OK) {
            /* tstr labels are legal but none is ours: skip label and value */
            if (cbor_dec_skip(&d, NULL, NULL) != CBOR_OK || cbor_dec_skip(&d, NULL, NULL) != CBOR_OK)
                return COSE_ERR_MALFORMED;
            continue;
        }
        cose_err_t err = COSE_OK;
        switch (label) {
        case COSE_KEY_KTY:
            if (seen_kty)
                return COSE_ERR_DUPLICATE_LABEL;
            seen_kty = true;
            if (cbor_decode_int(&d, &key->kty) != CBOR_OK)
                return COSE_ERR_MALFORMED;
            break;
        case COSE_KEY_KID: err = key_bstr(&d, &key->kid, &key->kid_len); break;
        case COSE_KEY_ALG:
            if (key->has_alg)
                return COSE_ERR_DUPLICATE_LABEL;
            key->has_alg = true;
            if (cbor_decode_int(&d, &key->alg) != CBOR_OK)
                return COSE_ERR_MALFORMED; /* tstr algs are not supported */
            break;
        case -1: {
            if (minus1 != NULL || seen_crv_int)
                return COSE_ERR_DUPLICATE_LABEL;
            if (cbor_decode_int(&d, &crv_int) == CBOR_OK)
                seen_crv_int = true;
            else if (cbor_decode_bstr(&d, &minus1, &minus1_len) != CBOR_OK)
                return COSE_ERR_MALFORMED;
            break;
        }
        case COSE_KEY_X: err = key_bstr(&d, &key->x, &key->x_len); break;
        case COSE_KEY_Y: {
            /* EC2 y may also be a bool: the sign of a compressed point. */
            cbor_type_t t;
            bool sign;
            if (cbor_dec_peek(&d, &t) != CBOR_OK)
                return COSE_ERR_MALFORMED;
            if (t == CBOR_TYPE_BSTR)
                err = key_bstr(&d, &key->y, &key->y_len);
            else if (cbor_decode_bool(&d, &sign) != CBOR_OK)
                return COSE_ERR_MALFORMED;
            break;
        }
        case COSE_KEY_D: err = key_bstr(&d, &key->d, &key->d_len); break;
        default:
            if (cbor_dec_skip(&d, NULL, NULL) != CBOR_OK)
                return COSE_ERR_MALFORMED;
        }
        if (err != COSE_OK)
            return err;
    }
    if (!cbor_dec_done(&d))
        return COSE_ERR_MALFORMED;
    if (!seen_kty)
        return COSE_ERR_MISSING_PARAM;
    if (key->kty == COSE_KTY_SYMMETRIC) {
        if (seen_crv_int)
            return COSE_ERR_MALFORMED;
        key->k = minus1;
        key->k_len = minus1_len;
    } else {
        if (minus1 != NULL)
            return COSE_ERR_MALFORMED;
        if (!seen_crv_int)
            return COSE_ERR_MISSING_PARAM;
        key->crv = crv_int;
    }
    return key_check(key);
}
