//! Identifiers. All come from one generator so that a store can rely on their shape.

use uuid::Uuid;

/// Generates resource IDs: time-ordered UUIDv7, which keeps B-tree inserts local.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdGen;

impl IdGen {
    pub fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
    /// Visitor IDs are 32 lowercase hex characters: a random UUID without dashes.
    pub fn new_visitor_id(&self) -> Uuid {
        Uuid::new_v4()
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // getrandom fails only when the OS has no entropy source at all: fall back to v4 UUIDs,
    // which come from the same source through another path, rather than panic.
    if getrandom::fill(&mut b).is_err() {
        for chunk in b.chunks_mut(16) {
            let u = Uuid::new_v4();
            chunk.copy_from_slice(&u.as_bytes()[..chunk.len()]);
        }
    }
    b
}

/// Formats a visitor id: 32 lowercase hex characters.
pub fn visitor_id_str(id: &Uuid) -> String {
    id.simple().to_string()
}

/// Parses a resource UUID (dashed or not).
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::try_parse(s).ok()
}
