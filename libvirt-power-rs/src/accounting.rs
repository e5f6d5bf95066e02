// SPDX-License-Identifier: LGPL-2.1-or-later
//! Per-domain energy accounting: the loop a daemon runs.
//!
//! An [`Accountant`] takes its weights from a [`WeightSource`] (the
//! daemon's is [`PerfSource`]: one perf counter set per domain, a VM's QEMU
//! process with all its threads, split by the package its threads ran on),
//! reads every RAPL zone's `energy_uj` and splits each interval's energy
//! with the [`Attributor`]. The weight is CPU cycles where the host can
//! count them per process and system-wide, CPU time otherwise (and the
//! accountant says which).
//!
//! Per zone and interval (see `docs/energy-attribution.md`):
//!
//! - the measured energy is split into idle (static) and active (dynamic)
//!   parts: the zone's idle power is learned by an [`IdleFit`] of its
//!   power against its package's busy fraction (`/proc/stat`, per-CPU
//!   lines of the package's CPUs), times the interval's length on a
//!   monotonic clock;
//! - the active part is split by weight; a domain's weight in a package
//!   zone is only what its threads did on that package, and the
//!   denominator is the whole package's busy weight (busy time from
//!   `/proc/stat`, or system-wide cycles), so what no domain did stays the
//!   host's;
//! - the idle part is counted as idle, or with [`IdlePolicy::Vcpus`]
//!   shared among the running domains by vCPU count.
//!
//! Totals keep the identity `measured = sum over accounted domains +
//! departed + host + idle` exactly, where `departed` holds the energy of
//! domains that stopped (moved there at the first tick after their
//! removal) and `host + idle` is the unattributed energy.
//!
//! # Daemon restarts
//!
//! With a state file ([`Accountant::set_state_file`]) every tick saves the
//! totals and each domain's counters with the identity of its process
//! lifetime (pid and start time from `/proc/<pid>/stat`, read through the
//! accountant's [`ProcfsRoot`]). After a restart,
//! [`Accountant::add_domain`] on the same process lifetime resumes from the
//! saved counters, so a domain's counters never go backwards within its
//! lifetime; a new lifetime (same id, other process) starts from 0. Saved
//! domains not (yet) resumed count as departed, so the identity holds
//! throughout. Energy used while no daemon ran is not measured, and the
//! idle fit is learned again (it is not saved). The file
//! is replaced atomically but not fsynced: it only matters while the
//! domains' processes live, and they do not outlive the machine. A
//! damaged file is set aside and accounting starts afresh
//! ([`Accountant::set_state_file`]).
//!
//! # Counter wraps
//!
//! A zone's `energy_uj` wraps at `max_energy_range_uj`, and one reading to
//! the next can only tell one wrap from none. Each zone's fastest wrap is
//! its range at the highest power it can draw ([`ZoneWrap`]): twice the
//! largest `constraint_K_max_power_uw` of the zone (of its package, for
//! `core` and `uncore`), or twice 500 W where none is readable (AMD zones
//! have no constraints). [`Accountant::max_interval`] is the longest
//! interval that keeps every zone's count unambiguous even when a tick
//! comes an interval late: half the fastest wrap. An
//! interval that was longer than a zone's fastest wrap anyway (the daemon
//! stalled, the clock jumped) is not guessed at: the zone's energy for it
//! is not measured, and the interval is counted in the zone's
//! [`Unmeasured`] time instead. Intervals are timed on a monotonic clock
//! ([`Accountant::set_clock`] replaces it in tests).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::attribution::{Attributor, HostWeight, IntervalReport, WeightSample, ZoneSample};
use crate::error::{Error, Result};
use crate::idle::{IdleEstimate, IdleFit};
use crate::perf::{WeightKind, WeightPreference};
use crate::procfs::ProcfsRoot;
use crate::rapl::{self, RaplZone};
use crate::sysfs::SysfsRoot;
use crate::weights::{CpuPackages, DomainWeight, PackageWeights, PerfSource, WeightSource};

/// Header line of the state file (version 1 had no idle column, version
/// 2 no unmeasured columns; both are still read).
const STATE_HEADER: &str = "libvirt-power-accounting 3";
const STATE_HEADER_V2: &str = "libvirt-power-accounting 2";
const STATE_HEADER_V1: &str = "libvirt-power-accounting 1";

/// The highest power a zone is taken to draw, as a multiple of the largest
/// `constraint_K_max_power_uw` of the zone. The kernel reports the package's
/// thermal design power (TDP) as the `long_term` constraint's maximum and
/// the electrical maximum as the `short_term` one's (twice that for
/// `peak_power`), where the firmware gives it. A package can run above its
/// TDP for minutes when the firmware sets PL1 above TDP (boards with
/// "unlimited" turbo run desktop parts at about twice their TDP), so
/// twice the largest maximum is the bound.
const PEAK_POWER_FACTOR: u64 = 2;

/// The maximum power assumed for a zone without a readable
/// `constraint_K_max_power_uw` (before [`PEAK_POWER_FACTOR`]), µW: 500 W,
/// the highest TDP of the x86 server packages shipped (AMD EPYC 9005,
/// Intel Xeon 6900P). AMD's RAPL zones have no constraints at all; at
/// 1 kW their 65.5 kJ range wraps in 65 s.
const FALLBACK_MAX_POWER_UW: u64 = 500_000_000;

