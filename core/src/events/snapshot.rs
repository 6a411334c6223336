//! The last published state of a resource, kept to tell what the next change changed.
//!
//! Only fingerprints are kept, not the resource: one 64-bit FNV-1a hash per top-level attribute
//! (of its name and JSON value). A `changed` event carries the changed attributes' new values,
//! which the new resource has; the old values were only ever compared. That keeps a chat's
//! snapshot inside its b-tree page (a JSON copy of the chat resource spilled to overflow pages,
//! rewritten by every message) and spares parsing it back on every change. A chat's snapshot
//! also lists the room it was waiting in (its pending audience is who that room reaches; in
//! snapshots of databases older than the event log's schema version 10, the users it was
//! pending for: either way, a non-empty list means the chat was pending) and its members (users,
//! then visitors; snapshots written before visitors had chat events list users only).
//!
//! Encoding (BLOB): version byte 1, then three length-prefixed (u32, big-endian) arrays: the
//! sorted attribute hashes (u64 BE), the pending list and members (16-byte UUIDs). Snapshots
//! written before this format are JSON text (`{"r": resource, "p": [...], "m": [...]}` for
//! chats, the bare resource otherwise) and are read as such.

use crate::error::{ChatError, ErrorCode, Result};
use serde_json::Value;
use std::hash::Hasher;
use uuid::Uuid;

const VERSION: u8 = 1;

#[derive(Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    /// Sorted hashes of (attribute name, attribute value).
    attrs: Vec<u64>,
    /// The room the chat was pending in (chats only; see the module docs).
    pub pending: Vec<Uuid>,
    /// Members (chats only): users, then visitors.
    pub members: Vec<Uuid>,
}

/// The fingerprint of one attribute: FNV-1a of its name, a zero byte and its compact JSON
/// value. Stored snapshots hold these, so this must never change.
fn attr_hash(name: &[u8], value: &[u8]) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(name);
    h.write(&[0]);
    h.write(value);
    h.finish()
}

fn corrupt() -> ChatError {
    ChatError::new(ErrorCode::Storage, "an event snapshot is unreadable")
}

/// A resource serialized once to JSON text, with its top-level attributes located in it: the
/// attribute hashes, the changed attributes and the stored event are all taken from this one
/// text (no `Value` tree of the whole resource, no second serialization per attribute; the
/// hashes are those [`hashes`] gives for the same resource, so snapshots stay comparable).
pub(super) struct Serialized {
    text: String,
    /// Byte ranges in `text` of each attribute's name (unquoted) and JSON value, in order.
    attrs: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

/// A writer that keeps its length where [`Locating`] can read it.
struct Tracked<'p> {
    out: Vec<u8>,
    len: &'p std::cell::Cell<usize>,
}

impl std::io::Write for Tracked<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.out.extend_from_slice(bytes);
        self.len.set(self.out.len());
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// serde_json's compact formatter, noting where each top-level attribute's name (unquoted)
/// and value are written: the text is located as it is produced, not parsed again.
struct Locating<'p> {
    len: &'p std::cell::Cell<usize>,
    /// Objects and arrays open around the current position (1: inside the resource).
    depth: usize,
    name_start: usize,
    name: std::ops::Range<usize>,
    value_start: usize,
    attrs: &'p mut Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl serde_json::ser::Formatter for Locating<'_> {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        w.write_all(b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        w.write_all(b"]")
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        w.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.depth == 1 {
            // The name's opening quote comes next.
            self.name_start = self.len.get() + 1;
        }
        Ok(())
    }
    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        if self.depth == 1 {
            // Less its closing quote.
            self.name = self.name_start..self.len.get() - 1;
        }
        Ok(())
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b":")?;
        if self.depth == 1 {
            self.value_start = self.len.get();
        }
        Ok(())
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        if self.depth == 1 {
            self.attrs
                .push((self.name.clone(), self.value_start..self.len.get()));
        }
        Ok(())
    }
}

impl Serialized {
    pub fn of<T: serde::Serialize>(resource: &T) -> Result<Self> {
        let len = std::cell::Cell::new(0);
        let mut attrs = Vec::with_capacity(48);
        let out = Tracked {
            out: Vec::with_capacity(1024),
            len: &len,
        };
        let fmt = Locating {
            len: &len,
            depth: 0,
            name_start: 0,
            name: 0..0,
            value_start: 0,
            attrs: &mut attrs,
        };
        let mut ser = serde_json::Serializer::with_formatter(out, fmt);
        resource.serialize(&mut ser)?;
        let text = String::from_utf8(ser.into_inner().out).map_err(|_| {
            ChatError::new(
                ErrorCode::Internal,
                "a resource serialized to invalid UTF-8",
            )
        })?;
        Ok(Serialized { text, attrs })
    }

    fn attr(&self, i: usize) -> (&str, &str) {
        let (k, v) = &self.attrs[i];
        (&self.text[k.clone()], &self.text[v.clone()])
    }

    /// The attribute hashes, in attribute order.
    pub fn hashes(&self) -> Vec<u64> {
        (0..self.attrs.len())
            .map(|i| {
                let (k, v) = self.attr(i);
                attr_hash(k.as_bytes(), v.as_bytes())
            })
            .collect()
    }

