// @ts-check
/**
 * A chat's messages as an ordered list (`<ol>`), each message once whatever how often it
 * arrives (REST reads, the stream, a resumed stream): keyed by message id, a later copy
 * replaces the earlier one (an attachment's buttons become disabled once chosen).
 */

/**
 * @typedef {object} ChatAction
 * @property {string} id
 * @property {string} text
 * @property {string} type `button` or `link_button`
 * @property {string} value
 * @property {string | null} link_target
 * @property {boolean} is_disabled
 */

/**
 * @typedef {object} ChatAttachment
 * @property {string} id
 * @property {string | null} title
 * @property {string | null} text
 * @property {ChatAction[]} actions
 */

/**
 * @typedef {object} ChatMessage
 * @property {string} id
 * @property {string} type `msg`, `action`, `join`, `leave`, ...
 * @property {string} created_at
 * @property {string} sender_type `user`, `visitor`, ...
 * @property {string | null} sender_public_name
 * @property {string | null} [sender_name]
 * @property {string | null} message
 * @property {boolean} [is_encrypted]
 * @property {ChatAttachment[]} attachments
 * @property {string | null} response_value
 */

/**
 * @typedef {object} MessageListOptions
 * @property {'visitor' | 'operator'} viewer whose messages are "mine"
 * @property {(message: ChatMessage, attachment: ChatAttachment, action: ChatAction) => void} [onAction]
 *   called when the viewer picks a button (visitors only)
 */

export class MessageList {
  /**
   * @param {HTMLOListElement} list
   * @param {MessageListOptions} options
   */
  constructor(list, options) {
    this.list = list;
    this.options = options;
    /** @type {Map<string, ChatMessage>} */
    this.messages = new Map();
  }

  clear() {
    this.messages.clear();
    this.list.replaceChildren();
  }

  /** @param {string} id */
  has(id) {
    return this.messages.has(id);
  }

  /**
   * Whether the message is known only from an event without its text (an encrypted chat):
   * the REST read of the chat's messages gives the text.
   * @param {string} id
   */
  lacksText(id) {
    const m = this.messages.get(id);
    return !!m && m.is_encrypted === true && m.message == null && (m.type === 'msg' || m.type === 'action');
  }

  /**
   * Adds or replaces a message (a `changed` event's partial resource is merged).
   * @param {Partial<ChatMessage> & {id: string}} message
   */
  upsert(message) {
    const previous = this.messages.get(message.id);
    const merged = /** @type {ChatMessage} */ ({ ...(previous ?? {}), ...message });
    // Events of an encrypting organization carry the text encrypted only (`message: null`):
    // keep the text a REST read gave.
    if (merged.message == null && previous?.message != null) merged.message = previous.message;
    if (!merged.created_at) return;
    this.messages.set(merged.id, merged);
    const item = this.render(merged);
    const existing = this.list.querySelector(`li[data-message-id="${CSS.escape(merged.id)}"]`);
    if (existing) {
      existing.replaceWith(item);
      return;
    }
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    // Keep the order of creation (ids of one chat grow with time too).
    const key = sortKey(merged);
    let before = null;
    for (const li of this.list.children) {
      const other = this.messages.get(/** @type {HTMLElement} */ (li).dataset.messageId ?? '');
      if (other && sortKey(other) > key) {
        before = li;
        break;
      }
    }
    this.list.insertBefore(item, before);
    // Follow the conversation unless the reader scrolled back.
    if (atBottom || before === null) this.list.scrollTop = this.list.scrollHeight;
  }

  /**
   * @param {ChatMessage} m
   * @returns {HTMLLIElement}
   */
  render(m) {
    const li = document.createElement('li');
    li.dataset.messageId = m.id;
    li.dataset.senderType = m.sender_type;
    const mine = m.sender_type === this.options.viewer || (this.options.viewer === 'operator' && m.sender_type === 'user');
    li.className = `message ${m.type === 'join' || m.type === 'leave' ? 'system' : mine ? 'mine' : 'theirs'}`;
    const who = document.createElement('span');
    who.className = 'sender';
    const name =
      m.sender_type === 'visitor'
        ? this.options.viewer === 'visitor'
          ? 'You'
          : 'Visitor'
        : (this.options.viewer === 'operator' ? m.sender_name : null) ?? m.sender_public_name ?? 'Support';
    who.textContent = name;
    const body = document.createElement('p');
    body.className = 'text';
    if (m.type === 'join') body.textContent = `${name} joined the chat`;
    else if (m.type === 'leave') body.textContent = `${name} left the chat`;
    else if (m.type === 'action') body.textContent = `Chose: ${m.message ?? m.response_value ?? ''}`;
    else body.textContent = m.message ?? '';
    if (m.type !== 'join' && m.type !== 'leave') li.append(who);
    li.append(body);
    for (const attachment of m.attachments ?? []) li.append(this.renderAttachment(m, attachment));
    return li;
  }

  /**
   * @param {ChatMessage} m
   * @param {ChatAttachment} a
   */
  renderAttachment(m, a) {
    const box = document.createElement('div');
    box.className = 'attachment';
    box.setAttribute('role', 'group');
    const label = [a.title, a.text].filter(Boolean).join(' — ');
    if (label) {
      box.setAttribute('aria-label', label);
      // An attachment repeating its message's text (a question with its options) is shown
      // once.
      if (label !== m.message) {
        const text = document.createElement('p');
        text.textContent = label;
        box.append(text);
      }
    }
    for (const action of a.actions ?? []) {
      if (action.type === 'link_button' && /^https?:\/\//.test(action.value)) {
        const link = document.createElement('a');
        link.href = action.value;
        link.textContent = action.text;
        link.target = action.link_target === '_parent' ? '_parent' : '_blank';
        link.rel = 'noopener noreferrer';
        box.append(link);
        continue;
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'action';
      button.textContent = action.text;
      button.dataset.actionId = action.id;
      const onAction = this.options.onAction;
      button.disabled = action.is_disabled || !onAction;
      if (onAction) button.addEventListener('click', () => onAction(m, a, action));
      box.append(button);
    }
    return box;
  }
}

/** @param {ChatMessage} m */
function sortKey(m) {
  return `${m.created_at}|${m.id}`;
}
