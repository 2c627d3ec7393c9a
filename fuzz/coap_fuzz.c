/* libFuzzer: the CoAP parser for UDP, TCP and WebSocket framing. A UDP
 * message that parses must rebuild to the same bytes through the builder;
 * its Block1/Block2 options feed a bounded reassembly that carries over
 * from input to input, so out-of-order and oversized bodies are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/coap.h"

static uint8_t out[70000];
static uint8_t body_buf[2048];
static coap_body_t body = {.buf = body_buf, .cap = sizeof body_buf};

static void add_blocks(const coap_msg_t *m)
{
    coap_opt_t o;
    coap_block_t blk;
    if ((coap_msg_find_option(m, COAP_OPT_BLOCK1, &o) || coap_msg_find_option(m, COAP_OPT_BLOCK2, &o)) &&
        coap_block_decode(&o, &blk) && coap_body_add(&body, &blk, m->payload, m->payload_len) == COAP_OK &&
        body.len > body.cap)
        abort(); /* the body never outgrows its buffer */
}

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
        add_blocks(&m);
    }
    if (coap_tcp_frame_size(data, size, &frame) == COAP_OK && frame <= size &&
        coap_msg_parse_tcp(&m, data, frame) == COAP_OK)
        (void)coap_msg_check_critical(&m, NULL, 0, &bad);
    if (coap_msg_parse_ws(&m, data, size) == COAP_OK)
        (void)coap_msg_check_critical(&m, NULL, 0, &bad);
    return 0;
}
