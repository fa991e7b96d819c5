//! The filter module: one per adapter the filter attaches to. Attach /
//! restart / pause / detach, send / send complete / cancel, receive
//! pass-through, status (link speed), PnP, and the shaping timer.
//!
//! State machine (ndis-lwf.md): Attach -> Paused; Restart -> Running;
//! Pause -> Pausing -> Paused; Detach. Only in Running does the filter send.
//!
//! Exactly-once accounting: every NBL that arrives from above is in exactly
//! one place at a time: the scheduler (held), on its way down (counted in
//! `outstanding` under the lock before the lock is dropped), or on its way
//! back up (an [`NblQueue`] that is consumed by the completion call).
//! Pause completes once nothing is held and `outstanding` is zero.

use crate::datapath::{Datapath, Policy, SendBatch};
use crate::ffi::api;
use crate::ffi::types::*;
use crate::nbl::{Nbl, NblQueue};
use crate::sync::SpinLock;
use alloc::string::String;
use alloc::sync::Arc;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};
use qos_engine::error::ConfigError;
use qos_engine::packet::Framing;
use qos_engine::psched::Scheduler;
use qos_engine::time::Ticks;

/// Lifecycle state of a filter module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleState {
    /// Attached or paused: sends complete at once with NDIS_STATUS_PAUSED.
    Paused,
    /// Restarted: the datapath runs.
    Running,
    /// Pause pending: waiting for NBLs sent down to come back.
    Pausing,
}

/// What FilterAttach learned about the adapter (immutable afterwards,
/// except the link speed and MTU which live in atomics).
#[derive(Debug, Clone)]
pub struct AdapterInfo {
    /// NET_IFINDEX of the filter module.
    pub if_index: u32,
    /// NET_LUID of the filter module.
    pub net_luid: u64,
    /// NET_LUID of the miniport below.
    pub base_luid: u64,
    /// NET_IFINDEX of the miniport below (stable across re-attach).
    pub base_if_index: u32,
    /// NDIS_MEDIUM.
    pub media: u32,
    /// Link header the frames carry.
    pub framing: Framing,
    /// Current MAC address (first `mac_len` bytes valid).
    pub mac: [u8; 32],
    /// Valid bytes in `mac`.
    pub mac_len: u16,
    /// BaseMiniportName (device name, e.g. `\DEVICE\{GUID}`).
    pub miniport_name: String,
    /// BaseMiniportInstanceName (friendly adapter name).
    pub instance_name: String,
    /// FilterModuleGuidName.
    pub module_name: String,
}

/// Counters the driver keeps besides the engine's statistics.
#[derive(Debug, Default)]
pub struct ModuleCounters {
    /// NBLs received from above.
    pub sends: AtomicU64,
    /// NBLs completed with NDIS_STATUS_PAUSED because the module was not running.
    pub paused_rejects: AtomicU64,
    /// NBLs completed with NDIS_STATUS_SEND_ABORTED by a cancel.
    pub cancelled: AtomicU64,
    /// NBLs the datapath refused (queue limit, discard mode).
    pub dropped: AtomicU64,
    /// Receive indications passed up.
    pub receives: AtomicU64,
    /// Timer callbacks run.
    pub timer_fires: AtomicU64,
}

/// The locked part of a module.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) state: ModuleState,
    /// NBLs sent down and not yet completed by the miniport.
    pub(crate) outstanding: u32,
    /// The engine side (classifier snapshot, scheduler, marks).
    pub(crate) datapath: Datapath,
    /// When the timer is armed for, if it is.
    pub(crate) armed_for: Option<Ticks>,
}

/// One filter module (the FilterModuleContext NDIS hands back).
#[derive(Debug)]
pub struct FilterModule {
    pub(crate) ndis_handle: NDIS_HANDLE,
    pub(crate) timer: NDIS_HANDLE,
    /// Attach-time facts.
    pub info: AdapterInfo,
    /// Transmit link speed in bits/s (NDIS_LINK_SPEED_UNKNOWN if unknown).
    pub link_speed: AtomicU64,
    /// MTU in bytes (from the restart attributes; 1500 until then).
    pub mtu: AtomicU64,
    /// Driver-side counters.
    pub counters: ModuleCounters,
    pub(crate) inner: SpinLock<Locked>,
}

