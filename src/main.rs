// SPDX-License-Identifier: LGPL-2.1-or-later
//! virt-power: host power state, checked changes and restore, and simulated
//! hosts, on top of libvirt-power.
//!
//! `show`, `set`, `restore`, `energy`, `sim` and `tour` work on the host's
//! sysfs directly; `top` and `exporter` read per-VM and host energy through
//! the patched libvirt (any URI, local or remote).

mod exporter;
mod libvirt;
mod metrics;
mod simfs;
mod top;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use libvirt_power::host::{Knob, RestoreScope};
use libvirt_power::rapl::EnergyMeter;
use libvirt_power::sim::{self, SimSpec};
use libvirt_power::units::{parse_frequency_khz, parse_power_uw, parse_time_us};
use libvirt_power::{CpuSelection, Host, SetOptions, SetReport, Snapshot, SysfsRoot};

#[derive(Parser)]
#[command(
    name = "virt-power",
    version,
    about = "Host CPU frequency, governors and RAPL limits, checked and restorable"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct HostArgs {
    /// sysfs root (default: $LIBVIRT_POWER_SYSFS_ROOT, else /sys)
    #[arg(long, value_name = "DIR")]
    sysfs: Option<PathBuf>,
    /// Directory of the original-state journal (needed for restore)
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl HostArgs {
    fn open(&self) -> libvirt_power::Result<Host> {
        let root = self
            .sysfs
            .clone()
            .map_or_else(SysfsRoot::from_env, SysfsRoot::new);
        Host::new(root, self.state_dir.clone())
    }
}

#[derive(Args, Clone, Copy)]
struct SetFlags {
    /// Switch to the userspace governor first (exact frequency)
    #[arg(long)]
    switch_governor: bool,
    /// Apply the change to the SMT siblings of the named CPUs too
    #[arg(long)]
    include_siblings: bool,
    /// Validate and show the plan; write nothing
    #[arg(long)]
    dry_run: bool,
}

impl From<SetFlags> for SetOptions {
    fn from(f: SetFlags) -> SetOptions {
        SetOptions {
            switch_governor: f.switch_governor,
            include_siblings: f.include_siblings,
            dry_run: f.dry_run,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    #[command(flatten)]
    Host(HostCmd),
    /// Per-VM and host power from a libvirt URI, refreshed every interval
    Top(top::TopArgs),
    /// Serve per-VM and host energy counters to Prometheus on /metrics
    Exporter(exporter::ExporterArgs),
}

/// Commands on the host's sysfs, without libvirt.
#[derive(Subcommand)]
enum HostCmd {
    /// Print CPUs, policies, governors, frequencies and RAPL zones
    Show {
        #[command(flatten)]
        host: HostArgs,
    },
    /// Change a knob (validated, read back, rolled back on failure)
    Set {
        #[command(flatten)]
        host: HostArgs,
        #[command(flatten)]
        flags: SetFlags,
        #[command(subcommand)]
        what: SetCmd,
    },
    /// Put back the original values recorded in the state directory
    Restore {
        #[command(flatten)]
        host: HostArgs,
        /// Only knobs of policies covering these CPUs
        #[arg(long)]
        cpus: Option<String>,
        /// Only this knob: governor, frequency, limits, epp, turbo, perf-pct, rapl-limit, rapl-enabled
        #[arg(long)]
        knob: Option<String>,
        /// Only this RAPL zone
        #[arg(long)]
        zone: Option<String>,
        /// Show what would be restored; write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print each RAPL zone's power, measured from energy_uj
    Energy {
        #[command(flatten)]
        host: HostArgs,
        /// Seconds between samples
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// Number of samples
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Simulated hosts
    Sim {
        #[command(subcommand)]
        cmd: SimCmd,
    },
    /// A guided tour of the library on a simulated host
    Tour {
        /// Preset of the simulated host
        #[arg(long, default_value = "two-socket")]
        preset: String,
        /// Keep the simulated host in this directory instead of a temporary one
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SetCmd {
    /// cpufreq governor
    Governor { cpus: String, governor: String },
    /// Exact frequency (userspace governor), e.g. 2.4GHz, 1800MHz, 1800000 (kHz)
    Frequency { cpus: String, frequency: String },
    /// Frequency limits
    Limits {
        cpus: String,
        #[arg(long)]
        min: Option<String>,
        #[arg(long)]
        max: Option<String>,
    },
    /// Energy-performance preference: a name (default, performance,
    /// balance_performance, ...) or a raw value 0-255
    Epp { cpus: String, epp: String },
    /// Turbo / boost: on or off
    Turbo { state: String },
    /// intel_pstate performance percent limits
    PerfPct {
        #[arg(long)]
        min: Option<u64>,
        #[arg(long)]
        max: Option<u64>,
    },
    /// RAPL power limit and/or time window, e.g. package-0 long_term --power 45W --window 28s
    RaplLimit {
        zone: String,
        constraint: String,
        #[arg(long)]
        power: Option<String>,
        #[arg(long)]
        window: Option<String>,
    },
    /// RAPL zone enable: on or off
    RaplEnabled { zone: String, state: String },
}

#[derive(Subcommand)]
enum SimCmd {
    /// Write a simulated sysfs tree
    Create {
        /// One of: acpi-cpufreq, intel-pstate-active, intel-pstate-passive, amd-pstate-epp, two-socket, two-socket-smt, two-socket-smt-offline, bios-locked, large
        #[arg(long)]
        preset: String,
        /// CPU count for the `large` preset
        #[arg(long)]
        cpus: Option<u32>,
        /// CPUs that start offline, as a CPU list (`5,13` or `8-15`; not
        /// CPU 0), added to those of the preset
        #[arg(long)]
        offline: Option<String>,
        /// Directory to create (must be absent or empty)
        dir: PathBuf,
    },
    /// Keep energy_uj and scaling_cur_freq moving from this machine's real
    /// load: real CPU N drives the package of simulated CPU N
    Run {
        dir: PathBuf,
        /// Milliseconds between updates
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// Stop after this many seconds (default: run until killed)
        #[arg(long)]
        seconds: Option<f64>,
        /// Rewrite this file after every update with the ground truth:
        /// idle and dynamic energy per package, dynamic energy per watched
        /// process, cumulative, in µJ
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Watch a process (all its threads) as NAME=PID: its share of each
        /// package's dynamic energy goes into the truth (repeatable)
        #[arg(long = "watch", value_name = "NAME=PID", value_parser = parse_watch)]
        watch: Vec<(String, i32)>,
    },
    /// Mount a simulated tree through FUSE with the kernel's write semantics
    /// (validation, clamping, EINVAL/EBUSY/EAGAIN/EACCES), in the foreground
    Mount {
        /// Simulated tree (from `sim create`) that stores the values
        backing: PathBuf,
        /// Empty directory to mount on
        mountpoint: PathBuf,
    },
}

fn parse_watch(s: &str) -> Result<(String, i32), String> {
    let (name, pid) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid watch '{s}': NAME=PID"))?;
    let pid = pid
        .parse()
        .ok()
        .filter(|p: &i32| *p > 0)
        .ok_or_else(|| format!("invalid pid '{pid}' in '{s}'"))?;
    Ok((name.to_owned(), pid))
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "1" | "yes" => Ok(true),
        "off" | "0" | "no" => Ok(false),
        _ => Err(format!("invalid setting '{s}': on or off")),
    }
}

fn print_report(r: &SetReport) {
    let t = r.to_text();
    if t.is_empty() {
        println!("nothing to change");
    } else {
        print!("{t}");
    }
}

fn print_snapshot(s: &Snapshot) {
    let f = &s.cpufreq;
    println!("driver: {}", f.driver().unwrap_or("none (no cpufreq)"));
    if let Some(ip) = &f.intel_pstate {
        println!(
            "intel_pstate: {} (turbo {}, perf {}-{}%)",
            ip.status,
            match ip.no_turbo {
                Some(true) => "off",
                Some(false) => "on",
                None => "?",
            },
            ip.min_perf_pct.map_or("?".into(), |v| v.to_string()),
            ip.max_perf_pct.map_or("?".into(), |v| v.to_string())
        );
    }
    if let Some(st) = &f.amd_pstate_status {
        println!("amd_pstate: {st}");
    }
    if let Some(b) = f.boost {
        println!("boost: {}", if b { "on" } else { "off" });
    }
    println!(
        "{:>4} {:>4} {:>5} {:>7} {:>13} {:>10} {:>10} {:>10} {:>10}  epp",
        "cpu", "pkg", "core", "policy", "governor", "cur kHz", "min kHz", "max kHz", "set kHz"
    );
    for c in &s.topology.cpus {
        // An offline CPU has no frequency data, even where its policy is
        // active for an online sibling; its policy number is still shown.
        let p = s.frequency_policy(c.cpu);
        let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        println!(
            "{:>4} {:>4} {:>5} {:>7} {:>13} {:>10} {:>10} {:>10} {:>10}  {}",
            c.cpu,
            opt(c.package.map(u64::from)),
            opt(c.core.map(u64::from)),
            opt(s.policy_id(c.cpu).map(u64::from)),
            if c.online {
                p.map_or("-", |p| p.governor.as_str())
            } else {
                "offline"
            },
            opt(p.and_then(|p| p.scaling_cur_khz)),
            opt(p.map(|p| p.scaling_min_khz)),
            opt(p.map(|p| p.scaling_max_khz)),
            match p.map(|p| &p.setspeed) {
                Some(libvirt_power::cpufreq::Setspeed::Khz(k)) => k.to_string(),
                _ => "-".into(),
            },
            p.and_then(|p| p.epp.as_deref()).unwrap_or("-"),
        );
    }
    let offline = s.topology.offline();
    if !offline.is_empty() {
        println!(
            "offline: CPUs {} (no frequency data; inactive policies: {})",
            libvirt_power::cpulist::format_cpulist(&offline),
            if f.inactive_policies.is_empty() {
                "none".to_owned()
            } else {
                libvirt_power::cpulist::format_cpulist(&f.inactive_policies)
            }
        );
    }
    if s.zones.is_empty() {
        println!("no RAPL zones");
    }
    for z in &s.zones {
        let cons: Vec<String> = z
            .constraints
            .iter()
            .map(|c| {
                format!(
                    "{}={:.3}W/{}",
                    c.name,
                    c.power_limit_uw as f64 / 1e6,
                    c.time_window_us.map_or("-".into(), |w| format!("{}us", w))
                )
            })
            .collect();
        println!(
            "zone {:<16} enabled={} energy={} uJ  {}",
            z.key,
            z.enabled.map_or("?", |e| if e { "1" } else { "0" }),
            z.energy_uj.map_or("unreadable".into(), |e| e.to_string()),
            cons.join(" ")
        );
    }
}

fn run(cmd: HostCmd) -> Result<(), String> {
    let e = |e: libvirt_power::Error| e.to_string();
    match cmd {
        HostCmd::Show { host } => print_snapshot(&host.open().map_err(e)?.snapshot().map_err(e)?),
        HostCmd::Set { host, flags, what } => {
            let h = host.open().map_err(e)?;
            let o: SetOptions = flags.into();
            let sel = |s: &str| CpuSelection::parse(s).map_err(e);
            let r = match what {
                SetCmd::Governor { cpus, governor } => h.set_governor(&sel(&cpus)?, &governor, o),
                SetCmd::Frequency { cpus, frequency } => {
                    h.set_frequency(&sel(&cpus)?, parse_frequency_khz(&frequency).map_err(e)?, o)
                }
                SetCmd::Limits { cpus, min, max } => {
                    let min = min
                        .as_deref()
                        .map(parse_frequency_khz)
                        .transpose()
                        .map_err(e)?;
                    let max = max
                        .as_deref()
                        .map(parse_frequency_khz)
                        .transpose()
                        .map_err(e)?;
                    h.set_frequency_limits(&sel(&cpus)?, min, max, o)
                }
                SetCmd::Epp { cpus, epp } => h.set_epp(&sel(&cpus)?, &epp, o),
                SetCmd::Turbo { state } => h.set_turbo(on_off(&state)?, o),
                SetCmd::PerfPct { min, max } => h.set_perf_pct(min, max, o),
                SetCmd::RaplLimit {
                    zone,
                    constraint,
                    power,
                    window,
                } => {
                    let p = power
                        .as_deref()
                        .map(parse_power_uw)
                        .transpose()
                        .map_err(e)?;
                    let w = window
                        .as_deref()
                        .map(parse_time_us)
                        .transpose()
                        .map_err(e)?;
                    h.set_rapl_limit(&zone, &constraint, p, w, o)
                }
                SetCmd::RaplEnabled { zone, state } => {
                    h.set_rapl_enabled(&zone, on_off(&state)?, o)
                }
            }
            .map_err(e)?;
            print_report(&r);
        }
        HostCmd::Restore {
            host,
            cpus,
            knob,
            zone,
            dry_run,
        } => {
            let h = host.open().map_err(e)?;
            let scope = RestoreScope {
                cpus: cpus
                    .as_deref()
                    .map(CpuSelection::parse)
                    .transpose()
                    .map_err(e)?,
                knob: knob.as_deref().map(Knob::parse).transpose().map_err(e)?,
                zone,
            };
            print_report(
                &h.restore(
                    &scope,
                    SetOptions {
                        dry_run,
                        ..SetOptions::default()
                    },
                )
                .map_err(e)?,
            );
        }
        HostCmd::Energy {
            host,
            interval,
            count,
        } => energy(&host.open().map_err(e)?, interval, count)?,
        HostCmd::Sim {
            cmd:
                SimCmd::Create {
                    preset,
                    cpus,
                    offline,
                    dir,
                },
        } => {
            let mut spec = SimSpec::preset(&preset, cpus).ok_or_else(|| {
                format!(
                    "invalid preset '{preset}': one of {}",
                    sim::PRESETS.join(", ")
                )
            })?;
            if let Some(list) = offline {
                let set = libvirt_power::cpulist::parse_cpulist("--offline", &list)
                    .map_err(|err| err.to_string())?;
                spec.offline.extend(set);
            }
            sim::generate(&dir, &spec).map_err(|err| format!("{}: {err}", dir.display()))?;
            println!(
                "simulated {} host with {} CPUs in {}{}",
                preset,
                spec.cpu_count(),
                dir.display(),
                if spec.offline.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (offline: {})",
                        libvirt_power::cpulist::format_cpulist(&spec.offline)
                    )
                }
            );
        }
        HostCmd::Sim {
            cmd:
                SimCmd::Run {
                    dir,
                    interval_ms,
                    seconds,
                    truth,
                    watch,
                },
        } => {
            let mut runner =
                sim::Runner::new(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
            for (name, pid) in &watch {
                runner
                    .watch(name, *pid)
                    .map_err(|err| format!("cannot watch {name}={pid}: {err}"))?;
            }
            runner
                .set_truth_file(truth)
                .map_err(|err| err.to_string())?;
            let start = Instant::now();
            let limit = seconds.map(Duration::from_secs_f64);
            runner
                .run(Duration::from_millis(interval_ms.max(10)), || {
                    limit.is_some_and(|l| start.elapsed() >= l)
                })
                .map_err(|err| format!("{}: {err}", dir.display()))?;
        }
        HostCmd::Sim {
            cmd: SimCmd::Mount {
                backing,
                mountpoint,
            },
        } => simfs::mount(&backing, &mountpoint)?,
        HostCmd::Tour { preset, dir } => tour(&preset, dir.as_deref())?,
    }
    Ok(())
}

fn energy(h: &Host, interval: f64, count: u32) -> Result<(), String> {
    let mut m = EnergyMeter::new(h.sysfs()).map_err(|e| e.to_string())?;
    let mut last = m.read().map_err(|e| e.to_string())?;
    if last.is_empty() {
        return Err(
            "no readable RAPL energy counters (energy_uj is root-only since Linux 5.10)".into(),
        );
    }
    for _ in 0..count.max(1) {
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(interval.max(0.01)));
        let now = m.read().map_err(|e| e.to_string())?;
        let dt = t.elapsed().as_secs_f64();
        for (a, b) in last.iter().zip(&now) {
            println!(
                "{:<16} {:>9.3} W  total {:>14} uJ",
                b.key,
                (b.total_uj - a.total_uj) as f64 / 1e6 / dt,
                b.total_uj
            );
        }
        last = now;
    }
    Ok(())
}

/// Contents of every file of a tree except the two the simulator keeps
/// moving (`energy_uj`, `scaling_cur_freq`).
fn knob_files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() && name != "energy_uj" && name != "scaling_cur_freq" {
                out.insert(
                    p.display().to_string(),
                    std::fs::read(&p).unwrap_or_default(),
                );
            }
        }
    }
    out
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn tour(preset: &str, dir: Option<&Path>) -> Result<(), String> {
    let spec = SimSpec::preset(preset, None).ok_or_else(|| {
        format!(
            "invalid preset '{preset}': one of {}",
            sim::PRESETS.join(", ")
        )
    })?;
    let tmp = std::env::temp_dir().join(format!("virt-power-tour-{}", std::process::id()));
    let base = dir.map_or(tmp.clone(), Path::to_path_buf);
    let root = base.join("sys");
    let state = base.join("state");
    sim::generate(&root, &spec).map_err(|e| format!("{}: {e}", root.display()))?;
    let e = |e: libvirt_power::Error| e.to_string();
    let h = Host::new(SysfsRoot::new(&root), Some(state.clone())).map_err(e)?;
    println!(
        "simulated '{preset}' host ({} CPUs) in {}",
        spec.cpu_count(),
        root.display()
    );

    step("current state (virt-power show)");
    print_snapshot(&h.snapshot().map_err(e)?);

    step("live energy: the simulator turns this machine's real load into RAPL energy for 1 s");
    let mut runner = sim::Runner::new(&root).map_err(|e| e.to_string())?;
    let mut m = EnergyMeter::new(h.sysfs()).map_err(e)?;
    let busy_until = Instant::now() + Duration::from_millis(1000);
    let spinner = std::thread::spawn(move || {
        let mut x: u64 = 0;
        while Instant::now() < busy_until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        x
    });
    let start = Instant::now();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        runner.tick().map_err(|e| e.to_string())?;
    }
    let _ = spinner.join();
    let dt = start.elapsed().as_secs_f64();
    for r in m.read().map_err(e)? {
        println!(
            "{:<16} {:>8.2} W  ({} uJ)",
            r.key,
            r.total_uj as f64 / 1e6 / dt,
            r.total_uj
        );
    }

    let before = knob_files(&root);
    let o = SetOptions::default();
    step("set the governor of CPUs 0-3 to performance");
    print_report(
        &h.set_governor(&CpuSelection::parse("0-3").map_err(e)?, "performance", o)
            .map_err(e)?,
    );
    step("pin CPU 0 at 2 GHz (switching to userspace), siblings included");
    let pin = h.set_frequency(
        &CpuSelection::parse("0").map_err(e)?,
        2_000_000,
        SetOptions {
            switch_governor: true,
            include_siblings: true,
            ..o
        },
    );
    match pin {
        Ok(r) => print_report(&r),
        Err(err) => {
            println!("not on this host: {err}");
            step("so cap CPUs 0-3 between 1 and 2 GHz instead");
            print_report(
                &h.set_frequency_limits(
                    &CpuSelection::parse("0-3").map_err(e)?,
                    Some(1_000_000),
                    Some(2_000_000),
                    o,
                )
                .map_err(e)?,
            );
        }
    }
    let snap = h.snapshot().map_err(e)?;
    if let Some((zone, c)) = snap
        .zones
        .iter()
        .find_map(|z| Some((z, z.constraint("long_term")?)))
    {
        // 80 % of its rated power (max_power_uw, the TDP), else of the
        // register field's range.
        let cap = c.rated_max_uw().unwrap_or(c.ceiling_uw()) / 10 * 8;
        step(&format!(
            "cap {} at 80 % of its rated power ({:.1} W) over 1 s",
            zone.key,
            cap as f64 / 1e6
        ));
        let window = c.time_window_us.map(|_| 1_000_000);
        print_report(
            &h.set_rapl_limit(&zone.key, "long_term", Some(cap), window, o)
                .map_err(e)?,
        );
    }

    step("bad input is refused and the host is left as it was");
    let bad: Vec<(&str, libvirt_power::Result<SetReport>)> = vec![
        (
            "governor 'turbo'",
            h.set_governor(&CpuSelection::All, "turbo", o),
        ),
        (
            "CPU 999",
            CpuSelection::parse("999").and_then(|s| h.set_governor(&s, "performance", o)),
        ),
        (
            "5 GHz",
            h.set_frequency(
                &CpuSelection::All,
                5_000_000,
                SetOptions {
                    switch_governor: true,
                    ..o
                },
            ),
        ),
        (
            "exact frequency under schedutil",
            h.set_frequency(&CpuSelection::parse("5").map_err(e)?, 2_000_000, o),
        ),
        (
            "5 kW on package-0",
            h.set_rapl_limit("package-0", "long_term", Some(5_000_000_000), None, o),
        ),
        (
            "zone 'gpu'",
            h.set_rapl_limit("gpu", "long_term", Some(1), None, o),
        ),
    ];
    for (what, r) in bad {
        match r {
            Ok(_) => return Err(format!("tour: {what} was accepted")),
            Err(err) => println!("{what}: {err}"),
        }
    }

    step("the original-state journal");
    let j = h
        .journal()
        .map(|j| j.load())
        .transpose()
        .map_err(e)?
        .unwrap_or_default();
    println!(
        "{} originals recorded in {}",
        j.len(),
        state.join("original-state").display()
    );

    step("restore everything");
    print_report(&h.restore(&RestoreScope::default(), o).map_err(e)?);
    sim::settle(&root).map_err(|e| e.to_string())?;
    print_snapshot(&h.snapshot().map_err(e)?);
    let after = knob_files(&root);
    if after != before {
        let differ: Vec<&String> = after
            .keys()
            .filter(|k| after.get(*k) != before.get(*k))
            .collect();
        return Err(format!(
            "tour: restore left {} files changed: {differ:?}",
            differ.len()
        ));
    }
    println!(
        "\nrestored byte for byte: {} knob files compared",
        after.len()
    );
    if dir.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = match Cli::parse().cmd {
        // libvirt failures read `virt-power: <what failed>: <libvirt message>`.
        Cmd::Top(args) => top::run(&args).map_err(|e| e.to_string()),
        Cmd::Exporter(args) => exporter::run(&args).map_err(|e| e.to_string()),
        Cmd::Host(cmd) => run(cmd).map_err(|msg| format!("error: {msg}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("virt-power: {msg}");
            ExitCode::FAILURE
        }
    }
}
