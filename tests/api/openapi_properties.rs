//! `openapi.yaml` held to the server, property by property: for every operation of the
//! `/v2/control-planes` family with a request body or constrained query parameters, cases
//! are derived from the spec's own constraints (boundaries of `minLength`, `maxLength`,
//! `minimum`, `maximum`, members and non-members of `enum`, a `pattern` probe, missing
//! `required` members, `null`, wrong types, unknown members), the spec decides whether
//! each case is valid (JSON Schema, `jsonschema`), and the real server must agree: 2xx
//! exactly when the spec says valid, 4xx when it says invalid, and every 2xx body must
//! match the operation's response schema. The `/v2/runtime-groups` and legacy families
//! share their handlers and must share their operations' schemas (checked statically).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::harness::{Backend, TestApp, certificates};
use crate::{both_backends, keys::rsa_jwk};

const CANONICAL: &str = "/v2/control-planes";
const ALIASES: [&str; 2] = [
    "/v2/runtime-groups/{controlPlaneId}",
    "/konnect-api/api/runtime_groups/{controlPlaneId}",
];

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    serde_yaml::from_str(&text).expect("openapi.yaml is YAML")
}

/// Follows `$ref`s to `#/components/...` until a value that is not a reference.
fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let pointer = r.strip_prefix('#').expect("local $ref");
        v = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {r}"));
    }
    v
}

/// A schema of the spec, its `$ref`s resolved against the whole document.
struct Validators<'a> {
    doc: &'a Value,
    cache: HashMap<String, jsonschema::Validator>,
}

impl<'a> Validators<'a> {
    fn new(doc: &'a Value) -> Self {
        Validators {
            doc,
            cache: HashMap::new(),
        }
    }

