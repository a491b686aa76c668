//! An institution's own data and models as pages (issue 19): uploading a CSV or Parquet
//! file with a progress bar and the validation report, tagging columns, sharing and
//! revoking, deleting; uploading a WebAssembly model (the sandbox's refusal shown on the
//! field), its manifest and signature, deleting it. Every rule is the platform's
//! (`Platform::import_own_table`, `share_own_table`, `tag_own_columns`,
//! `delete_own_table`, `upload_model`, `models`, `delete_model`), as through the API.
//!
//! An upload is a `multipart/form-data` form whose token comes before its file: the
//! token is checked before a byte of the file is kept.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use futures::TryStreamExt;
use governance::identity::Caller;
use serde::Deserialize;
use workbench::models::ModelInfo;
use workbench::own_data::{ImportReport, OwnTable, Upload};

use super::csrf::{Checked, Posted, TokenOnly};
use super::session::{SignedIn, see_other};
use super::{Chrome, Faults, PageError, render_with_token};
use crate::api::{ApiError, AppState, request_id};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/workspace/data",
            get(data).post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/workspace/data/{table}/sharing", post(share))
        .route("/workspace/data/{table}/sensitivity", post(tag))
        .route("/workspace/data/{table}/delete", post(delete))
        .route(
            "/workspace/models",
            get(models)
                .post(upload_model)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/workspace/models/{model}/delete", post(delete_model))
}

/// The institution whose workspace `caller` works in.
fn own(caller: &Caller) -> Result<storage::ids::InstitutionId, PageError> {
    super::workspace::own(caller)
}

/// A refusal shown on the form when the user can act on it; a server's failure or an
/// unknown table is the error page.
fn shown(error: ApiError) -> Result<ApiError, PageError> {
    if error.status().is_server_error() || error.status() == StatusCode::NOT_FOUND {
        Err(error.into())
    } else {
        Ok(error)
    }
}

/// A table's sharing in words.
fn sharing_zh(mode: &str) -> &'static str {
    match mode {
        "private" => "仅本机构",
        "institutions" => "共享给指定机构",
        _ => "共享到产品池（所有机构）",
    }
}

// ---------------------------------------------------------------------------------
// Own data.

/// The upload form as typed (the file itself is never sent back).
#[derive(Default)]
struct UploadFields {
    name: String,
    types: String,
    sensitivity: String,
}

#[derive(Template)]
#[template(path = "workspace/data.html")]
struct DataPage {
    chrome: Chrome,
    csrf: String,
    fields: UploadFields,
    faults: Faults,
    /// What was just done.
    done: Option<String>,
    /// The report of the table just uploaded.
    report: Option<(String, ImportReport)>,
    /// The table whose form was refused, with why.
    table_fault: Option<(String, String)>,
    tables: Vec<OwnTable>,
    max_mib: u64,
}

impl DataPage {
    fn sharing(&self, mode: &str) -> &'static str {
        sharing_zh(mode)
    }

    fn sensitivity(&self, tag: &str) -> &'static str {
        match tag {
            "masked" => "脱敏",
            "secret" => "保密",
            _ => "公开",
        }
    }

    fn size(&self, bytes: &i64) -> String {
        super::workspace::bytes(*bytes)
    }
}

/// What the data page shows besides the tables.
#[derive(Default)]
struct DataShown {
    fields: UploadFields,
    faults: Faults,
    done: Option<String>,
    report: Option<(String, ImportReport)>,
    table_fault: Option<(String, String)>,
}

async fn data_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    shown: DataShown,
    status: StatusCode,
) -> Result<Response, PageError> {
    let id = own(caller)?;
    let tables = state
        .own_tables(caller, &id)
        .await
        .map_err(ApiError::from)?;
    Ok(render_with_token(state, headers, status, |csrf| DataPage {
        chrome: Chrome::new("workspace"),
        csrf,
        fields: shown.fields,
        faults: shown.faults,
        done: shown.done,
        report: shown.report,
        table_fault: shown.table_fault,
        tables,
        max_mib: workbench::own_data::MAX_UPLOAD_BYTES >> 20,
    }))
}

