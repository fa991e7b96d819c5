//! The engine side of one filter module: the published configuration, the
//! scheduler holding NBLs, and the marking of released NBLs.
//!
//! Everything here runs under the module's spin lock, so it never blocks
//! and never allocates per packet (the scheduler's slots are allocated when
//! a configuration is published).
//!
//! One NBL = one scheduling unit: it is classified on its first
//! NET_BUFFER and the whole NBL (every NET_BUFFER, e.g. the segments of a
//! TCP send or an LSO super-packet) follows that one flow and gets the same
//! marks. NDIS stacks put one connection's segments in one NBL, so this
//! matches per-packet classification in practice and keeps the cost per
//! NBL.
//!
//! The scheduler is told the NBL's size on the wire ([`SendSize`]): each
//! NET_BUFFER is one IP packet, except in a TCP large send (LSO V1 or V2:
//! an MSS in TcpLargeSendNetBufferListInfo), where the NIC cuts each
//! NET_BUFFER into MSS-sized segments that each carry a copy of the IP and
//! TCP headers. So MaxSduSize is checked against the largest IP packet that
//! reaches the wire (not against a 64 KB super-packet), and rates and byte
//! statistics count every segment's headers.

use crate::ffi::types::{
    IEEE_8021Q_NET_BUFFER_LIST_INFO, LSO_MSS_MASK, LSO_TCP_HEADER_OFFSET_MASK,
    LSO_TCP_HEADER_OFFSET_SHIFT, NDIS_PORT_NUMBER, NDIS_STATUS, NDIS_STATUS_FAILURE,
    NDIS_STATUS_RESOURCES, TCP_LARGE_SEND_NET_BUFFER_LIST_INFO,
};
use crate::nbl::{MAX_SEGMENTS, Nb, Nbl, NblQueue};
use alloc::sync::Arc;
use alloc::vec::Vec;
use qos_engine::error::{ConfigError, ErrorKind, Field, Object};
use qos_engine::flow::FlowSpec;
use qos_engine::gpc::{Classifier, Filter, FlowId};
use qos_engine::mark::{
    Ieee8021QInfo, MarkError, MarkMaps, Marks, apply, reset_dscp, rewrite_dscp_one,
};
use qos_engine::packet::{Family, FlowKey, Framing, MarkOffsets, Unclassifiable, ip_proto, parse};
use qos_engine::psched::{
    BatchItem, DropReason, Limits, Released, Scheduler, SchedulerStats, SendSize, Submitted,
};
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
        let cap = self.runs.len();
        // Join the last run when it matches (the common case), else open a
        // new run; past four runs, everything joins the last one (the send
        // flags of held NBLs differ only in hints).
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

/// What the datapath needs of a compiled, immutable adapter configuration.
/// Implemented by [`DatapathConfig`] and by the control plane's snapshot;
/// published to a module as an `Arc<dyn Policy>` (a pointer swap under the
/// module lock).
pub trait Policy: Send + Sync + core::fmt::Debug {
    /// Flows in dense order: index `i` is the scheduler's flow `i`.
    fn flows(&self) -> &[(FlowId, FlowSpec)];
    /// The dense index of a packet's flow; `None`: unclassified.
    fn classify(&self, key: &FlowKey) -> Option<usize>;
    /// DSCP / 802.1p mapping tables.
    fn maps(&self) -> &MarkMaps;
    /// Scheduler limits.
    fn limits(&self) -> Limits;
    /// "DSCP marking override = ignore": reset the DSCP of packets no flow
    /// marks.
    fn reset_unmarked_dscp(&self) -> bool {
        false
    }
}

/// A configuration built from parts (tests, benchmarks): flows
/// in dense order, a classifier whose filters name flows by their dense
/// index, the mapping tables and the scheduler limits. Immutable; published
/// to a module as an `Arc` (a pointer swap under the module lock).
#[derive(Debug)]
pub struct DatapathConfig {
    /// Flows; a filter's `flow` is an index into this list.
    pub flows: Vec<(FlowId, FlowSpec)>,
    /// The classifier over filters with dense flow indexes.
    pub classifier: Classifier,
    /// DSCP / 802.1p mapping tables.
    pub maps: MarkMaps,
    /// Scheduler limits (slots, bytes, outstanding sends).
    pub limits: Limits,
}

impl Policy for DatapathConfig {
    fn flows(&self) -> &[(FlowId, FlowSpec)] {
        &self.flows
    }
    fn classify(&self, key: &FlowKey) -> Option<usize> {
        self.classifier
            .classify(key)
            .and_then(|f| usize::try_from(f.flow).ok())
    }
    fn maps(&self) -> &MarkMaps {
        &self.maps
    }
    fn limits(&self) -> Limits {
        self.limits
    }
}

