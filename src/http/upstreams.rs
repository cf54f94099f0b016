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
    let api = mount(api, &TARGET, Some(&UPSTREAM));
    mount_list(api, &TARGET)
}
