/* CBOR encoder and bounded decoder (RFC 8949 §3, deterministic heads §4.2.1,
 * preferred float serialization §4.2.2). No allocation, no recursion:
 * nesting is walked with a fixed counter stack of CBOR_MAX_DEPTH. */
#include "coreseal/cbor.h"

#include <string.h>

enum { MT_UINT, MT_NEGINT, MT_BSTR, MT_TSTR, MT_ARRAY, MT_MAP, MT_TAG, MT_SIMPLE };

/* ---------------------------------------------------------------- encoder */

void cbor_enc_init(cbor_enc_t *e, uint8_t *buf, size_t cap)
{
    e->buf = buf;
    e->cap = buf ? cap : 0;
    e->len = 0;
    e->err = CBOR_OK;
}

cbor_err_t cbor_enc_finish(const cbor_enc_t *e, size_t *len)
{
    if (e->err != CBOR_OK)
        return e->err;
    if (len)
        *len = e->len;
    return CBOR_OK;
}

static uint8_t *enc_reserve(cbor_enc_t *e, size_t n)
{
    if (e->err != CBOR_OK)
        return NULL;
    if (n > e->cap - e->len) {
        e->err = CBOR_ERR_NO_SPACE;
        return NULL;
    }
    uint8_t *p = e->buf + e->len;
    e->len += n;
    return p;
}

size_t cbor_head_size(uint64_t v)
{
    if (v < 24)
        return 1;
    if (v <= 0xff)
        return 2;
    if (v <= 0xffff)
        return 3;
    if (v <= 0xffffffffu)
        return 5;
    return 9;
}