impl DatapathConfig {
    /// Compile `filters` (whose `flow` is a [`FlowId`] of `flows`) for the
    /// datapath.
    ///
    /// # Errors
    /// A filter naming no flow (`UnknownFlow` on the filter's flow field),
    /// or the classifier's own validation error.
    pub fn new(
        flows: Vec<(FlowId, FlowSpec)>,
        filters: &[Filter],
        maps: MarkMaps,
        limits: Limits,
    ) -> Result<Self, ConfigError> {
        let mut dense = Vec::new();
        dense
            .try_reserve_exact(filters.len())
            .map_err(|_| too_many())?;
        for f in filters {
            let Some(i) = flows.iter().position(|(id, _)| *id == f.flow) else {
                return Err(ConfigError::new(
                    ErrorKind::UnknownFlow,
                    Object::Filter(f.id),
                    Field::FilterFlow,
                    "names a flow that does not exist",
                ));
            };
            let mut d = *f;
            d.flow = u32::try_from(i).map_err(|_| too_many())?;
            dense.push(d);
        }
        let classifier = Classifier::build(&dense)?;
        Ok(Self {
            flows,
            classifier,
            maps,
            limits,
        })
    }
}

fn too_many() -> ConfigError {
    ConfigError::new(
        ErrorKind::LimitExceeded,
        Object::Adapter,
        Field::FilterCount,
        "cannot be allocated",
    )
}

/// Per-NBL state the scheduler keeps in its slab (no NBL field is used).
///
/// Plain 4- and 8-byte fields: the scheduler moves it from the chain
/// iterator to the release callback, and fields packed around enum niches
/// (an `Option<(Family, MarkOffsets)>`) were written in odd-sized pieces
/// that the callback's loads could not forward from (perf showed a quarter
/// of the callback's time on that one load).
#[derive(Debug)]
#[repr(C)]
pub struct Held {
    nbl: Nbl,
    port: NDIS_PORT_NUMBER,
    flags: u32,
    /// Where the first NET_BUFFER's marks go.
    at: MarkAt,
}

/// [`MarkOffsets`] and the family of a classifiable frame, or nothing, in
/// three 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
struct MarkAt {
    /// `MarkOffsets::ip`.
    ip: u32,
    /// `MarkOffsets::vlan_tci`, [`MarkAt::NO_TAG`] for `None` (a TCI
    /// offset is always at least 2 below the IP offset, so never that).
    tci: u32,
    /// [`MarkAt::V4`], [`MarkAt::V6`], or [`MarkAt::UNPARSED`].
    family: u32,
}

impl MarkAt {
    const NO_TAG: u32 = u32::MAX;
    const UNPARSED: u32 = 0;
    const V4: u32 = 4;
    const V6: u32 = 6;

    /// Nothing to mark: the frame was not classifiable.
    const NONE: Self = Self {
        ip: 0,
        tci: Self::NO_TAG,
        family: Self::UNPARSED,
    };

    fn new(family: Family, offsets: &MarkOffsets) -> Self {
        Self {
            ip: offsets.ip,
            tci: offsets.vlan_tci.unwrap_or(Self::NO_TAG),
            family: match family {
                Family::V4 => Self::V4,
                Family::V6 => Self::V6,
            },
        }
    }

    /// The family and offsets back, if the frame was classifiable.
    fn get(self) -> Option<(Family, MarkOffsets)> {
        let family = match self.family {
            Self::V4 => Family::V4,
            Self::V6 => Family::V6,
            _ => return None,
        };
        let vlan_tci = (self.tci != Self::NO_TAG).then_some(self.tci);
        Some((
            family,
            MarkOffsets {
                ip: self.ip,
                vlan_tci,
            },
        ))
    }
}

/// Datapath counters (driver side; the scheduler keeps ntddpsch.h's).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DatapathCounters {
    /// NBLs classified into a flow.
    pub classified: u64,
    /// NBLs that matched no filter.
    pub unmatched: u64,
    /// Frames the parser could not classify, by reason, indexed by
    /// [`Unclassifiable::index`] (names: [`Unclassifiable::name`]).
    pub unclassifiable: [u64; Unclassifiable::KINDS],
    /// NBLs whose marks could not be written (counted, sent unmarked).
    pub mark_errors: u64,
    /// DSCP rewrites.
    pub dscp_marked: u64,
    /// 802.1p values set (in-band or out of band).
    pub pcp_marked: u64,
    /// NBLs refused by the scheduler (limits, discard).
    pub dropped: u64,
    /// TCP LSO NBLs sized by their segments.
    pub lso_sends: u64,
    /// LSO NBLs whose TcpHeaderOffset or TCP header could not be used
    /// (outside the frame, shorter than the IP header, bad data offset):
    /// sized as unsegmented packets.
    pub lso_bad_header: u64,
}

/// The per-module engine state.
#[derive(Debug)]
pub struct Datapath {
    framing: Framing,
    link_speed: u64,
    config: Option<Arc<dyn Policy>>,
    sched: Option<Scheduler<Held>>,
    /// NBLs the scheduler handed out and that have not come back.
    sched_out: u32,
    counters: DatapathCounters,
    /// The last flow key classified and the flow it got under `config`
    /// (cleared when a configuration is published): the NBLs of one
    /// connection, which a protocol hands down back to back, are
    /// classified once. Classification is a function of the key and the
    /// configuration, so the result is the same.
    last_class: Option<(FlowKey, Option<usize>)>,
}

