/* OMA TLV (LwM2M Core TS §7.4.3): header byte with identifier type, id
 * length and length type, then id, length and value. The encoder writes
 * containers with a reserved header and closes them up at the end; the
 * decoder walks nesting with a fixed stack (instance > multiple resource >
 * resource instance). */
#include "coreseal/lwm2m.h"

#include <string.h>

enum { TLV_INSTANCE = 0, TLV_RES_INSTANCE = 1, TLV_MULTIPLE = 2, TLV_RESOURCE = 3 };
#define TLV_HEAD_MAX 6 /* type + 16-bit id + 24-bit length */

/* Header for (kind, id, length) into h; returns its size. */
static size_t tlv_head(uint8_t *h, unsigned kind, uint16_t id, size_t len)
{
    size_t n = 1;
    h[0] = (uint8_t)(kind << 6);
    if (id > 0xff) {
        h[0] |= 0x20;
        h[n++] = (uint8_t)(id >> 8);
    }
    h[n++] = (uint8_t)id;
    if (len < 8) {
        h[0] |= (uint8_t)len;
    } else if (len <= 0xff) {
        h[0] |= 0x08;
        h[n++] = (uint8_t)len;
    } else if (len <= 0xffff) {
        h[0] |= 0x10;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[0] |= 0x18;
        h[n++] = (uint8_t)(len >> 16);
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    }
    return n;
}

void lwm2m_tlv_enc_init(lwm2m_tlv_enc_t *e, uint8_t *buf, size_t cap)
{
    memset(e, 0, sizeof *e);
    e->buf = buf;
    e->cap = buf ? cap : 0;
}

static void begin(lwm2m_tlv_enc_t *e, unsigned kind, uint16_t id)
{
    if (e->err != LWM2M_OK)
        return;
    if (e->depth == LWM2M_TLV_DEPTH || (kind == TLV_INSTANCE && e->depth > 0) ||
        (kind == TLV_MULTIPLE && e->depth > 0 && e->kind[e->depth - 1] != TLV_INSTANCE)) {
        e->err = LWM2M_ERR_TOO_DEEP;
        return;
    }
    if (e->cap - e->len < TLV_HEAD_MAX) {
        e->err = LWM2M_ERR_NO_SPACE;
        return;
    }
    /* remember kind and id in the reserved bytes until end() */
    e->buf[e->len] = (uint8_t)kind;
    e->buf[e->len + 1] = (uint8_t)(id >> 8);
    e->buf[e->len + 2] = (uint8_t)id;
    e->open[e->depth] = e->len;
    e->kind[e->depth++] = (uint8_t)kind;
    e->len += TLV_HEAD_MAX;
}

void lwm2m_tlv_begin_instance(lwm2m_tlv_enc_t *e, uint16_t id) { begin(e, TLV_INSTANCE, id); }
void lwm2m_tlv_begin_multiple(lwm2m_tlv_enc_t *e, uint16_t res_id) { begin(e, TLV_MULTIPLE, res_id); }

void lwm2m_tlv_end(lwm2m_tlv_enc_t *e)
{
    if (e->err != LWM2M_OK)
        return;
    if (e->depth == 0) {
        e->err = LWM2M_ERR_BAD_ARG;
        return;
    }
    size_t at = e->open[--e->depth];
    unsigned kind = e->buf[at];
    uint16_t id = (uint16_t)(e->buf[at + 1] << 8 | e->buf[at + 2]);
    size_t body = e->len - at - TLV_HEAD_MAX;
    uint8_t h[TLV_HEAD_MAX];
    size_t hn = tlv_head(h, kind, id, body);
    memmove(e->buf + at + hn, e->buf + at + TLV_HEAD_MAX, body);
    memcpy(e->buf + at, h, hn);
    e->len = at + hn + body;
}

