/* A LwM2M server's SQLite file across "restarts" (close and reopen):
 * provisioned contexts, SSN bounds that stay ahead of every SSN sent,
 * registrations with their address and expiry, windows valid only after a
 * clean shutdown, and re-provisioning with the same or new keys. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/lwm2m_db.h"

#include <sqlite3.h>
#include "testutil.h"

static char path[64];
static cs_crypto_t crypto;

static const uint8_t secret[16] = "0123456789abcdef";

static oscore_params_t params(const uint8_t *ms)
{
    oscore_params_t p = {0};
    p.master_secret = ms;
    p.master_secret_len = 16;
    p.sender_id = (const uint8_t *)"\x00";
    p.sender_id_len = 1;
    p.recipient_id = (const uint8_t *)"dev1";
    p.recipient_id_len = 4;
    return p;
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/coreseal-db-test-%d.db", (int)getpid());
    unlink(path);
    return cs_crypto_openssl_new(&crypto) == CS_CRYPTO_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char aux[80];
    unlink(path);
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
    cs_crypto_openssl_free(&crypto);
    return 0;
}

static cs_lwm2m_db_t *open_db(void)
{
    cs_lwm2m_db_t *db;
    char err[256];
    assert_int_equal(cs_lwm2m_db_open(&db, path, err, sizeof err), CS_STORE_OK);
    return db;
}

/* What a load saw: the last row, copied out of SQLite's buffers. */
typedef struct {
    int rows;
    cs_lwm2m_db_row_t row;
    oscore_ctx_t ctx; /* derived from the row */
    uint8_t links[64], addr[32];
    char binding[8];
} seen_t;

static int collect(void *arg, const cs_lwm2m_db_row_t *r)
{
    seen_t *s = arg;
    s->rows++;
    s->row = *r;
    if (r->has_oscore)
        assert_int_equal(oscore_ctx_derive(&s->ctx, &crypto, &r->params), OSCORE_OK);
    if (r->registered) {
        memcpy(s->links, r->links, r->links_len);
        memcpy(s->addr, r->addr, r->addr_len);
        snprintf(s->binding, sizeof s->binding, "%.*s", (int)r->info.binding_len, r->info.binding);
    }
    return 0;
}

static seen_t load(cs_lwm2m_db_t *db)
{
    seen_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(cs_lwm2m_db_load(db, collect, &s), CS_STORE_OK);
    return s;
}

/* Sends n requests on ctx; the last SSN used. */
static uint64_t send_requests(oscore_ctx_t *ctx, int n)
{
    uint8_t plain[16], out[64];
    size_t len;
    coap_builder_t b;
    coap_msg_t m;
    oscore_binding_t bind;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    assert_int_equal(coap_builder_finish(&b, &len), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, plain, len), COAP_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(oscore_protect_request(ctx, &m, out, sizeof out, &len, &bind), OSCORE_OK);
    return ctx->ssn - 1;
}

static void test_security_and_ssn_bounds(void **state)
{
    (void)state;
    cs_lwm2m_db_t *db = open_db();
    oscore_params_t p = params(secret);
    assert_int_equal(cs_lwm2m_db_put_security(db, &p, NULL), CS_STORE_OK);
    seen_t s = load(db);
    assert_int_equal(s.rows, 1);
    assert_true(s.row.has_oscore);
    assert_false(s.row.used);
    assert_false(s.row.registered);
    assert_false(s.row.window_valid);
    assert_null(s.row.endpoint); /* named by its Sender ID */
    assert_int_equal(s.row.params.ssn_start, 0);
    assert_int_equal(s.row.params.ssn_covered, 32); /* reserved by the load, in one write */
    /* the context sends 70 requests: bounds go to the file first (K = 32) */
    uint64_t last = send_requests(&s.ctx, 70);
    cs_lwm2m_db_close(db);
    db = open_db(); /* a crash: no clean shutdown */
    s = load(db);
    assert_true(s.row.params.ssn_start > last);
    assert_true(s.row.params.replay_window_lost == s.row.used);
    last = send_requests(&s.ctx, 5);
    assert_true(last >= 70);
    /* the same keys again keep the bound; new keys start afresh */
    assert_int_equal(cs_lwm2m_db_put_security(db, &p, "dev1"), CS_STORE_OK);
    s = load(db);
    assert_true(s.row.params.ssn_start > last);
    assert_int_equal(s.row.endpoint_len, 4);
    uint8_t other[16];
    memcpy(other, secret, 16);
    other[0] ^= 1;
    oscore_params_t q = params(other);
    assert_int_equal(cs_lwm2m_db_put_security(db, &q, NULL), CS_STORE_OK);
    s = load(db);
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.row.params.ssn_start, 0);
    /* a context the file does not know cannot send */
    oscore_ctx_t stranger;
    oscore_params_t r = params(secret);
    r.recipient_id = (const uint8_t *)"dev9";
    r.persist = (oscore_persist_t){.save_ssn = cs_lwm2m_db_save_ssn, .arg = db, .step = 32};
    assert_int_equal(oscore_ctx_derive(&stranger, &crypto, &r), OSCORE_OK);
    assert_int_equal(cs_lwm2m_db_save_ssn(db, &stranger, 32), OSCORE_ERR_STORAGE);
    cs_lwm2m_db_close(db);
}