impl Datapath {
    /// A datapath with no configuration (bypass).
    #[must_use]
    pub fn new(framing: Framing, link_speed: u64) -> Self {
        Self {
            framing,
            link_speed,
            config: None,
            sched: None,
            sched_out: 0,
            counters: DatapathCounters::default(),
            last_class: None,
        }
    }

    /// True when NBLs go straight down: no flows configured and nothing
    /// held by (or outstanding from) the scheduler.
    #[must_use]
    pub fn is_bypass(&self) -> bool {
        let passive = self
            .config
            .as_ref()
            .is_none_or(|c| c.flows().is_empty() && !c.reset_unmarked_dscp());
        passive && self.held() == 0 && self.sched_out == 0
    }

    /// NBLs the scheduler holds.
    #[must_use]
    pub fn held(&self) -> u32 {
        self.sched.as_ref().map_or(0, Scheduler::held_packets)
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> Option<&Arc<dyn Policy>> {
        self.config.as_ref()
    }

    /// Transmit link speed (bits/s) last reported.
    #[must_use]
    pub fn link_speed(&self) -> u64 {
        self.link_speed
    }

    /// The scheduler's statistics, if a configuration was ever published.
    #[must_use]
    pub fn scheduler_stats(&self) -> Option<&SchedulerStats> {
        self.sched.as_ref().map(Scheduler::stats)
    }

    /// The scheduler (statistics per flow).
    #[must_use]
    pub fn scheduler(&self) -> Option<&Scheduler<Held>> {
        self.sched.as_ref()
    }

    /// Driver-side counters.
    #[must_use]
    pub fn counters(&self) -> DatapathCounters {
        self.counters
    }

    /// Clear statistics.
    pub fn clear_stats(&mut self) {
        self.counters = DatapathCounters::default();
        if let Some(s) = self.sched.as_mut() {
            s.clear_stats();
        }
    }

    /// Install a configuration (`None`: no flows). `fresh` is a scheduler
    /// built outside the lock with `config.limits`, used when none exists
    /// yet or when nothing is held and the limits changed. Held packets of
    /// removed flows move to best effort (the scheduler's rule).
    ///
    /// # Errors
    /// The scheduler could not allocate its flow tables; the old
    /// configuration stays in force.
    pub fn publish(
        &mut self,
        now: Ticks,
        config: Option<Arc<dyn Policy>>,
        fresh: Option<Scheduler<Held>>,
    ) -> Result<(), ConfigError> {
        let limits_changed = match (&self.sched, &config) {
            (Some(s), Some(c)) => *s.limits() != c.limits(),
            _ => false,
        };
        let flows: &[(FlowId, FlowSpec)] = config.as_ref().map_or(&[], |c| c.flows());
        // The scheduler decides each flow's marks here, once, and hands
        // them out with every released packet.
        let no_maps;
        let maps = match &config {
            Some(c) => c.maps(),
            None => {
                no_maps = MarkMaps::default();
                &no_maps
            }
        };
        let idle = self.held() == 0 && self.sched_out == 0;
        match fresh {
            // A new scheduler (first configuration, or new limits while
            // nothing is held): configured first, swapped in only if that
            // worked, so a failure leaves everything as it was.
            Some(mut f) if self.sched.is_none() || (limits_changed && idle) => {
                f.reconfigure_marked(now, flows, maps)?;
                self.sched = Some(f);
            }
            _ => {
                if let Some(s) = self.sched.as_mut() {
                    s.reconfigure_marked(now, flows, maps)?;
                }
            }
        }
        self.config = config;
        self.last_class = None;
        Ok(())
    }

    /// Classify and submit a chain of NBLs (linked from `first`) in one
    /// batched scheduler call ([`Scheduler::submit_batch_marked`]: the same as
    /// queueing each NBL and then letting the scheduler hand out the next
    /// one that may go, usually that NBL, straight back). Released NBLs are
    /// marked and added to `out` in the order the scheduler hands them out;
    /// refused NBLs get their completion status (RESOURCES for queue
    /// limits, FAILURE for a policy drop: discard mode, over MaxSduSize)
    /// and are added to `refused`, in chain order. Call
    /// [`Datapath::release`] afterwards for what else may go now.
    ///
    /// Each NBL's Next link is read before the NBL is handed to the
    /// scheduler, and rewritten only when it is queued to go on.
    pub fn submit_chain(
        &mut self,
        now: Ticks,
        first: Option<Nbl>,
        port: NDIS_PORT_NUMBER,
        flags: u32,
        out: &mut SendBatch,
        refused: &mut NblQueue,
    ) -> ChainSubmitted {
        let Self {
            framing,
            config,
            sched,
            sched_out,
            counters,
            last_class,
            ..
        } = self;
        let policy = config.as_deref();
        let mut chain = Chain::new(
            first,
            port,
            flags,
            Classify {
                framing: *framing,
                policy,
                last_class,
                counters: &mut *counters,
                classified: 0,
                unmatched: 0,
            },
        );
        let Some(s) = sched.as_mut() else {
            for item in &mut chain {
                refuse(item.pkt.nbl, NDIS_STATUS_RESOURCES, refused);
            }
            let nbls = chain.nbls;
            chain.classify.fold();
            return ChainSubmitted { nbls, released: 0 };
        };
        // Marking and drop counts of this chain: `counters` is lent to the
        // classification iterator while the scheduler runs.
        let mut tally = Tally::default();
        s.submit_batch_marked(now, &mut chain, |outcome, marks| match outcome {
            Submitted::Released(r) => emit(r, marks, policy, &mut tally, out),
            Submitted::Dropped(h, why) => {
                tally.dropped = tally.dropped.wrapping_add(1);
                refuse(h.nbl, drop_status(why), refused);
            }
        });
        let nbls = chain.nbls;
        chain.classify.fold();
        let released = tally.fold(counters, sched_out);
        ChainSubmitted { nbls, released }
    }

    /// Release every NBL that may go now into `out`, marked. Returns the
    /// number released.
    pub fn release(&mut self, now: Ticks, out: &mut SendBatch) -> u32 {
        let Self {
            config,
            sched,
            sched_out,
            counters,
            ..
        } = self;
        let Some(s) = sched.as_mut() else {
            return 0;
        };
        let policy = config.as_deref();
        let mut tally = Tally::default();
        while let Some((r, marks)) = s.dequeue_marked(now) {
            emit(r, marks, policy, &mut tally, out);
        }
        tally.fold(counters, sched_out)
    }

    /// `n` NBLs came back from the miniport; those the scheduler handed out
    /// return their credits (NBLs sent in bypass never took one).
    pub fn send_completed(&mut self, n: u32) {
        let credit = n.min(self.sched_out);
        self.sched_out = self.sched_out.saturating_sub(credit);
        if let Some(s) = self.sched.as_mut() {
            s.send_completed(credit);
        }
    }

    /// When the scheduler next needs the timer.
    #[must_use]
    pub fn next_event(&self) -> Option<Ticks> {
        self.sched.as_ref().and_then(Scheduler::next_event)
    }

    /// Move everything held into `out` (pause, detach).
    pub fn drain(&mut self, out: &mut NblQueue) {
        if let Some(s) = self.sched.as_mut() {
            s.drain(|h| out.push_back(h.nbl));
        }
    }

    /// Move held NBLs whose cancel id is `id` into `out`.
    pub fn cancel(&mut self, id: usize, out: &mut NblQueue) {
        if let Some(s) = self.sched.as_mut() {
            s.remove_if(
                |h| crate::filter::cancel_matches(&h.nbl, id),
                |h| out.push_back(h.nbl),
            );
        }
    }

    /// The link speed changed.
    pub fn set_link_speed(&mut self, _now: Ticks, bps: u64) {
        self.link_speed = bps;
    }
}

/// What [`Datapath::submit_chain`] did with a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSubmitted {
    /// NBLs in the chain.
    pub nbls: u32,
    /// NBLs released into the send batch (this chain's or held ones).
    pub released: u32,
}

