/* CoAP message codec: RFC 7252 §3 (header, token, options, payload
 * marker), §5.4 (critical/unsafe options), §5.10 (option table); RFC 8323
 * §3.2 (TCP framing) and §4 (WebSocket framing). */
#include "coreseal/coap.h"

#include <string.h>

static const coap_opt_info_t opt_table[] = {
    {COAP_OPT_IF_MATCH, "If-Match", COAP_FMT_OPAQUE, 0, 8, true},
    {COAP_OPT_URI_HOST, "Uri-Host", COAP_FMT_STRING, 1, 255, false},
    {COAP_OPT_ETAG, "ETag", COAP_FMT_OPAQUE, 1, 8, true},
    {COAP_OPT_IF_NONE_MATCH, "If-None-Match", COAP_FMT_EMPTY, 0, 0, false},
    {COAP_OPT_OBSERVE, "Observe", COAP_FMT_UINT, 0, 3, false},
    {COAP_OPT_URI_PORT, "Uri-Port", COAP_FMT_UINT, 0, 2, false},
    {COAP_OPT_LOCATION_PATH, "Location-Path", COAP_FMT_STRING, 0, 255, true},
    {COAP_OPT_OSCORE, "OSCORE", COAP_FMT_OPAQUE, 0, 255, false},
    {COAP_OPT_URI_PATH, "Uri-Path", COAP_FMT_STRING, 0, 255, true},
    {COAP_OPT_CONTENT_FORMAT, "Content-Format", COAP_FMT_UINT, 0, 2, false},
    {COAP_OPT_MAX_AGE, "Max-Age", COAP_FMT_UINT, 0, 4, false},
    {COAP_OPT_URI_QUERY, "Uri-Query", COAP_FMT_STRING, 0, 255, true},
    {COAP_OPT_HOP_LIMIT, "Hop-Limit", COAP_FMT_UINT, 1, 1, false},
    {COAP_OPT_ACCEPT, "Accept", COAP_FMT_UINT, 0, 2, false},
    {COAP_OPT_Q_BLOCK1, "Q-Block1", COAP_FMT_UINT, 0, 3, false},
    {COAP_OPT_LOCATION_QUERY, "Location-Query", COAP_FMT_STRING, 0, 255, true},
    {COAP_OPT_EDHOC, "EDHOC", COAP_FMT_EMPTY, 0, 0, false},
    {COAP_OPT_BLOCK2, "Block2", COAP_FMT_UINT, 0, 3, false},
    {COAP_OPT_BLOCK1, "Block1", COAP_FMT_UINT, 0, 3, false},
    {COAP_OPT_SIZE2, "Size2", COAP_FMT_UINT, 0, 4, false},
    {COAP_OPT_Q_BLOCK2, "Q-Block2", COAP_FMT_UINT, 0, 3, true},
    {COAP_OPT_PROXY_URI, "Proxy-Uri", COAP_FMT_STRING, 1, 1034, false},
    {COAP_OPT_PROXY_SCHEME, "Proxy-Scheme", COAP_FMT_STRING, 1, 255, false},
    {COAP_OPT_SIZE1, "Size1", COAP_FMT_UINT, 0, 4, false},
    {COAP_OPT_ECHO, "Echo", COAP_FMT_OPAQUE, 1, 40, false},
    {COAP_OPT_NO_RESPONSE, "No-Response", COAP_FMT_UINT, 0, 1, false},
    {COAP_OPT_REQUEST_TAG, "Request-Tag", COAP_FMT_OPAQUE, 0, 8, true},
};

const coap_opt_info_t *coap_opt_info(uint16_t num)
{
    for (size_t i = 0; i < sizeof opt_table / sizeof opt_table[0]; i++)
        if (opt_table[i].num == num)
            return &opt_table[i];
    return NULL;
}

/* ---------------------------------------------------------------- parsing */

