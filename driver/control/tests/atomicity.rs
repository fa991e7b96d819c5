//! Apply is all or nothing; refused changes leave no trace; limits; the
//! request layer (version, malformed input, buffer sizes); concurrent
//! readers never see half a change; the stream server.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use proptest::prelude::*;
use qos_control::ControlPlane;
use qos_control::memhost::{MemHost, serve_stream};
use qos_proto::status::{STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_DEVICE_REQUEST};
use qos_proto::*;

fn config(n_flows: u32, tag: &str) -> AdapterConfig {
    AdapterConfig {
        options: default_options(),
        maps: MappingTables::default(),
        flows: (1..=n_flows)
            .map(|i| FlowDef {
                id: i,
                spec: be(&format!("{tag}-{i}")),
            })
            .collect(),
        filters: (1..=n_flows).map(|i| v4_filter(i, i, i << 8, 24)).collect(),
        policies: vec![Policy {
            name: tag.into(),
            ..policy(1)
        }],
    }
}

#[test]
fn apply_replaces_everything() {
    let mut c = Client::new();
    c.add_flow(1, 0, be("old"));
    let ReplyBody::Applied(s) = c.ok(&Request::Apply {
        adapter: 1,
        config: config(3, "g1"),
    }) else {
        panic!()
    };
    assert_eq!((s.flows, s.filters, s.policies), (4, 5, 1));
    let (flows, filters, policies, _, _) = c.state(1);
    assert_eq!(
        flows
            .iter()
            .map(|f| f.spec.name.as_str())
            .collect::<Vec<_>>(),
        ["g1-1", "g1-2", "g1-3", "g1"]
    );
    assert_eq!(filters.len(), 5);
    assert_eq!(policies.len(), 1);
    // Ids assigned after an apply continue above the applied ones.
    assert_eq!(c.add_flow(1, 0, be("next")), 4);
    assert_eq!(c.add_filter(1, v4_filter(0, 4, 0, 0)), 4);
}

#[test]
fn a_refused_apply_changes_nothing() {
    let mut c = Client::new();
    c.ok(&Request::Apply {
        adapter: 1,
        config: config(3, "g1"),
    });
    let before = c.state(1);
    let publishes = c.host.publish_count(1);
    let snap = c.host.snapshot(1).unwrap();
    let bad_configs: Vec<(AdapterConfig, Status, ObjectRef, FieldId)> = vec![
        {
            let mut x = config(5, "g2");
            x.filters.push(v4_filter(99, 42, 0, 0));
            (
                x,
                Status::UnknownFlow,
                ObjectRef::Filter(99),
                FieldId::FILTER_FLOW,
            )
        },
        {
            let mut x = config(5, "g2");
            x.flows[4].spec.service_type = ServiceType::Other(0);
            (
                x,
                Status::InvalidServiceType,
                ObjectRef::Flow(5),
                FieldId::SERVICE_TYPE,
            )
        },
        {
            let mut x = config(5, "g2");
            x.policies[0].pcp = Some(9);
            (
                x,
                Status::InvalidTrafficClass,
                ObjectRef::Policy(1),
                FieldId::TRAFFIC_CLASS,
            )
        },
        {
            let mut x = config(5, "g2");
            x.maps.qualitative.conforming_dscp = 99;
            (
                x,
                Status::InvalidDsClass,
                ObjectRef::MappingTable,
                FieldId::MAP_CONFORMING_DSCP,
            )
        },
        {
            let mut x = config(5, "g2");
            x.flows[0].id = 0;
            (
                x,
                Status::InvalidValue,
                ObjectRef::Flow(0),
                FieldId::FLOW_ID,
            )
        },
        {
            let mut x = config(5, "g2");
            x.flows.push(FlowDef {
                id: 6,
                spec: guaranteed("big", 200_000_000),
            });
            (
                x,
                Status::AdmissionExceeded,
                ObjectRef::Flow(6),
                FieldId::TOKEN_RATE,
            )
        },
    ];
    for (cfg, status, object, field) in bad_configs {
        let e = c.err(&Request::Apply {
            adapter: 1,
            config: cfg,
        });
        assert_eq!(
            (e.status, e.object, e.field),
            (status, object, field),
            "{e}"
        );
        assert_eq!(c.state(1), before);
        assert_eq!(c.host.publish_count(1), publishes);
        assert!(Arc::ptr_eq(&c.host.snapshot(1).unwrap(), &snap));
    }
}

