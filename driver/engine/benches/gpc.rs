//! Benchmarks of the Generic Packet Classifier (`engine::gpc`).
//!
//! Filter sets:
//! - ClassBench acl1, fw1 and ipc1 at about 1k and 10k filters, read by
//!   `support/classbench.rs` (shared with `tests/gpc_large.rs`; the format
//!   and the directory are described there). What the load cleared or
//!   refused is counted in the output.
//! - An IPv6 variant of each (same module): every IPv4 prefix a.b.c.d/len
//!   becomes 2001:db8:XXXX:XXXX::/(32 + len); a /0 stays ::/0, so the set
//!   keeps its shape and precedence. Packets get random low 64 bits.
//! - A small realistic host set (voice, video, backup, web, DNS, management;
//!   IPv4 and IPv6).
//!
//! Packet trace per set: one header inside each filter's box, plus one
//! random header per four filters (random addresses, ports and protocol:
//! mostly misses, though wildcard filters catch some), shuffled with a fixed
//! seed (xorshift, no rand crate); such traces of successive seeds, one
//! after the other, up to at least 10,000 packets, so that every set is
//! measured on a trace as long as a 10k set's (see [`TRACE_MIN`]: a short
//! trace, passed again and again, is learned by the branch predictor).
//!
//! Both engines are measured back to back (`tree`: `Classifier::build_tree`;
//! `tuple`: `Classifier::build_tuned`, the tuple space), so they see the
//! same load on a shared machine; `Classifier::build` (which compiles both
//! and keeps one) is timed on its own line, with the engine it picked.
//!
//! Environment: `GPC_SUMMARY_ONLY=1` prints the summary table and skips
//! criterion; `GPC_TREE_ONLY=1` keeps only the decision-tree rows in it;
//! `GPC_COUNT=<set name>` (with `GPC_COUNT_PASSES`, default 10) only
//! classifies that set's trace with the trees, passes times, and prints
//! the median and best pass in ns per packet: run it under
//! `valgrind --tool=cachegrind --branch-sim=yes` with 0 and N passes and
//! subtract to get instructions and branch mispredictions per packet,
//! figures machine load does not disturb.
//!
//! Output: criterion's figures (classify is timed per whole trace, with the
//! trace length as throughput: read "elem/s", or divide the time by the
//! packet count printed below), then a summary table measured here without
//! criterion: median ns per packet over repeated passes of the trace, build
//! time, add-one-filter-and-publish time, bytes per filter (total owned by
//! the classifier, and the index alone), tables and longest bucket, and
//! each 10k set's median over its 1k set's (the goal is at most 1.5).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qos_engine::gpc::reference::LinearClassifier;
use qos_engine::gpc::{
    Classifier, DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch, Tuning,
};
use qos_engine::packet::{Family, FlowKey, L4};

#[path = "support/classbench.rs"]
mod classbench;
use classbench::{classbench_dir, load_classbench, to_v6, v6_variant};

/// xorshift64*: deterministic, good enough for traces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}

/// A host's policy: tens of filters by ports and subnets, both families.
fn host_set() -> Vec<Filter> {
    let base = Filter {
        id: 0,
        flow: 0,
        family: Family::V4,
        src: Prefix::ANY,
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Any,
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    };
    let v4 = |a: u8, b: u8, c: u8, d: u8, len: u8| Prefix {
        addr: u128::from(u32::from_be_bytes([a, b, c, d])),
        len,
    };
    let r = |lo, hi| PortRange { lo, hi };
    let one = PortRange::single;
    let mut set = vec![
        // Voice: Teams media, SIP, RTP.
        Filter {
            protocol: ProtocolMatch::Udp,
            dst_ports: r(3478, 3481),
            flow: 1,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Udp,
            src_ports: r(50000, 50019),
            flow: 1,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::TcpOrUdp,
            dst_ports: one(5060),
            flow: 1,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst_ports: one(5061),
            flow: 1,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Udp,
            dst_ports: r(16384, 32767),
            flow: 1,
            ..base
        },
        // Video.
        Filter {
            protocol: ProtocolMatch::Udp,
            src_ports: r(50020, 50039),
            flow: 2,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Udp,
            dst: v4(10, 50, 0, 0, 16),
            flow: 2,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst_ports: one(1935),
            flow: 2,
            ..base
        },
        // Bulk and backup.
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst: v4(10, 20, 0, 0, 16),
            dst_ports: one(445),
            flow: 3,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst: v4(10, 20, 5, 0, 24),
            dst_ports: one(873),
            flow: 3,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst: v4(10, 20, 5, 10, 32),
            flow: 3,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst_ports: r(10000, 10100),
            flow: 3,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst_ports: one(22),
            dst: v4(10, 20, 0, 0, 16),
            flow: 3,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            src: v4(192, 168, 1, 0, 24),
            dst: v4(10, 20, 0, 0, 16),
            flow: 3,
            precedence: 90,
            ..base
        },
        // Web, DNS, NTP.
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst_ports: one(443),
            flow: 4,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Tcp,
            dst_ports: one(80),
            flow: 4,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Udp,
            dst_ports: one(443),
            flow: 4,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::TcpOrUdp,
            dst_ports: one(53),
            flow: 5,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Udp,
            dst_ports: one(123),
            flow: 5,
            ..base
        },
        // Management and monitoring subnet, ICMP, a VLAN.
        Filter {
            src: v4(192, 168, 100, 0, 24),
            flow: 6,
            precedence: 200,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Icmp,
            flow: 6,
            ..base
        },
        Filter {
            protocol: ProtocolMatch::Udp,
            dst_ports: r(161, 162),
            flow: 6,
            ..base
        },
        Filter {
            vlan: Some(42),
            flow: 6,
            ..base
        },
        Filter {
            dscp: Some(46),
            flow: 1,
            ..base
        },
        Filter {
            dst: v4(224, 0, 0, 0, 4),
            flow: 2,
            ..base
        },
    ];
    let v6 = v6_variant(&set);
    set.extend(v6);
    for (i, f) in set.iter_mut().enumerate() {
        f.id = i as u32;
    }
    set
}

