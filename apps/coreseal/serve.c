/* coreseal serve: a CoAP server over UDP with OSCORE (several contexts at
 * once), serving files under --root (GET/PUT/POST/DELETE, block-wise both
 * ways, Observe on files that change) and, with --interop, the resources of
 * the OSCORE interop tests (docs/interop.md). OSCORE failures are answered
 * as RFC 8613 §8.2 says; after a crash the replay window is rebuilt with an
 * Echo round trip (Appendix B.1.2). With --listen-http it is also an HTTP
 * origin server and an OSCORE endpoint over HTTP (RFC 8613 §11.4): each
 * HTTP request is mapped to the CoAP request it stands for (RFC 8075) and
 * handled like one, the answer mapped back. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "coreseal/coap_ep.h"
#include "coreseal/net.h"
#include "http_gateway.h"

#define MAX_MSG 1400
#define MAX_OBSERVERS 64
#define MAX_UPLOADS 8
#define MAX_UPLOAD_SIZE (16u << 20)
#define PATH_LEN 256
/* The peer of a request that came over HTTP: no socket's handle (those of
 * UDP are small, TCP's have bit 31, DTLS's bit 30). */
#define HTTP_PEER 0x3fffffffu

typedef struct {
    bool active;
    coap_peer_t peer;
    uint8_t token[COAP_MAX_TOKEN_LEN], token_len;
    char path[PATH_LEN];
    cli_context_t *oscore;
    oscore_binding_t bind;
    uint32_t seq;
    struct timespec mtime;
    off_t size;
    unsigned step; /* interop observe resources: notifications sent */
    cs_time_ms_t next;
    cs_time_ms_t last_con; /* the last confirmable notification (RFC 7641 §4.5) */
} observer_t;

typedef struct {
    bool active;
    coap_peer_t peer;
    char path[PATH_LEN];
    uint8_t tag[8], tag_len; /* Request-Tag (RFC 9175 §3): one body per tag */
    uint8_t *data;
    size_t len;
    uint32_t next_num;
    cs_time_ms_t expires;
} upload_t;

/* RFC 8613 §4.1.3.4.2: a proxy may fragment an OSCORE message with Outer
 * Block options, which nothing protects. A request's outer Block1 pieces
 * are gathered (up to MAX_MSG bytes: this server's MAX_UNFRAGMENTED_SIZE)
 * before it is verified; a response larger than the outer Block2 size a
 * request asked for goes out in blocks, the later ones from a copy kept
 * under the request's OSCORE option (its kid and Partial IV name the
 * request; running it again would be a replay). */
#define MAX_OUTER 4
#define OUTER_KEY_MAX 64 /* OSCORE option value, then the outer Request-Tag */

typedef struct {
    bool active;
    coap_peer_t peer;
    uint8_t key[OUTER_KEY_MAX];
    size_t key_len;
    uint8_t data[MAX_MSG];
    coap_body_t body;    /* Block1: the request's payload so far */
    size_t msg_len;      /* Block2: the whole protected response */
    cs_time_ms_t expires;
} outer_t;

/* The outer blocks of the request being answered. */
typedef struct {
    bool block1, block2;
    coap_block_t b1;
    uint8_t b2_szx;
    uint8_t key[OUTER_KEY_MAX];
    size_t key_len;
} outer_req_t;

typedef struct {
    const char *listen_host, *listen_port, *root;
    bool require_oscore, interop;
    int verbose;
    long observe_interval_ms; /* interop observe resources */
    cli_security_t sec;
    cs_udp_t udp;
    coap_ep_t ep;
    uint8_t *ep_mem;
    observer_t obs[MAX_OBSERVERS];
    upload_t up[MAX_UPLOADS];
    outer_t outer_in[MAX_OUTER], outer_out[MAX_OUTER];
    outer_req_t outer; /* of the request being handled */
    cli_edhoc_t edhoc;
    cli_edhoc_responder_t resp;
    uint8_t interop_7; /* state of /oscore/hello/7 for If-Match tests */
    hc_gateway_t *gw;  /* --listen-http */
    hc_cmd_t *http;    /* the HTTP request being handled */
    uint64_t http_seq; /* makes its token */
} server_t;

/* What a handler answers; turned into a message by finish_reply. */
typedef struct {
    uint8_t code;
    coap_optlist_t opts;
    coap_opt_t list[24];
    uint8_t arena[512];
    uint8_t *payload;
    size_t payload_len;
    uint8_t payload_buf[1024];
    bool observe_added;
    bool plain; /* unprotected even to a protected request (an OSCORE-level refusal) */
} reply_t;

static void reply_init(reply_t *r, uint8_t code)
{
    memset(r, 0, sizeof *r);
    r->code = code;
    coap_optlist_init(&r->opts, r->list, sizeof r->list / sizeof r->list[0], r->arena,
                      sizeof r->arena);
}

static void reply_text(reply_t *r, uint8_t code, const char *text)
{
    reply_init(r, code);
    r->payload_len = strlen(text) < sizeof r->payload_buf ? strlen(text) : sizeof r->payload_buf;
    memcpy(r->payload_buf, text, r->payload_len);
    r->payload = r->payload_buf;
    if (r->payload_len && COAP_CODE_CLASS(code) == 2)
        coap_optlist_add_uint(&r->opts, COAP_OPT_CONTENT_FORMAT, 0);
}

/* ---------------------------------------------------------------- paths */

/* Uri-Path segments as "/a/b"; false for "..", "." or a '/' or NUL inside
 * a segment (nothing may leave --root). */
static bool request_path(const coap_msg_t *m, char *out, size_t cap)
{
    size_t n = 0;
    coap_opt_iter_t it;
    coap_opt_t o;
    out[0] = '\0';
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (o.num != COAP_OPT_URI_PATH)
            continue;
        if ((o.len == 1 && o.val[0] == '.') || (o.len == 2 && !memcmp(o.val, "..", 2)) ||
            memchr(o.val, '/', o.len) || memchr(o.val, 0, o.len) || n + 1 + o.len >= cap)
            return false;
        out[n++] = '/';
        memcpy(out + n, o.val, o.len);
        n += o.len;
        out[n] = '\0';
    }
    if (n == 0)
        snprintf(out, cap, "/");
    return true;
}

static bool has_query(const coap_msg_t *m, const char *q)
{
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o))
        if (o.num == COAP_OPT_URI_QUERY && o.len == strlen(q) && !memcmp(o.val, q, o.len))
            return true;
    return false;
}

static long uint_option(const coap_msg_t *m, uint16_t num)
{
    coap_opt_t o;
    uint32_t v;
    if (!coap_msg_find_option(m, num, &o) || !coap_opt_uint(&o, &v))
        return -1;
    return (long)v;
}

static uint32_t content_format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return 42;
    static const struct {
        const char *ext;
        uint32_t cf;
    } map[] = {{".txt", 0}, {".json", 50}, {".cbor", 60}, {".xml", 41}, {".senml", 110}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(dot, map[i].ext) == 0)
            return map[i].cf;
    return 42;
}

/* ---------------------------------------------------------------- files */

static void fs_path(const server_t *s, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", s->root, path);
}

