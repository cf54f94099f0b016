//! Consumer-group membership: Kong Enterprise's `consumer_group_consumers`, which
//! Konnect serves as `consumer_groups/{id}/consumers` and `consumers/{id}/consumer_groups`
//! (the config spec's `add-consumer-to-group`, `list-consumers-for-consumer-group`, ...).
//!
//! A membership is stored as an entity of its own kind
//! ([`super::kinds::CONSUMER_GROUP_CONSUMERS`]): its two references cascade when the
//! consumer or the group is deleted (the schema's `on_delete = "cascade"`), and the pair
//! is unique (the schema's primary key). Kong's texts are from
//! `kong/api/routes/consumer_groups.lua`.

use serde_json::{Value, json};
use uuid::Uuid;

use super::kinds::{
    CONSUMER_GROUP_CONSUMERS, CONSUMER_GROUPS, CONSUMERS, CompositeKey, EntityKind,
};
use super::record::{present, record_of, reference_id, write_refused};
use super::{Entities, EntityError, ListRequest, Listing};
use crate::domain::Timestamp;
use crate::schema::filled::Filled;
use crate::store::core_entities::{EntityFilter, Link, WriteError};

/// The pair is the membership's identity (Kong's `primary_key = {"consumer_group",
/// "consumer"}`).
pub const MEMBERSHIP_KEY: CompositeKey = CompositeKey {
    key: "membership",
    index: "consumer_group_consumers",
    value: membership_key_of,
};

fn membership_key_of(membership: &Filled) -> String {
    pair_key(
        reference_id(membership.get("consumer_group")).unwrap_or(""),
        reference_id(membership.get("consumer")).unwrap_or(""),
    )
}

fn pair_key(group: &str, consumer: &str) -> String {
    format!("{group}:{consumer}")
}

/// The entities a membership request names, as Kong reads `consumer` and `group`: one
/// id or name, or a list of them.
pub fn named_in(body: &Value, field: &str) -> Result<Vec<String>, EntityError> {
    let missing = || EntityError::BadRequest(format!("must provide {field}"));
    let names: Vec<String> = match body.get(field) {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| EntityError::field(field, "expected a string or an array of strings"))?,
        Some(Value::Null) | None => return Err(missing()),
        Some(_) => {
            return Err(EntityError::field(
                field,
                "expected a string or an array of strings",
            ));
        }
    };
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err(missing());
    }
    Ok(names)
}

/// Which side of the membership a request starts from.
#[derive(Debug, Clone, Copy)]
enum Side {
    Group,
    Consumer,
}

impl Side {
    fn kind(self) -> &'static EntityKind {
        match self {
            Side::Group => &CONSUMER_GROUPS,
            Side::Consumer => &CONSUMERS,
        }
    }

    fn other(self) -> Side {
        match self {
            Side::Group => Side::Consumer,
            Side::Consumer => Side::Group,
        }
    }

    /// Kong's 404 text for a missing one.
    fn missing(self, id_or_name: &str) -> EntityError {
        match self {
            Side::Group => EntityError::Missing(format!("Group '{id_or_name}' not found")),
            Side::Consumer => EntityError::Missing(format!("Consumer '{id_or_name}' not found")),
        }
    }
}

impl Entities {
    /// The id and body of the group or consumer an `{id or name}` names; Kong's 404.
    async fn member_side(
        &self,
        side: Side,
        control_plane: Uuid,
        id_or_name: &str,
    ) -> Result<(String, Value), EntityError> {
        match self
            .entity_by_id_or_name(side.kind(), control_plane, None, id_or_name)
            .await?
        {
            Some(found) => Ok(found),
            None => {
                self.ensure_control_plane(control_plane).await?;
                Err(side.missing(id_or_name))
            }
        }
    }

    /// One page of the consumers of a group (`side` Group) or the groups of a consumer.
    async fn list_linked(
        &self,
        side: Side,
        control_plane: Uuid,
        id_or_name: &str,
        request: ListRequest,
    ) -> Result<Listing, EntityError> {
        let (id, _) = self.member_side(side, control_plane, id_or_name).await?;
        let other = side.other();
        let filter = EntityFilter {
            tags: request.tags,
            name_eq: request.name_eq,
            name_contains: request.name_contains,
            linked: Some(Link {
                kind: CONSUMER_GROUP_CONSUMERS.name,
                own_field: other.kind().singular,
                other_field: side.kind().singular,
                other_id: id,
            }),
            ..EntityFilter::default()
        };
        let page = self
            .store
            .list_entities(
                control_plane,
                other.kind().name,
                &filter,
                request.offset.as_deref(),
                request.size,
            )
            .await?;
        Ok(Listing {
            data: page.items.into_iter().map(present).collect(),
            next_offset: page.next_after,
        })
    }

