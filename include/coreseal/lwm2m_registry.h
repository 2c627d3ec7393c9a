/* coreseal/lwm2m_registry.h: a LwM2M server's table of clients (OMA LwM2M
 * Core TS 1.2 §6.2), sans-I/O and without allocation, built for a million
 * devices.
 *
 * One fixed-size record per client holds its OSCORE context (server side)
 * and its registration. The caller gives the record array and an index
 * array once; every lookup (by OSCORE kid for an incoming request, by
 * endpoint name for re-registration and management, by location for
 * Update/De-register) is a hash probe or an array index, so registering
 * the millionth device costs what the first did. The location of a
 * registration is "rd/<record number>".
 *
 * Nothing here reads a clock: times are the caller's cs_time_ms_t. */
#ifndef CORESEAL_LWM2M_REGISTRY_H
#define CORESEAL_LWM2M_REGISTRY_H

#include "coreseal/lwm2m_model.h"
#include "coreseal/oscore.h"

#define LWM2M_ENDPOINT_MAX 64  /* bytes of endpoint name kept, NUL included */
#define LWM2M_REG_LINKS_MAX 320 /* bytes of the Register payload kept */

typedef enum {
    LWM2M_CLIENT_FREE,        /* record unused */
    LWM2M_CLIENT_PROVISIONED, /* OSCORE context known, not registered */
    LWM2M_CLIENT_REGISTERED,
} lwm2m_client_state_t;

typedef struct {
    oscore_ctx_t oscore;               /* valid when has_oscore */
    char endpoint[LWM2M_ENDPOINT_MAX]; /* NUL-terminated; for OSCORE fixed at provisioning */
    uint8_t endpoint_len;
    uint8_t state;                     /* lwm2m_client_state_t */
    bool has_oscore;
    bool queue_mode;
    char binding[4];                   /* "U", "UQ", "T"...; NUL-terminated */
    char version[4];                   /* "1.2"; empty for 1.0 */
    uint32_t lifetime;                 /* seconds */
    cs_time_ms_t expires;              /* registration ends unless updated */
    uint32_t peer;                     /* the caller's handle for the address */
    uint32_t next_free;                /* free list link while FREE */
    uint16_t links_len;
    char links[LWM2M_REG_LINKS_MAX];   /* objects and instances, link format */
} lwm2m_client_t;

typedef struct {
    lwm2m_client_t *clients;
    uint32_t n_clients;
    uint64_t *by_kid;      /* per bucket: key hash << 32 | record number + 1; 0 = empty */
    uint64_t *by_endpoint;
    uint32_t mask;         /* buckets - 1 */
    uint64_t seed;         /* keys the hash so bucket choice is not guessable */
    uint32_t free_head;    /* first FREE record, n_clients when none */
    uint32_t n_used, n_registered;
    uint32_t sweep_cursor;
} lwm2m_registry_t;

/* uint64_t entries the index array needs for n_clients (two tables of a
 * power of two at least twice n_clients, so probes stay short). */
size_t lwm2m_registry_index_len(uint32_t n_clients);

/* index has lwm2m_registry_index_len(n_clients) entries; seed should be
 * random. */
CS_MUST_CHECK lwm2m_err_t lwm2m_registry_init(lwm2m_registry_t *reg, lwm2m_client_t *clients,
                                              uint32_t n_clients, uint64_t *index,
                                              size_t index_len, uint64_t seed);

/* Provisions an OSCORE client (from bootstrap, a file or EDHOC): copies its
 * derived context into a new record (wipe your copy). The endpoint name the
 * client must register with is `endpoint`, or its Sender ID when that is
 * NULL: the LwM2M Transport TS makes the server check ep against the Sender
 * ID (equality or a table) and answer 4.00 on mismatch. LWM2M_ERR_EXISTS if
 * a context with the same Recipient ID and ID Context is already there,
 * LWM2M_ERR_FULL when out of records. */
CS_MUST_CHECK lwm2m_err_t lwm2m_registry_add_oscore(lwm2m_registry_t *reg, const oscore_ctx_t *ctx,
                                                    const char *endpoint, size_t endpoint_len,
                                                    lwm2m_client_t **out);
/* The OSCORE client a request's option (kid, kid context) names, or NULL.
 * Contexts are indexed by Recipient ID and ID Context together, so a
 * client whose context has an ID Context must send it (kid context);
 * Appendix B.2 contexts (ctx->b2) by Recipient ID alone, since B.2 changes
 * their ID Context: for those the record may come back for a kid context
 * that is not its context's (oscore_b2_applies), which B.2 then handles.
 * A B.2 context shares its Recipient ID with no context without an ID
 * Context (LWM2M_ERR_EXISTS). */
lwm2m_client_t *lwm2m_registry_find_oscore(const lwm2m_registry_t *reg, const oscore_option_t *opt);
lwm2m_client_t *lwm2m_registry_find_endpoint(const lwm2m_registry_t *reg, const char *ep, size_t len);
/* The registered client at location "rd/<location>", or NULL. */
lwm2m_client_t *lwm2m_registry_at(const lwm2m_registry_t *reg, uint32_t location);
uint32_t lwm2m_registry_location(const lwm2m_registry_t *reg, const lwm2m_client_t *c);

/* Register (§6.2.1). `client` is the OSCORE client the request came from,
 * or NULL for an unprotected one (which gets a record of its own). A
 * re-registration under the same endpoint name replaces the old one; a name
 * held by another OSCORE client is LWM2M_ERR_ENDPOINT_TAKEN, an OSCORE
 * client registering under a name not its own LWM2M_ERR_ENDPOINT_MISMATCH
 * (answer both with 4.00 / 4.03). *out is the registered record. */
CS_MUST_CHECK lwm2m_err_t lwm2m_registry_register(lwm2m_registry_t *reg, lwm2m_client_t *client,
                                                  const lwm2m_register_info_t *info,
                                                  const uint8_t *links, size_t links_len,
                                                  uint32_t peer, cs_time_ms_t now,
                                                  lwm2m_client_t **out);
/* Update (§6.2.2): a new lifetime when not 0, a new object list when links
 * is not NULL; the lifetime restarts either way. */
CS_MUST_CHECK lwm2m_err_t lwm2m_registry_update(lwm2m_registry_t *reg, lwm2m_client_t *c,
                                                uint32_t lifetime, const uint8_t *links,
                                                size_t links_len, uint32_t peer, cs_time_ms_t now);
/* De-register (§6.2.3). An OSCORE client keeps its context (PROVISIONED);
 * an unprotected one frees its record. */
void lwm2m_registry_deregister(lwm2m_registry_t *reg, lwm2m_client_t *c);
/* Forgets a client entirely, wiping its keys. */
void lwm2m_registry_remove(lwm2m_registry_t *reg, lwm2m_client_t *c);

/* Ends registrations whose lifetime ran out, looking at no more than
 * `budget` records per call (a server calls it every tick; a full pass
 * takes n_clients / budget calls). Returns one expired client, already
 * de-registered, or NULL; call again for the next. The record of an
 * unprotected client is free again: read its name before the next call. */
lwm2m_client_t *lwm2m_registry_sweep(lwm2m_registry_t *reg, cs_time_ms_t now, uint32_t budget);

#endif
