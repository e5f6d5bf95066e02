// SPDX-License-Identifier: LGPL-2.1-or-later
//! Simulated hosts: sysfs trees with the kernel's files, contents and
//! units, for tests, demos and libvirt's test driver on machines without
//! cpufreq or RAPL.
//!
//! The generator writes plain files and the same symlinks the kernel has
//! (`cpuN/cpufreq -> ../cpufreq/policyN`, `class/powercap/* ->
//! devices/virtual/powercap/...`). What plain files cannot do is the
//! kernel's side of a write: clamping, `EINVAL` for unknown values, and
//! `EACCES` on a firmware-locked RAPL zone. The library validates before it
//! writes, so the first two never reach the files; for the locked zone the
//! generator makes the limit files read-only (`0444`, where the kernel keeps
//! `0644`), so that a writer without `CAP_DAC_OVERRIDE` gets the same
//! `EACCES` the kernel gives. `energy_uj` is `0400` as since Linux 5.10.
//!
//! [`Runner`] keeps `energy_uj` (and `scaling_cur_freq`) moving from this
//! machine's real CPU load through the power model documented on
//! [`PowerModel`].

use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cpulist::format_cpulist;

/// The scaling drivers the generator can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `acpi-cpufreq`: frequency table, all generic governors, global boost.
    AcpiCpufreq,
    /// `intel_pstate` in active mode with HWP and EPP.
    IntelPstateActive,
    /// `intel_pstate` in passive mode (`intel_cpufreq`).
    IntelPstatePassive,
    /// `amd-pstate-epp` (active mode).
    AmdPstateEpp,
}

/// A RAPL zone of a simulated host.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSpec {
    /// `name` file.
    pub name: String,
    /// Constraint names with (limit µW, window µs or 0 for none, max µW or 0
    /// for no file).
    pub constraints: Vec<(String, u64, u64, u64)>,
    /// Subzones.
    pub children: Vec<ZoneSpec>,
    /// Firmware-locked (see the module doc).
    pub locked: bool,
}

/// A whole simulated host.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpec {
    /// Preset name, recorded in the tree's `libvirt-power-sim` marker.
    pub name: String,
    /// Sockets.
    pub packages: u32,
    /// Cores per socket.
    pub cores_per_package: u32,
    /// Threads per core.
    pub threads_per_core: u32,
    /// Scaling driver.
    pub driver: Driver,
    /// `cpuinfo_min_freq`, kHz.
    pub min_khz: u64,
    /// `cpuinfo_max_freq`, kHz.
    pub max_khz: u64,
    /// Base (non-turbo) frequency, kHz.
    pub base_khz: u64,
    /// CPUs per policy (1 = a policy per CPU; 2 = SMT siblings share one).
    pub cpus_per_policy: u32,
    /// Top-level `intel-rapl` zones.
    pub zones: Vec<ZoneSpec>,
    /// `intel-rapl-mmio` zones.
    pub mmio_zones: Vec<ZoneSpec>,
    /// Whether to create the perf `power` PMU directory.
    pub power_pmu: bool,
    /// Package TDP, W (the power model's full-load package power).
    pub tdp_w: f64,
}

/// Names of the presets, for CLIs.
pub const PRESETS: [&str; 7] = [
    "acpi-cpufreq",
    "intel-pstate-active",
    "intel-pstate-passive",
    "amd-pstate-epp",
    "two-socket",
    "bios-locked",
    "large",
];

fn z(name: &str, constraints: &[(&str, u64, u64, u64)], children: Vec<ZoneSpec>) -> ZoneSpec {
    ZoneSpec {
        name: name.into(),
        constraints: constraints
            .iter()
            .map(|(n, l, w, m)| ((*n).into(), *l, *w, *m))
            .collect(),
        children,
        locked: false,
    }
}

