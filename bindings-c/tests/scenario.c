/* The scenario every binding runs, through the C ABI:
 * load a seed; a visitor authenticates, enters the room, starts a chat and writes; the chat is
 * pending for the operator; the operator joins from pending and replies; messages with
 * attachments and action (and interaction) responses; the chat ends; a message to the ended
 * chat is CHAT_CHAT_ENDED with status 409. Exits non-zero on any failure. */
#include "common.h"

int main(void) {
    chat_engine *engine = NULL;
    chat_actor *host = NULL, *visitor = NULL, *ann = NULL;
    char visitor_id[64], token[128], chat_id[64], message_id[64], attachment_id[64];
    char action_yes[64], action_no[64], interaction_msg[64], interaction_att[64], buf[256];
    reply r;

    CHECK(chat_engine_open_in_memory(&engine) == CHAT_OK, "open");
    CHECK(engine != NULL, "engine handle");
    CHECK(chat_actor_admin(&host) == CHAT_OK, "admin actor");

    /* The host loads a seed. */
    r = call(engine, host, "load_seed", "%s", SEED_ARGS);
    CHECK(r.result == CHAT_OK && r.status == 200, "load_seed: %u %s", r.result, r.json);
    CHECK(json_int(r.json, "users") == 1 && json_int(r.json, "rooms") == 1, "%s", r.json);
    reply_free(&r);

    /* A visitor authenticates (public API) and acts with the access token. */
    r = call(engine, host, "visitor_auth", "{\"organization_id\": \"%s\", \"body\": {}}", ORG_ID);
    CHECK(r.result == CHAT_OK && r.status == 200, "visitor_auth: %s", r.json);
    CHECK(json_str(r.json, "visitor_id", visitor_id, sizeof visitor_id), "%s", r.json);
    CHECK(json_str(r.json, "access_token", token, sizeof token), "%s", r.json);
    CHECK(strlen(visitor_id) == 32, "visitor ids are 32 hex: %s", visitor_id);
    reply_free(&r);
    CHECK(chat_actor_from_token(engine, token, &visitor) == CHAT_OK, "visitor token");

    /* The visitor enters the room and starts a chat. */
    r = call(engine, visitor, "visitor_enter_room",
             "{\"organization_id\": \"%s\", \"room_id\": \"%s\","
             " \"body\": {\"id\": \"%s\", \"presence_expires_in\": 600}}",
             ORG_ID, ROOM_ID, visitor_id);
    CHECK(r.result == CHAT_OK && r.status == 201, "enter room: %u %s", r.status, r.json);
    reply_free(&r);
    r = call(engine, visitor, "visitor_start_chat",
             "{\"organization_id\": \"%s\", \"room_id\": \"%s\", \"visitor_id\": \"%s\"}", ORG_ID,
             ROOM_ID, visitor_id);
    CHECK(r.result == CHAT_OK && r.status == 201, "start chat: %u %s", r.status, r.json);
    CHECK(json_str(r.json, "id", chat_id, sizeof chat_id), "%s", r.json);
    reply_free(&r);

    /* The visitor writes: the chat waits, and is pending for the operator. */
    r = call(engine, visitor, "visitor_send_message",
             "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\","
             " \"body\": {\"type\": \"msg\", \"message\": \"Hello, I need help\"}}",
             visitor_id, chat_id);
    CHECK(r.result == CHAT_OK && r.status == 201, "visitor msg: %u %s", r.status, r.json);
    CHECK(json_is(r.json, "message", "\"Hello, I need help\""), "%s", r.json);
    CHECK(json_is(r.json, "sender_type", "\"visitor\""), "%s", r.json);
    reply_free(&r);

    CHECK(chat_actor_from_token(engine, ANN_TOKEN, &ann) == CHAT_OK, "operator token");
    r = call(engine, ann, "list_chats", "{\"scope\": \"user_pending\", \"user_id\": \"%s\"}",
             ANN_ID);
    CHECK(r.result == CHAT_OK && r.status == 200, "pending chats: %s", r.json);
    CHECK(json_len(r.json, "results") == 1, "one pending chat: %s", r.json);
    CHECK(json_str(r.json, "results.0.id", buf, sizeof buf) && strcmp(buf, chat_id) == 0,
          "the chat is pending for Ann: %s", r.json);
    CHECK(json_is(r.json, "results.0.is_pending", "true"), "%s", r.json);
    CHECK(json_is(r.json, "results.0.is_waiting", "true"), "%s", r.json);
    CHECK(json_is(r.json, "next", "null"), "a collection page: %s", r.json);
    reply_free(&r);

    /* The operator joins from pending and replies. */
    r = call(engine, ann, "join_pending_chat",
             "{\"user_id\": \"%s\", \"chat_id\": \"%s\","
             " \"body\": {\"is_participating\": true, \"composing_status\": \"idle\"}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_OK && r.status == 201, "join pending: %u %s", r.result, r.json);
    reply_free(&r);
    r = call(engine, ann, "list_chats", "{\"scope\": \"user_pending\", \"user_id\": \"%s\"}",
             ANN_ID);
    CHECK(r.result == CHAT_OK && json_len(r.json, "results") == 0, "no longer pending: %s",
          r.json);
    reply_free(&r);
    r = call(engine, ann, "send_user_message",
             "{\"user_id\": \"%s\", \"chat_id\": \"%s\","
             " \"body\": {\"message\": \"Hi! How can I help?\"}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_OK && r.status / 100 == 2, "reply: %u %s", r.result, r.json);
    CHECK(json_is(r.json, "sender_type", "\"user\""), "%s", r.json);
    reply_free(&r);
    r = call(engine, ann, "get_chat",
             "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"chat_id\": \"%s\"}", ANN_ID,
             chat_id);
    CHECK(r.result == CHAT_OK, "get chat: %s", r.json);
    CHECK(json_int(r.json, "message_count") == 2, "two msgs: %s", r.json);
    CHECK(json_is(r.json, "is_waiting", "false"), "%s", r.json);
    CHECK(json_is(r.json, "is_real_conversation", "true"), "%s", r.json);
    reply_free(&r);

    /* A message with attachments and actions; the visitor answers an action. */
    r = call(engine, ann, "send_user_message",
             "{\"user_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {"
             "\"message\": \"Did that solve it?\", \"attachments\": [{\"title\": \"Solved?\","
             " \"actions\": ["
             "{\"text\": \"Yes\", \"type\": \"button\", \"value\": \"yes\", \"style\": \"primary\","
             "  \"is_disabled_on_selection\": true, \"is_disabled_on_visitor_message\": false},"
             "{\"text\": \"No\", \"type\": \"button\", \"value\": \"no\","
             "  \"is_disabled_on_selection\": true, \"is_disabled_on_visitor_message\": false}"
             "]}]}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_OK, "attachment msg: %u %s", r.result, r.json);
    CHECK(json_str(r.json, "id", message_id, sizeof message_id), "%s", r.json);
    CHECK(json_str(r.json, "attachments.0.id", attachment_id, sizeof attachment_id),
          "%s", r.json);
    CHECK(json_str(r.json, "attachments.0.actions.0.id", action_yes, sizeof action_yes), "%s", r.json);
    CHECK(json_str(r.json, "attachments.0.actions.1.id", action_no, sizeof action_no), "%s",
          r.json);
    reply_free(&r);

    /* An invalid attachment is a validation error with field errors. */
    r = call(engine, ann, "send_user_message",
             "{\"user_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {\"attachments\": [{"
             "\"actions\": [{\"text\": \"Go\", \"type\": \"teleport\", \"value\": \"x\"}]}]}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_VALIDATION_ERROR && r.status == 400, "%u %s", r.result, r.json);
    CHECK(has(r.json, "\"attachments[0].actions[0].type\""), "field errors: %s", r.json);
    reply_free(&r);

    r = call(engine, visitor, "visitor_send_message",
             "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {\"type\": \"action\","
             " \"response_to_message_id\": \"%s\", \"response_to_attachment_id\": \"%s\","
             " \"response_to_action_id\": \"%s\"}}",
             visitor_id, chat_id, message_id, attachment_id, action_yes);
    CHECK(r.result == CHAT_OK && r.status == 201, "action response: %u %s", r.result, r.json);
    CHECK(json_is(r.json, "type", "\"action\"") && json_is(r.json, "message", "\"Yes\""), "%s",
          r.json);
    CHECK(json_is(r.json, "response_value", "\"yes\""), "%s", r.json);
    reply_free(&r);
    /* Both actions are disabled on selection now: answering again is refused. */
    r = call(engine, visitor, "visitor_send_message",
             "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {\"type\": \"action\","
             " \"response_to_message_id\": \"%s\", \"response_to_attachment_id\": \"%s\","
             " \"response_to_action_id\": \"%s\"}}",
             visitor_id, chat_id, message_id, attachment_id, action_no);
    CHECK(r.result == CHAT_VALIDATION_ERROR, "disabled action: %u %s", r.result, r.json);
    reply_free(&r);
    r = call(engine, ann, "get_message",
             "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"chat_id\": \"%s\","
             " \"message_id\": \"%s\"}",
             ANN_ID, chat_id, message_id);
    CHECK(r.result == CHAT_OK, "%s", r.json);
    CHECK(json_is(r.json, "attachments.0.actions.0.is_disabled", "true"), "%s", r.json);
    CHECK(json_is(r.json, "attachments.0.actions.1.is_disabled", "true"), "%s", r.json);
    reply_free(&r);

    /* An interaction attachment and the visitor's submit. */
    r = call(engine, ann, "send_user_message",
             "{\"user_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {"
             "\"attachment_template\": \"interaction\", \"attachments\": [{\"title\": \"Form\","
             " \"interaction_id\": \"1c9f5f47-4a55-4a1b-8d3a-0b8b3e2a7c11\"}]}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_OK, "interaction msg: %u %s", r.result, r.json);
    CHECK(json_str(r.json, "id", interaction_msg, sizeof interaction_msg), "%s", r.json);
    CHECK(json_str(r.json, "attachments.0.id", interaction_att, sizeof interaction_att),
          "%s", r.json);
    reply_free(&r);
    r = call(engine, visitor, "visitor_send_message",
             "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {"
             "\"type\": \"interaction_submit\", \"response_to_message_id\": \"%s\","
             " \"response_to_attachment_id\": \"%s\", \"response_text\": \"filled\"}}",
             visitor_id, chat_id, interaction_msg, interaction_att);
    CHECK(r.result == CHAT_OK && r.status == 201, "interaction submit: %u %s", r.result, r.json);
    reply_free(&r);

    /* The visitor sees the conversation, without operator names. */
    r = call(engine, visitor, "visitor_list_messages",
             "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\"}", visitor_id, chat_id);
    CHECK(r.result == CHAT_OK, "visitor messages: %s", r.json);
    CHECK(has(r.json, "Hi! How can I help?") && has(r.json, "\"sender_public_name\":\"Support\""),
          "%s", r.json);
    CHECK(!has(r.json, "Ann Lee"), "visitors never see sender_name: %s", r.json);
    reply_free(&r);
    r = call(engine, ann, "list_messages",
             "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"chat_id\": \"%s\","
             " \"query\": {\"type__in\": \"msg\"}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_OK, "messages: %s", r.json);
    CHECK(json_len(r.json, "results") == 4, "four msgs: %s", r.json);
    CHECK(json_is(r.json, "results.3.message", "\"Hello, I need help\""), "oldest last: %s",
          r.json);
    CHECK(!has(r.json, "\"type\":\"action\""), "%s", r.json);
    reply_free(&r);

    /* End the chat. */
    r = call(engine, ann, "update_chat",
             "{\"scope\": \"user_chats\", \"user_id\": \"%s\", \"chat_id\": \"%s\","
             " \"body\": {\"is_ended\": true}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_OK && r.status == 200, "end chat: %u %s", r.result, r.json);
    CHECK(json_is(r.json, "is_ended", "true") && json_is(r.json, "is_waiting", "false"), "%s",
          r.json);
    reply_free(&r);

    /* A message to the ended chat: CHAT_CHAT_ENDED, 409, error JSON with the same code. */
    r = call(engine, visitor, "visitor_send_message",
             "{\"visitor_id\": \"%s\", \"chat_id\": \"%s\","
             " \"body\": {\"type\": \"msg\", \"message\": \"Still there?\"}}",
             visitor_id, chat_id);
    CHECK(r.result == CHAT_CHAT_ENDED, "ended: %u", r.result);
    CHECK(r.status == 409, "status %u", r.status);
    CHECK(json_is(r.json, "code", "\"chat_ended\"") && j_find(r.json, "detail") != NULL, "%s",
          r.json);
    reply_free(&r);
    {
        char buf[128];
        size_t n = 0;
        CHECK(chat_engine_last_error(engine, buf, sizeof buf, &n) == CHAT_OK, "last error");
        CHECK(n > 0 && n < sizeof buf && strlen(buf) == n, "sentence: %s", buf);
        char *json = NULL;
        CHECK(chat_engine_last_error_json(engine, &json) == CHAT_OK, "last error json");
        CHECK(has(json, "\"code\":\"chat_ended\""), "%s", json);
        chat_string_free(json);
        CHECK(chat_result_message(CHAT_CHAT_ENDED, buf, sizeof buf, &n) == CHAT_OK, "message");
        CHECK(strcmp(buf, "chat_ended: the chat has ended") == 0, "%s", buf);
    }
    r = call(engine, ann, "send_user_message",
             "{\"user_id\": \"%s\", \"chat_id\": \"%s\", \"body\": {\"message\": \"Bye\"}}",
             ANN_ID, chat_id);
    CHECK(r.result == CHAT_CHAT_ENDED && r.status == 409, "user msg to ended: %u %s", r.result,
          r.json);
    reply_free(&r);

    chat_actor_free(visitor);
    chat_actor_free(ann);
    chat_actor_free(host);
    chat_engine_free(engine);
    return t_finish("scenario");
}
