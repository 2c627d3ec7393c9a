/* CoAP codec: the RFC 8613 Appendix C messages byte for byte, extended
 * option delta/length boundaries, TCP and WebSocket framing (RFC 8323),
 * and every malformed form with its own error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/coap.h"
#include "testutil.h"

static void expect_err(const char *hex, coap_err_t want)
{
    uint8_t in[64];
    size_t n = tu_hex(hex, in, sizeof in);
    coap_msg_t m;
    coap_err_t err = coap_msg_parse(&m, in, n);
    if (err != want)
        fail_msg("%s: got %s, want %s", hex, coreseal_errname(err), coreseal_errname(want));
}

static void test_rfc8613_messages_parse_and_rebuild(void **state)
{
    (void)state;
    json_t *v = tu_load_vectors("oscore-rfc8613.json");
    json_t *mp = json_object_get(v, "message_protection");
    const char *key;
    json_t *c;
    int seen = 0;
    json_object_foreach(mp, key, c) {
        const char *fields[] = {"unprotected_coap_message", "protected_coap_message"};
        for (int f = 0; f < 2; f++) {
            uint8_t in[256], out[256];
            size_t n = tu_json_hex(c, fields[f], in, sizeof in), on;
            coap_msg_t m;
            assert_int_equal(coap_msg_parse(&m, in, n), COAP_OK);
            coap_builder_t b;
            coap_builder_init(&b, out, sizeof out, COAP_TRANSPORT_UDP, m.type, m.code, m.mid,
                              m.token, m.token_len);
            coap_opt_iter_t it;
            coap_opt_t o;
            coap_opt_iter_init(&it, &m);
            while (coap_opt_next(&it, &o))
                coap_builder_add_option(&b, o.num, o.val, o.len);
            coap_builder_set_payload(&b, m.payload, m.payload_len);
            assert_int_equal(coap_builder_finish(&b, &on), COAP_OK);
            assert_int_equal(on, n);
            assert_memory_equal(out, in, n);
            seen++;
        }
    }
    assert_int_equal(seen, 10);

    /* C.4 in detail: CON GET, token 00003974, Uri-Host, Uri-Path */
    json_t *c4 = json_object_get(mp, "C.4");
    uint8_t in[64];
    size_t n = tu_json_hex(c4, "unprotected_coap_message", in, sizeof in);
    coap_msg_t m;
    coap_opt_t o;
    assert_int_equal(coap_msg_parse(&m, in, n), COAP_OK);
    assert_int_equal(m.type, COAP_TYPE_CON);
    assert_int_equal(m.code, COAP_GET);
    assert_int_equal(m.mid, 0x5d1f);
    assert_int_equal(m.token_len, 4);
    assert_memory_equal(m.token, "\x00\x00\x39\x74", 4);
    assert_true(coap_msg_find_option(&m, COAP_OPT_URI_HOST, &o));
    assert_int_equal(o.len, 9);
    assert_memory_equal(o.val, "localhost", 9);
    assert_true(coap_msg_find_option(&m, COAP_OPT_URI_PATH, &o));
    assert_memory_equal(o.val, "tv1", 3);
    assert_false(coap_msg_find_option(&m, COAP_OPT_OSCORE, &o));
    assert_int_equal(m.payload_len, 0);
    json_decref(v);
}

