/* LwM2M object definitions (OMA object registry: 0, 1, 2, 3, 4, 5, 21 v2.0,
 * 3303), the client's Device Management interface (Core TS §6.3: Read,
 * Discover, Write, Execute) over an application store, and the
 * Registration request (§6.2). */
#include "model_internal.h"

#include <string.h>

#define R LWM2M_OP_READ
#define W LWM2M_OP_WRITE
#define E LWM2M_OP_EXECUTE
#define T(x) LWM2M_TYPE_##x

static const lwm2m_res_def_t security_res[] = {
    {0, "LWM2M Server URI", T(STRING), 0, false, true},
    {1, "Bootstrap-Server", T(BOOLEAN), 0, false, true},
    {2, "Security Mode", T(INTEGER), 0, false, true},
    {3, "Public Key or Identity", T(OPAQUE), 0, false, true},
    {4, "Server Public Key", T(OPAQUE), 0, false, true},
    {5, "Secret Key", T(OPAQUE), 0, false, true},
    {10, "Short Server ID", T(INTEGER), 0, false, false},
    {11, "Client Hold Off Time", T(INTEGER), 0, false, false},
    {15, "Certificate Usage", T(INTEGER), 0, false, false},
    {17, "OSCORE Security Mode", T(OBJLNK), 0, false, false},
};

static const lwm2m_res_def_t server_res[] = {
    {0, "Short Server ID", T(INTEGER), R, false, true},
    {1, "Lifetime", T(INTEGER), R | W, false, true},
    {2, "Default Minimum Period", T(INTEGER), R | W, false, false},
    {3, "Default Maximum Period", T(INTEGER), R | W, false, false},
    {4, "Disable", T(NONE), E, false, false},
    {5, "Disable Timeout", T(INTEGER), R | W, false, false},
    {6, "Notification Storing", T(BOOLEAN), R | W, false, true},
    {7, "Binding", T(STRING), R | W, false, true},
    {8, "Registration Update Trigger", T(NONE), E, false, true},
    {23, "Mute Send", T(BOOLEAN), R | W, false, false},
};

static const lwm2m_res_def_t access_res[] = {
    {0, "Object ID", T(INTEGER), R, false, true},
    {1, "Object Instance ID", T(INTEGER), R, false, true},
    {2, "ACL", T(INTEGER), R | W, true, false},
    {3, "Access Control Owner", T(INTEGER), R | W, false, true},
};

static const lwm2m_res_def_t device_res[] = {
    {0, "Manufacturer", T(STRING), R, false, false},
    {1, "Model Number", T(STRING), R, false, false},
    {2, "Serial Number", T(STRING), R, false, false},
    {3, "Firmware Version", T(STRING), R, false, false},
    {4, "Reboot", T(NONE), E, false, true},
    {5, "Factory Reset", T(NONE), E, false, false},
    {6, "Available Power Sources", T(INTEGER), R, true, false},
    {7, "Power Source Voltage", T(INTEGER), R, true, false},
    {8, "Power Source Current", T(INTEGER), R, true, false},
    {9, "Battery Level", T(INTEGER), R, false, false},
    {10, "Memory Free", T(INTEGER), R, false, false},
    {11, "Error Code", T(INTEGER), R, true, true},
    {12, "Reset Error Code", T(NONE), E, false, false},
    {13, "Current Time", T(TIME), R | W, false, false},
    {14, "UTC Offset", T(STRING), R | W, false, false},
    {15, "Timezone", T(STRING), R | W, false, false},
    {16, "Supported Binding and Modes", T(STRING), R, false, true},
    {17, "Device Type", T(STRING), R, false, false},
    {18, "Hardware Version", T(STRING), R, false, false},
    {19, "Software Version", T(STRING), R, false, false},
    {20, "Battery Status", T(INTEGER), R, false, false},
    {21, "Memory Total", T(INTEGER), R, false, false},
};

static const lwm2m_res_def_t connmon_res[] = {
    {0, "Network Bearer", T(INTEGER), R, false, true},
    {1, "Available Network Bearer", T(INTEGER), R, true, true},
    {2, "Radio Signal Strength", T(INTEGER), R, false, true},
    {3, "Link Quality", T(INTEGER), R, false, false},
    {4, "IP Addresses", T(STRING), R, true, true},
    {5, "Router IP Addresses", T(STRING), R, true, false},
    {6, "Link Utilization", T(INTEGER), R, false, false},
    {7, "APN", T(STRING), R, true, false},
    {8, "Cell ID", T(INTEGER), R, false, false},
    {9, "SMNC", T(INTEGER), R, false, false},
    {10, "SMCC", T(INTEGER), R, false, false},
};

static const lwm2m_res_def_t firmware_res[] = {
    {0, "Package", T(OPAQUE), W, false, true},
    {1, "Package URI", T(STRING), R | W, false, true},
    {2, "Update", T(NONE), E, false, true},
    {3, "State", T(INTEGER), R, false, true},
    {5, "Update Result", T(INTEGER), R, false, true},
    {6, "PkgName", T(STRING), R, false, false},
    {7, "PkgVersion", T(STRING), R, false, false},
    {8, "Firmware Update Protocol Support", T(INTEGER), R, true, false},
    {9, "Firmware Update Delivery Method", T(INTEGER), R, false, true},
};

static const lwm2m_res_def_t oscore_res[] = {
    {0, "OSCORE Master Secret", T(OPAQUE), 0, false, true},
    {1, "OSCORE Sender ID", T(OPAQUE), 0, false, true},
    {2, "OSCORE Recipient ID", T(OPAQUE), 0, false, true},
    {3, "OSCORE AEAD Algorithm", T(INTEGER), 0, false, false},
    {4, "OSCORE HMAC Algorithm", T(INTEGER), 0, false, false},
    {5, "OSCORE Master Salt", T(OPAQUE), 0, false, false},
    {6, "OSCORE ID Context", T(OPAQUE), 0, false, false},
};

