/* The LwM2M server's store (coreseal/lwm2m_store.h): SQLite calls go to
 * lwm2m_db.c; the Redis engine is here.
 *
 * Redis keys (docs/cluster.md):
 *   coreseal:lwm2m:c:KEY        hash: one client (security, registration)
 *   coreseal:lwm2m:clients      set of every KEY
 *   coreseal:lwm2m:ep:NAME      KEY of the client registered as NAME
 *   coreseal:lwm2m:loc:N        KEY of the client at location rd/N
 *   coreseal:lwm2m:nextloc      counter of locations
 *   coreseal:lwm2m:expiry       sorted set: KEY by expiry (ms since the epoch)
 *   coreseal:lwm2m:obs:NAME     hash: PATH[?QUERY] -> Accept of NAME's observations
 *   coreseal:lwm2m:tok:TOKEN    hash: an observation held by some node (client, path, binding)
 *   coreseal:lwm2m:psk          hash: DTLS PSK identity -> key
 *   coreseal:lwm2m:events       pub/sub channel between the nodes
 * KEY is "o:RID:CTX" for OSCORE clients (hex; CTX "-" for no ID Context,
 * "x" + hex for one, "b2" for an Appendix B.2 context) and "e:NAME" for
 * unprotected ones. */
#define _POSIX_C_SOURCE 200809L
#include "coreseal/lwm2m_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <time.h>

#include "coreseal/redis_state.h"
#include "store_internal.h"

#define PREFIX "coreseal:lwm2m:"
#define CHANNEL PREFIX "events"
#define RKEY_MAX (sizeof PREFIX + 8 + 2 * (OSCORE_MAX_ID_LEN + OSCORE_MAX_ID_CONTEXT_LEN) + LWM2M_ENDPOINT_MAX)

struct cs_lwm2m_store {
    cs_lwm2m_db_t *db;    /* SQLite, or: */
    cs_redis_t *redis;
    redisContext *sub;    /* SUBSCRIBE connection, made at the first events() */
    time_t sub_retry_at;  /* after it failed: not again before this */
    uint32_t ssn_step;
};

cs_store_err_t cs_lwm2m_store_open(cs_lwm2m_store_t **out, const char *where, uint32_t ssn_step, char *err,
                                   size_t err_len)
{
    if (!out || !where)
        return CS_STORE_ERR_BAD_ARG;
    *out = NULL;
    cs_lwm2m_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return CS_STORE_ERR_IO;
    st->ssn_step = ssn_step ? ssn_step : 32;
    cs_store_err_t e = strncmp(where, "redis://", 8) == 0 ? cs_redis_open(&st->redis, where, err, err_len)
                                                          : cs_lwm2m_db_open(&st->db, where, err, err_len);
    if (e != CS_STORE_OK) {
        free(st);
        return e;
    }
    *out = st;
    return CS_STORE_OK;
}

void cs_lwm2m_store_close(cs_lwm2m_store_t *st)
{
    if (!st)
        return;
    cs_lwm2m_db_close(st->db);
    cs_redis_close(st->redis);
    if (st->sub)
        redisFree(st->sub);
    free(st);
}

const char *cs_lwm2m_store_error(const cs_lwm2m_store_t *st)
{
    return !st ? "no store" : st->redis ? cs_redis_error(st->redis) : cs_lwm2m_db_error(st->db);
}

bool cs_lwm2m_store_shared(const cs_lwm2m_store_t *st) { return st && st->redis; }

uint64_t cs_lwm2m_store_round_trips(const cs_lwm2m_store_t *st) { return st ? cs_redis_round_trips(st->redis) : 0; }

oscore_persist_t cs_lwm2m_store_persist(cs_lwm2m_store_t *st)
{
    return st->redis ? cs_redis_persist(st->redis, st->ssn_step)
                     : (oscore_persist_t){.save_ssn = cs_lwm2m_db_save_ssn, .arg = st->db, .step = 32};
}

/* ---------------------------------------------------------------- Redis: keys and commands */

static size_t hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    return 2 * n;
}

/* The Redis key of an OSCORE client's hash: PREFIX "c:o:RID:CTX". */
static void oscore_rkey(char *out, const uint8_t *rid, size_t rid_len, const uint8_t *ctx, size_t ctx_len,
                        bool has_ctx, bool b2)
{
    size_t n = (size_t)snprintf(out, RKEY_MAX, PREFIX "c:o:");
    n += hex(out + n, rid, rid_len);
    out[n++] = ':';
    if (b2)
        n += (size_t)snprintf(out + n, RKEY_MAX - n, "b2");
    else if (!has_ctx)
        out[n++] = '-';
    else {
        out[n++] = 'x';
        n += hex(out + n, ctx, ctx_len);
    }
    out[n] = '\0';
}

