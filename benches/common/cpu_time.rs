// SPDX-License-Identifier: LGPL-2.1-or-later
//! A process's CPU time over a window, for the benchmarks: utime + stime of
//! the whole process from its CPU-time clock (`clock_getcpuclockid(3)`,
//! nanoseconds), with the `/proc/<pid>/stat` clock ticks beside it as a
//! cross-check (10 ms ticks are as coarse as the whole difference over a
//! window of a mostly idle daemon); and the median the benchmarks report.

use std::fs;
use std::time::{Duration, Instant};

/// utime + stime of the whole process `pid` (every thread, also those that
/// exited), from its CPU-time clock.
pub fn process_cpu_time(pid: u32) -> Duration {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    let mut clock: libc::clockid_t = 0;
    // SAFETY: clock_getcpuclockid(3) only writes one clockid_t to `clock`,
    // a local that outlives the call.
    let rc = unsafe { libc::clock_getcpuclockid(pid, &mut clock) };
    assert_eq!(
        rc,
        0,
        "clock_getcpuclockid({pid}): {}",
        std::io::Error::from_raw_os_error(rc)
    );
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) only writes one timespec to `ts`, a local
    // that outlives the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(
        rc,
        0,
        "clock_gettime(CPU clock of {pid}): {}",
        std::io::Error::last_os_error()
    );
    Duration::new(
        u64::try_from(ts.tv_sec).expect("CPU time >= 0"),
        u32::try_from(ts.tv_nsec).expect("nanoseconds < 1e9"),
    )
}

/// utime + stime from `/proc/<pid>/stat`, clock ticks.
pub fn stat_ticks(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/stat");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // "pid (comm) state ppid ...": utime and stime are fields 14 and 15,
    // the 12th and 13th after the command name (which may hold spaces).
    let rest = &text[text.rfind(')').expect("(comm)") + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| -> u64 {
        f[i].parse()
            .unwrap_or_else(|e| panic!("{path}: field {}: {e}", i + 3))
    };
    num(11) + num(12)
}

pub fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf(3) has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(hz > 0, "sysconf(_SC_CLK_TCK) = {hz}");
    hz as f64
}

/// A process's CPU use over one window.
pub struct Window {
    /// ms of CPU per s of wall time, from the CPU-time clock.
    pub ms_per_s: f64,
    /// The same from `/proc/<pid>/stat`.
    pub ticks: u64,
    pub tick_ms_per_s: f64,
    pub wall: Duration,
}

/// The CPU use of process `pid` over `window` (`hz`: clock ticks per s).
pub fn measure(pid: u32, window: Duration, hz: f64) -> Window {
    let (t0, c0, k0) = (Instant::now(), process_cpu_time(pid), stat_ticks(pid));
    std::thread::sleep(window);
    let (c1, k1) = (process_cpu_time(pid), stat_ticks(pid));
    let wall = t0.elapsed();
    let secs = wall.as_secs_f64();
    let ticks = k1 - k0;
    Window {
        ms_per_s: (c1 - c0).as_secs_f64() * 1e3 / secs,
        ticks,
        tick_ms_per_s: ticks as f64 * 1e3 / hz / secs,
        wall,
    }
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    assert!(n > 0, "median of nothing");
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
