// SPDX-License-Identifier: LGPL-2.1-or-later
//! The accountant on a two-package host with a scripted weight source: the
//! cycles path end to end (a source that behaves like a cycles PMU, per
//! process and per package system-wide), the per-package split, the host
//! and idle energy apart, and the idle energy shared by vCPUs. Energy,
//! `/proc/stat` and the clock are written by the test, so every expected
//! number is computed here from the model the test drives.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::sim_host;
use libvirt_power::SysfsRoot;
use libvirt_power::accounting::{Accountant, IdlePolicy, Unmeasured};
use libvirt_power::attribution::IntervalReport;
use libvirt_power::perf::WeightKind;
use libvirt_power::procfs::ProcfsRoot;
use libvirt_power::weights::{CpuPackages, DomainWeight, PackageWeights, WeightSource};

/// Cumulative weights the test scripts: per domain (by pid) and the host.
#[derive(Debug, Default)]
struct Script {
    domains: BTreeMap<i32, PackageWeights>,
    host: PackageWeights,
}

/// A source that behaves like a cycles PMU: per-process cycles split by
/// package, system-wide cycles per package.
#[derive(Debug, Clone)]
struct FakeCycles(Arc<Mutex<Script>>);

#[derive(Debug)]
struct FakeDomain {
    pid: i32,
    script: Arc<Mutex<Script>>,
}

impl WeightSource for FakeCycles {
    fn kind(&self) -> WeightKind {
        WeightKind::Cycles
    }
    fn open(&mut self, pid: i32) -> libvirt_power::Result<Box<dyn DomainWeight>> {
        self.0.lock().unwrap().domains.entry(pid).or_default();
        Ok(Box::new(FakeDomain {
            pid,
            script: self.0.clone(),
        }))
    }
    fn host(
        &mut self,
        _packages: &CpuPackages,
        _busy_ns: &PackageWeights,
    ) -> libvirt_power::Result<Option<PackageWeights>> {
        Ok(Some(self.0.lock().unwrap().host.clone()))
    }
}

impl DomainWeight for FakeDomain {
    fn read(&mut self, _packages: &CpuPackages) -> libvirt_power::Result<PackageWeights> {
        Ok(self.script.lock().unwrap().domains[&self.pid].clone())
    }
    fn value(&self) -> u64 {
        self.script.lock().unwrap().domains[&self.pid]
            .values()
            .sum()
    }
    fn fd_count(&self) -> usize {
        0
    }
}

/// The two-socket preset: CPU 0 is in package 0 and CPU 8 in package 1
/// (cores are numbered package by package). The fake `/proc/stat` lists
/// those two.
const CPU_P0: u32 = 0;
const CPU_P1: u32 = 8;

/// Idle and full-load dynamic power of each package in the test's model.
const IDLE_W: f64 = 20.0;
const DYN_W: f64 = 100.0;

struct Rig {
    _t: common::TempDir,
    root: PathBuf,
    proc_dir: PathBuf,
    now_ns: Arc<AtomicU64>,
    script: Arc<Mutex<Script>>,
    acc: Accountant,
    /// Cumulative busy ticks of CPU_P0 and CPU_P1, energy per package.
    busy_ticks: [u64; 2],
    energy_uj: [u64; 2],
    /// `max_energy_range_uj` per package.
    range_uj: [u64; 2],
}

fn zone_file(root: &Path, zone: &str) -> PathBuf {
    let z = libvirt_power::rapl::read_zones(&SysfsRoot::new(root))
        .unwrap()
        .into_iter()
        .find(|z| z.key == zone)
        .unwrap();
    root.join(z.file("energy_uj"))
}

impl Rig {
    fn new() -> Rig {
        Rig::with_tree(|_| {}, false)
    }

