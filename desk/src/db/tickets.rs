//! The SQL of consultations and complaints (`crate::tickets`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use storage::store::{Store, StoreError, Tx};

use crate::tickets::Ticket;

/// A ticket as it is first stored.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub number: &'a str,
    pub token_sha256: &'a str,
    pub kind: &'a str,
    pub category: &'a str,
    pub channel: &'a str,
    pub name: &'a str,
    pub contact: &'a str,
    pub content: &'a str,
    pub filed_at: &'a str,
    pub due_on: &'a str,
    pub due_provisional: bool,
}

/// Where tickets are kept: what a backend implements.
pub(crate) trait Tickets {
    /// Stores a new ticket, open.
    async fn insert_ticket(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// One ticket by id.
    async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError>;
    /// The ticket with this number and the SHA-256 of its token.
    async fn ticket_by_number(&self, number: &str) -> Result<Option<(Ticket, String)>, StoreError>;
    /// Every ticket, newest first, optionally of one status.
    async fn tickets(&self, status: Option<&str>) -> Result<Vec<Ticket>, StoreError>;
    /// Sets an open ticket's days, deadline and reason; whether it was open.
    async fn extend_ticket(
        &self,
        tx: &mut Tx,
        id: &str,
        allowed_days: i64,
        due_on: &str,
        due_provisional: bool,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Answers an open ticket; whether it was open.
    async fn answer_ticket(
        &self,
        tx: &mut Tx,
        id: &str,
        answer: &str,
        at: &str,
        by: &str,
    ) -> Result<bool, StoreError>;
    /// Rates a ticket not rated yet; whether it was not.
    async fn rate_ticket(
        &self,
        tx: &mut Tx,
        id: &str,
        rating: i64,
        comment: &str,
        at: &str,
    ) -> Result<bool, StoreError>;
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, number, kind, category, channel, name, contact, content, status, \
             filed_at, due_on, allowed_days, extension_reason, answer, answered_at, rating, \
             rating_comment, due_provisional, token_sha256 FROM tickets",
            $rest
        )
    };
}

fn ticket(row: &SqliteRow) -> Ticket {
    Ticket {
        id: row.get(0),
        number: row.get(1),
        kind: row.get(2),
        category: row.get(3),
        channel: row.get(4),
        name: row.get(5),
        contact: row.get(6),
        content: row.get(7),
        status: row.get(8),
        filed_at: row.get(9),
        due_on: row.get(10),
        allowed_days: row.get(11),
        extension_reason: row.get(12),
        answer: row.get(13),
        answered_at: row.get(14),
        rating: row.get(15),
        rating_comment: row.get(16),
        due_provisional: row.get(17),
        overdue: false,
        on_time: None,
    }
    .judged()
}

impl Tickets for Store {
    async fn insert_ticket(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tickets (id, number, token_sha256, kind, category, channel, name, \
             contact, content, status, filed_at, due_on, due_provisional) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.number)
        .bind(row.token_sha256)
        .bind(row.kind)
        .bind(row.category)
        .bind(row.channel)
        .bind(row.name)
        .bind(row.contact)
        .bind(row.content)
        .bind(row.filed_at)
        .bind(row.due_on)
        .bind(row.due_provisional)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        Ok(sqlx::query(select!(" WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| ticket(&r)))
    }

    async fn ticket_by_number(&self, number: &str) -> Result<Option<(Ticket, String)>, StoreError> {
        Ok(sqlx::query(select!(" WHERE number = ?"))
            .bind(number)
            .fetch_optional(self.pool())
            .await?
            .map(|r| (ticket(&r), r.get(18))))
    }

    async fn tickets(&self, status: Option<&str>) -> Result<Vec<Ticket>, StoreError> {
        Ok(sqlx::query(select!(
            " WHERE ?1 IS NULL OR status = ?1 ORDER BY filed_at DESC"
        ))
        .bind(status)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(ticket)
        .collect())
    }

    async fn extend_ticket(
        &self,
        tx: &mut Tx,
        id: &str,
        allowed_days: i64,
        due_on: &str,
        due_provisional: bool,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tickets SET allowed_days = ?, due_on = ?, due_provisional = ?, \
             extension_reason = ? WHERE id = ? AND status = 'open'",
        )
        .bind(allowed_days)
        .bind(due_on)
        .bind(due_provisional)
        .bind(reason)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn answer_ticket(
        &self,
        tx: &mut Tx,
        id: &str,
        answer: &str,
        at: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tickets SET status = 'answered', answer = ?, answered_at = ?, \
             answered_by = ? WHERE id = ? AND status = 'open'",
        )
        .bind(answer)
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rate_ticket(
        &self,
        tx: &mut Tx,
        id: &str,
        rating: i64,
        comment: &str,
        at: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tickets SET rating = ?, rating_comment = ?, rated_at = ? \
             WHERE id = ? AND rating IS NULL",
        )
        .bind(rating)
        .bind(comment)
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
