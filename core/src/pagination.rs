//! Cursor pagination shared by every collection.
//!
//! Collections are walked by keyset: a cursor names the sort key of the row it stands after
//! (or before, for `previous`), never an offset, so rows inserted or deleted during a walk do
//! not shift the pages: a row that exists for the whole walk is seen exactly once.

use crate::error::{ChatError, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

pub const DEFAULT_PAGE_SIZE: u32 = 25;
pub const MAX_PAGE_SIZE: u32 = 100;

/// What a caller asks of a collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub cursor: Option<String>,
    pub page_size: Option<u32>,
}

impl PageRequest {
    pub fn first(page_size: u32) -> Self {
        Self {
            cursor: None,
            page_size: Some(page_size),
        }
    }
    pub fn at(cursor: impl Into<String>, page_size: Option<u32>) -> Self {
        Self {
            cursor: Some(cursor.into()),
            page_size,
        }
    }
    fn size(&self) -> Result<usize> {
        match self.page_size {
            None => Ok(DEFAULT_PAGE_SIZE as usize),
            Some(0) => Err(ChatError::field(
                "page_size",
                "Ensure this value is at least 1.",
            )),
            Some(n) => Ok(n.min(MAX_PAGE_SIZE) as usize),
        }
    }
}

/// One page of a collection, with opaque cursors to its neighbours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            next: self.next,
            previous: self.previous,
            results: self.results.into_iter().map(f).collect(),
        }
    }
    pub fn try_map<U>(self, f: impl FnMut(T) -> Result<U>) -> Result<Page<U>> {
        Ok(Page {
            next: self.next,
            previous: self.previous,
            results: self
                .results
                .into_iter()
                .map(f)
                .collect::<Result<Vec<U>>>()?,
        })
    }
}

/// A row's position in its ordering: a primary value and a unique tie-breaker.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    pub primary: i64,
    pub tie: Vec<u8>,
}

impl SortKey {
    pub fn new(primary: i64, tie: impl Into<Vec<u8>>) -> Self {
        Self {
            primary,
            tie: tie.into(),
        }
    }
}

/// What a store is asked for: up to `limit` rows strictly beyond `after` in `descending` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub after: Option<SortKey>,
    pub descending: bool,
    pub limit: usize,
}

