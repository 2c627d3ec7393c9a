/* Shared by the host-side store files (context, state, EDHOC key files);
 * not part of the public API. */
#ifndef CORESEAL_STORE_INTERNAL_H
#define CORESEAL_STORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* n hex digits (either case) into out (cap bytes); false on an odd count,
 * a non-hex character or too many bytes. */
bool cs_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len);
/* A JSON string of 2n lowercase hex digits. */
json_t *cs_json_hex(const uint8_t *p, size_t n);

/* A whole file of less than cap bytes into *buf (malloc'd; free it):
 * CS_STORE_ERR_IO if it cannot be read (errno says why),
 * CS_STORE_ERR_VALUE if it is cap bytes or more. */
#include "coreseal/store.h"
cs_store_err_t cs_file_read_small(const char *path, size_t cap, char **buf, size_t *len);

/* Redis (redis_state.c), for the stores built on it. */
#include <hiredis/hiredis.h>
struct cs_redis;
/* A command on the connection, connecting again once if it was lost;
 * NULL (and the error set) when Redis cannot be reached. A reply of type
 * REDIS_REPLY_ERROR also sets the error. */
redisReply *cs_redis_argv(struct cs_redis *r, int argc, const char **argv, const size_t *lens);
/* The connection (made again if it was lost), for pipelines; NULL if
 * Redis cannot be reached. */
redisContext *cs_redis_context(struct cs_redis *r);
/* Another connection to the same server and database (SUBSCRIBE needs its
 * own); NULL with the error set. */
redisContext *cs_redis_connect_more(struct cs_redis *r);
void cs_redis_set_error(struct cs_redis *r, const char *what);
/* A round trip made on cs_redis_context()'s connection directly. */
void cs_redis_count_round_trip(struct cs_redis *r);
/* The key of a context's shared state ("coreseal:oscore:RID:IDCTX:" +
 * suffix: "ssn" or "win"). */
void cs_redis_oscore_key(const uint8_t *rid, size_t rid_len, const uint8_t *idctx, size_t idctx_len, bool has_idctx,
                         const char *suffix, char *out, size_t cap);

#endif
