//! The length-prefixed fields both binary formats ([`batch`](crate::batch) and
//! [`message_list`](crate::message_list)) are made of, and why one cannot be written:
//! strings behind a u16 length, byte strings behind a u32 length, counts in a u16.

use bytes::{BufMut, BytesMut};

/// A field too large for its length or count prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A string longer than its u16 length prefix.
    #[error("{field} is {len} bytes, more than the format's 65535")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A property value or body of 4 GiB or more.
    #[error("{field} is {len} bytes, more than the format's 4 GiB")]
    TooLarge {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// More keys or properties than the u16 count can say.
    #[error("{count} {field} is more than the format's 65535")]
    TooMany {
        /// What is counted: `keys` or `properties`.
        field: &'static str,
        /// How many the message has.
        count: usize,
    },
}

/// A count of keys or properties as its u16 prefix.
pub(crate) fn count(field: &'static str, count: usize) -> Result<u16, FieldError> {
    u16::try_from(count).map_err(|_| FieldError::TooMany { field, count })
}

/// Writes a string behind its u16 length.
pub(crate) fn put_short(
    out: &mut BytesMut,
    field: &'static str,
    value: &str,
) -> Result<(), FieldError> {
    let len = u16::try_from(value.len()).map_err(|_| FieldError::TooLong {
        field,
        len: value.len(),
    })?;
    out.put_u16_le(len);
    out.put_slice(value.as_bytes());
    Ok(())
}

/// Writes bytes behind their u32 length.
pub(crate) fn put_long(
    out: &mut BytesMut,
    field: &'static str,
    value: &[u8],
) -> Result<(), FieldError> {
    let len = u32::try_from(value.len()).map_err(|_| FieldError::TooLarge {
        field,
        len: value.len(),
    })?;
    out.put_u32_le(len);
    out.put_slice(value);
    Ok(())
}
