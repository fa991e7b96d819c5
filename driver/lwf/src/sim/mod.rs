//! The simulated NDIS (host only): the harness the HLK-style suite and
//! lwfhost drive the real driver with.
//!
//! - [`Sim`]: load / unload the driver (its real `DriverEntry` and unload),
//!   the clock (virtual: [`Sim::advance`]; or real time: a thread fires the
//!   timers from a monotonic clock), the control device ([`Sim::ioctl`]),
//!   live-object counters ([`Sim::live`]) and recorded rule violations
//!   ([`Sim::errors`]).
//! - [`Adapter`]: one miniport the filter attached to, with a fake protocol
//!   above ([`Adapter::send`], completions, receives indicated up) and a
//!   fake miniport below (frames sent down go to a log or a callback and are
//!   completed at once or on command).
//!
//! One `Sim` exists at a time per process (a driver is loaded once); `Sim`
//! holds a process-wide lock, so tests in one binary run one after another.
#![allow(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc
)]

pub mod ndis;
mod packet;

pub use packet::TxPacket;

/// Build one NBL the way the simulated NDIS does (unit tests of the NBL
/// views).
#[cfg(test)]
pub(crate) fn packet_for_tests(p: &TxPacket) -> Box<packet::SimPacket> {
    packet::SimPacket::build(p, 1, 0, Owner::Filter)
}

use crate::ffi::types::*;
use core::ffi::c_void;
use packet::{Owner, SimPacket};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Lock a mutex, ignoring poisoning (a failed test must not cascade).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------- global

/// Counts of live NDIS objects (allocation tracking: all zero after unload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    /// Filter driver registrations.
    pub filter_drivers: i64,
    /// Control devices.
    pub devices: i64,
    /// Timer objects.
    pub timers: i64,
    /// Attached filter modules.
    pub modules: i64,
    /// NBLs allocated by the fake protocol / miniport and not yet freed.
    pub nbls: i64,
}

/// A call the next time of which fails (fault injection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// NdisFRegisterFilterDriver returns NDIS_STATUS_RESOURCES.
    RegisterFilter,
    /// NdisRegisterDeviceEx fails.
    RegisterDevice,
    /// NdisAllocateTimerObject fails.
    AllocateTimer,
    /// NdisFSetAttributes fails.
    SetAttributes,
}

pub(crate) struct RegisteredDriver {
    pub(crate) chars: NDIS_FILTER_DRIVER_CHARACTERISTICS,
    pub(crate) context: usize,
    pub(crate) friendly: String,
    pub(crate) unique: String,
    pub(crate) service: String,
}

#[repr(transparent)]
pub(crate) struct SimDeviceObject(pub(crate) DEVICE_OBJECT);

pub(crate) struct SimDevice {
    pub(crate) table: [Option<DRIVER_DISPATCH>; IRP_MJ_COUNT],
    pub(crate) name: String,
    pub(crate) link: String,
    pub(crate) sddl: String,
    pub(crate) object: Box<SimDeviceObject>,
}

#[derive(Default)]
pub(crate) struct TimerState {
    pub(crate) due: Option<u64>,
    pub(crate) period: u32,
    pub(crate) ctx: usize,
    pub(crate) sets: u64,
    pub(crate) freed: bool,
}

pub(crate) struct TimerSlot {
    pub(crate) func: Option<NDIS_TIMER_FUNCTION>,
    pub(crate) default_ctx: usize,
    pub(crate) inner: Mutex<TimerState>,
}

pub(crate) struct Global {
    pub(crate) driver: Option<RegisteredDriver>,
    pub(crate) device: Option<SimDevice>,
    pub(crate) timers: Vec<Arc<TimerSlot>>,
    pub(crate) adapters: Vec<Arc<SimAdapter>>,
    pub(crate) live: Live,
    pub(crate) errors: Vec<String>,
    pub(crate) faults: Vec<Fault>,
    pub(crate) irps_completed: HashMap<usize, u32>,
}

// SAFETY: the raw pointers inside (device table, driver chars) are plain
// function pointers and addresses only used under this mutex.
unsafe impl Send for Global {}

pub(crate) fn global() -> &'static Mutex<Global> {
    static G: OnceLock<Mutex<Global>> = OnceLock::new();
    G.get_or_init(|| {
        Mutex::new(Global {
            driver: None,
            device: None,
            timers: Vec::new(),
            adapters: Vec::new(),
            live: Live::default(),
            errors: Vec::new(),
            faults: Vec::new(),
            irps_completed: HashMap::new(),
        })
    })
}

pub(crate) fn take_fault(f: Fault) -> bool {
    let mut g = lock(global());
    if let Some(i) = g.faults.iter().position(|x| *x == f) {
        g.faults.remove(i);
        true
    } else {
        false
    }
}

pub(crate) fn string_of(s: &UNICODE_STRING) -> String {
    if s.Buffer.is_null() {
        return String::new();
    }
    // SAFETY: a valid UNICODE_STRING has Length bytes at Buffer.
    let w = unsafe { core::slice::from_raw_parts(s.Buffer, usize::from(s.Length / 2)) };
    String::from_utf16_lossy(w)
}

pub(crate) fn irp_completed(irp: *mut IRP) {
    let mut g = lock(global());
    *g.irps_completed.entry(irp as usize).or_insert(0) += 1;
}

// ---------------------------------------------------------------- clock

static REALTIME: AtomicBool = AtomicBool::new(false);
static VNOW: AtomicU64 = AtomicU64::new(0);
/// Timer callbacks running right now.
static FIRING: AtomicUsize = AtomicUsize::new(0);

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// The clock the driver reads (100 ns ticks).
pub(crate) fn now() -> u64 {
    if REALTIME.load(Ordering::Relaxed) {
        // Start well above zero, like a machine that has been up a while.
        1_000_000_000 + (epoch().elapsed().as_nanos() / 100) as u64
    } else {
        VNOW.load(Ordering::Relaxed)
    }
}

fn kick() -> &'static (Mutex<u64>, Condvar) {
    static K: OnceLock<(Mutex<u64>, Condvar)> = OnceLock::new();
    K.get_or_init(|| (Mutex::new(0), Condvar::new()))
}

pub(crate) fn timer_kick() {
    if REALTIME.load(Ordering::Relaxed) {
        let (m, c) = kick();
        *lock(m) += 1;
        c.notify_all();
    }
}

pub(crate) fn wait_timer_callbacks() {
    while FIRING.load(Ordering::Acquire) != 0 {
        std::thread::yield_now();
    }
}

