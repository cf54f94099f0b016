//! A list request of a core-entity collection, already parsed: Kong's `size`, `offset`
//! and `tags`, and Konnect's name filters.

use crate::store::core_entities::TagFilter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// Entities per page, within the configured bounds.
    pub size: usize,
    /// The id the previous page ended at.
    pub offset: Option<String>,
    /// Kong's `tags`: `a,b` needs all, `a/b` any.
    pub tags: Option<TagFilter>,
    /// `filter[name][eq]`.
    pub name_eq: Option<String>,
    /// `filter[name][contains]`.
    pub name_contains: Option<String>,
}
