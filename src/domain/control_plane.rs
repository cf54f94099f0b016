//! Control planes as the Konnect Control Planes v2 API defines them (Kong's public
//! repository Kong/developer.konghq.com, `api-specs/konnect/control-planes/v2/openapi.yaml`:
//! `CreateControlPlaneRequest`, `UpdateControlPlaneRequest`, `ControlPlane`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::Timestamp;
use super::field_error::FieldError;
use super::json_input::ObjectReader;

pub const CLUSTER_TYPES: &[&str] = &[
    "CLUSTER_TYPE_CONTROL_PLANE",
    "CLUSTER_TYPE_K8S_INGRESS_CONTROLLER",
    "CLUSTER_TYPE_CONTROL_PLANE_GROUP",
    "CLUSTER_TYPE_SERVERLESS",
    "CLUSTER_TYPE_KAFKA_NATIVE_EVENT_PROXY",
    "CLUSTER_TYPE_SERVERLESS_V1",
];
pub const AUTH_TYPES: &[&str] = &["pinned_client_certs", "pki_client_certs"];

const NAME_MIN: usize = 2;
const NAME_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 2048;
const PROXY_URLS_MAX: usize = 5;
const LABEL_MAX: usize = 63;
/// Konnect reserves these label-key prefixes for itself (`Labels` schema description).
const RESERVED_LABEL_PREFIXES: &[&str] = &["kong", "konnect", "mesh", "kic", "_"];

/// Where DPs reach a control plane; `konnectd` fills it from its own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub control_plane: String,
    pub telemetry: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyUrl {
    pub host: String,
    pub port: u16,
    pub protocol: String,
}

/// A stored control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlane {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    pub cluster_type: String,
    pub auth_type: String,
    pub cloud_gateway: bool,
    pub proxy_urls: Vec<ProxyUrl>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl ControlPlane {
    /// A new control plane from a validated create request.
    pub fn create(request: NewControlPlane, now: Timestamp) -> Self {
        ControlPlane {
            // Time-ordered, so lists in creation order stay stable within a millisecond.
            id: Uuid::now_v7(),
            name: request.name,
            description: request.description,
            labels: request.labels,
            cluster_type: request.cluster_type.to_string(),
            auth_type: request.auth_type.to_string(),
            cloud_gateway: request.cloud_gateway,
            proxy_urls: request.proxy_urls,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A create request that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewControlPlane {
    pub name: String,
    pub description: String,
    pub labels: BTreeMap<String, String>,
    pub cluster_type: &'static str,
    pub auth_type: &'static str,
    pub cloud_gateway: bool,
    pub proxy_urls: Vec<ProxyUrl>,
}

impl NewControlPlane {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut r = ObjectReader::new(
            body,
            "",
            &[
                "name",
                "description",
                "cluster_type",
                "auth_type",
                "cloud_gateway",
                "proxy_urls",
                "labels",
            ],
        )
        .map_err(|e| vec![*e])?;
        let name = match r.value("name") {
            None => {
                r.push(FieldError::required("name"));
                None
            }
            Some(_) => parse_name(&mut r),
        };
        let description = r.bounded_string("description", 0, DESCRIPTION_MAX);
        let cluster_type = r.choice("cluster_type", CLUSTER_TYPES);
        let auth_type = r.choice("auth_type", AUTH_TYPES);
        let cloud_gateway = r.bool("cloud_gateway");
        let proxy_urls = parse_proxy_urls(&mut r);
        let labels = parse_labels(&mut r);
        r.finish()?;
        Ok(NewControlPlane {
            name: name.unwrap_or_default(),
            description: description.unwrap_or_default().to_string(),
            labels: labels.unwrap_or_default(),
            cluster_type: cluster_type.unwrap_or(CLUSTER_TYPES[0]),
            auth_type: auth_type.unwrap_or(AUTH_TYPES[0]),
            cloud_gateway: cloud_gateway.unwrap_or(false),
            proxy_urls: proxy_urls.unwrap_or_default(),
        })
    }
}

/// A PATCH: only the fields given change; `labels` replaces the whole map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlPlanePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub auth_type: Option<&'static str>,
    pub proxy_urls: Option<Vec<ProxyUrl>>,
    pub labels: Option<BTreeMap<String, String>>,
}

impl ControlPlanePatch {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut r = ObjectReader::new(
            body,
            "",
            &["name", "description", "auth_type", "proxy_urls", "labels"],
        )
        .map_err(|e| vec![*e])?;
        let name = if r.value("name").is_some() {
            parse_name(&mut r)
        } else {
            None
        };
        let patch = ControlPlanePatch {
            name,
            description: r
                .bounded_string("description", 0, DESCRIPTION_MAX)
                .map(str::to_string),
            auth_type: r.choice("auth_type", AUTH_TYPES),
            proxy_urls: parse_proxy_urls(&mut r),
            labels: parse_labels(&mut r),
        };
        r.finish()?;
        Ok(patch)
    }

    /// Applies the patch and stamps `updated_at`.
    pub fn apply(self, cp: &mut ControlPlane, now: Timestamp) {
        if let Some(name) = self.name {
            cp.name = name;
        }
        if let Some(description) = self.description {
            cp.description = description;
        }
        if let Some(auth_type) = self.auth_type {
            cp.auth_type = auth_type.to_string();
        }
        if let Some(proxy_urls) = self.proxy_urls {
            cp.proxy_urls = proxy_urls;
        }
        if let Some(labels) = self.labels {
            cp.labels = labels;
        }
        cp.updated_at = now;
    }
}

