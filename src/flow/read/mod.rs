//! Reading flow documents from `serde_json` values with JSON paths: every
//! fault becomes a [`Problem`](crate::flow::Problem) at the exact path, and one
//! pass reports all of them. Shared by both flow formats.

mod json;
mod shared;
mod sink;
mod typed;

pub(crate) use self::json::{child, describe, item, quoted, Fields, Read, Reported};
pub(crate) use self::shared::{comparison, variable_reference, HTTP_METHODS};
pub(crate) use self::sink::Sink;
pub(crate) use self::typed::template_at;
