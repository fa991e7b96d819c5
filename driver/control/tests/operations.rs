//! Every operation through dispatch, with its error paths (status, object,
//! field), over memhost's fake adapters.

mod common;

use common::*;
use qos_proto::*;

#[test]
fn get_version_reports_abi_and_limits() {
    let mut c = Client::new();
    let ReplyBody::Version(v) = c.ok(&Request::GetVersion) else {
        panic!()
    };
    assert_eq!(v.abi_version, ABI_VERSION);
    assert_eq!(v.limits.max_flows, 4096);
    assert_eq!(v.limits.max_filters, 32768);
    assert_eq!(v.limits.max_policies, 1024);
    assert_eq!(v.limits.max_request_bytes as usize, MAX_REQUEST_BYTES);
    assert!(!v.driver_version.is_empty());
}

#[test]
fn enum_adapters_with_counts_and_paging() {
    let mut c = Client::new();
    c.add_flow(1, 0, be("a"));
    c.ok(&Request::AddPolicy {
        adapter: 1,
        policy: policy(0),
    });
    let ReplyBody::Adapters(p) = c.ok(&Request::EnumAdapters { start: 0 }) else {
        panic!()
    };
    assert_eq!(p.total, 2);
    assert_eq!(p.next, None);
    let eth = &p.items[0];
    assert_eq!(
        (eth.id, eth.name.as_str(), eth.friendly_name.as_str()),
        (1, "eth0", "Ethernet")
    );
    assert_eq!(
        (eth.media, eth.mtu, eth.link_speed_bps),
        (MEDIUM_802_3, 1500, 1_000_000_000)
    );
    assert_eq!(eth.state, AdapterState::Running);
    assert_eq!((eth.flows, eth.filters, eth.policies), (2, 2, 1));
    let wwan = &p.items[1];
    assert_eq!((wwan.id, wwan.media, wwan.flows), (2, MEDIUM_IP, 0));
    // A buffer that holds one adapter: two pages.
    c.capacity = 120;
    let ReplyBody::Adapters(p) = c.ok(&Request::EnumAdapters { start: 0 }) else {
        panic!()
    };
    assert_eq!((p.items.len(), p.next), (1, Some(2)));
    let ReplyBody::Adapters(p) = c.ok(&Request::EnumAdapters { start: 2 }) else {
        panic!()
    };
    assert_eq!((p.items.len(), p.items[0].id, p.next), (1, 2, None));
}

#[test]
fn flow_lifecycle() {
    let mut c = Client::new();
    let a = c.add_flow(1, 0, be("bulk"));
    let b = c.add_flow(1, 0, guaranteed("voice", 12_500));
    assert_eq!((a, b), (1, 2));
    assert_eq!(c.add_flow(1, 10, be("ten")), 10);
    assert_eq!(
        c.add_flow(1, 0, be("")),
        3,
        "auto ids fill from the counter"
    );
    let ReplyBody::Flow(f) = c.ok(&Request::QueryFlow { adapter: 1, id: b }) else {
        panic!()
    };
    assert_eq!(f.spec, guaranteed("voice", 12_500));
    assert_eq!((f.id, f.policy, f.filters), (2, None, 0));
    assert!(f.stats.is_some());
    let ids: Vec<u32> = c.flows(1).iter().map(|f| f.id).collect();
    assert_eq!(ids, [1, 2, 3, 10]);
    c.ok(&Request::ModifyFlow {
        adapter: 1,
        flow: FlowDef {
            id: b,
            spec: guaranteed("voice", 25_000),
        },
    });
    let ReplyBody::Flow(f) = c.ok(&Request::QueryFlow { adapter: 1, id: b }) else {
        panic!()
    };
    assert_eq!(f.spec.token_rate, Some(25_000));
    c.ok(&Request::DeleteFlow { adapter: 1, id: a });
    let e = c.err(&Request::QueryFlow { adapter: 1, id: a });
    assert_eq!(
        (e.status, e.object, e.field),
        (Status::UnknownFlow, ObjectRef::Flow(a), FieldId::FLOW_ID)
    );
    let e = c.err(&Request::DeleteFlow { adapter: 1, id: a });
    assert_eq!(e.status, Status::UnknownFlow);
    // Adapters are independent.
    assert!(c.flows(2).is_empty());
    // The host got every change.
    assert_eq!(c.host.snapshot(1).unwrap().flows().len(), 3);
}

