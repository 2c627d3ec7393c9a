/* LwM2M paths, typed values, plain text and CoRE Link Format (OMA LwM2M
 * Core TS §7.4.1, §7.4.2, §C.7; RFC 6690). No stdio: numbers are formatted
 * and parsed here, doubles to 15 significant digits. */
#include "coreseal/lwm2m.h"

#include <string.h>

/* ---------------------------------------------------------------- paths */

static bool parse_id(const char *s, size_t n, uint16_t *id)
{
    uint32_t v = 0;
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > LWM2M_ID_MAX)
        return false;
    *id = (uint16_t)v;
    return true;
}

lwm2m_err_t lwm2m_path_parse(lwm2m_path_t *p, const char *s, size_t n)
{
    if (!p || (n && !s))
        return LWM2M_ERR_BAD_ARG;
    memset(p, 0, sizeof *p);
    size_t i = 0;
    if (i < n && s[i] == '/')
        i++;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        if (j == i && j == n)
            break; /* a trailing '/' */
        if (p->len == 4 || !parse_id(s + i, j - i, &p->ids[p->len]))
            return LWM2M_ERR_BAD_PATH;
        p->len++;
        i = j + 1;
    }
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_path_from_msg(lwm2m_path_t *p, const coap_msg_t *m)
{
    if (!p || !m)
        return LWM2M_ERR_BAD_ARG;
    memset(p, 0, sizeof *p);
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (o.num != COAP_OPT_URI_PATH)
            continue;
        if (p->len == 4 || !parse_id((const char *)o.val, o.len, &p->ids[p->len]))
            return LWM2M_ERR_BAD_PATH;
        p->len++;
    }
    return LWM2M_OK;
}

