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

/// An entry as it is read back.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct Entry {
    /// Its place in the chain, from 1.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who: a user id, or `system` / `cli:<user>` / `demo` outside a request.
    pub actor: String,
    /// What happened (`session.created`, `institution.suspended`, …).
    pub action: String,
    /// What it happened to: an id.
    pub subject: String,
    /// Details, as recorded.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The request that caused it (`-` outside a request).
    pub request_id: String,
}

/// Which entries to read; every part given must hold.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    /// Entries by this actor.
    pub actor: Option<&'a str>,
    /// Entries of this action, or of every action starting with it when it ends in `.`
    /// (`institution.`).
    pub action: Option<&'a str>,
    /// Entries about this id: their subject, or the `institution_id` of their detail.
    pub about: Option<&'a str>,
    /// Entries at or after this moment (RFC 3339, UTC, as [`now`] writes it).
    pub since: Option<&'a str>,
    /// Entries before this moment (the same form).
    pub until: Option<&'a str>,
    /// Entries before this sequence number (the page after one ending there).
    pub before: Option<i64>,
}

/// The newest `limit` entries that `filter` selects, newest first.
pub async fn entries(
    store: &Store,
    filter: &Filter<'_>,
    limit: u32,
) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, detail, request_id FROM audit_log \
         WHERE (?1 IS NULL OR actor = ?1) \
           AND (?2 IS NULL OR action = ?2 \
                OR (substr(?2, -1) = '.' AND substr(action, 1, length(?2)) = ?2)) \
           AND (?3 IS NULL OR subject = ?3 \
                OR (json_valid(detail) AND json_extract(detail, '$.institution_id') = ?3)) \
           AND (?4 IS NULL OR at >= ?4) \
           AND (?5 IS NULL OR at < ?5) \
           AND (?6 IS NULL OR seq < ?6) \
         ORDER BY seq DESC LIMIT ?7",
    )
    .bind(filter.actor)
    .bind(filter.action)
    .bind(filter.about)
    .bind(filter.since)
    .bind(filter.until)
    .bind(filter.before)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let detail: String = row.get(5);
            Entry {
                seq: row.get(0),
                at: row.get(1),
                actor: row.get(2),
                action: row.get(3),
                subject: row.get(4),
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                request_id: row.get(6),
            }
        })
        .collect())
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

    #[tokio::test]
    async fn entries_are_read_newest_first_by_actor_action_subject_time_and_page() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("creditpool.db"))
            .await
            .expect("opens");
        let events = [
            ("u1", "institution.suspended", "I1", serde_json::json!({})),
            (
                "u2",
                "job.submitted",
                "J1",
                serde_json::json!({ "institution_id": "I1" }),
            ),
            ("u1", "institution.reinstated", "I1", serde_json::json!({})),
            ("u2", "session.created", "S1", serde_json::json!({})),
            ("u1", "institutions.listed", "-", serde_json::json!({})),
        ];
        for (actor, action, subject, detail) in events {
            let mut tx = store.write().await.expect("tx");
            append(
                &mut tx,
                Event {
                    actor,
                    action,
                    subject,
                    detail,
                    request_id: "r",
                },
            )
            .await
            .expect("appended");
            tx.commit().await.expect("committed");
            // Moments a millisecond apart at least, for the time filter.
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        let seqs = |found: Vec<Entry>| found.iter().map(|e| e.seq).collect::<Vec<_>>();
        let read = |filter: Filter<'static>| {
            let store = store.clone();
            async move { seqs(entries(&store, &filter, 50).await.expect("read")) }
        };
        assert_eq!(read(Filter::default()).await, [5, 4, 3, 2, 1]);
        assert_eq!(
            read(Filter {
                actor: Some("u2"),
                ..Filter::default()
            })
            .await,
            [4, 2]
        );
        // A prefix ends in '.': `institution.` is not `institutions.`.
        assert_eq!(
            read(Filter {
                action: Some("institution."),
                ..Filter::default()
            })
            .await,
            [3, 1]
        );
        assert_eq!(
            read(Filter {
                action: Some("institution"),
                ..Filter::default()
            })
            .await,
            [] as [i64; 0]
        );
        // About an institution: its own entries and those whose detail names it.
        assert_eq!(
            read(Filter {
                about: Some("I1"),
                ..Filter::default()
            })
            .await,
            [3, 2, 1]
        );
        assert_eq!(
            read(Filter {
                before: Some(3),
                ..Filter::default()
            })
            .await,
            [2, 1]
        );
        let all = entries(&store, &Filter::default(), 50).await.expect("read");
        let second = all.iter().find(|e| e.seq == 2).expect("2").at.clone();
        let fourth = all.iter().find(|e| e.seq == 4).expect("4").at.clone();
        let found = entries(
            &store,
            &Filter {
                since: Some(&second),
                until: Some(&fourth),
                ..Filter::default()
            },
            50,
        )
        .await
        .expect("read");
        assert_eq!(seqs(found.clone()).first(), Some(&3));
        assert_eq!(seqs(found).last(), Some(&2));
        assert_eq!(
            entries(&store, &Filter::default(), 2)
                .await
                .expect("read")
                .len(),
            2
        );
        assert_eq!(all[3].detail, serde_json::json!({ "institution_id": "I1" }));
    }

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
