// SPDX-License-Identifier: LGPL-2.1-or-later
//! cargo-fuzz entry of the `xdr` target (docs/fuzzing.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| virt_power_fuzz::run_target("xdr", data));