static const lwm2m_res_def_t temperature_res[] = {
    {5700, "Sensor Value", T(FLOAT), R, false, true},
    {5701, "Sensor Units", T(STRING), R, false, false},
    {5601, "Min Measured Value", T(FLOAT), R, false, false},
    {5602, "Max Measured Value", T(FLOAT), R, false, false},
    {5603, "Min Range Value", T(FLOAT), R, false, false},
    {5604, "Max Range Value", T(FLOAT), R, false, false},
    {5605, "Reset Min and Max Measured Values", T(NONE), E, false, false},
    {5750, "Application Type", T(STRING), R | W, false, false},
};

#define OBJ(id, name, ver, multi, bs, res) {id, name, ver, multi, bs, res, sizeof res / sizeof res[0]}
static const lwm2m_obj_def_t objects[] = {
    OBJ(0, "LWM2M Security", "1.2", true, true, security_res),
    OBJ(1, "LWM2M Server", "1.2", true, false, server_res),
    OBJ(2, "LWM2M Access Control", "1.1", true, false, access_res),
    OBJ(3, "Device", "1.2", false, false, device_res),
    OBJ(4, "Connectivity Monitoring", "1.3", false, false, connmon_res),
    OBJ(5, "Firmware Update", NULL, false, false, firmware_res),
    OBJ(21, "LWM2M OSCORE", "2.0", true, true, oscore_res),
    OBJ(3303, "Temperature", "1.1", true, false, temperature_res),
};

const lwm2m_obj_def_t *lwm2m_obj_def_at(size_t i)
{
    return i < sizeof objects / sizeof objects[0] ? &objects[i] : NULL;
}

const lwm2m_obj_def_t *lwm2m_obj_def(uint16_t id)
{
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        if (objects[i].id == id)
            return &objects[i];
    return NULL;
}

const lwm2m_res_def_t *lwm2m_res_def(const lwm2m_obj_def_t *o, uint16_t res)
{
    for (size_t i = 0; o && i < o->n_res; i++)
        if (o->res[i].id == res)
            return &o->res[i];
    return NULL;
}

/* ---------------------------------------------------------------- reading */

#define MAX_IDS LWM2M_MAX_IDS

static lwm2m_path_t path_of(uint16_t obj, uint16_t inst, uint16_t res, uint16_t ri, uint8_t len)
{
    lwm2m_path_t p = {{obj, inst, res, ri}, len};
    return p;
}

/* Calls emit for every readable value under `base`. */
typedef struct {
    lwm2m_tlv_enc_t *tlv;
    lwm2m_senml_enc_t *senml;
    lwm2m_cbor_enc_t *lcbor;
    lwm2m_senml_json_enc_t *sjson;
    uint16_t cf;
} sink_t;

/* One value: TLV by its id (inside the open containers), the others by
 * their full path. */
static void sink_put(sink_t *sink, const lwm2m_path_t *p, uint16_t id, const lwm2m_value_t *v)
{
    if (sink->cf == LWM2M_CF_TLV)
        lwm2m_tlv_put(sink->tlv, id, v);
    else if (sink->cf == LWM2M_CF_LWM2M_CBOR)
        lwm2m_cbor_put(sink->lcbor, p, v);
    else if (sink->cf == LWM2M_CF_SENML_JSON)
        lwm2m_senml_json_put(sink->sjson, p, v);
    else
        lwm2m_senml_put(sink->senml, p, v);
}

static lwm2m_err_t read_resource(const lwm2m_store_t *st, const lwm2m_res_def_t *rd,
                                 const lwm2m_path_t *rp, sink_t *sink, bool only_one)
{
    lwm2m_value_t v;
    if (!rd->multiple) {
        lwm2m_err_t e = st->read(st->arg, rp, &v);
        if (e != LWM2M_OK)
            return e;
        sink_put(sink, rp, rp->ids[2], &v);
        return LWM2M_OK;
    }
    uint16_t ids[MAX_IDS];
    size_t n;
    lwm2m_err_t e = st->list(st->arg, rp->ids[0], rp->ids[1], rp->ids[2], ids, MAX_IDS, &n);
    if (e != LWM2M_OK)
        return e;
    if (sink->cf == LWM2M_CF_TLV)
        lwm2m_tlv_begin_multiple(sink->tlv, rp->ids[2]);
    for (size_t i = 0; i < n; i++) {
        if (only_one && rp->len == 4 && ids[i] != rp->ids[3])
            continue;
        lwm2m_path_t ip = path_of(rp->ids[0], rp->ids[1], rp->ids[2], ids[i], 4);
        if ((e = st->read(st->arg, &ip, &v)) != LWM2M_OK)
            return e;
        sink_put(sink, &ip, ids[i], &v);
    }
    if (sink->cf == LWM2M_CF_TLV)
        lwm2m_tlv_end(sink->tlv);
    return LWM2M_OK;
}

static lwm2m_err_t read_instance(const lwm2m_store_t *st, const lwm2m_obj_def_t *od,
                                 uint16_t inst, sink_t *sink)
{
    for (size_t i = 0; i < od->n_res; i++) {
        const lwm2m_res_def_t *rd = &od->res[i];
        if (!(rd->ops & LWM2M_OP_READ))
            continue;
        lwm2m_path_t rp = path_of(od->id, inst, rd->id, 0, 3);
        lwm2m_err_t e = read_resource(st, rd, &rp, sink, false);
        if (e != LWM2M_OK && e != LWM2M_ERR_END) /* END: an absent optional resource */
            return e;
    }
    return LWM2M_OK;
}

static uint8_t code_of(lwm2m_err_t e)
{
    switch (e) {
    case LWM2M_OK: return COAP_CONTENT;
    case LWM2M_ERR_END: return COAP_NOT_FOUND;
    case LWM2M_ERR_NO_SPACE: return COAP_REQUEST_ENTITY_TOO_LARGE;
    case LWM2M_ERR_MALFORMED:
    case LWM2M_ERR_TYPE:
    case LWM2M_ERR_BAD_PATH: return COAP_BAD_REQUEST;
    case LWM2M_ERR_ACCESS: return COAP_UNAUTHORIZED;
    default: return COAP_INTERNAL_SERVER_ERROR;
    }
}

long lwm2m_msg_format(const coap_msg_t *req, uint16_t opt)
{
    coap_opt_t o;
    uint32_t v;
    return coap_msg_find_option(req, opt, &o) && coap_opt_uint(&o, &v) ? (long)v : -1;
}

