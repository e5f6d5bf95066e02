// SPDX-License-Identifier: LGPL-2.1-or-later
//! Which Rust value each opaque handle holds, after rustls-ffi's
//! `Castable`.
//!
//! A handle given to C is a `Box` of its [`Castable::RustType`], cast to a
//! pointer to the opaque `lvp_*` struct. The helpers below take only the
//! handle type and find the Rust type through the trait, so a handle cannot
//! be boxed, borrowed or freed as any other Rust type: a wrong pairing does
//! not compile.

use super::args::null;
use super::result::lvp_result;

/// Binds an opaque handle type to the one Rust type behind it.
pub(super) trait Castable {
    /// The value the handle points to. Handles are used from several
    /// threads at once, so it must be `Sync` (and `Send`, to be freed on
    /// any thread).
    type RustType: Send + Sync;
    /// The handle's argument name, for messages ("host is NULL").
    const NAME: &'static str;
}

/// Moves `value` to the heap and gives it as a handle, to be freed with
/// [`free_box`].
pub(super) fn to_boxed_mut_ptr<C: Castable>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast::<C>()
}

/// Stores a new handle holding `value` in `*out`.
///
/// # Safety
/// `out` is non-NULL and valid for a write.
pub(super) unsafe fn set_boxed_mut_ptr<C: Castable>(out: *mut *mut C, value: C::RustType) {
    // SAFETY: out is valid for a write per the contract; the handle is
    // freed by free_box::<C>.
    unsafe { *out = to_boxed_mut_ptr(value) };
}

/// Borrows the value behind a handle; NULL gives
/// `LVP_RESULT_NULL_PARAMETER`.
///
/// # Safety
/// `p` is NULL or a live handle from [`to_boxed_mut_ptr`] of the same `C`.
pub(super) unsafe fn try_ref_from_ptr<'a, C: Castable>(
    p: *const C,
) -> Result<&'a C::RustType, lvp_result> {
    // SAFETY: per the contract p is NULL or points to a live
    // C::RustType, boxed by to_boxed_mut_ptr::<C>.
    unsafe { p.cast::<C::RustType>().as_ref() }.ok_or_else(|| null(C::NAME))
}

/// Frees a handle made by [`to_boxed_mut_ptr`]; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a handle from [`to_boxed_mut_ptr`] of the same `C`, not
/// used afterwards.
pub(super) unsafe fn free_box<C: Castable>(p: *mut C) {
    if !p.is_null() {
        // SAFETY: p came from Box::into_raw of a C::RustType (contract)
        // and is not used again.
        drop(unsafe { Box::from_raw(p.cast::<C::RustType>()) });
    }
}
