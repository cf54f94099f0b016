//! Upstreams, and their targets nested under them (Konnect's Control Plane Configuration
//! API, `Upstreams` and `Targets`: `upstreams/{id}/targets`, and a top-level list of
//! every target).

use super::Api;
use super::core_entities::{Collection, mount, mount_list};
use crate::entities::kinds::{TARGETS, UPSTREAMS};

pub static UPSTREAM: Collection = Collection {
    kind: &UPSTREAMS,
    param: "upstreamId",
};

pub static TARGET: Collection = Collection {
    kind: &TARGETS,
    param: "targetId",
};

pub fn routes(api: Api) -> Api {
    let api = mount(api, &UPSTREAM, None);
    mount(api, &TARGET, Some(&UPSTREAM))
}

/// The top-level list of every target. Its group renders problems: the config spec's
/// `list-targets` answers the platform's `Unauthorized` and `Forbidden` (RFC 7807), unlike
/// the core entities' `HTTP401Error`.
pub fn target_list_routes(api: Api) -> Api {
    mount_list(api, &TARGET)
}
