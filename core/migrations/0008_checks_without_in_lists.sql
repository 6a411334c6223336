-- CHECK constraints on a list of three or more values, `x IN ('a','b','c')`, are evaluated by
-- SQLite through an ephemeral b-tree built afresh on every execution of a statement that
-- checks them (a new in-memory pager, a zeroed page, teardown): five per message send (the
-- message's sender_type, the membership's composing_status, each event row's action), about a
-- tenth of a send's instructions (callgrind, `examples/statements.rs`). The same constraints
-- as comparisons cost nothing of the sort.
--
-- Rows are unchanged and every stored row satisfies both forms, so the table definitions are
-- edited in place: SQLite's documented procedure for changing CHECK constraints without
-- rebuilding a table (https://www.sqlite.org/lang_altertable.html, "writable_schema"). The
-- schema is then reloaded on this connection (RESET), and the table created and dropped below
-- moves the schema version on, so that every other connection reloads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql,
       'CHECK (sender_type IN (''user'',''visitor'',''rule''))',
       'CHECK (sender_type = ''user'' OR sender_type = ''visitor'' OR sender_type = ''rule'')')
 WHERE type = 'table' AND name = 'messages';
UPDATE sqlite_schema
   SET sql = replace(sql,
       'CHECK (composing_status IN (''idle'',''typing'',''typed''))',
       'CHECK (composing_status = ''idle'' OR composing_status = ''typing'' OR composing_status = ''typed'')')
 WHERE type = 'table' AND name = 'memberships';
UPDATE sqlite_schema
   SET sql = replace(sql,
       'CHECK (action IN (''added'',''changed'',''removed''))',
       'CHECK (action = ''added'' OR action = ''changed'' OR action = ''removed'')')
 WHERE type = 'table' AND name = 'event_changes';
UPDATE sqlite_schema
   SET sql = replace(sql,
       'CHECK (chat_type IN (''operator'',''visitor'',''group'',''task'',''external''))',
       'CHECK (chat_type = ''operator'' OR chat_type = ''visitor'' OR chat_type = ''group'' OR chat_type = ''task'' OR chat_type = ''external'')')
 WHERE type = 'table' AND name = 'chats';
PRAGMA writable_schema = RESET;
CREATE TABLE schema_version_bump (x);
DROP TABLE schema_version_bump;
