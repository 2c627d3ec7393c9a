/* The LwM2M Bootstrap interface end to end in memory: a Bootstrap-Server's
 * payloads written into a client's memstore through lwm2m_bs_handle
 * (Discover, Delete sparing the bootstrap account, Write, Read limits,
 * Finish and its consistency check), the resulting server account and
 * OSCORE context, the request parser, and the memstore itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/lwm2m_bootstrap.h"
#include "coreseal/lwm2m_memstore.h"
#include "testutil.h"

static lwm2m_mem_record_t records[48];
static uint8_t blob[700];
static lwm2m_memstore_t mem;

/* The device supports 0, 1, 2, 3 and 21; all kept in the memstore. */
static lwm2m_err_t list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids, size_t cap,
                        size_t *n)
{
    if (obj != 0 && obj != 1 && obj != 2 && obj != 3 && obj != 21)
        return LWM2M_ERR_END;
    return lwm2m_memstore_list(arg, obj, inst, res, ids, cap, n);
}

static lwm2m_err_t no_execute(void *arg, const lwm2m_path_t *p, const uint8_t *a, size_t n)
{
    (void)arg, (void)p, (void)a, (void)n;
    return LWM2M_ERR_BAD_PATH;
}

static const lwm2m_store_t store = {&mem, list, lwm2m_memstore_read, lwm2m_memstore_write, no_execute,
                                    lwm2m_memstore_create, lwm2m_memstore_delete_instance, NULL};

static const uint8_t bs_secret[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t secret[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                   0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t salt[8] = {0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40};

static void put(const char *path, const lwm2m_value_t *v)
{
    lwm2m_path_t p;
    assert_int_equal(lwm2m_path_parse(&p, path, strlen(path)), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_create(&mem, p.ids[0], p.ids[1]), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p, v), LWM2M_OK);
}

static void put_bytes(const char *path, lwm2m_type_t t, const void *b, size_t n)
{
    lwm2m_value_t v = {.type = t, .v.bytes = {b, n}};
    put(path, &v);
}

/* Factory state: the bootstrap account /0/0 with its OSCORE context /21/0,
 * a stale server account /0/1 + /1/0, and /3/0. */
static int factory(void **state)
{
    (void)state;
    lwm2m_memstore_init(&mem, records, sizeof records / sizeof records[0], blob, sizeof blob);
    put_bytes("/0/0/0", LWM2M_TYPE_STRING, "coap://bs.example", 17);
    put("/0/0/1", &(lwm2m_value_t){.type = LWM2M_TYPE_BOOLEAN, .v.b = true});
    put("/0/0/17", &(lwm2m_value_t){.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, 0}});
    put_bytes("/21/0/0", LWM2M_TYPE_OPAQUE, bs_secret, sizeof bs_secret);
    put_bytes("/21/0/1", LWM2M_TYPE_OPAQUE, "dev1", 4);
    put_bytes("/21/0/2", LWM2M_TYPE_OPAQUE, "bs", 2);
    put_bytes("/0/1/0", LWM2M_TYPE_STRING, "coap://old", 10);
    put("/0/1/10", &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 7});
    put("/1/0/0", &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 7});
    put_bytes("/3/0/0", LWM2M_TYPE_STRING, "coreseal", 8);
    return 0;
}

static coap_msg_t request(uint8_t *msg, size_t cap, uint8_t code, const char *path, long accept, long cf,
                          const uint8_t *pl, size_t pl_len)
{
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, msg, cap, COAP_TRANSPORT_UDP, COAP_TYPE_CON, code, 1, NULL, 0);
    for (const char *p = path + 1; *p;) {
        size_t k = strcspn(p, "/");
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, p, k);
        p += k + (p[k] == '/');
    }
    if (cf >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, (uint32_t)cf);
    if (accept >= 0)
        coap_builder_add_option_uint(&b, COAP_OPT_ACCEPT, (uint32_t)accept);
    coap_builder_set_payload(&b, pl, pl_len);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    return m;
}

static lwm2m_dm_result_t bs(uint8_t code, const char *path, long accept, long cf, const uint8_t *pl,
                            size_t pl_len, uint8_t *out, size_t cap)
{
    uint8_t msg[512];
    coap_msg_t m = request(msg, sizeof msg, code, path, accept, cf, pl, pl_len);
    lwm2m_dm_result_t r;
    assert_int_equal(lwm2m_bs_handle(&store, &m, out, cap, &r), LWM2M_OK);
    return r;
}

