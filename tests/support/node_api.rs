// SPDX-License-Identifier: LGPL-2.1-or-later
//! The node power calls of the patched libvirt C API, for tests that make
//! more calls than spawning a virsh process per call allows
//! (`tests/load.rs`): [`Conn`] is one connection, with typed parameters in
//! and out and errors that carry libvirt's code and message.
//!
//! The types come from the bindgen bindings the root package's build.rs
//! generates from the patched headers in `build/prefix`; the power calls
//! themselves are declared here (build.rs binds only what virt-power
//! calls), with the signatures of patch 0001's `libvirt-host.h`. build.rs
//! links libvirt and gives the test binaries an rpath to it.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::ptr;
use std::sync::Once;

#[allow(
    dead_code,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unnecessary_transmutes,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod sys {
    include!(concat!(env!("OUT_DIR"), "/libvirt_sys.rs"));
}

/// `virNodePowerFlags` of patch 0001.
pub const VIR_NODE_POWER_DRY_RUN: c_uint = 1 << 2;
pub const VIR_NODE_POWER_RESTORE: c_uint = 1 << 3;

// SAFETY: the declarations match libvirt-host.h of the patched build
// (patch 0001); libvirt is linked by build.rs.
unsafe extern "C" {
    fn virConnectOpen(name: *const c_char) -> sys::virConnectPtr;
    fn virNodeSetFrequency(
        conn: sys::virConnectPtr,
        cpumap: *const c_char,
        params: sys::virTypedParameterPtr,
        nparams: c_int,
        flags: c_uint,
    ) -> c_int;
    fn virNodeGetFrequency(
        conn: sys::virConnectPtr,
        cpumap: *const c_char,
        params: *mut sys::virTypedParameterPtr,
        nparams: *mut c_int,
        flags: c_uint,
    ) -> c_int;
    fn virNodeSetGovernor(
        conn: sys::virConnectPtr,
        cpumap: *const c_char,
        governor: *const c_char,
        flags: c_uint,
    ) -> c_int;
    fn virNodeSetRaplLimit(
        conn: sys::virConnectPtr,
        zone: *const c_char,
        constraint: *const c_char,
        params: sys::virTypedParameterPtr,
        nparams: c_int,
        flags: c_uint,
    ) -> c_int;
}

/// A failed call: which, libvirt's error code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{call}: {message} (virErrorNumber {code})")]
pub struct Error {
    pub call: String,
    pub code: i32,
    pub message: String,
}

impl Error {
    /// The calling thread's last libvirt error.
    fn last(call: String) -> Error {
        // SAFETY: virGetLastError returns NULL or the calling thread's
        // error object, valid until the next libvirt call on this thread;
        // everything is copied out before that.
        let (code, message) = unsafe {
            let err = sys::virGetLastError();
            if err.is_null() {
                (0, None)
            } else if (*err).message.is_null() {
                ((*err).code, None)
            } else {
                (
                    (*err).code,
                    Some(
                        CStr::from_ptr((*err).message)
                            .to_string_lossy()
                            .into_owned(),
                    ),
                )
            }
        };
        Error {
            call,
            code,
            message: message.unwrap_or_else(|| "no libvirt error recorded".into()),
        }
    }
}

/// A typed parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i32),
    UInt(u32),
    LLong(i64),
    ULLong(u64),
    Double(f64),
    Bool(bool),
    Str(String),
}

/// Typed parameters returned by a getter, by field name.
#[derive(Debug, Clone, Default)]
pub struct Params(pub BTreeMap<String, Value>);

impl Params {
    pub fn ullong(&self, field: &str) -> Option<u64> {
        match self.0.get(field)? {
            Value::ULLong(v) => Some(*v),
            _ => None,
        }
    }

    pub fn uint(&self, field: &str) -> Option<u32> {
        match self.0.get(field)? {
            Value::UInt(v) => Some(*v),
            _ => None,
        }
    }

    pub fn str(&self, field: &str) -> Option<&str> {
        match self.0.get(field)? {
            Value::Str(v) => Some(v),
            _ => None,
        }
    }
}

/// A parameter of a setter.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    ULLong(&'static str, u64),
    Bool(&'static str, bool),
}

