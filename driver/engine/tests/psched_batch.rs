//! Differential test of `Scheduler::submit_batch` against the per-send
//! calls it stands for: the same random sequence of operations on two
//! schedulers, one submitting chains with `submit_batch`, the other the
//! same sends one by one with `enqueue_sized` + one `dequeue` each (the
//! driver's per-NBL path), interleaved with every other call (dequeues
//! under a small or large outstanding bound, completions, time jumps,
//! shaper deadlines, reconfigurations, cancels, drains, quantum changes,
//! single enqueues). Every mode (shape, borrow, discard, borrow-plus,
//! unlimited), unclassified and unknown flow indexes, LSO sizes, byte and
//! slot limits that bite. After every step: the same outcomes in the same
//! order (released packets with flow and conformance, refused packets with
//! their reason), the same `next_event`, and every statistic and count
//! equal.

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode};
use qos_engine::psched::{BatchItem, Limits, Scheduler, SendSize, Submitted};

#[path = "support/psched_model.rs"]
mod model;
use model::{Common, assert_same};

#[path = "support/psched_chain.rs"]
mod chain;
use chain::{batched, one_by_one};

#[derive(Debug, Clone)]
enum Op {
    Batch(Vec<(Option<usize>, SendSize)>),
    Enqueue(Option<usize>, SendSize),
    C(Common),
}

fn size() -> impl Strategy<Value = SendSize> {
    prop_oneof![
        6 => (20u32..4000).prop_map(SendSize::single),
        1 => (1u32..20_000, 40u32..60, 200u32..1500)
            .prop_map(|(payload, h, mss)| SendSize::tcp_lso(14 + h + payload, 14, h, mss)),
        // Not normalized: the scheduler normalizes.
        1 => (0u32..5000, 0u32..3000, 0u32..6).prop_map(|(b, l, p)| SendSize {
            ip_bytes: b,
            largest_ip_packet: l,
            packets: p,
        }),
    ]
}

fn send() -> impl Strategy<Value = (Option<usize>, SendSize)> {
    (proptest::option::of(0usize..7), size())
}

/// Chains: mostly runs of one flow (one socket's sends), sometimes mixed.
fn chain() -> impl Strategy<Value = Vec<(Option<usize>, SendSize)>> {
    prop_oneof![
        proptest::collection::vec(send(), 0..70),
        (
            proptest::option::of(0usize..7),
            proptest::collection::vec(size(), 1..70)
        )
            .prop_map(|(f, sizes)| sizes.into_iter().map(|s| (f, s)).collect()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => chain().prop_map(Op::Batch),
        3 => send().prop_map(|(f, b)| Op::Enqueue(f, b)),
        3 => Just(Op::C(Common::Dequeue)),
        3 => Just(Op::C(Common::DequeueAll)),
        4 => prop_oneof![0u32..4, 0u32..100].prop_map(|n| Op::C(Common::Complete(n))),
        3 => prop_oneof![0u64..3_000, 0u64..3_000_000].prop_map(|t| Op::C(Common::Advance(t))),
        2 => Just(Op::C(Common::ToNextEvent)),
        1 => proptest::collection::vec((0u32..8, 0u8..5, 0u8..5), 0..6)
            .prop_map(|f| Op::C(Common::Reconfigure(f))),
        1 => (2u64..7).prop_map(|m| Op::C(Common::Cancel(m))),
        1 => Just(Op::C(Common::Drain)),
        1 => (200u32..3000).prop_map(|q| Op::C(Common::Quantum(q))),
    ]
}

/// The flows of this test: 200,000 bytes/s, MaxSduSize on shaped flows.
fn spec(mode: u8, st: u8) -> FlowSpec {
    model::spec(mode, st, 200_000, true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn batch_equals_per_send_calls(
        ops in proptest::collection::vec(op(), 1..120),
        max_out in prop_oneof![1u32..6, 40u32..200],
        queue_packets in prop_oneof![4u32..40, 200u32..400],
        queue_bytes in prop_oneof![Just(60_000u64), Just(1u64 << 30)],
        fast_path in proptest::bool::weighted(0.9),
    ) {
        let limits = Limits { queue_packets, queue_bytes, max_outstanding: max_out };
        let mut batch: Scheduler<u64> = Scheduler::new(limits).unwrap();
        let mut single: Scheduler<u64> = Scheduler::new(limits).unwrap();
        batch.set_fast_path(fast_path);
        let initial = [(0, spec(0, 2)), (1, spec(1, 1)), (2, spec(3, 0)), (3, spec(4, 0)), (4, spec(2, 3))];
        batch.reconfigure(0, &initial).unwrap();
        single.reconfigure(0, &initial).unwrap();
        let mut now = 0u64;
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Batch(sends) => {
                    let a = batched(&mut batch, now, &sends, next_id);
                    let b = one_by_one(&mut single, now, &sends, next_id);
                    next_id += sends.len() as u64;
                    prop_assert_eq!(a, b);
                }
                Op::Enqueue(flow, size) => {
                    next_id += 1;
                    let a = batch.enqueue_sized(now, flow, size, next_id);
                    let b = single.enqueue_sized(now, flow, size, next_id);
                    prop_assert_eq!(a, b);
                }
                Op::C(op) => model::apply(op, &mut batch, &mut single, &mut now, spec)?,
            }
            assert_same(&batch, &single);
        }
    }
}

