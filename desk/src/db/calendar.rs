//! The SQL of the working-day calendar's added years and of the deadlines they recount
//! (`crate::calendar`).

use sqlx::Row;
use sqlx::SqliteConnection;

use storage::store::{Store, StoreError, Tx};

/// The cases whose deadlines count on the calendar.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Case {
    /// Objections.
    Objection,
    /// Consultations and complaints.
    Ticket,
}

/// An open case whose deadline is provisional.
pub(crate) struct Provisional {
    pub id: String,
    pub number: String,
    pub filed_at: String,
    pub due_on: String,
    /// The working days it is allowed, when the case has its own (tickets).
    pub allowed_days: Option<i64>,
}

/// Where added years are kept: what a backend implements.
pub(crate) trait CalendarYears {
    /// Every added year's notice (JSON), by year.
    async fn calendar_notices(&self) -> Result<Vec<String>, StoreError>;
    /// The same, read in `tx`.
    async fn calendar_notices_in(&self, tx: &mut Tx) -> Result<Vec<String>, StoreError>;
    /// Stores an added year.
    async fn insert_calendar_year(
        &self,
        tx: &mut Tx,
        year: i32,
        notice: &str,
        by: &str,
        at: &str,
    ) -> Result<(), StoreError>;
    /// The open cases of a kind whose deadline is provisional.
    async fn provisional_cases(
        &self,
        tx: &mut Tx,
        case: Case,
    ) -> Result<Vec<Provisional>, StoreError>;
    /// Sets a case's deadline.
    async fn set_deadline(
        &self,
        tx: &mut Tx,
        case: Case,
        id: &str,
        due_on: &str,
        provisional: bool,
    ) -> Result<(), StoreError>;
}

async fn calendar_notices_on(conn: &mut SqliteConnection) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT notice FROM calendar_years ORDER BY year")
            .fetch_all(&mut *conn)
            .await?,
    )
}

impl CalendarYears for Store {
    async fn calendar_notices(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        calendar_notices_on(&mut conn).await
    }

    async fn calendar_notices_in(&self, tx: &mut Tx) -> Result<Vec<String>, StoreError> {
        calendar_notices_on(tx).await
    }

    async fn insert_calendar_year(
        &self,
        tx: &mut Tx,
        year: i32,
        notice: &str,
        by: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO calendar_years (year, notice, added_by, added_at) VALUES (?, ?, ?, ?)",
        )
        .bind(year)
        .bind(notice)
        .bind(by)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn provisional_cases(
        &self,
        tx: &mut Tx,
        case: Case,
    ) -> Result<Vec<Provisional>, StoreError> {
        let select = match case {
            Case::Objection => {
                // Counted from the acceptance (6.4.4).
                "SELECT id, number, accepted_at, due_on, NULL FROM objections \
                 WHERE status = 'open' AND due_provisional = 1"
            }
            Case::Ticket => {
                "SELECT id, number, filed_at, due_on, allowed_days FROM tickets \
                 WHERE status = 'open' AND due_provisional = 1"
            }
        };
        Ok(sqlx::query(select)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|row| Provisional {
                id: row.get(0),
                number: row.get(1),
                filed_at: row.get(2),
                due_on: row.get(3),
                allowed_days: row.get(4),
            })
            .collect())
    }

    async fn set_deadline(
        &self,
        tx: &mut Tx,
        case: Case,
        id: &str,
        due_on: &str,
        provisional: bool,
    ) -> Result<(), StoreError> {
        let update = match case {
            Case::Objection => "UPDATE objections SET due_on = ?, due_provisional = ? WHERE id = ?",
            Case::Ticket => "UPDATE tickets SET due_on = ?, due_provisional = ? WHERE id = ?",
        };
        sqlx::query(update)
            .bind(due_on)
            .bind(provisional)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