static void test_extended_delta_and_length_boundaries(void **state)
{
    (void)state;
    static const uint16_t nums[] = {1, 12, 13, 14, 268, 269, 270, 1000, 65535};
    static const size_t lens[] = {0, 12, 13, 268, 269, 600};
    uint8_t val[600], buf[4096];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)i;
    for (size_t ni = 0; ni < sizeof nums / sizeof nums[0]; ni++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            coap_builder_t b;
            size_t n;
            coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_NON, COAP_POST,
                              7, NULL, 0);
            coap_builder_add_option(&b, nums[ni], val, lens[li]);
            coap_builder_add_option(&b, nums[ni], val, 1); /* delta 0 */
            coap_builder_set_payload(&b, (const uint8_t *)"p", 1);
            assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
            /* header bytes: 1 + ext(delta) + ext(len) */
            size_t dext = nums[ni] < 13 ? 0 : nums[ni] < 269 ? 1 : 2;
            size_t lext = lens[li] < 13 ? 0 : lens[li] < 269 ? 1 : 2;
            assert_int_equal(n, 4 + 1 + dext + lext + lens[li] + 2 + 2);
            coap_msg_t m;
            coap_opt_iter_t it;
            coap_opt_t o;
            assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
            coap_opt_iter_init(&it, &m);
            assert_true(coap_opt_next(&it, &o));
            assert_int_equal(o.num, nums[ni]);
            assert_int_equal(o.len, lens[li]);
            assert_memory_equal(o.val, val, lens[li]);
            assert_true(coap_opt_next(&it, &o));
            assert_int_equal(o.num, nums[ni]);
            assert_int_equal(o.len, 1);
            assert_false(coap_opt_next(&it, &o));
            assert_int_equal(m.payload_len, 1);
            assert_int_equal(m.payload[0], 'p');
        }
    }
}

static void test_malformed_messages(void **state)
{
    (void)state;
    expect_err("", COAP_ERR_TRUNCATED);
    expect_err("400100", COAP_ERR_TRUNCATED);
    expect_err("80010000", COAP_ERR_VERSION);
    expect_err("00010000", COAP_ERR_VERSION);
    expect_err("49010000", COAP_ERR_TOKEN_LEN);
    expect_err("4f010000", COAP_ERR_TOKEN_LEN);
    expect_err("44010000aabbcc", COAP_ERR_TRUNCATED);          /* token cut short */
    expect_err("40010000f1", COAP_ERR_OPTION_RESERVED);        /* delta 15 */
    expect_err("400100001f", COAP_ERR_OPTION_RESERVED);        /* length 15 */
    expect_err("4001000013aa", COAP_ERR_OPTION_TRUNCATED);     /* 3-byte value, 1 present */
    expect_err("40010000d0", COAP_ERR_OPTION_TRUNCATED);       /* delta ext byte missing */
    expect_err("40010000e001", COAP_ERR_OPTION_TRUNCATED);     /* 2-byte ext half there */
    expect_err("400100000d", COAP_ERR_OPTION_TRUNCATED);       /* length ext byte missing */
    expect_err("40010000ff", COAP_ERR_EMPTY_PAYLOAD);
    expect_err("40010000b0ff", COAP_ERR_EMPTY_PAYLOAD);
    expect_err("40010000e0fef4e0fef4", COAP_ERR_OPTION_NUMBER); /* 65535+ more */
    expect_err("41000000aa", COAP_ERR_EMPTY_MESSAGE);
    expect_err("60000000ff00", COAP_ERR_EMPTY_MESSAGE);
    expect_err("6000000011", COAP_ERR_EMPTY_MESSAGE);
    /* valid edge cases */
    expect_err("60000000", COAP_OK);
    expect_err("4801000001020304050607 08", COAP_OK);
    expect_err("40010000e0fef200", COAP_OK); /* option 65535, empty */
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(NULL, (const uint8_t *)"", 0), COAP_ERR_BAD_ARG);
    assert_int_equal(coap_msg_parse(&m, NULL, 4), COAP_ERR_BAD_ARG);
}

