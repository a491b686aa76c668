//! Keyed pseudonyms of identifying values (BRIEF P4, P8, Q3; issue 14): masked columns
//! (citizen ID numbers, mobile numbers, and the columns an institution tags as masked in
//! its own data) and natural persons' names enter an institution's SQL and models only
//! as pseudonyms, keyed per institution under the server's key. Two tables that hold the
//! same person's ID number still join, since both columns carry the same pseudonym, but
//! no join, filter, substring or score can recover the value: a table of every possible
//! ID number joined against them matches nothing, because the institution cannot compute
//! a pseudonym. A masked value's hidden characters (the birth date inside an ID number)
//! therefore never reach a computation.
//!
//! Tables are registered in a job's session as views whose pseudonymised columns are
//! `pseudonym(column)`; the underlying files are never registered under a name the SQL
//! can reach. The lineage of a result still names the source column, and the gate treats
//! a masked source column as its pseudonym.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use storage::ids::InstitutionId;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{SessionContext, col};

use storage::store::hex;

/// The name of the pseudonym function in plans. Never registered, so SQL cannot call
/// it; and no model can take it, since a model's name has no '.' (`sandbox::manifest`),
/// so the lineage, which passes a source column's origin through this function alone,
/// cannot be fooled by a model of the same name.
pub const FUNCTION: &str = "creditpool.pseudonym";
/// Every pseudonym starts with this.
pub const PREFIX: &str = "ps_";

/// Natural persons' names: public in the catalog's sense (the register's names are shown
/// only to the person; officers' and legal representatives' names are disclosed with
/// their organisation's registration), but identifying, so pseudonymised in the sandbox
/// like masked columns: joined to a person's records through their subject id, a clear
/// name would name the person a released row describes.
const PERSON_NAMES: &[(&str, &str)] = &[
    ("persons", "name"),
    ("officers", "person_name"),
    ("enterprises", "legal_representative"),
];

/// Whether a column reaches institutions' SQL as a pseudonym: every masked column, and
/// natural persons' names. The one rule, used by registration and by the gate.
pub fn is_pseudonymised(table: &str, column: &str, sensitivity: catalog::Sensitivity) -> bool {
    sensitivity == catalog::Sensitivity::Masked || PERSON_NAMES.contains(&(table, column))
}

/// One institution's pseudonym key.
#[derive(Clone)]
pub struct Pseudonyms {
    key: ring::hmac::Key,
    /// The key's bytes, handed to the job's worker process and to nothing else.
    derived: [u8; 32],
    /// A short public tag of the key, so that two pseudonym functions compare equal
    /// exactly when they are the same institution's.
    tag: [u8; 8],
}

impl std::fmt::Debug for Pseudonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonyms")
            .field("tag", &hex(&self.tag))
            .finish_non_exhaustive()
    }
}

impl Pseudonyms {
    /// The key of `institution_id` under the server's `secret`.
    pub fn new(secret: &[u8; 32], institution_id: &InstitutionId) -> Pseudonyms {
        let server = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let derived = ring::hmac::sign(
            &server,
            format!("creditpool pseudonym key\0{institution_id}").as_bytes(),
        );
        let tag_of = ring::hmac::sign(
            &server,
            format!("creditpool pseudonym tag\0{institution_id}").as_bytes(),
        );
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&tag_of.as_ref()[..8]);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(derived.as_ref());
        Pseudonyms::from_parts(bytes, tag)
    }

    /// The key as [`Pseudonyms::parts`] gave it: how a job's worker process receives
    /// its institution's key (and only that: never the server's secret).
    pub fn from_parts(derived: [u8; 32], tag: [u8; 8]) -> Pseudonyms {
        Pseudonyms {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &derived),
            derived,
            tag,
        }
    }

    /// The key's bytes and its tag, for [`Pseudonyms::from_parts`].
    pub fn parts(&self) -> ([u8; 32], [u8; 8]) {
        (self.derived, self.tag)
    }

    /// The pseudonym of one value: `ps_` and 24 hex digits (96 bits) of the HMAC of its
    /// normal form.
    pub fn of(&self, value: &str) -> String {
        let normal = normal_form(value);
        let mac = ring::hmac::sign(&self.key, normal.as_bytes());
        format!("{PREFIX}{}", hex(&mac.as_ref()[..12]))
    }

    /// `pseudonym(column)` as a logical expression, aliased back to the column's name.
    pub fn expr(&self, column: &str) -> Expr {
        ScalarUDF::new_from_impl(PseudonymUdf {
            pseudonyms: self.clone(),
            signature: Signature::any(1, Volatility::Immutable),
        })
        .call(vec![col(quoted(column))])
        .alias(column)
    }
}

