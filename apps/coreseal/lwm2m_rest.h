/* The JSON REST API and server-sent events of `coreseal lwm2m server`
 * (docs/lwm2m.md, "REST API"). HTTP runs in libmicrohttpd's threads, one
 * per connection; everything LwM2M stays in the server's own loop. A
 * request becomes a rest_cmd_t the loop takes with rest_next() and answers
 * with rest_done(), while the HTTP thread waits for it (at most
 * REST_TIMEOUT_MS). Events the loop publishes with rest_event() go to every
 * open GET /api/events stream. */
#ifndef CORESEAL_CLI_LWM2M_REST_H
#define CORESEAL_CLI_LWM2M_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REST_TIMEOUT_MS 20000
#define REST_BODY_MAX (1u << 20) /* e.g. a firmware package for /5/0/0 */

typedef enum {
    REST_LIST,    /* GET /api/clients */
    REST_CLIENT,  /* GET /api/clients/EP */
    REST_DM,      /* a Device Management request to EP at PATH */
    REST_OBSERVE, /* POST /api/clients/EP/PATH/observe */
    REST_CANCEL,  /* DELETE /api/clients/EP/PATH/observe */
} rest_kind_t;

typedef struct rest_cmd {
    rest_kind_t kind;
    char ep[64];
    char path[32];     /* "/3/0/1" */
    char query[160];   /* Write-Attributes: "pmin=5&st=0.5" */
    uint8_t method;    /* CoAP code of the DM request */
    long accept;       /* -1: none */
    long format;       /* Content-Format of payload, -1: none */
    uint8_t *payload;  /* malloc'd; freed with the command */
    size_t payload_len;
    /* the answer */
    int status;        /* HTTP status */
    char *body;        /* JSON, malloc'd; taken over by the REST layer */
    bool done;
    bool abandoned;    /* its HTTP thread stopped waiting: rest_done frees it */
    struct rest_cmd *next;
} rest_cmd_t;

typedef struct rest rest_t;

/* Listens on host:port ("127.0.0.1", "8080"); with a token, every request
 * must carry "Authorization: Bearer TOKEN" (401 otherwise). NULL with err
 * filled. */
rest_t *rest_start(const char *host, const char *port, const char *token, char *err, size_t err_len);
void rest_stop(rest_t *r);
/* The loop's side. */
rest_cmd_t *rest_next(rest_t *r);
/* Answers cmd with status and a JSON body (copied); cmd is not the loop's
 * any more. */
void rest_done(rest_t *r, rest_cmd_t *cmd, int status, const char *json);
/* One event ("registered", "notify", ...) with its JSON data to every
 * event stream. */
void rest_event(rest_t *r, const char *type, const char *json);

#endif