    /// A rig whose tree `setup` changes before the accountant reads it,
    /// keeping its state in [`Rig::state_file`] if `state`.
    fn with_tree(setup: impl FnOnce(&Path), state: bool) -> Rig {
        let (t, root, _state) = sim_host("two-socket");
        setup(&root);
        let range_uj = [0, 1].map(|p| {
            let f = zone_file(&root, &format!("package-{p}")).with_file_name("max_energy_range_uj");
            std::fs::read_to_string(f).unwrap().trim().parse().unwrap()
        });
        let proc_dir = t.path().join("proc");
        std::fs::create_dir_all(&proc_dir).unwrap();
        let script = Arc::new(Mutex::new(Script::default()));
        let now_ns = Arc::new(AtomicU64::new(1));
        let mut rig = Rig {
            _t: t,
            root: root.clone(),
            proc_dir: proc_dir.clone(),
            now_ns: now_ns.clone(),
            script: script.clone(),
            acc: {
                write_stat(&proc_dir, [0, 0]);
                let mut acc = Accountant::with_source(
                    &SysfsRoot::new(&root),
                    &ProcfsRoot::new(&proc_dir),
                    Box::new(FakeCycles(script)),
                )
                .unwrap();
                acc.set_clock(Box::new(move || now_ns.load(Ordering::SeqCst)));
                acc
            },
            busy_ticks: [0, 0],
            energy_uj: [0, 0],
            range_uj,
        };
        rig.write_energy();
        if state {
            let file = rig.state_file();
            rig.acc.set_state_file(&file).unwrap();
        }
        // The zones' baseline.
        rig.acc.tick().unwrap();
        rig
    }

    fn state_file(&self) -> PathBuf {
        self.root.parent().unwrap().join("acct.state")
    }

    fn write_energy(&self) {
        for p in 0..2 {
            std::fs::write(
                zone_file(&self.root, &format!("package-{p}")),
                // The counter wraps as the kernel's: 0..=range.
                (self.energy_uj[p] % (self.range_uj[p] + 1)).to_string(),
            )
            .unwrap();
        }
    }

    /// One second: package p busy for `u[p]` of it (its one listed CPU),
    /// power IDLE_W + DYN_W * u; the host's cycles grow by 1e9 * u per
    /// package, each domain's by its `cycles` per package.
    fn second(&mut self, u: [f64; 2], domains: &[(i32, [u64; 2])]) -> IntervalReport {
        self.seconds(1, u, domains)
    }

    /// [`second`](Self::second) for `secs` seconds in one interval.
    fn seconds(&mut self, secs: u64, u: [f64; 2], domains: &[(i32, [u64; 2])]) -> IntervalReport {
        for (p, u) in u.iter().enumerate() {
            self.busy_ticks[p] += (u * 100.0).round() as u64 * secs;
            self.energy_uj[p] += ((IDLE_W + DYN_W * u) * 1e6).round() as u64 * secs;
        }
        write_stat(&self.proc_dir, self.busy_ticks);
        self.write_energy();
        {
            let mut s = self.script.lock().unwrap();
            for (p, u) in (0u32..).zip(u) {
                *s.host.entry(Some(p)).or_default() += (1e9 * u) as u64 * secs;
            }
            for &(pid, cycles) in domains {
                let d = s.domains.entry(pid).or_default();
                for (p, c) in (0u32..).zip(cycles) {
                    *d.entry(Some(p)).or_default() += c * secs;
                }
            }
        }
        self.now_ns
            .fetch_add(secs * 1_000_000_000, Ordering::SeqCst);
        let r = self.acc.tick().unwrap();
        assert!(r.conserved(), "{r:?}");
        r
    }

    /// Warms the idle fit up: 12 s at loads rising from 0 to 1 by 0.1
    /// and falling back, on both packages.
    fn learn_idle(&mut self) {
        for i in 0..12 {
            let u = if i <= 10 { i } else { 20 - i } as f64 / 10.0;
            self.second([u, u], &[]);
        }
    }
}

fn write_stat(dir: &Path, busy_ticks: [u64; 2]) {
    let line =
        |name: String, busy: u64| format!("{name} {busy} 0 0 {} 0 0 0 0 0 0\n", 100_000 - busy);
    let text = line("cpu ".to_owned(), busy_ticks[0] + busy_ticks[1])
        + &line(format!("cpu{CPU_P0}"), busy_ticks[0])
        + &line(format!("cpu{CPU_P1}"), busy_ticks[1]);
    std::fs::write(dir.join("stat"), text).unwrap();
}

