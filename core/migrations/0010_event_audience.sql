-- A change is stored once with one number, whatever the size of its audience.
--
-- Until now a row listed every channel its change was published on and took one number per
-- channel: a chat becoming pending in a room that reaches 200 operators wrote 200 channel
-- paths (and used 200 numbers). Now a row names:
--   * `channels`: the channels of the readers the change itself names (the organization's
--     collections, the chat's members, its visitor), as a JSON array of paths without
--     '/api/v5/'. No reader appears twice in one row (a change that is on two collections of
--     one reader is two rows), so a reader's events have distinct numbers.
--   * `room_id` + `room_channel`: the change is also on `users/<u>/<room_channel>` of every user
--     the room reaches (`pending_chats`: the room-access relation, `core/src/directory`),
--     resolved when events are read or queued for a webhook, not stored. A room shared with
--     other organizations gets one such row per organization, so reads stay within one
--     organization's rows.
-- Every event read from a row has the row's `seq`.
--
-- Old rows are split into one row per channel with the numbers their events already had, so
-- a client resuming from any number it was given neither misses nor repeats an event.
CREATE TABLE event_changes_by_audience (
    seq             INTEGER PRIMARY KEY,
    organization_id BLOB NOT NULL,
    chat_pk         INTEGER,        -- the chat the resource belongs to (purges scrub by it)
    prev_seq        INTEGER,        -- the chat's previous row (its chain, see 0006)
    channels        TEXT NOT NULL,  -- JSON array of channel paths without '/api/v5/'
    room_id         BLOB,
    room_channel    TEXT,
    action          TEXT NOT NULL CHECK (action = 'added' OR action = 'changed' OR action = 'removed'),
    resource_id     TEXT NOT NULL,
    resource        TEXT,
    created_at      INTEGER NOT NULL,
    CHECK ((room_id IS NULL) = (room_channel IS NULL))
) STRICT;

INSERT INTO event_changes_by_audience
    (seq, organization_id, chat_pk, prev_seq, channels, room_id, room_channel, action,
     resource_id, resource, created_at)
SELECT e.seq - e.n + 1 + j.key, e.organization_id, e.chat_pk,
       CASE WHEN j.key = 0 THEN e.prev_seq ELSE e.seq - e.n + j.key END,
       json_array(j.value), NULL, NULL, e.action, e.resource_id, e.resource, e.created_at
FROM event_changes e, json_each(e.channels) j;

DROP TABLE event_changes;
ALTER TABLE event_changes_by_audience RENAME TO event_changes;
CREATE INDEX event_changes_org ON event_changes(organization_id, seq);
