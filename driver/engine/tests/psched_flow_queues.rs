//! A flow's queue figures (MaxPacketsInShaper, AveragePacketsInShaper,
//! MaxPacketsInSequencer, AveragePacketsInSequencer) against an outside
//! model.
//!
//! The model does not look inside the scheduler: it knows which packets of
//! each flow are held (accepted and neither released nor cancelled), and
//! with a single shaped flow every packet the scheduler reports in its
//! shapers (`packets_in_shaper`) is that flow's; the rest of a flow's held
//! packets are in the sequencer. From those it samples, at every accepted
//! send, one average sample per IP packet of the send (the definition in
//! `FlowStats`), with its own EWMA (weight 1/32, scaled by 256, read
//! rounded to the nearest integer), and keeps the maxima, including the
//! moment inside a `dequeue` after the shaper released and before one
//! packet left.
//!
//! Two known scenarios first (a shaped flow with a standing shaper backlog,
//! a flow with a standing sequencer backlog, next to flows whose packets
//! never wait), where the averages must read the backlog exactly; then
//! random operations. Every scenario also runs on a second scheduler that
//! takes the sends through `submit_batch` (its short path takes no sample
//! when a send passes): every statistic must be the same.

use std::collections::HashMap;

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode};
use qos_engine::psched::{FlowStats, Limits, Scheduler, SendSize, Submitted};
use qos_engine::time::TICKS_PER_SEC;

// Only `assert_same` is used here.
#[allow(dead_code)]
#[path = "support/psched_model.rs"]
mod model;
use model::assert_same;

// Only `batched` is used here.
#[allow(dead_code)]
#[path = "support/psched_chain.rs"]
mod chain;
use chain::batched;

/// The model's average: weight 1/32, kept scaled by 256.
#[derive(Debug, Default, Clone, Copy)]
struct Avg(u64);

impl Avg {
    fn add(&mut self, value: u32, times: u32) {
        let v = u64::from(value) * 256;
        for _ in 0..times {
            if v >= self.0 {
                self.0 += (v - self.0) / 32;
            } else {
                self.0 -= (self.0 - v) / 32;
            }
        }
    }

    fn read(self) -> u32 {
        u32::try_from((self.0 + 128) / 256).unwrap()
    }
}

/// One flow as the model sees it.
#[derive(Debug, Default, Clone, Copy)]
struct FlowModel {
    held: u32,
    max_shaper: u32,
    max_sequencer: u32,
    avg_shaper: Avg,
    avg_sequencer: Avg,
}

/// The figures a flow reports, for comparison.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    max_shaper: u32,
    avg_shaper: u32,
    max_sequencer: u32,
    avg_sequencer: u32,
}

impl Figures {
    fn of(s: &FlowStats) -> Self {
        Self {
            max_shaper: s.max_packets_in_shaper,
            avg_shaper: s.average_packets_in_shaper,
            max_sequencer: s.max_packets_in_sequencer,
            avg_sequencer: s.average_packets_in_sequencer,
        }
    }
}

/// Flow indexes 0.. of the configuration, `UNCLASSIFIED` for the rest.
const UNCLASSIFIED: usize = usize::MAX;

struct Model {
    /// Index of the only shaped flow.
    shaped: usize,
    flows: HashMap<usize, FlowModel>,
    /// The flow of each held packet.
    owner: HashMap<u64, usize>,
}

impl Model {
    fn new(shaped: usize) -> Self {
        Self {
            shaped,
            flows: HashMap::new(),
            owner: HashMap::new(),
        }
    }

    /// Sends of flow `f` in its shaper queue and in the sequencer.
    fn split(&self, s: &Scheduler<u64>, f: usize) -> (u32, u32) {
        let held = self.flows.get(&f).map_or(0, |m| m.held);
        let shaper = if f == self.shaped {
            s.packets_in_shaper()
        } else {
            0
        };
        (shaper, held - shaper)
    }

