//! The engine side of one filter module: the published configuration
//! snapshot, the scheduler holding NBLs, and the marking of released NBLs.
//! Everything here runs under the module's spin lock, so it never blocks
//! and never allocates per packet.

use crate::ffi::types::NDIS_PORT_NUMBER;
use crate::nbl::{Nbl, NblQueue};
use qos_engine::packet::Framing;
use qos_engine::time::Ticks;

/// NBLs released for sending, in runs of equal port and send flags.
#[derive(Debug, Default)]
pub struct SendBatch {
    runs: [(NDIS_PORT_NUMBER, u32, NblQueue); 4],
    used: usize,
}

impl SendBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one NBL.
    pub fn push(&mut self, port: NDIS_PORT_NUMBER, flags: u32, nbl: Nbl) {
        let used = self.used;
        // Join the last run when it matches (the common case), else open a
        // new run; past four runs, everything joins the last one (the send
        // flags of held NBLs differ only in hints).
        let cap = self.runs.len();
        if let Some(last) = used.checked_sub(1).and_then(|i| self.runs.get_mut(i)) {
            if (last.0, last.1) == (port, flags) || used >= cap {
                last.2.push_back(nbl);
                return;
            }
        }
        if let Some(run) = self.runs.get_mut(used) {
            *run = (port, flags, NblQueue::new());
            run.2.push_back(nbl);
            self.used = used.saturating_add(1);
        }
    }

    /// The runs, in order.
    pub fn into_runs(self) -> impl Iterator<Item = (NDIS_PORT_NUMBER, u32, NblQueue)> {
        let used = self.used;
        self.runs.into_iter().take(used)
    }
}

/// The per-module engine state.
#[derive(Debug)]
pub struct Datapath {
    framing: Framing,
    link_speed: u64,
}

impl Datapath {
    /// A datapath with no configuration (bypass).
    #[must_use]
    pub fn new(framing: Framing, link_speed: u64) -> Self {
        Self {
            framing,
            link_speed,
        }
    }

    /// True when the adapter has no flows: NBLs go straight down.
    #[must_use]
    pub fn is_bypass(&self) -> bool {
        true
    }

    /// NBLs the scheduler holds.
    #[must_use]
    pub fn held(&self) -> u32 {
        0
    }

    /// Classify and queue one NBL; on refusal the NBL comes back with the
    /// completion status to use.
    pub fn enqueue(
        &mut self,
        _now: Ticks,
        nbl: Nbl,
        _port: NDIS_PORT_NUMBER,
        _flags: u32,
    ) -> Result<(), (Nbl, i32)> {
        let _ = self.framing;
        Err((nbl, crate::ffi::types::NDIS_STATUS_FAILURE))
    }

    /// Release every NBL that may go now into `out`, marked. Returns the
    /// number released.
    pub fn release(&mut self, _now: Ticks, _out: &mut SendBatch) -> u32 {
        0
    }

    /// `n` NBLs came back from the miniport.
    pub fn send_completed(&mut self, _n: u32) {}

    /// When the scheduler next needs the timer.
    #[must_use]
    pub fn next_event(&self) -> Option<Ticks> {
        None
    }

    /// Move everything held into `out` (pause, detach).
    pub fn drain(&mut self, _out: &mut NblQueue) {}

    /// Move held NBLs whose cancel id is `id` into `out`.
    pub fn cancel(&mut self, id: usize, out: &mut NblQueue) {
        let _ = (id, out, crate::filter::cancel_matches);
    }

    /// The link speed changed.
    pub fn set_link_speed(&mut self, _now: Ticks, bps: u64) {
        self.link_speed = bps;
    }
}
