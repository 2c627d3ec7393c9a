/* A LwM2M server's clients in SQLite (see the header): one table, one row
 * per client, in WAL mode. Commits that guard nonces (SSN bounds, windows
 * marked stale) run with synchronous=FULL and survive power loss; the
 * others (registrations) with NORMAL, which survives a crash of the
 * process and costs no fsync: a registration lost to a power cut only
 * means the client registers again. */
#define _POSIX_C_SOURCE 200809L
#include "coreseal/lwm2m_db.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSN_BLOCK 32 /* SSNs reserved per context at start; also the persistence step */
#define SSN_BLOCK_TEXT "32"

struct cs_lwm2m_db {
    sqlite3 *sql;
    sqlite3_stmt *save_ssn;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS clients ("
    " key BLOB PRIMARY KEY,"
    " endpoint BLOB,"                /* NULL: the OSCORE Sender ID */
    " has_oscore INTEGER NOT NULL,"
    " master_secret BLOB, master_salt BLOB, sender_id BLOB, recipient_id BLOB,"
    " id_context BLOB,"              /* NULL: no ID Context */
    " aead INTEGER, hkdf INTEGER, replay_size INTEGER, send_kid_context INTEGER,"
    " ssn_bound INTEGER NOT NULL DEFAULT 0,"
    " window BLOB,"                  /* valid only after a clean shutdown */
    " used INTEGER NOT NULL DEFAULT 0,"
    " registered INTEGER NOT NULL DEFAULT 0,"
    " lifetime INTEGER, binding TEXT, version TEXT, queue INTEGER, links BLOB, addr BLOB,"
    " expires INTEGER,"
    " b2 INTEGER NOT NULL DEFAULT 0,"  /* Appendix B.2 context: keyed by Recipient ID */
    " b2_id_context BLOB);"            /* its ID Context now; NULL: none negotiated */
    "CREATE TABLE IF NOT EXISTS observations ("
    " endpoint TEXT NOT NULL,"
    " target TEXT NOT NULL,"          /* PATH[?QUERY] */
    " accept INTEGER NOT NULL,"       /* -1: none */
    " PRIMARY KEY (endpoint, target));";

/* Files from before B.2 get its columns (an error means they are there). */
static const char *const migrations[] = {
    "ALTER TABLE clients ADD COLUMN b2 INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE clients ADD COLUMN b2_id_context BLOB",
};

static cs_store_err_t fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return CS_STORE_ERR_IO;
}

/* ---------------------------------------------------------------- keys */

#define KEY_MAX (3 + OSCORE_MAX_ID_LEN + OSCORE_MAX_ID_CONTEXT_LEN + LWM2M_ENDPOINT_MAX)

/* 'o' rid_len rid has_ctx ctx for OSCORE clients; 'e' endpoint otherwise. */
static size_t oscore_key(uint8_t *k, const uint8_t *rid, size_t rid_len, const uint8_t *ctx, size_t ctx_len,
                         bool has_ctx)
{
    size_t n = 0;
    k[n++] = 'o';
    k[n++] = (uint8_t)rid_len;
    memcpy(k + n, rid, rid_len);
    n += rid_len;
    k[n++] = has_ctx;
    if (has_ctx) {
        memcpy(k + n, ctx, ctx_len);
        n += ctx_len;
    }
    return n;
}

/* B.2 contexts by Recipient ID alone, as in the registry: their ID
 * Context changes. */
static size_t ctx_key(uint8_t *k, const oscore_ctx_t *c)
{
    return oscore_key(k, c->recipient_id, c->recipient_id_len, c->id_context, c->id_context_len,
                      c->has_id_context && !c->b2);
}

static size_t client_key(uint8_t *k, const lwm2m_client_t *c)
{
    if (c->has_oscore)
        return ctx_key(k, &c->oscore);
    k[0] = 'e';
    memcpy(k + 1, c->endpoint, c->endpoint_len);
    return 1 + (size_t)c->endpoint_len;
}

/* ---------------------------------------------------------------- windows */

#define WINDOW_BYTES (8 + 2 + 1 + OSCORE_MAX_REPLAY_WINDOW / 8)

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void window_encode(const oscore_replay_t *w, uint8_t out[WINDOW_BYTES])
{
    put64(out, w->highest);
    out[8] = (uint8_t)w->size;
    out[9] = (uint8_t)(w->size >> 8);
    out[10] = w->empty;
    for (size_t i = 0; i < OSCORE_MAX_REPLAY_WINDOW / 64; i++)
        put64(out + 11 + 8 * i, w->seen[i]);
}

static bool window_decode(const uint8_t *in, size_t n, oscore_replay_t *w)
{
    if (n != WINDOW_BYTES)
        return false;
    memset(w, 0, sizeof *w);
    w->highest = get64(in);
    w->size = (uint16_t)(in[8] | in[9] << 8);
    w->empty = in[10] != 0;
    for (size_t i = 0; i < OSCORE_MAX_REPLAY_WINDOW / 64; i++)
        w->seen[i] = get64(in + 11 + 8 * i);
    return true;
}

/* ---------------------------------------------------------------- open / close */

cs_store_err_t cs_lwm2m_db_open(cs_lwm2m_db_t **out, const char *path, char *err, size_t err_len)
{
    if (!out || !path)
        return CS_STORE_ERR_BAD_ARG;
    *out = NULL;
    cs_lwm2m_db_t *db = calloc(1, sizeof *db);
    if (!db)
        return fail(err, err_len, "%s: out of memory", path);
    char *msg = NULL;
    if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
        sqlite3_exec(db->sql, schema, NULL, NULL, &msg) != SQLITE_OK) {
        fail(err, err_len, "%s: %s", path, msg ? msg : sqlite3_errmsg(db->sql));
        sqlite3_free(msg);
        cs_lwm2m_db_close(db);
        return CS_STORE_ERR_IO;
    }
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++)
        sqlite3_exec(db->sql, migrations[i], NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db->sql, "UPDATE clients SET ssn_bound=?2, b2_id_context=?3 WHERE key=?1", -1,
                           &db->save_ssn, NULL) != SQLITE_OK) {
        fail(err, err_len, "%s: %s", path, msg ? msg : sqlite3_errmsg(db->sql));
        sqlite3_free(msg);
        cs_lwm2m_db_close(db);
        return CS_STORE_ERR_IO;
    }
    *out = db;
    return CS_STORE_OK;
}