static void client_rkey(char *out, const lwm2m_client_t *c)
{
    const oscore_ctx_t *o = &c->oscore;
    if (c->has_oscore)
        oscore_rkey(out, o->recipient_id, o->recipient_id_len, o->id_context, o->id_context_len,
                    o->has_id_context, o->b2);
    else
        snprintf(out, RKEY_MAX, PREFIX "c:e:%.*s", (int)c->endpoint_len, c->endpoint);
}

/* KEY out of PREFIX "c:" KEY. */
static const char *short_key(const char *rkey) { return rkey + sizeof PREFIX - 1 + 2; }

/* A command's arguments, each with its length (binary-safe: keys and IDs
 * are bytes); the longest command here has 31. */
typedef struct {
    const char *argv[40];
    size_t len[40];
    int argc;
} cmd_t;

static void arg(cmd_t *c, const void *p, size_t n)
{
    c->argv[c->argc] = p;
    c->len[c->argc++] = n;
}

static void arg_str(cmd_t *c, const char *s) { arg(c, s, strlen(s)); }

/* Runs c; an error reply counts as failure. The reply is the caller's. */
static redisReply *run_cmd(cs_lwm2m_store_t *st, cmd_t *c)
{
    redisReply *rep = cs_redis_argv(st->redis, c->argc, c->argv, c->len);
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

static cs_store_err_t run_ok(cs_lwm2m_store_t *st, cmd_t *c)
{
    redisReply *rep = run_cmd(st, c);
    freeReplyObject(rep);
    return rep ? CS_STORE_OK : CS_STORE_ERR_IO;
}

static const redisReply *field(const redisReply *h, const char *name)
{
    for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && !strcmp(h->element[i]->str, name))
            return h->element[i + 1];
    return NULL;
}

static long long field_int(const redisReply *h, const char *name, long long dflt)
{
    const redisReply *f = field(h, name);
    return f && f->type == REDIS_REPLY_STRING ? strtoll(f->str, NULL, 10) : dflt;
}

static const void *field_blob(const redisReply *h, const char *name, size_t *n)
{
    const redisReply *f = field(h, name);
    *n = f && f->type == REDIS_REPLY_STRING ? f->len : 0;
    return f && f->type == REDIS_REPLY_STRING ? f->str : NULL;
}

static bool field_is(const redisReply *h, const char *name, const void *p, size_t n)
{
    size_t fn;
    const void *f = field_blob(h, name, &fn);
    return f ? fn == n && (n == 0 || memcmp(f, p, n) == 0) : p == NULL;
}

/* ---------------------------------------------------------------- Redis: security */

static cs_store_err_t redis_put_security(cs_lwm2m_store_t *st, const oscore_params_t *p, const char *endpoint)
{
    char rkey[RKEY_MAX], ssn_key[200], win_key[200], num[6][24];
    bool has_ctx = p->id_context != NULL;
    oscore_rkey(rkey, p->recipient_id, p->recipient_id_len, p->id_context, p->id_context_len, has_ctx, p->b2);
    cmd_t c = {.argc = 0};
    arg_str(&c, "HGETALL");
    arg_str(&c, rkey);
    redisReply *h = run_cmd(st, &c);
    if (!h)
        return CS_STORE_ERR_IO;
    int aead = p->aead_alg ? p->aead_alg : 10, hkdf = p->hkdf_alg ? p->hkdf_alg : -10;
    bool same = h->elements > 0 && field_is(h, "ms", p->master_secret, p->master_secret_len) &&
                field_is(h, "salt", p->master_salt, p->master_salt_len) &&
                field_is(h, "sid", p->sender_id, p->sender_id_len) && field_int(h, "aead", 0) == aead &&
                field_int(h, "hkdf", 0) == hkdf && field_int(h, "b2", 0) == p->b2 &&
                (p->b2 || field_is(h, "idc", has_ctx ? p->id_context : NULL, p->id_context_len));
    freeReplyObject(h);
    if (same) { /* keep the registration and the SSN counter */
        if (!endpoint)
            return CS_STORE_OK;
        c.argc = 0;
        arg_str(&c, "HSET"), arg_str(&c, rkey), arg_str(&c, "ep"), arg_str(&c, endpoint);
        return run_ok(st, &c);
    }
    /* new keys: a fresh counter and window go with them */
    cs_redis_oscore_key(p->recipient_id, p->recipient_id_len, p->id_context, p->id_context_len, has_ctx, "ssn",
                        ssn_key, sizeof ssn_key);
    cs_redis_oscore_key(p->recipient_id, p->recipient_id_len, p->id_context, p->id_context_len, has_ctx, "win",
                        win_key, sizeof win_key);
    c.argc = 0;
    arg_str(&c, "DEL"), arg_str(&c, rkey), arg_str(&c, ssn_key), arg_str(&c, win_key);
    if (run_ok(st, &c) != CS_STORE_OK)
        return CS_STORE_ERR_IO;
    snprintf(num[0], sizeof num[0], "%d", aead);
    snprintf(num[1], sizeof num[1], "%d", hkdf);
    snprintf(num[2], sizeof num[2], "%u", (unsigned)p->replay_window);
    c.argc = 0;
    arg_str(&c, "HSET"), arg_str(&c, rkey);
    arg_str(&c, "osc"), arg_str(&c, "1");
    arg_str(&c, "ms"), arg(&c, p->master_secret, p->master_secret_len);
    arg_str(&c, "salt"), arg(&c, p->master_salt ? (const void *)p->master_salt : "", p->master_salt_len);
    arg_str(&c, "sid"), arg(&c, p->sender_id, p->sender_id_len);
    arg_str(&c, "rid"), arg(&c, p->recipient_id, p->recipient_id_len);
    if (has_ctx)
        arg_str(&c, "idc"), arg(&c, p->id_context, p->id_context_len);
    arg_str(&c, "aead"), arg_str(&c, num[0]);
    arg_str(&c, "hkdf"), arg_str(&c, num[1]);
    arg_str(&c, "rsz"), arg_str(&c, num[2]);
    arg_str(&c, "skc"), arg_str(&c, p->send_kid_context ? "1" : "0");
    arg_str(&c, "b2"), arg_str(&c, p->b2 ? "1" : "0");
    if (endpoint)
        arg_str(&c, "ep"), arg_str(&c, endpoint);
    if (run_ok(st, &c) != CS_STORE_OK)
        return CS_STORE_ERR_IO;
    c.argc = 0;
    arg_str(&c, "SADD"), arg_str(&c, PREFIX "clients"), arg_str(&c, short_key(rkey));
    return run_ok(st, &c);
}

