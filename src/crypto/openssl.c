/* OpenSSL 3 backend of the crypto door (include/coreseal/crypto.h).
 * AEADs of RFC 9053 §4 (AES-CCM, AES-GCM, ChaCha20/Poly1305), HKDF (RFC
 * 5869), SHA-2, ECDH (RFC 7748, SEC1), EdDSA/ECDSA (RFC 8032, RFC 9053
 * §2) and X.509 chain verification. This layer may allocate; the protocol
 * core above it never does. */
#include "coreseal/crypto_openssl.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* One slot per AEAD; each keeps a sealing and an opening context. */
enum { SLOT_CCM_64_128, SLOT_CCM_64_256, SLOT_CCM_128_128, SLOT_GCM128, SLOT_GCM192,
       SLOT_GCM256, SLOT_CHACHA, SLOT_COUNT };

struct cs_openssl {
    EVP_CIPHER_CTX *seal[SLOT_COUNT];
    EVP_CIPHER_CTX *open[SLOT_COUNT];
    EVP_KDF *hkdf;
};

typedef struct {
    int32_t alg;
    int slot;
    bool ccm;
    size_t tag_len;
    const EVP_CIPHER *(*cipher)(void);
} aead_desc_t;

static const aead_desc_t aeads[] = {
    {CS_AEAD_AES_CCM_16_64_128, SLOT_CCM_64_128, true, 8, EVP_aes_128_ccm},
    {CS_AEAD_AES_CCM_16_64_256, SLOT_CCM_64_256, true, 8, EVP_aes_256_ccm},
    {CS_AEAD_AES_CCM_16_128_128, SLOT_CCM_128_128, true, 16, EVP_aes_128_ccm},
    {CS_AEAD_A128GCM, SLOT_GCM128, false, 16, EVP_aes_128_gcm},
    {CS_AEAD_A192GCM, SLOT_GCM192, false, 16, EVP_aes_192_gcm},
    {CS_AEAD_A256GCM, SLOT_GCM256, false, 16, EVP_aes_256_gcm},
    {CS_AEAD_CHACHA20_POLY1305, SLOT_CHACHA, false, 16, EVP_chacha20_poly1305},
};

static const aead_desc_t *aead_find(int32_t alg)
{
    for (size_t i = 0; i < sizeof aeads / sizeof aeads[0]; i++)
        if (aeads[i].alg == alg)
            return &aeads[i];
    return NULL;
}

static const EVP_MD *hash_md(int32_t alg)
{
    switch (alg) {
    case CS_HASH_SHA256: return EVP_sha256();
    case CS_HASH_SHA384: return EVP_sha384();
    default: return NULL;
    }
}

static const char *ec_group_name(int32_t crv)
{
    switch (crv) {
    case CS_CRV_P256: return "P-256";
    case CS_CRV_P384: return "P-384";
    default: return NULL;
    }
}

static int ec_nid(int32_t crv) { return crv == CS_CRV_P256 ? NID_X9_62_prime256v1 : NID_secp384r1; }

static int raw_pkey_type(int32_t crv)
{
    switch (crv) {
    case CS_CRV_X25519: return EVP_PKEY_X25519;
    case CS_CRV_ED25519: return EVP_PKEY_ED25519;
    default: return -1;
    }
}

static bool os_supports(void *state, cs_crypto_op_t op, int32_t alg)
{
    (void)state;
    switch (op) {
    case CS_OP_AEAD: return aead_find(alg) != NULL;
    case CS_OP_HASH: return hash_md(alg) != NULL;
    case CS_OP_ECDH: return alg == CS_CRV_X25519 || ec_group_name(alg) != NULL;
    case CS_OP_SIGN: return cs_sig_curve(alg) != 0;
    }
    return false;
}

/* ---------------------------------------------------------------- AEAD */

