-- Change tracking of the writer connection (run on every open, not a migration): TEMP triggers
-- record which rows the running transaction touched in a TEMP table, which `events::publish`
-- turns into events (and empties) before the transaction commits. TEMP objects live in the
-- connection's in-memory temp database: they cost no page of the database file or its WAL.
-- Storage-level change tracking only: no chat rule lives in these triggers.
CREATE TEMP TABLE event_dirty (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    chat_pk INTEGER NOT NULL,
    key     TEXT NOT NULL
) STRICT;

CREATE TEMP TRIGGER ev_chats_ins AFTER INSERT ON main.chats BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.pk, '');
END;
-- Every column but the event bookkeeping (`event_state`, `last_event_seq`: see 0006) and the
-- idle sweep's index key `activity_minute` (derived from `last_activity_at`: see 0009).
CREATE TEMP TRIGGER ev_chats_upd AFTER UPDATE OF
    updated_at, is_ended, ended_at, is_waiting, waiting_started_at, message_count,
    user_message_count, visitor_message_count, tag_count, is_autosuggested,
    first_visitor_message_url, first_visitor_message_url_title, autosuggest_url,
    autosuggest_url_title, first_visitor_msg_at, first_reply_at, first_msg_at, last_msg_at,
    active_ms, last_activity_at, next_message_seq, token, room_id, room_organization_id,
    chat_type, visitor_id, is_private, is_encrypted, encrypted_symmetric_key, created_at
    ON main.chats BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.pk, '');
END;
CREATE TEMP TRIGGER ev_messages_ins AFTER INSERT ON main.messages BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('message', NEW.chat_pk, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_messages_upd AFTER UPDATE ON main.messages BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('message_changed', NEW.chat_pk, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_memberships_ins AFTER INSERT ON main.memberships BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('membership', NEW.chat_pk, hex(NEW.member_id));
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.chat_pk, '');
END;
CREATE TEMP TRIGGER ev_memberships_upd AFTER UPDATE OF
    member_type, created_at, updated_at, last_seen_at, is_participating, composing_status,
    composing_updated_at, message_count
    ON main.memberships BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('membership', NEW.chat_pk, hex(NEW.member_id));
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('chat', NEW.chat_pk, '');
END;
CREATE TEMP TRIGGER ev_tags_ins AFTER INSERT ON main.chat_tags BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('tag_added', NEW.chat_pk, NEW.name);
END;
CREATE TEMP TRIGGER ev_tags_del AFTER DELETE ON main.chat_tags BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('tag_removed', OLD.chat_pk, OLD.name);
END;
CREATE TEMP TRIGGER ev_invitations_ins AFTER INSERT ON main.chat_invitations BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('invitation', NEW.chat_pk, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_invitations_upd AFTER UPDATE ON main.chat_invitations BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('invitation', NEW.chat_pk, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_suggestions_ins AFTER INSERT ON main.reply_suggestions BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('suggestion', NEW.chat_pk, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_suggestions_upd AFTER UPDATE ON main.reply_suggestions BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('suggestion', NEW.chat_pk, hex(NEW.id));
END;
-- Presence decides whether chats are pending and members present.
CREATE TEMP TRIGGER ev_users_presence AFTER UPDATE OF present_until ON main.users
WHEN OLD.present_until IS NOT NEW.present_until BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('presence', 0, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_visitors_presence AFTER UPDATE OF present_until ON main.visitors
WHEN OLD.present_until IS NOT NEW.present_until BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('presence', 0, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_presence_clients_del AFTER DELETE ON main.presence_clients BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key)
        VALUES ('presence', 0, hex(coalesce(OLD.user_id, OLD.visitor_id)));
END;

-- A member's name, avatar, bot flag, deletion or organization shows in their memberships:
-- those of their open chats are republished (ended chats never change).
CREATE TEMP TRIGGER ev_users_member AFTER UPDATE OF
    first_name, last_name, alias, avatar_id, avatar_url, is_bot, is_deleted, organization_id
    ON main.users
WHEN OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name
    OR OLD.alias IS NOT NEW.alias OR OLD.avatar_id IS NOT NEW.avatar_id
    OR OLD.avatar_url IS NOT NEW.avatar_url OR OLD.is_bot IS NOT NEW.is_bot
    OR OLD.is_deleted IS NOT NEW.is_deleted OR OLD.organization_id IS NOT NEW.organization_id BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('member', 0, hex(NEW.id));
END;
CREATE TEMP TRIGGER ev_visitors_member AFTER UPDATE OF name ON main.visitors
WHEN OLD.name IS NOT NEW.name BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('member', 0, hex(NEW.id));
END;

-- Credentials an authentication the engine remembers may rest on (see `Engine::authenticate`):
-- a token revoked, expired early or deleted with its user or visitor, a user deleted. New
-- tokens need no signal (nothing remembered refers to them).
CREATE TEMP TRIGGER cred_api_tokens_del AFTER DELETE ON main.api_tokens BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('credentials', 0, '');
END;
CREATE TEMP TRIGGER cred_api_tokens_upd AFTER UPDATE ON main.api_tokens BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('credentials', 0, '');
END;
CREATE TEMP TRIGGER cred_visitor_tokens_del AFTER DELETE ON main.visitor_tokens BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('credentials', 0, '');
END;
CREATE TEMP TRIGGER cred_visitor_tokens_upd AFTER UPDATE ON main.visitor_tokens BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('credentials', 0, '');
END;
CREATE TEMP TRIGGER cred_users_deleted AFTER UPDATE OF is_deleted ON main.users
WHEN OLD.is_deleted IS NOT NEW.is_deleted BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('credentials', 0, '');
END;
CREATE TEMP TRIGGER cred_users_del AFTER DELETE ON main.users BEGIN
    INSERT INTO event_dirty (kind, chat_pk, key) VALUES ('credentials', 0, '');
END;
