/* CoAP messaging endpoint, sans-I/O: RFC 7252 §4 (reliability, message
 * IDs, deduplication, ACK/RST, piggybacked/separate responses, NSTART
 * §4.7) and the transmission parameters of §4.8. */
#include "coreseal/coap_ep.h"

#include <string.h>

void coap_ep_config_default(coap_ep_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ack_timeout_ms = 2000;
    cfg->ack_random_permille = 1500;
    cfg->max_retransmit = 4;
    cfg->nstart = 1;
    cfg->exchange_lifetime_ms = 247000;
    cfg->non_lifetime_ms = 145000;
}

coap_err_t coap_ep_init(coap_ep_t *ep, uint8_t *mem, size_t mem_len, size_t max_msg,
                        const coap_ep_config_t *cfg, cs_time_ms_t now)
{
    (void)now;
    if (!ep || !mem || !cfg || !cfg->random || max_msg < 16 || cfg->nstart == 0 ||
        cfg->ack_random_permille < 1000 || mem_len < COAP_EP_MEM_SIZE(COAP_EP_SLOTS, max_msg))
        return COAP_ERR_BAD_ARG;
    memset(ep, 0, sizeof *ep);
    ep->cfg = *cfg;
    ep->max_msg = max_msg;
    for (size_t i = 0; i < COAP_EP_SLOTS; i++)
        ep->slots[i].buf = mem + i * max_msg;
    uint8_t r[2];
    if (!cfg->random(cfg->random_arg, r, sizeof r))
        return COAP_ERR_BAD_ARG;
    ep->next_mid = (uint16_t)(r[0] << 8 | r[1]);
    ep->sending = -2;
    return COAP_OK;
}

coap_err_t coap_ep_new_token(coap_ep_t *ep, uint8_t *token, size_t len)
{
    if (!ep || !token || len == 0 || len > COAP_MAX_TOKEN_LEN)
        return COAP_ERR_BAD_ARG;
    return ep->cfg.random(ep->cfg.random_arg, token, len) ? COAP_OK : COAP_ERR_BAD_STATE;
}

/* ACK_TIMEOUT scaled by a random factor in [1, ACK_RANDOM_FACTOR) (§4.2). */
static uint32_t initial_timeout(coap_ep_t *ep)
{
    uint8_t r[2] = {0, 0};
    (void)ep->cfg.random(ep->cfg.random_arg, r, sizeof r);
    /* 32-bit arithmetic: no 64-bit division helper on small targets */
    uint32_t span = ep->cfg.ack_timeout_ms / 1000u * (ep->cfg.ack_random_permille - 1000u) +
                    ep->cfg.ack_timeout_ms % 1000u * (ep->cfg.ack_random_permille - 1000u) / 1000u;
    return ep->cfg.ack_timeout_ms + (uint32_t)(((uint64_t)span * (uint32_t)(r[0] << 8 | r[1])) >> 16);
}

static void set_header(uint8_t *buf, coap_type_t type, uint16_t mid)
{
    buf[0] = (uint8_t)((buf[0] & 0xcf) | (unsigned)type << 4);
    buf[2] = (uint8_t)(mid >> 8);
    buf[3] = (uint8_t)mid;
}

static void forget_reply(coap_ep_t *ep, int slot)
{
    for (size_t i = 0; i < COAP_EP_SEEN; i++)
        if (ep->seen[i].used && ep->seen[i].reply == slot)
            ep->seen[i].reply = -1;
}

static void free_slot(coap_ep_t *ep, int i)
{
    if (ep->slots[i].state == COAP_SLOT_REPLY)
        forget_reply(ep, i);
    if (ep->sending == i)
        ep->sending = -2;
    uint8_t *buf = ep->slots[i].buf;
    memset(&ep->slots[i], 0, sizeof ep->slots[i]);
    ep->slots[i].buf = buf;
}

/* A free slot; cached replies are only a convenience and may be evicted,
 * the one closest to expiry first. -1 if every slot is busy. */
static int alloc_slot(coap_ep_t *ep)
{
    int victim = -1;
    for (int i = 0; i < COAP_EP_SLOTS; i++) {
        const coap_ep_slot_t *s = &ep->slots[i];
        if (s->state == COAP_SLOT_FREE)
            return i;
        if (s->state == COAP_SLOT_REPLY && !s->send_pending &&
            (victim < 0 || s->deadline < ep->slots[victim].deadline))
            victim = i;
    }
    if (victim >= 0)
        free_slot(ep, victim);
    return victim;
}

