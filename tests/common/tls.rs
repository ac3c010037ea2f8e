//! TLS for the end-to-end tests: certificates made at test time with the
//! `openssl` CLI (a CA, a server certificate for 127.0.0.1 it signs, and a
//! client certificate from another CA), and stunnel, which carries sipp's
//! TCP over TLS (the Debian sipp is built without TLS).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ports;

/// The certificate files of one test, in its directory.
pub struct Certs {
    /// The CA callplane's certificate chains to.
    pub ca: PathBuf,
    /// callplane's certificate (subjectAltName IP:127.0.0.1) and key.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate and key signed by the trusted CA.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate and key from a CA nobody trusts.
    pub rogue_cert: PathBuf,
    pub rogue_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn make_leaf(dir: &Path, ca: &str, name: &str, san: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    fs::write(
        dir.join(format!("{name}.ext")),
        format!("subjectAltName={san}\n"),
    )
    .expect("write the extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

impl Certs {
    /// Makes every certificate in `dir`.
    pub fn make(dir: &Path) -> Certs {
        make_ca(dir, "ca");
        make_ca(dir, "rogue-ca");
        make_leaf(dir, "ca", "server", "IP:127.0.0.1");
        make_leaf(dir, "ca", "client", "IP:127.0.0.1");
        make_leaf(dir, "rogue-ca", "rogue", "IP:127.0.0.1");
        Certs {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            rogue_cert: dir.join("rogue.pem"),
            rogue_key: dir.join("rogue.key"),
        }
    }

    /// The `[sip]` keys of a server on TLS port `port` with these certificates.
    pub fn sip_config(&self, port: u16, verify_clients: bool) -> String {
        format!(
            "[sip]\ntls = \"127.0.0.1:{port}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\ntls_ca = \"{}\"\ntls_verify_clients = {verify_clients}\n",
            self.server_cert.display(),
            self.server_key.display(),
            self.ca.display()
        )
    }
}

/// A free TCP port on 127.0.0.1.
pub fn tcp_port() -> u16 {
    loop {
        let port = ports::udp_port();
        if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// One stunnel process, stopped when dropped.
pub struct Stunnel {
    child: Child,
    /// Where it accepts.
    pub accept: SocketAddr,
    log: PathBuf,
}

/// What one stunnel service does.
pub enum Mode<'a> {
    /// Accepts TCP, connects with TLS to `connect`, verifying its
    /// certificate against `ca` for 127.0.0.1, and presents `cert`/`key`.
    Client {
        connect: SocketAddr,
        ca: &'a Path,
        cert: &'a Path,
        key: &'a Path,
    },
    /// Accepts TLS with `cert`/`key`, connects with TCP to `connect`.
    Server {
        connect: SocketAddr,
        cert: &'a Path,
        key: &'a Path,
    },
}

impl Stunnel {
    /// Starts stunnel in `dir` and waits until it accepts.
    pub fn start(dir: &Path, name: &str, mode: Mode<'_>) -> Stunnel {
        let accept = SocketAddr::from((Ipv4Addr::LOCALHOST, tcp_port()));
        let log = dir.join(format!("{name}-stunnel.log"));
        let service = match mode {
            Mode::Client {
                connect,
                ca,
                cert,
                key,
            } => format!(
                "client = yes\naccept = {accept}\nconnect = {connect}\nCAfile = {}\nverifyChain = yes\ncheckIP = 127.0.0.1\ncert = {}\nkey = {}\n",
                ca.display(),
                cert.display(),
                key.display()
            ),
            Mode::Server { connect, cert, key } => format!(
                "accept = {accept}\nconnect = {connect}\ncert = {}\nkey = {}\n",
                cert.display(),
                key.display()
            ),
        };
        let conf = dir.join(format!("{name}-stunnel.conf"));
        fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = info\noutput = {}\n[{name}]\n{service}",
                log.display()
            ),
        )
        .expect("write the stunnel config");
        let child = Command::new("stunnel4")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run stunnel4 (Debian package stunnel4)");
        let stunnel = Stunnel { child, accept, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(accept).is_err() {
            assert!(
                Instant::now() < deadline,
                "stunnel does not accept on {accept}: {}",
                stunnel.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        stunnel
    }

    /// Its log.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
