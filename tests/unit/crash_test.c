/* Crash test for RFC 8613 Appendix B.1.1: a child process protects requests
 * as fast as it can, with its SSN bound in a state file, and is killed with
 * SIGKILL at a random moment; then it restarts from the file. Every nonce
 * the child reported (after oscore_protect_request returned, i.e. every
 * message that could have been sent) is recorded; across all the runs no
 * nonce may appear twice. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/store.h"

#define RUNS 60
#define NONCE_LEN 13

static const char *context_json =
    "{\"master_secret\":\"0102030405060708090a0b0c0d0e0f10\",\"sender_id\":\"00\","
    "\"recipient_id\":\"01\"}";

static void child_main(const char *state_path, uint32_t step, int fd)
{
    cs_crypto_t c;
    cs_context_file_t cf;
    cs_state_file_t sf;
    oscore_params_t p;
    oscore_ctx_t ctx;
    char err[256];
    if (cs_crypto_openssl_new(&c) != CS_CRYPTO_OK ||
        cs_context_file_parse(context_json, strlen(context_json), "", &cf, err, sizeof err))
        _exit(2);
    cs_context_file_params(&cf, &p);
    if (cs_state_open(&sf, state_path, step, &p, err, sizeof err) != CS_STORE_OK ||
        oscore_ctx_derive(&ctx, &c, &p) != OSCORE_OK || cs_state_attach(&sf, &ctx) != CS_STORE_OK)
        _exit(3);
    uint8_t plain[4] = {0x40, 0x01, 0, 1}, out[64];
    coap_msg_t m;
    size_t len;
    oscore_binding_t b;
    if (coap_msg_parse(&m, plain, sizeof plain) != COAP_OK)
        _exit(4);
    for (int i = 0; i < 200000; i++) {
        if (oscore_protect_request(&ctx, &m, out, sizeof out, &len, &b) != OSCORE_OK)
            _exit(5);
        if (write(fd, b.nonce, NONCE_LEN) != NONCE_LEN)
            _exit(6);
    }
    _exit(0);
}

static int cmp_nonce(const void *a, const void *b) { return memcmp(a, b, NONCE_LEN); }

static void test_sigkill_never_reuses_a_nonce(void **state)
{
    (void)state;
    char dir[] = "/tmp/coreseal-crash-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ctx.state", dir);
    size_t cap = 1 << 20, count = 0;
    uint8_t *seen = malloc(cap * NONCE_LEN);
    assert_non_null(seen);
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    size_t runs_with_output = 0;
    for (int run = 0; run < RUNS; run++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        uint32_t step = 1 + (uint32_t)(rand() % 16);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(path, step, fds[1]);
        }
        close(fds[1]);
        /* Half the kills land at a random instant after start (possibly
         * during start-up and the state file's first write), half at a
         * random instant after the child's first message, so slow machines
         * (sanitizers) still kill children that are mid-stream. */
        uint8_t first[NONCE_LEN];
        size_t got_first = 0;
        if (run % 2 == 0)
            while (got_first < NONCE_LEN) {
                ssize_t r = read(fds[0], first + got_first, NONCE_LEN - got_first);
                if (r <= 0)
                    break;
                got_first += (size_t)r;
            }
        struct timespec ts = {0, (long)(rand() % 20000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status))
            fail_msg("child exited with %d before it was killed", WEXITSTATUS(status));
        uint8_t buf[NONCE_LEN * 256];
        ssize_t n;
        size_t before = count, pending = 0;
        if (got_first == NONCE_LEN && count < cap)
            memcpy(seen + NONCE_LEN * count++, first, NONCE_LEN);
        while ((n = read(fds[0], buf + pending, sizeof buf - pending)) > 0) {
            pending += (size_t)n;
            size_t whole = pending / NONCE_LEN;
            for (size_t i = 0; i < whole && count < cap; i++)
                memcpy(seen + NONCE_LEN * count++, buf + NONCE_LEN * i, NONCE_LEN);
            memmove(buf, buf + whole * NONCE_LEN, pending % NONCE_LEN);
            pending %= NONCE_LEN;
        }
        close(fds[0]);
        runs_with_output += count > before;
    }
    qsort(seen, count, NONCE_LEN, cmp_nonce);
    for (size_t i = 1; i < count; i++)
        if (memcmp(seen + NONCE_LEN * (i - 1), seen + NONCE_LEN * i, NONCE_LEN) == 0)
            fail_msg("nonce reused after a crash (seed %u, %zu nonces)", seed, count);
    printf("crash test: %d kills, %zu runs produced output, %zu nonces, all distinct\n", RUNS,
           runs_with_output, count);
    assert_true(runs_with_output > RUNS / 2);
    free(seen);
    unlink(path);
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_never_reuses_a_nonce),
    };
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
