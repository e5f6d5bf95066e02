// SPDX-License-Identifier: LGPL-2.1-or-later
//! The [`Runner`]: drives a simulated tree's `energy_uj` (and
//! `scaling_cur_freq`) from this machine's real CPU load, package by
//! package, through the [`PowerModel`], and keeps the ground
//! [`Truth`] of what it added.
//!
//! # Real CPUs and simulated packages
//!
//! Real CPU `r` (the `cpuN` lines of this machine's `/proc/stat`) is
//! simulated CPU `r`: its load drives the package of simulated CPU `r`
//! (`devices/system/cpu/cpuR/topology/physical_package_id` of the tree,
//! read every step). So on a 2-CPU machine with a tree whose CPU 0 is on
//! package 0 and CPU 1 on package 1 (the interleaved numbering of a
//! two-socket server), real CPU 0 drives package 0 and real CPU 1 package
//! 1; with the presets that number a package's CPUs first (CPUs 0 and 1 on
//! package 0) both drive package 0 and the other packages stay idle.
//! Simulated CPUs with no real counterpart (and offline ones) add no load;
//! real CPUs with no simulated counterpart are ignored; a package with no
//! real CPU mapped to it draws its idle power. A package's busy fraction
//! `u_p` is the busy ticks (everything but idle and iowait) of its real
//! CPUs over their total ticks in the step.
//!
//! # Ground truth and its error
//!
//! Each step adds to package `p` the integers `idle_uj` and `dyn_uj`
//! of [`Integrator::step`], and the [`Truth`] sums exactly those. A
//! watched group ([`Runner::watch`]) gets, per package, the share of
//! `dyn_uj` that its threads' run time on the package's real CPUs in the
//! step (see [`watch`](super::watch)) is of those CPUs' busy time in
//! `/proc/stat` ([`split_dynamic`]); the shares of all groups never exceed
//! `dyn_uj`. Errors of this truth against a group's "real" share:
//!
//! - `/proc/stat` counts whole ticks (10 ms, [`USER_HZ`]), the threads' run
//!   time is exact: in a 100 ms step a busy CPU shows 9 to 11 ticks. When
//!   the groups ran more than the ticks show, they get all of `dyn_uj` and
//!   the uncovered run time (at most [`OWED_TICKS_PER_CPU`] ticks per real
//!   CPU of the package) is claimed in the next step, so that the error
//!   does not accumulate into a bias; what is left is one step's
//!   quantization, under 2 % of a busy group's energy over a 1 s interval
//!   of the daemon. A load that sleeps in step with the tick can be missed
//!   by tick sampling, as it is by the kernel's own accounting.
//! - The runner steps every 100 ms (in tests and scripts), finer than the
//!   daemon's 1 s tick, so a daemon interval holds about 10 steps and its
//!   edges fall inside a step: compare cumulative values, read at the
//!   truth's `time_ns`.
//! - A thread that migrates within a step is charged to the CPU it is on at
//!   the step's end; a thread that exits loses its last partial step.
//! - `/proc/stat` and the threads are read one after the other, tens of
//!   µs apart.
//!
//! With a truth file ([`Runner::set_truth_file`]) the truth is rewritten
//! after every step in the format of [`truth`](super::truth).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::{Integrator, Load, PackageStep, PowerModel, TreeView};
use super::spec::SimSpec;
use super::truth::{GroupTruth, Truth, split_dynamic, valid_group_name};
use super::watch::ProcessGroup;
use crate::procfs::{ProcStat, ProcfsRoot};

/// Clock ticks per second of `/proc/stat` (the kernel's `USER_HZ`, 100 on
/// every architecture the project runs on).
pub const USER_HZ: u64 = 100;

/// How much uncovered run time a group may carry to the next step, in
/// ticks per real CPU of the package (see the [module](self) doc).
pub const OWED_TICKS_PER_CPU: u64 = 2;

const NS_PER_TICK: u64 = 1_000_000_000 / USER_HZ;

