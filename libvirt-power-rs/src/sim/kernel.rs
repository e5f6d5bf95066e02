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
//! - `energy_performance_preference`: its first word (`sscanf(buf,
//!   "%20s")`) one of `energy_performance_available_preferences`, else
//!   `EINVAL`; `EBUSY` for
//!   anything but `performance` under the `performance` governor of
//!   `intel_pstate` and of `amd-pstate-epp` (both refuse a nonzero EPP
//!   then: `intel_pstate_set_energy_pref_index()`,
//!   `amd_pstate_set_energy_pref_index()`).
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
//!   to its 1/8 W unit, rounding down, and masks to the 15-bit field with no
//!   range check (`rapl_write_data_raw()`), which is what reads back.
//! - `constraint_K_time_window_us`: decimal, else `EINVAL`; `EACCES` when
//!   locked; stored as given (the kernel encodes it as `2^Y * (1 + F/4)`
//!   time units; the mount's tests pin the value as given).
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
    /// powercap `constraint_K_power_limit_uw`.
    PowerLimit,
    /// powercap `constraint_K_time_window_us`.
    TimeWindow,
    /// powercap `enabled`.
    RaplEnabled,
    /// A file without rules.
    Other,
}

/// The files of a cpufreq policy directory that the policy rules read.
pub const POLICY_FILES: &[&str] = &[
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
];

/// PL1's limit file: read-only in the tree when the firmware has locked
/// the zone (the lock bit locks PL1 and PL2 together).
const PL1_FILE: &str = "constraint_0_power_limit_uw";

/// What `scaling_setspeed` reads outside the `userspace` governor.
pub const UNSUPPORTED: &str = "<unsupported>";

/// The RAPL power unit: 1/8 W (`MSR_RAPL_POWER_UNIT` bits 3:0 = 3 on the
/// machines the presets imitate).
const RAPL_POWER_UNIT_UW: u64 = 125_000;

/// The power limit fields of the RAPL registers are 15 bits wide.
const RAPL_POWER_LIMIT_MASK: u64 = 0x7fff;

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
        match name {
            "scaling_governor" => Knob::Governor,
            "scaling_setspeed" => Knob::Setspeed,
            "scaling_min_freq" => Knob::MinFreq,
            "scaling_max_freq" => Knob::MaxFreq,
            "energy_performance_preference" => Knob::Epp,
            "boost" => Knob::Boost,
            "enabled" if powercap => Knob::RaplEnabled,
            n if constraint_file(n, "_power_limit_uw") => Knob::PowerLimit,
            n if constraint_file(n, "_time_window_us") => Knob::TimeWindow,
            _ => Knob::Other,
        }
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
            Knob::PowerLimit | Knob::TimeWindow | Knob::RaplEnabled => &[PL1_FILE],
            Knob::Boost | Knob::Other => &[],
        }
    }

    /// The files of the knob's directory that [`kernel_read`] reads.
    pub fn read_context(self) -> &'static [&'static str] {
        match self {
            Knob::Setspeed => &["scaling_governor"],
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
            Knob::PowerLimit | Knob::TimeWindow | Knob::NoTurbo if backing & 0o222 == 0 => 0o644,
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
}

impl WriteOutcome {
    fn stored(value: impl Into<String>) -> WriteOutcome {
        WriteOutcome {
            stored: value.into(),
            side_effects: Vec::new(),
            cur_khz: None,
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
            let v = word(value);
            let offered = ctx
                .get("energy_performance_available_preferences")
                .unwrap_or("");
            if v.is_empty() || !offered.split_whitespace().any(|e| e == v) {
                return Err(KernelErrno::Inval);
            }
            let p = Policy::read(ctx);
            if p.governor == "performance" && p.setpolicy && v != "performance" {
                return Err(KernelErrno::Busy);
            }
            Ok(WriteOutcome::stored(v))
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
        Knob::PowerLimit | Knob::TimeWindow => {
            let n = decimal(v)?;
            if ctx.is_read_only(PL1_FILE) {
                return Err(KernelErrno::Access);
            }
            let n = if knob == Knob::PowerLimit {
                ((n / RAPL_POWER_UNIT_UW) & RAPL_POWER_LIMIT_MASK) * RAPL_POWER_UNIT_UW
            } else {
                n
            };
            Ok(WriteOutcome::stored(n.to_string()))
        }
        Knob::Other => Ok(WriteOutcome::stored(v)),
    }
}

/// What a read of a `knob` file shows instead of its stored content
/// (`Ok(None)`: the content), given the files [`Knob::read_context`] names:
/// `scaling_setspeed` reads `<unsupported>` outside `userspace`; the
/// intel_pstate files but `status` give `EAGAIN` while the driver is off.
pub fn kernel_read(knob: Knob, ctx: &FileContext) -> Result<Option<&'static str>, KernelErrno> {
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

#[cfg(test)]
mod tests {
    use super::KernelErrno::{Access, Again, Busy, Inval, Perm};
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
            ("devices/system/cpu/cpu1/online", Knob::Other),
            ("devices/system/cpu/cpufreq/policy0/bios_limit", Knob::Other),
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
}
