//! Certificates' and CA certificates' rules, which Kong's schemas check with OpenSSL
//! (`kong/db/schema/typedefs.lua` `certificate` / `key`, the entity checks of
//! `kong/db/schema/entities/certificates.lua` and `ca_certificates.lua`): PEM parsed here
//! with `x509-parser`, keys matched to their certificate, Kong's messages. And the rule
//! of Kong's CA certificates DAO: one that a service trusts cannot be deleted.

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use sha2::Digest;
use uuid::Uuid;
use x509_parser::der_parser::ber::{BerObject, BerObjectContent};
use x509_parser::der_parser::der::parse_der;
use x509_parser::der_parser::oid::Oid;
use x509_parser::oid_registry::{
    OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::{PublicKey, RSAPublicKey};
use x509_parser::x509::SubjectPublicKeyInfo;

use super::kinds::SERVICES;
use super::{Entities, EntityError};
use crate::domain::Timestamp;
use crate::schema::errors::{DetailKind, ErrorDetail};
use crate::schema::filled::Filled;
use crate::schema::validate::is_reference;
use crate::store::core_entities::EntityFilter;

/// A public key as a certificate and a private key can both tell it.
#[derive(Debug, PartialEq, Eq)]
enum KeyId {
    /// Modulus and exponent, without leading zeros.
    Rsa(Vec<u8>, Vec<u8>),
    /// The encoded point.
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
    /// A type konnektd does not read: never compared.
    Other(String),
}

impl KeyId {
    /// What Kong's `get_key_type()` tells apart (RSA, EC, ...).
    fn kind(&self) -> &str {
        match self {
            KeyId::Rsa(..) => "rsa",
            KeyId::Ec(_) => "ec",
            KeyId::Ed25519(_) => "ed25519",
            KeyId::Other(oid) => oid,
        }
    }
}

/// A certificate as Kong's checks need it.
struct ParsedCertificate {
    der: Vec<u8>,
    key: KeyId,
    not_after: i64,
    is_ca: bool,
}

fn trim_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// The first certificate of a PEM chain (Kong's `x509.new` reads the first).
fn parse_certificate(pem: &str) -> Result<ParsedCertificate, String> {
    let block = Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .ok_or("no PEM data found")?
        .map_err(|e| format!("not a PEM certificate ({e})"))?;
    if block.label != "CERTIFICATE" {
        return Err(format!(
            "expected a CERTIFICATE PEM block, found {}",
            block.label
        ));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(&block.contents)
        .map_err(|e| format!("not an X.509 certificate ({e})"))?;
    let key = spki_key(cert.public_key());
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|c| c.value.ca);
    Ok(ParsedCertificate {
        not_after: cert.validity().not_after.timestamp(),
        is_ca,
        key,
        der: block.contents.clone(),
    })
}

/// The key a `SubjectPublicKeyInfo` holds.
fn spki_key(spki: &SubjectPublicKeyInfo) -> KeyId {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyId::Rsa(trim_zeros(rsa.modulus), trim_zeros(rsa.exponent)),
        Ok(PublicKey::EC(point)) => KeyId::Ec(point.data().to_vec()),
        _ if spki.algorithm.algorithm == OID_SIG_ED25519 => {
            KeyId::Ed25519(spki.subject_public_key.data.to_vec())
        }
        _ => KeyId::Other(spki.algorithm.algorithm.to_id_string()),
    }
}

/// Whether a PEM public key is the public half of a PEM private key (Kong's
/// `validate_pem_keys` compares `privkey:to_PEM("public")` with the public key). A key
/// konnektd cannot read both halves of is not held against the pair.
pub(super) fn public_key_belongs_to(public: &str, private: &str) -> bool {
    let public = Pem::iter_from_buffer(public.as_bytes())
        .next()
        .and_then(Result::ok)
        .and_then(|block| match block.label.as_str() {
            "PUBLIC KEY" => SubjectPublicKeyInfo::from_der(&block.contents)
                .ok()
                .map(|(_, spki)| spki_key(&spki)),
            "RSA PUBLIC KEY" => RSAPublicKey::from_der(&block.contents)
                .ok()
                .map(|(_, rsa)| KeyId::Rsa(trim_zeros(rsa.modulus), trim_zeros(rsa.exponent))),
            _ => None,
        });
    match (public, parse_key(private)) {
        (Some(KeyId::Other(_)), _) | (_, Ok(KeyId::Other(_))) => true,
        (Some(public), Ok(private)) => public == private,
        _ => true,
    }
}

