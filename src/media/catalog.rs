//! The set of loaded prompts, looked up by id or by exact spoken text. Holds only real
//! prompts: silence is produced by the session, never stored here.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::media::prompt::Prompt;

/// The catalog id of the beep tone (`beep` actions).
pub const BEEP_PROMPT_ID: &str = "beep";

/// Prompts by id, with an index of their texts.
#[derive(Debug, Clone, Default)]
pub struct PromptCatalog {
    /// Every prompt, by its id.
    by_id: HashMap<String, Arc<Prompt>>,
    /// Text → ids of the prompts speaking it; sorted so lookups are deterministic.
    ids_by_text: HashMap<String, BTreeSet<String>>,
}

impl PromptCatalog {
    /// An empty catalog.
    pub fn new() -> PromptCatalog {
        PromptCatalog::default()
    }

    /// Adds a prompt, replacing (and returning) any prompt with the same id.
    pub fn insert(&mut self, prompt: impl Into<Arc<Prompt>>) -> Option<Arc<Prompt>> {
        let prompt = prompt.into();
        if let Some(text) = prompt.text() {
            self.ids_by_text
                .entry(text.to_owned())
                .or_default()
                .insert(prompt.id().to_owned());
        }
        let replaced = self.by_id.insert(prompt.id().to_owned(), prompt);
        if let Some(old) = &replaced {
            self.forget_text_unless_still_used(old);
        }
        replaced
    }

    /// Removes and returns the prompt with this id.
    pub fn remove(&mut self, id: &str) -> Option<Arc<Prompt>> {
        let removed = self.by_id.remove(id)?;
        self.forget_text_unless_still_used(&removed);
        Some(removed)
    }

    /// The prompt with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Prompt>> {
        self.by_id.get(id)
    }

    /// A prompt whose text is exactly `text`; if several match, the smallest id wins.
    pub fn find_by_text(&self, text: &str) -> Option<&Arc<Prompt>> {
        let id = self.ids_by_text.get(text)?.first()?;
        self.by_id.get(id)
    }

    /// All ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// Number of prompts.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the catalog holds no prompt.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Drops `old`'s entry from the text index unless the prompt now stored under its
    /// id still has the same text.
    fn forget_text_unless_still_used(&mut self, old: &Prompt) {
        let Some(text) = old.text() else { return };
        let current_text = self.by_id.get(old.id()).and_then(|p| p.text());
        if current_text == Some(text) {
            return;
        }
        if let Some(ids) = self.ids_by_text.get_mut(text) {
            ids.remove(old.id());
            if ids.is_empty() {
                self.ids_by_text.remove(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: &str, text: Option<&str>) -> Prompt {
        Prompt::from_samples(id, text.map(str::to_owned), vec![0; 160])
    }

    #[test]
    fn lookup_by_id_and_text() {
        let mut catalog = PromptCatalog::new();
        assert!(catalog.is_empty());
        catalog.insert(prompt("welcome", Some("Welcome to callplane")));
        catalog.insert(prompt("beep", None));
        assert_eq!(catalog.len(), 2);
        assert_eq!(catalog.get("beep").map(|p| p.id()), Some("beep"));
        assert!(catalog.get("missing").is_none());
        assert_eq!(
            catalog.find_by_text("Welcome to callplane").map(|p| p.id()),
            Some("welcome")
        );
        assert!(catalog.find_by_text("welcome to callplane").is_none());
        assert_eq!(catalog.ids(), vec!["beep", "welcome"]);
    }

    #[test]
    fn same_text_resolves_to_smallest_id() {
        let mut catalog = PromptCatalog::new();
        catalog.insert(prompt("b", Some("hi")));
        catalog.insert(prompt("a", Some("hi")));
        assert_eq!(catalog.find_by_text("hi").map(|p| p.id()), Some("a"));
        catalog.remove("a");
        assert_eq!(catalog.find_by_text("hi").map(|p| p.id()), Some("b"));
        catalog.remove("b");
        assert!(catalog.find_by_text("hi").is_none());
    }

    #[test]
    fn replacing_a_prompt_updates_the_text_index() {
        let mut catalog = PromptCatalog::new();
        catalog.insert(prompt("p", Some("old")));
        let replaced = catalog.insert(prompt("p", Some("new")));
        assert_eq!(
            replaced.and_then(|p| p.text().map(str::to_owned)),
            Some("old".into())
        );
        assert!(catalog.find_by_text("old").is_none());
        assert_eq!(catalog.find_by_text("new").map(|p| p.id()), Some("p"));
        // Re-inserting with the same text keeps it findable.
        catalog.insert(prompt("p", Some("new")));
        assert_eq!(catalog.find_by_text("new").map(|p| p.id()), Some("p"));
        assert_eq!(catalog.len(), 1);
    }

    #[test]
    fn shared_arcs_are_handed_out() {
        let mut catalog = PromptCatalog::new();
        let shared = Arc::new(prompt("x", None));
        catalog.insert(Arc::clone(&shared));
        assert!(Arc::ptr_eq(catalog.get("x").unwrap(), &shared));
    }
}
