// SPDX-License-Identifier: LGPL-2.1-or-later
//! `/proc` with an injectable root, like [`crate::sysfs::SysfsRoot`] for
//! `/sys`: the CPU times of `/proc/stat`, a process's `/proc/<pid>/stat`
//! and its thread list `/proc/<pid>/task`.
//!
//! Parsing is kept apart from access: [`parse_stat`], [`parse_pid_stat`]
//! and [`parse_task_ids`] take text (or directory entry names) and are
//! tested on captured fixtures; [`ProcfsRoot`] reads the files under its
//! root (`/proc` in production, a fake tree in tests) and hands them over.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the kernel mounts procfs.
pub const PROC_ROOT: &str = "/proc";

/// A procfs tree: `/proc`, or a fake one for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcfsRoot {
    root: PathBuf,
}

impl Default for ProcfsRoot {
    /// The machine's `/proc`.
    fn default() -> Self {
        ProcfsRoot::new(PROC_ROOT)
    }
}

impl ProcfsRoot {
    /// A procfs tree at `root`.
    pub fn new(root: impl Into<PathBuf>) -> ProcfsRoot {
        ProcfsRoot { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of `rel` (e.g. `stat`, `42/task`).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `<root>/<pid>/task`, the directory of a process's threads.
    pub fn task_dir(&self, pid: i32) -> PathBuf {
        self.path(&format!("{pid}/task"))
    }

    /// Reads and parses `<root>/stat`. A file that does not parse gives an
    /// [`io::ErrorKind::InvalidData`] error naming the file.
    pub fn stat(&self) -> io::Result<ProcStat> {
        let path = self.path("stat");
        let text = fs::read_to_string(&path)?;
        parse_stat(&text).map_err(|reason| invalid(&path, &reason))
    }

    /// Reads and parses `<root>/<pid>/stat`.
    pub fn pid_stat(&self, pid: i32) -> io::Result<PidStat> {
        let path = self.path(&format!("{pid}/stat"));
        let text = fs::read_to_string(&path)?;
        parse_pid_stat(&text).map_err(|reason| invalid(&path, &reason))
    }

    /// Reads and parses `<root>/<pid>/task/<tid>/stat`, one thread's
    /// stat line (its `processor` is the CPU the thread last ran on).
    pub fn thread_stat(&self, pid: i32, tid: i32) -> io::Result<PidStat> {
        let path = self.path(&format!("{pid}/task/{tid}/stat"));
        let text = fs::read_to_string(&path)?;
        parse_pid_stat(&text).map_err(|reason| invalid(&path, &reason))
    }

    /// One thread's time on a CPU, in nanoseconds: the first field of
    /// `<root>/<pid>/task/<tid>/schedstat` (`se.sum_exec_runtime`,
    /// cumulative since the thread started).
    pub fn thread_run_ns(&self, pid: i32, tid: i32) -> io::Result<u64> {
        let path = self.path(&format!("{pid}/task/{tid}/schedstat"));
        let text = fs::read_to_string(&path)?;
        parse_schedstat_run_ns(&text).map_err(|reason| invalid(&path, &reason))
    }

    /// The thread ids listed in `<root>/<pid>/task`. A missing directory is
    /// [`io::ErrorKind::NotFound`] (the process is gone).
    pub fn tasks(&self, pid: i32) -> io::Result<BTreeSet<i32>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(self.task_dir(pid))? {
            names.push(entry?.file_name());
        }
        Ok(parse_task_ids(names.iter().filter_map(|n| n.to_str())))
    }
}

fn invalid(path: &Path, reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {reason}", path.display()),
    )
}

/// Time a CPU (or all of them) spent in each state, in clock ticks
/// (`USER_HZ`, 100 per second on Linux).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Normal processes in user mode.
    pub user_ticks: u64,
    /// Niced processes in user mode.
    pub nice_ticks: u64,
    /// Kernel mode.
    pub system_ticks: u64,
    /// Idle.
    pub idle_ticks: u64,
    /// Idle while I/O was outstanding.
    pub iowait_ticks: u64,
    /// Servicing interrupts.
    pub irq_ticks: u64,
    /// Servicing softirqs.
    pub softirq_ticks: u64,
    /// Stolen by the hypervisor.
    pub steal_ticks: u64,
}

impl CpuTimes {
    /// All eight states (guest time is already part of user time).
    pub fn total_ticks(&self) -> u64 {
        [
            self.user_ticks,
            self.nice_ticks,
            self.system_ticks,
            self.idle_ticks,
            self.iowait_ticks,
            self.irq_ticks,
            self.softirq_ticks,
            self.steal_ticks,
        ]
        .iter()
        .fold(0u64, |a, &b| a.saturating_add(b))
    }

