/* A LwM2M server with many OSCORE devices: state per device, and how fast
 * it registers them as the table fills. Prints a table; every number is
 * measured.
 *   build/bench/lwm2m_registry_bench [devices]     (default 1000000)
 *
 * Every device gets its own Master Secret; the server's context for it is
 * derived and provisioned (as a bootstrap server would), then each device
 * sends an OSCORE-protected Register. Timed is the server's whole work for
 * one Register: parse, find the context by kid, unprotect, parse the
 * registration, record it, build and protect the 2.01 with its location.
 * The devices' side (their context, the request) is not timed. Rates are
 * per tenth of the devices, so a server that slows as it fills shows it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coreseal/crypto_openssl.h"
#include "coreseal/lwm2m_registry.h"

#include "measure.h"

static _Noreturn void fail(const char *what, int err)
{
    fprintf(stderr, "lwm2m_registry_bench: %s: %s\n", what, coreseal_strerror(err));
    exit(1);
}

/* Device i: endpoint name = Sender ID = 7 hex digits, its own secret. */
static void device_params(uint32_t i, bool server, char ep[8], uint8_t secret[16], oscore_params_t *p)
{
    snprintf(ep, 8, "%07x", (unsigned)i);
    memset(secret, 0x5a, 16);
    memcpy(secret, &i, sizeof i);
    static const uint8_t srv_id[1] = {0};
    memset(p, 0, sizeof *p);
    p->master_secret = secret;
    p->master_secret_len = 16;
    p->sender_id = server ? srv_id : (const uint8_t *)ep;
    p->sender_id_len = server ? 1 : 7;
    p->recipient_id = server ? (const uint8_t *)ep : srv_id;
    p->recipient_id_len = server ? 7 : 1;
}

/* What a device sends: POST /rd?ep=..&lt=..&lwm2m=1.2&b=U with its objects. */
static size_t device_register(oscore_ctx_t *dev, const char *ep, uint8_t *wire, size_t cap,
                              oscore_binding_t *bind)
{
    static const char links[] = "</1>;ver=1.2,</1/0>,</3>;ver=1.2,</3/0>,</4/0>,</5/0>,</3303>;ver=1.1,</3303/0>";
    uint8_t plain[256], arena[128];
    coap_opt_t list[8];
    coap_optlist_t l;
    coap_optlist_init(&l, list, 8, arena, sizeof arena);
    lwm2m_register_t r = {.endpoint = ep, .lifetime = 86400, .version = "1.2", .binding = "U"};
    if (lwm2m_register_options(&r, &l) != LWM2M_OK)
        fail("register options", LWM2M_ERR_NO_SPACE);
    coap_optlist_add_uint(&l, COAP_OPT_CONTENT_FORMAT, LWM2M_CF_LINK);
    coap_builder_t b;
    coap_builder_init(&b, plain, sizeof plain, COAP_TRANSPORT_UDP, COAP_TYPE_CON, COAP_POST, 1,
                      (const uint8_t *)"tok1", 4);
    size_t n, wn;
    coap_msg_t m;
    if (coap_optlist_write(&l, &b) != COAP_OK)
        fail("register request", COAP_ERR_NO_SPACE);
    coap_builder_set_payload(&b, (const uint8_t *)links, sizeof links - 1);
    int err;
    if ((err = coap_builder_finish(&b, &n)) != COAP_OK || (err = coap_msg_parse(&m, plain, n)) != COAP_OK)
        fail("register request", err);
    if ((err = oscore_protect_request(dev, &m, wire, cap, &wn, bind)) != OSCORE_OK)
        fail("protect register", err);
    return wn;
}

/* The server's whole work for one Register; returns the response length. */
static size_t server_register(lwm2m_registry_t *reg, const uint8_t *wire, size_t len, uint32_t peer,
                              uint8_t *out, size_t cap)
{
    uint8_t plain[512], resp[64];
    coap_msg_t w, req, m;
    oscore_option_t opt;
    oscore_binding_t bind;
    lwm2m_register_info_t info;
    lwm2m_client_t *c, *r;
    size_t pn, rn, on;
    int err;
    if ((err = coap_msg_parse(&w, wire, len)) != COAP_OK || (err = oscore_msg_option(&w, &opt)) != OSCORE_OK)
        fail("server parse", err);
    if (!(c = lwm2m_registry_find_oscore(reg, &opt)))
        fail("server lookup", OSCORE_ERR_UNKNOWN_CONTEXT);
    if ((err = oscore_unprotect_request(&c->oscore, &w, plain, sizeof plain, &pn, &bind)) != OSCORE_OK ||
        (err = coap_msg_parse(&req, plain, pn)) != COAP_OK ||
        (err = lwm2m_register_parse(&req, &info)) != LWM2M_OK ||
        (err = lwm2m_registry_register(reg, c, &info, req.payload, req.payload_len, peer, 0, &r)) != LWM2M_OK)
        fail("server register", err);
    char loc[12];
    int ln = snprintf(loc, sizeof loc, "%u", (unsigned)lwm2m_registry_location(reg, r));
    coap_builder_t b;
    coap_builder_init(&b, resp, sizeof resp, COAP_TRANSPORT_UDP, COAP_TYPE_ACK, COAP_CREATED, w.mid,
                      req.token, req.token_len);
    coap_builder_add_option(&b, COAP_OPT_LOCATION_PATH, "rd", 2);
    coap_builder_add_option(&b, COAP_OPT_LOCATION_PATH, loc, (size_t)ln);
    if ((err = coap_builder_finish(&b, &rn)) != COAP_OK || (err = coap_msg_parse(&m, resp, rn)) != COAP_OK ||
        (err = oscore_protect_response(&c->oscore, &bind, &m, false, out, cap, &on)) != OSCORE_OK)
        fail("server response", err);
    return on;
}

