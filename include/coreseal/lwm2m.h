/* coreseal/lwm2m.h: the LwM2M data layer, sans-I/O and without allocation:
 * paths, typed values, and the content formats a client and a server
 * exchange: plain text (0), opaque (42), OMA TLV (11542), SenML CBOR (112,
 * RFC 8428 §6 with the LwM2M "vlo" object link), SenML JSON (110), LwM2M CBOR (11544), CBOR
 * for one value (60), and CoRE Link Format (40) for Register and Discover.
 * (OMA LwM2M Core TS 1.2 §7.4.)
 *
 * Decoders yield (path, value) entries one at a time; TLV carries no types,
 * so its entries hold raw bytes that lwm2m_value_from_raw() types with the
 * object model's resource type. Encoders keep a sticky error like the CBOR
 * encoder: check once at finish. */
#ifndef CORESEAL_LWM2M_H
#define CORESEAL_LWM2M_H

#include "coreseal/cbor.h"
#include "coreseal/coap.h"

typedef enum {
    LWM2M_OK = 0,
    LWM2M_ERR_BAD_ARG = CS_ERR_RANGE_LWM2M | 0x01,
    LWM2M_ERR_BAD_PATH,     /* not /obj[/inst[/res[/ri]]] with ids 0..65534 */
    LWM2M_ERR_MALFORMED,    /* payload not of its content format */
    LWM2M_ERR_NO_SPACE,     /* output buffer too small */
    LWM2M_ERR_TYPE,         /* value cannot be read as the type asked for */
    LWM2M_ERR_END,          /* no more entries */
    LWM2M_ERR_TOO_DEEP,     /* TLV nesting beyond instance/resource/instance */
    LWM2M_ERR_UNSUPPORTED,  /* content format not handled here */
    LWM2M_ERR_FULL,         /* registry: no free client record */
    LWM2M_ERR_EXISTS,       /* registry: that OSCORE context is already provisioned */
    LWM2M_ERR_ENDPOINT_TAKEN,    /* registry: another OSCORE client owns the name */
    LWM2M_ERR_ENDPOINT_MISMATCH, /* registry: ep is not the OSCORE client's own name */
    LWM2M_ERR_TOO_LARGE,    /* registry: endpoint name or object list too long to keep */
    LWM2M_ERR_ACCESS,       /* Access Control (object 2) does not let this server do that */
} lwm2m_err_t;

enum {
    LWM2M_CF_TEXT = 0,
    LWM2M_CF_LINK = 40,
    LWM2M_CF_OPAQUE = 42,
    LWM2M_CF_CBOR = 60,
    LWM2M_CF_SENML_JSON = 110,
    LWM2M_CF_SENML_CBOR = 112,
    LWM2M_CF_TLV = 11542,
    LWM2M_CF_OMA_JSON = 11543,
    LWM2M_CF_LWM2M_CBOR = 11544,
};

#define LWM2M_ID_MAX 65534

/* /obj/inst/res/ri; `len` levels are set (0 = root). */
typedef struct {
    uint16_t ids[4];
    uint8_t len;
} lwm2m_path_t;

CS_MUST_CHECK lwm2m_err_t lwm2m_path_parse(lwm2m_path_t *p, const char *s, size_t n);
/* From the Uri-Path options of a request. */
CS_MUST_CHECK lwm2m_err_t lwm2m_path_from_msg(lwm2m_path_t *p, const coap_msg_t *m);
/* "/3/0/1"; returns the length written (without NUL), 0 if cap is short. */
size_t lwm2m_path_format(const lwm2m_path_t *p, char *out, size_t cap);
/* True if p equals prefix or lies below it. */
bool lwm2m_path_within(const lwm2m_path_t *p, const lwm2m_path_t *prefix);

typedef enum {
    LWM2M_TYPE_NONE,
    LWM2M_TYPE_INTEGER,
    LWM2M_TYPE_UNSIGNED,
    LWM2M_TYPE_FLOAT,
    LWM2M_TYPE_BOOLEAN,
    LWM2M_TYPE_STRING,
    LWM2M_TYPE_OPAQUE,
    LWM2M_TYPE_TIME,
    LWM2M_TYPE_OBJLNK,
    LWM2M_TYPE_CORELNK,
} lwm2m_type_t;

typedef struct {
    lwm2m_type_t type;
    union {
        int64_t i; /* INTEGER, TIME */
        uint64_t u;
        double f;
        bool b;
        struct {
            const uint8_t *p;
            size_t n;
        } bytes; /* STRING, OPAQUE, CORELNK */
        struct {
            uint16_t obj, inst;
        } lnk;
    } v;
} lwm2m_value_t;

