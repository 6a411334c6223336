-- Bounded webhook retries, and app tokens minted per delivery attempt.
--
-- A delivery the receiver never acknowledges used to be retried without end, and since a
-- webhook's deliveries go in order, every later event to that webhook waited behind it. Now
-- a delivery that has been failing for 24 hours and 20 attempts (whichever comes later) is
-- marked failed and the next one goes on:
--   * `first_failed_at`: when its first attempt failed (where the 24 hours count from);
--   * `failed_at`: when retries ended; a failed delivery is no longer due, and is listed as
--     failed until `POST .../retry` makes it due again.
ALTER TABLE webhook_deliveries ADD COLUMN first_failed_at INTEGER;
ALTER TABLE webhook_deliveries ADD COLUMN failed_at INTEGER;

-- The deliveries still being retried, per webhook in order (the next one of each webhook is
-- the first of its rows here).
DROP INDEX webhook_deliveries_pending;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- Retention deletes failed deliveries as old as acknowledged ones.
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries(failed_at) WHERE failed_at IS NOT NULL;

-- A webhook owned by a bot user carried that user's API token in `app_user_auth`, kept in
-- plaintext in `webhooks.app_token` and never expiring. Its tokens are now minted for each
-- delivery attempt, act as the bot for an hour at most and are stored only as a hash here.
CREATE TABLE webhook_tokens (
    token_hash BLOB PRIMARY KEY,    -- SHA-256 of the token
    webhook_id BLOB NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_tokens_webhook ON webhook_tokens(webhook_id);
CREATE INDEX webhook_tokens_user ON webhook_tokens(user_id);
CREATE INDEX webhook_tokens_expiry ON webhook_tokens(expires_at);

-- The long-lived tokens that were minted for webhooks are revoked (they were sent to
-- receivers and stored in the clear), the plaintext is overwritten, then both columns go.
-- Existing webhooks keep working: their next attempts carry freshly minted tokens.
DELETE FROM api_tokens WHERE id IN (SELECT app_token_id FROM webhooks WHERE app_token_id IS NOT NULL);
UPDATE webhooks SET app_token = NULL WHERE app_token IS NOT NULL;
ALTER TABLE webhooks DROP COLUMN app_token;
ALTER TABLE webhooks DROP COLUMN app_token_id;
