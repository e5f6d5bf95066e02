// SPDX-License-Identifier: LGPL-2.1-or-later
//! The power model of a simulated host ([`PowerModel`]) and the step that
//! writes its energy into a tree ([`Integrator::step`]): per package an
//! idle (static) and a dynamic part, in exact integers of µW and µJ.
//!
//! The energies are integrated without drift: each counter keeps the
//! remainder of its last step (in µW·ns), so that after any number of
//! steps a counter holds `floor(sum(power_uw · dt_ns) / 1e9)` µJ, and the
//! integers a step adds are the integers the [`Runner`](super::Runner)
//! records as ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

use super::kernel::running_khz;
use super::tree::{policy_dirs, replace, settle_policy};
use crate::cpufreq::Cpufreq;
use crate::rapl::RaplZone;
use crate::sysfs::SysfsRoot;
use crate::topology::Topology;

/// Idle (static) power as a share of the TDP, in percent.
pub const IDLE_PERCENT: u64 = 15;
/// `core` zone power as a share of its package's, in percent.
pub const CORE_PERCENT: u64 = 65;
/// `uncore` zone power as a share of its package's, in percent.
pub const UNCORE_PERCENT: u64 = 10;
/// `dram` power of a package at rest, µW.
pub const DRAM_IDLE_UW: u64 = 2_000_000;
/// `dram` power a package adds at full load, µW.
pub const DRAM_DYN_UW: u64 = 6_000_000;
/// What `psys` adds to the packages (board, fans, ...), µW.
pub const PSYS_REST_UW: u64 = 8_000_000;

const NS_PER_S: u128 = 1_000_000_000;

/// The power model of the [`Runner`](super::Runner), per package `p`:
///
/// - `P_p = idle + dyn_p`, with `idle = 15 % of the TDP` (static power:
///   leakage and uncore at rest, drawn whatever the load) and
///   `dyn_p = (TDP - idle) · f_p² · u_p`, where `u_p` is the busy fraction
///   (0-1) of the real CPUs mapped to `p` over the step and `f_p` the mean
///   `scaling_max_freq / cpuinfo_max_freq` of the package's policies
///   (dynamic power goes with f·V², V roughly with f);
/// - the lowest enabled, non-zero `long_term` limit of the package zone
///   (`package-p`, and `mmio:package-p` where the tree has one: the
///   hardware enforces both) caps `P_p` by scaling the dynamic part down to
///   `limit - idle`. Static power cannot be capped: a limit below `idle`
///   leaves the dynamic part at 0 and the package still draws `idle`
///   (real RAPL likewise misses a limit below what the package leaks at
///   its lowest P-state);
/// - `core` draws 65 % and `uncore` 10 % of its package; `dram` of package
///   `p` draws 2 W + 6 W · `u_p` (a `dram` zone with no package, the sum
///   of that over the packages); `psys` the sum of the packages plus 8 W;
///   any other zone nothing.
///
/// Each step adds the energy of the elapsed time to `energy_uj`, wrapping
/// at `max_energy_range_uj` as the kernel's counter does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerModel {
    /// Full-load package power, W.
    pub tdp_w: f64,
}

impl PowerModel {
    /// The TDP in µW.
    pub fn tdp_uw(&self) -> u64 {
        (self.tdp_w.max(0.0) * 1e6).round() as u64
    }

    /// A package's idle (static) power, µW.
    pub fn idle_uw(&self) -> u64 {
        self.tdp_uw() * IDLE_PERCENT / 100
    }

    /// A package's dynamic power, µW, at frequency ratio `f` and busy
    /// fraction `u`, under the power limit `cap_uw` if any.
    pub fn dyn_uw(&self, f: f64, u: f64, cap_uw: Option<u64>) -> u64 {
        let span = self.tdp_uw() - self.idle_uw();
        let uncapped = (span as f64 * u.clamp(0.0, 1.0) * f * f).round() as u64;
        match cap_uw {
            Some(cap) => uncapped.min(cap.saturating_sub(self.idle_uw())),
            None => uncapped,
        }
    }
}

/// What a tree looks like at one step: its zones, policies and topology.
#[derive(Debug, Clone)]
pub struct TreeView {
    /// The RAPL zones.
    pub zones: Vec<RaplZone>,
    /// The cpufreq policies.
    pub cpufreq: Cpufreq,
    /// The online CPUs and their packages.
    pub topology: Topology,
}