fn add_flow_err(c: &mut Client, spec: FlowSpec) -> ErrorReply {
    c.err(&Request::AddFlow {
        adapter: 1,
        flow: FlowDef { id: 5, spec },
    })
}

#[test]
fn flow_errors_name_status_and_field() {
    let mut c = Client::new();
    let cases: Vec<(FlowSpec, Status, FieldId)> = vec![
        (
            FlowSpec {
                service_type: ServiceType::Other(4),
                ..be("")
            },
            Status::InvalidServiceType,
            FieldId::SERVICE_TYPE,
        ),
        (
            guaranteed("", 0),
            Status::InvalidTokenRate,
            FieldId::TOKEN_RATE,
        ),
        (
            FlowSpec {
                token_rate: None,
                ..guaranteed("", 1)
            },
            Status::InvalidTokenRate,
            FieldId::TOKEN_RATE,
        ),
        (
            FlowSpec {
                peak_rate: Some(10),
                ..guaranteed("", 100)
            },
            Status::InvalidPeakRate,
            FieldId::PEAK_RATE,
        ),
        (
            FlowSpec {
                mode: Some(SdMode::Other(7)),
                ..be("")
            },
            Status::InvalidSdMode,
            FieldId::MODE,
        ),
        (
            FlowSpec {
                tclass: Some(8),
                ..be("")
            },
            Status::InvalidTrafficClass,
            FieldId::TRAFFIC_CLASS,
        ),
        (
            FlowSpec {
                dclass: Some(64),
                ..be("")
            },
            Status::InvalidDsClass,
            FieldId::DS_CLASS,
        ),
        (
            FlowSpec {
                shaping: Some(ShapingBehavior::Other(9)),
                ..guaranteed("", 100)
            },
            Status::InvalidValue,
            FieldId::SHAPING_BEHAVIOR,
        ),
        (
            FlowSpec {
                shaping: Some(ShapingBehavior::ShapeOnly),
                token_rate: None,
                ..be("")
            },
            Status::InvalidShapeRate,
            FieldId::SHAPING_BEHAVIOR,
        ),
        (
            FlowSpec {
                name: "x".repeat(257),
                ..be("")
            },
            Status::ObjectLengthInvalid,
            FieldId::NAME,
        ),
    ];
    for (spec, status, field) in cases {
        let e = add_flow_err(&mut c, spec.clone());
        assert_eq!(
            (e.status, e.object, e.field),
            (status, ObjectRef::Flow(5), field),
            "{spec:?}: {e}"
        );
        assert!(!e.rule.is_empty());
        assert!(e.to_string().contains(field.name()), "{e}");
    }
    c.add_flow(1, 5, be("n"));
    let e = add_flow_err(&mut c, be(""));
    assert_eq!((e.status, e.field), (Status::DuplicateId, FieldId::FLOW_ID));
    let e = c.err(&Request::AddFlow {
        adapter: 1,
        flow: FlowDef {
            id: 6,
            spec: be("n"),
        },
    });
    assert_eq!(
        (e.status, e.object, e.field),
        (Status::DuplicateName, ObjectRef::Flow(6), FieldId::NAME)
    );
    let e = c.err(&Request::AddFlow {
        adapter: 9,
        flow: FlowDef {
            id: 0,
            spec: be(""),
        },
    });
    assert_eq!(
        (e.status, e.object),
        (Status::UnknownAdapter, ObjectRef::Adapter(9))
    );
    // Modifying refuses bad specs and unknown flows, and counts refusals.
    let e = c.err(&Request::ModifyFlow {
        adapter: 1,
        flow: FlowDef {
            id: 5,
            spec: guaranteed("", 0),
        },
    });
    assert_eq!(e.status, Status::InvalidTokenRate);
    let e = c.err(&Request::ModifyFlow {
        adapter: 1,
        flow: FlowDef {
            id: 77,
            spec: be(""),
        },
    });
    assert_eq!(
        (e.status, e.object),
        (Status::UnknownFlow, ObjectRef::Flow(77))
    );
    let ReplyBody::Stats(s) = c.ok(&Request::GetStats { adapter: 1 }) else {
        panic!()
    };
    assert_eq!(s.adapter.flows_rejected, 12);
    assert_eq!(s.adapter.flow_mods_rejected, 2);
    assert_eq!(s.adapter.flows_opened, 1);
}

