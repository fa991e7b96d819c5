//! Benchmarks of the packet scheduler (`engine::psched`): cost per packet of
//! conform + enqueue + dequeue (+ the mark decision, `engine::mark::decide`),
//! with 10 and 10,000 active flows.
//!
//! Scenarios (each timed per packet with `iter_custom`: criterion's time is
//! the time of `iters` packets, so "time" reads as ns per packet):
//! - `policed`: borrow-mode flows with a rate (the conformer runs on every
//!   packet, some packets are non-conforming), one packet in, one out, flows
//!   picked from a shuffled trace;
//! - `policed+mark`: the same plus `mark::decide` on the released packet
//!   (what the driver does today: it reads the flow's spec);
//! - `policed+marks table`: the same with the marks read from a per-flow
//!   `mark::FlowMarks` table made at configuration time (8 bytes a flow);
//! - `shaped`: every flow backlogged in the shaper (8 packets each); each
//!   released packet is replaced by a new one of the same flow, the clock
//!   advancing so that about one packet is due per step: every packet goes
//!   through the deadline heap;
//! - `unclassified`: best effort without a flow (the floor);
//! - `batch64 ...`: `policed+marks table` and `unclassified` through
//!   `Scheduler::submit_batch`, chains of 64 consecutive trace entries
//!   (flows at random inside a chain, as the per-packet cases), one call
//!   per chain with the clock advanced by 64 ticks (the same offered
//!   load), marks looked up in the sink, `send_completed(64)` per chain;
//! - `batch64 policed+marks in line`: the same with the marks given by
//!   `Scheduler::submit_batch_marked` from the flow's line (decided at
//!   configuration): issue 3's goal case, conform + mark + enqueue/dequeue
//!   with one cache line per packet.
//!
//! The trace: 65,536 flow indexes drawn uniformly (xorshift64*, fixed
//! seed) from `0..n`, replayed cyclically, one 1000-byte packet per 100 ns
//! tick; flows cycle through four service types (best effort, controlled
//! load, guaranteed, qualitative), 3000-byte buckets. In `policed` the rate
//! is half of each flow's offered load, so about half the packets are
//! non-conforming (demoted to the non-conforming level and marked so). With
//! 10,000 flows the flow lines (64 B per flow, 640 KB) do not fit L1: the
//! figures include those misses.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`):
//! the build machine is shared, and wall time would count other processes'
//! slices. Load-independent instruction counts of the same loops:
//! `examples/psched_cost.rs` under callgrind.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use qos_engine::flow::SdMode;
use qos_engine::mark::decide;
use qos_engine::psched::{BatchItem, Scheduler, SendSize, Submitted};
use qos_engine::time::TICKS_PER_SEC;

/// CPU time of this thread (`CLOCK_THREAD_CPUTIME_ID`), wall time if that
/// clock fails.
#[derive(Clone, Copy)]
struct Clock(Option<Duration>, Instant);

fn cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

impl Clock {
    fn now() -> Self {
        Self(cpu_time(), Instant::now())
    }
    fn elapsed(self) -> Duration {
        match (self.0, cpu_time()) {
            (Some(a), Some(b)) => b - a,
            _ => self.1.elapsed(),
        }
    }
}

#[path = "support/psched_setup.rs"]
mod setup;
use setup::{BATCH, Policed, chain, limits, policed_workload, specs};

/// How `policed` decides a released packet's marks.
#[derive(Clone, Copy, PartialEq)]
enum Mark {
    No,
    Decide,
    Table,
}

/// One packet in, one out: the conformer decides on every packet.
fn policed(n: usize, mark: Mark) -> impl FnMut(u64) -> Duration {
    let Policed {
        flows,
        sched: mut s,
        maps,
        table,
        trace: t,
    } = policed_workload(n);
    let mut now = 0u64;
    move |iters| {
        let start = Clock::now();
        for i in 0..iters {
            now += 1;
            let f = t[(i as usize) & 0xFFFF];
            let _ = s.enqueue(now, Some(f), 1000, i);
            let r = s.dequeue(now).unwrap();
            s.send_completed(1);
            match mark {
                Mark::No => {}
                Mark::Decide => {
                    let spec = &flows[r.flow.unwrap()].1;
                    black_box(decide(&maps, spec, r.conforming));
                }
                Mark::Table => {
                    black_box(table[r.flow.unwrap()].get(r.conforming));
                }
            }
            black_box(r);
        }
        start.elapsed()
    }
}