/* Extended delta/length per §3.1: nibble 13 -> 1 byte + 13, 14 -> 2 bytes
 * + 269, 15 reserved (the caller has already handled 0xFF). */
static coap_err_t read_ext(const uint8_t **p, const uint8_t *end, unsigned nibble, size_t *v)
{
    if (nibble < 13) {
        *v = nibble;
        return COAP_OK;
    }
    if (nibble == 15)
        return COAP_ERR_OPTION_RESERVED;
    size_t n = nibble == 13 ? 1 : 2;
    if ((size_t)(end - *p) < n)
        return COAP_ERR_OPTION_TRUNCATED;
    *v = nibble == 13 ? 13u + (*p)[0] : 269u + ((size_t)(*p)[0] << 8 | (*p)[1]);
    *p += n;
    return COAP_OK;
}

/* Decodes the option at *p (not the payload marker). */
static coap_err_t opt_decode(const uint8_t **p, const uint8_t *end, uint16_t prev,
                             coap_opt_t *opt)
{
    const uint8_t *q = *p;
    uint8_t b = *q++;
    size_t delta, len;
    coap_err_t err = read_ext(&q, end, b >> 4, &delta);
    if (err == COAP_OK)
        err = read_ext(&q, end, b & 0x0f, &len);
    if (err != COAP_OK)
        return err;
    if (prev + delta > 0xffff)
        return COAP_ERR_OPTION_NUMBER;
    if (len > (size_t)(end - q))
        return COAP_ERR_OPTION_TRUNCATED;
    opt->num = (uint16_t)(prev + delta);
    opt->len = len;
    opt->val = q;
    *p = q + len;
    return COAP_OK;
}

/* Options and payload from `p` to `end` (the part after the token). */
static coap_err_t parse_body(coap_msg_t *m, const uint8_t *p, const uint8_t *end)
{
    m->opts = p;
    m->payload = NULL;
    m->payload_len = 0;
    uint16_t num = 0;
    while (p < end && *p != 0xff) {
        coap_opt_t opt;
        coap_err_t err = opt_decode(&p, end, num, &opt);
        if (err != COAP_OK)
            return err;
        num = opt.num;
    }
    m->opts_len = (size_t)(p - m->opts);
    if (p < end) { /* payload marker */
        if (p + 1 == end)
            return COAP_ERR_EMPTY_PAYLOAD;
        m->payload = p + 1;
        m->payload_len = (size_t)(end - p - 1);
    }
    return COAP_OK;
}

static coap_err_t parse_token(coap_msg_t *m, const uint8_t **p, const uint8_t *end, unsigned tkl)
{
    if (tkl > COAP_MAX_TOKEN_LEN)
        return COAP_ERR_TOKEN_LEN;
    if ((size_t)(end - *p) < tkl)
        return COAP_ERR_TRUNCATED;
    m->token_len = (uint8_t)tkl;
    m->token = *p;
    *p += tkl;
    return COAP_OK;
}

coap_err_t coap_msg_parse_body(coap_msg_t *m, const uint8_t *body, size_t len)
{
    if (!m || (len && !body))
        return COAP_ERR_BAD_ARG;
    memset(m, 0, sizeof *m);
    return parse_body(m, body, body + len);
}

coap_err_t coap_msg_parse(coap_msg_t *m, const uint8_t *buf, size_t len)
{
    if (!m || !buf)
        return COAP_ERR_BAD_ARG;
    if (len < 4)
        return COAP_ERR_TRUNCATED;
    if ((buf[0] >> 6) != 1)
        return COAP_ERR_VERSION;
    memset(m, 0, sizeof *m);
    m->transport = COAP_TRANSPORT_UDP;
    m->type = (buf[0] >> 4) & 3;
    m->code = buf[1];
    m->mid = (uint16_t)(buf[2] << 8 | buf[3]);
    const uint8_t *p = buf + 4, *end = buf + len;
    unsigned tkl = buf[0] & 0x0f;
    /* §4.1: an Empty message is only the 4-byte header. */
    if (m->code == COAP_CODE_EMPTY && (tkl != 0 || len != 4))
        return COAP_ERR_EMPTY_MESSAGE;
    coap_err_t err = parse_token(m, &p, end, tkl);
    return err != COAP_OK ? err : parse_body(m, p, end);
}