/// `CLOCK_MONOTONIC`, ns: the clock of the truth's `time_ns`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always
    // available on Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// A watched group and the run time it is owed, ns by package.
#[derive(Debug)]
struct Watched {
    group: ProcessGroup,
    owed_ns: BTreeMap<u32, u64>,
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Its length, ns.
    pub dt_ns: u64,
    /// The load it measured.
    pub load: Load,
    /// What each package zone received.
    pub packages: BTreeMap<u32, PackageStep>,
}

/// Advances a simulated tree's counters from real load and keeps the
/// ground truth (see the [module](self) doc).
#[derive(Debug)]
pub struct Runner {
    root: PathBuf,
    procfs: ProcfsRoot,
    model: PowerModel,
    integrator: Integrator,
    last_stat: ProcStat,
    last_ns: u64,
    truth: Truth,
    watched: BTreeMap<String, Watched>,
    truth_file: Option<PathBuf>,
}

impl Runner {
    /// A runner for the tree at `root` on this machine's `/proc` (the
    /// tree's preset, from its marker file, gives the TDP).
    pub fn new(root: &Path) -> io::Result<Runner> {
        Runner::with_procfs(root, ProcfsRoot::default(), monotonic_ns())
    }

    /// A runner on the procfs tree `procfs`, whose first step starts at
    /// `now_ns` (`CLOCK_MONOTONIC`, or any clock [`Runner::tick_at`] is
    /// then given).
    pub fn with_procfs(root: &Path, procfs: ProcfsRoot, now_ns: u64) -> io::Result<Runner> {
        let marker = root.join("libvirt-power-sim");
        let preset = fs::read_to_string(&marker)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", marker.display())))?;
        let tdp_w = SimSpec::preset(preset.trim(), None).map_or(65.0, |s| s.tdp_w);
        let last_stat = read_stat(&procfs)?;
        Ok(Runner {
            root: root.to_owned(),
            procfs,
            model: PowerModel { tdp_w },
            integrator: Integrator::default(),
            last_stat,
            last_ns: now_ns,
            truth: Truth {
                time_ns: now_ns,
                ..Truth::default()
            },
            watched: BTreeMap::new(),
            truth_file: None,
        })
    }

    /// The power model in use.
    pub fn model(&self) -> PowerModel {
        self.model
    }

    /// Rewrites `path` with the truth after every step (`None`: no file).
    /// The file is written at once.
    pub fn set_truth_file(&mut self, path: Option<PathBuf>) -> io::Result<()> {
        self.truth_file = path;
        self.write_truth()
    }

