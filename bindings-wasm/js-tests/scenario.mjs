// @ts-check
// The scenario suite of the WebAssembly bindings. The very same cases run in Node
// (node.test.mjs, package pkg/node) and in headless Chromium (browser/run.mjs, package pkg/web).
// The shared data-driven scenarios of tests/scenarios/ run next to these (shared.mjs).

import { deepEq, eq, ok, rejectsChatError, throwsChatError } from "./lib/check.mjs";

/** @typedef {import("../pkg/node/chat_engine.js")} ChatEngineModule */
/** @typedef {import("../pkg/node/chat_engine.js").Engine} Engine */
/** @typedef {import("../pkg/node/chat_engine.js").Chat} Chat */
/** @typedef {import("../pkg/node/chat_engine.js").Message} Message */
/** @typedef {{ name: string, run: () => void | Promise<void> }} Case */

export const ORG = "7f9e9580-095b-42c7-838c-c04e667b26f7";
export const ROOM = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe";
export const ANN = "bed3221e-879e-43df-8d0e-d63f8c1f012d";
export const ANN_TOKEN = "ann-secret-token-123";
export const BOB = "2c7a3f4e-1d5b-4e8f-9a6c-0b1d2e3f4a5b";
export const BOB_TOKEN = "bob-secret-token-456";
/** 2025-01-01T00:00:00Z */
export const START_MS = 1735689600000;

/** @type {import("../pkg/node/chat_engine.js").Seed} */
export const SEED = {
  organizations: [{ id: ORG, name: "Acme", chat_idle_timeout_s: 600 }],
  users: [
    {
      id: ANN,
      organization_id: ORG,
      first_name: "Ann",
      last_name: "Lee",
      alias: "Support",
      permissions: ["reports", "settings"],
      is_present: true,
      api_token: ANN_TOKEN,
    },
    {
      id: BOB,
      organization_id: ORG,
      first_name: "Bob",
      last_name: "Stone",
      is_present: true,
      api_token: BOB_TOKEN,
    },
  ],
  rooms: [{ id: ROOM, organization_id: ORG, name: "Support", language_code: "en", allowed_tags: ["Lead", "Bug"] }],
};

/** A chat that `ANN` joined from pending, with one message each way. @param {Engine} engine */
function servedChat(engine) {
  const visitor = newVisitor(engine);
  const chat = visitorStartsChat(engine, visitor, "Hi there");
  engine.call(
    "join_pending_chat",
    { user_id: ANN, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } },
    ANN_TOKEN,
  );
  const reply = engine.call("send_user_message", { user_id: ANN, chat_id: chat.id, body: { message: "Hello!" } }, ANN_TOKEN);
  return { visitor, chat, reply };
}

/** Every operation of core with its typed entry in the TypeScript table (tsc checks both ways). */
/** @type {Record<import("../pkg/node/chat_engine.js").OperationName, true>} */
export const TYPED_OPERATIONS = {
  list_chats: true,
  get_chat: true,
  update_chat: true,
  create_visitor_chat: true,
  create_user_chat: true,
  list_memberships: true,
  list_user_memberships: true,
  list_visitor_chat_memberships: true,
  join_pending_chat: true,
  join_routed_chat: true,
  join_org_chat: true,
  update_user_membership: true,
  list_messages: true,
  get_message: true,
  send_user_message: true,
  send_autosuggest: true,
  visitor_auth: true,
  visitor_enter_room: true,
  visitor_start_chat: true,
  visitor_get_chat: true,
  visitor_list_messages: true,
  visitor_send_message: true,
  visitor_get_membership: true,
  visitor_list_memberships: true,
  visitor_list_chats: true,
  visitor_update_membership: true,
  create_organization: true,
  get_organization: true,
  update_organization: true,
  list_users: true,
  create_user: true,
  get_user: true,
  update_user: true,
  delete_user: true,
  me: true,
  create_api_token: true,
  revoke_api_token: true,
  list_teams: true,
  create_team: true,
  get_team: true,
  add_team_member: true,
  remove_team_member: true,
  list_routers: true,
  create_router: true,
  list_rooms: true,
  create_room: true,
  get_room: true,
  update_room: true,
  get_user_room: true,
  share_room: true,
  share_team: true,
  get_room_visitor: true,
  set_visitor_variable: true,
  create_presence_client: true,
  renew_presence_client: true,
  delete_presence_client: true,
  list_invitations_outgoing: true,
  create_invitation: true,
  expire_invitation: true,
  list_invitations_incoming: true,
  accept_invitation: true,
  list_tags: true,
  list_allowed_tags: true,
  add_tag: true,
  remove_tag: true,
  list_room_allowed_tags: true,
  add_room_allowed_tag: true,
  events_since: true,
  list_webhooks: true,
  create_webhook: true,
  get_webhook: true,
  update_webhook: true,
  delete_webhook: true,
  list_webhook_deliveries: true,
  webhook_deliveries_due: true,
  record_webhook_delivery: true,
  list_conversation_starters: true,
  create_conversation_starter: true,
  update_conversation_starter: true,
  delete_conversation_starter: true,
  list_reply_suggestions: true,
  list_message_reply_suggestions: true,
  create_reply_suggestion: true,
  update_reply_suggestion: true,
  set_organization_key: true,
  rotate_organization_key: true,
  purge_organization_key: true,
  purge_chat_sensitive_data: true,
  purge_visitor_sensitive_data: true,
  set_user_presence: true,
  set_visitor_presence: true,
  load_seed: true,
  maintenance: true,
  list_presence_clients: true,
  get_organization_key: true,
  put_organization_key: true,
  delete_organization_key: true,
  retry_webhook_delivery: true,
};

