/* OSCORE Appendix B.2 (RFC 8613, Figure 14): a client and a server run the
 * four steps in memory and then talk with the new context; the negative
 * cases show that a forged or tampered message never changes a context,
 * that a replayed request #2 meets the replay window, and that a server
 * which lost everything recovers through the same protocol. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/oscore.h"

static cs_crypto_t crypto;

static const uint8_t secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t salt[8] = {0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40};
static const uint8_t client_id[1] = {0x00}, server_id[1] = {0x01};

static int setup(void **state)
{
    (void)state;
    return cs_crypto_openssl_new(&crypto) == CS_CRYPTO_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cs_crypto_openssl_free(&crypto);
    return 0;
}

/* The parameters both sides were provisioned with (no ID Context). */
static oscore_params_t base(bool client)
{
    oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof secret,
                         .master_salt = salt, .master_salt_len = sizeof salt, .b2 = true};
    p.sender_id = client ? client_id : server_id;
    p.recipient_id = client ? server_id : client_id;
    p.sender_id_len = p.recipient_id_len = 1;
    return p;
}

typedef struct {
    uint8_t buf[256];
    size_t len;
    coap_msg_t msg;
} wire_t;

static void reparse(wire_t *w) { assert_int_equal(coap_msg_parse(&w->msg, w->buf, w->len), COAP_OK); }

static void make_msg(wire_t *w, coap_type_t type, uint8_t code, const char *path)
{
    coap_builder_t b;
    coap_builder_init(&b, w->buf, sizeof w->buf, COAP_TRANSPORT_UDP, type, code, 42,
                      (const uint8_t *)"tk", 2);
    if (path)
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, path, strlen(path));
    assert_int_equal(coap_builder_finish(&b, &w->len), COAP_OK);
    reparse(w);
}

static void protect_get(oscore_ctx_t *client, wire_t *out, oscore_binding_t *bind)
{
    wire_t plain;
    make_msg(&plain, COAP_TYPE_CON, COAP_GET, "temp");
    assert_int_equal(oscore_protect_request(client, &plain.msg, out->buf, sizeof out->buf,
                                            &out->len, bind),
                     OSCORE_OK);
    reparse(out);
}

static oscore_option_t option_of(const wire_t *w)
{
    oscore_option_t o;
    assert_int_equal(oscore_msg_option(&w->msg, &o), OSCORE_OK);
    return o;
}

/* Server step 2: the host's 4.01 for req, protected as response #1. */
static oscore_err_t answer1(oscore_ctx_t *server, const oscore_params_t *p, const wire_t *req,
                            wire_t *resp1)
{
    wire_t plain;
    make_msg(&plain, COAP_TYPE_ACK, COAP_UNAUTHORIZED, NULL);
    oscore_err_t e = oscore_b2_answer_request1(server, p, &req->msg, &plain.msg, resp1->buf,
                                               sizeof resp1->buf, &resp1->len);
    if (e == OSCORE_OK)
        reparse(resp1);
    return e;
}

/* Steps 1 to 5 between client and server; returns with both on the
 * third context. */
