//! An institution's own data (BRIEF P5): CSV or Parquet uploaded into its workspace,
//! schema inferred (with explicit overrides), checked, converted to Parquet and committed
//! atomically (a failed upload leaves nothing behind), with a sensitivity per column and
//! a sharing mode (private, named institutions, the whole pool) that the access rules
//! enforce. Shared tables appear read-only in the grantees' jobs as `shared_<name>`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use storage::ids::{InstitutionId, RequestId, UserId};

use catalog::Sensitivity;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use futures::StreamExt;
use policies::access::{AccessPolicy, Action, InstitutionRef, Principal, Resource};
use serde::{Deserialize, Serialize};

use storage::audit::{self, Event};
use storage::store::{Store, StoreError, new_id, now, sha256_hex};

use crate::db::own_data::{NewRow, OwnData as _};

/// Largest upload, whatever the storage quota.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// Most columns in an own table.
pub const MAX_COLUMNS: usize = 500;

/// One column of an own table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnColumn {
    /// Name.
    pub name: String,
    /// Type: `utf8`, `int64`, `float64`, `boolean` or `date32`.
    #[serde(rename = "type")]
    pub column_type: String,
    /// `public`, `masked` or `secret`.
    pub sensitivity: String,
    /// Empty values.
    pub nulls: u64,
}

/// An own table as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OwnTable {
    /// Id.
    pub id: String,
    /// The owning institution.
    pub institution_id: String,
    /// Its name in the owner's SQL.
    pub name: String,
    /// Columns.
    pub columns: Vec<OwnColumn>,
    /// Rows.
    pub rows: i64,
    /// Size of the stored Parquet file.
    pub size_bytes: i64,
    /// SHA-256 of the stored file.
    pub sha256: String,
    /// `private`, `institutions` or `pool`.
    pub sharing: String,
    /// With `institutions`: who.
    pub shared_with: Vec<String>,
    /// When.
    pub uploaded_at: String,
    /// Where it is stored.
    #[serde(skip)]
    pub path: String,
}

/// Why an upload or change was refused.
#[derive(Debug, thiserror::Error)]
pub enum OwnDataError {
    /// A parameter is wrong.
    #[error("{message}")]
    Invalid {
        /// The parameter.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read as what it claims to be.
    #[error("{0}")]
    Unreadable(String),
    /// A table of that name exists.
    #[error(
        "a table named '{0}' already exists in your workspace; delete it first or choose another name"
    )]
    Exists(String),
    /// No such table.
    #[error("no such table")]
    NotFound,
    /// Files could not be written.
    #[error("{0}")]
    Files(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: impl Into<String>) -> OwnDataError {
    OwnDataError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Whether `name` is a plain SQL identifier: a letter or `_`, then letters, digits, `_`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

fn arrow_type(name: &str) -> Option<DataType> {
    Some(match name {
        "utf8" => DataType::Utf8,
        "int64" => DataType::Int64,
        "float64" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "date32" => DataType::Date32,
        _ => return None,
    })
}

fn type_name(t: &DataType) -> Option<&'static str> {
    Some(match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "utf8",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "int64",
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "int64",
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "float64",
        DataType::Boolean => "boolean",
        DataType::Date32 | DataType::Date64 => "date32",
        _ => return None,
    })
}

/// Parses `a:x,b:y` into pairs, naming the parameter at fault.
pub fn pairs(field: &str, text: Option<&str>) -> Result<Vec<(String, String)>, OwnDataError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|pair| {
            let (k, v) = pair.split_once(':').ok_or_else(|| {
                invalid(
                    field,
                    format!(
                        "'{pair}' is not column:value (as in {field}=amount:float64,opened:date32)"
                    ),
                )
            })?;
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// What an upload asks for.
#[derive(Clone, Debug)]
pub struct Upload<'a> {
    /// Table name.
    pub name: &'a str,
    /// `csv` or `parquet`.
    pub format: &'a str,
    /// Type overrides.
    pub types: Vec<(String, String)>,
    /// Sensitivity tags.
    pub sensitivity: Vec<(String, String)>,
}

