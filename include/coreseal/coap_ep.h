/* coreseal/coap_ep.h: the sans-I/O CoAP messaging endpoint over UDP
 * (RFC 7252 §4: message IDs, CON retransmission with exponential back-off,
 * ACK/RST, deduplication for EXCHANGE_LIFETIME, piggybacked and separate
 * responses, NSTART; RFC 7641 §4.5: RST cancels, CON notifications ACKed).
 *
 * The engine owns no socket and no clock (BearSSL's caller-driven style):
 *   - coap_ep_input()  feeds a received datagram; it may yield one event;
 *   - coap_ep_tick()   feeds the time; it may yield one timeout event;
 *   - coap_ep_send_buf()/coap_ep_send_ack() drain datagrams to send;
 *   - coap_ep_next_deadline() says when to call tick next.
 * Peers are host-chosen handles (an index in the host's address table).
 * Events point into the input datagram and stay valid until the next call.
 * Message buffers live in caller memory given to coap_ep_init(). */
#ifndef CORESEAL_COAP_EP_H
#define CORESEAL_COAP_EP_H

#include "coreseal/coap.h"

#define COAP_EP_SLOTS 16 /* outstanding exchanges + cached replies */
#define COAP_EP_SEEN 64  /* remembered message IDs for deduplication */
#define COAP_EP_EMPTIES 32 /* empty ACK/RST messages queued at once */
/* Caller memory for `slots` messages of up to `max_msg` bytes each. */
#define COAP_EP_MEM_SIZE(slots, max_msg) ((size_t)(slots) * (size_t)(max_msg))

typedef uint32_t coap_peer_t;

typedef struct {
    uint32_t ack_timeout_ms;        /* ACK_TIMEOUT, 2000 */
    uint16_t ack_random_permille;   /* ACK_RANDOM_FACTOR x 1000, 1500 */
    uint8_t max_retransmit;         /* MAX_RETRANSMIT, 4 */
    uint8_t nstart;                 /* NSTART, 1 */
    uint32_t exchange_lifetime_ms;  /* EXCHANGE_LIFETIME, 247000 */
    uint32_t non_lifetime_ms;       /* NON_LIFETIME, 145000 */
    /* Responses no exchange waits for are answered with RST (RFC 7641
     * §3.6) unless this is set: then they are delivered as RESPONSE events
     * with `unmatched` set, for an application that keeps its observations
     * itself (coap_ep_cancel() after the first response frees the slot),
     * and it answers them with coap_ep_answer_unmatched(). */
    bool deliver_unmatched;
    /* randomness for message IDs, tokens and back-off jitter */
    bool (*random)(void *arg, uint8_t *buf, size_t len);
    void *random_arg;
} coap_ep_config_t;

/* RFC 7252 §4.8 defaults. */
void coap_ep_config_default(coap_ep_config_t *cfg);

typedef enum {
    COAP_EV_NONE,
    COAP_EV_REQUEST,  /* msg: a new (not duplicate) request; answer with coap_ep_respond */
    COAP_EV_RESPONSE, /* msg: a response (or notification) for the request with this token */
    COAP_EV_TIMEOUT,  /* token: no ACK after MAX_RETRANSMIT, or no response in time */
    COAP_EV_RESET,    /* token: the peer answered the request with RST */
} coap_ev_type_t;

typedef struct {
    coap_ev_type_t type;
    coap_peer_t peer;
    coap_msg_t msg;                      /* REQUEST and RESPONSE */
    uint8_t token[COAP_MAX_TOKEN_LEN];   /* every event */
    uint8_t token_len;
    bool unmatched;                      /* RESPONSE for no exchange (deliver_unmatched) */
} coap_ep_event_t;

typedef enum {
    COAP_SLOT_FREE,
    COAP_SLOT_QUEUED,       /* request waiting for NSTART */
    COAP_SLOT_WAIT_ACK,     /* CON sent, retransmitting */
    COAP_SLOT_WAIT_RESPONSE,/* ACKed (or NON) request awaiting its response */
    COAP_SLOT_REPLY,        /* reply kept to answer duplicates */
    COAP_SLOT_NOTIFY,       /* CON notification / separate response awaiting ACK */
} coap_slot_state_t;

typedef struct {
    uint8_t state;
    bool send_pending;
    bool keep;          /* request: deliver every response (Observe) until cancelled */
    uint8_t retransmits;
    coap_peer_t peer;
    uint16_t mid;
    uint8_t token[COAP_MAX_TOKEN_LEN], token_len;
    uint32_t timeout_ms;
    cs_time_ms_t deadline;
    size_t len;
    uint8_t *buf;
} coap_ep_slot_t;