fn client_package(n: u32, tdp_w: u64) -> ZoneSpec {
    z(
        &format!("package-{n}"),
        &[
            (
                "long_term",
                tdp_w * 1_000_000,
                27_983_872,
                tdp_w * 1_000_000,
            ),
            ("short_term", tdp_w * 1_250_000, 2_440, 0),
        ],
        vec![
            z("core", &[("long_term", 0, 976, 0)], vec![]),
            z("uncore", &[("long_term", 0, 976, 0)], vec![]),
        ],
    )
}

fn server_package(n: u32, tdp_w: u64, core: bool) -> ZoneSpec {
    let mut children = Vec::new();
    if core {
        children.push(z("core", &[("long_term", 0, 976, 0)], vec![]));
        children.push(z("uncore", &[("long_term", 0, 976, 0)], vec![]));
    }
    children.push(z("dram", &[("long_term", 0, 976, 0)], vec![]));
    z(
        &format!("package-{n}"),
        &[
            ("long_term", tdp_w * 1_000_000, 999_424, tdp_w * 1_000_000),
            ("short_term", tdp_w * 1_200_000, 2_440, 0),
        ],
        children,
    )
}

impl SimSpec {
    /// A preset by name; `large` takes its CPU count from `cpus` (default
    /// 256), the others ignore it.
    pub fn preset(name: &str, cpus: Option<u32>) -> Option<SimSpec> {
        let base = SimSpec {
            name: name.into(),
            packages: 1,
            cores_per_package: 2,
            threads_per_core: 2,
            driver: Driver::AcpiCpufreq,
            min_khz: 1_200_000,
            max_khz: 2_101_000,
            base_khz: 2_100_000,
            cpus_per_policy: 1,
            zones: vec![server_package(0, 85, false)],
            mmio_zones: vec![],
            power_pmu: true,
            tdp_w: 85.0,
        };
        Some(match name {
            "acpi-cpufreq" => base,
            "intel-pstate-active" => SimSpec {
                cores_per_package: 4,
                driver: Driver::IntelPstateActive,
                min_khz: 400_000,
                max_khz: 4_700_000,
                base_khz: 2_800_000,
                zones: vec![
                    client_package(0, 28),
                    z(
                        "psys",
                        &[("long_term", 0, 27_983_872, 0), ("short_term", 0, 976, 0)],
                        vec![],
                    ),
                ],
                mmio_zones: vec![z(
                    "package-0",
                    &[
                        ("long_term", 28_000_000, 27_983_872, 28_000_000),
                        ("short_term", 35_000_000, 2_440, 0),
                    ],
                    vec![],
                )],
                tdp_w: 28.0,
                ..base
            },
            "intel-pstate-passive" => SimSpec {
                cores_per_package: 4,
                driver: Driver::IntelPstatePassive,
                min_khz: 800_000,
                max_khz: 4_200_000,
                base_khz: 3_000_000,
                zones: vec![
                    client_package(0, 65),
                    z("psys", &[("long_term", 0, 27_983_872, 0)], vec![]),
                ],
                tdp_w: 65.0,
                ..base
            },
            "amd-pstate-epp" => SimSpec {
                cores_per_package: 8,
                driver: Driver::AmdPstateEpp,
                min_khz: 400_000,
                max_khz: 4_971_000,
                base_khz: 3_800_000,
                zones: vec![z("package-0", &[], vec![z("core", &[], vec![])])],
                power_pmu: false,
                tdp_w: 105.0,
                ..base
            },
            "two-socket" => SimSpec {
                packages: 2,
                cores_per_package: 8,
                driver: Driver::IntelPstatePassive,
                min_khz: 1_000_000,
                max_khz: 3_500_000,
                base_khz: 2_400_000,
                zones: vec![
                    server_package(0, 150, true),
                    server_package(1, 150, true),
                    z("psys", &[("long_term", 0, 27_983_872, 0)], vec![]),
                ],
                tdp_w: 150.0,
                ..base
            },
            "bios-locked" => {
                let mut pkg = client_package(0, 45);
                pkg.locked = true;
                SimSpec {
                    cores_per_package: 4,
                    driver: Driver::IntelPstatePassive,
                    min_khz: 800_000,
                    max_khz: 4_500_000,
                    base_khz: 2_600_000,
                    zones: vec![pkg],
                    tdp_w: 45.0,
                    ..base
                }
            }
            "large" => {
                let n = cpus.unwrap_or(256).max(2);
                SimSpec {
                    packages: 2,
                    cores_per_package: n.div_ceil(4),
                    threads_per_core: 2,
                    driver: Driver::IntelPstatePassive,
                    min_khz: 800_000,
                    max_khz: 3_700_000,
                    base_khz: 2_200_000,
                    zones: vec![server_package(0, 250, false), server_package(1, 250, false)],
                    tdp_w: 250.0,
                    ..base
                }
            }
            _ => return None,
        })
    }