/* A row out of a client's hash; it points into h. */
static void fill_row(cs_lwm2m_store_t *st, const redisReply *h, cs_lwm2m_db_row_t *r)
{
    memset(r, 0, sizeof *r);
    r->endpoint = field_blob(h, "ep", &r->endpoint_len);
    r->has_oscore = field_int(h, "osc", 0) == 1;
    r->used = field_int(h, "used", 0) == 1;
    if (r->has_oscore) {
        oscore_params_t *p = &r->params;
        p->master_secret = field_blob(h, "ms", &p->master_secret_len);
        p->master_salt = field_blob(h, "salt", &p->master_salt_len);
        p->sender_id = field_blob(h, "sid", &p->sender_id_len);
        p->recipient_id = field_blob(h, "rid", &p->recipient_id_len);
        p->id_context = field_blob(h, "idc", &p->id_context_len);
        p->aead_alg = (int32_t)field_int(h, "aead", 10);
        p->hkdf_alg = (int32_t)field_int(h, "hkdf", -10);
        p->replay_window = (uint16_t)field_int(h, "rsz", 0);
        p->send_kid_context = field_int(h, "skc", 0) == 1;
        p->b2 = field_int(h, "b2", 0) == 1;
        /* SSNs and the window live in Redis, shared by every node */
        p->persist = cs_redis_persist(st->redis, st->ssn_step);
    }
    r->registered = field_int(h, "reg", 0) == 1;
    if (r->registered) {
        lwm2m_register_info_t *i = &r->info;
        i->endpoint = r->endpoint;
        i->endpoint_len = r->endpoint_len;
        i->lifetime = (uint32_t)field_int(h, "lt", 0);
        i->binding = field_blob(h, "b", &i->binding_len);
        i->version = field_blob(h, "v", &i->version_len);
        i->queue_mode = field_int(h, "q", 0) == 1;
        r->links = field_blob(h, "links", &r->links_len);
        r->addr = field_blob(h, "addr", &r->addr_len);
        r->expires_ms = field_int(h, "exp", 0);
        r->location = (uint32_t)field_int(h, "loc", 0);
    }
}

/* Every client: SSCAN over the set, the hashes of each batch in one
 * pipeline (a node starting beside a million clients makes thousands of
 * round trips, not a million). */
static cs_store_err_t redis_load(cs_lwm2m_store_t *st, int (*fn)(void *arg, const cs_lwm2m_db_row_t *row),
                                 void *arg)
{
    char cursor[32] = "0";
    do {
        redisContext *ctx = cs_redis_context(st->redis);
        redisReply *scan = ctx ? redisCommand(ctx, "SSCAN %s %s COUNT 500", PREFIX "clients", cursor) : NULL;
        cs_redis_count_round_trip(st->redis); /* and one for the batch's pipeline */
        cs_redis_count_round_trip(st->redis);
        if (!scan || scan->type != REDIS_REPLY_ARRAY || scan->elements != 2) {
            cs_redis_set_error(st->redis, "SSCAN failed");
            freeReplyObject(scan);
            return CS_STORE_ERR_IO;
        }
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        const redisReply *keys = scan->element[1];
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(ctx, "HGETALL " PREFIX "c:%b", keys->element[i]->str, keys->element[i]->len);
        int stop = 0;
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *h = NULL;
            if (redisGetReply(ctx, (void **)&h) != REDIS_OK || !h) {
                cs_redis_set_error(st->redis, "HGETALL failed");
                freeReplyObject(scan);
                return CS_STORE_ERR_IO;
            }
            if (!stop && h->type == REDIS_REPLY_ARRAY && h->elements) {
                cs_lwm2m_db_row_t row;
                fill_row(st, h, &row);
                stop = fn(arg, &row);
                cs_wipe(&row, sizeof row);
            }
            freeReplyObject(h);
        }
        freeReplyObject(scan);
        if (stop)
            break;
    } while (strcmp(cursor, "0") != 0);
    return CS_STORE_OK;
}

