//! tcctl end to end against the real control plane: qos-control's
//! `ControlPlane` over memhost's in-memory adapters, behind a Unix socket
//! served in this process with `qos_proto::transport` framing.

#![cfg(unix)]

mod common;

use common::{Server, json, ok};
use predicates::prelude::*;
use serde_json::Value;

/// Runs tcctl, expects exit `code`, returns standard error.
fn fails(s: &Server, args: &[&str], code: i32) -> String {
    let out = s.tcctl().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "tcctl {args:?}: stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("tcctl: error: "), "{err}");
    err
}

#[test]
fn interfaces_lists_adapters_as_text_and_json() {
    let s = Server::two_adapters();
    let t = ok(&s, &["interfaces"]);
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[0].starts_with("INDEX  NAME   FRIENDLY NAME  GUID"),
        "{t}"
    );
    assert!(lines[1].starts_with("1      eth0   Ethernet"), "{t}");
    assert!(lines[2].starts_with("2      wwan0  Cellular"), "{t}");
    assert!(
        lines[1].contains("1gbit") && lines[2].contains("50mbit"),
        "{t}"
    );
    let j = json(&s, &["interfaces"]);
    let a = j.as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["index"], 1);
    assert_eq!(a[0]["name"], "eth0");
    assert_eq!(a[1]["friendly_name"], "Cellular");
    assert_eq!(a[1]["link_speed_bps"], 50_000_000);
    assert_eq!(a[0]["state"], "running");
    assert_eq!(a[0]["guid"], "{01010101-0101-0101-0101-010101010101}");
}

#[test]
fn adapters_are_named_by_name_friendly_name_guid_or_index() {
    let s = Server::two_adapters();
    ok(&s, &["flow", "add", "-i", "eth0", "a"]);
    ok(&s, &["flow", "add", "-i", "Cellular", "b"]);
    ok(
        &s,
        &[
            "flow",
            "add",
            "-i",
            "{02020202-0202-0202-0202-020202020202}",
            "c",
        ],
    );
    ok(
        &s,
        &[
            "flow",
            "add",
            "-i",
            "01010101-0101-0101-0101-010101010101",
            "d",
        ],
    );
    ok(&s, &["flow", "add", "-i", "2", "e"]);
    let names = |i: &str| -> Vec<String> {
        json(&s, &["flow", "list", "-i", i])
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("1"), ["a", "d"]);
    assert_eq!(names("wwan0"), ["b", "c", "e"]);
    // Without -i, listings cover every adapter and show which.
    let t = ok(&s, &["flow", "list"]);
    assert!(t.starts_with("ADAPTER  ID  NAME"), "{t}");
    assert_eq!(t.lines().count(), 6);
}

#[test]
fn unknown_adapter_is_not_found() {
    let s = Server::two_adapters();
    let e = fails(&s, &["flow", "add", "-i", "eth9", "web"], 5);
    assert_eq!(
        e,
        "tcctl: error: unknown adapter `eth9` (hint: adapters are: 1 (Ethernet), 2 (Cellular); see tcctl interfaces)\n"
    );
    // Several adapters and no -i: say so, list them.
    let e = fails(&s, &["flow", "add", "web"], 3);
    assert!(e.contains("several adapters: name one with -i"), "{e}");
    assert!(e.contains("1 (Ethernet), 2 (Cellular)"), "{e}");
}

#[test]
fn one_adapter_needs_no_name() {
    let s = Server::one_adapter();
    let out = ok(&s, &["flow", "add", "web", "--dscp", "46"]);
    assert_eq!(out, "added flow 1 \"web\" on Ethernet\n");
    let j = json(&s, &["flow", "list"]);
    assert_eq!(j[0]["adapter"], 7);
}

