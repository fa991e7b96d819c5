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
//! marks and mode; the sequencer and netcard maxima are noted once per
//! stretch of short-path sends. The averages are still sampled at exactly the same
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

/// Above this many flows (lines of 64 bytes: 32 KB, two thirds of a
/// 48 KB L1), `submit_batch` loads the next send's line ahead.
const TOUCH_AHEAD_FLOWS: usize = 512;

/// The state of a stretch of short-path sends in a batch.
#[derive(Debug)]
struct Stretch {
    /// Sends that may still take the short path (see `short_budget`).
    budget: u32,
    /// Bytes a send may have under the byte limit.
    room: u64,
    /// Whether a send took the short path since the maxima were noted.
    sent: bool,
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
        let (budget, room) = self.short_budget(now);
        let mut st = Stretch {
            budget,
            room,
            sent: false,
        };
        if self.lines.len() > TOUCH_AHEAD_FLOWS {
            // Touch-ahead: the next send's line is loaded (a plain load,
            // its value folded in here) while this send is worked on, so
            // that its cache miss overlaps this send's work instead of
            // stalling the next. Looking one item ahead costs about 20
            // instructions a send: only worth it when the lines do not
            // stay in L1.
            let mut items = items.into_iter();
            let mut cur = items.next();
            let mut touched = 0u8;
            while let Some(item) = cur {
                cur = items.next();
                if let Some(n) = &cur {
                    touched ^= self.touch(n.flow, flow_count);
                }
                self.step(now, flow_count, &mut st, item, &mut out);
            }
            core::hint::black_box(touched);
        } else {
            for item in items {
                self.step(now, flow_count, &mut st, item, &mut out);
            }
        }
        self.note_short(&mut st.sent);
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
            match self.short_one(now, flow, &size, st.room, flow_count) {
                Short::Sent {
                    flow,
                    conforming,
                    marks,
                } => {
                    st.sent = true;
                    st.budget = st.budget.wrapping_sub(1);
                    let r = Released {
                        pkt,
                        flow,
                        conforming,
                    };
                    out(Submitted::Released(r), marks);
                    return;
                }
                Short::Dropped(why) => {
                    out(Submitted::Dropped(pkt, why), Marks::default());
                    return;
                }
                Short::General => {}
            }
        }
        self.note_short(&mut st.sent);
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
        (st.budget, st.room) = self.short_budget(now);
    }

    /// Loads a byte of the line of a send of `flow` (any byte of it brings
    /// the whole line in).
    #[inline(always)]
    fn touch(&self, flow: Option<usize>, flow_count: usize) -> u8 {
        let f = match flow {
            Some(i) if i < flow_count => i,
            _ => flow_count,
        };
        self.lines.get(f).map_or(0, |l| l.mode as u8)
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

    /// After a stretch of short-path sends (`sent`: there was one): each was alone
    /// in the sequencer, and `outstanding` only grew (the maxima).
    fn note_short(&mut self, sent: &mut bool) {
        if core::mem::take(sent) {
            let seq = &mut self.stats.sequencer;
            seq.max_packets_in_sequencer = seq.max_packets_in_sequencer.max(1);
            self.note_netcard();
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
            if let Some(c) = self.cold.get_mut(f) {
                c.carry(carry);
            }
        }
        if !conforming {
            let s = &mut self.stats.sequencer;
            s.nonconforming_packets_transmitted =
                s.nonconforming_packets_transmitted.saturating_add(packets);
        }
        // The enqueue put it alone in the sequencer (maximum noted at the
        // end of the stretch), the dequeue took it.
        self.outstanding = self.outstanding.saturating_add(1);
        self.sent = self.sent.wrapping_add(1);
        if self.sent % super::AVERAGE_EVERY == 0 {
            self.sample_averages();
        }
        Short::Sent {
            flow,
            conforming,
            marks,
        }
    }
}