    /// Idle and I/O wait.
    pub fn idle_total_ticks(&self) -> u64 {
        self.idle_ticks.saturating_add(self.iowait_ticks)
    }

    /// Everything but idle and I/O wait.
    pub fn busy_ticks(&self) -> u64 {
        self.total_ticks().saturating_sub(self.idle_total_ticks())
    }
}

/// The CPU lines of `/proc/stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// The aggregate `cpu` line.
    pub total: CpuTimes,
    /// The `cpuN` lines, by CPU number (online CPUs only).
    pub cpus: BTreeMap<u32, CpuTimes>,
}

/// Parses the `cpu` and `cpuN` lines of `/proc/stat`; other lines are
/// ignored. Fields a line lacks (older kernels) count 0.
pub fn parse_stat(text: &str) -> Result<ProcStat, String> {
    let mut total = None;
    let mut cpus = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(label) = words.next() else { continue };
        let Some(rest) = label.strip_prefix("cpu") else {
            continue;
        };
        let mut vals = [0u64; 8];
        for (slot, word) in vals.iter_mut().zip(words) {
            *slot = word
                .parse()
                .map_err(|_| format!("bad number '{word}' in line '{line}'"))?;
        }
        let [user, nice, system, idle, iowait, irq, softirq, steal] = vals;
        let times = CpuTimes {
            user_ticks: user,
            nice_ticks: nice,
            system_ticks: system,
            idle_ticks: idle,
            iowait_ticks: iowait,
            irq_ticks: irq,
            softirq_ticks: softirq,
            steal_ticks: steal,
        };
        if rest.is_empty() {
            total = Some(times);
        } else {
            let cpu = rest
                .parse()
                .map_err(|_| format!("bad CPU line label '{label}'"))?;
            cpus.insert(cpu, times);
        }
    }
    Ok(ProcStat {
        total: total.ok_or("no 'cpu' line")?,
        cpus,
    })
}

/// The fields of `/proc/<pid>/stat` the library uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStat {
    /// Field 1: the process id.
    pub pid: i32,
    /// Field 2: the command name, without its parentheses (it may hold
    /// spaces and parentheses itself).
    pub comm: String,
    /// Field 3: the state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Field 22: when the process started, in clock ticks after boot.
    pub start_ticks: u64,
    /// Field 39: the CPU the task last ran on (`None` on kernels that do
    /// not print it).
    pub processor: Option<u32>,
}

/// The run time in `schedstat` (`run_ns wait_ns timeslices`), ns.
pub fn parse_schedstat_run_ns(text: &str) -> Result<u64, String> {
    let first = text.split_whitespace().next().ok_or("empty schedstat")?;
    first
        .parse()
        .map_err(|_| format!("bad run time '{first}' in schedstat"))
}

/// Parses one `/proc/<pid>/stat` line. The command name may hold spaces
/// and parentheses, so the fields resume after the *last* `)`.
pub fn parse_pid_stat(text: &str) -> Result<PidStat, String> {
    let text = text.trim_end();
    let (open, close) = match (text.find('('), text.rfind(')')) {
        (Some(o), Some(c)) if o < c => (o, c),
        _ => return Err("no '(command)' field".to_owned()),
    };
    let pid = text[..open]
        .trim()
        .parse()
        .map_err(|_| format!("bad pid '{}'", text[..open].trim()))?;
    let comm = text[open + 1..close].to_owned();
    // Fields 3.. follow the command; starttime is field 22, the 20th.
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let state = rest
        .first()
        .and_then(|s| s.chars().next())
        .ok_or("no state field")?;
    let start = rest.get(19).ok_or("no starttime field (22)")?;
    let start_ticks = start
        .parse()
        .map_err(|_| format!("bad starttime '{start}'"))?;
    // processor is field 39, the 37th after the command.
    let processor = rest.get(36).and_then(|p| p.parse().ok());
    Ok(PidStat {
        pid,
        comm,
        state,
        start_ticks,
        processor,
    })
}

