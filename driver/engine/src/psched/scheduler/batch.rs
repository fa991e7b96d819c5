//! The batched send path: [`Scheduler::submit_batch`] takes a chain of
//! sends (an NDIS NBL chain, classified) and does for each what the driver
//! did per NBL, `enqueue_sized` then one `dequeue`, with the per-call
//! bookkeeping amortised over the batch.
//!
//! # When the short path is taken
//! While nothing is held in the sequencer (no queued packet at any level, no
//! fast-path packet kept aside), no shaped packet is due at `now` and the
//! outstanding-sends bound has room, a send that goes to the sequencer would
//! be handed straight back by the following `dequeue`. Then each send only
//! looks its flow up, runs the conformer, decides (send conforming, send
//! non-conforming, drop) and is emitted; nothing is linked or unlinked.
//! Sums that per-packet calls add one by one (packets and bytes scheduled
//! and transmitted per flow, the non-conforming counts) are added once per
//! run of consecutive sends of one flow; the sequencer and netcard maxima
//! once per stretch of short-path sends. The averages are still sampled at exactly the same
//! packets (every [`super::AVERAGE_EVERY`] handed out), with the same queue
//! lengths.
//!
//! Anything else (a shaped send that has to wait or finds its flow's shaper
//! queue non-empty, the bound reached, the sequencer non-empty, a shaped
//! packet due) goes through `enqueue_sized` + `dequeue` for that send, and
//! the short path resumes as soon as its conditions hold again. Results and
//! every statistic after the call equal those of the per-packet calls
//! (differential property test `tests/psched_batch.rs`).

use core::cmp::Reverse;

use super::{Mode, Scheduler};
use crate::psched::send_size::SendSize;
use crate::psched::{DropReason, Released};
use crate::time::Ticks;

/// One send of a batch: what `enqueue_sized` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem<P> {
    /// The flow's index in the current configuration (`None`:
    /// unclassified).
    pub flow: Option<usize>,
    /// Its size on the wire (normalized by the scheduler).
    pub size: SendSize,
    /// The packet.
    pub pkt: P,
}

/// What [`Scheduler::submit_batch`] reports, in order, for each send of a
/// batch: at most one packet handed out (the send itself or, when others
/// wait, the one the scheduler serves first), or the send refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted<P> {
    /// A packet to send now (what `dequeue` would have returned).
    Released(Released<P>),
    /// The send was refused (what `enqueue_sized` would have returned):
    /// complete it with a failure status.
    Dropped(P, DropReason),
}

/// Sums owed to one flow's counters by a run of short-path sends.
#[derive(Debug, Clone, Copy)]
struct Owed {
    flow: usize,
    /// IP packets and bytes, scheduled and transmitted alike.
    packets: u64,
    bytes: u64,
    /// IP packets sent non-conforming (scheduled and transmitted alike).
    nonconforming: u64,
}

impl Owed {
    const NONE: Self = Self {
        flow: usize::MAX,
        packets: 0,
        bytes: 0,
        nonconforming: 0,
    };
}

/// The short path's decision on one send.
enum Short {
    /// Handed out, conforming or not.
    Sent { conforming: bool },
    /// Refused.
    Dropped(DropReason),
    /// Needs the general path (a shaped send that cannot go now).
    General,
}

impl<P> Scheduler<P> {
    /// Submits a chain of sends at time `now`: for each, in order, the same
    /// as `enqueue_sized(now, flow, size, pkt)` followed (if accepted) by one
    /// `dequeue(now)`, with `out` told what happened ([`Submitted`]; nothing
    /// when the send was queued and nothing may leave now). Call `dequeue`
    /// until `None` afterwards, as after `enqueue`, for what the per-send
    /// dequeues left (only when packets wait in the sequencer).
    ///
    /// Released packets, their order, drops, `next_event` and every
    /// statistic afterwards are exactly those of the per-send calls; the
    /// batch is only cheaper (see the module documentation). No allocation.
    /// `out` cannot look at the scheduler during the call; statistics are
    /// complete when it returns.
    pub fn submit_batch<I, F>(&mut self, now: Ticks, items: I, mut out: F)
    where
        I: IntoIterator<Item = BatchItem<P>>,
        F: FnMut(Submitted<P>),
    {
        let flow_count = self.flow_count();
        let max_out = self.limits.max_outstanding;
        let mut owed = Owed::NONE;
        let mut sent = 0u32;
        let mut short = self.short_ready(now);
        for BatchItem { flow, size, pkt } in items {
            let size = size.normalized();
            if short && self.outstanding < max_out {
                match self.short_one(now, flow, &size, &mut owed) {
                    Short::Sent { conforming } => {
                        sent = 1;
                        out(Submitted::Released(Released {
                            pkt,
                            flow: (owed.flow < flow_count).then_some(owed.flow),
                            conforming,
                        }));
                        continue;
                    }
                    Short::Dropped(why) => {
                        out(Submitted::Dropped(pkt, why));
                        continue;
                    }
                    Short::General => {}
                }
            }
            self.settle(&mut owed);
            self.note_short(&mut sent);
            match self.enqueue_one(now, flow, size, pkt) {
                Ok(()) => {
                    if let Some(r) = self.dequeue(now) {
                        out(Submitted::Released(r));
                    }
                }
                Err((pkt, why)) => out(Submitted::Dropped(pkt, why)),
            }
            short = self.short_ready(now);
        }
        self.settle(&mut owed);
        self.note_short(&mut sent);
    }

