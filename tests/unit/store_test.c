/* Context files (JSON and libcoap formats) and state files: parsing, the
 * error messages people see, and the SSN bound / replay window life cycle
 * across simulated crashes and clean restarts. */
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
#include "coreseal/store.h"
#include "testutil.h"

static const char *json_c11 =
    "{\n"
    "  \"master_secret\": \"0102030405060708090a0b0c0d0e0f10\",\n"
    "  \"master_salt\": \"9e7ca92223786340\",\n"
    "  \"sender_id\": \"\",\n"
    "  \"recipient_id\": \"01\",\n"
    "  \"aead_alg\": \"AES-CCM-16-64-128\",\n"
    "  \"hkdf_alg\": -10,\n"
    "  \"replay_window\": 64,\n"
    "  \"state_file\": \"client.state\"\n"
    "}\n";

static const char *libcoap_c11 =
    "# RFC 8613 C.1.1, as coap-client -E takes it\n"
    "master_secret,hex,\"0102030405060708090a0b0c0d0e0f10\"\n"
    "master_salt,hex,\"9e7ca92223786340\"\n"
    "sender_id,hex,\"\"\n"
    "recipient_id,hex,\"01\"\n"
    "replay_window,integer,30\n"
    "aead_alg,integer,10\n"
    "hkdf_alg,integer,-10\n"
    "ssn_freq,integer,5\n"
    "rfc8613_b_1_2,bool,true\n";

static void check_c11_keys(const cs_context_file_t *cf)
{
    cs_crypto_t c;
    oscore_params_t p;
    oscore_ctx_t ctx;
    assert_int_equal(cs_crypto_openssl_new(&c), CS_CRYPTO_OK);
    cs_context_file_params(cf, &p);
    assert_int_equal(oscore_ctx_derive(&ctx, &c, &p), OSCORE_OK);
    tu_assert_hex(ctx.sender_key, 16, "f0910ed7295e6ad4b54fc793154302ff");
    tu_assert_hex(ctx.common_iv, 13, "4622d4dd6d944168eefb54987c");
    cs_crypto_openssl_free(&c);
}

static void test_json_and_libcoap_formats(void **state)
{
    (void)state;
    cs_context_file_t cf;
    char err[256] = "";
    assert_int_equal(cs_context_file_parse(json_c11, strlen(json_c11), "/etc/coreseal", &cf, err,
                                           sizeof err), CS_STORE_OK);
    assert_int_equal(cf.replay_window, 64);
    assert_string_equal(cf.state_file, "/etc/coreseal/client.state");
    check_c11_keys(&cf);

    assert_int_equal(cs_context_file_parse(libcoap_c11, strlen(libcoap_c11), "", &cf, err,
                                           sizeof err), CS_STORE_OK);
    assert_int_equal(cf.replay_window, 30);
    assert_int_equal(cf.ssn_step, 5);
    assert_string_equal(cf.state_file, "");
    assert_false(cf.b2);
    check_c11_keys(&cf);

    char with_b2[1024];
    snprintf(with_b2, sizeof with_b2, "%srfc8613_b_2,bool,true\n", libcoap_c11);
    oscore_params_t p;
    assert_int_equal(cs_context_file_parse(with_b2, strlen(with_b2), "", &cf, err, sizeof err),
                     CS_STORE_OK);
    cs_context_file_params(&cf, &p);
    assert_true(cf.b2 && p.b2);

    const char *ascii = "master_secret,ascii,\"abcdefgh\"\nsender_id,ascii,\"client\"\n"
                        "recipient_id,ascii,\"server\"\nid_context,hex,\"37cbf3210017a2d3\"\n";
    assert_int_equal(cs_context_file_parse(ascii, strlen(ascii), "", &cf, err, sizeof err),
                     CS_STORE_OK);
    assert_int_equal(cf.sender_id_len, 6);
    assert_memory_equal(cf.sender_id, "client", 6);
    assert_true(cf.has_id_context);
    assert_true(cf.send_kid_context);
}