/// The longest interval is the fastest wrap divided by this: a tick that
/// comes an interval late (a loaded host; the daemon skips a missed
/// interval rather than ticking twice) still reads every zone before it
/// can wrap twice.
const INTERVAL_MARGIN: u64 = 2;

/// Set to `0` in the daemon's environment, domains' weights are not split
/// by package (each counts for every package zone, as before the split).
pub const SPLIT_ENV: &str = "LIBVIRT_POWER_ACCOUNTING_SPLIT";

/// What happens to a zone's idle energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdlePolicy {
    /// Counted apart, as the host's idle energy (the default).
    #[default]
    Apart,
    /// Shared among the running domains in proportion to their vCPUs (the
    /// static power a VM reserves by existing).
    Vcpus,
}

impl IdlePolicy {
    /// `"apart"` or `"vcpus"`, as qemu.conf and the node stats spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            IdlePolicy::Apart => "apart",
            IdlePolicy::Vcpus => "vcpus",
        }
    }
}

/// A monotonic clock, ns.
type Clock = Box<dyn FnMut() -> u64 + Send>;

/// One domain's weight and its last reading.
#[derive(Debug)]
struct Domain {
    weight: Box<dyn DomainWeight>,
    lifetime: Lifetime,
    vcpus: u32,
}

/// Identifies one run of a process: pid and start time (clock ticks
/// after boot, field 22 of `/proc/<pid>/stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lifetime {
    pid: i32,
    start_ticks: u64,
}

impl Lifetime {
    fn of(procfs: &ProcfsRoot, pid: i32) -> Option<Lifetime> {
        let start_ticks = procfs.pid_stat(pid).ok()?.start_ticks;
        Some(Lifetime { pid, start_ticks })
    }
}

/// A domain's energy in one zone: all of it, and its idle part, µJ.
type ZoneEnergy = (u64, u64);

/// A domain's counters saved by an earlier daemon, not resumed yet.
#[derive(Debug, Clone)]
struct Saved {
    lifetime: Lifetime,
    energy_uj: BTreeMap<String, ZoneEnergy>,
}

/// Per-zone totals carried over from the state file.
#[derive(Debug, Clone, Copy, Default)]
struct ZoneBase {
    measured_uj: u64,
    unattributed_uj: u64,
    idle_uj: u64,
    unmeasured: Unmeasured,
}

/// A damaged state file set aside by [`Accountant::set_state_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    /// Where the file went (`<file>.damaged`, `<file>.damaged.N`).
    pub path: PathBuf,
    /// What was wrong with it (the parse error, naming the file as it was
    /// called).
    pub reason: String,
}

/// How fast a zone's energy counter can wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneWrap {
    /// The highest power the zone is taken to draw, µW: twice the largest
    /// `max_power_uw` of its constraints (of its package's, for `core` and
    /// `uncore`), else twice 500 W (see the [module documentation](self)).
    pub peak_uw: u64,
    /// Whether `peak_uw` comes from `max_power_uw` (false: the fallback).
    pub from_constraints: bool,
    /// The time the counter takes to wrap at `peak_uw`: `(range + 1) /
    /// peak`, ns. An interval longer than this may hold more than one wrap.
    pub wrap_ns: u64,
}

impl ZoneWrap {
    /// How fast `zone` (one of `zones`) can wrap; `None` if it does not
    /// wrap (no `max_energy_range_uj`, or 0).
    fn of(zone: &RaplZone, zones: &[RaplZone]) -> Option<ZoneWrap> {
        let range_uj = zone.max_energy_range_uj.filter(|&r| r > 0)?;
        let max_power = |z: &RaplZone| {
            z.constraints
                .iter()
                .filter_map(|c| c.max_power_uw)
                .filter(|&m| m > 0)
                .max()
        };
        // `core` and `uncore` draw part of their package's power.
        let parent = || {
            let (parent, name) = zone.key.rsplit_once('/')?;
            if !matches!(name, "core" | "uncore") {
                return None;
            }
            zones.iter().find(|z| z.key == parent).and_then(max_power)
        };
        let rated = max_power(zone).or_else(parent);
        let peak_uw = rated
            .unwrap_or(FALLBACK_MAX_POWER_UW)
            .saturating_mul(PEAK_POWER_FACTOR);
        let wrap_ns = (u128::from(range_uj) + 1) * 1_000_000_000 / u128::from(peak_uw);
        Some(ZoneWrap {
            peak_uw,
            from_constraints: rated.is_some(),
            wrap_ns: u64::try_from(wrap_ns).unwrap_or(u64::MAX),
        })
    }
}

/// The longest interval between ticks that keeps every zone's count
/// unambiguous, and the zone that sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalBound {
    /// The longest interval, ms (at least 1): the zone's `wrap_ns` divided
    /// by the margin of 2, rounded down.
    pub max_interval_ms: u64,
    /// The zone that wraps fastest.
    pub zone: String,
    /// How fast it wraps.
    pub wrap: ZoneWrap,
}

/// Time a zone's energy was not measured: intervals longer than its
/// fastest wrap (or of unknown length), whose count is ambiguous.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unmeasured {
    /// How many intervals.
    pub intervals: u64,
    /// How long they were, ns (an interval of unknown length, the clock
    /// having gone back, adds 0).
    pub ns: u64,
}

