//! The per-adapter scheduler: conformer, shaper and sequencer over one slab.
//! See the module documentation of [`super`] for the behaviour.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;
use core::mem;

use super::conformer::{Conformer, ConformerParams, Verdict};
use super::send_size::SendSize;
use super::slab::{Fifo, NIL, Slab};
use super::stats::{AdapterStats, Ewma, FlowStats, SequencerStats, ShaperStats};
use super::{DropReason, Limits, Released, validate_limits};
use crate::error::{ConfigError, ErrorKind, Field, Object};
use crate::flow::{FlowSpec, Level, SdMode};
use crate::gpc::FlowId;
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

/// The counters every packet touches.
#[derive(Debug, Clone, Copy, Default)]
struct HotCounters {
    packets_scheduled: u64,
    bytes_scheduled: u64,
    packets_transmitted: u64,
    bytes_transmitted: u64,
}

/// What the per-packet path keeps of one flow: a 128-byte, 64-byte aligned
/// entry. Line 0 is the conformer; line 1 the counters every packet
/// touches, the mode and level, and the shaper queue. With 10,000 flows the
/// array is 1.28 MB and stays in a 2 MB L2; everything else about a flow
/// (id, drops) is in [`FlowCold`], its non-conforming counters in [`NcCounters`].
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct FlowState {
    conformer: Conformer,
    hot: HotCounters,
    mode: Mode,
    level: Level,
    in_heap: bool,
    /// MaxPacketsInShaper of this flow (kept here: every shaped packet
    /// updates it).
    max_in_shaper: u32,
    shaper: Fifo,
}

impl FlowState {
    fn new(mode: Mode, level: Level, params: ConformerParams, now: Ticks) -> Self {
        Self {
            mode,
            level,
            conformer: Conformer::new(params, now),
            shaper: Fifo::EMPTY,
            hot: HotCounters::default(),
            in_heap: false,
            max_in_shaper: 0,
        }
    }

    fn unclassified(now: Ticks) -> Self {
        Self::new(
            Mode::BorrowPlus,
            Level::BestEffort,
            ConformerParams::unlimited(),
            now,
        )
    }
}

/// [`SdMode`] in one byte (`SdMode` itself has qos.h's 32-bit values), so
/// that [`FlowState`] stays two cache lines.
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
/// its id and its drop counters (its non-conforming counters are in the
/// dense [`NcCounters`] array).
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
struct FlowCold {
    /// Everything but the [`HotCounters`] fields, the non-conforming
    /// counters and `max_packets_in_shaper` (those stay 0 here).
    stats: FlowStats,
    /// `None` for the implicit flow of unclassified packets.
    id: Option<FlowId>,
}

impl FlowCold {
    fn new(id: Option<FlowId>) -> Self {
        Self {
            stats: FlowStats::default(),
            id,
        }
    }

    fn count_drop(&mut self, reason: DropReason, packets: u64) {
        self.stats.dropped_packets = self.stats.dropped_packets.saturating_add(packets);
        self.stats.drops.count_n(reason, packets);
    }
}

/// A flow's non-conforming counters: in a dense array of their own (16
/// bytes a flow: 160 KB for 10,000 flows stays in L2 beside the hot
/// entries), since about half the packets of a policed flow over its rate
/// add to them.
#[derive(Debug, Clone, Copy, Default)]
struct NcCounters {
    scheduled: u64,
    transmitted: u64,
}