uint16_t lwm2m_lowest_free_id(const uint16_t *ids, size_t n)
{
    for (uint16_t cand = 0;; cand++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = ids[i] == cand;
        if (!used)
            return cand; /* found by cand == n at the latest */
    }
}

bool lwm2m_instance_exists(const lwm2m_store_t *st, uint16_t obj, uint16_t inst)
{
    uint16_t ids[MAX_IDS];
    size_t n;
    if (st->list(st->arg, obj, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, MAX_IDS, &n) != LWM2M_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == inst)
            return true;
    return false;
}

/* The values at p (object, instance, resource or resource instance) into
 * the sink: TLV nests instances, SenML names every value. */
static lwm2m_err_t emit_path(const lwm2m_store_t *st, const lwm2m_obj_def_t *od,
                             const lwm2m_path_t *p, sink_t *sink)
{
    if (p->len >= 3)
        return read_resource(st, lwm2m_res_def(od, p->ids[2]), p, sink, true);
    if (p->len == 2)
        return read_instance(st, od, p->ids[1], sink);
    uint16_t ids[MAX_IDS];
    size_t n;
    lwm2m_err_t e = st->list(st->arg, p->ids[0], LWM2M_ID_NONE, LWM2M_ID_NONE, ids, MAX_IDS, &n);
    for (size_t i = 0; e == LWM2M_OK && i < n; i++) {
        if (sink->cf == LWM2M_CF_TLV)
            lwm2m_tlv_begin_instance(sink->tlv, ids[i]);
        e = read_instance(st, od, ids[i], sink);
        if (sink->cf == LWM2M_CF_TLV)
            lwm2m_tlv_end(sink->tlv);
    }
    return e;
}

static void dm_read(const lwm2m_store_t *st, const lwm2m_obj_def_t *od, const lwm2m_path_t *p,
                    long accept, uint8_t *out, size_t cap, lwm2m_dm_result_t *r)
{
    const lwm2m_res_def_t *rd = p->len >= 3 ? lwm2m_res_def(od, p->ids[2]) : NULL;
    bool single = rd && (!rd->multiple || p->len == 4);
    if (rd && !(rd->ops & LWM2M_OP_READ)) {
        r->code = COAP_METHOD_NOT_ALLOWED;
        return;
    }
    if (accept < 0) /* §7.4: TLV for structures, text or opaque for one value */
        accept = !single ? LWM2M_CF_TLV : rd->type == LWM2M_TYPE_OPAQUE ? LWM2M_CF_OPAQUE
                                                                       : LWM2M_CF_TEXT;
    lwm2m_err_t e = LWM2M_OK;
    if (accept == LWM2M_CF_TEXT || accept == LWM2M_CF_OPAQUE || accept == LWM2M_CF_CBOR) {
        lwm2m_value_t v;
        if (!single || (accept == LWM2M_CF_OPAQUE) != (rd->type == LWM2M_TYPE_OPAQUE && accept != LWM2M_CF_CBOR)) {
            r->code = COAP_NOT_ACCEPTABLE;
            return;
        }
        e = st->read(st->arg, p, &v);
        if (e == LWM2M_OK && accept == LWM2M_CF_OPAQUE) {
            if (v.v.bytes.n > cap) {
                e = LWM2M_ERR_NO_SPACE;
            } else {
                if (v.v.bytes.n)
                    memcpy(out, v.v.bytes.p, v.v.bytes.n);
                r->payload_len = v.v.bytes.n;
            }
        } else if (e == LWM2M_OK) {
            e = accept == LWM2M_CF_CBOR ? lwm2m_cbor_value_encode(&v, out, cap, &r->payload_len)
                                        : lwm2m_text_encode(&v, out, cap, &r->payload_len);
        }
    } else if (accept == LWM2M_CF_TLV || accept == LWM2M_CF_SENML_CBOR || accept == LWM2M_CF_LWM2M_CBOR ||
               accept == LWM2M_CF_SENML_JSON) {
        lwm2m_tlv_enc_t tlv;
        lwm2m_senml_enc_t senml;
        lwm2m_cbor_enc_t lcbor;
        lwm2m_senml_json_enc_t sjson;
        sink_t sink = {&tlv, &senml, &lcbor, &sjson, (uint16_t)accept};
        lwm2m_tlv_enc_init(&tlv, out, cap);
        lwm2m_senml_enc_init(&senml, out, cap);
        lwm2m_cbor_enc_init(&lcbor, out, cap);
        lwm2m_senml_json_enc_init(&sjson, out, cap);
        e = emit_path(st, od, p, &sink);
        if (e == LWM2M_OK)
            e = accept == LWM2M_CF_TLV          ? lwm2m_tlv_enc_finish(&tlv, &r->payload_len)
                : accept == LWM2M_CF_SENML_CBOR ? lwm2m_senml_enc_finish(&senml, &r->payload_len)
                : accept == LWM2M_CF_SENML_JSON ? lwm2m_senml_json_enc_finish(&sjson, &r->payload_len)
                                                : lwm2m_cbor_enc_finish(&lcbor, &r->payload_len);
    } else {
        r->code = COAP_NOT_ACCEPTABLE;
        return;
    }
    r->code = code_of(e);
    if (e == LWM2M_OK) {
        r->has_payload = true;
        r->content_format = (uint16_t)accept;
    }
}

/* ";dim=N" for a multiple resource with N instances. */
static void dim_attr(char *out, size_t n)
{
    char num[8];
    size_t nl = 0;
    do {
        num[nl++] = (char)('0' + n % 10);
        n /= 10;
    } while (n && nl < sizeof num);
    memcpy(out, ";dim=", 5);
    for (size_t j = 0; j < nl; j++)
        out[5 + j] = num[nl - 1 - j];
    out[5 + nl] = 0;
}

static bool append_link(uint8_t *out, size_t cap, size_t *len, const lwm2m_path_t *p,
                        const char *attrs)
{
    size_t n = lwm2m_link_append(out, cap, *len, p, attrs);
    if (n == 0)
        return false;
    *len = n;
    return true;
}

/* ";dim=2", ";ver=1.1" and the written attributes fit in this. */
#define ATTRS_TEXT_MAX 160

