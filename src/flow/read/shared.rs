//! Readers both formats share: variable references, comparison operators,
//! HTTP methods.

use crate::flow::read::{describe, template_at, Fields, Read, Reported, Sink};
use crate::flow::schedule::Comparison;
use crate::flow::template::Template;

/// HTTP methods a request may use.
pub(crate) const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// A variable reference: a plain name (`customer.tier`) or a template (`${customer.tier}`).
pub(crate) fn variable_reference(data: &Fields<'_>, key: &str, sink: &mut Sink) -> Read<Template> {
    let name = data.required_string(key, &mut sink.errors)?;
    if name.contains("${") {
        template_at(&name, &data.path_of(key), &mut sink.errors)
    } else {
        Ok(Template::variable(name.trim()))
    }
}

/// A comparison operator at `key`, `==` when absent.
pub(crate) fn comparison(data: &Fields<'_>, key: &str, sink: &mut Sink) -> Read<Comparison> {
    let Some(value) = data.present(key) else {
        return Ok(Comparison::Eq);
    };
    match value.as_str().and_then(Comparison::parse) {
        Some(op) => Ok(op),
        None => {
            sink.error(
                data.path_of(key),
                format!(
                    "expected a comparison (==, !=, >, >=, <, <=, equal, not_equal, greater, \
                     greater_equal, less, less_equal), got {}",
                    describe(value)
                ),
            );
            Err(Reported)
        }
    }
}
