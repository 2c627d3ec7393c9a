/* OSCORE security context: derivation (RFC 8613 §3.2), nonce (§5.2),
 * OSCORE option (§6.1), sequence numbers with host checkpoints (Appendix
 * B.1.1), replay window (§7.4) and the Echo challenge (B.1.2). */
#include "oscore_internal.h"

#include "coreseal/cbor.h"
#include "coreseal/cose.h"

#include <string.h>

/* HKDF info of §3.2.1: [id, id_context, alg_aead, type, L]. */
static oscore_err_t derive_one(const oscore_ctx_t *ctx, const uint8_t *prk, const uint8_t *id,
                               size_t id_len, const char *type, uint8_t *out, size_t out_len)
{
    uint8_t info[64 + OSCORE_MAX_ID_CONTEXT_LEN];
    size_t info_len;
    cbor_enc_t e;
    cbor_enc_init(&e, info, sizeof info);
    cbor_encode_array(&e, 5);
    cbor_encode_bstr(&e, id, id_len);
    if (ctx->has_id_context)
        cbor_encode_bstr(&e, ctx->id_context, ctx->id_context_len);
    else
        cbor_encode_null(&e);
    cbor_encode_int(&e, ctx->aead_alg);
    cbor_encode_tstr(&e, type, strlen(type));
    cbor_encode_uint(&e, out_len);
    if (cbor_enc_finish(&e, &info_len) != CBOR_OK)
        return OSCORE_ERR_NO_SPACE;
    const cs_crypto_t *c = ctx->crypto;
    size_t prk_len = cs_hash_len(ctx->hash_alg);
    return c->hkdf_expand(c->state, ctx->hash_alg, prk, prk_len, info, info_len, out, out_len) ==
                   CS_CRYPTO_OK
               ? OSCORE_OK
               : OSCORE_ERR_CRYPTO;
}

/* The HKDF parameter may name the HKDF algorithm (-10) or its hash. */
static int32_t hkdf_hash(int32_t hkdf_alg)
{
    const cose_alg_info_t *a = cose_alg_by_id(hkdf_alg ? hkdf_alg : -10);
    if (a == NULL || (a->kind != COSE_ALG_KIND_HKDF && a->kind != COSE_ALG_KIND_HASH))
        return 0;
    return a->hash;
}

oscore_err_t oscore_ctx_derive(oscore_ctx_t *ctx, const cs_crypto_t *crypto,
                               const oscore_params_t *p)
{
    if (!ctx || !crypto || !p || !p->master_secret || p->master_secret_len == 0 ||
        p->master_secret_len > OSCORE_MAX_SECRET_LEN || p->master_salt_len > OSCORE_MAX_SALT_LEN ||
        (p->master_salt_len && !p->master_salt) || (p->sender_id_len && !p->sender_id) ||
        (p->recipient_id_len && !p->recipient_id) || p->replay_window > OSCORE_MAX_REPLAY_WINDOW ||
        p->id_context_len > OSCORE_MAX_ID_CONTEXT_LEN || p->ssn_start > OSCORE_SSN_MAX + 1)
        return OSCORE_ERR_BAD_ARG;
    const cose_alg_info_t *aead = cose_alg_by_id(p->aead_alg ? p->aead_alg : 10);
    int32_t hash = hkdf_hash(p->hkdf_alg);
    if (aead == NULL || aead->kind != COSE_ALG_KIND_AEAD || hash == 0 ||
        !crypto->supports(crypto->state, CS_OP_AEAD, aead->id) ||
        !crypto->supports(crypto->state, CS_OP_HASH, hash))
        return OSCORE_ERR_UNSUPPORTED_ALG;
    /* §3.3: IDs must leave room for the Partial IV in the nonce. */
    size_t max_id = (size_t)aead->nonce_len - 6;
    if (p->sender_id_len > max_id || p->recipient_id_len > max_id)
        return OSCORE_ERR_ID_TOO_LONG;

    memset(ctx, 0, sizeof *ctx);
    ctx->crypto = crypto;
    ctx->aead_alg = aead->id;
    ctx->hash_alg = hash;
    ctx->key_len = aead->key_len;
    ctx->nonce_len = aead->nonce_len;
    ctx->tag_len = aead->tag_len;
    /* memcpy from NULL is undefined even for 0 bytes: empty IDs may be NULL */
    if (p->sender_id_len)
        memcpy(ctx->sender_id, p->sender_id, p->sender_id_len);
    ctx->sender_id_len = (uint8_t)p->sender_id_len;
    if (p->recipient_id_len)
        memcpy(ctx->recipient_id, p->recipient_id, p->recipient_id_len);
    ctx->recipient_id_len = (uint8_t)p->recipient_id_len;
    ctx->has_id_context = p->id_context != NULL;
    if (ctx->has_id_context && p->id_context_len)
        memcpy(ctx->id_context, p->id_context, p->id_context_len);
    ctx->id_context_len = (uint8_t)p->id_context_len;
    ctx->send_kid_context = p->send_kid_context && ctx->has_id_context;

    uint8_t prk[CS_HASH_MAX];
    oscore_err_t err = OSCORE_ERR_CRYPTO;
    if (crypto->hkdf_extract(crypto->state, hash, p->master_salt, p->master_salt_len,
                             p->master_secret, p->master_secret_len, prk) == CS_CRYPTO_OK) {
        err = derive_one(ctx, prk, ctx->sender_id, ctx->sender_id_len, "Key", ctx->sender_key,
                         ctx->key_len);
        if (err == OSCORE_OK)
            err = derive_one(ctx, prk, ctx->recipient_id, ctx->recipient_id_len, "Key",
                             ctx->recipient_key, ctx->key_len);
        if (err == OSCORE_OK)
            err = derive_one(ctx, prk, NULL, 0, "IV", ctx->common_iv, ctx->nonce_len);
    }
    cs_wipe(prk, sizeof prk);
    if (err != OSCORE_OK) {
        oscore_ctx_wipe(ctx);
        return err;
    }

    ctx->ssn = p->ssn_start;
    ctx->persist = p->persist;
    /* Without a store every SSN is "covered": the context is volatile and
     * the host accepts that a reboot means new keys. */
    bool stored = p->persist.save_ssn || p->persist.reserve_ssn;
    ctx->ssn_bound = !stored ? UINT64_MAX : p->ssn_covered > p->ssn_start ? p->ssn_covered : p->ssn_start;
    ctx->replay.size = p->replay_window ? p->replay_window : OSCORE_DEFAULT_REPLAY_WINDOW;
    ctx->replay.empty = true;
    ctx->replay.lost = p->replay_window_lost;
    ctx->b2 = p->b2;
    return OSCORE_OK;
}