/* GET: one block of the file (Block2, §2.4). */
static void file_get(server_t *s, const char *path, const coap_msg_t *req, reply_t *r)
{
    char fp[PATH_LEN * 2];
    fs_path(s, path, fp, sizeof fp);
    struct stat st;
    if (stat(fp, &st) != 0 || !S_ISREG(st.st_mode)) {
        reply_text(r, COAP_NOT_FOUND, "no such file");
        return;
    }
    coap_block_t b2 = {.num = 0, .szx = 6};
    coap_opt_t o;
    if (coap_msg_find_option(req, COAP_OPT_BLOCK2, &o) && !coap_block_decode(&o, &b2)) {
        reply_text(r, COAP_BAD_OPTION, "bad Block2");
        return;
    }
    size_t size = coap_block_size(b2.szx), off = (size_t)b2.num * size;
    if (off > (size_t)st.st_size || (off == (size_t)st.st_size && off > 0)) {
        reply_text(r, COAP_BAD_OPTION, "Block2 beyond the end of the file");
        return;
    }
    reply_init(r, COAP_CONTENT);
    int fd = open(fp, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? pread(fd, r->payload_buf, size, (off_t)off) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        reply_text(r, COAP_INTERNAL_SERVER_ERROR, "read failed");
        return;
    }
    r->payload = r->payload_buf;
    r->payload_len = (size_t)n;
    coap_optlist_add_uint(&r->opts, COAP_OPT_CONTENT_FORMAT, content_format_of(path));
    if ((size_t)st.st_size > size || b2.num > 0) {
        b2.more = off + (size_t)n < (size_t)st.st_size;
        coap_optlist_add_uint(&r->opts, COAP_OPT_BLOCK2, coap_block_encode(&b2));
        if (b2.num == 0)
            coap_optlist_add_uint(&r->opts, COAP_OPT_SIZE2, (uint32_t)st.st_size);
    }
}

/* The upload a Block1 request continues: same peer, path and Request-Tag
 * (RFC 9175 §3.3: blocks with different tags are different bodies). */
static upload_t *upload_for(server_t *s, coap_peer_t peer, const char *path, const coap_opt_t *tag,
                            bool create, cs_time_ms_t now)
{
    upload_t *free_slot = NULL;
    for (size_t i = 0; i < MAX_UPLOADS; i++) {
        upload_t *u = &s->up[i];
        if (u->active && u->expires < now) {
            free(u->data);
            memset(u, 0, sizeof *u);
        }
        if (u->active && u->peer == peer && strcmp(u->path, path) == 0 &&
            u->tag_len == tag->len && memcmp(u->tag, tag->val, tag->len) == 0)
            return u;
        if (!u->active && !free_slot)
            free_slot = u;
    }
    if (!create || !free_slot)
        return NULL;
    free_slot->active = true;
    free_slot->peer = peer;
    snprintf(free_slot->path, sizeof free_slot->path, "%s", path);
    free_slot->tag_len = (uint8_t)tag->len;
    memcpy(free_slot->tag, tag->val, tag->len);
    return free_slot;
}

/* PUT (replace) or POST (append), with Block1 reassembly (§2.5). */
static void file_put(server_t *s, coap_peer_t peer, const char *path, const coap_msg_t *req,
                     bool append, reply_t *r, cs_time_ms_t now)
{
    char fp[PATH_LEN * 2];
    fs_path(s, path, fp, sizeof fp);
    coap_block_t b1;
    coap_opt_t o;
    bool block = coap_msg_find_option(req, COAP_OPT_BLOCK1, &o);
    if (block && !coap_block_decode(&o, &b1)) {
        reply_text(r, COAP_BAD_OPTION, "bad Block1");
        return;
    }
    const uint8_t *data = req->payload;
    size_t len = req->payload_len;
    upload_t *u = NULL;
    if (block) {
        coap_opt_t tag = {.num = COAP_OPT_REQUEST_TAG, .len = 0, .val = (const uint8_t *)""};
        if (coap_msg_find_option(req, COAP_OPT_REQUEST_TAG, &tag) && tag.len > sizeof u->tag) {
            reply_text(r, COAP_BAD_OPTION, "Request-Tag longer than 8 bytes");
            return;
        }
        u = upload_for(s, peer, path, &tag, b1.num == 0, now);
        if (b1.num == 0 && u) {
            free(u->data);
            u->data = NULL;
            u->len = 0;
            u->next_num = 0;
        }
        if (!u || b1.num != u->next_num) {
            reply_text(r, COAP_REQUEST_ENTITY_INCOMPLETE, "Block1 out of sequence");
            return;
        }
        size_t size = coap_block_size(b1.szx);
        if ((b1.more && len != size) || u->len + len > MAX_UPLOAD_SIZE) {
            reply_text(r, COAP_REQUEST_ENTITY_TOO_LARGE, "upload too large or blocks of wrong size");
            return;
        }
        uint8_t *nd = realloc(u->data, u->len + len + 1);
        if (!nd) {
            reply_text(r, COAP_INTERNAL_SERVER_ERROR, "out of memory");
            return;
        }
        u->data = nd;
        memcpy(u->data + u->len, data, len);
        u->len += len;
        u->next_num = b1.num + 1;
        u->expires = now + 60000;
        if (b1.more) {
            reply_init(r, COAP_CONTINUE);
            coap_optlist_add_uint(&r->opts, COAP_OPT_BLOCK1, coap_block_encode(&b1));
            return;
        }
        data = u->data;
        len = u->len;
    }
    struct stat st;
    bool existed = stat(fp, &st) == 0;
    cs_store_err_t e = CS_STORE_OK;
    if (append) {
        int fd = open(fp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        e = fd >= 0 && write(fd, data, len) == (ssize_t)len ? CS_STORE_OK : CS_STORE_ERR_IO;
        if (fd >= 0)
            close(fd);
    } else {
        e = cs_file_write_atomic(fp, data, len);
    }
    if (u) {
        free(u->data);
        memset(u, 0, sizeof *u);
    }
    if (e != CS_STORE_OK) {
        reply_text(r, COAP_INTERNAL_SERVER_ERROR, "cannot write the file");
        return;
    }
    reply_init(r, existed ? COAP_CHANGED : COAP_CREATED);
    if (block)
        coap_optlist_add_uint(&r->opts, COAP_OPT_BLOCK1, coap_block_encode(&b1));
}

static void well_known_core(server_t *s, reply_t *r)
{
    reply_init(r, COAP_CONTENT);
    coap_optlist_add_uint(&r->opts, COAP_OPT_CONTENT_FORMAT, 40);
    size_t n = 0, cap = sizeof r->payload_buf;
    if (s->interop)
        n += (size_t)snprintf((char *)r->payload_buf + n, cap - n,
                              "</oscore/hello/coap>,</oscore/hello/1>,</oscore/hello/2>,"
                              "</oscore/hello/3>,</oscore/hello/6>,</oscore/hello/7>,"
                              "</oscore/test>,</oscore/observe1>;obs,</oscore/observe2>;obs");
    DIR *d = s->root ? opendir(s->root) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL && n < cap - PATH_LEN) {
        if (de->d_name[0] == '.')
            continue;
        n += (size_t)snprintf((char *)r->payload_buf + n, cap - n, "%s</%s>;obs", n ? "," : "",
                              de->d_name);
    }
    if (d)
        closedir(d);
    r->payload = r->payload_buf;
    r->payload_len = n < cap ? n : cap;
}

/* ---------------------------------------------------------------- interop */

/* The resources of the OSCORE interop test description; see docs/interop.md.
 * Returns false if the path is not one of them. */