/// `GET /workspace/data`: the upload form and the institution's own tables.
async fn data(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    data_page(
        &state,
        &headers,
        &caller,
        DataShown::default(),
        StatusCode::OK,
    )
    .await
}

/// The next part of an upload form: a text field (kept in `fields`), the file (once the
/// token before it checked out), or the form's end (the token checked too).
pub(super) enum Part<'a> {
    Text,
    File(Box<axum::extract::multipart::Field<'a>>),
    End,
}

pub(super) async fn next_part<'a>(
    headers: &HeaderMap,
    form: &'a mut Multipart,
    fields: &mut HashMap<String, String>,
) -> Result<Part<'a>, PageError> {
    let field = form
        .next_field()
        .await
        .map_err(|e| super::csrf::unreadable(&e.body_text()))?;
    let Some(field) = field else {
        super::csrf::check(headers, fields.get("csrf").map(String::as_str))?;
        return Ok(Part::End);
    };
    let name = field.name().unwrap_or("").to_owned();
    if name == "file" {
        super::csrf::check(headers, fields.get("csrf").map(String::as_str))?;
        return Ok(Part::File(Box::new(field)));
    }
    if fields.len() >= 16 {
        return Err(super::csrf::unreadable("too many fields").into());
    }
    let text = field
        .text()
        .await
        .map_err(|e| super::csrf::unreadable(&e.body_text()))?;
    if text.len() > 64 * 1024 {
        return Err(super::csrf::unreadable("a field is too long").into());
    }
    fields.insert(name, text);
    Ok(Part::Text)
}

