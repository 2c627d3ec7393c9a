/* coreseal/lwm2m_db.h: what a LwM2M server keeps across restarts, in one
 * SQLite file (host layer).
 *
 * One row per client: its OSCORE security information (the parameters of
 * the server's context, the Sender Sequence Number bound, the replay window
 * of a clean shutdown) and its registration (endpoint name, lifetime,
 * binding, object list, address, expiry in wall-clock time), and the
 * observations the server holds on its clients. OSCORE
 * clients are keyed by their context's Recipient ID and ID Context (B.2
 * contexts by Recipient ID, with the ID Context they negotiated last kept
 * beside it), unprotected ones by endpoint name.
 *
 * Nonces (RFC 8613 Appendix B.1): loading reserves the next 32 SSNs of
 * every context in one fsync'd write (ssn_start .. ssn_covered), and
 * cs_lwm2m_db_save_ssn, the contexts' persistence hook, commits with an
 * fsync before the context may use an SSN beyond that, so a crash at any instant restarts above
 * every SSN sent. A window is valid in the file only between a clean
 * shutdown and the next start; after a crash the context asks for Echo
 * (B.1.2) before accepting requests again. */
#ifndef CORESEAL_LWM2M_DB_H
#define CORESEAL_LWM2M_DB_H

#include "coreseal/lwm2m_registry.h"
#include "coreseal/store.h"

typedef struct cs_lwm2m_db cs_lwm2m_db_t;

/* Opens or creates the file (":memory:" for a database that ends with the
 * process). */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_open(cs_lwm2m_db_t **db, const char *path, char *err,
                                              size_t err_len);
void cs_lwm2m_db_close(cs_lwm2m_db_t *db);
/* The last SQLite error, for messages. */
const char *cs_lwm2m_db_error(const cs_lwm2m_db_t *db);

/* Provisions an OSCORE client from its parameters (the server's view) and
 * the endpoint name it must register with (NULL: its Sender ID). A row with
 * the same key and the same parameters keeps its SSN bound and
 * registration; different parameters (a new Master Secret) replace it. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_put_security(cs_lwm2m_db_t *db, const oscore_params_t *p,
                                                      const char *endpoint);

/* One client as loaded. params point into the row and are good during
 * the callback; ssn_start and replay_window_lost are set from what was
 * saved, persist points at cs_lwm2m_db_save_ssn. */
typedef struct {
    bool has_oscore;
    oscore_params_t params;
    bool window_valid;
    oscore_replay_t window;
    bool used;             /* a request was ever accepted on this context */
    const char *endpoint;  /* NULL for an OSCORE client named by its Sender ID */
    size_t endpoint_len;
    bool registered;
    lwm2m_register_info_t info; /* strings point into the row */
    const uint8_t *links;
    size_t links_len;
    const void *addr;      /* struct sockaddr bytes */
    size_t addr_len;
    int64_t expires_ms;    /* wall clock, ms since the epoch */
    uint32_t location;     /* the cluster's rd/N (Redis store); 0: the server's own numbering */
} cs_lwm2m_db_row_t;

/* Calls fn for every client; fn returns 0 to go on. Then marks every
 * window stale on disk: from now on only memory is current. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_load(cs_lwm2m_db_t *db,
                                              int (*fn)(void *arg, const cs_lwm2m_db_row_t *row),
                                              void *arg);

/* The provisioned parameters of ctx's client, as a context file holds
 * them: what Appendix B.2 derives new contexts from (the registry keeps
 * only derived keys). CS_STORE_ERR_MISSING if the client is not stored. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_provisioned(cs_lwm2m_db_t *db, const oscore_ctx_t *ctx,
                                                     cs_context_file_t *out);
/* oscore_persist_t.save_ssn for contexts of this database (arg: the db). */
oscore_err_t cs_lwm2m_db_save_ssn(void *db, const oscore_ctx_t *ctx, uint64_t bound);

/* After Register or Update: the registration of c at address addr, ending
 * at expires_ms (wall clock). */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_save_registration(cs_lwm2m_db_t *db, const lwm2m_client_t *c,
                                                           const void *addr, size_t addr_len,
                                                           int64_t expires_ms);
/* After De-register or expiry: an OSCORE client keeps its security row,
 * an unprotected one is gone. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_end_registration(cs_lwm2m_db_t *db, const lwm2m_client_t *c);
/* Forgets a client entirely (its context was replaced, e.g. by a new
 * EDHOC run). */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_forget(cs_lwm2m_db_t *db, const lwm2m_client_t *c);
/* Observations the server holds (a client's PATH[?QUERY] with its Accept,
 * -1 for none): kept while they last, so a restarted server observes again
 * what it observed. target NULL ends every one of the endpoint's. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_save_observation(cs_lwm2m_db_t *db, const char *endpoint,
                                                          const char *target, long accept);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_end_observation(cs_lwm2m_db_t *db, const char *endpoint,
                                                         const char *target);
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_load_observations(cs_lwm2m_db_t *db,
                                                           int (*fn)(void *arg, const char *endpoint,
                                                                     const char *target, long accept),
                                                           void *arg);
/* At a clean shutdown: the context's window and SSN, valid until the next
 * open. */
CS_MUST_CHECK cs_store_err_t cs_lwm2m_db_save_window(cs_lwm2m_db_t *db, const oscore_ctx_t *ctx);

#endif
