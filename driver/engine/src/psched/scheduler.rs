//! The per-adapter scheduler: conformer, shaper and sequencer over one slab.
//! See the module documentation of [`super`] for the behaviour.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::mem;

use super::conformer::{ConformerHead, ConformerParams, PeakBucket, Verdict};
use super::send_size::SendSize;
use super::slab::{Fifo, NIL, Slab};
use super::stats::{AdapterStats, Ewma, FlowQueueStats, FlowStats, SequencerStats, ShaperStats};
use super::{DropReason, Limits, Released, validate_limits};
use crate::error::{ConfigError, ErrorKind, Field, Object};
use crate::flow::{FlowSpec, Level, SdMode};
use crate::gpc::FlowId;
use crate::mark::{FlowMarks, MarkMaps, Marks};
use crate::time::Ticks;

mod batch;
pub use batch::{BatchItem, Submitted};

/// Default DRR quantum: one Ethernet frame (1514 bytes).
pub const DEFAULT_QUANTUM: u32 = 1514;
/// The averages of [`SchedulerStats`] are sampled once per this many packets
/// handed out (sampling costs about as much as the rest of `dequeue`).
pub const AVERAGE_EVERY: u32 = 16;

/// Smallest DRR quantum accepted (smaller ones make DRR spin on large packets).
pub const MIN_QUANTUM: u32 = 256;

/// What the per-packet path keeps of one flow: one 64-byte, 64-byte aligned
/// line holding everything a packet of a flow without a peak rate reads or
/// writes on its way through an idle scheduler: the conformer's token
/// bucket and clock, MinimumPolicedSize and MaxSduSize, the counters every
/// packet adds to (the low 32 bits of packets, bytes and non-conforming
/// packets scheduled; see [`FlowCold::base`]), the flow's marks, its mode
/// and level. With 10,000 flows the lines take 640 KB; a packet costs one
/// line. The peak bucket, the shaper queue and the counts of packets not yet
/// transmitted are in [`FlowWarm`], the id and drops in [`FlowCold`].
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct FlowLine {
    conf: ConformerHead,
    /// IP packets scheduled, low 32 bits (the rest in [`FlowCold::base`]).
    packets: u32,
    /// IP bytes scheduled, low 32 bits.
    bytes: u32,
    /// Non-conforming IP packets scheduled, low 32 bits.
    nc: u32,
    /// The marks of its packets (none for the unclassified flow).
    marks: FlowMarks,
    mode: Mode,
    level: Level,
    /// Whether [`FlowWarm::peak`] is present (the flow has a peak rate):
    /// only then does a packet read it.
    has_peak: bool,
    /// Whether the flow's shaper head has an entry in the deadline heap
    /// (exactly when its shaper queue is not empty).
    in_heap: bool,
}

impl FlowLine {
    /// Adds a packet scheduled to the low counters; true if one of them
    /// wrapped (the caller then carries into [`FlowCold::base`]). No
    /// branch on `nonconforming` (as good as random on a policed flow): a
    /// conforming send adds 0 non-conforming packets, which never wraps.
    #[inline]
    fn count_scheduled(&mut self, size: &SendSize, nonconforming: bool) -> Carry {
        let (p, cp) = self.packets.overflowing_add(size.packets);
        let (b, cb) = self.bytes.overflowing_add(size.ip_bytes);
        let nc = size.packets & u32::from(nonconforming).wrapping_neg();
        self.packets = p;
        self.bytes = b;
        Carry {
            packets: cp,
            bytes: cb,
            nc: self.count_nc(nc),
        }
    }

    /// Adds non-conforming packets scheduled; true if the low counter
    /// wrapped.
    #[inline]
    fn count_nc(&mut self, packets: u32) -> bool {
        let (n, c) = self.nc.overflowing_add(packets);
        self.nc = n;
        c
    }
}

/// Which low counters of a [`FlowLine`] wrapped.
#[derive(Debug, Clone, Copy)]
#[must_use]
struct Carry {
    packets: bool,
    bytes: bool,
    nc: bool,
}

impl Carry {
    #[inline]
    const fn any(self) -> bool {
        self.packets | self.bytes | self.nc
    }
}

/// A flow's state that only some packets touch: the peak bucket (flows with
/// a peak rate), the shaper queue (shaped flows), and what was scheduled
/// but not yet transmitted (packets that wait in a queue). Same indexes as
/// the lines.
#[derive(Debug, Clone)]
struct FlowWarm {
    peak: PeakBucket,
    shaper: Fifo,
    /// MaxPacketsInShaper of this flow.
    max_in_shaper: u32,
    /// Counted scheduled and not (yet) transmitted: transmitted is
    /// scheduled minus pending (wrapping: after `clear_stats`, packets held
    /// before it make pending negative).
    pending: Pending,
}

/// Packets, bytes and non-conforming packets scheduled, not yet transmitted.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    packets: u64,
    bytes: u64,
    nc: u64,
}

impl Pending {
    /// A send of `size` went into a queue (`nc`: non-conforming).
    #[inline]
    fn add(&mut self, size: &SendSize, nc: bool) {
        let p = u64::from(size.packets);
        self.packets = self.packets.wrapping_add(p);
        self.bytes = self.bytes.wrapping_add(u64::from(size.ip_bytes));
        if nc {
            self.nc = self.nc.wrapping_add(p);
        }
    }

    /// It left the queue, transmitted.
    #[inline]
    fn sub(&mut self, size: &SendSize, nc: bool) {
        let p = u64::from(size.packets);
        self.packets = self.packets.wrapping_sub(p);
        self.bytes = self.bytes.wrapping_sub(u64::from(size.ip_bytes));
        if nc {
            self.nc = self.nc.wrapping_sub(p);
        }
    }
}

/// A flow's line and its peak bucket, made together.
fn new_flow(
    mode: Mode,
    level: Level,
    params: ConformerParams,
    marks: FlowMarks,
    now: Ticks,
) -> (FlowLine, FlowWarm) {
    let (conf, peak) = ConformerHead::new(params, now);
    (
        FlowLine {
            conf,
            packets: 0,
            bytes: 0,
            nc: 0,
            marks,
            mode,
            level,
            has_peak: peak.present(),
            in_heap: false,
        },
        FlowWarm {
            peak,
            shaper: Fifo::EMPTY,
            max_in_shaper: 0,
            pending: Pending::default(),
        },
    )
}

/// The implicit flow of unclassified packets: best effort, no bucket, no
/// marks.
fn unclassified_flow(now: Ticks) -> (FlowLine, FlowWarm) {
    new_flow(
        Mode::BorrowPlus,
        Level::BestEffort,
        ConformerParams::unlimited(),
        FlowMarks::default(),
        now,
    )
}

/// [`SdMode`] in one byte (`SdMode` itself has qos.h's 32-bit values), so
/// that [`FlowLine`] stays one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Borrow,
    Shape,
    Discard,
    BorrowPlus,
}

impl From<SdMode> for Mode {
    fn from(m: SdMode) -> Self {
        match m {
            SdMode::Borrow => Self::Borrow,
            SdMode::Shape => Self::Shape,
            SdMode::Discard => Self::Discard,
            SdMode::BorrowPlus => Self::BorrowPlus,
        }
    }
}

