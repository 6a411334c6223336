-- Directory: organizations, people, rooms, routing, presence, credentials.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); ids are 16-byte BLOBs.

CREATE TABLE organizations (
    id                      BLOB PRIMARY KEY,
    name                    TEXT NOT NULL,
    has_active_subscription INTEGER NOT NULL DEFAULT 1,
    private_chat_history    INTEGER NOT NULL DEFAULT 0,
    private_chats           INTEGER NOT NULL DEFAULT 0,
    encrypt_chats           INTEGER NOT NULL DEFAULT 0,
    chat_idle_timeout_s     INTEGER NOT NULL DEFAULT 1800,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;

-- Partnership is symmetric; both directions are stored.
CREATE TABLE organization_partners (
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    partner_id      BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, partner_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id),
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    alias           TEXT,
    avatar_id       BLOB,
    avatar_url      TEXT,
    is_bot          INTEGER NOT NULL DEFAULT 0,
    is_deleted      INTEGER NOT NULL DEFAULT 0,
    perm_reports    INTEGER NOT NULL DEFAULT 0,
    perm_settings   INTEGER NOT NULL DEFAULT 0,
    -- Latest expiry among the user's presence clients (0: absent). Kept by the store.
    present_until   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX users_organization ON users(organization_id, created_at);

CREATE TABLE api_tokens (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens(user_id);

CREATE TABLE teams (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE team_members (
    team_id BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members(user_id);

CREATE TABLE team_shares (
    team_id         BLOB NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, organization_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE routers (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE router_steps (
    router_id   BLOB NOT NULL REFERENCES routers(id) ON DELETE CASCADE,
    step_index  INTEGER NOT NULL,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('user', 'team')),
    member_id   BLOB NOT NULL,
    PRIMARY KEY (router_id, step_index, member_kind, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX router_steps_member ON router_steps(member_id);

CREATE TABLE rooms (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    language_code   TEXT,
    ttl_s           INTEGER,
    router_id       BLOB REFERENCES routers(id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX rooms_organization ON rooms(organization_id);

CREATE TABLE room_allowed_tags (
    room_id    BLOB NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE room_shares (
    room_id         BLOB NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    organization_id BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, organization_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX room_shares_organization ON room_shares(organization_id);

CREATE TABLE visitors (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations(id),
    name            TEXT,
    secret_hash     BLOB UNIQUE,
    present_until   INTEGER NOT NULL DEFAULT 0,
    sensitive_data_purged_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE visitor_rooms (
    visitor_id BLOB NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    room_id    BLOB NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (visitor_id, room_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE visitor_variables (
    visitor_id BLOB NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    room_id    BLOB NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (visitor_id, room_id, key)
) STRICT, WITHOUT ROWID;

-- Visitor access tokens from the public auth call.
CREATE TABLE visitor_tokens (
    token_hash BLOB PRIMARY KEY,
    visitor_id BLOB NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- A presence client of a user or a visitor. expires_at = i64::MAX for a lasting presence.
CREATE TABLE presence_clients (
    id         BLOB PRIMARY KEY,
    user_id    BLOB REFERENCES users(id) ON DELETE CASCADE,
    visitor_id BLOB REFERENCES visitors(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (visitor_id IS NULL))
) STRICT;
CREATE INDEX presence_clients_user ON presence_clients(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX presence_clients_visitor ON presence_clients(visitor_id) WHERE visitor_id IS NOT NULL;
CREATE INDEX presence_clients_expiry ON presence_clients(expires_at);

-- Chats. `pk` clusters a chat's memberships and messages; `id` is the public UUID.
CREATE TABLE chats (
    pk                    INTEGER PRIMARY KEY,
    id                    BLOB NOT NULL UNIQUE,
    room_id               BLOB REFERENCES rooms(id),
    room_organization_id  BLOB NOT NULL REFERENCES organizations(id),
    chat_type             TEXT NOT NULL CHECK (chat_type IN ('operator','visitor','group','task','external')),
    visitor_id            BLOB REFERENCES visitors(id),
    is_private            INTEGER NOT NULL DEFAULT 0,
    is_encrypted          INTEGER NOT NULL DEFAULT 0,
    encrypted_symmetric_key TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    is_ended              INTEGER NOT NULL DEFAULT 0,
    ended_at              INTEGER,
    is_waiting            INTEGER NOT NULL DEFAULT 0,
    waiting_started_at    INTEGER,
    message_count         INTEGER NOT NULL DEFAULT 0,
    user_message_count    INTEGER NOT NULL DEFAULT 0,
    visitor_message_count INTEGER NOT NULL DEFAULT 0,
    tag_count             INTEGER NOT NULL DEFAULT 0,
    is_autosuggested      INTEGER NOT NULL DEFAULT 0,
    first_visitor_message_url       TEXT,
    first_visitor_message_url_title TEXT,
    autosuggest_url       TEXT,
    autosuggest_url_title TEXT,
    first_visitor_msg_at  INTEGER,
    first_reply_at        INTEGER,
    first_msg_at          INTEGER,
    last_msg_at           INTEGER,
    active_ms             INTEGER NOT NULL DEFAULT 0,
    last_activity_at      INTEGER NOT NULL,
    next_message_seq      INTEGER NOT NULL DEFAULT 1,
    token                 TEXT NOT NULL
) STRICT;
CREATE INDEX chats_room ON chats(room_id, created_at);
CREATE INDEX chats_org ON chats(room_organization_id, created_at);
CREATE INDEX chats_visitor ON chats(visitor_id, created_at) WHERE visitor_id IS NOT NULL;
-- The waiting set is small; pending listings and the idle sweep read only it.
CREATE INDEX chats_waiting ON chats(room_id, created_at) WHERE is_waiting = 1 AND is_ended = 0;
CREATE INDEX chats_open_activity ON chats(last_activity_at) WHERE is_ended = 0;

CREATE TABLE memberships (
    chat_pk              INTEGER NOT NULL REFERENCES chats(pk),
    member_id            BLOB NOT NULL,
    member_type          TEXT NOT NULL CHECK (member_type IN ('user','visitor')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    last_seen_at         INTEGER,
    is_participating     INTEGER NOT NULL,
    composing_status     TEXT NOT NULL CHECK (composing_status IN ('idle','typing','typed')),
    composing_updated_at INTEGER NOT NULL,
    message_count        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_pk, member_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_member ON memberships(member_id, chat_pk);
CREATE INDEX memberships_typing ON memberships(composing_updated_at) WHERE composing_status = 'typing';

-- Messages, stored together per chat in send order.
CREATE TABLE messages (
    chat_pk     INTEGER NOT NULL REFERENCES chats(pk),
    seq         INTEGER NOT NULL,
    id          BLOB NOT NULL,
    type        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    sender_type TEXT NOT NULL CHECK (sender_type IN ('user','visitor','rule')),
    sender_id   BLOB,
    message     TEXT,
    sensitive_data_purged_at INTEGER,
    selected_reply_suggestion_id BLOB,
    attachment_template TEXT,
    -- JSON array of attachments with their actions (and each action's disabled state).
    attachments TEXT,
    -- 1 while some action here still disables on the next visitor message.
    disables_on_visitor_message INTEGER NOT NULL DEFAULT 0,
    response_to_message_id    BLOB,
    response_to_attachment_id BLOB,
    response_to_action_id     BLOB,
    response_value TEXT,
    response_text  TEXT,
    PRIMARY KEY (chat_pk, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX messages_id ON messages(id);
CREATE INDEX messages_disable_pending ON messages(chat_pk) WHERE disables_on_visitor_message = 1;
