// SPDX-License-Identifier: LGPL-2.1-or-later
//! One module per decoder.

pub mod accounting;
pub mod cpulist;
pub mod journal;
pub mod units;
pub mod xdr;

/// A fresh directory for a target's files, in `/dev/shm` when there is one
/// (the journal and state-file targets write a file per input); removed
/// on drop.
pub(crate) struct Scratch(pub std::path::PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("virt-power-fuzz-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