#[test]
fn admission_is_checked_against_the_adapter_link_speed() {
    let mut c = Client::new();
    // wwan0: 50 Mbit/s = 6.25 MB/s.
    c.add_flow(2, 1, guaranteed("a", 6_000_000));
    let e = c.err(&Request::AddFlow {
        adapter: 2,
        flow: FlowDef {
            id: 2,
            spec: guaranteed("b", 250_001),
        },
    });
    assert_eq!(
        (e.status, e.object, e.field),
        (
            Status::AdmissionExceeded,
            ObjectRef::Flow(2),
            FieldId::TOKEN_RATE
        )
    );
    // The same flow fits the 1 Gbit/s adapter.
    c.add_flow(1, 2, guaranteed("b", 250_001));
    // Lowering the share below what is reserved is refused too.
    let e = c.err(&Request::SetOptions {
        adapter: 2,
        options: AdapterOptions {
            admission_share: 50,
            ..default_options()
        },
    });
    assert_eq!(e.status, Status::AdmissionExceeded);
}

#[test]
fn filter_lifecycle_and_errors() {
    let mut c = Client::new();
    let f1 = c.add_flow(1, 0, be("a"));
    let id = c.add_filter(1, v4_filter(0, f1, 0x0a00_0000, 8));
    assert_eq!(id, 1);
    assert_eq!(c.add_filter(1, v4_filter(7, f1, 0x0b00_0000, 8)), 7);
    let all = c.filters(1);
    assert_eq!(all.iter().map(|f| f.id).collect::<Vec<_>>(), [1, 7]);
    assert_eq!(all[0], v4_filter(1, f1, 0x0a00_0000, 8));
    let ReplyBody::Flow(f) = c.ok(&Request::QueryFlow { adapter: 1, id: f1 }) else {
        panic!()
    };
    assert_eq!(f.filters, 2);

    let check = |c: &mut Client, f: Filter, status, field| {
        let id = f.id;
        let e = c.err(&Request::AddFilter {
            adapter: 1,
            filter: f,
        });
        assert_eq!(
            (e.status, e.object, e.field),
            (status, ObjectRef::Filter(id), field),
            "{e}"
        );
    };
    check(
        &mut c,
        v4_filter(9, 99, 0, 0),
        Status::UnknownFlow,
        FieldId::FILTER_FLOW,
    );
    check(
        &mut c,
        Filter {
            family: Family::Other(5),
            ..v4_filter(9, f1, 0, 0)
        },
        Status::InvalidAddressType,
        FieldId::FAMILY,
    );
    check(
        &mut c,
        v4_filter(9, f1, 0x0a00_0001, 8),
        Status::InvalidPrefix,
        FieldId::DST_PREFIX,
    );
    check(
        &mut c,
        Filter {
            dst_ports: PortRange { lo: 9, hi: 1 },
            ..v4_filter(9, f1, 0, 0)
        },
        Status::InvalidPortRange,
        FieldId::DST_PORTS,
    );
    check(
        &mut c,
        v4_filter(7, f1, 0, 0),
        Status::DuplicateId,
        FieldId::FILTER_ID,
    );
    check(
        &mut c,
        v4_filter(0x8000_0001, f1, 0, 0),
        Status::InvalidValue,
        FieldId::FILTER_ID,
    );

    // A flow with filters cannot be deleted (TC_SUPPORTED_OBJECTS_EXIST).
    let e = c.err(&Request::DeleteFlow { adapter: 1, id: f1 });
    assert_eq!(
        (e.status, e.object, e.field),
        (
            Status::SupportedObjectsExist,
            ObjectRef::Flow(f1),
            FieldId::FLOW_ID
        )
    );
    assert_eq!(e.status.code(), 7512);
    c.ok(&Request::DeleteFilter { adapter: 1, id: 1 });
    let e = c.err(&Request::DeleteFlow { adapter: 1, id: f1 });
    assert_eq!(e.status, Status::SupportedObjectsExist);
    c.ok(&Request::DeleteFilter { adapter: 1, id: 7 });
    let e = c.err(&Request::DeleteFilter { adapter: 1, id: 7 });
    assert_eq!(
        (e.status, e.object, e.field),
        (
            Status::UnknownFilter,
            ObjectRef::Filter(7),
            FieldId::FILTER_ID
        )
    );
    c.ok(&Request::DeleteFlow { adapter: 1, id: f1 });
    assert!(c.flows(1).is_empty());
    assert_eq!(c.host.snapshot(1).unwrap().filter_count(), 0);
}

