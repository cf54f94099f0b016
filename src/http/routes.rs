//! Routes, top-level and under their service (Konnect's Control Plane Configuration API, `Routes`).

use super::Api;
use super::core_entities::{Collection, mount};
use super::services::SERVICE;
use crate::entities::kinds::ROUTES;

pub static ROUTE: Collection = Collection {
    kind: &ROUTES,
    param: "routeId",
};

pub fn routes(api: Api) -> Api {
    let api = mount(api, &ROUTE, None);
    mount(api, &ROUTE, Some(&SERVICE))
}