/* Appends the attributes Write-Attributes left at exactly p. */
static void add_written_attrs(const lwm2m_store_t *st, const lwm2m_path_t *p, char *attrs)
{
    const lwm2m_attrs_t *a = st->attrs ? lwm2m_attr_get(st->attrs, p) : NULL;
    size_t used = strlen(attrs);
    if (a)
        (void)lwm2m_attrs_format(a, attrs + used, ATTRS_TEXT_MAX - used);
}

static bool numeric_type(lwm2m_type_t t)
{
    return t == LWM2M_TYPE_INTEGER || t == LWM2M_TYPE_UNSIGNED || t == LWM2M_TYPE_FLOAT;
}

/* Write-Attributes (§6.3.4): gt/lt/st only on numeric resources. */
static void dm_write_attributes(const lwm2m_store_t *st, const lwm2m_obj_def_t *od,
                                const lwm2m_path_t *p, const coap_msg_t *req, lwm2m_dm_result_t *r)
{
    if (!st->attrs) {
        r->code = COAP_METHOD_NOT_ALLOWED;
        return;
    }
    const lwm2m_res_def_t *rd = p->len >= 3 ? lwm2m_res_def(od, p->ids[2]) : NULL;
    lwm2m_err_t e = lwm2m_attr_write(st->attrs, p, req, rd && numeric_type(rd->type));
    r->code = e == LWM2M_OK ? COAP_CHANGED : e == LWM2M_ERR_FULL ? COAP_INTERNAL_SERVER_ERROR
                                                                 : COAP_BAD_REQUEST;
}

/* Discover (§6.3.2): the object (with its version), its instances and the
 * resources they hold, multiple resources with their dimension. */
static void dm_discover(const lwm2m_store_t *st, const lwm2m_obj_def_t *od, const lwm2m_path_t *p,
                        uint8_t *out, size_t cap, lwm2m_dm_result_t *r)
{
    size_t len = 0;
    bool ok = true;
    uint16_t insts[MAX_IDS];
    size_t ni = 1;
    insts[0] = p->len >= 2 ? p->ids[1] : 0;
    if (p->len == 1) {
        char attrs[ATTRS_TEXT_MAX] = "";
        if (od->version) {
            memcpy(attrs, ";ver=", 5);
            memcpy(attrs + 5, od->version, strlen(od->version) + 1);
        }
        add_written_attrs(st, p, attrs);
        ok = append_link(out, cap, &len, p, attrs) &&
             st->list(st->arg, od->id, LWM2M_ID_NONE, LWM2M_ID_NONE, insts, MAX_IDS, &ni) == LWM2M_OK;
    }
    for (size_t i = 0; ok && i < ni; i++) {
        lwm2m_path_t ip = path_of(od->id, insts[i], 0, 0, 2);
        char iattrs[ATTRS_TEXT_MAX] = "";
        add_written_attrs(st, &ip, iattrs);
        if (p->len <= 2)
            ok = append_link(out, cap, &len, &ip, iattrs);
        for (size_t k = 0; ok && k < od->n_res; k++) {
            const lwm2m_res_def_t *rd = &od->res[k];
            lwm2m_path_t rp = path_of(od->id, insts[i], rd->id, 0, 3);
            char attrs[ATTRS_TEXT_MAX] = "";
            uint16_t ids[MAX_IDS];
            size_t n;
            lwm2m_value_t v;
            if (p->len == 3 && rd->id != p->ids[2])
                continue;
            if (rd->multiple) {
                if (st->list(st->arg, od->id, insts[i], rd->id, ids, MAX_IDS, &n) != LWM2M_OK)
                    continue; /* not instantiated */
                dim_attr(attrs, n);
            } else if (rd->type != LWM2M_TYPE_NONE && st->read(st->arg, &rp, &v) == LWM2M_ERR_END) {
                continue;
            }
            add_written_attrs(st, &rp, attrs);
            ok = append_link(out, cap, &len, &rp, attrs);
        }
    }
    if (!ok) {
        r->code = COAP_REQUEST_ENTITY_TOO_LARGE;
        return;
    }
    r->code = COAP_CONTENT;
    r->has_payload = true;
    r->content_format = LWM2M_CF_LINK;
    r->payload_len = len;
}

/* ---------------------------------------------------------------- writing */

/* Converts a decoded value to the resource's type where LwM2M allows it
 * (SenML numbers to integer/float/time, text to anything). */
lwm2m_err_t lwm2m_value_coerce(const lwm2m_entry_t *e, lwm2m_type_t want, uint16_t cf, lwm2m_value_t *v)
{
    if (cf == LWM2M_CF_TLV)
        return lwm2m_value_from_raw(e->raw, e->raw_len, want, v);
    if (cf == LWM2M_CF_TEXT)
        return lwm2m_text_decode(e->raw, e->raw_len, want, v);
    if (cf == LWM2M_CF_OPAQUE) {
        if (want != LWM2M_TYPE_OPAQUE)
            return LWM2M_ERR_TYPE;
        return lwm2m_value_from_raw(e->raw, e->raw_len, want, v);
    }
    *v = e->value;
    if (v->type == want)
        return LWM2M_OK;
    if (v->type == LWM2M_TYPE_INTEGER && want == LWM2M_TYPE_FLOAT) {
        v->v.f = (double)v->v.i;
    } else if (v->type == LWM2M_TYPE_INTEGER && (want == LWM2M_TYPE_TIME)) {
        /* same representation */
    } else if (v->type == LWM2M_TYPE_INTEGER && want == LWM2M_TYPE_UNSIGNED && v->v.i >= 0) {
        v->v.u = (uint64_t)v->v.i;
    } else if (v->type == LWM2M_TYPE_STRING && want == LWM2M_TYPE_OBJLNK) {
        return lwm2m_text_decode(v->v.bytes.p, v->v.bytes.n, want, v); /* LwM2M CBOR: "3:0" */
    } else if (v->type == LWM2M_TYPE_STRING &&
               (want == LWM2M_TYPE_CORELNK || want == LWM2M_TYPE_OPAQUE)) {
        /* a link is carried as a string; so are OSCORE Object v1.x values
         * (LwM2M 1.1), which v2.0 made Opaque: the bytes are the same */
    } else {
        return LWM2M_ERR_TYPE;
    }
    v->type = want;
    return LWM2M_OK;
}