/// The completion status of a refused NBL: RESOURCES for queue limits,
/// FAILURE for a policy drop (discard mode, over MaxSduSize).
fn drop_status(why: DropReason) -> NDIS_STATUS {
    match why {
        DropReason::QueuePackets | DropReason::QueueBytes | DropReason::FlowQueue => {
            NDIS_STATUS_RESOURCES
        }
        DropReason::Nonconforming | DropReason::OverMaxSdu => NDIS_STATUS_FAILURE,
    }
}

/// Complete-later: set the NBL's status and add it to the refused queue.
fn refuse(mut nbl: Nbl, status: NDIS_STATUS, refused: &mut NblQueue) {
    nbl.set_status(status);
    refused.push_back(nbl);
}

/// What classification needs of a [`Datapath`], borrowed apart from the
/// scheduler so a chain can be classified lazily while the scheduler
/// consumes it.
struct Classify<'a> {
    framing: Framing,
    policy: Option<&'a dyn Policy>,
    last_class: &'a mut Option<(FlowKey, Option<usize>)>,
    /// Counters of the rare outcomes (unclassifiable, LSO).
    counters: &'a mut DatapathCounters,
    /// NBLs classified into a flow / matching no filter, added to
    /// `counters` by [`Classify::fold`].
    classified: u32,
    unmatched: u32,
}

