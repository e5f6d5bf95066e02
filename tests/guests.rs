// SPDX-License-Identifier: LGPL-2.1-or-later
//! Real guests under the patched daemon, with per-domain energy.
//!
//! Two tiny multiboot kernels (`tests/guests/*.S`, assembled by the
//! harness), one that spins and one that halts, boot with `<os><kernel>`
//! under KVM (TCG where `/dev/kvm` is unusable). The daemon runs over a
//! simulated host whose RAPL energy advances with this machine's real load
//! (`libvirt_power::sim::Runner`), and its accounting loop splits that
//! energy among the guests by the CPU weight of their QEMU processes.
//!
//! - `busy_guest_gets_the_energy`: over a window after boot the busy guest
//!   holds at least 90% of the energy attributed to guests and the idle
//!   one at most 10%; in every interval seen, each zone's measured energy
//!   equals the guests' energy + departed + unattributed (to 1 µJ); the
//!   counters survive a daemon restart without going backwards.
//! - `start_stop_churn`: guests started and destroyed while the loop runs;
//!   no counter goes backwards and the daemon holds no more descriptors
//!   afterwards (perf descriptors included).
//! - `stock_virsh_sees_the_energy_fields`: Debian's own virsh 11.3.0,
//!   unchanged, gets the `energy.*` fields from `domstats`.
//! - `exporter_matches_domstats`: `virt-power exporter --once` parses
//!   with the Prometheus client's text parser and its per-domain joules
//!   equal `domstats --energy` of the same accounting interval.
//!
//! Run as root. The harness is in `tests/support/{daemon,guests}.rs`.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::daemon::{self, Daemon, SimHost};
use support::guests::{self, Accel, BUSY_LINE, EnergySource, Guest, GuestHost, IDLE_LINE, Stats};

/// How long a guest may take from `virsh start` to its debugcon line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between the last debugcon line and the measuring window.
const SETTLE: Duration = Duration::from_secs(2);
/// The measuring window.
const WINDOW: Duration = Duration::from_secs(6);

// ------------------------------------------------------------ energy source

// ------------------------------------------------------------ snapshots