impl Param {
    fn typed(self) -> sys::virTypedParameter {
        // SAFETY: virTypedParameter is a C struct of integers, a char array
        // and a union of plain values: all zeroes is a valid value.
        let mut p: sys::virTypedParameter = unsafe { std::mem::zeroed() };
        let (field, kind) = match self {
            Param::ULLong(f, v) => {
                p.value.ul = v;
                (f, sys::VIR_TYPED_PARAM_ULLONG)
            }
            Param::Bool(f, v) => {
                p.value.b = c_char::from(v);
                (f, sys::VIR_TYPED_PARAM_BOOLEAN)
            }
        };
        assert!(field.len() < p.field.len(), "field name {field} too long");
        for (dst, src) in p.field.iter_mut().zip(field.bytes()) {
            *dst = src as c_char;
        }
        p.type_ = c_int::try_from(kind).expect("type fits int");
        p
    }
}

unsafe extern "C" fn ignore_error(_user_data: *mut c_void, _err: sys::virErrorPtr) {}

/// Initialises libvirt once, with errors reported only through
/// [`Error`] (not printed by libvirt's default handler).
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: virInitialize may be called any number of times;
        // virSetErrorFunc keeps a plain fn pointer, valid forever.
        unsafe {
            sys::virInitialize();
            sys::virSetErrorFunc(ptr::null_mut(), Some(ignore_error));
        }
    });
}

fn cstring(what: &str, s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| panic!("{what} '{s}' contains a NUL byte"))
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// A read-write connection, closed on drop. One per thread: it is not
/// `Send`, so each client thread opens its own.
pub struct Conn {
    ptr: sys::virConnectPtr,
    pub uri: String,
}

impl Conn {
    /// `virConnectOpen(uri)`.
    pub fn open(uri: &str) -> Result<Conn, Error> {
        init();
        let c_uri = cstring("URI", uri);
        // SAFETY: a NUL-terminated URI that outlives the call; the result
        // is NULL or a connection we own.
        let ptr = unsafe { virConnectOpen(c_uri.as_ptr()) };
        if ptr.is_null() {
            return Err(Error::last(format!("virConnectOpen({uri})")));
        }
        Ok(Conn {
            ptr,
            uri: uri.to_owned(),
        })
    }

    fn check(&self, rc: c_int, call: impl FnOnce() -> String) -> Result<(), Error> {
        if rc < 0 {
            Err(Error::last(call()))
        } else {
            Ok(())
        }
    }

    /// `virNodeSetGovernor(cpumap, governor, flags)`.
    pub fn set_governor(
        &self,
        cpumap: Option<&str>,
        governor: Option<&str>,
        flags: c_uint,
    ) -> Result<(), Error> {
        let map = cpumap.map(|s| cstring("cpumap", s));
        let gov = governor.map(|s| cstring("governor", s));
        // SAFETY: an open connection and NULL or NUL-terminated strings
        // that outlive the call.
        let rc = unsafe { virNodeSetGovernor(self.ptr, opt_ptr(&map), opt_ptr(&gov), flags) };
        self.check(rc, || {
            format!("virNodeSetGovernor({cpumap:?}, {governor:?}, {flags:#x})")
        })
    }

    /// `virNodeSetFrequency(cpumap, params, flags)`.
    pub fn set_frequency(
        &self,
        cpumap: Option<&str>,
        params: &[Param],
        flags: c_uint,
    ) -> Result<(), Error> {
        let map = cpumap.map(|s| cstring("cpumap", s));
        let mut typed: Vec<sys::virTypedParameter> = params.iter().map(|p| p.typed()).collect();
        let n = c_int::try_from(typed.len()).expect("few params");
        // SAFETY: an open connection, a NULL or NUL-terminated cpumap and
        // `n` initialised parameters, all outliving the call.
        let rc =
            unsafe { virNodeSetFrequency(self.ptr, opt_ptr(&map), typed.as_mut_ptr(), n, flags) };
        self.check(rc, || {
            format!("virNodeSetFrequency({cpumap:?}, {params:?}, {flags:#x})")
        })
    }