/// Whether `value` has the form of a pseudonym.
pub fn is_pseudonym(value: &str) -> bool {
    value.len() == PREFIX.len() + 24
        && value.starts_with(PREFIX)
        && value[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The form compared: half-width, upper case, without spaces, hyphens or brackets, and a
/// mobile number without its +86 / 0086 prefix, so that one person's number written two
/// ways is one pseudonym.
fn normal_form(value: &str) -> String {
    let mut out: String = policies::to_half_width(value)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    for prefix in ["+86", "0086"] {
        if let Some(rest) = out.strip_prefix(prefix)
            && rest.len() == 11
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            out = rest.to_owned();
        }
    }
    out
}

/// Registers `table` of `ctx` again as a view in which `pseudonymised` columns are
/// pseudonyms and `hidden` columns are absent; other columns pass through unchanged.
pub async fn wrap(
    ctx: &SessionContext,
    table: &str,
    pseudonyms: &Pseudonyms,
    pseudonymised: &[&str],
    hidden: &[&str],
) -> Result<()> {
    if pseudonymised.is_empty() && hidden.is_empty() {
        return Ok(());
    }
    let df = ctx.table(table).await?;
    let exprs: Vec<Expr> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|name| !hidden.contains(name))
        .map(|name| {
            if pseudonymised.contains(&name) {
                pseudonyms.expr(name)
            } else {
                col(quoted(name))
            }
        })
        .collect();
    let view = df.select(exprs)?.into_view();
    ctx.deregister_table(table)?;
    ctx.register_table(table, view)?;
    Ok(())
}

#[derive(Debug)]
struct PseudonymUdf {
    pseudonyms: Pseudonyms,
    signature: Signature,
}

impl PartialEq for PseudonymUdf {
    fn eq(&self, other: &Self) -> bool {
        self.pseudonyms.tag == other.pseudonyms.tag
    }
}

impl Eq for PseudonymUdf {}

impl Hash for PseudonymUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pseudonyms.tag.hash(state);
    }
}

impl ScalarUDFImpl for PseudonymUdf {
    fn name(&self) -> &str {
        FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let text = cast(&input, &DataType::Utf8)?;
        let text = text
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .ok_or_else(|| {
                datafusion::error::DataFusionError::Internal("pseudonym of a non-string".into())
            })?;
        let mut out = StringBuilder::with_capacity(text.len(), text.len() * 27);
        for i in 0..text.len() {
            if text.is_null(i) {
                out.append_null();
            } else {
                out.append_value(self.pseudonyms.of(text.value(i)));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_per_institution_stable_and_blind_to_formatting() {
        let secret = [7u8; 32];
        let a = Pseudonyms::new(&secret, &"inst-a".into());
        let b = Pseudonyms::new(&secret, &"inst-b".into());
        let id = "33010219900307123X";
        assert_eq!(a.of(id), a.of(" 33010219900307123x "));
        assert_eq!(a.of("138-1234-5678"), a.of("+86 13812345678"));
        assert_eq!(a.of("13812345678"), a.of("008613812345678"));
        assert_ne!(
            a.of(id),
            b.of(id),
            "another institution's pseudonym differs"
        );
        assert_ne!(
            a.of(id),
            Pseudonyms::new(&[8u8; 32], &"inst-a".into()).of(id),
            "another server key gives other pseudonyms"
        );
        let p = a.of(id);
        assert!(is_pseudonym(&p), "{p}");
        assert!(!is_pseudonym(id) && !is_pseudonym("ps_XYZ"));
        // Nothing of the value shows: not its digits, not its birth date.
        assert!(!p.contains("19900307"));
    }
}