fn num(map: &BTreeMap<String, String>, key: &str) -> u64 {
    map.get(key)
        .unwrap_or_else(|| panic!("no {key} in {map:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// One zone's host totals.
#[derive(Debug, Clone, Copy)]
struct ZoneTotals {
    measured: u64,
    departed: u64,
    unattributed: u64,
}

/// Host totals and every running guest's energy, all of one accounting
/// interval.
#[derive(Debug)]
struct Snapshot {
    tick: u64,
    zones: BTreeMap<String, ZoneTotals>,
    /// guest name -> zone -> µJ
    guests: BTreeMap<String, BTreeMap<String, u64>>,
    /// guest name -> energy.total
    totals: BTreeMap<String, u64>,
    stats: BTreeMap<String, Stats>,
}

fn zone_energy(s: &Stats) -> BTreeMap<String, u64> {
    let n = s.u64("energy.zone.count");
    (0..n)
        .map(|i| {
            (
                s.0[&format!("energy.zone.{i}.name")].clone(),
                s.u64(&format!("energy.zone.{i}.energy")),
            )
        })
        .collect()
}

/// Node totals, `domstats --energy` of all running guests, node totals
/// again, until all three name the same accounting interval.
fn snapshot(gh: &GuestHost, guests: &[&Guest]) -> Snapshot {
    let start = Instant::now();
    loop {
        let n0 = gh.node_fields();
        let stats = gh.stats(&["--energy", "--list-running"], &[]);
        let n1 = gh.node_fields();
        let tick = num(&n0, "accounting.tick");
        let same = tick == num(&n1, "accounting.tick")
            && stats.values().all(|s| s.u64("energy.tick") == tick);
        if same {
            let mut zones = BTreeMap::new();
            for i in 0..num(&n0, "zone.count") {
                let Some(name) = n0.get(&format!("zone.{i}.name")) else {
                    continue;
                };
                if !n0.contains_key(&format!("zone.{i}.accounted.measured")) {
                    continue;
                }
                let f = |w: &str| num(&n0, &format!("zone.{i}.accounted.{w}"));
                zones.insert(
                    name.clone(),
                    ZoneTotals {
                        measured: f("measured"),
                        departed: f("departed"),
                        unattributed: f("unattributed"),
                    },
                );
            }
            for g in guests {
                assert!(
                    stats.contains_key(&g.name),
                    "no energy stats for {}: {stats:?}",
                    g.name
                );
            }
            return Snapshot {
                tick,
                zones,
                guests: stats
                    .iter()
                    .map(|(k, s)| (k.clone(), zone_energy(s)))
                    .collect(),
                totals: stats
                    .iter()
                    .map(|(k, s)| (k.clone(), s.u64("energy.total")))
                    .collect(),
                stats,
            };
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no consistent snapshot in 30 s"
        );
    }
}

/// measured = running guests + departed + unattributed, every zone (to
/// 1 µJ); returns the largest difference.
fn assert_conserved(s: &Snapshot) -> u64 {
    assert!(!s.zones.is_empty(), "no accounted zone: {s:?}");
    let mut worst = 0;
    for (zone, t) in &s.zones {
        let guests: u64 = s
            .guests
            .values()
            .map(|z| z.get(zone).copied().unwrap_or(0))
            .sum();
        let sum = guests + t.departed + t.unattributed;
        let diff = sum.abs_diff(t.measured);
        worst = worst.max(diff);
        assert!(
            diff <= 1,
            "zone {zone}, interval {}: guests {guests} + departed {} + unattributed {} = {sum} µJ, \
             measured {} µJ",
            s.tick,
            t.departed,
            t.unattributed,
            t.measured
        );
    }
    worst
}

/// Every counter of `b` is at least the one in `a` (same guest, zone).
fn assert_monotonic(a: &Snapshot, b: &Snapshot, what: &str) {
    for (g, zones) in &a.guests {
        let Some(later) = b.guests.get(g) else {
            continue;
        };
        for (z, uj) in zones {
            let now = later.get(z).copied().unwrap_or(0);
            assert!(
                now >= *uj,
                "{what}: {g} zone {z} went backwards: {uj} -> {now} µJ"
            );
        }
    }
    for (z, t) in &a.zones {
        let later = b.zones[z];
        assert!(
            later.measured >= t.measured
                && later.departed >= t.departed
                && later.unattributed >= t.unattributed,
            "{what}: host totals of {z} went backwards: {t:?} -> {later:?}"
        );
    }
}

// ------------------------------------------------------------ setup

struct Setup {
    gh: GuestHost,
    accel: Accel,
    kernels: guests::Kernels,
    // Dropped after the guests and the daemon.
    _energy: EnergySource,
}

fn setup() -> Setup {
    let (accel, why) = guests::accel();
    println!("accelerator: {accel} ({why})");
    let kernels = guests::build_kernels();
    let energy = EnergySource::start(SimHost::plain("acpi-cpufreq"));
    let gh = GuestHost::new(Daemon::patched(&energy.host.root, false));
    Setup {
        gh,
        accel,
        kernels,
        _energy: energy,
    }
}

fn boot(gh: &mut GuestHost, g: &Guest, line: &str) -> Duration {
    let t = Instant::now();
    gh.start(g);
    gh.wait_debugcon(g, line, t, BOOT_TIMEOUT)
}

/// perf event descriptors among the daemon's (from `daemon_fd_list`).
fn perf_fds(fds: &BTreeMap<u32, String>) -> usize {
    fds.values().filter(|t| t.contains("perf_event")).count()
}

fn wait_fds_back(gh: &GuestHost, before: &BTreeMap<u32, String>) {
    // The daemon may close a client's socket a moment after virsh exits.
    let start = Instant::now();
    let after = loop {
        let now = gh.daemon_fd_list();
        if now.len() <= before.len() || start.elapsed() > Duration::from_secs(5) {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "daemon descriptors: {} before, {} after ({} perf before, {} after)",
        before.len(),
        after.len(),
        perf_fds(before),
        perf_fds(&after)
    );
    let new: Vec<String> = after
        .iter()
        .filter(|(fd, target)| before.get(fd) != Some(target))
        .map(|(fd, target)| format!("{fd} -> {target}"))
        .collect();
    assert!(
        after.len() <= before.len() && perf_fds(&after) == 0,
        "the daemon holds more descriptors than before the guests: {new:?}"
    );
}

// ------------------------------------------------------------ tests

#[test]
fn busy_guest_gets_the_energy() {
    require_root!();
    daemon::require_patched();
    let Setup {
        mut gh,
        accel,
        kernels,
        _energy,
    } = setup();
    let fds_before = gh.daemon_fd_list();

    let busy = gh.guest("busy", &kernels.busy, accel);
    let idle = gh.guest("idle", &kernels.idle, accel);
    gh.define(&busy);
    gh.define(&idle);
    let busy_boot = boot(&mut gh, &busy, BUSY_LINE);
    let idle_boot = boot(&mut gh, &idle, IDLE_LINE);
    println!("boot (virsh start to debugcon line): busy {busy_boot:.2?}, idle {idle_boot:.2?}");

    std::thread::sleep(SETTLE);
    let guests = [&busy, &idle];
    let s0 = snapshot(&gh, &guests);
    let weight = s0.stats[&busy.name].0["energy.weight"].clone();
    println!(
        "weight: {weight}; zones: {:?}",
        s0.zones.keys().collect::<Vec<_>>()
    );
    // The perf group holds only the perf events the user enabled (none
    // here): the accounting's cycles, where the host has a cycles PMU, are
    // the energy group's weight, not perf.cpu_cycles.
    let perf = gh.stats(&["--perf"], &guests);
    for g in guests {
        assert!(
            !perf[&g.name].0.contains_key("perf.cpu_cycles"),
            "perf.cpu_cycles without the perf event enabled for {}: {:?}",
            g.name,
            perf[&g.name]
        );
        let value = s0.stats[&g.name].u64("energy.weight.value");
        if weight == "cycles" {
            assert!(value > 0, "no cycles in energy.weight.value for {}", g.name);
        }
    }
    println!("perf group: no perf.cpu_cycles; the {weight} weight is in the energy group");
    let mut worst = assert_conserved(&s0);
    let mut ticks = vec![s0.tick];
    let mut last = snapshot(&gh, &guests);
    let end = Instant::now() + WINDOW;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(700));
        let s = snapshot(&gh, &guests);
        worst = worst.max(assert_conserved(&s));
        assert_monotonic(&last, &s, "during the window");
        if ticks.last() != Some(&s.tick) {
            ticks.push(s.tick);
        }
        last = s;
    }
    let s1 = last;
    assert!(
        ticks.len() >= 4,
        "the accounting loop went through only {} intervals in {WINDOW:?}: {ticks:?}",
        ticks.len()
    );
    println!(
        "conservation held in {} intervals ({:?}); largest difference {worst} µJ",
        ticks.len(),
        ticks
    );

    // Shares of the energy attributed to guests over the window.
    let d = |g: &Guest| s1.totals[&g.name] - s0.totals[&g.name];
    let (db, di) = (d(&busy), d(&idle));
    let measured: u64 = s1
        .zones
        .iter()
        .filter(|(z, _)| z.starts_with("package-") && !z.contains('/'))
        .map(|(z, t)| t.measured - s0.zones[z].measured)
        .sum();
    let secs = (s1.tick - s0.tick) as f64;
    println!(
        "window of {} intervals ({accel}, weight {weight}): busy {:.2} J ({:.1} W), idle {:.2} J \
         ({:.1} W), host package {:.2} J ({:.1} W)",
        s1.tick - s0.tick,
        db as f64 / 1e6,
        db as f64 / 1e6 / secs,
        di as f64 / 1e6,
        di as f64 / 1e6 / secs,
        measured as f64 / 1e6,
        measured as f64 / 1e6 / secs
    );
    assert!(db > 0, "the busy guest got no energy: {s0:?} -> {s1:?}");
    let busy_share = db as f64 / (db + di) as f64;
    println!(
        "busy guest's share of the guests' energy: {:.1}%, idle guest's {:.1}%",
        busy_share * 100.0,
        (1.0 - busy_share) * 100.0
    );
    assert!(busy_share >= 0.90, "busy share {busy_share:.3} < 0.90");
    assert!(1.0 - busy_share <= 0.10, "idle share > 0.10");

    // A daemon restart: the guests keep running, their counters resume.
    let before = snapshot(&gh, &guests);
    gh.daemon.restart();
    let after = snapshot(&gh, &guests);
    assert_monotonic(&before, &after, "across a daemon restart");
    assert_conserved(&after);
    println!(
        "daemon restart: interval {} -> {}, busy {} -> {} µJ",
        before.tick, after.tick, before.totals[&busy.name], after.totals[&busy.name]
    );

    gh.destroy(&busy);
    gh.destroy(&idle);
    // Their energy has departed: the identity holds with no guest running.
    let gone = snapshot(&gh, &[]);
    assert!(gone.guests.is_empty(), "{gone:?}");
    assert_conserved(&gone);
    assert_monotonic(&after, &gone, "after the guests stopped");
    gh.undefine(&busy);
    gh.undefine(&idle);
    gh.daemon.assert_answers(&gh.virsh);
    wait_fds_back(&gh, &fds_before);
}

#[test]
fn start_stop_churn() {
    require_root!();
    daemon::require_patched();
    let Setup {
        mut gh,
        accel,
        kernels,
        _energy,
    } = setup();
    let fds_before = gh.daemon_fd_list();
    let steady = gh.guest("steady", &kernels.busy, accel);
    gh.define(&steady);
    boot(&mut gh, &steady, BUSY_LINE);
    let mut last = snapshot(&gh, &[&steady]);
    let churn: Vec<Guest> = (0..3)
        .map(|i| gh.guest(&format!("churn{i}"), &kernels.idle, accel))
        .collect();
    for g in &churn {
        gh.define(g);
    }
    let rounds = 4;
    let mut perf_max = 0;
    for round in 0..rounds {
        // Start them all, let the loop see them, stop them in another order.
        for g in &churn {
            gh.start(g);
        }
        std::thread::sleep(Duration::from_millis(1200));
        let s = snapshot(&gh, &[&steady]);
        assert_conserved(&s);
        assert_monotonic(&last, &s, &format!("round {round}, running"));
        let perf = perf_fds(&gh.daemon_fd_list());
        perf_max = perf_max.max(perf);
        last = s;
        for g in churn.iter().rev() {
            gh.destroy(g);
        }
        let s = snapshot(&gh, &[&steady]);
        assert_conserved(&s);
        assert_monotonic(&last, &s, &format!("round {round}, stopped"));
        last = s;
    }
    println!(
        "{rounds} rounds of {} guests started and destroyed; up to {perf_max} perf descriptors \
         while they ran; last interval {}",
        churn.len(),
        last.tick
    );
    gh.destroy(&steady);
    for g in &churn {
        gh.undefine(g);
    }
    gh.undefine(&steady);
    wait_fds_back(&gh, &fds_before);
}

/// Debian's virsh from the same release, unpatched: `domstats` without a
/// group flag asks for every group the daemon supports.
#[test]
fn stock_virsh_sees_the_energy_fields() {
    require_root!();
    daemon::require_patched();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-stock-libvirt");
    let out = Command::new(&script)
        .output()
        .expect("install-stock-libvirt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stock = PathBuf::from("/usr/bin/virsh");
    let Setup {
        mut gh,
        accel,
        kernels,
        _energy,
    } = setup();
    let g = gh.guest("stock", &kernels.busy, accel);
    gh.define(&g);
    boot(&mut gh, &g, BUSY_LINE);
    std::thread::sleep(Duration::from_millis(2500));
    let sock = daemon::prefix().join("run/libvirt/virtqemud-sock");
    let uri = format!("qemu:///system?socket={}", sock.display());
    let out = Command::new(&stock)
        .args(["-c", &uri, "domstats", &g.name])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let version = Command::new(&stock).arg("--version").output().unwrap();
    println!(
        "stock virsh {} (domstats {}):\n{}",
        String::from_utf8_lossy(&version.stdout).trim(),
        g.name,
        text.lines()
            .filter(|l| l.contains("energy."))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for key in [
        "energy.weight=",
        "energy.tick=",
        "energy.total=",
        "energy.zone.0.name=package-0",
        "energy.zone.0.energy=",
    ] {
        assert!(
            text.contains(key),
            "stock virsh output lacks {key}:\n{text}"
        );
    }
    let total: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("energy.total="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 0, "the busy guest has no energy yet:\n{text}");
    gh.destroy(&g);
    gh.undefine(&g);
}

/// The exporter's text parses with the Prometheus client's own parser,
/// and its joules per guest equal `domstats --energy` of the same
/// interval.
#[test]
fn exporter_matches_domstats() {
    require_root!();
    daemon::require_patched();
    let Setup {
        mut gh,
        accel,
        kernels,
        _energy,
    } = setup();
    let busy = gh.guest("exp-busy", &kernels.busy, accel);
    let idle = gh.guest("exp-idle", &kernels.idle, accel);
    gh.define(&busy);
    gh.define(&idle);
    boot(&mut gh, &busy, BUSY_LINE);
    boot(&mut gh, &idle, IDLE_LINE);
    std::thread::sleep(Duration::from_millis(2500));
    let parser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prom_parse.py");
    let start = Instant::now();
    loop {
        let s = snapshot(&gh, &[&busy, &idle]);
        let out = support::cmd::vp()
            .args(["exporter", "-c", &gh.daemon.uri, "--once"])
            .env(
                "LD_LIBRARY_PATH",
                daemon::prefix().join("lib/x86_64-linux-gnu"),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "virt-power exporter --once: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Debian's python3 with its python3-prometheus-client package.
        let parsed = Command::new("/usr/bin/python3")
            .arg(&parser)
            .stdin_bytes(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}", parser.display()));
        // name{labels} value, one per line, from the Prometheus parser.
        let samples: Vec<(String, BTreeMap<String, String>, f64)> =
            parsed.lines().map(serde_sample).collect();
        let ticks = samples
            .iter()
            .find(|(n, _, _)| n == "virt_power_accounting_ticks_total")
            .map(|(_, _, v)| *v as u64)
            .expect("virt_power_accounting_ticks_total");
        if ticks != s.tick {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never the same interval"
            );
            continue;
        }
        let mut compared = 0;
        for g in [&busy, &idle] {
            for (zone, uj) in &s.guests[&g.name] {
                let v = samples
                    .iter()
                    .find(|(n, l, _)| {
                        n == "virt_power_domain_energy_joules_total"
                            && l.get("domain") == Some(&g.name)
                            && l.get("zone") == Some(zone)
                    })
                    .unwrap_or_else(|| panic!("no sample for {} {zone}:\n{parsed}", g.name))
                    .2;
                let exported_uj = (v * 1e6).round() as u64;
                assert!(
                    exported_uj.abs_diff(*uj) <= 1,
                    "{} {zone}: exporter {v} J, domstats {uj} µJ",
                    g.name
                );
                compared += 1;
            }
        }
        println!(
            "exporter: {} samples parsed by prometheus_client; {compared} per-domain zone \
             counters equal domstats --energy at interval {}",
            samples.len(),
            s.tick
        );
        break;
    }
    gh.destroy(&busy);
    gh.destroy(&idle);
    gh.undefine(&busy);
    gh.undefine(&idle);
}

/// Parses `name<TAB>{"label": "value"}<TAB>value` from tests/prom_parse.py.
fn serde_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let mut f = line.splitn(3, '\t');
    let name = f.next().unwrap().to_owned();
    let labels = f.next().unwrap_or("");
    let value: f64 = f.next().unwrap_or("nan").parse().unwrap();
    let labels = labels
        .split('\u{1f}')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (name, labels, value)
}

trait StdinBytes {
    fn stdin_bytes(&mut self, input: &[u8]) -> std::io::Result<String>;
}

impl StdinBytes for Command {
    /// Runs with `input` on stdin; its stdout, or an error with its stderr.
    fn stdin_bytes(&mut self, input: &[u8]) -> std::io::Result<String> {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().unwrap().write_all(input)?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// `power_accounting = 0` in qemu.conf: no counters opened, no energy
/// group, and virsh says accounting is off.
#[test]
fn accounting_off_switch() {
    require_root!();
    daemon::require_patched();
    let (accel, _) = guests::accel();
    let kernels = guests::build_kernels();
    let energy = EnergySource::start(SimHost::plain("acpi-cpufreq"));
    let mut gh = GuestHost::new(Daemon::patched_with(
        &energy.host.root,
        false,
        "power_accounting = 0",
    ));
    let g = gh.guest("off", &kernels.busy, accel);
    gh.define(&g);
    boot(&mut gh, &g, BUSY_LINE);
    std::thread::sleep(Duration::from_millis(1500));
    let stats = gh.stats(&["--energy"], &[&g]);
    assert!(
        !stats[&g.name].0.keys().any(|k| k.starts_with("energy.")),
        "energy fields with accounting off: {:?}",
        stats[&g.name]
    );
    let perf = perf_fds(&gh.daemon_fd_list());
    assert_eq!(perf, 0, "perf descriptors with accounting off");
    let table = gh.virsh.ok(&["rapl-limit"]);
    assert!(
        table.stdout.contains("Energy accounting: off"),
        "{}",
        table.stdout
    );
    assert!(!gh.node_fields().contains_key("accounting.tick"));
    println!("accounting off: no energy fields, no perf descriptors, rapl-limit says off");
    gh.destroy(&g);
    gh.undefine(&g);
}