static cs_store_err_t redis_find(cs_lwm2m_store_t *st, const cs_lwm2m_find_t *w,
                                 int (*fn)(void *arg, const cs_lwm2m_db_row_t *row), void *arg)
{
    char rkey[RKEY_MAX], ix[RKEY_MAX];
    cmd_t c = {.argc = 0};
    redisReply *h = NULL;
    if (w->endpoint || w->location) { /* an index names the key */
        if (w->endpoint)
            snprintf(ix, sizeof ix, PREFIX "ep:%s", w->endpoint);
        else
            snprintf(ix, sizeof ix, PREFIX "loc:%" PRIu32, w->location);
        arg_str(&c, "GET"), arg_str(&c, ix);
        redisReply *k = run_cmd(st, &c);
        if (!k)
            return CS_STORE_ERR_IO;
        bool found = k->type == REDIS_REPLY_STRING && k->len < RKEY_MAX - sizeof PREFIX - 2;
        if (found)
            snprintf(rkey, sizeof rkey, PREFIX "c:%s", k->str);
        freeReplyObject(k);
        if (!found)
            return CS_STORE_ERR_MISSING;
    } else {
        oscore_rkey(rkey, w->kid, w->kid_len, w->kid_context, w->kid_context_len, w->kid_context != NULL, false);
    }
    for (int attempt = 0; attempt < 2 && !h; attempt++) {
        if (attempt) { /* B.2 contexts go by Recipient ID alone */
            if (w->endpoint || w->location)
                break;
            oscore_rkey(rkey, w->kid, w->kid_len, NULL, 0, false, true);
        }
        c.argc = 0;
        arg_str(&c, "HGETALL"), arg_str(&c, rkey);
        if (!(h = run_cmd(st, &c)))
            return CS_STORE_ERR_IO;
        if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
            freeReplyObject(h);
            h = NULL;
        }
    }
    if (!h)
        return CS_STORE_ERR_MISSING;
    cs_lwm2m_db_row_t row;
    fill_row(st, h, &row);
    fn(arg, &row);
    cs_wipe(&row, sizeof row);
    freeReplyObject(h);
    return CS_STORE_OK;
}

static cs_store_err_t redis_provisioned(cs_lwm2m_store_t *st, const oscore_ctx_t *ctx, cs_context_file_t *out)
{
    char rkey[RKEY_MAX];
    oscore_rkey(rkey, ctx->recipient_id, ctx->recipient_id_len, ctx->id_context, ctx->id_context_len,
                ctx->has_id_context, ctx->b2);
    cmd_t c = {.argc = 0};
    arg_str(&c, "HGETALL"), arg_str(&c, rkey);
    redisReply *h = run_cmd(st, &c);
    if (!h)
        return CS_STORE_ERR_IO;
    cs_store_err_t e = CS_STORE_ERR_MISSING;
    if (h->type == REDIS_REPLY_ARRAY && field_int(h, "osc", 0) == 1) {
        cs_lwm2m_db_row_t row;
        fill_row(st, h, &row);
        e = cs_context_file_from_params(out, &row.params) ? CS_STORE_OK : CS_STORE_ERR_VALUE;
        cs_wipe(&row, sizeof row);
    }
    freeReplyObject(h);
    return e;
}

/* ---------------------------------------------------------------- Redis: registrations */

/* KEYS: client hash, expiry set, endpoint index, location counter, clients
 * set. ARGV: KEY, expiry, endpoint, then the hash's field/value pairs.
 * The client keeps its location from its first registration on. */
static const char save_registration_lua[] =
    "local loc = redis.call('HGET', KEYS[1], 'loc') "
    "if not loc then "
    "  loc = tostring(redis.call('INCR', KEYS[4])) "
    "  redis.call('SET', '" PREFIX "loc:' .. loc, ARGV[1]) "
    "end "
    "redis.call('HSET', KEYS[1], 'loc', loc, 'reg', '1', 'used', '1', unpack(ARGV, 4)) "
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) "
    "redis.call('SET', KEYS[3], ARGV[1]) "
    "redis.call('SADD', KEYS[5], ARGV[1]) "
    "return tonumber(loc)";

