/* LwM2M Information Reporting: attribute queries and their validity rules,
 * inheritance from object to resource, and when an observation notifies
 * (pmin holds changes back, pmax forces a notification, gt/lt crossings and
 * st steps on numbers, epmin/epmax evaluation times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/lwm2m_report.h"
#include "testutil.h"

/* A request whose query options are the '&'-separated parts of q. */
static coap_msg_t query(const char *q, uint8_t *buf, size_t cap)
{
    coap_builder_t b;
    size_t n;
    coap_builder_init(&b, buf, cap, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_PUT, 1, NULL, 0);
    for (const char *p = q; *p;) {
        size_t k = strcspn(p, "&");
        coap_builder_add_option(&b, COAP_OPT_URI_QUERY, p, k);
        p += k + (p[k] == '&');
    }
    assert_int_equal(coap_builder_finish(&b, &n), COAP_OK);
    coap_msg_t m;
    assert_int_equal(coap_msg_parse(&m, buf, n), COAP_OK);
    return m;
}

static lwm2m_err_t apply(lwm2m_attrs_t *a, const char *q, bool numeric)
{
    uint8_t buf[256];
    coap_msg_t m = query(q, buf, sizeof buf);
    return lwm2m_attrs_apply_query(a, &m, numeric);
}

static void test_query_rules(void **state)
{
    (void)state;
    lwm2m_attrs_t a = {0};
    assert_int_equal(apply(&a, "pmin=5&pmax=50&epmin=1&epmax=10&lt=10&gt=20&st=2", true), LWM2M_OK);
    assert_int_equal(a.set, 0x7f);
    char text[128];
    size_t n = lwm2m_attrs_format(&a, text, sizeof text);
    assert_int_equal(n, strlen(";pmin=5;pmax=50;gt=20;lt=10;st=2;epmin=1;epmax=10"));
    assert_string_equal(text, ";pmin=5;pmax=50;gt=20;lt=10;st=2;epmin=1;epmax=10");
    assert_int_equal(lwm2m_attrs_format(&a, text, 10), 0);
    lwm2m_attrs_t before = a;
    /* each breaks a rule; a refused query changes nothing */
    const char *bad[] = {"st=5",          /* lt + 2*st = 20, not below gt */
                         "lt=20",         /* lt not below gt */
                         "pmin=51",       /* pmin > pmax */
                         "epmax=0",       /* epmin > epmax */
                         "st=-1",         /* negative step */
                         "pmin=-1",       /* periods are unsigned */
                         "pmin=4294967296", "gt=abc", "pmin=1.5", "xyz=1", "pmin="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(apply(&a, bad[i], true), LWM2M_ERR_MALFORMED);
        assert_memory_equal(&a, &before, sizeof a);
    }
    /* thresholds only on numeric resources; periods anywhere */
    lwm2m_attrs_t s = {0};
    assert_int_equal(apply(&s, "gt=1", false), LWM2M_ERR_MALFORMED);
    assert_int_equal(apply(&s, "pmin=1&pmax=1", false), LWM2M_OK);
    /* removal by bare name */
    assert_int_equal(apply(&a, "gt&lt&st", true), LWM2M_OK);
    assert_int_equal(a.set, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX | LWM2M_ATTR_EPMIN | LWM2M_ATTR_EPMAX);
}

static void test_inheritance(void **state)
{
    (void)state;
    lwm2m_attr_entry_t e[4];
    lwm2m_attr_table_t t;
    lwm2m_attr_table_init(&t, e, 4);
    uint8_t buf[128];
    coap_msg_t m;
    lwm2m_path_t obj = {{3303}, 1}, inst = {{3303, 0}, 2}, res = {{3303, 0, 5700}, 3},
                 other = {{3303, 1, 5700}, 3};
    m = query("pmin=1&pmax=100", buf, sizeof buf);
    assert_int_equal(lwm2m_attr_write(&t, &obj, &m, false), LWM2M_OK);
    m = query("pmax=50", buf, sizeof buf);
    assert_int_equal(lwm2m_attr_write(&t, &inst, &m, false), LWM2M_OK);
    m = query("gt=25", buf, sizeof buf);
    assert_int_equal(lwm2m_attr_write(&t, &res, &m, true), LWM2M_OK);
    lwm2m_attrs_t defaults = {.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX, .pmin = 7, .pmax = 3600}, eff;
    lwm2m_attr_effective(&t, &res, &defaults, &eff);
    assert_int_equal(eff.set, LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX | LWM2M_ATTR_GT);
    assert_int_equal(eff.pmin, 1);  /* object over the server default */
    assert_int_equal(eff.pmax, 50); /* instance over object */
    assert_true(eff.gt == 25);
    lwm2m_attr_effective(&t, &other, &defaults, &eff);
    assert_int_equal(eff.pmax, 100); /* another instance: the object's */
    assert_false(eff.set & LWM2M_ATTR_GT);
    lwm2m_path_t dev = {{3, 0, 9}, 3};
    lwm2m_attr_effective(&t, &dev, &defaults, &eff);
    assert_int_equal(eff.pmin, 7);
    lwm2m_attr_effective(&t, &dev, NULL, &eff);
    assert_int_equal(eff.set, 0);
}

