//! Classification never allocates: `Classifier::classify` runs under a
//! counting global allocator over a mixed IPv4/IPv6 set with every kind of
//! condition, for hits and misses alike.

use qos_engine::gpc::{Classifier, DEFAULT_PRECEDENCE, Filter, PortRange, Prefix, ProtocolMatch};
use qos_engine::packet::{Family, FlowKey, L4, VlanTag};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn filter(rng: &mut Rng, id: u32) -> Filter {
    let v6 = rng.below(2) == 0;
    let (family, width) = if v6 {
        (Family::V6, 128u32)
    } else {
        (Family::V4, 32)
    };
    let prefix = |rng: &mut Rng| {
        let len = [0, 8, 16, 24, 31, 32, 48, 64, 128][rng.below(9) as usize].min(width);
        let addr = if v6 {
            (0x2001_0db8u128 << 96) | u128::from(rng.below(16)) << 64
        } else {
            0x0A00_0000 | u128::from(rng.below(16)) << 8
        };
        let host = width - len;
        let mask = if host >= 128 {
            0
        } else {
            !((1u128 << host) - 1)
        };
        Prefix {
            addr: addr & mask,
            len: len as u8,
        }
    };
    // The source always has a condition (so keys from elsewhere miss).
    let mut src = prefix(rng);
    while src.len == 0 {
        src = prefix(rng);
    }
    let dst = prefix(rng);
    let ports = |rng: &mut Rng| match rng.below(3) {
        0 => PortRange::ANY,
        1 => PortRange::single(rng.below(8) as u16 + 80),
        _ => PortRange {
            lo: 1000,
            hi: 1000 + rng.below(5000) as u16,
        },
    };
    let protocol = [
        ProtocolMatch::Any,
        ProtocolMatch::Tcp,
        ProtocolMatch::Udp,
        ProtocolMatch::TcpOrUdp,
    ][rng.below(4) as usize];
    Filter {
        id,
        flow: id % 7,
        family,
        src,
        dst,
        src_ports: ports(rng),
        dst_ports: ports(rng),
        protocol,
        dscp: (rng.below(8) == 0).then(|| rng.below(64) as u8),
        vlan: (rng.below(8) == 0).then(|| rng.below(4) as u16),
        precedence: if rng.below(10) == 0 {
            200
        } else {
            DEFAULT_PRECEDENCE
        },
    }
}

fn key(rng: &mut Rng) -> FlowKey {
    let v6 = rng.below(2) == 0;
    let (family, src, dst) = if v6 {
        let a = |rng: &mut Rng| {
            (0x2001_0db8u128 << 96) | u128::from(rng.below(16)) << 64 | u128::from(rng.next())
        };
        (Family::V6, a(rng), a(rng))
    } else {
        let a = |rng: &mut Rng| 0x0A00_0000 | u128::from(rng.below(4096));
        (Family::V4, a(rng), a(rng))
    };
    // A quarter of the keys come from outside every source prefix.
    let src = if rng.below(4) == 0 {
        src ^ (0xC0 << if v6 { 120 } else { 24 })
    } else {
        src
    };
    FlowKey {
        family,
        src,
        dst,
        protocol: [6, 17, 1, 58][rng.below(4) as usize],
        l4: match rng.below(3) {
            0 => L4::None,
            1 => L4::Icmp { ty: 8, code: 0 },
            _ => L4::Ports {
                src: rng.below(7000) as u16,
                dst: rng.below(7000) as u16,
            },
        },
        dscp: rng.below(64) as u8,
        ecn: 0,
        vlan: (rng.below(2) == 0).then(|| VlanTag {
            vid: rng.below(4) as u16,
            pcp: 0,
            dei: false,
        }),
    }
}

#[test]
fn classify_does_not_allocate() {
    let mut rng = Rng(0xC1A5_51F1);
    let filters: Vec<Filter> = (0..3000).map(|i| filter(&mut rng, i)).collect();
    // Both engines: the default pick and each one by name.
    let engines = [
        Classifier::build(&filters).unwrap(),
        Classifier::build_tree(&filters).unwrap(),
        Classifier::build_tuned(&filters, qos_engine::gpc::Tuning::DEFAULT).unwrap(),
    ];
    let keys: Vec<FlowKey> = (0..20_000).map(|_| key(&mut rng)).collect();
    let mut hits = 0usize;
    counting_alloc::start();
    for c in &engines {
        for k in &keys {
            if c.classify(k).is_some() {
                hits += 1;
            }
        }
    }
    let allocs = counting_alloc::stop();
    let hits = hits / engines.len();
    assert_eq!(allocs, 0, "classify allocated");
    // The set is dense enough that both hits and misses were exercised.
    assert!(hits > 1000 && hits < keys.len(), "hits {hits}");
}