    /// `virNodeSetRaplLimit(zone, constraint, params, flags)`.
    pub fn set_rapl_limit(
        &self,
        zone: &str,
        constraint: Option<&str>,
        params: &[Param],
        flags: c_uint,
    ) -> Result<(), Error> {
        let z = cstring("zone", zone);
        let c = constraint.map(|s| cstring("constraint", s));
        let mut typed: Vec<sys::virTypedParameter> = params.iter().map(|p| p.typed()).collect();
        let n = c_int::try_from(typed.len()).expect("few params");
        // SAFETY: an open connection, NUL-terminated strings (constraint
        // may be NULL) and `n` initialised parameters, outliving the call.
        let rc = unsafe {
            virNodeSetRaplLimit(
                self.ptr,
                z.as_ptr(),
                opt_ptr(&c),
                typed.as_mut_ptr(),
                n,
                flags,
            )
        };
        self.check(rc, || {
            format!("virNodeSetRaplLimit({zone}, {constraint:?}, {params:?}, {flags:#x})")
        })
    }

    /// `virNodeGetFrequency(cpumap)`.
    pub fn get_frequency(&self, cpumap: Option<&str>) -> Result<Params, Error> {
        let map = cpumap.map(|s| cstring("cpumap", s));
        let mut params: sys::virTypedParameterPtr = ptr::null_mut();
        let mut n: c_int = 0;
        // SAFETY: an open connection and a NULL or NUL-terminated cpumap;
        // on success libvirt allocates `n` parameters, freed in `take`.
        let rc = unsafe { virNodeGetFrequency(self.ptr, opt_ptr(&map), &mut params, &mut n, 0) };
        self.check(rc, || format!("virNodeGetFrequency({cpumap:?})"))?;
        // SAFETY: what libvirt just returned, freed once.
        Ok(unsafe { take(params, n) })
    }

    /// `virNodeGetRaplLimit(zone)`.
    pub fn get_rapl_limit(&self, zone: Option<&str>) -> Result<Params, Error> {
        let z = zone.map(|s| cstring("zone", s));
        let mut params: sys::virTypedParameterPtr = ptr::null_mut();
        let mut n: c_int = 0;
        // SAFETY: as in get_frequency.
        let rc = unsafe { sys::virNodeGetRaplLimit(self.ptr, opt_ptr(&z), &mut params, &mut n, 0) };
        self.check(rc, || format!("virNodeGetRaplLimit({zone:?})"))?;
        // SAFETY: what libvirt just returned, freed once.
        Ok(unsafe { take(params, n) })
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: a connection we own, not used after this.
        unsafe { sys::virConnectClose(self.ptr) };
    }
}

/// Copies `n` parameters into [`Params`] and frees the array.
///
/// # Safety
/// `params` must be NULL or an array of `n` parameters allocated by
/// libvirt, not used after this call.
unsafe fn take(params: sys::virTypedParameterPtr, n: c_int) -> Params {
    let mut out = Params::default();
    let len = usize::try_from(n).unwrap_or(0);
    if !params.is_null() && len > 0 {
        // SAFETY: guaranteed by the caller.
        let slice = unsafe { std::slice::from_raw_parts(params, len) };
        for p in slice {
            let name: Vec<u8> = p
                .field
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            let Ok(kind) = u32::try_from(p.type_) else {
                continue;
            };
            // SAFETY: `type_` names the union member libvirt initialised;
            // a string value is NULL or NUL-terminated.
            let value = unsafe {
                match kind {
                    sys::VIR_TYPED_PARAM_INT => Value::Int(p.value.i),
                    sys::VIR_TYPED_PARAM_UINT => Value::UInt(p.value.ui),
                    sys::VIR_TYPED_PARAM_LLONG => Value::LLong(p.value.l),
                    sys::VIR_TYPED_PARAM_ULLONG => Value::ULLong(p.value.ul),
                    sys::VIR_TYPED_PARAM_DOUBLE => Value::Double(p.value.d),
                    sys::VIR_TYPED_PARAM_BOOLEAN => Value::Bool(p.value.b != 0),
                    sys::VIR_TYPED_PARAM_STRING if !p.value.s.is_null() => {
                        Value::Str(CStr::from_ptr(p.value.s).to_string_lossy().into_owned())
                    }
                    _ => continue,
                }
            };
            out.0
                .insert(String::from_utf8_lossy(&name).into_owned(), value);
        }
    }
    // SAFETY: frees the array once; NULL is accepted.
    unsafe { sys::virTypedParamsFree(params, n) };
    out
}
