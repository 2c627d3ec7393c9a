/* CoAP over DTLS 1.2 (RFC 7252 §9, RFC 6347) through OpenSSL: one UDP
 * socket, a session per peer address. A small BIO gives OpenSSL the one
 * datagram being processed and sends every record flight it writes as a
 * datagram of its own, so the sessions share the socket and the loop. */
#define _GNU_SOURCE
#include "net_internal.h"

#include "coreseal/crypto_openssl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_SESSIONS 4096
#define PENDING_MAX 4       /* messages waiting for a handshake */
#define DTLS_MTU 1280       /* the IPv6 minimum (RFC 7252 §4.6) */
#define HANDSHAKE_LIMIT_MS 60000

static const char PSK_CIPHERS[] = "PSK-AES128-CCM8:PSK-AES128-CCM:PSK-AES128-GCM-SHA256";
static const char CERT_CIPHERS[] = "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256";

typedef struct {
    SSL *ssl; /* NULL: a free slot */
    uint16_t gen;
    bool established;
    cs_net_addr_t addr;
    cs_time_ms_t started, last_used;
    uint8_t *pending[PENDING_MAX];
    size_t pending_len[PENDING_MAX], n_pending;
} session_t;

/* A client configuration, made at the first connect that names it (a
 * LwM2M client may hold several server accounts, each its own
 * credentials): the SSL_CTX new sessions to such a server take. */
#define MAX_CLIENT_CREDS 4
typedef struct {
    SSL_CTX *ctx;
    unsigned char digest[32]; /* of the cs_dtls_config_t it came from */
    cs_dtls_psk_t psk;        /* its psks[0] */
    bool named;               /* the server's certificate must name the host */
    uint8_t *tlsa;            /* its peer_der, matched as a TLSA record */
    size_t tlsa_len;
    uint8_t usage;
} client_cred_t;

struct cs_dtls {
    int fd;
    bool listening;
    cs_dtls_config_t cfg; /* the first call's: a server's keys */
    SSL_CTX *server_ctx;
    client_cred_t clients[MAX_CLIENT_CREDS];
    size_t n_clients;
    BIO_METHOD *bio_method;
    session_t *sessions;
    size_t n_sessions;
    uint8_t cookie_secret[32];
    /* what the BIO reads next, and whose records it writes */
    const uint8_t *in;
    size_t in_len;
    size_t current;
};

static void note(const cs_udp_t *u, const session_t *s, const char *fmt, ...)
{
    if (!u->log)
        return;
    char addr[80], msg[300];
    cs_net_addr_str(&s->addr, addr, sizeof addr);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(u->log, "coaps %s: %s\n", addr, msg);
}

static const char *ssl_reason(void)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "handshake failed";
}

/* ---------------------------------------------------------------- the BIO */

static int bio_write(BIO *b, const char *buf, int len)
{
    struct cs_dtls *d = BIO_get_data(b);
    const session_t *s = &d->sessions[d->current];
    ssize_t w = sendto(d->fd, buf, (size_t)len, 0, (const struct sockaddr *)&s->addr.ss, s->addr.len);
    return w < 0 ? len : (int)w; /* a lost datagram is DTLS's to retransmit */
}

static int bio_read(BIO *b, char *buf, int len)
{
    struct cs_dtls *d = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!d->in) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = d->in_len < (size_t)len ? d->in_len : (size_t)len;
    memcpy(buf, d->in, n);
    d->in = NULL;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: return 48; /* IPv6 + UDP */
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return DTLS_MTU - 48;
    default: return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---------------------------------------------------------------- callbacks */

