//! The control device (\Device\QosLwf, \DosDevices\QosLwf): SYSTEM and
//! Administrators only (SDDL), METHOD_BUFFERED IOCTLs dispatched into
//! qos-control.
//!
//! The I/O manager checks the access bits of each IOCTL code (FILE_READ /
//! FILE_WRITE_ACCESS) against the handle before the IRP reaches us; this
//! module checks the method and the buffer lengths, copies the input out of
//! the shared system buffer before the handler writes output into it, and
//! never reports more output than the caller's buffer holds.

use crate::ffi::api;
use crate::ffi::types::*;
use crate::ids;
use alloc::vec::Vec;

/// Largest input accepted: the protocol's request limit (bounds the copy).
pub const MAX_INPUT: usize = qos_proto::MAX_REQUEST_BYTES;
/// Largest output buffer honoured: the protocol's reply limit.
pub const MAX_OUTPUT: usize = qos_proto::MAX_REPLY_BYTES;

/// Register the control device.
///
/// # Safety
/// `filter_handle` is the driver's filter registration; `out` is writable.
pub(crate) unsafe fn register(filter_handle: NDIS_HANDLE, out: &mut NDIS_HANDLE) -> NDIS_STATUS {
    let mut table: [Option<DRIVER_DISPATCH>; IRP_MJ_COUNT] = [Some(dispatch_invalid); IRP_MJ_COUNT];
    for (i, slot) in table.iter_mut().enumerate() {
        let f: DRIVER_DISPATCH = match u8::try_from(i).unwrap_or(u8::MAX) {
            IRP_MJ_CREATE | IRP_MJ_CLOSE | IRP_MJ_CLEANUP => dispatch_create_close,
            IRP_MJ_DEVICE_CONTROL => dispatch_device_control,
            _ => dispatch_invalid,
        };
        *slot = Some(f);
    }
    let mut name = ids::ndis_string(&ids::wide::DEVICE_NAME_W);
    let mut link = ids::ndis_string(&ids::wide::SYMBOLIC_NAME_W);
    let sddl = ids::ndis_string(&ids::wide::DEVICE_SDDL_W);
    let mut attrs = NDIS_DEVICE_OBJECT_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES,
            Revision: NDIS_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
            Size: NDIS_SIZEOF_DEVICE_OBJECT_ATTRIBUTES_REVISION_1,
        },
        DeviceName: &mut name,
        SymbolicName: &mut link,
        MajorFunctions: table.as_mut_ptr(),
        ExtensionSize: 0,
        DefaultSDDLString: &sddl,
        DeviceClassGuid: core::ptr::null(),
    };
    let mut devobj: *mut DEVICE_OBJECT = core::ptr::null_mut();
    // SAFETY: every pointer in `attrs` is valid for the call (NDIS copies
    // the dispatch table into the driver object).
    unsafe { api::NdisRegisterDeviceEx(filter_handle, &mut attrs, &mut devobj, out) }
}

/// Complete an IRP with `status` and `information` bytes of output.
///
/// # Safety
/// `irp` is an IRP the I/O manager passed to one of our dispatch routines.
unsafe fn complete(irp: *mut IRP, status: NTSTATUS, information: usize) -> NTSTATUS {
    // SAFETY: contract: the IRP is ours until completed.
    if let Some(i) = unsafe { irp.as_mut() } {
        i.IoStatus.Status = status;
        i.IoStatus._StatusHigh = 0;
        i.IoStatus.Information = information;
    }
    // SAFETY: completing our IRP exactly once.
    unsafe { api::IofCompleteRequest(irp, IO_NO_INCREMENT) };
    status
}

/// IRP_MJ_CREATE / CLOSE / CLEANUP: nothing per handle.
///
/// # Safety
/// I/O manager contract.
pub unsafe extern "system" fn dispatch_create_close(
    _dev: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: forwarded contract.
    unsafe { complete(irp, STATUS_SUCCESS, 0) }
}

/// Every other major function.
///
/// # Safety
/// I/O manager contract.
pub unsafe extern "system" fn dispatch_invalid(
    _dev: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: forwarded contract.
    unsafe { complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0) }
}

/// IRP_MJ_DEVICE_CONTROL.
///
/// # Safety
/// I/O manager contract: METHOD_BUFFERED IRPs have a system buffer of
/// max(input, output) bytes.
pub unsafe extern "system" fn dispatch_device_control(
    _dev: *mut DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: contract: a valid IRP.
    let Some(i) = (unsafe { irp.as_ref() }) else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: IoGetCurrentIrpStackLocation of a valid IRP.
    let Some(sp) = (unsafe { i.CurrentStackLocation.as_ref() }) else {
        // SAFETY: forwarded contract.
        return unsafe { complete(irp, STATUS_INVALID_PARAMETER, 0) };
    };
    let code = sp.IoControlCode;
    let in_len = sp.InputBufferLength as usize;
    let out_len = sp.OutputBufferLength as usize;
    if code & 3 != METHOD_BUFFERED {
        // SAFETY: forwarded contract.
        return unsafe { complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0) };
    }
    if in_len > MAX_INPUT || out_len > MAX_OUTPUT {
        // SAFETY: forwarded contract.
        return unsafe { complete(irp, STATUS_INVALID_PARAMETER, 0) };
    }
    let buf = i.SystemBuffer.cast::<u8>();
    if buf.is_null() && (in_len > 0 || out_len > 0) {
        // SAFETY: forwarded contract.
        return unsafe { complete(irp, STATUS_INVALID_PARAMETER, 0) };
    }
    // The system buffer is shared between input and output: copy the input
    // out first.
    let mut input = Vec::new();
    if input.try_reserve_exact(in_len).is_err() {
        // SAFETY: forwarded contract.
        return unsafe { complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0) };
    }
    if in_len > 0 {
        // SAFETY: METHOD_BUFFERED: the system buffer holds in_len input bytes.
        input.extend_from_slice(unsafe { core::slice::from_raw_parts(buf, in_len) });
    }
    let output: &mut [u8] = if out_len > 0 {
        // SAFETY: METHOD_BUFFERED: the system buffer has room for out_len
        // bytes, and `input` no longer aliases it.
        unsafe { core::slice::from_raw_parts_mut(buf, out_len) }
    } else {
        &mut []
    };
    let (status, written) = crate::control::dispatch(code, &input, output);
    let written = written.min(out_len);
    // SAFETY: forwarded contract.
    unsafe { complete(irp, status, written) }
}
