// Compile-time checks of the shipped declarations (tsc --noEmit --strict; never run).
// Each @ts-expect-error line must be a type error: the types reject these mistakes.
import type {
  Chat,
  ChatError,
  Collection,
  Engine,
  Membership,
  Message,
  OperationName,
  Reply,
} from "../pkg/node/chat_engine.js";

declare const engine: Engine;
const T = "token";

const chat: Chat = engine.call("get_chat", { scope: "user_chats", user_id: "u", chat_id: "c" }, T);
const page: Collection<Chat> = engine.call("list_chats", { scope: "owned", organization_id: "o", query: { is_ended: "false", page_size: 10 } }, T);
const joined: Reply<Membership> = engine.reply("join_pending_chat", { user_id: "u", chat_id: "c", body: { is_participating: true, composing_status: "idle" } }, T);
const msg: Message = engine.callAs({ type: "visitor", id: "v" }, "visitor_send_message", {
  visitor_id: "v",
  chat_id: "c",
  body: { type: "action", response_to_message_id: "m", response_to_attachment_id: "a", response_to_action_id: "x" },
});
const none: null = engine.call("delete_user", { organization_id: "o", user_id: "u" }, T);
// An operation core gained after these types were written: reachable, untyped.
const newer: unknown = engine.call("list_chat_tags", { user_id: "u", chat_id: "c" }, T);
const ops: OperationName[] = ["list_chats", "maintenance"];

// @ts-expect-error: get_chat needs the scope's ids
engine.call("get_chat", { scope: "user_chats", chat_id: "c" }, T);
// @ts-expect-error: there is no such scope
engine.call("list_chats", { scope: "everything", user_id: "u" }, T);
// @ts-expect-error: get_chat returns a Chat, not a Message
const wrong: Message = engine.call("get_chat", { scope: "user_chats", user_id: "u", chat_id: "c" }, T);
// @ts-expect-error: an untyped operation's result must be narrowed before use
const unsafe: Chat = engine.call("list_chat_tags", { user_id: "u", chat_id: "c" }, T);
// @ts-expect-error: message is a string
engine.call("send_user_message", { user_id: "u", chat_id: "c", body: { message: 5 } }, T);
// @ts-expect-error: an action response names the message, attachment and action
engine.call("visitor_send_message", { visitor_id: "v", chat_id: "c", body: { type: "action" } }, T);
// @ts-expect-error: actors are typed objects
engine.callAs("admin", "maintenance", {});
// @ts-expect-error: a known operation cannot fall back to the untyped overload with bad args
engine.call("create_room", { organization_id: "o", body: { title: "no" } }, T);
// @ts-expect-error: composing_status is one of idle, typing, typed
engine.call("update_user_membership", { user_id: "u", chat_id: "c", body: { composing_status: "busy" } }, T);

function describe(e: unknown): string {
  const err = e as ChatError;
  const status: number = err.status;
  const fields: string[] = Object.keys(err.errors);
  return `${err.code} ${status} ${err.detail} ${fields.join(",")} ${err.body.code}`;
}

export { chat, page, joined, msg, none, newer, ops, wrong, unsafe, describe };
