/* The LwM2M server's client registry: OSCORE provisioning and lookup by
 * (kid, kid context), Register bound to the OSCORE endpoint name, names
 * held by unprotected clients, Update, De-register, lifetime expiry, a full
 * table, and random churn checked against a plain list (the indexes delete
 * by backward shift; a wrong shift loses entries). The last test runs one
 * Register the way a server does: OSCORE-protected on the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/lwm2m_registry.h"
#include "testutil.h"

#define N 64

typedef struct {
    cs_crypto_t crypto;
    lwm2m_registry_t reg;
    lwm2m_client_t clients[N];
    uint64_t index[4 * 128];
} fixture_t;

static int setup(void **state)
{
    static fixture_t f;
    if (cs_crypto_openssl_new(&f.crypto) != CS_CRYPTO_OK)
        return -1;
    if (lwm2m_registry_init(&f.reg, f.clients, N, f.index, sizeof f.index / sizeof f.index[0],
                            0x1234) != LWM2M_OK)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    cs_crypto_openssl_free(&f->crypto);
    return 0;
}

/* The server's side of a device's context: it receives with the device's
 * Sender ID `dev_id`. */
static void derive(fixture_t *f, oscore_ctx_t *ctx, const char *dev_id, const char *id_context,
                   bool server)
{
    static const uint8_t secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof secret};
    const uint8_t *dev = (const uint8_t *)dev_id, *srv = (const uint8_t *)"S";
    p.sender_id = server ? srv : dev;
    p.sender_id_len = server ? 1 : strlen(dev_id);
    p.recipient_id = server ? dev : srv;
    p.recipient_id_len = server ? strlen(dev_id) : 1;
    p.id_context = (const uint8_t *)id_context;
    p.id_context_len = id_context ? strlen(id_context) : 0;
    p.send_kid_context = id_context != NULL;
    assert_int_equal(oscore_ctx_derive(ctx, &f->crypto, &p), OSCORE_OK);
}

static lwm2m_client_t *provision(fixture_t *f, const char *dev_id, const char *id_context)
{
    oscore_ctx_t ctx;
    lwm2m_client_t *c = NULL;
    derive(f, &ctx, dev_id, id_context, true);
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &ctx, NULL, 0, &c), LWM2M_OK);
    oscore_ctx_wipe(&ctx);
    return c;
}

static oscore_option_t option(const char *kid, const char *kid_context)
{
    oscore_option_t o = {.kid = (const uint8_t *)kid, .kid_len = strlen(kid), .has_kid = true};
    if (kid_context) {
        o.kid_context = (const uint8_t *)kid_context;
        o.kid_context_len = strlen(kid_context);
        o.has_kid_context = true;
    }
    return o;
}

static lwm2m_register_info_t info_for(const char *ep, uint32_t lifetime)
{
    lwm2m_register_info_t i = {.endpoint = ep, .endpoint_len = strlen(ep), .lifetime = lifetime,
                               .binding = "U", .binding_len = 1, .version = "1.2", .version_len = 3};
    return i;
}

static void test_index_len(void **state)
{
    (void)state;
    assert_int_equal(lwm2m_registry_index_len(1), 4);
    assert_int_equal(lwm2m_registry_index_len(64), 256);
    assert_int_equal(lwm2m_registry_index_len(65), 512);
    assert_int_equal(lwm2m_registry_index_len(1000000), 2 * 2097152);
    lwm2m_registry_t reg;
    lwm2m_client_t c[4];
    uint64_t idx[16];
    assert_int_equal(lwm2m_registry_init(&reg, c, 4, idx, 15, 0), LWM2M_ERR_BAD_ARG);
    assert_int_equal(lwm2m_registry_init(&reg, c, 0, idx, 16, 0), LWM2M_ERR_BAD_ARG);
    assert_int_equal(lwm2m_registry_init(&reg, c, 4, idx, 16, 0), LWM2M_OK);
}

