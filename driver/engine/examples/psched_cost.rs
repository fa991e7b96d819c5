//! Runs one per-packet scenario of `benches/psched.rs` for a given number of
//! packets, for instruction counting under valgrind (load-independent, unlike
//! criterion's times on a shared machine):
//!
//! ```text
//! cargo build --release -p qos-engine --example psched_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/psched_cost policed 10 200000
//! ```
//!
//! Instructions per packet = (Ir at 2N packets - Ir at N packets) / N: the
//! difference removes setup (flow configuration, trace generation).
//!
//! Scenarios: `unclassified`, `policed N`, `policed+mark N` (the mark
//! decision by `mark::decide` on the flow's spec), `policed+table N` (by a
//! per-flow `mark::FlowMarks` table), `shaped N` (N flows); the trace is the benchmark's (flows drawn uniformly at random).
//! Batched: `batch-unclassified PACKETS`, `batch-policed+table N PACKETS`
//! (`Scheduler::submit_batch` with chains of 64 sends; see the functions),
//! `batch-policed+marked N PACKETS` (the same with the marks from
//! `Scheduler::submit_batch_marked`).

use std::hint::black_box;

use qos_engine::flow::SdMode;
use qos_engine::mark::decide;
use qos_engine::psched::{BatchItem, Scheduler, SendSize, Submitted};
use qos_engine::time::TICKS_PER_SEC;

#[path = "../benches/support/psched_setup.rs"]
mod setup;
use setup::{BATCH, Policed, chain, limits, policed_workload, specs};

/// `policed` with the mark decision from a per-flow `FlowMarks` table.
fn policed_table(n: usize, packets: u64) {
    let Policed {
        sched: mut s,
        table,
        trace: t,
        ..
    } = policed_workload(n);
    for i in 0..packets {
        let now = i + 1;
        let f = t[(i as usize) & 0xFFFF];
        let _ = s.enqueue(now, Some(f), 1000, i);
        let r = s.dequeue(now).unwrap();
        s.send_completed(1);
        black_box(table[r.flow.unwrap()].get(r.conforming));
        black_box(r);
    }
}

fn policed(n: usize, mark: bool, packets: u64) {
    let Policed {
        flows,
        sched: mut s,
        maps,
        trace: t,
        ..
    } = policed_workload(n);
    for i in 0..packets {
        let now = i + 1;
        let f = t[(i as usize) & 0xFFFF];
        let _ = s.enqueue(now, Some(f), 1000, i);
        let r = s.dequeue(now).unwrap();
        s.send_completed(1);
        if mark {
            let spec = &flows[r.flow.unwrap()].1;
            black_box(decide(&maps, spec, r.conforming));
        }
        black_box(r);
    }
}

fn shaped(n: usize, packets: u64) {
    let rate = 1_000_000u64;
    let dt = (1000 * TICKS_PER_SEC / (n as u64 * rate)).max(1);
    let flows = specs(n, SdMode::Shape, rate);
    let mut s: Scheduler<u64> = Scheduler::new(limits((n * 8 + 1024) as u32)).unwrap();
    s.reconfigure(0, &flows).unwrap();
    let mut now = 0u64;
    for f in 0..n {
        for k in 0..8 {
            s.enqueue(0, Some(f), 1000, k).unwrap();
        }
    }
    while let Some(r) = s.dequeue(now) {
        s.send_completed(1);
        s.enqueue(now, r.flow, 1000, 0).unwrap();
    }
    let mut released = 0;
    while released < packets {
        now += dt;
        while let Some(r) = s.dequeue(now) {
            s.send_completed(1);
            let _ = s.enqueue(now, r.flow, 1000, released);
            black_box(&r);
            released += 1;
        }
    }
}

/// `policed+table` through `submit_batch`: chains of 64 sends (consecutive
/// trace entries, so flows drawn at random inside a chain), one call per
/// chain at a time advanced by 64 ticks (the same offered load), marks from
/// the table in the sink, `send_completed(64)` after each chain.
fn batch_policed_table(n: usize, packets: u64) {
    let Policed {
        sched: mut s,
        table,
        trace: t,
        ..
    } = policed_workload(n);
    let mut i = 0u64;
    while i < packets {
        let now = i + BATCH;
        let items = chain(&t, i);
        s.submit_batch(now, items, |r| {
            if let Submitted::Released(r) = r {
                black_box(table[r.flow.unwrap()].get(r.conforming));
                black_box(r);
            }
        });
        s.send_completed(BATCH as u32);
        i += BATCH;
    }
}

/// `batch-policed+table` with the marks from the scheduler
/// (`submit_batch_marked`: the flow's marks are in its line).
fn batch_policed_marked(n: usize, packets: u64) {
    let Policed {
        sched: mut s,
        trace: t,
        ..
    } = policed_workload(n);
    let mut i = 0u64;
    while i < packets {
        let now = i + BATCH;
        let items = chain(&t, i);
        s.submit_batch_marked(now, items, |r, m| {
            if let Submitted::Released(r) = r {
                black_box(m);
                black_box(r);
            }
        });
        s.send_completed(BATCH as u32);
        i += BATCH;
    }
}

/// `unclassified` through `submit_batch`, chains of 64.
fn batch_unclassified(packets: u64) {
    let mut s: Scheduler<u64> = Scheduler::new(limits(1024)).unwrap();
    let mut i = 0u64;
    while i < packets {
        let items = (i..i + BATCH).map(|k| BatchItem {
            flow: None,
            size: SendSize::single(1000),
            pkt: k,
        });
        s.submit_batch(i, items, |r| {
            black_box(r);
        });
        s.send_completed(BATCH as u32);
        i += BATCH;
    }
}

fn unclassified(packets: u64) {
    let mut s: Scheduler<u64> = Scheduler::new(limits(1024)).unwrap();
    for i in 0..packets {
        let _ = s.enqueue(i, None, 1000, i);
        black_box(s.dequeue(i));
        s.send_completed(1);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: psched_cost unclassified|batch-unclassified PACKETS | policed|policed+mark|policed+table|batch-policed+table|batch-policed+marked|shaped FLOWS PACKETS";
    let num = |i: usize| -> u64 { args.get(i).and_then(|a| a.parse().ok()).expect(usage) };
    match args.get(1).map(String::as_str) {
        Some("unclassified") => unclassified(num(2)),
        Some("policed") => policed(num(2) as usize, false, num(3)),
        Some("policed+mark") => policed(num(2) as usize, true, num(3)),
        Some("shaped") => shaped(num(2) as usize, num(3)),
        Some("policed+table") => policed_table(num(2) as usize, num(3)),
        Some("batch-policed+table") => batch_policed_table(num(2) as usize, num(3)),
        Some("batch-policed+marked") => batch_policed_marked(num(2) as usize, num(3)),
        Some("batch-unclassified") => batch_unclassified(num(2)),
        _ => panic!("{usage}"),
    }
}