static void test_critical_options(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n;
    coap_builder_t b;
    coap_msg_t m;
    uint16_t bad = 0;

    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "a", 1);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "b", 1);
    coap_builder_add_option(&b, 1000, "x", 1);  /* unknown, elective */
    coap_builder_add_option(&b, 65001, "x", 1); /* unknown, critical */
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    assert_int_equal(coap_msg_check_critical(&m, NULL, 0, &bad), COAP_ERR_UNKNOWN_CRITICAL);
    assert_int_equal(bad, 65001);
    const uint16_t mine[] = {65001};
    assert_int_equal(coap_msg_check_critical(&m, mine, 1, &bad), COAP_OK);

    /* If-None-Match must be empty; Uri-Host must not repeat */
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_PUT, 1, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_IF_NONE_MATCH, "x", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    assert_int_equal(coap_msg_check_critical(&m, NULL, 0, &bad), COAP_ERR_UNKNOWN_CRITICAL);
    assert_int_equal(bad, COAP_OPT_IF_NONE_MATCH);
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_URI_HOST, "h", 1);
    coap_builder_add_option(&b, COAP_OPT_URI_HOST, "h", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    assert_int_equal(coap_msg_check_critical(&m, NULL, 0, &bad), COAP_ERR_UNKNOWN_CRITICAL);
    assert_int_equal(bad, COAP_OPT_URI_HOST);

    assert_true(coap_opt_is_critical(COAP_OPT_OSCORE));
    assert_false(coap_opt_is_unsafe(COAP_OPT_OSCORE)); /* safe to forward */
    assert_true(coap_opt_is_unsafe(COAP_OPT_URI_HOST));
    assert_true(coap_opt_is_no_cache_key(COAP_OPT_SIZE1));
    assert_false(coap_opt_is_no_cache_key(COAP_OPT_URI_PATH));
    assert_string_equal(coap_opt_info(COAP_OPT_ECHO)->name, "Echo");
}

static void test_uint_options(void **state)
{
    (void)state;
    static const uint32_t vals[] = {0, 1, 255, 256, 65535, 65536, 0xffffff, 0x1000000, UINT32_MAX};
    static const size_t lens[] = {0, 1, 1, 2, 2, 3, 3, 4, 4};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[32];
        size_t n;
        coap_builder_t b;
        coap_msg_t m;
        coap_opt_t o;
        uint32_t v;
        coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1,
                          NULL, 0);
        coap_builder_add_option_uint(&b, COAP_OPT_MAX_AGE, vals[i]);
        assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
        assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
        assert_true(coap_msg_find_option(&m, COAP_OPT_MAX_AGE, &o));
        assert_int_equal(o.len, lens[i]);
        assert_true(coap_opt_uint(&o, &v));
        assert_true(v == vals[i]);
    }
    /* a message made in code, with no option area, has no options */
    coap_msg_t empty = {.code = COAP_GET};
    coap_opt_t none;
    assert_false(coap_msg_find_option(&empty, COAP_OPT_BLOCK2, &none));
    coap_opt_t five = {.num = 14, .len = 5, .val = (const uint8_t *)"\1\2\3\4\5"};
    uint32_t v;
    assert_false(coap_opt_uint(&five, &v));
}

static void test_builder_misuse(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t n;
    coap_builder_t b;
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    coap_builder_add_option(&b, 11, "a", 1);
    coap_builder_add_option(&b, 3, "a", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_ERR_OPTION_ORDER);

    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    coap_builder_set_payload(&b, (const uint8_t *)"abc", 3);
    coap_builder_add_option(&b, 11, "a", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_ERR_BAD_STATE);

    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    coap_builder_set_payload(&b, (const uint8_t *)"0123456789abcdef", 16);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_ERR_NO_SPACE);

    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1,
                      (const uint8_t *)"123456789", 9);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_ERR_BAD_ARG);

    /* exactly fitting payload written in place */
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_NON, COAP_CONTENT, 1,
                      NULL, 0);
    size_t avail;
    uint8_t *p = coap_builder_payload_space(&b, &avail);
    assert_non_null(p);
    assert_int_equal(avail, 11);
    memset(p, 'z', avail);
    coap_builder_commit_payload(&b, avail);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(n, 16);
}

