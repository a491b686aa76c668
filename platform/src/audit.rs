//! The audit log as administrators read it (issue 19): entries filtered by actor,
//! action, what they are about and time, newest first, and the chain's verification —
//! the same check as `creditpool audit verify`. The JSON API and the console call these.

use governance::identity::Caller;
use policies::access::{Action, Resource};
use storage::audit::{self, Entry, Filter, Verdict};
use storage::said::Said;

use crate::{Platform, Refusal};

/// The most entries a page of the log holds.
pub const MAX_PAGE: u32 = 500;

impl Platform {
    /// The newest `limit` entries `filter` selects, for administrators.
    pub async fn audit_entries(
        &self,
        caller: &Caller,
        filter: &Filter<'_>,
        limit: u32,
    ) -> Result<Vec<Entry>, Refusal> {
        self.authorize(caller, Action::ReadAuditLog, &Resource::Platform)?;
        Ok(audit::entries(&self.store, filter, limit.clamp(1, MAX_PAGE)).await?)
    }

    /// Whether the chain verifies, for administrators: every entry linked to the one
    /// before and the head matching the last.
    pub async fn audit_verdict(&self, caller: &Caller) -> Result<Verdict, Refusal> {
        self.authorize(caller, Action::ReadAuditLog, &Resource::Platform)?;
        Ok(audit::verify(&self.store).await?)
    }
}

/// A moment a person gave (RFC 3339 with any offset, or a day `2026-12-04` taken as
/// its start in China), as the log writes moments: UTC, to the millisecond.
pub fn moment(field: &str, text: &str) -> Result<String, Refusal> {
    let text = text.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|day| {
                day.and_hms_opt(0, 0, 0)
                    .expect("midnight exists")
                    .and_local_timezone(storage::store::beijing())
                    .single()
                    .expect("a fixed offset is unambiguous")
                    .with_timezone(&chrono::Utc)
            })
        })
        .map_err(|_| Refusal::Invalid {
            field: field.to_owned(),
            message: Said::new(
                format!(
                    "{field} is a moment (RFC 3339, such as 2026-12-04T09:30:00+08:00) or a day (2026-12-04, from its start in China)"
                ),
                "请填写时间（如 2026-12-04T09:30:00+08:00）或日期（如 2026-12-04，从北京时间当日零时起）。",
            ),
        })?;
    Ok(parsed.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_read_in_any_offset_and_days_in_china() {
        assert_eq!(
            moment("since", "2026-12-04T09:30:00+08:00").expect("rfc 3339"),
            "2026-12-04T01:30:00.000Z"
        );
        assert_eq!(
            moment("since", "2026-12-04").expect("a day"),
            "2026-12-03T16:00:00.000Z"
        );
        for wrong in ["", "yesterday", "2026-13-01", "2026-12-04 09:30"] {
            assert!(matches!(
                moment("until", wrong),
                Err(Refusal::Invalid { field, .. }) if field == "until"
            ));
        }
    }
}
