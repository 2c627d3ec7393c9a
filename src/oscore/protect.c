/* OSCORE message protection: option classes and outer codes (RFC 8613 §4),
 * COSE Encrypt0 compressed into the OSCORE option and payload (§5, §6),
 * replay checks (§7.4), and the four processing steps of §8. */
#include "oscore_internal.h"

#include "coreseal/cbor.h"
#include "coreseal/cose.h"

#include <string.h>

/* external_aad (§5.4) wrapped in the Encrypt0 Enc_structure. */
static oscore_err_t make_aad(const oscore_ctx_t *ctx, const uint8_t *kid, size_t kid_len,
                             const uint8_t *piv, size_t piv_len, uint8_t *aad, size_t cap,
                             size_t *aad_len)
{
    uint8_t arr[32];
    size_t arr_len;
    cbor_enc_t e;
    cbor_enc_init(&e, arr, sizeof arr);
    cbor_encode_array(&e, 5);
    cbor_encode_uint(&e, 1); /* oscore_version */
    cbor_encode_array(&e, 1);
    cbor_encode_int(&e, ctx->aead_alg);
    cbor_encode_bstr(&e, kid, kid_len);
    cbor_encode_bstr(&e, piv, piv_len);
    cbor_encode_bstr(&e, NULL, 0); /* no Class I options are defined */
    if (cbor_enc_finish(&e, &arr_len) != CBOR_OK)
        return OSCORE_ERR_NO_SPACE;
    return cose_encode_enc_structure(aad, cap, aad_len, NULL, 0, arr, arr_len) == COSE_OK
               ? OSCORE_OK
               : OSCORE_ERR_NO_SPACE;
}

static oscore_err_t from_coap(coap_err_t err)
{
    return err == COAP_OK ? OSCORE_OK : err == COAP_ERR_NO_SPACE ? OSCORE_ERR_NO_SPACE
                                                                 : OSCORE_ERR_BAD_ARG;
}

static coap_err_t parse_as(coap_msg_t *m, coap_transport_t t, const uint8_t *buf, size_t len)
{
    switch (t) {
    case COAP_TRANSPORT_TCP: return coap_msg_parse_tcp(m, buf, len);
    case COAP_TRANSPORT_WS: return coap_msg_parse_ws(m, buf, len);
    default: return coap_msg_parse(m, buf, len);
    }
}

/* Builds the protected form of src: outer options with the OSCORE option,
 * then the plaintext (code, inner options, payload) sealed in place.
 * out must not overlap src. */
static oscore_err_t seal_message(oscore_ctx_t *ctx, const coap_msg_t *src, uint8_t outer_code,
                                 const uint8_t *optval, size_t optval_len, const uint8_t *key,
                                 const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                                 uint8_t *out, size_t cap, size_t *out_len)
{
    coap_builder_t b;
    coap_opt_iter_t it;
    coap_opt_t o;
    bool oscore_written = false;
    coap_builder_init(&b, out, cap, src->transport, (coap_type_t)src->type, outer_code, src->mid,
                      src->token, src->token_len);
    coap_opt_iter_init(&it, src);
    while (coap_opt_next(&it, &o)) {
        if (o.num == COAP_OPT_OSCORE)
            return OSCORE_ERR_BAD_ARG; /* already protected */
        /* Proxy-Uri would carry the path in clear: the caller splits it
         * first with oscore_decompose_proxy_uri() (§4.1.3.3) */
        if (o.num == COAP_OPT_PROXY_URI)
            return OSCORE_ERR_FORBIDDEN_OPTION;
        if (!oscore_option_is_outer(o.num))
            continue;
        if (!oscore_written && o.num > COAP_OPT_OSCORE) {
            coap_builder_add_option(&b, COAP_OPT_OSCORE, optval, optval_len);
            oscore_written = true;
        }
        coap_builder_add_option(&b, o.num, o.val, o.len);
    }
    if (!oscore_written)
        coap_builder_add_option(&b, COAP_OPT_OSCORE, optval, optval_len);

    size_t avail, pos = 0;
    uint8_t *pt = coap_builder_payload_space(&b, &avail);
    if (pt == NULL)
        return from_coap(b.err);
    oscore_err_t err = OSCORE_ERR_NO_SPACE;
    if (avail < 1)
        goto fail;
    pt[pos++] = src->code;
    uint16_t prev = 0;
    coap_opt_iter_init(&it, src);
    while (coap_opt_next(&it, &o)) {
        if (!oscore_option_is_inner(o.num))
            continue;
        if (coap_option_encode(pt, avail, &pos, prev, o.num, o.val, o.len) != COAP_OK)
            goto fail;
        prev = o.num;
    }
    if (src->payload_len) {
        if (src->payload_len + 1 > avail - pos)
            goto fail;
        pt[pos++] = 0xff;
        memcpy(pt + pos, src->payload, src->payload_len);
        pos += src->payload_len;
    }
    if (ctx->tag_len > avail - pos)
        goto fail;
    const cs_crypto_t *c = ctx->crypto;
    if (c->aead_seal(c->state, ctx->aead_alg, key, nonce, ctx->nonce_len, aad, aad_len, pt, pos,
                     pt) != CS_CRYPTO_OK) {
        err = OSCORE_ERR_CRYPTO;
        goto fail;
    }
    coap_builder_commit_payload(&b, pos + ctx->tag_len);
    return from_coap(coap_builder_finish(&b, out_len));
fail:
    cs_wipe(pt, pos);
    return err;
}