impl Classify<'_> {
    /// Parse the first NET_BUFFER, classify, and size the NBL on the wire
    /// (one walk of the NET_BUFFER list; an LSO send also reads each
    /// NET_BUFFER's TCP data offset).
    fn classify(&mut self, nbl: &Nbl) -> (Option<usize>, MarkAt, SendSize) {
        let Some(first) = nbl.first_nb() else {
            self.count_unclassifiable(Unclassifiable::Truncated);
            return (None, MarkAt::NONE, SendSize::single(0));
        };
        let parsed = match first.contiguous() {
            Some(one) => parse(&[one], self.framing),
            None => {
                let mut segs: [&[u8]; MAX_SEGMENTS] = [&[]; MAX_SEGMENTS];
                let n = first.segments(&mut segs);
                parse(segs.get(..n).unwrap_or(&[]), self.framing)
            }
        };
        let l2 = parsed.as_ref().map_or(0, |p| p.offsets.ip);
        let tcp_family = match &parsed {
            Ok(p) if p.key.protocol == ip_proto::TCP => Some(p.key.family),
            _ => None,
        };
        // The LSO info is read for TCP only (it sits on another cache line
        // of the NBL).
        let size = match tcp_family.and_then(|f| Some((f, lso_request(nbl)?))) {
            Some((family, (mss, tcp))) => match lso_size(first, family, l2, tcp, mss) {
                Some(size) => {
                    self.counters.lso_sends = self.counters.lso_sends.saturating_add(1);
                    size
                }
                None => {
                    self.counters.lso_bad_header = self.counters.lso_bad_header.saturating_add(1);
                    plain_size(first, l2)
                }
            },
            _ => plain_size(first, l2),
        };
        // By reference: moving the parse result out costs a 64-byte copy
        // that stalls on the stores that just wrote it.
        match &parsed {
            Ok(p) => {
                let flow = match &*self.last_class {
                    Some((k, f)) if same_key(k, &p.key) => *f,
                    _ => {
                        let f = self.policy.and_then(|c| c.classify(&p.key));
                        *self.last_class = Some((p.key, f));
                        f
                    }
                };
                if flow.is_some() {
                    self.classified = self.classified.wrapping_add(1);
                } else {
                    self.unmatched = self.unmatched.wrapping_add(1);
                }
                (flow, MarkAt::new(p.key.family, &p.offsets), size)
            }
            Err(why) => {
                self.count_unclassifiable(*why);
                (None, MarkAt::NONE, size)
            }
        }
    }

    /// Add the chain's classification counts to the counters.
    fn fold(&mut self) {
        let c = &mut *self.counters;
        c.classified = c.classified.saturating_add(u64::from(self.classified));
        c.unmatched = c.unmatched.saturating_add(u64::from(self.unmatched));
        self.classified = 0;
        self.unmatched = 0;
    }

    fn count_unclassifiable(&mut self, why: Unclassifiable) {
        if let Some(c) = self.counters.unclassifiable.get_mut(why.index()) {
            *c = c.saturating_add(1);
        }
    }
}

/// An NBL chain classified lazily into the scheduler's batch items, in
/// chain order; counts the NBLs it yields.
struct Chain<'a> {
    cur: Option<Nbl>,
    nbls: u32,
    port: NDIS_PORT_NUMBER,
    flags: u32,
    classify: Classify<'a>,
}

impl<'a> Chain<'a> {
    fn new(first: Option<Nbl>, port: NDIS_PORT_NUMBER, flags: u32, classify: Classify<'a>) -> Self {
        Self {
            cur: first,
            nbls: 0,
            port,
            flags,
            classify,
        }
    }
}

impl Iterator for Chain<'_> {
    type Item = BatchItem<Held>;

    fn next(&mut self) -> Option<BatchItem<Held>> {
        let nbl = self.cur?;
        // Read the link before the NBL goes anywhere that rewrites it.
        self.cur = nbl.next();
        if let Some(next) = self.cur {
            next.prefetch();
        }
        self.nbls = self.nbls.wrapping_add(1);
        let (flow, at, size) = self.classify.classify(&nbl);
        Some(BatchItem {
            flow,
            size,
            pkt: Held {
                nbl,
                port: self.port,
                flags: self.flags,
                at,
            },
        })
    }
}

/// Counts of one call's released NBLs and their marking, kept as plain
/// increments per NBL and added to the counters once ([`Tally::fold`]).
/// A call handles at most a chain plus what the scheduler holds, far below
/// 2^32 NBLs, so the increments cannot wrap.
#[derive(Debug, Default)]
struct Tally {
    released: u32,
    dropped: u32,
    dscp_marked: u32,
    pcp_marked: u32,
    mark_errors: u32,
}

impl Tally {
    /// Add the counts to `counters`, the released NBLs to `sched_out`;
    /// returns the number released.
    fn fold(&self, counters: &mut DatapathCounters, sched_out: &mut u32) -> u32 {
        let c = counters;
        c.dropped = c.dropped.saturating_add(u64::from(self.dropped));
        c.mark_errors = c.mark_errors.saturating_add(u64::from(self.mark_errors));
        c.dscp_marked = c.dscp_marked.saturating_add(u64::from(self.dscp_marked));
        c.pcp_marked = c.pcp_marked.saturating_add(u64::from(self.pcp_marked));
        *sched_out = sched_out.saturating_add(self.released);
        self.released
    }
}

/// Mark one NBL the scheduler released and add it to `out`. `marks` are
/// its flow's, which the scheduler decided when the configuration was
/// published (`decide` for the flow and its conformance); an NBL of no
/// flow gets none.
fn emit(
    r: Released<Held>,
    marks: Marks,
    policy: Option<&dyn Policy>,
    tally: &mut Tally,
    out: &mut SendBatch,
) {
    let mut h = r.pkt;
    if !(r.flow.is_some() && mark_one(tally, &mut h.nbl, h.at, marks)) {
        if let Some((family, offsets)) = h.at.get() {
            let marks = r.flow.map(|_| marks);
            match marks {
                Some(m) => mark(tally, &mut h.nbl, family, &offsets, m),
                None if policy.is_some_and(|c| c.reset_unmarked_dscp()) => {
                    reset(tally, &h.nbl, family, &offsets);
                }
                None => {}
            }
        }
    }
    out.push(h.port, h.flags, h.nbl);
    tally.released = tally.released.wrapping_add(1);
}

