//! Paging, as every list of the API does it (docs/api-conventions.md): `?limit=` (1 to
//! 500, 50 by default) and an opaque `?cursor=`, the `next_cursor` of the previous page,
//! carrying the sort key after which the page starts.

use serde::{Deserialize, Serialize};

use super::ApiError;

/// The page a list request asks for.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct Page {
    #[param(minimum = 1, maximum = 500)]
    pub(super) limit: Option<u32>,
    pub(super) cursor: Option<String>,
}

impl Page {
    /// The page size asked for: 50 by default, 1 to 500.
    pub(super) fn size(&self) -> Result<u32, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::invalid("limit", "limit is between 1 and 500"));
        }
        Ok(limit)
    }

    /// The sort key after which the page starts, from the `cursor` (a previous page's
    /// `next_cursor`, of `parts` parts); a cursor that is not one is refused, never
    /// taken as the first page.
    pub(super) fn after(&self, parts: usize) -> Result<Option<Vec<String>>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| {
                decode_cursor(c, parts).ok_or_else(|| {
                    ApiError::invalid(
                        "cursor",
                        "not a cursor of this list: pass the next_cursor of the previous page as given",
                    )
                })
            })
            .transpose()
    }
}

/// An opaque cursor for a page that starts after the sort key `parts`.
pub(super) fn cursor(parts: &[&str]) -> String {
    storage::store::hex(parts.join("\n").as_bytes())
}

fn decode_cursor(cursor: &str, parts: usize) -> Option<Vec<String>> {
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) || cursor.len() > 512 {
        return None;
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let split: Vec<String> = text.split('\n').map(str::to_owned).collect();
    (split.len() == parts && split.iter().all(|p| !p.is_empty())).then_some(split)
}

/// One page of a list, as every list answers: its items and the cursor of the next page
/// (null on the last).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Listed<T> {
    /// The items.
    pub(super) items: Vec<T>,
    /// The `cursor` that asks for the next page; null when this is the last.
    pub(super) next_cursor: Option<String>,
}

impl<T> Listed<T> {
    /// The whole list, on one page.
    pub(super) fn all(items: Vec<T>) -> Listed<T> {
        Listed {
            items,
            next_cursor: None,
        }
    }
}