fn host_mask(family: Family, len: u8) -> u128 {
    let width: u32 = if family == Family::V4 { 32 } else { 128 };
    let host = width - u32::from(len);
    if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    }
}

fn port_in(r: PortRange, rng: &mut Rng) -> u16 {
    let span = u64::from(r.hi - r.lo) + 1;
    r.lo + rng.below(span) as u16
}

/// One header inside the filter's box.
fn inside(f: &Filter, rng: &mut Rng) -> FlowKey {
    let protocol = match f.protocol {
        ProtocolMatch::Any => [6, 17, 6, 1][rng.below(4) as usize],
        ProtocolMatch::Tcp => 6,
        ProtocolMatch::Udp => 17,
        ProtocolMatch::TcpOrUdp => [6, 17][rng.below(2) as usize],
        ProtocolMatch::Icmp => {
            if f.family == Family::V4 {
                1
            } else {
                58
            }
        }
        ProtocolMatch::Number(n) => n,
    };
    let l4 = if f.has_port_condition() || matches!(protocol, 6 | 17) {
        L4::Ports {
            src: port_in(f.src_ports, rng),
            dst: port_in(f.dst_ports, rng),
        }
    } else if matches!(protocol, 1 | 58) {
        L4::Icmp { ty: 8, code: 0 }
    } else {
        L4::None
    };
    let addr = |p: Prefix, rng: &mut Rng| p.addr | (rng.u128() & host_mask(f.family, p.len));
    FlowKey {
        family: f.family,
        src: addr(f.src, rng),
        dst: addr(f.dst, rng),
        protocol,
        l4,
        dscp: f.dscp.unwrap_or(0),
        ecn: 0,
        vlan: f.vlan.map(|vid| qos_engine::packet::VlanTag {
            vid,
            pcp: 0,
            dei: false,
        }),
    }
}

/// A random header of `family` (inside 2001:db8::/32 for IPv6, like the
/// mapped sets).
fn random(family: Family, rng: &mut Rng) -> FlowKey {
    let protocol = [6, 17, 1, 47][rng.below(4) as usize];
    let addr = |rng: &mut Rng| match family {
        Family::V4 => u128::from(rng.next() as u32),
        Family::V6 => (0x2001_0db8u128 << 96) | (rng.u128() >> 32),
    };
    FlowKey {
        family,
        src: addr(rng),
        dst: addr(rng),
        protocol,
        l4: if matches!(protocol, 6 | 17) {
            L4::Ports {
                src: rng.next() as u16,
                dst: rng.next() as u16,
            }
        } else {
            L4::None
        },
        dscp: 0,
        ecn: 0,
        vlan: None,
    }
}

/// The fewest packets a set is measured on.
///
/// Why every set gets a trace this long: the CPU's branch predictor learns
/// a trace that comes round again every thousand packets or so. Measured
/// on the 1k sets (5 interleaved rounds, 15 passes each): their own trace
/// of 1.1-1.2k packets ran at 44-56 ns per packet on the best pass, the
/// same trace ten times in a row (the memory of ten traces, the branches
/// of one) at 35-51, and ten traces of fresh packets at 63-122. A 1k
/// figure on the short trace measured the predictor, not the set size,
/// and made a 10k set (whose 12k-packet trace it cannot learn) look 1.7-3.3
/// times as slow.
const TRACE_MIN: usize = 10_000;

