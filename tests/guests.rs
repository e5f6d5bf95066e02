// SPDX-License-Identifier: LGPL-2.1-or-later
//! Real guests under the patched daemon: a tiny multiboot kernel that
//! spins and one that halts (`tests/guests/*.S`), booted with
//! `<os><kernel>` under KVM (TCG where `/dev/kvm` is unusable). Over a
//! window after boot, `cpu.time` from `virsh domstats --cpu-total` must
//! show a busy VM (>= 80% of one CPU, counting the time its vCPU waited
//! for a host CPU that other load held, `vcpu.0.delay`) and an idle one
//! (<= 10%); starting and destroying them must not leak descriptors in
//! the daemon. Groundwork for per-VM energy (issue 4).
//!
//! Run as root: `cargo test --test guests -- --ignored --nocapture`.
//! The harness is in `tests/support/{daemon,guests}.rs`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::daemon::{self, Daemon, SimHost};
use support::guests::{self, BUSY_LINE, Guest, GuestHost, IDLE_LINE, Stats};

/// How long a guest may take from `virsh start` to its debugcon line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between the last debugcon line and the measuring window.
const SETTLE: Duration = Duration::from_secs(1);
/// The measuring window.
const WINDOW: Duration = Duration::from_secs(5);

#[test]
#[ignore = "real guests: run with --ignored (issue 4 groundwork)"]
fn busy_guest_uses_a_cpu_and_idle_guest_none() {
    require_root!();
    daemon::require_patched();
    let (accel, why) = guests::accel();
    println!("accelerator: {accel} ({why})");
    let kernels = guests::build_kernels();

    let host = SimHost::plain("acpi-cpufreq");
    let mut gh = GuestHost::new(Daemon::patched(&host.root, false));
    let fds_before = gh.daemon_fd_list();

    let busy = gh.guest("busy", &kernels.busy, accel);
    let idle = gh.guest("idle", &kernels.idle, accel);
    gh.define(&busy);
    gh.define(&idle);

    // One after the other, so that each boot time is its own.
    let t = Instant::now();
    gh.start(&busy);
    let busy_boot = gh.wait_debugcon(&busy, BUSY_LINE, t, BOOT_TIMEOUT);
    let t = Instant::now();
    gh.start(&idle);
    let idle_boot = gh.wait_debugcon(&idle, IDLE_LINE, t, BOOT_TIMEOUT);
    println!("boot (virsh start to debugcon line): busy {busy_boot:.2?}, idle {idle_boot:.2?}");

    std::thread::sleep(SETTLE);
    let (s0, t0) = sample(&gh, &[&busy, &idle]);
    std::thread::sleep(WINDOW);
    let (s1, t1) = sample(&gh, &[&busy, &idle]);
    let wall = t1 - t0;
    let ns = wall.as_nanos() as f64;
    println!(
        "cpu.time at window start (boot included): busy {:.2} s, idle {:.2} s",
        s0[&busy.name].u64("cpu.time") as f64 / 1e9,
        s0[&idle.name].u64("cpu.time") as f64 / 1e9
    );
    // Share of one CPU over the window: cpu.time, and the time the vCPU
    // thread was runnable but waited for a host CPU (vcpu.0.delay, the
    // run queue delay from schedstat), which other load on the host
    // takes from a spinning guest.
    let share = |name: &str, key: &str| (s1[name].u64(key) - s0[name].u64(key)) as f64 / ns;
    let busy_cpu = share(&busy.name, "cpu.time");
    let busy_delay = share(&busy.name, "vcpu.0.delay");
    let idle_cpu = share(&idle.name, "cpu.time");
    let idle_delay = share(&idle.name, "vcpu.0.delay");
    println!(
        "window {wall:.2?} ({accel}): busy {:.1}% of one CPU (+{:.1}% waiting for a host CPU), \
         idle {:.1}% (+{:.1}%)",
        busy_cpu * 100.0,
        busy_delay * 100.0,
        idle_cpu * 100.0,
        idle_delay * 100.0
    );
    assert_eq!(gh.state(&busy), "running");
    assert_eq!(gh.state(&idle), "running");
    // On a quiet host this is cpu.time >= 80% of one CPU; on a busy one
    // (other builds and tests on these two cores) the guest cannot get a
    // whole CPU, but must still want one.
    assert!(
        busy_cpu + busy_delay >= 0.80,
        "the busy guest used {:.1}% of one CPU and waited {:.1}% for one (< 80% together)",
        busy_cpu * 100.0,
        busy_delay * 100.0
    );
    assert!(
        idle_cpu <= 0.10,
        "the idle guest used {:.1}% of one CPU (> 10%)",
        idle_cpu * 100.0
    );

    gh.destroy(&busy);
    gh.destroy(&idle);
    gh.undefine(&busy);
    gh.undefine(&idle);
    gh.daemon.assert_answers(&gh.virsh);

    // The daemon may close a client's socket a moment after virsh exits.
    let start = Instant::now();
    let fds_after = loop {
        let now = gh.daemon_fd_list();
        if now.len() <= fds_before.len() || start.elapsed() > Duration::from_secs(5) {
            break now;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "daemon descriptors: {} before the guests, {} after",
        fds_before.len(),
        fds_after.len()
    );
    let new: Vec<String> = fds_after
        .iter()
        .filter(|(fd, target)| fds_before.get(fd) != Some(target))
        .map(|(fd, target)| format!("{fd} -> {target}"))
        .collect();
    assert!(
        fds_after.len() <= fds_before.len(),
        "the daemon holds {} more descriptors after starting and destroying two guests: {new:?}",
        fds_after.len() - fds_before.len()
    );
}

/// `domstats --cpu-total --vcpu` of `guests`, and the middle of the call.
fn sample(gh: &GuestHost, guests: &[&Guest]) -> (BTreeMap<String, Stats>, Instant) {
    let before = Instant::now();
    let stats = gh.stats(&["--cpu-total", "--vcpu"], guests);
    (stats, before + before.elapsed() / 2)
}
