// SPDX-License-Identifier: LGPL-2.1-or-later
//! The simulated kernel on a tree of plain files: reads the
//! [`FileContext`] a rule needs from a directory, stores a
//! [`WriteOutcome`] atomically ([`store`] does a whole write), and
//! [`settle`]s a tree after plain writes. The rules themselves are in
//! [`kernel`](super::kernel); the FUSE mount of the tool uses these same
//! helpers.
//!
//! An errno on a read cannot come from a plain file. The one the library
//! must meet there, `EBUSY` from every attribute of an inactive cpufreq
//! policy, comes from [`PlainTreeGate`]: a [`SysfsRoot`] whose tree holds
//! the simulator's marker `libvirt-power-sim` gets it from [`gate`]
//! (`Host::new` calls it; one `stat` of the marker, so a real `/sys`
//! pays nothing more), and answers each read and write of a policy file
//! with [`kernel_refuses`] on the backing `affected_cpus`.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::generate::write_cpu_state;
use super::kernel::{
    Cpus, FileContext, KernelErrno, Knob, WriteOutcome, kernel_refuses, kernel_write,
};
use crate::cpulist::parse_cpulist;
use crate::sysfs::{AttrGate, SysfsRoot};

pub use super::generate::{CPU_RECORD, TMP_SUFFIX, replace};

/// Reads `names` from directory `dir` into a context: a file that does not
/// exist is left out, a read-only one (no write bit) is marked so. Errors
/// are the system's as they are (a FUSE view answers with their errno).
pub fn context(dir: &Path, names: &[&str]) -> io::Result<FileContext> {
    let mut ctx = FileContext::new();
    for name in names {
        let path = dir.join(name);
        match fs::read_to_string(&path) {
            Ok(content) => ctx.set(name, &content),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        if fs::metadata(&path)?.permissions().mode() & 0o222 == 0 {
            ctx.set_read_only(name);
        }
    }
    Ok(ctx)
}

/// Stores the outcome of a write of `name` in directory `dir`: the file,
/// its side effects, and `scaling_cur_freq` when the outcome moves it and
/// the directory has one.
pub fn apply(dir: &Path, name: &str, out: &WriteOutcome) -> io::Result<()> {
    replace(&dir.join(name), &out.stored)?;
    for (file, content) in &out.side_effects {
        replace(&dir.join(file), content)?;
    }
    if let Some(khz) = out.cur_khz {
        let cur = dir.join("scaling_cur_freq");
        if cur.exists() {
            replace(&cur, &khz.to_string())?;
        }
    }
    Ok(())
}

/// The CPUs' hotplug state of the tree at `root`: the record
/// ([`CPU_RECORD`]) and the `online` list; `None` for a tree without a
/// record (made before the simulator kept one).
pub fn read_cpus(root: &Path) -> io::Result<Option<Cpus>> {
    let record = match fs::read_to_string(root.join(CPU_RECORD)) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let online_path = root.join("devices/system/cpu/online");
    let online = parse_cpulist(
        &online_path.display().to_string(),
        &fs::read_to_string(&online_path)?,
    )
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Cpus::from_record(&record, online).map(Some).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: malformed", root.join(CPU_RECORD).display()),
        )
    })
}

fn errno(e: KernelErrno) -> io::Error {
    io::Error::from_raw_os_error(e.errno())
}

/// The errno the kernel answers any read or write of `rel` (relative to
/// `root`) with in the tree's current state ([`kernel_refuses`]), from the
/// backing files; `None` when the file is served (or its state cannot be
/// read: the read itself then answers).
pub fn refusal(root: &Path, rel: &Path) -> Option<KernelErrno> {
    let knob = Knob::classify(rel);
    if !knob.in_policy() {
        return None;
    }
    let dir = root.join(rel.parent()?);
    let ctx = context(&dir, &["affected_cpus"]).ok()?;
    kernel_refuses(knob, &ctx)
}