void cs_lwm2m_db_close(cs_lwm2m_db_t *db)
{
    if (!db)
        return;
    sqlite3_finalize(db->save_ssn);
    sqlite3_close(db->sql);
    free(db);
}

const char *cs_lwm2m_db_error(const cs_lwm2m_db_t *db)
{
    return db ? sqlite3_errmsg(db->sql) : "no database";
}

/* Runs a prepared statement to completion and finalizes it. */
static cs_store_err_t run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? CS_STORE_OK : CS_STORE_ERR_IO;
}

static sqlite3_stmt *prepare(cs_lwm2m_db_t *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    return sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    sqlite3_bind_blob(st, i, n ? p : "", (int)n, SQLITE_TRANSIENT);
}

/* Never NULL (SQLite gives NULL for empty blobs): callers copy from it. */
static const void *col_blob(sqlite3_stmt *st, int col, size_t *n)
{
    const void *p = sqlite3_column_blob(st, col);
    *n = (size_t)sqlite3_column_bytes(st, col);
    return p ? p : "";
}

/* ---------------------------------------------------------------- security */

static bool same_blob(sqlite3_stmt *st, int col, const uint8_t *p, size_t n)
{
    return (size_t)sqlite3_column_bytes(st, col) == n && (n == 0 || !memcmp(sqlite3_column_blob(st, col), p, n));
}

