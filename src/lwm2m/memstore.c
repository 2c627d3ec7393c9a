/* Instances and values in a fixed table of records (see the header). A
 * record with path.len 0 is free. Linear scans: the table holds the few
 * dozen values of a device's configuration objects. */
#include "coreseal/lwm2m_memstore.h"
#include "coreseal/common.h"

#include <stdint.h>
#include <string.h>

static void clear(lwm2m_memstore_t *m)
{
    memset(m->rec, 0, m->cap * sizeof *m->rec);
    if (m->blob)
        memset(m->blob, 0, m->blob_cap); /* keys do not linger */
    m->blob_used = 0;
}

void lwm2m_memstore_init(lwm2m_memstore_t *m, lwm2m_mem_record_t *rec, size_t cap, uint8_t *blob,
                         size_t blob_cap)
{
    m->rec = rec;
    m->cap = cap;
    m->blob = blob;
    m->blob_cap = !blob ? 0 : blob_cap < LWM2M_MEM_BLOB_MAX ? blob_cap : LWM2M_MEM_BLOB_MAX;
    clear(m);
}

static bool is_bytes(lwm2m_type_t t)
{
    return t == LWM2M_TYPE_STRING || t == LWM2M_TYPE_OPAQUE || t == LWM2M_TYPE_CORELNK;
}

static bool in_blob(const lwm2m_mem_record_t *r)
{
    return is_bytes(r->type) && r->len > LWM2M_MEM_VALUE_MAX;
}

/* Takes r's value out of the blob area and closes the gap (the values
 * behind it move down), so that the free space stays in one piece. */
static void release_blob(lwm2m_memstore_t *m, lwm2m_mem_record_t *r)
{
    if (!in_blob(r))
        return;
    size_t off = r->v.blob_off, n = r->len;
    memmove(m->blob + off, m->blob + off + n, m->blob_used - off - n);
    m->blob_used -= n;
    memset(m->blob + m->blob_used, 0, n);
    for (size_t i = 0; i < m->cap; i++)
        if (m->rec[i].path.len && in_blob(&m->rec[i]) && m->rec[i].v.blob_off > off)
            m->rec[i].v.blob_off = (uint16_t)(m->rec[i].v.blob_off - n);
    r->len = 0;
}

static bool same_path(const lwm2m_path_t *a, const lwm2m_path_t *b)
{
    return a->len == b->len && lwm2m_path_within(a, b);
}

static lwm2m_mem_record_t *find(const lwm2m_memstore_t *m, const lwm2m_path_t *p)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->rec[i].path.len && same_path(&m->rec[i].path, p))
            return &m->rec[i];
    return NULL;
}

static lwm2m_mem_record_t *free_record(const lwm2m_memstore_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (!m->rec[i].path.len)
            return &m->rec[i];
    return NULL;
}

/* Instance ids of obj (res NONE), or resource instance ids of /obj/inst/res. */
lwm2m_err_t lwm2m_memstore_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res,
                                uint16_t *ids, size_t cap, size_t *n)
{
    const lwm2m_memstore_t *m = arg;
    lwm2m_path_t prefix = {{obj, inst, res}, res == LWM2M_ID_NONE ? 1 : 3};
    uint8_t want = res == LWM2M_ID_NONE ? 2 : 4;
    *n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const lwm2m_path_t *p = &m->rec[i].path;
        if (p->len != want || !lwm2m_path_within(p, &prefix))
            continue;
        if (*n == cap)
            return LWM2M_ERR_NO_SPACE;
        ids[(*n)++] = p->ids[want - 1];
    }
    return want == 4 && *n == 0 ? LWM2M_ERR_END : LWM2M_OK;
}

