//! What the server loads before it takes calls: the prompt catalog (embedded in
//! the binary, or a directory) and the flows its routes name.
//!
//! All file reading happens here, once, at start-up; the cores get decoded,
//! pre-encoded prompts and compiled programs behind `Arc`s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::call::{RouteTarget, Router};
use crate::config::{is_flow_path, Config, RouteConfig, BUILTIN_DEMO};
use crate::flow::{
    check_references, load_flow_value, synthesize, FlowEnv, Program, Schedules, DEMO_FLOW_JSON,
};
use crate::media::{Prompt, PromptCatalog, Tone, ToneGenerator, BEEP_PROMPT_ID};

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

/// A 1 kHz tone of 250 ms at about -6 dBFS (`media::Tone::Beep`, faded in and
/// out over 2 ms), added to every catalog that has no `beep` of its own.
fn add_beep(catalog: &mut PromptCatalog) {
    if catalog.get(BEEP_PROMPT_ID).is_some() {
        return;
    }
    let mut generator = match ToneGenerator::new(Tone::Beep) {
        Ok(generator) => generator,
        Err(err) => {
            log::warn!("no beep: {err}");
            return;
        }
    };
    // Exactly the tone's 250 ms, not rounded up to whole frames.
    let mut samples = vec![0i16; Tone::Beep.cycle().as_millis() as usize * 8];
    generator.fill(&mut samples);
    catalog.insert(Prompt::from_samples(BEEP_PROMPT_ID, None, samples));
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
    add_beep(&mut catalog);
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
    add_beep(&mut catalog);
    Ok(catalog)
}

/// A flow compiled from JSON text, with whether its document says it is published.
pub struct LoadedFlow {
    /// The validated, compiled flow (its warnings already logged).
    pub program: Arc<Program>,
    /// The document's `published` (or the API record's `isActive`) flag; `true` when
    /// it has neither. Unpublished flows in the flows directory are not routed.
    pub published: bool,
}

/// Loads and compiles one flow document of either format; `origin` names it in errors.
pub fn compile_flow(origin: &str, json: &str) -> Result<LoadedFlow, String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|err| format!("flow {origin}: {err}"))?;
    let published = value
        .get("published")
        .or_else(|| value.get("isActive"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true);
    match load_flow_value(&value) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                log::warn!("flow {origin}: {warning}");
            }
            Ok(LoadedFlow {
                program: loaded.program,
                published,
            })
        }
        Err(err) => Err(format!("flow {origin} refused: {}", err.lines().join("; "))),
    }
}

/// Loads and compiles one flow: `builtin:demo` or a flow file of either format.
pub fn load_flow(name: &str) -> Result<Arc<Program>, String> {
    if name == BUILTIN_DEMO {
        return compile_flow(BUILTIN_DEMO, DEMO_FLOW_JSON).map(|f| f.program);
    }
    let text =
        std::fs::read_to_string(name).map_err(|err| format!("cannot read flow {name}: {err}"))?;
    compile_flow(name, &text).map(|f| f.program)
}

/// The published flows of a directory: every `*.json`, the highest published
/// version of each id.
pub fn published_flows(dir: &Path) -> Result<Vec<Arc<Program>>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| format!("cannot read flows dir {}: {err}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut newest: HashMap<String, Arc<Program>> = HashMap::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read flow {}: {err}", path.display()))?;
        let flow = compile_flow(&path.display().to_string(), &text)?;
        if !flow.published {
            log::info!("flow {}: not published, not routed", path.display());
            continue;
        }
        let id = flow.program.id().to_string();
        match newest.get(&id) {
            Some(existing) if existing.version() == flow.program.version() => {
                return Err(format!(
                    "flow {}: version {} of {id:?} is published twice",
                    path.display(),
                    flow.program.version()
                ))
            }
            Some(existing) if existing.version() > flow.program.version() => {}
            _ => {
                newest.insert(id, flow.program);
            }
        }
    }
    let mut flows: Vec<Arc<Program>> = newest.into_values().collect();
    flows.sort_by(|a, b| a.id().cmp(b.id()));
    Ok(flows)
}

