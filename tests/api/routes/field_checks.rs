//! Kong's checks of a route's fields: what it must match, its protocols' subschemas,
//! paths (regexes included), hosts, methods, headers and SNIs.

use serde_json::json;

use super::{no_routes, rejected, route_defaults};
use crate::both_backends;
use crate::harness::core_entities::{
    control_plane, create, entity_error, fetch, field_error, without_generated,
};
use crate::harness::{Backend, TestApp, status_and_json};

both_backends!(
    a_route_that_matches_nothing_gets_kongs_message_for_its_protocols,
    the_protocols_pick_the_subschema_its_defaults_and_its_forbidden_fields,
    bad_paths_get_kongs_texts,
    bad_hosts_methods_headers_snis_and_names_get_kongs_texts,
    an_invalid_regex_path_is_rejected_with_pcres_reason,
    a_regex_the_atc_router_cannot_compile_fails_the_route,
    a_path_normalizing_to_non_utf8_bytes_keeps_its_message,
    an_empty_protocols_set_is_kongs_unknown_type_nil,
);

/// A route needs something to match on; the `@entity` message names the fields for
/// its protocols (routes_subschemas.lua), the default http+https included.
async fn a_route_that_matches_nothing_gets_kongs_message_for_its_protocols(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    for (protocols, message) in [
        (
            None,
            "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'",
        ),
        (
            Some(json!(["https"])),
            "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'",
        ),
        (
            Some(json!(["http"])),
            "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'",
        ),
        (
            Some(json!(["grpc", "grpcs"])),
            "must set one of 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'grpcs'",
        ),
        (
            Some(json!(["grpc"])),
            "must set one of 'hosts', 'headers', 'paths' when 'protocols' is 'grpc'",
        ),
        (
            Some(json!(["tcp", "udp"])),
            "must set one of 'sources', 'destinations', 'snis' when 'protocols' is 'tcp', 'tls' or 'udp'",
        ),
        (
            Some(json!(["tls_passthrough"])),
            "must set snis when 'protocols' is 'tls_passthrough'",
        ),
    ] {
        let body = match protocols {
            None => json!({}),
            Some(p) => json!({"protocols": p}),
        };
        rejected(&app, &base, body, vec![entity_error(&[message])]).await;
    }
    // Empty lists match nothing either.
    rejected(
        &app,
        &base,
        json!({"protocols": ["http"], "paths": [], "methods": [], "hosts": []}),
        vec![entity_error(&[
            "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'",
        ])],
    )
    .await;
    no_routes(&app, &base).await;

    // One matching field is enough, for each family of protocols.
    for body in [
        json!({"methods": ["GET"]}),
        json!({"protocols": ["http"], "headers": {"x-a": ["1"]}}),
        json!({"protocols": ["https"], "snis": ["a.example"]}),
        json!({"protocols": ["grpc"], "hosts": ["g.example"]}),
        json!({"protocols": ["tcp"], "sources": [{"ip": "10.0.0.0/8"}]}),
        json!({"protocols": ["udp"], "destinations": [{"port": 53}]}),
        json!({"protocols": ["tls"], "snis": ["t.example"]}),
        json!({"protocols": ["tls_passthrough"], "snis": ["p.example"]}),
    ] {
        create(&app, &format!("{base}/routes"), &body).await;
    }
    app.shutdown().await;
}

