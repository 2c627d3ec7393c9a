/* coreseal/cbor.h: deterministic CBOR (RFC 8949) over caller buffers.
 *
 * Encoder: writes the shortest ("deterministic", §4.2.1) form of every head.
 * Errors are sticky inside one encoder, so a sequence of encode calls can be
 * checked once with cbor_enc_finish().
 *
 * Decoder: a bounded pull parser. Every item is checked against the input
 * length before it is touched; indefinite lengths, reserved additional
 * information values, non-shortest heads (unless allowed) and nesting deeper
 * than CBOR_MAX_DEPTH are each rejected with their own code. */
#ifndef CORESEAL_CBOR_H
#define CORESEAL_CBOR_H

#include "coreseal/common.h"

typedef enum {
    CBOR_OK = 0,
    CBOR_ERR_BAD_ARG = CS_ERR_RANGE_CBOR | 0x01,
    CBOR_ERR_TRUNCATED,     /* input ends inside an item */
    CBOR_ERR_INDEFINITE,    /* indefinite length or break byte */
    CBOR_ERR_NOT_SHORTEST,  /* head not in its shortest form */
    CBOR_ERR_RESERVED,      /* additional information 28..30 */
    CBOR_ERR_TOO_DEEP,      /* nesting beyond CBOR_MAX_DEPTH */
    CBOR_ERR_TYPE,          /* item is not of the expected type */
    CBOR_ERR_NO_SPACE,      /* encoder buffer too small */
    CBOR_ERR_OVERFLOW,      /* integer does not fit the C type asked for */
    CBOR_ERR_BAD_SIMPLE,    /* simple value 24..31 in two-byte form */
    CBOR_ERR_TRAILING,      /* bytes left after the expected item(s) */
    CBOR_ERR_END,           /* no item left to read */
} cbor_err_t;

#define CBOR_MAX_DEPTH 16

/* ---- encoder ---- */

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    cbor_err_t err; /* first error; later calls do nothing */
} cbor_enc_t;

void cbor_enc_init(cbor_enc_t *e, uint8_t *buf, size_t cap);
/* Returns the first error of the sequence, or CBOR_OK and *len. */
CS_MUST_CHECK cbor_err_t cbor_enc_finish(const cbor_enc_t *e, size_t *len);

void cbor_encode_uint(cbor_enc_t *e, uint64_t v);
void cbor_encode_int(cbor_enc_t *e, int64_t v);
void cbor_encode_bstr(cbor_enc_t *e, const uint8_t *p, size_t n);
void cbor_encode_tstr(cbor_enc_t *e, const char *s, size_t n);
/* Heads alone, for items whose content the caller writes next. */
void cbor_encode_bstr_head(cbor_enc_t *e, size_t n);
void cbor_encode_array(cbor_enc_t *e, size_t count);
void cbor_encode_map(cbor_enc_t *e, size_t pairs);
void cbor_encode_tag(cbor_enc_t *e, uint64_t tag);
void cbor_encode_bool(cbor_enc_t *e, bool v);
void cbor_encode_null(cbor_enc_t *e);
/* Shortest of half/single/double that keeps the value (RFC 8949 §4.2.2). */
void cbor_encode_double(cbor_enc_t *e, double v);
/* Already-encoded CBOR (e.g. a credential) copied as it is. */
void cbor_encode_raw(cbor_enc_t *e, const uint8_t *p, size_t n);

/* Size of the head for a length/value v: 1, 2, 3, 5 or 9 bytes. */
size_t cbor_head_size(uint64_t v);

/* ---- decoder ---- */

typedef enum {
    CBOR_TYPE_UINT,
    CBOR_TYPE_NEGINT, /* value is -1 - item.u */
    CBOR_TYPE_BSTR,
    CBOR_TYPE_TSTR,
    CBOR_TYPE_ARRAY,
    CBOR_TYPE_MAP,
    CBOR_TYPE_TAG,
    CBOR_TYPE_SIMPLE, /* false 20, true 21, null 22, undefined 23, others */
    CBOR_TYPE_FLOAT,
} cbor_type_t;

typedef struct {
    cbor_type_t type;
    uint64_t u;         /* uint, -1-negint, length, count, tag or simple */
    double f;           /* CBOR_TYPE_FLOAT */
    const uint8_t *ptr; /* string content (BSTR/TSTR), inside the input */
} cbor_item_t;

/* Accept heads that are longer than needed (RFC 9528 §9.8 lets EDHOC
 * receivers be lenient; OSCORE and COSE structures are always strict). */
#define CBOR_DEC_ALLOW_NON_SHORTEST 0x01u

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    size_t err_off;
    unsigned flags;
} cbor_dec_t;

void cbor_dec_init(cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags);
/* Byte offset at which the last error was found. */
size_t cbor_dec_error_offset(const cbor_dec_t *d);
bool cbor_dec_done(const cbor_dec_t *d);
/* Type of the next item without consuming it. */
CS_MUST_CHECK cbor_err_t cbor_dec_peek(cbor_dec_t *d, cbor_type_t *type);
/* One head (strings: head and content). Arrays/maps/tags: only the head; the
 * contained items follow. On error the position does not move. */
CS_MUST_CHECK cbor_err_t cbor_dec_next(cbor_dec_t *d, cbor_item_t *item);
/* The whole next item, nested content included, bounded by CBOR_MAX_DEPTH.
 * start and n (each may be NULL) receive its encoded bytes. */
CS_MUST_CHECK cbor_err_t cbor_dec_skip(cbor_dec_t *d, const uint8_t **start, size_t *n);
/* Checks that buf holds exactly `count` well-formed items. */
CS_MUST_CHECK cbor_err_t cbor_check_sequence(const uint8_t *buf, size_t len, size_t count,
                                             unsigned flags);

/* Typed reads: CBOR_ERR_TYPE (and no progress) if the item differs. */
CS_MUST_CHECK cbor_err_t cbor_decode_uint(cbor_dec_t *d, uint64_t *v);
CS_MUST_CHECK cbor_err_t cbor_decode_int(cbor_dec_t *d, int64_t *v);
CS_MUST_CHECK cbor_err_t cbor_decode_bstr(cbor_dec_t *d, const uint8_t **p, size_t *n);
CS_MUST_CHECK cbor_err_t cbor_decode_tstr(cbor_dec_t *d, const char **s, size_t *n);
CS_MUST_CHECK cbor_err_t cbor_decode_array(cbor_dec_t *d, size_t *count);
CS_MUST_CHECK cbor_err_t cbor_decode_map(cbor_dec_t *d, size_t *pairs);
CS_MUST_CHECK cbor_err_t cbor_decode_tag(cbor_dec_t *d, uint64_t *tag);
CS_MUST_CHECK cbor_err_t cbor_decode_bool(cbor_dec_t *d, bool *v);
CS_MUST_CHECK cbor_err_t cbor_decode_null(cbor_dec_t *d);
CS_MUST_CHECK cbor_err_t cbor_decode_double(cbor_dec_t *d, double *v);

#endif
