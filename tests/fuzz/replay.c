/*
 * replay.c — a main() for the fuzz targets (tests/fuzz/fuzz_*.c) without
 * libFuzzer: feeds each input file to LLVMFuzzerTestOneInput once, so that
 * `make check` replays the corpora in tests/fuzz/corpus/ with gcc (and
 * under ASan+UBSan in check-asan), and an input that once crashed a target
 * fails CI.
 *
 *   BUILD/tests/fuzz_TARGET PATH...   (a directory: every file in it)
 *
 * Output is in cmocka's format, one test case an input, so that
 * tests/run_tests.py counts it like the other C suites.  A crash ends the
 * program with the "[ RUN      ]" line of its input last.  The target's
 * own checks abort(), as they do under libFuzzer; its return value only
 * tells libFuzzer whether to keep an input, so it is not a verdict here.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Inputs larger than this are not fuzzer inputs (libFuzzer's -max_len is
 * far below it); refusing them keeps a stray file from exhausting memory. */
#define REPLAY_MAX_INPUT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Weak: a target need not define it, as under libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

typedef struct {
    char **v;
    size_t n, cap;
} paths;

static int paths_add(paths *p, const char *dir, const char *name)
{
    char *s;
    size_t len = strlen(dir) + strlen(name) + 2;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        char **v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return -1;
        p->v = v;
        p->cap = cap;
    }
    if (!(s = malloc(len)))
        return -1;
    snprintf(s, len, "%s%s%s", dir, *dir ? "/" : "", name);
    p->v[p->n++] = s;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path, or the regular files in it when it is a directory (sorted, so
 * that the order and the output are the same on every run). */
static int collect(paths *p, const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    size_t first = p->n;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return paths_add(p, "", path);
    if (!(d = opendir(path))) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (paths_add(p, path, e->d_name)) {
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    qsort(p->v + first, p->n - first, sizeof *p->v, by_name);
    return 0;
}

/* Reads a whole file into a buffer of exactly its size (as libFuzzer hands
 * an input over, so that a read past the end is caught by ASan). */
static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
        (unsigned long)len <= REPLAY_MAX_INPUT && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc(len ? (size_t)len : 1)) != NULL) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            *size = (size_t)len;
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    paths in = {NULL, 0, 0};
    size_t failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (collect(&in, argv[i]))
            return 1;
    if (in.n == 0) {
        /* A target with no inputs would pass while checking nothing. */
        fprintf(stderr, "replay: no inputs in the paths given\n");
        return 1;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    printf("[==========] Running %zu test(s).\n", in.n);
    for (size_t i = 0; i < in.n; i++) {
        size_t size = 0;
        uint8_t *data;

        printf("[ RUN      ] %s\n", in.v[i]);
        fflush(stdout);
        if (!(data = slurp(in.v[i], &size))) {
            printf("[  FAILED  ] %s: cannot read it\n", in.v[i]);
            failed++;
            continue;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        printf("[       OK ] %s\n", in.v[i]);
    }
    printf("[==========] %zu test(s) run.\n", in.n);
    printf("[  PASSED  ] %zu test(s).\n", in.n - failed);
    if (failed)
        printf("[  FAILED  ] %zu test(s).\n", failed);
    for (size_t i = 0; i < in.n; i++)
        free(in.v[i]);
    free(in.v);
    return failed ? 1 : 0;
}
