/* Helpers shared by the unit tests: hex, and the JSON vector files. */
#ifndef CORESEAL_TESTUTIL_H
#define CORESEAL_TESTUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes hex into out (cap bytes); fails the test on bad input. */
size_t tu_hex(const char *hex, uint8_t *out, size_t cap);
/* Loads tests/vectors/<name>; fails the test if it cannot. */
json_t *tu_load_vectors(const char *name);
/* Hex string member of obj (path of keys), decoded. */
size_t tu_json_hex(json_t *obj, const char *key, uint8_t *out, size_t cap);
/* Asserts that (a, n) equals the hex string. */
#define tu_assert_hex(a, n, hex)                                                          \
    do {                                                                                  \
        uint8_t tu_exp_[2048];                                                            \
        size_t tu_n_ = tu_hex(hex, tu_exp_, sizeof tu_exp_);                              \
        assert_int_equal((n), tu_n_);                                                     \
        assert_memory_equal((a), tu_exp_, tu_n_);                                         \
    } while (0)

#endif
