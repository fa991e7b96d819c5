use super::*;
use crate::flow::ShapingBehavior;
use crate::gpc::DEFAULT_PRECEDENCE;
use crate::packet::L4;
use alloc::format;
use alloc::vec;

fn flow(name: &str) -> FlowSpec {
    FlowSpec::best_effort(name)
}

fn guaranteed(rate: u64) -> FlowSpec {
    FlowSpec {
        service_type: ServiceType::Guaranteed,
        token_rate: Some(rate),
        bucket: 3000,
        ..FlowSpec::best_effort("")
    }
}

fn filter(id: u32, flow: u32, dst: u32, len: u8) -> Filter {
    Filter {
        id,
        flow,
        family: Family::V4,
        src: Prefix::ANY,
        dst: Prefix {
            addr: u128::from(dst),
            len,
        },
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Any,
        dscp: None,
        vlan: None,
        precedence: DEFAULT_PRECEDENCE,
    }
}

fn key(family: Family, dst: u128, proto: u8, dport: u16, dscp: u8) -> FlowKey {
    FlowKey {
        family,
        src: 1,
        dst,
        protocol: proto,
        l4: L4::Ports {
            src: 1000,
            dst: dport,
        },
        dscp,
        ecn: 0,
        vlan: None,
    }
}

fn policy(id: u32) -> Policy {
    Policy {
        id,
        name: String::new(),
        protocol: PolicyProtocol::Any,
        family: None,
        src: None,
        dst: None,
        src_ports: None,
        dst_ports: None,
        dscp: Some(46),
        pcp: None,
        throttle_bps: None,
        precedence: DEFAULT_PRECEDENCE,
    }
}

fn cfg() -> AdapterConfig {
    AdapterConfig {
        flows: vec![(10, flow("a")), (3, flow("b"))],
        filters: vec![filter(1, 10, 0x0a00_0000, 8), filter(2, 3, 0x0a01_0000, 16)],
        ..AdapterConfig::default()
    }
}

fn err(c: &AdapterConfig) -> ConfigError {
    Snapshot::compile(c, 1_000_000_000).unwrap_err()
}

#[test]
fn compiles_with_dense_indexes_in_id_order() {
    let s = Snapshot::compile(&cfg(), 1_000_000_000).unwrap();
    assert_eq!(s.flows().len(), 2);
    assert_eq!(s.flow_id(0), Some(3));
    assert_eq!(s.flow_id(1), Some(10));
    assert_eq!(s.index_of(10), Some(1));
    assert_eq!(s.index_of(4), None);
    // 10.1.x.x: the /16 filter (flow 3, index 0) is more specific.
    assert_eq!(s.classify(&key(Family::V4, 0x0a01_0203, 6, 80, 0)), Some(0));
    assert_eq!(s.classify(&key(Family::V4, 0x0a02_0203, 6, 80, 0)), Some(1));
    assert_eq!(s.classify(&key(Family::V4, 0x0b00_0001, 6, 80, 0)), None);
    assert_eq!(s.filter_count(), 2);
    assert_eq!(s.limits(), AdapterOptions::default().limits());
}

#[test]
fn empty_snapshot_classifies_nothing() {
    let s = Snapshot::empty(0);
    assert!(s.flows().is_empty());
    assert_eq!(s.classify(&key(Family::V6, 1, 17, 53, 0)), None);
    assert_eq!(*s.maps(), MarkMaps::default());
    let c = Snapshot::compile(&AdapterConfig::default(), 0).unwrap();
    assert_eq!(c.options(), s.options());
}

#[test]
fn defaults_are_documented_values() {
    let o = AdapterOptions::default();
    assert_eq!(o.max_outstanding_sends, 128);
    assert_eq!(o.admission_share, 100);
    assert_eq!(o.marking_override, MarkingOverride::Allow);
    assert_eq!(o.flow_mode, FlowMode::Filters);
    o.validate().unwrap();
}

#[test]
fn options_errors_name_the_field() {
    let mut c = cfg();
    c.options.admission_share = 101;
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::InvalidValue,
            Object::AdapterOptions,
            Field::AdmissionShare
        )
    );
    let mut c = cfg();
    c.options.queue_packets = 0;
    assert_eq!(err(&c).field, Field::QueuePackets);
    let mut c = cfg();
    c.options.max_outstanding_sends = 0;
    assert_eq!(err(&c).field, Field::MaxOutstandingSends);
}

#[test]
fn map_errors_name_the_table() {
    let mut c = cfg();
    c.maps.conforming_dscp.guaranteed = 64;
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::InvalidDsClass,
            Object::MappingTable,
            Field::MapConformingDscp
        )
    );
}

