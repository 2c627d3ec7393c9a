/* EDHOC (RFC 9528): message_1..4 (§5.2-§5.5), key schedule and
 * transcript hashes (§4), connection identifiers and compact ID_CRED
 * (§3.3.2, §3.5.3), error messages (§6), exporter and OSCORE parameters
 * (§4.2.1, Appendix A.1), KeyUpdate (Appendix H). */
#include "coreseal/edhoc.h"

#include "coreseal/cbor.h"
#include "coreseal/cose.h"

#include <string.h>

/* ---------------------------------------------------------------- suites */

static const edhoc_suite_t suites[] = {
    {0, CS_AEAD_AES_CCM_16_64_128, CS_HASH_SHA256, CS_CRV_X25519, CS_SIG_EDDSA, 8,
     CS_AEAD_AES_CCM_16_64_128, CS_HASH_SHA256},
    {1, CS_AEAD_AES_CCM_16_128_128, CS_HASH_SHA256, CS_CRV_X25519, CS_SIG_EDDSA, 16,
     CS_AEAD_AES_CCM_16_64_128, CS_HASH_SHA256},
    {2, CS_AEAD_AES_CCM_16_64_128, CS_HASH_SHA256, CS_CRV_P256, CS_SIG_ES256, 8,
     CS_AEAD_AES_CCM_16_64_128, CS_HASH_SHA256},
    {3, CS_AEAD_AES_CCM_16_128_128, CS_HASH_SHA256, CS_CRV_P256, CS_SIG_ES256, 16,
     CS_AEAD_AES_CCM_16_64_128, CS_HASH_SHA256},
    {4, CS_AEAD_CHACHA20_POLY1305, CS_HASH_SHA256, CS_CRV_X25519, CS_SIG_EDDSA, 16,
     CS_AEAD_CHACHA20_POLY1305, CS_HASH_SHA256},
    {5, CS_AEAD_CHACHA20_POLY1305, CS_HASH_SHA256, CS_CRV_P256, CS_SIG_ES256, 16,
     CS_AEAD_CHACHA20_POLY1305, CS_HASH_SHA256},
    {6, CS_AEAD_A128GCM, CS_HASH_SHA256, CS_CRV_X25519, CS_SIG_ES256, 16, CS_AEAD_A128GCM,
     CS_HASH_SHA256},
    {24, CS_AEAD_A256GCM, CS_HASH_SHA384, CS_CRV_P384, CS_SIG_ES384, 16, CS_AEAD_A256GCM,
     CS_HASH_SHA384},
    /* 25: ChaCha20/Poly1305, SHAKE256, X448, Ed448 (no backend has them yet) */
    {25, CS_AEAD_CHACHA20_POLY1305, -45, 5, CS_SIG_EDDSA, 16, CS_AEAD_CHACHA20_POLY1305, -45},
};

const edhoc_suite_t *edhoc_suite(uint8_t id)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == id)
            return &suites[i];
    return NULL;
}

bool edhoc_suite_supported(const cs_crypto_t *c, uint8_t id)
{
    const edhoc_suite_t *s = edhoc_suite(id);
    return s && c->supports(c->state, CS_OP_AEAD, s->aead) &&
           c->supports(c->state, CS_OP_HASH, s->hash) &&
           c->supports(c->state, CS_OP_ECDH, s->ecdh_curve) &&
           c->supports(c->state, CS_OP_SIGN, s->sig_alg) &&
           c->supports(c->state, CS_OP_AEAD, s->app_aead) &&
           c->supports(c->state, CS_OP_HASH, s->app_hash);
}

/* ---------------------------------------------------------------- helpers */

static edhoc_err_t fail(edhoc_session_t *s, edhoc_err_t err)
{
    s->err = err;
    s->state = EDHOC_STATE_FAILED;
    cs_wipe(s->eph_priv, sizeof s->eph_priv);
    if (s->scratch)
        cs_wipe(s->scratch, s->scratch_cap);
    return err;
}

/* EAD_x (§3.8): a sequence of (label: int, ? value: bstr); each item goes
 * to the application, and a critical one (negative label) it does not
 * understand ends the session. */
static edhoc_err_t take_ead(const edhoc_session_t *s, int msg, const uint8_t *ead, size_t len)
{
    cbor_dec_t d;
    cbor_dec_init(&d, ead, len, 0);
    while (!cbor_dec_done(&d)) {
        int64_t label;
        const uint8_t *value = NULL;
        size_t n = 0;
        cbor_type_t t;
        if (cbor_decode_int(&d, &label) != CBOR_OK ||
            (cbor_dec_peek(&d, &t) == CBOR_OK && t == CBOR_TYPE_BSTR && cbor_decode_bstr(&d, &value, &n) != CBOR_OK))
            return EDHOC_ERR_MALFORMED;
        bool understood = s->cfg.on_ead && s->cfg.on_ead(s->cfg.ead_arg, msg, label, value, n);
        if (!understood && label < 0)
            return EDHOC_ERR_CRITICAL_EAD;
    }
    return EDHOC_OK;
}

static size_t hash_len(const edhoc_session_t *s) { return cs_hash_len(s->suite->hash); }
static size_t g_len(const edhoc_session_t *s) { return cs_crv_priv_len(s->suite->ecdh_curve); }

static const cose_alg_info_t *aead_info(const edhoc_session_t *s)
{
    return cose_alg_by_id(s->suite->aead);
}

static bool i_signs(edhoc_method_t m) { return m == EDHOC_METHOD_SIG_SIG || m == EDHOC_METHOD_SIG_STAT; }
static bool r_signs(edhoc_method_t m) { return m == EDHOC_METHOD_SIG_SIG || m == EDHOC_METHOD_STAT_SIG; }

/* EDHOC_KDF (§4.1.2): HKDF-Expand(PRK, (label, bstr context, length)). */
static edhoc_err_t kdf(const edhoc_session_t *s, const uint8_t *prk, uint32_t label,
                       const uint8_t *ctx, size_t ctx_len, uint8_t *out, size_t len)
{
    uint8_t info[64];
    uint8_t *big = NULL;
    size_t info_len;
    cbor_enc_t e;
    /* long contexts (context_2/3 carry credentials) are built in scratch */
    size_t need = ctx_len + 16;
    if (need <= sizeof info) {
        cbor_enc_init(&e, info, sizeof info);
    } else {
        if (!s->scratch || s->pt_len + need > s->scratch_cap)
            return EDHOC_ERR_NO_SPACE;
        big = s->scratch + s->scratch_cap - need;
        cbor_enc_init(&e, big, need);
    }
    cbor_encode_uint(&e, label);
    cbor_encode_bstr(&e, ctx, ctx_len);
    cbor_encode_uint(&e, len);
    if (cbor_enc_finish(&e, &info_len) != CBOR_OK)
        return EDHOC_ERR_NO_SPACE;
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->hkdf_expand(c->state, s->suite->hash, prk, hash_len(s),
                                        big ? big : info, info_len, out, len);
    return ce == CS_CRYPTO_OK ? EDHOC_OK : EDHOC_ERR_CRYPTO;
}

static edhoc_err_t extract(const edhoc_session_t *s, const uint8_t *salt, const uint8_t *ikm,
                           size_t ikm_len, uint8_t *prk)
{
    const cs_crypto_t *c = s->crypto;
    return c->hkdf_extract(c->state, s->suite->hash, salt, hash_len(s), ikm, ikm_len, prk) ==
                   CS_CRYPTO_OK
               ? EDHOC_OK
               : EDHOC_ERR_CRYPTO;
}

static edhoc_err_t hash(const edhoc_session_t *s, const uint8_t *m, size_t n, uint8_t *out)
{
    const cs_crypto_t *c = s->crypto;
    return c->hash(c->state, s->suite->hash, m, n, out) == CS_CRYPTO_OK ? EDHOC_OK
                                                                         : EDHOC_ERR_CRYPTO;
}

/* ECDH with a peer key given as x only (P-256: either y works, §3.7), or a
 * full SEC1 point, or a raw X25519 key. */
static edhoc_err_t ecdh(const edhoc_session_t *s, const uint8_t *priv, const uint8_t *peer,
                        size_t peer_len, uint8_t *secret)
{
    uint8_t point[CS_EC_MAX_PUB];
    int32_t crv = s->suite->ecdh_curve;
    size_t n = g_len(s), out_len;
    if (crv != CS_CRV_X25519 && peer_len == n) {
        point[0] = 0x02;
        memcpy(point + 1, peer, n);
        peer = point;
        peer_len = n + 1;
    }
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->ecdh(c->state, crv, priv, n, peer, peer_len, secret, &out_len);
    return ce == CS_CRYPTO_OK ? EDHOC_OK : ce == CS_CRYPTO_ERR_BAD_KEY ? EDHOC_ERR_BAD_KEY
                                                                         : EDHOC_ERR_CRYPTO;
}