/// Fire every timer due at or before `t`, earliest first; returns how many
/// callbacks ran. Locks are dropped before each callback.
fn fire_due(t: u64) -> usize {
    let mut fired = 0;
    loop {
        let next = {
            let g = lock(global());
            let mut best: Option<(u64, Arc<TimerSlot>)> = None;
            for s in &g.timers {
                let st = lock(&s.inner);
                if let Some(d) = st.due {
                    if d <= t && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
                        best = Some((d, Arc::clone(s)));
                    }
                }
            }
            best
        };
        let Some((_, slot)) = next else { break };
        let (func, ctx) = {
            let mut st = lock(&slot.inner);
            let Some(d) = st.due else { continue };
            if d > t || st.freed {
                continue;
            }
            st.due = if st.period > 0 {
                Some(d + u64::from(st.period) * 10_000)
            } else {
                None
            };
            FIRING.fetch_add(1, Ordering::AcqRel);
            (slot.func, st.ctx)
        };
        if let Some(f) = func {
            // SAFETY: the driver's timer function with the context it set.
            unsafe {
                f(
                    core::ptr::null_mut(),
                    ctx as *mut c_void,
                    core::ptr::null_mut(),
                    core::ptr::null_mut(),
                )
            };
        }
        FIRING.fetch_sub(1, Ordering::AcqRel);
        fired += 1;
        if fired > 1_000_000 {
            break;
        }
    }
    fired
}

fn earliest_due() -> Option<u64> {
    let g = lock(global());
    g.timers.iter().filter_map(|s| lock(&s.inner).due).min()
}

// ---------------------------------------------------------------- Sim

static HARNESS: Mutex<()> = Mutex::new(());

/// The simulated NDIS with the driver (not yet) loaded. One per process at
/// a time.
pub struct Sim {
    driver_object: Option<Box<DRIVER_OBJECT>>,
    rt: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    _guard: MutexGuard<'static, ()>,
}

impl core::fmt::Debug for Sim {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sim")
            .field("loaded", &self.driver_object.is_some())
            .finish()
    }
}

/// What the driver registered (for checks against the INF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// FriendlyName.
    pub friendly_name: String,
    /// UniqueName.
    pub unique_name: String,
    /// ServiceName.
    pub service_name: String,
    /// (major, minor) NDIS version claimed.
    pub ndis_version: (u8, u8),
    /// Characteristics header revision and size.
    pub revision: (u8, u16),
    /// Handlers present, by name.
    pub handlers: Vec<&'static str>,
}

/// The control device as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// NT device name.
    pub name: String,
    /// Symbolic link.
    pub link: String,
    /// Security descriptor (SDDL).
    pub sddl: String,
}

/// The result of an IOCTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlReply {
    /// NTSTATUS the IRP completed with.
    pub status: i32,
    /// The output bytes (IoStatus.Information of them).
    pub output: Vec<u8>,
}

impl Sim {
    /// A simulated NDIS on a virtual clock (starts at 1 s of ticks... plus
    /// 100 s, like a machine that has been up).
    #[must_use]
    pub fn new() -> Self {
        let guard = HARNESS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        REALTIME.store(false, Ordering::Relaxed);
        VNOW.store(1_000_000_000, Ordering::Relaxed);
        reset_global();
        Self {
            driver_object: None,
            rt: None,
            _guard: guard,
        }
    }

