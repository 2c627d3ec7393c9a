/* EDHOC over CoAP (RFC 9528 Appendix A.2) for the commands: the responder
 * behind /.well-known/edhoc of `serve` and `lwm2m server`, and the
 * initiator of `get --edhoc` and `lwm2m client --edhoc`. Both end in the
 * OSCORE parameters of Appendix A.1; what becomes of them is the
 * command's. */
#include <string.h>

#include "cli.h"

/* ---------------------------------------------------------------- responder */

void cli_edhoc_responder_init(cli_edhoc_responder_t *r, cli_edhoc_t *keys, const cs_crypto_t *crypto,
                              uint8_t cid_len, cli_cid_taken_fn taken, void *taken_arg)
{
    memset(r, 0, sizeof *r);
    r->keys = keys;
    r->crypto = crypto;
    r->cid_len = cid_len ? cid_len : 1;
    r->taken = taken;
    r->taken_arg = taken_arg;
}

void cli_edhoc_responder_wipe(cli_edhoc_responder_t *r)
{
    for (size_t i = 0; i < CLI_EDHOC_SESSIONS; i++)
        if (r->sess[i].active)
            edhoc_session_wipe(&r->sess[i].s);
    cs_wipe(r->sess, sizeof r->sess);
}

static void result_text(cli_edhoc_result_t *out, uint8_t code, const char *text)
{
    out->code = code;
    out->edhoc_payload = false;
    out->payload_len = strlen(text);
    memcpy(out->payload, text, out->payload_len);
}

/* The session failed: the initiator gets an EDHOC error (§6). */
static void session_abort(cli_edhoc_responder_t *r, cli_edhoc_session_t *x, cli_edhoc_result_t *out)
{
    if (r->verbose)
        fprintf(stderr, "* EDHOC failed: %s\n", coreseal_strerror(x->s.err));
    out->code = COAP_BAD_REQUEST;
    out->edhoc_payload = edhoc_prepare_error(&x->s, out->payload, sizeof out->payload, &out->payload_len) ==
                         EDHOC_OK;
    if (!out->edhoc_payload)
        out->payload_len = 0;
    edhoc_session_wipe(&x->s);
    x->active = false;
}

static cli_edhoc_session_t *session_by_cid(cli_edhoc_responder_t *r, const uint8_t *cid, size_t len,
                                           cs_time_ms_t now)
{
    for (size_t i = 0; i < CLI_EDHOC_SESSIONS; i++) {
        cli_edhoc_session_t *x = &r->sess[i];
        if (x->active && x->c_r_len == len && !memcmp(x->c_r, cid, len) && x->expires >= now)
            return x;
    }
    return NULL;
}

/* C_R: not another session's, not a context's Recipient ID, not C_I
 * (§3.3.2). One byte: the integers 0..23; longer: random byte strings. */
static bool choose_c_r(cli_edhoc_responder_t *r, cli_edhoc_session_t *x, cs_time_ms_t now)
{
    size_t cil;
    const uint8_t *c_i = edhoc_peer_cid(&x->s, &cil);
    uint8_t c[EDHOC_MAX_CID];
    for (int tries = 0; tries < 64; tries++) {
        if (r->cid_len == 1)
            c[0] = r->next_c_r = (uint8_t)((r->next_c_r + 1) % 24);
        else if (r->crypto->random(r->crypto->state, c, r->cid_len) != CS_CRYPTO_OK)
            return false;
        if ((cil == r->cid_len && !memcmp(c_i, c, cil)) || session_by_cid(r, c, r->cid_len, now) ||
            (r->taken && r->taken(r->taken_arg, c, r->cid_len)))
            continue;
        memcpy(x->c_r, c, r->cid_len);
        x->c_r_len = r->cid_len;
        return true;
    }
    return false;
}