/* §3.3.2: a one-byte identifier that is itself the encoding of an integer
 * in -24..23 travels as that integer; anything else as a byte string. */
static bool cid_is_int(const uint8_t *id, size_t len)
{
    return len == 1 && (id[0] <= 0x17 || (id[0] >= 0x20 && id[0] <= 0x37));
}

static void encode_cid(cbor_enc_t *e, const uint8_t *id, size_t len)
{
    if (cid_is_int(id, len))
        cbor_encode_raw(e, id, 1);
    else
        cbor_encode_bstr(e, id, len);
}

static bool decode_cid(cbor_dec_t *d, uint8_t *out, uint8_t *out_len)
{
    cbor_item_t it;
    size_t start = d->pos;
    if (cbor_dec_next(d, &it) != CBOR_OK)
        return false;
    if ((it.type == CBOR_TYPE_UINT && it.u <= 23) || (it.type == CBOR_TYPE_NEGINT && it.u <= 23)) {
        out[0] = d->buf[start];
        *out_len = 1;
        return true;
    }
    if (it.type != CBOR_TYPE_BSTR || it.u > EDHOC_MAX_CID)
        return false;
    /* a byte string that should have gone as an integer is not deterministic */
    if (cid_is_int(it.ptr, (size_t)it.u))
        return false;
    memcpy(out, it.ptr, (size_t)it.u);
    *out_len = (uint8_t)it.u;
    return true;
}

/* The kid of an ID_CRED that is exactly {4: bstr} (§3.5.3), or NULL. */
static const uint8_t *kid_only(const uint8_t *map, size_t len, size_t *kid_len)
{
    cbor_dec_t d;
    size_t pairs;
    int64_t label;
    const uint8_t *kid;
    cbor_dec_init(&d, map, len, 0);
    if (cbor_decode_map(&d, &pairs) != CBOR_OK || pairs != 1 ||
        cbor_decode_int(&d, &label) != CBOR_OK || label != COSE_HDR_KID ||
        cbor_decode_bstr(&d, &kid, kid_len) != CBOR_OK || !cbor_dec_done(&d))
        return NULL;
    return kid;
}

static void encode_id_cred_compact(cbor_enc_t *e, const edhoc_cred_t *cred)
{
    size_t kl;
    const uint8_t *kid = kid_only(cred->id_cred, cred->id_cred_len, &kl);
    if (kid)
        encode_cid(e, kid, kl);
    else
        cbor_encode_raw(e, cred->id_cred, cred->id_cred_len);
}

/* Reads ID_CRED from a plaintext: a map as it is, or a compact kid that is
 * rebuilt into {4: kid} for the transcript and the application. */
static bool decode_id_cred(edhoc_session_t *s, cbor_dec_t *d)
{
    cbor_type_t t;
    if (cbor_dec_peek(d, &t) != CBOR_OK)
        return false;
    size_t start = d->pos;
    if (t == CBOR_TYPE_MAP) {
        const uint8_t *p;
        size_t n, kl;
        if (cbor_dec_skip(d, &p, &n) != CBOR_OK)
            return false;
        /* §3.5.3: a lone kid must use the compact form */
        if (kid_only(p, n, &kl))
            return false;
        s->idc_off = start;
        s->idc_len = n;
        s->peer_id_cred_compact = false;
        return true;
    }
    uint8_t kid[EDHOC_MAX_CID], kl;
    if (!decode_cid(d, kid, &kl))
        return false;
    cbor_enc_t e;
    cbor_enc_init(&e, s->peer_id_cred, sizeof s->peer_id_cred);
    cbor_encode_map(&e, 1);
    cbor_encode_int(&e, COSE_HDR_KID);
    cbor_encode_bstr(&e, kid, kl);
    s->peer_id_cred_compact = true;
    return cbor_enc_finish(&e, &s->peer_id_cred_len) == CBOR_OK;
}

static const uint8_t *peer_id_cred(const edhoc_session_t *s, size_t *len)
{
    if (s->peer_id_cred_compact) {
        *len = s->peer_id_cred_len;
        return s->peer_id_cred;
    }
    *len = s->idc_len;
    return s->scratch + s->idc_off;
}

static edhoc_err_t session_init(edhoc_session_t *s, const cs_crypto_t *crypto,
                                const edhoc_config_t *cfg, uint8_t *scratch, size_t scratch_len,
                                bool initiator)
{
    if (!s || !crypto || !cfg || !scratch || scratch_len < 64 || cfg->n_suites == 0 ||
        cfg->n_suites > EDHOC_MAX_SUITES || !cfg->suites || cfg->cid_len > EDHOC_MAX_CID ||
        (unsigned)cfg->method > EDHOC_METHOD_STAT_STAT || !cfg->own.id_cred || !cfg->own.cred ||
        !cfg->priv)
        return EDHOC_ERR_BAD_ARG;
    memset(s, 0, sizeof *s);
    s->crypto = crypto;
    s->cfg = *cfg;
    s->initiator = initiator;
    s->method = cfg->method;
    s->scratch = scratch;
    s->scratch_cap = scratch_len;
    s->state = EDHOC_STATE_START;
    if (initiator) {
        memcpy(s->c_i, cfg->cid, cfg->cid_len);
        s->c_i_len = (uint8_t)cfg->cid_len;
        s->suite = edhoc_suite(cfg->suites[cfg->n_suites - 1]);
        if (!s->suite || !edhoc_suite_supported(crypto, s->suite->id))
            return EDHOC_ERR_UNSUPPORTED_SUITE;
    } else {
        memcpy(s->c_r, cfg->cid, cfg->cid_len);
        s->c_r_len = (uint8_t)cfg->cid_len;
        for (size_t i = 0; i < cfg->n_suites; i++)
            if (!edhoc_suite_supported(crypto, cfg->suites[i]))
                return EDHOC_ERR_UNSUPPORTED_SUITE;
    }
    return EDHOC_OK;
}

edhoc_err_t edhoc_initiator_init(edhoc_session_t *s, const cs_crypto_t *crypto,
                                 const edhoc_config_t *cfg, uint8_t *scratch, size_t scratch_len)
{
    return session_init(s, crypto, cfg, scratch, scratch_len, true);
}

edhoc_err_t edhoc_responder_init(edhoc_session_t *s, const cs_crypto_t *crypto,
                                 const edhoc_config_t *cfg, uint8_t *scratch, size_t scratch_len)
{
    return session_init(s, crypto, cfg, scratch, scratch_len, false);
}

/* A fresh ephemeral key pair; the public key is sent as x only. */
static edhoc_err_t ephemeral(edhoc_session_t *s, uint8_t *g)
{
    uint8_t pub[CS_EC_MAX_PUB];
    size_t priv_len, pub_len;
    const cs_crypto_t *c = s->crypto;
    if (c->keygen(c->state, s->suite->ecdh_curve, s->eph_priv, &priv_len, pub, &pub_len) !=
        CS_CRYPTO_OK)
        return EDHOC_ERR_CRYPTO;
    size_t n = g_len(s);
    memcpy(g, pub_len == n ? pub : pub + 1, n);
    return EDHOC_OK;
}

/* ---------------------------------------------------------------- message_1 */

edhoc_err_t edhoc_initiator_prepare_message_1(edhoc_session_t *s, const uint8_t *ead,
                                              size_t ead_len, uint8_t *out, size_t cap,
                                              size_t *len)
{
    if (!s || !out || !len || (ead_len && !ead))
        return EDHOC_ERR_BAD_ARG;
    if (!s->initiator || s->state != EDHOC_STATE_START)
        return EDHOC_ERR_BAD_STATE;
    edhoc_err_t err = ephemeral(s, s->g_x);
    if (err != EDHOC_OK)
        return fail(s, err);
    cbor_enc_t e;
    cbor_enc_init(&e, out, cap);
    cbor_encode_uint(&e, s->method);
    if (s->cfg.n_suites == 1) {
        cbor_encode_uint(&e, s->cfg.suites[0]);
    } else {
        cbor_encode_array(&e, s->cfg.n_suites);
        for (size_t i = 0; i < s->cfg.n_suites; i++)
            cbor_encode_uint(&e, s->cfg.suites[i]);
    }
    cbor_encode_bstr(&e, s->g_x, g_len(s));
    encode_cid(&e, s->c_i, s->c_i_len);
    cbor_encode_raw(&e, ead, ead_len);
    if (cbor_enc_finish(&e, len) != CBOR_OK)
        return fail(s, EDHOC_ERR_NO_SPACE);
    if ((err = hash(s, out, *len, s->h_msg1)) != EDHOC_OK)
        return fail(s, err);
    s->state = EDHOC_STATE_WAIT_M2;
    return EDHOC_OK;
}

