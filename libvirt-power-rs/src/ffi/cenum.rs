// SPDX-License-Identifier: LGPL-2.1-or-later
//! The trait of C enums that cross the ABI as numbers (the result codes,
//! knob classes, weights). It names no other part of the ABI, so the
//! result enum and the argument checks can both build on it.

use std::fmt::Debug;

/// A C enum that crosses the ABI as a `uint32_t`. C can pass any number,
/// so an export takes the number and converts it with [`enum_arg`]: a value
/// outside the enum is an error, never a Rust enum with an invalid
/// discriminant (undefined behaviour).
pub(super) trait CEnum: Copy + Debug + 'static {
    /// What a value is, for messages ("knob class").
    const WHAT: &'static str;
    /// Every value.
    const ALL: &'static [Self];
    /// The number C sees.
    fn to_u32(self) -> u32;
    /// The value numbered `v`, if there is one.
    fn from_u32(v: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.to_u32() == v)
    }
}