static void run_b2(oscore_ctx_t *client, oscore_ctx_t *server, const oscore_params_t *cp,
                   const oscore_params_t *sp)
{
    wire_t req1, resp1, req2, resp2, inner;
    oscore_binding_t cb, sb;
    protect_get(client, &req1, &cb);
    oscore_option_t o = option_of(&req1);
    assert_true(o.has_kid_context);
    assert_false(oscore_ctx_matches(server, &o));
    assert_true(oscore_b2_applies(server, &o));
    assert_false(oscore_b2_is_request2(server, &o));
    assert_int_equal(answer1(server, sp, &req1, &resp1), OSCORE_OK);

    assert_true(oscore_b2_is_response1(client, &resp1.msg));
    assert_int_equal(oscore_b2_accept_response1(client, cp, &cb, &resp1.msg, inner.buf,
                                                sizeof inner.buf, &inner.len),
                     OSCORE_OK);
    reparse(&inner);
    assert_int_equal(inner.msg.code, COAP_UNAUTHORIZED);

    protect_get(client, &req2, &cb);
    o = option_of(&req2);
    assert_false(oscore_ctx_matches(server, &o));
    assert_true(oscore_b2_is_request2(server, &o));
    assert_int_equal(oscore_b2_accept_request2(server, sp, &req2.msg, inner.buf, sizeof inner.buf,
                                               &inner.len, &sb),
                     OSCORE_OK);
    reparse(&inner);
    assert_int_equal(inner.msg.code, COAP_GET);
    assert_true(coap_msg_path_is(&inner.msg, "temp"));

    /* step 5: response #2 verifies with the client's third context */
    wire_t plain;
    make_msg(&plain, COAP_TYPE_ACK, COAP_CONTENT, NULL);
    assert_int_equal(oscore_protect_response(server, &sb, &plain.msg, false, resp2.buf,
                                             sizeof resp2.buf, &resp2.len),
                     OSCORE_OK);
    reparse(&resp2);
    assert_false(oscore_b2_is_response1(client, &resp2.msg));
    assert_int_equal(oscore_unprotect_response(client, &cb, &resp2.msg, inner.buf,
                                               sizeof inner.buf, &inner.len),
                     OSCORE_OK);
}

static void test_full_run_and_after(void **state)
{
    (void)state;
    oscore_params_t cp = base(true), sp = base(false);
    oscore_ctx_t client, server, plain_client;
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    assert_int_equal(oscore_ctx_derive(&plain_client, &crypto, &cp), OSCORE_OK);
    assert_int_equal(oscore_b2_start(&client, &crypto, &cp), OSCORE_OK);
    assert_true(client.has_id_context && client.send_kid_context);
    assert_int_equal(client.id_context_len, OSCORE_B2_NONCE_LEN);
    uint8_t r1[OSCORE_B2_NONCE_LEN];
    memcpy(r1, client.id_context, sizeof r1);

    run_b2(&client, &server, &cp, &sp);
    /* ID3 = R2 || R3 on both sides, keys new, the pending R2 gone */
    assert_int_equal(client.id_context_len, 2 * OSCORE_B2_NONCE_LEN);
    assert_int_equal(server.id_context_len, client.id_context_len);
    assert_memory_equal(server.id_context, client.id_context, client.id_context_len);
    assert_memory_not_equal(client.id_context, r1, sizeof r1);
    assert_memory_equal(server.recipient_key, client.sender_key, client.key_len);
    assert_memory_not_equal(client.sender_key, plain_client.sender_key, client.key_len);
    assert_int_equal(server.b2_r2_count, 0);

    /* an ordinary exchange on the new context */
    wire_t req, inner, replay;
    oscore_binding_t cb, sb;
    protect_get(&client, &req, &cb);
    oscore_option_t o = option_of(&req);
    assert_true(oscore_ctx_matches(&server, &o));
    assert_false(oscore_b2_applies(&server, &o));
    assert_int_equal(oscore_unprotect_request(&server, &req.msg, inner.buf, sizeof inner.buf,
                                              &inner.len, &sb),
                     OSCORE_OK);
    /* the same request again is a replay for the new context */
    replay = req;
    reparse(&replay);
    assert_int_equal(oscore_unprotect_request(&server, &replay.msg, inner.buf, sizeof inner.buf,
                                              &inner.len, &sb),
                     OSCORE_ERR_REPLAY);
}