static struct cs_dtls *dtls_of(SSL *ssl)
{
    return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

/* RFC 6347 §4.2.1: the cookie binds the ClientHello to the peer address,
 * so a spoofed one gets nothing but one HelloVerifyRequest. */
static bool cookie_of(struct cs_dtls *d, unsigned char *out, unsigned int *len)
{
    const session_t *s = &d->sessions[d->current];
    return HMAC(EVP_sha256(), d->cookie_secret, sizeof d->cookie_secret, (const unsigned char *)&s->addr.ss,
                s->addr.len, out, len) != NULL;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
    return cookie_of(dtls_of(ssl), cookie, len);
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
    unsigned char want[EVP_MAX_MD_SIZE];
    unsigned int want_len;
    return cookie_of(dtls_of(ssl), want, &want_len) && want_len == len && CRYPTO_memcmp(want, cookie, len) == 0;
}

static unsigned int psk_server(SSL *ssl, const char *identity, unsigned char *psk, unsigned int max)
{
    const cs_dtls_config_t *cfg = &dtls_of(ssl)->cfg;
    for (size_t i = 0; identity && i < cfg->n_psks; i++)
        if (!strcmp(cfg->psks[i].identity, identity) && cfg->psks[i].key_len <= max) {
            memcpy(psk, cfg->psks[i].key, cfg->psks[i].key_len);
            return (unsigned int)cfg->psks[i].key_len;
        }
    size_t len = 0;
    if (identity && cfg->psk_lookup && cfg->psk_lookup(cfg->psk_arg, identity, psk, max, &len) && len <= max)
        return (unsigned int)len;
    return 0; /* unknown identity: the handshake fails */
}

static unsigned int psk_client(SSL *ssl, const char *hint, char *identity, unsigned int max_identity,
                               unsigned char *psk, unsigned int max_psk)
{
    (void)hint;
    const struct cs_dtls *d = dtls_of(ssl);
    const cs_dtls_psk_t *p = NULL;
    for (size_t i = 0; i < d->n_clients; i++) /* the configuration the session was made with */
        if (d->clients[i].ctx == SSL_get_SSL_CTX(ssl))
            p = &d->clients[i].psk;
    if (!p || strlen(p->identity) >= max_identity || p->key_len > max_psk)
        return 0;
    strcpy(identity, p->identity);
    memcpy(psk, p->key, p->key_len);
    return (unsigned int)p->key_len;
}

/* ---------------------------------------------------------------- setup */

bool cs_dtls_parse_psk(const char *arg, cs_dtls_psk_t *psk)
{
    const char *colon = arg ? strchr(arg, ':') : NULL;
    if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof psk->identity)
        return false;
    memset(psk, 0, sizeof *psk);
    memcpy(psk->identity, arg, (size_t)(colon - arg));
    const char *key = colon + 1;
    size_t n = strlen(key);
    if (n > 2 && key[0] == '0' && (key[1] == 'x' || key[1] == 'X')) {
        long len = 0;
        unsigned char *bin = OPENSSL_hexstr2buf(key + 2, &len);
        bool ok = bin && len > 0 && (size_t)len <= sizeof psk->key;
        if (ok)
            memcpy(psk->key, bin, (size_t)len);
        psk->key_len = ok ? (size_t)len : 0;
        OPENSSL_clear_free(bin, bin ? (size_t)len : 0);
        return ok;
    }
    if (n == 0 || n > sizeof psk->key)
        return false;
    memcpy(psk->key, key, n);
    psk->key_len = n;
    return true;
}

/* A client's Certificate mode from DER (cfg.cert_der...): NULL, or why not. */
static const char *use_der_credentials(SSL_CTX *ctx, const cs_dtls_config_t *cfg)
{
    if (!cfg->key_der || !cfg->peer_der || cfg->peer_usage > 3)
        return "Certificate mode from DER needs the certificate, the private key and the server's "
               "certificate with a usage of 0 to 3";
    const unsigned char *p = cfg->key_der;
    EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, (long)cfg->key_der_len);
    const char *why = NULL;
    if (SSL_CTX_use_certificate_ASN1(ctx, (int)cfg->cert_der_len, cfg->cert_der) != 1)
        why = "cannot load the certificate (DER)";
    else if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
        why = "cannot load the private key (DER), or it does not match the certificate";
    else if (SSL_CTX_dane_enable(ctx) <= 0 || (cfg->peer_usage < 2 && SSL_CTX_set_default_verify_paths(ctx) != 1))
        why = "cannot set up DANE matching of the server's certificate";
    else if (cfg->peer_usage == 3) /* the pinned certificate is the server's identity */
        SSL_CTX_dane_set_flags(ctx, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    EVP_PKEY_free(key);
    return why;
}

