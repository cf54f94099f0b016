//! Consumer credentials (Konnect's Control Plane Configuration API: `ACLs`, `Basic-auth
//! credentials`, `HMAC-auth credentials`, `JWTs`, `API-keys`): written under their
//! consumer (`consumers/{id}/key-auth`, Kong's `admin_api_nested_name`), listed and read
//! at the top level too (`key-auths`, Kong's `admin_api_name`), as the spec lists them.

use super::Api;
use super::consumers::CONSUMER;
use super::core_entities::{Access, Collection, mount_at};
use crate::entities::kinds::{
    ACLS, BASICAUTH_CREDENTIALS, HMACAUTH_CREDENTIALS, JWT_SECRETS, KEYAUTH_CREDENTIALS,
};

static KEY_AUTH: Collection = Collection {
    kind: &KEYAUTH_CREDENTIALS,
    param: "keyAuthId",
};
static BASIC_AUTH: Collection = Collection {
    kind: &BASICAUTH_CREDENTIALS,
    param: "basicAuthId",
};
static HMAC_AUTH: Collection = Collection {
    kind: &HMACAUTH_CREDENTIALS,
    param: "hmacAuthId",
};
static JWT: Collection = Collection {
    kind: &JWT_SECRETS,
    param: "jwtId",
};
static ACL: Collection = Collection {
    kind: &ACLS,
    param: "aclId",
};

/// Each credential: its collection, its path under a consumer, its top-level path.
const CREDENTIALS: [(&Collection, &str, &str); 5] = [
    (&KEY_AUTH, "key-auth", "key-auths"),
    (&BASIC_AUTH, "basic-auth", "basic-auths"),
    (&HMAC_AUTH, "hmac-auth", "hmac-auths"),
    (&JWT, "jwt", "jwts"),
    (&ACL, "acls", "acls"),
];

pub fn routes(mut api: Api) -> Api {
    for (collection, nested, top) in CREDENTIALS {
        api = mount_at(api, collection, Some(&CONSUMER), nested, Access::ReadWrite);
        api = mount_at(api, collection, None, top, Access::ReadOnly);
    }
    api
}
