//! Differential tests on large sets: the decision trees (gates, gate start
//! nodes, groups, deep trees) against the linear reference, on a synthetic
//! ClassBench-like set of a few thousand filters in both families, through
//! a run of adds and removes, and on the ClassBench 1k seeds (acl1, fw1,
//! ipc1 and their IPv6 variants) when the shared bench directory is there.
//! The small random sets of `gpc_differential` rarely grow trees deep
//! enough for these paths to matter.

use qos_engine::gpc::reference::LinearClassifier;
use qos_engine::gpc::{Classifier, DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::packet::{Family, FlowKey, L4, VlanTag};

#[path = "../benches/support/classbench.rs"]
mod classbench;
use classbench::{load_classbench, to_v6};

/// xorshift64*: deterministic.
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
}

fn mask(family: Family, len: u8) -> u128 {
    let width: u32 = if family == Family::V4 { 32 } else { 128 };
    let host = width - u32::from(len);
    let all = if width == 32 { 0xFFFF_FFFF } else { u128::MAX };
    if host >= 128 {
        0
    } else {
        all & !((1u128 << host) - 1)
    }
}

/// A ClassBench-like IPv4 set: addresses clustered in a few /8 and /16
/// blocks, prefix lengths from /0 to /32, a mix of wildcard, well-known
/// and range ports, TCP/UDP/ICMP/any, some DSCP and VLAN conditions and
/// explicit precedences.
fn synthetic(n: usize, rng: &mut Rng) -> Vec<Filter> {
    let blocks: Vec<u32> = (0..24).map(|_| (rng.next() as u32) & 0xFFFF_0000).collect();
    let prefix = |rng: &mut Rng| {
        let len = [0u8, 8, 16, 20, 24, 24, 28, 32, 32, 32][rng.below(10) as usize];
        let base = blocks[rng.below(blocks.len() as u64) as usize];
        let addr = u128::from(base | (rng.next() as u32 & 0xFFFF));
        Prefix {
            addr: addr & mask(Family::V4, len),
            len,
        }
    };
    let ports = |rng: &mut Rng| match rng.below(6) {
        0..=2 => PortRange::ANY,
        3 => PortRange::single([53, 80, 443, 22, 1935][rng.below(5) as usize]),
        4 => PortRange {
            lo: 1024,
            hi: 65535,
        },
        _ => {
            let lo = rng.below(60000) as u16;
            PortRange {
                lo,
                hi: lo + rng.below(2000) as u16,
            }
        }
    };
    (0..n)
        .map(|i| Filter {
            id: i as u32,
            flow: i as u32,
            family: Family::V4,
            src: prefix(rng),
            dst: prefix(rng),
            src_ports: ports(rng),
            dst_ports: ports(rng),
            protocol: [
                ProtocolMatch::Any,
                ProtocolMatch::Tcp,
                ProtocolMatch::Tcp,
                ProtocolMatch::Udp,
                ProtocolMatch::TcpOrUdp,
                ProtocolMatch::Icmp,
            ][rng.below(6) as usize],
            dscp: (rng.below(20) == 0).then(|| rng.below(64) as u8),
            vlan: (rng.below(25) == 0).then(|| rng.below(8) as u16),
            precedence: if rng.below(10) == 0 {
                rng.below(256) as u8
            } else {
                DEFAULT_PRECEDENCE
            },
        })
        .map(|mut f| {
            // Port conditions need TCP, UDP, TCP-or-UDP or any.
            if f.protocol == ProtocolMatch::Icmp {
                f.src_ports = PortRange::ANY;
                f.dst_ports = PortRange::ANY;
            }
            f
        })
        .collect()
}

/// The bench's IPv6 variant of `filters`, ids moved up by `id_base`.
fn v6_variant(filters: &[Filter], id_base: u32) -> Vec<Filter> {
    let mut v6 = classbench::v6_variant(filters);
    for f in &mut v6 {
        f.id += id_base;
    }
    v6
}