/// The rest of a flow, at the same index in [`Scheduler`]'s `cold` array:
/// its id, its drop counters and the high part of its scheduled counters.
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
struct FlowCold {
    /// Everything but the scheduled / transmitted / non-conforming counters
    /// and the shaper and sequencer figures (those stay 0 here).
    stats: FlowStats,
    /// What the low 32-bit counters of the line carried: packets, bytes
    /// and non-conforming packets scheduled.
    base: Pending,
    /// Its maximum in the sequencer and its averages in the shaper and
    /// the sequencer, sampled by the general path only (see
    /// [`Scheduler::sample_flow`]). Here rather than in [`FlowWarm`]: the
    /// general path reads `base` next to it anyway, and the warm part
    /// (which the short path indexes) keeps its size.
    queues: FlowQueueStats,
    /// `None` for the implicit flow of unclassified packets.
    id: Option<FlowId>,
}

impl FlowCold {
    fn new(id: Option<FlowId>) -> Self {
        Self {
            stats: FlowStats::default(),
            base: Pending::default(),
            queues: FlowQueueStats::default(),
            id,
        }
    }

    fn count_drop(&mut self, reason: DropReason, packets: u64) {
        self.stats.dropped_packets = self.stats.dropped_packets.saturating_add(packets);
        self.stats.drops.count_n(reason, packets);
    }

    /// Carries the wrapped low counters of the line into the base.
    #[cold]
    #[inline(never)]
    fn carry(&mut self, c: Carry) {
        const WRAP: u64 = 1 << 32;
        let b = &mut self.base;
        if c.packets {
            b.packets = b.packets.saturating_add(WRAP);
        }
        if c.bytes {
            b.bytes = b.bytes.saturating_add(WRAP);
        }
        if c.nc {
            b.nc = b.nc.saturating_add(WRAP);
        }
    }
}

/// A flow's statistics: its cold counters with the line's and the pending
/// counts merged in. `express`: what the fast-path packet (scheduled, not
/// pending, not transmitted) holds of this flow.
fn merged(line: &FlowLine, warm: &FlowWarm, cold: &FlowCold, express: Pending) -> FlowStats {
    let b = &cold.base;
    let packets = b.packets.saturating_add(u64::from(line.packets));
    let bytes = b.bytes.saturating_add(u64::from(line.bytes));
    let nc = b.nc.saturating_add(u64::from(line.nc));
    let p = &warm.pending;
    let mut out = FlowStats {
        packets_scheduled: packets,
        bytes_scheduled: bytes,
        nonconforming_packets_scheduled: nc,
        packets_transmitted: packets
            .wrapping_sub(p.packets)
            .wrapping_sub(express.packets),
        bytes_transmitted: bytes.wrapping_sub(p.bytes).wrapping_sub(express.bytes),
        nonconforming_packets_transmitted: nc.wrapping_sub(p.nc).wrapping_sub(express.nc),
        max_packets_in_shaper: warm.max_in_shaper,
        ..cold.stats
    };
    cold.queues.report(packets, &mut out);
    out
}

/// A sequencer queue: one per flow at the flow's level (id `2f`) and one in
/// the non-conforming level (id `2f + 1`), served by DRR inside a level.
#[derive(Debug, Clone, Copy)]
struct SeqQueue {
    fifo: Fifo,
    deficit: u32,
    /// Next queue in the level's active list.
    next: u32,
    active: bool,
}

/// Sends waiting in `queues` (a flow's two sequencer queues).
fn sends_in(queues: &[SeqQueue]) -> u32 {
    queues
        .iter()
        .fold(0u32, |n, sq| n.saturating_add(sq.fifo.len()))
}

impl SeqQueue {
    const EMPTY: Self = Self {
        fifo: Fifo::EMPTY,
        deficit: 0,
        next: NIL,
        active: false,
    };
}

/// A level's DRR active list (queues with packets), linked through
/// [`SeqQueue::next`].
#[derive(Debug, Clone, Copy)]
struct ActiveList {
    head: u32,
    tail: u32,
}

impl ActiveList {
    const EMPTY: Self = Self {
        head: NIL,
        tail: NIL,
    };
}

/// Where `enqueue` puts an accepted packet.
enum Dest {
    Shaper(Option<Ticks>),
    Seq { nonconforming: bool },
}

/// The sequencer's only packet, kept out of its queue and out of the slab
/// (the fast path, see [`Scheduler::set_fast_path`]). It is accepted only
/// when the slab has a free slot, and every operation that could take a
/// slot (`enqueue`) puts it in its queue first, so that slot is still free
/// then: the slab's limits act as on the slow path, and
/// [`Scheduler::held_packets`] counts it.
#[derive(Debug)]
struct Express<P> {
    pkt: P,
    size: SendSize,
    /// Its sequencer queue.
    qid: u32,
    /// The level that queue is served at.
    level: Level,
}

/// Statistics of the adapter, the shaper and the sequencer, copied out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Adapter counters.
    pub adapter: AdapterStats,
    /// Shaper counters.
    pub shaper: ShaperStats,
    /// Sequencer counters.
    pub sequencer: SequencerStats,
}

/// One adapter's packet scheduler. `P` is the packet handle (an NBL wrapper
/// in the driver); the scheduler never looks inside it.
#[derive(Debug)]
pub struct Scheduler<P> {
    limits: Limits,
    quantum: u32,
    flow_cap_packets: u32,
    flow_cap_bytes: u64,
    slab: Slab<P>,
    /// Configured flows in snapshot order, then the unclassified flow: the
    /// line each packet reads.
    lines: Vec<FlowLine>,
    /// The same flows' warm part (same indexes, same length).
    warm: Vec<FlowWarm>,
    /// The same flows' cold part (same indexes, same length).
    cold: Vec<FlowCold>,
    /// The mapping tables the flows' marks were decided with.
    maps: MarkMaps,
    seq: Vec<SeqQueue>,
    active: [ActiveList; Level::COUNT],
    /// Bit `l` set = level `l` has an active queue.
    nonempty: u8,
    /// Deadline of each shaped flow's head packet, at most one entry per flow.
    heap: BinaryHeap<Reverse<(Ticks, u32)>>,
    outstanding: u32,
    held_bytes: u64,
    in_shaper: u32,
    in_sequencer: u32,
    stats: SchedulerStats,
    avg_shaper: Ewma,
    avg_sequencer: Ewma,
    avg_netcard: Ewma,
    /// Packets handed out (wrapping), to sample the averages.
    sent: u32,
    /// The sequencer's only packet when it went the fast path.
    express: Option<Express<P>>,
    /// Whether the fast path is taken (it is by default).
    fast_path: bool,
}

fn alloc_error(field: Field) -> ConfigError {
    ConfigError::new(
        ErrorKind::LimitExceeded,
        Object::Adapter,
        field,
        "cannot be allocated",
    )
}

/// The peak bucket of flow `f` when it has one (`has_peak`): the only
/// case a packet reads it.
#[inline]
fn peak_of(has_peak: bool, warm: &mut [FlowWarm], f: usize) -> Option<&mut PeakBucket> {
    if has_peak {
        warm.get_mut(f).map(|w| &mut w.peak)
    } else {
        None
    }
}

fn idx(i: u32) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

