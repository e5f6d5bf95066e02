// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power sim mount`: a simulated tree mounted through FUSE answers
//! writes with the kernel's errnos and stores the kernel's values, and the
//! library sees the kernel's behaviour through it (a locked RAPL zone, a
//! clamped frequency, a byte-exact restore).
//!
//! Each test mounts its own tree in a child process and unmounts it in a
//! `Drop` guard, so a failing assertion never leaves a mount behind. Where
//! FUSE cannot be mounted (no `/dev/fuse`, no privilege), the tests print
//! `skipped: FUSE unavailable: <reason>` and return.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::cmd::{text, vp};
use support::fuse::{SimMount, mounted};

/// A simulated tree mounted with `virt-power sim mount`; unmounted, the
/// child reaped and the files removed on drop.
struct Mount {
    base: PathBuf,
    backing: PathBuf,
    mnt: PathBuf,
    fuse: Option<SimMount>,
}

impl Mount {
    /// Creates a `preset` tree and mounts it. `Err` is the reason FUSE is
    /// unavailable; anything else going wrong panics.
    fn new(name: &str, preset: &str) -> Result<Mount, String> {
        let base = std::env::temp_dir().join(format!("vp-simfs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("mnt")).unwrap();
        let base = base.canonicalize().unwrap();
        let mut m = Mount {
            backing: base.join("sys"),
            mnt: base.join("mnt"),
            base,
            fuse: None,
        };
        let out = vp()
            .args(["sim", "create", "--preset", preset])
            .arg(&m.backing)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        m.fuse = Some(SimMount::start(
            &m.backing,
            &m.mnt,
            &m.base.join("mount.log"),
        )?);
        Ok(m)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.base.join("mount.log")).unwrap_or_default()
    }

    fn m(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    fn b(&self, rel: &str) -> PathBuf {
        self.backing.join(rel)
    }

    /// Stops the child with SIGTERM and checks it unmounted and exited 0.
    fn stop(mut self) {
        let Some(fuse) = self.fuse.take() else {
            return;
        };
        let status = fuse.stop();
        assert!(status.success(), "{status}: {}", self.log());
        assert!(!mounted(&self.mnt), "still mounted after SIGTERM");
        assert!(self.log().starts_with("mounted "), "{}", self.log());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Unmounted first; the files only once nothing is mounted on them.
        drop(self.fuse.take());
        if !mounted(&self.mnt) {
            let _ = fs::remove_dir_all(&self.base);
        }
    }
}

/// Mounts or returns from the test with the skip line.
macro_rules! mount_or_skip {
    ($name:expr, $preset:expr) => {
        match Mount::new($name, $preset) {
            Ok(m) => m,
            Err(reason) => {
                println!("skipped: FUSE unavailable: {reason}");
                return;
            }
        }
    };
}

/// Writes `value` as `echo -n value > path` would (O_TRUNC, one write);
/// the errno on failure.
fn put(path: &Path, value: &str) -> Result<(), i32> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
    f.write_all(value.as_bytes())
        .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn get(path: &Path) -> Result<String, i32> {
    fs::read_to_string(path).map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn errno<T>(r: io::Result<T>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// Every file (content), symlink (target) and directory of a tree with its
/// mode, for byte-exact comparison.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (u32, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_owned();
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                out.insert(rel, (mode, Vec::new()));
                walk(root, &p, out);
            } else if meta.file_type().is_symlink() {
                let t = fs::read_link(&p).unwrap();
                out.insert(rel, (mode, t.into_os_string().into_encoded_bytes()));
            } else {
                out.insert(rel, (mode, fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

const POLICY0: &str = "devices/system/cpu/cpufreq/policy0";
const RAPL0: &str = "devices/virtual/powercap/intel-rapl/intel-rapl:0";

#[test]
fn cpufreq_writes_behave_like_the_kernel() {
    let m = mount_or_skip!("cpufreq", "acpi-cpufreq");
    let p = |f: &str| m.m(&format!("{POLICY0}/{f}"));
    let b = |f: &str| m.b(&format!("{POLICY0}/{f}"));

    // The view mirrors the tree: listings, symlinks, modes, sizes.
    let names = |d: &Path| {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&m.m(POLICY0)), names(&m.b(POLICY0)));
    assert_eq!(
        fs::read_link(m.m("devices/system/cpu/cpu0/cpufreq")).unwrap(),
        fs::read_link(m.b("devices/system/cpu/cpu0/cpufreq")).unwrap()
    );
    assert_eq!(
        get(&m.m("devices/system/cpu/cpu0/cpufreq/scaling_driver")).unwrap(),
        "acpi-cpufreq\n"
    );
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&p("cpuinfo_cur_freq")), 0o400);
    assert_eq!(mode(&p("scaling_governor")), 0o644);
    assert_eq!(
        fs::metadata(p("scaling_setspeed")).unwrap().len(),
        "<unsupported>\n".len() as u64
    );

    // Outside userspace, setspeed is unsupported.
    assert_eq!(get(&p("scaling_setspeed")).unwrap(), "<unsupported>\n");
    assert_eq!(put(&p("scaling_setspeed"), "1800000"), Err(libc::EINVAL));

    // Governors: only the available ones.
    assert_eq!(put(&p("scaling_governor"), "turbo\n"), Err(libc::EINVAL));
    assert_eq!(put(&p("scaling_governor"), "\n"), Err(libc::EINVAL));
    assert_eq!(get(&b("scaling_governor")).unwrap(), "schedutil\n");
    put(&p("scaling_governor"), "userspace\n").unwrap();
    assert_eq!(get(&b("scaling_governor")).unwrap(), "userspace\n");
    // userspace starts at the current frequency.
    assert_eq!(get(&p("scaling_setspeed")).unwrap(), "2100000\n");

    // setspeed: the lowest table entry at or above the target.
    put(&p("scaling_setspeed"), "1850000\n").unwrap();
    assert_eq!(get(&p("scaling_setspeed")).unwrap(), "1900000\n");
    assert_eq!(get(&b("scaling_setspeed")).unwrap(), "1900000\n");
    assert_eq!(get(&b("scaling_cur_freq")).unwrap(), "1900000\n");
    assert_eq!(put(&p("scaling_setspeed"), "fast"), Err(libc::EINVAL));
    assert_eq!(put(&p("scaling_setspeed"), "-1"), Err(libc::EINVAL));
    put(&p("scaling_setspeed"), "99999999").unwrap();
    assert_eq!(get(&b("scaling_setspeed")).unwrap(), "2101000\n");
    put(&p("scaling_setspeed"), "1").unwrap();
    assert_eq!(get(&b("scaling_setspeed")).unwrap(), "1200000\n");

    // Limits: clamped into cpuinfo's range and kept min <= max.
    put(&p("scaling_max_freq"), "1500000").unwrap();
    put(&p("scaling_setspeed"), "1850000").unwrap();
    assert_eq!(get(&b("scaling_setspeed")).unwrap(), "1500000\n");
    put(&p("scaling_min_freq"), "1800000").unwrap();
    assert_eq!(get(&b("scaling_min_freq")).unwrap(), "1500000\n");
    put(&p("scaling_min_freq"), "1000").unwrap();
    assert_eq!(get(&b("scaling_min_freq")).unwrap(), "1200000\n");
    put(&p("scaling_min_freq"), "1400000").unwrap();
    put(&p("scaling_max_freq"), "1300000").unwrap();
    assert_eq!(get(&b("scaling_max_freq")).unwrap(), "1400000\n");
    // A lowered max holds the userspace target within the limits.
    assert_eq!(get(&b("scaling_setspeed")).unwrap(), "1400000\n");
    put(&p("scaling_max_freq"), "9999999").unwrap();
    assert_eq!(get(&b("scaling_max_freq")).unwrap(), "2101000\n");
    put(&p("scaling_min_freq"), "1200000").unwrap();
    assert_eq!(put(&p("scaling_min_freq"), "low"), Err(libc::EINVAL));
    assert_eq!(put(&p("scaling_max_freq"), "\n"), Err(libc::EINVAL));
    assert_eq!(get(&b("scaling_min_freq")).unwrap(), "1200000\n");

    // Leaving userspace: setspeed unsupported again.
    put(&p("scaling_governor"), "schedutil").unwrap();
    assert_eq!(get(&p("scaling_setspeed")).unwrap(), "<unsupported>\n");
    assert_eq!(get(&b("scaling_setspeed")).unwrap(), "<unsupported>\n");

    // Global boost: 0/1.
    let boost = m.m("devices/system/cpu/cpufreq/boost");
    assert_eq!(put(&boost, "2"), Err(libc::EINVAL));
    put(&boost, "0\n").unwrap();
    assert_eq!(
        get(&m.b("devices/system/cpu/cpufreq/boost")).unwrap(),
        "0\n"
    );

    // Unknown files pass through.
    put(&p("bios_limit"), "123\n").unwrap();
    assert_eq!(get(&b("bios_limit")).unwrap(), "123\n");

    // The tree's shape cannot change through the mount.
    assert_eq!(errno(fs::File::create(p("new_knob"))), Some(libc::EPERM));
    assert_eq!(errno(fs::remove_file(p("bios_limit"))), Some(libc::EPERM));
    assert_eq!(
        errno(fs::rename(p("bios_limit"), p("bios_limit2"))),
        Some(libc::EPERM)
    );
    assert_eq!(errno(fs::create_dir(p("sub"))), Some(libc::EPERM));
    assert!(b("bios_limit").exists() && !b("new_knob").exists());

    m.stop();
}

#[test]
fn energy_and_powercap_writes_behave_like_the_kernel() {
    let m = mount_or_skip!("powercap", "acpi-cpufreq");
    let z = |f: &str| m.m(&format!("class/powercap/intel-rapl:0/{f}"));
    let b = |f: &str| m.b(&format!("{RAPL0}/{f}"));

    // energy_uj follows the backing file, also when it is replaced by
    // rename (as the runner does).
    assert_eq!(get(&z("energy_uj")).unwrap(), "0\n");
    fs::write(b("energy_uj.tmp-test"), "123456789\n").unwrap();
    fs::rename(b("energy_uj.tmp-test"), b("energy_uj")).unwrap();
    assert_eq!(get(&z("energy_uj")).unwrap(), "123456789\n");
    let out = vp()
        .args(["sim", "run", "--seconds", "0.3", "--interval-ms", "50"])
        .arg(&m.backing)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(get(&z("energy_uj")).unwrap(), get(&b("energy_uj")).unwrap());
    assert_ne!(get(&z("energy_uj")).unwrap(), "123456789\n");

    // Power limits: decimal, masked to 1/8 W.
    assert_eq!(
        put(&z("constraint_0_power_limit_uw"), "lots"),
        Err(libc::EINVAL)
    );
    put(&z("constraint_0_power_limit_uw"), "50000001\n").unwrap();
    assert_eq!(
        get(&b("constraint_0_power_limit_uw")).unwrap(),
        "50000000\n"
    );
    put(&z("constraint_0_power_limit_uw"), "60062500").unwrap();
    assert_eq!(
        get(&b("constraint_0_power_limit_uw")).unwrap(),
        "60000000\n"
    );
    // Time windows: decimal, stored as given.
    assert_eq!(
        put(&z("constraint_0_time_window_us"), "1s"),
        Err(libc::EINVAL)
    );
    put(&z("constraint_0_time_window_us"), "1000001").unwrap();
    assert_eq!(get(&b("constraint_0_time_window_us")).unwrap(), "1000001\n");
    // enabled: 0/1.
    assert_eq!(put(&z("enabled"), "yes"), Err(libc::EINVAL));
    put(&z("enabled"), "0").unwrap();
    assert_eq!(get(&b("enabled")).unwrap(), "0\n");
}

#[test]
fn intel_pstate_writes_behave_like_the_kernel() {
    let m = mount_or_skip!("pstate", "intel-pstate-active");
    let p = |f: &str| m.m(&format!("{POLICY0}/{f}"));
    let ip = |f: &str| m.m(&format!("devices/system/cpu/intel_pstate/{f}"));
    let ipb = |f: &str| m.b(&format!("devices/system/cpu/intel_pstate/{f}"));

    // EPP: only the available preferences; EBUSY under performance.
    let epp = p("energy_performance_preference");
    assert_eq!(put(&epp, "fastest"), Err(libc::EINVAL));
    put(&epp, "power\n").unwrap();
    assert_eq!(
        get(&m.b(&format!("{POLICY0}/energy_performance_preference"))).unwrap(),
        "power\n"
    );
    assert_eq!(put(&p("scaling_governor"), "userspace"), Err(libc::EINVAL));
    put(&p("scaling_governor"), "performance").unwrap();
    assert_eq!(put(&epp, "balance_power"), Err(libc::EBUSY));
    assert_eq!(put(&epp, "fastest"), Err(libc::EINVAL));
    put(&epp, "performance").unwrap();
    assert_eq!(get(&epp).unwrap(), "performance\n");

    // no_turbo: 0/1.
    assert_eq!(put(&ip("no_turbo"), "2"), Err(libc::EINVAL));
    put(&ip("no_turbo"), "1").unwrap();
    assert_eq!(get(&ipb("no_turbo")).unwrap(), "1\n");

    // perf pct: 0-100, min <= max kept silently.
    assert_eq!(put(&ip("max_perf_pct"), "101"), Err(libc::EINVAL));
    assert_eq!(put(&ip("min_perf_pct"), "ten"), Err(libc::EINVAL));
    put(&ip("max_perf_pct"), "50").unwrap();
    put(&ip("min_perf_pct"), "80").unwrap();
    assert_eq!(get(&ipb("min_perf_pct")).unwrap(), "50\n");
    put(&ip("max_perf_pct"), "30").unwrap();
    assert_eq!(get(&ipb("max_perf_pct")).unwrap(), "50\n");
    put(&ip("min_perf_pct"), "10").unwrap();
    put(&ip("max_perf_pct"), "30").unwrap();
    assert_eq!(get(&ipb("max_perf_pct")).unwrap(), "30\n");

    // status: active/passive/off; EAGAIN on the others while off.
    assert_eq!(put(&ip("status"), "on"), Err(libc::EINVAL));
    put(&ip("status"), "off").unwrap();
    assert_eq!(get(&ip("status")).unwrap(), "off\n");
    assert_eq!(get(&ip("no_turbo")), Err(libc::EAGAIN));
    assert_eq!(put(&ip("no_turbo"), "0"), Err(libc::EAGAIN));
    assert_eq!(put(&ip("max_perf_pct"), "100"), Err(libc::EAGAIN));
    assert_eq!(get(&ipb("no_turbo")).unwrap(), "1\n");
    put(&ip("status"), "active").unwrap();
    put(&ip("no_turbo"), "0").unwrap();
    assert_eq!(get(&ip("no_turbo")).unwrap(), "0\n");
}

#[test]
fn a_bios_locked_zone_refuses_the_library() {
    let m = mount_or_skip!("locked", "bios-locked");
    let lim = m.m("class/powercap/intel-rapl:0/constraint_0_power_limit_uw");
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    // The kernel shows 0644 and answers EACCES on write.
    assert_eq!(mode(&lim), 0o644);
    assert_eq!(
        mode(&m.b(&format!("{RAPL0}/constraint_0_power_limit_uw"))),
        0o444
    );
    let before = snapshot(&m.backing);
    assert_eq!(put(&lim, "lots"), Err(libc::EINVAL));
    assert_eq!(put(&lim, "30000000"), Err(libc::EACCES));
    assert_eq!(
        put(
            &m.m("class/powercap/intel-rapl:0/constraint_0_time_window_us"),
            "1000000"
        ),
        Err(libc::EACCES)
    );

    let state = m.base.join("state");
    let out = vp()
        .arg("set")
        .arg("--sysfs")
        .arg(&m.mnt)
        .arg("--state-dir")
        .arg(&state)
        .args(["rapl-limit", "package-0", "long_term", "--power", "30W"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("EACCES") && t.contains("locked"), "{t}");
    assert_eq!(snapshot(&m.backing), before);
}

#[test]
fn the_library_sees_the_kernel_clamp_and_restores_every_byte() {
    let m = mount_or_skip!("library", "acpi-cpufreq");
    let state = m.base.join("state");
    let before = snapshot(&m.backing);
    let host = |cmd: &str| {
        let mut c = vp();
        c.arg(cmd)
            .arg("--sysfs")
            .arg(&m.mnt)
            .arg("--state-dir")
            .arg(&state);
        c
    };
    let out = host("set")
        .args(["--switch-governor", "frequency", "0", "1850MHz"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("kernel holds 1900000"), "{t}");
    assert_eq!(
        get(&m.b(&format!("{POLICY0}/scaling_governor"))).unwrap(),
        "userspace\n"
    );
    assert_eq!(
        get(&m.b(&format!("{POLICY0}/scaling_setspeed"))).unwrap(),
        "1900000\n"
    );

    let out = host("restore").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let strip = |s: BTreeMap<PathBuf, (u32, Vec<u8>)>| {
        s.into_iter()
            .filter(|(p, _)| !p.ends_with("scaling_cur_freq"))
            .collect::<BTreeMap<_, _>>()
    };
    let after = strip(snapshot(&m.backing));
    let before = strip(before);
    for (p, v) in &before {
        assert_eq!(after.get(p), Some(v), "{}", p.display());
    }
    assert_eq!(after.len(), before.len());
}

#[test]
fn cpu_hotplug_and_smt_control_behave_like_the_kernel() {
    let m = mount_or_skip!("hotplug", "two-socket-smt");
    let cpu = |f: &str| m.m(&format!("devices/system/cpu/{f}"));
    let busy = Some(libc::EBUSY);
    assert_eq!(get(&cpu("smt/control")).unwrap(), "on\n");
    assert_eq!(get(&cpu("smt/active")).unwrap(), "1\n");
    // Packages interleaved: CPU 1 is package 1's first CPU.
    assert_eq!(
        get(&cpu("cpu1/topology/physical_package_id")).unwrap(),
        "1\n"
    );
    assert_eq!(get(&cpu("cpu1/topology/core_cpus_list")).unwrap(), "1,9\n");
    // CPU 0 has no online file; values kstrtobool refuses are EINVAL.
    assert_eq!(put(&cpu("cpu0/online"), "0"), Err(libc::ENOENT));
    assert_eq!(put(&cpu("cpu9/online"), "maybe"), Err(libc::EINVAL));
    assert_eq!(put(&cpu("smt/control"), "sometimes"), Err(libc::EINVAL));
    assert_eq!(put(&cpu("smt/control"), "3"), Err(libc::EINVAL));

    // SMT off: the second threads go down, with everything that follows.
    put(&cpu("smt/control"), "off\n").unwrap();
    assert_eq!(get(&cpu("smt/control")).unwrap(), "off\n");
    assert_eq!(get(&cpu("smt/active")).unwrap(), "0\n");
    assert_eq!(get(&cpu("online")).unwrap(), "0-7\n");
    assert_eq!(get(&cpu("offline")).unwrap(), "8-15\n");
    assert_eq!(get(&cpu("cpu9/online")).unwrap(), "0\n");
    assert_eq!(get(&cpu("cpu9/topology/core_id")), Err(libc::ENOENT));
    assert_eq!(get(&cpu("cpu1/topology/core_cpus_list")).unwrap(), "1\n");
    // CPU 9's policy is inactive: every file EBUSY, read or written; the
    // cpufreq link stays.
    let p9 = |f: &str| cpu(&format!("cpufreq/policy9/{f}"));
    for f in [
        "scaling_governor",
        "affected_cpus",
        "related_cpus",
        "scaling_cur_freq",
    ] {
        assert_eq!(errno(fs::read_to_string(p9(f))), busy, "{f}");
    }
    assert_eq!(
        put(&p9("scaling_governor"), "performance"),
        Err(libc::EBUSY)
    );
    assert_eq!(put(&p9("scaling_max_freq"), "2000000"), Err(libc::EBUSY));
    assert_eq!(
        errno(fs::read_to_string(cpu("cpu9/cpufreq/scaling_governor"))),
        busy
    );
    // A second thread cannot come up while SMT is off; a first one goes
    // down and up; the last online CPU cannot go down.
    assert_eq!(put(&cpu("cpu9/online"), "1"), Err(libc::EPERM));
    put(&cpu("cpu3/online"), "0").unwrap();
    assert_eq!(get(&cpu("online")).unwrap(), "0-2,4-7\n");
    assert_eq!(
        get(&m.m("bus/event_source/devices/power/cpumask")).unwrap(),
        "0,1\n"
    );
    put(&cpu("cpu1/online"), "0").unwrap();
    assert_eq!(
        get(&m.m("bus/event_source/devices/power/cpumask")).unwrap(),
        "0,5\n"
    );
    for c in [2, 4, 5, 6, 7] {
        put(&cpu(&format!("cpu{c}/online")), "0").unwrap();
    }
    assert_eq!(get(&cpu("online")).unwrap(), "0\n");
    // CPU 0 has no online file, so the last online CPU's EBUSY cannot be
    // reached here; the rule is in the kernel model's unit tests.

    // SMT on: every present CPU comes back, policies active again.
    put(&cpu("smt/control"), "on").unwrap();
    assert_eq!(get(&cpu("online")).unwrap(), "0-15\n");
    assert_eq!(get(&cpu("smt/active")).unwrap(), "1\n");
    assert_eq!(get(&p9("affected_cpus")).unwrap(), "9\n");
    assert_eq!(get(&p9("scaling_governor")).unwrap(), "schedutil\n");
    assert_eq!(get(&cpu("cpu9/topology/core_cpus_list")).unwrap(), "1,9\n");

    // forceoff cannot be undone.
    put(&cpu("smt/control"), "forceoff").unwrap();
    assert_eq!(get(&cpu("online")).unwrap(), "0-7\n");
    assert_eq!(put(&cpu("smt/control"), "on"), Err(libc::EPERM));
    assert_eq!(put(&cpu("cpu12/online"), "1"), Err(libc::EPERM));
    m.stop();
}

#[test]
fn the_library_skips_offline_cpus_through_the_mount() {
    let m = mount_or_skip!("library-offline", "two-socket-smt-offline");
    let state = m.base.join("state");
    let host = |cmd: &str| {
        let mut c = vp();
        c.arg(cmd)
            .arg("--sysfs")
            .arg(&m.mnt)
            .arg("--state-dir")
            .arg(&state);
        c
    };
    assert_eq!(
        get(&m.m("devices/system/cpu/offline")).unwrap(),
        "13\n",
        "the preset's offline CPU"
    );
    let out = host("show").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // 'all' skips CPU 13 and says so; its inactive policy is untouched.
    let out = host("set")
        .args(["governor", "all", "performance"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("CPU 13 is offline: skipped"), "{t}");
    assert_eq!(
        get(&m.b("devices/system/cpu/cpufreq/policy13/scaling_governor")).unwrap(),
        "schedutil\n"
    );
    assert_eq!(
        get(&m.b("devices/system/cpu/cpufreq/policy5/scaling_governor")).unwrap(),
        "performance\n"
    );
    // Naming it: an error that says it is offline, nothing written.
    let out = host("set")
        .args(["governor", "5,13", "powersave"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("CPU 13 is offline"), "{t}");
    assert_eq!(
        get(&m.b("devices/system/cpu/cpufreq/policy5/scaling_governor")).unwrap(),
        "performance\n"
    );
    // With SMT off too, the library still reads the host.
    put(&m.m("devices/system/cpu/smt/control"), "off").unwrap();
    let out = host("set")
        .args(["limits", "all", "--max", "2GHz"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("CPUs 8-15 are offline: skipped"), "{t}");
    m.stop();
}
