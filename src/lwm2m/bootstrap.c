/* The LwM2M Bootstrap interface (Core TS 1.2 §6.1): the client's side of
 * Bootstrap-Discover/Read/Write/Delete/Finish over the application store,
 * the accounts bootstrap leaves behind, and the Bootstrap-Server's request
 * parser and Bootstrap-Write payloads. */
#include "coreseal/lwm2m_bootstrap.h"

#include <string.h>

#include "model_internal.h"

/* ---------------------------------------------------------------- values */

static bool read_int(const lwm2m_store_t *st, uint16_t obj, uint16_t inst, uint16_t res, int64_t *out)
{
    lwm2m_path_t p = {{obj, inst, res}, 3};
    lwm2m_value_t v;
    if (st->read(st->arg, &p, &v) != LWM2M_OK)
        return false;
    if (v.type == LWM2M_TYPE_UNSIGNED && v.v.u <= INT64_MAX)
        *out = (int64_t)v.v.u;
    else if (v.type == LWM2M_TYPE_INTEGER)
        *out = v.v.i;
    else
        return false;
    return true;
}

/* STRING and OPAQUE alike: OSCORE Object v1.x held strings, v2.0 opaque. */
static bool read_bytes(const lwm2m_store_t *st, uint16_t obj, uint16_t inst, uint16_t res,
                       const uint8_t **p, size_t *n)
{
    lwm2m_path_t path = {{obj, inst, res}, 3};
    lwm2m_value_t v;
    if (st->read(st->arg, &path, &v) != LWM2M_OK ||
        (v.type != LWM2M_TYPE_STRING && v.type != LWM2M_TYPE_OPAQUE))
        return false;
    *p = v.v.bytes.p;
    *n = v.v.bytes.n;
    return true;
}

static bool is_bootstrap_account(const lwm2m_store_t *st, uint16_t inst)
{
    lwm2m_path_t p = {{0, inst, 1}, 3};
    lwm2m_value_t v;
    return st->read(st->arg, &p, &v) == LWM2M_OK && v.type == LWM2M_TYPE_BOOLEAN && v.v.b;
}

/* Resource 17 of /0/inst: true with the /21 instance it links to. */
static bool oscore_link(const lwm2m_store_t *st, uint16_t inst, uint16_t *oscore_inst, bool *valid)
{
    lwm2m_path_t p = {{0, inst, 17}, 3};
    lwm2m_value_t v;
    if (st->read(st->arg, &p, &v) != LWM2M_OK || v.type != LWM2M_TYPE_OBJLNK ||
        v.v.lnk.obj == 0xffff) /* 65535:65535 is the null link */
        return false;
    *oscore_inst = v.v.lnk.inst;
    *valid = v.v.lnk.obj == 21 && lwm2m_instance_exists(st, 21, v.v.lnk.inst);
    return true;
}

static size_t list_instances(const lwm2m_store_t *st, uint16_t obj, uint16_t ids[LWM2M_MAX_IDS])
{
    size_t n = 0;
    if (st->list(st->arg, obj, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, LWM2M_MAX_IDS, &n) != LWM2M_OK)
        return 0;
    return n;
}

/* ---------------------------------------------------------------- accounts */

