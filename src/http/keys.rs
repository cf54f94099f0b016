//! Keys, key sets and vaults (Konnect's Control Plane Configuration API, `Keys`,
//! `Key-sets` and `Vaults`): keys at the top level and under their key set
//! (`key-sets/{id}/keys`), key sets at `key-sets` (Kong's `admin_api_name`).

use super::Api;
use super::core_entities::{Access, Collection, mount, mount_at};
use crate::entities::kinds::{KEY_SETS, KEYS, VAULTS};

static KEY_SET: Collection = Collection {
    kind: &KEY_SETS,
    param: "KeySetId",
};

static KEY: Collection = Collection {
    kind: &KEYS,
    param: "KeyId",
};

static VAULT: Collection = Collection {
    kind: &VAULTS,
    param: "VaultId",
};

pub fn routes(api: Api) -> Api {
    let api = mount_at(api, &KEY_SET, None, "key-sets", Access::ReadWrite);
    let api = mount(api, &KEY, None);
    let api = mount(api, &KEY, Some(&KEY_SET));
    mount(api, &VAULT, None)
}