coap_err_t coap_tcp_frame_size(const uint8_t *buf, size_t avail, size_t *frame_len)
{
    if (!buf || !frame_len)
        return COAP_ERR_BAD_ARG;
    if (avail < 1)
        return COAP_ERR_TRUNCATED;
    unsigned lnib = buf[0] >> 4, tkl = buf[0] & 0x0f;
    if (tkl > COAP_MAX_TOKEN_LEN)
        return COAP_ERR_TOKEN_LEN;
    static const uint8_t ext_len[4] = {1, 2, 4, 0};
    size_t ext = lnib < 13 ? 0 : ext_len[lnib - 13];
    if (avail < 1 + ext)
        return COAP_ERR_TRUNCATED;
    uint64_t body = lnib;
    if (ext) {
        uint64_t v = 0;
        for (size_t i = 0; i < ext; i++)
            v = v << 8 | buf[1 + i];
        static const uint32_t base[3] = {13, 269, 65805};
        body = v + base[lnib - 13];
    }
    uint64_t total = 1 + ext + 1 + tkl + body;
    if (total > SIZE_MAX)
        return COAP_ERR_FRAME_LENGTH;
    *frame_len = (size_t)total;
    return COAP_OK;
}

static coap_err_t parse_reliable(coap_msg_t *m, const uint8_t *buf, size_t len,
                                 coap_transport_t t)
{
    if (!m || !buf)
        return COAP_ERR_BAD_ARG;
    size_t hdr_ext = 0;
    if (t == COAP_TRANSPORT_TCP) {
        size_t frame;
        coap_err_t err = coap_tcp_frame_size(buf, len, &frame);
        if (err != COAP_OK)
            return err;
        if (frame != len)
            return frame > len ? COAP_ERR_TRUNCATED : COAP_ERR_FRAME_LENGTH;
        unsigned lnib = buf[0] >> 4;
        hdr_ext = lnib < 13 ? 0 : (lnib == 13 ? 1 : lnib == 14 ? 2 : 4);
    } else {
        if (len < 1)
            return COAP_ERR_TRUNCATED;
        if ((buf[0] >> 4) != 0)
            return COAP_ERR_FRAME_LENGTH;
    }
    if (len < 2 + hdr_ext)
        return COAP_ERR_TRUNCATED;
    memset(m, 0, sizeof *m);
    m->transport = t;
    m->code = buf[1 + hdr_ext];
    const uint8_t *p = buf + 2 + hdr_ext, *end = buf + len;
    coap_err_t err = parse_token(m, &p, end, buf[0] & 0x0f);
    return err != COAP_OK ? err : parse_body(m, p, end);
}

coap_err_t coap_msg_parse_tcp(coap_msg_t *m, const uint8_t *buf, size_t len)
{
    return parse_reliable(m, buf, len, COAP_TRANSPORT_TCP);
}

coap_err_t coap_msg_parse_ws(coap_msg_t *m, const uint8_t *buf, size_t len)
{
    return parse_reliable(m, buf, len, COAP_TRANSPORT_WS);
}

void coap_opt_iter_init(coap_opt_iter_t *it, const coap_msg_t *m)
{
    /* a message built in code may have no option area at all */
    it->p = m->opts;
    it->end = m->opts ? m->opts + m->opts_len : NULL;
    it->num = 0;
}

bool coap_opt_next(coap_opt_iter_t *it, coap_opt_t *opt)
{
    if (it->p == NULL || it->p >= it->end)
        return false;
    /* The options were validated when the message was parsed. */
    if (opt_decode(&it->p, it->end, it->num, opt) != COAP_OK) {
        it->p = it->end;
        return false;
    }
    it->num = opt->num;
    return true;
}