/// [`mark`] for the common NBL: one NET_BUFFER in one MDL, no in-band tag,
/// a DSCP to write that [`rewrite_dscp_one`] can write. Returns false,
/// having changed nothing, for anything else ([`mark`] then does it).
#[inline(always)]
fn mark_one(tally: &mut Tally, nbl: &mut Nbl, at: MarkAt, marks: Marks) -> bool {
    let family = match at.family {
        MarkAt::V4 => Family::V4,
        MarkAt::V6 => Family::V6,
        _ => return false,
    };
    let (Some(dscp), MarkAt::NO_TAG) = (marks.dscp, at.tci) else {
        return false;
    };
    let Some(nb) = nbl.first_nb() else {
        return false;
    };
    if nb.next().is_some() {
        return false;
    }
    let Some(changed) = nb
        .contiguous_mut()
        .and_then(|f| rewrite_dscp_one(f, family, at.ip, dscp))
    else {
        return false;
    };
    tally.dscp_marked = tally.dscp_marked.wrapping_add(u32::from(changed));
    if let Some(pcp) = marks.pcp {
        mark_pcp_out_of_band(tally, nbl, pcp);
    }
    true
}

/// Writes 802.1p `pcp` into the NBL's out-of-band 802.1Q info (a frame
/// without an in-band tag).
#[inline(always)]
fn mark_pcp_out_of_band(tally: &mut Tally, nbl: &mut Nbl, pcp: u8) {
    let v = nbl.info(IEEE_8021Q_NET_BUFFER_LIST_INFO);
    nbl.set_info(
        IEEE_8021Q_NET_BUFFER_LIST_INFO,
        Ieee8021QInfo::with_priority(v, pcp),
    );
    tally.pcp_marked = tally.pcp_marked.wrapping_add(1);
}

/// `a == b`, narrow fields first: two connections usually differ in their
/// ports, which settles it before the 16-byte address loads (those stall
/// on store forwarding right after the parser wrote the key).
fn same_key(a: &FlowKey, b: &FlowKey) -> bool {
    a.l4 == b.l4
        && a.protocol == b.protocol
        && a.dst == b.dst
        && a.src == b.src
        && a.family == b.family
        && a.dscp == b.dscp
        && a.ecn == b.ecn
        && a.vlan == b.vlan
}

/// Two sends as one: bytes and packets add up, the largest packet is the
/// larger of the two.
fn joined(a: SendSize, b: SendSize) -> SendSize {
    SendSize {
        ip_bytes: a.ip_bytes.saturating_add(b.ip_bytes),
        largest_ip_packet: a.largest_ip_packet.max(b.largest_ip_packet),
        packets: a.packets.saturating_add(b.packets),
    }
}

/// An NBL that is not segmented: each NET_BUFFER is one IP packet of its
/// data length minus the link header (`l2`).
fn plain_size(first: Nb<'_>, l2: u32) -> SendSize {
    let mut size = SendSize::single(first.data_len().saturating_sub(l2));
    let mut rest = first.next();
    while let Some(nb) = rest {
        size = joined(size, SendSize::single(nb.data_len().saturating_sub(l2)));
        rest = nb.next();
    }
    size
}

/// The LSO request of an NBL (LSO V1 and V2 alike): `(MSS,
/// TcpHeaderOffset)` when the MSS is not 0. The info is a pointer-sized
/// value whose low 32 bits hold the bit fields (ffi::types::LSO_*).
fn lso_request(nbl: &Nbl) -> Option<(u32, u32)> {
    let v = nbl.info(TCP_LARGE_SEND_NET_BUFFER_LIST_INFO);
    let v = u32::try_from(v & 0xFFFF_FFFF).unwrap_or(0);
    let mss = v & LSO_MSS_MASK;
    (mss != 0).then_some((
        mss,
        (v & LSO_TCP_HEADER_OFFSET_MASK) >> LSO_TCP_HEADER_OFFSET_SHIFT,
    ))
}

/// IP + TCP header bytes of one LSO NET_BUFFER (what every segment
/// repeats): from the IP header at `ip` to the end of the TCP header at
/// TcpHeaderOffset `tcp`, whose length is its data offset (byte 12, high
/// nibble, in 32-bit words). `None` if the offset leaves no room for the
/// IP header or the TCP header is not inside the frame.
fn lso_headers_len(nb: Nb<'_>, family: Family, ip: u32, tcp: u32) -> Option<u32> {
    let min_ip: u32 = match family {
        Family::V4 => 20,
        Family::V6 => 40,
    };
    if tcp < ip.checked_add(min_ip)? {
        return None;
    }
    let words = u32::from(nb.byte_at(tcp.checked_add(12)?)? >> 4);
    if words < 5 {
        return None;
    }
    let end = tcp.checked_add(words.checked_mul(4)?)?;
    if end > nb.data_len() {
        return None;
    }
    end.checked_sub(ip)
}