void oscore_ctx_wipe(oscore_ctx_t *ctx)
{
    if (ctx)
        cs_wipe(ctx, sizeof *ctx);
}

/* ---------------------------------------------------------------- nonce, PIV */

void oscore_make_nonce(const oscore_ctx_t *ctx, const uint8_t *id, size_t id_len,
                       const uint8_t *piv, size_t piv_len, uint8_t *nonce)
{
    size_t n = ctx->nonce_len;
    memset(nonce, 0, n);
    nonce[0] = (uint8_t)id_len;
    memcpy(nonce + 1 + (n - 6) - id_len, id, id_len);
    memcpy(nonce + n - piv_len, piv, piv_len);
    for (size_t i = 0; i < n; i++)
        nonce[i] ^= ctx->common_iv[i];
}

size_t oscore_piv_encode(uint64_t ssn, uint8_t piv[OSCORE_MAX_PIV_LEN])
{
    size_t n = 1;
    while (n < OSCORE_MAX_PIV_LEN && (ssn >> (8 * n)) != 0)
        n++;
    for (size_t i = 0; i < n; i++)
        piv[i] = (uint8_t)(ssn >> (8 * (n - 1 - i)));
    return n;
}

uint64_t oscore_piv_value(const uint8_t *piv, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = v << 8 | piv[i];
    return v;
}

oscore_err_t oscore_next_ssn(oscore_ctx_t *ctx, uint64_t *ssn)
{
    if (ctx->ssn > OSCORE_SSN_MAX)
        return OSCORE_ERR_SSN_EXHAUSTED;
    if (ctx->ssn >= ctx->ssn_bound) {
        uint64_t step = ctx->persist.step ? ctx->persist.step : 1;
        if (ctx->persist.reserve_ssn) {
            /* shared context: a block of its own, wherever it starts */
            uint64_t first;
            if (ctx->persist.reserve_ssn(ctx->persist.arg, ctx, step, &first) != OSCORE_OK ||
                first < ctx->ssn)
                return OSCORE_ERR_STORAGE;
            ctx->ssn = first;
        }
        /* Persist the new bound before the first use of any SSN under it:
         * whatever instant the device dies at, it restarts above every SSN
         * it may have sent (Appendix B.1.1). */
        uint64_t bound = ctx->ssn + step;
        if (bound > OSCORE_SSN_MAX + 1)
            bound = OSCORE_SSN_MAX + 1;
        if (!ctx->persist.reserve_ssn && ctx->persist.save_ssn(ctx->persist.arg, ctx, bound) != OSCORE_OK)
            return OSCORE_ERR_STORAGE;
        ctx->ssn_bound = bound;
        if (ctx->ssn > OSCORE_SSN_MAX)
            return OSCORE_ERR_SSN_EXHAUSTED;
    }
    *ssn = ctx->ssn++;
    return OSCORE_OK;
}