    /// Number of logical CPUs.
    pub fn cpu_count(&self) -> u32 {
        self.packages * self.cores_per_package * self.threads_per_core
    }

    /// Package, core (within the package) and thread of a CPU, numbered the
    /// way Linux does on x86: first thread of every core, then the second.
    pub fn place(&self, cpu: u32) -> (u32, u32, u32) {
        let cores = self.packages * self.cores_per_package;
        let thread = cpu / cores;
        let core_global = cpu % cores;
        (
            core_global / self.cores_per_package,
            core_global % self.cores_per_package,
            thread,
        )
    }

    fn siblings(&self, cpu: u32) -> Vec<u32> {
        let cores = self.packages * self.cores_per_package;
        let c = cpu % cores;
        (0..self.threads_per_core).map(|t| c + t * cores).collect()
    }

    fn policy_of(&self, cpu: u32) -> u32 {
        if self.cpus_per_policy <= 1 {
            cpu
        } else {
            *self.siblings(cpu).iter().min().unwrap_or(&cpu)
        }
    }
}

fn write(path: &Path, content: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, format!("{content}\n"))
}

fn write_mode(path: &Path, content: &str, mode: u32) -> io::Result<()> {
    write(path, content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Writes the tree of `spec` under `root` (which must not exist or be
/// empty).
pub fn generate(root: &Path, spec: &SimSpec) -> io::Result<()> {
    if root.exists() && fs::read_dir(root)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not empty", root.display()),
        ));
    }
    let n = spec.cpu_count();
    let cpu_dir = root.join("devices/system/cpu");
    let all = format!("0-{}", n - 1);
    for f in ["online", "possible", "present"] {
        write(&cpu_dir.join(f), &all)?;
    }
    write(&cpu_dir.join("offline"), "")?;
    write(&cpu_dir.join("kernel_max"), "8191")?;
    write(&root.join("libvirt-power-sim"), &spec.name)?;

    let (driver, governors, governor) = match spec.driver {
        Driver::AcpiCpufreq => (
            "acpi-cpufreq",
            "conservative ondemand userspace powersave performance schedutil",
            "schedutil",
        ),
        Driver::IntelPstateActive => ("intel_pstate", "performance powersave", "powersave"),
        Driver::IntelPstatePassive => (
            "intel_cpufreq",
            "conservative ondemand userspace powersave performance schedutil",
            "schedutil",
        ),
        Driver::AmdPstateEpp => ("amd-pstate-epp", "performance powersave", "powersave"),
    };
    let epp = matches!(
        spec.driver,
        Driver::IntelPstateActive | Driver::AmdPstateEpp
    );

    for cpu in 0..n {
        let d = cpu_dir.join(format!("cpu{cpu}"));
        let (pkg, core, _thread) = spec.place(cpu);
        let sib: std::collections::BTreeSet<u32> = spec.siblings(cpu).into_iter().collect();
        let pkg_cpus: std::collections::BTreeSet<u32> =
            (0..n).filter(|c| spec.place(*c).0 == pkg).collect();
        if cpu != 0 {
            write(&d.join("online"), "1")?;
        }
        let t = d.join("topology");
        write(&t.join("physical_package_id"), &pkg.to_string())?;
        write(&t.join("die_id"), "0")?;
        write(&t.join("core_id"), &core.to_string())?;
        write(&t.join("cluster_id"), &core.to_string())?;
        write(&t.join("core_cpus_list"), &format_cpulist(&sib))?;
        write(&t.join("thread_siblings_list"), &format_cpulist(&sib))?;
        write(&t.join("package_cpus_list"), &format_cpulist(&pkg_cpus))?;
        write(&t.join("core_siblings_list"), &format_cpulist(&pkg_cpus))?;
        let policy = spec.policy_of(cpu);
        symlink(format!("../cpufreq/policy{policy}"), d.join("cpufreq"))?;
    }

    let freq_dir = cpu_dir.join("cpufreq");
    let mut policies: Vec<u32> = (0..n).map(|c| spec.policy_of(c)).collect();
    policies.sort_unstable();
    policies.dedup();
    for p in policies {
        let d = freq_dir.join(format!("policy{p}"));
        let cpus: std::collections::BTreeSet<u32> =
            (0..n).filter(|c| spec.policy_of(*c) == p).collect();
        let list = format_cpulist(&cpus);
        write(
            &d.join("affected_cpus"),
            &cpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        )?;
        write(
            &d.join("related_cpus"),
            &cpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        )?;
        let _ = list;
        write(&d.join("cpuinfo_min_freq"), &spec.min_khz.to_string())?;
        write(&d.join("cpuinfo_max_freq"), &spec.max_khz.to_string())?;
        write(
            &d.join("cpuinfo_transition_latency"),
            if epp { "0" } else { "20000" },
        )?;
        write(&d.join("scaling_driver"), driver)?;
        write(&d.join("scaling_governor"), governor)?;
        write(&d.join("scaling_available_governors"), governors)?;
        write(&d.join("scaling_min_freq"), &spec.min_khz.to_string())?;
        write(&d.join("scaling_max_freq"), &spec.max_khz.to_string())?;
        write(&d.join("scaling_cur_freq"), &spec.base_khz.to_string())?;
        write(&d.join("scaling_setspeed"), "<unsupported>")?;
        write_mode(
            &d.join("cpuinfo_cur_freq"),
            &spec.base_khz.to_string(),
            0o400,
        )?;
        match spec.driver {
            Driver::AcpiCpufreq => {
                let mut freqs = vec![spec.max_khz];
                let mut f = spec.base_khz;
                while f >= spec.min_khz {
                    freqs.push(f);
                    f -= 100_000;
                }
                write(
                    &d.join("scaling_available_frequencies"),
                    &freqs
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                )?;
                write(&d.join("bios_limit"), &spec.max_khz.to_string())?;
            }
            Driver::IntelPstateActive | Driver::IntelPstatePassive => {
                write(&d.join("base_frequency"), &spec.base_khz.to_string())?;
            }
            Driver::AmdPstateEpp => {
                write(&d.join("boost"), "1")?;
                write(&d.join("amd_pstate_max_freq"), &spec.max_khz.to_string())?;
                write(&d.join("amd_pstate_lowest_nonlinear_freq"), "1800000")?;
                write(&d.join("amd_pstate_highest_perf"), "166")?;
                write(&d.join("amd_pstate_prefcore_ranking"), "166")?;
            }
        }
        if epp {
            write(
                &d.join("energy_performance_preference"),
                "balance_performance",
            )?;
            write(
                &d.join("energy_performance_available_preferences"),
                "default performance balance_performance balance_power power",
            )?;
        }
    }
    match spec.driver {
        Driver::AcpiCpufreq => write(&freq_dir.join("boost"), "1")?,
        Driver::IntelPstateActive | Driver::IntelPstatePassive => {
            let ip = cpu_dir.join("intel_pstate");
            let active = spec.driver == Driver::IntelPstateActive;
            write(
                &ip.join("status"),
                if active { "active" } else { "passive" },
            )?;
            write(&ip.join("no_turbo"), "0")?;
            write(&ip.join("max_perf_pct"), "100")?;
            let min_pct = (spec.min_khz * 100).div_ceil(spec.max_khz);
            write(&ip.join("min_perf_pct"), &min_pct.to_string())?;
            let pstates = spec.max_khz / 100_000 - spec.min_khz / 100_000 + 1;
            let turbo = (spec.max_khz - spec.base_khz) / 100_000;
            write(&ip.join("num_pstates"), &pstates.to_string())?;
            write(&ip.join("turbo_pct"), &(turbo * 100 / pstates).to_string())?;
            if active {
                write(&ip.join("hwp_dynamic_boost"), "0")?;
            }
        }
        Driver::AmdPstateEpp => {
            write(&cpu_dir.join("amd_pstate/status"), "active")?;
            write(&cpu_dir.join("amd_pstate/prefcore"), "enabled")?;
        }
    }

    let class = root.join("class/powercap");
    fs::create_dir_all(&class)?;
    for (ctype, zones) in [
        ("intel-rapl", &spec.zones),
        ("intel-rapl-mmio", &spec.mmio_zones),
    ] {
        if zones.is_empty() {
            continue;
        }
        let base = root.join("devices/virtual/powercap").join(ctype);
        write(&base.join("enabled"), "1")?;
        symlink(
            format!("../../devices/virtual/powercap/{ctype}"),
            class.join(ctype),
        )?;
        for (i, zone) in zones.iter().enumerate() {
            gen_zone(
                &base,
                &class,
                ctype,
                &format!("{i}"),
                zone,
                &format!("../../devices/virtual/powercap/{ctype}"),
            )?;
        }
    }

    if spec.power_pmu {
        let pmu = root.join("bus/event_source/devices/power");
        write(&pmu.join("type"), "23")?;
        let firsts: Vec<String> = (0..spec.packages)
            .map(|p| {
                (0..n)
                    .find(|c| spec.place(*c).0 == p)
                    .unwrap_or(0)
                    .to_string()
            })
            .collect();
        write(&pmu.join("cpumask"), &firsts.join(","))?;
        write(&pmu.join("format/event"), "config:0-7")?;
        let mut events = vec![
            ("energy-cores", "0x01"),
            ("energy-pkg", "0x02"),
            ("energy-ram", "0x03"),
        ];
        if spec.zones.iter().any(|z| z.name == "psys") {
            events.push(("energy-psys", "0x05"));
        }
        for (ev, code) in events {
            write(&pmu.join(format!("events/{ev}")), &format!("event={code}"))?;
            write(
                &pmu.join(format!("events/{ev}.scale")),
                "2.3283064365386962890625e-10",
            )?;
            write(&pmu.join(format!("events/{ev}.unit")), "Joules")?;
        }
    }
    Ok(())
}

