// SPDX-License-Identifier: LGPL-2.1-or-later
//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use libvirt_power::sim::{self, SimSpec};

// The one TempDir of the workspace's tests: the crate's unit tests use
// this file as `crate::testutil`, the integration tests include it here.
#[path = "../../src/testutil.rs"]
mod testutil;
pub use testutil::TempDir;

/// A simulated host of a preset in a fresh directory: (guard, sysfs root,
/// state dir).
pub fn sim_host(preset: &str) -> (TempDir, PathBuf, PathBuf) {
    let spec = SimSpec::preset(preset, Some(16)).unwrap();
    sim_spec_host(&spec)
}

pub fn sim_spec_host(spec: &SimSpec) -> (TempDir, PathBuf, PathBuf) {
    let t = TempDir::new(&spec.name);
    let root = t.path().join("sys");
    sim::generate(&root, spec).unwrap();
    let state = t.path().join("state");
    (t, root, state)
}

/// Every entry of a tree: path -> (kind, mode, content or link target).
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let md = fs::symlink_metadata(&p).unwrap();
            let mode = md.permissions().mode() & 0o7777;
            if md.file_type().is_symlink() {
                out.insert(
                    rel,
                    format!("link {}", fs::read_link(&p).unwrap().display()),
                );
            } else if md.is_dir() {
                out.insert(rel.clone(), format!("dir {mode:o}"));
                walk(root, &p, out);
            } else {
                out.insert(rel, format!("file {mode:o} {:?}", fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// FNV-1a over the whole tree listing.
pub fn tree_hash(root: &Path) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for (k, v) in tree(root) {
        for b in k.bytes().chain([0]).chain(v.bytes()).chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// Paths whose entries differ between two listings.
pub fn diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| a.get(k) != b.get(k)).collect()
}

/// Runs `f` on a fresh thread whose effective capabilities lack
/// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so that a 0444 file gives
/// EACCES on write even to root, as the kernel's own read-only files do.
/// Capabilities are per thread; the rest of the process is untouched.
pub fn without_dac_override<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let mut hdr = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let mut data = [Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        }; 2];
        // SAFETY: capget with a valid header and a 2-element data array as
        // _LINUX_CAPABILITY_VERSION_3 requires.
        let rc =
            unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr()) };
        assert_eq!(rc, 0, "capget");
        // CAP_DAC_OVERRIDE is 1, CAP_DAC_READ_SEARCH is 2.
        data[0].effective &= !((1 << 1) | (1 << 2));
        // SAFETY: capset on the calling thread only (pid 0), same layout.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) };
        assert_eq!(rc, 0, "capset");
        f()
    })
    .join()
    .unwrap()
}
