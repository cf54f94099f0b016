//! Keys' rules that Kong checks with cjson and OpenSSL (kong/db/schema/entities/keys.lua,
//! its `custom_entity_check`, and `typedefs.pem`'s `validate_pem_keys` in
//! kong/db/schema/typedefs.lua): a JWK must decode, carry the key's `kid` and load; PEM
//! keys must load as what their field says. Vault references are left to the vault.

use futures_util::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::kinds::CompositeKey;
use super::record::reference_id;
use super::{Entities, EntityError};
use crate::domain::key_material::{KeyKind, key_kind};
use crate::schema::errors::{DetailKind, ErrorDetail};
use crate::schema::filled::Filled;
use crate::schema::validate::is_reference;

/// A `kid` once per key set, and once among the keys of no set (Kong's keys
/// `cache_key = { "kid", "set" }`, a unique column in Kong's database).
pub const KID_PER_SET: CompositeKey = CompositeKey {
    key: "cache_key",
    index: "cache_key",
    value: kid_and_set,
};

fn kid_and_set(key: &Filled) -> String {
    let kid = key.get("kid").and_then(Value::as_str).unwrap_or("");
    let set = reference_id(key.get("set")).unwrap_or("");
    format!("{kid}:{set}")
}

/// The keys' [`super::kinds::Check`].
pub(super) fn check_key<'a>(
    _: &'a Entities,
    _: Uuid,
    key: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(std::future::ready(key_rules(key)))
}

fn entity_error(message: &str) -> EntityError {
    EntityError::Invalid(vec![ErrorDetail {
        kind: DetailKind::Entity,
        field: None,
        messages: vec![message.into()],
    }])
}

fn key_rules(key: &Filled) -> Result<(), EntityError> {
    if let Some(jwk) = key.get("jwk").and_then(Value::as_str) {
        jwk_rules(jwk, key.get("kid").and_then(Value::as_str))?;
    }
    if let Some(pem) = key.get("pem").filter(|p| p.is_object()) {
        pem_rules(pem)?;
    }
    Ok(())
}

/// Kong's order: decode, compare `kid`, load (`could not load JWK, likely not a valid
/// key`, typedefs.lua `validate_jwk`).
fn jwk_rules(jwk: &str, kid: Option<&str>) -> Result<(), EntityError> {
    if is_reference(jwk) {
        return Ok(());
    }
    let Ok(decoded) = serde_json::from_str::<Value>(jwk) else {
        return Err(entity_error("could not json decode jwk string"));
    };
    if decoded.get("kid").and_then(Value::as_str) != kid {
        return Err(entity_error("kid in jwk.kid must be equal to keys.kid"));
    }
    let loads = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(decoded)
        .ok()
        .is_some_and(|jwk| jsonwebtoken::DecodingKey::from_jwk(&jwk).is_ok());
    if !loads {
        return Err(entity_error("could not load JWK, likely not a valid key"));
    }
    Ok(())
}

/// `validate_pem_keys`: a reference in either field skips the check; the error is the
/// `pem` field's.
fn pem_rules(pem: &Value) -> Result<(), EntityError> {
    let public = pem.get("public_key").and_then(Value::as_str);
    let private = pem.get("private_key").and_then(Value::as_str);
    if public.is_some_and(is_reference) || private.is_some_and(is_reference) {
        return Ok(());
    }
    let invalid = |message: &str| {
        Err(EntityError::Invalid(vec![ErrorDetail::field(
            "pem", message,
        )]))
    };
    if public.is_some_and(|k| key_kind(k) != Some(KeyKind::Public)) {
        return invalid("could not load public key");
    }
    if private.is_some_and(|k| key_kind(k) != Some(KeyKind::Private)) {
        return invalid("could not load private key");
    }
    if let (Some(public), Some(private)) = (public, private)
        && !super::tls::public_key_belongs_to(public, private)
    {
        return invalid("public key does not match private key");
    }
    // Neither key: the pem record's `at_least_one_of` has refused it already (Kong's
    // typedefs.pem).
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(result: Result<(), EntityError>) -> String {
        match result {
            Ok(()) => "ok".into(),
            Err(EntityError::Invalid(details)) => details
                .iter()
                .flat_map(|d| d.messages.iter().cloned())
                .collect::<Vec<_>>()
                .join("; "),
            Err(other) => format!("{other:?}"),
        }
    }

    fn key(fields: Value) -> Filled {
        Filled::Value(fields)
    }

    #[test]
    fn a_jwk_must_decode_match_the_kid_and_load() {
        let rsa = r#"{"kty":"RSA","kid":"k1","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}"#;
        let ok = key(json!({"kid": "k1", "jwk": rsa}));
        assert_eq!(messages(key_rules(&ok)), "ok");
        let other_kid = key(json!({"kid": "k2", "jwk": rsa}));
        assert_eq!(
            messages(key_rules(&other_kid)),
            "kid in jwk.kid must be equal to keys.kid"
        );
        let not_json = key(json!({"kid": "k1", "jwk": "{"}));
        assert_eq!(
            messages(key_rules(&not_json)),
            "could not json decode jwk string"
        );
        let no_key = key(json!({"kid": "k1", "jwk": r#"{"kid":"k1","kty":"RSA"}"#}));
        assert_eq!(
            messages(key_rules(&no_key)),
            "could not load JWK, likely not a valid key"
        );
        let reference = key(json!({"kid": "k1", "jwk": "{vault://env/jwk}"}));
        assert_eq!(messages(key_rules(&reference)), "ok");
    }

    #[test]
    fn pem_keys_must_load_as_their_field_says() {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let both = key(json!({"kid": "k", "pem": {
            "public_key": pair.public_key_pem(), "private_key": pair.serialize_pem()}}));
        assert_eq!(messages(key_rules(&both)), "ok");
        let swapped = key(json!({"kid": "k", "pem": {"public_key": pair.serialize_pem()}}));
        assert_eq!(messages(key_rules(&swapped)), "could not load public key");
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mismatched = key(json!({"kid": "k", "pem": {
            "public_key": other.public_key_pem(), "private_key": pair.serialize_pem()}}));
        assert_eq!(
            messages(key_rules(&mismatched)),
            "public key does not match private key"
        );
        let rsa_like = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let ed = key(json!({"kid": "k", "pem": {
            "public_key": rsa_like.public_key_pem(), "private_key": rsa_like.serialize_pem()}}));
        assert_eq!(messages(key_rules(&ed)), "ok");
        let garbage = key(
            json!({"kid": "k", "pem": {"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}}),
        );
        assert_eq!(messages(key_rules(&garbage)), "could not load private key");
        let reference = key(json!({"kid": "k", "pem": {"private_key": "{vault://env/k}"}}));
        assert_eq!(messages(key_rules(&reference)), "ok");
    }
}
