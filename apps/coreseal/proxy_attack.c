/* The adversary of `coreseal proxy --attack` (proxy_attack.h). */
#define _POSIX_C_SOURCE 200809L
#include "proxy_attack.h"

#include <string.h>

#include "cli.h"

enum {
    ATK_FLIP, ATK_DROP, ATK_REPLAY, ATK_STRIP, ATK_SUBST, ATK_INJECT, ATK_DELAY, ATK_REORDER, ATK_TAMPER
};
static const char *const attack_names[N_ATTACKS] = {"flip",   "drop",  "replay",  "strip", "subst",
                                                    "inject", "delay", "reorder", "tamper"};

volatile sig_atomic_t atk_step;

static uint32_t rand32(attacker_t *a)
{
    uint32_t v = 0;
    (void)cli_random(a->crypto, (uint8_t *)&v, sizeof v);
    return v;
}

void atk_init(attacker_t *a, cs_crypto_t *crypto)
{
    memset(a, 0, sizeof *a);
    a->rate = 100;
    a->delay_ms = 300;
    a->crypto = crypto;
}

bool atk_parse(attacker_t *a, const char *list, char *bad, size_t bad_cap)
{
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < N_ATTACKS && found < 0; i++)
            if (strlen(attack_names[i]) == len && !memcmp(attack_names[i], p, len))
                found = i;
        if (found < 0) {
            snprintf(bad, bad_cap, "%.*s", (int)len, p);
            return false;
        }
        if (!(a->modes & (1u << found)))
            a->order[a->n_order++] = found;
        a->modes |= 1u << found;
        p += len + (p[len] == ',');
    }
    return a->modes != 0;
}

void atk_print_counts(const attacker_t *a, FILE *f)
{
    for (int i = 0; i < N_ATTACKS; i++)
        fprintf(f, "%s%s %lu", i ? ", " : "", attack_names[i], a->tried[i]);
}

/* Option injection: a request gains Uri-Query "first=1" (which makes the
 * interop resource /oscore/hello/2 answer with an ETag), a response an
 * ETag. Over OSCORE both are outer Class E options the endpoint discards
 * (RFC 8613 §8.2, §8.4): the injection has no effect. */