static EVP_CIPHER_CTX *aead_ctx(cs_openssl_t *st, const aead_desc_t *a, bool seal)
{
    EVP_CIPHER_CTX **slot = seal ? &st->seal[a->slot] : &st->open[a->slot];
    if (*slot == NULL) {
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        if (ctx == NULL)
            return NULL;
        if (EVP_CipherInit_ex(ctx, a->cipher(), NULL, NULL, NULL, seal) != 1) {
            EVP_CIPHER_CTX_free(ctx);
            return NULL;
        }
        *slot = ctx;
    }
    return *slot;
}

/* Sets nonce length, tag and key on a cached context. For CCM the tag
 * length (and, opening, the tag) must be known before the key. */
static bool aead_start(EVP_CIPHER_CTX *ctx, const aead_desc_t *a, bool seal,
                       const uint8_t *key, const uint8_t *nonce, size_t nonce_len,
                       const uint8_t *tag)
{
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)nonce_len, NULL) != 1)
        return false;
    if ((a->ccm || !seal) &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)a->tag_len,
                            seal ? NULL : (void *)(uintptr_t)tag) != 1)
        return false;
    return EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, seal) == 1;
}

static bool aead_feed_aad(EVP_CIPHER_CTX *ctx, const aead_desc_t *a, size_t text_len,
                          const uint8_t *aad, size_t aad_len)
{
    int outl;
    if (a->ccm && EVP_CipherUpdate(ctx, NULL, &outl, NULL, (int)text_len) != 1)
        return false;
    return aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1;
}

static cs_crypto_err_t os_aead_seal(void *state, int32_t alg, const uint8_t *key,
                                    const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                                    size_t aad_len, const uint8_t *pt, size_t pt_len,
                                    uint8_t *ct)
{
    const aead_desc_t *a = aead_find(alg);
    if (a == NULL)
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!key || !nonce || (pt_len && (!pt || !ct)) || pt_len > INT32_MAX || aad_len > INT32_MAX)
        return CS_CRYPTO_ERR_BAD_ARG;
    EVP_CIPHER_CTX *ctx = aead_ctx(state, a, true);
    int outl = 0, finl = 0;
    uint8_t none; /* CCM computes its tag in Update, even for no data */
    if (ctx == NULL || !aead_start(ctx, a, true, key, nonce, nonce_len, NULL) ||
        !aead_feed_aad(ctx, a, pt_len, aad, aad_len) ||
        EVP_CipherUpdate(ctx, pt_len ? ct : &none, &outl, pt_len ? pt : &none, (int)pt_len) != 1 ||
        EVP_CipherFinal_ex(ctx, pt_len ? ct + outl : &none, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)a->tag_len, ct + pt_len) != 1)
        return CS_CRYPTO_ERR_BACKEND;
    return CS_CRYPTO_OK;
}

static cs_crypto_err_t os_aead_open(void *state, int32_t alg, const uint8_t *key,
                                    const uint8_t *nonce, size_t nonce_len, const uint8_t *aad,
                                    size_t aad_len, const uint8_t *ct, size_t ct_len,
                                    uint8_t *pt)
{
    const aead_desc_t *a = aead_find(alg);
    if (a == NULL)
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!key || !nonce || !ct || ct_len > INT32_MAX || aad_len > INT32_MAX)
        return CS_CRYPTO_ERR_BAD_ARG;
    if (ct_len < a->tag_len)
        return CS_CRYPTO_ERR_AUTH;
    size_t pt_len = ct_len - a->tag_len;
    if (pt_len && !pt)
        return CS_CRYPTO_ERR_BAD_ARG;
    /* The tag is read before pt (which may alias ct) is written. */
    uint8_t tag[CS_AEAD_MAX_TAG];
    memcpy(tag, ct + pt_len, a->tag_len);
    EVP_CIPHER_CTX *ctx = aead_ctx(state, a, false);
    if (ctx == NULL || !aead_start(ctx, a, false, key, nonce, nonce_len, tag) ||
        !aead_feed_aad(ctx, a, pt_len, aad, aad_len))
        return CS_CRYPTO_ERR_BACKEND;
    int outl = 0, finl = 0;
    uint8_t none; /* a NULL output would make Update treat the data as AAD */
    bool ok = EVP_CipherUpdate(ctx, pt_len ? pt : &none, &outl, ct, (int)pt_len) == 1;
    /* CCM verifies inside Update; Final has nothing left to do. */
    if (ok && !a->ccm)
        ok = EVP_CipherFinal_ex(ctx, pt_len ? pt + outl : &none, &finl) == 1;
    if (!ok) {
        cs_wipe(pt, pt_len);
        return CS_CRYPTO_ERR_AUTH;
    }
    return CS_CRYPTO_OK;
}

