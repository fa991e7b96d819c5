//! Random lifecycles (enqueue, dequeue, completions, time, reconfigurations
//! that add, remove, reorder and change flows, cancels, drains): no packet is
//! ever lost or duplicated, the counts agree with each other, `next_event`
//! is set exactly when the shaper holds packets, and a packet never leaves
//! before its flow's earlier packets of the same class.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::{Limits, Scheduler};

#[derive(Debug, Clone)]
enum Op {
    Enqueue(Option<usize>, u32),
    Dequeue,
    Complete(u32),
    Advance(u64),
    Reconfigure(Vec<(u32, u8, u8)>),
    Cancel(u64),
    Drain,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (proptest::option::of(0usize..6), 20u32..4000).prop_map(|(f, b)| Op::Enqueue(f, b)),
        6 => Just(Op::Dequeue),
        2 => (0u32..4).prop_map(Op::Complete),
        3 => (0u64..3_000_000).prop_map(Op::Advance),
        1 => proptest::collection::vec((0u32..8, 0u8..4, 0u8..5), 0..6).prop_map(Op::Reconfigure),
        1 => (2u64..7).prop_map(Op::Cancel),
        1 => Just(Op::Drain),
    ]
}

fn spec(mode: u8, st: u8) -> FlowSpec {
    let service_type = [
        ServiceType::BestEffort,
        ServiceType::ControlledLoad,
        ServiceType::Guaranteed,
        ServiceType::NetworkControl,
        ServiceType::Qualitative,
    ][usize::from(st)];
    FlowSpec {
        service_type,
        token_rate: Some(20_000),
        bucket: 4000,
        peak_rate: (mode == 0).then_some(40_000),
        max_sdu: (mode == 2).then_some(3000),
        min_policed: 100,
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn nothing_lost_nothing_duplicated(ops in proptest::collection::vec(op(), 1..300), max_out in 1u32..6) {
        let mut s: Scheduler<u64> = Scheduler::new(Limits { queue_packets: 40, queue_bytes: 60_000, max_outstanding: max_out }).unwrap();
        s.reconfigure(0, &[(0, spec(0, 2)), (1, spec(1, 1)), (2, spec(3, 0))]).unwrap();
        let mut now = 0u64;
        let mut next_id = 0u64;
        let mut held: HashMap<u64, u32> = HashMap::new();
        let mut returned: HashSet<u64> = HashSet::new();
        let mut outstanding = 0u32;
        // Per (flow id, conforming): the enqueue order of released packets.
        let mut flow_of: HashMap<u64, Option<u32>> = HashMap::new();
        let mut last_released: HashMap<(Option<u32>, bool), u64> = HashMap::new();
        for op in ops {
            match op {
                Op::Enqueue(flow, bytes) => {
                    let id = next_id;
                    next_id += 1;
                    let fid = flow.and_then(|f| s.flow_id(f));
                    match s.enqueue(now, flow, bytes, id) {
                        Ok(()) => {
                            held.insert(id, bytes);
                            flow_of.insert(id, fid);
                        }
                        Err((p, _)) => prop_assert_eq!(p, id),
                    }
                }
                Op::Dequeue => {
                    while let Some(r) = s.dequeue(now) {
                        prop_assert!(outstanding < max_out);
                        outstanding += 1;
                        prop_assert!(held.remove(&r.pkt).is_some(), "released twice or never held");
                        prop_assert!(returned.insert(r.pkt));
                        // FIFO within a flow and class, while the flow exists.
                        let fid = flow_of[&r.pkt];
                        if fid.is_some() && r.flow.and_then(|f| s.flow_id(f)) == fid {
                            let key = (fid, r.conforming);
                            if let Some(&prev) = last_released.get(&key) {
                                prop_assert!(prev < r.pkt, "reordered within {key:?}");
                            }
                            last_released.insert(key, r.pkt);
                        }
                    }
                }
                Op::Complete(n) => {
                    s.send_completed(n);
                    outstanding = outstanding.saturating_sub(n);
                }
                Op::Advance(dt) => now += dt,
                Op::Reconfigure(flows) => {
                    // Flow ids are unique in a configuration (the control
                    // plane guarantees it).
                    let mut seen = HashSet::new();
                    let flows: Vec<_> = flows
                        .into_iter()
                        .filter(|&(id, _, _)| seen.insert(id))
                        .map(|(id, m, st)| (id, spec(m, st)))
                        .collect();
                    s.reconfigure(now, &flows).unwrap();
                    // Class changes may legitimately reorder: restart the check.
                    last_released.clear();
                }
                Op::Cancel(k) => {
                    let mut got = Vec::new();
                    s.remove_if(|&p| p % k == 0, |p| got.push(p));
                    for p in got {
                        prop_assert_eq!(p % k, 0);
                        prop_assert!(held.remove(&p).is_some());
                        prop_assert!(returned.insert(p));
                    }
                    prop_assert!(held.keys().all(|p| p % k != 0));
                }
                Op::Drain => {
                    let mut got = Vec::new();
                    s.drain(|p| got.push(p));
                    prop_assert_eq!(got.len(), held.len());
                    for p in got {
                        prop_assert!(held.remove(&p).is_some());
                        prop_assert!(returned.insert(p));
                    }
                }
            }
            prop_assert_eq!(s.held_packets() as usize, held.len());
            prop_assert_eq!(s.held_bytes(), held.values().map(|&b| u64::from(b)).sum::<u64>());
            prop_assert_eq!(s.packets_in_shaper() + s.packets_in_sequencer(), s.held_packets());
            prop_assert_eq!(s.next_event().is_some(), s.packets_in_shaper() > 0);
            prop_assert!(s.held_packets() <= 40 && s.held_bytes() <= 60_000);
            prop_assert_eq!(s.outstanding(), outstanding);
        }
        // Everything still held comes out eventually.
        let mut t = now;
        for _ in 0..10_000 {
            s.send_completed(u32::MAX);
            while let Some(r) = s.dequeue(t) {
                prop_assert!(held.remove(&r.pkt).is_some());
                s.send_completed(1);
            }
            match s.next_event() {
                Some(e) => t = t.max(e),
                None => break,
            }
        }
        prop_assert!(held.is_empty(), "{} packets stuck", held.len());
    }
}
