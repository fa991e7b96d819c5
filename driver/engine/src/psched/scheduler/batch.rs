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
//! Everything such a send touches of its flow is in the flow's one cache
//! line (see `FlowLine`): the conformer's token bucket, the scheduled
//! counters (transmitted ones are derived: scheduled minus pending), its
//! marks and mode. What it changes outside that line (sends outstanding
//! and handed out, the averages, non-conforming packets transmitted, the
//! sequencer and netcard maxima) is counted once at the end of each stretch
//! of short-path sends, to the same values: the averages are still sampled
//! at exactly the same packets (every [`super::AVERAGE_EVERY`] handed
//! out), with the same queue lengths.
//!
//! # No branch on conformance
//! A policed flow's sends conform or not as good as at random (a flow over
//! its rate: about one in two), and everything after the conformer depends
//! on it (the charge, the non-conforming counters, the marks). As branches
//! that was a misprediction every other send, each also throwing away the
//! work the processor had started on the next sends (their flow lines'
//! cache misses included). The short path computes it as a value and
//! uses it in masks and selects instead (conformer: `police_sized`); the
//! commonest send (a policed flow without a peak rate) has its own short
//! version (`short_policed`). cachegrind per send, `batch64 policed+marks
//! in line` (examples/psched_cost.rs): 0.50 / 0.61 mispredictions at 10 /
//! 10,000 flows before, 0.03 after.
//!
//! Anything else (a shaped send that has to wait or finds its flow's shaper
//! queue non-empty, the bound reached, the sequencer non-empty, a shaped
//! packet due) goes through `enqueue_sized` + `dequeue` for that send, and
//! the short path resumes as soon as its conditions hold again. Results and
//! every statistic after the call equal those of the per-packet calls
//! (differential property test `tests/psched_batch.rs`).

use core::cmp::Reverse;

use super::{Mode, Scheduler, peak_of};
use crate::mark::Marks;
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

/// Hands out a send the short path took and counts it in the stretch.
#[inline(always)]
fn hand_out<P, F>(
    out: &mut F,
    st: &mut Stretch,
    size: &SendSize,
    pkt: P,
    flow: Option<usize>,
    conforming: bool,
    marks: Marks,
) where
    F: FnMut(Submitted<P>, Marks),
{
    st.sent(size.packets, conforming);
    let r = Released {
        pkt,
        flow,
        conforming,
    };
    out(Submitted::Released(r), marks);
}

/// The state of a stretch of short-path sends in a batch. What such a
/// send changes outside its flow's line (sends outstanding and handed out,
/// the averages sampled, non-conforming packets transmitted, the maxima) is
/// added once at the end of the stretch ([`Scheduler::end_stretch`]),
/// before anything else can look at it: nothing on the short path reads
/// it, and `out` cannot see the scheduler.
#[derive(Debug)]
struct Stretch {
    /// Sends that may still take the short path (see `short_budget`).
    budget: u32,
    /// `budget` when the stretch started: the short path handed out
    /// `start - budget` sends since.
    start: u32,
    /// Bytes a send may have under the byte limit.
    room: u64,
    /// Non-conforming IP packets the stretch handed out.
    nonconforming: u64,
}

impl Stretch {
    /// A stretch of at most `budget` sends of at most `room` bytes.
    const fn new((budget, room): (u32, u64)) -> Self {
        Self {
            budget,
            start: budget,
            room,
            nonconforming: 0,
        }
    }

    /// A send of `packets` IP packets took the short path.
    #[inline(always)]
    fn sent(&mut self, packets: u32, conforming: bool) {
        self.budget = self.budget.wrapping_sub(1);
        // Its packets when it does not conform, without a branch on that.
        let nc = u64::from(packets) & u64::from(!conforming).wrapping_neg();
        self.nonconforming = self.nonconforming.wrapping_add(nc);
    }

    /// Short-path sends since the stretch started.
    const fn count(&self) -> u32 {
        self.start.wrapping_sub(self.budget)
    }
}