/* ---------------------------------------------------------------- hash, HKDF */

static cs_crypto_err_t os_hash(void *state, int32_t alg, const uint8_t *msg, size_t len,
                               uint8_t *out)
{
    (void)state;
    const EVP_MD *md = hash_md(alg);
    if (md == NULL)
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if ((len && !msg) || !out)
        return CS_CRYPTO_ERR_BAD_ARG;
    return EVP_Digest(msg, len, out, NULL, md, NULL) == 1 ? CS_CRYPTO_OK : CS_CRYPTO_ERR_BACKEND;
}

static cs_crypto_err_t hkdf_run(cs_openssl_t *st, int mode, int32_t hash_alg,
                                const uint8_t *key, size_t key_len, const uint8_t *salt_or_info,
                                size_t sl_len, uint8_t *out, size_t out_len)
{
    const EVP_MD *md = hash_md(hash_alg);
    if (md == NULL)
        return CS_CRYPTO_ERR_UNSUPPORTED;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(st->hkdf);
    if (kctx == NULL)
        return CS_CRYPTO_ERR_BACKEND;
    static const uint8_t empty[1];
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)(uintptr_t)EVP_MD_get0_name(md), 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)(key ? key : empty), key_len);
    *p++ = OSSL_PARAM_construct_octet_string(
        mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO,
        (void *)(uintptr_t)(salt_or_info ? salt_or_info : empty), sl_len);
    *p = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(kctx, out, out_len, params);
    EVP_KDF_CTX_free(kctx);
    return rc == 1 ? CS_CRYPTO_OK : CS_CRYPTO_ERR_BACKEND;
}

static cs_crypto_err_t os_hkdf_extract(void *state, int32_t hash_alg, const uint8_t *salt,
                                       size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                                       uint8_t *prk)
{
    if (!prk)
        return CS_CRYPTO_ERR_BAD_ARG;
    return hkdf_run(state, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, hash_alg, ikm, ikm_len, salt,
                    salt_len, prk, cs_hash_len(hash_alg));
}

static cs_crypto_err_t os_hkdf_expand(void *state, int32_t hash_alg, const uint8_t *prk,
                                      size_t prk_len, const uint8_t *info, size_t info_len,
                                      uint8_t *okm, size_t okm_len)
{
    if (!prk || !okm || okm_len == 0 || okm_len > 255 * cs_hash_len(hash_alg))
        return CS_CRYPTO_ERR_BAD_ARG;
    return hkdf_run(state, EVP_KDF_HKDF_MODE_EXPAND_ONLY, hash_alg, prk, prk_len, info,
                    info_len, okm, okm_len);
}

/* ---------------------------------------------------------------- keys */

/* Public point (uncompressed) of scalar d on a NIST curve. */
static cs_crypto_err_t ec_public_from_scalar(int32_t crv, const uint8_t *d, size_t d_len,
                                             uint8_t *pub, size_t *pub_len)
{
    cs_crypto_err_t err = CS_CRYPTO_ERR_BACKEND;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(ec_nid(crv));
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    BIGNUM *bn = BN_bin2bn(d, (int)d_len, NULL);
    if (!g || !q || !bn)
        goto out;
    if (BN_is_zero(bn) || BN_cmp(bn, EC_GROUP_get0_order(g)) >= 0) {
        err = CS_CRYPTO_ERR_BAD_KEY;
        goto out;
    }
    if (EC_POINT_mul(g, q, bn, NULL, NULL, NULL) != 1)
        goto out;
    *pub_len = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, CS_EC_MAX_PUB, NULL);
    if (*pub_len != 0)
        err = CS_CRYPTO_OK;