static bool responder_accepts(const edhoc_session_t *s, uint8_t id)
{
    for (size_t i = 0; i < s->cfg.n_suites; i++)
        if (s->cfg.suites[i] == id)
            return true;
    return false;
}

edhoc_err_t edhoc_responder_process_message_1(edhoc_session_t *s, const uint8_t *msg, size_t len,
                                              const uint8_t **ead, size_t *ead_len)
{
    if (!s || !msg || !ead || !ead_len)
        return EDHOC_ERR_BAD_ARG;
    if (s->initiator || s->state != EDHOC_STATE_START)
        return EDHOC_ERR_BAD_STATE;
    cbor_dec_t d;
    uint64_t method;
    cbor_dec_init(&d, msg, len, 0);
    if (cbor_decode_uint(&d, &method) != CBOR_OK)
        return fail(s, EDHOC_ERR_MALFORMED);
    if (method > EDHOC_METHOD_STAT_STAT || method != (uint64_t)s->cfg.method)
        return fail(s, EDHOC_ERR_UNSUPPORTED_METHOD);
    /* SUITES_I: one suite, or an array of two or more, the selected last */
    uint8_t offered[EDHOC_MAX_SUITES];
    size_t n_offered = 0, count;
    uint64_t v;
    if (cbor_decode_array(&d, &count) == CBOR_OK) {
        if (count < 2 || count > EDHOC_MAX_SUITES)
            return fail(s, EDHOC_ERR_MALFORMED);
        for (size_t i = 0; i < count; i++) {
            if (cbor_decode_uint(&d, &v) != CBOR_OK || v > 255)
                return fail(s, EDHOC_ERR_MALFORMED);
            offered[n_offered++] = (uint8_t)v;
        }
    } else if (cbor_decode_uint(&d, &v) == CBOR_OK && v <= 255) {
        offered[n_offered++] = (uint8_t)v;
    } else {
        return fail(s, EDHOC_ERR_MALFORMED);
    }
    /* §5.2.3: the selected suite must be supported, and none the initiator
     * preferred to it */
    bool ok = responder_accepts(s, offered[n_offered - 1]);
    for (size_t i = 0; i + 1 < n_offered; i++)
        ok &= !responder_accepts(s, offered[i]);
    if (!ok)
        return fail(s, EDHOC_ERR_WRONG_SUITE);
    s->suite = edhoc_suite(offered[n_offered - 1]);
    const uint8_t *gx;
    size_t gxl;
    if (cbor_decode_bstr(&d, &gx, &gxl) != CBOR_OK || gxl != g_len(s))
        return fail(s, EDHOC_ERR_MALFORMED);
    memcpy(s->g_x, gx, gxl);
    if (!decode_cid(&d, s->c_i, &s->c_i_len))
        return fail(s, EDHOC_ERR_MALFORMED);
    *ead = msg + d.pos; /* whatever follows C_I is EAD_1 */
    *ead_len = len - d.pos;
    edhoc_err_t err = take_ead(s, 1, *ead, *ead_len);
    if (err != EDHOC_OK)
        return fail(s, err);
    err = hash(s, msg, len, s->h_msg1);
    if (err != EDHOC_OK)
        return fail(s, err);
    s->state = EDHOC_STATE_GOT_M1;
    return EDHOC_OK;
}

edhoc_err_t edhoc_responder_set_cid(edhoc_session_t *s, const uint8_t *cid, size_t len)
{
    if (!s || !cid || len == 0 || len > EDHOC_MAX_CID)
        return EDHOC_ERR_BAD_ARG;
    if (s->initiator || s->state != EDHOC_STATE_GOT_M1)
        return EDHOC_ERR_BAD_STATE;
    memcpy(s->c_r, cid, len);
    s->c_r_len = (uint8_t)len;
    return EDHOC_OK;
}

const uint8_t *edhoc_peer_cid(const edhoc_session_t *s, size_t *len)
{
    *len = s->initiator ? s->c_r_len : s->c_i_len;
    return s->initiator ? s->c_r : s->c_i;
}

/* ---------------------------------------------------------------- transcript */

/* TH_2 = H(bstr G_Y, bstr H(message_1)) (§5.3.2) */
static edhoc_err_t compute_th2(edhoc_session_t *s)
{
    uint8_t in[2 * (2 + EDHOC_HASH_MAX)];
    size_t n;
    cbor_enc_t e;
    cbor_enc_init(&e, in, sizeof in);
    cbor_encode_bstr(&e, s->g_y, g_len(s));
    cbor_encode_bstr(&e, s->h_msg1, hash_len(s));
    if (cbor_enc_finish(&e, &n) != CBOR_OK)
        return EDHOC_ERR_NO_SPACE;
    return hash(s, in, n, s->th);
}

/* TH_{3,4} = H(bstr TH_prev, PLAINTEXT, CRED) built in the end of scratch. */
static edhoc_err_t next_th(edhoc_session_t *s, const uint8_t *pt, size_t pt_len,
                           const edhoc_cred_t *cred)
{
    size_t need = 2 + hash_len(s) + pt_len + cred->cred_len;
    size_t used = pt == s->scratch ? pt_len : s->pt_len; /* what must survive */
    if (need > s->scratch_cap - used)
        return EDHOC_ERR_NO_SPACE;
    uint8_t *buf = s->scratch + s->scratch_cap - need;
    cbor_enc_t e;
    size_t n;
    cbor_enc_init(&e, buf, need);
    cbor_encode_bstr(&e, s->th, hash_len(s));
    cbor_encode_raw(&e, pt, pt_len);
    cbor_encode_raw(&e, cred->cred, cred->cred_len);
    if (cbor_enc_finish(&e, &n) != CBOR_OK)
        return EDHOC_ERR_NO_SPACE;
    edhoc_err_t err = hash(s, buf, n, s->th);
    cs_wipe(buf, n);
    return err;
}

/* context_x = << [C_R,] ID_CRED_x, TH_x, CRED_x, ? EAD_x >> into buf. */
static edhoc_err_t build_context(const edhoc_session_t *s, bool with_cr, const uint8_t *id_cred,
                                 size_t id_cred_len, const edhoc_cred_t *cred, const uint8_t *ead,
                                 size_t ead_len, uint8_t *buf, size_t cap, size_t *len)
{
    cbor_enc_t e;
    cbor_enc_init(&e, buf, cap);
    if (with_cr)
        encode_cid(&e, s->c_r, s->c_r_len);
    cbor_encode_raw(&e, id_cred, id_cred_len);
    cbor_encode_bstr(&e, s->th, hash_len(s));
    cbor_encode_raw(&e, cred->cred, cred->cred_len);
    cbor_encode_raw(&e, ead, ead_len);
    return cbor_enc_finish(&e, len) == CBOR_OK ? EDHOC_OK : EDHOC_ERR_NO_SPACE;
}

/* MAC_x = EDHOC_KDF(PRK, label, context_x, mac_length_x) (§5.3.2, §5.4.2). */
static edhoc_err_t compute_mac(edhoc_session_t *s, const uint8_t *prk, uint32_t label,
                               bool with_cr, const uint8_t *id_cred, size_t id_cred_len,
                               const edhoc_cred_t *cred, const uint8_t *ead, size_t ead_len,
                               bool signs, uint8_t *mac, size_t *mac_len)
{
    size_t cap = 2 * EDHOC_MAX_CID + id_cred_len + 2 + hash_len(s) + cred->cred_len + ead_len + 8;
    if (cap > s->scratch_cap - s->pt_len)
        return EDHOC_ERR_NO_SPACE;
    uint8_t *ctx = s->scratch + s->pt_len;
    size_t n;
    edhoc_err_t err = build_context(s, with_cr, id_cred, id_cred_len, cred, ead, ead_len, ctx, cap, &n);
    if (err != EDHOC_OK)
        return err;
    *mac_len = signs ? hash_len(s) : s->suite->mac_len;
    /* the KDF info is built behind the context in scratch */
    size_t saved = s->pt_len;
    s->pt_len += n;
    err = kdf(s, prk, label, ctx, n, mac, *mac_len);
    s->pt_len = saved;
    cs_wipe(ctx, n);
    return err;
}