fn sequence<'a>(object: &'a BerObject<'a>) -> Option<&'a [BerObject<'a>]> {
    object.as_sequence().ok().map(Vec::as_slice)
}

/// PKCS#1 `RSAPrivateKey`: version, modulus, public exponent, ...
fn rsa_private_key(der: &[u8]) -> Option<KeyId> {
    let (_, key) = parse_der(der).ok()?;
    let items = sequence(&key)?;
    let modulus = items.get(1)?.as_slice().ok()?;
    let exponent = items.get(2)?.as_slice().ok()?;
    Some(KeyId::Rsa(trim_zeros(modulus), trim_zeros(exponent)))
}

/// SEC1 `ECPrivateKey`: version, private key, `[0]` curve, `[1]` public key. A key
/// without its public half cannot be compared here: `Other`, which matches nothing.
fn ec_private_key(der: &[u8]) -> Option<KeyId> {
    let (_, key) = parse_der(der).ok()?;
    let items = sequence(&key)?;
    items.get(1)?.as_slice().ok()?;
    for item in &items[2..] {
        let inner = match &item.content {
            BerObjectContent::Tagged(_, tag, inner) if tag.0 == 1 => inner.as_ref().clone(),
            BerObjectContent::Unknown(any) if any.tag().0 == 1 => parse_der(any.data).ok()?.1,
            _ => continue,
        };
        let bits = inner.as_bitstring().ok()?;
        return Some(KeyId::Ec(bits.data.to_vec()));
    }
    Some(KeyId::Other("ec".into()))
}

/// PKCS#8 `PrivateKeyInfo`: version, algorithm, the key in its own format.
fn pkcs8_private_key(der: &[u8]) -> Option<KeyId> {
    let (_, info) = parse_der(der).ok()?;
    let items = sequence(&info)?;
    let algorithm: Oid = sequence(items.get(1)?)?.first()?.as_oid_val().ok()?;
    let key = items.get(2)?.as_slice().ok()?;
    if algorithm == OID_PKCS1_RSAENCRYPTION {
        rsa_private_key(key)
    } else if algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        ec_private_key(key)
    } else if algorithm == OID_SIG_ED25519 {
        let (_, seed) = parse_der(key).ok()?;
        let pair =
            ring::signature::Ed25519KeyPair::from_seed_unchecked(seed.as_slice().ok()?).ok()?;
        use ring::signature::KeyPair;
        Some(KeyId::Ed25519(pair.public_key().as_ref().to_vec()))
    } else {
        Some(KeyId::Other(algorithm.to_id_string()))
    }
}

/// A private key in PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), unencrypted.
fn parse_key(pem: &str) -> Result<KeyId, String> {
    let block = Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .ok_or("no PEM data found")?
        .map_err(|e| format!("not a PEM key ({e})"))?;
    let parsed = match block.label.as_str() {
        "PRIVATE KEY" => pkcs8_private_key(&block.contents),
        "RSA PRIVATE KEY" => rsa_private_key(&block.contents),
        "EC PRIVATE KEY" => ec_private_key(&block.contents),
        "ENCRYPTED PRIVATE KEY" => {
            return Err("encrypted private keys are not supported".into());
        }
        other => return Err(format!("expected a private key PEM block, found {other}")),
    };
    parsed.ok_or_else(|| format!("the {} block does not hold a valid key", block.label))
}

fn entity_error(message: &str) -> ErrorDetail {
    ErrorDetail {
        kind: DetailKind::Entity,
        field: None,
        messages: vec![message.to_string()],
    }
}

fn text<'a>(entity: &'a Filled, field: &str) -> Option<&'a str> {
    entity.get(field).and_then(Value::as_str)
}

