//! Golden bytes: pins the encoding of every request and reply. A change to
//! any of these strings is an ABI change (bump ABI_VERSION).
//!
//! The first tests decode hand-written bytes field by field; the table test
//! pins every message's full encoding as hex, checks it decodes back to the
//! same value, and that every truncation of it is refused.

use qos_proto::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn sample_flow() -> FlowSpec {
    FlowSpec {
        name: "voip".into(),
        service_type: ServiceType::Guaranteed,
        token_rate: Some(12_500),
        bucket: 3000,
        peak_rate: None,
        max_sdu: Some(1500),
        min_policed: 64,
        mode: Some(SdMode::Shape),
        dclass: Some(46),
        tclass: None,
        shaping: None,
    }
}

fn sample_filter() -> Filter {
    Filter {
        id: 7,
        flow: 1,
        family: Family::V4,
        src: Prefix {
            addr: 0x0a00_0000,
            len: 8,
        },
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports: PortRange { lo: 5060, hi: 5061 },
        protocol: ProtocolMatch::Udp,
        dscp: None,
        vlan: Some(10),
        precedence: 127,
    }
}

fn sample_policy() -> Policy {
    Policy {
        id: 3,
        name: "web".into(),
        protocol: PolicyProtocol::Tcp,
        family: PolicyFamily::V6,
        src: None,
        dst: Some(Prefix {
            addr: 0x2001_0db8_u128 << 96,
            len: 32,
        }),
        src_ports: None,
        dst_ports: Some(PortRange { lo: 443, hi: 443 }),
        dscp: Some(18),
        pcp: Some(3),
        throttle_bps: Some(10_000_000),
        precedence: 200,
    }
}

fn sample_options() -> AdapterOptions {
    AdapterOptions {
        queue_packets: 4096,
        queue_bytes: 16 << 20,
        max_outstanding_sends: 128,
        admission_share: 100,
        marking_override: MarkingOverride::Ignore,
        flow_mode: FlowMode::Filters,
    }
}

fn sample_adapter() -> AdapterInfo {
    AdapterInfo {
        id: 2,
        name: "eth0".into(),
        friendly_name: "Ethernet".into(),
        guid: [0x11; 16],
        mac: [2, 0, 0, 0, 0, 1],
        media: MEDIUM_802_3,
        mtu: 1500,
        link_speed_bps: 1_000_000_000,
        state: AdapterState::Running,
        flows: 1,
        filters: 2,
        policies: 0,
    }
}

fn sample_stats() -> FlowStats {
    FlowStats {
        flow: FlowCounters {
            dropped_packets: 1,
            packets_scheduled: 2,
            packets_transmitted: 3,
            bytes_scheduled: 4,
            bytes_transmitted: 5,
        },
        conformer: ConformerStats {
            nonconforming_packets_scheduled: 6,
        },
        shaper: ShaperStats {
            max_packets_in_shaper: 7,
            average_packets_in_shaper: 8,
        },
        sequencer: SequencerStats {
            max_packets_in_netcard: 9,
            average_packets_in_netcard: 10,
            max_packets_in_sequencer: 11,
            average_packets_in_sequencer: 12,
            nonconforming_packets_transmitted: 13,
        },
        extra: vec![Counter {
            name: "x".into(),
            value: 14,
        }],
    }
}

#[test]
fn header_and_get_version_by_hand() {
    let b = Request::GetVersion.encode();
    assert_eq!(
        b,
        [
            b'Q', b'L', b'W', b'F', // magic
            1, 0, // version
            0, 0, // flags
            12, 0, 0, 0, // length
        ]
    );
    assert_eq!(MAGIC, 0x4657_4c51);
}

#[test]
fn delete_flow_by_hand() {
    let b = Request::DeleteFlow {
        adapter: 2,
        id: 0x0102_0304,
    }
    .encode();
    assert_eq!(
        hex(&b),
        "514c5746010000001400000002000000".to_string() + "04030201"
    );
}

