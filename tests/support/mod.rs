// SPDX-License-Identifier: LGPL-2.1-or-later
//! Harness of the root package's integration tests: the `virt-power`
//! binary (`cmd`: vp, text), the core crate's tree helpers (`common`:
//! TempDir, sim_host, tree, tree_hash, diff), simulated trees mounted
//! through FUSE (`fuse`), child processes (`process`), private libvirt
//! daemons on simulated hosts (`daemon`), the node power calls of the
//! libvirt C API (`node_api`), TLS certificates (`pki`), a private sshd
//! (`sshd`) and guests (`guests`).
#![allow(dead_code)]

pub mod cmd;
#[path = "../../libvirt-power-rs/tests/common/mod.rs"]
pub mod common;
pub mod daemon;
pub mod fuse;
pub mod guests;
pub mod node_api;
pub mod pki;
pub mod process;
pub mod sshd;
