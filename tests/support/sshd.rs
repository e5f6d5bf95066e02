// SPDX-License-Identifier: LGPL-2.1-or-later
//! A private sshd on 127.0.0.1 for the `qemu+ssh://` tests: its own
//! config, host key and authorized key in a temp dir (`sshd -D -e -f
//! CONFIG`), and the client side to match: a key, a `known_hosts` that
//! holds exactly this sshd's host key, and an `ssh` wrapper that uses them
//! (libvirt's `command=` URI parameter), so the host key is checked and
//! nothing is read from or written to root's `~/.ssh`.
//!
//! Remote commands get `build/prefix/bin` first in PATH (`SetEnv`), so
//! libvirt's client finds the prefix's `virt-ssh-helper` on the far side,
//! which reaches the prefix's daemon sockets.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::common::TempDir;
use super::daemon::{free_port, prefix, run};
use super::process::{prepare_child, terminate};

const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";

/// `Err(reason)` unless the OpenSSH server and client are installed.
pub fn available() -> Result<(), String> {
    for bin in [SSHD, SSH, "/usr/bin/ssh-keygen"] {
        if !Path::new(bin).is_file() {
            return Err(format!(
                "{bin} is missing: run scripts/install-deps --tests"
            ));
        }
    }
    Ok(())
}

/// A running sshd; stopped and reaped on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    /// The key in `authorized_keys`.
    pub key: PathBuf,
    /// A key sshd does not know.
    pub stranger_key: PathBuf,
    /// Runs ssh with this sshd's known_hosts and no user config.
    pub ssh_wrapper: PathBuf,
    dir: TempDir,
}

fn keygen(path: &Path, comment: &str) {
    let r = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path));
    assert!(r.ok(), "ssh-keygen failed:\n{r}");
}

fn public(key: &Path) -> String {
    let p = key.with_extension("pub");
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl Sshd {
    /// Starts sshd on a free port of 127.0.0.1 and waits until it
    /// accepts connections.
    pub fn start() -> Sshd {
        let dir = TempDir::new("e2e-sshd");
        let d = dir.path().to_owned();
        let host_key = d.join("host_ed25519");
        let key = d.join("client_ed25519");
        let stranger_key = d.join("stranger_ed25519");
        keygen(&host_key, "libvirt-power test sshd");
        keygen(&key, "libvirt-power test client");
        keygen(&stranger_key, "libvirt-power test stranger");
        fs::write(d.join("authorized_keys"), public(&key)).unwrap();
        let port = free_port();
        // The temp dir is under a world-writable /tmp: StrictModes would
        // refuse the authorized_keys there.
        let config = d.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {host}\n\
                 PidFile none\n\
                 AuthorizedKeysFile {auth}\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PermitRootLogin prohibit-password\n\
                 AllowUsers root\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 SetEnv PATH={bin}:/usr/sbin:/usr/bin:/sbin:/bin\n\
                 LogLevel VERBOSE\n",
                host = host_key.display(),
                auth = d.join("authorized_keys").display(),
                bin = prefix().join("bin").display(),
            ),
        )
        .unwrap();
        fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}", public(&host_key)),
        )
        .unwrap();
        fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  \
                   UserKnownHostsFile {kh}\n  \
                   GlobalKnownHostsFile /dev/null\n  \
                   StrictHostKeyChecking yes\n  \
                   IdentitiesOnly yes\n  \
                   BatchMode yes\n  \
                   LogLevel ERROR\n",
                kh = d.join("known_hosts").display()
            ),
        )
        .unwrap();
        let ssh_wrapper = d.join("ssh");
        fs::write(
            &ssh_wrapper,
            format!(
                "#!/bin/sh\nexec {SSH} -F {} \"$@\"\n",
                d.join("ssh_config").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&ssh_wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        // sshd's privilege separation directory; the openssh-server
        // package makes it at boot (tmpfiles) or when its service starts.
        fs::create_dir_all("/run/sshd").unwrap();

        let log = fs::File::create(d.join("sshd.log")).unwrap();
        let mut cmd = Command::new(SSHD);
        cmd.args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        prepare_child(&mut cmd, false);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}"));
        let mut s = Sshd {
            child,
            port,
            key,
            stranger_key,
            ssh_wrapper,
            dir,
        };
        s.wait_listening();
        s
    }

    fn wait_listening(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!("sshd exited with {st}\n{}", self.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "sshd does not listen on 127.0.0.1:{} after 30 s\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `qemu+ssh://root@127.0.0.1:PORT/system` with `key`, through the
    /// wrapper, and `virt-ssh-helper` on the far side.
    pub fn uri(&self, key: &Path) -> String {
        format!(
            "qemu+ssh://root@127.0.0.1:{}/system?keyfile={}&command={}&proxy=native",
            self.port,
            key.display(),
            self.ssh_wrapper.display()
        )
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        let p = self.dir.path().join("sshd.log");
        format!(
            "---- sshd log ({}) ----\n{}",
            p.display(),
            fs::read_to_string(&p).unwrap_or_default()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if terminate(&mut self.child, Duration::from_secs(10)).is_none() {
            eprintln!("sshd did not stop on SIGTERM; killed");
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log());
        }
    }
}
