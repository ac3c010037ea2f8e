//! String templates: `${name}` placeholders in any string field of a flow,
//! parsed once at load time and expanded against the call's variables.
//!
//! `${` opens a placeholder that runs to the next `}`; the name inside is
//! trimmed and must not be empty. A `$` not followed by `{` is plain text.
//! Unknown variables expand to the empty string and are reported to the
//! caller of [`Template::render`].

use std::borrow::Cow;

use crate::flow::vars::Vars;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

impl Template {
    /// Parses `source`; the error says what is wrong (`unterminated "${"`).
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("${") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find('}') else {
                return Err(format!(
                    "unterminated \"${{\" at byte {}",
                    source.len() - rest.len() + open
                ));
            };
            let name = after[..close].trim();
            if name.is_empty() {
                return Err("empty variable name in \"${}\"".to_owned());
            }
            parts.push(Part::Var(name.to_owned()));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// A template that is plain text (no placeholders are looked for).
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        if text.is_empty() {
            return Template::default();
        }
        Template {
            parts: vec![Part::Text(text)],
        }
    }

    /// A template that is exactly the variable `name`.
    pub fn variable(name: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Var(name.into())],
        }
    }

    /// Whether the template has placeholders.
    pub fn has_variables(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, Part::Var(_)))
    }

    /// The template's text when it has no placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The variable names used, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Expands the template; `unknown` is called with each name not in `vars`.
    /// Borrows when the template is one text or one variable.
    pub fn render<'a>(&'a self, vars: &'a Vars, mut unknown: impl FnMut(&str)) -> Cow<'a, str> {
        let mut lookup = |name: &str| match vars.get(name) {
            Some(value) => value,
            None => {
                unknown(name);
                ""
            }
        };
        match self.parts.as_slice() {
            [] => Cow::Borrowed(""),
            [Part::Text(text)] => Cow::Borrowed(text),
            [Part::Var(name)] => Cow::Borrowed(lookup(name)),
            parts => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(text) => out.push_str(text),
                        Part::Var(name) => out.push_str(lookup(name)),
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// The template written back in `${name}` form.
    pub fn source(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(name) => {
                    out.push_str("${");
                    out.push_str(name);
                    out.push('}');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set("customer.name", "John");
        vars.set("n", "3");
        vars
    }

    fn render(source: &str) -> (String, Vec<String>) {
        let vars = vars();
        let mut unknown = Vec::new();
        let template = Template::parse(source).unwrap();
        let text = template
            .render(&vars, |name| unknown.push(name.to_owned()))
            .into_owned();
        (text, unknown)
    }

    #[test]
    fn expands_known_and_blanks_unknown_variables() {
        assert_eq!(
            render("Hello ${customer.name}, you have ${ n } messages"),
            ("Hello John, you have 3 messages".into(), vec![])
        );
        assert_eq!(
            render("[${missing}] ${customer.name}${other}"),
            ("[] John".into(), vec!["missing".into(), "other".into()])
        );
        assert_eq!(render("$5 and $ {x}"), ("$5 and $ {x}".into(), vec![]));
        assert_eq!(render(""), (String::new(), vec![]));
    }

    #[test]
    fn single_parts_borrow() {
        let vars = vars();
        let one_var = Template::parse("${n}").unwrap();
        assert!(matches!(one_var.render(&vars, |_| {}), Cow::Borrowed("3")));
        let text = Template::parse("plain").unwrap();
        assert!(matches!(text.render(&vars, |_| {}), Cow::Borrowed("plain")));
        assert_eq!(text.as_literal(), Some("plain"));
        assert!(!text.has_variables() && one_var.has_variables());
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            Template::parse("ab${x").unwrap_err(),
            "unterminated \"${\" at byte 2"
        );
        assert!(Template::parse("${ }").is_err());
    }

    #[test]
    fn round_trips_its_source() {
        let template = Template::parse("a ${ b.c } d").unwrap();
        assert_eq!(template.source(), "a ${b.c} d");
        assert_eq!(template.variables().collect::<Vec<_>>(), ["b.c"]);
        assert_eq!(Template::literal("${x}").as_literal(), Some("${x}"));
        assert_eq!(Template::variable("x").source(), "${x}");
    }
}
