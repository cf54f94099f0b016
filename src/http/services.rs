//! Services (Konnect's Control Plane Configuration API, `Services`; Kong `kong/db/schema/entities/services.lua`).

use super::Api;
use super::core_entities::{Collection, mount};
use crate::entities::kinds::SERVICES;

pub static SERVICE: Collection = Collection {
    kind: &SERVICES,
    param: "serviceId",
};

pub fn routes(api: Api) -> Api {
    mount(api, &SERVICE, None)
}
