/* OSCORE state shared through Redis by two "nodes" (two connections, two
 * contexts derived from the same parameters), against a redis-server this
 * test starts on a port of its own: SSN blocks never overlap, also after a
 * node restarts; a request one node accepted is a replay at the other; the
 * shared window drops what is too old; a Redis that is gone stops sending
 * and accepting instead of risking a nonce. And the LwM2M server store on
 * Redis (lwm2m_store.h) as two nodes see it: a client one provisioned and
 * registered is found by the other by kid, endpoint and location, keeps its
 * location, expires exactly once for both, and events pass between them. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/lwm2m_store.h"
#include "coreseal/redis_state.h"

static cs_crypto_t crypto;
static pid_t redis_pid;
static char url[64];

static const uint8_t secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void start_redis(int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    redis_pid = fork();
    if (redis_pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
}

static int setup(void **state)
{
    (void)state;
    if (cs_crypto_openssl_new(&crypto) != CS_CRYPTO_OK)
        return -1;
    int port = 10000 + (int)(getpid() % 22000); /* below the ephemeral range (32768-): never an outgoing socket's */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    start_redis(port);
    for (int i = 0; i < 100; i++) { /* until it answers */
        cs_redis_t *r;
        char err[200];
        if (cs_redis_open(&r, url, err, sizeof err) == CS_STORE_OK) {
            cs_redis_close(r);
            return 0;
        }
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "redis-server did not start on %s\n", url);
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    cs_crypto_openssl_free(&crypto);
    return 0;
}

static cs_redis_t *node(void)
{
    cs_redis_t *r;
    char err[200];
    if (cs_redis_open(&r, url, err, sizeof err) != CS_STORE_OK)
        fail_msg("%s", err);
    return r;
}

/* The server's side of a device's context, kept in Redis. */
static void server_ctx(oscore_ctx_t *ctx, cs_redis_t *r, const char *dev, uint64_t ssn_start)
{
    oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof secret,
                         .sender_id = (const uint8_t *)"S", .sender_id_len = 1,
                         .recipient_id = (const uint8_t *)dev, .recipient_id_len = strlen(dev),
                         .ssn_start = ssn_start};
    p.persist = cs_redis_persist(r, 8);
    assert_int_equal(oscore_ctx_derive(ctx, &crypto, &p), OSCORE_OK);
}

static void device_ctx(oscore_ctx_t *ctx, const char *dev)
{
    oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof secret,
                         .sender_id = (const uint8_t *)dev, .sender_id_len = strlen(dev),
                         .recipient_id = (const uint8_t *)"S", .recipient_id_len = 1};
    assert_int_equal(oscore_ctx_derive(ctx, &crypto, &p), OSCORE_OK);
}

typedef struct {
    uint8_t buf[128];
    size_t len;
    coap_msg_t msg;
} wire_t;

static oscore_err_t send_one(oscore_ctx_t *ctx, wire_t *w, uint64_t *ssn)
{
    uint8_t plain[16] = {0x40, 0x01, 0x00, 0x01};
    coap_msg_t m;
    oscore_binding_t b;
    assert_int_equal(coap_msg_parse(&m, plain, 4), COAP_OK);
    oscore_err_t e = oscore_protect_request(ctx, &m, w->buf, sizeof w->buf, &w->len, &b);
    if (e == OSCORE_OK) {
        assert_int_equal(coap_msg_parse(&w->msg, w->buf, w->len), COAP_OK);
        if (ssn)
            *ssn = ctx->ssn - 1;
    }
    return e;
}

static oscore_err_t deliver(oscore_ctx_t *server, const wire_t *w)
{
    uint8_t out[128];
    size_t n;
    oscore_binding_t b;
    return oscore_unprotect_request(server, &w->msg, out, sizeof out, &n, &b);
}

