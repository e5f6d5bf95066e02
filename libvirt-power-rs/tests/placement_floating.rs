// SPDX-License-Identifier: LGPL-2.1-or-later
//! The error of the per-package split for a thread that floats between
//! packages, measured on this kernel with a real spinning process that the
//! test moves between CPU 0 and CPU 1 (`sched_setaffinity`), CPU `c` being
//! package `c`.
//!
//! The split charges a thread's run time since the last reading to the
//! package of the CPU it is on at the reading (docs/energy-attribution.md).
//! Pinned, that is exact; a thread that moves within an interval is
//! charged its time on the other package wrongly, so the error of an
//! interval is at most the time it spent away from where the reading finds
//! it. These tests show both ends: a thread that moves in step with the
//! readings (the worst case: 70 % of its time in the wrong package) and one
//! that stays on a CPU for whole intervals (exact: every interval's growth
//! goes to the package it ran on).

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use libvirt_power::perf::WeightPreference;
use libvirt_power::procfs::ProcfsRoot;
use libvirt_power::weights::{CpuPackages, PackageWeights, PerfSource, WeightSource};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pin(pid: i32, cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it for cpu < CPU_SETSIZE; sched_setaffinity reads
    // size_of::<cpu_set_t>() bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        let rc = libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "sched_setaffinity({pid}, {cpu})");
    }
}

fn two_cpus() -> bool {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n < 2 {
        println!("skipped: this machine has {n} CPU(s), the test moves a thread between two");
    }
    n >= 2
}

fn grew(now: &PackageWeights, before: &PackageWeights, p: u32) -> u64 {
    now.get(&Some(p)).copied().unwrap_or(0) - before.get(&Some(p)).copied().unwrap_or(0)
}

/// Runs `intervals` intervals of `interval`; within each, the spinner
/// sits on CPU 0 for `on_0` then on CPU 1 for the rest, and is read at
/// the end. Returns, summed over the intervals, the run time charged to
/// each package and the run time it really had there (`schedstat` read at
/// each move).
fn run(on_0: Duration, interval: Duration, intervals: usize) -> ([u64; 2], [u64; 2]) {
    let spin = Kill(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    );
    let pid = spin.0.id() as i32;
    let run_ns = || ProcfsRoot::default().thread_run_ns(pid, pid).unwrap();
    pin(pid, 0);
    let packages = CpuPackages::from_map(BTreeMap::from([(0, 0), (1, 1)]));
    let mut source =
        PerfSource::new(&ProcfsRoot::default(), WeightPreference::CpuTime, [0, 1]).unwrap();
    let mut d = source.open(pid).unwrap();
    let first = d.read(&packages).unwrap();
    let mut truth = [0u64; 2];
    let mut mark = run_ns();
    for _ in 0..intervals {
        let start = Instant::now();
        pin(pid, 0);
        std::thread::sleep(on_0);
        let moved = run_ns();
        pin(pid, 1);
        truth[0] += moved - mark;
        std::thread::sleep(interval.saturating_sub(start.elapsed()));
        mark = run_ns();
        truth[1] += mark - moved;
    }
    let last = d.read(&packages).unwrap();
    ([grew(&last, &first, 0), grew(&last, &first, 1)], truth)
}

#[test]
fn a_thread_moving_in_step_with_the_readings_is_charged_where_it_is_read() {
    if !two_cpus() {
        return;
    }
    // 700 ms on package 0, 300 ms on package 1, read on package 1.
    let (charged, truth) = run(Duration::from_millis(700), Duration::from_millis(1000), 4);
    let all = truth[0] + truth[1];
    let wrong = charged[0].abs_diff(truth[0]);
    println!(
        "floating in step with the readings: ran {:.0} ms on package 0 and {:.0} ms on package 1; \
         charged {:.0} and {:.0} ms: {:.0} % of its time in the wrong package",
        truth[0] as f64 / 1e6,
        truth[1] as f64 / 1e6,
        charged[0] as f64 / 1e6,
        charged[1] as f64 / 1e6,
        100.0 * wrong as f64 / all.max(1) as f64
    );
    assert!(all > 0, "the spinner did not run");
    // Everything goes to the package where the readings find it: the
    // error is its whole time on package 0 (about 70 %).
    assert_eq!(charged[0], 0);
    assert!(wrong * 2 >= all, "error {wrong} of {all}");
}

/// Stops (`stop`) or resumes the spinner and, when stopping, waits until
/// the kernel shows it stopped, so that nothing runs between two reads.
fn signal(pid: i32, stop: bool) {
    let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
    // SAFETY: kill(2) with a pid this test spawned and still owns.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
    let deadline = Instant::now() + Duration::from_secs(10);
    while stop && ProcfsRoot::default().pid_stat(pid).unwrap().state != 'T' {
        assert!(Instant::now() < deadline, "{pid} did not stop");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_thread_that_moves_only_between_readings_is_charged_exactly() {
    if !two_cpus() {
        return;
    }
    // Whole intervals on one CPU: the move happens right after a reading,
    // so each interval's whole growth of the domain's counter must go to
    // the package it ran on. The spinner is stopped while it is read, so
    // that nothing runs between the reads even when this machine is loaded.
    let packages = CpuPackages::from_map(BTreeMap::from([(0, 0), (1, 1)]));
    let spin = Kill(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    );
    let pid = spin.0.id() as i32;
    pin(pid, 0);
    signal(pid, true);
    let mut source =
        PerfSource::new(&ProcfsRoot::default(), WeightPreference::CpuTime, [0, 1]).unwrap();
    let mut d = source.open(pid).unwrap();
    let run_ns = || ProcfsRoot::default().thread_run_ns(pid, pid).unwrap();
    let first = d.read(&packages).unwrap();
    let mut last = first.clone();
    let mut value = d.value();
    let mut mark = run_ns();
    let mut counted = [0u64; 2];
    let mut ran = [0u64; 2];
    for i in 0..4 {
        let cpu = i % 2;
        pin(pid, cpu);
        signal(pid, false);
        std::thread::sleep(Duration::from_millis(500));
        signal(pid, true);
        let now = d.read(&packages).unwrap();
        let at = run_ns();
        let other = 1 - cpu as u32;
        assert_eq!(grew(&now, &last, other), 0, "interval {i}: {now:?}");
        assert_eq!(
            grew(&now, &last, cpu as u32),
            d.value() - value,
            "interval {i}: {now:?}"
        );
        counted[cpu] += d.value() - value;
        ran[cpu] += at - mark;
        value = d.value();
        mark = at;
        last = now;
    }
    // Per package, the split's total is exactly the counter's growth while
    // the thread was there. The counter is task-clock, which counts steal
    // time where schedstat does not, so against schedstat it is only shown.
    for (p, (counted, ran)) in (0u32..).zip(counted.into_iter().zip(ran)) {
        let got = grew(&last, &first, p);
        println!(
            "package {p}: charged {got} ns, task-clock there {counted} ns, schedstat there {ran} ns"
        );
        assert!(
            counted > 0 && ran > 0,
            "the spinner did not run on package {p}"
        );
        assert_eq!(got, counted, "package {p}");
    }
}
