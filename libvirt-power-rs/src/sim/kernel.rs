// SPDX-License-Identifier: LGPL-2.1-or-later
//! The simulated kernel's side of a sysfs write, written once.
//!
//! [`kernel_write`] is a pure function: given the [`Knob`] a file is, the
//! text written to it and the current contents of the files its rule reads
//! ([`FileContext`]), it answers what the files hold afterwards
//! ([`WriteOutcome`]) or the errno the kernel gives ([`KernelErrno`]). It
//! does no I/O. Its callers only move bytes: the FUSE mount of the tool
//! (`virt-power sim mount`) calls it on every write; the plain-tree
//! [`settle`](super::settle), which the [`Runner`](super::Runner) runs every
//! tick, rewrites each policy's governor through it (what the kernel does
//! on every limits change). [`kernel_read`] is the read side (what a file
//! shows instead of its stored content), [`running_khz`] where a policy
//! runs under load, for the runner.
//!
//! The rules, with the kernel code they follow (Linux 6.x):
//!
//! - `scaling_governor`: its first word (`sscanf(buf, "%15s")`) one of
//!   `scaling_available_governors`, matched without regard to case and
//!   stored as the kernel spells it (`cpufreq_parse_policy()` and
//!   `find_governor()` use `strncasecmp`), else `EINVAL`. Entering `userspace` starts its target at the current
//!   frequency (`cpufreq_userspace_policy_start()`); rewriting the governor
//!   in place only reapplies the limits (`cpufreq_set_policy()` calls
//!   `cpufreq_governor_limits()` when the governor is unchanged). Then the
//!   governor's limits callback runs (below).
//! - `scaling_setspeed`: `EINVAL` unless the governor is `userspace`
//!   (`store_scaling_setspeed()`: no `store_setspeed`) or the value is not
//!   decimal; otherwise `__cpufreq_driver_target(.., CPUFREQ_RELATION_L)`:
//!   clamped into `[scaling_min_freq, scaling_max_freq]`, then the lowest
//!   `scaling_available_frequencies` entry at or above it, else the highest
//!   below it (`cpufreq_table_find_index_al()`); without a table the
//!   clamped value. The file then reads the frequency picked (the userspace
//!   governor's `show_speed()` prints `policy->cur`), `scaling_cur_freq`
//!   the same.
//! - `scaling_min_freq`/`scaling_max_freq`: decimal, else `EINVAL`; clamped
//!   silently into `[cpuinfo_min_freq, cpuinfo_max_freq]`
//!   (`cpufreq_verify_within_cpu_limits()`); a min above the max is stored
//!   as the max (`cpufreq_verify_within_limits()`); then resolved to the
//!   table, the min with `RELATION_L` and the max with `RELATION_H`
//!   (`cpufreq_set_policy()`: "Resolve policy min/max to available
//!   frequencies"). One difference, kept because the mount's tests pin it:
//!   a max below the min is stored as the min, where the kernel's QoS lowers
//!   the effective min to the max instead; both keep min <= max.
//! - The governor's limits callback after a governor or limit change:
//!   `userspace` holds its target within the limits (`RELATION_H` to the
//!   max above it, `RELATION_L` to the min below it, else `RELATION_L` on
//!   the target: `cpufreq_userspace_policy_limits()`); `performance` runs at
//!   the max (`RELATION_H`), the generic `powersave` governor at the min
//!   (`RELATION_L`); the others, and the `powersave` algorithm of the
//!   drivers without governors (`intel_pstate` active, `amd-pstate-epp`),
//!   keep the current frequency if it is within the limits, else move to
//!   the limit it crossed (`cpufreq_policy_apply_limits()`). Outside
//!   `userspace`, `scaling_setspeed` reads `<unsupported>`. The sim keeps
//!   one value for the userspace target and the frequency picked, where the
//!   kernel remembers the request (`userspace->setspeed`) and returns to it
//!   when the limits widen again.
//! - `energy_performance_preference` (`store_energy_performance_preference()`
//!   of `intel_pstate.c` and `amd-pstate.c`): its first word (`sscanf(buf,
//!   "%20s")`) one of `energy_performance_available_preferences`, else the
//!   whole text a raw EPP (`kstrtouint(buf, 10, ..)`: not decimal `EINVAL`,
//!   beyond 32 bits `ERANGE`, above 255 `EINVAL`). A name stands for its
//!   EPP value (`epp_values[]`: `performance` 0, `balance_performance`
//!   0x80, `balance_power` 0xC0 on Intel and 0xBF on AMD, `power` 0xFF);
//!   `default` for the firmware's default (`epp_default`, read from the
//!   MSR when the driver starts; the tree keeps it in the simulator's file
//!   `libvirt-power-sim.epp_default` of the policy, 0x80 without one).
//!   `EBUSY` for any nonzero EPP under the `performance` policy of
//!   `intel_pstate` and of `amd-pstate-epp` (`if (epp > 0 && policy ==
//!   CPUFREQ_POLICY_PERFORMANCE) return -EBUSY;`). The file then reads the
//!   name of the value stored, or the number where no name has it
//!   (`show_energy_performance_preference()`), so `default` reads back as
//!   what it resolved to; amd-pstate shows a raw write as the number
//!   written ("Add support for raw EPP writes"), and where its stored value
//!   has no name the sim shows the number, where that kernel answers
//!   `EINVAL`.
//! - cpufreq `boost`, powercap `enabled`: `0` or `1`, else `EINVAL`
//!   (`store_boost()`: `kstrtoint`, 0-1; powercap's `kstrtobool` would
//!   also take `y`/`n`, which the mount's tests pin as `EINVAL`). `enabled`
//!   of a firmware-locked zone gives `EACCES` (`set_domain_enable()` ->
//!   `rapl_write_pl_data()`).
//! - `intel_pstate/status`: `active`, `passive` or `off`, else `EINVAL`;
//!   `off` while off gives `EINVAL` (`intel_pstate_update_status()`: no
//!   driver to unregister).
//! - `intel_pstate/no_turbo`, `min_perf_pct`, `max_perf_pct` and the other
//!   files there: the value is parsed first (`EINVAL`), then `EAGAIN` while
//!   the driver is off (`store_no_turbo()` and friends check
//!   `intel_pstate_driver` after `sscanf`). `no_turbo` takes 0/1 (the
//!   kernel clamps larger numbers to 1; the mount's tests pin `EINVAL`) and
//!   gives `EPERM` when the firmware has disabled turbo
//!   (`global.turbo_disabled`; marked by a read-only `no_turbo` in the
//!   tree). `min_perf_pct`/`max_perf_pct` take 0-100 (the kernel clamps
//!   above 100; the mount's tests pin `EINVAL`) and are clamped silently so
//!   that min <= max (`store_min_perf_pct()`, `store_max_perf_pct()`).
//! - powercap `constraint_K_power_limit_uw`: decimal, else `EINVAL`;
//!   `EACCES` when the zone is firmware-locked (`rapl_write_pl_data()`;
//!   marked by a read-only `constraint_0_power_limit_uw`, the PL1 file, as
//!   the lock bit locks the whole register); otherwise the kernel converts
//!   to its 1/8 W unit, rounding down, and masks to the field with no range
//!   check, `max_power_uw` (the TDP for PL1) included (`set_power_limit()`
//!   -> `rapl_write_pl_data()` -> `rapl_write_data_raw()`), which is what
//!   reads back. The field is 15 bits for `intel-rapl` and
//!   `intel-rapl-mmio` (`POWER_LIMIT1_MASK`), 18 for `intel-rapl-tpmi`
//!   (`TPMI_POWER_LIMIT_MASK`). PL4's 13-bit MSR field
//!   (`POWER_LIMIT4_MASK`) is not modelled: no preset has a `peak_power`
//!   constraint.
//! - `constraint_K_time_window_us`: decimal, else `EINVAL`; `EACCES` when
//!   locked; stored as given (the kernel encodes it as `2^Y * (1 + F/4)`
//!   time units; the mount's tests pin the value as given).
//! - Every attribute of an inactive cpufreq policy (one whose CPUs are all
//!   offline: `policy_is_inactive()`, an empty `policy->cpus`) answers
//!   `EBUSY`, read or written (`show()` and `store()` in `cpufreq.c`:
//!   `if (unlikely(policy_is_inactive(policy))) return -EBUSY;`). The tree
//!   stores `policy->cpus` as `affected_cpus`, so an empty backing
//!   `affected_cpus` marks the policy inactive ([`kernel_refuses`]); a
//!   policy that keeps an online CPU stays active with the offline ones
//!   dropped from `affected_cpus` (`related_cpus` keeps them).
//! - `cpuN/online` (`online_store()`: `kstrtobool`, else `EINVAL`): `0`
//!   takes the CPU down (`EBUSY` for the last online CPU: `_cpu_down()`),
//!   `1` brings it up (`EPERM` for a secondary SMT thread while
//!   `smt/control` is `off` or `forceoff`: `cpu_up()` -> `cpu_bootable()`);
//!   the same state again changes nothing. CPU 0 has no `online` file, as
//!   on x86 kernels without `CONFIG_BOOTPARAM_HOTPLUG_CPU0`.
//! - `smt/control` (`__store_smt_control()`): `EPERM` while `forceoff`,
//!   `ENODEV` while `notsupported`, whatever is written; then `on`, `off`,
//!   `forceoff` or a thread count (`1` is `off`, the core's thread count
//!   is `on`), else `EINVAL`. Fewer threads (`off`, or `forceoff` from any
//!   state) take every online secondary thread down
//!   (`cpuhp_smt_disable()`); more threads (`on` after `off`) bring up
//!   every present offline CPU, as x86's `cpuhp_smt_enable()` does
//!   (`topology_is_core_online()` is always true there); the same count
//!   again changes nothing.
//! - A CPU going down loses its `topology/` directory
//!   (`topology_remove_dev()`, the `CPUHP_TOPOLOGY_PREPARE` teardown) and
//!   leaves its siblings' `core_cpus_list`, `thread_siblings_list`,
//!   `package_cpus_list` and `core_siblings_list` (x86's
//!   `remove_siblinginfo()`); `online`, `offline` and `smt/active` follow.
//!   [`Cpus`] is that state; the tree keeps what the kernel keeps in memory
//!   (each CPU's package, die, core and thread, and the SMT control) in
//!   the simulator's file `libvirt-power-sim.cpus` ([`Cpus::record`]).
//! - Other files: stored as given.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Component, Path};