cs_store_err_t cs_lwm2m_db_put_security(cs_lwm2m_db_t *db, const oscore_params_t *p, const char *endpoint)
{
    if (!db || !p || !p->master_secret || p->recipient_id_len > OSCORE_MAX_ID_LEN ||
        p->id_context_len > OSCORE_MAX_ID_CONTEXT_LEN)
        return CS_STORE_ERR_BAD_ARG;
    uint8_t key[KEY_MAX];
    size_t kn = oscore_key(key, p->recipient_id, p->recipient_id_len, p->id_context, p->id_context_len,
                           p->id_context != NULL && !p->b2);
    size_t en = endpoint ? strlen(endpoint) : 0;
    if (en >= LWM2M_ENDPOINT_MAX)
        return CS_STORE_ERR_VALUE;
    /* the same keys again: keep the row's SSN bound and registration */
    sqlite3_stmt *st = prepare(db, "SELECT master_secret, master_salt, sender_id, id_context IS NULL, id_context,"
                                   " aead, hkdf, b2 FROM clients WHERE key=?");
    if (!st)
        return CS_STORE_ERR_IO;
    bind_blob(st, 1, key, kn);
    bool same = sqlite3_step(st) == SQLITE_ROW && same_blob(st, 0, p->master_secret, p->master_secret_len) &&
                same_blob(st, 1, p->master_salt, p->master_salt_len) &&
                same_blob(st, 2, p->sender_id, p->sender_id_len) &&
                sqlite3_column_int(st, 3) == (p->id_context == NULL) &&
                sqlite3_column_int(st, 5) == (p->aead_alg ? p->aead_alg : 10) &&
                sqlite3_column_int(st, 6) == (p->hkdf_alg ? p->hkdf_alg : -10) &&
                sqlite3_column_int(st, 7) == p->b2;
    sqlite3_finalize(st);
    if (same && !endpoint)
        return CS_STORE_OK;
    if (same) {
        if (!(st = prepare(db, "UPDATE clients SET endpoint=?2 WHERE key=?1")))
            return CS_STORE_ERR_IO;
        bind_blob(st, 1, key, kn);
        bind_blob(st, 2, endpoint, en);
        return run(st);
    }
    st = prepare(db, "INSERT OR REPLACE INTO clients (key, endpoint, has_oscore, master_secret, master_salt,"
                     " sender_id, recipient_id, id_context, aead, hkdf, replay_size, send_kid_context, b2)"
                     " VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!st)
        return CS_STORE_ERR_IO;
    bind_blob(st, 1, key, kn);
    if (endpoint)
        bind_blob(st, 2, endpoint, en);
    bind_blob(st, 3, p->master_secret, p->master_secret_len);
    bind_blob(st, 4, p->master_salt, p->master_salt_len);
    bind_blob(st, 5, p->sender_id, p->sender_id_len);
    bind_blob(st, 6, p->recipient_id, p->recipient_id_len);
    if (p->id_context)
        bind_blob(st, 7, p->id_context, p->id_context_len);
    sqlite3_bind_int(st, 8, p->aead_alg ? p->aead_alg : 10);
    sqlite3_bind_int(st, 9, p->hkdf_alg ? p->hkdf_alg : -10);
    sqlite3_bind_int(st, 10, p->replay_window);
    sqlite3_bind_int(st, 11, p->send_kid_context);
    sqlite3_bind_int(st, 12, p->b2);
    return run(st);
}

static void copy_col(sqlite3_stmt *st, int col, uint8_t *dst, size_t cap, size_t *len)
{
    size_t n;
    const void *p = col_blob(st, col, &n);
    *len = n <= cap ? n : 0;
    memcpy(dst, p, *len);
}

cs_store_err_t cs_lwm2m_db_provisioned(cs_lwm2m_db_t *db, const oscore_ctx_t *ctx, cs_context_file_t *out)
{
    if (!db || !ctx || !out)
        return CS_STORE_ERR_BAD_ARG;
    uint8_t key[KEY_MAX];
    size_t kn = ctx_key(key, ctx);
    sqlite3_stmt *st = prepare(db, "SELECT master_secret, master_salt, sender_id, recipient_id, id_context,"
                                   " aead, hkdf, replay_size, send_kid_context, b2 FROM clients WHERE key=?1");
    if (!st)
        return CS_STORE_ERR_IO;
    bind_blob(st, 1, key, kn);
    cs_store_err_t e = CS_STORE_ERR_MISSING;
    if (sqlite3_step(st) == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        copy_col(st, 0, out->master_secret, sizeof out->master_secret, &out->master_secret_len);
        copy_col(st, 1, out->master_salt, sizeof out->master_salt, &out->master_salt_len);
        copy_col(st, 2, out->sender_id, sizeof out->sender_id, &out->sender_id_len);
        copy_col(st, 3, out->recipient_id, sizeof out->recipient_id, &out->recipient_id_len);
        out->has_id_context = sqlite3_column_type(st, 4) != SQLITE_NULL;
        copy_col(st, 4, out->id_context, sizeof out->id_context, &out->id_context_len);
        out->aead_alg = sqlite3_column_int(st, 5);
        out->hkdf_alg = sqlite3_column_int(st, 6);
        out->replay_window = (uint16_t)sqlite3_column_int(st, 7);
        out->send_kid_context = sqlite3_column_int(st, 8);
        out->b2 = sqlite3_column_int(st, 9);
        e = CS_STORE_OK;
    }
    sqlite3_finalize(st);
    return e;
}

/* Runs a statement (sql, or the prepared st) with an fsync at its commit. */
static bool durable(cs_lwm2m_db_t *db, const char *sql, sqlite3_stmt *st)
{
    bool ok = sqlite3_exec(db->sql, "PRAGMA synchronous=FULL", NULL, NULL, NULL) == SQLITE_OK &&
              (st ? sqlite3_step(st) == SQLITE_DONE : sqlite3_exec(db->sql, sql, NULL, NULL, NULL) == SQLITE_OK);
    return sqlite3_exec(db->sql, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) == SQLITE_OK && ok;
}

oscore_err_t cs_lwm2m_db_save_ssn(void *arg, const oscore_ctx_t *ctx, uint64_t bound)
{
    cs_lwm2m_db_t *db = arg;
    uint8_t key[KEY_MAX];
    size_t kn = ctx_key(key, ctx);
    sqlite3_reset(db->save_ssn);
    bind_blob(db->save_ssn, 1, key, kn);
    sqlite3_bind_int64(db->save_ssn, 2, (sqlite3_int64)bound);
    /* a B.2 context's bound belongs to its current ID Context */
    if (ctx->b2 && ctx->has_id_context)
        bind_blob(db->save_ssn, 3, ctx->id_context, ctx->id_context_len);
    else
        sqlite3_bind_null(db->save_ssn, 3);
    bool ok = durable(db, NULL, db->save_ssn) && sqlite3_changes(db->sql) == 1;
    sqlite3_reset(db->save_ssn);
    return ok ? OSCORE_OK : OSCORE_ERR_STORAGE; /* not stored: the context must not send */
}

cs_store_err_t cs_lwm2m_db_save_window(cs_lwm2m_db_t *db, const oscore_ctx_t *ctx)
{
    if (!db || !ctx)
        return CS_STORE_ERR_BAD_ARG;
    uint8_t key[KEY_MAX], w[WINDOW_BYTES];
    size_t kn = ctx_key(key, ctx);
    sqlite3_stmt *st = prepare(db, "UPDATE clients SET window=?2, used=(used OR ?3),"
                                   " b2_id_context=CASE WHEN b2 THEN ?4 END WHERE key=?1");
    if (!st)
        return CS_STORE_ERR_IO;
    window_encode(&ctx->replay, w);
    bind_blob(st, 1, key, kn);
    if (!ctx->replay.lost) /* a window still unknown stays unknown */
        bind_blob(st, 2, w, sizeof w);
    sqlite3_bind_int(st, 3, !ctx->replay.empty);
    if (ctx->has_id_context)
        bind_blob(st, 4, ctx->id_context, ctx->id_context_len);
    return run(st);
}

/* ---------------------------------------------------------------- registrations */

cs_store_err_t cs_lwm2m_db_save_registration(cs_lwm2m_db_t *db, const lwm2m_client_t *c, const void *addr,
                                             size_t addr_len, int64_t expires_ms)
{
    if (!db || !c)
        return CS_STORE_ERR_BAD_ARG;
    uint8_t key[KEY_MAX];
    size_t kn = client_key(key, c);
    sqlite3_stmt *st = prepare(
        db, c->has_oscore
                ? "UPDATE clients SET endpoint=?9, registered=1, used=1, lifetime=?2, binding=?3, version=?4, queue=?5, links=?6,"
                  " addr=?7, expires=?8 WHERE key=?1"
                : "INSERT OR REPLACE INTO clients (key, endpoint, has_oscore, registered, used, lifetime, binding,"
                  " version, queue, links, addr, expires) VALUES (?1, ?9, 0, 1, 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st)
        return CS_STORE_ERR_IO;
    bind_blob(st, 1, key, kn);
    sqlite3_bind_int64(st, 2, c->lifetime);
    sqlite3_bind_text(st, 3, c->binding, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, c->version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, c->queue_mode);
    bind_blob(st, 6, c->links, c->links_len);
    bind_blob(st, 7, addr, addr_len);
    sqlite3_bind_int64(st, 8, expires_ms);
    bind_blob(st, 9, c->endpoint, c->endpoint_len);
    return run(st);
}

cs_store_err_t cs_lwm2m_db_end_registration(cs_lwm2m_db_t *db, const lwm2m_client_t *c)
{
    if (!db || !c)
        return CS_STORE_ERR_BAD_ARG;
    uint8_t key[KEY_MAX];
    size_t kn = client_key(key, c);
    sqlite3_stmt *st = prepare(db, c->has_oscore ? "UPDATE clients SET registered=0, links=NULL, addr=NULL"
                                                   " WHERE key=?1"
                                                 : "DELETE FROM clients WHERE key=?1");
    if (!st)
        return CS_STORE_ERR_IO;
    bind_blob(st, 1, key, kn);
    return run(st);
}

cs_store_err_t cs_lwm2m_db_forget(cs_lwm2m_db_t *db, const lwm2m_client_t *c)
{
    if (!db || !c)
        return CS_STORE_ERR_BAD_ARG;
    uint8_t key[KEY_MAX];
    size_t kn = client_key(key, c);
    sqlite3_stmt *st = prepare(db, "DELETE FROM clients WHERE key=?1");
    if (!st)
        return CS_STORE_ERR_IO;
    bind_blob(st, 1, key, kn);
    return run(st);
}

/* ---------------------------------------------------------------- observations */

cs_store_err_t cs_lwm2m_db_save_observation(cs_lwm2m_db_t *db, const char *endpoint, const char *target, long accept)
{
    if (!db || !endpoint || !target)
        return CS_STORE_ERR_BAD_ARG;
    sqlite3_stmt *st = prepare(db, "INSERT OR REPLACE INTO observations (endpoint, target, accept) VALUES (?1, ?2, ?3)");
    if (!st)
        return CS_STORE_ERR_IO;
    sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, target, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, accept);
    return run(st);
}

cs_store_err_t cs_lwm2m_db_end_observation(cs_lwm2m_db_t *db, const char *endpoint, const char *target)
{
    if (!db || !endpoint)
        return CS_STORE_ERR_BAD_ARG;
    sqlite3_stmt *st = prepare(db, target ? "DELETE FROM observations WHERE endpoint=?1 AND target=?2"
                                          : "DELETE FROM observations WHERE endpoint=?1");
    if (!st)
        return CS_STORE_ERR_IO;
    sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_TRANSIENT);
    if (target)
        sqlite3_bind_text(st, 2, target, -1, SQLITE_TRANSIENT);
    return run(st);
}