#[test]
fn flow_errors() {
    let mut c = cfg();
    c.flows.push((3, flow("c")));
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (ErrorKind::DuplicateId, Object::Flow(3), Field::FlowId)
    );
    let mut c = cfg();
    c.flows.push((4, flow("a")));
    let e = err(&c);
    assert_eq!((e.kind, e.field), (ErrorKind::DuplicateName, Field::Name));
    let mut c = cfg();
    c.flows.push((0, flow("")));
    assert_eq!(
        (err(&c).kind, err(&c).field),
        (ErrorKind::InvalidValue, Field::FlowId)
    );
    let mut c = cfg();
    c.flows.push((POLICY_ID_BIT | 1, flow("")));
    assert_eq!(err(&c).field, Field::FlowId);
    let mut c = cfg();
    c.flows.push((5, guaranteed(0)));
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::InvalidTokenRate,
            Object::Flow(5),
            Field::TokenRate
        )
    );
    // Empty names may repeat.
    let mut c = cfg();
    c.flows.push((5, flow("")));
    c.flows.push((6, flow("")));
    Snapshot::compile(&c, 0).unwrap();
}

#[test]
fn filter_errors() {
    let mut c = cfg();
    c.filters.push(filter(3, 99, 0, 0));
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (ErrorKind::UnknownFlow, Object::Filter(3), Field::FilterFlow)
    );
    let mut c = cfg();
    c.filters.push(filter(2, 3, 0, 0));
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (ErrorKind::DuplicateId, Object::Filter(2), Field::FilterId)
    );
    let mut c = cfg();
    c.filters.push(filter(3, 3, 0x0a00_0001, 8));
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::InvalidPrefix,
            Object::Filter(3),
            Field::DstPrefix
        )
    );
    let mut c = cfg();
    c.filters.push(filter(0, 3, 0, 0));
    assert_eq!(err(&c).field, Field::FilterId);
    // A user filter may not point at a policy's flow.
    let mut c = cfg();
    c.policies.push(policy(1));
    c.filters.push(filter(3, POLICY_ID_BIT | 1, 0, 0));
    assert_eq!(err(&c).kind, ErrorKind::UnknownFlow);
}

#[test]
fn admission_names_the_flow_that_exceeded() {
    // 100 Mbit/s link, 50 % share = 6.25 MB/s reservable.
    let mut c = AdapterConfig::default();
    c.options.admission_share = 50;
    c.flows = vec![
        (1, guaranteed(3_000_000)),
        (2, flow("be")),
        (
            3,
            FlowSpec {
                service_type: ServiceType::ControlledLoad,
                ..guaranteed(3_250_000)
            },
        ),
    ];
    let s = Snapshot::compile(&c, 100_000_000).unwrap();
    assert_eq!(s.reserved_rate(), 6_250_000);
    c.flows.push((4, guaranteed(1)));
    let e = Snapshot::compile(&c, 100_000_000).unwrap_err();
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::AdmissionExceeded,
            Object::Flow(4),
            Field::TokenRate
        )
    );
    // Unknown link speed admits everything; best effort never counts.
    Snapshot::compile(&c, 0).unwrap();
    c.options.admission_share = 0;
    c.flows.retain(|(id, _)| *id == 2);
    Snapshot::compile(&c, 100_000_000).unwrap();
}

#[test]
fn policy_compiles_to_flow_and_two_filters() {
    let mut c = cfg();
    c.policies.push(Policy {
        name: "web".into(),
        protocol: PolicyProtocol::Both,
        dst_ports: Some(PortRange::single(443)),
        dscp: Some(18),
        pcp: Some(3),
        throttle_bps: Some(10_000_004),
        precedence: 200,
        ..policy(7)
    });
    let s = Snapshot::compile(&c, 1_000_000_000).unwrap();
    assert_eq!(s.flows().len(), 3);
    assert_eq!(s.policy_count(), 1);
    let idx = s.index_of(POLICY_ID_BIT | 7).unwrap();
    assert_eq!(idx, 2, "policy flows come after user flows");
    let f = s.flow(idx).unwrap();
    assert_eq!(f.name, "web");
    assert_eq!(f.service_type, ServiceType::BestEffort);
    assert_eq!(
        f.token_rate,
        Some(1_250_001),
        "bits/s rounded to nearest byte/s"
    );
    assert_eq!(f.bucket, 12_500);
    assert_eq!(f.effective_mode(), SdMode::Shape);
    assert_eq!((f.dclass, f.tclass), (Some(18), Some(3)));
    let filters: Vec<&Filter> = s
        .classifier()
        .filters()
        .iter()
        .filter(|f| f.id & POLICY_ID_BIT != 0)
        .collect();
    assert_eq!(filters.len(), 2);
    assert!(
        filters
            .iter()
            .all(|f| f.protocol == ProtocolMatch::TcpOrUdp && f.precedence == 200 && f.flow == 2)
    );
    // Both families classify; precedence 200 beats the user /8 filter.
    assert_eq!(
        s.classify(&key(Family::V4, 0x0a00_0001, 6, 443, 0)),
        Some(2)
    );
    assert_eq!(s.classify(&key(Family::V6, 1 << 100, 17, 443, 0)), Some(2));
    assert_eq!(s.classify(&key(Family::V4, 0x0a00_0001, 6, 80, 0)), Some(1));
    assert_eq!(
        s.classify(&key(Family::V4, 0x0a00_0001, 1, 443, 0)),
        Some(1)
    );
}

