/* hello.c: the chat engine from C. Build: cc hello.c $(pkg-config --cflags --libs chat_engine) */
#include <chat_engine.h>
#include <stdio.h>
#include <string.h>

#define ORG "7f9e9580-095b-42c7-838c-c04e667b26f7"
#define ANN "bed3221e-879e-43df-8d0e-d63f8c1f012d"
#define ROOM "9926bdfa-56e0-11e5-b98c-6c4008c08dfe"
#define VISITOR "3b90ef7c93484af4965a79ace7bc9a62"

/* Runs one operation; prints and returns its result. `*json` must be freed by the caller. */
static chat_result run(chat_engine *engine, chat_actor *actor, const char *op,
                       const char *args, char **json) {
    uint16_t status = 0;
    chat_result r = chat_engine_call(engine, actor, op, args, &status, json);
    printf("%s -> %u (HTTP %u)\n", op, (unsigned)r, (unsigned)status);
    return r;
}

int main(void) {
    chat_engine *engine = NULL;
    chat_actor *host = NULL, *ann = NULL;
    char *json = NULL;
    char args[512], chat_id[37] = "";

    if (chat_engine_open_in_memory(&engine) != CHAT_OK) return 1; /* or chat_engine_open(path) */
    chat_actor_admin(&host);

    /* The host loads an organization, an operator with an API token, a room and a visitor. */
    run(engine, host, "load_seed",
        "{\"body\": {\"organizations\": [{\"id\": \"" ORG "\", \"name\": \"Acme\"}],"
        " \"users\": [{\"id\": \"" ANN "\", \"organization_id\": \"" ORG "\", \"first_name\":"
        " \"Ann\", \"last_name\": \"Lee\", \"is_present\": true, \"api_token\": \"ann-token-1234567\"}],"
        " \"rooms\": [{\"id\": \"" ROOM "\", \"organization_id\": \"" ORG "\", \"name\": \"Support\"}],"
        " \"visitors\": [{\"id\": \"" VISITOR "\", \"room_id\": \"" ROOM "\", \"name\": null,"
        " \"is_present\": true}]}}",
        &json);
    chat_string_free(json);

    /* The operator, authenticated by token, starts a chat with the visitor. */
    if (chat_actor_from_token(engine, "ann-token-1234567", &ann) != CHAT_OK) return 1;
    if (run(engine, ann, "create_visitor_chat",
            "{\"user_id\": \"" ANN "\", \"room_id\": \"" ROOM "\", \"visitor_id\": \"" VISITOR "\"}",
            &json) == CHAT_OK) {
        /* Replies are REST resources as JSON; use your JSON library. Here: the chat's "id". */
        const char *id = strstr(json, "\"id\":\"");
        if (id != NULL) memcpy(chat_id, id + 6, 36);
    }
    chat_string_free(json);

    snprintf(args, sizeof args,
             "{\"user_id\": \"" ANN "\", \"chat_id\": \"%s\", \"body\": {\"message\": \"Hello!\"}}",
             chat_id);
    run(engine, ann, "send_user_message", args, &json);
    printf("%s\n", json);
    chat_string_free(json);

    /* Errors: a result code, and the error body {"detail", "code", "errors"?} in *json. */
    snprintf(args, sizeof args,
             "{\"user_id\": \"" ANN "\", \"chat_id\": \"%s\", \"body\": {\"message\": \"\"}}",
             chat_id);
    if (run(engine, ann, "send_user_message", args, &json) == CHAT_VALIDATION_ERROR)
        printf("refused: %s\n", json);
    chat_string_free(json);

    chat_actor_free(ann);
    chat_actor_free(host);
    chat_engine_free(engine);
    return chat_id[0] != '\0' ? 0 : 1;
}