#[test]
fn flow_add_set_show_list_del() {
    let s = Server::two_adapters();
    let j = json(
        &s,
        &[
            "flow",
            "add",
            "-i",
            "eth0",
            "video",
            "-t",
            "controlled-load",
            "--rate",
            "10mbit",
            "--peak",
            "20mbit",
            "--bucket",
            "64KiB",
            "--max-sdu",
            "1500",
            "--min-policed",
            "64",
            "--mode",
            "borrow",
            "--dscp",
            "34",
            "--pcp",
            "4",
        ],
    );
    assert_eq!(j["id"], 1);
    let list = json(&s, &["flow", "list", "-i", "eth0"]);
    let f = &list[0];
    assert_eq!(f["name"], "video");
    assert_eq!(f["service_type"], "controlled-load");
    assert_eq!(f["rate"], 1_250_000);
    assert_eq!(f["peak"], 2_500_000);
    assert_eq!(f["bucket"], 65_536);
    assert_eq!(f["max_sdu"], 1500);
    assert_eq!(f["min_policed"], 64);
    assert_eq!(f["mode"], "borrow");
    assert_eq!(f["dscp"], 34);
    assert_eq!(f["pcp"], 4);

    let t = ok(&s, &["flow", "list", "-i", "eth0"]);
    assert_eq!(
        t,
        "ID  NAME   SERVICE          RATE    BUCKET  PEAK    MODE    DSCP  PCP  FILTERS  POLICY\n\
         1   video  controlled-load  10mbit  64KiB   20mbit  borrow  34    4    0        -\n"
    );

    // set: only the given fields change; `none` clears.
    ok(
        &s,
        &[
            "flow", "set", "-i", "eth0", "video", "--rate", "1.5mbit", "--peak", "none",
            "--rename", "vid",
        ],
    );
    let f = &json(&s, &["flow", "list", "-i", "eth0"])[0];
    assert_eq!(f["name"], "vid");
    assert_eq!(f["rate"], 187_500);
    assert_eq!(f["peak"], Value::Null);
    assert_eq!(f["dscp"], 34);
    // by id too
    ok(&s, &["flow", "set", "-i", "eth0", "1", "--dscp", "none"]);
    assert_eq!(
        json(&s, &["flow", "list", "-i", "eth0"])[0]["dscp"],
        Value::Null
    );

    let show = ok(&s, &["flow", "show", "-i", "eth0", "vid"]);
    assert!(
        show.starts_with(
            "flow 1 on Ethernet\n  name: vid\n  service_type: controlled-load\n  rate: 1.5mbit\n"
        ),
        "{show}"
    );
    assert!(show.contains("statistics:\n  "), "{show}");
    let sj = json(&s, &["flow", "show", "-i", "eth0", "vid"]);
    assert_eq!(sj["stats"]["packets_transmitted"], 0);
    assert_eq!(sj["rate"], 187_500);

    let e = fails(&s, &["flow", "show", "-i", "eth0", "nope"], 5);
    assert!(e.contains("no flow `nope` on adapter Ethernet"), "{e}");

    ok(&s, &["flow", "del", "-i", "eth0", "vid"]);
    assert_eq!(
        json(&s, &["flow", "list", "-i", "eth0"]),
        Value::Array(vec![])
    );
}

#[test]
fn peak_below_rate_names_the_field() {
    let s = Server::two_adapters();
    let e = fails(
        &s,
        &[
            "flow",
            "add",
            "-i",
            "eth0",
            "x",
            "-t",
            "guaranteed",
            "--rate",
            "10mbit",
            "--peak",
            "1mbit",
        ],
        4,
    );
    assert!(
        e.starts_with("tcctl: error: flow add: flow \"x\" (id 1): field `peak` must be >= rate"),
        "{e}"
    );
    assert!(e.contains("ERROR_INVALID_PEAK_RATE, TC error 7504"), "{e}");
    assert!(e.contains("hint: raise --peak"), "{e}");
    // Nothing was added.
    assert_eq!(
        json(&s, &["flow", "list", "-i", "eth0"]),
        Value::Array(vec![])
    );
    // The driver's other rules come back the same way.
    let e = fails(
        &s,
        &["flow", "add", "-i", "eth0", "g", "-t", "guaranteed"],
        4,
    );
    assert!(
        e.contains("field `rate`") && e.contains("TC error 7503"),
        "{e}"
    );
}

