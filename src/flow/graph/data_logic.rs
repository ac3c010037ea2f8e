//! `data` of the node-graph logic kinds: condition, timeCondition,
//! httpRequest, setVar, and the contact-center kinds (callback,
//! lastCalledUser) that fall through to their default edge.

use crate::flow::program::{CompareStep, HttpStep, ReferenceKind, ResponseStore, Step};
use crate::flow::read::{
    comparison, template_at, variable_reference, Fields, Read, Reported, Sink, HTTP_METHODS,
};

/// Default `timeoutSec` of httpRequest.
pub(super) const DEFAULT_HTTP_TIMEOUT_SEC: u32 = 10;

/// `condition`: `variable`, `operator` (default `==`), `value`, `valueType`
/// (`string` or `number`; default `number` when `value` is a JSON number).
pub(crate) fn read_condition(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &[
            "kind",
            "label",
            "variable",
            "operator",
            "value",
            "valueType",
        ],
        &mut sink.warnings,
    );
    let left = variable_reference(data, "variable", sink);
    let op = comparison(data, "operator", sink);
    let value = data.optional_scalar_template("value", &mut sink.errors);
    let value_type = data.one_of("valueType", &["string", "number", ""], "", &mut sink.errors);
    let (right, is_number) = value?.unwrap_or_default();
    let numeric = match value_type? {
        "" => is_number,
        kind => kind == "number",
    };
    Ok(Step::Compare(CompareStep {
        left: left?,
        op: op?,
        right,
        numeric,
    }))
}

/// `timeCondition`: `scheduleId`.
pub(crate) fn read_time_condition(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(&["kind", "label", "scheduleId"], &mut sink.warnings);
    let schedule_id = data.required_template("scheduleId", &mut sink.errors)?;
    sink.reference(
        ReferenceKind::Schedule,
        &schedule_id,
        data.path_of("scheduleId"),
    );
    Ok(Step::TimeCondition { schedule_id })
}

/// `httpRequest`: `url`, `method` (GET), `headers`, `body` (a string, or JSON
/// sent as text), `timeoutSec` (10), `saveAs`.
pub(crate) fn read_http_request(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &[
            "kind",
            "label",
            "url",
            "method",
            "headers",
            "body",
            "timeoutSec",
            "saveAs",
        ],
        &mut sink.warnings,
    );
    let url = data.required_template("url", &mut sink.errors);
    let method = data.one_of("method", HTTP_METHODS, "GET", &mut sink.errors);
    let headers = data.template_map("headers", &mut sink.errors);
    let body = match data.present("body") {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => {
            template_at(text, &data.path_of("body"), &mut sink.errors).map(Some)
        }
        Some(json) => {
            template_at(&json.to_string(), &data.path_of("body"), &mut sink.errors).map(Some)
        }
    };
    let timeout = data.seconds_or("timeoutSec", 1, DEFAULT_HTTP_TIMEOUT_SEC, &mut sink.errors);
    let save_as = data.optional_string("saveAs", &mut sink.errors);
    Ok(Step::Http(HttpStep {
        method: method?.to_owned(),
        url: url?,
        headers: headers?,
        body: body?,
        timeout: timeout?,
        wait: true,
        store: match save_as? {
            Some(key) => ResponseStore::Under(key),
            None => ResponseStore::Discard,
        },
    }))
}

/// `setVar`: `key` and `value`, and/or `vars` (an object of key → value);
/// values are templates (numbers and booleans are taken as text).
pub(crate) fn read_set_var(data: &Fields<'_>, sink: &mut Sink) -> Read<Step> {
    data.warn_unknown(
        &["kind", "label", "key", "value", "vars"],
        &mut sink.warnings,
    );
    let key = data.optional_string("key", &mut sink.errors);
    let value = data.optional_scalar_template("value", &mut sink.errors);
    let vars = data.template_map("vars", &mut sink.errors);
    let mut pairs = Vec::new();
    if let Some(key) = key? {
        pairs.push((key, value?.map(|(value, _)| value).unwrap_or_default()));
    } else if data.present("value").is_some() {
        sink.error(
            data.path_of("key"),
            "missing, expected a non-empty string (value is set)",
        );
        return Err(Reported);
    }
    pairs.extend(vars?);
    if pairs.is_empty() {
        sink.error(data.path(), "needs key and value, or vars");
        return Err(Reported);
    }
    Ok(Step::SetVars(pairs))
}

/// `callback` and `lastCalledUser`: present in the model, not performed; the
/// node falls through to its default edge.
pub(crate) fn read_fall_through(data: &Fields<'_>, kind: &str, sink: &mut Sink) -> Read<Step> {
    sink.warn(
        data.path_of("kind"),
        format!("{kind} is not performed yet; the node falls through to its default edge"),
    );
    Ok(Step::Skip {
        action: kind.to_owned(),
        reason: "not performed yet; falls through to the default edge".to_owned(),
    })
}
