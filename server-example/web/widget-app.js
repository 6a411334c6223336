// @ts-check
/**
 * The visitor widget: a launcher button and a chat panel in a shadow root (the host page's
 * styles do not reach it). It talks to the public visitor API (contract section 5) and the
 * event stream; the visitor is kept across reloads by `visitor_secret_id` in `localStorage`.
 */
import { Api, ApiError } from './api.js';
import { Realtime } from './realtime.js';
import { MessageList } from './messages.js';

/**
 * @typedef {object} WidgetConfig
 * @property {string} base the chat server's URL
 * @property {string} org organization id
 * @property {string} room room id
 * @property {string} [title]
 */

/** @typedef {{secret?: string, chatId?: string}} StoredVisitor */

/** Typing stops counting after this long without a keystroke. */
const TYPING_IDLE_MS = 3000;

/** @param {WidgetConfig} config */
export function mount(config) {
  return new Widget(config);
}

class Widget {
  /** @param {WidgetConfig} config */
  constructor(config) {
    this.config = config;
    this.storageKey = `chat-widget:${config.org}`;
    /** @type {StoredVisitor} */
    this.stored = readStored(this.storageKey);
    /** @type {string | null} */
    this.visitorId = null;
    /** @type {string | null} */
    this.token = null;
    /** @type {string | null} */
    this.chatId = null;
    /** @type {Realtime | null} */
    this.realtime = null;
    /** @type {Promise<void> | null} */
    this.starting = null;
    /**
     * The chat's operators as the visitor sees them (memberships in the visitor view, kept
     * current by the memberships channel): member id → public name and composing status.
     * @type {Map<string, {name: string, composing: string}>}
     */
    this.operators = new Map();
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.typingTimer = null;
    this.typing = false;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.refreshTimer = null;
    this.api = new Api(config.base, () => this.token, 'Bearer');
    this.ui = createUi(config);
    this.messages = new MessageList(this.ui.log, {
      viewer: 'visitor',
      onAction: (message, attachment, action) => {
        this.post({
          type: 'action',
          response_to_message_id: message.id,
          response_to_attachment_id: attachment.id,
          response_to_action_id: action.id,
        });
      },
    });
    this.wire();
    if (this.stored.chatId) this.open();
  }

