//! Per-packet cost of the frame parser and the marker (the send path's
//! budget is ~67 ns per packet; the parser aims for < 20 ns on a typical
//! TCP/IPv4 frame in one slice).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use qos_engine::flow::{FlowSpec, ServiceType};
use qos_engine::mark::{MarkMaps, decide, rewrite_dscp};
use qos_engine::packet::{Framing, parse};

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const V6_A: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_B: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn eth_v4_tcp() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(49152, 443, 1, 65535)
        .write(&mut out, &[0u8; 1400])
        .unwrap();
    out
}

fn vlan_v4_udp() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .single_vlan(etherparse::VlanId::try_new(100).unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5004, 5004)
        .write(&mut out, &[0u8; 160])
        .unwrap();
    out
}

fn eth_v6_tcp() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv6(V6_A, V6_B, 64)
        .tcp(49152, 443, 1, 65535)
        .write(&mut out, &[0u8; 1200])
        .unwrap();
    out
}

/// IPv6 with hop-by-hop and a (first) fragment header before TCP.
fn eth_v6_chain() -> Vec<u8> {
    let mut f = eth_v6_tcp();
    let ext = [44u8, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 7];
    f.splice(54..54, ext);
    f[20] = 0; // next header: hop-by-hop
    let len = u16::from_be_bytes([f[18], f[19]]) + 16;
    f[18..20].copy_from_slice(&len.to_be_bytes());
    f
}

fn raw_v4_tcp() -> Vec<u8> {
    eth_v4_tcp()[14..].to_vec()
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    let cases: [(&str, Vec<u8>, Framing); 5] = [
        ("eth_ipv4_tcp", eth_v4_tcp(), Framing::Ethernet),
        ("vlan_ipv4_udp", vlan_v4_udp(), Framing::Ethernet),
        ("eth_ipv6_tcp", eth_v6_tcp(), Framing::Ethernet),
        ("eth_ipv6_hbh_frag_tcp", eth_v6_chain(), Framing::Ethernet),
        ("raw_ipv4_tcp", raw_v4_tcp(), Framing::RawIp),
    ];
    for (name, frame, framing) in &cases {
        assert!(parse(&[frame], *framing).is_ok(), "{name}");
        g.bench_function(*name, |b| {
            b.iter(|| parse(black_box(&[&frame[..]]), black_box(*framing)))
        });
    }
    // References measured in the same run, so that figures taken on a
    // loaded machine can be read as ratios: etherparse's own slicing of the
    // same frame (it validates more and reads the whole TCP header), and a
    // floor of four dependent loads.
    let f = eth_v4_tcp();
    g.bench_function("reference_etherparse_eth_ipv4_tcp", |b| {
        b.iter(|| etherparse::SlicedPacket::from_ethernet(black_box(&f[..])).is_ok())
    });
    g.bench_function("reference_floor", |b| {
        b.iter(|| {
            let f = black_box(&f[..]);
            f.get(12).copied().unwrap_or(0) as u32
                + f.get(23).copied().unwrap_or(0) as u32
                + f.get(34).copied().unwrap_or(0) as u32
                + f.get(36).copied().unwrap_or(0) as u32
        })
    });
    // The same TCP/IPv4 frame as an MDL chain would split it: the link
    // header alone, then the IP header straddling two slices.
    let f = eth_v4_tcp();
    let parts: [&[u8]; 3] = [&f[..14], &f[14..30], &f[30..]];
    g.bench_function("eth_ipv4_tcp_split3", |b| {
        b.iter(|| parse(black_box(&parts), black_box(Framing::Ethernet)))
    });
    g.finish();
}

fn bench_mark(c: &mut Criterion) {
    let mut g = c.benchmark_group("mark");
    let maps = MarkMaps::default();
    let mut flow = FlowSpec::best_effort("f");
    flow.service_type = ServiceType::Guaranteed;
    g.bench_function("decide", |b| {
        b.iter(|| decide(black_box(&maps), black_box(&flow), black_box(true)))
    });
    let mut f = eth_v4_tcp();
    let p = parse(&[&f], Framing::Ethernet).unwrap();
    let mut dscp = 0u8;
    g.bench_function("rewrite_dscp_ipv4", |b| {
        b.iter(|| {
            dscp = (dscp + 1) & 63;
            rewrite_dscp(&mut [&mut f[..]], p.key.family, &p.offsets, black_box(dscp))
        })
    });
    let (a, rest) = f.split_at_mut(25);
    let (b_, c_) = rest.split_at_mut(10);
    let mut parts: [&mut [u8]; 3] = [a, b_, c_];
    g.bench_function("rewrite_dscp_ipv4_split3", |b| {
        b.iter(|| {
            dscp = (dscp + 1) & 63;
            rewrite_dscp(&mut parts, p.key.family, &p.offsets, black_box(dscp))
        })
    });
    let mut f6 = eth_v6_tcp();
    let p6 = parse(&[&f6], Framing::Ethernet).unwrap();
    g.bench_function("rewrite_dscp_ipv6", |b| {
        b.iter(|| {
            dscp = (dscp + 1) & 63;
            rewrite_dscp(
                &mut [&mut f6[..]],
                p6.key.family,
                &p6.offsets,
                black_box(dscp),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_mark);
criterion_main!(benches);
