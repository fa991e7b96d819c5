//! The scheduler's per-flow counters against a plain model of what was seen.
//!
//! The scheduler keeps only the *scheduled* counters in a flow's hot line
//! and derives the *transmitted* ones (scheduled minus what still waits in a
//! queue), so this test counts from the outside, per flow id, exactly what
//! the calls returned: packets and bytes accepted by `enqueue_sized` and the
//! batch calls (scheduled), packets handed out by `dequeue` or reported
//! released by a batch (transmitted, non-conforming transmitted), through
//! clears, cancels, drains and reconfigurations that move, keep or remove
//! flows. It also checks the marks that `submit_batch_marked` and
//! `dequeue_marked` give against `mark::decide` on the flow's spec.

use std::collections::HashMap;

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode, ServiceType, ShapingBehavior};
use qos_engine::mark::{MarkMaps, Marks, PerServiceType, decide};
use qos_engine::psched::{BatchItem, FlowStats, Limits, Released, Scheduler, SendSize, Submitted};

#[derive(Debug, Clone)]
enum Op {
    Enqueue(Option<usize>, SendSize),
    Batch(Vec<(Option<usize>, SendSize)>),
    Dequeue,
    DequeueAll,
    Complete(u32),
    Advance(u64),
    ToNextEvent,
    Reconfigure(Vec<(u32, u8, u8)>),
    Cancel(u64),
    Drain,
    Clear,
}

fn size() -> impl Strategy<Value = SendSize> {
    prop_oneof![
        5 => (0u32..4000).prop_map(SendSize::single),
        1 => (1u32..20_000, 40u32..60, 200u32..1500)
            .prop_map(|(payload, h, mss)| SendSize::tcp_lso(14 + h + payload, 14, h, mss)),
    ]
}

fn send() -> impl Strategy<Value = (Option<usize>, SendSize)> {
    (proptest::option::of(0usize..7), size())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => send().prop_map(|(f, b)| Op::Enqueue(f, b)),
        6 => proptest::collection::vec(send(), 0..40).prop_map(Op::Batch),
        4 => Just(Op::Dequeue),
        3 => Just(Op::DequeueAll),
        3 => prop_oneof![0u32..4, 0u32..100].prop_map(Op::Complete),
        3 => (0u64..3_000_000).prop_map(Op::Advance),
        2 => Just(Op::ToNextEvent),
        1 => proptest::collection::vec((0u32..8, 0u8..5, 0u8..5), 0..6).prop_map(Op::Reconfigure),
        1 => (2u64..7).prop_map(Op::Cancel),
        1 => Just(Op::Drain),
        1 => Just(Op::Clear),
    ]
}

/// Mode 0 shape (with a peak), 1 borrow, 2 discard, 3 borrow-plus, 4
/// unlimited; service type by index; DCLASS / TCLASS / QOS2 shaping vary
/// with the service type so that the marks differ between flows.
fn spec(mode: u8, st: u8) -> FlowSpec {
    let service_type = [
        ServiceType::BestEffort,
        ServiceType::ControlledLoad,
        ServiceType::Guaranteed,
        ServiceType::NetworkControl,
        ServiceType::Qualitative,
    ][usize::from(st)];
    if mode == 4 {
        return FlowSpec {
            service_type,
            ..FlowSpec::best_effort("unlimited")
        };
    }
    FlowSpec {
        service_type,
        token_rate: Some(20_000),
        bucket: 6000,
        peak_rate: (mode == 0 || st == 3).then_some(40_000),
        max_sdu: (mode != 3).then_some(3000),
        min_policed: 100,
        dclass: (st == 1).then_some(46),
        tclass: (st == 2).then_some(6),
        shaping: match st {
            3 => Some(ShapingBehavior::ShapeOnly),
            4 => Some(ShapingBehavior::UseNonConformantMarkings),
            _ => None,
        },
        mode: Some(
            [
                SdMode::Shape,
                SdMode::Borrow,
                SdMode::Discard,
                SdMode::BorrowPlus,
            ][usize::from(mode)],
        ),
        ..FlowSpec::best_effort("f")
    }
}

/// Counters of one flow as seen from the outside.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    packets_scheduled: u64,
    bytes_scheduled: u64,
    packets_transmitted: u64,
    bytes_transmitted: u64,
    nonconforming_transmitted: u64,
}

impl Seen {
    /// The same counters as the scheduler reports them.
    fn reported(got: &FlowStats) -> Self {
        Self {
            packets_scheduled: got.packets_scheduled,
            bytes_scheduled: got.bytes_scheduled,
            packets_transmitted: got.packets_transmitted,
            bytes_transmitted: got.bytes_transmitted,
            nonconforming_transmitted: got.nonconforming_packets_transmitted,
        }
    }
}

/// The model: counters per flow id (`None`: the unclassified flow), the
/// configuration in force, each packet's size.
struct Model {
    config: Vec<(u32, FlowSpec)>,
    maps: MarkMaps,
    seen: HashMap<Option<u32>, Seen>,
    sizes: HashMap<u64, SendSize>,
}

impl Model {
    /// The flow id an index stands for (`None`: unclassified, including
    /// indexes beyond the configuration).
    fn id(&self, flow: Option<usize>) -> Option<u32> {
        flow.and_then(|i| self.config.get(i)).map(|(id, _)| *id)
    }

    fn scheduled(&mut self, flow: Option<usize>, size: SendSize) {
        let size = size.normalized();
        let s = self.seen.entry(self.id(flow)).or_default();
        s.packets_scheduled += u64::from(size.packets);
        s.bytes_scheduled += u64::from(size.ip_bytes);
    }

