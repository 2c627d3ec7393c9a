/* OSCORE (RFC 8613): every Appendix C vector in both directions, byte for
 * byte; then the negative cases: wrong key, bit flips, replay and reorder,
 * unknown kid, kid context mismatch, SSN exhaustion and persistence,
 * Echo recovery after a reboot, notification ordering, option parsing. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/oscore.h"
#include "oscore/oscore_internal.h"
#include "testutil.h"

typedef struct {
    cs_crypto_t crypto;
    json_t *v;
} fixture_t;

static int setup(void **state)
{
    static fixture_t f;
    if (cs_crypto_openssl_new(&f.crypto) != CS_CRYPTO_OK)
        return -1;
    f.v = tu_load_vectors("oscore-rfc8613.json");
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cs_crypto_openssl_free(&f->crypto);
    json_decref(f->v);
    return 0;
}

/* Byte buffers that outlive the params (the context copies them). */
typedef struct {
    uint8_t secret[64], salt[32], sid[8], rid[8], idc[32];
} kd_bytes_t;

static json_t *kd_entry(fixture_t *f, const char *section)
{
    json_t *e = json_object_get(json_object_get(f->v, "key_derivation"), section);
    assert_non_null(e);
    return e;
}

static void params_from_vector(json_t *kd, kd_bytes_t *b, oscore_params_t *p)
{
    json_t *in = json_object_get(kd, "inputs");
    memset(p, 0, sizeof *p);
    p->aead_alg = (int32_t)json_integer_value(json_object_get(in, "aead_alg"));
    p->hkdf_alg = -10;
    p->master_secret = b->secret;
    p->master_secret_len = tu_json_hex(in, "master_secret", b->secret, sizeof b->secret);
    p->master_salt = b->salt;
    p->master_salt_len = tu_json_hex(in, "master_salt", b->salt, sizeof b->salt);
    p->sender_id = b->sid;
    p->sender_id_len = tu_json_hex(in, "sender_id", b->sid, sizeof b->sid);
    p->recipient_id = b->rid;
    p->recipient_id_len = tu_json_hex(in, "recipient_id", b->rid, sizeof b->rid);
    if (json_is_string(json_object_get(in, "id_context"))) {
        p->id_context = b->idc;
        p->id_context_len = tu_json_hex(in, "id_context", b->idc, sizeof b->idc);
        p->send_kid_context = true;
    }
}

static void derive(fixture_t *f, const char *section, uint64_t ssn, oscore_ctx_t *ctx)
{
    kd_bytes_t b;
    oscore_params_t p;
    params_from_vector(kd_entry(f, section), &b, &p);
    p.ssn_start = ssn;
    assert_int_equal(oscore_ctx_derive(ctx, &f->crypto, &p), OSCORE_OK);
}

/* "C.1.1" (client) <-> "C.1.2" (server) */
static void mirror(const char *section, char *out)
{
    strcpy(out, section);
    size_t n = strlen(out);
    out[n - 1] = out[n - 1] == '1' ? '2' : '1';
}

static void parse_hex_msg(json_t *obj, const char *key, uint8_t *buf, size_t cap, coap_msg_t *m)
{
    size_t n = tu_json_hex(obj, key, buf, cap);
    assert_int_equal(coap_msg_parse(m, buf, n), COAP_OK);
}

static void test_key_derivation_appendix_c123(void **state)
{
    fixture_t *f = *state;
    const char *key;
    json_t *kd;
    int count = 0;
    json_object_foreach(json_object_get(f->v, "key_derivation"), key, kd) {
        oscore_ctx_t ctx;
        derive(f, key, 0, &ctx);
        json_t *out = json_object_get(kd, "outputs");
        uint8_t want[32], nonce[13], piv[5];
        size_t n = tu_json_hex(out, "sender_key", want, sizeof want);
        assert_memory_equal(ctx.sender_key, want, n);
        n = tu_json_hex(out, "recipient_key", want, sizeof want);
        assert_memory_equal(ctx.recipient_key, want, n);
        n = tu_json_hex(out, "common_iv", want, sizeof want);
        assert_int_equal(n, ctx.nonce_len);
        assert_memory_equal(ctx.common_iv, want, n);
        size_t piv_len = tu_json_hex(kd, "nonce_partial_iv", piv, sizeof piv);
        oscore_make_nonce(&ctx, ctx.sender_id, ctx.sender_id_len, piv, piv_len, nonce);
        n = tu_json_hex(out, "sender_nonce", want, sizeof want);
        assert_memory_equal(nonce, want, n);
        oscore_make_nonce(&ctx, ctx.recipient_id, ctx.recipient_id_len, piv, piv_len, nonce);
        n = tu_json_hex(out, "recipient_nonce", want, sizeof want);
        assert_memory_equal(nonce, want, n);
        oscore_ctx_wipe(&ctx);
        count++;
    }
    assert_int_equal(count, 6);
}