/// The trace a set is measured on: [`trace`]s of successive seeds, one
/// after the other, until there are at least [`TRACE_MIN`] packets. A 10k
/// set takes one; a 1k set ten, with ten different headers in each filter.
fn long_trace(filters: &[Filter]) -> Vec<FlowKey> {
    let mut keys = Vec::new();
    let mut seed = 0x5EED_0001;
    while keys.len() < TRACE_MIN && !filters.is_empty() {
        keys.extend(trace(filters, seed));
        seed += 2;
    }
    keys
}

fn trace(filters: &[Filter], seed: u64) -> Vec<FlowKey> {
    let mut rng = Rng(seed | 1);
    let mut keys: Vec<FlowKey> = filters.iter().map(|f| inside(f, &mut rng)).collect();
    let family = filters.first().map_or(Family::V4, |f| f.family);
    for _ in 0..filters.len() / 4 + 1 {
        keys.push(random(family, &mut rng));
    }
    // Fisher-Yates.
    for i in (1..keys.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        keys.swap(i, j);
    }
    keys
}

/// A filter that is not in the set (for add-one), id past every id.
fn new_filter(filters: &[Filter]) -> Filter {
    let id = filters.iter().map(|f| f.id).max().unwrap_or(0) + 1;
    let family = filters.first().map_or(Family::V4, |f| f.family);
    let mut f = Filter {
        id,
        flow: 7,
        family,
        src: Prefix {
            addr: 0x0A0B_0C00,
            len: 24,
        },
        dst: Prefix {
            addr: 0xC0A8_0000,
            len: 16,
        },
        src_ports: PortRange::ANY,
        dst_ports: PortRange::single(8443),
        protocol: ProtocolMatch::Tcp,
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    };
    if family == Family::V6 {
        f.src = to_v6(f.src);
        f.dst = to_v6(f.dst);
    }
    f
}

struct Set {
    name: String,
    filters: Vec<Filter>,
}

fn sets() -> Vec<Set> {
    let mut out = Vec::new();
    for seed in ["acl1", "fw1", "ipc1"] {
        for size in ["1k", "10k"] {
            let file = format!("{seed}_{size}");
            let Some((filters, notes)) = load_classbench(&file) else {
                eprintln!(
                    "gpc bench: {} not found, skipped",
                    classbench_dir().join(&file).display()
                );
                continue;
            };
            eprintln!(
                "gpc bench: {file}: {} filters loaded ({} host-bit prefixes cleared, {} partial protocol masks read as any, {} refused)",
                filters.len(),
                notes.host_bits_cleared,
                notes.partial_proto_masks,
                notes.refused
            );
            let v6 = v6_variant(&filters);
            out.push(Set {
                name: format!("{file}_v4"),
                filters,
            });
            out.push(Set {
                name: format!("{file}_v6"),
                filters: v6,
            });
        }
    }
    out.push(Set {
        name: "host_mixed".into(),
        filters: host_set(),
    });
    out
}

/// ns per packet over `passes` passes of the trace: (median, fastest). On
/// a shared machine the fastest pass is the one least disturbed.
fn ns_per_packet(
    f: impl Fn(&FlowKey) -> Option<u32>,
    keys: &[FlowKey],
    passes: usize,
) -> (f64, f64) {
    let mut v: Vec<f64> = (0..passes)
        .map(|_| {
            let t = Instant::now();
            for k in keys {
                black_box(f(black_box(k)));
            }
            t.elapsed().as_nanos() as f64 / keys.len() as f64
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0])
}

/// (median, fastest) of `runs` timings.
fn durations(mut f: impl FnMut() -> Duration, runs: usize) -> (Duration, Duration) {
    let mut v: Vec<Duration> = (0..runs).map(|_| f()).collect();
    v.sort();
    (v[v.len() / 2], v[0])
}

/// Placement knobs: the defaults, or GPC_BUCKET_LIMIT / GPC_RELAX_STEP
/// from the environment (for tuning runs).
fn tuning() -> Tuning {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let mut t = Tuning::DEFAULT;
    if let Some(v) = env("GPC_BUCKET_LIMIT") {
        t.bucket_limit = v;
    }
    if let Some(v) = env("GPC_RELAX_STEP") {
        t.relax_step = v as u8;
    }
    if let Some(v) = env("GPC_PORT_TABLES") {
        t.port_tables = v != 0;
    }
    t
}