static SSL_CTX *make_ctx(struct cs_dtls *d, const cs_dtls_config_t *cfg, bool server, char *err, size_t err_len)
{
    bool der = !server && cfg->cert_der, cert = cfg->cert_file || cfg->ca_file || der;
    bool psk = cfg->n_psks || (server && cfg->psk_lookup);
    SSL_CTX *ctx = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
    char ciphers[200];
    snprintf(ciphers, sizeof ciphers, "%s%s%s@SECLEVEL=0", psk ? PSK_CIPHERS : "", psk && cert ? ":" : "",
             cert ? CERT_CIPHERS : "");
    const char *why = NULL;
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) || !SSL_CTX_set_cipher_list(ctx, ciphers))
        why = "cannot set up DTLS 1.2";
    else if (der)
        why = use_der_credentials(ctx, cfg);
    else if (cfg->cert_file && SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        why = "cannot load the certificate (PEM) file";
    else if (cfg->cert_file && (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file ? cfg->key_file : cfg->cert_file,
                                                            SSL_FILETYPE_PEM) != 1 ||
                                SSL_CTX_check_private_key(ctx) != 1))
        why = "cannot load the private key (PEM), or it does not match the certificate";
    else if (cfg->ca_file && SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1)
        why = "cannot load the CA file (PEM)";
    else if (!server && cfg->cert_file && !cfg->ca_file)
        why = "a client in Certificate mode needs the CA file that verifies the server";
    if (why) {
        cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "dtls", why);
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    SSL_CTX_set_app_data(ctx, d);
    if (cfg->ca_file || der)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    if (psk) {
        if (server)
            SSL_CTX_set_psk_server_callback(ctx, psk_server);
        else
            SSL_CTX_set_psk_client_callback(ctx, psk_client);
    }
    if (server) {
        SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
        SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
    }
    return ctx;
}

cs_net_err_t cs_dtls_pem_to_der(const char *pem, size_t pem_len, bool private_key, uint8_t *out, size_t cap,
                                size_t *len, char *err, size_t err_len)
{
    BIO *in = pem_len <= INT_MAX ? BIO_new_mem_buf(pem, (int)pem_len) : NULL;
    if (!in)
        return cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "PEM", "cannot read it");
    X509 *cert = private_key ? NULL : PEM_read_bio_X509(in, NULL, NULL, NULL);
    EVP_PKEY *key = private_key ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
    PKCS8_PRIV_KEY_INFO *p8 = key ? EVP_PKEY2PKCS8(key) : NULL;
    BIO_free(in);
    int n = cert ? i2d_X509(cert, NULL) : p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : -1;
    unsigned char *p = out;
    cs_net_err_t e = CS_NET_OK;
    if (n <= 0)
        e = cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "PEM",
                        private_key ? "no private key in it" : "no certificate in it");
    else if ((size_t)n > cap)
        e = cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "PEM", "the DER form is too long");
    else
        *len = (size_t)(cert ? i2d_X509(cert, &p) : i2d_PKCS8_PRIV_KEY_INFO(p8, &p));
    X509_free(cert);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return e;
}

