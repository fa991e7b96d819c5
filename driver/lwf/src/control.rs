//! The control plane as the driver hosts it: qos-control's
//! [`ControlPlane`] over the attached filter modules ([`DriverHost`]).
//!
//! Adapters are named by the miniport's interface index
//! (BaseMiniportIfIndex), which stays the same when the filter module is
//! detached and attached again (pause/restart of the stack, driver
//! reload), so an adapter's configuration survives those: on attach the
//! retained configuration is compiled for the adapter's link speed and
//! published before the module first runs.
//!
//! Locking: the control plane sits behind a PASSIVE_LEVEL mutex in the
//! driver context (dispatch is serialised, may allocate and take time);
//! the datapath never takes it. Link-state indications (up to
//! DISPATCH_LEVEL) only record the speed; the configuration is re-admitted
//! at the new speed when the module restarts, and every change is admitted
//! against the speed the module reports at that moment. The
//! control plane calls [`DriverHost`], which finds modules by a referenced
//! lookup (an `Arc` cloned under the module list's lock) and publishes
//! with a pointer swap under each module's lock. Order: control plane ->
//! module list -> module; nothing takes them the other way round.

use crate::datapath::Policy;
use crate::driver;
use crate::ffi::types::{NDIS_LINK_SPEED_UNKNOWN, NTSTATUS};
use crate::filter::{FilterModule, ModuleState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use qos_control::convert::{wire_flow_stats, wire_scheduler_stats};
use qos_control::{ControlPlane, DatapathHost, HostError};
use qos_engine::adapter::Snapshot;
use qos_engine::flow::FlowSpec;
use qos_engine::gpc::FlowId;
use qos_engine::mark::MarkMaps;
use qos_engine::packet::FlowKey;
use qos_engine::psched::Limits;
use qos_proto::{AdapterId, AdapterInfo, AdapterState, AdapterStatistics, FlowStats};

/// The compiled snapshot is what the datapath runs on.
impl Policy for Snapshot {
    fn flows(&self) -> &[(FlowId, FlowSpec)] {
        Snapshot::flows(self)
    }
    fn classify(&self, key: &FlowKey) -> Option<usize> {
        Snapshot::classify(self, key)
    }
    fn maps(&self) -> &MarkMaps {
        Snapshot::maps(self)
    }
    fn limits(&self) -> Limits {
        Snapshot::limits(self)
    }
    fn reset_unmarked_dscp(&self) -> bool {
        self.options().marking_override == qos_engine::adapter::MarkingOverride::Ignore
    }
}

/// The id the control plane names a module's adapter by.
#[must_use]
pub fn adapter_id(m: &FilterModule) -> AdapterId {
    if m.info.base_if_index != 0 {
        m.info.base_if_index
    } else {
        m.info.if_index
    }
}

fn link_bps(m: &FilterModule) -> u64 {
    match m.link_speed.load(Ordering::Relaxed) {
        NDIS_LINK_SPEED_UNKNOWN => 0,
        s => s,
    }
}

fn module(id: AdapterId) -> Option<Arc<FilterModule>> {
    driver::modules().into_iter().find(|m| adapter_id(m) == id)
}

/// `\DEVICE\{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` -> the GUID's bytes in
/// the Windows in-memory order (Data1..3 little-endian); zero if the name
/// holds no GUID.
fn guid_of(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    let Some(start) = name.find('{') else {
        return out;
    };
    let hex: Vec<u8> = name
        .get(start..)
        .unwrap_or("")
        .chars()
        .take(38)
        .filter_map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect();
    if hex.len() != 32 {
        return out;
    }
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        let hi = hex.get(i.saturating_mul(2)).copied().unwrap_or(0);
        let lo = hex
            .get(i.saturating_mul(2).saturating_add(1))
            .copied()
            .unwrap_or(0);
        *b = (hi << 4) | lo;
    }
    // Data1 (4 bytes), Data2, Data3 (2 bytes each) are stored little-endian.
    let order = [3usize, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
    for (o, src) in out.iter_mut().zip(order) {
        *o = bytes.get(src).copied().unwrap_or(0);
    }
    out
}

fn info_of(m: &FilterModule) -> AdapterInfo {
    let state = match m.state() {
        ModuleState::Paused => AdapterState::Paused,
        ModuleState::Running => AdapterState::Running,
        ModuleState::Pausing => AdapterState::Pausing,
    };
    let mut mac = [0u8; 6];
    if m.info.mac_len >= 6 {
        for (d, s) in mac.iter_mut().zip(m.info.mac.iter()) {
            *d = *s;
        }
    }
    AdapterInfo {
        id: adapter_id(m),
        name: m.info.miniport_name.clone(),
        friendly_name: m.info.instance_name.clone(),
        guid: guid_of(&m.info.miniport_name),
        mac,
        media: m.info.media,
        mtu: u32::try_from(m.mtu.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
        link_speed_bps: link_bps(m),
        state,
        flows: 0,
        filters: 0,
        policies: 0,
    }
}

/// The datapath side the control plane drives: the attached modules.
#[derive(Debug, Default, Clone, Copy)]
pub struct DriverHost;

impl DatapathHost for DriverHost {
    fn adapters(&self) -> Vec<AdapterInfo> {
        let mut v: Vec<AdapterInfo> = driver::modules().iter().map(|m| info_of(m)).collect();
        v.sort_by_key(|a| a.id);
        v
    }

    fn adapter(&self, id: AdapterId) -> Option<AdapterInfo> {
        module(id).map(|m| info_of(&m))
    }

    fn publish(&self, id: AdapterId, snapshot: Arc<Snapshot>) -> Result<(), HostError> {
        let m = module(id).ok_or(HostError::Gone)?;
        m.publish(Some(snapshot))
            .map_err(|_| HostError::Failed("the scheduler could not allocate its tables"))
    }

    fn adapter_stats(&self, id: AdapterId) -> Option<AdapterStatistics> {
        let m = module(id)?;
        let s = m.read(|d| d.scheduler().map(wire_scheduler_stats));
        Some(s.unwrap_or_default())
    }

    fn flow_stats(&self, id: AdapterId, index: usize) -> Option<FlowStats> {
        let m = module(id)?;
        m.read(|d| {
            d.scheduler()
                .and_then(|s| s.flow_stats(index))
                .map(wire_flow_stats)
        })
    }

    fn clear_stats(&self, id: AdapterId) {
        if let Some(m) = module(id) {
            m.with_datapath(|d, _| d.clear_stats());
        }
    }
}

/// The driver's control-plane state.
#[derive(Debug)]
pub struct Control {
    plane: ControlPlane<DriverHost>,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    /// No configuration yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            plane: ControlPlane::new(DriverHost),
        }
    }

    /// A module attached: install the adapter's retained configuration.
    pub fn adapter_added(&mut self, m: &FilterModule) {
        self.republish(m);
    }

    /// A module is detaching. Its configuration is kept for the next
    /// attach of the same adapter.
    pub fn adapter_removed(&mut self, _m: &FilterModule) {}

    /// The module restarted: re-admit the configuration at its current
    /// link speed.
    pub fn link_changed(&mut self, m: &FilterModule) {
        self.republish(m);
    }

    fn republish(&mut self, m: &FilterModule) {
        let id = adapter_id(m);
        if self.plane.current_snapshot(id).is_none() {
            return;
        }
        let snap = self.plane.snapshot_for(id, link_bps(m));
        let same = m.read(|d| {
            d.config()
                .is_some_and(|c| core::ptr::addr_eq(Arc::as_ptr(c), Arc::as_ptr(&snap)))
        });
        if !same {
            // A failure keeps the old configuration; nothing else to do here
            // (the next change reports it).
            let _ = m.publish(Some(snap));
        }
    }

    /// Handle one IOCTL.
    pub fn dispatch(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> (NTSTATUS, usize) {
        let r = self.plane.dispatch(code, input, output);
        (r.ntstatus as NTSTATUS, r.written)
    }
}

/// Handle one IOCTL: (status, bytes written to `output`).
pub fn dispatch(code: u32, input: &[u8], output: &mut [u8]) -> (NTSTATUS, usize) {
    match driver::ctx() {
        Some(d) => d.control.lock().dispatch(code, input, output),
        None => (crate::ffi::types::STATUS_DEVICE_NOT_READY, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::guid_of;

    #[test]
    fn guid_bytes_are_in_windows_memory_order() {
        let g = guid_of("\\DEVICE\\{00112233-4455-6677-8899-AABBCCDDEEFF}");
        assert_eq!(
            g,
            [
                0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
                0xEE, 0xFF
            ]
        );
        assert_eq!(guid_of("eth0"), [0; 16]);
        assert_eq!(guid_of("{1234}"), [0; 16]);
    }
}