/* Sig_structure ["Signature1", << ID_CRED >>, << TH, CRED, ? EAD >>, MAC]. */
static edhoc_err_t sig_structure(edhoc_session_t *s, const uint8_t *id_cred, size_t id_cred_len,
                                 const edhoc_cred_t *cred, const uint8_t *ead, size_t ead_len,
                                 const uint8_t *mac, size_t mac_len, uint8_t **out, size_t *len)
{
    size_t ext_len = 2 + hash_len(s) + cred->cred_len + ead_len;
    size_t cap = 32 + id_cred_len + ext_len + mac_len + 8;
    if (ext_len + cap > s->scratch_cap - s->pt_len)
        return EDHOC_ERR_NO_SPACE;
    uint8_t *ext = s->scratch + s->pt_len, *buf = ext + ext_len;
    cbor_enc_t e;
    size_t n;
    cbor_enc_init(&e, ext, ext_len);
    cbor_encode_bstr(&e, s->th, hash_len(s));
    cbor_encode_raw(&e, cred->cred, cred->cred_len);
    cbor_encode_raw(&e, ead, ead_len);
    if (cbor_enc_finish(&e, &n) != CBOR_OK)
        return EDHOC_ERR_NO_SPACE;
    if (cose_encode_sig_structure(buf, cap, len, id_cred, id_cred_len, ext, n, mac, mac_len) !=
        COSE_OK)
        return EDHOC_ERR_NO_SPACE;
    *out = buf;
    return EDHOC_OK;
}

/* Signature_or_MAC_x of our own credential. */
static edhoc_err_t own_sig_or_mac(edhoc_session_t *s, const uint8_t *mac, size_t mac_len,
                                  bool signs, const uint8_t *ead, size_t ead_len, uint8_t *out,
                                  size_t *out_len)
{
    if (!signs) {
        memcpy(out, mac, mac_len);
        *out_len = mac_len;
        return EDHOC_OK;
    }
    uint8_t *tbs;
    size_t tbs_len;
    edhoc_err_t err = sig_structure(s, s->cfg.own.id_cred, s->cfg.own.id_cred_len, &s->cfg.own,
                                    ead, ead_len, mac, mac_len, &tbs, &tbs_len);
    if (err != EDHOC_OK)
        return err;
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->sign(c->state, s->suite->sig_alg, s->cfg.priv, s->cfg.priv_len, tbs,
                                 tbs_len, out, out_len);
    return ce == CS_CRYPTO_OK ? EDHOC_OK : ce == CS_CRYPTO_ERR_BAD_KEY ? EDHOC_ERR_BAD_KEY
                                                                        : EDHOC_ERR_CRYPTO;
}

/* Checks the peer's Signature_or_MAC_x against its credential. */
static edhoc_err_t verify_sig_or_mac(edhoc_session_t *s, const uint8_t *mac, size_t mac_len,
                                     bool signs, const edhoc_cred_t *cred, const uint8_t *id_cred,
                                     size_t id_cred_len, const uint8_t *ead, size_t ead_len)
{
    const uint8_t *got = s->scratch + s->sig_off;
    if (!signs) {
        if (s->sig_len != mac_len || !cs_ct_equal(got, mac, mac_len))
            return EDHOC_ERR_AUTH;
        return EDHOC_OK;
    }
    uint8_t *tbs;
    size_t tbs_len;
    edhoc_err_t err = sig_structure(s, id_cred, id_cred_len, cred, ead, ead_len, mac, mac_len,
                                    &tbs, &tbs_len);
    if (err != EDHOC_OK)
        return err;
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->verify(c->state, s->suite->sig_alg, cred->pub, cred->pub_len, tbs,
                                   tbs_len, got, s->sig_len);
    return ce == CS_CRYPTO_OK ? EDHOC_OK : ce == CS_CRYPTO_ERR_BAD_KEY ? EDHOC_ERR_BAD_KEY
                                                                        : EDHOC_ERR_AUTH;
}

/* Static DH key of a credential: x of a P-256 point, or the X25519 key. */
static const uint8_t *static_dh_key(const edhoc_session_t *s, const edhoc_cred_t *cred,
                                    size_t *len)
{
    size_t n = g_len(s);
    if (cred->pub_len == n) {
        *len = n;
        return cred->pub;
    }
    if (cred->pub_len == 2 * n + 1 || cred->pub_len == n + 1) {
        *len = n;
        return cred->pub + 1;
    }
    return NULL;
}

/* PRK_{3e2m,4e3m}: with static DH, Extract(SALT, G_RX or G_IY) (§4.1.1.2-3). */
static edhoc_err_t derive_prk_dh(edhoc_session_t *s, const uint8_t *prk_in, uint32_t salt_label,
                                 const uint8_t *priv, const uint8_t *peer, size_t peer_len,
                                 uint8_t *prk_out)
{
    uint8_t salt[EDHOC_HASH_MAX], shared[CS_EC_MAX_PRIV];
    edhoc_err_t err = kdf(s, prk_in, salt_label, s->th, hash_len(s), salt, hash_len(s));
    if (err == EDHOC_OK)
        err = ecdh(s, priv, peer, peer_len, shared);
    if (err == EDHOC_OK)
        err = extract(s, salt, shared, g_len(s), prk_out);
    cs_wipe(shared, sizeof shared);
    cs_wipe(salt, sizeof salt);
    return err;
}

/* ---------------------------------------------------------------- message_2 */

edhoc_err_t edhoc_responder_prepare_message_2(edhoc_session_t *s, const uint8_t *ead,
                                              size_t ead_len, uint8_t *out, size_t cap,
                                              size_t *len)
{
    if (!s || !out || !len || (ead_len && !ead))
        return EDHOC_ERR_BAD_ARG;
    if (s->initiator || s->state != EDHOC_STATE_GOT_M1)
        return EDHOC_ERR_BAD_STATE;
    if (s->c_r_len == s->c_i_len && memcmp(s->c_r, s->c_i, s->c_i_len) == 0)
        return EDHOC_ERR_BAD_STATE; /* choose another C_R: edhoc_responder_set_cid */
    uint8_t gxy[CS_EC_MAX_PRIV], mac[EDHOC_HASH_MAX], sig[CS_SIG_MAX];
    size_t mac_len, sig_len;
    edhoc_err_t err = ephemeral(s, s->g_y);
    if (err == EDHOC_OK)
        err = ecdh(s, s->eph_priv, s->g_x, g_len(s), gxy);
    if (err == EDHOC_OK)
        err = compute_th2(s);
    if (err == EDHOC_OK)
        err = extract(s, s->th, gxy, g_len(s), s->prk_2e);
    cs_wipe(gxy, sizeof gxy);
    if (err == EDHOC_OK) {
        if (r_signs(s->method))
            memcpy(s->prk_3e2m, s->prk_2e, hash_len(s));
        else
            err = derive_prk_dh(s, s->prk_2e, 1, s->cfg.priv, s->g_x, g_len(s), s->prk_3e2m);
    }
    s->pt_len = 0;
    if (err == EDHOC_OK)
        err = compute_mac(s, s->prk_3e2m, 2, true, s->cfg.own.id_cred, s->cfg.own.id_cred_len,
                          &s->cfg.own, ead, ead_len, r_signs(s->method), mac, &mac_len);
    if (err == EDHOC_OK)
        err = own_sig_or_mac(s, mac, mac_len, r_signs(s->method), ead, ead_len, sig, &sig_len);
    if (err != EDHOC_OK)
        return fail(s, err);

    /* message_2 = bstr(G_Y || CIPHERTEXT_2); PLAINTEXT_2 is written in
     * place after G_Y and XORed with KEYSTREAM_2 there. */
    size_t pt_cap = EDHOC_MAX_CID + 2 + s->cfg.own.id_cred_len + 3 + sig_len + ead_len;
    size_t body_max = g_len(s) + pt_cap;
    size_t head = cbor_head_size(body_max);
    if (cap < head + body_max)
        return fail(s, EDHOC_ERR_NO_SPACE);
    uint8_t *pt = out + head + g_len(s);
    cbor_enc_t e;
    size_t pt_len;
    cbor_enc_init(&e, pt, pt_cap);
    encode_cid(&e, s->c_r, s->c_r_len);
    encode_id_cred_compact(&e, &s->cfg.own);
    cbor_encode_bstr(&e, sig, sig_len);
    cbor_encode_raw(&e, ead, ead_len);
    if (cbor_enc_finish(&e, &pt_len) != CBOR_OK)
        return fail(s, EDHOC_ERR_NO_SPACE);
    /* TH_3 needs PLAINTEXT_2 before it is encrypted */
    s->pt_len = 0;
    if ((err = next_th(s, pt, pt_len, &s->cfg.own)) != EDHOC_OK)
        return fail(s, err);
    uint8_t th3[EDHOC_HASH_MAX];
    memcpy(th3, s->th, hash_len(s));
    if ((err = compute_th2(s)) != EDHOC_OK)
        return fail(s, err);
    /* KEYSTREAM_2 = EDHOC_KDF(PRK_2e, 0, TH_2, plaintext_length), in scratch */
    uint8_t *ks = s->scratch;
    if (pt_len > s->scratch_cap)
        return fail(s, EDHOC_ERR_NO_SPACE);
    if ((err = kdf(s, s->prk_2e, 0, s->th, hash_len(s), ks, pt_len)) != EDHOC_OK)
        return fail(s, err);
    for (size_t i = 0; i < pt_len; i++)
        pt[i] ^= ks[i];
    cs_wipe(ks, pt_len);
    memcpy(s->th, th3, hash_len(s));
    /* now the head: the body may be shorter than estimated */
    size_t body = g_len(s) + pt_len, h = cbor_head_size(body);
    memmove(out + h + g_len(s), pt, pt_len);
    cbor_enc_init(&e, out, h);
    cbor_encode_bstr_head(&e, body);
    memcpy(out + h, s->g_y, g_len(s));
    *len = h + body;
    s->state = EDHOC_STATE_WAIT_M3;
    return EDHOC_OK;
}

