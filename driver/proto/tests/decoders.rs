//! Decoders on hostile input: the fuzz body over random and mutated bytes
//! (the stable twin of the cargo-fuzz target), paging, version mismatch.

use proptest::prelude::*;
use qos_proto::fuzz::fuzz_decoders;
use qos_proto::*;

fn seeds() -> Vec<Vec<u8>> {
    let filter = Filter {
        id: 7,
        flow: 1,
        family: Family::V6,
        src: Prefix {
            addr: 1 << 100,
            len: 28,
        },
        dst: Prefix::ANY,
        src_ports: PortRange::ANY,
        dst_ports: PortRange { lo: 80, hi: 81 },
        protocol: ProtocolMatch::Number(47),
        dscp: Some(46),
        vlan: None,
        precedence: 9,
    };
    let mut v = vec![
        Request::GetVersion.encode(),
        Request::AddFilter { adapter: 1, filter }.encode(),
        Request::Apply {
            adapter: 1,
            config: AdapterConfig {
                options: AdapterOptions {
                    queue_packets: 1,
                    queue_bytes: 2,
                    max_outstanding_sends: 3,
                    admission_share: 4,
                    marking_override: MarkingOverride::Allow,
                    flow_mode: FlowMode::Diffserv,
                },
                maps: MappingTables::default(),
                flows: vec![FlowDef {
                    id: 1,
                    spec: FlowSpec::best_effort("x".into()),
                }],
                filters: vec![filter],
                policies: vec![],
            },
        }
        .encode(),
        encode_reply(&Ok(ReplyBody::Filters(Page {
            total: 2,
            items: vec![filter],
            next: Some(9),
        }))),
        encode_reply(&Err(ErrorReply::new(
            Status::UnknownFlow,
            ObjectRef::Flow(1),
            FieldId::FILTER_FLOW,
            "no such flow",
        ))),
    ];
    v.push(vec![]);
    v
}

#[test]
fn seeds_decode() {
    for s in seeds() {
        assert!(fuzz_decoders(&s) > 0 || s.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = fuzz_decoders(&data);
    }

    /// Random edits of valid messages reach deep into the decoders.
    #[test]
    fn mutated_messages_never_panic(
        seed in 0usize..6,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut m = seeds()[seed].clone();
        for (at, b) in edits {
            if !m.is_empty() {
                let i = at % m.len();
                m[i] = b;
            }
        }
        let _ = fuzz_decoders(&m);
        if !m.is_empty() {
            m.truncate(cut % m.len());
            let _ = fuzz_decoders(&m);
        }
    }
}

#[test]
fn version_mismatch_names_both_versions() {
    let mut b = Request::GetVersion.encode();
    b[4..6].copy_from_slice(&7u16.to_le_bytes());
    let e = Request::decode(Op::GetVersion.code(), &b).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::Version {
            ours: ABI_VERSION,
            theirs: 7
        }
    );
    // A version-mismatch error reply from a driver of another version is
    // still readable (frozen layout).
    let mut reply = encode_reply(&Err(ErrorReply::new(
        Status::IncompatibleVersion,
        ObjectRef::Request,
        FieldId::NONE,
        "",
    )
    .with_args(9, 1)));
    reply[4..6].copy_from_slice(&9u16.to_le_bytes());
    let got = decode_reply(Op::GetVersion, &reply).unwrap().unwrap_err();
    assert_eq!((got.arg0, got.arg1), (9, 1));
    // Any other reply of another version is refused.
    let mut ok = encode_reply(&Ok(ReplyBody::Done));
    ok[4..6].copy_from_slice(&9u16.to_le_bytes());
    assert!(matches!(
        decode_reply(Op::Clear, &ok).unwrap_err().kind,
        DecodeErrorKind::Version { theirs: 9, .. }
    ));
}

