// SPDX-License-Identifier: LGPL-2.1-or-later
//! What the per-package split of the domains' weights costs the patched
//! daemon.
//!
//!   cargo bench --bench energy_split
//!
//! The daemon's CPU time per second of wall time, and per guest, with the
//! split on (the default) and off (`LIBVIRT_POWER_ACCOUNTING_SPLIT=0` in
//! the daemon's environment: each domain's weight then counts for every
//! package zone, as before the split), with 1, 4 and 8 idle guests
//! running (the halting kernel of `tests/guests/idle.S`, so the guests
//! leave the cores alone). The sides run in the rounds on, off, off, on,
//! each with a fresh daemon (the variable is read at start) over a fresh
//! simulated `two-socket-smt` host (two packages, so the split has work to
//! do) whose RAPL counters advance every 100 ms from this machine's real
//! load (`libvirt_power::sim::Runner`). In a round the guests are booted 1,
//! then 3 more, then 4 more; after each step and a settling pause the
//! daemon's CPU time is read over a window in which nothing else talks to
//! it (`benches/common/cpu_time.rs`: the process's CPU-time clock, with
//! `/proc/<pid>/stat` ticks beside it in the per-round lines). Each round
//! checks that the daemon's environment holds the side's setting and that
//! the accounting ran through the window.
//!
//! The daemon inherits this process's environment (the harness sets only
//! the sysfs root), so the variable is set here between rounds, while no
//! other thread of this process runs.
//!
//! Per side it reports the median over its rounds, the ratio on/off and the
//! difference per guest; also the threads per QEMU process (the split reads
//! two files per thread per interval). The result lines start with
//! `bench energy-split:`; per-round lines with `bench energy-split round`.
//!
//! Needs root (system-mode daemon) and build/prefix; without them it
//! prints `skipped: <reason>` and exits 0, unless
//! `LIBVIRT_POWER_REQUIRE_E2E=1`, which makes that a failure.

#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use cpu_time::{clock_ticks_per_s, measure, median};
use report::{guests_word, ratio, side};
use support::daemon::{self, Daemon, SimHost};
use support::guests::{self, EnergySource, Guest, GuestHost, IDLE_LINE};

/// The daemon's switch for the split (`docs/energy-attribution.md`).
const SPLIT_ENV: &str = "LIBVIRT_POWER_ACCOUNTING_SPLIT";
/// The simulated host: two packages.
const PRESET: &str = "two-socket-smt";
/// Split on in each round, in order.
const ROUNDS: [bool; 4] = [true, false, false, true];
/// Running guests while measuring, in order within a round.
const GUEST_COUNTS: [usize; 3] = [1, 4, 8];
/// From `virsh start` to the guest's debugcon line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
/// Pause after the last guest booted before a window.
const SETTLE: Duration = Duration::from_secs(3);
/// One CPU-time window.
const WINDOW: Duration = Duration::from_secs(8);

/// `SPLIT_ENV` in the environment of process `pid`.
fn env_of(pid: u32) -> Option<String> {
    let path = format!("/proc/{pid}/environ");
    let raw = fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    raw.split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix(&format!("{SPLIT_ENV}=")))
        .map(str::to_owned)
}