#[test]
fn policies_compile_to_flows_and_filters() {
    let mut c = Client::new();
    let ReplyBody::Created { id } = c.ok(&Request::AddPolicy {
        adapter: 1,
        policy: Policy {
            name: "web".into(),
            throttle_bps: Some(8_000_000),
            ..policy(0)
        },
    }) else {
        panic!()
    };
    assert_eq!(id, 1);
    let pol = c.policies(1);
    assert_eq!(pol.len(), 1);
    assert_eq!(pol[0].name, "web");
    let flows = c.flows(1);
    assert_eq!(flows.len(), 1);
    assert_eq!(
        (flows[0].id, flows[0].policy, flows[0].filters),
        (0x8000_0001, Some(1), 2)
    );
    assert_eq!(flows[0].spec.token_rate, Some(1_000_000));
    assert_eq!(flows[0].spec.dclass, Some(18));
    let filters = c.filters(1);
    assert_eq!(
        filters
            .iter()
            .map(|f| (f.id, f.family, f.flow))
            .collect::<Vec<_>>(),
        [
            (0x8000_0002, Family::V4, 0x8000_0001),
            (0x8000_0003, Family::V6, 0x8000_0001)
        ]
    );
    assert!(
        filters
            .iter()
            .all(|f| f.protocol == ProtocolMatch::TcpOrUdp)
    );
    // Generated objects are changed through the policy only.
    let e = c.err(&Request::DeleteFlow {
        adapter: 1,
        id: 0x8000_0001,
    });
    assert_eq!(
        (e.status, e.field),
        (Status::InvalidValue, FieldId::FLOW_ID)
    );
    let e = c.err(&Request::DeleteFilter {
        adapter: 1,
        id: 0x8000_0002,
    });
    assert_eq!(
        (e.status, e.field),
        (Status::InvalidValue, FieldId::FILTER_ID)
    );
    let e = c.err(&Request::AddFilter {
        adapter: 1,
        filter: v4_filter(5, 0x8000_0001, 0, 0),
    });
    assert_eq!(e.status, Status::UnknownFlow);
    // Errors.
    let e = c.err(&Request::AddPolicy {
        adapter: 1,
        policy: Policy {
            dscp: None,
            ..policy(0)
        },
    });
    assert_eq!(
        (e.status, e.object, e.field),
        (
            Status::InvalidValue,
            ObjectRef::Policy(2),
            FieldId::POLICY_ACTION
        )
    );
    let e = c.err(&Request::AddPolicy {
        adapter: 1,
        policy: policy(1),
    });
    assert_eq!(
        (e.status, e.field),
        (Status::DuplicateId, FieldId::POLICY_ID)
    );
    let e = c.err(&Request::AddPolicy {
        adapter: 1,
        policy: Policy {
            protocol: PolicyProtocol::Other(9),
            ..policy(3)
        },
    });
    assert_eq!(
        (e.status, e.field),
        (Status::InvalidProtocol, FieldId::PROTOCOL)
    );
    let e = c.err(&Request::AddPolicy {
        adapter: 1,
        policy: Policy {
            name: "web".into(),
            ..policy(3)
        },
    });
    assert_eq!((e.status, e.field), (Status::DuplicateName, FieldId::NAME));
    c.ok(&Request::DeletePolicy { adapter: 1, id: 1 });
    assert!(c.flows(1).is_empty() && c.filters(1).is_empty());
    let e = c.err(&Request::DeletePolicy { adapter: 1, id: 1 });
    assert_eq!(
        (e.status, e.object),
        (Status::UnknownPolicy, ObjectRef::Policy(1))
    );
}