    /// Watches process `pid` (all its threads) as group `name` from now
    /// on. The name must be new (no whitespace); a pid with no process is
    /// [`io::ErrorKind::NotFound`].
    pub fn watch(&mut self, name: &str, pid: i32) -> io::Result<()> {
        if !valid_group_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid group name '{name}': empty or with whitespace"),
            ));
        }
        if self.watched.contains_key(name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("group '{name}' is already watched"),
            ));
        }
        let group = ProcessGroup::new(&self.procfs, pid)?;
        let dyn_uj = self.truth.packages.keys().map(|&p| (p, 0)).collect();
        self.truth.groups.insert(
            name.to_owned(),
            GroupTruth {
                pid,
                live: true,
                dyn_uj,
            },
        );
        self.watched.insert(
            name.to_owned(),
            Watched {
                group,
                owed_ns: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Stops watching group `name` and drops its truth. False if there was
    /// no such group.
    pub fn unwatch(&mut self, name: &str) -> bool {
        self.truth.groups.remove(name);
        self.watched.remove(name).is_some()
    }

    /// The ground truth so far.
    pub fn truth(&self) -> Truth {
        self.truth.clone()
    }

    /// One step, ending now.
    pub fn tick(&mut self) -> io::Result<Step> {
        self.tick_at(monotonic_ns())
    }

    /// One step ending at `now_ns`: measures the load since the last step,
    /// adds the energy of the elapsed time, charges the watched groups and
    /// writes the truth file.
    pub fn tick_at(&mut self, now_ns: u64) -> io::Result<Step> {
        let stat = read_stat(&self.procfs)?;
        let mut ran: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
        for (name, w) in &mut self.watched {
            ran.insert(name.clone(), w.group.sample(&self.procfs)?);
        }
        let view = TreeView::read(&self.root)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.root.display())))?;
        let dt_ns = now_ns.saturating_sub(self.last_ns);

        // Busy and total ticks of the real CPUs, by package.
        let mut load = Load::default();
        let mut ticks: BTreeMap<u32, (u64, u64, u64)> = BTreeMap::new();
        for (cpu, now) in &stat.cpus {
            let Some(before) = self.last_stat.cpus.get(cpu) else {
                continue; // came online during the step
            };
            let busy = now.busy_ticks().saturating_sub(before.busy_ticks());
            let total = now.total_ticks().saturating_sub(before.total_ticks());
            if total > 0 {
                load.cpus.insert(*cpu, busy as f64 / total as f64);
            }
            if let Some(p) = view.package_of(*cpu) {
                let t = ticks.entry(p).or_default();
                *t = (t.0 + busy, t.1 + total, t.2 + 1);
            }
        }
        for (&p, &(busy, total, _)) in &ticks {
            if total > 0 {
                load.packages.insert(p, busy as f64 / total as f64);
            }
        }
        let packages = self
            .integrator
            .step(&self.root, &view, self.model, &load, dt_ns)?;

        for (&p, s) in &packages {
            let t = self.truth.packages.entry(p).or_default();
            t.idle_power_uw = s.idle_uw;
            t.idle_uj += s.idle_uj;
            t.dyn_uj += s.dyn_uj;
            let (busy, _, n_cpus) = ticks.get(&p).copied().unwrap_or_default();
            self.charge(p, s.dyn_uj, busy * NS_PER_TICK, n_cpus, &ran, &view);
        }
        for (name, w) in &self.watched {
            if let Some(g) = self.truth.groups.get_mut(name) {
                g.live = !w.group.gone;
            }
        }
        self.truth.time_ns = now_ns;
        self.truth.steps += 1;
        self.last_stat = stat;
        self.last_ns = now_ns;
        self.write_truth()?;
        Ok(Step {
            dt_ns,
            load,
            packages,
        })
    }

    /// Splits package `p`'s dynamic energy of the step among the live
    /// groups by their run time on its real CPUs.
    fn charge(
        &mut self,
        p: u32,
        dyn_uj: u64,
        busy_ns: u64,
        n_cpus: u64,
        ran: &BTreeMap<String, BTreeMap<u32, u64>>,
        view: &TreeView,
    ) {
        let live: Vec<&String> = self
            .watched
            .iter()
            .filter(|(_, w)| !w.group.gone)
            .map(|(n, _)| n)
            .collect();
        let demand: Vec<u64> = live
            .iter()
            .map(|name| {
                let on_p: u64 = ran
                    .get(*name)
                    .into_iter()
                    .flatten()
                    .filter(|(cpu, _)| view.package_of(**cpu) == Some(p))
                    .map(|(_, ns)| *ns)
                    .sum();
                on_p + self.watched[*name].owed_ns.get(&p).copied().unwrap_or(0)
            })
            .collect();
        let shares = split_dynamic(dyn_uj, busy_ns, &demand);
        let owed_max_ns = OWED_TICKS_PER_CPU * n_cpus * NS_PER_TICK;
        let live: Vec<String> = live.into_iter().cloned().collect();
        for (name, share) in live.iter().zip(shares) {
            if let Some(g) = self.truth.groups.get_mut(name) {
                *g.dyn_uj.entry(p).or_default() += share.dyn_uj;
            }
            if let Some(w) = self.watched.get_mut(name) {
                w.owed_ns.insert(p, share.uncovered_ns.min(owed_max_ns));
            }
        }
        for (name, g) in &mut self.truth.groups {
            if !live.contains(name) {
                g.dyn_uj.entry(p).or_default();
            }
        }
    }

    fn write_truth(&self) -> io::Result<()> {
        match &self.truth_file {
            Some(path) => self.truth.write(path),
            None => Ok(()),
        }
    }

    /// Ticks every `interval` until `stop` returns true.
    pub fn run(&mut self, interval: Duration, mut stop: impl FnMut() -> bool) -> io::Result<()> {
        while !stop() {
            std::thread::sleep(interval);
            self.tick()?;
        }
        Ok(())
    }
}