typedef struct {
    coap_peer_t peer;
    uint16_t mid;
    int8_t reply;       /* slot holding our reply, or -1 */
    bool used;
    cs_time_ms_t expires;
} coap_ep_seen_t;

typedef struct {
    coap_ep_config_t cfg;
    size_t max_msg;
    uint16_t next_mid;
    coap_ep_slot_t slots[COAP_EP_SLOTS];
    coap_ep_seen_t seen[COAP_EP_SEEN];
    /* empty ACKs/RSTs waiting for send_buf, oldest first; a batch of input
     * may answer several before the host sends (the oldest is dropped when
     * more than COAP_EP_EMPTIES wait: its peer retransmits) */
    uint8_t empty[COAP_EP_EMPTIES][4];
    coap_peer_t empty_peer[COAP_EP_EMPTIES];
    uint8_t empty_head, empty_len;
    int sending;          /* slot returned by send_buf, -1 for an empty one, -2 none */
} coap_ep_t;

/* mem: COAP_EP_MEM_SIZE(COAP_EP_SLOTS, max_msg) bytes. */
CS_MUST_CHECK coap_err_t coap_ep_init(coap_ep_t *ep, uint8_t *mem, size_t mem_len, size_t max_msg,
                                      const coap_ep_config_t *cfg, cs_time_ms_t now);

/* A fresh random token of `len` bytes (8 by default per issue #4). */
CS_MUST_CHECK coap_err_t coap_ep_new_token(coap_ep_t *ep, uint8_t *token, size_t len);

/* Sends a request (already built, possibly OSCORE-protected): the engine
 * sets its message ID. `keep` keeps the exchange open for every response
 * with its token (Observe) until coap_ep_cancel(). */
CS_MUST_CHECK coap_err_t coap_ep_send_request(coap_ep_t *ep, coap_peer_t peer, const uint8_t *msg,
                                              size_t len, bool keep, cs_time_ms_t now);
/* Forgets an exchange (the token's responses are no longer delivered). */
void coap_ep_cancel(coap_ep_t *ep, coap_peer_t peer, const uint8_t *token, size_t token_len);

/* Answers a REQUEST event: piggybacked in the ACK of a CON request,
 * as NON for a NON request. The engine sets type and message ID. */
CS_MUST_CHECK coap_err_t coap_ep_respond(coap_ep_t *ep, const coap_ep_event_t *req,
                                         const uint8_t *msg, size_t len, cs_time_ms_t now);
/* RFC 7641 §4.5: whether the next notification of an observation goes
 * confirmable: when `also` (the application's own reason), and at least
 * once every COAP_OBSERVE_CON_INTERVAL_MS, so a server notices an observer
 * that is gone. *last_con is the observation's time of its last CON one
 * (set it when the observation starts); it moves when this says true. */
#define COAP_OBSERVE_CON_INTERVAL_MS (24LL * 3600 * 1000)
bool coap_observe_con_due(cs_time_ms_t *last_con, cs_time_ms_t now, bool also);
/* Sends a message outside any request: a notification or a separate
 * response; CON ones are retransmitted until ACKed. */
CS_MUST_CHECK coap_err_t coap_ep_send_separate(coap_ep_t *ep, coap_peer_t peer,
                                               const uint8_t *msg, size_t len, bool confirmable,
                                               cs_time_ms_t now);
/* An unmatched response (a notification the application keeps): accepted
 * (a CON one is ACKed) or rejected with RST, which ends the observation at
 * the sender. */
CS_MUST_CHECK coap_err_t coap_ep_answer_unmatched(coap_ep_t *ep, const coap_ep_event_t *ev, bool accept);
/* Acknowledges a CON request now, for a separate response later. */
CS_MUST_CHECK coap_err_t coap_ep_ack_request(coap_ep_t *ep, const coap_ep_event_t *req);

CS_MUST_CHECK coap_err_t coap_ep_input(coap_ep_t *ep, coap_peer_t from, const uint8_t *dgram,
                                       size_t len, cs_time_ms_t now, coap_ep_event_t *ev);
CS_MUST_CHECK coap_err_t coap_ep_tick(coap_ep_t *ep, cs_time_ms_t now, coap_ep_event_t *ev);
cs_time_ms_t coap_ep_next_deadline(const coap_ep_t *ep);

/* Next datagram to send, or NULL; then coap_ep_send_ack() once it went. */
const uint8_t *coap_ep_send_buf(coap_ep_t *ep, size_t *len, coap_peer_t *to);
void coap_ep_send_ack(coap_ep_t *ep);

#endif