fn active_uj(r: &IntervalReport, zone: &str) -> u64 {
    let z = r.zone(zone).unwrap();
    let idle_shared: u64 = z.idle_shares.iter().map(|s| s.1).sum();
    z.measured_uj - z.idle_uj - idle_shared
}

#[test]
fn idle_power_is_learned_per_package() {
    let mut rig = Rig::new();
    rig.learn_idle();
    for p in ["package-0", "package-1"] {
        let uw = rig.acc.idle_power_uw(p).unwrap();
        assert!(uw.abs_diff(20_000_000) <= 200_000, "{p}: {uw} uW");
    }
    // Each interval's idle part is the learned power times 1 s.
    let r = rig.second([0.3, 0.3], &[]);
    let z = r.zone("package-0").unwrap();
    assert_eq!(z.measured_uj, 50_000_000);
    assert!(z.idle_uj.abs_diff(20_000_000) <= 200_000, "{z:?}");
}

#[test]
fn cycles_mode_leaves_the_hosts_work_to_the_host() {
    let mut rig = Rig::new();
    rig.learn_idle();
    // A VM on package 0 runs 1 % of the time; a host process keeps the
    // package 80 % busy.
    rig.acc.add_domain("vm", 4242).unwrap();
    assert_eq!(rig.acc.weight_kind(), Some(WeightKind::Cycles));
    let mut active = 0u64;
    let mut vm = 0u64;
    for _ in 0..5 {
        let r = rig.second([0.8, 0.0], &[(4242, [10_000_000, 0])]);
        active += active_uj(&r, "package-0");
        vm += r.zone("package-0").unwrap().share_uj("vm").unwrap_or(0);
    }
    // The VM did 1/80 of the package's cycles: 1.25 % of its active
    // energy, within the 2 % the issue allows; the sum over domains as the
    // denominator would have given it all.
    assert!(vm * 50 <= active, "vm {vm} of active {active}");
    assert!(
        vm * 100 >= active,
        "vm {vm} of active {active}: expected about 1.25 %"
    );
    let host = rig.acc.host_uj("package-0").unwrap();
    assert!(host > 60 * vm, "host {host}, vm {vm}");
}

#[test]
fn a_domain_on_package_1_takes_nothing_of_package_0() {
    let mut rig = Rig::new();
    rig.learn_idle();
    rig.acc.add_domain("busy", 1).unwrap();
    rig.acc.add_domain("idle", 2).unwrap();
    for _ in 0..5 {
        rig.second([0.02, 1.0], &[(1, [0, 1_000_000_000]), (2, [1_000_000, 0])]);
    }
    let e = |id: &str, zone: &str| rig.acc.domain_energy_uj(id, zone).unwrap();
    assert_eq!(e("busy", "package-0"), 0);
    // Package 1: 5 s of 100 W dynamic, all of it the busy domain's.
    let busy1 = e("busy", "package-1");
    assert!(busy1.abs_diff(500_000_000) <= 5_000_000, "{busy1}");
    assert_eq!(e("idle", "package-1"), 0);
    // Package 0 is near idle: the idle domain got half of its small active
    // energy (1e6 of 2e7 cycles), nothing of its idle energy.
    let idle0 = e("idle", "package-0");
    assert!(idle0 < 10_000_000, "{idle0}");
    // The identity, per zone, to the microjoule.
    for zone in rig.acc.zones().map(str::to_owned).collect::<Vec<_>>() {
        let sum = e("busy", &zone)
            + e("idle", &zone)
            + rig.acc.departed_uj(&zone).unwrap()
            + rig.acc.host_uj(&zone).unwrap()
            + rig.acc.idle_uj(&zone).unwrap();
        assert_eq!(sum, rig.acc.measured_uj(&zone).unwrap(), "{zone}");
    }
}