/// The short path's decision on one send.
enum Short {
    /// Handed out, conforming or not, with `marks` (`flow` as
    /// `Released::flow`).
    Sent {
        flow: Option<usize>,
        conforming: bool,
        marks: Marks,
    },
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
        self.batch(now, items, |s, _| out(s));
    }

    /// [`Self::submit_batch`] that also gives each released packet its
    /// marks: its flow's [`crate::mark::FlowMarks`] for its conformance,
    /// decided at configuration ([`Self::reconfigure_marked`]), read from
    /// the flow's line the packet already touched. Packets without a flow
    /// (unclassified, or of a removed flow: `Released::flow == None`) and
    /// refused sends get `Marks::default()` (no marks).
    pub fn submit_batch_marked<I, F>(&mut self, now: Ticks, items: I, out: F)
    where
        I: IntoIterator<Item = BatchItem<P>>,
        F: FnMut(Submitted<P>, Marks),
    {
        self.batch(now, items, out);
    }

    #[inline(always)]
    fn batch<I, F>(&mut self, now: Ticks, items: I, mut out: F)
    where
        I: IntoIterator<Item = BatchItem<P>>,
        F: FnMut(Submitted<P>, Marks),
    {
        let flow_count = self.flow_count();
        let mut st = Stretch::new(self.short_budget(now));
        // No look-ahead at the next send's line: with no branch on a
        // send's outcome the processor runs ahead into the next sends by
        // itself, and their lines' cache misses overlap this send's work
        // (a touch-ahead of the next line cost ~20 instructions a send
        // and was slower at 10,000 flows: 13.3-17.5 ns against 11.0-13.0).
        for item in items {
            self.step(now, flow_count, &mut st, item, &mut out);
        }
        self.end_stretch(st.count(), st.nonconforming);
    }

    /// One send of a batch: the short path when its conditions hold, else
    /// `enqueue_sized` + `dequeue`.
    #[inline(always)]
    fn step<F>(
        &mut self,
        now: Ticks,
        flow_count: usize,
        st: &mut Stretch,
        item: BatchItem<P>,
        out: &mut F,
    ) where
        F: FnMut(Submitted<P>, Marks),
    {
        let BatchItem { flow, size, pkt } = item;
        let size = size.normalized();
        if st.budget != 0 {
            if let Some((conforming, marks)) =
                self.short_policed(now, flow, &size, st.room, flow_count)
            {
                hand_out(out, st, &size, pkt, flow, conforming, marks);
                return;
            }
            if let Some(marks) = self.short_shaped(now, flow, &size, st.room, flow_count) {
                hand_out(out, st, &size, pkt, flow, true, marks);
                return;
            }
            match self.short_one(now, flow, &size, st.room, flow_count) {
                Short::Sent {
                    flow,
                    conforming,
                    marks,
                } => {
                    hand_out(out, st, &size, pkt, flow, conforming, marks);
                    return;
                }
                Short::Dropped(why) => {
                    out(Submitted::Dropped(pkt, why), Marks::default());
                    return;
                }
                Short::General => {}
            }
        }
        self.end_stretch(st.count(), st.nonconforming);
        match self.enqueue_one::<false>(now, flow, size, pkt) {
            Ok(()) => {
                if let Some(r) = self.dequeue(now) {
                    let f = r.flow.unwrap_or(flow_count);
                    let marks = self.marks_of(f, r.conforming);
                    out(Submitted::Released(r), marks);
                }
            }
            Err((pkt, why)) => out(Submitted::Dropped(pkt, why), Marks::default()),
        }
        *st = Stretch::new(self.short_budget(now));
    }

    /// How many sends may take the short path from here (0: none), and
    /// the bytes one send may have under the byte limit. The short path
    /// needs: the fast path enabled, nothing in the sequencer (no queued
    /// packet, no fast-path packet), no shaped packet due at `now`, a free
    /// slot and room under the outstanding bound. While it runs nothing is
    /// held or queued, so all of that stays true except the outstanding
    /// bound, which each short send takes one of.
    fn short_budget(&self, now: Ticks) -> (u32, u64) {
        let ready = self.fast_path
            && self.express.is_none()
            && self.in_sequencer == 0
            && !self.slab.is_full()
            && self.held_bytes <= self.limits.queue_bytes
            && self.heap.peek().is_none_or(|&Reverse((t, _))| t > now);
        if !ready {
            return (0, 0);
        }
        (
            self.limits.max_outstanding.saturating_sub(self.outstanding),
            self.limits.queue_bytes.saturating_sub(self.held_bytes),
        )
    }

    /// Accounts for the sends of a stretch of short-path sends, as each
    /// would have when it passed: one more outstanding and handed out, the
    /// averages sampled at the same sends (every [`super::AVERAGE_EVERY`]
    /// handed out) with the queue lengths then (the shaper's and the
    /// sequencer's do not change on the short path, outstanding grows by
    /// one a send), its non-conforming packets transmitted, and the maxima
    /// (each was alone in the sequencer; `outstanding` only grew). The
    /// same results as counting per send: the counters saturate or wrap
    /// the same way whether added one by one or at once.
    fn end_stretch(&mut self, n: u32, nonconforming: u64) {
        if n == 0 {
            return;
        }
        let seq = &mut self.stats.sequencer;
        seq.max_packets_in_sequencer = seq.max_packets_in_sequencer.max(1);
        seq.nonconforming_packets_transmitted = seq
            .nonconforming_packets_transmitted
            .saturating_add(nonconforming);
        let (outstanding, sent) = (self.outstanding, self.sent);
        // The first send of the stretch that takes a sample: the j-th
        // (from 1) takes one when `sent + j` is a multiple of the period
        // (2^32 is one too, so wrapping keeps the phase).
        let mut j = super::AVERAGE_EVERY.wrapping_sub(sent.wrapping_rem(super::AVERAGE_EVERY));
        while j <= n {
            self.outstanding = outstanding.saturating_add(j);
            self.sample_averages();
            j = j.saturating_add(super::AVERAGE_EVERY);
        }
        self.outstanding = outstanding.saturating_add(n);
        self.sent = sent.wrapping_add(n);
        self.note_netcard();
    }

    /// The short path of the commonest send, kept to what it needs: a
    /// classified send of a policed (borrow-mode) flow without a peak
    /// rate, within the byte room. `short_one` does the same for it, in
    /// more steps. `None`: not such a send, nothing changed.
    #[inline(always)]
    fn short_policed(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        size: &SendSize,
        room: u64,
        flow_count: usize,
    ) -> Option<(bool, Marks)> {
        let f = flow.filter(|&i| i < flow_count)?;
        let line = self.lines.get_mut(f)?;
        if line.mode != Mode::Borrow || line.has_peak || u64::from(size.ip_bytes) > room {
            return None;
        }
        let conforming = line.conf.police_sized(None, now, size);
        let carry = line.count_scheduled(size, !conforming);
        // A select (cmov), not a branch, as the code stands.
        let marks = line.marks.get(conforming);
        if carry.any() {
            self.carry(f, carry);
        }
        Some((conforming, marks))
    }

    /// The same for a classified send of a shaped flow without a peak
    /// rate and with nothing in its shaper queue, that conforms now (then
    /// it goes straight on, conforming) within the byte room: the driver's
    /// sends to a flow under its rate. Apart from
    /// `short_policed` so that the branch on its conformance (taken only
    /// while the flow is over its rate) stays out of the policed path.
    /// `None`: not such a send; nothing observable changed (the conformer
    /// may have been advanced to `now`, as `short_one` and the general path
    /// do first).
    #[inline(always)]
    fn short_shaped(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        size: &SendSize,
        room: u64,
        flow_count: usize,
    ) -> Option<Marks> {
        let f = flow.filter(|&i| i < flow_count)?;
        let line = self.lines.get_mut(f)?;
        if line.mode != Mode::Shape
            || line.has_peak
            || line.in_heap
            || u64::from(size.ip_bytes) > room
            // Not over MaxSduSize either: such a send never fits.
            || !line.conf.police_sized(None, now, size)
        {
            return None;
        }
        let carry = line.count_scheduled(size, false);
        let marks = line.marks.conforming;
        if carry.any() {
            self.carry(f, carry);
        }
        Some(marks)
    }

    /// Carries flow `f`'s wrapped low counters into its cold entry (once
    /// in 2^32 packets or bytes: out of the loop).
    #[cold]
    #[inline(never)]
    fn carry(&mut self, f: usize, carry: super::Carry) {
        if let Some(c) = self.cold.get_mut(f) {
            c.carry(carry);
        }
    }

    /// One send on the short path (its conditions hold): the checks of
    /// `enqueue_one` in its order, the mode, and the accounting of the
    /// enqueue and the dequeue that would hand it straight back, all in
    /// the flow's line (and its peak bucket if it has one). On `General`
    /// nothing observable has changed (the conformer may have been advanced
    /// to `now`, which the general path does first anyway).
    #[inline(always)]
    fn short_one(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        size: &SendSize,
        room: u64,
        unclassified: usize,
    ) -> Short {
        let (f, flow) = match flow {
            Some(i) if i < unclassified => (i, Some(i)),
            Some(_) => {
                // The unclassified flow is never shaped: no General below.
                let a = &mut self.stats.adapter;
                a.unknown_flow_packets = a.unknown_flow_packets.saturating_add(1);
                (unclassified, None)
            }
            None => (unclassified, None),
        };
        let packets = u64::from(size.packets);
        let bytes = u64::from(size.ip_bytes);
        let Some(line) = self.lines.get_mut(f) else {
            return Short::General;
        };
        let c = &mut line.conf;
        // A free slot is a condition of the short path (`short_budget`).
        let verdict = if bytes > room {
            Err(DropReason::QueueBytes)
        } else if line.mode == Mode::Borrow && !line.has_peak {
            // The common case first: a policed flow without a peak rate.
            Ok(c.police_sized(None, now, size))
        } else {
            match line.mode {
                Mode::Borrow => Ok(c.police_sized(peak_of(true, &mut self.warm, f), now, size)),
                Mode::BorrowPlus => Ok(true),
                Mode::Discard => {
                    if c.is_oversize(size.largest_ip_packet) {
                        Err(DropReason::OverMaxSdu)
                    } else if c.police_sized(peak_of(line.has_peak, &mut self.warm, f), now, size) {
                        Ok(true)
                    } else {
                        Err(DropReason::Nonconforming)
                    }
                }
                Mode::Shape => {
                    // `in_heap` is set exactly while the shaper queue is not
                    // empty: a packet then waits behind the others.
                    if c.is_oversize(size.largest_ip_packet) {
                        Err(DropReason::OverMaxSdu)
                    } else if !line.in_heap
                        && c.police_sized(peak_of(line.has_peak, &mut self.warm, f), now, size)
                    {
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
        let carry = line.count_scheduled(size, !conforming);
        let marks = line.marks.get(conforming);
        if carry.any() {
            self.carry(f, carry);
        }
        // The enqueue put it alone in the sequencer, the dequeue took it:
        // counted at the end of the stretch (`end_stretch`).
        Short::Sent {
            flow,
            conforming,
            marks,
        }
    }
}
