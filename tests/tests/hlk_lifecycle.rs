//! HLK-style: load/unload, registration, attach / restart / pause / detach,
//! pass-through send and receive with exactly-once completion.

use qos_engine::flow::ServiceType;
use qos_engine::packet::Family;
use qos_proto::Request;
use qoslwf::ffi::types::*;
use qoslwf::sim::{AdapterSpec, Fault, Sim, TxPacket};
use qoslwf_tests::alloc_count::{CountingAlloc, thread_live_bytes};
use qoslwf_tests::frames::FrameSpec;
use qoslwf_tests::hlk::{
    assert_clean, call, flow, loaded, port_filter, unload_clean, wire_filter, wire_flow,
};

#[global_allocator]
static A: CountingAlloc = CountingAlloc;

#[test]
fn registers_as_an_ndis_630_filter_with_the_inf_names_and_a_secured_device() {
    let (sim, _a) = loaded(0);
    let r = sim.registration().unwrap();
    assert_eq!(r.ndis_version, (6, 30));
    assert_eq!(r.revision, (2, 0xe0));
    assert_eq!(r.unique_name, qoslwf::ids::UNIQUE_NAME);
    assert_eq!(r.service_name, "qoslwf");
    assert_eq!(r.friendly_name, qoslwf::ids::FRIENDLY_NAME);
    for h in [
        "Attach",
        "Detach",
        "Restart",
        "Pause",
        "Send",
        "SendComplete",
        "CancelSend",
    ] {
        assert!(r.handlers.contains(&h), "{h} handler missing");
    }
    let d = sim.device().unwrap();
    assert_eq!(d.name, "\\Device\\QosLwf");
    assert_eq!(d.link, "\\DosDevices\\QosLwf");
    assert_eq!(d.sddl, "D:P(A;;GA;;;SY)(A;;GA;;;BA)");
    for major in [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE] {
        assert_eq!(sim.device_call(major), STATUS_SUCCESS);
    }
    assert_eq!(
        sim.device_call(3 /* IRP_MJ_READ */),
        STATUS_INVALID_DEVICE_REQUEST
    );
    unload_clean(sim);
}

#[test]
fn load_and_unload_100_times_leaks_nothing() {
    // The first cycle warms up lazy statics; the other 100 are measured.
    let mut before = 0;
    for i in 0..101u32 {
        if i == 1 {
            before = thread_live_bytes();
        }
        let (sim, adapters) = loaded(1 + i % 3);
        // Configure adapter 1 through the control device (snapshot,
        // scheduler slots), then send through it and the others.
        let spec = flow(ServiceType::BestEffort, None, None, Some(10), Some(2));
        let r = call(
            &sim,
            &Request::AddFlow {
                adapter: 1,
                flow: wire_flow(1, &spec),
            },
        );
        assert!(matches!(r, Ok(Ok(_))), "{r:?}");
        let filt = wire_filter(&port_filter(1, 1, Family::V4, true, 2000));
        let r = call(
            &sim,
            &Request::AddFilter {
                adapter: 1,
                filter: filt,
            },
        );
        assert!(matches!(r, Ok(Ok(_))), "{r:?}");
        let f = FrameSpec::udp4(1000, 2000, 64).build();
        for a in &adapters {
            a.send(&[TxPacket::frame(&f)], 0);
        }
        let w = adapters[0].take_wire();
        assert_eq!(qoslwf_tests::frames::tos_of(&w[0].frames[0], false).0, 10);
        assert_clean(&sim, &adapters);
        drop(adapters);
        unload_clean(sim);
    }
    assert_eq!(
        thread_live_bytes() - before,
        0,
        "heap bytes leaked over 100 load/unload cycles"
    );
}

#[test]
fn every_failure_in_driver_entry_and_attach_unwinds() {
    for fault in [Fault::RegisterFilter, Fault::RegisterDevice] {
        let mut sim = Sim::new();
        sim.inject_fault(fault);
        assert_ne!(sim.load(), 0, "{fault:?} must fail DriverEntry");
        assert_eq!(
            sim.live(),
            Default::default(),
            "{fault:?} left objects behind"
        );
        assert!(sim.errors().is_empty());
        // And a retry works.
        assert_eq!(sim.load(), 0);
        unload_clean(sim);
    }
    for fault in [Fault::AllocateTimer, Fault::SetAttributes] {
        let (sim, _) = loaded(0);
        sim.inject_fault(fault);
        assert!(sim.attach(&AdapterSpec::ethernet(7)).is_err());
        assert_eq!(sim.live().timers, 0, "{fault:?} leaked the timer");
        assert_eq!(sim.live().modules, 0);
        let a = sim.attach(&AdapterSpec::ethernet(8)).unwrap();
        assert_eq!(a.restart(), 0);
        unload_clean(sim);
    }
}