int main(int argc, char **argv)
{
    long arg = argc > 1 ? atol(argv[1]) : 1000000;
    if (arg < 10 || arg > 50000000) {
        fprintf(stderr, "usage: lwm2m_registry_bench [devices]   (10 .. 50000000, default 1000000)\n");
        return 2;
    }
    uint32_t n = (uint32_t)arg;
    cs_crypto_t crypto;
    if (cs_crypto_openssl_new(&crypto) != CS_CRYPTO_OK)
        fail("crypto", OSCORE_ERR_CRYPTO);
    size_t index_len = lwm2m_registry_index_len(n);
    lwm2m_client_t *clients = calloc(n, sizeof *clients);
    uint64_t *index = calloc(index_len, sizeof *index);
    if (!clients || !index) {
        fprintf(stderr, "lwm2m_registry_bench: out of memory for %u devices; try fewer\n", n);
        return 1;
    }
    lwm2m_registry_t reg;
    int err;
    if ((err = lwm2m_registry_init(&reg, clients, n, index, index_len, 0x243f6a8885a308d3u)) != LWM2M_OK)
        fail("init", err);

    double t0 = now_ns();
    for (uint32_t i = 0; i < n; i++) {
        char ep[8];
        uint8_t secret[16];
        oscore_params_t p;
        oscore_ctx_t ctx;
        lwm2m_client_t *c;
        device_params(i, true, ep, secret, &p);
        if ((err = oscore_ctx_derive(&ctx, &crypto, &p)) != OSCORE_OK)
            fail("derive", err);
        if ((err = lwm2m_registry_add_oscore(&reg, &ctx, NULL, 0, &c)) != LWM2M_OK)
            fail("provision", err);
        oscore_ctx_wipe(&ctx);
    }
    double provision_s = (now_ns() - t0) / 1e9;

    printf("LwM2M server: %u OSCORE devices provisioned, then each sends a protected Register\n", n);
    printf("(one core; OpenSSL 3 backend; AES-CCM-16-64-128; server work only is timed)\n\n");
    printf("%10s %14s %14s %12s %14s\n", "devices", "registered", "us/register", "registers/s",
           "allocs/register");
    double first = 0, last = 0;
    uint32_t slice = n / 10;
    for (int s = 0; s < 10; s++) {
        uint32_t lo = (uint32_t)s * slice, hi = s == 9 ? n : lo + slice;
        double server_ns = 0;
        unsigned long server_allocs = 0;
        for (uint32_t i = lo; i < hi; i++) {
            char ep[8];
            uint8_t secret[16], wire[300], out[128];
            oscore_params_t p;
            oscore_ctx_t dev;
            oscore_binding_t bind;
            device_params(i, false, ep, secret, &p);
            if ((err = oscore_ctx_derive(&dev, &crypto, &p)) != OSCORE_OK)
                fail("device derive", err);
            size_t wn = device_register(&dev, ep, wire, sizeof wire, &bind);
            unsigned long a0 = allocations;
            double s0 = now_ns();
            size_t on = server_register(&reg, wire, wn, i, out, sizeof out);
            server_ns += now_ns() - s0;
            server_allocs += allocations - a0;
            /* the device accepts the 2.01: the exchange really completed */
            coap_msg_t m;
            uint8_t plain[128];
            size_t pn;
            if ((err = coap_msg_parse(&m, out, on)) != COAP_OK ||
                (err = oscore_unprotect_response(&dev, &bind, &m, plain, sizeof plain, &pn)) != OSCORE_OK)
                fail("device response", err);
            oscore_ctx_wipe(&dev);
        }
        double rate = (hi - lo) / (server_ns / 1e9);
        if (s == 0)
            first = rate;
        last = rate;
        printf("%10u %14u %14.2f %12.0f %14.2f\n", hi, reg.n_registered, server_ns / 1e3 / (hi - lo), rate,
               (double)server_allocs / (hi - lo));
    }
    size_t per_device = sizeof(lwm2m_client_t) + index_len * sizeof(uint64_t) / n;
    printf("\nlast tenth / first tenth: %.2f   (1.00 = flat)\n", last / first);
    printf("provisioning: %.0f devices/s (context derivation + insert)\n", n / provision_s);
    printf("state per device: %zu B record (OSCORE context %zu B, registration %zu B) + %zu B index = %zu B\n",
           sizeof(lwm2m_client_t), sizeof(oscore_ctx_t), sizeof(lwm2m_client_t) - sizeof(oscore_ctx_t),
           index_len * sizeof(uint64_t) / n, per_device);
    printf("total for %u devices: %.1f MiB\n", n, (double)per_device * n / (1024.0 * 1024.0));
    free(clients);
    free(index);
    cs_crypto_openssl_free(&crypto);
    return per_device < 1024 ? 0 : 1;
}
