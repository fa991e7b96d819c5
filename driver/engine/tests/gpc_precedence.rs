//! One test per precedence rule of the classifier (Policy-based QoS rules
//! made total, see `gpc::rank`). Each test asks both the compiled
//! classifier and the linear reference, in both input orders.

use qos_engine::error::{ErrorKind, Field, Object};
use qos_engine::gpc::reference::LinearClassifier;
use qos_engine::gpc::{
    Classifier, DEFAULT_PRECEDENCE, Filter, FilterId, PortRange, Prefix, ProtocolMatch,
};
use qos_engine::packet::{Family, FlowKey, L4, VlanTag};

fn ip4(a: u8, b: u8, c: u8, d: u8) -> u128 {
    u128::from(u32::from_be_bytes([a, b, c, d]))
}

fn p4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Prefix {
    Prefix {
        addr: ip4(a, b, c, d),
        len,
    }
}

/// A filter with no condition at all, IPv4.
fn any4(id: FilterId) -> Filter {
    Filter {
        id,
        flow: id,
        family: Family::V4,
        src: Prefix::ANY,
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Any,
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    }
}

/// A TCP packet 10.1.2.3:1500 -> 192.168.7.9:80, DSCP 46, VLAN 100.
fn pkt() -> FlowKey {
    FlowKey {
        family: Family::V4,
        src: ip4(10, 1, 2, 3),
        dst: ip4(192, 168, 7, 9),
        protocol: 6,
        l4: L4::Ports { src: 1500, dst: 80 },
        dscp: 46,
        ecn: 0,
        vlan: Some(VlanTag {
            vid: 100,
            pcp: 0,
            dei: false,
        }),
    }
}

/// Asserts that among `filters` the filter `winner` wins for `key`, in the
/// compiled classifier and in the reference, whatever the input order.
fn assert_winner(filters: &[Filter], key: &FlowKey, winner: Option<FilterId>) {
    for f in filters {
        assert!(
            f.matches(key) || Some(f.id) != winner,
            "test setup: winner {} must match",
            f.id
        );
    }
    let mut rev = filters.to_vec();
    rev.reverse();
    for set in [filters.to_vec(), rev] {
        let c = Classifier::build(&set).unwrap();
        assert_eq!(
            c.classify(key).map(|f| f.id),
            winner,
            "compiled, set {set:?}"
        );
        let r = LinearClassifier::new(&set);
        assert_eq!(
            r.classify(key).map(|f| f.id),
            winner,
            "reference, set {set:?}"
        );
        // Also when the filters arrive one by one.
        let mut inc = Classifier::build(&[]).unwrap();
        for f in &set {
            inc = inc.with_added(*f).unwrap();
        }
        assert_eq!(inc.classify(key).map(|f| f.id), winner, "incremental");
    }
}

#[test]
fn explicit_precedence_beats_specificity() {
    let mut loose = any4(1);
    loose.precedence = 200;
    let mut tight = any4(2);
    tight.src = p4(10, 1, 2, 3, 32);
    tight.dst = p4(192, 168, 7, 9, 32);
    tight.protocol = ProtocolMatch::Tcp;
    assert_winner(&[loose, tight], &pkt(), Some(1));
    // And a lower explicit precedence loses to the default.
    let mut low = tight;
    low.id = 3;
    low.precedence = 10;
    assert_winner(&[low, any4(4)], &pkt(), Some(4));
}

#[test]
fn more_conditions_win_over_longer_prefixes() {
    let mut two = any4(1);
    two.src = p4(10, 0, 0, 0, 8);
    two.dst = p4(192, 0, 0, 0, 8);
    let mut one = any4(2);
    one.src = p4(10, 1, 2, 3, 32);
    assert_winner(&[two, one], &pkt(), Some(1));
}

#[test]
fn tie_source_ip_beats_destination_ip() {
    let mut s = any4(2);
    s.src = p4(10, 0, 0, 0, 8);
    let mut d = any4(1);
    d.dst = p4(192, 168, 7, 9, 32);
    assert_winner(&[s, d], &pkt(), Some(2));
}

#[test]
fn tie_destination_ip_beats_source_port() {
    let mut d = any4(2);
    d.dst = p4(192, 0, 0, 0, 8);
    let mut sp = any4(1);
    sp.src_ports = PortRange::single(1500);
    assert_winner(&[d, sp], &pkt(), Some(2));
}

#[test]
fn tie_source_port_beats_destination_port() {
    let mut sp = any4(2);
    sp.src_ports = PortRange {
        lo: 1024,
        hi: 65535,
    };
    let mut dp = any4(1);
    dp.dst_ports = PortRange::single(80);
    assert_winner(&[sp, dp], &pkt(), Some(2));
}