/* Decrypts src's payload and writes the unprotected message to out: outer
 * Class U options merged in number order with the inner ones, the inner
 * code, the inner payload. The plaintext is first decrypted at the end of
 * out, and the message is then assembled from the front: the assembled form
 * never takes more room than the protected one, so writes stay behind
 * reads. `result` views the finished message. */
static oscore_err_t open_message(oscore_ctx_t *ctx, const coap_msg_t *src, const uint8_t *key,
                                 const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                                 uint8_t *out, size_t cap, size_t *out_len, coap_msg_t *result)
{
    size_t ct_len = src->payload_len;
    if (ct_len < (size_t)ctx->tag_len + 1)
        return OSCORE_ERR_DECRYPT; /* not even room for the code */
    size_t pt_len = ct_len - ctx->tag_len;
    /* header reserve of the builder (6 + token), options, marker, slack */
    size_t need = 6 + src->token_len + src->opts_len + 1 + ct_len + 8;
    if (cap < need)
        return OSCORE_ERR_NO_SPACE;
    uint8_t *pt = out + cap - ct_len;
    memcpy(pt, src->payload, ct_len);
    const cs_crypto_t *c = ctx->crypto;
    cs_crypto_err_t cerr = c->aead_open(c->state, ctx->aead_alg, key, nonce, ctx->nonce_len, aad,
                                        aad_len, pt, ct_len, pt);
    if (cerr != CS_CRYPTO_OK) {
        cs_wipe(pt, ct_len);
        return cerr == CS_CRYPTO_ERR_AUTH ? OSCORE_ERR_DECRYPT : OSCORE_ERR_CRYPTO;
    }
    coap_msg_t inner;
    if (coap_msg_parse_body(&inner, pt + 1, pt_len - 1) != COAP_OK) {
        cs_wipe(pt, ct_len);
        return OSCORE_ERR_MALFORMED_PLAINTEXT;
    }

    coap_builder_t b;
    coap_opt_iter_t oi, ii;
    coap_opt_t oo, io;
    coap_builder_init(&b, out, cap, src->transport, (coap_type_t)src->type, pt[0], src->mid,
                      src->token, src->token_len);
    coap_opt_iter_init(&oi, src);
    coap_opt_iter_init(&ii, &inner);
    bool have_o = coap_opt_next(&oi, &oo), have_i = coap_opt_next(&ii, &io);
    while (have_o || have_i) {
        if (have_o && (!have_i || oo.num <= io.num)) {
            /* outer Class E copies (e.g. Observe) and the OSCORE option
             * are for the way here only */
            if (!oscore_option_is_inner(oo.num) && oo.num != COAP_OPT_OSCORE)
                coap_builder_add_option(&b, oo.num, oo.val, oo.len);
            have_o = coap_opt_next(&oi, &oo);
        } else {
            if (oscore_option_is_inner(io.num))
                coap_builder_add_option(&b, io.num, io.val, io.len);
            have_i = coap_opt_next(&ii, &io);
        }
    }
    coap_builder_set_payload(&b, inner.payload, inner.payload_len);
    coap_err_t err = coap_builder_finish(&b, out_len);
    /* whatever plaintext the assembled message did not overwrite */
    uint8_t *end = out + (err == COAP_OK ? *out_len : 0);
    if (end < pt)
        end = pt;
    cs_wipe(end, (size_t)(out + cap - end));
    if (err != COAP_OK)
        return from_coap(err);
    return parse_as(result, src->transport, out, *out_len) == COAP_OK
               ? OSCORE_OK
               : OSCORE_ERR_MALFORMED_PLAINTEXT;
}

