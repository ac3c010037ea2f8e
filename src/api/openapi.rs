//! The OpenAPI 3 document of the API, written by hand next to the handlers
//! (`openapi.json`) and served at `/openapi.json`. The tests below hold it to
//! the router: every route served is documented and nothing else is.

/// The document, as served.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn documented() -> BTreeSet<(String, String)> {
        let document: Value = serde_json::from_str(OPENAPI_JSON).expect("the document is JSON");
        let version = document["openapi"].as_str().expect("an openapi field");
        assert!(version.starts_with("3."), "{version}");
        assert!(document["info"]["title"].is_string());
        let paths = document["paths"].as_object().expect("paths");
        let mut routes = BTreeSet::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("a path item") {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    operation["responses"].is_object(),
                    "{method} {path}: responses"
                );
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
        routes
    }

    #[test]
    fn every_served_route_is_documented_and_nothing_else() {
        let served: BTreeSet<(String, String)> = crate::api::served_routes()
            .into_iter()
            .map(|(method, path)| (method.to_string(), path.to_owned()))
            .collect();
        assert_eq!(served, documented());
    }

    #[test]
    fn every_reference_resolves() {
        let document: Value = serde_json::from_str(OPENAPI_JSON).expect("JSON");
        let mut refs = Vec::new();
        collect_refs(&document, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.trim_start_matches('#');
            assert!(document.pointer(pointer).is_some(), "{reference} resolves");
        }
    }

    fn collect_refs(value: &Value, refs: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                        _ => collect_refs(value, refs),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
            _ => {}
        }
    }
}