    /// Every error of `instance` against `schema`, as text; empty when valid.
    fn errors(&mut self, schema: &Value, instance: &Value) -> Vec<String> {
        let key = schema.to_string();
        let doc = self.doc;
        let validator = self.cache.entry(key).or_insert_with(|| {
            let root = json!({"allOf": [schema], "components": doc["components"]});
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema does not compile: {e}: {schema}"))
        });
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

/// The JSON types a schema allows (after `$ref`, `allOf` and `oneOf`/`anyOf`).
fn types_of(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = deref(doc, schema);
    let mut out = BTreeSet::new();
    match &schema["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().filter_map(|t| t.as_str().map(String::from))),
        _ => {}
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for sub in schema[key].as_array().into_iter().flatten() {
            out.extend(types_of(doc, sub));
        }
    }
    if let Some(e) = schema["enum"].as_array().and_then(|e| e.first()) {
        out.insert(json_type(e).into());
    }
    if out.contains("integer") {
        out.insert("number".into());
    }
    out
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A schema with `$ref` resolved and the members of its `allOf` merged in.
fn flat(doc: &Value, schema: &Value) -> Map<String, Value> {
    // Members beside a `$ref` (`readOnly`, `description`) count too.
    let mut out = schema.as_object().cloned().unwrap_or_default();
    out.remove("$ref");
    let schema = deref(doc, schema);
    for (k, v) in schema.as_object().into_iter().flatten() {
        out.entry(k.clone()).or_insert(v.clone());
    }
    for sub in schema["allOf"].as_array().into_iter().flatten() {
        for (k, v) in flat(doc, sub) {
            out.entry(k).or_insert(v);
        }
    }
    out
}

/// Candidate values for one property, derived from its schema alone; the spec later
/// decides which are valid. `semantic` values (PEM, Lua, references) get no synthesized
/// valid values, only the structural ones.
fn probes(doc: &Value, schema: &Value, depth: usize) -> Vec<Value> {
    let s = flat(doc, schema);
    let types = types_of(doc, schema);
    let mut out = vec![Value::Null];
    // One value of a type the schema does not allow.
    if types.contains("string") {
        out.push(json!(12345));
    } else {
        out.push(json!("x"));
    }
    let example = s
        .get("examples")
        .and_then(|e| e.as_array())
        .and_then(|e| e.first())
        .cloned();
    if let Some(e) = &example {
        out.push(e.clone());
    }
    if let Some(members) = s.get("enum").and_then(Value::as_array) {
        out.push(members[0].clone());
        out.push(members[members.len() - 1].clone());
        out.push(if types.contains("string") {
            json!("not-a-member")
        } else {
            json!(-7)
        });
    } else if types.contains("string") {
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        if min > 0 {
            out.push(json!("a".repeat(min - 1)));
        } else {
            out.push(json!(""));
        }
        if example.is_none() && s.get("format").is_none() {
            out.push(json!("a".repeat(min.max(1))));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            out.push(json!("a".repeat(max as usize)));
            out.push(json!("a".repeat(max as usize + 1)));
        }
        if s.contains_key("pattern") || s.contains_key("format") {
            out.push(json!("a b,c/d"));
        }
    } else if types.contains("integer") || types.contains("number") {
        let min = s.get("minimum").and_then(Value::as_i64);
        let max = s.get("maximum").and_then(Value::as_i64);
        if let Some(min) = min {
            out.extend([json!(min - 1), json!(min)]);
        }
        if let Some(max) = max {
            out.extend([json!(max), json!(max + 1)]);
        }
        if min.is_none() && max.is_none() {
            out.push(json!(-1));
        }
        if !types.contains("number") || s.get("type") == Some(&json!("integer")) {
            out.push(json!(1.5));
        }
    } else if types.contains("boolean") {
        out.extend([json!(true), json!(false)]);
    }
    if types.contains("array") {
        out.push(json!([]));
        if depth == 0
            && let Some(items) = s.get("items")
        {
            for p in probes(doc, items, depth + 1) {
                out.push(json!([p]));
            }
            if s.get("uniqueItems") == Some(&json!(true))
                && let Some(e) = flat(doc, items)
                    .get("examples")
                    .and_then(|e| e.get(0))
                    .cloned()
            {
                out.push(json!([e.clone(), e]));
            }
        }
    }
    // An open object (a plugin's `config`) is checked by what the spec does not hold.
    let open = s.get("additionalProperties") == Some(&json!(true)) && !s.contains_key("properties");
    if types.contains("object") && !open {
        out.push(json!({}));
        if s.get("additionalProperties") == Some(&json!(false)) {
            out.push(json!({"unknown_field": 1}));
        }
        if depth == 0
            && let Some(props) = s.get("properties").and_then(Value::as_object)
        {
            for (name, sub) in props {
                for p in probes(doc, sub, depth + 1) {
                    out.push(Value::Object(Map::from_iter([(name.clone(), p)])));
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|v| seen.insert(v.to_string()));
    out
}

/// One body case: what was changed, and the body.
struct Case {
    what: String,
    body: Value,
}

/// The base body, then the base with each property probed, each required member
/// removed, and an unknown member added.
fn body_cases(
    doc: &Value,
    schema: &Value,
    base: &Value,
    full: bool,
    from_path: Option<&str>,
    patch: bool,
) -> Vec<Case> {
    let mut cases = vec![Case {
        what: "the valid body".into(),
        body: base.clone(),
    }];
    let s = flat(doc, schema);
    if s.get("additionalProperties") == Some(&json!(false)) {
        cases.push(Case {
            what: "an unknown member".into(),
            body: with(base, "unknown_field", json!(1)),
        });
    }
    cases.push(Case {
        what: "a body that is not an object".into(),
        body: json!([base]),
    });
    if !full {
        return cases;
    }
    for r in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let r = r.as_str().unwrap();
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(r);
        cases.push(Case {
            what: format!("without required `{r}`"),
            body,
        });
    }
    for (name, sub) in s
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        // Under a nested path the parent comes from the path, whatever the body says.
        // A PATCH's `id` is the path's; the body's is ignored.
        if flat(doc, sub).get("readOnly") == Some(&json!(true))
            || Some(name.as_str()) == from_path
            || (patch && name == "id")
        {
            continue;
        }
        for p in probes(doc, sub, 0) {
            cases.push(Case {
                what: format!("`{name}` = {p}"),
                body: with(base, name, p),
            });
        }
    }
    cases
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut body = base.clone();
    body.as_object_mut().unwrap().insert(key.into(), value);
    body
}

/// The member a nested path sets (`/services/{serviceId}/routes` sets `service`).
fn parent_member(path: &str) -> Option<&'static str> {
    let collection_path = if path.ends_with('}') {
        path.rsplit_once('/').unwrap().0
    } else {
        path
    };
    let (parent, _) = collection_path.rsplit_once("/{")?;
    Some(match parent.rsplit('/').next()? {
        "services" => "service",
        "routes" => "route",
        "consumers" => "consumer",
        "consumer_groups" => "consumer_group",
        "upstreams" => "upstream",
        "certificates" => "certificate",
        "key-sets" => "set",
        _ => return None,
    })
}

/// What the fixture control plane holds, by path parameter name.
struct Fixture {
    params: HashMap<&'static str, String>,
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
    dp_pem: String,
}

impl Fixture {
    async fn build(app: &TestApp) -> Self {
        let cp = app
            .create_control_plane(&json!({"name": "spec-properties"}))
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let base = format!("/v2/control-planes/{cp}/core-entities");
        let tls = |f: &str| crate::harness::fixture(&format!("tls/{f}"));
        let (cert_pem, key_pem) = (tls("rsa.crt"), tls("rsa.key"));
        let (ca_pem, _) = certificates::test_ca("spec CA");
        let dp_pem = certificates::self_signed("spec dp").cert_pem;
        let upload = spec()["components"]["examples"]["PluginSchemaUploadExample"]["value"].clone();
        let mut params = HashMap::from([("controlPlaneId", cp.clone())]);
        let create = |path: String, body: Value| async move {
            let response = app.post_json(&path, &body).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert!(status.is_success(), "fixture {path}: {status} {body}");
            body
        };
        create(format!("{base}/plugin-schemas"), upload).await;
        let id = |v: Value| v["id"].as_str().unwrap().to_string();
        let service = id(create(
            format!("{base}/services"),
            json!({"name": "fixture-service", "host": "fixture.internal"}),
        )
        .await);
        let route = id(create(
            format!("{base}/routes"),
            json!({"name": "fixture-route", "paths": ["/fixture"], "service": {"id": service}}),
        )
        .await);
        let consumer = id(create(
            format!("{base}/consumers"),
            json!({"username": "fixture-consumer"}),
        )
        .await);
        let group = id(create(
            format!("{base}/consumer_groups"),
            json!({"name": "fixture-group"}),
        )
        .await);
        let upstream = id(create(
            format!("{base}/upstreams"),
            json!({"name": "fixture.upstream"}),
        )
        .await);
        let certificate = id(create(
            format!("{base}/certificates"),
            json!({"cert": cert_pem, "key": key_pem}),
        )
        .await);
        let key_set = id(create(format!("{base}/key-sets"), json!({"name": "fixture-set"})).await);
        let dp_certificate = create(
            format!("/v2/control-planes/{cp}/dp-client-certificates"),
            json!({"cert": certificates::self_signed("fixture dp").cert_pem}),
        )
        .await["item"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        params.extend([
            ("serviceId", service),
            ("routeId", route),
            ("consumerId", consumer),
            ("consumerGroupId", group),
            ("upstreamId", upstream),
            ("certificateId", certificate),
            ("KeySetId", key_set),
            ("dpCertificateId", dp_certificate),
            ("entityName", "services".into()),
        ]);
        Fixture {
            params,
            cert_pem,
            key_pem,
            ca_pem,
            dp_pem,
        }
    }

    /// A valid body for a create (POST or PUT) on the collection `collection` (the
    /// path's last literal segment), `nested` under a parent given by the path.
    fn create_body(&self, path: &str, collection: &str) -> Value {
        let collection_path = if path.ends_with('}') {
            path.rsplit_once('/').unwrap().0
        } else {
            path
        };
        let nested = collection_path.matches('{').count() > 1;
        let p = |k: &str| self.params[k].clone();
        match collection {
            "control-planes" => json!({"name": "spec-cp"}),
            // Named `a`, the shortest name the probes try for `name`.
            "plugin-schemas" => {
                json!({"lua_schema": "return { name = \"a\", fields = { { config = { type = \"record\", fields = {} } } } }"})
            }
            "services" => json!({"name": "spec-service", "host": "spec.internal"}),
            "routes" if nested => json!({"name": "spec-route", "paths": ["/spec"]}),
            "routes" => {
                json!({"name": "spec-route", "paths": ["/spec"], "service": {"id": p("serviceId")}})
            }
            "consumers" if path.contains("consumer_groups/{") => {
                json!({"consumer": p("consumerId")})
            }
            "consumers" => json!({"username": "spec-consumer", "custom_id": "spec-1"}),
            "consumer_groups" if path.contains("consumers/{") => {
                json!({"group": p("consumerGroupId")})
            }
            "consumer_groups" => json!({"name": "spec-group"}),
            "plugins" | "validate" if path.contains("plugins") => {
                json!({"name": "my-header", "config": {"header_name": "x-spec"}})
            }
            "validate" => json!({"host": "spec.internal"}),
            "dp-client-certificates" => json!({"cert": self.dp_pem}),
            "key-auth" => json!({"key": "spec-key-0001"}),
            "basic-auth" => json!({"username": "spec-basic", "password": "spec-password"}),
            "hmac-auth" => json!({"username": "spec-hmac"}),
            "jwt" => json!({"key": "spec-jwt"}),
            "acls" => json!({"group": "spec-acl"}),
            "upstreams" => json!({"name": "spec.upstream"}),
            "targets" => json!({"target": "10.0.0.1:8080"}),
            "certificates" => json!({"cert": self.cert_pem, "key": self.key_pem}),
            "snis" if nested => json!({"name": "spec.example.com"}),
            "snis" => {
                json!({"name": "spec.example.com", "certificate": {"id": p("certificateId")}})
            }
            "ca_certificates" => json!({"cert": self.ca_pem}),
            "key-sets" => json!({"name": "spec-set"}),
            "keys" => json!({"kid": "a", "name": "spec-key", "jwk": rsa_jwk("a")}),
            "vaults" => json!({"name": "env", "prefix": "spec-vault"}),
            other => panic!("no valid body known for {other} ({path})"),
        }
    }
}

/// An operation of the canonical family with what it needs.
struct Operation {
    method: Method,
    path: String,
    op: Value,
    params: Vec<Value>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with(CANONICAL) {
            continue;
        }
        let shared: Vec<Value> = item["parameters"].as_array().cloned().unwrap_or_default();
        for method in ["get", "post", "put", "patch"] {
            let Some(op) = item.get(method) else { continue };
            let mut params: Vec<Value> = shared.iter().map(|p| deref(doc, p).clone()).collect();
            for p in op["parameters"].as_array().into_iter().flatten() {
                params.push(deref(doc, p).clone());
            }
            out.push(Operation {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path: path.clone(),
                op: op.clone(),
                params,
            });
        }
    }
    out
}

/// The path's last literal segment: the collection an operation acts on.
fn collection_of(path: &str) -> &str {
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.last().unwrap();
    if last.starts_with('{') {
        segments[segments.len() - 2]
    } else {
        last
    }
}

fn leaf_param(path: &str) -> Option<&str> {
    path.rsplit('/')
        .next()
        .and_then(|s| s.strip_prefix('{'))
        .and_then(|s| s.strip_suffix('}'))
}

struct Runner<'a> {
    app: &'a TestApp,
    doc: &'a Value,
    validators: Validators<'a>,
    failures: Vec<String>,
    requests: usize,
    /// 2xx bodies checked against their schema, by status.
    bodies: BTreeMap<u16, usize>,
}

impl Runner<'_> {
    /// Sends one request and checks the answer against the spec's verdict and the
    /// operation's response schema; returns the status and body.
    async fn check(
        &mut self,
        op: &Operation,
        url: &str,
        body: Option<&Value>,
        spec_errors: &[String],
        what: &str,
        names_entities: bool,
    ) -> (u16, Value) {
        self.requests += 1;
        let mut request = self.app.request(op.method.clone(), url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let label = format!("{} {} with {what}", op.method, op.path);
        let valid = spec_errors.is_empty();
        // A body that names entities by ID or name may name one that does not exist,
        // which no schema can tell: 404.
        let missing_entity = names_entities && status == 404 && what != "the valid body";
        if valid && !(200..300).contains(&status) && !missing_entity {
            self.failures.push(format!(
                "{label}: the spec says valid, the server answered {status} {text}"
            ));
        } else if !valid && !(400..500).contains(&status) {
            self.failures.push(format!(
                "{label}: the spec says invalid ({}), the server answered {status}",
                spec_errors.join("; ")
            ));
        }
        let documented = deref(self.doc, &op.op["responses"]).get(status.to_string());
        match documented {
            None => self
                .failures
                .push(format!("{label}: status {status} is not documented")),
            Some(response) => {
                let response = deref(self.doc, response);
                if let Some(schema) = response.pointer("/content/application~1json/schema") {
                    if (200..300).contains(&status) {
                        *self.bodies.entry(status).or_default() += 1;
                    }
                    let errors = self.validators.errors(schema, &answer);
                    if !errors.is_empty() {
                        self.failures.push(format!(
                            "{label}: the {status} body does not match its schema: {} in {text}",
                            errors.join("; ")
                        ));
                    }
                }
            }
        }
        (status, answer)
    }
}

fn concrete(path: &str, params: &HashMap<&str, String>, leaf: Option<&str>) -> String {
    path.split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if Some(name) == leaf_param(path) && leaf.is_some() => {
                    leaf.unwrap_or_default().to_string()
                }
                // A pinned data-plane certificate, not a core-entity certificate.
                Some("certificateId") if path.contains("dp-client-certificates") => {
                    params["dpCertificateId"].clone()
                }
                Some(name) => params
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("no value for {{{name}}} in {path}")),
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// The id to delete a created entity by, and the path that deletes it.
fn cleanup_path(op: &Operation, url: &str, answer: &Value) -> Option<String> {
    let collection = collection_of(&op.path);
    if matches!(collection, "validate") {
        return None;
    }
    if op.method == Method::PUT {
        return Some(url.to_string());
    }
    let item = answer.get("item").unwrap_or(answer);
    let id = match collection {
        "plugin-schemas" => item["name"].as_str()?.to_string(),
        "consumers" if op.path.contains("consumer_groups/{") => {
            return Some(format!("{url}/{}", answer["consumers"][0]["id"].as_str()?));
        }
        "consumer_groups" if op.path.contains("consumers/{") => {
            return Some(format!(
                "{url}/{}",
                answer["consumer_groups"][0]["id"].as_str()?
            ));
        }
        _ => item["id"].as_str()?.to_string(),
    };
    Some(format!("{url}/{id}"))
}

async fn spec_and_server_agree_on_every_input(backend: Backend) {
    let doc = spec();
    let app = TestApp::spawn(backend).await;
    let fixture = Fixture::build(&app).await;
    let mut runner = Runner {
        app: &app,
        doc: &doc,
        validators: Validators::new(&doc),
        failures: Vec::new(),
        requests: 0,
        bodies: BTreeMap::new(),
    };
    let mut probed: BTreeSet<String> = BTreeSet::new();
    for op in operations(&doc) {
        let collection = collection_of(&op.path).to_string();
        // Query parameters with constraints: each alone, at each probe.
        if op.method == Method::GET {
            if leaf_param(&op.path).is_some_and(|l| !fixture.params.contains_key(l)) {
                continue;
            }
            let url = concrete(&op.path, &fixture.params, None);
            // Every GET answers what its schema says.
            runner
                .check(&op, &url, None, &[], "no query parameters", false)
                .await;
            // A path parameter the spec constrains (a UUID) refuses anything else.
            for param in op.params.iter().filter(|p| p["in"] == "path") {
                let name = param["name"].as_str().unwrap();
                let schema = flat(&doc, &param["schema"]);
                if !schema.contains_key("format") && !schema.contains_key("pattern") {
                    continue;
                }
                let mut params = fixture.params.clone();
                params.insert(name, "not-a-uuid".into());
                if name == "certificateId" {
                    params.insert("dpCertificateId", "not-a-uuid".into());
                }
                let errors = runner
                    .validators
                    .errors(&param["schema"], &json!("not-a-uuid"));
                let probe = concrete(&op.path, &params, None);
                runner
                    .check(
                        &op,
                        &probe,
                        None,
                        &errors,
                        &format!("{{{name}}} = not-a-uuid"),
                        false,
                    )
                    .await;
            }
            for param in op.params.iter().filter(|p| p["in"] == "query") {
                let name = param["name"].as_str().unwrap();
                let key = format!("{}{}", name, param["schema"]);
                if !probed.insert(key) {
                    continue;
                }
                for p in probes(&doc, &param["schema"], 1) {
                    let raw = match &p {
                        Value::Null | Value::Array(_) | Value::Object(_) => continue,
                        Value::String(s) if s.is_empty() => continue,
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    // A query value is text: it is valid when its JSON reading, or the
                    // text itself, is.
                    let as_json: Value = serde_json::from_str(&raw).unwrap_or(json!(raw));
                    let mut errors = runner.validators.errors(&param["schema"], &as_json);
                    if !errors.is_empty()
                        && runner
                            .validators
                            .errors(&param["schema"], &json!(raw))
                            .is_empty()
                    {
                        errors.clear();
                    }
                    let with_query = format!(
                        "{url}?{}={}",
                        name.replace('[', "%5B").replace(']', "%5D"),
                        urlencode(&raw)
                    );
                    runner
                        .check(
                            &op,
                            &with_query,
                            None,
                            &errors,
                            &format!("{name}={raw}"),
                            false,
                        )
                        .await;
                }
            }
            continue;
        }
        let Some(request_body) = op.op.get("requestBody") else {
            continue;
        };
        let schema = deref(&doc, request_body)["content"]["application/json"]["schema"].clone();
        let is_patch = op.method == Method::PATCH;
        // A PATCH sends the whole entity again, so that each probe is judged with the
        // fields it is checked against (Kong validates the merged entity).
        let mut base = fixture.create_body(&op.path, &collection);
        let full = probed.insert(schema.to_string());
        // The entity a PATCH leaves must be valid as a whole: as the body is the whole
        // entity, it must also be a valid replacement (the PUT of the same path).
        let whole =
            if is_patch {
                doc["paths"][&op.path]["put"]["requestBody"].as_object().map(|b| {
                deref(&doc, &Value::Object(b.clone()))["content"]["application/json"]["schema"]
                    .clone()
            })
            } else {
                None
            };
        let membership = matches!(
            (
                collection.as_str(),
                op.path.contains("consumer_groups/{"),
                op.path.contains("consumers/{")
            ),
            ("consumers", true, _) | ("consumer_groups", _, true)
        );
        // PATCH acts on an entity made for it, and PUT on a fresh ID.
        let (leaf, patched) = match op.method {
            Method::PUT => {
                let leaf = match collection.as_str() {
                    "plugin-schemas" => "a".to_string(),
                    _ => uuid::Uuid::new_v4().to_string(),
                };
                (Some(leaf), None)
            }
            Method::PATCH => {
                let collection_path = op.path.rsplit_once('/').unwrap().0;
                let url = concrete(collection_path, &fixture.params, None);
                let response = app
                    .post_json(&url, &fixture.create_body(collection_path, &collection))
                    .await;
                assert!(
                    response.status().is_success(),
                    "making a target for {}",
                    op.path
                );
                let made: Value = response.json().await.unwrap();
                let id = made.get("item").unwrap_or(&made)["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                // The entity as stored, defaults included, is what a PATCH merges into.
                if collection != "control-planes" {
                    base = made;
                    for key in ["id", "created_at", "updated_at", "cert_digest"] {
                        base.as_object_mut().unwrap().remove(key);
                    }
                }
                (Some(id.clone()), Some(format!("{url}/{id}")))
            }
            _ => (None, None),
        };
        let url = concrete(&op.path, &fixture.params, leaf.as_deref());
        let from_path = parent_member(&op.path);
        for case in body_cases(&doc, &schema, &base, full, from_path, is_patch) {
            let mut errors = runner.validators.errors(&schema, &case.body);
            if let Some(whole) = &whole {
                errors.extend(runner.validators.errors(whole, &case.body));
            }
            if case.what == "the valid body" && !errors.is_empty() {
                runner.failures.push(format!(
                    "{} {}: the test's valid body is not valid by the spec: {errors:?}",
                    op.method, op.path
                ));
                break;
            }
            let (status, answer) = runner
                .check(&op, &url, Some(&case.body), &errors, &case.what, membership)
                .await;
            if (200..300).contains(&status) && is_patch {
                // Back to the base entity, so the next probe is judged alone.
                let method = if doc["paths"][&op.path].get("put").is_some() {
                    Method::PUT
                } else {
                    Method::PATCH
                };
                let reset = app.request(method, &url).json(&base).send().await.unwrap();
                assert!(reset.status().is_success(), "resetting {url}");
            }
            if (200..300).contains(&status)
                && !is_patch
                && let Some(cleanup) = cleanup_path(&op, &url, &answer)
            {
                let response = app.delete(&cleanup).await;
                assert_eq!(response.status(), 204, "cleaning up {cleanup}");
            }
        }
        if let Some(patched) = patched {
            let response = app.delete(&patched).await;
            assert_eq!(response.status(), 204, "cleaning up {patched}");
        }
    }
    let failures = std::mem::take(&mut runner.failures);
    let requests = runner.requests;
    let bodies = std::mem::take(&mut runner.bodies);
    app.shutdown().await;
    eprintln!("{requests} requests; 2xx bodies checked: {bodies:?}");
    for status in [200, 201] {
        assert!(
            bodies.get(&status).is_some_and(|n| *n > 50),
            "too few {status} bodies checked against their schema: {bodies:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} cases disagree with openapi.yaml:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

both_backends!(spec_and_server_agree_on_every_input);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The alias families serve the canonical handlers: each of their operations takes the
/// same parameters and bodies and answers the same schemas as its canonical twin.
#[test]
fn alias_operations_say_what_their_canonical_twins_say() {
    let doc = spec();
    let paths = doc["paths"].as_object().unwrap();
    let mut compared = 0;
    for (path, item) in paths {
        let Some(rest) = ALIASES.iter().find_map(|a| path.strip_prefix(a)) else {
            continue;
        };
        let twin = paths
            .get(&format!(
                "/v2/control-planes/{{controlPlaneId}}/core-entities{rest}"
            ))
            .or_else(|| paths.get(&format!("/v2/control-planes/{{controlPlaneId}}{rest}")));
        let Some(twin) = twin else { continue };
        for method in ["get", "post", "put", "patch", "delete"] {
            let (Some(a), Some(c)) = (item.get(method), twin.get(method)) else {
                continue;
            };
            let body = |op: &Value| {
                op.get("requestBody")
                    .map(|b| deref(&doc, b)["content"].clone())
            };
            assert_eq!(body(a), body(c), "{method} {path}: request body");
            let query = |op: &Value| -> BTreeMap<String, Value> {
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| deref(&doc, p))
                    .filter(|p| p["in"] == "query")
                    .map(|p| (p["name"].as_str().unwrap().to_string(), p["schema"].clone()))
                    .collect()
            };
            assert_eq!(query(a), query(c), "{method} {path}: query parameters");
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} alias operations compared");
}

/// Every example the spec gives validates against the schema beside it.
#[test]
fn the_specs_examples_match_their_schemas() {
    let doc = spec();
    let mut validators = Validators::new(&doc);
    let mut checked = 0;
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for example in schema["examples"].as_array().into_iter().flatten() {
            let errors = validators.errors(schema, example);
            assert!(errors.is_empty(), "example of {name}: {errors:?}");
            checked += 1;
        }
    }
    assert!(checked > 0);
}