/// What a file is, for the write and read rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Knob {
    /// cpufreq `scaling_governor`.
    Governor,
    /// cpufreq `scaling_setspeed`.
    Setspeed,
    /// cpufreq `scaling_min_freq`.
    MinFreq,
    /// cpufreq `scaling_max_freq`.
    MaxFreq,
    /// cpufreq `energy_performance_preference`.
    Epp,
    /// cpufreq `boost` (global or per policy).
    Boost,
    /// `intel_pstate/status`.
    PstateStatus,
    /// `intel_pstate/no_turbo`.
    NoTurbo,
    /// `intel_pstate/min_perf_pct`.
    MinPerfPct,
    /// `intel_pstate/max_perf_pct`.
    MaxPerfPct,
    /// Another file in `intel_pstate/` (`EAGAIN` while the driver is off).
    PstateOther,
    /// powercap `constraint_K_power_limit_uw` of the MSR and MMIO
    /// interfaces (`intel-rapl`, `intel-rapl-mmio`: a 15-bit field).
    PowerLimit,
    /// powercap `constraint_K_power_limit_uw` of the TPMI interface
    /// (`intel-rapl-tpmi`: an 18-bit field).
    TpmiPowerLimit,
    /// powercap `constraint_K_time_window_us`.
    TimeWindow,
    /// powercap `enabled`.
    RaplEnabled,
    /// Another file of a cpufreq policy directory (`EBUSY` while the
    /// policy is inactive).
    PolicyOther,
    /// `cpuN/online` of CPU N.
    CpuOnline(u32),
    /// `smt/control`.
    SmtControl,
    /// A file without rules.
    Other,
}

/// The files of a cpufreq policy directory that the policy rules read.
pub const POLICY_FILES: &[&str] = &[
    "affected_cpus",
    "scaling_governor",
    "scaling_available_governors",
    "scaling_driver",
    "scaling_min_freq",
    "scaling_max_freq",
    "cpuinfo_min_freq",
    "cpuinfo_max_freq",
    "scaling_setspeed",
    "scaling_cur_freq",
    "scaling_available_frequencies",
    "energy_performance_available_preferences",
    EPP_DEFAULT_FILE,
];

/// The simulator's record of the firmware's default EPP of a policy (what
/// the kernel keeps in `epp_default`), in the policy's directory.
pub const EPP_DEFAULT_FILE: &str = "libvirt-power-sim.epp_default";

/// The firmware default EPP without [`EPP_DEFAULT_FILE`]: `balance_performance`.
const EPP_DEFAULT: u8 = 0x80;

/// The EPP values behind the named preferences (`epp_values[]`).
fn epp_names(driver: &str) -> [(&'static str, u8); 4] {
    let balance_power = if driver.starts_with("amd") {
        0xbf
    } else {
        0xc0
    };
    [
        ("performance", 0),
        ("balance_performance", 0x80),
        ("balance_power", balance_power),
        ("power", 0xff),
    ]
}

/// PL1's limit file: read-only in the tree when the firmware has locked
/// the zone (the lock bit locks PL1 and PL2 together).
const PL1_FILE: &str = "constraint_0_power_limit_uw";

/// What `scaling_setspeed` reads outside the `userspace` governor.
pub const UNSUPPORTED: &str = "<unsupported>";

/// The RAPL power unit: 1/8 W (`MSR_RAPL_POWER_UNIT` bits 3:0 = 3 on the
/// machines the presets imitate).
const RAPL_POWER_UNIT_UW: u64 = 125_000;

/// The power limit fields of the RAPL MSR and MMIO registers are 15 bits
/// wide (`POWER_LIMIT1_MASK`, `POWER_LIMIT2_MASK`).
const RAPL_POWER_LIMIT_MASK: u64 = 0x7fff;

/// The TPMI interface's are 18 bits wide (`TPMI_POWER_LIMIT_MASK`).
const TPMI_POWER_LIMIT_MASK: u64 = 0x3_ffff;

/// Scaling drivers without governors of their own (`setpolicy` drivers):
/// `powersave` there is the driver's load-following algorithm.
const SETPOLICY_DRIVERS: [&str; 2] = ["intel_pstate", "amd-pstate-epp"];

fn constraint_file(name: &str, suffix: &str) -> bool {
    name.strip_prefix("constraint_")
        .and_then(|r| r.strip_suffix(suffix))
        .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
}

impl Knob {
    /// The knob a file is, from its path relative to the sysfs root (the
    /// real path, as a lookup resolves the `class/` symlinks).
    pub fn classify(rel: &Path) -> Knob {
        let name = rel.file_name().and_then(OsStr::to_str).unwrap_or("");
        let parent = rel
            .parent()
            .and_then(Path::file_name)
            .and_then(OsStr::to_str)
            .unwrap_or("");
        if parent == "intel_pstate" {
            return match name {
                "status" => Knob::PstateStatus,
                "no_turbo" => Knob::NoTurbo,
                "min_perf_pct" => Knob::MinPerfPct,
                "max_perf_pct" => Knob::MaxPerfPct,
                _ => Knob::PstateOther,
            };
        }
        let powercap = rel
            .components()
            .any(|c| c == Component::Normal(OsStr::new("powercap")));
        let grandparent = rel
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(OsStr::to_str)
            .unwrap_or("");
        let in_cpu_dir = grandparent == "cpu"
            && rel
                .parent()
                .and_then(Path::parent)
                .and_then(Path::parent)
                .and_then(Path::file_name)
                == Some(OsStr::new("system"));
        let numbered = |prefix: &str| {
            parent
                .strip_prefix(prefix)
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u32>().ok())
        };
        if let (true, "online", Some(cpu)) = (in_cpu_dir, name, numbered("cpu")) {
            return Knob::CpuOnline(cpu);
        }
        if in_cpu_dir && parent == "smt" && name == "control" {
            return Knob::SmtControl;
        }
        let policy = grandparent == "cpufreq" && numbered("policy").is_some();
        match name {
            "scaling_governor" => Knob::Governor,
            "scaling_setspeed" => Knob::Setspeed,
            "scaling_min_freq" => Knob::MinFreq,
            "scaling_max_freq" => Knob::MaxFreq,
            "energy_performance_preference" => Knob::Epp,
            "boost" => Knob::Boost,
            "enabled" if powercap => Knob::RaplEnabled,
            n if constraint_file(n, "_power_limit_uw") => {
                let tpmi = rel.components().any(|c| {
                    c.as_os_str()
                        .to_str()
                        .is_some_and(|c| c.starts_with("intel-rapl-tpmi"))
                });
                if tpmi {
                    Knob::TpmiPowerLimit
                } else {
                    Knob::PowerLimit
                }
            }
            n if constraint_file(n, "_time_window_us") => Knob::TimeWindow,
            _ if policy => Knob::PolicyOther,
            _ => Knob::Other,
        }
    }

    /// Whether the knob is a file of a cpufreq policy (all of them answer
    /// `EBUSY` while the policy is inactive). A `boost` outside a policy
    /// directory has no `affected_cpus` beside it and is never refused.
    pub fn in_policy(self) -> bool {
        matches!(
            self,
            Knob::Governor
                | Knob::Setspeed
                | Knob::MinFreq
                | Knob::MaxFreq
                | Knob::Epp
                | Knob::Boost
                | Knob::PolicyOther
        )
    }

    /// Whether [`kernel_write`] needs the CPUs' state ([`FileContext::set_cpus`]).
    pub fn needs_cpus(self) -> bool {
        matches!(self, Knob::CpuOnline(_) | Knob::SmtControl)
    }

    /// The files of the knob's directory that [`kernel_write`] reads.
    pub fn write_context(self) -> &'static [&'static str] {
        match self {
            Knob::Governor | Knob::Setspeed | Knob::MinFreq | Knob::MaxFreq | Knob::Epp => {
                POLICY_FILES
            }
            Knob::PstateStatus | Knob::PstateOther => &["status"],
            Knob::NoTurbo => &["status", "no_turbo"],
            Knob::MinPerfPct | Knob::MaxPerfPct => &["status", "min_perf_pct", "max_perf_pct"],
            Knob::PowerLimit | Knob::TpmiPowerLimit | Knob::TimeWindow | Knob::RaplEnabled => {
                &[PL1_FILE]
            }
            Knob::Boost | Knob::PolicyOther => &["affected_cpus"],
            Knob::CpuOnline(_) | Knob::SmtControl | Knob::Other => &[],
        }
    }

    /// The files of the knob's directory that [`kernel_read`] reads.
    pub fn read_context(self) -> &'static [&'static str] {
        match self {
            Knob::Setspeed => &["scaling_governor", "affected_cpus"],
            Knob::Governor
            | Knob::MinFreq
            | Knob::MaxFreq
            | Knob::Epp
            | Knob::Boost
            | Knob::PolicyOther => &["affected_cpus"],
            Knob::NoTurbo | Knob::MinPerfPct | Knob::MaxPerfPct | Knob::PstateOther => &["status"],
            _ => &[],
        }
    }

    /// The permission bits the kernel shows for a file whose backing file
    /// has `backing` (`mode & 0o7777`): a firmware lock is marked by a
    /// read-only backing file (so that a plain-tree writer without
    /// `CAP_DAC_OVERRIDE` gets `EACCES`), where the kernel keeps `0644`.
    pub fn shown_mode(self, backing: u32) -> u32 {
        match self {
            Knob::PowerLimit | Knob::TpmiPowerLimit | Knob::TimeWindow | Knob::NoTurbo
                if backing & 0o222 == 0 =>
            {
                0o644
            }
            _ => backing,
        }
    }
}