/* Appendix B.2: the row is found by Recipient ID whatever ID Context B.2
 * negotiated; the bound is stored with that ID Context, and a reload
 * derives the context B.2 left, from the provisioned parameters that
 * cs_lwm2m_db_provisioned gives back. A file from before B.2 is migrated. */
static void test_b2_contexts(void **state)
{
    (void)state;
    unlink(path);
    sqlite3 *old;
    assert_int_equal(sqlite3_open(path, &old), SQLITE_OK);
    assert_int_equal(sqlite3_exec(old, "CREATE TABLE clients (key BLOB PRIMARY KEY, endpoint BLOB,"
                                       " has_oscore INTEGER NOT NULL, master_secret BLOB, master_salt BLOB,"
                                       " sender_id BLOB, recipient_id BLOB, id_context BLOB, aead INTEGER,"
                                       " hkdf INTEGER, replay_size INTEGER, send_kid_context INTEGER,"
                                       " ssn_bound INTEGER NOT NULL DEFAULT 0, window BLOB,"
                                       " used INTEGER NOT NULL DEFAULT 0, registered INTEGER NOT NULL DEFAULT 0,"
                                       " lifetime INTEGER, binding TEXT, version TEXT, queue INTEGER, links BLOB,"
                                       " addr BLOB, expires INTEGER)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(old);

    cs_lwm2m_db_t *db = open_db();
    oscore_params_t p = params(secret);
    p.b2 = true;
    assert_int_equal(cs_lwm2m_db_put_security(db, &p, NULL), CS_STORE_OK);
    seen_t s = load(db);
    assert_true(s.row.params.b2 && s.row.params.id_context == NULL);

    /* the device runs B.2 with this server context */
    oscore_params_t dev = p;
    dev.sender_id = p.recipient_id;
    dev.sender_id_len = p.recipient_id_len;
    dev.recipient_id = p.sender_id;
    dev.recipient_id_len = p.sender_id_len;
    oscore_ctx_t client;
    cs_context_file_t base_file;
    oscore_params_t base;
    assert_int_equal(cs_lwm2m_db_provisioned(db, &s.ctx, &base_file), CS_STORE_OK);
    cs_context_file_params(&base_file, &base);
    base.persist = s.ctx.persist;
    assert_true(base.b2 && base.master_secret_len == 16 && base.recipient_id_len == 4);
    assert_int_equal(oscore_b2_start(&client, &crypto, &dev), OSCORE_OK);
    uint8_t a[256], b[256], c[256];
    size_t an, bn, cn;
    coap_msg_t m, req, resp;
    oscore_binding_t cb, sb;
    coap_builder_t bld;
    coap_builder_init(&bld, a, sizeof a, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    assert_int_equal(coap_builder_finish(&bld, &an), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, a, an), COAP_OK);
    assert_int_equal(oscore_protect_request(&client, &m, b, sizeof b, &bn, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&req, b, bn), COAP_OK);
    uint8_t u[4] = {0x60, 0x81, 0, 1};
    coap_msg_t unauth;
    assert_int_equal(coap_msg_parse(&unauth, u, 4), COAP_OK);
    assert_int_equal(oscore_b2_answer_request1(&s.ctx, &base, &req, &unauth, c, sizeof c, &cn), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&resp, c, cn), COAP_OK);
    assert_int_equal(oscore_b2_accept_response1(&client, &dev, &cb, &resp, a, sizeof a, &an), OSCORE_OK);
    assert_int_equal(oscore_protect_request(&client, &m, b, sizeof b, &bn, &cb), OSCORE_OK);
    assert_int_equal(coap_msg_parse(&req, b, bn), COAP_OK);
    assert_int_equal(oscore_b2_accept_request2(&s.ctx, &base, &req, c, sizeof c, &cn, &sb), OSCORE_OK);
    uint64_t last = send_requests(&s.ctx, 3); /* the server's own SSNs, new keys */
    uint8_t idc[OSCORE_MAX_ID_CONTEXT_LEN];
    size_t idc_len = s.ctx.id_context_len;
    memcpy(idc, s.ctx.id_context, idc_len);
    cs_lwm2m_db_close(db);

    db = open_db(); /* crash */
    s = load(db);
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.ctx.id_context_len, idc_len); /* derived while the row was there */
    assert_memory_equal(s.ctx.id_context, idc, idc_len);
    assert_true(s.row.params.ssn_start > last);
    assert_memory_equal(s.ctx.recipient_key, client.sender_key, client.key_len);
    /* re-provisioning the same parameters keeps what B.2 negotiated */
    assert_int_equal(cs_lwm2m_db_put_security(db, &p, NULL), CS_STORE_OK);
    s = load(db);
    assert_memory_equal(s.ctx.id_context, idc, idc_len);
    cs_lwm2m_db_close(db);
    unlink(path);
}

