// @ts-check
// An operator pane and a visitor pane chatting through one in-browser engine.
// Serve bindings-wasm/ over HTTP after building the package (scripts/build-pkg.sh), e.g.
//   python3 -m http.server -d bindings-wasm 8000   →   http://127.0.0.1:8000/examples/
import init, { Engine, isChatError } from "../pkg/web/chat_engine.js";

/** @typedef {import("../pkg/web/chat_engine.js").Message} Message */

const ORG = "0c5e2a4b-6d1f-4c3b-9e8a-7f6d5c4b3a21";
const ROOM = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
const ANN = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9";
const ANN_TOKEN = "example-operator-token-ann";

/** @type {import("../pkg/web/chat_engine.js").Seed} */
const SEED = {
  organizations: [{ id: ORG, name: "Acme" }],
  users: [
    {
      id: ANN,
      organization_id: ORG,
      first_name: "Ann",
      last_name: "Lee",
      alias: "Ann from Support",
      is_present: true,
      api_token: ANN_TOKEN,
    },
  ],
  rooms: [{ id: ROOM, organization_id: ORG, name: "Web shop", language_code: "en" }],
};

/** @param {string} id @returns {HTMLElement} */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
}
const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id));

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 */
function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

/** Shows the outcome of an action in a pane's status line. @param {string} pane @param {() => void} fn */
function act(pane, fn) {
  const status = $(`${pane}-status`);
  try {
    fn();
    status.textContent = "";
    status.className = "status";
  } catch (e) {
    status.textContent = isChatError(e) ? `${e.code} (${e.status}): ${e.detail}` : String(e);
    status.className = "status error";
  }
  render();
}

await init();
const engine = Engine.openInMemory();
engine.loadSeed(SEED);
$("operator-name").textContent = `— ${engine.call("me", {}, ANN_TOKEN).full_name}`;

/** @type {{ id: string, token: string, chat: string } | null} */
let visitor = null;
/** @type {string | null} */
let operatorChat = null;

function visitorSend(/** @type {string} */ text) {
  if (!visitor) {
    const auth = engine.call("visitor_auth", { organization_id: ORG, body: {} });
    engine.call(
      "visitor_enter_room",
      { organization_id: ORG, room_id: ROOM, body: { id: auth.visitor_id, presence_expires_in: 3600 } },
      auth.access_token,
    );
    const chat = engine.call(
      "visitor_start_chat",
      { organization_id: ORG, room_id: ROOM, visitor_id: auth.visitor_id },
      auth.access_token,
    );
    visitor = { id: auth.visitor_id, token: auth.access_token, chat: chat.id };
  }
  engine.call(
    "visitor_send_message",
    { visitor_id: visitor.id, chat_id: visitor.chat, body: { type: "msg", message: text } },
    visitor.token,
  );
}

/** @param {Message} offer @param {string} attachmentId @param {string} actionId */
function visitorChoose(offer, attachmentId, actionId) {
  if (!visitor) return;
  engine.call(
    "visitor_send_message",
    {
      visitor_id: visitor.id,
      chat_id: visitor.chat,
      body: {
        type: "action",
        response_to_message_id: offer.id,
        response_to_attachment_id: attachmentId,
        response_to_action_id: actionId,
      },
    },
    visitor.token,
  );
}

function operatorSend(/** @type {import("../pkg/web/chat_engine.js").NewUserMessage} */ body) {
  if (!operatorChat) return;
  engine.call("send_user_message", { user_id: ANN, chat_id: operatorChat, body }, ANN_TOKEN);
}

/**
 * One message as a list item.
 * @param {Message} m
 * @param {"visitor" | "operator"} viewer
 */
