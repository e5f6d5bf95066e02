// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power exporter`: the energy counters of a libvirt URI in the
//! Prometheus text exposition format (0.0.4), over plain HTTP on
//! `GET /metrics`, read fresh from libvirt on every scrape.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use clap::Args;

use crate::libvirt::{self, Connect};
use crate::metrics::{Power, Sample, WeightKind, ns_as_seconds, power, uj_as_joules, uw_as_watts};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

#[derive(Args)]
pub struct ExporterArgs {
    /// libvirt URI (default: libvirt's default, e.g. $LIBVIRT_DEFAULT_URI)
    #[arg(short = 'c', long = "connect", value_name = "URI")]
    pub uri: Option<String>,
    /// Address to serve /metrics on (port 0: any free port, printed on stderr)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9177")]
    pub listen: String,
    /// Print one exposition to stdout and exit
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    #[error(transparent)]
    Libvirt(#[from] libvirt::Error),
    #[error("cannot listen on '{addr}': {source}")]
    Listen {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("writing to stdout: {0}")]
    Output(#[source] io::Error),
}

pub fn run(args: &ExporterArgs) -> Result<(), ExporterError> {
    if args.once {
        let conn = Connect::open_read_only(args.uri.as_deref())?;
        let sample = libvirt::take_sample(&conn)?;
        let text = exposition(&sample, None);
        let mut out = io::stdout().lock();
        return match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(ExporterError::Output(e)),
            _ => Ok(()),
        };
    }
    let listener = TcpListener::bind(&args.listen).map_err(|source| ExporterError::Listen {
        addr: args.listen.clone(),
        source,
    })?;
    let conn = Connect::open_read_only(args.uri.as_deref())?;
    let local = listener
        .local_addr()
        .map_or_else(|_| args.listen.clone(), |a| a.to_string());
    eprintln!(
        "virt-power exporter: serving http://{local}/metrics for {}",
        conn.uri()
    );
    let mut scraper = Scraper {
        uri: args.uri.clone(),
        conn: Some(conn),
        prev: None,
        last_node_error: None,
    };
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = handle(s, &mut scraper) {
                    eprintln!("virt-power exporter: connection: {e}");
                }
            }
            Err(e) => eprintln!("virt-power exporter: accept: {e}"),
        }
    }
    Ok(())
}

/// The connection (reopened when it dies, e.g. the daemon restarted) and
/// the previous scrape's sample, for the power gauges.
struct Scraper {
    uri: Option<String>,
    conn: Option<Connect>,
    prev: Option<Sample>,
    last_node_error: Option<String>,
}

impl Scraper {
    fn scrape(&mut self) -> Result<String, libvirt::Error> {
        let conn = match self.conn.take() {
            Some(c) if c.is_alive() => c,
            _ => Connect::open_read_only(self.uri.as_deref())?,
        };
        let sample = libvirt::take_sample(&conn);
        self.conn = Some(conn);
        let sample = sample?;
        let node_error = sample.node.as_ref().err().cloned();
        if node_error != self.last_node_error {
            if let Some(e) = &node_error {
                eprintln!("virt-power exporter: {e}");
            }
            self.last_node_error = node_error;
        }
        let p = self.prev.as_ref().map(|prev| power(prev, &sample));
        let text = exposition(&sample, p.as_ref());
        self.prev = Some(sample);
        Ok(text)
    }
}

const MAX_REQUEST_HEAD: usize = 8192;

