// SPDX-License-Identifier: LGPL-2.1-or-later
//! Per-process CPU work counters and RAPL energy counters built on
//! `perf_event_open(2)`.
//!
//! # Process counters
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
//!
//! # Energy counters
//!
//! [`PowerPmu`] describes the RAPL `power` PMU found under
//! `<sysfs>/bus/event_source/devices/power` and opens system-wide per-CPU
//! [`PowerCounter`]s that report cumulative microjoules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use perf_event_open::config::{Cpu, Inherit, Opts, Priv, Proc, StatFormat};
use perf_event_open::count::Counter;
use perf_event_open::event::dp::DynamicPmu;
use perf_event_open::event::hw::Hardware;
use perf_event_open::event::sw::Software;

pub use crate::error::{PerfError, PerfTarget};

/// How many times [`ProcessCounter::open`] counts a process from scratch when
/// threads keep appearing while it attaches, before settling for approximate
/// coverage.
pub const OPEN_ATTEMPTS: usize = 8;

/// How many list-and-attach rounds one call makes while coverage is incomplete.
const ATTACH_ROUNDS: usize = 8;

/// How an `io::Error` from `perf_event_open` is reported.
enum ErrClass {
    Gone,
    Permission,
    NotSupported,
    Other,
}

impl ErrClass {
    fn of(e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ESRCH) => ErrClass::Gone,
            Some(libc::EACCES | libc::EPERM) => ErrClass::Permission,
            Some(libc::ENOENT | libc::EOPNOTSUPP | libc::ENODEV) => ErrClass::NotSupported,
            _ => ErrClass::Other,
        }
    }
}

/// Maps an error from opening a counter to a [`PerfError`].
fn open_error(source: io::Error, event: &str, target: PerfTarget) -> PerfError {
    let event = event.to_owned();
    match (ErrClass::of(&source), target) {
        (ErrClass::Gone, PerfTarget::Thread { pid, .. }) => PerfError::ProcessGone { pid, source },
        (ErrClass::Permission, _) => PerfError::Permission {
            event,
            target,
            source,
        },
        (ErrClass::NotSupported, _) => PerfError::NotSupported {
            event,
            target,
            source,
        },
        _ => PerfError::Io {
            event,
            target,
            source,
        },
    }
}

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
        stat_format: StatFormat {
            time_enabled: true,
            time_running: true,
            ..StatFormat::default()
        },
        enable: true,
        ..Opts::default()
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

/// Lists the thread ids in `/proc/<pid>/task`.
fn list_tasks(pid: i32) -> Result<BTreeSet<i32>, PerfError> {
    let path = PathBuf::from(format!("/proc/{pid}/task"));
    let dir = fs::read_dir(&path).map_err(|e| proc_error(pid, &path, e))?;
    let mut tids = BTreeSet::new();
    for entry in dir {
        let entry = entry.map_err(|e| proc_error(pid, &path, e))?;
        let tid = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
            .filter(|&tid| tid > 0);
        if let Some(tid) = tid {
            tids.insert(tid);
        }
    }
    Ok(tids)
}

/// Scales a count by `time_enabled / time_running` in `u128`, saturating at
/// `u64::MAX`. A counter that never ran counts 0.
fn scale_count(count: u64, time_enabled_ns: u64, time_running_ns: u64) -> u64 {
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
    _assert_send::<PowerCounter>();
};

