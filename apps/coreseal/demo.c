/* coreseal demo: what a newcomer runs first. By default the whole system
 * as processes (demo_system.c). With --in-process, the same lesson in slow
 * motion: a device and a server talk through an untrusted gateway in one
 * process, message by message and deterministic: with OSCORE the gateway
 * sees only ciphertext and every change or replay it tries is caught; with
 * plain CoAP it reads and silently changes the data. Exit code 0 only if
 * every expected outcome happened. */
#define _GNU_SOURCE
#include <string.h>

#include "cli.h"

typedef struct {
    int passed, failed;
} tally_t;

static void expect(tally_t *t, bool ok, const char *what)
{
    printf("   [%s] %s\n", ok ? " ok " : "FAIL", what);
    if (ok)
        t->passed++;
    else
        t->failed++;
}

/* A step whose success is only reported when it fails. */
static void quietly(tally_t *t, bool ok, const char *what)
{
    if (!ok)
        expect(t, false, what);
}

static void gateway_view(const char *label, const uint8_t *p, size_t n)
{
    coap_msg_t m;
    printf("   gateway sees %s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n && i < 40; i++)
        printf("%02x", p[i]);
    printf("%s\n", n > 40 ? "..." : "");
    if (coap_msg_parse(&m, p, n) == COAP_OK)
        cli_print_msg(stdout, ' ', &m, NULL, 2);
}

static size_t build(uint8_t *buf, size_t cap, coap_type_t type, uint8_t code, bool observe,
                    uint32_t obs_seq, const char *path, const char *payload)
{
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, cap, COAP_TRANSPORT_UDP, type, code, 0x1a2b,
                      (const uint8_t *)"\x8c\x01", 2);
    if (COAP_CODE_CLASS(code) == 0)
        coap_builder_add_option(&b, COAP_OPT_URI_HOST, "gw.example", 10);
    if (observe)
        coap_builder_add_option_uint(&b, COAP_OPT_OBSERVE, obs_seq);
    if (path)
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, path, strlen(path));
    if (payload)
        coap_builder_set_payload(&b, (const uint8_t *)payload, strlen(payload));
    return coap_builder_finish(&b, &n) == COAP_OK ? n : 0;
}

static bool payload_is(const uint8_t *msg, size_t n, const char *want)
{
    coap_msg_t m;
    return coap_msg_parse(&m, msg, n) == COAP_OK && m.payload_len == strlen(want) &&
           memcmp(m.payload, want, m.payload_len) == 0;
}

static int lesson(cli_security_t *sec);

int cmd_demo(int argc, char **argv)
{
    bool in_process = false, keep = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--in-process")) {
            in_process = true;
        } else if (!strcmp(argv[i], "--keep")) {
            keep = true;
        } else {
            bool help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
            printf("usage: coreseal demo [--keep] [--in-process]\n\n"
                   "A LwM2M Bootstrap-Server, a LwM2M server, an untrusted gateway and three\n"
                   "devices as processes on this machine: OSCORE end to end through the gateway\n"
                   "(one device over UDP, one over TCP), the gateway tampering and replaying, then\n"
                   "hop-by-hop DTLS through it. Prints each step and a summary; exit code 0 only\n"
                   "if every expected outcome happened.\n"
                   "  --keep        keep the working directory with every process's log\n"
                   "  --in-process  the same lesson message by message, in one process\n");
            return help ? CLI_EXIT_OK : cli_fail("demo", CLI_EXIT_USAGE, "unknown option '%s'", argv[i]);
        }
    }
    static cli_security_t sec;
    if (cli_security_init(&sec, "demo") != CLI_EXIT_OK)
        return CLI_EXIT_CONFIG;
    int rc = in_process ? lesson(&sec) : demo_system(&sec.crypto, keep);
    cli_security_close(&sec);
    return rc;
}