static cs_store_err_t redis_save_registration(cs_lwm2m_store_t *st, const lwm2m_client_t *cl, const void *addr,
                                              size_t addr_len, int64_t expires_ms, uint32_t *location)
{
    char rkey[RKEY_MAX], ep_key[RKEY_MAX], exp[24], lt[16];
    client_rkey(rkey, cl);
    snprintf(ep_key, sizeof ep_key, PREFIX "ep:%s", cl->endpoint);
    snprintf(exp, sizeof exp, "%" PRId64, expires_ms);
    snprintf(lt, sizeof lt, "%" PRIu32, cl->lifetime);
    cmd_t c = {.argc = 0};
    arg_str(&c, "EVAL"), arg_str(&c, save_registration_lua), arg_str(&c, "5");
    arg_str(&c, rkey), arg_str(&c, PREFIX "expiry"), arg_str(&c, ep_key), arg_str(&c, PREFIX "nextloc");
    arg_str(&c, PREFIX "clients");
    arg_str(&c, short_key(rkey)), arg_str(&c, exp), arg(&c, cl->endpoint, cl->endpoint_len);
    arg_str(&c, "ep"), arg(&c, cl->endpoint, cl->endpoint_len);
    arg_str(&c, "osc"), arg_str(&c, cl->has_oscore ? "1" : "0");
    arg_str(&c, "lt"), arg_str(&c, lt);
    arg_str(&c, "b"), arg_str(&c, cl->binding);
    arg_str(&c, "v"), arg_str(&c, cl->version);
    arg_str(&c, "q"), arg_str(&c, cl->queue_mode ? "1" : "0");
    arg_str(&c, "links"), arg(&c, cl->links, cl->links_len);
    arg_str(&c, "addr"), arg(&c, addr, addr_len);
    arg_str(&c, "exp"), arg_str(&c, exp);
    redisReply *rep = run_cmd(st, &c);
    bool ok = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
    if (ok)
        *location = (uint32_t)rep->integer;
    freeReplyObject(rep);
    return ok ? CS_STORE_OK : CS_STORE_ERR_IO;
}

/* KEYS: client hash, expiry set, endpoint index, clients set.
 * ARGV: KEY, 1 to forget the client entirely (unprotected clients and
 * forget()), 0 to keep its security information. The endpoint index goes
 * only if it still names this client. */
static const char end_registration_lua[] =
    "redis.call('ZREM', KEYS[2], ARGV[1]) "
    "if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end "
    "local loc = redis.call('HGET', KEYS[1], 'loc') "
    "if ARGV[2] == '1' then "
    "  if loc then redis.call('DEL', '" PREFIX "loc:' .. loc) end "
    "  redis.call('DEL', KEYS[1]) "
    "  redis.call('SREM', KEYS[4], ARGV[1]) "
    "else "
    "  redis.call('HSET', KEYS[1], 'reg', '0') "
    "  redis.call('HDEL', KEYS[1], 'links', 'addr') "
    "end "
    "return 1";

static cs_store_err_t redis_end(cs_lwm2m_store_t *st, const lwm2m_client_t *cl, bool forget)
{
    char rkey[RKEY_MAX], ep_key[RKEY_MAX];
    client_rkey(rkey, cl);
    snprintf(ep_key, sizeof ep_key, PREFIX "ep:%s", cl->endpoint);
    cmd_t c = {.argc = 0};
    arg_str(&c, "EVAL"), arg_str(&c, end_registration_lua), arg_str(&c, "4");
    arg_str(&c, rkey), arg_str(&c, PREFIX "expiry"), arg_str(&c, ep_key), arg_str(&c, PREFIX "clients");
    arg_str(&c, short_key(rkey)), arg_str(&c, forget || !cl->has_oscore ? "1" : "0");
    return run_ok(st, &c);
}

/* KEYS: expiry set. ARGV: now, budget. Takes the expired KEYs out of the
 * set and marks their registrations ended, atomically: the node that gets
 * a KEY is the only one. Returns the endpoint names (the node then ends
 * what else the registration had, as at a De-register). */
static const char expire_lua[] =
    "local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2])) "
    "local names = {} "
    "for _, k in ipairs(keys) do "
    "  redis.call('ZREM', KEYS[1], k) "
    "  local h = '" PREFIX "c:' .. k "
    "  local ep = redis.call('HGET', h, 'ep') "
    "  if ep then "
    "    names[#names + 1] = ep "
    "    if redis.call('GET', '" PREFIX "ep:' .. ep) == k then redis.call('DEL', '" PREFIX "ep:' .. ep) end "
    "  end "
    "  if redis.call('HGET', h, 'osc') == '1' then "
    "    redis.call('HSET', h, 'reg', '0') "
    "    redis.call('HDEL', h, 'links', 'addr') "
    "  else "
    "    local loc = redis.call('HGET', h, 'loc') "
    "    if loc then redis.call('DEL', '" PREFIX "loc:' .. loc) end "
    "    redis.call('DEL', h) "
    "    redis.call('SREM', '" PREFIX "clients', k) "
    "  end "
    "end "
    "return names";