out:
    BN_clear_free(bn);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return err;
}

/* EVP_PKEY for an EC key: private (d != NULL, public computed) or public. */
static EVP_PKEY *ec_pkey(int32_t crv, const uint8_t *d, size_t d_len, const uint8_t *pub,
                         size_t pub_len)
{
    uint8_t pub_buf[CS_EC_MAX_PUB];
    const char *group = ec_group_name(crv);
    if (group == NULL || (d && d_len != cs_crv_priv_len(crv)))
        return NULL;
    if (d) {
        if (ec_public_from_scalar(crv, d, d_len, pub_buf, &pub_len) != CS_CRYPTO_OK)
            return NULL;
        pub = pub_buf;
    }
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = d ? BN_secure_new() : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    if (!bld || (d && (!bn || !BN_bin2bn(d, (int)d_len, bn))))
        goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) ||
        (d && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn)))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(bn);
    return pkey;
}

static EVP_PKEY *any_private_pkey(int32_t crv, const uint8_t *priv, size_t priv_len)
{
    int type = raw_pkey_type(crv);
    if (type >= 0)
        return priv_len == 32 ? EVP_PKEY_new_raw_private_key(type, NULL, priv, priv_len) : NULL;
    return ec_pkey(crv, priv, priv_len, NULL, 0);
}

static EVP_PKEY *any_public_pkey(int32_t crv, const uint8_t *pub, size_t pub_len)
{
    int type = raw_pkey_type(crv);
    if (type >= 0)
        return pub_len == 32 ? EVP_PKEY_new_raw_public_key(type, NULL, pub, pub_len) : NULL;
    return ec_pkey(crv, NULL, 0, pub, pub_len);
}

static bool known_curve(int32_t crv) { return raw_pkey_type(crv) >= 0 || ec_group_name(crv); }

static cs_crypto_err_t os_public_key(void *state, int32_t crv, const uint8_t *priv,
                                     size_t priv_len, uint8_t *pub, size_t *pub_len)
{
    (void)state;
    if (!known_curve(crv))
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!priv || !pub || !pub_len || priv_len != cs_crv_priv_len(crv))
        return CS_CRYPTO_ERR_BAD_ARG;
    if (raw_pkey_type(crv) < 0)
        return ec_public_from_scalar(crv, priv, priv_len, pub, pub_len);
    EVP_PKEY *pk = any_private_pkey(crv, priv, priv_len);
    size_t n = 32;
    bool ok = pk && EVP_PKEY_get_raw_public_key(pk, pub, &n) == 1;
    EVP_PKEY_free(pk);
    *pub_len = n;
    return ok ? CS_CRYPTO_OK : CS_CRYPTO_ERR_BAD_KEY;
}

static cs_crypto_err_t os_keygen(void *state, int32_t crv, uint8_t *priv, size_t *priv_len,
                                 uint8_t *pub, size_t *pub_len)
{
    if (!known_curve(crv))
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!priv || !priv_len || !pub || !pub_len)
        return CS_CRYPTO_ERR_BAD_ARG;
    size_t n = cs_crv_priv_len(crv);
    /* Scalars are drawn and checked against the group order by
     * ec_public_from_scalar; X25519/Ed25519 accept any 32 random bytes. */
    for (int tries = 0; tries < 16; tries++) {
        if (RAND_priv_bytes(priv, (int)n) != 1)
            return CS_CRYPTO_ERR_RANDOM;
        *priv_len = n;
        cs_crypto_err_t err = os_public_key(state, crv, priv, n, pub, pub_len);
        if (err != CS_CRYPTO_ERR_BAD_KEY)
            return err;
    }
    return CS_CRYPTO_ERR_RANDOM;
}

