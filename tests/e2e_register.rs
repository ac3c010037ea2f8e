//! Registering with a carrier: `callplane serve` with a `[[trunk]]` that has
//! `register = true` registers with a sipp registrar that challenges it,
//! verifies the digest itself, grants a short expiry and checks the refresh.
//! Two shards, so the registration's Call-ID must hash to the shard that keeps
//! it for the responses to come home.

mod common;

use std::thread;
use std::time::Duration;

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

for_each_backend! {
    registers_and_refreshes_with_the_carrier => registers_and_refreshes;
    a_wrong_password_is_refused => wrong_password_is_refused_and_retried_later;
}