#[test]
fn policy_with_family_makes_one_filter_and_small_throttle_gets_min_bucket() {
    let mut c = AdapterConfig::default();
    c.policies.push(Policy {
        family: Some(Family::V6),
        dst: Some(Prefix {
            addr: 0x2001_0db8 << 96,
            len: 32,
        }),
        throttle_bps: Some(64_000),
        ..policy(1)
    });
    let s = Snapshot::compile(&c, 0).unwrap();
    assert_eq!(s.filter_count(), 1);
    assert_eq!(s.flow(0).unwrap().bucket, POLICY_MIN_BUCKET);
    assert_eq!(s.flow(0).unwrap().token_rate, Some(8000));
    assert_eq!(
        s.classify(&key(Family::V6, 0x2001_0db8 << 96 | 5, 6, 1, 0)),
        Some(0)
    );
    assert_eq!(s.classify(&key(Family::V6, 5, 6, 1, 0)), None);
}

#[test]
fn policy_errors_are_reported_on_the_policy() {
    let check = |p: Policy, kind, field| {
        let mut c = AdapterConfig::default();
        let id = p.id;
        c.policies.push(p);
        let e = Snapshot::compile(&c, 0).unwrap_err();
        assert_eq!(
            (e.kind, e.object, e.field),
            (kind, Object::Policy(id), field),
            "{e}"
        );
    };
    check(
        Policy {
            dscp: None,
            ..policy(1)
        },
        ErrorKind::InvalidValue,
        Field::PolicyAction,
    );
    check(
        Policy {
            dscp: Some(64),
            ..policy(1)
        },
        ErrorKind::InvalidDsClass,
        Field::DsClass,
    );
    check(
        Policy {
            pcp: Some(8),
            ..policy(1)
        },
        ErrorKind::InvalidTrafficClass,
        Field::TrafficClass,
    );
    check(
        Policy {
            throttle_bps: Some(7),
            ..policy(1)
        },
        ErrorKind::InvalidTokenRate,
        Field::TokenRate,
    );
    check(policy(0), ErrorKind::InvalidValue, Field::PolicyId);
    check(
        policy(MAX_POLICY_ID + 1),
        ErrorKind::InvalidValue,
        Field::PolicyId,
    );
    check(
        Policy {
            src: Some(Prefix { addr: 0, len: 0 }),
            ..policy(1)
        },
        ErrorKind::InvalidAddressType,
        Field::Family,
    );
    // The generated filter's error is the policy's.
    check(
        Policy {
            family: Some(Family::V4),
            src: Some(Prefix { addr: 1, len: 8 }),
            ..policy(2)
        },
        ErrorKind::InvalidPrefix,
        Field::SrcPrefix,
    );
    check(
        Policy {
            dst_ports: Some(PortRange { lo: 9, hi: 8 }),
            ..policy(2)
        },
        ErrorKind::InvalidPortRange,
        Field::DstPorts,
    );
    let mut c = AdapterConfig {
        policies: vec![
            Policy {
                name: "x".into(),
                ..policy(1)
            },
            Policy {
                name: "x".into(),
                ..policy(2)
            },
        ],
        ..AdapterConfig::default()
    };
    assert_eq!(err(&c).kind, ErrorKind::DuplicateName);
    c.policies[1].name = "y".into();
    c.policies[1].id = 1;
    assert_eq!(err(&c).kind, ErrorKind::DuplicateId);
}

