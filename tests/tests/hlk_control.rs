//! HLK-style: the control device end to end: tcctl's IOCTLs through the
//! driver's dispatch into qos-control, snapshots published to the real
//! datapath (marks on the wire), configuration retained across detach /
//! attach, and configuration storms from several threads while traffic
//! flows on others (no torn configuration, counters consistent).

use qos_engine::flow::{SdMode, ServiceType};
use qos_engine::packet::Family;
use qos_proto::{ReplyBody, Request};
use qoslwf::sim::{AdapterSpec, Sim, TxPacket};
use qoslwf_tests::frames::{FrameSpec, ipv4_checksum_ok, pcp_of_info, tos_of};
use qoslwf_tests::hlk::{
    assert_clean, call, flow, loaded, port_filter, unload_clean, wire_filter, wire_flow,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn add_marking_flow(sim: &Sim, adapter: u32, id: u32, dscp: u8, port: u16) {
    let f = flow(
        ServiceType::BestEffort,
        None,
        Some(SdMode::Borrow),
        Some(dscp),
        Some(4),
    );
    let r = call(
        sim,
        &Request::AddFlow {
            adapter,
            flow: wire_flow(id, &f),
        },
    )
    .unwrap();
    assert!(matches!(r, Ok(ReplyBody::Created { .. })), "{r:?}");
    for (i, fam) in [Family::V4, Family::V6].into_iter().enumerate() {
        let filt = port_filter(id * 10 + i as u32, id, fam, true, port);
        let r = call(
            sim,
            &Request::AddFilter {
                adapter,
                filter: wire_filter(&filt),
            },
        )
        .unwrap();
        assert!(matches!(r, Ok(ReplyBody::Created { .. })), "{r:?}");
    }
}

#[test]
fn ioctls_configure_the_datapath_and_report_adapters_and_statistics() {
    let (sim, ads) = loaded(2);
    let r = call(&sim, &Request::GetVersion).unwrap().unwrap();
    assert!(matches!(r, ReplyBody::Version(_)));
    let Ok(ReplyBody::Adapters(page)) = call(&sim, &Request::EnumAdapters { start: 0 }).unwrap()
    else {
        panic!("enum adapters")
    };
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].id, 1);
    assert_eq!(page.items[0].mtu, 1500);
    assert_eq!(page.items[0].link_speed_bps, 1_000_000_000);
    assert_eq!(page.items[0].friendly_name, ads[0].spec().instance_name);
    assert_eq!(page.items[0].mac, ads[0].spec().mac);

    add_marking_flow(&sim, 1, 7, 34, 5001);
    let a = &ads[0];
    for spec in [FrameSpec::udp4(1, 5001, 100), FrameSpec::udp6(1, 5001, 100)] {
        a.send(&[TxPacket::frame(&spec.tos(0, 3).build())], 0);
        let w = a.take_wire();
        assert_eq!(tos_of(&w[0].frames[0], false), (34, 3));
        assert!(ipv4_checksum_ok(&w[0].frames[0], false));
        assert_eq!(pcp_of_info(w[0].ieee8021q), 4);
    }
    // Adapter 2 is not configured: untouched.
    let f = FrameSpec::udp4(1, 5001, 100).build();
    ads[1].send(&[TxPacket::frame(&f)], 0);
    assert_eq!(ads[1].take_wire()[0].frames[0], f);
    // Statistics through the device.
    let Ok(ReplyBody::Stats(st)) = call(&sim, &Request::GetStats { adapter: 1 }).unwrap() else {
        panic!("stats")
    };
    assert_eq!(st.totals.packets_transmitted, 2);
    // Deleting the filters stops the marking.
    for id in [70, 71] {
        let r = call(&sim, &Request::DeleteFilter { adapter: 1, id }).unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    let f = FrameSpec::udp4(1, 5001, 100).tos(5, 1).build();
    a.send(&[TxPacket::frame(&f)], 0);
    assert_eq!(a.take_wire()[0].frames[0], f);
    // An invalid change is refused with the field named, and changes nothing.
    let mut bad = flow(ServiceType::Guaranteed, None, None, None, None);
    bad.name = "no rate".into();
    let r = call(
        &sim,
        &Request::AddFlow {
            adapter: 1,
            flow: wire_flow(99, &bad),
        },
    )
    .unwrap();
    assert!(r.is_err(), "{r:?}");
    // Unknown adapter.
    let r = call(&sim, &Request::GetStats { adapter: 77 }).unwrap();
    assert!(r.is_err());
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn configuration_survives_detach_and_reattach_and_link_changes() {
    let (sim, ads) = loaded(1);
    add_marking_flow(&sim, 1, 3, 18, 6000);
    let a = &ads[0];
    assert_eq!(a.pause(), 0);
    a.detach();
    let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
    assert_eq!(a.restart(), 0);
    a.send(&[TxPacket::frame(&FrameSpec::udp4(1, 6000, 10).build())], 0);
    assert_eq!(tos_of(&a.take_wire()[0].frames[0], false).0, 18, "retained");
    a.link_state(10_000_000);
    a.send(&[TxPacket::frame(&FrameSpec::udp6(1, 6000, 10).build())], 0);
    assert_eq!(tos_of(&a.take_wire()[0].frames[0], false).0, 18, "kept");
    // Restart re-admits the configuration at the new speed.
    assert_eq!(a.pause(), 0);
    assert_eq!(a.restart(), 0);
    a.send(&[TxPacket::frame(&FrameSpec::udp4(1, 6000, 10).build())], 0);
    assert_eq!(
        tos_of(&a.take_wire()[0].frames[0], false).0,
        18,
        "re-admitted"
    );
    let Ok(ReplyBody::Adapters(page)) = call(&sim, &Request::EnumAdapters { start: 0 }).unwrap()
    else {
        panic!()
    };
    assert_eq!(page.items[0].link_speed_bps, 10_000_000);
    assert_clean(&sim, std::slice::from_ref(&a));
    unload_clean(sim);
}

#[test]
fn configuration_storms_never_tear_and_counters_stay_consistent() {
    let mut sim = Sim::new_realtime();
    assert_eq!(sim.load(), 0);
    let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
    assert_eq!(a.restart(), 0);
    let dev = sim.device_handle();
    // Two configurations: A marks ports 5001 and 5002 with DSCP 10, B with 20.
    let config = |dscp: u8| {
        let f = flow(
            ServiceType::BestEffort,
            None,
            Some(SdMode::Borrow),
            Some(dscp),
            None,
        );
        let mut filters = Vec::new();
        for (i, port) in [5001u16, 5002].into_iter().enumerate() {
            filters.push(wire_filter(&port_filter(
                1 + i as u32,
                1,
                Family::V4,
                true,
                port,
            )));
        }
        qos_proto::AdapterConfig {
            options: qos_control::convert::wire_options(&Default::default()),
            maps: qos_control::convert::wire_maps(&Default::default()),
            flows: vec![wire_flow(1, &f)],
            filters,
            policies: Vec::new(),
        }
    };
    let torn = Arc::new(AtomicU64::new(0));
    let checked = Arc::new(AtomicU64::new(0));
    a.set_recording(false);
    {
        let (torn, checked) = (torn.clone(), checked.clone());
        let mut pending: Option<u8> = None;
        a.set_on_wire(move |w| {
            // NBLs come down in pairs (one send = one chain = one snapshot).
            let d = tos_of(&w.frames[0], false).0;
            match pending.take() {
                None => pending = Some(d),
                Some(p) => {
                    checked.fetch_add(1, Ordering::Relaxed);
                    if p != d {
                        torn.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    {
        let (a, stop, sent) = (a.clone(), stop.clone(), sent.clone());
        threads.push(std::thread::spawn(move || {
            let f1 = FrameSpec::udp4(1, 5001, 64).build();
            let f2 = FrameSpec::udp4(1, 5002, 64).build();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 20_000 {
                a.send(&[TxPacket::frame(&f1), TxPacket::frame(&f2)], 0);
                sent.fetch_add(2, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    for t in 0..3u8 {
        let stop = stop.clone();
        let cfgs = [config(10), config(20)];
        threads.push(std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) && i < 400 {
                let req = match (i + usize::from(t)) % 4 {
                    0 | 1 => Request::Apply {
                        adapter: 1,
                        config: cfgs[i % 2].clone(),
                    },
                    2 => Request::GetStats { adapter: 1 },
                    _ => Request::EnumFlows {
                        adapter: 1,
                        start: 0,
                        with_stats: true,
                    },
                };
                let r = call(dev, &req).unwrap();
                assert!(r.is_ok(), "{req:?}: {r:?}");
                i += 1;
            }
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(checked.load(Ordering::Relaxed) > 100);
    assert_eq!(
        torn.load(Ordering::Relaxed),
        0,
        "a chain saw two configurations"
    );
    let total: u64 = a.completion_counts().values().sum();
    assert_eq!(total, sent.load(Ordering::Relaxed));
    assert_eq!(a.sent_down(), total, "every NBL went down once");
    let Ok(ReplyBody::Stats(st)) = call(&sim, &Request::GetStats { adapter: 1 }).unwrap() else {
        panic!()
    };
    assert!(st.totals.packets_transmitted <= total);
    assert_clean(&sim, std::slice::from_ref(&a));
    drop(a);
    unload_clean(sim);
}
