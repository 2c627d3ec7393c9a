/* CoAP messaging endpoint: retransmission timing, piggybacked and separate
 * responses, deduplication, RST, NSTART, ping, Observe-style exchanges, and
 * a lossy link simulated in process with a fake clock (no sleeps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/coap_ep.h"
#include "testutil.h"

#define MAX_MSG 256

/* Deterministic "randomness": xorshift, so timings repeat exactly. */
static bool fake_random(void *arg, uint8_t *buf, size_t len)
{
    uint32_t *s = arg;
    for (size_t i = 0; i < len; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        buf[i] = (uint8_t)*s;
    }
    return true;
}

typedef struct {
    coap_ep_t ep;
    uint8_t mem[COAP_EP_MEM_SIZE(COAP_EP_SLOTS, MAX_MSG)];
    uint32_t seed;
} node_t;

static void node_init(node_t *n, uint32_t seed)
{
    coap_ep_config_t cfg;
    coap_ep_config_default(&cfg);
    n->seed = seed;
    cfg.random = fake_random;
    cfg.random_arg = &n->seed;
    assert_int_equal(coap_ep_init(&n->ep, n->mem, sizeof n->mem, MAX_MSG, &cfg, 0), COAP_OK);
}

static size_t build(uint8_t *buf, coap_type_t type, uint8_t code, const uint8_t *tok,
                    const char *path, const char *payload)
{
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, MAX_MSG, COAP_TRANSPORT_UDP, type, code, 0, tok, tok ? 4 : 0);
    if (path)
        coap_builder_add_option(&b, COAP_OPT_URI_PATH, path, strlen(path));
    if (payload)
        coap_builder_set_payload(&b, (const uint8_t *)payload, strlen(payload));
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    return n;
}

/* Takes the next datagram out of a node. */
static size_t take(node_t *n, uint8_t *out, coap_peer_t *to)
{
    size_t len;
    const uint8_t *p = coap_ep_send_buf(&n->ep, &len, to);
    if (!p)
        return 0;
    memcpy(out, p, len);
    coap_ep_send_ack(&n->ep);
    return len;
}

static const uint8_t tok[4] = {1, 2, 3, 4};

static void test_retransmission_schedule_then_timeout(void **state)
{
    (void)state;
    node_t c;
    node_init(&c, 7);
    uint8_t msg[MAX_MSG], out[MAX_MSG];
    size_t n = build(msg, COAP_TYPE_CON, COAP_GET, tok, "a", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n, false, 0), COAP_OK);
    coap_peer_t to;
    assert_int_equal(take(&c, out, &to), n);
    assert_int_equal(to, 1);
    uint16_t mid = (uint16_t)(out[2] << 8 | out[3]);
    cs_time_ms_t first = coap_ep_next_deadline(&c.ep);
    assert_true(first >= 2000 && first < 3000); /* ACK_TIMEOUT x [1, 1.5) */

    coap_ep_event_t ev;
    cs_time_ms_t now = 0, timeout = first;
    for (int r = 1; r <= 4; r++) {
        now = coap_ep_next_deadline(&c.ep);
        assert_true(now == timeout);
        assert_int_equal(coap_ep_tick(&c.ep, now, &ev), COAP_OK);
        assert_int_equal(ev.type, COAP_EV_NONE);
        assert_int_equal(take(&c, out, &to), n); /* same datagram, same MID */
        assert_int_equal((uint16_t)(out[2] << 8 | out[3]), mid);
        timeout = now + (first << r);
    }
    now = coap_ep_next_deadline(&c.ep);
    assert_true(now == timeout);
    assert_int_equal(coap_ep_tick(&c.ep, now, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_TIMEOUT);
    assert_memory_equal(ev.token, tok, 4);
    /* total wait is (2^5 - 1) x initial timeout, within MAX_TRANSMIT_WAIT */
    assert_true(now == 31 * first && now <= 93000);
    assert_true(coap_ep_next_deadline(&c.ep) == CS_TIME_NEVER);
}