    /// `pkt` of flow `f`, `size`, was accepted.
    fn accepted(&mut self, s: &Scheduler<u64>, f: usize, size: SendSize, pkt: u64) {
        self.owner.insert(pkt, f);
        self.flows.entry(f).or_default().held += 1;
        let (shaper, seq) = self.split(s, f);
        let m = self.flows.get_mut(&f).unwrap();
        let k = size.normalized().packets;
        m.avg_shaper.add(shaper, k);
        m.avg_sequencer.add(seq, k);
        m.max_shaper = m.max_shaper.max(shaper);
        m.max_sequencer = m.max_sequencer.max(seq);
    }

    /// `pkt` left the scheduler (released or cancelled).
    fn left(&mut self, pkt: u64) {
        let f = self.owner.remove(&pkt).unwrap();
        self.flows.get_mut(&f).unwrap().held -= 1;
    }

    /// One `dequeue` call: the shaped flow's packets released into the
    /// sequencer are all there before one packet leaves.
    fn dequeue(&mut self, s: &mut Scheduler<u64>, now: u64) -> Option<u64> {
        let held = self.flows.get(&self.shaped).map_or(0, |m| m.held);
        let r = s.dequeue(now);
        let peak = held - s.packets_in_shaper();
        if let Some(m) = self.flows.get_mut(&self.shaped) {
            m.max_sequencer = m.max_sequencer.max(peak);
        }
        let pkt = r?.pkt;
        self.left(pkt);
        Some(pkt)
    }

    fn clear(&mut self, s: &Scheduler<u64>) {
        let keys: Vec<usize> = self.flows.keys().copied().collect();
        for f in keys {
            let (shaper, seq) = self.split(s, f);
            let m = self.flows.get_mut(&f).unwrap();
            *m = FlowModel {
                held: m.held,
                max_shaper: shaper,
                max_sequencer: seq,
                ..FlowModel::default()
            };
        }
    }

    fn want(&self, f: usize) -> Figures {
        let m = self.flows.get(&f).copied().unwrap_or_default();
        Figures {
            max_shaper: m.max_shaper,
            avg_shaper: m.avg_shaper.read(),
            max_sequencer: m.max_sequencer,
            avg_sequencer: m.avg_sequencer.read(),
        }
    }

    fn check(&self, s: &Scheduler<u64>) {
        for f in 0..s.flow_count() {
            let got = Figures::of(&s.flow_stats(f).unwrap());
            assert_eq!(got, self.want(f), "flow {f}");
        }
        let got = Figures::of(&s.unclassified_stats());
        assert_eq!(got, self.want(UNCLASSIFIED), "unclassified");
    }
}

/// Index 0: shaped (15,000 B/s, one 1500-byte packet of bucket, peak
/// `peak`); 1: borrow; 2: discard; 3: borrow-plus.
fn flows(peak: Option<u64>) -> Vec<(u32, FlowSpec)> {
    let policed = |mode| FlowSpec {
        token_rate: Some(20_000),
        bucket: 6000,
        max_sdu: Some(3000),
        min_policed: 100,
        mode: Some(mode),
        ..FlowSpec::best_effort("p")
    };
    vec![
        (
            10,
            FlowSpec {
                token_rate: Some(15_000),
                bucket: 1500,
                peak_rate: peak,
                mode: Some(SdMode::Shape),
                ..FlowSpec::best_effort("shaped")
            },
        ),
        (11, policed(SdMode::Borrow)),
        (12, policed(SdMode::Discard)),
        (13, policed(SdMode::BorrowPlus)),
    ]
}

fn index(s: &Scheduler<u64>, flow: Option<usize>) -> usize {
    flow.filter(|&i| i < s.flow_count()).unwrap_or(UNCLASSIFIED)
}

