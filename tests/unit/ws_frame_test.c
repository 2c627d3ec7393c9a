/* The WebSocket pieces of CoAP over WebSockets against RFC 6455's own
 * examples (§1.3 handshake key, §5.7 frames) and RFC 8323 §4's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/net/net_internal.h"

static void test_accept_key(void **state)
{
    (void)state;
    char out[CS_WS_ACCEPT_LEN + 1];
    assert_true(cs_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out)); /* RFC 6455 §1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_true(cs_ws_check_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                     "Sec-WebSocket-Protocol: coap\r\n\r\n",
                                     "dGhlIHNhbXBsZSBub25jZQ=="));
    assert_false(cs_ws_check_response("HTTP/1.1 101 Switching Protocols\r\n"
                                      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", /* no coap */
                                      "dGhlIHNhbXBsZSBub25jZQ=="));
    assert_false(cs_ws_check_response("HTTP/1.1 200 OK\r\n\r\n", "dGhlIHNhbXBsZSBub25jZQ=="));
}

static void test_request(void **state)
{
    (void)state;
    char key[CS_WS_KEY_MAX];
    const char *why;
    const char *ok = "GET /.well-known/coap HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Protocol: chat, coap\r\n\r\n";
    assert_int_equal(cs_ws_parse_request(ok, key, &why), 0);
    assert_string_equal(key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(cs_ws_parse_request("GET /other HTTP/1.1\r\n\r\n", key, &why), 404);
    assert_int_equal(cs_ws_parse_request("POST /.well-known/coap HTTP/1.1\r\n\r\n", key, &why), 405);
    assert_int_equal(cs_ws_parse_request("GET /.well-known/coap HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                         "Sec-WebSocket-Version: 8\r\n\r\n", key, &why), 426);
    assert_int_equal(cs_ws_parse_request("GET /.well-known/coap HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n"
                                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", key, &why), 400);
    assert_string_equal(why, "Sec-WebSocket-Protocol must offer coap");
}

static void test_frames(void **state)
{
    (void)state;
    cs_ws_frame_t f;
    /* RFC 6455 §5.7: an unmasked and a masked "Hello" */
    const uint8_t plain[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    assert_int_equal(cs_ws_frame_parse(plain, sizeof plain, 1152, &f), 7);
    assert_true(f.fin);
    assert_false(f.masked);
    assert_int_equal(f.opcode, CS_WS_TEXT);
    assert_int_equal(f.payload_len, 5);
    uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_int_equal(cs_ws_frame_parse(masked, sizeof masked, 1152, &f), 11);
    assert_true(f.masked);
    cs_ws_unmask(masked + f.header_len, f.payload_len, f.mask);
    assert_memory_equal(masked + f.header_len, "Hello", 5);
    /* incomplete, 16-bit length, over the limit (a 64 KiB binary frame) */
    assert_int_equal(cs_ws_frame_parse(masked, 5, 1152, &f), 0);
    const uint8_t len16[4] = {0x82, 0x7e, 0x01, 0x00};
    assert_int_equal(cs_ws_frame_parse(len16, sizeof len16, 1152, &f), 0); /* needs the 256 bytes */
    const uint8_t big[10] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(cs_ws_frame_parse(big, sizeof big, 1152, &f), -2);
    const uint8_t rsv[2] = {0xc2, 0x00}; /* RSV1 without an extension */
    assert_int_equal(cs_ws_frame_parse(rsv, sizeof rsv, 1152, &f), -1);
    const uint8_t long_ping[4] = {0x89, 0x7e, 0x00, 0x80}; /* a control frame over 125 bytes */
    assert_int_equal(cs_ws_frame_parse(long_ping, sizeof long_ping, 1152, &f), -1);
    /* and the header we write: 300 bytes, masked */
    uint8_t h[CS_WS_HEADER_MAX];
    const uint8_t mask[4] = {1, 2, 3, 4};
    assert_int_equal(cs_ws_frame_header(h, CS_WS_BINARY, 300, mask), 8);
    assert_memory_equal(h, "\x82\xfe\x01\x2c\x01\x02\x03\x04", 8);
    assert_int_equal(cs_ws_frame_header(h, CS_WS_BINARY, 5, NULL), 2);
    assert_memory_equal(h, "\x82\x05", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