static void on_message_1(cli_edhoc_responder_t *r, const uint8_t *msg, size_t len, cs_time_ms_t now,
                         cli_edhoc_result_t *out)
{
    cli_edhoc_session_t *x = NULL; /* a free one, or the oldest */
    for (size_t i = 0; i < CLI_EDHOC_SESSIONS; i++) {
        cli_edhoc_session_t *y = &r->sess[i];
        if (!y->active || y->expires < now) {
            x = y;
            break;
        }
        if (!x || y->expires < x->expires)
            x = y;
    }
    if (x->active)
        edhoc_session_wipe(&x->s);
    memset(x, 0, sizeof *x);
    x->active = true;
    x->expires = now + CLI_EDHOC_LIFETIME_MS;
    cli_edhoc_t *e = r->keys;
    edhoc_method_t method;
    uint8_t suite, placeholder = 0, m2[1024];
    const uint8_t *ead;
    size_t eadl, n;
    cli_edhoc_choose(e, e->n_peers ? &e->peers[0] : NULL, &method, &suite);
    /* the initiator chose the method (message_1 starts with it): taken if
     * the own key can play the responder's part in it, signing (Ed25519,
     * P-256) or static DH (X25519, P-256) */
    bool r_signs = len && (msg[0] == EDHOC_METHOD_SIG_SIG || msg[0] == EDHOC_METHOD_STAT_SIG);
    if (e->method < 0 && len && msg[0] <= EDHOC_METHOD_STAT_STAT &&
        e->own.crv != (r_signs ? CS_CRV_X25519 : CS_CRV_ED25519))
        method = (edhoc_method_t)msg[0];
    edhoc_config_t cfg = {method, &suite, 1, &placeholder, 1, cli_edhoc_cred(&e->own), e->own.priv, e->own.priv_len, NULL, NULL};
    if (edhoc_responder_init(&x->s, r->crypto, &cfg, x->scratch, sizeof x->scratch) != EDHOC_OK ||
        edhoc_responder_process_message_1(&x->s, msg, len, &ead, &eadl) != EDHOC_OK || !choose_c_r(r, x, now) ||
        edhoc_responder_set_cid(&x->s, x->c_r, x->c_r_len) != EDHOC_OK ||
        edhoc_responder_prepare_message_2(&x->s, NULL, 0, m2, sizeof m2, &n) != EDHOC_OK ||
        n > sizeof out->payload) {
        session_abort(r, x, out);
        return;
    }
    if (r->verbose)
        fprintf(stderr, "* EDHOC message_1 accepted, message_2 sent (C_R %u byte%s)\n", x->c_r_len,
                x->c_r_len == 1 ? "" : "s");
    out->code = COAP_CHANGED;
    out->edhoc_payload = true;
    memcpy(out->payload, m2, n);
    out->payload_len = n;
}

/* message_3: the initiator's credential must be a trusted one; then the
 * OSCORE parameters. */
static void on_message_3(cli_edhoc_responder_t *r, cli_edhoc_session_t *x, const uint8_t *msg, size_t len,
                         cli_edhoc_result_t *out)
{
    const uint8_t *idc, *ead;
    size_t idl, eadl;
    if (edhoc_responder_parse_message_3(&x->s, msg, len, &idc, &idl, &ead, &eadl) != EDHOC_OK) {
        session_abort(r, x, out);
        return;
    }
    const cs_edhoc_key_t *peer = cli_edhoc_find_peer(r->keys, r->crypto, idc, idl);
    if (!peer)
        edhoc_reject_credential(&x->s); /* error code 3 */
    edhoc_cred_t cred = peer ? cli_edhoc_cred(peer) : (edhoc_cred_t){0};
    if (!peer || edhoc_responder_verify_message_3(&x->s, &cred) != EDHOC_OK) {
        session_abort(r, x, out);
        return;
    }
    if (edhoc_export_oscore(&x->s, &out->keys, &out->params) != EDHOC_OK) {
        result_text(out, COAP_INTERNAL_SERVER_ERROR, "cannot derive the OSCORE context");
    } else {
        out->code = COAP_CHANGED;
        out->done = true;
        out->peer = peer;
        if (r->verbose)
            fprintf(stderr, "* EDHOC completed with %s: OSCORE context derived\n", peer->subject);
    }
    edhoc_session_wipe(&x->s);
    x->active = false;
}

void cli_edhoc_respond(cli_edhoc_responder_t *r, const uint8_t *payload, size_t len, cs_time_ms_t now,
                       cli_edhoc_result_t *out)
{
    uint8_t c_r[EDHOC_MAX_CID], c_r_len;
    const uint8_t *msg;
    size_t msg_len;
    memset(out, 0, sizeof *out);
    if (edhoc_coap_unwrap(payload, len, c_r, &c_r_len, &msg, &msg_len) != EDHOC_OK) {
        result_text(out, COAP_BAD_REQUEST, "expected an EDHOC message");
        return;
    }
    if (c_r_len == 0) { /* message_1: a new session, evicting the oldest */
        on_message_1(r, msg, msg_len, now, out);
        return;
    }
    cli_edhoc_session_t *x = session_by_cid(r, c_r, c_r_len, now);
    if (!x)
        result_text(out, COAP_BAD_REQUEST, "no EDHOC session with this C_R");
    else
        on_message_3(r, x, msg, msg_len, out);
}

void cli_edhoc_respond_combined(cli_edhoc_responder_t *r, const uint8_t *kid, size_t kid_len, const uint8_t *m3,
                                size_t m3_len, cs_time_ms_t now, cli_edhoc_result_t *out)
{
    memset(out, 0, sizeof *out);
    cli_edhoc_session_t *x = session_by_cid(r, kid, kid_len, now);
    if (!x)
        result_text(out, COAP_BAD_REQUEST, "no EDHOC session for this combined request");
    else
        on_message_3(r, x, m3, m3_len, out);
}

/* ---------------------------------------------------------------- initiator */

static int initiator_failed(const char *sub, edhoc_err_t err, const char *step)
{
    bool peer = err == EDHOC_ERR_PEER_UNSPECIFIED || err == EDHOC_ERR_PEER_WRONG_SUITE ||
                err == EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL;
    return cli_fail(sub, peer ? CLI_EXIT_PEER_REJECTED : CLI_EXIT_SECURITY, "EDHOC %s: %s [%s]", step,
                    coreseal_strerror(err), coreseal_errname(err));
}