impl<P> Scheduler<P> {
    /// A scheduler with no flows (every packet unclassified best effort) and
    /// all its packet slots allocated.
    ///
    /// # Errors
    /// Limits refused by [`validate_limits`], or the slots cannot be
    /// allocated (`LimitExceeded` on queue_packets).
    pub fn new(limits: Limits) -> Result<Self, ConfigError> {
        validate_limits(&limits)?;
        let slab =
            Slab::try_new(limits.queue_packets).map_err(|_| alloc_error(Field::QueuePackets))?;
        let mut lines = Vec::new();
        let mut warm = Vec::new();
        let mut cold = Vec::new();
        let mut seq = Vec::new();
        let mut heap = BinaryHeap::new();
        lines
            .try_reserve_exact(1)
            .and_then(|()| warm.try_reserve_exact(1))
            .and_then(|()| cold.try_reserve_exact(1))
            .and_then(|()| seq.try_reserve_exact(2))
            .and_then(|()| heap.try_reserve_exact(1))
            .map_err(|_| alloc_error(Field::FlowCount))?;
        let (line, w) = unclassified_flow(0);
        lines.push(line);
        warm.push(w);
        cold.push(FlowCold::new(None));
        seq.push(SeqQueue::EMPTY);
        seq.push(SeqQueue::EMPTY);
        Ok(Self {
            limits,
            quantum: DEFAULT_QUANTUM,
            flow_cap_packets: (limits.queue_packets / 2).max(1),
            flow_cap_bytes: (limits.queue_bytes / 2).max(1),
            slab,
            lines,
            warm,
            cold,
            maps: MarkMaps::default(),
            seq,
            active: [ActiveList::EMPTY; Level::COUNT],
            nonempty: 0,
            heap,
            outstanding: 0,
            held_bytes: 0,
            in_shaper: 0,
            in_sequencer: 0,
            stats: SchedulerStats::default(),
            avg_shaper: Ewma::default(),
            avg_sequencer: Ewma::default(),
            avg_netcard: Ewma::default(),
            sent: 0,
            express: None,
            fast_path: true,
        })
    }

    /// The limits in force.
    #[must_use]
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Turns the fast path on (the default) or off. Observable behaviour is
    /// the same either way (released packets, their order, every statistic,
    /// `next_event`); the switch exists so that tests can check exactly
    /// that against the plain queueing path.
    ///
    /// The fast path: a packet that goes to the sequencer while the
    /// sequencer is empty is kept aside (its slab slot reserved) instead of
    /// being linked into its DRR queue and level list; `dequeue` hands it
    /// out directly. Whenever anything else would enter the sequencer (an
    /// `enqueue`, a shaped packet falling due) or the queues are walked or
    /// changed (`remove_if`, `drain`, `reconfigure`, `set_quantum`), it is
    /// first put in its queue exactly as the plain path would have done
    /// when it arrived: an empty queue has no DRR deficit and no list
    /// position, so nothing depends on when that happens.
    pub fn set_fast_path(&mut self, on: bool) {
        self.flush_express();
        self.fast_path = on;
    }

    /// Puts the fast-path packet, if any, in its sequencer queue.
    fn flush_express(&mut self) {
        let Some(e) = self.express.take() else {
            return;
        };
        let Some(sq) = self.seq.get_mut(idx(e.qid)) else {
            // Not reachable: the queue existed when the packet arrived and
            // queues only change after a flush. Keep the packet anyway.
            self.express = Some(e);
            return;
        };
        match self.slab.push_back(&mut sq.fifo, e.pkt, e.size) {
            Ok(()) => {
                if let Some(w) = self.warm.get_mut(idx(e.qid >> 1)) {
                    w.pending.add(&e.size, e.qid & 1 == 1);
                }
                if !sq.active {
                    self.activate_at(e.qid, e.level);
                }
            }
            Err(pkt) => self.express = Some(Express { pkt, ..e }),
        }
    }

    /// Sets the DRR quantum in bytes (default [`DEFAULT_QUANTUM`]).
    ///
    /// # Errors
    /// `InvalidValue` if `quantum` < [`MIN_QUANTUM`].
    pub fn set_quantum(&mut self, quantum: u32) -> Result<(), ConfigError> {
        self.flush_express();
        if quantum < MIN_QUANTUM {
            return Err(ConfigError::new(
                ErrorKind::InvalidValue,
                Object::AdapterOptions,
                Field::None,
                "DRR quantum must be >= 256 bytes",
            ));
        }
        self.quantum = quantum;
        Ok(())
    }

    /// Number of configured flows (indexes `0..flow_count()`).
    #[must_use]
    pub fn flow_count(&self) -> usize {
        self.lines.len().saturating_sub(1)
    }

    /// The id of the flow at `index`.
    #[must_use]
    pub fn flow_id(&self, index: usize) -> Option<FlowId> {
        self.cold.get(index).and_then(|f| f.id)
    }

    /// Packets held (shaper + sequencer).
    #[must_use]
    pub const fn held_packets(&self) -> u32 {
        self.slab
            .used()
            .saturating_add(if self.express.is_some() { 1 } else { 0 })
    }

    /// IP bytes held (shaper + sequencer).
    #[must_use]
    pub const fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Packets waiting in shaper queues.
    #[must_use]
    pub const fn packets_in_shaper(&self) -> u32 {
        self.in_shaper
    }

    /// Packets waiting in the sequencer.
    #[must_use]
    pub const fn packets_in_sequencer(&self) -> u32 {
        self.in_sequencer
    }

    /// Packets handed out by `dequeue` and not yet reported by
    /// `send_completed`.
    #[must_use]
    pub const fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Counters of the flow at `index`.
    #[must_use]
    pub fn flow_stats(&self, index: usize) -> Option<FlowStats> {
        if index < self.flow_count() {
            self.flow_stats_at(index)
        } else {
            None
        }
    }

    /// Counters of unclassified traffic (and of packets of removed flows).
    #[must_use]
    pub fn unclassified_stats(&self) -> FlowStats {
        self.flow_stats_at(self.lines.len().saturating_sub(1))
            .unwrap_or_default()
    }

    fn flow_stats_at(&self, index: usize) -> Option<FlowStats> {
        let mut express = Pending::default();
        if let Some(e) = &self.express {
            if idx(e.qid >> 1) == index {
                express.add(&e.size, e.qid & 1 == 1);
            }
        }
        Some(merged(
            self.lines.get(index)?,
            self.warm.get(index)?,
            self.cold.get(index)?,
            express,
        ))
    }

    /// The marks of the flow at `index`: what [`crate::mark::decide`]
    /// gives under the mapping tables in force ([`Self::reconfigure_marked`];
    /// Windows' defaults until then).
    #[must_use]
    pub fn flow_marks(&self, index: usize) -> Option<FlowMarks> {
        if index < self.flow_count() {
            self.lines.get(index).map(|l| l.marks)
        } else {
            None
        }
    }

    /// The marks of a packet released from the flow at line `f` (the
    /// unclassified line has none).
    #[inline]
    fn marks_of(&self, f: usize, conforming: bool) -> Marks {
        self.lines
            .get(f)
            .map_or(Marks::default(), |l| l.marks.get(conforming))
    }

    /// Adapter, shaper and sequencer counters.
    #[must_use]
    pub const fn stats(&self) -> &SchedulerStats {
        &self.stats
    }

    /// Counts a flow creation (`modification` false) or modification (true)
    /// the control plane refused (FlowsRejected / FlowModsRejected).
    pub fn count_rejected(&mut self, modification: bool) {
        let c = if modification {
            &mut self.stats.adapter.flow_mods_rejected
        } else {
            &mut self.stats.adapter.flows_rejected
        };
        *c = c.saturating_add(1);
    }

    /// Resets every counter; maxima restart from the current values.
    pub fn clear_stats(&mut self) {
        // Its packet then counts as pending, like any other held packet.
        self.flush_express();
        let flows = self
            .lines
            .iter_mut()
            .zip(&mut self.warm)
            .zip(&mut self.cold)
            .zip(self.seq.chunks_exact(2));
        for (((l, w), c), q) in flows {
            c.queues.restart(sends_in(q));
            c.stats = FlowStats::default();
            c.base = Pending::default();
            (l.packets, l.bytes, l.nc) = (0, 0, 0);
            w.pending = Pending::default();
            w.max_in_shaper = w.shaper.len();
        }
        self.stats = SchedulerStats::default();
        self.stats.adapter.max_simultaneous_flows =
            u32::try_from(self.flow_count()).unwrap_or(u32::MAX);
        self.stats.shaper.max_packets_in_shaper = self.in_shaper;
        self.stats.sequencer.max_packets_in_sequencer = self.in_sequencer;
        self.stats.sequencer.max_packets_in_netcard = self.outstanding;
    }