/// Checks the name and format before the body is read.
pub fn check_upload(upload: &Upload<'_>) -> Result<(), OwnDataError> {
    if !is_identifier(upload.name) {
        return Err(invalid(
            "name",
            "name the table with lower-case letters, digits and '_', starting with a letter (at most 63)",
        ));
    }
    if catalog::Manifest::builtin().table(upload.name).is_some()
        || upload.name.starts_with("shared_")
    {
        return Err(invalid(
            "name",
            format!(
                "'{}' is reserved (a public-credit table, or the shared_ prefix); choose another name",
                upload.name
            ),
        ));
    }
    if upload.format != "csv" && upload.format != "parquet" {
        return Err(invalid("format", "format is csv or parquet"));
    }
    for (column, t) in &upload.types {
        if arrow_type(t).is_none() {
            return Err(invalid(
                "types",
                format!(
                    "'{t}' for column '{column}' is not one of utf8, int64, float64, boolean, date32"
                ),
            ));
        }
    }
    for (column, s) in &upload.sensitivity {
        if !["public", "masked", "secret"].contains(&s.as_str()) {
            return Err(invalid(
                "sensitivity",
                format!("'{s}' for column '{column}' is not one of public, masked, secret"),
            ));
        }
    }
    Ok(())
}

/// An uploaded file to read into Parquet, as a worker process is told it: uploads are
/// hostile input, so the parsers run confined, out of the server's process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConvertSpec {
    /// Table name.
    pub name: String,
    /// `csv` or `parquet`.
    pub format: String,
    /// Type overrides.
    pub types: Vec<(String, String)>,
    /// Sensitivity tags.
    pub sensitivity: Vec<(String, String)>,
    /// The uploaded file, in the staging folder.
    pub file: PathBuf,
    /// The Parquet file to write, in the same folder.
    pub out: PathBuf,
    /// Memory the reading may use.
    pub memory_bytes: u64,
    /// Its time limit, in ms.
    pub timeout_ms: u64,
    /// It may run where the kernel cannot confine it (`allow_unconfined_jobs`).
    pub unconfined_allowed: bool,
}

impl ConvertSpec {
    /// What its worker confines itself to: its staging folder, nothing else.
    pub fn confinement(&self) -> crate::worker::Confinement {
        crate::worker::Confinement {
            memory_bytes: self.memory_bytes,
            timeout_ms: self.timeout_ms,
            // The table as Parquet: never much larger than the upload.
            max_write_bytes: 2 * MAX_UPLOAD_BYTES,
            read: Vec::new(),
            write: crate::worker::folder_of(&self.out),
            unconfined_allowed: self.unconfined_allowed,
        }
    }
}