static void test_errors_name_the_problem(void **state)
{
    (void)state;
    struct {
        const char *text;
        cs_store_err_t err;
        const char *msg;
    } cases[] = {
        {"{\"sender_id\":\"\",\"recipient_id\":\"01\"}", CS_STORE_ERR_MISSING,
         "master_secret is required"},
        {"{\"master_secret\":\"0g\",\"sender_id\":\"\",\"recipient_id\":\"01\"}",
         CS_STORE_ERR_VALUE, "master_secret must be an even number of hex digits"},
        {"{\"master_secret\":\"01\",\"sender_id\":\"\",\"recipient_id\":\"01\",\"mastr_salt\":\"\"}",
         CS_STORE_ERR_VALUE, "unknown member \"mastr_salt\""},
        {"{\"master_secret\":\"01\",\"sender_id\":\"\",\"recipient_id\":\"01\",\"aead_alg\":\"AES\"}",
         CS_STORE_ERR_VALUE, "unknown AEAD algorithm \"AES\""},
        {"{\"master_secret\":\"01\",\"sender_id\":\"0102030405060708\",\"recipient_id\":\"01\"}",
         CS_STORE_ERR_VALUE, "at most 7 bytes"},
        {"{\"master_secret\":\"01\",\n\"sender_id\": }", CS_STORE_ERR_SYNTAX, "line 2"},
        {"{\"master_secret\":\"01\",\"sender_id\":\"\",\"recipient_id\":\"01\",\"replay_window\":300}",
         CS_STORE_ERR_VALUE, "replay_window must be a positive integer up to 256"},
        {"master_secret,hex,\"01\"\nsender_id,hex,\"\"\nrecipient_id,hex,\"01\"\nrecipient_id,hex,\"02\"\n",
         CS_STORE_ERR_VALUE, "line 4: more than one recipient_id"},
        {"master_secret,hex,\"01\"\nsender_id\n", CS_STORE_ERR_SYNTAX,
         "line 2: expected name,type,value"},
        {"master_secret,hex,\"01\"\nsender_id,hex,\"\"\nrecipient_id,hex,\"01\"\naead_alg,integer,x\n",
         CS_STORE_ERR_VALUE, "line 4: aead_alg is not an integer"},
        {"{\"master_secret\":\"01\",\"sender_id\":\"\",\"recipient_id\":\"01\",\"rfc8613_b_2\":1}",
         CS_STORE_ERR_VALUE, "rfc8613_b_2 must be true or false"},
        {"master_secret,hex,\"01\"\nsender_id,hex,\"\"\nrecipient_id,hex,\"01\"\nfoo,integer,1\n",
         CS_STORE_ERR_VALUE, "line 4: unknown or mistyped entry \"foo,integer\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cs_context_file_t cf;
        char err[256] = "";
        cs_store_err_t e = cs_context_file_parse(cases[i].text, strlen(cases[i].text), "", &cf,
                                                 err, sizeof err);
        if (e != cases[i].err || strstr(err, cases[i].msg) == NULL)
            fail_msg("case %zu: got %s \"%s\", want \"%s\"", i, coreseal_errname(e), err,
                     cases[i].msg);
    }
    cs_context_file_t cf;
    char err[256];
    assert_int_equal(cs_context_file_load("/nonexistent/ctx.json", &cf, err, sizeof err),
                     CS_STORE_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/ctx.json: No such file"));
}

typedef struct {
    char dir[64];
    char path[128];
} tmp_t;

static void tmp_make(tmp_t *t)
{
    strcpy(t->dir, "/tmp/coreseal-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/ctx.state", t->dir);
}

static void tmp_clean(tmp_t *t)
{
    unlink(t->path);
    rmdir(t->dir);
}

static void open_ctx(cs_crypto_t *c, const char *path, uint32_t step, cs_state_file_t *sf,
                     oscore_ctx_t *ctx)
{
    cs_context_file_t cf;
    char err[256];
    oscore_params_t p;
    assert_int_equal(cs_context_file_parse(json_c11, strlen(json_c11), "", &cf, err, sizeof err),
                     CS_STORE_OK);
    cs_context_file_params(&cf, &p);
    assert_int_equal(cs_state_open(sf, path, step, &p, err, sizeof err), CS_STORE_OK);
    assert_int_equal(oscore_ctx_derive(ctx, c, &p), OSCORE_OK);
    assert_int_equal(cs_state_attach(sf, ctx), CS_STORE_OK);
}

static void protect_n(oscore_ctx_t *ctx, int n)
{
    uint8_t plain[16] = {0x40, 0x01, 0, 1}, out[64];
    coap_msg_t m;
    size_t len;
    oscore_binding_t b;
    assert_int_equal(coap_msg_parse(&m, plain, 4), COAP_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(oscore_protect_request(ctx, &m, out, sizeof out, &len, &b), OSCORE_OK);
}

/* The Bootstrap-Server's account file: members, defaults, paths relative
 * to the file, and one specific error per kind of mistake. */
static void test_bootstrap_config(void **state)
{
    (void)state;
    static cs_bs_config_t cfg;
    char err[256];
    const char *ok = "{\"accounts\":[{\"endpoint\":\"dev1\",\"oscore\":\"bs-dev1.json\","
                     "\"server\":{\"uri\":\"coap://127.0.0.1:5683\",\"ssid\":101,\"lifetime\":60,"
                     "\"oscore\":\"/etc/srv-dev1.json\"}},"
                     "{\"endpoint\":\"dev3\",\"oscore\":\"bs-dev3.json\","
                     "\"server\":{\"uri\":\"coap://[::1]\",\"ssid\":103,\"binding\":\"UQ\"}},"
                     "{\"endpoint\":\"dev6\",\"server\":{\"uri\":\"coap://h\",\"ssid\":106}},"
                     "{\"endpoint\":\"dev7\",\"server\":{\"uri\":\"coaps://h:5684\",\"ssid\":107,"
                     "\"psk_identity\":\"dev7\",\"psk_key\":\"00112233\"},"
                     "\"access_control\":[{\"object\":3303,\"instance\":0,\"owner\":107,"
                     "\"acl\":{\"107\":3,\"0\":1}}]},"
                     "{\"endpoint\":\"dev8\",\"psk_key\":\"a0a1\",\"server\":{\"uri\":\"coaps://h:5684\",\"ssid\":108,"
                     "\"certificate\":\"dev8.pem\",\"private_key\":\"dev8.key\",\"server_certificate\":\"/etc/ca.pem\","
                     "\"certificate_usage\":2}}]}";
    assert_int_equal(cs_bs_config_parse(ok, strlen(ok), "/cfg", &cfg, err, sizeof err), CS_STORE_OK);
    assert_int_equal(cfg.n, 5);
    assert_string_equal(cfg.acc[4].servers[0].certificate, "/cfg/dev8.pem"); /* DTLS Certificate */
    assert_string_equal(cfg.acc[4].servers[0].private_key, "/cfg/dev8.key");
    assert_string_equal(cfg.acc[4].servers[0].server_certificate, "/etc/ca.pem");
    assert_int_equal(cfg.acc[4].servers[0].certificate_usage, 2);
    assert_int_equal(cfg.acc[4].bootstrap_psk_key_len, 2); /* DTLS with the Bootstrap-Server */
    assert_memory_equal(cfg.acc[4].bootstrap_psk_key, "\xa0\xa1", 2);
    assert_int_equal(cfg.acc[3].bootstrap_psk_key_len, 0);
    assert_int_equal(cfg.acc[3].servers[0].certificate_usage, 3);
    assert_string_equal(cfg.acc[3].servers[0].certificate, "");
    assert_string_equal(cfg.acc[2].oscore, ""); /* keyed by EDHOC */
    assert_int_equal(cfg.acc[2].servers[0].psk_key_len, 0);
    assert_string_equal(cfg.acc[3].servers[0].psk_identity, "dev7"); /* DTLS PSK */
    assert_int_equal(cfg.acc[3].servers[0].psk_key_len, 4);
    assert_memory_equal(cfg.acc[3].servers[0].psk_key, "\x00\x11\x22\x33", 4);
    assert_int_equal(cfg.acc[3].n_aco, 1); /* Access Control, object 2 */
    assert_int_equal(cfg.acc[3].aco[0].object, 3303);
    assert_int_equal(cfg.acc[3].aco[0].owner, 107);
    assert_int_equal(cfg.acc[3].aco[0].n_acl, 2);
    assert_int_equal(cfg.acc[3].aco[0].ssid[0] + cfg.acc[3].aco[0].ssid[1], 107);
    assert_int_equal(cfg.acc[3].aco[0].rights[0] + cfg.acc[3].aco[0].rights[1], 4);
    assert_int_equal(cfg.acc[0].n_aco, 0);
    assert_string_equal(cfg.acc[0].endpoint, "dev1");
    assert_string_equal(cfg.acc[0].oscore, "/cfg/bs-dev1.json");
    assert_string_equal(cfg.acc[0].servers[0].oscore, "/etc/srv-dev1.json");
    assert_int_equal(cfg.acc[0].servers[0].ssid, 101);
    assert_int_equal(cfg.acc[0].servers[0].lifetime, 60);
    assert_string_equal(cfg.acc[0].servers[0].binding, "U");
    assert_string_equal(cfg.acc[1].servers[0].oscore, ""); /* NoSec */
    assert_int_equal(cfg.acc[1].servers[0].lifetime, 86400);
    assert_string_equal(cfg.acc[1].servers[0].binding, "UQ");
    /* several server accounts */
    const char *two = "{\"accounts\":[{\"endpoint\":\"dev9\",\"oscore\":\"b.json\",\"servers\":["
                      "{\"uri\":\"coap://a\",\"ssid\":101,\"oscore\":\"a.json\"},"
                      "{\"uri\":\"coap+tcp://b\",\"ssid\":102,\"lifetime\":30}]}]}";
    assert_int_equal(cs_bs_config_parse(two, strlen(two), "/cfg", &cfg, err, sizeof err), CS_STORE_OK);
    assert_int_equal(cfg.acc[0].n_servers, 2);
    assert_string_equal(cfg.acc[0].servers[0].uri, "coap://a");
    assert_string_equal(cfg.acc[0].servers[0].oscore, "/cfg/a.json");
    assert_int_equal(cfg.acc[0].servers[1].ssid, 102);
    assert_int_equal(cfg.acc[0].servers[1].lifetime, 30);
    assert_string_equal(cfg.acc[0].servers[1].binding, "T");
    assert_string_equal(cfg.acc[0].servers[1].oscore, "");
    static const struct {
        const char *text;
        cs_store_err_t code;
        const char *says;
    } bad[] = {
        {"{\"accounts\": [{\"endpoint\":\"d\",\"servers\":[{\"uri\":\"coap://a\",\"ssid\":1},"
         "{\"uri\":\"coap://b\",\"ssid\":1}]}]}",
         CS_STORE_ERR_VALUE, "accounts[0]: servers[1].ssid 1 is taken by servers[0]"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"servers\":[{\"uri\":\"coap://a\",\"ssid\":1},"
         "{\"uri\":\"http://b\",\"ssid\":2}]}]}",
         CS_STORE_ERR_VALUE, "accounts[0]: servers[1].uri must be coap://"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"servers\":[]}]}", CS_STORE_ERR_VALUE,
         "servers an array of 1..4"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coap://a\",\"ssid\":1},"
         "\"servers\":[{\"uri\":\"coap://a\",\"ssid\":1}]}]}",
         CS_STORE_ERR_VALUE, "not both"},
        {"{\"accounts\": [", CS_STORE_ERR_SYNTAX, "line 1"},
        {"[]", CS_STORE_ERR_SYNTAX, "not a JSON object"},
        {"{\"accounts\": []}", CS_STORE_ERR_MISSING, "accounts must be a non-empty array"},
        {"{\"accounts\": [{\"oscore\":\"a\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1}}]}",
         CS_STORE_ERR_MISSING, "accounts[0]: endpoint is required"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"oscore\":\"a\",\"server\":{\"uri\":\"coap://h\"}}]}",
         CS_STORE_ERR_MISSING, "accounts[0]: server.ssid is required"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"oscore\":\"a\",\"server\":{\"uri\":\"coap://h\",\"ssid\":0}}]}",
         CS_STORE_ERR_VALUE, "server.ssid must be an integer 1..65534"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"oscore\":\"a\",\"server\":{\"uri\":\"http://h\",\"ssid\":1}}]}",
         CS_STORE_ERR_VALUE, "server.uri must be coap://"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coaps://h\",\"ssid\":1}}]}",
         CS_STORE_ERR_VALUE, "a coaps:// server.uri goes with psk_identity and psk_key"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1,"
         "\"psk_identity\":\"d\",\"psk_key\":\"00\"}}]}",
         CS_STORE_ERR_VALUE, "a coaps:// server.uri goes with"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coaps://h\",\"ssid\":1,"
         "\"psk_identity\":\"d\",\"psk_key\":\"0g\"}}]}",
         CS_STORE_ERR_VALUE, "server.psk_key must be 1..64 bytes in hex"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coaps://h\",\"ssid\":1,"
         "\"certificate\":\"c.pem\",\"server_certificate\":\"s.pem\"}}]}",
         CS_STORE_ERR_VALUE, "DTLS Certificate mode takes server.certificate, private_key and"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coaps://h\",\"ssid\":1,\"psk_identity\":\"d\","
         "\"psk_key\":\"00\",\"certificate\":\"c.pem\",\"private_key\":\"k\",\"server_certificate\":\"s.pem\"}}]}",
         CS_STORE_ERR_VALUE, "and no PSK"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coaps://h\",\"ssid\":1,"
         "\"certificate\":\"c.pem\",\"private_key\":\"k\",\"server_certificate\":\"s.pem\",\"certificate_usage\":4}}]}",
         CS_STORE_ERR_VALUE, "server.certificate_usage must be an integer 0..3"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"psk_key\":\"\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1}}]}",
         CS_STORE_ERR_VALUE, "accounts[0]: psk_key must be 1..64 bytes in hex"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"oscore\":\"a\"}]}", CS_STORE_ERR_MISSING,
         "accounts[0]: server must be an object"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1},"
         "\"access_control\":[{\"object\":21,\"instance\":0,\"owner\":1}]}]}",
         CS_STORE_ERR_VALUE, "access_control[0] needs object (1..65534, not 21)"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1},"
         "\"access_control\":[{\"object\":3,\"instance\":0,\"owner\":1,\"acl\":{\"x\":1}}]}]}",
         CS_STORE_ERR_VALUE, "access_control[0].acl: \"x\" must be an SSID"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1},"
         "\"access_control\":[{\"object\":3,\"instance\":0,\"owner\":1,\"acl\":{\"1\":32}}]}]}",
         CS_STORE_ERR_VALUE, "rights 0..31"},
        {"{\"accounts\": [{\"endpoint\":\"d\",\"oscore\":\"a\",\"server\":{\"uri\":\"coap://h\",\"ssid\":1}},"
         "{\"endpoint\":\"d\",\"oscore\":\"b\",\"server\":{\"uri\":\"coap://h\",\"ssid\":2}}]}",
         CS_STORE_ERR_VALUE, "accounts[1]: endpoint \"d\" appears twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(cs_bs_config_parse(bad[i].text, strlen(bad[i].text), NULL, &cfg, err, sizeof err),
                         bad[i].code);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
        assert_int_equal(cfg.n, 0);
    }
}

