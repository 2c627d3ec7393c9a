/* coreseal/lwm2m_model.h: the LwM2M object model and the Device Management
 * interface of a client (OMA LwM2M Core TS 1.2 §6.3, §7.4), sans-I/O and
 * without allocation.
 *
 * Object definitions (resource ids, types, operations) are tables; the
 * values live with the application, behind callbacks (list, read, write,
 * execute; create and delete when offered). A request comes
 * in as a parsed CoAP message; lwm2m_dm_handle() checks the operation
 * against the definitions, calls the application, and builds the response
 * (code, Content-Format, payload) in a caller buffer. Bootstrap-only objects
 * (0 Security, 21 OSCORE) are never readable or writable by a management
 * server through it (§E.1, §E.9). */
#ifndef CORESEAL_LWM2M_MODEL_H
#define CORESEAL_LWM2M_MODEL_H

#include "coreseal/lwm2m_report.h"

enum { LWM2M_OP_READ = 1, LWM2M_OP_WRITE = 2, LWM2M_OP_EXECUTE = 4 };

typedef struct {
    uint16_t id;
    const char *name;
    lwm2m_type_t type; /* NONE for executable resources */
    uint8_t ops;
    bool multiple;
    bool mandatory;
} lwm2m_res_def_t;

typedef struct {
    uint16_t id;
    const char *name;
    const char *version; /* "1.1", "2.0"; NULL for 1.0 */
    bool multi_instance;
    bool bootstrap_only;  /* never served to management servers */
    const lwm2m_res_def_t *res;
    size_t n_res;
} lwm2m_obj_def_t;

/* Objects 0, 1, 2, 3, 4, 5, 21 (v2.0) and 3303; NULL for others. */
const lwm2m_obj_def_t *lwm2m_obj_def(uint16_t id);
const lwm2m_res_def_t *lwm2m_res_def(const lwm2m_obj_def_t *o, uint16_t res);

/* The application's data, reached through callbacks. For multiple
 * resources, read_instances lists resource instance ids (or, with res =
 * LWM2M_ID_NONE, the object's instances). Return LWM2M_OK, LWM2M_ERR_END
 * (not present) or another error (mapped to 5.00). create and delete may
 * be NULL: Create and Delete are then 4.05. create makes an empty instance
 * that write then fills. */
#define LWM2M_ID_NONE 0xffff
typedef struct {
    void *arg;
    lwm2m_err_t (*list)(void *arg, uint16_t obj, uint16_t inst, uint16_t res, uint16_t *ids,
                        size_t cap, size_t *n);
    lwm2m_err_t (*read)(void *arg, const lwm2m_path_t *path, lwm2m_value_t *v);
    lwm2m_err_t (*write)(void *arg, const lwm2m_path_t *path, const lwm2m_value_t *v);
    /* LWM2M_ERR_BAD_ARG: not with these arguments, or not in this state
     * (4.00, e.g. a firmware update with no package); other errors 5.00 */
    lwm2m_err_t (*execute)(void *arg, const lwm2m_path_t *path, const uint8_t *args, size_t n);
    lwm2m_err_t (*create)(void *arg, uint16_t obj, uint16_t inst);
    lwm2m_err_t (*delete_instance)(void *arg, uint16_t obj, uint16_t inst);
    lwm2m_attr_table_t *attrs; /* Write-Attributes lands here; NULL: 4.05 */
} lwm2m_store_t;

typedef struct {
    uint8_t code;            /* CoAP response code */
    uint16_t content_format; /* valid when has_payload */
    bool has_payload;
    size_t payload_len;      /* bytes written to the caller's payload buffer */
    lwm2m_path_t created;    /* Create: /obj/inst, for the Location-Path (len 0 otherwise) */
    bool finished;           /* Bootstrap-Finish accepted (lwm2m_bs_handle) */
} lwm2m_dm_result_t;

/* Device Management for one request: GET (Read, or Discover with Accept
 * 40), PUT (Write replace), POST (Write partial update on an instance,
 * Execute on a resource, Create on an object), DELETE (an instance of a
 * multi-instance object), Write-Attributes (PUT with a query and no
 * payload; Discover then lists the attributes), and on the root FETCH
 * (Read-Composite) and iPATCH (Write-Composite) in SenML CBOR.
 * Create takes TLV or SenML CBOR; the instance id is the payload's (Object
 * Instance TLV, SenML names) or else the lowest free one; mandatory
 * writable resources must be given (4.00 otherwise). Read answers in the
 * Accept format, or TLV for object/instance paths and plain text for
 * single values when there is none. */
CS_MUST_CHECK lwm2m_err_t lwm2m_dm_handle(const lwm2m_store_t *store, const coap_msg_t *req,
                                          uint8_t *payload, size_t cap,
                                          lwm2m_dm_result_t *result);
/* The same for the LwM2M Server with Short Server ID ssid, under Access
 * Control (Core TS §7.3, object 2) when the client has more than one
 * server account: an operation the server has no right to is 4.01; a Read,
 * Discover or Observe of a whole object, and the composite operations, see
 * only the instances it may read; a Create makes the Access Control
 * instance of the new instance (owner: this server), a Delete removes it.
 * ssid 0 (or a single server account): no access control. */