    /// A simulated NDIS on the real monotonic clock: a thread fires timers
    /// when they are due (lwfhost).
    #[must_use]
    pub fn new_realtime() -> Self {
        let mut s = Self::new();
        REALTIME.store(true, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let h = std::thread::Builder::new()
            .name("sim-timers".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    fire_due(now());
                    let wait = earliest_due().map_or(Duration::from_millis(5), |d| {
                        Duration::from_nanos(d.saturating_sub(now()) * 100)
                            .min(Duration::from_millis(5))
                    });
                    if wait > Duration::ZERO {
                        let (m, c) = kick();
                        let g = lock(m);
                        let _ = c.wait_timeout(g, wait);
                    }
                }
            })
            .expect("spawn the timer thread");
        s.rt = Some((stop, h));
        s
    }

    /// Load the driver: call its DriverEntry. Returns the NTSTATUS.
    pub fn load(&mut self) -> i32 {
        if self.driver_object.is_some() {
            return STATUS_UNSUCCESSFUL;
        }
        // SAFETY: DRIVER_OBJECT is plain data; all-zero is a valid value
        // (NULL pointers, no handlers).
        let mut d: Box<DRIVER_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
        d.Type = 4;
        d.Size = 0x150;
        // SAFETY: a valid driver object for the driver's entry point.
        let st = unsafe { crate::driver::driver_entry(&mut *d, core::ptr::null_mut()) };
        if st == STATUS_SUCCESS {
            if d.DriverUnload.is_none() {
                lock(global())
                    .errors
                    .push("DriverEntry succeeded without setting DriverUnload".into());
            }
            self.driver_object = Some(d);
        }
        st
    }

    /// Unload the driver (its DriverUnload). NDIS detaches every module.
    pub fn unload(&mut self) {
        if let Some(mut d) = self.driver_object.take() {
            if let Some(u) = d.DriverUnload {
                // SAFETY: the driver's unload routine with its driver object.
                unsafe { u(&mut *d) };
            }
        }
    }

    /// True while loaded.
    #[must_use]
    pub fn is_loaded(&self) -> bool {
        self.driver_object.is_some()
    }

    /// Make the next call of this kind fail.
    pub fn inject_fault(&self, f: Fault) {
        lock(global()).faults.push(f);
    }

    /// What the driver registered.
    #[must_use]
    pub fn registration(&self) -> Option<Registration> {
        let g = lock(global());
        let r = g.driver.as_ref()?;
        let c = &r.chars;
        let mut handlers = Vec::new();
        let named: [(&'static str, bool); 12] = [
            (
                "SetFilterModuleOptions",
                c.SetFilterModuleOptionsHandler.is_some(),
            ),
            ("Attach", c.AttachHandler.is_some()),
            ("Detach", c.DetachHandler.is_some()),
            ("Restart", c.RestartHandler.is_some()),
            ("Pause", c.PauseHandler.is_some()),
            ("Send", c.SendNetBufferListsHandler.is_some()),
            (
                "SendComplete",
                c.SendNetBufferListsCompleteHandler.is_some(),
            ),
            ("CancelSend", c.CancelSendNetBufferListsHandler.is_some()),
            ("Receive", c.ReceiveNetBufferListsHandler.is_some()),
            ("Return", c.ReturnNetBufferListsHandler.is_some()),
            ("NetPnPEvent", c.NetPnPEventHandler.is_some()),
            ("Status", c.StatusHandler.is_some()),
        ];
        for (n, present) in named {
            if present {
                handlers.push(n);
            }
        }
        Some(Registration {
            friendly_name: r.friendly.clone(),
            unique_name: r.unique.clone(),
            service_name: r.service.clone(),
            ndis_version: (c.MajorNdisVersion, c.MinorNdisVersion),
            revision: (c.Header.Revision, c.Header.Size),
            handlers,
        })
    }

    /// The control device, if registered.
    #[must_use]
    pub fn device(&self) -> Option<DeviceInfo> {
        let g = lock(global());
        g.device.as_ref().map(|d| DeviceInfo {
            name: d.name.clone(),
            link: d.link.clone(),
            sddl: d.sddl.clone(),
        })
    }

    /// Counts of live NDIS objects.
    #[must_use]
    pub fn live(&self) -> Live {
        let g = lock(global());
        let mut l = g.live;
        l.modules = g.adapters.iter().filter(|a| a.is_attached()).count() as i64;
        l.nbls = g
            .adapters
            .iter()
            .map(|a| lock(&a.st).packets.len() as i64)
            .sum();
        l
    }

    /// Every rule violation recorded so far (global and per adapter).
    #[must_use]
    pub fn errors(&self) -> Vec<String> {
        let g = lock(global());
        let mut e = g.errors.clone();
        for a in &g.adapters {
            e.extend(lock(&a.st).errors.iter().cloned());
        }
        for (irp, n) in &g.irps_completed {
            if *n != 1 {
                e.push(format!("IRP {irp:#x} completed {n} times"));
            }
        }
        e
    }

    /// Attach the filter to a new simulated miniport (FilterAttach). The
    /// module starts paused: call [`Adapter::restart`].
    pub fn attach(&self, spec: &AdapterSpec) -> Result<Adapter, i32> {
        let (chars, dctx) = {
            let g = lock(global());
            let Some(r) = g.driver.as_ref() else {
                return Err(NDIS_STATUS_FAILURE);
            };
            (r.chars, r.context)
        };
        let a = Arc::new(SimAdapter {
            module_ctx: AtomicUsize::new(0),
            chars,
            spec: spec.clone(),
            st: Mutex::new(AdapterState::default()),
        });
        lock(global()).adapters.push(Arc::clone(&a));
        let mut names: Vec<Vec<u16>> = [
            format!(
                "{{{:08X}-0000-0000-0000-{:012X}}}",
                spec.if_index, spec.net_luid
            ),
            spec.instance_name.clone(),
            spec.miniport_name.clone(),
        ]
        .iter()
        .map(|s| s.encode_utf16().collect())
        .collect();
        let mut us: Vec<UNICODE_STRING> = names
            .iter_mut()
            .map(|w| UNICODE_STRING {
                Length: (w.len() * 2) as u16,
                MaximumLength: (w.len() * 2) as u16,
                Buffer: w.as_mut_ptr(),
            })
            .collect();
        // SAFETY: plain data; zero is valid for every field.
        let mut p: NDIS_FILTER_ATTACH_PARAMETERS = unsafe { core::mem::zeroed() };
        p.Header = NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS,
            Revision: NDIS_FILTER_ATTACH_PARAMETERS_REVISION_4,
            Size: NDIS_SIZEOF_FILTER_ATTACH_PARAMETERS_REVISION_4,
        };
        p.IfIndex = spec.if_index;
        p.NetLuid = spec.net_luid;
        p.BaseMiniportNetLuid = spec.net_luid;
        p.BaseMiniportIfIndex = spec.if_index;
        p.FilterModuleGuidName = &mut us[0];
        p.BaseMiniportInstanceName = &mut us[1];
        p.BaseMiniportName = &mut us[2];
        p.MediaConnectState = MEDIA_CONNECT_STATE_CONNECTED;
        p.XmitLinkSpeed = spec.link_speed;
        p.RcvLinkSpeed = spec.link_speed;
        p.MiniportMediaType = spec.media;
        p.MacAddressLength = 6;
        p.CurrentMacAddress[..6].copy_from_slice(&spec.mac);
        let h = Arc::as_ptr(&a).cast_mut().cast::<c_void>();
        let f = chars
            .AttachHandler
            .expect("registered with an attach handler");
        // SAFETY: the driver's attach handler with valid parameters.
        let st = unsafe { f(h, dctx as *mut c_void, &mut p) };
        if st != NDIS_STATUS_SUCCESS {
            lock(global()).adapters.retain(|x| !Arc::ptr_eq(x, &a));
            return Err(st);
        }
        if a.module_ctx.load(Ordering::Acquire) == 0 {
            lock(&a.st)
                .errors
                .push("FilterAttach succeeded without NdisFSetAttributes".into());
        }
        lock(&a.st).attached = true;
        lock(&a.st).paused = true;
        Ok(Adapter(a))
    }

    /// The virtual clock (or real clock), in 100 ns ticks.
    #[must_use]
    pub fn now(&self) -> u64 {
        now()
    }

    /// Advance the virtual clock by `dt` ticks, firing timers as they come
    /// due (each at its own time). Returns the callbacks run.
    pub fn advance(&self, dt: u64) -> usize {
        let target = VNOW.load(Ordering::Relaxed) + dt;
        let mut fired = 0;
        while let Some(d) = earliest_due().filter(|d| *d <= target) {
            if d > VNOW.load(Ordering::Relaxed) {
                VNOW.store(d, Ordering::Relaxed);
            }
            fired += fire_due(d);
        }
        VNOW.store(target, Ordering::Relaxed);
        fired
    }

    /// When the earliest armed timer is due.
    #[must_use]
    pub fn next_timer(&self) -> Option<u64> {
        earliest_due()
    }

    /// Armed timers right now.
    #[must_use]
    pub fn armed_timers(&self) -> usize {
        let g = lock(global());
        g.timers
            .iter()
            .filter(|s| lock(&s.inner).due.is_some())
            .count()
    }

    /// Send an IRP_MJ_DEVICE_CONTROL to the control device with
    /// METHOD_BUFFERED semantics (one system buffer of max(in, out) bytes).
    pub fn ioctl(&self, code: u32, input: &[u8], out_len: usize) -> IoctlReply {
        Device.ioctl(code, input, out_len)
    }

    /// Like [`Sim::ioctl`] with explicit lengths and a NULL system buffer
    /// when `null_buffer` (what a broken caller can produce).
    pub fn ioctl_raw(
        &self,
        code: u32,
        input: &[u8],
        in_len: u32,
        out_len: u32,
        null_buffer: bool,
    ) -> IoctlReply {
        Device.ioctl_raw(code, input, in_len, out_len, null_buffer)
    }

    /// IRP_MJ_CREATE, CLOSE or CLEANUP on the control device.
    pub fn device_call(&self, major: u8) -> i32 {
        Device.device_call(major)
    }

    /// A handle on the control device usable from any thread (IOCTLs from
    /// several threads at once; the driver serialises them).
    #[must_use]
    pub fn device_handle(&self) -> Device {
        Device
    }
}

/// The control device of the loaded driver (`Send + Sync + Copy`). Calls
/// fail with STATUS_DEVICE_NOT_READY when no driver is loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Device;

impl From<&Sim> for Device {
    fn from(_: &Sim) -> Self {
        Device
    }
}

impl Device {
    /// Send an IRP_MJ_DEVICE_CONTROL to the control device with
    /// METHOD_BUFFERED semantics (one system buffer of max(in, out) bytes).
    pub fn ioctl(&self, code: u32, input: &[u8], out_len: usize) -> IoctlReply {
        self.irp(IRP_MJ_DEVICE_CONTROL, code, input, out_len, None)
    }