/* The DTLS socket: bound to host:port for a server, ephemeral otherwise. */
static cs_net_err_t dtls_setup(cs_udp_t *u, const char *host, const char *port, bool server, char *err,
                               size_t err_len)
{
    struct cs_dtls *d = u->dtls;
    struct addrinfo hints = {.ai_family = server ? AF_UNSPEC : AF_INET6, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(server ? host : NULL, server ? port : "0", &hints, &res);
    if (rc != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_RESOLVE, host ? host : "(any)", gai_strerror(rc));
    cs_net_err_t e = cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "dtls", "no usable address");
    for (struct addrinfo *ai = res; ai && d->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int zero = 0;
        if (fd < 0)
            continue;
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CS_NET_TAG_DTLS};
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            e = cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "dtls bind", strerror(errno));
            close(fd);
            continue;
        }
        d->fd = fd;
        e = CS_NET_OK;
    }
    freeaddrinfo(res);
    if (e != CS_NET_OK)
        return e;
    d->listening = server;
    d->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coreseal dtls");
    if (!d->bio_method || !BIO_meth_set_write(d->bio_method, bio_write) ||
        !BIO_meth_set_read(d->bio_method, bio_read) || !BIO_meth_set_ctrl(d->bio_method, bio_ctrl) ||
        !BIO_meth_set_create(d->bio_method, bio_create) ||
        RAND_bytes(d->cookie_secret, sizeof d->cookie_secret) != 1)
        return cs_net_fail(err, err_len, CS_NET_ERR_NO_MEMORY, "dtls", "OpenSSL setup failed");
    if (server && !(d->server_ctx = make_ctx(d, &d->cfg, true, err, err_len)))
        return CS_NET_ERR_SOCKET;
    d->cfg.cert_der = d->cfg.key_der = d->cfg.peer_der = NULL; /* the caller's, not kept */
    return CS_NET_OK;
}

/* What tells two client configurations apart. */
static bool config_digest(const cs_dtls_config_t *cfg, unsigned char out[32])
{
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    const char *names[4] = {cfg->n_psks ? cfg->psks[0].identity : NULL, cfg->cert_file, cfg->key_file, cfg->ca_file};
    const struct {
        const void *p;
        size_t n;
    } parts[] = {{cfg->n_psks ? cfg->psks[0].key : NULL, cfg->n_psks ? cfg->psks[0].key_len : 0},
                 {cfg->cert_der, cfg->cert_der_len}, {cfg->key_der, cfg->key_der_len},
                 {cfg->peer_der, cfg->peer_der_len}, {&cfg->peer_usage, 1}};
    bool ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < 4; i++) /* names, each with its NUL ("" for none) */
        ok = EVP_DigestUpdate(h, names[i] ? names[i] : "", names[i] ? strlen(names[i]) + 1 : 1) == 1;
    for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++) {
        uint64_t n = parts[i].p ? parts[i].n : 0; /* lengths keep the parts apart */
        ok = EVP_DigestUpdate(h, &n, sizeof n) == 1 && (!n || EVP_DigestUpdate(h, parts[i].p, n) == 1);
    }
    ok = ok && EVP_DigestFinal_ex(h, out, NULL) == 1;
    EVP_MD_CTX_free(h);
    return ok;
}

/* The client configuration cfg names: the one made before, or a new one. */
static client_cred_t *client_cred(struct cs_dtls *d, const cs_dtls_config_t *cfg, char *err, size_t err_len)
{
    unsigned char digest[32];
    if (!cfg->n_psks && !cfg->cert_file && !cfg->ca_file && !cfg->cert_der) {
        cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "dtls", "give a PSK or a certificate to connect with");
        return NULL;
    }
    if (!config_digest(cfg, digest)) {
        cs_net_fail(err, err_len, CS_NET_ERR_NO_MEMORY, "dtls", "OpenSSL failed");
        return NULL;
    }
    for (size_t i = 0; i < d->n_clients; i++)
        if (!memcmp(d->clients[i].digest, digest, sizeof digest))
            return &d->clients[i];
    if (d->n_clients == MAX_CLIENT_CREDS) {
        cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "dtls", "too many client configurations on one socket");
        return NULL;
    }
    client_cred_t *c = &d->clients[d->n_clients];
    memset(c, 0, sizeof *c);
    if (cfg->cert_der && !(c->tlsa = malloc(cfg->peer_der_len))) {
        cs_net_fail(err, err_len, CS_NET_ERR_NO_MEMORY, "dtls", "no memory");
        return NULL;
    }
    if (!(c->ctx = make_ctx(d, cfg, false, err, err_len))) {
        free(c->tlsa);
        return NULL;
    }
    memcpy(c->digest, digest, sizeof digest);
    if (cfg->n_psks)
        c->psk = cfg->psks[0];
    if (cfg->cert_der) { /* the caller's DER is not kept: OpenSSL has the own credentials */
        memcpy(c->tlsa, cfg->peer_der, cfg->peer_der_len);
        c->tlsa_len = cfg->peer_der_len;
        c->usage = cfg->peer_usage;
    }
    c->named = cfg->ca_file || cfg->cert_der;
    d->n_clients++;
    return c;
}