#[test]
fn error_reply_by_hand() {
    let e = ErrorReply::new(
        Status::SupportedObjectsExist,
        ObjectRef::Flow(5),
        FieldId::FLOW_ID,
        "ab",
    );
    let b = encode_reply(&Err(e.clone()));
    let want = [
        b'Q', b'L', b'W', b'F', 1, 0, 0, 0, 44, 0, 0, 0, // header, length 44
        0x58, 0x1d, 0, 0, // status 7512
        13, 0, // field FlowId
        1, 0, // object kind flow, reserved
        5, 0, 0, 0, // object id
        0, 0, 0, 0, 0, 0, 0, 0, // arg0
        0, 0, 0, 0, 0, 0, 0, 0, // arg1
        2, 0, b'a', b'b', // rule
    ];
    assert_eq!(b, want);
    assert_eq!(decode_reply(Op::DeleteFlow, &b).unwrap(), Err(e));
}

/// Every request with its pinned encoding.
fn requests() -> Vec<(Request, &'static str)> {
    vec![
        (Request::GetVersion, "514c5746010000000c000000"),
        (
            Request::EnumAdapters { start: 1 },
            "514c57460100000010000000 01000000",
        ),
        (
            Request::QueryFlow { adapter: 2, id: 9 },
            "514c57460100000014000000 02000000 09000000",
        ),
        (
            Request::EnumFlows {
                adapter: 2,
                start: 1,
                with_stats: true,
            },
            "514c57460100000015000000 02000000 01000000 01",
        ),
        (
            Request::EnumFilters {
                adapter: 2,
                start: 0,
            },
            "514c57460100000014000000 02000000 00000000",
        ),
        (
            Request::EnumPolicies {
                adapter: 2,
                start: 5,
            },
            "514c57460100000014000000 02000000 05000000",
        ),
        (
            Request::GetMaps { adapter: 2 },
            "514c57460100000010000000 02000000",
        ),
        (
            Request::GetOptions { adapter: 2 },
            "514c57460100000010000000 02000000",
        ),
        (
            Request::GetStats { adapter: 2 },
            "514c57460100000010000000 02000000",
        ),
        (
            Request::AddFlow {
                adapter: 2,
                flow: FlowDef {
                    id: 0,
                    spec: sample_flow(),
                },
            },
            "514c57460100000042000000 02000000 00000000
             0400 766f6970 03000000 01 d430000000000000 b80b000000000000 00
             01 dc050000 40000000 01 01000000 01 2e 00 00",
        ),
        (
            Request::ModifyFlow {
                adapter: 2,
                flow: FlowDef {
                    id: 1,
                    spec: FlowSpec::best_effort(String::new()),
                },
            },
            "514c5746010000002d000000 02000000 01000000
             0000 01000000 00 0000000000000000 00 00 00000000 00 00 00 00",
        ),
        (
            Request::DeleteFlow { adapter: 2, id: 1 },
            "514c57460100000014000000 02000000 01000000",
        ),
        (
            Request::AddFilter {
                adapter: 2,
                filter: sample_filter(),
            },
            "514c5746010000004a000000 02000000
             07000000 01000000 04
             0000000a000000000000000000000000 08
             00000000000000000000000000000000 00
             0000ffff c413c513 0200 00 01 0a00 7f",
        ),
        (
            Request::DeleteFilter { adapter: 2, id: 7 },
            "514c57460100000014000000 02000000 07000000",
        ),
        (
            Request::AddPolicy {
                adapter: 2,
                policy: sample_policy(),
            },
            "514c57460100000042000000 02000000
             03000000 0300 776562 01 06
             00
             01 000000000000000000000000b80d0120 20
             00
             01 bb01bb01
             01 12 01 03 01 8096980000000000 c8",
        ),
        (
            Request::DeletePolicy { adapter: 2, id: 3 },
            "514c57460100000014000000 02000000 03000000",
        ),
        (
            Request::SetMaps {
                adapter: 2,
                maps: MappingTables::default(),
            },
            "514c57460100000020000000 02000000
             000000 180004 280005 300007 000000 01",
        ),
        (
            Request::SetOptions {
                adapter: 2,
                options: sample_options(),
            },
            "514c57460100000023000000 02000000
             00100000 0000000100000000 80000000 64 01 00",
        ),
        (
            Request::Clear {
                adapter: 2,
                what: ClearFlags::ALL,
            },
            "514c57460100000014000000 02000000 07000000",
        ),
        (
            Request::Apply {
                adapter: 2,
                config: AdapterConfig {
                    options: sample_options(),
                    maps: MappingTables::default(),
                    flows: vec![FlowDef {
                        id: 1,
                        spec: FlowSpec::best_effort("a".into()),
                    }],
                    filters: vec![],
                    policies: vec![],
                },
            },
            "514c5746010000005d000000 02000000
             00100000 0000000100000000 80000000 64 01 00
             000000 180004 280005 300007 000000 01
             01000000 01000000 0100 61 01000000 00 0000000000000000 00 00 00000000 00 00 00 00
             00000000
             00000000",
        ),
    ]
}

