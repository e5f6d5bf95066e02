// SPDX-License-Identifier: LGPL-2.1-or-later
//! Real tiny guests under the private daemon of [`super::daemon`].
//!
//! - [`build_kernels`]: assembles `tests/guests/{busy,idle,half}.S` into
//!   32-bit multiboot ELF kernels (`as --32`, `ld -m elf_i386 -Ttext
//!   0x100000`; binutils is installed with apt-get when missing). `busy`
//!   spins (`jmp .`), `idle` masks the PICs and halts (`cli; hlt`), `half`
//!   alternates one 100 Hz PIT tick spinning and one in `hlt` (about half
//!   a CPU); each first writes one line to the debugcon port 0xe9.
//! - [`accel`]: KVM when `/dev/kvm` answers `KVM_GET_API_VERSION`, else
//!   TCG (`LIBVIRT_POWER_GUEST_ACCEL=tcg` forces TCG).
//! - [`Guest`]: the domain XML of one such guest: `<os><kernel>`, 32 MiB,
//!   one vCPU, qemu64 without `svm` (with the default CPU model the
//!   firmware never reaches the kernel under nested KVM), no disks, no
//!   network, no graphics, no balloon, and `-debugcon file:...` through
//!   `<qemu:commandline>`; optionally more vCPUs ([`Guest::with_vcpus`])
//!   and every vCPU and the emulator threads pinned to one host CPU
//!   ([`Guest::pinned`]: `<vcpupin>`, `<emulatorpin>`).
//! - [`GuestHost`]: wraps a harness [`Daemon`]. The daemon's qemu.conf
//!   (`build/prefix/etc/libvirt/qemu.conf`, not written by the harness)
//!   keeps the default `stdio_handler = "logd"`, so a private `virtlogd`
//!   from the prefix runs next to it (its socket is the prefix's fixed
//!   one, covered by the harness's lock). Defines, starts, destroys and
//!   undefines guests through the patched virsh, reads their
//!   `virsh domstats` (e.g. `--cpu-total` `cpu.time`), and lists the
//!   daemon's open descriptors. A killed run leaves QEMU running (libvirt
//!   daemonizes it); the next daemon reconnects to it and the leftover
//!   removal below destroys it. On drop (also when a test panics) every guest it
//!   defined is destroyed and undefined, then virtlogd is stopped.
//!
//! Guest names start with [`NAME_PREFIX`]; leftovers of a killed run
//! (the definitions persist in `build/prefix/etc/libvirt/qemu`) are
//! destroyed and undefined when a [`GuestHost`] starts.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::TempDir;
use super::daemon::{self, Daemon, Run, Virsh};
use super::process;

/// Every guest these helpers make is called `lvp-guest-*`.
pub const NAME_PREFIX: &str = "lvp-guest-";

/// What the busy kernel writes to port 0xe9 (tests/guests/busy.S).
pub const BUSY_LINE: &str = "libvirt-power guest busy: spinning";
/// What the idle kernel writes to port 0xe9 (tests/guests/idle.S).
pub const IDLE_LINE: &str = "libvirt-power guest idle: halting";
/// What the duty-cycled kernel writes to port 0xe9 (tests/guests/half.S).
pub const HALF_LINE: &str = "libvirt-power guest half: duty cycle 50%";

/// Set to `tcg` to run the guests under TCG even where KVM works.
pub const ACCEL_ENV: &str = "LIBVIRT_POWER_GUEST_ACCEL";

/// The guests' memory, MiB.
pub const MEMORY_MIB: u32 = 32;

// ---------------------------------------------------------------- kernels

/// The kernels, in a temp dir removed on drop.
pub struct Kernels {
    pub busy: PathBuf,
    pub idle: PathBuf,
    pub half: PathBuf,
    _dir: TempDir,
}

fn guests_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests")
}