static cs_net_err_t dtls_open(cs_udp_t *u, const char *host, const char *port, bool server,
                              const cs_dtls_config_t *cfg, char *err, size_t err_len)
{
    if (!u || !cfg || u->epfd < 0 ||
        (!cfg->n_psks && !cfg->psk_lookup && !cfg->cert_file && !cfg->ca_file && !cfg->cert_der))
        return cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "dtls", "give a PSK or a certificate");
    if (u->dtls)
        return server && !u->dtls->listening ? cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "dtls",
                                                    "listen before the first connect")
                                             : CS_NET_OK;
    if (!(u->dtls = calloc(1, sizeof *u->dtls)))
        return CS_NET_ERR_NO_MEMORY;
    u->dtls->fd = -1;
    u->dtls->cfg = *cfg;
    cs_net_err_t e = dtls_setup(u, host, port, server, err, err_len);
    if (e != CS_NET_OK)
        cs_dtls_end(u);
    return e;
}

/* ---------------------------------------------------------------- sessions */

static coap_peer_t handle_of(size_t i, const session_t *s)
{
    return CS_DTLS_PEER | (coap_peer_t)(s->gen & 0x3fff) << 16 | (coap_peer_t)i;
}

static session_t *session_of(const cs_udp_t *u, coap_peer_t peer, size_t *index)
{
    size_t i = peer & 0xffff;
    if (!u->dtls || !cs_net_peer_is_dtls(peer) || i >= u->dtls->n_sessions)
        return NULL;
    session_t *s = &u->dtls->sessions[i];
    if (!s->ssl || (s->gen & 0x3fff) != ((peer >> 16) & 0x3fff))
        return NULL;
    if (index)
        *index = i;
    return s;
}

const cs_net_addr_t *cs_dtls_peer_addr(const cs_udp_t *u, coap_peer_t peer)
{
    const session_t *s = session_of(u, peer, NULL);
    return s ? &s->addr : NULL;
}

bool cs_dtls_peer_name(const cs_udp_t *u, coap_peer_t peer, char *out, size_t cap)
{
    const session_t *s = session_of(u, peer, NULL);
    if (!s || !s->established || !cap)
        return false;
    const char *id = SSL_get_psk_identity(s->ssl);
    X509 *cert = SSL_get0_peer_certificate(s->ssl);
    if (!id)
        return cert && cs_openssl_subject_cn(cert, out, cap);
    size_t n = strlen(id);
    if (n >= cap) /* a name cut short could pass for another */
        return false;
    memcpy(out, id, n + 1);
    return true;
}

static void session_free(cs_udp_t *u, size_t i, const char *why)
{
    struct cs_dtls *d = u->dtls;
    session_t *s = &d->sessions[i];
    if (why) {
        note(u, s, "session ended (%s)", why);
        snprintf(u->why, sizeof u->why, "DTLS: %s", why);
    }
    if (s->established) {
        d->current = i;
        SSL_shutdown(s->ssl); /* close_notify */
    }
    SSL_free(s->ssl);
    for (size_t k = 0; k < s->n_pending; k++)
        free(s->pending[k]);
    uint16_t gen = (uint16_t)(s->gen + 1);
    memset(s, 0, sizeof *s);
    s->gen = gen;
    ERR_clear_error();
}

static long session_find(const struct cs_dtls *d, const struct sockaddr *sa, socklen_t len)
{
    for (size_t i = 0; i < d->n_sessions; i++)
        if (d->sessions[i].ssl && d->sessions[i].addr.len == len && !memcmp(&d->sessions[i].addr.ss, sa, len))
            return (long)i;
    return -1;
}

/* A slot for a new session: a free one, else (at the limits) the oldest
 * unfinished handshake, else the least recently used session. */