/// A write of `value` to `rel` (relative to `root`) as the kernel answers
/// it: the rule's errno (as an `io::Error` with that OS error), or the
/// outcome stored, hotplug effects on the whole tree included.
pub fn store(root: &Path, rel: &Path, value: &str) -> io::Result<()> {
    let knob = Knob::classify(rel);
    let name = rel
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let dir = root.join(rel.parent().unwrap_or(Path::new("")));
    let mut ctx = context(&dir, knob.write_context())?;
    if let (true, Some(cpus)) = (knob.needs_cpus(), read_cpus(root)?) {
        ctx.set_cpus(cpus);
    }
    let out = kernel_write(knob, value, &ctx).map_err(errno)?;
    apply(&dir, name, &out)?;
    if let Some(cpus) = &out.cpus {
        write_cpu_state(root, cpus)?;
    }
    Ok(())
}

/// Applies the hotplug writes a plain tree received: an `smt/control`
/// that differs from the recorded control, then each `cpuN/online` that
/// differs from the `online` list, each through [`kernel_write`] against
/// the state before it. A write the kernel refuses is undone (the file
/// gets back what the kernel shows) and named in the error.
fn settle_hotplug(root: &Path) -> io::Result<()> {
    let Some(mut cpus) = read_cpus(root)? else {
        return Ok(());
    };
    let cpu_dir = root.join("devices/system/cpu");
    let refused = |file: &Path, value: &str, e: KernelErrno| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: the kernel would refuse '{value}': {e}", file.display()),
        )
    };
    // The plain writes, read before any is applied (applying one rewrites
    // the files of the others).
    let mut pending = Vec::new();
    for cpu in cpus.present() {
        let file = cpu_dir.join(format!("cpu{cpu}/online"));
        let Ok(written) = fs::read_to_string(&file) else {
            continue;
        };
        let shown = if cpus.online.contains(&cpu) { "1" } else { "0" };
        if written.trim() != shown {
            pending.push((cpu, file, written.trim().to_owned()));
        }
    }
    let control = cpu_dir.join("smt/control");
    if let Ok(written) = fs::read_to_string(&control) {
        let written = written.trim().to_owned();
        if written != cpus.smt_control_shown() {
            let ctx = FileContext::new().with_cpus(cpus.clone());
            match kernel_write(Knob::SmtControl, &written, &ctx) {
                Ok(out) => {
                    cpus = out.cpus.unwrap_or(cpus);
                    write_cpu_state(root, &cpus)?;
                }
                Err(e) => {
                    replace(&control, &cpus.smt_control_shown())?;
                    write_cpu_state(root, &cpus)?;
                    return Err(refused(&control, &written, e));
                }
            }
        }
    }
    for (cpu, file, written) in pending {
        let ctx = FileContext::new().with_cpus(cpus.clone());
        match kernel_write(Knob::CpuOnline(cpu), &written, &ctx) {
            Ok(out) => {
                cpus = out.cpus.unwrap_or(cpus);
                write_cpu_state(root, &cpus)?;
            }
            Err(e) => {
                write_cpu_state(root, &cpus)?;
                return Err(refused(&file, &written, e));
            }
        }
    }
    Ok(())
}

/// What a plain simulated tree answers instead of a file: `EBUSY` for
/// every attribute of an inactive cpufreq policy ([`refusal`]), as the
/// kernel and the FUSE mount do.
#[derive(Debug)]
pub struct PlainTreeGate {
    root: PathBuf,
}

impl AttrGate for PlainTreeGate {
    fn refuse(&self, rel: &str, _write: bool) -> Option<io::Error> {
        refusal(&self.root, Path::new(rel)).map(errno)
    }
}

/// `sysfs` with a [`PlainTreeGate`] when its tree is a simulated one (it
/// holds the `libvirt-power-sim` marker), else unchanged: a real `/sys`
/// costs one failed `stat`.
pub fn gate(sysfs: SysfsRoot) -> SysfsRoot {
    if sysfs.is_gated() || !sysfs.root().join("libvirt-power-sim").is_file() {
        return sysfs;
    }
    let gate = PlainTreeGate {
        root: sysfs.root().to_owned(),
    };
    sysfs.with_gate(Arc::new(gate))
}