    // ----- statistics sampling -------------------------------------------

    fn note_shaper(&mut self) {
        let s = &mut self.stats.shaper;
        s.max_packets_in_shaper = s.max_packets_in_shaper.max(self.in_shaper);
    }

    fn note_sequencer(&mut self) {
        let s = &mut self.stats.sequencer;
        s.max_packets_in_sequencer = s.max_packets_in_sequencer.max(self.in_sequencer);
    }

    fn note_netcard(&mut self) {
        let s = &mut self.stats.sequencer;
        s.max_packets_in_netcard = s.max_packets_in_netcard.max(self.outstanding);
    }

    /// Sends of flow `f` in the sequencer: its two queues and the fast-path
    /// packet if it is the flow's.
    fn flow_in_sequencer(&self, f: usize) -> u32 {
        let queued = f
            .checked_mul(2)
            .and_then(|q| self.seq.get(q..q.checked_add(2)?))
            .map_or(0, sends_in);
        let express = self.express.as_ref().is_some_and(|e| idx(e.qid >> 1) == f);
        queued.saturating_add(u32::from(express))
    }

    /// Notes flow `f`'s sends in the sequencer in its maximum (they just
    /// grew without an arrival: a shaped packet released, a
    /// reconfiguration).
    fn note_flow_sequencer(&mut self, f: usize) {
        let n = self.flow_in_sequencer(f);
        if let Some(c) = self.cold.get_mut(f) {
            c.queues.note_sequencer(n);
        }
    }

    /// The per-flow sample of a send of `packets` IP packets that flow `f`
    /// just accepted on the general path (into its shaper queue, or into
    /// the sequencer behind other packets), taken after the send was
    /// counted scheduled and put in its queue: the flow's sends in its
    /// shaper queue and in the sequencer (see [`FlowStats`]). Sends handed
    /// straight back (the fast-path packet, the batch's short path) take
    /// no sample when they pass: [`FlowQueueStats`] applies theirs from
    /// the scheduled counter. Out of line: it is not on the short path and
    /// should not make the loops that are spill.
    #[inline(never)]
    fn sample_flow(&mut self, f: usize, packets: u32) {
        let in_sequencer = self.flow_in_sequencer(f);
        let (Some(l), Some(w), Some(c)) =
            (self.lines.get(f), self.warm.get(f), self.cold.get_mut(f))
        else {
            return;
        };
        let scheduled = c.base.packets.saturating_add(u64::from(l.packets));
        let before = scheduled.saturating_sub(u64::from(packets));
        c.queues
            .sample(before, packets, w.shaper.len(), in_sequencer);
    }

    /// Samples the three averages; called once per [`AVERAGE_EVERY`] packets
    /// handed out.
    fn sample_averages(&mut self) {
        self.stats.shaper.average_packets_in_shaper = self.avg_shaper.sample(self.in_shaper);
        let s = &mut self.stats.sequencer;
        s.average_packets_in_sequencer = self.avg_sequencer.sample(self.in_sequencer);
        s.average_packets_in_netcard = self.avg_netcard.sample(self.outstanding);
    }

    // ----- enqueue --------------------------------------------------------

    /// Takes a packet of `ip_bytes` IP-layer bytes for the flow at index
    /// `flow` (`None`: unclassified, scheduled as best effort, never shaped;
    /// an index beyond the configuration is treated the same way and counted
    /// in `unknown_flow_packets`).
    ///
    /// # Errors
    /// The packet is given back with the reason it was dropped (counted in
    /// the flow's and the adapter's statistics): no free slot, byte limit,
    /// flow's shaper share full, non-conforming in discard mode, or over
    /// MaxSduSize in shape/discard mode.
    pub fn enqueue(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        ip_bytes: u32,
        pkt: P,
    ) -> Result<(), (P, DropReason)> {
        self.enqueue_one::<true>(now, flow, SendSize::single(ip_bytes), pkt)
    }

    /// [`Self::enqueue`] for a send that leaves as several IP packets (an
    /// LSO super-packet; see [`SendSize::tcp_lso`]). The send stays one unit
    /// (one slot, released whole, one outstanding send), but:
    /// - MaxSduSize is compared with `size.largest_ip_packet`;
    /// - the conformer charges `max(ip_bytes, packets * MinimumPolicedSize)`;
    /// - the byte limits, the shaper share and DRR count `size.ip_bytes`;
    /// - packet statistics (scheduled, transmitted, non-conforming, dropped
    ///   and drops per reason, OutOfPackets) count `size.packets`, byte
    ///   statistics `size.ip_bytes`: they describe what reaches the wire.
    ///   Queue occupancy (packets in shaper / sequencer / netcard, their
    ///   maxima and averages) counts sends, i.e. slots.
    ///
    /// `size` is first [`SendSize::normalized`].
    ///
    /// # Errors
    /// As [`Self::enqueue`].
    pub fn enqueue_sized(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        size: SendSize,
        pkt: P,
    ) -> Result<(), (P, DropReason)> {
        self.enqueue_one::<true>(now, flow, size.normalized(), pkt)
    }

    /// [`Self::enqueue_sized`] of a normalized size. Always inlined: with
    /// `submit_batch` as a third caller LLVM stopped inlining it into
    /// `enqueue` (+4 instructions per policed packet, +18 per shaped one).
    #[inline(always)]
    fn enqueue_one<const INLINE: bool>(
        &mut self,
        now: Ticks,
        flow: Option<usize>,
        size: SendSize,
        pkt: P,
    ) -> Result<(), (P, DropReason)> {
        if self.express.is_some() {
            self.flush_express();
        }
        let ip_bytes = size.ip_bytes;
        let unclassified = self.lines.len().saturating_sub(1);
        let f = match flow {
            Some(i) if i < unclassified => i,
            Some(_) => {
                let a = &mut self.stats.adapter;
                a.unknown_flow_packets = a.unknown_flow_packets.saturating_add(1);
                unclassified
            }
            None => unclassified,
        };
        let bytes64 = u64::from(ip_bytes);
        let dest = if self.slab.is_full() {
            Err(DropReason::QueuePackets)
        } else if self.held_bytes.saturating_add(bytes64) > self.limits.queue_bytes {
            Err(DropReason::QueueBytes)
        } else {
            self.admit::<INLINE>(f, now, &size)
        };
        let packets = u64::from(size.packets);
        let dest = match dest {
            Ok(d) => d,
            Err(reason) => return Err((pkt, self.count_drop(f, reason, packets))),
        };
        let nonconforming = matches!(
            dest,
            Dest::Seq {
                nonconforming: true
            }
        );
        let Some(line) = self.lines.get_mut(f) else {
            return Err((pkt, DropReason::QueuePackets));
        };
        // Counted first: the push below cannot fail (a slot is free).
        let carry = line.count_scheduled(&size, nonconforming);
        if carry.any() {
            if let Some(c) = self.cold.get_mut(f) {
                c.carry(carry);
            }
        }
        self.held_bytes = self.held_bytes.saturating_add(bytes64);
        match dest {
            Dest::Shaper(deadline) => {
                let Some(warm) = self.warm.get_mut(f) else {
                    return Err((pkt, DropReason::QueuePackets));
                };
                if let Err(pkt) = self.slab.push_back(&mut warm.shaper, pkt, size) {
                    return Err((pkt, DropReason::QueuePackets));
                }
                warm.pending.add(&size, false);
                warm.max_in_shaper = warm.max_in_shaper.max(warm.shaper.len());
                if let Some(t) = deadline {
                    line.in_heap = true;
                    self.heap
                        .push(Reverse((t, u32::try_from(f).unwrap_or(NIL))));
                }
                self.in_shaper = self.in_shaper.saturating_add(1);
                self.note_shaper();
                self.sample_flow(f, size.packets);
            }
            Dest::Seq { nonconforming } => {
                let level = if nonconforming {
                    Level::NonConforming
                } else {
                    line.level
                };
                let qid = u32::try_from(f)
                    .ok()
                    .and_then(|f| f.checked_mul(2))
                    .map_or(NIL, |q| q | u32::from(nonconforming));
                // The slab has a free slot (checked above) and nothing is in
                // the sequencer: keep the packet aside (not pending: see
                // `flow_stats_at`).
                if self.fast_path && self.in_sequencer == 0 {
                    self.express = Some(Express {
                        pkt,
                        size,
                        qid,
                        level,
                    });
                    self.in_sequencer = 1;
                    self.note_sequencer();
                    return Ok(());
                }
                if let Some(warm) = self.warm.get_mut(f) {
                    warm.pending.add(&size, nonconforming);
                }
                if let Err(pkt) = self.seq_push(qid, level, pkt, size) {
                    return Err((pkt, DropReason::QueuePackets));
                }
                self.sample_flow(f, size.packets);
            }
        }
        Ok(())
    }