static long session_slot(cs_udp_t *u)
{
    struct cs_dtls *d = u->dtls;
    size_t handshaking = 0;
    long oldest_hs = -1, lru = -1;
    for (size_t i = 0; i < d->n_sessions; i++) {
        const session_t *s = &d->sessions[i];
        if (!s->ssl)
            return (long)i;
        if (!s->established) {
            handshaking++;
            if (oldest_hs < 0 || s->started < d->sessions[oldest_hs].started)
                oldest_hs = (long)i;
        }
        if (lru < 0 || s->last_used < d->sessions[lru].last_used)
            lru = (long)i;
    }
    long victim = handshaking >= CS_DTLS_MAX_HANDSHAKES ? oldest_hs : -1;
    if (victim < 0 && d->n_sessions < MAX_SESSIONS) {
        session_t *grown = realloc(d->sessions, (d->n_sessions + 1) * sizeof *grown);
        if (grown) {
            d->sessions = grown;
            memset(&d->sessions[d->n_sessions], 0, sizeof *grown);
            return (long)d->n_sessions++;
        }
    }
    if (victim < 0)
        victim = lru;
    if (victim >= 0)
        session_free(u, (size_t)victim, "evicted for a new one");
    return victim;
}

/* A session with sa: a server's (server_ctx), or a client's made with ctx. */
static long session_new(cs_udp_t *u, const struct sockaddr *sa, socklen_t len, SSL_CTX *ctx, cs_time_ms_t now)
{
    struct cs_dtls *d = u->dtls;
    bool server = ctx == d->server_ctx;
    long i = session_slot(u);
    if (i < 0)
        return -1;
    session_t *s = &d->sessions[i];
    SSL *ssl = SSL_new(ctx);
    BIO *bio = ssl ? BIO_new(d->bio_method) : NULL;
    if (!bio) {
        SSL_free(ssl);
        return -1;
    }
    BIO_set_data(bio, d);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU | (server ? SSL_OP_COOKIE_EXCHANGE : 0));
    SSL_set_mtu(ssl, DTLS_MTU - 48);
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    s->ssl = ssl;
    memcpy(&s->addr.ss, sa, len);
    s->addr.len = len;
    s->started = s->last_used = now;
    return i;
}

static bool session_write(cs_udp_t *u, size_t i, const uint8_t *m, size_t n)
{
    u->dtls->current = i;
    if (SSL_write(u->dtls->sessions[i].ssl, m, (int)n) == (int)n)
        return true;
    session_free(u, i, ssl_reason());
    return false;
}

/* Drives the handshake with the datagram in d->in; false if it failed. */
static bool handshake(cs_udp_t *u, size_t i)
{
    session_t *s = &u->dtls->sessions[i];
    int r = SSL_do_handshake(s->ssl);
    if (r != 1) {
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return true;
        session_free(u, i, ssl_reason());
        return false;
    }
    s->established = true;
    const char *id = SSL_get_psk_identity(s->ssl);
    char subject[128] = "";
    X509 *cert = SSL_get0_peer_certificate(s->ssl);
    if (cert)
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    note(u, s, "handshake done, %s%s%s%s%s", SSL_get_cipher_name(s->ssl), id ? ", PSK identity " : "", id ? id : "",
         cert ? ", certificate " : "", subject);
    /* what waited for the handshake goes now; taken out of the session
     * first, since a failed write frees it */
    uint8_t *pending[PENDING_MAX];
    size_t len[PENDING_MAX], n = s->n_pending;
    memcpy(pending, s->pending, sizeof pending);
    memcpy(len, s->pending_len, sizeof len);
    s->n_pending = 0;
    bool ok = true;
    for (size_t k = 0; k < n; k++) {
        ok = ok && session_write(u, i, pending[k], len[k]);
        free(pending[k]);
    }
    return ok;
}

/* RFC 6347 §4.2.8: a ClientHello (epoch 0) from a peer we have a session
 * with means it restarted; the old session is dropped for the new one. */
static bool is_client_hello(const uint8_t *p, size_t n)
{
    return n > 25 && p[0] == 22 && p[3] == 0 && p[4] == 0 && p[13] == 1;
}

