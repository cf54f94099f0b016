//! What the store must know of the core entities' references (Kong's `foreign` fields,
//! `kong/db/schema/init.lua`): where they point and what deleting their target does. The
//! kinds themselves, with their rules, are `entities/kinds.rs`.

/// What deleting a referenced entity does to the entities that point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// The delete fails while references remain (Kong's default).
    Restrict,
    /// The referencing entities go too.
    Cascade,
}

/// A `foreign` field: `{ "id": ... }` pointing at another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignField {
    pub field: &'static str,
    pub target: &'static str,
    pub on_delete: OnDelete,
}
