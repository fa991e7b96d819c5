//! The packet scheduler: conformer (token bucket + peak), shaper (per-flow
//! queues released by time), sequencer (strict priority between levels,
//! deficit round robin inside a level, bounded outstanding sends).
//!
//! One [`Scheduler`] per adapter. Time is passed in ([`crate::time::Ticks`], 100 ns); the
//! scheduler never reads a clock and never paces to the link speed.
//!
//! # Pipeline
//! `enqueue(now, flow, ip_bytes, pkt)`:
//! 1. **Limits.** All packets held (shaper + sequencer) live in one slab
//!    sized at creation ([`Limits::queue_packets`]); no allocation per packet.
//!    A packet that finds no free slot, or would exceed
//!    [`Limits::queue_bytes`], is dropped (returned with its
//!    [`DropReason`], counted).
//! 2. **Conformer** ([`conformer`]): IP-layer bytes, token bucket at the
//!    token rate up to the bucket size, peak bucket when a peak is given,
//!    MinimumPolicedSize, MaxSduSize.
//! 3. **Mode** ([`crate::flow::FlowSpec::effective_mode`]):
//!    - *Shape*: a packet that does not conform waits in the flow's FIFO
//!      shaper queue until it does, then is sent conforming. One flow's
//!      shaper queue may use at most half of the adapter's packet and byte
//!      limits, so a slow shaped flow cannot take every slot (drop reason
//!      `FlowQueue`). A packet over MaxSduSize can never conform: dropped
//!      (`OverMaxSdu`).
//!    - *Borrow*: sent now; if it does not conform it is marked
//!      non-conforming (`Released::conforming == false`) and sequenced below
//!      best effort. Conforming packets consume tokens; non-conforming ones
//!      do not. Packets over MaxSduSize are non-conforming.
//!    - *Discard*: a non-conforming packet is dropped (`Nonconforming`,
//!      `OverMaxSdu`).
//!    - *BorrowPlus*: never non-conforming; always sent at the flow's level.
//!    - Unclassified packets (`flow == None`) are best effort, never shaped.
//! 4. **Sequencer**: levels in [`Level`] order, strict priority; inside a
//!    level, deficit round robin between flows (quantum [`DEFAULT_QUANTUM`]
//!    bytes, settable; byte-fair within one quantum per round). Each flow has
//!    one sequencer queue at its level and one in the non-conforming level,
//!    so a borrowing flow's demoted packets may be overtaken by its
//!    conforming ones. At most [`Limits::max_outstanding`] packets are handed
//!    out without `send_completed` (Psched's MaxOutstandingSends): beyond it
//!    packets wait in the sequencer, where priority takes effect.
//!
//! # Segmented sends (LSO)
//! A large send offload super-packet is one send for the scheduler (one
//! slot, released whole, one outstanding send) but several IP packets on the
//! wire. `enqueue_sized(now, flow, size, pkt)` takes its [`SendSize`]
//! (`ip_bytes` summed over the segments with their headers, the largest IP
//! packet, the number of packets; [`SendSize::tcp_lso`] computes it from the
//! frame length, IP offset, header length and MSS). MaxSduSize is checked
//! against the largest IP packet, MinimumPolicedSize applies per packet
//! (charge `max(ip_bytes, packets * min_policed)`), rates and limits count
//! `ip_bytes`, and packet statistics count IP packets (see
//! [`Scheduler::enqueue_sized`]). `enqueue(now, flow, ip_bytes, pkt)` is one
//! packet: `enqueue_sized` with [`SendSize::single`].
//!
//! # Shaper timing
//! Shaped flows whose head waits are kept in a binary min-heap keyed by the
//! head's conformance time, one entry per flow: releasing `k` due packets
//! costs O(k log n) for `n` waiting flows, and `next_event()` (the heap's
//! minimum) tells the driver when to arm its single per-adapter timer.
//! Packets whose flow is not waiting never touch the heap.
//!
//! **Lateness.** A due packet is charged at its own conformance time, not at
//! the (later) time `dequeue` is called, and the next head's deadline follows
//! from that. A timer that fires late (coarse 1 ms or 15.6 ms ticks) therefore
//! loses no rate; the burst a release `L` ticks late makes is at most what
//! conformed over those `L` ticks: `bucket + rate * L` bytes (tested in
//! `tests/psched_shaper.rs`).
//!
//! # Driving it (one adapter, under the adapter's lock)
//! - [`Scheduler::new`] once (allocates every packet slot), then
//!   [`Scheduler::reconfigure`] with the snapshot's `(FlowId, FlowSpec)`
//!   list, in the order whose indexes the classifier returns; call it under
//!   the same lock that swaps the snapshot, so that `Released::flow` always
//!   indexes the snapshot used to mark.
//! - Send path: `enqueue(now, flow, ip_bytes, pkt)` (or `enqueue_sized` for
//!   an LSO send); a refused packet comes back with its [`DropReason`]
//!   (complete it with a failure status).
//! - Then `dequeue(now)` until `None`, sending each [`Released`] packet
//!   (marked per `flow` and `conforming`); `send_completed(n)` on every send
//!   completion, followed by `dequeue` again; arm the adapter's one timer at
//!   `next_event()` and call `dequeue` when it fires (late is fine).
//! - Pause: `drain`; cancel by id: `remove_if`.
//! - A chain of sends (an NBL chain) may go in one call instead:
//!   [`Scheduler::submit_batch`] with an iterator of [`BatchItem`]s does for
//!   each exactly `enqueue_sized` + one `dequeue`, reporting a
//!   [`Submitted`] (released or refused) per outcome, at a fraction of the
//!   per-call cost while the scheduler is idle (see "Per-packet cost").
//!
//! # Statistics
//! [`stats`]: ntddpsch.h's counters for the adapter, each flow, the shaper and
//! the sequencer, drops per reason, integer EWMA averages. Counters are
//! exact and updated as packets pass (plain saturating adds); the adapter's
//! averages are sampled once per [`AVERAGE_EVERY`] packets handed out, not
//! per packet. A flow's queue figures (most and average packets in its
//! shaper queue and in the sequencer, [`FlowStats`]) are sampled at its own
//! arrivals on the general path only; sends handed straight back take
//! their (known) samples later, from the flow's scheduled counter. The
//! netcard figures exist per adapter only.
//!
//! # Per-packet cost
//! What keeps a packet cheap (issue 3's goal; figures in the bench and
//! `examples/psched_cost.rs`):
//! - **Fast path.** A packet that enters an empty sequencer is kept aside
//!   instead of being linked into its DRR queue and level list, and the
//!   next `dequeue` hands it out directly; anything that would make the
//!   difference visible (another packet entering the sequencer, a shaped
//!   packet falling due, a cancel, drain, reconfiguration or quantum change)
//!   first puts it where the plain path would have. Observable behaviour is
//!   identical ([`Scheduler::set_fast_path`] turns it off; a differential
//!   property test compares both on random operation sequences).
//! - **One cache line per flow.** Everything a packet of a flow without a
//!   peak rate reads or writes on its way through an idle scheduler is in
//!   the flow's 64-byte line: the conformer's token bucket and clock,
//!   MinimumPolicedSize and MaxSduSize, the low 32 bits of its scheduled
//!   packets, bytes and non-conforming packets (carried into 64-bit bases
//!   elsewhere when they wrap), its marks ([`crate::mark::FlowMarks`],
//!   decided at configuration), mode and level. Transmitted counters are
//!   not counted per packet: they are scheduled minus *pending*, a count
//!   kept only for packets that wait in a queue. The peak bucket, the
//!   shaper queue and the pending counts are in a second array, the id and
//!   drops in a third. 10,000 flows take 640 KB of lines; a policed packet
//!   at 10,000 flows misses L1 about once (callgrind's model, 48 KiB D1),
//!   from about 3.4 times with the state over two lines and two arrays.
//! - **Marks with the packet.** [`Scheduler::reconfigure_marked`] takes the
//!   adapter's mapping tables; [`Scheduler::submit_batch_marked`] and
//!   [`Scheduler::dequeue_marked`] then give each released packet its marks
//!   from the line it already read.
//! - **Slots stay 24 bytes** for a pointer-sized handle: a segmented send's
//!   largest packet and packet count live in a side table, flagged in the
//!   slot's link.
//! - **Batches.** `submit_batch` runs each send of a chain through a short
//!   path while the sequencer is empty, no shaped packet is due and the
//!   outstanding bound has room: flow lookup, conformer, mode, counters in
//!   the line, emission. Nothing on that path branches on whether a send
//!   conforms (the charge is taken and the counters added through masks),
//!   so a misprediction does not flush the processor's window and it runs
//!   ahead into the next sends' lines by itself: their misses overlap the
//!   current send's work without a touch-ahead.
//!   Anything else (a shaped send that must wait, the bound reached, a
//!   queue non-empty) takes `enqueue_sized` + `dequeue` for that send;
//!   results and statistics are identical (differential property test).
//! - **No division on the way through**: policing and the release of a
//!   shaped head test the buckets directly; only scheduling a wait (the
//!   next shaped head's deadline) divides.
//!
//! Not done: shaped flows still wait in a binary heap (O(log n) per
//! release); a timing wheel would make that flat in the number of flows.

