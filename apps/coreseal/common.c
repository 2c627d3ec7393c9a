/* Helpers every coreseal subcommand shares: error lines, OSCORE contexts
 * from files (with their state files), code and content-format names, and
 * the -v printer ('>' sent, '<' received, '*' commentary, as curl does). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "coreseal/redis_state.h"

int cli_fail(const char *sub, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "coreseal %s: (%d) ", sub, code);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

volatile sig_atomic_t cli_stopping;

static void on_signal(int sig)
{
    (void)sig;
    cli_stopping = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool cli_random(void *arg, uint8_t *buf, size_t len)
{
    cs_crypto_t *c = arg;
    return c->random(c->state, buf, len) == CS_CRYPTO_OK;
}

int cli_parse_listen(char *arg, const char **host, const char **port)
{
    char *colon = strrchr(arg, ':');
    if (!colon || colon[1] == '\0')
        return -1;
    *colon = '\0';
    *port = colon + 1;
    *host = arg;
    size_t n = strlen(arg);
    if (arg[0] == '[') {
        if (n < 2 || arg[n - 1] != ']')
            return -1;
        arg[n - 1] = '\0';
        *host = arg + 1;
    }
    if (**host == '\0')
        *host = NULL;
    return 0;
}

int cli_dtls_add_psk(cs_dtls_config_t *cfg, const char *arg, const char *sub)
{
    if (cfg->n_psks == CS_DTLS_MAX_PSKS)
        return cli_fail(sub, CLI_EXIT_USAGE, "at most %d --psk", CS_DTLS_MAX_PSKS);
    if (!cs_dtls_parse_psk(arg, &cfg->psks[cfg->n_psks]))
        return cli_fail(sub, CLI_EXIT_USAGE, "--psk expects IDENTITY:KEY (KEY as text or 0x-hex, up to 64 bytes)");
    cfg->n_psks++;
    return CLI_EXIT_OK;
}

int cli_pem_file_to_der(const char *file, bool private_key, uint8_t *out, size_t cap, size_t *len,
                        const char *sub)
{
    static char pem[32768];
    char err[128];
    FILE *f = fopen(file, "r");
    if (!f)
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s: %s", file, strerror(errno));
    size_t n = fread(pem, 1, sizeof pem, f);
    fclose(f);
    cs_net_err_t e = n == sizeof pem ? CS_NET_ERR_BAD_ARG
                                     : cs_dtls_pem_to_der(pem, n, private_key, out, cap, len, err, sizeof err);
    cs_wipe(pem, n);
    if (e != CS_NET_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s: %s", file, n == sizeof pem ? "too long for a PEM file" : err);
    return CLI_EXIT_OK;
}

int cli_security_init(cli_security_t *sec, const char *sub)
{
    memset(sec, 0, sizeof *sec);
    if (cs_crypto_openssl_new(&sec->crypto) != CS_CRYPTO_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "cannot initialise OpenSSL");
    sec->crypto_ready = true;
    return CLI_EXIT_OK;
}

/* Derives c (the next free slot) from p; with a state path its SSN bound
 * and replay window persist there (Appendix B.1). */
static int derive_slot(cli_security_t *sec, cli_context_t *c, oscore_params_t *p,
                       const char *state_path, uint32_t step, const char *sub)
{
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    c->persistent = state_path && state_path[0];
    if (c->persistent && cs_state_open(&c->state, state_path, step, p, err, sizeof err) != CS_STORE_OK)
        return cli_fail(sub, CLI_EXIT_STORAGE, "%s", err);
    oscore_err_t oe = oscore_ctx_derive(&c->ctx, &sec->crypto, p);
    if (oe != OSCORE_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s: %s [%s]", c->path, coreseal_strerror(oe),
                        coreseal_errname(oe));
    if (c->persistent && cs_state_attach(&c->state, &c->ctx) != CS_STORE_OK)
        return cli_fail(sub, CLI_EXIT_STORAGE, "%s: cannot write state file %s", c->path, state_path);
    /* the state struct lives in the array: point the hook at it */
    c->ctx.persist.arg = &c->state;
    sec->n++;
    return CLI_EXIT_OK;
}