/// A flow's statistics: its cold counters with the hot and non-conforming
/// ones merged in.
fn merged(hot: &FlowState, cold: &FlowCold, nc: &NcCounters) -> FlowStats {
    FlowStats {
        nonconforming_packets_scheduled: nc.scheduled,
        nonconforming_packets_transmitted: nc.transmitted,
        packets_scheduled: hot.hot.packets_scheduled,
        bytes_scheduled: hot.hot.bytes_scheduled,
        packets_transmitted: hot.hot.packets_transmitted,
        bytes_transmitted: hot.hot.bytes_transmitted,
        max_packets_in_shaper: hot.max_in_shaper,
        ..cold.stats
    }
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
    /// Configured flows in snapshot order, then the unclassified flow.
    flows: Vec<FlowState>,
    /// The same flows' cold part (same indexes, same length).
    cold: Vec<FlowCold>,
    /// The same flows' non-conforming counters (same indexes, same length).
    nc: Vec<NcCounters>,
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
        let mut flows = Vec::new();
        let mut cold = Vec::new();
        let mut nc = Vec::new();
        let mut seq = Vec::new();
        let mut heap = BinaryHeap::new();
        flows
            .try_reserve_exact(1)
            .and_then(|()| cold.try_reserve_exact(1))
            .and_then(|()| nc.try_reserve_exact(1))
            .and_then(|()| seq.try_reserve_exact(2))
            .and_then(|()| heap.try_reserve_exact(1))
            .map_err(|_| alloc_error(Field::FlowCount))?;
        flows.push(FlowState::unclassified(0));
        cold.push(FlowCold::new(None));
        nc.push(NcCounters::default());
        seq.push(SeqQueue::EMPTY);
        seq.push(SeqQueue::EMPTY);
        Ok(Self {
            limits,
            quantum: DEFAULT_QUANTUM,
            flow_cap_packets: (limits.queue_packets / 2).max(1),
            flow_cap_bytes: (limits.queue_bytes / 2).max(1),
            slab,
            flows,
            cold,
            nc,
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
        self.flows.len().saturating_sub(1)
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
        self.flow_stats_at(self.flows.len().saturating_sub(1))
            .unwrap_or_default()
    }

    fn flow_stats_at(&self, index: usize) -> Option<FlowStats> {
        Some(merged(
            self.flows.get(index)?,
            self.cold.get(index)?,
            self.nc.get(index)?,
        ))
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
        self.nc.fill(NcCounters::default());
        for (f, c) in self.flows.iter_mut().zip(self.cold.iter_mut()) {
            c.stats = FlowStats::default();
            f.hot = HotCounters::default();
            f.max_in_shaper = f.shaper.len();
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
        self.enqueue_one(now, flow, SendSize::single(ip_bytes), pkt)
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
        self.enqueue_one(now, flow, size.normalized(), pkt)
    }

    /// [`Self::enqueue_sized`] of a normalized size. Always inlined: with
    /// `submit_batch` as a third caller LLVM stopped inlining it into
    /// `enqueue` (+4 instructions per policed packet, +18 per shaped one).
    #[inline(always)]
    fn enqueue_one(
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
        let unclassified = self.flows.len().saturating_sub(1);
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
            self.admit(f, now, &size)
        };
        let packets = u64::from(size.packets);
        let dest = match dest {
            Ok(d) => d,
            Err(reason) => return Err((pkt, self.count_drop(f, reason, packets))),
        };
        let Some(fs) = self.flows.get_mut(f) else {
            return Err((pkt, DropReason::QueuePackets));
        };
        // Counted first: the push below cannot fail (a slot is free).
        let hot = &mut fs.hot;
        hot.packets_scheduled = hot.packets_scheduled.saturating_add(packets);
        hot.bytes_scheduled = hot.bytes_scheduled.saturating_add(bytes64);
        self.held_bytes = self.held_bytes.saturating_add(bytes64);
        match dest {
            Dest::Shaper(deadline) => {
                if let Err(pkt) = self.slab.push_back(&mut fs.shaper, pkt, size) {
                    return Err((pkt, DropReason::QueuePackets));
                }
                fs.max_in_shaper = fs.max_in_shaper.max(fs.shaper.len());
                if let Some(t) = deadline {
                    fs.in_heap = true;
                    self.heap
                        .push(Reverse((t, u32::try_from(f).unwrap_or(NIL))));
                }
                self.in_shaper = self.in_shaper.saturating_add(1);
                self.note_shaper();
            }
            Dest::Seq { nonconforming } => {
                let level = if nonconforming {
                    if let Some(c) = self.nc.get_mut(f) {
                        c.scheduled = c.scheduled.saturating_add(packets);
                    }
                    Level::NonConforming
                } else {
                    fs.level
                };
                let qid = u32::try_from(f)
                    .ok()
                    .and_then(|f| f.checked_mul(2))
                    .map_or(NIL, |q| q | u32::from(nonconforming));
                // The slab has a free slot (checked above) and nothing is in
                // the sequencer: keep the packet aside.
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
                if let Err(pkt) = self.seq_push(qid, level, pkt, size) {
                    return Err((pkt, DropReason::QueuePackets));
                }
            }
        }
        Ok(())
    }

    /// Runs the conformer and the mode of flow `f` on a packet: where it goes,
    /// or why it is dropped.
    #[inline]
    fn admit(&mut self, f: usize, now: Ticks, size: &SendSize) -> Result<Dest, DropReason> {
        let (cap_packets, cap_bytes) = (self.flow_cap_packets, self.flow_cap_bytes);
        let ip_bytes = size.ip_bytes;
        let fs = self.flows.get_mut(f).ok_or(DropReason::QueuePackets)?;
        let c = &mut fs.conformer;
        match fs.mode {
            Mode::Shape => {
                if c.is_oversize(size.largest_ip_packet) {
                    return Err(DropReason::OverMaxSdu);
                }
                let fits = fs.shaper.len() < cap_packets
                    && fs.shaper.bytes().saturating_add(u64::from(ip_bytes)) <= cap_bytes;
                if !fs.shaper.is_empty() {
                    // FIFO: behind the packets already waiting.
                    return if fits {
                        Ok(Dest::Shaper(None))
                    } else {
                        Err(DropReason::FlowQueue)
                    };
                }
                c.advance(now);
                if c.fits_now(size) {
                    c.consume_sized(size);
                    return Ok(Dest::Seq {
                        nonconforming: false,
                    });
                }
                match c.earliest_sized(size) {
                    Verdict::At(t) if fits => Ok(Dest::Shaper(Some(t))),
                    Verdict::At(_) => Err(DropReason::FlowQueue),
                    Verdict::Never => Err(DropReason::OverMaxSdu),
                }
            }
            Mode::Borrow => Ok(Dest::Seq {
                nonconforming: !c.police_sized(now, size),
            }),
            Mode::Discard => {
                if c.is_oversize(size.largest_ip_packet) {
                    Err(DropReason::OverMaxSdu)
                } else if c.police_sized(now, size) {
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
            self.flows
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
                    if let Some(fs) = self.flows.get_mut(idx(f)) {
                        fs.in_heap = false;
                    }
                }
            }
        }
    }

    /// Releases the head of flow `f`'s shaper at its deadline `t`; returns
    /// the next head's deadline (`None`: shaper empty).
    fn release_head(&mut self, f: usize, t: Ticks) -> Option<Ticks> {
        let fs = self.flows.get_mut(f)?;
        fs.conformer.advance(t);
        let size = self.slab.front_size(&fs.shaper)?;
        // `fits_now` first: it is the usual answer and needs no division.
        let conforming = if fs.conformer.fits_now(&size) {
            fs.conformer.consume_sized(&size);
            true
        } else {
            match fs.conformer.earliest_sized(&size) {
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
        self.slab.move_front(&mut fs.shaper, &mut sq.fifo)?;
        let next =
            self.slab
                .front_size(&fs.shaper)
                .map(|b| match fs.conformer.earliest_sized(&b) {
                    Verdict::At(t3) => t3,
                    Verdict::Never => fs.conformer.last(),
                });
        let level = if conforming {
            fs.level
        } else {
            if let Some(c) = self.nc.get_mut(f) {
                c.scheduled = c.scheduled.saturating_add(u64::from(size.packets));
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
        let (pkt, size, qid) = if self.express.is_some() {
            let e = self.express.take()?;
            (e.pkt, e.size, e.qid)
        } else {
            self.seq_pop()?
        };
        Some(self.hand_out(pkt, size, qid))
    }

    /// The accounting of a packet leaving the sequencer from queue `qid`
    /// (`dequeue`).
    #[inline]
    fn hand_out(&mut self, pkt: P, size: SendSize, qid: u32) -> Released<P> {
        let (bytes, packets) = (size.ip_bytes, u64::from(size.packets));
        let f = idx(qid >> 1);
        let conforming = qid & 1 == 0;
        self.in_sequencer = self.in_sequencer.saturating_sub(1);
        self.held_bytes = self.held_bytes.saturating_sub(u64::from(bytes));
        self.outstanding = self.outstanding.saturating_add(1);
        if let Some(fs) = self.flows.get_mut(f) {
            let h = &mut fs.hot;
            h.packets_transmitted = h.packets_transmitted.saturating_add(packets);
            h.bytes_transmitted = h.bytes_transmitted.saturating_add(u64::from(bytes));
        }
        if !conforming {
            if let Some(c) = self.nc.get_mut(f) {
                c.transmitted = c.transmitted.saturating_add(packets);
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
                    self.flows
                        .get(qid >> 1)
                        .map_or(Level::BestEffort, |fs| fs.level)
                };
                if ql == level {
                    self.slab.extract_if(&mut sq.fifo, &mut pred, &mut out);
                }
            }
        }
        for fs in &mut self.flows {
            self.slab.extract_if(&mut fs.shaper, &mut pred, &mut out);
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
        for (f, fs) in self.flows.iter_mut().enumerate() {
            in_shaper = in_shaper.saturating_add(fs.shaper.len());
            fs.in_heap = false;
            if let Some(size) = self.slab.front_size(&fs.shaper) {
                let t = match fs.conformer.earliest_sized(&size) {
                    Verdict::At(t) => t,
                    Verdict::Never => fs.conformer.last(),
                };
                fs.in_heap = true;
                self.heap
                    .push(Reverse((t, u32::try_from(f).unwrap_or(NIL))));
            }
        }
        self.in_shaper = in_shaper;
        self.in_sequencer = in_sequencer;
        self.note_shaper();
        self.note_sequencer();
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
        let mut new_flows = Vec::new();
        let mut new_cold = Vec::new();
        let mut new_nc = Vec::new();
        let mut new_seq = Vec::new();
        let mut by_id: Vec<(FlowId, usize)> = Vec::new();
        let mut taken: Vec<bool> = Vec::new();
        let old_count = self.flows.len();
        new_flows
            .try_reserve_exact(total)
            .and_then(|()| new_cold.try_reserve_exact(total))
            .and_then(|()| new_nc.try_reserve_exact(total))
            .and_then(|()| new_seq.try_reserve_exact(total.saturating_mul(2)))
            .and_then(|()| by_id.try_reserve_exact(old_count))
            .and_then(|()| taken.try_reserve_exact(old_count))
            .and_then(|()| self.heap.try_reserve(total))
            .map_err(|_| alloc_error(Field::FlowCount))?;
        // Nothing below allocates or fails.
        by_id.extend(
            self.cold
                .iter()
                .enumerate()
                .filter_map(|(j, f)| f.id.map(|id| (id, j))),
        );
        by_id.sort_unstable();
        taken.resize(old_count, false);
        let mut old_flows = mem::take(&mut self.flows);
        let mut old_cold = mem::take(&mut self.cold);
        let old_nc = mem::take(&mut self.nc);
        let mut old_seq = mem::take(&mut self.seq);
        let placeholder = FlowState::unclassified(now);
        let take_seq = |old_seq: &mut Vec<SeqQueue>, j: usize, k: usize| {
            j.checked_mul(2)
                .and_then(|q| q.checked_add(k))
                .and_then(|q| old_seq.get_mut(q))
                .map_or(SeqQueue::EMPTY, |sq| mem::replace(sq, SeqQueue::EMPTY))
        };
        let adapter = &mut self.stats.adapter;
        for &(id, ref spec) in flows {
            let mode = Mode::from(spec.effective_mode());
            let level = spec.level();
            let params = ConformerParams::from_spec(spec);
            let old = by_id
                .binary_search_by(|&(i, _)| i.cmp(&id))
                .ok()
                .and_then(|k| by_id.get(k))
                .map(|&(_, j)| j)
                .filter(|&j| taken.get(j).is_some_and(|t| !t));
            new_nc.push(old.and_then(|j| old_nc.get(j)).copied().unwrap_or_default());
            let (state, cold, mut seq0, seq1) = match old {
                Some(j) => {
                    if let Some(t) = taken.get_mut(j) {
                        *t = true;
                    }
                    let mut st = old_flows.get_mut(j).map_or_else(
                        || placeholder.clone(),
                        |s| mem::replace(s, placeholder.clone()),
                    );
                    if st.mode != mode || st.level != level || st.conformer.params() != params {
                        adapter.flows_modified = adapter.flows_modified.saturating_add(1);
                    }
                    // The conformer's clock is not moved to `now`: a late
                    // shaped head still conforms at its own time.
                    st.conformer.set_params(params);
                    st.mode = mode;
                    st.level = level;
                    let cold = old_cold
                        .get_mut(j)
                        .map_or_else(FlowCold::default, mem::take);
                    (
                        st,
                        cold,
                        take_seq(&mut old_seq, j, 0),
                        take_seq(&mut old_seq, j, 1),
                    )
                }
                None => {
                    adapter.flows_opened = adapter.flows_opened.saturating_add(1);
                    (
                        FlowState::new(mode, level, params, now),
                        FlowCold::new(Some(id)),
                        SeqQueue::EMPTY,
                        SeqQueue::EMPTY,
                    )
                }
            };
            let mut state = state;
            if mode != Mode::Shape {
                self.slab.splice(&mut seq0.fifo, &mut state.shaper);
            }
            new_flows.push(state);
            new_cold.push(cold);
            new_seq.push(seq0);
            new_seq.push(seq1);
        }
        // The unclassified flow stays, and inherits removed flows' packets.
        let last = old_count.saturating_sub(1);
        let mut unclassified = old_flows.get_mut(last).map_or_else(
            || placeholder.clone(),
            |s| mem::replace(s, placeholder.clone()),
        );
        let unclassified_cold = old_cold
            .get_mut(last)
            .map_or_else(FlowCold::default, mem::take);
        let mut u0 = take_seq(&mut old_seq, last, 0);
        let mut u1 = take_seq(&mut old_seq, last, 1);
        for (j, st) in old_flows.iter_mut().enumerate() {
            if j == last || taken.get(j).is_some_and(|&t| t) {
                continue;
            }
            adapter.flows_closed = adapter.flows_closed.saturating_add(1);
            let mut s0 = take_seq(&mut old_seq, j, 0);
            let mut s1 = take_seq(&mut old_seq, j, 1);
            self.slab.splice(&mut u0.fifo, &mut s0.fifo);
            self.slab.splice(&mut u0.fifo, &mut st.shaper);
            self.slab.splice(&mut u1.fifo, &mut s1.fifo);
        }
        unclassified.in_heap = false;
        new_flows.push(unclassified);
        new_cold.push(unclassified_cold);
        new_nc.push(old_nc.get(last).copied().unwrap_or_default());
        new_seq.push(u0);
        new_seq.push(u1);
        adapter.max_simultaneous_flows = adapter
            .max_simultaneous_flows
            .max(u32::try_from(flows.len()).unwrap_or(u32::MAX));
        self.flows = new_flows;
        self.cold = new_cold;
        self.nc = new_nc;
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

    #[test]
    fn flow_state_is_two_cache_lines() {
        assert_eq!(mem::size_of::<Conformer>(), 64);
        assert_eq!(mem::size_of::<FlowState>(), 128);
        assert_eq!(mem::align_of::<FlowState>(), 64);
        assert_eq!(mem::offset_of!(FlowState, hot), 64);
        assert!(mem::offset_of!(FlowState, shaper) + mem::size_of::<Fifo>() <= 128);
        // Four flows' non-conforming counters to a line.
        assert_eq!(mem::size_of::<NcCounters>(), 16);
    }
}