CS_MUST_CHECK lwm2m_err_t lwm2m_dm_handle_as(const lwm2m_store_t *store, uint16_t ssid, const coap_msg_t *req,
                                             uint8_t *payload, size_t cap, lwm2m_dm_result_t *result);

/* Access Control (Core TS §7.3, object 2). Rights, the bits of an ACL
 * resource instance (/2/x/2/<ssid>): */
enum {
    LWM2M_ACL_READ = 1,    /* Read, Observe, Discover, Write-Attributes */
    LWM2M_ACL_WRITE = 2,
    LWM2M_ACL_EXECUTE = 4,
    LWM2M_ACL_DELETE = 8,
    LWM2M_ACL_CREATE = 16, /* on the instance of Object Instance ID 65535 */
    LWM2M_ACL_ALL = 31
};
/* What server ssid may do to /obj/inst (inst 65535: Create in obj), from
 * the Access Control instance of that object instance: its ACL entry for
 * ssid, else everything if ssid is its Access Control Owner, else the
 * default entry (resource instance 0), else nothing; nothing without an
 * Access Control instance. An Access Control instance itself may be read
 * by any server and changed or deleted by its owner. Everything with a
 * single server account (or ssid 0). */
uint8_t lwm2m_acl_rights(const lwm2m_store_t *store, uint16_t ssid, uint16_t obj, uint16_t inst);

/* An Access Control instance as a Bootstrap-Server provisions it: who may
 * do what to /object/instance (instance 65535: Create in object). */
#define LWM2M_ACO_MAX_ACL 4
typedef struct {
    uint16_t object, instance, owner;
    uint16_t ssid[LWM2M_ACO_MAX_ACL]; /* 0: the default entry */
    uint8_t rights[LWM2M_ACO_MAX_ACL];
    size_t n_acl;
} lwm2m_aco_t;

/* Send (LwM2M 1.1+ Information Reporting): the SenML CBOR payload of a POST /dp carrying the values
 * at `paths`, as Read-Composite would return them. LWM2M_ERR_BAD_PATH for a
 * bootstrap-only object or an unreadable resource, LWM2M_ERR_NO_SPACE when
 * out is short, LWM2M_ERR_MALFORMED when the store fails. */
CS_MUST_CHECK lwm2m_err_t lwm2m_send_payload(const lwm2m_store_t *store, const lwm2m_path_t *paths,
                                             size_t n, uint8_t *out, size_t cap, size_t *len);

/* Registration (§6.2): the query of a Register request, "ep=...&lt=...".
 * Writes Uri-Path "rd" and the Uri-Query options into an option list. */
typedef struct {
    const char *endpoint;
    uint32_t lifetime;
    const char *version; /* "1.2" */
    const char *binding; /* "U" */
    bool queue_mode;
} lwm2m_register_t;

CS_MUST_CHECK lwm2m_err_t lwm2m_register_options(const lwm2m_register_t *r, coap_optlist_t *l);
/* The Register payload: "</1/0>,</3/0>,..." for every instance the store
 * lists, with ";ver=" for objects whose version is not 1.0. */
CS_MUST_CHECK lwm2m_err_t lwm2m_register_payload(const lwm2m_store_t *store, const uint16_t *objs,
                                                 size_t n_objs, uint8_t *out, size_t cap,
                                                 size_t *len);
/* Server side: reads ep, lt, lwm2m, b, Q from a Register request. */
typedef struct {
    const char *endpoint;
    size_t endpoint_len;
    uint32_t lifetime;
    const char *version;
    size_t version_len;
    const char *binding;
    size_t binding_len;
    bool queue_mode;
} lwm2m_register_info_t;
CS_MUST_CHECK lwm2m_err_t lwm2m_register_parse(const coap_msg_t *req, lwm2m_register_info_t *info);
/* Server side: the location an Update (POST) or De-register (DELETE)
 * addresses, "rd/<location>", and an Update's lt= (0 when absent).
 * LWM2M_ERR_BAD_PATH for any other path, LWM2M_ERR_MALFORMED for a bad lt. */
CS_MUST_CHECK lwm2m_err_t lwm2m_update_parse(const coap_msg_t *req, uint32_t *location,
                                             uint32_t *lifetime);

/* The (path, value) entries of a LwM2M payload addressed to `base` (a
 * Write request, a Read answer, a Notify or Send), in TLV, SenML CBOR,
 * SenML JSON, LwM2M CBOR, or for one resource plain text, opaque or CBOR:
 * the decoder its Content-Format names. */
typedef struct {
    uint16_t cf;
    union { /* the decoder of cf */
        lwm2m_tlv_dec_t tlv;
        lwm2m_senml_dec_t senml;
        lwm2m_cbor_dec_t lcbor;
        lwm2m_senml_json_dec_t sjson;
    } d;
    const coap_msg_t *msg;
    lwm2m_path_t base;
    bool single_done;
} lwm2m_payload_iter_t;

/* 0, or the code refusing the payload's format (4.00 without one, 4.15
 * for a format not taken, 4.00 for text/opaque above a resource). */
CS_MUST_CHECK uint8_t lwm2m_payload_iter_init(lwm2m_payload_iter_t *it, const coap_msg_t *msg,
                                            const lwm2m_path_t *base);
/* LWM2M_ERR_END after the last entry. */
lwm2m_err_t lwm2m_payload_iter_next(lwm2m_payload_iter_t *it, lwm2m_entry_t *e);

#endif
