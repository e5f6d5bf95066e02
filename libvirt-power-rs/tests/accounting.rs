// SPDX-License-Identifier: LGPL-2.1-or-later
//! The accounting loop with real processes on this kernel: a spinning
//! process and a sleeping one, energy from a simulated host.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::sim_host;
use libvirt_power::SysfsRoot;
use libvirt_power::accounting::Accountant;
use libvirt_power::perf::{WeightKind, WeightPreference, host_has_cycles_pmu};
use libvirt_power::procfs::ProcfsRoot;
use libvirt_power::sim::{self, PowerModel};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tests that count perf fds run one at a time (they share the process).
static FD_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    FD_TESTS.lock().unwrap_or_else(|p| p.into_inner())
}

/// perf event fds this process holds.
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().contains("perf_event"))
        .count()
}

#[test]
fn busy_process_gets_the_energy_and_conservation_holds() {
    let _serial = serial();
    let (_t, root, _state) = sim_host("acpi-cpufreq");
    let busy = Kill(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    );
    let idle = Kill(Command::new("sleep").arg("60").spawn().unwrap());
    let fds_before = fds();
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    let kind = acc.add_domain("busy", busy.0.id() as i32).unwrap();
    acc.add_domain("idle", idle.0.id() as i32).unwrap();
    if !host_has_cycles_pmu() {
        assert_eq!(kind, WeightKind::CpuTimeNs);
    }
    println!("weight: {}", kind.as_str());
    assert!(
        acc.add_domain("busy", 1)
            .unwrap_err()
            .to_string()
            .contains("not accounted yet")
    );
    acc.tick().unwrap(); // zones' baseline
    let mut last = (0u64, 0u64);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(400));
        sim::advance(
            &root,
            PowerModel { tdp_w: 85.0 },
            1.0,
            Duration::from_millis(400),
        )
        .unwrap();
        let report = acc.tick().unwrap();
        assert!(report.conserved(), "{report:?}");
        let b = acc.domain_energy_uj("busy", "package-0").unwrap();
        let i = acc.domain_energy_uj("idle", "package-0").unwrap();
        assert!(b >= last.0 && i >= last.1, "counters went backwards");
        last = (b, i);
    }
    let (b, i) = last;
    let measured = acc.measured_uj("package-0").unwrap();
    assert_eq!(b + i + acc.unattributed_uj("package-0").unwrap(), measured);
    assert!(b * 10 >= (b + i) * 9, "busy {b} idle {i}");
    assert!(
        b > 0 && measured == 3 * 34_000_000,
        "busy {b} measured {measured}"
    );
    println!(
        "busy {b} uJ, idle {i} uJ, unattributed {} uJ of {measured}",
        acc.unattributed_uj("package-0").unwrap()
    );
    assert!(acc.fd_count() >= 2);
    acc.remove_domain("busy").unwrap();
    acc.remove_domain("idle").unwrap();
    assert!(
        acc.remove_domain("idle")
            .unwrap_err()
            .to_string()
            .contains("one of the accounted domains")
    );
    assert_eq!(acc.fd_count(), 0);
    assert_eq!(fds(), fds_before, "perf fds leaked");
    // Until the next tick a removed domain still reads; the tick accounts
    // its last interval and moves its energy to the departed total.
    assert_eq!(acc.domain_energy_uj("busy", "package-0"), Some(b));
    acc.tick().unwrap();
    assert_eq!(acc.domain_energy_uj("busy", "package-0"), None);
    let departed = acc.departed_uj("package-0").unwrap();
    assert!(departed >= b + i, "departed {departed} < {b} + {i}");
    assert_eq!(
        departed + acc.unattributed_uj("package-0").unwrap(),
        acc.measured_uj("package-0").unwrap()
    );
}

fn spin() -> Kill {
    Kill(
        Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap(),
    )
}

/// measured = accounted domains + departed + unattributed, every zone.
fn assert_identity(acc: &Accountant) {
    let zones: Vec<String> = acc.zones().map(str::to_owned).collect();
    for z in &zones {
        let live: u64 = acc
            .domains()
            .map(|d| acc.domain_energy_uj(d, z).unwrap())
            .sum();
        let (m, d, u) = (
            acc.measured_uj(z).unwrap(),
            acc.departed_uj(z).unwrap(),
            acc.unattributed_uj(z).unwrap(),
        );
        assert_eq!(live + d + u, m, "zone {z}: {live} + {d} + {u} != {m}");
    }
}