    /// Like [`Device::ioctl`] with explicit lengths and a NULL system buffer
    /// when `null_buffer` (what a broken caller can produce).
    pub fn ioctl_raw(
        &self,
        code: u32,
        input: &[u8],
        in_len: u32,
        out_len: u32,
        null_buffer: bool,
    ) -> IoctlReply {
        self.irp(
            IRP_MJ_DEVICE_CONTROL,
            code,
            input,
            out_len as usize,
            Some((in_len, null_buffer)),
        )
    }

    /// IRP_MJ_CREATE, CLOSE or CLEANUP on the control device.
    pub fn device_call(&self, major: u8) -> i32 {
        self.irp(major, 0, &[], 0, None).status
    }

    fn irp(
        &self,
        major: u8,
        code: u32,
        input: &[u8],
        out_len: usize,
        raw: Option<(u32, bool)>,
    ) -> IoctlReply {
        let (f, dev) = {
            let mut g = lock(global());
            let Some(d) = g.device.as_mut() else {
                return IoctlReply {
                    status: STATUS_DEVICE_NOT_READY,
                    output: Vec::new(),
                };
            };
            (
                d.table[usize::from(major)],
                core::ptr::from_mut(&mut d.object.0),
            )
        };
        let Some(f) = f else {
            return IoctlReply {
                status: STATUS_INVALID_DEVICE_REQUEST,
                output: Vec::new(),
            };
        };
        let (in_len, null_buffer) = raw.unwrap_or((input.len() as u32, false));
        let mut buf = vec![0u8; input.len().max(out_len)];
        buf[..input.len()].copy_from_slice(input);
        // SAFETY: plain data; zero is valid.
        let mut sp: IO_STACK_LOCATION = unsafe { core::mem::zeroed() };
        sp.MajorFunction = major;
        sp.IoControlCode = code;
        sp.InputBufferLength = in_len;
        sp.OutputBufferLength = out_len as u32;
        // SAFETY: plain data; zero is valid.
        let mut irp: Box<IRP> = Box::new(unsafe { core::mem::zeroed() });
        irp.SystemBuffer = if null_buffer || buf.is_empty() {
            core::ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast()
        };
        irp.CurrentStackLocation = &mut sp;
        let ip = core::ptr::from_mut(&mut *irp);
        // SAFETY: the driver's dispatch routine with a well-formed IRP.
        let ret = unsafe { f(dev, ip) };
        let mut g = lock(global());
        let n = g.irps_completed.remove(&(ip as usize)).unwrap_or(0);
        if n != 1 {
            g.errors
                .push(format!("IRP completed {n} times (major {major})"));
        }
        if ret != irp.IoStatus.Status {
            g.errors.push(format!(
                "dispatch returned {ret:#x} but completed the IRP with {:#x}",
                irp.IoStatus.Status
            ));
        }
        let info = irp.IoStatus.Information;
        if info > out_len {
            g.errors.push(format!(
                "IoStatus.Information {info} > output length {out_len}"
            ));
        }
        IoctlReply {
            status: irp.IoStatus.Status,
            output: buf[..info.min(out_len)].to_vec(),
        }
    }
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.unload();
        if let Some((stop, h)) = self.rt.take() {
            stop.store(true, Ordering::Relaxed);
            timer_kick();
            let _ = h.join();
        }
        REALTIME.store(false, Ordering::Relaxed);
        reset_global();
    }
}

fn reset_global() {
    let mut g = lock(global());
    g.driver = None;
    g.device = None;
    g.timers.clear();
    g.adapters.clear();
    g.live = Live::default();
    g.errors.clear();
    g.faults.clear();
    g.irps_completed.clear();
}

/// Pause (if needed) and detach every attached module, as
/// NdisFDeregisterFilterDriver does.
pub(crate) fn detach_all() {
    let list: Vec<Arc<SimAdapter>> = lock(global()).adapters.clone();
    for a in list {
        if a.is_attached() {
            Adapter(a).detach_forced();
        }
    }
}

// ---------------------------------------------------------------- adapters

/// What a simulated miniport looks like to the filter at attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSpec {
    /// NDIS_MEDIUM (0 = 802.3, 19 = IP, 3 = WAN, ...).
    pub media: u32,
    /// MTU (reported in the restart attributes).
    pub mtu: u32,
    /// Link speed in bits/s.
    pub link_speed: u64,
    /// MAC address.
    pub mac: [u8; 6],
    /// Interface index.
    pub if_index: u32,
    /// NET_LUID.
    pub net_luid: u64,
    /// BaseMiniportName.
    pub miniport_name: String,
    /// BaseMiniportInstanceName.
    pub instance_name: String,
}

impl AdapterSpec {
    /// An Ethernet adapter at 1 Gb/s with MTU 1500.
    #[must_use]
    pub fn ethernet(if_index: u32) -> Self {
        Self {
            media: NDIS_MEDIUM_802_3,
            mtu: 1500,
            link_speed: 1_000_000_000,
            mac: [0x02, 0x00, 0x5e, 0x10, 0x00, if_index as u8],
            if_index,
            net_luid: 0x0006_0000_0000_0000 | u64::from(if_index),
            miniport_name: format!("\\DEVICE\\{{SIM-{if_index:04}}}"),
            instance_name: format!("Simulated Ethernet {if_index}"),
        }
    }
}

/// A completion seen by the fake protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The id [`Adapter::send`] returned.
    pub id: u64,
    /// NET_BUFFER_LIST.Status.
    pub status: i32,
}

/// An NBL as the fake miniport saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireNbl {
    /// The id [`Adapter::send`] returned.
    pub id: u64,
    /// Each NET_BUFFER's bytes.
    pub frames: Vec<Vec<u8>>,
    /// Ieee8021QNetBufferListInfo.
    pub ieee8021q: usize,
    /// Cancel id.
    pub cancel_id: usize,
    /// Virtual/real time it was sent down.
    pub at: u64,
}

/// A receive seen by the fake protocol above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFrame {
    /// Each NET_BUFFER's bytes.
    pub frames: Vec<Vec<u8>>,
    /// Receive flags of the indication.
    pub flags: u32,
}

type WireCb = Box<dyn FnMut(&WireNbl) + Send>;
type RxCb = Box<dyn FnMut(&RxFrame) + Send>;

#[derive(Default)]
pub(crate) struct AdapterState {
    pub(crate) packets: HashMap<usize, Box<SimPacket>>,
    next_id: u64,
    completions: Vec<Completion>,
    status_counts: BTreeMap<i32, u64>,
    no_record: bool,
    hold: bool,
    held: VecDeque<usize>,
    miniport_status: i32,
    wire: Vec<WireNbl>,
    on_wire: Option<WireCb>,
    received: Vec<RxFrame>,
    on_receive: Option<RxCb>,
    rx_pending_return: Vec<usize>,
    pub(crate) cancels_down: Vec<usize>,
    pub(crate) statuses_up: Vec<i32>,
    pub(crate) pause_pending: bool,
    pub(crate) paused: bool,
    pub(crate) errors: Vec<String>,
    attached: bool,
    sent_down: u64,
    fast: bool,
}

