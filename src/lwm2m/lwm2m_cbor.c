/* LwM2M CBOR (Content-Format 11544, Core TS 1.2 §7.4.6) and plain CBOR
 * for one value (60). LwM2M CBOR is a map whose keys are path components,
 * or arrays of them, and whose values are either such maps again or
 * resource values: {3: {0: {0: "coreseal"}}} and {[3, 0, 0]: "coreseal"}
 * say the same. The encoder writes the second, flat form (one map, a
 * whole path per key); the decoder takes any mix, at most four components
 * deep. */
#include "coreseal/lwm2m.h"

#include <string.h>

/* ---------------------------------------------------------------- values */

static void put_value(cbor_enc_t *c, const lwm2m_value_t *v)
{
    switch (v->type) {
    case LWM2M_TYPE_NONE: cbor_encode_null(c); break;
    case LWM2M_TYPE_INTEGER: cbor_encode_int(c, v->v.i); break;
    case LWM2M_TYPE_TIME:
        cbor_encode_tag(c, 1); /* epoch-based date/time */
        cbor_encode_int(c, v->v.i);
        break;
    case LWM2M_TYPE_UNSIGNED: cbor_encode_uint(c, v->v.u); break;
    case LWM2M_TYPE_FLOAT: cbor_encode_double(c, v->v.f); break;
    case LWM2M_TYPE_BOOLEAN: cbor_encode_bool(c, v->v.b); break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK: cbor_encode_tstr(c, (const char *)v->v.bytes.p, v->v.bytes.n); break;
    case LWM2M_TYPE_OPAQUE: cbor_encode_bstr(c, v->v.bytes.p, v->v.bytes.n); break;
    case LWM2M_TYPE_OBJLNK: { /* "3:0", as in text */
        uint8_t t[16];
        size_t n = 0;
        if (lwm2m_text_encode(v, t, sizeof t, &n) != LWM2M_OK)
            c->err = CBOR_ERR_TYPE;
        cbor_encode_tstr(c, (const char *)t, n);
        break;
    }
    }
}