    /// The whole resource as JSON text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The whole resource.
    #[cfg(test)]
    pub fn value(&self) -> Result<Value> {
        Ok(serde_json::from_str(&self.text)?)
    }

    /// Whether the attribute `name` changed (or is new) since `snapshot`; `hashes` are
    /// [`Serialized::hashes`].
    pub fn attr_changed_since(&self, snapshot: &Snapshot, hashes: &[u64], name: &str) -> bool {
        (0..self.attrs.len()).any(|i| {
            self.attr(i).0 == name
                && hashes
                    .get(i)
                    .is_some_and(|h| snapshot.attrs.binary_search(h).is_err())
        })
    }

    /// The attributes whose hash `snapshot` lacks (changed or new), in attribute order, as a
    /// JSON object cut from the text (None: nothing changed); `hashes` are
    /// [`Serialized::hashes`].
    pub fn changed_since(&self, snapshot: &Snapshot, hashes: &[u64]) -> Option<String> {
        let mut out = String::new();
        for (i, h) in hashes.iter().enumerate().take(self.attrs.len()) {
            if snapshot.attrs.binary_search(h).is_err() {
                let (k, v) = self.attr(i);
                out.push(if out.is_empty() { '{' } else { ',' });
                out.push('"');
                out.push_str(k);
                out.push_str("\":");
                out.push_str(v);
            }
        }
        (!out.is_empty()).then(|| out + "}")
    }
}

impl Snapshot {
    /// The snapshot of a resource given as a `Value` (a snapshot stored in the older JSON
    /// format, and tests).
    pub fn of(resource: &Value, pending: Vec<Uuid>, members: Vec<Uuid>) -> Result<Self> {
        Ok(Self::from_hashes(
            Serialized::of(resource)?.hashes(),
            pending,
            members,
        ))
    }

    /// The snapshot of a resource whose [`Serialized::hashes`] are `attrs`.
    pub fn from_hashes(mut attrs: Vec<u64>, pending: Vec<Uuid>, members: Vec<Uuid>) -> Self {
        attrs.sort_unstable();
        Self {
            attrs,
            pending,
            members,
        }
    }

