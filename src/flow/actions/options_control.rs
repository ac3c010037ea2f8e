//! `option` of the control action types: branch, goto, condition_variable,
//! condition_datetime, variable_set, fetch_flow, webhook_send, stop, empty.

use crate::flow::actions::entry::{ActionRead, Jump};
use crate::flow::handle::{FALSE, JUMP};
use crate::flow::program::{
    CompareStep, DatetimeStep, HttpStep, ReferenceKind, ResponseStore, Step,
};
use crate::flow::read::{
    comparison, template_at, variable_reference, Fields, Read, Sink, HTTP_METHODS,
};
use crate::flow::template::Template;
use crate::flow::vars::VOIPBIN_DIGITS;

/// Default `timeout` of webhook_send, in ms (VoIPBIN gives none).
pub(super) const DEFAULT_WEBHOOK_TIMEOUT_MS: u32 = 10_000;

/// A jump to the action named at `key`, if the field is present.
fn jump_at(
    option: &Fields<'_>,
    key: &str,
    handle: Option<&str>,
    sink: &mut Sink,
) -> Read<Option<Jump>> {
    Ok(option
        .optional_string(key, &mut sink.errors)?
        .map(|target| Jump {
            handle: handle.map(str::to_owned),
            target,
            path: option.path_of(key),
        }))
}

/// `branch`: `variable` (default `voipbin.call.digits`), `target_ids`
/// (value → action id), `default_target_id` (else the next action).
pub(crate) fn read_branch(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &["variable", "target_ids", "default_target_id"],
        &mut sink.warnings,
    );
    let value = match option.present("variable") {
        Some(_) => variable_reference(option, "variable", sink),
        None => Ok(Template::variable(VOIPBIN_DIGITS)),
    };
    let cases = option.string_map("target_ids", &mut sink.errors);
    let default = jump_at(option, "default_target_id", None, sink);
    let mut read = ActionRead::new(Step::Branch(value?));
    let targets_path = option.path_of("target_ids");
    read.jumps = cases?
        .into_iter()
        .map(|(value, target)| Jump {
            path: format!("{targets_path}.{value}"),
            handle: Some(value),
            target,
        })
        .collect();
    read.jumps.extend(default?);
    Ok(read)
}

/// `goto`: `target_id` (required), `loop_count` (jumps allowed before the
/// cursor falls through to the next action; unlimited when absent).
pub(crate) fn read_goto(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["target_id", "loop_count"], &mut sink.warnings);
    let target = option.required_string("target_id", &mut sink.errors);
    let loop_count = option.optional_integer("loop_count", 0, &mut sink.errors);
    let mut read = ActionRead::new(Step::Goto {
        loop_count: loop_count?,
    });
    read.jumps.push(Jump {
        handle: Some(JUMP.to_owned()),
        target: target?,
        path: option.path_of("target_id"),
    });
    Ok(read)
}

/// `condition_variable`: `condition` (default `==`), `variable`, `value_type`
/// (`string` or `number`), `value_string` / `value_number`,
/// `false_target_id`. True goes on to the next action.
pub(crate) fn read_condition_variable(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &[
            "condition",
            "variable",
            "value_type",
            "value_string",
            "value_number",
            "false_target_id",
        ],
        &mut sink.warnings,
    );
    let left = variable_reference(option, "variable", sink);
    let op = comparison(option, "condition", sink);
    let value_type = option.one_of(
        "value_type",
        &["string", "number"],
        "string",
        &mut sink.errors,
    );
    let numeric = value_type? == "number";
    let right = if numeric {
        match option.present("value_number") {
            Some(value) if value.is_number() => Ok(Template::literal(value.to_string())),
            Some(_) => option
                .optional_template("value_number", &mut sink.errors)
                .map(Option::unwrap_or_default),
            None => Err(option.report(
                "value_number",
                "missing, expected a number (value_type is number)",
                &mut sink.errors,
            )),
        }
    } else {
        option
            .optional_template("value_string", &mut sink.errors)
            .map(Option::unwrap_or_default)
    };
    let jump = jump_at(option, "false_target_id", Some(FALSE), sink);
    let mut read = ActionRead::new(Step::Compare(CompareStep {
        left: left?,
        op: op?,
        right: right?,
        numeric,
    }));
    read.jumps.extend(jump?);
    Ok(read)
}

