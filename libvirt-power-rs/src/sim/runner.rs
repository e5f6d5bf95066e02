// SPDX-License-Identifier: LGPL-2.1-or-later
//! The [`Runner`]: keeps a simulated tree's `energy_uj` and
//! `scaling_cur_freq` moving from this machine's real CPU load through the
//! [`PowerModel`], settling the tree through the kernel's rules each tick.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::kernel::running_khz;
use super::spec::SimSpec;
use super::tree::{policy_dirs, replace, settle_policy};

/// The power model of the [`Runner`]:
///
/// - package power `P = idle + (tdp - idle) * u * (f / f_max)^2` with
///   `idle = 0.15 * tdp`, `u` this machine's CPU utilisation (0-1, from
///   `/proc/stat`) and `f` the mean `scaling_max_freq` of the package's
///   policies (frequency lowers dynamic power roughly with f·V², V ~ f);
///   capped at the enabled `long_term` limit of the package zone;
/// - `core` 65 % and `uncore` 10 % of package power, `dram` 2 W + 6 W · u;
/// - `psys` the sum of the packages plus 8 W.
///
/// Each step adds `P · dt` to `energy_uj`, wrapping at
/// `max_energy_range_uj`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerModel {
    /// Full-load package power, W.
    pub tdp_w: f64,
}

/// Advances a simulated tree's counters from real load.
#[derive(Debug)]
pub struct Runner {
    root: PathBuf,
    model: PowerModel,
    last: (u64, u64),
    last_at: Instant,
}

impl Runner {
    /// A runner for the tree at `root` (its preset is read from the marker
    /// file to pick the TDP).
    pub fn new(root: &Path) -> io::Result<Runner> {
        let preset = fs::read_to_string(root.join("libvirt-power-sim"))?;
        let tdp_w = SimSpec::preset(preset.trim(), None).map_or(65.0, |s| s.tdp_w);
        Ok(Runner {
            root: root.to_owned(),
            model: PowerModel { tdp_w },
            last: crate::topology::proc_stat_jiffies()?,
            last_at: Instant::now(),
        })
    }

    /// One step: measures utilisation since the last step and adds the
    /// energy of the elapsed time. Returns the utilisation used.
    pub fn tick(&mut self) -> io::Result<f64> {
        let now = crate::topology::proc_stat_jiffies()?;
        let dt = self.last_at.elapsed();
        self.last_at = Instant::now();
        let busy = now.0.saturating_sub(self.last.0) as f64;
        let total = now.1.saturating_sub(self.last.1) as f64;
        self.last = now;
        let u = if total > 0.0 {
            (busy / total).clamp(0.0, 1.0)
        } else {
            0.0
        };
        advance(&self.root, self.model, u, dt)?;
        Ok(u)
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

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn advance(root: &Path, model: PowerModel, u: f64, dt: Duration) -> io::Result<()> {
    let sysfs = crate::sysfs::SysfsRoot::new(root);
    let zones = crate::rapl::read_zones(&sysfs).map_err(io::Error::other)?;
    let freq = crate::cpufreq::Cpufreq::read(&sysfs).map_err(io::Error::other)?;
    let topo = crate::topology::Topology::read(&sysfs).map_err(io::Error::other)?;
    let idle = 0.15 * model.tdp_w;
    let mut package_w: std::collections::BTreeMap<u32, f64> = std::collections::BTreeMap::new();
    for pkg in topo.packages() {
        let ratios: Vec<f64> = freq
            .policies
            .iter()
            .filter(|p| {
                p.related_cpus
                    .iter()
                    .any(|c| topo.cpu(*c).and_then(|t| t.package) == Some(pkg))
            })
            .map(|p| p.scaling_max_khz as f64 / p.cpuinfo_max_khz.max(1) as f64)
            .collect();
        let f = if ratios.is_empty() {
            1.0
        } else {
            ratios.iter().sum::<f64>() / ratios.len() as f64
        };
        let mut p = idle + (model.tdp_w - idle) * u * f * f;
        let limit = zones
            .iter()
            .find(|z| z.key == format!("package-{pkg}") && z.enabled != Some(false))
            .and_then(|z| z.constraint("long_term"))
            .filter(|c| c.power_limit_uw > 0);
        if let Some(c) = limit {
            p = p.min(c.power_limit_uw as f64 / 1e6);
        }
        package_w.insert(pkg, p);
    }
    // Each policy settles through the kernel's rules, then runs where its
    // governor puts it under this load.
    for dir in policy_dirs(root)? {
        let Some(ctx) = settle_policy(&dir)? else {
            continue;
        };
        let cur = dir.join("scaling_cur_freq");
        if let (Some(khz), true) = (running_khz(&ctx, u), cur.exists()) {
            replace(&cur, &khz.to_string())?;
        }
    }
    let secs = dt.as_secs_f64();
    for z in &zones {
        let w = match (z.name.as_str(), z.package) {
            ("core", Some(p)) => 0.65 * package_w.get(&p).copied().unwrap_or(0.0),
            ("uncore", Some(p)) => 0.10 * package_w.get(&p).copied().unwrap_or(0.0),
            ("dram", _) => 2.0 + 6.0 * u,
            ("psys", _) => package_w.values().sum::<f64>() + 8.0,
            (_, Some(p)) => package_w.get(&p).copied().unwrap_or(0.0),
            _ => 0.0,
        };
        let path = root.join(z.file("energy_uj"));
        let range = z.max_energy_range_uj.unwrap_or(u64::MAX);
        let old = read_u64(&path).unwrap_or(0);
        let add = (w * secs * 1e6) as u64;
        let new = if range == 0 {
            old.wrapping_add(add)
        } else {
            u64::try_from((u128::from(old) + u128::from(add)) % (u128::from(range) + 1))
                .unwrap_or(0)
        };
        replace(&path, &new.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sim::generate;
    use crate::testutil::TempDir;

    fn energy(root: &Path, zone_dir: &str) -> u64 {
        read_u64(&root.join(zone_dir).join("energy_uj")).unwrap()
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
        // A 40 W RAPL limit caps the package.
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
        // 12.75 + 72.25 * 0.36 = 38.76 W (float rounding: within 1 uJ)
        let got = energy(&root, "class/powercap/intel-rapl:0") - 150_500_000;
        assert!(got.abs_diff(38_760_000) <= 1, "{got}");
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
            read_u64(&pkg).unwrap(),
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
    fn runner_follows_real_load() {
        let t = TempDir::new("sim-runner");
        let root = t.path().join("sys");
        generate(
            &root,
            &SimSpec::preset("intel-pstate-passive", None).unwrap(),
        )
        .unwrap();
        let mut r = Runner::new(&root).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let u = r.tick().unwrap();
        assert!((0.0..=1.0).contains(&u));
        // At least idle power (15 % of 65 W) for the elapsed time.
        assert!(energy(&root, "class/powercap/intel-rapl:0") >= (0.15 * 65.0 * 0.05 * 1e6) as u64);
    }
}
