//! Consumers (SPEC-CFG `Consumers`; looked up by id or username).

use super::Api;
use super::core_entities::{Collection, mount};
use crate::domain::entity_kind::CONSUMERS;

pub static CONSUMER: Collection = Collection {
    kind: &CONSUMERS,
    param: "consumerId",
};

pub fn routes(api: Api) -> Api {
    mount(api, &CONSUMER, None)
}