/// `condition_datetime` (UTC): `condition`, `minute`, `hour`, `day`, `month`,
/// `weekdays` (0 = Sunday), `false_target_id`. Absent fields are wildcards
/// (month 0, day/hour/minute -1, no weekdays).
pub(crate) fn read_condition_datetime(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &[
            "condition",
            "minute",
            "hour",
            "day",
            "month",
            "weekdays",
            "false_target_id",
        ],
        &mut sink.warnings,
    );
    let op = comparison(option, "condition", sink);
    let minute = option.i32_or("minute", (-1, 59), -1, &mut sink.errors);
    let hour = option.i32_or("hour", (-1, 23), -1, &mut sink.errors);
    let day = option.i32_or("day", (-1, 31), -1, &mut sink.errors);
    let month = option.i32_or("month", (0, 12), 0, &mut sink.errors);
    let weekdays = option.weekdays("weekdays", &mut sink.errors);
    let jump = jump_at(option, "false_target_id", Some(FALSE), sink);
    let mut read = ActionRead::new(Step::DatetimeCondition(DatetimeStep {
        op: op?,
        minute: minute?,
        hour: hour?,
        day: day?,
        month: month?,
        weekdays: weekdays?,
    }));
    read.jumps.extend(jump?);
    Ok(read)
}

/// `variable_set`: `key` (required), `value` (a template; numbers and
/// booleans are taken as text).
pub(crate) fn read_variable_set(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["key", "value"], &mut sink.warnings);
    let key = option.required_string("key", &mut sink.errors);
    let value = option.optional_scalar_template("value", &mut sink.errors);
    Ok(ActionRead::new(Step::SetVars(vec![(
        key?,
        value?.map(|(value, _)| value).unwrap_or_default(),
    )])))
}

/// `fetch_flow`: `flow_id` (required): run that flow, then continue here.
pub(crate) fn read_fetch_flow(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&["flow_id"], &mut sink.warnings);
    let flow_id = option.required_template("flow_id", &mut sink.errors)?;
    sink.reference(ReferenceKind::Flow, &flow_id, option.path_of("flow_id"));
    Ok(ActionRead::new(Step::FetchFlow { flow_id }))
}

/// `webhook_send`: `uri` (required), `method` (POST), `data_type` (the body's
/// content type), `data` (text or JSON), `sync` (wait for the response and
/// merge a JSON object body into the variables).
pub(crate) fn read_webhook_send(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(
        &["sync", "uri", "method", "data_type", "data"],
        &mut sink.warnings,
    );
    let url = option.required_template("uri", &mut sink.errors);
    let method = option.one_of("method", HTTP_METHODS, "POST", &mut sink.errors);
    let data_type = option.optional_template("data_type", &mut sink.errors);
    let body = match option.present("data") {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => {
            template_at(text, &option.path_of("data"), &mut sink.errors).map(Some)
        }
        Some(json) => {
            template_at(&json.to_string(), &option.path_of("data"), &mut sink.errors).map(Some)
        }
    };
    let wait = option.bool_or("sync", false, &mut sink.errors);
    let (url, method, data_type, body, wait) = (url?, method?, data_type?, body?, wait?);
    let headers = data_type
        .map(|content_type| vec![("Content-Type".to_owned(), content_type)])
        .unwrap_or_default();
    Ok(ActionRead::new(Step::Http(HttpStep {
        method: method.to_owned(),
        url,
        headers,
        body,
        timeout: std::time::Duration::from_millis(u64::from(DEFAULT_WEBHOOK_TIMEOUT_MS)),
        wait,
        store: if wait {
            ResponseStore::Merge
        } else {
            ResponseStore::Discard
        },
    })))
}

/// `stop`: end the flow here.
pub(crate) fn read_stop(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&[], &mut sink.warnings);
    let mut read = ActionRead::new(Step::Stop);
    read.continues = false;
    Ok(read)
}

/// `empty`: does nothing.
pub(crate) fn read_empty(option: &Fields<'_>, sink: &mut Sink) -> Read<ActionRead> {
    option.warn_unknown(&[], &mut sink.warnings);
    Ok(ActionRead::new(Step::Pass))
}