static void test_oscore_lookup(void **state)
{
    fixture_t *f = *state;
    lwm2m_client_t *a = provision(f, "dev-a", NULL);
    lwm2m_client_t *b = provision(f, "dev-b", NULL);
    lwm2m_client_t *ax = provision(f, "dev-a", "x"); /* same kid, told apart by its ID Context */
    lwm2m_client_t *ae = provision(f, "dev-a", "");  /* an empty ID Context is not none */
    assert_ptr_not_equal(a, ax);
    oscore_option_t o = option("dev-a", NULL);
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), a);
    o = option("dev-b", NULL);
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), b);
    o = option("dev-a", "x");
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), ax);
    o = option("dev-a", "");
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), ae);
    o = option("dev-a", "y");
    assert_null(lwm2m_registry_find_oscore(&f->reg, &o));
    o = option("dev-c", NULL);
    assert_null(lwm2m_registry_find_oscore(&f->reg, &o));
    o.has_kid = false;
    assert_null(lwm2m_registry_find_oscore(&f->reg, &o));
    /* the same context twice is refused; the endpoint defaults to the Sender ID */
    oscore_ctx_t ctx;
    lwm2m_client_t *dup;
    derive(f, &ctx, "dev-a", "x", true);
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &ctx, NULL, 0, &dup), LWM2M_ERR_EXISTS);
    assert_string_equal(a->endpoint, "dev-a");
    assert_int_equal(a->state, LWM2M_CLIENT_PROVISIONED);
    /* removing wipes and unindexes */
    lwm2m_registry_remove(&f->reg, ax);
    o = option("dev-a", "x");
    assert_null(lwm2m_registry_find_oscore(&f->reg, &o));
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &ctx, NULL, 0, &dup), LWM2M_OK);
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), dup);
    oscore_ctx_wipe(&ctx);
    lwm2m_registry_remove(&f->reg, a);
    lwm2m_registry_remove(&f->reg, b);
    lwm2m_registry_remove(&f->reg, dup);
    lwm2m_registry_remove(&f->reg, ae);
    assert_int_equal(f->reg.n_used, 0);
}

/* Appendix B.2 contexts are found by kid whatever kid context a request
 * names (B.2 then runs or the context matches), stay found after B.2 gave
 * them a new ID Context, and own their Recipient ID among contexts without
 * an ID Context. */
static void test_b2_lookup(void **state)
{
    fixture_t *f = *state;
    oscore_ctx_t ctx;
    lwm2m_client_t *c, *dup;
    derive(f, &ctx, "dev-b2", NULL, true);
    ctx.b2 = true;
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &ctx, NULL, 0, &c), LWM2M_OK);
    lwm2m_client_t *other = provision(f, "dev-b2", "x"); /* an exact ID Context wins */
    oscore_option_t o = option("dev-b2", NULL);
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), c);
    o = option("dev-b2", "R1R1R1R1");
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), c);
    assert_true(oscore_b2_applies(&c->oscore, &o));
    o = option("dev-b2", "x");
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), other);
    /* B.2 gave the record a new ID Context: same record, same key */
    memcpy(c->oscore.id_context, "R2R2R2R2R3R3R3R3", 16);
    c->oscore.id_context_len = 16;
    c->oscore.has_id_context = true;
    o = option("dev-b2", "R2R2R2R2R3R3R3R3");
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), c);
    assert_true(oscore_ctx_matches(&c->oscore, &o));
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &ctx, NULL, 0, &dup), LWM2M_ERR_EXISTS);
    oscore_ctx_t plain;
    derive(f, &plain, "dev-b2", NULL, true);
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &plain, NULL, 0, &dup), LWM2M_ERR_EXISTS);
    lwm2m_registry_remove(&f->reg, c);
    o = option("dev-b2", "R2R2R2R2R3R3R3R3");
    assert_null(lwm2m_registry_find_oscore(&f->reg, &o));
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &plain, NULL, 0, &dup), LWM2M_OK);
    lwm2m_registry_remove(&f->reg, dup);
    lwm2m_registry_remove(&f->reg, other);
    oscore_ctx_wipe(&ctx);
    oscore_ctx_wipe(&plain);
    assert_int_equal(f->reg.n_used, 0);
}