/* Message that starts with an integer: an EDHOC error (§6). s may be
 * NULL when only the code matters. */
static edhoc_err_t parse_error(edhoc_session_t *s, const uint8_t *msg, size_t len)
{
    cbor_dec_t d;
    int64_t code;
    cbor_dec_init(&d, msg, len, 0);
    if (cbor_decode_int(&d, &code) != CBOR_OK)
        return EDHOC_ERR_MALFORMED;
    if (code == 2) {
        size_t count = 1;
        uint64_t v;
        bool array = cbor_decode_array(&d, &count) == CBOR_OK;
        if (!array)
            count = 1;
        if (s)
            s->n_suites_r = 0;
        for (size_t i = 0; i < count && i < EDHOC_MAX_SUITES; i++) {
            if (cbor_decode_uint(&d, &v) != CBOR_OK || v > 255)
                return EDHOC_ERR_MALFORMED;
            if (s)
                s->suites_r[s->n_suites_r++] = (uint8_t)v;
        }
        return EDHOC_ERR_PEER_WRONG_SUITE;
    }
    return code == 3 ? EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL : EDHOC_ERR_PEER_UNSPECIFIED;
}

/* Splits PLAINTEXT_{2,3} in scratch: [C_R,] ID_CRED, bstr Sig_or_MAC, EAD. */
static edhoc_err_t split_plaintext(edhoc_session_t *s, bool with_cr)
{
    cbor_dec_t d;
    cbor_dec_init(&d, s->scratch, s->pt_len, 0);
    if (with_cr && !decode_cid(&d, s->c_r, &s->c_r_len))
        return EDHOC_ERR_MALFORMED;
    if (!decode_id_cred(s, &d))
        return EDHOC_ERR_MALFORMED;
    const uint8_t *sig;
    if (cbor_decode_bstr(&d, &sig, &s->sig_len) != CBOR_OK)
        return EDHOC_ERR_MALFORMED;
    s->sig_off = (size_t)(sig - s->scratch);
    s->ead_off = d.pos; /* EAD: delivered once the message verified */
    s->ead_len = s->pt_len - d.pos;
    return EDHOC_OK;
}

edhoc_err_t edhoc_initiator_parse_message_2(edhoc_session_t *s, const uint8_t *msg, size_t len,
                                            const uint8_t **id_cred_r, size_t *id_cred_r_len,
                                            const uint8_t **ead, size_t *ead_len)
{
    if (!s || !msg || !id_cred_r || !id_cred_r_len || !ead || !ead_len)
        return EDHOC_ERR_BAD_ARG;
    if (!s->initiator || s->state != EDHOC_STATE_WAIT_M2)
        return EDHOC_ERR_BAD_STATE;
    cbor_type_t t;
    cbor_dec_t d;
    cbor_dec_init(&d, msg, len, 0);
    if (cbor_dec_peek(&d, &t) == CBOR_OK && (t == CBOR_TYPE_UINT || t == CBOR_TYPE_NEGINT))
        return fail(s, parse_error(s, msg, len));
    const uint8_t *body;
    size_t body_len;
    if (cbor_decode_bstr(&d, &body, &body_len) != CBOR_OK || !cbor_dec_done(&d) ||
        body_len <= g_len(s))
        return fail(s, EDHOC_ERR_MALFORMED);
    size_t pt_len = body_len - g_len(s);
    if (pt_len > s->scratch_cap / 2)
        return fail(s, EDHOC_ERR_NO_SPACE);
    memcpy(s->g_y, body, g_len(s));
    uint8_t gxy[CS_EC_MAX_PRIV];
    edhoc_err_t err = ecdh(s, s->eph_priv, s->g_y, g_len(s), gxy);
    if (err == EDHOC_OK)
        err = compute_th2(s);
    if (err == EDHOC_OK)
        err = extract(s, s->th, gxy, g_len(s), s->prk_2e);
    cs_wipe(gxy, sizeof gxy);
    s->pt_len = 0;
    if (err == EDHOC_OK)
        err = kdf(s, s->prk_2e, 0, s->th, hash_len(s), s->scratch, pt_len);
    if (err != EDHOC_OK)
        return fail(s, err);
    for (size_t i = 0; i < pt_len; i++)
        s->scratch[i] ^= body[g_len(s) + i];
    s->pt_len = pt_len;
    if ((err = split_plaintext(s, true)) != EDHOC_OK)
        return fail(s, err);
    /* §3.3.2: C_R must differ from C_I */
    if (s->c_r_len == s->c_i_len && memcmp(s->c_r, s->c_i, s->c_i_len) == 0)
        return fail(s, EDHOC_ERR_MALFORMED);
    *id_cred_r = peer_id_cred(s, id_cred_r_len);
    *ead = s->scratch + s->ead_off;
    *ead_len = s->ead_len;
    s->state = EDHOC_STATE_VERIFY_M2;
    return EDHOC_OK;
}

edhoc_err_t edhoc_initiator_verify_message_2(edhoc_session_t *s, const edhoc_cred_t *cred_r)
{
    if (!s || !cred_r || !cred_r->cred || !cred_r->pub)
        return EDHOC_ERR_BAD_ARG;
    if (!s->initiator || s->state != EDHOC_STATE_VERIFY_M2)
        return EDHOC_ERR_BAD_STATE;
    edhoc_err_t err = EDHOC_OK;
    if (r_signs(s->method)) {
        memcpy(s->prk_3e2m, s->prk_2e, hash_len(s));
    } else {
        size_t kl;
        const uint8_t *k = static_dh_key(s, cred_r, &kl);
        err = k ? derive_prk_dh(s, s->prk_2e, 1, s->eph_priv, k, kl, s->prk_3e2m)
                : EDHOC_ERR_BAD_KEY;
    }
    size_t idl;
    const uint8_t *idc = peer_id_cred(s, &idl);
    uint8_t mac[EDHOC_HASH_MAX];
    size_t mac_len;
    const uint8_t *ead = s->scratch + s->ead_off;
    if (err == EDHOC_OK)
        err = compute_mac(s, s->prk_3e2m, 2, true, idc, idl, cred_r, ead, s->ead_len,
                          r_signs(s->method), mac, &mac_len);
    if (err == EDHOC_OK)
        err = verify_sig_or_mac(s, mac, mac_len, r_signs(s->method), cred_r, idc, idl, ead,
                                s->ead_len);
    if (err == EDHOC_OK)
        err = take_ead(s, 2, ead, s->ead_len);
    /* TH_3 = H(TH_2, PLAINTEXT_2, CRED_R) */
    if (err == EDHOC_OK)
        err = next_th(s, s->scratch, s->pt_len, cred_r);
    cs_wipe(mac, sizeof mac);
    if (err != EDHOC_OK)
        return fail(s, err);
    cs_wipe(s->scratch, s->pt_len);
    s->pt_len = 0;
    s->state = EDHOC_STATE_M2_VERIFIED;
    return EDHOC_OK;
}

/* ---------------------------------------------------------------- message_3/4 */

/* K_x and IV_x from a PRK and the current TH, and A_x (§5.4.3, §5.5.2). */
static edhoc_err_t aead_params(edhoc_session_t *s, const uint8_t *prk, uint32_t key_label,
                               uint8_t *key, uint8_t *iv, uint8_t *aad, size_t *aad_len)
{
    const cose_alg_info_t *a = aead_info(s);
    edhoc_err_t err = kdf(s, prk, key_label, s->th, hash_len(s), key, a->key_len);
    if (err == EDHOC_OK)
        err = kdf(s, prk, key_label + 1, s->th, hash_len(s), iv, a->nonce_len);
    /* A_x = ["Encrypt0", h'', TH_x]: TH is the external_aad itself */
    if (err == EDHOC_OK &&
        cose_encode_enc_structure(aad, 64, aad_len, NULL, 0, s->th, hash_len(s)) != COSE_OK)
        err = EDHOC_ERR_NO_SPACE;
    return err;
}

static edhoc_err_t finish_keys(edhoc_session_t *s)
{
    edhoc_err_t err = kdf(s, s->prk_4e3m, 7, s->th, hash_len(s), s->prk_out, hash_len(s));
    if (err == EDHOC_OK)
        err = kdf(s, s->prk_out, 10, NULL, 0, s->prk_exporter, hash_len(s));
    return err;
}