#[test]
fn bad_unit_and_bad_prefix_against_a_live_driver() {
    let s = Server::two_adapters();
    let e = fails(&s, &["flow", "add", "-i", "eth0", "x", "--rate", "10kb"], 3);
    assert!(
        e.starts_with("tcctl: error: --rate: `10kb`: unknown unit `kb`"),
        "{e}"
    );
    let e = fails(&s, &["flow", "add", "-i", "eth0", "x", "--rate", "0.1"], 3);
    assert_eq!(
        e,
        "tcctl: error: --rate: `0.1` rounds to 0 (the smallest rate is 1 byte/s = 8bit)\n"
    );
    ok(&s, &["flow", "add", "-i", "eth0", "web"]);
    let e = fails(
        &s,
        &[
            "filter",
            "add",
            "-i",
            "eth0",
            "--flow",
            "web",
            "--dst",
            "192.168.1.1/24",
        ],
        3,
    );
    assert!(e.contains("did you mean 192.168.1.0/24?"), "{e}");
    let e = fails(
        &s,
        &[
            "filter",
            "add",
            "-i",
            "eth0",
            "--flow",
            "web",
            "--src",
            "fe80::1%eth0",
        ],
        3,
    );
    assert!(e.contains("is not an IPv4 or IPv6 address"), "{e}");
    assert_eq!(
        json(&s, &["filter", "list", "-i", "eth0"]),
        Value::Array(vec![])
    );
}

#[test]
fn filters_add_list_del_and_the_flow_they_hold() {
    let s = Server::two_adapters();
    ok(&s, &["flow", "add", "-i", "eth0", "web", "--dscp", "46"]);
    // No family, no prefix: one filter per family.
    let out = ok(
        &s,
        &[
            "filter", "add", "-i", "eth0", "--flow", "web", "-p", "tcp", "--dport", "80",
        ],
    );
    assert_eq!(
        out,
        "added filter 1 (ipv4) -> flow web on Ethernet\nadded filter 2 (ipv6) -> flow web on Ethernet\n"
    );
    let j = json(
        &s,
        &[
            "filter",
            "add",
            "-i",
            "eth0",
            "--flow",
            "web",
            "-p",
            "udp",
            "--src",
            "10.0.0.0/8",
            "--dst",
            "192.0.2.7",
            "--sport",
            "1024:65535",
            "--dport",
            "5000:5100",
            "--precedence",
            "200",
            "--inbound-dscp",
            "10",
            "--vlan",
            "5",
        ],
    );
    assert_eq!(j["ids"], serde_json::json!([3]));
    let list = json(&s, &["filter", "list", "-i", "eth0"]);
    let a = list.as_array().unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(a[0]["family"], "ipv4");
    assert_eq!(a[0]["protocol"], "tcp");
    assert_eq!(a[0]["dport"], "80");
    assert_eq!(a[0]["flow_name"], "web");
    assert_eq!(a[1]["family"], "ipv6");
    assert_eq!(a[2]["src"], "10.0.0.0/8");
    assert_eq!(a[2]["dst"], "192.0.2.7/32");
    assert_eq!(a[2]["sport"], "1024:65535");
    assert_eq!(a[2]["dport"], "5000:5100");
    assert_eq!(a[2]["precedence"], 200);
    assert_eq!(a[2]["inbound_dscp"], 10);
    assert_eq!(a[2]["vlan"], 5);
    let t = ok(&s, &["filter", "list", "-i", "eth0", "--flow", "web"]);
    assert!(t.starts_with("ID  FLOW  FAMILY  PROTO  SRC"), "{t}");
    assert_eq!(t.lines().count(), 4);

    // A flow that still has filters cannot go.
    let e = fails(&s, &["flow", "del", "-i", "eth0", "web"], 4);
    assert_eq!(
        e,
        "tcctl: error: flow del: flow \"web\" (id 1): field `flow` still has filters; delete them first \
         (ERROR_TC_SUPPORTED_OBJECTS_EXIST, TC error 7512); hint: `tcctl filter list --flow FLOW` shows them, \
         `tcctl filter del ID` removes one\n"
    );
    assert_eq!(json(&s, &["flow", "list", "-i", "eth0"])[0]["filters"], 3);

    for id in ["1", "2", "3"] {
        ok(&s, &["filter", "del", "-i", "eth0", id]);
    }
    let e = fails(&s, &["filter", "del", "-i", "eth0", "3"], 5);
    assert!(e.contains("UNKNOWN_FILTER"), "{e}");
    ok(&s, &["flow", "del", "-i", "eth0", "web"]);
}

