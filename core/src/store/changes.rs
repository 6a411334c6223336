//! What a write operation changed, as the store's write methods record it: the input of event
//! publication (`events::publish`), which runs at the end of the same transaction.
//!
//! Every store method that writes something a resource shows records it here, in the order of
//! the writes. The log is plain data, so any storage backend records the same entries by
//! calling [`ChangeLog::record`] from its write methods; nothing depends on a database's own
//! change notifications. An entry may name a row whose values did not actually change (an
//! update writing equal values): publication compares each resource with its last published
//! state and emits nothing for it.

use crate::chats::ChatRecord;
use crate::messages::MessageRecord;
use crate::starters::StarterRecord;
use std::cell::RefCell;
use uuid::Uuid;

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A chat's own columns, or its memberships (counts, pending state).
    Chat(i64),
    /// A chat written whole from `record` ([`crate::store::ChatStore::update_chat`]): the
    /// record as the operation holds it, which publication presents instead of reading the
    /// chat back when nothing else in the operation changed what the record derives (its
    /// memberships, a member's presence).
    ChatWritten(Box<ChatRecord>),
    /// A message added. `record`: the message as the operation completed it for its reply
    /// ([`crate::store::MessageStore::inserted_message`]), which publication presents instead
    /// of reading it back; None when the operation did not (a join or leave notice).
    MessageAdded {
        chat_pk: i64,
        id: Uuid,
        record: Option<Box<MessageRecord>>,
    },
    /// A stored message changed (its actions' disabled states, a purge).
    MessageChanged {
        chat_pk: i64,
        id: Uuid,
    },
    Membership {
        chat_pk: i64,
        member: Uuid,
    },
    /// A member's message counted ([`crate::store::MembershipStore::add_member_message`]):
    /// their membership changed, and their chat's counts with it. Unlike [`Change::Membership`]
    /// it leaves a written chat record whole: the operation that counts a message updates its
    /// record's counts ([`crate::chats::ChatRecord::member_message_counted`]).
    MemberMessage {
        chat_pk: i64,
        member: Uuid,
    },
    Invitation(Uuid),
    Suggestion(Uuid),
    TagAdded {
        chat_pk: i64,
        name: String,
    },
    TagRemoved {
        chat_pk: i64,
        name: String,
    },
    /// A room's allowed tag added or removed (the room's tags, and the allowed tags of its
    /// chats).
    RoomTag {
        room: Uuid,
        name: String,
        added: bool,
    },
    /// A user's conversation starter created (`before` None), changed or deleted (`after`
    /// None), with its states around the write.
    Starter {
        user: Uuid,
        before: Option<Box<StarterRecord>>,
        after: Option<Box<StarterRecord>>,
    },
    /// A directory resource created or changed, or a presence client gone.
    Directory(DirectoryItem),
    /// A user's or visitor's attributes their memberships show.
    Member(Uuid),
    /// A user's or visitor's presence.
    Presence(Uuid),
    /// Something an authentication the engine remembers may rest on (a token revoked, a user
    /// changed or deleted).
    Credentials,
}

/// A directory resource, as a change names it (its collection: the organization's users,
/// teams, rooms or routers, or a user's presence clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectoryItem {
    User(Uuid),
    Team(Uuid),
    Room(Uuid),
    Router(Uuid),
    Client { id: Uuid, user: Uuid },
}

/// The changes of one operation, in write order. Owned by the operation's transaction
/// handle: a failed operation's log goes with it.
#[derive(Debug, Default)]
pub struct ChangeLog(RefCell<Vec<Change>>);

impl ChangeLog {
    pub fn record(&self, c: Change) {
        self.0.borrow_mut().push(c);
    }
    /// A membership changed: the membership, and its chat (whose counts and pending state
    /// follow its memberships).
    pub fn membership(&self, chat_pk: i64, member: Uuid) {
        let mut log = self.0.borrow_mut();
        log.push(Change::Membership { chat_pk, member });
        log.push(Change::Chat(chat_pk));
    }
    /// Attaches the completed record of a message this operation added to its entry.
    pub fn message_completed(&self, m: &MessageRecord) {
        let mut log = self.0.borrow_mut();
        for c in log.iter_mut().rev() {
            if let Change::MessageAdded {
                chat_pk,
                id,
                record,
            } = c
                && *chat_pk == m.stored.chat_pk
                && *id == m.stored.id
            {
                *record = Some(Box::new(m.clone()));
                return;
            }
        }
    }
    /// Everything recorded so far, for publication.
    pub fn take(&self) -> Vec<Change> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}
