//! Certificates, their SNIs (nested and top-level) and CA certificates (Konnect's
//! Control Plane Configuration API, `Certificates`, `SNIs`, `CACertificates`).

use super::Api;
use super::core_entities::{Collection, mount};
use crate::entities::kinds::{CA_CERTIFICATES, CERTIFICATES, SNIS};

pub static CERTIFICATE: Collection = Collection {
    kind: &CERTIFICATES,
    param: "certificateId",
};

pub static SNI: Collection = Collection {
    kind: &SNIS,
    param: "sniId",
};

pub static CA_CERTIFICATE: Collection = Collection {
    kind: &CA_CERTIFICATES,
    param: "caCertificateId",
};

pub fn routes(api: Api) -> Api {
    let api = mount(api, &CERTIFICATE, None);
    let api = mount(api, &SNI, None);
    let api = mount(api, &SNI, Some(&CERTIFICATE));
    mount(api, &CA_CERTIFICATE, None)
}