function item(m, viewer) {
  const mine = (viewer === "visitor") === (m.sender_type === "visitor");
  const who = m.sender_type === "visitor" ? (viewer === "visitor" ? "You" : "Visitor") : (m.sender_public_name ?? "Operator");
  if (m.type === "join" || m.type === "leave") {
    return h("li", { class: "event" }, [`${who} ${m.type === "join" ? "joined" : "left"} the chat`]);
  }
  if (m.type === "action" || m.type === "interaction_submit") {
    return h("li", { class: `response${mine ? " mine" : ""}` }, [
      h("span", { class: "bubble" }, [h("span", { class: "who" }, [`${who} chose`]), m.message ?? ""]),
    ]);
  }
  const bubble = h("span", { class: "bubble" }, [h("span", { class: "who" }, [who]), m.message ?? ""]);
  for (const a of m.attachments) {
    const actions = h("div", { class: "actions" });
    const box = h("div", { class: "attachment" }, [h("strong", {}, [a.title ?? ""]), h("p", {}, [a.text ?? ""]), actions]);
    for (const action of a.actions) {
      const button = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "action" }, [action.text]));
      button.disabled = viewer !== "visitor" || action.is_disabled;
      button.addEventListener("click", () => act("visitor", () => visitorChoose(m, a.id, action.id)));
      actions.append(button);
    }
    bubble.append(box);
  }
  return h("li", { class: mine ? "mine" : "" }, [bubble]);
}

/** @param {HTMLElement} list @param {Message[]} newestFirst @param {"visitor" | "operator"} viewer @param {string} empty */
function fill(list, newestFirst, viewer, empty) {
  list.replaceChildren(
    ...(newestFirst.length === 0 ? [h("li", { class: "empty" }, [empty])] : [...newestFirst].reverse().map((m) => item(m, viewer))),
  );
  list.scrollTop = list.scrollHeight;
}

function render() {
  const v = visitor;
  fill(
    $("visitor-messages"),
    v ? engine.call("visitor_list_messages", { visitor_id: v.id, chat_id: v.chat, query: { page_size: 100 } }, v.token).results : [],
    "visitor",
    "Write to start a chat.",
  );

  const pending = engine.call("list_chats", { scope: "user_pending", user_id: ANN }, ANN_TOKEN).results;
  $("pending").replaceChildren(
    ...(pending.length === 0
      ? [h("li", { class: "empty" }, ["No chats waiting."])]
      : pending.map((c) => {
          const join = h("button", { type: "button", class: "join" }, ["Join"]);
          join.addEventListener("click", () =>
            act("operator", () => {
              engine.call(
                "join_pending_chat",
                { user_id: ANN, chat_id: c.id, body: { is_participating: true, composing_status: "idle" } },
                ANN_TOKEN,
              );
              operatorChat = c.id;
            }),
          );
          const n = c.visitor_message_count;
          return h("li", {}, [`${c.room_name}: a visitor is waiting (${n} message${n === 1 ? "" : "s"})`, join]);
        })),
  );

  const chat = operatorChat
    ? engine.call("get_chat", { scope: "user_chats", user_id: ANN, chat_id: operatorChat }, ANN_TOKEN)
    : null;
  fill(
    $("operator-messages"),
    chat
      ? engine.call("list_messages", { scope: "user_chats", user_id: ANN, chat_id: chat.id, query: { page_size: 100 } }, ANN_TOKEN).results
      : [],
    "operator",
    "Join a pending chat.",
  );
  const open = chat !== null && !chat.is_ended;
  for (const id of ["operator-input", "operator-send", "operator-offer", "operator-end"]) {
    input(id).disabled = !open;
  }
  if (chat?.is_ended) $("operator-status").textContent = `Chat ended after ${chat.duration ?? 0} s.`;
}

$("visitor-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input("visitor-input").value.trim();
  if (!text) return;
  input("visitor-input").value = "";
  act("visitor", () => visitorSend(text));
});
$("operator-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input("operator-input").value.trim();
  if (!text) return;
  input("operator-input").value = "";
  act("operator", () => operatorSend({ message: text }));
});
$("operator-offer").addEventListener("click", () =>
  act("operator", () =>
    operatorSend({
      message: "Pick what you need:",
      attachments: [
        {
          title: "Order #1234",
          text: "Shipped on Monday",
          actions: [
            { text: "Track my order", type: "button", value: "track", style: "primary", is_disabled_on_selection: true, is_disabled_on_visitor_message: false },
            { text: "Talk to sales", type: "button", value: "sales", is_disabled_on_selection: true, is_disabled_on_visitor_message: false },
          ],
        },
      ],
    }),
  ),
);
$("operator-end").addEventListener("click", () =>
  act("operator", () => {
    if (operatorChat) {
      engine.call("update_chat", { scope: "user_chats", user_id: ANN, chat_id: operatorChat, body: { is_ended: true } }, ANN_TOKEN);
    }
  }),
);

render();
document.body.dataset.ready = "yes";
