//! Routes, top-level and under their service, with Kong 3.10's rules
//! (kong/db/schema/entities/routes.lua + routes_subschemas.lua, src/lua/entities/NOTES.md §1, §7).

use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{Backend, TestApp, problem, status_and_json};
use crate::services::{
    control_plane, create, entity_error, families, fetch, field_error, ids, koko, not_found,
    put_json, reference_error, unique_violation, without_generated,
};

both_backends!(
    creating_a_route_fills_in_kongs_defaults,
    routes_under_a_service_are_created_listed_and_fetched_through_it,
    a_route_pointing_at_a_missing_service_is_a_data_constraint_error,
    a_route_that_matches_nothing_gets_kongs_message_for_its_protocols,
    the_protocols_pick_the_subschema_its_defaults_and_its_forbidden_fields,
    bad_paths_get_kongs_texts,
    bad_hosts_methods_headers_snis_and_names_get_kongs_texts,
    put_patch_and_delete_check_the_whole_route,
    a_taken_route_name_is_a_data_constraint_error,
    routes_are_served_on_every_url_family,
    an_invalid_regex_path_is_rejected_with_pcres_reason,
    a_regex_the_atc_router_cannot_compile_fails_the_route,
    a_path_normalizing_to_non_utf8_bytes_keeps_its_message,
    an_empty_protocols_set_is_kongs_unknown_type_nil,
);

/// A route as Kong fills it in: http and https, and the defaults of every flag.
fn route_defaults(overrides: Value) -> Value {
    let mut route = json!({
        "protocols": ["http", "https"],
        "strip_path": true,
        "preserve_host": false,
        "regex_priority": 0,
        "path_handling": "v0",
        "https_redirect_status_code": 426,
        "request_buffering": true,
        "response_buffering": true,
    });
    for (k, v) in overrides.as_object().unwrap() {
        route[k] = v.clone();
    }
    route
}

async fn service(app: &TestApp, base: &str, name: &str) -> String {
    let s = create(
        app,
        &format!("{base}/services"),
        &json!({"name": name, "host": "upstream"}),
    )
    .await;
    s["id"].as_str().unwrap().to_string()
}

/// Posts `body` to `/routes` and expects a 400 validation error with `details`.
async fn rejected(app: &TestApp, base: &str, body: Value, details: Vec<Value>) {
    let (status, error) =
        status_and_json(app.post_json(&format!("{base}/routes"), &body).await).await;
    assert_eq!(
        (status, error),
        (400, koko("validation error", details)),
        "{body}"
    );
}

async fn no_routes(app: &TestApp, base: &str) {
    let list = fetch(app, &format!("{base}/routes")).await;
    assert_eq!(list, json!({"data": [], "next": null, "offset": null}));
}

/// POST answers 201 with the route: the given fields and Kong's defaults (protocols
/// http+https, strip_path true, preserve_host false, regex_priority 0, path_handling
/// v0, https_redirect_status_code 426, buffering on); unset fields are left out.
async fn creating_a_route_fills_in_kongs_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let created = create(&app, &format!("{base}/routes"), &json!({"paths": ["/a"]})).await;
    assert_eq!(created["created_at"], created["updated_at"]);
    assert_eq!(
        without_generated(&created),
        route_defaults(json!({"paths": ["/a"]}))
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(fetch(&app, &format!("{base}/routes/{id}")).await, created);

    let service_id = service(&app, &base, "svc").await;
    let full = create(
        &app,
        &format!("{base}/routes"),
        &json!({
            "name": "full",
            "protocols": ["https"],
            "methods": ["GET", "POST"],
            "hosts": ["example.com", "*.example.org", "example.*"],
            "paths": ["/api", "~/v\\d+/users$"],
            "headers": {"x-version": ["1", "2"]},
            "snis": ["example.com"],
            "strip_path": false,
            "preserve_host": true,
            "regex_priority": -3,
            "path_handling": "v1",
            "https_redirect_status_code": 308,
            "request_buffering": false,
            "response_buffering": false,
            "tags": ["t1"],
            "service": {"id": service_id},
        }),
    )
    .await;
    assert_eq!(
        without_generated(&full),
        json!({
            "name": "full",
            "protocols": ["https"],
            "methods": ["GET", "POST"],
            "hosts": ["example.com", "*.example.org", "example.*"],
            "paths": ["/api", "~/v\\d+/users$"],
            "headers": {"x-version": ["1", "2"]},
            "snis": ["example.com"],
            "strip_path": false,
            "preserve_host": true,
            "regex_priority": -3,
            "path_handling": "v1",
            "https_redirect_status_code": 308,
            "request_buffering": false,
            "response_buffering": false,
            "tags": ["t1"],
            "service": {"id": service_id},
        })
    );
    assert_eq!(fetch(&app, &format!("{base}/routes/full")).await, full);
    app.shutdown().await;
}