static bool has_observe_registration(const coap_msg_t *m)
{
    coap_opt_t o;
    uint32_t v;
    return coap_msg_find_option(m, COAP_OPT_OBSERVE, &o) && coap_opt_uint(&o, &v) && v == 0;
}

/* §4.1.3.3. The rewritten request is built in buf; its option values are
 * gathered at the end of buf first. */
oscore_err_t oscore_decompose_proxy_uri(const coap_msg_t *req, uint8_t *buf, size_t cap,
                                        coap_msg_t *out)
{
    coap_opt_t puri_opt, *puri = &puri_opt;
    coap_uri_t u;
    if (!req || !buf || !out)
        return OSCORE_ERR_BAD_ARG;
    if (!coap_msg_find_option(req, COAP_OPT_PROXY_URI, puri)) {
        *out = *req; /* nothing to split */
        return OSCORE_OK;
    }
    if (coap_uri_parse(&u, (const char *)puri->val, puri->len) != COAP_OK)
        return OSCORE_ERR_BAD_ARG;
    size_t arena_cap = req->opts_len + puri->len + 16;
    if (arena_cap > cap)
        return OSCORE_ERR_NO_SPACE;
    coap_opt_t list[24];
    coap_optlist_t l;
    coap_optlist_init(&l, list, sizeof list / sizeof list[0], buf + cap - arena_cap, arena_cap);
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o))
        if (o.num != COAP_OPT_PROXY_URI)
            coap_optlist_add(&l, o.num, o.val, o.len);
    coap_optlist_add_uri(&l, &u, true);
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, cap - arena_cap, req->transport, (coap_type_t)req->type, req->code,
                      req->mid, req->token, req->token_len);
    if (coap_optlist_write(&l, &b) != COAP_OK)
        return l.err == COAP_ERR_BAD_URI ? OSCORE_ERR_BAD_ARG : OSCORE_ERR_NO_SPACE;
    coap_builder_set_payload(&b, req->payload, req->payload_len);
    if (coap_builder_finish(&b, &n) != COAP_OK)
        return OSCORE_ERR_NO_SPACE;
    return parse_as(out, req->transport, buf, n) == COAP_OK ? OSCORE_OK : OSCORE_ERR_BAD_ARG;
}

/* ---------------------------------------------------------------- §8.1 */

oscore_err_t oscore_protect_request(oscore_ctx_t *ctx, const coap_msg_t *req, uint8_t *out,
                                    size_t cap, size_t *out_len, oscore_binding_t *binding)
{
    if (!ctx || !req || !out || !out_len || !binding)
        return OSCORE_ERR_BAD_ARG;
    uint64_t ssn;
    oscore_err_t err = oscore_next_ssn(ctx, &ssn);
    if (err != OSCORE_OK)
        return err;
    oscore_binding_t bd;
    memset(&bd, 0, sizeof bd);
    bd.piv_len = (uint8_t)oscore_piv_encode(ssn, bd.piv);
    memcpy(bd.kid, ctx->sender_id, ctx->sender_id_len);
    bd.kid_len = ctx->sender_id_len;
    bd.fresh = true;
    bd.observe = has_observe_registration(req);
    oscore_make_nonce(ctx, ctx->sender_id, ctx->sender_id_len, bd.piv, bd.piv_len, bd.nonce);

    uint8_t optval[1 + OSCORE_MAX_PIV_LEN + 1 + OSCORE_MAX_ID_CONTEXT_LEN + OSCORE_MAX_ID_LEN];
    size_t optval_len = oscore_option_encode(optval, bd.piv, bd.piv_len, ctx->sender_id,
                                             ctx->sender_id_len, true, ctx->id_context,
                                             ctx->id_context_len, ctx->send_kid_context);
    uint8_t aad[64];
    size_t aad_len;
    err = make_aad(ctx, bd.kid, bd.kid_len, bd.piv, bd.piv_len, aad, sizeof aad, &aad_len);
    if (err != OSCORE_OK)
        return err;
    /* §4.2: FETCH keeps an observation cacheable through proxies. */
    coap_opt_t obs;
    uint8_t code = coap_msg_find_option(req, COAP_OPT_OBSERVE, &obs) ? COAP_FETCH : COAP_POST;
    err = seal_message(ctx, req, code, optval, optval_len, ctx->sender_key, bd.nonce, aad,
                       aad_len, out, cap, out_len);
    if (err == OSCORE_OK)
        *binding = bd;
    return err;
}

