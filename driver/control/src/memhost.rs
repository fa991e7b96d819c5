//! An in-memory [`DatapathHost`] for tests: fake adapters, each with a real
//! `psched::Scheduler` that publishes reconfigure (so statistics are real
//! when a test drives packets through it), fault injection for publish,
//! and a stream server speaking `qos_proto::transport` framing.
//!
//! Used by qos-control's own tests, tcctl's CLI tests and the HLK suite.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::io::{self, Read, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

use qos_engine::adapter::Snapshot;
use qos_engine::psched::Scheduler;
use qos_proto::transport::{REQUEST_PREFIX_LEN, ReplyFrame, RequestFrame};
use qos_proto::{AdapterId, AdapterInfo, AdapterState, AdapterStatistics, FlowStats};

use crate::convert::{wire_flow_stats, wire_scheduler_stats};
use crate::host::{DatapathHost, HostError};
use crate::plane::ControlPlane;

/// The packet handle of memhost's schedulers: any number a test likes.
pub type TestPacket = u64;

#[derive(Debug)]
struct MemAdapter {
    info: AdapterInfo,
    snapshot: Option<Arc<Snapshot>>,
    scheduler: Option<Scheduler<TestPacket>>,
    publishes: u64,
    fail_next_publish: bool,
}

/// An in-memory datapath host. All methods take `&self` (internally locked),
/// so a test can share it (`Arc<MemHost>`) between the control plane and
/// reader threads.
#[derive(Debug, Default)]
pub struct MemHost {
    adapters: Mutex<BTreeMap<AdapterId, MemAdapter>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fake adapter's description.
#[must_use]
pub fn fake_adapter(
    id: AdapterId,
    name: &str,
    friendly: &str,
    media: u32,
    mtu: u32,
    link_speed_bps: u64,
) -> AdapterInfo {
    let b = u8::try_from(id & 0xFF).unwrap_or(0);
    AdapterInfo {
        id,
        name: String::from(name),
        friendly_name: String::from(friendly),
        guid: [b; 16],
        mac: if media == qos_proto::MEDIUM_IP {
            [0; 6]
        } else {
            [2, 0, 0, 0, 0, b]
        },
        media,
        mtu,
        link_speed_bps,
        state: AdapterState::Running,
        flows: 0,
        filters: 0,
        policies: 0,
    }
}

impl MemHost {
    /// A host with no adapters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A host with two fake adapters: 1 = `eth0` "Ethernet" (802.3, MTU
    /// 1500, 1 Gbit/s) and 2 = `wwan0` "Cellular" (raw IP, MTU 1400,
    /// 50 Mbit/s), both running.
    #[must_use]
    pub fn with_fake_adapters() -> Self {
        let h = Self::new();
        h.add_adapter(fake_adapter(
            1,
            "eth0",
            "Ethernet",
            qos_proto::MEDIUM_802_3,
            1500,
            1_000_000_000,
        ));
        h.add_adapter(fake_adapter(
            2,
            "wwan0",
            "Cellular",
            qos_proto::MEDIUM_IP,
            1400,
            50_000_000,
        ));
        h
    }

    /// Attaches an adapter (replacing one with the same id).
    pub fn add_adapter(&self, info: AdapterInfo) {
        lock(&self.adapters).insert(
            info.id,
            MemAdapter {
                info,
                snapshot: None,
                scheduler: None,
                publishes: 0,
                fail_next_publish: false,
            },
        );
    }

    /// Detaches an adapter.
    pub fn remove_adapter(&self, id: AdapterId) {
        lock(&self.adapters).remove(&id);
    }

    /// Changes an adapter's link speed.
    pub fn set_link_speed(&self, id: AdapterId, bps: u64) {
        if let Some(a) = lock(&self.adapters).get_mut(&id) {
            a.info.link_speed_bps = bps;
        }
    }

    /// The snapshot the datapath of `id` uses now.
    #[must_use]
    pub fn snapshot(&self, id: AdapterId) -> Option<Arc<Snapshot>> {
        lock(&self.adapters)
            .get(&id)
            .and_then(|a| a.snapshot.clone())
    }

    /// How many snapshots `id` accepted.
    #[must_use]
    pub fn publish_count(&self, id: AdapterId) -> u64 {
        lock(&self.adapters).get(&id).map_or(0, |a| a.publishes)
    }

