//! Scheduler behaviour end to end: each mode and QOS2 behaviour, sizes,
//! bounded memory under overload, statistics, reconfiguration, drain and
//! cancel.

use qos_engine::flow::{FlowSpec, SdMode, ServiceType, ShapingBehavior};
use qos_engine::psched::{DropReason, Limits, Released, Scheduler};
use qos_engine::time::{TICKS_PER_MS, TICKS_PER_SEC};

/// 1000 B/s, 1500-byte bucket.
fn spec(mode: Option<SdMode>, shaping: Option<ShapingBehavior>) -> FlowSpec {
    FlowSpec {
        service_type: ServiceType::ControlledLoad,
        token_rate: Some(1000),
        bucket: 1500,
        mode,
        shaping,
        ..FlowSpec::best_effort("f")
    }
}

fn sched(flows: &[FlowSpec]) -> Scheduler<u32> {
    let mut s = Scheduler::new(Limits {
        queue_packets: 256,
        queue_bytes: 1 << 20,
        max_outstanding: 1000,
    })
    .unwrap();
    let flows: Vec<_> = flows
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, f)| (i as u32 + 100, f))
        .collect();
    s.reconfigure(0, &flows).unwrap();
    s
}

fn drain_at(s: &mut Scheduler<u32>, now: u64) -> Vec<Released<u32>> {
    let v: Vec<_> = std::iter::from_fn(|| s.dequeue(now)).collect();
    s.send_completed(v.len() as u32);
    v
}

/// Sends three 1000-byte packets at t = 0 into a flow of 1000 B/s with a
/// 1500-byte bucket: the first conforms, the next two exceed.
fn three_packets(s: &mut Scheduler<u32>) -> Vec<Result<(), DropReason>> {
    (0..3)
        .map(|i| s.enqueue(0, Some(0), 1000, i).map_err(|(_, r)| r))
        .collect()
}

#[test]
fn shape_holds_until_conforming() {
    for f in [
        spec(Some(SdMode::Shape), None),
        spec(None, Some(ShapingBehavior::ShapeOnly)),
        spec(None, Some(ShapingBehavior::ShapeAndMark)),
        FlowSpec {
            service_type: ServiceType::Guaranteed,
            ..spec(None, None)
        },
    ] {
        let mut s = sched(&[f]);
        assert!(three_packets(&mut s).iter().all(Result::is_ok));
        let now = drain_at(&mut s, 0);
        assert_eq!(
            now.iter()
                .map(|r| (r.pkt, r.conforming))
                .collect::<Vec<_>>(),
            [(0, true)]
        );
        // 500 bytes of credit left; the second needs 500 more: 0.5 s.
        assert_eq!(s.next_event(), Some(TICKS_PER_SEC / 2));
        assert!(drain_at(&mut s, TICKS_PER_SEC / 2 - 1).is_empty());
        let r = drain_at(&mut s, TICKS_PER_SEC / 2);
        assert_eq!(
            r.iter()
                .map(|r| (r.pkt, r.conforming, r.flow))
                .collect::<Vec<_>>(),
            [(1, true, Some(0))]
        );
        assert_eq!(s.next_event(), Some(TICKS_PER_SEC * 3 / 2));
        assert_eq!(drain_at(&mut s, 10 * TICKS_PER_SEC).len(), 1);
        assert_eq!(s.next_event(), None);
        let st = s.flow_stats(0).unwrap();
        assert_eq!(
            (
                st.packets_scheduled,
                st.packets_transmitted,
                st.nonconforming_packets_scheduled
            ),
            (3, 3, 0)
        );
        assert_eq!(st.max_packets_in_shaper, 2);
        assert_eq!(s.stats().shaper.max_packets_in_shaper, 2);
    }
}

#[test]
fn borrow_sends_now_marked_nonconforming() {
    for f in [
        spec(Some(SdMode::Borrow), None),
        spec(None, Some(ShapingBehavior::UseNonConformantMarkings)),
        spec(None, None), // controlled load defaults to borrow
    ] {
        let mut s = sched(&[f]);
        assert!(three_packets(&mut s).iter().all(Result::is_ok));
        let r = drain_at(&mut s, 0);
        assert_eq!(
            r.iter().map(|r| (r.pkt, r.conforming)).collect::<Vec<_>>(),
            [(0, true), (1, false), (2, false)]
        );
        assert_eq!(s.next_event(), None, "never delayed");
        // Non-conforming packets took no tokens: at 0.5 s one conforms.
        s.enqueue(TICKS_PER_SEC / 2, Some(0), 1000, 3).unwrap();
        assert!(drain_at(&mut s, TICKS_PER_SEC / 2)[0].conforming);
        let st = s.flow_stats(0).unwrap();
        assert_eq!(st.nonconforming_packets_scheduled, 2);
        assert_eq!(st.nonconforming_packets_transmitted, 2);
        assert_eq!(st.dropped_packets, 0);
    }
}