fn parse_name(r: &mut ObjectReader<'_>) -> Option<String> {
    let raw = r.string("name")?;
    if raw.trim().is_empty() {
        r.push(FieldError::blank("name"));
        return None;
    }
    r.bounded_string("name", NAME_MIN, NAME_MAX)
        .map(str::to_string)
}

fn parse_proxy_urls(r: &mut ObjectReader<'_>) -> Option<Vec<ProxyUrl>> {
    let items = r.array("proxy_urls")?;
    if items.len() > PROXY_URLS_MAX {
        r.push(FieldError::max_items("proxy_urls", PROXY_URLS_MAX));
        return None;
    }
    let mut urls = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let path = format!("proxy_urls.{i}");
        let mut p = match ObjectReader::new(item, &path, &["host", "port", "protocol"]) {
            Ok(p) => p,
            Err(e) => {
                r.push(*e);
                ok = false;
                continue;
            }
        };
        for key in ["host", "port", "protocol"] {
            if p.value(key).is_none() {
                let field = p.path(key);
                p.push(FieldError::required(field));
            }
        }
        let host = p.bounded_string("host", 1, 120).map(str::to_string);
        let port = p.integer("port").and_then(|n| match u16::try_from(n) {
            Ok(port) if port >= 1 => Some(port),
            _ => {
                let field = p.path("port");
                p.push(FieldError::out_of_range(field, 1, 65535));
                None
            }
        });
        let protocol = p.bounded_string("protocol", 1, 32).map(str::to_string);
        let result = p.finish();
        ok &= result.is_ok();
        r.absorb(result);
        if let (Some(host), Some(port), Some(protocol)) = (host, port, protocol) {
            urls.push(ProxyUrl {
                host,
                port,
                protocol,
            });
        }
    }
    ok.then_some(urls)
}

fn parse_labels(r: &mut ObjectReader<'_>) -> Option<BTreeMap<String, String>> {
    let object = r.object("labels")?;
    let mut labels = BTreeMap::new();
    let mut errors = Vec::new();
    for (key, value) in object {
        let field = format!("labels.{key}");
        if let Err(reason) = check_label_key(key) {
            errors.push(FieldError::not_label(&field, reason));
            continue;
        }
        match value {
            Value::String(v) => match check_label_value(v) {
                Ok(()) => {
                    labels.insert(key.clone(), v.clone());
                }
                Err(reason) => errors.push(FieldError::not_label(&field, reason)),
            },
            _ => errors.push(FieldError::wrong_type(&field, "is_string")),
        }
    }
    let ok = errors.is_empty();
    for e in errors {
        r.push(e);
    }
    ok.then_some(labels)
}

fn check_label_key(key: &str) -> Result<(), String> {
    let len = key.chars().count();
    if !(1..=LABEL_MAX).contains(&len) {
        return Err(format!("key must have 1 to {LABEL_MAX} characters"));
    }
    let lower = key.to_ascii_lowercase();
    if let Some(prefix) = RESERVED_LABEL_PREFIXES
        .iter()
        .find(|p| lower.starts_with(**p))
    {
        return Err(format!("key must not start with '{prefix}'"));
    }
    Ok(())
}

/// `^[a-z0-9A-Z]{1}([a-z0-9A-Z\-\.\_]*[a-z0-9A-Z]+)?$`, 1 to 63 characters.
fn check_label_value(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_alphanumeric();
    let inner_ok = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    let valid = !bytes.is_empty()
        && bytes.len() <= LABEL_MAX
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok)
        && bytes.iter().all(inner_ok);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "value must have 1 to {LABEL_MAX} characters of [a-zA-Z0-9-._], starting and ending with a letter or digit"
        ))
    }
}

