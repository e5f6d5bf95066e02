// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power sim mount BACKING MOUNTPOINT`: a FUSE view of a simulated
//! sysfs tree that answers writes the way the kernel does.
//!
//! A tree from `virt-power sim create` is plain files, so a write stores
//! whatever it is given. Mounted through this filesystem, the same tree
//! behaves like sysfs on a write, and accepted values are stored in the
//! backing files (one value per file, with a trailing newline):
//!
//! - cpufreq `scaling_governor`: one of `scaling_available_governors`, else
//!   `EINVAL`. Entering `userspace` starts `scaling_setspeed` at the current
//!   frequency; outside `userspace` it reads `<unsupported>` and writes to it
//!   give `EINVAL`. `performance`/`powersave` move `scaling_cur_freq` to the
//!   max/min limit.
//! - `scaling_setspeed` (userspace only): decimal kHz, clamped silently into
//!   `[scaling_min_freq, scaling_max_freq]`; with a frequency table
//!   (`scaling_available_frequencies`) the lowest table entry within the
//!   limits at or above the target (`CPUFREQ_RELATION_L`, else the highest
//!   entry below it). `scaling_cur_freq` follows.
//! - `scaling_min_freq`/`scaling_max_freq`: decimal, clamped silently into
//!   `[cpuinfo_min_freq, cpuinfo_max_freq]`; a min above the current max is
//!   stored as the max and a max below the current min as the min (a
//!   simplification of the kernel's frequency QoS, which keeps min <= max
//!   the same way). A userspace target is then held within the new limits.
//! - `energy_performance_preference`: one of
//!   `energy_performance_available_preferences`, else `EINVAL`; `EBUSY` for
//!   anything but `performance` under the `performance` governor of
//!   `intel_pstate`.
//! - `intel_pstate/`: `status` takes `active`/`passive`/`off`; while it
//!   reads `off`, reads and writes of the other files give `EAGAIN`.
//!   `no_turbo` takes 0/1; `min_perf_pct`/`max_perf_pct` take 0-100 and are
//!   clamped silently so min <= max.
//! - cpufreq `boost`, powercap `enabled`: 0/1, else `EINVAL`.
//! - powercap `constraint_K_power_limit_uw` and `constraint_K_time_window_us`:
//!   decimal, else `EINVAL`; `EACCES` when the zone is firmware-locked (the
//!   generator marks that with mode `0444` on the backing files; the mount
//!   shows them `0644` like the kernel). Power limits are rounded down to
//!   the RAPL unit of 1/8 W (125000 uW); windows are stored as given.
//! - Other files: writes pass through (a write at offset 0 replaces the
//!   content, later offsets extend it). Opening a file without write (read)
//!   permission bits for writing (reading) gives `EACCES` as in kernfs.
//!
//! Creating, removing and renaming entries give `EPERM`; `O_TRUNC` and
//! truncation are accepted and ignored, as sysfs does. Reads always reopen
//! the backing file by path (the simulator runner replaces `energy_uj` by
//! rename), files are opened in direct-I/O mode and attributes and entries
//! have a zero TTL, so changes show at once. A panic in a request handler
//! answers `EIO` and leaves the mount running.

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, SessionACL, TimeOrNow,
    WriteFlags,
};

/// Attribute and entry time-to-live: none, so every change shows at once.
const TTL: Duration = Duration::ZERO;

/// RAPL power limits are held in units of 1/8 W.
const RAPL_POWER_UNIT_UW: u64 = 125_000;

/// Temporary names of atomic replacements (ours and the simulator
/// runner's), hidden from directory listings.
const TMP_SUFFIXES: [&str; 2] = [".simfs-tmp", ".sim-tmp"];

