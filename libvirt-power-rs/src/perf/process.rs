// SPDX-License-Identifier: LGPL-2.1-or-later
//! Per-process CPU work counters.
//!
//! [`ProcessCounter`] counts the CPU work of one process (a VM's QEMU) and all
//! of its threads. It counts either hardware CPU cycles
//! ([`WeightKind::Cycles`]) or on-CPU time in nanoseconds from the software
//! `task-clock` event ([`WeightKind::CpuTimeNs`]); the kind actually counted is
//! recorded and reported with every [`Reading`], so CPU time is never labelled
//! as cycles.
//!
//! A perf counter opened on a task only follows the threads and processes
//! *that task* creates after the counter was opened (`inherit`). To cover
//! threads that already exist, one counter is opened per thread listed in
//! `/proc/<pid>/task`, each with `inherit` set and `cpu = -1`.
//!
//! ## Coverage and double counting
//!
//! A thread is *covered* when it has its own counter or when it was created by a
//! covered thread (it then carries an inherited copy of that counter, which the
//! kernel folds into the creator's counter). Opening a second counter on a
//! thread that is already covered by inheritance would count it twice, and
//! `/proc` cannot tell whether a thread inherited a counter. The module
//! therefore reasons about *when* threads appeared:
//!
//! * [`ProcessCounter::open`] lists the threads, opens one counter each, then
//!   lists again. If no new thread appeared, every live thread has its own
//!   counter, none of them can have inherited one (they all existed before the
//!   first counter was opened), and every thread created from then on is
//!   created by a covered thread: coverage is *complete*. If threads did
//!   appear in that window, their creator may or may not have been counted
//!   yet, so all counters are discarded and the process is counted again from
//!   scratch (nothing has been reported yet, so this loses nothing). After
//!   [`OPEN_ATTEMPTS`] unlucky attempts the last set is kept and the newcomers
//!   are attached directly; coverage is then approximate (a newcomer created
//!   by an already counted thread is counted twice for its lifetime) and
//!   [`ProcessCounter::coverage_complete`] reports `false` until a later
//!   listing shows no unknown thread.
//! * [`ProcessCounter::refresh_threads`] with complete coverage only records the
//!   new threads as covered by inheritance and attaches nothing. When coverage
//!   is incomplete it attaches every thread that is neither counted nor known to
//!   be covered, then lists again until no unknown thread appears.
//!
//! Counters of threads that exit stay open: the kernel keeps an exited task's
//! counter readable with its final value, and threads it created earlier still
//! add into it. File descriptors therefore grow only with the threads that get
//! their own counter (those alive at open time, plus newcomers attached while
//! coverage is incomplete), not with thread churn.
//!
//! ## Scaling and monotonicity
//!
//! Each counter is read with `time_enabled` and `time_running`. When the PMU is
//! over-committed the kernel multiplexes counters and a counter only runs part
//! of the time, so its count is scaled to `count * time_enabled / time_running`
//! (computed in `u128`, saturating to `u64::MAX`); if `time_running` is 0 the
//! counter never ran and its scaled value is 0. Software `task-clock` counters
//! are never multiplexed.
//!
//! [`Reading::value`] is cumulative and guaranteed never to decrease, because
//! callers compute work over an interval as the difference of two readings (a
//! decrease would underflow or hand out negative energy). A scaled estimate
//! can drop between two reads when the running/enabled ratio changes, so each
//! counter keeps the largest value seen, and the process total keeps its own
//! maximum as well.
//!
//! ## Privileges
//!
//! User and kernel work are both counted. If the kernel refuses kernel-mode
//! counting (`EACCES`/`EPERM`, typically `kernel.perf_event_paranoid >= 2`
//! without `CAP_PERFMON`), the counter is opened again with `exclude_kernel`
//! and [`ProcessCounter::kernel_excluded`] reports it. `task-clock` counts all
//! on-CPU time of the task whatever the exclusion bits say.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::Path;

use perf_event_open::config::{Cpu, Inherit, Opts, Priv, Proc, StatFormat};
use perf_event_open::count::Counter;
use perf_event_open::event::hw::Hardware;
use perf_event_open::event::sw::Software;

use super::{ErrClass, PerfError, PerfTarget, open_error};
use crate::procfs::ProcfsRoot;

/// How many times [`ProcessCounter::open`] counts a process from scratch when
/// threads keep appearing while it attaches, before settling for approximate
/// coverage.
pub const OPEN_ATTEMPTS: usize = 8;

/// How many list-and-attach rounds one call makes while coverage is incomplete.
const ATTACH_ROUNDS: usize = 8;

