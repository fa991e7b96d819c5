//! Fake drivers for the paths the real handler cannot show: a driver of
//! another ABI version, and one that answers garbage.

use qos_proto::{ABI_VERSION, ErrorReply, FieldId, ObjectRef, Status, encode_reply, ntstatus_for};

use super::Handler;

/// A driver that speaks ABI version `version` and refuses every request of
/// this tcctl's version, as a real one would (the error reply's layout is
/// frozen across versions; its header carries the driver's version).
pub fn other_version(version: u16) -> Handler {
    Box::new(move |_code, _input, output| {
        let e = ErrorReply::new(
            Status::IncompatibleVersion,
            ObjectRef::Request,
            FieldId::NONE,
            "",
        )
        .with_args(u64::from(version), u64::from(ABI_VERSION));
        let mut bytes = encode_reply(&Err(e));
        // The header's version is the driver's.
        bytes[4..6].copy_from_slice(&version.to_le_bytes());
        let n = bytes.len().min(output.len());
        output[..n].copy_from_slice(&bytes[..n]);
        (ntstatus_for(Status::IncompatibleVersion), n)
    })
}

/// A driver that answers every request with bytes that do not decode.
pub fn garbage() -> Handler {
    Box::new(|_code, _input, output| {
        let n = 7.min(output.len());
        output[..n].fill(0xEE);
        (0, n)
    })
}

/// A driver that completes every request with `ntstatus` and no output
/// (an older driver: STATUS_INVALID_DEVICE_REQUEST; a handle without the
/// access an IOCTL code requires: STATUS_ACCESS_DENIED).
pub fn bare_status(ntstatus: u32) -> Handler {
    Box::new(move |_code, _input, _output| (ntstatus, 0))
}