impl Unmeasured {
    fn add(&mut self, other: Unmeasured) {
        self.intervals = self.intervals.saturating_add(other.intervals);
        self.ns = self.ns.saturating_add(other.ns);
    }
}

/// What a state file holds, parsed whole before any of it is used.
#[derive(Debug, Default)]
struct LoadedState {
    ticks: u64,
    zone_bases: BTreeMap<String, ZoneBase>,
    departed_uj: BTreeMap<String, u64>,
    saved: BTreeMap<String, Saved>,
}

/// What the accountant knows of a zone's idle power.
#[derive(Debug, Clone, Default)]
struct ZoneIdle {
    fit: IdleFit,
    estimate: Option<IdleEstimate>,
}

/// `/proc/stat` busy time per package at the last tick, and when.
#[derive(Debug, Clone)]
struct BusyMark {
    busy_ns: PackageWeights,
    at_ns: u64,
}

/// The accounting state of a daemon.
pub struct Accountant {
    sysfs: SysfsRoot,
    procfs: ProcfsRoot,
    zones: Vec<RaplZone>,
    /// How fast each zone of `zones` can wrap (same order).
    wraps: Vec<Option<ZoneWrap>>,
    /// When the zones were last read (and the reading taken), ns of
    /// `clock`.
    last_read_ns: Option<u64>,
    /// Unmeasured time per zone, this accountant's (the state file's is
    /// in `zone_bases`).
    unmeasured: BTreeMap<String, Unmeasured>,
    source: Box<dyn WeightSource>,
    packages: CpuPackages,
    /// CPUs of `/proc/stat` without a package in the map (not re-read
    /// again for them).
    unknown_cpus: BTreeSet<u32>,
    attributor: Attributor,
    domains: BTreeMap<String, Domain>,
    idle: BTreeMap<String, ZoneIdle>,
    idle_policy: IdlePolicy,
    last_busy: Option<BusyMark>,
    clock: Clock,
    /// Removed domains whose last interval is accounted at the next tick.
    retiring: BTreeSet<String>,
    /// Energy a domain had before this accountant took it over (resumed
    /// from the state file), per zone.
    bases: BTreeMap<String, BTreeMap<String, ZoneEnergy>>,
    /// Energy of domains no longer accounted, per zone.
    departed_uj: BTreeMap<String, u64>,
    /// Saved domains not resumed yet.
    saved: BTreeMap<String, Saved>,
    zone_bases: BTreeMap<String, ZoneBase>,
    ticks: u64,
    state_file: Option<PathBuf>,
    /// The damaged state file set aside, if any.
    set_aside: Option<SetAside>,
}

impl std::fmt::Debug for Accountant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accountant")
            .field("zones", &self.zones)
            .field("source", &self.source)
            .field("domains", &self.domains)
            .field("idle_policy", &self.idle_policy)
            .field("ticks", &self.ticks)
            .finish_non_exhaustive()
    }
}

