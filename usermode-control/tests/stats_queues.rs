//! `tcctl stats` and `tcctl flow show` print a flow's own shaper and
//! sequencer figures (driven through the real control plane over memhost,
//! with packets pushed through the adapter's scheduler), and say that the
//! per-flow netcard figures are not tracked instead of printing them.

#![cfg(unix)]

mod common;

use std::sync::{Arc, Mutex};

use common::{Server, json, ok};
use qos_control::ControlPlane;
use qos_control::memhost::{MemHost, serve_stream};
use serde_json::Value;

/// The real control plane over a memhost the test keeps a handle on.
fn server() -> (Server, Arc<MemHost>) {
    let host = Arc::new(MemHost::with_fake_adapters());
    let plane = Arc::new(Mutex::new(ControlPlane::new(Arc::clone(&host))));
    let s = Server::start_with(move |st| {
        let _ = serve_stream(&plane, st);
    });
    (s, host)
}

#[test]
fn stats_show_each_flows_queue_figures() {
    let (s, host) = server();
    ok(
        &s,
        &[
            "flow", "add", "-i", "eth0", "slow", "--rate", "120kbit", "--bucket", "1500", "--mode",
            "shape",
        ],
    );
    ok(&s, &["flow", "add", "-i", "eth0", "web"]);
    let flows: Value = json(&s, &["flow", "list", "-i", "eth0"]);
    let id = |name: &str| {
        flows
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["id"]
            .as_u64()
            .unwrap() as u32
    };
    let (slow, web) = (id("slow"), id("web"));
    host.with_scheduler(1, |sch, snap| {
        let (i, j) = (snap.index_of(slow).unwrap(), snap.index_of(web).unwrap());
        // One passes the bucket and leaves; 12 wait in the shaper.
        for n in 0..13 {
            sch.enqueue(0, Some(i), 1500, n).unwrap();
        }
        assert_eq!(sch.dequeue(0).map(|r| r.pkt), Some(0));
        sch.send_completed(1);
        // Each of `web`'s packets is alone in the sequencer.
        for n in 100..400 {
            sch.enqueue(0, Some(j), 100, n).unwrap();
            assert_eq!(sch.dequeue(0).map(|r| r.pkt), Some(n));
            sch.send_completed(1);
        }
    })
    .unwrap();
    let j = json(&s, &["stats", "-i", "eth0"]);
    let stats_of = |name: &str| {
        j[0]["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["stats"]
            .clone()
    };
    let sl = stats_of("slow");
    assert_eq!(sl["max_packets_in_shaper"], 12);
    // Samples 0 (the first, sent at once), then 1..=12.
    let avg = sl["average_packets_in_shaper"].as_u64().unwrap();
    assert!((2..12).contains(&avg), "{sl}");
    assert_eq!(sl["max_packets_in_sequencer"], 1);
    let w = stats_of("web");
    assert_eq!(w["max_packets_in_sequencer"], 1);
    assert_eq!(w["average_packets_in_sequencer"], 1, "{w}");
    assert_eq!(w["average_packets_in_shaper"], 0);
    // Netcard figures are per adapter, not per flow.
    assert!(w.get("max_packets_in_netcard").is_none(), "{w}");
    assert_eq!(j[0]["max_packets_in_netcard"], 1);
    assert!(j[0]["average_packets_in_netcard"].is_u64());
    assert_eq!(j[0]["max_packets_in_shaper"], 12);

    let t = ok(&s, &["stats", "-i", "eth0"]);
    assert!(
        t.contains("MAX-SHAPER  AVG-SHAPER  MAX-SEQ  AVG-SEQ"),
        "{t}"
    );
    let row = t.lines().find(|l| l.contains(" slow ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    // ID FLOW SENT-PKTS SENT-BYTES DROPPED NONCONF MAX-SHAPER AVG-SHAPER
    // MAX-SEQ AVG-SEQ RATE
    assert_eq!(cells[6..10], ["12", &avg.to_string(), "1", "0"], "{t}");
    let row = t.lines().find(|l| l.contains(" web ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[6..10], ["0", "0", "1", "1"], "{t}");
    assert!(t.contains("in netcard: max 1"), "{t}");
    assert!(
        t.contains("per-flow packets in netcard: not tracked"),
        "{t}"
    );

    let show = ok(&s, &["flow", "show", "-i", "eth0", "slow"]);
    assert!(show.contains("max_packets_in_shaper: 12"), "{show}");
    assert!(show.contains("average_packets_in_sequencer: "), "{show}");
    assert!(!show.contains("max_packets_in_netcard"), "{show}");
    assert!(
        show.contains("per-flow packets in netcard: not tracked"),
        "{show}"
    );
}