#[test]
fn diffserv_mode_rules() {
    let mut c = cfg();
    c.options.flow_mode = FlowMode::Diffserv;
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (
            ErrorKind::InvalidDiffservFlow,
            Object::Filter(1),
            Field::InboundDscp
        )
    );
    c.filters = vec![
        Filter {
            dscp: Some(46),
            ..filter(1, 10, 0, 0)
        },
        Filter {
            dscp: Some(46),
            family: Family::V6,
            ..filter(2, 3, 0, 0)
        },
    ];
    let s = Snapshot::compile(&c, 0).unwrap();
    assert_eq!(s.classify(&key(Family::V4, 9, 6, 1, 46)), Some(1));
    assert_eq!(s.classify(&key(Family::V4, 9, 6, 1, 0)), None);
    c.filters.push(Filter {
        dscp: Some(46),
        ..filter(3, 3, 0x0a00_0000, 8)
    });
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object),
        (ErrorKind::DsMappingExists, Object::Filter(3))
    );
    c.filters.pop();
    c.policies.push(policy(1));
    assert_eq!(err(&c).kind, ErrorKind::InvalidDiffservFlow);
    // The incremental path applies the same rules.
    c.policies.clear();
    let s = Snapshot::compile(&c, 0).unwrap();
    let e = s
        .with_filter(&Filter {
            dscp: Some(46),
            ..filter(3, 3, 0x0a00_0000, 8)
        })
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::DsMappingExists);
    let e = s.with_filter(&filter(3, 3, 0, 0)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidDiffservFlow);
}

#[test]
fn limits_are_enforced_with_clear_errors() {
    let mut c = AdapterConfig {
        flows: (1..=MAX_FLOWS as u32).map(|i| (i, flow(""))).collect(),
        ..AdapterConfig::default()
    };
    Snapshot::compile(&c, 0).unwrap();
    c.policies.push(policy(1));
    let e = err(&c);
    assert_eq!(
        (e.kind, e.object, e.field),
        (ErrorKind::LimitExceeded, Object::Adapter, Field::FlowCount)
    );
    let mut c = AdapterConfig {
        flows: vec![(1, flow(""))],
        ..AdapterConfig::default()
    };
    c.filters = (1..=MAX_FILTERS as u32 - 1)
        .map(|i| filter(i, 1, i << 8, 24))
        .collect();
    c.policies.push(Policy {
        family: Some(Family::V4),
        ..policy(1)
    });
    let s = Snapshot::compile(&c, 0).unwrap();
    assert_eq!(s.filter_count(), MAX_FILTERS);
    let e = s
        .with_filter(&filter(MAX_FILTERS as u32, 1, 0, 0))
        .unwrap_err();
    assert_eq!(
        (e.kind, e.field),
        (ErrorKind::LimitExceeded, Field::FilterCount)
    );
    c.policies[0].family = None;
    assert_eq!(err(&c).field, Field::FilterCount);
    let c = AdapterConfig {
        policies: (1..=MAX_POLICIES as u32 + 1).map(policy).collect(),
        ..AdapterConfig::default()
    };
    assert_eq!(err(&c).field, Field::PolicyCount);
}

#[test]
fn incremental_add_and_remove_match_a_full_compile() {
    let mut c = cfg();
    c.policies.push(Policy {
        dst_ports: Some(PortRange::single(53)),
        ..policy(1)
    });
    let mut s = Snapshot::compile(&c, 0).unwrap();
    for i in 0..200u32 {
        let f = Filter {
            dst_ports: PortRange::single(u16::try_from(i).unwrap()),
            protocol: ProtocolMatch::Udp,
            precedence: u8::try_from(i % 5).unwrap() * 60,
            ..filter(100 + i, if i % 2 == 0 { 3 } else { 10 }, (i % 7) << 24, 8)
        };
        s = s.with_filter(&f).unwrap();
        c.filters.push(f);
    }
    for i in (0..200u32).step_by(3) {
        s = s.without_filter(100 + i);
        c.filters.retain(|f| f.id != 100 + i);
    }
    let full = Snapshot::compile(&c, 0).unwrap();
    assert_eq!(s.filter_count(), full.filter_count());
    for dst in 0..8u128 {
        for port in [0u16, 1, 2, 5, 53, 99, 150, 199, 300] {
            for proto in [6u8, 17] {
                let k = key(Family::V4, dst << 24 | 7, proto, port, 0);
                assert_eq!(s.classify(&k), full.classify(&k), "{k:?}");
            }
        }
    }
    // Errors on the incremental path.
    assert_eq!(
        s.with_filter(&filter(1, 3, 0, 0)).unwrap_err().kind,
        ErrorKind::DuplicateId
    );
    assert_eq!(
        s.with_filter(&filter(999, 77, 0, 0)).unwrap_err().kind,
        ErrorKind::UnknownFlow
    );
    assert_eq!(
        s.with_filter(&filter(999, POLICY_ID_BIT | 1, 0, 0))
            .unwrap_err()
            .kind,
        ErrorKind::UnknownFlow
    );
    assert_eq!(
        s.with_filter(&filter(0, 3, 0, 0)).unwrap_err().field,
        Field::FilterId
    );
}