static void test_requests_c4_c5_c6_both_directions(void **state)
{
    fixture_t *f = *state;
    const char *sections[] = {"C.4", "C.5", "C.6"};
    for (int i = 0; i < 3; i++) {
        json_t *c = json_object_get(json_object_get(f->v, "message_protection"), sections[i]);
        const char *ctx_name = json_string_value(json_object_get(c, "security_context"));
        json_t *sc = json_object_get(c, "sender_context");
        uint64_t ssn = (uint64_t)json_integer_value(json_object_get(sc, "sender_sequence_number"));
        oscore_ctx_t client, server;
        char server_name[16];
        derive(f, ctx_name, ssn, &client);
        mirror(ctx_name, server_name);
        derive(f, server_name, 0, &server);

        uint8_t plain[128], prot[256], back[256], want[256];
        coap_msg_t req, preq, sreq;
        oscore_binding_t cb, sb;
        size_t plen, blen;
        parse_hex_msg(c, "unprotected_coap_message", plain, sizeof plain, &req);
        assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb),
                         OSCORE_OK);
        size_t wn = tu_json_hex(c, "protected_coap_message", want, sizeof want);
        assert_int_equal(plen, wn);
        assert_memory_equal(prot, want, wn);
        /* the binding carries the vector's nonce and Partial IV */
        uint8_t nonce[13];
        tu_json_hex(c, "nonce", nonce, sizeof nonce);
        assert_memory_equal(cb.nonce, nonce, 13);
        assert_int_equal(client.ssn, ssn + 1);

        /* the server recovers the original message exactly */
        assert_int_equal(coap_msg_parse(&preq, prot, plen), COAP_OK);
        oscore_option_t opt;
        assert_int_equal(oscore_msg_option(&preq, &opt), OSCORE_OK);
        assert_true(oscore_ctx_matches(&server, &opt));
        assert_int_equal(oscore_unprotect_request(&server, &preq, back, sizeof back, &blen, &sb),
                         OSCORE_OK);
        size_t pn = tu_json_hex(c, "unprotected_coap_message", want, sizeof want);
        assert_int_equal(blen, pn);
        assert_memory_equal(back, want, pn);
        assert_memory_equal(sb.nonce, nonce, 13);
        assert_true(sb.fresh);
        assert_int_equal(coap_msg_parse(&sreq, back, blen), COAP_OK);
        assert_int_equal(sreq.code, COAP_GET);
    }
}

/* The C.4 exchange as far as the server's binding, for the response tests. */
static void c4_exchange(fixture_t *f, oscore_ctx_t *client, oscore_ctx_t *server,
                        oscore_binding_t *cb, oscore_binding_t *sb)
{
    json_t *c4 = json_object_get(json_object_get(f->v, "message_protection"), "C.4");
    uint8_t plain[128], prot[256], back[256];
    size_t plen, blen;
    coap_msg_t req, preq;
    derive(f, "C.1.1", 20, client);
    derive(f, "C.1.2", 0, server);
    parse_hex_msg(c4, "unprotected_coap_message", plain, sizeof plain, &req);
    assert_int_equal(oscore_protect_request(client, &req, prot, sizeof prot, &plen, cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&preq, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(server, &preq, back, sizeof back, &blen, sb),
                     OSCORE_OK);
}

static void test_responses_c7_c8_both_directions(void **state)
{
    fixture_t *f = *state;
    const char *sections[] = {"C.7", "C.8"};
    for (int i = 0; i < 2; i++) {
        json_t *c = json_object_get(json_object_get(f->v, "message_protection"), sections[i]);
        oscore_ctx_t client, server;
        oscore_binding_t cb, sb;
        c4_exchange(f, &client, &server, &cb, &sb);
        uint8_t plain[128], prot[256], back[256], want[256];
        size_t plen, blen;
        coap_msg_t resp, presp;
        parse_hex_msg(c, "unprotected_coap_message", plain, sizeof plain, &resp);
        bool own_piv = i == 1;
        assert_int_equal(oscore_protect_response(&server, &sb, &resp, own_piv, prot, sizeof prot,
                                                 &plen), OSCORE_OK);
        size_t wn = tu_json_hex(c, "protected_coap_message", want, sizeof want);
        assert_int_equal(plen, wn);
        assert_memory_equal(prot, want, wn);

        assert_int_equal(coap_msg_parse(&presp, prot, plen), COAP_OK);
        assert_int_equal(oscore_unprotect_response(&client, &cb, &presp, back, sizeof back, &blen),
                         OSCORE_OK);
        size_t pn = tu_json_hex(c, "unprotected_coap_message", want, sizeof want);
        assert_int_equal(blen, pn);
        assert_memory_equal(back, want, pn);
    }
}

static void test_wrong_key_and_bit_flips(void **state)
{
    fixture_t *f = *state;
    json_t *c4 = json_object_get(json_object_get(f->v, "message_protection"), "C.4");
    uint8_t prot[128], back[256], orig[128];
    size_t n = tu_json_hex(c4, "protected_coap_message", prot, sizeof prot), blen;
    size_t on = tu_json_hex(c4, "unprotected_coap_message", orig, sizeof orig);
    coap_msg_t m, om;
    oscore_binding_t b;
    assert_int_equal(coap_msg_parse(&om, orig, on), COAP_OK);

    /* a server with another master secret cannot decrypt */
    kd_bytes_t kb;
    oscore_params_t p;
    oscore_ctx_t server;
    params_from_vector(kd_entry(f, "C.1.2"), &kb, &p);
    kb.secret[0] ^= 1;
    assert_int_equal(oscore_ctx_derive(&server, &f->crypto, &p), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, n), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b),
                     OSCORE_ERR_DECRYPT);

    /* Every single-bit flip: either the request is refused, or the bit lay in
     * what OSCORE leaves to the transport (header, token, Uri-Host value) and
     * the protected content comes out unchanged. */
    size_t refused = 0;
    for (size_t bit = 0; bit < 8 * n; bit++) {
        uint8_t tampered[128];
        memcpy(tampered, prot, n);
        tampered[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        derive(f, "C.1.2", 0, &server);
        if (coap_msg_parse(&m, tampered, n) != COAP_OK ||
            oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b) != OSCORE_OK) {
            refused++;
            continue;
        }
        size_t byte = bit / 8;
        bool transport_field = byte < 8 /* header + 4-byte token */ ||
                               (byte >= 9 && byte < 18) /* "localhost" */;
        if (!transport_field)
            fail_msg("flip of bit %zu was accepted", bit);
        coap_msg_t dm;
        coap_opt_t path;
        assert_int_equal(coap_msg_parse(&dm, back, blen), COAP_OK);
        assert_true(coap_msg_find_option(&dm, COAP_OPT_URI_PATH, &path));
        assert_memory_equal(path.val, "tv1", 3);
    }
    assert_true(refused > 8 * (n - 18));
}