static void assert_discover(const char *path, const char *expect)
{
    uint8_t out[512];
    lwm2m_dm_result_t r = bs(COAP_GET, path, LWM2M_CF_LINK, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(r.content_format, LWM2M_CF_LINK);
    assert_int_equal(r.payload_len, strlen(expect));
    assert_memory_equal(out, expect, r.payload_len);
}

/* The server side of the context the Bootstrap-Server provisions. */
static oscore_params_t server_view(void)
{
    oscore_params_t p = {0};
    p.master_secret = secret;
    p.master_secret_len = sizeof secret;
    p.master_salt = salt;
    p.master_salt_len = sizeof salt;
    p.sender_id = (const uint8_t *)"srv";
    p.sender_id_len = 3;
    p.recipient_id = (const uint8_t *)"dev1";
    p.recipient_id_len = 4;
    return p;
}

static void provision(uint16_t oscore_inst)
{
    uint8_t pl[256], out[64];
    size_t n;
    oscore_params_t srv = server_view(), cli = srv;
    cli.sender_id = srv.recipient_id, cli.sender_id_len = srv.recipient_id_len;
    cli.recipient_id = srv.sender_id, cli.recipient_id_len = srv.sender_id_len;
    lwm2m_account_t acc = {.uri = "coap://127.0.0.1:5683", .ssid = 101, .lifetime = 300};
    assert_int_equal(lwm2m_bs_oscore_payload(&cli, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/21/1", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(lwm2m_bs_security_payload(&acc, oscore_inst, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/0/1", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(lwm2m_bs_server_payload(&acc, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/1/0", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
}

static void test_bootstrap_flow(void **state)
{
    (void)state;
    uint8_t out[256];
    assert_discover("/", "</>;lwm2m=1.2,</0>;ver=1.2,</0/0>;uri=\"coap://bs.example\","
                         "</0/1>;ssid=7;uri=\"coap://old\",</1>;ver=1.2,</1/0>;ssid=7,</2>;ver=1.1,"
                         "</3>;ver=1.2,</3/0>,</21>;ver=2.0,</21/0>");
    /* the Bootstrap-Server never reads keys, and cannot delete its own account */
    assert_int_equal(bs(COAP_GET, "/0/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_UNAUTHORIZED);
    assert_int_equal(bs(COAP_GET, "/21", -1, -1, NULL, 0, out, sizeof out).code, COAP_UNAUTHORIZED);
    assert_int_equal(bs(COAP_DELETE, "/0/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_BAD_REQUEST);
    assert_int_equal(bs(COAP_DELETE, "/21/0", -1, -1, NULL, 0, out, sizeof out).code, COAP_BAD_REQUEST);
    /* Delete "/" leaves the bootstrap account, its /21 and the device */
    assert_int_equal(bs(COAP_DELETE, "/", -1, -1, NULL, 0, out, sizeof out).code, COAP_DELETED);
    assert_discover("/", "</>;lwm2m=1.2,</0>;ver=1.2,</0/0>;uri=\"coap://bs.example\",</1>;ver=1.2,</2>;ver=1.1,"
                         "</3>;ver=1.2,</3/0>,</21>;ver=2.0,</21/0>");
    /* nothing to finish yet */
    lwm2m_dm_result_t r = bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_NOT_ACCEPTABLE);
    assert_false(r.finished);

    provision(1);
    assert_discover("/0", "</0>;ver=1.2,</0/0>;uri=\"coap://bs.example\","
                          "</0/1>;ssid=101;uri=\"coap://127.0.0.1:5683\"");
    assert_discover("/21", "</21>;ver=2.0,</21/0>,</21/1>;ssid=101");
    r = bs(COAP_GET, "/1/0/1", -1, -1, NULL, 0, out, sizeof out); /* Bootstrap-Read of /1 */
    assert_int_equal(r.code, COAP_CONTENT);
    assert_memory_equal(out, "300", 3);
    r = bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_true(r.finished);

    /* what the client registers with */
    lwm2m_account_view_t acc;
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_OK);
    assert_int_equal(acc.ssid, 101);
    assert_int_equal(acc.lifetime, 300);
    assert_true(acc.has_oscore);
    assert_int_equal(acc.oscore_inst, 1);
    assert_int_equal(acc.uri_len, 21);
    assert_memory_equal(acc.uri, "coap://127.0.0.1:5683", 21);
    assert_int_equal(lwm2m_server_account(&store, 1, &acc), LWM2M_ERR_END);
    assert_int_equal(lwm2m_bootstrap_account(&store, &acc), LWM2M_OK);
    assert_int_equal(acc.oscore_inst, 0);

    /* the client's context from /21/1 pairs with the server's */
    cs_crypto_t crypto;
    assert_int_equal(cs_crypto_openssl_new(&crypto), CS_CRYPTO_OK);
    oscore_params_t cp, sp = server_view();
    oscore_ctx_t cctx, sctx;
    assert_int_equal(lwm2m_oscore_object_params(&store, 1, &cp), LWM2M_OK);
    assert_int_equal(cp.sender_id_len, 4);
    assert_memory_equal(cp.sender_id, "dev1", 4);
    assert_int_equal(cp.hkdf_alg, -10);
    assert_null(cp.id_context);
    assert_int_equal(oscore_ctx_derive(&cctx, &crypto, &cp), OSCORE_OK);
    assert_int_equal(oscore_ctx_derive(&sctx, &crypto, &sp), OSCORE_OK);
    assert_memory_equal(cctx.sender_key, sctx.recipient_key, sctx.key_len);
    assert_memory_equal(cctx.recipient_key, sctx.sender_key, sctx.key_len);
    assert_memory_equal(cctx.common_iv, sctx.common_iv, sctx.nonce_len);
    oscore_ctx_wipe(&cctx);
    oscore_ctx_wipe(&sctx);
    cs_crypto_openssl_free(&crypto);

    /* a management server still sees neither /0 nor /21 */
    uint8_t msg[64];
    coap_msg_t m = request(msg, sizeof msg, COAP_GET, "/21/1", -1, -1, NULL, 0);
    assert_int_equal(lwm2m_dm_handle(&store, &m, out, sizeof out, &r), LWM2M_OK);
    assert_int_equal(r.code, COAP_UNAUTHORIZED);
}

/* Bootstrap-Pack: the same account in one SenML CBOR response; a pack
 * that does not check out leaves the configuration as it was. */
/* Access Control instances: written by Bootstrap-Write of /2, read back by
 * Bootstrap-Read, and in force once there are two server accounts. */
static void test_access_control(void **state)
{
    (void)state;
    static const lwm2m_aco_t aco[] = {
        {.object = 3, .instance = 0, .owner = 102, .ssid = {101, 0}, .rights = {LWM2M_ACL_READ, 0}, .n_acl = 2},
        {.object = 1, .instance = 65535, .owner = 101, .n_acl = 0},
    };
    lwm2m_account_t acc = {.uri = "coap://h", .ssid = 101, .lifetime = 60, .aco = aco, .n_aco = 2};
    uint8_t pl[256], out[512];
    size_t n;
    assert_int_equal(lwm2m_bs_access_payload(&acc, pl, sizeof pl, &n), LWM2M_OK);
    lwm2m_dm_result_t r = bs(COAP_PUT, "/2", -1, LWM2M_CF_TLV, pl, n, out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    r = bs(COAP_GET, "/2", -1, -1, NULL, 0, out, sizeof out); /* Bootstrap-Read */
    assert_int_equal(r.code, COAP_CONTENT);
    assert_int_equal(r.content_format, LWM2M_CF_TLV);
    assert_int_equal(r.payload_len, n); /* what was written, as written */
    assert_memory_equal(out, pl, n);
    put_bytes("/1/0/7", LWM2M_TYPE_STRING, "U", 1); /* a second server account: rules apply */
    lwm2m_value_t v = {.type = LWM2M_TYPE_INTEGER, .v.i = 102};
    put("/1/1/0", &v);
    assert_int_equal(lwm2m_acl_rights(&store, 101, 3, 0), LWM2M_ACL_READ);
    assert_int_equal(lwm2m_acl_rights(&store, 102, 3, 0), LWM2M_ACL_ALL);
    assert_int_equal(lwm2m_acl_rights(&store, 103, 3, 0), 0); /* the default entry grants nothing */
    /* the same in a Bootstrap-Pack */
    assert_int_equal(lwm2m_bs_pack(&acc, NULL, (const uint16_t[]){1}, 1, pl, sizeof pl, &n), LWM2M_OK);
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    int acl_entries = 0;
    lwm2m_senml_dec_init(&d, pl, n);
    while (lwm2m_senml_next(&d, &e) == LWM2M_OK)
        acl_entries += e.path.len == 4 && e.path.ids[0] == 2 && e.path.ids[2] == 2;
    assert_int_equal(acl_entries, 2);
}

static void test_bootstrap_pack(void **state)
{
    (void)state;
    uint8_t pl[512], msg[600];
    size_t n, mn;
    oscore_params_t srv = server_view(), cli = srv;
    cli.sender_id = srv.recipient_id, cli.sender_id_len = srv.recipient_id_len;
    cli.recipient_id = srv.sender_id, cli.recipient_id_len = srv.sender_id_len;
    lwm2m_account_t acc = {.uri = "coap://127.0.0.1:5683", .ssid = 101, .lifetime = 300};
    assert_int_equal(lwm2m_bs_pack(&acc, (const oscore_params_t *const[]){&cli}, (const uint16_t[]){101}, 1, pl,
                                   sizeof pl, &n),
                     LWM2M_OK);
    coap_builder_t b;
    coap_msg_t m;
    lwm2m_dm_result_t r;
    /* the request, and the parser seeing it as a pack request */
    uint8_t arena[64];
    coap_opt_t list[4];
    coap_optlist_t l;
    lwm2m_bootstrap_info_t info;
    coap_optlist_init(&l, list, 4, arena, sizeof arena);
    assert_int_equal(lwm2m_bootstrap_pack_request_options("dev1", LWM2M_CF_SENML_CBOR, &l), LWM2M_OK);
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    assert_int_equal(coap_optlist_write(&l, &b), COAP_OK);
    assert_int_equal(coap_builder_finish(&b, &mn), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, msg, mn), COAP_OK);
    assert_int_equal(lwm2m_bootstrap_request_parse(&m, &info), LWM2M_OK);
    assert_true(info.pack);
    assert_memory_equal(info.endpoint, "dev1", 4);
    /* a broken pack (one record for an object the device lacks) changes nothing */
    lwm2m_senml_enc_t e;
    uint8_t badpl[64];
    size_t bn;
    lwm2m_senml_enc_init(&e, badpl, sizeof badpl);
    lwm2m_senml_put(&e, &(lwm2m_path_t){{3303, 0, 5700}, 3}, &(lwm2m_value_t){.type = LWM2M_TYPE_FLOAT, .v.f = 1});
    assert_int_equal(lwm2m_senml_enc_finish(&e, &bn), LWM2M_OK);
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, COAP_CONTENT, 1, NULL, 0);
    coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_SENML_CBOR);
    coap_builder_set_payload(&b, badpl, bn);
    assert_int_equal(coap_builder_finish(&b, &mn), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, msg, mn), COAP_OK);
    assert_int_equal(lwm2m_bs_apply_pack(&store, &m, &r), LWM2M_OK);
    assert_int_equal(r.code, COAP_NOT_FOUND);
    assert_false(r.finished);
    lwm2m_account_view_t v;
    assert_int_equal(lwm2m_server_account(&store, 0, &v), LWM2M_OK);
    assert_int_equal(v.ssid, 7); /* the factory's stale account is still there */
    /* the real pack: old account gone, new one complete, bootstrap account kept */
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, COAP_CONTENT, 1, NULL, 0);
    coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_SENML_CBOR);
    coap_builder_set_payload(&b, pl, n);
    assert_int_equal(coap_builder_finish(&b, &mn), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, msg, mn), COAP_OK);
    assert_int_equal(lwm2m_bs_apply_pack(&store, &m, &r), LWM2M_OK);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_true(r.finished);
    assert_int_equal(lwm2m_server_account(&store, 0, &v), LWM2M_OK);
    assert_true(v.ssid == 101 && v.lifetime == 300 && v.has_oscore && v.oscore_inst == 101);
    assert_int_equal(lwm2m_server_account(&store, 1, &v), LWM2M_ERR_END);
    assert_int_equal(lwm2m_bootstrap_account(&store, &v), LWM2M_OK);
    oscore_params_t got;
    assert_int_equal(lwm2m_oscore_object_params(&store, 101, &got), LWM2M_OK);
    assert_int_equal(got.sender_id_len, 4);
    assert_memory_equal(got.sender_id, "dev1", 4);
    assert_memory_equal(got.master_secret, secret, sizeof secret);
}

static void test_finish_checks(void **state)
{
    (void)state;
    uint8_t out[64], pl[128];
    size_t n;
    assert_int_equal(bs(COAP_DELETE, "/", -1, -1, NULL, 0, out, sizeof out).code, COAP_DELETED);
    /* an account linking to a /21 instance that does not exist */
    lwm2m_account_t acc = {.uri = "coap://s", .ssid = 5, .lifetime = 60};
    assert_int_equal(lwm2m_bs_security_payload(&acc, 9, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/0/3", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(lwm2m_bs_server_payload(&acc, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/1/3", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_ACCEPTABLE);
    /* the same account without OSCORE: complete */
    assert_int_equal(lwm2m_bs_security_payload(&acc, LWM2M_ID_NONE, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_DELETE, "/0/3", -1, -1, NULL, 0, out, sizeof out).code, COAP_DELETED);
    assert_int_equal(bs(COAP_PUT, "/0/3", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out).code, COAP_CHANGED);
    /* and without its /1 instance: incomplete */
    assert_int_equal(bs(COAP_DELETE, "/1", -1, -1, NULL, 0, out, sizeof out).code, COAP_DELETED);
    lwm2m_account_view_t v;
    assert_int_equal(lwm2m_server_account(&store, 0, &v), LWM2M_ERR_MALFORMED);
    assert_int_equal(bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_ACCEPTABLE);
}

static void test_write_rules(void **state)
{
    (void)state;
    uint8_t out[64];
    /* Bootstrap-Write ignores access rights: /1/0/0 (SSID) is read-only for servers */
    assert_int_equal(bs(COAP_PUT, "/1/0/0", -1, LWM2M_CF_TEXT, (const uint8_t *)"9", 1, out, sizeof out).code,
                     COAP_CHANGED);
    /* but an executable resource holds no value, and unknown objects are not there */
    assert_int_equal(bs(COAP_PUT, "/1/0/8", -1, LWM2M_CF_TEXT, (const uint8_t *)"1", 1, out, sizeof out).code,
                     COAP_BAD_REQUEST);
    assert_int_equal(bs(COAP_PUT, "/3303/0/5700", -1, LWM2M_CF_TEXT, (const uint8_t *)"1", 1, out, sizeof out).code,
                     COAP_NOT_FOUND);
    assert_int_equal(bs(COAP_PUT, "/1/0", -1, 50, (const uint8_t *)"{}", 2, out, sizeof out).code,
                     COAP_UNSUPPORTED_CONTENT_FORMAT);
    const uint8_t bad_tlv[] = {0xc8, 0x00, 0x05, 'a'}; /* claims 5 bytes, has 1 */
    assert_int_equal(bs(COAP_PUT, "/1/0", -1, LWM2M_CF_TLV, bad_tlv, sizeof bad_tlv, out, sizeof out).code,
                     COAP_BAD_REQUEST);
    /* a second instance of the single-instance Device object */
    assert_int_equal(bs(COAP_PUT, "/3/1/0", -1, LWM2M_CF_TEXT, (const uint8_t *)"x", 1, out, sizeof out).code,
                     COAP_BAD_REQUEST);
    /* OSCORE Object v1.x (LwM2M 1.1) wrote strings: SenML "vs" into the Opaque resources */
    uint8_t pl[128];
    lwm2m_senml_enc_t e;
    size_t n;
    lwm2m_senml_enc_init(&e, pl, sizeof pl);
    const char *vals[] = {"0123456789abcdef", "dev2", "srv"};
    for (uint16_t i = 0; i < 3; i++) {
        lwm2m_path_t p = {{21, 4, i}, 3};
        lwm2m_value_t v = {.type = LWM2M_TYPE_STRING, .v.bytes = {(const uint8_t *)vals[i], strlen(vals[i])}};
        lwm2m_senml_put(&e, &p, &v);
    }
    lwm2m_path_t p4 = {{21, 4, 4}, 3};
    lwm2m_senml_put(&e, &p4, &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 5});
    assert_int_equal(lwm2m_senml_enc_finish(&e, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/21", -1, LWM2M_CF_SENML_CBOR, pl, n, out, sizeof out).code, COAP_CHANGED);
    oscore_params_t op;
    assert_int_equal(lwm2m_oscore_object_params(&store, 4, &op), LWM2M_OK);
    assert_int_equal(op.master_secret_len, 16);
    assert_memory_equal(op.recipient_id, "srv", 3);
    assert_int_equal(op.hkdf_alg, -10); /* 5, as RFC 8152 Table 7 numbers it */
    assert_int_equal(lwm2m_oscore_object_params(&store, 5, &op), LWM2M_ERR_END);
    /* nothing but POST /bs finishes */
    assert_int_equal(bs(COAP_POST, "/bs/x", -1, -1, NULL, 0, out, sizeof out).code, COAP_BAD_REQUEST);
    assert_int_equal(bs(COAP_PUT, "/", -1, LWM2M_CF_TLV, NULL, 0, out, sizeof out).code, COAP_METHOD_NOT_ALLOWED);
}

static void test_request_both_ways(void **state)
{
    (void)state;
    uint8_t msg[128], arena[64];
    coap_opt_t list[8];
    coap_optlist_t l;
    coap_builder_t b;
    size_t n;
    coap_optlist_init(&l, list, 8, arena, sizeof arena);
    assert_int_equal(lwm2m_bootstrap_request_options("dev1", LWM2M_CF_SENML_CBOR, &l), LWM2M_OK);
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 1, NULL, 0);
    assert_int_equal(coap_optlist_write(&l, &b), COAP_OK);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    /* Uri-Path "bs", Uri-Query "ep=dev1", "pct=112" */
    tu_assert_hex(msg, n, "40020001b2627347" "65703d64657631" "07" "7063743d313132");
    coap_msg_t m;
    lwm2m_bootstrap_info_t info;
    assert_int_equal(coap_msg_parse(&m, msg, n), COAP_OK);
    assert_int_equal(lwm2m_bootstrap_request_parse(&m, &info), LWM2M_OK);
    assert_int_equal(info.endpoint_len, 4);
    assert_memory_equal(info.endpoint, "dev1", 4);
    assert_int_equal(info.pct, 112);
    m = request(msg, sizeof msg, COAP_POST, "/bs", -1, -1, NULL, 0); /* no ep */
    assert_int_equal(lwm2m_bootstrap_request_parse(&m, &info), LWM2M_ERR_MALFORMED);
    m = request(msg, sizeof msg, COAP_POST, "/rd", -1, -1, NULL, 0);
    assert_int_equal(lwm2m_bootstrap_request_parse(&m, &info), LWM2M_ERR_MALFORMED);
}

static void test_memstore(void **state)
{
    (void)state;
    uint8_t saved[1024];
    size_t n, count;
    uint16_t ids[8];
    lwm2m_value_t v;
    lwm2m_path_t p = {{21, 0, 0}, 3};
    assert_int_equal(lwm2m_memstore_save(&mem, saved, sizeof saved, &n), LWM2M_OK);
    /* a value too long for the blob area, a write to no instance, a full table */
    uint8_t big[sizeof blob + 1] = {0};
    v = (lwm2m_value_t){.type = LWM2M_TYPE_OPAQUE, .v.bytes = {big, sizeof big}};
    assert_int_equal(lwm2m_memstore_write(&mem, &p, &v), LWM2M_ERR_NO_SPACE);
    lwm2m_path_t nowhere = {{21, 9, 0}, 3};
    assert_int_equal(lwm2m_memstore_write(&mem, &nowhere, &v), LWM2M_ERR_END);
    lwm2m_err_t e = LWM2M_OK;
    for (uint16_t i = 100; e == LWM2M_OK && i < 200; i++)
        e = lwm2m_memstore_create(&mem, 1, i);
    assert_int_equal(e, LWM2M_ERR_FULL);
    /* delete takes the instance and its values */
    assert_int_equal(lwm2m_memstore_delete_instance(&mem, 21, 0), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_read(&mem, &p, &v), LWM2M_ERR_END);
    assert_int_equal(lwm2m_memstore_delete_instance(&mem, 21, 0), LWM2M_ERR_END);
    /* reload: everything as saved, types kept */
    assert_int_equal(lwm2m_memstore_load(&mem, saved, n), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_read(&mem, &p, &v), LWM2M_OK);
    assert_int_equal(v.type, LWM2M_TYPE_OPAQUE);
    assert_int_equal(v.v.bytes.n, sizeof bs_secret);
    assert_memory_equal(v.v.bytes.p, bs_secret, sizeof bs_secret);
    lwm2m_path_t link = {{0, 0, 17}, 3};
    assert_int_equal(lwm2m_memstore_read(&mem, &link, &v), LWM2M_OK);
    assert_int_equal(v.type, LWM2M_TYPE_OBJLNK);
    assert_int_equal(v.v.lnk.obj, 21);
    assert_int_equal(lwm2m_memstore_list(&mem, 0, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, 8, &count), LWM2M_OK);
    assert_int_equal(count, 2);
    /* a damaged file loads nothing */
    saved[n / 2] ^= 0xff;
    e = lwm2m_memstore_load(&mem, saved, n - 3);
    assert_int_not_equal(e, LWM2M_OK);
    assert_int_equal(lwm2m_memstore_list(&mem, 0, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, 8, &count), LWM2M_OK);
    assert_int_equal(count, 0);
}

static void expect_bytes(const char *path, const uint8_t *want, size_t n)
{
    lwm2m_path_t p;
    lwm2m_value_t v;
    assert_int_equal(lwm2m_path_parse(&p, path, strlen(path)), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_read(&mem, &p, &v), LWM2M_OK);
    assert_int_equal(v.v.bytes.n, n);
    assert_memory_equal(v.v.bytes.p, want, n);
}

/* Values longer than a record (certificates) in the blob area: rewritten,
 * deleted and copied from the area itself, the others stay intact and the
 * area stays packed; a value that does not fit changes nothing. */
static void test_memstore_long_values(void **state)
{
    (void)state;
    uint8_t a[300], b[200], c[150], a2[250];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (uint8_t)i, b[i % sizeof b] = (uint8_t)(i * 7), c[i % sizeof c] = (uint8_t)(i * 13),
        a2[i % sizeof a2] = (uint8_t)(i * 3 + 1);
    put_bytes("/0/1/3", LWM2M_TYPE_OPAQUE, a, sizeof a);
    put_bytes("/0/1/4", LWM2M_TYPE_OPAQUE, b, sizeof b);
    put_bytes("/21/0/0", LWM2M_TYPE_OPAQUE, c, sizeof c); /* was a short value */
    assert_int_equal(mem.blob_used, sizeof a + sizeof b + sizeof c);
    expect_bytes("/0/1/3", a, sizeof a);
    /* the first one shorter: the others move down, intact */
    put_bytes("/0/1/3", LWM2M_TYPE_OPAQUE, a2, sizeof a2);
    assert_int_equal(mem.blob_used, sizeof a2 + sizeof b + sizeof c);
    expect_bytes("/0/1/3", a2, sizeof a2);
    expect_bytes("/0/1/4", b, sizeof b);
    expect_bytes("/21/0/0", c, sizeof c);
    /* full: 700 - 600 = 100 free, a 101-byte value does not fit; nothing changed */
    lwm2m_path_t p4 = {{0, 1, 4}, 3};
    lwm2m_value_t v = {.type = LWM2M_TYPE_OPAQUE, .v.bytes = {a, 301}};
    assert_int_equal(lwm2m_memstore_write(&mem, &p4, &v), LWM2M_ERR_NO_SPACE);
    expect_bytes("/0/1/4", b, sizeof b);
    /* but replacing b's 200 bytes with 300 does (its own bytes are given back) */
    v.v.bytes.n = 300;
    assert_int_equal(lwm2m_memstore_write(&mem, &p4, &v), LWM2M_OK);
    expect_bytes("/0/1/4", a, 300);
    put_bytes("/0/1/4", LWM2M_TYPE_OPAQUE, b, sizeof b);
    /* a value copied from the area: to another resource, and onto itself */
    lwm2m_path_t p3 = {{0, 1, 3}, 3}, p5 = {{0, 1, 5}, 3};
    lwm2m_value_t read;
    assert_int_equal(lwm2m_memstore_read(&mem, &p3, &read), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p5, &read), LWM2M_ERR_NO_SPACE); /* 100 free */
    assert_int_equal(lwm2m_memstore_read(&mem, &(lwm2m_path_t){{21, 0, 0}, 3}, &read), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p5, &read), LWM2M_ERR_NO_SPACE);
    assert_int_equal(lwm2m_memstore_read(&mem, &p4, &read), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p4, &read), LWM2M_ERR_NO_SPACE); /* needs room first */
    put_bytes("/21/0/0", LWM2M_TYPE_OPAQUE, "short", 5);                           /* 250 free */
    assert_int_equal(mem.blob_used, sizeof a2 + sizeof b);
    assert_int_equal(lwm2m_memstore_read(&mem, &p4, &read), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p4, &read), LWM2M_OK);
    expect_bytes("/0/1/4", b, sizeof b);
    assert_int_equal(lwm2m_memstore_read(&mem, &p4, &read), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_write(&mem, &p5, &read), LWM2M_OK);
    expect_bytes("/0/1/5", b, sizeof b);
    expect_bytes("/0/1/3", a2, sizeof a2);
    expect_bytes("/21/0/0", (const uint8_t *)"short", 5);
    assert_int_equal(mem.blob_used, sizeof a2 + 2 * sizeof b);
    /* saved and loaded: the same values */
    uint8_t saved[2048];
    size_t n;
    assert_int_equal(lwm2m_memstore_save(&mem, saved, sizeof saved, &n), LWM2M_OK);
    assert_int_equal(lwm2m_memstore_load(&mem, saved, n), LWM2M_OK);
    expect_bytes("/0/1/3", a2, sizeof a2);
    expect_bytes("/0/1/4", b, sizeof b);
    expect_bytes("/0/1/5", b, sizeof b);
    assert_int_equal(mem.blob_used, sizeof a2 + 2 * sizeof b);
    /* deleting the instance gives every byte back, and wipes it */
    assert_int_equal(lwm2m_memstore_delete_instance(&mem, 0, 1), LWM2M_OK);
    assert_int_equal(mem.blob_used, 0);
    for (size_t i = 0; i < sizeof blob; i++)
        assert_int_equal(blob[i], 0);
    /* a store without a blob area refuses anything longer than a record */
    static lwm2m_mem_record_t few[4];
    lwm2m_memstore_t plain;
    lwm2m_memstore_init(&plain, few, 4, NULL, 0);
    assert_int_equal(lwm2m_memstore_create(&plain, 0, 0), LWM2M_OK);
    v.v.bytes.n = LWM2M_MEM_VALUE_MAX + 1;
    assert_int_equal(lwm2m_memstore_write(&plain, &(lwm2m_path_t){{0, 0, 3}, 3}, &v), LWM2M_ERR_NO_SPACE);
    v.v.bytes.n = LWM2M_MEM_VALUE_MAX;
    assert_int_equal(lwm2m_memstore_write(&plain, &(lwm2m_path_t){{0, 0, 3}, 3}, &v), LWM2M_OK);
}