#[test]
fn discard_drops_excess_and_counts_it() {
    let mut s = sched(&[spec(Some(SdMode::Discard), None)]);
    assert_eq!(
        three_packets(&mut s),
        [
            Ok(()),
            Err(DropReason::Nonconforming),
            Err(DropReason::Nonconforming)
        ]
    );
    assert_eq!(drain_at(&mut s, 0).len(), 1);
    let st = s.flow_stats(0).unwrap();
    assert_eq!(
        (
            st.dropped_packets,
            st.drops.nonconforming,
            st.packets_scheduled
        ),
        (2, 2, 1)
    );
    assert_eq!(s.stats().adapter.drops.nonconforming, 2);
}

#[test]
fn borrow_plus_is_never_nonconforming() {
    let mut s = sched(&[
        spec(Some(SdMode::BorrowPlus), None),
        FlowSpec::best_effort("be"),
    ]);
    assert!(three_packets(&mut s).iter().all(Result::is_ok));
    s.enqueue(0, Some(1), 100, 9).unwrap();
    let r = drain_at(&mut s, 0);
    // Controlled load (its level) before best effort, all conforming.
    assert_eq!(
        r.iter().map(|r| (r.pkt, r.conforming)).collect::<Vec<_>>(),
        [(0, true), (1, true), (2, true), (9, true)]
    );
    assert_eq!(s.flow_stats(0).unwrap().nonconforming_packets_scheduled, 0);
}

#[test]
fn max_sdu_and_min_policed() {
    let f = |mode| FlowSpec {
        max_sdu: Some(1200),
        min_policed: 500,
        ..spec(Some(mode), None)
    };
    // Shape and discard drop oversize packets; borrow sends them non-conforming.
    for (mode, expect) in [
        (SdMode::Shape, Err(DropReason::OverMaxSdu)),
        (SdMode::Discard, Err(DropReason::OverMaxSdu)),
        (SdMode::Borrow, Ok(false)),
        (SdMode::BorrowPlus, Ok(true)),
    ] {
        let mut s = sched(&[f(mode)]);
        let got = s
            .enqueue(0, Some(0), 1201, 1)
            .map_err(|(_, r)| r)
            .map(|()| drain_at(&mut s, 0)[0].conforming);
        assert_eq!(got, expect, "{mode:?}");
        if expect.is_err() {
            assert_eq!(s.flow_stats(0).unwrap().drops.over_max_sdu, 1);
        }
    }
    // 40-byte packets are charged 500: three fit the 1500-byte bucket, not four.
    let mut s = sched(&[f(SdMode::Borrow)]);
    for i in 0..4 {
        s.enqueue(0, Some(0), 40, i).unwrap();
    }
    let c: Vec<_> = drain_at(&mut s, 0).iter().map(|r| r.conforming).collect();
    assert_eq!(c, [true, true, true, false]);
}

#[test]
fn unclassified_and_unknown_flows_are_best_effort() {
    let mut s = sched(&[spec(Some(SdMode::Shape), None)]);
    s.enqueue(0, None, 1500, 1).unwrap();
    s.enqueue(0, Some(7), 1500, 2).unwrap();
    let r = drain_at(&mut s, 0);
    assert_eq!(
        r.iter()
            .map(|r| (r.pkt, r.flow, r.conforming))
            .collect::<Vec<_>>(),
        [(1, None, true), (2, None, true)]
    );
    assert_eq!(s.stats().adapter.unknown_flow_packets, 1);
    assert_eq!(s.unclassified_stats().packets_transmitted, 2);
    // Unclassified traffic is never shaped, whatever the volume.
    for i in 0..200 {
        s.enqueue(0, None, 60_000, i).unwrap();
        assert_eq!(drain_at(&mut s, 0).len(), 1);
    }
}

