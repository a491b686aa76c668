//! The model manifest: name, version, description and typed input and output columns,
//! carried in the module's `creditpool-manifest` custom section.

use serde::Deserialize;

use crate::abi::AbiType;
use crate::error::InvalidModel;

/// Most input columns a model may declare.
pub const MAX_INPUTS: usize = 64;

/// One declared column.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name, for documentation and error messages.
    pub name: String,
    /// ABI type.
    #[serde(rename = "type")]
    pub column_type: AbiType,
}

/// What a model says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// ABI version; must be 1.
    pub abi: u32,
    /// SQL function name.
    pub name: String,
    /// Free-text version.
    pub version: String,
    /// What the model computes.
    #[serde(default)]
    pub description: String,
    /// Arguments, in call order.
    pub inputs: Vec<ColumnSpec>,
    /// Results; exactly one in ABI v1.
    pub outputs: Vec<ColumnSpec>,
}

impl ModelManifest {
    /// Parses and checks the manifest's JSON.
    pub fn parse(bytes: &[u8]) -> Result<ModelManifest, InvalidModel> {
        let bad = |m: String| InvalidModel::Manifest(m);
        let text =
            std::str::from_utf8(bytes).map_err(|_| bad("the manifest is not UTF-8".into()))?;
        let m: ModelManifest = serde_json::from_str(text)
            .map_err(|e| bad(format!("the manifest is not valid JSON for ABI v1: {e}")))?;
        if m.abi != 1 {
            return Err(bad(format!(
                "the manifest declares ABI {}, this platform runs ABI 1",
                m.abi
            )));
        }
        let mut chars = m.name.chars();
        let name_ok = matches!(chars.next(), Some('a'..='z'))
            && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
            && m.name.len() <= 63;
        if !name_ok {
            return Err(bad(format!(
                "model name '{}' must be lower-case letters, digits and '_', start with a letter and have at most 63 characters",
                m.name
            )));
        }
        if m.version.trim().is_empty() || m.version.len() > 32 {
            return Err(bad("version must be 1 to 32 characters".into()));
        }
        if m.description.len() > 4096 {
            return Err(bad("description must be at most 4096 bytes".into()));
        }
        if m.inputs.is_empty() || m.inputs.len() > MAX_INPUTS {
            return Err(bad(format!(
                "a model takes 1 to {MAX_INPUTS} input columns, this one declares {}",
                m.inputs.len()
            )));
        }
        if m.outputs.len() != 1 {
            return Err(bad(format!(
                "ABI v1 models return exactly one column, this one declares {}",
                m.outputs.len()
            )));
        }
        for c in m.inputs.iter().chain(&m.outputs) {
            if c.name.is_empty() || c.name.len() > 63 {
                return Err(bad("column names must be 1 to 63 bytes".into()));
            }
        }
        Ok(m)
    }

    /// The output column's type.
    pub fn output_type(&self) -> AbiType {
        self.outputs[0].column_type
    }
}