#[test]
fn unsupported_media_is_declined_cleanly() {
    let (sim, _) = loaded(0);
    let mut spec = AdapterSpec::ethernet(3);
    spec.media = NDIS_MEDIUM_NATIVE_802_11;
    assert_eq!(
        sim.attach(&spec).unwrap_err(),
        NDIS_STATUS_UNSUPPORTED_MEDIA
    );
    assert_eq!(sim.live().timers, 0);
    spec.media = NDIS_MEDIUM_IP;
    let a = sim.attach(&spec).unwrap();
    assert_eq!(a.restart(), 0);
    let m = a.module().unwrap();
    assert_eq!(m.info.framing, qos_engine::packet::Framing::RawIp);
    assert_eq!(m.mtu.load(std::sync::atomic::Ordering::Relaxed), 1500);
    assert_eq!(m.info.mac[..6], spec.mac);
    assert_eq!(m.info.instance_name, spec.instance_name);
    drop(m);
    unload_clean(sim);
}

#[test]
fn sends_while_paused_complete_at_once_with_paused_and_running_sends_pass() {
    let mut sim = Sim::new();
    assert_eq!(sim.load(), 0);
    let a = sim.attach(&AdapterSpec::ethernet(1)).unwrap();
    let f = FrameSpec::udp4(1, 2, 100).build();
    let ids = a.send(&[TxPacket::frame(&f), TxPacket::frame(&f)], 0);
    let c = a.take_completions();
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|c| c.status == NDIS_STATUS_PAUSED));
    assert_eq!(c.iter().map(|c| c.id).collect::<Vec<_>>(), ids);
    assert!(a.take_wire().is_empty());
    assert_eq!(a.restart(), 0);
    let ids = a.send(&[TxPacket::frame(&f)], NDIS_SEND_FLAGS_DISPATCH_LEVEL);
    let w = a.take_wire();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].frames[0], f);
    assert_eq!(a.take_completions()[0].id, ids[0]);
    assert_eq!(a.pause(), NDIS_STATUS_SUCCESS);
    a.send(&[TxPacket::frame(&f)], 0);
    assert_eq!(a.take_completions()[0].status, NDIS_STATUS_PAUSED);
    a.detach();
    assert_clean(&sim, &[a]);
    sim.unload();
    assert_eq!(sim.live(), Default::default());
}

#[test]
fn pause_waits_for_sends_held_below_and_completes_with_pause_complete() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    a.set_miniport_hold(true);
    let f = FrameSpec::tcp4(5, 6, 10).build();
    a.send(
        &[
            TxPacket::frame(&f),
            TxPacket::frame(&f),
            TxPacket::frame(&f),
        ],
        0,
    );
    assert_eq!(a.miniport_held(), 3);
    assert_eq!(a.pause(), NDIS_STATUS_PENDING);
    assert!(!a.is_paused());
    a.complete_held(2);
    assert!(!a.is_paused());
    a.complete_held(1);
    assert!(
        a.is_paused(),
        "NdisFPauseComplete after the last send came back"
    );
    assert_eq!(a.take_completions().len(), 3);
    assert_clean(&sim, &ads);
    a.detach();
    unload_clean(sim);
}

#[test]
fn receives_pass_through_and_resources_receives_are_never_held() {
    let (sim, ads) = loaded(1);
    let a = &ads[0];
    let f = FrameSpec::udp6(53, 5353, 40).build();
    a.receive(&[TxPacket::frame(&f), TxPacket::frame(&f)], 0);
    a.receive(&[TxPacket::frame(&f)], NDIS_RECEIVE_FLAGS_RESOURCES);
    let r = a.take_received();
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|x| x.frames[0] == f));
    assert_eq!(
        r[2].flags & NDIS_RECEIVE_FLAGS_RESOURCES,
        NDIS_RECEIVE_FLAGS_RESOURCES
    );
    assert_eq!(sim.live().nbls, 0, "every receive returned or reclaimed");
    assert_clean(&sim, &ads);
    unload_clean(sim);
}

#[test]
fn link_state_updates_the_speed_and_is_passed_up() {
    let (sim, ads) = loaded(1);
    ads[0].link_state(100_000_000);
    let m = ads[0].module().unwrap();
    assert_eq!(
        m.link_speed.load(std::sync::atomic::Ordering::Relaxed),
        100_000_000
    );
    assert_eq!(ads[0].statuses_up(), vec![NDIS_STATUS_LINK_STATE]);
    drop(m);
    unload_clean(sim);
}
