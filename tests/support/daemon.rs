// SPDX-License-Identifier: LGPL-2.1-or-later
//! Private libvirt daemons on simulated hosts, and the patched virsh.
//!
//! - [`Daemon::patched`]: `build/prefix/sbin/virtqemud` as root in system
//!   mode with a config file of its own (logs in a temp dir), the sysfs
//!   root from `LIBVIRT_POWER_SYSFS_ROOT`; optionally `virtproxyd`
//!   listening on TCP 127.0.0.1 and forwarding to it. Their sockets live
//!   in the prefix's fixed run dir, so one such daemon runs at a time:
//!   a file lock on `build/prefix/run/.e2e.lock`, held until the daemon is
//!   dropped, serializes the tests of every test binary.
//!   [`Daemon::patched_tls`] has `virtproxyd` listen for TLS instead
//!   (certificates from `support::pki`).
//! - [`Daemon::stock`]: Debian's unpatched 11.3.0 daemon
//!   (`scripts/install-stock-libvirt`) with its sockets in a temp dir.
//! - [`SimHost`]: a simulated host tree, optionally mounted through FUSE
//!   (`virt-power sim mount`) so that writes get the kernel's answers.
//! - [`Virsh`]: runs the patched virsh under `timeout`.
//!
//! Daemons and mounts are stopped and reaped on drop, also when a test
//! panics; then the daemons' log tails are printed.
//!
//! Prerequisites: root and FUSE may be missing (the test prints
//! `skipped: <reason>` and returns) unless `LIBVIRT_POWER_REQUIRE_E2E=1`,
//! which makes them failures; an unbuilt or unpatched `build/prefix` is
//! always a failure that says to run `scripts/build-libvirt`.
//!
//! `E2E_TRACE=1` prints every command with its run time (`--nocapture`).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::{self, TempDir};
use super::fuse::SimMount;
use super::process::{prepare_child, terminate};

/// Set to `1` (by `scripts/test`) to turn skips into failures.
pub const REQUIRE_ENV: &str = "LIBVIRT_POWER_REQUIRE_E2E";

/// How long one virsh call may take before the test fails.
const VIRSH_TIMEOUT_S: u32 = 60;
/// How long a daemon may take to answer after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// Returns from the calling test with `skipped: <reason>`, or fails it
/// when `LIBVIRT_POWER_REQUIRE_E2E=1`.
#[macro_export]
macro_rules! skip_or_fail {
    ($($arg:tt)*) => {{
        let reason = format!($($arg)*);
        if $crate::support::daemon::required() {
            panic!("{reason} ({}=1: every end-to-end prerequisite must be met)",
                $crate::support::daemon::REQUIRE_ENV);
        }
        eprintln!("skipped: {reason}");
        return;
    }};
}

/// Skips (or fails) the calling test unless it runs as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if let Err(reason) = $crate::support::daemon::root() {
            $crate::skip_or_fail!("{reason}");
        }
    };
}

/// `Err(reason)` unless this process runs as root.
pub fn root() -> Result<(), String> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        Ok(())
    } else {
        Err(format!(
            "not root (euid {uid}): the daemons run in system mode"
        ))
    }
}

/// The libvirt install prefix `scripts/build-libvirt` fills.
pub fn prefix() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("build/prefix")
}

pub fn virsh_bin() -> PathBuf {
    prefix().join("bin/virsh")
}

/// Panics unless `build/prefix` holds a libvirt build.
pub fn require_prefix() {
    for rel in ["bin/virsh", "sbin/virtqemud", "sbin/virtproxyd"] {
        let p = prefix().join(rel);
        assert!(
            p.is_file(),
            "libvirt is not built in {}: {} is missing; run scripts/build-libvirt",
            prefix().display(),
            p.display()
        );
    }
}

/// Panics unless the prefix's virsh has the power commands.
pub fn require_patched() {
    require_prefix();
    for cmd in ["frequency", "governor", "rapl-limit"] {
        let r = run(virsh_command(&[]).args(["help", cmd]));
        assert!(
            r.ok(),
            "{} has no '{cmd}' command: the libvirt in build/prefix is not the patched \
             one; run scripts/build-libvirt\n{r}",
            virsh_bin().display()
        );
    }
}

// ---------------------------------------------------------------- commands

