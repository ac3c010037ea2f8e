//! Build script. It embeds the SIP corpus (`tests/sip_corpus/*.sip`) for the
//! dispatcher's corpus test, which as part of the sans-IO core reads no files:
//! `$OUT_DIR/sip_corpus.rs` lists every file with `include_bytes!`.
//!
//! Without the `sofia` feature it does nothing more. With it, it finds the
//! system's libsofia-sip-ua with pkg-config and generates Rust bindings (into `OUT_DIR`)
//! to the few parts of its message parser that `tests/sofia_differential.rs` uses. The
//! bindings are only included by that test; the library and the binary never see them.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_sip_corpus();
    #[cfg(feature = "sofia")]
    sofia::generate();
}

/// Writes `$OUT_DIR/sip_corpus.rs`: `CORPUS_FILES`, (file name, bytes) of every
/// `.sip` file in `tests/sip_corpus`, sorted by name.
fn embed_sip_corpus() {
    use std::fmt::Write as _;
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = std::path::Path::new(&manifest_dir).join("tests/sip_corpus");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sip"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let mut code = String::from(
        "/// Every `.sip` file of `tests/sip_corpus`: (name, bytes), sorted by name.\n\
         pub(super) const CORPUS_FILES: &[(&str, &[u8])] = &[\n",
    );
    for name in &names {
        let path = dir.join(name);
        let _ = writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let target = std::path::Path::new(&out_dir).join("sip_corpus.rs");
    std::fs::write(&target, code).expect("write sip_corpus.rs into OUT_DIR");
}

#[cfg(feature = "sofia")]
mod sofia {
    use std::path::PathBuf;

    /// The headers the bindings are made from: the message object, its buffer, the SIP
    /// message class, structures and header classes, and the sanity check nta runs on every message.
    const WRAPPER: &str = "\
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_hclasses.h>
#include <sofia-sip/sip_util.h>
";

    pub(super) fn generate() {
        let library = pkg_config::Config::new()
            .cargo_metadata(false)
            .probe("sofia-sip-ua")
            .unwrap_or_else(|error| {
                panic!(
                    "the `sofia` feature needs libsofia-sip-ua and its pkg-config file \
                     (Debian: apt-get install libsofia-sip-ua-dev pkg-config): {error}"
                )
            });
        // Only the search path: the test that uses the bindings links the library itself,
        // so the crate's library and binary stay free of it.
        for path in &library.link_paths {
            println!("cargo:rustc-link-search=native={}", path.display());
        }
        let mut builder = bindgen::Builder::default()
            .header_contents("sofia_wrapper.h", WRAPPER)
            .allowlist_function("msg_create")
            .allowlist_function("msg_destroy")
            .allowlist_function("msg_buf_alloc")
            .allowlist_function("msg_buf_commit")
            .allowlist_function("msg_extract")
            .allowlist_function("msg_extract_errors")
            .allowlist_function("msg_get_flags")
            .allowlist_function("msg_public")
            .allowlist_function("sip_default_mclass")
            .allowlist_function("sip_sanity_check")
            .allowlist_var("sip_error_class")
            .allowlist_type("sip_t")
            .allowlist_type("msg_flg_user")
            .allowlist_type("msg_flg_parser")
            .allowlist_type("sip_bad_mask")
            .constified_enum_module("msg_flg_user|msg_flg_parser|sip_bad_mask")
            .layout_tests(false)
            .generate_comments(false);
        for path in &library.include_paths {
            builder = builder.clang_arg(format!("-I{}", path.display()));
        }
        let bindings = builder
            .generate()
            .unwrap_or_else(|error| panic!("bindgen failed on the sofia-sip headers: {error}"));
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
        bindings
            .write_to_file(out.join("sofia_bindings.rs"))
            .unwrap_or_else(|error| panic!("writing the sofia-sip bindings: {error}"));
    }
}
