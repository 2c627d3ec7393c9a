/* coreseal/coap.h: the CoAP message codec.
 *
 * RFC 7252 §3 (UDP message format, options, payload marker), RFC 8323 §3.2
 * and §4 (TCP and WebSocket framing), option numbers from RFC 7252, 7641,
 * 7959, 8613, 8768, 9175, 9177 and 9668.
 *
 * A parsed message is a view: token, options and payload point into the
 * caller's buffer. Parsing checks every option once, so iterating over a
 * parsed message cannot fail. The builder writes options in number order
 * into a caller buffer and refuses anything else. */
#ifndef CORESEAL_COAP_H
#define CORESEAL_COAP_H

#include "coreseal/common.h"

typedef enum {
    COAP_OK = 0,
    COAP_ERR_BAD_ARG = CS_ERR_RANGE_COAP | 0x01,
    COAP_ERR_TRUNCATED,         /* shorter than its header or token */
    COAP_ERR_VERSION,           /* version is not 1 */
    COAP_ERR_TOKEN_LEN,         /* TKL 9..15 is reserved */
    COAP_ERR_OPTION_RESERVED,   /* delta or length nibble 15 without 0xFF */
    COAP_ERR_OPTION_TRUNCATED,  /* option runs past the end */
    COAP_ERR_EMPTY_PAYLOAD,     /* payload marker with nothing after it */
    COAP_ERR_OPTION_NUMBER,     /* option number above 65535 */
    COAP_ERR_EMPTY_MESSAGE,     /* code 0.00 carrying token, options or payload */
    COAP_ERR_NO_SPACE,          /* output buffer too small */
    COAP_ERR_OPTION_ORDER,      /* builder: option number below the last one */
    COAP_ERR_UNKNOWN_CRITICAL,  /* unrecognized critical option (§5.4.1) */
    COAP_ERR_FRAME_LENGTH,      /* TCP/WS length field disagrees with the data */
    COAP_ERR_BAD_STATE,         /* builder used after finish, payload twice... */
    COAP_ERR_BUSY,              /* endpoint: every exchange slot is in use */
    COAP_ERR_BAD_URI,           /* URI not of the coap:// forms of RFC 7252 §6 */
    COAP_ERR_BLOCK_SEQUENCE,    /* block-wise: a block out of order (4.08) */
    COAP_ERR_BODY_TOO_LARGE,    /* block-wise: the body outgrows its limit (4.13) */
    COAP_ERR_BLOCK_SIZE,        /* block-wise: a block other than the last is not full */
} coap_err_t;

typedef enum { COAP_TRANSPORT_UDP, COAP_TRANSPORT_TCP, COAP_TRANSPORT_WS } coap_transport_t;

typedef enum { COAP_TYPE_CON = 0, COAP_TYPE_NON = 1, COAP_TYPE_ACK = 2, COAP_TYPE_RST = 3 } coap_type_t;

#define COAP_CODE(c, d) ((uint8_t)(((c) << 5) | (d)))
#define COAP_CODE_CLASS(code) ((code) >> 5)
#define COAP_CODE_DETAIL(code) ((code) & 0x1f)

enum {
    COAP_CODE_EMPTY = 0x00,
    COAP_GET = 0x01, COAP_POST = 0x02, COAP_PUT = 0x03, COAP_DELETE = 0x04,
    COAP_FETCH = 0x05, COAP_PATCH = 0x06, COAP_IPATCH = 0x07,
    COAP_CREATED = 0x41, COAP_DELETED = 0x42, COAP_VALID = 0x43, COAP_CHANGED = 0x44,
    COAP_CONTENT = 0x45, COAP_CONTINUE = 0x5f,
    COAP_BAD_REQUEST = 0x80, COAP_UNAUTHORIZED = 0x81, COAP_BAD_OPTION = 0x82,
    COAP_FORBIDDEN = 0x83, COAP_NOT_FOUND = 0x84, COAP_METHOD_NOT_ALLOWED = 0x85,
    COAP_NOT_ACCEPTABLE = 0x86, COAP_REQUEST_ENTITY_INCOMPLETE = 0x88,
    COAP_PRECONDITION_FAILED = 0x8c, COAP_REQUEST_ENTITY_TOO_LARGE = 0x8d,
    COAP_UNSUPPORTED_CONTENT_FORMAT = 0x8f,
    COAP_INTERNAL_SERVER_ERROR = 0xa0, COAP_NOT_IMPLEMENTED = 0xa1, COAP_BAD_GATEWAY = 0xa2,
    COAP_SERVICE_UNAVAILABLE = 0xa3, COAP_GATEWAY_TIMEOUT = 0xa4,
    COAP_PROXYING_NOT_SUPPORTED = 0xa5,
    /* RFC 8323 signaling */
    COAP_CSM = 0xe1, COAP_PING = 0xe2, COAP_PONG = 0xe3, COAP_RELEASE = 0xe4, COAP_ABORT = 0xe5,
};