/* ---------------------------------------------------------------- option */

oscore_err_t oscore_option_decode(oscore_option_t *opt, const uint8_t *val, size_t len)
{
    if (!opt || (len && !val))
        return OSCORE_ERR_BAD_ARG;
    memset(opt, 0, sizeof *opt);
    if (len == 0)
        return OSCORE_OK; /* response without Partial IV */
    uint8_t flags = val[0];
    size_t n = flags & 0x07, pos = 1;
    /* Bits 5..7 are reserved (7 for an extension byte nobody defines yet);
     * n of 6 and 7 is reserved. A lone flag byte of 0 is not minimal. */
    if ((flags & 0xe0) != 0 || n > OSCORE_MAX_PIV_LEN || flags == 0)
        return OSCORE_ERR_BAD_OPTION;
    if (n > len - pos)
        return OSCORE_ERR_BAD_OPTION;
    opt->piv = val + pos;
    opt->piv_len = n;
    pos += n;
    if (flags & 0x10) {
        if (pos >= len || val[pos] > len - pos - 1)
            return OSCORE_ERR_BAD_OPTION;
        opt->has_kid_context = true;
        opt->kid_context_len = val[pos];
        opt->kid_context = val + pos + 1;
        pos += 1 + opt->kid_context_len;
    }
    if (flags & 0x08) {
        opt->has_kid = true;
        opt->kid = val + pos;
        opt->kid_len = len - pos;
    } else if (pos != len) {
        return OSCORE_ERR_BAD_OPTION; /* bytes with no flag to explain them */
    }
    return OSCORE_OK;
}

size_t oscore_option_encode(uint8_t *out, const uint8_t *piv, size_t piv_len, const uint8_t *kid,
                            size_t kid_len, bool with_kid, const uint8_t *kid_ctx,
                            size_t kid_ctx_len, bool with_kid_ctx)
{
    size_t pos = 1;
    out[0] = (uint8_t)(piv_len | (with_kid ? 0x08 : 0) | (with_kid_ctx ? 0x10 : 0));
    if (out[0] == 0)
        return 0; /* all flags clear: the option is empty */
    memcpy(out + pos, piv, piv_len);
    pos += piv_len;
    if (with_kid_ctx) {
        out[pos++] = (uint8_t)kid_ctx_len;
        memcpy(out + pos, kid_ctx, kid_ctx_len);
        pos += kid_ctx_len;
    }
    if (with_kid) {
        memcpy(out + pos, kid, kid_len);
        pos += kid_len;
    }
    return pos;
}

oscore_err_t oscore_msg_option(const coap_msg_t *msg, oscore_option_t *opt)
{
    coap_opt_t o;
    if (!msg || !opt)
        return OSCORE_ERR_BAD_ARG;
    if (!coap_msg_find_option(msg, COAP_OPT_OSCORE, &o))
        return OSCORE_ERR_NOT_PROTECTED;
    return oscore_option_decode(opt, o.val, o.len);
}

bool oscore_ctx_matches(const oscore_ctx_t *ctx, const oscore_option_t *opt)
{
    if (!opt->has_kid || opt->kid_len != ctx->recipient_id_len ||
        memcmp(opt->kid, ctx->recipient_id, opt->kid_len) != 0)
        return false;
    if (!opt->has_kid_context)
        return true;
    return ctx->has_id_context && opt->kid_context_len == ctx->id_context_len &&
           memcmp(opt->kid_context, ctx->id_context, opt->kid_context_len) == 0;
}

/* ---------------------------------------------------------------- replay */

bool oscore_replay_check(const oscore_replay_t *w, uint64_t piv)
{
    if (w->empty || piv > w->highest)
        return true;
    uint64_t age = w->highest - piv;
    if (age >= w->size)
        return false;
    return ((w->seen[age / 64] >> (age % 64)) & 1) == 0;
}

