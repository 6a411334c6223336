-- Events stored one row per change instead of one row per channel: with a row per channel, a
-- message in a waiting chat of a room with 200 operators wrote 200 copies of the chat resource.
--
-- A row holds the change once with the channels it is published on (`channels`, a JSON array
-- of paths below `/api/v5/`). Each channel is still its own event with its own `seq`: the
-- row's channels take the consecutive numbers ending at `seq` (channel k of n has
-- `seq - n + 1 + k`), so `seq` (the rowid) is the newest number the change used. The next
-- change continues after max(seq, floor), so no number is used twice, even after retention
-- deleted the newest rows (no AUTOINCREMENT and its `sqlite_sequence` row written per commit).
-- Retention walks the oldest rows in `seq` order (numbers follow time), so `created_at` needs
-- no index.
CREATE TABLE event_changes (
    seq             INTEGER PRIMARY KEY,
    n               INTEGER NOT NULL CHECK (n >= 1),
    organization_id BLOB NOT NULL,
    chat_pk         INTEGER,        -- the chat the resource belongs to (purges scrub by it)
    channels        TEXT NOT NULL,  -- JSON array of the n channel paths without '/api/v5/'
    action          TEXT NOT NULL CHECK (action IN ('added','changed','removed')),
    resource_id     TEXT NOT NULL,
    resource        TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX event_changes_org ON event_changes(organization_id, seq);
CREATE INDEX event_changes_chat ON event_changes(chat_pk) WHERE chat_pk IS NOT NULL;

INSERT INTO event_changes (seq, n, organization_id, chat_pk, channels, action, resource_id, resource, created_at)
    SELECT seq, 1, organization_id, chat_pk, json_array(substr(channel, 9)), action, resource_id, resource, created_at
    FROM events;
-- Retention kept `floor` (in event_meta) as the newest number it deleted, so max(seq, floor)
-- is already the newest number ever used.
DROP TABLE events;

-- Change tracking leaves the database: the writer connection records changed rows itself, so
-- nothing of it reaches the database file or the WAL, and these triggers and their table go.
DROP TRIGGER ev_chats_ins;
DROP TRIGGER ev_chats_upd;
DROP TRIGGER ev_messages_ins;
DROP TRIGGER ev_messages_upd;
DROP TRIGGER ev_memberships_ins;
DROP TRIGGER ev_memberships_upd;
DROP TRIGGER ev_tags_ins;
DROP TRIGGER ev_tags_del;
DROP TRIGGER ev_invitations_ins;
DROP TRIGGER ev_invitations_upd;
DROP TRIGGER ev_suggestions_ins;
DROP TRIGGER ev_suggestions_upd;
DROP TRIGGER ev_users_presence;
DROP TRIGGER ev_visitors_presence;
DROP TRIGGER ev_presence_clients_del;
DROP TABLE event_dirty;

-- Snapshots keyed by chat first: a chat's snapshot and its memberships' (all rewritten by a
-- message) share a page instead of lying in two distant key ranges. `state` is now a compact
-- binary fingerprint (`core/src/events/snapshot.rs`); the JSON ones copied here are read as
-- JSON until the resource next changes.
CREATE TABLE event_snapshots_by_chat (
    chat_pk INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    state   BLOB NOT NULL,
    PRIMARY KEY (chat_pk, kind, key)
) STRICT, WITHOUT ROWID;
INSERT INTO event_snapshots_by_chat (chat_pk, kind, key, state)
    SELECT CAST(key AS INTEGER), kind, key, CAST(state AS BLOB) FROM event_snapshots WHERE kind = 'chat';
INSERT INTO event_snapshots_by_chat (chat_pk, kind, key, state)
    SELECT CAST(substr(key, 1, instr(key, ':') - 1) AS INTEGER), kind, key, CAST(state AS BLOB)
    FROM event_snapshots WHERE kind = 'membership';
INSERT INTO event_snapshots_by_chat (chat_pk, kind, key, state)
    SELECT i.chat_pk, s.kind, s.key, CAST(s.state AS BLOB) FROM event_snapshots s
    JOIN chat_invitations i ON i.id = unhex(replace(s.key, '-', ''))
    WHERE s.kind = 'invitation';
INSERT INTO event_snapshots_by_chat (chat_pk, kind, key, state)
    SELECT r.chat_pk, s.kind, s.key, CAST(s.state AS BLOB) FROM event_snapshots s
    JOIN reply_suggestions r ON r.id = unhex(replace(s.key, '-', ''))
    WHERE s.kind = 'suggestion';
DROP TABLE event_snapshots;
ALTER TABLE event_snapshots_by_chat RENAME TO event_snapshots;
