// SPDX-License-Identifier: LGPL-2.1-or-later
//! Access to a sysfs tree through a root given at construction.
//!
//! Production uses `/sys`; tests, demos and libvirt's test driver use a
//! simulated tree (see [`crate::sim`]). Every path in this crate is relative
//! to the root, e.g. `devices/system/cpu/online`.
//!
//! Writes follow the kernel's rules for sysfs attributes: the whole value in
//! one `write(2)` (a short write is an error), the file opened without
//! `O_CREAT` so a missing knob is reported as unsupported instead of being
//! created, and with `O_TRUNC` so a plain-file tree holds exactly what was
//! written (sysfs ignores the truncation).
//!
//! A tree of plain files cannot answer an errno the way a kernel attribute
//! does (`EBUSY` from an inactive cpufreq policy). A root may carry an
//! [`AttrGate`] that answers for it before the file is touched; the
//! simulator installs one on its own trees (`sim::tree::gate`), a root made
//! with [`SysfsRoot::new`] has none.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Environment variable that names the sysfs root when the caller asks for
/// the environment's choice.
pub const SYSFS_ROOT_ENV: &str = "LIBVIRT_POWER_SYSFS_ROOT";

/// Largest attribute the library reads (sysfs attributes are one page).
const MAX_ATTR_BYTES: u64 = 64 * 1024;

/// What a tree answers for an attribute instead of its file: the errno a
/// kernel would give for a read or write of `rel` (relative to the root)
/// in the tree's current state, or `None` to go to the file.
pub trait AttrGate: Send + Sync + fmt::Debug {
    /// The error for a read (`write` false) or write of `rel`, if any.
    fn refuse(&self, rel: &str, write: bool) -> Option<io::Error>;

    /// Stores a write of `value` to `rel` itself, as a kernel would (its
    /// errno, or what the kernel keeps), or `None` to write the file as
    /// given. The simulator's plain-tree gate writes the files as given;
    /// a test can install one that applies the kernel's rules.
    fn store(&self, _rel: &str, _value: &str) -> Option<io::Result<()>> {
        None
    }
}

/// A sysfs tree.
#[derive(Debug, Clone)]
pub struct SysfsRoot {
    root: PathBuf,
    gate: Option<Arc<dyn AttrGate>>,
}

impl PartialEq for SysfsRoot {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root && self.gate.is_some() == other.gate.is_some()
    }
}

impl Eq for SysfsRoot {}