enum {
    COAP_OPT_IF_MATCH = 1,
    COAP_OPT_URI_HOST = 3,
    COAP_OPT_ETAG = 4,
    COAP_OPT_IF_NONE_MATCH = 5,
    COAP_OPT_OBSERVE = 6,
    COAP_OPT_URI_PORT = 7,
    COAP_OPT_LOCATION_PATH = 8,
    COAP_OPT_OSCORE = 9,
    COAP_OPT_URI_PATH = 11,
    COAP_OPT_CONTENT_FORMAT = 12,
    COAP_OPT_MAX_AGE = 14,
    COAP_OPT_URI_QUERY = 15,
    COAP_OPT_HOP_LIMIT = 16,
    COAP_OPT_ACCEPT = 17,
    COAP_OPT_Q_BLOCK1 = 19,
    COAP_OPT_LOCATION_QUERY = 20,
    COAP_OPT_EDHOC = 21,
    COAP_OPT_BLOCK2 = 23,
    COAP_OPT_BLOCK1 = 27,
    COAP_OPT_SIZE2 = 28,
    COAP_OPT_Q_BLOCK2 = 31,
    COAP_OPT_PROXY_URI = 35,
    COAP_OPT_PROXY_SCHEME = 39,
    COAP_OPT_SIZE1 = 60,
    COAP_OPT_ECHO = 252,
    COAP_OPT_NO_RESPONSE = 258,
    COAP_OPT_REQUEST_TAG = 292,
};

#define COAP_MAX_TOKEN_LEN 8

static inline bool coap_opt_is_critical(uint16_t num) { return (num & 1) != 0; }
static inline bool coap_opt_is_unsafe(uint16_t num) { return (num & 2) != 0; }
static inline bool coap_opt_is_no_cache_key(uint16_t num) { return (num & 0x1e) == 0x1c; }

typedef enum { COAP_FMT_EMPTY, COAP_FMT_OPAQUE, COAP_FMT_UINT, COAP_FMT_STRING } coap_opt_format_t;

typedef struct {
    uint16_t num;
    const char *name;
    coap_opt_format_t format;
    uint16_t min_len, max_len;
    bool repeatable;
} coap_opt_info_t;

/* Registered options coreseal knows (RFC 7252 §5.10 table and later RFCs). */
const coap_opt_info_t *coap_opt_info(uint16_t num);

typedef struct {
    coap_transport_t transport;
    uint8_t type; /* UDP only */
    uint8_t code;
    uint16_t mid; /* UDP only */
    uint8_t token_len;
    const uint8_t *token;
    const uint8_t *opts; /* encoded options, payload marker excluded */
    size_t opts_len;
    const uint8_t *payload;
    size_t payload_len;
} coap_msg_t;

typedef struct {
    uint16_t num;
    size_t len;
    const uint8_t *val;
} coap_opt_t;

typedef struct {
    const uint8_t *p, *end;
    uint16_t num;
} coap_opt_iter_t;

/* UDP datagram (RFC 7252 §3). */
CS_MUST_CHECK coap_err_t coap_msg_parse(coap_msg_t *m, const uint8_t *buf, size_t len);
/* One complete TCP frame (RFC 8323 §3.2); use coap_tcp_frame_size to cut a
 * stream into frames. */
CS_MUST_CHECK coap_err_t coap_msg_parse_tcp(coap_msg_t *m, const uint8_t *buf, size_t len);
/* One WebSocket message (RFC 8323 §4: Len is always 0). */
CS_MUST_CHECK coap_err_t coap_msg_parse_ws(coap_msg_t *m, const uint8_t *buf, size_t len);
/* Size of the TCP frame starting at buf; COAP_ERR_TRUNCATED while the
 * length header itself is incomplete. */
