//! Per-NBL cost of the whole send cycle through the simulated NDIS:
//! FilterSendNetBufferLists (classify on the first NET_BUFFER, conform,
//! sequence, mark) -> NdisFSendNetBufferLists -> the fake miniport completes
//! the chain -> FilterSendNetBufferListsComplete (credits back, release) ->
//! NdisFSendNetBufferListsComplete up to the fake protocol. With 10 and
//! 10,000 filters, plus the bypass path (no flows); each with one
//! connection per chain (64 NBLs of one flow key, what a TCP send hands
//! down) and mixed (64 flow keys, each NBL matching another filter of the
//! set). Also counts allocations
//! per NBL (must be 0) and reports the non-paged memory one adapter takes.
//!
//! Run: `cargo bench -p qoslwf --bench send`.
//!
//! # What one iteration is
//! One chain of [`BATCH`] NBLs, after the virtual clock advanced by the
//! time those frames take on a 10 GbE link at minimum size
//! ([`TICKS_PER_CHAIN`]). The flows' token rate is far above that, so every
//! NBL conforms, is marked, goes down and completes with SUCCESS: the bench
//! checks this after every case (completions == sends, all SUCCESS, nothing
//! dropped or held) and fails otherwise.
//!
//! That check is the fix for the two figures that disagreed in session 1
//! (criterion 70-83 ns/NBL, a plain loop 113-167 ns/NBL): the clock never
//! advanced, so after 2^30 bytes (the bucket) every flow was out of tokens;
//! from then on 2,048 NBLs sat in the shaper (while the same prepared NBLs
//! were sent again) and every other NBL was refused (completed with
//! NDIS_STATUS_RESOURCES) without being marked or sent down. The plain loop
//! ran first, inside the bucket; criterion ran afterwards, and ~3/4 of its
//! NBLs took the cheap refusal path.
//!
//! # The time measured
//! Thread CPU time (CLOCK_THREAD_CPUTIME_ID), not wall time: the machine is
//! shared, and wall time counts the time the thread waits for a core.
//!
//! # Profiling
//! `SEND_BENCH_PROFILE=<case>:<chains>[:frozen]` runs only `<chains>` chains
//! of one case (a name of [`CASES`]) after the warm-up and
//! exits (for `valgrind --tool=callgrind` or perf), printing the thread
//! CPU time per NBL of its fastest, 10th-percentile and median blocks of
//! 100 chains (on a shared machine the fastest blocks are the undisturbed
//! ones); `frozen` keeps the clock still as session 1's bench did.
//! `SEND_BENCH_BUCKET=<bytes>` sets the flows' bucket size (to reach the
//! out-of-tokens state quickly).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::gpc::{DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::mark::MarkMaps;
use qos_engine::packet::Family;
use qos_engine::psched::Limits;
use qoslwf::datapath::DatapathConfig;
use qoslwf::sim::{Adapter, AdapterSpec, Prepared, Sim, TxPacket};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// NBLs per chain (one FilterSendNetBufferLists call).
const BATCH: usize = 64;

/// Virtual time one chain takes on the wire: 64 minimum-size frames at
/// 10 GbE are 64 x 67.2 ns = 4.3 us = 43 ticks of 100 ns.
const TICKS_PER_CHAIN: u64 = 43;

/// Bytes 0..12 of the test frames' IPv4 header (version to checksum).
const IP_HEADER_FIRST_12: std::ops::Range<usize> = 14..26;

/// NDIS_STATUS_SUCCESS.
const SUCCESS: i32 = 0;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