static int fill_slot(coap_ep_t *ep, coap_peer_t peer, const uint8_t *msg, size_t len,
                     const coap_msg_t *m)
{
    int i = alloc_slot(ep);
    if (i < 0)
        return -1;
    coap_ep_slot_t *s = &ep->slots[i];
    memcpy(s->buf, msg, len);
    s->len = len;
    s->peer = peer;
    s->token_len = m->token_len;
    memcpy(s->token, m->token, m->token_len);
    return i;
}

static unsigned outstanding_con(const coap_ep_t *ep, coap_peer_t peer)
{
    unsigned n = 0;
    for (size_t i = 0; i < COAP_EP_SLOTS; i++)
        n += ep->slots[i].state == COAP_SLOT_WAIT_ACK && ep->slots[i].peer == peer;
    return n;
}

static void start_con(coap_ep_t *ep, coap_ep_slot_t *s, cs_time_ms_t now)
{
    s->state = COAP_SLOT_WAIT_ACK;
    s->send_pending = true;
    s->retransmits = 0;
    s->timeout_ms = initial_timeout(ep);
    s->deadline = now + s->timeout_ms;
}

/* NSTART (§4.7): queued requests start as earlier ones complete. */
static void start_queued(coap_ep_t *ep, coap_peer_t peer, cs_time_ms_t now)
{
    for (size_t i = 0; i < COAP_EP_SLOTS && outstanding_con(ep, peer) < ep->cfg.nstart; i++)
        if (ep->slots[i].state == COAP_SLOT_QUEUED && ep->slots[i].peer == peer)
            start_con(ep, &ep->slots[i], now);
}

static coap_err_t parse_udp(const uint8_t *msg, size_t len, size_t max, coap_msg_t *m)
{
    if (!msg || len > max)
        return msg ? COAP_ERR_NO_SPACE : COAP_ERR_BAD_ARG;
    return coap_msg_parse(m, msg, len);
}

coap_err_t coap_ep_send_request(coap_ep_t *ep, coap_peer_t peer, const uint8_t *msg, size_t len,
                                bool keep, cs_time_ms_t now)
{
    coap_msg_t m;
    coap_err_t err = parse_udp(msg, len, ep->max_msg, &m);
    if (err != COAP_OK)
        return err;
    if (m.type != COAP_TYPE_CON && m.type != COAP_TYPE_NON)
        return COAP_ERR_BAD_ARG;
    int i = fill_slot(ep, peer, msg, len, &m);
    if (i < 0)
        return COAP_ERR_BUSY;
    coap_ep_slot_t *s = &ep->slots[i];
    s->mid = ep->next_mid++;
    s->keep = keep;
    set_header(s->buf, (coap_type_t)m.type, s->mid);
    if (m.type == COAP_TYPE_NON) {
        s->state = COAP_SLOT_WAIT_RESPONSE;
        s->send_pending = true;
        s->deadline = keep ? CS_TIME_NEVER : now + ep->cfg.non_lifetime_ms;
    } else if (outstanding_con(ep, peer) >= ep->cfg.nstart) {
        s->state = COAP_SLOT_QUEUED;
    } else {
        start_con(ep, s, now);
    }
    return COAP_OK;
}

void coap_ep_cancel(coap_ep_t *ep, coap_peer_t peer, const uint8_t *token, size_t token_len)
{
    for (int i = 0; i < COAP_EP_SLOTS; i++) {
        coap_ep_slot_t *s = &ep->slots[i];
        if ((s->state == COAP_SLOT_WAIT_ACK || s->state == COAP_SLOT_WAIT_RESPONSE ||
             s->state == COAP_SLOT_QUEUED) &&
            s->peer == peer && s->token_len == token_len && memcmp(s->token, token, token_len) == 0)
            free_slot(ep, i);
    }
}

static coap_ep_seen_t *find_seen(coap_ep_t *ep, coap_peer_t peer, uint16_t mid, cs_time_ms_t now)
{
    for (size_t i = 0; i < COAP_EP_SEEN; i++) {
        coap_ep_seen_t *e = &ep->seen[i];
        if (e->used && e->peer == peer && e->mid == mid && e->expires > now)
            return e;
    }
    return NULL;
}

static void remember(coap_ep_t *ep, coap_peer_t peer, uint16_t mid, cs_time_ms_t expires)
{
    coap_ep_seen_t *victim = &ep->seen[0];
    for (size_t i = 0; i < COAP_EP_SEEN; i++) {
        coap_ep_seen_t *e = &ep->seen[i];
        if (!e->used || e->expires < victim->expires || !victim->used) {
            victim = e;
            if (!e->used)
                break;
        }
    }
    *victim = (coap_ep_seen_t){.peer = peer, .mid = mid, .reply = -1, .used = true,
                               .expires = expires};
}