CS_MUST_CHECK coap_err_t coap_tcp_frame_size(const uint8_t *buf, size_t avail, size_t *frame_len);

void coap_opt_iter_init(coap_opt_iter_t *it, const coap_msg_t *m);
/* Next option in number order; false at the end. */
bool coap_opt_next(coap_opt_iter_t *it, coap_opt_t *opt);
/* First option with this number; false if absent. */
bool coap_msg_find_option(const coap_msg_t *m, uint16_t num, coap_opt_t *opt);
/* True if the Uri-Path options of m are exactly the segments of path:
 * "bs", "rd", ".well-known/edhoc" (no leading slash; "" for none). */
bool coap_msg_path_is(const coap_msg_t *m, const char *path);
/* Unsigned value of a uint option (RFC 7252 §3.2); false if over 4 bytes. */
bool coap_opt_uint(const coap_opt_t *opt, uint32_t *v);
/* Minimal encoding of v into out[4]; returns its length (0 for v == 0). */
size_t coap_encode_uint(uint32_t v, uint8_t out[4]);

/* Options and payload alone (the part after the token): OSCORE plaintext
 * and similar bodies. Header fields of m are left zero. */
CS_MUST_CHECK coap_err_t coap_msg_parse_body(coap_msg_t *m, const uint8_t *body, size_t len);
/* Writes one option at out[*pos], delta-encoded against `prev`; moves *pos.
 * COAP_ERR_NO_SPACE leaves *pos unchanged. */
CS_MUST_CHECK coap_err_t coap_option_encode(uint8_t *out, size_t cap, size_t *pos, uint16_t prev,
                                            uint16_t num, const uint8_t *val, size_t len);

/* RFC 7252 §5.4.1/§5.4.5: a critical option that is unknown, has a length
 * outside its range, or repeats when it may not, is unrecognized.
 * `extra` (may be NULL) lists more numbers the application handles.
 * Returns COAP_ERR_UNKNOWN_CRITICAL and its number in *bad. */
CS_MUST_CHECK coap_err_t coap_msg_check_critical(const coap_msg_t *m, const uint16_t *extra,
                                                 size_t n_extra, uint16_t *bad);

/* ---- building ---- */

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    size_t body; /* where options start */
    coap_transport_t transport;
    uint16_t last_opt;
    bool has_payload;
    coap_err_t err; /* sticky */
} coap_builder_t;

/* Header + token. For TCP/WS, type and mid are ignored. */
void coap_builder_init(coap_builder_t *b, uint8_t *buf, size_t cap, coap_transport_t transport,
                       coap_type_t type, uint8_t code, uint16_t mid, const uint8_t *token,
                       size_t token_len);
void coap_builder_add_option(coap_builder_t *b, uint16_t num, const void *val, size_t len);
void coap_builder_add_option_uint(coap_builder_t *b, uint16_t num, uint32_t v);
/* Copies the payload; an empty payload writes no marker. */
void coap_builder_set_payload(coap_builder_t *b, const uint8_t *p, size_t len);
/* Writes the marker and returns where up to *avail payload bytes may be
 * written in place; commit the count with coap_builder_commit_payload. */
uint8_t *coap_builder_payload_space(coap_builder_t *b, size_t *avail);
void coap_builder_commit_payload(coap_builder_t *b, size_t len);
/* Completes the TCP/WS header; returns the first error or the length. The
 * message starts at buf (TCP/WS bodies are moved into place). */
CS_MUST_CHECK coap_err_t coap_builder_finish(coap_builder_t *b, size_t *len);

/* ---- Block1/Block2 (RFC 7959 §2.2) ---- */

typedef struct {
    uint32_t num;
    bool more;
    uint8_t szx; /* size = 2^(szx + 4); 7 is reserved (BERT over TCP) */
} coap_block_t;

static inline size_t coap_block_size(uint8_t szx) { return (size_t)1 << (szx + 4); }
/* false if the option is longer than 3 bytes or uses szx 7 */
bool coap_block_decode(const coap_opt_t *opt, coap_block_t *b);
uint32_t coap_block_encode(const coap_block_t *b);
/* The szx for a size of 16..1024 bytes, rounded down; 0xff if below 16. */
uint8_t coap_block_szx(size_t size);
/* The bytes block b covers of a body of `total`: *off, *len (0 past the
 * end); returns whether more blocks follow (b's M bit when sending). */
