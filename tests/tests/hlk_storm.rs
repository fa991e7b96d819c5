//! HLK-style stress: 1,000 attach / restart / pause / detach cycles with
//! traffic both ways and non-empty shaper queues at every pause; and
//! several threads sending while others publish configurations and pause /
//! restart, on the real-time clock. Every NBL is completed exactly once
//! with the right status.

use qos_engine::psched::Limits;
use qoslwf::ffi::types::*;
use qoslwf::sim::{AdapterSpec, Sim, TxPacket};
use qoslwf_tests::frames::FrameSpec;
use qoslwf_tests::hlk::{assert_clean, publish_shaped, unload_clean};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const SMALL: Limits = Limits {
    queue_packets: 64,
    queue_bytes: 1 << 20,
    max_outstanding: 8,
};

#[test]
fn thousand_lifecycle_cycles_with_traffic_and_full_queues_at_every_pause() {
    let mut sim = Sim::new();
    assert_eq!(sim.load(), 0);
    let shaped = FrameSpec::udp4(9, 5001, 472).build();
    let bulk = FrameSpec::tcp4(9, 443, 200).build();
    let rx = FrameSpec::udp6(53, 9, 64).build();
    let (mut total_sent, mut total_paused) = (0u64, 0u64);
    for cycle in 0..1000u32 {
        let a = sim.attach(&AdapterSpec::ethernet(1 + cycle % 4)).unwrap();
        // Sends before restart bounce with PAUSED.
        a.send(&[TxPacket::frame(&bulk)], 0);
        assert_eq!(a.restart(), 0);
        publish_shaped(&a, 20_000, SMALL);
        a.set_miniport_hold(cycle % 3 == 0);
        let mut pkts: Vec<TxPacket> = (0..12).map(|_| TxPacket::frame(&shaped)).collect();
        pkts.extend((0..4).map(|_| TxPacket::frame(&bulk)));
        a.send(
            &pkts,
            if cycle % 2 == 0 {
                0
            } else {
                NDIS_SEND_FLAGS_DISPATCH_LEVEL
            },
        );
        let flags = if cycle % 2 == 0 {
            0
        } else {
            NDIS_RECEIVE_FLAGS_RESOURCES
        };
        a.receive(&[TxPacket::frame(&rx), TxPacket::frame(&rx)], flags);
        sim.advance(10_000 * u64::from(cycle % 5));
        let held = a.module().unwrap().held();
        assert!(
            held > 0,
            "cycle {cycle}: shaper queue must be non-empty at pause"
        );
        let st = a.pause();
        if st == NDIS_STATUS_PENDING {
            assert!(a.miniport_held() > 0);
            a.complete_held(usize::MAX);
        } else {
            assert_eq!(st, NDIS_STATUS_SUCCESS);
        }
        assert!(a.is_paused(), "cycle {cycle}");
        let counts = a.completion_counts();
        let paused = counts.get(&NDIS_STATUS_PAUSED).copied().unwrap_or(0);
        assert_eq!(paused, 1 + u64::from(held), "cycle {cycle}: {counts:?}");
        assert_eq!(
            counts.values().sum::<u64>(),
            17,
            "cycle {cycle}: {counts:?}"
        );
        assert_eq!(a.take_received().len(), 2);
        total_sent += 17;
        total_paused += paused;
        a.detach();
        assert_clean(&sim, &[a]);
        assert_eq!(sim.live().nbls, 0);
        assert_eq!(sim.live().timers, 0);
    }
    assert!(total_paused > 1000 && total_paused < total_sent);
    unload_clean(sim);
}

#[test]
fn concurrent_senders_config_swaps_and_pause_restart_on_real_time() {
    let mut sim = Sim::new_realtime();
    assert_eq!(sim.load(), 0);
    let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
    assert_eq!(a.restart(), 0);
    a.set_recording(false);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for t in 0..3u16 {
        let (a, stop, sent) = (a.clone(), stop.clone(), sent.clone());
        threads.push(std::thread::spawn(move || {
            let f = FrameSpec::udp4(t, if t == 0 { 80 } else { 5001 }, 100).build();
            let g = FrameSpec::udp6(t, 5001, 100).build();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 3000 {
                let batch = [TxPacket::frame(&f), TxPacket::frame(&g).with_cancel_id(7)];
                a.send(&batch, NDIS_SEND_FLAGS_DISPATCH_LEVEL);
                sent.fetch_add(2, Ordering::Relaxed);
                i += 1;
                if i % 64 == 0 {
                    a.cancel(7);
                }
            }
        }));
    }
    {
        let a = a.clone();
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 300 {
                if i % 3 == 0 {
                    a.module().unwrap().publish(None).unwrap();
                } else {
                    publish_shaped(&a, 1_000_000 + i * 1000, Limits::default());
                }
                if i % 50 == 25 {
                    let st = a.pause();
                    while st == NDIS_STATUS_PENDING && !a.is_paused() {
                        std::thread::yield_now();
                    }
                    assert_eq!(a.restart(), 0);
                }
                i += 1;
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let st = a.pause();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while st == NDIS_STATUS_PENDING && !a.is_paused() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(a.is_paused());
    let total: u64 = a.completion_counts().values().sum();
    assert_eq!(
        total,
        sent.load(Ordering::Relaxed),
        "{:?}",
        a.completion_counts()
    );
    assert_clean(&sim, std::slice::from_ref(&a));
    a.detach();
    unload_clean(sim);
}