    /// Whether the short path's conditions (other than the outstanding
    /// bound, checked per send) hold: the per-send path is enabled, nothing
    /// is in the sequencer, and no shaped packet is due at `now`.
    fn short_ready(&self, now: Ticks) -> bool {
        self.fast_path
            && self.express.is_none()
            && self.in_sequencer == 0
            && self.heap.peek().is_none_or(|&Reverse((t, _))| t > now)
    }

    /// Adds what a run of short-path sends of one flow owes to its
    /// counters.
    fn settle(&mut self, owed: &mut Owed) {
        let o = core::mem::replace(owed, Owed::NONE);
        if o.flow == usize::MAX {
            return;
        }
        if let Some(fs) = self.flows.get_mut(o.flow) {
            let h = &mut fs.hot;
            h.packets_scheduled = h.packets_scheduled.saturating_add(o.packets);
            h.bytes_scheduled = h.bytes_scheduled.saturating_add(o.bytes);
            h.packets_transmitted = h.packets_transmitted.saturating_add(o.packets);
            h.bytes_transmitted = h.bytes_transmitted.saturating_add(o.bytes);
        }
        if o.nonconforming != 0 {
            if let Some(c) = self.nc.get_mut(o.flow) {
                c.scheduled = c.scheduled.saturating_add(o.nonconforming);
                c.transmitted = c.transmitted.saturating_add(o.nonconforming);
            }
            let s = &mut self.stats.sequencer;
            s.nonconforming_packets_transmitted = s
                .nonconforming_packets_transmitted
                .saturating_add(o.nonconforming);
        }
    }

    /// After a stretch of short-path sends (`sent` of them): each was alone
    /// in the sequencer, and `outstanding` only grew (the maxima).
    fn note_short(&mut self, sent: &mut u32) {
        if core::mem::take(sent) != 0 {
            let seq = &mut self.stats.sequencer;
            seq.max_packets_in_sequencer = seq.max_packets_in_sequencer.max(1);
            self.note_netcard();
        }
    }

    /// One send on the short path (its conditions hold): the checks of
    /// `enqueue_one` in its order, the mode, and the accounting of the
    /// enqueue and the dequeue that would hand it straight back. On
    /// `General` nothing observable has changed (the conformer may have
    /// been advanced to `now`, which the general path does first anyway).
    #[inline(always)]
    fn short_one(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        size: &SendSize,
        owed: &mut Owed,
    ) -> Short {
        let unclassified = self.flows.len().saturating_sub(1);
        let f = match flow {
            Some(i) if i < unclassified => i,
            Some(_) => {
                // The unclassified flow is never shaped: no General below.
                let a = &mut self.stats.adapter;
                a.unknown_flow_packets = a.unknown_flow_packets.saturating_add(1);
                unclassified
            }
            None => unclassified,
        };
        let packets = u64::from(size.packets);
        let bytes = u64::from(size.ip_bytes);
        let verdict = if self.slab.is_full() {
            Err(DropReason::QueuePackets)
        } else if self.held_bytes.saturating_add(bytes) > self.limits.queue_bytes {
            Err(DropReason::QueueBytes)
        } else {
            let Some(fs) = self.flows.get_mut(f) else {
                return Short::General;
            };
            let c = &mut fs.conformer;
            match fs.mode {
                Mode::Borrow => Ok(c.police_sized(now, size)),
                Mode::BorrowPlus => Ok(true),
                Mode::Discard => {
                    if c.is_oversize(size.largest_ip_packet) {
                        Err(DropReason::OverMaxSdu)
                    } else if c.police_sized(now, size) {
                        Ok(true)
                    } else {
                        Err(DropReason::Nonconforming)
                    }
                }
                Mode::Shape => {
                    if c.is_oversize(size.largest_ip_packet) {
                        Err(DropReason::OverMaxSdu)
                    } else if fs.shaper.is_empty() && c.police_sized(now, size) {
                        Ok(true)
                    } else {
                        return Short::General;
                    }
                }
            }
        };
        let conforming = match verdict {
            Ok(c) => c,
            Err(why) => return Short::Dropped(self.count_drop(f, why, packets)),
        };
        if owed.flow != f {
            self.settle(owed);
            owed.flow = f;
        }
        owed.packets = owed.packets.saturating_add(packets);
        owed.bytes = owed.bytes.saturating_add(bytes);
        if !conforming {
            owed.nonconforming = owed.nonconforming.saturating_add(packets);
        }
        // The enqueue put it alone in the sequencer (maximum noted when the
        // run is settled), the dequeue took it.
        self.outstanding = self.outstanding.saturating_add(1);
        self.sent = self.sent.wrapping_add(1);
        if self.sent % super::AVERAGE_EVERY == 0 {
            self.sample_averages();
        }
        Short::Sent { conforming }
    }
}
