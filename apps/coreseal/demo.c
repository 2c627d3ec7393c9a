/* coreseal demo: what a newcomer runs first. For now it shows one CoAP
 * exchange through the codec, with every byte on the "wire"; it grows into
 * the full gateway/LwM2M story as those modules land. Exit code 0 only if
 * every expected outcome happened. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coreseal/coap.h"

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
    printf("  %s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

static int check(bool ok, const char *what, int *failures)
{
    printf("  [%s] %s\n", ok ? " ok " : "FAIL", what);
    if (!ok)
        (*failures)++;
    return ok;
}

int cmd_demo(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: coreseal demo\n\nRuns the end-to-end demonstration in one process and "
               "prints each step.\nExit code 0 only if every expected outcome happened.\n");
        return CLI_EXIT_OK;
    }
    int failures = 0;
    uint8_t req[128], resp[128];
    size_t req_len = 0, resp_len = 0;
    const uint8_t token[] = {0x8c, 0x01};

    printf("1. The device builds a confirmable GET /sensors/temp\n");
    coap_builder_t b;
    coap_builder_init(&b, req, sizeof req, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_GET, 0x1a2b,
                      token, sizeof token);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "sensors", 7);
    coap_builder_add_option(&b, COAP_OPT_URI_PATH, "temp", 4);
    coap_builder_add_option_uint(&b, COAP_OPT_ACCEPT, 0);
    check(coap_builder_finish(&b, &req_len) == COAP_OK, "request encoded", &failures);
    print_hex("wire", req, req_len);

    printf("2. The server parses it and answers 2.05 Content\n");
    coap_msg_t m;
    coap_opt_t o;
    coap_opt_iter_t it;
    uint16_t bad;
    bool parsed = check(coap_msg_parse(&m, req, req_len) == COAP_OK, "request parsed", &failures);
    if (parsed) {
        check(coap_msg_check_critical(&m, NULL, 0, &bad) == COAP_OK,
              "no unrecognized critical option", &failures);
        coap_opt_iter_init(&it, &m);
        while (coap_opt_next(&it, &o))
            printf("  option %-8s %.*s\n", coap_opt_info(o.num)->name,
                   o.num == COAP_OPT_URI_PATH ? (int)o.len : 0, (const char *)o.val);
        coap_builder_init(&b, resp, sizeof resp, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, COAP_CONTENT,
                          m.mid, m.token, m.token_len);
        coap_builder_add_option_uint(&b, COAP_OPT_CONTENT_FORMAT, 0);
        coap_builder_set_payload(&b, (const uint8_t *)"21.5 C", 6);
        check(coap_builder_finish(&b, &resp_len) == COAP_OK, "response encoded", &failures);
        print_hex("wire", resp, resp_len);
    }

    printf("3. The device matches the response to its request\n");
    if (check(coap_msg_parse(&m, resp, resp_len) == COAP_OK, "response parsed", &failures)) {
        check(m.type == COAP_TYPE_ACK && m.mid == 0x1a2b, "piggybacked ACK, same message ID",
              &failures);
        check(m.token_len == sizeof token && memcmp(m.token, token, sizeof token) == 0,
              "same token", &failures);
        printf("  payload: %.*s\n", (int)m.payload_len, (const char *)m.payload);
    }

    printf("\n%s: %d check(s) failed\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? CLI_EXIT_PEER_REJECTED : CLI_EXIT_OK;
}