#[test]
fn bounded_memory_under_overload() {
    let mut s = Scheduler::new(Limits {
        queue_packets: 100,
        queue_bytes: 60_000,
        max_outstanding: 4,
    })
    .unwrap();
    s.reconfigure(
        0,
        &[
            (
                1,
                FlowSpec {
                    token_rate: Some(10_000),
                    bucket: 1500,
                    mode: Some(SdMode::Shape),
                    ..FlowSpec::best_effort("slow")
                },
            ),
            (2, FlowSpec::best_effort("fast")),
        ],
    )
    .unwrap();
    let mut accepted = [0u64; 3];
    let mut dropped = [0u64; 3];
    let mut reasons = std::collections::HashMap::new();
    let mut sent = 0u64;
    let mut t = 0;
    for i in 0..100_000u32 {
        let flow = [Some(0), Some(1), None][i as usize % 3];
        let k = flow.unwrap_or(2);
        match s.enqueue(t, flow, 100 + (i % 1400), i) {
            Ok(()) => accepted[k] += 1,
            Err((p, r)) => {
                assert_eq!(p, i, "the dropped packet is given back");
                dropped[k] += 1;
                *reasons.entry(r).or_insert(0u64) += 1;
            }
        }
        assert!(s.held_packets() <= 100);
        assert!(s.held_bytes() <= 60_000);
        assert!(
            s.packets_in_shaper() <= 50,
            "one flow's shaper share is half"
        );
        if i % 10 == 0 {
            // A slow link: one packet per 10 arrivals.
            sent += drain_at(&mut s, t).len() as u64;
            t += TICKS_PER_MS;
        }
    }
    assert!(dropped.iter().all(|&d| d > 0), "{dropped:?}");
    for (k, st) in [
        s.flow_stats(0).unwrap(),
        s.flow_stats(1).unwrap(),
        s.unclassified_stats(),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(st.packets_scheduled, accepted[k]);
        assert_eq!(st.dropped_packets, dropped[k]);
        assert_eq!(st.drops.total(), dropped[k]);
    }
    let a = s.stats().adapter;
    assert_eq!(a.drops.total(), dropped.iter().sum::<u64>());
    assert_eq!(a.drops.queue_packets, a.out_of_packets);
    for (r, n) in &reasons {
        let c = match r {
            DropReason::QueuePackets => a.drops.queue_packets,
            DropReason::QueueBytes => a.drops.queue_bytes,
            DropReason::FlowQueue => a.drops.flow_queue,
            DropReason::Nonconforming => a.drops.nonconforming,
            DropReason::OverMaxSdu => a.drops.over_max_sdu,
        };
        assert_eq!(c, *n);
    }
    // Everything accepted is either sent or still held.
    let transmitted: u64 = [
        s.flow_stats(0).unwrap().packets_transmitted,
        s.flow_stats(1).unwrap().packets_transmitted,
        s.unclassified_stats().packets_transmitted,
    ]
    .iter()
    .sum();
    assert_eq!(transmitted, sent);
    assert_eq!(
        accepted.iter().sum::<u64>(),
        sent + u64::from(s.held_packets())
    );
    let seq = s.stats().sequencer;
    assert_eq!(seq.max_packets_in_netcard, 4);
    assert!(seq.max_packets_in_sequencer <= 100 && seq.max_packets_in_sequencer > 40);
    assert!(seq.average_packets_in_sequencer <= seq.max_packets_in_sequencer);
    assert!(s.stats().shaper.average_packets_in_shaper > 0);
}

#[test]
fn reconfigure_keeps_state_by_id_and_never_loses_packets() {
    let shaped = FlowSpec {
        mode: Some(SdMode::Shape),
        ..spec(None, None)
    };
    let mut s: Scheduler<u32> = Scheduler::new(Limits {
        queue_packets: 64,
        queue_bytes: 1 << 20,
        max_outstanding: 1000,
    })
    .unwrap();
    s.reconfigure(
        0,
        &[
            (10, shaped.clone()),
            (20, shaped.clone()),
            (30, shaped.clone()),
        ],
    )
    .unwrap();
    for f in 0..3 {
        for i in 0..3 {
            s.enqueue(0, Some(f), 1000, f as u32 * 10 + i).unwrap();
        }
    }
    // First packet of each flow conformed; 2 wait in each shaper.
    let r = drain_at(&mut s, 0);
    assert_eq!(r.len(), 3);
    assert_eq!(s.packets_in_shaper(), 6);
    // New order: 30 first, 20 removed, 10 now borrows, 40 is new.
    let borrow = FlowSpec {
        mode: Some(SdMode::Borrow),
        ..spec(None, None)
    };
    s.reconfigure(
        1,
        &[(30, shaped.clone()), (10, borrow), (40, shaped.clone())],
    )
    .unwrap();
    let a = s.stats().adapter;
    assert_eq!(
        (
            a.flows_opened,
            a.flows_closed,
            a.flows_modified,
            a.max_simultaneous_flows
        ),
        (4, 1, 1, 3)
    );
    assert_eq!(s.flow_id(0), Some(30));
    assert_eq!(s.flow_id(2), Some(40));
    // Flow 30 (now index 0) keeps its queue and its schedule.
    assert_eq!(s.packets_in_shaper(), 2);
    assert_eq!(s.next_event(), Some(TICKS_PER_SEC / 2));
    let r: Vec<_> = drain_at(&mut s, 1)
        .iter()
        .map(|r| (r.pkt, r.flow, r.conforming))
        .collect();
    // 10's shaped packets moved to its sequencer queue (level controlled
    // load); 20's packets went to unclassified best effort.
    assert_eq!(
        r,
        [
            (1, Some(1), true),
            (2, Some(1), true),
            (11, None, true),
            (12, None, true)
        ]
    );
    let r: Vec<_> = drain_at(&mut s, TICKS_PER_SEC / 2)
        .iter()
        .map(|r| (r.pkt, r.flow))
        .collect();
    assert_eq!(r, [(21, Some(0))]);
    // Statistics follow the flow id.
    assert_eq!(s.flow_stats(0).unwrap().packets_scheduled, 3);
    assert_eq!(s.flow_stats(1).unwrap().packets_transmitted, 3);
    assert_eq!(s.flow_stats(2).unwrap().packets_scheduled, 0);
    assert_eq!(s.unclassified_stats().packets_transmitted, 2);
    assert_eq!(s.flow_stats(3), None);
    // Removing every flow sends what is left as best effort.
    s.reconfigure(2, &[]).unwrap();
    let r: Vec<_> = drain_at(&mut s, TICKS_PER_SEC / 2)
        .iter()
        .map(|r| (r.pkt, r.flow))
        .collect();
    assert_eq!(r, [(22, None)]);
    assert_eq!(s.held_packets(), 0);
    assert_eq!(s.next_event(), None);
}

