// SPDX-License-Identifier: LGPL-2.1-or-later
//! Child processes of the tests (daemons, `virt-power sim mount`): started
//! so that they die with the test, stopped with SIGTERM.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) on our own, not yet reaped child; no memory is shared.
    unsafe { libc::kill(pid, sig) };
}

/// Sends SIGTERM to `child` unless it has exited already, and waits up to
/// `grace` for it to exit; then kills it. The child is reaped either way.
/// `Some` is the exit status of a child that stopped by itself or on
/// SIGTERM, `None` says it had to be killed.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Some(st) = child.try_wait().ok().flatten() {
        return Some(st);
    }
    signal(child, libc::SIGTERM);
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().ok().flatten() {
            return Some(st);
        }
        if start.elapsed() > grace {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes `cmd`'s process get SIGTERM when the spawning thread dies, so a
/// killed test run leaves no daemon behind. With `pin`, it also runs on
/// the first CPU it may use only: the vCPUs of some virtual machines (these
/// among them) report different CPUID data, and the QEMU driver then finds
/// its capabilities cache "outdated: host cpuid changed" and re-probes QEMU
/// for seconds whenever the daemon lands on another CPU than last time.
pub fn prepare_child(cmd: &mut Command, pin: bool) {
    // SAFETY: the closure runs between fork and exec and only calls
    // prctl(2), sched_getaffinity(2) and sched_setaffinity(2), which are
    // async-signal-safe, on a cpu_set_t of its own stack.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if pin {
                let size = std::mem::size_of::<libc::cpu_set_t>();
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                if libc::sched_getaffinity(0, size, &mut set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let first = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set));
                if let Some(c) = first {
                    libc::CPU_ZERO(&mut set);
                    libc::CPU_SET(c, &mut set);
                    if libc::sched_setaffinity(0, size, &set) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        });
    }
}