    /// The attributes of `after` whose value differs from the snapshot's (or that it lacked),
    /// from the `Value` form (tests compare [`Serialized::changed_since`] with it).
    #[cfg(test)]
    pub fn changed(&self, after: &Value) -> Result<serde_json::Map<String, Value>> {
        let mut out = serde_json::Map::new();
        if let Value::Object(a) = after {
            for ((k, v), h) in a.iter().zip(tests::hashes(after)) {
                if self.attrs.binary_search(&h).is_err() {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(out)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            13 + 8 * self.attrs.len() + 16 * (self.pending.len() + self.members.len()),
        );
        out.push(VERSION);
        out.extend_from_slice(&(self.attrs.len() as u32).to_be_bytes());
        for a in &self.attrs {
            out.extend_from_slice(&a.to_be_bytes());
        }
        for ids in [&self.pending, &self.members] {
            out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
            for id in ids {
                out.extend_from_slice(id.as_bytes());
            }
        }
        out
    }

    /// Reads a stored snapshot; `is_chat` tells how a JSON one (the older format) is laid out.
    pub fn decode(bytes: &[u8], is_chat: bool) -> Result<Self> {
        if bytes.first() == Some(&b'{') {
            let v: Value = serde_json::from_slice(bytes)?;
            if !is_chat {
                return Self::of(&v, Vec::new(), Vec::new());
            }
            let ids = |k: &str| -> Result<Vec<Uuid>> {
                match v.get(k) {
                    Some(ids) => Ok(serde_json::from_value(ids.clone())?),
                    None => Ok(Vec::new()),
                }
            };
            return Self::of(v.get("r").unwrap_or(&Value::Null), ids("p")?, ids("m")?);
        }
        let mut rest = match bytes.split_first() {
            Some((&VERSION, rest)) => rest,
            _ => return Err(corrupt()),
        };
        let mut take = |n: usize| -> Result<&[u8]> {
            if rest.len() < n {
                return Err(corrupt());
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let n = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
        let mut attrs = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            attrs.push(u64::from_be_bytes(
                take(8)?.try_into().map_err(|_| corrupt())?,
            ));
        }
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let n = u32::from_be_bytes(take(4)?.try_into().map_err(|_| corrupt())?) as usize;
            for _ in 0..n {
                list.push(Uuid::from_slice(take(16)?).map_err(|_| corrupt())?);
            }
        }
        let [pending, members] = lists;
        Ok(Self {
            attrs,
            pending,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The attribute hashes computed the way snapshots were first written (each attribute of
    /// the `Value` serialized on its own): the oracle [`Serialized`] must agree with, or every
    /// stored snapshot would look wholly changed once.
    pub(super) fn hashes(resource: &Value) -> Vec<u64> {
        match resource {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| attr_hash(k.as_bytes(), &serde_json::to_vec(v).unwrap()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Snapshots stored before `Serialized` hold hashes of the `Value` form: the text form must
    /// give the same ones, or every resource would look wholly changed once.
    #[test]
    fn the_serialized_form_hashes_and_diffs_as_the_value_form() {
        let before = json!({"id": "c1", "n": 1, "name": "Ann \"the\" Ömer\n", "tags": ["a", "b"],
            "nested": {"z": 1, "a": [null, true, 1.5]}, "gone": null, "big": 9007199254740993u64});
        let after = json!({"id": "c1", "n": 2, "name": "Ann \"the\" Ömer\n", "tags": ["a"],
            "nested": {"z": 1, "a": [null, true, 1.5]}, "gone": null, "big": -3, "new": "x"});
        for v in [&before, &after] {
            let s = Serialized::of(v).unwrap();
            assert_eq!(s.hashes(), hashes(v));
            assert_eq!(&s.value().unwrap(), v);
        }
        let snap = Snapshot::of(&before, vec![], vec![]).unwrap();
        let s = Serialized::of(&after).unwrap();
        let changed: serde_json::Map<String, Value> =
            serde_json::from_str(&s.changed_since(&snap, &s.hashes()).unwrap()).unwrap();
        assert_eq!(changed, snap.changed(&after).unwrap());
        assert_eq!(
            Value::Object(changed),
            json!({"n": 2, "tags": ["a"], "big": -3, "new": "x"})
        );
        let same = Serialized::of(&before).unwrap();
        assert_eq!(same.changed_since(&snap, &same.hashes()), None);

        // Resources are structs: nested objects and arrays of objects inside an attribute do
        // not cut it short.
        #[derive(serde::Serialize)]
        struct Inner {
            k: Vec<u8>,
            o: Option<&'static str>,
        }
        #[derive(serde::Serialize)]
        struct Resource {
            id: &'static str,
            inner: Inner,
            list: Vec<Inner>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            last: bool,
        }
        let r = Resource {
            id: "r\u{e9}\"",
            inner: Inner {
                k: vec![1, 2],
                o: None,
            },
            list: vec![Inner {
                k: vec![],
                o: Some("x,\"y\":{"),
            }],
            skipped: None,
            last: true,
        };
        let v = serde_json::to_value(&r).unwrap();
        let s = Serialized::of(&r).unwrap();
        assert_eq!(s.hashes(), hashes(&v));
        assert_eq!(s.value().unwrap(), v);
        assert_eq!(s.hashes().len(), 4);
    }

    /// Any JSON value below the top level: nested arrays and objects, strings with quotes,
    /// backslashes, control characters and non-ASCII, numbers of every kind.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::vec((r#"[a-z_\\"{}:,]{0,6}"#, inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever the attribute values, the text form locates each attribute exactly: its
        /// hashes are the `Value` form's, and the text is serde_json's own compact form.
        /// (Attribute names are struct field names: no escapes at the top level. The text is
        /// compared, not parsed back: serde_json's float parsing may move a last digit.)
        #[test]
        fn located_attributes_hash_as_the_value_form(
            attrs in proptest::collection::vec(("[a-z_]{1,12}", json_value()), 0..10)
        ) {
            let v = Value::Object(attrs.into_iter().collect());
            let s = Serialized::of(&v).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(s.hashes(), hashes(&v));
            proptest::prop_assert_eq!(s.text(), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn changed_attributes_are_found_after_a_round_trip() {
        let before = json!({"id": "c", "message_count": 3, "is_pending": true, "tags": ["a"]});
        let s = Snapshot::of(&before, vec![Uuid::from_u128(1)], vec![Uuid::from_u128(2)]).unwrap();
        let s = Snapshot::decode(&s.encode(), true).unwrap();
        assert_eq!(s.pending, vec![Uuid::from_u128(1)]);
        assert_eq!(s.members, vec![Uuid::from_u128(2)]);
        let after = json!({"id": "c", "message_count": 4, "is_pending": true, "tags": ["a", "b"], "new": null});
        let d = s.changed(&after).unwrap();
        assert_eq!(
            Value::Object(d),
            json!({"message_count": 4, "tags": ["a", "b"], "new": null})
        );
        assert!(s.changed(&before).unwrap().is_empty());
    }

    #[test]
    fn json_snapshots_of_the_older_format_are_read() {
        let r = json!({"id": "c", "message_count": 3});
        let chat = json!({"r": r, "p": [Uuid::from_u128(5)], "m": []}).to_string();
        let s = Snapshot::decode(chat.as_bytes(), true).unwrap();
        assert_eq!(
            s,
            Snapshot::of(&r, vec![Uuid::from_u128(5)], vec![]).unwrap()
        );
        let s = Snapshot::decode(r.to_string().as_bytes(), false).unwrap();
        assert!(s.changed(&r).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_not_a_panic() {
        let good = Snapshot::of(&json!({"a": 1}), vec![Uuid::from_u128(9)], vec![])
            .unwrap()
            .encode();
        for cut in 0..good.len() {
            assert!(
                Snapshot::decode(&good[..cut], true).is_err(),
                "cut at {cut}"
            );
        }
        assert!(Snapshot::decode(&[7, 0, 0], true).is_err());
    }
}