#[test]
fn a_publish_failure_changes_nothing() {
    let mut c = Client::new();
    c.ok(&Request::Apply {
        adapter: 1,
        config: config(2, "g1"),
    });
    let before = c.state(1);
    let snap = c.host.snapshot(1).unwrap();
    for req in [
        Request::Apply {
            adapter: 1,
            config: config(5, "g2"),
        },
        Request::AddFlow {
            adapter: 1,
            flow: FlowDef {
                id: 0,
                spec: be("x"),
            },
        },
        Request::AddFilter {
            adapter: 1,
            filter: v4_filter(0, 1, 0, 0),
        },
        Request::DeleteFilter { adapter: 1, id: 1 },
        Request::AddPolicy {
            adapter: 1,
            policy: policy(0),
        },
        Request::SetMaps {
            adapter: 1,
            maps: MappingTables {
                nonconforming_priority: 0,
                ..MappingTables::default()
            },
        },
        Request::Clear {
            adapter: 1,
            what: ClearFlags::CONFIG,
        },
    ] {
        c.host.fail_next_publish(1);
        let e = c.err(&req);
        assert_eq!(
            (e.status, e.object),
            (Status::HostFailure, ObjectRef::Adapter(1)),
            "{req:?}"
        );
        assert_eq!(c.state(1), before, "{req:?}");
        assert!(Arc::ptr_eq(&c.host.snapshot(1).unwrap(), &snap));
    }
    // The next id handed out did not skip the failed ones.
    assert_eq!(c.add_flow(1, 0, be("x")), 3);
}

#[test]
fn limits_are_refused_with_the_limit() {
    let mut c = Client::new();
    let mut cfg = config(0, "l");
    cfg.policies.clear();
    cfg.flows = (1..=4097)
        .map(|i| FlowDef {
            id: i,
            spec: be(""),
        })
        .collect();
    let e = c.err(&Request::Apply {
        adapter: 1,
        config: cfg,
    });
    assert_eq!(
        (e.status, e.object, e.field, e.arg0),
        (
            Status::LimitExceeded,
            ObjectRef::Adapter(1),
            FieldId::FLOW_COUNT,
            4096
        )
    );
    assert!(e.to_string().contains("limit 4096"), "{e}");
    let mut cfg = config(1, "l");
    cfg.policies = (1..=1025).map(policy).collect();
    let e = c.err(&Request::Apply {
        adapter: 1,
        config: cfg,
    });
    assert_eq!((e.field, e.arg0), (FieldId::POLICY_COUNT, 1024));
    let mut cfg = config(1, "l");
    cfg.policies.clear();
    cfg.filters = (1..=32769).map(|i| v4_filter(i, 1, i << 8, 24)).collect();
    let e = c.err(&Request::Apply {
        adapter: 1,
        config: cfg,
    });
    assert_eq!((e.field, e.arg0), (FieldId::FILTER_COUNT, 32768));
    // A request over the size limit.
    let mut big = Request::GetVersion.encode();
    big.resize(MAX_REQUEST_BYTES + 1, 0);
    let (r, out) = c.raw(Op::Apply.code(), &big, 4096);
    let e = decode_reply(Op::Apply, &out).unwrap().unwrap_err();
    assert_eq!(
        (e.status, e.arg0),
        (Status::RequestTooLarge, MAX_REQUEST_BYTES as u64)
    );
    assert_eq!(r.ntstatus, ntstatus_for(Status::RequestTooLarge));
}