/// The same send on both: `a` per packet (`enqueue_sized` + `dequeue`,
/// modelled), `b` through `submit_batch`.
fn send_both(
    a: &mut Scheduler<u64>,
    b: &mut Scheduler<u64>,
    m: &mut Model,
    now: u64,
    sends: &[(Option<usize>, SendSize)],
    first: u64,
) {
    let mut want = Vec::new();
    for (k, &(flow, size)) in sends.iter().enumerate() {
        let pkt = first + k as u64;
        match a.enqueue_sized(now, flow, size, pkt) {
            Ok(()) => {
                m.accepted(a, index(a, flow), size, pkt);
                if let Some(p) = m.dequeue(a, now) {
                    want.push(Ok(p));
                }
            }
            Err((p, _)) => want.push(Err(p)),
        }
    }
    let got: Vec<Result<u64, u64>> = batched(b, now, sends, first)
        .into_iter()
        .map(|r| match r {
            Submitted::Released(r) => Ok(r.pkt),
            Submitted::Dropped(p, _) => Err(p),
        })
        .collect();
    assert_eq!(got, want);
}

fn pair(limits: Limits, peak: Option<u64>) -> (Scheduler<u64>, Scheduler<u64>) {
    let mut a = Scheduler::new(limits).unwrap();
    let mut b = Scheduler::new(limits).unwrap();
    a.reconfigure(0, &flows(peak)).unwrap();
    b.reconfigure(0, &flows(peak)).unwrap();
    (a, b)
}

/// A shaped flow that always has 10 packets waiting in its shaper: every
/// arrival finds 10 there (itself included) and none in the sequencer (the
/// one the shaper released left at once). A policed flow and unclassified
/// traffic next to it never wait: each of their sends is alone in the
/// sequencer.
#[test]
fn a_standing_shaper_backlog_reads_its_length() {
    let (mut a, mut b) = pair(Limits::default(), None);
    let mut m = Model::new(0);
    let mut now = 0;
    let mut pkt = 0;
    let one = SendSize::single(1500);
    // The bucket passes the first; the next ten wait.
    for _ in 0..11 {
        send_both(&mut a, &mut b, &mut m, now, &[(Some(0), one)], pkt);
        pkt += 1;
    }
    assert_eq!(a.packets_in_shaper(), 10);
    for _ in 0..1000 {
        // The shaper's head is due and leaves; then a shaped send, a
        // policed one and an unclassified one (on `b` in one batch).
        now = a.next_event().unwrap();
        let out = m.dequeue(&mut a, now);
        assert!(out.is_some());
        assert_eq!(out, b.dequeue(now).map(|r| r.pkt));
        let sends = [
            (Some(0), one),
            (Some(1), SendSize::single(100)),
            (None, SendSize::single(100)),
        ];
        send_both(&mut a, &mut b, &mut m, now, &sends, pkt);
        pkt += 3;
        a.send_completed(3);
        b.send_completed(3);
        assert_same(&a, &b);
        m.check(&a);
    }
    assert_eq!(a.packets_in_shaper(), 10);
    let shaped = Figures::of(&a.flow_stats(0).unwrap());
    assert_eq!(
        shaped,
        Figures {
            max_shaper: 10,
            avg_shaper: 10,
            max_sequencer: 1,
            avg_sequencer: 0,
        }
    );
    let lone = Figures {
        max_shaper: 0,
        avg_shaper: 0,
        max_sequencer: 1,
        avg_sequencer: 1,
    };
    assert_eq!(Figures::of(&a.flow_stats(1).unwrap()), lone);
    assert_eq!(Figures::of(&a.unclassified_stats()), lone);
    // Nothing sent: nothing seen.
    assert_eq!(
        Figures::of(&a.flow_stats(2).unwrap()),
        Figures {
            max_shaper: 0,
            avg_shaper: 0,
            max_sequencer: 0,
            avg_sequencer: 0,
        }
    );
}