/// CLOCK_THREAD_CPUTIME_ID (Linux).
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// CPU time this thread has run (exact, unlike /proc's schedstat, which
/// lags by up to a scheduler tick).
fn thread_cpu() -> Duration {
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out pointer.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn frame(dport: u16, dst: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let ip = [
        0x45, 0x00, 0x00, 0x5c, 0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0, 10, 0, 0, 1, dst[0], dst[1],
        dst[2], dst[3],
    ];
    f.extend_from_slice(&ip);
    f.extend_from_slice(&4000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&[0, 0x48, 0, 0]);
    f.extend(std::iter::repeat_n(0xab, 64));
    f
}

fn filters(n: u32) -> Vec<Filter> {
    (0..n)
        .map(|i| Filter {
            id: i + 1,
            flow: 1 + i % 4,
            family: Family::V4,
            src: Prefix::ANY,
            dst: Prefix {
                addr: u128::from(u32::from_be_bytes([
                    172,
                    16 + (i % 16) as u8,
                    (i / 16) as u8,
                    0,
                ])),
                len: 24,
            },
            src_ports: PortRange::ANY,
            dst_ports: PortRange::single(5000 + (i % 1000) as u16),
            protocol: if i % 2 == 0 {
                ProtocolMatch::Udp
            } else {
                ProtocolMatch::TcpOrUdp
            },
            dscp: None,
            vlan: None,
            precedence: DEFAULT_PRECEDENCE,
        })
        .collect()
}

fn flows(bucket: u64) -> Vec<(u32, FlowSpec)> {
    (1..=4u32)
        .map(|id| {
            (
                id,
                FlowSpec {
                    name: format!("f{id}"),
                    service_type: ServiceType::ControlledLoad,
                    // ~1.1 TB/s: far above the 10 GbE clock the bench
                    // advances, so every NBL conforms and is never held.
                    token_rate: Some(1 << 40),
                    bucket,
                    peak_rate: None,
                    max_sdu: None,
                    min_policed: 0,
                    mode: Some(SdMode::Shape),
                    dclass: Some(10 + id as u8),
                    tclass: Some(3),
                    shaping: None,
                },
            )
        })
        .collect()
}

fn bucket() -> u64 {
    std::env::var("SEND_BENCH_BUCKET")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30)
}

/// One case: a simulated NDIS with one running adapter in fast mode and
/// one prepared chain.
struct Case {
    name: &'static str,
    filters: Option<u32>,
    sim: Sim,
    a: Adapter,
    prepared: Prepared,
    /// Chains sent since attach.
    chains: u64,
    /// Advance the clock before each chain (false: session 1's frozen
    /// clock, for the profile reproduction only).
    advance: bool,
}

impl Case {
    fn new(name: &'static str, n_filters: Option<u32>, mixed: bool) -> Self {
        let mut sim = Sim::new();
        assert_eq!(sim.load(), 0);
        let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
        assert_eq!(a.restart(), 0);
        if let Some(n) = n_filters {
            let cfg = DatapathConfig::new(
                flows(bucket()),
                &filters(n),
                MarkMaps::default(),
                Limits::default(),
            )
            .unwrap();
            a.module().unwrap().publish(Some(Arc::new(cfg))).unwrap();
        }
        a.set_fast(true);
        // One connection: every NBL matches the filter in the middle of
        // the set. Mixed: each NBL of the chain is another connection,
        // matching another filter spread over the set (no two NBLs of a
        // chain share a flow key).
        let n = n_filters.unwrap_or(10);
        let pkts: Vec<TxPacket> = (0..BATCH as u32)
            .map(|j| {
                let k = if mixed { (j * 7919 + 13) % n } else { n / 2 };
                let dst = [172, 16 + (k % 16) as u8, (k / 16) as u8, 9];
                TxPacket::frame(&frame(5000 + (k % 1000) as u16, dst))
            })
            .collect();
        let prepared = a.prepare(&pkts);
        Self {
            name,
            filters: n_filters,
            sim,
            a,
            prepared,
            chains: 0,
            advance: true,
        }
    }

    /// One iteration: time passes, one chain goes through the whole cycle.
    /// The IP headers are first put back as prepared (DSCP 0 and its
    /// checksum): the same NBLs go round again, and a frame that already
    /// carries its DSCP would skip the rewrite and checksum update.
    #[inline]
    fn chain(&mut self) {
        if self.advance {
            self.sim.advance(TICKS_PER_CHAIN);
        }
        if self.filters.is_some() {
            self.a.restore_prepared(&self.prepared, IP_HEADER_FIRST_12);
        }
        self.a.send_prepared(black_box(&self.prepared), 0);
        self.chains += 1;
    }

    /// Completions, driver counters and the scheduler's queue.
    fn state(&self) -> String {
        let m = self.a.module().unwrap();
        let (c, held) = m.read(|d| (d.counters(), d.held()));
        format!(
            "completions by status {:?}, classified {}, dropped {}, held {held}",
            self.a.completion_counts(),
            c.classified,
            c.dropped
        )
    }

    /// Every NBL sent so far completed with SUCCESS after going down, none
    /// was dropped or is held, and (with filters) every one was classified
    /// and had its DSCP rewritten (not found already marked).
    fn check(&self) {
        let sent = self.chains * BATCH as u64;
        let m = self.a.module().unwrap();
        let (c, held) = m.read(|d| (d.counters(), d.held()));
        let counts = self.a.completion_counts();
        let ok = counts.len() == 1
            && counts.get(&SUCCESS) == Some(&sent)
            && c.dropped == 0
            && held == 0
            && m.outstanding() == 0
            && (self.filters.is_none() || (c.classified == sent && c.dscp_marked == sent));
        assert!(ok, "{}: not the measured path: {}", self.name, self.state());
    }
}

