//! qos-proto: the IOCTL ABI between tcctl and the qoslwf driver.
//!
//! Every request and reply starts with a versioned header; every field is
//! encoded explicitly in little-endian with length checks. Untrusted bytes
//! are never reinterpreted as structs.
#![no_std]
#![forbid(unsafe_code)]
// KERNEL LINTS: this crate runs in the driver; a panic is a bugcheck.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::panic_in_result_fn,
    )
)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod codec;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod ioctl;
pub mod model;
pub mod msg;
pub mod status;
pub mod transport;

pub use codec::{DecodeError, DecodeErrorKind};
pub use ioctl::Op;
pub use model::*;
pub use msg::{
    ABI_VERSION, ApplySummary, ClearFlags, DEFAULT_REPLY_CAPACITY, HEADER_LEN, MAGIC,
    MAX_REPLY_BYTES, MAX_REQUEST_BYTES, MIN_ERROR_REPLY_LEN, PageEncoder, REPLY_PREFIX_LEN, Reply,
    ReplyBody, Request, decode_reply, encode_reply,
};
pub use status::{ErrorReply, FieldId, ObjectRef, Status, ntstatus_for, status_of_ntstatus};