  /** Wires the elements to the widget. */
  wire() {
    const { close, again } = this.ui;
    this.ui.launcher.addEventListener('click', () => (this.ui.panel.hidden ? this.open() : this.hide()));
    close.addEventListener('click', () => this.hide());
    again.addEventListener('click', () => this.startOver());
    this.ui.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.hide();
    });
    this.ui.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        this.ui.form.requestSubmit();
      }
    });
    this.ui.input.addEventListener('input', () => this.noteTyping());
    this.ui.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.ui.input.value.trim();
      if (!text) return;
      this.ui.input.value = '';
      this.post({ type: 'msg', message: text });
    });
  }

  open() {
    this.ui.panel.hidden = false;
    this.ui.launcher.setAttribute('aria-expanded', 'true');
    this.ui.input.focus();
    this.start().catch((e) => this.fail(e));
  }

  hide() {
    this.ui.panel.hidden = true;
    this.ui.launcher.setAttribute('aria-expanded', 'false');
    this.ui.launcher.focus();
  }

  /** Authenticates (once) and resumes the stored chat. */
  start() {
    if (!this.starting) {
      this.starting = this.authenticate().catch((e) => {
        this.starting = null;
        throw e;
      });
    }
    return this.starting;
  }

  async authenticate() {
    this.say('Connecting…');
    const { org, room } = this.config;
    const auth = await this.api.post(`/public/orgs/${org}/auth`, { visitor_secret_id: this.stored.secret ?? null });
    this.visitorId = auth.visitor_id;
    this.token = auth.access_token;
    this.stored.secret = auth.visitor_secret_id;
    this.save();
    // A fresh token before this one expires (the stream reconnects with it).
    const renewIn = Math.max(60, Number(auth.expires_in) * 0.9) * 1000;
    setTimeout(() => {
      this.starting = null;
      this.start().catch((e) => this.fail(e));
    }, renewIn);
    await this.api.post(`/public/orgs/${org}/rooms/${room}/visitors`, { id: this.visitorId, presence_expires_in: 3600 });
    if (!this.realtime) {
      this.realtime = new Realtime(this.config.base, () => this.token, {
        onEvent: (event) => this.receive(event),
        onResync: (channel) => this.reload(channel).catch((e) => this.fail(e)),
        onState: (connected) => {
          this.ui.log.dataset.connected = String(connected);
          this.say(connected ? '' : 'Reconnecting…');
          if (connected) this.checkEnded();
        },
      });
    }
    if (this.stored.chatId && !this.chatId) await this.resume(this.stored.chatId);
    this.say('');
  }

  /** @param {string} chatId */
  async resume(chatId) {
    let chat;
    try {
      chat = await this.api.get(`/public/visitors/${this.visitorId}/chats/${chatId}`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
        this.forgetChat();
        return;
      }
      throw e;
    }
    if (chat.is_ended) {
      this.forgetChat();
      return;
    }
    this.follow(chatId);
    await Promise.all([this.loadMessages(), this.loadMembers()]);
  }

  /**
   * An event of one of the followed channels: the chat's messages, its memberships (an
   * operator typing) or the visitor's chats (the chat's end).
   * @param {import('./realtime.js').ChatEvent} event
   */
  receive(event) {
    if (!this.chatId || !event.resource || event.action === 'removed') return;
    if (event.channel === this.channel()) {
      this.messages.upsert({ ...event.resource, id: event.resource_id });
      if (this.messages.lacksText(event.resource_id)) this.refreshSoon();
    } else if (event.channel === this.membersChannel()) {
      this.noteMember(event.resource_id, event.resource);
    } else if (event.channel === this.chatsChannel() && event.resource_id === this.chatId) {
      if (event.resource.is_ended === true) this.showEnded();
    }
  }

  /**
   * Events of a channel were lost: reads its collection again.
   * @param {string} channel
   */
  async reload(channel) {
    if (channel === this.membersChannel()) await this.loadMembers();
    else if (channel === this.chatsChannel()) await this.checkEnded();
    else await this.loadMessages();
  }

  /** @param {string} chatId */
  follow(chatId) {
    this.chatId = chatId;
    this.stored.chatId = chatId;
    this.save();
    this.realtime?.subscribe(this.channel());
    this.realtime?.subscribe(this.membersChannel());
    this.realtime?.subscribe(this.chatsChannel());
  }

  channel() {
    return `/api/v5/public/visitors/${this.visitorId}/chats/${this.chatId}/messages`;
  }

  /** The chat's memberships: the operators' composing status. */
  membersChannel() {
    return `/api/v5/public/visitors/${this.visitorId}/chats/${this.chatId}/memberships`;
  }

  /** The visitor's chats: the chat's end. */
  chatsChannel() {
    return `/api/v5/public/visitors/${this.visitorId}/chats`;
  }

  async loadMembers() {
    if (!this.chatId) return;
    await this.api.getAll(`/public/visitors/${this.visitorId}/chats/${this.chatId}/memberships?page_size=100`, (m) =>
      this.noteMember(m.member_id, m),
    );
  }

  /**
   * A membership added or changed (`changed` carries only what changed).
   * @param {string} memberId
   * @param {any} m
   */
  noteMember(memberId, m) {
    const known = this.operators.get(memberId);
    if (!known && m.member_type !== 'user') return;
    const next = {
      name: typeof m.member_public_name === 'string' && m.member_public_name ? m.member_public_name : known?.name ?? 'The operator',
      composing: typeof m.composing_status === 'string' ? m.composing_status : known?.composing ?? 'idle',
    };
    this.operators.set(memberId, next);
    this.showTyping();
  }

  /**
   * "<name> is typing…" while an operator's composing status is `typing`, else nothing. The
   * element stays in place (a live region announces changes of its text, not its arrival).
   */
  showTyping() {
    const names = [...this.operators.values()].filter((o) => o.composing === 'typing').map((o) => o.name);
    const text = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`;
    if (this.ui.typing.textContent !== text) this.ui.typing.textContent = text;
  }

  async loadMessages() {
    if (!this.chatId) return;
    await this.api.getAll(`/public/visitors/${this.visitorId}/chats/${this.chatId}/messages?page_size=100`, (m) =>
      this.messages.upsert(m),
    );
  }

  /** Reads the newest messages again (soon, once for a burst of events). */
  refreshSoon() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (!this.chatId) return;
      this.api
        .get(`/public/visitors/${this.visitorId}/chats/${this.chatId}/messages?page_size=50`)
        .then((page) => page.results.forEach((/** @type {any} */ m) => this.messages.upsert(m)))
        .catch((e) => this.fail(e));
    }, 50);
  }

  /**
   * Reads whether the chat has ended: once on (re)connecting and on a resync of the chats
   * channel, whose events say it otherwise.
   */
  async checkEnded() {
    if (!this.chatId || !this.visitorId) return;
    try {
      const chat = await this.api.get(`/public/visitors/${this.visitorId}/chats/${this.chatId}`);
      if (chat.is_ended) this.showEnded();
    } catch {
      // The stream's events (or the next reconnection) tell it.
    }
  }

  showEnded() {
    this.operators.clear();
    this.showTyping();
    this.ui.ended.hidden = false;
    this.ui.input.disabled = true;
    this.ui.sendButton.disabled = true;
    for (const b of this.ui.log.querySelectorAll('button')) /** @type {HTMLButtonElement} */ (b).disabled = true;
  }

  forgetChat() {
    if (this.chatId) {
      this.realtime?.unsubscribe(this.channel());
      this.realtime?.unsubscribe(this.membersChannel());
    }
    this.operators.clear();
    this.showTyping();
    this.chatId = null;
    delete this.stored.chatId;
    this.save();
  }

  startOver() {
    this.forgetChat();
    this.messages.clear();
    this.ui.ended.hidden = true;
    this.ui.input.disabled = false;
    this.ui.sendButton.disabled = false;
    this.ui.input.focus();
  }

  /** @param {object} body a message (`msg` or `action`) */
  async post(body) {
    try {
      await this.start();
      if (!this.chatId) {
        const { org, room } = this.config;
        const chat = await this.api.post(`/public/orgs/${org}/rooms/${room}/visitors/${this.visitorId}/chats`, {});
        this.follow(chat.id);
        await Promise.all([this.loadMessages(), this.loadMembers()]);
      }
      this.stopTyping();
      const message = await this.api.post(`/public/visitors/${this.visitorId}/chats/${this.chatId}/messages`, body);
      this.messages.upsert(message);
      this.say('');
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        this.showEnded();
        return;
      }
      this.fail(e);
    }
  }

  noteTyping() {
    if (!this.chatId) return;
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
    if (!this.typing) {
      this.typing = true;
      this.setComposing('typing');
    }
  }

  stopTyping() {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    if (this.typing) {
      this.typing = false;
      this.setComposing('idle');
    }
  }

  /** @param {'typing' | 'idle'} status */
  setComposing(status) {
    if (!this.chatId) return;
    this.api
      .patch(`/public/visitors/${this.visitorId}/chat_memberships/${this.chatId}`, { composing_status: status })
      .catch(() => {});
  }

  /** @param {string} text */
  say(text) {
    this.ui.status.textContent = text;
  }

  /** @param {unknown} e */
  fail(e) {
    this.say(e instanceof Error ? `Error: ${e.message}` : 'Error');
  }

  save() {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(this.stored));
    } catch {
      // Storage may be unavailable (private mode): the visitor is then new on each visit.
    }
  }
}

/**
 * The widget's elements, in a shadow root on a new element at the end of the body.
 * @param {WidgetConfig} config
 */
function createUi(config) {
  const host = document.createElement('div');
  host.id = 'chat-widget';
  document.body.append(host);
  const root = host.attachShadow({ mode: 'open' });
  const style = document.createElement('link');
  style.rel = 'stylesheet';
  style.href = `${config.base}/web/widget.css`;
  const launcher = el('button', { class: 'launcher', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'chat-panel' }, 'Chat with us');
  const panel = el('section', { class: 'panel', id: 'chat-panel', role: 'dialog', 'aria-labelledby': 'chat-title', hidden: '' });
  const title = el('h2', { id: 'chat-title' }, config.title ?? 'Chat with us');
  const close = el('button', { type: 'button', class: 'close', 'aria-label': 'Close the chat' }, '×');
  const status = el('p', { class: 'status', role: 'status' });
  const log = /** @type {HTMLOListElement} */ (el('ol', { class: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Messages' }));
  const typing = el('p', { class: 'typing', 'aria-live': 'polite' });
  const ended = el('p', { class: 'ended', hidden: '' }, 'The chat has ended. ');
  const again = el('button', { type: 'button', class: 'new-chat' }, 'Start a new chat');
  ended.append(again);
  const form = /** @type {HTMLFormElement} */ (el('form', { class: 'compose' }));
  const label = el('label', { for: 'chat-input' }, 'Your message');
  const input = /** @type {HTMLTextAreaElement} */ (el('textarea', { id: 'chat-input', name: 'message', rows: '2', placeholder: 'Write a message…' }));
  const sendButton = /** @type {HTMLButtonElement} */ (el('button', { type: 'submit' }, 'Send'));
  form.append(label, input, sendButton);
  panel.append(el('header', {}, title, close), status, log, typing, ended, form);
  root.append(style, launcher, panel);
  return { launcher, panel, close, status, log, typing, ended, again, form, input, sendButton };
}

/**
 * @param {string} key
 * @returns {StoredVisitor}
 */
function readStored(key) {
  try {
    const v = JSON.parse(localStorage.getItem(key) ?? '{}');
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

/**
 * @param {string} tag
 * @param {Record<string, string>} attrs
 * @param {...(string | Node)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}
