//! Differential test of the SIP parser against sofia-sip, the SIP stack inside
//! FreeSWITCH (`cargo test --features sofia --test sofia_differential`).
//!
//! Every message of `tests/sip_corpus/*.sip` (and, with `SOFIA_DIFF_FUZZ=1`, every
//! file under `fuzz/corpus/*/` that `scripts/fuzz.sh` left behind: a by-hand run,
//! since that corpus is generated anew on each machine and is not committed) is
//! parsed by `parse_message` and by libsofia-sip-ua (see `tests/sofia/mod.rs`). The two
//! must agree on accepting or refusing it and, when both accept it, on the method or
//! status code, Call-ID, CSeq, From and To tags, top Via branch, Content-Length and body
//! length; `call_id_of` must also find the parser's Call-ID. Each disagreement is
//! printed in a table. The test fails on any that `tests/sofia_known_differences.toml`
//! does not list with the reason our behaviour is deliberate, and on entries of that
//! list that no longer match a disagreement. docs/sip-conformance.md explains them.

#![cfg(feature = "sofia")]

mod sofia;

use callplane::sip::call_id_of;
use callplane::sip::message::{parse_message, Message, MessageHead};
use ezk_sip_types::Name;
use serde::Deserialize;
use sofia::outcome::{Fields, Outcome};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One message to compare, named by its path relative to the crate root.
struct Sample {
    name: String,
    data: Vec<u8>,
}

/// One entry of the allow list.
#[derive(Deserialize)]
struct Known {
    file: String,
    field: String,
    why: String,
}

/// A rule of the allow list: one kind of deliberate difference, whichever message shows
/// it (the fuzz corpus differs from machine to machine, so its files cannot be named).
/// It matches a disagreement on `field` where our verdict or value is exactly `ours` and
/// sofia's exactly `sofia`, in a message that holds `contains` when the rule gives it;
/// `example` is a committed corpus file that shows it, so that every rule is exercised
/// by the committed corpus too.
#[derive(Deserialize)]
struct Rule {
    field: String,
    ours: String,
    sofia: String,
    contains: Option<String>,
    example: String,
    rfc: String,
    why: String,
}

impl Rule {
    fn matches(&self, row: &Disagreement, data: &[u8]) -> bool {
        let holds = |needle: &String| {
            let needle = needle.as_bytes();
            data.windows(needle.len()).any(|window| window == needle)
        };
        self.field == row.field
            && self.ours == row.ours
            && self.sofia == row.sofia
            && self.contains.as_ref().is_none_or(holds)
    }

    fn label(&self) -> String {
        format!(
            "{} | ours: {} | sofia: {}",
            self.field, self.ours, self.sofia
        )
    }
}

#[derive(Deserialize)]
struct KnownList {
    difference: Vec<Known>,
    #[serde(default)]
    rule: Vec<Rule>,
}

/// A field on which the parsers differ for one message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Disagreement {
    file: String,
    field: String,
    ours: String,
    sofia: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Regular files directly inside `dir`, sorted by name; none if it does not exist.
fn files_in(dir: &Path, extension: Option<&str>) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .filter(|path| {
            extension.is_none_or(|wanted| path.extension().is_some_and(|ext| ext == wanted))
        })
        .collect();
    files.sort();
    files
}

/// The SIP corpus, then (with `SOFIA_DIFF_FUZZ=1`) every fuzz corpus
/// (`fuzz/corpus/<target>/*`) present.
fn samples() -> Vec<Sample> {
    let root = root();
    let mut paths = files_in(&root.join("tests/sip_corpus"), Some("sip"));
    let with_fuzz = std::env::var_os("SOFIA_DIFF_FUZZ").is_some_and(|value| value == "1");
    let fuzz_corpus = with_fuzz.then(|| std::fs::read_dir(root.join("fuzz/corpus")));
    let mut fuzz_dirs: Vec<PathBuf> = match fuzz_corpus {
        Some(Ok(entries)) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_dir())
            .collect(),
        _ => Vec::new(),
    };
    fuzz_dirs.sort();
    for dir in fuzz_dirs {
        paths.extend(files_in(&dir, None));
    }
    paths
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path)
                .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            Sample { name, data }
        })
        .collect()
}