/* The value an entry writes, typed by its resource; 0, or the CoAP code
 * that refuses it (no such resource, not writable, wrong type). */
static uint8_t writable_value(const lwm2m_obj_def_t *od, const lwm2m_entry_t *e, long cf,
                              lwm2m_value_t *v, const lwm2m_res_def_t **rd_out)
{
    const lwm2m_res_def_t *rd = e->path.len >= 3 ? lwm2m_res_def(od, e->path.ids[2]) : NULL;
    *rd_out = rd;
    if (!rd)
        return COAP_NOT_FOUND;
    if (!(rd->ops & LWM2M_OP_WRITE))
        return COAP_METHOD_NOT_ALLOWED;
    return lwm2m_value_coerce(e, rd->type, (uint16_t)cf, v) == LWM2M_OK ? 0 : COAP_BAD_REQUEST;
}

uint8_t lwm2m_payload_iter_init(lwm2m_payload_iter_t *it, const coap_msg_t *msg,
                                const lwm2m_path_t *base)
{
    long cf = lwm2m_msg_format(msg, COAP_OPT_CONTENT_FORMAT);
    bool single = cf == LWM2M_CF_TEXT || cf == LWM2M_CF_OPAQUE || cf == LWM2M_CF_CBOR;
    if (cf != LWM2M_CF_TLV && cf != LWM2M_CF_SENML_CBOR && cf != LWM2M_CF_LWM2M_CBOR && cf != LWM2M_CF_SENML_JSON &&
        !single)
        return cf < 0 ? COAP_BAD_REQUEST : COAP_UNSUPPORTED_CONTENT_FORMAT;
    if (single && base->len < 3)
        return COAP_BAD_REQUEST;
    it->cf = (uint16_t)cf;
    it->msg = msg;
    it->base = *base;
    it->single_done = false;
    if (cf == LWM2M_CF_TLV)
        lwm2m_tlv_dec_init(&it->d.tlv, msg->payload, msg->payload_len, base);
    else if (cf == LWM2M_CF_SENML_CBOR)
        lwm2m_senml_dec_init(&it->d.senml, msg->payload, msg->payload_len);
    else if (cf == LWM2M_CF_LWM2M_CBOR)
        lwm2m_cbor_dec_init(&it->d.lcbor, msg->payload, msg->payload_len);
    else if (cf == LWM2M_CF_SENML_JSON)
        lwm2m_senml_json_dec_init(&it->d.sjson, msg->payload, msg->payload_len);
    return 0;
}

lwm2m_err_t lwm2m_payload_iter_next(lwm2m_payload_iter_t *it, lwm2m_entry_t *e)
{
    if (it->cf == LWM2M_CF_TLV)
        return lwm2m_tlv_next(&it->d.tlv, e);
    if (it->cf == LWM2M_CF_SENML_CBOR)
        return lwm2m_senml_next(&it->d.senml, e);
    if (it->cf == LWM2M_CF_LWM2M_CBOR)
        return lwm2m_cbor_next(&it->d.lcbor, e);
    if (it->cf == LWM2M_CF_SENML_JSON)
        return lwm2m_senml_json_next(&it->d.sjson, e);
    if (it->single_done)
        return LWM2M_ERR_END;
    it->single_done = true;
    memset(e, 0, sizeof *e); /* text, opaque or CBOR: the whole payload is the value */
    e->path = it->base;
    if (it->cf == LWM2M_CF_CBOR)
        return lwm2m_cbor_value_decode(it->msg->payload, it->msg->payload_len, e);
    e->raw = it->msg->payload;
    e->raw_len = it->msg->payload_len;
    return LWM2M_OK;
}

/* Two passes over the payload: check every entry, then write them all, so
 * a bad entry leaves nothing half-written. With `create`, the instance
 * p names is created between the passes (and deleted again if a write
 * fails), and every mandatory writable resource must be in the payload. */
static void dm_write(const lwm2m_store_t *st, const lwm2m_obj_def_t *od, const lwm2m_path_t *p,
                     const coap_msg_t *req, bool create, lwm2m_dm_result_t *r)
{
    uint64_t given = 0; /* bit i: od->res[i] is in the payload */
    for (int pass = 0; pass < 2; pass++) {
        lwm2m_payload_iter_t it;
        lwm2m_entry_t e;
        lwm2m_err_t err;
        if ((r->code = lwm2m_payload_iter_init(&it, req, p)) != 0)
            return;
        while ((err = lwm2m_payload_iter_next(&it, &e)) == LWM2M_OK) {
            if (!lwm2m_path_within(&e.path, p) || e.path.ids[0] != od->id) {
                r->code = COAP_BAD_REQUEST;
                return;
            }
            const lwm2m_res_def_t *rd;
            lwm2m_value_t v;
            if ((r->code = writable_value(od, &e, it.cf, &v, &rd)) != 0)
                return;
            given |= (uint64_t)1 << ((size_t)(rd - od->res) & 63);
            if (pass == 1 && st->write(st->arg, &e.path, &v) != LWM2M_OK) {
                if (create && st->delete_instance)
                    (void)st->delete_instance(st->arg, od->id, p->ids[1]);
                r->code = COAP_INTERNAL_SERVER_ERROR;
                return;
            }
        }
        if (err != LWM2M_ERR_END) {
            r->code = COAP_BAD_REQUEST;
            return;
        }
        if (pass == 0 && create) {
            for (size_t i = 0; i < od->n_res && i < 64; i++)
                if (od->res[i].mandatory && (od->res[i].ops & LWM2M_OP_WRITE) && !(given >> i & 1)) {
                    r->code = COAP_BAD_REQUEST;
                    return;
                }
            if (st->create(st->arg, od->id, p->ids[1]) != LWM2M_OK) {
                r->code = COAP_INTERNAL_SERVER_ERROR;
                return;
            }
        }
    }
    r->code = create ? COAP_CREATED : COAP_CHANGED;
    if (create)
        r->created = *p;
}

