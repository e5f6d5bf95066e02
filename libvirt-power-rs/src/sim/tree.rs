// SPDX-License-Identifier: LGPL-2.1-or-later
//! The simulated kernel on a tree of plain files: reads the
//! [`FileContext`] a rule needs from a directory, stores a
//! [`WriteOutcome`] atomically, and [`settle`]s a tree after plain writes.
//! The rules themselves are in [`kernel`](super::kernel); the FUSE mount
//! of the tool uses these same helpers.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::kernel::{FileContext, Knob, WriteOutcome, kernel_write};

/// The suffix of the temporary files of an atomic replacement; a view of
/// the tree hides them.
pub const TMP_SUFFIX: &str = ".sim-tmp";

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

/// Replaces a file's content with `content` and a newline, atomically
/// (readers never see it half written), keeping its mode; no write when
/// the content is already there.
pub fn replace(path: &Path, content: &str) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let content = format!("{content}\n");
    if fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(());
    }
    let mode = fs::metadata(path)?.permissions().mode();
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(format!(
        ".{}-{}{TMP_SUFFIX}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let res = fs::write(&tmp, content.as_bytes())
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)))
        .and_then(|()| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
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
/// without a governor.
pub fn settle_policy(dir: &Path) -> io::Result<Option<FileContext>> {
    let at = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    let mut ctx = context(dir, Knob::Governor.write_context()).map_err(at)?;
    let Some(governor) = ctx.get("scaling_governor").map(str::to_owned) else {
        return Ok(None);
    };
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
/// of plain files cannot do at write time: every policy's governor is
/// rewritten through [`kernel_write`], so `scaling_setspeed` reads
/// `<unsupported>` unless the governor is `userspace`, entering
/// `userspace` starts it at the current frequency, and a userspace target
/// is held within the policy's limits and resolved to the frequency table.
/// The [`Runner`](super::Runner) calls this every tick; tests call it after
/// a change, where the kernel would already have reacted.
pub fn settle(root: &Path) -> io::Result<()> {
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
}
