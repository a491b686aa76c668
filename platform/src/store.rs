//! The platform's database: the storage crate's store ([`storage::store`]), opened with
//! the data migrations that need the domain's rules.

pub use storage::store::*;

/// Opens (creating if needed) the platform database at `path`: the schema's migrations
/// ([`Store::open`]), then the data migrations that need a domain rule (stored codes
/// brought into their canonical form, [`governance::applications::normalise_stored_codes`]).
pub async fn open(path: &std::path::Path) -> Result<Store, StoreError> {
    let store = Store::open(path).await?;
    governance::applications::normalise_stored_codes(&store).await?;
    Ok(store)
}
