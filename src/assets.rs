//! What the server loads before it takes calls: the prompt catalog (embedded in
//! the binary, or a directory) and the flows its routes name.
//!
//! All file reading happens here, once, at start-up; the cores get decoded,
//! pre-encoded prompts and compiled programs behind `Arc`s.

use std::path::Path;
use std::sync::Arc;

use crate::call::Router;
use crate::config::{Config, BUILTIN_DEMO};
use crate::flow::{load_node_graph, LoadError, Program, DEMO_FLOW_JSON};
use crate::media::{Prompt, PromptCatalog};

/// The catalog shipped in `prompts/`, compiled into the binary.
const EMBEDDED_CATALOG: &str = include_str!("../prompts/catalog.tsv");

/// The WAV files of the embedded catalog, by id.
const EMBEDDED_PROMPTS: &[(&str, &[u8])] = &[
    ("welcome", include_bytes!("../prompts/welcome.wav")),
    ("menu", include_bytes!("../prompts/menu.wav")),
    ("sales", include_bytes!("../prompts/sales.wav")),
    ("support", include_bytes!("../prompts/support.wav")),
    ("invalid", include_bytes!("../prompts/invalid.wav")),
    ("goodbye", include_bytes!("../prompts/goodbye.wav")),
];

/// Parses `catalog.tsv`: `id<TAB>text` lines, `#` comments.
fn catalog_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (id, text) = line.split_once('\t')?;
            Some((id.trim().to_string(), text.trim().to_string()))
        })
        .collect()
}

/// The prompts compiled into the binary.
pub fn embedded_prompts() -> Result<PromptCatalog, String> {
    let texts = catalog_entries(EMBEDDED_CATALOG);
    let mut catalog = PromptCatalog::new();
    for (id, wav) in EMBEDDED_PROMPTS {
        let text = texts.iter().find(|(i, _)| i == id).map(|(_, t)| t.clone());
        let prompt = Prompt::from_wav_bytes(*id, text, wav)
            .map_err(|err| format!("embedded prompt {id}: {err}"))?;
        catalog.insert(prompt);
    }
    Ok(catalog)
}

/// Loads `dir/catalog.tsv` and the `dir/<id>.wav` it lists.
pub fn prompts_from_dir(dir: &Path) -> Result<PromptCatalog, String> {
    let index = dir.join("catalog.tsv");
    let text = std::fs::read_to_string(&index)
        .map_err(|err| format!("cannot read {}: {err}", index.display()))?;
    let mut catalog = PromptCatalog::new();
    for (id, prompt_text) in catalog_entries(&text) {
        let path = dir.join(format!("{id}.wav"));
        let bytes =
            std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let prompt = Prompt::from_wav_bytes(&id, Some(prompt_text), &bytes)
            .map_err(|err| format!("{}: {err}", path.display()))?;
        catalog.insert(prompt);
    }
    Ok(catalog)
}

/// Loads and compiles one flow: `builtin:demo` or a node-graph JSON file.
pub fn load_flow(name: &str) -> Result<Arc<Program>, String> {
    let (origin, json) = if name == BUILTIN_DEMO {
        (BUILTIN_DEMO.to_string(), DEMO_FLOW_JSON.to_string())
    } else {
        let text = std::fs::read_to_string(name)
            .map_err(|err| format!("cannot read flow {name}: {err}"))?;
        (name.to_string(), text)
    };
    match load_node_graph(&json) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                log::warn!("flow {origin}: {warning}");
            }
            Ok(loaded.program)
        }
        Err(LoadError::Json(err)) => Err(format!("flow {origin}: {err}")),
        Err(LoadError::Invalid(problems)) => {
            let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            Err(format!("flow {origin} refused: {}", list.join("; ")))
        }
    }
}

/// Builds the routing table the configuration describes, compiling every flow.
pub fn build_router(config: &Config) -> Result<Router, String> {
    let default = match config.routing.default_flow.as_str() {
        "" => None,
        name => Some(load_flow(name)?),
    };
    let mut router = Router::new(default);
    for route in &config.routing.route {
        let program = load_flow(&route.flow)?;
        match (&route.number, &route.prefix) {
            (Some(number), _) => router.add_number(number, program),
            (None, Some(prefix)) => router.add_prefix(prefix, program),
            (None, None) => {}
        }
    }
    Ok(router)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_lists_exactly_the_embedded_wavs() {
        let listed: Vec<String> = catalog_entries(EMBEDDED_CATALOG)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let embedded: Vec<&str> = EMBEDDED_PROMPTS.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            listed.len(),
            embedded.len(),
            "catalog {listed:?} vs embedded {embedded:?}"
        );
        for id in embedded {
            assert!(listed.iter().any(|l| l == id), "{id} not in catalog.tsv");
        }
    }

    #[test]
    fn embedded_prompts_decode_and_every_demo_prompt_exists() {
        let catalog = embedded_prompts().expect("embedded prompts load");
        for id in ["welcome", "menu", "sales", "support", "invalid", "goodbye"] {
            let prompt = catalog.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(prompt.duration().as_millis() > 300, "{id} too short");
        }
    }

    #[test]
    fn prompt_dir_matches_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let catalog = prompts_from_dir(&dir).expect("prompts/ loads");
        assert_eq!(catalog.len(), EMBEDDED_PROMPTS.len());
    }

    #[test]
    fn missing_flow_file_is_one_clear_line() {
        let err = load_flow("/nonexistent/flow.json").unwrap_err();
        assert!(err.contains("/nonexistent/flow.json"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn default_config_routes_everything_to_the_demo() {
        let router = build_router(&Config::default()).expect("router");
        assert_eq!(router.route("12345").expect("routed").id(), "demo");
    }
}
