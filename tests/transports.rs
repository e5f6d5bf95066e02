// SPDX-License-Identifier: LGPL-2.1-or-later
//! The remote transports: the patched daemon (`build/prefix`) on a
//! simulated host, driven by the patched virsh over `qemu+tls://` (through
//! `virtproxyd`, certificates made by the test with openssl) and over
//! `qemu+ssh://` (a private sshd on 127.0.0.1 with keys the test makes;
//! `virt-ssh-helper` of the prefix on the far side), as the TCP test of
//! `e2e_daemon.rs` drives them: each setter changes exactly its files, the
//! getters read what the unix socket reads, each restore gives back the
//! original tree byte for byte. Clients without a valid credential are
//! refused: over TLS no client certificate or one from another CA, and a
//! client that does not trust the server's CA; over SSH a key sshd does
//! not know.
//!
//! Run as root (`cargo test --test transports`); `scripts/test` sets
//! `LIBVIRT_POWER_REQUIRE_E2E=1`, which turns the skips (not root, no
//! openssl or OpenSSH) into failures.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::daemon::{self, Daemon, Run, SimHost, Virsh};
use support::pki::{Pki, Role};
use support::sshd::{self, Sshd};

/// A setter on the acpi-cpufreq preset (4 CPUs, one policy each,
/// governor schedutil, 1.2-2.101 GHz; zone package-0 long_term 85 W /
/// 999424 us), the files it changes (`path=new line`; nothing else may
/// change) and its restore.
struct Setter {
    args: &'static str,
    changes: &'static [&'static str],
    restore: &'static str,
}

const POLICY: &str = "devices/system/cpu/cpufreq/policy";
const ZONE: &str = "devices/virtual/powercap/intel-rapl/intel-rapl:0";

const SETTERS: &[Setter] = &[
    Setter {
        args: "governor --cpu 0-1 --governor performance",
        changes: &[
            "0/scaling_governor=performance",
            "1/scaling_governor=performance",
        ],
        restore: "governor --cpu 0-1 --restore",
    },
    Setter {
        args: "frequency --cpu 2-3 --min 1.4GHz --max 2GHz",
        changes: &[
            "2/scaling_max_freq=2000000",
            "2/scaling_min_freq=1400000",
            "3/scaling_max_freq=2000000",
            "3/scaling_min_freq=1400000",
        ],
        restore: "frequency --restore",
    },
    Setter {
        args: "rapl-limit --zone package-0 --limit 50W --window 10ms",
        changes: &[
            "Z/constraint_0_power_limit_uw=50000000",
            "Z/constraint_0_time_window_us=10000",
        ],
        restore: "rapl-limit --zone package-0 --restore",
    },
    Setter {
        args: "rapl-limit --disable",
        changes: &["Z/enabled=0"],
        restore: "rapl-limit --restore",
    },
];

fn words(s: &str) -> Vec<&str> {
    s.split(' ').collect()
}

/// `changes` with the policy and zone directories spelled out.
fn expected(s: &Setter) -> BTreeMap<String, String> {
    s.changes
        .iter()
        .map(|c| {
            let (p, v) = c.split_once('=').unwrap();
            let p = match p.strip_prefix("Z/") {
                Some(rest) => format!("{ZONE}/{rest}"),
                None => format!("{POLICY}{p}"),
            };
            (p, format!("{v}\n"))
        })
        .collect()
}

/// The three getters' output, without rapl-limit's energy accounting
/// section (its interval number advances by itself).
fn tables(v: &Virsh) -> Vec<String> {
    ["frequency", "governor", "rapl-limit"]
        .iter()
        .map(|g| {
            let out = v.ok(&[g]).stdout;
            match out.find("\nEnergy accounting:") {
                Some(i) => out[..=i].to_owned(),
                None => out,
            }
        })
        .collect()
}

/// Drives every setter through `remote`: exactly its files change, the
/// getters over `remote` read what they read over `unix`, the restore
/// gives back the original tree.
fn drive(remote: &Virsh, unix: &Virsh, host: &SimHost, d: &mut Daemon) {
    let original = host.tree();
    let original_hash = host.hash();
    let before = tables(unix);
    assert!(
        before[0].contains("intel") || before[0].contains("acpi-cpufreq"),
        "{}",
        before[0]
    );
    assert_eq!(tables(remote), before, "{}: the getters", remote.uri);
    for s in SETTERS {
        let ctx = format!("{}: virsh {}", remote.uri, s.args);
        let r = remote.ok(&words(s.args));
        assert_eq!(host.changes(&original), expected(s), "{ctx}\n{r}");
        assert_eq!(tables(remote), tables(unix), "{ctx}: the getters after");
        let r = remote.ok(&words(s.restore));
        assert_eq!(
            host.hash(),
            original_hash,
            "{ctx}: `{}` left {:?}\n{r}",
            s.restore,
            host.changes(&original)
        );
        assert_eq!(tables(remote), before, "{ctx}: the getters after restore");
        d.assert_answers(remote);
    }
}

/// Fails unless `r` failed, says one of `why`, and the tree is unchanged.
fn assert_refused(r: &Run, why: &[&str], host: &SimHost, hash: u64) {
    assert!(
        !r.ok() && why.iter().any(|w| r.stderr.contains(w)),
        "expected a refusal saying one of {why:?}:\n{r}"
    );
    assert_eq!(host.hash(), hash, "a refused client changed the tree\n{r}");
}