    /// Makes the next publish to `id` fail (the datapath keeps its old
    /// snapshot).
    pub fn fail_next_publish(&self, id: AdapterId) {
        if let Some(a) = lock(&self.adapters).get_mut(&id) {
            a.fail_next_publish = true;
        }
    }

    /// Runs `f` on the adapter's scheduler and snapshot (to drive test
    /// packets through it); `None` before the first publish.
    pub fn with_scheduler<R>(
        &self,
        id: AdapterId,
        f: impl FnOnce(&mut Scheduler<TestPacket>, &Snapshot) -> R,
    ) -> Option<R> {
        let mut g = lock(&self.adapters);
        let a = g.get_mut(&id)?;
        let snap = a.snapshot.clone()?;
        let s = a.scheduler.as_mut()?;
        Some(f(s, &snap))
    }
}

impl DatapathHost for MemHost {
    fn adapters(&self) -> Vec<AdapterInfo> {
        lock(&self.adapters)
            .values()
            .map(|a| a.info.clone())
            .collect()
    }

    fn adapter(&self, id: AdapterId) -> Option<AdapterInfo> {
        lock(&self.adapters).get(&id).map(|a| a.info.clone())
    }

    fn publish(&self, id: AdapterId, snapshot: Arc<Snapshot>) -> Result<(), HostError> {
        let mut g = lock(&self.adapters);
        let a = g.get_mut(&id).ok_or(HostError::Gone)?;
        if a.fail_next_publish {
            a.fail_next_publish = false;
            return Err(HostError::Failed("injected failure (memhost)"));
        }
        let limits = snapshot.limits();
        let mut fresh = None;
        if a.scheduler.as_ref().is_none_or(|s| *s.limits() != limits) {
            fresh = Some(
                Scheduler::new(limits)
                    .map_err(|_| HostError::Failed("scheduler limits cannot be allocated"))?,
            );
        }
        let s = match fresh {
            Some(s) => a.scheduler.insert(s),
            None => match a.scheduler.as_mut() {
                Some(s) => s,
                None => return Err(HostError::Failed("no scheduler")),
            },
        };
        s.reconfigure(0, snapshot.flows())
            .map_err(|_| HostError::Failed("scheduler flow tables cannot be allocated"))?;
        a.snapshot = Some(snapshot);
        a.publishes = a.publishes.saturating_add(1);
        Ok(())
    }

    fn adapter_stats(&self, id: AdapterId) -> Option<AdapterStatistics> {
        let g = lock(&self.adapters);
        let a = g.get(&id)?;
        Some(
            a.scheduler
                .as_ref()
                .map(wire_scheduler_stats)
                .unwrap_or_default(),
        )
    }

    fn flow_stats(&self, id: AdapterId, index: usize) -> Option<FlowStats> {
        let g = lock(&self.adapters);
        let s = g.get(&id)?.scheduler.as_ref()?;
        s.flow_stats(index).map(wire_flow_stats)
    }

    fn clear_stats(&self, id: AdapterId) {
        if let Some(s) = lock(&self.adapters)
            .get_mut(&id)
            .and_then(|a| a.scheduler.as_mut())
        {
            s.clear_stats();
        }
    }
}

/// Serves one connection: reads requests framed as `qos_proto::transport`
/// describes, dispatches each under `plane`'s lock, writes the replies.
/// Returns `Ok` when the peer closes the connection between requests.
///
/// # Errors
/// I/O errors, or `InvalidData` for a frame over the size limits.
pub fn serve_stream<H: DatapathHost, S: Read + Write>(
    plane: &Mutex<ControlPlane<H>>,
    mut stream: S,
) -> io::Result<()> {
    loop {
        let mut prefix = [0u8; REQUEST_PREFIX_LEN];
        match stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let frame = RequestFrame::decode(&prefix)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, alloc::format!("{e}")))?;
        let to_usize = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        let mut input = alloc::vec![0u8; to_usize(frame.input_len)];
        stream.read_exact(&mut input)?;
        let mut output = alloc::vec![0u8; to_usize(frame.output_len)];
        let r = lock(plane).dispatch(frame.code, &input, &mut output);
        let out = output.get(..r.written).unwrap_or_default();
        stream.write_all(&ReplyFrame::new(r.ntstatus, out).encode())?;
        stream.write_all(out)?;
        stream.flush()?;
    }
}
