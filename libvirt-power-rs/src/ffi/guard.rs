// SPDX-License-Identifier: LGPL-2.1-or-later
//! The panic boundary every export goes through, and the message of the
//! last failure on each thread.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Error;

use super::result::lvp_result;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(msg: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = msg);
}

/// The message of the last failure on this thread (empty if none).
pub(super) fn last_error() -> String {
    LAST_ERROR.with(|e| e.borrow().clone())
}

/// The panic boundary every export goes through.
pub(super) fn guard(f: impl FnOnce() -> Result<(), lvp_result>) -> lvp_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => lvp_result::LVP_RESULT_OK,
        Ok(Err(code)) => code,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(format!("internal error in libvirt-power: {what}"));
            lvp_result::LVP_RESULT_PANIC
        }
    }
}

/// Records `msg` as this thread's last error and gives `code`.
pub(super) fn fail(code: lvp_result, msg: impl Into<String>) -> lvp_result {
    set_last_error(msg.into());
    code
}

/// Records a library error as this thread's last error and gives its
/// code.
pub(super) fn lib_err(e: Error) -> lvp_result {
    fail(lvp_result::from(&e), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_stop_at_the_boundary() {
        let rc = guard(|| panic!("boom"));
        assert_eq!(rc, lvp_result::LVP_RESULT_PANIC);
        assert!(last_error().contains("boom"), "{}", last_error());
        assert_eq!(guard(|| Ok(())), lvp_result::LVP_RESULT_OK);
    }

    #[test]
    fn library_errors_keep_their_message_and_code() {
        let rc = lib_err(Error::invalid("governor", "warp", "one of: performance"));
        assert_eq!(rc, lvp_result::LVP_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "invalid governor 'warp': one of: performance");
    }
}