/// Every flow backlogged in the shaper; each release is replaced.
fn shaped(n: usize) -> impl FnMut(u64) -> Duration {
    // n flows at r B/s with 1000-byte packets release n*r/1000 packets/s;
    // one step of `dt` ticks then releases one packet on average.
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
    // Spend the initial buckets so every flow waits on the heap.
    while let Some(r) = s.dequeue(now) {
        s.send_completed(1);
        s.enqueue(now, r.flow, 1000, 0).unwrap();
    }
    move |iters| {
        let start = Clock::now();
        let mut released = 0;
        while released < iters {
            now += dt;
            while let Some(r) = s.dequeue(now) {
                s.send_completed(1);
                let _ = s.enqueue(now, r.flow, 1000, released);
                black_box(&r);
                released += 1;
            }
        }
        // Time per packet: scale to exactly `iters` packets.
        start.elapsed().mul_f64(iters as f64 / released as f64)
    }
}

/// `policed+marks table` through `Scheduler::submit_batch`: the same trace
/// cut in chains of 64 consecutive entries (flows at random inside a
/// chain), one call per chain at a clock advanced by 64 ticks (the same
/// offered load), the marks read from the table in the sink,
/// `send_completed(64)` after each chain.
fn batch_policed_table(n: usize) -> impl FnMut(u64) -> Duration {
    let Policed {
        sched: mut s,
        table,
        trace: t,
        ..
    } = policed_workload(n);
    let mut next = 0u64;
    move |iters| {
        let start = Clock::now();
        let end = next + iters.div_ceil(BATCH) * BATCH;
        while next < end {
            let i = next;
            let items = chain(&t, i);
            s.submit_batch(i + BATCH, items, |r| {
                if let Submitted::Released(r) = r {
                    black_box(table[r.flow.unwrap()].get(r.conforming));
                    black_box(r);
                }
            });
            s.send_completed(BATCH as u32);
            next += BATCH;
        }
        let packets = iters.div_ceil(BATCH) * BATCH;
        start.elapsed().mul_f64(iters as f64 / packets as f64)
    }
}

/// `batch64 policed+marks table` with the marks from the scheduler
/// (`Scheduler::submit_batch_marked`: each flow's marks are decided at
/// configuration and kept in the flow's line, which the packet reads
/// anyway), instead of a table lookup in the sink.
fn batch_policed_marked(n: usize) -> impl FnMut(u64) -> Duration {
    let Policed {
        sched: mut s,
        trace: t,
        ..
    } = policed_workload(n);
    let mut next = 0u64;
    move |iters| {
        let start = Clock::now();
        let end = next + iters.div_ceil(BATCH) * BATCH;
        while next < end {
            let i = next;
            let items = chain(&t, i);
            s.submit_batch_marked(i + BATCH, items, |r, m| {
                if let Submitted::Released(r) = r {
                    black_box(m);
                    black_box(r);
                }
            });
            s.send_completed(BATCH as u32);
            next += BATCH;
        }
        let packets = iters.div_ceil(BATCH) * BATCH;
        start.elapsed().mul_f64(iters as f64 / packets as f64)
    }
}

/// `unclassified` through `submit_batch`, chains of 64.
fn batch_unclassified() -> impl FnMut(u64) -> Duration {
    let mut s: Scheduler<u64> = Scheduler::new(limits(1024)).unwrap();
    let mut next = 0u64;
    move |iters| {
        let start = Clock::now();
        let chains = iters.div_ceil(BATCH);
        for _ in 0..chains {
            let i = next;
            let items = (i..i + BATCH).map(|k| BatchItem {
                flow: None,
                size: SendSize::single(1000),
                pkt: k,
            });
            s.submit_batch(i, items, |r| {
                black_box(r);
            });
            s.send_completed(BATCH as u32);
            next += BATCH;
        }
        start
            .elapsed()
            .mul_f64(iters as f64 / (chains * BATCH) as f64)
    }
}

fn unclassified() -> impl FnMut(u64) -> Duration {
    let mut s: Scheduler<u64> = Scheduler::new(limits(1024)).unwrap();
    move |iters| {
        let start = Clock::now();
        for i in 0..iters {
            let _ = s.enqueue(i, None, 1000, i);
            black_box(s.dequeue(i));
            s.send_completed(1);
        }
        start.elapsed()
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("psched per packet");
    g.bench_function("unclassified", |b| b.iter_custom(unclassified()));
    g.bench_function("batch64 unclassified", |b| {
        b.iter_custom(batch_unclassified())
    });
    for n in [10, 10_000] {
        g.bench_function(format!("policed/{n} flows"), |b| {
            b.iter_custom(policed(n, Mark::No))
        });
        g.bench_function(format!("policed+mark/{n} flows"), |b| {
            b.iter_custom(policed(n, Mark::Decide))
        });
        g.bench_function(format!("policed+marks table/{n} flows"), |b| {
            b.iter_custom(policed(n, Mark::Table))
        });
        g.bench_function(format!("batch64 policed+marks table/{n} flows"), |b| {
            b.iter_custom(batch_policed_table(n))
        });
        g.bench_function(format!("batch64 policed+marks in line/{n} flows"), |b| {
            b.iter_custom(batch_policed_marked(n))
        });
        g.bench_function(format!("shaped/{n} flows"), |b| b.iter_custom(shaped(n)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