static void send_empty(coap_ep_t *ep, coap_peer_t peer, coap_type_t type, uint16_t mid)
{
    if (ep->empty_len == COAP_EP_EMPTIES) { /* full: the oldest goes */
        ep->empty_head = (uint8_t)((ep->empty_head + 1) % COAP_EP_EMPTIES);
        ep->empty_len--;
    }
    size_t i = (ep->empty_head + ep->empty_len++) % COAP_EP_EMPTIES;
    ep->empty[i][0] = (uint8_t)(0x40 | (unsigned)type << 4);
    ep->empty[i][1] = COAP_CODE_EMPTY;
    ep->empty[i][2] = (uint8_t)(mid >> 8);
    ep->empty[i][3] = (uint8_t)mid;
    ep->empty_peer[i] = peer;
}

coap_err_t coap_ep_respond(coap_ep_t *ep, const coap_ep_event_t *req, const uint8_t *msg,
                           size_t len, cs_time_ms_t now)
{
    coap_msg_t m;
    if (!req || req->type != COAP_EV_REQUEST)
        return COAP_ERR_BAD_ARG;
    coap_err_t err = parse_udp(msg, len, ep->max_msg, &m);
    if (err != COAP_OK)
        return err;
    coap_ep_seen_t *seen = find_seen(ep, req->peer, req->msg.mid, now);
    bool con = req->msg.type == COAP_TYPE_CON;
    if (con && seen && seen->reply == -2) /* already acknowledged: separate */
        return coap_ep_send_separate(ep, req->peer, msg, len, true, now);
    int i = fill_slot(ep, req->peer, msg, len, &m);
    if (i < 0)
        return COAP_ERR_BUSY;
    coap_ep_slot_t *s = &ep->slots[i];
    s->mid = con ? req->msg.mid : ep->next_mid++;
    set_header(s->buf, con ? COAP_TYPE_ACK : COAP_TYPE_NON, s->mid);
    s->state = COAP_SLOT_REPLY;
    s->send_pending = true;
    s->deadline = now + (con ? ep->cfg.exchange_lifetime_ms : ep->cfg.non_lifetime_ms);
    if (seen)
        seen->reply = (int8_t)i;
    return COAP_OK;
}

coap_err_t coap_ep_send_separate(coap_ep_t *ep, coap_peer_t peer, const uint8_t *msg, size_t len,
                                 bool confirmable, cs_time_ms_t now)
{
    coap_msg_t m;
    coap_err_t err = parse_udp(msg, len, ep->max_msg, &m);
    if (err != COAP_OK)
        return err;
    int i = fill_slot(ep, peer, msg, len, &m);
    if (i < 0)
        return COAP_ERR_BUSY;
    coap_ep_slot_t *s = &ep->slots[i];
    s->mid = ep->next_mid++;
    set_header(s->buf, confirmable ? COAP_TYPE_CON : COAP_TYPE_NON, s->mid);
    if (confirmable) {
        start_con(ep, s, now);
        s->state = COAP_SLOT_NOTIFY;
    } else {
        /* kept only until sent; a NON needs no state (§4.3) */
        s->state = COAP_SLOT_REPLY;
        s->send_pending = true;
        s->deadline = now;
    }
    return COAP_OK;
}

coap_err_t coap_ep_ack_request(coap_ep_t *ep, const coap_ep_event_t *req)
{
    if (!ep || !req || req->type != COAP_EV_REQUEST || req->msg.type != COAP_TYPE_CON)
        return COAP_ERR_BAD_ARG;
    send_empty(ep, req->peer, COAP_TYPE_ACK, req->msg.mid);
    for (size_t i = 0; i < COAP_EP_SEEN; i++)
        if (ep->seen[i].used && ep->seen[i].peer == req->peer && ep->seen[i].mid == req->msg.mid)
            ep->seen[i].reply = -2; /* acknowledged, reply comes separately */
    return COAP_OK;
}

static void event_token(coap_ep_event_t *ev, coap_ev_type_t type, coap_peer_t peer,
                        const uint8_t *token, size_t len)
{
    ev->type = type;
    ev->peer = peer;
    ev->token_len = (uint8_t)len;
    memcpy(ev->token, token, len);
}