impl TreeView {
    /// Reads the tree at `root`.
    pub fn read(root: &Path) -> io::Result<TreeView> {
        let sysfs = SysfsRoot::new(root);
        Ok(TreeView {
            zones: crate::rapl::read_zones(&sysfs).map_err(io::Error::other)?,
            cpufreq: Cpufreq::read(&sysfs).map_err(io::Error::other)?,
            topology: Topology::read(&sysfs).map_err(io::Error::other)?,
        })
    }

    /// The package of (online) simulated CPU `cpu`.
    pub fn package_of(&self, cpu: u32) -> Option<u32> {
        self.topology.cpu(cpu).and_then(|t| t.package)
    }

    /// The packages: those of the online CPUs and those with a package
    /// zone.
    pub fn packages(&self) -> BTreeSet<u32> {
        let mut out = self.topology.packages();
        out.extend(
            self.zones
                .iter()
                .filter(|z| is_package_zone(z))
                .filter_map(|z| z.package),
        );
        out
    }

    /// The mean `scaling_max_freq / cpuinfo_max_freq` of the policies with
    /// a CPU in package `pkg` (1 without such policies).
    pub fn freq_ratio(&self, pkg: u32) -> f64 {
        let ratios: Vec<f64> = self
            .cpufreq
            .policies
            .iter()
            .filter(|p| {
                p.related_cpus
                    .iter()
                    .any(|c| self.package_of(*c) == Some(pkg))
            })
            .map(|p| p.scaling_max_khz as f64 / p.cpuinfo_max_khz.max(1) as f64)
            .collect();
        if ratios.is_empty() {
            1.0
        } else {
            ratios.iter().sum::<f64>() / ratios.len() as f64
        }
    }

    /// The lowest enabled, non-zero `long_term` limit of package `pkg`'s
    /// zones, µW.
    pub fn cap_uw(&self, pkg: u32) -> Option<u64> {
        self.zones
            .iter()
            .filter(|z| is_package_zone(z) && z.package == Some(pkg))
            .filter(|z| z.enabled != Some(false))
            .filter_map(|z| z.constraint("long_term"))
            .map(|c| c.power_limit_uw)
            .filter(|&uw| uw > 0)
            .min()
    }
}

fn is_package_zone(z: &RaplZone) -> bool {
    z.package.is_some_and(|p| z.name == format!("package-{p}"))
}

/// The load of one step: the busy fraction (0-1) of each simulated CPU
/// and of each package; CPUs and packages not listed are at `rest`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Load {
    /// Busy fraction by simulated CPU.
    pub cpus: BTreeMap<u32, f64>,
    /// Busy fraction by package (`u_p` of [`PowerModel`]).
    pub packages: BTreeMap<u32, f64>,
    /// The busy fraction of what is not listed.
    pub rest: f64,
}

impl Load {
    /// The same busy fraction `u` everywhere.
    pub fn uniform(u: f64) -> Load {
        Load {
            rest: u,
            ..Load::default()
        }
    }

    /// A simulated CPU's busy fraction.
    pub fn cpu(&self, cpu: u32) -> f64 {
        self.cpus.get(&cpu).copied().unwrap_or(self.rest)
    }

    /// A package's busy fraction.
    pub fn package(&self, pkg: u32) -> f64 {
        self.packages.get(&pkg).copied().unwrap_or(self.rest)
    }
}

/// What one step put into a package zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PackageStep {
    /// Idle power, µW.
    pub idle_uw: u64,
    /// Dynamic power (after the cap), µW.
    pub dyn_uw: u64,
    /// Idle energy added, µJ.
    pub idle_uj: u64,
    /// Dynamic energy added, µJ.
    pub dyn_uj: u64,
}

/// Integrates power into the tree's `energy_uj` files, carrying each
/// counter's sub-µJ remainder to the next step.
#[derive(Debug, Clone, Default)]
pub struct Integrator {
    /// Remainders in µW·ns, by counter (`idle-<p>`, `dyn-<p>`, zone key).
    rest: BTreeMap<String, u128>,
}

impl Integrator {
    fn energy_uj(&mut self, counter: String, power_uw: u64, dt_ns: u64) -> u64 {
        let rest = self.rest.entry(counter).or_default();
        let total = u128::from(power_uw) * u128::from(dt_ns) + *rest;
        *rest = total % NS_PER_S;
        u64::try_from(total / NS_PER_S).unwrap_or(u64::MAX)
    }

