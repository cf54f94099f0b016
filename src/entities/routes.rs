//! Routes' rule outside their schema: their regexes must compile.

use futures_util::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::{Entities, EntityError};
use crate::schema::errors::{DetailKind, ErrorDetail};
use crate::schema::filled::Filled;

/// The routes' [`super::kinds::Check`].
pub(super) fn check<'a>(
    _: &'a Entities,
    _: Uuid,
    route: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(std::future::ready(check_route_regexes(route)))
}

/// Regexes in routes (`~/path`, `~*header`), which the sandbox cannot compile. Kong
/// compiles paths with PCRE (`invalid regex: ...` at the path); its traditional_compatible
/// router then compiles the route with Rust's `regex` crate, which lacks look-around and
/// back-references (`Router Expression failed validation: ...`, src/lua/entities/NOTES.md §7). The
/// `regex` crate stands in for both; what only it refuses is the router's error.
fn check_route_regexes(route: &Filled) -> Result<(), EntityError> {
    let unsupported = |e: &regex::Error| e.to_string().contains("not supported");
    let reason = |e: &regex::Error| {
        let text = e.to_string();
        text.lines()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.lines().last().unwrap_or(""))
            .to_string()
    };
    let mut field_errors = Vec::new();
    let mut router_error = None;
    let paths = route
        .get("paths")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, path) in paths.iter().enumerate() {
        let Some(pattern) = path.as_str().and_then(|p| p.strip_prefix('~')) else {
            continue;
        };
        if let Err(e) = regex::Regex::new(pattern) {
            if unsupported(&e) {
                router_error.get_or_insert_with(|| reason(&e));
            } else {
                field_errors.push(ErrorDetail::field(
                    format!("paths[{i}]"),
                    format!("invalid regex: '{pattern}' (PCRE returned: {})", reason(&e)),
                ));
            }
        }
    }
    let headers = route.get("headers").and_then(Value::as_object);
    for values in headers.into_iter().flat_map(|h| h.values()) {
        for value in values.as_array().map(Vec::as_slice).unwrap_or_default() {
            if let Some(pattern) = value.as_str().and_then(|v| v.strip_prefix("~*"))
                && let Err(e) = regex::Regex::new(pattern)
            {
                router_error.get_or_insert_with(|| reason(&e));
            }
        }
    }
    if !field_errors.is_empty() {
        return Err(EntityError::Invalid(field_errors));
    }
    if let Some(reason) = router_error {
        return Err(EntityError::Invalid(vec![ErrorDetail {
            kind: DetailKind::Entity,
            field: None,
            messages: vec![format!("Router Expression failed validation: {reason}")],
        }]));
    }
    Ok(())
}
