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
use libvirt_power::sim::{self, PowerModel};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// perf event fds this process holds (other tests' files do not count).
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().contains("perf_event"))
        .count()
}

#[test]
fn busy_process_gets_the_energy_and_conservation_holds() {
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
    acc.tick().unwrap();
    assert_eq!(acc.fd_count(), 0);
    assert_eq!(fds(), fds_before, "perf fds leaked");
    // Energy stays readable after removal until forgotten.
    assert_eq!(acc.domain_energy_uj("busy", "package-0"), Some(b));
    acc.forget_domain("busy");
    assert_eq!(acc.domain_energy_uj("busy", "package-0"), None);
}

#[test]
fn a_vanished_process_is_reported() {
    let (_t, root, _state) = sim_host("acpi-cpufreq");
    let mut acc = Accountant::new(&SysfsRoot::new(&root), WeightPreference::Auto).unwrap();
    let e = acc.add_domain("ghost", i32::MAX - 7).unwrap_err();
    assert_eq!(
        e.code(),
        libvirt_power::ffi::lvp_result::LVP_RESULT_NO_SUCH_PROCESS,
        "{e}"
    );
}