static bool interop_resource(server_t *s, const char *path, const coap_msg_t *req, bool oscore,
                             reply_t *r)
{
    if (strncmp(path, "/oscore/", 8) != 0)
        return false;
    bool get = req->code == COAP_GET;
    if (strcmp(path, "/oscore/hello/coap") == 0) {
        if (oscore) { /* test 16: a resource that does not do OSCORE refuses it */
            reply_text(r, COAP_BAD_OPTION, "");
            r->plain = true;
        } else if (!get) {
            reply_text(r, COAP_METHOD_NOT_ALLOWED, "");
        } else {
            reply_text(r, COAP_CONTENT, "Hello World!");
        }
        return true;
    }
    if (!oscore) {
        reply_text(r, COAP_UNAUTHORIZED, "OSCORE required");
        return true;
    }
    if (strcmp(path, "/oscore/hello/1") == 0 && get) {
        reply_text(r, COAP_CONTENT, "Hello World!");
    } else if (strcmp(path, "/oscore/hello/2") == 0 && get) {
        reply_text(r, COAP_CONTENT, "Hello World!");
        if (has_query(req, "first=1"))
            coap_optlist_add(&r->opts, COAP_OPT_ETAG, "\x2b", 1);
    } else if (strcmp(path, "/oscore/hello/3") == 0 && get) {
        if (uint_option(req, COAP_OPT_ACCEPT) > 0) {
            reply_text(r, COAP_NOT_ACCEPTABLE, "");
        } else {
            reply_text(r, COAP_CONTENT, "Hello World!");
            coap_optlist_add_uint(&r->opts, COAP_OPT_MAX_AGE, 5);
        }
    } else if (strcmp(path, "/oscore/hello/6") == 0 && req->code == COAP_POST) {
        reply_init(r, COAP_CHANGED);
        coap_optlist_add_uint(&r->opts, COAP_OPT_CONTENT_FORMAT, 0);
        r->payload_buf[0] = 0x4a;
        r->payload = r->payload_buf;
        r->payload_len = 1;
    } else if (strcmp(path, "/oscore/hello/7") == 0 && req->code == COAP_PUT) {
        coap_opt_t o;
        bool if_match = coap_msg_find_option(req, COAP_OPT_IF_MATCH, &o);
        bool match_ok = !if_match || (o.len == 1 && o.val[0] == 0x7b);
        if (coap_msg_find_option(req, COAP_OPT_IF_NONE_MATCH, &o) || !match_ok) {
            reply_text(r, COAP_PRECONDITION_FAILED, "");
        } else {
            s->interop_7 = req->payload_len ? req->payload[0] : 0;
            reply_init(r, COAP_CHANGED);
        }
    } else if (strcmp(path, "/oscore/test") == 0 && req->code == COAP_DELETE) {
        reply_init(r, COAP_DELETED);
    } else if ((strcmp(path, "/oscore/observe1") == 0 || strcmp(path, "/oscore/observe2") == 0) &&
               get) {
        reply_text(r, COAP_CONTENT, "one");
    } else {
        reply_text(r, get ? COAP_NOT_FOUND : COAP_METHOD_NOT_ALLOWED, "");
    }
    return true;
}

static const char *observe_words[] = {"one", "two", "three", "four", "five", "six", "seven",
                                      "eight", "nine", "ten"};

/* ---------------------------------------------------------------- observe */

static void observer_remove(server_t *s, coap_peer_t peer, const uint8_t *token, size_t tkl)
{
    for (size_t i = 0; i < MAX_OBSERVERS; i++) {
        observer_t *o = &s->obs[i];
        if (o->active && o->peer == peer && o->token_len == tkl && !memcmp(o->token, token, tkl)) {
            if (s->verbose)
                fprintf(stderr, "* observer of %s removed\n", o->path);
            o->active = false;
        }
    }
}

static bool observable(server_t *s, const char *path)
{
    if (s->interop && (!strcmp(path, "/oscore/observe1") || !strcmp(path, "/oscore/observe2")))
        return true;
    if (!s->root)
        return false;
    char fp[PATH_LEN * 2];
    struct stat st;
    fs_path(s, path, fp, sizeof fp);
    return stat(fp, &st) == 0 && S_ISREG(st.st_mode);
}

/* Registration (Observe 0) or deregistration (1), RFC 7641 §3.1, §3.6. */
static void observe_request(server_t *s, const coap_ep_event_t *ev, const coap_msg_t *req,
                            const char *path, cli_context_t *ctx, const oscore_binding_t *bind,
                            reply_t *r, cs_time_ms_t now)
{
    long obs = uint_option(req, COAP_OPT_OBSERVE);
    if (obs == 1 || obs < 0 || COAP_CODE_CLASS(r->code) != 2 || !observable(s, path)) {
        observer_remove(s, ev->peer, req->token, req->token_len);
        return;
    }
    observer_remove(s, ev->peer, req->token, req->token_len); /* re-registration */
    observer_t *o = NULL;
    for (size_t i = 0; i < MAX_OBSERVERS && !o; i++)
        if (!s->obs[i].active)
            o = &s->obs[i];
    if (!o)
        return; /* full: the response goes without Observe (§4.1) */
    memset(o, 0, sizeof *o);
    o->active = true;
    o->peer = ev->peer;
    o->token_len = req->token_len;
    memcpy(o->token, req->token, req->token_len);
    snprintf(o->path, sizeof o->path, "%s", path);
    o->oscore = ctx;
    if (bind)
        o->bind = *bind;
    o->seq = 1;
    o->last_con = now;
    o->next = now + (cs_time_ms_t)s->observe_interval_ms;
    char fp[PATH_LEN * 2];
    struct stat st;
    if (s->root) {
        fs_path(s, path, fp, sizeof fp);
        if (stat(fp, &st) == 0) {
            o->mtime = st.st_mtim;
            o->size = st.st_size;
        }
    }
    coap_optlist_add_uint(&r->opts, COAP_OPT_OBSERVE, o->seq);
    r->observe_added = true;
    if (s->verbose)
        fprintf(stderr, "* observer of %s added\n", path);
}

/* ---------------------------------------------------------------- replies */

/* r as a CoAP message for the request's token, in plain (MAX_MSG). */
static bool build_reply(reply_t *r, const uint8_t *token, size_t tkl, uint8_t *plain,
                        size_t *n, coap_msg_t *m)
{
    coap_builder_t b;
    coap_builder_init(&b, plain, MAX_MSG, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, r->code, 0, token, tkl);
    if (coap_optlist_write(&r->opts, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, r->payload, r->payload_len);
    return coap_builder_finish(&b, n) == COAP_OK && coap_msg_parse(m, plain, *n) == COAP_OK;
}

/* Message bytes of r for the request's token; protected if ctx. */
static bool finish_reply(server_t *s, reply_t *r, const uint8_t *token, size_t tkl,
                         cli_context_t *ctx, const oscore_binding_t *bind, bool own_piv,
                         uint8_t *out, size_t *out_len)
{
    uint8_t plain[MAX_MSG];
    size_t n;
    coap_msg_t m;
    if (!build_reply(r, token, tkl, plain, &n, &m))
        return false;
    if (s->verbose && ctx)
        cli_print_msg(stderr, '*', &m, "(inner)", s->verbose);
    if (!ctx) {
        memcpy(out, plain, n);
        *out_len = n;
        return true;
    }
    oscore_err_t oe = oscore_protect_response(&ctx->ctx, bind, &m, own_piv, out, MAX_MSG, out_len);
    if (oe != OSCORE_OK)
        fprintf(stderr, "coreseal serve: cannot protect a response: %s [%s]\n",
                coreseal_strerror(oe), coreseal_errname(oe));
    return oe == OSCORE_OK;
}

/* The answer to a request: over CoAP, or as the HTTP response it maps to
 * (RFC 8075 §7; an OSCORE answer as 200 with the OSCORE header field and
 * application/oscore, RFC 8613 §11.2). */
static coap_err_t answer(server_t *s, const coap_ep_event_t *ev, const uint8_t *msg, size_t n, cs_time_ms_t now)
{
    if (ev->peer != HTTP_PEER)
        return coap_ep_respond(&s->ep, ev, msg, n, now);
    coap_msg_t m;
    if (!s->http || coap_msg_parse(&m, msg, n) != COAP_OK)
        return COAP_ERR_BAD_ARG;
    int status = hc_answer_of_coap(s->http, &m, m.payload_len);
    if (s->verbose)
        fprintf(stderr, "> HTTP %d %s (%zu bytes)\n", status, s->http->content_type, m.payload_len);
    hc_done(s->gw, s->http, status < 0 ? 500 : status, m.payload, m.payload_len);
    s->http = NULL;
    return COAP_OK;
}

/* ---------------------------------------------------------------- outer blocks */

static void reply_plain(server_t *s, const coap_ep_event_t *ev, uint8_t code, const coap_opt_t *opt,
                        const char *diag, cs_time_ms_t now);


static outer_t *outer_slot(outer_t *table, coap_peer_t peer, const uint8_t *key, size_t key_len,
                           bool create, cs_time_ms_t now)
{
    outer_t *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < MAX_OUTER; i++) {
        outer_t *o = &table[i];
        if (o->active && o->expires < now)
            o->active = false;
        if (o->active && o->peer == peer && o->key_len == key_len && !memcmp(o->key, key, key_len))
            return o;
        if (!o->active && !free_slot)
            free_slot = o;
        if (o->active && (!oldest || o->expires < oldest->expires))
            oldest = o;
    }
    outer_t *o = free_slot ? free_slot : oldest; /* a busy table forgets the oldest */
    if (!create)
        return NULL;
    o->active = true;
    o->peer = peer;
    memcpy(o->key, key, key_len);
    o->key_len = key_len;
    o->expires = now + 60000;
    coap_body_init(&o->body, o->data, sizeof o->data);
    o->msg_len = 0;
    return o;
}