edhoc_err_t edhoc_initiator_prepare_message_3(edhoc_session_t *s, const uint8_t *ead,
                                              size_t ead_len, uint8_t *out, size_t cap,
                                              size_t *len)
{
    if (!s || !out || !len || (ead_len && !ead))
        return EDHOC_ERR_BAD_ARG;
    if (!s->initiator || s->state != EDHOC_STATE_M2_VERIFIED)
        return EDHOC_ERR_BAD_STATE;
    edhoc_err_t err = EDHOC_OK;
    if (i_signs(s->method))
        memcpy(s->prk_4e3m, s->prk_3e2m, hash_len(s));
    else
        err = derive_prk_dh(s, s->prk_3e2m, 5, s->cfg.priv, s->g_y, g_len(s), s->prk_4e3m);
    uint8_t mac[EDHOC_HASH_MAX], sig[CS_SIG_MAX];
    size_t mac_len, sig_len;
    s->pt_len = 0;
    if (err == EDHOC_OK)
        err = compute_mac(s, s->prk_4e3m, 6, false, s->cfg.own.id_cred, s->cfg.own.id_cred_len,
                          &s->cfg.own, ead, ead_len, i_signs(s->method), mac, &mac_len);
    if (err == EDHOC_OK)
        err = own_sig_or_mac(s, mac, mac_len, i_signs(s->method), ead, ead_len, sig, &sig_len);
    if (err != EDHOC_OK)
        return fail(s, err);
    /* message_3 = bstr(CIPHERTEXT_3): PLAINTEXT_3 encrypted in place */
    const cose_alg_info_t *a = aead_info(s);
    size_t pt_cap = 2 + s->cfg.own.id_cred_len + 3 + sig_len + ead_len;
    size_t head = cbor_head_size(pt_cap + a->tag_len);
    if (cap < head + pt_cap + a->tag_len)
        return fail(s, EDHOC_ERR_NO_SPACE);
    uint8_t *pt = out + head;
    cbor_enc_t e;
    size_t pt_len;
    cbor_enc_init(&e, pt, pt_cap);
    encode_id_cred_compact(&e, &s->cfg.own);
    cbor_encode_bstr(&e, sig, sig_len);
    cbor_encode_raw(&e, ead, ead_len);
    if (cbor_enc_finish(&e, &pt_len) != CBOR_OK)
        return fail(s, EDHOC_ERR_NO_SPACE);
    uint8_t key[CS_AEAD_MAX_KEY], iv[CS_AEAD_MAX_NONCE], aad[64];
    size_t aad_len;
    if ((err = aead_params(s, s->prk_3e2m, 3, key, iv, aad, &aad_len)) != EDHOC_OK)
        return fail(s, err);
    /* TH_4 = H(TH_3, PLAINTEXT_3, CRED_I) before encryption */
    if ((err = next_th(s, pt, pt_len, &s->cfg.own)) != EDHOC_OK)
        return fail(s, err);
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->aead_seal(c->state, a->id, key, iv, a->nonce_len, aad, aad_len, pt,
                                      pt_len, pt);
    cs_wipe(key, sizeof key);
    if (ce != CS_CRYPTO_OK)
        return fail(s, EDHOC_ERR_CRYPTO);
    size_t body = pt_len + a->tag_len, h = cbor_head_size(body);
    memmove(out + h, pt, body);
    cbor_enc_init(&e, out, h);
    cbor_encode_bstr_head(&e, body);
    *len = h + body;
    if ((err = finish_keys(s)) != EDHOC_OK)
        return fail(s, err);
    s->state = EDHOC_STATE_COMPLETED;
    return EDHOC_OK;
}

edhoc_err_t edhoc_responder_parse_message_3(edhoc_session_t *s, const uint8_t *msg, size_t len,
                                            const uint8_t **id_cred_i, size_t *id_cred_i_len,
                                            const uint8_t **ead, size_t *ead_len)
{
    if (!s || !msg || !id_cred_i || !id_cred_i_len || !ead || !ead_len)
        return EDHOC_ERR_BAD_ARG;
    if (s->initiator || s->state != EDHOC_STATE_WAIT_M3)
        return EDHOC_ERR_BAD_STATE;
    cbor_dec_t d;
    const uint8_t *ct;
    size_t ct_len;
    const cose_alg_info_t *a = aead_info(s);
    cbor_dec_init(&d, msg, len, 0);
    if (cbor_decode_bstr(&d, &ct, &ct_len) != CBOR_OK || !cbor_dec_done(&d) ||
        ct_len <= a->tag_len)
        return fail(s, EDHOC_ERR_MALFORMED);
    if (ct_len > s->scratch_cap / 2)
        return fail(s, EDHOC_ERR_NO_SPACE);
    uint8_t key[CS_AEAD_MAX_KEY], iv[CS_AEAD_MAX_NONCE], aad[64];
    size_t aad_len;
    edhoc_err_t err = aead_params(s, s->prk_3e2m, 3, key, iv, aad, &aad_len);
    if (err != EDHOC_OK)
        return fail(s, err);
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->aead_open(c->state, a->id, key, iv, a->nonce_len, aad, aad_len, ct,
                                      ct_len, s->scratch);
    cs_wipe(key, sizeof key);
    if (ce != CS_CRYPTO_OK)
        return fail(s, ce == CS_CRYPTO_ERR_AUTH ? EDHOC_ERR_DECRYPT : EDHOC_ERR_CRYPTO);
    s->pt_len = ct_len - a->tag_len;
    if ((err = split_plaintext(s, false)) != EDHOC_OK)
        return fail(s, err);
    *id_cred_i = peer_id_cred(s, id_cred_i_len);
    *ead = s->scratch + s->ead_off;
    *ead_len = s->ead_len;
    s->state = EDHOC_STATE_VERIFY_M3;
    return EDHOC_OK;
}

edhoc_err_t edhoc_responder_verify_message_3(edhoc_session_t *s, const edhoc_cred_t *cred_i)
{
    if (!s || !cred_i || !cred_i->cred || !cred_i->pub)
        return EDHOC_ERR_BAD_ARG;
    if (s->initiator || s->state != EDHOC_STATE_VERIFY_M3)
        return EDHOC_ERR_BAD_STATE;
    edhoc_err_t err = EDHOC_OK;
    if (i_signs(s->method)) {
        memcpy(s->prk_4e3m, s->prk_3e2m, hash_len(s));
    } else {
        size_t kl;
        const uint8_t *k = static_dh_key(s, cred_i, &kl);
        err = k ? derive_prk_dh(s, s->prk_3e2m, 5, s->eph_priv, k, kl, s->prk_4e3m)
                : EDHOC_ERR_BAD_KEY;
    }
    size_t idl;
    const uint8_t *idc = peer_id_cred(s, &idl);
    uint8_t mac[EDHOC_HASH_MAX];
    size_t mac_len;
    const uint8_t *ead = s->scratch + s->ead_off;
    if (err == EDHOC_OK)
        err = compute_mac(s, s->prk_4e3m, 6, false, idc, idl, cred_i, ead, s->ead_len,
                          i_signs(s->method), mac, &mac_len);
    if (err == EDHOC_OK)
        err = verify_sig_or_mac(s, mac, mac_len, i_signs(s->method), cred_i, idc, idl, ead,
                                s->ead_len);
    if (err == EDHOC_OK)
        err = take_ead(s, 3, ead, s->ead_len);
    if (err == EDHOC_OK)
        err = next_th(s, s->scratch, s->pt_len, cred_i);
    if (err == EDHOC_OK)
        err = finish_keys(s);
    if (err != EDHOC_OK)
        return fail(s, err);
    cs_wipe(s->scratch, s->pt_len);
    s->pt_len = 0;
    cs_wipe(s->eph_priv, sizeof s->eph_priv);
    s->state = EDHOC_STATE_COMPLETED;
    return EDHOC_OK;
}

