//! The sans-IO rule, checked: `flow`, `sip`, `media` and `call` contain no
//! sockets, no clock reads, no threads, no files and no async runtime — not even
//! in their tests.

use std::fs;
use std::path::{Path, PathBuf};

const SANS_IO: &[&str] = &["flow", "sip", "media", "call"];

const FORBIDDEN: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "Utc::now",
    "Local::now",
    "UdpSocket",
    "TcpStream",
    "TcpListener",
    "std::net::Udp",
    "std::thread",
    "thread::spawn",
    "thread::sleep",
    "std::fs",
    "File::open",
    "File::create",
    "tokio",
    "async fn",
    "libc::",
    "getrandom",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn sans_io_cores_do_no_io_read_no_clock_and_spawn_nothing() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut checked = 0;
    for module in SANS_IO {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "src/{module} has no Rust files");
        for file in files {
            checked += 1;
            let text = fs::read_to_string(&file).expect("readable source");
            for (number, line) in text.lines().enumerate() {
                for pattern in FORBIDDEN {
                    if line.contains(pattern) {
                        violations.push(format!("{}:{}: {pattern}", file.display(), number + 1));
                    }
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} files checked");
    assert!(
        violations.is_empty(),
        "sans-IO violations:\n{}",
        violations.join("\n")
    );
}