#[test]
fn churn_keeps_the_totals_and_counters_monotonic() {
    let _serial = serial();
    let (_t, root, _state) = sim_host("acpi-cpufreq");
    let fds_before = fds();
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    let steady = spin();
    acc.add_domain("steady", steady.0.id() as i32).unwrap();
    acc.tick().unwrap();
    let mut last = 0;
    for round in 0..6 {
        let p = spin();
        acc.add_domain("churn", p.0.id() as i32).unwrap();
        std::thread::sleep(Duration::from_millis(60));
        sim::advance(
            &root,
            PowerModel { tdp_w: 85.0 },
            1.0,
            Duration::from_millis(60),
        )
        .unwrap();
        acc.tick().unwrap();
        assert_identity(&acc);
        if round % 2 == 0 {
            // Removed mid-interval: its last weight counts in the next tick.
            acc.remove_domain("churn").unwrap();
            drop(p);
        } else {
            drop(p);
            acc.remove_domain("churn").unwrap();
        }
        // Removed, not ticked yet: already counted as departed.
        assert_identity(&acc);
        sim::advance(
            &root,
            PowerModel { tdp_w: 85.0 },
            1.0,
            Duration::from_millis(60),
        )
        .unwrap();
        acc.tick().unwrap();
        assert_identity(&acc);
        let now = acc.domain_energy_uj("steady", "package-0").unwrap();
        assert!(now >= last, "steady went backwards: {last} -> {now}");
        last = now;
    }
    assert_eq!(acc.ticks(), 13);
    drop(acc);
    assert_eq!(fds(), fds_before, "perf fds leaked");
}

#[test]
fn a_restart_resumes_the_same_lifetime_only() {
    let _serial = serial();
    let (t, root, _state) = sim_host("acpi-cpufreq");
    let file = t.path().join("accounting.state");
    let a = spin();
    let b = spin();
    let model = PowerModel { tdp_w: 85.0 };
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    acc.set_state_file(&file).unwrap();
    acc.add_domain("a", a.0.id() as i32).unwrap();
    acc.add_domain("b", b.0.id() as i32).unwrap();
    acc.tick().unwrap();
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(100));
        sim::advance(&root, model, 1.0, Duration::from_millis(100)).unwrap();
        acc.tick().unwrap();
    }
    let before_a = acc.domain_energy_uj("a", "package-0").unwrap();
    let before_b = acc.domain_energy_uj("b", "package-0").unwrap();
    let measured = acc.measured_uj("package-0").unwrap();
    assert!(before_a > 0 && before_b > 0, "{before_a} {before_b}");
    drop(acc);

    // A new daemon: "a" is the same process; "b" got a new process.
    let b2 = spin();
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    acc.set_state_file(&file).unwrap();
    assert_eq!(acc.ticks(), 3);
    assert_eq!(acc.measured_uj("package-0"), Some(measured));
    // Not resumed yet: both count as departed, and the identity holds.
    assert_eq!(acc.departed_uj("package-0"), Some(before_a + before_b));
    assert_identity(&acc);
    acc.add_domain("a", a.0.id() as i32).unwrap();
    acc.add_domain("b", b2.0.id() as i32).unwrap();
    assert_eq!(acc.domain_energy_uj("a", "package-0"), Some(before_a));
    assert_eq!(acc.domain_energy_uj("b", "package-0"), Some(0));
    assert_eq!(acc.departed_uj("package-0"), Some(before_b));
    assert_identity(&acc);
    acc.tick().unwrap();
    sim::advance(&root, model, 1.0, Duration::from_millis(100)).unwrap();
    acc.tick().unwrap();
    assert!(acc.domain_energy_uj("a", "package-0").unwrap() >= before_a);
    assert_identity(&acc);
    assert_eq!(acc.ticks(), 5);
    // A resumed domain that stops: its whole lifetime's energy departs.
    let a_before = acc.domain_energy_uj("a", "package-0").unwrap();
    acc.remove_domain("a").unwrap();
    sim::advance(&root, model, 1.0, Duration::from_millis(100)).unwrap();
    acc.tick().unwrap();
    assert_identity(&acc);
    assert!(acc.departed_uj("package-0").unwrap() >= before_b + a_before);

    // Set after a tick: refused.
    assert!(acc.set_state_file(&file).is_err());
    // Ids are used as words of the file.
    let mut fresh = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    assert!(fresh.add_domain("two words", a.0.id() as i32).is_err());
}