/// What a worker made of an upload.
#[derive(Debug, Serialize, Deserialize)]
pub enum ConvertOutcome {
    /// Read and written to the spec's `out`.
    Done {
        /// The columns.
        columns: Vec<OwnColumn>,
        /// Rows.
        rows: u64,
        /// What the owner should look at.
        warnings: Vec<String>,
    },
    /// A parameter or the file's shape is wrong.
    Invalid {
        /// The parameter.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The file is not readable as what it claims to be.
    Unreadable(String),
    /// Files could not be written.
    Files(String),
}

/// The worker's side of reading an upload.
pub async fn convert_here(spec: &ConvertSpec) -> ConvertOutcome {
    let upload = Upload {
        name: &spec.name,
        format: &spec.format,
        types: spec.types.clone(),
        sensitivity: spec.sensitivity.clone(),
    };
    match convert(&spec.out, &upload, &spec.file).await {
        Ok((columns, rows, warnings)) => ConvertOutcome::Done {
            columns,
            rows,
            warnings,
        },
        Err(OwnDataError::Invalid { field, message }) => ConvertOutcome::Invalid { field, message },
        Err(OwnDataError::Unreadable(m)) => ConvertOutcome::Unreadable(m),
        Err(other) => ConvertOutcome::Files(other.to_string()),
    }
}

/// Imports the uploaded file at `file` (removed afterwards, whatever happens) as table
/// `upload.name` of the institution, read by a confined worker process
/// ([`crate::workspace::Workspaces::convert`]); returns the table and its validation
/// report.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    store: &Store,
    workspaces: &crate::workspace::Workspaces,
    workspace: &Path,
    institution_id: &InstitutionId,
    user_id: &UserId,
    upload: &Upload<'_>,
    file: &Path,
    request_id: &RequestId,
) -> Result<(OwnTable, ImportReport), OwnDataError> {
    storage::crash::point("upload.received");
    let dir = workspace.join("own");
    let id = new_id();
    let path = dir.join(format!("{id}.parquet"));
    // The worker's folder: the upload moves in, the table is written there, and the
    // folder goes whatever happens.
    let outcome = async {
        // Removed with what it holds when this guard drops, at the end of the block.
        let guard = crate::worker::Staging::create(dir.join(format!(".{id}.staging")))
            .map_err(|e| OwnDataError::Files(e.to_string()))?;
        let stage = guard.path();
        let staged = stage.join(format!("upload.{}", upload.format));
        std::fs::rename(file, &staged).map_err(|e| OwnDataError::Files(e.to_string()))?;
        let spec = workspaces.convert_spec(upload, staged, stage.join("table.parquet"));
        let out = spec.out.clone();
        let converted = workspaces.convert(&spec).await?;
        std::fs::rename(&out, &path).map_err(|e| OwnDataError::Files(e.to_string()))?;
        Ok::<_, OwnDataError>(converted)
    }
    .await;
    let _ = std::fs::remove_file(file);
    let (columns, rows, warnings) = outcome?;
    storage::crash::point("upload.converted");
    let committed = commit(
        store,
        institution_id,
        user_id,
        upload,
        &path,
        &columns,
        rows,
        request_id,
    )
    .await;
    match committed {
        Ok(table) => {
            let report = ImportReport {
                rows,
                columns,
                warnings,
            };
            Ok((table, report))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// What an upload's reading found.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Rows read.
    pub rows: u64,
    /// The columns and their types, as read.
    pub columns: Vec<OwnColumn>,
    /// What the reading noticed and did (a column read as text, values left empty).
    pub warnings: Vec<String>,
}

/// An upload read: its columns, rows and warnings.
pub type Converted = (Vec<OwnColumn>, u64, Vec<String>);

/// Whether `file` is UTF-8 text (with or without a byte-order mark, which the engine
/// reads either way), read in chunks.
fn is_utf8(file: &Path) -> Result<bool, OwnDataError> {
    use std::io::Read;
    let files = |e: std::io::Error| OwnDataError::Files(e.to_string());
    let mut reader = std::fs::File::open(file).map_err(files)?;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut chunk).map_err(files)?;
        pending.extend_from_slice(&chunk[..n]);
        match std::str::from_utf8(&pending) {
            Ok(_) if n == 0 => return Ok(true),
            Ok(_) => pending.clear(),
            // A character cut by the chunk's end: kept for the next chunk.
            Err(e) if e.error_len().is_none() && n > 0 => {
                pending.drain(..e.valid_up_to());
            }
            Err(_) => return Ok(false),
        }
    }
}

/// Decodes `file` as GB18030 in chunks, giving each decoded piece to `each`; whether
/// the whole file was GB18030 text.
fn gb18030_text(
    file: &Path,
    mut each: impl FnMut(&str) -> Result<(), OwnDataError>,
) -> Result<bool, OwnDataError> {
    use std::io::Read;
    let files = |e: std::io::Error| OwnDataError::Files(e.to_string());
    let mut reader = std::fs::File::open(file).map_err(files)?;
    let mut decoder = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut chunk = vec![0u8; 1 << 16];
    let mut text = String::with_capacity(1 << 18);
    loop {
        let n = reader.read(&mut chunk).map_err(files)?;
        let last = n == 0;
        let mut read = 0;
        loop {
            text.clear();
            let (result, used) =
                decoder.decode_to_string_without_replacement(&chunk[read..n], &mut text, last);
            read += used;
            each(&text)?;
            match result {
                encoding_rs::DecoderResult::InputEmpty => break,
                encoding_rs::DecoderResult::OutputFull => {}
                encoding_rs::DecoderResult::Malformed(..) => return Ok(false),
            }
        }
        if last {
            return Ok(true);
        }
    }
}

