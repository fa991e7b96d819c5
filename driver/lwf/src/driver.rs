//! DriverEntry and unload: register the filter (NDIS 6.30, REVISION_2
//! characteristics) and the control device; keep the list of attached
//! modules for the control device's referenced lookups.
//!
//! Every failure path unwinds what was done before it.

use crate::control::Control;
use crate::ffi::api;
use crate::ffi::types::*;
use crate::filter::{self, FilterModule};
use crate::ids;
use crate::sync::{PassiveMutex, SpinLock};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Driver-wide state (one per loaded driver).
#[derive(Debug)]
pub struct DriverCtx {
    filter_handle: NDIS_HANDLE,
    device_handle: NDIS_HANDLE,
    /// Attached modules; a lookup clones an `Arc` under the lock, so a
    /// module found by the control device stays valid through detach.
    modules: SpinLock<Vec<Arc<FilterModule>>>,
    /// The control plane (qos-control) and its adapter configurations,
    /// behind a PASSIVE_LEVEL mutex: dispatch compiles snapshots and
    /// allocates; it is only taken from IOCTL dispatch, attach, restart and
    /// detach, all at PASSIVE_LEVEL.
    pub(crate) control: PassiveMutex<Control>,
}

// SAFETY: the NDIS handles are opaque tokens usable from any processor; the
// rest is behind spin locks.
unsafe impl Send for DriverCtx {}
// SAFETY: as above.
unsafe impl Sync for DriverCtx {}

static DRIVER: AtomicPtr<DriverCtx> = AtomicPtr::new(core::ptr::null_mut());

/// The loaded driver's context, if loaded.
pub(crate) fn ctx() -> Option<&'static DriverCtx> {
    let p = DRIVER.load(Ordering::Acquire);
    // SAFETY: DRIVER is non-NULL only between a successful driver_entry and
    // the end of unload, when NDIS no longer calls us.
    unsafe { p.as_ref() }
}

/// Add a freshly attached module to the list.
pub(crate) fn register_module(m: Arc<FilterModule>) {
    if let Some(d) = ctx() {
        d.modules.lock().push(Arc::clone(&m));
        d.control.lock().adapter_added(&m);
    }
}

/// A module restarted (PASSIVE_LEVEL): re-admit its configuration at the
/// link speed it reports now (link-state indications arrive at up to
/// DISPATCH_LEVEL and only record the speed).
pub(crate) fn module_restarted(m: &FilterModule) {
    if let Some(d) = ctx() {
        d.control.lock().link_changed(m);
    }
}

/// Remove a detaching module from the list.
pub(crate) fn unregister_module(raw: *const FilterModule) {
    if let Some(d) = ctx() {
        let removed = {
            let mut g = d.modules.lock();
            let pos = g.iter().position(|m| core::ptr::eq(Arc::as_ptr(m), raw));
            pos.map(|i| g.swap_remove(i))
        };
        if let Some(m) = removed {
            d.control.lock().adapter_removed(&m);
        }
    }
}

/// Referenced lookup: every attached module, each with its own reference.
#[allow(dead_code)]
pub(crate) fn modules() -> Vec<Arc<FilterModule>> {
    ctx().map_or_else(Vec::new, |d| d.modules.lock().clone())
}

/// Referenced lookup by NET_LUID.
#[allow(dead_code)]
pub(crate) fn module_by_luid(luid: u64) -> Option<Arc<FilterModule>> {
    let d = ctx()?;
    let g = d.modules.lock();
    g.iter().find(|m| m.info.net_luid == luid).cloned()
}

fn characteristics() -> NDIS_FILTER_DRIVER_CHARACTERISTICS {
    NDIS_FILTER_DRIVER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS,
            Revision: NDIS_FILTER_CHARACTERISTICS_REVISION_2,
            Size: NDIS_SIZEOF_FILTER_DRIVER_CHARACTERISTICS_REVISION_2,
        },
        MajorNdisVersion: NDIS_FILTER_MAJOR_VERSION,
        MinorNdisVersion: NDIS_FILTER_MINOR_VERSION,
        MajorDriverVersion: 1,
        MinorDriverVersion: 0,
        Flags: 0,
        FriendlyName: ids::ndis_string(&ids::wide::FRIENDLY_NAME_W),
        UniqueName: ids::ndis_string(&ids::wide::UNIQUE_NAME_W),
        ServiceName: ids::ndis_string(&ids::wide::SERVICE_NAME_W),
        SetOptionsHandler: None,
        SetFilterModuleOptionsHandler: Some(filter::filter_set_module_options),
        AttachHandler: Some(filter::filter_attach),
        DetachHandler: Some(filter::filter_detach),
        RestartHandler: Some(filter::filter_restart),
        PauseHandler: Some(filter::filter_pause),
        SendNetBufferListsHandler: Some(filter::filter_send),
        SendNetBufferListsCompleteHandler: Some(filter::filter_send_complete),
        CancelSendNetBufferListsHandler: Some(filter::filter_cancel_send),
        ReceiveNetBufferListsHandler: Some(filter::filter_receive),
        ReturnNetBufferListsHandler: Some(filter::filter_return),
        OidRequestHandler: None,
        OidRequestCompleteHandler: None,
        CancelOidRequestHandler: None,
        DevicePnPEventNotifyHandler: None,
        NetPnPEventHandler: Some(filter::filter_net_pnp_event),
        StatusHandler: Some(filter::filter_status),
        DirectOidRequestHandler: None,
        DirectOidRequestCompleteHandler: None,
        CancelDirectOidRequestHandler: None,
    }
}