/// The thread ids among the entry names of a `task` directory (names that
/// are not positive numbers are skipped).
pub fn parse_task_ids<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<i32> {
    names
        .into_iter()
        .filter_map(|name| name.parse::<i32>().ok())
        .filter(|&tid| tid > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// `/proc/stat` of a 2-CPU Debian bookworm guest (Linux 6.1).
    const STAT: &str = "\
cpu  1132 34 1441 11311718 3675 0 127 5 0 0
cpu0 571 16 725 5655745 1838 0 64 2 0 0
cpu1 561 18 716 5655973 1837 0 63 3 0 0
intr 114930548 20 9 0 0 0 0 3 0 1 0 0 36 16 0 0 0
ctxt 1990473
btime 1062191376
processes 2915
procs_running 1
procs_blocked 0
softirq 12121874 0 2983489 13 1221046 0 0 87 2954014 0 6963225
";

    #[test]
    fn stat_cpu_lines() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(s.total.user_ticks, 1132);
        assert_eq!(s.total.steal_ticks, 5);
        assert_eq!(
            s.total.total_ticks(),
            1132 + 34 + 1441 + 11311718 + 3675 + 127 + 5
        );
        assert_eq!(s.total.idle_total_ticks(), 11311718 + 3675);
        assert_eq!(s.total.busy_ticks(), 1132 + 34 + 1441 + 127 + 5);
        assert_eq!(s.cpus.keys().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(s.cpus[&1].busy_ticks(), 561 + 18 + 716 + 63 + 3);
        assert_eq!(s.cpus[&0].idle_total_ticks(), 5655745 + 1838);
    }

    #[test]
    fn stat_odd_hosts() {
        // An old kernel: only four fields.
        let s = parse_stat("cpu 10 0 5 100\ncpu3 10 0 5 100\n").unwrap();
        assert_eq!(s.total.busy_ticks(), 15);
        assert_eq!(s.cpus[&3].total_ticks(), 115);
        assert!(parse_stat("intr 1 2 3\n").is_err());
        assert!(parse_stat("cpu 1 x 3\n").is_err());
        assert!(parse_stat("cpu 1 2 3\ncpuX 1 2 3\n").is_err());
    }

    #[test]
    fn pid_stat_fields() {
        let line = "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 16203 0 0 0 \
                    2201 1035 0 0 20 0 7 0 123456 2474221568 71466 18446744073709551615 \
                    1 1 0 0 0 0 0 4096 1098993390 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_pid_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "qemu-system-x86");
        assert_eq!(s.state, 'S');
        assert_eq!(s.start_ticks, 123456);
        // Field 39, after exit_signal 17.
        assert_eq!(s.processor, Some(1));
        // A command name with spaces and parentheses.
        let odd = "77 (a) b (c)) Z 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0";
        let s = parse_pid_stat(odd).unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.state, 'Z');
        assert_eq!(s.start_ticks, 999);
        assert_eq!(s.processor, None);
        assert!(parse_pid_stat("77 no-parens S 1").is_err());
        assert!(parse_pid_stat("77 (short) S 1 2 3").is_err());
        assert!(parse_pid_stat("x (c) S").is_err());
    }

    #[test]
    fn schedstat_run_time() {
        assert_eq!(parse_schedstat_run_ns("1234567 89 10\n"), Ok(1_234_567));
        assert!(parse_schedstat_run_ns("").is_err());
        assert!(parse_schedstat_run_ns("x 1 2").is_err());
    }

    #[test]
    fn task_ids() {
        let ids = parse_task_ids(["12", "7", "self", "0", "-3", "9x"]);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), [7, 12]);
    }

    #[test]
    fn fake_tree() {
        let dir = TempDir::new("procfs");
        let proc = ProcfsRoot::new(dir.path());
        fs::write(dir.path().join("stat"), STAT).unwrap();
        fs::create_dir_all(dir.path().join("42/task/42")).unwrap();
        fs::create_dir_all(dir.path().join("42/task/43")).unwrap();
        fs::write(
            dir.path().join("42/stat"),
            "42 (vm) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 2 0 5000 0 0\n",
        )
        .unwrap();
        assert_eq!(proc.stat().unwrap().cpus.len(), 2);
        assert_eq!(proc.pid_stat(42).unwrap().start_ticks, 5000);
        assert_eq!(
            proc.tasks(42).unwrap().into_iter().collect::<Vec<_>>(),
            [42, 43]
        );
        assert_eq!(proc.tasks(7).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(
            proc.pid_stat(7).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        fs::write(dir.path().join("stat"), "nothing\n").unwrap();
        let err = proc.stat().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("stat"), "{err}");
    }

    #[test]
    fn real_proc() {
        let proc = ProcfsRoot::default();
        assert_eq!(proc.root(), Path::new("/proc"));
        let me = i32::try_from(std::process::id()).unwrap();
        assert_eq!(proc.pid_stat(me).unwrap().pid, me);
        assert!(proc.tasks(me).unwrap().contains(&me));
        assert!(proc.stat().unwrap().total.total_ticks() > 0);
    }
}
