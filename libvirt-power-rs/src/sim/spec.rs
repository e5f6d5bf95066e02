// SPDX-License-Identifier: LGPL-2.1-or-later
//! What a simulated host is made of ([`SimSpec`], [`ZoneSpec`], the
//! scaling [`Driver`], the CPU [`Numbering`]) and the presets that name
//! real machines' shapes.

use std::collections::BTreeSet;

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

/// How logical CPU numbers map to packages, cores and threads. Both
/// number every core's first thread before any second thread (so CPU `n`
/// and `n + cores` are SMT siblings); they differ in how the first threads
/// walk the packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Numbering {
    /// Package by package: CPU 0 .. `cores_per_package - 1` on package 0,
    /// then package 1, ...; what most single-socket machines and many AMD
    /// servers show.
    #[default]
    PackageMajor,
    /// Packages interleaved: CPU `n` (a first thread) on package
    /// `n % packages`, core `n / packages`, as many dual-socket Intel
    /// servers enumerate (the firmware lists the cores socket by socket in
    /// turn: cpu0 package 0 core 0, cpu1 package 1 core 0, cpu2 package 0
    /// core 1, ...). On a two-socket preset real CPU 0 and 1 then map to
    /// packages 0 and 1.
    PackageInterleaved,
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
    /// Firmware-locked: the limit files are read-only in the tree (see
    /// [`super`]).
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
    /// `intel-rapl-tpmi` zones (Xeon 6 and later: `intel_rapl_tpmi`).
    pub tpmi_zones: Vec<ZoneSpec>,
    /// Whether to create the perf `power` PMU directory.
    pub power_pmu: bool,
    /// Package TDP, W (the power model's full-load package power).
    pub tdp_w: f64,
    /// Turbo disabled by the firmware (`MSR_IA32_MISC_ENABLE` bit 38):
    /// intel_pstate's `no_turbo` reads 1 and a write gives `EPERM`. The
    /// generator marks it the way it marks a locked RAPL zone: the file is
    /// read-only (`0444`) in the backing tree, where the kernel shows `0644`.
    pub turbo_locked: bool,
    /// How CPU numbers map to packages and cores.
    pub numbering: Numbering,
    /// CPUs that start offline (`cpuN/online` 0, in the `offline` list,
    /// without `topology/`, their policies inactive if no online CPU is
    /// left in them). CPU 0 cannot be offline (it has no `online` file, as
    /// on most x86 kernels).
    pub offline: BTreeSet<u32>,
}

/// Names of the presets, for CLIs.
pub const PRESETS: [&str; 10] = [
    "acpi-cpufreq",
    "intel-pstate-active",
    "intel-pstate-passive",
    "amd-pstate-epp",
    "two-socket",
    "two-socket-smt",
    "two-socket-smt-offline",
    "bios-locked",
    "large",
    "xeon6",
];

/// The CPU that `two-socket-smt-offline` starts with offline: the second
/// thread of package 1's core 2 (its policy inactive, its sibling CPU 5
/// online).
pub(crate) const SMT_OFFLINE_CPU: u32 = 13;

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
            tpmi_zones: vec![],
            power_pmu: true,
            tdp_w: 85.0,
            turbo_locked: false,
            numbering: Numbering::PackageMajor,
            offline: BTreeSet::new(),
        };
        let two_socket_smt = SimSpec {
            packages: 2,
            cores_per_package: 4,
            threads_per_core: 2,
            numbering: Numbering::PackageInterleaved,
            driver: Driver::IntelPstatePassive,
            min_khz: 800_000,
            max_khz: 3_600_000,
            base_khz: 2_300_000,
            zones: vec![server_package(0, 120, false), server_package(1, 120, false)],
            tdp_w: 120.0,
            ..base.clone()
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
            // Two sockets of 4 cores with 2 threads each, numbered the way
            // many dual-socket Intel servers do (packages interleaved), a
            // policy per CPU (intel_pstate passive).
            "two-socket-smt" => two_socket_smt,
            // The same with one SMT thread offline.
            "two-socket-smt-offline" => SimSpec {
                offline: BTreeSet::from([SMT_OFFLINE_CPU]),
                ..two_socket_smt
            },
            "bios-locked" => {
                let mut pkg = client_package(0, 45);
                pkg.locked = true;
                // The firmware that locks RAPL has turned turbo off too.
                SimSpec {
                    cores_per_package: 4,
                    driver: Driver::IntelPstatePassive,
                    min_khz: 800_000,
                    max_khz: 4_500_000,
                    base_khz: 2_600_000,
                    zones: vec![pkg],
                    tdp_w: 45.0,
                    turbo_locked: true,
                    ..base
                }
            }
            // A Xeon 6 shape: two packages of two dies each. The TPMI
            // interface has one `package-N` zone per package (an 18-bit
            // limit field, PL1 max_power_uw the 350 W TDP) with `dram`;
            // the MSR interface names its package zones by die
            // (`package-N-die-M`).
            "xeon6" => {
                let die = |p: u32, d: u32| {
                    z(
                        &format!("package-{p}-die-{d}"),
                        &[("long_term", 175_000_000, 999_424, 175_000_000)],
                        vec![],
                    )
                };
                let tpmi = |p: u32| {
                    z(
                        &format!("package-{p}"),
                        &[
                            ("long_term", 350_000_000, 999_424, 350_000_000),
                            ("short_term", 420_000_000, 2_440, 0),
                        ],
                        vec![z("dram", &[("long_term", 0, 976, 0)], vec![])],
                    )
                };
                SimSpec {
                    packages: 2,
                    cores_per_package: 4,
                    threads_per_core: 2,
                    numbering: Numbering::PackageInterleaved,
                    driver: Driver::IntelPstateActive,
                    min_khz: 800_000,
                    max_khz: 3_900_000,
                    base_khz: 2_100_000,
                    zones: vec![die(0, 0), die(0, 1), die(1, 0), die(1, 1)],
                    tpmi_zones: vec![tpmi(0), tpmi(1)],
                    tdp_w: 350.0,
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
    /// way Linux does on x86: first thread of every core, then the second;
    /// the first threads walk the packages as [`Numbering`] says.
    pub fn place(&self, cpu: u32) -> (u32, u32, u32) {
        let cores = self.packages * self.cores_per_package;
        let thread = cpu / cores;
        let i = cpu % cores;
        match self.numbering {
            Numbering::PackageMajor => (
                i / self.cores_per_package,
                i % self.cores_per_package,
                thread,
            ),
            Numbering::PackageInterleaved => (i % self.packages, i / self.packages, thread),
        }
    }

    /// CPUs that start online.
    pub fn online(&self) -> BTreeSet<u32> {
        (0..self.cpu_count())
            .filter(|c| !self.offline.contains(c))
            .collect()
    }

    pub(super) fn siblings(&self, cpu: u32) -> Vec<u32> {
        let cores = self.packages * self.cores_per_package;
        let c = cpu % cores;
        (0..self.threads_per_core).map(|t| c + t * cores).collect()
    }

    pub(super) fn policy_of(&self, cpu: u32) -> u32 {
        if self.cpus_per_policy <= 1 {
            cpu
        } else {
            *self.siblings(cpu).iter().min().unwrap_or(&cpu)
        }
    }
}
