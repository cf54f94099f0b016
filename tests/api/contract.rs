//! The contract test: konnektd against Konnect's official "Konnect Control Planes
//! Configuration" spec, through the census `tests/contract/derive_census.py` derives from
//! it (`tests/contract/control-planes-config.census.json`: each operation's method, path,
//! statuses and the shape each status's body must have; the spec's source and version are
//! in its header).
//!
//! A resource is a path's literal segments after the control plane (`services`,
//! `consumer_groups/consumers`, `upstreams/targets`). A resource konnektd serves (any
//! census operation of it is in the route table, [`konnektd::http::route_table`]) must
//! serve every census operation of it, and each one's success path must answer a status
//! and a body the spec allows, as must its 401. Resources nobody serves yet are left out,
//! so a new resource is held to the spec from its first route: add a sample body for it in
//! [`sample`].
//!
//! Bodies are checked as Kong/sdk-konnect-go decodes them: required fields present, types
//! as declared, no unknown field where the schema is closed (`additionalProperties:
//! false`); `null` is accepted for an optional field (the SDK decodes it as unset).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::certificates::{self_signed, test_ca};
use crate::harness::core_entities::control_plane;
use crate::harness::{Backend, TestApp, fixture};

both_backends!(served_operations_answer_what_the_spec_allows);

const CENSUS: &str = include_str!("../contract/control-planes-config.census.json");

/// Operations whose success path needs a connected data plane (a node to read or
/// delete); they are checked for routing and their 401 only.
const NEEDS_A_DATA_PLANE: &[&str] = &["get-nodes-node_id", "delete-nodes-node_id"];

#[derive(Debug, Clone)]
struct Operation {
    method: String,
    /// konnektd's path, `{}` for every parameter.
    template: String,
    /// The spec's path, parameter names kept.
    spec_path: String,
    id: String,
    responses: BTreeMap<String, Value>,
}

impl Operation {
    fn resource(&self) -> String {
        resource_of(&self.spec_path)
    }
}

fn census() -> (Value, Vec<Operation>) {
    let census: Value = serde_json::from_str(CENSUS).expect("the census is JSON");
    let prefix = census["derived_from"]["server_prefix"].as_str().unwrap();
    let operations = census["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            let spec_path = op["path"].as_str().unwrap().to_string();
            Operation {
                method: op["method"].as_str().unwrap().to_string(),
                template: template(&format!("{prefix}{spec_path}")),
                spec_path,
                id: op["operation_id"].as_str().unwrap_or_default().to_string(),
                responses: op["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }
        })
        .collect();
    (census, operations)
}

/// A path with every `{param}` as `{}`, so axum's and the spec's names compare.
fn template(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The literal segments after `/control-planes/{id}` (and `core-entities`).
fn resource_of(spec_path: &str) -> String {
    spec_path
        .split('/')
        .skip(3)
        .filter(|s| !s.starts_with('{') && *s != "core-entities")
        .collect::<Vec<_>>()
        .join("/")
}

fn routed() -> BTreeSet<(String, String)> {
    konnektd::http::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_string(), template(&p)))
        .collect()
}

fn served_operations() -> (Value, Vec<Operation>, Vec<String>) {
    let (census, operations) = census();
    let routes = routed();
    let served: BTreeSet<String> = operations
        .iter()
        .filter(|op| routes.contains(&(op.method.clone(), op.template.clone())))
        .map(Operation::resource)
        .collect();
    let mut missing = Vec::new();
    let mut ops = Vec::new();
    for op in operations {
        if !served.contains(&op.resource()) {
            continue;
        }
        if routes.contains(&(op.method.clone(), op.template.clone())) {
            ops.push(op);
        } else {
            missing.push(format!("{} {} ({})", op.method, op.spec_path, op.id));
        }
    }
    (census, ops, missing)
}