fn gen_zone(
    parent: &Path,
    class: &Path,
    ctype: &str,
    idx: &str,
    zone: &ZoneSpec,
    link_base: &str,
) -> io::Result<()> {
    let entry = format!("{ctype}:{idx}");
    let d = parent.join(&entry);
    write(&d.join("name"), &zone.name)?;
    write(&d.join("enabled"), "1")?;
    write_mode(&d.join("energy_uj"), "0", 0o400)?;
    write(&d.join("max_energy_range_uj"), "262143328850")?;
    let lim_mode = if zone.locked { 0o444 } else { 0o644 };
    for (k, (name, limit, window, max)) in zone.constraints.iter().enumerate() {
        write_mode(&d.join(format!("constraint_{k}_name")), name, 0o444)?;
        write_mode(
            &d.join(format!("constraint_{k}_power_limit_uw")),
            &limit.to_string(),
            lim_mode,
        )?;
        if *window > 0 {
            write_mode(
                &d.join(format!("constraint_{k}_time_window_us")),
                &window.to_string(),
                lim_mode,
            )?;
        }
        if *max > 0 {
            write_mode(
                &d.join(format!("constraint_{k}_max_power_uw")),
                &max.to_string(),
                0o444,
            )?;
        }
    }
    let link = format!("{link_base}/{entry}");
    symlink(&link, class.join(&entry))?;
    for (j, child) in zone.children.iter().enumerate() {
        gen_zone(&d, class, ctype, &format!("{idx}:{j}"), child, &link)?;
    }
    Ok(())
}

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

