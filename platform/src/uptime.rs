//! Availability (BRIEF Q10, standard 7.1), measured from a heartbeat the server writes to
//! the database every minute, so that it spans restarts.

use serde::Serialize;
use storage::store::{Store, StoreError};

use crate::db::Heartbeats as _;

/// The standard's yearly downtime allowance (7.1).
pub const MAX_DOWNTIME_HOURS_PER_YEAR: f64 = 8.0;

/// Records that the service is up this minute.
pub async fn heartbeat(store: &Store) -> Result<(), StoreError> {
    let minute = chrono::Utc::now().format("%Y-%m-%dT%H:%M").to_string();
    let mut tx = store.write().await?;
    store.beat(&mut tx, &minute).await?;
    tx.commit().await?;
    Ok(())
}

/// Availability from the heartbeats of the last 365 days.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Availability {
    /// First minute measured in the window.
    pub since: Option<String>,
    /// Minutes in the window since then.
    pub minutes: i64,
    /// Minutes with a heartbeat.
    pub minutes_up: i64,
    /// Up share.
    pub availability: Option<f64>,
    /// Hours down in the window.
    pub downtime_hours: f64,
    /// The standard's allowance a year.
    pub max_downtime_hours_per_year: f64,
}

/// The availability over the last 365 days (up to now).
pub async fn availability(store: &Store) -> Result<Availability, StoreError> {
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(365))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (first, up) = store.beats_since(&from).await?;
    let minutes = first
        .as_deref()
        .and_then(|m| chrono::NaiveDateTime::parse_from_str(m, "%Y-%m-%dT%H:%M").ok())
        .map(|m| (now.naive_utc() - m).num_minutes() + 1)
        .unwrap_or(0)
        .max(up);
    Ok(Availability {
        since: first,
        minutes,
        minutes_up: up,
        availability: (minutes > 0).then(|| up as f64 / minutes as f64),
        downtime_hours: (minutes - up) as f64 / 60.0,
        max_downtime_hours_per_year: MAX_DOWNTIME_HOURS_PER_YEAR,
    })
}