static void test_register_oscore(void **state)
{
    fixture_t *f = *state;
    lwm2m_client_t *a = provision(f, "dev-a", NULL), *b = provision(f, "dev-b", NULL), *r = NULL;
    const char *links = "</1/0>,</3/0>,</3303/0>";
    lwm2m_register_info_t i = info_for("dev-a", 300);
    assert_int_equal(lwm2m_registry_register(&f->reg, a, &i, (const uint8_t *)links, strlen(links), 7,
                                             1000, &r),
                     LWM2M_OK);
    assert_ptr_equal(r, a);
    assert_int_equal(a->state, LWM2M_CLIENT_REGISTERED);
    assert_int_equal(a->expires, 1000 + 300 * 1000);
    assert_int_equal(a->peer, 7);
    assert_string_equal(a->binding, "U");
    assert_string_equal(a->version, "1.2");
    assert_int_equal(a->links_len, strlen(links));
    assert_memory_equal(a->links, links, strlen(links));
    assert_ptr_equal(lwm2m_registry_find_endpoint(&f->reg, "dev-a", 5), a);
    assert_ptr_equal(lwm2m_registry_at(&f->reg, lwm2m_registry_location(&f->reg, a)), a);
    assert_null(lwm2m_registry_at(&f->reg, lwm2m_registry_location(&f->reg, b))); /* not registered */
    assert_null(lwm2m_registry_at(&f->reg, N));
    /* b may not register as a, nor may an unprotected client */
    assert_int_equal(lwm2m_registry_register(&f->reg, b, &i, NULL, 0, 8, 1000, &r),
                     LWM2M_ERR_ENDPOINT_MISMATCH);
    assert_int_equal(lwm2m_registry_register(&f->reg, NULL, &i, NULL, 0, 8, 1000, &r),
                     LWM2M_ERR_ENDPOINT_TAKEN);
    /* re-registration replaces in place */
    i.lifetime = 60;
    assert_int_equal(lwm2m_registry_register(&f->reg, a, &i, NULL, 0, 9, 2000, &r), LWM2M_OK);
    assert_int_equal(f->reg.n_registered, 1);
    assert_int_equal(a->links_len, 0);
    assert_int_equal(a->expires, 2000 + 60 * 1000);
    /* update: lifetime kept when 0, links replaced, timer restarts */
    assert_int_equal(lwm2m_registry_update(&f->reg, a, 0, (const uint8_t *)"</3/0>", 6, 10, 5000), LWM2M_OK);
    assert_int_equal(a->expires, 5000 + 60 * 1000);
    assert_int_equal(a->links_len, 6);
    assert_int_equal(a->peer, 10);
    assert_int_equal(lwm2m_registry_update(&f->reg, a, 120, NULL, 0, 10, 6000), LWM2M_OK);
    assert_int_equal(a->expires, 6000 + 120 * 1000);
    assert_int_equal(a->links_len, 6);
    static uint8_t big[LWM2M_REG_LINKS_MAX + 1];
    assert_int_equal(lwm2m_registry_update(&f->reg, a, 0, big, sizeof big, 10, 6000), LWM2M_ERR_TOO_LARGE);
    assert_int_equal(lwm2m_registry_register(&f->reg, a, &i, big, sizeof big, 10, 6000, &r),
                     LWM2M_ERR_TOO_LARGE);
    /* de-register keeps the context, frees the name */
    lwm2m_registry_deregister(&f->reg, a);
    assert_int_equal(a->state, LWM2M_CLIENT_PROVISIONED);
    assert_null(lwm2m_registry_find_endpoint(&f->reg, "dev-a", 5));
    oscore_option_t o = option("dev-a", NULL);
    assert_ptr_equal(lwm2m_registry_find_oscore(&f->reg, &o), a);
    assert_int_equal(lwm2m_registry_update(&f->reg, a, 0, NULL, 0, 10, 6000), LWM2M_ERR_BAD_ARG);
    lwm2m_registry_remove(&f->reg, a);
    lwm2m_registry_remove(&f->reg, b);
    assert_int_equal(f->reg.n_used, 0);
    assert_int_equal(f->reg.n_registered, 0);
}