/// A chain of one policed flow through an idle scheduler: every send comes
/// straight back, about half of them non-conforming, and the counters add up.
#[test]
fn policed_chain_comes_straight_back() {
    let limits = Limits {
        queue_packets: 16,
        queue_bytes: 1 << 20,
        max_outstanding: 1000,
    };
    let mut s: Scheduler<u64> = Scheduler::new(limits).unwrap();
    let borrow = FlowSpec {
        token_rate: Some(1000),
        bucket: 3000,
        mode: Some(SdMode::Borrow),
        ..FlowSpec::best_effort("b")
    };
    s.reconfigure(0, &[(7, borrow)]).unwrap();
    let items = (0..64u64).map(|i| BatchItem {
        flow: Some(0),
        size: SendSize::single(1000),
        pkt: i,
    });
    let mut out = Vec::new();
    s.submit_batch(5, items, |r| out.push(r));
    assert_eq!(out.len(), 64);
    let conforming: Vec<bool> = out
        .iter()
        .map(|r| match r {
            Submitted::Released(r) => r.conforming,
            Submitted::Dropped(..) => panic!("dropped"),
        })
        .collect();
    // The 3000-byte bucket passes three 1000-byte packets.
    assert_eq!(conforming.iter().filter(|&&c| c).count(), 3);
    let f = s.flow_stats(0).unwrap();
    assert_eq!((f.packets_scheduled, f.packets_transmitted), (64, 64));
    assert_eq!((f.bytes_scheduled, f.bytes_transmitted), (64_000, 64_000));
    assert_eq!(
        (
            f.nonconforming_packets_scheduled,
            f.nonconforming_packets_transmitted
        ),
        (61, 61)
    );
    assert_eq!(s.stats().sequencer.nonconforming_packets_transmitted, 61);
    assert_eq!(s.stats().sequencer.max_packets_in_netcard, 64);
    assert_eq!(s.stats().sequencer.max_packets_in_sequencer, 1);
    assert_eq!(s.outstanding(), 64);
    assert_eq!(s.held_packets(), 0);
}

/// The same equality with more flows than `submit_batch`'s touch-ahead
/// threshold (it then loads the next send's line ahead): 700 flows of
/// every mode, chains of random flows, time, completions and dequeues in
/// between.
#[test]
fn batch_with_many_flows_equals_per_send_calls() {
    let limits = Limits {
        queue_packets: 64,
        queue_bytes: 200_000,
        max_outstanding: 48,
    };
    let mut batch: Scheduler<u64> = Scheduler::new(limits).unwrap();
    let mut single: Scheduler<u64> = Scheduler::new(limits).unwrap();
    let flows: Vec<(u32, FlowSpec)> = (0..700u32)
        .map(|i| (i, spec((i % 5) as u8, (i / 5 % 5) as u8)))
        .collect();
    batch.reconfigure(0, &flows).unwrap();
    single.reconfigure(0, &flows).unwrap();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut now, mut id) = (0u64, 0u64);
    for _ in 0..400 {
        let len = (next() % 70) as usize;
        let sends: Vec<(Option<usize>, SendSize)> = (0..len)
            .map(|_| {
                let f = match next() % 20 {
                    0 => None,
                    1 => Some(5000),
                    _ => Some((next() % 700) as usize),
                };
                (f, SendSize::single(20 + (next() % 3000) as u32))
            })
            .collect();
        let a = batched(&mut batch, now, &sends, id);
        let b = one_by_one(&mut single, now, &sends, id);
        assert_eq!(a, b);
        id += len as u64;
        match next() % 4 {
            0 => loop {
                let (x, y) = (batch.dequeue(now), single.dequeue(now));
                assert_eq!(x, y);
                if x.is_none() {
                    break;
                }
            },
            1 => {
                let n = (next() % 60) as u32;
                batch.send_completed(n);
                single.send_completed(n);
            }
            _ => now += next() % 200_000,
        }
        assert_same(&batch, &single);
    }
}