/* ---------------------------------------------------------------- §8.2 */

oscore_err_t oscore_unprotect_request(oscore_ctx_t *ctx, const coap_msg_t *req, uint8_t *out,
                                      size_t cap, size_t *out_len, oscore_binding_t *binding)
{
    if (!ctx || !req || !out || !out_len || !binding)
        return OSCORE_ERR_BAD_ARG;
    oscore_option_t opt;
    oscore_err_t err = oscore_msg_option(req, &opt);
    if (err != OSCORE_OK)
        return err;
    if (!opt.has_kid || opt.piv_len == 0)
        return OSCORE_ERR_MISSING_KID;
    if (!oscore_ctx_matches(ctx, &opt))
        return OSCORE_ERR_UNKNOWN_CONTEXT;
    uint64_t piv = oscore_piv_value(opt.piv, opt.piv_len);
    if (!ctx->replay.lost && !oscore_replay_check(&ctx->replay, piv))
        return OSCORE_ERR_REPLAY;

    oscore_binding_t bd;
    memset(&bd, 0, sizeof bd);
    memcpy(bd.kid, opt.kid, opt.kid_len);
    bd.kid_len = (uint8_t)opt.kid_len;
    memcpy(bd.piv, opt.piv, opt.piv_len);
    bd.piv_len = (uint8_t)opt.piv_len;
    oscore_make_nonce(ctx, opt.kid, opt.kid_len, opt.piv, opt.piv_len, bd.nonce);
    uint8_t aad[64];
    size_t aad_len;
    err = make_aad(ctx, opt.kid, opt.kid_len, opt.piv, opt.piv_len, aad, sizeof aad, &aad_len);
    if (err != OSCORE_OK)
        return err;
    coap_msg_t inner;
    err = open_message(ctx, req, ctx->recipient_key, bd.nonce, aad, aad_len, out, cap, out_len,
                       &inner);
    if (err != OSCORE_OK)
        return err;
    bd.observe = has_observe_registration(&inner);

    /* a shared context: the cluster's window decides, atomically */
    if (ctx->persist.accept_piv) {
        err = ctx->persist.accept_piv(ctx->persist.arg, ctx, piv);
        if (err != OSCORE_OK) {
            cs_wipe(out, *out_len);
            return err == OSCORE_ERR_REPLAY ? OSCORE_ERR_REPLAY : OSCORE_ERR_STORAGE;
        }
    }
    if (ctx->replay.lost) {
        /* B.1.2: after a reboot only a request echoing our challenge proves
         * freshness; the window restarts at its Partial IV with every lower
         * value counted as received, since any of them may be a replay. */
        coap_opt_t echo;
        bool echoed = ctx->echo_pending && coap_msg_find_option(&inner, COAP_OPT_ECHO, &echo) &&
                      echo.len == OSCORE_ECHO_LEN &&
                      cs_ct_equal(echo.val, ctx->echo, OSCORE_ECHO_LEN);
        if (!echoed) {
            *binding = bd; /* fresh = false: the 4.01 gets its own Partial IV */
            return OSCORE_ERR_ECHO_REQUIRED;
        }
        oscore_replay_restart(&ctx->replay, piv);
        ctx->echo_pending = false;
    } else {
        oscore_replay_update(&ctx->replay, piv);
    }
    bd.fresh = true;
    *binding = bd;
    return OSCORE_OK;
}

/* ---------------------------------------------------------------- §8.3 */

oscore_err_t oscore_protect_response(oscore_ctx_t *ctx, const oscore_binding_t *binding,
                                     const coap_msg_t *resp, bool own_piv, uint8_t *out,
                                     size_t cap, size_t *out_len)
{
    return oscore_protect_response_kid_context(ctx, binding, resp, own_piv, NULL, 0, out, cap,
                                               out_len);
}

