// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power top`: per-VM and host power, refreshed every interval, from
//! the energy counters of any libvirt URI.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::libvirt::{self, Connect};
use crate::metrics::{Accounting, DomainPower, IdlePolicy, NodeSample, NodeZone, Power, Sample};

#[derive(Args)]
pub struct TopArgs {
    /// libvirt URI (default: libvirt's default, e.g. $LIBVIRT_DEFAULT_URI)
    #[arg(short = 'c', long = "connect", value_name = "URI")]
    pub uri: Option<String>,
    /// Seconds between refreshes (fractions allowed)
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_interval)]
    pub interval: Duration,
    /// Stop after N refreshes (default: run until interrupted)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// One JSON object per refresh, one per line
    #[arg(long)]
    pub json: bool,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("'{s}': the interval must be greater than 0"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("'{s}': {e}"))
}

#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error(transparent)]
    Libvirt(#[from] libvirt::Error),
    #[error("writing to stdout: {0}")]
    Output(#[source] io::Error),
}

/// Clear the screen and home the cursor.
const CLEAR: &str = "\x1b[H\x1b[2J";

pub fn run(args: &TopArgs) -> Result<(), TopError> {
    let conn = Connect::open_read_only(args.uri.as_deref())?;
    let clear = !args.json && io::stdout().is_terminal();
    let mut prev = libvirt::take_sample(&conn)?;
    let mut done = 0u64;
    while args.count.is_none_or(|n| done < n) {
        std::thread::sleep(args.interval);
        let cur = libvirt::take_sample(&conn)?;
        let power = crate::metrics::power(&prev, &cur);
        let mut text = if args.json {
            let mut line = to_json(conn.uri(), &cur, &power).to_string();
            line.push('\n');
            line
        } else {
            render_text(conn.uri(), &cur, &power)
        };
        if clear {
            text.insert_str(0, CLEAR);
        }
        let mut out = io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => {}
            // A closed pipe (`| head`) ends the tool quietly.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(TopError::Output(e)),
        }
        prev = cur;
        done += 1;
    }
    Ok(())
}

fn fmt_w(w: Option<f64>) -> String {
    w.map_or_else(|| "-".to_string(), |w| format!("{w:.2}"))
}

/// The interval the watts are over: the wall time, and the accounting
/// ticks when they advanced.
fn fmt_interval(p: &Power) -> String {
    match (p.ticks, p.accounted_s) {
        (Some(t), Some(a)) => format!(
            "interval {:.2} s, power over {t} accounting tick{} = {a:.2} s",
            p.interval_s,
            if t == 1 { "" } else { "s" }
        ),
        _ => format!("interval {:.2} s", p.interval_s),
    }
}

/// The daemon keeps idle energy apart from the host's active energy.
fn splits_idle(n: &NodeSample) -> bool {
    n.zones.iter().any(|z| z.splits_idle())
}

/// The domains have an idle part to show: the `vcpus` policy, or, when the
/// host's policy is unknown, any domain with idle energy.
fn shows_domain_idle(s: &Sample) -> bool {
    match s.node.as_ref().ok().and_then(|n| n.accounting.as_ref()) {
        Some(Accounting {
            idle_policy: Some(policy),
            ..
        }) => *policy == IdlePolicy::Vcpus,
        _ => s
            .domains
            .iter()
            .filter_map(|d| d.energy.as_ref())
            .flat_map(|e| &e.zones)
            .any(|z| z.idle_uj.is_some_and(|uj| uj > 0)),
    }
}

/// A zone's learned idle power, "learning" until the daemon knows it.
fn fmt_idle_power(z: &NodeZone) -> String {
    z.idle_power_uw.map_or_else(
        || "learning".to_string(),
        |uw| format!("{:.2}", uw as f64 / 1e6),
    )
}