/// Maps an error from `/proc/<pid>/...` to a [`PerfError`].
fn proc_error(pid: i32, path: &Path, source: io::Error) -> PerfError {
    if source.kind() == io::ErrorKind::NotFound || source.raw_os_error() == Some(libc::ESRCH) {
        PerfError::ProcessGone { pid, source }
    } else {
        PerfError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What a [`ProcessCounter`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightKind {
    /// Hardware CPU cycles (`PERF_COUNT_HW_CPU_CYCLES`).
    Cycles,
    /// On-CPU time (software `task-clock` event), counted in nanoseconds.
    CpuTimeNs,
}

impl WeightKind {
    /// Stable name, the one the C ABI (`LVP_WEIGHT_CPU_TIME`), the wire and
    /// the tools use: `"cycles"` or `"cpu_time"` (whose values are
    /// nanoseconds).
    pub fn as_str(self) -> &'static str {
        match self {
            WeightKind::Cycles => "cycles",
            WeightKind::CpuTimeNs => "cpu_time",
        }
    }

    /// The perf event name, for error reports.
    fn event_name(self) -> &'static str {
        match self {
            WeightKind::Cycles => "cycles",
            WeightKind::CpuTimeNs => "task-clock",
        }
    }
}

impl fmt::Display for WeightKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which [`WeightKind`] a [`ProcessCounter`] should count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WeightPreference {
    /// Cycles if the host can count them, else CPU time.
    #[default]
    Auto,
    /// Cycles; opening fails with [`PerfError::NotSupported`] if the host has
    /// no cycles counter.
    Cycles,
    /// CPU time (`task-clock`).
    CpuTime,
}

impl WeightPreference {
    /// The kinds to try, best first.
    fn candidates(self) -> &'static [WeightKind] {
        match self {
            WeightPreference::Auto => &[WeightKind::Cycles, WeightKind::CpuTimeNs],
            WeightPreference::Cycles => &[WeightKind::Cycles],
            WeightPreference::CpuTime => &[WeightKind::CpuTimeNs],
        }
    }
}

/// One reading of a [`ProcessCounter`], cumulative since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// What `value` and `raw` count (cycles or nanoseconds of CPU time).
    pub kind: WeightKind,
    /// Sum over all counters of the scaled counts (see the module
    /// documentation); never smaller than in an earlier reading.
    pub value: u64,
    /// Sum of the unscaled counts.
    pub raw: u64,
    /// Sum over all counters of the time they were enabled, in nanoseconds
    /// (each counter's time includes its inherited copies).
    pub time_enabled_ns: u64,
    /// Sum over all counters of the time they were actually counting, in
    /// nanoseconds.
    pub time_running_ns: u64,
    /// Whether any counter ran for less time than it was enabled, i.e. `value`
    /// contains an estimate.
    pub multiplexed: bool,
}

/// The event configuration shared by all counters of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventConfig {
    kind: WeightKind,
    exclude_kernel: bool,
}

/// Options of a counting (not sampling) counter, enabled at once, that
/// reads its enabled and running times (for scaling when multiplexed).
pub(super) fn counting_opts() -> Opts {
    Opts {
        stat_format: StatFormat {
            time_enabled: true,
            time_running: true,
            ..StatFormat::default()
        },
        enable: true,
        ..Opts::default()
    }
}

/// Opens a counting (not sampling) counter of `kind` on thread `tid` (0 is the
/// calling thread), any CPU, enabled at once, reading enabled/running times.
fn open_task_counter(cfg: EventConfig, tid: i32, inherit: bool) -> io::Result<Counter> {
    let tid = u32::try_from(tid).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let opts = Opts {
        exclude: Priv {
            kernel: cfg.exclude_kernel,
            hv: cfg.exclude_kernel,
            ..Priv::default()
        },
        inherit: inherit.then_some(Inherit::NewChild),
        ..counting_opts()
    };
    let target = (Proc(tid), Cpu::ALL);
    match cfg.kind {
        WeightKind::Cycles => Counter::new(Hardware::CpuCycle, target, &opts),
        WeightKind::CpuTimeNs => Counter::new(Software::TaskClock, target, &opts),
    }
}

/// Returns whether the host can count hardware CPU cycles: opens (and closes)
/// a cycles counter on the calling thread, user-only if kernel counting is not
/// permitted.
pub fn host_has_cycles_pmu() -> bool {
    [false, true].into_iter().any(|exclude_kernel| {
        let cfg = EventConfig {
            kind: WeightKind::Cycles,
            exclude_kernel,
        };
        open_task_counter(cfg, 0, false).is_ok()
    })
}

