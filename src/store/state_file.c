/* OSCORE state files (RFC 8613 Appendix B.1): the SSN bound written ahead
 * of use, and the replay window, valid only when saved at a clean shutdown
 * (B.1.2). Writes are atomic: temporary file, fsync, rename, fsync of the
 * directory, so a crash leaves the old or the new file, never a torn one. */
#define _POSIX_C_SOURCE 200809L
#include "coreseal/store.h"
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cs_store_err_t fail(char *err, size_t err_len, cs_store_err_t code, const char *what,
                           const char *path)
{
    if (err && err_len)
        snprintf(err, err_len, "%s: %s", path, what);
    return code;
}

static bool write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

cs_store_err_t cs_file_read_small(const char *path, size_t cap, char **buf, size_t *len)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return CS_STORE_ERR_IO; /* errno says why */
    char *b = malloc(cap);
    size_t n = b ? fread(b, 1, cap, f) : 0;
    fclose(f);
    if (!b || n == cap) {
        free(b);
        return CS_STORE_ERR_VALUE;
    }
    *buf = b;
    *len = n;
    return CS_STORE_OK;
}

cs_store_err_t cs_file_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[CS_STORE_PATH_MAX + 8], dir[CS_STORE_PATH_MAX];
    if (!path || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return CS_STORE_ERR_BAD_ARG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return CS_STORE_ERR_IO;
    bool ok = write_all(fd, data, len) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return CS_STORE_ERR_IO;
    }
    /* the rename itself must reach the disk */
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return CS_STORE_ERR_IO;
    ok = fsync(dfd) == 0;
    close(dfd);
    return ok ? CS_STORE_OK : CS_STORE_ERR_IO;
}

static cs_store_err_t state_write(const cs_state_file_t *sf)
{
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "ssn_bound", json_integer((json_int_t)sf->ssn_bound));
    if (sf->has_id_context)
        json_object_set_new(root, "id_context", cs_json_hex(sf->id_context, sf->id_context_len));
    if (sf->window_valid) {
        json_t *w = json_object(), *seen = json_array();
        char hex[17];
        json_object_set_new(w, "empty", json_boolean(sf->window.empty));
        json_object_set_new(w, "highest", json_integer((json_int_t)sf->window.highest));
        for (size_t i = 0; i < OSCORE_MAX_REPLAY_WINDOW / 64; i++) {
            snprintf(hex, sizeof hex, "%016" PRIx64, sf->window.seen[i]);
            json_array_append_new(seen, json_string(hex));
        }
        json_object_set_new(w, "seen", seen);
        json_object_set_new(root, "replay_window", w);
    }
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text)
        return CS_STORE_ERR_IO;
    cs_store_err_t e = cs_file_write_atomic(sf->path, text, strlen(text));
    free(text);
    return e;
}

