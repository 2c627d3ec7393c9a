/* coreseal/lwm2m_store.h: where a LwM2M server keeps what must outlive it
 * (host layer). One interface, two engines:
 *
 * - SQLite (coreseal/lwm2m_db.h), the default: one server process, one
 *   file. A path, or ":memory:".
 * - Redis, for several server processes serving one fleet
 *   (redis://HOST[:PORT][/DB], docs/cluster.md): every node reads and
 *   writes the same clients, security information, registrations and
 *   observations; OSCORE Sender Sequence Numbers come in blocks no other
 *   node has had and every accepted Partial IV is checked against one shared
 *   window (coreseal/redis_state.h), so no node reuses a nonce or accepts
 *   what another node accepted. Locations ("rd/N") are handed out once for
 *   the cluster, registration expiry is decided once for the cluster, and
 *   events (registrations, notifications) reach every node.
 *
 * The cluster-only calls (find, publish, events, expire) do nothing on a
 * SQLite store: one process holds all of its clients in memory. */
#ifndef CORESEAL_LWM2M_STORE_H
#define CORESEAL_LWM2M_STORE_H

#include "coreseal/lwm2m_db.h"

typedef struct cs_lwm2m_store cs_lwm2m_store_t;

/* where: redis://HOST[:PORT][/DB], or a SQLite file path. ssn_step: SSNs
 * a node reserves at a time in Redis (a crashed node loses at most that
 * many); SQLite reserves 32 per fsync'd write. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_open(cs_lwm2m_store_t **st, const char *where, uint32_t ssn_step,
                                                 char *err, size_t err_len);
void cs_lwm2m_store_close(cs_lwm2m_store_t *st);
const char *cs_lwm2m_store_error(const cs_lwm2m_store_t *st);
/* Several processes share it (Redis). */
bool cs_lwm2m_store_shared(const cs_lwm2m_store_t *st);
/* Round trips to Redis so far (0 on SQLite), for benchmarks. */
uint64_t cs_lwm2m_store_round_trips(const cs_lwm2m_store_t *st);

/* As the cs_lwm2m_db_ functions of the same names (lwm2m_db.h). On Redis a
 * loaded row's params.persist holds the shared hooks, its window is never
 * "valid" (the window lives in Redis) and its location is the cluster's. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_put_security(cs_lwm2m_store_t *st, const oscore_params_t *p,
                                                         const char *endpoint);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_load(cs_lwm2m_store_t *st,
                                                 int (*fn)(void *arg, const cs_lwm2m_db_row_t *row), void *arg);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_provisioned(cs_lwm2m_store_t *st, const oscore_ctx_t *ctx,
                                                        cs_context_file_t *out);
/* The hooks a context of this store persists through. */
oscore_persist_t cs_lwm2m_store_persist(cs_lwm2m_store_t *st);
/* *location: 0 on a SQLite store (the server numbers registrations
 * itself); on Redis the cluster's number for this client, handed out at its
 * first registration and kept. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_save_registration(cs_lwm2m_store_t *st, const lwm2m_client_t *c,
                                                              const void *addr, size_t addr_len,
                                                              int64_t expires_ms, uint32_t *location);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_end_registration(cs_lwm2m_store_t *st, const lwm2m_client_t *c);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_forget(cs_lwm2m_store_t *st, const lwm2m_client_t *c);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_save_observation(cs_lwm2m_store_t *st, const char *endpoint,
                                                             const char *target, long accept);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_end_observation(cs_lwm2m_store_t *st, const char *endpoint,
                                                            const char *target);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_load_observations(
    cs_lwm2m_store_t *st, int (*fn)(void *arg, const char *endpoint, const char *target, long accept), void *arg);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_save_window(cs_lwm2m_store_t *st, const oscore_ctx_t *ctx);

/* ---------------------------------------------------------------- the cluster (Redis) */

/* Which client to fetch: the one an OSCORE option names (Recipient ID and
 * ID Context, then the Recipient ID alone for B.2 contexts), the one
 * registered under an endpoint name or at a location. */
typedef struct {
    const uint8_t *kid;
    size_t kid_len;
    const uint8_t *kid_context; /* NULL: none */
    size_t kid_context_len;
    const char *endpoint;       /* NULL: by kid or location */
    uint32_t location;          /* 0: by kid or endpoint */
} cs_lwm2m_find_t;

/* Calls fn once with the stored row of the client `what` names, as
 * cs_lwm2m_store_load does: a node learns a client another node provisioned
 * or registered. CS_STORE_ERR_MISSING if there is none (always, on SQLite). */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_find(cs_lwm2m_store_t *st, const cs_lwm2m_find_t *what,
                                                 int (*fn)(void *arg, const cs_lwm2m_db_row_t *row), void *arg);

/* An observation a node holds, by its token (8 bytes): what another node
 * needs to take a notification of it that reaches it instead (NAT
 * rebinding, a load balancer, the observer gone): the client, the
 * observed PATH[?QUERY], its Accept, the Observe request's OSCORE binding. */
typedef struct {
    char endpoint[LWM2M_ENDPOINT_MAX];
    char target[208];
    long accept;
    oscore_binding_t bind;
} cs_lwm2m_token_t;

/* Nothing on SQLite (find: CS_STORE_ERR_MISSING). */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_save_token(cs_lwm2m_store_t *st, const uint8_t token[8],
                                                       const cs_lwm2m_token_t *t);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_find_token(cs_lwm2m_store_t *st, const uint8_t token[8],
                                                       cs_lwm2m_token_t *out);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_end_token(cs_lwm2m_store_t *st, const uint8_t token[8]);

/* DTLS PSKs of the cluster (identity -> key), so that a node accepts a
 * DTLS client whose key was given to another node. Nothing on SQLite
 * (find: CS_STORE_ERR_MISSING); keys up to 64 bytes. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_put_psk(cs_lwm2m_store_t *st, const char *identity, const uint8_t *key,
                                                    size_t key_len);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_find_psk(cs_lwm2m_store_t *st, const char *identity, uint8_t *key,
                                                     size_t cap, size_t *key_len);

/* Events between nodes: `json` is {"node":..,"type":..,"endpoint":..,
 * "data":..} as cs_lwm2m_store_events hands it to every other node. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_publish(cs_lwm2m_store_t *st, const char *json);
/* Calls fn for each event that arrived since the last call; does not wait.
 * The node's own events come back too (compare "node"). */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_events(cs_lwm2m_store_t *st,
                                                   void (*fn)(void *arg, const char *json, size_t len), void *arg);

/* Ends the registrations whose expiry (wall clock, ms) is before now_ms,
 * at most `budget` per call: one atomic script takes each out of the
 * cluster's expiry set, so exactly one node ends each registration; fn
 * gets its endpoint name. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_store_expire(cs_lwm2m_store_t *st, int64_t now_ms, unsigned budget,
                                                   void (*fn)(void *arg, const char *endpoint), void *arg);

#endif