/// Opens the counter for thread `tid` of `pid`. Returns `Ok(None)` when the
/// thread is already gone (`ESRCH`).
///
/// While `decided` is `None` this also chooses the event: it walks the kinds
/// of `pref` (falling back from cycles to CPU time on "not supported") and
/// retries with `exclude_kernel` on a permission error, then stores the
/// configuration that worked in `decided` for all later threads.
fn open_thread(
    pid: i32,
    tid: i32,
    pref: WeightPreference,
    decided: &mut Option<EventConfig>,
) -> Result<Option<Counter>, PerfError> {
    if let Some(cfg) = *decided {
        return open_decided(pid, tid, cfg);
    }
    let target = PerfTarget::Thread { pid, tid };
    let kinds = pref.candidates();
    let mut last_error = None;
    'kinds: for (i, &kind) in kinds.iter().enumerate() {
        let has_fallback = i + 1 < kinds.len();
        for exclude_kernel in [false, true] {
            let cfg = EventConfig {
                kind,
                exclude_kernel,
            };
            match open_task_counter(cfg, tid, true) {
                Ok(counter) => {
                    *decided = Some(cfg);
                    return Ok(Some(counter));
                }
                Err(e) => match ErrClass::of(&e) {
                    ErrClass::Gone => return Ok(None),
                    ErrClass::Permission if !exclude_kernel => {
                        last_error = Some(open_error(e, kind.event_name(), target));
                    }
                    ErrClass::NotSupported if has_fallback => {
                        last_error = Some(open_error(e, kind.event_name(), target));
                        continue 'kinds;
                    }
                    _ => return Err(open_error(e, kind.event_name(), target)),
                },
            }
        }
    }
    Err(last_error.unwrap_or_else(|| PerfError::NotSupported {
        event: "cycles".to_owned(),
        target,
        source: io::Error::from_raw_os_error(libc::ENOENT),
    }))
}

/// Opens the counter for thread `tid` of `pid` with a known configuration.
/// Returns `Ok(None)` when the thread is already gone (`ESRCH`).
fn open_decided(pid: i32, tid: i32, cfg: EventConfig) -> Result<Option<Counter>, PerfError> {
    match open_task_counter(cfg, tid, true) {
        Ok(counter) => Ok(Some(counter)),
        Err(e) if matches!(ErrClass::of(&e), ErrClass::Gone) => Ok(None),
        Err(e) => Err(open_error(
            e,
            cfg.kind.event_name(),
            PerfTarget::Thread { pid, tid },
        )),
    }
}

/// Lists the thread ids in `<procfs>/<pid>/task`.
fn list_tasks(procfs: &ProcfsRoot, pid: i32) -> Result<BTreeSet<i32>, PerfError> {
    procfs
        .tasks(pid)
        .map_err(|e| proc_error(pid, &procfs.task_dir(pid), e))
}

/// Scales a count by `time_enabled / time_running` in `u128`, saturating at
/// `u64::MAX`. A counter that never ran counts 0.
pub(super) fn scale_count(count: u64, time_enabled_ns: u64, time_running_ns: u64) -> u64 {
    if time_running_ns == 0 {
        return 0;
    }
    if time_running_ns >= time_enabled_ns {
        return count;
    }
    let scaled = u128::from(count) * u128::from(time_enabled_ns) / u128::from(time_running_ns);
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

/// Last (largest) values seen from one counter, or sums of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    scaled: u64,
    raw: u64,
    enabled_ns: u64,
    running_ns: u64,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.scaled = self.scaled.saturating_add(other.scaled);
        self.raw = self.raw.saturating_add(other.raw);
        self.enabled_ns = self.enabled_ns.saturating_add(other.enabled_ns);
        self.running_ns = self.running_ns.saturating_add(other.running_ns);
    }
}

/// A counter opened on one thread (and inherited by what it creates).
struct ThreadCounter {
    tid: i32,
    counter: Counter,
    last: Totals,
}

impl ThreadCounter {
    fn new(tid: i32, counter: Counter) -> Self {
        ThreadCounter {
            tid,
            counter,
            last: Totals::default(),
        }
    }

    /// Reads the counter, keeping the largest values seen. Returns whether it
    /// is currently multiplexed.
    fn update(&mut self) -> io::Result<bool> {
        let stat = self.counter.stat()?;
        let enabled = stat.time_enabled.unwrap_or(0);
        let running = stat.time_running.unwrap_or(0);
        let scaled = scale_count(stat.count, enabled, running);
        let last = &mut self.last;
        last.scaled = last.scaled.max(scaled);
        last.raw = last.raw.max(stat.count);
        last.enabled_ns = last.enabled_ns.max(enabled);
        last.running_ns = last.running_ns.max(running);
        Ok(running < enabled)
    }
}

/// Counts the CPU work of a process and all its threads (see the module
/// documentation). Dropping it closes all its perf file descriptors.
pub struct ProcessCounter {
    pid: i32,
    /// Where the thread list is read.
    procfs: ProcfsRoot,
    config: EventConfig,
    /// Threads with their own counter, alive at the last listing.
    threads: BTreeMap<i32, ThreadCounter>,
    /// Threads with their own counter that have exited; kept open.
    exited: Vec<ThreadCounter>,
    /// Live threads known to be covered by an inherited counter.
    inherited: BTreeSet<i32>,
    coverage_complete: bool,
    /// Final values of counters closed before the process counter (test hook).
    retired: Totals,
    last_value: u64,
}