static void test_replayed_request2_is_refused(void **state)
{
    (void)state;
    oscore_params_t cp = base(true), sp = base(false);
    oscore_ctx_t client, server;
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    assert_int_equal(oscore_b2_start(&client, &crypto, &cp), OSCORE_OK);
    wire_t req1, resp1, req2, inner;
    oscore_binding_t cb, sb;
    protect_get(&client, &req1, &cb);
    assert_int_equal(answer1(&server, &sp, &req1, &resp1), OSCORE_OK);
    assert_int_equal(oscore_b2_accept_response1(&client, &cp, &cb, &resp1.msg, inner.buf,
                                                sizeof inner.buf, &inner.len),
                     OSCORE_OK);
    protect_get(&client, &req2, &cb);

    /* a tampered request #2 changes nothing: R2 stays pending */
    wire_t bad = req2;
    bad.buf[bad.len - 1] ^= 1;
    reparse(&bad);
    uint8_t key_before[OSCORE_MAX_KEY_LEN];
    memcpy(key_before, server.recipient_key, sizeof key_before);
    assert_int_equal(oscore_b2_accept_request2(&server, &sp, &bad.msg, inner.buf, sizeof inner.buf,
                                               &inner.len, &sb),
                     OSCORE_ERR_DECRYPT);
    assert_memory_equal(server.recipient_key, key_before, sizeof key_before);
    assert_int_equal(server.b2_r2_count, 1);

    assert_int_equal(oscore_b2_accept_request2(&server, &sp, &req2.msg, inner.buf, sizeof inner.buf,
                                               &inner.len, &sb),
                     OSCORE_OK);
    /* replayed: its kid context now names the current context, whose
     * window has seen it; and it is no longer a request #2 */
    reparse(&req2);
    oscore_option_t o = option_of(&req2);
    assert_false(oscore_b2_is_request2(&server, &o));
    assert_true(oscore_ctx_matches(&server, &o));
    assert_int_equal(oscore_unprotect_request(&server, &req2.msg, inner.buf, sizeof inner.buf,
                                              &inner.len, &sb),
                     OSCORE_ERR_REPLAY);
    assert_int_equal(oscore_b2_accept_request2(&server, &sp, &req2.msg, inner.buf, sizeof inner.buf,
                                               &inner.len, &sb),
                     OSCORE_ERR_UNKNOWN_CONTEXT);
}

static void test_forgeries_change_nothing(void **state)
{
    (void)state;
    oscore_params_t cp = base(true), sp = base(false);
    oscore_ctx_t client, server, other;
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    assert_int_equal(oscore_b2_start(&client, &crypto, &cp), OSCORE_OK);
    wire_t req1, resp1, inner;
    oscore_binding_t cb, cb_other;

    /* request #1 under another Master Secret: no answer, nothing cached */
    oscore_params_t wrong = cp;
    uint8_t wrong_secret[16] = {0};
    wrong.master_secret = wrong_secret;
    assert_int_equal(oscore_b2_start(&other, &crypto, &wrong), OSCORE_OK);
    protect_get(&other, &req1, &cb_other);
    assert_int_equal(answer1(&server, &sp, &req1, &resp1), OSCORE_ERR_DECRYPT);
    assert_int_equal(server.b2_r2_count, 0);

    /* a tampered response #1 leaves the client's context as it was */
    protect_get(&client, &req1, &cb);
    assert_int_equal(answer1(&server, &sp, &req1, &resp1), OSCORE_OK);
    wire_t bad = resp1;
    bad.buf[bad.len - 2] ^= 0x40;
    reparse(&bad);
    uint8_t id_before[OSCORE_MAX_ID_CONTEXT_LEN];
    memcpy(id_before, client.id_context, sizeof id_before);
    assert_int_equal(oscore_b2_accept_response1(&client, &cp, &cb, &bad.msg, inner.buf,
                                                sizeof inner.buf, &inner.len),
                     OSCORE_ERR_DECRYPT);
    /* response #1 offered for a different request fails too (B.2.2) */
    wire_t req_b;
    oscore_binding_t cb_b;
    protect_get(&client, &req_b, &cb_b);
    assert_int_equal(oscore_b2_accept_response1(&client, &cp, &cb_b, &resp1.msg, inner.buf,
                                                sizeof inner.buf, &inner.len),
                     OSCORE_ERR_DECRYPT);
    assert_memory_equal(client.id_context, id_before, sizeof id_before);
    assert_int_equal(client.id_context_len, OSCORE_B2_NONCE_LEN);

    /* a kid context that begins with no R2 we sent is not a request #2 */
    oscore_option_t o = option_of(&req1);
    uint8_t fake[2 * OSCORE_B2_NONCE_LEN] = {0};
    o.kid_context = fake;
    o.kid_context_len = sizeof fake;
    assert_false(oscore_b2_is_request2(&server, &o));

    /* contexts not configured for B.2 take no part */
    oscore_params_t no_b2 = sp;
    no_b2.b2 = false;
    assert_int_equal(oscore_ctx_derive(&other, &crypto, &no_b2), OSCORE_OK);
    o = option_of(&req1);
    assert_false(oscore_b2_applies(&other, &o));
    assert_int_equal(answer1(&other, &no_b2, &req1, &resp1), OSCORE_ERR_UNKNOWN_CONTEXT);
    oscore_params_t no_b2c = cp;
    no_b2c.b2 = false;
    assert_int_equal(oscore_ctx_derive(&other, &crypto, &no_b2c), OSCORE_OK);
    assert_false(oscore_b2_is_response1(&other, &resp1.msg));
    assert_int_equal(oscore_b2_accept_response1(&other, &no_b2c, &cb, &resp1.msg, inner.buf,
                                                sizeof inner.buf, &inner.len),
                     OSCORE_ERR_BAD_STATE);
}