impl SysfsRoot {
    /// A tree rooted at `root` (`/sys` on a real host).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysfsRoot {
            root: root.into(),
            gate: None,
        }
    }

    /// This tree with `gate` answering before its files.
    pub fn with_gate(mut self, gate: Arc<dyn AttrGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Whether a gate answers before the files.
    pub fn is_gated(&self) -> bool {
        self.gate.is_some()
    }

    fn gated(&self, rel: &str, value: Option<&str>) -> Result<()> {
        match self
            .gate
            .as_ref()
            .and_then(|g| g.refuse(rel, value.is_some()))
        {
            Some(e) => Err(Error::from_io(self.path(rel), value, e)),
            None => Ok(()),
        }
    }

    /// The tree the environment chooses: `$LIBVIRT_POWER_SYSFS_ROOT` if set
    /// and not empty, else `/sys`.
    pub fn from_env() -> Self {
        match std::env::var_os(SYSFS_ROOT_ENV) {
            Some(v) if !v.is_empty() => SysfsRoot::new(PathBuf::from(v)),
            _ => SysfsRoot::new("/sys"),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of `rel`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Whether `rel` exists.
    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Reads an attribute, without its trailing newline.
    pub fn read(&self, rel: &str) -> Result<String> {
        self.gated(rel, None)?;
        let path = self.path(rel);
        read_attr(&path)
    }

    /// Reads an attribute, `None` if the file does not exist.
    pub fn read_opt(&self, rel: &str) -> Result<Option<String>> {
        match self.read(rel) {
            Ok(v) => Ok(Some(v)),
            Err(Error::Unsupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads a decimal unsigned attribute.
    pub fn read_u64(&self, rel: &str) -> Result<u64> {
        let s = self.read(rel)?;
        parse_u64(&self.path(rel), &s)
    }

    /// Reads a decimal unsigned attribute, `None` if the file is absent.
    pub fn read_u64_opt(&self, rel: &str) -> Result<Option<u64>> {
        match self.read_opt(rel)? {
            Some(s) => parse_u64(&self.path(rel), &s).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `value` to an attribute in a single `write(2)`.
    pub fn write(&self, rel: &str, value: &str) -> Result<()> {
        self.gated(rel, Some(value))?;
        let path = self.path(rel);
        // A missing file is left to `write_attr`, which reports it.
        if let Some(gate) = &self.gate
            && path.is_file()
            && let Some(r) = gate.store(rel, value)
        {
            return r.map_err(|e| Error::from_io(path, Some(value), e));
        }
        write_attr(&path, value)
    }

    /// Names of the entries of a directory, sorted; empty if it is absent.
    pub fn list(&self, rel: &str) -> Result<Vec<String>> {
        let path = self.path(rel);
        let rd = match fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::from_io(path, None, e)),
        };
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::from_io(path.clone(), None, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort_by(|a, b| natural_cmp(a, b));
        Ok(names)
    }
}

/// Reads a sysfs attribute at an absolute path.
pub fn read_attr(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::from_io(path.to_owned(), None, e))?;
    let mut buf = String::new();
    file.take(MAX_ATTR_BYTES)
        .read_to_string(&mut buf)
        .map_err(|e| Error::from_io(path.to_owned(), None, e))?;
    Ok(buf.trim_end_matches('\n').to_owned())
}

/// Writes a sysfs attribute at an absolute path in one `write(2)`.
pub fn write_attr(path: &Path, value: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::from_io(path.to_owned(), Some(value), e))?;
    let line = format!("{value}\n");
    let n = file
        .write(line.as_bytes())
        .map_err(|e| Error::from_io(path.to_owned(), Some(value), e))?;
    if n != line.len() {
        return Err(Error::Io {
            path: path.to_owned(),
            source: io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {} bytes", line.len()),
            ),
        });
    }
    Ok(())
}

/// Parses a decimal unsigned value read from `path`.
pub fn parse_u64(path: &Path, s: &str) -> Result<u64> {
    s.trim().parse::<u64>().map_err(|e| Error::Parse {
        path: path.to_owned(),
        content: crate::error::shorten(s),
        reason: e.to_string(),
    })
}

/// Compares names so that `cpu2` sorts before `cpu10`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let split = |s: &str| {
        let idx = s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (head, tail) = s.split_at(idx);
        (head.to_owned(), tail.parse::<u64>().ok())
    };
    let (ha, na) = split(a);
    let (hb, nb) = split(b);
    ha.cmp(&hb).then(na.cmp(&nb)).then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["cpu10", "cpu2", "cpu1", "cpufreq", "policy0"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["cpu1", "cpu2", "cpu10", "cpufreq", "policy0"]);
    }

    #[test]
    fn missing_file_is_unsupported_and_not_created() {
        let dir = crate::testutil::TempDir::new("sysfs-missing");
        let root = SysfsRoot::new(dir.path());
        assert!(matches!(root.read("nope"), Err(Error::Unsupported { .. })));
        assert!(matches!(
            root.write("nope", "1"),
            Err(Error::Unsupported { .. })
        ));
        assert!(!dir.path().join("nope").exists());
        assert_eq!(root.read_opt("nope").unwrap(), None);
    }

    #[test]
    fn write_truncates_and_reads_back() {
        let dir = crate::testutil::TempDir::new("sysfs-write");
        fs::write(dir.path().join("f"), "2400000\n").unwrap();
        let root = SysfsRoot::new(dir.path());
        root.write("f", "800000").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("f")).unwrap(),
            "800000\n"
        );
        assert_eq!(root.read_u64("f").unwrap(), 800000);
    }

    #[test]
    fn errno_classes() {
        let p = PathBuf::from("/x");
        let e = |n| Error::from_io(p.clone(), Some("v"), io::Error::from_raw_os_error(n));
        assert!(matches!(e(libc::EINVAL), Error::KernelRejected { .. }));
        assert!(matches!(e(libc::EACCES), Error::Locked { .. }));
        assert!(matches!(e(libc::EPERM), Error::NotPermitted { .. }));
        assert!(matches!(e(libc::EAGAIN), Error::TryAgain { .. }));
        assert!(matches!(e(libc::EBUSY), Error::Busy { .. }));
        assert!(matches!(e(libc::ENOENT), Error::Unsupported { .. }));
        assert!(matches!(e(libc::EIO), Error::Io { .. }));
    }

    #[test]
    fn a_gate_answers_before_the_file() {
        #[derive(Debug)]
        struct Busy;
        impl AttrGate for Busy {
            fn refuse(&self, rel: &str, _write: bool) -> Option<io::Error> {
                (rel == "busy").then(|| io::Error::from_raw_os_error(libc::EBUSY))
            }
        }
        let dir = crate::testutil::TempDir::new("sysfs-gate");
        fs::write(dir.path().join("busy"), "1\n").unwrap();
        fs::write(dir.path().join("free"), "2\n").unwrap();
        let plain = SysfsRoot::new(dir.path());
        let gated = plain.clone().with_gate(Arc::new(Busy));
        assert_eq!(plain.read("busy").unwrap(), "1");
        assert!(matches!(gated.read("busy"), Err(Error::Busy { .. })));
        assert!(matches!(gated.read_opt("busy"), Err(Error::Busy { .. })));
        assert!(matches!(gated.write("busy", "3"), Err(Error::Busy { .. })));
        assert_eq!(fs::read_to_string(dir.path().join("busy")).unwrap(), "1\n");
        assert_eq!(gated.read_u64("free").unwrap(), 2);
        assert!(gated.is_gated() && !plain.is_gated());
        assert_ne!(plain, gated);
    }

    #[test]
    fn parse_errors_name_the_file() {
        let dir = crate::testutil::TempDir::new("sysfs-parse");
        fs::write(dir.path().join("f"), "<unsupported>\n").unwrap();
        let root = SysfsRoot::new(dir.path());
        let err = root.read_u64("f").unwrap_err().to_string();
        assert!(err.contains("/f") && err.contains("<unsupported>"), "{err}");
    }
}
