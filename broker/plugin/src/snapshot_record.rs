//! The durable record of one binding's key-value state: a snapshot record in the system
//! topic [`PLUGIN_STATE_TOPIC`], its binary encoding and its checked decoding.
//!
//! Each record carries the binding name as its message key (indexed by the store, so
//! the newest snapshot of a binding is one key lookup away) and the binding's
//! `created_ms`, so that a binding deleted and created again under the same name does
//! not inherit the old one's state. This module only encodes and decodes; when records
//! are written and read is decided by the host (see [`crate::state_table`]).

use crate::limits::{
    MAX_NAME_LEN, MAX_STATE_BYTES, MAX_STATE_KEY_BYTES, STATE_ENTRY_OVERHEAD_BYTES,
};

/// The system topic holding snapshots of binding state (queue 0).
pub const PLUGIN_STATE_TOPIC: &str = "%SYS%plugin-state";

const MAGIC: &[u8; 4] = b"WPST";
const FORMAT_VERSION: u8 = 1;
/// Encoded bytes of an entry besides its key and value: key length (2), value length (4),
/// expiry flag (1) and expiry (8). At most [`STATE_ENTRY_OVERHEAD_BYTES`], which the
/// quota counts, so a state within its quota fits one record.
const ENTRY_OVERHEAD: usize = 2 + 4 + 1 + 8;
const _: () = assert!(ENTRY_OVERHEAD <= STATE_ENTRY_OVERHEAD_BYTES);
const _: () = assert!(MAX_STATE_BYTES + 1024 <= weir_store::MAX_BODY_LEN);
/// The fewest bytes an entry can take (no key, no value, no expiry).
const MIN_ENTRY_LEN: usize = 2 + 4 + 1;

/// One live entry of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateEntry {
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
    /// Expiry, ms since the epoch; `None` keeps it until deleted.
    pub(crate) expires_ms: Option<i64>,
}

/// A decoded snapshot of one binding's state.
///
/// On-disk format (the body of the record), integers little-endian, nothing after the
/// last entry:
///
/// ```text
/// magic       4 bytes "WPST"
/// version     u8 = 1
/// binding     u8 length, then that many bytes of UTF-8
/// created_ms  i64   the binding's creation time; a snapshot of another binding of
///                   the same name (deleted since) does not match
/// count       u32   entries that follow
/// entry       key:    u16 length, then UTF-8 (at most MAX_STATE_KEY_BYTES)
///             value:  u32 length, then bytes
///             expiry: u8 0 (kept until deleted) or 1 followed by i64 ms since the epoch
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StateRecord {
    pub(crate) binding: String,
    pub(crate) created_ms: i64,
    /// Entries still live when the record was read.
    pub(crate) entries: Vec<StateEntry>,
}

/// Encodes a snapshot of `entries` (key, value, expiry), leaving out the ones expired at
/// `now_ms`. `size_hint` is the bytes the caller expects (keys plus values).
///
/// Fails only when a length does not fit its field, which the host's limits rule out.
pub(crate) fn encode<'a>(
    binding: &str,
    created_ms: i64,
    entries: impl Iterator<Item = (&'a str, &'a [u8], Option<i64>)>,
    now_ms: i64,
    size_hint: usize,
) -> Result<Vec<u8>, String> {
    let name_len = u8::try_from(binding.len())
        .map_err(|_| format!("binding name of {} bytes is too long", binding.len()))?;
    let mut out = Vec::with_capacity(64 + binding.len() + size_hint);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(name_len);
    out.extend_from_slice(binding.as_bytes());
    out.extend_from_slice(&created_ms.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut count: u32 = 0;
    for (key, value, expires_ms) in entries {
        if expires_ms.is_some_and(|at| at <= now_ms) {
            continue;
        }
        let key_len = u16::try_from(key.len())
            .map_err(|_| format!("state key of {} bytes is too long", key.len()))?;
        let value_len = u32::try_from(value.len())
            .map_err(|_| format!("state value of {} bytes is too long", value.len()))?;
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&value_len.to_le_bytes());
        out.extend_from_slice(value);
        match expires_ms {
            Some(at) => {
                out.push(1);
                out.extend_from_slice(&at.to_le_bytes());
            }
            None => out.push(0),
        }
        count = count
            .checked_add(1)
            .ok_or_else(|| "too many state entries".to_string())?;
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    Ok(out)
}

/// Decodes a snapshot, dropping the entries expired at `now_ms`. Garbage (a wrong
/// magic, a newer version, a length past the end, bad UTF-8, trailing bytes) is an
/// error, never a panic.
pub(crate) fn decode(body: &[u8], now_ms: i64) -> Result<StateRecord, String> {
    let mut r = Reader { rest: body };
    if r.take(4)? != MAGIC {
        return Err("not a state snapshot (wrong magic)".to_string());
    }
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "state snapshot format {version} is not understood by this broker (it reads {FORMAT_VERSION})"
        ));
    }
    let name_len = usize::from(r.u8()?);
    if name_len > MAX_NAME_LEN {
        return Err(format!("binding name of {name_len} bytes is too long"));
    }
    let binding = r.utf8(name_len, "binding name")?;
    let created_ms = r.i64()?;
    let count = r.u32()? as usize;
    // The count is not trusted for allocation: every entry takes some bytes.
    let mut entries = Vec::with_capacity(count.min(r.rest.len() / MIN_ENTRY_LEN));
    for _ in 0..count {
        let key_len = usize::from(r.u16()?);
        if key_len > MAX_STATE_KEY_BYTES {
            return Err(format!("state key of {key_len} bytes is over the limit"));
        }
        let key = r.utf8(key_len, "state key")?;
        let value_len = r.u32()? as usize;
        let value = r.take(value_len)?.to_vec();
        let expires_ms = match r.u8()? {
            0 => None,
            1 => Some(r.i64()?),
            other => return Err(format!("unknown expiry flag {other}")),
        };
        if expires_ms.is_none_or(|at| at > now_ms) {
            entries.push(StateEntry {
                key,
                value,
                expires_ms,
            });
        }
    }
    if !r.rest.is_empty() {
        return Err(format!("{} bytes after the last state entry", r.rest.len()));
    }
    Ok(StateRecord {
        binding,
        created_ms,
        entries,
    })
}

