//! Differential tests: the compiled classifier against the linear reference
//! (`gpc::reference`), on random filter sets built to overlap (addresses
//! from small pools sharing prefixes, repeated ports, duplicates of
//! conditions, both families) and packets biased to land inside filters.

use proptest::prelude::*;
use qos_engine::gpc::reference::{LinearClassifier, precedes};
use qos_engine::gpc::{
    Classifier, DEFAULT_PRECEDENCE, Engine, Filter, PortRange, Prefix, ProtocolMatch, Rank, Tuning,
};
use qos_engine::packet::{Family, FlowKey, L4, VlanTag};

const POOL4: [u128; 6] = [
    0x0A01_0203, // 10.1.2.3
    0x0A01_02C8, // 10.1.2.200
    0x0A01_6305, // 10.1.99.5
    0x0AC8_0001, // 10.200.0.1
    0xC0A8_0101, // 192.168.1.1
    0xC0A8_014D, // 192.168.1.77
];
const POOL6: [u128; 6] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0001,
    0x2001_0db8_0000_0000_0000_0000_0000_00ff,
    0x2001_0db8_0001_0000_0000_0000_0000_0001,
    0x2001_0db8_ffff_0000_0000_0000_0000_0000,
    0xfe80_0000_0000_0000_0000_0000_0000_0001,
    0xfe80_0000_0000_0000_0000_0000_0000_0002,
];
const PORTS: [u16; 4] = [80, 443, 1000, 1500];

