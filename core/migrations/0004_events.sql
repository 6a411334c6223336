-- Real-time events, webhooks (with their delivery outbox) and idempotent creations.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); ids are 16-byte BLOBs.

-- The event log. `seq` never repeats (AUTOINCREMENT), even after retention deletes the newest.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id BLOB NOT NULL,
    chat_pk         INTEGER,        -- the chat the resource belongs to (purges scrub by it)
    channel         TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('added','changed','removed')),
    resource_id     TEXT NOT NULL,
    resource        TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX events_org ON events(organization_id, seq);
CREATE INDEX events_created ON events(created_at);
CREATE INDEX events_chat ON events(chat_pk) WHERE chat_pk IS NOT NULL;

-- Small key/value facts of the event log (`floor`: the newest seq retention has deleted).
CREATE TABLE event_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Rows changed by the running transaction, recorded by the triggers below and turned into
-- events (then deleted) before the transaction commits. Storage-level change tracking only:
-- no chat rule lives in these triggers.
CREATE TABLE event_dirty (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    chat_pk INTEGER NOT NULL,
    key     TEXT NOT NULL
) STRICT;

-- The last published state of each resource (for `changed` diffs and pending/member sets).
CREATE TABLE event_snapshots (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER ev_chats_ins AFTER INSERT ON chats BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.pk, '');
END;
CREATE TRIGGER ev_chats_upd AFTER UPDATE ON chats BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.pk, '');
END;
CREATE TRIGGER ev_messages_ins AFTER INSERT ON messages BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('message', NEW.chat_pk, hex(NEW.id));
END;
CREATE TRIGGER ev_messages_upd AFTER UPDATE ON messages BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('message_changed', NEW.chat_pk, hex(NEW.id));
END;
CREATE TRIGGER ev_memberships_ins AFTER INSERT ON memberships BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('membership', NEW.chat_pk, hex(NEW.member_id));
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.chat_pk, '');
END;
CREATE TRIGGER ev_memberships_upd AFTER UPDATE ON memberships BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('membership', NEW.chat_pk, hex(NEW.member_id));
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.chat_pk, '');
END;
CREATE TRIGGER ev_tags_ins AFTER INSERT ON chat_tags BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('tag_added', NEW.chat_pk, NEW.name);
END;
CREATE TRIGGER ev_tags_del AFTER DELETE ON chat_tags BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('tag_removed', OLD.chat_pk, OLD.name);
END;
CREATE TRIGGER ev_invitations_ins AFTER INSERT ON chat_invitations BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('invitation', NEW.chat_pk, hex(NEW.id));
END;
CREATE TRIGGER ev_invitations_upd AFTER UPDATE ON chat_invitations BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('invitation', NEW.chat_pk, hex(NEW.id));
END;
CREATE TRIGGER ev_suggestions_ins AFTER INSERT ON reply_suggestions BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('suggestion', NEW.chat_pk, hex(NEW.id));
END;
CREATE TRIGGER ev_suggestions_upd AFTER UPDATE ON reply_suggestions BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('suggestion', NEW.chat_pk, hex(NEW.id));
END;
-- Presence decides whether chats are pending and members present.
CREATE TRIGGER ev_users_presence AFTER UPDATE OF present_until ON users
WHEN OLD.present_until IS NOT NEW.present_until BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('presence', 0, hex(NEW.id));
END;
CREATE TRIGGER ev_visitors_presence AFTER UPDATE OF present_until ON visitors
WHEN OLD.present_until IS NOT NEW.present_until BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('presence', 0, hex(NEW.id));
END;
CREATE TRIGGER ev_presence_clients_del AFTER DELETE ON presence_clients BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key)
        VALUES ('presence', 0, hex(coalesce(OLD.user_id, OLD.visitor_id)));
END;

-- Webhooks of an organization.
CREATE TABLE webhooks (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    channels        TEXT NOT NULL,  -- JSON array of patterns
    actions         TEXT NOT NULL,  -- JSON array
    secret          TEXT NOT NULL,
    user_id         BLOB REFERENCES users(id),
    app_token       TEXT,           -- the bot user's API token carried in app_user_auth
    app_token_id    BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX webhooks_org ON webhooks(organization_id);

-- The delivery outbox and history: one row per (webhook, event), filled in the event's
-- transaction. `delivered_at` set: acknowledged.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      BLOB NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_seq       INTEGER NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, id) WHERE delivered_at IS NULL;
CREATE INDEX webhook_deliveries_history ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries(delivered_at) WHERE delivered_at IS NOT NULL;

-- Idempotency keys of creating calls, per actor, kept 24 hours.
CREATE TABLE idempotency_keys (
    actor        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    status       INTEGER,
    body         TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