/* One decoded (path, value). For TLV the value is untyped: raw/raw_len. */
typedef struct {
    lwm2m_path_t path;
    lwm2m_value_t value;
    const uint8_t *raw;
    size_t raw_len;
    bool has_time;
    double time;
} lwm2m_entry_t;

/* Types raw TLV (or opaque) bytes as `type` (LwM2M TS §C.7). */
CS_MUST_CHECK lwm2m_err_t lwm2m_value_from_raw(const uint8_t *raw, size_t n, lwm2m_type_t type,
                                               lwm2m_value_t *v);

/* ---- plain text (one value) ---- */
CS_MUST_CHECK lwm2m_err_t lwm2m_text_encode(const lwm2m_value_t *v, uint8_t *out, size_t cap,
                                            size_t *len);
CS_MUST_CHECK lwm2m_err_t lwm2m_text_decode(const uint8_t *in, size_t n, lwm2m_type_t type,
                                            lwm2m_value_t *v);

/* ---- OMA TLV ---- */
#define LWM2M_TLV_DEPTH 3

typedef struct {
    uint8_t *buf;
    size_t cap, len;
    size_t open[LWM2M_TLV_DEPTH]; /* header positions of open containers */
    uint8_t kind[LWM2M_TLV_DEPTH];
    uint8_t depth;
    lwm2m_err_t err;
} lwm2m_tlv_enc_t;

void lwm2m_tlv_enc_init(lwm2m_tlv_enc_t *e, uint8_t *buf, size_t cap);
/* Containers: an object instance, or a multiple resource. */
void lwm2m_tlv_begin_instance(lwm2m_tlv_enc_t *e, uint16_t id);
void lwm2m_tlv_begin_multiple(lwm2m_tlv_enc_t *e, uint16_t res_id);
void lwm2m_tlv_end(lwm2m_tlv_enc_t *e);
/* A resource (or, inside a multiple resource, a resource instance). */
void lwm2m_tlv_put(lwm2m_tlv_enc_t *e, uint16_t id, const lwm2m_value_t *v);
CS_MUST_CHECK lwm2m_err_t lwm2m_tlv_enc_finish(lwm2m_tlv_enc_t *e, size_t *len);

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    lwm2m_path_t base;
    size_t end[LWM2M_TLV_DEPTH];
    uint16_t id[LWM2M_TLV_DEPTH];
    uint8_t kind[LWM2M_TLV_DEPTH];
    uint8_t depth;
} lwm2m_tlv_dec_t;

/* base: the request path (e.g. /3 for an object-level payload). */
void lwm2m_tlv_dec_init(lwm2m_tlv_dec_t *d, const uint8_t *buf, size_t len,
                        const lwm2m_path_t *base);
/* Next resource value with its full path; LWM2M_ERR_END when done. */
CS_MUST_CHECK lwm2m_err_t lwm2m_tlv_next(lwm2m_tlv_dec_t *d, lwm2m_entry_t *entry);

/* ---- SenML CBOR ---- */
typedef struct {
    cbor_enc_t cbor;
    size_t count;
    lwm2m_err_t err;
} lwm2m_senml_enc_t;

/* Records carry full paths as names (no base name). */
void lwm2m_senml_enc_init(lwm2m_senml_enc_t *e, uint8_t *buf, size_t cap);
void lwm2m_senml_put(lwm2m_senml_enc_t *e, const lwm2m_path_t *path, const lwm2m_value_t *v);
CS_MUST_CHECK lwm2m_err_t lwm2m_senml_enc_finish(lwm2m_senml_enc_t *e, size_t *len);

typedef struct {
    cbor_dec_t cbor;
    size_t remaining;
    char base_name[64];
    size_t base_len;
    double base_time;
    bool started;
} lwm2m_senml_dec_t;

void lwm2m_senml_dec_init(lwm2m_senml_dec_t *d, const uint8_t *buf, size_t len);
/* Values keep their SenML type: numbers as INTEGER or FLOAT, vs STRING,
 * vb BOOLEAN, vd OPAQUE, vlo OBJLNK. A record without value (Read-Composite
 * requests) has type NONE. */
CS_MUST_CHECK lwm2m_err_t lwm2m_senml_next(lwm2m_senml_dec_t *d, lwm2m_entry_t *entry);

/* ---- SenML JSON (110) ----
 * Records named by full paths; "vd" in base64url without padding (either
 * alphabet, padding or not, when decoding). Strings come unescaped into the
 * decoder's buffers: an entry's bytes stay valid until the next call. */