    /// Runs the conformer and the mode of flow `f` on a packet: where it goes,
    /// or why it is dropped.
    ///
    /// Inlined into the per-packet `enqueue` (where that saves its call),
    /// called out of line from `submit_batch`'s general path (where
    /// inlining it makes the short path's loop spill more).
    #[inline(always)]
    fn admit<const INLINE: bool>(
        &mut self,
        f: usize,
        now: Ticks,
        size: &SendSize,
    ) -> Result<Dest, DropReason> {
        if INLINE {
            self.admit_body(f, now, size)
        } else {
            self.admit_outlined(f, now, size)
        }
    }

    #[inline(never)]
    fn admit_outlined(
        &mut self,
        f: usize,
        now: Ticks,
        size: &SendSize,
    ) -> Result<Dest, DropReason> {
        self.admit_body(f, now, size)
    }

    #[inline(always)]
    fn admit_body(&mut self, f: usize, now: Ticks, size: &SendSize) -> Result<Dest, DropReason> {
        let (cap_packets, cap_bytes) = (self.flow_cap_packets, self.flow_cap_bytes);
        let ip_bytes = size.ip_bytes;
        let line = self.lines.get_mut(f).ok_or(DropReason::QueuePackets)?;
        let c = &mut line.conf;
        match line.mode {
            Mode::Shape => {
                if c.is_oversize(size.largest_ip_packet) {
                    return Err(DropReason::OverMaxSdu);
                }
                let warm = self.warm.get_mut(f).ok_or(DropReason::QueuePackets)?;
                let fits = warm.shaper.len() < cap_packets
                    && warm.shaper.bytes().saturating_add(u64::from(ip_bytes)) <= cap_bytes;
                if !warm.shaper.is_empty() {
                    // FIFO: behind the packets already waiting.
                    return if fits {
                        Ok(Dest::Shaper(None))
                    } else {
                        Err(DropReason::FlowQueue)
                    };
                }
                let mut peak = line.has_peak.then_some(&mut warm.peak);
                c.advance(peak.as_deref_mut(), now);
                if c.fits_now(peak.as_deref(), size) {
                    c.consume_sized(peak, size);
                    return Ok(Dest::Seq {
                        nonconforming: false,
                    });
                }
                match c.earliest_sized(peak.as_deref(), size) {
                    Verdict::At(t) if fits => Ok(Dest::Shaper(Some(t))),
                    Verdict::At(_) => Err(DropReason::FlowQueue),
                    Verdict::Never => Err(DropReason::OverMaxSdu),
                }
            }
            Mode::Borrow => {
                let peak = peak_of(line.has_peak, &mut self.warm, f);
                Ok(Dest::Seq {
                    nonconforming: !c.police_sized(peak, now, size),
                })
            }
            Mode::Discard => {
                if c.is_oversize(size.largest_ip_packet) {
                    Err(DropReason::OverMaxSdu)
                } else if c.police_sized(peak_of(line.has_peak, &mut self.warm, f), now, size) {
                    Ok(Dest::Seq {
                        nonconforming: false,
                    })
                } else {
                    Err(DropReason::Nonconforming)
                }
            }
            Mode::BorrowPlus => Ok(Dest::Seq {
                nonconforming: false,
            }),
        }
    }

    fn count_drop(&mut self, f: usize, reason: DropReason, packets: u64) -> DropReason {
        if let Some(c) = self.cold.get_mut(f) {
            c.count_drop(reason, packets);
        }
        let a = &mut self.stats.adapter;
        a.drops.count_n(reason, packets);
        if reason == DropReason::QueuePackets {
            a.out_of_packets = a.out_of_packets.saturating_add(packets);
        }
        reason
    }

    // ----- sequencer ------------------------------------------------------

    fn level_of(&self, qid: u32) -> Level {
        if qid & 1 == 1 {
            Level::NonConforming
        } else {
            self.lines
                .get(idx(qid >> 1))
                .map_or(Level::BestEffort, |f| f.level)
        }
    }

    /// Appends `qid` to its level's active list (it just became non-empty).
    fn activate(&mut self, qid: u32) {
        let level = self.level_of(qid);
        self.activate_at(qid, level);
    }

    /// [`Self::activate`] when the caller knows the queue's level.
    fn activate_at(&mut self, qid: u32, level: Level) {
        let level = level.index();
        let quantum = self.quantum;
        let Some(sq) = self.seq.get_mut(idx(qid)) else {
            return;
        };
        if sq.active {
            return;
        }
        sq.active = true;
        sq.next = NIL;
        if sq.deficit == 0 {
            sq.deficit = quantum;
        }
        let Some(list) = self.active.get_mut(level) else {
            return;
        };
        let tail = list.tail;
        list.tail = qid;
        if let Some(t) = self.seq.get_mut(idx(tail)) {
            t.next = qid;
        } else {
            list.head = qid;
        }
        self.nonempty |= 1 << level;
    }

    /// Puts a packet in sequencer queue `qid` (of level `level`).
    fn seq_push(&mut self, qid: u32, level: Level, pkt: P, size: SendSize) -> Result<(), P> {
        let Some(sq) = self.seq.get_mut(idx(qid)) else {
            return Err(pkt);
        };
        self.slab.push_back(&mut sq.fifo, pkt, size)?;
        if !sq.active {
            self.activate_at(qid, level);
        }
        self.in_sequencer = self.in_sequencer.saturating_add(1);
        self.note_sequencer();
        Ok(())
    }

    /// Takes the next packet: highest non-empty level, DRR inside it.
    fn seq_pop(&mut self) -> Option<(P, SendSize, u32)> {
        loop {
            let level = usize::try_from(self.nonempty.trailing_zeros()).ok()?;
            let list = *self.active.get(level)?;
            let qid = list.head;
            let single = list.head == list.tail;
            let quantum = self.quantum;
            let sq = self.seq.get_mut(idx(qid))?;
            let Some(bytes) = self.slab.front_bytes(&sq.fifo) else {
                // An empty queue on the active list (never expected): unlink.
                self.unlink_head(level);
                continue;
            };
            if sq.deficit < bytes {
                if single {
                    sq.deficit = bytes;
                } else {
                    sq.deficit = sq.deficit.saturating_add(quantum);
                    self.rotate(level);
                    continue;
                }
            }
            sq.deficit = sq.deficit.saturating_sub(bytes);
            let popped = self.slab.pop_front(&mut sq.fifo);
            if sq.fifo.is_empty() {
                sq.deficit = 0;
                self.unlink_head(level);
            }
            if let Some((pkt, size)) = popped {
                return Some((pkt, size, qid));
            }
        }
    }