/* Block num of a whole protected response, answering req. */
static void send_outer_block(server_t *s, const coap_ep_event_t *ev, const uint8_t *whole, size_t whole_len,
                             uint32_t num, uint8_t szx, cs_time_ms_t now)
{
    coap_msg_t hdr = {.type = COAP_TYPE_ACK, .token = ev->msg.token, .token_len = ev->msg.token_len};
    uint8_t out[MAX_MSG];
    size_t n;
    if (!cli_outer_block(whole, whole_len, &hdr, num, szx, out, sizeof out, &n)) {
        reply_plain(s, ev, COAP_BAD_OPTION, NULL, "outer Block2 beyond the end", now);
        return;
    }
    if (answer(s, ev, out, n, now) != COAP_OK)
        fprintf(stderr, "coreseal serve: cannot answer\n");
}

/* Sends an answer (out) to the request being handled, with the outer
 * blocks that request used. */
static void send_answer(server_t *s, const coap_ep_event_t *ev, const uint8_t *out, size_t n,
                        cs_time_ms_t now)
{
    outer_req_t *q = &s->outer;
    coap_msg_t m;
    uint8_t buf[MAX_MSG], b1[4];
    const uint8_t *wire = out;
    if (q->block1 && coap_msg_parse(&m, out, n) == COAP_OK) {
        coap_opt_t extra = cli_block_opt(COAP_OPT_BLOCK1, q->b1.num, false, q->b1.szx, b1);
        if (!cli_msg_rebuild(&m, &m, &extra, 1, m.payload, m.payload_len, buf, sizeof buf, &n))
            return;
        wire = buf;
    }
    if (q->block2 && coap_msg_parse(&m, wire, n) == COAP_OK && m.payload_len > coap_block_size(q->b2_szx)) {
        outer_t *o = outer_slot(s->outer_out, ev->peer, q->key, q->key_len, true, now);
        memcpy(o->data, wire, n);
        o->msg_len = n;
        if (s->verbose)
            fprintf(stderr, "* answer of %zu bytes sent in outer Block2 blocks of %zu\n", n,
                    coap_block_size(q->b2_szx));
        send_outer_block(s, ev, o->data, o->msg_len, 0, q->b2_szx, now);
        return;
    }
    coap_err_t e = answer(s, ev, wire, n, now);
    if (e != COAP_OK)
        fprintf(stderr, "coreseal serve: cannot answer: %s\n", coreseal_strerror(e));
}

typedef enum { OUTER_NONE, OUTER_ANSWERED, OUTER_WHOLE } outer_result_t;

/* A protected request's outer blocks: answered here (a Block1 piece that
 * is not the last, a later Block2 block, an error), or gathered into
 * `whole`, or none. */
static outer_result_t outer_blocks(server_t *s, const coap_ep_event_t *ev, uint8_t *buf, coap_msg_t *whole,
                                   cs_time_ms_t now)
{
    outer_req_t *q = &s->outer;
    memset(q, 0, sizeof *q);
    coap_opt_t osc, b1o, b2o, tag = {.val = (const uint8_t *)"", .len = 0};
    coap_block_t b1, b2;
    bool has1 = coap_msg_find_option(&ev->msg, COAP_OPT_BLOCK1, &b1o);
    bool has2 = coap_msg_find_option(&ev->msg, COAP_OPT_BLOCK2, &b2o);
    if (!has1 && !has2)
        return OUTER_NONE;
    if ((has1 && !coap_block_decode(&b1o, &b1)) || (has2 && !coap_block_decode(&b2o, &b2)) ||
        !coap_msg_find_option(&ev->msg, COAP_OPT_OSCORE, &osc)) {
        reply_plain(s, ev, COAP_BAD_OPTION, NULL, "bad outer block option", now);
        return OUTER_ANSWERED;
    }
    (void)coap_msg_find_option(&ev->msg, COAP_OPT_REQUEST_TAG, &tag);
    if (osc.len + tag.len > OUTER_KEY_MAX) {
        reply_plain(s, ev, COAP_BAD_OPTION, NULL, "outer Request-Tag too long", now);
        return OUTER_ANSWERED;
    }
    memcpy(q->key, osc.val, osc.len);
    q->key_len = osc.len;
    if (has2 && b2.num > 0) { /* a later block of an answer already made */
        outer_t *o = outer_slot(s->outer_out, ev->peer, q->key, q->key_len, false, now);
        if (!o)
            reply_plain(s, ev, COAP_REQUEST_ENTITY_INCOMPLETE, NULL, "no such answer", now);
        else
            send_outer_block(s, ev, o->data, o->msg_len, b2.num, b2.szx, now);
        return OUTER_ANSWERED;
    }
    q->block2 = has2;
    q->b2_szx = has2 ? b2.szx : 0;
    if (!has1)
        return OUTER_NONE;
    uint8_t key[OUTER_KEY_MAX];
    memcpy(key, osc.val, osc.len);
    memcpy(key + osc.len, tag.val, tag.len);
    outer_t *o = outer_slot(s->outer_in, ev->peer, key, osc.len + tag.len, b1.num == 0, now);
    coap_err_t e = o ? coap_body_add(&o->body, &b1, ev->msg.payload, ev->msg.payload_len)
                     : COAP_ERR_BLOCK_SEQUENCE;
    if (e != COAP_OK) {
        reply_plain(s, ev, e == COAP_ERR_BLOCK_SEQUENCE ? COAP_REQUEST_ENTITY_INCOMPLETE
                                                         : COAP_REQUEST_ENTITY_TOO_LARGE,
                    NULL, coreseal_strerror(e), now);
        return OUTER_ANSWERED;
    }
    if (!o->body.complete) {
        uint8_t v[4];
        coap_opt_t cont = cli_block_opt(COAP_OPT_BLOCK1, b1.num, true, b1.szx, v);
        reply_plain(s, ev, COAP_CONTINUE, &cont, NULL, now);
        return OUTER_ANSWERED;
    }
    size_t n;
    o->active = false;
    if (!cli_msg_rebuild(&ev->msg, &ev->msg, NULL, 0, o->body.buf, o->body.len, buf, MAX_MSG, &n) ||
        coap_msg_parse(whole, buf, n) != COAP_OK)
        return OUTER_ANSWERED;
    if (s->verbose)
        fprintf(stderr, "* OSCORE request of %zu bytes gathered from outer Block1 blocks\n", n);
    q->block1 = true;
    q->b1 = b1;
    return OUTER_WHOLE;
}

static void respond(server_t *s, const coap_ep_event_t *ev, reply_t *r, cli_context_t *ctx,
                    const oscore_binding_t *bind, cs_time_ms_t now)
{
    uint8_t out[MAX_MSG];
    size_t n;
    if (!finish_reply(s, r, ev->msg.token, ev->msg.token_len, r->plain ? NULL : ctx, bind, false, out, &n))
        return;
    send_answer(s, ev, out, n, now);
}