/// A state file as a daemon leaves it: two domains over three ticks.
fn saved_state(root: &std::path::Path, file: &std::path::Path) -> Vec<u8> {
    let (a, b) = (spin(), spin());
    let mut acc = Accountant::new(&SysfsRoot::new(root), WeightPreference::CpuTime).unwrap();
    acc.set_state_file(file).unwrap();
    acc.add_domain("a", a.0.id() as i32).unwrap();
    acc.add_domain("b", b.0.id() as i32).unwrap();
    acc.tick().unwrap();
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(50));
        sim::advance(
            root,
            PowerModel { tdp_w: 85.0 },
            1.0,
            Duration::from_millis(50),
        )
        .unwrap();
        acc.tick().unwrap();
    }
    assert!(acc.domain_energy_uj("a", "package-0").unwrap() > 0);
    std::fs::read(file).unwrap()
}

#[test]
fn a_damaged_state_file_is_set_aside_and_accounting_starts_afresh() {
    let _serial = serial();
    let (t, root, _state) = sim_host("acpi-cpufreq");
    let file = t.path().join("accounting.state");
    let good = saved_state(&root, &file);
    let text = String::from_utf8(good.clone()).unwrap();
    // A good file loads (and is not set aside).
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::CpuTime).unwrap();
    acc.set_state_file(&file).unwrap();
    assert_eq!(acc.ticks(), 3);
    assert!(acc.state_set_aside().is_none());
    assert_identity(&acc);

    let last_line = text.trim_end().rfind('\n').unwrap() + 1;
    // In the middle of the last domain's energy in the last zone.
    let mid_number = text.rfind('=').unwrap() + 2;
    let huge = text.replacen("tick 3", "tick 123456789012345678901234567890", 1);
    let zone_line = text
        .lines()
        .find(|l| l.starts_with("zone package-0 "))
        .unwrap();
    let mut f: Vec<&str> = zone_line.split(' ').collect();
    f[2] = "18446744073709551615";
    let inflated = text.replacen(zone_line, &f.join(" "), 1);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "header"),
        ("cut mid-line", good[..mid_number].to_vec(), "do not add up"),
        (
            "last domain cut",
            good[..last_line].to_vec(),
            "do not add up",
        ),
        (
            "garbage",
            b"\x7fELF\x02\x01\x01\0\0\xff\xfe".to_vec(),
            "UTF-8",
        ),
        ("text garbage", b"garbage\n".to_vec(), "header"),
        (
            "wrong version",
            text.replacen("accounting 3", "accounting 9", 1)
                .into_bytes(),
            "header",
        ),
        ("huge tick", huge.into_bytes(), "expected a number"),
        ("huge total", inflated.into_bytes(), "do not add up"),
        (
            "unknown line",
            format!("{text}tick 4 5\n").into_bytes(),
            "unknown line",
        ),
    ];
    let mut aside_before = Vec::new();
    for (i, (what, bytes, why)) in cases.into_iter().enumerate() {
        std::fs::write(&file, &bytes).unwrap();
        let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::CpuTime).unwrap();
        acc.set_state_file(&file)
            .unwrap_or_else(|e| panic!("{what}: refused: {e}"));
        // Nothing of the damaged file was taken.
        assert_eq!(acc.ticks(), 0, "{what}");
        assert_eq!(acc.measured_uj("package-0"), Some(0), "{what}");
        assert_eq!(acc.departed_uj("package-0"), Some(0), "{what}");
        let aside = acc.state_set_aside().expect(what).clone();
        let expected = if i == 0 {
            format!("{}.damaged", file.display())
        } else {
            format!("{}.damaged.{i}", file.display())
        };
        assert_eq!(aside.path.display().to_string(), expected, "{what}");
        assert!(
            aside.reason.contains("accounting.state") && aside.reason.contains(why),
            "{what}: {}",
            aside.reason
        );
        // Set aside with its bytes unchanged, the earlier ones untouched.
        assert_eq!(std::fs::read(&aside.path).unwrap(), bytes, "{what}");
        for (p, b) in &aside_before {
            assert_eq!(
                &std::fs::read(p).unwrap(),
                b,
                "{what}: {}",
                aside.path.display()
            );
        }
        assert!(!file.exists(), "{what}");
        aside_before.push((aside.path.clone(), bytes));
        // Accounting works in the same run, and saves a good file.
        let a = spin();
        acc.add_domain("a", a.0.id() as i32).unwrap();
        acc.tick().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        sim::advance(
            &root,
            PowerModel { tdp_w: 85.0 },
            1.0,
            Duration::from_millis(30),
        )
        .unwrap();
        acc.tick().unwrap();
        assert!(
            acc.domain_energy_uj("a", "package-0").unwrap() > 0,
            "{what}"
        );
        assert_identity(&acc);
        let mut again = Accountant::new(&SysfsRoot::new(&root), WeightPreference::CpuTime).unwrap();
        again.set_state_file(&file).unwrap();
        assert!(again.state_set_aside().is_none(), "{what}");
        assert_eq!(again.ticks(), 2, "{what}");
    }
}