/// Writes `file`, which is not UTF-8, as UTF-8 to `to` if it is GB18030 (GBK) text, in
/// one pass; refuses it in words if it is neither (issue 17: a GBK file was refused
/// with the engine's UTF-8 error).
fn transcode_gb18030(file: &Path, to: &Path) -> Result<(), OwnDataError> {
    use std::io::Write;
    let files = |e: std::io::Error| OwnDataError::Files(e.to_string());
    let mut writer = std::io::BufWriter::new(std::fs::File::create(to).map_err(files)?);
    let whole = gb18030_text(file, |text| {
        writer.write_all(text.as_bytes()).map_err(files)
    })?;
    if !whole {
        return Err(OwnDataError::Unreadable(
            "the file is neither UTF-8 nor GBK (GB18030) text: save it as CSV in one of them (in Excel, 'CSV UTF-8')".into(),
        ));
    }
    writer.flush().map_err(files)
}

/// Reads `file` as `upload` says and writes it as Parquet to `path`.
async fn convert(path: &Path, upload: &Upload<'_>, file: &Path) -> Result<Converted, OwnDataError> {
    let ctx = SessionContext::new();
    let mut notes = Vec::new();
    // A CSV saved in GBK is read as such: converted to UTF-8 beside it first.
    let transcoded;
    let file = if upload.format == "csv" && !is_utf8(file)? {
        transcoded = file.with_extension("utf8.csv");
        transcode_gb18030(file, &transcoded)?;
        notes.push(
            "the file was read as GBK (GB18030) text, as Excel on Chinese Windows saves CSV"
                .to_owned(),
        );
        transcoded.as_path()
    } else {
        file
    };
    let location = file.to_str().unwrap_or_default();
    let unreadable = |e: datafusion::error::DataFusionError| {
        OwnDataError::Unreadable(format!(
            "the file is not readable as {}: {}",
            upload.format,
            e.find_root()
        ))
    };
    let df = if upload.format == "csv" {
        let extension = file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("csv")
            .to_owned();
        let options = CsvReadOptions::new()
            .has_header(true)
            .file_extension(&extension);
        let inferred = ctx
            .read_csv(location, options.clone())
            .await
            .map_err(unreadable)?;
        let overrides: HashMap<&str, &str> = upload
            .types
            .iter()
            .map(|(c, t)| (c.as_str(), t.as_str()))
            .collect();
        let fields: Vec<Field> = inferred
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let t = match overrides.get(f.name().as_str()) {
                    Some(t) => arrow_type(t).unwrap_or(DataType::Utf8),
                    None => f.data_type().clone(),
                };
                Field::new(f.name(), t, true)
            })
            .collect();
        let schema = Schema::new(fields);
        ctx.read_csv(location, options.schema(&schema))
            .await
            .map_err(unreadable)?
    } else {
        let extension = file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("parquet")
            .to_owned();
        let df = ctx
            .read_parquet(
                location,
                ParquetReadOptions::default().file_extension(&extension),
            )
            .await
            .map_err(unreadable)?;
        let exprs: Vec<datafusion::prelude::Expr> = df
            .schema()
            .fields()
            .iter()
            .map(|f| {
                let column = datafusion::prelude::ident(f.name());
                match upload
                    .types
                    .iter()
                    .find(|(c, _)| c == f.name())
                    .and_then(|(_, t)| arrow_type(t))
                {
                    Some(t) => datafusion::prelude::cast(column, t).alias(f.name()),
                    None => column,
                }
            })
            .collect();
        df.select(exprs).map_err(unreadable)?
    };
    let schema = df.schema().as_arrow().clone();
    if schema.fields().len() > MAX_COLUMNS {
        return Err(invalid("file", format!("at most {MAX_COLUMNS} columns")));
    }
    for (column, _) in upload.types.iter().chain(upload.sensitivity.iter()) {
        if schema.field_with_name(column).is_err() {
            return Err(invalid(
                "types",
                format!("the file has no column '{column}'"),
            ));
        }
    }
    let mut columns = Vec::new();
    for f in schema.fields() {
        if !is_identifier(f.name()) {
            return Err(invalid(
                "file",
                format!(
                    "column '{}' is not a plain name (lower-case letters, digits, '_'); rename it in the file",
                    f.name()
                ),
            ));
        }
        let Some(t) = type_name(f.data_type()) else {
            return Err(invalid(
                "types",
                format!(
                    "column '{}' has type {}; give it one of utf8, int64, float64, boolean, date32 in types=",
                    f.name(),
                    f.data_type()
                ),
            ));
        };
        let sensitivity = upload
            .sensitivity
            .iter()
            .find(|(c, _)| c == f.name())
            .map_or("public".to_owned(), |(_, s)| s.clone());
        columns.push(OwnColumn {
            name: f.name().clone(),
            column_type: t.into(),
            sensitivity,
            nulls: 0,
        });
    }
    // Normalise the types, then write Parquet under a temporary name.
    let exprs: Vec<datafusion::prelude::Expr> = columns
        .iter()
        .map(|c| {
            datafusion::prelude::cast(
                datafusion::prelude::ident(&c.name),
                arrow_type(&c.column_type).unwrap_or(DataType::Utf8),
            )
            .alias(&c.name)
        })
        .collect();
    let df = df.select(exprs).map_err(unreadable)?;
    let partial = sandbox::partial_path(path);
    let result = async {
        let out =
            std::fs::File::create(&partial).map_err(|e| OwnDataError::Files(e.to_string()))?;
        let arrow_schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let mut writer = ArrowWriter::try_new(out, arrow_schema, None)
            .map_err(|e| OwnDataError::Files(e.to_string()))?;
        let mut stream = df.execute_stream().await.map_err(unreadable)?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(unreadable)?;
            rows += batch.num_rows() as u64;
            for (i, c) in columns.iter_mut().enumerate() {
                c.nulls += batch.column(i).null_count() as u64;
            }
            writer
                .write(&batch)
                .map_err(|e| OwnDataError::Files(e.to_string()))?;
        }
        writer
            .close()
            .map_err(|e| OwnDataError::Files(e.to_string()))?;
        Ok::<u64, OwnDataError>(rows)
    }
    .await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    if rows == 0 {
        let _ = std::fs::remove_file(&partial);
        return Err(invalid("file", "the file has no rows"));
    }
    std::fs::rename(&partial, path).map_err(|e| OwnDataError::Files(e.to_string()))?;
    let mut warnings = Vec::new();
    for c in &columns {
        if c.nulls == rows {
            warnings.push(format!("column '{}' is empty in every row", c.name));
        }
        let identifying = [
            "id_number",
            "mobile",
            "phone",
            "name",
            "address",
            "birth_date",
            "id_card",
        ];
        if c.sensitivity == "public" && identifying.iter().any(|w| c.name.contains(w)) {
            warnings.push(format!(
                "column '{}' looks identifying but is tagged public; tag it masked or secret (sensitivity={}:masked)",
                c.name, c.name
            ));
        }
    }
    notes.extend(warnings);
    Ok((columns, rows, notes))
}

