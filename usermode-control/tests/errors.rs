//! tcctl's error paths that need no real driver: nothing listening, a
//! driver of another ABI version, a driver that answers garbage, input
//! refused before anything is sent, usage errors.

#![cfg(unix)]

mod common;

use common::{Server, fake};
use predicates::prelude::*;

fn tcctl() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("tcctl").unwrap();
    c.env_remove("QOSLWF_DEVICE");
    c
}

#[test]
fn nothing_listening_says_driver_not_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let dev = format!("unix:{}", dir.path().join("none.sock").display());
    tcctl()
        .args(["--device", &dev, "interfaces"])
        .assert()
        .code(6)
        .stderr(predicate::str::starts_with(format!(
            "tcctl: error: driver not reachable at {dev}: "
        )))
        .stderr(predicate::str::contains("hint: start lwfhost"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn no_device_on_a_host_without_one_says_how_to_name_it() {
    tcctl()
        .args(["flow", "list"])
        .assert()
        .code(6)
        .stderr(predicate::str::contains("QOSLWF_DEVICE=unix:PATH"));
}

#[test]
fn device_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dev = format!("unix:{}", dir.path().join("env.sock").display());
    tcctl()
        .env("QOSLWF_DEVICE", &dev)
        .arg("interfaces")
        .assert()
        .code(6)
        .stderr(predicate::str::contains(&dev));
}

#[test]
fn bad_device_scheme() {
    tcctl()
        .args(["--device", "tcp:127.0.0.1:1", "interfaces"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("neither unix:PATH"));
}

#[test]
fn version_mismatch_names_both_versions() {
    let s = Server::start(fake::other_version(9));
    s.tcctl()
        .arg("interfaces")
        .assert()
        .code(8)
        .stderr(predicate::str::starts_with(
            "tcctl: error: ABI version mismatch: the driver speaks version 9, this tcctl speaks version 1",
        ))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn garbage_reply_is_reported_not_panicked_on() {
    let s = Server::start(fake::garbage());
    s.tcctl()
        .arg("interfaces")
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "tcctl: error: the driver sent a reply tcctl cannot read: interfaces:",
        ));
}

#[test]
fn bad_unit_is_refused_before_the_driver_is_looked_for() {
    tcctl()
        .args(["flow", "add", "web", "--rate", "10kb"])
        .assert()
        .code(3)
        .stderr(
            "tcctl: error: --rate: `10kb`: unknown unit `kb` (hint: `b` alone is ambiguous: write kbit/mbit for bits per second or kB/MiB for bytes)\n",
        );
    tcctl()
        .args(["flow", "add", "web", "--bucket", "8kbit"])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "tcctl: error: --bucket: `8kbit`: sizes are in bytes, not bits",
        ));
}

#[test]
fn bad_prefix_and_ports_are_refused_before_sending() {
    tcctl()
        .args(["filter", "add", "--flow", "x", "--src", "10.0.0.1/8"])
        .assert()
        .code(3)
        .stderr(
            "tcctl: error: --src: `10.0.0.1/8` has host bits set past /8 (hint: did you mean 10.0.0.0/8?)\n",
        );
    tcctl()
        .args(["filter", "add", "--flow", "x", "--dst", "2001:db8::/129"])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "tcctl: error: --dst: `2001:db8::/129`: prefix length must be 0..=128",
        ));
    tcctl()
        .args([
            "filter", "add", "--flow", "x", "-p", "tcp", "--dport", "90:80",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with(
            "tcctl: error: --dport: `90:80`: the low port must be <= the high port",
        ));
    tcctl()
        .args(["policy", "add", "p", "--dport", "80", "--dscp", "46"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "--dport: a port condition needs protocol",
        ));
}

#[test]
fn broken_config_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "[[adapter]]\nadapter = \"eth0\"\n\n[[adapter.flow]]\nname = \"x\"\nrat = 5\n",
    )
    .unwrap();
    tcctl()
        .args(["apply", p.to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "bad.toml:6:1: unknown field `rat`",
        ));
    tcctl()
        .args(["apply", dir.path().join("missing.toml").to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("missing.toml: cannot read"));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    tcctl().args(["flow", "frobnicate"]).assert().code(2);
    tcctl().args(["flow", "add"]).assert().code(2);
    tcctl()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("IP-layer bytes"))
        .stdout(predicate::str::contains("8  ABI version mismatch"));
    tcctl()
        .args(["flow", "add", "--help"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--rate"));
    tcctl()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("tcctl "));
}

#[test]
fn an_older_driver_that_does_not_know_the_code() {
    let s = Server::start(fake::bare_status(0xC000_0010));
    s.tcctl()
        .arg("interfaces")
        .assert()
        .code(8)
        .stderr(predicate::str::starts_with(
            "tcctl: error: the driver refused the `enum-adapters` request as unknown (IOCTL 0x80516004, STATUS_INVALID_DEVICE_REQUEST)",
        ));
}

#[test]
fn access_denied_says_run_as_administrator() {
    let s = Server::start(fake::bare_status(0xC000_0022));
    s.tcctl()
        .args(["flow", "list"])
        .assert()
        .code(7)
        .stderr(predicate::str::starts_with(
            "tcctl: error: access denied: run as administrator",
        ));
}

#[test]
fn a_file_without_adapters_is_refused() {
    let s = Server::start(fake::garbage());
    let p = s.file("empty.toml", "# nothing\n");
    s.tcctl()
        .args(["apply", p.to_str().unwrap()])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("has no [[adapter]] section"));
}
