-- Encryption of chats and purge of sensitive data (docs/ENCRYPTION.md).
-- Touches only tables of 0001, so it applies with or without 0002.
--
-- Ciphertext lives in the columns that hold the plain values of unencrypted chats
-- (messages.message, messages.response_text, the texts inside messages.attachments and the
-- visitor URL columns of chats), as base64 envelopes; chats.encrypted_symmetric_key (0001)
-- holds the wrapped chat key. No key is ever stored in plaintext.

-- One row per organization that has given the engine a key-encryption key. `key_check` is an
-- AES-256-GCM envelope (hex) of 32 zero bytes sealed with that key: it lets the engine verify
-- a key the host provides again after a restart, without storing the key. `purged_at` is set
-- when the organization purged the key from the engine.
CREATE TABLE organization_keys (
    organization_id BLOB PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    key_check       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    purged_at       INTEGER
) STRICT;

-- Rotation rewraps the keys of an organization's encrypted chats.
CREATE INDEX chats_encrypted_org ON chats(room_organization_id) WHERE is_encrypted = 1;