#[test]
fn a_failed_state_file_load_changes_nothing() {
    let _serial = serial();
    let (t, root, _state) = sim_host("acpi-cpufreq");
    let file = t.path().join("accounting.state");
    // Damaged after lines that parse: none of them is taken.
    std::fs::write(
        &file,
        "libvirt-power-accounting 2\ntick 7\nzone package-0 5 5 0 0\nbad\n",
    )
    .unwrap();
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::CpuTime).unwrap();
    acc.set_state_file(&file).unwrap();
    assert_eq!(acc.ticks(), 0);
    assert_eq!(acc.measured_uj("package-0"), Some(0));
    // A file that cannot be read: refused with its path, and the call
    // can be repeated once it is fixed.
    std::fs::create_dir(&file).unwrap();
    let e = acc.set_state_file(&file).unwrap_err().to_string();
    assert!(e.contains("accounting.state"), "{e}");
    std::fs::remove_dir(&file).unwrap();
    acc.set_state_file(&file).unwrap();
    acc.tick().unwrap();
    assert_eq!(acc.ticks(), 1);
}

#[test]
fn a_vanished_process_is_reported() {
    let (_t, root, _state) = sim_host("acpi-cpufreq");
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    let e = acc.add_domain("ghost", i32::MAX - 7).unwrap_err();
    assert_eq!(
        libvirt_power::ffi::lvp_result::from(&e),
        libvirt_power::ffi::lvp_result::LVP_RESULT_NO_SUCH_PROCESS,
        "{e}"
    );
}

/// A fake /proc: the machine's CPU times replaced by `busy_ticks` of busy
/// time, and process `pid` (its real threads, so that perf can count
/// them) with the start time `start_ticks`.
fn fake_proc(dir: &std::path::Path, pid: i32, start_ticks: u64, busy_ticks: u64) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("stat"),
        format!("cpu  {busy_ticks} 0 0 1000 0 0 0 0 0 0\ncpu0 {busy_ticks} 0 0 1000 0 0 0 0 0 0\n"),
    )
    .unwrap();
    for tid in ProcfsRoot::default().tasks(pid).unwrap() {
        std::fs::create_dir_all(dir.join(format!("{pid}/task/{tid}"))).unwrap();
    }
    std::fs::write(
        dir.join(format!("{pid}/stat")),
        format!(
            "{pid} (fake vm) R 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {start_ticks} 0 0\n"
        ),
    )
    .unwrap();
}