#[test]
fn filters_add_one_by_one_and_ten_thousand_list_by_pages() {
    let mut c = Client::new();
    let f = c.add_flow(1, 0, be("a"));
    // One by one (the incremental path): ids 1, 2, ...
    for i in 0..1000u32 {
        assert_eq!(
            c.add_filter(1, v4_filter(0, f, 0x0a00_0000 | (i << 8), 24)),
            i + 1
        );
    }
    assert_eq!(c.host.snapshot(1).unwrap().filter_count(), 1000);
    // 10 000 by apply, listed through 64 KiB pages.
    let mut cfg = config(1, "t");
    cfg.policies.clear();
    cfg.filters = (1..=10_000).map(|i| v4_filter(i, 1, i << 8, 24)).collect();
    c.ok(&Request::Apply {
        adapter: 1,
        config: cfg,
    });
    let mut start = 0;
    let mut seen = 0u32;
    let mut pages = 0;
    loop {
        let ReplyBody::Filters(p) = c.ok(&Request::EnumFilters { adapter: 1, start }) else {
            panic!()
        };
        assert_eq!(p.total, 10_000);
        for f in &p.items {
            seen += 1;
            assert_eq!(f.id, seen);
        }
        pages += 1;
        match p.next {
            Some(n) => start = n,
            None => break,
        }
    }
    assert_eq!(seen, 10_000);
    assert!(pages >= 9, "{pages} pages of 64 KiB");
    assert_eq!(c.host.snapshot(1).unwrap().filter_count(), 10_000);
}

#[test]
fn version_mismatch_gives_both_versions() {
    let mut c = Client::new();
    let mut b = Request::GetVersion.encode();
    b[4..6].copy_from_slice(&9u16.to_le_bytes());
    let (r, out) = c.raw(Op::GetVersion.code(), &b, 1024);
    let e = decode_reply(Op::GetVersion, &out).unwrap().unwrap_err();
    assert_eq!(
        (e.status, e.arg0, e.arg1),
        (Status::IncompatibleVersion, 1, 9)
    );
    assert_eq!(r.ntstatus, 0xA051_1D4D);
    assert_eq!(
        e.to_string(),
        "ABI version mismatch: the driver speaks version 1, the request used version 9 \
         (ERROR_INCOMPATIBLE_TCI_VERSION, TC error 7501)"
    );
}

#[test]
fn malformed_requests_name_the_offset() {
    let mut c = Client::new();
    let mut b = Request::DeleteFlow { adapter: 1, id: 1 }.encode();
    b.truncate(18);
    b[8..12].copy_from_slice(&18u32.to_le_bytes());
    let (_, out) = c.raw(Op::DeleteFlow.code(), &b, 1024);
    let e = decode_reply(Op::DeleteFlow, &out).unwrap().unwrap_err();
    assert_eq!(
        (e.status, e.object, e.arg0),
        (Status::MalformedRequest, ObjectRef::Request, 16)
    );
    assert!(e.rule.contains("flow.id"), "{}", e.rule);
    // Sent with another operation's code: the body does not fit.
    let b = Request::GetVersion.encode();
    let (_, out) = c.raw(Op::Apply.code(), &b, 1024);
    assert_eq!(
        decode_reply(Op::Apply, &out).unwrap().unwrap_err().status,
        Status::MalformedRequest
    );
}

