// SPDX-License-Identifier: LGPL-2.1-or-later
//! The result codes of the C ABI, in one place: the enum, the generic
//! description of each code, the checked conversion from a raw number, and
//! the mapping from the crate's errors ([`Error`], [`PerfError`]) to codes.

use crate::error::Error;
use crate::perf::PerfError;

use super::cenum::CEnum;

/// Result codes. Values are stable and never renumbered.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum lvp_result {
    /// Success.
    LVP_RESULT_OK = 0,
    /// A required pointer argument was NULL.
    LVP_RESULT_NULL_PARAMETER = 7001,
    /// The library panicked; the operation did not complete (state was
    /// rolled back where a write had begun).
    LVP_RESULT_PANIC = 7002,
    /// A string argument is not UTF-8.
    LVP_RESULT_INVALID_UTF8 = 7003,
    /// An index is past the end.
    LVP_RESULT_OUT_OF_RANGE = 7004,
    /// The caller's buffer was too small; the text was truncated.
    LVP_RESULT_BUFFER_TOO_SMALL = 7005,
    /// Unknown bits in a flags argument.
    LVP_RESULT_INVALID_FLAGS = 7006,
    /// The host does not offer this knob (file absent).
    LVP_RESULT_UNSUPPORTED = 7100,
    /// The kernel rejected the value (EINVAL).
    LVP_RESULT_KERNEL_REJECTED = 7101,
    /// Access denied (EACCES): a firmware-locked RAPL zone.
    LVP_RESULT_LOCKED = 7102,
    /// Operation not permitted (EPERM).
    LVP_RESULT_NOT_PERMITTED = 7103,
    /// The driver is not ready (EAGAIN).
    LVP_RESULT_TRY_AGAIN = 7104,
    /// Busy (EBUSY).
    LVP_RESULT_BUSY = 7105,
    /// Other I/O error.
    LVP_RESULT_IO = 7106,
    /// A sysfs file held something unparsable.
    LVP_RESULT_PARSE = 7107,
    /// A value is out of range or malformed; the message names it and the
    /// accepted range.
    LVP_RESULT_INVALID_ARGUMENT = 7108,
    /// Not possible in the host's current state.
    LVP_RESULT_INVALID_STATE = 7109,
    /// A write did not read back.
    LVP_RESULT_NOT_APPLIED = 7110,
    /// The original-state journal failed.
    LVP_RESULT_JOURNAL = 7111,
    /// A change failed and so did its rollback.
    LVP_RESULT_ROLLBACK_FAILED = 7112,
    /// The process to count does not exist (any more).
    LVP_RESULT_NO_SUCH_PROCESS = 7113,
    /// No domain of that id is being accounted.
    LVP_RESULT_NO_SUCH_DOMAIN = 7114,
}

impl lvp_result {
    /// The generic description of the code (`lvp_result_describe`).
    pub fn describe(self) -> &'static str {
        use lvp_result as R;
        match self {
            R::LVP_RESULT_OK => "success",
            R::LVP_RESULT_NULL_PARAMETER => "a required argument was NULL",
            R::LVP_RESULT_PANIC => "internal error (panic) in libvirt-power",
            R::LVP_RESULT_INVALID_UTF8 => "a string argument is not UTF-8",
            R::LVP_RESULT_OUT_OF_RANGE => "index out of range",
            R::LVP_RESULT_BUFFER_TOO_SMALL => "buffer too small",
            R::LVP_RESULT_INVALID_FLAGS => "unsupported flags",
            R::LVP_RESULT_UNSUPPORTED => "not supported on this host",
            R::LVP_RESULT_KERNEL_REJECTED => "the kernel rejected the value",
            R::LVP_RESULT_LOCKED => "access denied: the firmware has locked this setting",
            R::LVP_RESULT_NOT_PERMITTED => "operation not permitted",
            R::LVP_RESULT_TRY_AGAIN => "the driver is not ready, try again",
            R::LVP_RESULT_BUSY => "device or resource busy",
            R::LVP_RESULT_IO => "I/O error",
            R::LVP_RESULT_PARSE => "unparsable sysfs content",
            R::LVP_RESULT_INVALID_ARGUMENT => "invalid argument",
            R::LVP_RESULT_INVALID_STATE => "not possible in the current state",
            R::LVP_RESULT_NOT_APPLIED => "the value did not take effect",
            R::LVP_RESULT_JOURNAL => "original-state journal error",
            R::LVP_RESULT_ROLLBACK_FAILED => "rollback failed",
            R::LVP_RESULT_NO_SUCH_PROCESS => "no such process",
            R::LVP_RESULT_NO_SUCH_DOMAIN => "no such domain",
        }
    }

    /// The code numbered `code`, if there is one (the checked inverse of
    /// `as u32`).
    pub fn from_u32(code: u32) -> Option<lvp_result> {
        <lvp_result as CEnum>::from_u32(code)
    }
}

