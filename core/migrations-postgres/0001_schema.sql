-- The PostgreSQL schema: the SQLite schema of migrations 0001-0013 in PostgreSQL types.
-- Ids are UUID; hashes and event states BYTEA; every integer, time (ms) and 0/1 flag BIGINT,
-- so that the SQL predicates of the rules (`c.is_ended = 0`, `?1` bound to i64) read the same;
-- text compares bytewise (COLLATE "C"), as SQLite's BINARY collation does.

CREATE TABLE organizations (
    id                      UUID PRIMARY KEY,
    name                    TEXT COLLATE "C" NOT NULL,
    has_active_subscription BIGINT NOT NULL DEFAULT 1,
    private_chat_history    BIGINT NOT NULL DEFAULT 0,
    private_chats           BIGINT NOT NULL DEFAULT 0,
    encrypt_chats           BIGINT NOT NULL DEFAULT 0,
    chat_idle_timeout_s     BIGINT NOT NULL DEFAULT 1800,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE organization_partners (
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    partner_id      UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, partner_id)
);

CREATE TABLE users (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id),
    first_name      TEXT COLLATE "C" NOT NULL DEFAULT '',
    last_name       TEXT COLLATE "C" NOT NULL DEFAULT '',
    alias           TEXT COLLATE "C",
    avatar_id       UUID,
    avatar_url      TEXT COLLATE "C",
    is_bot          BIGINT NOT NULL DEFAULT 0,
    is_deleted      BIGINT NOT NULL DEFAULT 0,
    perm_reports    BIGINT NOT NULL DEFAULT 0,
    perm_settings   BIGINT NOT NULL DEFAULT 0,
    -- Latest expiry among the user's presence clients (0: absent). Kept by the store.
    present_until   BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE teams (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id),
    name            TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE team_members (
    team_id UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE team_shares (
    team_id         UUID NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, organization_id)
);

CREATE TABLE routers (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id),
    name            TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);

CREATE TABLE router_steps (
    router_id   UUID NOT NULL REFERENCES routers(id) ON DELETE CASCADE,
    step_index  BIGINT NOT NULL,
    member_kind TEXT COLLATE "C" NOT NULL CHECK (member_kind IN ('user', 'team')),
    member_id   UUID NOT NULL,
    PRIMARY KEY (router_id, step_index, member_kind, member_id)
);

CREATE TABLE rooms (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id),
    name            TEXT COLLATE "C" NOT NULL,
    language_code   TEXT COLLATE "C",
    ttl_s           BIGINT,
    router_id       UUID REFERENCES routers(id) ON DELETE SET NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE room_shares (
    room_id         UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    PRIMARY KEY (room_id, organization_id)
);

CREATE TABLE room_allowed_tags (
    room_id    UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, name)
);

CREATE TABLE visitors (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id),
    name            TEXT COLLATE "C",
    secret_hash     BYTEA UNIQUE,
    present_until   BIGINT NOT NULL DEFAULT 0,
    sensitive_data_purged_at BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE visitor_tokens (
    token_hash BYTEA PRIMARY KEY,
    visitor_id UUID NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);

CREATE TABLE visitor_rooms (
    visitor_id UUID NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    room_id    UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (visitor_id, room_id)
);

CREATE TABLE visitor_variables (
    visitor_id UUID NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    room_id    UUID NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (visitor_id, room_id, key)
);