/// What a command did.
pub struct Run {
    pub argv: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit {:?} after {:.2?}\n--- stdout\n{}--- stderr\n{}---",
            self.argv, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// `prog` under `timeout`, with a clean libvirt environment.
pub fn timed(prog: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.args(["--kill-after=5", &VIRSH_TIMEOUT_S.to_string()])
        .arg(prog)
        .env("LC_ALL", "C")
        .env_remove("LIBVIRT_DEFAULT_URI")
        .env_remove("VIRSH_DEFAULT_CONNECT_URI")
        .env_remove("LIBVIRT_POWER_SYSFS_ROOT")
        .stdin(Stdio::null());
    c
}

/// The patched virsh with `args` before the command.
pub fn virsh_command(args: &[&str]) -> Command {
    let mut c = timed(&virsh_bin());
    c.args(args);
    c
}

/// Runs `cmd` to the end; a timeout fails the test.
pub fn run(cmd: &mut Command) -> Run {
    let argv = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv}: {e}"));
    let r = Run {
        argv,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    };
    if std::env::var_os("E2E_TRACE").is_some() {
        eprintln!("{:>8.3?} {}", r.elapsed, r.argv);
    }
    assert!(
        r.code != Some(124) && r.code != Some(137),
        "timed out after {VIRSH_TIMEOUT_S} s:\n{r}"
    );
    r
}

/// The patched virsh on one connection URI.
#[derive(Clone)]
pub struct Virsh {
    pub uri: String,
    pub readonly: bool,
}

impl Virsh {
    pub fn new(uri: &str) -> Virsh {
        Virsh {
            uri: uri.to_owned(),
            readonly: false,
        }
    }

    /// The same URI, read-only (`virsh -r`).
    pub fn ro(&self) -> Virsh {
        Virsh {
            readonly: true,
            ..self.clone()
        }
    }

    /// `virsh -c URI [-r] ARGS...`
    pub fn run(&self, args: &[&str]) -> Run {
        let mut c = virsh_command(&["-c", &self.uri]);
        if self.readonly {
            c.arg("-r");
        }
        run(c.args(args))
    }

    /// Like [`Virsh::run`], failing the test unless virsh exits 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.ok(), "expected success:\n{r}");
        r
    }
}

// ---------------------------------------------------------------- daemons

struct Proc {
    name: &'static str,
    /// How it was started, to start it again.
    cmd: Command,
    child: Child,
    dir: PathBuf,
}

impl Proc {
    /// The last lines of the daemon's log file and of its stdout/stderr.
    fn tail(&self) -> String {
        let mut s = String::new();
        for (what, file) in [("log", "log"), ("stdout/stderr", "out")] {
            let path = self.dir.join(format!("{}.{file}", self.name));
            let text = fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(40);
            s += &format!(
                "---- {} {what} ({}), last {} lines ----\n{}\n",
                self.name,
                path.display(),
                lines.len() - from,
                lines[from..].join("\n")
            );
        }
        s
    }

    /// SIGTERM, then SIGKILL after 10 s; reaps the child.
    fn stop(&mut self) {
        if terminate(&mut self.child, Duration::from_secs(10)).is_none() {
            eprintln!("{} did not stop on SIGTERM; killed", self.name);
        }
    }
}

/// Exclusive use of the prefix's run dir, for as long as the file is open.
fn lock_prefix() -> File {
    let path = prefix().join("run/.e2e.lock");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = Instant::now();
    let mut said = false;
    loop {
        // SAFETY: flock(2) on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return f;
        }
        if !said {
            eprintln!("waiting for {} (another e2e daemon runs)", path.display());
            said = true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "{} held for 10 minutes",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// libvirt's client looks for the system sockets under
/// `LOCALSTATEDIR/run/libvirt` (remote_sockets.c deliberately uses
/// LOCALSTATEDIR, not RUNSTATEDIR), while the daemons create them under
/// RUNSTATEDIR. On a real system `/var/run` links to `/run`; give the
/// prefix the same link so `qemu:///system` (and virtproxyd, which forwards
/// to virtqemud with that URI) finds `build/prefix/run/libvirt`.
fn link_var_run() {
    let var_run = prefix().join("var/run");
    if fs::symlink_metadata(&var_run).is_err() {
        fs::create_dir_all(prefix().join("var")).unwrap();
        match std::os::unix::fs::symlink("../run", &var_run) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => panic!("{}: {e}", var_run.display()),
        }
    }
    assert_eq!(
        fs::canonicalize(&var_run).ok(),
        fs::canonicalize(prefix().join("run")).ok(),
        "{} must be (a link to) {}: the client looks for the system sockets there",
        var_run.display(),
        prefix().join("run").display()
    );
}

/// A TCP port of 127.0.0.1 nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port on 127.0.0.1")
        .port()
}