/* The answer to a POST /.well-known/edhoc: 2.04 goes on; an EDHOC error
 * or another code ends the handshake with a message saying which. */
static int check_answer(const char *sub, const coap_msg_t *resp, const char *step, bool need_payload)
{
    char code[32];
    if (resp->code == COAP_CHANGED && (!need_payload || resp->payload_len))
        return CLI_EXIT_OK;
    if (resp->payload_len && edhoc_decode_error(resp->payload, resp->payload_len) != EDHOC_ERR_MALFORMED)
        return initiator_failed(sub, edhoc_decode_error(resp->payload, resp->payload_len), step);
    return cli_fail(sub, CLI_EXIT_PEER_REJECTED, "EDHOC %s: the server answered %s %.*s", step,
                    cli_code_str(resp->code, code), (int)resp->payload_len, (const char *)resp->payload);
}

int cli_edhoc_initiate(cli_edhoc_t *e, const cs_crypto_t *crypto, const char *sub, int verbose,
                       cli_edhoc_post_fn post, void *arg, uint8_t *m3, size_t m3_cap, size_t *m3_len,
                       cli_edhoc_result_t *out)
{
    static edhoc_session_t s;
    static uint8_t scratch[2048];
    uint8_t m[1024], p[1024], cid;
    size_t n, pn, idl, eadl;
    const uint8_t *idc, *ead;
    edhoc_method_t method;
    uint8_t suite;
    coap_msg_t resp;
    memset(out, 0, sizeof *out);
    cli_edhoc_choose(e, e->n_peers ? &e->peers[0] : NULL, &method, &suite);
    if (crypto->random(crypto->state, &cid, 1) != CS_CRYPTO_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "no randomness");
    cid %= 24; /* a one-byte identifier that travels as a CBOR integer */
    edhoc_config_t cfg = {method, &suite, 1, &cid, 1, cli_edhoc_cred(&e->own), e->own.priv, e->own.priv_len, NULL, NULL};
    edhoc_err_t err = edhoc_initiator_init(&s, crypto, &cfg, scratch, sizeof scratch);
    int rc = CLI_EXIT_OK;
    if (err != EDHOC_OK)
        return initiator_failed(sub, err, "setup");
    if ((err = edhoc_initiator_prepare_message_1(&s, NULL, 0, m, sizeof m, &n)) != EDHOC_OK ||
        (err = edhoc_coap_wrap_message_1(m, n, p, sizeof p, &pn)) != EDHOC_OK) {
        rc = initiator_failed(sub, err, "message_1");
        goto out;
    }
    if (verbose)
        fprintf(stderr, "* EDHOC method %d suite %u: message_1 (%zu bytes)\n", method, suite, n);
    if ((rc = post(arg, p, pn, &resp)) != CLI_EXIT_OK || (rc = check_answer(sub, &resp, "message_1", true)) != CLI_EXIT_OK)
        goto out;
    if ((err = edhoc_initiator_parse_message_2(&s, resp.payload, resp.payload_len, &idc, &idl, &ead, &eadl)) !=
        EDHOC_OK) {
        rc = initiator_failed(sub, err, "message_2");
        goto out;
    }
    if (!(out->peer = cli_edhoc_find_peer(e, crypto, idc, idl))) {
        edhoc_reject_credential(&s);
        rc = cli_fail(sub, CLI_EXIT_SECURITY, "EDHOC: the server authenticated with a credential not trusted here");
        goto out;
    }
    edhoc_cred_t cred = cli_edhoc_cred(out->peer);
    if ((err = edhoc_initiator_verify_message_2(&s, &cred)) != EDHOC_OK ||
        (err = edhoc_initiator_prepare_message_3(&s, NULL, 0, m, sizeof m, &n)) != EDHOC_OK) {
        rc = initiator_failed(sub, err, "message_2");
        goto out;
    }
    if (m3) { /* RFC 9668: message_3 rides on the first OSCORE request */
        if (n > m3_cap) {
            rc = cli_fail(sub, CLI_EXIT_USAGE, "message_3 too large to combine");
            goto out;
        }
        memcpy(m3, m, n);
        *m3_len = n;
    } else {
        if ((err = edhoc_coap_wrap_message_3(&s, m, n, p, sizeof p, &pn)) != EDHOC_OK) {
            rc = initiator_failed(sub, err, "message_3");
            goto out;
        }
        if (verbose)
            fprintf(stderr, "* EDHOC: server authenticated; message_3 (%zu bytes)\n", n);
        if ((rc = post(arg, p, pn, &resp)) != CLI_EXIT_OK ||
            (rc = check_answer(sub, &resp, "message_3", false)) != CLI_EXIT_OK)
            goto out;
    }
    if ((err = edhoc_export_oscore(&s, &out->keys, &out->params)) != EDHOC_OK) {
        rc = initiator_failed(sub, err, "export");
        goto out;
    }
    out->done = true;
    if (verbose)
        fprintf(stderr, "* EDHOC completed: OSCORE context ready\n");
out:
    edhoc_session_wipe(&s);
    cs_wipe(scratch, sizeof scratch);
    return rc;
}