CREATE TABLE presence_clients (
    id         UUID PRIMARY KEY,
    user_id    UUID REFERENCES users(id) ON DELETE CASCADE,
    visitor_id UUID REFERENCES visitors(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL DEFAULT 0,
    CHECK ((user_id IS NULL) <> (visitor_id IS NULL))
);

CREATE TABLE chats (
    pk                    BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id                    UUID NOT NULL UNIQUE,
    room_id               UUID REFERENCES rooms(id),
    room_organization_id  UUID NOT NULL REFERENCES organizations(id),
    chat_type             TEXT COLLATE "C" NOT NULL CHECK (chat_type = 'operator' OR chat_type = 'visitor' OR chat_type = 'group' OR chat_type = 'task' OR chat_type = 'external'),
    visitor_id            UUID REFERENCES visitors(id),
    is_private            BIGINT NOT NULL DEFAULT 0,
    is_encrypted          BIGINT NOT NULL DEFAULT 0,
    encrypted_symmetric_key TEXT COLLATE "C",
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    is_ended              BIGINT NOT NULL DEFAULT 0,
    ended_at              BIGINT,
    is_waiting            BIGINT NOT NULL DEFAULT 0,
    waiting_started_at    BIGINT,
    message_count         BIGINT NOT NULL DEFAULT 0,
    user_message_count    BIGINT NOT NULL DEFAULT 0,
    visitor_message_count BIGINT NOT NULL DEFAULT 0,
    tag_count             BIGINT NOT NULL DEFAULT 0,
    is_autosuggested      BIGINT NOT NULL DEFAULT 0,
    first_visitor_message_url       TEXT COLLATE "C",
    first_visitor_message_url_title TEXT COLLATE "C",
    autosuggest_url       TEXT COLLATE "C",
    autosuggest_url_title TEXT COLLATE "C",
    first_visitor_msg_at  BIGINT,
    first_reply_at        BIGINT,
    first_msg_at          BIGINT,
    last_msg_at           BIGINT,
    active_ms             BIGINT NOT NULL DEFAULT 0,
    last_activity_at      BIGINT NOT NULL,
    next_message_seq      BIGINT NOT NULL DEFAULT 1,
    token                 TEXT COLLATE "C" NOT NULL
, event_state BYTEA, last_event_seq BIGINT, activity_minute BIGINT NOT NULL DEFAULT 0);

CREATE TABLE memberships (
    chat_pk              BIGINT NOT NULL REFERENCES chats(pk),
    member_id            UUID NOT NULL,
    member_type          TEXT COLLATE "C" NOT NULL CHECK (member_type IN ('user','visitor')),
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    last_seen_at         BIGINT,
    is_participating     BIGINT NOT NULL,
    composing_status     TEXT COLLATE "C" NOT NULL CHECK (composing_status = 'idle' OR composing_status = 'typing' OR composing_status = 'typed'),
    composing_updated_at BIGINT NOT NULL,
    message_count        BIGINT NOT NULL DEFAULT 0, event_state BYTEA,
    PRIMARY KEY (chat_pk, member_id)
);

CREATE TABLE messages (
    chat_pk     BIGINT NOT NULL REFERENCES chats(pk),
    seq         BIGINT NOT NULL,
    id          UUID NOT NULL UNIQUE,
    type        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    sender_type TEXT COLLATE "C" NOT NULL CHECK (sender_type = 'user' OR sender_type = 'visitor' OR sender_type = 'rule'),
    sender_id   UUID,
    message     TEXT COLLATE "C",
    sensitive_data_purged_at BIGINT,
    selected_reply_suggestion_id UUID,
    attachment_template TEXT COLLATE "C",
    -- JSON array of attachments with their actions (and each action's disabled state).
    attachments TEXT COLLATE "C",
    -- 1 while some action here still disables on the next visitor message.
    disables_on_visitor_message BIGINT NOT NULL DEFAULT 0,
    response_to_message_id    UUID,
    response_to_attachment_id UUID,
    response_to_action_id     UUID,
    response_value TEXT COLLATE "C",
    response_text  TEXT COLLATE "C",
    PRIMARY KEY (chat_pk, seq)
);

CREATE TABLE chat_tags (
    chat_pk    BIGINT NOT NULL REFERENCES chats(pk),
    name       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (chat_pk, name)
);

CREATE TABLE chat_invitations (
    id                      UUID PRIMARY KEY,
    chat_pk                 BIGINT NOT NULL REFERENCES chats(pk),
    invited_by_user_id      UUID NOT NULL REFERENCES users(id),
    invited_user_id         UUID REFERENCES users(id),
    invited_team_id         UUID REFERENCES teams(id),
    invited_organization_id UUID REFERENCES organizations(id),
    accepted_by_user_id     UUID REFERENCES users(id),
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    accepted_at             BIGINT,
    expired_at              BIGINT,
    CHECK (num_nonnulls(invited_user_id, invited_team_id, invited_organization_id) = 1),
    CHECK (accepted_at IS NULL OR expired_at IS NULL),
    CHECK ((accepted_at IS NULL) = (accepted_by_user_id IS NULL))
);

CREATE TABLE reply_suggestions (
    id                 UUID PRIMARY KEY,
    chat_pk            BIGINT NOT NULL REFERENCES chats(pk),
    message_id         UUID NOT NULL REFERENCES messages(id),
    organization_id    UUID NOT NULL REFERENCES organizations(id),
    suggestion         TEXT COLLATE "C" NOT NULL,
    relevancy_score    DOUBLE PRECISION CHECK (relevancy_score IS NULL OR (relevancy_score >= 0 AND relevancy_score <= 1)),
    created_by_user_id UUID NOT NULL REFERENCES users(id),
    updated_by_user_id UUID NOT NULL REFERENCES users(id),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE conversation_starters (
    user_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    language_code TEXT COLLATE "C" NOT NULL,
    message       TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, language_code)
);

CREATE TABLE organization_keys (
    organization_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    key_check       TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    purged_at       BIGINT
);

CREATE TABLE held_organization_keys (
    organization_id UUID PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    wrapped_key     TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL    -- when the key was generated or brought
);

CREATE TABLE event_changes (
    seq             BIGINT PRIMARY KEY,
    organization_id UUID NOT NULL,
    chat_pk         BIGINT,        -- the chat the resource belongs to (purges scrub by it)
    prev_seq        BIGINT,        -- the chat's previous row (its chain)
    channels        TEXT COLLATE "C" NOT NULL,  -- JSON array of channel paths without '/api/v5/'
    room_id         UUID,
    room_channel    TEXT COLLATE "C",
    action          TEXT COLLATE "C" NOT NULL CHECK (action = 'added' OR action = 'changed' OR action = 'removed'),
    resource_id     TEXT COLLATE "C" NOT NULL,
    resource        TEXT COLLATE "C",
    created_at      BIGINT NOT NULL, width BIGINT NOT NULL DEFAULT 1 CHECK (width BETWEEN 1 AND 32),
    CHECK ((room_id IS NULL) = (room_channel IS NULL))
);

CREATE TABLE event_meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE event_snapshots (
    chat_pk BIGINT NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    state   BYTEA NOT NULL,
    PRIMARY KEY (chat_pk, kind, key)
);

CREATE TABLE webhooks (
    id              UUID PRIMARY KEY,
    organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url             TEXT COLLATE "C" NOT NULL,
    channels        TEXT COLLATE "C" NOT NULL,  -- JSON array of patterns
    actions         TEXT COLLATE "C" NOT NULL,  -- JSON array
    secret          TEXT COLLATE "C" NOT NULL,
    user_id         UUID REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE webhook_tokens (
    token_hash BYTEA PRIMARY KEY,    -- SHA-256 of the token
    webhook_id UUID NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    webhook_id      UUID NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_seq       BIGINT NOT NULL,
    body            TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT COLLATE "C",
    delivered_at    BIGINT,
    created_at      BIGINT NOT NULL
, first_failed_at BIGINT, failed_at BIGINT);

CREATE TABLE idempotency_keys (
    actor        TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    request_hash BYTEA NOT NULL,
    status       BIGINT,
    body         TEXT COLLATE "C",
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);

CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE INDEX chat_invitations_organization ON chat_invitations(invited_organization_id, created_at, id)
    WHERE invited_organization_id IS NOT NULL;
CREATE INDEX chat_invitations_outgoing ON chat_invitations(chat_pk, invited_by_user_id, created_at, id);
CREATE INDEX chat_invitations_pending ON chat_invitations(chat_pk)
    WHERE accepted_at IS NULL AND expired_at IS NULL;
CREATE UNIQUE INDEX chat_invitations_pending_organization ON chat_invitations(chat_pk, invited_organization_id)
    WHERE invited_organization_id IS NOT NULL AND accepted_at IS NULL AND expired_at IS NULL;
CREATE UNIQUE INDEX chat_invitations_pending_team ON chat_invitations(chat_pk, invited_team_id)
    WHERE invited_team_id IS NOT NULL AND accepted_at IS NULL AND expired_at IS NULL;
CREATE UNIQUE INDEX chat_invitations_pending_user ON chat_invitations(chat_pk, invited_user_id)
    WHERE invited_user_id IS NOT NULL AND accepted_at IS NULL AND expired_at IS NULL;
CREATE INDEX chat_invitations_team ON chat_invitations(invited_team_id, created_at, id)
    WHERE invited_team_id IS NOT NULL;
CREATE INDEX chat_invitations_user ON chat_invitations(invited_user_id, created_at, id)
    WHERE invited_user_id IS NOT NULL;
CREATE INDEX chat_tags_listing ON chat_tags(chat_pk, created_at, name);
CREATE INDEX chats_encrypted_org ON chats(room_organization_id) WHERE is_encrypted = 1;
CREATE INDEX chats_open_activity ON chats(activity_minute) WHERE is_ended = 0;
CREATE INDEX chats_org ON chats(room_organization_id, created_at, id);
CREATE INDEX chats_room ON chats(room_id, created_at, id);
CREATE INDEX chats_visitor ON chats(visitor_id, created_at) WHERE visitor_id IS NOT NULL;
CREATE INDEX chats_waiting ON chats(room_id, created_at, id) WHERE is_waiting = 1 AND is_ended = 0;
CREATE INDEX conversation_starters_listing ON conversation_starters(user_id, created_at, language_code);
CREATE INDEX event_changes_org ON event_changes(organization_id, seq);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
CREATE INDEX memberships_member ON memberships(member_id, chat_pk);
CREATE INDEX memberships_typing ON memberships(composing_updated_at) WHERE composing_status = 'typing';
CREATE INDEX messages_disable_pending ON messages(chat_pk) WHERE disables_on_visitor_message = 1;
CREATE INDEX presence_clients_expiry ON presence_clients(expires_at);
CREATE INDEX presence_clients_user ON presence_clients(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX presence_clients_visitor ON presence_clients(visitor_id) WHERE visitor_id IS NOT NULL;
CREATE INDEX reply_suggestions_chat ON reply_suggestions(chat_pk, created_at, id);
CREATE INDEX reply_suggestions_message ON reply_suggestions(message_id, created_at, id);
CREATE INDEX room_allowed_tags_listing ON room_allowed_tags(room_id, created_at, name);
CREATE INDEX room_shares_organization ON room_shares(organization_id);
CREATE INDEX rooms_organization ON rooms(organization_id);
CREATE INDEX router_steps_member ON router_steps(member_id);
CREATE INDEX team_members_user ON team_members(user_id);
CREATE INDEX users_organization ON users(organization_id, created_at);
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries(delivered_at) WHERE delivered_at IS NOT NULL;
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries(failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX webhook_deliveries_history ON webhook_deliveries(webhook_id, id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_tokens_expiry ON webhook_tokens(expires_at);
CREATE INDEX webhook_tokens_user ON webhook_tokens(user_id);
CREATE INDEX webhook_tokens_webhook ON webhook_tokens(webhook_id);
CREATE INDEX webhooks_org ON webhooks(organization_id);
