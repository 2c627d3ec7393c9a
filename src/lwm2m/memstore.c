/* Instances and values in a fixed table of records (see the header). A
 * record with path.len 0 is free. Linear scans: the table holds the few
 * dozen values of a device's configuration objects. */
#include "coreseal/lwm2m_memstore.h"

#include <string.h>

void lwm2m_memstore_init(lwm2m_memstore_t *m, lwm2m_mem_record_t *rec, size_t cap)
{
    m->rec = rec;
    m->cap = cap;
    memset(rec, 0, cap * sizeof *rec);
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
        v->v.bytes.p = r->v.bytes;
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
    bool bytes = v->type == LWM2M_TYPE_STRING || v->type == LWM2M_TYPE_OPAQUE ||
                 v->type == LWM2M_TYPE_CORELNK;
    if (bytes && v->v.bytes.n > LWM2M_MEM_VALUE_MAX)
        return LWM2M_ERR_NO_SPACE;
    lwm2m_mem_record_t *r = find(m, path);
    if (!r && !(r = free_record(m)))
        return LWM2M_ERR_FULL;
    memset(r, 0, sizeof *r);
    r->path = *path;
    r->type = v->type;
    switch (v->type) {
    case LWM2M_TYPE_STRING:
    case LWM2M_TYPE_OPAQUE:
    case LWM2M_TYPE_CORELNK:
        if (v->v.bytes.n)
            memcpy(r->v.bytes, v->v.bytes.p, v->v.bytes.n);
        r->len = (uint8_t)v->v.bytes.n;
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
    lwm2m_memstore_init(m, m->rec, m->cap);
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
    lwm2m_memstore_init(m, m->rec, m->cap);
    return err == LWM2M_OK ? LWM2M_ERR_MALFORMED : err;
}
