//! The audit log: append-only and hash-chained. Every state change and every data
//! release is appended in the same transaction as the change itself, with its actor,
//! time and request id. Entry `n` stores `hash = SHA-256(hash of n−1 ‖ "\n" ‖ canonical
//! JSON of n)`, and the head (last sequence number and hash) is kept beside the log, so
//! `creditpool audit verify` detects an edited, deleted, inserted or reordered entry, and
//! entries removed from the end. (Whoever can rewrite the database file can also rewrite
//! the head consistently: print it with `audit verify` and keep it elsewhere to anchor it.)

use serde::Serialize;
use sqlx::Row;

use crate::store::{Store, StoreError, Tx, now, sha256_hex};

/// One event to record.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// Who: a user id, or `system` / `cli:<user>` for actions outside a request.
    pub actor: &'a str,
    /// What happened, a stable dotted name (`session.created`, `institution.suspended`).
    pub action: &'a str,
    /// What it happened to: an id.
    pub subject: &'a str,
    /// Details, as a JSON object.
    pub detail: serde_json::Value,
    /// The request that caused it (`-` outside a request).
    pub request_id: &'a str,
}

/// The hashed form of an entry: fields in a fixed order, `detail` with sorted keys.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    detail: &'a serde_json::Value,
    request_id: &'a str,
}

fn entry_hash(prev_hash: &str, entry: &Canonical<'_>) -> String {
    // serde_json's maps are ordered by key, so the text is canonical.
    let text = serde_json::to_string(entry).expect("an entry serialises");
    sha256_hex(format!("{prev_hash}\n{text}").as_bytes())
}

/// Appends `event` inside `tx`; returns its sequence number.
pub async fn append(tx: &mut Tx, event: Event<'_>) -> Result<i64, StoreError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await?;
    let (seq, prev_hash): (i64, String) = (head.get::<i64, _>(0) + 1, head.get(1));
    let at = now();
    let detail = canonical_detail(event.detail);
    let hash = entry_hash(
        &prev_hash,
        &Canonical {
            seq,
            at: &at,
            actor: event.actor,
            action: event.action,
            subject: event.subject,
            detail: &detail,
            request_id: event.request_id,
        },
    );
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, detail, request_id, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(seq)
    .bind(&at)
    .bind(event.actor)
    .bind(event.action)
    .bind(event.subject)
    .bind(detail.to_string())
    .bind(event.request_id)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
    crate::crash::audited(event.action);
    Ok(seq)
}

/// Re-parses `detail` so that object keys are sorted however the caller built it.
fn canonical_detail(detail: serde_json::Value) -> serde_json::Value {
    serde_json::from_str(&detail.to_string()).unwrap_or(detail)
}

/// What `verify` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry links to the one before and the head matches the last.
    Intact {
        /// Entries checked.
        entries: i64,
        /// The head's hash, to keep elsewhere as an anchor.
        head: String,
    },
    /// The first problem found.
    Broken {
        /// The sequence number where the chain breaks (0 for the head).
        seq: i64,
        /// What is wrong there.
        reason: String,
    },
}

/// Walks the whole log in sequence order and checks every link and hash, then the head.
pub async fn verify(store: &Store) -> Result<Verdict, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, detail, request_id, prev_hash, hash \
         FROM audit_log ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await?;
    let mut expected_seq = 1i64;
    let mut prev_hash = String::new();
    for row in &rows {
        let seq: i64 = row.get(0);
        let broken = |reason: String| Ok(Verdict::Broken { seq, reason });
        if seq != expected_seq {
            return broken(format!(
                "expected entry {expected_seq} next, found {seq}: entries were deleted or inserted"
            ));
        }
        let stored_prev: String = row.get(7);
        if stored_prev != prev_hash {
            return broken("its link to the previous entry does not match: the log was reordered or an entry replaced".into());
        }
        let detail: String = row.get(5);
        let Ok(detail) = serde_json::from_str::<serde_json::Value>(&detail) else {
            return broken("its detail is not valid JSON: it was edited".into());
        };
        let (at, actor, action, subject, request_id): (String, String, String, String, String) =
            (row.get(1), row.get(2), row.get(3), row.get(4), row.get(6));
        let hash = entry_hash(
            &prev_hash,
            &Canonical {
                seq,
                at: &at,
                actor: &actor,
                action: &action,
                subject: &subject,
                detail: &detail,
                request_id: &request_id,
            },
        );
        let stored: String = row.get(8);
        if stored != hash {
            return broken("its content does not match its hash: it was edited".into());
        }
        prev_hash = hash;
        expected_seq += 1;
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    let (head_seq, head_hash): (i64, String) = (head.get(0), head.get(1));
    let entries = expected_seq - 1;
    if head_seq != entries || head_hash != prev_hash {
        return Ok(Verdict::Broken {
            seq: 0,
            reason: format!(
                "the head records {head_seq} entries but the log has {entries}: entries were removed from the end"
            ),
        });
    }
    Ok(Verdict::Intact {
        entries,
        head: prev_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The storage crate stands alone: a new database gets every migration, and its
    /// audit chain links what is appended and catches an edited entry.
    #[tokio::test]
    async fn a_chain_in_a_new_database_links_and_catches_an_edit() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("creditpool.db"))
            .await
            .expect("opens");
        for subject in ["a", "b", "c"] {
            let mut tx = store.write().await.expect("tx");
            append(
                &mut tx,
                Event {
                    actor: "system",
                    action: "test.appended",
                    subject,
                    detail: serde_json::json!({ "z": 1, "a": [subject] }),
                    request_id: "-",
                },
            )
            .await
            .expect("appended");
            tx.commit().await.expect("committed");
        }
        assert!(matches!(
            verify(&store).await.expect("verified"),
            Verdict::Intact { entries: 3, .. }
        ));
        // Append-only: an edit is refused; one made around the trigger is found.
        let edit = "UPDATE audit_log SET subject = 'x' WHERE seq = 2";
        assert!(sqlx::query(edit).execute(store.pool()).await.is_err());
        sqlx::query("DROP TRIGGER audit_log_is_append_only_update")
            .execute(store.pool())
            .await
            .expect("dropped");
        sqlx::query(edit)
            .execute(store.pool())
            .await
            .expect("edited");
        assert!(matches!(
            verify(&store).await.expect("verified"),
            Verdict::Broken { seq: 2, .. }
        ));
    }
}