/**
 * A visitor in the support room, authenticated through the public API.
 * @param {Engine} engine
 */
export function newVisitor(engine) {
  const auth = engine.call("visitor_auth", { organization_id: ORG, body: {} });
  const entered = engine.reply(
    "visitor_enter_room",
    { organization_id: ORG, room_id: ROOM, body: { id: auth.visitor_id, presence_expires_in: 3600 } },
    auth.access_token,
  );
  eq(entered.status, 201, "entering the room the first time creates the visitor");
  eq(entered.body.id, auth.visitor_id, "visitor id");
  return { id: auth.visitor_id, token: auth.access_token };
}

/**
 * A visitor's chat with one visitor message: waiting, pending for the operators.
 * @param {Engine} engine
 * @param {{id: string, token: string}} visitor
 * @param {string} text
 */
export function visitorStartsChat(engine, visitor, text) {
  const started = engine.reply(
    "visitor_start_chat",
    { organization_id: ORG, room_id: ROOM, visitor_id: visitor.id },
    visitor.token,
  );
  eq(started.status, 201, "a new chat");
  const chat = started.body;
  const msg = engine.call(
    "visitor_send_message",
    { visitor_id: visitor.id, chat_id: chat.id, body: { type: "msg", message: text } },
    visitor.token,
  );
  eq(msg.type, "msg", "message type");
  eq(msg.sender_type, "visitor", "sender type");
  return chat;
}

/**
 * @param {ChatEngineModule} mod
 * @returns {Case[]}
 */
