/* OSCORE state shared through Redis (see the header). Both operations are
 * Lua scripts, which Redis runs atomically: no other node's command falls
 * between the check and the update. */
#define _POSIX_C_SOURCE 200809L
#include "coreseal/redis_state.h"

#include <hiredis/hiredis.h>
#include "store_internal.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cs_redis {
    redisContext *c;
    char host[128];
    int port, db;
    char reserve_sha[41], accept_sha[41];
    uint64_t round_trips;
    time_t retry_at; /* after a failed connect: not before this (a dead host takes the connect timeout) */
    char error[512];
};

/* KEYS[1] counter; ARGV[1] count, ARGV[2] the node's next SSN. Returns
 * the end of the block reserved. */
static const char reserve_lua[] =
    "local floor = tonumber(ARGV[2]) "
    "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "if cur < floor then cur = floor end "
    "cur = cur + tonumber(ARGV[1]) "
    "redis.call('SET', KEYS[1], string.format('%.0f', cur)) "
    "return string.format('%.0f', cur)";

/* KEYS[1] the window: a sorted set of Partial IVs; ARGV[1] the Partial
 * IV, ARGV[2] the window size. 1: accepted; 0: a replay or too old. */
static const char accept_lua[] =
    "local piv, size = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES') "
    "local hi = top[2] and tonumber(top[2]) or -1 "
    "if hi >= 0 and piv <= hi - size then return 0 end "
    "if redis.call('ZADD', KEYS[1], 'NX', piv, ARGV[1]) == 0 then return 0 end "
    "if piv > hi then "
    "  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', piv - size + 1)) "
    "end "
    "return 1";

void cs_redis_set_error(cs_redis_t *r, const char *what)
{
    snprintf(r->error, sizeof r->error, "redis %s:%d: %s", r->host, r->port,
             r->c && r->c->err ? r->c->errstr : what);
}

/* Loads a script, keeping its SHA1 for EVALSHA. */
static bool load_script(cs_redis_t *r, const char *lua, char sha[41])
{
    redisReply *rep = redisCommand(r->c, "SCRIPT LOAD %s", lua);
    bool ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
    if (ok)
        memcpy(sha, rep->str, 41);
    else
        cs_redis_set_error(r, rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "SCRIPT LOAD failed");
    freeReplyObject(rep);
    return ok;
}

redisContext *cs_redis_connect_more(cs_redis_t *r)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        snprintf(r->error, sizeof r->error, "redis %s:%d: %s", r->host, r->port, c ? c->errstr : "cannot connect");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisReply *rep = r->db ? redisCommand(c, "SELECT %d", r->db) : NULL;
    bool ok = !r->db || (rep && rep->type == REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    if (!ok) {
        snprintf(r->error, sizeof r->error, "redis %s:%d: SELECT %d failed", r->host, r->port, r->db);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* (Re)connects, selects the database and loads the scripts; after a
 * failure, not again for a second: meanwhile every command fails at once
 * instead of each waiting for a connect timeout. */
static bool connect_redis(cs_redis_t *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    if (time(NULL) < r->retry_at)
        return false;
    r->c = cs_redis_connect_more(r);
    bool ok = r->c && load_script(r, reserve_lua, r->reserve_sha) && load_script(r, accept_lua, r->accept_sha);
    r->retry_at = ok ? 0 : time(NULL) + 1;
    return ok;
}

redisReply *cs_redis_argv(cs_redis_t *r, int argc, const char **argv, const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((attempt || !r->c || r->c->err) && !connect_redis(r))
            return NULL;
        r->round_trips++;
        redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            cs_redis_set_error(r, rep->str);
            return rep;
        }
        if (rep)
            return rep;
    }
    cs_redis_set_error(r, "no reply");
    return NULL;
}

redisContext *cs_redis_context(cs_redis_t *r)
{
    return r->c && !r->c->err ? r->c : connect_redis(r) ? r->c : NULL;
}

cs_store_err_t cs_redis_open(cs_redis_t **out, const char *url, char *err, size_t err_len)
{
    if (!out || !url)
        return CS_STORE_ERR_BAD_ARG;
    *out = NULL;
    cs_redis_t *r = calloc(1, sizeof *r);
    if (!r)
        return CS_STORE_ERR_IO;
    r->port = 6379;
    const char *h = strncmp(url, "redis://", 8) == 0 ? url + 8 : NULL;
    size_t hn = h ? strcspn(h, ":/") : 0;
    char *end = NULL;
    if (h && h[hn] == ':')
        r->port = (int)strtol(h + hn + 1, &end, 10);
    const char *rest = end ? end : h ? h + hn : NULL;
    if (rest && *rest == '/')
        r->db = (int)strtol(rest + 1, &end, 10);
    if (!h || hn == 0 || hn >= sizeof r->host || r->port <= 0 || r->port > 65535 || r->db < 0 ||
        (rest && *rest && (*rest != '/' || !end || *end))) {
        snprintf(err, err_len, "%s: expected redis://HOST[:PORT][/DB]", url);
        free(r);
        return CS_STORE_ERR_VALUE;
    }
    memcpy(r->host, h, hn);
    if (!connect_redis(r)) {
        snprintf(err, err_len, "%s", r->error);
        cs_redis_close(r);
        return CS_STORE_ERR_IO;
    }
    *out = r;
    return CS_STORE_OK;
}

void cs_redis_close(cs_redis_t *r)
{
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
    free(r);
}

const char *cs_redis_error(const cs_redis_t *r) { return r ? r->error : "no redis"; }

uint64_t cs_redis_round_trips(const cs_redis_t *r) { return r ? r->round_trips : 0; }

void cs_redis_count_round_trip(cs_redis_t *r) { r->round_trips++; }

