// SPDX-License-Identifier: LGPL-2.1-or-later
//! `virt-power sim mount BACKING MOUNTPOINT`: a FUSE view of a simulated
//! sysfs tree that answers writes the way the kernel does.
//!
//! A tree from `virt-power sim create` is plain files, so a write stores
//! whatever it is given. Mounted through this filesystem, the same tree
//! behaves like sysfs on a write: every write to a file with kernel rules
//! goes through the core's one model of them,
//! [`libvirt_power::sim::kernel_write`] (which the plain-tree
//! `sim::settle` and the simulator runner use too; its module doc lists
//! the rules: governors, `scaling_setspeed` with `CPUFREQ_RELATION_L`,
//! clamped and table-resolved limits, EPP with `EBUSY`, intel_pstate with
//! `EAGAIN`/`EPERM`, RAPL limits masked to 1/8 W with `EACCES` on a
//! firmware-locked zone, `EBUSY` from every file of an inactive cpufreq
//! policy, CPU hotplug through `cpuN/online` and `smt/control` with the
//! files they change across the tree), and reads through
//! [`libvirt_power::sim::kernel_read`] (`<unsupported>`, `EAGAIN`,
//! `EBUSY`).
//! Accepted values are stored in the backing files (one value per file,
//! with a trailing newline). This file is only the adapter: inodes, the
//! `fuser::Filesystem` implementation, mount, unmount and signals.
//!
//! Files without rules: writes pass through (a write at offset 0 replaces
//! the content, later offsets extend it). Opening a file without write
//! (read) permission bits for writing (reading) gives `EACCES` as in
//! kernfs; a firmware lock, read-only in the backing tree, shows `0644`
//! as in the kernel and answers the kernel's errno instead.
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
use std::os::unix::fs::MetadataExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, MountOption, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, SessionACL, TimeOrNow,
    WriteFlags,
};
use libvirt_power::sim::kernel::{KernelErrno, Knob, kernel_read};
use libvirt_power::sim::tree;

/// Attribute and entry time-to-live: none, so every change shows at once.
const TTL: Duration = Duration::ZERO;

/// Temporary names of atomic replacements (the kernel model's stores,
/// ours and the simulator runner's), hidden from directory listings.
const TMP_SUFFIX: &str = tree::TMP_SUFFIX;

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