cs_store_err_t cs_lwm2m_store_expire(cs_lwm2m_store_t *st, int64_t now_ms, unsigned budget,
                                     void (*fn)(void *arg, const char *endpoint), void *arg)
{
    if (!st || !fn)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_OK;
    char now[24], n[16];
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(n, sizeof n, "%u", budget);
    cmd_t c = {.argc = 0};
    arg_str(&c, "EVAL"), arg_str(&c, expire_lua), arg_str(&c, "1"), arg_str(&c, PREFIX "expiry");
    arg_str(&c, now), arg_str(&c, n);
    redisReply *rep = run_cmd(st, &c);
    if (!rep)
        return CS_STORE_ERR_IO;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING)
            fn(arg, rep->element[i]->str);
    freeReplyObject(rep);
    return CS_STORE_OK;
}

/* ---------------------------------------------------------------- Redis: observations, events */

static cs_store_err_t redis_observation(cs_lwm2m_store_t *st, const char *endpoint, const char *target, long accept,
                                        bool save)
{
    char key[RKEY_MAX], a[24];
    snprintf(key, sizeof key, PREFIX "obs:%s", endpoint);
    snprintf(a, sizeof a, "%ld", accept);
    cmd_t c = {.argc = 0};
    arg_str(&c, save ? "HSET" : target ? "HDEL" : "DEL"), arg_str(&c, key);
    if (target)
        arg_str(&c, target);
    if (save)
        arg_str(&c, a);
    return run_ok(st, &c);
}

