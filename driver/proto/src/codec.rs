//! Explicit little-endian encoding: a [`Writer`] that appends to a byte
//! vector and a [`Reader`] that walks untrusted bytes with a length check
//! before every read.
//!
//! Every multi-byte integer is little-endian. `Option<T>` is a tag byte
//! (0 = absent, 1 = present) followed by `T` when present; any other tag is
//! refused. Strings are a `u16` byte length then UTF-8 bytes. Lists are a
//! `u32` count then the elements; the count is checked against the bytes
//! that remain (each element has a known minimum size) before anything is
//! allocated, so no input can make the decoder allocate more than a small
//! multiple of the input's own length.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why bytes could not be decoded. `at` is the byte offset (from the start
/// of the message) where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Which value was being decoded, e.g. `"flow.name"`.
    pub what: &'static str,
    /// Byte offset in the message.
    pub at: usize,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The message ended inside a value.
    Truncated,
    /// The header's magic is not [`crate::MAGIC`].
    BadMagic(u32),
    /// The header's ABI version is not [`crate::ABI_VERSION`].
    Version {
        /// The version this side speaks.
        ours: u16,
        /// The version found in the message.
        theirs: u16,
    },
    /// The header's length field does not match the message length.
    BadLength {
        /// Length the header declares.
        declared: u32,
        /// Bytes actually present.
        actual: usize,
    },
    /// A message larger than the limit for its direction.
    TooLarge {
        /// Bytes present.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A tag byte (option, enum) with a value that has no meaning.
    BadTag(u32),
    /// A string or list longer than its limit.
    TooLong {
        /// Length found.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A string that is not UTF-8.
    BadUtf8,
    /// Reserved bits or bytes that are not zero.
    Reserved,
    /// Bytes left over after the last value.
    TrailingBytes(usize),
    /// The IOCTL code names no operation of this ABI.
    UnknownCode(u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::Truncated => write!(f, "message ends inside `{}`", self.what)?,
            DecodeErrorKind::BadMagic(m) => write!(f, "bad magic {m:#010x}")?,
            DecodeErrorKind::Version { ours, theirs } => write!(
                f,
                "ABI version mismatch: this side speaks version {ours}, the message is version {theirs}"
            )?,
            DecodeErrorKind::BadLength { declared, actual } => write!(
                f,
                "header declares {declared} bytes but the message has {actual}"
            )?,
            DecodeErrorKind::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the limit of {max}")?;
            }
            DecodeErrorKind::BadTag(v) => write!(f, "`{}` has invalid tag {v}", self.what)?,
            DecodeErrorKind::TooLong { len, max } => {
                write!(f, "`{}` has length {len}, limit {max}", self.what)?;
            }
            DecodeErrorKind::BadUtf8 => write!(f, "`{}` is not UTF-8", self.what)?,
            DecodeErrorKind::Reserved => write!(f, "`{}`: reserved bits set", self.what)?,
            DecodeErrorKind::TrailingBytes(n) => write!(f, "{n} unexpected trailing bytes")?,
            DecodeErrorKind::UnknownCode(c) => write!(f, "unknown IOCTL code {c:#010x}")?,
        }
        write!(f, " (at byte {})", self.at)
    }
}

/// Appends little-endian values to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    #[must_use]
    pub const fn new() -> Self {
        Self { buf: Vec::new() }
    }
    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// True when nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// The bytes.
    #[must_use]
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
    /// The bytes, borrowed.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
    /// Cuts the output back to `len` bytes (used to drop an element that
    /// did not fit a reply buffer).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }
    /// Overwrites 4 bytes at `at` with `v` (for length fields written
    /// after the body); does nothing if out of range.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(end) = at.checked_add(4) {
            if let Some(dst) = self.buf.get_mut(at..end) {
                dst.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Appends a `bool` as 0 or 1.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }
    /// Appends a `u16`.
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends a `u128`.
    pub fn u128(&mut self, v: u128) {
        self.bytes(&v.to_le_bytes());
    }
    /// Appends a string: `u16` length then UTF-8. Strings longer than
    /// `u16::MAX` bytes are cut at a character boundary (decoders refuse
    /// far shorter strings anyway).
    pub fn str(&mut self, s: &str) {
        let mut end = s.len().min(usize::from(u16::MAX));
        while !s.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        let b = s.as_bytes().get(..end).unwrap_or_default();
        self.u16(u16::try_from(b.len()).unwrap_or(u16::MAX));
        self.bytes(b);
    }
    /// Appends a list count.
    pub fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    /// Appends an optional value: tag then value.
    pub fn opt<T>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                f(self, v);
            }
        }
    }
}