int cli_security_add(cli_security_t *sec, const char *path, const char *sub)
{
    if (sec->n == CLI_MAX_CONTEXTS)
        return cli_fail(sub, CLI_EXIT_USAGE, "at most %d --oscore contexts", CLI_MAX_CONTEXTS);
    cli_context_t *c = &sec->ctx[sec->n];
    char err[CS_STORE_ERRMSG_MAX + CS_STORE_PATH_MAX];
    snprintf(c->path, sizeof c->path, "%s", path);
    if (cs_context_file_load(path, &c->file, err, sizeof err) != CS_STORE_OK)
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s; see docs/context-files.md", err);
    oscore_params_t p;
    cs_context_file_params(&c->file, &p);
    return derive_slot(sec, c, &p, c->file.state_file, c->file.ssn_step, sub);
}

int cli_security_add_derived(cli_security_t *sec, const oscore_params_t *params, const char *name,
                             const char *state_path, const char *sub, cli_context_t **out)
{
    if (sec->n == CLI_MAX_CONTEXTS)
        return cli_fail(sub, CLI_EXIT_CONFIG, "no room for another OSCORE context (%d)", CLI_MAX_CONTEXTS);
    cli_context_t *c = &sec->ctx[sec->n];
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", name);
    /* kept as a context file would hold them, so that B.2 can derive from
     * them again later (cli_context_base); what does not fit would not
     * derive either */
    if (!cs_context_file_from_params(&c->file, params))
        return cli_fail(sub, CLI_EXIT_CONFIG, "%s: an OSCORE parameter is too long", name);
    if (state_path)
        snprintf(c->file.state_file, sizeof c->file.state_file, "%s", state_path);
    oscore_params_t p = *params;
    *out = c;
    return derive_slot(sec, c, &p, state_path, 32, sub);
}

void cli_context_base(const cli_context_t *c, oscore_params_t *p)
{
    cs_context_file_params(&c->file, p);
    p->persist = c->ctx.persist;
}

int cli_b2_start_if_new(cli_security_t *sec, cli_context_t *c, bool verbose, const char *sub)
{
    if (!c->file.b2 || (c->persistent && c->state.has_id_context))
        return CLI_EXIT_OK;
    oscore_params_t base;
    cli_context_base(c, &base);
    oscore_err_t oe = oscore_b2_start(&c->ctx, &sec->crypto, &base);
    if (oe != OSCORE_OK)
        return cli_fail(sub, CLI_EXIT_SECURITY, "%s: cannot start RFC 8613 B.2: %s [%s]", c->path,
                        coreseal_strerror(oe), coreseal_errname(oe));
    if (verbose)
        fprintf(stderr, "* %s: new security context (RFC 8613 B.2), ID Context R1 sent\n", c->path);
    return CLI_EXIT_OK;
}

cli_context_t *cli_security_slot(cli_security_t *sec, const oscore_ctx_t *ctx)
{
    for (int i = 0; i < sec->n; i++)
        if (&sec->ctx[i].ctx == ctx)
            return &sec->ctx[i];
    return NULL;
}

cli_context_t *cli_security_find_b2(cli_security_t *sec, const oscore_option_t *opt)
{
    for (int i = 0; i < sec->n; i++)
        if (oscore_b2_applies(&sec->ctx[i].ctx, opt))
            return &sec->ctx[i];
    return NULL;
}

/* LwM2M (Transport TS): Echo on the first use of a context. A context
 * with a state file has been used unless the file is new; one whose window
 * was not saved cleanly asks for Echo anyway (B.1.2). */
void cli_security_require_echo_on_first_use(cli_context_t *c)
{
    if (!c->persistent || c->state.fresh)
        oscore_ctx_require_echo(&c->ctx);
}