static void on_datagram(cs_udp_t *u, const struct sockaddr *sa, socklen_t len, const uint8_t *p, size_t n,
                        cs_time_ms_t now)
{
    struct cs_dtls *d = u->dtls;
    long i = session_find(d, sa, len);
    bool hello = is_client_hello(p, n);
    if (i >= 0 && hello && d->sessions[i].established && SSL_is_server(d->sessions[i].ssl)) {
        session_free(u, (size_t)i, "the peer starts a new handshake");
        i = -1;
    }
    if (i < 0 && (!d->listening || !hello || (i = session_new(u, sa, len, d->server_ctx, now)) < 0))
        return;
    session_t *s = &d->sessions[i];
    s->last_used = now;
    d->current = (size_t)i;
    d->in = p;
    d->in_len = n;
    if ((s->established || handshake(u, (size_t)i)) && s->established) {
        for (;;) {
            uint8_t scratch[CS_NET_MAX_DGRAM];
            bool room = u->n_in < CS_NET_BATCH; /* else lost, as UDP may lose it */
            d->current = (size_t)i;
            int r = SSL_read(s->ssl, room ? u->in[u->n_in] : scratch, CS_NET_MAX_DGRAM);
            if (r > 0) {
                if (room) {
                    u->in_len[u->n_in] = (size_t)r;
                    u->in_peer[u->n_in++] = handle_of((size_t)i, s);
                }
                continue;
            }
            int e = SSL_get_error(s->ssl, r);
            if (e != SSL_ERROR_WANT_READ)
                session_free(u, (size_t)i, e == SSL_ERROR_ZERO_RETURN ? "closed by the peer" : ssl_reason());
            break;
        }
    }
    d->in = NULL;
}

void cs_dtls_on_ready(cs_udp_t *u)
{
    struct cs_dtls *d = u->dtls;
    if (!d)
        return;
    cs_time_ms_t now = cs_net_now();
    uint8_t buf[CS_NET_MAX_DGRAM + 100];
    for (int k = 0; k < CS_NET_BATCH && u->n_in < CS_NET_BATCH; k++) {
        struct sockaddr_storage from;
        socklen_t len = sizeof from;
        ssize_t r = recvfrom(d->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
        if (r < 0)
            return;
        on_datagram(u, (struct sockaddr *)&from, len, buf, (size_t)r, now);
    }
}

int cs_dtls_tick(cs_udp_t *u)
{
    struct cs_dtls *d = u->dtls;
    if (!d)
        return -1;
    cs_time_ms_t now = cs_net_now();
    int next = -1;
    for (size_t i = 0; i < d->n_sessions; i++) {
        session_t *s = &d->sessions[i];
        if (!s->ssl || s->established)
            continue;
        if (now - s->started > HANDSHAKE_LIMIT_MS) {
            session_free(u, i, "handshake timed out");
            continue;
        }
        d->current = i;
        if (DTLSv1_handle_timeout(s->ssl) < 0) { /* retransmitted its flight too often */
            session_free(u, i, "no answer to the handshake");
            continue;
        }
        struct timeval tv;
        if (DTLSv1_get_timeout(s->ssl, &tv)) {
            int ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;
            if (next < 0 || ms < next)
                next = ms;
        }
    }
    return next;
}

cs_net_err_t cs_dtls_queue(cs_udp_t *u, coap_peer_t peer, const uint8_t *m, size_t n)
{
    size_t i;
    session_t *s = session_of(u, peer, &i);
    if (!s)
        return CS_NET_ERR_CLOSED;
    s->last_used = cs_net_now();
    if (s->established)
        return session_write(u, i, m, n) ? CS_NET_OK : CS_NET_ERR_CLOSED;
    if (s->n_pending < PENDING_MAX && (s->pending[s->n_pending] = malloc(n)) != NULL) {
        memcpy(s->pending[s->n_pending], m, n);
        s->pending_len[s->n_pending++] = n;
    }
    return CS_NET_OK; /* waits for the handshake (or is lost, and retransmitted) */
}

cs_net_err_t cs_dtls_listen(cs_udp_t *u, const char *host, const char *port, const cs_dtls_config_t *cfg,
                            char *err, size_t err_len)
{
    if (u && u->dtls)
        return cs_net_fail(err, err_len, CS_NET_ERR_BAD_ARG, "dtls", "already listening");
    return dtls_open(u, host, port, true, cfg, err, err_len);
}

/* A client session with host at sa, its ClientHello sent; its index or -1. */
static long client_session(cs_udp_t *u, const client_cred_t *c, const char *host, const struct sockaddr *sa,
                           socklen_t len)
{
    struct cs_dtls *d = u->dtls;
    long i = session_new(u, sa, len, c->ctx, cs_net_now());
    if (i < 0)
        return -1;
    session_t *s = &d->sessions[i];
    unsigned char ip[16];
    bool literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    /* Certificate mode: the server's certificate must name host (unless
     * it is the very certificate the Security object pinned) */
    if ((c->tlsa && (SSL_dane_enable(s->ssl, literal ? NULL : host) <= 0 ||
                     SSL_dane_tlsa_add(s->ssl, c->usage, 0, 0, c->tlsa, c->tlsa_len) <= 0)) ||
        (c->named && !(literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host)
                               : SSL_set1_host(s->ssl, host)))) {
        session_free(u, (size_t)i, NULL);
        return -1;
    }
    (void)handshake(u, (size_t)i); /* ClientHello */
    return s->ssl ? i : -1;
}