#[test]
fn output_buffer_sizes() {
    let mut c = Client::new();
    let req = Request::GetVersion.encode();
    // Unknown IOCTL code: no reply.
    let (r, out) = c.raw(0x0012_2000, &req, 1024);
    assert_eq!((r.ntstatus, out.len()), (STATUS_INVALID_DEVICE_REQUEST, 0));
    // Too small for any reply.
    let (r, out) = c.raw(Op::GetVersion.code(), &req, 8);
    assert_eq!((r.ntstatus, out.len()), (STATUS_BUFFER_TOO_SMALL, 0));
    // Too small for this reply, big enough for the error: says how much.
    c.add_flow(1, 0, be(&"n".repeat(200)));
    let q = Request::QueryFlow { adapter: 1, id: 1 };
    let (r, out) = c.raw(q.code(), &q.encode(), 100);
    let e = decode_reply(Op::QueryFlow, &out).unwrap().unwrap_err();
    assert_eq!(e.status, Status::BufferTooSmall);
    assert_eq!(r.ntstatus, ntstatus_for(Status::BufferTooSmall));
    let (r, out) = c.raw(q.code(), &q.encode(), e.arg0 as usize);
    assert_eq!(r.ntstatus, 0);
    assert!(decode_reply(Op::QueryFlow, &out).unwrap().is_ok());
    // A page that cannot hold one item says how much one item needs.
    let enum_req = Request::EnumFlows {
        adapter: 1,
        start: 0,
        with_stats: true,
    };
    let (_, out) = c.raw(enum_req.code(), &enum_req.encode(), 100);
    let e = decode_reply(Op::EnumFlows, &out).unwrap().unwrap_err();
    assert_eq!(e.status, Status::BufferTooSmall);
    let (r, out) = c.raw(enum_req.code(), &enum_req.encode(), e.arg0 as usize);
    assert_eq!(r.ntstatus, 0);
    let Ok(ReplyBody::Flows(p)) = decode_reply(Op::EnumFlows, &out).unwrap() else {
        panic!()
    };
    assert_eq!(p.items.len(), 1);
}

/// A reader polling the published snapshot while a writer applies
/// generation after generation never sees a mix: every generation's flows
/// carry the same tag, there is one filter per flow (plus the policy's
/// two), and classification lands on a flow of that generation.
#[test]
fn concurrent_readers_never_see_half_a_change() {
    let host = Arc::new(MemHost::with_fake_adapters());
    let plane = Arc::new(Mutex::new(ControlPlane::new(Arc::clone(&host))));
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let host = Arc::clone(&host);
        let stop = Arc::clone(&stop);
        readers.push(std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let Some(s) = host.snapshot(1) else { continue };
                let flows = s.flows();
                let user = flows.iter().filter(|(id, _)| *id < 0x8000_0000).count();
                let tag = flows[0].1.name.split('-').next().unwrap().to_string();
                for (_, f) in flows {
                    assert_eq!(f.name.split('-').next().unwrap(), tag, "mixed generations");
                }
                assert_eq!(s.filter_count(), user + 2);
                let key = qos_engine::packet::FlowKey {
                    family: qos_engine::packet::Family::V4,
                    src: 1,
                    dst: 1 << 8 | 7,
                    protocol: 17,
                    l4: qos_engine::packet::L4::Ports { src: 1, dst: 9 },
                    dscp: 0,
                    ecn: 0,
                    vlan: None,
                };
                let i = s.classify(&key).expect("filter 1 matches");
                assert_eq!(flows[i].1.name, format!("{tag}-1"));
                checks += 1;
            }
            checks
        }));
    }
    // A second control-plane client enumerating through the same lock.
    let enumerator = {
        let plane = Arc::clone(&plane);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let req = Request::EnumFlows {
                    adapter: 1,
                    start: 0,
                    with_stats: false,
                };
                let mut out = vec![0u8; 1 << 20];
                let r = plane
                    .lock()
                    .unwrap()
                    .dispatch(req.code(), &req.encode(), &mut out);
                let Ok(ReplyBody::Flows(p)) =
                    decode_reply(Op::EnumFlows, &out[..r.written]).unwrap()
                else {
                    panic!()
                };
                if let Some(first) = p.items.first() {
                    let tag = first.spec.name.split('-').next().unwrap();
                    assert!(p.items.iter().all(|f| f.spec.name.starts_with(tag)));
                }
                n += 1;
            }
            n
        })
    };
    for g in 0..300u32 {
        let req = Request::Apply {
            adapter: 1,
            config: config(1 + g % 37, &format!("g{g}")),
        };
        let mut out = vec![0u8; 4096];
        let r = plane
            .lock()
            .unwrap()
            .dispatch(req.code(), &req.encode(), &mut out);
        assert_eq!(r.ntstatus, 0);
        // Every third generation is refused halfway through its filters.
        let mut bad = config(40, &format!("bad{g}"));
        bad.filters[20].flow = 999;
        let req = Request::Apply {
            adapter: 1,
            config: bad,
        };
        let r = plane
            .lock()
            .unwrap()
            .dispatch(req.code(), &req.encode(), &mut out);
        assert_eq!(r.ntstatus, ntstatus_for(Status::UnknownFlow));
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(enumerator.join().unwrap() > 0);
}

