// @ts-check
/**
 * The operator desk: sign in with an API token (kept in `sessionStorage`; a `#token=` fragment
 * signs in and is removed from the address bar), waiting chats live, join, converse, offer
 * button options, invite a team, tag and end chats. A presence client keeps the operator
 * present while the desk is open.
 */
import { Api, ApiError } from './api.js';
import { Realtime } from './realtime.js';
import { MessageList } from './messages.js';

const TOKEN_KEY = 'chat-desk-token';
/** The presence client's lifetime; it is renewed at a third of it. */
const PRESENCE_S = 60;
const TYPING_IDLE_MS = 3000;
/**
 * While the operator keeps typing, `typing` is sent again this often: the server reads a
 * `typing` not refreshed for 15 s as `typed`. Between refreshes keystrokes send nothing.
 */
const TYPING_REFRESH_MS = 10000;

/** @param {string} id */
function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** @typedef {{id: string, room_name?: string, is_pending?: boolean, is_ended?: boolean, created_at?: string, waiting_started_at?: string | null}} Chat */

class Desk {
  constructor() {
    /** @type {string | null} */
    this.token = null;
    /** @type {{id: string, organization_id: string, full_name: string} | null} */
    this.me = null;
    this.api = new Api(location.origin, () => this.token, 'Token');
    /** @type {Realtime | null} */
    this.realtime = null;
    /** @type {string | null} */
    this.presenceClient = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.presenceTimer = null;
    /** @type {Map<string, Chat>} */
    this.pending = new Map();
    /** @type {Map<string, Chat>} */
    this.mine = new Map();
    /** @type {string | null} */
    this.current = null;
    /** @type {Map<string, string>} member id → member type, in the open chat */
    this.memberTypes = new Map();
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.typingTimer = null;
    /** When `typing` was last sent (ms since the epoch). */
    this.typingSentAt = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.refreshTimer = null;
    this.messages = new MessageList(/** @type {HTMLOListElement} */ ($('messages')), { viewer: 'operator' });

    $('sign-in-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = /** @type {HTMLInputElement} */ ($('token'));
      const token = input.value.trim();
      input.value = '';
      if (token) this.signIn(token);
    });
    $('sign-out').addEventListener('click', () => this.signOut());
    $('compose').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = /** @type {HTMLTextAreaElement} */ ($('message'));
      const text = input.value.trim();
      if (!text) return;
      input.value = '';
      this.send({ message: text });
    });
    $('message').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        /** @type {HTMLFormElement} */ ($('compose')).requestSubmit();
      }
    });
    $('message').addEventListener('input', () => this.noteTyping());
    $('offer').addEventListener('submit', (e) => {
      e.preventDefault();
      const text = /** @type {HTMLInputElement} */ ($('offer-text'));
      const options = /** @type {HTMLInputElement} */ ($('offer-options'));
      const actions = options.value
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean)
        .map((o) => ({ text: o, type: 'button', value: o, is_disabled_on_selection: true, is_disabled_on_visitor_message: false }));
      if (actions.length === 0) return;
      this.send({ message: text.value, attachments: [{ text: text.value, actions }] });
      text.value = '';
      options.value = '';
    });
    $('invite').addEventListener('submit', (e) => {
      e.preventDefault();
      const team = /** @type {HTMLSelectElement} */ ($('invite-team')).value;
      if (team) this.chatCall('POST', 'outgoing_chat_invitations', { invited_team_id: team }, 'Team invited.');
    });
    $('tag').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = /** @type {HTMLInputElement} */ ($('tag-name'));
      const name = input.value.trim();
      input.value = '';
      if (name) this.chatCall('POST', 'tags', { name }).then(() => this.loadTags());
    });
    $('end-chat').addEventListener('click', () => {
      if (this.current) this.call(() => this.api.patch(`/users/${this.meId()}/chats/${this.current}`, { is_ended: true }));
    });
    addEventListener('pagehide', () => this.endPresence());

    const fragment = new URLSearchParams(location.hash.slice(1));
    const fromLink = fragment.get('token');
    if (fromLink) {
      // The link's token: kept for this tab, removed from the address bar and history.
      history.replaceState(null, '', location.pathname + location.search);
      this.signIn(fromLink);
    } else {
      const kept = sessionStorage.getItem(TOKEN_KEY);
      if (kept) this.signIn(kept);
    }
  }

  meId() {
    if (!this.me) throw new Error('not signed in');
    return this.me.id;
  }

  /** @param {string} token */
  async signIn(token) {
    this.token = token;
    $('sign-in-error').textContent = '';
    try {
      this.me = await this.api.get('/users/me');
    } catch (e) {
      this.token = null;
      sessionStorage.removeItem(TOKEN_KEY);
      $('sign-in-error').textContent = e instanceof ApiError && e.status === 401 ? 'Unknown token.' : errorText(e);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    const me = /** @type {NonNullable<typeof this.me>} */ (this.me);
    $('whoami').textContent = `Signed in as ${me.full_name}`;
    $('sign-in').hidden = true;
    $('desk').hidden = false;
    $('sign-out').hidden = false;
    await this.startPresence();
    this.realtime = new Realtime(location.origin, () => this.token, {
      onEvent: (event) => this.onEvent(event),
      onResync: () => this.reload(),
      onState: (connected) => {
        $('connection').textContent = connected ? 'Live' : 'Reconnecting…';
        $('connection').dataset.connected = String(connected);
      },
    });
    this.realtime.subscribe(`/api/v5/users/${me.id}/pending_chats`);
    this.realtime.subscribe(`/api/v5/users/${me.id}/chats`);
    await this.reload();
    this.loadTeams();
  }

  async signOut() {
    await this.endPresence();
    this.realtime?.close();
    this.realtime = null;
    this.token = null;
    this.me = null;
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  }

  async startPresence() {
    try {
      const client = await this.api.post(`/users/${this.meId()}/clients`, { presence_expires_in: PRESENCE_S });
      this.presenceClient = client.id;
    } catch (e) {
      $('connection').textContent = `Presence: ${errorText(e)}`;
      return;
    }
    this.presenceTimer = setInterval(() => {
      if (!this.presenceClient) return;
      this.api
        .patch(`/users/${this.meId()}/clients/${this.presenceClient}`, { presence_expires_in: PRESENCE_S })
        .catch(() => this.startPresence());
    }, (PRESENCE_S * 1000) / 3);
  }

  async endPresence() {
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.presenceTimer = null;
    const client = this.presenceClient;
    this.presenceClient = null;
    if (client && this.me) {
      await this.api.request('DELETE', `/users/${this.me.id}/clients/${client}`, undefined, { keepalive: true }).catch(() => {});
    }
  }

  async reload() {
    const me = this.meId();
    const [pending, mine] = await Promise.all([
      this.api.get(`/users/${me}/pending_chats?page_size=100`),
      this.api.get(`/users/${me}/chats?page_size=100`),
    ]);
    this.pending = new Map(pending.results.map((/** @type {Chat} */ c) => [c.id, c]));
    this.mine = new Map(mine.results.filter((/** @type {Chat} */ c) => !c.is_ended).map((/** @type {Chat} */ c) => [c.id, c]));
    this.renderLists();
    if (this.current) await this.loadMessages();
  }

  async loadTeams() {
    if (!this.me) return;
    const select = /** @type {HTMLSelectElement} */ ($('invite-team'));
    try {
      const teams = await this.api.get(`/orgs/${this.me.organization_id}/teams?page_size=100`);
      select.replaceChildren(
        ...teams.results.map((/** @type {{id: string, name: string}} */ t) => {
          const o = document.createElement('option');
          o.value = t.id;
          o.textContent = t.name;
          return o;
        }),
      );
    } catch {
      select.replaceChildren();
    }
    /** @type {HTMLButtonElement} */ ($('invite').querySelector('button')).disabled = select.options.length === 0;
  }

  /** @param {import('./realtime.js').ChatEvent} event */
  onEvent(event) {
    const me = this.me?.id;
    const ch = event.channel;
    if (ch === `/api/v5/users/${me}/pending_chats`) {
      const chat = { ...(this.pending.get(event.resource_id) ?? {}), ...(event.resource ?? {}), id: event.resource_id };
      if (event.action === 'removed' || chat.is_pending === false || chat.is_ended) this.pending.delete(event.resource_id);
      else this.pending.set(event.resource_id, chat);
      this.renderLists();
    } else if (ch === `/api/v5/users/${me}/chats`) {
      const chat = { ...(this.mine.get(event.resource_id) ?? {}), ...(event.resource ?? {}), id: event.resource_id };
      if (event.action === 'removed' || chat.is_ended) this.mine.delete(event.resource_id);
      else this.mine.set(event.resource_id, chat);
      if (event.resource_id === this.current && chat.is_ended) this.showEnded();
      this.renderLists();
    } else if (this.current && ch === this.chatChannel('messages')) {
      if (event.resource && event.action !== 'removed') {
        this.messages.upsert({ ...event.resource, id: event.resource_id });
        if (this.messages.lacksText(event.resource_id)) this.refreshSoon();
      }
    } else if (this.current && ch === this.chatChannel('memberships')) {
      // A `changed` event carries the changed fields only: the member's type is known from
      // the membership list or an earlier event.
      const m = event.resource ?? {};
      if (m.member_type) this.memberTypes.set(event.resource_id, m.member_type);
      if (this.memberTypes.get(event.resource_id) === 'visitor' && m.composing_status) {
        $('chat-status').textContent = m.composing_status === 'typing' ? 'The visitor is typing…' : '';
      }
    } else if (this.current && ch === this.chatChannel('tags')) {
      this.loadTags();
    }
  }

  renderLists() {
    const pending = $('pending');
    pending.replaceChildren(
      ...[...this.pending.values()].map((chat) => {
        const li = document.createElement('li');
        li.dataset.chatId = chat.id;
        const label = document.createElement('span');
        label.textContent = `${chat.room_name ?? 'Chat'} · waiting since ${time(chat.waiting_started_at ?? chat.created_at)}`;
        const join = document.createElement('button');
        join.type = 'button';
        join.textContent = 'Join';
        join.setAttribute('aria-label', `Join the chat in ${chat.room_name ?? 'the room'}`);
        join.addEventListener('click', () => this.join(chat.id));
        li.append(label, join);
        return li;
      }),
    );
    $('pending-empty').hidden = this.pending.size > 0;
    const mine = $('mine');
    mine.replaceChildren(
      ...[...this.mine.values()].map((chat) => {
        const li = document.createElement('li');
        li.dataset.chatId = chat.id;
        const open = document.createElement('button');
        open.type = 'button';
        open.textContent = `${chat.room_name ?? 'Chat'} (${time(chat.created_at)})`;
        if (chat.id === this.current) open.setAttribute('aria-current', 'true');
        open.addEventListener('click', () => this.open(chat.id));
        li.append(open);
        return li;
      }),
    );
  }

  /** @param {string} chatId */
  async join(chatId) {
    await this.call(async () => {
      await this.api.post(`/users/${this.meId()}/pending_chats/${chatId}/memberships`, { is_participating: true, composing_status: 'idle' });
      this.pending.delete(chatId);
      this.renderLists();
      await this.open(chatId);
    });
  }

  /** @param {string} suffix */
  chatChannel(suffix) {
    return `/api/v5/users/${this.me?.id}/chats/${this.current}/${suffix}`;
  }

  /** @param {string} chatId */
  async open(chatId) {
    if (this.current) for (const s of ['messages', 'memberships', 'tags']) this.realtime?.unsubscribe(this.chatChannel(s));
    this.current = chatId;
    this.messages.clear();
    $('chat').hidden = false;
    $('chat').dataset.chatId = chatId;
    $('chat-ended').hidden = true;
    $('chat-status').textContent = '';
    $('chat-error').textContent = '';
    for (const b of $('chat').querySelectorAll('form button, #end-chat')) /** @type {HTMLButtonElement} */ (b).disabled = false;
    /** @type {HTMLButtonElement} */ ($('invite').querySelector('button')).disabled = /** @type {HTMLSelectElement} */ ($('invite-team')).options.length === 0;
    const chat = this.mine.get(chatId);
    $('chat-title').textContent = `Chat in ${chat?.room_name ?? 'a room'}`;
    for (const s of ['messages', 'memberships', 'tags']) this.realtime?.subscribe(this.chatChannel(s));
    this.renderLists();
    this.memberTypes.clear();
    await this.call(() => Promise.all([this.loadMessages(), this.loadTags(), this.loadMembers()]));
    /** @type {HTMLTextAreaElement} */ ($('message')).focus();
  }

  async loadMessages() {
    await this.api.getAll(`/users/${this.meId()}/chats/${this.current}/messages?page_size=100`, (m) =>
      this.messages.upsert(m),
    );
  }

  /** Reads the newest messages again (soon, once for a burst of events). */
  refreshSoon() {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      if (!this.current) return;
      this.api
        .get(`/users/${this.meId()}/chats/${this.current}/messages?page_size=50`)
        .then((page) => page.results.forEach((/** @type {any} */ m) => this.messages.upsert(m)))
        .catch((e) => ($('chat-error').textContent = errorText(e)));
    }, 50);
  }

  async loadMembers() {
    const members = await this.api.get(`/users/${this.meId()}/chats/${this.current}/memberships?page_size=100`);
    for (const m of members.results) this.memberTypes.set(m.member_id, m.member_type);
  }

  async loadTags() {
    if (!this.current) return;
    const tags = await this.api.get(`/users/${this.meId()}/chats/${this.current}/tags?page_size=100`);
    $('tags').replaceChildren(
      ...tags.results.map((/** @type {{name: string}} */ t) => {
        const li = document.createElement('li');
        li.textContent = t.name;
        return li;
      }),
    );
  }

  showEnded() {
    $('chat-ended').hidden = false;
    for (const b of $('chat').querySelectorAll('form button, #end-chat')) /** @type {HTMLButtonElement} */ (b).disabled = true;
  }

  /** @param {object} body */
  async send(body) {
    this.stopTyping();
    await this.call(async () => {
      const m = await this.api.post(`/users/${this.meId()}/chats/${this.current}/messages`, body);
      this.messages.upsert(m);
    });
  }

  /**
   * A call on the open chat's sub-collection.
   * @param {string} method
   * @param {string} collection
   * @param {unknown} body
   * @param {string} [done] said when it succeeded
   */
  async chatCall(method, collection, body, done) {
    await this.call(async () => {
      await this.api.request(method, `/users/${this.meId()}/chats/${this.current}/${collection}`, body);
      if (done) $('chat-status').textContent = done;
    });
  }

  noteTyping() {
    if (!this.current) return;
    if (!this.typingTimer || Date.now() - this.typingSentAt >= TYPING_REFRESH_MS) {
      this.typingSentAt = Date.now();
      this.setComposing('typing');
    }
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    if (!this.typingTimer) return;
    clearTimeout(this.typingTimer);
    this.typingTimer = null;
    this.setComposing('idle');
  }

  /** @param {'typing' | 'idle'} status */
  setComposing(status) {
    if (!this.current) return;
    this.api
      .put(`/users/${this.meId()}/chat_memberships/${this.current}`, { is_participating: true, composing_status: status })
      .catch(() => {});
  }

  /** @param {() => Promise<unknown>} f */
  async call(f) {
    $('chat-error').textContent = '';
    try {
      await f();
    } catch (e) {
      $('chat-error').textContent = errorText(e);
    }
  }
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

/** @param {string | null | undefined} iso */
function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
}

new Desk();