static bool inject(uint8_t *d, size_t *n, bool request)
{
    coap_msg_t m;
    uint8_t out[ATK_MSG_MAX], arena[ATK_MSG_MAX];
    coap_opt_t list[48], o;
    coap_optlist_t l;
    coap_builder_t b;
    size_t len;
    if (coap_msg_parse(&m, d, *n) != COAP_OK || m.code == COAP_CODE_EMPTY)
        return false;
    coap_optlist_init(&l, list, 48, arena, sizeof arena);
    coap_opt_iter_t it;
    coap_opt_iter_init(&it, &m);
    while (coap_opt_next(&it, &o))
        coap_optlist_add(&l, o.num, o.val, o.len);
    if (request)
        coap_optlist_add(&l, COAP_OPT_URI_QUERY, "first=1", 7);
    else
        coap_optlist_add(&l, COAP_OPT_ETAG, "\x66", 1);
    coap_builder_init(&b, out, sizeof out, COAP_TRANSPORT_UDP, (coap_type_t)m.type, m.code, m.mid, m.token,
                      m.token_len);
    if (coap_optlist_write(&l, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, m.payload, m.payload_len);
    if (coap_builder_finish(&b, &len) != COAP_OK)
        return false;
    memcpy(d, out, len);
    *n = len;
    return true;
}

/* Holds a datagram back until due; false when there is no room (it goes now). */
static bool hold(attacker_t *a, cs_udp_t *out, const uint8_t *d, size_t n, coap_peer_t to, bool toward_server,
                 cs_time_ms_t due)
{
    for (size_t i = 0; i < ATK_HELD_MAX; i++)
        if (!a->held[i].used) {
            a->held[i] = (atk_held_t){.used = true, .toward_server = toward_server, .out = out, .peer = to,
                                      .len = n, .due = due};
            memcpy(a->held[i].msg, d, n);
            return true;
        }
    return false;
}

void atk_release_held(attacker_t *a, cs_time_ms_t now)
{
    for (size_t i = 0; i < ATK_HELD_MAX; i++) {
        atk_held_t *h = &a->held[i];
        if (!h->used || h->due > now)
            continue;
        h->used = false;
        if (cs_udp_queue(h->out, h->peer, h->msg, h->len) != CS_NET_OK)
            fprintf(stderr, "coreseal proxy: cannot send a held datagram\n");
    }
}

void atk_forget_socket(attacker_t *a, const cs_udp_t *out)
{
    for (size_t i = 0; i < ATK_HELD_MAX; i++)
        if (a->held[i].out == out)
            a->held[i].used = false;
    if (a->replay_out == out)
        a->replay_len = 0;
}

/* The attack for this datagram: with --attack-step the one the signals
 * chose (-1: none now), else one of the list at random. */
static int choose(attacker_t *a)
{
    if (!a->n_order)
        return -1;
    if (a->stepped) {
        int step = (int)(atk_step % (a->n_order + 1)); /* 0: off */
        return step ? a->order[step - 1] : -1;
    }
    return a->order[rand32(a) % (unsigned)a->n_order];
}

bool atk_apply(attacker_t *a, cs_udp_t *out, uint8_t *d, size_t *n, coap_peer_t to, bool toward_server,
               cs_time_ms_t now)
{
    if (!a->modes || (a->dir == 1 && !toward_server) || (a->dir == 2 && toward_server) ||
        (int)(rand32(a) % 100) >= a->rate)
        return true;
    int which = choose(a);
    coap_msg_t m;
    if (which < 0 || *n < 4)
        return true;
    switch (which) {
    case ATK_SUBST: {
        /* payload substitution that keeps the length: every digit 0-8
         * becomes 9, so "21.5" reads "99.9" (counted only if it changed) */
        bool changed = false;
        if (coap_msg_parse(&m, d, *n) == COAP_OK)
            for (size_t i = 0; i < m.payload_len; i++)
                if (m.payload[i] >= '0' && m.payload[i] < '9') {
                    ((uint8_t *)m.payload)[i] = '9';
                    changed = true;
                }
        a->tried[which] += changed;
        return true;
    }
    case ATK_TAMPER:
        /* one bit of the payload's last byte: in an OSCORE message, its tag */
        if (coap_msg_parse(&m, d, *n) == COAP_OK && m.payload_len) {
            ((uint8_t *)m.payload)[m.payload_len - 1] ^= 0x01;
            a->tried[which]++;
        }
        return true;
    case ATK_INJECT: a->tried[which] += inject(d, n, toward_server); return true;
    case ATK_DELAY:
    case ATK_REORDER: {
        /* reorder: held for one turn of the loop, so what follows overtakes it */
        bool held = hold(a, out, d, *n, to, toward_server, now + (which == ATK_DELAY ? a->delay_ms : 1));
        a->tried[which] += held;
        return !held;
    }
    case ATK_DROP: a->tried[which]++; a->dropped++; return false;
    case ATK_REPLAY:
        /* send an earlier message toward the server again now, keep this
         * one; a fresh message ID gets it past CoAP deduplication to the
         * OSCORE replay check */
        if (!toward_server)
            return true;
        if (a->replay_len) {
            uint32_t mid = rand32(a);
            a->replay_buf[2] = (uint8_t)(mid >> 8);
            a->replay_buf[3] = (uint8_t)mid;
            if (cs_udp_queue(a->replay_out, a->replay_peer, a->replay_buf, a->replay_len) == CS_NET_OK)
                a->tried[which]++;
        }
        memcpy(a->replay_buf, d, *n);
        a->replay_len = *n;
        a->replay_peer = to;
        a->replay_out = out;
        return true;
    case ATK_FLIP: {
        a->tried[which]++;
        /* any byte toward the client; toward the server the code and
         * everything after the token, but not the first byte, message ID
         * or token, whose change only leaves the proxy's own exchange
         * unanswered until it times out (and its NSTART=1 queue behind
         * it). What OSCORE does not protect (type, message ID, outer code,
         * token) at worst breaks an exchange; anything else fails
         * verification */
        size_t body = 4 + (size_t)(d[0] & 0x0f);
        if (!toward_server || *n <= body) {
            if (*n)
                d[rand32(a) % *n] ^= (uint8_t)(1u << (rand32(a) % 8));
            return true;
        }
        size_t pos = rand32(a) % (*n - body + 1); /* 0: the code */
        d[pos ? body + pos - 1 : 1] ^= (uint8_t)(1u << (rand32(a) % 8));
        return true;
    }
    case ATK_STRIP: {
        a->tried[which]++;
        /* remove the last option (e.g. Observe, or OSCORE itself) */
        if (coap_msg_parse(&m, d, *n) != COAP_OK)
            return true;
        coap_opt_iter_t it;
        coap_opt_t o, last = {0};
        const uint8_t *last_start = NULL, *cur = m.opts;
        coap_opt_iter_init(&it, &m);
        while (coap_opt_next(&it, &o)) {
            last = o;
            last_start = cur;
            cur = it.p;
        }
        if (!last_start)
            return true;
        /* only safe to cut if it is the last option: deltas stay valid */
        size_t cut = (size_t)(cur - last_start);
        size_t tail = *n - (size_t)(cur - d);
        memmove((uint8_t *)last_start, cur, tail);
        *n -= cut;
        (void)last;
        return true;
    }
    }
    return true;
}