/// The first protocol picks the subschema: gRPC routes default `strip_path` to false
/// and refuse `strip_path: true` and `methods`; http routes refuse `sources` (even
/// `[]`); stream routes refuse http fields; `snis` need a TLS protocol; protocol
/// families cannot be mixed.
async fn the_protocols_pick_the_subschema_its_defaults_and_its_forbidden_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let grpc = create(
        &app,
        &format!("{base}/routes"),
        &json!({"protocols": ["grpc", "grpcs"], "paths": ["/pkg.Service/"]}),
    )
    .await;
    assert_eq!(
        without_generated(&grpc),
        route_defaults(json!({
            "protocols": ["grpc", "grpcs"],
            "paths": ["/pkg.Service/"],
            "strip_path": false,
        }))
    );
    let tcp = create(
        &app,
        &format!("{base}/routes"),
        &json!({"protocols": ["tcp"], "destinations": [{"ip": "10.0.0.1", "port": 5432}]}),
    )
    .await;
    assert_eq!(
        without_generated(&tcp),
        route_defaults(json!({
            "protocols": ["tcp"],
            "destinations": [{"ip": "10.0.0.1", "port": 5432}],
        }))
    );

    rejected(
        &app,
        &base,
        json!({"protocols": ["grpc"], "paths": ["/x"], "strip_path": true, "methods": ["GET"]}),
        vec![
            field_error(
                "methods",
                &["cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"],
            ),
            field_error(
                "strip_path",
                &["cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'"],
            ),
        ],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({"paths": ["/x"], "sources": []}),
        vec![field_error(
            "sources",
            &["cannot set 'sources' when 'protocols' is 'http' or 'https'"],
        )],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({"protocols": ["https"], "paths": ["/x"], "destinations": [{"port": 1}]}),
        vec![field_error(
            "destinations",
            &["cannot set 'destinations' when 'protocols' is 'http' or 'https'"],
        )],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({"protocols": ["tcp"], "sources": [{"ip": "10.0.0.1"}], "hosts": ["h"], "paths": ["/"]}),
        vec![
            field_error(
                "hosts",
                &["cannot set 'hosts' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"],
            ),
            field_error(
                "paths",
                &["cannot set 'paths' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'"],
            ),
        ],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({"protocols": ["http"], "paths": ["/"], "snis": ["a.example"]}),
        vec![
            entity_error(&[
                "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
            ]),
            field_error("snis", &["length must be 0"]),
        ],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({"protocols": ["http", "tcp"], "paths": ["/"]}),
        vec![field_error(
            "protocols",
            &["these sets are mutually exclusive: ('http', 'https'), ('tcp', 'tls', 'udp')"],
        )],
    )
    .await;
    // Kong stops at the subschema key when no subschema matches (`Schema:validate`).
    rejected(
        &app,
        &base,
        json!({"protocols": ["ftp"], "paths": ["/"], "nope": 1}),
        vec![field_error("protocols", &["unknown type: ftp"])],
    )
    .await;
    // The first protocol that has a subschema picks it; the rest is validated as usual.
    rejected(
        &app,
        &base,
        json!({"protocols": ["ftp", "http"], "paths": ["/"], "nope": 1}),
        vec![
            field_error("nope", &["unknown field"]),
            field_error(
                "protocols[0]",
                &["expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp"],
            ),
        ],
    )
    .await;
    let list = fetch(&app, &format!("{base}/routes")).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        2,
        "only the two valid routes"
    );
    app.shutdown().await;
}

/// Paths must start with `/` or `~/`, have no empty segment, be normalized and
/// percent-encode correctly; each element's error names its index.
async fn bad_paths_get_kongs_texts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    rejected(
        &app,
        &base,
        json!({"paths": ["x", "/a//b", "/a/../b", "/%zz", "/ok", "", "/a/./b", "/some%2words", 5]}),
        vec![
            field_error(
                "paths[0]",
                &["should start with: / (fixed path) or ~/ (regex path)"],
            ),
            field_error("paths[1]", &["must not have empty segments"]),
            field_error(
                "paths[2]",
                &["non-normalized path, consider use '/b' instead"],
            ),
            field_error("paths[3]", &["invalid url-encoded value: '%zz'"]),
            field_error("paths[5]", &["length must be at least 1"]),
            field_error(
                "paths[6]",
                &["non-normalized path, consider use '/a/b' instead"],
            ),
            field_error("paths[7]", &["invalid url-encoded value: '%2w'"]),
            field_error("paths[8]", &["expected a string"]),
        ],
    )
    .await;
    // Kong's `normalize` decodes every escape but the reserved characters', and
    // upper-cases those; a path must already be in that form.
    rejected(
        &app,
        &base,
        json!({"paths": ["/%7Euser", "/caf%C3%A9", "/a%2fb", "/%2e%2e/x", "/%20space"]}),
        vec![
            field_error(
                "paths[0]",
                &["non-normalized path, consider use '/~user' instead"],
            ),
            field_error(
                "paths[1]",
                &["non-normalized path, consider use '/café' instead"],
            ),
            field_error(
                "paths[2]",
                &["non-normalized path, consider use '/a%2Fb' instead"],
            ),
            field_error(
                "paths[3]",
                &["non-normalized path, consider use '/x' instead"],
            ),
            field_error(
                "paths[4]",
                &["non-normalized path, consider use '/ space' instead"],
            ),
        ],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({"paths": "/not-a-list"}),
        vec![field_error("paths", &["expected an array"])],
    )
    .await;
    no_routes(&app, &base).await;
    for good in ["/", "/ovo/", "/abcd~user~2", "/a%2Fb%3F", "~/users/\\d+"] {
        create(&app, &format!("{base}/routes"), &json!({"paths": [good]})).await;
    }
    app.shutdown().await;
}

