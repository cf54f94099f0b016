//! Consumers (Konnect's Control Plane Configuration API, `Consumers`; looked up by id or username).

use super::Api;
use super::core_entities::{Collection, mount};
use crate::entities::kinds::CONSUMERS;

pub static CONSUMER: Collection = Collection {
    kind: &CONSUMERS,
    param: "consumerId",
};

pub fn routes(api: Api) -> Api {
    mount(api, &CONSUMER, None)
}
