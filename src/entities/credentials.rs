//! Consumer credentials' rules outside their schemas (each plugin's `daos.lua` in Kong
//! 3.10): the basic-auth password stored hashed, a jwt credential's public key that must
//! load, an acl group once per consumer.

use futures_util::future::BoxFuture;
use serde_json::Value;
use sha1::{Digest, Sha1};
use uuid::Uuid;

use super::kinds::{BASICAUTH_CREDENTIALS, CompositeKey, EntityKind};
use super::record::reference_id;
use super::{Entities, EntityError};
use crate::domain::key_material::key_kind;
use crate::schema::errors::{DetailKind, ErrorDetail};
use crate::schema::filled::Filled;

/// An acl's group is unique per consumer (Kong's acls `cache_key = { "consumer",
/// "group" }`). The key is named after the endpoint key, so a nested `{group}` path
/// segment finds it ([`scoped_key_value`]).
pub const ACL_GROUP_KEY: CompositeKey = CompositeKey {
    key: "group",
    index: "consumer, group",
    value: acl_group_of,
};

fn acl_group_of(acl: &Filled) -> String {
    let consumer = reference_id(acl.get("consumer")).unwrap_or("");
    let group = acl.get("group").and_then(Value::as_str).unwrap_or("");
    format!("{consumer}:{group}")
}

/// The value of `kind`'s endpoint key to look `name` up by under the parent `parent_id`:
/// the composite value when the endpoint key is only unique per parent (acls).
pub(super) fn scoped_key_value(kind: &EntityKind, parent_id: Option<&str>, name: &str) -> String {
    match (&kind.composite_key, kind.endpoint_key, parent_id) {
        (Some(composite), Some(key), Some(parent)) if composite.key == key => {
            format!("{parent}:{name}")
        }
        _ => name.to_string(),
    }
}

/// Kong's basic-auth `crypto.hash(consumer_id, password)`
/// (kong/plugins/basic-auth/crypto.lua): SHA-1 of the password followed by the consumer's
/// id, in lowercase hex.
pub fn basic_auth_hash(consumer_id: &str, password: &str) -> String {
    let mut digest = Sha1::new();
    digest.update(password.as_bytes());
    digest.update(consumer_id.as_bytes());
    hex::encode(digest.finalize())
}

/// Whether a request body sets a basic-auth password (Kong's `Schema:transform` runs a
/// transformation only when one of its inputs is given, non-empty).
pub(super) fn sets_password(kind: &EntityKind, request: &Value) -> bool {
    kind.name == BASICAUTH_CREDENTIALS.name
        && request
            .get("password")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.is_empty())
}

/// Kong's schema `transformations` of a checked entity: a basic-auth credential whose
/// request set a password has it replaced by its hash (kong/plugins/basic-auth/daos.lua,
/// `on_write`). As in Kong's `Schema:transform`, only a password the request carries is
/// hashed: a PATCH without one keeps the stored hash.
pub(super) fn transformed(kind: &EntityKind, sets_password: bool, entity: Filled) -> Filled {
    if kind.name != BASICAUTH_CREDENTIALS.name || !sets_password {
        return entity;
    }
    let mut value = entity.into_value();
    let consumer = reference_id(value.get("consumer")).map(str::to_string);
    if let (Some(consumer), Some(Value::String(password))) = (consumer, value.get_mut("password")) {
        *password = basic_auth_hash(&consumer, password);
    }
    Filled::Value(value)
}

/// The algorithms whose `rsa_public_key` Kong requires and loads with OpenSSL
/// (kong/plugins/jwt/daos.lua, the `conditional` entity check).
const ASYMMETRIC: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// The jwt credentials' [`super::kinds::Check`]: Kong's `validate_ssl_key`, the half of
/// its conditional check the sandbox cannot run.
pub(super) fn check_jwt<'a>(
    _: &'a Entities,
    _: Uuid,
    jwt: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(std::future::ready(check_jwt_key(jwt)))
}

fn check_jwt_key(jwt: &Filled) -> Result<(), EntityError> {
    let algorithm = jwt.get("algorithm").and_then(Value::as_str).unwrap_or("");
    let Some(key) = jwt.get("rsa_public_key").and_then(Value::as_str) else {
        return Ok(());
    };
    if !ASYMMETRIC.contains(&algorithm) || key_kind(key).is_some() {
        return Ok(());
    }
    Err(EntityError::Invalid(vec![
        ErrorDetail {
            kind: DetailKind::Entity,
            field: None,
            messages: vec!["failed conditional validation given value of field 'algorithm'".into()],
        },
        ErrorDetail::field("rsa_public_key", "invalid key"),
    ]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::entities::kinds::KEYAUTH_CREDENTIALS;

    /// The digest Kong's `crypto.hash` gives: `sha1(password .. consumer_id)`.
    #[test]
    fn the_hash_is_sha1_of_password_then_consumer_id() {
        let id = "c5d2c2c2-4a2e-4b43-9a0e-1d5d7a0c9e11";
        let mut expected = Sha1::new();
        expected.update(format!("secret{id}"));
        assert_eq!(
            basic_auth_hash(id, "secret"),
            hex::encode(expected.finalize())
        );
        // A known vector: SHA-1 of "abc".
        assert_eq!(
            basic_auth_hash("c", "ab"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn only_a_given_password_of_a_basic_auth_credential_is_hashed() {
        let entity =
            || Filled::Value(json!({"consumer": {"id": "c"}, "username": "u", "password": "ab"}));
        let sets = |kind, body| sets_password(kind, &body);
        let hashed = transformed(
            &BASICAUTH_CREDENTIALS,
            sets(&BASICAUTH_CREDENTIALS, json!({"password": "ab"})),
            entity(),
        );
        assert_eq!(
            hashed.get("password").unwrap(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let kept = transformed(
            &BASICAUTH_CREDENTIALS,
            sets(&BASICAUTH_CREDENTIALS, json!({"username": "u"})),
            entity(),
        );
        assert_eq!(kept.get("password").unwrap(), "ab");
        assert!(!sets(&KEYAUTH_CREDENTIALS, json!({"password": "ab"})));
        let other = transformed(&KEYAUTH_CREDENTIALS, true, entity());
        assert_eq!(other.get("password").unwrap(), "ab");
    }
}
