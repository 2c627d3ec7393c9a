/* `coreseal demo`: the white paper's system as separate processes on this
 * machine, told as a story. A LwM2M Bootstrap-Server keys two devices
 * (OSCORE contexts in Object 21), which register with the LwM2M server
 * through an untrusted gateway (`coreseal proxy --relay`): device A over
 * UDP, device B over TCP, the gateway translating to UDP. The server reads
 * and observes them; the gateway's log shows only ciphertext; the gateway
 * then tampers with notifications and replays them, and the server rejects
 * every one. Then the same over hop-by-hop DTLS: the gateway reads the
 * values and changes them, and the server accepts the changed ones. Every
 * process is this binary; they talk over loopback; their logs stay in a
 * temporary directory (kept with --keep). Exit code 0 only if every
 * expected outcome happened. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_PROCS 12
#define MAX_ROWS 16
#define WAIT_MS 20000

typedef struct {
    pid_t pid;
    char name[24];
} proc_t;

typedef struct {
    char self[PATH_MAX]; /* this binary: every process of the demo */
    char dir[64];        /* where configuration and logs go */
    proc_t procs[MAX_PROCS];
    size_t n_procs;
    struct {
        char what[96], seen[64];
        bool ok;
    } rows[MAX_ROWS];
    size_t n_rows;
    cs_crypto_t *crypto;
} demo_t;

/* ---------------------------------------------------------------- processes and logs */

/* A TCP and UDP port free on 127.0.0.1 (TCP picks, UDP must agree). */
static int free_port(void)
{
    for (int tries = 0; tries < 50; tries++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
        bool ok = t >= 0 && u >= 0 && bind(t, (struct sockaddr *)&a, sizeof a) == 0 &&
                  getsockname(t, (struct sockaddr *)&a, &len) == 0 && bind(u, (struct sockaddr *)&a, sizeof a) == 0;
        if (t >= 0)
            close(t);
        if (u >= 0)
            close(u);
        if (ok)
            return ntohs(a.sin_port);
    }
    return -1;
}

/* Starts `coreseal ARGS...` (a command line without quoting) in the demo
 * directory, its output into NAME.log. */
static bool spawn(demo_t *d, const char *name, const char *fmt, ...)
{
    char line[1024], *argv[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int argc = 0;
    argv[argc++] = d->self;
    for (char *save, *tok = strtok_r(line, " ", &save); tok && argc < 47; tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    if (d->n_procs == MAX_PROCS)
        return false;
    char log[160];
    snprintf(log, sizeof log, "%s/%s.log", d->dir, name);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(d->dir) != 0)
            _exit(127);
        setvbuf(stdout, NULL, _IOLBF, 0);
        execv(d->self, argv);
        _exit(127);
    }
    if (pid < 0)
        return false;
    proc_t *p = &d->procs[d->n_procs++];
    p->pid = pid;
    snprintf(p->name, sizeof p->name, "%s", name);
    return true;
}

static pid_t pid_of(const demo_t *d, const char *name)
{
    for (size_t i = 0; i < d->n_procs; i++)
        if (!strcmp(d->procs[i].name, name))
            return d->procs[i].pid;
    return -1;
}

/* Ends a process (SIGINT: a LwM2M client de-registers first). */
static void stop(demo_t *d, const char *name)
{
    pid_t pid = pid_of(d, name);
    if (pid <= 0)
        return;
    kill(pid, SIGINT);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            goto gone;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
gone:
    for (size_t i = 0; i < d->n_procs; i++)
        if (d->procs[i].pid == pid)
            d->procs[i].pid = -1;
}

static void stop_all(demo_t *d)
{
    for (size_t i = d->n_procs; i-- > 0;)
        if (d->procs[i].pid > 0)
            stop(d, d->procs[i].name);
}

/* How often text occurs in the log NAME.log. */
static int count(const demo_t *d, const char *name, const char *text)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s.log", d->dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, text) != NULL;
    fclose(f);
    return n;
}

/* The first line of NAME.log holding text (and, if not NULL, also2). */
static bool find_line(const demo_t *d, const char *name, const char *text, const char *also2, char *out, size_t cap)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s.log", d->dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (strstr(line, text) && (!also2 || strstr(line, also2))) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, cap, "%s", line);
            found = true;
        }
    fclose(f);
    return found;
}

/* Waits until text occurs at least n times in NAME.log. */
static bool wait_for(const demo_t *d, const char *name, const char *text, int n)
{
    for (int waited = 0; waited < WAIT_MS; waited += 50) {
        if (count(d, name, text) >= n)
            return true;
        usleep(50000);
    }
    return false;
}

/* ---------------------------------------------------------------- the story */