/* Random writes, rewrites, copies from the area and instance deletes
 * against a plain model: every value reads back as last written and the
 * area holds exactly the long ones, packed. */
static void test_memstore_random(void **state)
{
    (void)state;
    static lwm2m_mem_record_t few[16];
    static uint8_t area[1500];
    static uint8_t model[2][4][400];
    size_t len[2][4] = {{0}};
    bool has[2][4] = {{false}};
    lwm2m_memstore_t m;
    lwm2m_memstore_init(&m, few, 16, area, sizeof area);
    uint32_t x = 12345;
    for (int step = 0; step < 20000; step++) {
        x = x * 1103515245u + 12345u;
        uint16_t inst = (uint16_t)(x >> 8 & 1), res = (uint16_t)(x >> 9 & 3);
        lwm2m_path_t p = {{0, inst, res}, 3};
        if ((x >> 12 & 15) == 0) { /* delete the instance */
            (void)lwm2m_memstore_delete_instance(&m, 0, inst);
            memset(has[inst], 0, sizeof has[inst]);
            continue;
        }
        assert_int_equal(lwm2m_memstore_create(&m, 0, inst), LWM2M_OK);
        uint8_t fresh[400];
        lwm2m_value_t v = {.type = LWM2M_TYPE_OPAQUE};
        uint16_t from_inst = (uint16_t)(x >> 16 & 1), from_res = (uint16_t)(x >> 17 & 3);
        if ((x >> 19 & 3) == 0 && has[from_inst][from_res]) { /* a copy of a stored value */
            lwm2m_path_t from = {{0, from_inst, from_res}, 3};
            assert_int_equal(lwm2m_memstore_read(&m, &from, &v), LWM2M_OK);
            memcpy(fresh, model[from_inst][from_res], len[from_inst][from_res]);
        } else {
            size_t n = (x >> 21) % 400;
            for (size_t i = 0; i < n; i++)
                fresh[i] = (uint8_t)(x + i * 31);
            v.v.bytes.p = fresh, v.v.bytes.n = n;
        }
        size_t n = v.v.bytes.n;
        lwm2m_err_t e = lwm2m_memstore_write(&m, &p, &v);
        assert_true(e == LWM2M_OK || e == LWM2M_ERR_NO_SPACE);
        if (e == LWM2M_OK) {
            memcpy(model[inst][res], fresh, n);
            len[inst][res] = n;
            has[inst][res] = true;
        }
        size_t used = 0;
        for (uint16_t i = 0; i < 2; i++)
            for (uint16_t r = 0; r < 4; r++) {
                if (!has[i][r])
                    continue;
                lwm2m_value_t got;
                assert_int_equal(lwm2m_memstore_read(&m, &(lwm2m_path_t){{0, i, r}, 3}, &got), LWM2M_OK);
                assert_int_equal(got.v.bytes.n, len[i][r]);
                if (len[i][r])
                    assert_memory_equal(got.v.bytes.p, model[i][r], len[i][r]);
                used += len[i][r] > LWM2M_MEM_VALUE_MAX ? len[i][r] : 0;
            }
        assert_int_equal(m.blob_used, used);
    }
}