// SAFETY: the raw NDIS handles are opaque tokens NDIS allows on any
// processor; all mutable state is behind the spin lock or atomics.
unsafe impl Send for FilterModule {}
// SAFETY: as above.
unsafe impl Sync for FilterModule {}

/// Recover the module from the context pointer NDIS passes.
///
/// # Safety
/// `ctx` is a FilterModuleContext this driver gave NDIS in FilterAttach
/// (an `Arc::into_raw` of a `FilterModule`) and FilterDetach has not yet
/// returned.
unsafe fn module<'a>(ctx: NDIS_HANDLE) -> &'a FilterModule {
    // SAFETY: forwarded from the contract: NDIS keeps the Arc's reference
    // alive until FilterDetach.
    unsafe { &*ctx.cast::<FilterModule>().cast_const() }
}

fn complete_flags(send_flags: u32) -> u32 {
    if send_flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL != 0 {
        NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL
    } else {
        0
    }
}

impl FilterModule {
    /// Current lifecycle state.
    pub fn state(&self) -> ModuleState {
        self.inner.lock().state
    }

    /// NBLs sent down and not yet back.
    pub fn outstanding(&self) -> u32 {
        self.inner.lock().outstanding
    }

    /// NBLs the scheduler holds.
    pub fn held(&self) -> u32 {
        self.inner.lock().datapath.held()
    }

    /// Publish a configuration to this adapter (`None`: no flows, bypass
    /// once nothing is held). The scheduler's slots are allocated here,
    /// outside the lock; the swap itself is a pointer exchange under it.
    /// NBLs that may go under the new configuration are released at once.
    ///
    /// # Errors
    /// The scheduler refused the limits or could not allocate; the old
    /// configuration stays in force.
    pub fn publish(&self, config: Option<Arc<dyn Policy>>) -> Result<(), ConfigError> {
        let needs_fresh = {
            let g = self.inner.lock();
            let dp = &g.datapath;
            match (&config, dp.scheduler()) {
                (Some(c), Some(s)) => *s.limits() != c.limits() && dp.held() == 0,
                (Some(_), None) => true,
                (None, _) => false,
            }
        };
        let fresh = match (&config, needs_fresh) {
            (Some(c), true) => Some(Scheduler::new(c.limits())?),
            _ => None,
        };
        self.with_datapath(|dp, now| dp.publish(now, config, fresh))
    }

    /// Read the datapath under the module lock (statistics).
    pub fn read<R>(&self, f: impl FnOnce(&Datapath) -> R) -> R {
        let g = self.inner.lock();
        f(&g.datapath)
    }

    /// Run `f` on the datapath under the module lock (config publishing,
    /// statistics reads).
    pub fn with_datapath<R>(&self, f: impl FnOnce(&mut Datapath, Ticks) -> R) -> R {
        let now = api::query_interrupt_time();
        let mut g = self.inner.lock();
        let r = f(&mut g.datapath, now);
        let mut batch = SendBatch::new();
        if g.state == ModuleState::Running {
            let n = g.datapath.release(now, &mut batch);
            g.outstanding = g.outstanding.saturating_add(n);
        }
        self.rearm(&mut g, now);
        drop(g);
        self.send_down(batch, 0);
        r
    }

    /// Complete a queue up to the protocol with `status`.
    fn complete_up(&self, mut q: NblQueue, status: NDIS_STATUS, flags: u32) {
        if q.is_empty() {
            return;
        }
        q.set_status(status);
        self.complete_up_as_is(q, flags);
    }

