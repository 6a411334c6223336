-- The idle sweep's index keyed by the minute of a chat's last activity instead of its exact
-- time, and kept out of a chat's ordinary updates.
--
-- `chats_open_activity` was on `last_activity_at` (WHERE is_ended = 0), and every update of a
-- chat row SETs both columns: SQLite rewrites an index entry whenever a column of its key or of
-- its partial WHERE is assigned, whatever the value, so each message moved its chat's entry
-- from a leaf somewhere in the index to the last one: a page of the database written per send
-- for a sweep that runs once a second. Now the row's ordinary UPDATE leaves `is_ended`,
-- `is_waiting` and `activity_minute` alone, and a second statement sets them only when one of
-- them differs (`update_chat`): a chat's entry moves at most once a minute, or when it ends.
-- The sweep reads the candidates by minute and keeps its exact test on `last_activity_at`.
ALTER TABLE chats ADD COLUMN activity_minute INTEGER NOT NULL DEFAULT 0;
UPDATE chats SET activity_minute = last_activity_at / 60000;
DROP INDEX chats_open_activity;
CREATE INDEX chats_open_activity ON chats(activity_minute) WHERE is_ended = 0;