#[test]
fn the_port_80_example_as_a_policy() {
    let s = Server::one_adapter();
    assert_eq!(
        ok(
            &s,
            &[
                "policy",
                "add",
                "web",
                "--protocol",
                "tcp",
                "--dport",
                "80",
                "--dscp",
                "46"
            ]
        ),
        "added policy 1 \"web\" on Ethernet\n"
    );
    let p = &json(&s, &["policy", "list"])[0];
    assert_eq!(p["name"], "web");
    assert_eq!(p["protocol"], "tcp");
    assert_eq!(p["family"], "both");
    assert_eq!(p["dport"], "80");
    assert_eq!(p["dscp"], 46);
    assert_eq!(p["precedence"], 127);
    // The policy's own flow and filters exist in the driver.
    let flows = json(&s, &["flow", "list"]);
    assert!(
        flows.as_array().unwrap().iter().any(|f| f["policy"] == 1),
        "{flows}"
    );
}

#[test]
fn policies_add_list_del() {
    let s = Server::two_adapters();
    ok(
        &s,
        &[
            "policy",
            "add",
            "-i",
            "eth0",
            "backup",
            "-p",
            "tcp",
            "--dst",
            "2001:db8::/32",
            "--sport",
            "873",
            "--throttle",
            "50mbit",
            "--pcp",
            "1",
            "--precedence",
            "10",
        ],
    );
    ok(
        &s,
        &[
            "policy",
            "add",
            "-i",
            "eth0",
            "voice",
            "-p",
            "udp",
            "--dport",
            "5060:5070",
            "--dscp",
            "46",
        ],
    );
    let t = ok(&s, &["policy", "list", "-i", "eth0"]);
    assert!(t.starts_with("ID  NAME    PROTO  FAMILY  SRC  DST            SPORT  DPORT      DSCP  PCP  THROTTLE  PREC\n"), "{t}");
    assert!(t.contains("1   backup  tcp    ipv6    -    2001:db8::/32  873    -          -     1    50mbit    10"), "{t}");
    let j = json(&s, &["policy", "list", "-i", "eth0"]);
    assert_eq!(j[0]["throttle_bps"], 50_000_000);
    assert_eq!(j[0]["dst"], "2001:db8::/32");
    assert_eq!(j[1]["dport"], "5060:5070");
    let e = fails(
        &s,
        &[
            "policy", "add", "-i", "eth0", "voice", "-p", "udp", "--dscp", "1",
        ],
        4,
    );
    assert!(e.contains("DUPLICATE_NAME"), "{e}");
    ok(&s, &["policy", "del", "-i", "eth0", "backup"]);
    ok(&s, &["policy", "del", "-i", "eth0", "2"]);
    assert_eq!(
        json(&s, &["policy", "list", "-i", "eth0"]),
        Value::Array(vec![])
    );
    let e = fails(&s, &["policy", "del", "-i", "eth0", "voice"], 5);
    assert!(e.contains("no policy `voice`"), "{e}");
}