void lwm2m_tlv_put(lwm2m_tlv_enc_t *e, uint16_t id, const lwm2m_value_t *v)
{
    if (e->err != LWM2M_OK)
        return;
    uint8_t tmp[8];
    const uint8_t *val = tmp;
    size_t n = 0;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME: {
        int64_t x = v->v.i;
        n = (x >= -128 && x <= 127) ? 1 : (x >= -32768 && x <= 32767) ? 2
            : (x >= INT32_MIN && x <= INT32_MAX) ? 4 : 8;
        for (size_t i = 0; i < n; i++)
            tmp[i] = (uint8_t)((uint64_t)x >> (8 * (n - 1 - i)));
        break;
    }
    case LWM2M_TYPE_UNSIGNED: {
        uint64_t x = v->v.u;
        n = x <= 0xff ? 1 : x <= 0xffff ? 2 : x <= 0xffffffffu ? 4 : 8;
        for (size_t i = 0; i < n; i++)
            tmp[i] = (uint8_t)(x >> (8 * (n - 1 - i)));
        break;
    }
    case LWM2M_TYPE_FLOAT: { /* always 8 bytes: exact, and no float math */
        uint64_t bits;
        memcpy(&bits, &v->v.f, sizeof bits);
        n = 8;
        for (size_t i = 0; i < n; i++)
            tmp[i] = (uint8_t)(bits >> (8 * (7 - i)));
        break;
    }
    case LWM2M_TYPE_BOOLEAN:
        tmp[0] = v->v.b ? 1 : 0;
        n = 1;
        break;
    case LWM2M_TYPE_OBJLNK:
        tmp[0] = (uint8_t)(v->v.lnk.obj >> 8);
        tmp[1] = (uint8_t)v->v.lnk.obj;
        tmp[2] = (uint8_t)(v->v.lnk.inst >> 8);
        tmp[3] = (uint8_t)v->v.lnk.inst;
        n = 4;
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        val = v->v.bytes.p;
        n = v->v.bytes.n;
        if (n && !val) {
            e->err = LWM2M_ERR_BAD_ARG;
            return;
        }
        break;
    default: e->err = LWM2M_ERR_TYPE; return;
    }
    if (n > 0xffffff) {
        e->err = LWM2M_ERR_NO_SPACE;
        return;
    }
    bool in_multiple = e->depth && e->kind[e->depth - 1] == TLV_MULTIPLE;
    uint8_t h[TLV_HEAD_MAX];
    size_t hn = tlv_head(h, in_multiple ? TLV_RES_INSTANCE : TLV_RESOURCE, id, n);
    if (hn + n > e->cap - e->len) {
        e->err = LWM2M_ERR_NO_SPACE;
        return;
    }
    memcpy(e->buf + e->len, h, hn);
    if (n)
        memcpy(e->buf + e->len + hn, val, n);
    e->len += hn + n;
}

lwm2m_err_t lwm2m_tlv_enc_finish(lwm2m_tlv_enc_t *e, size_t *len)
{
    if (e->err != LWM2M_OK)
        return e->err;
    if (e->depth)
        return LWM2M_ERR_BAD_ARG; /* a container left open */
    *len = e->len;
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- decoder */

void lwm2m_tlv_dec_init(lwm2m_tlv_dec_t *d, const uint8_t *buf, size_t len,
                        const lwm2m_path_t *base)
{
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->len = buf ? len : 0;
    if (base)
        d->base = *base;
}

/* Path level of a TLV kind: instance 1, resource 2, resource instance 3. */
static uint8_t level_of(unsigned kind)
{
    return kind == TLV_INSTANCE ? 1 : kind == TLV_RES_INSTANCE ? 3 : 2;
}

lwm2m_err_t lwm2m_tlv_next(lwm2m_tlv_dec_t *d, lwm2m_entry_t *entry)
{
    for (;;) {
        while (d->depth && d->pos == d->end[d->depth - 1])
            d->depth--;
        size_t limit = d->depth ? d->end[d->depth - 1] : d->len;
        if (d->pos >= limit)
            return d->pos == d->len ? LWM2M_ERR_END : LWM2M_ERR_MALFORMED;
        const uint8_t *p = d->buf + d->pos;
        size_t avail = limit - d->pos;
        unsigned kind = p[0] >> 6, ltype = (p[0] >> 3) & 3;
        size_t idn = (p[0] & 0x20) ? 2 : 1, hn = 1 + idn + ltype;
        if (hn > avail)
            return LWM2M_ERR_MALFORMED;
        uint16_t id = idn == 2 ? (uint16_t)(p[1] << 8 | p[2]) : p[1];
        size_t len = ltype ? 0 : (p[0] & 7);
        for (size_t i = 0; i < ltype; i++)
            len = len << 8 | p[1 + idn + i];
        if (len > avail - hn || id > LWM2M_ID_MAX)
            return LWM2M_ERR_MALFORMED;
        /* nesting must follow instance > multiple > resource instance, and a
         * top-level TLV sits right below the request path, or repeats it */
        uint8_t level = level_of(kind);
        bool container = kind == TLV_INSTANCE || kind == TLV_MULTIPLE;
        bool ok;
        if (d->depth)
            ok = level == level_of(d->kind[d->depth - 1]) + 1 &&
                 (kind != TLV_RES_INSTANCE || d->kind[d->depth - 1] == TLV_MULTIPLE);
        else
            ok = level == d->base.len ||
                 (level < d->base.len && container && d->base.ids[level] == id);
        if (!ok)
            return LWM2M_ERR_MALFORMED;
        d->pos += hn;
        if (kind == TLV_INSTANCE || kind == TLV_MULTIPLE) {
            if (d->depth == LWM2M_TLV_DEPTH)
                return LWM2M_ERR_TOO_DEEP;
            d->end[d->depth] = d->pos + len;
            d->id[d->depth] = id;
            d->kind[d->depth++] = (uint8_t)kind;
            continue;
        }
        memset(entry, 0, sizeof *entry);
        entry->path = d->base;
        for (uint8_t i = 0; i < d->depth; i++)
            entry->path.ids[level_of(d->kind[i])] = d->id[i];
        entry->path.ids[level] = id;
        entry->path.len = (uint8_t)(level + 1);
        entry->raw = d->buf + d->pos;
        entry->raw_len = len;
        entry->value.type = LWM2M_TYPE_NONE;
        d->pos += len;
        return LWM2M_OK;
    }
}
