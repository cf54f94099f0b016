//! Whether text is key material OpenSSL would load, as Kong asks `resty.openssl.pkey.new`
//! (the jwt credential's `rsa_public_key`, kong/plugins/jwt/daos.lua `validate_ssl_key`;
//! the keys entity's `pem` pair). A PEM block's DER must have the structure its label
//! names: a public key parses as one (RSA, EC, Ed25519...), a private key as PKCS#8,
//! PKCS#1 or SEC1.

use x509_parser::der_parser::ber::{BerObject, BerObjectContent};
use x509_parser::der_parser::parse_der;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::RSAPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// What a PEM block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Public,
    Private,
}

/// The kind of the first PEM block of `text` if it is a key that loads, else `None`.
pub fn key_kind(text: &str) -> Option<KeyKind> {
    let pem = Pem::iter_from_buffer(text.as_bytes()).next()?.ok()?;
    let der = pem.contents.as_slice();
    match pem.label.as_str() {
        "PUBLIC KEY" => {
            let (rest, spki) = SubjectPublicKeyInfo::from_der(der).ok()?;
            (rest.is_empty() && spki.parsed().is_ok()).then_some(KeyKind::Public)
        }
        "RSA PUBLIC KEY" => {
            let (rest, _) = RSAPublicKey::from_der(der).ok()?;
            rest.is_empty().then_some(KeyKind::Public)
        }
        "PRIVATE KEY" => private(der, |items| {
            // PKCS#8: version, algorithm identifier, the key as an octet string.
            items.len() >= 3
                && is_integer(&items[0])
                && matches!(items[1].content, BerObjectContent::Sequence(_))
                && matches!(items[2].content, BerObjectContent::OctetString(_))
        }),
        "RSA PRIVATE KEY" => private(der, |items| {
            // PKCS#1: version and eight integers.
            items.len() >= 9 && items.iter().take(9).all(is_integer)
        }),
        "EC PRIVATE KEY" => private(der, |items| {
            // SEC1: version 1 and the private key as an octet string.
            items.len() >= 2
                && is_integer(&items[0])
                && matches!(items[1].content, BerObjectContent::OctetString(_))
        }),
        _ => None,
    }
}

fn is_integer(object: &BerObject) -> bool {
    matches!(object.content, BerObjectContent::Integer(_))
}

fn private(der: &[u8], shape: impl Fn(&[BerObject]) -> bool) -> Option<KeyKind> {
    let (rest, object) = parse_der(der).ok()?;
    let BerObjectContent::Sequence(items) = &object.content else {
        return None;
    };
    (rest.is_empty() && shape(items)).then_some(KeyKind::Private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_garbage_does_not() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
        ] {
            let pair = rcgen::KeyPair::generate_for(alg).unwrap();
            assert_eq!(key_kind(&pair.public_key_pem()), Some(KeyKind::Public));
            assert_eq!(key_kind(&pair.serialize_pem()), Some(KeyKind::Private));
        }
        for text in [
            "",
            "not a key",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n",
        ] {
            assert_eq!(key_kind(text), None, "{text}");
        }
    }
}