#[test]
fn map_show_and_set() {
    let s = Server::two_adapters();
    let t = ok(&s, &["map", "show", "-i", "eth0"]);
    assert_eq!(
        t,
        "adapter 1 (Ethernet):\n\
         SERVICE          DSCP  NC-DSCP  PCP\n\
         best-effort      0     0        0\n\
         controlled-load  24    0        4\n\
         guaranteed       40    0        5\n\
         network-control  48    0        7\n\
         qualitative      0     0        0\n\
         non-conforming   -     -        1\n"
    );
    ok(
        &s,
        &[
            "map",
            "set",
            "-i",
            "eth0",
            "guaranteed.dscp=46",
            "controlled_load.pcp=3",
            "nonconforming.pcp=0",
        ],
    );
    let j = json(&s, &["map", "show", "-i", "eth0"]);
    assert_eq!(j[0]["map"]["guaranteed"]["dscp"], 46);
    assert_eq!(j[0]["map"]["controlled_load"]["pcp"], 3);
    assert_eq!(j[0]["map"]["nonconforming"]["pcp"], 0);
    // The other adapter kept the defaults.
    assert_eq!(
        json(&s, &["map", "show", "-i", "wwan0"])[0]["map"]["guaranteed"]["dscp"],
        40
    );
    let e = fails(&s, &["map", "set", "-i", "eth0", "guaranteed.dscp=64"], 3);
    assert_eq!(
        e,
        "tcctl: error: guaranteed.dscp: `64` must be a whole number 0..=63\n"
    );
    fails(&s, &["map", "set", "-i", "eth0", "guaranteed.dscp"], 3);
    ok(&s, &["map", "set", "-i", "eth0", "--defaults"]);
    assert_eq!(
        json(&s, &["map", "show", "-i", "eth0"])[0]["map"]["guaranteed"]["dscp"],
        40
    );
}

#[test]
fn options_show_and_set() {
    let s = Server::two_adapters();
    let before = json(&s, &["options", "show", "-i", "eth0"]);
    ok(
        &s,
        &[
            "options",
            "set",
            "-i",
            "eth0",
            "admission_share=50",
            "queue_bytes=2MiB",
            "marking_override=ignore",
        ],
    );
    let after = json(&s, &["options", "show", "-i", "eth0"]);
    assert_eq!(after[0]["admission_share"], 50);
    assert_eq!(after[0]["queue_bytes"], 2 << 20);
    assert_eq!(after[0]["marking_override"], 1);
    assert_eq!(after[0]["queue_packets"], before[0]["queue_packets"]);
    let t = ok(&s, &["options", "show", "-i", "eth0"]);
    assert!(
        t.contains("  admission_share = 50\n") && t.contains("  queue_bytes = \"2MiB\"\n"),
        "{t}"
    );
    let e = fails(
        &s,
        &["options", "set", "-i", "eth0", "admission_share=101"],
        3,
    );
    assert!(
        e.contains("admission_share: `101` must be a whole number 0..=100"),
        "{e}"
    );
    fails(&s, &["options", "set", "-i", "eth0", "bogus=1"], 3);
}

#[test]
fn stats_once_and_watching() {
    let s = Server::two_adapters();
    ok(&s, &["flow", "add", "-i", "eth0", "web", "--rate", "1mbit"]);
    let t = ok(&s, &["stats", "-i", "eth0"]);
    assert!(
        t.starts_with("adapter 1 (Ethernet): sent 0 pkts / 0 B"),
        "{t}"
    );
    assert!(t.contains("ID  FLOW  SENT-PKTS"), "{t}");
    let j = json(&s, &["stats", "-i", "eth0"]);
    assert_eq!(j[0]["adapter"], 1);
    assert_eq!(j[0]["flows"][0]["name"], "web");
    assert_eq!(j[0]["flows"][0]["stats"]["bytes_transmitted"], 0);
    // --watch prints --count samples; the second has a rate column.
    let w = ok(
        &s,
        &[
            "stats",
            "-i",
            "eth0",
            "--watch",
            "--interval",
            "0.05",
            "--count",
            "3",
        ],
    );
    assert_eq!(w.matches("adapter 1 (Ethernet)").count(), 3, "{w}");
    assert!(w.contains("0bit"), "rates since the previous sample: {w}");
    let wj = ok(
        &s,
        &[
            "stats",
            "--watch",
            "--interval",
            "0.01",
            "--count",
            "2",
            "--json",
        ],
    );
    let lines: Vec<Value> = wj
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].as_array().unwrap().len(), 2, "both adapters");
    let e = fails(&s, &["stats", "--interval", "0", "--watch"], 3);
    assert!(e.contains("--interval"), "{e}");
    let only = json(&s, &["stats", "-i", "eth0", "--flow", "web"]);
    assert_eq!(only[0]["flows"].as_array().unwrap().len(), 1);
}