/// The driver's entry point (exported as `DriverEntry` on Windows; the
/// simulated NDIS calls it directly).
///
/// # Safety
/// `driver_object` is the I/O manager's driver object for this image.
pub unsafe fn driver_entry(
    driver_object: *mut DRIVER_OBJECT,
    _registry_path: *mut UNICODE_STRING,
) -> NTSTATUS {
    if driver_object.is_null() || !DRIVER.load(Ordering::Acquire).is_null() {
        return STATUS_UNSUCCESSFUL;
    }
    let ctx = Box::into_raw(Box::new(DriverCtx {
        filter_handle: core::ptr::null_mut(),
        device_handle: core::ptr::null_mut(),
        modules: SpinLock::new(Vec::new()),
        control: PassiveMutex::new(Control::new()),
    }));
    // SAFETY: `ctx` was just allocated and is not shared yet.
    unsafe { (*ctx).control.init() };
    // Published before registering: NDIS may attach modules before
    // NdisFRegisterFilterDriver returns.
    DRIVER.store(ctx, Ordering::Release);
    let mut chars = characteristics();
    let mut filter_handle: NDIS_HANDLE = core::ptr::null_mut();
    // SAFETY: valid driver object, characteristics and out pointer.
    let st = unsafe {
        api::NdisFRegisterFilterDriver(driver_object, ctx.cast(), &mut chars, &mut filter_handle)
    };
    if st != NDIS_STATUS_SUCCESS {
        DRIVER.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: `ctx` came from Box::into_raw above; nobody else kept it.
        drop(unsafe { Box::from_raw(ctx) });
        return st;
    }
    let mut device_handle: NDIS_HANDLE = core::ptr::null_mut();
    // SAFETY: filter_handle is the registration just made.
    let st = unsafe { crate::device::register(filter_handle, &mut device_handle) };
    if st != NDIS_STATUS_SUCCESS {
        // SAFETY: undo the registration above (detaches any module).
        unsafe { api::NdisFDeregisterFilterDriver(filter_handle) };
        DRIVER.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: `ctx` came from Box::into_raw above; deregistration
        // detached every module, so nothing references it any more.
        drop(unsafe { Box::from_raw(ctx) });
        return st;
    }
    // SAFETY: `ctx` is valid and not yet shared with another thread that
    // reads these two fields (they are only read in unload).
    unsafe {
        (*ctx).filter_handle = filter_handle;
    }
    // SAFETY: as above.
    unsafe {
        (*ctx).device_handle = device_handle;
    }
    // SAFETY: the I/O manager's driver object is ours to fill in.
    unsafe { (*driver_object).DriverUnload = Some(driver_unload) };
    STATUS_SUCCESS
}

/// DriverUnload: deregister the device, then the filter (NDIS pauses and
/// detaches every module first), then free the driver context.
///
/// # Safety
/// Called once by the I/O manager after a successful [`driver_entry`].
pub unsafe extern "system" fn driver_unload(_driver_object: *mut DRIVER_OBJECT) {
    let ctx = DRIVER.load(Ordering::Acquire);
    // SAFETY: set by driver_entry, still valid.
    let Some(d) = (unsafe { ctx.as_ref() }) else {
        return;
    };
    // SAFETY: registered in driver_entry.
    unsafe { api::NdisDeregisterDeviceEx(d.device_handle) };
    // SAFETY: registered in driver_entry.
    unsafe { api::NdisFDeregisterFilterDriver(d.filter_handle) };
    DRIVER.store(core::ptr::null_mut(), Ordering::Release);
    // SAFETY: from Box::into_raw in driver_entry; NDIS and the I/O manager
    // no longer call into the driver.
    drop(unsafe { Box::from_raw(ctx) });
}

/// The image's entry point.
///
/// # Safety
/// Called once by the I/O manager.
#[cfg(target_os = "windows")]
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver_object: *mut DRIVER_OBJECT,
    registry_path: *mut UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: forwarded from the I/O manager.
    unsafe { driver_entry(driver_object, registry_path) }
}