static void test_replay_and_reordering(void **state)
{
    fixture_t *f = *state;
    oscore_ctx_t client, server;
    derive(f, "C.2.1", 0, &client);
    derive(f, "C.2.2", 0, &server);
    uint8_t plain[64], prot[40][128], back[256];
    size_t plen[40], blen;
    coap_builder_t bld;
    size_t n;
    coap_builder_init(&bld, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1,
                      NULL, 0);
    coap_builder_add_option(&bld, COAP_OPT_URI_PATH, "x", 1);
    assert_int_equal(coap_builder_finish(&bld, &n), COAP_OK);
    coap_msg_t req, m;
    oscore_binding_t b;
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    for (int i = 0; i < 40; i++)
        assert_int_equal(oscore_protect_request(&client, &req, prot[i], sizeof prot[i], &plen[i],
                                                &b), OSCORE_OK);
    /* 5, then 3 (reordered, inside the window), 3 and 5 again, then 39:
     * 8 is 31 behind (the window's last slot), 7 is 32 behind (outside) */
    int order[] = {5, 3, 3, 5, 39, 8, 7};
    oscore_err_t want[] = {OSCORE_OK, OSCORE_OK,         OSCORE_ERR_REPLAY, OSCORE_ERR_REPLAY,
                           OSCORE_OK, OSCORE_OK, OSCORE_ERR_REPLAY};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        assert_int_equal(coap_msg_parse(&m, prot[order[i]], plen[order[i]]), COAP_OK);
        oscore_err_t err = oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b);
        if (err != want[i])
            fail_msg("step %zu (ssn %d): got %s", i, order[i], coreseal_errname(err));
    }
    assert_int_equal(oscore_err_to_coap_code(OSCORE_ERR_REPLAY), COAP_UNAUTHORIZED);
    assert_string_equal(oscore_err_diagnostic(OSCORE_ERR_REPLAY), "Replay detected");
}

static void test_replay_window_256(void **state)
{
    (void)state;
    oscore_replay_t w = {.size = 256, .empty = true};
    oscore_replay_update(&w, 1000);
    for (uint64_t p = 745; p < 1000; p++)
        assert_true(oscore_replay_check(&w, p));
    assert_false(oscore_replay_check(&w, 744));
    assert_false(oscore_replay_check(&w, 1000));
    oscore_replay_update(&w, 800);
    oscore_replay_update(&w, 1070); /* shift by 70: crosses a word */
    assert_false(oscore_replay_check(&w, 800));
    assert_false(oscore_replay_check(&w, 1000));
    assert_true(oscore_replay_check(&w, 999));
    assert_true(oscore_replay_check(&w, 815));
    assert_false(oscore_replay_check(&w, 814));
    oscore_replay_update(&w, 5000); /* jump beyond the window clears it */
    assert_true(oscore_replay_check(&w, 4999));
    assert_false(oscore_replay_check(&w, 5000));
}