/// Mounts `backing` on `mountpoint` and serves it until SIGINT/SIGTERM or
/// an unmount; unmounts before returning.
pub fn mount(backing: &Path, mountpoint: &Path) -> Result<(), String> {
    let root = backing
        .canonicalize()
        .map_err(|e| format!("{}: {e}", backing.display()))?;
    if !root.is_dir() {
        return Err(format!("{}: not a directory", backing.display()));
    }
    let target = mountpoint
        .canonicalize()
        .map_err(|e| format!("{}: {e}", mountpoint.display()))?;
    // Block the stop signals before any thread exists, so every thread
    // inherits the mask and the waiter below is the only one to see them.
    let signals = block_stop_signals()?;

    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(format!("virt-power-sim:{}", root.display())),
        MountOption::Subtype("virt-power-sim".into()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::NoExec,
    ];
    config.acl = SessionACL::All;
    let fs = SimFs::new(root.clone());
    let mut session = fuser::Session::new(fs, &target, &config)
        .map_err(|e| format!("mounting {}: {e}", target.display()))?;
    let mut unmounter = session.unmount_callable();
    let c_target = CString::new(target.as_os_str().as_bytes())
        .map_err(|e| format!("{}: {e}", target.display()))?;
    std::thread::Builder::new()
        .name("simfs-signals".into())
        .spawn(move || {
            let sig = wait_signal(&signals);
            eprintln!("virt-power sim mount: signal {sig}, unmounting");
            if unmounter.unmount().is_err() {
                lazy_unmount(&c_target);
            }
        })
        .map_err(|e| format!("signal thread: {e}"))?;
    println!(
        "mounted {} on {} (kernel write semantics); SIGINT/SIGTERM or umount to stop",
        root.display(),
        target.display()
    );
    let _ = io::stdout().flush();
    session
        .run()
        .map_err(|e| format!("serving {}: {e}", target.display()))
}

/// Blocks SIGINT and SIGTERM in the calling thread (and the threads it
/// creates afterwards); returns the set for [`wait_signal`].
fn block_stop_signals() -> Result<libc::sigset_t, String> {
    // SAFETY: sigset_t is a plain C struct; an all-zero value is a valid
    // argument for sigemptyset, which initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t; the calls
    // only write into it and into the thread's signal mask.
    let rc = unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(format!(
            "pthread_sigmask: {}",
            io::Error::from_raw_os_error(rc)
        ));
    }
    Ok(set)
}

/// Waits for one of the blocked signals of `set`.
fn wait_signal(set: &libc::sigset_t) -> i32 {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised sigset_t and `sig` a valid out
        // pointer for the duration of the call.
        let rc = unsafe { libc::sigwait(set, &mut sig) };
        if rc == 0 {
            return sig;
        }
    }
}

/// Detaches the mount when a plain unmount fails (for example EBUSY).
fn lazy_unmount(target: &CString) {
    // SAFETY: `target` is a valid NUL-terminated path for the duration of
    // the call.
    let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        eprintln!(
            "virt-power sim mount: umount2(MNT_DETACH): {}",
            io::Error::last_os_error()
        );
    }
}

/// Inode numbers of relative paths (stable for the life of the mount: the
/// tree cannot gain or lose entries through the mount).
#[derive(Default)]
struct Inodes {
    by_ino: HashMap<u64, PathBuf>,
    by_path: HashMap<PathBuf, u64>,
    next: u64,
}

impl Inodes {
    fn ino(&mut self, rel: &Path) -> u64 {
        if let Some(i) = self.by_path.get(rel) {
            return *i;
        }
        self.next += 1;
        let i = self.next;
        self.by_ino.insert(i, rel.to_owned());
        self.by_path.insert(rel.to_owned(), i);
        i
    }
}

/// The filesystem: the backing root, the inode table and a lock that
/// serialises stores (several of them read and write more than one file).
struct SimFs {
    root: PathBuf,
    inodes: Mutex<Inodes>,
    store_lock: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs a request handler, turning a panic into `EIO`.
fn guarded<T>(f: impl FnOnce() -> Result<T, Errno>) -> Result<T, Errno> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(Errno::EIO))
}

fn io_err(e: io::Error) -> Errno {
    Errno::from(e)
}

/// What a file is, for the write and read rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Knob {
    Governor,
    Setspeed,
    MinFreq,
    MaxFreq,
    Epp,
    Boost,
    PstateStatus,
    NoTurbo,
    MinPerfPct,
    MaxPerfPct,
    /// Another file in `intel_pstate/` (EAGAIN while the driver is off).
    PstateOther,
    PowerLimit,
    TimeWindow,
    RaplEnabled,
    Other,
}