static void test_register_unprotected(void **state)
{
    fixture_t *f = *state;
    lwm2m_client_t *r1 = NULL, *r2 = NULL;
    lwm2m_register_info_t i = info_for("plain", 30);
    assert_int_equal(lwm2m_registry_register(&f->reg, NULL, &i, NULL, 0, 1, 0, &r1), LWM2M_OK);
    assert_false(r1->has_oscore);
    assert_int_equal(lwm2m_registry_register(&f->reg, NULL, &i, NULL, 0, 2, 0, &r2), LWM2M_OK);
    assert_ptr_equal(r1, r2); /* same name: the same record */
    assert_int_equal(f->reg.n_used, 1);
    /* an OSCORE client whose name it is takes it over */
    lwm2m_client_t *p = provision(f, "plain", NULL), *r3 = NULL;
    assert_int_equal(lwm2m_registry_register(&f->reg, p, &i, NULL, 0, 3, 0, &r3), LWM2M_OK);
    assert_ptr_equal(r3, p);
    assert_int_equal(f->reg.n_used, 1);
    assert_int_equal(f->reg.n_registered, 1);
    lwm2m_registry_remove(&f->reg, p);
    /* de-registering an unprotected client frees its record */
    assert_int_equal(lwm2m_registry_register(&f->reg, NULL, &i, NULL, 0, 1, 0, &r1), LWM2M_OK);
    lwm2m_registry_deregister(&f->reg, r1);
    assert_int_equal(f->reg.n_used, 0);
    assert_int_equal(r1->state, LWM2M_CLIENT_FREE);
}

static void test_full_and_expiry(void **state)
{
    fixture_t *f = *state;
    char names[N + 1][8];
    lwm2m_client_t *r = NULL;
    for (int k = 0; k <= N; k++) {
        snprintf(names[k], sizeof names[k], "c%d", k);
        lwm2m_register_info_t i = info_for(names[k], (uint32_t)(k % 2 ? 10 : 100));
        assert_int_equal(lwm2m_registry_register(&f->reg, NULL, &i, NULL, 0, 0, 0, &r),
                         k < N ? LWM2M_OK : LWM2M_ERR_FULL);
    }
    oscore_ctx_t ctx;
    derive(f, &ctx, "late", NULL, true);
    assert_int_equal(lwm2m_registry_add_oscore(&f->reg, &ctx, NULL, 0, &r), LWM2M_ERR_FULL);
    oscore_ctx_wipe(&ctx);
    /* nothing due yet; the sweep looks at `budget` records per call */
    assert_null(lwm2m_registry_sweep(&f->reg, 9999, N));
    int expired = 0, calls = 0;
    while (calls++ < 2 * N) {
        lwm2m_client_t *e = lwm2m_registry_sweep(&f->reg, 10000, 4);
        if (e) {
            expired++;
            assert_int_equal(e->lifetime, 10);
        }
    }
    assert_int_equal(expired, N / 2);
    assert_int_equal(f->reg.n_registered, N / 2);
    assert_null(lwm2m_registry_find_endpoint(&f->reg, "c1", 2));
    assert_non_null(lwm2m_registry_find_endpoint(&f->reg, "c2", 2));
    while (lwm2m_registry_sweep(&f->reg, 100000, N))
        ;
    assert_int_equal(f->reg.n_used, 0);
}

/* Random Register / De-register of `names` names; after every step each
 * name is found exactly when a plain list says it is registered. */
