/* The HTTP <-> CoAP mapping: RFC 8075 URIs, media types, status codes,
 * and RFC 8613 §11's OSCORE header field against the §11.5 example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coreseal/coap.h"
#include "coreseal/http_map.h"

static void test_target_uri(void **state)
{
    (void)state;
    char out[128];
    assert_true(cs_http_target_uri("/hc/coap://s.example.com/light", "/hc/", out, sizeof out));
    assert_string_equal(out, "coap://s.example.com/light");
    /* §5.3.2: percent-encoded brackets of an IPv6 literal come back */
    assert_true(cs_http_target_uri("/hc/coap://%5B2001:db8::1%5D/light?on", "/hc/", out, sizeof out));
    assert_string_equal(out, "coap://[2001:db8::1]/light?on");
    /* the simple form of §5.4.1 and RFC 8613 §11.5 */
    assert_true(cs_http_target_uri("/hc/?target_uri=coap://server.url/", "/hc/", out, sizeof out));
    assert_string_equal(out, "coap://server.url/");
    assert_true(cs_http_target_uri("/hc/?target_uri=coaps%3A%2F%2Fs.example.com%2Flight", "/hc/", out, sizeof out));
    assert_string_equal(out, "coaps://s.example.com/light");
    assert_true(cs_http_target_uri("/hc/coap+tcp://h:5683/x", "/hc/", out, sizeof out));
    /* §5.3.1: no scheme, no target; another prefix, another resource */
    assert_false(cs_http_target_uri("/hc/s.example.com/light", "/hc/", out, sizeof out));
    assert_false(cs_http_target_uri("/other/coap://s.example.com/", "/hc/", out, sizeof out));
    assert_false(cs_http_target_uri("/hc/http://s.example.com/", "/hc/", out, sizeof out));
    assert_false(cs_http_target_uri("/hc/coap://s.example.com/a-long-path", "/hc/", out, 16)); /* no room */
    assert_false(cs_http_target_uri("/hc/?target_uri=coap://x/%00", "/hc/", out, sizeof out)); /* NUL */
}

static void test_methods(void **state)
{
    (void)state;
    assert_int_equal(cs_http_method_to_coap("GET"), COAP_GET);
    assert_int_equal(cs_http_method_to_coap("iPATCH"), COAP_IPATCH);
    assert_int_equal(cs_http_method_to_coap("OPTIONS"), -1);
    assert_int_equal(cs_http_method_to_coap("get"), -1); /* methods are case-sensitive */
    assert_string_equal(cs_http_method_of(COAP_FETCH), "FETCH");
    assert_null(cs_http_method_of(COAP_CODE(2, 5)));
}

static void test_media_types(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(cs_http_content_format("text/plain;charset=utf-8"), 0);
    assert_int_equal(cs_http_content_format("text/plain"), 0);
    assert_int_equal(cs_http_content_format("Text/Plain; charset=UTF-8"), 0);
    assert_int_equal(cs_http_content_format("text/plain; charset=iso-8859-1"), -1);
    assert_int_equal(cs_http_content_format("application/json; charset=utf-8"), 50);
    assert_int_equal(cs_http_content_format("application/cbor"), 60);
    assert_int_equal(cs_http_content_format("application/oscore"), CS_HTTP_OSCORE_CF);
    assert_int_equal(cs_http_content_format("application/coap-payload;cf=11544"), 11544);
    assert_int_equal(cs_http_content_format("application/coap-payload"), -1);
    assert_int_equal(cs_http_content_format("image/png"), -1);
    cs_http_media_type(50, out, sizeof out);
    assert_string_equal(out, "application/json");
    cs_http_media_type(0, out, sizeof out);
    assert_string_equal(out, "text/plain;charset=utf-8");
    cs_http_media_type(65000, out, sizeof out); /* §6.2 */
    assert_string_equal(out, "application/coap-payload;cf=65000");
    assert_int_equal(cs_http_content_format(out), 65000);
}