/// The errno classes the simulated kernel answers a write with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KernelErrno {
    /// A value the file does not take.
    #[error("invalid argument (EINVAL)")]
    Inval,
    /// A value the file takes, but not in the current state.
    #[error("device or resource busy (EBUSY)")]
    Busy,
    /// The driver behind the file is not registered.
    #[error("resource temporarily unavailable (EAGAIN)")]
    Again,
    /// The firmware has locked the setting.
    #[error("permission denied (EACCES)")]
    Access,
    /// The setting is not permitted on this machine.
    #[error("operation not permitted (EPERM)")]
    Perm,
    /// The machine has no such feature (`smt/control` without SMT).
    #[error("no such device (ENODEV)")]
    NoDev,
    /// A number too large for the kernel's parser (`kstrtouint`).
    #[error("numerical result out of range (ERANGE)")]
    Range,
}

impl KernelErrno {
    /// The errno number.
    pub fn errno(self) -> i32 {
        match self {
            KernelErrno::Inval => libc::EINVAL,
            KernelErrno::Busy => libc::EBUSY,
            KernelErrno::Again => libc::EAGAIN,
            KernelErrno::Access => libc::EACCES,
            KernelErrno::Perm => libc::EPERM,
            KernelErrno::NoDev => libc::ENODEV,
            KernelErrno::Range => libc::ERANGE,
        }
    }
}

/// The current contents of the files a rule reads (by name, within the
/// written file's directory) and which of them are read-only in the tree.
/// A file the context does not hold is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileContext {
    files: BTreeMap<String, String>,
    read_only: BTreeSet<String>,
    cpus: Option<Cpus>,
}

impl FileContext {
    /// An empty context.
    pub fn new() -> FileContext {
        FileContext::default()
    }

    /// Records the content of `name` (surrounding whitespace dropped).
    pub fn set(&mut self, name: &str, content: &str) {
        self.files
            .insert(name.to_owned(), content.trim().to_owned());
    }

    /// Records that `name` is read-only in the tree (the firmware-lock
    /// marker).
    pub fn set_read_only(&mut self, name: &str) {
        self.read_only.insert(name.to_owned());
    }

    /// Records the CPUs' state, which the hotplug knobs read.
    pub fn set_cpus(&mut self, cpus: Cpus) {
        self.cpus = Some(cpus);
    }

    /// [`set_cpus`](Self::set_cpus), by value.
    pub fn with_cpus(mut self, cpus: Cpus) -> FileContext {
        self.set_cpus(cpus);
        self
    }

    /// [`set`](Self::set), by value.
    pub fn with(mut self, name: &str, content: &str) -> FileContext {
        self.set(name, content);
        self
    }

    /// [`set_read_only`](Self::set_read_only), by value.
    pub fn with_read_only(mut self, name: &str) -> FileContext {
        self.set_read_only(name);
        self
    }

    /// The content of `name`, if the context holds it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }

    /// Records what a write of `name` left (`out`), so that the context
    /// describes the files after it.
    pub fn apply(&mut self, name: &str, out: &WriteOutcome) {
        self.set(name, &out.stored);
        for (file, content) in &out.side_effects {
            self.set(file, content);
        }
        if let (Some(khz), true) = (out.cur_khz, self.files.contains_key("scaling_cur_freq")) {
            self.set("scaling_cur_freq", &khz.to_string());
        }
    }

    fn num(&self, name: &str) -> Option<u64> {
        self.get(name)?.parse().ok()
    }

    fn is_read_only(&self, name: &str) -> bool {
        self.read_only.contains(name)
    }
}

/// What a write leaves in the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// What the written file holds (without the trailing newline).
    pub stored: String,
    /// Other files of the same directory the write changed, with their
    /// contents; only files the context holds.
    pub side_effects: Vec<(&'static str, String)>,
    /// The frequency the policy runs at afterwards (`scaling_cur_freq`),
    /// for the writes that move it. Kept apart from the files: in a plain
    /// tree the [`Runner`](super::Runner) owns `scaling_cur_freq`.
    pub cur_khz: Option<u64>,
    /// The CPUs' state afterwards, for the writes that change it (every
    /// file it implies is rewritten from it).
    pub cpus: Option<Cpus>,
}

impl WriteOutcome {
    fn stored(value: impl Into<String>) -> WriteOutcome {
        WriteOutcome {
            stored: value.into(),
            side_effects: Vec::new(),
            cur_khz: None,
            cpus: None,
        }
    }
}

/// The written text as the kernel's parsers see it: one trailing newline
/// dropped (`kstrto*` accept it; `echo` adds it).
fn text(value: &str) -> &str {
    value.strip_suffix('\n').unwrap_or(value)
}

/// The first word of the text, as `sscanf(buf, "%15s")` reads a name.
fn word(value: &str) -> &str {
    value.split_whitespace().next().unwrap_or("")
}

/// A decimal number (`kstrtoull`/`sscanf("%u")`), else `EINVAL`.
fn decimal(v: &str) -> Result<u64, KernelErrno> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KernelErrno::Inval);
    }
    v.parse().map_err(|_| KernelErrno::Inval)
}

fn bool01(v: &str) -> Result<&str, KernelErrno> {
    match v {
        "0" | "1" => Ok(v),
        _ => Err(KernelErrno::Inval),
    }
}

/// A cpufreq policy as the rules see it.
#[derive(Debug, Clone)]
struct Policy<'a> {
    governor: &'a str,
    setpolicy: bool,
    cpuinfo: (u64, u64),
    min: Option<u64>,
    max: Option<u64>,
    cur: Option<u64>,
    /// The userspace target (`None` where the file reads `<unsupported>`).
    setspeed: Option<u64>,
    /// `scaling_available_frequencies`, ascending, within cpuinfo's range.
    table: Vec<u64>,
}