/// The simulated miniport + protocol pair one filter module sits between.
pub struct SimAdapter {
    pub(crate) module_ctx: AtomicUsize,
    chars: NDIS_FILTER_DRIVER_CHARACTERISTICS,
    spec: AdapterSpec,
    pub(crate) st: Mutex<AdapterState>,
}

impl core::fmt::Debug for SimAdapter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimAdapter")
            .field("spec", &self.spec)
            .finish()
    }
}

// SAFETY: the packets' raw pointers are owned allocations only touched
// under `st`; the characteristics are function pointers.
unsafe impl Send for SimAdapter {}
// SAFETY: as above.
unsafe impl Sync for SimAdapter {}

impl SimAdapter {
    fn is_attached(&self) -> bool {
        lock(&self.st).attached
    }

    fn ctx(&self) -> *mut c_void {
        self.module_ctx.load(Ordering::Acquire) as *mut c_void
    }

    /// NdisFSendNetBufferLists: the fake miniport takes the chain.
    pub(crate) fn miniport_send(&self, head: *mut NET_BUFFER_LIST, flags: u32) {
        if lock(&self.st).fast {
            self.miniport_send_fast(head, flags);
            return;
        }
        let at = now();
        let mut complete_now: Vec<usize> = Vec::new();
        {
            let mut guard = lock(&self.st);
            let s = &mut *guard;
            if s.paused {
                s.errors.push("NdisFSendNetBufferLists while paused".into());
            }
            let mut cur = head;
            while !cur.is_null() {
                let key = cur as usize;
                // SAFETY: the filter passes NBLs of ours; Next read first.
                let next = unsafe { (*cur).Next };
                let record = !s.no_record;
                match s.packets.get_mut(&key) {
                    Some(p) if p.owner == Owner::Filter => {
                        p.owner = Owner::Miniport;
                        if record || s.on_wire.is_some() {
                            let w = WireNbl {
                                id: p.id,
                                frames: p.frames(),
                                ieee8021q: p.info(IEEE_8021Q_NET_BUFFER_LIST_INFO),
                                cancel_id: p.info(NET_BUFFER_LIST_CANCEL_ID),
                                at,
                            };
                            if let Some(cb) = s.on_wire.as_mut() {
                                cb(&w);
                            }
                            if record {
                                s.wire.push(w);
                            }
                        }
                        s.sent_down += 1;
                        if s.hold {
                            s.held.push_back(key);
                        } else {
                            complete_now.push(key);
                        }
                    }
                    Some(p) => {
                        let o = ndis::owner_name(p.owner);
                        let id = p.id;
                        s.errors.push(format!("sent down NBL {id} owned by {o}"));
                    }
                    None => s.errors.push(format!("sent down unknown NBL {key:#x}")),
                }
                cur = next;
            }
        }
        if !complete_now.is_empty() {
            self.miniport_complete(&complete_now, flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL);
        }
    }

    /// Fast mode (benchmarks): no ownership bookkeeping, complete the chain
    /// as it came.
    fn miniport_send_fast(&self, head: *mut NET_BUFFER_LIST, flags: u32) {
        {
            let mut s = lock(&self.st);
            let status = s.miniport_status;
            let mut cur = head;
            let mut n = 0u64;
            while !cur.is_null() {
                n += 1;
                // SAFETY: NBLs the benchmark prepared; the miniport owns
                // them now.
                unsafe { (*cur).Status = status };
                // SAFETY: as above; Next is valid.
                cur = unsafe { (*cur).Next };
            }
            s.sent_down += n;
        }
        let f = self
            .chars
            .SendNetBufferListsCompleteHandler
            .expect("send complete handler");
        // SAFETY: the driver's handler with NBLs it sent down.
        unsafe { f(self.ctx(), head, flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL) };
    }

    /// The miniport completes these NBLs (FilterSendNetBufferListsComplete).
    fn miniport_complete(&self, keys: &[usize], flags: u32) {
        let head = {
            let mut s = lock(&self.st);
            let status = s.miniport_status;
            let mut head: *mut NET_BUFFER_LIST = core::ptr::null_mut();
            for &k in keys.iter().rev() {
                if let Some(p) = s.packets.get_mut(&k) {
                    p.owner = Owner::Filter;
                    p.nbl.Status = status;
                    p.nbl.Next = head;
                    head = p.nbl_ptr();
                }
            }
            head
        };
        if head.is_null() {
            return;
        }
        let f = self
            .chars
            .SendNetBufferListsCompleteHandler
            .expect("send complete handler");
        // SAFETY: the driver's handler with NBLs it sent down.
        unsafe { f(self.ctx(), head, flags) };
    }

    /// NdisFSendNetBufferListsComplete: the fake protocol gets NBLs back.
    pub(crate) fn protocol_send_complete(&self, head: *mut NET_BUFFER_LIST) {
        let mut s = lock(&self.st);
        if s.fast {
            // Count runs of equal status (one map update per run).
            let mut cur = head;
            let mut run: Option<(i32, u64)> = None;
            while !cur.is_null() {
                // SAFETY: NBLs the benchmark prepared.
                let st = unsafe { (*cur).Status };
                run = match run {
                    Some((r, k)) if r == st => Some((r, k + 1)),
                    Some((r, k)) => {
                        *s.status_counts.entry(r).or_insert(0) += k;
                        Some((st, 1))
                    }
                    None => Some((st, 1)),
                };
                // SAFETY: as above.
                cur = unsafe { (*cur).Next };
            }
            if let Some((r, k)) = run {
                *s.status_counts.entry(r).or_insert(0) += k;
            }
            return;
        }
        let mut cur = head;
        let mut guard = 0usize;
        while !cur.is_null() {
            guard += 1;
            if guard > 10_000_000 {
                s.errors.push("completion chain loops".into());
                break;
            }
            let key = cur as usize;
            // SAFETY: read Next before the packet may be freed.
            let next = unsafe { (*cur).Next };
            match s.packets.get(&key).map(|p| (p.owner, p.id)) {
                Some((Owner::Filter, id)) => {
                    let p = s.packets.remove(&key).expect("present");
                    if p.nbl.SourceHandle as usize != p.source {
                        s.errors
                            .push(format!("NBL {id} completed with a changed SourceHandle"));
                    }
                    let status = p.nbl.Status;
                    *s.status_counts.entry(status).or_insert(0) += 1;
                    if !s.no_record {
                        s.completions.push(Completion { id, status });
                    }
                }
                Some((o, id)) => {
                    let o = ndis::owner_name(o);
                    s.errors
                        .push(format!("completed NBL {id} while it is owned by {o}"));
                }
                None => s.errors.push(format!(
                    "completed NBL {key:#x} that is not outstanding (twice?)"
                )),
            }
            cur = next;
        }
    }

