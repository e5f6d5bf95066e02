// SPDX-License-Identifier: LGPL-2.1-or-later
//! What per-domain energy accounting costs the patched daemon.
//!
//!   cargo bench --bench energy_accounting
//!
//! 1. The daemon's CPU time per second of wall time with
//!    `power_accounting = 1` and `= 0` in qemu.conf, with 1, 4 and 8 idle
//!    guests running (the halting kernel of `tests/guests/idle.S`, so the
//!    guests themselves leave the cores alone). The sides run in the
//!    rounds on, off, off, on, each with a fresh daemon (the setting is
//!    read at start) over the same simulated host, whose RAPL counters
//!    advance every 100 ms from this machine's real load
//!    (`libvirt_power::sim::Runner`), so the accounting has energy to
//!    split. In a round the guests are booted 1, then 3 more, then 4 more;
//!    after each step and a settling pause the daemon's CPU time is read
//!    over a window in which nothing else talks to it. The CPU time is
//!    utime + stime of the whole process, read with the process's CPU-time
//!    clock (`clock_getcpuclockid(3)`, nanoseconds) rather than from
//!    `/proc/<pid>/stat`, whose clock ticks (10 ms) are as coarse as the
//!    whole difference over a window; the tick figure is printed beside it
//!    in the per-round lines as a cross-check.
//! 2. With accounting on, 1 and 8 guests: the latency of
//!    `virConnectGetAllDomainStats(CPU_TOTAL | STATE)` against the same
//!    with `| ENERGY`, by `benches/stats_latency.c`, compiled at bench time
//!    against build/prefix's libvirt (into Cargo's target tmp dir).
//!
//! Per side it reports the median over its rounds, the ratio on/off and
//! the difference. The result lines start with `bench energy:`; per-round
//! lines with `bench energy round`.
//!
//! Needs root (system-mode daemon) and build/prefix; without them it
//! prints `skipped: <reason>` and exits 0, unless
//! `LIBVIRT_POWER_REQUIRE_E2E=1`, which makes that a failure. The daemon,
//! virtlogd and guests come from the test harness in `tests/support`
//! (which serializes daemons with a lock on build/prefix).

#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cpu_time::{clock_ticks_per_s, measure, median};
use report::{guests_word, ratio, side};
use support::daemon::{self, Daemon, SimHost};
use support::guests::{self, EnergySource, Guest, GuestHost, IDLE_LINE};

/// The daemon's setting in each round, in order.
const ROUNDS: [bool; 4] = [true, false, false, true];
/// Running guests while measuring, in order within a round.
const GUEST_COUNTS: [usize; 3] = [1, 4, 8];
/// Guest counts at which the stats latency is measured (accounting on).
const LATENCY_AT: [usize; 2] = [1, 8];
/// From `virsh start` to the guest's debugcon line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause after the last guest booted (or the last call) before a window.
const SETTLE: Duration = Duration::from_secs(3);
/// One CPU-time window.
const WINDOW: Duration = Duration::from_secs(6);
/// `stats_latency -r ROUNDS -n CALLS`: 500 calls of each kind, in blocks
/// of 5 (the two kinds alternate every ~25 ms at 8 guests).
const LATENCY_ROUNDS: u32 = 100;
const LATENCY_CALLS: u32 = 5;

// ------------------------------------------------------------ energy source

// ------------------------------------------------------------ stats_latency