int cli_security_add_params(cli_security_t *sec, const oscore_params_t *p, const uint8_t *owner,
                            size_t owner_len, const char *sub, cli_context_t **out)
{
    uint8_t digest[CS_HASH_MAX];
    if (owner_len > sizeof sec->ctx[0].owner) { /* a certificate by value: its digest stands for it */
        if (sec->crypto.hash(sec->crypto.state, CS_HASH_SHA256, owner, owner_len, digest) != CS_CRYPTO_OK)
            return cli_fail(sub, CLI_EXIT_CONFIG, "cannot hash the EDHOC credential identifier");
        owner = digest;
        owner_len = sizeof sec->ctx[0].owner;
    }
    cli_context_t *c = NULL, *oldest = NULL;
    for (int i = 0; i < sec->n && !c; i++) {
        cli_context_t *x = &sec->ctx[i];
        if (x->owner_len == 0)
            continue; /* contexts from files stay */
        if (x->owner_len == owner_len && memcmp(x->owner, owner, owner_len) == 0)
            c = x; /* the same peer ran EDHOC again: new keys replace old */
        else if (!oldest || x->serial < oldest->serial)
            oldest = x;
    }
    if (!c && sec->n < CLI_MAX_CONTEXTS)
        c = &sec->ctx[sec->n++];
    if (!c)
        c = oldest;
    if (!c)
        return cli_fail(sub, CLI_EXIT_CONFIG, "no room for an EDHOC context (%d from files)",
                        CLI_MAX_CONTEXTS);
    oscore_ctx_wipe(&c->ctx);
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "(EDHOC)");
    memcpy(c->owner, owner, owner_len);
    c->owner_len = owner_len;
    c->serial = ++sec->serial;
    oscore_err_t oe = oscore_ctx_derive(&c->ctx, &sec->crypto, p);
    if (oe != OSCORE_OK)
        return cli_fail(sub, CLI_EXIT_SECURITY, "cannot derive the OSCORE context: %s",
                        coreseal_strerror(oe));
    *out = c;
    return CLI_EXIT_OK;
}

bool cli_security_recipient_id_taken(void *sec_arg, const uint8_t *id, size_t len)
{
    const cli_security_t *sec = sec_arg;
    for (int i = 0; i < sec->n; i++)
        if (sec->ctx[i].ctx.recipient_id_len == len && !memcmp(sec->ctx[i].ctx.recipient_id, id, len))
            return true;
    return false;
}

cli_context_t *cli_security_find(cli_security_t *sec, const oscore_option_t *opt)
{
    for (int i = 0; i < sec->n; i++)
        if (oscore_ctx_matches(&sec->ctx[i].ctx, opt))
            return &sec->ctx[i];
    return NULL;
}

int cli_security_share(cli_security_t *sec, const char *url, const char *sub)
{
    char err[CS_STORE_ERRMSG_MAX + 128];
    if (cs_redis_open(&sec->shared, url, err, sizeof err) != CS_STORE_OK)
        return cli_fail(sub, CLI_EXIT_STORAGE, "%s; is Redis running there?", err);
    for (int i = 0; i < sec->n; i++) {
        cli_context_t *c = &sec->ctx[i];
        c->persistent = false; /* Redis holds the state, not the state file */
        c->ctx.persist = cs_redis_persist(sec->shared, c->file.ssn_step ? c->file.ssn_step : 32);
        c->ctx.ssn_bound = c->ctx.ssn; /* the first SSN comes from a reserved block */
        c->ctx.replay.lost = false;    /* the shared window is never lost with a node */
    }
    return CLI_EXIT_OK;
}

void cli_security_close(cli_security_t *sec)
{
    for (int i = 0; i < sec->n; i++) {
        cli_context_t *c = &sec->ctx[i];
        if (c->persistent && cs_state_close(&c->state, &c->ctx) != CS_STORE_OK)
            fprintf(stderr, "coreseal: warning: could not save %s\n", c->file.state_file);
        oscore_ctx_wipe(&c->ctx);
        cs_wipe(&c->file, sizeof c->file);
    }
    sec->n = 0;
    cs_redis_close(sec->shared);
    sec->shared = NULL;
    if (sec->crypto_ready)
        cs_crypto_openssl_free(&sec->crypto);
    sec->crypto_ready = false;
}