/// The cpufreq policy directories of the tree at `root`, in order.
pub fn policy_dirs(root: &Path) -> io::Result<Vec<PathBuf>> {
    let dir = root.join("devices/system/cpu/cpufreq");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix("policy"))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        if entry.file_type()?.is_dir() {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

/// Settles one policy directory: rewrites its governor through
/// [`kernel_write`], as the kernel reapplies the governor's limits on every
/// policy change (`cpufreq_set_policy()` -> `cpufreq_governor_limits()`).
/// Returns the policy's files afterwards, or `None` for a directory
/// without a governor or an inactive policy (all its CPUs offline: the
/// kernel keeps its settings as they are until a CPU comes back).
pub fn settle_policy(dir: &Path) -> io::Result<Option<FileContext>> {
    let at = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    let mut ctx = context(dir, Knob::Governor.write_context()).map_err(at)?;
    let Some(governor) = ctx.get("scaling_governor").map(str::to_owned) else {
        return Ok(None);
    };
    if kernel_refuses(Knob::Governor, &ctx).is_some() {
        return Ok(None);
    }
    let mut out = kernel_write(Knob::Governor, &governor, &ctx).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: the kernel would refuse governor '{governor}': {e}",
                dir.join("scaling_governor").display()
            ),
        )
    })?;
    // In a plain tree the runner owns scaling_cur_freq (it follows load);
    // settling only derives the files the kernel keeps.
    out.cur_khz = None;
    apply(dir, "scaling_governor", &out).map_err(at)?;
    ctx.apply("scaling_governor", &out);
    Ok(Some(ctx))
}