pub mod conformer;
mod scheduler;
pub mod send_size;
mod slab;
pub mod stats;

pub use conformer::{Conformer, ConformerParams, Verdict};
pub use scheduler::{
    AVERAGE_EVERY, BatchItem, DEFAULT_QUANTUM, MIN_QUANTUM, Scheduler, SchedulerStats, Submitted,
};
pub use send_size::SendSize;
pub use stats::{AdapterStats, DropCounts, FlowStats, SequencerStats, ShaperStats};

use crate::error::{ConfigError, ErrorKind, Field, Object};
pub use crate::flow::Level;

/// Largest `queue_packets` accepted (16 Mi slots).
pub const MAX_QUEUE_PACKETS: u32 = 1 << 24;

/// Per-adapter scheduler limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Packets the scheduler may hold (shaper + sequencer); the slab size.
    pub queue_packets: u32,
    /// IP bytes the scheduler may hold.
    pub queue_bytes: u64,
    /// Packets handed to the miniport and not yet completed
    /// (MaxOutstandingSends).
    pub max_outstanding: u32,
}

impl Default for Limits {
    /// 4096 packets, 8 MiB, and Psched's registry default of 65535
    /// outstanding sends (set it lower, e.g. a few packets, for priorities to
    /// take effect on a fast NIC queue).
    fn default() -> Self {
        Self {
            queue_packets: 4096,
            queue_bytes: 8 << 20,
            max_outstanding: 65535,
        }
    }
}