/* A value item; entry->raw keeps its encoded bytes. */
static lwm2m_err_t get_value(cbor_dec_t *c, lwm2m_entry_t *e)
{
    cbor_item_t it;
    size_t start = c->pos;
    lwm2m_value_t *v = &e->value;
    memset(v, 0, sizeof *v);
    if (cbor_dec_next(c, &it) != CBOR_OK)
        return LWM2M_ERR_MALFORMED;
    switch (it.type) {
    case CBOR_TYPE_UINT:
        if (it.u > INT64_MAX) {
            v->type = LWM2M_TYPE_UNSIGNED;
            v->v.u = it.u;
        } else {
            v->type = LWM2M_TYPE_INTEGER;
            v->v.i = (int64_t)it.u;
        }
        break;
    case CBOR_TYPE_NEGINT:
        if (it.u > INT64_MAX)
            return LWM2M_ERR_MALFORMED;
        v->type = LWM2M_TYPE_INTEGER;
        v->v.i = -1 - (int64_t)it.u;
        break;
    case CBOR_TYPE_FLOAT:
        v->type = LWM2M_TYPE_FLOAT;
        v->v.f = it.f;
        break;
    case CBOR_TYPE_SIMPLE:
        if (it.u == 22) /* null: no value (Write-Composite's "remove") */
            break;
        if (it.u != 20 && it.u != 21)
            return LWM2M_ERR_MALFORMED;
        v->type = LWM2M_TYPE_BOOLEAN;
        v->v.b = it.u == 21;
        break;
    case CBOR_TYPE_TSTR:
    case CBOR_TYPE_BSTR:
        v->type = it.type == CBOR_TYPE_TSTR ? LWM2M_TYPE_STRING : LWM2M_TYPE_OPAQUE;
        v->v.bytes.p = it.ptr;
        v->v.bytes.n = (size_t)it.u;
        break;
    case CBOR_TYPE_TAG: {
        int64_t t;
        if (it.u != 1 || cbor_decode_int(c, &t) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        v->type = LWM2M_TYPE_TIME;
        v->v.i = t;
        break;
    }
    default: return LWM2M_ERR_MALFORMED; /* arrays as values: not LwM2M */
    }
    e->raw = c->buf + start;
    e->raw_len = c->pos - start;
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_cbor_value_encode(const lwm2m_value_t *v, uint8_t *out, size_t cap, size_t *len)
{
    if (!v || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    cbor_enc_t c;
    cbor_enc_init(&c, out, cap);
    put_value(&c, v);
    cbor_err_t e = cbor_enc_finish(&c, len);
    return e == CBOR_OK ? LWM2M_OK : e == CBOR_ERR_TYPE ? LWM2M_ERR_TYPE : LWM2M_ERR_NO_SPACE;
}

lwm2m_err_t lwm2m_cbor_value_decode(const uint8_t *in, size_t n, lwm2m_entry_t *e)
{
    if (!in || !e)
        return LWM2M_ERR_BAD_ARG;
    cbor_dec_t c;
    lwm2m_path_t keep = e->path;
    memset(e, 0, sizeof *e);
    e->path = keep;
    cbor_dec_init(&c, in, n, 0);
    lwm2m_err_t err = get_value(&c, e);
    return err != LWM2M_OK ? err : cbor_dec_done(&c) ? LWM2M_OK : LWM2M_ERR_MALFORMED;
}

/* ---------------------------------------------------------------- encoder */

void lwm2m_cbor_enc_init(lwm2m_cbor_enc_t *e, uint8_t *buf, size_t cap)
{
    memset(e, 0, sizeof *e);
    cbor_enc_init(&e->cbor, buf, cap);
    uint8_t reserve[3] = {0, 0, 0}; /* the largest map head; finish() shrinks it */
    cbor_encode_raw(&e->cbor, reserve, sizeof reserve);
}

void lwm2m_cbor_put(lwm2m_cbor_enc_t *e, const lwm2m_path_t *path, const lwm2m_value_t *v)
{
    if (e->err != LWM2M_OK)
        return;
    if (path->len == 0 || path->len > 4) {
        e->err = LWM2M_ERR_BAD_PATH;
        return;
    }
    cbor_enc_t *c = &e->cbor;
    cbor_encode_array(c, path->len);
    for (uint8_t i = 0; i < path->len; i++)
        cbor_encode_uint(c, path->ids[i]);
    put_value(c, v);
    e->count++;
    if (c->err != CBOR_OK)
        e->err = c->err == CBOR_ERR_TYPE ? LWM2M_ERR_TYPE : LWM2M_ERR_NO_SPACE;
}

lwm2m_err_t lwm2m_cbor_enc_finish(lwm2m_cbor_enc_t *e, size_t *len)
{
    if (e->err != LWM2M_OK)
        return e->err;
    if (e->count > 0xffff)
        return LWM2M_ERR_NO_SPACE;
    uint8_t head[3];
    cbor_enc_t h;
    size_t hn;
    cbor_enc_init(&h, head, sizeof head);
    cbor_encode_map(&h, e->count);
    if (cbor_enc_finish(&h, &hn) != CBOR_OK)
        return LWM2M_ERR_NO_SPACE;
    uint8_t *buf = e->cbor.buf;
    memmove(buf + hn, buf + 3, e->cbor.len - 3);
    memcpy(buf, head, hn);
    *len = e->cbor.len - 3 + hn;
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- decoder */

void lwm2m_cbor_dec_init(lwm2m_cbor_dec_t *d, const uint8_t *buf, size_t len)
{
    memset(d, 0, sizeof *d);
    cbor_dec_init(&d->cbor, buf, len, 0);
}

/* A key: one path component, or an array of them; appended to d->path. */
static lwm2m_err_t get_key(lwm2m_cbor_dec_t *d)
{
    cbor_type_t t;
    size_t n = 1;
    if (cbor_dec_peek(&d->cbor, &t) != CBOR_OK)
        return LWM2M_ERR_MALFORMED;
    if (t == CBOR_TYPE_ARRAY && (cbor_decode_array(&d->cbor, &n) != CBOR_OK || n == 0))
        return LWM2M_ERR_MALFORMED;
    if (d->path.len + n > 4)
        return LWM2M_ERR_TOO_DEEP;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (cbor_decode_uint(&d->cbor, &id) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        if (id > LWM2M_ID_MAX)
            return LWM2M_ERR_BAD_PATH;
        d->path.ids[d->path.len++] = (uint16_t)id;
    }
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_cbor_next(lwm2m_cbor_dec_t *d, lwm2m_entry_t *entry)
{
    if (!d->started) {
        size_t pairs;
        if (cbor_decode_map(&d->cbor, &pairs) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        d->remaining[0] = pairs;
        d->depth = 1;
        d->started = true;
    }
    for (;;) {
        if (d->depth == 0)
            return cbor_dec_done(&d->cbor) ? LWM2M_ERR_END : LWM2M_ERR_MALFORMED;
        if (d->remaining[d->depth - 1] == 0) { /* this map is through */
            d->depth--;
            continue;
        }
        d->remaining[d->depth - 1]--;
        d->path.len = d->base_len[d->depth - 1];
        lwm2m_err_t err = get_key(d);
        if (err != LWM2M_OK)
            return err;
        cbor_type_t t;
        if (cbor_dec_peek(&d->cbor, &t) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        if (t == CBOR_TYPE_MAP) { /* deeper: its keys continue this path */
            size_t pairs;
            if (d->depth == LWM2M_CBOR_DEPTH || cbor_decode_map(&d->cbor, &pairs) != CBOR_OK)
                return d->depth == LWM2M_CBOR_DEPTH ? LWM2M_ERR_TOO_DEEP : LWM2M_ERR_MALFORMED;
            d->remaining[d->depth] = pairs;
            d->base_len[d->depth] = d->path.len;
            d->depth++;
            continue;
        }
        memset(entry, 0, sizeof *entry);
        entry->path = d->path;
        return get_value(&d->cbor, entry);
    }
}
