//! Routes, top-level and under their service (SPEC-CFG `Routes`).

use super::Api;
use super::core_entities::{Collection, mount};
use super::services::SERVICE;
use crate::domain::entity_kind::ROUTES;

pub static ROUTE: Collection = Collection {
    kind: &ROUTES,
    param: "routeId",
};

pub fn routes(api: Api) -> Api {
    let api = mount(api, &ROUTE, None);
    mount(api, &ROUTE, Some(&SERVICE))
}