export function scenario(mod) {
  const { Engine } = mod;
  const open = () => {
    const engine = Engine.openInMemory({ testClockMs: START_MS });
    const report = engine.loadSeed(SEED);
    deepEq(report, { organizations: 1, users: 2, teams: 0, rooms: 1, visitors: 0 }, "seed report");
    return engine;
  };

  return [
    {
      name: "subscriptions: a JS callback hears pending chats come and go, and messages arrive",
      run() {
        const engine = open();
        /** @type {Array<import("../pkg/node/chat_engine.js").ChatEvent>} */
        const heard = [];
        /** @type {import("../pkg/node/chat_engine.js").Actor} */
        const ann = { type: "user", id: ANN };
        const id = engine.subscribe(ann, [`/api/v5/users/${ANN}/pending_chats`, `/api/v5/users/${ANN}/chats/*/messages`], null, (page) => {
          heard.push(...page.events);
        });
        ok(typeof id === "number", "subscribe returns an id");
        const visitor = newVisitor(engine);
        const chat = visitorStartsChat(engine, visitor, "Anyone there?");
        const added = heard.filter((e) => e.channel === `/api/v5/users/${ANN}/pending_chats` && e.action === "added");
        eq(added.length, 1, "the waiting chat was added to Ann's pending chats");
        eq(added[0].resource_id, chat.id, "it is the visitor's chat");
        engine.call("join_pending_chat", { user_id: BOB, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } }, BOB_TOKEN);
        ok(heard.some((e) => e.action === "removed" && e.resource_id === chat.id), "Bob joined: removed from Ann's pending chats");
        // Seq strictly increases and nothing is heard twice.
        const seqs = heard.map((e) => e.seq);
        deepEq(seqs, [...seqs].sort((a, b) => a - b), "in order");
        eq(new Set(seqs).size, seqs.length, "no duplicates");
        // Another organization's or another user's channels are refused.
        throwsChatError(() => engine.subscribe({ type: "user", id: BOB }, [`/api/v5/users/${ANN}/pending_chats`], null, () => {}), "permission_denied", 403);
        // A late subscriber replays from a seq; unsubscribe stops the deliveries.
        /** @type {number[]} */
        const replay = [];
        const late = engine.subscribe(ann, [`/api/v5/users/${ANN}/pending_chats`], 0, (page) => replay.push(...page.events.map((e) => e.seq)));
        deepEq(replay, added.map((e) => e.seq).concat(heard.filter((e) => e.action === "removed" && e.channel.endsWith("/pending_chats")).map((e) => e.seq)), "replayed from seq 0");
        eq(engine.unsubscribe(late), true, "unsubscribed");
        eq(engine.unsubscribe(late), false, "only once");
        const before = heard.length;
        engine.unsubscribe(id);
        visitorStartsChat(engine, newVisitor(engine), "Hello again");
        eq(heard.length, before, "nothing after unsubscribe");
        engine.close();
      },
    },
    {
      name: "subscriptions: a callback that calls the engine hears each event once",
      run() {
        const engine = open();
        /** @type {number[]} */
        const seqs = [];
        /** @type {import("../pkg/node/chat_engine.js").Actor} */
        const ann = { type: "user", id: ANN };
        let replied = false;
        engine.subscribe(ann, [`/api/v5/users/${ANN}/pending_chats`], null, (page) => {
          seqs.push(...page.events.map((e) => e.seq));
          if (!replied) {
            // A bot-like reaction: a write from inside the callback delivers again, nested.
            replied = true;
            visitorStartsChat(engine, newVisitor(engine), "Second visitor");
          }
        });
        visitorStartsChat(engine, newVisitor(engine), "First visitor");
        visitorStartsChat(engine, newVisitor(engine), "Third visitor");
        eq(seqs.length, 3, "three chats, three pending events");
        eq(new Set(seqs).size, seqs.length, "no event heard twice");
        engine.close();
      },
    },
    {
      name: "the seed loads and tokens authenticate",
      run() {
        const engine = open();
        deepEq(engine.authenticate(ANN_TOKEN), { type: "user", id: ANN }, "actor of Ann's token");
        const me = engine.call("me", {}, ANN_TOKEN);
        eq(me.full_name, "Ann Lee", "full_name");
        eq(me.member_public_name, "Support", "the alias is the public name");
        deepEq(me.permissions, ["reports", "settings"], "permissions");
        eq(me.created_at, "2025-01-01T00:00:00.000Z", "the manual clock dates resources");
        const room = engine.call("get_room", { organization_id: ORG, room_id: ROOM }, BOB_TOKEN);
        eq(room.name, "Support", "room name");
        const users = engine.call("list_users", { organization_id: ORG }, ANN_TOKEN);
        deepEq(Object.keys(users).sort(), ["next", "previous", "results"], "collection shape");
        eq(users.results.length, 2, "two users");
        throwsChatError(() => engine.authenticate("no-such-token-at-all"), "not_authenticated", 401);
        engine.close();
      },
    },
    {
      name: "a visitor starts a chat and writes; the operator sees it pending and joins",
      run() {
        const engine = open();
        const visitor = newVisitor(engine);
        const chat = visitorStartsChat(engine, visitor, "Hi, my order has not arrived.");
        eq(chat.chat_type, "visitor", "chat type");
        eq(chat.room_id, ROOM, "room");

        const seen = engine.call("visitor_get_chat", { visitor_id: visitor.id, chat_id: chat.id }, visitor.token);
        eq(seen.is_waiting, true, "a visitor's first message makes the chat waiting");
        eq(seen.visitor_message_count, 1, "visitor_message_count");

        const pending = engine.call("list_chats", { scope: "user_pending", user_id: ANN }, ANN_TOKEN);
        deepEq(pending.results.map((c) => c.id), [chat.id], "Ann's pending chats");
        eq(pending.results[0].is_pending, true, "is_pending");
        eq(pending.next, null, "one page");

        const joined = engine.reply(
          "join_pending_chat",
          { user_id: ANN, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } },
          ANN_TOKEN,
        );
        eq(joined.status, 201, "joining creates the membership");
        eq(joined.body.member_id, ANN, "member_id");
        eq(joined.body.member_type, "user", "member_type");
        eq(joined.body.is_participating, true, "is_participating");

        const after = engine.call("list_chats", { scope: "user_pending", user_id: ANN }, ANN_TOKEN);
        eq(after.results.length, 0, "no longer pending");
        throwsChatError(
          () =>
            engine.call(
              "join_pending_chat",
              { user_id: BOB, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } },
              BOB_TOKEN,
            ),
          "chat_not_pending",
          404,
        );

        const reply = engine.call(
          "send_user_message",
          { user_id: ANN, chat_id: chat.id, body: { message: "Hello! Let me check that for you." } },
          ANN_TOKEN,
        );
        eq(reply.sender_id, ANN, "sender");
        eq(reply.sender_name, "Ann Lee", "operators see sender_name");
        const mine = engine.call("get_chat", { scope: "user_chats", user_id: ANN, chat_id: chat.id }, ANN_TOKEN);
        eq(mine.is_waiting, false, "a user's message ends waiting");
        eq(mine.is_real_conversation, true, "both sides wrote");
        eq(mine.message_count, 2, "message_count counts msg only");

        const visible = engine.call(
          "visitor_list_messages",
          { visitor_id: visitor.id, chat_id: chat.id, query: { type__in: "msg" } },
          visitor.token,
        );
        deepEq(
          visible.results.map((m) => [m.sender_type, m.message]),
          [
            ["user", "Hello! Let me check that for you."],
            ["visitor", "Hi, my order has not arrived."],
          ],
          "messages newest first",
        );
        eq(visible.results[0].sender_public_name, "Support", "visitors see the public name");
        ok(!("sender_name" in visible.results[0]), "visitors never see sender_name");

        const members = engine.call("list_memberships", { scope: "user_chats", user_id: ANN, chat_id: chat.id }, ANN_TOKEN);
        deepEq(members.results.map((m) => m.member_type).sort(), ["user", "visitor"], "members");
        engine.close();
      },
    },
    {
      name: "messages with attachments and the visitor's action response",
      run() {
        const engine = open();
        const visitor = newVisitor(engine);
        const chat = visitorStartsChat(engine, visitor, "Where is my parcel?");
        engine.call(
          "join_pending_chat",
          { user_id: ANN, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } },
          ANN_TOKEN,
        );
        const offer = engine.call(
          "send_user_message",
          {
            user_id: ANN,
            chat_id: chat.id,
            body: {
              message: "What would you like to do?",
              attachments: [
                {
                  title: "Your order",
                  text: "Choose one",
                  actions: [
                    {
                      text: "Track my order",
                      type: "button",
                      value: "track",
                      style: "primary",
                      is_disabled_on_selection: true,
                      is_disabled_on_visitor_message: false,
                    },
                    {
                      text: "Read the FAQ",
                      type: "link_button",
                      value: "https://example.com/faq",
                      is_disabled_on_selection: false,
                      is_disabled_on_visitor_message: true,
                    },
                  ],
                },
              ],
            },
          },
          ANN_TOKEN,
        );
        eq(offer.attachments.length, 1, "one attachment");
        const [attachment] = offer.attachments;
        eq(attachment.title, "Your order", "title");
        deepEq(attachment.actions.map((a) => [a.text, a.type, a.style, a.link_target, a.is_disabled]), [
          ["Track my order", "button", "primary", null, false],
          ["Read the FAQ", "link_button", "secondary", "_blank", false],
        ], "actions with defaults");

        const track = attachment.actions[0];
        const response = engine.reply(
          "visitor_send_message",
          {
            visitor_id: visitor.id,
            chat_id: chat.id,
            body: {
              type: "action",
              response_to_message_id: offer.id,
              response_to_attachment_id: attachment.id,
              response_to_action_id: track.id,
            },
          },
          visitor.token,
        );
        eq(response.status, 201, "a response is created");
        eq(response.body.type, "action", "type");
        eq(response.body.message, "Track my order", "an action response's message is the action's text");
        eq(response.body.response_value, "track", "response_value");
        eq(response.body.response_to_action?.id, track.id, "response_to_action");
        eq(response.body.response_to_attachment?.id, attachment.id, "response_to_attachment");

        const again = engine.call(
          "get_message",
          { scope: "user_chats", user_id: ANN, chat_id: chat.id, message_id: offer.id },
          ANN_TOKEN,
        );
        eq(again.attachments[0].actions[0].is_disabled, true, "disabled on selection");
        eq(again.attachments[0].actions[1].is_disabled, false, "not yet disabled");
        const err = throwsChatError(
          () =>
            engine.call(
              "visitor_send_message",
              {
                visitor_id: visitor.id,
                chat_id: chat.id,
                body: {
                  type: "action",
                  response_to_message_id: offer.id,
                  response_to_attachment_id: attachment.id,
                  response_to_action_id: track.id,
                },
              },
              visitor.token,
            ),
          "validation_error",
          400,
        );
        ok(Object.keys(err.errors).length > 0, "field errors name the fault");

        engine.call(
          "visitor_send_message",
          { visitor_id: visitor.id, chat_id: chat.id, body: { message: "Thanks!" } },
          visitor.token,
        );
        const later = engine.call(
          "get_message",
          { scope: "user_chats", user_id: ANN, chat_id: chat.id, message_id: offer.id },
          ANN_TOKEN,
        );
        eq(later.attachments[0].actions[1].is_disabled, true, "disabled on the visitor's next message");

        const bad = throwsChatError(
          () =>
            engine.call(
              "send_user_message",
              {
                user_id: ANN,
                chat_id: chat.id,
                body: { message: "x", attachments: [{ actions: [{ text: "Go", type: "button", value: "go", is_disabled_on_selection: false, is_disabled_on_visitor_message: false, style: /** @type {any} */ ("neon") }] }] },
              },
              ANN_TOKEN,
            ),
          "validation_error",
          400,
        );
        ok("attachments[0].actions[0].style" in bad.errors, `the field error names the path (${JSON.stringify(bad.errors)})`);
        deepEq(bad.body, { detail: bad.detail, code: "validation_error", errors: bad.errors }, "the REST error body");
        engine.close();
      },
    },
    {
      name: "collections page with opaque cursors both ways",
      run() {
        const engine = open();
        const visitor = newVisitor(engine);
        const chat = visitorStartsChat(engine, visitor, "message 1");
        for (let i = 2; i <= 7; i++) {
          engine.call(
            "visitor_send_message",
            { visitor_id: visitor.id, chat_id: chat.id, body: { message: `message ${i}` } },
            visitor.token,
          );
        }
        /** @type {string[]} */
        const texts = [];
        /** @type {string | null} */
        let cursor = null;
        /** @type {string[]} */
        const cursors = [];
        let pages = 0;
        do {
          /** @type {import("../pkg/node/chat_engine.js").Collection<Message>} */
          const page = engine.call(
            "visitor_list_messages",
            { visitor_id: visitor.id, chat_id: chat.id, query: { page_size: 3, cursor } },
            visitor.token,
          );
          ok(page.results.length <= 3, "page_size is honoured");
          texts.push(...page.results.map((m) => m.message ?? ""));
          if (pages > 0) ok(page.previous !== null, "later pages link back");
          cursor = page.next;
          if (cursor !== null) cursors.push(cursor);
          pages += 1;
        } while (cursor !== null && pages < 10);
        eq(pages, 3, "7 messages in pages of 3");
        deepEq(texts, ["message 7", "message 6", "message 5", "message 4", "message 3", "message 2", "message 1"], "every message once, newest first");
        ok(cursors.every((c) => typeof c === "string" && !c.includes("message")), "cursors are opaque strings");

        const second = engine.call(
          "visitor_list_messages",
          { visitor_id: visitor.id, chat_id: chat.id, query: { page_size: "3", cursor: cursors[0] } },
          visitor.token,
        );
        ok(second.previous !== null, "a previous cursor");
        const first = engine.call(
          "visitor_list_messages",
          { visitor_id: visitor.id, chat_id: chat.id, query: { page_size: 3, cursor: second.previous } },
          visitor.token,
        );
        deepEq(first.results.map((m) => m.message), ["message 7", "message 6", "message 5"], "previous leads back");
        throwsChatError(
          () =>
            engine.call(
              "visitor_list_messages",
              { visitor_id: visitor.id, chat_id: chat.id, query: { cursor: "not-a-cursor" } },
              visitor.token,
            ),
          "validation_error",
          400,
        );
        engine.close();
      },
    },
    {
      name: "ending a chat locks it; maintenance ends idle chats on the manual clock",
      run() {
        const engine = open();
        const visitor = newVisitor(engine);
        const chat = visitorStartsChat(engine, visitor, "Hello?");
        engine.call(
          "join_pending_chat",
          { user_id: ANN, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } },
          ANN_TOKEN,
        );
        engine.advanceClock(30_000);
        engine.call("send_user_message", { user_id: ANN, chat_id: chat.id, body: { message: "Hi!" } }, ANN_TOKEN);
        const ended = engine.call(
          "update_chat",
          { scope: "user_chats", user_id: ANN, chat_id: chat.id, body: { is_ended: true } },
          ANN_TOKEN,
        );
        eq(ended.is_ended, true, "is_ended");
        eq(ended.ended_at, "2025-01-01T00:00:30.000Z", "ended_at from the engine clock");
        eq(ended.duration, 30, "duration in seconds");
        eq(ended.legacy_conversation_state, "ended", "legacy state");
        throwsChatError(
          () =>
            engine.call(
              "visitor_send_message",
              { visitor_id: visitor.id, chat_id: chat.id, body: { message: "still there?" } },
              visitor.token,
            ),
          "chat_ended",
          409,
        );

        const other = newVisitor(engine);
        const idle = visitorStartsChat(engine, other, "anyone?");
        deepEq(engine.maintenance(), { chats_ended: 0, typing_settled: 0, presences_expired: 0, events_deleted: 0, more_due: false }, "nothing due yet");
        engine.advanceClock(601_000);
        eq(engine.nowMs(), START_MS + 631_000, "nowMs follows the manual clock");
        const report = engine.maintenance();
        eq(report.chats_ended, 1, "the idle chat ended");
        const closed = engine.call("visitor_get_chat", { visitor_id: other.id, chat_id: idle.id }, other.token);
        eq(closed.is_ended, true, "ended by maintenance");
        engine.close();
      },
    },
    {
      name: "statuses through reply/replyAs and the host acting with callAs",
      run() {
        const engine = open();
        const visitor = newVisitor(engine);
        const args = { user_id: ANN, room_id: ROOM, visitor_id: visitor.id };
        const created = engine.replyAs({ type: "user", id: ANN }, "create_visitor_chat", args);
        eq(created.status, 201, "created");
        const resumed = engine.replyAs({ type: "user", id: ANN }, "create_visitor_chat", args);
        eq(resumed.status, 200, "resumed");
        eq(resumed.body.id, created.body.id, "the same chat");
        const deleted = engine.replyAs({ type: "admin" }, "delete_user", { organization_id: ORG, user_id: BOB });
        deepEq(deleted, { status: 204, body: null }, "204 with a null body");
        eq(engine.callAs({ type: "admin" }, "set_user_presence", { user_id: ANN, body: { ttl_s: null } }), null, "null body");
        const org = engine.callAs({ type: "admin" }, "create_organization", { body: { name: "Partner Co" } });
        eq(org.name, "Partner Co", "an organization made by the host");
        throwsChatError(() => engine.callAs({ type: "user", id: ANN }, "load_seed", { body: {} }), "permission_denied", 403);
        throwsChatError(() => engine.callAs({ type: "visitor", id: visitor.id }, "me", {}), "permission_denied", 403);
        // The untyped overload reaches any operation by name (here: one core does not have).
        throwsChatError(() => engine.callAs({ type: "admin" }, "no_such_operation", {}), "not_found", 404);
        engine.close();
      },
    },
    {
      name: "engine options: event retention and webhook destinations apply; unknown ones are refused",
      run() {
        const engine = Engine.openInMemory({
          testClockMs: START_MS,
          eventRetentionSecs: 60,
          webhookDestinations: ["https://hooks.example.com/in"],
        });
        engine.loadSeed(SEED);
        /** @param {string} url */
        const hook = (url) =>
          engine.call(
            "create_webhook",
            { organization_id: ORG, body: { url, channels: [`/api/v5/orgs/${ORG}/owned_chats`], secret: "a-webhook-secret" } },
            ANN_TOKEN,
          );
        ok(typeof hook("https://hooks.example.com/in/chats").id === "string", "an allowed destination is registered");
        throwsChatError(() => hook("https://elsewhere.example.org/in"), "validation_error", 400);
        visitorStartsChat(engine, newVisitor(engine), "Hello?");
        const channels = [`/api/v5/users/${ANN}/pending_chats`];
        const fresh = engine.call("events_since", { body: { channels, since: 0 } }, ANN_TOKEN);
        ok(fresh.events.length > 0 && !fresh.resync, "the chat's events are there");
        engine.advanceClock(61_000);
        ok(engine.maintenance().events_deleted > 0, "events older than 60 s are deleted");
        const late = engine.call("events_since", { body: { channels, since: 0 } }, ANN_TOKEN);
        eq(late.resync, true, "a reader from before the window is told to reload");
        engine.close();
        const threads = throwsChatError(() => Engine.openInMemory(/** @type {any} */ ({ backgroundCheckpoints: true })), "validation_error", 400);
        deepEq(Object.keys(threads.errors), ["backgroundCheckpoints"], "the option is named");
        const unknown = throwsChatError(() => Engine.openInMemory(/** @type {any} */ ({ retention: 5 })), "validation_error", 400);
        deepEq(Object.keys(unknown.errors), ["retention"], "the unknown key is named");
        throwsChatError(() => Engine.openInMemory(/** @type {any} */ ({ durability: "sometimes" })), "validation_error", 400);
        const typed = throwsChatError(() => Engine.openInMemory(/** @type {any} */ ({ eventRetentionSecs: "a week" })), "validation_error", 400);
        deepEq(Object.keys(typed.errors), ["eventRetentionSecs"], "a wrong type is named by its JS name");
        const inList = throwsChatError(() => Engine.openInMemory(/** @type {any} */ ({ webhookDestinations: ["https://a.example/", 5] })), "validation_error", 400);
        ok(Object.keys(inList.errors).every((k) => k.startsWith("webhookDestinations")), `a wrong list item is named under its JS name: ${Object.keys(inList.errors)}`);
      },
    },
    {
      name: "every failure is a ChatError with code, status, detail and field errors",
      async run() {
        const engine = open();
        throwsChatError(() => engine.call("me", {}), "not_authenticated", 401);
        throwsChatError(() => engine.call("me", {}, "wrong-token-wrong-token"), "not_authenticated", 401);
        throwsChatError(() => engine.call("get_user", { organization_id: ORG, user_id: "00000000-0000-4000-8000-000000000000" }, BOB_TOKEN), "not_found", 404);
        throwsChatError(() => engine.call("update_organization", { organization_id: ORG, body: { name: "X" } }, BOB_TOKEN), "permission_denied", 403);
        throwsChatError(() => engine.call("get_room", { organization_id: ORG, room_id: "nope" }, ANN_TOKEN), "not_found", 404);
        const v = throwsChatError(() => engine.call("create_room", { organization_id: ORG, body: { name: "" } }, ANN_TOKEN), "validation_error", 400);
        deepEq(Object.keys(v.errors), ["name"], "errors name the field");
        ok(Array.isArray(v.errors.name) && typeof v.errors.name[0] === "string", "sentences");
        eq(v.codeNumber, 8, "the stable number of validation_error");
        throwsChatError(() => engine.call("create_room", "{not json", ANN_TOKEN), "parse_error", 400);
        throwsChatError(() => engine.call("create_room", { organization_id: ORG, body: /** @type {any} */ ([1, 2]) }, ANN_TOKEN), "parse_error", 400);
        throwsChatError(() => engine.callAs(/** @type {any} */ ({ type: "robot" }), "me", {}), "validation_error", 400);
        throwsChatError(() => engine.call("me", /** @type {any} */ ({ big: 10n }), ANN_TOKEN), "parse_error", 400);
        throwsChatError(() => engine.loadSeed(/** @type {any} */ ({ planets: [] })), "validation_error", 400);
        engine.close();
        ok(engine.isClosed, "isClosed");
        throwsChatError(() => engine.call("me", {}, ANN_TOKEN), "internal_error", 500);
        const plain = Engine.openInMemory();
        throwsChatError(() => plain.advanceClock(1), "validation_error", 400);
        plain.close();
        // Persistent storage needs a dedicated worker: here (Node, or a page's main thread) it is refused.
        const opfs = await rejectsChatError(() => Engine.openOpfs("chat.db"), "storage_error", 500);
        ok(opfs.detail.includes("dedicated worker"), "the error says where OPFS works");
        await rejectsChatError(() => Engine.openOpfs("../escape"), "validation_error", 400);
        ok(mod.isChatError(opfs), "isChatError");
        ok(!mod.isChatError(new Error("plain")), "a plain Error is not a ChatError");
      },
    },
    {
      name: "tags: allowed tags, add (201, then 200), list, remove; none on an ended chat",
      run() {
        const engine = open();
        const { chat } = servedChat(engine);
        const scope = /** @type {const} */ ({ scope: "user_chats", user_id: ANN, chat_id: chat.id });
        deepEq(engine.call("list_allowed_tags", scope, ANN_TOKEN).results.map((t) => t.name).sort(), ["Bug", "Lead"], "allowed tags");
        const added = engine.reply("add_tag", { ...scope, body: { name: "Lead" } }, ANN_TOKEN);
        eq(added.status, 201, "a new tag");
        eq(added.body.hashed_name, "c6f71d85aeaa3b60db80eedad5ebb75e321f3eb0", "hashed_name is the SHA-1 of the name");
        eq(engine.reply("add_tag", { ...scope, body: { name: "Lead" } }, ANN_TOKEN).status, 200, "the same tag again");
        eq(engine.reply("add_tag", { ...scope, body: { name: "Bug" } }, ANN_TOKEN).status, 201, "a second tag");
        const owned = engine.call("list_tags", { scope: "owned", organization_id: ORG, chat_id: chat.id }, ANN_TOKEN);
        deepEq(owned.results.map((t) => t.name).sort(), ["Bug", "Lead"], "tags seen through the organization");
        eq(engine.call("get_chat", { scope: "user_chats", user_id: ANN, chat_id: chat.id }, ANN_TOKEN).tag_count, 2, "tag_count");
        deepEq(engine.reply("remove_tag", { ...scope, tag_name: "Bug" }, ANN_TOKEN), { status: 204, body: null }, "removed");
        deepEq(engine.call("list_tags", scope, ANN_TOKEN).results.map((t) => t.name), ["Lead"], "one left");
        engine.call("update_chat", { scope: "user_chats", user_id: ANN, chat_id: chat.id, body: { is_ended: true } }, ANN_TOKEN);
        throwsChatError(() => engine.call("add_tag", { ...scope, body: { name: "Bug" } }, ANN_TOKEN), "chat_already_ended", 400);
        engine.close();
      },
    },
    {
      name: "invitations: a colleague is invited, sees it, accepts and joins; expiring",
      run() {
        const engine = open();
        const { chat } = servedChat(engine);
        const sent = engine.reply("create_invitation", { user_id: ANN, chat_id: chat.id, body: { invited_user_id: BOB } }, ANN_TOKEN);
        eq(sent.status, 201, "sent");
        eq(sent.body.invitee_name, "Bob Stone", "invitee_name");
        eq(sent.body.is_accepted, false, "not accepted yet");
        eq(sent.body.invited_by_user?.full_name, "Ann Lee", "invited_by_user");
        eq(engine.reply("create_invitation", { user_id: ANN, chat_id: chat.id, body: { invited_user_id: BOB } }, ANN_TOKEN).status, 200, "already pending");
        const outgoing = engine.call("list_invitations_outgoing", { user_id: ANN, chat_id: chat.id }, ANN_TOKEN);
        deepEq(outgoing.results.map((i) => i.id), [sent.body.id], "outgoing");
        const incoming = engine.call("list_invitations_incoming", { user_id: BOB, query: { is_accepted: "false" } }, BOB_TOKEN);
        deepEq(incoming.results.map((i) => i.id), [sent.body.id], "Bob's incoming invitations");
        const accepted = engine.call("accept_invitation", { user_id: BOB, invitation_id: sent.body.id, body: { is_accepted: true } }, BOB_TOKEN);
        eq(accepted.is_accepted, true, "accepted");
        eq(accepted.accepted_by_user_id, BOB, "accepted_by_user_id");
        ok(accepted.accepted_at !== null, "accepted_at");
        const msg = engine.call("send_user_message", { user_id: BOB, chat_id: chat.id, body: { message: "Bob here." } }, BOB_TOKEN);
        eq(msg.sender_id, BOB, "the invitee writes as a member");
        throwsChatError(
          () => engine.call("accept_invitation", { user_id: BOB, invitation_id: sent.body.id, body: { is_accepted: true } }, BOB_TOKEN),
          "invitation_accepted",
          400,
        );
        const other = servedChat(engine).chat;
        const second = engine.call("create_invitation", { user_id: ANN, chat_id: other.id, body: { invited_user_id: BOB } }, ANN_TOKEN);
        const expired = engine.call("expire_invitation", { user_id: ANN, chat_id: other.id, invitation_id: second.id, body: { is_expired: true } }, ANN_TOKEN);
        eq(expired.is_expired, true, "expired");
        ok(expired.expired_at !== null, "expired_at");
        throwsChatError(
          () => engine.call("accept_invitation", { user_id: BOB, invitation_id: second.id, body: { is_accepted: true } }, BOB_TOKEN),
          "invitation_expired",
          400,
        );
        engine.close();
      },
    },
    {
      name: "conversation starters and reply suggestions",
      run() {
        const engine = open();
        const { chat, reply } = servedChat(engine);
        const starter = engine.reply("create_conversation_starter", { user_id: ANN, body: { language_code: "en", message: "How can I help?" } }, ANN_TOKEN);
        eq(starter.status, 201, "created");
        throwsChatError(
          () => engine.call("create_conversation_starter", { user_id: ANN, body: { language_code: "en", message: "again" } }, ANN_TOKEN),
          "conversation_starter_exists",
          400,
        );
        const patched = engine.call("update_conversation_starter", { user_id: ANN, language_code: "en", partial: true, body: { message: "Hi! How can I help?" } }, ANN_TOKEN);
        eq(patched.message, "Hi! How can I help?", "patched");
        deepEq(engine.call("list_conversation_starters", { user_id: ANN }, ANN_TOKEN).results.map((c) => c.language_code), ["en"], "listed");
        eq(engine.call("delete_conversation_starter", { user_id: ANN, language_code: "en" }, ANN_TOKEN), null, "deleted");

        const scope = /** @type {const} */ ({ scope: "user_chats", user_id: ANN, chat_id: chat.id, message_id: reply.id });
        const s1 = engine.reply("create_reply_suggestion", { ...scope, body: { suggestion: "Could you share your order number?", relevancy_score: 0.9 } }, ANN_TOKEN);
        eq(s1.status, 201, "created");
        eq(s1.body.created_by_user?.full_name, "Ann Lee", "created_by_user");
        const s2 = engine.call("update_reply_suggestion", { ...scope, reply_suggestion_id: s1.body.id, partial: true, body: { relevancy_score: null } }, ANN_TOKEN);
        eq(s2.relevancy_score, null, "an explicit null clears the score");
        const listed = engine.call("list_reply_suggestions", { scope: "user_chats", user_id: ANN, chat_id: chat.id, query: { ordering: "-created_at" } }, ANN_TOKEN);
        deepEq(listed.results.map((x) => x.suggestion), ["Could you share your order number?"], "chat suggestions");
        eq(engine.call("list_message_reply_suggestions", scope, ANN_TOKEN).results.length, 1, "message suggestions");
        engine.close();
      },
    },
    {
      name: "encrypted chats (key held in memory, rotated, purged) and sensitive-data purge",
      run() {
        const engine = open();
        const KEY = "11".repeat(32);
        const admin = /** @type {const} */ ({ type: "admin" });
        engine.callAs(admin, "update_organization", { organization_id: ORG, body: { encrypt_chats: true } });
        const visitor = newVisitor(engine);
        throwsChatError(
          () => engine.call("visitor_start_chat", { organization_id: ORG, room_id: ROOM, visitor_id: visitor.id }, visitor.token),
          "chat_key_unavailable",
          409,
        );
        eq(engine.callAs(admin, "set_organization_key", { organization_id: ORG, body: { key: KEY } }), null, "204");
        throwsChatError(() => engine.callAs(admin, "set_organization_key", { organization_id: ORG, body: { key: "22".repeat(32) } }), "validation_error", 400);
        const chat = visitorStartsChat(engine, visitor, "my secret address");
        eq(chat.is_encrypted, true, "is_encrypted");
        ok(typeof chat.encrypted_symmetric_key === "string", "the wrapped chat key is shown");
        const [msg] = engine.call("visitor_list_messages", { visitor_id: visitor.id, chat_id: chat.id }, visitor.token).results;
        eq(msg.message, "my secret address", "readable while the key is held");
        ok(typeof msg.encrypted_message === "string" && msg.encrypted_message.length > 0, "encrypted_message");
        deepEq(engine.callAs(admin, "rotate_organization_key", { organization_id: ORG, body: { key: "33".repeat(32) } }), { chats_rewrapped: 1, chats_skipped: 0 }, "rotation");
        deepEq(engine.callAs(admin, "purge_organization_key", { organization_id: ORG }), { was_held: true }, "purged");
        const [dark] = engine.call("visitor_list_messages", { visitor_id: visitor.id, chat_id: chat.id }, visitor.token).results;
        eq(dark.message, null, "unreadable without the key");
        eq(dark.encrypted_message, msg.encrypted_message, "the envelope stays");
        throwsChatError(
          () => engine.call("visitor_send_message", { visitor_id: visitor.id, chat_id: chat.id, body: { message: "hello?" } }, visitor.token),
          "chat_key_unavailable",
          409,
        );

        engine.callAs(admin, "update_organization", { organization_id: ORG, body: { encrypt_chats: false } });
        const plain = servedChat(engine);
        const report = engine.call("purge_chat_sensitive_data", { chat_id: plain.chat.id }, ANN_TOKEN);
        ok(report.messages >= 2, `the chat's message texts purged (${report.messages})`);
        eq(report.wal_truncated, false, "in memory there is no WAL");
        const after = engine.call("get_message", { scope: "user_chats", user_id: ANN, chat_id: plain.chat.id, message_id: plain.reply.id }, ANN_TOKEN);
        eq(after.message, null, "purged text");
        ok(after.sensitive_data_purged_at !== null, "sensitive_data_purged_at");
        const v = engine.call("purge_visitor_sensitive_data", { visitor_id: plain.visitor.id }, ANN_TOKEN);
        eq(v.visitors, 1, "the visitor purged");
        engine.close();
      },
    },
    {
      name: "operations() lists core's table and each has a typed entry",
      run() {
        const engine = open();
        const names = engine.operations().map((o) => o.name);
        deepEq(mod.operations().map((o) => o.name), names, "module and engine lists agree");
        const typed = Object.keys(TYPED_OPERATIONS);
        const untyped = names.filter((n) => !typed.includes(n));
        deepEq(untyped, [], "operations without TypeScript types (add them to types/chat_engine.d.ts and TYPED_OPERATIONS)");
        deepEq(typed.filter((n) => !names.includes(n)), [], "typed operations that core does not have");
        for (const op of engine.operations()) {
          ok(typeof op.summary === "string" && op.summary.length > 0, `${op.name} has a summary`);
        }
        const codes = mod.errorCodes();
        eq(codes.length, 25, "error codes");
        deepEq(codes[0], { code: "not_authenticated", number: 1, status: 401 }, "first code");
        deepEq(codes[24], { code: "storage_unavailable", number: 25, status: 503 }, "last code");
        ok(/^\d+\.\d+\.\d+/.test(mod.version()), "version");
        engine.close();
      },
    },
  ];
}