#[test]
fn qos2_shaping_flows_compile() {
    let mut c = AdapterConfig::default();
    c.flows.push((
        1,
        FlowSpec {
            shaping: Some(ShapingBehavior::ShapeOnly),
            token_rate: Some(1000),
            bucket: 1500,
            ..flow("q")
        },
    ));
    Snapshot::compile(&c, 0).unwrap();
    let e = format!("{}", {
        c.flows[0].1.token_rate = None;
        err(&c)
    });
    assert!(e.contains("flow 1"), "{e}");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_filter() -> impl Strategy<Value = (u32, u8, u8, u16, u8, bool)> {
        // (dst /8 octet, prefix len 0|8|16, precedence, port, flow choice, udp)
        (
            0u32..4,
            prop_oneof![Just(0u8), Just(8), Just(16)],
            0u8..3,
            0u16..4,
            0u8..3,
            any::<bool>(),
        )
            .prop_map(|(o, len, prec, port, flow, udp)| (o, len, prec * 100, port, flow, udp))
    }

    fn make(id: u32, (o, len, prec, port, flow, udp): (u32, u8, u8, u16, u8, bool)) -> Filter {
        let addr = if len == 0 { 0 } else { o << 24 };
        Filter {
            dst_ports: if port == 0 {
                PortRange::ANY
            } else {
                PortRange::single(port)
            },
            protocol: if udp {
                ProtocolMatch::Udp
            } else {
                ProtocolMatch::Tcp
            },
            precedence: prec,
            ..filter(id, [3, 10, 11][usize::from(flow)], addr, len)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Adding and removing filters one at a time on a snapshot gives
        /// the same classification as compiling the final set at once.
        #[test]
        fn incremental_equals_full_compile(
            adds in proptest::collection::vec(arb_filter(), 1..40),
            removes in proptest::collection::vec(any::<prop::sample::Index>(), 0..15),
        ) {
            let mut c = AdapterConfig {
                flows: vec![(3, flow("a")), (10, flow("b")), (11, flow("c"))],
                policies: vec![Policy { dst_ports: Some(PortRange::single(2)), ..policy(1) }],
                ..AdapterConfig::default()
            };
            let mut s = Snapshot::compile(&c, 0).unwrap();
            for (i, a) in adds.iter().enumerate() {
                let f = make(u32::try_from(i).unwrap() + 1, *a);
                s = s.with_filter(&f).unwrap();
                c.filters.push(f);
            }
            for r in removes {
                if c.filters.is_empty() {
                    break;
                }
                let f = c.filters.remove(r.index(c.filters.len()));
                s = s.without_filter(f.id);
            }
            let full = Snapshot::compile(&c, 0).unwrap();
            prop_assert_eq!(s.filter_count(), full.filter_count());
            for o in 0..5u128 {
                for port in 0..5u16 {
                    for proto in [6u8, 17, 1] {
                        let k = key(Family::V4, o << 24 | 1, proto, port, 0);
                        prop_assert_eq!(s.classify(&k), full.classify(&k));
                    }
                }
            }
        }

        /// Compile either refuses or keeps every flow and filter, and the
        /// dense order is id order.
        #[test]
        fn compile_keeps_everything_in_id_order(
            ids in proptest::collection::btree_set(1u32..1000, 0..30),
            policies in proptest::collection::btree_set(1u32..50, 0..5),
        ) {
            let c = AdapterConfig {
                flows: ids.iter().rev().map(|&i| (i, flow(""))).collect(),
                filters: ids.iter().map(|&i| filter(i, i, i << 8, 24)).collect(),
                policies: policies.iter().map(|&i| policy(i)).collect(),
                ..AdapterConfig::default()
            };
            let s = Snapshot::compile(&c, 0).unwrap();
            prop_assert_eq!(s.flows().len(), ids.len() + policies.len());
            prop_assert_eq!(s.filter_count(), ids.len() + 2 * policies.len());
            let got: Vec<u32> = s.flows().iter().map(|(id, _)| *id).collect();
            let mut want: Vec<u32> = ids.iter().copied().collect();
            want.extend(policies.iter().map(|p| POLICY_ID_BIT | p));
            prop_assert_eq!(got, want);
            for &i in &ids {
                let k = key(Family::V4, u128::from(i << 8 | 1), 6, 80, 0);
                prop_assert_eq!(s.classify(&k).and_then(|x| s.flow_id(x)), Some(i));
            }
        }
    }
}