/// (name, filters, mixed): one connection per chain, or 64 (every NBL
/// another flow key, another filter).
const CASES: [(&str, Option<u32>, bool); 5] = [
    ("bypass", None, false),
    ("filters_10", Some(10), false),
    ("filters_10000", Some(10_000), false),
    ("filters_10_mixed", Some(10), true),
    ("filters_10000_mixed", Some(10_000), true),
];

/// `SEND_BENCH_PROFILE=<case>:<chains>[:frozen]`: run one case and exit.
fn profile(spec: &str) {
    let mut parts = spec.split(':');
    let name = parts.next().unwrap_or_default();
    let chains: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let frozen = parts.next() == Some("frozen");
    let (name, n, mixed) = CASES
        .into_iter()
        .find(|(c, _, _)| *c == name)
        .expect("case: a name of CASES");
    let mut case = Case::new(name, n, mixed);
    case.advance = !frozen;
    for _ in 0..100 {
        case.chain();
    }
    // Thread CPU time per block of chains: on a shared machine the
    // fastest blocks are the ones nothing else disturbed.
    let mut blocks = Vec::with_capacity((chains / PROFILE_BLOCK + 1) as usize);
    let mut left = chains;
    while left > 0 {
        let n = left.min(PROFILE_BLOCK);
        let t0 = thread_cpu();
        for _ in 0..n {
            case.chain();
        }
        blocks.push((thread_cpu() - t0).as_nanos() as f64 / (n * BATCH as u64) as f64);
        left -= n;
    }
    blocks.sort_by(f64::total_cmp);
    let at = |q: f64| blocks[((blocks.len() - 1) as f64 * q) as usize];
    eprintln!(
        "{name}: {} chains: {}; ns per NBL over blocks of {PROFILE_BLOCK} chains: min {:.1}, \
         10% {:.1}, median {:.1}",
        case.chains,
        case.state(),
        at(0.0),
        at(0.1),
        at(0.5)
    );
}

/// Chains per timed block in profile mode.
const PROFILE_BLOCK: u64 = 100;

fn bench(c: &mut Criterion) {
    if let Ok(spec) = std::env::var("SEND_BENCH_PROFILE") {
        profile(&spec);
        std::process::exit(0);
    }
    let mut g = c.benchmark_group("filter_send");
    // One element = one NBL: criterion's time per element is ns per NBL.
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, n, mixed) in CASES {
        let mut case = Case::new(name, n, mixed);
        // Warm up, then count allocations over 1,000 chains.
        for _ in 0..100 {
            case.chain();
        }
        let before = ALLOCS.load(Ordering::Relaxed);
        for _ in 0..1000 {
            case.chain();
        }
        let allocs = ALLOCS.load(Ordering::Relaxed) - before;
        eprintln!(
            "{name}: {allocs} allocations over {} NBLs ({:.4} per NBL)",
            1000 * BATCH,
            allocs as f64 / (1000 * BATCH) as f64
        );
        case.check();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t0 = thread_cpu();
                for _ in 0..iters {
                    case.chain();
                }
                thread_cpu() - t0
            })
        });
        case.check();
        eprintln!("{name}: {} chains, {}", case.chains, case.state());
        let Case { mut sim, a, .. } = case;
        drop(a);
        sim.unload();
    }
    g.finish();

    // Non-paged memory per adapter: the module, its timer, its scheduler
    // (slots for the default 4096 packets) and a 10-filter configuration.
    let mut sim = Sim::new();
    assert_eq!(sim.load(), 0);
    let before = LIVE.load(Ordering::Relaxed);
    let a = sim.attach(&AdapterSpec::ethernet(2)).unwrap();
    let attached = LIVE.load(Ordering::Relaxed);
    let cfg = DatapathConfig::new(
        flows(1 << 30),
        &filters(10),
        MarkMaps::default(),
        Limits::default(),
    )
    .unwrap();
    let cfg_bytes = LIVE.load(Ordering::Relaxed) - attached;
    a.module().unwrap().publish(Some(Arc::new(cfg))).unwrap();
    let published = LIVE.load(Ordering::Relaxed);
    eprintln!(
        "memory per adapter: {} bytes attached (module + sim bookkeeping), {} bytes with a \
         published 10-filter config (of which config {cfg_bytes}, scheduler {})",
        attached - before,
        published - before,
        published - attached - cfg_bytes
    );
    drop(a);
    sim.unload();
}

criterion_group!(benches, bench);
criterion_main!(benches);