/// Replaces a file's content atomically (readers never see it half
/// written), keeping its mode.
fn replace(path: &Path, content: &str) -> io::Result<()> {
    if fs::read_to_string(path).is_ok_and(|old| old.trim_end() == content) {
        return Ok(());
    }
    let mode = fs::metadata(path)?.permissions().mode();
    let tmp = path.with_extension("sim-tmp");
    fs::write(&tmp, format!("{content}\n"))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, path)
}

/// Applies what the kernel derives from the knobs by itself, which a tree
/// of plain files cannot do at write time: `scaling_setspeed` reads
/// `<unsupported>` unless the governor is `userspace`, and holds
/// a userspace target within the policy's limits. The [`Runner`] calls
/// this every tick; tests call it after a change, where the kernel would
/// already have reacted.
pub fn settle(root: &Path) -> io::Result<()> {
    let sysfs = crate::sysfs::SysfsRoot::new(root);
    let freq = crate::cpufreq::Cpufreq::read(&sysfs).map_err(io::Error::other)?;
    for p in &freq.policies {
        let setspeed = root.join(p.file("scaling_setspeed"));
        match (p.governor.as_str(), &p.setspeed) {
            ("userspace", crate::cpufreq::Setspeed::Unsupported) => {
                // Entering userspace: the governor starts at the current
                // frequency.
                let cur = p.scaling_cur_khz.unwrap_or(p.scaling_max_khz);
                replace(&setspeed, &cur.to_string())?;
            }
            ("userspace", crate::cpufreq::Setspeed::Khz(k)) => {
                // The kernel holds the target within the policy limits.
                let k = (*k).clamp(p.scaling_min_khz, p.scaling_max_khz);
                replace(&setspeed, &k.to_string())?;
            }
            (_, crate::cpufreq::Setspeed::Khz(_)) => replace(&setspeed, "<unsupported>")?,
            _ => {}
        }
    }
    Ok(())
}