typedef struct {
    uint8_t *buf;
    size_t cap, len, count;
    lwm2m_err_t err;
} lwm2m_senml_json_enc_t;

void lwm2m_senml_json_enc_init(lwm2m_senml_json_enc_t *e, uint8_t *buf, size_t cap);
void lwm2m_senml_json_put(lwm2m_senml_json_enc_t *e, const lwm2m_path_t *path, const lwm2m_value_t *v);
CS_MUST_CHECK lwm2m_err_t lwm2m_senml_json_enc_finish(lwm2m_senml_json_enc_t *e, size_t *len);

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    char base_name[64];
    size_t base_len;
    double base_time;
    bool started, ended;
    uint8_t value[256]; /* the current record's string or data value */
} lwm2m_senml_json_dec_t;

void lwm2m_senml_json_dec_init(lwm2m_senml_json_dec_t *d, const uint8_t *buf, size_t len);
CS_MUST_CHECK lwm2m_err_t lwm2m_senml_json_next(lwm2m_senml_json_dec_t *d, lwm2m_entry_t *entry);

/* ---- LwM2M CBOR (11544, Core TS 1.2 §7.4.6) and CBOR (60) ----
 * A map keyed by path components or arrays of them, nested or not:
 * {3: {0: {0: "x"}}} and {[3, 0, 0]: "x"}. The encoder writes the flat
 * form with whole paths; the decoder takes any mix. Values: integers
 * (INTEGER, or UNSIGNED above INT64_MAX), floats, booleans, text (STRING;
 * object links as "3:0"), byte strings (OPAQUE), tag 1 (TIME), null (NONE). */
#define LWM2M_CBOR_DEPTH 5 /* the root map and one per path component */

typedef struct {
    cbor_enc_t cbor;
    size_t count;
    lwm2m_err_t err;
} lwm2m_cbor_enc_t;

void lwm2m_cbor_enc_init(lwm2m_cbor_enc_t *e, uint8_t *buf, size_t cap);
void lwm2m_cbor_put(lwm2m_cbor_enc_t *e, const lwm2m_path_t *path, const lwm2m_value_t *v);
CS_MUST_CHECK lwm2m_err_t lwm2m_cbor_enc_finish(lwm2m_cbor_enc_t *e, size_t *len);

typedef struct {
    cbor_dec_t cbor;
    lwm2m_path_t path;
    size_t remaining[LWM2M_CBOR_DEPTH]; /* pairs left in each open map */
    uint8_t base_len[LWM2M_CBOR_DEPTH]; /* path length its keys extend */
    uint8_t depth;
    bool started;
} lwm2m_cbor_dec_t;

void lwm2m_cbor_dec_init(lwm2m_cbor_dec_t *d, const uint8_t *buf, size_t len);
/* Next (path, value); LWM2M_ERR_END when done, LWM2M_ERR_TOO_DEEP past
 * four components, LWM2M_ERR_BAD_PATH for an id over 65534. */
CS_MUST_CHECK lwm2m_err_t lwm2m_cbor_next(lwm2m_cbor_dec_t *d, lwm2m_entry_t *entry);

/* One value as a single CBOR item (60), and back (entry->path is kept). */
CS_MUST_CHECK lwm2m_err_t lwm2m_cbor_value_encode(const lwm2m_value_t *v, uint8_t *out, size_t cap,
                                                  size_t *len);
CS_MUST_CHECK lwm2m_err_t lwm2m_cbor_value_decode(const uint8_t *in, size_t n, lwm2m_entry_t *e);

/* ---- CoRE Link Format (RFC 6690) for Register / Discover ---- */
typedef struct {
    lwm2m_path_t path;
    const char *attrs; /* ";ver=2.0;..." after the target, not NUL-terminated */
    size_t attrs_len;
} lwm2m_link_t;

/* Appends "</1/0>" (with attrs if any, e.g. ";ver=2.0") separated by ','.
 * Returns the new length or 0 when cap is too small. */
size_t lwm2m_link_append(uint8_t *out, size_t cap, size_t len, const lwm2m_path_t *p,
                         const char *attrs);
typedef struct {
    const char *p, *end;
} lwm2m_link_dec_t;
void lwm2m_link_dec_init(lwm2m_link_dec_t *d, const uint8_t *buf, size_t len);
/* Next <target> that is an LwM2M path; others (e.g. "</>;rt=...") are skipped. */
CS_MUST_CHECK lwm2m_err_t lwm2m_link_next(lwm2m_link_dec_t *d, lwm2m_link_t *link);

#endif