static cs_store_err_t redis_load_observations(cs_lwm2m_store_t *st,
                                              int (*fn)(void *arg, const char *endpoint, const char *target,
                                                        long accept),
                                              void *arg)
{
    char cursor[32] = "0";
    do {
        redisContext *ctx = cs_redis_context(st->redis);
        redisReply *scan = ctx ? redisCommand(ctx, "SCAN %s MATCH %s COUNT 500", cursor, PREFIX "obs:*") : NULL;
        cs_redis_count_round_trip(st->redis);
        if (!scan || scan->type != REDIS_REPLY_ARRAY || scan->elements != 2) {
            cs_redis_set_error(st->redis, "SCAN failed");
            freeReplyObject(scan);
            return CS_STORE_ERR_IO;
        }
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        for (size_t i = 0; i < scan->element[1]->elements; i++) {
            const char *key = scan->element[1]->element[i]->str;
            redisReply *h = redisCommand(ctx, "HGETALL %s", key);
            cs_redis_count_round_trip(st->redis);
            for (size_t j = 0; h && h->type == REDIS_REPLY_ARRAY && j + 1 < h->elements; j += 2)
                fn(arg, key + sizeof PREFIX - 1 + 4, h->element[j]->str, strtol(h->element[j + 1]->str, NULL, 10));
            freeReplyObject(h);
        }
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    return CS_STORE_OK;
}

/* PREFIX "tok:" + the token in hex */
static void token_rkey(char *out, const uint8_t token[8])
{
    size_t n = (size_t)snprintf(out, RKEY_MAX, PREFIX "tok:");
    out[n + hex(out + n, token, 8)] = '\0';
}

cs_store_err_t cs_lwm2m_store_save_token(cs_lwm2m_store_t *st, const uint8_t token[8], const cs_lwm2m_token_t *t)
{
    if (!st || !token || !t)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_OK;
    char key[RKEY_MAX], a[24];
    token_rkey(key, token);
    snprintf(a, sizeof a, "%ld", t->accept);
    const oscore_binding_t *b = &t->bind;
    cmd_t c = {.argc = 0};
    arg_str(&c, "HSET"), arg_str(&c, key);
    arg_str(&c, "ep"), arg_str(&c, t->endpoint);
    arg_str(&c, "t"), arg_str(&c, t->target);
    arg_str(&c, "a"), arg_str(&c, a);
    arg_str(&c, "kid"), arg(&c, b->kid, b->kid_len);
    arg_str(&c, "piv"), arg(&c, b->piv, b->piv_len);
    arg_str(&c, "nonce"), arg(&c, b->nonce, sizeof b->nonce);
    return run_ok(st, &c);
}

cs_store_err_t cs_lwm2m_store_find_token(cs_lwm2m_store_t *st, const uint8_t token[8], cs_lwm2m_token_t *out)
{
    if (!st || !token || !out)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_ERR_MISSING;
    char key[RKEY_MAX];
    token_rkey(key, token);
    cmd_t c = {.argc = 0};
    arg_str(&c, "HGETALL"), arg_str(&c, key);
    redisReply *h = run_cmd(st, &c);
    if (!h)
        return CS_STORE_ERR_IO;
    size_t en, tn, kn, pn, nn;
    const char *ep = field_blob(h, "ep", &en), *target = field_blob(h, "t", &tn);
    const void *kid = field_blob(h, "kid", &kn), *piv = field_blob(h, "piv", &pn), *nonce = field_blob(h, "nonce", &nn);
    cs_store_err_t e = CS_STORE_ERR_MISSING;
    memset(out, 0, sizeof *out);
    if (ep && target && kid && piv && nonce && en < sizeof out->endpoint && tn < sizeof out->target &&
        kn <= sizeof out->bind.kid && pn <= sizeof out->bind.piv && nn == sizeof out->bind.nonce) {
        memcpy(out->endpoint, ep, en);
        memcpy(out->target, target, tn);
        out->accept = (long)field_int(h, "a", -1);
        memcpy(out->bind.kid, kid, out->bind.kid_len = (uint8_t)kn);
        memcpy(out->bind.piv, piv, out->bind.piv_len = (uint8_t)pn);
        memcpy(out->bind.nonce, nonce, nn);
        out->bind.observe = true;
        e = CS_STORE_OK;
    }
    freeReplyObject(h);
    return e;
}

cs_store_err_t cs_lwm2m_store_end_token(cs_lwm2m_store_t *st, const uint8_t token[8])
{
    if (!st || !token)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_OK;
    char key[RKEY_MAX];
    token_rkey(key, token);
    cmd_t c = {.argc = 0};
    arg_str(&c, "DEL"), arg_str(&c, key);
    return run_ok(st, &c);
}

cs_store_err_t cs_lwm2m_store_put_psk(cs_lwm2m_store_t *st, const char *identity, const uint8_t *key, size_t key_len)
{
    if (!st || !identity || !key || key_len == 0 || key_len > 64)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_OK;
    cmd_t c = {.argc = 0};
    arg_str(&c, "HSET"), arg_str(&c, PREFIX "psk"), arg_str(&c, identity), arg(&c, key, key_len);
    return run_ok(st, &c);
}

cs_store_err_t cs_lwm2m_store_find_psk(cs_lwm2m_store_t *st, const char *identity, uint8_t *key, size_t cap,
                                       size_t *key_len)
{
    if (!st || !identity || !key || !key_len)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_ERR_MISSING;
    cmd_t c = {.argc = 0};
    arg_str(&c, "HGET"), arg_str(&c, PREFIX "psk"), arg_str(&c, identity);
    redisReply *rep = run_cmd(st, &c);
    if (!rep)
        return CS_STORE_ERR_IO;
    cs_store_err_t e = rep->type != REDIS_REPLY_STRING ? CS_STORE_ERR_MISSING
                       : rep->len > cap                 ? CS_STORE_ERR_VALUE
                                                        : CS_STORE_OK;
    if (e == CS_STORE_OK) {
        memcpy(key, rep->str, rep->len);
        *key_len = rep->len;
    }
    if (rep->type == REDIS_REPLY_STRING)
        cs_wipe(rep->str, rep->len);
    freeReplyObject(rep);
    return e;
}

cs_store_err_t cs_lwm2m_store_publish(cs_lwm2m_store_t *st, const char *json)
{
    if (!st || !json)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_OK;
    cmd_t c = {.argc = 0};
    arg_str(&c, "PUBLISH"), arg_str(&c, CHANNEL), arg_str(&c, json);
    return run_ok(st, &c);
}

cs_store_err_t cs_lwm2m_store_events(cs_lwm2m_store_t *st, void (*fn)(void *arg, const char *json, size_t len),
                                     void *arg)
{
    if (!st || !fn)
        return CS_STORE_ERR_BAD_ARG;
    if (!st->redis)
        return CS_STORE_OK;
    if (st->sub && st->sub->err) { /* Redis went away: subscribe again when it is back */
        redisFree(st->sub);
        st->sub = NULL;
    }
    if (!st->sub) {
        redisReply *rep = NULL;
        if (time(NULL) < st->sub_retry_at)
            return CS_STORE_ERR_IO;
        if (!(st->sub = cs_redis_connect_more(st->redis)) || !(rep = redisCommand(st->sub, "SUBSCRIBE %s", CHANNEL))) {
            if (st->sub)
                redisFree(st->sub);
            st->sub = NULL;
            st->sub_retry_at = time(NULL) + 1;
            return CS_STORE_ERR_IO;
        }
        freeReplyObject(rep);
    }
    for (;;) { /* only what has arrived: no waiting */
        redisReply *m = NULL;
        if (redisGetReplyFromReader(st->sub, (void **)&m) != REDIS_OK)
            return CS_STORE_ERR_IO;
        if (!m) {
            struct pollfd p = {.fd = st->sub->fd, .events = POLLIN};
            if (poll(&p, 1, 0) <= 0)
                return CS_STORE_OK;
            if (redisBufferRead(st->sub) != REDIS_OK)
                return CS_STORE_ERR_IO;
            if (redisGetReplyFromReader(st->sub, (void **)&m) != REDIS_OK)
                return CS_STORE_ERR_IO;
            if (!m)
                return CS_STORE_OK;
        }
        if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 && m->element[2]->type == REDIS_REPLY_STRING &&
            !strcmp(m->element[0]->str, "message"))
            fn(arg, m->element[2]->str, m->element[2]->len);
        freeReplyObject(m);
    }
}