fn handle(mut stream: TcpStream, scraper: &mut Scraper) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST_HEAD {
            return respond(
                &mut stream,
                431,
                "Request Header Fields Too Large",
                "text/plain",
                "request head too large\n",
                false,
            );
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return respond(
            &mut stream,
            400,
            "Bad Request",
            "text/plain",
            "bad request\n",
            false,
        );
    };
    if !version.starts_with("HTTP/1.") {
        return respond(
            &mut stream,
            400,
            "Bad Request",
            "text/plain",
            "HTTP/1.x only\n",
            false,
        );
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let head_only = method == "HEAD";
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => match scraper.scrape() {
            Ok(body) => respond(&mut stream, 200, "OK", CONTENT_TYPE, &body, head_only),
            Err(e) => {
                eprintln!("virt-power exporter: {e}");
                respond(
                    &mut stream,
                    503,
                    "Service Unavailable",
                    "text/plain",
                    &format!("virt-power: {e}\n"),
                    head_only,
                )
            }
        },
        ("GET" | "HEAD", _) => respond(
            &mut stream,
            404,
            "Not Found",
            "text/plain",
            "not found: metrics are at /metrics\n",
            head_only,
        ),
        _ => respond(
            &mut stream,
            405,
            "Method Not Allowed",
            "text/plain",
            "GET or HEAD only\n",
            false,
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    reason: &str,
    content_type: &str,
    body: &str,
    head_only: bool,
) -> io::Result<()> {
    let mut r = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if code == 405 {
        r.push_str("Allow: GET, HEAD\r\n");
    }
    r.push_str("\r\n");
    if !head_only {
        r.push_str(body);
    }
    stream.write_all(r.as_bytes())?;
    stream.flush()
}

/// A label value escaped per the exposition format: backslash, double
/// quote and newline.
pub fn escape_label(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// One metric family: written with its HELP and TYPE lines only when it
/// has samples.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, l: &[(&str, &str)], value: impl Into<String>) {
        self.samples.push((labels(l), value.into()));
    }

    fn write(&self, o: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        // HELP texts are constants without backslashes or newlines.
        let _ = writeln!(o, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(o, "# TYPE {} {}", self.name, self.kind);
        for (l, v) in &self.samples {
            let _ = writeln!(o, "{}{l} {v}", self.name);
        }
    }
}

fn gauge_value(w: f64) -> String {
    format!("{w}")
}

/// The exposition of one sample; `power` (from the previous scrape) adds
/// the watts gauges.
pub fn exposition(s: &Sample, power: Option<&Power>) -> String {
    let mut rapl_up = Family::new(
        "virt_power_node_rapl_up",
        "gauge",
        "1 if the host's RAPL zones could be read (virNodeGetRaplLimit), 0 if not.",
    );
    let mut acc_on = Family::new(
        "virt_power_accounting_enabled",
        "gauge",
        "1 if the daemon's energy accounting runs, 0 if the host reports no accounting fields.",
    );
    let mut ticks = Family::new(
        "virt_power_accounting_ticks_total",
        "counter",
        "Accounting interval number the host counters belong to.",
    );
    let mut acc_interval = Family::new(
        "virt_power_accounting_interval_seconds",
        "gauge",
        "Length of one accounting interval.",
    );
    let mut zone_energy = Family::new(
        "virt_power_zone_energy_joules_total",
        "counter",
        "Energy measured in a RAPL zone: the accounting total when accounting runs, else the raw counter (wraps).",
    );
    let mut zone_unattr = Family::new(
        "virt_power_zone_unattributed_energy_joules_total",
        "counter",
        "Energy of a zone attributed to no domain.",
    );
    let mut zone_departed = Family::new(
        "virt_power_zone_departed_energy_joules_total",
        "counter",
        "Energy of a zone attributed to domains that have since stopped.",
    );
    let mut idle_policy = Family::new(
        "virt_power_accounting_idle_policy_info",
        "gauge",
        "Always 1; the policy label tells what the daemon does with idle energy: apart (its own counter, virt_power_zone_idle_energy_joules_total) or vcpus (shared among running domains by vCPU count, virt_power_domain_idle_energy_joules_total).",
    );
    let mut zone_host = Family::new(
        "virt_power_zone_host_energy_joules_total",
        "counter",
        "Active energy of a zone that no domain claimed (host processes, kernel, rounding); per zone, measured = sum of running domains + departed + host + idle. From a daemon that does not keep idle apart: the unattributed energy.",
    );
    let mut zone_idle = Family::new(
        "virt_power_zone_idle_energy_joules_total",
        "counter",
        "Idle (static) energy of a zone kept as idle, not shared with domains; per zone, measured = sum of running domains + departed + host + idle, and unattributed = host + idle.",
    );
    let mut zone_idle_power = Family::new(
        "virt_power_zone_idle_power_watts",
        "gauge",
        "Idle power the daemon has learned for a zone and splits each interval's energy by (absent while it is being learned).",
    );
    let mut zone_w = Family::new(
        "virt_power_zone_power_watts",
        "gauge",
        "Power of a zone between the previous scrape and this one.",
    );
    let mut dom_energy = Family::new(
        "virt_power_domain_energy_joules_total",
        "counter",
        "Energy attributed to a domain in a zone.",
    );
    let mut dom_idle = Family::new(
        "virt_power_domain_idle_energy_joules_total",
        "counter",
        "The part of virt_power_domain_energy_joules_total that is idle energy shared among running domains by vCPU count (0 under the apart policy); per zone, measured = sum of running domains (idle part included) + departed + host + idle.",
    );
    let mut dom_pkg = Family::new(
        "virt_power_domain_package_energy_joules_total",
        "counter",
        "Energy attributed to a domain over the package zones (energy.total).",
    );
    let mut dom_weight = Family::new(
        "virt_power_domain_weight_total",
        "counter",
        "Raw weight the daemon splits energy by (CPU cycles for weight=\"cycles\").",
    );
    let mut dom_cpu = Family::new(
        "virt_power_domain_cpu_seconds_total",
        "counter",
        "CPU time of a domain, the weight the daemon splits energy by when it uses cpu_time.",
    );
    let mut dom_w = Family::new(
        "virt_power_domain_power_watts",
        "gauge",
        "Power attributed to a domain in a zone between the previous scrape and this one.",
    );
    let mut dom_pkg_w = Family::new(
        "virt_power_domain_package_power_watts",
        "gauge",
        "Package power attributed to a domain between the previous scrape and this one.",
    );

    match &s.node {
        Ok(n) => {
            rapl_up.add(&[], "1");
            acc_on.add(&[], if n.accounting.is_some() { "1" } else { "0" });
            if let Some(a) = &n.accounting {
                ticks.add(&[], a.tick.to_string());
                if let Some(ms) = a.interval_ms {
                    acc_interval.add(&[], format!("{}.{:03}", ms / 1000, ms % 1000));
                }
                if let Some(policy) = &a.idle_policy {
                    idle_policy.add(&[("policy", policy.as_str())], "1");
                }
            }
            for z in &n.zones {
                let l = [("zone", z.name.as_str())];
                if let Some(uj) = z.measured_uj.or(z.energy_uj) {
                    zone_energy.add(&l, uj_as_joules(uj));
                }
                if let Some(uj) = z.unattributed_uj {
                    zone_unattr.add(&l, uj_as_joules(uj));
                }
                if let Some(uj) = z.departed_uj {
                    zone_departed.add(&l, uj_as_joules(uj));
                }
                if let Some(uj) = z.host_uj {
                    zone_host.add(&l, uj_as_joules(uj));
                }
                if let Some(uj) = z.idle_uj {
                    zone_idle.add(&l, uj_as_joules(uj));
                }
                if let Some(uw) = z.idle_power_uw {
                    zone_idle_power.add(&l, uw_as_watts(uw));
                }
                if let Some(w) = power
                    .and_then(|p| p.zone(&z.name))
                    .and_then(|z| z.measured_w)
                {
                    zone_w.add(&l, gauge_value(w));
                }
            }
        }
        Err(_) => rapl_up.add(&[], "0"),
    }

    for d in &s.domains {
        let Some(e) = &d.energy else { continue };
        let base = [("domain", d.name.as_str()), ("uuid", d.uuid.as_str())];
        let dp = power.and_then(|p| p.domain(&d.uuid));
        for z in &e.zones {
            let l = [base[0], base[1], ("zone", z.name.as_str())];
            dom_energy.add(&l, uj_as_joules(z.energy_uj));
            if let Some(uj) = z.idle_uj {
                dom_idle.add(&l, uj_as_joules(uj));
            }
            if let Some(w) = dp.and_then(|dp| dp.zone(&z.name)).and_then(|z| z.w) {
                dom_w.add(&l, gauge_value(w));
            }
        }
        if let Some(uj) = e.total_uj {
            dom_pkg.add(&base, uj_as_joules(uj));
        }
        if let Some(w) = dp.and_then(|dp| dp.package_w) {
            dom_pkg_w.add(&base, gauge_value(w));
        }
        match (&e.weight, e.weight_value) {
            (Some(WeightKind::CpuTime), Some(ns)) => dom_cpu.add(&base, ns_as_seconds(ns)),
            (Some(kind), Some(v)) => dom_weight.add(
                &[base[0], base[1], ("weight", kind.as_str())],
                v.to_string(),
            ),
            _ => {}
        }
    }

    let mut o = String::new();
    if let Err(e) = &s.node {
        // A comment line: ignored by parsers, read by people using curl.
        let _ = writeln!(o, "# virt-power: {}", e.replace('\n', " "));
    }
    for f in [
        &rapl_up,
        &acc_on,
        &ticks,
        &acc_interval,
        &idle_policy,
        &zone_energy,
        &zone_unattr,
        &zone_departed,
        &zone_host,
        &zone_idle,
        &zone_idle_power,
        &zone_w,
        &dom_energy,
        &dom_idle,
        &dom_pkg,
        &dom_weight,
        &dom_cpu,
        &dom_w,
        &dom_pkg_w,
    ] {
        f.write(&mut o);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::{
        Accounted, dom, domain_params, node_params, sample, two_package_samples,
    };
    use crate::metrics::{NodeSample, Params, TypedValue};

    fn lines_of<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .collect()
    }

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escape_label("plain-vm_1"), "plain-vm_1");
        assert_eq!(
            labels(&[("domain", "x\"y"), ("zone", "package-0")]),
            "{domain=\"x\\\"y\",zone=\"package-0\"}"
        );
    }

    #[test]
    fn exposition_with_accounting_and_power() {
        let zones = [("package-0", 0, 0)];
        let a0: &[Accounted] = &[(1_000_000, 0, 0)];
        let a1: &[Accounted] = &[(21_000_000, 2_500_000, 1)];
        let d0 = domain_params(0, &[("package-0", 0, 0)], 10);
        let d1 = domain_params(
            10_000_000,
            &[("package-0", 0, 10_000_000), ("dram-0", 0, 1_234_567)],
            20,
        );
        let s0 = sample(
            0.0,
            vec![dom("we\"ird\\vm\nx", "u1", &d0)],
            Ok(NodeSample::from_params(&node_params(&zones, Some((4, a0))))),
        );
        let s1 = sample(
            2.0,
            vec![dom("we\"ird\\vm\nx", "u1", &d1)],
            Ok(NodeSample::from_params(&node_params(&zones, Some((6, a1))))),
        );
        let p = power(&s0, &s1);
        let t = exposition(&s1, Some(&p));

        // Every family has HELP and TYPE before its samples.
        let all: Vec<&str> = t.lines().collect();
        for (at, l) in all.iter().enumerate().filter(|(_, l)| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let pos = |p: String| all.iter().position(|x| x.starts_with(&p)).unwrap();
            let help = pos(format!("# HELP {name} "));
            let ty = pos(format!("# TYPE {name} "));
            assert!(help < ty && ty < at, "{name}");
        }
        assert!(t.contains("# TYPE virt_power_domain_energy_joules_total counter\n"));
        assert!(t.contains("# TYPE virt_power_zone_power_watts gauge\n"));
        assert_eq!(
            lines_of(&t, "virt_power_accounting_enabled"),
            ["virt_power_accounting_enabled 1"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_accounting_ticks_total"),
            ["virt_power_accounting_ticks_total 6"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_accounting_interval_seconds"),
            ["virt_power_accounting_interval_seconds 1.000"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_zone_energy_joules_total"),
            ["virt_power_zone_energy_joules_total{zone=\"package-0\"} 21.000000"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_zone_unattributed_energy_joules_total"),
            ["virt_power_zone_unattributed_energy_joules_total{zone=\"package-0\"} 2.500000"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_zone_departed_energy_joules_total"),
            ["virt_power_zone_departed_energy_joules_total{zone=\"package-0\"} 0.000001"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_zone_power_watts"),
            ["virt_power_zone_power_watts{zone=\"package-0\"} 10"]
        );
        let dl = "domain=\"we\\\"ird\\\\vm\\nx\",uuid=\"u1\"";
        assert_eq!(
            lines_of(&t, "virt_power_domain_energy_joules_total"),
            [
                format!(
                    "virt_power_domain_energy_joules_total{{{dl},zone=\"package-0\"}} 10.000000"
                ),
                format!("virt_power_domain_energy_joules_total{{{dl},zone=\"dram-0\"}} 1.234567"),
            ]
        );
        assert_eq!(
            lines_of(&t, "virt_power_domain_package_energy_joules_total"),
            [format!(
                "virt_power_domain_package_energy_joules_total{{{dl}}} 10.000000"
            )]
        );
        assert_eq!(
            lines_of(&t, "virt_power_domain_weight_total"),
            [format!(
                "virt_power_domain_weight_total{{{dl},weight=\"cycles\"}} 20"
            )]
        );
        assert!(lines_of(&t, "virt_power_domain_cpu_seconds_total").is_empty());
        assert_eq!(
            lines_of(&t, "virt_power_domain_package_power_watts"),
            [format!("virt_power_domain_package_power_watts{{{dl}}} 5")]
        );
        // dram-0 is new in the second sample: no power for it yet.
        assert_eq!(
            lines_of(&t, "virt_power_domain_power_watts"),
            [format!(
                "virt_power_domain_power_watts{{{dl},zone=\"package-0\"}} 5"
            )]
        );
        // An older daemon: host is the unattributed energy; no idle series.
        assert_eq!(
            lines_of(&t, "virt_power_zone_host_energy_joules_total"),
            ["virt_power_zone_host_energy_joules_total{zone=\"package-0\"} 2.500000"]
        );
        for absent in [
            "virt_power_zone_idle_energy_joules_total",
            "virt_power_zone_idle_power_watts",
            "virt_power_domain_idle_energy_joules_total",
            "virt_power_accounting_idle_policy_info",
        ] {
            assert!(lines_of(&t, absent).is_empty(), "{absent}: {t}");
            assert!(!t.contains(&format!("# HELP {absent} ")), "{absent}");
        }
        // No raw newline inside any sample line.
        assert!(
            t.lines()
                .all(|l| l.starts_with('#') || l.starts_with("virt_power_"))
        );
    }

    #[test]
    fn exposition_with_host_and_idle_energy() {
        let (s0, s1) = two_package_samples(2.3, 14);
        let p = power(&s0, &s1);
        let t = exposition(&s1, Some(&p));
        assert_eq!(
            lines_of(&t, "virt_power_accounting_idle_policy_info"),
            ["virt_power_accounting_idle_policy_info{policy=\"vcpus\"} 1"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_zone_host_energy_joules_total"),
            [
                "virt_power_zone_host_energy_joules_total{zone=\"package-0\"} 14.000000",
                "virt_power_zone_host_energy_joules_total{zone=\"package-1\"} 7.000000",
            ]
        );
        assert_eq!(
            lines_of(&t, "virt_power_zone_idle_energy_joules_total"),
            [
                "virt_power_zone_idle_energy_joules_total{zone=\"package-0\"} 26.000000",
                "virt_power_zone_idle_energy_joules_total{zone=\"package-1\"} 31.000000",
            ]
        );
        // package-1 is still learning: no sample for it.
        assert_eq!(
            lines_of(&t, "virt_power_zone_idle_power_watts"),
            ["virt_power_zone_idle_power_watts{zone=\"package-0\"} 3.000000"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_domain_idle_energy_joules_total"),
            [
                "virt_power_domain_idle_energy_joules_total{domain=\"a\",uuid=\"u-a\",zone=\"package-0\"} 15.000000",
                "virt_power_domain_idle_energy_joules_total{domain=\"a\",uuid=\"u-a\",zone=\"package-1\"} 3.000000",
                "virt_power_domain_idle_energy_joules_total{domain=\"b\",uuid=\"u-b\",zone=\"package-0\"} 9.000000",
                "virt_power_domain_idle_energy_joules_total{domain=\"b\",uuid=\"u-b\",zone=\"package-1\"} 2.000000",
            ]
        );
        for (name, kind) in [
            ("virt_power_zone_host_energy_joules_total", "counter"),
            ("virt_power_zone_idle_energy_joules_total", "counter"),
            ("virt_power_zone_idle_power_watts", "gauge"),
            ("virt_power_domain_idle_energy_joules_total", "counter"),
            ("virt_power_accounting_idle_policy_info", "gauge"),
        ] {
            assert!(t.contains(&format!("# TYPE {name} {kind}\n")), "{name}");
        }
        // The HELP texts state the identity.
        for name in [
            "virt_power_zone_host_energy_joules_total",
            "virt_power_zone_idle_energy_joules_total",
            "virt_power_domain_idle_energy_joules_total",
        ] {
            let help = t
                .lines()
                .find(|l| l.starts_with(&format!("# HELP {name} ")))
                .unwrap();
            assert!(
                help.contains("measured = sum of running domains")
                    && help.contains("+ host + idle"),
                "{help}"
            );
        }
        // The counters add up per zone, as exported: the domains' energy,
        // departed, host and idle make the measured energy.
        let value = |line: &str| -> u64 {
            let (int, frac) = line.rsplit(' ').next().unwrap().split_once('.').unwrap();
            int.parse::<u64>().unwrap() * 1_000_000 + frac.parse::<u64>().unwrap()
        };
        for zone in ["package-0", "package-1"] {
            let sum = |family: &str| -> u64 {
                lines_of(&t, family)
                    .iter()
                    .filter(|l| l.contains(&format!("zone=\"{zone}\"")))
                    .map(|l| value(l))
                    .sum()
            };
            assert_eq!(
                sum("virt_power_domain_energy_joules_total")
                    + sum("virt_power_zone_departed_energy_joules_total")
                    + sum("virt_power_zone_host_energy_joules_total")
                    + sum("virt_power_zone_idle_energy_joules_total"),
                sum("virt_power_zone_energy_joules_total"),
                "{zone}"
            );
        }
    }

    #[test]
    fn exposition_without_accounting_cpu_time_and_failed_node() {
        let mut d = domain_params(3, &[("package-0", 0, 3)], 1_500_000_000);
        d.0[0].1 = TypedValue::String("cpu_time".into());
        let plain = Params::default();
        let s = sample(
            0.0,
            vec![dom("a", "u1", &d), dom("test", "u2", &plain)],
            Ok(NodeSample::from_params(&node_params(
                &[("package-0", 0, 77)],
                None,
            ))),
        );
        let t = exposition(&s, None);
        assert_eq!(
            lines_of(&t, "virt_power_node_rapl_up"),
            ["virt_power_node_rapl_up 1"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_accounting_enabled"),
            ["virt_power_accounting_enabled 0"]
        );
        assert!(!t.contains("virt_power_accounting_ticks_total"));
        assert!(!t.contains("unattributed"));
        assert!(!t.contains("_watts"));
        assert!(!t.contains("virt_power_zone_host_energy_joules_total"));
        assert!(!t.contains("idle"));
        assert_eq!(
            lines_of(&t, "virt_power_zone_energy_joules_total"),
            ["virt_power_zone_energy_joules_total{zone=\"package-0\"} 0.000077"]
        );
        assert_eq!(
            lines_of(&t, "virt_power_domain_cpu_seconds_total"),
            ["virt_power_domain_cpu_seconds_total{domain=\"a\",uuid=\"u1\"} 1.500000000"]
        );
        assert!(!t.contains("virt_power_domain_weight_total"));
        assert!(!t.contains("\"test\""));

        let s = sample(
            0.0,
            vec![dom("a", "u1", &d)],
            Err("Cannot find program\nx".into()),
        );
        let t = exposition(&s, None);
        assert!(
            t.starts_with("# virt-power: Cannot find program x\n"),
            "{t}"
        );
        assert_eq!(
            lines_of(&t, "virt_power_node_rapl_up"),
            ["virt_power_node_rapl_up 0"]
        );
        assert!(!t.contains("virt_power_accounting_enabled"));
        assert!(t.contains(
            "virt_power_domain_package_energy_joules_total{domain=\"a\",uuid=\"u1\"} 0.000003"
        ));
    }
}