fn read_stat(procfs: &ProcfsRoot) -> io::Result<ProcStat> {
    procfs
        .stat()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", procfs.path("stat").display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate;
    use crate::sim::watch::fixture::thread;
    use crate::testutil::TempDir;

    fn read_u64(path: &Path) -> u64 {
        fs::read_to_string(path).unwrap().trim().parse().unwrap()
    }

    /// A `two-socket` tree whose CPU 1 is on package 1 (the interleaved
    /// numbering), so that real CPU 0 drives package 0 and real CPU 1
    /// package 1.
    fn interleaved_two_socket(dir: &TempDir) -> PathBuf {
        let root = dir.path().join("sys");
        generate(&root, &SimSpec::preset("two-socket", None).unwrap()).unwrap();
        fs::write(
            root.join("devices/system/cpu/cpu1/topology/physical_package_id"),
            "1\n",
        )
        .unwrap();
        let view = TreeView::read(&root).unwrap();
        assert_eq!(view.package_of(0), Some(0));
        assert_eq!(view.package_of(1), Some(1));
        // The hand computations below assume full frequency.
        assert_eq!((view.freq_ratio(0), view.freq_ratio(1)), (1.0, 1.0));
        root
    }

    /// Writes a fake `/proc/stat` with (busy, idle) ticks of CPUs 0 and 1.
    fn stat(proc: &Path, cpu0: (u64, u64), cpu1: (u64, u64)) {
        fs::write(
            proc.join("stat"),
            format!(
                "cpu  {} 0 0 {} 0 0 0 0 0 0\ncpu0 {} 0 0 {} 0 0 0 0 0 0\n\
                 cpu1 {} 0 0 {} 0 0 0 0 0 0\nctxt 1\n",
                cpu0.0 + cpu1.0,
                cpu0.1 + cpu1.1,
                cpu0.0,
                cpu0.1,
                cpu1.0,
                cpu1.1
            ),
        )
        .unwrap();
    }

    fn zone_dir(root: &Path, key: &str) -> PathBuf {
        let zones = crate::rapl::read_zones(&crate::sysfs::SysfsRoot::new(root)).unwrap();
        root.join(&crate::rapl::find_zone(&zones, key).unwrap().dir)
    }

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;
    /// two-socket: 150 W TDP, idle 15 % = 22.5 W, dynamic span 127.5 W.
    const IDLE_UW: u64 = 22_500_000;
    const SPAN_UW: u64 = 127_500_000;

    #[test]
    fn two_packages_exact_truth_pid_reuse_and_migration() {
        let dir = TempDir::new("sim-runner-truth");
        let root = interleaved_two_socket(&dir);
        let proc = dir.path().join("proc");
        fs::create_dir_all(&proc).unwrap();
        // The package-0 counter wraps during the first step.
        let pkg0 = zone_dir(&root, "package-0").join("energy_uj");
        let range = read_u64(&zone_dir(&root, "package-0").join("max_energy_range_uj"));
        super::super::tree::replace(&pkg0, &(range - 1_000).to_string()).unwrap();
        let pkg1 = zone_dir(&root, "package-1").join("energy_uj");
        let psys = zone_dir(&root, "psys").join("energy_uj");
        let dram0 = zone_dir(&root, "package-0/dram").join("energy_uj");
        let core0 = zone_dir(&root, "package-0/core").join("energy_uj");
        let start = |p: &Path| read_u64(p);
        let (e0, e1, es, ed, ec) = (
            start(&pkg0),
            start(&pkg1),
            start(&psys),
            start(&dram0),
            start(&core0),
        );

        // a: pinned to CPU 0; b: pinned to CPU 1; c: idle on CPU 0.
        stat(&proc, (1_000, 5_000), (1_000, 5_000));
        thread(&proc, 100, 100, 500, 0, 0);
        thread(&proc, 100, 101, 500, 0, 10 * S);
        thread(&proc, 200, 200, 600, 1, S);
        thread(&proc, 300, 300, 700, 0, 5 * MS);
        let t0 = 1_000 * S;
        let mut r = Runner::with_procfs(&root, ProcfsRoot::new(&proc), t0).unwrap();
        let truth_file = dir.path().join("truth");
        r.set_truth_file(Some(truth_file.clone())).unwrap();
        r.watch("a", 100).unwrap();
        r.watch("b", 200).unwrap();
        r.watch("c", 300).unwrap();
        assert_eq!(
            r.watch("a", 300).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            r.watch("x y", 300).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            r.watch("z", 999).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );

        // Step 1 (1 s): CPU 0 60 % busy, CPU 1 100 %. a ran 500 ms on
        // CPU 0; b 900 ms and a new thread 100 ms on CPU 1.
        stat(&proc, (1_060, 5_040), (1_100, 5_000));
        thread(&proc, 100, 101, 500, 0, 10 * S + 500 * MS);
        thread(&proc, 200, 200, 600, 1, S + 900 * MS);
        thread(&proc, 200, 201, 600, 1, 100 * MS);
        let s = r.tick_at(t0 + S).unwrap();
        let dyn0_1 = SPAN_UW * 60 / 100;
        assert_eq!(s.packages[&0].dyn_uj, dyn0_1);
        assert_eq!(s.packages[&1].dyn_uj, SPAN_UW);
        let t = r.truth();
        assert_eq!(t.groups["a"].dyn_uj_in(0), dyn0_1 * 500 / 600);
        assert_eq!(t.groups["b"].dyn_uj_in(1), SPAN_UW);
        assert_eq!(t.groups["c"].total_dyn_uj(), 0);
        // The other zones follow their package.
        assert_eq!(
            read_u64(&psys) - es,
            2 * IDLE_UW + dyn0_1 + SPAN_UW + 8_000_000
        );
        assert_eq!(read_u64(&dram0) - ed, 2_000_000 + 6_000_000 * 60 / 100);
        assert_eq!(read_u64(&core0) - ec, (IDLE_UW + dyn0_1) * 65 / 100);

        // Step 2: b's pid now names another process, busy on CPU 1: b
        // keeps its total and is charged no more. a ran 700 ms where CPU 0
        // shows 650 ms busy: a gets all of package 0's dynamic energy and
        // is owed 50 ms, of which 20 ms (2 ticks, 1 CPU) is carried.
        stat(&proc, (1_125, 5_075), (1_200, 5_000));
        thread(&proc, 100, 101, 500, 0, 11 * S + 200 * MS);
        fs::remove_dir_all(proc.join("200")).unwrap();
        thread(&proc, 200, 200, 999, 1, 900 * MS);
        let s = r.tick_at(t0 + 2 * S).unwrap();
        let dyn0_2 = SPAN_UW * 65 / 100;
        assert_eq!(s.packages[&0].dyn_uj, dyn0_2);
        let t = r.truth();
        assert_eq!(t.groups["a"].dyn_uj_in(0), dyn0_1 * 500 / 600 + dyn0_2);
        assert_eq!(t.groups["b"].dyn_uj_in(1), SPAN_UW);
        assert!(!t.groups["b"].live && t.groups["a"].live);

        // Step 3: a ran 300 ms + 20 ms owed, CPU 0 shows 400 ms; c ran
        // 50 ms and ends the step on CPU 1: charged to package 1.
        stat(&proc, (1_165, 5_135), (1_300, 5_000));
        thread(&proc, 100, 101, 500, 0, 11 * S + 500 * MS);
        thread(&proc, 300, 300, 700, 1, 55 * MS);
        thread(&proc, 200, 200, 999, 1, 1_900 * MS);
        r.tick_at(t0 + 3 * S).unwrap();
        let dyn0_3 = SPAN_UW * 40 / 100;
        let t = r.truth();
        let a0 = dyn0_1 * 500 / 600 + dyn0_2 + dyn0_3 * 320 / 400;
        assert_eq!(t.groups["a"].dyn_uj, BTreeMap::from([(0, a0), (1, 0)]));
        assert_eq!(t.groups["b"].dyn_uj, BTreeMap::from([(0, 0), (1, SPAN_UW)]));
        assert_eq!(
            t.groups["c"].dyn_uj,
            BTreeMap::from([(0, 0), (1, SPAN_UW * 50 / 1000)])
        );
        let p0 = t.packages[&0];
        let p1 = t.packages[&1];
        assert_eq!(p0.idle_power_uw, IDLE_UW);
        assert_eq!((p0.idle_uj, p1.idle_uj), (3 * IDLE_UW, 3 * IDLE_UW));
        assert_eq!(p0.dyn_uj, dyn0_1 + dyn0_2 + dyn0_3);
        assert_eq!(p1.dyn_uj, 3 * SPAN_UW);
        assert_eq!((t.time_ns, t.steps), (t0 + 3 * S, 3));
        // The truth is what energy_uj gained, across the wrap.
        let wrapped = read_u64(&pkg0);
        assert!(wrapped < e0);
        assert_eq!((wrapped + (range + 1) - e0) % (range + 1), p0.total_uj());
        assert_eq!(read_u64(&pkg1) - e1, p1.total_uj());
        // The file says the same.
        assert_eq!(Truth::read(&truth_file).unwrap(), t);
        assert!(r.unwatch("b"));
        assert!(!r.unwatch("b"));
        assert!(!r.truth().groups.contains_key("b"));
    }

    #[test]
    fn the_cap_scales_the_dynamic_part_and_idle_stays() {
        let dir = TempDir::new("sim-runner-cap");
        let root = interleaved_two_socket(&dir);
        let proc = dir.path().join("proc");
        fs::create_dir_all(&proc).unwrap();
        // Package 1 capped at 50 W; package 0 at 10 W, below its idle.
        let limit = |key: &str, uw: u64| {
            fs::write(
                zone_dir(&root, key).join("constraint_0_power_limit_uw"),
                format!("{uw}\n"),
            )
            .unwrap();
        };
        limit("package-0", 10_000_000);
        limit("package-1", 50_000_000);
        stat(&proc, (0, 0), (0, 0));
        thread(&proc, 10, 10, 1, 0, 0);
        thread(&proc, 20, 20, 1, 1, 0);
        let mut r = Runner::with_procfs(&root, ProcfsRoot::new(&proc), 0).unwrap();
        r.watch("on0", 10).unwrap();
        r.watch("on1", 20).unwrap();
        // Both CPUs fully busy for 500 ms, each group ran 250 ms.
        stat(&proc, (50, 0), (50, 0));
        thread(&proc, 10, 10, 1, 0, 250 * MS);
        thread(&proc, 20, 20, 1, 1, 250 * MS);
        r.tick_at(500 * MS).unwrap();
        let t = r.truth();
        // 22.5 W idle for 0.5 s on both; package 1's dynamic part is
        // 50 - 22.5 = 27.5 W, package 0's nothing.
        assert_eq!(t.packages[&0].idle_uj, IDLE_UW / 2);
        assert_eq!(t.packages[&1].idle_uj, IDLE_UW / 2);
        assert_eq!(t.packages[&0].dyn_uj, 0);
        assert_eq!(t.packages[&1].dyn_uj, (50_000_000 - IDLE_UW) / 2);
        assert_eq!(t.groups["on0"].total_dyn_uj(), 0);
        assert_eq!(
            t.groups["on1"].dyn_uj_in(1),
            (50_000_000 - IDLE_UW) / 2 * 250 / 500
        );
    }

    #[test]
    fn a_package_without_real_cpus_stays_idle() {
        // acpi-cpufreq numbers both real CPUs into its one package; large
        // has two packages, CPUs 0 and 1 both on package 0.
        let dir = TempDir::new("sim-runner-idle-pkg");
        let root = dir.path().join("sys");
        generate(&root, &SimSpec::preset("large", Some(8)).unwrap()).unwrap();
        let proc = dir.path().join("proc");
        fs::create_dir_all(&proc).unwrap();
        stat(&proc, (0, 0), (0, 0));
        let mut r = Runner::with_procfs(&root, ProcfsRoot::new(&proc), 0).unwrap();
        stat(&proc, (100, 0), (100, 0));
        let s = r.tick_at(S).unwrap();
        let model = r.model();
        assert_eq!(s.packages[&0].dyn_uj, model.tdp_uw() - model.idle_uw());
        assert_eq!(s.packages[&1].dyn_uj, 0);
        assert_eq!(s.packages[&1].idle_uj, model.idle_uw());
        // A simulated CPU without a real counterpart has no load.
        assert_eq!(s.load.cpu(5), 0.0);
    }

    /// Pins `pid` to CPU `cpu`.
    fn pin(pid: i32, cpu: usize) -> io::Result<()> {
        // SAFETY: an all-zero cpu_set_t is a valid empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE (checked by the caller's
        // count of CPUs) and `set` is a valid cpu_set_t.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: `set` lives across the call and its size is passed.
        let rc = unsafe { libc::sched_setaffinity(pid, std::mem::size_of_val(&set), &set) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn run_ns(pid: u32) -> u64 {
        crate::sim::watch::parse_schedstat_run_ns(
            &fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn real_spinner_on_cpu1_lands_in_the_package_of_simulated_cpu1() {
        let cpus = ProcfsRoot::default().stat().unwrap().cpus;
        if !cpus.contains_key(&0) || !cpus.contains_key(&1) {
            println!("skipped: this machine has no online CPUs 0 and 1");
            return;
        }
        let dir = TempDir::new("sim-runner-real");
        let root = interleaved_two_socket(&dir);
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        struct Kill<'a>(&'a mut std::process::Child);
        impl Drop for Kill<'_> {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let pid = child.id();
        let _kill = Kill(&mut child);
        if let Err(e) = pin(pid as i32, 1) {
            println!("skipped: cannot pin to CPU 1: {e}");
            return;
        }
        let mut r = Runner::new(&root).unwrap();
        r.watch("spin", pid as i32).unwrap();
        let before_ns = run_ns(pid);
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(100));
            r.tick().unwrap();
        }
        let ran_ns = run_ns(pid) - before_ns;
        let t = r.truth();
        let g = &t.groups["spin"];
        // Package 1 has one real CPU: 127.5 W of dynamic power per second
        // of run time there, at full frequency.
        let expected_uj = SPAN_UW as f64 * ran_ns as f64 / 1e9;
        let got_uj = g.dyn_uj_in(1) as f64;
        println!(
            "spinner ran {:.0} ms: {got_uj:.0} uJ on package 1 (expected {expected_uj:.0}), \
             {} on package 0; package 1 dynamic {} uJ",
            ran_ns as f64 / 1e6,
            g.dyn_uj_in(0),
            t.packages[&1].dyn_uj
        );
        assert!(ran_ns > 100 * MS, "the spinner hardly ran: {ran_ns} ns");
        // Pinned: nothing in package 0, ever.
        assert_eq!(g.dyn_uj_in(0), 0);
        assert!(g.dyn_uj_in(1) <= t.packages[&1].dyn_uj);
        // Within 10 %: tick quantization of /proc/stat (about 1 tick of
        // the spinner's ~100) and the carried 2 ticks at most.
        assert!(
            (got_uj - expected_uj).abs() <= 0.10 * expected_uj,
            "{got_uj} vs {expected_uj}"
        );
    }
}