static void test_status_codes(void **state)
{
    (void)state;
    /* RFC 8075 Table 2 */
    assert_int_equal(cs_http_status_of(COAP_CODE(2, 5), true), 200);
    assert_int_equal(cs_http_status_of(COAP_CODE(2, 1), false), 201);
    assert_int_equal(cs_http_status_of(COAP_CODE(2, 4), true), 200);
    assert_int_equal(cs_http_status_of(COAP_CODE(2, 4), false), 204);
    assert_int_equal(cs_http_status_of(COAP_CODE(2, 2), false), 204);
    assert_int_equal(cs_http_status_of(COAP_CODE(4, 1), true), 403); /* no WWW-Authenticate in CoAP */
    assert_int_equal(cs_http_status_of(COAP_CODE(4, 5), false), 400);
    assert_int_equal(cs_http_status_of(COAP_CODE(4, 13), false), 413);
    assert_int_equal(cs_http_status_of(COAP_CODE(5, 5), false), 502);
    assert_int_equal(cs_http_status_of(COAP_CODE(5, 4), false), 504);
    assert_int_equal(cs_http_status_of(COAP_CODE(4, 29), false), 400); /* unlisted: by class */
    /* and back, for an HTTP client */
    assert_int_equal(cs_http_coap_code_of(200, COAP_GET), COAP_CODE(2, 5));
    assert_int_equal(cs_http_coap_code_of(200, COAP_POST), COAP_CODE(2, 4));
    assert_int_equal(cs_http_coap_code_of(204, COAP_DELETE), COAP_CODE(2, 2));
    assert_int_equal(cs_http_coap_code_of(201, COAP_POST), COAP_CODE(2, 1));
    assert_int_equal(cs_http_coap_code_of(404, COAP_GET), COAP_CODE(4, 4));
    assert_int_equal(cs_http_coap_code_of(403, COAP_GET), COAP_CODE(4, 3));
    assert_int_equal(cs_http_coap_code_of(418, COAP_GET), COAP_CODE(4, 0));
    assert_int_equal(cs_http_coap_code_of(504, COAP_GET), COAP_CODE(5, 4));
}

static void test_oscore_header(void **state)
{
    (void)state;
    char s[16];
    uint8_t b[8];
    size_t n;
    /* RFC 8613 §11.5: option 09 25 travels as "CSU"; the empty one as "AA" */
    assert_true(cs_http_oscore_encode((const uint8_t *)"\x09\x25", 2, s, sizeof s));
    assert_string_equal(s, "CSU");
    assert_true(cs_http_oscore_encode(NULL, 0, s, sizeof s));
    assert_string_equal(s, "AA");
    assert_true(cs_http_oscore_decode("CSU", b, sizeof b, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(b, "\x09\x25", 2);
    assert_true(cs_http_oscore_decode("AA", b, sizeof b, &n));
    assert_int_equal(n, 0);
    const uint8_t opt[] = {0x19, 0x14, 0x08, 0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17};
    char long_s[32];
    uint8_t back[16];
    assert_true(cs_http_oscore_encode(opt, sizeof opt, long_s, sizeof long_s));
    assert_true(cs_http_oscore_decode(long_s, back, sizeof back, &n));
    assert_int_equal(n, sizeof opt);
    assert_memory_equal(back, opt, sizeof opt);
    assert_false(cs_http_oscore_encode(opt, sizeof opt, long_s, 12)); /* no room */
    assert_false(cs_http_oscore_decode("C", b, sizeof b, &n));    /* too short */
    assert_false(cs_http_oscore_decode("CS+", b, sizeof b, &n));  /* base64, not base64url */
    assert_false(cs_http_oscore_decode("CSU=", b, sizeof b, &n)); /* no padding */
    assert_false(cs_http_oscore_decode("CT", b, sizeof b, &n));   /* stray bits */
    assert_false(cs_http_oscore_decode("CSUCSUCSUCSU", b, 4, &n)); /* no room */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_uri),  cmocka_unit_test(test_methods),
        cmocka_unit_test(test_media_types), cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_oscore_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
