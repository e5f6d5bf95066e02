// SPDX-License-Identifier: LGPL-2.1-or-later
//! libvirt through the bindgen bindings of the patched headers (build.rs).
//! This is the only module with unsafe code for libvirt: it turns the C
//! calls into owned Rust values ([`Params`], [`DomainStats`]) and errors
//! that carry libvirt's message.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::sync::{Once, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::metrics::{DomainEnergy, DomainSample, NodeSample, Params, Sample, TypedValue};

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

/// A failed libvirt call: what was being done, and libvirt's message.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct Error {
    pub what: String,
    pub message: String,
}

impl Error {
    /// The calling thread's last libvirt error, or a generic text if
    /// libvirt recorded none.
    fn last(what: impl Into<String>) -> Error {
        // SAFETY: virGetLastError returns NULL or a pointer to the calling
        // thread's error object, valid until the next libvirt call on this
        // thread; the message is copied out before any further call.
        let message = unsafe {
            let err = sys::virGetLastError();
            if err.is_null() || (*err).message.is_null() {
                None
            } else {
                Some(
                    CStr::from_ptr((*err).message)
                        .to_string_lossy()
                        .into_owned(),
                )
            }
        };
        Error {
            what: what.into(),
            message: message.unwrap_or_else(|| "unknown libvirt error".to_string()),
        }
    }
}

unsafe extern "C" fn ignore_error(_user_data: *mut c_void, _err: sys::virErrorPtr) {}

/// Initialise libvirt once and keep it from printing errors itself: every
/// error is reported by the caller, from `virGetLastError`.
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: virInitialize takes no arguments and may be called any
        // number of times; virSetErrorFunc stores a function pointer that
        // stays valid for the life of the program (a plain fn item).
        unsafe {
            sys::virInitialize();
            sys::virSetErrorFunc(ptr::null_mut(), Some(ignore_error));
        }
    });
}

/// A read-only connection; closed on drop.
pub struct Connect {
    ptr: sys::virConnectPtr,
    uri: String,
}

/// The stats record of one domain.
#[derive(Debug, Clone)]
pub struct DomainStats {
    pub name: String,
    pub uuid: String,
    pub params: Params,
}

impl Connect {
    /// Opens `uri` read-only (`None`: libvirt's default URI). Monitoring
    /// needs no write access, and a read-only socket is the one an
    /// unprivileged user may reach.
    pub fn open_read_only(uri: Option<&str>) -> Result<Connect, Error> {
        init();
        let shown = uri.unwrap_or("the default URI").to_string();
        let what = || format!("cannot connect to '{shown}'");
        let c_uri = match uri.map(CString::new).transpose() {
            Ok(c) => c,
            Err(_) => {
                return Err(Error {
                    what: what(),
                    message: "the URI contains a NUL byte".into(),
                });
            }
        };
        // SAFETY: the URI is NULL or a NUL-terminated string that outlives
        // the call; the result is NULL or a connection we own.
        let ptr = unsafe {
            sys::virConnectOpenReadOnly(c_uri.as_ref().map_or(ptr::null(), |c| c.as_ptr()))
        };
        if ptr.is_null() {
            return Err(Error::last(what()));
        }
        Ok(Connect { ptr, uri: shown })
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn is_alive(&self) -> bool {
        // SAFETY: self.ptr is a connection we own and have not closed.
        unsafe { sys::virConnectIsAlive(self.ptr) == 1 }
    }

    /// `virConnectGetAllDomainStats` of the energy group over the running
    /// domains. A daemon without the energy group returns records without
    /// `energy.*` fields.
    pub fn domain_energy_stats(&self) -> Result<Vec<DomainStats>, Error> {
        let mut records: *mut sys::virDomainStatsRecordPtr = ptr::null_mut();
        // SAFETY: self.ptr is an open connection; on success libvirt stores
        // a NULL-terminated array in `records` that we free below.
        let n = unsafe {
            sys::virConnectGetAllDomainStats(
                self.ptr,
                sys::VIR_DOMAIN_STATS_ENERGY,
                &mut records,
                sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE,
            )
        };
        if n < 0 {
            return Err(Error::last(format!(
                "reading domain energy stats from '{}'",
                self.uri
            )));
        }
        let mut out = Vec::new();
        if records.is_null() {
            return Ok(out);
        }
        // SAFETY: `records` holds `n` valid record pointers followed by
        // NULL; each record's domain and params stay valid until
        // virDomainStatsRecordListFree, which is called exactly once, after
        // everything has been copied out.
        unsafe {
            for i in 0..usize::try_from(n).unwrap_or(0) {
                let rec = *records.add(i);
                if rec.is_null() {
                    break;
                }
                let dom = (*rec).dom;
                let name_ptr = sys::virDomainGetName(dom);
                let name = if name_ptr.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(name_ptr).to_string_lossy().into_owned()
                };
                let mut buf = [0 as c_char; sys::VIR_UUID_STRING_BUFLEN as usize];
                let uuid = if sys::virDomainGetUUIDString(dom, buf.as_mut_ptr()) == 0 {
                    CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
                } else {
                    String::new()
                };
                let params = copy_params((*rec).params, (*rec).nparams);
                out.push(DomainStats { name, uuid, params });
            }
            sys::virDomainStatsRecordListFree(records);
        }
        Ok(out)
    }