/// Checks scheduler limits: `queue_packets` in 1..=[`MAX_QUEUE_PACKETS`],
/// `queue_bytes` >= 1, `max_outstanding` >= 1.
///
/// # Errors
/// `InvalidValue` naming the field.
pub fn validate_limits(l: &Limits) -> Result<(), ConfigError> {
    let err = |field, rule| {
        Err(ConfigError::new(
            ErrorKind::InvalidValue,
            Object::AdapterOptions,
            field,
            rule,
        ))
    };
    if l.queue_packets == 0 || l.queue_packets > MAX_QUEUE_PACKETS {
        return err(Field::QueuePackets, "must be 1..=16777216");
    }
    if l.queue_bytes == 0 {
        return err(Field::QueueBytes, "must be > 0");
    }
    if l.max_outstanding == 0 {
        return err(Field::MaxOutstandingSends, "must be > 0");
    }
    Ok(())
}

/// Why `enqueue` refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Every packet slot of the adapter is in use (OutOfPackets).
    QueuePackets,
    /// The adapter's byte limit would be exceeded.
    QueueBytes,
    /// The flow's shaper queue holds its share (half the adapter's limits).
    FlowQueue,
    /// Discard mode: the packet does not conform.
    Nonconforming,
    /// Shape or discard mode: the packet exceeds MaxSduSize.
    OverMaxSdu,
}

/// A packet `dequeue` hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released<P> {
    /// The packet.
    pub pkt: P,
    /// Its flow's index in the current configuration; `None` for
    /// unclassified packets and packets of flows removed since.
    pub flow: Option<usize>,
    /// False if the packet is non-conforming (mark it with the
    /// non-conforming marks).
    pub conforming: bool,
}