/// The default clock: monotonic ns since the accountant was made.
fn monotonic_clock() -> Clock {
    let start = std::time::Instant::now();
    Box::new(move || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

impl Accountant {
    /// An accountant over the RAPL zones of `sysfs` whose energy is
    /// readable, with the machine's `/proc`.
    pub fn new(sysfs: &SysfsRoot, pref: WeightPreference) -> Result<Accountant> {
        Self::with_procfs(sysfs, &ProcfsRoot::default(), pref)
    }

    /// An accountant over the RAPL zones of `sysfs` that reads process
    /// lifetimes, thread lists and the host's busy time from `procfs`, with
    /// the daemon's weight source ([`PerfSource`]).
    pub fn with_procfs(
        sysfs: &SysfsRoot,
        procfs: &ProcfsRoot,
        pref: WeightPreference,
    ) -> Result<Accountant> {
        let cpus: Vec<u32> = procfs
            .stat()
            .map(|s| s.cpus.keys().copied().collect())
            .unwrap_or_default();
        let mut source = PerfSource::new(procfs, pref, cpus)?;
        // A diagnostics switch, for the benchmark that compares the split
        // with the weights before it (docs/energy-attribution.md).
        if std::env::var_os(SPLIT_ENV).is_some_and(|v| v == "0") {
            source.set_split(false);
        }
        Self::with_source(sysfs, procfs, Box::new(source))
    }

    /// An accountant with the weights of `source`.
    pub fn with_source(
        sysfs: &SysfsRoot,
        procfs: &ProcfsRoot,
        source: Box<dyn WeightSource>,
    ) -> Result<Accountant> {
        let all = rapl::read_zones(sysfs)?;
        let zones: Vec<RaplZone> = all
            .iter()
            .filter(|z| z.energy_uj.is_some())
            .cloned()
            .collect();
        let wraps = zones.iter().map(|z| ZoneWrap::of(z, &all)).collect();
        let packages = CpuPackages::read(sysfs).unwrap_or_default();
        Ok(Accountant {
            sysfs: sysfs.clone(),
            procfs: procfs.clone(),
            zones,
            wraps,
            last_read_ns: None,
            unmeasured: BTreeMap::new(),
            source,
            packages,
            unknown_cpus: BTreeSet::new(),
            attributor: Attributor::new(),
            domains: BTreeMap::new(),
            idle: BTreeMap::new(),
            idle_policy: IdlePolicy::default(),
            last_busy: None,
            clock: monotonic_clock(),
            retiring: BTreeSet::new(),
            bases: BTreeMap::new(),
            departed_uj: BTreeMap::new(),
            saved: BTreeMap::new(),
            zone_bases: BTreeMap::new(),
            ticks: 0,
            state_file: None,
            set_aside: None,
        })
    }

    /// Replaces the monotonic clock (ns) that times the intervals, for
    /// tests. A clock that goes back makes the interval's length unknown:
    /// it is counted as unmeasured for every zone that wraps.
    pub fn set_clock(&mut self, clock: Box<dyn FnMut() -> u64 + Send>) {
        self.clock = clock;
    }

    /// Sets what happens to idle energy from the next tick on.
    pub fn set_idle_policy(&mut self, policy: IdlePolicy) {
        self.idle_policy = policy;
    }

    /// The idle policy in use.
    pub fn idle_policy(&self) -> IdlePolicy {
        self.idle_policy
    }

    /// Sets the vCPU count of domain `id`, its weight in the idle energy
    /// under [`IdlePolicy::Vcpus`] (1 until set).
    pub fn set_domain_vcpus(&mut self, id: &str, vcpus: u32) -> Result<()> {
        match self.domains.get_mut(id) {
            Some(d) => {
                d.vcpus = vcpus;
                Ok(())
            }
            None => Err(self.unknown(id)),
        }
    }

    /// Keeps the counters in `path` across daemon restarts: loads what an
    /// earlier accountant saved there (if the file exists) and saves after
    /// every tick. Call before the first domain is added.
    ///
    /// A damaged file (not the format, numbers that do not parse, totals
    /// that do not add up) is set aside, renamed to `<path>.damaged` (or
    /// `<path>.damaged.N`, never over an earlier one), and accounting
    /// starts afresh: [`state_set_aside`](Self::state_set_aside) says where
    /// the file went and why. Nothing of the accountant changes unless the
    /// call succeeds, so a failed call (the file unreadable, or it cannot
    /// be set aside) can be repeated.
    pub fn set_state_file(&mut self, path: &Path) -> Result<()> {
        if !self.domains.is_empty() || self.ticks > 0 {
            return Err(Error::InvalidState(format!(
                "{}: the accounting state file must be set before the first domain and tick",
                path.display()
            )));
        }
        let loaded = match std::fs::read(path) {
            Ok(bytes) => match parse_state(path, &bytes) {
                Ok(loaded) => Some(loaded),
                Err(e) => {
                    let to = set_aside(path)?;
                    self.set_aside = Some(SetAside {
                        path: to,
                        reason: e.to_string(),
                    });
                    None
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::from_io(path.to_owned(), None, e)),
        };
        if let Some(l) = loaded {
            self.ticks = l.ticks;
            self.zone_bases = l.zone_bases;
            self.departed_uj = l.departed_uj;
            self.saved = l.saved;
        }
        self.state_file = Some(path.to_owned());
        Ok(())
    }

    /// The damaged state file [`set_state_file`](Self::set_state_file)
    /// set aside, if it did: where it went and what was wrong with it.
    pub fn state_set_aside(&self) -> Option<&SetAside> {
        self.set_aside.as_ref()
    }

    fn save_state(&self) -> Result<()> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let mut text = format!("{STATE_HEADER}\ntick {}\n", self.ticks);
        for z in self.zones() {
            let u = self.unmeasured(z).unwrap_or_default();
            let _ = writeln!(
                text,
                "zone {z} {} {} {} {} {} {}",
                self.measured_uj(z).unwrap_or(0),
                self.unattributed_uj(z).unwrap_or(0),
                self.departed_own_uj(z),
                self.idle_uj(z).unwrap_or(0),
                u.intervals,
                u.ns
            );
        }
        let mut domain_line =
            |id: &str, l: Lifetime, energy: &mut dyn Iterator<Item = (&str, ZoneEnergy)>| {
                let _ = write!(text, "domain {id} {} {}", l.pid, l.start_ticks);
                for (z, (all, idle)) in energy {
                    let _ = write!(text, " {z}={all}:{idle}");
                }
                text.push('\n');
            };
        for (id, d) in &self.domains {
            let mut energy = self.zones().map(|z| {
                (
                    z,
                    (
                        self.domain_energy_uj(id, z).unwrap_or(0),
                        self.domain_idle_uj(id, z).unwrap_or(0),
                    ),
                )
            });
            domain_line(id, d.lifetime, &mut energy);
        }
        // Saved domains not resumed yet stay saved.
        for (id, s) in &self.saved {
            let mut energy = s.energy_uj.iter().map(|(z, e)| (z.as_str(), *e));
            domain_line(id, s.lifetime, &mut energy);
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::from_io(tmp.clone(), None, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::from_io(path.clone(), None, e))
    }

    /// Keys of the zones accounted.
    pub fn zones(&self) -> impl Iterator<Item = &str> {
        self.zones.iter().map(|z| z.key.as_str())
    }

    /// The weight in use (the source's, known from the start; an
    /// `Option` for callers written when it was decided at the first
    /// domain).
    pub fn weight_kind(&self) -> Option<WeightKind> {
        Some(self.source.kind())
    }

    /// Starts accounting domain `id` whose QEMU process is `pid`. Weight
    /// counted before this call is not charged to the domain.
    pub fn add_domain(&mut self, id: &str, pid: i32) -> Result<WeightKind> {
        if id.is_empty() || id.contains(char::is_whitespace) {
            return Err(Error::invalid(
                "domain id",
                id,
                "a non-empty id without white space (e.g. the domain's UUID)",
            ));
        }
        if self.domains.contains_key(id) {
            return Err(Error::invalid(
                "domain",
                id,
                "a domain that is not accounted yet",
            ));
        }
        let weight = self.source.open(pid)?;
        let kind = self.source.kind();
        let lifetime = Lifetime::of(&self.procfs, pid).unwrap_or(Lifetime {
            pid,
            start_ticks: 0,
        });
        // A domain removed and added again before the next tick: settle
        // its last incarnation first.
        if self.retiring.remove(id) {
            self.depart(id);
        }
        if let Some(saved) = self.saved.remove(id) {
            if saved.lifetime == lifetime {
                // The same process lifetime, resumed after a restart.
                self.bases.insert(id.to_owned(), saved.energy_uj);
            } else {
                // An earlier lifetime of this id: its energy has departed.
                self.add_departed(
                    &saved
                        .energy_uj
                        .iter()
                        .map(|(z, e)| (z.clone(), e.0))
                        .collect(),
                );
            }
        }
        // The source's readings start at 0 when it is opened.
        self.attributor.add_consumer(id, &[]);
        self.domains.insert(
            id.to_owned(),
            Domain {
                weight,
                lifetime,
                vcpus: 1,
            },
        );
        Ok(kind)
    }

    /// Stops accounting `id`: its last weight still counts in the next
    /// tick, which then moves its energy to the departed totals.
    pub fn remove_domain(&mut self, id: &str) -> Result<()> {
        let mut d = self.domains.remove(id).ok_or_else(|| self.unknown(id))?;
        self.retiring.insert(id.to_owned());
        let samples: Vec<WeightSample> = d
            .weight
            .read(&self.packages)
            .unwrap_or_default()
            .into_iter()
            .map(|(package, weight)| WeightSample {
                consumer: id.into(),
                package,
                weight,
            })
            .collect();
        self.attributor.retire_consumer(id, &samples);
        Ok(())
    }

    /// Moves a removed domain's energy to the departed totals now, without
    /// waiting for the next tick (its last interval's weight is dropped).
    pub fn forget_domain(&mut self, id: &str) {
        if self.retiring.remove(id) {
            self.depart(id);
        }
    }

    fn depart(&mut self, id: &str) {
        let mut energy: BTreeMap<String, u64> = BTreeMap::new();
        for z in self.zones() {
            if let Some(uj) = self.domain_energy_uj(id, z) {
                energy.insert(z.to_owned(), uj);
            }
        }
        self.attributor.forget_consumer(id);
        self.bases.remove(id);
        self.add_departed(&energy);
    }

    fn add_departed(&mut self, energy: &BTreeMap<String, u64>) {
        for (z, uj) in energy {
            let slot = self.departed_uj.entry(z.clone()).or_insert(0);
            *slot = slot.saturating_add(*uj);
        }
    }

    fn departed_own_uj(&self, zone: &str) -> u64 {
        self.departed_uj.get(zone).copied().unwrap_or(0)
    }

    /// Energy in `zone` of domains no longer accounted: removed ones
    /// (from the moment of their removal; the next tick adds their last
    /// interval), and domains saved by an earlier daemon and not resumed
    /// yet, µJ.
    pub fn departed_uj(&self, zone: &str) -> Option<u64> {
        self.zone_index(zone)?;
        let pending: u64 = self
            .saved
            .values()
            .filter_map(|s| s.energy_uj.get(zone))
            .fold(0u64, |a, &(b, _)| a.saturating_add(b));
        let retiring: u64 = self
            .retiring
            .iter()
            .filter_map(|id| self.domain_energy_uj(id, zone))
            .fold(0u64, |a, b| a.saturating_add(b));
        Some(
            self.departed_own_uj(zone)
                .saturating_add(pending)
                .saturating_add(retiring),
        )
    }

    fn zone_index(&self, zone: &str) -> Option<usize> {
        self.zones.iter().position(|z| z.key == zone)
    }

    /// The package of `zone` (`None` for platform zones such as `psys`).
    pub fn zone_package(&self, zone: &str) -> Option<Option<u32>> {
        self.zone_index(zone).map(|i| self.zones[i].package)
    }

    /// How fast `zone` can wrap (`None` for an unknown zone or one whose
    /// counter does not wrap).
    pub fn zone_wrap(&self, zone: &str) -> Option<ZoneWrap> {
        self.wraps[self.zone_index(zone)?]
    }

    /// The longest interval between ticks that keeps every zone's count
    /// unambiguous (see the [module documentation](self)), and the zone
    /// that sets it: the first of the fastest. `None` if no zone wraps.
    pub fn max_interval(&self) -> Option<IntervalBound> {
        let (i, wrap) = self
            .wraps
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((i, (*w)?)))
            .min_by_key(|&(i, w)| (w.wrap_ns, i))?;
        Some(IntervalBound {
            max_interval_ms: (wrap.wrap_ns / INTERVAL_MARGIN / 1_000_000).max(1),
            zone: self.zones[i].key.clone(),
            wrap,
        })
    }

    /// Time `zone`'s energy was not measured, since the first tick (of the
    /// first daemon, with a state file): intervals longer than its fastest
    /// wrap, or of unknown length.
    pub fn unmeasured(&self, zone: &str) -> Option<Unmeasured> {
        self.zone_index(zone)?;
        let mut u = self
            .zone_bases
            .get(zone)
            .map_or_else(Unmeasured::default, |b| b.unmeasured);
        if let Some(own) = self.unmeasured.get(zone) {
            u.add(*own);
        }
        Some(u)
    }

    /// Completed ticks (carried over a restart with the state file).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Ids of the domains accounted now.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    fn unknown(&self, id: &str) -> Error {
        let ids: Vec<&str> = self.domains.keys().map(String::as_str).collect();
        Error::invalid(
            "domain",
            id,
            format!("one of the accounted domains: {}", ids.join(", ")),
        )
    }

    /// One interval: reads energy, the host's busy time and the weights,
    /// learns idle power, attributes.
    pub fn tick(&mut self) -> Result<IntervalReport> {
        let mut zones = Vec::with_capacity(self.zones.len());
        for z in &self.zones {
            zones.push(ZoneSample {
                zone: z.key.clone(),
                package: z.package,
                raw_uj: self.sysfs.read_u64(&z.file("energy_uj"))?,
                range_uj: z.max_energy_range_uj.unwrap_or(0),
            });
        }
        let now_ns = (self.clock)();
        // Zones whose count over the interval is ambiguous: the interval
        // was longer than their fastest wrap, or the clock went back and
        // its length is unknown. Nothing yet: applied below, once nothing
        // can fail before the attribution.
        let elapsed_ns = self.last_read_ns.map(|t| now_ns.checked_sub(t));
        let unmeasured: BTreeMap<String, Unmeasured> = match elapsed_ns {
            None => BTreeMap::new(),
            Some(elapsed) => self
                .zones
                .iter()
                .zip(&self.wraps)
                .filter(|(_, w)| w.is_some_and(|w| elapsed.is_none_or(|e| e > w.wrap_ns)))
                .map(|(z, _)| {
                    let u = Unmeasured {
                        intervals: 1,
                        ns: elapsed.unwrap_or(0),
                    };
                    (z.key.clone(), u)
                })
                .collect(),
        };
        // The host's busy time per package (per-CPU lines of /proc/stat).
        let stat = self.procfs.stat().ok();
        if let Some(stat) = &stat {
            let unknown: BTreeSet<u32> = stat
                .cpus
                .keys()
                .copied()
                .filter(|&c| self.packages.package(c).is_none())
                .collect();
            if !unknown.is_subset(&self.unknown_cpus) {
                self.packages
                    .refresh_if_unknown(&self.sysfs, unknown.iter().copied())?;
                self.unknown_cpus = unknown;
            }
        }
        let busy = stat
            .as_ref()
            .map(|s| (self.packages.busy_ns(s), self.packages.cpu_counts(s)));
        let mut weights = Vec::with_capacity(self.domains.len());
        for (id, d) in &mut self.domains {
            for (package, weight) in d.weight.read(&self.packages)? {
                weights.push(WeightSample {
                    consumer: id.clone(),
                    package,
                    weight,
                });
            }
        }
        let host: Vec<HostWeight> = match &busy {
            Some((busy_ns, _)) => self
                .source
                .host(&self.packages, busy_ns)?
                .unwrap_or_default()
                .into_iter()
                .map(|(package, weight)| HostWeight { package, weight })
                .collect(),
            None => Vec::new(),
        };
        // Busy fraction per package over this interval, for the idle fit.
        let interval = match (&busy, &self.last_busy) {
            (Some((busy_ns, counts)), Some(last)) if now_ns > last.at_ns => Some((
                busy_fractions(busy_ns, &last.busy_ns, counts, now_ns - last.at_ns),
                now_ns - last.at_ns,
            )),
            _ => None,
        };
        self.last_busy = busy.map(|(busy_ns, _)| BusyMark {
            busy_ns,
            at_ns: now_ns,
        });
        let sharers: Vec<(String, u64)> = match self.idle_policy {
            IdlePolicy::Apart => Vec::new(),
            IdlePolicy::Vcpus => self
                .domains
                .iter()
                .map(|(id, d)| (id.clone(), u64::from(d.vcpus)))
                .collect(),
        };
        for z in &zones {
            if let Some(u) = unmeasured.get(&z.zone) {
                self.attributor.rebase_zone(z);
                self.unmeasured.entry(z.zone.clone()).or_default().add(*u);
            }
        }
        self.last_read_ns = Some(now_ns);
        let idle = &mut self.idle;
        let baseline = self.ticks == 0;
        let mut idle_of = |zone: &ZoneSample, measured_uj: u64| -> u64 {
            let state = idle.entry(zone.zone.clone()).or_default();
            let Some((fractions, dt_ns)) = &interval else {
                return 0;
            };
            if baseline || unmeasured.contains_key(&zone.zone) {
                return 0;
            }
            let u = match zone.package {
                Some(p) => fractions.get(&Some(p)).copied(),
                None => fractions.get(&None).copied(),
            };
            let secs = *dt_ns as f64 / 1e9;
            if let Some(u) = u {
                state.fit.add(u, measured_uj as f64 / secs);
            }
            let estimate = state.fit.estimate();
            state.estimate = Some(estimate);
            estimate
                .idle_uw()
                .map_or(0, |uw| (uw * secs).floor() as u64)
        };
        let report =
            self.attributor
                .update_with_idle(&zones, &weights, &host, &mut idle_of, &sharers);
        for id in std::mem::take(&mut self.retiring) {
            self.depart(&id);
        }
        self.ticks = self.ticks.saturating_add(1);
        self.save_state()?;
        Ok(report)
    }

    /// Energy attributed to `id` in `zone` during its process lifetime
    /// (since it was first added, across daemon restarts with a state
    /// file), µJ.
    pub fn domain_energy_uj(&self, id: &str, zone: &str) -> Option<u64> {
        let own = self.attributor.consumer_energy_uj(id, zone);
        let base = self.bases.get(id).and_then(|b| b.get(zone)).map(|e| e.0);
        match (own, base) {
            (None, None) if self.domains.contains_key(id) && self.zone_index(zone).is_some() => {
                Some(0)
            }
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        }
    }

    /// The idle part of [`domain_energy_uj`](Self::domain_energy_uj) (0
    /// unless idle energy is shared by vCPUs), µJ.
    pub fn domain_idle_uj(&self, id: &str, zone: &str) -> Option<u64> {
        self.domain_energy_uj(id, zone)?;
        let own = self.attributor.consumer_idle_uj(id, zone).unwrap_or(0);
        let base = self
            .bases
            .get(id)
            .and_then(|b| b.get(zone))
            .map_or(0, |e| e.1);
        Some(own.saturating_add(base))
    }

    /// The domain's last raw weight (cycles or CPU ns).
    pub fn domain_weight(&self, id: &str) -> Option<u64> {
        self.domains.get(id).map(|d| d.weight.value())
    }

    /// Idle energy of `zone` counted as idle (not shared), µJ; part of
    /// [`unattributed_uj`](Self::unattributed_uj).
    pub fn idle_uj(&self, zone: &str) -> Option<u64> {
        self.total(zone, self.attributor.idle_uj(zone), |b| b.idle_uj)
    }

    /// Active energy of `zone` no domain's weight claimed (the host's own
    /// work, and rounding), µJ: the unattributed energy less the idle.
    pub fn host_uj(&self, zone: &str) -> Option<u64> {
        Some(
            self.unattributed_uj(zone)?
                .saturating_sub(self.idle_uj(zone)?),
        )
    }

    /// What is known of `zone`'s idle power (`None` before the second
    /// tick or for an unknown zone).
    pub fn idle_estimate(&self, zone: &str) -> Option<IdleEstimate> {
        self.idle.get(zone).and_then(|z| z.estimate)
    }

    /// The idle power of `zone` in use, µW, once learned.
    pub fn idle_power_uw(&self, zone: &str) -> Option<u64> {
        self.idle_estimate(zone)?
            .idle_uw()
            .map(|uw| uw.round() as u64)
    }

    /// Energy of `zone` not attributed to any domain, µJ.
    pub fn unattributed_uj(&self, zone: &str) -> Option<u64> {
        self.total(zone, self.attributor.unattributed_uj(zone), |b| {
            b.unattributed_uj
        })
    }

    /// Energy measured in `zone` since the first tick (of the first
    /// daemon, with a state file), µJ.
    pub fn measured_uj(&self, zone: &str) -> Option<u64> {
        self.total(zone, self.attributor.measured_uj(zone), |b| b.measured_uj)
    }

    fn total(&self, zone: &str, own: Option<u64>, base: impl Fn(&ZoneBase) -> u64) -> Option<u64> {
        self.zone_index(zone)?;
        let b = self.zone_bases.get(zone).map_or(0, base);
        Some(own.unwrap_or(0).saturating_add(b))
    }

    /// perf file descriptors held.
    pub fn fd_count(&self) -> usize {
        self.domains
            .values()
            .map(|d| d.weight.fd_count())
            .sum::<usize>()
            + self.source.fd_count()
    }
}

/// Parses a state file whole (`bytes` as read from `path`): a file that
/// is not the format, has a number that does not parse, or whose totals
/// do not add up is damaged, and nothing of it is used.
fn parse_state(path: &Path, bytes: &[u8]) -> Result<LoadedState> {
    let bad = |line: &str, reason: &str| Error::Parse {
        path: path.to_owned(),
        content: crate::error::shorten(line),
        reason: reason.to_owned(),
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let start = e.valid_up_to().saturating_sub(16);
        bad(
            &String::from_utf8_lossy(&bytes[start..bytes.len().min(start + 48)]),
            &format!("not text (invalid UTF-8 at byte {})", e.valid_up_to()),
        )
    })?;
    let mut lines = text.lines();
    let version = match lines.next() {
        Some(STATE_HEADER) => 3,
        Some(STATE_HEADER_V2) => 2,
        Some(STATE_HEADER_V1) => 1,
        first => {
            return Err(bad(
                first.unwrap_or(""),
                &format!(
                    "expected the header '{STATE_HEADER}' (or '{STATE_HEADER_V2}', \
                     '{STATE_HEADER_V1}')"
                ),
            ));
        }
    };
    let v1 = version == 1;
    let zone_fields = [0, 5, 6, 8][version];
    let num = |line: &str, v: Option<&str>| -> Result<u64> {
        v.and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(line, "expected a number from 0 to 18446744073709551615"))
    };
    let mut out = LoadedState::default();
    for line in lines {
        let f: Vec<&str> = line.split(' ').collect();
        match f.first().copied() {
            Some("tick") if f.len() == 2 => out.ticks = num(line, f.get(1).copied())?,
            Some("zone") if f.len() == zone_fields => {
                let zone = f[1].to_owned();
                let base = ZoneBase {
                    measured_uj: num(line, Some(f[2]))?,
                    unattributed_uj: num(line, Some(f[3]))?,
                    idle_uj: if v1 { 0 } else { num(line, Some(f[5]))? },
                    unmeasured: if version < 3 {
                        Unmeasured::default()
                    } else {
                        Unmeasured {
                            intervals: num(line, Some(f[6]))?,
                            ns: num(line, Some(f[7]))?,
                        }
                    },
                };
                if base.idle_uj > base.unattributed_uj {
                    return Err(bad(line, "idle energy above the unattributed energy"));
                }
                out.zone_bases.insert(zone.clone(), base);
                out.departed_uj.insert(zone, num(line, Some(f[4]))?);
            }
            Some("domain") if f.len() >= 4 => {
                let pid = i32::try_from(num(line, Some(f[2]))?)
                    .map_err(|_| bad(line, "pid out of range (0 to 2147483647)"))?;
                let mut energy_uj = BTreeMap::new();
                for kv in &f[4..] {
                    let (z, v) = kv
                        .split_once('=')
                        .ok_or_else(|| bad(line, "expected zone=microjoules"))?;
                    let (all, idle) = match v.split_once(':') {
                        Some((a, i)) if !v1 => (num(line, Some(a))?, num(line, Some(i))?),
                        _ => (num(line, Some(v))?, 0),
                    };
                    if idle > all {
                        return Err(bad(line, "idle energy above the domain's energy"));
                    }
                    energy_uj.insert(z.to_owned(), (all, idle));
                }
                out.saved.insert(
                    f[1].to_owned(),
                    Saved {
                        lifetime: Lifetime {
                            pid,
                            start_ticks: num(line, Some(f[3]))?,
                        },
                        energy_uj,
                    },
                );
            }
            _ => return Err(bad(line, "unknown line")),
        }
    }
    // Every save keeps measured = domains + departed + unattributed
    // exactly, per zone: a file where it does not hold was cut short or
    // altered.
    for (zone, base) in &out.zone_bases {
        let domains: u128 = out
            .saved
            .values()
            .filter_map(|s| s.energy_uj.get(zone))
            .map(|&(all, _)| u128::from(all))
            .sum();
        let departed = out.departed_uj.get(zone).copied().unwrap_or(0);
        let parts = domains + u128::from(departed) + u128::from(base.unattributed_uj);
        if parts != u128::from(base.measured_uj) {
            return Err(bad(
                &format!("zone {zone}"),
                &format!(
                    "the totals do not add up: measured {} µJ, but the domains ({domains}), \
                     departed ({departed}) and unattributed ({}) make {parts}",
                    base.measured_uj, base.unattributed_uj
                ),
            ));
        }
    }
    Ok(out)
}

