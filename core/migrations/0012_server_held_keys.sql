-- Organization keys the engine holds itself (docs/ENCRYPTION.md, "Server-held keys").
--
-- An engine opened with a master key keeps each organization key it holds here, sealed under
-- that master key (AES-256-GCM, hex `version | nonce | encrypted key | tag`, associated data
-- binding it to the organization), so that it can load the keys again when it opens. No key is
-- stored in the clear. A purge deletes the row (secure_delete is on, and the write-ahead log is
-- truncated after it), and the organization's key check (organization_keys) records when.
CREATE TABLE held_organization_keys (
    organization_id BLOB PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    wrapped_key     TEXT NOT NULL,
    created_at      INTEGER NOT NULL    -- when the key was generated or brought
) STRICT;

-- When a presence client was last renewed (`GET /users/<user_id>/clients` lists it); existing
-- clients take their creation time.
ALTER TABLE presence_clients ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE presence_clients SET updated_at = created_at;