/// Per package zone the domain has energy in: `pkg0 4.90 / pkg1 0.10`.
fn fmt_packages(dp: &DomainPower) -> String {
    let pkgs = dp.packages();
    if pkgs.is_empty() {
        return "-".to_string();
    }
    pkgs.iter()
        .map(|z| format!("pkg{} {}", z.package, fmt_w(z.w)))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// One text frame.
pub fn render_text(uri: &str, s: &Sample, p: &Power) -> String {
    let mut o = String::new();
    let mut line = |l: String| {
        o.push_str(&l);
        o.push('\n');
    };
    line(format!("virt-power top  {uri}  {}", fmt_interval(p)));
    match &s.node {
        Ok(n) => {
            match &n.accounting {
                Some(a) => line(format!(
                    "accounting: on, tick {}, every {} ms, weight {}{}",
                    a.tick,
                    a.interval_ms.map_or("?".into(), |v| v.to_string()),
                    a.weight.as_deref().unwrap_or("?"),
                    a.idle_policy
                        .as_ref()
                        .map_or(String::new(), |i| format!(", idle energy {}", i.as_str()))
                )),
                None => line(
                    "accounting: off (the host reports no accounting fields; \
                     measured power only)"
                        .to_string(),
                ),
            }
            if splits_idle(n) {
                let learned: Vec<String> = n
                    .zones
                    .iter()
                    .filter(|z| z.is_package() && z.splits_idle())
                    .map(|z| format!("{} {}", z.name, fmt_idle_power(z)))
                    .collect();
                line(format!(
                    "host: package {} W, host {} W, idle {} W; idle power (W) {}",
                    fmt_w(p.host_package_w),
                    fmt_w(p.host_active_w),
                    fmt_w(p.host_idle_w),
                    if learned.is_empty() {
                        "-".to_string()
                    } else {
                        learned.join(", ")
                    }
                ));
                line(String::new());
                line(format!(
                    "{:<24} {:>12} {:>9} {:>9} {:>11} {:>13}",
                    "ZONE", "MEASURED W", "HOST W", "IDLE W", "DEPARTED W", "IDLE POWER W"
                ));
            } else {
                line(format!(
                    "host: package {} W, unattributed {} W",
                    fmt_w(p.host_package_w),
                    fmt_w(p.host_unattributed_w)
                ));
                line(String::new());
                line(format!(
                    "{:<24} {:>12} {:>15} {:>11}",
                    "ZONE", "MEASURED W", "UNATTRIBUTED W", "DEPARTED W"
                ));
            }
            if p.zones.is_empty() {
                line("(no RAPL zones)".to_string());
            }
            for z in &p.zones {
                let nz = n.zones.iter().find(|x| x.name == z.name);
                match nz.filter(|nz| nz.splits_idle()) {
                    Some(nz) => line(format!(
                        "{:<24} {:>12} {:>9} {:>9} {:>11} {:>13}",
                        z.name,
                        fmt_w(z.measured_w),
                        fmt_w(z.host_w),
                        fmt_w(z.idle_w),
                        fmt_w(z.departed_w),
                        fmt_idle_power(nz)
                    )),
                    // A zone the daemon does not account, or an older
                    // daemon: its unattributed power is all host.
                    None if splits_idle(n) => line(format!(
                        "{:<24} {:>12} {:>9} {:>9} {:>11} {:>13}",
                        z.name,
                        fmt_w(z.measured_w),
                        fmt_w(z.host_w),
                        "-",
                        fmt_w(z.departed_w),
                        "-"
                    )),
                    None => line(format!(
                        "{:<24} {:>12} {:>15} {:>11}",
                        z.name,
                        fmt_w(z.measured_w),
                        fmt_w(z.unattributed_w),
                        fmt_w(z.departed_w)
                    )),
                }
            }
        }
        Err(e) => {
            line(format!("host: RAPL zones unavailable: {e}"));
            line("accounting: unknown (no host data)".to_string());
        }
    }
    line(String::new());
    let idle = shows_domain_idle(s);
    let idle_col = |v: String| {
        if idle {
            format!(" {v:>7}")
        } else {
            String::new()
        }
    };
    line(format!(
        "{:<24} {:>9} {:>8}{}  {:<9} {:<23} OTHER ZONES (W)",
        "DOMAIN",
        "PKG W",
        "SHARE %",
        idle_col("IDLE W".to_string()),
        "WEIGHT",
        "PACKAGES (W)"
    ));
    if s.domains.is_empty() {
        line("(no running domains)".to_string());
    }
    for d in &s.domains {
        let dp = p.domain(&d.uuid);
        let (weight, packages, zones) = match &d.energy {
            Some(e) => (
                e.weight.as_ref().map_or("-", |w| w.as_str()).to_string(),
                dp.map_or_else(|| "-".to_string(), fmt_packages),
                dp.map(|dp| {
                    dp.zones
                        .iter()
                        .filter(|z| !z.is_package())
                        .map(|z| format!("{}={}", z.name, fmt_w(z.w)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            ),
            None => (
                "-".to_string(),
                "-".to_string(),
                "(no energy stats)".to_string(),
            ),
        };
        let row = format!(
            "{:<24} {:>9} {:>8}{}  {:<9} {:<23} {}",
            d.name,
            fmt_w(dp.and_then(|d| d.package_w)),
            dp.and_then(|d| d.share_pct)
                .map_or("-".to_string(), |v| format!("{v:.1}")),
            idle_col(fmt_w(dp.and_then(|d| d.idle_w))),
            weight,
            packages,
            zones
        );
        line(row.trim_end().to_string());
    }
    o
}

/// One refresh as a JSON object: counters (µJ) and watts per zone and per
/// domain.
pub fn to_json(uri: &str, s: &Sample, p: &Power) -> Value {
    let (accounting, zones, host_error) = match &s.node {
        Ok(n) => {
            let acc = match &n.accounting {
                Some(a) => json!({
                    "enabled": true,
                    "tick": a.tick,
                    "interval_ms": a.interval_ms,
                    "weight": a.weight,
                    "idle_policy": a.idle_policy.as_ref().map(|i| i.as_str()),
                }),
                None => json!({ "enabled": false }),
            };
            let zones: Vec<Value> = n
                .zones
                .iter()
                .map(|z| {
                    let zp = p.zone(&z.name);
                    json!({
                        "name": z.name,
                        "package": z.package,
                        "energy_uj": z.energy_uj,
                        "measured_uj": z.measured_uj,
                        "unattributed_uj": z.unattributed_uj,
                        "departed_uj": z.departed_uj,
                        "measured_w": zp.and_then(|z| z.measured_w),
                        "unattributed_w": zp.and_then(|z| z.unattributed_w),
                        "departed_w": zp.and_then(|z| z.departed_w),
                        "host_uj": z.host_uj,
                        "idle_uj": z.idle_uj,
                        "idle_power_uw": z.idle_power_uw,
                        "host_w": zp.and_then(|z| z.host_w),
                        "idle_w": zp.and_then(|z| z.idle_w),
                        "idle_power_w": zp.and_then(|z| z.idle_power_w),
                    })
                })
                .collect();
            (acc, zones, None)
        }
        Err(e) => (
            json!({ "enabled": Value::Null }),
            Vec::new(),
            Some(e.clone()),
        ),
    };
    let domains: Vec<Value> = s
        .domains
        .iter()
        .map(|d| {
            let dp = p.domain(&d.uuid);
            let mut v = json!({
                "name": d.name,
                "uuid": d.uuid,
                "energy": d.energy.is_some(),
                "package_w": dp.and_then(|d| d.package_w),
                "share_pct": dp.and_then(|d| d.share_pct),
                "idle_w": dp.and_then(|d| d.idle_w),
                "power_interval_s": dp.map(|d| d.interval_s),
            });
            if let Some(e) = &d.energy {
                let zones: Vec<Value> = e
                    .zones
                    .iter()
                    .map(|z| {
                        let zp = dp.and_then(|dp| dp.zone(&z.name));
                        json!({
                            "name": z.name,
                            "package": z.package,
                            "energy_uj": z.energy_uj,
                            "w": zp.and_then(|z| z.w),
                            "idle_uj": z.idle_uj,
                            "idle_w": zp.and_then(|z| z.idle_w),
                        })
                    })
                    .collect();
                let packages: Vec<Value> = dp
                    .map(|dp| dp.packages())
                    .unwrap_or_default()
                    .iter()
                    .map(|z| {
                        json!({
                            "package": z.package,
                            "zone": z.name,
                            "w": z.w,
                            "idle_w": z.idle_w,
                        })
                    })
                    .collect();
                v["weight"] = json!(e.weight.as_ref().map(|w| w.as_str()));
                v["weight_value"] = json!(e.weight_value);
                v["tick"] = json!(e.tick);
                v["total_uj"] = json!(e.total_uj);
                v["zones"] = Value::Array(zones);
                v["total_idle_uj"] = json!(e.total_idle_uj());
                v["packages"] = Value::Array(packages);
            }
            v
        })
        .collect();
    json!({
        "uri": uri,
        "time": s.unix_time_s,
        "interval_s": p.interval_s,
        "ticks": p.ticks,
        "accounted_s": p.accounted_s,
        "accounting": accounting,
        "host": {
            "package_w": p.host_package_w,
            "unattributed_w": p.host_unattributed_w,
            "host_w": p.host_active_w,
            "idle_w": p.host_idle_w,
            "idle_power_w": p.host_idle_power_w,
            "error": host_error,
        },
        "zones": zones,
        "domains": domains,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::{
        Accounted, dom, domain_params, node_params, sample, two_package_samples,
    };
    use crate::metrics::{NodeSample, power};

    fn two_samples(acc: bool) -> (Sample, Power) {
        let zones = [("package-0", 0, 0), ("package-0/dram", 0, 0)];
        let a0: &[Accounted] = &[(0, 0, 0), (0, 0, 0)];
        let a1: &[Accounted] = &[(40_000_000, 4_000_000, 0), (2_000_000, 0, 0)];
        let (n0, n1) = if acc {
            (
                node_params(&zones, Some((1, a0))),
                node_params(&zones, Some((3, a1))),
            )
        } else {
            (
                node_params(&[("package-0", 0, 0)], None),
                node_params(&[("package-0", 0, 40_000_000)], None),
            )
        };
        let d0 = domain_params(0, &[("package-0", 0, 0)], 0);
        let d1 = domain_params(10_000_000, &[("package-0", 0, 10_000_000)], 5);
        let plain = crate::metrics::Params::default();
        let s0 = sample(
            0.0,
            vec![dom("vm\"1", "u1", &d0), dom("test", "u2", &plain)],
            Ok(NodeSample::from_params(&n0)),
        );
        let s1 = sample(
            2.0,
            vec![dom("vm\"1", "u1", &d1), dom("test", "u2", &plain)],
            Ok(NodeSample::from_params(&n1)),
        );
        let p = power(&s0, &s1);
        (s1, p)
    }

    #[test]
    fn text_frame_has_host_and_domain_rows() {
        let (s, p) = two_samples(true);
        let t = render_text("test:///x", &s, &p);
        assert!(
            t.contains("accounting: on, tick 3, every 1000 ms, weight cycles"),
            "{t}"
        );
        assert!(
            t.contains("host: package 20.00 W, unattributed 2.00 W"),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("package-0/dram") && l.contains("1.00")),
            "{t}"
        );
        let vm = t.lines().find(|l| l.starts_with("vm\"1")).unwrap();
        assert!(
            vm.contains("5.00") && vm.contains("25.0") && vm.contains("cycles"),
            "{vm}"
        );
        assert!(vm.ends_with(" cycles    pkg0 5.00"), "{vm}");
        // Not the vcpus policy: no idle column.
        assert!(!t.contains("IDLE W"), "{t}");
        assert!(
            t.starts_with(
                "virt-power top  test:///x  interval 2.00 s, power over 2 accounting ticks = 2.00 s\n"
            ),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("test") && l.contains("(no energy stats)")),
            "{t}"
        );
        assert!(!t.contains('\x1b'));
    }

    #[test]
    fn text_frame_without_accounting_or_host() {
        let (s, p) = two_samples(false);
        let t = render_text("u", &s, &p);
        assert!(t.contains("accounting: off"), "{t}");
        assert!(t.contains("host: package 20.00 W, unattributed - W"), "{t}");
        let mut s = s;
        s.node = Err("Cannot find program".into());
        let t = render_text("u", &s, &p);
        assert!(
            t.contains("host: RAPL zones unavailable: Cannot find program"),
            "{t}"
        );
    }

    fn idle_frame(policy: IdlePolicy) -> (Sample, Power) {
        let (s0, mut s1) = two_package_samples(2.3, 14);
        if let Ok(n) = &mut s1.node {
            n.accounting.as_mut().unwrap().idle_policy = Some(policy);
        }
        let p = power(&s0, &s1);
        (s1, p)
    }

    #[test]
    fn text_frame_with_host_idle_and_per_package_split() {
        let (s, p) = idle_frame(IdlePolicy::Vcpus);
        let t = render_text("u", &s, &p);
        assert!(
            t.contains("interval 2.30 s, power over 4 accounting ticks = 2.00 s\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "accounting: on, tick 14, every 500 ms, weight cpu_time, idle energy vcpus\n"
            ),
            "{t}"
        );
        assert!(
            t.contains(
                "host: package 30.00 W, host 3.00 W, idle 3.50 W; \
                 idle power (W) package-0 3.00, package-1 learning\n"
            ),
            "{t}"
        );
        assert!(
            !t.contains("unattributed") && !t.contains("UNATTRIBUTED"),
            "{t}"
        );
        let cells = |prefix: &str| -> Vec<String> {
            let l = t.lines().find(|l| l.starts_with(prefix)).unwrap();
            l.split_whitespace().map(str::to_string).collect()
        };
        assert_eq!(
            cells("ZONE "),
            [
                "ZONE", "MEASURED", "W", "HOST", "W", "IDLE", "W", "DEPARTED", "W", "IDLE",
                "POWER", "W"
            ]
        );
        assert_eq!(
            cells("package-0 "),
            ["package-0", "20.00", "2.00", "3.00", "0.00", "3.00"]
        );
        assert_eq!(
            cells("package-1 "),
            ["package-1", "10.00", "1.00", "0.50", "0.00", "learning"]
        );
        let header = t.lines().find(|l| l.starts_with("DOMAIN ")).unwrap();
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            [
                "DOMAIN", "PKG", "W", "SHARE", "%", "IDLE", "W", "WEIGHT", "PACKAGES", "(W)",
                "OTHER", "ZONES", "(W)"
            ]
        );
        // No trailing blanks when a domain has no other zone.
        assert!(t.lines().all(|l| l == l.trim_end()), "{t:?}");
        // a: 15 W over both packages, 3 W of it idle, half the host's.
        assert_eq!(
            cells("a "),
            [
                "a", "15.00", "50.0", "3.00", "cycles", "pkg0", "10.00", "/", "pkg1", "5.00"
            ]
        );
        assert_eq!(
            cells("b "),
            [
                "b", "8.50", "28.3", "3.00", "cycles", "pkg0", "5.00", "/", "pkg1", "3.50"
            ]
        );

        // Idle energy kept apart: the domains have no idle part to show.
        let (s, p) = idle_frame(IdlePolicy::Apart);
        let t = render_text("u", &s, &p);
        assert!(t.contains(", idle energy apart\n"), "{t}");
        let header = t.lines().find(|l| l.starts_with("DOMAIN ")).unwrap();
        assert!(!header.contains("IDLE W"), "{header}");
        let a = t.lines().find(|l| l.starts_with("a ")).unwrap();
        assert_eq!(
            a.split_whitespace().collect::<Vec<_>>(),
            [
                "a", "15.00", "50.0", "cycles", "pkg0", "10.00", "/", "pkg1", "5.00"
            ]
        );
    }

    #[test]
    fn json_with_idle_fields() {
        let (s, p) = idle_frame(IdlePolicy::Vcpus);
        let v = to_json("u", &s, &p);
        assert_eq!(v["interval_s"], 2.3);
        assert_eq!(v["ticks"], 4);
        assert_eq!(v["accounted_s"], 2.0);
        assert_eq!(v["accounting"]["idle_policy"], "vcpus");
        assert_eq!(v["host"]["package_w"], 30.0);
        assert_eq!(v["host"]["unattributed_w"], 6.5);
        assert_eq!(v["host"]["host_w"], 3.0);
        assert_eq!(v["host"]["idle_w"], 3.5);
        assert_eq!(v["host"]["idle_power_w"], Value::Null);
        let z0 = &v["zones"][0];
        assert_eq!(z0["host_uj"], 14_000_000);
        assert_eq!(z0["idle_uj"], 26_000_000);
        assert_eq!(z0["idle_power_uw"], 3_000_000);
        assert_eq!(z0["host_w"], 2.0);
        assert_eq!(z0["idle_w"], 3.0);
        assert_eq!(z0["idle_power_w"], 3.0);
        assert_eq!(v["zones"][1]["idle_power_uw"], Value::Null);
        let a = &v["domains"][0];
        assert_eq!(a["idle_w"], 3.0);
        assert_eq!(a["power_interval_s"], 2.0);
        assert_eq!(a["total_idle_uj"], 18_000_000);
        assert_eq!(a["zones"][1]["idle_uj"], 3_000_000);
        assert_eq!(a["zones"][1]["idle_w"], 0.5);
        assert_eq!(
            a["packages"],
            json!([
                {"package": 0, "zone": "package-0", "w": 10.0, "idle_w": 2.5},
                {"package": 1, "zone": "package-1", "w": 5.0, "idle_w": 0.5},
            ])
        );
    }

    #[test]
    fn json_shape() {
        let (s, p) = two_samples(true);
        let v = to_json("test:///x", &s, &p);
        assert_eq!(v["uri"], "test:///x");
        assert_eq!(v["interval_s"], 2.0);
        assert_eq!(v["accounting"]["enabled"], true);
        assert_eq!(v["accounting"]["tick"], 3);
        assert_eq!(v["host"]["package_w"], 20.0);
        assert_eq!(v["host"]["error"], Value::Null);
        assert_eq!(v["zones"][0]["name"], "package-0");
        assert_eq!(v["zones"][0]["measured_uj"], 40_000_000);
        assert_eq!(v["zones"][0]["measured_w"], 20.0);
        assert_eq!(v["zones"][0]["unattributed_w"], 2.0);
        let d = &v["domains"][0];
        assert_eq!(d["name"], "vm\"1");
        assert_eq!(d["energy"], true);
        assert_eq!(d["weight"], "cycles");
        assert_eq!(d["weight_value"], 5);
        assert_eq!(d["total_uj"], 10_000_000);
        assert_eq!(d["package_w"], 5.0);
        assert_eq!(d["share_pct"], 25.0);
        assert_eq!(d["zones"][0]["energy_uj"], 10_000_000);
        assert_eq!(d["zones"][0]["w"], 5.0);
        // An older daemon: host is the unattributed power, idle unknown.
        assert_eq!(v["accounting"]["idle_policy"], Value::Null);
        assert_eq!(v["host"]["host_w"], 2.0);
        assert_eq!(v["host"]["idle_w"], Value::Null);
        assert_eq!(v["zones"][0]["host_uj"], 4_000_000);
        assert_eq!(v["zones"][0]["idle_uj"], Value::Null);
        assert_eq!(d["idle_w"], Value::Null);
        assert_eq!(d["zones"][0]["idle_uj"], Value::Null);
        assert_eq!(d["packages"][0]["package"], 0);
        assert_eq!(v["domains"][1]["energy"], false);
        assert_eq!(v["domains"][1]["package_w"], Value::Null);
        // One line per refresh.
        assert!(!v.to_string().contains('\n'));
    }

    #[test]
    fn interval_parser() {
        assert_eq!(parse_interval("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("NaN").is_err());
        assert!(parse_interval("x").is_err());
    }
}
