-- Chat listings order by (created_at, id) and page by that pair; their indexes held only
-- created_at, so finding a page read the chat row of every candidate for its id (a user's
-- pending chats: every waiting chat of the accessible rooms). With id in the index the key
-- phase of a listing (`store/sqlite/chats.rs`, `select_chats`) reads only the index; chat
-- rows are read for the page alone. (Chat rows hold their event fingerprint, which makes
-- those row reads dear.)
DROP INDEX chats_room;
CREATE INDEX chats_room ON chats(room_id, created_at, id);
DROP INDEX chats_org;
CREATE INDEX chats_org ON chats(room_organization_id, created_at, id);
DROP INDEX chats_waiting;
CREATE INDEX chats_waiting ON chats(room_id, created_at, id) WHERE is_waiting = 1 AND is_ended = 0;