/// The filters of `GET /v2/control-planes` (`ControlPlaneFilterParameters`, `labels`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlPlaneFilter {
    /// `filter[id][eq]` or `filter[id][oeq]` (comma-separated).
    pub ids: Option<Vec<Uuid>>,
    pub name_eq: Option<String>,
    pub name_neq: Option<String>,
    pub name_contains: Option<String>,
    /// `filter[cluster_type][eq]` / `[oeq]`.
    pub cluster_types: Option<Vec<String>>,
    pub cluster_type_neq: Option<String>,
    pub cloud_gateway: Option<bool>,
    /// `labels=key:value,other`: a bare key only asks that the label exists.
    pub labels: Vec<(String, Option<String>)>,
    /// Set for tokens limited to some control planes: only these are visible.
    pub visible_to: Option<Vec<Uuid>>,
    /// `sort=created_at desc`; ascending by creation otherwise.
    pub newest_first: bool,
}

impl ControlPlaneFilter {
    /// Parses the `labels` query parameter (`key:value,existCheck`).
    pub fn parse_labels(raw: &str) -> Vec<(String, Option<String>)> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| match item.split_once(':') {
                Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
                None => (item.to_string(), None),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_an_empty_create_request() {
        let cp = NewControlPlane::parse(&json!({"name": "prod"})).unwrap();
        assert_eq!(cp.cluster_type, "CLUSTER_TYPE_CONTROL_PLANE");
        assert_eq!(cp.auth_type, "pinned_client_certs");
        assert!(!cp.cloud_gateway);
        assert!(cp.proxy_urls.is_empty() && cp.labels.is_empty());
        assert_eq!(cp.description, "");
    }

    #[test]
    fn every_bad_field_is_reported_once() {
        let errors = NewControlPlane::parse(&json!({
            "name": "x",
            "cluster_type": "CLUSTER_TYPE_NOPE",
            "labels": {"konnect-owned": "a", "env": "-bad-"},
            "proxy_urls": [{"host": "h", "port": 0, "protocol": "https", "x": 1}],
            "id": "7f9fd312-a987-4628-b4c5-bb4f4fddd5f7"
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "name",
                "cluster_type",
                "proxy_urls.0.port",
                "proxy_urls.0.x",
                "labels.env",
                "labels.konnect-owned",
                "id"
            ]
        );
    }

    #[test]
    fn name_is_required_and_not_blank() {
        let e = NewControlPlane::parse(&json!({})).unwrap_err();
        assert_eq!(e[0], FieldError::required("name"));
        let e = NewControlPlane::parse(&json!({"name": "   "})).unwrap_err();
        assert_eq!(e[0].reason, "cannot be blank");
        let long = "n".repeat(257);
        let e = NewControlPlane::parse(&json!({ "name": long })).unwrap_err();
        assert_eq!(e[0].rule, Some("max_length"));
    }

    #[test]
    fn label_values_follow_konnects_pattern() {
        for good in ["a", "prod", "v1.2_3-x", "A9"] {
            assert!(check_label_value(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "a b", "é", &"a".repeat(64)] {
            assert!(check_label_value(bad).is_err(), "{bad}");
        }
        assert!(check_label_key("Kong-thing").is_err());
        assert!(check_label_key("_x").is_err());
        assert!(check_label_key("team").is_ok());
    }

    #[test]
    fn patch_changes_only_given_fields() {
        let mut cp = ControlPlane::create(
            NewControlPlane::parse(
                &json!({"name": "a1", "description": "d", "labels": {"env": "x"}}),
            )
            .unwrap(),
            Timestamp::from_millis(1),
        );
        ControlPlanePatch::parse(&json!({"labels": {"team": "b"}}))
            .unwrap()
            .apply(&mut cp, Timestamp::from_millis(2));
        assert_eq!(cp.name, "a1");
        assert_eq!(cp.description, "d");
        assert_eq!(cp.labels.get("team").map(String::as_str), Some("b"));
        assert!(!cp.labels.contains_key("env"));
        assert_eq!((cp.created_at.millis(), cp.updated_at.millis()), (1, 2));
        assert!(
            ControlPlanePatch::parse(&json!({"cluster_type": "CLUSTER_TYPE_SERVERLESS"})).is_err()
        );
    }

    #[test]
    fn labels_query_parses_pairs_and_existence_checks() {
        assert_eq!(
            ControlPlaneFilter::parse_labels("env:prod, team ,"),
            vec![("env".into(), Some("prod".into())), ("team".into(), None)]
        );
    }
}