/// A running daemon (and its TCP proxy): stopped, reaped and its files
/// removed on drop.
pub struct Daemon {
    procs: Vec<Proc>,
    /// URI of the unix socket.
    pub uri: String,
    /// `qemu+tcp://127.0.0.1:PORT/system` when started with TCP.
    pub tcp_uri: Option<String>,
    /// `qemu+tls://127.0.0.1:PORT/system` (add `?pkipath=DIR`) when
    /// started by [`Daemon::patched_tls`].
    pub tls_uri: Option<String>,
    /// Whether this is Debian's stock daemon.
    pub stock: bool,
    dir: TempDir,
    /// The prefix's qemu.conf as it was, put back on drop.
    qemu_conf: Option<(PathBuf, Vec<u8>)>,
    /// Extra environment of the daemon processes.
    env: Vec<(String, std::ffi::OsString)>,
    _lock: Option<File>,
}

impl Daemon {
    /// The patched `virtqemud` from build/prefix reading the host's sysfs
    /// from `sysfs`; with `tcp`, also `virtproxyd` on 127.0.0.1.
    pub fn patched(sysfs: &Path, tcp: bool) -> Daemon {
        Daemon::patched_with(sysfs, tcp, "")
    }

    /// [`Daemon::patched`] with `qemu_conf` (settings such as
    /// `power_accounting = 0`) appended to the prefix's qemu.conf for this
    /// daemon's life (the driver reads no other file); the file is put
    /// back on drop.
    pub fn patched_with(sysfs: &Path, tcp: bool, qemu_conf: &str) -> Daemon {
        Daemon::patched_with_env(sysfs, tcp, qemu_conf, &[])
    }

