// SPDX-License-Identifier: LGPL-2.1-or-later
//! The original-state journal.
//!
//! Before the library changes a knob for the first time, it records the
//! knob's original value in a file in a state directory the caller names
//! (`original-state`). A restore writes those values back and drops them
//! from the journal. Because the journal is a file, a restore works after
//! the process restarts, so nothing the administrator had is lost.
//!
//! Format, one entry per line after a header:
//!
//! ```text
//! # libvirt-power original state v1
//! root<TAB>/sys
//! devices/system/cpu/cpufreq/policy0/scaling_governor<TAB>schedutil
//! ```
//!
//! Paths are relative to the sysfs root recorded in the header; a journal
//! written for one root refuses to be used with another. Updates are atomic
//! (write to a temporary file, fsync, rename, fsync the directory) and
//! serialised between processes with `flock(2)` on `lock`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const HEADER: &str = "# libvirt-power original state v1";
const FILE_NAME: &str = "original-state";

/// An original-state journal in a directory.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    root: PathBuf,
}

/// An exclusive `flock` on the journal's lock file, released on drop.
#[derive(Debug)]
pub struct JournalLock {
    file: File,
}

impl Drop for JournalLock {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by `self.file`, which is alive here.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

impl Journal {
    /// Opens (creating the directory if needed) the journal in `dir` for
    /// the sysfs tree at `root`.
    pub fn open(dir: impl Into<PathBuf>, root: &Path) -> Result<Journal> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| Error::Journal {
            path: dir.clone(),
            reason: format!("cannot create the state directory: {e}"),
        })?;
        let j = Journal {
            dir,
            root: root.to_owned(),
        };
        // Check the header now so a mismatch is reported at open time.
        j.load()?;
        Ok(j)
    }

    /// The journal file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// Takes the inter-process lock; hold it across read-modify-write.
    pub fn lock(&self) -> Result<JournalLock> {
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Journal {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        // SAFETY: flock on an fd we own; blocks until the lock is ours.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(Error::Journal {
                path,
                reason: std::io::Error::last_os_error().to_string(),
            });
        }
        Ok(JournalLock { file })
    }

    /// Every recorded original, by path relative to the root.
    pub fn load(&self) -> Result<BTreeMap<String, String>> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => {
                return Err(Error::Journal {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        let bad = |reason: String| Error::Journal {
            path: path.clone(),
            reason,
        };
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(bad(format!("does not start with '{HEADER}'")));
        }
        match lines.next().and_then(|l| l.strip_prefix("root\t")) {
            Some(r) if Path::new(r) == self.root => {}
            Some(r) => {
                return Err(bad(format!(
                    "was written for sysfs root '{r}', not '{}'; restore with that root or remove the file",
                    self.root.display()
                )));
            }
            None => return Err(bad("has no root line".into())),
        }
        let mut map = BTreeMap::new();
        for (n, line) in lines.enumerate() {
            let (k, v) = line
                .split_once('\t')
                .ok_or_else(|| bad(format!("line {} is not 'path<TAB>value'", n + 3)))?;
            map.insert(k.to_owned(), v.to_owned());
        }
        Ok(map)
    }

    /// Replaces the journal's content atomically.
    pub fn store(&self, map: &BTreeMap<String, String>) -> Result<()> {
        let path = self.path();
        let err = |e: std::io::Error| Error::Journal {
            path: path.clone(),
            reason: e.to_string(),
        };
        if map.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => sync_dir(&self.dir).map_err(err),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(err(e)),
            };
        }
        let mut text = format!("{HEADER}\nroot\t{}\n", self.root.display());
        for (k, v) in map {
            if k.contains(['\t', '\n']) || v.contains(['\t', '\n']) {
                return Err(Error::Journal {
                    path: path.clone(),
                    reason: format!("cannot record '{k}': tab or newline in path or value"),
                });
            }
            text.push_str(k);
            text.push('\t');
            text.push_str(v);
            text.push('\n');
        }
        let tmp = self.dir.join(format!("{FILE_NAME}.tmp"));
        let mut f = File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &path).map_err(err)?;
        sync_dir(&self.dir).map_err(err)
    }

    /// Records originals of knobs not yet in the journal; returns how many
    /// were new. The caller holds the lock.
    pub fn record(&self, originals: &[(String, String)]) -> Result<usize> {
        let mut map = self.load()?;
        let mut added = 0;
        for (k, v) in originals {
            if !map.contains_key(k) {
                map.insert(k.clone(), v.clone());
                added += 1;
            }
        }
        if added > 0 {
            self.store(&map)?;
        }
        Ok(added)
    }

    /// Drops entries after they were restored. The caller holds the lock.
    pub fn forget(&self, keys: &[String]) -> Result<()> {
        let mut map = self.load()?;
        let before = map.len();
        for k in keys {
            map.remove(k);
        }
        if map.len() != before {
            self.store(&map)?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
