// SPDX-License-Identifier: LGPL-2.1-or-later
//! Restore across a process restart: one `virt-power` process changes knobs
//! and exits; a second, new process restores them from the journal.

mod support;

use support::cmd::{text, vp};
use support::common::tree;

fn virt_power(args: &[&str]) -> (bool, String) {
    let out = vp().args(args).output().expect("run virt-power");
    (out.status.success(), text(&out))
}

#[test]
fn restore_in_a_new_process() {
    let base = std::env::temp_dir().join(format!("vp-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("sys");
    let state = base.join("state");
    let (r, s) = (root.to_str().unwrap(), state.to_str().unwrap());
    let (ok, out) = virt_power(&["sim", "create", "--preset", "intel-pstate-active", r]);
    assert!(ok, "{out}");
    let original = tree(&root);

    // `virt-power set --sysfs R --state-dir S ARGS...`, a new process each.
    let set = |args: &[&str]| {
        let mut all = vec!["set", "--sysfs", r, "--state-dir", s];
        all.extend_from_slice(args);
        virt_power(&all)
    };

    // First process: several changes, then it exits.
    for args in [
        &["governor", "0-3", "performance"][..],
        &["epp", "4-7", "power"],
        &["limits", "all", "--min", "1GHz", "--max", "3.2GHz"],
        &["turbo", "off"],
        &["perf-pct", "--min", "30", "--max", "70"],
        &[
            "rapl-limit",
            "package-0",
            "long_term",
            "--power",
            "20W",
            "--window",
            "1s",
        ],
        &[
            "rapl-limit",
            "mmio:package-0",
            "short_term",
            "--power",
            "30W",
        ],
    ] {
        let (ok, out) = set(args);
        assert!(ok, "{args:?}: {out}");
    }
    assert_ne!(tree(&root), original);

    // A refused change in between leaves everything as it was.
    let before = tree(&root);
    let (ok, out) = set(&["rapl-limit", "package-0", "long_term", "--power", "5000W"]);
    assert!(
        !ok && out.contains("invalid power limit '5000000000 uW': 1 to 4095875000 uW"),
        "{out}"
    );
    assert_eq!(tree(&root), before);

    // Second, new process: restore by knob, then everything.
    let (ok, out) = virt_power(&["restore", "--sysfs", r, "--state-dir", s, "--knob", "turbo"]);
    assert!(ok && out.contains("no_turbo: 1 -> 0"), "{out}");
    let (ok, out) = virt_power(&["restore", "--sysfs", r, "--state-dir", s]);
    assert!(ok, "{out}");
    assert_eq!(tree(&root), original, "restore did not return every byte");
    // Nothing left to restore.
    let (ok, out) = virt_power(&["restore", "--sysfs", r, "--state-dir", s]);
    assert!(ok && out.contains("nothing to change"), "{out}");
    let _ = std::fs::remove_dir_all(&base);
}