static void test_proxy_routes(void **state)
{
    (void)state;
    static cs_proxy_routes_t r;
    char err[256];
    const char *ok = "{\"routes\":[{\"host\":\"dev1.example\",\"target\":\"coap://10.0.0.7\"},"
                     "{\"path\":\"/sensors\",\"target\":\"coap+tcp://10.0.0.8:5683\"}],"
                     "\"default\":\"coaps://10.0.0.9\"}";
    assert_int_equal(cs_proxy_routes_parse(ok, strlen(ok), &r, err, sizeof err), CS_STORE_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.route[0].host, "dev1.example");
    assert_string_equal(r.route[0].path, "");
    assert_string_equal(r.route[1].path, "/sensors");
    assert_string_equal(r.route[1].target, "coap+tcp://10.0.0.8:5683");
    assert_string_equal(r.default_target, "coaps://10.0.0.9");
    static const struct {
        const char *text;
        cs_store_err_t code;
        const char *says;
    } bad[] = {
        {"[]", CS_STORE_ERR_SYNTAX, "not a JSON object"},
        {"{}", CS_STORE_ERR_MISSING, "give routes, a default, or both"},
        {"{\"routes\":[{\"host\":\"a\",\"path\":\"/b\",\"target\":\"coap://x\"}]}", CS_STORE_ERR_VALUE,
         "routes[0]: give host or path (not both)"},
        {"{\"routes\":[{\"path\":\"b\",\"target\":\"coap://x\"}]}", CS_STORE_ERR_VALUE, "path must start with /"},
        {"{\"routes\":[{\"host\":\"a\",\"target\":\"http://x\"}]}", CS_STORE_ERR_VALUE, "routes[0]: target must be"},
        {"{\"default\":\"udp://x\"}", CS_STORE_ERR_VALUE, "default must be a coap://"},
        {"{\"routes\":{}}", CS_STORE_ERR_VALUE, "routes must be an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(cs_proxy_routes_parse(bad[i].text, strlen(bad[i].text), &r, err, sizeof err), bad[i].code);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err, bad[i].says);
        assert_int_equal(r.n, 0);
    }
}

static void test_state_file_life_cycle(void **state)
{
    (void)state;
    cs_crypto_t c;
    assert_int_equal(cs_crypto_openssl_new(&c), CS_CRYPTO_OK);
    tmp_t t;
    tmp_make(&t);
    cs_state_file_t sf;
    oscore_ctx_t ctx;

    /* new context: no file yet, the window is known (empty) */
    open_ctx(&c, t.path, 4, &sf, &ctx);
    assert_true(sf.fresh);
    assert_false(ctx.replay.lost);
    protect_n(&ctx, 10); /* SSN 0..9: bounds 4, 8, 12 */
    assert_true(sf.ssn_bound == 12);
    ctx.replay.empty = false;
    ctx.replay.highest = 77;

    /* crash: reopen without close: start at the bound, window lost */
    open_ctx(&c, t.path, 4, &sf, &ctx);
    assert_false(sf.fresh);
    assert_true(ctx.ssn == 12);
    assert_true(ctx.replay.lost);
    protect_n(&ctx, 1);
    assert_true(sf.ssn_bound == 16);

    /* clean shutdown keeps the window */
    ctx.replay.lost = false;
    ctx.replay.empty = false;
    ctx.replay.highest = 99;
    ctx.replay.seen[0] = 5;
    assert_int_equal(cs_state_close(&sf, &ctx), CS_STORE_OK);
    open_ctx(&c, t.path, 4, &sf, &ctx);
    assert_false(ctx.replay.lost);
    assert_true(ctx.replay.highest == 99 && ctx.replay.seen[0] == 5);
    assert_true(ctx.ssn == 16);
    /* ...but only once: attach marked it stale on disk */
    open_ctx(&c, t.path, 4, &sf, &ctx);
    assert_true(ctx.replay.lost);

    /* a corrupt file is an error, not a fresh start */
    FILE *f = fopen(t.path, "w");
    fputs("{\"version\":1}", f);
    fclose(f);
    cs_context_file_t cf;
    oscore_params_t p;
    char err[256];
    assert_int_equal(cs_context_file_parse(json_c11, strlen(json_c11), "", &cf, err, sizeof err),
                     CS_STORE_OK);
    cs_context_file_params(&cf, &p);
    assert_int_equal(cs_state_open(&sf, t.path, 4, &p, err, sizeof err), CS_STORE_ERR_VALUE);
    assert_non_null(strstr(err, "ssn_bound"));

    assert_int_equal(cs_file_write_atomic("/nonexistent-dir/x", "a", 1), CS_STORE_ERR_IO);
    tmp_clean(&t);
    cs_crypto_openssl_free(&c);
}

/* A B.2 context's state file carries the negotiated ID Context with its
 * bound; reopening derives that context again. Other contexts keep the
 * context file's ID Context whatever the state file says. */
static void test_state_file_keeps_b2_id_context(void **state)
{
    (void)state;
    cs_crypto_t c;
    assert_int_equal(cs_crypto_openssl_new(&c), CS_CRYPTO_OK);
    tmp_t t;
    tmp_make(&t);
    cs_context_file_t cf;
    cs_state_file_t sf;
    oscore_params_t p;
    oscore_ctx_t ctx;
    char err[256];
    assert_int_equal(cs_context_file_parse(json_c11, strlen(json_c11), "", &cf, err, sizeof err),
                     CS_STORE_OK);
    cf.b2 = true;
    cs_context_file_params(&cf, &p);
    assert_int_equal(cs_state_open(&sf, t.path, 4, &p, err, sizeof err), CS_STORE_OK);
    assert_null(p.id_context);
    assert_int_equal(oscore_b2_start(&ctx, &c, &p), OSCORE_OK);
    protect_n(&ctx, 5); /* bounds 4, 8 for the new keys */
    assert_true(sf.ssn_bound == 8 && sf.has_id_context);
    uint8_t id[OSCORE_B2_NONCE_LEN];
    memcpy(id, ctx.id_context, sizeof id);

    cs_context_file_params(&cf, &p);
    assert_int_equal(cs_state_open(&sf, t.path, 4, &p, err, sizeof err), CS_STORE_OK);
    assert_int_equal(p.id_context_len, sizeof id);
    assert_memory_equal(p.id_context, id, sizeof id);
    assert_true(p.ssn_start == 8 && p.send_kid_context);
    oscore_ctx_t again;
    assert_int_equal(oscore_ctx_derive(&again, &c, &p), OSCORE_OK);
    assert_memory_equal(again.sender_key, ctx.sender_key, ctx.key_len);

    cf.b2 = false;
    cs_context_file_params(&cf, &p);
    assert_int_equal(cs_state_open(&sf, t.path, 4, &p, err, sizeof err), CS_STORE_OK);
    assert_null(p.id_context);

    FILE *f = fopen(t.path, "w");
    fputs("{\"version\":1,\"ssn_bound\":4,\"id_context\":\"0g\"}", f);
    fclose(f);
    assert_int_equal(cs_state_open(&sf, t.path, 4, &p, err, sizeof err), CS_STORE_ERR_VALUE);
    assert_non_null(strstr(err, "id_context"));
    tmp_clean(&t);
    cs_crypto_openssl_free(&c);
}

/* EDHOC key files with an X.509 certificate, by value and by hash: saved
 * and loaded back with their subject, the certificate recoverable; a CCS
 * key file is not one. */
static void test_edhoc_x509_key_files(void **state)
{
    (void)state;
    cs_crypto_t c;
    assert_int_equal(cs_crypto_openssl_new(&c), CS_CRYPTO_OK);
    static cs_edhoc_key_t k, back;
    uint8_t der[1024];
    size_t n, cert_len;
    char path[] = "/tmp/coreseal-edhoc-XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (int by_value = 0; by_value < 2; by_value++) {
        memset(&k, 0, sizeof k);
        k.crv = CS_CRV_ED25519;
        assert_int_equal(c.keygen(c.state, k.crv, k.priv, &k.priv_len, k.pub, &k.pub_len), CS_CRYPTO_OK);
        assert_int_equal(cs_openssl_make_certificate(k.crv, k.pub, k.pub_len, "dev9", 1, false, k.crv, k.priv,
                                                     k.priv_len, NULL, 0, der, sizeof der, &n),
                         CS_CRYPTO_OK);
        assert_int_equal(cs_edhoc_key_set_certificate(&k, &c, der, n, by_value, "dev9"), CS_STORE_OK);
        assert_int_equal(k.id_cred[1], 0x18);
        assert_int_equal(k.id_cred[2], by_value ? 33 : 34); /* x5chain or x5t */
        assert_int_equal(k.id_cred_len, by_value ? 3 + k.cred_len : 3 + 1 + 1 + 1 + 8);
        assert_int_equal(cs_edhoc_key_save(&k, path, false), CS_STORE_OK);
        assert_int_equal(cs_edhoc_key_load(path, &back, err, sizeof err), CS_STORE_OK);
        assert_string_equal(back.subject, "dev9");
        assert_int_equal(back.priv_len, 0);
        assert_int_equal(back.id_cred_len, k.id_cred_len);
        assert_memory_equal(back.id_cred, k.id_cred, k.id_cred_len);
        const uint8_t *cert = cs_edhoc_key_certificate(&back, &cert_len);
        assert_non_null(cert);
        assert_int_equal(cert_len, n);
        assert_memory_equal(cert, der, n);
    }
    uint8_t kid = 0x2b;
    assert_int_equal(cs_edhoc_key_generate(&c, CS_CRV_P256, &kid, 1, "dev8", &k), CS_STORE_OK);
    assert_null(cs_edhoc_key_certificate(&k, &cert_len));
    assert_int_equal(cs_edhoc_key_save(&k, path, true), CS_STORE_OK);
    assert_int_equal(cs_edhoc_key_load(path, &back, err, sizeof err), CS_STORE_OK);
    assert_null(cs_edhoc_key_certificate(&back, &cert_len));
    assert_string_equal(back.subject, "dev8"); /* from the CCS */
    unlink(path);
    cs_crypto_openssl_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_and_libcoap_formats),
        cmocka_unit_test(test_errors_name_the_problem),
        cmocka_unit_test(test_state_file_life_cycle),
        cmocka_unit_test(test_state_file_keeps_b2_id_context),
        cmocka_unit_test(test_bootstrap_config),
        cmocka_unit_test(test_proxy_routes),
        cmocka_unit_test(test_edhoc_x509_key_files),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
