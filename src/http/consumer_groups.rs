//! Consumer groups (SPEC-CFG `ConsumerGroups`).

use super::Api;
use super::core_entities::{Collection, mount};
use crate::domain::entity_kind::CONSUMER_GROUPS;

pub static CONSUMER_GROUP: Collection = Collection {
    kind: &CONSUMER_GROUPS,
    param: "consumerGroupId",
};

pub fn routes(api: Api) -> Api {
    mount(api, &CONSUMER_GROUP, None)
}