/* ACK or RST for one of our CON messages. */
static void input_ack_rst(coap_ep_t *ep, coap_peer_t from, const coap_msg_t *m,
                          cs_time_ms_t now, coap_ep_event_t *ev)
{
    for (int i = 0; i < COAP_EP_SLOTS; i++) {
        coap_ep_slot_t *s = &ep->slots[i];
        if ((s->state != COAP_SLOT_WAIT_ACK && s->state != COAP_SLOT_NOTIFY) || s->peer != from ||
            s->mid != m->mid)
            continue;
        bool request = s->state == COAP_SLOT_WAIT_ACK;
        if (m->type == COAP_TYPE_RST) {
            event_token(ev, COAP_EV_RESET, from, s->token, s->token_len);
            free_slot(ep, i);
        } else if (!request) {
            free_slot(ep, i); /* notification or separate response delivered */
        } else if (m->code == COAP_CODE_EMPTY) {
            s->state = COAP_SLOT_WAIT_RESPONSE; /* separate response follows */
            s->send_pending = false;
            s->deadline = s->keep ? CS_TIME_NEVER : now + ep->cfg.exchange_lifetime_ms;
        } else if (m->token_len == s->token_len && memcmp(m->token, s->token, s->token_len) == 0) {
            event_token(ev, COAP_EV_RESPONSE, from, s->token, s->token_len);
            ev->msg = *m;
            if (s->keep) {
                s->state = COAP_SLOT_WAIT_RESPONSE;
                s->send_pending = false;
                s->deadline = CS_TIME_NEVER;
            } else {
                free_slot(ep, i);
            }
        } else {
            return; /* piggybacked response with a foreign token: ignore */
        }
        if (request)
            start_queued(ep, from, now);
        return;
    }
}

static void input_response(coap_ep_t *ep, coap_peer_t from, const coap_msg_t *m,
                           cs_time_ms_t now, coap_ep_event_t *ev)
{
    for (int i = 0; i < COAP_EP_SLOTS; i++) {
        coap_ep_slot_t *s = &ep->slots[i];
        if ((s->state != COAP_SLOT_WAIT_RESPONSE && s->state != COAP_SLOT_WAIT_ACK) ||
            s->peer != from || s->token_len != m->token_len ||
            memcmp(s->token, m->token, m->token_len) != 0)
            continue;
        if (m->type == COAP_TYPE_CON)
            send_empty(ep, from, COAP_TYPE_ACK, m->mid);
        event_token(ev, COAP_EV_RESPONSE, from, s->token, s->token_len);
        ev->msg = *m;
        bool was_con = s->state == COAP_SLOT_WAIT_ACK;
        if (s->keep) {
            s->state = COAP_SLOT_WAIT_RESPONSE;
            s->send_pending = false;
            s->deadline = CS_TIME_NEVER;
        } else {
            free_slot(ep, i);
        }
        if (was_con)
            start_queued(ep, from, now);
        return;
    }
    if (ep->cfg.deliver_unmatched) { /* the application knows its observations */
        event_token(ev, COAP_EV_RESPONSE, from, m->token, m->token_len);
        ev->msg = *m;
        ev->unmatched = true;
        return;
    }
    /* Nobody asked (RFC 7641 §3.6: this also ends a stale observation). */
    send_empty(ep, from, COAP_TYPE_RST, m->mid);
}

coap_err_t coap_ep_answer_unmatched(coap_ep_t *ep, const coap_ep_event_t *ev, bool accept)
{
    if (!ep || !ev || ev->type != COAP_EV_RESPONSE || !ev->unmatched)
        return COAP_ERR_BAD_ARG;
    if (!accept || ev->msg.type == COAP_TYPE_CON)
        send_empty(ep, ev->peer, accept ? COAP_TYPE_ACK : COAP_TYPE_RST, ev->msg.mid);
    return COAP_OK;
}