static cs_crypto_err_t os_ecdh(void *state, int32_t crv, const uint8_t *priv, size_t priv_len,
                               const uint8_t *peer_pub, size_t peer_len, uint8_t *secret,
                               size_t *secret_len)
{
    (void)state;
    if (crv != CS_CRV_X25519 && !ec_group_name(crv))
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!priv || !peer_pub || !secret || !secret_len)
        return CS_CRYPTO_ERR_BAD_ARG;
    cs_crypto_err_t err = CS_CRYPTO_ERR_BAD_KEY;
    EVP_PKEY *mine = any_private_pkey(crv, priv, priv_len);
    EVP_PKEY *peer = any_public_pkey(crv, peer_pub, peer_len);
    EVP_PKEY_CTX *ctx = mine ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
    size_t n = cs_crv_priv_len(crv);
    if (mine && peer && ctx && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, secret, &n) == 1) {
        *secret_len = n;
        err = CS_CRYPTO_OK;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(mine);
    return err;
}

/* ---------------------------------------------------------------- signatures */

static const EVP_MD *sig_md(int32_t alg)
{
    return alg == CS_SIG_ES256 ? EVP_sha256() : alg == CS_SIG_ES384 ? EVP_sha384() : NULL;
}

/* DER ECDSA-Sig-Value <-> r||s of fixed width (RFC 9053 §2.1). */
static bool der_to_raw(const uint8_t *der, size_t der_len, uint8_t *raw, size_t half)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (s == NULL)
        return false;
    const BIGNUM *r, *sv;
    ECDSA_SIG_get0(s, &r, &sv);
    bool ok = BN_bn2binpad(r, raw, (int)half) == (int)half &&
              BN_bn2binpad(sv, raw + half, (int)half) == (int)half;
    ECDSA_SIG_free(s);
    return ok;
}

static int raw_to_der(const uint8_t *raw, size_t half, uint8_t **der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)half, NULL);
    BIGNUM *sv = BN_bin2bn(raw + half, (int)half, NULL);
    int len = -1;
    if (s && r && sv && ECDSA_SIG_set0(s, r, sv) == 1) {
        r = sv = NULL; /* owned by s now */
        *der = NULL;
        len = i2d_ECDSA_SIG(s, der);
    }
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    return len;
}

static cs_crypto_err_t os_sign(void *state, int32_t alg, const uint8_t *priv, size_t priv_len,
                               const uint8_t *msg, size_t msg_len, uint8_t *sig, size_t *sig_len)
{
    (void)state;
    int32_t crv = cs_sig_curve(alg);
    if (crv == 0)
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!priv || (msg_len && !msg) || !sig || !sig_len)
        return CS_CRYPTO_ERR_BAD_ARG;
    EVP_PKEY *pk = any_private_pkey(crv, priv, priv_len);
    if (pk == NULL)
        return CS_CRYPTO_ERR_BAD_KEY;
    cs_crypto_err_t err = CS_CRYPTO_ERR_BACKEND;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    uint8_t der[16 + 2 * CS_EC_MAX_PRIV];
    size_t n = alg == CS_SIG_EDDSA ? 64 : sizeof der;
    uint8_t *out = alg == CS_SIG_EDDSA ? sig : der;
    if (mctx && EVP_DigestSignInit(mctx, NULL, sig_md(alg), NULL, pk) == 1 &&
        EVP_DigestSign(mctx, out, &n, msg, msg_len) == 1 &&
        (alg == CS_SIG_EDDSA || der_to_raw(der, n, sig, cs_crv_priv_len(crv)))) {
        *sig_len = cs_sig_len(alg);
        err = CS_CRYPTO_OK;
    }
    EVP_MD_CTX_free(mctx);
    EVP_PKEY_free(pk);
    return err;
}