cs_net_err_t cs_dtls_connect(cs_udp_t *u, const char *host, const char *port, const cs_dtls_config_t *cfg,
                             coap_peer_t *peer, char *err, size_t err_len)
{
    if (!host || !port || !peer)
        return CS_NET_ERR_BAD_ARG;
    cs_net_err_t e = dtls_open(u, NULL, NULL, false, cfg, err, err_len);
    if (e != CS_NET_OK)
        return e;
    struct cs_dtls *d = u->dtls;
    struct sockaddr_storage own;
    socklen_t own_len = sizeof own;
    if (getsockname(d->fd, (struct sockaddr *)&own, &own_len) != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "dtls", strerror(errno));
    /* the peer's address in the socket's family (v4-mapped on a v6 one) */
    struct addrinfo hints = {.ai_family = own.ss_family, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = own.ss_family == AF_INET6 ? AI_V4MAPPED | AI_ALL : 0};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return cs_net_fail(err, err_len, CS_NET_ERR_RESOLVE, host, gai_strerror(rc));
    long i = session_find(d, res->ai_addr, res->ai_addrlen);
    const client_cred_t *c = i < 0 ? client_cred(d, cfg, err, err_len) : NULL;
    if (i < 0 && c)
        i = client_session(u, c, host, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (i < 0)
        return c ? cs_net_fail(err, err_len, CS_NET_ERR_SOCKET, "dtls", "cannot start a DTLS session")
                 : CS_NET_ERR_BAD_ARG;
    *peer = handle_of((size_t)i, &d->sessions[i]);
    return CS_NET_OK;
}

void cs_dtls_close(cs_udp_t *u, coap_peer_t peer)
{
    size_t i;
    if (session_of(u, peer, &i))
        session_free(u, i, "closed here");
}

void cs_dtls_end(cs_udp_t *u)
{
    struct cs_dtls *d = u->dtls;
    if (!d)
        return;
    for (size_t i = 0; i < d->n_sessions; i++)
        if (d->sessions[i].ssl)
            session_free(u, i, NULL);
    free(d->sessions);
    SSL_CTX_free(d->server_ctx);
    for (size_t i = 0; i < d->n_clients; i++) {
        SSL_CTX_free(d->clients[i].ctx);
        free(d->clients[i].tlsa);
    }
    OPENSSL_cleanse(d->clients, sizeof d->clients); /* PSKs */
    BIO_meth_free(d->bio_method);
    if (d->fd >= 0)
        close(d->fd);
    OPENSSL_cleanse(&d->cfg, sizeof d->cfg);
    free(d);
    u->dtls = NULL;
}