static void test_piggybacked_response_and_duplicates(void **state)
{
    (void)state;
    node_t c, s;
    node_init(&c, 1);
    node_init(&s, 2);
    uint8_t msg[MAX_MSG], dg[MAX_MSG], resp[MAX_MSG];
    coap_peer_t to;
    coap_ep_event_t ev;
    size_t n = build(msg, COAP_TYPE_CON, COAP_GET, tok, "temp", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 9, msg, n, false, 0), COAP_OK);
    n = take(&c, dg, &to);

    assert_int_equal(coap_ep_input(&s.ep, 5, dg, n, 10, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_REQUEST);
    assert_int_equal(ev.peer, 5);
    assert_int_equal(ev.msg.code, COAP_GET);
    size_t rn = build(resp, COAP_TYPE_ACK, COAP_CONTENT, ev.msg.token, NULL, "22.5");
    assert_int_equal(coap_ep_respond(&s.ep, &ev, resp, rn, 10), COAP_OK);
    uint8_t ack[MAX_MSG];
    size_t an = take(&s, ack, &to);
    assert_int_equal(to, 5);
    assert_int_equal((ack[0] >> 4) & 3, COAP_TYPE_ACK);
    assert_memory_equal(ack + 2, dg + 2, 2); /* the request's MID */

    /* the ACK is lost: the client retransmits, the server repeats its
     * reply without a second event */
    assert_int_equal(coap_ep_input(&s.ep, 5, dg, n, 3000, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_NONE);
    uint8_t ack2[MAX_MSG];
    assert_int_equal(take(&s, ack2, &to), an);
    assert_memory_equal(ack2, ack, an);

    assert_int_equal(coap_ep_input(&c.ep, 9, ack, an, 3001, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_RESPONSE);
    assert_int_equal(ev.msg.payload_len, 4);
    assert_memory_equal(ev.msg.payload, "22.5", 4);
    /* the duplicate ACK finds no exchange */
    assert_int_equal(coap_ep_input(&c.ep, 9, ack, an, 3002, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_NONE);
    assert_true(coap_ep_next_deadline(&c.ep) == CS_TIME_NEVER);
}

static void test_separate_response(void **state)
{
    (void)state;
    node_t c, s;
    node_init(&c, 3);
    node_init(&s, 4);
    uint8_t msg[MAX_MSG], dg[MAX_MSG], resp[MAX_MSG], out[MAX_MSG];
    coap_peer_t to;
    coap_ep_event_t ev, req;
    size_t n = build(msg, COAP_TYPE_CON, COAP_GET, tok, "slow", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n, false, 0), COAP_OK);
    n = take(&c, dg, &to);
    assert_int_equal(coap_ep_input(&s.ep, 2, dg, n, 0, &req), COAP_OK);
    assert_int_equal(coap_ep_ack_request(&s.ep, &req), COAP_OK);
    size_t an = take(&s, out, &to);
    assert_int_equal(an, 4);
    assert_int_equal(coap_ep_input(&c.ep, 1, out, an, 5, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_NONE);
    /* no retransmission once ACKed: the next deadline is the exchange lifetime */
    assert_true(coap_ep_next_deadline(&c.ep) == 5 + 247000);

    size_t rn = build(resp, COAP_TYPE_CON, COAP_CONTENT, req.msg.token, NULL, "done");
    assert_int_equal(coap_ep_respond(&s.ep, &req, resp, rn, 1000), COAP_OK); /* becomes CON */
    rn = take(&s, out, &to);
    assert_int_equal((out[0] >> 4) & 3, COAP_TYPE_CON);
    assert_int_equal(coap_ep_input(&c.ep, 1, out, rn, 1001, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_RESPONSE);
    assert_memory_equal(ev.msg.payload, "done", 4);
    uint8_t ack[MAX_MSG];
    an = take(&c, ack, &to); /* client ACKs the separate response */
    assert_int_equal(an, 4);
    assert_int_equal((ack[0] >> 4) & 3, COAP_TYPE_ACK);
    assert_int_equal(coap_ep_input(&s.ep, 2, ack, an, 1002, &ev), COAP_OK);
    assert_true(coap_ep_next_deadline(&s.ep) > 1002 + 100000); /* only the dedup cache left */
}

static void test_reset_ping_and_unknown_response(void **state)
{
    (void)state;
    node_t c;
    node_init(&c, 5);
    uint8_t msg[MAX_MSG], dg[MAX_MSG], out[MAX_MSG];
    coap_peer_t to;
    coap_ep_event_t ev;
    size_t n = build(msg, COAP_TYPE_CON, COAP_GET, tok, "x", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n, false, 0), COAP_OK);
    n = take(&c, dg, &to);
    uint8_t rst[4] = {0x70, 0x00, dg[2], dg[3]};
    assert_int_equal(coap_ep_input(&c.ep, 1, rst, 4, 1, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_RESET);
    assert_memory_equal(ev.token, tok, 4);

    /* CoAP ping: empty CON gets RST; two before the host sends get two */
    uint8_t ping[4] = {0x40, 0x00, 0x12, 0x34}, ping2[4] = {0x40, 0x00, 0x12, 0x35};
    assert_int_equal(coap_ep_input(&c.ep, 3, ping, 4, 2, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_NONE);
    assert_int_equal(coap_ep_input(&c.ep, 4, ping2, 4, 2, &ev), COAP_OK);
    assert_int_equal(take(&c, out, &to), 4);
    assert_memory_equal(out, "\x70\x00\x12\x34", 4);
    assert_int_equal(to, 3);
    assert_int_equal(take(&c, out, &to), 4);
    assert_memory_equal(out, "\x70\x00\x12\x35", 4);
    assert_int_equal(to, 4);
    assert_int_equal(take(&c, out, &to), 0);

    /* a response nobody asked for is rejected with RST */
    n = build(msg, COAP_TYPE_NON, COAP_CONTENT, tok, NULL, "?");
    assert_int_equal(coap_ep_input(&c.ep, 3, msg, n, 3, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_NONE);
    assert_int_equal(take(&c, out, &to), 4);
    assert_int_equal(out[0], 0x70);

    /* a malformed CON gets RST; the parse error is returned */
    uint8_t bad[6] = {0x40, 0x01, 0x55, 0x66, 0xff, 0xff};
    bad[4] = 0xf1;
    assert_int_equal(coap_ep_input(&c.ep, 3, bad, 5, 4, &ev), COAP_ERR_OPTION_RESERVED);
    assert_int_equal(take(&c, out, &to), 4);
    assert_memory_equal(out, "\x70\x00\x55\x66", 4);
}

static void test_nstart_queues_second_request(void **state)
{
    (void)state;
    node_t c;
    node_init(&c, 6);
    uint8_t msg[MAX_MSG], dg[MAX_MSG];
    coap_peer_t to;
    coap_ep_event_t ev;
    const uint8_t tok2[4] = {9, 9, 9, 9};
    size_t n1 = build(msg, COAP_TYPE_CON, COAP_GET, tok, "1", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n1, false, 0), COAP_OK);
    size_t n2 = build(msg, COAP_TYPE_CON, COAP_GET, tok2, "2", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n2, false, 0), COAP_OK);
    size_t n = take(&c, dg, &to);
    assert_int_equal(take(&c, msg, &to), 0); /* the second waits */
    uint8_t ack[4] = {0x60, 0x00, dg[2], dg[3]};
    assert_int_equal(coap_ep_input(&c.ep, 1, ack, 4, 10, &ev), COAP_OK);
    n = take(&c, dg, &to); /* now it goes */
    assert_int_equal(n, n2);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, dg, n), COAP_OK);
    assert_memory_equal(m.token, tok2, 4);
}

static void test_observe_keeps_exchange_open(void **state)
{
    (void)state;
    node_t c;
    node_init(&c, 8);
    uint8_t msg[MAX_MSG], dg[MAX_MSG], out[MAX_MSG];
    coap_peer_t to;
    coap_ep_event_t ev;
    size_t n = build(msg, COAP_TYPE_CON, COAP_GET, tok, "obs", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n, true, 0), COAP_OK);
    take(&c, dg, &to);
    for (int i = 0; i < 3; i++) {
        size_t rn = build(msg, i == 0 ? COAP_TYPE_ACK : COAP_TYPE_CON, COAP_CONTENT, tok, NULL, "v");
        if (i == 0) {
            msg[2] = dg[2];
            msg[3] = dg[3];
        } else {
            msg[2] = 0x77;
            msg[3] = (uint8_t)i;
        }
        assert_int_equal(coap_ep_input(&c.ep, 1, msg, rn, 100 + (cs_time_ms_t)i, &ev), COAP_OK);
        assert_int_equal(ev.type, COAP_EV_RESPONSE);
        if (i > 0)
            assert_int_equal(take(&c, out, &to), 4); /* CON notification ACKed */
    }
    assert_true(coap_ep_next_deadline(&c.ep) == CS_TIME_NEVER);
    coap_ep_cancel(&c.ep, 1, tok, 4);
    size_t rn = build(msg, COAP_TYPE_NON, COAP_CONTENT, tok, NULL, "v");
    msg[3] = 99;
    assert_int_equal(coap_ep_input(&c.ep, 1, msg, rn, 200, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_NONE); /* cancelled: RST instead */
    assert_int_equal(take(&c, out, &to), 4);
    assert_int_equal(out[0], 0x70);
}

/* An application that keeps its observations itself: after the first
 * response it frees the exchange, and later notifications come as
 * unmatched responses it accepts (a CON one is ACKed) or rejects (RST). */
static void test_observations_kept_by_the_application(void **state)
{
    (void)state;
    node_t c;
    node_init(&c, 9);
    c.ep.cfg.deliver_unmatched = true;
    uint8_t msg[MAX_MSG], dg[MAX_MSG], out[MAX_MSG];
    coap_peer_t to;
    coap_ep_event_t ev;
    size_t n = build(msg, COAP_TYPE_CON, COAP_GET, tok, "obs", NULL);
    assert_int_equal(coap_ep_send_request(&c.ep, 1, msg, n, true, 0), COAP_OK);
    take(&c, dg, &to);
    size_t rn = build(msg, COAP_TYPE_ACK, COAP_CONTENT, tok, NULL, "v");
    msg[2] = dg[2];
    msg[3] = dg[3];
    assert_int_equal(coap_ep_input(&c.ep, 1, msg, rn, 10, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_RESPONSE);
    assert_false(ev.unmatched);
    coap_ep_cancel(&c.ep, 1, tok, 4); /* the slot is free again */
    /* a CON notification: delivered, nothing sent until the answer */
    rn = build(msg, COAP_TYPE_CON, COAP_CONTENT, tok, NULL, "w");
    msg[2] = 0x55;
    msg[3] = 1;
    assert_int_equal(coap_ep_input(&c.ep, 1, msg, rn, 20, &ev), COAP_OK);
    assert_int_equal(ev.type, COAP_EV_RESPONSE);
    assert_true(ev.unmatched);
    assert_memory_equal(ev.token, tok, 4);
    assert_int_equal(take(&c, out, &to), 0);
    assert_int_equal(coap_ep_answer_unmatched(&c.ep, &ev, true), COAP_OK);
    assert_int_equal(take(&c, out, &to), 4);
    assert_memory_equal(out, "\x60\x00\x55\x01", 4);
    /* a NON one the application does not know: RST */
    rn = build(msg, COAP_TYPE_NON, COAP_CONTENT, tok, NULL, "x");
    msg[2] = 0x55;
    msg[3] = 2;
    assert_int_equal(coap_ep_input(&c.ep, 1, msg, rn, 30, &ev), COAP_OK);
    assert_true(ev.unmatched);
    assert_int_equal(coap_ep_answer_unmatched(&c.ep, &ev, false), COAP_OK);
    assert_int_equal(take(&c, out, &to), 4);
    assert_memory_equal(out, "\x70\x00\x55\x02", 4);
    /* accepting a NON one sends nothing; a matched event is not answered so */
    rn = build(msg, COAP_TYPE_NON, COAP_CONTENT, tok, NULL, "y");
    msg[3] = 3;
    assert_int_equal(coap_ep_input(&c.ep, 1, msg, rn, 40, &ev), COAP_OK);
    assert_int_equal(coap_ep_answer_unmatched(&c.ep, &ev, true), COAP_OK);
    assert_int_equal(take(&c, out, &to), 0);
    ev.unmatched = false;
    assert_int_equal(coap_ep_answer_unmatched(&c.ep, &ev, true), COAP_ERR_BAD_ARG);
}

/* 200 requests over a link that drops ~30% of datagrams each way: every
 * request ends in a response or a timeout, and the server handles each
 * request exactly once despite retransmissions. */
static void test_lossy_link(void **state)
{
    (void)state;
    static node_t c, s;
    node_init(&c, 11);
    node_init(&s, 12);
    uint32_t loss = 99;
    uint8_t msg[MAX_MSG], dg[MAX_MSG];
    int handled[200] = {0}, outcome[200] = {0};
    int sent = 0, done = 0;
    cs_time_ms_t now = 0;
    while (done < 200 && now < 100000000) {
        if (sent < 200 && sent - done < 8) {
            uint8_t t[4] = {(uint8_t)sent, 0, 0, 0};
            size_t n = build(msg, COAP_TYPE_CON, COAP_POST, t, "x", NULL);
            if (coap_ep_send_request(&c.ep, 1, msg, n, false, now) == COAP_OK)
                sent++;
        }
        node_t *nodes[2] = {&c, &s};
        for (int k = 0; k < 2; k++) {
            coap_peer_t to;
            size_t n;
            while ((n = take(nodes[k], dg, &to)) > 0) {
                uint8_t r;
                fake_random(&loss, &r, 1);
                if (r < 77)
                    continue; /* dropped */
                coap_ep_event_t ev;
                node_t *dst = nodes[1 - k];
                assert_int_equal(coap_ep_input(&dst->ep, k == 0 ? 2 : 1, dg, n, now, &ev), COAP_OK);
                if (ev.type == COAP_EV_REQUEST) {
                    handled[ev.msg.token[0]]++;
                    uint8_t resp[MAX_MSG];
                    size_t rn = build(resp, COAP_TYPE_ACK, COAP_CHANGED, ev.msg.token, NULL, NULL);
                    assert_int_equal(coap_ep_respond(&dst->ep, &ev, resp, rn, now), COAP_OK);
                } else if (ev.type == COAP_EV_RESPONSE) {
                    assert_int_equal(outcome[ev.token[0]], 0);
                    outcome[ev.token[0]] = 1;
                    done++;
                }
            }
        }
        cs_time_ms_t next = coap_ep_next_deadline(&c.ep);
        cs_time_ms_t snext = coap_ep_next_deadline(&s.ep);
        now = (sent < 200 ? now + 1 : (next < snext ? next : snext));
        for (int k = 0; k < 2; k++) {
            coap_ep_event_t ev;
            do {
                assert_int_equal(coap_ep_tick(&nodes[k]->ep, now, &ev), COAP_OK);
                if (ev.type == COAP_EV_TIMEOUT && k == 0) {
                    assert_int_equal(outcome[ev.token[0]], 0);
                    outcome[ev.token[0]] = 2;
                    done++;
                }
            } while (ev.type != COAP_EV_NONE);
        }
    }
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        assert_true(outcome[i] != 0);
        assert_true(handled[i] <= 1);
        ok += outcome[i] == 1;
    }
    /* with 5 transmissions, a 30%-lossy round trip fails rarely */
    assert_true(ok >= 190);
}

/* RFC 7641 §4.5: a confirmable notification at least every 24 hours. */
static void test_observe_con_at_least_daily(void **state)
{
    (void)state;
    cs_time_ms_t last = 1000, day = COAP_OBSERVE_CON_INTERVAL_MS;
    assert_false(coap_observe_con_due(&last, 1000 + day - 1, false));
    assert_true(last == 1000);
    assert_true(coap_observe_con_due(&last, 1000 + day, false)); /* a day since the last */
    assert_true(last == 1000 + day);
    assert_false(coap_observe_con_due(&last, 1000 + day + 5, false));
    assert_true(coap_observe_con_due(&last, 1000 + day + 6, true)); /* the application's reason */
    assert_true(last == 1000 + day + 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retransmission_schedule_then_timeout),
        cmocka_unit_test(test_piggybacked_response_and_duplicates),
        cmocka_unit_test(test_separate_response),
        cmocka_unit_test(test_reset_ping_and_unknown_response),
        cmocka_unit_test(test_nstart_queues_second_request),
        cmocka_unit_test(test_observe_keeps_exchange_open),
        cmocka_unit_test(test_observations_kept_by_the_application),
        cmocka_unit_test(test_lossy_link),
        cmocka_unit_test(test_observe_con_at_least_daily),
    };
    return cmocka_run_group_tests_name("coap_ep", tests, NULL, NULL);
}
