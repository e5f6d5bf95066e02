// SPDX-License-Identifier: LGPL-2.1-or-later
//! The `virt-power` binary of this build, run by the tests.

use std::process::{Command, Output};

/// `virt-power` as a command to add arguments to.
pub fn vp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_virt-power"))
}

/// What a finished command printed: its stdout, then its stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