impl CEnum for lvp_result {
    const WHAT: &'static str = "result code";
    // Every code; the test `every_header_value_converts` checks this list
    // against the header cbindgen generates from the enum above.
    const ALL: &'static [lvp_result] = {
        use lvp_result as R;
        &[
            R::LVP_RESULT_OK,
            R::LVP_RESULT_NULL_PARAMETER,
            R::LVP_RESULT_PANIC,
            R::LVP_RESULT_INVALID_UTF8,
            R::LVP_RESULT_OUT_OF_RANGE,
            R::LVP_RESULT_BUFFER_TOO_SMALL,
            R::LVP_RESULT_INVALID_FLAGS,
            R::LVP_RESULT_UNSUPPORTED,
            R::LVP_RESULT_KERNEL_REJECTED,
            R::LVP_RESULT_LOCKED,
            R::LVP_RESULT_NOT_PERMITTED,
            R::LVP_RESULT_TRY_AGAIN,
            R::LVP_RESULT_BUSY,
            R::LVP_RESULT_IO,
            R::LVP_RESULT_PARSE,
            R::LVP_RESULT_INVALID_ARGUMENT,
            R::LVP_RESULT_INVALID_STATE,
            R::LVP_RESULT_NOT_APPLIED,
            R::LVP_RESULT_JOURNAL,
            R::LVP_RESULT_ROLLBACK_FAILED,
            R::LVP_RESULT_NO_SUCH_PROCESS,
            R::LVP_RESULT_NO_SUCH_DOMAIN,
        ]
    };
    fn to_u32(self) -> u32 {
        self as u32
    }
}

/// The stable code of a library error for the C ABI.
impl From<&Error> for lvp_result {
    fn from(e: &Error) -> lvp_result {
        use lvp_result as R;
        match e {
            Error::Unsupported { .. } => R::LVP_RESULT_UNSUPPORTED,
            Error::KernelRejected { .. } => R::LVP_RESULT_KERNEL_REJECTED,
            Error::Locked { .. } => R::LVP_RESULT_LOCKED,
            Error::NotPermitted { .. } => R::LVP_RESULT_NOT_PERMITTED,
            Error::TryAgain { .. } => R::LVP_RESULT_TRY_AGAIN,
            Error::Busy { .. } => R::LVP_RESULT_BUSY,
            Error::Io { .. } => R::LVP_RESULT_IO,
            Error::Parse { .. } => R::LVP_RESULT_PARSE,
            Error::InvalidArgument { .. } => R::LVP_RESULT_INVALID_ARGUMENT,
            Error::InvalidState(_) => R::LVP_RESULT_INVALID_STATE,
            Error::NotApplied { .. } => R::LVP_RESULT_NOT_APPLIED,
            Error::Journal { .. } => R::LVP_RESULT_JOURNAL,
            Error::RollbackFailed { .. } => R::LVP_RESULT_ROLLBACK_FAILED,
            Error::Perf(e) => e.into(),
        }
    }
}

/// The stable code of a perf counter error for the C ABI.
impl From<&PerfError> for lvp_result {
    fn from(e: &PerfError) -> lvp_result {
        use lvp_result as R;
        match e {
            PerfError::NotSupported { .. } => R::LVP_RESULT_UNSUPPORTED,
            PerfError::Permission { .. } => R::LVP_RESULT_NOT_PERMITTED,
            PerfError::ProcessGone { .. } => R::LVP_RESULT_NO_SUCH_PROCESS,
            PerfError::InvalidPid { .. } | PerfError::InvalidCpu { .. } => {
                R::LVP_RESULT_INVALID_ARGUMENT
            }
            _ => R::LVP_RESULT_IO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(lvp_result::LVP_RESULT_NULL_PARAMETER as u32, 7001);
        assert_eq!(lvp_result::LVP_RESULT_UNSUPPORTED as u32, 7100);
        assert_eq!(lvp_result::LVP_RESULT_ROLLBACK_FAILED as u32, 7112);
        let e = Error::invalid("x", "y", "z");
        assert_eq!(
            lvp_result::from(&e),
            lvp_result::LVP_RESULT_INVALID_ARGUMENT
        );
    }

    #[test]
    fn raw_numbers_convert_only_for_codes() {
        for &r in <lvp_result as CEnum>::ALL {
            assert_eq!(lvp_result::from_u32(r as u32), Some(r));
        }
        for bad in [1, 6999, 7000, 7007, 7099, 7115, 8000, u32::MAX] {
            assert_eq!(lvp_result::from_u32(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_code_has_its_own_description() {
        let all = <lvp_result as CEnum>::ALL;
        let mut texts: Vec<&str> = all.iter().map(|r| r.describe()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), all.len(), "{texts:?}");
        assert_eq!(
            lvp_result::LVP_RESULT_LOCKED.describe(),
            "access denied: the firmware has locked this setting"
        );
    }

    #[test]
    fn perf_errors_keep_their_codes() {
        let gone = Error::Perf(PerfError::ProcessGone {
            pid: 42,
            source: std::io::Error::from_raw_os_error(libc::ESRCH),
        });
        assert_eq!(
            lvp_result::from(&gone),
            lvp_result::LVP_RESULT_NO_SUCH_PROCESS
        );
        let pid = PerfError::InvalidPid { pid: 0 };
        assert_eq!(
            lvp_result::from(&pid),
            lvp_result::LVP_RESULT_INVALID_ARGUMENT
        );
    }
}
