// @ts-check
// The worker side of opfs.mjs. Answers {ok: true, ...} or {ok: false, error}.
import init, { Engine, isChatError } from "../../pkg/web/chat_engine.js";
import { deepEq, eq, ok, rejectsChatError, throwsChatError } from "../lib/check.mjs";
import { ANN, ANN_TOKEN, ORG, SEED, newVisitor, visitorStartsChat } from "../scenario.mjs";

/** @param {Engine} engine @param {string} chatId */
function texts(engine, chatId) {
  const page = engine.call(
    "list_messages",
    { scope: "user_chats", user_id: ANN, chat_id: chatId, query: { type__in: "msg", page_size: 100 } },
    ANN_TOKEN,
  );
  return page.results.map((m) => m.message);
}

/** @param {any} msg */
async function write(msg) {
  const engine = await Engine.openOpfs(msg.name);
  engine.loadSeed(SEED);
  const visitor = newVisitor(engine);
  const chat = visitorStartsChat(engine, visitor, "Saved in OPFS?");
  engine.call(
    "join_pending_chat",
    { user_id: ANN, chat_id: chat.id, body: { is_participating: true, composing_status: "idle" } },
    ANN_TOKEN,
  );
  engine.call("send_user_message", { user_id: ANN, chat_id: chat.id, body: { message: "Yes, on disk." } }, ANN_TOKEN);
  const before = texts(engine, chat.id);
  deepEq(before, ["Yes, on disk.", "Saved in OPFS?"], "messages before closing");
  // Open files hold the pool: releasing it now is refused.
  throwsChatError(() => Engine.releaseOpfs(), "storage_error", 500);
  engine.close();

  const again = await Engine.openOpfs(msg.name);
  deepEq(texts(again, chat.id), before, "the same messages after reopening");
  eq(again.call("get_organization", { organization_id: ORG }, ANN_TOKEN).name, "Acme", "the directory persisted");
  again.close();

  // Letting go of the files and taking them again works in the same worker too.
  Engine.releaseOpfs();
  const third = await Engine.openOpfs(msg.name);
  deepEq(texts(third, chat.id), before, "after release and reopen");
  third.close();
  Engine.releaseOpfs();
  return { chat_id: chat.id, texts: before };
}

/** @param {any} msg */
async function read(msg) {
  const engine = await Engine.openOpfs(msg.name);
  deepEq(texts(engine, msg.chat_id), msg.texts, "a new worker reads what the first one wrote");
  const chat = engine.call("get_chat", { scope: "user_chats", user_id: ANN, chat_id: msg.chat_id }, ANN_TOKEN);
  eq(chat.message_count, 2, "message_count");
  ok(!chat.is_ended, "still open");
  // The database is a real file: a seed with the same ids again is refused.
  const dup = await rejectsChatError(async () => engine.loadSeed(SEED), "already_exists", 409);
  ok(isChatError(dup), "a ChatError");
  engine.close();
  Engine.releaseOpfs();
  return {};
}

self.onmessage = async (e) => {
  try {
    await init();
    const out = e.data.step === "write" ? await write(e.data) : await read(e.data);
    self.postMessage({ ok: true, ...out });
  } catch (err) {
    const x = /** @type {Error} */ (err);
    self.postMessage({ ok: false, error: `${x?.name}: ${x?.message}` });
  }
};