fn constraint_file(name: &str, suffix: &str) -> bool {
    name.strip_prefix("constraint_")
        .and_then(|r| r.strip_suffix(suffix))
        .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
}

fn classify(rel: &Path) -> Knob {
    let name = rel.file_name().and_then(OsStr::to_str).unwrap_or("");
    let parent = rel
        .parent()
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .unwrap_or("");
    if parent == "intel_pstate" {
        return match name {
            "status" => Knob::PstateStatus,
            "no_turbo" => Knob::NoTurbo,
            "min_perf_pct" => Knob::MinPerfPct,
            "max_perf_pct" => Knob::MaxPerfPct,
            _ => Knob::PstateOther,
        };
    }
    let powercap = rel
        .components()
        .any(|c| c == Component::Normal(OsStr::new("powercap")));
    match name {
        "scaling_governor" => Knob::Governor,
        "scaling_setspeed" => Knob::Setspeed,
        "scaling_min_freq" => Knob::MinFreq,
        "scaling_max_freq" => Knob::MaxFreq,
        "energy_performance_preference" => Knob::Epp,
        "boost" => Knob::Boost,
        "enabled" if powercap => Knob::RaplEnabled,
        n if constraint_file(n, "_power_limit_uw") => Knob::PowerLimit,
        n if constraint_file(n, "_time_window_us") => Knob::TimeWindow,
        _ => Knob::Other,
    }
}

/// The written value: UTF-8 without one trailing newline.
fn value(data: &[u8]) -> Result<&str, Errno> {
    let s = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    Ok(s.strip_suffix('\n').unwrap_or(s))
}

fn decimal(v: &str) -> Result<u64, Errno> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Errno::EINVAL);
    }
    v.parse().map_err(|_| Errno::EINVAL)
}

fn bool01(v: &str) -> Result<&str, Errno> {
    match v {
        "0" | "1" => Ok(v),
        _ => Err(Errno::EINVAL),
    }
}

fn read_trim(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

fn read_num(path: &Path) -> Option<u64> {
    read_trim(path)?.parse().ok()
}

/// Replaces a backing file's content with `value` and a newline,
/// atomically (the runner and readers never see it half written), keeping
/// its mode.
fn put(path: &Path, value: &str) -> Result<(), Errno> {
    let content = format!("{value}\n");
    if fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(());
    }
    let mode = fs::metadata(path).map_err(io_err)?.permissions().mode();
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(TMP_SUFFIXES[0]);
    let tmp = path.with_file_name(tmp_name);
    let res = fs::write(&tmp, content.as_bytes())
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)))
        .and_then(|()| fs::rename(&tmp, path));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(io_err)
}

/// A limit file of a firmware-locked RAPL zone (read-only in the backing
/// tree).
fn locked(mode: u32) -> bool {
    mode & 0o222 == 0
}

impl SimFs {
    fn new(root: PathBuf) -> SimFs {
        let mut inodes = Inodes {
            next: 1,
            ..Inodes::default()
        };
        inodes.by_ino.insert(1, PathBuf::new());
        inodes.by_path.insert(PathBuf::new(), 1);
        SimFs {
            root,
            inodes: Mutex::new(inodes),
            store_lock: Mutex::new(()),
        }
    }

    fn rel(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        lock(&self.inodes)
            .by_ino
            .get(&ino.0)
            .cloned()
            .ok_or(Errno::ENOENT)
    }