static lwm2m_value_t num(double v)
{
    lwm2m_value_t x = {.type = LWM2M_TYPE_FLOAT, .v.f = v};
    return x;
}

static void test_periods(void **state)
{
    (void)state;
    lwm2m_attrs_t a = {.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX, .pmin = 10, .pmax = 60};
    lwm2m_observation_t o = {0};
    lwm2m_value_t s = {.type = LWM2M_TYPE_STRING};
    lwm2m_notify_sent(&o, &s, 1000); /* the Observe response at t = 1 s */
    assert_int_equal(lwm2m_notify_next(&a, &o), 61000);
    assert_false(lwm2m_notify_due(&a, &o, &s, false, 5000));
    assert_false(lwm2m_notify_due(&a, &o, &s, true, 5000)); /* change held back by pmin */
    assert_int_equal(lwm2m_notify_next(&a, &o), 11000);
    assert_false(lwm2m_notify_due(&a, &o, &s, false, 10999));
    assert_true(lwm2m_notify_due(&a, &o, &s, false, 11000)); /* pmin over: send it now */
    lwm2m_notify_sent(&o, &s, 11000);
    assert_false(lwm2m_notify_due(&a, &o, &s, false, 70999));
    assert_true(lwm2m_notify_due(&a, &o, &s, false, 71000)); /* pmax: unchanged, sent anyway */
    /* no attributes: every change, no deadline */
    lwm2m_observation_t p = {0};
    lwm2m_notify_sent(&p, &s, 0);
    assert_false(lwm2m_notify_due(NULL, &p, &s, false, 1));
    assert_true(lwm2m_notify_due(NULL, &p, &s, true, 1));
    assert_true(lwm2m_notify_due(NULL, &p, &s, false, 1)); /* still pending until sent */
    lwm2m_notify_sent(&p, &s, 1);
    assert_int_equal(lwm2m_notify_next(NULL, &p), CS_TIME_NEVER);
    /* a pmax not above pmin is ignored */
    lwm2m_attrs_t c = {.set = LWM2M_ATTR_PMIN | LWM2M_ATTR_PMAX, .pmin = 10, .pmax = 10};
    assert_false(lwm2m_notify_due(&c, &p, &s, false, 100000));
    assert_int_equal(lwm2m_notify_next(&c, &p), CS_TIME_NEVER);
    /* epmax asks for an evaluation, no sooner than epmin (an epmin above
     * epmax happens only when levels combine) */
    lwm2m_attrs_t e = {.set = LWM2M_ATTR_EPMIN | LWM2M_ATTR_EPMAX, .epmin = 5, .epmax = 2};
    (void)lwm2m_notify_due(&e, &p, &s, false, 3000);
    assert_int_equal(lwm2m_notify_next(&e, &p), 8000);
    e.epmin = 1;
    assert_int_equal(lwm2m_notify_next(&e, &p), 5000);
}

static void test_thresholds(void **state)
{
    (void)state;
    lwm2m_attrs_t a = {.set = LWM2M_ATTR_GT | LWM2M_ATTR_LT, .gt = 30, .lt = 10};
    lwm2m_observation_t o = {0};
    lwm2m_value_t v = num(20);
    lwm2m_notify_sent(&o, &v, 0);
    /* changes inside the band are not reported, even flagged as changes */
    v = num(25);
    assert_false(lwm2m_notify_due(&a, &o, &v, true, 1000));
    v = num(31); /* crosses gt upward */
    assert_true(lwm2m_notify_due(&a, &o, &v, true, 2000));
    lwm2m_notify_sent(&o, &v, 2000);
    v = num(40);
    assert_false(lwm2m_notify_due(&a, &o, &v, true, 3000));
    v = num(30); /* back down across gt */
    assert_true(lwm2m_notify_due(&a, &o, &v, true, 4000));
    lwm2m_notify_sent(&o, &v, 4000);
    v = num(9.5); /* below lt */
    assert_true(lwm2m_notify_due(&a, &o, &v, true, 5000));
    lwm2m_notify_sent(&o, &v, 5000);
    /* st: steps measured from the value last sent */
    lwm2m_attrs_t s = {.set = LWM2M_ATTR_ST, .st = 2};
    lwm2m_observation_t q = {0};
    v = num(20);
    lwm2m_notify_sent(&q, &v, 0);
    v = num(21.5);
    assert_false(lwm2m_notify_due(&s, &q, &v, true, 1));
    v = num(18.0);
    assert_true(lwm2m_notify_due(&s, &q, &v, true, 2));
    lwm2m_notify_sent(&q, &v, 2);
    v = num(19.9);
    assert_false(lwm2m_notify_due(&s, &q, &v, true, 3));
    /* integers count as numbers; strings fall back to `changed` */
    lwm2m_value_t i = {.type = LWM2M_TYPE_INTEGER, .v.i = 23};
    assert_true(lwm2m_notify_due(&s, &q, &i, false, 4));
    lwm2m_value_t str = {.type = LWM2M_TYPE_STRING};
    lwm2m_notify_sent(&q, &str, 5);
    assert_false(lwm2m_notify_due(&s, &q, &str, false, 6)); /* not a number: `changed` decides */
    assert_true(lwm2m_notify_due(&s, &q, &str, true, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_rules),
        cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_thresholds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
