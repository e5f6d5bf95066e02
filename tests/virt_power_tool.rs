// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power top` and `virt-power exporter` against libvirt's test driver
//! (`test:///default`: one running domain "test" without the energy group,
//! a simulated host for the node getter, no accounting), unreachable URIs,
//! bad listen addresses, and the HTTP endpoint over TCP.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::Duration;

use support::cmd::{text, vp};

const TEST_URI: &str = "test:///default";
const UNREACHABLE_URI: &str = "qemu+tcp://127.0.0.1:1/system";

#[test]
fn top_json_on_the_test_driver_says_accounting_is_off() {
    let out = vp()
        .args([
            "top",
            "-c",
            TEST_URI,
            "--count",
            "2",
            "--interval",
            "0.1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one JSON object per refresh: {stdout}");
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["uri"], TEST_URI);
        assert_eq!(v["accounting"]["enabled"], false, "{line}");
        assert!(v["interval_s"].as_f64().unwrap() > 0.05, "{line}");
        let zones = v["zones"].as_array().unwrap();
        assert!(zones.iter().any(|z| z["name"] == "package-0"), "{line}");
        assert!(zones.iter().all(|z| z["measured_uj"].is_null()), "{line}");
        // No accounting: no host/idle split, and power over the wall time.
        for key in ["host_uj", "idle_uj", "idle_power_uw", "host_w", "idle_w"] {
            assert!(zones.iter().all(|z| z[key].is_null()), "{key}: {line}");
        }
        assert!(v["ticks"].is_null() && v["accounted_s"].is_null(), "{line}");
        assert!(v["accounting"]["idle_policy"].is_null(), "{line}");
        assert!(v["host"]["host_w"].is_null(), "{line}");
        assert!(v["host"]["idle_w"].is_null(), "{line}");
        // A read-only connection gets no raw energy counter
        // (CVE-2020-8694), and without accounting there is nothing else.
        assert!(v["host"]["package_w"].is_null(), "{line}");
        assert!(zones.iter().all(|z| z["energy_uj"].is_null()), "{line}");
        let domains = v["domains"].as_array().unwrap();
        let test = domains.iter().find(|d| d["name"] == "test").expect(line);
        assert_eq!(test["energy"], false);
        assert_eq!(test["uuid"].as_str().unwrap().len(), 36);
    }
}

#[test]
fn top_text_without_a_terminal_has_no_escapes() {
    let out = vp()
        .args(["top", "-c", TEST_URI, "--count", "1", "--interval", "0.1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let t = String::from_utf8(out.stdout).unwrap();
    assert!(!t.contains('\x1b'), "{t:?}");
    assert!(t.contains("accounting: off"), "{t}");
    // No idle split: the older host line and zone columns.
    assert!(t.contains("host: package "), "{t}");
    assert!(t.contains(" W, unattributed - W\n"), "{t}");
    assert!(!t.contains("IDLE"), "{t}");
    assert!(t.lines().any(|l| l.starts_with("package-0 ")), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("test ") && l.contains("(no energy stats)")),
        "{t}"
    );
}

#[test]
fn exporter_once_exports_node_zones_without_accounting() {
    let out = vp()
        .args(["exporter", "-c", TEST_URI, "--once"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let t = String::from_utf8(out.stdout).unwrap();
    // The zones are read, but a read-only connection gets no raw energy
    // counter (CVE-2020-8694): without the daemon's accounting, no zone
    // energy series.
    assert!(!t.contains("virt_power_zone_energy_joules_total{"), "{t}");
    assert!(t.contains("\nvirt_power_node_rapl_up 1\n"), "{t}");
    assert!(t.contains("\nvirt_power_accounting_enabled 0\n"), "{t}");
    assert!(!t.contains("unattributed"), "{t}");
    assert!(!t.contains("virt_power_accounting_ticks_total"), "{t}");
    // No accounting: no host or idle families.
    assert!(!t.contains("idle"), "{t}");
    assert!(
        !t.contains("virt_power_zone_host_energy_joules_total"),
        "{t}"
    );
    // No energy group on the test driver: no domain series.
    assert!(!t.contains("virt_power_domain_"), "{t}");
}

#[test]
fn unreachable_uri_fails_naming_the_uri() {
    for args in [
        &["top", "-c", UNREACHABLE_URI, "--count", "1"][..],
        &["exporter", "-c", UNREACHABLE_URI, "--once"][..],
    ] {
        let out = vp().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!(
                "virt-power: cannot connect to '{UNREACHABLE_URI}': "
            )),
            "{args:?}: {err}"
        );
        assert_eq!(
            err.lines().count(),
            1,
            "libvirt must not print its own errors: {err}"
        );
    }
}

#[test]
fn bad_listen_address_fails_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for bad in [addr.as_str(), "127.0.0.1:notaport"] {
        let out = vp()
            .args(["exporter", "-c", TEST_URI, "--listen", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("virt-power: cannot listen on '{bad}': ")),
            "{err}"
        );
    }
}

/// The exporter child, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn exporter_serves_metrics_over_http() {
    let mut child = vp()
        .args(["exporter", "-c", TEST_URI, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut first = String::new();
    BufReader::new(stderr).read_line(&mut first).unwrap();
    // "virt-power exporter: serving http://127.0.0.1:PORT/metrics for URI"
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();

    let get = |path: &str| http(&addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
    let r = get("/metrics");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(
        r.contains("\r\nContent-Type: text/plain; version=0.0.4\r\n"),
        "{r}"
    );
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    assert!(body.contains("\nvirt_power_node_rapl_up 1\n"), "{body}");
    assert!(
        !body.contains("virt_power_zone_energy_joules_total{"),
        "read-only: no raw counter: {body}"
    );
    assert!(
        !body.contains("virt_power_zone_power_watts"),
        "no previous scrape yet: {body}"
    );

    // The second scrape reads libvirt again; still no raw counter, so no
    // power from the first either (tests/guests.rs checks the exporter
    // where the daemon's accounting runs).
    let r = get("/metrics?x=1");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains("\nvirt_power_node_rapl_up 1\n"), "{r}");
    assert!(!r.contains("virt_power_zone_power_watts{"), "{r}");

    let r = get("/");
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    let r = get("/metricsx");
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    let r = http(&addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
    let r = http(&addr, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
        "{r}"
    );
    let r = http(&addr, "garbage\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    drop(server);
}