#[test]
fn an_injected_proc_gives_lifetimes_and_the_host_busy_time() {
    let _serial = serial();
    let (t, root, _state) = sim_host("acpi-cpufreq");
    let proc_dir = t.path().join("proc");
    let file = t.path().join("accounting.state");
    let a = spin();
    let pid = a.0.id() as i32;
    fake_proc(&proc_dir, pid, 4242, 1_000);
    let procfs = ProcfsRoot::new(&proc_dir);
    let mut acc =
        Accountant::with_procfs(&SysfsRoot::new(&root), &procfs, WeightPreference::CpuTime)
            .unwrap();
    acc.set_state_file(&file).unwrap();
    assert_eq!(acc.add_domain("a", pid).unwrap(), WeightKind::CpuTimeNs);
    acc.tick().unwrap();
    // The process lifetime comes from the injected <pid>/stat.
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(&format!("domain a {pid} 4242 ")), "{saved}");
    // The host was busy for 100 s (fake) while the domain ran for about
    // 0.2 s: the domain gets a sliver, the rest stays unattributed. With
    // the real /proc/stat the spinning domain would get most of it.
    std::thread::sleep(Duration::from_millis(200));
    sim::advance(
        &root,
        PowerModel { tdp_w: 85.0 },
        1.0,
        Duration::from_millis(200),
    )
    .unwrap();
    fake_proc(&proc_dir, pid, 4242, 1_000 + 10_000);
    let report = acc.tick().unwrap();
    assert!(report.conserved(), "{report:?}");
    let measured = acc.measured_uj("package-0").unwrap();
    let mine = acc.domain_energy_uj("a", "package-0").unwrap();
    let host = acc.unattributed_uj("package-0").unwrap();
    assert!(
        measured > 0 && mine + host == measured,
        "{mine} + {host} != {measured}"
    );
    assert!(mine * 50 < measured, "domain {mine} of {measured}");
    assert!(mine > 0, "the domain got nothing");
    // A process missing from the injected /proc is gone.
    let b = spin();
    assert!(acc.add_domain("b", b.0.id() as i32).is_err());
}

/// A fake /proc holding several processes: each one's real threads (so
/// that perf can count them) and a start time, and the host busy for
/// `busy_ticks`.
fn fake_procs(dir: &std::path::Path, pids: &[(i32, u64)], busy_ticks: u64) {
    for &(pid, start_ticks) in pids {
        fake_proc(dir, pid, start_ticks, busy_ticks);
    }
}

#[test]
fn an_exiting_domain_whose_threads_cannot_be_listed_stalls_no_tick() {
    let _serial = serial();
    let (t, root, _state) = sim_host("acpi-cpufreq");
    let proc_dir = t.path().join("proc");
    let (a, b) = (spin(), spin());
    let (pa, pb) = (a.0.id() as i32, b.0.id() as i32);
    fake_procs(&proc_dir, &[(pa, 10), (pb, 20)], 1_000);
    let procfs = ProcfsRoot::new(&proc_dir);
    let mut acc =
        Accountant::with_procfs(&SysfsRoot::new(&root), &procfs, WeightPreference::CpuTime)
            .unwrap();
    acc.add_domain("a", pa).unwrap();
    acc.add_domain("b", pb).unwrap();
    acc.tick().unwrap();
    let model = PowerModel { tdp_w: 85.0 };
    let mut busy = 1_000;
    let mut step = |what: &str, acc: &mut Accountant| {
        std::thread::sleep(Duration::from_millis(100));
        sim::advance(&root, model, 1.0, Duration::from_millis(100)).unwrap();
        // The host's busy time grows by the interval on its one CPU.
        busy += 10;
        std::fs::write(
            proc_dir.join("stat"),
            format!("cpu  {busy} 0 0 1000 0 0 0 0 0 0\ncpu0 {busy} 0 0 1000 0 0 0 0 0 0\n"),
        )
        .unwrap();
        let before = acc.domain_energy_uj("a", "package-0").unwrap();
        let report = acc
            .tick()
            .unwrap_or_else(|e| panic!("{what}: the tick failed: {e}"));
        assert!(report.conserved(), "{what}: {report:?}");
        assert_identity(acc);
        let after = acc.domain_energy_uj("a", "package-0").unwrap();
        assert!(
            after > before,
            "{what}: domain a got nothing ({before} -> {after})"
        );
    };
    step("both listed", &mut acc);
    // b exits: its task directory is gone (ENOENT) before the driver
    // removes the domain.
    let b_tasks = proc_dir.join(format!("{pb}/task"));
    std::fs::remove_dir_all(&b_tasks).unwrap();
    step("b's task dir gone", &mut acc);
    step("b's task dir still gone", &mut acc);
    // b is a zombie: its task directory lists no thread.
    std::fs::create_dir(&b_tasks).unwrap();
    step("b a zombie", &mut acc);
    // b's whole /proc entry is gone.
    std::fs::remove_dir_all(proc_dir.join(pb.to_string())).unwrap();
    step("b's /proc entry gone", &mut acc);
    // The driver removes it at last: its energy departs.
    acc.remove_domain("b").unwrap();
    step("b removed", &mut acc);
    assert_eq!(acc.domains().collect::<Vec<_>>(), ["a"]);
    drop(b);
}