fn have_binutils() -> bool {
    ["as", "ld"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Installs binutils with apt-get unless `as` and `ld` run.
pub fn ensure_binutils() {
    if have_binutils() {
        return;
    }
    eprintln!("as/ld missing: installing binutils with apt-get");
    let install = || {
        daemon::run(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "binutils"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdin(Stdio::null()),
        )
    };
    if !install().ok() {
        let _ = daemon::run(Command::new("apt-get").arg("update").stdin(Stdio::null()));
        let r = install();
        assert!(r.ok(), "cannot install binutils:\n{r}");
    }
    assert!(have_binutils(), "binutils installed, but as/ld still fail");
}

fn run_ok(cmd: &mut Command) -> Run {
    let r = daemon::run(cmd);
    assert!(r.ok(), "expected success:\n{r}");
    r
}

/// Assembles and links `tests/guests/{busy,idle,half}.S`.
pub fn build_kernels() -> Kernels {
    ensure_binutils();
    let dir = TempDir::new("guest-kernels");
    let build = |name: &str| {
        let src = guests_src().join(format!("{name}.S"));
        let obj = dir.path().join(format!("{name}.o"));
        let elf = dir.path().join(name);
        run_ok(Command::new("as").arg("--32").arg("-o").arg(&obj).arg(&src));
        run_ok(
            Command::new("ld")
                .args(["-m", "elf_i386", "-Ttext", "0x100000", "-o"])
                .arg(&elf)
                .arg(&obj),
        );
        // What QEMU's multiboot loader looks for: the magic in the
        // first 8 KiB, 4-byte aligned.
        let bytes = fs::read(&elf).unwrap();
        let magic = 0x1BAD_B002u32.to_le_bytes();
        let found = bytes[..bytes.len().min(8192)]
            .chunks_exact(4)
            .any(|w| w == magic);
        assert!(
            found,
            "{}: no multiboot header in the first 8 KiB",
            elf.display()
        );
        elf
    };
    Kernels {
        busy: build("busy"),
        idle: build("idle"),
        half: build("half"),
        _dir: dir,
    }
}

// ---------------------------------------------------------------- accel

/// How the guests run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// The `<domain type=...>` value.
    pub fn domain_type(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "qemu",
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "KVM",
            Accel::Tcg => "TCG",
        })
    }
}

/// `KVM_GET_API_VERSION`, `_IO(KVMIO, 0x00)`.
const KVM_GET_API_VERSION: libc::c_ulong = 0xAE00;
/// The only KVM API version there is.
const KVM_API_VERSION: libc::c_int = 12;

/// KVM when `/dev/kvm` opens read-write and answers with API version
/// 12, else TCG; with the reason.
pub fn accel() -> (Accel, String) {
    if std::env::var(ACCEL_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("tcg")) {
        return (Accel::Tcg, format!("{ACCEL_ENV}=tcg"));
    }
    let f = match fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        Ok(f) => f,
        Err(e) => return (Accel::Tcg, format!("/dev/kvm: {e}")),
    };
    // SAFETY: KVM_GET_API_VERSION takes no argument and only returns a
    // number; the descriptor is open for as long as `f` lives.
    let v = unsafe { libc::ioctl(f.as_raw_fd(), KVM_GET_API_VERSION as _, 0) };
    if v == KVM_API_VERSION {
        (Accel::Kvm, "/dev/kvm answers KVM_GET_API_VERSION 12".into())
    } else {
        (
            Accel::Tcg,
            format!(
                "/dev/kvm: KVM_GET_API_VERSION gave {v} ({})",
                std::io::Error::last_os_error()
            ),
        )
    }
}

// ---------------------------------------------------------------- guests

/// One tiny guest: a multiboot kernel and where its debugcon output goes.
#[derive(Clone, Debug)]
pub struct Guest {
    pub name: String,
    pub kernel: PathBuf,
    pub debugcon: PathBuf,
    pub accel: Accel,
    /// vCPUs (1 unless [`Guest::with_vcpus`]).
    pub vcpus: u32,
    /// The host CPU every vCPU and the emulator threads are pinned to.
    pub pin_cpu: Option<u32>,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

impl Guest {
    /// The same guest with every vCPU and the emulator threads pinned to
    /// host CPU `cpu` (`<vcpupin>`, `<emulatorpin>`).
    pub fn pinned(self, cpu: u32) -> Guest {
        Guest {
            pin_cpu: Some(cpu),
            ..self
        }
    }

    /// The same guest with `vcpus` vCPUs (the kernels run on the first;
    /// the others wait for a startup IPI that never comes, using no CPU).
    pub fn with_vcpus(self, vcpus: u32) -> Guest {
        assert!(vcpus >= 1, "a guest needs a vCPU");
        Guest { vcpus, ..self }
    }

