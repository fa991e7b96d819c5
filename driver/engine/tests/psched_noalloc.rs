//! The datapath never allocates: enqueue, dequeue, send_completed and
//! next_event run under a counting global allocator, for shaped, policed and
//! unclassified traffic, including drops and shaper releases.

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::psched::{Limits, Scheduler};
use qos_engine::time::TICKS_PER_MS;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn datapath_does_not_allocate() {
    let mk = |st, mode, rate| FlowSpec {
        service_type: st,
        token_rate: Some(rate),
        bucket: 3000,
        mode: Some(mode),
        ..FlowSpec::best_effort("f")
    };
    let flows: Vec<(u32, FlowSpec)> = (0..300)
        .map(|i| {
            let spec = match i % 4 {
                0 => mk(ServiceType::Guaranteed, SdMode::Shape, 50_000),
                1 => mk(ServiceType::ControlledLoad, SdMode::Borrow, 50_000),
                2 => mk(ServiceType::NetworkControl, SdMode::Discard, 50_000),
                _ => mk(ServiceType::Qualitative, SdMode::BorrowPlus, 50_000),
            };
            (i, spec)
        })
        .collect();
    let mut s: Scheduler<u32> = Scheduler::new(Limits {
        queue_packets: 512,
        queue_bytes: 400_000,
        max_outstanding: 8,
    })
    .unwrap();
    s.reconfigure(0, &flows).unwrap();
    let mut x = 7u32;
    let (mut ok, mut dropped, mut sent) = (0, 0, 0);
    counting_alloc::start();
    let mut now = 0;
    for i in 0..200_000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let flow = (x % 301 != 300).then_some((x % 300) as usize);
        match s.enqueue(now, flow, 64 + x % 1400, i) {
            Ok(()) => ok += 1,
            Err(_) => dropped += 1,
        }
        if i % 3 == 0 {
            while let Some(r) = s.dequeue(now) {
                std::hint::black_box(r);
                sent += 1;
            }
            s.send_completed(x % 9);
            std::hint::black_box(s.next_event());
            now += TICKS_PER_MS / 10;
        }
    }
    let allocs = counting_alloc::stop();
    assert_eq!(allocs, 0, "allocations on the datapath");
    assert!(ok > 0 && dropped > 0 && sent > 0, "{ok} {dropped} {sent}");
    assert!(s.stats().shaper.max_packets_in_shaper > 0);
}

/// `submit_batch` (chains of up to 64 sends, both its short path and the
/// per-send fallback) allocates nothing either.
#[test]
fn batches_do_not_allocate() {
    use qos_engine::psched::{BatchItem, SendSize, Submitted};
    let mk = |st, mode, rate| FlowSpec {
        service_type: st,
        token_rate: Some(rate),
        bucket: 3000,
        mode: Some(mode),
        ..FlowSpec::best_effort("f")
    };
    let flows: Vec<(u32, FlowSpec)> = (0..300)
        .map(|i| {
            let spec = match i % 4 {
                0 => mk(ServiceType::Guaranteed, SdMode::Shape, 50_000),
                1 => mk(ServiceType::ControlledLoad, SdMode::Borrow, 50_000),
                2 => mk(ServiceType::NetworkControl, SdMode::Discard, 50_000),
                _ => mk(ServiceType::Qualitative, SdMode::BorrowPlus, 50_000),
            };
            (i, spec)
        })
        .collect();
    let mut s: Scheduler<u32> = Scheduler::new(Limits {
        queue_packets: 512,
        queue_bytes: 400_000,
        max_outstanding: 100,
    })
    .unwrap();
    s.reconfigure(0, &flows).unwrap();
    let mut x = 7u32;
    let (mut released, mut dropped) = (0u32, 0u32);
    counting_alloc::start();
    let mut now = 0;
    for chain in 0..5_000u32 {
        let len = 1 + chain % 64;
        let items = (0..len).map(|k| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            BatchItem {
                flow: (x % 301 != 300).then_some((x % 300) as usize),
                size: SendSize::single(64 + x % 1400),
                pkt: chain * 64 + k,
            }
        });
        s.submit_batch(now, items, |r| match r {
            Submitted::Released(r) => {
                std::hint::black_box(r);
                released += 1;
            }
            Submitted::Dropped(p, why) => {
                std::hint::black_box((p, why));
                dropped += 1;
            }
        });
        while let Some(r) = s.dequeue(now) {
            std::hint::black_box(r);
            released += 1;
        }
        s.send_completed(chain % 90);
        std::hint::black_box(s.next_event());
        now += TICKS_PER_MS / 10;
    }
    let allocs = counting_alloc::stop();
    assert_eq!(allocs, 0, "allocations on the batched datapath");
    assert!(released > 0 && dropped > 0, "{released} {dropped}");
    assert!(s.stats().shaper.max_packets_in_shaper > 0);
}