#[test]
fn idle_guests_get_no_idle_energy_unless_shared_by_vcpus() {
    let mut rig = Rig::new();
    rig.learn_idle();
    rig.acc.add_domain("two", 1).unwrap();
    rig.acc.add_domain("six", 2).unwrap();
    rig.acc.set_domain_vcpus("two", 2).unwrap();
    rig.acc.set_domain_vcpus("six", 6).unwrap();
    assert!(rig.acc.set_domain_vcpus("nobody", 1).is_err());
    let guests = [(1, [1_000_000, 0]), (2, [0, 1_000_000])];
    let mut measured = 0;
    let mut domains = 0;
    for _ in 0..5 {
        let r = rig.second([0.01, 0.01], &guests);
        for z in &r.zones {
            measured += z.measured_uj;
            domains += z.shares.iter().map(|s| s.1).sum::<u64>();
        }
    }
    assert!(domains * 100 <= measured, "domains {domains} of {measured}");
    // The vCPU policy: each interval's idle energy split 2:6, exactly.
    rig.acc.set_idle_policy(IdlePolicy::Vcpus);
    let before_two = rig.acc.domain_idle_uj("two", "package-0").unwrap();
    let r = rig.second([0.01, 0.01], &guests);
    for z in r
        .zones
        .iter()
        .filter(|z| z.zone.starts_with("package-") && !z.zone.contains('/'))
    {
        let idle: u64 = z.idle_shares.iter().map(|s| s.1).sum::<u64>() + z.idle_uj;
        let two = z.idle_share_uj("two").unwrap();
        let six = z.idle_share_uj("six").unwrap();
        assert_eq!(two, idle * 2 / 8, "{z:?}");
        assert_eq!(six, idle * 6 / 8, "{z:?}");
        assert_eq!(z.idle_uj, idle - two - six);
        assert!(z.conserved());
    }
    let z0 = r.zone("package-0").unwrap();
    assert_eq!(
        rig.acc.domain_idle_uj("two", "package-0").unwrap(),
        before_two + z0.idle_share_uj("two").unwrap()
    );
}

#[test]
fn the_state_file_keeps_host_and_idle_apart() {
    let mut rig = Rig::new();
    let file = rig.root.parent().unwrap().join("acct.state");
    rig.learn_idle();
    rig.acc.add_domain("vm", 7).unwrap();
    rig.second([0.5, 0.0], &[(7, [100_000_000, 0])]);
    let idle = rig.acc.idle_uj("package-0").unwrap();
    let host = rig.acc.host_uj("package-0").unwrap();
    assert!(idle > 0 && host > 0);
    // Save through a second accountant's file, load it in a third.
    let mut saver = Accountant::with_source(
        &SysfsRoot::new(&rig.root),
        &ProcfsRoot::new(&rig.proc_dir),
        Box::new(FakeCycles(rig.script.clone())),
    )
    .unwrap();
    saver.set_state_file(&file).unwrap();
    saver.tick().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("libvirt-power-accounting 3\n"), "{text}");
    // A version-1 file (no idle column) still loads.
    std::fs::write(
        &file,
        "libvirt-power-accounting 1\ntick 3\nzone package-0 100 40 7\ndomain x 1 2 package-0=53\n",
    )
    .unwrap();
    let mut old = Accountant::with_source(
        &SysfsRoot::new(&rig.root),
        &ProcfsRoot::new(&rig.proc_dir),
        Box::new(FakeCycles(rig.script.clone())),
    )
    .unwrap();
    old.set_state_file(&file).unwrap();
    assert_eq!(old.measured_uj("package-0"), Some(100));
    assert_eq!(old.idle_uj("package-0"), Some(0));
    assert_eq!(old.host_uj("package-0"), Some(40));
    assert_eq!(old.departed_uj("package-0"), Some(60));
}

/// Sets `max_energy_range_uj` of package 0's zone.
fn package_0_range(root: &Path, range_uj: u64) {
    let f = zone_file(root, "package-0").with_file_name("max_energy_range_uj");
    std::fs::write(f, range_uj.to_string()).unwrap();
}