static void test_unknown_kid_and_kid_context(void **state)
{
    fixture_t *f = *state;
    json_t *mp = json_object_get(f->v, "message_protection");
    uint8_t prot[128], back[256];
    size_t n, blen;
    coap_msg_t m;
    oscore_binding_t b;
    oscore_ctx_t server;
    /* C.5 is sent with kid 00; the C.1.2 server expects kid "" */
    derive(f, "C.1.2", 0, &server);
    n = tu_json_hex(json_object_get(mp, "C.5"), "protected_coap_message", prot, sizeof prot);
    assert_int_equal(coap_msg_parse(&m, prot, n), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b),
                     OSCORE_ERR_UNKNOWN_CONTEXT);
    /* C.6 carries kid context 37cbf3210017a2d3: a server with another one
     * does not match, one with none does not either */
    kd_bytes_t kb;
    oscore_params_t p;
    params_from_vector(kd_entry(f, "C.3.2"), &kb, &p);
    kb.idc[0] ^= 0xff;
    assert_int_equal(oscore_ctx_derive(&server, &f->crypto, &p), OSCORE_OK);
    n = tu_json_hex(json_object_get(mp, "C.6"), "protected_coap_message", prot, sizeof prot);
    assert_int_equal(coap_msg_parse(&m, prot, n), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b),
                     OSCORE_ERR_UNKNOWN_CONTEXT);
    derive(f, "C.1.2", 0, &server);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b),
                     OSCORE_ERR_UNKNOWN_CONTEXT);
    assert_int_equal(oscore_err_to_coap_code(OSCORE_ERR_UNKNOWN_CONTEXT), COAP_UNAUTHORIZED);
    /* no OSCORE option at all */
    n = tu_json_hex(json_object_get(mp, "C.4"), "unprotected_coap_message", prot, sizeof prot);
    assert_int_equal(coap_msg_parse(&m, prot, n), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &b),
                     OSCORE_ERR_NOT_PROTECTED);
}

typedef struct {
    uint64_t bounds[16];
    int calls;
    bool fail;
} store_t;

static oscore_err_t save_ssn(void *arg, const oscore_ctx_t *ctx, uint64_t bound)
{
    (void)ctx;
    store_t *s = arg;
    if (s->fail)
        return OSCORE_ERR_STORAGE;
    s->bounds[s->calls++] = bound;
    return OSCORE_OK;
}

static void build_get(uint8_t *buf, size_t cap, coap_msg_t *m)
{
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, cap, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 7, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "t", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(m, buf, n), COAP_OK);
}

static void test_ssn_persistence_and_exhaustion(void **state)
{
    fixture_t *f = *state;
    kd_bytes_t kb;
    oscore_params_t p;
    oscore_ctx_t ctx;
    store_t store = {0};
    params_from_vector(kd_entry(f, "C.2.1"), &kb, &p);
    p.persist = (oscore_persist_t){.save_ssn = save_ssn, .arg = &store, .step = 10};
    p.ssn_start = 100; /* as restored from the store after a reboot */
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_OK);
    uint8_t plain[32], out[128];
    size_t n;
    coap_msg_t req;
    oscore_binding_t b;
    build_get(plain, sizeof plain, &req);
    for (int i = 0; i < 25; i++) {
        assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b), OSCORE_OK);
        /* no SSN is ever used before a bound above it was stored */
        assert_true(store.calls > 0);
        assert_true(100 + (uint64_t)i < store.bounds[store.calls - 1]);
    }
    assert_int_equal(store.calls, 3);
    assert_true(store.bounds[0] == 110 && store.bounds[1] == 120 && store.bounds[2] == 130);

    /* the store fails: no message goes out and the SSN does not move */
    uint64_t before = ctx.ssn;
    for (int i = 0; i < 5; i++)
        assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b), OSCORE_OK);
    store.fail = true;
    assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b),
                     OSCORE_ERR_STORAGE);
    assert_true(ctx.ssn == before + 5);
    store.fail = false;
    assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b), OSCORE_OK);

    /* a block the host reserved ahead (ssn_covered) is used without a write */
    store = (store_t){0};
    p.ssn_start = 500;
    p.ssn_covered = 532;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b), OSCORE_OK);
    assert_int_equal(store.calls, 0);
    assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b), OSCORE_OK);
    assert_int_equal(store.calls, 1);
    assert_true(store.bounds[0] == 542); /* 532 + step 10, before SSN 532 went out */
    p.ssn_covered = 0;

    /* exhaustion at 2^40 - 1 */
    p.persist = (oscore_persist_t){0};
    p.ssn_start = OSCORE_SSN_MAX;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_OK);
    assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b), OSCORE_OK);
    assert_int_equal(b.piv_len, 5);
    assert_memory_equal(b.piv, "\xff\xff\xff\xff\xff", 5);
    assert_int_equal(oscore_protect_request(&ctx, &req, out, sizeof out, &n, &b),
                     OSCORE_ERR_SSN_EXHAUSTED);
}