#[test]
fn tie_destination_port_beats_protocol() {
    let mut dp = any4(2);
    dp.dst_ports = PortRange { lo: 0, hi: 1023 };
    let mut pr = any4(1);
    pr.protocol = ProtocolMatch::Tcp;
    assert_winner(&[dp, pr], &pkt(), Some(2));
}

#[test]
fn tie_protocol_beats_inbound_dscp_beats_vlan() {
    let mut pr = any4(3);
    pr.protocol = ProtocolMatch::TcpOrUdp;
    let mut ds = any4(2);
    ds.dscp = Some(46);
    let mut vl = any4(1);
    vl.vlan = Some(100);
    assert_winner(&[pr, ds, vl], &pkt(), Some(3));
    assert_winner(&[ds, vl], &pkt(), Some(2));
}

#[test]
fn dscp_and_vlan_count_as_conditions() {
    // Source prefix alone (1 condition) loses to DSCP + VLAN (2 conditions).
    let mut s = any4(1);
    s.src = p4(10, 1, 2, 3, 32);
    let mut dv = any4(2);
    dv.dscp = Some(46);
    dv.vlan = Some(100);
    assert_winner(&[s, dv], &pkt(), Some(2));
}

#[test]
fn longer_prefix_wins() {
    let mut l32 = any4(2);
    l32.src = p4(10, 1, 2, 3, 32);
    let mut l24 = any4(1);
    l24.src = p4(10, 1, 2, 0, 24);
    assert_winner(&[l32, l24], &pkt(), Some(2));
    // Same for the destination, sources equal.
    let mut a = l24;
    a.id = 3;
    a.dst = p4(192, 168, 7, 0, 24);
    let mut b = l24;
    b.id = 4;
    b.dst = p4(192, 168, 0, 0, 16);
    assert_winner(&[a, b], &pkt(), Some(3));
}

#[test]
fn source_prefix_length_decides_before_destination_length() {
    let mut a = any4(1);
    a.src = p4(10, 1, 2, 0, 24);
    a.dst = p4(192, 0, 0, 0, 8);
    let mut b = any4(2);
    b.src = p4(10, 1, 0, 0, 16);
    b.dst = p4(192, 168, 7, 9, 32);
    assert_winner(&[a, b], &pkt(), Some(1));
}

#[test]
fn narrower_port_range_wins() {
    let mut narrow = any4(2);
    narrow.dst_ports = PortRange { lo: 80, hi: 90 };
    let mut wide = any4(1);
    wide.dst_ports = PortRange { lo: 80, hi: 100 };
    assert_winner(&[narrow, wide], &pkt(), Some(2));
    let mut s_narrow = any4(3);
    s_narrow.src_ports = PortRange::single(1500);
    let mut s_wide = any4(4);
    s_wide.src_ports = PortRange { lo: 1024, hi: 2047 };
    assert_winner(&[s_narrow, s_wide], &pkt(), Some(3));
}

#[test]
fn single_protocol_is_narrower_than_tcp_or_udp() {
    let mut one = any4(2);
    one.protocol = ProtocolMatch::Number(6);
    let mut two = any4(1);
    two.protocol = ProtocolMatch::TcpOrUdp;
    assert_winner(&[one, two], &pkt(), Some(2));
}

#[test]
fn older_filter_wins_among_equals() {
    let mut a = any4(7);
    a.dst_ports = PortRange::single(80);
    let mut b = a;
    b.id = 3;
    b.dst_ports = PortRange::single(80);
    b.protocol = ProtocolMatch::Any;
    // Same conditions, same narrowness: the smaller id is older.
    let mut c = a;
    c.id = 5;
    assert_winner(&[a, b, c], &pkt(), Some(3));
}

#[test]
fn identical_filters_are_allowed_and_resolve_by_id() {
    let mut a = any4(42);
    a.src = p4(10, 0, 0, 0, 8);
    a.protocol = ProtocolMatch::Tcp;
    let set: Vec<Filter> = (0..10)
        .map(|i| Filter {
            id: 100 - i,
            flow: i,
            ..a
        })
        .collect();
    assert_winner(&set, &pkt(), Some(91));
}

