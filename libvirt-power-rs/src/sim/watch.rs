// SPDX-License-Identifier: LGPL-2.1-or-later
//! Watched process groups of the [`Runner`](super::Runner): a name and a
//! pid (a guest's QEMU process, all its threads), and the CPU time its
//! threads ran on each real CPU between two samples.
//!
//! A sample reads, for every thread `tid` in `/proc/<pid>/task`, the run
//! time in ns (first field of `task/<tid>/schedstat`, the scheduler's
//! `sum_exec_runtime`) and the CPU it last ran on (field 39, `processor`,
//! of `task/<tid>/stat`); the time a thread ran since the last sample is
//! charged to that CPU. A thread that migrated between two samples is
//! therefore charged to the CPU it is on at the second; a thread that
//! exited since the last sample loses the time it ran in between; a thread
//! born since is charged its whole run time.
//!
//! A pid is bound to the process that had it when it was watched, by its
//! start time (field 22 of `/proc/<pid>/stat`): when the pid is gone or
//! names a newer process, the group is [`gone`](ProcessGroup::gone) for
//! good and is charged nothing more.

use std::collections::BTreeMap;
use std::fs;
use std::io;

use crate::procfs::ProcfsRoot;

/// One watched process and the run time of its threads at the last sample.
#[derive(Debug, Clone)]
pub struct ProcessGroup {
    /// The process id.
    pub pid: i32,
    /// Its start time, clock ticks after boot, when it was watched.
    pub start_ticks: u64,
    /// Whether the process has exited (or its pid is now another's).
    pub gone: bool,
    /// Run time of each thread at the last sample, ns.
    threads: BTreeMap<i32, u64>,
}

/// One thread's run time and CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ThreadSample {
    run_ns: u64,
    cpu: u32,
}

impl ProcessGroup {
    /// Watches process `pid`: records its start time and takes the first
    /// sample. A pid with no process is [`io::ErrorKind::NotFound`].
    pub fn new(procfs: &ProcfsRoot, pid: i32) -> io::Result<ProcessGroup> {
        let start_ticks = procfs
            .pid_stat(pid)
            .map_err(|e| at(procfs, &format!("{pid}/stat"), e))?
            .start_ticks;
        let mut group = ProcessGroup {
            pid,
            start_ticks,
            gone: false,
            threads: BTreeMap::new(),
        };
        group.sample(procfs)?;
        Ok(group)
    }

    /// The run time, ns, of the group's threads on each real CPU since the
    /// last sample. Empty for a group that is gone; the first sample that
    /// finds the process gone (or its pid reused) marks it so and charges
    /// nothing.
    pub fn sample(&mut self, procfs: &ProcfsRoot) -> io::Result<BTreeMap<u32, u64>> {
        if self.gone {
            return Ok(BTreeMap::new());
        }
        let tids = match procfs.tasks(self.pid) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.gone = true;
                return Ok(BTreeMap::new());
            }
            Err(e) => return Err(at(procfs, &format!("{}/task", self.pid), e)),
        };
        let mut now = BTreeMap::new();
        for tid in tids {
            // A thread that exits while we read it is skipped.
            if let Some(s) = read_thread(procfs, self.pid, tid) {
                now.insert(tid, s);
            }
        }
        // Checked after the threads were read: if the pid still names the
        // same process, the threads were its own.
        if !self.same_process(procfs) {
            self.gone = true;
            return Ok(BTreeMap::new());
        }
        let mut per_cpu: BTreeMap<u32, u64> = BTreeMap::new();
        for (tid, s) in &now {
            let before = self.threads.get(tid).copied().unwrap_or(0);
            // A run time that went backwards is a new thread with a
            // reused tid.
            let ran = if s.run_ns >= before {
                s.run_ns - before
            } else {
                s.run_ns
            };
            *per_cpu.entry(s.cpu).or_default() += ran;
        }
        self.threads = now.into_iter().map(|(t, s)| (t, s.run_ns)).collect();
        Ok(per_cpu)
    }

    fn same_process(&self, procfs: &ProcfsRoot) -> bool {
        procfs
            .pid_stat(self.pid)
            .is_ok_and(|s| s.start_ticks == self.start_ticks && s.state != 'Z')
    }
}

fn at(procfs: &ProcfsRoot, rel: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", procfs.path(rel).display()))
}

fn read_thread(procfs: &ProcfsRoot, pid: i32, tid: i32) -> Option<ThreadSample> {
    let dir = procfs.path(&format!("{pid}/task/{tid}"));
    let run_ns = parse_schedstat_run_ns(&fs::read_to_string(dir.join("schedstat")).ok()?)?;
    let cpu = parse_task_cpu(&fs::read_to_string(dir.join("stat")).ok()?)?;
    Some(ThreadSample { run_ns, cpu })
}

