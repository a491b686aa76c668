//! The SQL of agencies' verification letters (`crate::verifications`).

use storage::store::{Store, StoreError, Tx};

/// A letter as it is archived.
pub(crate) struct NewRow<'a> {
    pub id: &'a str,
    pub number: &'a str,
    pub requested_by: &'a str,
    pub agency: &'a str,
    pub matter: &'a str,
    pub letter_title: &'a str,
    /// The subjects asked about (JSON).
    pub subjects: &'a str,
    /// The findings (JSON).
    pub results: &'a str,
    pub cut_off_at: &'a str,
    pub letter_sha256: &'a str,
    pub letter: &'a [u8],
}

/// A letter as the ledger lists it: `(id, number, agency, matter, results (JSON),
/// cut_off_at)`.
pub(crate) type Listed = (String, String, String, String, String, String);

/// Where letters are kept: what a backend implements.
pub(crate) trait Verifications {
    /// Archives a letter.
    async fn insert_verification(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError>;
    /// The letters of `agency` (every agency's when None), newest first.
    async fn verifications(&self, agency: Option<&str>) -> Result<Vec<Listed>, StoreError>;
    /// A letter's agency, number and PDF.
    async fn verification_letter(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, Vec<u8>)>, StoreError>;
}

impl Verifications for Store {
    async fn insert_verification(&self, tx: &mut Tx, row: &NewRow<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO verifications (id, number, requested_by, agency, matter, letter_title, \
             subjects, results, cut_off_at, letter_sha256, letter) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.number)
        .bind(row.requested_by)
        .bind(row.agency)
        .bind(row.matter)
        .bind(row.letter_title)
        .bind(row.subjects)
        .bind(row.results)
        .bind(row.cut_off_at)
        .bind(row.letter_sha256)
        .bind(row.letter)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn verifications(&self, agency: Option<&str>) -> Result<Vec<Listed>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, number, agency, matter, results, cut_off_at FROM verifications \
             WHERE ?1 IS NULL OR agency = ?1 ORDER BY cut_off_at DESC",
        )
        .bind(agency)
        .fetch_all(self.pool())
        .await?)
    }

    async fn verification_letter(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, Vec<u8>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT agency, number, letter FROM verifications WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}