static void churn(lwm2m_registry_t *reg, int n_names, unsigned seed)
{
    char names[64][8];
    bool in[64] = {false};
    lwm2m_client_t *rec[64] = {NULL};
    srand(seed);
    for (int k = 0; k < n_names; k++)
        snprintf(names[k], sizeof names[k], "n%d", k * 37);
    for (int step = 0; step < 20000; step++) {
        int k = rand() % n_names;
        if (in[k]) {
            lwm2m_registry_deregister(reg, rec[k]);
        } else {
            lwm2m_register_info_t i = info_for(names[k], 60);
            assert_int_equal(lwm2m_registry_register(reg, NULL, &i, NULL, 0, 0, 0, &rec[k]), LWM2M_OK);
        }
        in[k] = !in[k];
        for (int j = 0; j < n_names; j++) {
            lwm2m_client_t *c = lwm2m_registry_find_endpoint(reg, names[j], strlen(names[j]));
            if (in[j])
                assert_ptr_equal(c, rec[j]);
            else
                assert_null(c);
        }
    }
    for (int k = 0; k < n_names; k++)
        if (in[k])
            lwm2m_registry_deregister(reg, rec[k]);
    assert_int_equal(reg->n_used, 0);
}

static void test_churn(void **state)
{
    fixture_t *f = *state;
    churn(&f->reg, 48, 7);
    /* a full little table: 8 records, 16 buckets, long probe runs */
    lwm2m_registry_t small;
    lwm2m_client_t c[8];
    uint64_t idx[32];
    for (unsigned seed = 0; seed < 8; seed++) {
        assert_int_equal(lwm2m_registry_init(&small, c, 8, idx, 32, seed * 0x9e3779b97f4a7c15u), LWM2M_OK);
        churn(&small, 8, seed);
    }
}

/* A device protects its Register; the server finds the context by kid,
 * unprotects, parses and registers. */
static void test_register_over_oscore(void **state)
{
    fixture_t *f = *state;
    lwm2m_client_t *srv = provision(f, "urn:a", NULL);
    oscore_ctx_t dev;
    derive(f, &dev, "urn:a", NULL, false);
    coap_opt_t list[8];
    uint8_t arena[128], plain[256], wire[300], out[300];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 8, arena, sizeof arena);
    lwm2m_register_t rq = {.endpoint = "urn:a", .lifetime = 90, .binding = "U"};
    assert_int_equal(lwm2m_register_options(&rq, &l), LWM2M_OK);
    coap_builder_t b;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 1,
                      (const uint8_t *)"t", 1);
    assert_int_equal(coap_optlist_write(&l, &b), COAP_OK);
    coap_builder_set_payload(&b, (const uint8_t *)"</3/0>", 6);
    size_t n, wn, on;
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    oscore_binding_t cb, sb;
    assert_int_equal(coap_msg_parse(&m, plain, n), COAP_OK);
    assert_int_equal(oscore_protect_request(&dev, &m, wire, sizeof wire, &wn, &cb), OSCORE_OK);
    /* server side */
    coap_msg_t w, req;
    oscore_option_t o;
    assert_int_equal(coap_msg_parse(&w, wire, wn), COAP_OK);
    assert_int_equal(oscore_msg_option(&w, &o), OSCORE_OK);
    lwm2m_client_t *c = lwm2m_registry_find_oscore(&f->reg, &o), *r = NULL;
    assert_ptr_equal(c, srv);
    assert_int_equal(oscore_unprotect_request(&c->oscore, &w, out, sizeof out, &on, &sb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&req, out, on), COAP_OK);
    lwm2m_register_info_t info;
    assert_int_equal(lwm2m_register_parse(&req, &info), LWM2M_OK);
    assert_int_equal(lwm2m_registry_register(&f->reg, c, &info, req.payload, req.payload_len, 0, 0, &r),
                     LWM2M_OK);
    assert_int_equal(r->lifetime, 90);
    assert_memory_equal(r->links, "</3/0>", 6);
    /* a replay of the same message is refused by the stored context */
    assert_int_equal(oscore_unprotect_request(&c->oscore, &w, out, sizeof out, &on, &sb), OSCORE_ERR_REPLAY);
    oscore_ctx_wipe(&dev);
    lwm2m_registry_remove(&f->reg, srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_len),
        cmocka_unit_test(test_oscore_lookup),
        cmocka_unit_test(test_b2_lookup),
        cmocka_unit_test(test_register_oscore),
        cmocka_unit_test(test_register_unprotected),
        cmocka_unit_test(test_full_and_expiry),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_register_over_oscore),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