/// A packet inside `f` (random host bits and ports in range).
fn inside(f: &Filter, rng: &mut Rng) -> FlowKey {
    let protocol = match f.protocol {
        ProtocolMatch::Any => [6, 17, 1, 47][rng.below(4) as usize],
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
    let port = |r: PortRange, rng: &mut Rng| r.lo + rng.below(u64::from(r.hi - r.lo) + 1) as u16;
    let l4 = if matches!(protocol, 6 | 17) {
        L4::Ports {
            src: port(f.src_ports, rng),
            dst: port(f.dst_ports, rng),
        }
    } else {
        L4::None
    };
    let addr = |p: Prefix, rng: &mut Rng| {
        let host = !mask(f.family, p.len)
            & if f.family == Family::V4 {
                0xFFFF_FFFF
            } else {
                u128::MAX
            };
        p.addr | ((u128::from(rng.next()) << 64 | u128::from(rng.next())) & host)
    };
    FlowKey {
        family: f.family,
        src: addr(f.src, rng),
        dst: addr(f.dst, rng),
        protocol,
        l4,
        dscp: f.dscp.unwrap_or(rng.below(64) as u8),
        ecn: 0,
        vlan: f.vlan.map(|vid| VlanTag {
            vid,
            pcp: 0,
            dei: false,
        }),
    }
}

/// Packets inside every filter, plus random ones (mostly misses).
fn trace(filters: &[Filter], rng: &mut Rng) -> Vec<FlowKey> {
    let mut keys: Vec<FlowKey> = filters.iter().map(|f| inside(f, rng)).collect();
    for i in 0..filters.len() / 4 + 1 {
        let f = &filters[i % filters.len().max(1)];
        let mut k = inside(f, rng);
        k.src ^= u128::from(rng.next());
        k.dst ^= u128::from(rng.next()) << 8;
        keys.push(k);
    }
    keys
}

fn assert_same(c: &Classifier, filters: &[Filter], keys: &[FlowKey], what: &str) {
    let reference = LinearClassifier::new(filters);
    for k in keys {
        assert_eq!(
            c.classify(k).map(|f| f.id),
            reference.classify(k).map(|f| f.id),
            "{what}: packet {k:?}"
        );
    }
}

#[test]
fn a_large_synthetic_set_matches_the_reference_through_adds_and_removes() {
    let mut rng = Rng(0x6A7E_5EED_0000_0001);
    let v4 = synthetic(2500, &mut rng);
    let v6 = v6_variant(&v4[..1500], 100_000);
    let mut filters: Vec<Filter> = v4.iter().chain(v6.iter()).copied().collect();
    let keys = trace(&filters, &mut rng);
    let mut c = Classifier::build_tree(&filters).unwrap();
    assert_same(&c, &filters, &keys, "built");
    // Adds and removes, checked on a sample after each step and in full
    // at the end.
    let extra = synthetic(40, &mut rng);
    for (step, f) in extra.iter().enumerate() {
        let mut f = *f;
        f.id = 200_000 + step as u32;
        if step % 3 == 0 {
            f.family = Family::V6;
            f.src = to_v6(f.src);
            f.dst = to_v6(f.dst);
        }
        c = c.with_added(f).unwrap();
        filters.push(f);
        let gone = filters.remove(rng.below(filters.len() as u64) as usize);
        c = c.without(gone.id);
        let mut sample: Vec<FlowKey> = (0..200)
            .map(|_| keys[rng.below(keys.len() as u64) as usize])
            .collect();
        sample.push(inside(&f, &mut rng));
        assert_same(&c, &filters, &sample, "after an add and a remove");
    }
    assert_same(&c, &filters, &keys, "after the run");
}

/// Each ClassBench seed of `names` found beside the repository, IPv4 and
/// its IPv6 variant, compiled by `build`: every `every`-th packet of its
/// trace (from `seed`) classifies as the reference does. Returns how many
/// seeds were found.
fn seeds_match_the_reference(
    names: [&str; 3],
    seed: u64,
    every: usize,
    build: fn(&[Filter]) -> Classifier,
) -> usize {
    let mut seen = 0;
    for name in names {
        let Some((v4, _)) = load_classbench(name) else {
            eprintln!("{name} not found beside the repository: skipped");
            continue;
        };
        seen += 1;
        let v6 = v6_variant(&v4, 0);
        for set in [v4, v6] {
            let mut rng = Rng(seed);
            let keys: Vec<FlowKey> = trace(&set, &mut rng).into_iter().step_by(every).collect();
            let c = build(&set);
            assert_same(&c, &set, &keys, name);
        }
    }
    seen
}

#[test]
fn classbench_1k_seeds_match_the_reference() {
    let seen = seeds_match_the_reference(["acl1_1k", "fw1_1k", "ipc1_1k"], 0x5EED_0001, 1, |s| {
        Classifier::build(s).unwrap()
    });
    eprintln!("{seen} ClassBench seeds checked");
}

/// The 10k seeds build trees the 1k ones do not (finer gates on the
/// trees where the build's sample lookups find they skip work, deeper
/// trees): a sample of each trace, IPv4 and IPv6, against the reference.
#[test]
fn classbench_10k_seeds_match_the_reference() {
    let seen =
        seeds_match_the_reference(["acl1_10k", "fw1_10k", "ipc1_10k"], 0x5EED_0002, 5, |s| {
            Classifier::build_tree(s).unwrap()
        });
    eprintln!("{seen} ClassBench 10k seeds checked");
}