lwm2m_err_t lwm2m_memstore_read(void *arg, const lwm2m_path_t *path, lwm2m_value_t *v)
{
    const lwm2m_mem_record_t *r = path->len >= 3 ? find(arg, path) : NULL;
    if (!r)
        return LWM2M_ERR_END;
    memset(v, 0, sizeof *v);
    v->type = r->type;
    switch (r->type) {
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        v->v.bytes.p = in_blob(r) ? ((const lwm2m_memstore_t *)arg)->blob + r->v.blob_off : r->v.bytes;
        v->v.bytes.n = r->len;
        break;
    case LWM2M_TYPE_OBJLNK: v->v.lnk.obj = r->v.lnk.obj; v->v.lnk.inst = r->v.lnk.inst; break;
    case LWM2M_TYPE_FLOAT: v->v.f = r->v.f; break;
    case LWM2M_TYPE_BOOLEAN: v->v.b = r->v.b; break;
    case LWM2M_TYPE_UNSIGNED: v->v.u = r->v.u; break;
    default: v->v.i = r->v.i; break;
    }
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_memstore_write(void *arg, const lwm2m_path_t *path, const lwm2m_value_t *v)
{
    lwm2m_memstore_t *m = arg;
    lwm2m_path_t inst = {{path->ids[0], path->ids[1]}, 2};
    if (path->len < 3 || !find(m, &inst))
        return LWM2M_ERR_END;
    size_t n = is_bytes(v->type) ? v->v.bytes.n : 0;
    lwm2m_mem_record_t *r = find(m, path);
    size_t old = r && in_blob(r) ? r->len : 0;
    /* a value copied from the area itself goes in before the old one leaves */
    uintptr_t src = n ? (uintptr_t)v->v.bytes.p : 0, area = (uintptr_t)m->blob;
    bool from_area = n && m->blob && src >= area && src < area + m->blob_used;
    if (n > LWM2M_MEM_VALUE_MAX && n > m->blob_cap - m->blob_used + (from_area ? 0 : old))
        return LWM2M_ERR_NO_SPACE;
    if (!r && !(r = free_record(m)))
        return LWM2M_ERR_FULL;
    size_t off = m->blob_used;
    uint8_t small[LWM2M_MEM_VALUE_MAX];
    if (n && n <= LWM2M_MEM_VALUE_MAX) /* its source may move when the old value leaves */
        memcpy(small, v->v.bytes.p, n);
    if (n > LWM2M_MEM_VALUE_MAX) {
        if (!from_area) {
            release_blob(m, r);
            off = m->blob_used;
        }
        memcpy(m->blob + off, v->v.bytes.p, n);
        m->blob_used += n;
        if (from_area && old) { /* the old value was below the new one */
            release_blob(m, r);
            off -= old;
        }
    } else {
        release_blob(m, r);
    }
    memset(r, 0, sizeof *r);
    r->path = *path;
    r->type = v->type;
    switch (v->type) {
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        if (n > LWM2M_MEM_VALUE_MAX)
            r->v.blob_off = (uint16_t)off;
        else if (n)
            memcpy(r->v.bytes, small, n);
        cs_wipe(small, n <= sizeof small ? n : 0);
        r->len = (uint16_t)n;
        break;
    case LWM2M_TYPE_OBJLNK: r->v.lnk.obj = v->v.lnk.obj; r->v.lnk.inst = v->v.lnk.inst; break;
    case LWM2M_TYPE_FLOAT: r->v.f = v->v.f; break;
    case LWM2M_TYPE_BOOLEAN: r->v.b = v->v.b; break;
    case LWM2M_TYPE_UNSIGNED: r->v.u = v->v.u; break;
    default: r->v.i = v->v.i; break;
    }
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_memstore_create(void *arg, uint16_t obj, uint16_t inst)
{
    lwm2m_memstore_t *m = arg;
    lwm2m_path_t p = {{obj, inst}, 2};
    if (find(m, &p))
        return LWM2M_OK;
    lwm2m_mem_record_t *r = free_record(m);
    if (!r)
        return LWM2M_ERR_FULL;
    memset(r, 0, sizeof *r);
    r->path = p;
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_memstore_delete_instance(void *arg, uint16_t obj, uint16_t inst)
{
    lwm2m_memstore_t *m = arg;
    lwm2m_path_t p = {{obj, inst}, 2};
    bool found = false;
    for (size_t i = 0; i < m->cap; i++)
        if (m->rec[i].path.len >= 2 && lwm2m_path_within(&m->rec[i].path, &p)) {
            found = true;
            release_blob(m, &m->rec[i]);
            memset(&m->rec[i], 0, sizeof m->rec[i]); /* keys do not linger */
        }
    return found ? LWM2M_OK : LWM2M_ERR_END;
}

lwm2m_err_t lwm2m_memstore_save(const lwm2m_memstore_t *m, uint8_t *out, size_t cap, size_t *len)
{
    if (!m || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_senml_enc_t e;
    lwm2m_senml_enc_init(&e, out, cap);
    for (size_t i = 0; i < m->cap; i++) {
        lwm2m_value_t v;
        if (m->rec[i].path.len >= 3 && lwm2m_memstore_read((void *)m, &m->rec[i].path, &v) == LWM2M_OK)
            lwm2m_senml_put(&e, &m->rec[i].path, &v);
    }
    return lwm2m_senml_enc_finish(&e, len);
}

lwm2m_err_t lwm2m_memstore_load(lwm2m_memstore_t *m, const uint8_t *in, size_t len)
{
    if (!m || (len && !in))
        return LWM2M_ERR_BAD_ARG;
    clear(m);
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    lwm2m_err_t err;
    lwm2m_senml_dec_init(&d, in, len);
    while ((err = lwm2m_senml_next(&d, &e)) == LWM2M_OK) {
        if (e.path.len < 3 || e.value.type == LWM2M_TYPE_NONE ||
            (err = lwm2m_memstore_create(m, e.path.ids[0], e.path.ids[1])) != LWM2M_OK ||
            (err = lwm2m_memstore_write(m, &e.path, &e.value)) != LWM2M_OK)
            break;
    }
    if (err == LWM2M_ERR_END)
        return LWM2M_OK;
    clear(m);
    return err == LWM2M_OK ? LWM2M_ERR_MALFORMED : err;
}