static cs_crypto_err_t os_verify(void *state, int32_t alg, const uint8_t *pub, size_t pub_len,
                                 const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                                 size_t sig_len)
{
    (void)state;
    int32_t crv = cs_sig_curve(alg);
    if (crv == 0)
        return CS_CRYPTO_ERR_UNSUPPORTED;
    if (!pub || (msg_len && !msg) || !sig)
        return CS_CRYPTO_ERR_BAD_ARG;
    if (sig_len != cs_sig_len(alg))
        return CS_CRYPTO_ERR_AUTH;
    EVP_PKEY *pk = any_public_pkey(crv, pub, pub_len);
    if (pk == NULL)
        return CS_CRYPTO_ERR_BAD_KEY;
    uint8_t *der = NULL;
    int der_len = (int)sig_len;
    if (alg != CS_SIG_EDDSA)
        der_len = raw_to_der(sig, sig_len / 2, &der);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    bool ok = mctx && der_len > 0 &&
              EVP_DigestVerifyInit(mctx, NULL, sig_md(alg), NULL, pk) == 1 &&
              EVP_DigestVerify(mctx, der ? der : sig, (size_t)der_len, msg, msg_len) == 1;
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    EVP_PKEY_free(pk);
    return ok ? CS_CRYPTO_OK : CS_CRYPTO_ERR_AUTH;
}

static cs_crypto_err_t os_random(void *state, uint8_t *buf, size_t len)
{
    (void)state;
    if (len && !buf)
        return CS_CRYPTO_ERR_BAD_ARG;
    return len == 0 || RAND_bytes(buf, (int)len) == 1 ? CS_CRYPTO_OK : CS_CRYPTO_ERR_RANDOM;
}

/* ---------------------------------------------------------------- X.509 */

/* A certificate's key in the door's format: raw (Ed25519, X25519), SEC1
 * uncompressed (P-256, P-384). */
static cs_crypto_err_t pkey_to_door(EVP_PKEY *k, int32_t *crv, uint8_t *pub, size_t *pub_len)
{
    int id = EVP_PKEY_get_base_id(k);
    size_t n = CS_EC_MAX_PUB;
    char group[32] = "";
    if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_X25519) {
        *crv = id == EVP_PKEY_ED25519 ? CS_CRV_ED25519 : CS_CRV_X25519;
        if (EVP_PKEY_get_raw_public_key(k, pub, &n) != 1)
            return CS_CRYPTO_ERR_BAD_KEY;
    } else if (id == EVP_PKEY_EC &&
               EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL) == 1) {
        *crv = !strcmp(group, "prime256v1") ? CS_CRV_P256 : !strcmp(group, "secp384r1") ? CS_CRV_P384 : 0;
        if (!*crv || EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                    "uncompressed") != 1 ||
            EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, n, &n) != 1)
            return CS_CRYPTO_ERR_BAD_KEY;
    } else {
        return CS_CRYPTO_ERR_BAD_KEY;
    }
    *pub_len = n;
    return CS_CRYPTO_OK;
}

static X509 *der_cert(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (x && p != der + len) { /* trailing bytes: not one certificate */
        X509_free(x);
        x = NULL;
    }
    return x;
}

bool cs_openssl_subject_cn(const X509 *x, char *out, size_t cap)
{
    const X509_NAME *name = X509_get_subject_name(x);
    int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    const ASN1_STRING *s = at < 0 ? NULL : X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
    size_t n = s ? (size_t)ASN1_STRING_length(s) : 0;
    if (!cap)
        return false;
    out[0] = 0;
    if (!s || n >= cap || memchr(ASN1_STRING_get0_data(s), 0, n))
        return false;
    memcpy(out, ASN1_STRING_get0_data(s), n);
    out[n] = 0;
    return true;
}

