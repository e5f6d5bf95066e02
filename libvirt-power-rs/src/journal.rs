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
//! # libvirt-power original state v2
//! root<TAB>/sys
//! devices/system/cpu/cpufreq/policy0/scaling_governor<TAB>schedutil
//! rapl:package-0/constraint_0_power_limit_uw<TAB>150000000
//! ```
//!
//! A key ([`Key`]) is one of:
//!
//! - a cpufreq file by its path relative to the sysfs root recorded in the
//!   header: `devices/system/cpu/cpufreq/policyN/<attr>`,
//!   `devices/system/cpu/cpufreq/boost`,
//!   `devices/system/cpu/{intel_pstate,amd_pstate}/<attr>`;
//! - a RAPL zone's file by the zone's *name* key, never by its index:
//!   `rapl:<zone>/<file>`, `<zone>` being the key of
//!   [`crate::rapl::RaplZone`] (`package-0`, `package-0/dram`, `psys`,
//!   `mmio:package-0`, `tpmi:package-1`) and `<file>` `enabled`,
//!   `constraint_K_power_limit_uw` or `constraint_K_time_window_us`. The
//!   kernel numbers zones in probe order, so an index (`intel-rapl:1`) can
//!   name another zone after a driver reload or a package going offline
//!   and back; the name cannot;
//! - in journals written by version 1 of this format, a RAPL file by its
//!   index path `class/powercap/<type>:N[:M]/<file>` ([`Key::RaplIndex`]).
//!   The host resolves such an entry by that path, once, and records it
//!   again by the name of the zone found there.
//!
//! Every key read is checked against these forms (no absolute path, no
//! `..`, no other directory): a journal with any other key is refused with
//! an error naming the file, the line and the key, so a damaged or forged
//! journal can never make a restore write outside these files.
//!
//! A journal written for one root refuses to be used with another.
//! Updates are atomic (write to a temporary file, fsync, rename, fsync the
//! directory) and serialised between processes with `flock(2)` on `lock`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const HEADER: &str = "# libvirt-power original state v2";
/// The header of version 1, read (its keys are a subset of version 2's);
/// a journal is written back as version 2.
const HEADER_V1: &str = "# libvirt-power original state v1";
/// The prefix of a RAPL key by zone name.
pub const RAPL_KEY_PREFIX: &str = "rapl:";
/// The directory of version 1's RAPL keys (powercap class links).
const POWERCAP_DIR: &str = "class/powercap";

/// What a journal key names, checked ([`Key::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A cpufreq, intel_pstate or amd_pstate file, by its path relative to
    /// the sysfs root.
    Path(String),
    /// A RAPL zone's file, by the zone's key (its name, `parent/name` for
    /// a subzone, with the control type's prefix).
    Rapl {
        /// The zone key (`package-0`, `package-0/dram`, `tpmi:package-1`).
        zone: String,
        /// `enabled`, `constraint_K_power_limit_uw`, `constraint_K_time_window_us`.
        file: String,
    },
    /// A RAPL zone's file by its index path (version 1 journals).
    RaplIndex {
        /// The zone's directory relative to the root
        /// (`class/powercap/intel-rapl:0:1`).
        dir: String,
        /// As for [`Key::Rapl`].
        file: String,
    },
}