static void test_ssn_blocks_across_nodes(void **state)
{
    (void)state;
    cs_redis_t *ra = node(), *rb = node();
    oscore_ctx_t a, b;
    server_ctx(&a, ra, "dev-ssn", 0);
    server_ctx(&b, rb, "dev-ssn", 0);
    static bool used[1000];
    memset(used, 0, sizeof used);
    wire_t w;
    uint64_t ssn;
    for (int i = 0; i < 300; i++) { /* both nodes send, interleaved unevenly */
        oscore_ctx_t *x = i % 3 ? &a : &b;
        assert_int_equal(send_one(x, &w, &ssn), OSCORE_OK);
        assert_true(ssn < 1000);
        assert_false(used[ssn]); /* never one SSN (nonce) twice */
        used[ssn] = true;
    }
    /* node A restarts with nothing kept: it gets a new block, above all */
    server_ctx(&a, ra, "dev-ssn", 0);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(send_one(&a, &w, &ssn), OSCORE_OK);
        assert_true(ssn < 1000);
        assert_false(used[ssn]);
        used[ssn] = true;
    }
    /* a context that was served alone up to SSN 5000 continues above it */
    oscore_ctx_t c;
    server_ctx(&c, ra, "dev-ssn", 5000);
    assert_int_equal(send_one(&c, &w, &ssn), OSCORE_OK);
    assert_true(ssn >= 5000);
    for (int i = 0; i < 8; i++) /* B finishes the block it holds, then goes above too */
        assert_int_equal(send_one(&b, &w, &ssn), OSCORE_OK);
    assert_true(ssn > 5000);
    cs_redis_close(ra);
    cs_redis_close(rb);
}

static void test_replay_across_nodes(void **state)
{
    (void)state;
    cs_redis_t *ra = node(), *rb = node();
    oscore_ctx_t a, b, dev;
    server_ctx(&a, ra, "dev-rp", 0);
    server_ctx(&b, rb, "dev-rp", 0);
    device_ctx(&dev, "dev-rp");
    static wire_t req[40];
    for (int i = 0; i < 40; i++)
        assert_int_equal(send_one(&dev, &req[i], NULL), OSCORE_OK);
    assert_int_equal(deliver(&a, &req[0]), OSCORE_OK);
    assert_int_equal(deliver(&b, &req[0]), OSCORE_ERR_REPLAY); /* B never saw it itself */
    assert_int_equal(deliver(&b, &req[2]), OSCORE_OK);
    assert_int_equal(deliver(&a, &req[1]), OSCORE_OK); /* reordered, inside the window */
    assert_int_equal(deliver(&a, &req[2]), OSCORE_ERR_REPLAY);
    assert_int_equal(deliver(&b, &req[39]), OSCORE_OK);
    /* 39 - 32 = 7: Partial IVs up to 7 are older than the shared window */
    assert_int_equal(deliver(&a, &req[5]), OSCORE_ERR_REPLAY);
    assert_int_equal(deliver(&a, &req[8]), OSCORE_OK);
    assert_int_equal(deliver(&b, &req[8]), OSCORE_ERR_REPLAY);
    cs_redis_close(ra);
    cs_redis_close(rb);
}

/* ---------------------------------------------------------------- the LwM2M store */

typedef struct {
    int calls;
    char endpoint[64];
    bool registered, has_oscore;
    uint32_t location;
    size_t links_len;
    bool persist_shared;
} seen_t;

static int remember(void *arg, const cs_lwm2m_db_row_t *row)
{
    seen_t *s = arg;
    s->calls++;
    snprintf(s->endpoint, sizeof s->endpoint, "%.*s", (int)row->endpoint_len, row->endpoint ? row->endpoint : "");
    s->registered = row->registered;
    s->has_oscore = row->has_oscore;
    s->location = row->location;
    s->links_len = row->links_len;
    s->persist_shared = row->params.persist.reserve_ssn && row->params.persist.accept_piv;
    return 0;
}

static void expired_one(void *arg, const char *endpoint)
{
    seen_t *s = arg;
    s->calls++;
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
}

static void one_event(void *arg, const char *json, size_t len)
{
    seen_t *s = arg;
    s->calls++;
    snprintf(s->endpoint, sizeof s->endpoint, "%.*s", (int)len, json);
}

