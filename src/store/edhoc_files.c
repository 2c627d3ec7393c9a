/* EDHOC key and credential files: JSON with hex members, written
 * atomically; the credential is a CWT Claims Set (RFC 8392) carrying a
 * COSE_Key in its cnf claim (RFC 8747), as RFC 9528 §3.5.2 uses, or an
 * X.509 certificate (RFC 9360). */
#define _POSIX_C_SOURCE 200809L
#include "coreseal/store.h"
#include "store_internal.h"

#include "coreseal/cbor.h"
#include "coreseal/cose.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int32_t crv;
    const char *name;
} curves[] = {{CS_CRV_P256, "P-256"}, {CS_CRV_X25519, "X25519"}, {CS_CRV_ED25519, "Ed25519"}};

cs_store_err_t cs_edhoc_key_generate(const cs_crypto_t *c, int32_t crv, const uint8_t *kid,
                                     size_t kid_len, const char *subject, cs_edhoc_key_t *k)
{
    if (!c || !k || !subject || kid_len == 0 || kid_len > sizeof k->kid)
        return CS_STORE_ERR_BAD_ARG;
    memset(k, 0, sizeof *k);
    k->crv = crv;
    if (c->keygen(c->state, crv, k->priv, &k->priv_len, k->pub, &k->pub_len) != CS_CRYPTO_OK)
        return CS_STORE_ERR_VALUE;
    memcpy(k->kid, kid, kid_len);
    k->kid_len = kid_len;
    snprintf(k->subject, sizeof k->subject, "%s", subject);
    bool okp = crv != CS_CRV_P256;
    size_t n = cs_crv_priv_len(crv);
    cose_key_t ck = {.kty = okp ? COSE_KTY_OKP : COSE_KTY_EC2, .crv = crv, .kid = kid,
                     .kid_len = kid_len, .x = okp ? k->pub : k->pub + 1, .x_len = n,
                     .y = okp ? NULL : k->pub + 1 + n, .y_len = okp ? 0 : n};
    uint8_t key[160];
    size_t kl;
    if (cose_key_encode(&ck, key, sizeof key, &kl) != COSE_OK)
        return CS_STORE_ERR_VALUE;
    cbor_enc_t e;
    cbor_enc_init(&e, k->cred, sizeof k->cred);
    cbor_encode_map(&e, 2);
    cbor_encode_uint(&e, 2); /* sub */
    cbor_encode_tstr(&e, subject, strlen(subject));
    cbor_encode_uint(&e, 8); /* cnf */
    cbor_encode_map(&e, 1);
    cbor_encode_uint(&e, 1); /* COSE_Key */
    cbor_encode_raw(&e, key, kl);
    if (cbor_enc_finish(&e, &k->cred_len) != CBOR_OK)
        return CS_STORE_ERR_VALUE;
    cbor_enc_init(&e, k->id_cred, sizeof k->id_cred);
    cbor_encode_map(&e, 1);
    cbor_encode_uint(&e, COSE_HDR_KID);
    cbor_encode_bstr(&e, kid, kid_len);
    return cbor_enc_finish(&e, &k->id_cred_len) == CBOR_OK ? CS_STORE_OK : CS_STORE_ERR_VALUE;
}

cs_store_err_t cs_edhoc_key_set_certificate(cs_edhoc_key_t *k, const cs_crypto_t *c, const uint8_t *cert,
                                            size_t len, bool by_value, const char *subject)
{
    uint8_t hash[CS_HASH_MAX];
    if (!k || !c || !cert || !subject || strlen(subject) >= sizeof k->subject ||
        c->hash(c->state, CS_HASH_SHA256, cert, len, hash) != CS_CRYPTO_OK)
        return CS_STORE_ERR_BAD_ARG;
    cbor_enc_t e;
    cbor_enc_init(&e, k->cred, sizeof k->cred);
    cbor_encode_bstr(&e, cert, len);
    if (cbor_enc_finish(&e, &k->cred_len) != CBOR_OK)
        return CS_STORE_ERR_VALUE;
    cbor_enc_init(&e, k->id_cred, sizeof k->id_cred);
    cbor_encode_map(&e, 1);
    if (by_value) { /* x5chain: the certificate itself */
        cbor_encode_uint(&e, 33);
        cbor_encode_raw(&e, k->cred, k->cred_len);
    } else { /* x5t: SHA-256/64 (COSE -15) of it */
        cbor_encode_uint(&e, 34);
        cbor_encode_array(&e, 2);
        cbor_encode_int(&e, -15);
        cbor_encode_bstr(&e, hash, 8);
    }
    if (cbor_enc_finish(&e, &k->id_cred_len) != CBOR_OK)
        return CS_STORE_ERR_VALUE;
    snprintf(k->subject, sizeof k->subject, "%s", subject);
    return CS_STORE_OK;
}

const uint8_t *cs_edhoc_key_certificate(const cs_edhoc_key_t *k, size_t *len)
{
    cbor_dec_t d;
    const uint8_t *cert;
    cbor_dec_init(&d, k->cred, k->cred_len, 0);
    if (cbor_decode_bstr(&d, &cert, len) != CBOR_OK || !cbor_dec_done(&d))
        return NULL;
    return cert;
}