    /// NdisFIndicateReceiveNetBufferLists: the fake protocol receives.
    pub(crate) fn protocol_receive(&self, head: *mut NET_BUFFER_LIST, count: u32, flags: u32) {
        let mut s = lock(&self.st);
        let mut cur = head;
        let mut n = 0u32;
        while !cur.is_null() {
            let key = cur as usize;
            // SAFETY: NBLs of ours; Next read first.
            let next = unsafe { (*cur).Next };
            match s.packets.get_mut(&key) {
                Some(p) if p.owner == Owner::RxFilter => {
                    p.owner = Owner::RxProtocol;
                    let r = RxFrame {
                        frames: p.frames(),
                        flags,
                    };
                    if let Some(cb) = s.on_receive.as_mut() {
                        cb(&r);
                    }
                    if !s.no_record {
                        s.received.push(r);
                    }
                    if flags & NDIS_RECEIVE_FLAGS_RESOURCES == 0 {
                        s.rx_pending_return.push(key);
                    }
                }
                _ => s
                    .errors
                    .push(format!("indicated unknown receive NBL {key:#x}")),
            }
            n += 1;
            cur = next;
        }
        if n != count {
            s.errors.push(format!(
                "indicated {n} NBLs with NumberOfNetBufferLists {count}"
            ));
        }
    }

    /// NdisFReturnNetBufferLists: receives come back to the miniport.
    pub(crate) fn miniport_return(&self, head: *mut NET_BUFFER_LIST) {
        let mut s = lock(&self.st);
        let mut cur = head;
        while !cur.is_null() {
            let key = cur as usize;
            // SAFETY: NBLs of ours; Next read first.
            let next = unsafe { (*cur).Next };
            match s.packets.get(&key).map(|p| p.owner) {
                Some(Owner::RxReturning) => {
                    s.packets.remove(&key);
                }
                _ => s
                    .errors
                    .push(format!("returned NBL {key:#x} not being returned")),
            }
            cur = next;
        }
    }
}

/// NBLs allocated once by [`Adapter::prepare`] for benchmarks.
#[derive(Debug)]
pub struct Prepared(Vec<*mut NET_BUFFER_LIST>, Vec<Restore>);

/// A prepared NBL's data when it lies in one MDL (pointer, length) and its
/// bytes as prepared, for [`Adapter::restore_prepared`].
#[derive(Debug)]
struct Restore {
    data: *mut u8,
    len: usize,
    orig: Vec<u8>,
}

// SAFETY: plain addresses of NBLs owned by the sim adapter.
unsafe impl Send for Prepared {}

/// A handle on one simulated adapter (cheap to clone).
#[derive(Clone)]
pub struct Adapter(Arc<SimAdapter>);

impl core::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Adapter")
            .field("if_index", &self.0.spec.if_index)
            .finish()
    }
}

impl Adapter {
    /// The spec it was attached with.
    #[must_use]
    pub fn spec(&self) -> &AdapterSpec {
        &self.0.spec
    }