oscore_err_t oscore_protect_response_kid_context(oscore_ctx_t *ctx,
                                                 const oscore_binding_t *binding,
                                                 const coap_msg_t *resp, bool own_piv,
                                                 const uint8_t *kid_ctx, size_t kid_ctx_len,
                                                 uint8_t *out, size_t cap, size_t *out_len)
{
    if (!ctx || !binding || !resp || !out || !out_len || kid_ctx_len > OSCORE_MAX_ID_CONTEXT_LEN)
        return OSCORE_ERR_BAD_ARG;
    coap_opt_t obs;
    bool notification = coap_msg_find_option(resp, COAP_OPT_OBSERVE, &obs);
    /* Reusing the request nonce is safe only for one response to a request
     * known to be fresh (§8.3, B.1.2); notifications each need their own. */
    own_piv = own_piv || notification || !binding->fresh;
    uint8_t nonce[OSCORE_MAX_NONCE_LEN], piv[OSCORE_MAX_PIV_LEN];
    uint8_t optval[1 + OSCORE_MAX_PIV_LEN + 1 + OSCORE_MAX_ID_CONTEXT_LEN];
    size_t piv_len = 0;
    if (own_piv) {
        uint64_t ssn;
        oscore_err_t err = oscore_next_ssn(ctx, &ssn);
        if (err != OSCORE_OK)
            return err;
        piv_len = oscore_piv_encode(ssn, piv);
        oscore_make_nonce(ctx, ctx->sender_id, ctx->sender_id_len, piv, piv_len, nonce);
    } else {
        memcpy(nonce, binding->nonce, ctx->nonce_len);
    }
    size_t optval_len = oscore_option_encode(optval, piv, piv_len, NULL, 0, false, kid_ctx,
                                             kid_ctx_len, kid_ctx != NULL);
    uint8_t aad[64];
    size_t aad_len;
    oscore_err_t err = make_aad(ctx, binding->kid, binding->kid_len, binding->piv,
                                binding->piv_len, aad, sizeof aad, &aad_len);
    if (err != OSCORE_OK)
        return err;
    return seal_message(ctx, resp, notification ? COAP_CONTENT : COAP_CHANGED, optval, optval_len,
                        ctx->sender_key, nonce, aad, aad_len, out, cap, out_len);
}

/* ---------------------------------------------------------------- §8.4 */

oscore_err_t oscore_unprotect_response(oscore_ctx_t *ctx, oscore_binding_t *binding,
                                       const coap_msg_t *resp, uint8_t *out, size_t cap,
                                       size_t *out_len)
{
    if (!ctx || !binding || !resp || !out || !out_len)
        return OSCORE_ERR_BAD_ARG;
    oscore_option_t opt;
    oscore_err_t err = oscore_msg_option(resp, &opt);
    if (err != OSCORE_OK)
        return err;
    uint8_t nonce[OSCORE_MAX_NONCE_LEN];
    if (opt.piv_len)
        oscore_make_nonce(ctx, ctx->recipient_id, ctx->recipient_id_len, opt.piv, opt.piv_len,
                          nonce);
    else
        memcpy(nonce, binding->nonce, ctx->nonce_len);
    uint8_t aad[64];
    size_t aad_len;
    err = make_aad(ctx, binding->kid, binding->kid_len, binding->piv, binding->piv_len, aad,
                   sizeof aad, &aad_len);
    if (err != OSCORE_OK)
        return err;
    coap_msg_t inner;
    err = open_message(ctx, resp, ctx->recipient_key, nonce, aad, aad_len, out, cap, out_len,
                       &inner);
    if (err != OSCORE_OK)
        return err;
    coap_opt_t obs;
    if (binding->observe && opt.piv_len && coap_msg_find_option(&inner, COAP_OPT_OBSERVE, &obs)) {
        /* §7.4.1: only notifications newer than every earlier one count */
        uint64_t piv = oscore_piv_value(opt.piv, opt.piv_len);
        if (binding->have_notification && piv <= binding->notification_number) {
            cs_wipe(out, *out_len);
            return OSCORE_ERR_REPLAY;
        }
        binding->have_notification = true;
        binding->notification_number = piv;
    }
    return OSCORE_OK;
}
