/* LwM2M Access Control (Core TS §7.3, object 2): what each LwM2M Server
 * may do to an object instance, read from the Access Control instances in
 * the application's store; and the Device Management entry point that
 * enforces it. With one server account there is nothing to decide: that
 * server may do everything (§7.3: Access Control is for several servers). */
#include "model_internal.h"

#include <string.h>

#define ACO 2 /* the Access Control object */
enum { ACO_OBJECT_ID = 0, ACO_INSTANCE_ID = 1, ACO_ACL = 2, ACO_OWNER = 3 };

/* An integer resource (ri LWM2M_ID_NONE: a single one) of ACO instance inst. */
static bool aco_int(const lwm2m_store_t *st, uint16_t inst, uint16_t res, uint16_t ri, uint32_t *out)
{
    lwm2m_path_t p = {.ids = {ACO, inst, res, ri}, .len = ri == LWM2M_ID_NONE ? 3 : 4};
    lwm2m_value_t v;
    if (st->read(st->arg, &p, &v) != LWM2M_OK || v.type != LWM2M_TYPE_INTEGER || v.v.i < 0 || v.v.i > 0xffff)
        return false;
    *out = (uint32_t)v.v.i;
    return true;
}

static size_t count_instances(const lwm2m_store_t *st, uint16_t obj, uint16_t *ids)
{
    size_t n = 0;
    return st->list(st->arg, obj, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, LWM2M_MAX_IDS, &n) == LWM2M_OK ? n : 0;
}

static bool several_servers(const lwm2m_store_t *st)
{
    uint16_t ids[LWM2M_MAX_IDS];
    return count_instances(st, 1, ids) > 1;
}

/* The Access Control instance governing /obj/inst, LWM2M_ID_NONE if none. */
static uint16_t aco_of(const lwm2m_store_t *st, uint16_t obj, uint16_t inst)
{
    uint16_t ids[LWM2M_MAX_IDS];
    size_t n = count_instances(st, ACO, ids);
    uint32_t o, i;
    for (size_t k = 0; k < n; k++)
        if (aco_int(st, ids[k], ACO_OBJECT_ID, LWM2M_ID_NONE, &o) && o == obj &&
            aco_int(st, ids[k], ACO_INSTANCE_ID, LWM2M_ID_NONE, &i) && i == inst)
            return ids[k];
    return LWM2M_ID_NONE;
}

static uint8_t rights(const lwm2m_store_t *st, uint16_t ssid, uint16_t obj, uint16_t inst)
{
    uint32_t owner = 0, acl;
    if (obj == ACO) /* the rules themselves: readable by all, the owner's to change */
        return LWM2M_ACL_READ |
               (aco_int(st, inst, ACO_OWNER, LWM2M_ID_NONE, &owner) && owner == ssid
                    ? LWM2M_ACL_WRITE | LWM2M_ACL_DELETE : 0);
    uint16_t aco = aco_of(st, obj, inst);
    if (aco == LWM2M_ID_NONE)
        return 0;
    if (aco_int(st, aco, ACO_ACL, ssid, &acl))
        return (uint8_t)(acl & LWM2M_ACL_ALL);
    if (aco_int(st, aco, ACO_OWNER, LWM2M_ID_NONE, &owner) && owner == ssid)
        return LWM2M_ACL_ALL;
    return aco_int(st, aco, ACO_ACL, 0, &acl) ? (uint8_t)(acl & LWM2M_ACL_ALL) : 0;
}

uint8_t lwm2m_acl_rights(const lwm2m_store_t *st, uint16_t ssid, uint16_t obj, uint16_t inst)
{
    if (!st || ssid == 0 || !several_servers(st))
        return LWM2M_ACL_ALL;
    return rights(st, ssid, obj, inst);
}

/* ---------------------------------------------------------------- a store seen by one server */

/* The store as server ssid may read it (a Read, Discover or Observe of a
 * whole object, Read-Composite): instances it may not read are neither
 * listed nor read. */
typedef struct {
    const lwm2m_store_t *inner;
    uint16_t ssid;
} view_t;

static lwm2m_err_t view_list(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids, size_t cap,
                             size_t *n)
{
    const view_t *v = arg;
    lwm2m_err_t e = v->inner->list(v->inner->arg, obj, inst, res, ids, cap, n);
    if (e != LWM2M_OK || inst != LWM2M_ID_NONE)
        return e;
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (rights(v->inner, v->ssid, obj, ids[i]) & LWM2M_ACL_READ)
            ids[k++] = ids[i];
    *n = k;
    return LWM2M_OK;
}

static lwm2m_err_t view_read(void *arg, const lwm2m_path_t *p, lwm2m_value_t *val)
{
    const view_t *v = arg;
    if (p->len >= 2 && !(rights(v->inner, v->ssid, p->ids[0], p->ids[1]) & LWM2M_ACL_READ))
        return LWM2M_ERR_END;
    return v->inner->read(v->inner->arg, p, val);
}

