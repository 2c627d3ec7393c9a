/* Error-code table, wiping and constant-time comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "coreseal/cbor.h"
#include "coreseal/coap.h"
#include "coreseal/cose.h"
#include "coreseal/crypto.h"
#include "coreseal/edhoc.h"
#include "coreseal/lwm2m.h"
#include "coreseal/oscore.h"
#include "coreseal/store.h"
#include "coreseal/net_err.h"
#include "testutil.h"

/* Every code from BAD_ARG up to the last of each module has its own name
 * and message: walking the range finds any enum member left out. */
static void check_range(int first, int last)
{
    for (int c = first; c <= last; c++) {
        const char *name = coreseal_errname(c);
        if (strcmp(name, "CS_ERR_UNKNOWN") == 0)
            fail_msg("error 0x%04x has no entry in strerror.c", c);
        assert_string_not_equal(coreseal_strerror(c), "unknown error code");
        for (int o = first; o < c; o++)
            assert_string_not_equal(coreseal_errname(o), name);
    }
}

static void test_every_code_has_a_message(void **state)
{
    (void)state;
    check_range(CBOR_ERR_BAD_ARG, CBOR_ERR_END);
    check_range(COSE_ERR_BAD_ARG, COSE_ERR_DUPLICATE_LABEL);
    check_range(COAP_ERR_BAD_ARG, COAP_ERR_BLOCK_SIZE);
    check_range(OSCORE_ERR_BAD_ARG, OSCORE_ERR_ID_CONTEXT_TOO_LONG);
    check_range(EDHOC_ERR_BAD_ARG, EDHOC_ERR_PEER_UNKNOWN_CREDENTIAL);
    check_range(LWM2M_ERR_BAD_ARG, LWM2M_ERR_UNSUPPORTED);
    check_range(CS_STORE_ERR_BAD_ARG, CS_STORE_ERR_VALUE);
    check_range(CS_NET_ERR_BAD_ARG, CS_NET_ERR_TOO_LARGE);
    check_range(CS_CRYPTO_ERR_BAD_ARG, CS_CRYPTO_ERR_RANDOM);
    assert_string_equal(coreseal_errname(CBOR_ERR_TRUNCATED), "CBOR_ERR_TRUNCATED");
    assert_string_equal(coreseal_strerror(0), "success");
    assert_string_equal(coreseal_errname(0x7fff), "CS_ERR_UNKNOWN");
    assert_string_equal(coreseal_strerror(-1), "unknown error code");
}

static void test_ct_equal_and_wipe(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(cs_ct_equal(a, b, sizeof a));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 0x80;
        assert_false(cs_ct_equal(a, b, sizeof a));
        b[i] ^= 0x80;
    }
    assert_true(cs_ct_equal(a, b, 0));
    cs_wipe(a, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        assert_int_equal(a[i], 0);
    cs_wipe(NULL, 5); /* tolerated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_message),
        cmocka_unit_test(test_ct_equal_and_wipe),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