/// Every census operation of a resource konnektd serves is routed.
#[test]
fn every_operation_of_a_served_resource_is_routed() {
    let (census, ops, missing) = served_operations();
    assert!(
        missing.is_empty(),
        "{} {} lists these operations of resources konnektd serves, unrouted: {missing:#?}",
        census["derived_from"]["title"],
        census["derived_from"]["version"],
    );
    // The resources this branch serves, at least (others add theirs).
    let resources: BTreeSet<String> = ops.iter().map(Operation::resource).collect();
    for resource in [
        "services",
        "routes",
        "consumers",
        "consumer_groups",
        "plugins",
        "consumer_groups/consumers",
        "consumers/consumer_groups",
        "expected-config-version",
        "schemas/validate",
        "dp-client-certificates",
        "upstreams",
        "upstreams/targets",
        "targets",
        "certificates",
        "certificates/snis",
        "snis",
        "ca_certificates",
        "consumers/acls",
        "consumers/basic-auth",
        "consumers/hmac-auth",
        "consumers/jwt",
        "consumers/key-auth",
        "acls",
        "basic-auths",
        "hmac-auths",
        "jwts",
        "key-auths",
        "key-sets",
        "key-sets/keys",
        "keys",
        "vaults",
    ] {
        assert!(resources.contains(resource), "{resource}: {resources:?}");
    }
}

