//! The datapath never allocates: enqueue, dequeue, send_completed and
//! next_event, and the batched calls (with and without marks), run under a
//! counting global allocator, for shaped, policed and unclassified traffic,
//! including drops and shaper releases.

use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::mark::{MarkMaps, Marks};
use qos_engine::psched::{BatchItem, Limits, Scheduler, SendSize, Submitted};
use qos_engine::time::TICKS_PER_MS;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// `n` flows cycling through shaped (guaranteed), policed (controlled
/// load), discard (network control) and borrow-plus (qualitative) at
/// 50,000 bytes/s, on a scheduler of 512 slots and 400,000 bytes.
fn scheduler(n: u32, max_outstanding: u32) -> Scheduler<u32> {
    let mk = |st, mode| FlowSpec {
        service_type: st,
        token_rate: Some(50_000),
        bucket: 3000,
        mode: Some(mode),
        ..FlowSpec::best_effort("f")
    };
    let flows: Vec<(u32, FlowSpec)> = (0..n)
        .map(|i| {
            let spec = match i % 4 {
                0 => mk(ServiceType::Guaranteed, SdMode::Shape),
                1 => mk(ServiceType::ControlledLoad, SdMode::Borrow),
                2 => mk(ServiceType::NetworkControl, SdMode::Discard),
                _ => mk(ServiceType::Qualitative, SdMode::BorrowPlus),
            };
            (i, spec)
        })
        .collect();
    let mut s: Scheduler<u32> = Scheduler::new(Limits {
        queue_packets: 512,
        queue_bytes: 400_000,
        max_outstanding,
    })
    .unwrap();
    s.reconfigure_marked(0, &flows, &MarkMaps::default())
        .unwrap();
    s
}

/// xorshift32.
fn next(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

#[test]
fn datapath_does_not_allocate() {
    let mut s = scheduler(300, 8);
    let mut x = 7u32;
    let (mut ok, mut dropped, mut sent) = (0, 0, 0);
    counting_alloc::start();
    let mut now = 0;
    for i in 0..200_000u32 {
        next(&mut x);
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

/// `submit_batch` and `submit_batch_marked` (chains of up to 64 sends,
/// both their short path and the per-send fallback, with and without the
/// touch-ahead of many flows) allocate nothing either.
#[test]
fn batches_do_not_allocate() {
    for (flows, marked) in [(300, false), (300, true), (700, true)] {
        batch_run(flows, marked);
    }
}

fn batch_run(n: u32, marked: bool) {
    let mut s = scheduler(n, 100);
    let mut x = 7u32;
    let (mut released, mut dropped) = (0u32, 0u32);
    counting_alloc::start();
    let mut now = 0;
    for chain in 0..5_000u32 {
        let len = 1 + chain % 64;
        let items = (0..len).map(|k| {
            next(&mut x);
            BatchItem {
                flow: (x % (n + 1) != n).then_some((x % n) as usize),
                size: SendSize::single(64 + x % 1400),
                pkt: chain * 64 + k,
            }
        });
        let mut sink = |r: Submitted<u32>, m: Marks| match r {
            Submitted::Released(r) => {
                std::hint::black_box((r, m));
                released += 1;
            }
            Submitted::Dropped(p, why) => {
                std::hint::black_box((p, why));
                dropped += 1;
            }
        };
        if marked {
            s.submit_batch_marked(now, items, &mut sink);
        } else {
            s.submit_batch(now, items, |r| sink(r, Marks::default()));
        }
        while let Some(r) = s.dequeue_marked(now) {
            std::hint::black_box(r);
            released += 1;
        }
        s.send_completed(chain % 90);
        std::hint::black_box(s.next_event());
        now += TICKS_PER_MS / 10;
    }
    let allocs = counting_alloc::stop();
    assert_eq!(allocs, 0, "allocations on the batched datapath ({n} flows)");
    assert!(released > 0 && dropped > 0, "{released} {dropped}");
    assert!(s.stats().shaper.max_packets_in_shaper > 0);
}