cs_store_err_t cs_lwm2m_db_load_observations(cs_lwm2m_db_t *db,
                                             int (*fn)(void *arg, const char *endpoint, const char *target,
                                                       long accept),
                                             void *arg)
{
    if (!db || !fn)
        return CS_STORE_ERR_BAD_ARG;
    sqlite3_stmt *st = prepare(db, "SELECT endpoint, target, accept FROM observations ORDER BY endpoint, target");
    if (!st)
        return CS_STORE_ERR_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
               (long)sqlite3_column_int64(st, 2)) != 0)
            break;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CS_STORE_OK : CS_STORE_ERR_IO;
}

/* ---------------------------------------------------------------- loading */

static void text_field(sqlite3_stmt *st, int col, const char **s, size_t *n)
{
    *s = (const char *)sqlite3_column_text(st, col);
    *n = (size_t)sqlite3_column_bytes(st, col);
}

static void fill_row(cs_lwm2m_db_t *db, sqlite3_stmt *st, cs_lwm2m_db_row_t *r)
{
    memset(r, 0, sizeof *r);
    r->endpoint = col_blob(st, 0, &r->endpoint_len);
    if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        r->endpoint = NULL;
    r->has_oscore = sqlite3_column_int(st, 1);
    r->used = sqlite3_column_int(st, 13);
    if (r->has_oscore) {
        oscore_params_t *p = &r->params;
        p->master_secret = col_blob(st, 2, &p->master_secret_len);
        p->master_salt = col_blob(st, 3, &p->master_salt_len);
        p->sender_id = col_blob(st, 4, &p->sender_id_len);
        p->recipient_id = col_blob(st, 5, &p->recipient_id_len);
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) /* NULL: none; empty: an empty one */
            p->id_context = col_blob(st, 6, &p->id_context_len);
        p->aead_alg = sqlite3_column_int(st, 7);
        p->hkdf_alg = sqlite3_column_int(st, 8);
        p->replay_window = (uint16_t)sqlite3_column_int(st, 9);
        p->send_kid_context = sqlite3_column_int(st, 10);
        /* a B.2 context restarts with the ID Context it negotiated last:
         * its SSN bound and window belong to those keys */
        p->b2 = sqlite3_column_int(st, 22);
        if (p->b2 && sqlite3_column_type(st, 23) != SQLITE_NULL) {
            p->id_context = col_blob(st, 23, &p->id_context_len);
            p->send_kid_context = true;
        }
        /* load() reserved the next SSN_BLOCK numbers of every context at once */
        uint64_t bound = (uint64_t)sqlite3_column_int64(st, 11);
        p->ssn_start = bound - SSN_BLOCK;
        p->ssn_covered = bound;
        size_t wn;
        const void *w = col_blob(st, 12, &wn);
        r->window_valid = window_decode(w, wn, &r->window);
        p->replay_window_lost = r->used && !r->window_valid;
        p->persist = (oscore_persist_t){.save_ssn = cs_lwm2m_db_save_ssn, .arg = db, .step = SSN_BLOCK};
    }
    r->registered = sqlite3_column_int(st, 14);
    if (r->registered) {
        lwm2m_register_info_t *i = &r->info;
        i->endpoint = r->endpoint;
        i->endpoint_len = r->endpoint_len;
        i->lifetime = (uint32_t)sqlite3_column_int64(st, 15);
        text_field(st, 16, &i->binding, &i->binding_len);
        text_field(st, 17, &i->version, &i->version_len);
        i->queue_mode = sqlite3_column_int(st, 18);
        r->links = col_blob(st, 19, &r->links_len);
        r->addr = col_blob(st, 20, &r->addr_len);
        r->expires_ms = sqlite3_column_int64(st, 21);
    }
}