static cs_crypto_err_t os_x509_verify(void *state, const uint8_t *const *chain, const size_t *chain_len, size_t n,
                                      const uint8_t *const *anchors, const size_t *anchor_len, size_t n_anchors,
                                      int32_t *crv, uint8_t *pub, size_t *pub_len, char *cn, size_t cn_cap)
{
    (void)state;
    if (!chain || !chain_len || !n || !anchors || !anchor_len || !n_anchors || !crv || !pub || !pub_len)
        return CS_CRYPTO_ERR_BAD_ARG;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *issuers = sk_X509_new_null();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *leaf = NULL;
    cs_crypto_err_t e = store && issuers && ctx ? CS_CRYPTO_OK : CS_CRYPTO_ERR_BACKEND;
    for (size_t i = 0; e == CS_CRYPTO_OK && i < n_anchors; i++) {
        X509 *a = der_cert(anchors[i], anchor_len[i]);
        e = !a ? CS_CRYPTO_ERR_BAD_KEY : X509_STORE_add_cert(store, a) == 1 ? CS_CRYPTO_OK : CS_CRYPTO_ERR_BACKEND;
        X509_free(a);
    }
    for (size_t i = 0; e == CS_CRYPTO_OK && i < n; i++) {
        X509 *x = der_cert(chain[i], chain_len[i]);
        if (!x)
            e = CS_CRYPTO_ERR_BAD_KEY;
        else if (i == 0)
            leaf = x;
        else if (!sk_X509_push(issuers, x)) {
            X509_free(x);
            e = CS_CRYPTO_ERR_BACKEND;
        }
    }
    /* an anchor need not be a self-signed root: a pinned CA or end entity */
    if (e == CS_CRYPTO_OK && (X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
                              X509_STORE_CTX_init(ctx, store, leaf, issuers) != 1))
        e = CS_CRYPTO_ERR_BACKEND;
    if (e == CS_CRYPTO_OK && X509_verify_cert(ctx) != 1)
        e = CS_CRYPTO_ERR_AUTH;
    EVP_PKEY *key = e == CS_CRYPTO_OK ? X509_get0_pubkey(leaf) : NULL;
    if (e == CS_CRYPTO_OK)
        e = key ? pkey_to_door(key, crv, pub, pub_len) : CS_CRYPTO_ERR_BAD_KEY;
    if (e == CS_CRYPTO_OK && cn && cn_cap)
        (void)cs_openssl_subject_cn(leaf, cn, cn_cap); /* "" without one */
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(issuers, X509_free);
    X509_free(leaf);
    X509_STORE_free(store);
    ERR_clear_error();
    return e;
}

