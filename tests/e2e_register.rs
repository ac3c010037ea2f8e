//! Registering with a carrier: `callplane serve` with a `[[trunk]]` that has
//! `register = true` registers with a sipp registrar that challenges it,
//! verifies the digest itself, grants a short expiry and checks the refresh.
//! Two shards, so the registration's Call-ID must hash to the shard that keeps
//! it for the responses to come home. The trunk's `transport` carries it: over
//! TCP to sipp on TCP, and over TLS to stunnel (presenting a certificate made
//! at test time, which callplane verifies) in front of sipp on TCP.

mod common;

use std::thread;
use std::time::Duration;

use common::tls::{tcp_port, Certs, Mode, Stunnel};
use common::{for_each_backend, Backend, Server, ServerOptions, Sipp, TestDir};

fn register(backend: Backend, password: &str) -> (common::SippRun, String) {
    let dir = TestDir::new(&format!("register-{password}"));
    let registrar = Sipp::new("uas_register.xml", "registrar", dir.path())
        .set("user", "trunk1")
        .set("password", "s3cret")
        .timeout(Duration::from_secs(20));
    let registrar_addr = registrar.sip_addr();
    let registrar = thread::spawn(move || registrar.run());
    let options = ServerOptions {
        shards: Some(2),
        config: Some(format!(
            "[[trunk]]\nname = \"carrier\"\nregister = true\nproxy = \"{registrar_addr}\"\n\
registrar = \"sip:carrier.example\"\nusername = \"trunk1\"\npassword = \"{password}\"\n\
register_expires_s = 600\n"
        )),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    let run = registrar.join().expect("sipp thread");
    (run, server.log())
}

fn registers_and_refreshes(backend: Backend) {
    let (run, log) = register(backend, "s3cret");
    run.assert_passed(1);
    assert!(log.contains("registered ("), "{log}");
}

fn wrong_password_is_refused_and_retried_later(backend: Backend) {
    let (run, log) = register(backend, "wrong");
    assert_eq!(run.successful, Some(0), "{}", run.diagnostics());
    assert!(log.contains("failed (403)"), "{log}");
}

/// Registers with the sipp registrar over the trunk transport `transport`
/// (`"tcp"` or `"tls"`); returns sipp's run, the REGISTERs it received (read
/// before the test directory goes), the server's log and the Via transport
/// and host:port callplane must name.
fn register_over(
    backend: Backend,
    transport: &str,
) -> (common::SippRun, Vec<String>, String, String) {
    let dir = TestDir::new(&format!("register-{transport}-{}", backend.cli_value()));
    let registrar = Sipp::new("uas_register.xml", "registrar", dir.path())
        .tcp()
        .set("user", "trunk1")
        .set("password", "s3cret")
        .timeout(Duration::from_secs(20));
    let registrar_addr = registrar.sip_addr();
    let registrar = thread::spawn(move || registrar.run());
    common::ports::wait_listening(registrar_addr);
    let (proxy, sip, _stunnel, via) = match transport {
        "tls" => {
            let certs = Certs::make(dir.path());
            let stunnel = Stunnel::start(
                dir.path(),
                "registrar",
                Mode::Server {
                    connect: registrar_addr,
                    cert: &certs.server_cert,
                    key: &certs.server_key,
                },
            );
            let tls_port = tcp_port();
            let sip = certs.sip_config(tls_port, false);
            (
                stunnel.accept,
                sip,
                Some(stunnel),
                format!("TLS 127.0.0.1:{tls_port}"),
            )
        }
        _ => (
            registrar_addr,
            String::new(),
            None,
            "TCP 127.0.0.1:".to_owned(),
        ),
    };
    let options = ServerOptions {
        shards: Some(2),
        config: Some(format!(
            "{sip}[[trunk]]\nname = \"carrier\"\nregister = true\nproxy = \"{proxy}\"\n\
registrar = \"sip:carrier.example\"\nusername = \"trunk1\"\npassword = \"s3cret\"\n\
register_expires_s = 600\ntransport = \"{transport}\"\n"
        )),
        ..ServerOptions::default()
    };
    let server = Server::start(backend, dir.path(), &options);
    let run = registrar.join().expect("sipp thread");
    let registers = run
        .received_messages()
        .into_iter()
        .filter(|message| message.trim_start().starts_with("REGISTER "))
        .collect();
    (run, registers, server.log(), via)
}

fn registers_over(backend: Backend, transport: &str) {
    let (run, registers, log, via) = register_over(backend, transport);
    run.assert_passed(1);
    assert!(log.contains("registered ("), "{log}");
    assert_eq!(
        registers.len(),
        3,
        "challenge, answer, refresh: {registers:#?}"
    );
    let param = format!(";transport={transport}>");
    for register in &registers {
        assert!(
            register.contains(&format!("Via: SIP/2.0/{via}")),
            "{register}"
        );
        assert!(
            register.contains(&param),
            "Contact names {transport}: {register}"
        );
    }
}

fn registers_over_tcp(backend: Backend) {
    registers_over(backend, "tcp");
}

fn registers_over_tls(backend: Backend) {
    registers_over(backend, "tls");
}

for_each_backend! {
    registers_and_refreshes_with_the_carrier => registers_and_refreshes;
    a_wrong_password_is_refused => wrong_password_is_refused_and_retried_later;
    registers_and_refreshes_over_tcp => registers_over_tcp;
    registers_and_refreshes_over_tls => registers_over_tls;
}