/// Every reply body with its pinned encoding.
fn replies() -> Vec<(Op, Reply, &'static str)> {
    vec![
        (
            Op::GetVersion,
            Ok(ReplyBody::Version(VersionInfo {
                abi_version: 1,
                driver_version: "0.1".into(),
                limits: Limits {
                    max_flows: 4096,
                    max_filters: 32768,
                    max_policies: 1024,
                    max_request_bytes: 4 << 20,
                },
            })),
            "514c57460100000027000000 00000000
             0100 0300 302e31 00100000 00800000 00040000 00004000",
        ),
        (
            Op::EnumAdapters,
            Ok(ReplyBody::Adapters(Page {
                total: 1,
                items: vec![sample_adapter()],
                next: None,
            })),
            "514c57460100000060000000 00000000
             010000000100000002000000040065746830080045746865726e65741111111111111111111111111111111102000000000100000000dc05000000ca9a3b000000000301000000020000000000000000",
        ),
        (
            Op::QueryFlow,
            Ok(ReplyBody::Flow(FlowEntry {
                id: 1,
                policy: None,
                spec: FlowSpec::best_effort("f".into()),
                filters: 2,
                stats: Some(sample_stats()),
            })),
            "514c574601000000ab000000 00000000
             0100000000010066010000000000000000000000000000000000000000000002000000010100000000000000020000000000000003000000000000000400000000000000050000000000000006000000000000000700000000000000080000000000000009000000000000000a000000000000000b000000000000000c000000000000000d00000000000000010000000100780e00000000000000",
        ),
        (
            Op::EnumFlows,
            Ok(ReplyBody::Flows(Page {
                total: 3,
                items: vec![FlowEntry {
                    id: 0x8000_0003,
                    policy: Some(3),
                    spec: FlowSpec::best_effort(String::new()),
                    filters: 1,
                    stats: None,
                }],
                next: Some(0x8000_0004),
            })),
            "514c57460100000044000000 00000000
             03000000010000000300008001030000000000010000000000000000000000000000000000000000000001000000000104000080",
        ),
        (
            Op::EnumFilters,
            Ok(ReplyBody::Filters(Page {
                total: 1,
                items: vec![sample_filter()],
                next: None,
            })),
            "514c57460100000053000000 00000000
             01000000010000000700000001000000040000000a0000000000000000000000000800000000000000000000000000000000000000ffffc413c513020000010a007f00",
        ),
        (
            Op::EnumPolicies,
            Ok(ReplyBody::Policies(Page {
                total: 1,
                items: vec![sample_policy()],
                next: None,
            })),
            "514c5746010000004b000000 00000000
             010000000100000003000000030077656201060001000000000000000000000000b80d0120200001bb01bb0101120103018096980000000000c800",
        ),
        (Op::GetMaps, Ok(ReplyBody::Maps(MappingTables::default())), "514c57460100000020000000 00000000
             00000018000428000530000700000001"),
        (Op::GetOptions, Ok(ReplyBody::Options(sample_options())), "514c57460100000023000000 00000000
             00100000000000010000000080000000640100"),
        (
            Op::GetStats,
            Ok(ReplyBody::Stats(AdapterStatistics {
                adapter: AdapterCounters {
                    out_of_packets: 1,
                    flows_opened: 2,
                    flows_closed: 3,
                    flows_rejected: 4,
                    flows_modified: 5,
                    flow_mods_rejected: 6,
                    max_simultaneous_flows: 7,
                },
                totals: sample_stats().flow,
                conformer: sample_stats().conformer,
                shaper: sample_stats().shaper,
                sequencer: sample_stats().sequencer,
                extra: vec![],
            })),
            "514c574601000000b4000000 00000000
             01000000000000000200000000000000030000000000000004000000000000000500000000000000060000000000000007000000000000000100000000000000020000000000000003000000000000000400000000000000050000000000000006000000000000000700000000000000080000000000000009000000000000000a000000000000000b000000000000000c000000000000000d0000000000000000000000",
        ),
        (Op::AddFlow, Ok(ReplyBody::Created { id: 5 }), "514c57460100000014000000 00000000
             05000000"),
        (Op::DeleteFlow, Ok(ReplyBody::Done), "514c57460100000010000000 00000000
             "),
        (
            Op::Apply,
            Ok(ReplyBody::Applied(ApplySummary {
                flows: 1,
                filters: 2,
                policies: 3,
            })),
            "514c5746010000001c000000 00000000
             010000000200000003000000",
        ),
        (
            Op::Apply,
            Err(ErrorReply::new(
                Status::IncompatibleVersion,
                ObjectRef::Request,
                FieldId::NONE,
                "",
            )
            .with_args(1, 2)),
            "514c5746010000002a000000 4d1d0000
             0000070000000000010000000000000002000000000000000000",
        ),
        (
            Op::AddFilter,
            Err(ErrorReply::new(
                Status::InvalidPrefix,
                ObjectRef::Filter(7),
                FieldId::SRC_PREFIX,
                "host bits must be zero",
            )),
            "514c57460100000040000000 b01d0000
             2100020007000000000000000000000000000000000000001600686f73742062697473206d757374206265207a65726f",
        ),
    ]
}

fn check_pinned(what: &str, actual: &[u8], pinned: &str, failures: &mut Vec<String>) {
    if hex(actual) != hex(&unhex(pinned)) {
        failures.push(format!(
            "{what}: pinned {pinned:?} but encodes as \"{}\"",
            hex(actual)
        ));
    }
}

fn assert_truncations_refused(b: &[u8], decode: impl Fn(&[u8]) -> bool) {
    for n in 0..b.len() {
        assert!(
            !decode(&b[..n]),
            "a {n}-byte truncation of {} decoded",
            hex(b)
        );
    }
    let mut longer = b.to_vec();
    longer.push(0);
    assert!(!decode(&longer), "a trailing byte was accepted");
}

#[test]
fn every_request_is_pinned_and_round_trips() {
    let mut failures = Vec::new();
    let reqs = requests();
    for op in Op::ALL {
        assert!(
            reqs.iter().any(|(r, _)| r.op() == *op),
            "no golden request for {op:?}"
        );
    }
    for (req, pinned) in reqs {
        let b = req.encode();
        check_pinned(&format!("{req:?}"), &b, pinned, &mut failures);
        assert_eq!(Request::decode(req.code(), &b).unwrap(), req);
        assert_truncations_refused(&b, |x| {
            // Length fields make every truncation fail; patch the length to
            // check the body decoder itself refuses it too.
            let mut y = x.to_vec();
            if y.len() >= 12 {
                let n = y.len() as u32;
                y[8..12].copy_from_slice(&n.to_le_bytes());
            }
            Request::decode(req.code(), x).is_ok() || Request::decode(req.code(), &y).is_ok()
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_reply_is_pinned_and_round_trips() {
    let mut failures = Vec::new();
    for (op, reply, pinned) in replies() {
        let b = encode_reply(&reply);
        check_pinned(&format!("{op:?} {reply:?}"), &b, pinned, &mut failures);
        assert_eq!(decode_reply(op, &b).unwrap(), reply);
        assert_truncations_refused(&b, |x| decode_reply(op, x).is_ok());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