static void test_registrations_and_windows(void **state)
{
    (void)state;
    cs_lwm2m_db_t *db = open_db();
    oscore_params_t p = params(secret);
    assert_int_equal(cs_lwm2m_db_put_security(db, &p, NULL), CS_STORE_OK);
    seen_t s = load(db);

    /* register in a registry, save, "restart" */
    static lwm2m_client_t clients[4];
    uint64_t index[16];
    lwm2m_registry_t reg;
    lwm2m_client_t *c, *r;
    assert_int_equal(lwm2m_registry_init(&reg, clients, 4, index, lwm2m_registry_index_len(4), 7), LWM2M_OK);
    assert_int_equal(lwm2m_registry_add_oscore(&reg, &s.ctx, NULL, 0, &c), LWM2M_OK);
    lwm2m_register_info_t info = {.endpoint = "dev1", .endpoint_len = 4, .lifetime = 300, .binding = "UQ",
                                  .binding_len = 2, .version = "1.2", .version_len = 3};
    const char links[] = "</3/0>,</3303/0>";
    assert_int_equal(lwm2m_registry_register(&reg, c, &info, (const uint8_t *)links, strlen(links), 0, 1000, &r),
                     LWM2M_OK);
    const uint8_t addr[] = {2, 0, 0x16, 0x33, 127, 0, 0, 1};
    assert_int_equal(cs_lwm2m_db_save_registration(db, r, addr, sizeof addr, 1700000000000), CS_STORE_OK);
    /* a request arrived: the window moved; a clean shutdown keeps it */
    r->oscore.replay.empty = false;
    r->oscore.replay.highest = 41;
    r->oscore.replay.seen[0] = 0x5;
    assert_int_equal(cs_lwm2m_db_save_window(db, &r->oscore), CS_STORE_OK);
    cs_lwm2m_db_close(db);

    db = open_db();
    s = load(db);
    assert_true(s.row.used);
    assert_true(s.row.registered);
    assert_int_equal(s.row.info.lifetime, 300);
    assert_int_equal(s.row.info.endpoint_len, 4);
    assert_string_equal(s.binding, "UQ");
    assert_int_equal(s.row.links_len, strlen(links));
    assert_memory_equal(s.links, links, strlen(links));
    assert_int_equal(s.row.addr_len, sizeof addr);
    assert_memory_equal(s.addr, addr, sizeof addr);
    assert_true(s.row.expires_ms == 1700000000000);
    assert_true(s.row.window_valid);
    assert_false(s.row.params.replay_window_lost);
    assert_true(s.row.window.highest == 41 && s.row.window.seen[0] == 0x5 && !s.row.window.empty);
    /* that load made the window stale: after a crash now, Echo */
    s = load(db);
    assert_false(s.row.window_valid);
    assert_true(s.row.params.replay_window_lost);

    /* De-register keeps the security row; an unprotected client's row goes */
    assert_int_equal(cs_lwm2m_db_end_registration(db, r), CS_STORE_OK);
    lwm2m_client_t plain;
    memset(&plain, 0, sizeof plain);
    memcpy(plain.endpoint, "plain01", 8);
    plain.endpoint_len = 7;
    strcpy(plain.binding, "U");
    assert_int_equal(cs_lwm2m_db_save_registration(db, &plain, addr, sizeof addr, 5), CS_STORE_OK);
    s = load(db);
    assert_int_equal(s.rows, 2);
    assert_int_equal(cs_lwm2m_db_end_registration(db, &plain), CS_STORE_OK);
    s = load(db);
    assert_int_equal(s.rows, 1);
    assert_true(s.row.has_oscore);
    assert_false(s.row.registered);
    cs_lwm2m_db_close(db);

    /* not a database */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not SQLite, and long enough to be read as a header of one", f);
    fclose(f);
    char aux[80];
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    char err[256] = "";
    assert_int_equal(cs_lwm2m_db_open(&db, path, err, sizeof err), CS_STORE_ERR_IO);
    assert_non_null(strstr(err, path));
}