impl ProcessCounter {
    /// Starts counting process `pid` and all its threads.
    ///
    /// With [`WeightPreference::Auto`] it tries cycles on the first thread and
    /// falls back to CPU time when the host cannot count cycles. Fails with
    /// [`PerfError::ProcessGone`] if the process does not exist or exits while
    /// being attached, [`PerfError::InvalidPid`] for `pid <= 0`.
    pub fn open(pid: i32, pref: WeightPreference) -> Result<Self, PerfError> {
        if pid <= 0 {
            return Err(PerfError::InvalidPid { pid });
        }
        let mut decided = None;
        let mut attempt = 1;
        loop {
            let listed = list_tasks(pid)?;
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
            let relisted = list_tasks(pid)?;
            let appeared = relisted.iter().any(|tid| !listed.contains(tid));
            if !appeared || attempt >= OPEN_ATTEMPTS {
                let mut counter = ProcessCounter {
                    pid,
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
        let live = list_tasks(self.pid)?;
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
            let live = list_tasks(self.pid)?;
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

/// One energy event of the power PMU.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerEvent {
    /// Event name, e.g. `energy-pkg`.
    pub name: String,
    /// `perf_event_attr.config` value.
    pub config: u64,
    /// Joules per count (`<name>.scale`; 1.0 if absent).
    pub scale_j: f64,
    /// Unit of `count * scale_j` (`<name>.unit`, normally `Joules`; empty if
    /// absent).
    pub unit: String,
}

/// The RAPL `power` perf PMU.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerPmu {
    pmu_type: u32,
    events: Vec<PowerEvent>,
    cpus: Vec<u32>,
}

impl PowerPmu {
    /// Reads the power PMU description from `<sysfs_root>/bus/event_source/
    /// devices/power` (`sysfs_root` is `/sys` in production). Returns
    /// `Ok(None)` if that directory does not exist.
    ///
    /// Events are the files in `events/` without a `.` in their name, sorted
    /// by name. Their terms (`event=0x02,umask=0x1`) are placed into `config`
    /// according to `format/<term>` (`config:0-7`); a term without a format
    /// file is ignored, except `event`, which then is the whole `config`.
    pub fn discover(sysfs_root: &Path) -> Result<Option<PowerPmu>, PerfError> {
        let dir = sysfs_root.join("bus/event_source/devices/power");
        match fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(PerfError::Parse {
                    path: dir,
                    reason: "not a directory".to_owned(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(PerfError::File { path: dir, source }),
        }
        let type_path = dir.join("type");
        let type_text = read_sysfs(&type_path)?;
        let pmu_type = type_text
            .trim()
            .parse::<u32>()
            .map_err(|e| parse_error(&type_path, format!("bad PMU type {type_text:?}: {e}")))?;
        let cpumask_path = dir.join("cpumask");
        let cpus = match read_optional(&cpumask_path)? {
            Some(text) => parse_cpu_list(&text).map_err(|r| parse_error(&cpumask_path, r))?,
            None => Vec::new(),
        };
        let events = read_events(&dir)?;
        Ok(Some(PowerPmu {
            pmu_type,
            events,
            cpus,
        }))
    }

    /// The events, sorted by name.
    pub fn events(&self) -> &[PowerEvent] {
        &self.events
    }

    /// The dynamic PMU type for `perf_event_attr.type`.
    pub fn pmu_type(&self) -> u32 {
        self.pmu_type
    }

    /// The CPUs to open counters on (`cpumask`: one per package); empty if
    /// the PMU has no `cpumask`.
    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }

    /// Opens a system-wide counter of `event` (e.g. `energy-pkg`) on `cpu`.
    /// Needs `CAP_PERFMON` (or `perf_event_paranoid <= 0`) and a real power
    /// PMU; fails with [`PerfError::NotSupported`] if the kernel has no PMU of
    /// this type.
    pub fn open(&self, event: &str, cpu: u32) -> Result<PowerCounter, PerfError> {
        let ev = self
            .events
            .iter()
            .find(|e| e.name == event)
            .ok_or_else(|| PerfError::UnknownEvent {
                event: event.to_owned(),
            })?;
        if i32::try_from(cpu).is_err() {
            return Err(PerfError::InvalidCpu { cpu });
        }
        let pmu = DynamicPmu {
            ty: self.pmu_type,
            config: ev.config,
            config1: 0,
            config2: 0,
            config3: 0,
        };
        let opts = Opts {
            enable: true,
            ..Opts::default()
        };
        let name = format!("power/{}/", ev.name);
        let counter = Counter::new(pmu, (Cpu(cpu), Proc::ALL), &opts)
            .map_err(|e| open_error(e, &name, PerfTarget::Cpu { cpu }))?;
        Ok(PowerCounter {
            counter,
            event: name,
            cpu,
            factor: UjFactor::new(ev.scale_j),
            last_uj: 0,
        })
    }
}

fn parse_error(path: &Path, reason: impl Into<String>) -> PerfError {
    PerfError::Parse {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_sysfs(path: &Path) -> Result<String, PerfError> {
    fs::read_to_string(path).map_err(|source| PerfError::File {
        path: path.to_path_buf(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<String>, PerfError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PerfError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Parses a CPU list such as `0,36` or `0-3,8` with the crate's parser.
fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    crate::cpulist::parse_cpulist("cpumask", text)
        .map(|set| set.into_iter().collect())
        .map_err(|e| e.to_string())
}

/// Parses a format description such as `config:0-7` or `config:0-3,32-35`
/// into the field name and the bit positions, ascending.
fn parse_format(text: &str) -> Result<(String, Vec<u32>), String> {
    let text = text.trim();
    let (field, ranges) = text
        .split_once(':')
        .ok_or_else(|| format!("bad format {text:?}"))?;
    let mut bits = BTreeSet::new();
    for part in ranges.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let first: u32 = first
            .parse()
            .map_err(|_| format!("bad format bits {part:?}"))?;
        let last: u32 = last
            .parse()
            .map_err(|_| format!("bad format bits {part:?}"))?;
        if first > last || last > 63 {
            return Err(format!("bad format bits {part:?}"));
        }
        bits.extend(first..=last);
    }
    if bits.is_empty() {
        return Err(format!("format {text:?} has no bits"));
    }
    Ok((field.trim().to_owned(), bits.into_iter().collect()))
}

/// Parses a term value: `0x`-prefixed hex or decimal.
fn parse_term_value(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Computes `config` from an event description such as `event=0x02`, placing
/// each term's value into the bits named by `<pmu_dir>/format/<term>`.
fn event_config(pmu_dir: &Path, event_path: &Path, text: &str) -> Result<u64, PerfError> {
    let mut config = 0u64;
    for term in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let (name, value) = match term.split_once('=') {
            Some((name, value)) => (name.trim(), value),
            None => (term, "1"),
        };
        let value = parse_term_value(value)
            .ok_or_else(|| parse_error(event_path, format!("bad value in term {term:?}")))?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(parse_error(event_path, format!("bad term {term:?}")));
        }
        let format_path = pmu_dir.join("format").join(name);
        let (field, bits) = match read_optional(&format_path)? {
            Some(format) => parse_format(&format).map_err(|r| parse_error(&format_path, r))?,
            None if name == "event" => ("config".to_owned(), (0..64).collect()),
            None => continue,
        };
        if field != "config" {
            return Err(parse_error(
                &format_path,
                format!("term {name:?} sets {field}, only config is supported"),
            ));
        }
        for (i, &bit) in bits.iter().enumerate() {
            if i < 64 && value >> i & 1 == 1 {
                config |= 1 << bit;
            }
        }
        if bits.len() < 64 && value >> bits.len() != 0 {
            return Err(parse_error(
                event_path,
                format!("value of term {term:?} does not fit {} bits", bits.len()),
            ));
        }
    }
    Ok(config)
}

fn read_events(pmu_dir: &Path) -> Result<Vec<PowerEvent>, PerfError> {
    let events_dir = pmu_dir.join("events");
    let entries = match fs::read_dir(&events_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PerfError::File {
                path: events_dir,
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PerfError::File {
            path: events_dir.clone(),
            source,
        })?;
        // `<event>.scale`, `.unit`, `.per-pkg`, ... describe an event.
        match entry.file_name().to_str() {
            Some(name) if !name.contains('.') => names.push(name.to_owned()),
            _ => {}
        }
    }
    names.sort();
    let mut events = Vec::with_capacity(names.len());
    for name in names {
        let path = events_dir.join(&name);
        let config = event_config(pmu_dir, &path, &read_sysfs(&path)?)?;
        let scale_path = events_dir.join(format!("{name}.scale"));
        let scale_j = match read_optional(&scale_path)? {
            Some(text) => {
                let scale = text.trim().parse::<f64>().ok();
                match scale {
                    Some(s) if s.is_finite() && s > 0.0 && (s * 1e6).is_finite() => s,
                    _ => return Err(parse_error(&scale_path, format!("bad scale {text:?}"))),
                }
            }
            None => 1.0,
        };
        let unit_path = events_dir.join(format!("{name}.unit"));
        let unit = read_optional(&unit_path)?
            .map(|u| u.trim().to_owned())
            .unwrap_or_default();
        events.push(PowerEvent {
            name,
            config,
            scale_j,
            unit,
        });
    }
    Ok(events)
}

/// Microjoules per count as `mantissa * 2^exp`, the exact value of the `f64`
/// nearest to `scale_j * 1e6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UjFactor {
    mantissa: u64,
    exp: i32,
}

impl UjFactor {
    fn new(scale_j: f64) -> Self {
        let factor = scale_j * 1e6;
        if !(factor.is_finite() && factor > 0.0) {
            return UjFactor {
                mantissa: 0,
                exp: 0,
            };
        }
        let bits = factor.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        if biased == 0 {
            UjFactor {
                mantissa: fraction,
                exp: -1074,
            }
        } else {
            UjFactor {
                mantissa: fraction | (1 << 52),
                exp: biased - 1075,
            }
        }
    }

    /// `floor(count * factor)`, exact, saturating at `u64::MAX`.
    fn apply(self, count: u64) -> u64 {
        // < 2^64 * 2^53, fits in u128.
        let product = u128::from(count) * u128::from(self.mantissa);
        let shift = self.exp.unsigned_abs();
        let value = if self.exp < 0 {
            product.checked_shr(shift).unwrap_or(0)
        } else if product == 0 {
            0
        } else if shift >= product.leading_zeros() {
            u128::MAX
        } else {
            product << shift
        };
        u64::try_from(value).unwrap_or(u64::MAX)
    }
}

/// A system-wide energy counter on one CPU, from [`PowerPmu::open`].
pub struct PowerCounter {
    counter: Counter,
    event: String,
    cpu: u32,
    factor: UjFactor,
    last_uj: u64,
}

impl fmt::Debug for PowerCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowerCounter")
            .field("event", &self.event)
            .field("cpu", &self.cpu)
            .field("last_uj", &self.last_uj)
            .finish()
    }
}

impl PowerCounter {
    /// Energy counted since the counter was opened, in microjoules; never
    /// decreases.
    ///
    /// The kernel extends the 32-bit RAPL registers to a 64-bit count. The
    /// result is `floor(count * s)` computed exactly in integer arithmetic,
    /// where `s` is the `f64` nearest to `scale_j * 1e6` (relative error at
    /// most 2^-53, none for the usual power-of-two RAPL scales): it is at most
    /// 1 µJ below the exact product and never loses precision as the count
    /// grows.
    pub fn read_uj(&mut self) -> Result<u64, PerfError> {
        let stat = self.counter.stat().map_err(|source| PerfError::Io {
            event: self.event.clone(),
            target: PerfTarget::Cpu { cpu: self.cpu },
            source,
        })?;
        self.last_uj = self.last_uj.max(self.factor.apply(stat.count));
        Ok(self.last_uj)
    }

    /// The event, as `power/<name>/`.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The CPU the counter is bound to.
    pub fn cpu(&self) -> u32 {
        self.cpu
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
    use std::sync::{Mutex, MutexGuard};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    /// Serialises the tests so that counting `/proc/self/fd` and CPU time is
    /// not disturbed by other tests of this module.
    fn test_lock() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

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
        list_tasks(pid).expect("list tasks")
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

    /// Counter growth and schedstat growth over `wait`.
    fn growth(pc: &mut ProcessCounter, pid: i32, wait: Duration) -> (u64, u64) {
        let s0 = sched_ns(pid);
        let r0 = pc.read().expect("read");
        thread::sleep(wait);
        let r1 = pc.read().expect("read");
        let s1 = sched_ns(pid);
        (r1.value - r0.value, s1.saturating_sub(s0))
    }

    fn assert_close(counted: u64, actual: u64, what: &str) {
        eprintln!("{what}: counted {counted} ns, schedstat {actual} ns");
        let (c, a) = (counted as f64, actual as f64);
        assert!(
            (c - a).abs() <= 0.1 * a + 5e6,
            "{what}: counted {counted} ns, schedstat {actual} ns"
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
            let (counted, actual) = growth(&mut pc, pid, Duration::from_millis(300));
            assert_close(counted, actual, "existing threads");
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
        let (counted, actual) = growth(&mut pc, pid, Duration::from_millis(400));
        assert!(counted >= 100_000_000, "counted {counted}");
        assert_close(counted, actual, "inherited thread");

        // Make s1 uncounted, let it start a thread: that one is missed ...
        assert!(pc.forget_thread(s1));
        assert!(!pc.coverage_complete());
        py.send("s1");
        let s1_child = py.tid("s1.1");
        let (counted, actual) = growth(&mut pc, pid, Duration::from_millis(400));
        eprintln!("uncovered: counted {counted} ns, schedstat {actual} ns");
        assert!(
            (counted as f64) < 0.8 * actual as f64,
            "uncovered thread counted? {counted} vs {actual}"
        );

        // ... until refresh attaches s1 and its thread.
        assert_eq!(pc.refresh_threads().expect("refresh"), 2);
        assert!(pc.threads.contains_key(&s1));
        assert!(pc.threads.contains_key(&s1_child));
        assert!(pc.threads.contains_key(&s0));
        assert!(!pc.threads.contains_key(&s0_child));
        assert!(pc.coverage_complete());
        assert_eq!(pc.refresh_threads().expect("refresh"), 0);
        let (counted, actual) = growth(&mut pc, pid, Duration::from_millis(400));
        assert_close(counted, actual, "after refresh");
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
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            if state == Some("Z") {
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
    fn microjoule_conversion() {
        let rapl = UjFactor::new(2f64.powi(-32));
        assert_eq!(rapl.apply(0), 0);
        assert_eq!(rapl.apply(1), 0);
        assert_eq!(rapl.apply(1 << 32), 1_000_000);
        assert_eq!(rapl.apply(3 << 31), 1_500_000);
        assert_eq!(rapl.apply(u64::MAX), 4_294_967_295_999_999);
        let joule = UjFactor::new(1.0);
        assert_eq!(joule.apply(7), 7_000_000);
        assert_eq!(joule.apply(u64::MAX), u64::MAX);
        let amd = UjFactor::new(1.52587890625e-05);
        assert_eq!(amd.apply(1 << 16), 1_000_000);
        let mut prev = 0;
        for count in (0..1_000_000u64).step_by(997) {
            let uj = rapl.apply(count);
            assert!(uj >= prev);
            prev = uj;
        }
        assert_eq!(UjFactor::new(f64::NAN).apply(5), 0);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,36\n"), Ok(vec![0, 36]));
        assert_eq!(parse_cpu_list("0-3,8"), Ok(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list(""), Ok(vec![]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("0-4294967295").is_err());
    }

    /// A directory under the system temp dir, removed on drop.
    struct TempTree {
        root: PathBuf,
    }

    impl TempTree {
        fn new(name: &str) -> TempTree {
            static SEQ: AtomicUsize = AtomicUsize::new(0);
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let root = std::env::temp_dir().join(format!(
                "libvirt-power-perf-{}-{name}-{seq}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).expect("create temp dir");
            TempTree { root }
        }

        fn pmu_dir(&self) -> PathBuf {
            self.root.join("bus/event_source/devices/power")
        }

        fn write(&self, rel: &str, content: &str) {
            let path = self.pmu_dir().join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("mkdir");
            }
            fs::write(path, content).expect("write");
        }

        /// The power PMU of a two-socket Intel server.
        fn intel(name: &str, pmu_type: &str) -> TempTree {
            let tree = TempTree::new(name);
            tree.write("type", &format!("{pmu_type}\n"));
            tree.write("cpumask", "0,36\n");
            tree.write("format/event", "config:0-7\n");
            let events = [
                ("energy-cores", "0x01"),
                ("energy-pkg", "0x02"),
                ("energy-ram", "0x03"),
                ("energy-gpu", "0x04"),
                ("energy-psys", "0x05"),
            ];
            for (event, code) in events {
                tree.write(&format!("events/{event}"), &format!("event={code}\n"));
                tree.write(
                    &format!("events/{event}.scale"),
                    "2.3283064365386962890625e-10\n",
                );
                tree.write(&format!("events/{event}.unit"), "Joules\n");
            }
            tree
        }
    }

    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn discover_intel_tree() {
        let _lock = test_lock();
        let tree = TempTree::intel("intel", "9");
        let pmu = PowerPmu::discover(&tree.root)
            .expect("discover")
            .expect("power PMU present");
        assert_eq!(pmu.pmu_type(), 9);
        assert_eq!(pmu.cpus(), &[0, 36]);
        let names: Vec<&str> = pmu.events().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "energy-cores",
                "energy-gpu",
                "energy-pkg",
                "energy-psys",
                "energy-ram"
            ]
        );
        let pkg = &pmu.events()[2];
        assert_eq!(pkg.config, 2);
        assert_eq!(pkg.scale_j, 2f64.powi(-32));
        assert_eq!(pkg.unit, "Joules");
        assert_eq!(pmu.events()[4].config, 3);
    }

    #[test]
    fn discover_without_power_pmu() {
        let _lock = test_lock();
        let tree = TempTree::new("empty");
        assert_eq!(PowerPmu::discover(&tree.root).expect("discover"), None);
        assert_eq!(
            PowerPmu::discover(&tree.root.join("missing")).expect("discover"),
            None
        );
    }

    #[test]
    fn discover_reports_paths() {
        let _lock = test_lock();
        let tree = TempTree::intel("badtype", "nine");
        match PowerPmu::discover(&tree.root) {
            Err(PerfError::Parse { path, .. }) => assert!(path.ends_with("power/type")),
            other => panic!("unexpected {other:?}"),
        }

        let tree = TempTree::intel("badscale", "9");
        tree.write("events/energy-ram.scale", "-1\n");
        match PowerPmu::discover(&tree.root) {
            Err(PerfError::Parse { path, .. }) => {
                assert!(path.ends_with("events/energy-ram.scale"));
            }
            other => panic!("unexpected {other:?}"),
        }

        let tree = TempTree::intel("badmask", "9");
        tree.write("cpumask", "0,x\n");
        match PowerPmu::discover(&tree.root) {
            Err(PerfError::Parse { path, .. }) => assert!(path.ends_with("power/cpumask")),
            other => panic!("unexpected {other:?}"),
        }

        let tree = TempTree::intel("notype", "9");
        fs::remove_file(tree.pmu_dir().join("type")).expect("rm");
        match PowerPmu::discover(&tree.root) {
            Err(PerfError::File { path, source }) => {
                assert!(path.ends_with("power/type"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn event_terms_follow_format() {
        let _lock = test_lock();
        let tree = TempTree::intel("terms", "9");
        tree.write("format/umask", "config:8-15\n");
        tree.write("format/split", "config:0-3,32-35\n");
        tree.write("format/flag", "config:63\n");
        tree.write("format/other", "config1:0-7\n");
        let dir = tree.pmu_dir();
        let path = dir.join("events/x");
        let config = |text: &str| event_config(&dir, &path, text);
        assert_eq!(config("event=0x02,umask=0x3\n").expect("ok"), 0x302);
        assert_eq!(config("event=0x02,unknown=7").expect("ok"), 0x02);
        assert_eq!(config("split=0xab").expect("ok"), 0xb | 0xa << 32);
        assert_eq!(config("flag").expect("ok"), 1 << 63);
        assert_eq!(config("event=10").expect("ok"), 10);
        assert!(matches!(
            config("event=0x100"),
            Err(PerfError::Parse { .. })
        ));
        assert!(matches!(config("event=zz"), Err(PerfError::Parse { .. })));
        assert!(matches!(config("../x=1"), Err(PerfError::Parse { .. })));
        match config("other=1") {
            Err(PerfError::Parse { path, .. }) => assert!(path.ends_with("format/other")),
            other => panic!("unexpected {other:?}"),
        }
        fs::remove_file(dir.join("format/event")).expect("rm");
        assert_eq!(config("event=0x1234").expect("ok"), 0x1234);
    }

    /// A PMU type number that no PMU on this host has.
    fn unused_pmu_type() -> u32 {
        let used: BTreeSet<u32> = fs::read_dir("/sys/bus/event_source/devices")
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter_map(|e| fs::read_to_string(e.path().join("type")).ok())
                    .filter_map(|t| t.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        (4096..).find(|t| !used.contains(t)).unwrap_or(4096)
    }

    #[test]
    fn open_on_missing_pmu_is_not_supported() {
        let _lock = test_lock();
        let pmu_type = unused_pmu_type();
        let tree = TempTree::intel("nopmu", &pmu_type.to_string());
        let pmu = PowerPmu::discover(&tree.root)
            .expect("discover")
            .expect("pmu");
        let err = pmu.open("energy-pkg", 0).unwrap_err();
        assert!(
            matches!(
                &err,
                PerfError::NotSupported { event, target: PerfTarget::Cpu { cpu: 0 }, .. }
                    if event == "power/energy-pkg/"
            ),
            "{err}"
        );
        let err = pmu.open("energy-nope", 0).unwrap_err();
        assert!(matches!(err, PerfError::UnknownEvent { .. }), "{err}");
        let err = pmu.open("energy-pkg", u32::MAX).unwrap_err();
        assert!(matches!(err, PerfError::InvalidCpu { .. }), "{err}");
    }

    #[test]
    fn real_power_pmu() {
        let _lock = test_lock();
        let pmu = match PowerPmu::discover(Path::new("/sys")).expect("discover /sys") {
            Some(pmu) => pmu,
            None => {
                eprintln!("skipped: no power PMU on this host");
                return;
            }
        };
        let cpu = pmu.cpus().first().copied().unwrap_or(0);
        let Some(event) = pmu.events().iter().find(|e| e.name == "energy-pkg") else {
            eprintln!("skipped: power PMU without energy-pkg");
            return;
        };
        let mut counter = pmu.open(&event.name, cpu).expect("open energy-pkg");
        let e0 = counter.read_uj().expect("read");
        thread::sleep(Duration::from_millis(200));
        let e1 = counter.read_uj().expect("read");
        assert!(e1 >= e0);
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