static void enc_head(cbor_enc_t *e, unsigned major, uint64_t v)
{
    size_t n = cbor_head_size(v);
    uint8_t *p = enc_reserve(e, n);
    if (!p)
        return;
    static const uint8_t ai[10] = {0, 0, 24, 25, 0, 26, 0, 0, 0, 27};
    p[0] = (uint8_t)(major << 5) | (n == 1 ? (uint8_t)v : ai[n]);
    for (size_t i = n - 1; i >= 1; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void cbor_encode_uint(cbor_enc_t *e, uint64_t v) { enc_head(e, MT_UINT, v); }

void cbor_encode_int(cbor_enc_t *e, int64_t v)
{
    if (v >= 0)
        enc_head(e, MT_UINT, (uint64_t)v);
    else
        enc_head(e, MT_NEGINT, (uint64_t)(-(v + 1)));
}

void cbor_encode_raw(cbor_enc_t *e, const uint8_t *p, size_t n)
{
    uint8_t *dst = enc_reserve(e, n);
    if (dst && n)
        memmove(dst, p, n);
}

void cbor_encode_bstr_head(cbor_enc_t *e, size_t n) { enc_head(e, MT_BSTR, n); }

void cbor_encode_bstr(cbor_enc_t *e, const uint8_t *p, size_t n)
{
    enc_head(e, MT_BSTR, n);
    cbor_encode_raw(e, p, n);
}

void cbor_encode_tstr(cbor_enc_t *e, const char *s, size_t n)
{
    enc_head(e, MT_TSTR, n);
    cbor_encode_raw(e, (const uint8_t *)s, n);
}

void cbor_encode_array(cbor_enc_t *e, size_t count) { enc_head(e, MT_ARRAY, count); }
void cbor_encode_map(cbor_enc_t *e, size_t pairs) { enc_head(e, MT_MAP, pairs); }
void cbor_encode_tag(cbor_enc_t *e, uint64_t tag) { enc_head(e, MT_TAG, tag); }
void cbor_encode_bool(cbor_enc_t *e, bool v) { enc_head(e, MT_SIMPLE, v ? 21 : 20); }
void cbor_encode_null(cbor_enc_t *e) { enc_head(e, MT_SIMPLE, 22); }

static void enc_fixed(cbor_enc_t *e, uint8_t ib, uint64_t bits, size_t n)
{
    uint8_t *p = enc_reserve(e, 1 + n);
    if (!p)
        return;
    p[0] = ib;
    for (size_t i = n; i >= 1; i--, bits >>= 8)
        p[i] = (uint8_t)bits;
}

/* Half-precision bits for d if the conversion is exact, else -1. */
static int32_t double_to_half_exact(double d, uint64_t dbits)
{
    uint32_t sign = (uint32_t)(dbits >> 63) << 15;
    int exp = (int)((dbits >> 52) & 0x7ff);
    uint64_t mant = dbits & 0xfffffffffffffull;
    if (exp == 0x7ff) { /* inf or NaN: keep NaN payload top bits only if exact */
        if ((mant & ((1ull << 42) - 1)) != 0)
            return -1;
        return (int32_t)(sign | 0x7c00u | (uint32_t)(mant >> 42));
    }
    if (d == 0.0)
        return (int32_t)sign;
    int e = exp - 1023;
    if (e >= -14 && e <= 15) { /* normal half */
        if ((mant & ((1ull << 42) - 1)) != 0)
            return -1;
        return (int32_t)(sign | (uint32_t)(e + 15) << 10 | (uint32_t)(mant >> 42));
    }
    if (e >= -24 && e < -14) { /* subnormal half: value = m * 2^-24 */
        int shift = 42 + (-14 - e);
        uint64_t full = mant | (1ull << 52);
        if ((full & ((1ull << shift) - 1)) != 0)
            return -1;
        return (int32_t)(sign | (uint32_t)(full >> shift));
    }
    return -1;
}

void cbor_encode_double(cbor_enc_t *e, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int32_t half = double_to_half_exact(v, bits);
    if (half >= 0) {
        enc_fixed(e, 0xf9, (uint64_t)half, 2);
        return;
    }
    float f = (float)v;
    if ((double)f == v) {
        uint32_t fb;
        memcpy(&fb, &f, sizeof fb);
        enc_fixed(e, 0xfa, fb, 4);
        return;
    }
    enc_fixed(e, 0xfb, bits, 8);
}

/* ---------------------------------------------------------------- decoder */

void cbor_dec_init(cbor_dec_t *d, const uint8_t *buf, size_t len, unsigned flags)
{
    d->buf = buf;
    d->len = buf ? len : 0;
    d->pos = 0;
    d->err_off = 0;
    d->flags = flags;
}

size_t cbor_dec_error_offset(const cbor_dec_t *d) { return d->err_off; }
bool cbor_dec_done(const cbor_dec_t *d) { return d->pos >= d->len; }

/* IEEE 754 half and single to double, exactly, in integer arithmetic (no
 * soft-float library on targets without an FPU). */
static double bits_to_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static double widen_float(uint32_t bits, int exp_bits, int mant_bits)
{
    uint64_t sign = (uint64_t)(bits >> (exp_bits + mant_bits)) << 63;
    int bias = (1 << (exp_bits - 1)) - 1;
    uint32_t exp = (bits >> mant_bits) & ((1u << exp_bits) - 1);
    uint64_t mant = bits & ((1u << mant_bits) - 1);
    if (exp == (1u << exp_bits) - 1) /* inf / NaN */
        return bits_to_double(sign | 0x7ff0000000000000ull | mant << (52 - mant_bits));
    if (exp == 0) {
        if (mant == 0)
            return bits_to_double(sign);
        int e = 1 - bias; /* subnormal: normalize */
        while (!(mant & (1ull << mant_bits))) {
            mant <<= 1;
            e--;
        }
        mant &= (1ull << mant_bits) - 1;
        return bits_to_double(sign | (uint64_t)(e + 1023) << 52 | mant << (52 - mant_bits));
    }
    return bits_to_double(sign | (uint64_t)((int)exp - bias + 1023) << 52 | mant << (52 - mant_bits));
}

/* Reads one head at *pos without moving d. */
static cbor_err_t read_head(const cbor_dec_t *d, size_t *pos, cbor_item_t *it)
{
    if (*pos >= d->len)
        return CBOR_ERR_END;
    uint8_t ib = d->buf[*pos];
    unsigned major = ib >> 5, ai = ib & 0x1f;
    size_t n = 0;
    if (ai >= 28)
        return ai == 31 ? CBOR_ERR_INDEFINITE : CBOR_ERR_RESERVED;
    if (ai >= 24)
        n = (size_t)1 << (ai - 24);
    if (n > d->len - *pos - 1)
        return CBOR_ERR_TRUNCATED;
    uint64_t v = n ? 0 : ai;
    for (size_t i = 1; i <= n; i++)
        v = (v << 8) | d->buf[*pos + i];

    memset(it, 0, sizeof *it);
    it->u = v;
    if (major == MT_SIMPLE && n >= 2) { /* floats keep their width */
        it->type = CBOR_TYPE_FLOAT;
        if (n == 2)
            it->f = widen_float((uint32_t)v, 5, 10);
        else if (n == 4)
            it->f = widen_float((uint32_t)v, 8, 23);
        else
            it->f = bits_to_double(v);
        *pos += 1 + n;
        return CBOR_OK;
    }
    if (major == MT_SIMPLE && n == 1 && v < 32)
        return CBOR_ERR_BAD_SIMPLE;
    if (!(d->flags & CBOR_DEC_ALLOW_NON_SHORTEST) && major != MT_SIMPLE && n > 0 &&
        cbor_head_size(v) != 1 + n)
        return CBOR_ERR_NOT_SHORTEST;

    static const cbor_type_t types[8] = {CBOR_TYPE_UINT,  CBOR_TYPE_NEGINT, CBOR_TYPE_BSTR,
                                         CBOR_TYPE_TSTR,  CBOR_TYPE_ARRAY,  CBOR_TYPE_MAP,
                                         CBOR_TYPE_TAG,   CBOR_TYPE_SIMPLE};
    it->type = types[major];
    size_t end = *pos + 1 + n;
    if (major == MT_BSTR || major == MT_TSTR) {
        if (v > d->len - end)
            return CBOR_ERR_TRUNCATED;
        it->ptr = d->buf + end;
        end += (size_t)v;
    } else if ((major == MT_ARRAY || major == MT_MAP) && v > d->len - end) {
        /* Each element takes at least one byte: a larger count cannot fit. */
        return CBOR_ERR_TRUNCATED;
    }
    *pos = end;
    return CBOR_OK;
}

static cbor_err_t dec_fail(cbor_dec_t *d, size_t at, cbor_err_t err)
{
    d->err_off = at;
    return err;
}

cbor_err_t cbor_dec_next(cbor_dec_t *d, cbor_item_t *item)
{
    size_t pos = d->pos;
    cbor_err_t err = read_head(d, &pos, item);
    if (err != CBOR_OK)
        return dec_fail(d, d->pos, err);
    d->pos = pos;
    return CBOR_OK;
}

cbor_err_t cbor_dec_peek(cbor_dec_t *d, cbor_type_t *type)
{
    size_t pos = d->pos;
    cbor_item_t it;
    cbor_err_t err = read_head(d, &pos, &it);
    if (err != CBOR_OK)
        return dec_fail(d, d->pos, err);
    *type = it.type;
    return CBOR_OK;
}

cbor_err_t cbor_dec_skip(cbor_dec_t *d, const uint8_t **start, size_t *n)
{
    /* left[k]: items still owed at depth k. A map of n pairs owes 2n. */
    uint64_t left[CBOR_MAX_DEPTH + 1];
    size_t depth = 0, pos = d->pos;
    left[0] = 1;
    while (1) {
        while (depth > 0 && left[depth] == 0)
            depth--;
        if (left[depth] == 0)
            break;
        left[depth]--;
        size_t at = pos;
        cbor_item_t it;
        cbor_err_t err = read_head(d, &pos, &it);
        if (err == CBOR_ERR_END)
            err = CBOR_ERR_TRUNCATED;
        if (err != CBOR_OK)
            return dec_fail(d, at, err);
        uint64_t owed = it.type == CBOR_TYPE_ARRAY ? it.u
                        : it.type == CBOR_TYPE_MAP ? 2 * it.u
                        : it.type == CBOR_TYPE_TAG ? 1
                                                   : 0;
        if (owed == 0)
            continue;
        if (depth == CBOR_MAX_DEPTH)
            return dec_fail(d, at, CBOR_ERR_TOO_DEEP);
        left[++depth] = owed;
    }
    if (start)
        *start = d->buf + d->pos;
    if (n)
        *n = pos - d->pos;
    d->pos = pos;
    return CBOR_OK;
}

cbor_err_t cbor_check_sequence(const uint8_t *buf, size_t len, size_t count, unsigned flags)
{
    cbor_dec_t d;
    cbor_dec_init(&d, buf, len, flags);
    for (size_t i = 0; i < count; i++) {
        cbor_err_t err = cbor_dec_skip(&d, NULL, NULL);
        if (err != CBOR_OK)
            return err;
    }
    return cbor_dec_done(&d) ? CBOR_OK : CBOR_ERR_TRAILING;
}

/* Reads the next head and insists on `want`; on mismatch nothing moves. */
static cbor_err_t dec_expect(cbor_dec_t *d, cbor_type_t want, cbor_item_t *it)
{
    size_t pos = d->pos;
    cbor_err_t err = read_head(d, &pos, it);
    if (err != CBOR_OK)
        return dec_fail(d, d->pos, err);
    if (it->type != want)
        return dec_fail(d, d->pos, CBOR_ERR_TYPE);
    d->pos = pos;
    return CBOR_OK;
}

cbor_err_t cbor_decode_uint(cbor_dec_t *d, uint64_t *v)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_UINT, &it);
    if (err == CBOR_OK)
        *v = it.u;
    return err;
}

