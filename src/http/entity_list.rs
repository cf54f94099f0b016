//! The query of a core-entity list (`GET /{collection}`): Kong's `size`, `offset` and
//! `tags`, Konnect's `filter[name][eq]` and `filter[name][contains]`, parsed into an
//! [`entities::ListRequest`](ListRequest); and the `next` link of the page, which keeps
//! every other parameter of this one.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use serde_json::{Value, json};

use super::extract::QueryMap;
use crate::app::{AppState, DEFAULT_PAGE_SIZE};
use crate::domain::field_error::FieldError;
use crate::entities::{ListRequest, Listing};
use crate::error::ApiError;
use crate::store::core_entities::TagFilter;

/// A list request as it came: the parsed request (or what is wrong with it), and the
/// path and query the `next` link is built from.
pub struct EntityListQuery {
    parsed: Result<ListRequest, Vec<FieldError>>,
    path: String,
    query: HashMap<String, String>,
}

impl EntityListQuery {
    /// The request, or the "Invalid query parameters" problem. The extractor hands the
    /// error over instead of rejecting the request: the handler resolves the scope
    /// first, so that a missing control plane or parent is a 404 whatever the query.
    pub fn request(&self) -> Result<ListRequest, ApiError> {
        self.parsed
            .clone()
            .map_err(|fields| ApiError::invalid("Invalid query parameters", fields))
    }

    /// The link to the page after `offset`: the same path, `offset` first, then this
    /// request's other parameters sorted by name.
    pub fn next_link(&self, offset: &str) -> String {
        next_link(&self.path, &self.query, offset)
    }

    /// Kong's `{data, next, offset}` body of `listing`, `next` linking the page after it.
    pub fn page_body(&self, listing: Listing) -> Value {
        let next = listing.next_offset.as_deref().map(|o| self.next_link(o));
        json!({"data": listing.data, "next": next, "offset": listing.next_offset})
    }
}

impl FromRequestParts<AppState> for EntityListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let QueryMap(query) = QueryMap::from_request_parts(parts, state).await?;
        let Ok(OriginalUri(uri)) = OriginalUri::from_request_parts(parts, state).await;
        Ok(EntityListQuery {
            parsed: parse(&query, state.settings.max_page_size),
            path: uri.path().to_string(),
            query,
        })
    }
}

/// Parses a list query; `size` must lie within `1..=max_page_size`.
fn parse(
    query: &HashMap<String, String>,
    max_page_size: u32,
) -> Result<ListRequest, Vec<FieldError>> {
    let size = match query.get("size") {
        None => DEFAULT_PAGE_SIZE as usize,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if n >= 1 && n <= max_page_size => n as usize,
            _ => {
                return Err(vec![
                    FieldError::invalid(
                        "size",
                        format!("must be an integer from 1 to {max_page_size}"),
                    )
                    .from_source("query"),
                ]);
            }
        },
    };
    Ok(ListRequest {
        size,
        offset: query.get("offset").cloned(),
        tags: query.get("tags").and_then(|tags| tag_filter(tags)),
        name_eq: query.get("filter[name][eq]").cloned(),
        name_contains: query.get("filter[name][contains]").cloned(),
    })
}

/// Kong's `tags`: `a,b` needs all, `a/b` any; `tags=` and `tags=,` name no tag, so no
/// filter.
fn tag_filter(tags: &str) -> Option<TagFilter> {
    let any = tags.contains('/');
    let mut wanted: Vec<String> = Vec::new();
    for tag in tags.split([',', '/']).filter(|t| !t.is_empty()) {
        if !wanted.iter().any(|w| w == tag) {
            wanted.push(tag.to_string());
        }
    }
    (!wanted.is_empty()).then_some(TagFilter {
        tags: wanted,
        all: !any,
    })
}

fn next_link(path: &str, query: &HashMap<String, String>, offset: &str) -> String {
    let mut params = form_urlencoded::Serializer::new(String::new());
    params.append_pair("offset", offset);
    let mut keys: Vec<&String> = query.keys().filter(|k| *k != "offset").collect();
    keys.sort();
    for key in keys {
        params.append_pair(key, &query[key]);
    }
    format!("{path}?{}", params.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_empty_query_asks_for_the_first_default_page() {
        assert_eq!(
            parse(&query(&[]), 1000),
            Ok(ListRequest {
                size: 100,
                offset: None,
                tags: None,
                name_eq: None,
                name_contains: None,
            })
        );
    }

    #[test]
    fn sizes_outside_the_bounds_name_the_bounds() {
        for bad in ["0", "1001", "-1", "ten", "1.5", "", " 5"] {
            let e = parse(&query(&[("size", bad)]), 1000).unwrap_err();
            assert_eq!(
                e,
                [
                    FieldError::invalid("size", "must be an integer from 1 to 1000")
                        .from_source("query")
                ],
                "{bad:?}"
            );
        }
        assert_eq!(parse(&query(&[("size", "1000")]), 1000).unwrap().size, 1000);
        assert_eq!(parse(&query(&[("size", "1")]), 1000).unwrap().size, 1);
    }

    #[test]
    fn offset_and_name_filters_are_taken_as_given() {
        let request = parse(
            &query(&[
                ("offset", "abc"),
                ("filter[name][eq]", "a b"),
                ("filter[name][contains]", "%_"),
            ]),
            1000,
        )
        .unwrap();
        assert_eq!(request.offset.as_deref(), Some("abc"));
        assert_eq!(request.name_eq.as_deref(), Some("a b"));
        assert_eq!(request.name_contains.as_deref(), Some("%_"));
    }

    #[test]
    fn tags_with_commas_need_all_and_with_slashes_any() {
        let tags = |raw: &str| parse(&query(&[("tags", raw)]), 1000).unwrap().tags;
        assert_eq!(
            tags("a,b,a"),
            Some(TagFilter {
                tags: vec!["a".into(), "b".into()],
                all: true
            })
        );
        assert_eq!(
            tags("a/b"),
            Some(TagFilter {
                tags: vec!["a".into(), "b".into()],
                all: false
            })
        );
        for none in ["", ",", "/", ",/,"] {
            assert_eq!(tags(none), None, "{none:?}");
        }
    }

    #[test]
    fn the_next_link_puts_offset_first_then_the_other_keys_sorted() {
        let q = query(&[
            ("size", "2"),
            ("tags", "a/b"),
            ("offset", "old"),
            ("filter[name][eq]", "x y"),
        ]);
        assert_eq!(
            next_link("/v2/control-planes/c/core-entities/services", &q, "n&1"),
            "/v2/control-planes/c/core-entities/services?offset=n%261&filter%5Bname%5D%5Beq%5D=x+y&size=2&tags=a%2Fb"
        );
        assert_eq!(next_link("/p", &query(&[]), "o"), "/p?offset=o");
    }
}
