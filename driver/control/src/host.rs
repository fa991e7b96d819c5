//! The datapath side of the control plane: what the driver (or an
//! in-memory test host) provides.

use alloc::sync::Arc;
use alloc::vec::Vec;

use qos_engine::adapter::Snapshot;
use qos_proto::{AdapterId, AdapterInfo, AdapterStatistics, FlowStats};

/// Why the host could not take a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// The adapter is not attached (any more).
    Gone,
    /// The datapath refused or could not install it (e.g. the scheduler
    /// could not allocate its tables); the old snapshot stays in force.
    Failed(&'static str),
}

/// The datapath as the control plane sees it. The driver implements it
/// over its filter modules; `memhost` implements it in memory.
///
/// # Concurrency contract
/// The control plane calls these methods from `dispatch` at
/// PASSIVE_LEVEL, with the driver's control-plane lock held (see
/// [`crate::ControlPlane`]). They must not call back into the control
/// plane. [`DatapathHost::publish`] must make the snapshot visible to the
/// datapath atomically (a pointer swap under the module's lock, or an
/// atomic `Arc` swap): a packet is classified and scheduled with the old
/// snapshot or the new one, never a mix.
pub trait DatapathHost {
    /// Every attached adapter. The `flows`, `filters` and `policies`
    /// counts are ignored (the control plane fills them in).
    fn adapters(&self) -> Vec<AdapterInfo>;

    /// One attached adapter.
    fn adapter(&self, id: AdapterId) -> Option<AdapterInfo> {
        self.adapters().into_iter().find(|a| a.id == id)
    }

    /// Makes `snapshot` the adapter's configuration (reconfigures the
    /// scheduler with `snapshot.flows()`, sized by `snapshot.limits()`).
    ///
    /// # Errors
    /// [`HostError`]; the adapter then keeps its old snapshot.
    fn publish(&self, id: AdapterId, snapshot: Arc<Snapshot>) -> Result<(), HostError>;

    /// Runtime statistics of the adapter (see
    /// [`crate::convert::wire_scheduler_stats`]); `None` if not attached.
    /// The control plane overwrites `flows_rejected` and
    /// `flow_mods_rejected` with its own counts.
    fn adapter_stats(&self, id: AdapterId) -> Option<AdapterStatistics>;

    /// Statistics of the flow at dense `index` of the snapshot last
    /// published (see [`crate::convert::wire_flow_stats`]).
    fn flow_stats(&self, id: AdapterId, index: usize) -> Option<FlowStats>;

    /// Resets the adapter's runtime statistics.
    fn clear_stats(&self, id: AdapterId);
}

impl<T: DatapathHost + ?Sized> DatapathHost for Arc<T> {
    fn adapters(&self) -> Vec<AdapterInfo> {
        (**self).adapters()
    }
    fn adapter(&self, id: AdapterId) -> Option<AdapterInfo> {
        (**self).adapter(id)
    }
    fn publish(&self, id: AdapterId, snapshot: Arc<Snapshot>) -> Result<(), HostError> {
        (**self).publish(id, snapshot)
    }
    fn adapter_stats(&self, id: AdapterId) -> Option<AdapterStatistics> {
        (**self).adapter_stats(id)
    }
    fn flow_stats(&self, id: AdapterId, index: usize) -> Option<FlowStats> {
        (**self).flow_stats(id, index)
    }
    fn clear_stats(&self, id: AdapterId) {
        (**self).clear_stats(id);
    }
}
