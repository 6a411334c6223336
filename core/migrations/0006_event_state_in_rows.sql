-- The last published state of a chat and of a membership now lives in their own rows, and a
-- chat's change rows are chained through the chat row instead of indexed.
--
-- A message send rewrites the chat row and the sender's membership row anyway; their
-- snapshots (`event_snapshots`, keyed by chat) and the index entry of each change row by chat
-- (`event_changes_chat`) were one more random page each per send, i.e. one more WAL frame
-- each. Now:
--   * `chats.event_state` / `memberships.event_state`: the fingerprint of the last published
--     resource (`core/src/events/snapshot.rs`); NULL when never published (the next event is
--     `added`). Invitations and reply suggestions keep theirs in `event_snapshots`.
--   * `event_changes.prev_seq`: the previous change row of the same chat, and
--     `chats.last_event_seq` the newest one, so a purge finds a chat's events by walking that
--     chain (rows retention deleted end it). The chain costs no page beyond the chat row,
--     which the same transaction writes anyway for almost every change.
-- Change tracking watches every column but these, so recording what was published is not
-- itself a change.
ALTER TABLE chats ADD COLUMN event_state BLOB;
ALTER TABLE chats ADD COLUMN last_event_seq INTEGER;
ALTER TABLE memberships ADD COLUMN event_state BLOB;
ALTER TABLE event_changes ADD COLUMN prev_seq INTEGER;

UPDATE chats SET event_state = (
    SELECT s.state FROM event_snapshots s WHERE s.chat_pk = chats.pk AND s.kind = 'chat');
UPDATE memberships SET event_state = (
    SELECT s.state FROM event_snapshots s
    WHERE s.chat_pk = memberships.chat_pk AND s.kind = 'membership'
      AND s.key = memberships.chat_pk || ':' || lower(
          substr(hex(memberships.member_id), 1, 8) || '-' || substr(hex(memberships.member_id), 9, 4) || '-' ||
          substr(hex(memberships.member_id), 13, 4) || '-' || substr(hex(memberships.member_id), 17, 4) || '-' ||
          substr(hex(memberships.member_id), 21)));
DELETE FROM event_snapshots WHERE kind IN ('chat', 'membership');

UPDATE event_changes SET prev_seq = (
    SELECT max(p.seq) FROM event_changes p
    WHERE p.chat_pk = event_changes.chat_pk AND p.seq < event_changes.seq)
WHERE chat_pk IS NOT NULL;
UPDATE chats SET last_event_seq = (SELECT max(e.seq) FROM event_changes e WHERE e.chat_pk = chats.pk);
DROP INDEX event_changes_chat;
