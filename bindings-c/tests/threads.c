/* Several threads hammer ONE engine (and share the host and operator actors): each thread is a
 * visitor with its own chat, sending messages while the shared operator joins and replies and
 * lists chats; each thread also checks that its last error is its own. Then the counts are
 * verified. Usage: threads [THREADS [MESSAGES [DB_PATH]]] (default 8 200, in memory).
 * Exits non-zero on any failure. */
#include "common.h"

#include <pthread.h>

#define MAX_THREADS 64

typedef struct {
    const chat_engine *engine;
    const chat_actor *host;
    const chat_actor *ann;
    int index;
    int messages;
    char chat_id[64];
    int failures;
    int calls;
} worker;

/* A thread-local check: counts instead of touching the shared counters. */
#define WCHECK(w, cond, ...)                                                             \
    do {                                                                                 \
        (w)->calls++;                                                                    \
        if (!(cond)) {                                                                   \
            (w)->failures++;                                                             \
            fprintf(stderr, "FAIL thread %d line %d: %s: ", (w)->index, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

static void *run(void *arg) {
    worker *w = arg;
    char visitor_id[64] = "", token[128] = "", buf[256];
    chat_actor *visitor = NULL;
    reply r;

    r = call(w->engine, w->host, "visitor_auth", "{\"organization_id\": \"%s\"}", ORG_ID);
    WCHECK(w, r.result == CHAT_OK, "auth %s", r.json);
    json_str(r.json, "visitor_id", visitor_id, sizeof visitor_id);
    json_str(r.json, "access_token", token, sizeof token);
    reply_free(&r);
    WCHECK(w, chat_actor_from_token(w->engine, token, &visitor) == CHAT_OK, "token");
    r = call(w->engine, visitor, "visitor_enter_room",
             "{\"organization_id\": \"%s\", \"room_id\": \"%s\", \"body\": {\"id\": \"%s\"}}",
             ORG_ID, ROOM_ID, visitor_id);
    WCHECK(w, r.result == CHAT_OK, "enter %s", r.json);
    reply_free(&r);
    r = call(w->engine, visitor, "visitor_start_chat",
             "{\"organization_id\": \"%s\", \"room_id\": \"%s\", \"visitor_id\": \"%s\"}", ORG_ID,
             ROOM_ID, visitor_id);
    WCHECK(w, r.result == CHAT_OK, "start %s", r.json);
    json_str(r.json, "id", w->chat_id, sizeof w->chat_id);
    reply_free(&r);

    for (int i = 0; i < w->messages; i++) {
        r = call(w->engine, visitor, "visitor_send_message",
                 "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\","
                 " \"body\": {\"type\": \"msg\", \"message\": \"thread %d message %d\"}}",
                 visitor_id, w->chat_id, w->index, i);
        WCHECK(w, r.result == CHAT_OK && r.status == 201, "send %d: %u %s", i, r.result, r.json);
        reply_free(&r);
        if (i == 0) {
            r = call(w->engine, w->ann, "join_pending_chat",
                     "{\"user_id\": \"%s\", \"chat_id\": \"%s\","
                     " \"body\": {\"is_participating\": true, \"composing_status\": \"idle\"}}",
                     ANN_ID, w->chat_id);
            WCHECK(w, r.result == CHAT_OK, "join %u %s", r.result, r.json);
            reply_free(&r);
        }
        if (i % 4 == 3) {
            r = call(w->engine, w->ann, "send_user_message",
                     "{\"user_id\": \"%s\", \"chat_id\": \"%s\","
                     " \"body\": {\"message\": \"reply %d\"}}",
                     ANN_ID, w->chat_id, i);
            WCHECK(w, r.result == CHAT_OK, "reply %u %s", r.result, r.json);
            reply_free(&r);
        }
        if (i % 20 == 10) {
            r = call(w->engine, w->ann, "list_chats",
                     "{\"scope\": \"user_chats\", \"user_id\": \"%s\","
                     " \"query\": {\"page_size\": \"5\"}}",
                     ANN_ID);
            WCHECK(w, r.result == CHAT_OK, "list %u %s", r.result, r.json);
            reply_free(&r);
            /* This thread's own error, never another thread's. */
            int odd = w->index % 2;
            r = call(w->engine, w->ann, odd ? "me" : "no_such_op", "%s", odd ? "{x" : "{}");
            reply_free(&r);
            size_t n = 0;
            chat_engine_last_error(w->engine, buf, sizeof buf, &n);
            WCHECK(w, strncmp(buf, odd ? "Malformed JSON" : "Unknown operation", 14) == 0,
                   "own last error: %s", buf);
        }
    }
    chat_actor_free(visitor);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    int messages = argc > 2 ? atoi(argv[2]) : 200;
    const char *path = argc > 3 ? argv[3] : NULL;
    const char *options = argc > 4 ? argv[4] : NULL; /* chat_engine_open_with_options */
    chat_engine *engine = NULL;
    chat_actor *host = NULL, *ann = NULL;
    pthread_t ids[MAX_THREADS];
    worker workers[MAX_THREADS];

    if (threads < 1 || threads > MAX_THREADS || messages < 4) {
        fprintf(stderr, "usage: threads [1..%d [4.. [DB_PATH [OPTIONS_JSON]]]]\n", MAX_THREADS);
        return 2;
    }
    chat_result opened = !path     ? chat_engine_open_in_memory(&engine)
                         : options ? chat_engine_open_with_options(path, options, &engine)
                                   : chat_engine_open(path, &engine);
    CHECK(opened == CHAT_OK, "open %u", opened);
    if (opened != CHAT_OK) return t_finish("threads");
    CHECK(chat_actor_admin(&host) == CHAT_OK, "host");
    CHECK(call_result(engine, host, "load_seed", SEED_ARGS) == CHAT_OK, "seed");
    CHECK(chat_actor_from_token(engine, ANN_TOKEN, &ann) == CHAT_OK, "ann");

    for (int t = 0; t < threads; t++) {
        workers[t] = (worker){engine, host, ann, t, messages, "", 0, 0};
        CHECK(pthread_create(&ids[t], NULL, run, &workers[t]) == 0, "spawn %d", t);
    }
    int calls = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        CHECK(workers[t].failures == 0, "thread %d: %d failures", t, workers[t].failures);
        calls += workers[t].calls;
    }

    /* Every message of every thread is there, counted exactly. */
    long total = 0;
    for (int t = 0; t < threads; t++) {
        reply r = call(engine, ann, "get_chat",
                       "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"chat_id\": \"%s\"}",
                       ANN_ID, workers[t].chat_id);
        CHECK(r.result == CHAT_OK, "chat %d: %s", t, r.json);
        long visitor_msgs = json_int(r.json, "visitor_message_count");
        long user_msgs = json_int(r.json, "user_message_count");
        CHECK(visitor_msgs == messages, "thread %d: %ld visitor messages", t, visitor_msgs);
        CHECK(user_msgs == messages / 4, "thread %d: %ld user messages", t, user_msgs);
        CHECK(json_int(r.json, "message_count") == messages + messages / 4, "%s", r.json);
        total += visitor_msgs;
        reply_free(&r);
    }
    reply r = call(engine, ann, "list_chats",
                   "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"query\": {\"page_size\": 100}}",
                   ANN_ID);
    CHECK(r.result == CHAT_OK && json_len(r.json, "results") == (threads < 100 ? threads : 100),
          "%d chats listed", threads);
    reply_free(&r);
    printf("threads: %d threads x %d messages: %ld visitor messages stored, %d checked calls\n",
           threads, messages, total, calls);

    chat_actor_free(ann);
    chat_actor_free(host);
    chat_engine_free(engine);
    return t_finish("threads");
}