#[test]
fn stream_server_speaks_the_transport_framing() {
    use qos_proto::transport::{REPLY_PREFIX_LEN, ReplyFrame, RequestFrame};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    let host = Arc::new(MemHost::with_fake_adapters());
    let plane = Arc::new(Mutex::new(ControlPlane::new(host)));
    let (mut client, server) = UnixStream::pair().unwrap();
    let p2 = Arc::clone(&plane);
    let t = std::thread::spawn(move || serve_stream(&p2, server));
    let mut call = |req: &Request| -> (u32, Vec<u8>) {
        let input = req.encode();
        let f = RequestFrame::new(req.code(), 65536, &input);
        client.write_all(&f.encode()).unwrap();
        client.write_all(&input).unwrap();
        let mut prefix = [0u8; REPLY_PREFIX_LEN];
        client.read_exact(&mut prefix).unwrap();
        let r = ReplyFrame::decode(&prefix, 65536).unwrap();
        let mut out = vec![0u8; r.information as usize];
        client.read_exact(&mut out).unwrap();
        (r.ntstatus, out)
    };
    let (st, out) = call(&Request::AddFlow {
        adapter: 1,
        flow: FlowDef {
            id: 0,
            spec: be("x"),
        },
    });
    assert_eq!(st, 0);
    assert_eq!(
        decode_reply(Op::AddFlow, &out).unwrap(),
        Ok(ReplyBody::Created { id: 1 })
    );
    let (st, out) = call(&Request::DeleteFlow { adapter: 1, id: 5 });
    assert_eq!(st, ntstatus_for(Status::UnknownFlow));
    assert_eq!(
        decode_reply(Op::DeleteFlow, &out)
            .unwrap()
            .unwrap_err()
            .status,
        Status::UnknownFlow
    );
    drop(client);
    t.join().unwrap().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any bytes under any code: dispatch never panics, and whatever it
    /// writes is a reply that decodes (or nothing, with an error NTSTATUS).
    #[test]
    fn dispatch_answers_any_input(
        op in 0usize..20,
        body in proptest::collection::vec(any::<u8>(), 0..300),
        cap in 0usize..2000,
    ) {
        let mut c = Client::new();
        let op = Op::ALL[op];
        let mut input = Request::GetVersion.encode();
        input.extend_from_slice(&body);
        let n = input.len() as u32;
        input[8..12].copy_from_slice(&n.to_le_bytes());
        let (r, out) = c.raw(op.code(), &input, cap);
        if out.is_empty() {
            prop_assert_eq!(r.ntstatus, STATUS_BUFFER_TOO_SMALL);
        } else {
            let reply = decode_reply(op, &out).unwrap();
            let st = reply.as_ref().err().map_or(Status::Ok, |e| e.status);
            prop_assert_eq!(r.ntstatus, ntstatus_for(st));
        }
    }
}