static cs_store_err_t state_read(cs_state_file_t *sf, char *err, size_t err_len)
{
    json_error_t jerr;
    json_t *root = json_load_file(sf->path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(err, err_len, CS_STORE_ERR_SYNTAX, jerr.text, sf->path);
    cs_store_err_t e = CS_STORE_ERR_VALUE;
    json_t *bound = json_object_get(root, "ssn_bound"), *w = json_object_get(root, "replay_window");
    if (!json_is_integer(json_object_get(root, "version")) || !json_is_integer(bound) ||
        json_integer_value(bound) < 0 || (uint64_t)json_integer_value(bound) > OSCORE_SSN_MAX + 1) {
        fail(err, err_len, e, "ssn_bound missing or out of range", sf->path);
        goto out;
    }
    sf->ssn_bound = (uint64_t)json_integer_value(bound);
    json_t *idc = json_object_get(root, "id_context");
    if (idc) {
        const char *s = json_string_value(idc);
        if (!s || !cs_hex_decode(s, strlen(s), sf->id_context, sizeof sf->id_context,
                                 &sf->id_context_len)) {
            fail(err, err_len, e, "id_context is not a hex string of at most 32 bytes", sf->path);
            goto out;
        }
        sf->has_id_context = true;
    }
    if (w) {
        json_t *seen = json_object_get(w, "seen"), *hi = json_object_get(w, "highest");
        if (!json_is_array(seen) || json_array_size(seen) != OSCORE_MAX_REPLAY_WINDOW / 64 ||
            !json_is_integer(hi) || !json_is_boolean(json_object_get(w, "empty"))) {
            fail(err, err_len, e, "replay_window malformed", sf->path);
            goto out;
        }
        sf->window.highest = (uint64_t)json_integer_value(hi);
        sf->window.empty = json_is_true(json_object_get(w, "empty"));
        for (size_t i = 0; i < OSCORE_MAX_REPLAY_WINDOW / 64; i++) {
            const char *s = json_string_value(json_array_get(seen, i));
            if (!s || sscanf(s, "%16" SCNx64, &sf->window.seen[i]) != 1) {
                fail(err, err_len, e, "replay_window.seen malformed", sf->path);
                goto out;
            }
        }
        sf->window_valid = true;
    }
    e = CS_STORE_OK;
out:
    json_decref(root);
    return e;
}

/* A B.2 context's ID Context changes with its keys (Appendix B.2): the
 * file records it with every bound, so a bound never outlives its keys. */
static void note_id_context(cs_state_file_t *sf, const oscore_ctx_t *ctx)
{
    if (!ctx->b2 || !ctx->has_id_context)
        return;
    memcpy(sf->id_context, ctx->id_context, ctx->id_context_len);
    sf->id_context_len = ctx->id_context_len;
    sf->has_id_context = true;
}

static oscore_err_t save_ssn(void *arg, const oscore_ctx_t *ctx, uint64_t bound)
{
    cs_state_file_t *sf = arg;
    cs_state_file_t old = *sf;
    sf->ssn_bound = bound;
    note_id_context(sf, ctx);
    if (state_write(sf) != CS_STORE_OK) {
        *sf = old;
        return OSCORE_ERR_STORAGE;
    }
    return OSCORE_OK;
}

cs_store_err_t cs_state_open(cs_state_file_t *sf, const char *path, uint32_t step,
                             oscore_params_t *p, char *err, size_t err_len)
{
    if (!sf || !path || !p || strlen(path) >= sizeof sf->path)
        return CS_STORE_ERR_BAD_ARG;
    memset(sf, 0, sizeof *sf);
    memcpy(sf->path, path, strlen(path) + 1);
    if (access(path, F_OK) != 0) {
        if (errno != ENOENT)
            return fail(err, err_len, CS_STORE_ERR_IO, strerror(errno), path);
        sf->fresh = true; /* a context that never sent or received */
    } else {
        cs_store_err_t e = state_read(sf, err, err_len);
        if (e != CS_STORE_OK)
            return e;
    }
    p->ssn_start = sf->ssn_bound;
    p->replay_window_lost = !sf->fresh && !sf->window_valid;
    if (p->b2 && sf->has_id_context) {
        p->id_context = sf->id_context;
        p->id_context_len = sf->id_context_len;
        p->send_kid_context = true; /* as oscore_b2_* derive them: the peer may have lost it */
    }
    p->persist = (oscore_persist_t){.save_ssn = save_ssn, .arg = sf, .step = step};
    return CS_STORE_OK;
}

cs_store_err_t cs_state_attach(cs_state_file_t *sf, oscore_ctx_t *ctx)
{
    if (!sf || !ctx)
        return CS_STORE_ERR_BAD_ARG;
    if (sf->window_valid)
        oscore_ctx_restore_window(ctx, &sf->window);
    /* From here on the window lives in memory only: a crash must leave a
     * file that says so. */
    sf->window_valid = false;
    return state_write(sf);
}

cs_store_err_t cs_state_close(cs_state_file_t *sf, const oscore_ctx_t *ctx)
{
    if (!sf || !ctx)
        return CS_STORE_ERR_BAD_ARG;
    /* The bound stays what was promised: SSNs up to it may have gone out. */
    sf->window = ctx->replay;
    sf->window_valid = !ctx->replay.lost;
    note_id_context(sf, ctx);
    return state_write(sf);
}
