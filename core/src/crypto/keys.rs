//! Key material: 256-bit keys that zeroize themselves, and the engine's in-memory ring of
//! organization key-encryption keys.

use super::CryptoError;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Length of every key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// A 256-bit secret key (an organization key-encryption key or a chat key). Its bytes are
/// zeroized when it is dropped; `Debug` never prints them. The bytes live in their own heap
/// allocation, so moving a key (or growing a map of keys) never leaves copies behind.
#[derive(Clone)]
pub struct SecretKey(Box<Zeroizing<[u8; KEY_LEN]>>);

impl SecretKey {
    /// Takes the bytes of a key. The caller's own copy stays the caller's to zeroize.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let mut k = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        k.copy_from_slice(bytes);
        Self(k)
    }

    /// A fresh random key from the operating system's entropy source.
    pub fn random() -> Result<Self, CryptoError> {
        let mut k = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        getrandom::fill(&mut k[..]).map_err(|_| CryptoError::Entropy)?;
        Ok(Self(k))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    /// Constant-time comparison (no early exit on the first differing byte).
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for SecretKey {}

/// The organization key-encryption keys the host has given the engine. They live only in
/// memory: a restarted host calls `Engine::set_organization_key` again. Keys are zeroized when
/// removed or when the ring is dropped.
#[derive(Default)]
pub struct KeyRing {
    keys: RwLock<HashMap<Uuid, SecretKey>>,
}

impl KeyRing {
    pub fn new() -> Self {
        Self::default()
    }
    /// A copy of the organization's key, if the engine holds it.
    pub fn get(&self, org: Uuid) -> Option<SecretKey> {
        self.keys.read().get(&org).cloned()
    }
    pub fn holds(&self, org: Uuid) -> bool {
        self.keys.read().contains_key(&org)
    }
    /// Installs a key; returns the one it replaces.
    pub(crate) fn insert(&self, org: Uuid, key: SecretKey) -> Option<SecretKey> {
        self.keys.write().insert(org, key)
    }
    /// Forgets a key (its bytes are zeroized as it drops); returns it.
    pub(crate) fn remove(&self, org: Uuid) -> Option<SecretKey> {
        self.keys.write().remove(&org)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("organizations", &self.keys.read().len())
            .finish_non_exhaustive()
    }
}
