-- Chat invitations, chat tags, conversation starters and reply suggestions.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); ids are 16-byte BLOBs.

-- An invitation of exactly one party (a user, a team or an organization) to a chat.
-- Pending: neither accepted nor expired.
CREATE TABLE chat_invitations (
    id                      BLOB PRIMARY KEY,
    chat_pk                 INTEGER NOT NULL REFERENCES chats(pk),
    invited_by_user_id      BLOB NOT NULL REFERENCES users(id),
    invited_user_id         BLOB REFERENCES users(id),
    invited_team_id         BLOB REFERENCES teams(id),
    invited_organization_id BLOB REFERENCES organizations(id),
    accepted_by_user_id     BLOB REFERENCES users(id),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    accepted_at             INTEGER,
    expired_at              INTEGER,
    CHECK ((invited_user_id IS NOT NULL) + (invited_team_id IS NOT NULL)
           + (invited_organization_id IS NOT NULL) = 1),
    CHECK (accepted_at IS NULL OR expired_at IS NULL),
    CHECK ((accepted_at IS NULL) = (accepted_by_user_id IS NULL))
) STRICT;
-- Outgoing listing: one inviter's invitations in one chat, oldest first.
CREATE INDEX chat_invitations_outgoing ON chat_invitations(chat_pk, invited_by_user_id, created_at, id);
-- Incoming listing: invitations of a user, of their teams and of their organization.
CREATE INDEX chat_invitations_user ON chat_invitations(invited_user_id, created_at, id)
    WHERE invited_user_id IS NOT NULL;
CREATE INDEX chat_invitations_team ON chat_invitations(invited_team_id, created_at, id)
    WHERE invited_team_id IS NOT NULL;
CREATE INDEX chat_invitations_organization ON chat_invitations(invited_organization_id, created_at, id)
    WHERE invited_organization_id IS NOT NULL;
-- At most one pending invitation per party and chat (a repeat returns the pending one).
CREATE UNIQUE INDEX chat_invitations_pending_user ON chat_invitations(chat_pk, invited_user_id)
    WHERE invited_user_id IS NOT NULL AND accepted_at IS NULL AND expired_at IS NULL;
CREATE UNIQUE INDEX chat_invitations_pending_team ON chat_invitations(chat_pk, invited_team_id)
    WHERE invited_team_id IS NOT NULL AND accepted_at IS NULL AND expired_at IS NULL;
CREATE UNIQUE INDEX chat_invitations_pending_organization ON chat_invitations(chat_pk, invited_organization_id)
    WHERE invited_organization_id IS NOT NULL AND accepted_at IS NULL AND expired_at IS NULL;
-- Ending a chat expires its pending invitations.
CREATE INDEX chat_invitations_pending ON chat_invitations(chat_pk)
    WHERE accepted_at IS NULL AND expired_at IS NULL;

-- Tags of a chat; chats.tag_count is kept equal to the number of rows here.
CREATE TABLE chat_tags (
    chat_pk    INTEGER NOT NULL REFERENCES chats(pk),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chat_pk, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX chat_tags_listing ON chat_tags(chat_pk, created_at, name);

-- The allowed tags of a room are listed by creation.
CREATE INDEX room_allowed_tags_listing ON room_allowed_tags(room_id, created_at, name);

-- One conversation starter per user and language.
CREATE TABLE conversation_starters (
    user_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    language_code TEXT NOT NULL,
    message       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, language_code)
) STRICT, WITHOUT ROWID;
CREATE INDEX conversation_starters_listing ON conversation_starters(user_id, created_at, language_code);

-- Reply suggestions tied to a chat message.
CREATE TABLE reply_suggestions (
    id                 BLOB PRIMARY KEY,
    chat_pk            INTEGER NOT NULL REFERENCES chats(pk),
    message_id         BLOB NOT NULL REFERENCES messages(id),
    organization_id    BLOB NOT NULL REFERENCES organizations(id),
    suggestion         TEXT NOT NULL,
    relevancy_score    REAL CHECK (relevancy_score IS NULL OR (relevancy_score >= 0 AND relevancy_score <= 1)),
    created_by_user_id BLOB NOT NULL REFERENCES users(id),
    updated_by_user_id BLOB NOT NULL REFERENCES users(id),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX reply_suggestions_chat ON reply_suggestions(chat_pk, created_at, id);
CREATE INDEX reply_suggestions_message ON reply_suggestions(message_id, created_at, id);