/* A Certificate mode account: the instance without its certificates and
 * key (Security Mode 2, Certificate Usage), which then come one by one as
 * opaque values longer than a record; Bootstrap-Finish refuses the account
 * until they are all there. The pack carries them all. */
static void test_certificate_account(void **state)
{
    (void)state;
    uint8_t cert[300], server_cert[250], key[120], pl[1024], out[64];
    for (size_t i = 0; i < sizeof cert; i++)
        cert[i] = (uint8_t)i, server_cert[i % sizeof server_cert] = (uint8_t)(i ^ 0x5a), key[i % sizeof key] = (uint8_t)(~i);
    lwm2m_account_t acc = {.uri = "coaps://127.0.0.1:5684", .ssid = 101, .lifetime = 300,
                           .cert = cert, .cert_len = sizeof cert, .server_cert = server_cert,
                           .server_cert_len = sizeof server_cert, .private_key = key,
                           .private_key_len = sizeof key, .cert_usage = 2};
    size_t n;
    assert_int_equal(bs(COAP_DELETE, "/", -1, -1, NULL, 0, out, sizeof out).code, COAP_DELETED);
    assert_int_equal(lwm2m_bs_security_payload(&acc, LWM2M_ID_NONE, pl, sizeof pl, &n), LWM2M_OK);
    assert_true(n < 64); /* URI, modes, usage, SSID: no certificate */
    assert_int_equal(bs(COAP_PUT, "/0/1", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(lwm2m_bs_server_payload(&acc, pl, sizeof pl, &n), LWM2M_OK);
    assert_int_equal(bs(COAP_PUT, "/1/0", -1, LWM2M_CF_TLV, pl, n, out, sizeof out).code, COAP_CHANGED);
    assert_int_equal(bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_ACCEPTABLE);
    assert_int_equal(bs(COAP_PUT, "/0/1/3", -1, LWM2M_CF_OPAQUE, cert, sizeof cert, out, sizeof out).code,
                     COAP_CHANGED);
    assert_int_equal(bs(COAP_PUT, "/0/1/4", -1, LWM2M_CF_OPAQUE, server_cert, sizeof server_cert, out, sizeof out).code,
                     COAP_CHANGED);
    assert_int_equal(bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out).code, COAP_NOT_ACCEPTABLE); /* no key */
    assert_int_equal(bs(COAP_PUT, "/0/1/5", -1, LWM2M_CF_OPAQUE, key, sizeof key, out, sizeof out).code, COAP_CHANGED);
    lwm2m_dm_result_t r = bs(COAP_POST, "/bs", -1, -1, NULL, 0, out, sizeof out);
    assert_int_equal(r.code, COAP_CHANGED);
    lwm2m_account_view_t v;
    assert_int_equal(lwm2m_server_account(&store, 0, &v), LWM2M_OK);
    assert_int_equal(v.security_mode, LWM2M_SEC_CERT);
    assert_int_equal(v.cert_usage, 2);
    assert_int_equal(v.identity_len, sizeof cert);
    assert_memory_equal(v.identity, cert, sizeof cert);
    assert_int_equal(v.server_public_key_len, sizeof server_cert);
    assert_memory_equal(v.server_public_key, server_cert, sizeof server_cert);
    assert_int_equal(v.secret_key_len, sizeof key);
    assert_memory_equal(v.secret_key, key, sizeof key);
    /* the same account as a pack, applied to a fresh device */
    assert_int_equal(lwm2m_bs_pack(&acc, NULL, (const uint16_t[]){101}, 1, pl, sizeof pl, &n), LWM2M_OK);
    assert_true(n > sizeof cert + sizeof server_cert + sizeof key);
    uint8_t msg[1100];
    size_t mn;
    coap_builder_t b;
    coap_msg_t m;
    coap_builder_init(&b, msg, sizeof msg, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, COAP_CONTENT, 1, NULL, 0);
    coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_SENML_CBOR);
    coap_builder_set_payload(&b, pl, n);
    assert_int_equal(coap_builder_finish(&b, &mn), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, msg, mn), COAP_OK);
    assert_int_equal(factory(NULL), 0);
    assert_int_equal(lwm2m_bs_apply_pack(&store, &m, &r), LWM2M_OK);
    assert_int_equal(r.code, COAP_CHANGED);
    assert_int_equal(lwm2m_server_account(&store, 0, &v), LWM2M_OK);
    assert_int_equal(v.security_mode, LWM2M_SEC_CERT);
    assert_int_equal(v.cert_usage, 2);
    assert_memory_equal(v.identity, cert, sizeof cert);
    assert_memory_equal(v.server_public_key, server_cert, sizeof server_cert);
    assert_memory_equal(v.secret_key, key, sizeof key);
}