bool coap_block_slice(const coap_block_t *b, size_t total, size_t *off, size_t *len);
/* The block after `done` in blocks of at most 2^(szx + 4) bytes: the same
 * offset, renumbered when the peer asked for smaller blocks (§2.5). */
coap_block_t coap_block_after(const coap_block_t *done, uint8_t szx);

/* A body arriving block-wise (RFC 7959 §2.5), gathered in the caller's
 * buffer: each block must start where the body ends (block 0 starts it
 * afresh; a smaller block size may take over, as §2.5 lets the receiver
 * ask), and every block but the last must be full. cap bounds the body:
 * for OSCORE's outer blocks it is MAX_UNFRAGMENTED_SIZE (RFC 8613
 * §4.1.3.4.2), so a proxy cannot make an endpoint gather without end. */
typedef struct {
    uint8_t *buf;
    size_t cap, len;
    bool complete; /* the last block came */
} coap_body_t;

void coap_body_init(coap_body_t *body, uint8_t *buf, size_t cap);
/* COAP_OK, or COAP_ERR_BLOCK_SEQUENCE (answer 4.08 Request Entity
 * Incomplete), COAP_ERR_BODY_TOO_LARGE (4.13), COAP_ERR_BLOCK_SIZE; the
 * body is unchanged on error. */
CS_MUST_CHECK coap_err_t coap_body_add(coap_body_t *body, const coap_block_t *blk,
                                       const uint8_t *data, size_t len);

/* ---- option lists and URIs (for applications assembling requests) ---- */

/* Options collected in any order, written sorted (stable, so repeated
 * options keep their order). Values are copied into a caller arena. */
typedef struct {
    coap_opt_t *opts;
    size_t n, cap;
    uint8_t *arena;
    size_t used, arena_cap;
    coap_err_t err; /* sticky */
} coap_optlist_t;

void coap_optlist_init(coap_optlist_t *l, coap_opt_t *opts, size_t cap, uint8_t *arena,
                       size_t arena_cap);
void coap_optlist_add(coap_optlist_t *l, uint16_t num, const void *val, size_t len);
void coap_optlist_add_uint(coap_optlist_t *l, uint16_t num, uint32_t v);
/* Adds the options to b in number order; returns the first error. */
CS_MUST_CHECK coap_err_t coap_optlist_write(coap_optlist_t *l, coap_builder_t *b);

/* The schemes a URI may have. */
typedef enum {
    COAP_SCHEME_COAP, COAP_SCHEME_COAPS, COAP_SCHEME_COAP_TCP, COAP_SCHEME_COAPS_TCP,
    COAP_SCHEME_COAP_WS, COAP_SCHEME_COAPS_WS, COAP_SCHEME_HTTP, COAP_SCHEME_HTTPS
} coap_scheme_t;

/* coap://host:port/path?query (RFC 7252 §6). Views into the input. */
typedef struct {
    coap_scheme_t scheme_id;
    const char *scheme, *host, *path, *query;
    size_t scheme_len, host_len, path_len, query_len;
    uint16_t port;      /* explicit or the scheme's default */
    bool host_is_literal; /* IPv4 or [IPv6] */
} coap_uri_t;

/* Schemes: coap, coaps, coap+tcp, coaps+tcp, coap+ws, coaps+ws, and http,
 * https (a forward proxy's Proxy-Uri may name an HTTP resource). */
CS_MUST_CHECK coap_err_t coap_uri_parse(coap_uri_t *u, const char *uri, size_t len);
/* The default port of a scheme this parser knows (coap 5683, coaps 5684,
 * http 80...), 0 for another; and which scheme a name is (false: none). */
uint16_t coap_uri_default_port(const char *scheme, size_t len);
bool coap_scheme_lookup(const char *scheme, size_t len, coap_scheme_t *id);
/* Uri-Host (names only, §6.4 step 5), Uri-Path and Uri-Query,
 * percent-decoded. With `proxy`, the request goes to a forward proxy:
 * Proxy-Scheme, Uri-Host always, and Uri-Port unless it is the default. */
void coap_optlist_add_uri(coap_optlist_t *l, const coap_uri_t *u, bool proxy);

#endif
