//! Per-NBL cost of FilterSendNetBufferLists through the simulated NDIS
//! (classify on the first NET_BUFFER, conform, sequence, mark, send down,
//! complete up), with 10 and 10,000 filters, plus the bypass path; counts
//! allocations per NBL (must be 0) and reports the non-paged memory one
//! adapter takes.
//!
//! Run: `cargo bench -p qoslwf --bench send`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qos_engine::flow::{FlowSpec, SdMode, ServiceType};
use qos_engine::gpc::{DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::mark::MarkMaps;
use qos_engine::packet::Family;
use qos_engine::psched::Limits;
use qoslwf::datapath::DatapathConfig;
use qoslwf::sim::{Adapter, AdapterSpec, Sim, TxPacket};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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

const BATCH: usize = 64;

/// CPU time this thread has run, in ns (/proc/thread-self/schedstat): the
/// machine is shared, so wall-clock figures include time spent waiting for
/// a core; this one does not.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
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

fn flows() -> Vec<(u32, FlowSpec)> {
    (1..=4u32)
        .map(|id| {
            (
                id,
                FlowSpec {
                    name: format!("f{id}"),
                    service_type: ServiceType::ControlledLoad,
                    // Far above what the bench sends: conforming, never held.
                    token_rate: Some(1 << 40),
                    bucket: 1 << 30,
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

fn setup(sim: &mut Sim, n_filters: Option<u32>) -> Adapter {
    assert_eq!(sim.load(), 0);
    let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
    assert_eq!(a.restart(), 0);
    if let Some(n) = n_filters {
        let cfg = DatapathConfig::new(flows(), &filters(n), MarkMaps::default(), Limits::default())
            .unwrap();
        a.module().unwrap().publish(Some(Arc::new(cfg))).unwrap();
    }
    a.set_fast(true);
    a
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("filter_send");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, n) in [
        ("bypass", None),
        ("filters_10", Some(10)),
        ("filters_10000", Some(10_000)),
    ] {
        let mut sim = Sim::new();
        let a = setup(&mut sim, n);
        // The matching filter sits in the middle of the set.
        let k = n.unwrap_or(10) / 2;
        let dst = [172, 16 + (k % 16) as u8, (k / 16) as u8, 9];
        let f = frame(5000 + (k % 1000) as u16, dst);
        let pkts: Vec<TxPacket> = (0..BATCH).map(|_| TxPacket::frame(&f)).collect();
        let prepared = a.prepare(&pkts);
        // Warm up, then count allocations over 1,000 batches.
        for _ in 0..100 {
            a.send_prepared(&prepared, 0);
        }
        let before = ALLOCS.load(Ordering::Relaxed);
        for _ in 0..1000 {
            a.send_prepared(black_box(&prepared), 0);
        }
        let allocs = ALLOCS.load(Ordering::Relaxed) - before;
        eprintln!(
            "{name}: {allocs} allocations over {} NBLs ({:.4} per NBL)",
            1000 * BATCH,
            allocs as f64 / (1000 * BATCH) as f64
        );
        if let Some(t0) = thread_cpu_ns() {
            let rounds: u64 = if n.is_none() { 200_000 } else { 40_000 };
            for _ in 0..rounds {
                a.send_prepared(black_box(&prepared), 0);
            }
            if let Some(t1) = thread_cpu_ns() {
                let per = (t1 - t0) as f64 / (rounds * BATCH as u64) as f64;
                eprintln!("{name}: {per:.1} ns CPU time per NBL ({rounds} chains of {BATCH})");
            }
        }
        if n.is_some() {
            let marked = a.module().unwrap().read(|d| d.counters().classified);
            assert!(marked >= 1000 * BATCH as u64, "the frames must classify");
        }
        g.bench_function(name, |b| {
            b.iter(|| a.send_prepared(black_box(&prepared), 0))
        });
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
        flows(),
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