/* An unprotected answer with at most one option and a diagnostic. */
static void reply_plain(server_t *s, const coap_ep_event_t *ev, uint8_t code, const coap_opt_t *opt,
                        const char *diag, cs_time_ms_t now)
{
    reply_t r;
    if (diag)
        reply_text(&r, code, diag);
    else
        reply_init(&r, code);
    if (opt)
        coap_optlist_add(&r.opts, opt->num, opt->val, opt->len);
    uint8_t out[MAX_MSG];
    size_t n;
    if (finish_reply(s, &r, ev->msg.token, ev->msg.token_len, NULL, NULL, false, out, &n) &&
        answer(s, ev, out, n, now) != COAP_OK)
        fprintf(stderr, "coreseal serve: cannot answer\n");
}

/* An unprotected error the RFC prescribes, with its diagnostic payload. */
static void respond_oscore_error(server_t *s, const coap_ep_event_t *ev, oscore_err_t oe,
                                 cs_time_ms_t now)
{
    uint8_t code = oscore_err_to_coap_code(oe);
    if (s->verbose)
        fprintf(stderr, "* OSCORE rejected the request: %s [%s]\n", coreseal_strerror(oe),
                coreseal_errname(oe));
    if (code == 0)
        return; /* e.g. storage failure: drop silently, the client retries */
    reply_t r;
    reply_text(&r, code, oscore_err_diagnostic(oe));
    respond(s, ev, &r, NULL, NULL, now);
}

/* RFC 8613 B.2 step 2: a request for a B.2 context under a kid context we
 * do not know. If it verifies with that ID Context, answer 4.01 with a
 * fresh R2 (response #1); the client's next request is then request #2. */
static void answer_b2_request1(server_t *s, const coap_ep_event_t *ev, const coap_msg_t *wire,
                               cli_context_t *ctx, cs_time_ms_t now)
{
    reply_t r;
    uint8_t plain[MAX_MSG], out[MAX_MSG];
    size_t n;
    coap_msg_t m;
    oscore_params_t base;
    reply_init(&r, COAP_UNAUTHORIZED);
    if (!build_reply(&r, ev->msg.token, ev->msg.token_len, plain, &n, &m))
        return;
    cli_context_base(ctx, &base);
    oscore_err_t oe = oscore_b2_answer_request1(&ctx->ctx, &base, wire, &m, out, sizeof out, &n);
    if (oe != OSCORE_OK) {
        respond_oscore_error(s, ev, oe, now);
        return;
    }
    if (s->verbose)
        fprintf(stderr, "* %s: unknown kid context, new security context offered (RFC 8613 B.2)\n",
                ctx->path);
    send_answer(s, ev, out, n, now);
}

/* ---------------------------------------------------------------- EDHOC */

static void respond_edhoc(server_t *s, const coap_ep_event_t *ev, const cli_edhoc_result_t *x, cs_time_ms_t now)
{
    reply_t r;
    reply_init(&r, x->code);
    if (x->edhoc_payload && x->payload_len)
        coap_optlist_add_uint(&r.opts, COAP_OPT_CONTENT_FORMAT, EDHOC_CF_CBOR_SEQ);
    size_t n = x->payload_len < sizeof r.payload_buf ? x->payload_len : sizeof r.payload_buf;
    memcpy(r.payload_buf, x->payload, n);
    r.payload = r.payload_buf;
    r.payload_len = n;
    respond(s, ev, &r, NULL, NULL, now);
}

/* A completed handshake becomes a context of the peer (replacing its
 * earlier one); NULL after answering a failure. */
static cli_context_t *edhoc_context(server_t *s, const coap_ep_event_t *ev, cli_edhoc_result_t *x,
                                    cs_time_ms_t now)
{
    cli_context_t *ctx = NULL;
    if (!x->done) {
        respond_edhoc(s, ev, x, now);
    } else if (cli_security_add_params(&s->sec, &x->params, x->peer->id_cred, x->peer->id_cred_len, "serve",
                                       &ctx) != CLI_EXIT_OK) {
        reply_t rep;
        reply_text(&rep, COAP_INTERNAL_SERVER_ERROR, "cannot set up the OSCORE context");
        respond(s, ev, &rep, NULL, NULL, now);
        ctx = NULL;
    }
    cs_wipe(&x->keys, sizeof x->keys);
    return ctx;
}

static void handle_edhoc(server_t *s, const coap_ep_event_t *ev, const coap_msg_t *req, cs_time_ms_t now)
{
    static cli_edhoc_result_t x;
    if (req->code != COAP_POST || !s->edhoc.enabled) {
        reply_t r;
        reply_text(&r, s->edhoc.enabled ? COAP_METHOD_NOT_ALLOWED : COAP_NOT_FOUND,
                   s->edhoc.enabled ? "EDHOC takes POST" : "EDHOC not enabled (--edhoc)");
        respond(s, ev, &r, NULL, NULL, now);
        return;
    }
    cli_edhoc_respond(&s->resp, req->payload, req->payload_len, now, &x);
    if (edhoc_context(s, ev, &x, now)) { /* message_3 accepted: an empty 2.04 */
        x.payload_len = 0;
        respond_edhoc(s, ev, &x, now);
    }
}

/* RFC 9668: message_3 in front of the first OSCORE request. Returns the
 * new context and the plain OSCORE request in out, or NULL (answered). */
static cli_context_t *split_combined(server_t *s, const coap_ep_event_t *ev, const oscore_option_t *opt,
                                     uint8_t *out, size_t *out_len, cs_time_ms_t now)
{
    static cli_edhoc_result_t x;
    const uint8_t *m3;
    size_t m3_len;
    if (!s->edhoc.enabled ||
        edhoc_split_combined_request(&ev->msg, &m3, &m3_len, out, MAX_MSG, out_len) != EDHOC_OK) {
        reply_t rep;
        reply_text(&rep, COAP_BAD_REQUEST, "no EDHOC session for this combined request");
        respond(s, ev, &rep, NULL, NULL, now);
        return NULL;
    }
    cli_edhoc_respond_combined(&s->resp, opt->kid, opt->kid_len, m3, m3_len, now, &x);
    return edhoc_context(s, ev, &x, now);
}

/* ---------------------------------------------------------------- dispatch */

static void handle(server_t *s, const coap_ep_event_t *ev, const coap_msg_t *req,
                   cli_context_t *ctx, const oscore_binding_t *bind, cs_time_ms_t now)
{
    static reply_t r;
    char path[PATH_LEN];
    uint16_t bad;
    if (!request_path(req, path, sizeof path)) {
        reply_text(&r, COAP_BAD_REQUEST, "bad Uri-Path");
    } else if (coap_msg_check_critical(req, NULL, 0, &bad) != COAP_OK) {
        char msg[48];
        snprintf(msg, sizeof msg, "unrecognized critical option %u", bad);
        reply_text(&r, COAP_BAD_OPTION, msg);
    } else if (strcmp(path, "/.well-known/core") == 0 && req->code == COAP_GET) {
        well_known_core(s, &r);
    } else if (s->interop && interop_resource(s, path, req, ctx != NULL, &r)) {
        /* answered */
    } else if (s->root && strcmp(path, "/") != 0) {
        switch (req->code) {
        case COAP_GET: file_get(s, path, req, &r); break;
        case COAP_PUT: file_put(s, ev->peer, path, req, false, &r, now); break;
        case COAP_POST: file_put(s, ev->peer, path, req, true, &r, now); break;
        case COAP_DELETE: {
            char fp[PATH_LEN * 2];
            fs_path(s, path, fp, sizeof fp);
            if (unlink(fp) == 0)
                reply_init(&r, COAP_DELETED);
            else
                reply_text(&r, COAP_NOT_FOUND, "no such file");
            break;
        }
        default: reply_text(&r, COAP_METHOD_NOT_ALLOWED, "");
        }
    } else {
        reply_text(&r, COAP_NOT_FOUND, "");
    }
    if (req->code == COAP_GET && uint_option(req, COAP_OPT_OBSERVE) >= 0 && ev->peer != HTTP_PEER)
        observe_request(s, ev, req, path, ctx, bind, &r, now);
    respond(s, ev, &r, ctx, bind, now);
}