impl Keyset {
    /// The SQL comparison for "beyond the cursor" over `(primary, tie)` columns.
    pub fn beyond_sql(&self, primary: &str, tie: &str) -> Option<String> {
        self.after.as_ref().map(|_| {
            let op = if self.descending { "<" } else { ">" };
            format!("({primary}, {tie}) {op} (?, ?)")
        })
    }
    pub fn order_sql(&self, primary: &str, tie: &str) -> String {
        let dir = if self.descending { "DESC" } else { "ASC" };
        format!("ORDER BY {primary} {dir}, {tie} {dir} LIMIT {}", self.limit)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    /// Which ordering the cursor belongs to: a cursor of one ordering is refused by another.
    ordering: u8,
    backwards: bool,
    key: SortKey,
}

const CURSOR_VERSION: u8 = 1;

impl Cursor {
    fn encode(&self) -> String {
        let mut b = Vec::with_capacity(11 + self.key.tie.len());
        b.push(CURSOR_VERSION);
        b.push(self.ordering);
        b.push(u8::from(self.backwards));
        b.extend_from_slice(&self.key.primary.to_be_bytes());
        b.extend_from_slice(&self.key.tie);
        URL_SAFE_NO_PAD.encode(b)
    }
    fn decode(s: &str, ordering: u8) -> Result<Self> {
        let invalid = || ChatError::field("cursor", "Invalid cursor.");
        let b = URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map_err(|_| invalid())?;
        if b.len() < 11 || b[0] != CURSOR_VERSION || b[1] != ordering || b[2] > 1 {
            return Err(invalid());
        }
        let mut primary = [0u8; 8];
        primary.copy_from_slice(&b[3..11]);
        Ok(Self {
            ordering,
            backwards: b[2] == 1,
            key: SortKey {
                primary: i64::from_be_bytes(primary),
                tie: b[11..].to_vec(),
            },
        })
    }
}

/// Walks one page. `fetch` runs the store query for a [`Keyset`]; `key_of` gives a row's key.
/// `ordering` is a small number naming the collection's ordering; `descending` its direction.
pub fn paginate<T>(
    req: &PageRequest,
    ordering: u8,
    descending: bool,
    mut fetch: impl FnMut(&Keyset) -> Result<Vec<T>>,
    key_of: impl Fn(&T) -> SortKey,
) -> Result<Page<T>> {
    let size = req.size()?;
    let cursor = req
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, ordering))
        .transpose()?;
    let make = |backwards: bool, key: SortKey| {
        Cursor {
            ordering,
            backwards,
            key,
        }
        .encode()
    };
    match cursor {
        Some(c) if c.backwards => {
            let mut rows = fetch(&Keyset {
                after: Some(c.key.clone()),
                descending: !descending,
                limit: size + 1,
            })?;
            let more_before = rows.len() > size;
            rows.truncate(size);
            rows.reverse();
            let previous = if more_before {
                rows.first().map(|r| make(true, key_of(r)))
            } else {
                None
            };
            // The row the cursor stood before is still ahead: `next` resumes right there.
            let next = match rows.last() {
                Some(r) => Some(make(false, key_of(r))),
                None => Some(make(false, c.key.clone())),
            };
            Ok(Page {
                next,
                previous,
                results: rows,
            })
        }
        _ => {
            let after = cursor.map(|c| c.key);
            let mut rows = fetch(&Keyset {
                after: after.clone(),
                descending,
                limit: size + 1,
            })?;
            let more = rows.len() > size;
            rows.truncate(size);
            let next = if more {
                rows.last().map(|r| make(false, key_of(r)))
            } else {
                None
            };
            let previous = match (&after, rows.first()) {
                (None, _) => None,
                (Some(_), Some(first)) => {
                    let k = key_of(first);
                    let before = fetch(&Keyset {
                        after: Some(k.clone()),
                        descending: !descending,
                        limit: 1,
                    })?;
                    if before.is_empty() {
                        None
                    } else {
                        Some(make(true, k))
                    }
                }
                (Some(k), None) => Some(make(true, k.clone())),
            };
            Ok(Page {
                next,
                previous,
                results: rows,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(rows: &[i64], size: u32, descending: bool) -> Vec<i64> {
        let fetch = |k: &Keyset| -> Result<Vec<i64>> {
            let mut v: Vec<i64> = rows
                .iter()
                .copied()
                .filter(|r| match &k.after {
                    None => true,
                    Some(a) => {
                        if k.descending {
                            *r < a.primary
                        } else {
                            *r > a.primary
                        }
                    }
                })
                .collect();
            v.sort();
            if k.descending {
                v.reverse();
            }
            v.truncate(k.limit);
            Ok(v)
        };
        let mut out = vec![];
        let mut req = PageRequest::first(size);
        loop {
            let page = paginate(&req, 1, descending, fetch, |r| SortKey::new(*r, vec![])).unwrap();
            out.extend(page.results.iter().copied());
            match page.next {
                Some(n) => req = PageRequest::at(n, Some(size)),
                None => break,
            }
        }
        out
    }

    #[test]
    fn walks_every_row_once_in_order() {
        let rows: Vec<i64> = (0..103).collect();
        assert_eq!(walk(&rows, 10, false), rows);
        let mut desc = rows.clone();
        desc.reverse();
        assert_eq!(walk(&rows, 7, true), desc);
    }

    #[test]
    fn previous_returns_to_the_earlier_page() {
        let rows: Vec<i64> = (0..30).collect();
        let fetch = |k: &Keyset| -> Result<Vec<i64>> {
            let mut v: Vec<i64> = rows
                .iter()
                .copied()
                .filter(|r| {
                    k.after.as_ref().is_none_or(|a| {
                        if k.descending {
                            *r < a.primary
                        } else {
                            *r > a.primary
                        }
                    })
                })
                .collect();
            v.sort();
            if k.descending {
                v.reverse();
            }
            v.truncate(k.limit);
            Ok(v)
        };
        let key = |r: &i64| SortKey::new(*r, vec![]);
        let p1 = paginate(&PageRequest::first(10), 1, false, fetch, key).unwrap();
        assert!(p1.previous.is_none());
        let p2 = paginate(
            &PageRequest::at(p1.next.clone().unwrap(), Some(10)),
            1,
            false,
            fetch,
            key,
        )
        .unwrap();
        assert_eq!(p2.results, (10..20).collect::<Vec<_>>());
        let back = paginate(
            &PageRequest::at(p2.previous.clone().unwrap(), Some(10)),
            1,
            false,
            fetch,
            key,
        )
        .unwrap();
        assert_eq!(back.results, p1.results);
        assert!(back.previous.is_none());
    }

    #[test]
    fn cursor_of_another_ordering_or_garbage_is_a_validation_error() {
        let c = Cursor {
            ordering: 1,
            backwards: false,
            key: SortKey::new(5, vec![1, 2]),
        }
        .encode();
        assert!(Cursor::decode(&c, 1).is_ok());
        let e = Cursor::decode(&c, 2).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::ValidationError);
        assert!(Cursor::decode("!!!", 1).is_err());
        assert!(
            PageRequest {
                cursor: None,
                page_size: Some(0)
            }
            .size()
            .is_err()
        );
        assert_eq!(
            PageRequest {
                cursor: None,
                page_size: Some(1000)
            }
            .size()
            .unwrap(),
            100
        );
    }
}
