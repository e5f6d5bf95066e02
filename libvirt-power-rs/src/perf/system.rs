// SPDX-License-Identifier: LGPL-2.1-or-later
//! System-wide CPU cycles per CPU: [`SystemCycles`] opens one hardware
//! cycles counter per CPU (`pid = -1`, `cpu = N`: everything that runs on
//! that CPU, the host's own work and every VM's), the cycles-mode
//! denominator of the energy split. Needs a cycles PMU and, for `pid = -1`,
//! `CAP_PERFMON` (or `perf_event_paranoid <= 0`); the daemon runs as root.
//! Counts are scaled by `time_enabled / time_running` when the PMU
//! multiplexes, and each CPU's value never decreases.

use std::collections::BTreeMap;
use std::fmt;

use perf_event_open::config::{Cpu, Proc};
use perf_event_open::count::Counter;
use perf_event_open::event::hw::Hardware;

use super::process::{counting_opts, scale_count};
use super::{PerfError, PerfTarget, open_error};

/// One cycles counter per CPU, counting everything on it.
pub struct SystemCycles {
    counters: Vec<(u32, Counter, u64)>,
}

impl fmt::Debug for SystemCycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SystemCycles")
            .field(
                "cpus",
                &self.counters.iter().map(|c| c.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SystemCycles {
    /// Opens a counter on each of `cpus`.
    pub fn open(cpus: impl IntoIterator<Item = u32>) -> Result<SystemCycles, PerfError> {
        let opts = counting_opts();
        let mut counters = Vec::new();
        for cpu in cpus {
            let counter = Counter::new(Hardware::CpuCycle, (Cpu(cpu), Proc::ALL), &opts)
                .map_err(|e| open_error(e, "cycles", PerfTarget::Cpu { cpu }))?;
            counters.push((cpu, counter, 0));
        }
        Ok(SystemCycles { counters })
    }

    /// Cumulative cycles per CPU.
    pub fn read(&mut self) -> Result<BTreeMap<u32, u64>, PerfError> {
        let mut out = BTreeMap::new();
        for (cpu, counter, last) in &mut self.counters {
            let stat = counter.stat().map_err(|source| PerfError::Io {
                event: "cycles".to_owned(),
                target: PerfTarget::Cpu { cpu: *cpu },
                source,
            })?;
            let scaled = scale_count(
                stat.count,
                stat.time_enabled.unwrap_or(0),
                stat.time_running.unwrap_or(0),
            );
            *last = (*last).max(scaled);
            out.insert(*cpu, *last);
        }
        Ok(out)
    }

    /// perf file descriptors held (one per CPU).
    pub fn fd_count(&self) -> usize {
        self.counters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_or_says_why() {
        // These machines have no cycles PMU; a real host has one.
        match SystemCycles::open([0]) {
            Ok(mut c) => {
                assert_eq!(c.fd_count(), 1);
                let a = c.read().unwrap()[&0];
                let b = c.read().unwrap()[&0];
                assert!(b >= a);
            }
            Err(e) => {
                println!("skipped: no system-wide cycles counter here: {e}");
                assert!(
                    matches!(
                        e,
                        PerfError::NotSupported { .. } | PerfError::Permission { .. }
                    ),
                    "{e}"
                );
            }
        }
    }
}
