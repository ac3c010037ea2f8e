//! [`Sink`]: where one reading pass puts what it finds — errors, warnings and
//! the flow's references to things outside it.

use crate::flow::problem::Problem;
use crate::flow::program::{Reference, ReferenceKind};
use crate::flow::template::Template;

/// Findings of one reading pass.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    pub references: Vec<Reference>,
}

impl Sink {
    /// Records that `path` names a `kind` by `id`, when the id is literal
    /// (a templated id can only be checked at run time).
    pub(crate) fn reference(&mut self, kind: ReferenceKind, id: &Template, path: String) {
        if let Some(id) = id.as_literal() {
            self.references.push(Reference {
                kind,
                id: id.to_owned(),
                path,
            });
        }
    }

    /// Records a warning.
    pub(crate) fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem::new(path, message));
    }

    /// Records an error.
    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem::new(path, message));
    }
}