/// A flow held back by the outstanding-sends bound with 5 packets always
/// waiting in the sequencer: every arrival finds 5 (itself included). An
/// LSO send of 4 IP packets weighs 4 samples.
#[test]
fn a_standing_sequencer_backlog_reads_its_length() {
    let limits = Limits {
        max_outstanding: 1,
        ..Limits::default()
    };
    let (mut a, mut b) = pair(limits, None);
    let mut m = Model::new(0);
    let mut pkt = 0;
    let small = SendSize::single(100);
    for _ in 0..6 {
        send_both(&mut a, &mut b, &mut m, 0, &[(Some(3), small)], pkt);
        pkt += 1;
    }
    assert_eq!(a.packets_in_sequencer(), 5);
    for _ in 0..3000 {
        // One completes, the next leaves, a new one arrives behind 4.
        a.send_completed(1);
        b.send_completed(1);
        let out = m.dequeue(&mut a, 0);
        assert!(out.is_some());
        assert_eq!(out, b.dequeue(0).map(|r| r.pkt));
        send_both(&mut a, &mut b, &mut m, 0, &[(Some(3), small)], pkt);
        pkt += 1;
        assert_same(&a, &b);
        m.check(&a);
    }
    let backlog = Figures {
        max_shaper: 0,
        avg_shaper: 0,
        max_sequencer: 5,
        avg_sequencer: 5,
    };
    assert_eq!(Figures::of(&a.flow_stats(3).unwrap()), backlog);
    // The adapter's averages, sampled as packets leave (every 16th): one
    // send always outstanding, 4 left in the sequencer behind it.
    let seq = a.stats().sequencer;
    assert_eq!(seq.average_packets_in_netcard, 1);
    assert_eq!(seq.average_packets_in_sequencer, 4);
    assert_eq!(a.stats().shaper.average_packets_in_shaper, 0);
    // Drain it, then LSO sends that never wait: 4 samples of 1 each.
    for _ in 0..5 {
        a.send_completed(1);
        b.send_completed(1);
        m.dequeue(&mut a, 0).unwrap();
        b.dequeue(0).unwrap();
    }
    let lso = SendSize::tcp_lso(14 + 40 + 4 * 1000, 14, 40, 1000);
    assert_eq!(lso.normalized().packets, 4);
    for _ in 0..10 {
        a.send_completed(1);
        b.send_completed(1);
        send_both(&mut a, &mut b, &mut m, 0, &[(Some(3), lso)], pkt);
        pkt += 1;
        assert_same(&a, &b);
        m.check(&a);
    }
    let st = a.flow_stats(3).unwrap();
    assert_eq!(st.max_packets_in_sequencer, 5);
    // 40 samples of 1 after a long run of 5: 5 + (1 - 5) * (1 - (31/32)^40).
    assert_eq!(st.average_packets_in_sequencer, 2);
    // Clearing restarts the maxima from what is held and the averages.
    a.clear_stats();
    b.clear_stats();
    m.clear(&a);
    m.check(&a);
    assert_eq!(Figures::of(&a.flow_stats(3).unwrap()).avg_sequencer, 0);
}

#[derive(Debug, Clone)]
enum Op {
    Send(Vec<(Option<usize>, SendSize)>),
    Enqueue(Option<usize>, SendSize),
    Dequeue,
    Complete(u32),
    Advance(u64),
    ToNextEvent,
    Cancel(u64),
    Clear,
}

fn size() -> impl Strategy<Value = SendSize> {
    prop_oneof![
        5 => (20u32..3000).prop_map(SendSize::single),
        1 => (1u32..12_000, 40u32..60, 500u32..1500)
            .prop_map(|(payload, h, mss)| SendSize::tcp_lso(14 + h + payload, 14, h, mss)),
    ]
}