static void test_tcp_and_websocket_framing(void **state)
{
    (void)state;
    /* body lengths at each Len boundary (RFC 8323 §3.2) */
    static const size_t bodies[] = {0, 12, 13, 268, 269, 65804, 65805, 70000};
    static const size_t hdr_ext[] = {0, 0, 1, 1, 2, 2, 4, 4};
    static uint8_t buf[80000], payload[80000];
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        coap_builder_t b;
        size_t n, frame;
        coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_TCP, COAP_TYPE_CON, COAP_POST, 0,
                          (const uint8_t *)"\xaa\xbb", 2);
        if (bodies[i])
            coap_builder_set_payload(&b, payload, bodies[i] - 1); /* +1 marker */
        assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
        assert_int_equal(n, 1 + hdr_ext[i] + 1 + 2 + bodies[i]);
        assert_int_equal(buf[0] & 0x0f, 2);
        assert_int_equal(coap_tcp_frame_size(buf, n, &frame), COAP_OK);
        assert_int_equal(frame, n);
        if (hdr_ext[i])
            assert_int_equal(coap_tcp_frame_size(buf, hdr_ext[i], &frame), COAP_ERR_TRUNCATED);
        coap_msg_t m;
        assert_int_equal(coap_msg_parse_tcp(&m, buf, n), COAP_OK);
        assert_int_equal(m.code, COAP_POST);
        assert_memory_equal(m.token, "\xaa\xbb", 2);
        assert_int_equal(m.payload_len, bodies[i] ? bodies[i] - 1 : 0);
        assert_int_equal(coap_msg_parse_tcp(&m, buf, n - 1),
                         COAP_ERR_TRUNCATED);
    }
    /* RFC 8323 §5.4: a Ping with no token is two bytes */
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_TCP, COAP_TYPE_CON, COAP_PING, 0, NULL, 0);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    tu_assert_hex(buf, n, "00e2");

    /* WebSocket: Len is always zero */
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_WS, COAP_TYPE_CON, COAP_GET, 0,
                      (const uint8_t *)"\x01", 1);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "ws", 2);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    tu_assert_hex(buf, n, "01 01 01 b27773");
    coap_msg_t m;
    assert_int_equal(coap_msg_parse_ws(&m, buf, n), COAP_OK);
    assert_int_equal(m.code, COAP_GET);
    buf[0] |= 0x30;
    assert_int_equal(coap_msg_parse_ws(&m, buf, n), COAP_ERR_FRAME_LENGTH);

    /* TCP frame with extra bytes after it, and a bad TKL */
    uint8_t extra[] = {0x20, 0x01, 0xb1, 0x61, 0x00};
    assert_int_equal(coap_msg_parse_tcp(&m, extra, 4), COAP_OK);
    assert_int_equal(coap_msg_parse_tcp(&m, extra, 5), COAP_ERR_FRAME_LENGTH);
    uint8_t badtkl[] = {0x09, 0x01};
    assert_int_equal(coap_msg_parse_tcp(&m, badtkl, 2), COAP_ERR_TOKEN_LEN);
}

/* coap_msg_path_is: exact segment match, no more, no less. */
static void test_path_is(void **state)
{
    (void)state;
    uint8_t buf[64];
    coap_builder_t b;
    coap_msg_t m;
    size_t n;
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 1, NULL, 0);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, ".well-known", 11);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "edhoc", 5);
    coap_builder_add_option(&b, COAP_OPT_URI_QUERY, "x", 1);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    assert_true(coap_msg_path_is(&m, ".well-known/edhoc"));
    assert_false(coap_msg_path_is(&m, ".well-known"));
    assert_false(coap_msg_path_is(&m, ".well-known/edhoc/x"));
    assert_false(coap_msg_path_is(&m, ".well-known/edho"));
    assert_false(coap_msg_path_is(&m, ""));
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    assert_true(coap_msg_path_is(&m, ""));
    assert_false(coap_msg_path_is(&m, "bs"));
}