static const struct {
    uint8_t code;
    const char *text;
} code_names[] = {
    {COAP_GET, "GET"}, {COAP_POST, "POST"}, {COAP_PUT, "PUT"}, {COAP_DELETE, "DELETE"},
    {COAP_FETCH, "FETCH"}, {COAP_PATCH, "PATCH"}, {COAP_IPATCH, "iPATCH"},
    {COAP_CREATED, "Created"}, {COAP_DELETED, "Deleted"}, {COAP_VALID, "Valid"},
    {COAP_CHANGED, "Changed"}, {COAP_CONTENT, "Content"}, {COAP_CONTINUE, "Continue"},
    {COAP_BAD_REQUEST, "Bad Request"}, {COAP_UNAUTHORIZED, "Unauthorized"},
    {COAP_BAD_OPTION, "Bad Option"}, {COAP_FORBIDDEN, "Forbidden"},
    {COAP_NOT_FOUND, "Not Found"}, {COAP_METHOD_NOT_ALLOWED, "Method Not Allowed"},
    {COAP_NOT_ACCEPTABLE, "Not Acceptable"},
    {COAP_REQUEST_ENTITY_INCOMPLETE, "Request Entity Incomplete"},
    {COAP_PRECONDITION_FAILED, "Precondition Failed"},
    {COAP_REQUEST_ENTITY_TOO_LARGE, "Request Entity Too Large"},
    {COAP_UNSUPPORTED_CONTENT_FORMAT, "Unsupported Content-Format"},
    {COAP_INTERNAL_SERVER_ERROR, "Internal Server Error"},
    {COAP_NOT_IMPLEMENTED, "Not Implemented"}, {COAP_BAD_GATEWAY, "Bad Gateway"},
    {COAP_SERVICE_UNAVAILABLE, "Service Unavailable"}, {COAP_GATEWAY_TIMEOUT, "Gateway Timeout"},
    {COAP_PROXYING_NOT_SUPPORTED, "Proxying Not Supported"},
};

const char *cli_code_str(uint8_t code, char *buf)
{
    const char *name = "";
    for (size_t i = 0; i < sizeof code_names / sizeof code_names[0]; i++)
        if (code_names[i].code == code)
            name = code_names[i].text;
    if (COAP_CODE_CLASS(code) == 0 && name[0])
        snprintf(buf, 32, "%s", name);
    else
        snprintf(buf, 32, "%u.%02u%s%s", COAP_CODE_CLASS(code), COAP_CODE_DETAIL(code),
                 name[0] ? " " : "", name);
    return buf;
}

static const struct {
    const char *name;
    long num;
} formats[] = {
    {"text/plain", 0}, {"text", 0}, {"application/link-format", 40}, {"link", 40},
    {"application/xml", 41}, {"xml", 41}, {"application/octet-stream", 42}, {"octet", 42},
    {"application/exi", 47}, {"application/json", 50}, {"json", 50}, {"application/cbor", 60},
    {"cbor", 60}, {"application/senml+json", 110}, {"senml+json", 110},
    {"application/senml+cbor", 112}, {"senml+cbor", 112}, {"application/vnd.oma.lwm2m+tlv", 11542},
    {"tlv", 11542}, {"application/vnd.oma.lwm2m+json", 11543},
    {"application/vnd.oma.lwm2m+cbor", 11544}, {"lwm2m+cbor", 11544},
};

long cli_content_format(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && *end == '\0')
        return v >= 0 && v <= 65535 ? v : -1;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, s) == 0)
            return formats[i].num;
    return -1;
}

static void print_bytes(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
}