#[test]
fn maps_and_options_get_and_set() {
    let mut c = Client::new();
    assert_eq!(
        c.ok(&Request::GetMaps { adapter: 1 }),
        ReplyBody::Maps(MappingTables::default())
    );
    assert_eq!(
        c.ok(&Request::GetOptions { adapter: 1 }),
        ReplyBody::Options(default_options())
    );
    let mut m = MappingTables::default();
    m.guaranteed.conforming_dscp = 46;
    c.ok(&Request::SetMaps {
        adapter: 1,
        maps: m,
    });
    assert_eq!(c.ok(&Request::GetMaps { adapter: 1 }), ReplyBody::Maps(m));
    assert_eq!(
        c.host
            .snapshot(1)
            .unwrap()
            .maps()
            .conforming_dscp
            .guaranteed,
        46
    );
    let mut bad = m;
    bad.network_control.priority = 8;
    let e = c.err(&Request::SetMaps {
        adapter: 1,
        maps: bad,
    });
    assert_eq!(
        (e.status, e.object, e.field),
        (
            Status::InvalidTrafficClass,
            ObjectRef::MappingTable,
            FieldId::MAP_PRIORITY
        )
    );
    assert_eq!(c.ok(&Request::GetMaps { adapter: 1 }), ReplyBody::Maps(m));

    let o = AdapterOptions {
        max_outstanding_sends: 16,
        marking_override: MarkingOverride::Ignore,
        ..default_options()
    };
    c.ok(&Request::SetOptions {
        adapter: 1,
        options: o,
    });
    assert_eq!(
        c.ok(&Request::GetOptions { adapter: 1 }),
        ReplyBody::Options(o)
    );
    assert_eq!(c.host.snapshot(1).unwrap().limits().max_outstanding, 16);
    for (bad, field, status) in [
        (
            AdapterOptions {
                admission_share: 101,
                ..o
            },
            FieldId::ADMISSION_SHARE,
            Status::InvalidValue,
        ),
        (
            AdapterOptions {
                queue_packets: 0,
                ..o
            },
            FieldId::QUEUE_PACKETS,
            Status::InvalidValue,
        ),
        (
            AdapterOptions {
                marking_override: MarkingOverride::Other(3),
                ..o
            },
            FieldId::MARKING_OVERRIDE,
            Status::InvalidValue,
        ),
        (
            AdapterOptions {
                flow_mode: FlowMode::Other(3),
                ..o
            },
            FieldId::FLOW_MODE,
            Status::InvalidValue,
        ),
    ] {
        let e = c.err(&Request::SetOptions {
            adapter: 1,
            options: bad,
        });
        assert_eq!(
            (e.status, e.object, e.field),
            (status, ObjectRef::AdapterOptions, field)
        );
    }
    assert_eq!(
        c.ok(&Request::GetOptions { adapter: 1 }),
        ReplyBody::Options(o)
    );
}

#[test]
fn diffserv_mode_over_the_wire() {
    let mut c = Client::new();
    let f = c.add_flow(1, 0, be("ef"));
    c.add_filter(1, v4_filter(0, f, 0, 0));
    let e = c.err(&Request::SetOptions {
        adapter: 1,
        options: AdapterOptions {
            flow_mode: FlowMode::Diffserv,
            ..default_options()
        },
    });
    assert_eq!(
        (e.status, e.object, e.field),
        (
            Status::InvalidDiffservFlow,
            ObjectRef::Filter(1),
            FieldId::INBOUND_DSCP
        )
    );
    assert_eq!(e.status.code(), 7517);
}