fn summary(sets: &[Set]) {
    println!();
    println!(
        "gpc summary (measured here without criterion), {:?}",
        tuning()
    );
    println!(
        "{:<14} {:>6} {:>6} {:>6} {:>8} {:>8} {:>7} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "set",
        "engine",
        "filters",
        "pkts",
        "ns/pkt",
        "best",
        "linear",
        "B/filt",
        "idxB/f",
        "build ms",
        "best ms",
        "add us",
        "best us",
        "tables",
        "bucket",
        "hit%",
        "walked",
        "probes",
        "checks"
    );
    let mut medians = Vec::new();
    for s in sets {
        // Both engines back to back, so they see the same machine load.
        for tree in [true, false] {
            if tree || std::env::var_os("GPC_TREE_ONLY").is_none() {
                let ns = summary_row(s, tree);
                if tree {
                    medians.push((s.name.clone(), ns));
                }
            }
        }
        if std::env::var_os("GPC_TREE_ONLY").is_some() {
            continue;
        }
        let (auto, auto_best) = durations(
            || {
                let t = Instant::now();
                black_box(Classifier::build(black_box(&s.filters)).expect("valid"));
                t.elapsed()
            },
            7,
        );
        let picked = Classifier::build(&s.filters).expect("valid").engine();
        println!(
            "{:<14} build (auto) picks {:?}: {:.2} ms median, {:.2} ms best",
            s.name,
            picked,
            auto.as_secs_f64() * 1e3,
            auto_best.as_secs_f64() * 1e3
        );
    }
    println!(
        "engine: tree = Classifier::build_tree (decision trees), tuple = Classifier::build_tuned (tuple space); build (auto): Classifier::build, which compiles both and keeps the one its cost model prefers;\n\
         ns/pkt: median over 21 passes of the trace, best: fastest pass; linear: the reference classifier (1k sets only), median ns/pkt;\n\
         B/filt: memory_bytes()/filters (filter copies + index); idxB/f: index_bytes()/filters (tables or trees, slots or nodes, rules);\n\
         build: Classifier::build; add: with_added(one filter) + Arc::new (publish), median and best;\n\
         tables, bucket: tuple tables (trees) and longest bucket (leaf); hit%: packets that matched a filter;\n\
         walked: tables whose Bloom filter was tested (trees walked), probes: tables whose slots were read (tree nodes visited), checks: rules checked, per packet"
    );
    print_ratios(&medians);
    println!();
}

/// The tree engine's median ns per packet at 10k over the same set at 1k
/// (the 1.5x goal), for each 10k set of `medians` whose 1k set is there.
fn print_ratios(medians: &[(String, f64)]) {
    let ratios: Vec<String> = medians
        .iter()
        .filter_map(|(name, ns)| {
            let small = name.replace("_10k_", "_1k_");
            let (_, base) = medians
                .iter()
                .find(|(n, _)| *n == small && small != *name)?;
            Some(format!("{name} {:.2}", ns / base))
        })
        .collect();
    if !ratios.is_empty() {
        println!("10k / 1k (tree, median ns/pkt): {}", ratios.join(", "));
    }
}

/// Prints one row of the summary; returns the median ns per packet.
fn summary_row(s: &Set, tree: bool) -> f64 {
    let build = |f: &[Filter]| {
        if tree {
            Classifier::build_tree(f)
        } else {
            Classifier::build_tuned(f, tuning())
        }
    };
    {
        let c = build(&s.filters).expect("valid set");
        let keys = long_trace(&s.filters);
        let (ns, ns_best) = ns_per_packet(|k| c.classify(k).map(|f| f.id), &keys, 21);
        let linear = if s.filters.len() <= 2000 {
            let r = LinearClassifier::new(&s.filters);
            let (m, _) = ns_per_packet(|k| r.classify(k).map(|f| f.id), &keys, 3);
            format!("{m:.0}")
        } else {
            "-".into()
        };
        let hits = keys.iter().filter(|k| c.classify(k).is_some()).count();
        let (walked, tables_probed, candidates) =
            keys.iter().fold((0u64, 0u64, 0u64), |(w, t, n), k| {
                let cost = c.classify_counting(k).1;
                (
                    w + u64::from(cost.walked),
                    t + u64::from(cost.tables),
                    n + u64::from(cost.candidates),
                )
            });
        let per = |x: u64| x as f64 / keys.len() as f64;
        let (build, build_best) = durations(
            || {
                let t = Instant::now();
                black_box(build(black_box(&s.filters)).expect("valid"));
                t.elapsed()
            },
            7,
        );
        let extra = new_filter(&s.filters);
        let (add, add_best) = durations(
            || {
                let t = Instant::now();
                let next = Arc::new(c.with_added(black_box(extra)).expect("valid"));
                let elapsed = t.elapsed();
                drop(black_box(next));
                elapsed
            },
            21,
        );
        let st = c.stats();
        let n = s.filters.len().max(1) as f64;
        println!(
            "{:<14} {:>6} {:>6} {:>6} {:>8.1} {:>8.1} {:>7} {:>8.1} {:>8.1} {:>9.2} {:>9.2} {:>9.1} {:>9.1} {:>6} {:>6} {:>6.1} {:>6.1} {:>6.1} {:>6.1}",
            s.name,
            if tree { "tree" } else { "tuple" },
            s.filters.len(),
            keys.len(),
            ns,
            ns_best,
            linear,
            c.memory_bytes() as f64 / n,
            c.index_bytes() as f64 / n,
            build.as_secs_f64() * 1e3,
            build_best.as_secs_f64() * 1e3,
            add.as_secs_f64() * 1e6,
            add_best.as_secs_f64() * 1e6,
            st.v4_tables + st.v6_tables,
            st.longest_bucket,
            100.0 * hits as f64 / keys.len() as f64,
            per(walked),
            per(tables_probed),
            per(candidates),
        );
        ns
    }
}