#[test]
fn bad_magic_length_and_flags_are_refused() {
    let good = Request::DeleteFlow { adapter: 1, id: 2 }.encode();
    let code = Op::DeleteFlow.code();
    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(
        Request::decode(code, &b).unwrap_err().kind,
        DecodeErrorKind::BadMagic(_)
    ));
    let mut b = good.clone();
    b[8] = 99;
    assert!(matches!(
        Request::decode(code, &b).unwrap_err().kind,
        DecodeErrorKind::BadLength { .. }
    ));
    let mut b = good.clone();
    b[6] = 1;
    assert_eq!(
        Request::decode(code, &b).unwrap_err().kind,
        DecodeErrorKind::Reserved
    );
    assert!(matches!(
        Request::decode(0x1234, &good).unwrap_err().kind,
        DecodeErrorKind::UnknownCode(0x1234)
    ));
    let huge = vec![0u8; MAX_REQUEST_BYTES + 1];
    assert!(matches!(
        Request::decode(code, &huge).unwrap_err().kind,
        DecodeErrorKind::TooLarge { .. }
    ));
}

#[test]
fn unknown_enum_numbers_are_data_not_errors() {
    let mut spec = FlowSpec::best_effort(String::new());
    spec.service_type = ServiceType::Other(4);
    spec.mode = Some(SdMode::Other(9));
    let req = Request::AddFlow {
        adapter: 1,
        flow: FlowDef { id: 0, spec },
    };
    assert_eq!(Request::decode(req.code(), &req.encode()).unwrap(), req);
}

fn filter(id: u32) -> Filter {
    Filter {
        id,
        flow: 1,
        family: Family::V4,
        src: Prefix::ANY,
        dst: Prefix {
            addr: u128::from(id),
            len: 32,
        },
        src_ports: PortRange::ANY,
        dst_ports: PortRange::ANY,
        protocol: ProtocolMatch::Any,
        dscp: None,
        vlan: None,
        precedence: 127,
    }
}

#[test]
fn pages_fill_the_buffer_and_say_where_to_continue() {
    // 10 000 filters listed through a 4 KiB buffer, page by page.
    let all: Vec<Filter> = (1..=10_000).map(filter).collect();
    let mut start = 0u32;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut enc = PageEncoder::new(all.len() as u32, 4096);
        for f in all.iter().filter(|f| f.id >= start) {
            if !enc.push(f.id, f) {
                break;
            }
        }
        let bytes = enc.finish().unwrap();
        assert!(bytes.len() <= 4096);
        let Ok(ReplyBody::Filters(page)) = decode_reply(Op::EnumFilters, &bytes).unwrap() else {
            panic!("not a filter page");
        };
        assert_eq!(page.total, 10_000);
        assert!(!page.items.is_empty());
        seen.extend(page.items);
        pages += 1;
        match page.next {
            Some(n) => start = n,
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert!(pages > 100, "{pages} pages");
}

#[test]
fn a_page_too_small_for_one_item_says_how_much_is_needed() {
    let mut enc = PageEncoder::new(1, 40);
    assert!(!enc.push(1, &filter(1)));
    let needed = enc.finish().unwrap_err();
    let mut enc = PageEncoder::new(1, needed);
    assert!(enc.push(1, &filter(1)));
    assert!(enc.finish().unwrap().len() <= needed);
    // An empty list fits a tiny buffer.
    let enc = PageEncoder::new(0, 64);
    let b = enc.finish().unwrap();
    let page = decode_reply(Op::EnumFilters, &b).unwrap().unwrap();
    assert_eq!(
        page,
        ReplyBody::Filters(Page {
            total: 0,
            items: vec![],
            next: None
        })
    );
}

/// Found by cargo-fuzz: an error reply whose object kind has no id but
/// whose id bytes were not zero decoded, then re-encoded differently.
#[test]
fn fuzz_regression_object_without_id_must_have_zero_id() {
    let crash =
        "514c5746010000002a0000004e1d0007000000000000007f51a11c000000000002000000400000000000";
    let b: Vec<u8> = (0..crash.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&crash[i..i + 2], 16).unwrap())
        .collect();
    let _ = fuzz_decoders(&b);
}