static void test_lwm2m_store_two_nodes(void **state)
{
    (void)state;
    cs_lwm2m_store_t *a, *b;
    char err[200];
    assert_int_equal(cs_lwm2m_store_open(&a, url, 1, err, sizeof err), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_open(&b, url, 1, err, sizeof err), CS_STORE_OK);
    assert_true(cs_lwm2m_store_shared(a));
    oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof secret,
                         .sender_id = (const uint8_t *)"\x01", .sender_id_len = 1,
                         .recipient_id = (const uint8_t *)"ep-a", .recipient_id_len = 4};
    assert_int_equal(cs_lwm2m_store_put_security(a, &p, "ep-a"), CS_STORE_OK);
    /* node b finds it by kid, with the shared hooks, not registered yet */
    seen_t seen = {0};
    cs_lwm2m_find_t by_kid = {.kid = (const uint8_t *)"ep-a", .kid_len = 4};
    assert_int_equal(cs_lwm2m_store_find(b, &by_kid, remember, &seen), CS_STORE_OK);
    assert_int_equal(seen.calls, 1);
    assert_true(seen.has_oscore && seen.persist_shared && !seen.registered);
    /* registered through node a: a location for the cluster, the same at a re-registration */
    lwm2m_client_t c;
    memset(&c, 0, sizeof c);
    oscore_ctx_t ctx;
    assert_int_equal(oscore_ctx_derive(&ctx, &crypto, &p), OSCORE_OK);
    c.oscore = ctx;
    c.has_oscore = true;
    memcpy(c.endpoint, "ep-a", 5);
    c.endpoint_len = 4;
    c.lifetime = 60;
    memcpy(c.binding, "U", 2);
    memcpy(c.links, "</3/0>", 6);
    c.links_len = 6;
    struct { uint16_t family; char rest[14]; } addr = {2, "x"};
    uint32_t loc1, loc2;
    assert_int_equal(cs_lwm2m_store_save_registration(a, &c, &addr, sizeof addr, 1000, &loc1), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_save_registration(a, &c, &addr, sizeof addr, 2000, &loc2), CS_STORE_OK);
    assert_true(loc1 > 0);
    assert_int_equal(loc1, loc2);
    memset(&seen, 0, sizeof seen);
    cs_lwm2m_find_t by_ep = {.endpoint = "ep-a"}, by_loc = {.location = loc1}, nowhere = {.location = loc1 + 100};
    assert_int_equal(cs_lwm2m_store_find(b, &by_ep, remember, &seen), CS_STORE_OK);
    assert_true(seen.registered);
    assert_int_equal(seen.location, loc1);
    assert_int_equal(seen.links_len, 6);
    assert_string_equal(seen.endpoint, "ep-a");
    assert_int_equal(cs_lwm2m_store_find(b, &by_loc, remember, &seen), CS_STORE_OK);
    assert_int_equal(seen.calls, 2);
    assert_int_equal(cs_lwm2m_store_find(b, &nowhere, remember, &seen), CS_STORE_ERR_MISSING);
    /* expiry at 2000 ms: not before; then exactly one of the two nodes gets it */
    seen_t ea = {0}, eb = {0};
    assert_int_equal(cs_lwm2m_store_expire(a, 1999, 16, expired_one, &ea), CS_STORE_OK);
    assert_int_equal(ea.calls, 0);
    assert_int_equal(cs_lwm2m_store_expire(b, 5000, 16, expired_one, &eb), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_expire(a, 5000, 16, expired_one, &ea), CS_STORE_OK);
    assert_int_equal(ea.calls + eb.calls, 1);
    assert_string_equal(eb.endpoint, "ep-a");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(cs_lwm2m_store_find(a, &by_kid, remember, &seen), CS_STORE_OK);
    assert_true(!seen.registered); /* its security information stays */
    /* events: subscribe both, publish on a, both see it once */
    seen_t va = {0}, vb = {0};
    assert_int_equal(cs_lwm2m_store_events(a, one_event, &va), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_events(b, one_event, &vb), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_publish(a, "{\"type\":\"x\"}"), CS_STORE_OK);
    for (int i = 0; i < 100 && (va.calls == 0 || vb.calls == 0); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        assert_int_equal(cs_lwm2m_store_events(a, one_event, &va), CS_STORE_OK);
        assert_int_equal(cs_lwm2m_store_events(b, one_event, &vb), CS_STORE_OK);
    }
    assert_int_equal(va.calls, 1);
    assert_int_equal(vb.calls, 1);
    assert_string_equal(vb.endpoint, "{\"type\":\"x\"}");
    /* an observation's token: node b finds what a verifies its notifications with */
    const uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cs_lwm2m_token_t t = {.endpoint = "ep-a", .target = "/3303/0/5700?pmin=1", .accept = 112,
                          .bind = {.kid = {1}, .kid_len = 1, .piv = {0, 7}, .piv_len = 2, .nonce = {9, 9, 9}}}, got;
    assert_int_equal(cs_lwm2m_store_save_token(a, token, &t), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_find_token(b, token, &got), CS_STORE_OK);
    assert_string_equal(got.endpoint, "ep-a");
    assert_string_equal(got.target, "/3303/0/5700?pmin=1");
    assert_int_equal(got.accept, 112);
    assert_int_equal(got.bind.kid_len, 1);
    assert_int_equal(got.bind.piv_len, 2);
    assert_memory_equal(got.bind.piv, t.bind.piv, 2);
    assert_memory_equal(got.bind.nonce, t.bind.nonce, sizeof t.bind.nonce);
    assert_true(got.bind.observe);
    assert_int_equal(cs_lwm2m_store_end_token(b, token), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_find_token(a, token, &got), CS_STORE_ERR_MISSING);
    /* forgotten: gone for both */
    assert_int_equal(cs_lwm2m_store_forget(b, &c), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_store_find(a, &by_kid, remember, &seen), CS_STORE_ERR_MISSING);
    oscore_ctx_wipe(&ctx);
    oscore_ctx_wipe(&c.oscore);
    cs_lwm2m_store_close(a);
    cs_lwm2m_store_close(b);
}

