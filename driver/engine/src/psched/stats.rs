//! Scheduler statistics, named after ntddpsch.h's structures (PS_ADAPTER_STATS,
//! PS_FLOW_STATS, PS_CONFORMER_STATS, PS_SHAPER_STATS, PS_DRRSEQ_STATS) in
//! snake case, plus drop counts per reason.
//!
//! Maxima are exact (updated at every change). The adapter's averages are
//! exponentially weighted moving averages of the queue lengths sampled once
//! per 16 packets handed out (`dequeue`, see `AVERAGE_EVERY`), i.e. as the
//! packets sent see them, with weight 1/32, in integer arithmetic (the value
//! is kept scaled by 256), reported rounded to the nearest integer (so
//! that a steady length reads as itself: one send always outstanding
//! reads 1, not 0).
//!
//! A flow's averages ([`FlowStats::average_packets_in_shaper`],
//! [`FlowStats::average_packets_in_sequencer`]) are the same kind of
//! average, but sampled as the flow's own packets *arrive*: one sample per
//! IP packet the flow scheduled (see [`FlowStats`] for the exact
//! definitions). A send the scheduler hands straight back (the batch's
//! short path, the per-packet fast path) is alone in the sequencer with an
//! empty shaper queue, so its samples are known constants; they are not
//! taken when it passes (that path stays as cheap as before) but applied
//! later, in order, from the flow's scheduled-packets counter
//! (`FlowQueueStats`).

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
    /// MaxPacketsInShaper for this flow: the most of its sends waiting in
    /// its shaper queue at once (exact, noted at every change; after
    /// `clear_stats`, restarts from the current length).
    pub max_packets_in_shaper: u32,
    /// Drops per reason (their sum is `dropped_packets`).
    pub drops: DropCounts,
    /// AveragePacketsInShaper for this flow: an exponentially weighted
    /// moving average (weight 1/32 per sample, integer, kept scaled by 256,
    /// reported rounded to the nearest integer) of the number of the flow's
    /// sends in its shaper queue, sampled once per IP packet the flow
    /// schedules (an LSO send of `n` packets gives `n` equal samples), just
    /// after the send was accepted: the send itself counts when it went to
    /// the shaper. A send that goes straight to the sequencer of a flow
    /// with an empty shaper queue samples 0. Dropped sends are not sampled.
    /// `clear_stats` restarts it from 0 (as for a new flow).
    pub average_packets_in_shaper: u32,
    /// MaxPacketsInSequencer for this flow: the most of its sends in the
    /// sequencer at once (its conforming and non-conforming queues, and
    /// the fast-path packet if it is the flow's), counting when a send
    /// enters the sequencer from `enqueue` or from the shaper, and when a
    /// reconfiguration moves packets into the flow's queues. At least 1
    /// once one of its packets passed through the sequencer. After
    /// `clear_stats`, restarts from the current number.
    pub max_packets_in_sequencer: u32,
    /// AveragePacketsInSequencer for this flow: the same average as
    /// `average_packets_in_shaper`, same samples (once per IP packet
    /// scheduled, just after the send was accepted), of the number of the
    /// flow's sends in the sequencer, the send itself included when it
    /// went there. A flow whose packets never wait reads 1; one whose
    /// packets all wait in the shaper reads what is in the sequencer as
    /// they arrive. `clear_stats` restarts it from 0.
    ///
    /// MaxPacketsInNetcard and AveragePacketsInNetcard are not kept per
    /// flow (only per adapter, [`SequencerStats`]): the miniport's
    /// completions (`Scheduler::send_completed`) come as a count, so the
    /// sends outstanding cannot be told apart by flow without work per
    /// send on the send and completion paths.
    pub average_packets_in_sequencer: u32,
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
    /// Adds a sample and returns the new average, rounded to the nearest
    /// integer ([`Self::nearest`]).
    pub(crate) fn sample(&mut self, value: u32) -> u32 {
        self.step(u64::from(value) << 8);
        self.nearest()
    }

    /// One sample of `v` (already scaled by 256).
    #[inline]
    fn step(&mut self, v: u64) {
        // avg += (v - avg) / 32, both directions without signed arithmetic.
        let d = v.abs_diff(self.0) >> 5;
        self.0 = if v >= self.0 {
            self.0.saturating_add(d)
        } else {
            self.0.saturating_sub(d)
        };
    }

    /// Adds `n` samples of `value`: exactly what `n` calls of
    /// [`Self::sample`] leave. It stops as soon as a sample leaves the
    /// average unchanged (it is then within 31/256 of `value`, and every
    /// further sample of `value` leaves it unchanged too), so it takes at
    /// most about 800 steps whatever `n` (each step before that moves the
    /// average at least 1/32 of the way, from at most 2^40 away).
    pub(crate) fn sample_n(&mut self, value: u32, n: u64) {
        let v = u64::from(value) << 8;
        let mut left = n;
        while left != 0 {
            let before = self.0;
            self.step(v);
            if self.0 == before {
                return;
            }
            left = left.saturating_sub(1);
        }
    }

    /// The average rounded to the nearest integer. After a run of equal
    /// samples it reads exactly that value (rounding down would read a run
    /// of 1s as 0: the average stops up to 31/256 short of it).
    pub(crate) fn nearest(self) -> u32 {
        u32::try_from(self.0.saturating_add(128) >> 8).unwrap_or(u32::MAX)
    }
}

