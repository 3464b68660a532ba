/*
 * fuzz_config.c — libFuzzer target: fieldsyncd's config file parser and
 * the API key file reader.
 *
 * The input is written as the config file and loaded with config_load()
 * (with a key in FIELDSYNC_API_KEY), then printed as --check-config does;
 * it is also read as a key file.  Checked beyond the sanitizers: a loaded
 * configuration has its values in their documented ranges, and the key
 * appears nowhere in what --check-config prints unless the input itself
 * holds it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "tests/fuzz/fuzz_common.h"

#define SECRET "k3y-0f-th3-fuzz3r-n0t-1n-0utput"

static char cfg_path[256], key_path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = fz_dir;
    (void)argc;
    (void)argv;
    fz_db_path("config");
    snprintf(cfg_path, sizeof cfg_path, "%s/config", dir);
    snprintf(key_path, sizeof key_path, "%s/api.key", dir);
    unsetenv("FIELDSYNC_API_URL");
    unsetenv("FIELDSYNC_API_KEY_FILE");
    unsetenv("FIELDSYNC_TECHNICIAN_ID");
    unsetenv("FIELDSYNC_DB");
    unsetenv("FIELDSYNC_SOCKET");
    setenv("FIELDSYNC_API_KEY", SECRET, 1);
    setenv("HOME", dir, 1);
    setenv("XDG_STATE_HOME", dir, 1);
    setenv("XDG_RUNTIME_DIR", dir, 1);
    return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
        perror(path);
        abort();
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config_flags flags;
    agent_config c;
    char err[512], *out = NULL, *key = NULL;
    size_t outlen = 0;
    FILE *fp;

    if (size > CONFIG_MAX_FILE + 4096)
        return 0;
    write_file(cfg_path, data, size);
    memset(&flags, 0, sizeof flags);
    flags.config = cfg_path;
    if (config_load(&flags, &c, err, sizeof err) == 0) {
        if (c.days_back < 0 || c.days_ahead < 0 || c.interval <= 0 || c.max_connections <= 0 ||
            (int)c.policy < 0 || (int)c.policy > POLICY_MANUAL || !c.db || !c.socket) {
            fprintf(stderr, "fuzz_config: out-of-range value accepted\n");
            abort();
        }
        fp = open_memstream(&out, &outlen);
        if (!fp)
            abort();
        config_print(&c, fp);
        fclose(fp);
        if (c.api_key && strstr(out, c.api_key) && !memmem(data, size, c.api_key, strlen(c.api_key))) {
            fprintf(stderr, "fuzz_config: the API key was printed\n");
            abort();
        }
        free(out);
        (void)config_require(&c, err, sizeof err);
        config_release(&c);
    } else if (strstr(err, SECRET) && !memmem(data, size, SECRET, strlen(SECRET))) {
        fprintf(stderr, "fuzz_config: the API key in an error message\n");
        abort();
    }
    /* The same bytes as a key file. */
    write_file(key_path, data, size);
    if (config_read_key_file(key_path, &key, err, sizeof err) == 0) {
        if (!key || !*key)
            abort();
        free(key);
    }
    return 0;
}