static void test_bad_urls_and_redis_gone(void **state)
{
    (void)state;
    cs_redis_t *r;
    char err[200];
    assert_int_equal(cs_redis_open(&r, "redis://", err, sizeof err), CS_STORE_ERR_VALUE);
    assert_non_null(strstr(err, "redis://HOST[:PORT][/DB]"));
    assert_int_equal(cs_redis_open(&r, "http://127.0.0.1:6379", err, sizeof err), CS_STORE_ERR_VALUE);
    assert_int_equal(cs_redis_open(&r, "redis://127.0.0.1:99999", err, sizeof err), CS_STORE_ERR_VALUE);
    assert_int_equal(cs_redis_open(&r, "redis://127.0.0.1:1", err, sizeof err), CS_STORE_ERR_IO);
    assert_non_null(strstr(err, "127.0.0.1:1"));

    cs_redis_t *ra = node();
    oscore_ctx_t a, dev;
    server_ctx(&a, ra, "dev-off", 0);
    device_ctx(&dev, "dev-off");
    wire_t w, req;
    assert_int_equal(send_one(&a, &w, NULL), OSCORE_OK); /* a block of 8 reserved */
    assert_int_equal(send_one(&dev, &req, NULL), OSCORE_OK);
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
    redis_pid = 0;
    for (int i = 0; i < 7; i++) /* the block in hand is still safe to use */
        assert_int_equal(send_one(&a, &w, NULL), OSCORE_OK);
    assert_int_equal(send_one(&a, &w, NULL), OSCORE_ERR_STORAGE);
    assert_int_equal(deliver(&a, &req), OSCORE_ERR_STORAGE); /* not accepted unseen */
    assert_non_null(strstr(cs_redis_error(ra), "redis 127.0.0.1"));
    cs_redis_close(ra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssn_blocks_across_nodes),
        cmocka_unit_test(test_replay_across_nodes),
        cmocka_unit_test(test_lwm2m_store_two_nodes),
        cmocka_unit_test(test_bad_urls_and_redis_gone), /* last: it stops Redis */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