/// The directory of build/prefix's libvirt.so.0 (lib, lib64 or
/// lib/<multiarch>).
fn prefix_libdir() -> Option<PathBuf> {
    let prefix = daemon::prefix();
    let mut dirs = vec![prefix.join("lib"), prefix.join("lib64")];
    if let Ok(entries) = fs::read_dir(prefix.join("lib")) {
        dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    dirs.into_iter().find(|d| d.join("libvirt.so.0").exists())
}

/// Compiles `benches/stats_latency.c` against build/prefix; `Err` is why
/// no C compiler runs.
fn build_stats_latency() -> Result<PathBuf, String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let have_cc = Command::new(&cc)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_cc {
        return Err(format!("no C compiler: '{cc} --version' does not run"));
    }
    let libdir = prefix_libdir().unwrap_or_else(|| {
        panic!(
            "no libvirt.so.0 under {}/lib*: run scripts/build-libvirt",
            daemon::prefix().display()
        )
    });
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/stats_latency.c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stats_latency");
    let r = daemon::run(
        Command::new(&cc)
            .args(["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"])
            .arg("-I")
            .arg(daemon::prefix().join("include"))
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .arg("-L")
            .arg(&libdir)
            .arg("-lvirt")
            .arg(format!("-Wl,-rpath,{}", libdir.display())),
    );
    assert!(r.ok(), "cannot compile {}:\n{r}", src.display());
    Ok(out)
}

/// Latencies of one `stats_latency` run (medians, 90th percentiles), µs.
struct Latency {
    without: f64,
    with: f64,
    without_p90: f64,
    with_p90: f64,
}

fn stats_latency(bin: &Path, uri: &str, domains: usize) -> Latency {
    let r = daemon::run(
        daemon::timed(bin)
            .arg("-r")
            .arg(LATENCY_ROUNDS.to_string())
            .arg("-n")
            .arg(LATENCY_CALLS.to_string())
            .arg("-d")
            .arg(domains.to_string())
            .arg(uri),
    );
    assert!(r.ok(), "stats_latency failed:\n{r}");
    let fields: BTreeMap<&str, f64> = r
        .stdout
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    let get = |k: &str| {
        *fields
            .get(k)
            .unwrap_or_else(|| panic!("no {k} in the output of stats_latency:\n{r}"))
    };
    Latency {
        without: get("without_median_us"),
        with: get("with_median_us"),
        without_p90: get("without_p90_us"),
        with_p90: get("with_p90_us"),
    }
}

// ------------------------------------------------------------ CPU time

// ------------------------------------------------------------ report

// ------------------------------------------------------------ main