/* A DTLS PSK account: mode 0 with identity and key; mode 0 without them is
 * malformed; an account without resource 2 is NoSec. A Certificate mode
 * account (2) needs the server's certificate (/0/x/4) as well. */
static void test_account_psk(void **state)
{
    (void)state;
    lwm2m_account_view_t acc;
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_OK); /* the factory's /0/1 */
    assert_int_equal(acc.security_mode, LWM2M_SEC_NOSEC);
    assert_null(acc.identity);
    put("/0/1/2", &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = LWM2M_SEC_PSK});
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_ERR_MALFORMED);
    put_bytes("/0/1/3", LWM2M_TYPE_OPAQUE, "dev1", 4);
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_ERR_MALFORMED); /* still no key */
    put_bytes("/0/1/5", LWM2M_TYPE_OPAQUE, secret, sizeof secret);
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_OK);
    assert_int_equal(acc.security_mode, LWM2M_SEC_PSK);
    assert_int_equal(acc.identity_len, 4);
    assert_memory_equal(acc.identity, "dev1", 4);
    assert_int_equal(acc.secret_key_len, sizeof secret);
    assert_memory_equal(acc.secret_key, secret, sizeof secret);
    assert_int_equal(acc.ssid, 7);
    put("/0/1/2", &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = LWM2M_SEC_CERT});
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_ERR_MALFORMED); /* no server certificate */
    put_bytes("/0/1/4", LWM2M_TYPE_OPAQUE, "\x30\x82", 2);
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_OK);
    assert_int_equal(acc.security_mode, LWM2M_SEC_CERT);
    assert_int_equal(acc.server_public_key_len, 2);
    assert_int_equal(acc.cert_usage, 3); /* domain-issued certificate when absent */
    put("/0/1/15", &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 2});
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_OK);
    assert_int_equal(acc.cert_usage, 2);
    put("/0/1/15", &(lwm2m_value_t){.type = LWM2M_TYPE_INTEGER, .v.i = 4});
    assert_int_equal(lwm2m_server_account(&store, 0, &acc), LWM2M_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bootstrap_flow, factory),
        cmocka_unit_test_setup(test_account_psk, factory),
        cmocka_unit_test_setup(test_bootstrap_pack, factory),
        cmocka_unit_test_setup(test_access_control, factory),
        cmocka_unit_test_setup(test_finish_checks, factory),
        cmocka_unit_test_setup(test_write_rules, factory),
        cmocka_unit_test_setup(test_request_both_ways, factory),
        cmocka_unit_test_setup(test_memstore, factory),
        cmocka_unit_test_setup(test_memstore_long_values, factory),
        cmocka_unit_test_setup(test_certificate_account, factory),
        cmocka_unit_test(test_memstore_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