edhoc_err_t edhoc_responder_prepare_message_4(edhoc_session_t *s, const uint8_t *ead,
                                              size_t ead_len, uint8_t *out, size_t cap,
                                              size_t *len)
{
    if (!s || !out || !len || (ead_len && !ead))
        return EDHOC_ERR_BAD_ARG;
    if (s->initiator || s->state != EDHOC_STATE_COMPLETED)
        return EDHOC_ERR_BAD_STATE;
    const cose_alg_info_t *a = aead_info(s);
    size_t body = ead_len + a->tag_len, h = cbor_head_size(body);
    if (cap < h + body)
        return EDHOC_ERR_NO_SPACE;
    uint8_t key[CS_AEAD_MAX_KEY], iv[CS_AEAD_MAX_NONCE], aad[64];
    size_t aad_len;
    edhoc_err_t err = aead_params(s, s->prk_4e3m, 8, key, iv, aad, &aad_len);
    if (err != EDHOC_OK)
        return err;
    if (ead_len)
        memmove(out + h, ead, ead_len);
    const cs_crypto_t *c = s->crypto;
    cs_crypto_err_t ce = c->aead_seal(c->state, a->id, key, iv, a->nonce_len, aad, aad_len,
                                      out + h, ead_len, out + h);
    cs_wipe(key, sizeof key);
    if (ce != CS_CRYPTO_OK)
        return EDHOC_ERR_CRYPTO;
    cbor_enc_t e;
    cbor_enc_init(&e, out, h);
    cbor_encode_bstr_head(&e, body);
    *len = h + body;
    return EDHOC_OK;
}

edhoc_err_t edhoc_initiator_process_message_4(edhoc_session_t *s, const uint8_t *msg, size_t len,
                                              uint8_t *ead_buf, size_t ead_cap, size_t *ead_len)
{
    if (!s || !msg || !ead_len || (ead_cap && !ead_buf))
        return EDHOC_ERR_BAD_ARG;
    if (!s->initiator || s->state != EDHOC_STATE_COMPLETED)
        return EDHOC_ERR_BAD_STATE;
    cbor_dec_t d;
    const uint8_t *ct;
    size_t ct_len;
    const cose_alg_info_t *a = aead_info(s);
    cbor_dec_init(&d, msg, len, 0);
    if (cbor_decode_bstr(&d, &ct, &ct_len) != CBOR_OK || !cbor_dec_done(&d) ||
        ct_len < a->tag_len)
        return EDHOC_ERR_MALFORMED;
    if (ct_len - a->tag_len > ead_cap)
        return EDHOC_ERR_NO_SPACE;
    uint8_t key[CS_AEAD_MAX_KEY], iv[CS_AEAD_MAX_NONCE], aad[64];
    size_t aad_len;
    edhoc_err_t err = aead_params(s, s->prk_4e3m, 8, key, iv, aad, &aad_len);
    if (err != EDHOC_OK)
        return err;
    const cs_crypto_t *c = s->crypto;
    uint8_t none;
    cs_crypto_err_t ce = c->aead_open(c->state, a->id, key, iv, a->nonce_len, aad, aad_len, ct,
                                      ct_len, ead_cap ? ead_buf : &none);
    cs_wipe(key, sizeof key);
    if (ce != CS_CRYPTO_OK)
        return ce == CS_CRYPTO_ERR_AUTH ? EDHOC_ERR_DECRYPT : EDHOC_ERR_CRYPTO;
    *ead_len = ct_len - a->tag_len;
    return take_ead(s, 4, ead_buf, *ead_len);
}

/* ---------------------------------------------------------------- errors */

void edhoc_reject_credential(edhoc_session_t *s)
{
    if (s)
        (void)fail(s, EDHOC_ERR_UNKNOWN_CREDENTIAL);
}

edhoc_err_t edhoc_prepare_error(const edhoc_session_t *s, uint8_t *out, size_t cap, size_t *len)
{
    if (!s || !out || !len)
        return EDHOC_ERR_BAD_ARG;
    if (s->state != EDHOC_STATE_FAILED)
        return EDHOC_ERR_BAD_STATE;
    cbor_enc_t e;
    cbor_enc_init(&e, out, cap);
    if (s->err == EDHOC_ERR_WRONG_SUITE) {
        cbor_encode_int(&e, 2);
        if (s->cfg.n_suites == 1) {
            cbor_encode_uint(&e, s->cfg.suites[0]);
        } else {
            cbor_encode_array(&e, s->cfg.n_suites);
            for (size_t i = 0; i < s->cfg.n_suites; i++)
                cbor_encode_uint(&e, s->cfg.suites[i]);
        }
    } else if (s->err == EDHOC_ERR_UNKNOWN_CREDENTIAL) {
        cbor_encode_int(&e, 3);
        cbor_encode_bool(&e, true);
    } else {
        /* code 1 with a diagnostic; it names the failed check, never keys */
        const char *text = coreseal_strerror(s->err);
        cbor_encode_int(&e, 1);
        cbor_encode_tstr(&e, text, strlen(text));
    }
    return cbor_enc_finish(&e, len) == CBOR_OK ? EDHOC_OK : EDHOC_ERR_NO_SPACE;
}

edhoc_err_t edhoc_decode_error(const uint8_t *msg, size_t len)
{
    if (!msg || len == 0)
        return EDHOC_ERR_BAD_ARG;
    return parse_error(NULL, msg, len);
}

size_t edhoc_peer_suites(const edhoc_session_t *s, const uint8_t **suites_r)
{
    *suites_r = s->suites_r;
    return s->n_suites_r;
}

/* ---------------------------------------------------------------- exporter */

edhoc_err_t edhoc_exporter(const edhoc_session_t *s, uint32_t label, const uint8_t *context,
                           size_t context_len, uint8_t *out, size_t len)
{
    if (!s || !out || len == 0 || (context_len && !context) || context_len > 32)
        return EDHOC_ERR_BAD_ARG;
    if (s->state != EDHOC_STATE_COMPLETED)
        return EDHOC_ERR_BAD_STATE;
    return kdf(s, s->prk_exporter, label, context, context_len, out, len);
}

edhoc_err_t edhoc_key_update(edhoc_session_t *s, const uint8_t *context, size_t context_len)
{
    if (!s || (context_len && !context) || context_len > 32)
        return EDHOC_ERR_BAD_ARG;
    if (s->state != EDHOC_STATE_COMPLETED)
        return EDHOC_ERR_BAD_STATE;
    uint8_t prk[EDHOC_HASH_MAX];
    edhoc_err_t err = kdf(s, s->prk_out, 11, context, context_len, prk, hash_len(s));
    if (err != EDHOC_OK)
        return err;
    memcpy(s->prk_out, prk, hash_len(s));
    cs_wipe(prk, sizeof prk);
    return kdf(s, s->prk_out, 10, NULL, 0, s->prk_exporter, hash_len(s));
}

edhoc_err_t edhoc_export_oscore(const edhoc_session_t *s, edhoc_oscore_keys_t *keys,
                                oscore_params_t *p)
{
    if (!s || !keys || !p)
        return EDHOC_ERR_BAD_ARG;
    const cose_alg_info_t *app = cose_alg_by_id(s->suite->app_aead);
    if (!app)
        return EDHOC_ERR_UNSUPPORTED_SUITE;
    edhoc_err_t err = edhoc_exporter(s, 0, NULL, 0, keys->master_secret, app->key_len);
    if (err == EDHOC_OK)
        err = edhoc_exporter(s, 1, NULL, 0, keys->master_salt, 8);
    if (err != EDHOC_OK)
        return err;
    /* A.1: the initiator (client) sends with C_R and receives with C_I */
    const uint8_t *snd = s->initiator ? s->c_r : s->c_i, *rcv = s->initiator ? s->c_i : s->c_r;
    size_t sl = s->initiator ? s->c_r_len : s->c_i_len, rl = s->initiator ? s->c_i_len : s->c_r_len;
    memcpy(keys->sender_id, snd, sl);
    memcpy(keys->recipient_id, rcv, rl);
    memset(p, 0, sizeof *p);
    p->aead_alg = s->suite->app_aead;
    p->hkdf_alg = s->suite->app_hash;
    p->master_secret = keys->master_secret;
    p->master_secret_len = app->key_len;
    p->master_salt = keys->master_salt;
    p->master_salt_len = 8;
    p->sender_id = keys->sender_id;
    p->sender_id_len = sl;
    p->recipient_id = keys->recipient_id;
    p->recipient_id_len = rl;
    return EDHOC_OK;
}

/* ---------------------------------------------------------------- X.509 credentials */

enum { ID_CRED_X5CHAIN = 33, ID_CRED_X5T = 34 };

/* The single entry of a one-pair ID_CRED_x map with this label. */
static bool id_cred_entry(cbor_dec_t *d, const uint8_t *id_cred, size_t len, int64_t label)
{
    size_t pairs;
    int64_t got;
    cbor_dec_init(d, id_cred, len, 0);
    return cbor_decode_map(d, &pairs) == CBOR_OK && pairs == 1 && cbor_decode_int(d, &got) == CBOR_OK &&
           got == label;
}