    fn complete_up_as_is(&self, q: NblQueue, flags: u32) {
        if q.is_empty() {
            return;
        }
        // SAFETY: every NBL in `q` came from above through FilterSend and is
        // owned by us; the queue is consumed, so each is completed once.
        unsafe { api::NdisFSendNetBufferListsComplete(self.ndis_handle, q.into_raw(), flags) };
    }

    /// Send each run of a batch down.
    fn send_down(&self, batch: SendBatch, dispatch_flag: u32) {
        for (port, flags, q) in batch.into_runs() {
            if q.is_empty() {
                continue;
            }
            // SAFETY: the NBLs are owned by us and were counted in
            // `outstanding` under the lock; NDIS now owns them until
            // FilterSendNetBufferListsComplete.
            unsafe {
                api::NdisFSendNetBufferLists(
                    self.ndis_handle,
                    q.into_raw(),
                    port,
                    flags | dispatch_flag,
                )
            };
        }
    }

    /// Arm (or re-arm earlier) the timer for the scheduler's next event.
    fn rearm(&self, g: &mut Locked, now: Ticks) {
        if g.state != ModuleState::Running {
            return;
        }
        let Some(at) = g.datapath.next_event() else {
            return;
        };
        if g.armed_for.is_some_and(|t| t <= at) {
            return;
        }
        let delay = at.saturating_sub(now).max(1);
        let due = i64::try_from(delay).map_or(i64::MIN, |d| d.saturating_neg());
        let me = core::ptr::from_ref(self).cast_mut().cast::<c_void>();
        // SAFETY: the timer object was allocated in attach and is freed only
        // in detach, after the module stopped running; `me` outlives it.
        unsafe { api::NdisSetTimerObject(self.timer, due, 0, me) };
        g.armed_for = Some(at);
    }
}

// ---------------------------------------------------------------- handlers

