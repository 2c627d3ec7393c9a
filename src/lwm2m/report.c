/* Notification attributes and the decision to notify (LwM2M Core TS 1.2
 * §5.1.2). Numbers in queries are read and written with the plain-text
 * content format's rules (data.c), so there is one number syntax. */
#include "coreseal/lwm2m_report.h"

#include <string.h>

static const struct {
    const char *name;
    uint8_t bit;
} attr_names[] = {
    {"pmin", LWM2M_ATTR_PMIN}, {"pmax", LWM2M_ATTR_PMAX},   {"gt", LWM2M_ATTR_GT},
    {"lt", LWM2M_ATTR_LT},     {"st", LWM2M_ATTR_ST},       {"epmin", LWM2M_ATTR_EPMIN},
    {"epmax", LWM2M_ATTR_EPMAX},
};
#define N_ATTRS (sizeof attr_names / sizeof attr_names[0])
#define NUMERIC_ATTRS (LWM2M_ATTR_GT | LWM2M_ATTR_LT | LWM2M_ATTR_ST)

static uint32_t *period_of(lwm2m_attrs_t *a, uint8_t bit)
{
    return bit == LWM2M_ATTR_PMIN ? &a->pmin : bit == LWM2M_ATTR_PMAX ? &a->pmax
           : bit == LWM2M_ATTR_EPMIN ? &a->epmin : &a->epmax;
}

static double *number_of(lwm2m_attrs_t *a, uint8_t bit)
{
    return bit == LWM2M_ATTR_GT ? &a->gt : bit == LWM2M_ATTR_LT ? &a->lt : &a->st;
}

static uint32_t period_get(const lwm2m_attrs_t *a, uint8_t bit)
{
    return bit == LWM2M_ATTR_PMIN ? a->pmin : bit == LWM2M_ATTR_PMAX ? a->pmax
           : bit == LWM2M_ATTR_EPMIN ? a->epmin : a->epmax;
}

static double number_get(const lwm2m_attrs_t *a, uint8_t bit)
{
    return bit == LWM2M_ATTR_GT ? a->gt : bit == LWM2M_ATTR_LT ? a->lt : a->st;
}

/* One "name[=value]" query option into *a. */
static lwm2m_err_t apply_one(lwm2m_attrs_t *a, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t kl = eq ? (size_t)(eq - s) : n;
    for (size_t i = 0; i < N_ATTRS; i++) {
        uint8_t bit = attr_names[i].bit;
        if (strlen(attr_names[i].name) != kl || memcmp(attr_names[i].name, s, kl) != 0)
            continue;
        if (!eq) { /* "pmin": remove */
            a->set &= (uint8_t)~bit;
            return LWM2M_OK;
        }
        lwm2m_value_t v;
        const uint8_t *val = (const uint8_t *)eq + 1;
        size_t vl = n - kl - 1;
        bool period = !(bit & NUMERIC_ATTRS);
        if (lwm2m_text_decode(val, vl, period ? LWM2M_TYPE_UNSIGNED : LWM2M_TYPE_FLOAT, &v) != LWM2M_OK ||
            (period && v.v.u > UINT32_MAX))
            return LWM2M_ERR_MALFORMED;
        if (period)
            *period_of(a, bit) = (uint32_t)v.v.u;
        else
            *number_of(a, bit) = v.v.f;
        a->set |= bit;
        return LWM2M_OK;
    }
    return LWM2M_ERR_MALFORMED;
}

static bool has(const lwm2m_attrs_t *a, uint8_t bits)
{
    return (a->set & bits) == bits;
}

static bool attrs_valid(const lwm2m_attrs_t *a, bool numeric)
{
    if (!numeric && (a->set & NUMERIC_ATTRS))
        return false;
    if (has(a, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX) && a->pmin > a->pmax)
        return false;
    if (has(a, LWM2M_ATTR_EPMIN | LWM2M_ATTR_EPMAX) && a->epmin > a->epmax)
        return false;
    if (has(a, LWM2M_ATTR_ST) && !(a->st >= 0))
        return false;
    if (has(a, LWM2M_ATTR_LT | LWM2M_ATTR_GT) &&
        !(a->lt + (has(a, LWM2M_ATTR_ST) ? 2 * a->st : 0) < a->gt))
        return false;
    return true;
}