static lwm2m_err_t fill_account(const lwm2m_store_t *st, uint16_t inst, bool bootstrap,
                                lwm2m_account_view_t *acc)
{
    memset(acc, 0, sizeof *acc);
    acc->security_inst = inst;
    acc->server_inst = LWM2M_ID_NONE;
    acc->oscore_inst = LWM2M_ID_NONE;
    const uint8_t *uri;
    if (read_bytes(st, 0, inst, 0, &uri, &acc->uri_len))
        acc->uri = (const char *)uri;
    bool valid = true;
    acc->has_oscore = oscore_link(st, inst, &acc->oscore_inst, &valid);
    if (!valid)
        return LWM2M_ERR_MALFORMED;
    int64_t mode;
    acc->security_mode = read_int(st, 0, inst, 2, &mode) && mode >= 0 && mode <= LWM2M_SEC_EST ? (uint8_t)mode
                                                                                             : LWM2M_SEC_NOSEC;
    bool dtls = acc->security_mode == LWM2M_SEC_PSK || acc->security_mode == LWM2M_SEC_CERT;
    if (dtls && (!read_bytes(st, 0, inst, 3, &acc->identity, &acc->identity_len) ||
                 !read_bytes(st, 0, inst, 5, &acc->secret_key, &acc->secret_key_len) || !acc->identity_len ||
                 !acc->secret_key_len))
        return LWM2M_ERR_MALFORMED; /* PSK or Certificate mode without its identity and key */
    if (acc->security_mode == LWM2M_SEC_CERT &&
        (!read_bytes(st, 0, inst, 4, &acc->server_public_key, &acc->server_public_key_len) ||
         !acc->server_public_key_len))
        return LWM2M_ERR_MALFORMED; /* nothing to verify the server with */
    int64_t usage = 3;
    if (read_int(st, 0, inst, 15, &usage) && (usage < 0 || usage > 3))
        return LWM2M_ERR_MALFORMED;
    acc->cert_usage = (uint8_t)usage;
    if (bootstrap)
        return LWM2M_OK;
    int64_t ssid, lifetime;
    if (!read_int(st, 0, inst, 10, &ssid) || ssid < 1 || ssid > 65534)
        return LWM2M_ERR_MALFORMED;
    acc->ssid = (uint16_t)ssid;
    uint16_t ids[LWM2M_MAX_IDS];
    size_t n = list_instances(st, 1, ids);
    for (size_t i = 0; i < n; i++) {
        int64_t s;
        if (read_int(st, 1, ids[i], 0, &s) && s == ssid) {
            acc->server_inst = ids[i];
            if (read_int(st, 1, ids[i], 1, &lifetime) && lifetime > 0 && lifetime <= UINT32_MAX)
                acc->lifetime = (uint32_t)lifetime;
            return LWM2M_OK;
        }
    }
    return LWM2M_ERR_MALFORMED; /* no /1 instance for this server */
}

lwm2m_err_t lwm2m_server_account(const lwm2m_store_t *st, size_t index, lwm2m_account_view_t *acc)
{
    if (!st || !acc)
        return LWM2M_ERR_BAD_ARG;
    uint16_t ids[LWM2M_MAX_IDS];
    size_t n = list_instances(st, 0, ids);
    for (size_t i = 0; i < n; i++)
        if (!is_bootstrap_account(st, ids[i]) && index-- == 0)
            return fill_account(st, ids[i], false, acc);
    return LWM2M_ERR_END;
}

lwm2m_err_t lwm2m_bootstrap_account(const lwm2m_store_t *st, lwm2m_account_view_t *acc)
{
    if (!st || !acc)
        return LWM2M_ERR_BAD_ARG;
    uint16_t ids[LWM2M_MAX_IDS];
    size_t n = list_instances(st, 0, ids);
    for (size_t i = 0; i < n; i++)
        if (is_bootstrap_account(st, ids[i]))
            return fill_account(st, ids[i], true, acc);
    return LWM2M_ERR_END;
}