cbor_err_t cbor_decode_int(cbor_dec_t *d, int64_t *v)
{
    size_t pos = d->pos;
    cbor_item_t it;
    cbor_err_t err = read_head(d, &pos, &it);
    if (err != CBOR_OK)
        return dec_fail(d, d->pos, err);
    if (it.type != CBOR_TYPE_UINT && it.type != CBOR_TYPE_NEGINT)
        return dec_fail(d, d->pos, CBOR_ERR_TYPE);
    if (it.u > (uint64_t)INT64_MAX)
        return dec_fail(d, d->pos, CBOR_ERR_OVERFLOW);
    *v = it.type == CBOR_TYPE_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
    d->pos = pos;
    return CBOR_OK;
}

cbor_err_t cbor_decode_bstr(cbor_dec_t *d, const uint8_t **p, size_t *n)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_BSTR, &it);
    if (err == CBOR_OK) {
        *p = it.ptr;
        *n = (size_t)it.u;
    }
    return err;
}

cbor_err_t cbor_decode_tstr(cbor_dec_t *d, const char **s, size_t *n)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_TSTR, &it);
    if (err == CBOR_OK) {
        *s = (const char *)it.ptr;
        *n = (size_t)it.u;
    }
    return err;
}

cbor_err_t cbor_decode_array(cbor_dec_t *d, size_t *count)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_ARRAY, &it);
    if (err == CBOR_OK)
        *count = (size_t)it.u;
    return err;
}