cs_store_err_t cs_redis_put_file(cs_redis_t *r, const char *name, const char *path, char *err, size_t err_len)
{
    if (!r || !name || !path)
        return CS_STORE_ERR_BAD_ARG;
    char *buf;
    size_t n;
    cs_store_err_t e = cs_file_read_small(path, 65536, &buf, &n);
    if (e != CS_STORE_OK) {
        snprintf(err, err_len, "%s: %s", path, e == CS_STORE_ERR_IO ? strerror(errno) : "larger than 64 KiB");
        return e;
    }
    char key[256];
    snprintf(key, sizeof key, "coreseal:text:%s", name);
    const char *argv[] = {"SET", key, buf};
    const size_t lens[] = {3, strlen(key), n};
    redisReply *rep = cs_redis_argv(r, 3, argv, lens);
    bool ok = rep && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    cs_wipe(buf, n); /* context files hold keys */
    free(buf);
    if (!ok)
        snprintf(err, err_len, "%s", r->error);
    return ok ? CS_STORE_OK : CS_STORE_ERR_IO;
}

cs_store_err_t cs_redis_get_text(cs_redis_t *r, const char *name, char **text, size_t *len)
{
    if (!r || !name || !text || !len)
        return CS_STORE_ERR_BAD_ARG;
    char key[256];
    snprintf(key, sizeof key, "coreseal:text:%s", name);
    const char *argv[] = {"GET", key};
    const size_t lens[] = {3, strlen(key)};
    redisReply *rep = cs_redis_argv(r, 2, argv, lens);
    cs_store_err_t e = !rep || rep->type == REDIS_REPLY_ERROR ? CS_STORE_ERR_IO
                       : rep->type != REDIS_REPLY_STRING      ? CS_STORE_ERR_MISSING
                                                              : CS_STORE_OK;
    if (e == CS_STORE_OK && !(*text = malloc(rep->len + 1)))
        e = CS_STORE_ERR_IO;
    if (e == CS_STORE_OK) {
        memcpy(*text, rep->str, rep->len);
        (*text)[rep->len] = '\0';
        *len = rep->len;
        cs_wipe(rep->str, rep->len);
    }
    freeReplyObject(rep);
    return e;
}

oscore_persist_t cs_redis_persist(cs_redis_t *r, uint32_t step)
{
    return (oscore_persist_t){.arg = r, .step = step, .reserve_ssn = cs_redis_reserve_ssn,
                              .accept_piv = cs_redis_accept_piv};
}

void cs_redis_oscore_key(const uint8_t *rid, size_t rid_len, const uint8_t *idctx, size_t idctx_len, bool has_idctx,
                         const char *suffix, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "coreseal:oscore:");
    for (size_t i = 0; i < rid_len && n + 2 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%02x", rid[i]);
    n += (size_t)snprintf(out + n, cap - n, ":");
    if (!has_idctx)
        n += (size_t)snprintf(out + n, cap - n, "-");
    for (size_t i = 0; has_idctx && i < idctx_len && n + 2 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%02x", idctx[i]);
    snprintf(out + n, cap - n, ":%s", suffix);
}

/* "coreseal:oscore:RID:IDCTX:" + suffix. */
static void context_key(const oscore_ctx_t *ctx, const char *suffix, char *out, size_t cap)
{
    cs_redis_oscore_key(ctx->recipient_id, ctx->recipient_id_len, ctx->id_context, ctx->id_context_len,
                        ctx->has_id_context, suffix, out, cap);
}

/* EVALSHA with one key and two arguments; reconnects once (a restarted
 * Redis has lost the scripts too). */
static redisReply *eval(cs_redis_t *r, const char *sha, const char *key, uint64_t a, uint64_t b)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt && !connect_redis(r))
            return NULL;
        if (!r->c || r->c->err)
            continue;
        r->round_trips++;
        redisReply *rep = redisCommand(r->c, "EVALSHA %s 1 %s %" PRIu64 " %" PRIu64, sha, key, a, b);
        if (rep && !(rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)))
            return rep;
        freeReplyObject(rep);
    }
    cs_redis_set_error(r, "EVALSHA failed");
    return NULL;
}

oscore_err_t cs_redis_reserve_ssn(void *arg, const oscore_ctx_t *ctx, uint64_t count, uint64_t *first)
{
    cs_redis_t *r = arg;
    char key[200];
    context_key(ctx, "ssn", key, sizeof key);
    redisReply *rep = eval(r, r->reserve_sha, key, count, ctx->ssn);
    bool ok = rep && rep->type == REDIS_REPLY_STRING;
    uint64_t end = ok ? strtoull(rep->str, NULL, 10) : 0;
    if (rep && rep->type == REDIS_REPLY_ERROR)
        cs_redis_set_error(r, rep->str);
    freeReplyObject(rep);
    if (!ok || end < count)
        return OSCORE_ERR_STORAGE;
    *first = end - count;
    return OSCORE_OK;
}

oscore_err_t cs_redis_accept_piv(void *arg, const oscore_ctx_t *ctx, uint64_t piv)
{
    cs_redis_t *r = arg;
    char key[200];
    context_key(ctx, "win", key, sizeof key);
    redisReply *rep = eval(r, r->accept_sha, key, piv, ctx->replay.size);
    oscore_err_t e = !rep || rep->type != REDIS_REPLY_INTEGER ? OSCORE_ERR_STORAGE
                     : rep->integer == 1                      ? OSCORE_OK
                                                              : OSCORE_ERR_REPLAY;
    if (rep && rep->type == REDIS_REPLY_ERROR)
        cs_redis_set_error(r, rep->str);
    freeReplyObject(rep);
    return e;
}