#[test]
fn version_shows_both_sides() {
    let s = Server::two_adapters();
    let t = ok(&s, &["version"]);
    assert!(
        t.starts_with(&format!(
            "tcctl {} (ABI 1)\ndriver ",
            env!("CARGO_PKG_VERSION")
        )),
        "{t}"
    );
    let j = json(&s, &["version"]);
    assert_eq!(j["driver_abi_version"], 1);
    assert!(j["max_flows"].as_u64().unwrap() > 0);
}

const CONFIG: &str = r#"
[[adapter]]
adapter = "Ethernet"

[adapter.options]
admission_share = 40

[adapter.map]
guaranteed = { dscp = 46 }

[[adapter.flow]]
name = "voice"
service_type = "guaranteed"
rate = "1mbit"
mode = "shape"
dscp = 46
pcp = 6

[[adapter.flow]]
name = "bulk"
rate = "20mbit"
bucket = "64KiB"
mode = "shape"

[[adapter.filter]]
flow = "voice"
protocol = "udp"
dport = 7000

[[adapter.filter]]
flow = "bulk"
protocol = "tcp"
dst = "2001:db8::/32"
dport = "5000:5100"

[[adapter.policy]]
name = "web"
protocol = "tcp"
dport = 80
dscp = 26

[[adapter]]
adapter = 2

[[adapter.flow]]
name = "lte"
rate = "5mbit"
"#;

