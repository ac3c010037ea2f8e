//! A real PostgreSQL server for the store tests: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port, stopped when dropped.
//! Under root the server runs as the `postgres` user (PostgreSQL refuses
//! root). The server comes from Debian's `postgresql` package
//! (scripts/install-test-deps.sh).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server; stopped on drop.
pub(crate) struct PostgresServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no PostgreSQL server (initdb): run scripts/install-test-deps.sh")
}

impl PostgresServer {
    /// Starts a fresh server.
    pub(crate) fn start() -> PostgresServer {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("callplane-pg-")
            .tempdir()
            .expect("temp dir");
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let status = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the PostgreSQL dir to postgres");
        }
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let server = PostgresServer {
            bin,
            data: dir.path().join("data"),
            port,
            as_postgres,
            _dir: dir,
        };
        let data = server.data.display().to_string();
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "callplane",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let sockets = server
            .data
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .display()
            .to_string();
        let options = format!("-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off");
        let log = server
            .data
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .join("server.log");
        server.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        server
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("{tool}: {err}"));
        assert!(
            output.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// How to connect.
    pub(crate) fn connection_string(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=callplane dbname=postgres",
            self.port
        )
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let program = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