/* Moves the window up by `shift` positions (bit i -> bit i + shift). */
static void window_shift(oscore_replay_t *w, uint64_t shift)
{
    const size_t words = OSCORE_MAX_REPLAY_WINDOW / 64;
    if (shift >= OSCORE_MAX_REPLAY_WINDOW) {
        memset(w->seen, 0, sizeof w->seen);
        return;
    }
    size_t ws = (size_t)(shift / 64), bs = (size_t)(shift % 64);
    for (size_t i = words; i-- > 0;) {
        uint64_t v = i >= ws ? w->seen[i - ws] << bs : 0;
        if (bs && i >= ws + 1)
            v |= w->seen[i - ws - 1] >> (64 - bs);
        w->seen[i] = v;
    }
}

void oscore_replay_update(oscore_replay_t *w, uint64_t piv)
{
    if (w->empty) {
        memset(w->seen, 0, sizeof w->seen);
        w->empty = false;
        w->highest = piv;
    } else if (piv > w->highest) {
        window_shift(w, piv - w->highest);
        w->highest = piv;
    }
    uint64_t age = w->highest - piv;
    w->seen[age / 64] |= 1ull << (age % 64);
}

void oscore_replay_restart(oscore_replay_t *w, uint64_t piv)
{
    memset(w->seen, 0xff, sizeof w->seen);
    w->highest = piv;
    w->empty = false;
    w->lost = false;
}

void oscore_ctx_require_echo(oscore_ctx_t *ctx)
{
    if (ctx)
        ctx->replay.lost = true;
}

void oscore_ctx_restore_window(oscore_ctx_t *ctx, const oscore_replay_t *saved)
{
    if (!ctx || !saved)
        return;
    uint16_t size = ctx->replay.size;
    ctx->replay = *saved;
    ctx->replay.size = size;
    ctx->replay.lost = false;
}

oscore_err_t oscore_echo_challenge(oscore_ctx_t *ctx, uint8_t echo[OSCORE_ECHO_LEN])
{
    if (!ctx || !echo)
        return OSCORE_ERR_BAD_ARG;
    const cs_crypto_t *c = ctx->crypto;
    /* one challenge until a request returns it: requests refused together
     * (an LwM2M server's Read and Observe after a reboot) all get the value
     * that will be accepted, not one that the next challenge replaced */
    if (!ctx->echo_pending && c->random(c->state, ctx->echo, OSCORE_ECHO_LEN) != CS_CRYPTO_OK)
        return OSCORE_ERR_CRYPTO;
    ctx->echo_pending = true;
    memcpy(echo, ctx->echo, OSCORE_ECHO_LEN);
    return OSCORE_OK;
}

/* ---------------------------------------------------------------- errors */

uint8_t oscore_err_to_coap_code(oscore_err_t err)
{
    switch (err) {
    case OSCORE_ERR_BAD_OPTION:
    case OSCORE_ERR_MISSING_KID: return COAP_BAD_OPTION;
    case OSCORE_ERR_UNKNOWN_CONTEXT:
    case OSCORE_ERR_ID_CONTEXT_TOO_LONG:
    case OSCORE_ERR_REPLAY:
    case OSCORE_ERR_ECHO_REQUIRED: return COAP_UNAUTHORIZED;
    case OSCORE_ERR_DECRYPT:
    case OSCORE_ERR_MALFORMED_PLAINTEXT: return COAP_BAD_REQUEST;
    default: return 0;
    }
}

const char *oscore_err_diagnostic(oscore_err_t err)
{
    switch (err) {
    case OSCORE_ERR_BAD_OPTION:
    case OSCORE_ERR_MISSING_KID: return "Failed to decode COSE";
    case OSCORE_ERR_UNKNOWN_CONTEXT:
    case OSCORE_ERR_ID_CONTEXT_TOO_LONG: return "Security context not found";
    case OSCORE_ERR_REPLAY: return "Replay detected";
    case OSCORE_ERR_DECRYPT:
    case OSCORE_ERR_MALFORMED_PLAINTEXT: return "Decryption failed";
    default: return "";
    }
}

/* ---------------------------------------------------------------- classes */

/* Class U only (§4.1): outer, never encrypted. */
static bool outer_only(uint16_t num)
{
    switch (num) {
    case COAP_OPT_URI_HOST:
    case COAP_OPT_URI_PORT:
    case COAP_OPT_OSCORE:
    case COAP_OPT_HOP_LIMIT:
    case COAP_OPT_EDHOC:
    case COAP_OPT_PROXY_URI:
    case COAP_OPT_PROXY_SCHEME: return true;
    default: return false;
    }
}

/* Unknown options are class E (§4.1). */
bool oscore_option_is_inner(uint16_t num) { return !outer_only(num); }

bool oscore_option_is_outer(uint16_t num) { return outer_only(num) || num == COAP_OPT_OBSERVE; }
