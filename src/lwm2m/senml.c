/* SenML CBOR (RFC 8428 §6, LwM2M Core TS §7.4.5): an array of records
 * with integer labels (bn -2, bt -3, n 0, v 2, vs 3, vb 4, t 6, vd 8) and
 * the LwM2M object link "vlo". The encoder names every record by its full
 * path (no base name), which every SenML reader accepts. */
#include "coreseal/lwm2m.h"

#include <string.h>

enum { SENML_BN = -2, SENML_BT = -3, SENML_N = 0, SENML_V = 2, SENML_VS = 3, SENML_VB = 4,
       SENML_T = 6, SENML_VD = 8 };

void lwm2m_senml_enc_init(lwm2m_senml_enc_t *e, uint8_t *buf, size_t cap)
{
    memset(e, 0, sizeof *e);
    cbor_enc_init(&e->cbor, buf, cap);
    /* room for the largest array head; finish() shrinks it */
    uint8_t reserve[3] = {0, 0, 0};
    cbor_encode_raw(&e->cbor, reserve, sizeof reserve);
}

/* "3:0", the text form of an object link */
static size_t objlnk_text(const lwm2m_value_t *v, char *out)
{
    lwm2m_value_t t = *v;
    size_t n;
    return lwm2m_text_encode(&t, (uint8_t *)out, 16, &n) == LWM2M_OK ? n : 0;
}

void lwm2m_senml_put(lwm2m_senml_enc_t *e, const lwm2m_path_t *path, const lwm2m_value_t *v)
{
    if (e->err != LWM2M_OK)
        return;
    char name[32], lnk[16];
    size_t nl = lwm2m_path_format(path, name, sizeof name);
    if (nl == 0) {
        e->err = LWM2M_ERR_BAD_PATH;
        return;
    }
    cbor_enc_t *c = &e->cbor;
    /* labels in deterministic order: n, value label, then "vlo" */
    cbor_encode_map(c, v->type == LWM2M_TYPE_NONE ? 1 : 2);
    cbor_encode_int(c, SENML_N);
    cbor_encode_tstr(c, name, nl);
    switch (v->type) {
    case LWM2M_TYPE_NONE: break;
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        cbor_encode_int(c, SENML_V);
        cbor_encode_int(c, v->v.i);
        break;
    case LWM2M_TYPE_UNSIGNED:
        cbor_encode_int(c, SENML_V);
        cbor_encode_uint(c, v->v.u);
        break;
    case LWM2M_TYPE_FLOAT:
        cbor_encode_int(c, SENML_V);
        cbor_encode_double(c, v->v.f);
        break;
    case LWM2M_TYPE_BOOLEAN:
        cbor_encode_int(c, SENML_VB);
        cbor_encode_bool(c, v->v.b);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        cbor_encode_int(c, SENML_VS);
        cbor_encode_tstr(c, (const char *)v->v.bytes.p, v->v.bytes.n);
        break;
    case LWM2M_TYPE_OPAQUE:
        cbor_encode_int(c, SENML_VD);
        cbor_encode_bstr(c, v->v.bytes.p, v->v.bytes.n);
        break;
    case LWM2M_TYPE_OBJLNK: {
        size_t ln = objlnk_text(v, lnk);
        cbor_encode_tstr(c, "vlo", 3);
        cbor_encode_tstr(c, lnk, ln);
        break;
    }
    }
    e->count++;
    if (e->cbor.err != CBOR_OK)
        e->err = LWM2M_ERR_NO_SPACE;
}