/// Whether `value` has `shape` (the census's rendering of a schema); the problems found.
fn shape_errors(value: &Value, shape: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(kind) = shape.get("type").and_then(Value::as_str) else {
        return;
    };
    let fits = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !fits {
        if value.is_null() && shape.get("nullable") == Some(&json!(true)) {
            return;
        }
        errors.push(format!("{at}: expected {kind}, got {value}"));
        return;
    }
    if let (Value::Object(map), Some(props)) = (value, shape.get("properties")) {
        let props = props.as_object().unwrap();
        for required in shape["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !map.contains_key(name) {
                errors.push(format!("{at}.{name}: required, missing"));
            }
        }
        for (name, field) in map {
            match props.get(name) {
                Some(_) if field.is_null() => {}
                Some(inner) => shape_errors(field, inner, &format!("{at}.{name}"), errors),
                None if shape.get("closed") == Some(&json!(true)) => {
                    errors.push(format!("{at}.{name}: not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, shape.get("items")) {
        for (i, v) in items.iter().enumerate() {
            shape_errors(v, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// A body that creates one entity of the collection `resource` ends in, unique by `n`.
fn sample(resource: &str, n: usize, env: &Env) -> Option<Value> {
    let last = resource.rsplit('/').next().unwrap_or(resource);
    Some(match last {
        "services" => json!({"name": format!("svc-{n}"), "host": "example.com"}),
        "routes" => json!({"name": format!("route-{n}"), "paths": [format!("/r{n}")]}),
        "consumers" if resource == "consumers" => json!({"username": format!("user-{n}")}),
        "consumer_groups" if resource == "consumer_groups" => {
            json!({"name": format!("group-{n}")})
        }
        // Plugins that take any scope (not `no_consumer`) and need no config.
        "plugins" => {
            let names = [
                "correlation-id",
                "request-size-limiting",
                "request-transformer",
                "response-transformer",
                "request-termination",
            ];
            json!({"name": names[n % names.len()]})
        }
        "dp-client-certificates" => json!({"cert": self_signed(&format!("dp-{n}")).cert_pem}),
        "upstreams" => json!({"name": format!("up-{n}.example.com")}),
        "targets" => json!({"target": format!("t{n}.example.com:8000")}),
        "certificates" => {
            // With the `snis` shorthand (Konnect's `Certificate.snis`).
            let host = format!("cert-{n}.example.com");
            let pair = self_signed(&host);
            json!({"cert": pair.cert_pem, "key": pair.key_pem, "snis": [host]})
        }
        "ca_certificates" => json!({"cert": test_ca(&format!("ca-{n}")).0}),
        // Nested under its certificate, or naming it at the top level.
        "snis" if resource == "snis" => {
            json!({"name": format!("sni-{n}.example.com"), "certificate": {"id": env.certificate}})
        }
        "snis" => json!({"name": format!("sni-{n}.example.com")}),
        // Credentials: created under the consumer (the top-level paths only read them).
        "acls" => json!({"group": format!("acl-{n}")}),
        "basic-auth" | "basic-auths" => {
            json!({"username": format!("basic-{n}"), "password": "s3cret"})
        }
        "hmac-auth" | "hmac-auths" => json!({"username": format!("hmac-{n}")}),
        "jwt" | "jwts" => json!({"key": format!("jwt-{n}")}),
        "key-auth" | "key-auths" => json!({"key": format!("key-{n}")}),
        "plugin-schemas" => json!({"lua_schema": env.lua_schema}),
        "key-sets" => json!({"name": format!("key-set-{n}")}),
        "keys" => {
            json!({"kid": format!("kid-{n}"), "jwk": crate::keys::rsa_jwk(&format!("kid-{n}"))})
        }
        "vaults" => json!({"name": "env", "prefix": format!("vault-{n}")}),
        _ => return None,
    })
}

/// Where an entity of the top-level, read-only `resource` is created: Konnect lists and
/// reads credentials at `key-auths/{id}` but creates them only under their consumer.
fn created_under(resource: &str, env: &Env) -> Option<String> {
    let nested = match resource {
        "acls" => "acls",
        "basic-auths" => "basic-auth",
        "hmac-auths" => "hmac-auth",
        "jwts" => "jwt",
        "key-auths" => "key-auth",
        _ => return None,
    };
    Some(format!("{}/consumers/{}/{nested}", env.base, env.consumer))
}

/// The key set `key-sets/{KeySetId}/keys` operations run under, by name.
const CONTRACT_KEY_SET: &str = "contract-key-set";

/// What the operations run against: one control plane and one entity of each kind.
struct Env {
    cp: String,
    base: String,
    service: String,
    route: String,
    consumer: String,
    group: String,
    certificate: String,
    upstream: String,
    lua_schema: String,
}

impl Env {
    /// The concrete path of `op`, parameters filled from the fixtures, `item` for the
    /// last one when it names the operated-on entity.
    fn path(&self, op: &Operation, item: Option<&str>) -> String {
        let segments: Vec<&str> = op.spec_path.split('/').collect();
        let last_param = segments.iter().rposition(|s| s.starts_with('{'));
        let filled: Vec<String> = segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if !s.starts_with('{') {
                    return s.to_string();
                }
                if Some(i) == last_param
                    && let Some(item) = item
                {
                    return item.to_string();
                }
                match s.trim_matches(|c| c == '{' || c == '}') {
                    "controlPlaneId" => self.cp.clone(),
                    "ServiceId" => self.service.clone(),
                    "RouteId" => self.route.clone(),
                    "ConsumerId" | "ConsumerIdForNestedEntities" => self.consumer.clone(),
                    "ConsumerGroupId" => self.group.clone(),
                    "CertificateId" => self.certificate.clone(),
                    "UpstreamId" | "UpstreamIdForTarget" => self.upstream.clone(),
                    "entityName" => "services".into(),
                    "pluginName" => "key-auth".into(),
                    "KeySetId" => CONTRACT_KEY_SET.into(),
                    // The operated-on entity, when the caller gives none (the 401 check).
                    _ => uuid::Uuid::new_v4().to_string(),
                }
            })
            .collect();
        format!("/v2{}", filled.join("/"))
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let mut request = app.request(Method::from_bytes(method.as_bytes()).unwrap(), path);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, media, body)
}

/// The census's verdict on one answer.
fn judge(op: &Operation, status: u16, media: &str, body: &Value) -> Vec<String> {
    let Some(expected) = op.responses.get(&status.to_string()) else {
        return vec![format!(
            "{} ({}): {status} is not among {:?}: {body}",
            op.id,
            op.spec_path,
            op.responses.keys().collect::<Vec<_>>()
        )];
    };
    let mut errors = Vec::new();
    if let Some(want) = expected.get("media_type").and_then(Value::as_str)
        && !media.starts_with(want)
    {
        errors.push(format!(
            "{} {status}: media type {media}, the spec says {want}",
            op.id
        ));
    }
    if let Some(shape) = expected.get("body") {
        shape_errors(body, shape, &format!("{} {status}", op.id), &mut errors);
    }
    errors
}

/// Each served operation's success path, and its 401, answer what the spec allows.
async fn served_operations_answer_what_the_spec_allows(backend: Backend) {
    let (_, ops, _) = served_operations();
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "contract").await;
    let mut env = Env {
        cp,
        base,
        service: String::new(),
        route: String::new(),
        consumer: String::new(),
        group: String::new(),
        certificate: String::new(),
        upstream: String::new(),
        lua_schema: fixture("ping-auth/schema.lua"),
    };
    let create = |path: String, body: Value| {
        let app = &app;
        async move {
            let (status, _, created) = call(app, "POST", &path, Some(&body)).await;
            assert_eq!(status, 201, "POST {path}: {created}");
            created["id"].as_str().unwrap().to_string()
        }
    };
    env.service = create(
        format!("{}/services", env.base),
        json!({"name": "svc", "host": "example.com"}),
    )
    .await;
    env.route = create(
        format!("{}/services/{}/routes", env.base, env.service),
        json!({"name": "rt", "paths": ["/rt"]}),
    )
    .await;
    env.consumer = create(
        format!("{}/consumers", env.base),
        json!({"username": "alice"}),
    )
    .await;
    env.group = create(
        format!("{}/consumer_groups", env.base),
        json!({"name": "gold"}),
    )
    .await;
    let pair = self_signed("contract.example.com");
    env.certificate = create(
        format!("{}/certificates", env.base),
        json!({"cert": pair.cert_pem, "key": pair.key_pem}),
    )
    .await;
    env.upstream = create(
        format!("{}/upstreams", env.base),
        json!({"name": "contract.example.com"}),
    )
    .await;

    create(
        format!("{}/key-sets", env.base),
        json!({"name": CONTRACT_KEY_SET}),
    )
    .await;

    let mut errors = Vec::new();
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        n
    };
    for op in &ops {
        // The 401, for every served operation.
        let unauthenticated = app
            .client
            .request(
                Method::from_bytes(op.method.as_bytes()).unwrap(),
                app.url(&env.path(op, None)),
            )
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let status = unauthenticated.status().as_u16();
        let media = unauthenticated
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body: Value = unauthenticated.json().await.unwrap_or(Value::Null);
        if status != 401 {
            errors.push(format!("{}: {status} without a token", op.id));
        } else if op.responses.contains_key("401") {
            errors.extend(judge(op, status, &media, &body));
        }
        if NEEDS_A_DATA_PLANE.contains(&op.id.as_str()) {
            continue;
        }

        // The success path.
        let resource = op.resource();
        let ends_in_param = op.spec_path.ends_with('}');
        let collection_path = |env: &Env| {
            if ends_in_param {
                let p = env.path(op, Some("ITEM"));
                p[..p.rfind('/').unwrap()].to_string()
            } else {
                env.path(op, None)
            }
        };
        let (method, path, body): (&str, String, Option<Value>) =
            match (op.method.as_str(), resource.as_str()) {
                (_, "consumer_groups/consumers") | (_, "consumers/consumer_groups") => {
                    let group_side = resource == "consumer_groups/consumers";
                    let k = fresh();
                    // A fresh partner, joined first when the operation takes a membership.
                    let partner = if group_side {
                        create(
                            format!("{}/consumers", env.base),
                            json!({"username": format!("m-{k}")}),
                        )
                        .await
                    } else {
                        create(
                            format!("{}/consumer_groups", env.base),
                            json!({"name": format!("m-{k}")}),
                        )
                        .await
                    };
                    let field = if group_side { "consumer" } else { "group" };
                    let mut join = json!({});
                    join[field] = json!(partner);
                    let collection = collection_path(&env);
                    if op.method != "POST" {
                        let (s, _, b) = call(&app, "POST", &collection, Some(&join)).await;
                        assert_eq!(s, 201, "{collection}: {b}");
                    }
                    match op.method.as_str() {
                        "POST" => ("POST", collection, Some(join)),
                        _ if ends_in_param => {
                            (op.method.as_str(), format!("{collection}/{partner}"), None)
                        }
                        _ => (op.method.as_str(), collection, None),
                    }
                }
                ("POST", "schemas/validate") => (
                    "POST",
                    env.path(op, None),
                    Some(json!({"name": "x", "host": "example.com"})),
                ),
                ("GET", _)
                    if !ends_in_param
                        || !op.responses.contains_key("404") && resource.starts_with("schemas") =>
                {
                    ("GET", env.path(op, None), None)
                }
                (method, _) => {
                    let k = fresh();
                    let Some(sample) = sample(&resource, k, &env) else {
                        errors.push(format!(
                            "{}: no sample body for {resource}; add one to `sample`",
                            op.id
                        ));
                        continue;
                    };
                    let collection = collection_path(&env);
                    if resource == "plugin-schemas" {
                        // One schema name: make room for it.
                        call(&app, "DELETE", &format!("{collection}/ping-auth"), None).await;
                    }
                    if method == "POST" {
                        ("POST", collection, Some(sample))
                    } else {
                        let origin = created_under(&resource, &env).unwrap_or(collection.clone());
                        let (s, _, created) = call(&app, "POST", &origin, Some(&sample)).await;
                        assert_eq!(s, 201, "POST {origin} {sample}: {created}");
                        let item = created["id"]
                            .as_str()
                            .or_else(|| created["item"]["id"].as_str())
                            .or_else(|| created["item"]["name"].as_str())
                            .unwrap()
                            .to_string();
                        let body = (method == "PUT").then_some(sample);
                        (method, format!("{collection}/{item}"), body)
                    }
                }
            };
        let (status, media, answer) = call(&app, method, &path, body.as_ref()).await;
        if !(200..300).contains(&status) {
            errors.push(format!("{} {method} {path}: {status} {answer}", op.id));
            continue;
        }
        errors.extend(judge(op, status, &media, &answer));
    }
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
    app.shutdown().await;
}

both_backends!(
    expected_config_version_follows_the_config,
    any_kind_with_a_schema_validates_without_storing,
);

async fn version(app: &TestApp, cp: &str) -> String {
    let path = format!("/v2/runtime-groups/{cp}/expected-config-version");
    let hash = format!("/v2/control-planes/{cp}/expected-config-hash");
    let (_, _, v) = call(app, "GET", &path, None).await;
    let (_, _, h) = call(app, "GET", &hash, None).await;
    assert!(v["created_at"].as_i64().unwrap() > 0, "{v}");
    assert_eq!(v["expected_config_version"], h["expected_hash"]);
    v["expected_config_version"].as_str().unwrap().to_string()
}

/// `get-expected-config-version`: the spec's `expected_config_version` (a string) and
/// `created_at`; konnektd's data planes sync whole configs, so it is the expected hash and
/// moves with every change.
async fn expected_config_version_follows_the_config(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "version").await;
    let before = version(&app, &cp).await;
    let (status, _, _) = call(
        &app,
        "POST",
        &format!("{base}/services"),
        Some(&json!({"name": "s", "host": "example.com"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(version(&app, &cp).await, before);
    let (status, _, _) = call(
        &app,
        "GET",
        &format!(
            "/v2/control-planes/{}/expected-config-version",
            uuid::Uuid::new_v4()
        ),
        None,
    )
    .await;
    assert_eq!(status, 404);
    app.shutdown().await;
}

/// `validate-entity-schema`: a create's checks for each kind with a schema, Koko's
/// errors, nothing stored; an unknown kind is a 404 that names it.
async fn any_kind_with_a_schema_validates_without_storing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (cp, base) = control_plane(&app, "validate").await;
    for (kind, body) in [
        ("services", json!({"name": "s", "host": "example.com"})),
        ("routes", json!({"paths": ["/a"]})),
        ("consumers", json!({"username": "u"})),
        ("consumer_groups", json!({"name": "g"})),
    ] {
        for family in crate::harness::core_entities::families(&cp) {
            let (status, _, answer) = call(
                &app,
                "POST",
                &format!("{family}/schemas/{kind}/validate"),
                Some(&body),
            )
            .await;
            assert_eq!(
                (status, answer),
                (200, json!({"message": "schema validation successful"})),
                "{family} {kind}"
            );
        }
        let (_, _, list) = call(&app, "GET", &format!("{base}/{kind}"), None).await;
        assert_eq!(list["data"], json!([]), "{kind}: nothing stored");
    }
    let (status, _, error) = call(
        &app,
        "POST",
        &format!("{base}/schemas/services/validate"),
        Some(&json!({"name": "s"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["message"], "validation error", "{error}");
    let (status, _, error) = call(
        &app,
        "POST",
        &format!("{base}/schemas/consumer_group_consumers/validate"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        error["message"],
        "no schema for an entity named 'consumer_group_consumers'"
    );
    app.shutdown().await;
}