/// The size on the wire of a TCP LSO NBL: every NET_BUFFER is a
/// super-packet the NIC cuts into segments of `mss` payload bytes.
fn lso_size(first: Nb<'_>, family: Family, l2: u32, tcp: u32, mss: u32) -> Option<SendSize> {
    let one = |nb: Nb<'_>| {
        lso_headers_len(nb, family, l2, tcp).map(|h| SendSize::tcp_lso(nb.data_len(), l2, h, mss))
    };
    let mut size = one(first)?;
    let mut rest = first.next();
    while let Some(nb) = rest {
        size = joined(size, one(nb)?);
        rest = nb.next();
    }
    Some(size)
}

/// Write the marks into every NET_BUFFER (and the out-of-band 802.1p,
/// unless no NET_BUFFER could be marked).
fn mark(tally: &mut Tally, nbl: &mut Nbl, family: Family, offsets: &MarkOffsets, marks: Marks) {
    let mut marked = false;
    let mut failed = false;
    let mut dscp = false;
    // An in-band tag to rewrite takes `apply`; otherwise only the DSCP goes
    // into the frame.
    let in_band = offsets.vlan_tci.is_some() && marks.pcp.is_some();
    for nb in nbl.nbs() {
        let mut frame = nb.contiguous_mut();
        let quick = match (&mut frame, marks.dscp) {
            _ if in_band => None,
            (Some(f), Some(d)) => rewrite_dscp_one(f, family, offsets.ip, d),
            (Some(_), None) => Some(false),
            (None, _) => None,
        };
        let applied = match quick {
            Some(changed) => Ok((changed, false)),
            None => apply_general(frame, nb, family, offsets, marks),
        };
        match applied {
            Ok((changed, pcp)) => {
                marked = true;
                dscp |= changed;
                tally.pcp_marked = tally.pcp_marked.wrapping_add(u32::from(pcp));
            }
            Err(_) => failed = true,
        }
    }
    tally.dscp_marked = tally.dscp_marked.wrapping_add(u32::from(dscp));
    tally.mark_errors = tally.mark_errors.wrapping_add(u32::from(failed));
    // What `apply` hands back as `out_of_band_pcp`: the 802.1p of a frame
    // without an in-band tag.
    if let (true, None, Some(pcp)) = (marked, offsets.vlan_tci, marks.pcp) {
        mark_pcp_out_of_band(tally, nbl, pcp);
    }
}

/// [`apply`] on one NET_BUFFER (`frame`: its data, if in one MDL):
/// whether the DSCP and the in-band PCP changed. Out of line: the common
/// case is [`rewrite_dscp_one`].
#[inline(never)]
fn apply_general(
    frame: Option<&mut [u8]>,
    nb: Nb<'_>,
    family: Family,
    offsets: &MarkOffsets,
    marks: Marks,
) -> Result<(bool, bool), MarkError> {
    let a = match frame {
        Some(f) => apply(&mut [f], family, offsets, marks),
        None => {
            let mut segs: [&mut [u8]; MAX_SEGMENTS] = Default::default();
            let k = nb.segments_mut(&mut segs);
            apply(segs.get_mut(..k).unwrap_or(&mut []), family, offsets, marks)
        }
    }?;
    Ok((a.dscp_changed, a.pcp_changed))
}

/// DSCP override = ignore: DSCP 0 on every NET_BUFFER of an unmarked NBL.
/// Out of line: its segment array would otherwise sit in every caller's
/// frame.
#[inline(never)]
fn reset(tally: &mut Tally, nbl: &Nbl, family: Family, offsets: &MarkOffsets) {
    for nb in nbl.nbs() {
        let mut segs: [&mut [u8]; MAX_SEGMENTS] = Default::default();
        let k = nb.segments_mut(&mut segs);
        let Some(frame) = segs.get_mut(..k) else {
            continue;
        };
        match reset_dscp(frame, family, offsets) {
            Ok(true) => tally.dscp_marked = tally.dscp_marked.wrapping_add(1),
            Ok(false) => {}
            Err(_) => tally.mark_errors = tally.mark_errors.wrapping_add(1),
        }
    }
}

#[cfg(all(test, not(target_os = "windows")))]
mod tests {
    use super::*;
    use crate::sim::{AdapterSpec, Sim, TxPacket};
    use qos_engine::flow::{SdMode, ServiceType};
    use qos_engine::gpc::{DEFAULT_PRECEDENCE, PortRange, Prefix, ProtocolMatch};

