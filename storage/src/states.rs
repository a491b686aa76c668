//! The states a stored thing moves through, as the schema's CHECK constraints list
//! them: one enum each, so that a state is compared, matched and stored as a value the
//! compiler knows, not as text that a typo turns into a silent mismatch. Each is stored
//! and sent as its snake_case name (`under_review`), as before. A job's states are
//! `sandbox::JobState`, the engine's own.

macro_rules! states {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "TEXT", rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every state, in the order of the schema.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The state's name, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The state named `name`, if there is one.
            pub fn parse(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|s| s.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

states!(
    /// An institution's account (BRIEF P7).
    InstitutionStatus {
        /// Working in its workspace.
        Active = "active",
        /// Suspended with a reason and a rectification deadline: it may only read its
        /// status.
        Suspended = "suspended",
        /// Terminated: its workspace deleted, for good.
        Terminated = "terminated",
    }
);

states!(
    /// An application to join the product pool (BRIEF P1–P3).
    ApplicationStatus {
        /// Being written by the applicant.
        Draft = "draft",
        /// Submitted, waiting for reviewers.
        Submitted = "submitted",
        /// Assigned to reviewers.
        UnderReview = "under_review",
        /// Approved: its account can be opened.
        Approved = "approved",
        /// Rejected.
        Rejected = "rejected",
    }
);

states!(
    /// A registered product (BRIEF P8, P9).
    ProductStatus {
        /// Registered by its institution.
        Registered = "registered",
        /// Assigned to reviewers.
        UnderReview = "under_review",
        /// Recommended: on the public list.
        Recommended = "recommended",
        /// Not recommended.
        NotRecommended = "not_recommended",
    }
);

states!(
    /// An objection to a disclosed record (BRIEF Q8).
    ObjectionStatus {
        /// Filed, waiting for the provider's check of its completeness and accuracy
        /// (6.4.2); it marks nothing yet.
        Received = "received",
        /// Accepted (受理) and being handled: the record is marked 异议处理中 and its
        /// source unit has 5 working days from the acceptance.
        Open = "open",
        /// The record was corrected.
        Corrected = "corrected",
        /// The record was withdrawn from disclosure.
        Withdrawn = "withdrawn",
        /// The record was upheld.
        Upheld = "upheld",
        /// Returned (退回) by the provider's check, with the reason: not accepted.
        Returned = "returned",
    }
);

states!(
    /// A consultation or complaint (BRIEF Q9).
    TicketStatus {
        /// Waiting for its answer.
        Open = "open",
        /// Answered.
        Answered = "answered",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_its_snake_case_name_in_json_and_in_the_database() {
        let s = ApplicationStatus::UnderReview;
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"under_review\"");
        assert_eq!(s.as_str(), "under_review");
        assert_eq!(ApplicationStatus::parse("under_review"), Some(s));
        assert_eq!(ApplicationStatus::parse("Under_Review"), None);
        for all in [
            InstitutionStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            ProductStatus::ALL.iter().map(|s| s.as_str()).collect(),
            ObjectionStatus::ALL.iter().map(|s| s.as_str()).collect(),
            TicketStatus::ALL.iter().map(|s| s.as_str()).collect(),
        ] {
            for name in all {
                assert_eq!(serde_json::to_string(&name).unwrap(), format!("\"{name}\""));
            }
        }
    }

    #[tokio::test]
    async fn every_state_the_schema_allows_reads_back_and_no_other() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("s.db"))
            .await
            .unwrap();
        let mut db = store.pool().acquire().await.unwrap();
        // The schema's CHECK constraints and the enums list the same names.
        for (table, column, names) in [
            (
                "institutions",
                "status",
                InstitutionStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>(),
            ),
            (
                "applications",
                "status",
                ApplicationStatus::ALL.iter().map(|s| s.as_str()).collect(),
            ),
            (
                "products",
                "status",
                ProductStatus::ALL.iter().map(|s| s.as_str()).collect(),
            ),
            (
                "objections",
                "status",
                ObjectionStatus::ALL.iter().map(|s| s.as_str()).collect(),
            ),
            (
                "tickets",
                "status",
                TicketStatus::ALL.iter().map(|s| s.as_str()).collect(),
            ),
        ] {
            let ddl: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = ?")
                .bind(table)
                .fetch_one(&mut *db)
                .await
                .unwrap();
            let listed = names
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ");
            assert!(
                ddl.contains(&format!("CHECK ({column} IN ({listed}))")),
                "{table}.{column}: {ddl}"
            );
        }
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let back: InstitutionStatus = sqlx::query_scalar("SELECT ?")
            .bind(InstitutionStatus::Suspended)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(back, InstitutionStatus::Suspended);
        let unknown: Result<InstitutionStatus, _> = sqlx::query_scalar("SELECT 'paused'")
            .fetch_one(&mut conn)
            .await;
        assert!(
            unknown.is_err(),
            "a name the enum does not know is an error, not a default"
        );
    }
}