/// The certificates' [`super::kinds::Check`].
pub(super) fn check_certificate<'a>(
    _: &'a Entities,
    _: Uuid,
    certificate: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(std::future::ready(certificate_rules(certificate)))
}

fn certificate_rules(entity: &Filled) -> Result<(), EntityError> {
    let mut errors = Vec::new();
    // The field checks: Kong's `typedefs.certificate` and `typedefs.key`.
    let mut certificate = |field: &str| match text(entity, field) {
        Some(pem) if !is_reference(pem) => match parse_certificate(pem) {
            Ok(parsed) => Some(parsed.key),
            Err(e) => {
                errors.push(ErrorDetail::field(
                    field,
                    format!("invalid certificate: {e}"),
                ));
                None
            }
        },
        _ => None,
    };
    let (cert, cert_alt) = (certificate("cert"), certificate("cert_alt"));
    let mut key = |field: &str| match text(entity, field) {
        Some(pem) if !is_reference(pem) => match parse_key(pem) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                errors.push(ErrorDetail::field(field, format!("invalid key: {e}")));
                None
            }
        },
        _ => None,
    };
    let (key, key_alt) = (key("key"), key("key_alt"));
    if !errors.is_empty() {
        return Err(EntityError::Invalid(errors));
    }
    // The entity checks, in Kong's order.
    let mismatch = |c: &Option<KeyId>, k: &Option<KeyId>| match (c, k) {
        (Some(c), Some(k)) => c != k,
        _ => false,
    };
    let mut entity_errors = Vec::new();
    if mismatch(&cert, &key) {
        entity_errors.push(entity_error("certificate does not match key"));
    }
    if mismatch(&cert_alt, &key_alt) {
        entity_errors.push(entity_error("alternative certificate does not match key"));
    }
    if let (Some(cert), Some(cert_alt)) = (&cert, &cert_alt)
        && cert.kind() == cert_alt.kind()
    {
        entity_errors.push(entity_error(
            "certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type",
        ));
    }
    if entity_errors.is_empty() {
        Ok(())
    } else {
        Err(EntityError::Invalid(entity_errors))
    }
}

/// The CA certificates' [`super::kinds::Check`]: Kong's entity check, then its
/// `cert_digest` transformation (the SHA-256 of the DER, in hex).
pub(super) fn check_ca_certificate<'a>(
    _: &'a Entities,
    _: Uuid,
    ca: &'a mut Filled,
) -> BoxFuture<'a, Result<(), EntityError>> {
    Box::pin(std::future::ready(ca_certificate_rules(
        ca,
        Timestamp::now().seconds(),
    )))
}

fn ca_certificate_rules(ca: &mut Filled, now: i64) -> Result<(), EntityError> {
    let Some(pem) = text(ca, "cert") else {
        return Ok(());
    };
    if pem.matches("-----BEGIN CERTIFICATE-----").count() > 1 {
        return Err(EntityError::Invalid(vec![entity_error(
            "please submit only one certificate at a time",
        )]));
    }
    let parsed = parse_certificate(pem)
        .map_err(|e| EntityError::field("cert", format!("invalid certificate: {e}")))?;
    if parsed.not_after < now {
        return Err(EntityError::Invalid(vec![entity_error(
            "certificate expired, \"Not After\" time is in the past",
        )]));
    }
    if !parsed.is_ca {
        return Err(EntityError::Invalid(vec![entity_error(
            "certificate does not appear to be a CA because it is missing the \"CA\" basic constraint",
        )]));
    }
    let digest = hex::encode(sha2::Sha256::digest(&parsed.der));
    let mut value = std::mem::replace(ca, Filled::Value(Value::Null)).into_value();
    value["cert_digest"] = json!(digest);
    *ca = Filled::Value(value);
    Ok(())
}