/// The environment flows run in: schedules, destinations and published flows,
/// every flow's references (fetch_flow, on_complete_flow_id, schedules,
/// queues, mailboxes…) checked.
pub fn build_env(config: &Config) -> Result<FlowEnv, String> {
    let schedules =
        Schedules::from_configs(&config.schedules).map_err(|err| format!("config error: {err}"))?;
    let destinations = config.destinations();
    if let Some(problem) = destinations.validate().first() {
        return Err(format!("config error: {problem}"));
    }
    let mut env = FlowEnv::new().with_destinations(destinations);
    for schedule in schedules.iter() {
        env = env.with_schedule(schedule.clone());
    }
    if let Some(dir) = &config.flows.dir {
        for program in published_flows(dir)? {
            env = env.with_flow(program);
        }
    }
    for program in env.flows.values() {
        refuse_dangling_references(program, &env)?;
    }
    Ok(env)
}

fn refuse_dangling_references(program: &Program, env: &FlowEnv) -> Result<(), String> {
    let problems = check_references(program, env);
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    Err(format!(
        "flow {} refused: {}",
        program.id(),
        list.join("; ")
    ))
}

fn route_program(flow: &str, env: &FlowEnv) -> Result<Arc<Program>, String> {
    if flow == BUILTIN_DEMO || is_flow_path(flow) {
        let program = load_flow(flow)?;
        refuse_dangling_references(&program, env)?;
        return Ok(program);
    }
    env.flow(flow).cloned().ok_or_else(|| {
        format!("no published flow with id {flow:?} (set [flows] dir, or give a .json path)")
    })
}

fn route_target(route: &RouteConfig, env: &FlowEnv, index: usize) -> Result<RouteTarget, String> {
    let program = match (&route.flow, &route.destination) {
        (Some(flow), _) => {
            route_program(flow, env).map_err(|err| format!("routing.route[{index}]: {err}"))?
        }
        (None, Some(destination)) => {
            if !env.destinations.contains(destination) {
                return Err(format!(
                    "routing.route[{index}].destination: no {} with id {:?}",
                    destination.kind.name(),
                    destination.id
                ));
            }
            Arc::new(synthesize(destination, &env.destinations))
        }
        (None, None) => return Err(format!("routing.route[{index}]: needs flow or destination")),
    };
    Ok(RouteTarget {
        program,
        dest_xform: route.dest_xform.clone().map(Arc::new),
        early_media: route.early_media,
    })
}

/// Builds the routing table the configuration describes, compiling every flow.
pub fn build_router(config: &Config, env: Arc<FlowEnv>) -> Result<Router, String> {
    let default = match config.routing.default_flow.as_str() {
        "" => None,
        name => Some(RouteTarget::new(route_program(name, &env)?)),
    };
    let mut router = Router::new(default, env.clone());
    for (index, route) in config.routing.route.iter().enumerate() {
        let target = route_target(route, &env, index)?;
        match (&route.number, &route.prefix) {
            (Some(number), _) => router.add_number(number, target),
            (None, Some(prefix)) => router.add_prefix(prefix, target),
            (None, None) => {}
        }
    }
    Ok(router)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        assert_eq!(
            catalog.len(),
            EMBEDDED_PROMPTS.len() + 1,
            "the prompts and the beep"
        );
        let beep = catalog.get(BEEP_PROMPT_ID).expect("the beep");
        assert_eq!(beep.duration(), Duration::from_millis(250));
    }

    #[test]
    fn a_prompt_dir_of_cd_quality_stereo_loads_converted_to_8k() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("catalog.tsv"),
            "hd\tHello in high fidelity\n",
        )
        .unwrap();
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(dir.path().join("hd.wav"), spec).unwrap();
        for n in 0..44_100 {
            let v = (f64::from(n) * std::f64::consts::TAU * 440.0 / 44_100.0).sin();
            let sample = (v * 4_000_000.0) as i32;
            writer.write_sample(sample).unwrap();
            writer.write_sample(sample).unwrap();
        }
        writer.finalize().unwrap();
        let catalog = prompts_from_dir(dir.path()).expect("the directory loads");
        let prompt = catalog
            .find_by_text("Hello in high fidelity")
            .expect("by text");
        assert_eq!(prompt.duration(), Duration::from_secs(1));
        let peak = prompt.samples()[200..7800]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        // 4 000 000 on the 24-bit scale is 15 625 on the 16-bit one.
        assert!((15_000..=16_200).contains(&peak), "peak {peak}");
    }

    #[test]
    fn missing_flow_file_is_one_clear_line() {
        let err = load_flow("/nonexistent/flow.json").unwrap_err();
        assert!(err.contains("/nonexistent/flow.json"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn default_config_routes_everything_to_the_demo() {
        let config = Config::default();
        let env = Arc::new(build_env(&config).expect("env"));
        let router = build_router(&config, env).expect("router");
        assert_eq!(router.route("12345").expect("routed").program.id(), "demo");
    }
}
