/* libFuzzer: OSCORE unprotect (OSCORE option parsing, COSE decoding,
 * decryption, plaintext parsing) with the RFC 8613 C.1 contexts. The first
 * 9 input bytes set the replay window (state and message are fuzzed
 * together, as SQLite's dbsqlfuzz does); the rest is the CoAP message,
 * tried as a request at the server and as a response at the client, and
 * through the Appendix B.2 steps on both sides (bit 3 of the first byte
 * leaves the state bytes pending as an R2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/oscore.h"

static cs_crypto_t crypto;
static oscore_ctx_t server0, client0;
static oscore_params_t server_base, client_base;

static void init(void)
{
    static const uint8_t secret[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t salt[] = {0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40};
    static const uint8_t id1[] = {1};
    if (cs_crypto_openssl_new(&crypto) != CS_CRYPTO_OK)
        abort();
    oscore_params_t p = {.master_secret = secret, .master_secret_len = sizeof secret,
                         .master_salt = salt, .master_salt_len = sizeof salt,
                         .sender_id = id1, .sender_id_len = 1, .b2 = true};
    server_base = p;
    if (oscore_ctx_derive(&server0, &crypto, &p) != OSCORE_OK)
        abort();
    p.sender_id_len = 0;
    p.recipient_id = id1;
    p.recipient_id_len = 1;
    p.ssn_start = 20;
    client_base = p;
    if (oscore_ctx_derive(&client0, &crypto, &p) != OSCORE_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        init();
        ready = true;
    }
    if (size < 9)
        return 0;
    oscore_ctx_t server = server0, client = client0;
    server.replay.empty = (data[0] & 1) != 0;
    server.replay.lost = (data[0] & 2) != 0;
    server.echo_pending = (data[0] & 4) != 0;
    memcpy(&server.replay.highest, data + 1, 8);
    server.replay.seen[0] = server.replay.highest * 0x9e3779b97f4a7c15ull;
    if (data[0] & 8) {
        memcpy(server.b2_r2[0], data + 1, OSCORE_B2_NONCE_LEN);
        server.b2_r2_count = 1;
    }
    data += 9;
    size -= 9;

    static uint8_t out[2048];
    size_t n;
    coap_msg_t m;
    if (coap_msg_parse(&m, data, size) != COAP_OK)
        return 0;
    oscore_binding_t b;
    oscore_err_t err = oscore_unprotect_request(&server, &m, out, sizeof out, &n, &b);
    if (err == OSCORE_OK) {
        coap_msg_t inner;
        if (n > sizeof out || coap_msg_parse(&inner, out, n) != COAP_OK)
            abort(); /* an accepted request always comes out well-formed */
    }
    /* as a response to the client's C.4 request (kid "", piv 0x14) */
    oscore_binding_t cb = {.kid_len = 0, .piv = {0x14}, .piv_len = 1, .fresh = true,
                           .observe = true};
    static const uint8_t c4_nonce[13] = {0x46, 0x22, 0xd4, 0xdd, 0x6d, 0x94, 0x41,
                                         0x68, 0xee, 0xfb, 0x54, 0x98, 0x68};
    memcpy(cb.nonce, c4_nonce, sizeof c4_nonce);
    (void)oscore_unprotect_response(&client, &cb, &m, out, sizeof out, &n);

    oscore_option_t opt;
    if (oscore_msg_option(&m, &opt) == OSCORE_OK && oscore_b2_applies(&server, &opt)) {
        if (oscore_b2_is_request2(&server, &opt)) {
            (void)oscore_b2_accept_request2(&server, &server_base, &m, out, sizeof out, &n, &b);
        } else {
            static const uint8_t unauthorized[] = {0x60, 0x81, 0x00, 0x01};
            coap_msg_t resp;
            if (coap_msg_parse(&resp, unauthorized, sizeof unauthorized) != COAP_OK)
                abort();
            (void)oscore_b2_answer_request1(&server, &server_base, &m, &resp, out, sizeof out, &n);
        }
    }
    client.b2 = true;
    if (oscore_b2_is_response1(&client, &m))
        (void)oscore_b2_accept_response1(&client, &client_base, &cb, &m, out, sizeof out, &n);
    return 0;
}