    /// `GET consumer_groups/{id}/consumers`.
    pub async fn list_group_consumers(
        &self,
        control_plane: Uuid,
        group: &str,
        request: ListRequest,
    ) -> Result<Listing, EntityError> {
        self.list_linked(Side::Group, control_plane, group, request)
            .await
    }

    /// `GET consumers/{id}/consumer_groups`.
    pub async fn list_consumer_groups_of(
        &self,
        control_plane: Uuid,
        consumer: &str,
        request: ListRequest,
    ) -> Result<Listing, EntityError> {
        self.list_linked(Side::Consumer, control_plane, consumer, request)
            .await
    }

    /// Every consumer of a group, for `GET consumer_groups/{id}?list_consumers=true`.
    pub async fn all_group_consumers(
        &self,
        control_plane: Uuid,
        group_id: &str,
    ) -> Result<Vec<Filled>, EntityError> {
        let mut all = Vec::new();
        let mut offset = None;
        loop {
            let page = self
                .list_group_consumers(
                    control_plane,
                    group_id,
                    ListRequest {
                        size: 1000,
                        offset,
                        tags: None,
                        name_eq: None,
                        name_contains: None,
                    },
                )
                .await?;
            all.extend(page.data);
            match page.next_offset {
                Some(next) => offset = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Adds memberships from `side`'s entity to each of `others` (ids or names), all
    /// checked before any is written, as Kong does: a missing one is a 404, one already
    /// joined a 409. Answers the entity and the others, as stored.
    async fn join(
        &self,
        side: Side,
        control_plane: Uuid,
        id_or_name: &str,
        others: Vec<String>,
    ) -> Result<(Filled, Vec<Filled>), EntityError> {
        let (id, entity) = self.member_side(side, control_plane, id_or_name).await?;
        let other = side.other();
        let mut found: Vec<(String, Value)> = Vec::new();
        for name in &others {
            let (other_id, other_entity) = self.member_side(other, control_plane, name).await?;
            let (group, consumer) = match side {
                Side::Group => (&id, &other_id),
                Side::Consumer => (&other_id, &id),
            };
            let taken = self
                .store
                .entity_id_by_key(
                    control_plane,
                    CONSUMER_GROUP_CONSUMERS.name,
                    MEMBERSHIP_KEY.key,
                    &pair_key(group, consumer),
                )
                .await?
                .is_some();
            if taken || found.iter().any(|(seen, _)| *seen == other_id) {
                return Err(already_member(side, id_or_name, name, &id));
            }
            found.push((other_id, other_entity));
        }
        let now = Timestamp::now().seconds();
        for (other_id, _) in &found {
            let (group, consumer) = match side {
                Side::Group => (&id, other_id),
                Side::Consumer => (other_id, &id),
            };
            let membership = Filled::from(json!({
                "id": Uuid::new_v4().to_string(),
                "consumer_group": {"id": group},
                "consumer": {"id": consumer},
                "created_at": now,
                "updated_at": now,
            }));
            let record = record_of(&CONSUMER_GROUP_CONSUMERS, &membership);
            match self.store.write_entity(control_plane, &record, false).await {
                Ok(()) => {}
                // Joined by a concurrent request since the check.
                Err(WriteError::KeyTaken { .. }) => {
                    return Err(already_member(side, id_or_name, other_id, &id));
                }
                Err(e) => return Err(write_refused(&CONSUMER_GROUP_CONSUMERS, &record, e)),
            }
        }
        Ok((
            present(entity),
            found.into_iter().map(|(_, e)| present(e)).collect(),
        ))
    }

    /// `POST consumer_groups/{id}/consumers` (`{"consumer": ...}`): the group and the
    /// consumers added.
    pub async fn add_consumers_to_group(
        &self,
        control_plane: Uuid,
        group: &str,
        consumers: Vec<String>,
    ) -> Result<(Filled, Vec<Filled>), EntityError> {
        self.join(Side::Group, control_plane, group, consumers)
            .await
    }

    /// `POST consumers/{id}/consumer_groups` (`{"group": ...}`): the consumer and the
    /// groups it joined.
    pub async fn add_consumer_to_groups(
        &self,
        control_plane: Uuid,
        consumer: &str,
        groups: Vec<String>,
    ) -> Result<(Filled, Vec<Filled>), EntityError> {
        self.join(Side::Consumer, control_plane, consumer, groups)
            .await
    }

    /// `DELETE consumer_groups/{g}/consumers/{c}` and `consumers/{c}/consumer_groups/{g}`:
    /// 404 when either is missing; done whether or not it was a member (the spec lists
    /// only 204).
    pub async fn remove_membership(
        &self,
        control_plane: Uuid,
        group: &str,
        consumer: &str,
    ) -> Result<(), EntityError> {
        let (group_id, _) = self.member_side(Side::Group, control_plane, group).await?;
        let (consumer_id, _) = self
            .member_side(Side::Consumer, control_plane, consumer)
            .await?;
        if let Some(id) = self
            .store
            .entity_id_by_key(
                control_plane,
                CONSUMER_GROUP_CONSUMERS.name,
                MEMBERSHIP_KEY.key,
                &pair_key(&group_id, &consumer_id),
            )
            .await?
        {
            self.delete_membership(control_plane, &id).await?;
        }
        Ok(())
    }

    /// `DELETE consumer_groups/{id}/consumers` (`side` Group) and
    /// `consumers/{id}/consumer_groups`: every membership of one side; the group or
    /// consumer stays.
    async fn leave_all(
        &self,
        side: Side,
        control_plane: Uuid,
        id_or_name: &str,
    ) -> Result<(), EntityError> {
        let (id, _) = self.member_side(side, control_plane, id_or_name).await?;
        let filter = EntityFilter {
            parent: Some((side.kind().singular, id)),
            ..EntityFilter::default()
        };
        loop {
            let page = self
                .store
                .list_entities(
                    control_plane,
                    CONSUMER_GROUP_CONSUMERS.name,
                    &filter,
                    None,
                    1000,
                )
                .await?;
            if page.items.is_empty() {
                return Ok(());
            }
            for membership in &page.items {
                if let Some(id) = membership.get("id").and_then(Value::as_str) {
                    self.delete_membership(control_plane, id).await?;
                }
            }
        }
    }

    pub async fn remove_all_group_consumers(
        &self,
        control_plane: Uuid,
        group: &str,
    ) -> Result<(), EntityError> {
        self.leave_all(Side::Group, control_plane, group).await
    }

    pub async fn remove_consumer_from_all_groups(
        &self,
        control_plane: Uuid,
        consumer: &str,
    ) -> Result<(), EntityError> {
        self.leave_all(Side::Consumer, control_plane, consumer)
            .await
    }

    async fn delete_membership(&self, control_plane: Uuid, id: &str) -> Result<(), EntityError> {
        self.store
            .delete_entity(
                control_plane,
                CONSUMER_GROUP_CONSUMERS.name,
                id,
                super::kinds::on_delete,
            )
            .await
            .map_err(|e| super::record::delete_refused(&CONSUMER_GROUP_CONSUMERS, e))?;
        Ok(())
    }
}

/// Kong's 409 texts (`Consumer '<c>' already in group '<g>'`), from either side.
fn already_member(side: Side, id_or_name: &str, other: &str, id: &str) -> EntityError {
    EntityError::Conflict(match side {
        Side::Group => format!("Consumer '{other}' already in group '{id}'"),
        Side::Consumer => format!("Consumer '{id_or_name}' already in group '{other}'"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kong_reads_one_name_or_a_list() {
        assert_eq!(
            named_in(&json!({"consumer": "a"}), "consumer").unwrap(),
            ["a"]
        );
        assert_eq!(
            named_in(&json!({"group": ["a", "b"]}), "group").unwrap(),
            ["a", "b"]
        );
        for body in [
            json!({}),
            json!({"consumer": null}),
            json!({"consumer": []}),
            json!({"consumer": ""}),
        ] {
            assert_eq!(
                named_in(&body, "consumer").unwrap_err().to_string(),
                "must provide consumer",
                "{body}"
            );
        }
        assert!(matches!(
            named_in(&json!({"consumer": 5}), "consumer"),
            Err(EntityError::Invalid(_))
        ));
    }

    #[test]
    fn the_pair_is_the_key() {
        let membership =
            Filled::from(json!({"consumer_group": {"id": "g"}, "consumer": {"id": "c"}}));
        assert_eq!(membership_key_of(&membership), "g:c");
    }
}