fn with_pki(uri: &str, dir: &Path) -> String {
    format!("{uri}?pkipath={}", dir.display())
}

#[test]
fn tls_drives_setters_and_getters_and_refuses_clients_without_a_valid_certificate() {
    require_root!();
    if let Err(reason) = support::pki::available() {
        skip_or_fail!("{reason}");
    }
    daemon::require_patched();
    let pki = Pki::new();
    let ca = pki.ca("a");
    let server = pki.issue(&ca, Role::Server, "server");
    let client = pki.issue(&ca, Role::Client, "client");
    let other_ca = pki.ca("b");
    // Named like the server's CA: the client sends its certificate only
    // when its issuer is one the server asks for.
    let impostor_ca = pki.ca_as("impostor", "a");
    let impostor = pki.issue(&impostor_ca, Role::Client, "impostor-client");
    let stranger = pki.issue(&other_ca, Role::Client, "stranger");
    let good = pki.client_dir("good", &[&ca], Some(&client));

    let host = SimHost::plain("acpi-cpufreq");
    let mut d = Daemon::patched_tls(&host.root, &ca, &server, &good);
    let tls = d.tls_uri.clone().unwrap();
    let unix = Virsh::new(&d.uri);
    let remote = Virsh::new(&with_pki(&tls, &good));
    let r = remote.ok(&["uri"]);
    assert_eq!(r.stdout.trim(), remote.uri, "{r}");
    drive(&remote, &unix, &host, &mut d);

    // Refused: each client tries a getter and a setter. The server
    // refuses a client without a certificate and one whose certificate
    // another CA signed (the client trusts both CAs, so it presents it);
    // the client itself refuses to present a certificate its own CA file
    // does not vouch for, and a server its CA file does not vouch for.
    let hash = host.hash();
    struct Refusal<'a> {
        what: &'a str,
        pki: PathBuf,
        /// What virsh must say.
        client: &'a str,
        /// What virtproxyd must log.
        server: ServerLog<'a>,
    }
    enum ServerLog<'a> {
        /// It refused the client, saying this.
        Says(&'a str),
        /// The client refused before it connected.
        Nothing,
        /// Whatever: the client refuses the server after the handshake.
        Any,
    }
    let cases = [
        Refusal {
            what: "no client certificate",
            pki: pki.client_dir("no-cert", &[&ca], None),
            client: "TLS",
            server: ServerLog::Says("No certificate was found"),
        },
        Refusal {
            what: "a client certificate from another CA of the same name",
            pki: pki.client_dir("impostor", &[&ca, &impostor_ca], Some(&impostor)),
            client: "TLS",
            server: ServerLog::Says("hasn't got a known issuer"),
        },
        Refusal {
            what: "a client certificate its own CA file does not vouch for",
            pki: pki.client_dir("unvouched", &[&ca], Some(&stranger)),
            client: "Our own certificate",
            server: ServerLog::Nothing,
        },
        Refusal {
            what: "a client that does not trust the server's CA",
            pki: pki.client_dir("distrusts", &[&other_ca], Some(&stranger)),
            client: "Failed to verify peer's certificate",
            server: ServerLog::Any,
        },
    ];
    for case in &cases {
        let v = Virsh::new(&with_pki(&tls, &case.pki));
        let before = d.log_of("virtproxyd").len();
        for args in ["governor", "governor --cpu 0 --governor performance"] {
            let r = v.run(&words(args));
            println!(
                "refused, {}: {}",
                case.what,
                r.stderr.trim().replace('\n', " / ")
            );
            assert_refused(&r, &[case.client], &host, hash);
        }
        let log = d.log_of("virtproxyd")[before..].to_owned();
        match case.server {
            ServerLog::Says(why) => {
                assert!(
                    log.contains(why),
                    "{}: virtproxyd must log '{why}':\n{log}",
                    case.what
                );
                let line = log.lines().find(|l| l.contains(why)).unwrap_or_default();
                println!("  virtproxyd: {}", line.split(" : ").last().unwrap_or(line));
            }
            ServerLog::Nothing => assert!(
                !log.contains("error"),
                "{}: refused by the client, yet virtproxyd logged:\n{log}",
                case.what
            ),
            ServerLog::Any => {}
        }
        d.assert_answers(&remote);
    }
    d.assert_answers(&unix);
}

#[test]
fn ssh_drives_setters_and_getters_and_refuses_an_unknown_key() {
    require_root!();
    if let Err(reason) = sshd::available() {
        skip_or_fail!("{reason}");
    }
    daemon::require_patched();
    let host = SimHost::plain("acpi-cpufreq");
    let mut d = Daemon::patched(&host.root, false);
    let sshd = Sshd::start();
    let unix = Virsh::new(&d.uri);
    let remote = Virsh::new(&sshd.uri(&sshd.key));
    let r = remote.run(&["uri"]);
    assert!(r.ok(), "{r}\n{}", sshd.log());
    drive(&remote, &unix, &host, &mut d);

    let hash = host.hash();
    let v = Virsh::new(&sshd.uri(&sshd.stranger_key));
    for args in ["governor", "governor --cpu 0 --governor performance"] {
        let r = v.run(&words(args));
        println!(
            "refused, unknown key: {}",
            r.stderr.trim().replace('\n', " / ")
        );
        assert_refused(&r, &["Permission denied"], &host, hash);
    }
    d.assert_answers(&remote);
}