/// FilterAttach: read the adapter, create the module, set attributes.
///
/// # Safety
/// Called by NDIS with a valid attach-parameters block.
pub unsafe extern "system" fn filter_attach(
    ndis_filter_handle: NDIS_HANDLE,
    _driver_context: NDIS_HANDLE,
    params: *mut NDIS_FILTER_ATTACH_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: NDIS passes a valid attach-parameters block (contract).
    let Some(p) = (unsafe { params.as_ref() }) else {
        return NDIS_STATUS_INVALID_PARAMETER;
    };
    if p.Header.Type != NDIS_OBJECT_TYPE_FILTER_ATTACH_PARAMETERS {
        return NDIS_STATUS_INVALID_PARAMETER;
    }
    let framing = match p.MiniportMediaType {
        // NDISWAN presents 802.3 frames, as Ethernet does.
        NDIS_MEDIUM_802_3 | NDIS_MEDIUM_WAN => Framing::Ethernet,
        // "ppip": no link header.
        NDIS_MEDIUM_IP => Framing::RawIp,
        // Anything else: decline; the filter is optional, the adapter works.
        _ => return NDIS_STATUS_UNSUPPORTED_MEDIA,
    };
    let mac_len = p.MacAddressLength.min(32);
    let info = AdapterInfo {
        if_index: p.IfIndex,
        net_luid: p.NetLuid,
        base_luid: p.BaseMiniportNetLuid,
        base_if_index: p.BaseMiniportIfIndex,
        media: p.MiniportMediaType,
        framing,
        mac: p.CurrentMacAddress,
        mac_len,
        // SAFETY: NDIS passes valid or NULL string pointers.
        miniport_name: unsafe { string_of(p.BaseMiniportName) },
        // SAFETY: as above.
        instance_name: unsafe { string_of(p.BaseMiniportInstanceName) },
        // SAFETY: as above.
        module_name: unsafe { string_of(p.FilterModuleGuidName) },
    };
    let link = p.XmitLinkSpeed;
    // Timer: one per adapter. Its context is passed on every
    // NdisSetTimerObject (the module pointer), so it can exist first.
    let mut chars = NDIS_TIMER_CHARACTERISTICS {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_TIMER_CHARACTERISTICS,
            Revision: NDIS_TIMER_CHARACTERISTICS_REVISION_1,
            Size: NDIS_SIZEOF_TIMER_CHARACTERISTICS_REVISION_1,
        },
        AllocationTag: crate::ids::POOL_TAG,
        TimerFunction: Some(filter_timer),
        FunctionContext: core::ptr::null_mut(),
    };
    let mut timer: NDIS_HANDLE = core::ptr::null_mut();
    // SAFETY: valid characteristics and out pointer; the filter handle is
    // the one NDIS just gave us.
    let st = unsafe { api::NdisAllocateTimerObject(ndis_filter_handle, &mut chars, &mut timer) };
    if st != NDIS_STATUS_SUCCESS {
        return NDIS_STATUS_RESOURCES;
    }
    let module = Arc::new(FilterModule {
        ndis_handle: ndis_filter_handle,
        timer,
        info,
        link_speed: AtomicU64::new(link),
        mtu: AtomicU64::new(1500),
        counters: ModuleCounters::default(),
        inner: SpinLock::new(Locked {
            state: ModuleState::Paused,
            outstanding: 0,
            datapath: Datapath::new(framing, link),
            armed_for: None,
        }),
    });
    let ctx = Arc::into_raw(module).cast_mut();
    let mut attrs = NDIS_FILTER_ATTRIBUTES {
        Header: NDIS_OBJECT_HEADER {
            Type: NDIS_OBJECT_TYPE_FILTER_ATTRIBUTES,
            Revision: NDIS_FILTER_ATTRIBUTES_REVISION_1,
            Size: NDIS_SIZEOF_FILTER_ATTRIBUTES_REVISION_1,
        },
        Flags: 0,
    };
    // SAFETY: valid handle and attributes; ctx lives until detach.
    let st = unsafe { api::NdisFSetAttributes(ndis_filter_handle, ctx.cast(), &mut attrs) };
    if st != NDIS_STATUS_SUCCESS {
        // SAFETY: the timer was allocated above and never set.
        unsafe { api::NdisFreeTimerObject(timer) };
        // SAFETY: `ctx` came from Arc::into_raw above; NDIS refused it.
        drop(unsafe { Arc::from_raw(ctx.cast_const()) });
        return st;
    }
    // SAFETY: ctx is a live Arc pointer (NDIS's reference).
    let clone = unsafe { arc_clone(ctx) };
    crate::driver::register_module(clone);
    NDIS_STATUS_SUCCESS
}

/// Clone the Arc behind a context pointer without consuming NDIS's
/// reference.
///
/// # Safety
/// `ctx` is a live `Arc::into_raw` pointer of a `FilterModule`.
unsafe fn arc_clone(ctx: *mut FilterModule) -> Arc<FilterModule> {
    // SAFETY: forwarded contract: the strong count is at least one.
    unsafe { Arc::increment_strong_count(ctx.cast_const()) };
    // SAFETY: we just added the reference this Arc takes over.
    unsafe { Arc::from_raw(ctx.cast_const()) }
}