static int lesson(cli_security_t *sec)
{
    cs_crypto_t *c = &sec->crypto;
    tally_t t = {0, 0};
    uint8_t secret[16], salt[8];
    if (c->random(c->state, secret, sizeof secret) != CS_CRYPTO_OK ||
        c->random(c->state, salt, sizeof salt) != CS_CRYPTO_OK)
        return cli_fail("demo", CLI_EXIT_CONFIG, "no randomness");

    printf("1. Provisioning: device and server share an OSCORE security context\n"
           "   (in production EDHOC or a LwM2M bootstrap server provides it).\n");
    oscore_params_t pd = {.master_secret = secret, .master_secret_len = sizeof secret,
                          .master_salt = salt, .master_salt_len = sizeof salt,
                          .sender_id = (const uint8_t *)"\x01", .sender_id_len = 1,
                          .recipient_id = (const uint8_t *)"", .recipient_id_len = 0};
    oscore_params_t ps = pd;
    ps.sender_id = pd.recipient_id;
    ps.sender_id_len = 0;
    ps.recipient_id = pd.sender_id;
    ps.recipient_id_len = 1;
    oscore_ctx_t dev, srv;
    expect(&t, oscore_ctx_derive(&dev, c, &pd) == OSCORE_OK &&
                   oscore_ctx_derive(&srv, c, &ps) == OSCORE_OK,
           "both sides derived keys (AES-CCM-16-64-128, HKDF SHA-256)");

    uint8_t plain[256], wire[256], inner[512], resp[256], resp_wire[256], saved_req[256];
    size_t n, wn, in_n, rn, rwn, saved_len;
    coap_msg_t m;
    oscore_binding_t dev_bind, srv_bind;

    printf("\n2. The device asks for its temperature through the gateway\n");
    n = build(plain, sizeof plain, COAP_TYPE_CON, COAP_GET, false, 0, "temperature", NULL);
    quietly(&t, coap_msg_parse(&m, plain, n) == COAP_OK, "message parses");
    expect(&t, oscore_protect_request(&dev, &m, wire, sizeof wire, &wn, &dev_bind) == OSCORE_OK,
           "request protected");
    memcpy(saved_req, wire, wn);
    saved_len = wn;
    gateway_view("the request", wire, wn);
    expect(&t, memmem(wire, wn, "temperature", 11) == NULL,
           "the gateway cannot see the path: only Uri-Host, OSCORE option and ciphertext");
    quietly(&t, coap_msg_parse(&m, wire, wn) == COAP_OK, "message parses");
    oscore_err_t oe = oscore_unprotect_request(&srv, &m, inner, sizeof inner, &in_n, &srv_bind);
    expect(&t, oe == OSCORE_OK, "the server verified and decrypted it: GET /temperature");

    rn = build(resp, sizeof resp, COAP_TYPE_ACK, COAP_CONTENT, false, 0, NULL, "21.5 C");
    quietly(&t, coap_msg_parse(&m, resp, rn) == COAP_OK, "message parses");
    expect(&t, oscore_protect_response(&srv, &srv_bind, &m, false, resp_wire, sizeof resp_wire,
                                       &rwn) == OSCORE_OK,
           "response protected");
    gateway_view("the response", resp_wire, rwn);

    printf("\n3. The gateway changes one byte of the response\n");
    uint8_t tampered[256];
    memcpy(tampered, resp_wire, rwn);
    tampered[rwn - 3] ^= 0x01;
    quietly(&t, coap_msg_parse(&m, tampered, rwn) == COAP_OK, "message parses");
    oe = oscore_unprotect_response(&dev, &dev_bind, &m, inner, sizeof inner, &in_n);
    printf("   device: %s [%s]\n", coreseal_strerror(oe), coreseal_errname(oe));
    expect(&t, oe == OSCORE_ERR_DECRYPT, "the device rejects the altered response");
    quietly(&t, coap_msg_parse(&m, resp_wire, rwn) == COAP_OK, "message parses");
    oe = oscore_unprotect_response(&dev, &dev_bind, &m, inner, sizeof inner, &in_n);
    expect(&t, oe == OSCORE_OK && payload_is(inner, in_n, "21.5 C"),
           "the original response verifies: 21.5 C");

    printf("\n4. The gateway replays the device's request later\n");
    quietly(&t, coap_msg_parse(&m, saved_req, saved_len) == COAP_OK, "message parses");
    oe = oscore_unprotect_request(&srv, &m, inner, sizeof inner, &in_n, &srv_bind);
    printf("   server: %s -> answers %s \"%s\"\n", coreseal_errname(oe),
           oe == OSCORE_ERR_REPLAY ? "4.01" : "?", oscore_err_diagnostic(oe));
    expect(&t, oe == OSCORE_ERR_REPLAY, "the server refuses the replay");

    printf("\n5. The gateway changes what it may: the outer Uri-Host\n");
    n = build(plain, sizeof plain, COAP_TYPE_CON, COAP_GET, false, 0, "temperature", NULL);
    quietly(&t, coap_msg_parse(&m, plain, n) == COAP_OK, "message parses");
    quietly(&t, oscore_protect_request(&dev, &m, wire, sizeof wire, &wn, &dev_bind) == OSCORE_OK, "request protected");
    uint8_t *host = memmem(wire, wn, "gw.example", 10);
    if (host)
        memcpy(host, "gw.elsewhe", 10);
    quietly(&t, coap_msg_parse(&m, wire, wn) == COAP_OK, "message parses");
    oe = oscore_unprotect_request(&srv, &m, inner, sizeof inner, &in_n, &srv_bind);
    expect(&t, oe == OSCORE_OK,
           "still accepted: Uri-Host is for the hops (class U); the path and payload are not");

    printf("\n6. Observe: the gateway reorders two notifications\n");
    n = build(plain, sizeof plain, COAP_TYPE_CON, COAP_GET, true, 0, "temperature", NULL);
    quietly(&t, coap_msg_parse(&m, plain, n) == COAP_OK, "message parses");
    quietly(&t, oscore_protect_request(&dev, &m, wire, sizeof wire, &wn, &dev_bind) == OSCORE_OK, "request protected");
    quietly(&t, coap_msg_parse(&m, wire, wn) == COAP_OK, "message parses");
    quietly(&t, oscore_unprotect_request(&srv, &m, inner, sizeof inner, &in_n, &srv_bind) == OSCORE_OK, "request verified");
    uint8_t note[2][256];
    size_t note_len[2];
    const char *vals[2] = {"21.6 C", "21.7 C"};
    for (int i = 0; i < 2; i++) {
        rn = build(resp, sizeof resp, COAP_TYPE_NON, COAP_CONTENT, true, (uint32_t)(i + 2), NULL,
                   vals[i]);
        quietly(&t, coap_msg_parse(&m, resp, rn) == COAP_OK, "message parses");
        quietly(&t, oscore_protect_response(&srv, &srv_bind, &m, false, note[i], sizeof note[i],
                                      &note_len[i]) == OSCORE_OK, "response protected");
    }
    quietly(&t, coap_msg_parse(&m, note[1], note_len[1]) == COAP_OK, "message parses");
    oe = oscore_unprotect_response(&dev, &dev_bind, &m, inner, sizeof inner, &in_n);
    expect(&t, oe == OSCORE_OK && payload_is(inner, in_n, "21.7 C"), "newer notification: 21.7 C");
    quietly(&t, coap_msg_parse(&m, note[0], note_len[0]) == COAP_OK, "message parses");
    oe = oscore_unprotect_response(&dev, &dev_bind, &m, inner, sizeof inner, &in_n);
    expect(&t, oe == OSCORE_ERR_REPLAY, "the older one, delivered late, is refused");

    printf("\n7. The same exchange without OSCORE (hop-by-hop security ends at the gateway)\n");
    rn = build(resp, sizeof resp, COAP_TYPE_ACK, COAP_CONTENT, false, 0, NULL, "21.5 C");
    gateway_view("the plain response", resp, rn);
    uint8_t *val = memmem(resp, rn, "21.5", 4);
    if (val)
        memcpy(val, "99.9", 4);
    expect(&t, val && payload_is(resp, rn, "99.9 C"),
           "the gateway read the value and changed it to 99.9 C; the device cannot tell");

    oscore_ctx_wipe(&dev);
    oscore_ctx_wipe(&srv);
    printf("\n%-48s %s\n", "outcome", "count");
    printf("%-48s %d\n", "expected outcomes that happened", t.passed);
    printf("%-48s %d\n", "expected outcomes that did not", t.failed);
    printf("\n%s\n", t.failed ? "FAILED" : "PASSED: OSCORE kept the data end-to-end across the gateway");
    return t.failed ? CLI_EXIT_SECURITY : CLI_EXIT_OK;
}