static void on_request(server_t *s, const coap_ep_event_t *ev, cs_time_ms_t now)
{
    if (s->verbose)
        cli_print_msg(stderr, '<', &ev->msg, NULL, s->verbose);
    memset(&s->outer, 0, sizeof s->outer);
    oscore_option_t opt;
    oscore_err_t oe = oscore_msg_option(&ev->msg, &opt);
    if (oe == OSCORE_ERR_NOT_PROTECTED) {
        if (coap_msg_path_is(&ev->msg, EDHOC_COAP_PATH)) {
            handle_edhoc(s, ev, &ev->msg, now);
            return;
        }
        if (s->require_oscore) {
            reply_t r;
            reply_text(&r, COAP_UNAUTHORIZED, "OSCORE required");
            respond(s, ev, &r, NULL, NULL, now);
            return;
        }
        handle(s, ev, &ev->msg, NULL, NULL, now);
        return;
    }
    if (oe != OSCORE_OK) {
        respond_oscore_error(s, ev, oe, now);
        return;
    }
    if (!opt.has_kid || opt.piv_len == 0) {
        respond_oscore_error(s, ev, OSCORE_ERR_MISSING_KID, now);
        return;
    }
    const coap_msg_t *wire = &ev->msg;
    coap_msg_t plain_oscore, whole;
    uint8_t rebuilt[MAX_MSG], gathered[MAX_MSG];
    size_t rn;
    switch (outer_blocks(s, ev, gathered, &whole, now)) {
    case OUTER_ANSWERED: return;
    case OUTER_WHOLE: wire = &whole; break;
    case OUTER_NONE: break;
    }
    coap_opt_t edhoc_opt;
    cli_context_t *ctx;
    bool b2_request2 = false;
    if (coap_msg_find_option(&ev->msg, COAP_OPT_EDHOC, &edhoc_opt)) {
        if (!(ctx = split_combined(s, ev, &opt, rebuilt, &rn, now)))
            return;
        if (coap_msg_parse(&plain_oscore, rebuilt, rn) != COAP_OK)
            return;
        wire = &plain_oscore;
    } else if (!(ctx = cli_security_find(&s->sec, &opt))) {
        if (!(ctx = cli_security_find_b2(&s->sec, &opt))) {
            respond_oscore_error(s, ev, OSCORE_ERR_UNKNOWN_CONTEXT, now);
            return;
        }
        if (!(b2_request2 = oscore_b2_is_request2(&ctx->ctx, &opt))) {
            answer_b2_request1(s, ev, wire, ctx, now);
            return;
        }
    }
    uint8_t inner_buf[MAX_MSG];
    size_t n;
    oscore_binding_t bind;
    if (b2_request2) {
        oscore_params_t base;
        cli_context_base(ctx, &base);
        oe = oscore_b2_accept_request2(&ctx->ctx, &base, wire, inner_buf, sizeof inner_buf, &n, &bind);
        if (oe == OSCORE_OK && s->verbose)
            fprintf(stderr, "* %s: new security context established (RFC 8613 B.2)\n", ctx->path);
    } else {
        oe = oscore_unprotect_request(&ctx->ctx, wire, inner_buf, sizeof inner_buf, &n, &bind);
    }
    if (oe == OSCORE_ERR_ECHO_REQUIRED) {
        /* B.1.2: prove freshness before acting; the 4.01 carries its own PIV */
        reply_t r;
        uint8_t echo[OSCORE_ECHO_LEN];
        reply_init(&r, COAP_UNAUTHORIZED);
        if (oscore_echo_challenge(&ctx->ctx, echo) != OSCORE_OK)
            return;
        coap_optlist_add(&r.opts, COAP_OPT_ECHO, echo, sizeof echo);
        if (s->verbose)
            fprintf(stderr, "* replay window unknown after restart: Echo challenge sent\n");
        respond(s, ev, &r, ctx, &bind, now);
        return;
    }
    if (oe != OSCORE_OK) {
        respond_oscore_error(s, ev, oe, now);
        return;
    }
    coap_msg_t inner;
    if (coap_msg_parse(&inner, inner_buf, n) != COAP_OK)
        return;
    if (s->verbose)
        cli_print_msg(stderr, '*', &inner, "(inner, verified)", s->verbose);
    handle(s, ev, &inner, ctx, &bind, now);
}

/* An HTTP request (--listen-http), handled as the CoAP request it maps to. */
static void on_http(server_t *s, hc_cmd_t *c, cs_time_ms_t now)
{
    static const char too_large[] = "no CoAP request of at most 1200 bytes maps to this";
    uint8_t buf[MAX_MSG], token[8];
    size_t n;
    coap_ep_event_t ev = {.type = COAP_EV_REQUEST, .peer = HTTP_PEER};
    s->http_seq++;
    memcpy(token, &s->http_seq, sizeof token);
    if (c->body_len > MAX_MSG - 200 ||
        !hc_cmd_to_coap(c, token, sizeof token, 0, 0, buf, sizeof buf, &n) ||
        coap_msg_parse(&ev.msg, buf, n) != COAP_OK) {
        snprintf(c->content_type, sizeof c->content_type, "text/plain;charset=utf-8");
        hc_done(s->gw, c, 413, (const uint8_t *)too_large, strlen(too_large));
        return;
    }
    memcpy(ev.token, token, sizeof token);
    ev.token_len = sizeof token;
    s->http = c;
    on_request(s, &ev, now);
    if (s->http) { /* every path answers; this one did not */
        hc_done(s->gw, c, 500, NULL, 0);
        s->http = NULL;
    }
}

