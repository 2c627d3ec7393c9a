/* The LwM2M server's client table: fixed records and two open-addressing
 * hash indexes (linear probing, deletion by backward shift, so there are
 * no tombstones and probe lengths do not grow with churn). A bucket holds
 * the key's 32-bit hash beside the record number, so a probe reads records
 * only on a hash match: cache misses per lookup stay at one however full
 * the table gets. */
#include "coreseal/lwm2m_registry.h"

#include <string.h>

#define NONE UINT32_MAX

/* ------------------------------------------------------------ hashing */

/* Seeded FNV-1a over both parts with their lengths, then a 64-bit
 * finaliser so the low bits used for the bucket depend on every byte. */
static uint32_t hash2(uint64_t seed, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    uint64_t h = seed ^ 0xcbf29ce484222325u;
    h = (h ^ an) * 0x100000001b3u;
    for (size_t i = 0; i < an; i++)
        h = (h ^ a[i]) * 0x100000001b3u;
    h = (h ^ (bn + 0x100)) * 0x100000001b3u;
    for (size_t i = 0; i < bn; i++)
        h = (h ^ b[i]) * 0x100000001b3u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* An empty ID Context and none at all are different keys. */
static uint32_t kid_hash(const lwm2m_registry_t *reg, const uint8_t *kid, size_t kid_len,
                         const uint8_t *kctx, size_t kctx_len, bool has_kctx)
{
    return hash2(reg->seed, kid, kid_len, kctx, has_kctx ? kctx_len : 0) ^ (has_kctx ? 0x5bd1e995u : 0);
}

/* A context's index key. Appendix B.2 contexts are keyed by Recipient ID
 * alone: their ID Context changes with every run of the protocol. */
static uint32_t ctx_hash(const lwm2m_registry_t *reg, const oscore_ctx_t *o)
{
    return kid_hash(reg, o->recipient_id, o->recipient_id_len, o->id_context, o->id_context_len,
                    o->has_id_context && !o->b2);
}

static uint32_t ep_hash(const lwm2m_registry_t *reg, const char *ep, size_t len)
{
    return hash2(reg->seed, (const uint8_t *)ep, len, NULL, 0);
}

/* ------------------------------------------------------------ indexes */

static uint64_t bucket(uint32_t h, uint32_t rec)
{
    return (uint64_t)h << 32 | (rec + 1);
}

static uint32_t bucket_hash(uint64_t b) { return (uint32_t)(b >> 32); }
static uint32_t bucket_rec(uint64_t b) { return (uint32_t)b - 1; }

static void index_insert(const lwm2m_registry_t *reg, uint64_t *table, uint32_t h, uint32_t rec)
{
    uint32_t b = h & reg->mask;
    while (table[b])
        b = (b + 1) & reg->mask;
    table[b] = bucket(h, rec);
}

/* Removes rec and shifts later members of its probe run back into the
 * hole whenever their home bucket allows it. */
static void index_remove(const lwm2m_registry_t *reg, uint64_t *table, uint32_t h, uint32_t rec)
{
    uint32_t hole = h & reg->mask;
    while (table[hole] != bucket(h, rec)) {
        if (!table[hole])
            return;
        hole = (hole + 1) & reg->mask;
    }
    table[hole] = 0;
    for (uint32_t b = (hole + 1) & reg->mask; table[b]; b = (b + 1) & reg->mask) {
        uint32_t home = bucket_hash(table[b]) & reg->mask;
        /* movable if home is not cyclically within (hole, b] */
        if (((b - home) & reg->mask) >= ((b - hole) & reg->mask)) {
            table[hole] = table[b];
            table[b] = 0;
            hole = b;
        }
    }
}

size_t lwm2m_registry_index_len(uint32_t n_clients)
{
    size_t buckets = 2;
    while (buckets < 2 * (size_t)n_clients)
        buckets *= 2;
    return 2 * buckets;
}

lwm2m_err_t lwm2m_registry_init(lwm2m_registry_t *reg, lwm2m_client_t *clients, uint32_t n_clients,
                                uint64_t *index, size_t index_len, uint64_t seed)
{
    if (!reg || !clients || !index || n_clients == 0 || n_clients >= NONE ||
        index_len < lwm2m_registry_index_len(n_clients))
        return LWM2M_ERR_BAD_ARG;
    size_t buckets = lwm2m_registry_index_len(n_clients) / 2;
    memset(reg, 0, sizeof *reg);
    reg->clients = clients;
    reg->n_clients = n_clients;
    reg->by_kid = index;
    reg->by_endpoint = index + buckets;
    reg->mask = (uint32_t)(buckets - 1);
    reg->seed = seed;
    memset(index, 0, 2 * buckets * sizeof *index);
    for (uint32_t i = 0; i < n_clients; i++) {
        clients[i].state = LWM2M_CLIENT_FREE;
        clients[i].next_free = i + 1 < n_clients ? i + 1 : NONE;
    }
    reg->free_head = 0;
    return LWM2M_OK;
}

/* ------------------------------------------------------------ records */

static uint32_t rec_of(const lwm2m_registry_t *reg, const lwm2m_client_t *c)
{
    return (uint32_t)(c - reg->clients);
}

static lwm2m_client_t *take_record(lwm2m_registry_t *reg)
{
    if (reg->free_head == NONE)
        return NULL;
    lwm2m_client_t *c = &reg->clients[reg->free_head];
    reg->free_head = c->next_free;
    /* only the header: the OSCORE context and links are overwritten as set */
    c->endpoint_len = 0;
    c->endpoint[0] = 0;
    c->has_oscore = false;
    c->state = LWM2M_CLIENT_PROVISIONED;
    c->links_len = 0;
    reg->n_used++;
    return c;
}

static void free_record(lwm2m_registry_t *reg, lwm2m_client_t *c)
{
    if (c->has_oscore)
        oscore_ctx_wipe(&c->oscore);
    c->has_oscore = false;
    c->state = LWM2M_CLIENT_FREE;
    c->next_free = reg->free_head;
    reg->free_head = rec_of(reg, c);
    reg->n_used--;
}

/* The record under key (kid, kid context): one whose context has exactly
 * that ID Context, or with b2_any a B.2 context whatever its ID Context. */
static lwm2m_client_t *find_kid(const lwm2m_registry_t *reg, const uint8_t *kid, size_t kid_len,
                                const uint8_t *kctx, size_t kctx_len, bool has_kctx, bool b2_any)
{
    uint32_t h = kid_hash(reg, kid, kid_len, kctx, kctx_len, has_kctx);
    for (uint32_t b = h & reg->mask; reg->by_kid[b]; b = (b + 1) & reg->mask) {
        if (bucket_hash(reg->by_kid[b]) != h)
            continue;
        lwm2m_client_t *c = &reg->clients[bucket_rec(reg->by_kid[b])];
        const oscore_ctx_t *o = &c->oscore;
        if (o->recipient_id_len != kid_len || memcmp(o->recipient_id, kid, kid_len) != 0)
            continue;
        if (b2_any ? o->b2
                   : !o->b2 && o->has_id_context == has_kctx &&
                         (!has_kctx || (o->id_context_len == kctx_len &&
                                        !memcmp(o->id_context, kctx, kctx_len))))
            return c;
    }
    return NULL;
}

lwm2m_client_t *lwm2m_registry_find_oscore(const lwm2m_registry_t *reg, const oscore_option_t *opt)
{
    if (!reg || !opt || !opt->has_kid)
        return NULL;
    lwm2m_client_t *c = find_kid(reg, opt->kid, opt->kid_len, opt->kid_context,
                                 opt->kid_context_len, opt->has_kid_context, false);
    return c ? c : find_kid(reg, opt->kid, opt->kid_len, NULL, 0, false, true);
}

lwm2m_client_t *lwm2m_registry_find_endpoint(const lwm2m_registry_t *reg, const char *ep, size_t len)
{
    if (!reg || !ep)
        return NULL;
    uint32_t h = ep_hash(reg, ep, len);
    for (uint32_t b = h & reg->mask; reg->by_endpoint[b]; b = (b + 1) & reg->mask) {
        if (bucket_hash(reg->by_endpoint[b]) != h)
            continue;
        lwm2m_client_t *c = &reg->clients[bucket_rec(reg->by_endpoint[b])];
        if (c->endpoint_len == len && !memcmp(c->endpoint, ep, len))
            return c;
    }
    return NULL;
}

lwm2m_client_t *lwm2m_registry_at(const lwm2m_registry_t *reg, uint32_t location)
{
    if (!reg || location >= reg->n_clients || reg->clients[location].state != LWM2M_CLIENT_REGISTERED)
        return NULL;
    return &reg->clients[location];
}

uint32_t lwm2m_registry_location(const lwm2m_registry_t *reg, const lwm2m_client_t *c)
{
    return rec_of(reg, c);
}

lwm2m_err_t lwm2m_registry_add_oscore(lwm2m_registry_t *reg, const oscore_ctx_t *ctx,
                                      const char *endpoint, size_t endpoint_len,
                                      lwm2m_client_t **out)
{
    if (!reg || !ctx || !out)
        return LWM2M_ERR_BAD_ARG;
    if (!endpoint) {
        endpoint = (const char *)ctx->recipient_id;
        endpoint_len = ctx->recipient_id_len;
    }
    if (endpoint_len >= LWM2M_ENDPOINT_MAX)
        return LWM2M_ERR_TOO_LARGE;
    /* a request without kid context must name one record: a B.2 context
     * and one without ID Context cannot share a Recipient ID */
    const uint8_t *rid = ctx->recipient_id;
    size_t rid_len = ctx->recipient_id_len;
    bool keyless = ctx->b2 || !ctx->has_id_context;
    bool taken = (!ctx->b2 && find_kid(reg, rid, rid_len, ctx->id_context, ctx->id_context_len,
                                       ctx->has_id_context, false)) ||
                 (keyless && (find_kid(reg, rid, rid_len, NULL, 0, false, true) ||
                              find_kid(reg, rid, rid_len, NULL, 0, false, false)));
    if (taken)
        return LWM2M_ERR_EXISTS;
    lwm2m_client_t *c = take_record(reg);
    if (!c)
        return LWM2M_ERR_FULL;
    c->oscore = *ctx;
    c->has_oscore = true;
    memcpy(c->endpoint, endpoint, endpoint_len);
    c->endpoint[endpoint_len] = 0;
    c->endpoint_len = (uint8_t)endpoint_len;
    index_insert(reg, reg->by_kid, ctx_hash(reg, &c->oscore), rec_of(reg, c));
    *out = c;
    return LWM2M_OK;
}

/* ------------------------------------------------------------ registration */

static lwm2m_err_t set_links(lwm2m_client_t *c, const uint8_t *links, size_t len)
{
    if (len > LWM2M_REG_LINKS_MAX)
        return LWM2M_ERR_TOO_LARGE;
    if (len) /* links may be NULL when empty */
        memcpy(c->links, links, len);
    c->links_len = (uint16_t)len;
    return LWM2M_OK;
}

static void copy_field(char *dst, size_t cap, const char *src, size_t len)
{
    if (!src || len >= cap)
        len = 0;
    memcpy(dst, src ? src : "", len);
    dst[len] = 0;
}

static cs_time_ms_t expiry(cs_time_ms_t now, uint32_t lifetime)
{
    return now + (cs_time_ms_t)lifetime * 1000u;
}

static void unregister(lwm2m_registry_t *reg, lwm2m_client_t *c)
{
    index_remove(reg, reg->by_endpoint, ep_hash(reg, c->endpoint, c->endpoint_len), rec_of(reg, c));
    c->state = LWM2M_CLIENT_PROVISIONED;
    reg->n_registered--;
}

lwm2m_err_t lwm2m_registry_register(lwm2m_registry_t *reg, lwm2m_client_t *client,
                                    const lwm2m_register_info_t *info, const uint8_t *links,
                                    size_t links_len, uint32_t peer, cs_time_ms_t now,
                                    lwm2m_client_t **out)
{
    if (!reg || !info || !info->endpoint || !out || (links_len && !links))
        return LWM2M_ERR_BAD_ARG;
    if (info->endpoint_len >= LWM2M_ENDPOINT_MAX || links_len > LWM2M_REG_LINKS_MAX)
        return LWM2M_ERR_TOO_LARGE;
    if (client && (info->endpoint_len != client->endpoint_len ||
                   memcmp(info->endpoint, client->endpoint, info->endpoint_len) != 0))
        return LWM2M_ERR_ENDPOINT_MISMATCH;
    lwm2m_client_t *old = lwm2m_registry_find_endpoint(reg, info->endpoint, info->endpoint_len);
    lwm2m_client_t *c = client;
    if (old && old != client) {
        if (old->has_oscore)
            return LWM2M_ERR_ENDPOINT_TAKEN;
        if (client) /* an OSCORE client claims its name from an unprotected one */
            lwm2m_registry_remove(reg, old);
        else        /* an unprotected client re-registers */
            c = old;
    }
    if (!c && !(c = take_record(reg)))
        return LWM2M_ERR_FULL;
    if (c->state == LWM2M_CLIENT_REGISTERED)
        unregister(reg, c);
    memcpy(c->endpoint, info->endpoint, info->endpoint_len);
    c->endpoint[info->endpoint_len] = 0;
    c->endpoint_len = (uint8_t)info->endpoint_len;
    copy_field(c->binding, sizeof c->binding, info->binding, info->binding_len);
    copy_field(c->version, sizeof c->version, info->version, info->version_len);
    c->queue_mode = info->queue_mode;
    c->lifetime = info->lifetime;
    c->expires = expiry(now, info->lifetime);
    c->peer = peer;
    (void)set_links(c, links, links_len); /* length checked above */
    c->state = LWM2M_CLIENT_REGISTERED;
    reg->n_registered++;
    index_insert(reg, reg->by_endpoint, ep_hash(reg, c->endpoint, c->endpoint_len), rec_of(reg, c));
    *out = c;
    return LWM2M_OK;
}

lwm2m_err_t lwm2m_registry_update(lwm2m_registry_t *reg, lwm2m_client_t *c, uint32_t lifetime,
                                  const uint8_t *links, size_t links_len, uint32_t peer,
                                  cs_time_ms_t now)
{
    if (!reg || !c || c->state != LWM2M_CLIENT_REGISTERED)
        return LWM2M_ERR_BAD_ARG;
    if (links) {
        lwm2m_err_t err = set_links(c, links, links_len);
        if (err != LWM2M_OK)
            return err;
    }
    if (lifetime)
        c->lifetime = lifetime;
    c->expires = expiry(now, c->lifetime);
    c->peer = peer;
    return LWM2M_OK;
}

void lwm2m_registry_deregister(lwm2m_registry_t *reg, lwm2m_client_t *c)
{
    if (!reg || !c || c->state != LWM2M_CLIENT_REGISTERED)
        return;
    unregister(reg, c);
    if (!c->has_oscore)
        free_record(reg, c);
}

void lwm2m_registry_remove(lwm2m_registry_t *reg, lwm2m_client_t *c)
{
    if (!reg || !c || c->state == LWM2M_CLIENT_FREE)
        return;
    if (c->state == LWM2M_CLIENT_REGISTERED)
        unregister(reg, c);
    if (c->has_oscore)
        index_remove(reg, reg->by_kid, ctx_hash(reg, &c->oscore), rec_of(reg, c));
    free_record(reg, c);
}

lwm2m_client_t *lwm2m_registry_sweep(lwm2m_registry_t *reg, cs_time_ms_t now, uint32_t budget)
{
    if (!reg)
        return NULL;
    for (; budget; budget--) {
        lwm2m_client_t *c = &reg->clients[reg->sweep_cursor];
        reg->sweep_cursor = reg->sweep_cursor + 1 < reg->n_clients ? reg->sweep_cursor + 1 : 0;
        if (c->state == LWM2M_CLIENT_REGISTERED && c->expires <= now) {
            lwm2m_registry_deregister(reg, c);
            return c;
        }
    }
    return NULL;
}