impl<'a> Policy<'a> {
    fn read(ctx: &'a FileContext) -> Policy<'a> {
        let lo = ctx.num("cpuinfo_min_freq").unwrap_or(0);
        let hi = ctx.num("cpuinfo_max_freq").unwrap_or(u64::MAX).max(lo);
        let mut table: Vec<u64> = ctx
            .get("scaling_available_frequencies")
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .filter(|f| (lo..=hi).contains(f))
            .collect();
        table.sort_unstable();
        table.dedup();
        Policy {
            governor: ctx.get("scaling_governor").unwrap_or(""),
            setpolicy: ctx
                .get("scaling_driver")
                .is_some_and(|d| SETPOLICY_DRIVERS.contains(&d)),
            cpuinfo: (lo, hi),
            min: ctx.num("scaling_min_freq"),
            max: ctx.num("scaling_max_freq"),
            cur: ctx.num("scaling_cur_freq"),
            setspeed: ctx.num("scaling_setspeed"),
            table,
        }
    }

    /// `[policy->min, policy->max]`, max never below min.
    fn limits(&self) -> (u64, u64) {
        let min = self.min.unwrap_or(self.cpuinfo.0);
        (min, self.max.unwrap_or(self.cpuinfo.1).max(min))
    }

    /// `__cpufreq_driver_target(policy, target, CPUFREQ_RELATION_L)`: the
    /// target clamped into the limits, then the lowest table entry within
    /// them at or above it, else the highest below it.
    fn target_l(&self, target: u64) -> u64 {
        let (min, max) = self.limits();
        let t = target.clamp(min, max);
        let within = || {
            self.table
                .iter()
                .copied()
                .filter(|f| (min..=max).contains(f))
        };
        within()
            .find(|f| *f >= t)
            .or_else(|| within().rfind(|f| *f <= t))
            .unwrap_or(t)
    }

    /// `CPUFREQ_RELATION_H`: the highest table entry within the limits at
    /// or below the clamped target, else the lowest above it.
    fn target_h(&self, target: u64) -> u64 {
        let (min, max) = self.limits();
        let t = target.clamp(min, max);
        let within = || {
            self.table
                .iter()
                .copied()
                .filter(|f| (min..=max).contains(f))
        };
        within()
            .rfind(|f| *f <= t)
            .or_else(|| within().find(|f| *f >= t))
            .unwrap_or(t)
    }

    /// The governor's limits callback: the userspace target it holds (for
    /// `userspace`) and the frequency the policy runs at afterwards.
    fn governor_limits(&self) -> (Option<u64>, Option<u64>) {
        let (min, max) = self.limits();
        match self.governor {
            "userspace" => {
                // cpufreq_userspace_policy_limits()
                let target = self.setspeed.or(self.cur).unwrap_or(max);
                let f = if target > max {
                    self.target_h(max)
                } else if target < min {
                    self.target_l(min)
                } else {
                    self.target_l(target)
                };
                (Some(f), Some(f))
            }
            // cpufreq_gov_performance_limits()
            "performance" => (None, Some(self.target_h(max))),
            // cpufreq_gov_powersave_limits()
            "powersave" if !self.setpolicy => (None, Some(self.target_l(min))),
            // cpufreq_policy_apply_limits()
            _ => (
                None,
                self.cur.map(|c| {
                    if c > max {
                        self.target_h(max)
                    } else if c < min {
                        self.target_l(min)
                    } else {
                        c
                    }
                }),
            ),
        }
    }

    /// The outcome of a policy write that stored `stored`: the governor's
    /// limits callback moves `scaling_setspeed` and the current frequency.
    fn settled(&self, ctx: &FileContext, stored: String) -> WriteOutcome {
        let (setspeed, cur) = self.governor_limits();
        let mut out = WriteOutcome::stored(stored);
        if ctx.get("scaling_setspeed").is_some() {
            let shown = setspeed.map_or_else(|| UNSUPPORTED.to_owned(), |k| k.to_string());
            out.side_effects.push(("scaling_setspeed", shown));
        }
        out.cur_khz = cur;
        out
    }
}

/// Whether the intel_pstate driver is unregistered (`status` reads `off`).
fn pstate_off(ctx: &FileContext) -> bool {
    ctx.get("status") == Some("off")
}

/// What a write of `value` (the text written, a trailing newline allowed)
/// to a `knob` file does, given the current contents of the files
/// [`Knob::write_context`] names: the module doc lists the rules.
pub fn kernel_write(
    knob: Knob,
    value: &str,
    ctx: &FileContext,
) -> Result<WriteOutcome, KernelErrno> {
    if let Some(e) = kernel_refuses(knob, ctx) {
        return Err(e);
    }
    let v = text(value);
    match knob {
        Knob::Governor => {
            let v = word(value);
            let governor = ctx
                .get("scaling_available_governors")
                .unwrap_or("")
                .split_whitespace()
                .find(|g| !v.is_empty() && g.eq_ignore_ascii_case(v))
                .ok_or(KernelErrno::Inval)?;
            let mut p = Policy::read(ctx);
            if governor == "userspace" {
                // A governor switch starts the userspace governor at the
                // current frequency; rewriting it in place keeps its target.
                // A tree that holds `userspace` with no target (a plain
                // tree written by hand) has not started it yet.
                if p.governor != "userspace" || p.setspeed.is_none() {
                    p.setspeed = Some(p.cur.unwrap_or(p.limits().1));
                }
            } else {
                p.setspeed = None;
            }
            p.governor = governor;
            Ok(p.settled(ctx, governor.to_owned()))
        }
        Knob::Setspeed => {
            let p = Policy::read(ctx);
            if p.governor != "userspace" {
                return Err(KernelErrno::Inval);
            }
            let khz = p.target_l(decimal(v)?);
            Ok(WriteOutcome {
                cur_khz: Some(khz),
                ..WriteOutcome::stored(khz.to_string())
            })
        }
        Knob::MinFreq | Knob::MaxFreq => {
            let k = decimal(v)?;
            let mut p = Policy::read(ctx);
            let (lo, hi) = p.cpuinfo;
            let k = k.clamp(lo, hi);
            // Resolving against the table uses the cpuinfo range.
            let wide = Policy {
                min: Some(lo),
                max: Some(hi),
                ..p.clone()
            };
            let k = if knob == Knob::MinFreq {
                let k = wide.target_l(p.max.map_or(k, |max| k.min(max)));
                p.min = Some(k);
                k
            } else {
                let k = wide.target_h(p.min.map_or(k, |min| k.max(min)));
                p.max = Some(k);
                k
            };
            Ok(p.settled(ctx, k.to_string()))
        }
        Knob::Epp => {
            let name = word(value);
            if name.is_empty() {
                return Err(KernelErrno::Inval);
            }
            let driver = ctx.get("scaling_driver").unwrap_or("");
            let names = epp_names(driver);
            let offered = ctx
                .get("energy_performance_available_preferences")
                .unwrap_or("");
            // The EPP value asked for (`None`: a name the sim has no value
            // for, stored as given), and whether it came as a number.
            let (epp, raw) = if offered.split_whitespace().any(|e| e == name) {
                let epp = if name == "default" {
                    Some(
                        ctx.get(EPP_DEFAULT_FILE)
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(EPP_DEFAULT),
                    )
                } else {
                    names.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
                };
                (epp, false)
            } else {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(KernelErrno::Inval);
                }
                let n: u32 = v.parse().map_err(|_| KernelErrno::Range)?;
                (Some(u8::try_from(n).map_err(|_| KernelErrno::Inval)?), true)
            };
            let p = Policy::read(ctx);
            let nonzero = epp.map_or(name != "performance", |e| e > 0);
            if p.governor == "performance" && p.setpolicy && nonzero {
                return Err(KernelErrno::Busy);
            }
            let shown = match epp {
                None => name.to_owned(),
                Some(e) if raw && driver.starts_with("amd") => e.to_string(),
                Some(e) => names
                    .iter()
                    .find(|(_, n)| *n == e)
                    .map_or_else(|| e.to_string(), |(n, _)| (*n).to_owned()),
            };
            Ok(WriteOutcome::stored(shown))
        }
        Knob::Boost => Ok(WriteOutcome::stored(bool01(v)?)),
        Knob::RaplEnabled => {
            let v = bool01(v)?;
            if ctx.is_read_only(PL1_FILE) {
                return Err(KernelErrno::Access);
            }
            Ok(WriteOutcome::stored(v))
        }
        Knob::PstateStatus => match v {
            "active" | "passive" => Ok(WriteOutcome::stored(v)),
            "off" if !pstate_off(ctx) => Ok(WriteOutcome::stored(v)),
            _ => Err(KernelErrno::Inval),
        },
        Knob::NoTurbo => {
            let v = bool01(v)?;
            if pstate_off(ctx) {
                return Err(KernelErrno::Again);
            }
            if ctx.is_read_only("no_turbo") {
                return Err(KernelErrno::Perm);
            }
            Ok(WriteOutcome::stored(v))
        }
        Knob::MinPerfPct | Knob::MaxPerfPct => {
            let pct = decimal(v)?;
            if pstate_off(ctx) {
                return Err(KernelErrno::Again);
            }
            if pct > 100 {
                return Err(KernelErrno::Inval);
            }
            let pct = if knob == Knob::MinPerfPct {
                ctx.num("max_perf_pct").map_or(pct, |max| pct.min(max))
            } else {
                ctx.num("min_perf_pct").map_or(pct, |min| pct.max(min))
            };
            Ok(WriteOutcome::stored(pct.to_string()))
        }
        Knob::PstateOther => {
            if pstate_off(ctx) {
                return Err(KernelErrno::Again);
            }
            Ok(WriteOutcome::stored(v))
        }
        Knob::PowerLimit | Knob::TpmiPowerLimit | Knob::TimeWindow => {
            let n = decimal(v)?;
            if ctx.is_read_only(PL1_FILE) {
                return Err(KernelErrno::Access);
            }
            let mask = match knob {
                Knob::PowerLimit => RAPL_POWER_LIMIT_MASK,
                Knob::TpmiPowerLimit => TPMI_POWER_LIMIT_MASK,
                _ => return Ok(WriteOutcome::stored(n.to_string())),
            };
            // No range check against max_power_uw (the TDP for PL1): the
            // value is converted to the power unit, rounding down, and
            // masked to the field (`rapl_unit_xlate()`,
            // `rapl_write_data_raw()`).
            let n = ((n / RAPL_POWER_UNIT_UW) & mask) * RAPL_POWER_UNIT_UW;
            Ok(WriteOutcome::stored(n.to_string()))
        }
        Knob::CpuOnline(cpu) => match &ctx.cpus {
            Some(cpus) => {
                let next = cpus.set_online(cpu, v)?;
                let stored = if next.online.contains(&cpu) { "1" } else { "0" };
                Ok(WriteOutcome {
                    cpus: Some(next),
                    ..WriteOutcome::stored(stored)
                })
            }
            // A tree without the CPUs' state (made before it was kept):
            // no rule to apply.
            None => Ok(WriteOutcome::stored(v)),
        },
        Knob::SmtControl => match &ctx.cpus {
            Some(cpus) => {
                let next = cpus.set_smt_control(v)?;
                Ok(WriteOutcome {
                    stored: next.smt_control_shown(),
                    cpus: Some(next),
                    ..WriteOutcome::stored("")
                })
            }
            None => Ok(WriteOutcome::stored(v)),
        },
        Knob::PolicyOther | Knob::Other => Ok(WriteOutcome::stored(v)),
    }
}

/// The errno the kernel answers every read and write of a `knob` file with
/// in the current state, whatever is written: `EBUSY` for the files of an
/// inactive cpufreq policy (its `affected_cpus`, `policy->cpus`, empty in
/// the context). `None` when the file is served.
pub fn kernel_refuses(knob: Knob, ctx: &FileContext) -> Option<KernelErrno> {
    (knob.in_policy() && ctx.get("affected_cpus") == Some("")).then_some(KernelErrno::Busy)
}

/// What a read of a `knob` file shows instead of its stored content
/// (`Ok(None)`: the content), given the files [`Knob::read_context`] names:
/// `scaling_setspeed` reads `<unsupported>` outside `userspace`; the
/// intel_pstate files but `status` give `EAGAIN` while the driver is off.
pub fn kernel_read(knob: Knob, ctx: &FileContext) -> Result<Option<&'static str>, KernelErrno> {
    if let Some(e) = kernel_refuses(knob, ctx) {
        return Err(e);
    }
    match knob {
        Knob::Setspeed if ctx.get("scaling_governor") != Some("userspace") => Ok(Some(UNSUPPORTED)),
        Knob::NoTurbo | Knob::MinPerfPct | Knob::MaxPerfPct | Knob::PstateOther
            if pstate_off(ctx) =>
        {
            Err(KernelErrno::Again)
        }
        _ => Ok(None),
    }
}

