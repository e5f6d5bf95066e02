// SPDX-License-Identifier: LGPL-2.1-or-later
//! A simulated tree mounted through FUSE by `virt-power sim mount`, which
//! answers writes with the kernel's errnos: started and waited for,
//! stopped with SIGTERM, and unmounted and reaped on drop, also when a
//! test panics.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::cmd::vp;
use super::process::{prepare_child, terminate};

/// How long the mount may take to appear.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `sim mount` may take to unmount and exit on SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `dir` (an absolute path without symlinks) is a mount point in
/// this process's mount table.
pub fn mounted(dir: &Path) -> bool {
    // mountinfo escapes these four characters in octal.
    let want = dir
        .to_string_lossy()
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('\t', "\\011")
        .replace('\n', "\\012");
    fs::read_to_string("/proc/self/mountinfo").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().nth(4) == Some(want.as_str()))
    })
}

/// A running `virt-power sim mount BACKING MNT`.
pub struct SimMount {
    /// The mount point, canonical (as the mount table has it).
    mnt: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl SimMount {
    /// Mounts the tree `backing` on the existing directory `mnt`, the
    /// command's output going to the file `log`, and waits for the mount
    /// to appear. `Err` is why FUSE is unavailable (no `/dev/fuse`, or the
    /// mount refused); anything else going wrong panics.
    pub fn start(backing: &Path, mnt: &Path, log: &Path) -> Result<SimMount, String> {
        if !Path::new("/dev/fuse").exists() {
            return Err("/dev/fuse does not exist".into());
        }
        let out = File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut cmd = vp();
        cmd.args(["sim", "mount"])
            .arg(backing)
            .arg(mnt)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        prepare_child(&mut cmd, false);
        // Built before waiting, so that a panic below stops the child.
        let mut m = SimMount {
            mnt: mnt
                .canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", mnt.display())),
            log: log.to_owned(),
            child: Some(cmd.spawn().expect("virt-power sim mount")),
        };
        let start = Instant::now();
        while !mounted(&m.mnt) {
            if let Some(st) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                m.child = None;
                let log = m.log();
                // Only a refused mount means "FUSE unavailable"; any other
                // failure of the command is a bug.
                assert!(
                    log.contains("mounting "),
                    "virt-power sim mount exited with {st}: {log}"
                );
                return Err(format!("{} ({st})", log.trim()));
            }
            assert!(
                start.elapsed() < MOUNT_TIMEOUT,
                "the FUSE mount did not appear: {}",
                m.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(m)
    }

    /// What the command printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the command with SIGTERM (it unmounts and exits) and returns
    /// its exit status; panics if it has to be killed.
    pub fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("sim mount runs until stopped");
        match terminate(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => panic!("sim mount did not stop on SIGTERM: {}", self.log()),
        }
    }
}

impl Drop for SimMount {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, STOP_TIMEOUT);
        }
        // Left behind by a command that had to be killed.
        if mounted(&self.mnt) {
            let ok = Command::new("umount")
                .arg(&self.mnt)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
            }
        }
    }
}