static bool outcome(demo_t *d, bool ok, const char *what, const char *seen_fmt, ...)
{
    printf("   [%s] %s\n", ok ? " ok " : "FAIL", what);
    if (d->n_rows < MAX_ROWS) {
        snprintf(d->rows[d->n_rows].what, sizeof d->rows[0].what, "%s", what);
        va_list ap;
        va_start(ap, seen_fmt);
        vsnprintf(d->rows[d->n_rows].seen, sizeof d->rows[0].seen, seen_fmt, ap);
        va_end(ap);
        d->rows[d->n_rows++].ok = ok;
    }
    return ok;
}

static void show(const demo_t *d, const char *who, const char *name, const char *text, const char *also2)
{
    char line[4096];
    size_t wl = strlen(who);
    if (!find_line(d, name, text, also2, line, sizeof line))
        return;
    bool named = !strncmp(line, who, wl) && line[wl] == ':'; /* the line says who it is */
    printf("      %s%s%.140s%s\n", named ? "" : who, named ? "" : ": ", line, strlen(line) > 140 ? "..." : "");
}

static bool write_file(const demo_t *d, const char *name, const char *fmt, ...)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    return fclose(f) == 0;
}

static void hex_random(demo_t *d, char *out, size_t bytes)
{
    uint8_t b[32];
    (void)cli_random(d->crypto, b, bytes);
    for (size_t i = 0; i < bytes; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* The OSCORE material: per device, a context shared with the
 * Bootstrap-Server, and the one the Bootstrap-Server hands the device for
 * the LwM2M server (which the server has too). */
static bool write_keys(demo_t *d, const char *ep, const char *ep_hex)
{
    char bs_secret[33], srv_secret[33], salt[17], name[64];
    hex_random(d, bs_secret, 16);
    hex_random(d, srv_secret, 16);
    hex_random(d, salt, 8);
    snprintf(name, sizeof name, "bs-%s.json", ep);
    bool ok = write_file(d, name, "{\"master_secret\":\"%s\",\"sender_id\":\"6273\",\"recipient_id\":\"%s\"}\n",
                         bs_secret, ep_hex);
    snprintf(name, sizeof name, "%s-bs.json", ep);
    ok = ok && write_file(d, name,
                          "{\"master_secret\":\"%s\",\"sender_id\":\"%s\",\"recipient_id\":\"6273\","
                          "\"state_file\":\"%s-bs.state\"}\n", bs_secret, ep_hex, ep);
    snprintf(name, sizeof name, "srv-%s.json", ep);
    return ok && write_file(d, name,
                            "{\"master_secret\":\"%s\",\"master_salt\":\"%s\",\"sender_id\":\"00\","
                            "\"recipient_id\":\"%s\",\"state_file\":\"srv-%s.state\"}\n",
                            srv_secret, salt, ep_hex, ep);
}

static void act_oscore(demo_t *d)
{
    int bs = free_port(), srv = free_port(), gw = free_port(), gwt = free_port();
    printf("\n1. Keys: a LwM2M Bootstrap-Server provisions both devices over OSCORE\n"
           "   (Object 21 and Security Object resource 17; LwM2M 1.1+, RFC 8613)\n");
    bool ok = write_keys(d, "devA", "64657641") && write_keys(d, "devB", "64657642") &&
              write_file(d, "bs.json",
                         "{\"accounts\":[\n"
                         " {\"endpoint\":\"devA\",\"oscore\":\"bs-devA.json\",\"server\":{\"uri\":"
                         "\"coap://127.0.0.1:%d\",\"ssid\":101,\"lifetime\":300,\"oscore\":\"srv-devA.json\"}},\n"
                         " {\"endpoint\":\"devB\",\"oscore\":\"bs-devB.json\",\"server\":{\"uri\":"
                         "\"coap+tcp://127.0.0.1:%d\",\"ssid\":102,\"lifetime\":300,\"oscore\":\"srv-devB.json\"}}]}\n",
                         gw, gwt);
    ok = ok && spawn(d, "bootstrap", "lwm2m bootstrap --listen 127.0.0.1:%d --config bs.json", bs) &&
         spawn(d, "server", "lwm2m server --listen 127.0.0.1:%d --db :memory: --oscore srv-devA.json "
                            "--oscore srv-devB.json --read /3303/0/5700 --observe /3303/0/5700", srv) &&
         spawn(d, "gateway", "proxy --relay --listen 127.0.0.1:%d --listen-tcp 127.0.0.1:%d --default "
                             "coap://127.0.0.1:%d --log gateway-seen.log -v --attack tamper,replay "
                             "--attack-direction to-server --attack-step", gw, gwt, srv) &&
         wait_for(d, "server", "listening", 1) && wait_for(d, "gateway", "relaying", 1) &&
         wait_for(d, "bootstrap", "listening", 1);
    printf("   bootstrap 127.0.0.1:%d, LwM2M server 127.0.0.1:%d, gateway UDP 127.0.0.1:%d and TCP :%d\n", bs,
           srv, gw, gwt);
    char state[96];
    for (const char *ep = "A"; *ep; ep = *ep == 'A' ? "B" : "") { /* where each device keeps its state */
        snprintf(state, sizeof state, "%s/dev%s", d->dir, ep);
        ok = ok && mkdir(state, 0700) == 0;
    }
    ok = ok && spawn(d, "devA", "lwm2m client --ep devA --bootstrap coap://127.0.0.1:%d --oscore devA-bs.json "
                                "--state devA --duration 600 --interval 400", bs) &&
         spawn(d, "devB", "lwm2m client --ep devB --bootstrap coap://127.0.0.1:%d --oscore devB-bs.json "
                          "--state devB --duration 600 --interval 400", bs);
    bool keyed = ok && wait_for(d, "bootstrap", "devA: finished", 1) && wait_for(d, "bootstrap", "devB: finished", 1);
    show(d, "bootstrap", "bootstrap", "devA: finished", NULL);
    outcome(d, keyed, "bootstrap keyed both devices (OSCORE, Echo on first contact)", "%s", keyed ? "2 of 2" : "no");

    printf("\n2. They register through the gateway over OSCORE: device A over UDP, device B over TCP\n"
           "   (RFC 8323), the gateway translating to UDP; the server reads and observes the temperature\n");
    bool reg = wait_for(d, "server", "registered devA lt=300 over OSCORE", 1) &&
               wait_for(d, "server", "registered devB lt=300 over OSCORE", 1);
    show(d, "server", "server", "registered devB", NULL);
    outcome(d, reg, "both devices registered through the gateway over OSCORE", "%s", reg ? "A: UDP, B: TCP" : "no");
    bool read = wait_for(d, "server", "read devA /3303/0/5700 = ", 1) &&
                wait_for(d, "server", "read devB /3303/0/5700 = ", 1) &&
                wait_for(d, "server", "notify devA /3303/0/5700 = ", 2) &&
                wait_for(d, "server", "notify devB /3303/0/5700 = ", 2);
    show(d, "server", "server", "notify devB /3303/0/5700", NULL);
    outcome(d, read, "the server read both and receives their notifications", "%d notifications",
            count(d, "server", "notify dev"));

    printf("\n3. What the gateway sees: outer options and ciphertext, never a path or a value\n");
    show(d, "gateway sees", "gateway-seen", "client->proxy (tcp)", "OSCORE");
    show(d, "gateway sees", "gateway-seen", "client->proxy", "Observe");
    /* paths print with slashes, which the payloads' hex never holds */
    bool blind = count(d, "gateway-seen", "OSCORE") > 0 && count(d, "gateway-seen", "/3303") == 0 &&
                 count(d, "gateway-seen", "/5700") == 0 && count(d, "gateway-seen", "/rd") == 0;
    outcome(d, blind, "the gateway's log holds no path, object or value", "%d lines, 0 plaintext",
            count(d, "gateway-seen", "->"));

    printf("\n4. The gateway flips a bit in each notification (SIGUSR1 turns its attack on)\n");
    kill(pid_of(d, "gateway"), SIGUSR1);
    bool rejected = wait_for(d, "server", "OSCORE: decryption failed", 2);
    show(d, "server", "server", "rejected by OSCORE: OSCORE: decryption failed", NULL);
    outcome(d, rejected, "every tampered notification rejected by the server", "%d rejected",
            count(d, "server", "OSCORE: decryption failed"));

    printf("\n5. The gateway replays earlier notifications (under fresh message IDs)\n");
    kill(pid_of(d, "gateway"), SIGUSR1);
    bool replayed = wait_for(d, "server", "OSCORE: replayed or old message", 2);
    show(d, "server", "server", "OSCORE: replayed or old message", NULL);
    outcome(d, replayed, "every replayed notification rejected by the server", "%d rejected",
            count(d, "server", "OSCORE: replayed or old message"));

    printf("\n6. The gateway stops attacking: the observations carry on\n");
    kill(pid_of(d, "gateway"), SIGUSR1);
    int now = count(d, "server", "notify dev");
    bool resumed = wait_for(d, "server", "notify dev", now + 2);
    outcome(d, resumed, "genuine notifications are accepted again", "%d in all", count(d, "server", "notify dev"));
    stop(d, "devA");
    stop(d, "devB");
    bool left = wait_for(d, "server", "de-registered devA", 1) && wait_for(d, "server", "de-registered devB", 1);
    outcome(d, left, "both devices de-registered through the gateway", "%s", left ? "2 of 2" : "no");
    stop(d, "gateway");
    stop(d, "server");
    stop(d, "bootstrap");
}

static void act_dtls(demo_t *d)
{
    int srv = free_port(), srvd = free_port(), gw = free_port(), gwd = free_port();
    char down_key[33], up_key[33];
    hex_random(d, down_key, 16);
    hex_random(d, up_key, 16);
    printf("\n7. The same without OSCORE: DTLS on each hop (device C -> gateway -> server), the\n"
           "   gateway terminating it, as hop-by-hop security must\n");
    bool ok = spawn(d, "server-dtls", "lwm2m server --listen 127.0.0.1:%d --listen-dtls 127.0.0.1:%d --psk "
                                     "devC:0x%s --db :memory: --read /3303/0/5700 --observe /3303/0/5700",
                    srv, srvd, up_key) &&
              spawn(d, "gateway-dtls", "proxy --relay --listen 127.0.0.1:%d --listen-dtls 127.0.0.1:%d --psk "
                                       "devC:0x%s --default coaps://127.0.0.1:%d --upstream-psk devC:0x%s --log "
                                       "gateway-dtls-seen.log -v --attack subst --attack-direction to-server "
                                       "--attack-step", gw, gwd, down_key, srvd, up_key) &&
              wait_for(d, "server-dtls", "DTLS on", 1) && wait_for(d, "gateway-dtls", "relaying", 1) &&
              spawn(d, "devC", "lwm2m client --ep devC --server coaps://127.0.0.1:%d --psk devC:0x%s "
                               "--duration 600 --interval 400", gwd, down_key);
    bool reg = ok && wait_for(d, "server-dtls", "registered devC", 1) &&
               wait_for(d, "server-dtls", "notify devC /3303/0/5700 = 2", 2);
    show(d, "server", "server-dtls", "notify devC /3303/0/5700", NULL);
    outcome(d, reg, "device C registered over DTLS and is observed", "%d notifications",
            count(d, "server-dtls", "notify devC"));
    show(d, "gateway sees", "gateway-dtls-seen", "{   2", NULL);
    char line[4096];
    bool reads = find_line(d, "gateway-dtls-seen", "client->proxy (dtls)", "Observe", line, sizeof line) &&
                 count(d, "gateway-dtls-seen", "21.") + count(d, "gateway-dtls-seen", "22.") > 0;
    outcome(d, reads, "the gateway reads the temperature in the clear", "%s", reads ? "yes" : "no");

    printf("\n8. The gateway changes every digit of the value to 9 (SIGUSR1)\n");
    kill(pid_of(d, "gateway-dtls"), SIGUSR1);
    bool changed = wait_for(d, "server-dtls", "notify devC /3303/0/5700 = 99", 2);
    show(d, "server", "server-dtls", "notify devC /3303/0/5700 = 99", NULL);
    outcome(d, changed && count(d, "server-dtls", "rejected") == 0,
            "the server accepted the changed value: nothing can tell", "%d changed, 0 rejected",
            count(d, "server-dtls", "= 99"));
    stop(d, "devC");
    stop(d, "gateway-dtls");
    stop(d, "server-dtls");
}

int demo_system(cs_crypto_t *crypto, bool keep)
{
    static demo_t d;
    memset(&d, 0, sizeof d);
    d.crypto = crypto;
    ssize_t n = readlink("/proc/self/exe", d.self, sizeof d.self - 1);
    snprintf(d.dir, sizeof d.dir, "/tmp/coreseal-demo.XXXXXX");
    if (n <= 0 || !mkdtemp(d.dir))
        return cli_fail("demo", CLI_EXIT_CONFIG, "cannot set up a working directory: %s", strerror(errno));
    d.self[n] = '\0';
    printf("coreseal demo: a LwM2M system on this machine, all of it this binary, over loopback\n"
           "(configuration and every process's log in %s, removed at the end unless --keep)\n", d.dir);
    signal(SIGPIPE, SIG_IGN);
    act_oscore(&d);
    act_dtls(&d);
    stop_all(&d);

    int failed = 0;
    printf("\n%-62s %-22s %s\n", "expected outcome", "observed", "");
    for (size_t i = 0; i < d.n_rows; i++) {
        printf("%-62s %-22s %s\n", d.rows[i].what, d.rows[i].seen, d.rows[i].ok ? "ok" : "FAIL");
        failed += !d.rows[i].ok;
    }
    printf("\n%s\n", failed ? "FAILED: see the logs above"
                            : "PASSED: with OSCORE the gateway saw only ciphertext and every change it made was "
                              "rejected;\n        with hop-by-hop DTLS it read the data and changed it unnoticed.");
    if (keep || failed) {
        printf("logs kept in %s\n", d.dir);
    } else {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", d.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "coreseal demo: could not remove %s\n", d.dir);
    }
    return failed ? CLI_EXIT_SECURITY : CLI_EXIT_OK;
}
