//! Plugins: global, and nested under a service, route, consumer or consumer group
//! (Konnect's Control Plane Configuration API, `Plugins`; Ping Identity's Konnect integration guide posts to
//! `.../runtime_groups/{id}/plugins`), and the dry-run validation endpoint.

use axum::http::Method;

use super::Api;
use super::consumer_groups::CONSUMER_GROUP;
use super::consumers::CONSUMER;
use super::core_entities::{Collection, FAMILIES, mount, validate_entity, validate_plugin};
use super::routes::ROUTE;
use super::services::SERVICE;
use crate::entities::kinds::PLUGINS;

pub static PLUGIN: Collection = Collection {
    kind: &PLUGINS,
    param: "pluginId",
};

pub fn routes(mut api: Api) -> Api {
    api = mount(api, &PLUGIN, None);
    for parent in [&SERVICE, &ROUTE, &CONSUMER, &CONSUMER_GROUP] {
        api = mount(api, &PLUGIN, Some(parent));
    }
    for family in FAMILIES {
        api = api
            .at(
                Method::POST,
                &format!("{family}/schemas/plugins/validate"),
                validate_plugin,
            )
            .at(
                Method::POST,
                &format!("{family}/schemas/{{entityName}}/validate"),
                validate_entity,
            );
    }
    api
}