#[test]
fn drain_and_remove_if() {
    let mut s = sched(&[spec(Some(SdMode::Shape), None), FlowSpec::best_effort("be")]);
    for i in 0..10 {
        s.enqueue(0, Some((i % 2) as usize), 1000, i).unwrap();
    }
    assert_eq!(s.held_packets(), 10);
    let mut cancelled = Vec::new();
    s.remove_if(|&p| p % 3 == 0, |p| cancelled.push(p));
    cancelled.sort_unstable();
    assert_eq!(cancelled, [0, 3, 6, 9]);
    assert_eq!(s.held_packets(), 6);
    assert_eq!(s.held_bytes(), 6000);
    // Order of what remains is kept. Shaped packet 0 had conformed (and was
    // cancelled from the sequencer: the credit it took is spent); 2, 4, 8
    // still wait for credit.
    let r: Vec<_> = drain_at(&mut s, 0).iter().map(|r| r.pkt).collect();
    assert_eq!(r, [1, 5, 7]);
    let mut drained = Vec::new();
    s.drain(|p| drained.push(p));
    assert_eq!(drained, [2, 4, 8]);
    assert_eq!(
        (
            s.held_packets(),
            s.held_bytes(),
            s.packets_in_shaper(),
            s.next_event()
        ),
        (0, 0, 0, None)
    );
    // Still works afterwards.
    s.enqueue(TICKS_PER_SEC * 10, Some(0), 1000, 42).unwrap();
    assert_eq!(drain_at(&mut s, TICKS_PER_SEC * 10)[0].pkt, 42);
}

#[test]
fn statistics_can_be_cleared_and_rejections_counted() {
    let mut s = sched(&[spec(Some(SdMode::Discard), None)]);
    let _ = three_packets(&mut s);
    drain_at(&mut s, 0);
    s.count_rejected(false);
    s.count_rejected(true);
    assert_eq!(
        (
            s.stats().adapter.flows_rejected,
            s.stats().adapter.flow_mods_rejected
        ),
        (1, 1)
    );
    s.clear_stats();
    assert_eq!(s.flow_stats(0).unwrap(), Default::default());
    assert_eq!(s.stats().adapter.drops.total(), 0);
    assert_eq!(s.stats().adapter.max_simultaneous_flows, 1);
}

#[test]
fn time_going_backwards_is_harmless() {
    let mut s = sched(&[spec(Some(SdMode::Shape), None)]);
    s.enqueue(TICKS_PER_SEC, Some(0), 1500, 1).unwrap();
    s.enqueue(TICKS_PER_SEC, Some(0), 1000, 2).unwrap();
    assert_eq!(drain_at(&mut s, TICKS_PER_SEC).len(), 1);
    let deadline = s.next_event().unwrap();
    s.enqueue(0, Some(0), 1000, 3).unwrap();
    assert!(drain_at(&mut s, 0).is_empty());
    assert_eq!(s.next_event(), Some(deadline));
    assert_eq!(drain_at(&mut s, deadline).len(), 1);
}

#[test]
fn limits_are_validated() {
    for l in [
        Limits {
            queue_packets: 0,
            ..Limits::default()
        },
        Limits {
            queue_bytes: 0,
            ..Limits::default()
        },
        Limits {
            max_outstanding: 0,
            ..Limits::default()
        },
        Limits {
            queue_packets: (1 << 24) + 1,
            ..Limits::default()
        },
    ] {
        assert!(Scheduler::<u8>::new(l).is_err());
    }
    Scheduler::<u8>::new(Limits::default()).unwrap();
}