/// Applies what the kernel derives from the knobs by itself, which a tree
/// of plain files cannot do at write time: hotplug writes first
/// (`smt/control`, then each `cpuN/online`, with all the files they
/// change; a refused one is undone and named in the error); then every
/// active policy's governor is
/// rewritten through [`kernel_write`], so `scaling_setspeed` reads
/// `<unsupported>` unless the governor is `userspace`, entering
/// `userspace` starts it at the current frequency, and a userspace target
/// is held within the policy's limits and resolved to the frequency table.
/// The [`Runner`](super::Runner) calls this every tick; tests call it after
/// a change, where the kernel would already have reacted.
pub fn settle(root: &Path) -> io::Result<()> {
    settle_hotplug(root)?;
    for dir in policy_dirs(root)? {
        settle_policy(&dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{SimSpec, generate};
    use crate::testutil::TempDir;
    use std::collections::BTreeSet;

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

    #[test]
    fn settle_resolves_a_plain_write_like_the_mount() {
        let t = TempDir::new("sim-settle-table");
        let root = t.path().join("sys");
        generate(&root, &SimSpec::preset("acpi-cpufreq", None).unwrap()).unwrap();
        let d = root.join("devices/system/cpu/cpufreq/policy1");
        crate::sysfs::write_attr(&d.join("scaling_governor"), "userspace").unwrap();
        crate::sysfs::write_attr(&d.join("scaling_setspeed"), "1850000").unwrap();
        crate::sysfs::write_attr(&d.join("scaling_max_freq"), "1700000").unwrap();
        let before = fs::read_to_string(d.join("scaling_cur_freq")).unwrap();
        settle(&root).unwrap();
        // RELATION_H to the lowered max; the running frequency is the
        // runner's.
        assert_eq!(
            fs::read_to_string(d.join("scaling_setspeed")).unwrap(),
            "1700000\n"
        );
        assert_eq!(
            fs::read_to_string(d.join("scaling_cur_freq")).unwrap(),
            before
        );
        crate::sysfs::write_attr(&d.join("scaling_max_freq"), "2101000").unwrap();
        crate::sysfs::write_attr(&d.join("scaling_setspeed"), "1850000").unwrap();
        settle(&root).unwrap();
        assert_eq!(
            fs::read_to_string(d.join("scaling_setspeed")).unwrap(),
            "1900000\n"
        );
        // A settled tree is a fixed point: nothing changes.
        let listing = |root: &Path| {
            policy_dirs(root)
                .unwrap()
                .iter()
                .flat_map(|d| fs::read_dir(d).unwrap())
                .map(|e| {
                    let p = e.unwrap().path();
                    (p.clone(), fs::read(&p).unwrap_or_default())
                })
                .collect::<Vec<_>>()
        };
        let settled = listing(&root);
        settle(&root).unwrap();
        assert_eq!(listing(&root), settled);
    }

    #[test]
    fn a_governor_the_kernel_would_refuse_is_named() {
        let t = TempDir::new("sim-settle-bad");
        let root = t.path().join("sys");
        generate(&root, &SimSpec::preset("acpi-cpufreq", None).unwrap()).unwrap();
        let g = root.join("devices/system/cpu/cpufreq/policy2/scaling_governor");
        crate::sysfs::write_attr(&g, "warp").unwrap();
        let err = settle(&root).unwrap_err();
        assert!(
            err.to_string().contains("policy2/scaling_governor"),
            "{err}"
        );
        assert!(err.to_string().contains("'warp'"), "{err}");
    }

    #[test]
    fn context_marks_read_only_files() {
        let t = TempDir::new("sim-context");
        let root = t.path().join("sys");
        generate(&root, &SimSpec::preset("bios-locked", None).unwrap()).unwrap();
        let ip = root.join("devices/system/cpu/intel_pstate");
        let ctx = context(&ip, Knob::NoTurbo.write_context()).unwrap();
        assert_eq!(ctx.get("no_turbo"), Some("1"));
        assert_eq!(
            kernel_write(Knob::NoTurbo, "0", &ctx),
            Err(super::super::KernelErrno::Perm)
        );
        let zone = root.join("devices/virtual/powercap/intel-rapl/intel-rapl:0");
        let ctx = context(&zone, Knob::RaplEnabled.write_context()).unwrap();
        assert_eq!(
            kernel_write(Knob::RaplEnabled, "0", &ctx),
            Err(super::super::KernelErrno::Access)
        );
        // A subzone of the locked package is not locked itself.
        let core = zone.join("intel-rapl:0:0");
        let ctx = context(&core, Knob::RaplEnabled.write_context()).unwrap();
        assert!(kernel_write(Knob::RaplEnabled, "0", &ctx).is_ok());
        // Absent files are left out.
        assert_eq!(context(&ip, &["nothing"]).unwrap(), FileContext::new());
    }

    fn read(root: &Path, rel: &str) -> String {
        fs::read_to_string(root.join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .trim_end()
            .to_owned()
    }

    const CPU: &str = "devices/system/cpu";

    #[test]
    fn two_socket_smt_numbers_packages_interleaved() {
        let t = TempDir::new("sim-smt-numbering");
        let root = t.path().join("sys");
        generate(&root, &SimSpec::preset("two-socket-smt", None).unwrap()).unwrap();
        let pkg = |cpu: u32| {
            read(
                &root,
                &format!("{CPU}/cpu{cpu}/topology/physical_package_id"),
            )
        };
        let core = |cpu: u32| read(&root, &format!("{CPU}/cpu{cpu}/topology/core_id"));
        for cpu in 0..16 {
            assert_eq!(pkg(cpu), (cpu % 2).to_string(), "cpu{cpu}");
            assert_eq!(core(cpu), (cpu % 8 / 2).to_string(), "cpu{cpu}");
        }
        assert_eq!(
            read(&root, &format!("{CPU}/cpu1/topology/core_cpus_list")),
            "1,9"
        );
        assert_eq!(
            read(&root, &format!("{CPU}/cpu0/topology/package_cpus_list")),
            "0,2,4,6,8,10,12,14"
        );
        assert_eq!(read(&root, &format!("{CPU}/smt/control")), "on");
        assert_eq!(read(&root, &format!("{CPU}/smt/active")), "1");
        assert_eq!(read(&root, &format!("{CPU}/online")), "0-15");
        assert_eq!(read(&root, &format!("{CPU}/offline")), "");
        assert_eq!(
            read(&root, &format!("{CPU}/cpufreq/policy9/affected_cpus")),
            "9"
        );
        assert_eq!(read(&root, "bus/event_source/devices/power/cpumask"), "0,1");
        assert!(!root.join(format!("{CPU}/cpu0/online")).exists());
        let zones: Vec<String> = [
            "intel-rapl:0",
            "intel-rapl:0/intel-rapl:0:0",
            "intel-rapl:1",
            "intel-rapl:1/intel-rapl:1:0",
        ]
        .iter()
        .map(|z| {
            read(
                &root,
                &format!("devices/virtual/powercap/intel-rapl/{z}/name"),
            )
        })
        .collect();
        assert_eq!(zones, ["package-0", "dram", "package-1", "dram"]);
    }

    #[test]
    fn an_offline_cpu_has_the_kernels_files() {
        let t = TempDir::new("sim-offline");
        let root = t.path().join("sys");
        let spec = SimSpec::preset("two-socket-smt-offline", None).unwrap();
        let off = crate::sim::spec::SMT_OFFLINE_CPU;
        generate(&root, &spec).unwrap();
        assert_eq!(
            read(&root, &format!("{CPU}/online")),
            format!("0-{},{}-15", off - 1, off + 1)
        );
        assert_eq!(read(&root, &format!("{CPU}/offline")), off.to_string());
        assert_eq!(read(&root, &format!("{CPU}/present")), "0-15");
        assert_eq!(read(&root, &format!("{CPU}/cpu{off}/online")), "0");
        assert!(!root.join(format!("{CPU}/cpu{off}/topology")).exists());
        // The cpufreq link stays; its policy is inactive (affected_cpus
        // empty, related_cpus kept).
        let p = format!("{CPU}/cpu{off}/cpufreq");
        assert_eq!(read(&root, &format!("{p}/related_cpus")), off.to_string());
        assert_eq!(read(&root, &format!("{p}/affected_cpus")), "");
        // Its sibling's lists drop it.
        let sib = off - 8;
        assert_eq!(
            read(&root, &format!("{CPU}/cpu{sib}/topology/core_cpus_list")),
            sib.to_string()
        );
        // The gate answers EBUSY for the inactive policy, reads and writes.
        let sysfs = gate(SysfsRoot::new(&root));
        let rel = format!("{CPU}/cpufreq/policy{off}/scaling_governor");
        assert!(matches!(
            sysfs.read(&rel),
            Err(crate::error::Error::Busy { .. })
        ));
        assert!(matches!(
            sysfs.write(&rel, "performance"),
            Err(crate::error::Error::Busy { .. })
        ));
        assert!(
            sysfs
                .read(&format!("{CPU}/cpufreq/policy{sib}/scaling_governor"))
                .is_ok()
        );
        // A tree without the marker (a real /sys) gets no gate.
        fs::remove_file(root.join("libvirt-power-sim")).unwrap();
        assert!(!gate(SysfsRoot::new(&root)).is_gated());
        // CPU 0 cannot start offline.
        let bad = SimSpec {
            offline: BTreeSet::from([0]),
            ..spec
        };
        let err = generate(&t.path().join("bad"), &bad).unwrap_err();
        assert!(err.to_string().contains("CPU 0"), "{err}");
    }

    #[test]
    fn hotplug_writes_through_the_kernel_and_by_settle() {
        let t = TempDir::new("sim-hotplug");
        let root = t.path().join("sys");
        generate(&root, &SimSpec::preset("two-socket-smt", None).unwrap()).unwrap();
        let put = |rel: &str, v: &str| store(&root, Path::new(rel), v);
        let errno = |r: io::Result<()>| r.unwrap_err().raw_os_error();
        // SMT off: the second threads go down with all their files.
        put(&format!("{CPU}/smt/control"), "off\n").unwrap();
        assert_eq!(read(&root, &format!("{CPU}/online")), "0-7");
        assert_eq!(read(&root, &format!("{CPU}/offline")), "8-15");
        assert_eq!(read(&root, &format!("{CPU}/smt/control")), "off");
        assert_eq!(read(&root, &format!("{CPU}/smt/active")), "0");
        assert_eq!(read(&root, &format!("{CPU}/cpu12/online")), "0");
        assert!(!root.join(format!("{CPU}/cpu12/topology")).exists());
        assert_eq!(
            read(&root, &format!("{CPU}/cpu4/topology/core_cpus_list")),
            "4"
        );
        assert_eq!(
            read(&root, &format!("{CPU}/cpufreq/policy12/affected_cpus")),
            ""
        );
        assert_eq!(
            errno(put(
                &format!("{CPU}/cpufreq/policy12/scaling_max_freq"),
                "2000000"
            )),
            Some(libc::EBUSY)
        );
        assert_eq!(
            errno(put(&format!("{CPU}/cpu12/online"), "1")),
            Some(libc::EPERM)
        );
        // Package 1's first CPU down: the PMU's reader moves.
        put(&format!("{CPU}/cpu1/online"), "0").unwrap();
        assert_eq!(read(&root, "bus/event_source/devices/power/cpumask"), "0,3");
        // SMT on: every present CPU comes back, topology rewritten.
        put(&format!("{CPU}/smt/control"), "on").unwrap();
        assert_eq!(read(&root, &format!("{CPU}/online")), "0-15");
        assert_eq!(
            read(&root, &format!("{CPU}/cpu12/topology/core_cpus_list")),
            "4,12"
        );
        assert_eq!(
            read(&root, &format!("{CPU}/cpufreq/policy12/affected_cpus")),
            "12"
        );
        // The same by plain writes and settle.
        crate::sysfs::write_attr(&root.join(format!("{CPU}/smt/control")), "off").unwrap();
        crate::sysfs::write_attr(&root.join(format!("{CPU}/cpu3/online")), "0").unwrap();
        settle(&root).unwrap();
        assert_eq!(read(&root, &format!("{CPU}/online")), "0-2,4-7");
        assert_eq!(read(&root, &format!("{CPU}/smt/active")), "0");
        // A plain write the kernel refuses is undone and named.
        crate::sysfs::write_attr(&root.join(format!("{CPU}/cpu9/online")), "1").unwrap();
        let err = settle(&root).unwrap_err().to_string();
        assert!(
            err.contains("cpu9/online") && err.contains("EPERM"),
            "{err}"
        );
        assert_eq!(read(&root, &format!("{CPU}/cpu9/online")), "0");
        // forceoff: no way back.
        put(&format!("{CPU}/smt/control"), "forceoff").unwrap();
        assert_eq!(
            errno(put(&format!("{CPU}/smt/control"), "on")),
            Some(libc::EPERM)
        );
        // Settling leaves the inactive policies as they are.
        let before = read(&root, &format!("{CPU}/cpufreq/policy9/scaling_setspeed"));
        settle(&root).unwrap();
        assert_eq!(
            read(&root, &format!("{CPU}/cpufreq/policy9/scaling_setspeed")),
            before
        );
    }

    #[test]
    fn a_shared_policy_keeps_its_online_cpu() {
        let t = TempDir::new("sim-shared");
        let root = t.path().join("sys");
        let spec = SimSpec {
            cpus_per_policy: 2,
            offline: BTreeSet::from([2]),
            ..SimSpec::preset("acpi-cpufreq", None).unwrap()
        };
        generate(&root, &spec).unwrap();
        // CPUs 0 and 2 share policy0 (siblings); 2 is offline.
        let p = format!("{CPU}/cpufreq/policy0");
        assert_eq!(read(&root, &format!("{p}/related_cpus")), "0 2");
        assert_eq!(read(&root, &format!("{p}/affected_cpus")), "0");
        let sysfs = gate(SysfsRoot::new(&root));
        assert!(sysfs.read(&format!("{p}/scaling_governor")).is_ok());
        store(&root, Path::new(&format!("{CPU}/cpu2/online")), "1").unwrap();
        assert_eq!(read(&root, &format!("{p}/affected_cpus")), "0 2");
    }
}