#[test]
fn the_longest_interval_is_set_by_the_fastest_wrap() {
    // The two-socket preset: package zones rated 150 W (long_term
    // max_power_uw), so 300 W at most, and so their core and uncore; dram
    // and psys have no max_power_uw: 1 kW. Every range is Intel's
    // 262143328850 uJ.
    let rig = Rig::new();
    let wrap = |zone: &str| rig.acc.zone_wrap(zone).unwrap();
    let intel = 262_143_328_851u128 * 1_000_000_000;
    for zone in [
        "package-0",
        "package-1",
        "package-0/core",
        "package-1/uncore",
    ] {
        assert_eq!(wrap(zone).peak_uw, 300_000_000, "{zone}");
        assert!(wrap(zone).from_constraints, "{zone}");
        assert_eq!(
            u128::from(wrap(zone).wrap_ns),
            intel / 300_000_000,
            "{zone}"
        );
    }
    for zone in ["package-0/dram", "psys"] {
        assert_eq!(wrap(zone).peak_uw, 1_000_000_000, "{zone}");
        assert!(!wrap(zone).from_constraints, "{zone}");
    }
    let bound = rig.acc.max_interval().unwrap();
    assert_eq!(bound.zone, "package-0/dram");
    assert_eq!(bound.wrap.wrap_ns, 262_143_328_851);
    assert_eq!(bound.max_interval_ms, 131_071);
    assert_eq!(rig.acc.zone_wrap("gpu"), None);

    // AMD: 65.5 kJ and no max_power_uw at all; a package at 280 W wraps in
    // under 4 minutes. The fallback's 1 kW bounds the interval at 32 s.
    let rig = Rig::with_tree(
        |root| {
            package_0_range(root, 65_532_610_987);
            let dir = zone_file(root, "package-0").with_file_name("");
            for k in 0..2 {
                std::fs::remove_file(dir.join(format!("constraint_{k}_max_power_uw"))).ok();
            }
        },
        false,
    );
    let w = rig.acc.zone_wrap("package-0").unwrap();
    assert_eq!((w.peak_uw, w.from_constraints), (1_000_000_000, false));
    assert_eq!(w.wrap_ns, 65_532_610_988);
    // Its core has nothing of its own either: the fallback too.
    assert!(
        !rig.acc
            .zone_wrap("package-0/core")
            .unwrap()
            .from_constraints
    );
    let bound = rig.acc.max_interval().unwrap();
    assert_eq!(
        (bound.zone.as_str(), bound.max_interval_ms),
        ("package-0", 32_766)
    );
    assert!(bound.max_interval_ms < 65_532_610_987 / 280_000_000 * 1000);
}