/// The whole of an uploaded file, read until `limit` bytes; `None` once it passes them
/// (reading stops there).
pub(super) async fn file_bytes(
    file: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
) -> Result<Option<Vec<u8>>, PageError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = file
        .chunk()
        .await
        .map_err(|e| super::csrf::unreadable(&e.body_text()))?
    {
        if bytes.len() + chunk.len() > limit {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

/// `col:type, col:type` as typed on the page (commas, Chinese commas, spaces or lines
/// between pairs) in the API's form (`col:type,col:type`).
fn pairs_text(typed: &str) -> String {
    typed
        .split(|c: char| c == ',' || c == '，' || c.is_whitespace())
        .map(|p| p.trim().replace('：', ":"))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// An upload refused: the form again with what was typed and the fault on its field.
async fn upload_refused(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    error: ApiError,
    fields: UploadFields,
) -> Result<Response, PageError> {
    let error = shown(error)?;
    let faults = Faults::of(&error, &["name", "format", "types", "sensitivity", "file"]);
    data_page(
        state,
        headers,
        caller,
        DataShown {
            fields,
            faults,
            ..DataShown::default()
        },
        error.status(),
    )
    .await
}

/// `POST /workspace/data`: takes the file as an own table and shows its validation
/// report; a refusal (a name, a format, the file's content, the storage left) is shown
/// on the field at fault, with nothing kept.
async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut fields = HashMap::new();
    loop {
        match next_part(&headers, &mut form, &mut fields).await? {
            Part::Text => continue,
            Part::File(file) => {
                return take_table(&state, &headers, &caller, &fields, Some(*file)).await;
            }
            Part::End => return take_table(&state, &headers, &caller, &fields, None).await,
        }
    }
}

/// Takes the upload form's `file` with its `fields` as an own table.
async fn take_table(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    fields: &HashMap<String, String>,
    file: Option<axum::extract::multipart::Field<'_>>,
) -> Result<Response, PageError> {
    let id = own(caller)?;
    let text = |k: &str| fields.get(k).map_or("", |v| v.trim()).to_owned();
    let typed = UploadFields {
        name: text("name"),
        types: text("types"),
        sensitivity: text("sensitivity"),
    };
    let refused = |error, typed| upload_refused(state, headers, caller, error, typed);
    let Some(file) = file.filter(|f| f.file_name().is_some_and(|n| !n.is_empty())) else {
        return refused(
            ApiError::invalid("file", "choose a CSV or Parquet file")
                .with_zh("请选择要上传的 CSV 或 Parquet 文件。"),
            typed,
        )
        .await;
    };
    let file_name = file.file_name().unwrap_or("").to_ascii_lowercase();
    let format = if file_name.ends_with(".parquet") {
        "parquet"
    } else if file_name.ends_with(".csv") || file_name.ends_with(".txt") {
        "csv"
    } else {
        return refused(
            ApiError::invalid("file", "the file is neither .csv nor .parquet")
                .with_zh("只能上传 .csv（首行为列名，UTF-8 编码）或 .parquet 文件。"),
            typed,
        )
        .await;
    };
    let types = pairs_text(&typed.types);
    let sensitivity = pairs_text(&typed.sensitivity);
    let request = (|| {
        Ok::<_, ApiError>(Upload {
            name: &typed.name,
            format,
            types: workbench::own_data::pairs(
                "types",
                Some(types.as_str()).filter(|t| !t.is_empty()),
            )?,
            sensitivity: workbench::own_data::pairs(
                "sensitivity",
                Some(sensitivity.as_str()).filter(|t| !t.is_empty()),
            )?,
        })
    })();
    let request = match request {
        Ok(request) => request,
        Err(e) => return refused(e, typed).await,
    };
    let imported = state
        .import_own_table(
            caller,
            &id,
            &request,
            file.map_err(|e| e.body_text()),
            &request_id(),
        )
        .await;
    match imported {
        Ok((table, report)) => {
            data_page(
                state,
                headers,
                caller,
                DataShown {
                    done: Some(format!("已上传数据表 {}。", table.name)),
                    report: Some((table.name, report)),
                    ..DataShown::default()
                },
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => refused(e.into(), typed).await,
    }
}

#[derive(Deserialize)]
struct SharingForm {
    csrf: Option<String>,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    institutions: String,
}

impl Posted for SharingForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A table's form refused: shown beside that table.
async fn table_refused(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    table: &str,
    error: ApiError,
) -> Result<Response, PageError> {
    let error = shown(error)?;
    let status = error.status();
    data_page(
        state,
        headers,
        caller,
        DataShown {
            table_fault: Some((table.to_owned(), error.message_zh().to_owned())),
            ..DataShown::default()
        },
        status,
    )
    .await
}

/// `POST /workspace/data/{table}/sharing`: shares the table (or stops sharing it); a
/// reader that lost it stops reading it at once.
async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(table): Path<String>,
    Checked(form): Checked<SharingForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let institutions: Vec<String> = form
        .institutions
        .split(|c: char| c == ',' || c == '，' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    match state
        .share_own_table(
            &caller,
            &id,
            &table,
            &form.mode,
            &institutions,
            &request_id(),
        )
        .await
    {
        Ok(_) => Ok(see_other("/workspace/data#tables")),
        Err(e) => table_refused(&state, &headers, &caller, &table, e.into()).await,
    }
}

/// The sensitivity form: one select a column (`col:NAME`).
#[derive(Deserialize)]
struct TagForm {
    csrf: Option<String>,
    #[serde(flatten)]
    columns: HashMap<String, String>,
}

impl Posted for TagForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /workspace/data/{table}/sensitivity`: tags columns public, masked or secret.
async fn tag(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(table): Path<String>,
    Checked(form): Checked<TagForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    let tags: BTreeMap<String, String> = form
        .columns
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix("col:").map(|c| (c.to_owned(), v)))
        .collect();
    match state
        .tag_own_columns(&caller, &id, &table, &tags, &request_id())
        .await
    {
        Ok(_) => Ok(see_other("/workspace/data#tables")),
        Err(e) => table_refused(&state, &headers, &caller, &table, e.into()).await,
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: Option<String>,
    /// The box that confirms it.
    confirm: Option<String>,
}

impl Posted for DeleteForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// `POST /workspace/data/{table}/delete`: deletes the table once confirmed; jobs
/// reading it stop.
async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Path(table): Path<String>,
    Checked(form): Checked<DeleteForm>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    if form.confirm.is_none() {
        let error = ApiError::invalid("confirm", "tick the box to confirm the deletion")
            .with_zh("请勾选“确认删除”后再删除：删除后无法恢复，读取它的作业会被取消。");
        return table_refused(&state, &headers, &caller, &table, error).await;
    }
    match state
        .delete_own_table(&caller, &id, &table, &request_id())
        .await
    {
        Ok(()) => Ok(see_other("/workspace/data#tables")),
        Err(e) => table_refused(&state, &headers, &caller, &table, e.into()).await,
    }
}

// ---------------------------------------------------------------------------------
// Models.

#[derive(Template)]
#[template(path = "workspace/models.html")]
struct ModelsPage {
    chrome: Chrome,
    csrf: String,
    faults: Faults,
    done: Option<String>,
    models: Vec<ModelInfo>,
    max_mib: usize,
}

impl ModelsPage {
    fn moment(&self, at: &str) -> String {
        super::moment(at)
    }
}

async fn models_page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    faults: Faults,
    done: Option<String>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let id = own(caller)?;
    let models = state.models(caller, &id).await.map_err(ApiError::from)?;
    Ok(render_with_token(state, headers, status, |csrf| {
        ModelsPage {
            chrome: Chrome::new("workspace"),
            csrf,
            faults,
            done,
            models,
            max_mib: crate::api::max_model_bytes() >> 20,
        }
    }))
}

/// `GET /workspace/models`: the upload form and the institution's models.
async fn models(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    models_page(
        &state,
        &headers,
        &caller,
        Faults::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// A model refused: the form again with the fault on the file.
async fn model_refused(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    error: ApiError,
) -> Result<Response, PageError> {
    let error = shown(error)?;
    let status = error.status();
    models_page(
        state,
        headers,
        caller,
        Faults::of(&error, &["file"]),
        None,
        status,
    )
    .await
}

/// `POST /workspace/models`: a `.wasm` module or its text format (`.wat`), checked by
/// the sandbox; its refusal shown on the field.
async fn upload_model(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    mut form: Multipart,
) -> Result<Response, PageError> {
    let mut fields = HashMap::new();
    loop {
        match next_part(&headers, &mut form, &mut fields).await? {
            Part::Text => continue,
            Part::File(file) => return take_model(&state, &headers, &caller, Some(*file)).await,
            Part::End => return take_model(&state, &headers, &caller, None).await,
        }
    }
}

/// Takes the model form's `file` as a model.
async fn take_model(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    file: Option<axum::extract::multipart::Field<'_>>,
) -> Result<Response, PageError> {
    let id = own(caller)?;
    let refused = |error| model_refused(state, headers, caller, error);
    let Some(mut file) = file.filter(|f| f.file_name().is_some_and(|n| !n.is_empty())) else {
        return refused(
            ApiError::invalid("file", "choose a .wasm or .wat file")
                .with_zh("请选择要上传的模型文件（.wasm 或 .wat）。"),
        )
        .await;
    };
    let text = file
        .file_name()
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".wat"));
    let Some(module) = file_bytes(&mut file, crate::api::max_model_bytes()).await? else {
        return refused(crate::api::model_too_large().with_field("file")).await;
    };
    match state
        .upload_model(caller, &id, &module, text, &request_id())
        .await
    {
        Ok(model) => {
            let done = format!(
                "已上传模型 {} v{}：在 SQL 中以 {} 调用。",
                model.name, model.version, model.signature
            );
            models_page(
                state,
                headers,
                caller,
                Faults::default(),
                Some(done),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => refused(ApiError::from(e).with_field("file")).await,
    }
}

/// `POST /workspace/models/{model}/delete`: deletes the model.
async fn delete_model(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(model): Path<String>,
    Checked(_): Checked<TokenOnly>,
) -> Result<Response, PageError> {
    let id = own(&caller)?;
    state
        .delete_model(&caller, &id, &model, &request_id())
        .await
        .map_err(ApiError::from)?;
    Ok(see_other("/workspace/models"))
}