/// Adds the energy of `dt` at utilisation `u` to every zone of the tree.
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
    settle(root)?;
    let freq = crate::cpufreq::Cpufreq::read(&sysfs).map_err(io::Error::other)?;
    // Policies' current frequency follows the governor.
    for p in &freq.policies {
        let cur = match (p.governor.as_str(), &p.setspeed) {
            ("userspace", crate::cpufreq::Setspeed::Khz(k)) => *k,
            ("performance", _) => p.scaling_max_khz,
            _ => {
                p.scaling_min_khz
                    + (p.scaling_max_khz.saturating_sub(p.scaling_min_khz) as f64 * u) as u64
            }
        };
        replace(&root.join(p.file("scaling_cur_freq")), &cur.to_string())?;
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
    use super::*;
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

    #[test]
    fn settle_mirrors_the_kernel() {
        let t = TempDir::new("sim-settle");
        let root = t.path().join("sys");
        generate(&root, &SimSpec::preset("acpi-cpufreq", None).unwrap()).unwrap();
        let d = root.join("devices/system/cpu/cpufreq/policy0");
        crate::sysfs::write_attr(&d.join("scaling_governor"), "userspace").unwrap();
        settle(&root).unwrap();
        assert_eq!(
            fs::read_to_string(d.join("scaling_setspeed")).unwrap(),
            "2100000\n"
        );
        crate::sysfs::write_attr(&d.join("scaling_governor"), "ondemand").unwrap();
        settle(&root).unwrap();
        assert_eq!(
            fs::read_to_string(d.join("scaling_setspeed")).unwrap(),
            "<unsupported>\n"
        );
    }
}