lwm2m_err_t lwm2m_attrs_apply_query(lwm2m_attrs_t *attrs, const coap_msg_t *req, bool numeric)
{
    if (!attrs || !req)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_attrs_t next = *attrs;
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o)) {
        if (o.num != COAP_OPT_URI_QUERY)
            continue;
        lwm2m_err_t e = apply_one(&next, (const char *)o.val, o.len);
        if (e != LWM2M_OK)
            return e;
    }
    if (!attrs_valid(&next, numeric))
        return LWM2M_ERR_MALFORMED;
    *attrs = next;
    return LWM2M_OK;
}

size_t lwm2m_attrs_format(const lwm2m_attrs_t *a, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < N_ATTRS; i++) {
        uint8_t bit = attr_names[i].bit;
        if (!(a->set & bit))
            continue;
        lwm2m_value_t v = {.type = (bit & NUMERIC_ATTRS) ? LWM2M_TYPE_FLOAT : LWM2M_TYPE_UNSIGNED};
        if (bit & NUMERIC_ATTRS)
            v.v.f = number_get(a, bit);
        else
            v.v.u = period_get(a, bit);
        size_t nl = strlen(attr_names[i].name), vl = 0;
        if (len + 2 + nl >= cap)
            return 0;
        out[len++] = ';';
        memcpy(out + len, attr_names[i].name, nl);
        len += nl;
        out[len++] = '=';
        if (lwm2m_text_encode(&v, (uint8_t *)out + len, cap - len - 1, &vl) != LWM2M_OK)
            return 0;
        len += vl;
    }
    if (len < cap)
        out[len] = 0;
    return len;
}

/* ---------------------------------------------------------------- table */

void lwm2m_attr_table_init(lwm2m_attr_table_t *t, lwm2m_attr_entry_t *entries, size_t cap)
{
    t->entries = entries;
    t->n = 0;
    t->cap = entries ? cap : 0;
}

static bool path_equal(const lwm2m_path_t *a, const lwm2m_path_t *b)
{
    return a->len == b->len && !memcmp(a->ids, b->ids, a->len * sizeof a->ids[0]);
}

static lwm2m_attr_entry_t *find(const lwm2m_attr_table_t *t, const lwm2m_path_t *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (path_equal(&t->entries[i].path, path))
            return &t->entries[i];
    return NULL;
}

const lwm2m_attrs_t *lwm2m_attr_get(const lwm2m_attr_table_t *t, const lwm2m_path_t *path)
{
    const lwm2m_attr_entry_t *e = t && path ? find(t, path) : NULL;
    return e ? &e->attrs : NULL;
}

lwm2m_err_t lwm2m_attr_write(lwm2m_attr_table_t *t, const lwm2m_path_t *path, const coap_msg_t *req,
                             bool numeric)
{
    if (!t || !path || !req || path->len == 0)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_attr_entry_t *e = find(t, path);
    lwm2m_attrs_t attrs = e ? e->attrs : (lwm2m_attrs_t){0};
    lwm2m_err_t err = lwm2m_attrs_apply_query(&attrs, req, numeric);
    if (err != LWM2M_OK)
        return err;
    if (!attrs.set) { /* everything removed: drop the entry */
        if (e)
            *e = t->entries[--t->n];
        return LWM2M_OK;
    }
    if (!e) {
        if (t->n == t->cap)
            return LWM2M_ERR_FULL;
        e = &t->entries[t->n++];
        e->path = *path;
    }
    e->attrs = attrs;
    return LWM2M_OK;
}

static void overlay(lwm2m_attrs_t *out, const lwm2m_attrs_t *a)
{
    for (size_t i = 0; i < N_ATTRS; i++) {
        uint8_t bit = attr_names[i].bit;
        if (!(a->set & bit))
            continue;
        if (bit & NUMERIC_ATTRS)
            *number_of(out, bit) = number_get(a, bit);
        else
            *period_of(out, bit) = period_get(a, bit);
        out->set |= bit;
    }
}