bool coap_msg_find_option(const coap_msg_t *m, uint16_t num, coap_opt_t *opt)
{
    coap_opt_iter_t it;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, opt)) {
        if (opt->num == num)
            return true;
        if (opt->num > num)
            break;
    }
    return false;
}

bool coap_msg_path_is(const coap_msg_t *m, const char *path)
{
    coap_opt_iter_t it;
    coap_opt_t o;
    const char *seg = path;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &o)) {
        if (o.num != COAP_OPT_URI_PATH)
            continue;
        size_t n = 0;
        while (seg[n] && seg[n] != '/')
            n++;
        if (!*seg || o.len != n || memcmp(o.val, seg, n) != 0)
            return false;
        seg += n + (seg[n] == '/');
    }
    return *seg == 0;
}

bool coap_opt_uint(const coap_opt_t *opt, uint32_t *v)
{
    if (opt->len > 4)
        return false;
    uint32_t x = 0;
    for (size_t i = 0; i < opt->len; i++)
        x = x << 8 | opt->val[i];
    *v = x;
    return true;
}

size_t coap_encode_uint(uint32_t v, uint8_t out[4])
{
    size_t n = v == 0 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffff ? 3 : 4;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return n;
}

coap_err_t coap_msg_check_critical(const coap_msg_t *m, const uint16_t *extra, size_t n_extra,
                                   uint16_t *bad)
{
    coap_opt_iter_t it;
    coap_opt_t opt;
    uint16_t prev = 0;
    bool first = true;
    coap_opt_iter_init(&it, m);
    while (coap_opt_next(&it, &opt)) {
        bool repeated = !first && opt.num == prev;
        first = false;
        prev = opt.num;
        if (!coap_opt_is_critical(opt.num))
            continue;
        bool known = false;
        for (size_t i = 0; i < n_extra && !known; i++)
            known = extra[i] == opt.num;
        if (known)
            continue;
        const coap_opt_info_t *info = coap_opt_info(opt.num);
        if (info && opt.len >= info->min_len && opt.len <= info->max_len &&
            (info->repeatable || !repeated))
            continue;
        if (bad)
            *bad = opt.num;
        return COAP_ERR_UNKNOWN_CRITICAL;
    }
    return COAP_OK;
}

/* ---------------------------------------------------------------- building */

/* TCP/WS: room for the first byte and up to 4 bytes of extended length,
 * filled in by finish once the body length is known. */
#define RELIABLE_LEN_ROOM 5

void coap_builder_init(coap_builder_t *b, uint8_t *buf, size_t cap, coap_transport_t transport,
                       coap_type_t type, uint8_t code, uint16_t mid, const uint8_t *token,
                       size_t token_len)
{
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->cap = buf ? cap : 0;
    b->transport = transport;
    if (token_len > COAP_MAX_TOKEN_LEN || (token_len && !token) || (unsigned)type > 3) {
        b->err = COAP_ERR_BAD_ARG;
        return;
    }
    size_t hdr = transport == COAP_TRANSPORT_UDP ? 4 : RELIABLE_LEN_ROOM + 1;
    if (b->cap < hdr + token_len) {
        b->err = COAP_ERR_NO_SPACE;
        return;
    }
    if (transport == COAP_TRANSPORT_UDP) {
        buf[0] = (uint8_t)(0x40 | (unsigned)type << 4 | token_len);
        buf[1] = code;
        buf[2] = (uint8_t)(mid >> 8);
        buf[3] = (uint8_t)mid;
    } else {
        buf[RELIABLE_LEN_ROOM] = code;
    }
    if (token_len)
        memcpy(buf + hdr, token, token_len);
    b->len = b->body = hdr + token_len;
}