static void test_long_id_context_is_refused(void **state)
{
    (void)state;
    oscore_params_t cp = base(true), sp = base(false);
    oscore_ctx_t client, server;
    uint8_t long_id[OSCORE_MAX_ID_CONTEXT_LEN - OSCORE_B2_NONCE_LEN + 1] = {7};
    cp.id_context = long_id;
    cp.id_context_len = sizeof long_id;
    cp.send_kid_context = true;
    assert_int_equal(oscore_ctx_derive(&client, &crypto, &cp), OSCORE_OK);
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    wire_t req1, resp1;
    oscore_binding_t cb;
    protect_get(&client, &req1, &cb);
    oscore_err_t e = answer1(&server, &sp, &req1, &resp1);
    assert_int_equal(e, OSCORE_ERR_ID_CONTEXT_TOO_LONG);
    assert_int_equal(oscore_err_to_coap_code(e), COAP_UNAUTHORIZED);
}

/* A server restarted with only its provisioned parameters: the client's
 * next request names a context it does not know, and B.2 (steps 2 to 5,
 * the server's side of the protocol) rebuilds one with nothing persisted. */
static void test_server_lost_state_recovers(void **state)
{
    (void)state;
    oscore_params_t cp = base(true), sp = base(false);
    oscore_ctx_t client, server;
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    assert_int_equal(oscore_b2_start(&client, &crypto, &cp), OSCORE_OK);
    run_b2(&client, &server, &cp, &sp);
    uint8_t first_id[OSCORE_MAX_ID_CONTEXT_LEN];
    memcpy(first_id, client.id_context, sizeof first_id);

    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK); /* reboot */
    run_b2(&client, &server, &cp, &sp);
    assert_memory_not_equal(client.id_context, first_id, client.id_context_len);
    assert_memory_equal(server.id_context, client.id_context, client.id_context_len);
}

/* Parallel runs (lost responses, retries): the last OSCORE_B2_PENDING R2
 * values stay valid; an older one's request #2 is just a new request #1. */