impl Entities {
    /// Kong's CA certificates DAO refuses to delete one a service still trusts
    /// (`kong/db/dao/ca_certificates.lua`, `kong/runloop/certificate.lua`
    /// `check_ca_reference`), with its text.
    pub(super) async fn ca_certificate_unused(
        &self,
        control_plane: Uuid,
        id: &str,
    ) -> Result<(), EntityError> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_entities(
                    control_plane,
                    SERVICES.name,
                    &EntityFilter::default(),
                    after.as_deref(),
                    1000,
                )
                .await?;
            for service in &page.items {
                let trusts = service
                    .get("ca_certificates")
                    .and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(id)));
                if trusts {
                    let service_id = service.get("id").and_then(Value::as_str).unwrap_or("");
                    return Err(EntityError::constraint(ErrorDetail {
                        kind: DetailKind::Reference,
                        field: None,
                        messages: vec![format!(
                            "ca certificate {id} is still referenced by services (id = {service_id})"
                        )],
                    }));
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(ca: bool, alg: &'static rcgen::SignatureAlgorithm) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["example.com".into()]).unwrap();
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn certificate(fields: Value) -> Filled {
        Filled::Value(fields)
    }

    #[test]
    fn a_certificate_and_its_own_key_belong_together() {
        let (cert, key) = issued(false, &rcgen::PKCS_ECDSA_P256_SHA256);
        assert!(certificate_rules(&certificate(json!({"cert": cert, "key": key}))).is_ok());
        let (_, other_key) = issued(false, &rcgen::PKCS_ECDSA_P256_SHA256);
        let Err(EntityError::Invalid(errors)) =
            certificate_rules(&certificate(json!({"cert": cert, "key": other_key})))
        else {
            panic!("a foreign key passed");
        };
        assert_eq!(errors[0].messages, ["certificate does not match key"]);
    }

    #[test]
    fn ed25519_keys_are_matched_too() {
        let (cert, key) = issued(false, &rcgen::PKCS_ED25519);
        assert!(certificate_rules(&certificate(json!({"cert": cert, "key": key}))).is_ok());
        let (_, other) = issued(false, &rcgen::PKCS_ED25519);
        assert!(certificate_rules(&certificate(json!({"cert": cert, "key": other}))).is_err());
    }

    #[test]
    fn garbage_is_an_invalid_certificate_and_key_at_their_fields() {
        let Err(EntityError::Invalid(errors)) =
            certificate_rules(&certificate(json!({"cert": "nope", "key": "nope"})))
        else {
            panic!("garbage passed");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.clone().unwrap()).collect();
        assert_eq!(fields, ["cert", "key"]);
        assert!(errors[0].messages[0].starts_with("invalid certificate: "));
        assert!(errors[1].messages[0].starts_with("invalid key: "));
    }

    #[test]
    fn references_are_left_to_the_vault() {
        let entity = certificate(json!({"cert": "{vault://env/cert}", "key": "{vault://env/key}"}));
        assert!(certificate_rules(&entity).is_ok());
    }

    #[test]
    fn a_ca_certificate_gets_its_digest_and_must_be_a_ca() {
        let (ca, _) = issued(true, &rcgen::PKCS_ECDSA_P256_SHA256);
        let mut entity = certificate(json!({"cert": ca}));
        ca_certificate_rules(&mut entity, 0).unwrap();
        let digest = entity.get("cert_digest").and_then(Value::as_str).unwrap();
        assert_eq!(digest.len(), 64);

        let (leaf, _) = issued(false, &rcgen::PKCS_ECDSA_P256_SHA256);
        let Err(EntityError::Invalid(errors)) =
            ca_certificate_rules(&mut certificate(json!({"cert": leaf})), 0)
        else {
            panic!("a leaf passed as a CA");
        };
        assert!(errors[0].messages[0].starts_with("certificate does not appear to be a CA"));

        let Err(EntityError::Invalid(errors)) =
            ca_certificate_rules(&mut certificate(json!({"cert": format!("{ca}{ca}")})), 0)
        else {
            panic!("two certificates passed");
        };
        assert_eq!(
            errors[0].messages,
            ["please submit only one certificate at a time"]
        );

        // rcgen's certificates run until 4096.
        let Err(EntityError::Invalid(errors)) =
            ca_certificate_rules(&mut certificate(json!({"cert": ca})), 100_000_000_000)
        else {
            panic!("an expired CA passed");
        };
        assert_eq!(
            errors[0].messages,
            ["certificate expired, \"Not After\" time is in the past"]
        );
    }
}
