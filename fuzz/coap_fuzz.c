/* libFuzzer: the CoAP parser for UDP, TCP and WebSocket framing. A UDP
 * message that parses must rebuild to the same bytes through the builder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/coap.h"

static uint8_t out[70000];

static void rebuild_udp(const coap_msg_t *m, const uint8_t *data, size_t size)
{
    coap_builder_t b;
    coap_opt_iter_t it;
    coap_opt_t o;
    size_t n;
    coap_builder_init(&b, out, sizeof out, COAP_TRANSPORT_UDP, (coap_type_t)m->type, m->code,
                      m->mid, m->token, m->token_len);
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o))
        coap_builder_add_option(&b, o.num, o.val, o.len);
    coap_builder_set_payload(&b, m->payload, m->payload_len);
    /* Non-minimal extended forms do not exist in CoAP, so the encoding is
     * unique and the round trip must be exact. */
    if (coap_builder_finish(&b, &n) != COAP_OK || n != size || memcmp(out, data, size) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    coap_msg_t m;
    uint16_t bad;
    size_t frame;
    if (coap_msg_parse(&m, data, size) == COAP_OK) {
        (void)coap_msg_check_critical(&m, NULL, 0, &bad);
        rebuild_udp(&m, data, size);
    }
    if (coap_tcp_frame_size(data, size, &frame) == COAP_OK && frame <= size &&
        coap_msg_parse_tcp(&m, data, frame) == COAP_OK)
        (void)coap_msg_check_critical(&m, NULL, 0, &bad);
    if (coap_msg_parse_ws(&m, data, size) == COAP_OK)
        (void)coap_msg_check_critical(&m, NULL, 0, &bad);
    return 0;
}