cbor_err_t cbor_decode_map(cbor_dec_t *d, size_t *pairs)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_MAP, &it);
    if (err == CBOR_OK)
        *pairs = (size_t)it.u;
    return err;
}

cbor_err_t cbor_decode_tag(cbor_dec_t *d, uint64_t *tag)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_TAG, &it);
    if (err == CBOR_OK)
        *tag = it.u;
    return err;
}

cbor_err_t cbor_decode_bool(cbor_dec_t *d, bool *v)
{
    size_t start = d->pos;
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_SIMPLE, &it);
    if (err != CBOR_OK)
        return err;
    if (it.u != 20 && it.u != 21) {
        d->pos = start;
        return dec_fail(d, start, CBOR_ERR_TYPE);
    }
    *v = it.u == 21;
    return CBOR_OK;
}

cbor_err_t cbor_decode_null(cbor_dec_t *d)
{
    size_t start = d->pos;
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_SIMPLE, &it);
    if (err == CBOR_OK && it.u != 22) {
        d->pos = start;
        return dec_fail(d, start, CBOR_ERR_TYPE);
    }
    return err;
}

cbor_err_t cbor_decode_double(cbor_dec_t *d, double *v)
{
    cbor_item_t it;
    cbor_err_t err = dec_expect(d, CBOR_TYPE_FLOAT, &it);
    if (err == CBOR_OK)
        *v = it.f;
    return err;
}