cs_store_err_t cs_lwm2m_db_load(cs_lwm2m_db_t *db, int (*fn)(void *arg, const cs_lwm2m_db_row_t *row), void *arg)
{
    if (!db || !fn)
        return CS_STORE_ERR_BAD_ARG;
    /* One fsync for every context's first SSN_BLOCK numbers, instead of one
     * per context at its first message (a server starting with a million
     * clients would otherwise write as often as they first speak). */
    if (!durable(db, "UPDATE clients SET ssn_bound = ssn_bound + " SSN_BLOCK_TEXT " WHERE has_oscore", NULL))
        return CS_STORE_ERR_IO;
    sqlite3_stmt *st = prepare(db, "SELECT endpoint, has_oscore, master_secret, master_salt, sender_id,"
                                   " recipient_id, id_context, aead, hkdf, replay_size, send_kid_context,"
                                   " ssn_bound, window, used, registered, lifetime, binding, version, queue,"
                                   " links, addr, expires, b2, b2_id_context FROM clients");
    if (!st)
        return CS_STORE_ERR_IO;
    int rc;
    cs_lwm2m_db_row_t row;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fill_row(db, st, &row);
        if (fn(arg, &row) != 0)
            break;
    }
    sqlite3_finalize(st);
    cs_wipe(&row, sizeof row);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return CS_STORE_ERR_IO;
    /* from now on the windows live in memory: a crash must leave a file
     * that says so */
    return durable(db, "UPDATE clients SET window=NULL", NULL) ? CS_STORE_OK : CS_STORE_ERR_IO;
}
