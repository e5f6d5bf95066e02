// SPDX-License-Identifier: LGPL-2.1-or-later
//! The virt-power command line on simulated hosts: the sysfs root from
//! LIBVIRT_POWER_SYSFS_ROOT, clear errors, the simulator runner.

mod support;

use support::cmd::{text, vp};

#[test]
fn sysfs_root_from_the_environment_and_energy_from_the_runner() {
    let base = std::env::temp_dir().join(format!("vp-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("sys");
    let out = vp()
        .args(["sim", "create", "--preset", "amd-pstate-epp"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let out = vp()
        .arg("show")
        .env("LIBVIRT_POWER_SYSFS_ROOT", &root)
        .output()
        .unwrap();
    let t = text(&out);
    assert!(
        out.status.success()
            && t.contains("driver: amd-pstate-epp")
            && t.contains("amd_pstate: active"),
        "{t}"
    );
    assert!(t.contains("zone package-0/core"), "{t}");

    // The runner advances energy_uj; `energy` turns it into watts.
    let out = vp()
        .args(["sim", "run", "--seconds", "0.6", "--interval-ms", "100"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let e: u64 = std::fs::read_to_string(root.join("class/powercap/intel-rapl:0/energy_uj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // At least idle power (15 % of 105 W) over 0.5 s.
    assert!(e >= 7_000_000, "energy_uj {e}");

    let out = vp()
        .args(["energy", "--interval", "0.1"])
        .env("LIBVIRT_POWER_SYSFS_ROOT", &root)
        .output()
        .unwrap();
    assert!(
        out.status.success() && text(&out).contains("package-0"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn errors_name_the_bad_value() {
    let out = vp()
        .args([
            "sim",
            "create",
            "--preset",
            "cray",
            "/nonexistent-dir-for-test",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("invalid preset 'cray': one of acpi-cpufreq"),
        "{}",
        text(&out)
    );
    let out = vp()
        .args([
            "set",
            "--sysfs",
            "/nonexistent-root",
            "frequency",
            "0",
            "2.4THz",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains(
            "invalid frequency '2.4THz': a frequency such as 2400000 (kHz), 2400MHz or 2.4GHz"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn the_tour_runs_on_every_preset_and_restores_every_byte() {
    for preset in libvirt_power::sim::PRESETS {
        let out = vp().args(["tour", "--preset", preset]).output().unwrap();
        let t = text(&out);
        assert!(out.status.success(), "{preset}: {t}");
        assert!(t.contains("restored byte for byte"), "{preset}: {t}");
        assert!(t.contains("invalid governor 'turbo'"), "{preset}: {t}");
    }
}

#[test]
fn show_reports_an_offline_cpu_as_offline() {
    let base = std::env::temp_dir().join(format!("vp-cli-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("sys");
    let out = vp()
        .args(["sim", "create", "--preset", "two-socket-smt-offline"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = vp().arg("show").arg("--sysfs").arg(&root).output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // CPU 13 is offline: its row says so and keeps its policy number, with
    // no frequency data; every other CPU has a governor.
    let row = |cpu: u32| {
        t.lines()
            .find(|l| l.split_whitespace().next() == Some(&cpu.to_string()))
            .unwrap_or_else(|| panic!("no row for CPU {cpu}:\n{t}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row(13)[..5], ["13", "-", "-", "13", "offline"], "{t}");
    assert_eq!(row(5)[4], "schedutil", "{t}");
    assert!(
        t.contains("offline: CPUs 13 (no frequency data; inactive policies: 13)"),
        "{t}"
    );
    let _ = std::fs::remove_dir_all(&base);
}