/* The right an operation on p needs (Core TS §7.3 Table: operations). */
static uint8_t right_needed(const coap_msg_t *req, const lwm2m_path_t *p)
{
    coap_opt_t q;
    switch (req->code) {
    case COAP_GET: return LWM2M_ACL_READ; /* Read, Discover, Observe */
    case COAP_PUT:
        return req->payload_len == 0 && coap_msg_find_option(req, COAP_OPT_URI_QUERY, &q)
                   ? LWM2M_ACL_READ /* Write-Attributes */
                   : LWM2M_ACL_WRITE;
    case COAP_POST: return p->len == 3 ? LWM2M_ACL_EXECUTE : p->len == 2 ? LWM2M_ACL_WRITE : LWM2M_ACL_CREATE;
    case COAP_DELETE: return LWM2M_ACL_DELETE;
    default: return 0;
    }
}

/* Whether ssid may write every instance a Write-Composite names. */
static bool composite_writable(const lwm2m_store_t *st, uint16_t ssid, const coap_msg_t *req)
{
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    lwm2m_senml_dec_init(&d, req->payload, req->payload_len);
    while (lwm2m_senml_next(&d, &e) == LWM2M_OK)
        if (e.path.len >= 2 && !(rights(st, ssid, e.path.ids[0], e.path.ids[1]) & LWM2M_ACL_WRITE))
            return false;
    return true; /* a malformed payload is dm_handle's to refuse */
}

/* After a Create by ssid: the new instance's Access Control instance,
 * owned by ssid (whose owner rule then gives it every right). */
static bool aco_create(const lwm2m_store_t *st, uint16_t ssid, const lwm2m_path_t *created)
{
    uint16_t ids[LWM2M_MAX_IDS];
    size_t n = count_instances(st, ACO, ids);
    uint16_t id = lwm2m_lowest_free_id(ids, n);
    const uint16_t res[3] = {ACO_OBJECT_ID, ACO_INSTANCE_ID, ACO_OWNER};
    const int64_t val[3] = {created->ids[0], created->ids[1], ssid};
    if (!st->create || st->create(st->arg, ACO, id) != LWM2M_OK)
        return false;
    for (int i = 0; i < 3; i++) {
        lwm2m_path_t p = {.ids = {ACO, id, res[i]}, .len = 3};
        lwm2m_value_t v = {.type = LWM2M_TYPE_INTEGER, .v.i = val[i]};
        if (st->write(st->arg, &p, &v) != LWM2M_OK)
            return false;
    }
    return true;
}

lwm2m_err_t lwm2m_dm_handle_as(const lwm2m_store_t *st, uint16_t ssid, const coap_msg_t *req, uint8_t *payload,
                               size_t cap, lwm2m_dm_result_t *r)
{
    if (!st || !req || !r)
        return LWM2M_ERR_BAD_ARG;
    if (ssid == 0 || !several_servers(st))
        return lwm2m_dm_handle(st, req, payload, cap, r);
    lwm2m_path_t p;
    if (lwm2m_path_from_msg(&p, req) != LWM2M_OK)
        return lwm2m_dm_handle(st, req, payload, cap, r); /* its 4.00 */
    view_t view = {st, ssid};
    lwm2m_store_t seen = *st;
    seen.arg = &view;
    seen.list = view_list;
    seen.read = view_read;
    seen.write = NULL; /* it serves reads only */
    seen.execute = NULL;
    seen.create = NULL;
    seen.delete_instance = NULL;
    uint8_t need = right_needed(req, &p);
    bool refused = p.len >= 1 && need && (p.len >= 2 || need == LWM2M_ACL_CREATE) && lwm2m_obj_def(p.ids[0]) &&
                   (p.len < 2 || lwm2m_instance_exists(st, p.ids[0], p.ids[1])) &&
                   !(rights(st, ssid, p.ids[0], p.len >= 2 ? p.ids[1] : LWM2M_ID_NONE) & need);
    bool composite_write = p.len == 0 && req->code == COAP_IPATCH;
    if (refused || (composite_write && !composite_writable(st, ssid, req))) {
        memset(r, 0, sizeof *r);
        r->code = COAP_UNAUTHORIZED;
        return LWM2M_OK;
    }
    /* reading a whole object or the root, it sees only what it may read */
    bool filtered = p.len < 2 && (req->code == COAP_GET || req->code == COAP_FETCH);
    lwm2m_err_t e = lwm2m_dm_handle(filtered ? &seen : st, req, payload, cap, r);
    if (e != LWM2M_OK)
        return e;
    if (r->code == COAP_CREATED && r->created.len == 2 && !aco_create(st, ssid, &r->created))
        r->code = COAP_INTERNAL_SERVER_ERROR; /* the instance stays, but none may reach it */
    if (r->code == COAP_DELETED && p.len == 2 && p.ids[0] != ACO) {
        uint16_t aco = aco_of(st, p.ids[0], p.ids[1]);
        if (aco != LWM2M_ID_NONE && st->delete_instance)
            (void)st->delete_instance(st->arg, ACO, aco);
    }
    return LWM2M_OK;
}
