//! Typed ids: an institution's id cannot be passed where a job's is expected, and a
//! function that takes four ids in a row says which is which in its signature. Each is
//! the text stored in the database (bound and read as that text) and sent on the wire
//! (serialized as a plain string); it reads as `&str` wherever text is wanted.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id `id` (as given: whether it exists is for the store to say).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// A new random id (128 bits, as hex).
            pub fn random() -> Self {
                Self(crate::store::new_id())
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id!(
    /// An institution (an account of the product pool).
    InstitutionId
);
id!(
    /// A user: a person who signs in (an institution's user, a reviewer, an
    /// administrator, an applicant), or the actor of an audit entry.
    UserId
);
id!(
    /// A job: SQL run in an institution's workspace.
    JobId
);
id!(
    /// An HTTP request (or a command), as the audit log and the logs name it.
    RequestId
);
id!(
    /// An application to join the product pool.
    ApplicationId
);
id!(
    /// A registered product.
    ProductId
);
id!(
    /// A release through the output gate.
    ReleaseId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_text_in_json_and_in_the_database() {
        let id = JobId::new("0f3a");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0f3a\"");
        assert_eq!(serde_json::from_str::<JobId>("\"0f3a\"").unwrap(), id);
        assert_eq!(id, "0f3a");
        assert_eq!(id.len(), 4);
        assert_eq!(format!("{id}"), "0f3a");
        assert_ne!(JobId::random(), JobId::random());
        assert_eq!(JobId::random().len(), 32);
    }

    #[tokio::test]
    async fn an_id_binds_and_reads_as_text() {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let id = InstitutionId::new("inst-1");
        let (back, kind): (InstitutionId, String) = sqlx::query_as("SELECT ?1, typeof(?1)")
            .bind(&id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!((back, kind.as_str()), (id, "text"));
    }
}