lwm2m_err_t lwm2m_senml_enc_finish(lwm2m_senml_enc_t *e, size_t *len)
{
    if (e->err != LWM2M_OK)
        return e->err;
    if (e->count > 0xffff)
        return LWM2M_ERR_NO_SPACE;
    uint8_t head[3];
    cbor_enc_t h;
    size_t hn;
    cbor_enc_init(&h, head, sizeof head);
    cbor_encode_array(&h, e->count);
    if (cbor_enc_finish(&h, &hn) != CBOR_OK)
        return LWM2M_ERR_NO_SPACE;
    uint8_t *buf = e->cbor.buf;
    memmove(buf + hn, buf + 3, e->cbor.len - 3);
    memcpy(buf, head, hn);
    *len = e->cbor.len - 3 + hn;
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- decoder */

void lwm2m_senml_dec_init(lwm2m_senml_dec_t *d, const uint8_t *buf, size_t len)
{
    memset(d, 0, sizeof *d);
    cbor_dec_init(&d->cbor, buf, len, 0);
}

static bool read_number(cbor_dec_t *c, lwm2m_value_t *v)
{
    cbor_type_t t;
    if (cbor_dec_peek(c, &t) != CBOR_OK)
        return false;
    if (t == CBOR_TYPE_FLOAT) {
        v->type = LWM2M_TYPE_FLOAT;
        return cbor_decode_double(c, &v->v.f) == CBOR_OK;
    }
    if (t == CBOR_TYPE_UINT) {
        uint64_t u;
        if (cbor_decode_uint(c, &u) != CBOR_OK)
            return false;
        if (u > INT64_MAX) {
            v->type = LWM2M_TYPE_UNSIGNED;
            v->v.u = u;
        } else {
            v->type = LWM2M_TYPE_INTEGER;
            v->v.i = (int64_t)u;
        }
        return true;
    }
    v->type = LWM2M_TYPE_INTEGER;
    return t == CBOR_TYPE_NEGINT && cbor_decode_int(c, &v->v.i) == CBOR_OK;
}

static bool read_time(cbor_dec_t *c, double *t)
{
    lwm2m_value_t v;
    if (!read_number(c, &v))
        return false;
    *t = v.type == LWM2M_TYPE_FLOAT ? v.v.f : v.type == LWM2M_TYPE_INTEGER ? (double)v.v.i
                                                                          : (double)v.v.u;
    return true;
}

lwm2m_err_t lwm2m_senml_next(lwm2m_senml_dec_t *d, lwm2m_entry_t *entry)
{
    cbor_dec_t *c = &d->cbor;
    if (!d->started) {
        if (cbor_decode_array(c, &d->remaining) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        d->started = true;
    }
    if (d->remaining == 0)
        return cbor_dec_done(c) ? LWM2M_ERR_END : LWM2M_ERR_MALFORMED;
    d->remaining--;
    size_t pairs;
    if (cbor_decode_map(c, &pairs) != CBOR_OK)
        return LWM2M_ERR_MALFORMED;
    memset(entry, 0, sizeof *entry);
    const char *name = NULL;
    size_t name_len = 0;
    bool have_value = false, have_t = false;
    double t = 0;
    for (size_t i = 0; i < pairs; i++) {
        int64_t label;
        cbor_type_t kt;
        if (cbor_dec_peek(c, &kt) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        if (kt == CBOR_TYPE_TSTR) {
            const char *k;
            size_t kl;
            if (cbor_decode_tstr(c, &k, &kl) != CBOR_OK)
                return LWM2M_ERR_MALFORMED;
            if (kl == 3 && !memcmp(k, "vlo", 3)) {
                const char *s;
                size_t sl;
                if (have_value || cbor_decode_tstr(c, &s, &sl) != CBOR_OK ||
                    lwm2m_text_decode((const uint8_t *)s, sl, LWM2M_TYPE_OBJLNK, &entry->value) !=
                        LWM2M_OK)
                    return LWM2M_ERR_MALFORMED;
                have_value = true;
            } else if (cbor_dec_skip(c, NULL, NULL) != CBOR_OK) {
                return LWM2M_ERR_MALFORMED;
            }
            continue;
        }
        if (cbor_decode_int(c, &label) != CBOR_OK)
            return LWM2M_ERR_MALFORMED;
        bool ok = true;
        const char *s = NULL;
        size_t sl = 0;
        switch (label) {
        case SENML_BN:
            ok = cbor_decode_tstr(c, &s, &sl) == CBOR_OK && sl < sizeof d->base_name;
            if (ok) {
                memcpy(d->base_name, s, sl);
                d->base_len = sl;
            }
            break;
        case SENML_BT: ok = read_time(c, &d->base_time); break;
        case SENML_N: ok = cbor_decode_tstr(c, &name, &name_len) == CBOR_OK; break;
        case SENML_T:
            ok = read_time(c, &t);
            have_t = true;
            break;
        case SENML_V:
            ok = !have_value && read_number(c, &entry->value);
            have_value = true;
            break;
        case SENML_VS:
            ok = !have_value && cbor_decode_tstr(c, &s, &sl) == CBOR_OK;
            entry->value.type = LWM2M_TYPE_STRING;
            entry->value.v.bytes.p = (const uint8_t *)s;
            entry->value.v.bytes.n = sl;
            have_value = true;
            break;
        case SENML_VB:
            ok = !have_value && cbor_decode_bool(c, &entry->value.v.b) == CBOR_OK;
            entry->value.type = LWM2M_TYPE_BOOLEAN;
            have_value = true;
            break;
        case SENML_VD:
            ok = !have_value &&
                 cbor_decode_bstr(c, &entry->value.v.bytes.p, &entry->value.v.bytes.n) == CBOR_OK;
            entry->value.type = LWM2M_TYPE_OPAQUE;
            have_value = true;
            break;
        default: ok = cbor_dec_skip(c, NULL, NULL) == CBOR_OK; /* unit, sum, ... */
        }
        if (!ok)
            return LWM2M_ERR_MALFORMED;
    }
    /* name = bn || n (RFC 8428 §4.5.1) */
    char full[64];
    if (d->base_len + name_len >= sizeof full)
        return LWM2M_ERR_BAD_PATH;
    memcpy(full, d->base_name, d->base_len);
    if (name_len)
        memcpy(full + d->base_len, name, name_len);
    if (lwm2m_path_parse(&entry->path, full, d->base_len + name_len) != LWM2M_OK)
        return LWM2M_ERR_BAD_PATH;
    if (have_t || d->base_time != 0) {
        entry->has_time = true;
        entry->time = d->base_time + t;
    }
    return LWM2M_OK;
}
