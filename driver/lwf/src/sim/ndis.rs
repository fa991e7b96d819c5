//! The simulated backend of the FFI seam: the same names and signatures as
//! the ndis.sys / ntoskrnl.exe imports in `ffi/win.rs`, implemented over
//! the harness state in [`super`]. Every call is checked against NDIS's
//! rules where a real NDIS would misbehave or bugcheck (an NBL completed
//! twice, sent down while not owned, a RESOURCES receive held, a pause
//! completed that was not pending); violations are recorded as errors that
//! tests assert empty.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use super::packet::Owner;
use super::{SimAdapter, TimerSlot, global, lock};
use crate::ffi::types::*;
use core::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn adapter<'a>(h: NDIS_HANDLE) -> &'a SimAdapter {
    // SAFETY: filter handles the sim hands out are `Arc::as_ptr` of a
    // SimAdapter kept alive by the registry until after detach.
    unsafe { &*h.cast::<SimAdapter>().cast_const() }
}

pub unsafe extern "system" fn NdisFRegisterFilterDriver(
    _DriverObject: *mut DRIVER_OBJECT,
    FilterDriverContext: NDIS_HANDLE,
    chars: *mut NDIS_FILTER_DRIVER_CHARACTERISTICS,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    if super::take_fault(super::Fault::RegisterFilter) {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: the driver passes a valid block.
    let c = unsafe { *chars };
    if c.Header.Type != NDIS_OBJECT_TYPE_FILTER_DRIVER_CHARACTERISTICS {
        return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    // Header revision must match the NDIS version claimed.
    let want = match (c.MajorNdisVersion, c.MinorNdisVersion) {
        (6, 1..=79) => (2, 0xe0),
        (6, 80..) => (3, 0xf0),
        _ => return NDIS_STATUS_BAD_VERSION,
    };
    if (c.Header.Revision, c.Header.Size) != want || c.MinorNdisVersion < 30 {
        return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    if c.SendNetBufferListsHandler.is_none() || c.AttachHandler.is_none() {
        return NDIS_STATUS_BAD_CHARACTERISTICS;
    }
    let mut g = lock(global());
    if g.driver.is_some() {
        return NDIS_STATUS_FAILURE;
    }
    g.driver = Some(super::RegisteredDriver {
        chars: c,
        context: FilterDriverContext as usize,
        friendly: super::string_of(&c.FriendlyName),
        unique: super::string_of(&c.UniqueName),
        service: super::string_of(&c.ServiceName),
    });
    g.live.filter_drivers += 1;
    // SAFETY: valid out pointer.
    unsafe { *out = 0x5EED_F117 as NDIS_HANDLE };
    NDIS_STATUS_SUCCESS
}

pub unsafe extern "system" fn NdisFDeregisterFilterDriver(_h: NDIS_HANDLE) {
    // NDIS pauses and detaches every module first.
    super::detach_all();
    let mut g = lock(global());
    if g.driver.take().is_some() {
        g.live.filter_drivers -= 1;
    } else {
        g.errors
            .push("NdisFDeregisterFilterDriver without registration".into());
    }
}

pub unsafe extern "system" fn NdisRegisterDeviceEx(
    _h: NDIS_HANDLE,
    attrs: *mut NDIS_DEVICE_OBJECT_ATTRIBUTES,
    dev: *mut *mut DEVICE_OBJECT,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    if super::take_fault(super::Fault::RegisterDevice) {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: the driver passes valid attributes.
    let a = unsafe { &*attrs };
    if a.Header.Type != NDIS_OBJECT_TYPE_DEVICE_OBJECT_ATTRIBUTES || a.MajorFunctions.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let mut table = [None; IRP_MJ_COUNT];
    for (i, slot) in table.iter_mut().enumerate() {
        let entry = a.MajorFunctions.wrapping_add(i);
        // SAFETY: the table has IRP_MJ_MAXIMUM_FUNCTION + 1 entries.
        *slot = unsafe { *entry };
    }
    // SAFETY: valid string pointers for the call.
    let name = unsafe { a.DeviceName.as_ref() }
        .map(super::string_of)
        .unwrap_or_default();
    // SAFETY: as above.
    let link = unsafe { a.SymbolicName.as_ref() }
        .map(super::string_of)
        .unwrap_or_default();
    // SAFETY: as above.
    let sddl = unsafe { a.DefaultSDDLString.as_ref() }
        .map(super::string_of)
        .unwrap_or_default();
    let mut g = lock(global());
    if g.device.is_some() {
        return NDIS_STATUS_FAILURE;
    }
    let obj = Box::new(super::SimDeviceObject(DEVICE_OBJECT {
        Type: 3,
        Size: 0x150,
        ReferenceCount: 0,
        DriverObject: core::ptr::null_mut(),
        NextDevice: core::ptr::null_mut(),
        AttachedDevice: core::ptr::null_mut(),
        CurrentIrp: core::ptr::null_mut(),
        Timer: core::ptr::null_mut(),
        Flags: 0,
        Characteristics: 0,
        Vpb: core::ptr::null_mut(),
        DeviceExtension: core::ptr::null_mut(),
        DeviceType: FILE_DEVICE_NETWORK,
        StackSize: 1,
    }));
    let mut dev_box = obj;
    let dp = core::ptr::from_mut(&mut dev_box.0);
    g.device = Some(super::SimDevice {
        table,
        name,
        link,
        sddl,
        object: dev_box,
    });
    g.live.devices += 1;
    // SAFETY: valid out pointers.
    unsafe { *dev = dp };
    // SAFETY: as above.
    unsafe { *out = 0x00DE_71CE as NDIS_HANDLE };
    NDIS_STATUS_SUCCESS
}

pub unsafe extern "system" fn NdisDeregisterDeviceEx(_h: NDIS_HANDLE) {
    let mut g = lock(global());
    if g.device.take().is_some() {
        g.live.devices -= 1;
    } else {
        g.errors
            .push("NdisDeregisterDeviceEx without a device".into());
    }
}

pub unsafe extern "system" fn NdisFSetAttributes(
    h: NDIS_HANDLE,
    ctx: NDIS_HANDLE,
    attrs: *mut NDIS_FILTER_ATTRIBUTES,
) -> NDIS_STATUS {
    if super::take_fault(super::Fault::SetAttributes) {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: valid attributes.
    let a = unsafe { &*attrs };
    if a.Header.Type != NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES || ctx.is_null() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    adapter(h).module_ctx.store(ctx as usize, Ordering::Release);
    NDIS_STATUS_SUCCESS
}

pub unsafe extern "system" fn NdisFSendNetBufferLists(
    h: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    flags: u32,
) {
    adapter(h).miniport_send(nbl, flags);
}

pub unsafe extern "system" fn NdisFSendNetBufferListsComplete(
    h: NDIS_HANDLE,
    nbl: *mut NET_BUFFER_LIST,
    _flags: u32,
) {
    adapter(h).protocol_send_complete(nbl);
}

pub unsafe extern "system" fn NdisFIndicateReceiveNetBufferLists(
    h: NDIS_HANDLE,
    nbls: *mut NET_BUFFER_LIST,
    _port: NDIS_PORT_NUMBER,
    count: u32,
    flags: u32,
) {
    adapter(h).protocol_receive(nbls, count, flags);
}

pub unsafe extern "system" fn NdisFReturnNetBufferLists(
    h: NDIS_HANDLE,
    nbls: *mut NET_BUFFER_LIST,
    _flags: u32,
) {
    adapter(h).miniport_return(nbls);
}

pub unsafe extern "system" fn NdisFCancelSendNetBufferLists(h: NDIS_HANDLE, id: *mut c_void) {
    let a = adapter(h);
    lock(&a.st).cancels_down.push(id as usize);
}

pub unsafe extern "system" fn NdisFPauseComplete(h: NDIS_HANDLE) {
    let a = adapter(h);
    let mut s = lock(&a.st);
    if s.pause_pending {
        s.pause_pending = false;
        s.paused = true;
    } else {
        s.errors
            .push("NdisFPauseComplete without a pending pause".into());
    }
}

pub unsafe extern "system" fn NdisFIndicateStatus(
    h: NDIS_HANDLE,
    ind: *mut NDIS_STATUS_INDICATION,
) {
    let a = adapter(h);
    // SAFETY: valid indication from the filter.
    let code = unsafe { (*ind).StatusCode };
    lock(&a.st).statuses_up.push(code);
}

pub unsafe extern "system" fn NdisFNetPnPEvent(_h: NDIS_HANDLE, _ev: *mut c_void) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}

pub unsafe extern "system" fn NdisAllocateTimerObject(
    _h: NDIS_HANDLE,
    chars: *mut NDIS_TIMER_CHARACTERISTICS,
    out: *mut NDIS_HANDLE,
) -> NDIS_STATUS {
    if super::take_fault(super::Fault::AllocateTimer) {
        return NDIS_STATUS_RESOURCES;
    }
    // SAFETY: valid characteristics.
    let c = unsafe { *chars };
    if c.Header.Type != NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS || c.TimerFunction.is_none() {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let t = Arc::new(TimerSlot {
        func: c.TimerFunction,
        default_ctx: c.FunctionContext as usize,
        inner: std::sync::Mutex::new(super::TimerState::default()),
    });
    let p = Arc::as_ptr(&t);
    let mut g = lock(global());
    g.timers.push(t);
    g.live.timers += 1;
    // SAFETY: valid out pointer.
    unsafe { *out = p.cast_mut().cast() };
    NDIS_STATUS_SUCCESS
}

fn timer<'a>(h: NDIS_HANDLE) -> &'a TimerSlot {
    // SAFETY: timer handles are Arc::as_ptr of slots kept in the registry
    // until NdisFreeTimerObject.
    unsafe { &*h.cast::<TimerSlot>().cast_const() }
}

pub unsafe extern "system" fn NdisSetTimerObject(
    t: NDIS_HANDLE,
    due: i64,
    period: u32,
    ctx: *mut c_void,
) -> BOOLEAN {
    let now = query_interrupt_time();
    let at = if due < 0 {
        now.saturating_add(due.unsigned_abs())
    } else {
        // Absolute system time: the sim's system time is its clock.
        due.unsigned_abs()
    };
    let slot = timer(t);
    let mut s = lock(&slot.inner);
    let was = s.due.is_some();
    s.due = Some(at);
    s.period = period;
    s.ctx = if ctx.is_null() {
        slot.default_ctx
    } else {
        ctx as usize
    };
    s.sets += 1;
    drop(s);
    super::timer_kick();
    BOOLEAN::from(was)
}

pub unsafe extern "system" fn NdisCancelTimerObject(t: NDIS_HANDLE) -> BOOLEAN {
    let mut s = lock(&timer(t).inner);
    BOOLEAN::from(s.due.take().is_some())
}

pub unsafe extern "system" fn NdisFreeTimerObject(t: NDIS_HANDLE) {
    let p = t.cast::<TimerSlot>().cast_const();
    let slot = {
        let mut g = lock(global());
        let Some(i) = g.timers.iter().position(|x| Arc::as_ptr(x) == p) else {
            g.errors
                .push("NdisFreeTimerObject of an unknown timer".into());
            return;
        };
        g.live.timers -= 1;
        g.timers.swap_remove(i)
    };
    let mut s = lock(&slot.inner);
    s.due = None;
    s.freed = true;
}

pub unsafe extern "system" fn NdisAllocateSpinLock(l: *mut NDIS_SPIN_LOCK) {
    // SAFETY: valid lock storage.
    unsafe { (*l).SpinLock = 0 };
}

pub unsafe extern "system" fn NdisFreeSpinLock(_l: *mut NDIS_SPIN_LOCK) {}

pub unsafe extern "system" fn NdisAcquireSpinLock(l: *mut NDIS_SPIN_LOCK) {
    // SAFETY: the lock word is a usize at offset 0, suitably aligned, and
    // only ever accessed atomically by these two functions.
    let word = unsafe { AtomicUsize::from_ptr(l.cast::<usize>()) };
    let mut spins = 0u32;
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins += 1;
        if spins > 64 {
            std::thread::yield_now();
        } else {
            core::hint::spin_loop();
        }
    }
}

pub unsafe extern "system" fn NdisReleaseSpinLock(l: *mut NDIS_SPIN_LOCK) {
    // SAFETY: see NdisAcquireSpinLock.
    let word = unsafe { AtomicUsize::from_ptr(l.cast::<usize>()) };
    word.store(0, Ordering::Release);
}

pub unsafe extern "system" fn MmMapLockedPagesSpecifyCache(
    mdl: *mut MDL,
    _mode: i8,
    _cache: u32,
    _addr: *mut c_void,
    _bugcheck: u32,
    _prio: u32,
) -> *mut c_void {
    // SAFETY: valid MDL; the sim's buffers are always mapped.
    unsafe { (*mdl).MappedSystemVa }
}

pub unsafe extern "system" fn IofCompleteRequest(irp: *mut IRP, _boost: i8) {
    super::irp_completed(irp);
}

pub unsafe extern "system" fn KeInitializeMutex(m: *mut KMUTEX, _level: u32) {
    // SAFETY: valid mutex storage; the first word is the sim's lock word.
    unsafe { (*m).Opaque = [0; 7] };
}

pub unsafe extern "system" fn KeWaitForSingleObject(
    object: *mut c_void,
    _reason: u32,
    _mode: i8,
    _alertable: BOOLEAN,
    _timeout: *mut i64,
) -> NTSTATUS {
    // SAFETY: the object is a KMUTEX whose first u64 is only ever accessed
    // atomically by these functions.
    let word = unsafe { AtomicUsize::from_ptr(object.cast::<usize>()) };
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // A waiter sleeps (PASSIVE_LEVEL), it does not spin.
        std::thread::yield_now();
    }
    STATUS_SUCCESS
}

pub unsafe extern "system" fn KeReleaseMutex(m: *mut KMUTEX, _wait: BOOLEAN) -> i32 {
    // SAFETY: see KeWaitForSingleObject.
    let word = unsafe { AtomicUsize::from_ptr(m.cast::<usize>()) };
    word.store(0, Ordering::Release);
    0
}

pub unsafe extern "system" fn KeFlushQueuedDpcs() {
    super::wait_timer_callbacks();
}

/// Interrupt time in 100 ns ticks: the virtual clock, or a monotonic
/// clock in real-time mode.
#[must_use]
pub fn query_interrupt_time() -> u64 {
    super::now()
}

/// Owner bookkeeping used by the adapter methods.
pub(crate) fn owner_name(o: Owner) -> &'static str {
    match o {
        Owner::Filter => "filter",
        Owner::Miniport => "miniport",
        Owner::RxFilter => "rx-filter",
        Owner::RxProtocol => "rx-protocol",
        Owner::RxReturning => "rx-returning",
    }
}