    /// `virNodeGetRaplLimit` over all zones.
    pub fn node_rapl(&self) -> Result<Params, Error> {
        let mut params: sys::virTypedParameterPtr = ptr::null_mut();
        let mut nparams: c_int = 0;
        // SAFETY: self.ptr is an open connection; on success libvirt
        // allocates `nparams` parameters in `params`, freed below once.
        let rc = unsafe {
            sys::virNodeGetRaplLimit(self.ptr, ptr::null(), &mut params, &mut nparams, 0)
        };
        if rc < 0 {
            return Err(Error::last(format!(
                "reading host RAPL zones (virNodeGetRaplLimit) from '{}'",
                self.uri
            )));
        }
        // SAFETY: params/nparams are what libvirt just returned.
        let out = unsafe { copy_params(params, nparams) };
        // SAFETY: frees the array allocated by virNodeGetRaplLimit, once;
        // virTypedParamsFree accepts NULL.
        unsafe { sys::virTypedParamsFree(params, nparams) };
        Ok(out)
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        // SAFETY: self.ptr is a connection we own; it is not used after.
        unsafe { sys::virConnectClose(self.ptr) };
    }
}

/// Copies typed parameters into owned values; unknown types are skipped.
///
/// # Safety
/// `params` must be NULL or point to `nparams` initialised parameters whose
/// string values are NULL or NUL-terminated.
unsafe fn copy_params(params: sys::virTypedParameterPtr, nparams: c_int) -> Params {
    let n = usize::try_from(nparams).unwrap_or(0);
    if params.is_null() || n == 0 {
        return Params::default();
    }
    // SAFETY: guaranteed by the caller: `n` initialised parameters.
    let slice = unsafe { std::slice::from_raw_parts(params, n) };
    let mut out = Vec::with_capacity(n);
    for p in slice {
        // The field is NUL-terminated within its fixed-size array.
        let field_bytes: Vec<u8> = p
            .field
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c.to_ne_bytes()[0])
            .collect();
        let field = String::from_utf8_lossy(&field_bytes).into_owned();
        let Ok(kind) = u32::try_from(p.type_) else {
            continue;
        };
        // SAFETY: `type_` says which union member libvirt initialised;
        // each arm reads only that member.
        let value = unsafe {
            match kind {
                sys::VIR_TYPED_PARAM_INT => TypedValue::Int(p.value.i),
                sys::VIR_TYPED_PARAM_UINT => TypedValue::UInt(p.value.ui),
                sys::VIR_TYPED_PARAM_LLONG => TypedValue::LLong(p.value.l),
                sys::VIR_TYPED_PARAM_ULLONG => TypedValue::ULLong(p.value.ul),
                sys::VIR_TYPED_PARAM_DOUBLE => TypedValue::Double(p.value.d),
                sys::VIR_TYPED_PARAM_BOOLEAN => TypedValue::Boolean(p.value.b != 0),
                sys::VIR_TYPED_PARAM_STRING => {
                    let s = p.value.s;
                    if s.is_null() {
                        continue;
                    }
                    TypedValue::String(CStr::from_ptr(s).to_string_lossy().into_owned())
                }
                _ => continue,
            }
        };
        out.push((field, value));
    }
    Params(out)
}

/// Reads one [`Sample`]: the running domains' energy stats (an error here
/// is the caller's to report) and the host's zones (an error there is kept
/// in the sample: a stock daemon has no node getter, yet per-VM data may
/// still be there).
pub fn take_sample(conn: &Connect) -> Result<Sample, Error> {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let domains = conn
        .domain_energy_stats()?
        .into_iter()
        .map(|d| DomainSample {
            energy: DomainEnergy::from_params(&d.params),
            name: d.name,
            uuid: d.uuid,
        })
        .collect();
    let node = conn
        .node_rapl()
        .map(|p| NodeSample::from_params(&p))
        .map_err(|e| e.to_string());
    Ok(Sample {
        monotonic_s: origin.elapsed().as_secs_f64(),
        unix_time_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        domains,
        node,
    })
}

#[cfg(test)]
mod tests {
    use super::sys;

    #[test]
    fn the_energy_stats_group_keeps_clear_of_upstream_bits() {
        // Upstream hands out virDomainStatsTypes bits in order (bit 10 is
        // VIR_DOMAIN_STATS_VM, libvirt 8.9.0); the energy group sits far
        // from that sequence (the patched libvirt-domain.h says why), so a
        // later upstream group never shares its value.
        assert_eq!(sys::VIR_DOMAIN_STATS_VM, 1 << 10);
        assert_eq!(sys::VIR_DOMAIN_STATS_ENERGY, 1 << 30);
    }
}