#[test]
fn an_interval_longer_than_a_wrap_is_unmeasured_not_undercounted() {
    // Package 0 wraps at 1 kJ: at 300 W in 3.3 s.
    let mut rig = Rig::with_tree(|root| package_0_range(root, 999_999_999), true);
    let file = rig.state_file();
    let wrap_ns = rig.acc.zone_wrap("package-0").unwrap().wrap_ns;
    assert_eq!(wrap_ns, 3_333_333_333);
    assert_eq!(rig.acc.max_interval().unwrap().max_interval_ms, 1_666);
    rig.acc.add_domain("vm", 1).unwrap();
    let vm = [(1, [500_000_000, 500_000_000])];
    // Ten seconds at 120 W: the counter wraps once in some intervals,
    // which is told apart.
    for _ in 0..10 {
        rig.second([1.0, 1.0], &vm);
    }
    let measured = |rig: &Rig, p: &str| rig.acc.measured_uj(p).unwrap();
    assert_eq!(measured(&rig, "package-0"), 1_200_000_000);
    assert_eq!(measured(&rig, "package-1"), 1_200_000_000);
    let vm0 = rig.acc.domain_energy_uj("vm", "package-0").unwrap();
    let vm1 = rig.acc.domain_energy_uj("vm", "package-1").unwrap();
    assert_eq!(rig.acc.unmeasured("package-0"), Some(Unmeasured::default()));

    // The daemon stalls for 20 s: 2.4 kJ, two wraps and more of package
    // 0. Its count is ambiguous: not measured, and counted as such; the
    // single-wrap guess would have added 400 J. Package 1 (its wrap 873 s)
    // is measured as usual.
    let r = rig.seconds(20, [1.0, 1.0], &vm);
    assert_eq!(r.zone("package-0").unwrap().measured_uj, 0);
    assert_eq!(measured(&rig, "package-0"), 1_200_000_000);
    assert_eq!(measured(&rig, "package-1"), 1_200_000_000 + 2_400_000_000);
    let lost = Unmeasured {
        intervals: 1,
        ns: 20_000_000_000,
    };
    assert_eq!(rig.acc.unmeasured("package-0"), Some(lost));
    assert_eq!(rig.acc.unmeasured("package-1"), Some(Unmeasured::default()));
    // The domain's weight in the interval took nothing of package 0.
    assert_eq!(rig.acc.domain_energy_uj("vm", "package-0"), Some(vm0));
    assert!(rig.acc.domain_energy_uj("vm", "package-1").unwrap() > vm1);
    assert_identity(&rig.acc);

    // Measured again from the next interval on.
    rig.second([1.0, 1.0], &vm);
    assert_eq!(measured(&rig, "package-0"), 1_320_000_000);
    assert!(rig.acc.domain_energy_uj("vm", "package-0").unwrap() > vm0);

    // Just within the wrap: measured (the counter wraps once in it).
    rig.seconds(3, [1.0, 1.0], &vm);
    assert_eq!(measured(&rig, "package-0"), 1_680_000_000);
    assert_eq!(rig.acc.unmeasured("package-0"), Some(lost));

    // The clock steps back: the interval's length is unknown, so every
    // zone that wraps is unmeasured for it (no time added); nothing panics
    // or goes backwards.
    let before: Vec<u64> = ["package-0", "package-1"]
        .map(|p| measured(&rig, p))
        .to_vec();
    rig.now_ns.fetch_sub(10_000_000_000, Ordering::SeqCst);
    let r = rig.second([1.0, 1.0], &vm);
    assert!(r.zones.iter().all(|z| z.measured_uj == 0), "{r:?}");
    assert_eq!(
        ["package-0", "package-1"]
            .map(|p| measured(&rig, p))
            .to_vec(),
        before
    );
    let lost2 = Unmeasured {
        intervals: 2,
        ns: 20_000_000_000,
    };
    assert_eq!(rig.acc.unmeasured("package-0"), Some(lost2));
    assert_eq!(
        rig.acc.unmeasured("package-1"),
        Some(Unmeasured {
            intervals: 1,
            ns: 0
        })
    );
    rig.second([1.0, 1.0], &vm);
    assert_eq!(measured(&rig, "package-0"), before[0] + 120_000_000);
    assert_identity(&rig.acc);

    // The unmeasured time is kept across a restart.
    let mut next = Accountant::with_source(
        &SysfsRoot::new(&rig.root),
        &ProcfsRoot::new(&rig.proc_dir),
        Box::new(FakeCycles(rig.script.clone())),
    )
    .unwrap();
    next.set_state_file(&file).unwrap();
    assert_eq!(next.unmeasured("package-0"), Some(lost2));
    assert_eq!(next.measured_uj("package-0"), Some(before[0] + 120_000_000));
}

/// measured = domains + departed + host + idle, every zone, to the µJ.
fn assert_identity(acc: &Accountant) {
    for zone in acc.zones() {
        let domains: u64 = acc
            .domains()
            .map(|d| acc.domain_energy_uj(d, zone).unwrap())
            .sum();
        let sum = domains
            + acc.departed_uj(zone).unwrap()
            + acc.host_uj(zone).unwrap()
            + acc.idle_uj(zone).unwrap();
        assert_eq!(sum, acc.measured_uj(zone).unwrap(), "{zone}");
    }
}
