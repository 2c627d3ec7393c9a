/* coreseal/lwm2m_report.h: Information Reporting on the client side (OMA
 * LwM2M Core TS 1.2 §5.1.2 notification attributes, §6.4 Observe and
 * Notify), sans-I/O and without allocation.
 *
 * A server sets attributes with Write-Attributes (PUT with a query and no
 * payload: "pmin=10&gt=25.5", a name without value removes it). They sit
 * on an object, an instance, a resource or a resource instance, and the
 * nearest level wins. For each observation the client keeps a small state;
 * lwm2m_notify_due() says whether a notification goes out now and
 * lwm2m_notify_next() when to look again. One table serves one server: a
 * client with several servers keeps one table each. */
#ifndef CORESEAL_LWM2M_REPORT_H
#define CORESEAL_LWM2M_REPORT_H

#include "coreseal/lwm2m.h"

enum {
    LWM2M_ATTR_PMIN = 1 << 0,  /* minimum period, s */
    LWM2M_ATTR_PMAX = 1 << 1,  /* maximum period, s */
    LWM2M_ATTR_GT = 1 << 2,    /* greater than: notify when crossed */
    LWM2M_ATTR_LT = 1 << 3,    /* less than: notify when crossed */
    LWM2M_ATTR_ST = 1 << 4,    /* step: notify on a change of at least st */
    LWM2M_ATTR_EPMIN = 1 << 5, /* minimum evaluation period, s */
    LWM2M_ATTR_EPMAX = 1 << 6, /* maximum evaluation period, s */
};

typedef struct {
    uint8_t set; /* LWM2M_ATTR_* present */
    uint32_t pmin, pmax, epmin, epmax;
    double gt, lt, st;
} lwm2m_attrs_t;

/* Applies a Write-Attributes request's query to *attrs; nothing changes
 * unless the result is valid: pmin <= pmax, epmin <= epmax, lt < gt and
 * lt + 2*st < gt, st >= 0, and gt/lt/st only where `numeric` (a numeric
 * resource). Unknown attribute names are LWM2M_ERR_MALFORMED. */
CS_MUST_CHECK lwm2m_err_t lwm2m_attrs_apply_query(lwm2m_attrs_t *attrs, const coap_msg_t *req,
                                                  bool numeric);
/* ";pmin=10;gt=25.5" for Discover; returns the length, 0 if cap is short
 * (or nothing is set). */
size_t lwm2m_attrs_format(const lwm2m_attrs_t *attrs, char *out, size_t cap);

typedef struct {
    lwm2m_path_t path;
    lwm2m_attrs_t attrs;
} lwm2m_attr_entry_t;

/* Attributes by path, in a caller array. */
typedef struct {
    lwm2m_attr_entry_t *entries;
    size_t n, cap;
} lwm2m_attr_table_t;

void lwm2m_attr_table_init(lwm2m_attr_table_t *t, lwm2m_attr_entry_t *entries, size_t cap);
/* The attributes written at exactly this path, or NULL. */
const lwm2m_attrs_t *lwm2m_attr_get(const lwm2m_attr_table_t *t, const lwm2m_path_t *path);
/* Write-Attributes on path. LWM2M_ERR_FULL when the table has no room. */
CS_MUST_CHECK lwm2m_err_t lwm2m_attr_write(lwm2m_attr_table_t *t, const lwm2m_path_t *path,
                                           const coap_msg_t *req, bool numeric);
/* What applies at path: `defaults` (the server's Default Minimum/Maximum
 * Period, /1/x/2 and /1/x/3; may be NULL), then object, instance, resource
 * and resource instance attributes, each overriding the one above. */
void lwm2m_attr_effective(const lwm2m_attr_table_t *t, const lwm2m_path_t *path,
                          const lwm2m_attrs_t *defaults, lwm2m_attrs_t *out);

/* One observation's reporting state. Start it with lwm2m_notify_sent()
 * when the Observe response goes out. */
typedef struct {
    cs_time_ms_t last_sent;  /* last notification (or the Observe response) */
    cs_time_ms_t last_eval;  /* last lwm2m_notify_due() */
    double last_value;       /* numeric value last sent */
    bool has_value;
    bool pending;            /* a change seen while pmin held it back */
} lwm2m_observation_t;

/* Evaluates the observed value now. `value` is the current value (numeric
 * thresholds apply when it is a number and gt, lt or st are set);
 * `changed` says whether it differs from what was sent last (for values
 * the thresholds do not cover). True: send a notification, then call
 * lwm2m_notify_sent(). */
bool lwm2m_notify_due(const lwm2m_attrs_t *a, lwm2m_observation_t *o, const lwm2m_value_t *value,
                      bool changed, cs_time_ms_t now);
void lwm2m_notify_sent(lwm2m_observation_t *o, const lwm2m_value_t *value, cs_time_ms_t now);
/* When to call lwm2m_notify_due() again at the latest: the pmax deadline,
 * the end of pmin for a held-back change, the next epmax evaluation (not
 * before epmin); CS_TIME_NEVER if only a change of value can trigger. */
cs_time_ms_t lwm2m_notify_next(const lwm2m_attrs_t *a, const lwm2m_observation_t *o);

#endif