static void test_echo_recovery_after_reboot(void **state)
{
    fixture_t *f = *state;
    kd_bytes_t kb;
    oscore_params_t p;
    oscore_ctx_t client, server;
    derive(f, "C.2.1", 50, &client);
    params_from_vector(kd_entry(f, "C.2.2"), &kb, &p);
    p.replay_window_lost = true;
    assert_int_equal(oscore_ctx_derive(&server, &f->crypto, &p), OSCORE_OK);

    uint8_t plain[64], prot[128], back[256], resp_plain[64], resp_prot[128], first[128];
    size_t plen, blen, first_len, n;
    coap_msg_t req, m;
    oscore_binding_t cb, sb;
    build_get(plain, sizeof plain, &req);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    memcpy(first, prot, plen);
    first_len = plen;
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb),
                     OSCORE_ERR_ECHO_REQUIRED);
    assert_false(sb.fresh);

    /* server: 4.01 with Echo, protected with its own Partial IV */
    uint8_t echo[OSCORE_ECHO_LEN];
    assert_int_equal(oscore_echo_challenge(&server, echo), OSCORE_OK);
    coap_builder_t bld;
    coap_builder_init(&bld, resp_plain, sizeof resp_plain, COAP_TRANSPORT_UDP, COAP_TYPE_ACK,
                      COAP_UNAUTHORIZED, 7, NULL, 0);
    coap_builder_add_option(&bld, COAP_OPT_ECHO, echo, sizeof echo);
    assert_int_equal(coap_builder_finish(&bld, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, resp_plain, n), COAP_OK);
    assert_int_equal(oscore_protect_response(&server, &sb, &m, false, resp_prot, sizeof resp_prot,
                                             &plen), OSCORE_OK);
    oscore_option_t opt;
    assert_int_equal(coap_msg_parse(&m, resp_prot, plen), COAP_OK);
    assert_int_equal(oscore_msg_option(&m, &opt), OSCORE_OK);
    assert_true(opt.piv_len > 0); /* never the request's nonce */

    /* client reads the Echo and retries with it */
    assert_int_equal(oscore_unprotect_response(&client, &cb, &m, back, sizeof back, &blen), OSCORE_OK);
    coap_msg_t r;
    coap_opt_t e;
    assert_int_equal(coap_msg_parse(&r, back, blen), COAP_OK);
    assert_int_equal(r.code, COAP_UNAUTHORIZED);
    assert_true(coap_msg_find_option(&r, COAP_OPT_ECHO, &e));
    coap_builder_init(&bld, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 8,
                      NULL, 0);
    coap_builder_add_option(&bld, COAP_OPT_URI_PATH, "t", 1);
    coap_builder_add_option(&bld, COAP_OPT_ECHO, e.val, e.len);
    assert_int_equal(coap_builder_finish(&bld, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_OK);
    assert_true(sb.fresh);

    /* the first request, replayed now, is refused: everything below the
     * verified one counts as seen */
    assert_int_equal(coap_msg_parse(&m, first, first_len), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb),
                     OSCORE_ERR_REPLAY);
}

/* LwM2M's first use of a context: a working server context that is told to
 * require Echo accepts nothing, not even a new Partial IV, until a request
 * returns the challenge. */
static void test_require_echo(void **state)
{
    fixture_t *f = *state;
    oscore_ctx_t client, server;
    derive(f, "C.2.1", 0, &client);
    derive(f, "C.2.2", 0, &server);
    uint8_t plain[64], prot[128], back[256];
    size_t plen, blen;
    coap_msg_t req, m;
    oscore_binding_t cb, sb;
    build_get(plain, sizeof plain, &req);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_OK);
    oscore_ctx_require_echo(&server);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb),
                     OSCORE_ERR_ECHO_REQUIRED);
    assert_false(sb.fresh);
    /* the same request with the challenge's value passes; until then every
     * refused request gets that one value */
    uint8_t echo[OSCORE_ECHO_LEN], again[OSCORE_ECHO_LEN];
    coap_builder_t bld;
    size_t n;
    assert_int_equal(oscore_echo_challenge(&server, echo), OSCORE_OK);
    assert_int_equal(oscore_echo_challenge(&server, again), OSCORE_OK);
    assert_memory_equal(echo, again, sizeof echo);
    coap_builder_init(&bld, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 9, NULL, 0);
    coap_builder_add_option(&bld, COAP_OPT_URI_PATH, "t", 1);
    coap_builder_add_option(&bld, COAP_OPT_ECHO, echo, sizeof echo);
    assert_int_equal(coap_builder_finish(&bld, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_OK);
    assert_true(sb.fresh);
    /* answered: the next challenge is a new value */
    assert_int_equal(oscore_echo_challenge(&server, again), OSCORE_OK);
    assert_memory_not_equal(echo, again, sizeof echo);
}

