/* RFC 8613 Appendix B.2: security contexts derived again from the same
 * Master Secret, with random ID Contexts carried in 'kid context' (Figure
 * 14). The server keeps the R2 values it sent in a small ring (B.2.1 allows
 * a cache); a flood of request #1 replays can push a client's R2 out, and
 * that client's request #2 then simply starts a new run. */
#include "oscore_internal.h"

#include <string.h>

/* A context from base with ID Context a||b: fresh keys, SSN 0, an empty
 * replay window. Temporary contexts get no persistence (NULL). */
static oscore_err_t derive_joined(oscore_ctx_t *out, const cs_crypto_t *crypto,
                                  const oscore_params_t *base, const oscore_persist_t *persist,
                                  const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    uint8_t id[OSCORE_MAX_ID_CONTEXT_LEN];
    if (a_len + b_len > sizeof id)
        return OSCORE_ERR_ID_CONTEXT_TOO_LONG;
    if (a_len)
        memcpy(id, a, a_len);
    if (b_len)
        memcpy(id + a_len, b, b_len);
    oscore_params_t p = *base;
    p.id_context = id;
    p.id_context_len = a_len + b_len;
    p.send_kid_context = true; /* the peer finds (or re-derives) it by kid context */
    p.ssn_start = 0;
    p.ssn_covered = 0;
    p.replay_window_lost = false;
    p.b2 = true;
    p.persist = persist ? *persist : (oscore_persist_t){0};
    return oscore_ctx_derive(out, crypto, &p);
}

static bool kid_is_peer(const oscore_ctx_t *ctx, const oscore_option_t *opt)
{
    return opt->has_kid && opt->kid_len == ctx->recipient_id_len &&
           memcmp(opt->kid, ctx->recipient_id, opt->kid_len) == 0;
}

/* ---------------------------------------------------------------- client */

oscore_err_t oscore_b2_start(oscore_ctx_t *ctx, const cs_crypto_t *crypto,
                             const oscore_params_t *base)
{
    uint8_t r1[OSCORE_B2_NONCE_LEN];
    if (!ctx || !crypto || !base)
        return OSCORE_ERR_BAD_ARG;
    if (crypto->random(crypto->state, r1, sizeof r1) != CS_CRYPTO_OK)
        return OSCORE_ERR_CRYPTO;
    return derive_joined(ctx, crypto, base, &base->persist, r1, sizeof r1, NULL, 0);
}

bool oscore_b2_is_response1(const oscore_ctx_t *ctx, const coap_msg_t *resp)
{
    oscore_option_t opt;
    return ctx && ctx->b2 && oscore_msg_option(resp, &opt) == OSCORE_OK && opt.has_kid_context;
}

oscore_err_t oscore_b2_accept_response1(oscore_ctx_t *ctx, const oscore_params_t *base,
                                        const oscore_binding_t *binding, const coap_msg_t *resp,
                                        uint8_t *out, size_t cap, size_t *out_len)
{
    if (!ctx || !base || !binding || !resp || !out || !out_len)
        return OSCORE_ERR_BAD_ARG;
    if (!ctx->b2)
        return OSCORE_ERR_BAD_STATE;
    oscore_option_t opt;
    oscore_err_t err = oscore_msg_option(resp, &opt);
    if (err != OSCORE_OK)
        return err;
    if (!opt.has_kid_context || opt.kid_context_len == 0)
        return OSCORE_ERR_BAD_OPTION;
    if (opt.kid_context_len + OSCORE_B2_NONCE_LEN > OSCORE_MAX_ID_CONTEXT_LEN)
        return OSCORE_ERR_ID_CONTEXT_TOO_LONG; /* R2||R3 would not fit */

    /* second context: ID Context R2||ID1; response #1 has the request's
     * Partial IV in its nonce, under this context's Common IV */
    const cs_crypto_t *c = ctx->crypto;
    oscore_ctx_t next;
    err = derive_joined(&next, c, base, NULL, opt.kid_context, opt.kid_context_len,
                        ctx->id_context, ctx->id_context_len);
    if (err != OSCORE_OK)
        return err;
    oscore_binding_t b = *binding;
    oscore_make_nonce(&next, b.kid, b.kid_len, b.piv, b.piv_len, b.nonce);
    err = oscore_unprotect_response(&next, &b, resp, out, cap, out_len);

    /* third context: ID Context R2||R3, ours from now on */
    uint8_t r3[OSCORE_B2_NONCE_LEN];
    if (err == OSCORE_OK && c->random(c->state, r3, sizeof r3) != CS_CRYPTO_OK)
        err = OSCORE_ERR_CRYPTO;
    if (err == OSCORE_OK)
        err = derive_joined(&next, c, base, &ctx->persist, opt.kid_context, opt.kid_context_len,
                            r3, sizeof r3);
    if (err == OSCORE_OK)
        *ctx = next;
    oscore_ctx_wipe(&next);
    return err;
}

/* ---------------------------------------------------------------- server */