impl fmt::Debug for ProcessCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessCounter")
            .field("pid", &self.pid)
            .field("kind", &self.config.kind)
            .field("kernel_excluded", &self.config.exclude_kernel)
            .field("threads", &self.threads.keys().collect::<Vec<_>>())
            .field("exited", &self.exited.len())
            .field("inherited", &self.inherited)
            .field("coverage_complete", &self.coverage_complete)
            .field("last_value", &self.last_value)
            .finish()
    }
}

/// Compile-time check that the counters can move to another thread.
fn _assert_send<T: Send>() {}
const _: fn() = || {
    _assert_send::<ProcessCounter>();
};

impl ProcessCounter {
    /// Starts counting process `pid` and all its threads.
    ///
    /// With [`WeightPreference::Auto`] it tries cycles on the first thread and
    /// falls back to CPU time when the host cannot count cycles. Fails with
    /// [`PerfError::ProcessGone`] if the process does not exist or exits while
    /// being attached, [`PerfError::InvalidPid`] for `pid <= 0`. The
    /// threads are listed in the machine's `/proc`.
    pub fn open(pid: i32, pref: WeightPreference) -> Result<Self, PerfError> {
        Self::open_in(&ProcfsRoot::default(), pid, pref)
    }

    /// [`Self::open`], listing the threads in `procfs` (which must show the
    /// processes of the running kernel: the counters are opened on the
    /// thread ids it lists).
    pub fn open_in(
        procfs: &ProcfsRoot,
        pid: i32,
        pref: WeightPreference,
    ) -> Result<Self, PerfError> {
        if pid <= 0 {
            return Err(PerfError::InvalidPid { pid });
        }
        let mut decided = None;
        let mut attempt = 1;
        loop {
            let listed = list_tasks(procfs, pid)?;
            let mut threads = BTreeMap::new();
            for &tid in &listed {
                if let Some(counter) = open_thread(pid, tid, pref, &mut decided)? {
                    threads.insert(tid, ThreadCounter::new(tid, counter));
                }
            }
            let config = match decided {
                Some(config) if !threads.is_empty() => config,
                _ => {
                    return Err(PerfError::ProcessGone {
                        pid,
                        source: io::Error::from_raw_os_error(libc::ESRCH),
                    });
                }
            };
            let relisted = list_tasks(procfs, pid)?;
            let appeared = relisted.iter().any(|tid| !listed.contains(tid));
            if !appeared || attempt >= OPEN_ATTEMPTS {
                let mut counter = ProcessCounter {
                    pid,
                    procfs: procfs.clone(),
                    config,
                    threads,
                    exited: Vec::new(),
                    inherited: BTreeSet::new(),
                    coverage_complete: !appeared,
                    retired: Totals::default(),
                    last_value: 0,
                };
                counter.sync_liveness(&relisted);
                if appeared {
                    counter.attach_unknown()?;
                }
                return Ok(counter);
            }
            // Threads appeared while attaching; drop (close) every counter so
            // no inherited copy survives, and count again from scratch.
            drop(threads);
            attempt += 1;
        }
    }