/// A flow's queue statistics that are sampled as its packets arrive: the
/// most sends it had in the sequencer, and the averages of its sends in
/// its shaper queue and in the sequencer (see [`FlowStats`]).
///
/// The explicit samples are taken by the scheduler's general path
/// ([`Self::sample`]). Packets of the flow that were handed straight back
/// (the batch's short path, the per-packet fast path) took none; each of
/// them saw 0 sends in the shaper and 1 (itself) in the sequencer. Their
/// number is the flow's packets scheduled since the last explicit sample
/// (`sampled_at`), and they all came after that sample: they are applied,
/// in order, before the next explicit sample and (on a copy) when the
/// statistics are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlowQueueStats {
    max_in_sequencer: u32,
    avg_shaper: Ewma,
    avg_sequencer: Ewma,
    /// The flow's packets scheduled (64-bit PacketsScheduled) when the
    /// last explicit sample was taken.
    sampled_at: u64,
}

impl FlowQueueStats {
    /// Applies the samples of the packets handed straight back since the
    /// last explicit sample; `scheduled`: the flow's packets scheduled
    /// before any packet not yet sampled that was not handed straight back.
    fn catch_up(&mut self, scheduled: u64) {
        let n = scheduled.saturating_sub(self.sampled_at);
        if n != 0 {
            self.avg_shaper.sample_n(0, n);
            self.avg_sequencer.sample_n(1, n);
            self.max_in_sequencer = self.max_in_sequencer.max(1);
        }
        self.sampled_at = scheduled;
    }

    /// A send of `packets` IP packets was accepted when the flow had
    /// scheduled `scheduled` packets before it; the flow now has
    /// `in_shaper` sends in its shaper queue and `in_sequencer` in the
    /// sequencer (the send included where it went).
    pub(crate) fn sample(
        &mut self,
        scheduled: u64,
        packets: u32,
        in_shaper: u32,
        in_sequencer: u32,
    ) {
        if scheduled != self.sampled_at {
            self.catch_up(scheduled);
        }
        let n = u64::from(packets);
        if n == 1 {
            // The usual send: one sample each, no loop.
            self.avg_shaper.step(u64::from(in_shaper) << 8);
            self.avg_sequencer.step(u64::from(in_sequencer) << 8);
        } else {
            self.avg_shaper.sample_n(in_shaper, n);
            self.avg_sequencer.sample_n(in_sequencer, n);
        }
        self.note_sequencer(in_sequencer);
        self.sampled_at = scheduled.saturating_add(n);
    }

    /// The flow now has `in_sequencer` sends in the sequencer (the maximum).
    pub(crate) fn note_sequencer(&mut self, in_sequencer: u32) {
        self.max_in_sequencer = self.max_in_sequencer.max(in_sequencer);
    }

    /// The statistics are cleared: the flow's scheduled counter restarts
    /// from 0, the maximum from `in_sequencer` (its sends in the sequencer
    /// now), the averages from 0 as for a new flow.
    pub(crate) fn restart(&mut self, in_sequencer: u32) {
        *self = Self {
            max_in_sequencer: in_sequencer,
            ..Self::default()
        };
    }

    /// Writes the flow's figures into `out`, the flow having scheduled
    /// `scheduled` packets. The samples still owed are applied on a copy
    /// (the query takes `&self`), so each query repeats them until the
    /// flow's next general-path send: at most about 800 steps per average
    /// (see [`Ewma::sample_n`]), usually a handful (the averages of a flow
    /// whose sends are handed straight back sit at their fixed point).
    pub(crate) fn report(&self, scheduled: u64, out: &mut FlowStats) {
        let mut q = *self;
        q.catch_up(scheduled);
        out.average_packets_in_shaper = q.avg_shaper.nearest();
        out.max_packets_in_sequencer = q.max_in_sequencer;
        out.average_packets_in_sequencer = q.avg_sequencer.nearest();
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

    /// `sample_n` is `n` samples, however far the average is and however
    /// large `n`, and `nearest` reads a run of equal samples exactly.
    #[test]
    fn sample_n_equals_repeated_samples() {
        let starts = [0u32, 1, 3, 100, 65_535, u32::MAX];
        let values = [0u32, 1, 2, 7, 1000, u32::MAX];
        for &start in &starts {
            for &v in &values {
                for n in [0u64, 1, 2, 31, 32, 200, 1000, 5000] {
                    let mut a = Ewma::default();
                    a.sample_n(start, 10_000);
                    let mut b = a;
                    for _ in 0..n {
                        b.sample(v);
                    }
                    a.sample_n(v, n);
                    assert_eq!(a, b, "start {start} value {v} n {n}");
                }
                let mut a = Ewma::default();
                a.sample_n(start, 10_000);
                a.sample_n(v, u64::MAX);
                assert_eq!(a.nearest(), v, "start {start} value {v}");
            }
        }
    }

    /// Lazily applied samples (handed straight back) count before the next
    /// explicit one, and the maximum in the sequencer is at least 1 once
    /// one was applied.
    #[test]
    fn flow_queue_stats_apply_lazy_samples_in_order() {
        let mut lazy = FlowQueueStats::default();
        let mut eager = FlowQueueStats::default();
        // 5 packets scheduled, then a send of 2 packets finds 3 in the
        // shaper and 4 in the sequencer.
        lazy.sample(5, 2, 3, 4);
        for k in 0..5 {
            eager.sample(k, 1, 0, 1);
        }
        eager.sample(5, 2, 3, 4);
        assert_eq!(lazy, eager);
        let (mut a, mut b) = (FlowStats::default(), FlowStats::default());
        lazy.report(40, &mut a);
        for k in 7..40 {
            eager.sample(k, 1, 0, 1);
        }
        eager.report(40, &mut b);
        assert_eq!(a, b);
        assert_eq!(a.max_packets_in_sequencer, 4);
        let fresh = FlowQueueStats::default();
        fresh.report(1, &mut a);
        assert_eq!(a.max_packets_in_sequencer, 1);
        fresh.report(0, &mut a);
        assert_eq!(a.max_packets_in_sequencer, 0);
    }
}