void lwm2m_attr_effective(const lwm2m_attr_table_t *t, const lwm2m_path_t *path,
                          const lwm2m_attrs_t *defaults, lwm2m_attrs_t *out)
{
    *out = defaults ? *defaults : (lwm2m_attrs_t){0};
    if (!t || !path)
        return;
    for (uint8_t level = 1; level <= path->len; level++) {
        lwm2m_path_t up = *path;
        up.len = level;
        const lwm2m_attr_entry_t *e = find(t, &up);
        if (e)
            overlay(out, &e->attrs);
    }
}

/* ---------------------------------------------------------------- notify */

static bool numeric_value(const lwm2m_value_t *v, double *out)
{
    if (!v)
        return false;
    switch (v->type) {
    case LWM2M_TYPE_INTEGER:
    case LWM2M_TYPE_TIME: *out = (double)v->v.i; return true;
    case LWM2M_TYPE_UNSIGNED: *out = (double)v->v.u; return true;
    case LWM2M_TYPE_FLOAT: *out = v->v.f; return true;
    default: return false;
    }
}

/* Change Value Conditions: gt or lt crossed, or a step of st. */
static bool value_condition(const lwm2m_attrs_t *a, const lwm2m_observation_t *o, double v)
{
    if (!o->has_value)
        return true;
    double last = o->last_value;
    if (has(a, LWM2M_ATTR_GT) && ((last <= a->gt) != (v <= a->gt)))
        return true;
    if (has(a, LWM2M_ATTR_LT) && ((last < a->lt) != (v < a->lt)))
        return true;
    return has(a, LWM2M_ATTR_ST) && (v - last >= a->st || last - v >= a->st);
}

static cs_time_ms_t after(cs_time_ms_t t, uint32_t seconds)
{
    return t + (cs_time_ms_t)seconds * 1000u;
}

bool lwm2m_notify_due(const lwm2m_attrs_t *a, lwm2m_observation_t *o, const lwm2m_value_t *value,
                      bool changed, cs_time_ms_t now)
{
    static const lwm2m_attrs_t none = {0};
    if (!a)
        a = &none;
    o->last_eval = now;
    double v;
    bool condition = (a->set & NUMERIC_ATTRS) && numeric_value(value, &v) ? value_condition(a, o, v)
                                                                          : changed;
    if (condition)
        o->pending = true;
    uint32_t pmin = has(a, LWM2M_ATTR_PMIN) ? a->pmin : 0;
    if (o->pending && now >= after(o->last_sent, pmin))
        return true;
    /* a pmax not above pmin (levels can combine so) cannot be kept: ignore it */
    return has(a, LWM2M_ATTR_PMAX) && a->pmax > pmin && now >= after(o->last_sent, a->pmax);
}

void lwm2m_notify_sent(lwm2m_observation_t *o, const lwm2m_value_t *value, cs_time_ms_t now)
{
    o->last_sent = now;
    o->pending = false;
    o->has_value = numeric_value(value, &o->last_value);
}

static cs_time_ms_t earliest(cs_time_ms_t a, cs_time_ms_t b)
{
    return a < b ? a : b;
}

cs_time_ms_t lwm2m_notify_next(const lwm2m_attrs_t *a, const lwm2m_observation_t *o)
{
    static const lwm2m_attrs_t none = {0};
    if (!a)
        a = &none;
    uint32_t pmin = has(a, LWM2M_ATTR_PMIN) ? a->pmin : 0;
    cs_time_ms_t t = CS_TIME_NEVER;
    if (o->pending)
        t = after(o->last_sent, pmin);
    if (has(a, LWM2M_ATTR_PMAX) && a->pmax > pmin)
        t = earliest(t, after(o->last_sent, a->pmax));
    if (has(a, LWM2M_ATTR_EPMAX)) {
        cs_time_ms_t eval = after(o->last_eval, a->epmax);
        if (has(a, LWM2M_ATTR_EPMIN) && eval < after(o->last_eval, a->epmin))
            eval = after(o->last_eval, a->epmin);
        t = earliest(t, eval);
    }
    return t;
}