typedef struct {
    int n;
    char seen[4][64];
} obs_t;

static int collect_obs(void *arg, const char *ep, const char *target, long accept)
{
    obs_t *o = arg;
    if (o->n < 4)
        snprintf(o->seen[o->n], sizeof o->seen[0], "%s %s %ld", ep, target, accept);
    o->n++;
    return 0;
}

/* Observations: kept across a reopen, one row per (endpoint, target),
 * ended one at a time or all of an endpoint's at once. */
static void test_observations(void **state)
{
    (void)state;
    cs_lwm2m_db_t *db = open_db();
    assert_int_equal(cs_lwm2m_db_save_observation(db, "dev1", "/3303/0/5700", -1), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_db_save_observation(db, "dev1", "/3/0?pmin=5", 112), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_db_save_observation(db, "dev1", "/3303/0/5700", -1), CS_STORE_OK); /* again */
    assert_int_equal(cs_lwm2m_db_save_observation(db, "dev2", "/3303/0/5700", 60), CS_STORE_OK);
    cs_lwm2m_db_close(db);
    db = open_db();
    obs_t o = {0};
    assert_int_equal(cs_lwm2m_db_load_observations(db, collect_obs, &o), CS_STORE_OK);
    assert_int_equal(o.n, 3);
    assert_string_equal(o.seen[0], "dev1 /3/0?pmin=5 112");
    assert_string_equal(o.seen[1], "dev1 /3303/0/5700 -1");
    assert_string_equal(o.seen[2], "dev2 /3303/0/5700 60");
    assert_int_equal(cs_lwm2m_db_end_observation(db, "dev1", "/3/0?pmin=5"), CS_STORE_OK);
    assert_int_equal(cs_lwm2m_db_end_observation(db, "dev2", NULL), CS_STORE_OK);
    o = (obs_t){0};
    assert_int_equal(cs_lwm2m_db_load_observations(db, collect_obs, &o), CS_STORE_OK);
    assert_int_equal(o.n, 1);
    assert_string_equal(o.seen[0], "dev1 /3303/0/5700 -1");
    assert_int_equal(cs_lwm2m_db_save_observation(db, NULL, "/x", -1), CS_STORE_ERR_BAD_ARG);
    cs_lwm2m_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_security_and_ssn_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registrations_and_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_b2_contexts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_observations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