/// Threads of process `pid`.
fn threads(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

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
    let (accel, why) = guests::accel();
    let kernels = guests::build_kernels();
    let hz = clock_ticks_per_s();
    let max_guests = *GUEST_COUNTS.iter().max().unwrap();
    println!(
        "bench energy-split setup: {accel} ({why}); {PRESET}; rounds {}; {:?} idle guests of \
         {} MiB; {WINDOW:?} windows after {SETTLE:?} settling; daemon CPU from its CPU-time \
         clock; split off = {SPLIT_ENV}=0",
        ROUNDS.map(side).join(","),
        GUEST_COUNTS,
        guests::MEMORY_MIB
    );

    // (split on, guests) -> ms of CPU per s, one per round.
    let mut cpu: BTreeMap<(bool, usize), Vec<f64>> = BTreeMap::new();
    let mut qemu_threads = Vec::new();
    for (r, &on) in ROUNDS.iter().enumerate() {
        // SAFETY: no other thread of this process runs here: the bench has
        // no test harness, and the previous round's energy source joined
        // its thread when it was dropped; the daemon started below
        // inherits the environment.
        unsafe {
            if on {
                std::env::remove_var(SPLIT_ENV);
            } else {
                std::env::set_var(SPLIT_ENV, "0");
            }
        }
        let energy = EnergySource::start(SimHost::plain(PRESET));
        let mut gh = GuestHost::new(Daemon::patched(&energy.host.root, false));
        let pid = gh.daemon.pid();
        let seen = env_of(pid);
        assert_eq!(
            seen.as_deref(),
            if on { None } else { Some("0") },
            "the daemon's {SPLIT_ENV} is not the round's setting"
        );
        let mut running: Vec<Guest> = Vec::new();
        for &n in &GUEST_COUNTS {
            let boot_start = Instant::now();
            let new: Vec<Guest> = (running.len()..n)
                .map(|i| gh.guest(&format!("split-{i}"), &kernels.idle, accel))
                .collect();
            for g in &new {
                gh.define(g);
                gh.start(g);
            }
            for g in &new {
                gh.wait_debugcon(g, IDLE_LINE, boot_start, BOOT_TIMEOUT);
            }
            running.extend(new);
            let booted = boot_start.elapsed();
            std::thread::sleep(SETTLE);
            if qemu_threads.is_empty() {
                qemu_threads.push(threads(gh.qemu_pid(&running[0])));
            }
            let tick0 = gh.energy_tick();
            std::thread::sleep(Duration::from_millis(300));
            let w = measure(pid, WINDOW, hz);
            let tick1 = gh.energy_tick();
            let intervals = match (tick0, tick1) {
                (Some(a), Some(b)) => {
                    let min = WINDOW.as_secs() - 1;
                    assert!(
                        b >= a + min,
                        "only {} accounting intervals in a {WINDOW:?} window",
                        b.saturating_sub(a)
                    );
                    b - a
                }
                _ => panic!("no energy stats: energy.tick {tick0:?} -> {tick1:?}"),
            };
            println!(
                "bench energy-split round {}/{} (split {}), {n} {}: daemon CPU {:.3} ms/s \
                 ({:.3} ms/s per guest) over {:.2?} (/proc/{pid}/stat: {} ticks, {:.2} ms/s); \
                 {intervals} accounting intervals; booted in {:.1?}",
                r + 1,
                ROUNDS.len(),
                side(on),
                guests_word(n),
                w.ms_per_s,
                w.ms_per_s / n as f64,
                w.wall,
                w.ticks,
                w.tick_ms_per_s,
                booted
            );
            cpu.entry((on, n)).or_default().push(w.ms_per_s);
        }
        assert_eq!(running.len(), max_guests);
        gh.daemon.assert_answers(&gh.virsh);
        // Destroys and undefines the guests, stops virtlogd and the daemon,
        // then the energy source's thread.
        drop(gh);
        drop(energy);
    }
    // SAFETY: as above; the last round's energy source has been dropped.
    unsafe { std::env::remove_var(SPLIT_ENV) };

    let rounds = |on: bool| ROUNDS.iter().filter(|&&s| s == on).count();
    for &n in &GUEST_COUNTS {
        let on = median(&cpu[&(true, n)]);
        let off = median(&cpu[&(false, n)]);
        println!(
            "bench energy-split: daemon CPU, {n} {}: split on {on:.3} ms/s ({:.3} per guest), \
             off {off:.3} ms/s ({:.3} per guest), ratio on/off {} ({:+.3} ms/s per guest) \
             [median of {} on / {} off rounds]",
            guests_word(n),
            on / n as f64,
            off / n as f64,
            ratio(on, off),
            (on - off) / n as f64,
            rounds(true),
            rounds(false)
        );
    }
    println!(
        "bench energy-split: threads per idle guest's QEMU: {:?} (the split reads schedstat and \
         stat of each, every interval)",
        qemu_threads
    );
    println!("bench energy-split setup: total {:.0?}", started.elapsed());
}