    /// Removes the head of level `level`'s active list.
    fn unlink_head(&mut self, level: usize) {
        let Some(list) = self.active.get_mut(level) else {
            return;
        };
        let qid = list.head;
        let next = self.seq.get_mut(idx(qid)).map_or(NIL, |sq| {
            sq.active = false;
            mem::replace(&mut sq.next, NIL)
        });
        list.head = next;
        if next == NIL {
            list.tail = NIL;
            self.nonempty &= !(1 << level);
        }
    }

    /// Moves the head of level `level`'s active list to its tail.
    fn rotate(&mut self, level: usize) {
        let Some(list) = self.active.get_mut(level) else {
            return;
        };
        let qid = list.head;
        let old_tail = list.tail;
        if qid == old_tail {
            return;
        }
        let next = self
            .seq
            .get_mut(idx(qid))
            .map_or(NIL, |sq| mem::replace(&mut sq.next, NIL));
        list.head = next;
        list.tail = qid;
        if let Some(t) = self.seq.get_mut(idx(old_tail)) {
            t.next = qid;
        }
    }

    // ----- shaper release and dequeue -------------------------------------

    /// Moves every shaped packet whose conformance time is <= `now` into
    /// the sequencer. Each is charged at its own conformance time (not at
    /// `now`), so a late call loses no rate.
    fn release_due(&mut self, now: Ticks) {
        while let Some(&Reverse((t, f))) = self.heap.peek() {
            if t > now {
                break;
            }
            if self.express.is_some() {
                self.flush_express();
            }
            match self.release_head(idx(f), t) {
                Some(next) => {
                    if let Some(mut top) = self.heap.peek_mut() {
                        *top = Reverse((next, f));
                    }
                }
                None => {
                    self.heap.pop();
                    if let Some(line) = self.lines.get_mut(idx(f)) {
                        line.in_heap = false;
                    }
                }
            }
        }
    }

    /// Releases the head of flow `f`'s shaper at its deadline `t`; returns
    /// the next head's deadline (`None`: shaper empty).
    fn release_head(&mut self, f: usize, t: Ticks) -> Option<Ticks> {
        let (line, warm) = (self.lines.get_mut(f)?, self.warm.get_mut(f)?);
        let c = &mut line.conf;
        let mut peak = line.has_peak.then_some(&mut warm.peak);
        c.advance(peak.as_deref_mut(), t);
        let size = self.slab.front_size(&warm.shaper)?;
        // `fits_now` first: it is the usual answer and needs no division.
        let conforming = if c.fits_now(peak.as_deref(), &size) {
            c.consume_sized(peak.as_deref_mut(), &size);
            true
        } else {
            match c.earliest_sized(peak.as_deref(), &size) {
                // Parameters changed since the deadline was computed.
                Verdict::At(t2) => return Some(t2),
                // MaxSduSize shrank while it waited: sent non-conforming.
                Verdict::Never => false,
            }
        };
        let qid = f
            .checked_mul(2)
            .and_then(|q| q.checked_add(usize::from(!conforming)))?;
        let sq = self.seq.get_mut(qid)?;
        self.slab.move_front(&mut warm.shaper, &mut sq.fifo)?;
        let next = self.slab.front_size(&warm.shaper).map(|b| {
            match c.earliest_sized(peak.as_deref(), &b) {
                Verdict::At(t3) => t3,
                Verdict::Never => c.last(),
            }
        });
        let level = if conforming {
            line.level
        } else {
            // Pending already (since it entered the shaper); now also as
            // non-conforming.
            warm.pending.nc = warm.pending.nc.wrapping_add(u64::from(size.packets));
            if line.count_nc(size.packets) {
                if let Some(cold) = self.cold.get_mut(f) {
                    cold.carry(Carry {
                        packets: false,
                        bytes: false,
                        nc: true,
                    });
                }
            }
            Level::NonConforming
        };
        if !sq.active {
            self.activate_at(u32::try_from(qid).unwrap_or(NIL), level);
        }
        self.in_shaper = self.in_shaper.saturating_sub(1);
        self.in_sequencer = self.in_sequencer.saturating_add(1);
        self.note_shaper();
        self.note_sequencer();
        self.note_flow_sequencer(f);
        next
    }

    /// Hands out the next packet to send, if the outstanding-sends bound
    /// allows one: shaped packets that are due move to the sequencer first,
    /// then the highest non-empty level is served, DRR between its flows.
    /// `flow` is the packet's flow index in the current configuration
    /// (`None`: unclassified, or its flow was removed).
    pub fn dequeue(&mut self, now: Ticks) -> Option<Released<P>> {
        self.release_due(now);
        if self.outstanding >= self.limits.max_outstanding {
            return None;
        }
        // Looked at in place: taking an empty Option would still move it.
        let (pkt, size, qid, queued) = if self.express.is_some() {
            let e = self.express.take()?;
            (e.pkt, e.size, e.qid, false)
        } else {
            let (pkt, size, qid) = self.seq_pop()?;
            (pkt, size, qid, true)
        };
        Some(self.hand_out(pkt, size, qid, queued))
    }

    /// The accounting of a packet leaving the sequencer from queue `qid`
    /// (`dequeue`); `queued`: it was in the queue (pending), not the
    /// fast-path packet.
    #[inline]
    fn hand_out(&mut self, pkt: P, size: SendSize, qid: u32, queued: bool) -> Released<P> {
        let (bytes, packets) = (size.ip_bytes, u64::from(size.packets));
        let f = idx(qid >> 1);
        let conforming = qid & 1 == 0;
        self.in_sequencer = self.in_sequencer.saturating_sub(1);
        self.held_bytes = self.held_bytes.saturating_sub(u64::from(bytes));
        self.outstanding = self.outstanding.saturating_add(1);
        if queued {
            if let Some(w) = self.warm.get_mut(f) {
                w.pending.sub(&size, !conforming);
            }
        }
        if !conforming {
            let s = &mut self.stats.sequencer;
            s.nonconforming_packets_transmitted =
                s.nonconforming_packets_transmitted.saturating_add(packets);
        }
        self.note_netcard();
        self.sent = self.sent.wrapping_add(1);
        if self.sent % AVERAGE_EVERY == 0 {
            self.sample_averages();
        }
        Released {
            pkt,
            flow: (f < self.flow_count()).then_some(f),
            conforming,
        }
    }

    /// [`Self::dequeue`] with the released packet's marks, as
    /// [`Self::submit_batch_marked`] gives them.
    pub fn dequeue_marked(&mut self, now: Ticks) -> Option<(Released<P>, Marks)> {
        let r = self.dequeue(now)?;
        let marks = self.marks_of(r.flow.unwrap_or(self.flow_count()), r.conforming);
        Some((r, marks))
    }

    /// The miniport completed `n` packets handed out by `dequeue`.
    pub fn send_completed(&mut self, n: u32) {
        self.outstanding = self.outstanding.saturating_sub(n);
    }

    /// The earliest deadline among shaped packets: arm one timer for it and
    /// call `dequeue` then. `None`: nothing waits on time. Call `dequeue`
    /// until it returns `None` first; packets held only by the
    /// outstanding-sends bound wait for `send_completed`, not for a time.
    #[must_use]
    pub fn next_event(&self) -> Option<Ticks> {
        self.heap.peek().map(|&Reverse((t, _))| t)
    }