/// The frequency a policy (the files of [`POLICY_FILES`]) runs at under
/// `load` (0-1), for the runner: the `userspace` target; the max under
/// `performance`; the min under the generic `powersave` governor; under
/// the dynamic governors (and the `powersave` algorithm of the drivers
/// without governors) the range scaled by the load, resolved with
/// `RELATION_L` as schedutil's `cpufreq_driver_resolve_freq()` does.
/// `None` without limits to scale.
pub fn running_khz(ctx: &FileContext, load: f64) -> Option<u64> {
    let p = Policy::read(ctx);
    let (min, max) = p.limits();
    match (p.governor, p.setspeed) {
        ("userspace", Some(_)) | ("performance", _) => p.governor_limits().1,
        ("powersave", _) if !p.setpolicy => p.governor_limits().1,
        _ => {
            ctx.get("scaling_max_freq")?;
            let span = max.saturating_sub(min) as f64 * load.clamp(0.0, 1.0);
            Some(p.target_l(min + span as u64))
        }
    }
}

/// Where a CPU sits: what the kernel derives from its APIC id and keeps in
/// memory while the CPU is offline (its `topology/` files are gone then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuPlace {
    /// `physical_package_id`.
    pub package: u32,
    /// `die_id`.
    pub die: u32,
    /// `core_id` (within the package).
    pub core: u32,
    /// Thread within the core; 0 is the primary thread
    /// (`topology_is_primary_thread()`).
    pub thread: u32,
}

/// `smt/control`'s states (the kernel's `enum cpuhp_smt_control`; the
/// architecture without runtime control, `notimplemented`, is not
/// simulated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtControl {
    /// `on`.
    On,
    /// `off`.
    Off,
    /// `forceoff`: no write changes it any more.
    ForceOff,
    /// `notsupported`: a machine without SMT.
    NotSupported,
}

impl SmtControl {
    /// The name `smt/control` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtControl::On => "on",
            SmtControl::Off => "off",
            SmtControl::ForceOff => "forceoff",
            SmtControl::NotSupported => "notsupported",
        }
    }

    fn parse(s: &str) -> Option<SmtControl> {
        [
            SmtControl::On,
            SmtControl::Off,
            SmtControl::ForceOff,
            SmtControl::NotSupported,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// The CPUs as the hotplug rules see them: every present CPU's place, the
/// online ones and the SMT control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpus {
    /// Present CPUs and where they sit.
    pub places: BTreeMap<u32, CpuPlace>,
    /// Online CPUs.
    pub online: BTreeSet<u32>,
    /// `smt/control`.
    pub smt: SmtControl,
}

/// The first line of [`Cpus::record`].
const RECORD_HEADER: &str =
    "# libvirt-power simulator: the CPUs as the kernel keeps them (cpu package die core thread)";

/// `kstrtobool()`: `1`/`y`/`Y`/`on` true, `0`/`n`/`N`/`off` false, by the
/// first one or two characters, else `EINVAL`.
fn kstrtobool(v: &str) -> Result<bool, KernelErrno> {
    let b = v.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'1' | b'y' | b'Y'), _) => Ok(true),
        (Some(b'0' | b'n' | b'N'), _) => Ok(false),
        (Some(b'o' | b'O'), Some(b'n' | b'N')) => Ok(true),
        (Some(b'o' | b'O'), Some(b'f' | b'F')) => Ok(false),
        _ => Err(KernelErrno::Inval),
    }
}

impl Cpus {
    /// The record of what the kernel keeps in memory: the SMT control and
    /// each present CPU's place (the online CPUs are the `online` file's).
    pub fn record(&self) -> String {
        let mut out = format!("{RECORD_HEADER}\nsmt {}\n", self.smt.as_str());
        for (cpu, p) in &self.places {
            out.push_str(&format!(
                "{cpu} {} {} {} {}\n",
                p.package, p.die, p.core, p.thread
            ));
        }
        out
    }