/// Counting mode for `valgrind --tool=cachegrind` (instruction and branch
/// counts, which machine load does not disturb): `GPC_COUNT=<set name>`
/// builds that set's trees, classifies its trace `GPC_COUNT_PASSES` times
/// (default 10) and exits. Run it with 0 passes too and subtract: the
/// difference divided by passes × packets is the per-packet figure.
fn count_mode(sets: &[Set]) -> bool {
    let Ok(name) = std::env::var("GPC_COUNT") else {
        return false;
    };
    let passes: usize = std::env::var("GPC_COUNT_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let Some(s) = sets.iter().find(|s| s.name == name) else {
        eprintln!("gpc bench: no set named {name}");
        return true;
    };
    let c = Classifier::build_tree(&s.filters).expect("valid set");
    let keys = long_trace(&s.filters);
    let mut n = 0u32;
    let mut times = Vec::with_capacity(passes);
    for _ in 0..passes {
        let t = Instant::now();
        for k in &keys {
            if let Some(f) = c.classify(black_box(k)) {
                n = n.wrapping_add(f.flow);
            }
        }
        times.push(t.elapsed().as_nanos() as f64 / keys.len() as f64);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let best = times.first().copied().unwrap_or(0.0);
    println!(
        "{name}: {} packets x {passes} passes, checksum {n}, ns/pkt median {median:.1} best {best:.1}",
        keys.len()
    );
    true
}

fn benches(c: &mut Criterion) {
    let sets = sets();
    if count_mode(&sets) {
        return;
    }
    summary(&sets);
    if std::env::var_os("GPC_SUMMARY_ONLY").is_some() {
        return;
    }
    let mut g = c.benchmark_group("gpc_classify_trace");
    for (s, tree) in sets.iter().flat_map(|s| [(s, true), (s, false)]) {
        let cl = if tree {
            Classifier::build_tree(&s.filters)
        } else {
            Classifier::build_tuned(&s.filters, tuning())
        }
        .expect("valid set");
        let keys = long_trace(&s.filters);
        g.throughput(Throughput::Elements(keys.len() as u64));
        let name = format!("{}/{}", s.name, if tree { "tree" } else { "tuple" });
        g.bench_function(&name, |b| {
            b.iter(|| {
                let mut n = 0u32;
                for k in &keys {
                    if let Some(f) = cl.classify(black_box(k)) {
                        n = n.wrapping_add(f.flow);
                    }
                }
                n
            });
        });
    }
    g.finish();
    let mut g = c.benchmark_group("gpc_build_10k");
    for s in sets.iter().filter(|s| s.filters.len() > 5000) {
        // Classifier::build: both engines compiled, one kept.
        g.bench_function(&s.name, |b| {
            b.iter(|| Classifier::build(black_box(&s.filters)).expect("valid"))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("gpc_add_one_and_publish_10k");
    for s in sets.iter().filter(|s| s.filters.len() > 5000) {
        let cl = Classifier::build(&s.filters).expect("valid set");
        let extra = new_filter(&s.filters);
        g.bench_function(&s.name, |b| {
            b.iter_batched(
                || (),
                |()| Arc::new(cl.with_added(black_box(extra)).expect("valid")),
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = gpc;
    config = config();
    targets = benches
}
criterion_main!(gpc);