/// Reads little-endian values from untrusted bytes; every read checks the
/// length first.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    #[must_use]
    pub const fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            base: 0,
        }
    }
    /// A reader over `buf` that reports offsets shifted by `base` (for a
    /// body that follows a header).
    #[must_use]
    pub const fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }
    /// Offset of the next byte, in message coordinates.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }
    /// Bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    /// An error of `kind` at the current offset.
    #[must_use]
    pub const fn error(&self, kind: DecodeErrorKind, what: &'static str) -> DecodeError {
        DecodeError {
            kind,
            what,
            at: self.offset(),
        }
    }
    /// Takes `n` bytes.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Truncated`] when fewer remain.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| self.error(DecodeErrorKind::Truncated, what))?;
        let b = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.error(DecodeErrorKind::Truncated, what))?;
        self.pos = end;
        Ok(b)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }
    /// Reads a fixed-size byte array.
    ///
    /// # Errors
    /// Truncated.
    pub fn bytes<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        self.array::<N>(what)
    }
    /// Reads a `u8`.
    ///
    /// # Errors
    /// Truncated.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(u8::from_le_bytes(self.array(what)?))
    }
    /// Reads a `u16`.
    ///
    /// # Errors
    /// Truncated.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    /// Reads a `u32`.
    ///
    /// # Errors
    /// Truncated.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    /// Reads a `u64`.
    ///
    /// # Errors
    /// Truncated.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    /// Reads a `u128`.
    ///
    /// # Errors
    /// Truncated.
    pub fn u128(&mut self, what: &'static str) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array(what)?))
    }
    /// Reads a `bool` (0 or 1; anything else is a bad tag).
    ///
    /// # Errors
    /// Truncated or bad tag.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let at = self.offset();
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError {
                kind: DecodeErrorKind::BadTag(u32::from(v)),
                what,
                at,
            }),
        }
    }
    /// Reads a string of at most `max` bytes.
    ///
    /// # Errors
    /// Truncated, too long, or not UTF-8.
    pub fn str(&mut self, max: usize, what: &'static str) -> Result<String, DecodeError> {
        let at = self.offset();
        let len = usize::from(self.u16(what)?);
        if len > max {
            return Err(DecodeError {
                kind: DecodeErrorKind::TooLong { len, max },
                what,
                at,
            });
        }
        let b = self.take(len, what)?;
        let s = core::str::from_utf8(b).map_err(|_| DecodeError {
            kind: DecodeErrorKind::BadUtf8,
            what,
            at,
        })?;
        Ok(String::from(s))
    }
    /// Reads a list count and checks it against `max` and against the
    /// bytes that remain (each element takes at least `min_size` bytes),
    /// so the caller can allocate `count` elements safely.
    ///
    /// # Errors
    /// Truncated or too long.
    pub fn count(
        &mut self,
        max: usize,
        min_size: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        let at = self.offset();
        let n = usize::try_from(self.u32(what)?).unwrap_or(usize::MAX);
        if n > max {
            return Err(DecodeError {
                kind: DecodeErrorKind::TooLong { len: n, max },
                what,
                at,
            });
        }
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(DecodeError {
                kind: DecodeErrorKind::Truncated,
                what,
                at,
            });
        }
        Ok(n)
    }
    /// Reads an option tag and, if present, the value.
    ///
    /// # Errors
    /// Bad tag, or the value's own error.
    pub fn opt<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.bool(what)? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }
    /// Checks that every byte was read.
    ///
    /// # Errors
    /// [`DecodeErrorKind::TrailingBytes`].
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(DecodeErrorKind::TrailingBytes(n), "end")),
        }
    }
}

/// A value with a wire encoding.
pub trait Wire: Sized {
    /// Smallest encoded size in bytes (bounds list counts before
    /// allocating).
    const MIN_SIZE: usize;
    /// Appends the encoding.
    fn encode(&self, w: &mut Writer);
    /// Decodes one value.
    ///
    /// # Errors
    /// Any [`DecodeError`].
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Encodes a list: count then elements.
pub fn encode_list<T: Wire>(w: &mut Writer, items: &[T]) {
    w.count(items.len());
    for i in items {
        i.encode(w);
    }
}

/// Decodes a list of at most `max` elements.
///
/// # Errors
/// Any [`DecodeError`].
pub fn decode_list<T: Wire>(
    r: &mut Reader<'_>,
    max: usize,
    what: &'static str,
) -> Result<Vec<T>, DecodeError> {
    let n = r.count(max, T::MIN_SIZE, what)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(T::decode(r)?);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian() {
        let mut w = Writer::new();
        w.u16(0x0102);
        w.u32(0x0304_0506);
        w.u64(0x0708_090a_0b0c_0d0e);
        assert_eq!(
            w.as_slice(),
            &[2, 1, 6, 5, 4, 3, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 9, 8, 7]
        );
        let mut r = Reader::new(w.as_slice());
        assert_eq!(r.u16("a").unwrap(), 0x0102);
        assert_eq!(r.u32("b").unwrap(), 0x0304_0506);
        assert_eq!(r.u64("c").unwrap(), 0x0708_090a_0b0c_0d0e);
        r.finish().unwrap();
    }

    #[test]
    fn truncation_reports_offset_and_value() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.u8("a").unwrap();
        let e = r.u32("b").unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Truncated);
        assert_eq!((e.what, e.at), ("b", 1));
    }

    #[test]
    fn option_tag_must_be_zero_or_one() {
        let mut r = Reader::new(&[2, 0]);
        let e = r.opt("x", |r| r.u8("x")).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::BadTag(2));
    }

    #[test]
    fn list_count_is_bounded_by_remaining_bytes() {
        // A count of 1e9 with 4 bytes behind it must fail before allocating.
        let mut w = Writer::new();
        w.u32(1_000_000_000);
        w.u32(0);
        let mut r = Reader::new(w.as_slice());
        let e = r.count(usize::MAX, 4, "l").unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Truncated);
        let mut r = Reader::new(w.as_slice());
        let e = r.count(10, 4, "l").unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::TooLong {
                len: 1_000_000_000,
                max: 10
            }
        );
    }

    #[test]
    fn strings_check_length_and_utf8() {
        let mut w = Writer::new();
        w.str("héllo");
        assert_eq!(w.as_slice(), b"\x06\x00h\xc3\xa9llo");
        assert_eq!(Reader::new(w.as_slice()).str(6, "s").unwrap(), "héllo");
        let e = Reader::new(w.as_slice()).str(5, "s").unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::TooLong { len: 6, max: 5 });
        let e = Reader::new(b"\x01\x00\xff").str(5, "s").unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::BadUtf8);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let r = Reader::new(&[0]);
        assert_eq!(
            r.finish().unwrap_err().kind,
            DecodeErrorKind::TrailingBytes(1)
        );
    }
}
