//! Scheduler statistics, named after ntddpsch.h's structures (PS_ADAPTER_STATS,
//! PS_FLOW_STATS, PS_CONFORMER_STATS, PS_SHAPER_STATS, PS_DRRSEQ_STATS) in
//! snake case, plus drop counts per reason.
//!
//! Maxima are exact (updated at every change). Averages are exponentially
//! weighted moving averages of the queue lengths sampled once per 16 packets
//! handed out (`dequeue`, see `AVERAGE_EVERY`), i.e. as the packets sent see
//! them, with weight 1/32, in integer arithmetic (the value is kept scaled
//! by 256).

use super::DropReason;

/// Drops, per reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// The adapter's packet slots were all in use (queue_packets).
    pub queue_packets: u64,
    /// The adapter's byte limit would have been exceeded (queue_bytes).
    pub queue_bytes: u64,
    /// The flow's shaper queue held its share (half the adapter's limits).
    pub flow_queue: u64,
    /// Discard mode: the packet did not conform.
    pub nonconforming: u64,
    /// Shape or discard mode: the packet exceeds MaxSduSize and can never
    /// conform.
    pub over_max_sdu: u64,
}

impl DropCounts {
    /// Counts one drop.
    pub fn count(&mut self, reason: DropReason) {
        self.count_n(reason, 1);
    }

    /// Counts `packets` drops (an LSO send of that many IP packets).
    pub fn count_n(&mut self, reason: DropReason, packets: u64) {
        let c = match reason {
            DropReason::QueuePackets => &mut self.queue_packets,
            DropReason::QueueBytes => &mut self.queue_bytes,
            DropReason::FlowQueue => &mut self.flow_queue,
            DropReason::Nonconforming => &mut self.nonconforming,
            DropReason::OverMaxSdu => &mut self.over_max_sdu,
        };
        *c = c.saturating_add(packets);
    }

    /// Drops of every reason.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.queue_packets
            .saturating_add(self.queue_bytes)
            .saturating_add(self.flow_queue)
            .saturating_add(self.nonconforming)
            .saturating_add(self.over_max_sdu)
    }
}

/// One flow's counters (PS_FLOW_STATS + PS_CONFORMER_STATS + shaper and
/// sequencer per-flow figures). "Scheduled" = accepted by `enqueue`;
/// "transmitted" = handed out by `dequeue` (to the miniport).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// DroppedPackets: packets refused by `enqueue` (all reasons).
    pub dropped_packets: u64,
    /// PacketsScheduled.
    pub packets_scheduled: u64,
    /// PacketsTransmitted.
    pub packets_transmitted: u64,
    /// BytesScheduled (IP bytes).
    pub bytes_scheduled: u64,
    /// BytesTransmitted (IP bytes).
    pub bytes_transmitted: u64,
    /// NonconformingPacketsScheduled: packets accepted as non-conforming
    /// (borrow mode excess, oversize packets).
    pub nonconforming_packets_scheduled: u64,
    /// NonconformingPacketsTransmitted.
    pub nonconforming_packets_transmitted: u64,
    /// MaxPacketsInShaper for this flow.
    pub max_packets_in_shaper: u32,
    /// Drops per reason (their sum is `dropped_packets`).
    pub drops: DropCounts,
}

/// Adapter counters (PS_ADAPTER_STATS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdapterStats {
    /// OutOfPackets: packets refused because every slot was in use.
    pub out_of_packets: u64,
    /// FlowsOpened: flows that appeared in a reconfiguration.
    pub flows_opened: u64,
    /// FlowsClosed: flows that disappeared in a reconfiguration.
    pub flows_closed: u64,
    /// FlowsRejected: counted by the control plane
    /// ([`super::Scheduler::count_rejected`]).
    pub flows_rejected: u64,
    /// FlowsModified: flows whose scheduling parameters changed.
    pub flows_modified: u64,
    /// FlowModsRejected: counted by the control plane.
    pub flow_mods_rejected: u64,
    /// MaxSimultaneousFlows.
    pub max_simultaneous_flows: u32,
    /// Packets given a flow index the configuration does not have; they were
    /// scheduled as unclassified best effort.
    pub unknown_flow_packets: u64,
    /// Drops of every flow (and unclassified traffic), per reason.
    pub drops: DropCounts,
}

/// Shaper counters (PS_SHAPER_STATS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShaperStats {
    /// MaxPacketsInShaper.
    pub max_packets_in_shaper: u32,
    /// AveragePacketsInShaper.
    pub average_packets_in_shaper: u32,
}

/// Sequencer counters (PS_DRRSEQ_STATS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequencerStats {
    /// MaxPacketsInNetcard: most packets outstanding at the miniport.
    pub max_packets_in_netcard: u32,
    /// AveragePacketsInNetcard.
    pub average_packets_in_netcard: u32,
    /// MaxPacketsInSequencer.
    pub max_packets_in_sequencer: u32,
    /// AveragePacketsInSequencer.
    pub average_packets_in_sequencer: u32,
    /// NonconformingPacketsTransmitted.
    pub nonconforming_packets_transmitted: u64,
}

/// An integer EWMA (weight 1/32), scaled by 256.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ewma(u64);

impl Ewma {
    /// Adds a sample and returns the new average (rounded down).
    pub(crate) fn sample(&mut self, value: u32) -> u32 {
        let v = u64::from(value) << 8;
        // avg += (v - avg) / 32, both directions without signed arithmetic.
        if v >= self.0 {
            self.0 = self.0.saturating_add(v.saturating_sub(self.0) >> 5);
        } else {
            self.0 = self.0.saturating_sub(self.0.saturating_sub(v) >> 5);
        }
        u32::try_from(self.0 >> 8).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_converges_both_ways() {
        let mut e = Ewma::default();
        let mut a = 0;
        for _ in 0..1000 {
            a = e.sample(100);
        }
        assert!((98..=100).contains(&a), "{a}");
        for _ in 0..1000 {
            a = e.sample(0);
        }
        assert!(a <= 1, "{a}");
    }
}