    /// The `<cputune>` element of a pinned guest, else nothing.
    fn cputune(&self) -> String {
        let Some(cpu) = self.pin_cpu else {
            return String::new();
        };
        let mut s = String::from("  <cputune>\n");
        for v in 0..self.vcpus {
            s += &format!("    <vcpupin vcpu='{v}' cpuset='{cpu}'/>\n");
        }
        s += &format!("    <emulatorpin cpuset='{cpu}'/>\n  </cputune>\n");
        s
    }

    /// The domain XML.
    pub fn xml(&self) -> String {
        let kernel = xml_escape(&self.kernel.to_string_lossy());
        let debugcon = xml_escape(&format!("file:{}", self.debugcon.display()));
        format!(
            "<domain type='{ty}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>{MEMORY_MIB}</memory>
  <vcpu>{vcpus}</vcpu>
{cputune}  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='allow'>qemu64</model>
    <feature policy='disable' name='svm'/>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-debugcon'/>
    <qemu:arg value='{debugcon}'/>
  </qemu:commandline>
</domain>
",
            ty = self.accel.domain_type(),
            name = xml_escape(&self.name),
            vcpus = self.vcpus,
            cputune = self.cputune(),
        )
    }

    /// What the guest wrote to port 0xe9 so far.
    pub fn debugcon_text(&self) -> String {
        fs::read(&self.debugcon)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------- host

/// The `key=value` stats of one domain.
#[derive(Clone, Debug, Default)]
pub struct Stats(pub BTreeMap<String, String>);

impl Stats {
    /// The value of `key` as a number; fails the test when it is missing.
    pub fn u64(&self, key: &str) -> u64 {
        let v = self
            .0
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", self.0));
        v.parse().unwrap_or_else(|e| panic!("{key}={v}: {e}"))
    }
}

/// A harness daemon with a virtlogd next to it, and the guests defined
/// through it.
pub struct GuestHost {
    pub virsh: Virsh,
    /// Guests defined through [`GuestHost::define`] and not undefined.
    defined: Vec<String>,
    virtlogd: Option<Child>,
    dir: TempDir,
    /// Dropped last: the daemon (and the prefix lock) outlive the guests.
    pub daemon: Daemon,
}

fn virtlogd_sock() -> PathBuf {
    daemon::prefix().join("run/libvirt/virtlogd-sock")
}

impl GuestHost {
    /// Starts virtlogd for `daemon` (whose prefix lock it relies on) and
    /// removes leftover guests of a killed run.
    pub fn new(daemon: Daemon) -> GuestHost {
        assert!(
            !daemon.stock,
            "GuestHost runs next to the patched daemon in build/prefix"
        );
        let virsh = Virsh::new(&daemon.uri);
        let mut h = GuestHost {
            virsh,
            defined: Vec::new(),
            virtlogd: None,
            dir: TempDir::new("guests"),
            daemon,
        };
        h.start_virtlogd();
        h.remove_leftovers();
        h
    }

    fn start_virtlogd(&mut self) {
        let sock = virtlogd_sock();
        if UnixStream::connect(&sock).is_ok() {
            eprintln!("a virtlogd already answers on {}: using it", sock.display());
            return;
        }
        let dir = self.dir.path();
        let conf = dir.join("virtlogd.conf");
        fs::write(
            &conf,
            format!(
                "log_level = 3\nlog_outputs = \"3:file:{}\"\n",
                dir.join("virtlogd.log").display()
            ),
        )
        .unwrap();
        let out = File::create(dir.join("virtlogd.out")).unwrap();
        let mut cmd = Command::new(daemon::prefix().join("sbin/virtlogd"));
        cmd.arg("--config")
            .arg(&conf)
            .arg("--pid-file")
            .arg(dir.join("virtlogd.pid"))
            .env_remove("LIBVIRT_DEFAULT_URI")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        process::prepare_child(&mut cmd, false);
        let mut child = cmd.spawn().expect("cannot start virtlogd");
        let start = Instant::now();
        while UnixStream::connect(&sock).is_err() {
            if let Some(st) = child.try_wait().unwrap() {
                panic!(
                    "virtlogd exited with {st} before listening on {}:\n{}",
                    sock.display(),
                    fs::read_to_string(dir.join("virtlogd.out")).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "virtlogd does not listen on {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.virtlogd = Some(child);
    }

    /// Destroys and undefines every `lvp-guest-*` domain.
    fn remove_leftovers(&mut self) {
        let r = self.virsh.ok(&["list", "--all", "--name"]);
        for name in r.stdout.lines().map(str::trim) {
            if name.starts_with(NAME_PREFIX) {
                eprintln!("removing leftover guest {name}");
                let _ = self.virsh.run(&["destroy", name]);
                let _ = self.virsh.run(&["undefine", name]);
            }
        }
    }

    /// A guest of this host called `lvp-guest-<tag>` running `kernel`,
    /// with its debugcon file in this host's temp dir.
    pub fn guest(&self, tag: &str, kernel: &Path, accel: Accel) -> Guest {
        Guest {
            name: format!("{NAME_PREFIX}{tag}"),
            kernel: kernel.to_owned(),
            debugcon: self.dir.path().join(format!("{tag}.debugcon")),
            accel,
            vcpus: 1,
            pin_cpu: None,
        }
    }

    /// `virsh define` of the guest's XML.
    pub fn define(&mut self, g: &Guest) {
        let xml = self.dir.path().join(format!("{}.xml", g.name));
        fs::write(&xml, g.xml()).unwrap();
        self.virsh.ok(&["define", xml.to_str().unwrap()]);
        self.defined.push(g.name.clone());
    }

    /// `virsh start`, after emptying the debugcon file.
    pub fn start(&self, g: &Guest) -> Run {
        let _ = fs::remove_file(&g.debugcon);
        let r = self.virsh.run(&["start", &g.name]);
        assert!(r.ok(), "cannot start {}:\n{r}\n{}", g.name, self.logs(g));
        r
    }

    pub fn destroy(&self, g: &Guest) -> Run {
        self.virsh.ok(&["destroy", &g.name])
    }

    pub fn undefine(&mut self, g: &Guest) -> Run {
        let r = self.virsh.ok(&["undefine", &g.name]);
        self.defined.retain(|n| *n != g.name);
        r
    }

    /// The process id of the running guest's QEMU, from the pid file the
    /// QEMU driver writes (`run/libvirt/qemu/<name>.pid` of the prefix).
    pub fn qemu_pid(&self, g: &Guest) -> i32 {
        let path = daemon::prefix().join(format!("run/libvirt/qemu/{}.pid", g.name));
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (is {} running?)", path.display(), g.name));
        let pid: i32 = text
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", path.display()));
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert!(
            comm.starts_with("qemu"),
            "{}: pid {pid} is not a QEMU (comm {comm:?})",
            path.display()
        );
        pid
    }

    /// `virsh domstate`.
    pub fn state(&self, g: &Guest) -> String {
        self.virsh
            .ok(&["domstate", &g.name])
            .stdout
            .trim()
            .to_owned()
    }

    /// Waits until the guest's debugcon output holds `line`; the time
    /// from `since` until then. Fails the test `timeout` after `since` or
    /// when the guest stops.
    pub fn wait_debugcon(
        &self,
        g: &Guest,
        line: &str,
        since: Instant,
        timeout: Duration,
    ) -> Duration {
        let start = since;
        let mut checked = Instant::now();
        loop {
            if g.debugcon_text().contains(line) {
                return start.elapsed();
            }
            if checked.elapsed() > Duration::from_secs(1) {
                checked = Instant::now();
                let st = self.state(g);
                assert!(
                    st == "running",
                    "{} is {st} before writing {line:?}\n{}",
                    g.name,
                    self.logs(g)
                );
            }
            assert!(
                start.elapsed() < timeout,
                "{} wrote no {line:?} to debugcon in {timeout:?} (state {}; \
                 debugcon so far {:?})\n{}",
                g.name,
                self.state(g),
                g.debugcon_text(),
                self.logs(g)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `virsh domstats FLAGS NAMES...` of the guests: every `key=value`
    /// line of each domain, from one call.
    pub fn stats(&self, flags: &[&str], guests: &[&Guest]) -> BTreeMap<String, Stats> {
        let mut args = vec!["domstats"];
        args.extend(flags);
        args.extend(guests.iter().map(|g| g.name.as_str()));
        let r = self.virsh.ok(&args);
        let mut out: BTreeMap<String, Stats> = BTreeMap::new();
        let mut dom: Option<String> = None;
        for line in r.stdout.lines() {
            if let Some(rest) = line.strip_prefix("Domain: ") {
                let name = rest.trim().trim_matches('\'').to_owned();
                out.entry(name.clone()).or_default();
                dom = Some(name);
            } else if let Some((k, v)) = line.trim().split_once('=') {
                let d = dom
                    .as_ref()
                    .unwrap_or_else(|| panic!("{line:?} before any Domain: line\n{r}"));
                out.get_mut(d).unwrap().0.insert(k.to_owned(), v.to_owned());
            }
        }
        for g in guests {
            assert!(out.contains_key(&g.name), "no stats for {}:\n{r}", g.name);
        }
        out
    }

    /// `virsh rapl-limit --raw`: every field of the node getter.
    pub fn node_fields(&self) -> BTreeMap<String, String> {
        let r = self.virsh.ok(&["rapl-limit", "--raw"]);
        r.stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The accounting interval the running guests' energy stats name, if
    /// any guest has them.
    pub fn energy_tick(&self) -> Option<u64> {
        self.stats(&["--energy", "--list-running"], &[])
            .values()
            .filter_map(|s| s.0.get("energy.tick"))
            .map(|v| v.parse::<u64>().expect("energy.tick is a number"))
            .max()
    }

    /// The daemon's open descriptors and what they point to.
    pub fn daemon_fd_list(&self) -> BTreeMap<u32, String> {
        let dir = format!("/proc/{}/fd", self.daemon.pid());
        fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|e| {
                let e = e.ok()?;
                let fd = e.file_name().to_str()?.parse().ok()?;
                let target = fs::read_link(e.path()).ok()?;
                Some((fd, target.display().to_string()))
            })
            .collect()
    }

    /// The guest's QEMU log (written by virtlogd) and the daemon's tail.
    pub fn logs(&self, g: &Guest) -> String {
        let qlog = daemon::prefix().join(format!("var/log/libvirt/qemu/{}.log", g.name));
        let text = fs::read_to_string(&qlog).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(30);
        format!(
            "---- {} (last {} lines) ----\n{}\n{}",
            qlog.display(),
            lines.len() - from,
            lines[from..].join("\n"),
            self.daemon.tails()
        )
    }
}

impl Drop for GuestHost {
    fn drop(&mut self) {
        for name in std::mem::take(&mut self.defined) {
            let r = self.virsh.run(&["domstate", &name]);
            if r.ok() && r.stdout.trim() != "shut off" {
                let d = self.virsh.run(&["destroy", &name]);
                if !d.ok() {
                    eprintln!("cannot destroy {name}:\n{d}");
                }
            }
            let u = self.virsh.run(&["undefine", &name]);
            if !u.ok() {
                eprintln!("cannot undefine {name}:\n{u}");
            }
        }
        if let Some(mut child) = self.virtlogd.take()
            && process::terminate(&mut child, Duration::from_secs(10)).is_none()
        {
            eprintln!("virtlogd did not stop on SIGTERM; killed");
        }
    }
}

// ---------------------------------------------------------------- energy

/// A simulated host whose RAPL energy counters advance from this machine's
/// real load every 100 ms (`libvirt_power::sim::Runner`: real CPU N drives
/// the package of simulated CPU N), until dropped; the thread stops before
/// the tree goes. Tests can watch process groups (a guest's QEMU pid) and
/// read the runner's ground truth at any time.
pub struct EnergySource {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    runner: std::sync::Arc<std::sync::Mutex<libvirt_power::sim::Runner>>,
    pub host: daemon::SimHost,
}

impl EnergySource {
    pub fn start(host: daemon::SimHost) -> EnergySource {
        use std::sync::atomic::Ordering;
        let runner = libvirt_power::sim::Runner::new(&host.root).expect("sim runner");
        let runner = std::sync::Arc::new(std::sync::Mutex::new(runner));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, r) = (stop.clone(), runner.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let mut runner = r.lock().unwrap_or_else(|p| p.into_inner());
                runner.tick().expect("sim runner tick");
            }
        });
        EnergySource {
            stop,
            thread: Some(thread),
            runner,
            host,
        }
    }

    /// Charges process `pid` (all its threads) as group `name` from the
    /// next step on.
    pub fn watch(&self, name: &str, pid: i32) -> std::io::Result<()> {
        self.lock().watch(name, pid)
    }

    /// The ground truth so far: idle and dynamic energy per package,
    /// dynamic energy per watched group, cumulative, µJ.
    pub fn truth(&self) -> libvirt_power::sim::Truth {
        self.lock().truth()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, libvirt_power::sim::Runner> {
        self.runner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for EnergySource {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