    // ----- bulk operations ------------------------------------------------

    /// Hands every held packet (shaper and sequencer) to `f`, e.g. on pause.
    /// Sequencer packets come first, by level. Conformer state is kept.
    pub fn drain(&mut self, mut f: impl FnMut(P)) {
        self.remove_if(|_| true, &mut f);
    }

    /// Removes every held packet for which `pred` holds and hands it to `f`
    /// (cancel by id). The others keep their order. O(held packets + flows).
    pub fn remove_if(&mut self, mut pred: impl FnMut(&P) -> bool, mut f: impl FnMut(P)) {
        self.flush_express();
        let mut removed_bytes = 0u64;
        let mut out = |p: P, b: u32| {
            removed_bytes = removed_bytes.saturating_add(u64::from(b));
            f(p);
        };
        for level in Level::ALL {
            for (qid, sq) in self.seq.iter_mut().enumerate() {
                let ql = if qid & 1 == 1 {
                    Level::NonConforming
                } else {
                    self.lines
                        .get(qid >> 1)
                        .map_or(Level::BestEffort, |l| l.level)
                };
                if ql == level {
                    self.slab.extract_if(&mut sq.fifo, &mut pred, &mut out);
                }
            }
        }
        for w in &mut self.warm {
            self.slab.extract_if(&mut w.shaper, &mut pred, &mut out);
        }
        self.held_bytes = self.held_bytes.saturating_sub(removed_bytes);
        self.rebuild();
    }

    /// Recomputes the active lists, the deadline heap and the queue counts
    /// from the queues themselves (after a reconfiguration or a removal).
    fn rebuild(&mut self) {
        self.active = [ActiveList::EMPTY; Level::COUNT];
        self.nonempty = 0;
        let mut in_sequencer = 0u32;
        let mut qid = 0u32;
        let count = u32::try_from(self.seq.len()).unwrap_or(0);
        while qid < count {
            let mut nonempty = false;
            if let Some(sq) = self.seq.get_mut(idx(qid)) {
                sq.active = false;
                sq.next = NIL;
                in_sequencer = in_sequencer.saturating_add(sq.fifo.len());
                nonempty = !sq.fifo.is_empty();
                if !nonempty {
                    sq.deficit = 0;
                }
            }
            if nonempty {
                self.activate(qid);
            }
            qid = qid.saturating_add(1);
        }
        self.heap.clear();
        let mut in_shaper = 0u32;
        for (f, (line, w)) in self.lines.iter_mut().zip(&self.warm).enumerate() {
            in_shaper = in_shaper.saturating_add(w.shaper.len());
            line.in_heap = false;
            if let Some(size) = self.slab.front_size(&w.shaper) {
                let peak = line.has_peak.then_some(&w.peak);
                let t = match line.conf.earliest_sized(peak, &size) {
                    Verdict::At(t) => t,
                    Verdict::Never => line.conf.last(),
                };
                line.in_heap = true;
                self.heap
                    .push(Reverse((t, u32::try_from(f).unwrap_or(NIL))));
            }
        }
        self.in_shaper = in_shaper;
        self.in_sequencer = in_sequencer;
        self.note_shaper();
        self.note_sequencer();
        // Packets may have moved into a flow's queues (a flow no longer
        // shaped, the unclassified flow inheriting a removed flow's).
        for f in 0..self.lines.len() {
            self.note_flow_sequencer(f);
        }
    }

    /// Installs a new set of flows, in snapshot order: the flow at position
    /// `i` of `flows` has index `i` in `enqueue` and `Released`.
    ///
    /// Flows are matched to the old configuration by [`FlowId`]: a flow that
    /// stays keeps its conformer credit (clamped to the new bucket), its
    /// queued packets and its statistics, whatever its new index. Packets of
    /// a flow that is removed are not lost: they move to the tail of the
    /// unclassified best-effort queues (conforming ones and shaped ones to
    /// best effort, non-conforming ones stay non-conforming) and are released
    /// with `flow: None`. A flow that stops being shaped has its shaper queue
    /// moved to its sequencer queue. Counts FlowsOpened / FlowsClosed /
    /// FlowsModified. Specs should be valid ([`crate::flow::validate_flow`]);
    /// an invalid one is made safe (see [`ConformerParams::from_spec`]).
    ///
    /// # Errors
    /// `LimitExceeded` if the flow tables cannot be allocated; the old
    /// configuration then stays in force, untouched.
    pub fn reconfigure(
        &mut self,
        now: Ticks,
        flows: &[(FlowId, FlowSpec)],
    ) -> Result<(), ConfigError> {
        let maps = self.maps;
        self.reconfigure_marked(now, flows, &maps)
    }