#[test]
fn clear_config_settings_and_stats() {
    let mut c = Client::new();
    let f = c.add_flow(1, 0, be("a"));
    c.add_filter(1, v4_filter(0, f, 0, 0));
    c.ok(&Request::AddPolicy {
        adapter: 1,
        policy: policy(0),
    });
    let mut m = MappingTables::default();
    m.best_effort.conforming_dscp = 8;
    c.ok(&Request::SetMaps {
        adapter: 1,
        maps: m,
    });
    c.err(&Request::AddFlow {
        adapter: 1,
        flow: FlowDef {
            id: 0,
            spec: guaranteed("", 0),
        },
    });
    c.ok(&Request::Clear {
        adapter: 1,
        what: ClearFlags::CONFIG,
    });
    assert!(c.flows(1).is_empty() && c.filters(1).is_empty() && c.policies(1).is_empty());
    assert_eq!(
        c.ok(&Request::GetMaps { adapter: 1 }),
        ReplyBody::Maps(m),
        "settings kept"
    );
    c.ok(&Request::Clear {
        adapter: 1,
        what: ClearFlags::SETTINGS,
    });
    assert_eq!(
        c.ok(&Request::GetMaps { adapter: 1 }),
        ReplyBody::Maps(MappingTables::default())
    );
    let ReplyBody::Stats(s) = c.ok(&Request::GetStats { adapter: 1 }) else {
        panic!()
    };
    assert_eq!(s.adapter.flows_rejected, 1);
    assert!(s.adapter.flows_closed >= 2);
    c.ok(&Request::Clear {
        adapter: 1,
        what: ClearFlags::STATS,
    });
    let ReplyBody::Stats(s) = c.ok(&Request::GetStats { adapter: 1 }) else {
        panic!()
    };
    assert_eq!((s.adapter.flows_rejected, s.adapter.flows_closed), (0, 0));
}

#[test]
fn statistics_come_from_the_datapath() {
    let mut c = Client::new();
    let f = c.add_flow(1, 0, be("a"));
    c.add_flow(1, 0, be("b"));
    // Push three packets of 1000 IP bytes through flow `a`'s scheduler queue.
    c.host
        .with_scheduler(1, |s, snap| {
            let i = snap.index_of(f).unwrap();
            for n in 0..3 {
                s.enqueue(0, Some(i), 1000, n).unwrap();
            }
            while let Some(r) = s.dequeue(0) {
                assert_eq!(r.flow, Some(i));
                s.send_completed(1);
            }
            s.enqueue(0, None, 500, 9).unwrap();
        })
        .unwrap();
    let ReplyBody::Flow(e) = c.ok(&Request::QueryFlow { adapter: 1, id: f }) else {
        panic!()
    };
    let st = e.stats.unwrap();
    assert_eq!(
        (st.flow.packets_scheduled, st.flow.packets_transmitted),
        (3, 3)
    );
    assert_eq!(st.flow.bytes_transmitted, 3000);
    assert!(st.extra.iter().any(|x| x.name == "dropped.queue_packets"));
    let ReplyBody::Stats(s) = c.ok(&Request::GetStats { adapter: 1 }) else {
        panic!()
    };
    assert_eq!(
        s.totals.packets_scheduled, 4,
        "unclassified traffic counts in the totals"
    );
    assert_eq!(s.totals.bytes_scheduled, 3500);
    assert_eq!(s.adapter.flows_opened, 2);
    assert_eq!(s.adapter.max_simultaneous_flows, 2);
    c.ok(&Request::Clear {
        adapter: 1,
        what: ClearFlags::STATS,
    });
    let ReplyBody::Flow(e) = c.ok(&Request::QueryFlow { adapter: 1, id: f }) else {
        panic!()
    };
    assert_eq!(e.stats.unwrap().flow.packets_scheduled, 0);
}

#[test]
fn queries_of_unknown_adapters_are_refused() {
    let mut c = Client::new();
    for req in [
        Request::EnumFlows {
            adapter: 3,
            start: 0,
            with_stats: false,
        },
        Request::EnumFilters {
            adapter: 3,
            start: 0,
        },
        Request::EnumPolicies {
            adapter: 3,
            start: 0,
        },
        Request::GetMaps { adapter: 3 },
        Request::GetOptions { adapter: 3 },
        Request::GetStats { adapter: 3 },
        Request::QueryFlow { adapter: 3, id: 1 },
        Request::Clear {
            adapter: 3,
            what: ClearFlags::ALL,
        },
    ] {
        let e = c.err(&req);
        assert_eq!(
            (e.status, e.object, e.field),
            (
                Status::UnknownAdapter,
                ObjectRef::Adapter(3),
                FieldId::ADAPTER
            ),
            "{req:?}"
        );
    }
    // An adapter that detached keeps its configuration for when it returns.
    c.add_flow(2, 1, be("x"));
    c.host.remove_adapter(2);
    assert_eq!(
        c.err(&Request::GetMaps { adapter: 2 }).status,
        Status::UnknownAdapter
    );
    let snap = c.plane.snapshot_for(2, 10_000_000);
    assert_eq!(snap.flows().len(), 1);
}