/* Files that changed, and the interop observe resources' ticks. */
static void notify_observers(server_t *s, cs_time_ms_t now)
{
    for (size_t i = 0; i < MAX_OBSERVERS; i++) {
        observer_t *o = &s->obs[i];
        if (!o->active)
            continue;
        static reply_t r;
        bool interop = s->interop && strncmp(o->path, "/oscore/observe", 15) == 0;
        bool last = false;
        if (interop) {
            if (now < o->next)
                continue;
            o->next = now + (cs_time_ms_t)s->observe_interval_ms;
            o->step++;
            if (o->path[15] == '1' && o->step >= 2) { /* "one", "two", then the end */
                /* observe1 ends with an error notification (RFC 7641 §3.2) */
                reply_text(&r, COAP_INTERNAL_SERVER_ERROR, "Terminate Observe");
                last = true;
            } else {
                reply_text(&r, COAP_CONTENT, observe_words[o->step % 10]);
            }
        } else {
            char fp[PATH_LEN * 2];
            struct stat st;
            fs_path(s, o->path, fp, sizeof fp);
            if (stat(fp, &st) != 0) {
                reply_text(&r, COAP_NOT_FOUND, "deleted");
                last = true;
            } else if (st.st_mtim.tv_sec == o->mtime.tv_sec &&
                       st.st_mtim.tv_nsec == o->mtime.tv_nsec && st.st_size == o->size) {
                continue;
            } else {
                o->mtime = st.st_mtim;
                o->size = st.st_size;
                coap_msg_t get = {.code = COAP_GET};
                file_get(s, o->path, &get, &r);
            }
        }
        if (!last)
            coap_optlist_add_uint(&r.opts, COAP_OPT_OBSERVE, ++o->seq);
        uint8_t out[MAX_MSG];
        size_t n;
        if (finish_reply(s, &r, o->token, o->token_len, o->oscore, &o->bind, true, out, &n)) {
            /* every 8th notification confirmable (and one a day at least,
             * RFC 7641 §4.5), to notice gone clients */
            bool con = coap_observe_con_due(&o->last_con, now, last || o->seq % 8 == 0);
            if (coap_ep_send_separate(&s->ep, o->peer, out, n, con, now) == COAP_OK && s->verbose)
                fprintf(stderr, "* notification %u of %s\n", o->seq, o->path);
        }
        if (last)
            o->active = false;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: coreseal serve [options]\n"
            "\n"
            "Serves CoAP over UDP (and TCP), with OSCORE.\n"
            "\n"
            "  -l, --listen HOST:PORT  address to listen on (default [::]:5683)\n"
            "      --listen-tcp HOST:PORT  also serve CoAP over TCP (RFC 8323) there\n"
            "      --listen-ws HOST:PORT   also serve CoAP over WebSockets (RFC 8323 4) there\n"
            "      --listen-http HOST:PORT also serve HTTP there: each request as the CoAP request it\n"
            "                            maps to (RFC 8075), OSCORE ones too (RFC 8613 11.4)\n"
            "      --listen-dtls HOST:PORT also serve coaps:// (DTLS 1.2) there, with:\n"
            CLI_DTLS_HELP
            "  -r, --root DIR          serve the files in DIR: GET, PUT, POST (append), DELETE,\n"
            "                          block-wise both ways, Observe on files that change\n"
            "      --oscore FILE       accept requests protected with this context (repeatable)\n"
            "      --require-oscore    answer unprotected requests with 4.01 Unauthorized\n"
            "      --shared-state redis://HOST[:PORT][/DB]\n"
            "                          several servers, one set of clients: every --oscore\n"
            "                          context keeps its sequence numbers and replay window\n"
            "                          in Redis, so no two nodes send under one nonce and a\n"
            "                          request one node accepted is a replay at the others\n"
            "      --interop           serve the OSCORE interop test resources (docs/interop.md)\n"
            "      --observe-interval MS  period of the interop observe notifications (1000)\n"
            "  -v, --verbose           print every message (-vv: payloads too)\n"
            "\n"
            "Stops cleanly on SIGINT/SIGTERM, saving each context's replay window.\n"
            "\n"
            "Example:\n"
            "  coreseal serve --listen 127.0.0.1:5683 --root ./www --oscore server.json\n");
}