cs_store_err_t cs_edhoc_key_save(const cs_edhoc_key_t *k, const char *path, bool with_private)
{
    const char *name = NULL;
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (curves[i].crv == k->crv)
            name = curves[i].name;
    if (!name)
        return CS_STORE_ERR_BAD_ARG;
    json_t *o = json_object();
    json_object_set_new(o, "curve", json_string(name));
    if (with_private)
        json_object_set_new(o, "private_key", cs_json_hex(k->priv, k->priv_len));
    json_object_set_new(o, "public_key", cs_json_hex(k->pub, k->pub_len));
    if (k->kid_len)
        json_object_set_new(o, "kid", cs_json_hex(k->kid, k->kid_len));
    size_t cert_len;
    if (cs_edhoc_key_certificate(k, &cert_len)) /* a CCS names its subject itself */
        json_object_set_new(o, "subject", json_string(k->subject));
    json_object_set_new(o, "id_cred", cs_json_hex(k->id_cred, k->id_cred_len));
    json_object_set_new(o, "cred", cs_json_hex(k->cred, k->cred_len));
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text)
        return CS_STORE_ERR_IO;
    cs_store_err_t e = cs_file_write_atomic(path, text, strlen(text));
    cs_wipe(text, strlen(text));
    free(text);
    return e;
}

static bool get_hex(json_t *o, const char *key, uint8_t *out, size_t cap, size_t *len,
                    bool required)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *len = 0;
        return !required;
    }
    const char *s = json_string_value(v);
    return s && cs_hex_decode(s, strlen(s), out, cap, len);
}

/* The sub (2) claim of a CCS, "" without one. */
static void ccs_subject(const uint8_t *cred, size_t len, char *out, size_t cap)
{
    cbor_dec_t d;
    size_t pairs;
    out[0] = 0;
    cbor_dec_init(&d, cred, len, 0);
    if (cbor_decode_map(&d, &pairs) != CBOR_OK)
        return;
    for (size_t i = 0; i < pairs; i++) {
        uint64_t key;
        const char *s;
        size_t n;
        const uint8_t *skip;
        if (cbor_decode_uint(&d, &key) != CBOR_OK)
            return;
        if (key == 2 && cbor_decode_tstr(&d, &s, &n) == CBOR_OK) {
            if (n < cap) {
                memcpy(out, s, n);
                out[n] = 0;
            }
            return;
        }
        if (cbor_dec_skip(&d, &skip, &n) != CBOR_OK)
            return;
    }
}

/* A key or credential file's JSON (o, which this consumes) into k; path
 * names it in errors. */
static cs_store_err_t key_from_json(json_t *o, const char *path, cs_edhoc_key_t *k, char *err, size_t err_len)
{
    const char *curve = json_string_value(json_object_get(o, "curve"));
    const char *subject = json_string_value(json_object_get(o, "subject"));
    for (size_t i = 0; curve && i < sizeof curves / sizeof curves[0]; i++)
        if (strcmp(curves[i].name, curve) == 0)
            k->crv = curves[i].crv;
    const char *bad = !k->crv ? "curve (P-256, X25519 or Ed25519)"
                      : !get_hex(o, "private_key", k->priv, sizeof k->priv, &k->priv_len, false)
                          ? "private_key"
                      : !get_hex(o, "public_key", k->pub, sizeof k->pub, &k->pub_len, true)
                          ? "public_key"
                      : !get_hex(o, "kid", k->kid, sizeof k->kid, &k->kid_len, false) ? "kid"
                      : !get_hex(o, "id_cred", k->id_cred, sizeof k->id_cred, &k->id_cred_len, true)
                          ? "id_cred"
                      : !get_hex(o, "cred", k->cred, sizeof k->cred, &k->cred_len, true) ? "cred"
                                                                                         : NULL;
    if (!bad && k->priv_len && k->priv_len != cs_crv_priv_len(k->crv))
        bad = "private_key (wrong length for the curve)";
    size_t cert_len;
    bool x509 = !bad && cs_edhoc_key_certificate(k, &cert_len);
    if (!bad && subject && strlen(subject) >= sizeof k->subject)
        bad = "subject (longer than 63 bytes)";
    if (!bad && x509)
        snprintf(k->subject, sizeof k->subject, "%s", subject ? subject : "");
    json_decref(o); /* subject pointed into it */
    if (bad) {
        snprintf(err, err_len, "%s: missing or malformed %s", path, bad);
        cs_wipe(k, sizeof *k);
        return CS_STORE_ERR_VALUE;
    }
    if (!x509)
        ccs_subject(k->cred, k->cred_len, k->subject, sizeof k->subject);
    return CS_STORE_OK;
}

cs_store_err_t cs_edhoc_key_load(const char *path, cs_edhoc_key_t *k, char *err, size_t err_len)
{
    memset(k, 0, sizeof *k);
    json_error_t jerr;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        snprintf(err, err_len, "%s: %s", path, jerr.text);
        return CS_STORE_ERR_SYNTAX;
    }
    return key_from_json(o, path, k, err, err_len);
}

cs_store_err_t cs_edhoc_key_parse(const char *text, size_t len, const char *name, cs_edhoc_key_t *k, char *err,
                                  size_t err_len)
{
    memset(k, 0, sizeof *k);
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        snprintf(err, err_len, "%s: %s", name, jerr.text);
        return CS_STORE_ERR_SYNTAX;
    }
    return key_from_json(o, name, k, err, err_len);
}