fn kernel_errno(e: KernelErrno) -> Errno {
    Errno::from_i32(e.errno())
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

    /// Permission bits as the mount shows them (a firmware lock, read-only
    /// in the backing tree, shows the kernel's `0644`).
    fn perm(rel: &Path, meta: &fs::Metadata) -> u16 {
        let mode = meta.mode() & 0o7777;
        let mode = if meta.is_file() {
            Knob::classify(rel).shown_mode(mode)
        } else {
            mode
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

    /// What a read of `rel` returns: what the kernel model shows instead
    /// of the stored content, else the backing file.
    fn view(&self, rel: &Path) -> Result<Vec<u8>, Errno> {
        let knob = Knob::classify(rel);
        let names = knob.read_context();
        if !names.is_empty() {
            let ctx = tree::context(&self.dir_of(rel), names).map_err(io_err)?;
            if let Some(shown) = kernel_read(knob, &ctx).map_err(kernel_errno)? {
                return Ok(format!("{shown}\n").into_bytes());
            }
        }
        fs::read(self.backing(rel)).map_err(io_err)
    }

    /// Applies a write of `data` at `offset` to `rel`: files without rules
    /// take the bytes (unless the kernel refuses every write to them, as
    /// an inactive policy's); the others go through the kernel model
    /// ([`tree::store`]), whose outcome (the file, its side effects,
    /// `scaling_cur_freq`, the hotplug state) is stored.
    fn store(&self, rel: &Path, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let _held = lock(&self.store_lock);
        let knob = Knob::classify(rel);
        if matches!(knob, Knob::Other | Knob::PolicyOther) {
            if let Some(e) = tree::refusal(&self.root, rel) {
                return Err(kernel_errno(e));
            }
            return passthrough(&self.backing(rel), offset, data);
        }
        let value = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
        tree::store(&self.root, rel, value).map_err(io_err)
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
                let shown = name.to_str().is_none_or(|n| !n.ends_with(TMP_SUFFIX));
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

#[cfg(test)]
mod tests {
    //! The adapter without a mount: `store` and `view` on a backing tree
    //! answer with the core's kernel model (the mounted behaviour is in
    //! tests/simfs.rs).

    use super::*;
    use libvirt_power::sim::{SimSpec, generate};

    struct Tree {
        base: PathBuf,
        fs: SimFs,
    }

    impl Tree {
        fn new(name: &str, preset: &str) -> Tree {
            let base =
                std::env::temp_dir().join(format!("vp-simfs-unit-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&base);
            let root = base.join("sys");
            generate(&root, &SimSpec::preset(preset, None).unwrap()).unwrap();
            Tree {
                fs: SimFs::new(root),
                base,
            }
        }

        fn put(&self, rel: &str, value: &str) -> Result<(), Errno> {
            self.fs.store(Path::new(rel), 0, value.as_bytes())
        }

        fn view(&self, rel: &str) -> Result<String, Errno> {
            self.fs
                .view(Path::new(rel))
                .map(|b| String::from_utf8(b).unwrap())
        }

        fn backing(&self, rel: &str) -> String {
            fs::read_to_string(self.fs.backing(Path::new(rel))).unwrap()
        }

        fn perm(&self, rel: &str) -> u16 {
            let meta = fs::metadata(self.fs.backing(Path::new(rel))).unwrap();
            SimFs::perm(Path::new(rel), &meta)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.base);
        }
    }

    const P0: &str = "devices/system/cpu/cpufreq/policy0";

    #[test]
    fn cpufreq_writes_go_through_the_kernel_model() {
        let t = Tree::new("cpufreq", "acpi-cpufreq");
        let f = |name: &str| format!("{P0}/{name}");
        assert_eq!(t.view(&f("scaling_setspeed")).unwrap(), "<unsupported>\n");
        assert_eq!(t.put(&f("scaling_setspeed"), "1800000"), Err(Errno::EINVAL));
        assert_eq!(t.put(&f("scaling_governor"), "warp\n"), Err(Errno::EINVAL));
        t.put(&f("scaling_governor"), "USERSPACE\n").unwrap();
        assert_eq!(t.backing(&f("scaling_governor")), "userspace\n");
        assert_eq!(t.view(&f("scaling_setspeed")).unwrap(), "2100000\n");
        t.put(&f("scaling_setspeed"), "1850000").unwrap();
        assert_eq!(t.backing(&f("scaling_setspeed")), "1900000\n");
        assert_eq!(t.backing(&f("scaling_cur_freq")), "1900000\n");
        // Limits resolve to the table and hold the target.
        t.put(&f("scaling_max_freq"), "1750000").unwrap();
        assert_eq!(t.backing(&f("scaling_max_freq")), "1700000\n");
        assert_eq!(t.backing(&f("scaling_setspeed")), "1700000\n");
        assert_eq!(t.backing(&f("scaling_cur_freq")), "1700000\n");
        // The generic powersave governor runs at the min.
        t.put(&f("scaling_governor"), "powersave").unwrap();
        assert_eq!(t.backing(&f("scaling_cur_freq")), "1200000\n");
        assert_eq!(t.backing(&f("scaling_setspeed")), "<unsupported>\n");
        // Files without rules take the bytes at their offset.
        t.fs.store(Path::new(&f("bios_limit")), 0, b"12").unwrap();
        t.fs.store(Path::new(&f("bios_limit")), 2, b"3\n").unwrap();
        assert_eq!(t.backing(&f("bios_limit")), "123\n");
        // No temporary file is left behind.
        let left: Vec<_> = fs::read_dir(t.fs.backing(Path::new(P0)))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(TMP_SUFFIX))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn firmware_locks_answer_the_kernels_errno() {
        let t = Tree::new("locked", "bios-locked");
        let zone = "devices/virtual/powercap/intel-rapl/intel-rapl:0";
        let no_turbo = "devices/system/cpu/intel_pstate/no_turbo";
        // Shown 0644 as in the kernel, read-only in the backing tree.
        assert_eq!(t.perm(no_turbo), 0o644);
        assert_eq!(
            t.perm(&format!("{zone}/constraint_0_power_limit_uw")),
            0o644
        );
        assert_eq!(t.perm(&format!("{zone}/name")), 0o644);
        assert_eq!(t.view(no_turbo).unwrap(), "1\n");
        assert_eq!(t.put(no_turbo, "0"), Err(Errno::EPERM));
        assert_eq!(t.put(no_turbo, "2"), Err(Errno::EINVAL));
        assert_eq!(
            t.put(&format!("{zone}/constraint_1_power_limit_uw"), "30000000"),
            Err(Errno::EACCES)
        );
        assert_eq!(t.put(&format!("{zone}/enabled"), "0"), Err(Errno::EACCES));
        assert_eq!(t.backing(&format!("{zone}/enabled")), "1\n");
        // The unlocked subzone takes its limit, masked to 1/8 W.
        t.put(
            &format!("{zone}/intel-rapl:0:0/constraint_0_power_limit_uw"),
            "1000001",
        )
        .unwrap();
        assert_eq!(
            t.backing(&format!(
                "{zone}/intel-rapl:0:0/constraint_0_power_limit_uw"
            )),
            "1000000\n"
        );
        // intel_pstate off: EAGAIN on the other files, EINVAL for off again.
        let ip = "devices/system/cpu/intel_pstate";
        t.put(&format!("{ip}/status"), "off\n").unwrap();
        assert_eq!(t.view(&format!("{ip}/max_perf_pct")), Err(Errno::EAGAIN));
        assert_eq!(
            t.put(&format!("{ip}/max_perf_pct"), "90"),
            Err(Errno::EAGAIN)
        );
        assert_eq!(t.put(&format!("{ip}/status"), "off"), Err(Errno::EINVAL));
    }

    #[test]
    fn epp_is_busy_under_performance_on_both_epp_drivers() {
        for preset in ["intel-pstate-active", "amd-pstate-epp"] {
            let t = Tree::new(preset, preset);
            let epp = format!("{P0}/energy_performance_preference");
            t.put(&format!("{P0}/scaling_governor"), "performance")
                .unwrap();
            assert_eq!(t.put(&epp, "power"), Err(Errno::EBUSY), "{preset}");
            t.put(&epp, "performance").unwrap();
            assert_eq!(t.backing(&epp), "performance\n", "{preset}");
        }
    }
}