bool oscore_b2_applies(const oscore_ctx_t *ctx, const oscore_option_t *opt)
{
    if (!ctx || !opt || !ctx->b2 || !kid_is_peer(ctx, opt) || !opt->has_kid_context)
        return false;
    return !(ctx->has_id_context && opt->kid_context_len == ctx->id_context_len &&
             memcmp(opt->kid_context, ctx->id_context, opt->kid_context_len) == 0);
}

bool oscore_b2_is_request2(const oscore_ctx_t *ctx, const oscore_option_t *opt)
{
    if (!oscore_b2_applies(ctx, opt) || opt->kid_context_len <= OSCORE_B2_NONCE_LEN ||
        opt->kid_context_len > OSCORE_MAX_ID_CONTEXT_LEN)
        return false;
    for (size_t i = 0; i < ctx->b2_r2_count; i++)
        if (memcmp(opt->kid_context, ctx->b2_r2[i], OSCORE_B2_NONCE_LEN) == 0)
            return true;
    return false;
}

oscore_err_t oscore_b2_answer_request1(oscore_ctx_t *ctx, const oscore_params_t *base,
                                       const coap_msg_t *req, const coap_msg_t *resp,
                                       uint8_t *out, size_t cap, size_t *out_len)
{
    if (!ctx || !base || !req || !resp || !out || !out_len)
        return OSCORE_ERR_BAD_ARG;
    oscore_option_t opt;
    oscore_err_t err = oscore_msg_option(req, &opt);
    if (err != OSCORE_OK)
        return err;
    if (!opt.has_kid || opt.piv_len == 0)
        return OSCORE_ERR_MISSING_KID;
    if (!oscore_b2_applies(ctx, &opt))
        return OSCORE_ERR_UNKNOWN_CONTEXT;
    if (opt.kid_context_len + OSCORE_B2_NONCE_LEN > OSCORE_MAX_ID_CONTEXT_LEN)
        return OSCORE_ERR_ID_CONTEXT_TOO_LONG; /* R2||ID1 would not fit */

    /* first context: ID Context ID1 as received. Its window is empty, so a
     * replayed request #1 verifies too; it only costs a response #1. */
    const cs_crypto_t *c = ctx->crypto;
    oscore_ctx_t tmp;
    oscore_binding_t bd;
    size_t n = 0;
    err = derive_joined(&tmp, c, base, NULL, opt.kid_context, opt.kid_context_len, NULL, 0);
    if (err == OSCORE_OK)
        err = oscore_unprotect_request(&tmp, req, out, cap, &n, &bd);
    cs_wipe(out, n); /* request #1 is not acted on */

    /* second context: ID Context R2||ID1, for response #1 only */
    uint8_t r2[OSCORE_B2_NONCE_LEN];
    if (err == OSCORE_OK && c->random(c->state, r2, sizeof r2) != CS_CRYPTO_OK)
        err = OSCORE_ERR_CRYPTO;
    if (err == OSCORE_OK)
        err = derive_joined(&tmp, c, base, NULL, r2, sizeof r2, opt.kid_context,
                            opt.kid_context_len);
    if (err == OSCORE_OK) {
        oscore_make_nonce(&tmp, bd.kid, bd.kid_len, bd.piv, bd.piv_len, bd.nonce);
        err = oscore_protect_response_kid_context(&tmp, &bd, resp, false, r2, sizeof r2, out,
                                                  cap, out_len);
    }
    oscore_ctx_wipe(&tmp);
    if (err != OSCORE_OK)
        return err;
    memcpy(ctx->b2_r2[ctx->b2_r2_next], r2, sizeof r2);
    ctx->b2_r2_next = (uint8_t)((ctx->b2_r2_next + 1) % OSCORE_B2_PENDING);
    if (ctx->b2_r2_count < OSCORE_B2_PENDING)
        ctx->b2_r2_count++;
    return OSCORE_OK;
}

oscore_err_t oscore_b2_accept_request2(oscore_ctx_t *ctx, const oscore_params_t *base,
                                       const coap_msg_t *req, uint8_t *out, size_t cap,
                                       size_t *out_len, oscore_binding_t *binding)
{
    if (!ctx || !base || !req || !out || !out_len || !binding)
        return OSCORE_ERR_BAD_ARG;
    oscore_option_t opt;
    oscore_err_t err = oscore_msg_option(req, &opt);
    if (err != OSCORE_OK)
        return err;
    if (!oscore_b2_is_request2(ctx, &opt))
        return OSCORE_ERR_UNKNOWN_CONTEXT;
    /* third context: ID Context R2||R3. Replacing ctx on success drops the
     * pending R2 values, so a replayed request #2 meets the new context's
     * replay window instead of starting over (step 4). */
    oscore_ctx_t next;
    err = derive_joined(&next, ctx->crypto, base, &ctx->persist, opt.kid_context,
                        opt.kid_context_len, NULL, 0);
    if (err == OSCORE_OK)
        err = oscore_unprotect_request(&next, req, out, cap, out_len, binding);
    if (err == OSCORE_OK)
        *ctx = next;
    oscore_ctx_wipe(&next);
    return err;
}