void cli_print_msg(FILE *out, char dir, const coap_msg_t *m, const char *note, int verbosity)
{
    static const char *types[] = {"CON", "NON", "ACK", "RST"};
    char code[32];
    fprintf(out, "%c %s %s mid=0x%04x tok=", dir, types[m->type & 3],
            cli_code_str(m->code, code), m->mid);
    print_bytes(out, m->token, m->token_len);
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    bool path = false;
    while (coap_opt_next(&it, &o)) {
        const coap_opt_info_t *info = coap_opt_info(o.num);
        if (o.num == COAP_OPT_URI_PATH) {
            fprintf(out, "%s%.*s", path ? "/" : " /", (int)o.len, (const char *)o.val);
            path = true;
            continue;
        }
        uint32_t v;
        fprintf(out, " %s", info ? info->name : "Option");
        if (!info)
            fprintf(out, "%u", o.num);
        if (info && info->format == COAP_FMT_UINT && coap_opt_uint(&o, &v))
            fprintf(out, "=%u", v);
        else if (info && info->format == COAP_FMT_STRING)
            fprintf(out, "=%.*s", (int)o.len, (const char *)o.val);
        else if (o.len) {
            fputc('=', out);
            print_bytes(out, o.val, o.len);
        }
    }
    fprintf(out, " (%zu bytes payload)%s%s\n", m->payload_len, note ? "  " : "", note ? note : "");
    if (verbosity >= 2 && m->payload_len) {
        bool text = true;
        for (size_t i = 0; i < m->payload_len; i++)
            text &= isprint(m->payload[i]) || m->payload[i] == '\n';
        fprintf(out, "%c   ", dir == '>' ? '}' : '{');
        if (text)
            fprintf(out, "%.*s\n", (int)m->payload_len, (const char *)m->payload);
        else {
            print_bytes(out, m->payload, m->payload_len);
            fputc('\n', out);
        }
    }
}

/* ---------------------------------------------------------------- outer blocks */

bool cli_msg_rebuild(const coap_msg_t *m, const coap_msg_t *hdr, const coap_opt_t *extra, size_t n_extra,
                    const uint8_t *pl, size_t pl_len, uint8_t *out, size_t cap, size_t *len)
{
    coap_opt_t list[32], o;
    uint8_t arena[1500];
    coap_optlist_t l;
    coap_opt_iter_t it;
    coap_optlist_init(&l, list, 32, arena, sizeof arena);
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o))
        if (o.num != COAP_OPT_BLOCK1 && o.num != COAP_OPT_BLOCK2 && o.num != COAP_OPT_SIZE1 &&
            o.num != COAP_OPT_SIZE2 && o.num != COAP_OPT_REQUEST_TAG)
            coap_optlist_add(&l, o.num, o.val, o.len);
    for (size_t i = 0; i < n_extra; i++)
        coap_optlist_add(&l, extra[i].num, extra[i].val, extra[i].len);
    coap_builder_t b;
    coap_builder_init(&b, out, cap, COAP_TRANSPORT_UDP, (coap_type_t)hdr->type, hdr->code, hdr->mid,
                      hdr->token, hdr->token_len);
    if (coap_optlist_write(&l, &b) != COAP_OK)
        return false;
    coap_builder_set_payload(&b, pl, pl_len);
    return coap_builder_finish(&b, len) == COAP_OK;
}

coap_opt_t cli_uint_opt(uint16_t option, uint32_t v, uint8_t buf[4])
{
    return (coap_opt_t){.num = option, .val = buf, .len = coap_encode_uint(v, buf)};
}

coap_opt_t cli_block_opt(uint16_t option, uint32_t num, bool more, uint8_t szx, uint8_t buf[4])
{
    coap_block_t blk = {.num = num, .more = more, .szx = szx};
    return cli_uint_opt(option, coap_block_encode(&blk), buf);
}

bool cli_outer_block(const uint8_t *whole, size_t whole_len, const coap_msg_t *hdr, uint32_t num,
                     uint8_t szx, uint8_t *out, size_t cap, size_t *n)
{
    coap_msg_t m, h = *hdr;
    uint8_t b2[4], s2[4];
    coap_block_t blk = {.num = num, .szx = szx};
    size_t off, len;
    if (coap_msg_parse(&m, whole, whole_len) != COAP_OK)
        return false;
    bool more = coap_block_slice(&blk, m.payload_len, &off, &len);
    if (num > 0 && len == 0)
        return false;
    coap_opt_t extra[2] = {cli_block_opt(COAP_OPT_BLOCK2, num, more, szx, b2),
                           cli_uint_opt(COAP_OPT_SIZE2, (uint32_t)m.payload_len, s2)};
    h.code = m.code;
    return cli_msg_rebuild(&m, &h, extra, num == 0 ? 2 : 1, m.payload + off, len, out, cap, n);
}
