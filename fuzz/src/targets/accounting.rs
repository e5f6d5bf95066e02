// SPDX-License-Identifier: LGPL-2.1-or-later
//! `accounting-state`: the accountant's state-file reader
//! (`Accountant::set_state_file`, which loads the file) on arbitrary file
//! contents, and its writer (the save at the end of `Accountant::tick`) on
//! what the reader accepted.
//!
//! The accountant has no RAPL zone (an empty sysfs tree) and no domain,
//! so a tick writes back the tick count and the saved domains, the lines a
//! restarted daemon resumes from. Properties: no panic; an accepted file
//! survives a tick; what the tick wrote is accepted by a fresh
//! accountant, whose tick writes the same domain lines again. The tick
//! count of 2^64 - 1 that once overflowed at the next tick is kept in
//! `fuzz/regressions/accounting-state/`.

use libvirt_power::accounting::Accountant;
use libvirt_power::perf::WeightKind;
use libvirt_power::procfs::ProcfsRoot;
use libvirt_power::sysfs::SysfsRoot;
use libvirt_power::weights::{CpuPackages, DomainWeight, PackageWeights, WeightSource};
use libvirt_power::{Error, Result};

use super::Scratch;
use crate::{Outcome, Runner, Target};

/// The target.
pub fn target() -> Target {
    Target {
        name: "accounting-state",
        about: "Accountant::set_state_file on arbitrary file contents; tick writes back what it read",
        dict: &[
            b"libvirt-power-accounting 2\n",
            b"libvirt-power-accounting 1\n",
            b"tick ",
            b"zone package-0 ",
            b"domain ",
            b"=",
            b":",
            b" ",
            b"\n",
            b"\r\n",
            b"18446744073709551615",
            b"2147483647",
            b"2147483648",
        ],
        max_len: 2048,
        seeds,
        setup,
    }
}

/// A weight source that opens nothing: the accountant never adds a
/// domain here.
#[derive(Debug)]
struct NoWeights;

impl WeightSource for NoWeights {
    fn kind(&self) -> WeightKind {
        WeightKind::CpuTimeNs
    }
    fn open(&mut self, pid: i32) -> Result<Box<dyn DomainWeight>> {
        Err(Error::invalid(
            "pid",
            pid.to_string(),
            "no domain in this target",
        ))
    }
    fn host(&mut self, _: &CpuPackages, _: &PackageWeights) -> Result<Option<PackageWeights>> {
        Ok(None)
    }
}

fn setup() -> Runner {
    let scratch = Scratch::new("accounting");
    let sysfs_dir = scratch.0.join("sys");
    let procfs_dir = scratch.0.join("proc");
    std::fs::create_dir_all(&sysfs_dir).expect("create the empty sysfs tree");
    std::fs::create_dir_all(&procfs_dir).expect("create the empty procfs tree");
    let sysfs = SysfsRoot::new(&sysfs_dir);
    let procfs = ProcfsRoot::new(&procfs_dir);
    let file = scratch.0.join("state");
    let fresh = move || {
        Accountant::with_source(&sysfs, &procfs, Box::new(NoWeights))
            .expect("an accountant over an empty tree")
    };
    Box::new(move |data: &[u8]| {
        let _keep = &scratch;
        std::fs::write(&file, data).expect("write the state file");
        let mut acc = fresh();
        if acc.set_state_file(&file).is_err() {
            return Outcome::Refused;
        }
        acc.tick().expect("a tick after an accepted state file");
        let written = std::fs::read_to_string(&file).expect("read the saved state");
        let mut again = fresh();
        again.set_state_file(&file).unwrap_or_else(|e| {
            panic!("the accountant refuses the state it wrote: {e}\n{written}")
        });
        again.tick().expect("a second tick");
        let rewritten = std::fs::read_to_string(&file).expect("read the state saved again");
        let domains = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.starts_with("domain "))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            domains(&rewritten),
            domains(&written),
            "the domain lines changed between two saves"
        );
        assert_eq!(
            again.ticks(),
            acc.ticks().saturating_add(1),
            "the tick count did not carry over"
        );
        Outcome::Accepted
    })
}

fn seeds() -> Vec<Vec<u8>> {
    vec![
        b"libvirt-power-accounting 2\ntick 12\n\
zone package-0 1000000 400000 50000 200000\n\
zone package-0/dram 300000 100000 0 90000\n\
domain vm-a 4242 987654 package-0=300000:20000 package-0/dram=100000:0\n\
domain vm-b 4343 987700 package-0=250000:1000\n"
            .to_vec(),
        b"libvirt-power-accounting 1\ntick 3\n\
zone psys 500 100 0\n\
domain 1a2b 77 1000 psys=400\n"
            .to_vec(),
        b"libvirt-power-accounting 2\n".to_vec(),
    ]
}