fn main() {
    let started = Instant::now();
    require_root!();
    if !daemon::prefix().join("sbin/virtqemud").is_file() {
        skip_or_fail!(
            "libvirt is not built in {}: run scripts/build-libvirt",
            daemon::prefix().display()
        );
    }
    daemon::require_patched();
    let stats_bin = match build_stats_latency() {
        Ok(p) => p,
        Err(reason) => skip_or_fail!("{reason}"),
    };
    let (accel, why) = guests::accel();
    let kernels = guests::build_kernels();
    let hz = clock_ticks_per_s();
    let max_guests = *GUEST_COUNTS.iter().max().unwrap();
    println!(
        "bench energy setup: {accel} ({why}); rounds {}; {:?} idle guests of {} MiB; \
         {WINDOW:?} windows after {SETTLE:?} settling; daemon CPU from its CPU-time clock",
        ROUNDS.map(side).join(","),
        GUEST_COUNTS,
        guests::MEMORY_MIB
    );

    let energy = EnergySource::start(SimHost::plain("acpi-cpufreq"));
    // (accounting on, guests) -> ms of CPU per s, one per round.
    let mut cpu: BTreeMap<(bool, usize), Vec<f64>> = BTreeMap::new();
    // guests -> latencies, one per round with accounting on.
    let mut lat: BTreeMap<usize, Vec<Latency>> = BTreeMap::new();

    for (r, &on) in ROUNDS.iter().enumerate() {
        let conf = if on {
            "power_accounting = 1"
        } else {
            "power_accounting = 0"
        };
        let mut gh = GuestHost::new(Daemon::patched_with(&energy.host.root, false, conf));
        let pid = gh.daemon.pid();
        let mut running: Vec<Guest> = Vec::new();
        for &n in &GUEST_COUNTS {
            let boot_start = Instant::now();
            while running.len() < n {
                let g = gh.guest(&format!("bench-{}", running.len()), &kernels.idle, accel);
                gh.define(&g);
                let t = Instant::now();
                gh.start(&g);
                gh.wait_debugcon(&g, IDLE_LINE, t, BOOT_TIMEOUT);
                running.push(g);
            }
            let booted = boot_start.elapsed();
            std::thread::sleep(SETTLE);
            // The accounting really runs (or does not): the guests' energy
            // interval before and after the window. The daemon finishes
            // with virsh's connection before the window starts.
            let tick0 = gh.energy_tick();
            std::thread::sleep(Duration::from_millis(300));
            let w = measure(pid, WINDOW, hz);
            let tick1 = gh.energy_tick();
            let intervals = match (on, tick0, tick1) {
                (true, Some(a), Some(b)) => {
                    let min = WINDOW.as_secs() - 1;
                    assert!(
                        b >= a + min,
                        "accounting on, but only {} intervals in a {WINDOW:?} window",
                        b.saturating_sub(a)
                    );
                    format!("{} accounting intervals", b - a)
                }
                (false, None, None) => "no energy stats".into(),
                _ => panic!(
                    "accounting {}, but energy.tick {tick0:?} -> {tick1:?}",
                    side(on)
                ),
            };
            println!(
                "bench energy round {}/{} (accounting {}), {n} {}: daemon CPU {:.3} ms/s over \
                 {:.2?} (/proc/{pid}/stat: {} ticks, {:.2} ms/s); {intervals}; booted in {:.1?}",
                r + 1,
                ROUNDS.len(),
                side(on),
                guests_word(n),
                w.ms_per_s,
                w.wall,
                w.ticks,
                w.tick_ms_per_s,
                booted
            );
            cpu.entry((on, n)).or_default().push(w.ms_per_s);

            if on && LATENCY_AT.contains(&n) {
                let l = stats_latency(&stats_bin, &gh.daemon.uri, n);
                println!(
                    "bench energy round {}/{} (accounting on), {n} {}: GetAllDomainStats \
                     without energy {:.1} us (p90 {:.1}), with energy {:.1} us (p90 {:.1})",
                    r + 1,
                    ROUNDS.len(),
                    guests_word(n),
                    l.without,
                    l.without_p90,
                    l.with,
                    l.with_p90
                );
                lat.entry(n).or_default().push(l);
            }
        }
        assert_eq!(running.len(), max_guests);
        gh.daemon.assert_answers(&gh.virsh);
        // Destroys and undefines the guests, stops virtlogd and the daemon.
        drop(gh);
    }
    drop(energy);

    let rounds_per_side = |on: bool| ROUNDS.iter().filter(|&&s| s == on).count();
    for &n in &GUEST_COUNTS {
        let on = median(&cpu[&(true, n)]);
        let off = median(&cpu[&(false, n)]);
        println!(
            "bench energy: daemon CPU, {n} {}: on {on:.3} ms/s, off {off:.3} ms/s, ratio {} \
             ({:+.3} ms/s = {:+.4}% of one CPU) [median of {} on / {} off rounds]",
            guests_word(n),
            ratio(on, off),
            on - off,
            (on - off) / 10.0,
            rounds_per_side(true),
            rounds_per_side(false)
        );
    }
    for (n, ls) in &lat {
        let without = median(&ls.iter().map(|l| l.without).collect::<Vec<_>>());
        let with = median(&ls.iter().map(|l| l.with).collect::<Vec<_>>());
        println!(
            "bench energy: GetAllDomainStats latency ({n} {}, accounting on): without energy \
             {without:.0} us, with energy {with:.0} us, ratio {} ({:+.0} us) [{} calls each, \
             median of {} runs]",
            guests_word(*n),
            ratio(with, without),
            with - without,
            LATENCY_ROUNDS * LATENCY_CALLS,
            ls.len()
        );
    }
    println!("bench energy setup: total {:.0?}", started.elapsed());
}