    /// Reads a [`record`](Self::record) with the online CPUs; `None` if it
    /// is malformed.
    pub fn from_record(record: &str, online: BTreeSet<u32>) -> Option<Cpus> {
        let mut places = BTreeMap::new();
        let mut smt = None;
        for line in record.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(c) = line.strip_prefix("smt ") {
                smt = Some(SmtControl::parse(c.trim())?);
                continue;
            }
            let n: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let [cpu, package, die, core, thread] = n[..] else {
                return None;
            };
            places.insert(
                cpu,
                CpuPlace {
                    package,
                    die,
                    core,
                    thread,
                },
            );
        }
        Some(Cpus {
            places,
            online,
            smt: smt?,
        })
    }

    /// Present CPUs.
    pub fn present(&self) -> BTreeSet<u32> {
        self.places.keys().copied().collect()
    }

    /// Present CPUs that are offline.
    pub fn offline(&self) -> BTreeSet<u32> {
        self.places
            .keys()
            .filter(|c| !self.online.contains(c))
            .copied()
            .collect()
    }

    /// Threads per core (the most any core has).
    pub fn threads_per_core(&self) -> u32 {
        self.places
            .values()
            .map(|p| p.thread + 1)
            .max()
            .unwrap_or(1)
    }

    fn same<'a>(
        &'a self,
        cpu: u32,
        f: impl Fn(&CpuPlace, &CpuPlace) -> bool + 'a,
    ) -> BTreeSet<u32> {
        let Some(me) = self.places.get(&cpu) else {
            return BTreeSet::new();
        };
        self.places
            .iter()
            .filter(|(c, p)| self.online.contains(c) && f(me, p))
            .map(|(c, _)| *c)
            .collect()
    }

    /// The online CPUs of `cpu`'s core (`core_cpus_list`,
    /// `thread_siblings_list`: x86's `cpu_sibling_map`).
    pub fn core_cpus(&self, cpu: u32) -> BTreeSet<u32> {
        self.same(cpu, |a, b| {
            (a.package, a.die, a.core) == (b.package, b.die, b.core)
        })
    }

    /// The online CPUs of `cpu`'s package (`package_cpus_list`,
    /// `core_siblings_list`: x86's `cpu_core_map`).
    pub fn package_cpus(&self, cpu: u32) -> BTreeSet<u32> {
        self.same(cpu, |a, b| a.package == b.package)
    }

    /// `smt/active`: some core has more than one thread online
    /// (`sched_smt_active()`).
    pub fn smt_active(&self) -> bool {
        self.online.iter().any(|c| self.core_cpus(*c).len() > 1)
    }

    /// What `smt/control` shows.
    pub fn smt_control_shown(&self) -> String {
        self.smt.as_str().to_owned()
    }

    fn primary(&self, cpu: u32) -> bool {
        self.places.get(&cpu).is_none_or(|p| p.thread == 0)
    }

    /// A write of `value` (newline dropped) to `cpuN/online`.
    pub fn set_online(&self, cpu: u32, value: &str) -> Result<Cpus, KernelErrno> {
        let up = kstrtobool(value)?;
        let mut next = self.clone();
        if up == self.online.contains(&cpu) {
            return Ok(next);
        }
        if up {
            if matches!(self.smt, SmtControl::Off | SmtControl::ForceOff) && !self.primary(cpu) {
                return Err(KernelErrno::Perm);
            }
            next.online.insert(cpu);
        } else {
            if self.online.len() <= 1 {
                return Err(KernelErrno::Busy);
            }
            next.online.remove(&cpu);
        }
        Ok(next)
    }

    /// A write of `value` (newline dropped) to `smt/control`.
    pub fn set_smt_control(&self, value: &str) -> Result<Cpus, KernelErrno> {
        match self.smt {
            SmtControl::ForceOff => return Err(KernelErrno::Perm),
            SmtControl::NotSupported => return Err(KernelErrno::NoDev),
            SmtControl::On | SmtControl::Off => {}
        }
        let max = self.threads_per_core();
        let (ctrl, threads) = match value.trim_end_matches('\n') {
            "on" => (SmtControl::On, max),
            "off" => (SmtControl::Off, 1),
            "forceoff" => (SmtControl::ForceOff, 1),
            n => match n.parse::<u32>() {
                Ok(1) => (SmtControl::Off, 1),
                Ok(t) if t > 1 && t == max => (SmtControl::On, max),
                _ => return Err(KernelErrno::Inval),
            },
        };
        let before = if self.smt == SmtControl::On { max } else { 1 };
        let mut next = self.clone();
        if threads > before {
            // cpuhp_smt_enable(): every present offline CPU comes up.
            next.smt = SmtControl::On;
            next.online = self.present();
        } else if threads < before || (ctrl == SmtControl::ForceOff && ctrl != self.smt) {
            // cpuhp_smt_disable(): every online secondary thread goes down.
            next.smt = ctrl;
            next.online.retain(|c| self.primary(*c));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::KernelErrno::{Access, Again, Busy, Inval, NoDev, Perm, Range};
    use super::*;

    /// An acpi-cpufreq policy: table 1.2-2.1 GHz in 100 MHz steps plus
    /// 2.101 GHz (turbo), governor `gov`, userspace target `setspeed`.
    fn acpi(gov: &str, setspeed: &str) -> FileContext {
        let mut table: Vec<String> = vec!["2101000".into()];
        table.extend((12..=21).rev().map(|f| (f * 100_000).to_string()));
        FileContext::new()
            .with("scaling_governor", gov)
            .with(
                "scaling_available_governors",
                "conservative ondemand userspace powersave performance schedutil",
            )
            .with("scaling_driver", "acpi-cpufreq")
            .with("cpuinfo_min_freq", "1200000")
            .with("cpuinfo_max_freq", "2101000")
            .with("scaling_min_freq", "1200000")
            .with("scaling_max_freq", "2101000")
            .with("scaling_cur_freq", "2100000")
            .with("scaling_setspeed", setspeed)
            .with("scaling_available_frequencies", &table.join(" "))
    }

    /// An intel_pstate (active) policy with EPP under `gov`.
    fn pstate(gov: &str) -> FileContext {
        FileContext::new()
            .with("scaling_governor", gov)
            .with("scaling_available_governors", "performance powersave")
            .with("scaling_driver", "intel_pstate")
            .with("cpuinfo_min_freq", "400000")
            .with("cpuinfo_max_freq", "4700000")
            .with("scaling_min_freq", "400000")
            .with("scaling_max_freq", "4700000")
            .with("scaling_cur_freq", "2800000")
            .with("scaling_setspeed", UNSUPPORTED)
            .with(
                "energy_performance_available_preferences",
                "default performance balance_performance balance_power power",
            )
    }

    fn ok(
        out: Result<WriteOutcome, KernelErrno>,
    ) -> (String, Vec<(&'static str, String)>, Option<u64>) {
        let out = out.unwrap();
        (out.stored, out.side_effects, out.cur_khz)
    }

    fn stored(knob: Knob, value: &str, ctx: &FileContext) -> Result<String, KernelErrno> {
        kernel_write(knob, value, ctx).map(|o| o.stored)
    }

    #[test]
    fn classify_names_every_knob() {
        for (rel, knob) in [
            (
                "devices/system/cpu/cpufreq/policy0/scaling_governor",
                Knob::Governor,
            ),
            (
                "devices/system/cpu/cpufreq/policy0/scaling_setspeed",
                Knob::Setspeed,
            ),
            (
                "devices/system/cpu/cpufreq/policy0/scaling_min_freq",
                Knob::MinFreq,
            ),
            (
                "devices/system/cpu/cpufreq/policy0/scaling_max_freq",
                Knob::MaxFreq,
            ),
            (
                "devices/system/cpu/cpufreq/policy0/energy_performance_preference",
                Knob::Epp,
            ),
            ("devices/system/cpu/cpufreq/boost", Knob::Boost),
            ("devices/system/cpu/cpufreq/policy3/boost", Knob::Boost),
            ("devices/system/cpu/intel_pstate/status", Knob::PstateStatus),
            ("devices/system/cpu/intel_pstate/no_turbo", Knob::NoTurbo),
            (
                "devices/system/cpu/intel_pstate/min_perf_pct",
                Knob::MinPerfPct,
            ),
            (
                "devices/system/cpu/intel_pstate/max_perf_pct",
                Knob::MaxPerfPct,
            ),
            (
                "devices/system/cpu/intel_pstate/num_pstates",
                Knob::PstateOther,
            ),
            (
                "devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_1_power_limit_uw",
                Knob::PowerLimit,
            ),
            (
                "devices/virtual/powercap/intel-rapl-tpmi/intel-rapl-tpmi:1/constraint_0_power_limit_uw",
                Knob::TpmiPowerLimit,
            ),
            (
                "devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint_0_time_window_us",
                Knob::TimeWindow,
            ),
            (
                "devices/virtual/powercap/intel-rapl/intel-rapl:0/constraint__power_limit_uw",
                Knob::Other,
            ),
            (
                "devices/virtual/powercap/intel-rapl/intel-rapl:0/enabled",
                Knob::RaplEnabled,
            ),
            (
                "devices/virtual/powercap/intel-rapl/enabled",
                Knob::RaplEnabled,
            ),
            ("devices/system/cpu/cpu1/online", Knob::CpuOnline(1)),
            ("devices/system/cpu/cpu15/online", Knob::CpuOnline(15)),
            ("devices/system/cpu/online", Knob::Other),
            ("devices/system/cpu/cpu1/topology/online", Knob::Other),
            ("devices/system/cpu/cpux/online", Knob::Other),
            ("devices/system/cpu/smt/control", Knob::SmtControl),
            ("devices/system/cpu/smt/active", Knob::Other),
            (
                "devices/system/cpu/cpufreq/policy0/bios_limit",
                Knob::PolicyOther,
            ),
            (
                "devices/system/cpu/cpufreq/policy12/affected_cpus",
                Knob::PolicyOther,
            ),
            (
                "devices/system/cpu/cpufreq/ondemand/up_threshold",
                Knob::Other,
            ),
        ] {
            assert_eq!(Knob::classify(Path::new(rel)), knob, "{rel}");
        }
    }

    #[test]
    fn governor_writes() {
        let ctx = acpi("schedutil", UNSUPPORTED);
        // Unknown names, the empty name: EINVAL.
        for bad in ["turbo", "", "\n", " \n", "userspace2"] {
            assert_eq!(stored(Knob::Governor, bad, &ctx), Err(Inval), "{bad:?}");
        }
        // The first word (sscanf "%15s"), case-insensitive, stored as the
        // kernel spells it.
        assert_eq!(
            stored(Knob::Governor, "Performance\n", &ctx).unwrap(),
            "performance"
        );
        assert_eq!(
            stored(Knob::Governor, " ondemand now", &ctx).unwrap(),
            "ondemand"
        );
        // Entering userspace: the target starts at the current frequency.
        assert_eq!(
            ok(kernel_write(Knob::Governor, "userspace\n", &ctx)),
            (
                "userspace".into(),
                vec![("scaling_setspeed", "2100000".into())],
                Some(2_100_000)
            )
        );
        // performance runs at the max, powersave at the min, setspeed
        // unsupported; a dynamic governor keeps the current frequency.
        let u = acpi("userspace", "1500000");
        for (gov, cur) in [
            ("performance", 2_101_000),
            ("powersave", 1_200_000),
            ("ondemand", 2_100_000),
        ] {
            assert_eq!(
                ok(kernel_write(Knob::Governor, gov, &u)),
                (
                    gov.into(),
                    vec![("scaling_setspeed", UNSUPPORTED.into())],
                    Some(cur)
                ),
                "{gov}"
            );
        }
        // Rewriting userspace keeps (and holds) its target.
        assert_eq!(
            ok(kernel_write(Knob::Governor, "userspace", &u)).1,
            vec![("scaling_setspeed", "1500000".into())]
        );
        // A plain tree's userspace without a target starts it.
        assert_eq!(
            ok(kernel_write(
                Knob::Governor,
                "userspace",
                &acpi("userspace", UNSUPPORTED)
            ))
            .1,
            vec![("scaling_setspeed", "2100000".into())]
        );
        // Held within the limits with RELATION_L: a target between table
        // entries moves up to the next one.
        let between = acpi("userspace", "1850000");
        assert_eq!(
            ok(kernel_write(Knob::Governor, "userspace", &between)).2,
            Some(1_900_000)
        );
        // The powersave algorithm of intel_pstate follows load: the current
        // frequency stays.
        assert_eq!(
            ok(kernel_write(
                Knob::Governor,
                "powersave",
                &pstate("performance")
            ))
            .2,
            Some(2_800_000)
        );
        assert_eq!(
            stored(Knob::Governor, "userspace", &pstate("powersave")),
            Err(Inval)
        );
    }

    #[test]
    fn setspeed_picks_relation_l() {
        assert_eq!(
            stored(Knob::Setspeed, "1800000", &acpi("schedutil", UNSUPPORTED)),
            Err(Inval)
        );
        let u = acpi("userspace", "2100000");
        for (value, want) in [
            ("1850000\n", Ok(1_900_000)),
            ("1900000", Ok(1_900_000)),
            ("2100001", Ok(2_101_000)),
            ("99999999", Ok(2_101_000)),
            ("1", Ok(1_200_000)),
            ("fast", Err(Inval)),
            ("-1", Err(Inval)),
            ("", Err(Inval)),
        ] {
            let got = kernel_write(Knob::Setspeed, value, &u).map(|o| (o.stored, o.cur_khz));
            assert_eq!(
                got,
                want.map(|k: u64| (k.to_string(), Some(k))),
                "{value:?}"
            );
        }
        // Within lowered limits; without a table, the clamped value.
        let capped = acpi("userspace", "1400000").with("scaling_max_freq", "1500000");
        assert_eq!(
            stored(Knob::Setspeed, "1850000", &capped).unwrap(),
            "1500000"
        );
        let mut no_table = capped.clone();
        no_table.files.remove("scaling_available_frequencies");
        assert_eq!(
            stored(Knob::Setspeed, "1456789", &no_table).unwrap(),
            "1456789"
        );
        assert_eq!(stored(Knob::Setspeed, "1", &no_table).unwrap(), "1200000");
    }

    #[test]
    fn limits_clamp_and_resolve() {
        let u = acpi("userspace", "1900000");
        for (knob, value, want) in [
            // Clamped into cpuinfo's range.
            (Knob::MinFreq, "1000", Ok("1200000")),
            (Knob::MaxFreq, "9999999", Ok("2101000")),
            // Resolved to the table: min up, max down.
            (Knob::MinFreq, "1250000", Ok("1300000")),
            (Knob::MaxFreq, "1550000", Ok("1500000")),
            (Knob::MaxFreq, "low", Err(Inval)),
            (Knob::MinFreq, "\n", Err(Inval)),
        ] {
            assert_eq!(
                stored(knob, value, &u),
                want.map(str::to_owned),
                "{knob:?} {value}"
            );
        }
        // min <= max kept: a min above the max is the max, a max below the
        // min is the min.
        let narrow = acpi("userspace", "1500000")
            .with("scaling_min_freq", "1400000")
            .with("scaling_max_freq", "1500000");
        assert_eq!(
            stored(Knob::MinFreq, "1800000", &narrow).unwrap(),
            "1500000"
        );
        assert_eq!(
            stored(Knob::MaxFreq, "1300000", &narrow).unwrap(),
            "1400000"
        );
        // A lowered max holds the userspace target (RELATION_H on the max)
        // and moves the frequency.
        assert_eq!(
            ok(kernel_write(Knob::MaxFreq, "1500000", &u)),
            (
                "1500000".into(),
                vec![("scaling_setspeed", "1500000".into())],
                Some(1_500_000)
            )
        );
        // A raised min under a dynamic governor moves the frequency up to
        // it; under performance a lowered max moves it down.
        let sched = acpi("schedutil", UNSUPPORTED).with("scaling_cur_freq", "1300000");
        assert_eq!(
            ok(kernel_write(Knob::MinFreq, "1600000", &sched)),
            (
                "1600000".into(),
                vec![("scaling_setspeed", UNSUPPORTED.into())],
                Some(1_600_000)
            )
        );
        assert_eq!(
            ok(kernel_write(
                Knob::MaxFreq,
                "1700000",
                &acpi("performance", UNSUPPORTED)
            ))
            .2,
            Some(1_700_000)
        );
    }

    #[test]
    fn epp_writes() {
        let save = pstate("powersave");
        assert_eq!(stored(Knob::Epp, "power\n", &save).unwrap(), "power");
        assert_eq!(stored(Knob::Epp, "fastest", &save), Err(Inval));
        assert_eq!(stored(Knob::Epp, "", &save), Err(Inval));
        assert_eq!(stored(Knob::Epp, " power\n", &save).unwrap(), "power");
        let perf = pstate("performance");
        assert_eq!(stored(Knob::Epp, "balance_power", &perf), Err(Busy));
        assert_eq!(stored(Knob::Epp, "fastest", &perf), Err(Inval));
        assert_eq!(
            stored(Knob::Epp, "performance", &perf).unwrap(),
            "performance"
        );
        // amd-pstate-epp refuses a nonzero EPP under performance too.
        let amd = perf.clone().with("scaling_driver", "amd-pstate-epp");
        assert_eq!(stored(Knob::Epp, "power", &amd), Err(Busy));
        // A driver with governors (intel_cpufreq) has no such rule.
        let passive = perf.with("scaling_driver", "intel_cpufreq");
        assert_eq!(stored(Knob::Epp, "power", &passive).unwrap(), "power");
    }

    #[test]
    fn epp_default_and_raw_values_read_back_resolved() {
        let save = pstate("powersave");
        let amd = save.clone().with("scaling_driver", "amd-pstate-epp");
        let odd = save.clone().with(EPP_DEFAULT_FILE, "115");
        for (value, ctx, want) in [
            // `default` is the firmware's default, shown by its name or
            // as a number where none has it.
            ("default", &save, Ok("balance_performance")),
            ("default\n", &odd, Ok("115")),
            ("default", &amd, Ok("balance_performance")),
            // Raw values: the name where one has the value (Intel), the
            // number otherwise, and on amd-pstate always the number.
            ("128", &save, Ok("balance_performance")),
            ("192\n", &save, Ok("balance_power")),
            ("191", &save, Ok("191")),
            ("191", &amd, Ok("191")),
            ("0", &save, Ok("performance")),
            ("255", &save, Ok("power")),
            ("115", &save, Ok("115")),
            ("256", &save, Err(Inval)),
            ("4294967296", &save, Err(Range)),
            ("-1", &save, Err(Inval)),
            ("12a", &save, Err(Inval)),
            ("0x80", &save, Err(Inval)),
        ] {
            assert_eq!(
                stored(Knob::Epp, value, ctx),
                want.map(str::to_owned),
                "{value:?} on {:?}",
                ctx.get("scaling_driver")
            );
        }
        // Under `performance`: any nonzero EPP is EBUSY, on both drivers;
        // 0 (`performance`, raw 0, or a default of 0) is taken.
        let perf = pstate("performance");
        let amd_perf = perf.clone().with("scaling_driver", "amd-pstate-epp");
        for (ctx, zero) in [(&perf, "performance"), (&amd_perf, "0")] {
            for value in ["default", "1", "128", "balance_power"] {
                assert_eq!(stored(Knob::Epp, value, ctx), Err(Busy), "{value}");
            }
            assert_eq!(stored(Knob::Epp, "0", ctx).unwrap(), zero);
        }
        let zero_default = perf.with(EPP_DEFAULT_FILE, "0");
        assert_eq!(
            stored(Knob::Epp, "default", &zero_default).unwrap(),
            "performance"
        );
    }

    #[test]
    fn intel_pstate_writes() {
        let on = FileContext::new()
            .with("status", "active")
            .with("no_turbo", "0")
            .with("min_perf_pct", "9")
            .with("max_perf_pct", "100");
        let off = on.clone().with("status", "off");
        let locked = on.clone().with("no_turbo", "1").with_read_only("no_turbo");
        for (knob, value, ctx, want) in [
            (Knob::PstateStatus, "passive\n", &on, Ok("passive")),
            (Knob::PstateStatus, "off", &on, Ok("off")),
            (Knob::PstateStatus, "on", &on, Err(Inval)),
            (Knob::PstateStatus, "off", &off, Err(Inval)),
            (Knob::PstateStatus, "active", &off, Ok("active")),
            (Knob::NoTurbo, "1\n", &on, Ok("1")),
            (Knob::NoTurbo, "2", &on, Err(Inval)),
            (Knob::NoTurbo, "0", &off, Err(Again)),
            (Knob::NoTurbo, "x", &off, Err(Inval)),
            (Knob::NoTurbo, "0", &locked, Err(Perm)),
            (Knob::NoTurbo, "1", &locked, Err(Perm)),
            (Knob::MaxPerfPct, "50", &on, Ok("50")),
            (Knob::MaxPerfPct, "5", &on, Ok("9")),
            (Knob::MaxPerfPct, "101", &on, Err(Inval)),
            (Knob::MaxPerfPct, "100", &off, Err(Again)),
            (Knob::MinPerfPct, "ten", &on, Err(Inval)),
            (Knob::MinPerfPct, "30", &on, Ok("30")),
            (
                Knob::MinPerfPct,
                "80",
                &on.clone().with("max_perf_pct", "50"),
                Ok("50"),
            ),
            (Knob::PstateOther, "1", &on, Ok("1")),
            (Knob::PstateOther, "1", &off, Err(Again)),
        ] {
            assert_eq!(
                stored(knob, value, ctx),
                want.map(str::to_owned),
                "{knob:?} {value:?} {ctx:?}"
            );
        }
    }

    #[test]
    fn rapl_and_boost_writes() {
        let open = FileContext::new().with(PL1_FILE, "45000000");
        let locked = open.clone().with_read_only(PL1_FILE);
        for (knob, value, ctx, want) in [
            (Knob::PowerLimit, "50000001\n", &open, Ok("50000000")),
            (Knob::PowerLimit, "60062500", &open, Ok("60000000")),
            // Masked to the 15-bit field: 4096 W wraps to 0.
            (Knob::PowerLimit, "4096000000", &open, Ok("0")),
            (Knob::PowerLimit, "4096125000", &open, Ok("125000")),
            (Knob::PowerLimit, "lots", &open, Err(Inval)),
            // Above max_power_uw (the TDP): no range check, as the kernel.
            (Knob::PowerLimit, "200000000", &open, Ok("200000000")),
            // TPMI: an 18-bit field; 4096 W fits, 32768 W wraps to 0.
            (Knob::TpmiPowerLimit, "4096000000", &open, Ok("4096000000")),
            (Knob::TpmiPowerLimit, "32768000000", &open, Ok("0")),
            (Knob::TpmiPowerLimit, "30000000", &locked, Err(Access)),
            (Knob::PowerLimit, "lots", &locked, Err(Inval)),
            (Knob::PowerLimit, "30000000", &locked, Err(Access)),
            (Knob::TimeWindow, "1000001", &open, Ok("1000001")),
            (Knob::TimeWindow, "1s", &open, Err(Inval)),
            (Knob::TimeWindow, "1000000", &locked, Err(Access)),
            (Knob::RaplEnabled, "0", &open, Ok("0")),
            (Knob::RaplEnabled, "yes", &open, Err(Inval)),
            (Knob::RaplEnabled, "0", &locked, Err(Access)),
            (Knob::Boost, "0\n", &FileContext::new(), Ok("0")),
            (Knob::Boost, "2", &FileContext::new(), Err(Inval)),
            (Knob::Other, "123\n", &FileContext::new(), Ok("123")),
        ] {
            assert_eq!(
                stored(knob, value, ctx),
                want.map(str::to_owned),
                "{knob:?} {value:?}"
            );
        }
    }

    #[test]
    fn reads_and_modes() {
        assert_eq!(
            kernel_read(Knob::Setspeed, &acpi("ondemand", "1")),
            Ok(Some(UNSUPPORTED))
        );
        assert_eq!(
            kernel_read(Knob::Setspeed, &acpi("userspace", "1")),
            Ok(None)
        );
        let off = FileContext::new().with("status", "off");
        assert_eq!(kernel_read(Knob::NoTurbo, &off), Err(Again));
        assert_eq!(kernel_read(Knob::PstateStatus, &off), Ok(None));
        assert_eq!(
            kernel_read(Knob::MaxPerfPct, &off.clone().with("status", "passive")),
            Ok(None)
        );
        assert_eq!(Knob::PowerLimit.shown_mode(0o444), 0o644);
        assert_eq!(Knob::NoTurbo.shown_mode(0o444), 0o644);
        assert_eq!(Knob::Other.shown_mode(0o444), 0o444);
        assert_eq!(Knob::TimeWindow.shown_mode(0o644), 0o644);
        assert_eq!(KernelErrno::Perm.errno(), libc::EPERM);
    }

    #[test]
    fn running_frequency_follows_the_governor() {
        assert_eq!(
            running_khz(&acpi("userspace", "1900000"), 1.0),
            Some(1_900_000)
        );
        assert_eq!(
            running_khz(&acpi("performance", UNSUPPORTED), 0.0),
            Some(2_101_000)
        );
        assert_eq!(
            running_khz(&acpi("powersave", UNSUPPORTED), 1.0),
            Some(1_200_000)
        );
        // Dynamic: scaled by load, resolved up to a table entry.
        assert_eq!(
            running_khz(&acpi("schedutil", UNSUPPORTED), 0.0),
            Some(1_200_000)
        );
        assert_eq!(
            running_khz(&acpi("schedutil", UNSUPPORTED), 0.5),
            Some(1_700_000)
        );
        assert_eq!(
            running_khz(&acpi("schedutil", UNSUPPORTED), 1.0),
            Some(2_101_000)
        );
        // intel_pstate's powersave follows load (no table: not resolved).
        assert_eq!(running_khz(&pstate("powersave"), 0.5), Some(2_550_000));
        assert_eq!(running_khz(&FileContext::new(), 0.5), None);
    }

    #[test]
    fn rewriting_a_settled_policy_changes_nothing() {
        // What settle relies on: the governor rewritten in place is a fixed
        // point once settled.
        for ctx in [
            acpi("userspace", "1850000"),
            acpi("userspace", UNSUPPORTED),
            acpi("performance", "1500000"),
            acpi("schedutil", UNSUPPORTED).with("scaling_max_freq", "1500000"),
        ] {
            let gov = ctx.get("scaling_governor").unwrap().to_owned();
            let mut once = ctx.clone();
            once.apply(
                "scaling_governor",
                &kernel_write(Knob::Governor, &gov, &ctx).unwrap(),
            );
            let mut twice = once.clone();
            twice.apply(
                "scaling_governor",
                &kernel_write(Knob::Governor, &gov, &once).unwrap(),
            );
            assert_eq!(once, twice, "{gov}");
        }
    }

    /// Two packages of two cores with two threads, CPUs numbered as
    /// `two-socket-smt` does (packages interleaved, second threads after
    /// the first ones), all online, SMT on.
    fn smt_host() -> Cpus {
        let places = (0..8)
            .map(|cpu| {
                let (thread, i) = (cpu / 4, cpu % 4);
                let place = CpuPlace {
                    package: i % 2,
                    die: 0,
                    core: i / 2,
                    thread,
                };
                (cpu, place)
            })
            .collect();
        Cpus {
            places,
            online: (0..8).collect(),
            smt: SmtControl::On,
        }
    }

    fn set(list: &[u32]) -> BTreeSet<u32> {
        list.iter().copied().collect()
    }

    #[test]
    fn cpu_online_writes() {
        let all = smt_host();
        assert_eq!(all.core_cpus(1), set(&[1, 5]));
        assert_eq!(all.package_cpus(1), set(&[1, 3, 5, 7]));
        assert!(all.smt_active());
        // kstrtobool's spellings; anything else EINVAL.
        for (v, up) in [("0", false), ("n", false), ("off", false), ("N", false)] {
            assert_eq!(all.set_online(5, v).unwrap().online.contains(&5), up, "{v}");
        }
        for v in ["1", "y", "on", "Yes"] {
            assert!(all.set_online(5, v).unwrap().online.contains(&5), "{v}");
        }
        for v in ["", "2", "o", "x"] {
            assert_eq!(all.set_online(5, v), Err(Inval), "{v:?}");
        }
        let down = all.set_online(5, "0").unwrap();
        assert_eq!(down.offline(), set(&[5]));
        // Its sibling's and package's lists drop it.
        assert_eq!(down.core_cpus(1), set(&[1]));
        assert_eq!(down.package_cpus(3), set(&[1, 3, 7]));
        assert!(down.smt_active());
        // The same state again changes nothing; back up restores it.
        assert_eq!(down.set_online(5, "0").unwrap(), down);
        assert_eq!(down.set_online(5, "1").unwrap(), all);
        // The last online CPU cannot go down.
        let mut last = all.clone();
        last.online = set(&[3]);
        assert_eq!(last.set_online(3, "0"), Err(Busy));
        // Through kernel_write: stored 0/1, the state in the outcome.
        let ctx = FileContext::new().with_cpus(all.clone());
        let out = kernel_write(Knob::CpuOnline(5), "0\n", &ctx).unwrap();
        assert_eq!((out.stored.as_str(), out.cpus), ("0", Some(down)));
        // Without the CPUs' state (an old tree) the value is stored as is.
        assert_eq!(
            stored(Knob::CpuOnline(5), "0", &FileContext::new()).unwrap(),
            "0"
        );
    }

    #[test]
    fn smt_control_writes() {
        let all = smt_host();
        let off = all.set_smt_control("off\n").unwrap();
        assert_eq!(off.smt, SmtControl::Off);
        assert_eq!(off.online, set(&[0, 1, 2, 3]));
        assert!(!off.smt_active());
        // A secondary thread cannot come up while SMT is off; a primary
        // one can.
        assert_eq!(off.set_online(6, "1"), Err(Perm));
        let p = off.set_online(2, "0").unwrap();
        assert_eq!(p.set_online(2, "1").unwrap(), off);
        // "on" brings every present offline CPU up, a primary thread
        // taken down by hand included.
        assert_eq!(p.set_smt_control("on").unwrap(), all);
        // The same count again changes nothing: a CPU taken down by hand
        // stays down under "on" or "2".
        let one = all.set_online(6, "0").unwrap();
        assert_eq!(one.set_smt_control("on").unwrap(), one);
        assert_eq!(one.set_smt_control("2").unwrap(), one);
        assert_eq!(all.set_smt_control("1").unwrap(), off);
        assert_eq!(off.set_smt_control("off").unwrap(), off);
        for bad in ["3", "0", "enable", ""] {
            assert_eq!(all.set_smt_control(bad), Err(Inval), "{bad:?}");
        }
        // forceoff from on or off; then every write EPERM.
        let forced = all.set_smt_control("forceoff").unwrap();
        assert_eq!(forced.smt, SmtControl::ForceOff);
        assert_eq!(forced.online, off.online);
        assert_eq!(
            off.set_smt_control("forceoff").unwrap().smt,
            SmtControl::ForceOff
        );
        for v in ["on", "off", "bogus"] {
            assert_eq!(forced.set_smt_control(v), Err(Perm), "{v}");
        }
        assert_eq!(forced.set_online(5, "1"), Err(Perm));
        // notsupported: ENODEV, whatever is written.
        let none = Cpus {
            smt: SmtControl::NotSupported,
            ..all.clone()
        };
        assert_eq!(none.set_smt_control("off"), Err(NoDev));
        assert_eq!(none.set_smt_control("bogus"), Err(NoDev));
        assert_eq!(KernelErrno::NoDev.errno(), libc::ENODEV);
        // Through kernel_write: stored as shown.
        let ctx = FileContext::new().with_cpus(all.clone());
        let out = kernel_write(Knob::SmtControl, "1\n", &ctx).unwrap();
        assert_eq!((out.stored.as_str(), out.cpus), ("off", Some(off)));
    }

    #[test]
    fn the_record_round_trips() {
        let all = smt_host();
        let down = all.set_smt_control("off").unwrap();
        let back = Cpus::from_record(&down.record(), down.online.clone()).unwrap();
        assert_eq!(back, down);
        assert_eq!(Cpus::from_record("smt on\n0 0 0 0\n", set(&[0])), None);
        assert_eq!(Cpus::from_record("0 0 0 0 0\n", set(&[0])), None);
        assert_eq!(Cpus::from_record("smt maybe\n", set(&[0])), None);
    }

    #[test]
    fn an_inactive_policy_answers_busy() {
        let inactive = acpi("userspace", "1900000").with("affected_cpus", "");
        for knob in [
            Knob::Governor,
            Knob::Setspeed,
            Knob::MinFreq,
            Knob::MaxFreq,
            Knob::Epp,
            Knob::Boost,
            Knob::PolicyOther,
        ] {
            assert_eq!(kernel_read(knob, &inactive), Err(Busy), "{knob:?}");
            assert_eq!(stored(knob, "1900000", &inactive), Err(Busy), "{knob:?}");
        }
        // A policy with an online CPU left is served; so is a file outside
        // a policy (the global boost has no affected_cpus).
        let active = inactive.clone().with("affected_cpus", "5");
        assert_eq!(
            stored(Knob::Setspeed, "1850000", &active).unwrap(),
            "1900000"
        );
        assert_eq!(kernel_read(Knob::PolicyOther, &active), Ok(None));
        assert_eq!(stored(Knob::Boost, "0", &FileContext::new()).unwrap(), "0");
        assert_eq!(
            kernel_refuses(Knob::Other, &inactive),
            None,
            "only policy files"
        );
    }
}
