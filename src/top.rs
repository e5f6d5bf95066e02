// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power top`: per-VM and host power, refreshed every interval, from
//! the energy counters of any libvirt URI.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::libvirt::{self, Connect};
use crate::metrics::{Power, Sample};

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

/// One text frame.
pub fn render_text(uri: &str, s: &Sample, p: &Power) -> String {
    let mut o = String::new();
    let mut line = |l: String| {
        o.push_str(&l);
        o.push('\n');
    };
    line(format!(
        "virt-power top  {uri}  interval {:.2} s",
        p.interval_s
    ));
    match &s.node {
        Ok(n) => {
            match &n.accounting {
                Some(a) => line(format!(
                    "accounting: on, tick {}, every {} ms, weight {}",
                    a.tick,
                    a.interval_ms.map_or("?".into(), |v| v.to_string()),
                    a.weight.as_deref().unwrap_or("?")
                )),
                None => line(
                    "accounting: off (the host reports no accounting fields; \
                     measured power only)"
                        .to_string(),
                ),
            }
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
            if p.zones.is_empty() {
                line("(no RAPL zones)".to_string());
            }
            for z in &p.zones {
                line(format!(
                    "{:<24} {:>12} {:>15} {:>11}",
                    z.name,
                    fmt_w(z.measured_w),
                    fmt_w(z.unattributed_w),
                    fmt_w(z.departed_w)
                ));
            }
        }
        Err(e) => {
            line(format!("host: RAPL zones unavailable: {e}"));
            line("accounting: unknown (no host data)".to_string());
        }
    }
    line(String::new());
    line(format!(
        "{:<24} {:>9} {:>8}  {:<9} ZONES (W)",
        "DOMAIN", "PKG W", "SHARE %", "WEIGHT"
    ));
    if s.domains.is_empty() {
        line("(no running domains)".to_string());
    }
    for d in &s.domains {
        let dp = p.domain(&d.uuid);
        let (weight, zones) = match &d.energy {
            Some(e) => (
                e.weight.as_ref().map_or("-", |w| w.as_str()).to_string(),
                dp.map(|dp| {
                    dp.zones
                        .iter()
                        .map(|(n, w)| format!("{n}={}", fmt_w(*w)))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            ),
            None => ("-".to_string(), "(no energy stats)".to_string()),
        };
        line(format!(
            "{:<24} {:>9} {:>8}  {:<9} {}",
            d.name,
            fmt_w(dp.and_then(|d| d.package_w)),
            dp.and_then(|d| d.share_pct)
                .map_or("-".to_string(), |v| format!("{v:.1}")),
            weight,
            zones
        ));
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
            });
            if let Some(e) = &d.energy {
                let zones: Vec<Value> = e
                    .zones
                    .iter()
                    .map(|z| {
                        let w = dp
                            .and_then(|dp| dp.zones.iter().find(|(n, _)| *n == z.name))
                            .and_then(|(_, w)| *w);
                        json!({
                            "name": z.name,
                            "package": z.package,
                            "energy_uj": z.energy_uj,
                            "w": w,
                        })
                    })
                    .collect();
                v["weight"] = json!(e.weight.as_ref().map(|w| w.as_str()));
                v["weight_value"] = json!(e.weight_value);
                v["tick"] = json!(e.tick);
                v["total_uj"] = json!(e.total_uj);
                v["zones"] = Value::Array(zones);
            }
            v
        })
        .collect();
    json!({
        "uri": uri,
        "time": s.unix_time_s,
        "interval_s": p.interval_s,
        "accounting": accounting,
        "host": {
            "package_w": p.host_package_w,
            "unattributed_w": p.host_unattributed_w,
            "error": host_error,
        },
        "zones": zones,
        "domains": domains,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::{Accounted, dom, domain_params, node_params, sample};
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
        assert!(vm.contains("package-0=5.00"), "{vm}");
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
