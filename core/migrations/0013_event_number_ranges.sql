-- A change row takes one number per collection of one reader.
--
-- Until now a row named each reader once, so a change on two collections of one reader (a chat
-- on an organization's `owned_chats` and on its `rooms/<r>/chats`) took two rows. Now a row may
-- name a reader on several of their collections; its events are numbered `seq + k`, `k` being
-- the count of that reader's channels before it in `channels` (a room collection's reader comes
-- after their named channels), and the row takes the numbers `seq ..= seq + width - 1`, `width`
-- being the most any one reader has. One reader's events still never share a number, and the
-- next row starts after the last number. Rows written before take one number (width 1).
ALTER TABLE event_changes ADD COLUMN width INTEGER NOT NULL DEFAULT 1 CHECK (width BETWEEN 1 AND 32);