/* The instance a Create payload names: an Object Instance TLV's id, or the
 * instance of the first SenML name; LWM2M_ID_NONE when it names none (the
 * device picks). */
static bool create_target(const coap_msg_t *req, long cf, uint16_t obj, uint16_t *inst)
{
    *inst = LWM2M_ID_NONE;
    const uint8_t *b = req->payload;
    size_t n = req->payload_len;
    if (cf == LWM2M_CF_TLV) {
        if (n == 0 || b[0] >> 6 != 0) /* no Object Instance TLV first */
            return true;
        if (n < ((b[0] & 0x20) ? 3u : 2u))
            return false;
        *inst = (b[0] & 0x20) ? (uint16_t)(b[1] << 8 | b[2]) : b[1];
        return *inst <= LWM2M_ID_MAX;
    }
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    lwm2m_senml_dec_init(&d, b, n);
    if (lwm2m_senml_next(&d, &e) != LWM2M_OK || e.path.len < 3 || e.path.ids[0] != obj)
        return false;
    *inst = e.path.ids[1];
    return true;
}

static void dm_create(const lwm2m_store_t *st, const lwm2m_obj_def_t *od, const coap_msg_t *req,
                      lwm2m_dm_result_t *r)
{
    long cf = lwm2m_msg_format(req, COAP_OPT_CONTENT_FORMAT);
    if (!st->create) {
        r->code = COAP_METHOD_NOT_ALLOWED;
        return;
    }
    if (cf != LWM2M_CF_TLV && cf != LWM2M_CF_SENML_CBOR) {
        r->code = cf < 0 ? COAP_BAD_REQUEST : COAP_UNSUPPORTED_CONTENT_FORMAT;
        return;
    }
    uint16_t ids[MAX_IDS], inst;
    size_t n = 0;
    if (st->list(st->arg, od->id, LWM2M_ID_NONE, LWM2M_ID_NONE, ids, MAX_IDS, &n) != LWM2M_OK)
        n = 0;
    if (!create_target(req, cf, od->id, &inst) || (!od->multi_instance && n > 0)) {
        r->code = COAP_BAD_REQUEST; /* malformed, or the single instance exists */
        return;
    }
    bool taken = false;
    if (inst == LWM2M_ID_NONE)
        inst = lwm2m_lowest_free_id(ids, n);
    for (size_t i = 0; i < n; i++)
        taken = taken || ids[i] == inst;
    if (taken || n == MAX_IDS) {
        r->code = COAP_BAD_REQUEST; /* the instance exists */
        return;
    }
    lwm2m_path_t p = {.ids = {od->id, inst}, .len = 2};
    dm_write(st, od, &p, req, true, r);
}

/* The object a request's path names, with the checks every operation
 * makes: 0, or the refusing code. */
static uint8_t check_target(const lwm2m_store_t *st, const lwm2m_path_t *p,
                            const lwm2m_obj_def_t **od)
{
    *od = p->len ? lwm2m_obj_def(p->ids[0]) : NULL;
    uint16_t ids[MAX_IDS];
    size_t n;
    if (!*od || st->list(st->arg, p->ids[0], LWM2M_ID_NONE, LWM2M_ID_NONE, ids, MAX_IDS, &n) != LWM2M_OK)
        return COAP_NOT_FOUND;
    if ((*od)->bootstrap_only) /* /0 and /21 belong to the bootstrap server */
        return COAP_UNAUTHORIZED;
    if (p->len >= 2 && !lwm2m_instance_exists(st, p->ids[0], p->ids[1]))
        return COAP_NOT_FOUND;
    if (p->len >= 3 && !lwm2m_res_def(*od, p->ids[2]))
        return COAP_NOT_FOUND;
    return 0;
}

/* One path of a Read-Composite or Send into the SenML sink: 0, or the
 * code refusing the whole operation. Paths that do not exist add nothing;
 * a bootstrap-only object or an unreadable resource refuses. */
static uint8_t read_into(const lwm2m_store_t *st, const lwm2m_path_t *p, sink_t *sink)
{
    const lwm2m_obj_def_t *od;
    uint8_t refuse = check_target(st, p, &od);
    if (refuse == COAP_NOT_FOUND)
        return 0;
    const lwm2m_res_def_t *rd = !refuse && p->len >= 3 ? lwm2m_res_def(od, p->ids[2]) : NULL;
    if (refuse || (rd && !(rd->ops & LWM2M_OP_READ)))
        return refuse ? refuse : COAP_METHOD_NOT_ALLOWED;
    lwm2m_err_t e = emit_path(st, od, p, sink);
    return e == LWM2M_OK || e == LWM2M_ERR_END ? 0 : code_of(e);
}

/* Read-Composite (FETCH /): the SenML CBOR request names the paths, the
 * answer holds all their values. */
static void dm_read_composite(const lwm2m_store_t *st, const coap_msg_t *req, uint8_t *out, size_t cap,
                              lwm2m_dm_result_t *r)
{
    long cf = lwm2m_msg_format(req, COAP_OPT_CONTENT_FORMAT), accept = lwm2m_msg_format(req, COAP_OPT_ACCEPT);
    if (cf != LWM2M_CF_SENML_CBOR) {
        r->code = cf < 0 ? COAP_BAD_REQUEST : COAP_UNSUPPORTED_CONTENT_FORMAT;
        return;
    }
    if (accept >= 0 && accept != LWM2M_CF_SENML_CBOR) {
        r->code = COAP_NOT_ACCEPTABLE;
        return;
    }
    lwm2m_senml_enc_t senml;
    sink_t sink = {NULL, &senml, NULL, NULL, LWM2M_CF_SENML_CBOR};
    lwm2m_senml_dec_t d;
    lwm2m_entry_t e;
    lwm2m_err_t err;
    lwm2m_senml_enc_init(&senml, out, cap);
    lwm2m_senml_dec_init(&d, req->payload, req->payload_len);
    while ((err = lwm2m_senml_next(&d, &e)) == LWM2M_OK)
        if ((r->code = read_into(st, &e.path, &sink)) != 0)
            return;
    if (err != LWM2M_ERR_END || (err = lwm2m_senml_enc_finish(&senml, &r->payload_len)) != LWM2M_OK) {
        r->code = err == LWM2M_ERR_NO_SPACE ? code_of(err) : COAP_BAD_REQUEST;
        return;
    }
    r->code = COAP_CONTENT;
    r->has_payload = true;
    r->content_format = LWM2M_CF_SENML_CBOR;
}