/// `services/{id or name}/routes` sets the route's service from the path (whatever the
/// body says), lists only that service's routes, and answers 404 for a route of
/// another service or under a service that does not exist.
async fn routes_under_a_service_are_created_listed_and_fetched_through_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let a = service(&app, &base, "a").await;
    let b = service(&app, &base, "b").await;

    let by_id = create(
        &app,
        &format!("{base}/services/{a}/routes"),
        &json!({"name": "a1", "paths": ["/a1"]}),
    )
    .await;
    assert_eq!(
        without_generated(&by_id),
        route_defaults(json!({"name": "a1", "paths": ["/a1"], "service": {"id": a}}))
    );
    let by_name = create(
        &app,
        &format!("{base}/services/a/routes"),
        &json!({"paths": ["/a2"], "service": {"id": b}}),
    )
    .await;
    assert_eq!(
        by_name["service"],
        json!({"id": a}),
        "the path's service wins"
    );
    let of_b = create(
        &app,
        &format!("{base}/services/b/routes"),
        &json!({"name": "b1", "hosts": ["b.example"]}),
    )
    .await;
    let unattached = create(
        &app,
        &format!("{base}/routes"),
        &json!({"paths": ["/free"]}),
    )
    .await;
    assert!(unattached.get("service").is_none(), "{unattached}");

    let mut of_a = vec![
        by_id["id"].as_str().unwrap().to_string(),
        by_name["id"].as_str().unwrap().to_string(),
    ];
    of_a.sort();
    for parent in [a.as_str(), "a"] {
        let list = fetch(&app, &format!("{base}/services/{parent}/routes")).await;
        assert_eq!(ids(&list), of_a, "{parent}");
        assert_eq!(list["next"], Value::Null);
    }
    let b_id = of_b["id"].as_str().unwrap();
    let list = fetch(&app, &format!("{base}/services/b/routes")).await;
    assert_eq!(list, json!({"data": [of_b], "next": null, "offset": null}));
    let page = fetch(&app, &format!("{base}/services/a/routes?size=1")).await;
    assert_eq!(ids(&page), of_a[..1]);
    assert_eq!(
        page["next"],
        format!("{base}/services/a/routes?offset={}&size=1", of_a[0]).as_str()
    );
    assert_eq!(ids(&fetch(&app, &format!("{base}/routes")).await).len(), 4);

    assert_eq!(
        fetch(&app, &format!("{base}/services/a/routes/a1")).await,
        by_id
    );
    assert_eq!(
        fetch(&app, &format!("{base}/services/{b}/routes/{b_id}")).await,
        of_b
    );
    for path in [
        format!("{base}/services/a/routes/{b_id}"),
        format!("{base}/services/a/routes/b1"),
        format!("{base}/services/b/routes/a1"),
        format!(
            "{base}/services/a/routes/{}",
            unattached["id"].as_str().unwrap()
        ),
        format!("{base}/services/missing/routes/a1"),
    ] {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!((status, body), (404, not_found()), "{path}");
    }
    // Lists answer their errors as RFC 7807 problems.
    for parent in ["missing", "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"] {
        let (status, body) =
            problem(app.get(&format!("{base}/services/{parent}/routes")).await).await;
        assert_eq!(status, 404, "{parent}");
        assert_eq!(
            (&body["status"], &body["title"]),
            (&json!(404), &json!("Not Found"))
        );
    }
    let (status, body) = status_and_json(
        app.patch_json(
            &format!("{base}/services/a/routes/b1"),
            &json!({"paths": ["/x"]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (404, not_found()),
        "PATCH of another service's route"
    );
    let (status, body) = status_and_json(
        app.post_json(
            &format!("{base}/services/missing/routes"),
            &json!({"paths": ["/"]}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (404, not_found()),
        "POST under a missing service"
    );
    assert_eq!(
        app.delete(&format!("{base}/services/a/routes/b1"))
            .await
            .status(),
        204
    );
    assert_eq!(
        fetch(&app, &format!("{base}/routes/b1")).await,
        of_b,
        "a DELETE under the wrong service removes nothing"
    );
    assert_eq!(
        app.delete(&format!("{base}/services/b/routes/b1"))
            .await
            .status(),
        204
    );
    let (status, _) = status_and_json(app.get(&format!("{base}/routes/b1")).await).await;
    assert_eq!(status, 404);
    app.shutdown().await;
}

/// A `service.id` that names no service is Kong's foreign-key violation, as a 400
/// data constraint error on `service.id`; a malformed one is a field error. Neither
/// stores anything.
async fn a_route_pointing_at_a_missing_service_is_a_data_constraint_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let missing = "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7";
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"paths": ["/"], "service": {"id": missing}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error),
        (
            400,
            koko(
                "data constraint error",
                vec![reference_error(
                    Some("service.id"),
                    &[&format!(
                        "the foreign key '{{id=\"{missing}\"}}' does not reference an existing 'services' entity."
                    )]
                )]
            )
        )
    );
    rejected(
        &app,
        &base,
        json!({"paths": ["/"], "service": {"id": "nope"}}),
        vec![field_error("service.id", &["expected a valid UUID"])],
    )
    .await;
    no_routes(&app, &base).await;

    // The same holds when a stored route is moved onto a missing service.
    let route = create(&app, &format!("{base}/routes"), &json!({"paths": ["/"]})).await;
    let path = format!("{base}/routes/{}", route["id"].as_str().unwrap());
    let (status, error) = status_and_json(
        app.patch_json(&path, &json!({"service": {"id": missing}}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["message"], "data constraint error");
    assert_eq!(error["details"][0]["field"], "service.id");
    assert_eq!(fetch(&app, &path).await, route);
    app.shutdown().await;
}

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

/// PUT replaces and PATCH merges, and both check the whole resulting route: a PATCH to
/// grpc fails on the stored `strip_path: true`, a PATCH emptying the match fields
/// fails the entity check; rejected writes change nothing; DELETE is 204 and idempotent.
async fn put_patch_and_delete_check_the_whole_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let service_id = service(&app, &base, "svc").await;
    let created = create(
        &app,
        &format!("{base}/services/svc/routes"),
        &json!({"name": "r", "paths": ["/r"], "methods": ["GET"], "tags": ["t"]}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("{base}/routes/{id}");

    let (status, patched) = status_and_json(
        app.patch_json(
            &format!("{base}/routes/r"),
            &json!({"hosts": ["h.example"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let mut expected = created.clone();
    expected["hosts"] = json!(["h.example"]);
    expected["updated_at"] = patched["updated_at"].clone();
    assert_eq!(patched, expected);
    assert_eq!(fetch(&app, &path).await, patched);

    for (body, details) in [
        (
            json!({"protocols": ["grpc"]}),
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
        ),
        (
            json!({"paths": null, "methods": null, "hosts": null}),
            vec![entity_error(&[
                "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'",
            ])],
        ),
        (
            json!({"paths": ["nope"]}),
            vec![field_error(
                "paths[0]",
                &["should start with: / (fixed path) or ~/ (regex path)"],
            )],
        ),
    ] {
        let (status, error) = status_and_json(app.patch_json(&path, &body).await).await;
        assert_eq!(
            (status, error),
            (400, koko("validation error", details)),
            "{body}"
        );
        assert_eq!(fetch(&app, &path).await, patched, "after {body}");
    }
    let (status, grpc) = status_and_json(
        app.patch_json(
            &path,
            &json!({"protocols": ["grpc"], "strip_path": false, "methods": null}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{grpc}");
    assert_eq!(grpc["protocols"], json!(["grpc"]));
    assert!(grpc.get("methods").is_none(), "{grpc}");

    let (status, replaced) = status_and_json(
        put_json(
            &app,
            &format!("{base}/routes/r"),
            &json!({"hosts": ["only.example"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(
        without_generated(&replaced),
        route_defaults(json!({"name": "r", "hosts": ["only.example"]})),
        "paths, tags and service are gone"
    );
    let (status, nested) = status_and_json(
        put_json(
            &app,
            &format!("{base}/services/svc/routes/nested"),
            &json!({"paths": ["/n"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{nested}");
    assert_eq!(
        without_generated(&nested),
        route_defaults(json!({"name": "nested", "paths": ["/n"], "service": {"id": service_id}}))
    );

    for target in [id, id, "nested", "nested", "never"] {
        assert_eq!(
            app.delete(&format!("{base}/routes/{target}"))
                .await
                .status(),
            204,
            "{target}"
        );
    }
    no_routes(&app, &base).await;
    app.shutdown().await;
}

/// Route names are unique per control plane; routes without a name never collide.
async fn a_taken_route_name_is_a_data_constraint_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, base) = control_plane(&app, "routes").await;
    let taken = create(
        &app,
        &format!("{base}/routes"),
        &json!({"name": "x", "paths": ["/"]}),
    )
    .await;
    let other = create(
        &app,
        &format!("{base}/routes"),
        &json!({"name": "y", "paths": ["/"]}),
    )
    .await;
    let (status, error) = status_and_json(
        app.post_json(
            &format!("{base}/routes"),
            &json!({"name": "x", "hosts": ["h"]}),
        )
        .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("name", "x")));
    let (status, error) = status_and_json(
        app.patch_json(&format!("{base}/routes/y"), &json!({"name": "x"}))
            .await,
    )
    .await;
    assert_eq!((status, error), (400, unique_violation("name", "x")));
    assert_eq!(fetch(&app, &format!("{base}/routes/x")).await, taken);
    assert_eq!(fetch(&app, &format!("{base}/routes/y")).await, other);
    create(&app, &format!("{base}/routes"), &json!({"paths": ["/"]})).await;
    create(&app, &format!("{base}/routes"), &json!({"paths": ["/"]})).await;
    assert_eq!(ids(&fetch(&app, &format!("{base}/routes")).await).len(), 4);
    app.shutdown().await;
}

/// Top-level and nested routes answer the same on the three URL families.
async fn routes_are_served_on_every_url_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "routes").await;
    let service_id = service(&app, &base, "svc").await;
    let [canonical, runtime_groups, legacy] = families(&cp);
    let route = create(
        &app,
        &format!("{runtime_groups}/services/svc/routes"),
        &json!({"name": "r", "paths": ["/"]}),
    )
    .await;
    assert_eq!(route["service"], json!({"id": service_id}));
    for family in [&canonical, &runtime_groups, &legacy] {
        assert_eq!(
            fetch(&app, &format!("{family}/routes/r")).await,
            route,
            "{family}"
        );
        assert_eq!(
            fetch(&app, &format!("{family}/services/{service_id}/routes/r")).await,
            route,
            "{family}"
        );
        let list = fetch(&app, &format!("{family}/services/svc/routes")).await;
        assert_eq!(
            list,
            json!({"data": [route], "next": null, "offset": null}),
            "{family}"
        );
        let (status, error) =
            status_and_json(app.post_json(&format!("{family}/routes"), &json!({})).await).await;
        assert_eq!(
            (status, error),
            (
                400,
                koko(
                    "validation error",
                    vec![entity_error(&[
                        "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis' when 'protocols' is 'https'"
                    ])]
                )
            ),
            "{family}"
        );
    }
    assert_eq!(
        app.delete(&format!("{legacy}/services/svc/routes/r"))
            .await
            .status(),
        204
    );
    no_routes(&app, &canonical).await;
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