/// Read an NDIS_STRING into a String (lossy UTF-16).
///
/// # Safety
/// `s` is NULL or points to a valid UNICODE_STRING.
unsafe fn string_of(s: *mut NDIS_STRING) -> String {
    // SAFETY: contract.
    let Some(s) = (unsafe { s.as_ref() }) else {
        return String::new();
    };
    if s.Buffer.is_null() {
        return String::new();
    }
    let n = usize::from(s.Length / 2);
    // SAFETY: a valid UNICODE_STRING has Length bytes at Buffer.
    let w = unsafe { core::slice::from_raw_parts(s.Buffer.cast_const(), n) };
    char::decode_utf16(w.iter().copied())
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// FilterDetach: the module is paused; free everything.
///
/// # Safety
/// NDIS contract: `ctx` is our module context, the module is paused.
pub unsafe extern "system" fn filter_detach(ctx: NDIS_HANDLE) {
    let raw = ctx.cast::<FilterModule>().cast_const();
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    crate::driver::unregister_module(raw);
    // SAFETY: allocated in attach; cancel before freeing.
    unsafe { api::NdisCancelTimerObject(m.timer) };
    // SAFETY: the timer is ours; after this no callback starts.
    unsafe { api::NdisFreeTimerObject(m.timer) };
    // Wait for a callback that may already run on another processor.
    // SAFETY: plain kernel call at PASSIVE_LEVEL.
    unsafe { api::KeFlushQueuedDpcs() };
    // Anything still held (should be nothing: pause drained it) goes back.
    let mut left = NblQueue::new();
    {
        let mut g = m.inner.lock();
        g.datapath.drain(&mut left);
    }
    m.complete_up(left, NDIS_STATUS_PAUSED, 0);
    // SAFETY: NDIS's reference from Arc::into_raw in attach; NDIS will not
    // use the context after detach returns.
    drop(unsafe { Arc::from_raw(raw) });
}

/// FilterRestart: Paused -> Running.
///
/// # Safety
/// NDIS contract: `ctx` is our module context.
pub unsafe extern "system" fn filter_restart(
    ctx: NDIS_HANDLE,
    params: *mut NDIS_FILTER_RESTART_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    // SAFETY: NDIS passes a valid or NULL block.
    if let Some(mtu) = unsafe { restart_mtu(params) } {
        m.mtu.store(u64::from(mtu), Ordering::Relaxed);
    }
    // Re-admit the configuration at the current link speed (PASSIVE).
    crate::driver::module_restarted(m);
    let now = api::query_interrupt_time();
    let mut g = m.inner.lock();
    g.state = ModuleState::Running;
    g.armed_for = None;
    m.rearm(&mut g, now);
    NDIS_STATUS_SUCCESS
}

/// OID_GEN_MINIPORT_RESTART_ATTRIBUTES.
const OID_GEN_MINIPORT_RESTART_ATTRIBUTES: u32 = 0x0001_020D;
/// NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES (ndis-layouts.md §4).
const NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES: u8 = 0xA2;

/// The MTU from the restart attributes' general attributes: the list entry
/// is {Next @0, Oid @8, DataLength @0xc, Data @0x10} (ndis-layouts.md §4
/// NDIS_FILTER_RESTART_PARAMETERS note); in NDIS_RESTART_GENERAL_ATTRIBUTES
/// MtuSize is the ULONG right after the 4-byte header (offset 4; public
/// ndis.h, not in ndis-layouts.md: UNCONFIRMED there).
///
/// # Safety
/// `params` is NULL or a valid restart-parameters block.
unsafe fn restart_mtu(params: *mut NDIS_FILTER_RESTART_PARAMETERS) -> Option<u32> {
    // SAFETY: contract.
    let p = unsafe { params.as_ref() }?;
    let mut attr = p.RestartAttributes.cast::<u8>().cast_const();
    let mut guard = 0u32;
    while !attr.is_null() && guard < 16 {
        guard = guard.saturating_add(1);
        // SAFETY: NDIS's list entries are valid; Oid at +8 is a ULONG.
        let oid = unsafe { attr.wrapping_add(8).cast::<u32>().read_unaligned() };
        // SAFETY: DataLength at +0xc.
        let len = unsafe { attr.wrapping_add(0xc).cast::<u32>().read_unaligned() };
        if oid == OID_GEN_MINIPORT_RESTART_ATTRIBUTES && len >= 8 {
            let data = attr.wrapping_add(0x10);
            // SAFETY: Data holds `len` (>= 8) bytes: header then MtuSize.
            let ty = unsafe { data.read() };
            if ty == NDIS_OBJECT_TYPE_RESTART_GENERAL_ATTRIBUTES {
                // SAFETY: as above, offset 4 is within the 8 bytes.
                return Some(unsafe { data.wrapping_add(4).cast::<u32>().read_unaligned() });
            }
        }
        // SAFETY: Next at +0.
        attr = unsafe { attr.cast::<*const u8>().read_unaligned() };
    }
    None
}

/// FilterPause: complete everything held, cancel the timer, wait for the
/// NBLs sent down (PENDING + NdisFPauseComplete when they are all back).
///
/// # Safety
/// NDIS contract: `ctx` is our module context, the module is running.
pub unsafe extern "system" fn filter_pause(
    ctx: NDIS_HANDLE,
    _params: *mut NDIS_FILTER_PAUSE_PARAMETERS,
) -> NDIS_STATUS {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    let mut held = NblQueue::new();
    let done = {
        let mut g = m.inner.lock();
        g.state = ModuleState::Pausing;
        g.datapath.drain(&mut held);
        g.armed_for = None;
        // SAFETY: the timer lives until detach. A callback already running
        // sees Pausing under the lock and does nothing.
        unsafe { api::NdisCancelTimerObject(m.timer) };
        if g.outstanding == 0 {
            g.state = ModuleState::Paused;
            true
        } else {
            false
        }
    };
    m.complete_up(held, NDIS_STATUS_PAUSED, 0);
    if done {
        NDIS_STATUS_SUCCESS
    } else {
        NDIS_STATUS_PENDING
    }
}

/// FilterSendNetBufferLists: classify, conform, mark, shape, sequence.
///
/// # Safety
/// NDIS contract: `ctx` is our module context; `nbls` a chain NDIS hands us.
pub unsafe extern "system" fn filter_send(
    ctx: NDIS_HANDLE,
    nbls: *mut NET_BUFFER_LIST,
    port: NDIS_PORT_NUMBER,
    flags: u32,
) {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    let dispatch = flags & NDIS_SEND_FLAGS_DISPATCH_LEVEL;
    let mut g = m.inner.lock();
    if g.state != ModuleState::Running {
        drop(g);
        // SAFETY: the chain is ours until we complete it (validity invariant).
        let q = unsafe { NblQueue::from_chain(nbls) };
        let n = q.len();
        m.counters.sends.fetch_add(u64::from(n), Ordering::Relaxed);
        m.counters
            .paused_rejects
            .fetch_add(u64::from(n), Ordering::Relaxed);
        m.complete_up(q, NDIS_STATUS_PAUSED, complete_flags(flags));
        return;
    }
    if g.datapath.is_bypass() {
        // No flows on this adapter: one branch, the chain straight down as
        // it came.
        // SAFETY: the chain is ours until we pass it on (validity invariant).
        let n = unsafe { NblQueue::chain_len(nbls) };
        g.outstanding = g.outstanding.saturating_add(n);
        drop(g);
        m.counters.sends.fetch_add(u64::from(n), Ordering::Relaxed);
        if n > 0 {
            // SAFETY: counted in `outstanding` under the lock above; NDIS
            // owns the chain until it completes it to us.
            unsafe { api::NdisFSendNetBufferLists(m.ndis_handle, nbls, port, flags) };
        }
        return;
    }
    let now = api::query_interrupt_time();
    let mut refused = NblQueue::new();
    let keep_flags = flags & !NDIS_SEND_FLAGS_DISPATCH_LEVEL;
    let mut batch = SendBatch::new();
    // One walk of the chain, in one batched scheduler call: each NBL is
    // classified as the scheduler takes it (its Next link is rewritten only
    // when it is queued to go on), and whatever the scheduler lets go is
    // marked and batched at once.
    // SAFETY: the chain is ours until we complete it (validity invariant).
    let first = unsafe { Nbl::from_raw(nbls) };
    let done = g
        .datapath
        .submit_chain(now, first, port, keep_flags, &mut batch, &mut refused);
    let n = done.nbls;
    let released = done
        .released
        .saturating_add(g.datapath.release(now, &mut batch));
    g.outstanding = g.outstanding.saturating_add(released);
    m.rearm(&mut g, now);
    drop(g);
    m.counters.sends.fetch_add(u64::from(n), Ordering::Relaxed);
    if !refused.is_empty() {
        m.counters
            .dropped
            .fetch_add(u64::from(refused.len()), Ordering::Relaxed);
        m.complete_up_as_is(refused, complete_flags(flags));
    }
    m.send_down(batch, dispatch);
}

/// FilterSendNetBufferListsComplete: return each NBL to its source, take
/// the credits back, release what the freed credits allow, finish a
/// pending pause.
///
/// # Safety
/// NDIS contract: `ctx` is our module context; `nbls` were sent down by us.
pub unsafe extern "system" fn filter_send_complete(
    ctx: NDIS_HANDLE,
    nbls: *mut NET_BUFFER_LIST,
    flags: u32,
) {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    // SAFETY: the miniport gave them back; ours until we complete them up.
    let n = unsafe { NblQueue::chain_len(nbls) };
    // Complete up first, the chain as it came (status as the miniport set
    // it), then count them back: a pause can only complete once they are
    // all with their owner.
    if n > 0 {
        // SAFETY: every NBL of the chain came from above through
        // FilterSend and went down through us; it goes back up once.
        unsafe {
            api::NdisFSendNetBufferListsComplete(
                m.ndis_handle,
                nbls,
                flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL,
            )
        };
    }
    let now = api::query_interrupt_time();
    let mut batch = SendBatch::new();
    let pause_done = {
        let mut g = m.inner.lock();
        g.outstanding = g.outstanding.saturating_sub(n);
        g.datapath.send_completed(n);
        if g.state == ModuleState::Running {
            let r = g.datapath.release(now, &mut batch);
            g.outstanding = g.outstanding.saturating_add(r);
            m.rearm(&mut g, now);
        }
        if g.state == ModuleState::Pausing && g.outstanding == 0 {
            g.state = ModuleState::Paused;
            true
        } else {
            false
        }
    };
    let dispatch = if flags & NDIS_SEND_COMPLETE_FLAGS_DISPATCH_LEVEL != 0 {
        NDIS_SEND_FLAGS_DISPATCH_LEVEL
    } else {
        0
    };
    m.send_down(batch, dispatch);
    if pause_done {
        // SAFETY: the module handle is valid; the pause we returned PENDING
        // for is now complete.
        unsafe { api::NdisFPauseComplete(m.ndis_handle) };
    }
}

/// FilterCancelSendNetBufferLists: abort held NBLs with this cancel id and
/// pass the cancel down.
///
/// # Safety
/// NDIS contract: `ctx` is our module context.
pub unsafe extern "system" fn filter_cancel_send(ctx: NDIS_HANDLE, cancel_id: *mut c_void) {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    let mut aborted = NblQueue::new();
    {
        let now = api::query_interrupt_time();
        let mut g = m.inner.lock();
        g.datapath.cancel(cancel_id as usize, &mut aborted);
        m.rearm(&mut g, now);
    }
    m.counters
        .cancelled
        .fetch_add(u64::from(aborted.len()), Ordering::Relaxed);
    m.complete_up(aborted, NDIS_STATUS_SEND_ABORTED, 0);
    // SAFETY: valid handle; the id is passed through unchanged.
    unsafe { api::NdisFCancelSendNetBufferLists(m.ndis_handle, cancel_id) };
}

/// FilterReceiveNetBufferLists: pass-through. With
/// NDIS_RECEIVE_FLAGS_RESOURCES the NBLs are indicated up in this call and
/// never touched afterwards.
///
/// # Safety
/// NDIS contract: `ctx` is our module context.
pub unsafe extern "system" fn filter_receive(
    ctx: NDIS_HANDLE,
    nbls: *mut NET_BUFFER_LIST,
    port: NDIS_PORT_NUMBER,
    count: u32,
    flags: u32,
) {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    m.counters
        .receives
        .fetch_add(u64::from(count), Ordering::Relaxed);
    // SAFETY: pass the indication up unchanged, as a filter may.
    unsafe { api::NdisFIndicateReceiveNetBufferLists(m.ndis_handle, nbls, port, count, flags) };
}

/// FilterReturnNetBufferLists: pass-through to the miniport.
///
/// # Safety
/// NDIS contract: `ctx` is our module context.
pub unsafe extern "system" fn filter_return(
    ctx: NDIS_HANDLE,
    nbls: *mut NET_BUFFER_LIST,
    flags: u32,
) {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    // SAFETY: the NBLs were indicated by the miniport through us.
    unsafe { api::NdisFReturnNetBufferLists(m.ndis_handle, nbls, flags) };
}

/// FilterStatus: link-state changes update the link speed; everything is
/// passed up.
///
/// # Safety
/// NDIS contract: `ctx` is our module context; `ind` valid.
pub unsafe extern "system" fn filter_status(ctx: NDIS_HANDLE, ind: *mut NDIS_STATUS_INDICATION) {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    // SAFETY: NDIS passes a valid indication.
    if let Some(s) = unsafe { ind.as_ref() } {
        let big_enough = s.StatusBufferSize as usize >= core::mem::size_of::<NDIS_LINK_STATE>();
        if s.StatusCode == NDIS_STATUS_LINK_STATE && big_enough && !s.StatusBuffer.is_null() {
            // SAFETY: a LINK_STATE indication carries an NDIS_LINK_STATE of
            // StatusBufferSize (>= 0x28) bytes; read unaligned to be safe.
            let ls = unsafe { s.StatusBuffer.cast::<NDIS_LINK_STATE>().read_unaligned() };
            m.link_speed.store(ls.XmitLinkSpeed, Ordering::Relaxed);
            let speed = ls.XmitLinkSpeed;
            m.with_datapath(|dp, now| dp.set_link_speed(now, speed));
        }
    }
    // SAFETY: pass the indication up unchanged.
    unsafe { api::NdisFIndicateStatus(m.ndis_handle, ind) };
}

/// FilterNetPnPEvent: pass through.
///
/// # Safety
/// NDIS contract: `ctx` is our module context.
pub unsafe extern "system" fn filter_net_pnp_event(
    ctx: NDIS_HANDLE,
    event: *mut c_void,
) -> NDIS_STATUS {
    // SAFETY: contract.
    let m = unsafe { module(ctx) };
    // SAFETY: forwarded unchanged.
    unsafe { api::NdisFNetPnPEvent(m.ndis_handle, event) }
}

/// FilterSetModuleOptions: nothing to change.
///
/// # Safety
/// NDIS contract.
pub unsafe extern "system" fn filter_set_module_options(_ctx: NDIS_HANDLE) -> NDIS_STATUS {
    NDIS_STATUS_SUCCESS
}

/// The shaping timer: release what became eligible, re-arm.
///
/// # Safety
/// Called by NDIS with the context given in attach (the module), which is
/// valid until detach frees the timer and flushes callbacks.
pub unsafe extern "system" fn filter_timer(
    _s1: *mut c_void,
    ctx: *mut c_void,
    _s2: *mut c_void,
    _s3: *mut c_void,
) {
    // SAFETY: contract: the module outlives its timer.
    let m = unsafe { module(ctx) };
    m.counters.timer_fires.fetch_add(1, Ordering::Relaxed);
    let now = api::query_interrupt_time();
    let mut batch = SendBatch::new();
    {
        let mut g = m.inner.lock();
        g.armed_for = None;
        if g.state != ModuleState::Running {
            return;
        }
        let r = g.datapath.release(now, &mut batch);
        g.outstanding = g.outstanding.saturating_add(r);
        m.rearm(&mut g, now);
    }
    // Timer callbacks run at DISPATCH_LEVEL.
    m.send_down(batch, NDIS_SEND_FLAGS_DISPATCH_LEVEL);
}

/// A cancel-id matcher used by the datapath.
pub(crate) fn cancel_matches(nbl: &Nbl, id: usize) -> bool {
    nbl.cancel_id() == id
}