#[allow(clippy::too_many_arguments)]
async fn commit(
    store: &Store,
    institution_id: &InstitutionId,
    user_id: &UserId,
    upload: &Upload<'_>,
    path: &Path,
    columns: &[OwnColumn],
    rows: u64,
    request_id: &RequestId,
) -> Result<OwnTable, OwnDataError> {
    let bytes = std::fs::read(path).map_err(|e| OwnDataError::Files(e.to_string()))?;
    let sha256 = sha256_hex(&bytes);
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let at = now();
    let mut tx = store.write().await?;
    if store
        .own_table_named(&mut tx, institution_id, upload.name)
        .await?
    {
        return Err(OwnDataError::Exists(upload.name.into()));
    }
    store
        .insert_own_table(
            &mut tx,
            &NewRow {
                id: &id,
                institution_id,
                name: upload.name,
                columns: &serde_json::to_string(columns).unwrap_or_default(),
                rows: rows as i64,
                size_bytes: bytes.len() as i64,
                sha256: &sha256,
                path: &path.display().to_string(),
                uploaded_by: user_id,
                uploaded_at: &at,
            },
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor: user_id,
            action: "own_table.imported",
            subject: &id,
            detail: serde_json::json!({
                "institution_id": institution_id,
                "name": upload.name,
                "rows": rows,
                "sha256": sha256,
                "columns": columns.iter().map(|c| format!("{} {} {}", c.name, c.column_type, c.sensitivity)).collect::<Vec<_>>(),
            }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(OwnTable {
        id,
        institution_id: institution_id.into(),
        name: upload.name.into(),
        columns: columns.to_vec(),
        rows: rows as i64,
        size_bytes: bytes.len() as i64,
        sha256,
        sharing: "private".into(),
        shared_with: Vec::new(),
        uploaded_at: at,
        path: path.display().to_string(),
    })
}

/// A table as a job of `reader` sees it: its SQL name, file, and column sensitivities.
#[derive(Clone, Debug, Serialize)]
pub struct Visible {
    /// The name in the reader's SQL (`name`, or `shared_name` for others' tables).
    pub sql_name: String,
    /// The table.
    pub table: OwnTable,
    /// Whether the reader owns it.
    pub own: bool,
}

/// The own and shared tables an institution's jobs see, decided by the access rules.
pub async fn visible(
    store: &Store,
    access: &AccessPolicy,
    reader: &Principal,
) -> Result<Vec<Visible>, OwnDataError> {
    let Some(reader_institution) = reader.institution.clone() else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Visible> = Vec::new();
    for (table, owner_status) in store.live_own_tables().await? {
        let resource = Resource::OwnTable {
            id: table.id.clone(),
            owner: InstitutionRef {
                id: table.institution_id.clone(),
                status: owner_status,
            },
            sharing: table.sharing.clone(),
            shared_with: table.shared_with.clone(),
        };
        let allowed = access
            .is_allowed(reader, Action::ReadTable, &resource)
            .map_err(|e| OwnDataError::Files(e.to_string()))?;
        if !allowed {
            continue;
        }
        let own = table.institution_id == reader_institution.id;
        let mut sql_name = if own {
            table.name.clone()
        } else {
            format!("shared_{}", table.name)
        };
        let base = sql_name.clone();
        let mut n = 2;
        while out.iter().any(|v| v.sql_name == sql_name) {
            sql_name = format!("{base}_{n}");
            n += 1;
        }
        out.push(Visible {
            sql_name,
            table,
            own,
        });
    }
    Ok(out)
}

impl Visible {
    /// How a job's session registers the table: masked columns as the reader's
    /// pseudonyms; another institution's secret columns not at all, the owner's kept
    /// (a query that reads them releases nothing: the gate).
    pub fn input(&self) -> crate::session::OwnInput {
        let of = |tag: &str| -> Vec<String> {
            self.table
                .columns
                .iter()
                .filter(|c| c.sensitivity == tag)
                .map(|c| c.name.clone())
                .collect()
        };
        crate::session::OwnInput {
            sql_name: self.sql_name.clone(),
            path: self.table.path.clone(),
            masked: of("masked"),
            hidden: if self.own { Vec::new() } else { of("secret") },
        }
    }
}

/// The sensitivity of each column of `tables`, by (SQL name, column).
pub fn sensitivities(tables: &[Visible]) -> HashMap<(String, String), Sensitivity> {
    let mut out = HashMap::new();
    for v in tables {
        for c in &v.table.columns {
            let s = match c.sensitivity.as_str() {
                "secret" => Sensitivity::Secret,
                "masked" => Sensitivity::Masked,
                _ => Sensitivity::Public,
            };
            out.insert((v.sql_name.clone(), c.name.clone()), s);
        }
    }
    out
}

/// One of the institution's own tables.
pub async fn get(
    store: &Store,
    institution_id: &InstitutionId,
    id: &str,
) -> Result<OwnTable, OwnDataError> {
    store
        .own_table(institution_id, id)
        .await?
        .ok_or(OwnDataError::NotFound)
}

/// Sets how a table is shared (`private` revokes every share at once); audited.
pub async fn share(
    store: &Store,
    institution_id: &InstitutionId,
    id: &str,
    mode: &str,
    with: &[String],
    actor: &UserId,
    request_id: &RequestId,
) -> Result<OwnTable, OwnDataError> {
    if !["private", "institutions", "pool"].contains(&mode) {
        return Err(invalid("mode", "mode is private, institutions or pool"));
    }
    if mode == "institutions" && with.is_empty() {
        return Err(invalid(
            "institutions",
            "name the institutions to share with",
        ));
    }
    if mode != "institutions" && !with.is_empty() {
        return Err(invalid(
            "institutions",
            format!("institutions are named only with mode institutions, not {mode}"),
        ));
    }
    get(store, institution_id, id).await?;
    let mut tx = store.write().await?;
    for (i, other) in with.iter().enumerate() {
        let other_id = InstitutionId::from(other.as_str());
        if !governance::accounts::exists_in(store, &mut tx, &other_id).await?
            || other == institution_id
        {
            return Err(invalid(
                &format!("institutions[{i}]"),
                format!("'{other}' is not another institution of the pool"),
            ));
        }
    }
    store.set_sharing(&mut tx, id, mode, with).await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "own_table.sharing_changed",
            subject: id,
            detail: serde_json::json!({ "institution_id": institution_id, "mode": mode, "institutions": with }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    get(store, institution_id, id).await
}

/// Changes the sensitivity of some columns (`column → public|masked|secret`); audited.
/// The gate applies the new tags to every later release.
pub async fn set_sensitivity(
    store: &Store,
    institution_id: &InstitutionId,
    id: &str,
    tags: &std::collections::BTreeMap<String, String>,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<OwnTable, OwnDataError> {
    let mut table = get(store, institution_id, id).await?;
    if tags.is_empty() {
        return Err(invalid(
            "columns",
            "name at least one column and its sensitivity",
        ));
    }
    for (column, sensitivity) in tags {
        if !["public", "masked", "secret"].contains(&sensitivity.as_str()) {
            return Err(invalid(
                &format!("columns.{column}"),
                format!("'{sensitivity}' is not one of public, masked, secret"),
            ));
        }
        let Some(c) = table.columns.iter_mut().find(|c| &c.name == column) else {
            return Err(invalid(
                &format!("columns.{column}"),
                format!("the table has no column '{column}'"),
            ));
        };
        c.sensitivity = sensitivity.clone();
    }
    let mut tx = store.write().await?;
    store
        .set_own_columns(
            &mut tx,
            id,
            &serde_json::to_string(&table.columns).unwrap_or_default(),
        )
        .await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "own_table.sensitivity_changed",
            subject: id,
            detail: serde_json::json!({ "institution_id": institution_id, "columns": tags }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(table)
}

/// Deletes a table and its file; audited.
pub async fn delete(
    store: &Store,
    institution_id: &InstitutionId,
    id: &str,
    actor: &UserId,
    request_id: &RequestId,
) -> Result<(), OwnDataError> {
    let table = get(store, institution_id, id).await?;
    let mut tx = store.write().await?;
    store.delete_own_table(&mut tx, id, &now()).await?;
    audit::append(
        &mut tx,
        Event {
            actor,
            action: "own_table.deleted",
            subject: id,
            detail: serde_json::json!({ "institution_id": institution_id, "name": table.name, "sha256": table.sha256 }),
            request_id,
        },
    )
    .await?;
    tx.commit().await?;
    let _ = std::fs::remove_file(&table.path);
    Ok(())
}

/// The institution's own live tables.
pub async fn list(
    store: &Store,
    institution_id: &InstitutionId,
) -> Result<Vec<OwnTable>, OwnDataError> {
    Ok(store.own_tables(institution_id).await?)
}
