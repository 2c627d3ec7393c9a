/* OSCORE protection cost next to the raw AEAD of the same bytes, and heap
 * allocations per message. Prints a table; every number is measured.
 *   build/bench/oscore_bench [iterations]
 * For each AEAD and payload size: a client protects a request, the server
 * unprotects it, protects a response, the client unprotects it. "raw AEAD"
 * seals and opens the same plaintexts with the same keys. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/oscore.h"

#include "measure.h"

static size_t build(uint8_t *buf, size_t cap, uint8_t code, int type, size_t payload)
{
    static uint8_t data[2048];
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, cap, COAP_TRANSPORT_UDP, type, code, 1, (const uint8_t *)"\1\2\3\4", 4);
    if (code == COAP_GET)
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, "sensor", 6);
    else
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, 60);
    coap_builder_set_payload(&b, data, payload);
    if (coap_builder_finish(&b, &n) != COAP_OK)
        abort();
    return n;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    cs_crypto_t c;
    if (cs_crypto_openssl_new(&c) != CS_CRYPTO_OK)
        return 1;
    static const int32_t algs[] = {10, 30, 1, 24};
    static const size_t sizes[] = {0, 64, 256, 1024};
    printf("OSCORE protect+unprotect of one request and one response, per exchange\n");
    printf("(%ld exchanges each; one core; %s)\n\n", iters, "OpenSSL 3 backend");
    printf("%-20s %8s %12s %12s %8s %14s\n", "AEAD", "payload", "OSCORE ns", "raw AEAD ns",
           "ratio", "allocs/exch");
    for (size_t ai = 0; ai < sizeof algs / sizeof algs[0]; ai++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            uint8_t secret[16] = {1, 2, 3}, cid[1] = {1};
            oscore_params_t pc = {.aead_alg = algs[ai], .master_secret = secret,
                                  .master_secret_len = 16, .sender_id = NULL, .sender_id_len = 0,
                                  .recipient_id = cid, .recipient_id_len = 1,
                                  .replay_window = 32};
            oscore_params_t ps = pc;
            ps.sender_id = cid;
            ps.sender_id_len = 1;
            ps.recipient_id = NULL;
            ps.recipient_id_len = 0;
            oscore_ctx_t client, server;
            if (oscore_ctx_derive(&client, &c, &pc) != OSCORE_OK ||
                oscore_ctx_derive(&server, &c, &ps) != OSCORE_OK)
                return 1;
            uint8_t req[1400], resp[1400], p1[1500], p2[1500], o1[1500], o2[1500];
            size_t rq = build(req, sizeof req, COAP_GET, COAP_TYPE_CON, 0);
            size_t rs = build(resp, sizeof resp, COAP_CONTENT, COAP_TYPE_ACK, sizes[si]);
            coap_msg_t mreq, mresp, m;
            if (coap_msg_parse(&mreq, req, rq) != COAP_OK || coap_msg_parse(&mresp, resp, rs) != COAP_OK)
                return 1;
            /* warm up (first use creates the cipher contexts) */
            long warm = 100;
            unsigned long allocs_before = 0;
            double t0 = 0;
            for (long i = 0; i < warm + iters; i++) {
                if (i == warm) {
                    allocs_before = allocations;
                    t0 = now_ns();
                }
                oscore_binding_t cb, sb;
                size_t n1, n2, n3, n4;
                if (oscore_protect_request(&client, &mreq, p1, sizeof p1, &n1, &cb) != OSCORE_OK ||
                    coap_msg_parse(&m, p1, n1) != COAP_OK ||
                    oscore_unprotect_request(&server, &m, o1, sizeof o1, &n2, &sb) != OSCORE_OK ||
                    oscore_protect_response(&server, &sb, &mresp, false, p2, sizeof p2, &n3) != OSCORE_OK ||
                    coap_msg_parse(&m, p2, n3) != COAP_OK ||
                    oscore_unprotect_response(&client, &cb, &m, o2, sizeof o2, &n4) != OSCORE_OK)
                    return 1;
            }
            double oscore_ns = (now_ns() - t0) / (double)iters;
            double allocs = (double)(allocations - allocs_before) / (double)iters;
            /* raw AEAD: seal + open of the same two plaintexts (code + options
             * + payload: request 1+7 bytes, response 1+3+marker+payload) */
            size_t pt_req = 1 + 7, pt_resp = 1 + 3 + (sizes[si] ? 1 + sizes[si] : 0);
            uint8_t key[32] = {7}, nonce[13] = {9}, aad[20] = {0}, buf[1600];
            memset(buf, 0x5a, sizeof buf);
            double t1 = now_ns();
            for (long i = 0; i < iters; i++) {
                nonce[12] = (uint8_t)i;
                size_t lens[2] = {pt_req, pt_resp};
                for (int k = 0; k < 2; k++) {
                    if (c.aead_seal(c.state, algs[ai], key, nonce, client.nonce_len, aad, sizeof aad,
                                    buf, lens[k], buf) != CS_CRYPTO_OK ||
                        c.aead_open(c.state, algs[ai], key, nonce, client.nonce_len, aad, sizeof aad,
                                    buf, lens[k] + client.tag_len, buf) != CS_CRYPTO_OK)
                        return 1;
                }
            }
            double raw_ns = (now_ns() - t1) / (double)iters;
            const char *names[] = {"AES-CCM-16-64-128", "AES-CCM-16-128-128", "A128GCM",
                                   "ChaCha20/Poly1305"};
            printf("%-20s %8zu %12.0f %12.0f %8.2f %14.2f\n", names[ai], sizes[si], oscore_ns,
                   raw_ns, oscore_ns / raw_ns, allocs);
        }
    }
    /* Bytes OSCORE adds on the wire: the OSCORE option (header + value), the
     * encrypted code, the tag, the payload marker when the plain message
     * had none, minus the inner options' bytes saved from the outer part.
     * The RFC 8613 minimum for a request is a 1-byte flag + 1-byte PIV +
     * kid, plus 1 byte of encrypted code and the tag. */
    printf("\nOSCORE overhead on the wire (AES-CCM-16-64-128, tag 8 bytes)\n\n");
    printf("%-34s %8s %10s %10s %14s\n", "message", "plain", "protected", "overhead",
           "RFC minimum");
    uint8_t secret[16] = {1}, cid[1] = {1};
    oscore_params_t pc = {.master_secret = secret, .master_secret_len = 16, .recipient_id = cid,
                          .recipient_id_len = 1};
    oscore_params_t ps = pc;
    ps.sender_id = cid;
    ps.sender_id_len = 1;
    ps.recipient_id = NULL;
    ps.recipient_id_len = 0;
    oscore_ctx_t client, server;
    if (oscore_ctx_derive(&client, &c, &pc) != OSCORE_OK || oscore_ctx_derive(&server, &c, &ps) != OSCORE_OK)
        return 1;
    uint8_t req[256], resp[256], p1[256], p2[256], o1[512];
    size_t rq = build(req, sizeof req, COAP_GET, COAP_TYPE_CON, 0);
    size_t rs = build(resp, sizeof resp, COAP_CONTENT, COAP_TYPE_ACK, 16);
    coap_msg_t mreq, mresp, m;
    oscore_binding_t cb, sb;
    size_t n1, n2, n3;
    if (coap_msg_parse(&mreq, req, rq) != COAP_OK || coap_msg_parse(&mresp, resp, rs) != COAP_OK ||
        oscore_protect_request(&client, &mreq, p1, sizeof p1, &n1, &cb) != OSCORE_OK ||
        coap_msg_parse(&m, p1, n1) != COAP_OK ||
        oscore_unprotect_request(&server, &m, o1, sizeof o1, &n2, &sb) != OSCORE_OK ||
        oscore_protect_response(&server, &sb, &mresp, false, p2, sizeof p2, &n3) != OSCORE_OK)
        return 1;
    /* request minimum: option header 1 + flags 1 + PIV 1 (SSN 0) + kid 0,
     * marker 1, code 1, tag 8 */
    printf("%-34s %8zu %10zu %+10ld %14d\n", "GET /sensor (kid empty, SSN 0)", rq, n1,
           (long)n1 - (long)rq, 1 + 1 + 1 + 1 + 1 + 8);
    /* response minimum: empty option 1, code 1, the inner payload marker 1
     * (the outer one exists already), tag 8 */
    printf("%-34s %8zu %10zu %+10ld %14d\n", "2.05 with 16-byte payload", rs, n3,
           (long)n3 - (long)rs, 1 + 1 + 1 + 8);
    cs_crypto_openssl_free(&c);
    return 0;
}