lwm2m_err_t lwm2m_oscore_object_params(const lwm2m_store_t *st, uint16_t inst, oscore_params_t *p)
{
    if (!st || !p)
        return LWM2M_ERR_BAD_ARG;
    memset(p, 0, sizeof *p);
    if (!lwm2m_instance_exists(st, 21, inst) ||
        !read_bytes(st, 21, inst, 0, &p->master_secret, &p->master_secret_len) ||
        !read_bytes(st, 21, inst, 1, &p->sender_id, &p->sender_id_len) ||
        !read_bytes(st, 21, inst, 2, &p->recipient_id, &p->recipient_id_len))
        return LWM2M_ERR_END;
    int64_t aead = 0, hkdf = 0;
    if (read_int(st, 21, inst, 3, &aead) && (aead < INT32_MIN || aead > INT32_MAX))
        return LWM2M_ERR_TYPE;
    p->aead_alg = (int32_t)aead;
    /* -10 is RFC 8613's HKDF SHA-256; 5 (HMAC 256/256) is how the object's
     * own text, citing RFC 8152 Table 7, has some 1.1 servers write it */
    if (read_int(st, 21, inst, 4, &hkdf) && (hkdf < INT32_MIN || hkdf > INT32_MAX))
        return LWM2M_ERR_TYPE;
    p->hkdf_alg = hkdf == 0 || hkdf == 5 ? -10 : (int32_t)hkdf;
    (void)read_bytes(st, 21, inst, 5, &p->master_salt, &p->master_salt_len);
    if (read_bytes(st, 21, inst, 6, &p->id_context, &p->id_context_len) && p->id_context_len == 0)
        p->id_context = NULL; /* an empty optional resource means none */
    p->send_kid_context = p->id_context != NULL;
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- client side */

lwm2m_err_t lwm2m_bootstrap_pack_request_options(const char *endpoint, uint16_t format, coap_optlist_t *l)
{
    if (!endpoint || !endpoint[0] || !l)
        return LWM2M_ERR_BAD_ARG;
    coap_optlist_add(l, COAP_OPT_URI_PATH, "bspack", 6);
    lwm2m_add_query(l, "ep", endpoint, strlen(endpoint));
    coap_optlist_add_uint(l, COAP_OPT_ACCEPT, format);
    return l->err == COAP_OK ? LWM2M_OK : LWM2M_ERR_NO_SPACE;
}

lwm2m_err_t lwm2m_bootstrap_request_options(const char *endpoint, uint16_t pct, coap_optlist_t *l)
{
    if (!endpoint || !endpoint[0] || !l)
        return LWM2M_ERR_BAD_ARG;
    coap_optlist_add(l, COAP_OPT_URI_PATH, "bs", 2);
    lwm2m_add_query(l, "ep", endpoint, strlen(endpoint));
    if (pct) {
        char num[10];
        lwm2m_add_query(l, "pct", num, lwm2m_put_dec(num, pct));
    }
    return l->err == COAP_OK ? LWM2M_OK : LWM2M_ERR_NO_SPACE;
}

/* Appends `s` (n bytes) to a C string of capacity cap; false if short. */
static bool cat(char *dst, size_t cap, const char *s, size_t n)
{
    size_t used = strlen(dst);
    if (n >= cap - used)
        return false;
    memcpy(dst + used, s, n);
    dst[used + n] = 0;
    return true;
}

static bool cat_ssid(char *attrs, size_t cap, int64_t ssid)
{
    char num[16] = ";ssid=";
    size_t k = lwm2m_put_dec(num + 6, (uint32_t)ssid);
    return cat(attrs, cap, num, 6 + k);
}

/* ";ssid=..;uri=".."" on /0, ";ssid=.." on /1 and on a server's /21. */
static bool instance_attrs(const lwm2m_store_t *st, uint16_t obj, uint16_t inst, char *attrs, size_t cap)
{
    int64_t ssid;
    attrs[0] = 0;
    if (obj == 0) {
        const uint8_t *uri;
        size_t n;
        bool bs = is_bootstrap_account(st, inst);
        if (!bs && read_int(st, 0, inst, 10, &ssid) && !cat_ssid(attrs, cap, ssid))
            return false;
        if (read_bytes(st, 0, inst, 0, &uri, &n))
            return cat(attrs, cap, ";uri=\"", 6) && cat(attrs, cap, (const char *)uri, n) &&
                   cat(attrs, cap, "\"", 1);
    } else if (obj == 1) {
        if (read_int(st, 1, inst, 0, &ssid))
            return cat_ssid(attrs, cap, ssid);
    } else if (obj == 21) {
        uint16_t ids[LWM2M_MAX_IDS], linked;
        size_t n = list_instances(st, 0, ids);
        bool valid;
        for (size_t i = 0; i < n; i++)
            if (!is_bootstrap_account(st, ids[i]) && oscore_link(st, ids[i], &linked, &valid) &&
                linked == inst && read_int(st, 0, ids[i], 10, &ssid))
                return cat_ssid(attrs, cap, ssid);
    }
    return true;
}

static void bs_discover(const lwm2m_store_t *st, const lwm2m_path_t *p, uint8_t *out, size_t cap,
                        lwm2m_dm_result_t *r)
{
    size_t len = 0;
    bool ok = true;
    if (p->len > 1) {
        r->code = COAP_BAD_REQUEST;
        return;
    }
    if (p->len == 0) {
        lwm2m_path_t root = {{0}, 0};
        ok = (len = lwm2m_link_append(out, cap, len, &root, ";lwm2m=1.2")) != 0;
    }
    bool found = false;
    for (size_t k = 0; ok; k++) {
        const lwm2m_obj_def_t *od = lwm2m_obj_def_at(k);
        uint16_t ids[LWM2M_MAX_IDS];
        size_t n;
        if (!od)
            break;
        if ((p->len == 1 && od->id != p->ids[0]) ||
            st->list(st->arg, od->id, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, LWM2M_MAX_IDS, &n) != LWM2M_OK)
            continue; /* not this one, or not supported */
        found = true;
        lwm2m_path_t op = {{od->id}, 1};
        char attrs[160] = "";
        if (od->version)
            (void)(cat(attrs, sizeof attrs, ";ver=", 5) && cat(attrs, sizeof attrs, od->version, strlen(od->version)));
        if (od->version || n == 0)
            ok = (len = lwm2m_link_append(out, cap, len, &op, attrs)) != 0;
        for (size_t i = 0; ok && i < n; i++) {
            lwm2m_path_t ip = {{od->id, ids[i]}, 2};
            ok = instance_attrs(st, od->id, ids[i], attrs, sizeof attrs) &&
                 (len = lwm2m_link_append(out, cap, len, &ip, attrs)) != 0;
        }
    }
    if (!ok) {
        r->code = COAP_REQUEST_ENTITY_TOO_LARGE;
        return;
    }
    if (!found && p->len == 1) {
        r->code = COAP_NOT_FOUND;
        return;
    }
    r->code = COAP_CONTENT;
    r->has_payload = true;
    r->content_format = LWM2M_CF_LINK;
    r->payload_len = len;
}

/* The entries of a Bootstrap-Write (or of a Bootstrap-Pack, under the
 * root): no access rights, any resource that holds a value; instances come
 * into being as the payload names them. With `write` false only checks:
 * 0, or the refusing code. */
static uint8_t bs_entries(const lwm2m_store_t *st, const lwm2m_path_t *p, const coap_msg_t *req, bool write)
{
    lwm2m_payload_iter_t it;
    lwm2m_entry_t e;
    lwm2m_err_t err;
    uint8_t code = lwm2m_payload_iter_init(&it, req, p);
    if (code)
        return code;
    while ((err = lwm2m_payload_iter_next(&it, &e)) == LWM2M_OK) {
        const lwm2m_obj_def_t *od = lwm2m_obj_def(e.path.ids[0]);
        const lwm2m_res_def_t *rd = e.path.len >= 3 ? lwm2m_res_def(od, e.path.ids[2]) : NULL;
        uint16_t ids[LWM2M_MAX_IDS];
        size_t n;
        lwm2m_value_t v;
        if (!lwm2m_path_within(&e.path, p) || e.path.len < 3 || (rd && rd->type == LWM2M_TYPE_NONE))
            return COAP_BAD_REQUEST;
        if (!od || !rd || st->list(st->arg, od->id, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, LWM2M_MAX_IDS, &n) != LWM2M_OK)
            return COAP_NOT_FOUND; /* an object or resource the device does not have */
        if (lwm2m_value_coerce(&e, rd->type, it.cf, &v) != LWM2M_OK)
            return COAP_BAD_REQUEST;
        bool exists = lwm2m_instance_exists(st, od->id, e.path.ids[1]);
        if (!write && !exists && ((!od->multi_instance && n > 0) || !st->create))
            return COAP_BAD_REQUEST; /* a second instance of a single-instance object */
        if (write && ((!exists && st->create(st->arg, od->id, e.path.ids[1]) != LWM2M_OK) ||
                      st->write(st->arg, &e.path, &v) != LWM2M_OK))
            return COAP_INTERNAL_SERVER_ERROR;
    }
    return err == LWM2M_ERR_END ? 0 : COAP_BAD_REQUEST;
}

/* Bootstrap-Write: checked whole before anything is written. */
static void bs_write(const lwm2m_store_t *st, const lwm2m_path_t *p, const coap_msg_t *req, lwm2m_dm_result_t *r)
{
    const lwm2m_obj_def_t *od = lwm2m_obj_def(p->ids[0]);
    uint16_t ids[LWM2M_MAX_IDS];
    size_t n;
    if (!od || st->list(st->arg, od->id, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, LWM2M_MAX_IDS, &n) != LWM2M_OK)
        r->code = COAP_NOT_FOUND;
    else if ((r->code = bs_entries(st, p, req, false)) == 0 && (r->code = bs_entries(st, p, req, true)) == 0)
        r->code = COAP_CHANGED;
}

/* What Bootstrap-Delete never removes: the Device object and the
 * Bootstrap-Server account with the /21 instance it links to. */
static bool spared(const lwm2m_store_t *st, uint16_t obj, uint16_t inst)
{
    if (obj == 3)
        return true;
    if (obj == 0)
        return is_bootstrap_account(st, inst);
    if (obj == 21) {
        lwm2m_account_view_t bs;
        return lwm2m_bootstrap_account(st, &bs) == LWM2M_OK && bs.has_oscore && bs.oscore_inst == inst;
    }
    return false;
}

static void bs_delete(const lwm2m_store_t *st, const lwm2m_path_t *p, lwm2m_dm_result_t *r)
{
    if (p->len > 2) {
        r->code = COAP_BAD_REQUEST;
        return;
    }
    if (p->len == 2 && (spared(st, p->ids[0], p->ids[1]) || !lwm2m_instance_exists(st, p->ids[0], p->ids[1]))) {
        r->code = COAP_BAD_REQUEST;
        return;
    }
    if (!st->delete_instance) {
        r->code = COAP_METHOD_NOT_ALLOWED;
        return;
    }
    /* "/" and "/o" take what the device lets go of; a named instance must go */
    for (size_t k = 0; p->len < 2; k++) {
        const lwm2m_obj_def_t *od = lwm2m_obj_def_at(k);
        uint16_t ids[LWM2M_MAX_IDS];
        if (!od)
            break;
        if (p->len == 1 && od->id != p->ids[0])
            continue;
        size_t n = list_instances(st, od->id, ids);
        bool keep[LWM2M_MAX_IDS];
        for (size_t i = 0; i < n; i++) /* decide before deleting what the links rest on */
            keep[i] = spared(st, od->id, ids[i]);
        for (size_t i = 0; i < n; i++)
            if (!keep[i])
                (void)st->delete_instance(st->arg, od->id, ids[i]);
    }
    if (p->len == 2 && st->delete_instance(st->arg, p->ids[0], p->ids[1]) != LWM2M_OK) {
        r->code = COAP_INTERNAL_SERVER_ERROR;
        return;
    }
    r->code = COAP_DELETED;
}

/* Bootstrap-Finish: at least one server account, each complete. */
static void bs_finish(const lwm2m_store_t *st, lwm2m_dm_result_t *r)
{
    lwm2m_account_view_t acc;
    lwm2m_err_t e;
    size_t i = 0;
    while ((e = lwm2m_server_account(st, i, &acc)) == LWM2M_OK)
        i++;
    r->finished = e == LWM2M_ERR_END && i > 0;
    r->code = r->finished ? COAP_CHANGED : COAP_NOT_ACCEPTABLE;
}

lwm2m_err_t lwm2m_bs_apply_pack(const lwm2m_store_t *st, const coap_msg_t *resp, lwm2m_dm_result_t *r)
{
    if (!st || !resp || !r)
        return LWM2M_ERR_BAD_ARG;
    memset(r, 0, sizeof *r);
    lwm2m_path_t root = {{0}, 0};
    if ((r->code = bs_entries(st, &root, resp, false)) != 0) /* nothing changes for a bad pack */
        return LWM2M_OK;
    bs_delete(st, &root, r);
    if ((r->code = bs_entries(st, &root, resp, true)) == 0)
        bs_finish(st, r);
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_bs_handle(const lwm2m_store_t *st, const coap_msg_t *req, uint8_t *payload,
                            size_t cap, lwm2m_dm_result_t *r)
{
    if (!st || !req || !r || (cap && !payload))
        return LWM2M_ERR_BAD_ARG;
    memset(r, 0, sizeof *r);
    if (req->code == COAP_POST && coap_msg_path_is(req, "bs")) {
        bs_finish(st, r);
        return LWM2M_OK;
    }
    lwm2m_path_t p;
    if (lwm2m_path_from_msg(&p, req) != LWM2M_OK) {
        r->code = COAP_BAD_REQUEST;
        return LWM2M_OK;
    }
    switch (req->code) {
    case COAP_GET:
        if (lwm2m_msg_format(req, COAP_OPT_ACCEPT) == LWM2M_CF_LINK)
            bs_discover(st, &p, payload, cap, r);
        else if (p.len >= 1 && (p.ids[0] == 1 || p.ids[0] == 2))
            return lwm2m_dm_handle(st, req, payload, cap, r); /* a plain Read */
        else
            r->code = COAP_UNAUTHORIZED; /* Bootstrap-Read covers /1 and /2 only */
        break;
    case COAP_PUT:
        if (p.len == 0)
            r->code = COAP_METHOD_NOT_ALLOWED;
        else
            bs_write(st, &p, req, r);
        break;
    case COAP_DELETE: bs_delete(st, &p, r); break;
    default: r->code = COAP_METHOD_NOT_ALLOWED;
    }
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- server side */

lwm2m_err_t lwm2m_bootstrap_request_parse(const coap_msg_t *req, lwm2m_bootstrap_info_t *info)
{
    if (!req || !info)
        return LWM2M_ERR_BAD_ARG;
    memset(info, 0, sizeof *info);
    info->pct = -1;
    info->pack = req->code == COAP_GET && coap_msg_path_is(req, "bspack");
    if (!info->pack && (req->code != COAP_POST || !coap_msg_path_is(req, "bs")))
        return LWM2M_ERR_MALFORMED;
    coap_opt_iter_t it;
    coap_opt_t o;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o)) {
        const char *s = (const char *)o.val;
        if (o.num != COAP_OPT_URI_QUERY)
            continue;
        if (o.len > 3 && !memcmp(s, "ep=", 3)) {
            info->endpoint = s + 3;
            info->endpoint_len = o.len - 3;
        } else if (o.len >= 4 && !memcmp(s, "pct=", 4)) {
            bool ok;
            uint32_t v = lwm2m_get_dec(s + 4, o.len - 4, &ok);
            if (!ok || v > 0xffff)
                return LWM2M_ERR_MALFORMED;
            info->pct = (long)v;
        }
    }
    return info->endpoint ? LWM2M_OK : LWM2M_ERR_MALFORMED;
}

/* Where the account writers put values: one instance's TLV, or a pack of
 * SenML CBOR records under /obj/inst. */
typedef struct {
    lwm2m_tlv_enc_t *tlv;
    lwm2m_senml_enc_t *senml;
    lwm2m_path_t inst;
} out_t;

static void put(out_t *o, uint16_t id, const lwm2m_value_t *v)
{
    if (o->tlv) {
        lwm2m_tlv_put(o->tlv, id, v);
    } else {
        lwm2m_path_t p = {{o->inst.ids[0], o->inst.ids[1], id}, 3};
        lwm2m_senml_put(o->senml, &p, v);
    }
}

static void put_int(out_t *o, uint16_t id, int64_t i)
{
    lwm2m_value_t v = {.type = LWM2M_TYPE_INTEGER, .v.i = i};
    put(o, id, &v);
}

static void put_bytes(out_t *o, uint16_t id, lwm2m_type_t type, const void *p, size_t n)
{
    lwm2m_value_t v = {.type = type};
    v.v.bytes.p = p;
    v.v.bytes.n = n;
    put(o, id, &v);
}

static void put_bool(out_t *o, uint16_t id, bool b)
{
    lwm2m_value_t v = {.type = LWM2M_TYPE_BOOLEAN, .v.b = b};
    put(o, id, &v);
}

/* /0/inst; a Certificate account's certificates and key only with_certificates */
static void security_values(out_t *o, const lwm2m_account_t *a, uint16_t oscore_inst, bool with_certificates)
{
    put_bytes(o, 0, LWM2M_TYPE_STRING, a->uri, strlen(a->uri));
    put_bool(o, 1, a->bootstrap);
    bool psk = a->psk_identity && a->psk_key, cert = !psk && a->cert;
    /* NoSec: resource 17 may say OSCORE */
    put_int(o, 2, psk ? LWM2M_SEC_PSK : cert ? LWM2M_SEC_CERT : LWM2M_SEC_NOSEC);
    if (cert && with_certificates) {
        put_bytes(o, 3, LWM2M_TYPE_OPAQUE, a->cert, a->cert_len);
        put_bytes(o, 4, LWM2M_TYPE_OPAQUE, a->server_cert, a->server_cert_len);
        put_bytes(o, 5, LWM2M_TYPE_OPAQUE, a->private_key, a->private_key_len);
    } else if (!cert) {
        put_bytes(o, 3, LWM2M_TYPE_OPAQUE, psk ? a->psk_identity : (const uint8_t *)"", psk ? a->psk_identity_len : 0);
        put_bytes(o, 4, LWM2M_TYPE_OPAQUE, "", 0);
        put_bytes(o, 5, LWM2M_TYPE_OPAQUE, psk ? a->psk_key : (const uint8_t *)"", psk ? a->psk_key_len : 0);
    }
    if (cert)
        put_int(o, 15, a->cert_usage);
    if (!a->bootstrap)
        put_int(o, 10, a->ssid);
    if (oscore_inst != LWM2M_ID_NONE) {
        lwm2m_value_t l = {.type = LWM2M_TYPE_OBJLNK, .v.lnk = {21, oscore_inst}};
        put(o, 17, &l);
    }
}

static void server_values(out_t *o, const lwm2m_account_t *a)
{
    const char *binding = a->binding ? a->binding : "U";
    put_int(o, 0, a->ssid);
    put_int(o, 1, a->lifetime);
    put_bool(o, 6, false);
    put_bytes(o, 7, LWM2M_TYPE_STRING, binding, strlen(binding));
}

static void oscore_values(out_t *o, const oscore_params_t *p)
{
    put_bytes(o, 0, LWM2M_TYPE_OPAQUE, p->master_secret, p->master_secret_len);
    put_bytes(o, 1, LWM2M_TYPE_OPAQUE, p->sender_id, p->sender_id_len);
    put_bytes(o, 2, LWM2M_TYPE_OPAQUE, p->recipient_id, p->recipient_id_len);
    if (p->aead_alg)
        put_int(o, 3, p->aead_alg);
    put_int(o, 4, p->hkdf_alg ? p->hkdf_alg : -10);
    if (p->master_salt_len)
        put_bytes(o, 5, LWM2M_TYPE_OPAQUE, p->master_salt, p->master_salt_len);
    if (p->id_context)
        put_bytes(o, 6, LWM2M_TYPE_OPAQUE, p->id_context, p->id_context_len);
}

/* An Access Control instance: its ACL is a multiple resource. */
static void access_values(out_t *o, const lwm2m_aco_t *aco)
{
    put_int(o, 0, aco->object);
    put_int(o, 1, aco->instance);
    if (o->tlv && aco->n_acl)
        lwm2m_tlv_begin_multiple(o->tlv, 2);
    for (size_t k = 0; k < aco->n_acl && k < LWM2M_ACO_MAX_ACL; k++) {
        lwm2m_value_t v = {.type = LWM2M_TYPE_INTEGER, .v.i = aco->rights[k]};
        lwm2m_path_t p = {{2, o->inst.ids[1], 2, aco->ssid[k]}, 4};
        if (o->tlv)
            lwm2m_tlv_put(o->tlv, aco->ssid[k], &v);
        else
            lwm2m_senml_put(o->senml, &p, &v);
    }
    if (o->tlv && aco->n_acl)
        lwm2m_tlv_end(o->tlv);
    put_int(o, 3, aco->owner);
}

lwm2m_err_t lwm2m_bs_access_payload(const lwm2m_account_t *a, uint8_t *out, size_t cap, size_t *len)
{
    if (!a || (a->n_aco && !a->aco) || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_tlv_enc_t e;
    out_t o = {&e, NULL, {{2, 0}, 2}};
    lwm2m_tlv_enc_init(&e, out, cap);
    for (size_t i = 0; i < a->n_aco; i++) {
        lwm2m_tlv_begin_instance(&e, (uint16_t)i);
        access_values(&o, &a->aco[i]);
        lwm2m_tlv_end(&e);
    }
    return lwm2m_tlv_enc_finish(&e, len);
}

lwm2m_err_t lwm2m_bs_security_payload(const lwm2m_account_t *a, uint16_t oscore_inst, uint8_t *out,
                                      size_t cap, size_t *len)
{
    if (!a || !a->uri || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_tlv_enc_t e;
    out_t o = {&e, NULL, {{0}, 0}};
    lwm2m_tlv_enc_init(&e, out, cap);
    security_values(&o, a, oscore_inst, false);
    return lwm2m_tlv_enc_finish(&e, len);
}

lwm2m_err_t lwm2m_bs_server_payload(const lwm2m_account_t *a, uint8_t *out, size_t cap, size_t *len)
{
    if (!a || !out || !len || a->bootstrap)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_tlv_enc_t e;
    out_t o = {&e, NULL, {{0}, 0}};
    lwm2m_tlv_enc_init(&e, out, cap);
    server_values(&o, a);
    return lwm2m_tlv_enc_finish(&e, len);
}

lwm2m_err_t lwm2m_bs_oscore_payload(const oscore_params_t *p, uint8_t *out, size_t cap, size_t *len)
{
    if (!p || !p->master_secret || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_tlv_enc_t e;
    out_t o = {&e, NULL, {{0}, 0}};
    lwm2m_tlv_enc_init(&e, out, cap);
    oscore_values(&o, p);
    return lwm2m_tlv_enc_finish(&e, len);
}

lwm2m_err_t lwm2m_bs_pack(const lwm2m_account_t *a, const oscore_params_t *const *params, const uint16_t *inst,
                          size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (!a || !inst || !n || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_senml_enc_t e;
    out_t o = {NULL, &e, {{21}, 2}};
    lwm2m_senml_enc_init(&e, out, cap);
    for (size_t k = 0; k < n; k++) {
        const oscore_params_t *p = params ? params[k] : NULL;
        if (!a[k].uri || a[k].bootstrap || (p && !p->master_secret) || inst[k] > LWM2M_ID_MAX)
            return LWM2M_ERR_BAD_ARG;
        o.inst = (lwm2m_path_t){{21, inst[k]}, 2};
        if (p)
            oscore_values(&o, p);
        o.inst.ids[0] = 0;
        security_values(&o, &a[k], p ? inst[k] : LWM2M_ID_NONE, true);
        o.inst.ids[0] = 1;
        server_values(&o, &a[k]);
    }
    for (size_t i = 0; i < a->n_aco && a->aco; i++) {
        o.inst = (lwm2m_path_t){{2, (uint16_t)i}, 2};
        access_values(&o, &a->aco[i]);
    }
    return lwm2m_senml_enc_finish(&e, len);
}
