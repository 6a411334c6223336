/* Shared helpers of the C test programs: a tiny check harness, a call wrapper and a minimal
 * JSON path reader. */
#ifndef CHAT_TEST_COMMON_H
#define CHAT_TEST_COMMON_H

#include "chat_engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed = 0;
static int t_failed = 0;

#define CHECK(cond, ...)                                                                 \
    do {                                                                                 \
        if (cond) {                                                                      \
            t_passed++;                                                                  \
        } else {                                                                         \
            t_failed++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

/* Prints the closing line and returns the exit status. */
static inline int t_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, t_passed, t_failed);
    return t_failed == 0 ? 0 : 1;
}

/* The seed every C test loads: one organization, an operator (Ann) routed the Support room. */
#define ORG_ID "7f9e9580-095b-42c7-838c-c04e667b26f7"
#define ANN_ID "bed3221e-879e-43df-8d0e-d63f8c1f012d"
#define ANN_TOKEN "ann-secret-token-123"
#define ROOM_ID "9926bdfa-56e0-11e5-b98c-6c4008c08dfe"
#define SEED_ARGS                                                                        \
    "{\"body\": {"                                                                       \
    "\"organizations\": [{\"id\": \"" ORG_ID "\", \"name\": \"Acme\"}],"                 \
    "\"users\": [{\"id\": \"" ANN_ID "\", \"organization_id\": \"" ORG_ID "\","          \
    " \"first_name\": \"Ann\", \"last_name\": \"Lee\", \"alias\": \"Support\","          \
    " \"permissions\": [\"reports\", \"settings\"], \"is_present\": true,"               \
    " \"api_token\": \"" ANN_TOKEN "\"}],"                                               \
    "\"rooms\": [{\"id\": \"" ROOM_ID "\", \"organization_id\": \"" ORG_ID "\","         \
    " \"name\": \"Support\", \"router\": [{\"user_ids\": [\"" ANN_ID "\"]}]}]"           \
    "}}"

/* A reply of chat_engine_call. `json` is owned: release with reply_free. */
typedef struct {
    chat_result result;
    uint16_t status;
    char *json;
} reply;

static inline void reply_free(reply *r) {
    chat_string_free(r->json);
    r->json = NULL;
}

/* Formats the arguments with printf, calls, and returns the reply (json owned). */
static inline reply call(const chat_engine *engine, const chat_actor *actor, const char *op,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline reply call(const chat_engine *engine, const chat_actor *actor, const char *op,
                  const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    reply r = {CHAT_OK, 0, NULL};
    r.result = chat_engine_call(engine, actor, op, args, &r.status, &r.json);
    return r;
}

/* Calls and releases the reply, returning only the result. */
static inline chat_result call_result(const chat_engine *engine, const chat_actor *actor,
                               const char *op, const char *args) {
    reply r = call(engine, actor, op, "%s", args);
    chat_result res = r.result;
    reply_free(&r);
    return res;
}

/* A minimal JSON reader for the tests: the value at a dotted path ("id",
 * "attachments.0.actions.1.id", "results.0.is_pending"). */
static inline const char *j_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* Skips one value; returns the position after it, or NULL on malformed input. */
static inline const char *j_skip(const char *p) {
    p = j_ws(p);
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0') return NULL;
            if (*p == '\\' && *++p == '\0') return NULL;
        }
        return p + 1;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = j_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = j_skip(p); /* key */
                if (p == NULL) return NULL;
                p = j_ws(p);
                if (*p++ != ':') return NULL;
            }
            p = j_skip(p);
            if (p == NULL) return NULL;
            p = j_ws(p);
            if (*p == ',') {
                p = j_ws(p + 1);
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    const char *start = p;
    while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
    return p == start ? NULL : p;
}

/* The start of the value at `path` in `json`, or NULL. */
static inline const char *j_find(const char *json, const char *path) {
    const char *p = json == NULL ? NULL : j_ws(json);
    while (p != NULL && *path != '\0') {
        const char *dot = strchr(path, '.');
        size_t seg = dot ? (size_t)(dot - path) : strlen(path);
        if (*p == '{') {
            const char *found = NULL;
            p = j_ws(p + 1);
            while (*p == '"') {
                const char *key = p + 1;
                const char *after = j_skip(p);
                if (after == NULL) return NULL;
                int match = (size_t)(after - 1 - key) == seg && strncmp(key, path, seg) == 0;
                p = j_ws(after);
                if (*p++ != ':') return NULL;
                p = j_ws(p);
                if (match) {
                    found = p;
                    break;
                }
                p = j_skip(p);
                if (p == NULL) return NULL;
                p = j_ws(p);
                if (*p == ',') p = j_ws(p + 1);
            }
            p = found;
        } else if (*p == '[') {
            long index = strtol(path, NULL, 10);
            p = j_ws(p + 1);
            for (long i = 0; p != NULL && i < index; i++) {
                if (*p == ']') return NULL;
                p = j_skip(p);
                if (p == NULL) return NULL;
                p = j_ws(p);
                if (*p == ',') p = j_ws(p + 1);
            }
            if (p != NULL && *p == ']') return NULL;
        } else {
            return NULL;
        }
        path += seg + (dot ? 1 : 0);
    }
    return p;
}

/* Copies the value at `path` into `out` (strings without their quotes; no unescaping).
 * Returns 1 when found and it fits. */
static inline int json_str(const char *json, const char *path, char *out, size_t cap) {
    const char *p = j_find(json, path);
    if (p == NULL) return 0;
    const char *end = j_skip(p);
    if (end == NULL) return 0;
    if (*p == '"') {
        p++;
        end--;
    }
    if ((size_t)(end - p) >= cap) return 0;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return 1;
}

/* The integer at `path`, or -1. */
static inline long json_int(const char *json, const char *path) {
    const char *p = j_find(json, path);
    return p == NULL ? -1 : strtol(p, NULL, 10);
}

/* Whether the value at `path` is exactly the JSON text `expected` ("true", "\"msg\"", ...). */
static inline int json_is(const char *json, const char *path, const char *expected) {
    char buf[4096];
    const char *p = j_find(json, path);
    if (p == NULL) return 0;
    const char *end = j_skip(p);
    if (end == NULL || (size_t)(end - p) >= sizeof buf) return 0;
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = '\0';
    return strcmp(buf, expected) == 0;
}

/* The number of elements of the array at `path`, or -1. */
static inline long json_len(const char *json, const char *path) {
    const char *p = j_find(json, path);
    if (p == NULL || *p != '[') return -1;
    long n = 0;
    p = j_ws(p + 1);
    while (*p != ']') {
        p = j_skip(p);
        if (p == NULL) return -1;
        n++;
        p = j_ws(p);
        if (*p == ',') p = j_ws(p + 1);
    }
    return n;
}

/* Whether `json` contains `needle`. */
static inline int has(const char *json, const char *needle) {
    return json != NULL && strstr(json, needle) != NULL;
}

#endif