static void test_pending_r2_ring(void **state)
{
    (void)state;
    oscore_params_t cp = base(true), sp = base(false);
    oscore_ctx_t server, clients[OSCORE_B2_PENDING + 1];
    oscore_option_t o[OSCORE_B2_PENDING + 1];
    wire_t req2[OSCORE_B2_PENDING + 1];
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    for (int i = 0; i <= OSCORE_B2_PENDING; i++) {
        wire_t req1, resp1, inner;
        oscore_binding_t cb;
        assert_int_equal(oscore_b2_start(&clients[i], &crypto, &cp), OSCORE_OK);
        protect_get(&clients[i], &req1, &cb);
        assert_int_equal(answer1(&server, &sp, &req1, &resp1), OSCORE_OK);
        assert_int_equal(oscore_b2_accept_response1(&clients[i], &cp, &cb, &resp1.msg, inner.buf,
                                                    sizeof inner.buf, &inner.len),
                         OSCORE_OK);
        protect_get(&clients[i], &req2[i], &cb);
    }
    assert_int_equal(server.b2_r2_count, OSCORE_B2_PENDING);
    for (int i = 0; i <= OSCORE_B2_PENDING; i++) {
        o[i] = option_of(&req2[i]);
        assert_true(oscore_b2_is_request2(&server, &o[i]) == (i > 0));
    }
}

typedef struct {
    int calls;
    uint8_t id_context[OSCORE_MAX_ID_CONTEXT_LEN];
    size_t id_context_len;
    uint64_t bound;
} store_t;

static oscore_err_t save_ssn(void *arg, const oscore_ctx_t *ctx, uint64_t bound)
{
    store_t *s = arg;
    s->calls++;
    memcpy(s->id_context, ctx->id_context, ctx->id_context_len);
    s->id_context_len = ctx->id_context_len;
    s->bound = bound;
    return OSCORE_OK;
}

/* Each new context asks its host to record a bound (with its ID Context)
 * before its first SSN, like any other context. */
static void test_new_contexts_persist_before_use(void **state)
{
    (void)state;
    store_t store = {0};
    oscore_params_t cp = base(true), sp = base(false);
    cp.persist = (oscore_persist_t){.save_ssn = save_ssn, .arg = &store, .step = 16};
    oscore_ctx_t client, server;
    assert_int_equal(oscore_ctx_derive(&server, &crypto, &sp), OSCORE_OK);
    assert_int_equal(oscore_b2_start(&client, &crypto, &cp), OSCORE_OK);
    assert_int_equal(store.calls, 0);
    wire_t req1, resp1, inner;
    oscore_binding_t cb;
    protect_get(&client, &req1, &cb);
    assert_int_equal(store.calls, 1);
    assert_true(store.bound == 16 && store.id_context_len == OSCORE_B2_NONCE_LEN);
    assert_memory_equal(store.id_context, client.id_context, OSCORE_B2_NONCE_LEN);
    assert_int_equal(answer1(&server, &sp, &req1, &resp1), OSCORE_OK);
    assert_int_equal(oscore_b2_accept_response1(&client, &cp, &cb, &resp1.msg, inner.buf,
                                                sizeof inner.buf, &inner.len),
                     OSCORE_OK);
    assert_int_equal(store.calls, 1);
    protect_get(&client, &req1, &cb);
    assert_int_equal(store.calls, 2);
    assert_true(store.bound == 16 && store.id_context_len == 2 * OSCORE_B2_NONCE_LEN);
    assert_memory_equal(store.id_context, client.id_context, store.id_context_len);
    assert_int_equal(cb.piv_len, 1);
    assert_int_equal(cb.piv[0], 0); /* new keys: SSN 0 again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_run_and_after),
        cmocka_unit_test(test_replayed_request2_is_refused),
        cmocka_unit_test(test_forgeries_change_nothing),
        cmocka_unit_test(test_long_id_context_is_refused),
        cmocka_unit_test(test_server_lost_state_recovers),
        cmocka_unit_test(test_pending_r2_ring),
        cmocka_unit_test(test_new_contexts_persist_before_use),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