    /// One step of `dt_ns` under `load`: settles every policy through the
    /// kernel's rules and sets its running frequency from the mean load of
    /// its CPUs, then adds each zone's energy. Returns what each package
    /// zone received.
    pub fn step(
        &mut self,
        root: &Path,
        view: &TreeView,
        model: PowerModel,
        load: &Load,
        dt_ns: u64,
    ) -> io::Result<BTreeMap<u32, PackageStep>> {
        let mut packages = BTreeMap::new();
        for pkg in view.packages() {
            let idle_uw = model.idle_uw();
            let dyn_uw = model.dyn_uw(view.freq_ratio(pkg), load.package(pkg), view.cap_uw(pkg));
            let step = PackageStep {
                idle_uw,
                dyn_uw,
                idle_uj: self.energy_uj(format!("idle-{pkg}"), idle_uw, dt_ns),
                dyn_uj: self.energy_uj(format!("dyn-{pkg}"), dyn_uw, dt_ns),
            };
            packages.insert(pkg, step);
        }
        self.set_running_freq(root, view, load)?;
        for z in &view.zones {
            let add_uj = if is_package_zone(z) {
                z.package
                    .and_then(|p| packages.get(&p))
                    .map_or(0, |s| s.idle_uj + s.dyn_uj)
            } else {
                let uw = zone_power_uw(z, &packages, load);
                self.energy_uj(z.key.clone(), uw, dt_ns)
            };
            add_energy(root, z, add_uj)?;
        }
        Ok(packages)
    }

    fn set_running_freq(&self, root: &Path, view: &TreeView, load: &Load) -> io::Result<()> {
        for dir in policy_dirs(root)? {
            let Some(ctx) = settle_policy(&dir)? else {
                continue;
            };
            let id: Option<u32> = dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("policy"))
                .and_then(|n| n.parse().ok());
            let cpus: Vec<u32> = view
                .cpufreq
                .policies
                .iter()
                .find(|p| Some(p.id) == id)
                .map(|p| p.related_cpus.iter().copied().collect())
                .unwrap_or_default();
            let u = if cpus.is_empty() {
                load.rest
            } else {
                cpus.iter().map(|&c| load.cpu(c)).sum::<f64>() / cpus.len() as f64
            };
            let cur = dir.join("scaling_cur_freq");
            if let (Some(khz), true) = (running_khz(&ctx, u), cur.exists()) {
                replace(&cur, &khz.to_string())?;
            }
        }
        Ok(())
    }
}

/// The power of a zone that is not a package zone, µW.
fn zone_power_uw(z: &RaplZone, packages: &BTreeMap<u32, PackageStep>, load: &Load) -> u64 {
    let pkg_uw = |p: u32| packages.get(&p).map_or(0, |s| s.idle_uw + s.dyn_uw);
    let dram_uw = |p: u32| DRAM_IDLE_UW + (DRAM_DYN_UW as f64 * load.package(p)).round() as u64;
    match (z.name.as_str(), z.package) {
        ("core", Some(p)) => pkg_uw(p) * CORE_PERCENT / 100,
        ("uncore", Some(p)) => pkg_uw(p) * UNCORE_PERCENT / 100,
        ("dram", Some(p)) => dram_uw(p),
        ("dram", None) => packages.keys().map(|&p| dram_uw(p)).sum(),
        ("psys", _) => packages.keys().map(|&p| pkg_uw(p)).sum::<u64>() + PSYS_REST_UW,
        _ => 0,
    }
}