/// Hosts, methods, headers, snis and names are checked the way Kong checks routes'.
async fn bad_hosts_methods_headers_snis_and_names_get_kongs_texts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    rejected(
        &app,
        &base,
        json!({
            "name": "r 1",
            "paths": ["/"],
            // A bare `*` and an inner one break typedefs.hosts' match_any, as Kong's own
            // hosts cases show (kong/db/schema/typedefs.lua; the Go client's schema tests).
            "hosts": ["*.a.*", "a..b", "1.2.3.999", "*example.com", "example.com:1000000", "example-.org", "*", "a.*.b"],
            "methods": ["get"],
            "headers": {"Host": ["x"]},
            "regex_priority": 1.5,
        }),
        vec![
            field_error(
                "headers",
                &["cannot contain 'host' header, which must be specified in the 'hosts' attribute"],
            ),
            field_error("hosts[0]", &["invalid wildcard: must have at most one wildcard"]),
            field_error("hosts[1]", &["invalid hostname: a..b"]),
            field_error("hosts[2]", &["invalid ipv4 address: 1.2.3.999"]),
            field_error(
                "hosts[3]",
                &["invalid wildcard: must be placed at leftmost or rightmost label"],
            ),
            field_error("hosts[4]", &["invalid port number"]),
            field_error("hosts[5]", &["invalid hostname: example-.org"]),
            field_error(
                "hosts[6]",
                &["invalid wildcard: must be placed at leftmost or rightmost label"],
            ),
            field_error(
                "hosts[7]",
                &["invalid wildcard: must be placed at leftmost or rightmost label"],
            ),
            field_error("methods[0]", &["invalid value: get"]),
            field_error(
                "name",
                &["invalid value 'r 1': the only accepted ascii characters are alphanumerics or ., -, _, and ~"],
            ),
            field_error("regex_priority", &["expected an integer"]),
        ],
    )
    .await;
    rejected(
        &app,
        &base,
        json!({
            "protocols": ["https"],
            "snis": ["a.*.com", "1.2.3.4", "a.com:443"],
            "https_redirect_status_code": 200,
            "path_handling": "v2",
            "unknown": 1,
        }),
        vec![
            field_error(
                "https_redirect_status_code",
                &["expected one of: 426, 301, 302, 307, 308"],
            ),
            field_error("path_handling", &["expected one of: v0, v1"]),
            field_error(
                "snis[0]",
                &["wildcard must be leftmost or rightmost character"],
            ),
            field_error("snis[1]", &["must not be an IP"]),
            field_error("snis[2]", &["must not have a port"]),
            field_error("unknown", &["unknown field"]),
        ],
    )
    .await;
    no_routes(&app, &base).await;
    app.shutdown().await;
}

/// Kong's `router_path` validator compiles `~` paths with PCRE; an invalid regex is a
/// field error at its index (NOTES.md §7: the Rust side must run this check).
async fn an_invalid_regex_path_is_rejected_with_pcres_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"paths": ["/fine", "~/users/(foo"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["message"], "validation error");
    let details = error["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{error}");
    assert_eq!(details[0]["type"], "ERROR_TYPE_FIELD");
    assert_eq!(details[0]["field"], "paths[1]");
    let message = details[0]["messages"][0].as_str().unwrap();
    // The reason after "PCRE returned: " is the regex engine's own wording.
    assert!(
        message.starts_with("invalid regex: '/users/(foo' (PCRE returned: ")
            && message.ends_with(')'),
        "{message}"
    );
    no_routes(&app, &base).await;
    app.shutdown().await;
}

/// Under the traditional_compatible router Kong compiles each route into an ATC
/// expression; regexes the Rust `regex` crate rejects (look-around, back-references)
/// fail with `Router Expression failed validation: ...` in `@entity` (NOTES.md §7).
async fn a_regex_the_atc_router_cannot_compile_fails_the_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    for body in [
        json!({"paths": ["~/a(?=b)"]}),
        json!({"paths": ["~/(a)\\1"]}),
        json!({"paths": ["/x"], "headers": {"x-a": ["~*(?<!b)c"]}}),
    ] {
        let (status, error) =
            status_and_json(app.post_json(&format!("{base}/routes"), &body).await).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["message"], "validation error", "{body}");
        let details = error["details"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{error}");
        assert_eq!(details[0]["type"], "ERROR_TYPE_ENTITY", "{error}");
        let message = details[0]["messages"][0].as_str().unwrap();
        assert!(
            message.starts_with("Router Expression failed validation: "),
            "{message}"
        );
    }
    no_routes(&app, &base).await;
    app.shutdown().await;
}

/// `protocols: []` picks no subschema, so Kong's `Schema:validate` stops with
/// `SUBSCHEMA_UNKNOWN:format(key[1])`; LuaJIT formats the missing first element as `nil`.
async fn an_empty_protocols_set_is_kongs_unknown_type_nil(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    rejected(
        &app,
        &base,
        json!({"protocols": [], "paths": ["/"]}),
        vec![field_error("protocols", &["unknown type: nil"])],
    )
    .await;
    no_routes(&app, &base).await;
    app.shutdown().await;
}

/// Kong decodes `%aa` to the raw byte 0xAA, so `/abcd%aa%10` is not normalized and
/// fails with Kong's text naming the normalized form; the text must survive even though
/// those bytes are not UTF-8 (they can only be shown replaced).
async fn a_path_normalizing_to_non_utf8_bytes_keeps_its_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"paths": ["/abcd%aa%10%ff"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["details"][0]["field"], "paths[0]", "{error}");
    let message = error["details"][0]["messages"][0].as_str().unwrap();
    assert!(
        message.starts_with("non-normalized path, consider use '/abcd")
            && message.ends_with("' instead"),
        "{message:?}"
    );
    no_routes(&app, &base).await;
    app.shutdown().await;
}