/* ---------------------------------------------------------------- the interface */

cs_store_err_t cs_lwm2m_store_put_security(cs_lwm2m_store_t *st, const oscore_params_t *p, const char *endpoint)
{
    if (!st || !p || !p->master_secret || p->recipient_id_len > OSCORE_MAX_ID_LEN ||
        p->id_context_len > OSCORE_MAX_ID_CONTEXT_LEN || (endpoint && strlen(endpoint) >= LWM2M_ENDPOINT_MAX))
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_put_security(st, p, endpoint) : cs_lwm2m_db_put_security(st->db, p, endpoint);
}

cs_store_err_t cs_lwm2m_store_load(cs_lwm2m_store_t *st, int (*fn)(void *arg, const cs_lwm2m_db_row_t *row),
                                   void *arg)
{
    if (!st || !fn)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_load(st, fn, arg) : cs_lwm2m_db_load(st->db, fn, arg);
}

cs_store_err_t cs_lwm2m_store_find(cs_lwm2m_store_t *st, const cs_lwm2m_find_t *what,
                                   int (*fn)(void *arg, const cs_lwm2m_db_row_t *row), void *arg)
{
    if (!st || !what || !fn || (!what->endpoint && !what->location && !what->kid) ||
        what->kid_len > OSCORE_MAX_ID_LEN || what->kid_context_len > OSCORE_MAX_ID_CONTEXT_LEN ||
        (what->endpoint && strlen(what->endpoint) >= LWM2M_ENDPOINT_MAX))
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_find(st, what, fn, arg) : CS_STORE_ERR_MISSING;
}

cs_store_err_t cs_lwm2m_store_provisioned(cs_lwm2m_store_t *st, const oscore_ctx_t *ctx, cs_context_file_t *out)
{
    if (!st || !ctx || !out)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_provisioned(st, ctx, out) : cs_lwm2m_db_provisioned(st->db, ctx, out);
}

cs_store_err_t cs_lwm2m_store_save_registration(cs_lwm2m_store_t *st, const lwm2m_client_t *c, const void *addr,
                                                size_t addr_len, int64_t expires_ms, uint32_t *location)
{
    if (!st || !c || !location)
        return CS_STORE_ERR_BAD_ARG;
    *location = 0;
    return st->redis ? redis_save_registration(st, c, addr, addr_len, expires_ms, location)
                     : cs_lwm2m_db_save_registration(st->db, c, addr, addr_len, expires_ms);
}

cs_store_err_t cs_lwm2m_store_end_registration(cs_lwm2m_store_t *st, const lwm2m_client_t *c)
{
    if (!st || !c)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_end(st, c, false) : cs_lwm2m_db_end_registration(st->db, c);
}

cs_store_err_t cs_lwm2m_store_forget(cs_lwm2m_store_t *st, const lwm2m_client_t *c)
{
    if (!st || !c)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_end(st, c, true) : cs_lwm2m_db_forget(st->db, c);
}

cs_store_err_t cs_lwm2m_store_save_observation(cs_lwm2m_store_t *st, const char *endpoint, const char *target,
                                               long accept)
{
    if (!st || !endpoint || !target)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_observation(st, endpoint, target, accept, true)
                     : cs_lwm2m_db_save_observation(st->db, endpoint, target, accept);
}

cs_store_err_t cs_lwm2m_store_end_observation(cs_lwm2m_store_t *st, const char *endpoint, const char *target)
{
    if (!st || !endpoint)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_observation(st, endpoint, target, 0, false)
                     : cs_lwm2m_db_end_observation(st->db, endpoint, target);
}

cs_store_err_t cs_lwm2m_store_load_observations(cs_lwm2m_store_t *st,
                                                int (*fn)(void *arg, const char *endpoint, const char *target,
                                                          long accept),
                                                void *arg)
{
    if (!st || !fn)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? redis_load_observations(st, fn, arg) : cs_lwm2m_db_load_observations(st->db, fn, arg);
}

/* Redis: nothing to do, the window is already there. */
cs_store_err_t cs_lwm2m_store_save_window(cs_lwm2m_store_t *st, const oscore_ctx_t *ctx)
{
    if (!st || !ctx)
        return CS_STORE_ERR_BAD_ARG;
    return st->redis ? CS_STORE_OK : cs_lwm2m_db_save_window(st->db, ctx);
}
