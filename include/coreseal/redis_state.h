/* coreseal/redis_state.h: one OSCORE security context served by several
 * processes at once (host layer; Redis through hiredis).
 *
 * A server cluster whose nodes may each receive any client's next message
 * must not keep Sender Sequence Numbers or replay windows per node: two
 * nodes would send under one nonce, or each accept the same request. Here
 * both live in Redis, behind the oscore_persist_t shared hooks:
 *
 * - reserve_ssn: one atomic script per `step` SSNs hands the node a block
 *   no other node has had (a counter per context, raised to the node's own
 *   SSN first, so a context that was served alone continues above it). A
 *   node that crashes loses at most the rest of its block.
 * - accept_piv: one atomic script per accepted request checks the Partial
 *   IV against the context's shared window (a sorted set of recent Partial
 *   IVs, the oldest trimmed to the window size) and records it, so a request
 *   accepted by one node is a replay at every other.
 *
 * Cost: one round trip per protected request (accept_piv), one per `step`
 * SSNs sent (reserve_ssn). Keys are "coreseal:oscore:RID:IDCTX:ssn" and
 * "...:win" (hex; "-" for no ID Context). */
#ifndef CORESEAL_REDIS_STATE_H
#define CORESEAL_REDIS_STATE_H

#include "coreseal/oscore.h"
#include "coreseal/store.h"

typedef struct cs_redis cs_redis_t;

/* url: redis://HOST[:PORT][/DB] (port 6379, database 0 by default). */
CS_MUST_CHECK cs_store_err_t cs_redis_open(cs_redis_t **r, const char *url, char *err,
                                           size_t err_len);
void cs_redis_close(cs_redis_t *r);
/* The last error, for messages. */
const char *cs_redis_error(const cs_redis_t *r);
/* Round trips to Redis so far (a pipeline counts once), for benchmarks. */
uint64_t cs_redis_round_trips(const cs_redis_t *r);

/* Named texts every node reads ("coreseal:text:NAME"): a Bootstrap-Server's
 * account file and the context files it names, put by the node that has
 * them. get: *text is malloc'd and NUL-terminated (free it);
 * CS_STORE_ERR_MISSING if nothing has that name. */
CS_MUST_CHECK cs_store_err_t cs_redis_put_file(cs_redis_t *r, const char *name, const char *path, char *err,
                                               size_t err_len);
CS_MUST_CHECK cs_store_err_t cs_redis_get_text(cs_redis_t *r, const char *name, char **text, size_t *len);

/* Hooks for oscore_params_t.persist: SSNs reserved `step` at a time. */
oscore_persist_t cs_redis_persist(cs_redis_t *r, uint32_t step);
oscore_err_t cs_redis_reserve_ssn(void *r, const oscore_ctx_t *ctx, uint64_t count,
                                  uint64_t *first);
oscore_err_t cs_redis_accept_piv(void *r, const oscore_ctx_t *ctx, uint64_t piv);

#endif