/// callplane's parser, reduced to the compared fields.
fn ours(data: &[u8]) -> Outcome {
    match parse_message(data) {
        Err(error) => Outcome::Rejected(error.to_string()),
        Ok(Message::Request(request)) => {
            Outcome::Accepted(fields(request.method.to_string(), &request.head))
        }
        Ok(Message::Response(response)) => {
            Outcome::Accepted(fields(response.status.to_string(), &response.head))
        }
    }
}

fn fields(start: String, head: &MessageHead) -> Fields {
    Fields {
        start,
        call_id: Some(head.echo.call_id.clone()),
        cseq: Some(format!("{} {}", head.cseq.seq, head.cseq.method)),
        from_tag: head.from.tag().map(str::to_owned),
        to_tag: head.to.tag().map(str::to_owned),
        via_branch: Some(head.top_via.branch.clone()).filter(|branch| !branch.is_empty()),
        content_length: head
            .headers
            .get_raw(&Name::CONTENT_LENGTH)
            .next()
            .and_then(|value| value.as_str().trim().parse().ok()),
        body_len: head.body.len(),
    }
}

fn verdict(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Accepted(_) => "accepted".to_owned(),
        Outcome::Rejected(why) => format!("rejected ({why})"),
    }
}

/// Every field on which the two outcomes differ, plus `call_id_of` against the
/// parser's Call-ID.
fn compare(sample: &Sample) -> Vec<Disagreement> {
    let ours = ours(&sample.data);
    let sofia = sofia::parse(&sample.data);
    let disagreement = |field: &str, ours: String, sofia: String| Disagreement {
        file: sample.name.clone(),
        field: field.to_owned(),
        ours,
        sofia,
    };
    let mut found = Vec::new();
    match (&ours, &sofia) {
        (Outcome::Accepted(ours), Outcome::Accepted(sofia)) => {
            for ((field, ours), (_, sofia)) in ours.named().into_iter().zip(sofia.named()) {
                if ours != sofia {
                    found.push(disagreement(field, ours, sofia));
                }
            }
        }
        (Outcome::Rejected(_), Outcome::Rejected(_)) => {}
        _ => found.push(disagreement("verdict", verdict(&ours), verdict(&sofia))),
    }
    if let Outcome::Accepted(fields) = &ours {
        let peek = call_id_of(&sample.data).map(|id| String::from_utf8_lossy(id).into_owned());
        if peek != fields.call_id {
            found.push(disagreement(
                "call_id_of",
                format!("{peek:?}"),
                "(the parser's Call-ID) ".to_owned() + &format!("{:?}", fields.call_id),
            ));
        }
    }
    found
}

fn known_differences() -> KnownList {
    let path = root().join("tests/sofia_known_differences.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let list: KnownList =
        toml::from_str(&text).unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()));
    for known in &list.difference {
        assert!(
            !known.why.trim().is_empty(),
            "{}: the entry for {} / {} gives no reason",
            path.display(),
            known.file,
            known.field
        );
    }
    for rule in &list.rule {
        assert!(
            !rule.why.trim().is_empty() && rule.rfc.contains('§'),
            "{}: the rule {} gives no reason or no RFC section",
            path.display(),
            rule.label()
        );
    }
    list
}

/// How a disagreement is explained: by an entry naming its file, by a rule, or not.
#[derive(Clone, Copy)]
enum Explained<'a> {
    File,
    Rule(&'a Rule),
    No,
}

fn table(rows: &[(&Disagreement, Explained)]) -> String {
    let mut out = String::new();
    for (row, explained) in rows {
        let status = match explained {
            Explained::File => "known".to_owned(),
            Explained::Rule(rule) => format!("rule ({})", rule.rfc),
            Explained::No => "NEW".to_owned(),
        };
        let _ = writeln!(
            out,
            "{status:5} | {} | {} | ours: {} | sofia: {}",
            row.file, row.field, row.ours, row.sofia
        );
    }
    out
}