#[test]
fn ipv4_and_ipv6_never_cross_match() {
    let v4 = any4(1);
    let v6 = Filter {
        family: Family::V6,
        ..any4(2)
    };
    let k4 = pkt();
    let k6 = FlowKey {
        family: Family::V6,
        ..pkt()
    };
    assert_winner(&[v4, v6], &k4, Some(1));
    assert_winner(&[v4, v6], &k6, Some(2));
    assert_winner(&[v4], &k6, None);
    assert_winner(&[v6], &k4, None);
    // Same numeric prefix in both families: still no cross match.
    let mut s4 = any4(3);
    s4.src = p4(10, 1, 2, 3, 32);
    assert_winner(&[s4], &k6, None);
}

#[test]
fn port_conditions_need_ports() {
    let mut f = any4(1);
    f.dst_ports = PortRange { lo: 0, hi: 1023 };
    let icmp = FlowKey {
        protocol: 1,
        l4: L4::Icmp { ty: 8, code: 0 },
        ..pkt()
    };
    let frag = FlowKey {
        l4: L4::None,
        ..pkt()
    };
    assert_winner(&[f], &pkt(), Some(1));
    assert_winner(&[f], &icmp, None);
    assert_winner(&[f], &frag, None);
    // A filter without port conditions matches all three.
    assert_winner(&[any4(2)], &frag, Some(2));
    assert_winner(&[any4(2)], &icmp, Some(2));
}

#[test]
fn icmp_means_1_for_ipv4_and_58_for_ipv6() {
    let f4 = Filter {
        protocol: ProtocolMatch::Icmp,
        ..any4(1)
    };
    let f6 = Filter {
        family: Family::V6,
        ..f4
    };
    let k = |family, protocol| FlowKey {
        family,
        protocol,
        l4: L4::Icmp { ty: 8, code: 0 },
        ..pkt()
    };
    assert_winner(&[f4], &k(Family::V4, 1), Some(1));
    assert_winner(&[f4], &k(Family::V4, 58), None);
    assert_winner(&[f6], &k(Family::V6, 58), Some(1));
    assert_winner(&[f6], &k(Family::V6, 1), None);
}

#[test]
fn dscp_and_vlan_conditions_match_exactly() {
    let ds = Filter {
        dscp: Some(10),
        ..any4(1)
    };
    let vl = Filter {
        vlan: Some(7),
        ..any4(2)
    };
    assert_winner(&[ds, vl], &pkt(), None);
    let untagged = FlowKey {
        vlan: None,
        ..pkt()
    };
    let vl100 = Filter {
        vlan: Some(100),
        ..any4(3)
    };
    assert_winner(&[vl100], &pkt(), Some(3));
    assert_winner(&[vl100], &untagged, None);
}

#[test]
fn duplicate_ids_are_refused() {
    let a = any4(5);
    let b = Filter {
        src: p4(10, 0, 0, 0, 8),
        ..any4(5)
    };
    let e = Classifier::build(&[any4(1), a, b]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateId);
    assert_eq!(e.object, Object::Filter(5));
    assert_eq!(e.field, Field::FilterId);
    let c = Classifier::build(&[a]).unwrap();
    let e = c.with_added(b).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateId);
    // After removing the old one, the id is free again.
    let c = c.without(5).with_added(b).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c.classify(&pkt()).map(|f| f.src), Some(b.src));
}

#[test]
fn without_unknown_id_changes_nothing_and_without_all_is_empty() {
    let c = Classifier::build(&[any4(1), any4(2)]).unwrap();
    let same = c.without(99);
    assert_eq!(same.len(), 2);
    assert_eq!(same.classify(&pkt()).map(|f| f.id), Some(1));
    let empty = c.without(1).without(2);
    assert!(empty.is_empty());
    assert_eq!(empty.classify(&pkt()), None);
    // The original is untouched.
    assert_eq!(c.classify(&pkt()).map(|f| f.id), Some(1));
}

#[test]
fn invalid_filter_is_refused_by_build_and_with_added() {
    let bad = Filter {
        dst_ports: PortRange { lo: 9, hi: 1 },
        ..any4(3)
    };
    let e = Classifier::build(&[any4(1), bad]).unwrap_err();
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::InvalidPortRange,
            Object::Filter(3),
            Field::DstPorts
        )
    );
    let c = Classifier::build(&[any4(1)]).unwrap();
    assert_eq!(c.with_added(bad).unwrap_err(), e);
}

#[test]
fn classifier_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Classifier>();
}

#[test]
fn ipv4_keys_compare_only_their_low_32_bits() {
    let mut f = any4(1);
    f.src = p4(10, 1, 2, 0, 24);
    f.dst = p4(192, 168, 7, 9, 32);
    let noisy = FlowKey {
        src: pkt().src | (0xFFFF_u128 << 64),
        dst: pkt().dst | (1u128 << 100),
        ..pkt()
    };
    assert_winner(&[f], &noisy, Some(1));
}