/* Nibble and extension bytes for a delta or length (§3.1). */
static size_t ext_encode(size_t v, uint8_t *nibble, uint8_t ext[2])
{
    if (v < 13) {
        *nibble = (uint8_t)v;
        return 0;
    }
    if (v < 269) {
        *nibble = 13;
        ext[0] = (uint8_t)(v - 13);
        return 1;
    }
    *nibble = 14;
    ext[0] = (uint8_t)((v - 269) >> 8);
    ext[1] = (uint8_t)(v - 269);
    return 2;
}

coap_err_t coap_option_encode(uint8_t *out, size_t cap, size_t *pos, uint16_t prev,
                              uint16_t num, const uint8_t *val, size_t len)
{
    if (!out || !pos || *pos > cap || num < prev || (len && !val) || len > 0xffff + 269u)
        return num < prev ? COAP_ERR_OPTION_ORDER : COAP_ERR_BAD_ARG;
    uint8_t dn, ln, dext[2], lext[2];
    size_t dl = ext_encode((size_t)(num - prev), &dn, dext);
    size_t ll = ext_encode(len, &ln, lext);
    if (1 + dl + ll + len > cap - *pos)
        return COAP_ERR_NO_SPACE;
    uint8_t *p = out + *pos;
    *p++ = (uint8_t)(dn << 4 | ln);
    memcpy(p, dext, dl);
    p += dl;
    memcpy(p, lext, ll);
    p += ll;
    if (len)
        memmove(p, val, len);
    *pos += 1 + dl + ll + len;
    return COAP_OK;
}

void coap_builder_add_option(coap_builder_t *b, uint16_t num, const void *val, size_t len)
{
    if (b->err != COAP_OK)
        return;
    if (b->has_payload) {
        b->err = COAP_ERR_BAD_STATE;
        return;
    }
    b->err = coap_option_encode(b->buf, b->cap, &b->len, b->last_opt, num, val, len);
    if (b->err == COAP_OK)
        b->last_opt = num;
}

void coap_builder_add_option_uint(coap_builder_t *b, uint16_t num, uint32_t v)
{
    uint8_t tmp[4];
    size_t n = coap_encode_uint(v, tmp);
    coap_builder_add_option(b, num, tmp, n);
}

uint8_t *coap_builder_payload_space(coap_builder_t *b, size_t *avail)
{
    if (b->err == COAP_OK && b->has_payload)
        b->err = COAP_ERR_BAD_STATE;
    if (b->err != COAP_OK || b->len >= b->cap) {
        if (b->err == COAP_OK)
            b->err = COAP_ERR_NO_SPACE;
        *avail = 0;
        return NULL;
    }
    *avail = b->cap - b->len - 1;
    return b->buf + b->len + 1;
}

void coap_builder_commit_payload(coap_builder_t *b, size_t len)
{
    if (b->err != COAP_OK || len == 0)
        return;
    if (b->has_payload) {
        b->err = COAP_ERR_BAD_STATE;
        return;
    }
    if (len > b->cap - b->len - 1) {
        b->err = COAP_ERR_NO_SPACE;
        return;
    }
    b->buf[b->len] = 0xff;
    b->len += 1 + len;
    b->has_payload = true;
}

void coap_builder_set_payload(coap_builder_t *b, const uint8_t *p, size_t len)
{
    if (len == 0 || b->err != COAP_OK)
        return;
    if (!p) {
        b->err = COAP_ERR_BAD_ARG;
        return;
    }
    size_t avail;
    uint8_t *dst = coap_builder_payload_space(b, &avail);
    if (!dst)
        return;
    if (len > avail) {
        b->err = COAP_ERR_NO_SPACE;
        return;
    }
    memmove(dst, p, len);
    coap_builder_commit_payload(b, len);
}

