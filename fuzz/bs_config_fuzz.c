/* libFuzzer: the Bootstrap-Server's account file. Accepted files hold only
 * complete accounts (1..CS_BS_MAX_SERVERS servers each) with distinct
 * endpoint names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coreseal/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cs_bs_config_t cfg;
    char err[256];
    if (cs_bs_config_parse((const char *)data, size, "/tmp", &cfg, err, sizeof err) != CS_STORE_OK)
        return 0;
    if (cfg.n == 0 || cfg.n > CS_BS_MAX_ACCOUNTS)
        abort();
    for (size_t i = 0; i < cfg.n; i++) {
        if (!cfg.acc[i].endpoint[0] || cfg.acc[i].n_servers == 0 || cfg.acc[i].n_servers > CS_BS_MAX_SERVERS)
            abort();
        for (size_t k = 0; k < cfg.acc[i].n_servers; k++)
            if (cfg.acc[i].servers[k].ssid == 0)
                abort();
        for (size_t k = 0; k < i; k++)
            if (!strcmp(cfg.acc[i].endpoint, cfg.acc[k].endpoint))
                abort();
    }
    return 0;
}