/* A clean restart: the window saved at shutdown goes back into a freshly
 * derived context, which then wants no Echo, refuses what it saw before and
 * keeps the window size its parameters give. */
static void test_restore_window(void **state)
{
    fixture_t *f = *state;
    kd_bytes_t kb;
    oscore_params_t p;
    oscore_ctx_t client, server;
    derive(f, "C.2.1", 0, &client);
    derive(f, "C.2.2", 0, &server);
    uint8_t plain[64], seen[128], prot[128], back[256];
    size_t seen_len, plen, blen;
    coap_msg_t req, m;
    oscore_binding_t cb, sb;
    build_get(plain, sizeof plain, &req);
    assert_int_equal(oscore_protect_request(&client, &req, seen, sizeof seen, &seen_len, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, seen, seen_len), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_OK);
    oscore_replay_t saved = server.replay;
    saved.size = 7; /* neither the size nor a flag a store wrote counts */
    saved.lost = true;

    params_from_vector(kd_entry(f, "C.2.2"), &kb, &p);
    p.replay_window_lost = true;
    assert_int_equal(oscore_ctx_derive(&server, &f->crypto, &p), OSCORE_OK);
    oscore_ctx_restore_window(&server, &saved);
    assert_int_equal(server.replay.size, OSCORE_DEFAULT_REPLAY_WINDOW);
    assert_int_equal(coap_msg_parse(&m, seen, seen_len), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_ERR_REPLAY);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_OK);
}

static void test_observe_notifications_in_order(void **state)
{
    fixture_t *f = *state;
    oscore_ctx_t client, server;
    derive(f, "C.2.1", 0, &client);
    derive(f, "C.2.2", 0, &server);
    uint8_t plain[64], prot[128], back[256];
    size_t n, plen, blen;
    coap_builder_t bld;
    coap_msg_t req, m;
    oscore_binding_t cb, sb;
    coap_builder_init(&bld, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1,
                      (const uint8_t *)"\x01", 1);
    coap_builder_add_option_uint(&bld, COAP_OPT_OBSERVE, 0);
    coap_builder_add_option(&bld, COAP_OPT_URI_PATH, "obs", 3);
    assert_int_equal(coap_builder_finish(&bld, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb), OSCORE_OK);
    assert_true(cb.observe);
    assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
    assert_int_equal(m.code, COAP_FETCH); /* §4.2 */
    coap_opt_t o;
    assert_true(coap_msg_find_option(&m, COAP_OPT_OBSERVE, &o)); /* outer copy for proxies */
    assert_false(coap_msg_find_option(&m, COAP_OPT_URI_PATH, &o));
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb), OSCORE_OK);
    assert_true(sb.observe);

    /* three notifications, delivered 1, 3, 2 */
    uint8_t notes[3][128];
    size_t note_len[3];
    for (int i = 0; i < 3; i++) {
        coap_builder_init(&bld, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_NON,
                          COAP_CONTENT, (uint16_t)(100 + i), (const uint8_t *)"\x01", 1);
        coap_builder_add_option_uint(&bld, COAP_OPT_OBSERVE, (uint32_t)(i + 1));
        coap_builder_set_payload(&bld, (const uint8_t *)"v", 1);
        assert_int_equal(coap_builder_finish(&bld, &n), COAP_OK);
        assert_int_equal(coap_msg_parse(&m, plain, n), COAP_OK);
        assert_int_equal(oscore_protect_response(&server, &sb, &m, false, notes[i],
                                                 sizeof notes[i], &note_len[i]), OSCORE_OK);
        assert_int_equal(coap_msg_parse(&m, notes[i], note_len[i]), COAP_OK);
        assert_int_equal(m.code, COAP_CONTENT);
    }
    int order[] = {0, 2, 1};
    oscore_err_t want[] = {OSCORE_OK, OSCORE_OK, OSCORE_ERR_REPLAY};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(coap_msg_parse(&m, notes[order[i]], note_len[order[i]]), COAP_OK);
        assert_int_equal(oscore_unprotect_response(&client, &cb, &m, back, sizeof back, &blen),
                         want[i]);
    }
}