fn width(family: Family) -> u8 {
    match family {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

/// Bits past `len` within the family's width.
fn host_mask(family: Family, len: u8) -> u128 {
    let host = u32::from(width(family) - len);
    if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    }
}

fn prefix(family: Family, (pool, random, len_sel): (usize, u128, u8)) -> Prefix {
    let (addr, lens): (u128, [u8; 10]) = match family {
        Family::V4 => (
            POOL4.get(pool).copied().unwrap_or(random & 0xFFFF_FFFF),
            [0, 8, 16, 24, 28, 31, 32, 0, 32, 30],
        ),
        Family::V6 => (
            POOL6.get(pool).copied().unwrap_or(random),
            [0, 32, 48, 64, 96, 120, 128, 0, 127, 56],
        ),
    };
    let mut len = lens[usize::from(len_sel % 10)];
    if len_sel % 10 == 7 {
        len = (random % (u128::from(width(family)) + 1)) as u8;
    }
    Prefix {
        addr: addr & !host_mask(family, len),
        len,
    }
}

fn ports((sel, a, b): (u8, u16, u16)) -> PortRange {
    match sel % 4 {
        0 | 1 => PortRange::ANY,
        2 => PortRange::single(PORTS[usize::from(a % 4)]),
        _ => {
            let lo = [0u16, 80, 1000, 1024][usize::from(a % 4)];
            let span = [0u16, 10, 1000, 64511][usize::from(b % 4)];
            PortRange {
                lo,
                hi: lo.saturating_add(span),
            }
        }
    }
}

type Addr = (usize, u128, u8);
type Ports = (u8, u16, u16);

prop_compose! {
    fn filter()(
        v6 in any::<bool>(),
        src in (0..9usize, any::<u128>(), any::<u8>()),
        dst in (0..9usize, any::<u128>(), any::<u8>()),
        sp in (any::<u8>(), any::<u16>(), any::<u16>()),
        dp in (any::<u8>(), any::<u16>(), any::<u16>()),
        proto in (0..8u8, any::<u8>()),
        dscp in (0..6u8, 0..64u8),
        vlan in (0..6u8, 0..4u16),
        prec in (0..8u8, any::<u8>()),
    ) -> Filter {
        make_filter(v6, src, dst, sp, dp, proto, dscp, vlan, prec)
    }
}

#[allow(clippy::too_many_arguments)]
fn make_filter(
    v6: bool,
    src: Addr,
    dst: Addr,
    sp: Ports,
    dp: Ports,
    proto: (u8, u8),
    dscp: (u8, u8),
    vlan: (u8, u16),
    prec: (u8, u8),
) -> Filter {
    let family = if v6 { Family::V6 } else { Family::V4 };
    let protocol = match proto.0 {
        0..=2 => ProtocolMatch::Any,
        3 => ProtocolMatch::Tcp,
        4 => ProtocolMatch::Udp,
        5 => ProtocolMatch::TcpOrUdp,
        6 => ProtocolMatch::Icmp,
        _ => ProtocolMatch::Number([6, 17, 47, 50, 1][usize::from(proto.1 % 5)]),
    };
    let ported = !matches!(
        protocol,
        ProtocolMatch::Icmp | ProtocolMatch::Number(47 | 50 | 1)
    );
    let (src_ports, dst_ports) = if ported {
        (ports(sp), ports(dp))
    } else {
        (PortRange::ANY, PortRange::ANY)
    };
    Filter {
        id: 0,
        flow: 0,
        family,
        src: prefix(family, src),
        dst: prefix(family, dst),
        src_ports,
        dst_ports,
        protocol,
        dscp: (dscp.0 == 0).then_some(dscp.1),
        vlan: (vlan.0 == 0).then_some(vlan.1),
        precedence: match prec.0 {
            0 => prec.1,
            1 => 200,
            _ => DEFAULT_PRECEDENCE,
        },
    }
}

/// Gives the filters distinct ids in a scrambled (not input) order.
fn with_ids(mut fs: Vec<Filter>) -> Vec<Filter> {
    let n = fs.len() as u32;
    for (i, f) in fs.iter_mut().enumerate() {
        let i = i as u32;
        f.id = (i.wrapping_mul(2_654_435_761) % (4 * n.max(1))) * 1000 + i;
        f.flow = i;
    }
    fs
}

/// What a packet is made from: which filter to land in (or none), random
/// bits for the rest.
#[derive(Debug, Clone)]
struct PacketSeed {
    target: Option<usize>,
    v6: bool,
    pool: (usize, usize),
    bits: (u128, u128),
    ports: (u16, u16),
    proto: u8,
    l4: u8,
    dscp: u8,
    vlan: (u8, u16),
}

fn packet_seed() -> impl Strategy<Value = PacketSeed> {
    (
        prop::option::weighted(0.8, any::<usize>()),
        any::<bool>(),
        (0..8usize, 0..8usize),
        (any::<u128>(), any::<u128>()),
        (any::<u16>(), any::<u16>()),
        any::<u8>(),
        any::<u8>(),
        // Mostly valid DSCPs and small VLAN ids (the filters' own), some
        // out of range: a DSCP of 64 + d, a VLAN id of 4096 + v must not
        // pass for a filter's d or v (the compact rules pack 6 and 12
        // bits).
        prop_oneof![
            6 => 0..64u8,
            1 => (0..6u8).prop_map(|d| d | 64),
            1 => any::<u8>(),
        ],
        (
            0..3u8,
            prop_oneof![
                6 => 0..4u16,
                1 => (0..4u16).prop_map(|v| v | 0x1000),
                1 => any::<u16>(),
            ],
        ),
    )
        .prop_map(
            |(target, v6, pool, bits, ports, proto, l4, dscp, vlan)| PacketSeed {
                target,
                v6,
                pool,
                bits,
                ports,
                proto,
                l4,
                dscp,
                vlan,
            },
        )
}

fn in_range(r: PortRange, x: u16) -> u16 {
    let span = u32::from(r.hi) - u32::from(r.lo) + 1;
    (u32::from(r.lo) + u32::from(x) % span) as u16
}

fn make_key(filters: &[Filter], s: &PacketSeed) -> FlowKey {
    let target = s.target.and_then(|t| {
        if filters.is_empty() {
            None
        } else {
            filters.get(t % filters.len())
        }
    });
    let protos = [6u8, 17, 1, 58, 47, 6, 17, 0];
    let mut key = FlowKey {
        family: if s.v6 { Family::V6 } else { Family::V4 },
        src: 0,
        dst: 0,
        protocol: protos[usize::from(s.proto % 8)],
        l4: L4::None,
        dscp: s.dscp,
        ecn: 0,
        vlan: match s.vlan.0 {
            0 => None,
            _ => Some(VlanTag {
                vid: s.vlan.1,
                pcp: 0,
                dei: false,
            }),
        },
    };
    match target {
        Some(f) => {
            key.family = f.family;
            key.src = f.src.addr | (s.bits.0 & host_mask(f.family, f.src.len));
            key.dst = f.dst.addr | (s.bits.1 & host_mask(f.family, f.dst.len));
            key.protocol = match f.protocol {
                ProtocolMatch::Any => key.protocol,
                ProtocolMatch::Tcp => 6,
                ProtocolMatch::Udp => 17,
                ProtocolMatch::TcpOrUdp => [6, 17][usize::from(s.proto % 2)],
                ProtocolMatch::Icmp => match f.family {
                    Family::V4 => 1,
                    Family::V6 => 58,
                },
                ProtocolMatch::Number(n) => n,
            };
            if let Some(d) = f.dscp {
                key.dscp = d;
            }
            if let Some(v) = f.vlan {
                key.vlan = Some(VlanTag {
                    vid: v,
                    pcp: 3,
                    dei: false,
                });
            }
            key.l4 = if f.has_port_condition() || matches!(key.protocol, 6 | 17) {
                L4::Ports {
                    src: in_range(f.src_ports, s.ports.0),
                    dst: in_range(f.dst_ports, s.ports.1),
                }
            } else {
                L4::None
            };
        }
        None => {
            let (p4, p6) = (POOL4.get(s.pool.0).copied(), POOL6.get(s.pool.0).copied());
            let (d4, d6) = (POOL4.get(s.pool.1).copied(), POOL6.get(s.pool.1).copied());
            // Pool addresses with their low bits randomised, or random.
            let low = 0xFFu128;
            (key.src, key.dst) = if s.v6 {
                (
                    p6.map_or(s.bits.0, |a| a ^ (s.bits.0 & low)),
                    d6.map_or(s.bits.1, |a| a ^ (s.bits.1 & low)),
                )
            } else {
                (
                    p4.map_or(s.bits.0 & 0xFFFF_FFFF, |a| a ^ (s.bits.0 & low)),
                    d4.map_or(s.bits.1 & 0xFFFF_FFFF, |a| a ^ (s.bits.1 & low)),
                )
            };
            key.l4 = match (key.protocol, s.l4 % 4) {
                (6 | 17, 0) => L4::None,
                (6 | 17, _) => L4::Ports {
                    src: PORTS[usize::from(s.ports.0 % 4)] ^ (s.ports.0 & 0x100),
                    dst: PORTS[usize::from(s.ports.1 % 4)] ^ (s.ports.1 & 0x100),
                },
                (1 | 58, _) => L4::Icmp { ty: 8, code: 0 },
                _ => L4::None,
            };
        }
    }
    // Now and then a ported packet that is a non-first fragment.
    if s.l4 == 255 {
        key.l4 = L4::None;
    }
    key
}

/// Asserts compiled == reference for every packet.
fn check_same(
    c: &Classifier,
    filters: &[Filter],
    seeds: &[PacketSeed],
) -> Result<(), TestCaseError> {
    let r = LinearClassifier::new(filters);
    prop_assert_eq!(c.len(), filters.len());
    for s in seeds {
        let key = make_key(filters, s);
        let want = r.classify(&key).map(|f| f.id);
        let got = c.classify(&key).map(|f| f.id);
        prop_assert_eq!(got, want, "key {:?}", key);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn small_sets_match_reference(
        fs in prop::collection::vec(filter(), 0..40),
        seeds in prop::collection::vec(packet_seed(), 1..150),
    ) {
        let fs = with_ids(fs);
        let c = Classifier::build(&fs).unwrap();
        check_same(&c, &fs, &seeds)?;
        let c = Classifier::build_tree(&fs).unwrap();
        check_same(&c, &fs, &seeds)?;
    }

    /// Any placement knobs (tiny buckets force piles and by-port tables,
    /// a step of 1 makes exact tables) give the same answers, also after
    /// updates.
    #[test]
    fn any_tuning_matches_reference(
        fs in prop::collection::vec(filter(), 0..80),
        limit in 1..6u32,
        step in prop::sample::select(vec![1u8, 2, 3, 8, 32, 128]),
        port_tables in any::<bool>(),
        extra in prop::collection::vec(filter(), 0..10),
        seeds in prop::collection::vec(packet_seed(), 1..100),
    ) {
        let fs = with_ids(fs);
        let tuning = Tuning { bucket_limit: limit, relax_step: step, port_tables };
        let mut c = Classifier::build_tuned(&fs, tuning).unwrap();
        check_same(&c, &fs, &seeds)?;
        let mut all = fs.clone();
        for (i, f) in extra.into_iter().enumerate() {
            let f = Filter { id: 5_000_000 + i as u32, ..f };
            all.push(f);
            c = c.with_added(f).unwrap();
        }
        check_same(&c, &all, &seeds)?;
        if let Some(f) = all.first().copied() {
            c = c.without(f.id);
            all.remove(0);
            check_same(&c, &all, &seeds)?;
        }
    }

    #[test]
    fn rank_order_equals_reference_order(a in filter(), b in filter(), ia in 0..50u32, ib in 0..50u32) {
        let a = Filter { id: ia, ..a };
        let b = Filter { id: ib, ..b };
        prop_assert_eq!(Rank::of(&a).cmp(&Rank::of(&b)), precedes(&a, &b));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_matches_reference(
        fs in prop::collection::vec(filter(), 0..120),
        split in any::<prop::sample::Index>(),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
        seeds in prop::collection::vec(packet_seed(), 1..150),
    ) {
        let fs = with_ids(fs);
        let at = if fs.is_empty() { 0 } else { split.index(fs.len() + 1) };
        let (first, rest) = fs.split_at(at);
        let mut c = Classifier::build(first).unwrap();
        for f in rest {
            c = c.with_added(*f).unwrap();
        }
        check_same(&c, &fs, &seeds)?;
        let mut live = fs.clone();
        for r in &removals {
            if live.is_empty() {
                break;
            }
            let gone = live.remove(r.index(live.len()));
            c = c.without(gone.id);
        }
        check_same(&c, &live, &seeds)?;
        // Removed filters can come back.
        let back: Vec<Filter> = fs.iter().filter(|f| !live.contains(f)).copied().collect();
        for f in &back {
            c = c.with_added(*f).unwrap();
        }
        check_same(&c, &fs, &seeds)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn large_sets_match_reference(
        fs in prop::collection::vec(filter(), 300..1000),
        seeds in prop::collection::vec(packet_seed(), 300..600),
        extra in prop::collection::vec(filter(), 1..20),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 1..20),
    ) {
        let fs = with_ids(fs);
        let c = Classifier::build(&fs).unwrap();
        check_same(&c, &fs, &seeds)?;
        // Add a few (ids past the set's), remove a few.
        let mut live = fs.clone();
        let base = 10_000_000;
        let mut c2 = Classifier::build(&fs).unwrap();
        for (i, f) in extra.into_iter().enumerate() {
            let f = Filter { id: base + i as u32, ..f };
            live.push(f);
            c2 = c2.with_added(f).unwrap();
        }
        check_same(&c2, &live, &seeds)?;
        for r in &removals {
            let gone = live.remove(r.index(live.len()));
            c2 = c2.without(gone.id);
        }
        check_same(&c2, &live, &seeds)?;
    }
}

/// Cuts a filter's prefixes down to at most `max` bits (keeping the
/// address's leading bits): wildcard-heavy sets, the ones that make
/// decision trees copy filters into many leaves.
fn widen(mut f: Filter, src_max: u8, dst_max: u8) -> Filter {
    let cut = |p: Prefix, max: u8| {
        let len = p.len.min(max);
        Prefix {
            addr: p.addr & !host_mask(f.family, len),
            len,
        }
    };
    f.src = cut(f.src, src_max);
    f.dst = cut(f.dst, dst_max);
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Wildcard-heavy sets (short prefixes in both addresses, so the tree
    /// engine's groups 2-6 and its replication budget do the work), deep
    /// overlaps, with updates: the default engine against the reference.
    #[test]
    fn wildcard_heavy_sets_match_reference(
        fs in prop::collection::vec((filter(), 0..3u8, 0..3u8), 50..400),
        extra in prop::collection::vec(filter(), 0..12),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        seeds in prop::collection::vec(packet_seed(), 100..300),
    ) {
        let fs: Vec<Filter> = fs
            .into_iter()
            .map(|(f, s, d)| widen(f, [0, 4, 16][usize::from(s)], [0, 8, 24][usize::from(d)]))
            .collect();
        let fs = with_ids(fs);
        check_same(&Classifier::build(&fs).unwrap(), &fs, &seeds)?;
        let mut c = Classifier::build_tree(&fs).unwrap();
        check_same(&c, &fs, &seeds)?;
        let mut live = fs.clone();
        for (i, f) in extra.into_iter().enumerate() {
            let f = Filter { id: 20_000_000 + i as u32, ..widen(f, 8, 8) };
            live.push(f);
            c = c.with_added(f).unwrap();
        }
        check_same(&c, &live, &seeds)?;
        for r in &removals {
            let gone = live.remove(r.index(live.len()));
            c = c.without(gone.id);
        }
        check_same(&c, &live, &seeds)?;
    }

    /// Sets of one shape per family (any source, destination /24 or /48,
    /// the port condition of the first filter) compile into one tuple
    /// table per family (two when a bucket overflows), which lookups probe
    /// directly: the answers equal the reference's, also after an add and
    /// a removal. (Only this test caught a lookup that took a bucket's
    /// last match instead of its first.)
    #[test]
    fn one_table_sets_match_reference(
        fs in prop::collection::vec(filter(), 1..60),
        extra in filter(),
        seeds in prop::collection::vec(packet_seed(), 1..150),
    ) {
        let dports = fs[0].dst_ports;
        let shape = |f: Filter| {
            let len = if f.family == Family::V4 { 24 } else { 48 };
            let (dst_ports, protocol) = if dports.is_any() {
                (PortRange::ANY, f.protocol)
            } else {
                (dports, ProtocolMatch::TcpOrUdp)
            };
            Filter {
                src: Prefix::ANY,
                dst: Prefix { addr: f.dst.addr & !host_mask(f.family, len), len },
                src_ports: PortRange::ANY,
                dst_ports,
                protocol,
                ..f
            }
        };
        let fs = with_ids(fs.into_iter().map(shape).collect());
        let mut c = Classifier::build_tuned(&fs, Tuning::DEFAULT).unwrap();
        prop_assert_eq!(c.engine(), Engine::TupleSpace);
        check_same(&c, &fs, &seeds)?;
        let mut all = fs.clone();
        let f = Filter { id: 9_000_000, ..shape(extra) };
        all.push(f);
        c = c.with_added(f).unwrap();
        check_same(&c, &all, &seeds)?;
        let gone = all.remove(0);
        c = c.without(gone.id);
        check_same(&c, &all, &seeds)?;
    }

    /// Both engines give the same answer on the same set, through the
    /// same updates.
    #[test]
    fn tree_and_tuple_engines_agree(
        fs in prop::collection::vec(filter(), 0..300),
        extra in prop::collection::vec(filter(), 0..10),
        seeds in prop::collection::vec(packet_seed(), 50..200),
    ) {
        let fs = with_ids(fs);
        let mut tree = Classifier::build_tree(&fs).unwrap();
        let mut tuple = Classifier::build_tuned(&fs, Tuning::DEFAULT).unwrap();
        prop_assert_eq!(tree.engine(), Engine::DecisionTree);
        prop_assert_eq!(tuple.engine(), Engine::TupleSpace);
        let mut all = fs.clone();
        for (i, f) in extra.into_iter().enumerate() {
            let f = Filter { id: 30_000_000 + i as u32, ..f };
            all.push(f);
            tree = tree.with_added(f).unwrap();
            tuple = tuple.with_added(f).unwrap();
        }
        for s in &seeds {
            let key = make_key(&all, s);
            prop_assert_eq!(
                tree.classify(&key).map(|f| f.id),
                tuple.classify(&key).map(|f| f.id),
                "key {:?}", key
            );
        }
        if let Some(f) = all.get(all.len() / 2).copied() {
            tree = tree.without(f.id);
            tuple = tuple.without(f.id);
            for s in &seeds {
                let key = make_key(&all, s);
                prop_assert_eq!(tree.classify(&key).map(|f| f.id), tuple.classify(&key).map(|f| f.id));
            }
        }
    }
}