#[test]
fn apply_then_export_round_trips() {
    let s = Server::two_adapters();
    let cfg = s.file("qos.toml", CONFIG);
    let out = ok(&s, &["apply", cfg.to_str().unwrap()]);
    assert!(out.starts_with("adapter 1 (Ethernet): "), "{out}");
    assert!(
        out.contains("+ flow \"voice\" (id 1): service_type=guaranteed rate=1mbit"),
        "{out}"
    );
    let flows = json(&s, &["flow", "list", "-i", "eth0"]);
    let user: Vec<&Value> = flows
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"].is_null())
        .collect();
    assert_eq!(user.len(), 2);
    assert_eq!(
        json(&s, &["filter", "list", "-i", "eth0"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"].as_u64().unwrap() < 0x8000_0000)
            .count(),
        3
    );
    assert_eq!(json(&s, &["flow", "list", "-i", "wwan0"])[0]["name"], "lte");

    // export -> apply -> export is identical, and the re-apply changes nothing.
    let first = ok(&s, &["export"]);
    assert!(first.contains("adapter = \"eth0\""), "{first}");
    let exported = s.file("exported.toml", &first);
    let again = ok(&s, &["apply", exported.to_str().unwrap()]);
    assert_eq!(
        again,
        "adapter 1 (Ethernet): no changes\nadapter 2 (Cellular): no changes\n"
    );
    assert_eq!(ok(&s, &["export"]), first);

    // The export rebuilds the same configuration on a fresh driver.
    let fresh = Server::two_adapters();
    ok(&fresh, &["apply", exported.to_str().unwrap()]);
    assert_eq!(ok(&fresh, &["export"]), first);

    // Applying the original file again changes nothing either.
    let same = ok(&s, &["apply", cfg.to_str().unwrap()]);
    assert!(
        !same.contains(" + ") && !same.contains(" - ") && !same.contains(" ~ "),
        "{same}"
    );
}

#[test]
fn export_of_cli_built_state_applies_back_unchanged() {
    let s = Server::two_adapters();
    ok(
        &s,
        &[
            "flow",
            "add",
            "-i",
            "eth0",
            "web",
            "--dscp",
            "46",
            "--rate",
            "1.5gbit",
            "--peak",
            "2gbit",
            "--shaping",
            "shape-and-mark",
        ],
    );
    ok(
        &s,
        &["flow", "add", "-i", "eth0", "", "-t", "network-control"],
    );
    ok(
        &s,
        &[
            "filter", "add", "-i", "eth0", "--flow", "web", "-p", "tcp", "--dport", "80",
        ],
    );
    ok(
        &s,
        &[
            "filter",
            "add",
            "-i",
            "eth0",
            "--flow",
            "2",
            "-p",
            "icmp",
            "--family",
            "ipv6",
            "--precedence",
            "255",
        ],
    );
    ok(
        &s,
        &[
            "policy",
            "add",
            "-i",
            "wwan0",
            "p",
            "-p",
            "both",
            "--src",
            "10.1.0.0/16",
            "--throttle",
            "1.5mbit",
        ],
    );
    ok(
        &s,
        &[
            "map",
            "set",
            "-i",
            "wwan0",
            "best_effort.nonconforming_dscp=8",
        ],
    );
    let first = ok(&s, &["export"]);
    let f = s.file("x.toml", &first);
    let fresh = Server::two_adapters();
    ok(&fresh, &["apply", f.to_str().unwrap()]);
    assert_eq!(ok(&fresh, &["export"]), first);
    let dry = ok(&fresh, &["apply", "--dry-run", f.to_str().unwrap()]);
    assert!(dry.contains("adapter 1 (Ethernet): no changes"), "{dry}");
}

#[test]
fn dry_run_prints_the_diff_and_sends_nothing() {
    let s = Server::two_adapters();
    ok(&s, &["flow", "add", "-i", "eth0", "old", "--rate", "1mbit"]);
    ok(
        &s,
        &["flow", "add", "-i", "eth0", "bulk", "--rate", "10mbit"],
    );
    ok(
        &s,
        &[
            "filter", "add", "-i", "eth0", "--flow", "old", "-p", "tcp", "--dport", "22",
            "--family", "ipv4",
        ],
    );
    let before = ok(&s, &["export"]);
    let cfg = s.file("qos.toml", CONFIG);
    let out = ok(&s, &["apply", "--dry-run", cfg.to_str().unwrap()]);
    let want = [
        "adapter 1 (Ethernet): ",
        "  ~ options: admission_share ",
        "  ~ map: guaranteed.dscp 40 -> 46",
        "  - filter 1 -> flow \"old\": family=ipv4 protocol=tcp dport=22 precedence=127",
        "  - flow \"old\" (id 1)",
        "  ~ flow \"bulk\" (id 2): bucket 12500B -> 64KiB, mode (none) -> shape, rate 10mbit -> 20mbit",
        "  + flow \"voice\" (id 3): service_type=guaranteed rate=1mbit bucket=1500B mode=shape dscp=46 pcp=6",
        "  + filter -> flow \"voice\": family=ipv4 protocol=udp dport=7000 precedence=127",
        "  + filter -> flow \"voice\": family=ipv6 protocol=udp dport=7000 precedence=127",
        "  + filter -> flow \"bulk\": family=ipv6 protocol=tcp dst=2001:db8::/32 dport=5000:5100 precedence=127",
        "  + policy \"web\": protocol=tcp family=both dport=80 dscp=26 precedence=127",
        "adapter 2 (Cellular): 1 change(s)",
        "  + flow \"lte\" (id 1): service_type=best-effort rate=5mbit bucket=6250B",
        "dry run: nothing was sent",
    ];
    for w in want {
        assert!(out.contains(w), "missing `{w}` in:\n{out}");
    }
    assert_eq!(ok(&s, &["export"]), before, "dry run changed nothing");
    let j = json(&s, &["apply", "--dry-run", cfg.to_str().unwrap()]);
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["adapters"][1]["changes"].as_array().unwrap().len(), 1);
}

#[test]
fn apply_checks_the_whole_file_before_sending() {
    let s = Server::two_adapters();
    ok(&s, &["flow", "add", "-i", "eth0", "keep"]);
    let before = ok(&s, &["export"]);
    // The second adapter's section is wrong: nothing is sent, not even
    // the first adapter's.
    let bad = CONFIG.replace("rate = \"5mbit\"", "rate = \"5 furlongs\"");
    let f = s.file("bad.toml", &bad);
    let e = fails(&s, &["apply", f.to_str().unwrap()], 3);
    assert!(
        e.contains("bad.toml: adapter \"2\" flow \"lte\": rate: `5 furlongs`: unknown unit"),
        "{e}"
    );
    assert_eq!(ok(&s, &["export"]), before);
    // A filter naming a flow the file does not have.
    let bad = CONFIG.replace("flow = \"bulk\"", "flow = \"blk\"");
    let f = s.file("bad2.toml", &bad);
    let e = fails(&s, &["apply", f.to_str().unwrap()], 3);
    assert!(e.contains("filter #2: flow: `blk` names no flow"), "{e}");
    // An adapter that does not exist.
    let bad = CONFIG.replace("adapter = 2", "adapter = \"eth7\"");
    let f = s.file("bad3.toml", &bad);
    let e = fails(&s, &["apply", f.to_str().unwrap()], 5);
    assert!(
        e.contains("adapter section #2: unknown adapter `eth7`"),
        "{e}"
    );
    assert_eq!(ok(&s, &["export"]), before);
}

#[test]
fn a_driver_refusal_in_apply_restores_earlier_adapters() {
    let s = Server::two_adapters();
    let before = ok(&s, &["export"]);
    // peak < rate on the second adapter: the driver refuses it after the
    // first adapter was applied; the first is put back.
    let bad = CONFIG.replace("rate = \"5mbit\"", "rate = \"5mbit\"\npeak = \"1mbit\"");
    let f = s.file("bad.toml", &bad);
    let e = fails(&s, &["apply", f.to_str().unwrap()], 4);
    assert!(e.contains("field `peak` must be >= rate"), "{e}");
    assert!(e.contains("adapters 1 were restored"), "{e}");
    assert_eq!(ok(&s, &["export"]), before);
}

#[test]
fn json_everywhere_parses() {
    let s = Server::two_adapters();
    let cfg = s.file("qos.toml", CONFIG);
    ok(&s, &["apply", cfg.to_str().unwrap()]);
    for args in [
        &["interfaces"][..],
        &["flow", "list"],
        &["flow", "show", "-i", "eth0", "voice"],
        &["filter", "list"],
        &["policy", "list"],
        &["map", "show"],
        &["options", "show"],
        &["stats"],
        &["version"],
        &["apply", "--dry-run", cfg.to_str().unwrap()],
    ] {
        let v = json(&s, args);
        assert!(v.is_array() || v.is_object(), "{args:?}: {v}");
    }
    s.tcctl()
        .args(["filter", "list", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"flow_name\": \"voice\""));
}

#[test]
fn apply_reads_standard_input_and_export_takes_one_adapter() {
    let s = Server::two_adapters();
    s.tcctl()
        .args(["apply", "-"])
        .write_stdin(CONFIG)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "adapter 2 (Cellular): 1 change(s)",
        ));
    let one = ok(&s, &["export", "-i", "wwan0"]);
    assert!(one.contains("adapter = \"wwan0\""), "{one}");
    assert!(!one.contains("adapter = \"eth0\""), "{one}");
    assert!(
        one.contains(
            "name = \"lte\"\nservice_type = \"best-effort\"\nrate = \"5mbit\"\nbucket = \"6250B\"\n"
        ),
        "{one}"
    );
}

#[test]
fn long_listings_are_paged() {
    let s = Server::one_adapter();
    let mut cfg =
        String::from("[[adapter]]\nadapter = \"eth0\"\n\n[[adapter.flow]]\nname = \"many\"\n");
    for i in 0..2500u32 {
        cfg.push_str(&format!(
            "\n[[adapter.filter]]\nflow = \"many\"\nprotocol = \"udp\"\ndst = \"10.{}.{}.0/24\"\ndport = {}\n",
            i / 256,
            i % 256,
            1000 + i
        ));
    }
    let f = s.file("many.toml", &cfg);
    ok(&s, &["apply", f.to_str().unwrap()]);
    let list = json(&s, &["filter", "list"]);
    let a = list.as_array().unwrap();
    assert_eq!(a.len(), 2500, "every page was read");
    assert_eq!(a[2499]["dport"], "3499");
    let ids: Vec<u64> = a.iter().map(|f| f["id"].as_u64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "pages in id order, no repeats"
    );
    let first = ok(&s, &["export"]);
    let again = s.file("again.toml", &first);
    assert_eq!(
        ok(&s, &["apply", again.to_str().unwrap()]),
        "adapter 7 (Ethernet): no changes\n"
    );
}