    /// [`Daemon::patched_with`] with `env` added to the daemons'
    /// environment (e.g. `LD_PRELOAD`).
    pub fn patched_with_env(
        sysfs: &Path,
        tcp: bool,
        qemu_conf: &str,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Daemon {
        require_prefix();
        let lock = lock_prefix();
        let conf_path = prefix().join("etc/libvirt/qemu.conf");
        // What a killed run appended is not part of the original.
        let marker = "\n# libvirt-power test harness\n";
        let text = fs::read_to_string(&conf_path).unwrap_or_default();
        let original = text.split(marker).next().unwrap_or("").as_bytes().to_vec();
        if original.len() != text.len() {
            fs::write(&conf_path, &original)
                .unwrap_or_else(|e| panic!("{}: {e}", conf_path.display()));
        }
        let mut conf = original.clone();
        conf.extend_from_slice(marker.as_bytes());
        conf.extend_from_slice(qemu_conf.as_bytes());
        conf.push(b'\n');
        if !qemu_conf.is_empty() {
            fs::write(&conf_path, &conf).unwrap_or_else(|e| panic!("{}: {e}", conf_path.display()));
        }
        link_var_run();
        let run_dir = prefix().join("run");
        let sock = run_dir.join("libvirt/virtqemud-sock");
        assert!(
            UnixStream::connect(&sock).is_err(),
            "another virtqemud answers on {} (pid file {}): stop it first",
            sock.display(),
            run_dir.join("virtqemud.pid").display()
        );
        // The original-state journal of a previous daemon refers to
        // another test's tree: start from none.
        let journal = run_dir.join("libvirt/qemu/power");
        match fs::remove_dir_all(&journal) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                panic!("{}: {e}", journal.display())
            }
            _ => {}
        }
        let mut d = Daemon {
            procs: Vec::new(),
            uri: "qemu:///system".into(),
            tcp_uri: None,
            tls_uri: None,
            stock: false,
            dir: TempDir::new("e2e-daemon"),
            qemu_conf: (!qemu_conf.is_empty()).then_some((conf_path, original)),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            _lock: Some(lock),
        };
        // The default pid file in the prefix: a second virtqemud on the
        // same run dir (one not started by these tests) refuses to start.
        d.spawn(
            "virtqemud",
            &prefix().join("sbin/virtqemud"),
            "",
            Some(sysfs),
            false,
        );
        d.wait_answers(0, &d.uri.clone());
        if tcp {
            let port = free_port();
            d.spawn(
                "virtproxyd",
                &prefix().join("sbin/virtproxyd"),
                &format!(
                    "listen_tcp = 1\nlisten_tls = 0\nlisten_addr = \"127.0.0.1\"\n\
                     tcp_port = \"{port}\"\nauth_tcp = \"none\"\n"
                ),
                None,
                false,
            );
            let uri = format!("qemu+tcp://127.0.0.1:{port}/system");
            d.wait_answers(1, &uri);
            d.tcp_uri = Some(uri);
        }
        d
    }

    /// [`Daemon::patched`] with `virtproxyd` listening for TLS on
    /// 127.0.0.1 (`tls_uri`), presenting `server` and accepting clients
    /// whose certificates `ca` signed (`auth_tls = "none"`: the
    /// certificate is the credential). The daemon must answer a client
    /// with the `pkipath` directory `client_pki`.
    pub fn patched_tls(
        sysfs: &Path,
        ca: &super::pki::Cert,
        server: &super::pki::Cert,
        client_pki: &Path,
    ) -> Daemon {
        let mut d = Daemon::patched(sysfs, false);
        let port = free_port();
        d.spawn(
            "virtproxyd",
            &prefix().join("sbin/virtproxyd"),
            &format!(
                "listen_tcp = 0\nlisten_tls = 1\nlisten_addr = \"127.0.0.1\"\n\
                 tls_port = \"{port}\"\nauth_tls = \"none\"\n\
                 ca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                ca.cert.display(),
                server.cert.display(),
                server.key.display()
            ),
            None,
            false,
        );
        let uri = format!("qemu+tls://127.0.0.1:{port}/system");
        d.wait_answers(1, &format!("{uri}?pkipath={}", client_pki.display()));
        d.tls_uri = Some(uri);
        d
    }

    /// Debian's stock libvirt 11.3.0 daemon (installed by
    /// `scripts/install-stock-libvirt`), sockets and pid file in a temp dir.
    pub fn stock() -> Daemon {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-stock-libvirt");
        let r = run(&mut Command::new(&script));
        assert!(r.ok(), "installing the stock daemon failed:\n{r}");
        // Last line: "/usr/sbin/NAME: /usr/sbin/NAME (libvirt) 11.3.0".
        let bin = PathBuf::from(
            r.stdout
                .lines()
                .last()
                .and_then(|l| l.split(':').next())
                .unwrap_or_else(|| panic!("unexpected output:\n{r}")),
        );
        let name: &'static str = if bin.ends_with("virtqemud") {
            "virtqemud"
        } else {
            "libvirtd"
        };
        let mut d = Daemon {
            procs: Vec::new(),
            uri: String::new(),
            tcp_uri: None,
            tls_uri: None,
            stock: true,
            dir: TempDir::new("e2e-stock"),
            qemu_conf: None,
            env: Vec::new(),
            _lock: None,
        };
        let dir = d.dir.path().to_owned();
        d.spawn(
            name,
            &bin,
            &format!("unix_sock_dir = \"{}\"\n", dir.display()),
            None,
            true,
        );
        let sock = if name == "virtqemud" {
            "virtqemud-sock"
        } else {
            "libvirt-sock"
        };
        d.uri = format!("qemu:///system?socket={}/{sock}", dir.display());
        d.wait_answers(0, &d.uri.clone());
        d
    }

    /// Starts `bin` with a config file of its own (`extra` appended),
    /// logging into the temp dir.
    fn spawn(
        &mut self,
        name: &'static str,
        bin: &Path,
        extra: &str,
        sysfs: Option<&Path>,
        private_pid_file: bool,
    ) {
        let dir = self.dir.path().to_owned();
        let conf = dir.join(format!("{name}.conf"));
        fs::write(
            &conf,
            format!(
                "log_level = 3\n\
                 log_filters = \"1:power 1:qemu.qemu_driver\"\n\
                 log_outputs = \"1:file:{}\"\n{extra}",
                dir.join(format!("{name}.log")).display()
            ),
        )
        .unwrap();
        let out = File::create(dir.join(format!("{name}.out"))).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("--config").arg(&conf);
        if private_pid_file {
            cmd.arg("--pid-file").arg(dir.join(format!("{name}.pid")));
        }
        match sysfs {
            Some(root) => cmd.env("LIBVIRT_POWER_SYSFS_ROOT", root),
            None => cmd.env_remove("LIBVIRT_POWER_SYSFS_ROOT"),
        };
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.env_remove("LIBVIRT_DEFAULT_URI")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        prepare_child(&mut cmd, true);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.procs.push(Proc {
            name,
            cmd,
            child,
            dir,
        });
    }

    /// Stops the daemon (not the TCP proxy) and starts it again with the
    /// same configuration and state (the power journal survives).
    pub fn restart(&mut self) {
        let p = &mut self.procs[0];
        p.stop();
        p.child = p
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot restart {}: {e}", p.name));
        self.wait_answers(0, &self.uri.clone());
    }

    /// Polls `virsh -c uri uri` until it succeeds; fails the test if the
    /// daemon `procs[i]` exits first or does not answer in time.
    fn wait_answers(&mut self, i: usize, uri: &str) {
        let start = Instant::now();
        let v = Virsh::new(uri);
        loop {
            if let Some(st) = self.procs[i].child.try_wait().unwrap() {
                panic!(
                    "{} exited with {st} before answering on {uri}\n{}",
                    self.procs[i].name,
                    self.procs[i].tail()
                );
            }
            let r = v.run(&["uri"]);
            if r.ok() {
                return;
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "{} does not answer on {uri} after {START_TIMEOUT:?}:\n{r}\n{}",
                self.procs[i].name,
                self.procs[i].tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fails the test unless every process still runs and `virsh` gets
    /// an answer from the hypervisor driver (`nodeinfo`).
    pub fn assert_answers(&mut self, virsh: &Virsh) {
        for p in &mut self.procs {
            if let Some(st) = p.child.try_wait().unwrap() {
                panic!("{} died ({st})\n{}", p.name, p.tail());
            }
        }
        let r = virsh.run(&["nodeinfo"]);
        assert!(
            r.ok() && r.stdout.contains("CPU(s):"),
            "the daemon does not answer any more:\n{r}\n{}",
            self.tails()
        );
    }

    /// Process id of the daemon (not the proxy).
    pub fn pid(&self) -> u32 {
        self.procs[0].child.id()
    }

    /// The log tails of all processes.
    pub fn tails(&self) -> String {
        self.procs.iter().map(Proc::tail).collect()
    }

    /// The whole private log of the process `name` (`virtqemud`,
    /// `virtproxyd`).
    pub fn log_of(&self, name: &str) -> String {
        let path = self.dir.path().join(format!("{name}.log"));
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The daemon's private log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.procs[0].name))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        for p in self.procs.iter_mut().rev() {
            let early = p.child.try_wait().ok().flatten();
            p.stop();
            if let Some(st) = early {
                eprintln!("{} had exited on its own ({st})\n{}", p.name, p.tail());
            } else if panicking {
                eprintln!("{}", p.tail());
            }
        }
        if let Some((path, original)) = self.qemu_conf.take()
            && let Err(e) = fs::write(&path, original)
        {
            eprintln!("cannot put back {}: {e}", path.display());
        }
    }
}

// ---------------------------------------------------------------- hosts

/// A simulated host: the tree (`backing`) and what the daemon reads
/// (`root`: the tree itself, or its FUSE mount).
pub struct SimHost {
    pub backing: PathBuf,
    pub root: PathBuf,
    /// Declared before `dir`: unmounted before the files are removed.
    mount: Option<SimMount>,
    dir: TempDir,
}

impl SimHost {
    /// A tree of plain files: stores whatever is written.
    pub fn plain(preset: &str) -> SimHost {
        let (dir, backing, _state) = common::sim_host(preset);
        SimHost {
            root: backing.clone(),
            backing,
            mount: None,
            dir,
        }
    }

    /// The tree mounted with `virt-power sim mount`, answering writes like
    /// the kernel; `Err` is why FUSE is unavailable.
    pub fn fuse(preset: &str) -> Result<SimHost, String> {
        let mut h = SimHost::plain(preset);
        let mnt = h.dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let mount = SimMount::start(&h.backing, &mnt, &h.dir.path().join("mount.log"))
            .map_err(|reason| format!("FUSE unavailable: {reason}"))?;
        h.mount = Some(mount);
        h.root = mnt;
        Ok(h)
    }

    /// Every entry of the tree (not through the mount).
    pub fn tree(&self) -> BTreeMap<String, String> {
        common::tree(&self.backing)
    }

    pub fn hash(&self) -> u64 {
        common::tree_hash(&self.backing)
    }

    /// Paths that differ from `before` (a [`SimHost::tree`]), with their
    /// contents now.
    pub fn changes(&self, before: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        common::diff(before, &self.tree())
            .into_iter()
            .map(|p| {
                let now =
                    fs::read_to_string(self.backing.join(&p)).unwrap_or_else(|e| format!("<{e}>"));
                (p, now)
            })
            .collect()
    }

    /// A file of the tree (not through the mount).
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.backing.join(rel))
            .unwrap_or_else(|e| panic!("{}: {e}", self.backing.join(rel).display()))
    }
}