/// The run time, ns, in a `schedstat` line (`run_ns wait_ns timeslices`).
pub fn parse_schedstat_run_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Field 39 (`processor`, the CPU the task last ran on) of a
/// `/proc/<pid>/task/<tid>/stat` line. The fields resume after the last
/// `)`, as the command name may hold spaces and parentheses.
pub fn parse_task_cpu(text: &str) -> Option<u32> {
    let rest = &text[text.rfind(')')? + 1..];
    // Field 3 is the first after the command.
    rest.split_whitespace().nth(39 - 3)?.parse().ok()
}

/// Fake `/proc` threads for tests.
#[cfg(test)]
pub(crate) mod fixture {
    use std::fs;
    use std::path::Path;

    /// A `stat` line of a thread with start time `start` last on `cpu`.
    pub(crate) fn task_stat(tid: i32, start: u64, cpu: u32) -> String {
        format!(
            "{tid} (CPU 0/KVM) R 1 {tid} {tid} 0 -1 4194560 0 0 0 0 500 20 0 0 20 0 3 0 {start} \
             2474221568 71466 18446744073709551615 1 1 0 0 0 0 0 4096 1098993390 0 0 0 17 {cpu} \
             0 0 0 0 0\n"
        )
    }

    /// Writes thread `tid` of process `pid` (started at `start`) under the
    /// fake procfs `root`: last on `cpu`, `run_ns` of run time. The main
    /// thread (`tid == pid`) writes `<pid>/stat` too.
    pub(crate) fn thread(root: &Path, pid: i32, tid: i32, start: u64, cpu: u32, run_ns: u64) {
        let d = root.join(format!("{pid}/task/{tid}"));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("stat"), task_stat(tid, start, cpu)).unwrap();
        fs::write(d.join("schedstat"), format!("{run_ns} 1000 7\n")).unwrap();
        if tid == pid {
            fs::write(root.join(format!("{pid}/stat")), task_stat(tid, start, cpu)).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{task_stat, thread};
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn fields() {
        assert_eq!(parse_task_cpu(&task_stat(5, 77, 3)), Some(3));
        assert_eq!(
            crate::procfs::parse_pid_stat(&task_stat(5, 77, 3))
                .unwrap()
                .start_ticks,
            77
        );
        assert_eq!(parse_task_cpu("5 (a) b) R 1 2"), None);
        assert_eq!(parse_schedstat_run_ns("123 4 5\n"), Some(123));
        assert_eq!(parse_schedstat_run_ns(""), None);
        // This very thread, on the real /proc.
        let me = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!((parse_task_cpu(&me).unwrap() as usize) < cpus.max(1024));
    }

    #[test]
    fn deltas_per_cpu_new_threads_migration_and_reuse() {
        let dir = TempDir::new("sim-watch");
        let procfs = ProcfsRoot::new(dir.path());
        thread(dir.path(), 40, 40, 900, 0, 1_000);
        thread(dir.path(), 40, 41, 900, 1, 5_000);
        let mut g = ProcessGroup::new(&procfs, 40).unwrap();
        assert!(g.sample(&procfs).unwrap().values().all(|&v| v == 0));
        // 41 moved to CPU 0 and ran 3000 ns; 42 was born on CPU 1.
        thread(dir.path(), 40, 40, 900, 0, 1_500);
        thread(dir.path(), 40, 41, 900, 0, 8_000);
        thread(dir.path(), 40, 42, 900, 1, 700);
        let d = g.sample(&procfs).unwrap();
        assert_eq!(d, BTreeMap::from([(0, 500 + 3_000), (1, 700)]));
        // 41 exits; its tid comes back as a new thread with less run time.
        thread(dir.path(), 40, 41, 900, 1, 200);
        let d = g.sample(&procfs).unwrap();
        assert_eq!(d, BTreeMap::from([(0, 0), (1, 200)]));
        // The pid now names another process: nothing more, for good.
        thread(dir.path(), 40, 40, 901, 0, 9_000_000);
        assert!(g.sample(&procfs).unwrap().is_empty());
        assert!(g.gone);
        thread(dir.path(), 40, 40, 900, 0, 9_000_000);
        assert!(g.sample(&procfs).unwrap().is_empty());
        // An absent pid.
        let err = ProcessGroup::new(&procfs, 77).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("77/stat"), "{err}");
    }

    #[test]
    fn an_exited_process_is_gone() {
        let dir = TempDir::new("sim-watch-exit");
        let procfs = ProcfsRoot::new(dir.path());
        thread(dir.path(), 50, 50, 10, 1, 0);
        let mut g = ProcessGroup::new(&procfs, 50).unwrap();
        fs::remove_dir_all(dir.path().join("50")).unwrap();
        assert!(g.sample(&procfs).unwrap().is_empty());
        assert!(g.gone);
    }
}
