//! The fuzz body: random bytes into every decoder. Shared by the cargo-fuzz
//! target (driver/proto/fuzz) and a stable unit test that runs it over
//! pseudo-random inputs.

use crate::codec::Reader;
use crate::ioctl::Op;
use crate::msg::{ABI_VERSION, Request, decode_reply, encode_reply};
use crate::transport::{REPLY_PREFIX_LEN, REQUEST_PREFIX_LEN, ReplyFrame, RequestFrame};

/// Feeds `data` to every decoder: the request decoder under every IOCTL
/// code (and the code named by the first 4 bytes), the reply decoder for
/// every operation, and the transport prefixes. Whatever decodes must
/// re-encode to the same bytes (the encoding is canonical); nothing may
/// panic. Returns how many decoders accepted the input.
///
/// Panics (an assertion, fuzz/test use only) if a decoded value does not
/// re-encode to the input.
#[doc(hidden)]
#[allow(clippy::panic)]
#[must_use]
pub fn fuzz_decoders(data: &[u8]) -> usize {
    let mut accepted = 0usize;
    let mut codes: alloc::vec::Vec<u32> = Op::ALL.iter().map(|op| op.code()).collect();
    let mut r = Reader::new(data);
    if let Ok(c) = r.u32("code") {
        codes.push(c);
    }
    for code in codes {
        if let Ok(req) = Request::decode(code, data) {
            accepted = accepted.saturating_add(1);
            if req.encode() != data {
                panic!("request {req:?} does not re-encode to its input");
            }
        }
    }
    for &op in Op::ALL {
        if let Ok(reply) = decode_reply(op, data) {
            accepted = accepted.saturating_add(1);
            if reply.as_ref().is_err_and(|e| e.status.code() == 0) {
                panic!("decoded an error reply with status 0");
            }
            // A version-mismatch error of another ABI version decodes but
            // re-encodes with this crate's version.
            let same_version = data.get(4..6) == Some(&ABI_VERSION.to_le_bytes()[..]);
            if same_version && encode_reply(&reply) != data {
                panic!("reply {reply:?} does not re-encode to its input");
            }
        }
    }
    if let Some(p) = data.first_chunk::<REQUEST_PREFIX_LEN>() {
        if RequestFrame::decode(p).is_ok() {
            accepted = accepted.saturating_add(1);
        }
    }
    if let Some(p) = data.first_chunk::<REPLY_PREFIX_LEN>() {
        if ReplyFrame::decode(p, u32::MAX).is_ok() {
            accepted = accepted.saturating_add(1);
        }
    }
    accepted
}
