//! The control plane as the driver hosts it: qos-control's handler over
//! the attached modules.

use crate::ffi::types::{NTSTATUS, STATUS_INVALID_DEVICE_REQUEST};
use crate::filter::FilterModule;

/// The driver's control-plane state.
#[derive(Debug, Default)]
pub struct Control {}

impl Control {
    /// No adapters yet.
    #[must_use]
    pub fn new() -> Self {
        Self {}
    }

    /// A module attached.
    pub fn adapter_added(&mut self, _m: &FilterModule) {}

    /// A module is detaching.
    pub fn adapter_removed(&mut self, _m: &FilterModule) {}
}

/// Handle one IOCTL: (status, bytes written to `output`).
pub fn dispatch(_code: u32, _input: &[u8], _output: &mut [u8]) -> (NTSTATUS, usize) {
    (STATUS_INVALID_DEVICE_REQUEST, 0)
}
