/* The adversary inside `coreseal proxy --attack` (tests and demos only):
 * what an untrusted middlebox can do to the datagrams it forwards, so that
 * tests show the endpoints catch every change to protected parts. Bit
 * flips, drops, replays (under a fresh message ID, past CoAP's duplicate
 * detection to the OSCORE replay check), option stripping and injection,
 * payload substitution and tampering, delays and reordering. */
#ifndef CORESEAL_CLI_PROXY_ATTACK_H
#define CORESEAL_CLI_PROXY_ATTACK_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "coreseal/crypto.h"
#include "coreseal/net.h"

#define ATK_MSG_MAX 1400
#define ATK_HELD_MAX 64
#define N_ATTACKS 9

typedef struct {
    bool used, toward_server;
    cs_udp_t *out;
    coap_peer_t peer;
    uint8_t msg[ATK_MSG_MAX];
    size_t len;
    cs_time_ms_t due;
} atk_held_t;

typedef struct {
    unsigned modes;  /* the --attack list, a bit per attack_names entry */
    int order[N_ATTACKS], n_order; /* ... in the order given (--attack-step goes by it) */
    int rate;        /* percent of messages attacked (--attack-rate) */
    int dir;         /* 0 both ways, 1 toward the server, 2 toward the client */
    int delay_ms;    /* --attack-delay */
    bool stepped;    /* --attack-step: off until SIGUSR1, then one mode at a time */
    cs_crypto_t *crypto;
    unsigned long tried[N_ATTACKS], dropped;
    uint8_t replay_buf[ATK_MSG_MAX];
    size_t replay_len;
    coap_peer_t replay_peer;
    cs_udp_t *replay_out;
    atk_held_t held[ATK_HELD_MAX];
} attacker_t;

/* Each SIGUSR1 moves a stepped attacker on: off -> the first mode of the
 * list alone -> the second ... -> off again. */
extern volatile sig_atomic_t atk_step;

void atk_init(attacker_t *a, cs_crypto_t *crypto);
/* "flip,replay,..." into a->modes; false (and the unknown name in bad)
 * for a name that is no attack. */
bool atk_parse(attacker_t *a, const char *list, char *bad, size_t bad_cap);
#define ATK_NAMES "flip, drop, replay, strip, subst, inject, delay, reorder, tamper"
/* Applies the attacks to a datagram about to leave on out toward to;
 * false when it is not to be sent now (dropped or held back). */
bool atk_apply(attacker_t *a, cs_udp_t *out, uint8_t *d, size_t *n, coap_peer_t to, bool toward_server,
               cs_time_ms_t now);
/* Sends what was held back and is due (and, with forget, drops what was
 * held for that socket: it is closing). */
void atk_release_held(attacker_t *a, cs_time_ms_t now);
void atk_forget_socket(attacker_t *a, const cs_udp_t *out);
/* "flip 3, drop 0, ..." */
void atk_print_counts(const attacker_t *a, FILE *f);

#endif