    /// What this counter counts.
    pub fn kind(&self) -> WeightKind {
        self.config.kind
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether kernel-mode work is excluded because the kernel refused to
    /// count it.
    pub fn kernel_excluded(&self) -> bool {
        self.config.exclude_kernel
    }

    /// Whether every thread of the process is known to be counted exactly once
    /// (see the module documentation).
    pub fn coverage_complete(&self) -> bool {
        self.coverage_complete
    }

    /// Number of threads with their own open counter, including threads that
    /// have exited since (their counters stay open).
    pub fn thread_count(&self) -> usize {
        self.threads.len() + self.exited.len()
    }

    /// Number of perf file descriptors held (one per own-counter thread).
    pub fn fd_count(&self) -> usize {
        self.threads.len() + self.exited.len()
    }

    /// Attaches to threads of the process that are not covered yet and returns
    /// how many were attached.
    ///
    /// With complete coverage every new thread was created by a counted thread
    /// and carries an inherited counter, so nothing is attached. Threads that
    /// vanish before their counter is opened are skipped. Fails with
    /// [`PerfError::ProcessGone`] once the process has exited; the counter can
    /// still be read then.
    pub fn refresh_threads(&mut self) -> Result<usize, PerfError> {
        if !self.coverage_complete {
            return self.attach_unknown();
        }
        let live = list_tasks(&self.procfs, self.pid)?;
        self.sync_liveness(&live);
        for tid in live {
            if !self.threads.contains_key(&tid) {
                self.inherited.insert(tid);
            }
        }
        Ok(0)
    }

    /// Moves counters of threads missing from `live` to `exited` and forgets
    /// inherited threads that are gone.
    fn sync_liveness(&mut self, live: &BTreeSet<i32>) {
        let gone: Vec<i32> = self
            .threads
            .keys()
            .copied()
            .filter(|tid| !live.contains(tid))
            .collect();
        for tid in gone {
            if let Some(counter) = self.threads.remove(&tid) {
                self.exited.push(counter);
            }
        }
        self.inherited.retain(|tid| live.contains(tid));
    }

    /// Attaches every live thread that is neither counted nor known to be
    /// inherited, repeating until a listing shows no such thread.
    fn attach_unknown(&mut self) -> Result<usize, PerfError> {
        let mut added = 0;
        for _ in 0..ATTACH_ROUNDS {
            let live = list_tasks(&self.procfs, self.pid)?;
            self.sync_liveness(&live);
            let unknown: Vec<i32> = live
                .iter()
                .copied()
                .filter(|tid| !self.threads.contains_key(tid) && !self.inherited.contains(tid))
                .collect();
            if unknown.is_empty() {
                self.coverage_complete = true;
                return Ok(added);
            }
            for tid in unknown {
                if let Some(counter) = open_decided(self.pid, tid, self.config)? {
                    self.threads.insert(tid, ThreadCounter::new(tid, counter));
                    added += 1;
                }
            }
        }
        Ok(added)
    }

    /// Reads all counters and returns the cumulative, monotonic total.
    ///
    /// Fails with [`PerfError::Io`] if a counter cannot be read; the values
    /// seen so far are kept, so a later successful read stays monotonic.
    pub fn read(&mut self) -> Result<Reading, PerfError> {
        let mut sum = self.retired;
        let mut multiplexed = false;
        let pid = self.pid;
        let event = self.config.kind.event_name();
        for thread in self.threads.values_mut().chain(self.exited.iter_mut()) {
            let tid = thread.tid;
            multiplexed |= thread.update().map_err(|source| PerfError::Io {
                event: event.to_owned(),
                target: PerfTarget::Thread { pid, tid },
                source,
            })?;
            sum.add(thread.last);
        }
        self.last_value = self.last_value.max(sum.scaled);
        Ok(Reading {
            kind: self.config.kind,
            value: self.last_value,
            raw: sum.raw,
            time_enabled_ns: sum.enabled_ns,
            time_running_ns: sum.running_ns,
            multiplexed,
        })
    }

    /// Test hook: closes the own counter of `tid`, leaving that thread (and
    /// what it creates from now on) uncounted, and marks coverage incomplete.
    /// Its last values are kept so the total stays monotonic. Threads it
    /// created earlier lose their inherited counter too.
    #[cfg(test)]
    fn forget_thread(&mut self, tid: i32) -> bool {
        match self.threads.remove(&tid) {
            Some(mut thread) => {
                let _ = thread.update();
                self.retired.add(thread.last);
                self.coverage_complete = false;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::test_lock;
    use std::collections::HashMap;
    use std::fs;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    /// Python child: `argv = spawners spinners finishers`. Every thread prints
    /// `thread <tag> <tid>`. Spinners busy-loop forever. A spawner `s<i>`
    /// starts spinner `s<i>.<n>` each time the line `s<i>` is sent; a
    /// finisher `f<i>` burns 0.2 s of its own CPU time when `f<i>` is sent,
    /// prints `finished f<i> <tid>` and exits.
    const CHILD_SCRIPT: &str = r#"
import sys, threading, time
lock = threading.Lock()
def out(*words):
    with lock:
        sys.stdout.write(" ".join(str(w) for w in words) + "\n")
        sys.stdout.flush()
def spin(tag):
    out("thread", tag, threading.get_native_id())
    while True:
        pass
def spawner(tag, ev):
    out("thread", tag, threading.get_native_id())
    n = 0
    while True:
        ev.wait()
        ev.clear()
        n += 1
        threading.Thread(target=spin, args=(f"{tag}.{n}",), daemon=True).start()
def finisher(tag, ev):
    out("thread", tag, threading.get_native_id())
    ev.wait()
    start = time.thread_time()
    while time.thread_time() - start < 0.2:
        pass
    out("finished", tag, threading.get_native_id())
spawners, spinners, finishers = (int(a) for a in sys.argv[1:4])
events = {}
for i in range(spawners):
    ev = events[f"s{i}"] = threading.Event()
    threading.Thread(target=spawner, args=(f"s{i}", ev), daemon=True).start()
for i in range(finishers):
    ev = events[f"f{i}"] = threading.Event()
    threading.Thread(target=finisher, args=(f"f{i}", ev), daemon=True).start()
for i in range(spinners):
    threading.Thread(target=spin, args=(f"p{i}",), daemon=True).start()
out("ready", spawners + spinners + finishers)
for line in sys.stdin:
    words = line.split()
    if words and words[0] in events:
        events[words[0]].set()
"#;

    const TIMEOUT: Duration = Duration::from_secs(20);

    /// A python child process, killed and reaped on drop.
    struct PyChild {
        child: Child,
        stdin: Option<ChildStdin>,
        lines: Receiver<String>,
        reader: Option<JoinHandle<()>>,
        tids: HashMap<String, i32>,
        finished: Vec<String>,
        ready: bool,
    }

    impl PyChild {
        fn spawn(spawners: usize, spinners: usize, finishers: usize) -> PyChild {
            let mut child = Command::new("python3")
                .arg("-c")
                .arg(CHILD_SCRIPT)
                .args([
                    spawners.to_string(),
                    spinners.to_string(),
                    finishers.to_string(),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn python3");
            let stdin = child.stdin.take();
            let stdout = child.stdout.take();
            let (tx, lines) = channel();
            let reader = thread::spawn(move || {
                if let Some(stdout) = stdout {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            });
            let mut py = PyChild {
                child,
                stdin,
                lines,
                reader: Some(reader),
                tids: HashMap::new(),
                finished: Vec::new(),
                ready: false,
            };
            let expected = spawners + spinners + finishers;
            py.wait_until(|py| py.ready && py.tids.len() >= expected);
            py
        }

        fn pid(&self) -> i32 {
            i32::try_from(self.child.id()).expect("pid fits i32")
        }

        /// Reads lines until `done` returns true.
        fn wait_until(&mut self, done: impl Fn(&PyChild) -> bool) {
            let deadline = Instant::now() + TIMEOUT;
            while !done(self) {
                let left = deadline.saturating_duration_since(Instant::now());
                let line = match self.lines.recv_timeout(left) {
                    Ok(line) => line,
                    Err(RecvTimeoutError::Timeout) => panic!("child timed out"),
                    Err(RecvTimeoutError::Disconnected) => panic!("child exited"),
                };
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    ["thread", tag, tid] => {
                        let tid = tid.parse().expect("tid");
                        self.tids.insert((*tag).to_owned(), tid);
                    }
                    ["finished", tag, _] => self.finished.push((*tag).to_owned()),
                    ["ready", _] => self.ready = true,
                    _ => {}
                }
            }
        }

        fn tid(&mut self, tag: &str) -> i32 {
            self.wait_until(|py| py.tids.contains_key(tag));
            self.tids[tag]
        }

        fn send(&mut self, command: &str) {
            let stdin = self.stdin.as_mut().expect("stdin");
            writeln!(stdin, "{command}").expect("write to child");
            stdin.flush().expect("flush");
        }

        fn wait_finished(&mut self, tag: &str) {
            self.wait_until(|py| py.finished.iter().any(|t| t == tag));
        }
    }

    impl Drop for PyChild {
        fn drop(&mut self) {
            drop(self.stdin.take());
            let _ = self.child.kill();
            let _ = self.child.wait();
            if let Some(reader) = self.reader.take() {
                let _ = reader.join();
            }
        }
    }

    fn tasks_of(pid: i32) -> BTreeSet<i32> {
        list_tasks(&ProcfsRoot::default(), pid).expect("list tasks")
    }

    /// Sum of the on-CPU time of the live threads, from schedstat, in ns.
    fn sched_ns(pid: i32) -> u64 {
        tasks_of(pid)
            .into_iter()
            .filter_map(|tid| fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    fn open_fds() -> usize {
        fs::read_dir("/proc/self/fd")
            .expect("read /proc/self/fd")
            .count()
    }

    /// The host's steal time so far, in ns: field 8 of /proc/stat's `cpu`
    /// line, in USER_HZ ticks (100 per second).
    fn steal_ns() -> u64 {
        let stat = fs::read_to_string("/proc/stat").expect("read /proc/stat");
        let ticks = stat
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(8))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        ticks * 10_000_000
    }

    /// Growth over `wait` of the counter, of schedstat, and of the host's
    /// steal time.
    struct Growth {
        counted_ns: u64,
        schedstat_ns: u64,
        steal_ns: u64,
    }

    fn growth(pc: &mut ProcessCounter, pid: i32, wait: Duration) -> Growth {
        let steal0 = steal_ns();
        let s0 = sched_ns(pid);
        let r0 = pc.read().expect("read");
        thread::sleep(wait);
        let r1 = pc.read().expect("read");
        let s1 = sched_ns(pid);
        Growth {
            counted_ns: r1.value - r0.value,
            schedstat_ns: s1.saturating_sub(s0),
            steal_ns: steal_ns().saturating_sub(steal0),
        }
    }

    /// task-clock (the counter) counts the time the hypervisor took from
    /// a running thread (steal), schedstat does not: on a loaded VM the
    /// counter may exceed schedstat by up to the host's steal time.
    fn assert_close(g: Growth, what: &str) {
        let Growth {
            counted_ns: counted,
            schedstat_ns: actual,
            steal_ns: steal,
        } = g;
        eprintln!("{what}: counted {counted} ns, schedstat {actual} ns, steal {steal} ns");
        let (c, a, st) = (counted as f64, actual as f64, steal as f64);
        assert!(
            c >= 0.9 * a - 5e6 && c <= 1.1 * a + 5e6 + st,
            "{what}: counted {counted} ns, schedstat {actual} ns, steal {steal} ns"
        );
    }

    #[test]
    fn counts_existing_threads_and_grows() {
        let _lock = test_lock();
        let py = PyChild::spawn(0, 3, 0);
        let pid = py.pid();
        let before = tasks_of(pid);
        let mut pc = ProcessCounter::open(pid, WeightPreference::Auto).expect("open");
        let after = tasks_of(pid);
        assert_eq!(before, after, "thread set changed during open");
        assert_eq!(before.len(), 4);
        if !host_has_cycles_pmu() {
            assert_eq!(pc.kind(), WeightKind::CpuTimeNs);
        }
        assert_eq!(pc.pid(), pid);
        assert_eq!(pc.thread_count(), before.len());
        assert!(pc.coverage_complete());
        assert_eq!(pc.refresh_threads().expect("refresh"), 0);

        let r0 = pc.read().expect("read");
        thread::sleep(Duration::from_millis(300));
        let r1 = pc.read().expect("read");
        assert_eq!(r1.kind, pc.kind());
        if pc.kind() == WeightKind::CpuTimeNs {
            assert!(r1.value - r0.value >= 100_000_000, "{r0:?} -> {r1:?}");
            assert!(!r1.multiplexed);
            assert_eq!(r1.value, r1.raw);
            assert_close(
                growth(&mut pc, pid, Duration::from_millis(300)),
                "existing threads",
            );
        } else {
            assert!(r1.value > r0.value);
        }

        let mut last = pc.read().expect("read");
        for _ in 0..50 {
            let r = pc.read().expect("read");
            assert!(r.value >= last.value, "{last:?} -> {r:?}");
            assert!(r.raw >= last.raw);
            assert!(r.time_enabled_ns >= last.time_enabled_ns);
            last = r;
        }
    }

    #[test]
    fn refresh_skips_inherited_and_attaches_uncovered() {
        let _lock = test_lock();
        let mut py = PyChild::spawn(2, 0, 0);
        let pid = py.pid();
        let s0 = py.tid("s0");
        let s1 = py.tid("s1");
        let mut pc = ProcessCounter::open(pid, WeightPreference::CpuTime).expect("open");
        assert_eq!(pc.kind(), WeightKind::CpuTimeNs);
        assert_eq!(pc.thread_count(), 3);
        assert!(pc.coverage_complete());

        // A thread created by a counted thread inherits its counter: refresh
        // must not attach a second one, and it must not be counted twice.
        py.send("s0");
        let s0_child = py.tid("s0.1");
        assert_eq!(pc.refresh_threads().expect("refresh"), 0);
        assert!(pc.inherited.contains(&s0_child));
        assert_eq!(pc.thread_count(), 3);
        let g = growth(&mut pc, pid, Duration::from_millis(400));
        assert!(g.counted_ns >= 100_000_000, "counted {}", g.counted_ns);
        assert_close(g, "inherited thread");

        // Make s1 uncounted, let it start a thread: that one is missed ...
        assert!(pc.forget_thread(s1));
        assert!(!pc.coverage_complete());
        py.send("s1");
        let s1_child = py.tid("s1.1");
        let Growth {
            counted_ns: counted,
            schedstat_ns: actual,
            steal_ns: steal,
        } = growth(&mut pc, pid, Duration::from_millis(400));
        eprintln!("uncovered: counted {counted} ns, schedstat {actual} ns, steal {steal} ns");
        assert!(
            (counted as f64) < 0.8 * actual as f64 + steal as f64,
            "uncovered thread counted? {counted} vs {actual} (steal {steal})"
        );

        // ... until refresh attaches s1 and its thread.
        assert_eq!(pc.refresh_threads().expect("refresh"), 2);
        assert!(pc.threads.contains_key(&s1));
        assert!(pc.threads.contains_key(&s1_child));
        assert!(pc.threads.contains_key(&s0));
        assert!(!pc.threads.contains_key(&s0_child));
        assert!(pc.coverage_complete());
        assert_eq!(pc.refresh_threads().expect("refresh"), 0);
        assert_close(
            growth(&mut pc, pid, Duration::from_millis(400)),
            "after refresh",
        );
    }

    #[test]
    fn counts_persist_after_thread_exit() {
        let _lock = test_lock();
        let mut py = PyChild::spawn(0, 0, 1);
        let pid = py.pid();
        let f0 = py.tid("f0");
        let mut pc = ProcessCounter::open(pid, WeightPreference::Auto).expect("open");
        assert_eq!(pc.thread_count(), 2);
        let r0 = pc.read().expect("read");
        py.send("f0");
        py.wait_finished("f0");
        let deadline = Instant::now() + TIMEOUT;
        while tasks_of(pid).contains(&f0) {
            assert!(Instant::now() < deadline, "thread {f0} did not exit");
            thread::sleep(Duration::from_millis(10));
        }
        let r1 = pc.read().expect("read after exit");
        assert_eq!(pc.refresh_threads().expect("refresh"), 0);
        assert!(!pc.threads.contains_key(&f0));
        assert_eq!(pc.exited.len(), 1);
        assert_eq!(pc.fd_count(), 2, "exited thread's counter stays open");
        let r2 = pc.read().expect("read");
        assert!(r2.value >= r1.value);
        if pc.kind() == WeightKind::CpuTimeNs {
            assert!(r1.value - r0.value >= 150_000_000, "{r0:?} -> {r1:?}");
            assert!(pc.exited[0].last.scaled >= 150_000_000);
            assert_eq!(r2.value, r1.value, "exited thread's count changed");
        }
    }

    #[test]
    fn fds_are_closed_on_drop() {
        let _lock = test_lock();
        let py = PyChild::spawn(1, 1, 1);
        let n0 = open_fds();
        let pc = ProcessCounter::open(py.pid(), WeightPreference::Auto).expect("open");
        assert_eq!(pc.fd_count(), 4);
        assert_eq!(pc.fd_count(), pc.thread_count());
        assert_eq!(open_fds(), n0 + pc.fd_count());
        drop(pc);
        assert_eq!(open_fds(), n0);
    }

    #[test]
    fn missing_process_is_gone() {
        let _lock = test_lock();
        let pid_max: i32 = fs::read_to_string("/proc/sys/kernel/pid_max")
            .expect("pid_max")
            .trim()
            .parse()
            .expect("pid_max number");
        let err = ProcessCounter::open(pid_max, WeightPreference::Auto).unwrap_err();
        assert!(
            matches!(err, PerfError::ProcessGone { pid, .. } if pid == pid_max),
            "{err}"
        );
        for pid in [0, -1, i32::MIN] {
            let err = ProcessCounter::open(pid, WeightPreference::Auto).unwrap_err();
            assert!(matches!(err, PerfError::InvalidPid { .. }), "{err}");
        }
    }

    #[test]
    fn zombie_process_is_gone() {
        let _lock = test_lock();
        /// Kills and reaps the child on drop.
        struct Reap(Child);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let child = Reap(Command::new("true").spawn().expect("spawn true"));
        let pid = i32::try_from(child.0.id()).expect("pid");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let state = ProcfsRoot::default().pid_stat(pid).map(|s| s.state).ok();
            if state == Some('Z') {
                break;
            }
            assert!(Instant::now() < deadline, "child never became a zombie");
            thread::sleep(Duration::from_millis(5));
        }
        let err = ProcessCounter::open(pid, WeightPreference::Auto).unwrap_err();
        drop(child);
        assert!(matches!(err, PerfError::ProcessGone { .. }), "{err}");
    }

    #[test]
    fn preferences() {
        let _lock = test_lock();
        let py = PyChild::spawn(0, 0, 0);
        let pc = ProcessCounter::open(py.pid(), WeightPreference::CpuTime).expect("open");
        assert_eq!(pc.kind(), WeightKind::CpuTimeNs);
        match ProcessCounter::open(py.pid(), WeightPreference::Cycles) {
            Ok(pc) => {
                assert!(host_has_cycles_pmu());
                assert_eq!(pc.kind(), WeightKind::Cycles);
            }
            Err(err) => {
                assert!(!host_has_cycles_pmu());
                assert!(
                    matches!(&err, PerfError::NotSupported { event, .. } if event == "cycles"),
                    "{err}"
                );
            }
        }
        let auto = ProcessCounter::open(py.pid(), WeightPreference::Auto).expect("open");
        let expected = if host_has_cycles_pmu() {
            WeightKind::Cycles
        } else {
            WeightKind::CpuTimeNs
        };
        assert_eq!(auto.kind(), expected);
        assert_eq!(WeightKind::Cycles.as_str(), "cycles");
        assert_eq!(WeightKind::CpuTimeNs.as_str(), "cpu_time");
    }

    #[test]
    fn scaling() {
        assert_eq!(scale_count(100, 0, 0), 0);
        assert_eq!(scale_count(100, 50, 0), 0);
        assert_eq!(scale_count(100, 50, 50), 100);
        assert_eq!(scale_count(100, 100, 50), 200);
        assert_eq!(scale_count(100, 40, 50), 100);
        assert_eq!(scale_count(u64::MAX, u64::MAX, 1), u64::MAX);
        assert_eq!(scale_count(u64::MAX / 2, 4, 2), u64::MAX - 1);
    }

    #[test]
    fn reports_cycles_pmu() {
        let _lock = test_lock();
        eprintln!("host_has_cycles_pmu: {}", host_has_cycles_pmu());
        let cfg = EventConfig {
            kind: WeightKind::Cycles,
            exclude_kernel: false,
        };
        if let Err(e) = open_task_counter(cfg, 0, false) {
            eprintln!("cycles on this thread: {e} ({:?})", e.raw_os_error());
        }
    }
}