    /// [`Self::reconfigure`] with the adapter's mapping tables: each flow's
    /// marks ([`FlowMarks`], what [`crate::mark::decide`] gives for its
    /// conforming and non-conforming packets) are decided here, once, and
    /// reported with every packet by [`Self::submit_batch_marked`] and
    /// [`Self::dequeue_marked`] at no cost per packet. The tables stay in
    /// force for later `reconfigure` calls. `maps` should be valid
    /// ([`crate::mark::validate_maps`]).
    ///
    /// # Errors
    /// As [`Self::reconfigure`].
    pub fn reconfigure_marked(
        &mut self,
        now: Ticks,
        flows: &[(FlowId, FlowSpec)],
        maps: &MarkMaps,
    ) -> Result<(), ConfigError> {
        self.flush_express();
        let total = flows.len().saturating_add(1);
        // Queue ids (2 per flow) stay below NIL.
        if total.saturating_mul(2) >= idx(NIL) {
            return Err(ConfigError::new(
                ErrorKind::LimitExceeded,
                Object::Adapter,
                Field::FlowCount,
                "too many flows",
            ));
        }
        let mut new_lines = Vec::new();
        let mut new_warm = Vec::new();
        let mut new_cold = Vec::new();
        let mut new_seq = Vec::new();
        let mut by_id: Vec<(FlowId, usize)> = Vec::new();
        let mut taken: Vec<bool> = Vec::new();
        let old_count = self.lines.len();
        new_lines
            .try_reserve_exact(total)
            .and_then(|()| new_warm.try_reserve_exact(total))
            .and_then(|()| new_cold.try_reserve_exact(total))
            .and_then(|()| new_seq.try_reserve_exact(total.saturating_mul(2)))
            .and_then(|()| by_id.try_reserve_exact(old_count))
            .and_then(|()| taken.try_reserve_exact(old_count))
            .and_then(|()| self.heap.try_reserve(total))
            .map_err(|_| alloc_error(Field::FlowCount))?;
        // Nothing below allocates or fails.
        self.maps = *maps;
        by_id.extend(
            self.cold
                .iter()
                .enumerate()
                .filter_map(|(j, f)| f.id.map(|id| (id, j))),
        );
        by_id.sort_unstable();
        taken.resize(old_count, false);
        let mut old_lines = mem::take(&mut self.lines);
        let mut old_warm = mem::take(&mut self.warm);
        let mut old_cold = mem::take(&mut self.cold);
        let mut old_seq = mem::take(&mut self.seq);
        let (placeholder, warm_placeholder) = unclassified_flow(now);
        let take_seq = |old_seq: &mut Vec<SeqQueue>, j: usize, k: usize| {
            j.checked_mul(2)
                .and_then(|q| q.checked_add(k))
                .and_then(|q| old_seq.get_mut(q))
                .map_or(SeqQueue::EMPTY, |sq| mem::replace(sq, SeqQueue::EMPTY))
        };
        // Takes old flow `j`'s line, warm and cold parts.
        let mut take_flow = |j: usize| {
            let line = old_lines.get_mut(j).map_or_else(
                || placeholder.clone(),
                |l| mem::replace(l, placeholder.clone()),
            );
            let warm = old_warm.get_mut(j).map_or_else(
                || warm_placeholder.clone(),
                |w| mem::replace(w, warm_placeholder.clone()),
            );
            let cold = old_cold
                .get_mut(j)
                .map_or_else(FlowCold::default, mem::take);
            (line, warm, cold)
        };
        let adapter = &mut self.stats.adapter;
        for &(id, ref spec) in flows {
            let mode = Mode::from(spec.effective_mode());
            let level = spec.level();
            let params = ConformerParams::from_spec(spec);
            let marks = FlowMarks::new(maps, spec);
            let old = by_id
                .binary_search_by(|&(i, _)| i.cmp(&id))
                .ok()
                .and_then(|k| by_id.get(k))
                .map(|&(_, j)| j)
                .filter(|&j| taken.get(j).is_some_and(|t| !t));
            let (mut line, mut warm, cold, mut seq0, seq1) = match old {
                Some(j) => {
                    if let Some(t) = taken.get_mut(j) {
                        *t = true;
                    }
                    let (mut line, mut warm, cold) = take_flow(j);
                    if line.mode != mode
                        || line.level != level
                        || line.conf.params(&warm.peak) != params
                    {
                        adapter.flows_modified = adapter.flows_modified.saturating_add(1);
                    }
                    // The conformer's clock is not moved to `now`: a late
                    // shaped head still conforms at its own time.
                    line.conf.set_params(&mut warm.peak, params);
                    line.has_peak = warm.peak.present();
                    line.mode = mode;
                    line.level = level;
                    line.marks = marks;
                    (
                        line,
                        warm,
                        cold,
                        take_seq(&mut old_seq, j, 0),
                        take_seq(&mut old_seq, j, 1),
                    )
                }
                None => {
                    adapter.flows_opened = adapter.flows_opened.saturating_add(1);
                    let (line, warm) = new_flow(mode, level, params, marks, now);
                    (
                        line,
                        warm,
                        FlowCold::new(Some(id)),
                        SeqQueue::EMPTY,
                        SeqQueue::EMPTY,
                    )
                }
            };
            if mode != Mode::Shape {
                self.slab.splice(&mut seq0.fifo, &mut warm.shaper);
                line.in_heap = false;
            }
            new_lines.push(line);
            new_warm.push(warm);
            new_cold.push(cold);
            new_seq.push(seq0);
            new_seq.push(seq1);
        }
        // The unclassified flow stays, and inherits removed flows' packets.
        let last = old_count.saturating_sub(1);
        let (mut unclassified, unclassified_warm, unclassified_cold) = take_flow(last);
        let mut u0 = take_seq(&mut old_seq, last, 0);
        let mut u1 = take_seq(&mut old_seq, last, 1);
        for (j, w) in old_warm.iter_mut().enumerate() {
            if j == last || taken.get(j).is_some_and(|&t| t) {
                continue;
            }
            adapter.flows_closed = adapter.flows_closed.saturating_add(1);
            let mut s0 = take_seq(&mut old_seq, j, 0);
            let mut s1 = take_seq(&mut old_seq, j, 1);
            self.slab.splice(&mut u0.fifo, &mut s0.fifo);
            self.slab.splice(&mut u0.fifo, &mut w.shaper);
            self.slab.splice(&mut u1.fifo, &mut s1.fifo);
        }
        unclassified.in_heap = false;
        new_lines.push(unclassified);
        new_warm.push(unclassified_warm);
        new_cold.push(unclassified_cold);
        new_seq.push(u0);
        new_seq.push(u1);
        adapter.max_simultaneous_flows = adapter
            .max_simultaneous_flows
            .max(u32::try_from(flows.len()).unwrap_or(u32::MAX));
        self.lines = new_lines;
        self.warm = new_warm;
        self.cold = new_cold;
        self.seq = new_seq;
        self.rebuild();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_is_taken_only_for_a_lone_packet() {
        let mut s: Scheduler<u32> = Scheduler::new(Limits::default()).unwrap();
        s.enqueue(0, None, 100, 1).unwrap();
        assert!(s.express.is_some());
        assert_eq!((s.held_packets(), s.packets_in_sequencer()), (1, 1));
        s.enqueue(0, None, 100, 2).unwrap();
        assert!(s.express.is_none());
        assert_eq!((s.held_packets(), s.packets_in_sequencer()), (2, 2));
        assert_eq!(s.dequeue(0).map(|r| r.pkt), Some(1));
        assert_eq!(s.dequeue(0).map(|r| r.pkt), Some(2));
        s.enqueue(0, None, 100, 3).unwrap();
        assert!(s.express.is_some());
        assert_eq!(s.dequeue(0).map(|r| r.pkt), Some(3));
        assert_eq!(s.held_packets(), 0);
        s.set_fast_path(false);
        s.enqueue(0, None, 100, 4).unwrap();
        assert!(s.express.is_none());
    }

    /// The line's 32-bit counters carry into the cold base: the sums stay
    /// exact past 2^32 packets and bytes, on the per-packet and the batch
    /// path, and transmitted = scheduled - pending stays right.
    #[test]
    fn low_counters_carry_into_the_base() {
        let limits = Limits {
            queue_packets: 8,
            queue_bytes: u64::MAX,
            max_outstanding: 1 << 20,
        };
        let mut s: Scheduler<u32> = Scheduler::new(limits).unwrap();
        let borrow = FlowSpec {
            token_rate: Some(1),
            bucket: 1,
            mode: Some(SdMode::Borrow),
            ..FlowSpec::best_effort("b")
        };
        s.reconfigure(0, &[(1, borrow)]).unwrap();
        let big = SendSize {
            ip_bytes: 4_000_000_000,
            largest_ip_packet: 4_000_000_000,
            packets: 1,
        };
        let lso = SendSize {
            ip_bytes: 3_000_000_000,
            largest_ip_packet: 1500,
            packets: 2_000_000,
        };
        let line = &mut s.lines[0];
        (line.packets, line.nc) = (u32::MAX - 1_000_000, u32::MAX - 1_000_000);
        for i in 0..3 {
            s.enqueue_sized(0, Some(0), big, i).unwrap();
            s.dequeue(0).unwrap();
        }
        let items = (0..3).map(|i| BatchItem {
            flow: Some(0),
            size: lso,
            pkt: 10 + i,
        });
        s.submit_batch(0, items, |_| ());
        let st = s.flow_stats(0).unwrap();
        let base = u64::from(u32::MAX - 1_000_000);
        assert_eq!(st.packets_scheduled, base + 3 + 6_000_000);
        assert_eq!(st.packets_transmitted, st.packets_scheduled);
        assert_eq!(st.bytes_scheduled, 12_000_000_000 + 9_000_000_000);
        assert_eq!(st.bytes_transmitted, st.bytes_scheduled);
        // The 1-byte bucket passed the first send only.
        assert_eq!(st.nonconforming_packets_scheduled, base + 2 + 6_000_000);
        assert_eq!(st.nonconforming_packets_transmitted, base + 2 + 6_000_000);
        s.clear_stats();
        assert_eq!(s.flow_stats(0).unwrap(), FlowStats::default());
    }

    #[test]
    fn flow_line_is_one_cache_line() {
        assert_eq!(mem::size_of::<crate::psched::Conformer>(), 64);
        assert_eq!(mem::size_of::<ConformerHead>(), 40);
        assert_eq!(mem::size_of::<FlowLine>(), 64);
        assert_eq!(mem::align_of::<FlowLine>(), 64);
    }
}
