// SPDX-License-Identifier: LGPL-2.1-or-later
//! Harness of the end-to-end tests: the core crate's tree helpers
//! (`common`: TempDir, sim_host, tree, tree_hash, diff) and private
//! libvirt daemons on simulated hosts (`daemon`).
#![allow(dead_code)]

#[path = "../../libvirt-power-rs/tests/common/mod.rs"]
pub mod common;
pub mod daemon;
pub mod guests;