    /// A packet handed out; checks its marks when the call gave them.
    fn released(&mut self, r: &Released<u64>, marks: Option<Marks>) {
        let size = self.sizes[&r.pkt].normalized();
        let s = self.seen.entry(self.id(r.flow)).or_default();
        s.packets_transmitted += u64::from(size.packets);
        s.bytes_transmitted += u64::from(size.ip_bytes);
        if !r.conforming {
            s.nonconforming_transmitted += u64::from(size.packets);
        }
        if let Some(m) = marks {
            let want = r.flow.map_or(Marks::default(), |i| {
                decide(&self.maps, &self.config[i].1, r.conforming)
            });
            assert_eq!(m, want, "marks of {r:?}");
        }
    }

    fn check(&self, s: &Scheduler<u64>) {
        let mut want: Vec<(Option<u32>, Seen)> = Vec::new();
        for (i, (id, _)) in self.config.iter().enumerate() {
            want.push((
                Some(*id),
                self.seen.get(&Some(*id)).copied().unwrap_or_default(),
            ));
            let got = s.flow_stats(i).unwrap();
            let seen = want.last().unwrap().1;
            assert_eq!(Seen::reported(&got), seen, "flow {id} (index {i})");
            assert_eq!(
                s.flow_marks(i),
                Some(qos_engine::mark::FlowMarks::new(
                    &self.maps,
                    &self.config[i].1
                ))
            );
        }
        let got = s.unclassified_stats();
        let seen = self.seen.get(&None).copied().unwrap_or_default();
        assert_eq!(Seen::reported(&got), seen, "unclassified");
        assert_eq!(s.flow_marks(self.config.len()), None);
    }
}

fn custom_maps() -> MarkMaps {
    let mut m = MarkMaps {
        non_conforming_dscp: PerServiceType::all(8),
        non_conforming_priority: 2,
        ..MarkMaps::default()
    };
    m.conforming_dscp.set(ServiceType::BestEffort, 10);
    m.priority.set(ServiceType::Qualitative, 3);
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn counters_and_marks_match_what_was_seen(
        ops in proptest::collection::vec(op(), 1..150),
        max_out in prop_oneof![1u32..6, 40u32..200],
        queue_packets in prop_oneof![4u32..40, 200u32..400],
        custom in any::<bool>(),
        fast_path in proptest::bool::weighted(0.8),
    ) {
        let limits = Limits { queue_packets, queue_bytes: 80_000, max_outstanding: max_out };
        let mut s: Scheduler<u64> = Scheduler::new(limits).unwrap();
        s.set_fast_path(fast_path);
        let maps = if custom { custom_maps() } else { MarkMaps::default() };
        let initial: Vec<(u32, FlowSpec)> = vec![
            (0, spec(0, 2)), (1, spec(1, 1)), (2, spec(3, 0)), (3, spec(4, 3)), (4, spec(2, 4)),
        ];
        s.reconfigure_marked(0, &initial, &maps).unwrap();
        let mut m = Model { config: initial, maps, seen: HashMap::new(), sizes: HashMap::new() };
        let mut now = 0u64;
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Enqueue(flow, size) => {
                    next_id += 1;
                    m.sizes.insert(next_id, size);
                    if s.enqueue_sized(now, flow, size, next_id).is_ok() {
                        m.scheduled(flow, size);
                    }
                }
                Op::Batch(sends) => {
                    let first = next_id + 1;
                    for (k, &(_, size)) in sends.iter().enumerate() {
                        m.sizes.insert(first + k as u64, size);
                    }
                    next_id += sends.len() as u64;
                    let items = sends.iter().enumerate().map(|(k, &(flow, size))| BatchItem {
                        flow,
                        size,
                        pkt: first + k as u64,
                    });
                    let mut out = Vec::new();
                    s.submit_batch_marked(now, items, |r, marks| out.push((r, marks)));
                    let mut dropped = std::collections::HashSet::new();
                    for (r, marks) in &out {
                        match r {
                            Submitted::Released(r) => m.released(r, Some(*marks)),
                            Submitted::Dropped(p, _) => {
                                prop_assert_eq!(*marks, Marks::default());
                                dropped.insert(*p);
                            }
                        }
                    }
                    for (k, &(flow, size)) in sends.iter().enumerate() {
                        if !dropped.contains(&(first + k as u64)) {
                            m.scheduled(flow, size);
                        }
                    }
                }
                Op::Dequeue => {
                    if let Some((r, marks)) = s.dequeue_marked(now) {
                        m.released(&r, Some(marks));
                    }
                }
                Op::DequeueAll => {
                    while let Some(r) = s.dequeue(now) {
                        m.released(&r, None);
                    }
                }
                Op::Complete(n) => s.send_completed(n),
                Op::Advance(dt) => now += dt,
                Op::ToNextEvent => now = now.max(s.next_event().unwrap_or(now)),
                Op::Reconfigure(flows) => {
                    let mut seen = std::collections::HashSet::new();
                    let flows: Vec<_> = flows
                        .into_iter()
                        .filter(|(id, _, _)| seen.insert(*id))
                        .map(|(id, mode, st)| (id, spec(mode, st)))
                        .collect();
                    s.reconfigure(now, &flows).unwrap();
                    // Flows that stay keep their counters; removed ones are
                    // gone (a later flow with the same id starts afresh).
                    m.seen.retain(|id, _| id.is_none_or(|id| seen.contains(&id)));
                    m.config = flows;
                }
                Op::Cancel(k) => s.remove_if(|p| p % k == 0, |_| ()),
                Op::Drain => s.drain(|_| ()),
                Op::Clear => {
                    s.clear_stats();
                    m.seen.clear();
                }
            }
            m.check(&s);
        }
    }
}
