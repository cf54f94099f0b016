//! Consumer groups (Konnect's Control Plane Configuration API, `Consumer Groups`).

use super::Api;
use super::core_entities::{Collection, mount};
use crate::entities::kinds::CONSUMER_GROUPS;

pub static CONSUMER_GROUP: Collection = Collection {
    kind: &CONSUMER_GROUPS,
    param: "consumerGroupId",
};

pub fn routes(api: Api) -> Api {
    mount(api, &CONSUMER_GROUP, None)
}