/// Adds `add_uj` to a zone's `energy_uj`, wrapping at
/// `max_energy_range_uj`.
fn add_energy(root: &Path, z: &RaplZone, add_uj: u64) -> io::Result<()> {
    let path = root.join(z.file("energy_uj"));
    let old: u64 = fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let new = wrap_add(old, add_uj, z.max_energy_range_uj.unwrap_or(0));
    replace(&path, &new.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// `old + add` on a counter that wraps to 0 after `range` (0: after
/// `u64::MAX`).
pub fn wrap_add(old: u64, add: u64, range: u64) -> u64 {
    if range == 0 {
        old.wrapping_add(add)
    } else {
        u64::try_from((u128::from(old) + u128::from(add)) % (u128::from(range) + 1)).unwrap_or(0)
    }
}

/// One stateless step with the same load `u` on every CPU: what
/// [`Integrator::step`] does with a fresh integrator (the sub-µJ remainder
/// is dropped), for tests that drive a tree by hand.
pub fn advance(root: &Path, model: PowerModel, u: f64, dt: std::time::Duration) -> io::Result<()> {
    let view = TreeView::read(root)?;
    let dt_ns = u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX);
    Integrator::default().step(root, &view, model, &Load::uniform(u), dt_ns)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::*;
    use crate::sim::{SimSpec, generate};
    use crate::testutil::TempDir;

    fn energy(root: &Path, zone_dir: &str) -> u64 {
        fs::read_to_string(root.join(zone_dir).join("energy_uj"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    #[test]
    fn power_model_exact_energy() {
        let t = TempDir::new("sim-model");
        let root = t.path().join("sys");
        let spec = SimSpec::preset("acpi-cpufreq", None).unwrap();
        generate(&root, &spec).unwrap();
        let model = PowerModel { tdp_w: spec.tdp_w };
        // Full load, full frequency: the 85 W TDP, capped at the 85 W limit.
        advance(&root, model, 1.0, Duration::from_secs(1)).unwrap();
        assert_eq!(energy(&root, "class/powercap/intel-rapl:0"), 85_000_000);
        // dram: 2 W + 6 W at full load.
        assert_eq!(energy(&root, "class/powercap/intel-rapl:0:0"), 8_000_000);
        // Idle: 15 % of TDP for 2 s.
        advance(&root, model, 0.0, Duration::from_secs(2)).unwrap();
        assert_eq!(
            energy(&root, "class/powercap/intel-rapl:0"),
            85_000_000 + 25_500_000
        );
        // A 40 W RAPL limit caps the package: idle 12.75 W stays, the
        // dynamic part shrinks to 27.25 W.
        crate::sysfs::write_attr(
            &root.join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw"),
            "40000000",
        )
        .unwrap();
        advance(&root, model, 1.0, Duration::from_secs(1)).unwrap();
        assert_eq!(
            energy(&root, "class/powercap/intel-rapl:0"),
            110_500_000 + 40_000_000
        );
        // A limit below idle: the static 12.75 W is drawn regardless.
        crate::sysfs::write_attr(
            &root.join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw"),
            "5000000",
        )
        .unwrap();
        advance(&root, model, 1.0, Duration::from_secs(1)).unwrap();
        assert_eq!(
            energy(&root, "class/powercap/intel-rapl:0"),
            150_500_000 + 12_750_000
        );
        // 60 % of the max frequency: dynamic power times 0.36.
        crate::sysfs::write_attr(
            &root.join("class/powercap/intel-rapl:0/constraint_0_power_limit_uw"),
            "85000000",
        )
        .unwrap();
        for p in 0..4 {
            crate::sysfs::write_attr(
                &root.join(format!(
                    "devices/system/cpu/cpufreq/policy{p}/scaling_max_freq"
                )),
                "1260600",
            )
            .unwrap();
        }
        advance(&root, model, 1.0, Duration::from_secs(1)).unwrap();
        // 12.75 + 72.25 * 0.36 = 38.76 W, exact in µW.
        let got = energy(&root, "class/powercap/intel-rapl:0") - 163_250_000;
        assert_eq!(got, 38_760_000);
    }

    #[test]
    fn energy_wraps_at_the_range() {
        let t = TempDir::new("sim-wrap");
        let root = t.path().join("sys");
        let spec = SimSpec::preset("acpi-cpufreq", None).unwrap();
        generate(&root, &spec).unwrap();
        let pkg = root.join("class/powercap/intel-rapl:0/energy_uj");
        replace(&pkg, "262143328000").unwrap();
        let mut meter =
            crate::rapl::EnergyMeter::new(&crate::sysfs::SysfsRoot::new(&root)).unwrap();
        advance(
            &root,
            PowerModel { tdp_w: spec.tdp_w },
            1.0,
            Duration::from_secs(1),
        )
        .unwrap();
        // 262143328000 + 85000000 wraps past 262143328850.
        assert_eq!(
            energy(&root, "class/powercap/intel-rapl:0"),
            262_143_328_000 + 85_000_000 - 262_143_328_851
        );
        let r = meter.read().unwrap();
        assert_eq!(
            r.iter().find(|z| z.key == "package-0").unwrap().total_uj,
            85_000_000
        );
        // Mode stays root-only.
        assert_eq!(
            fs::metadata(&pkg).unwrap().permissions().mode() & 0o777,
            0o400
        );
    }

    #[test]
    fn steps_do_not_drift() {
        // 1000 steps of 333 ms at 1 µW: each step's 0.333 µJ rounds down
        // to 0, the carried remainder makes the sum floor(0.333 · 1000).
        let mut i = Integrator::default();
        let sum: u64 = (0..1000)
            .map(|_| i.energy_uj("x".into(), 1, 333_000_000))
            .sum();
        assert_eq!(sum, 333);
    }

    #[test]
    fn wrap_add_edges() {
        assert_eq!(wrap_add(9, 3, 10), 1);
        assert_eq!(wrap_add(9, 1, 10), 10);
        assert_eq!(wrap_add(u64::MAX, 2, 0), 1);
    }
}
