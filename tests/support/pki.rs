// SPDX-License-Identifier: LGPL-2.1-or-later
//! TLS certificates for the `qemu+tls://` tests, made with `openssl` in a
//! temp dir: certificate authorities, a server certificate for 127.0.0.1
//! and client certificates, with the key usages and purposes libvirt
//! checks (docs/kbase/tlscerts.rst), and client `pkipath` directories in
//! the layout libvirt's client reads (`cacert.pem`, `clientcert.pem`,
//! `clientkey.pem`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::common::TempDir;
use super::daemon::run;

/// Extensions of each kind of certificate (openssl config sections).
const CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// A certificate and its key.
#[derive(Clone, Debug)]
pub struct Cert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What a certificate is for (the config section it gets).
#[derive(Clone, Copy, Debug)]
pub enum Role {
    Server,
    Client,
}

/// A directory of certificates; removed on drop.
pub struct Pki {
    dir: TempDir,
    serial: AtomicU32,
}

/// `Err(reason)` unless `openssl` runs.
pub fn available() -> Result<(), String> {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("openssl version failed: {o:?}")),
        Err(e) => Err(format!(
            "openssl is missing ({e}): run scripts/install-deps --tests"
        )),
    }
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new("e2e-pki");
        fs::write(dir.path().join("openssl.cnf"), CONFIG).unwrap();
        Pki {
            dir,
            serial: AtomicU32::new(1),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn openssl(&self, args: &[&str]) {
        let r = run(Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path()));
        assert!(r.ok(), "openssl failed:\n{r}");
    }

    /// A self-signed certificate authority named `name`.
    pub fn ca(&self, name: &str) -> Cert {
        self.ca_as(name, name)
    }

    /// A self-signed certificate authority in the files `name` with the
    /// subject of [`Pki::ca`]`(subject)`: another key under a known name.
    pub fn ca_as(&self, name: &str, subject: &str) -> Cert {
        let c = self.files(name);
        self.openssl(&[
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-extensions",
            "ca",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            &format!("/CN=libvirt-power test CA {subject}"),
            "-keyout",
            &c.key.to_string_lossy(),
            "-out",
            &c.cert.to_string_lossy(),
        ]);
        c
    }

    /// A certificate for `role` named `name`, signed by `ca`.
    pub fn issue(&self, ca: &Cert, role: Role, name: &str) -> Cert {
        let c = self.files(name);
        let csr = self.dir.path().join(format!("{name}.csr"));
        let cn = match role {
            Role::Server => "127.0.0.1".to_owned(),
            Role::Client => format!("libvirt-power test client {name}"),
        };
        self.openssl(&[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/O=libvirt-power tests/CN={cn}"),
            "-keyout",
            &c.key.to_string_lossy(),
            "-out",
            &csr.to_string_lossy(),
        ]);
        let serial = self.serial.fetch_add(1, Ordering::Relaxed).to_string();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr.to_string_lossy(),
            "-CA",
            &ca.cert.to_string_lossy(),
            "-CAkey",
            &ca.key.to_string_lossy(),
            "-set_serial",
            &serial,
            "-days",
            "30",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            match role {
                Role::Server => "server",
                Role::Client => "client",
            },
            "-out",
            &c.cert.to_string_lossy(),
        ]);
        c
    }

    /// A client `pkipath` directory named `name` trusting the authorities
    /// `cas` (one `cacert.pem`), with `client` as its certificate (or
    /// none).
    pub fn client_dir(&self, name: &str, cas: &[&Cert], client: Option<&Cert>) -> PathBuf {
        let d = self.dir.path().join(name);
        fs::create_dir(&d).unwrap();
        let bundle: Vec<u8> = cas
            .iter()
            .flat_map(|ca| fs::read(&ca.cert).unwrap())
            .collect();
        fs::write(d.join("cacert.pem"), bundle).unwrap();
        if let Some(c) = client {
            fs::copy(&c.cert, d.join("clientcert.pem")).unwrap();
            fs::copy(&c.key, d.join("clientkey.pem")).unwrap();
        }
        d
    }

    fn files(&self, name: &str) -> Cert {
        Cert {
            cert: self.dir.path().join(format!("{name}-cert.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
        }
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}