static void test_uri_to_options(void **state)
{
    (void)state;
    coap_uri_t u;
    const char *uri = "coap://example.net:5684/a%20b/c?x=1&y=%2F";
    assert_int_equal(coap_uri_parse(&u, uri, strlen(uri)), COAP_OK);
    assert_int_equal(u.port, 5684);
    assert_false(u.host_is_literal);
    coap_opt_t opts[16];
    uint8_t arena[128], buf[128];
    coap_optlist_t l;
    coap_optlist_init(&l, opts, 16, arena, sizeof arena);
    coap_optlist_add_uint(&l, COAP_OPT_ACCEPT, 50);     /* added out of order on purpose */
    coap_optlist_add_uri(&l, &u, false);
    coap_optlist_add_uint(&l, COAP_OPT_OBSERVE, 0);
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, sizeof buf, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 1, NULL, 0);
    assert_int_equal(coap_optlist_write(&l, &b), COAP_OK);
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    coap_opt_iter_t it;
    coap_opt_t o;
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    coap_opt_iter_init(&it, &m);
    struct {
        uint16_t num;
        const char *val;
        size_t len;
    } want[] = {{COAP_OPT_URI_HOST, "example.net", 11}, {COAP_OPT_OBSERVE, "", 0},
                {COAP_OPT_URI_PATH, "a b", 3},
                {COAP_OPT_URI_PATH, "c", 1},              {COAP_OPT_URI_QUERY, "x=1", 3},
                {COAP_OPT_URI_QUERY, "y=/", 3},           {COAP_OPT_ACCEPT, "\x32", 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_true(coap_opt_next(&it, &o));
        assert_int_equal(o.num, want[i].num);
        assert_int_equal(o.len, want[i].len);
        assert_memory_equal(o.val, want[i].val, o.len);
    }
    assert_false(coap_opt_next(&it, &o));

    /* IP literals get no Uri-Host; the default port no Uri-Port; a forward
     * proxy request names scheme and host */
    const char *v6 = "coap://[::1]/";
    assert_int_equal(coap_uri_parse(&u, v6, strlen(v6)), COAP_OK);
    assert_true(u.host_is_literal);
    assert_int_equal(u.host_len, 3);
    coap_optlist_init(&l, opts, 16, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, false);
    assert_int_equal(l.n, 0);
    const char *v4 = "coap://127.0.0.1/x";
    assert_int_equal(coap_uri_parse(&u, v4, strlen(v4)), COAP_OK);
    coap_optlist_init(&l, opts, 16, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, true);
    assert_int_equal(l.n, 3); /* default port: no Uri-Port */
    assert_int_equal(opts[0].num, COAP_OPT_PROXY_SCHEME);
    assert_int_equal(opts[1].num, COAP_OPT_URI_HOST);
    const char *v4p = "coap://127.0.0.1:6000/x";
    assert_int_equal(coap_uri_parse(&u, v4p, strlen(v4p)), COAP_OK);
    coap_optlist_init(&l, opts, 16, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, true);
    assert_int_equal(l.n, 4);
    assert_int_equal(opts[2].num, COAP_OPT_URI_PORT);

    /* a forward proxy's http:// target (RFC 7252 §10.1): Uri-Port only off 80 */
    const char *h1 = "http://127.0.0.1:8080/o", *h2 = "https://example.org/";
    assert_int_equal(coap_uri_parse(&u, h1, strlen(h1)), COAP_OK);
    coap_optlist_init(&l, opts, 16, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, true);
    assert_int_equal(l.n, 4);
    assert_memory_equal(opts[0].val, "http", 4);
    assert_int_equal(opts[2].num, COAP_OPT_URI_PORT);
    assert_int_equal(coap_uri_parse(&u, h2, strlen(h2)), COAP_OK);
    assert_int_equal(u.port, 443);
    assert_int_equal(coap_uri_default_port("coaps", 5), 5684);
    assert_int_equal(coap_uri_default_port("http", 4), 80);
    assert_int_equal(coap_uri_default_port("ftp", 3), 0);

    const char *bad[] = {"ftp://x/", "coap:/x", "coap://", "coap://h:99999/", "coap://h:/",
                         "coap://h/#frag", "coap://[::1/", "coap://hx:12x/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(coap_uri_parse(&u, bad[i], strlen(bad[i])), COAP_ERR_BAD_URI);
    const char *badpct = "coap://h/%4";
    assert_int_equal(coap_uri_parse(&u, badpct, strlen(badpct)), COAP_OK);
    coap_optlist_init(&l, opts, 16, arena, sizeof arena);
    coap_optlist_add_uri(&l, &u, false);
    assert_int_equal(l.err, COAP_ERR_BAD_URI);
    /* full option list */
    coap_optlist_init(&l, opts, 1, arena, sizeof arena);
    coap_optlist_add(&l, 11, "a", 1);
    coap_optlist_add(&l, 11, "b", 1);
    assert_int_equal(l.err, COAP_ERR_NO_SPACE);
}

/* Block-wise reassembly: in order, full blocks, bounded, a smaller size
 * taking over mid-way, block 0 restarting; errors leave the body as it was. */
static void test_block_slice_and_after(void **state)
{
    (void)state;
    size_t off, len;
    coap_block_t b = {.num = 2, .szx = 2}; /* 64-byte blocks */
    assert_true(coap_block_slice(&b, 200, &off, &len) && off == 128 && len == 64);
    b.num = 3;
    assert_false(coap_block_slice(&b, 200, &off, &len));
    assert_true(off == 192 && len == 8);
    b.num = 9; /* past the end */
    assert_false(coap_block_slice(&b, 200, &off, &len));
    assert_true(off == 200 && len == 0);
    b = (coap_block_t){.num = 1, .szx = 6}; /* 1024: done with bytes 1024..2047 */
    coap_block_t n = coap_block_after(&b, 4); /* the peer wants 256 */
    assert_true(n.szx == 4 && n.num == 8);    /* byte 2048 */
    n = coap_block_after(&n, 6);              /* never larger again */
    assert_true(n.szx == 4 && n.num == 9);
}

static void test_body_reassembly(void **state)
{
    (void)state;
    uint8_t buf[100], data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    coap_body_t body;
    coap_body_init(&body, buf, sizeof buf);
    coap_block_t b = {.num = 0, .more = true, .szx = 1}; /* 32 bytes */
    assert_int_equal(coap_body_add(&body, &b, data, 32), COAP_OK);
    b.num = 2;
    assert_int_equal(coap_body_add(&body, &b, data, 32), COAP_ERR_BLOCK_SEQUENCE);
    b.num = 1;
    assert_int_equal(coap_body_add(&body, &b, data, 31), COAP_ERR_BLOCK_SIZE);
    assert_int_equal(body.len, 32);
    /* the receiver asked for 16-byte blocks: block 4 of 16 starts at 64 */
    b = (coap_block_t){.num = 2, .more = true, .szx = 0};
    assert_int_equal(coap_body_add(&body, &b, data + 32, 16), COAP_OK);
    b.num = 3;
    assert_int_equal(coap_body_add(&body, &b, data + 48, 16), COAP_OK);
    b = (coap_block_t){.num = 4, .more = true, .szx = 0};
    assert_int_equal(coap_body_add(&body, &b, data, 16), COAP_OK);
    assert_int_equal(body.len, 80);
    b.num = 5; /* 96 + 16 > 100 */
    assert_int_equal(coap_body_add(&body, &b, data, 16), COAP_OK);
    b.num = 6;
    assert_int_equal(coap_body_add(&body, &b, data, 16), COAP_ERR_BODY_TOO_LARGE);
    b.num = 1000000; /* an offset far past the limit */
    assert_int_equal(coap_body_add(&body, &b, data, 16), COAP_ERR_BODY_TOO_LARGE);
    assert_int_equal(body.len, 96);
    assert_false(body.complete);
    b = (coap_block_t){.num = 6, .more = false, .szx = 0};
    assert_int_equal(coap_body_add(&body, &b, data, 4), COAP_OK);
    assert_true(body.complete && body.len == 100);
    assert_memory_equal(buf, data, 64);
    assert_int_equal(coap_body_add(&body, &b, data, 4), COAP_ERR_BLOCK_SEQUENCE); /* after the last */
    b = (coap_block_t){.num = 0, .more = false, .szx = 6}; /* a new body */
    assert_int_equal(coap_body_add(&body, &b, data, 10), COAP_OK);
    assert_true(body.complete && body.len == 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8613_messages_parse_and_rebuild),
        cmocka_unit_test(test_extended_delta_and_length_boundaries),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_critical_options),
        cmocka_unit_test(test_uint_options),
        cmocka_unit_test(test_builder_misuse),
        cmocka_unit_test(test_tcp_and_websocket_framing),
        cmocka_unit_test(test_uri_to_options),
        cmocka_unit_test(test_path_is),
        cmocka_unit_test(test_body_reassembly),
        cmocka_unit_test(test_block_slice_and_after),
    };
    return cmocka_run_group_tests_name("coap", tests, NULL, NULL);
}
