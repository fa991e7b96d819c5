//! The Unix-socket framing that carries the same IOCTL bytes between tcctl
//! and lwfhost (or the in-process test server).
//!
//! On one SOCK_STREAM connection, repeated:
//! - request: `u32 LE ioctl_code | u32 LE output_buffer_length |
//!   u32 LE input_length | input bytes`
//! - reply: `u32 LE ntstatus | u32 LE information | output bytes`
//!   (`information` = bytes of output that follow, `<= output_buffer_length`).
//!
//! These helpers encode and check the fixed-size prefixes; the caller does
//! the I/O (read the prefix, check it, then read exactly the announced
//! bytes). The limits bound what a server allocates before reading.

use crate::msg::{MAX_REPLY_BYTES, MAX_REQUEST_BYTES};

/// Bytes of a request frame's prefix.
pub const REQUEST_PREFIX_LEN: usize = 12;
/// Bytes of a reply frame's prefix.
pub const REPLY_PREFIX_LEN: usize = 8;

/// A request frame's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestFrame {
    /// IOCTL code.
    pub code: u32,
    /// Output buffer length the caller offers.
    pub output_len: u32,
    /// Bytes of input that follow.
    pub input_len: u32,
}

/// A reply frame's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyFrame {
    /// NTSTATUS of the call.
    pub ntstatus: u32,
    /// Bytes of output that follow.
    pub information: u32,
}

/// Why a frame prefix was refused (the connection should be closed: the
/// stream cannot be resynchronised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// Input longer than [`MAX_REQUEST_BYTES`].
    InputTooLarge(u32),
    /// Output buffer longer than [`MAX_REPLY_BYTES`].
    OutputTooLarge(u32),
    /// A reply announces more output than the request's buffer allows.
    ReplyTooLarge {
        /// Bytes announced.
        information: u32,
        /// The request's output buffer length.
        output_len: u32,
    },
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InputTooLarge(n) => write!(
                f,
                "request input of {n} bytes exceeds the limit of {MAX_REQUEST_BYTES}"
            ),
            Self::OutputTooLarge(n) => write!(
                f,
                "output buffer of {n} bytes exceeds the limit of {MAX_REPLY_BYTES}"
            ),
            Self::ReplyTooLarge {
                information,
                output_len,
            } => write!(
                f,
                "reply announces {information} bytes for a buffer of {output_len}"
            ),
        }
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(i..i.saturating_add(4)) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl RequestFrame {
    /// The prefix for sending `input` with IOCTL `code`, offering an
    /// output buffer of `output_len` bytes.
    #[must_use]
    pub fn new(code: u32, output_len: usize, input: &[u8]) -> Self {
        Self {
            code,
            output_len: len_u32(output_len),
            input_len: len_u32(input.len()),
        }
    }

    /// Encodes the prefix.
    #[must_use]
    pub fn encode(&self) -> [u8; REQUEST_PREFIX_LEN] {
        let mut b = [0u8; REQUEST_PREFIX_LEN];
        for (dst, v) in b
            .chunks_exact_mut(4)
            .zip([self.code, self.output_len, self.input_len])
        {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Decodes and checks a prefix (server side).
    ///
    /// # Errors
    /// Input or output length over its limit.
    pub fn decode(b: &[u8; REQUEST_PREFIX_LEN]) -> Result<Self, FrameError> {
        let f = Self {
            code: u32_at(b, 0),
            output_len: u32_at(b, 4),
            input_len: u32_at(b, 8),
        };
        if usize::try_from(f.input_len).map_or(true, |n| n > MAX_REQUEST_BYTES) {
            return Err(FrameError::InputTooLarge(f.input_len));
        }
        if usize::try_from(f.output_len).map_or(true, |n| n > MAX_REPLY_BYTES) {
            return Err(FrameError::OutputTooLarge(f.output_len));
        }
        Ok(f)
    }
}

impl ReplyFrame {
    /// The prefix for a reply of `output` bytes.
    #[must_use]
    pub fn new(ntstatus: u32, output: &[u8]) -> Self {
        Self {
            ntstatus,
            information: len_u32(output.len()),
        }
    }

    /// Encodes the prefix.
    #[must_use]
    pub fn encode(&self) -> [u8; REPLY_PREFIX_LEN] {
        let mut b = [0u8; REPLY_PREFIX_LEN];
        for (dst, v) in b.chunks_exact_mut(4).zip([self.ntstatus, self.information]) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Decodes and checks a prefix (client side) against the request's
    /// output buffer length.
    ///
    /// # Errors
    /// More output announced than the buffer offered.
    pub fn decode(b: &[u8; REPLY_PREFIX_LEN], output_len: u32) -> Result<Self, FrameError> {
        let f = Self {
            ntstatus: u32_at(b, 0),
            information: u32_at(b, 4),
        };
        if f.information > output_len {
            return Err(FrameError::ReplyTooLarge {
                information: f.information,
                output_len,
            });
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_prefix_golden_bytes() {
        let f = RequestFrame::new(0x8051_6000, 65536, &[0; 12]);
        let b = f.encode();
        assert_eq!(b, [0x00, 0x60, 0x51, 0x80, 0, 0, 1, 0, 12, 0, 0, 0]);
        assert_eq!(RequestFrame::decode(&b).unwrap(), f);
    }

    #[test]
    fn reply_prefix_golden_bytes() {
        let f = ReplyFrame::new(0xA051_1D58, &[0; 42]);
        let b = f.encode();
        assert_eq!(b, [0x58, 0x1D, 0x51, 0xA0, 42, 0, 0, 0]);
        assert_eq!(ReplyFrame::decode(&b, 100).unwrap(), f);
        assert_eq!(
            ReplyFrame::decode(&b, 41).unwrap_err(),
            FrameError::ReplyTooLarge {
                information: 42,
                output_len: 41
            }
        );
    }

    #[test]
    fn oversized_frames_are_refused_before_allocating() {
        let mut b = RequestFrame::new(1, 0, &[]).encode();
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            RequestFrame::decode(&b).unwrap_err(),
            FrameError::InputTooLarge(u32::MAX)
        );
        let mut b = RequestFrame::new(1, 0, &[]).encode();
        b[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            RequestFrame::decode(&b).unwrap_err(),
            FrameError::OutputTooLarge(u32::MAX)
        );
    }
}