    /// FilterRestart (with the MTU in the restart attributes).
    pub fn restart(&self) -> i32 {
        // NDIS_RESTART_ATTRIBUTES {Next, Oid, DataLength, Data[]} holding
        // NDIS_RESTART_GENERAL_ATTRIBUTES {Header, MtuSize, ...}.
        let mut attr = [0u8; 0x10 + 0x60];
        attr[8..12].copy_from_slice(&0x0001_020Du32.to_le_bytes());
        attr[12..16].copy_from_slice(&0x60u32.to_le_bytes());
        attr[16] = 0xA2;
        attr[17] = 1;
        attr[20..24].copy_from_slice(&self.0.spec.mtu.to_le_bytes());
        // SAFETY: plain data; zero is valid.
        let mut p: NDIS_FILTER_RESTART_PARAMETERS = unsafe { core::mem::zeroed() };
        p.Header = NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_FILTER_RESTART_PARAMETERS,
            Revision: NDIS_FILTER_RESTART_PARAMETERS_REVISION_1,
            Size: NDIS_SIZEOF_FILTER_RESTART_PARAMETERS_REVISION_1,
        };
        p.MiniportMediaType = self.0.spec.media;
        p.RestartAttributes = attr.as_mut_ptr().cast();
        {
            let mut s = lock(&self.0.st);
            if !s.paused {
                s.errors.push("restart while not paused".into());
            }
            // Restarting: the module may send as soon as it is running,
            // before the handler returns.
            s.paused = false;
        }
        let f = self.0.chars.RestartHandler.expect("restart handler");
        // SAFETY: the driver's handler with valid parameters.
        let st = unsafe { f(self.0.ctx(), &mut p) };
        if st != NDIS_STATUS_SUCCESS {
            lock(&self.0.st).paused = true;
        }
        st
    }

    /// FilterPause. Returns SUCCESS or PENDING; with PENDING the pause ends
    /// when the driver calls NdisFPauseComplete ([`Adapter::is_paused`]).
    pub fn pause(&self) -> i32 {
        let mut p = NDIS_FILTER_PAUSE_PARAMETERS {
            Header: NDIS_OBJECT_HEADER {
                Type: NDIS_OBJECT_TYPE_FILTER_PAUSE_PARAMETERS,
                Revision: NDIS_FILTER_PAUSE_PARAMETERS_REVISION_1,
                Size: NDIS_SIZEOF_FILTER_PAUSE_PARAMETERS_REVISION_1,
            },
            Flags: 0,
            PauseReason: 0x40,
        };
        lock(&self.0.st).pause_pending = true;
        let f = self.0.chars.PauseHandler.expect("pause handler");
        // SAFETY: the driver's handler with valid parameters.
        let st = unsafe { f(self.0.ctx(), &mut p) };
        let mut s = lock(&self.0.st);
        if st == NDIS_STATUS_SUCCESS {
            if !s.pause_pending {
                s.errors
                    .push("pause returned SUCCESS after NdisFPauseComplete".into());
            }
            s.pause_pending = false;
            s.paused = true;
        } else if st != NDIS_STATUS_PENDING {
            s.errors.push(format!("pause returned {st:#x}"));
        }
        // Sends whose FilterSend call is still running on another thread
        // (to be completed with PAUSED) are not held.
        let held = s
            .packets
            .values()
            .filter(|p| p.owner == Owner::Filter && !p.in_call)
            .count();
        if s.paused && held > 0 {
            drop(s);
            let in_sched = self.module().map_or(0, |m| m.held());
            let out = self.module().map_or(0, |m| m.outstanding());
            let mut s = lock(&self.0.st);
            s.errors.push(format!(
                "paused ({st:#x}) while the filter still holds {held} sends \
                 (scheduler {in_sched}, outstanding {out})"
            ));
            return st;
        }
        st
    }

    /// True once paused (pause returned SUCCESS or NdisFPauseComplete ran).
    #[must_use]
    pub fn is_paused(&self) -> bool {
        lock(&self.0.st).paused
    }

    /// FilterDetach (the module must be paused).
    pub fn detach(&self) {
        {
            let mut s = lock(&self.0.st);
            if !s.paused {
                s.errors.push("detach while not paused".into());
            }
            if !s.attached {
                return;
            }
        }
        let f = self.0.chars.DetachHandler.expect("detach handler");
        // SAFETY: the driver's handler; the module is paused.
        unsafe { f(self.0.ctx()) };
        let mut s = lock(&self.0.st);
        s.attached = false;
        let left = s
            .packets
            .values()
            .filter(|p| matches!(p.owner, Owner::Filter | Owner::RxFilter))
            .count();
        if left > 0 {
            s.errors
                .push(format!("detached with {left} NBLs still in the filter"));
        }
        self.0.module_ctx.store(0, Ordering::Release);
    }

    /// Complete the miniport's held sends, pause, detach: what NDIS does
    /// when the filter driver deregisters or the miniport goes away.
    pub fn detach_forced(&self) {
        self.complete_held(usize::MAX);
        if !self.is_paused() {
            let st = self.pause();
            if st == NDIS_STATUS_PENDING {
                for _ in 0..1000 {
                    self.complete_held(usize::MAX);
                    if self.is_paused() {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
        }
        self.detach();
    }

    /// Send frames from the fake protocol above as one NBL chain; returns
    /// their ids in order.
    pub fn send(&self, pkts: &[TxPacket], flags: u32) -> Vec<u64> {
        let mut ids = Vec::with_capacity(pkts.len());
        let source = Arc::as_ptr(&self.0) as usize | 1;
        let head = {
            let mut s = lock(&self.0.st);
            let mut head: *mut NET_BUFFER_LIST = core::ptr::null_mut();
            let mut ptrs = Vec::with_capacity(pkts.len());
            for p in pkts {
                s.next_id += 1;
                let id = s.next_id;
                ids.push(id);
                let mut b = SimPacket::build(p, id, source, Owner::Filter);
                b.in_call = true;
                let ptr = b.nbl_ptr();
                s.packets.insert(ptr as usize, b);
                ptrs.push((ptr, id));
            }
            for &(ptr, _) in ptrs.iter().rev() {
                // SAFETY: our own packets, just built.
                unsafe { (*ptr).Next = head };
                head = ptr;
            }
            (head, ptrs)
        };
        let (head, ptrs) = head;
        if head.is_null() {
            return ids;
        }
        let f = self
            .0
            .chars
            .SendNetBufferListsHandler
            .expect("send handler");
        // SAFETY: the driver's send handler with a chain of new NBLs.
        unsafe { f(self.0.ctx(), head, 0, flags) };
        let mut s = lock(&self.0.st);
        // Addresses are reused once a packet completes: match the id too.
        for (p, id) in ptrs {
            if let Some(pkt) = s.packets.get_mut(&(p as usize)).filter(|x| x.id == id) {
                pkt.in_call = false;
            }
        }
        ids
    }

    /// Fast mode for benchmarks: the miniport completes every chain at once
    /// and nobody tracks ownership (no checks, no allocation per NBL).
    /// Use with [`Adapter::prepare`] / [`Adapter::send_prepared`].
    pub fn set_fast(&self, on: bool) {
        lock(&self.0.st).fast = on;
    }

    /// Allocate NBLs once for repeated [`Adapter::send_prepared`] calls
    /// (fast mode). They are freed when the simulation ends.
    pub fn prepare(&self, pkts: &[TxPacket]) -> Prepared {
        let source = Arc::as_ptr(&self.0) as usize | 1;
        let mut s = lock(&self.0.st);
        let mut ptrs = Vec::with_capacity(pkts.len());
        for p in pkts {
            s.next_id += 1;
            let id = s.next_id;
            let mut b = SimPacket::build(p, id, source, Owner::Filter);
            let ptr = b.nbl_ptr();
            s.packets.insert(ptr as usize, b);
            ptrs.push(ptr);
        }
        let restore = ptrs
            .iter()
            .map(|&ptr| {
                // SAFETY: the NBL was just built, owned by the harness.
                let nbl = unsafe { crate::nbl::Nbl::from_raw(ptr) };
                let data = nbl
                    .as_ref()
                    .and_then(|n| n.first_nb())
                    .and_then(|nb| nb.contiguous_mut());
                match data {
                    Some(d) => Restore {
                        data: d.as_mut_ptr(),
                        len: d.len(),
                        orig: d.to_vec(),
                    },
                    None => Restore {
                        data: core::ptr::null_mut(),
                        len: 0,
                        orig: Vec::new(),
                    },
                }
            })
            .collect();
        Prepared(ptrs, restore)
    }

    /// Put back the bytes `range` of each prepared NBL's first MDL as they
    /// were when prepared (e.g. the IP header a previous send marked), so
    /// that the next send does the same work as the first. No allocation.
    pub fn restore_prepared(&self, p: &Prepared, range: core::ops::Range<usize>) {
        for r in &p.1 {
            let Some(src) = r.orig.get(range.clone()) else {
                continue;
            };
            if r.data.is_null() || range.end > r.len {
                continue;
            }
            let dst = r.data.wrapping_add(range.start);
            // SAFETY: `data..data+len` is the NBL's data (one MDL), owned by
            // the harness between sends (fast mode completes every send
            // before returning); `range` lies within it.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        }
    }

    /// Send prepared NBLs as one chain (fast mode; no allocation).
    pub fn send_prepared(&self, p: &Prepared, flags: u32) {
        let mut head: *mut NET_BUFFER_LIST = core::ptr::null_mut();
        for &ptr in p.0.iter().rev() {
            // SAFETY: NBLs prepared on this adapter, not in flight (fast
            // mode completes every send before returning).
            unsafe { (*ptr).Next = head };
            head = ptr;
        }
        if head.is_null() {
            return;
        }
        let f = self
            .0
            .chars
            .SendNetBufferListsHandler
            .expect("send handler");
        // SAFETY: the driver's send handler with NBLs of ours.
        unsafe { f(self.0.ctx(), head, 0, flags) };
    }

    /// Hold sends at the miniport (`true`) or complete them at once.
    pub fn set_miniport_hold(&self, hold: bool) {
        lock(&self.0.st).hold = hold;
    }

    /// The status the miniport completes sends with (default SUCCESS).
    pub fn set_miniport_status(&self, status: i32) {
        lock(&self.0.st).miniport_status = status;
    }

    /// NBLs the miniport holds.
    #[must_use]
    pub fn miniport_held(&self) -> usize {
        lock(&self.0.st).held.len()
    }

    /// Complete up to `n` held sends (oldest first); returns how many.
    pub fn complete_held(&self, n: usize) -> usize {
        let keys: Vec<usize> = {
            let mut s = lock(&self.0.st);
            let k = n.min(s.held.len());
            s.held.drain(..k).collect()
        };
        if !keys.is_empty() {
            self.0.miniport_complete(&keys, 0);
        }
        keys.len()
    }

    /// Record completions / wire frames / receives in logs (default on;
    /// lwfhost turns it off and uses the callbacks and counters).
    pub fn set_recording(&self, on: bool) {
        lock(&self.0.st).no_record = !on;
    }

    /// Called for each NBL the miniport receives (from the driver's send
    /// path; must not call back into this adapter).
    pub fn set_on_wire(&self, cb: impl FnMut(&WireNbl) + Send + 'static) {
        lock(&self.0.st).on_wire = Some(Box::new(cb));
    }

    /// Called for each receive indicated up to the protocol.
    pub fn set_on_receive(&self, cb: impl FnMut(&RxFrame) + Send + 'static) {
        lock(&self.0.st).on_receive = Some(Box::new(cb));
    }

    /// Take the completions recorded so far.
    pub fn take_completions(&self) -> Vec<Completion> {
        std::mem::take(&mut lock(&self.0.st).completions)
    }

    /// Completions by status since attach.
    #[must_use]
    pub fn completion_counts(&self) -> BTreeMap<i32, u64> {
        lock(&self.0.st).status_counts.clone()
    }

    /// Take the NBLs the miniport saw so far.
    pub fn take_wire(&self) -> Vec<WireNbl> {
        std::mem::take(&mut lock(&self.0.st).wire)
    }

    /// NBLs sent down since attach.
    #[must_use]
    pub fn sent_down(&self) -> u64 {
        lock(&self.0.st).sent_down
    }

    /// Take the receives the protocol saw so far.
    pub fn take_received(&self) -> Vec<RxFrame> {
        std::mem::take(&mut lock(&self.0.st).received)
    }

    /// Sends from above not yet completed back (held in the filter or
    /// below).
    #[must_use]
    pub fn sends_outstanding(&self) -> usize {
        lock(&self.0.st)
            .packets
            .values()
            .filter(|p| matches!(p.owner, Owner::Filter | Owner::Miniport))
            .count()
    }

    /// Cancel ids the filter passed down.
    #[must_use]
    pub fn cancels_down(&self) -> Vec<usize> {
        lock(&self.0.st).cancels_down.clone()
    }

    /// Status codes the filter indicated up.
    #[must_use]
    pub fn statuses_up(&self) -> Vec<i32> {
        lock(&self.0.st).statuses_up.clone()
    }

    /// FilterCancelSendNetBufferLists(id).
    pub fn cancel(&self, id: usize) {
        let f = self
            .0
            .chars
            .CancelSendNetBufferListsHandler
            .expect("cancel handler");
        // SAFETY: the driver's handler.
        unsafe { f(self.0.ctx(), id as *mut c_void) };
    }

    /// Indicate received frames from the miniport (one NBL each); with
    /// NDIS_RECEIVE_FLAGS_RESOURCES the NBLs are reclaimed when the call
    /// returns, otherwise the protocol returns them right after.
    pub fn receive(&self, frames: &[TxPacket], flags: u32) {
        let (head, keys) = {
            let mut s = lock(&self.0.st);
            let mut keys = Vec::new();
            for p in frames {
                s.next_id += 1;
                let id = s.next_id;
                let mut b = SimPacket::build(p, id, 0x5EC0, Owner::RxFilter);
                let ptr = b.nbl_ptr();
                s.packets.insert(ptr as usize, b);
                keys.push(ptr as usize);
            }
            let mut head: *mut NET_BUFFER_LIST = core::ptr::null_mut();
            for &k in keys.iter().rev() {
                let p = k as *mut NET_BUFFER_LIST;
                // SAFETY: our own packets, just built.
                unsafe { (*p).Next = head };
                head = p;
            }
            (head, keys)
        };
        if head.is_null() {
            return;
        }
        let f = self
            .0
            .chars
            .ReceiveNetBufferListsHandler
            .expect("receive handler");
        // SAFETY: the driver's handler with a chain of new NBLs.
        unsafe { f(self.0.ctx(), head, 0, keys.len() as u32, flags) };
        if flags & NDIS_RECEIVE_FLAGS_RESOURCES != 0 {
            let mut s = lock(&self.0.st);
            for k in keys {
                match s.packets.get(&k).map(|p| p.owner) {
                    Some(Owner::RxProtocol) => {
                        s.packets.remove(&k);
                    }
                    Some(_) => {
                        s.errors
                            .push("a RESOURCES receive was still held after the call".into());
                        s.packets.remove(&k);
                    }
                    None => s.errors.push("a RESOURCES receive vanished".into()),
                }
            }
        } else {
            self.return_received();
        }
    }

    /// The protocol returns every receive it holds (FilterReturnNetBufferLists).
    pub fn return_received(&self) {
        let head = {
            let mut s = lock(&self.0.st);
            let keys = std::mem::take(&mut s.rx_pending_return);
            let mut head: *mut NET_BUFFER_LIST = core::ptr::null_mut();
            for k in keys.into_iter().rev() {
                if let Some(p) = s.packets.get_mut(&k) {
                    p.owner = Owner::RxReturning;
                    p.nbl.Next = head;
                    head = p.nbl_ptr();
                }
            }
            head
        };
        if head.is_null() {
            return;
        }
        let f = self
            .0
            .chars
            .ReturnNetBufferListsHandler
            .expect("return handler");
        // SAFETY: the driver's handler with NBLs it indicated up.
        unsafe { f(self.0.ctx(), head, 0) };
    }

    /// Indicate NDIS_STATUS_LINK_STATE with a new transmit/receive speed.
    pub fn link_state(&self, bps: u64) {
        let mut ls = NDIS_LINK_STATE {
            Header: NDIS_OBJECT_HEADER {
                Type: NDIS_OBJECT_TYPE_DEFAULT,
                Revision: NDIS_LINK_STATE_REVISION_1,
                Size: NDIS_SIZEOF_LINK_STATE_REVISION_1,
            },
            MediaConnectState: MEDIA_CONNECT_STATE_CONNECTED,
            MediaDuplexState: 2,
            XmitLinkSpeed: bps,
            RcvLinkSpeed: bps,
            PauseFunctions: 0,
            AutoNegotiationFlags: 0,
        };
        // SAFETY: plain data; zero is valid.
        let mut ind: NDIS_STATUS_INDICATION = unsafe { core::mem::zeroed() };
        ind.Header = NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_STATUS_INDICATION,
            Revision: NDIS_STATUS_INDICATION_REVISION_1,
            Size: NDIS_SIZEOF_STATUS_INDICATION_REVISION_1,
        };
        ind.StatusCode = NDIS_STATUS_LINK_STATE;
        ind.StatusBuffer = core::ptr::from_mut(&mut ls).cast();
        ind.StatusBufferSize = core::mem::size_of::<NDIS_LINK_STATE>() as u32;
        let f = self.0.chars.StatusHandler.expect("status handler");
        // SAFETY: the driver's handler with a valid indication.
        unsafe { f(self.0.ctx(), &mut ind) };
    }

    /// The driver's module for this adapter (for inspection).
    #[must_use]
    pub fn module(&self) -> Option<Arc<crate::filter::FilterModule>> {
        crate::driver::modules()
            .into_iter()
            .find(|m| m.info.if_index == self.0.spec.if_index)
    }
}