    fn udp4(dport: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[0x45, 0, 0, 36, 0, 0, 0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&4000u16.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&[0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        f
    }

    fn config(dport: u16, dclass: u8) -> Arc<DatapathConfig> {
        config_with(dport, dclass, SdMode::Shape, 1 << 30, 1 << 20)
    }

    fn config_with(
        dport: u16,
        dclass: u8,
        mode: SdMode,
        rate: u64,
        bucket: u64,
    ) -> Arc<DatapathConfig> {
        let spec = FlowSpec {
            name: "t".into(),
            service_type: ServiceType::ControlledLoad,
            token_rate: Some(rate),
            bucket,
            peak_rate: None,
            max_sdu: None,
            min_policed: 0,
            mode: Some(mode),
            dclass: Some(dclass),
            tclass: None,
            shaping: None,
        };
        let filter = Filter {
            id: 1,
            flow: 7,
            family: Family::V4,
            src: Prefix::ANY,
            dst: Prefix::ANY,
            src_ports: PortRange::ANY,
            dst_ports: PortRange::single(dport),
            protocol: ProtocolMatch::Udp,
            dscp: None,
            vlan: None,
            precedence: DEFAULT_PRECEDENCE,
        };
        let cfg = DatapathConfig::new(
            vec![(7, spec)],
            &[filter],
            MarkMaps::default(),
            Limits::default(),
        );
        Arc::new(cfg.unwrap())
    }

    /// The last-key memo and the scheduler's per-flow marks never outlive
    /// the configuration they were computed under: the same connection, sent
    /// again after each publish, gets the new configuration's flow (or
    /// none) and marks.
    #[test]
    fn classification_memo_follows_every_published_configuration() {
        let mut sim = Sim::new();
        assert_eq!(sim.load(), 0);
        let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
        assert_eq!(a.restart(), 0);
        let m = a.module().unwrap();
        let f = udp4(5001);
        let dscps = |a: &crate::sim::Adapter| {
            let w = a.take_wire();
            w.iter().map(|n| n.frames[0][15] >> 2).collect::<Vec<u8>>()
        };
        for (cfg, want) in [
            (Some(config(5001, 10)), 10),
            (Some(config(5001, 20)), 20),
            (Some(config(5002, 30)), 0),
            (Some(config(5001, 40)), 40),
        ] {
            m.publish(cfg.map(|c| c as Arc<dyn Policy>)).unwrap();
            // Two chains of two NBLs: the memo is hit within and across
            // chains.
            for _ in 0..2 {
                a.send(&[TxPacket::frame(&f), TxPacket::frame(&f)], 0);
                assert_eq!(dscps(&a), [want, want]);
            }
        }
        let c = m.read(Datapath::counters);
        assert_eq!((c.classified, c.unmatched), (12, 4));
        drop(m);
        drop(a);
        sim.unload();
        assert!(sim.errors().is_empty());
    }

    /// One chain through the batched submit: conforming NBLs and an
    /// unmatched one go down in chain order (marked / unmarked), a discard
    /// flow's non-conforming NBLs complete with FAILURE in chain order, a
    /// shaped flow's wait in the shaper and leave later in order; every
    /// NBL completes exactly once and the counters add up.
    #[test]
    fn chain_submit_sends_drops_and_holds_like_per_nbl_calls() {
        use crate::ffi::types::{NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS};
        let mut sim = Sim::new();
        assert_eq!(sim.load(), 0);
        let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
        assert_eq!(a.restart(), 0);
        let m = a.module().unwrap();
        let (hit, miss) = (udp4(5001), udp4(6000));
        let chain = [&hit, &hit, &miss, &hit, &hit].map(|f| TxPacket::frame(f));
        // Bucket of two 36-byte IP packets, almost no refill.
        m.publish(Some(
            config_with(5001, 10, SdMode::Discard, 1, 80) as Arc<dyn Policy>
        ))
        .unwrap();
        let ids = a.send(&chain, 0);
        let wire = a.take_wire();
        let sent: Vec<(u64, u8)> = wire.iter().map(|n| (n.id, n.frames[0][15] >> 2)).collect();
        assert_eq!(sent, [(ids[0], 10), (ids[1], 10), (ids[2], 0)]);
        let done = a.take_completions();
        let failed: Vec<u64> = done
            .iter()
            .filter(|c| c.status == NDIS_STATUS_FAILURE)
            .map(|c| c.id)
            .collect();
        assert_eq!(failed, [ids[3], ids[4]]);
        let ok = done.iter().filter(|c| c.status == NDIS_STATUS_SUCCESS);
        assert_eq!(ok.count(), 3);
        assert_eq!(done.len(), 5);
        let c = m.read(Datapath::counters);
        assert_eq!((c.classified, c.unmatched, c.dropped), (4, 1, 2));
        assert_eq!(c.dscp_marked, 2);

        // Shaped: the two over the bucket wait, the rest goes at once.
        m.publish(Some(
            config_with(5001, 20, SdMode::Shape, 360, 80) as Arc<dyn Policy>
        ))
        .unwrap();
        sim.advance(100_000_000);
        let ids = a.send(&chain, 0);
        let first: Vec<u64> = a.take_wire().iter().map(|n| n.id).collect();
        assert_eq!(first, [ids[0], ids[1], ids[2]]);
        assert_eq!(m.read(Datapath::held), 2);
        sim.advance(100_000_000);
        let later: Vec<(u64, u8)> = a
            .take_wire()
            .iter()
            .map(|n| (n.id, n.frames[0][15] >> 2))
            .collect();
        assert_eq!(later, [(ids[3], 20), (ids[4], 20)]);
        let done = a.take_completions();
        assert_eq!(done.len(), 5);
        assert!(done.iter().all(|c| c.status == NDIS_STATUS_SUCCESS));
        let c = m.read(Datapath::counters);
        assert_eq!((c.classified, c.unmatched, c.dropped), (8, 2, 2));
        drop(m);
        drop(a);
        sim.unload();
        assert!(sim.errors().is_empty());
    }
}