static void test_option_value_parsing(void **state)
{
    (void)state;
    struct {
        const char *hex;
        oscore_err_t err;
    } cases[] = {
        {"", OSCORE_OK},
        {"0914", OSCORE_OK},
        {"0100", OSCORE_OK},
        {"19140837cbf3210017a2d3", OSCORE_OK},
        {"00", OSCORE_ERR_BAD_OPTION},       /* all flags clear must be empty */
        {"2914", OSCORE_ERR_BAD_OPTION},     /* reserved bit 5 */
        {"8914", OSCORE_ERR_BAD_OPTION},     /* extension bit 7 */
        {"06000000000000", OSCORE_ERR_BAD_OPTION}, /* n = 6 reserved */
        {"0314", OSCORE_ERR_BAD_OPTION},     /* PIV truncated */
        {"191408aa", OSCORE_ERR_BAD_OPTION}, /* kid context truncated */
        {"0114ff", OSCORE_ERR_BAD_OPTION},   /* trailing byte, no kid flag */
        {"10", OSCORE_ERR_BAD_OPTION},       /* h flag without s */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t v[16];
        size_t n = tu_hex(cases[i].hex, v, sizeof v);
        oscore_option_t o;
        oscore_err_t err = oscore_option_decode(&o, v, n);
        if (err != cases[i].err)
            fail_msg("%s: got %s", cases[i].hex, coreseal_errname(err));
    }
    uint8_t v[16];
    oscore_option_t o;
    size_t n = tu_hex("19140837cbf3210017a2d3", v, sizeof v);
    assert_int_equal(oscore_option_decode(&o, v, n), OSCORE_OK);
    assert_int_equal(o.piv_len, 1);
    assert_int_equal(o.piv[0], 0x14);
    assert_true(o.has_kid_context);
    assert_int_equal(o.kid_context_len, 8);
    assert_true(o.has_kid);
    assert_int_equal(o.kid_len, 0);
}

static void test_derive_rejections_and_option_classes(void **state)
{
    fixture_t *f = *state;
    kd_bytes_t kb;
    oscore_params_t p;
    oscore_ctx_t ctx;
    params_from_vector(kd_entry(f, "C.1.1"), &kb, &p);
    p.sender_id_len = 8;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_ERR_ID_TOO_LONG);
    params_from_vector(kd_entry(f, "C.1.1"), &kb, &p);
    p.aead_alg = CS_AEAD_A128GCM; /* 12-byte nonce: IDs up to 6 bytes */
    memset(kb.sid, 1, 7);
    p.sender_id_len = 7;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_ERR_ID_TOO_LONG);
    p.sender_id_len = 6;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_OK);
    assert_int_equal(ctx.nonce_len, 12);
    p.aead_alg = 999;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_ERR_UNSUPPORTED_ALG);
    p.aead_alg = 10;
    p.hkdf_alg = -11; /* HKDF SHA-512: not offered */
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_ERR_UNSUPPORTED_ALG);
    p.hkdf_alg = 0;
    p.sender_id = NULL; /* empty IDs may come as NULL */
    p.sender_id_len = 0;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_OK);
    assert_int_equal(ctx.sender_id_len, 0);
    p.replay_window = 257;
    assert_int_equal(oscore_ctx_derive(&ctx, &f->crypto, &p), OSCORE_ERR_BAD_ARG);

    assert_true(oscore_option_is_inner(COAP_OPT_URI_PATH));
    assert_true(oscore_option_is_inner(COAP_OPT_OBSERVE));
    assert_true(oscore_option_is_outer(COAP_OPT_OBSERVE));
    assert_false(oscore_option_is_inner(COAP_OPT_URI_HOST));
    assert_false(oscore_option_is_inner(COAP_OPT_PROXY_SCHEME));
    assert_true(oscore_option_is_inner(4711)); /* unknown: class E */
}

static void test_every_aead_round_trip(void **state)
{
    fixture_t *f = *state;
    const int32_t algs[] = {10, 11, 30, 1, 2, 3, 24};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        kd_bytes_t kb, kb2;
        oscore_params_t pc, ps;
        oscore_ctx_t client, server;
        params_from_vector(kd_entry(f, "C.2.1"), &kb, &pc);
        params_from_vector(kd_entry(f, "C.2.2"), &kb2, &ps);
        pc.aead_alg = ps.aead_alg = algs[i];
        assert_int_equal(oscore_ctx_derive(&client, &f->crypto, &pc), OSCORE_OK);
        assert_int_equal(oscore_ctx_derive(&server, &f->crypto, &ps), OSCORE_OK);
        uint8_t plain[64], prot[128], back[256];
        size_t plen, blen;
        coap_msg_t req, m;
        oscore_binding_t cb, sb;
        build_get(plain, sizeof plain, &req);
        assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &plen, &cb),
                         OSCORE_OK);
        assert_int_equal(coap_msg_parse(&m, prot, plen), COAP_OK);
        assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &blen, &sb),
                         OSCORE_OK);
        assert_int_equal(m.payload_len, 1 + 2 + client.tag_len); /* code, Uri-Path, tag */
        coap_msg_t out;
        coap_opt_t path;
        assert_int_equal(coap_msg_parse(&out, back, blen), COAP_OK);
        assert_int_equal(out.code, COAP_GET);
        assert_true(coap_msg_find_option(&out, COAP_OPT_URI_PATH, &path));
        assert_memory_equal(path.val, "t", 1);
    }
}