    fn backing(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// Permission bits as the mount shows them.
    fn perm(rel: &Path, meta: &fs::Metadata) -> u16 {
        let mode = meta.mode() & 0o7777;
        let mode = match classify(rel) {
            Knob::PowerLimit | Knob::TimeWindow if meta.is_file() && locked(mode) => 0o644,
            _ => mode,
        };
        u16::try_from(mode).unwrap_or(0o644)
    }

    fn attr(&self, rel: &Path) -> Result<FileAttr, Errno> {
        let path = self.backing(rel);
        let meta = fs::symlink_metadata(&path).map_err(io_err)?;
        let kind = FileType::from_std(meta.file_type()).ok_or(Errno::EIO)?;
        let size = if meta.is_file() {
            self.view(rel).map_or(meta.len(), |c| c.len() as u64)
        } else {
            meta.len()
        };
        let time = |secs: i64, nsecs: i64| {
            let nanos = u32::try_from(nsecs).unwrap_or(0);
            match u64::try_from(secs) {
                Ok(s) => UNIX_EPOCH + Duration::new(s, nanos),
                Err(_) => UNIX_EPOCH,
            }
        };
        let ino = lock(&self.inodes).ino(rel);
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: meta.blocks(),
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            crtime: SystemTime::UNIX_EPOCH,
            kind,
            perm: Self::perm(rel, &meta),
            nlink: u32::try_from(meta.nlink()).unwrap_or(1),
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn dir_of(&self, rel: &Path) -> PathBuf {
        self.backing(rel.parent().unwrap_or(Path::new("")))
    }

    fn pstate_off(&self, rel: &Path) -> bool {
        read_trim(&self.dir_of(rel).join("status")).as_deref() == Some("off")
    }

    /// What a read of `rel` returns.
    fn view(&self, rel: &Path) -> Result<Vec<u8>, Errno> {
        match classify(rel) {
            Knob::NoTurbo | Knob::MinPerfPct | Knob::MaxPerfPct | Knob::PstateOther
                if self.pstate_off(rel) =>
            {
                Err(Errno::EAGAIN)
            }
            Knob::Setspeed
                if read_trim(&self.dir_of(rel).join("scaling_governor")).as_deref()
                    != Some("userspace") =>
            {
                Ok(b"<unsupported>\n".to_vec())
            }
            _ => fs::read(self.backing(rel)).map_err(io_err),
        }
    }

    /// Applies a write of `data` at `offset` to `rel` with the kernel's
    /// rules.
    fn store(&self, rel: &Path, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let _held = lock(&self.store_lock);
        let path = self.backing(rel);
        let dir = self.dir_of(rel);
        let knob = classify(rel);
        if knob == Knob::Other {
            return passthrough(&path, offset, data);
        }
        let v = value(data)?;
        match knob {
            Knob::Governor => {
                let avail = read_trim(&dir.join("scaling_available_governors")).unwrap_or_default();
                if v.is_empty() || !avail.split_whitespace().any(|g| g == v) {
                    return Err(Errno::EINVAL);
                }
                let old = read_trim(&path).unwrap_or_default();
                put(&path, v)?;
                let setspeed = dir.join("scaling_setspeed");
                if setspeed.exists() {
                    if v != "userspace" {
                        put(&setspeed, "<unsupported>")?;
                    } else if old != "userspace" {
                        let cur = read_num(&dir.join("scaling_cur_freq"))
                            .or_else(|| read_num(&dir.join("scaling_max_freq")))
                            .unwrap_or(0);
                        put(&setspeed, &cur.to_string())?;
                    }
                }
                settle_policy(&dir)
            }
            Knob::Setspeed => {
                if read_trim(&dir.join("scaling_governor")).as_deref() != Some("userspace") {
                    return Err(Errno::EINVAL);
                }
                let target = decimal(v)?;
                let khz = pick_frequency(&dir, target);
                put(&path, &khz.to_string())?;
                put_if_exists(&dir.join("scaling_cur_freq"), &khz.to_string())
            }
            Knob::MinFreq | Knob::MaxFreq => {
                let k = decimal(v)?;
                let lo = read_num(&dir.join("cpuinfo_min_freq")).unwrap_or(0);
                let hi = read_num(&dir.join("cpuinfo_max_freq")).unwrap_or(u64::MAX);
                let mut k = k.clamp(lo, hi.max(lo));
                if knob == Knob::MinFreq {
                    if let Some(max) = read_num(&dir.join("scaling_max_freq")) {
                        k = k.min(max);
                    }
                } else if let Some(min) = read_num(&dir.join("scaling_min_freq")) {
                    k = k.max(min);
                }
                put(&path, &k.to_string())?;
                settle_policy(&dir)
            }
            Knob::Epp => {
                let avail = read_trim(&dir.join("energy_performance_available_preferences"))
                    .unwrap_or_default();
                if v.is_empty() || !avail.split_whitespace().any(|p| p == v) {
                    return Err(Errno::EINVAL);
                }
                let governor = read_trim(&dir.join("scaling_governor")).unwrap_or_default();
                let driver = read_trim(&dir.join("scaling_driver")).unwrap_or_default();
                if governor == "performance" && driver == "intel_pstate" && v != "performance" {
                    return Err(Errno::EBUSY);
                }
                put(&path, v)
            }
            Knob::Boost | Knob::RaplEnabled => put(&path, bool01(v)?),
            Knob::PstateStatus => match v {
                "active" | "passive" | "off" => put(&path, v),
                _ => Err(Errno::EINVAL),
            },
            Knob::NoTurbo | Knob::MinPerfPct | Knob::MaxPerfPct | Knob::PstateOther => {
                if self.pstate_off(rel) {
                    return Err(Errno::EAGAIN);
                }
                match knob {
                    Knob::NoTurbo => put(&path, bool01(v)?),
                    Knob::MinPerfPct | Knob::MaxPerfPct => {
                        let pct = decimal(v)?;
                        if pct > 100 {
                            return Err(Errno::EINVAL);
                        }
                        let pct = if knob == Knob::MinPerfPct {
                            read_num(&dir.join("max_perf_pct")).map_or(pct, |m| pct.min(m))
                        } else {
                            read_num(&dir.join("min_perf_pct")).map_or(pct, |m| pct.max(m))
                        };
                        put(&path, &pct.to_string())
                    }
                    _ => passthrough(&path, offset, data),
                }
            }
            Knob::PowerLimit | Knob::TimeWindow => {
                let n = decimal(v)?;
                let mode = fs::metadata(&path).map_err(io_err)?.mode();
                if locked(mode) {
                    return Err(Errno::EACCES);
                }
                let n = if knob == Knob::PowerLimit {
                    n / RAPL_POWER_UNIT_UW * RAPL_POWER_UNIT_UW
                } else {
                    n
                };
                put(&path, &n.to_string())
            }
            Knob::Other => passthrough(&path, offset, data),
        }
    }
}

fn put_if_exists(path: &Path, value: &str) -> Result<(), Errno> {
    if path.exists() {
        put(path, value)
    } else {
        Ok(())
    }
}

/// The frequency a userspace target of `target` kHz ends at: clamped into
/// the policy limits, then the lowest table entry within the limits at or
/// above it (else the highest below it) when the driver has a table.
fn pick_frequency(dir: &Path, target: u64) -> u64 {
    let min = read_num(&dir.join("scaling_min_freq")).unwrap_or(0);
    let max = read_num(&dir.join("scaling_max_freq"))
        .unwrap_or(u64::MAX)
        .max(min);
    let t = target.clamp(min, max);
    let table: Vec<u64> = read_trim(&dir.join("scaling_available_frequencies"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .filter(|f| (min..=max).contains(f))
        .collect();
    table
        .iter()
        .copied()
        .filter(|f| *f >= t)
        .min()
        .or_else(|| table.iter().copied().filter(|f| *f <= t).max())
        .unwrap_or(t)
}

/// What the governor does after a limit or governor change: a userspace
/// target is held within the limits, `performance` runs at the max,
/// `powersave` at the min, the others stay within the limits.
fn settle_policy(dir: &Path) -> Result<(), Errno> {
    let (Some(min), Some(max)) = (
        read_num(&dir.join("scaling_min_freq")),
        read_num(&dir.join("scaling_max_freq")),
    ) else {
        return Ok(());
    };
    let max = max.max(min);
    let governor = read_trim(&dir.join("scaling_governor")).unwrap_or_default();
    let cur_path = dir.join("scaling_cur_freq");
    let cur = read_num(&cur_path);
    let new_cur = match governor.as_str() {
        "userspace" => {
            let setspeed = dir.join("scaling_setspeed");
            match read_num(&setspeed) {
                Some(s) => {
                    let held = s.clamp(min, max);
                    if held != s {
                        put(&setspeed, &held.to_string())?;
                    }
                    Some(held)
                }
                None => cur.map(|c| c.clamp(min, max)),
            }
        }
        "performance" => Some(max),
        "powersave" => Some(min),
        _ => cur.map(|c| c.clamp(min, max)),
    };
    match new_cur {
        Some(c) if Some(c) != cur => put_if_exists(&cur_path, &c.to_string()),
        _ => Ok(()),
    }
}

/// A write to a file without rules: at offset 0 it replaces the content,
/// further offsets write in place (a value written in several pieces).
fn passthrough(path: &Path, offset: u64, data: &[u8]) -> Result<(), Errno> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(offset == 0)
        .open(path)
        .map_err(io_err)?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    f.write_all(data).map_err(io_err)
}

impl Filesystem for SimFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match guarded(|| {
            let rel = self.rel(parent)?.join(name);
            self.attr(&rel)
        }) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match guarded(|| self.attr(&self.rel(ino)?)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        // Truncation (O_TRUNC) and times are accepted and ignored, as sysfs
        // does; ownership and modes stay the tree's.
        match guarded(|| {
            if mode.is_some() || uid.is_some() || gid.is_some() {
                return Err(Errno::EPERM);
            }
            self.attr(&self.rel(ino)?)
        }) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match guarded(|| {
            let target = fs::read_link(self.backing(&self.rel(ino)?)).map_err(io_err)?;
            Ok(target.into_os_string().into_vec())
        }) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EPERM);
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EPERM);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EPERM);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EPERM);
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EPERM);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EPERM);
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EPERM);
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::EPERM);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match guarded(|| {
            let rel = self.rel(ino)?;
            let meta = fs::symlink_metadata(self.backing(&rel)).map_err(io_err)?;
            if meta.is_dir() {
                return Err(Errno::EISDIR);
            }
            // kernfs refuses to open an attribute for an access its mode
            // does not offer, even for root.
            let perm = Self::perm(&rel, &meta);
            let (r, w) = match flags.acc_mode() {
                OpenAccMode::O_RDONLY => (true, false),
                OpenAccMode::O_WRONLY => (false, true),
                OpenAccMode::O_RDWR => (true, true),
            };
            if (w && perm & 0o222 == 0) || (r && perm & 0o444 == 0) {
                return Err(Errno::EACCES);
            }
            Ok(())
        }) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match guarded(|| {
            let content = self.view(&self.rel(ino)?)?;
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(content.len());
            let end = start
                .saturating_add(usize::try_from(size).unwrap_or(usize::MAX))
                .min(content.len());
            Ok(content.get(start..end).unwrap_or_default().to_vec())
        }) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match guarded(|| {
            self.store(&self.rel(ino)?, offset, data)?;
            u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
        }) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listing = guarded(|| {
            let rel = self.rel(ino)?;
            let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut names: Vec<(PathBuf, FileType)> = Vec::new();
            for entry in fs::read_dir(self.backing(&rel)).map_err(io_err)? {
                let entry = entry.map_err(io_err)?;
                let name = entry.file_name();
                let shown = name
                    .to_str()
                    .is_none_or(|n| !TMP_SUFFIXES.iter().any(|s| n.ends_with(s)));
                let Ok(ft) = entry.file_type() else { continue };
                if let (true, Some(kind)) = (shown, FileType::from_std(ft)) {
                    names.push((PathBuf::from(name), kind));
                }
            }
            names.sort_by(|a, b| a.0.cmp(&b.0));
            let mut inodes = lock(&self.inodes);
            let mut out = vec![
                (ino.0, FileType::Directory, PathBuf::from(".")),
                (
                    inodes.ino(&parent),
                    FileType::Directory,
                    PathBuf::from(".."),
                ),
            ];
            for (name, kind) in names {
                out.push((inodes.ino(&rel.join(&name)), kind, name));
            }
            Ok(out)
        });
        match listing {
            Ok(entries) => {
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(skip) {
                    if reply.add(INodeNo(ino), i as u64 + 1, kind, &name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }
}