/* Decimal digits of v into out (no NUL); returns the count. */
static size_t put_uint(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t lwm2m_path_format(const lwm2m_path_t *p, char *out, size_t cap)
{
    char tmp[32];
    size_t n = 0;
    if (p->len == 0)
        tmp[n++] = '/';
    for (uint8_t i = 0; i < p->len && i < 4; i++) {
        tmp[n++] = '/';
        n += put_uint(p->ids[i], tmp + n);
    }
    if (n + 1 > cap)
        return 0;
    memcpy(out, tmp, n);
    out[n] = '\0';
    return n;
}

bool lwm2m_path_within(const lwm2m_path_t *p, const lwm2m_path_t *prefix)
{
    if (p->len < prefix->len)
        return false;
    for (uint8_t i = 0; i < prefix->len; i++)
        if (p->ids[i] != prefix->ids[i])
            return false;
    return true;
}

/* ---------------------------------------------------------------- values */

static int64_t be_signed(const uint8_t *p, size_t n)
{
    uint64_t v = (p[0] & 0x80) ? UINT64_MAX : 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

lwm2m_err_t lwm2m_value_from_raw(const uint8_t *raw, size_t n, lwm2m_type_t type, lwm2m_value_t *v)
{
    if (!v || (n && !raw))
        return LWM2M_ERR_BAD_ARG;
    memset(v, 0, sizeof *v);
    v->type = type;
    switch (type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        if (n != 1 && n != 2 && n != 4 && n != 8)
            return LWM2M_ERR_TYPE;
        v->v.i = be_signed(raw, n);
        return LWM2M_OK;
    case LWM2M_TYPE_UNSIGNED:
        if (n != 1 && n != 2 && n != 4 && n != 8)
            return LWM2M_ERR_TYPE;
        for (size_t i = 0; i < n; i++)
            v->v.u = v->v.u << 8 | raw[i];
        return LWM2M_OK;
    case LWM2M_TYPE_FLOAT: {
        uint64_t bits = 0;
        for (size_t i = 0; i < n; i++)
            bits = bits << 8 | raw[i];
        if (n == 8) {
            memcpy(&v->v.f, &bits, sizeof v->v.f);
        } else if (n == 4) {
            cbor_dec_t d; /* widen through the CBOR decoder's exact conversion */
            uint8_t enc[5] = {0xfa, raw[0], raw[1], raw[2], raw[3]};
            cbor_dec_init(&d, enc, sizeof enc, 0);
            if (cbor_decode_double(&d, &v->v.f) != CBOR_OK)
                return LWM2M_ERR_TYPE;
        } else {
            return LWM2M_ERR_TYPE;
        }
        return LWM2M_OK;
    }
    case LWM2M_TYPE_BOOLEAN:
        if (n != 1 || raw[0] > 1)
            return LWM2M_ERR_TYPE;
        v->v.b = raw[0] == 1;
        return LWM2M_OK;
    case LWM2M_TYPE_OBJLNK:
        if (n != 4)
            return LWM2M_ERR_TYPE;
        v->v.lnk.obj = (uint16_t)(raw[0] << 8 | raw[1]);
        v->v.lnk.inst = (uint16_t)(raw[2] << 8 | raw[3]);
        return LWM2M_OK;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        v->v.bytes.p = raw;
        v->v.bytes.n = n;
        return LWM2M_OK;
    default: return LWM2M_ERR_TYPE;
    }
}

/* ---------------------------------------------------------------- text */

static const double pow10_tab[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static double scale10(double x, int e)
{
    while (e >= 15) {
        x *= 1e15;
        e -= 15;
    }
    while (e <= -15) {
        x /= 1e15;
        e += 15;
    }
    return e >= 0 ? x * pow10_tab[e] : x / pow10_tab[-e];
}

/* 15 significant digits, trailing zeros dropped; exponent form outside
 * 1e-6 .. 1e15 (the shape of C's %.15g). */
static size_t format_double(double f, char *out)
{
    size_t n = 0;
    if (f < 0) {
        out[n++] = '-';
        f = -f;
    }
    if (f == 0) {
        out[n++] = '0';
        return n;
    }
    int e = 0;
    while (f >= 10 && e < 400)
        f /= 10, e++;
    while (f < 1 && e > -400)
        f *= 10, e--;
    uint64_t m = (uint64_t)(f * 1e14 + 0.5); /* 15 digits: d.dddddddddddddd */
    if (m >= 1000000000000000ull) {
        m /= 10;
        e++;
    }
    char dig[16];
    size_t nd = put_uint(m, dig);
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (e >= 15 || e < -6) {
        out[n++] = dig[0];
        if (nd > 1) {
            out[n++] = '.';
            memcpy(out + n, dig + 1, nd - 1);
            n += nd - 1;
        }
        out[n++] = 'e';
        if (e < 0) {
            out[n++] = '-';
            e = -e;
        }
        n += put_uint((uint64_t)e, out + n);
    } else if (e < 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = -1; i > e; i--)
            out[n++] = '0';
        memcpy(out + n, dig, nd);
        n += nd;
    } else {
        for (int i = 0; i <= e || (size_t)i < nd; i++) {
            if (i == e + 1)
                out[n++] = '.';
            out[n++] = (size_t)i < nd ? dig[i] : '0';
        }
    }
    return n;
}

lwm2m_err_t lwm2m_text_encode(const lwm2m_value_t *v, uint8_t *out, size_t cap, size_t *len)
{
    if (!v || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    char tmp[48];
    size_t n = 0;
    const uint8_t *src = (const uint8_t *)tmp;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        if (v->v.i < 0) {
            tmp[n++] = '-';
            n += put_uint((uint64_t)0 - (uint64_t)v->v.i, tmp + n);
        } else {
            n += put_uint((uint64_t)v->v.i, tmp);
        }
        break;
    case LWM2M_TYPE_UNSIGNED: n = put_uint(v->v.u, tmp); break;
    case LWM2M_TYPE_FLOAT:
        if (v->v.f != v->v.f || v->v.f > 1.7976931348623157e308 || v->v.f < -1.7976931348623157e308)
            return LWM2M_ERR_TYPE; /* NaN and infinities have no text form */
        n = format_double(v->v.f, tmp);
        break;
    case LWM2M_TYPE_BOOLEAN: tmp[n++] = v->v.b ? '1' : '0'; break;
    case LWM2M_TYPE_OBJLNK:
        n = put_uint(v->v.lnk.obj, tmp);
        tmp[n++] = ':';
        n += put_uint(v->v.lnk.inst, tmp + n);
        break;
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        src = v->v.bytes.p;
        n = v->v.bytes.n;
        break;
    default: return LWM2M_ERR_TYPE; /* opaque needs content format 42 */
    }
    if (n > cap)
        return LWM2M_ERR_NO_SPACE;
    if (n)
        memcpy(out, src, n);
    *len = n;
    return LWM2M_OK;
}

/* Decimal number: sign, digits, fraction, exponent. */
static bool parse_number(const uint8_t *s, size_t n, bool allow_frac, int64_t *iv, uint64_t *uv,
                         double *fv, bool *neg_out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    uint64_t mant = 0;
    int exp10 = 0;
    bool any = false, overflow = false;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t digit = (uint64_t)(s[i] - '0');
        any = true;
        if (mant > (UINT64_MAX - digit) / 10) {
            overflow = true; /* more digits than 64 bits: only a float keeps them */
            exp10++;
        } else {
            mant = mant * 10 + digit;
        }
    }
    if (i < n && s[i] == '.' && allow_frac) {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            uint64_t digit = (uint64_t)(s[i] - '0');
            if (mant <= (UINT64_MAX - digit) / 10) {
                mant = mant * 10 + digit;
                exp10--;
            }
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E') && allow_frac && any) {
        bool eneg = false;
        int ev = 0;
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            eneg = s[i++] == '-';
        size_t start = i;
        for (; i < n && s[i] >= '0' && s[i] <= '9' && ev < 1000; i++)
            ev = ev * 10 + (s[i] - '0');
        if (i == start)
            return false;
        exp10 += eneg ? -ev : ev;
    }
    if (!any || i != n)
        return false;
    *neg_out = neg;
    if (fv)
        *fv = (neg ? -1.0 : 1.0) * scale10((double)mant, exp10);
    if (!allow_frac) {
        if (overflow)
            return false;
        if (uv)
            *uv = mant;
        if (iv) {
            if (neg ? mant > (uint64_t)INT64_MAX + 1 : mant > (uint64_t)INT64_MAX)
                return false;
            *iv = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        }
    }
    return true;
}

lwm2m_err_t lwm2m_text_decode(const uint8_t *in, size_t n, lwm2m_type_t type, lwm2m_value_t *v)
{
    if (!v || (n && !in))
        return LWM2M_ERR_BAD_ARG;
    memset(v, 0, sizeof *v);
    v->type = type;
    bool neg;
    switch (type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME:
        return parse_number(in, n, false, &v->v.i, NULL, NULL, &neg) ? LWM2M_OK : LWM2M_ERR_TYPE;
    case LWM2M_TYPE_UNSIGNED:
        return parse_number(in, n, false, NULL, &v->v.u, NULL, &neg) && !neg ? LWM2M_OK
                                                                              : LWM2M_ERR_TYPE;
    case LWM2M_TYPE_FLOAT:
        if (!parse_number(in, n, true, NULL, NULL, &v->v.f, &neg))
            return LWM2M_ERR_TYPE;
        /* "2e3121" overflows to infinity, which no LwM2M float may be */
        return v->v.f - v->v.f == 0 ? LWM2M_OK : LWM2M_ERR_TYPE;
    case LWM2M_TYPE_BOOLEAN:
        if (n != 1 || (in[0] != '0' && in[0] != '1'))
            return LWM2M_ERR_TYPE;
        v->v.b = in[0] == '1';
        return LWM2M_OK;
    case LWM2M_TYPE_OBJLNK: {
        const uint8_t *colon = memchr(in, ':', n);
        if (!colon || !parse_id((const char *)in, (size_t)(colon - in), &v->v.lnk.obj))
            return LWM2M_ERR_TYPE;
        /* 65535:65535 is the null link */
        size_t rest = n - (size_t)(colon - in) - 1;
        if (rest == 5 && !memcmp(colon + 1, "65535", 5)) {
            v->v.lnk.inst = 65535;
            return LWM2M_OK;
        }
        return parse_id((const char *)colon + 1, rest, &v->v.lnk.inst) ? LWM2M_OK : LWM2M_ERR_TYPE;
    }
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_CORELNK:
        v->v.bytes.p = in;
        v->v.bytes.n = n;
        return LWM2M_OK;
    default: return LWM2M_ERR_TYPE;
    }
}

/* ---------------------------------------------------------------- links */

size_t lwm2m_link_append(uint8_t *out, size_t cap, size_t len, const lwm2m_path_t *p,
                         const char *attrs)
{
    char path[32];
    size_t pn = lwm2m_path_format(p, path, sizeof path);
    size_t an = attrs ? strlen(attrs) : 0;
    size_t need = (len ? 1 : 0) + 2 + pn + an;
    if (pn == 0 || need > cap - len || len > cap)
        return 0;
    if (len)
        out[len++] = ',';
    out[len++] = '<';
    memcpy(out + len, path, pn);
    len += pn;
    out[len++] = '>';
    if (an)
        memcpy(out + len, attrs, an);
    return len + an;
}

void lwm2m_link_dec_init(lwm2m_link_dec_t *d, const uint8_t *buf, size_t len)
{
    d->p = (const char *)buf;
    d->end = (const char *)buf + len;
}

lwm2m_err_t lwm2m_link_next(lwm2m_link_dec_t *d, lwm2m_link_t *link)
{
    while (d->p < d->end) {
        while (d->p < d->end && (*d->p == ',' || *d->p == ' ' || *d->p == '\n'))
            d->p++;
        if (d->p == d->end)
            break;
        if (*d->p != '<')
            return LWM2M_ERR_MALFORMED;
        const char *gt = memchr(d->p, '>', (size_t)(d->end - d->p));
        if (!gt)
            return LWM2M_ERR_MALFORMED;
        const char *target = d->p + 1;
        size_t tlen = (size_t)(gt - target);
        /* attributes run to the next ',' outside quotes */
        const char *a = gt + 1, *q = a;
        bool quoted = false;
        while (q < d->end && (quoted || *q != ',')) {
            if (*q == '"')
                quoted = !quoted;
            q++;
        }
        d->p = q;
        lwm2m_path_t path;
        if (lwm2m_path_parse(&path, target, tlen) != LWM2M_OK || path.len == 0)
            continue; /* e.g. "</>;rt=\"oma.lwm2m\"" or a root path */
        link->path = path;
        link->attrs = a;
        link->attrs_len = (size_t)(q - a);
        return LWM2M_OK;
    }
    return LWM2M_ERR_END;
}