/* §4.1.3.3: Proxy-Uri is split; only scheme, host and port stay visible. */
static void test_proxy_uri_decomposition(void **state)
{
    fixture_t *f = *state;
    oscore_ctx_t client, server;
    derive(f, "C.2.1", 0, &client);
    derive(f, "C.2.2", 0, &server);
    uint8_t plain[128], prot[512], back[512];
    const char *uri = "coap://example.com:5684/sensors/t%20emp?unit=C";
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 3,
                      (const uint8_t *)"\x07", 1);
    coap_builder_add_option(&b, COAP_OPT_PROXY_URI, uri, strlen(uri));
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t req, split, m, in;
    oscore_binding_t cb, sb;
    uint8_t split_buf[256];
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    assert_int_equal(oscore_protect_request(&client, &req, prot, sizeof prot, &n, &cb),
                     OSCORE_ERR_FORBIDDEN_OPTION); /* never with the path in clear */
    assert_int_equal(oscore_decompose_proxy_uri(&req, split_buf, sizeof split_buf, &split), OSCORE_OK);
    assert_int_equal(oscore_protect_request(&client, &split, prot, sizeof prot, &n, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&m, prot, n), COAP_OK);
    coap_opt_t o;
    assert_false(coap_msg_find_option(&m, COAP_OPT_PROXY_URI, &o));
    assert_false(coap_msg_find_option(&m, COAP_OPT_URI_PATH, &o));
    assert_false(coap_msg_find_option(&m, COAP_OPT_URI_QUERY, &o));
    assert_true(coap_msg_find_option(&m, COAP_OPT_PROXY_SCHEME, &o));
    assert_memory_equal(o.val, "coap", 4);
    assert_true(coap_msg_find_option(&m, COAP_OPT_URI_HOST, &o));
    assert_memory_equal(o.val, "example.com", 11);
    uint32_t port = 0;
    assert_true(coap_msg_find_option(&m, COAP_OPT_URI_PORT, &o) && coap_opt_uint(&o, &port));
    assert_int_equal(port, 5684);
    assert_null(memmem(prot, n, "sensors", 7)); /* the path is encrypted */
    assert_int_equal(oscore_unprotect_request(&server, &m, back, sizeof back, &n, &sb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&in, back, n), COAP_OK);
    coap_opt_iter_t it;
    coap_opt_iter_init(&it, &in);
    const char *paths[] = {"sensors", "t emp"};
    int k = 0;
    while (coap_opt_next(&it, &o))
        if (o.num == COAP_OPT_URI_PATH) {
            assert_int_equal(o.len, strlen(paths[k]));
            assert_memory_equal(o.val, paths[k], o.len);
            k++;
        }
    assert_int_equal(k, 2);
    assert_true(coap_msg_find_option(&in, COAP_OPT_URI_QUERY, &o));
    assert_memory_equal(o.val, "unit=C", 6);
    /* RFC 8613 §11.6's request to an HTTP server: the path goes inside */
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 3, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_PROXY_URI, "http://server.url/orders", 24);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    assert_int_equal(oscore_decompose_proxy_uri(&req, split_buf, sizeof split_buf, &split), OSCORE_OK);
    assert_true(coap_msg_find_option(&split, COAP_OPT_PROXY_SCHEME, &o));
    assert_memory_equal(o.val, "http", 4);
    assert_true(coap_msg_find_option(&split, COAP_OPT_URI_HOST, &o));
    assert_memory_equal(o.val, "server.url", 10);
    assert_false(coap_msg_find_option(&split, COAP_OPT_URI_PORT, &o));
    assert_true(coap_msg_find_option(&split, COAP_OPT_URI_PATH, &o));
    assert_memory_equal(o.val, "orders", 6);
    /* a malformed Proxy-Uri is refused, and too little room is reported */
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 3, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_PROXY_URI, "ftp://x/", 8);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&req, plain, n), COAP_OK);
    assert_int_equal(oscore_decompose_proxy_uri(&req, split_buf, sizeof split_buf, &split),
                     OSCORE_ERR_BAD_ARG);
    assert_int_equal(oscore_decompose_proxy_uri(&req, split_buf, 8, &split), OSCORE_ERR_BAD_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_derivation_appendix_c123),
        cmocka_unit_test(test_requests_c4_c5_c6_both_directions),
        cmocka_unit_test(test_responses_c7_c8_both_directions),
        cmocka_unit_test(test_wrong_key_and_bit_flips),
        cmocka_unit_test(test_replay_and_reordering),
        cmocka_unit_test(test_replay_window_256),
        cmocka_unit_test(test_unknown_kid_and_kid_context),
        cmocka_unit_test(test_ssn_persistence_and_exhaustion),
        cmocka_unit_test(test_echo_recovery_after_reboot),
        cmocka_unit_test(test_require_echo),
        cmocka_unit_test(test_restore_window),
        cmocka_unit_test(test_observe_notifications_in_order),
        cmocka_unit_test(test_option_value_parsing),
        cmocka_unit_test(test_derive_rejections_and_option_classes),
        cmocka_unit_test(test_every_aead_round_trip),
        cmocka_unit_test(test_proxy_uri_decomposition),
    };
    return cmocka_run_group_tests_name("oscore", tests, setup, teardown);
}