edhoc_err_t edhoc_x5chain_credential(const cs_crypto_t *c, const uint8_t *id_cred, size_t len,
                                     const edhoc_anchors_t *anchors, int32_t *crv, uint8_t *pub, char *cn,
                                     size_t cn_cap, edhoc_cred_t *cred)
{
    if (!c || !id_cred || !anchors || !crv || !pub || !cred)
        return EDHOC_ERR_BAD_ARG;
    cbor_dec_t d;
    cbor_type_t t;
    const uint8_t *der[EDHOC_X5CHAIN_MAX], *ee_item = NULL;
    size_t der_len[EDHOC_X5CHAIN_MAX], n = 1, ee_item_len = 0;
    if (!id_cred_entry(&d, id_cred, len, ID_CRED_X5CHAIN) || cbor_dec_peek(&d, &t) != CBOR_OK)
        return EDHOC_ERR_MALFORMED;
    if (t == CBOR_TYPE_ARRAY && (cbor_decode_array(&d, &n) != CBOR_OK || n < 1 || n > EDHOC_X5CHAIN_MAX))
        return EDHOC_ERR_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *item = d.buf + d.pos; /* where the bstr starts */
        if (cbor_decode_bstr(&d, &der[i], &der_len[i]) != CBOR_OK)
            return EDHOC_ERR_MALFORMED;
        if (i == 0)
            ee_item = item, ee_item_len = (size_t)(der[0] + der_len[0] - item);
    }
    if (!cbor_dec_done(&d))
        return EDHOC_ERR_MALFORMED;
    if (!c->x509_verify)
        return EDHOC_ERR_CRYPTO;
    size_t pub_len;
    cs_crypto_err_t e = c->x509_verify(c->state, der, der_len, n, anchors->der, anchors->len, anchors->n, crv, pub,
                                       &pub_len, cn, cn_cap);
    if (e != CS_CRYPTO_OK)
        return e == CS_CRYPTO_ERR_AUTH || e == CS_CRYPTO_ERR_BAD_KEY ? EDHOC_ERR_UNKNOWN_CREDENTIAL : EDHOC_ERR_CRYPTO;
    *cred = (edhoc_cred_t){id_cred, len, ee_item, ee_item_len, pub, pub_len};
    return EDHOC_OK;
}

bool edhoc_x5t_names(const cs_crypto_t *c, const uint8_t *id_cred, size_t len, const uint8_t *cert,
                     size_t cert_len)
{
    cbor_dec_t d;
    size_t n, hash_len;
    int64_t alg;
    const uint8_t *hash;
    uint8_t digest[CS_HASH_MAX];
    if (!c || !id_cred || !cert || !id_cred_entry(&d, id_cred, len, ID_CRED_X5T) ||
        cbor_decode_array(&d, &n) != CBOR_OK || n != 2 || cbor_decode_int(&d, &alg) != CBOR_OK ||
        cbor_decode_bstr(&d, &hash, &hash_len) != CBOR_OK || !cbor_dec_done(&d))
        return false;
    size_t want = alg == -16 ? 32 : alg == -15 ? 8 : 0; /* SHA-256, SHA-256/64 (RFC 9054) */
    return want && hash_len == want && c->hash(c->state, CS_HASH_SHA256, cert, cert_len, digest) == CS_CRYPTO_OK &&
           cs_ct_equal(digest, hash, want);
}

/* ---------------------------------------------------------------- over CoAP */

edhoc_err_t edhoc_coap_wrap_message_1(const uint8_t *m1, size_t len, uint8_t *out, size_t cap,
                                      size_t *out_len)
{
    if (!m1 || !out || !out_len)
        return EDHOC_ERR_BAD_ARG;
    if (cap < len + 1)
        return EDHOC_ERR_NO_SPACE;
    memmove(out + 1, m1, len);
    out[0] = 0xf5; /* true: no C_R yet, this is message_1 */
    *out_len = len + 1;
    return EDHOC_OK;
}

edhoc_err_t edhoc_coap_wrap_message_3(const edhoc_session_t *s, const uint8_t *m3, size_t len,
                                      uint8_t *out, size_t cap, size_t *out_len)
{
    if (!s || !m3 || !out || !out_len)
        return EDHOC_ERR_BAD_ARG;
    uint8_t head[EDHOC_MAX_CID + 1];
    size_t hl;
    cbor_enc_t e;
    cbor_enc_init(&e, head, sizeof head);
    encode_cid(&e, s->c_r, s->c_r_len);
    if (cbor_enc_finish(&e, &hl) != CBOR_OK)
        return EDHOC_ERR_NO_SPACE;
    if (cap < hl + len)
        return EDHOC_ERR_NO_SPACE;
    memmove(out + hl, m3, len);
    memcpy(out, head, hl);
    *out_len = hl + len;
    return EDHOC_OK;
}

edhoc_err_t edhoc_coap_unwrap(const uint8_t *payload, size_t len, uint8_t *c_r, uint8_t *c_r_len,
                              const uint8_t **msg, size_t *msg_len)
{
    if (!payload || !c_r || !c_r_len || !msg || !msg_len || len == 0)
        return EDHOC_ERR_BAD_ARG;
    cbor_dec_t d;
    cbor_dec_init(&d, payload, len, 0);
    if (payload[0] == 0xf5) {
        *c_r_len = 0;
        d.pos = 1;
    } else if (!decode_cid(&d, c_r, c_r_len)) {
        return EDHOC_ERR_MALFORMED;
    }
    *msg = payload + d.pos;
    *msg_len = len - d.pos;
    return *msg_len ? EDHOC_OK : EDHOC_ERR_MALFORMED;
}

/* ---------------------------------------------------------------- RFC 9668 */

/* Copies header and options of m (adding or dropping the EDHOC option)
 * and writes the payload pieces a || b. */
static edhoc_err_t rebuild(const coap_msg_t *m, bool with_edhoc, const uint8_t *a, size_t a_len,
                           const uint8_t *b, size_t b_len, uint8_t *out, size_t cap, size_t *len)
{
    coap_builder_t bld;
    coap_opt_iter_t it;
    coap_opt_t o;
    bool added = false;
    coap_builder_init(&bld, out, cap, m->transport, (coap_type_t)m->type, m->code, m->mid,
                      m->token, m->token_len);
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (o.num == COAP_OPT_EDHOC)
            continue;
        if (with_edhoc && !added && o.num > COAP_OPT_EDHOC) {
            coap_builder_add_option(&bld, COAP_OPT_EDHOC, NULL, 0);
            added = true;
        }
        coap_builder_add_option(&bld, o.num, o.val, o.len);
    }
    if (with_edhoc && !added)
        coap_builder_add_option(&bld, COAP_OPT_EDHOC, NULL, 0);
    size_t avail;
    uint8_t *p = coap_builder_payload_space(&bld, &avail);
    if (!p || a_len + b_len > avail)
        return EDHOC_ERR_NO_SPACE;
    if (a_len)
        memcpy(p, a, a_len);
    if (b_len)
        memcpy(p + a_len, b, b_len);
    coap_builder_commit_payload(&bld, a_len + b_len);
    return coap_builder_finish(&bld, len) == COAP_OK ? EDHOC_OK : EDHOC_ERR_NO_SPACE;
}

edhoc_err_t edhoc_combine_request(const coap_msg_t *prot, const uint8_t *m3, size_t m3_len,
                                  uint8_t *out, size_t cap, size_t *len)
{
    if (!prot || !m3 || !out || !len || m3_len == 0)
        return EDHOC_ERR_BAD_ARG;
    coap_opt_t o;
    if (!coap_msg_find_option(prot, COAP_OPT_OSCORE, &o))
        return EDHOC_ERR_BAD_ARG; /* only an OSCORE request can be combined */
    return rebuild(prot, true, m3, m3_len, prot->payload, prot->payload_len, out, cap, len);
}

edhoc_err_t edhoc_split_combined_request(const coap_msg_t *req, const uint8_t **m3,
                                         size_t *m3_len, uint8_t *out, size_t cap, size_t *len)
{
    if (!req || !m3 || !m3_len || !out || !len)
        return EDHOC_ERR_BAD_ARG;
    coap_opt_t o;
    if (!coap_msg_find_option(req, COAP_OPT_EDHOC, &o) ||
        !coap_msg_find_option(req, COAP_OPT_OSCORE, &o))
        return EDHOC_ERR_MALFORMED;
    cbor_dec_t d;
    const uint8_t *start;
    cbor_dec_init(&d, req->payload, req->payload_len, 0);
    /* EDHOC_MSG_3 is the first CBOR item; the OSCORE ciphertext follows */
    if (cbor_dec_skip(&d, &start, m3_len) != CBOR_OK || cbor_dec_done(&d))
        return EDHOC_ERR_MALFORMED;
    *m3 = start;
    return rebuild(req, false, NULL, 0, req->payload + d.pos, req->payload_len - d.pos, out, cap,
                   len);
}

void edhoc_session_wipe(edhoc_session_t *s)
{
    if (!s)
        return;
    if (s->scratch)
        cs_wipe(s->scratch, s->scratch_cap);
    cs_wipe(s, sizeof *s);
}
