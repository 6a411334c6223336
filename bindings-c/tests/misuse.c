/* Misuse of the C ABI: NULL handles and pointers, invalid JSON, invalid UTF-8, wrong resource
 * ids, unknown operations, wrong actors, small buffers. Each returns its code and leaves the
 * engine usable. Exits non-zero on any failure. */
#include "common.h"

/* The engine still answers a normal call. */
static void still_usable(const chat_engine *engine, const chat_actor *ann, const char *after) {
    reply r = call(engine, ann, "me", "{}");
    CHECK(r.result == CHAT_OK && r.status == 200, "engine unusable after %s: %u %s", after,
          r.result, r.json);
    CHECK(json_is(r.json, "id", "\"" ANN_ID "\""), "%s", r.json);
    reply_free(&r);
}

/* A call failed with `expected`, its status, and an error body naming `code`. */
static void fails(reply r, chat_result expected, uint16_t status, const char *code,
                  const char *what) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", code);
    CHECK(r.result == expected, "%s: result %u, expected %u (%s)", what, r.result, expected,
          r.json);
    CHECK(r.status == status, "%s: status %u, expected %u", what, r.status, status);
    CHECK(json_is(r.json, "code", quoted), "%s: %s", what, r.json);
}

int main(void) {
    chat_engine *engine = NULL;
    chat_actor *host = NULL, *ann = NULL, *nobody = NULL;
    uint16_t status = 0;
    char *json = NULL;
    char buf[256];
    size_t n = 0;
    reply r;

    /* Opening. */
    CHECK(chat_engine_open_in_memory(NULL) == CHAT_NULL_PARAMETER, "open_in_memory(NULL)");
    CHECK(chat_engine_open(NULL, &engine) == CHAT_NULL_PARAMETER && engine == NULL, "open path");
    CHECK(chat_engine_open(":memory:", NULL) == CHAT_NULL_PARAMETER, "open out");
    CHECK(chat_engine_open("/nonexistent-dir/sub/chat.db", &engine) == CHAT_STORAGE_ERROR,
          "unopenable path");
    CHECK(engine == NULL, "no handle on failure");
    CHECK(chat_engine_open("bad\xff.db", &engine) == CHAT_INVALID_UTF8, "non-UTF-8 path");
    /* Options that are not what chat_engine_open_with_options takes open nothing. */
    CHECK(chat_engine_open_with_options(":memory:", "{}", NULL) == CHAT_NULL_PARAMETER,
          "options out");
    CHECK(chat_engine_open_with_options(":memory:", "not json", &engine) == CHAT_PARSE_ERROR &&
              engine == NULL,
          "options not JSON");
    CHECK(chat_engine_open_with_options(":memory:", "{\"durability\": \"sometimes\"}",
                                        &engine) == CHAT_VALIDATION_ERROR &&
              engine == NULL,
          "unknown durability");
    CHECK(chat_engine_open_with_options(":memory:", "{\"colour\": 1}", &engine) ==
                  CHAT_VALIDATION_ERROR &&
              engine == NULL,
          "unknown option");
    CHECK(chat_engine_open_with_options(":memory:", "{\"background_checkpoints\": {\"every_ms\": 0}}",
                                        &engine) == CHAT_VALIDATION_ERROR &&
              engine == NULL,
          "zero checkpoint interval");
    /* (Accepted options open a file: `threads` runs with background checkpoints.) */
    CHECK(chat_actor_admin(NULL) == CHAT_NULL_PARAMETER, "admin out");

    CHECK(chat_engine_open_in_memory(&engine) == CHAT_OK, "open");
    CHECK(chat_actor_admin(&host) == CHAT_OK, "admin");
    CHECK(call_result(engine, host, "load_seed", SEED_ARGS) == CHAT_OK, "seed");
    CHECK(chat_actor_from_token(engine, ANN_TOKEN, &ann) == CHAT_OK, "ann");
    still_usable(engine, ann, "seed");

    /* NULL handles and pointers in chat_engine_call. */
    CHECK(chat_engine_call(NULL, ann, "me", "{}", &status, &json) == CHAT_NULL_PARAMETER,
          "NULL engine");
    CHECK(json == NULL, "no body without an engine");
    fails((r = call(engine, NULL, "me", "{}")), CHAT_NULL_PARAMETER, 400, "null_parameter",
          "NULL actor");
    CHECK(has(r.json, "`actor`"), "names the parameter: %s", r.json);
    reply_free(&r);
    r.result = chat_engine_call(engine, ann, NULL, "{}", &r.status, &r.json);
    fails(r, CHAT_NULL_PARAMETER, 400, "null_parameter", "NULL op");
    reply_free(&r);
    r.result = chat_engine_call(engine, ann, "me", NULL, &r.status, &r.json);
    fails(r, CHAT_NULL_PARAMETER, 400, "null_parameter", "NULL args");
    reply_free(&r);
    CHECK(chat_engine_call(engine, ann, "me", "{}", NULL, &json) == CHAT_NULL_PARAMETER,
          "NULL out_status");
    CHECK(has(json, "out_status"), "%s", json);
    chat_string_free(json);
    json = NULL;
    CHECK(chat_engine_call(engine, ann, "me", "{}", &status, NULL) == CHAT_NULL_PARAMETER,
          "NULL out_json");
    CHECK(status == 400, "status still written: %u", status);
    CHECK(chat_engine_last_error(engine, buf, sizeof buf, &n) == CHAT_OK, "last error");
    CHECK(strcmp(buf, "The parameter `out_json` is NULL.") == 0, "%s", buf);
    still_usable(engine, ann, "NULL pointers");

    /* NULL in the other functions. */
    CHECK(chat_actor_from_token(NULL, ANN_TOKEN, &nobody) == CHAT_NULL_PARAMETER, "token engine");
    CHECK(chat_actor_from_token(engine, NULL, &nobody) == CHAT_NULL_PARAMETER, "NULL token");
    CHECK(chat_actor_from_token(engine, ANN_TOKEN, NULL) == CHAT_NULL_PARAMETER, "token out");
    CHECK(chat_engine_last_error(NULL, buf, sizeof buf, &n) == CHAT_NULL_PARAMETER, "le engine");
    CHECK(chat_engine_last_error(engine, NULL, 10, &n) == CHAT_NULL_PARAMETER, "le buf");
    CHECK(chat_engine_last_error(engine, buf, sizeof buf, NULL) == CHAT_NULL_PARAMETER, "le n");
    CHECK(chat_engine_last_error_json(NULL, &json) == CHAT_NULL_PARAMETER, "lej engine");
    CHECK(chat_engine_last_error_json(engine, NULL) == CHAT_NULL_PARAMETER, "lej out");
    CHECK(chat_result_message(CHAT_OK, NULL, 1, &n) == CHAT_NULL_PARAMETER, "msg buf");
    CHECK(chat_result_message(CHAT_OK, buf, sizeof buf, NULL) == CHAT_NULL_PARAMETER, "msg n");
    CHECK(chat_operations(NULL) == CHAT_NULL_PARAMETER, "operations out");
    chat_engine_free(NULL);
    chat_actor_free(NULL);
    chat_string_free(NULL);
    still_usable(engine, ann, "NULL in other functions");

    /* Invalid JSON arguments. */
    fails((r = call(engine, ann, "me", "{not json")), CHAT_PARSE_ERROR, 400, "parse_error",
          "malformed JSON");
    reply_free(&r);
    fails((r = call(engine, ann, "get_organization", "[1, 2]")), CHAT_PARSE_ERROR, 400, "parse_error",
          "arguments not an object");
    reply_free(&r);
    fails((r = call(engine, ann, "send_user_message",
                    "{\"user_id\": \"%s\", \"chat_id\": \"%s\", \"body\": \"text\"}", ANN_ID,
                    ANN_ID)),
          CHAT_PARSE_ERROR, 400, "parse_error", "body not an object");
    reply_free(&r);
    fails((r = call(engine, host, "create_organization", "{\"body\": {\"nme\": \"Typo\"}}")),
          CHAT_VALIDATION_ERROR, 400, "validation_error", "unknown field");
    reply_free(&r);
    still_usable(engine, ann, "invalid JSON");

    /* Invalid UTF-8 in every string parameter. */
    fails((r = call(engine, ann, "m\xc3(e", "{}")), CHAT_INVALID_UTF8, 400, "invalid_utf8",
          "op");
    reply_free(&r);
    fails((r = call(engine, ann, "me", "{\"x\": \"\xff\xfe\"}")), CHAT_INVALID_UTF8, 400,
          "invalid_utf8", "args");
    reply_free(&r);
    CHECK(chat_actor_from_token(engine, "ann-\xe2\x28\xa1-token", &nobody) == CHAT_INVALID_UTF8,
          "token");
    CHECK(nobody == NULL, "no actor on failure");
    CHECK(chat_engine_last_error_json(engine, &json) == CHAT_OK && has(json, "invalid_utf8"),
          "%s", json);
    chat_string_free(json);
    json = NULL;
    still_usable(engine, ann, "invalid UTF-8");

    /* Wrong resource ids and operations. */
    fails((r = call(engine, ann, "get_chat",
                    "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"chat_id\": \"nope\"}",
                    ANN_ID)),
          CHAT_NOT_FOUND, 404, "not_found", "malformed chat id");
    reply_free(&r);
    fails((r = call(engine, ann, "get_chat",
                    "{\"scope\": \"user_chats\", \"user_id\": \"%s\","
                    " \"chat_id\": \"00000000-0000-4000-8000-000000000000\"}",
                    ANN_ID)),
          CHAT_NOT_FOUND, 404, "not_found", "unknown chat id");
    reply_free(&r);
    fails((r = call(engine, ann, "visitor_get_chat",
                    "{\"visitor_id\": \"0123\", \"chat_id\": \"%s\"}", ANN_ID)),
          CHAT_NOT_FOUND, 404, "not_found", "malformed visitor id");
    reply_free(&r);
    fails((r = call(engine, ann, "get_organization",
                    "{\"organization_id\": \"00000000-0000-4000-8000-000000000001\"}")),
          CHAT_PERMISSION_DENIED, 403, "permission_denied", "another organization");
    reply_free(&r);
    fails((r = call(engine, ann, "no_such_operation", "{}")), CHAT_NOT_FOUND, 404, "not_found",
          "unknown operation");
    reply_free(&r);
    fails((r = call(engine, ann, "list_chats", "{\"scope\": \"galaxy\", \"user_id\": \"%s\"}",
                    ANN_ID)),
          CHAT_VALIDATION_ERROR, 400, "validation_error", "unknown scope");
    CHECK(json_str(r.json, "errors.scope.0", buf, sizeof buf), "field error: %s", r.json);
    reply_free(&r);
    still_usable(engine, ann, "wrong ids");

    /* Wrong actors. */
    CHECK(chat_actor_from_token(engine, "no-such-token-0000", &nobody) == CHAT_NOT_AUTHENTICATED,
          "unknown token");
    CHECK(nobody == NULL, "no actor");
    fails((r = call(engine, ann, "load_seed", "{\"body\": {}}")), CHAT_PERMISSION_DENIED, 403,
          "permission_denied", "seed by a user");
    reply_free(&r);
    fails((r = call(engine, host, "me", "{}")), CHAT_PERMISSION_DENIED, 403, "permission_denied",
          "me as host");
    reply_free(&r);
    still_usable(engine, ann, "wrong actors");

    /* A success clears this thread's last error. */
    CHECK(chat_engine_last_error(engine, buf, sizeof buf, &n) == CHAT_OK && n == 0 && buf[0] == 0,
          "cleared: %s", buf);
    CHECK(chat_engine_last_error_json(engine, &json) == CHAT_OK && json == NULL, "cleared json");

    /* Messages into small buffers: cut, NUL-terminated, full length reported. */
    CHECK(chat_result_message(CHAT_PANIC, NULL, 0, &n) == CHAT_OK, "length query");
    CHECK(n == strlen("panic: the library panicked"), "full length %zu", n);
    memset(buf, 'x', sizeof buf);
    CHECK(chat_result_message(CHAT_PANIC, buf, 4, &n) == CHAT_OK && strcmp(buf, "pan") == 0,
          "cut: %s", buf);
    CHECK(chat_result_message(77777, buf, sizeof buf, &n) == CHAT_OK, "unknown code");
    CHECK(strcmp(buf, "unknown result code 77777") == 0, "%s", buf);
    for (unsigned code = 0; code <= 23; code++) {
        CHECK(chat_result_message(code, buf, sizeof buf, &n) == CHAT_OK && n > 0, "%u", code);
        CHECK(strncmp(buf, "unknown", 7) != 0, "code %u is known", code);
    }
    CHECK(chat_version() != NULL && strlen(chat_version()) >= 5, "version %s", chat_version());
    CHECK(chat_operations(&json) == CHAT_OK, "operations");
    CHECK(json_len(json, "") > 50, "the operation table: %ld", json_len(json, ""));
    chat_string_free(json);

    chat_actor_free(ann);
    chat_actor_free(host);
    chat_engine_free(engine);
    return t_finish("misuse");
}