/// A bounds-checked cursor over a record body.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err(format!(
                "state snapshot is cut short ({n} bytes wanted, {} left)",
                self.rest.len()
            ));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut bytes = [0; N];
        bytes.copy_from_slice(self.take(N)?);
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64, String> {
        self.array().map(i64::from_le_bytes)
    }

    fn utf8(&mut self, n: usize, what: &str) -> Result<String, String> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, value: &[u8], expires_ms: Option<i64>) -> StateEntry {
        StateEntry {
            key: key.to_string(),
            value: value.to_vec(),
            expires_ms,
        }
    }

    fn encode_entries(entries: &[StateEntry], now_ms: i64) -> Vec<u8> {
        encode(
            "b-1",
            42,
            entries
                .iter()
                .map(|e| (e.key.as_str(), e.value.as_slice(), e.expires_ms)),
            now_ms,
            0,
        )
        .unwrap()
    }

    #[test]
    fn snapshots_round_trip() {
        let entries = vec![
            entry("acked", b"50", None),
            entry("", b"", None),
            entry("token", &[0, 255, 7], Some(2_000)),
            entry(
                &"k".repeat(MAX_STATE_KEY_BYTES),
                &vec![9; 70_000],
                Some(i64::MAX),
            ),
        ];
        let body = encode_entries(&entries, 1_000);
        let record = decode(&body, 1_000).unwrap();
        assert_eq!(record.binding, "b-1");
        assert_eq!(record.created_ms, 42);
        assert_eq!(record.entries, entries);
        let empty = encode_entries(&[], 0);
        assert_eq!(decode(&empty, 0).unwrap().entries, vec![]);
    }

    #[test]
    fn expired_entries_are_dropped_when_writing_and_when_reading() {
        let entries = vec![
            entry("gone", b"1", Some(1_000)),
            entry("later", b"2", Some(5_000)),
            entry("kept", b"3", None),
        ];
        let body = encode_entries(&entries, 1_000);
        let keys = |record: StateRecord| -> Vec<String> {
            record.entries.into_iter().map(|e| e.key).collect()
        };
        assert_eq!(keys(decode(&body, 1_000).unwrap()), ["later", "kept"]);
        assert_eq!(keys(decode(&body, 5_000).unwrap()), ["kept"]);
    }

    #[test]
    fn an_entry_takes_no_more_than_the_quota_counts_for_it() {
        let one = encode_entries(&[entry("abc", b"xyz", Some(9))], 0);
        let none = encode_entries(&[], 0);
        assert_eq!(one.len() - none.len(), 6 + ENTRY_OVERHEAD);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let body = encode_entries(&[entry("a", b"1", None), entry("b", b"22", Some(10))], 0);
        // Every cut-short body, and every body with one byte changed, either decodes or
        // fails; none panics.
        for len in 0..body.len() {
            assert!(decode(&body[..len], 0).is_err(), "cut at {len}");
        }
        for at in 0..body.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = body.clone();
                bad[at] ^= flip;
                let _ = decode(&bad, 0);
            }
        }
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(decode(&trailing, 0).is_err());
        assert!(decode(b"{\"json\":true}", 0).is_err());
        // A huge count with nothing behind it fails instead of allocating.
        let mut huge = encode_entries(&[], 0);
        let at = huge.len() - 4;
        huge[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge, 0).is_err());
        let mut newer = body;
        newer[4] = FORMAT_VERSION + 1;
        assert!(decode(&newer, 0).unwrap_err().contains("format"));
    }
}