lwm2m_err_t lwm2m_send_payload(const lwm2m_store_t *st, const lwm2m_path_t *paths, size_t n,
                               uint8_t *out, size_t cap, size_t *len)
{
    if (!st || (n && !paths) || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    lwm2m_senml_enc_t senml;
    sink_t sink = {NULL, &senml, NULL, NULL, LWM2M_CF_SENML_CBOR};
    lwm2m_senml_enc_init(&senml, out, cap);
    for (size_t i = 0; i < n; i++) {
        switch (read_into(st, &paths[i], &sink)) {
        case 0: break;
        case COAP_UNAUTHORIZED:
        case COAP_METHOD_NOT_ALLOWED: return LWM2M_ERR_BAD_PATH;
        case COAP_REQUEST_ENTITY_TOO_LARGE: return LWM2M_ERR_NO_SPACE;
        default: return LWM2M_ERR_MALFORMED; /* the store failed */
        }
    }
    return lwm2m_senml_enc_finish(&senml, len);
}

/* Write-Composite (iPATCH /): resources of any objects in one SenML CBOR
 * payload, checked all before any is written. */
static void dm_write_composite(const lwm2m_store_t *st, const coap_msg_t *req, lwm2m_dm_result_t *r)
{
    long cf = lwm2m_msg_format(req, COAP_OPT_CONTENT_FORMAT);
    if (cf != LWM2M_CF_SENML_CBOR) {
        r->code = cf < 0 ? COAP_BAD_REQUEST : COAP_UNSUPPORTED_CONTENT_FORMAT;
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        lwm2m_senml_dec_t d;
        lwm2m_entry_t e;
        lwm2m_err_t err;
        lwm2m_senml_dec_init(&d, req->payload, req->payload_len);
        while ((err = lwm2m_senml_next(&d, &e)) == LWM2M_OK) {
            const lwm2m_obj_def_t *od;
            const lwm2m_res_def_t *rd;
            lwm2m_value_t v;
            if ((r->code = check_target(st, &e.path, &od)) != 0 ||
                (r->code = writable_value(od, &e, cf, &v, &rd)) != 0)
                return;
            if (pass == 1 && st->write(st->arg, &e.path, &v) != LWM2M_OK) {
                r->code = COAP_INTERNAL_SERVER_ERROR;
                return;
            }
        }
        if (err != LWM2M_ERR_END) {
            r->code = COAP_BAD_REQUEST;
            return;
        }
    }
    r->code = COAP_CHANGED;
}

/* ---------------------------------------------------------------- dispatch */

lwm2m_err_t lwm2m_dm_handle(const lwm2m_store_t *st, const coap_msg_t *req, uint8_t *payload,
                            size_t cap, lwm2m_dm_result_t *r)
{
    if (!st || !req || !r || (cap && !payload))
        return LWM2M_ERR_BAD_ARG;
    memset(r, 0, sizeof *r);
    lwm2m_path_t p;
    if (lwm2m_path_from_msg(&p, req) != LWM2M_OK) {
        r->code = COAP_BAD_REQUEST;
        return LWM2M_OK;
    }
    if (p.len == 0) { /* root: the composite operations (Bootstrap-Discover is elsewhere) */
        if (req->code == COAP_FETCH)
            dm_read_composite(st, req, payload, cap, r);
        else if (req->code == COAP_IPATCH)
            dm_write_composite(st, req, r);
        else
            r->code = COAP_METHOD_NOT_ALLOWED;
        return LWM2M_OK;
    }
    const lwm2m_obj_def_t *od;
    if ((r->code = check_target(st, &p, &od)) != 0)
        return LWM2M_OK;
    coap_opt_t o;
    long accept = lwm2m_msg_format(req, COAP_OPT_ACCEPT);
    switch (req->code) {
    case COAP_GET:
        if (accept == LWM2M_CF_LINK)
            dm_discover(st, od, &p, payload, cap, r);
        else
            dm_read(st, od, &p, accept, payload, cap, r);
        break;
    case COAP_PUT:
        if (req->payload_len == 0 && coap_msg_find_option(req, COAP_OPT_URI_QUERY, &o))
            dm_write_attributes(st, od, &p, req, r);
        else if (p.len < 2)
            r->code = COAP_METHOD_NOT_ALLOWED;
        else
            dm_write(st, od, &p, req, false, r);
        break;
    case COAP_POST:
        if (p.len == 3) { /* Execute */
            const lwm2m_res_def_t *rd = lwm2m_res_def(od, p.ids[2]);
            lwm2m_err_t e = !(rd->ops & LWM2M_OP_EXECUTE)
                                ? LWM2M_ERR_UNSUPPORTED
                                : st->execute(st->arg, &p, req->payload, req->payload_len);
            r->code = e == LWM2M_OK                ? COAP_CHANGED
                      : e == LWM2M_ERR_UNSUPPORTED ? COAP_METHOD_NOT_ALLOWED
                      : e == LWM2M_ERR_BAD_ARG     ? COAP_BAD_REQUEST
                                                   : COAP_INTERNAL_SERVER_ERROR;
        } else if (p.len == 2) {
            dm_write(st, od, &p, req, false, r); /* partial update */
        } else {
            dm_create(st, od, req, r);
        }
        break;
    case COAP_DELETE:
        if (p.len != 2 || !od->multi_instance || !st->delete_instance)
            r->code = COAP_METHOD_NOT_ALLOWED;
        else
            r->code = st->delete_instance(st->arg, p.ids[0], p.ids[1]) == LWM2M_OK
                          ? COAP_DELETED : COAP_INTERNAL_SERVER_ERROR;
        break;
    default: r->code = COAP_METHOD_NOT_ALLOWED;
    }
    return LWM2M_OK;
}

/* ---------------------------------------------------------------- registration */

size_t lwm2m_put_dec(char *out, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void lwm2m_add_query(coap_optlist_t *l, const char *key, const char *val, size_t vlen)
{
    char buf[96];
    size_t kl = strlen(key);
    if (kl + 1 + vlen > sizeof buf) {
        l->err = COAP_ERR_NO_SPACE;
        return;
    }
    memcpy(buf, key, kl);
    buf[kl] = '=';
    memcpy(buf + kl + 1, val, vlen);
    coap_optlist_add(l, COAP_OPT_URI_QUERY, buf, kl + 1 + vlen);
}

lwm2m_err_t lwm2m_register_options(const lwm2m_register_t *r, coap_optlist_t *l)
{
    if (!r || !l || !r->endpoint || !r->endpoint[0])
        return LWM2M_ERR_BAD_ARG;
    char num[10];
    coap_optlist_add(l, COAP_OPT_URI_PATH, "rd", 2);
    lwm2m_add_query(l, "ep", r->endpoint, strlen(r->endpoint));
    lwm2m_add_query(l, "lt", num, lwm2m_put_dec(num, r->lifetime));
    const char *ver = r->version ? r->version : "1.2";
    lwm2m_add_query(l, "lwm2m", ver, strlen(ver));
    const char *b = r->binding ? r->binding : "U";
    lwm2m_add_query(l, "b", b, strlen(b));
    if (r->queue_mode)
        coap_optlist_add(l, COAP_OPT_URI_QUERY, "Q", 1);
    return l->err == COAP_OK ? LWM2M_OK : LWM2M_ERR_NO_SPACE;
}

lwm2m_err_t lwm2m_register_payload(const lwm2m_store_t *st, const uint16_t *objs, size_t n_objs,
                                   uint8_t *out, size_t cap, size_t *len)
{
    if (!st || !objs || !out || !len)
        return LWM2M_ERR_BAD_ARG;
    size_t n = 0;
    for (size_t i = 0; i < n_objs; i++) {
        const lwm2m_obj_def_t *od = lwm2m_obj_def(objs[i]);
        uint16_t ids[MAX_IDS];
        size_t ni = 0;
        if (st->list(st->arg, objs[i], LWM2M_ID_NONE, LWM2M_ID_NONE, ids, MAX_IDS, &ni) != LWM2M_OK)
            continue;
        if (od && od->version) { /* §6.2.1: versions other than 1.0 are announced */
            char attrs[16] = ";ver=";
            memcpy(attrs + 5, od->version, strlen(od->version) + 1);
            lwm2m_path_t op = path_of(objs[i], 0, 0, 0, 1);
            if (!(n = lwm2m_link_append(out, cap, n, &op, attrs)))
                return LWM2M_ERR_NO_SPACE;
        }
        for (size_t k = 0; k < ni; k++) {
            lwm2m_path_t ip = path_of(objs[i], ids[k], 0, 0, 2);
            if (!(n = lwm2m_link_append(out, cap, n, &ip, NULL)))
                return LWM2M_ERR_NO_SPACE;
        }
    }
    *len = n;
    return LWM2M_OK;
}

uint32_t lwm2m_get_dec(const char *s, size_t n, bool *ok)
{
    uint32_t v = 0;
    *ok = n > 0 && n <= 9;
    for (size_t i = 0; i < n && *ok; i++) {
        *ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    return v;
}

lwm2m_err_t lwm2m_register_parse(const coap_msg_t *req, lwm2m_register_info_t *info)
{
    if (!req || !info)
        return LWM2M_ERR_BAD_ARG;
    memset(info, 0, sizeof *info);
    info->lifetime = 86400; /* §6.2.1 default */
    coap_opt_iter_t it;
    coap_opt_t o;
    bool rd = false;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o)) {
        const char *s = (const char *)o.val;
        if (o.num == COAP_OPT_URI_PATH)
            rd = o.len == 2 && !memcmp(s, "rd", 2);
        if (o.num != COAP_OPT_URI_QUERY)
            continue;
        const char *eq = memchr(s, '=', o.len);
        size_t kl = eq ? (size_t)(eq - s) : o.len, vl = eq ? o.len - kl - 1 : 0;
        const char *v = eq ? eq + 1 : NULL;
        bool ok = true;
        if (kl == 2 && !memcmp(s, "ep", 2) && vl) {
            info->endpoint = v;
            info->endpoint_len = vl;
        } else if (kl == 2 && !memcmp(s, "lt", 2)) {
            info->lifetime = lwm2m_get_dec(v, vl, &ok);
        } else if (kl == 5 && !memcmp(s, "lwm2m", 5)) {
            info->version = v;
            info->version_len = vl;
        } else if (kl == 1 && s[0] == 'b') {
            info->binding = v;
            info->binding_len = vl;
        } else if (kl == 1 && s[0] == 'Q' && !eq) {
            info->queue_mode = true;
        }
        if (!ok)
            return LWM2M_ERR_MALFORMED;
    }
    return rd && info->endpoint && req->code == COAP_POST ? LWM2M_OK : LWM2M_ERR_MALFORMED;
}

lwm2m_err_t lwm2m_update_parse(const coap_msg_t *req, uint32_t *location, uint32_t *lifetime)
{
    if (!req || !location || !lifetime)
        return LWM2M_ERR_BAD_ARG;
    coap_opt_iter_t it;
    coap_opt_t o;
    bool path_ok = true, lt_ok = true;
    int seg = 0;
    *lifetime = 0;
    coap_opt_iter_init(&it, req);
    while (coap_opt_next(&it, &o)) {
        const char *s = (const char *)o.val;
        if (o.num == COAP_OPT_URI_PATH) {
            if (seg == 0)
                path_ok = o.len == 2 && !memcmp(s, "rd", 2);
            else if (seg == 1 && path_ok)
                *location = lwm2m_get_dec(s, o.len, &path_ok);
            seg++;
        } else if (o.num == COAP_OPT_URI_QUERY && o.len >= 3 && !memcmp(s, "lt=", 3)) {
            *lifetime = lwm2m_get_dec(s + 3, o.len - 3, &lt_ok);
        }
    }
    if (!path_ok || seg != 2)
        return LWM2M_ERR_BAD_PATH;
    return lt_ok ? LWM2M_OK : LWM2M_ERR_MALFORMED;
}