int cmd_serve(int argc, char **argv)
{
    static server_t s;
    memset(&s, 0, sizeof s);
    s.listen_host = "::";
    s.listen_port = "5683";
    const char *oscore_files[CLI_MAX_CONTEXTS];
    int n_oscore = 0;
    s.observe_interval_ms = 1000;
    s.edhoc.method = s.edhoc.suite = -1;
    const char *edhoc_key = NULL, *edhoc_trust[CLI_MAX_PEERS];
    int n_trust = 0;
    enum { OPT_OSCORE = 256, OPT_REQUIRE, OPT_INTEROP, OPT_INTERVAL, OPT_EDHOC, OPT_TRUST,
           OPT_EDHOC_METHOD, OPT_SHARED, OPT_LISTEN_TCP, OPT_LISTEN_DTLS, OPT_PSK, OPT_CERT, OPT_KEY,
           OPT_CA, OPT_LISTEN_WS, OPT_LISTEN_HTTP };
    const char *shared = NULL, *tcp_host = NULL, *tcp_port = NULL, *dtls_host = NULL, *dtls_port = NULL;
    const char *ws_host = NULL, *ws_port = NULL, *http_host = NULL, *http_port = NULL;
    static cs_dtls_config_t dtls;
    memset(&dtls, 0, sizeof dtls);
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"root", required_argument, NULL, 'r'},
        {"oscore", required_argument, NULL, OPT_OSCORE},
        {"require-oscore", no_argument, NULL, OPT_REQUIRE},
        {"interop", no_argument, NULL, OPT_INTEROP}, {"verbose", no_argument, NULL, 'v'},
        {"observe-interval", required_argument, NULL, OPT_INTERVAL},
        {"edhoc", required_argument, NULL, OPT_EDHOC},
        {"edhoc-trust", required_argument, NULL, OPT_TRUST},
        {"edhoc-method", required_argument, NULL, OPT_EDHOC_METHOD},
        {"shared-state", required_argument, NULL, OPT_SHARED},
        {"listen-tcp", required_argument, NULL, OPT_LISTEN_TCP},
        {"listen-dtls", required_argument, NULL, OPT_LISTEN_DTLS},
        {"listen-ws", required_argument, NULL, OPT_LISTEN_WS},
        {"listen-http", required_argument, NULL, OPT_LISTEN_HTTP},
        {"psk", required_argument, NULL, OPT_PSK}, {"cert", required_argument, NULL, OPT_CERT},
        {"key", required_argument, NULL, OPT_KEY}, {"ca", required_argument, NULL, OPT_CA},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:r:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_listen(optarg, &s.listen_host, &s.listen_port) != 0)
                return cli_fail("serve", CLI_EXIT_USAGE, "--listen expects HOST:PORT, e.g. [::1]:5683");
            break;
        case OPT_LISTEN_TCP:
            if (cli_parse_listen(optarg, &tcp_host, &tcp_port) != 0)
                return cli_fail("serve", CLI_EXIT_USAGE, "--listen-tcp expects HOST:PORT, e.g. [::1]:5683");
            break;
        case OPT_LISTEN_WS:
            if (cli_parse_listen(optarg, &ws_host, &ws_port) != 0)
                return cli_fail("serve", CLI_EXIT_USAGE, "--listen-ws expects HOST:PORT, e.g. [::1]:8080");
            break;
        case OPT_LISTEN_HTTP:
            if (cli_parse_listen(optarg, &http_host, &http_port) != 0)
                return cli_fail("serve", CLI_EXIT_USAGE, "--listen-http expects HOST:PORT, e.g. [::1]:8080");
            break;
        case OPT_LISTEN_DTLS:
            if (cli_parse_listen(optarg, &dtls_host, &dtls_port) != 0)
                return cli_fail("serve", CLI_EXIT_USAGE, "--listen-dtls expects HOST:PORT, e.g. [::1]:5684");
            break;
        case OPT_PSK:
            if (cli_dtls_add_psk(&dtls, optarg, "serve") != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case OPT_CERT: dtls.cert_file = optarg; break;
        case OPT_KEY: dtls.key_file = optarg; break;
        case OPT_CA: dtls.ca_file = optarg; break;
        case 'r': s.root = optarg; break;
        case OPT_OSCORE:
            if (n_oscore == CLI_MAX_CONTEXTS)
                return cli_fail("serve", CLI_EXIT_USAGE, "at most %d --oscore files", CLI_MAX_CONTEXTS);
            oscore_files[n_oscore++] = optarg;
            break;
        case OPT_REQUIRE: s.require_oscore = true; break;
        case OPT_SHARED: shared = optarg; break;
        case OPT_INTEROP: s.interop = true; break;
        case OPT_EDHOC: edhoc_key = optarg; break;
        case OPT_TRUST:
            if (n_trust == CLI_MAX_PEERS)
                return cli_fail("serve", CLI_EXIT_USAGE, "at most %d --edhoc-trust files", CLI_MAX_PEERS);
            edhoc_trust[n_trust++] = optarg;
            break;
        case OPT_EDHOC_METHOD:
            s.edhoc.method = (int)strtol(optarg, NULL, 10);
            if (s.edhoc.method < 0 || s.edhoc.method > 3)
                return cli_fail("serve", CLI_EXIT_USAGE, "--edhoc-method must be 0..3");
            break;
        case OPT_INTERVAL:
            s.observe_interval_ms = strtol(optarg, NULL, 10);
            if (s.observe_interval_ms < 1 || s.observe_interval_ms > 3600000)
                return cli_fail("serve", CLI_EXIT_USAGE, "--observe-interval must be 1..3600000 ms");
            break;
        case 'v': s.verbose++; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return cli_fail("serve", CLI_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    }
    struct stat st;
    if (s.root && (stat(s.root, &st) != 0 || !S_ISDIR(st.st_mode)))
        return cli_fail("serve", CLI_EXIT_USAGE, "--root %s is not a directory", s.root);
    int rc = cli_security_init(&s.sec, "serve");
    for (int i = 0; rc == CLI_EXIT_OK && i < n_oscore; i++)
        rc = cli_security_add(&s.sec, oscore_files[i], "serve");
    if (rc == CLI_EXIT_OK && shared)
        rc = cli_security_share(&s.sec, shared, "serve");
    if (rc == CLI_EXIT_OK && edhoc_key) {
        rc = cli_edhoc_load_own(&s.edhoc, edhoc_key, "serve");
        for (int i = 0; rc == CLI_EXIT_OK && i < n_trust; i++)
            rc = cli_edhoc_add_peer(&s.edhoc, edhoc_trust[i], "serve");
        if (rc == CLI_EXIT_OK && n_trust == 0)
            rc = cli_fail("serve", CLI_EXIT_USAGE, "--edhoc needs at least one --edhoc-trust credential");
        cli_edhoc_responder_init(&s.resp, &s.edhoc, &s.sec.crypto, 1, cli_security_recipient_id_taken, &s.sec);
        s.resp.verbose = s.verbose;
    }
    if (rc != CLI_EXIT_OK)
        goto out;
    char err[256] = "";
    if (cs_udp_open(&s.udp, s.listen_host, s.listen_port, true, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("serve", CLI_EXIT_NETWORK, "cannot listen on %s:%s: %s",
                      s.listen_host ? s.listen_host : "*", s.listen_port, err);
        goto out;
    }
    s.udp.log = s.verbose ? stderr : NULL;
    if (tcp_port && cs_tcp_listen(&s.udp, tcp_host, tcp_port, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("serve", CLI_EXIT_NETWORK, "cannot listen on TCP %s:%s: %s", tcp_host ? tcp_host : "*",
                      tcp_port, err);
        goto out;
    }
    if (ws_port && cs_ws_listen(&s.udp, ws_host, ws_port, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("serve", CLI_EXIT_NETWORK, "cannot listen on WebSockets %s:%s: %s", ws_host ? ws_host : "*",
                      ws_port, err);
        goto out;
    }
    if (dtls_port && cs_dtls_listen(&s.udp, dtls_host, dtls_port, &dtls, err, sizeof err) != CS_NET_OK) {
        rc = cli_fail("serve", CLI_EXIT_NETWORK, "cannot serve DTLS on %s:%s: %s", dtls_host ? dtls_host : "*",
                      dtls_port, err);
        goto out;
    }
    coap_ep_config_t cfg;
    coap_ep_config_default(&cfg);
    cfg.random = cli_random;
    cfg.random_arg = &s.sec.crypto;
    size_t mem = COAP_EP_MEM_SIZE(COAP_EP_SLOTS, MAX_MSG);
    s.ep_mem = malloc(mem);
    if (!s.ep_mem || coap_ep_init(&s.ep, s.ep_mem, mem, MAX_MSG, &cfg, cs_net_now()) != COAP_OK) {
        rc = cli_fail("serve", CLI_EXIT_CONFIG, "cannot set up the CoAP endpoint");
        goto out;
    }
    cli_catch_signals();
    fprintf(stderr, "coreseal serve: listening on %s%s%s:%s (%d OSCORE context%s)\n",
            s.listen_host && strchr(s.listen_host, ':') ? "[" : "",
            s.listen_host ? s.listen_host : "*",
            s.listen_host && strchr(s.listen_host, ':') ? "]" : "", s.listen_port, s.sec.n,
            s.sec.n == 1 ? "" : "s");
    if (tcp_port)
        fprintf(stderr, "coreseal serve: CoAP over TCP on %s:%s\n", tcp_host ? tcp_host : "*", tcp_port);
    if (ws_port)
        fprintf(stderr, "coreseal serve: CoAP over WebSockets on %s:%s/.well-known/coap\n", ws_host ? ws_host : "*",
                ws_port);
    if (dtls_port)
        fprintf(stderr, "coreseal serve: CoAP over DTLS on %s:%s (%s)\n", dtls_host ? dtls_host : "*", dtls_port,
                dtls.n_psks ? "PSK" : "Certificate");
    if (http_port && !(s.gw = hc_start(http_host, http_port, NULL, err, sizeof err))) {
        rc = cli_fail("serve", CLI_EXIT_NETWORK, "%s", err);
        goto out;
    }
    if (http_port)
        fprintf(stderr, "coreseal serve: HTTP on %s:%s\n", http_host ? http_host : "*", http_port);
    while (!cli_stopping) {
        cs_time_ms_t now = cs_net_now();
        cs_time_ms_t next = coap_ep_next_deadline(&s.ep);
        cs_time_ms_t cap = s.gw ? 5 : 200; /* HTTP requests wait in a queue the loop looks at */
        for (size_t i = 0; i < MAX_OBSERVERS; i++)
            if (s.obs[i].active && cap > 20)
                cap = s.observe_interval_ms < 20 ? (cs_time_ms_t)s.observe_interval_ms : 20;
        int wait = next <= now ? 0 : next - now > cap ? (int)cap : (int)(next - now);
        cs_net_err_t ne = cs_udp_receive(&s.udp, wait);
        if (ne != CS_NET_OK) {
            fprintf(stderr, "coreseal serve: %s\n", coreseal_strerror(ne));
            break;
        }
        now = cs_net_now();
        for (size_t i = 0; i < s.udp.n_in; i++) {
            coap_ep_event_t ev;
            coap_err_t e = coap_ep_input(&s.ep, s.udp.in_peer[i], s.udp.in[i], s.udp.in_len[i],
                                         now, &ev);
            if (e != COAP_OK && s.verbose)
                fprintf(stderr, "* malformed datagram: %s\n", coreseal_strerror(e));
            if (ev.type == COAP_EV_REQUEST)
                on_request(&s, &ev, now);
            else if (ev.type == COAP_EV_RESET)
                observer_remove(&s, ev.peer, ev.token, ev.token_len);
            if (cs_udp_collect(&s.udp, &s.ep) != CS_NET_OK)
                break;
        }
        coap_ep_event_t ev;
        do {
            if (coap_ep_tick(&s.ep, now, &ev) != COAP_OK)
                break;
            if (ev.type == COAP_EV_TIMEOUT || ev.type == COAP_EV_RESET)
                observer_remove(&s, ev.peer, ev.token, ev.token_len);
        } while (ev.type != COAP_EV_NONE);
        for (hc_cmd_t *hc; s.gw && (hc = hc_next(s.gw));)
            on_http(&s, hc, now);
        notify_observers(&s, now);
        if ((ne = cs_udp_collect(&s.udp, &s.ep)) != CS_NET_OK || (ne = cs_udp_flush(&s.udp)) != CS_NET_OK) {
            fprintf(stderr, "coreseal serve: %s\n", coreseal_strerror(ne));
            break;
        }
    }
    fprintf(stderr, "coreseal serve: stopping; saving OSCORE state\n");
out:
    hc_stop(s.gw);
    cli_security_close(&s.sec);
    cs_udp_close(&s.udp);
    cs_wipe(&dtls, sizeof dtls);
    free(s.ep_mem);
    for (size_t i = 0; i < MAX_UPLOADS; i++)
        free(s.up[i].data);
    cli_edhoc_responder_wipe(&s.resp);
    cs_wipe(&s.edhoc, sizeof s.edhoc);
    return rc;
}