static bool add_extension(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    bool ok = ext && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

cs_crypto_err_t cs_openssl_make_certificate(int32_t crv, const uint8_t *pub, size_t pub_len, const char *cn,
                                            unsigned days, bool ca, int32_t issuer_crv, const uint8_t *issuer_priv,
                                            size_t issuer_priv_len, const uint8_t *issuer_cert,
                                            size_t issuer_cert_len, uint8_t *out, size_t cap, size_t *len)
{
    if (!pub || !cn || !issuer_priv || !out || !len)
        return CS_CRYPTO_ERR_BAD_ARG;
    EVP_PKEY *key = any_public_pkey(crv, pub, pub_len);
    EVP_PKEY *signer = any_private_pkey(issuer_crv, issuer_priv, issuer_priv_len);
    X509 *issuer = issuer_cert ? der_cert(issuer_cert, issuer_cert_len) : NULL;
    X509 *x = X509_new();
    uint8_t serial[16];
    BIGNUM *bn = RAND_bytes(serial, sizeof serial) == 1 ? BN_bin2bn(serial, sizeof serial, NULL) : NULL;
    cs_crypto_err_t e = CS_CRYPTO_ERR_BACKEND;
    if (!key || !signer || (issuer_cert && !issuer))
        e = CS_CRYPTO_ERR_BAD_KEY;
    else if (x && bn && X509_set_version(x, X509_VERSION_3) == 1 && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
             X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
                                        (const unsigned char *)cn, -1, -1, 0) == 1 &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x)) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 86400L * days) &&
             X509_set_pubkey(x, key) == 1 &&
             add_extension(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE") &&
             add_extension(x, issuer ? issuer : x, NID_key_usage,
                           ca                       ? "critical,keyCertSign,cRLSign,digitalSignature"
                           : crv == CS_CRV_X25519   ? "critical,keyAgreement"
                           : crv == CS_CRV_ED25519  ? "critical,digitalSignature"
                                                    : "critical,digitalSignature,keyAgreement") &&
             add_extension(x, issuer ? issuer : x, NID_subject_key_identifier, "hash") &&
             X509_sign(x, signer, issuer_crv == CS_CRV_ED25519 ? NULL
                                  : issuer_crv == CS_CRV_P384  ? EVP_sha384()
                                                               : EVP_sha256()) > 0) {
        int n = i2d_X509(x, NULL);
        unsigned char *p = out;
        e = n <= 0 ? CS_CRYPTO_ERR_BACKEND : (size_t)n > cap ? CS_CRYPTO_ERR_NO_SPACE : CS_CRYPTO_OK;
        if (e == CS_CRYPTO_OK)
            *len = (size_t)i2d_X509(x, &p);
    }
    BN_free(bn);
    X509_free(x);
    X509_free(issuer);
    EVP_PKEY_free(signer);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return e;
}

cs_crypto_err_t cs_openssl_certificate_pem(const uint8_t *der, size_t len, char *out, size_t cap)
{
    X509 *x = der ? der_cert(der, len) : NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *text;
    long n = x && b && PEM_write_bio_X509(b, x) == 1 ? BIO_get_mem_data(b, &text) : -1;
    cs_crypto_err_t e = !x ? CS_CRYPTO_ERR_BAD_KEY : n < 0 ? CS_CRYPTO_ERR_BACKEND
                      : out && (size_t)n < cap ? CS_CRYPTO_OK : CS_CRYPTO_ERR_NO_SPACE;
    if (e == CS_CRYPTO_OK) {
        memcpy(out, text, (size_t)n);
        out[n] = 0;
    }
    BIO_free(b);
    X509_free(x);
    ERR_clear_error();
    return e;
}

/* ---------------------------------------------------------------- setup */

cs_crypto_err_t cs_crypto_openssl_new(cs_crypto_t *c)
{
    if (c == NULL)
        return CS_CRYPTO_ERR_BAD_ARG;
    cs_openssl_t *st = calloc(1, sizeof *st);
    if (st == NULL)
        return CS_CRYPTO_ERR_BACKEND;
    st->hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (st->hkdf == NULL) {
        free(st);
        return CS_CRYPTO_ERR_BACKEND;
    }
    *c = (cs_crypto_t){
        .state = st,
        .name = "openssl",
        .supports = os_supports,
        .aead_seal = os_aead_seal,
        .aead_open = os_aead_open,
        .hash = os_hash,
        .hkdf_extract = os_hkdf_extract,
        .hkdf_expand = os_hkdf_expand,
        .keygen = os_keygen,
        .public_key = os_public_key,
        .ecdh = os_ecdh,
        .sign = os_sign,
        .verify = os_verify,
        .random = os_random,
        .x509_verify = os_x509_verify,
    };
    return CS_CRYPTO_OK;
}

void cs_crypto_openssl_free(cs_crypto_t *c)
{
    if (c == NULL || c->state == NULL)
        return;
    cs_openssl_t *st = c->state;
    for (int i = 0; i < SLOT_COUNT; i++) {
        EVP_CIPHER_CTX_free(st->seal[i]);
        EVP_CIPHER_CTX_free(st->open[i]);
    }
    EVP_KDF_free(st->hkdf);
    free(st);
    c->state = NULL;
}