/// Renames the damaged state file `path` to `<path>.damaged`, or
/// `<path>.damaged.N` (N = 1, 2, ...) if that exists: never over an
/// earlier file. A hard link, then the unlink of `path`, so that an
/// existing name is never replaced; where the file system has no hard
/// links, a rename to a name checked to be free. Returns the new path.
fn set_aside(path: &Path) -> Result<PathBuf> {
    const MAX_SET_ASIDE: u32 = 1000;
    let io_err = |to: &Path, e: std::io::Error| Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            e.kind(),
            format!(
                "cannot set the damaged accounting state file aside as {}: {e}",
                to.display()
            ),
        ),
    };
    for n in 0..MAX_SET_ASIDE {
        let mut name = path.as_os_str().to_owned();
        name.push(".damaged");
        if n > 0 {
            name.push(format!(".{n}"));
        }
        let to = PathBuf::from(name);
        match std::fs::hard_link(path, &to) {
            Ok(()) => {
                if let Err(e) = std::fs::remove_file(path) {
                    let _ = std::fs::remove_file(&to);
                    return Err(io_err(&to, e));
                }
                return Ok(to);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) if !to.exists() => {
                std::fs::rename(path, &to).map_err(|e| io_err(&to, e))?;
                return Ok(to);
            }
            Err(e) => return Err(io_err(&to, e)),
        }
    }
    Err(Error::InvalidState(format!(
        "{}: cannot set the damaged accounting state file aside: \
         {MAX_SET_ASIDE} earlier ones are there already; remove them",
        path.display()
    )))
}

/// Busy fraction per package (and `None`: all CPUs) over an interval of
/// `dt_ns`, from two cumulative readings and the CPU count per package.
fn busy_fractions(
    now: &PackageWeights,
    before: &PackageWeights,
    counts: &BTreeMap<Option<u32>, u32>,
    dt_ns: u64,
) -> BTreeMap<Option<u32>, f64> {
    let mut out = BTreeMap::new();
    let (mut all_busy, mut all_cpus) = (0u64, 0u32);
    for (&key, &n) in counts {
        let busy = now
            .get(&key)
            .copied()
            .unwrap_or(0)
            .saturating_sub(before.get(&key).copied().unwrap_or(0));
        all_busy = all_busy.saturating_add(busy);
        all_cpus += n;
        if key.is_some() && n > 0 {
            out.insert(key, busy as f64 / (dt_ns as f64 * f64::from(n)));
        }
    }
    if all_cpus > 0 {
        out.insert(None, all_busy as f64 / (dt_ns as f64 * f64::from(all_cpus)));
    }
    out
}