#[test]
fn parser_agrees_with_sofia_sip() {
    let samples = samples();
    assert!(
        samples.len() >= 30,
        "the SIP corpus went missing: {} messages",
        samples.len()
    );
    let known = known_differences();
    let data_of = |file: &str| {
        samples
            .iter()
            .find(|sample| sample.name == file)
            .map_or(&[][..], |sample| sample.data.as_slice())
    };
    let mut disagreements: Vec<Disagreement> = samples.iter().flat_map(compare).collect();
    disagreements.sort();

    let rows: Vec<(&Disagreement, Explained)> = disagreements
        .iter()
        .map(|row| {
            let by_file = known
                .difference
                .iter()
                .any(|known| known.file == row.file && known.field == row.field);
            let by_rule = known
                .rule
                .iter()
                .find(|rule| rule.matches(row, data_of(&row.file)));
            let explained = match (by_file, by_rule) {
                (true, _) => Explained::File,
                (false, Some(rule)) => Explained::Rule(rule),
                (false, None) => Explained::No,
            };
            (row, explained)
        })
        .collect();
    let accepted_by_both = samples
        .iter()
        .filter(|sample| {
            matches!(ours(&sample.data), Outcome::Accepted(_))
                && matches!(sofia::parse(&sample.data), Outcome::Accepted(_))
        })
        .count();
    println!(
        "compared {} messages ({accepted_by_both} accepted by both); {} disagreements:\n{}",
        samples.len(),
        disagreements.len(),
        table(&rows)
    );
    println!("{}", classification(&rows));

    let unexplained: Vec<_> = rows
        .iter()
        .filter(|(_, explained)| matches!(explained, Explained::No))
        .collect();
    let matched: BTreeSet<(&str, &str)> = disagreements
        .iter()
        .map(|row| (row.file.as_str(), row.field.as_str()))
        .collect();
    let mut stale: Vec<String> = known
        .difference
        .iter()
        .filter(|known| !matched.contains(&(known.file.as_str(), known.field.as_str())))
        .map(|known| format!("{} / {}", known.file, known.field))
        .collect();
    stale.extend(
        known
            .rule
            .iter()
            .filter(|rule| {
                !disagreements
                    .iter()
                    .any(|row| row.file == rule.example && rule.matches(row, data_of(&row.file)))
            })
            .map(|rule| format!("rule {} (example {})", rule.label(), rule.example)),
    );
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "{} disagreements with sofia-sip are not in tests/sofia_known_differences.toml:\n{}\n\
         entries there that match no disagreement any more: {stale:?}",
        unexplained.len(),
        table(&unexplained.into_iter().copied().collect::<Vec<_>>()),
    );
}

/// The disagreements grouped by kind: the field, our verdict or value and sofia's (for a
/// verdict, the reasons say which header or rule each side stumbled on), with how many
/// messages show each and whether a rule, a file entry or nothing explains them.
fn classification(rows: &[(&Disagreement, Explained)]) -> String {
    let mut groups: std::collections::BTreeMap<(String, String, String), (usize, &str)> =
        std::collections::BTreeMap::new();
    for (row, explained) in rows {
        let status = match explained {
            Explained::File => "known",
            Explained::Rule(_) => "rule",
            Explained::No => "NEW",
        };
        let which = if row.field == "verdict" {
            (row.ours.clone(), row.sofia.clone())
        } else {
            (format!("{:?}", row.ours), format!("{:?}", row.sofia))
        };
        let entry = groups
            .entry((row.field.clone(), which.0, which.1))
            .or_insert((0, status));
        entry.0 += 1;
        if status == "NEW" {
            entry.1 = status;
        }
    }
    let mut out = String::from("disagreements by kind:\n");
    let mut sorted: Vec<_> = groups.into_iter().collect();
    sorted.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
    for ((field, ours, sofia), (count, status)) in sorted {
        let _ = writeln!(
            out,
            "{count:5} {status:5} | {field} | ours: {ours} | sofia: {sofia}"
        );
    }
    out
}

/// The oracle itself reads what sofia reads: the fields of a carrier INVITE, and a
/// refusal for a message without Call-ID. Without this, an oracle that read nothing
/// could agree with a parser that read nothing.
#[test]
fn sofia_oracle_reads_a_carrier_invite() {
    let read = |name: &str| {
        let path = root().join("tests/sip_corpus").join(name);
        std::fs::read(&path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
    };
    let expected = Fields {
        start: "INVITE".to_owned(),
        call_id: Some("7f3e2a1b9c8d4e5f@203.0.113.10".to_owned()),
        cseq: Some("102 INVITE".to_owned()),
        from_tag: Some("as7d6f5".to_owned()),
        to_tag: None,
        via_branch: Some("z9hG4bK1a2b3c4d5e6f".to_owned()),
        content_length: Some(234),
        body_len: 234,
    };
    assert_eq!(
        sofia::parse(&read("diff-invite-carrier.sip")),
        Outcome::Accepted(expected)
    );
    assert!(matches!(
        sofia::parse(&read("diff-bad-missing-call-id.sip")),
        Outcome::Rejected(_)
    ));
}