coap_err_t coap_ep_input(coap_ep_t *ep, coap_peer_t from, const uint8_t *dgram, size_t len,
                         cs_time_ms_t now, coap_ep_event_t *ev)
{
    if (!ep || !dgram || !ev)
        return COAP_ERR_BAD_ARG;
    ev->type = COAP_EV_NONE;
    ev->unmatched = false;
    coap_msg_t m;
    coap_err_t err = coap_msg_parse(&m, dgram, len);
    if (err != COAP_OK) {
        /* §4.2: a malformed CON is rejected with RST; anything else dropped */
        if (len >= 4 && (dgram[0] >> 6) == 1 && ((dgram[0] >> 4) & 3) == COAP_TYPE_CON)
            send_empty(ep, from, COAP_TYPE_RST, (uint16_t)(dgram[2] << 8 | dgram[3]));
        return err;
    }
    if (m.type == COAP_TYPE_ACK || m.type == COAP_TYPE_RST) {
        input_ack_rst(ep, from, &m, now, ev);
        return COAP_OK;
    }
    if (m.code == COAP_CODE_EMPTY) {
        if (m.type == COAP_TYPE_CON) /* CoAP ping (§4.3) */
            send_empty(ep, from, COAP_TYPE_RST, m.mid);
        return COAP_OK;
    }
    coap_ep_seen_t *seen = find_seen(ep, from, m.mid, now);
    if (seen) {
        /* duplicate: repeat our reply, or our empty ACK, never the event */
        if (m.type == COAP_TYPE_CON) {
            if (seen->reply >= 0)
                ep->slots[seen->reply].send_pending = true;
            else if (seen->reply == -2 || COAP_CODE_CLASS(m.code) != 0)
                send_empty(ep, from, COAP_TYPE_ACK, m.mid);
        }
        return COAP_OK;
    }
    remember(ep, from, m.mid,
             now + (m.type == COAP_TYPE_CON ? ep->cfg.exchange_lifetime_ms : ep->cfg.non_lifetime_ms));
    if (COAP_CODE_CLASS(m.code) == 0) {
        event_token(ev, COAP_EV_REQUEST, from, m.token, m.token_len);
        ev->msg = m;
        return COAP_OK;
    }
    if (COAP_CODE_CLASS(m.code) >= 2 && COAP_CODE_CLASS(m.code) <= 5) {
        input_response(ep, from, &m, now, ev);
        return COAP_OK;
    }
    if (m.type == COAP_TYPE_CON) /* classes 1, 6, 7 are reserved */
        send_empty(ep, from, COAP_TYPE_RST, m.mid);
    return COAP_OK;
}

coap_err_t coap_ep_tick(coap_ep_t *ep, cs_time_ms_t now, coap_ep_event_t *ev)
{
    if (!ep || !ev)
        return COAP_ERR_BAD_ARG;
    ev->type = COAP_EV_NONE;
    for (int i = 0; i < COAP_EP_SLOTS; i++) {
        coap_ep_slot_t *s = &ep->slots[i];
        if (s->state == COAP_SLOT_FREE || s->state == COAP_SLOT_QUEUED || s->deadline > now)
            continue;
        if (s->state == COAP_SLOT_REPLY) {
            if (!s->send_pending)
                free_slot(ep, i);
            continue;
        }
        if ((s->state == COAP_SLOT_WAIT_ACK || s->state == COAP_SLOT_NOTIFY) &&
            s->retransmits < ep->cfg.max_retransmit) {
            s->retransmits++;
            s->timeout_ms *= 2;
            s->deadline = now + s->timeout_ms;
            s->send_pending = true;
            continue;
        }
        coap_peer_t peer = s->peer;
        bool request = s->state != COAP_SLOT_NOTIFY;
        event_token(ev, COAP_EV_TIMEOUT, peer, s->token, s->token_len);
        free_slot(ep, i);
        if (request)
            start_queued(ep, peer, now);
        return COAP_OK;
    }
    return COAP_OK;
}

cs_time_ms_t coap_ep_next_deadline(const coap_ep_t *ep)
{
    cs_time_ms_t next = CS_TIME_NEVER;
    for (size_t i = 0; i < COAP_EP_SLOTS; i++) {
        const coap_ep_slot_t *s = &ep->slots[i];
        if (s->state != COAP_SLOT_FREE && s->state != COAP_SLOT_QUEUED && s->deadline < next)
            next = s->deadline;
    }
    return next;
}

const uint8_t *coap_ep_send_buf(coap_ep_t *ep, size_t *len, coap_peer_t *to)
{
    if (ep->empty_len) {
        ep->sending = -1;
        *len = 4;
        *to = ep->empty_peer[ep->empty_head];
        return ep->empty[ep->empty_head];
    }
    for (int i = 0; i < COAP_EP_SLOTS; i++) {
        coap_ep_slot_t *s = &ep->slots[i];
        if (s->state != COAP_SLOT_FREE && s->send_pending) {
            ep->sending = i;
            *len = s->len;
            *to = s->peer;
            return s->buf;
        }
    }
    ep->sending = -2;
    return NULL;
}

void coap_ep_send_ack(coap_ep_t *ep)
{
    if (ep->sending == -1 && ep->empty_len) {
        ep->empty_head = (uint8_t)((ep->empty_head + 1) % COAP_EP_EMPTIES);
        ep->empty_len--;
    }
    else if (ep->sending >= 0)
        ep->slots[ep->sending].send_pending = false;
    ep->sending = -2;
}

bool coap_observe_con_due(cs_time_ms_t *last_con, cs_time_ms_t now, bool also)
{
    if (!also && now - *last_con < COAP_OBSERVE_CON_INTERVAL_MS)
        return false;
    *last_con = now;
    return true;
}