fn is_attr(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A zone name as the kernel makes them (`package-0-die-1`, `dram`,
/// `psys-1`): letters, digits, `-` and `_`, starting with a letter.
fn is_zone_name(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_rapl_file(s: &str) -> bool {
    s == "enabled"
        || ["_power_limit_uw", "_time_window_us"].iter().any(|suffix| {
            s.strip_prefix("constraint_")
                .and_then(|r| r.strip_suffix(suffix))
                .is_some_and(is_number)
        })
}

/// A RAPL zone key: `[mmio:|tpmi:]name[/name]`.
pub fn is_zone_key(s: &str) -> bool {
    let bare = s
        .strip_prefix("mmio:")
        .or_else(|| s.strip_prefix("tpmi:"))
        .unwrap_or(s);
    let parts: Vec<&str> = bare.split('/').collect();
    (1..=2).contains(&parts.len()) && parts.iter().all(|p| is_zone_name(p))
}

impl Key {
    /// Checks a key read from a journal; the error says which forms are
    /// accepted.
    pub fn parse(key: &str) -> std::result::Result<Key, String> {
        let refuse = || {
            format!(
                "'{key}' is not a knob this library records (expected \
                 devices/system/cpu/cpufreq/policyN/<attr>, \
                 devices/system/cpu/cpufreq/boost, \
                 devices/system/cpu/{{intel_pstate,amd_pstate}}/<attr>, \
                 rapl:<zone>/<file> or class/powercap/<type>:N[:M]/<file>)"
            )
        };
        if let Some(rest) = key.strip_prefix(RAPL_KEY_PREFIX) {
            let (zone, file) = rest.rsplit_once('/').ok_or_else(refuse)?;
            if !is_zone_key(zone) || !is_rapl_file(file) {
                return Err(refuse());
            }
            return Ok(Key::Rapl {
                zone: zone.to_owned(),
                file: file.to_owned(),
            });
        }
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            ["class", "powercap", entry, file] => {
                let (ctype, idx) = entry.split_once(':').ok_or_else(refuse)?;
                let ctype_ok =
                    !ctype.is_empty() && ctype.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                if !ctype_ok || !idx.split(':').all(is_number) || !is_rapl_file(file) {
                    return Err(refuse());
                }
                Ok(Key::RaplIndex {
                    dir: format!("{POWERCAP_DIR}/{entry}"),
                    file: (*file).to_owned(),
                })
            }
            ["devices", "system", "cpu", "cpufreq", policy, attr]
                if policy.strip_prefix("policy").is_some_and(is_number) && is_attr(attr) =>
            {
                Ok(Key::Path(key.to_owned()))
            }
            ["devices", "system", "cpu", "cpufreq", "boost"] => Ok(Key::Path(key.to_owned())),
            [
                "devices",
                "system",
                "cpu",
                "intel_pstate" | "amd_pstate",
                attr,
            ] if is_attr(attr) => Ok(Key::Path(key.to_owned())),
            _ => Err(refuse()),
        }
    }

    /// The key of a RAPL zone's file.
    pub fn rapl(zone: &str, file: &str) -> String {
        format!("{RAPL_KEY_PREFIX}{zone}/{file}")
    }
}

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
        self.flock(libc::LOCK_EX)?
            .ok_or_else(|| unreachable_would_block(&self.dir))
    }

    /// The inter-process lock if it is free now, `None` if another holder
    /// has it (for tests that interleave a restore and a set).
    #[cfg(test)]
    pub fn try_lock(&self) -> Result<Option<JournalLock>> {
        self.flock(libc::LOCK_EX | libc::LOCK_NB)
    }

    /// `flock(op)` on the lock file: `None` when `op` has `LOCK_NB` and
    /// another holder has it.
    fn flock(&self, op: libc::c_int) -> Result<Option<JournalLock>> {
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
        // SAFETY: flock on an fd we own; it blocks unless `op` has
        // LOCK_NB.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) && op & libc::LOCK_NB != 0 {
                return Ok(None);
            }
            return Err(Error::Journal {
                path,
                reason: e.to_string(),
            });
        }
        Ok(Some(JournalLock { file }))
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
        if !matches!(lines.next(), Some(HEADER | HEADER_V1)) {
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
            // `lines` takes "\r\n" as a line end but keeps a '\r' before
            // the end of the file: drop it too, so that what `store` writes
            // back ("v\n") loads as the same value.
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (k, v) = line
                .split_once('\t')
                .ok_or_else(|| bad(format!("line {} is not 'key<TAB>value'", n + 3)))?;
            if let Err(why) = Key::parse(k) {
                return Err(bad(format!(
                    "line {}: {why}; the journal is refused as a whole, nothing was \
                     written: check the entry, then fix or remove that line",
                    n + 3
                )));
            }
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
            if let Err(why) = Key::parse(k) {
                return Err(Error::Journal {
                    path: path.clone(),
                    reason: format!("cannot record {why}"),
                });
            }
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

    /// Records originals (key, value) of knobs not yet in the journal;
    /// returns how many were new. The caller holds the lock.
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

/// A blocking `flock` never answers EWOULDBLOCK; should it, say so.
fn unreachable_would_block(dir: &Path) -> Error {
    Error::Journal {
        path: dir.join("lock"),
        reason: "a blocking flock returned EWOULDBLOCK".into(),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_form_parse() {
        for (k, want) in [
            (
                "devices/system/cpu/cpufreq/policy12/scaling_governor",
                Key::Path("devices/system/cpu/cpufreq/policy12/scaling_governor".into()),
            ),
            (
                "devices/system/cpu/cpufreq/boost",
                Key::Path("devices/system/cpu/cpufreq/boost".into()),
            ),
            (
                "devices/system/cpu/intel_pstate/no_turbo",
                Key::Path("devices/system/cpu/intel_pstate/no_turbo".into()),
            ),
            (
                "rapl:package-0-die-1/constraint_0_power_limit_uw",
                Key::Rapl {
                    zone: "package-0-die-1".into(),
                    file: "constraint_0_power_limit_uw".into(),
                },
            ),
            (
                "rapl:tpmi:package-1/dram/enabled",
                Key::Rapl {
                    zone: "tpmi:package-1/dram".into(),
                    file: "enabled".into(),
                },
            ),
            (
                "class/powercap/intel-rapl:0:1/constraint_1_time_window_us",
                Key::RaplIndex {
                    dir: "class/powercap/intel-rapl:0:1".into(),
                    file: "constraint_1_time_window_us".into(),
                },
            ),
        ] {
            assert_eq!(Key::parse(k), Ok(want), "{k}");
        }
    }

    #[test]
    fn keys_outside_the_forms_are_refused() {
        for k in [
            "",
            "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor",
            "../x",
            "devices/system/cpu/cpufreq/policy0/../../../../x",
            "devices/system/cpu/cpufreq/policy0/..",
            "devices/system/cpu/cpufreq/policyx/scaling_governor",
            "devices/system/cpu/cpu0/online",
            "devices/system/cpu/intel_pstate/../../x",
            "class/powercap/intel-rapl:0/name",
            "class/powercap/intel-rapl:0/../intel-rapl:1/enabled",
            "class/powercap/../x:0/enabled",
            "rapl:package-0/name",
            "rapl:../package-0/enabled",
            "rapl:package-0/../../enabled",
            "rapl:a/b/c/enabled",
            "rapl:/enabled",
            "rapl:mmio:tpmi:package-0/enabled",
            "rapl:package-0/constraint_x_power_limit_uw",
        ] {
            let e = Key::parse(k).unwrap_err();
            assert!(e.contains(&format!("'{k}'")), "{e}");
        }
    }

    #[test]
    fn a_bad_key_refuses_the_journal_naming_file_line_and_key() {
        let t = crate::testutil::TempDir::new("journal-bad-key");
        let root = Path::new("/sys");
        let j = Journal::open(t.path(), root).unwrap();
        fs::write(
            j.path(),
            "# libvirt-power original state v2\nroot\t/sys\n\
             devices/system/cpu/cpufreq/boost\t1\n../../etc/shadow\tx\n",
        )
        .unwrap();
        let e = j.load().unwrap_err().to_string();
        assert!(e.contains("original-state"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("'../../etc/shadow'"), "{e}");
    }
}