fn flow() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        3 => Just(Some(0)),
        2 => Just(Some(1)),
        1 => Just(Some(2)),
        1 => Just(Some(3)),
        1 => Just(None),
        1 => Just(Some(9)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((flow(), size()), 0..30).prop_map(Op::Send),
        4 => (flow(), size()).prop_map(|(f, s)| Op::Enqueue(f, s)),
        4 => Just(Op::Dequeue),
        3 => prop_oneof![0u32..3, 0u32..50].prop_map(Op::Complete),
        3 => (0u64..TICKS_PER_SEC / 2).prop_map(Op::Advance),
        2 => Just(Op::ToNextEvent),
        1 => (2u64..7).prop_map(Op::Cancel),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random sends (per packet on `a`, batched on `b`), single enqueues,
    /// dequeues under a small or large outstanding bound, completions,
    /// time, cancels and clears: `a`'s figures equal the model's after
    /// every step, and `b`'s statistics equal `a`'s.
    #[test]
    fn flow_queue_figures_match_the_model(
        ops in proptest::collection::vec(op(), 1..120),
        max_outstanding in prop_oneof![1u32..5, 30u32..100],
        queue_packets in prop_oneof![4u32..30, 200u32..300],
        peak in proptest::option::of(Just(30_000u64)),
        fast_path in proptest::bool::weighted(0.7),
    ) {
        let limits = Limits { queue_packets, queue_bytes: 60_000, max_outstanding };
        let (mut a, mut b) = pair(limits, peak);
        a.set_fast_path(fast_path);
        let mut m = Model::new(0);
        let mut now = 0u64;
        let mut next = 0u64;
        for op in ops {
            match op {
                Op::Send(sends) => {
                    send_both(&mut a, &mut b, &mut m, now, &sends, next);
                    next += sends.len() as u64;
                }
                Op::Enqueue(flow, size) => {
                    let x = a.enqueue_sized(now, flow, size, next);
                    let y = b.enqueue_sized(now, flow, size, next);
                    prop_assert_eq!(&x, &y);
                    if x.is_ok() {
                        m.accepted(&a, index(&a, flow), size, next);
                    }
                    next += 1;
                }
                Op::Dequeue => {
                    let x = m.dequeue(&mut a, now);
                    prop_assert_eq!(x, b.dequeue(now).map(|r| r.pkt));
                }
                Op::Complete(n) => {
                    a.send_completed(n);
                    b.send_completed(n);
                }
                Op::Advance(dt) => now += dt,
                Op::ToNextEvent => now = now.max(a.next_event().unwrap_or(now)),
                Op::Cancel(k) => {
                    let (mut x, mut y) = (vec![], vec![]);
                    a.remove_if(|p| p % k == 0, |p| x.push(p));
                    b.remove_if(|p| p % k == 0, |p| y.push(p));
                    prop_assert_eq!(&x, &y);
                    for p in x {
                        m.left(p);
                    }
                }
                Op::Clear => {
                    a.clear_stats();
                    b.clear_stats();
                    m.clear(&a);
                }
            }
            assert_same(&a, &b);
            m.check(&a);
        }
    }
}

/// Packets a reconfiguration moves into a flow's sequencer queues count in
/// its maximum: a shaped flow's backlog when it stops being shaped, a
/// removed flow's packets in the unclassified flow's.
#[test]
fn reconfiguration_moves_count_in_the_maximum() {
    let mut s: Scheduler<u64> = Scheduler::new(Limits::default()).unwrap();
    let mut specs = flows(None);
    s.reconfigure(0, &specs).unwrap();
    for p in 0..6 {
        s.enqueue(0, Some(0), 1500, p).unwrap();
    }
    // One conformed (in the sequencer), five wait in the shaper.
    assert_eq!((s.packets_in_sequencer(), s.packets_in_shaper()), (1, 5));
    let st = s.flow_stats(0).unwrap();
    assert_eq!(
        (st.max_packets_in_sequencer, st.max_packets_in_shaper),
        (1, 5)
    );
    specs[0].1.mode = Some(SdMode::Borrow);
    s.reconfigure(0, &specs).unwrap();
    assert_eq!(s.flow_stats(0).unwrap().max_packets_in_sequencer, 6);
    for p in 6..9 {
        s.enqueue(0, Some(1), 100, p).unwrap();
    }
    assert_eq!(s.flow_stats(1).unwrap().max_packets_in_sequencer, 3);
    // Flows 0 and 1 removed: their 9 packets go to the unclassified flow.
    s.reconfigure(0, &specs[2..]).unwrap();
    assert_eq!(s.unclassified_stats().max_packets_in_sequencer, 9);
    // Averages are sampled at arrivals only: the unclassified flow has
    // had none.
    assert_eq!(s.unclassified_stats().average_packets_in_sequencer, 0);
}