coap_err_t coap_builder_finish(coap_builder_t *b, size_t *len)
{
    if (b->err != COAP_OK)
        return b->err;
    if (b->transport == COAP_TRANSPORT_UDP) {
        *len = b->len;
        return COAP_OK;
    }
    size_t body = b->len - b->body;
    size_t tkl = b->body - RELIABLE_LEN_ROOM - 1;
    uint8_t hdr[RELIABLE_LEN_ROOM];
    size_t h = 1;
    if (b->transport == COAP_TRANSPORT_WS || body < 13) {
        hdr[0] = (uint8_t)((b->transport == COAP_TRANSPORT_WS ? 0 : body) << 4);
    } else if (body < 269) {
        hdr[0] = 13 << 4;
        hdr[h++] = (uint8_t)(body - 13);
    } else if (body < 65805) {
        hdr[0] = 14 << 4;
        hdr[h++] = (uint8_t)((body - 269) >> 8);
        hdr[h++] = (uint8_t)(body - 269);
    } else {
        uint64_t v = (uint64_t)body - 65805;
        hdr[0] = 15 << 4;
        for (int i = 3; i >= 0; i--)
            hdr[h++] = (uint8_t)(v >> (8 * i));
    }
    hdr[0] |= (uint8_t)tkl;
    size_t start = RELIABLE_LEN_ROOM - h;
    memcpy(b->buf + start, hdr, h);
    memmove(b->buf, b->buf + start, b->len - start);
    b->len -= start;
    b->body -= start;
    b->err = COAP_ERR_BAD_STATE; /* the header is final now */
    *len = b->len;
    return COAP_OK;
}

/* ---------------------------------------------------------------- blocks */

bool coap_block_decode(const coap_opt_t *opt, coap_block_t *b)
{
    uint32_t v;
    if (opt->len > 3 || !coap_opt_uint(opt, &v) || (v & 7) == 7)
        return false;
    b->num = v >> 4;
    b->more = (v >> 3) & 1;
    b->szx = (uint8_t)(v & 7);
    return true;
}

uint32_t coap_block_encode(const coap_block_t *b)
{
    return b->num << 4 | (uint32_t)b->more << 3 | b->szx;
}

bool coap_block_slice(const coap_block_t *b, size_t total, size_t *off, size_t *len)
{
    size_t size = coap_block_size(b->szx), start = (size_t)b->num * size;
    *off = start < total ? start : total;
    *len = total - *off < size ? total - *off : size;
    return *off + *len < total;
}

coap_block_t coap_block_after(const coap_block_t *done, uint8_t szx)
{
    coap_block_t next = {.szx = szx < done->szx ? szx : done->szx};
    size_t offset = (size_t)(done->num + 1) * coap_block_size(done->szx);
    next.num = (uint32_t)(offset / coap_block_size(next.szx));
    return next;
}

void coap_body_init(coap_body_t *body, uint8_t *buf, size_t cap)
{
    body->buf = buf;
    body->cap = cap;
    body->len = 0;
    body->complete = false;
}

coap_err_t coap_body_add(coap_body_t *body, const coap_block_t *blk, const uint8_t *data, size_t len)
{
    if (!body || !blk || (len && !data))
        return COAP_ERR_BAD_ARG;
    size_t size = coap_block_size(blk->szx);
    if ((uint64_t)blk->num * size > body->cap)
        return COAP_ERR_BODY_TOO_LARGE;
    size_t offset = (size_t)blk->num * size;
    bool restart = blk->num == 0; /* block 0 starts the body afresh */
    if (!restart && (offset != body->len || body->complete))
        return COAP_ERR_BLOCK_SEQUENCE;
    if (blk->more && len != size)
        return COAP_ERR_BLOCK_SIZE;
    if (len > body->cap - offset)
        return COAP_ERR_BODY_TOO_LARGE;
    if (len)
        memcpy(body->buf + offset, data, len);
    body->len = offset + len;
    body->complete = !blk->more;
    return COAP_OK;
}

uint8_t coap_block_szx(size_t size)
{
    if (size < 16)
        return 0xff;
    uint8_t szx = 0;
    while (szx < 6 && coap_block_size((uint8_t)(szx + 1)) <= size)
        szx++;
    return szx;
}
