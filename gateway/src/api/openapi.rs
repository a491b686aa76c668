//! The OpenAPI 3.1 description of the API (`/api/openapi.json`), the contract of
//! docs/api-conventions.md: every route, who may call it, its body and its error
//! codes. Kept as one table beside the routes; a test checks that the table and the
//! router name the same routes, and that each documented route answers.

use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::page::Listed;

/// One documented operation.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    /// Whether a bearer token is needed.
    auth: bool,
    /// The request body, if any: a media type and a description of its fields.
    body: Option<(&'static str, &'static str)>,
    /// The success status.
    ok: u16,
    /// The error codes it can answer with, besides the ones every operation has.
    errors: &'static [(u16, &'static str)],
}

const AUTH: &[(u16, &str)] = &[
    (401, "unauthenticated"),
    (401, "invalid_token"),
    (403, "forbidden"),
    (403, "institution_suspended"),
    // An institution's users, past its requests_per_minute quota, on any route.
    (429, "quota_exceeded"),
];

macro_rules! op {
    ($method:literal $path:literal, $tag:literal, $summary:literal, auth = $auth:literal, body = $body:expr, ok = $ok:literal, errors = [$(($s:literal, $c:literal)),* $(,)?]) => {
        Op { method: $method, path: $path, tag: $tag, summary: $summary, auth: $auth, body: $body, ok: $ok, errors: &[$(($s, $c)),*] }
    };
}

const JSON: &str = "application/json";

/// Every operation of the API.
const OPS: &[Op] = &[
    op!("get" "/healthz", "operations", "Liveness: the process answers.", auth = false, body = None, ok = 200, errors = []),
    op!("get" "/readyz", "operations", "Readiness: the database answers.", auth = false, body = None, ok = 200, errors = [(503, "not_ready")]),
    op!("get" "/metrics", "operations", "Prometheus metrics (text format 0.0.4): requests by route and status class, response-time histograms, objection and ticket gauges (Q10). Route templates only, never ids. Administrators only: a scraper sends an administrator's API key as its bearer token.", auth = true, body = None, ok = 200, errors = [(401, "unauthenticated"), (403, "forbidden")]),
    op!("get" "/api/v1/quality", "operations", "The service-quality view (Q10, Q11) for administrators: response-time percentiles against the 3 s ceiling, server-error rate against 0.01 %, availability and downtime from the minute heartbeat against 8 h a year, objection completion against 100 %, consultations and complaints with their ratings.", auth = true, body = None, ok = 200, errors = [(403, "forbidden")]),
    op!("post" "/api/v1/sessions", "identity", "Log in with username and password, and one_time_code where a second factor is asked: the six digits of the user's authenticator app (TOTP, RFC 6238) or one of their single-use recovery codes. Staff (administrators, reviewers, source units, agency staff) must have a second factor unless the platform is configured otherwise (403 second_factor_enrolment_required: enrol with POST /api/v1/sessions/second-factor); anyone enrolled gives a code (401 second_factor_required, 401 bad_second_factor). The login that first gives a code of a new enrolment confirms it and answers recovery_codes, once. Returns a session token (12 h). After 5 failures (wrong passwords or codes) from one address to one username, that address waits (1 minute, doubling to at most 1 hour; the owner elsewhere is not locked out); after 100 failures from everywhere in a day the username is locked for 15 minutes; unknown usernames are answered the same way. At most 20 attempts a minute per address.", auth = false, body = Some((JSON, "{username, password, one_time_code?}")), ok = 201, errors = [(401, "unauthenticated"), (401, "second_factor_required"), (401, "bad_second_factor"), (403, "second_factor_enrolment_required"), (429, "account_locked"), (429, "rate_limited")]),
    op!("post" "/api/v1/sessions/second-factor", "identity", "Staff who must have a second factor and have none yet start enrolling with their username and password (counted like a login): answers a new TOTP secret (base32, and as an otpauth:// URI for a QR code), once. The enrolment is confirmed by the next login that gives one of its codes. Anyone else enrols from a session (POST /api/v1/me/second-factor). Refused once a second factor is confirmed: an administrator resets a lost one.", auth = false, body = Some((JSON, "{username, password}")), ok = 201, errors = [(401, "unauthenticated"), (403, "enrol_from_session"), (409, "second_factor_enrolled"), (429, "account_locked"), (429, "rate_limited")]),
    op!("post" "/api/v1/me/second-factor", "identity", "Start enrolling a second factor from your session: answers a new TOTP secret (base32 and otpauth:// URI), once; your next login with one of its codes confirms it and answers your recovery codes. From then on every login of yours needs a code.", auth = true, body = None, ok = 201, errors = [(409, "second_factor_enrolled")]),
    op!("post" "/api/v1/me/recovery-codes", "identity", "Replace your recovery codes by ten new ones (the old stop working), after a code of your authenticator app; shown once. Audited.", auth = true, body = Some((JSON, "{one_time_code}")), ok = 201, errors = [(401, "bad_second_factor"), (422, "invalid_field"), (429, "account_locked")]),
    op!("delete" "/api/v1/sessions/current", "identity", "Log out: revoke the token used.", auth = true, body = None, ok = 204, errors = []),
    op!("get" "/api/v1/me", "identity", "Who the caller is: role, institution and its status.", auth = true, body = None, ok = 200, errors = []),
    op!("post" "/api/v1/api-keys", "identity", "Create an API key for scripts; the key is shown once. It expires after expires_in_days (90 by default, 1 to 365); rotate it before then.", auth = true, body = Some((JSON, "{name, expires_in_days?}")), ok = 201, errors = [(422, "invalid_field")]),
    op!("post" "/api/v1/api-keys/{id}/rotate", "identity", "Replace one of your live API keys by a new one of the same name (90 days); the old key stops working at once. The new key is shown once.", auth = true, body = None, ok = 201, errors = [(404, "not_found")]),
    op!("put" "/api/v1/me/password", "identity", "Change your password: the current one is checked, the new one must have at least 12 characters; your other sessions are revoked (the one in use stays).", auth = true, body = Some((JSON, "{current_password, new_password}")), ok = 200, errors = [(422, "invalid_field")]),
    op!("get" "/api/v1/api-keys", "identity", "The caller's API keys (never the keys themselves).", auth = true, body = None, ok = 200, errors = []),
    op!("delete" "/api/v1/api-keys/{id}", "identity", "Revoke one of the caller's API keys (allowed to a suspended institution too, as is listing them, so that a leaked key can always be withdrawn).", auth = true, body = None, ok = 204, errors = [(404, "not_found")]),
    op!("post" "/api/v1/applicants", "applications", "Register as an applicant institution's user (BRIEF P1).", auth = false, body = Some((JSON, "{username, display_name, password}")), ok = 201, errors = [(409, "username_taken"), (429, "rate_limited")]),
    op!("get" "/api/v1/catalog", "applications", "The data supply list (数据供给清单) an application chooses from.", auth = true, body = None, ok = 200, errors = []),
    op!("post" "/api/v1/applications", "applications", "Create a draft application (附件2); every field may be missing in a draft.", auth = true, body = Some((JSON, "the application form")), ok = 201, errors = []),
    op!("get" "/api/v1/applications", "applications", "Applications: the caller's own, or all for administrators. Paged with limit and cursor (an opaque next_cursor; any other is refused).", auth = true, body = None, ok = 200, errors = [(422, "invalid_field")]),
    op!("get" "/api/v1/applications/{id}", "applications", "One application with its entry-criteria checks (P2).", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("put" "/api/v1/applications/{id}", "applications", "Replace a draft's form.", auth = true, body = Some((JSON, "the application form")), ok = 200, errors = [(404, "not_found"), (409, "not_a_draft")]),
    op!("post" "/api/v1/applications/{id}/submit", "applications", "Submit a draft: every field checked (each one at fault named in error.details), then the entry criteria checked from the platform's data and attached.", auth = true, body = None, ok = 200, errors = [(404, "not_found"), (409, "not_a_draft"), (422, "application_incomplete")]),
    op!("post" "/api/v1/applications/{id}/evidence", "applications", "Upload one qualification evidence file to a draft: raw PDF, PNG or JPEG body (at most 10 MiB), Content-Type set, name in ?filename=.", auth = true, body = Some(("application/pdf", "the file's bytes (or image/png, image/jpeg)")), ok = 201, errors = [(404, "not_found"), (409, "not_a_draft"), (413, "file_too_large"), (415, "unsupported_file_type")]),
    op!("get" "/api/v1/applications/{id}/evidence", "applications", "The evidence files of an application (names, types, sizes, SHA-256).", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("get" "/api/v1/applications/{id}/evidence/{file}", "applications", "Download one evidence file.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/applications/{id}/reviewers", "review", "Assign at least three reviewers (administrators); a reviewer affiliated with the applicant is refused by name (P3).", auth = true, body = Some((JSON, "{reviewer_ids}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_stage")]),
    op!("post" "/api/v1/applications/{id}/reviews", "review", "Submit the caller's review: compliance, innovation and prospects (0-100) and an opinion; once.", auth = true, body = Some((JSON, "{compliance, innovation, prospects, opinion}")), ok = 201, errors = [(404, "not_found"), (409, "wrong_stage")]),
    op!("get" "/api/v1/applications/{id}/reviews", "review", "Reviews, blind until the decision: the applicant sees the status and how many reviews are in (reviews_in), not who wrote what; a reviewer sees only their own; administrators see all. After the decision everyone who may read the application sees every review.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/applications/{id}/decision", "review", "Record the decision (approved or rejected) with a reason, once every assigned reviewer has reviewed.", auth = true, body = Some((JSON, "{decision, reason}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_stage")]),
    op!("put" "/api/v1/me/affiliations", "review", "A reviewer declares the institutions (USCCs) they belong to, replacing the earlier list; audited with what was added and removed. 409 affiliation_in_use when a code would be withdrawn while the reviewer is assigned to an undecided application or product of that code.", auth = true, body = Some((JSON, "{usccs}")), ok = 200, errors = [(403, "forbidden"), (409, "affiliation_in_use"), (422, "invalid_field")]),
    op!("get" "/api/v1/me/assignments", "review", "A reviewer's applications and products assigned to them, newest first: kind, id, name, status, when assigned and whether their review is in. Others are refused (403).", auth = true, body = None, ok = 200, errors = [(403, "forbidden")]),
    op!("post" "/api/v1/institutions", "institutions", "Batch opening (P3): accounts for approved applications, all or none; each gets a workspace, grants equal to its data supply list and default quotas.", auth = true, body = Some((JSON, "{application_ids}")), ok = 201, errors = []),
    op!("get" "/api/v1/institutions", "institutions", "Institutions (administrators), paged with limit and cursor (an opaque next_cursor; any other is refused).", auth = true, body = None, ok = 200, errors = [(422, "invalid_field")]),
    op!("get" "/api/v1/institutions/{id}", "institutions", "One institution: status, grants, quotas, lifecycle and deletion record. An institution reads its own, even while suspended.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/institutions/{id}/suspend", "lifecycle", "Suspend (P7) with a reason and rectification deadline: its tokens stop working at once and its jobs are cancelled.", auth = true, body = Some((JSON, "{reason, rectification_deadline}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_state")]),
    op!("post" "/api/v1/institutions/{id}/reinstate", "lifecycle", "Reinstate a suspended institution.", auth = true, body = Some((JSON, "{reason}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_state")]),
    op!("post" "/api/v1/institutions/{id}/terminate", "lifecycle", "Terminate (P7): credentials revoked, grants withdrawn, workspace data deleted with a deletion record (files, sizes, SHA-256).", auth = true, body = Some((JSON, "{reason}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_state")]),
    op!("get" "/api/v1/institutions/{id}/tables", "workspace", "The tables the institution may query: exactly its grants, with columns and sensitivity.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/institutions/{id}/jobs", "workspace", "Queue a job: read-only SQL over the granted tables. The SQL is planned first: SQL that cannot run (a syntax error, an unknown table, column or function, a query nested past the limits) is refused with 422 invalid_field (field sql, details.line and details.column where the fault is) and queues nothing. 202; poll the job. 429 quota_exceeded when a quota is used up (details.quota: concurrent_jobs, job_seconds_per_day, storage_bytes, or failed_jobs_per_day: jobs that failed while running today, since a failure can depend on the data).", auth = true, body = Some((JSON, "{sql}")), ok = 202, errors = [(404, "not_found"), (409, "no_workspace"), (422, "invalid_field"), (429, "quota_exceeded")]),
    op!("get" "/api/v1/institutions/{id}/jobs", "workspace", "The institution's jobs, newest first (by submission time), paged with limit and cursor (an opaque next_cursor; any other is refused).", auth = true, body = None, ok = 200, errors = [(404, "not_found"), (422, "invalid_field")]),
    op!("get" "/api/v1/institutions/{id}/jobs/{job}", "workspace", "One job: state, resource report, result schema and row count (never rows).", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/institutions/{id}/jobs/{job}/cancel", "workspace", "Cancel a queued or running job.", auth = true, body = None, ok = 202, errors = [(404, "not_found"), (409, "job_ended")]),
    op!("post" "/api/v1/institutions/{id}/models", "workspace", "Upload a WebAssembly model (ABI v1, docs/model-abi.md): the module as the body with Content-Type application/wasm, or its text format (a .wat file) with Content-Type text/plain, assembled as the command line does; at most 4 MiB. Validated by the sandbox before it is stored; it becomes a SQL function of the institution's jobs under its manifest's name.", auth = true, body = Some(("application/wasm", "the module's bytes")), ok = 201, errors = [(404, "not_found"), (409, "model_exists"), (409, "no_workspace"), (413, "body_too_large"), (415, "unsupported_media_type"), (422, "model_refused")]),
    op!("get" "/api/v1/institutions/{id}/models", "workspace", "The institution's active models with their signatures.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("delete" "/api/v1/institutions/{id}/models/{model}", "workspace", "Delete a model: new jobs no longer see it.", auth = true, body = None, ok = 204, errors = [(404, "not_found")]),
    op!("post" "/api/v1/institutions/{id}/jobs/{job}/sample", "output gate", "Release a random sample of a succeeded job's result (P8): at most min(100 rows, 1 % of the result), the same rows on every request (chosen by HMAC of the row under a server secret); identifying columns as the institution's pseudonyms; computed cells bounded (numbers to 4 significant figures, dates, texts of at most 8 characters and 16 bytes; no lists or computed timestamps); nothing from a query that read a secret column; within the budgets of rows and of cells (rows × columns) of the last 24 hours and, per public-credit table read, 2 % of its rows (at least 100) over the institution's life (429 quota_exceeded, details.quota sampled_rows_per_day, sampled_cells_per_day or sampled_rows_per_table). A repeat of the same release is not counted again. A refusal (409 result_too_small, 422 release_refused) counts against statistical_releases_per_day, and no sample is computed once that budget is used up. As JSON by default; ?format=csv or ?format=parquet gives the same rows as a file (headers x-release-id, x-release-fingerprint, x-release-repeated): asking again is a repeat, not counted again.", auth = true, body = None, ok = 201, errors = [(422, "invalid_field"), (404, "not_found"), (409, "result_not_ready"), (409, "result_too_small"), (409, "result_too_large"), (422, "release_refused"), (429, "quota_exceeded")]),
    op!("post" "/api/v1/institutions/{id}/jobs/{job}/aggregate", "output gate", "Release threshold-checked aggregates of a result: per group at least k (10) distinct subjects, counts rounded to 5, sums and means to 4 significant figures, smaller groups suppressed; refused when a group differs from one released to the institution before by fewer than k subjects (differencing), or when the query read a secret column; within statistical_releases_per_day (a refusal, such as too few subjects or differencing, counts like a release, and the budget is checked before anything is computed).", auth = true, body = Some((JSON, "{group_by: [column], sum: [column], mean: [column]}")), ok = 201, errors = [(404, "not_found"), (409, "result_not_ready"), (409, "result_too_large"), (422, "invalid_field"), (422, "release_refused"), (429, "quota_exceeded")]),
    op!("post" "/api/v1/institutions/{id}/jobs/{job}/evaluation", "output gate", "Evaluate a score column against a 0/1 label column inside the sandbox: AUC, KS, Gini, bad rate by score decile; each decile at least k distinct subjects, counted by a subject column of the result; refused when its subjects differ from an earlier release's by fewer than k, or when the query read a secret column; within statistical_releases_per_day (a refusal, such as too few subjects or differencing, counts like a release, and the budget is checked before anything is computed).", auth = true, body = Some((JSON, "{score: column, label: column}")), ok = 201, errors = [(404, "not_found"), (409, "result_not_ready"), (409, "result_too_small"), (409, "result_too_large"), (422, "invalid_field"), (422, "release_refused"), (429, "quota_exceeded")]),
    op!("get" "/api/v1/institutions/{id}/usage", "workspace", "What the institution has used of each quota today, what is left, and when each resets.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("get" "/api/v1/audit", "audit", "Administrators: the audit log, newest first: every state change and release with its actor, time (UTC) and request id, filtered by actor, action (or a prefix of actions ending in '.'), what it is about (the subject, or the institution its detail names) and time (since, until: RFC 3339 or a day in China), paged by cursor.", auth = true, body = None, ok = 200, errors = [(422, "invalid_field")]),
    op!("get" "/api/v1/audit/verification", "audit", "Administrators: whether the audit chain verifies (every entry linked to the one before, the head matching the last), the same check as `creditpool audit verify`; the head's hash to keep elsewhere as an anchor.", auth = true, body = None, ok = 200, errors = []),
    op!("post" "/api/v1/releases/trace", "output gate", "Administrators trace leaked rows to the sample releases that contained them, most rows first. rows: the rows as found, each an array of its cells (any of the sample's columns, in any order: a spreadsheet's reformatting of numbers, 2,000 or 2000.0, and the CSV download's text guard, '-5, read as the value shown; a header row matches nothing). A row matches a released row when each of its cells is one of that row's and it has at least two (or every cell of a narrower row); whole_rows counts those holding every cell. row_hashes: hashes of result rows as the gate computes them. At most 1,000 rows of 200 cells and 10,000 hashes. Samples released before tracing by cells was introduced are found by row_hashes only.", auth = true, body = Some((JSON, "{rows?: [[cell]], row_hashes?: [hash]}")), ok = 200, errors = [(403, "forbidden"), (422, "invalid_field")]),
    op!("get" "/api/v1/releases", "output gate", "The ledger of releases across institutions, newest first, paged (administrators; an institution's users get their own): each sample, aggregate and evaluation with its institution, job, rows and fingerprint.", auth = true, body = None, ok = 200, errors = [(403, "forbidden"), (422, "invalid_field")]),
    op!("get" "/api/v1/institutions/{id}/releases", "output gate", "One institution's ledger of releases, newest first, paged (its users and administrators).", auth = true, body = None, ok = 200, errors = [(404, "not_found"), (422, "invalid_field")]),
    op!("post" "/api/v1/institutions/{id}/own-tables", "own data", "Upload own data (P5): a CSV with a header row or a Parquet file as the body, ?name= (a plain SQL name), ?format=csv|parquet, optional ?types=col:utf8|int64|float64|boolean|date32,… and ?sensitivity=col:public|masked|secret,…. Streamed to disk within the storage quota, converted to Parquet and committed atomically; answers with the table and a validation report.", auth = true, body = Some(("text/csv", "the file's bytes (or application/vnd.apache.parquet)")), ok = 201, errors = [(404, "not_found"), (409, "table_exists"), (409, "no_workspace"), (413, "upload_too_large"), (422, "invalid_field"), (422, "invalid_upload"), (429, "quota_exceeded")]),
    op!("get" "/api/v1/institutions/{id}/own-tables", "own data", "The institution's own tables with columns, sensitivities and sharing.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("put" "/api/v1/institutions/{id}/own-tables/{table}/sharing", "own data", "Share a table: private, named institutions or the whole pool; private revokes every share at once. Shared tables appear read-only in the grantees' jobs as shared_<name>.", auth = true, body = Some((JSON, "{mode: private|institutions|pool, institutions: [id]}")), ok = 200, errors = [(404, "not_found")]),
    op!("put" "/api/v1/institutions/{id}/own-tables/{table}/sensitivity", "own data", "Change column sensitivities (public, masked, secret); every later release follows the new tags.", auth = true, body = Some((JSON, "{columns: {column: public|masked|secret}}")), ok = 200, errors = [(404, "not_found")]),
    op!("delete" "/api/v1/institutions/{id}/own-tables/{table}", "own data", "Delete an own table and its file.", auth = true, body = None, ok = 204, errors = [(404, "not_found")]),
    op!("post" "/api/v1/institutions/{id}/products", "products", "Register a credit product (P8, 附件3): name, contact, the job whose result it comes from (a sample must have been released from it; its columns become the product's data items), developed as planned or how the plan changed, and the description (data used, model, product, scenarios). Every field at fault, missing ones included, is named at once (details).", auth = true, body = Some((JSON, "{product_name, contact_name, contact_phone, job_id, developed_as_planned, plan_adjustment?, description: {data_used, model, product, scenarios}}")), ok = 201, errors = [(404, "not_found")]),
    op!("get" "/api/v1/institutions/{id}/products", "products", "The institution's products.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("get" "/api/v1/products/{id}", "products", "One product with its reviews, blind until the decision (the institution sees how many are in, reviews_in, not who wrote what; reviewers only their own; administrators all) and, for reviewers and administrators, the institution's management record (lifecycle, re-evaluations, progress reports).", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/products/{id}/reviewers", "products", "Assign at least three reviewers to a product (administrators); an affiliated reviewer is refused by name.", auth = true, body = Some((JSON, "{reviewer_ids}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_stage")]),
    op!("post" "/api/v1/products/{id}/reviews", "products", "An assigned reviewer's assessment (P9): market demand, innovation, the institution's management (0-100), recommend or not, and an opinion; once.", auth = true, body = Some((JSON, "{market_demand, innovation, management, recommend, opinion}")), ok = 201, errors = [(404, "not_found"), (409, "wrong_stage")]),
    op!("post" "/api/v1/products/{id}/decision", "products", "Record whether the product is recommended, with a reason, once every assigned reviewer has reviewed.", auth = true, body = Some((JSON, "{recommended, reason}")), ok = 200, errors = [(404, "not_found"), (409, "wrong_stage")]),
    op!("get" "/api/v1/public/subjects", "public", "Find enterprises and organisations (Q4), no login: ?q= a unified social credit code (exact; a checksum failure is a warning, not a refusal) or any part of the name (full/half width, brackets and spaces do not matter); ?limit= 1-500 (50), ?cursor= (the next_cursor given); ordered exact, prefix, shorter names; broad queries bounded (truncated).", auth = false, body = None, ok = 200, errors = [(400, "invalid_query"), (422, "invalid_field")]),
    op!("get" "/api/v1/public/subjects/{uscc}", "public", "One enterprise or organisation by its code, no login.", auth = false, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("get" "/api/v1/public/subjects/{uscc}/records", "public", "What the public sees of an enterprise or organisation today (Q1-Q3): its records in every section of 附录A within their disclosure windows (five years by default; negative records extended while the subject is on the serious-dishonesty list), withdrawn and expired records absent, records under objection marked 异议处理中, masked columns masked and secret ones absent. No login.", auth = false, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/public/subjects/{uscc}/reports", "public", "Issue the public credit information report (Q5, 附录A) of an enterprise or organisation: ?format=json (default), html (printable page) or pdf (A4, embedded Chinese font, QR code of the verification address), watermarked with ?requester= (else 社会公众) and the time on every page. Cover with report number and verification code, overview, notes, the twelve sections (empty ones stated); archived with its hashes (Q6). Headers X-Report-Number and X-Verification-Code. No login.", auth = false, body = None, ok = 201, errors = [(400, "invalid_query"), (404, "not_found"), (422, "invalid_field"), (503, "pdf_unavailable")]),
    op!("post" "/api/v1/public/reports/{number}/document-check", "public", "Check a downloaded report document (the raw PDF, HTML or JSON as the body) byte for byte against the one issued under this number. No login.", auth = false, body = Some(("application/octet-stream", "the document")), ok = 200, errors = [(413, "body_too_large")]),
    op!("post" "/api/v1/public/persons", "persons", "A natural person registers (Q4): name and citizen ID number must match the population register. No login.", auth = false, body = Some((JSON, "{username, password, name, id_number}")), ok = 201, errors = [(409, "already_registered"), (409, "username_taken"), (422, "invalid_field"), (422, "not_in_register"), (429, "rate_limited")]),
    op!("post" "/api/v1/me/authorisations", "persons", "A person authorises another user (login name) to see their record: scope records or report, a purpose, 1 to 90 days. Audited.", auth = true, body = Some((JSON, "{grantee, scope: records|report, purpose, days}")), ok = 201, errors = [(403, "forbidden"), (422, "invalid_field")]),
    op!("get" "/api/v1/me/authorisations", "persons", "Authorisations the caller granted and received, each with whether it is live.", auth = true, body = None, ok = 200, errors = []),
    op!("delete" "/api/v1/me/authorisations/{id}", "persons", "Revoke an authorisation one granted; it stops at once. Audited.", auth = true, body = None, ok = 204, errors = [(404, "not_found")]),
    op!("get" "/api/v1/persons/{subject}/records", "persons", "A natural person's disclosed records (masked), for the person or a holder of their live authorisation; each look by another is audited with the authorisation.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/persons/{subject}/reports", "persons", "A natural person's credit report (?format=json|html|pdf), for the person or a holder of a live report authorisation; watermarked with the requester's name.", auth = true, body = None, ok = 201, errors = [(404, "not_found"), (503, "pdf_unavailable")]),
    op!("get" "/api/v1/public/reports/verify", "public", "Check a report number and verification code (?number=&code=): valid with the subject and time of issue, or not valid.", auth = false, body = None, ok = 200, errors = [(400, "invalid_query")]),
    op!("post" "/api/v1/public/objections", "objections", "File an objection to a public credit record (Q8, 6.4) without signing in: the applicant (the record's subject or its representative) gives name, USCC or ID number, phone, what is wrong and the record_id; every missing or malformed field is named, and the code and registered name must be the record's subject's. The objection is received (status received): the service provider checks its completeness and accuracy (6.4.2) and accepts it (the record is then marked 异议处理中 in records, reports and search and sent to its source unit, done within 5 working days of the acceptance) or returns it with the reason. Returns the number and a token shown once. No login.", auth = false, body = Some((JSON, "{applicant_name, applicant_code, phone, content, record_id}")), ok = 201, errors = [(422, "invalid_field"), (422, "no_such_record"), (422, "not_the_subject")]),
    op!("post" "/api/v1/objections", "objections", "File an objection signed in, accepted as filed: a person to their own record (the record's subject, signed in), an institution's user to the records of the enterprise the institution is (its representative, while the institution is active), or an administrator recording an objection received by letter or at the counter (the provider's check done). The record is marked 异议处理中 at once and sent to its source unit; done within 5 working days (due_provisional when the deadline runs into a year the calendar has no data for yet: counted Monday to Friday, recounted when the year is added). Same body and checks as the public filing.", auth = true, body = Some((JSON, "{applicant_name, applicant_code, phone, content, record_id}")), ok = 201, errors = [(422, "invalid_field"), (409, "objection_open"), (422, "no_such_record"), (422, "not_the_subject"), (403, "forbidden")]),
    op!("post" "/api/v1/objections/{id}/acceptance", "objections", "The service provider (administrators) decides on a received objection after checking its completeness and accuracy (6.4.2): accept (受理: the record is marked 异议处理中 and the objection sent to its source unit, due 5 working days from today) or return (退回) with the reason the applicant reads when following it.", auth = true, body = Some((JSON, "{decision: accept|return, reason (to return, 5 to 500 characters)}")), ok = 200, errors = [(422, "invalid_field"), (404, "not_found"), (403, "forbidden"), (409, "objection_not_received"), (409, "objection_open")]),
    op!("get" "/api/v1/public/objections/{number}", "objections", "Follow an objection with its number and the token given at filing (?token=): status (received, open, corrected, withdrawn, upheld or returned), deadline once accepted, outcome or the reason it was returned. No login.", auth = false, body = None, ok = 200, errors = [(400, "invalid_query"), (404, "not_found")]),
    op!("get" "/api/v1/objections", "objections", "The objection ledger (6.4.5): administrators see every objection, a source unit its own queue (accepted objections only); ?status=received|open|corrected|withdrawn|upheld|returned, ?overdue=true for those open past their deadline.", auth = true, body = None, ok = 200, errors = [(400, "invalid_query"), (403, "forbidden")]),
    op!("get" "/api/v1/objections/{id}", "objections", "One objection (administrators, or the source unit of its record).", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/objections/{id}/resolution", "objections", "The source unit resolves an objection to its record: corrected (shown with the correction), withdrawn (gone from disclosure at once) or upheld (the mark is lifted), with what it found.", auth = true, body = Some((JSON, "{outcome: corrected|withdrawn|upheld, resolution}")), ok = 200, errors = [(422, "invalid_field"), (404, "not_found"), (409, "objection_resolved"), (409, "objection_not_accepted")]),
    op!("post" "/api/v1/users", "staff", "Create a staff account (administrators): role administrator, reviewer, agency_staff (with organisation = the agency) or source_unit (organisation = the unit, as its records name it).", auth = true, body = Some((JSON, "{username, display_name, password, role, organisation}")), ok = 201, errors = [(403, "forbidden"), (409, "username_taken"), (422, "invalid_field")]),
    op!("get" "/api/v1/users", "staff", "Every user account (administrators).", auth = true, body = None, ok = 200, errors = [(403, "forbidden")]),
    op!("post" "/api/v1/users/{id}/disable", "identity", "Administrators disable a user, with a reason (audited): every session and API key is revoked, tokens are refused (403 account_disabled) and logins answered as with a wrong password until enabled. Administrators cannot disable themselves.", auth = true, body = Some((JSON, "{reason}")), ok = 200, errors = [(403, "forbidden"), (404, "not_found"), (422, "invalid_field")]),
    op!("post" "/api/v1/users/{id}/enable", "identity", "Administrators enable a disabled user again, with a reason (audited); the old credentials stay revoked.", auth = true, body = Some((JSON, "{reason}")), ok = 200, errors = [(403, "forbidden"), (404, "not_found"), (422, "invalid_field")]),
    op!("post" "/api/v1/users/{id}/reset-second-factor", "identity", "Administrators remove a user's second factor and recovery codes (a lost device), with a reason (audited); the user enrols again before their next login.", auth = true, body = Some((JSON, "{reason}")), ok = 200, errors = [(403, "forbidden"), (404, "not_found"), (422, "invalid_field")]),
    op!("post" "/api/v1/users/{id}/revoke-credentials", "identity", "Administrators revoke every session and API key of a user, with a reason (audited).", auth = true, body = Some((JSON, "{reason}")), ok = 200, errors = [(403, "forbidden"), (404, "not_found"), (422, "invalid_field")]),
    op!("post" "/api/v1/verifications", "verification", "Agency staff request verification of listed subjects (Q7, 6.3): each is looked up by code and name, its disclosed records summed up as of now; the feedback letter of 附录B (cut-off time, platform, results, contact) is issued as PDF and archived.", auth = true, body = Some((JSON, "{matter, letter_title, subjects: [{name, code}]}")), ok = 201, errors = [(403, "forbidden"), (422, "invalid_field"), (503, "pdf_unavailable")]),
    op!("get" "/api/v1/verifications", "verification", "Verifications of the caller's agency (administrators: all), with their results.", auth = true, body = None, ok = 200, errors = [(403, "forbidden")]),
    op!("get" "/api/v1/verifications/{id}/letter", "verification", "The archived feedback letter (PDF), for its agency's staff and administrators.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("post" "/api/v1/public/tickets", "tickets", "File a consultation or complaint (Q9) through the platform: kind, category (information_query, credit_evaluation, wrong_association, other), name, contact, content; answered within 5 working days. Returns the number, the deadline (due_provisional when it runs into a year the working-day calendar has no data for yet: counted Monday to Friday, recounted when the year is added) and a token shown once. No login.", auth = false, body = Some((JSON, "{kind, category, name, contact, content}")), ok = 201, errors = [(422, "invalid_field")]),
    op!("get" "/api/v1/calendar/years", "calendar", "The working-day calendar (Q8, Q9): each year's days off and worked weekend days with the State Council notice they come from, shipped or added; missing_year and a warning while this year, or from 1 November the next, has no data. No login.", auth = false, body = None, ok = 200, errors = []),
    op!("post" "/api/v1/calendar/years", "calendar", "Administrators add a year from the State Council's notice, without a rebuild: year, source, holidays (days or ranges YYYY-MM-DD..YYYY-MM-DD), working_weekends. Checked (dates in the year, ranges in order, worked days on weekends, 1 January among the holidays), audited; open provisional deadlines are recounted and listed.", auth = true, body = Some((JSON, "{year, source, holidays, working_weekends}")), ok = 201, errors = [(403, "forbidden"), (409, "calendar_year_exists"), (422, "invalid_field")]),
    op!("get" "/api/v1/public/tickets/{number}", "tickets", "Follow a ticket with its token (?token=): status, deadline, answer. No login.", auth = false, body = None, ok = 200, errors = [(400, "invalid_query"), (404, "not_found")]),
    op!("post" "/api/v1/public/tickets/{number}/rating", "tickets", "Rate the answer, 1 to 5, once (Q11), with the ticket's token (?token=). No login.", auth = false, body = Some((JSON, "{rating, comment}")), ok = 200, errors = [(400, "invalid_query"), (404, "not_found"), (409, "ticket_state"), (422, "invalid_field")]),
    op!("post" "/api/v1/tickets", "tickets", "Administrators record a consultation or complaint that came by telephone or letter (channel).", auth = true, body = Some((JSON, "{kind, category, channel, name, contact, content}")), ok = 201, errors = [(403, "forbidden"), (422, "invalid_field")]),
    op!("get" "/api/v1/tickets", "tickets", "Every ticket (administrators); ?status=open|answered, ?overdue=true.", auth = true, body = None, ok = 200, errors = [(403, "forbidden")]),
    op!("post" "/api/v1/tickets/{id}/extension", "tickets", "Extend a complex case by working days with its reason; 20 working days in all at most (6.5.4).", auth = true, body = Some((JSON, "{days, reason}")), ok = 200, errors = [(404, "not_found"), (409, "ticket_state"), (422, "invalid_field")]),
    op!("post" "/api/v1/tickets/{id}/answer", "tickets", "Answer a ticket; the requester sees it with the token.", auth = true, body = Some((JSON, "{answer}")), ok = 200, errors = [(404, "not_found"), (409, "ticket_state"), (422, "invalid_field")]),
    op!("get" "/api/v1/public/special/{list}", "public", "Special queries (Q4): enterprises on the red_list, black_list (serious dishonesty) or abnormal_operations list today, with the listing; or holding a valid qualification certificate (qualifications, ?q= part of its name). ?q= filters lists by name; paged. No login.", auth = false, body = None, ok = 200, errors = [(400, "invalid_query"), (404, "not_found"), (422, "invalid_field")]),
    op!("get" "/api/v1/public/sectors", "public", "The named sectors of the sector query (housekeeping, elderly care, …) with their industry codes. No login.", auth = false, body = None, ok = 200, errors = []),
    op!("get" "/api/v1/public/sectors/{sector}", "public", "Sector queries (Q4): the enterprises of a named sector or an industry code prefix (GB/T 4754, e.g. O801), ?region= part of the region name, each with the lists it is on today; paged. No login.", auth = false, body = None, ok = 200, errors = [(400, "invalid_query"), (404, "not_found"), (422, "invalid_field")]),
    op!("get" "/api/v1/public/products", "products", "The public list of recommended products of institutions in good standing. No login.", auth = false, body = None, ok = 200, errors = []),
    op!("post" "/api/v1/institutions/{id}/reports", "oversight", "Submit the progress report (P6) of one period: progress, data-security risks, data-quality problems.", auth = true, body = Some((JSON, "{period_start, progress, security_risks, quality_problems}")), ok = 201, errors = [(404, "not_found"), (409, "already_reported")]),
    op!("get" "/api/v1/institutions/{id}/reports", "oversight", "The reporting schedule with each period's status, and the reports.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("get" "/api/v1/reports/overdue", "oversight", "Overdue progress reports of every institution (administrators).", auth = true, body = None, ok = 200, errors = []),
    op!("post" "/api/v1/institutions/{id}/evaluations", "oversight", "Record a re-evaluation (P7) over a window, with measures taken from usage, and a conclusion.", auth = true, body = Some((JSON, "{period_start, period_end, conclusion: good|adequate|poor, note}")), ok = 201, errors = [(404, "not_found")]),
    op!("get" "/api/v1/institutions/{id}/evaluations", "oversight", "The institution's re-evaluations.", auth = true, body = None, ok = 200, errors = [(404, "not_found")]),
    op!("patch" "/api/v1/institutions/{id}/quotas", "lifecycle", "Change some of an institution's quotas, with the reason (administrators); those not named stay. Each has a range: concurrent_jobs 1–16, job_seconds_per_day 60–1,382,400, storage_bytes 1 MiB–1 TiB, requests_per_minute 10–60,000, and the release budgets at most ten times their defaults (sampled_rows_per_day ≤ 10,000, sampled_cells_per_day ≤ 100,000, statistical_releases_per_day ≤ 500, failed_jobs_per_day ≤ 500). Every quota out of its range is refused at once (422 invalid_field, details naming each) and nothing changes. The quotas now.", auth = true, body = Some((JSON, "{concurrent_jobs?, job_seconds_per_day?, storage_bytes?, sampled_rows_per_day?, sampled_cells_per_day?, statistical_releases_per_day?, failed_jobs_per_day?, requests_per_minute?, reason}")), ok = 200, errors = [(403, "forbidden"), (404, "not_found"), (409, "wrong_state"), (422, "invalid_field")]),
];

/// The schemas a document refers to (`components.schemas`), collected as operations
/// name their types.
#[derive(Default)]
struct Schemas {
    described: serde_json::Map<String, Value>,
    /// Names given to two different schemas (two types of one name, without `as`).
    clashes: Vec<String>,
}

impl Schemas {
    /// A reference to `T`'s schema, derived from the Rust type (utoipa), registered
    /// with every schema it refers to.
    fn of<T: ToSchema>(&mut self) -> Value {
        let mut nested = Vec::new();
        T::schemas(&mut nested);
        for (name, schema) in nested {
            self.describe(name, serde_json::to_value(schema).unwrap_or(Value::Null));
        }
        let name = T::name();
        self.describe(
            name.to_string(),
            serde_json::to_value(T::schema()).unwrap_or(Value::Null),
        );
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    fn describe(&mut self, name: String, schema: Value) {
        match self.described.get(&name) {
            Some(earlier) if *earlier != schema => self.clashes.push(name),
            _ => {
                self.described.insert(name, schema);
            }
        }
    }
}

type SchemaOf = fn(&mut Schemas) -> Value;
type ParamsOf = fn() -> Vec<Value>;

fn body<T: ToSchema>(schemas: &mut Schemas) -> Value {
    schemas.of::<T>()
}

/// `T`'s schema described inline, for a generic type (which has one name for every
/// parameter), with the schemas it refers to registered.
fn inline<T: ToSchema>(schemas: &mut Schemas) -> Value {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    for (name, schema) in nested {
        if name != T::name() {
            schemas.describe(name, serde_json::to_value(schema).unwrap_or(Value::Null));
        }
    }
    serde_json::to_value(<T as utoipa::PartialSchema>::schema()).unwrap_or(Value::Null)
}

/// A page of `T`s: described inline, its items referring to `T`'s schema.
fn list<T: ToSchema>(schemas: &mut Schemas) -> Value {
    schemas.of::<T>();
    inline::<Listed<T>>(schemas)
}

/// A statistical release of `T` figures, with its id and fingerprint: described inline.
fn released<T: ToSchema>(schemas: &mut Schemas) -> Value {
    schemas.of::<T>();
    inline::<workbench::gate::Released<T>>(schemas)
}

fn query<T: IntoParams>() -> Vec<Value> {
    T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
        .into_iter()
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect()
}

/// The typed parts of operations: the Rust type of a JSON body and of a query, from
/// which their schemas are derived.
const TYPED: &[(&str, &str, Option<SchemaOf>, Option<ParamsOf>)] = {
    use super::{
        applications, audit, disclosure, gate, institutions, own_data, page, persons, products,
        review, service, sessions, tickets,
    };
    &[
        (
            "post",
            "/api/v1/sessions",
            Some(body::<sessions::Login>),
            None,
        ),
        (
            "post",
            "/api/v1/sessions/second-factor",
            Some(body::<sessions::Login>),
            None,
        ),
        (
            "post",
            "/api/v1/me/recovery-codes",
            Some(body::<sessions::RecoveryRenewal>),
            None,
        ),
        (
            "put",
            "/api/v1/me/password",
            Some(body::<sessions::PasswordChange>),
            None,
        ),
        (
            "post",
            "/api/v1/api-keys",
            Some(body::<sessions::NewApiKey>),
            None,
        ),
        (
            "post",
            "/api/v1/applicants",
            Some(body::<applications::Registration>),
            None,
        ),
        (
            "post",
            "/api/v1/applications",
            Some(body::<governance::form::ApplicationForm>),
            None,
        ),
        (
            "get",
            "/api/v1/applications",
            None,
            Some(query::<page::Page>),
        ),
        (
            "put",
            "/api/v1/applications/{id}",
            Some(body::<governance::form::ApplicationForm>),
            None,
        ),
        (
            "post",
            "/api/v1/applications/{id}/evidence",
            None,
            Some(query::<applications::Upload>),
        ),
        (
            "post",
            "/api/v1/applications/{id}/reviewers",
            Some(body::<review::Assignment>),
            None,
        ),
        (
            "post",
            "/api/v1/applications/{id}/reviews",
            Some(body::<governance::review::Scores>),
            None,
        ),
        (
            "post",
            "/api/v1/applications/{id}/decision",
            Some(body::<review::DecisionBody>),
            None,
        ),
        (
            "put",
            "/api/v1/me/affiliations",
            Some(body::<review::Affiliations>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions",
            Some(body::<institutions::Opening>),
            None,
        ),
        (
            "get",
            "/api/v1/institutions",
            None,
            Some(query::<page::Page>),
        ),
        (
            "post",
            "/api/v1/institutions/{id}/suspend",
            Some(body::<institutions::Suspension>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/reinstate",
            Some(body::<institutions::Reason>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/terminate",
            Some(body::<institutions::Reason>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs",
            Some(body::<institutions::JobRequest>),
            None,
        ),
        (
            "get",
            "/api/v1/institutions/{id}/jobs",
            None,
            Some(query::<page::Page>),
        ),
        ("get", "/api/v1/releases", None, Some(query::<page::Page>)),
        (
            "get",
            "/api/v1/institutions/{id}/releases",
            None,
            Some(query::<page::Page>),
        ),
        (
            "post",
            "/api/v1/institutions/{id}/reports",
            Some(body::<governance::progress::ReportContent>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/evaluations",
            Some(body::<institutions::EvaluationRequest>),
            None,
        ),
        (
            "patch",
            "/api/v1/institutions/{id}/quotas",
            Some(body::<institutions::QuotaChanges>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/sample",
            None,
            Some(query::<gate::SampleQuery>),
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/aggregate",
            Some(body::<workbench::gate::AggregateRequest>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/evaluation",
            Some(body::<workbench::gate::EvaluationRequest>),
            None,
        ),
        (
            "post",
            "/api/v1/releases/trace",
            Some(body::<gate::Trace>),
            None,
        ),
        (
            "get",
            "/api/v1/audit",
            None,
            Some(query::<audit::AuditQuery>),
        ),
        (
            "post",
            "/api/v1/institutions/{id}/own-tables",
            None,
            Some(query::<own_data::UploadQuery>),
        ),
        (
            "put",
            "/api/v1/institutions/{id}/own-tables/{table}/sharing",
            Some(body::<own_data::Sharing>),
            None,
        ),
        (
            "put",
            "/api/v1/institutions/{id}/own-tables/{table}/sensitivity",
            Some(body::<own_data::Sensitivity>),
            None,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/products",
            Some(body::<governance::products::Registration>),
            None,
        ),
        (
            "post",
            "/api/v1/products/{id}/reviewers",
            Some(body::<products::Assignment>),
            None,
        ),
        (
            "post",
            "/api/v1/products/{id}/reviews",
            Some(body::<governance::products::Assessment>),
            None,
        ),
        (
            "post",
            "/api/v1/products/{id}/decision",
            Some(body::<products::DecisionRequest>),
            None,
        ),
        (
            "post",
            "/api/v1/calendar/years",
            Some(body::<policies::calendar::YearNotice>),
            None,
        ),
        (
            "get",
            "/api/v1/public/subjects",
            None,
            Some(query::<disclosure::SearchQuery>),
        ),
        (
            "post",
            "/api/v1/public/subjects/{uscc}/reports",
            None,
            Some(query::<disclosure::ReportQuery>),
        ),
        (
            "get",
            "/api/v1/public/reports/verify",
            None,
            Some(query::<disclosure::Verification>),
        ),
        (
            "get",
            "/api/v1/public/sectors/{sector}",
            None,
            Some(query::<disclosure::PageQuery>),
        ),
        (
            "get",
            "/api/v1/public/special/{list}",
            None,
            Some(query::<disclosure::PageQuery>),
        ),
        (
            "post",
            "/api/v1/public/persons",
            Some(body::<persons::Registration>),
            None,
        ),
        (
            "post",
            "/api/v1/me/authorisations",
            Some(body::<persons::Grant>),
            None,
        ),
        (
            "post",
            "/api/v1/persons/{subject}/reports",
            None,
            Some(query::<persons::ReportQuery>),
        ),
        (
            "post",
            "/api/v1/public/objections",
            Some(body::<desk::objections::Filing>),
            None,
        ),
        (
            "post",
            "/api/v1/objections",
            Some(body::<desk::objections::Filing>),
            None,
        ),
        (
            "get",
            "/api/v1/public/objections/{number}",
            None,
            Some(query::<service::FollowQuery>),
        ),
        (
            "get",
            "/api/v1/objections",
            None,
            Some(query::<service::LedgerQuery>),
        ),
        (
            "post",
            "/api/v1/objections/{id}/acceptance",
            Some(body::<service::AcceptanceBody>),
            None,
        ),
        (
            "post",
            "/api/v1/objections/{id}/resolution",
            Some(body::<service::Resolution>),
            None,
        ),
        (
            "post",
            "/api/v1/verifications",
            Some(body::<service::VerificationRequest>),
            None,
        ),
        (
            "post",
            "/api/v1/users",
            Some(body::<service::NewStaff>),
            None,
        ),
        (
            "post",
            "/api/v1/users/{id}/disable",
            Some(body::<service::Reason>),
            None,
        ),
        (
            "post",
            "/api/v1/users/{id}/enable",
            Some(body::<service::Reason>),
            None,
        ),
        (
            "post",
            "/api/v1/users/{id}/reset-second-factor",
            Some(body::<service::Reason>),
            None,
        ),
        (
            "post",
            "/api/v1/users/{id}/revoke-credentials",
            Some(body::<service::Reason>),
            None,
        ),
        (
            "post",
            "/api/v1/public/tickets",
            Some(body::<desk::tickets::NewTicket>),
            None,
        ),
        (
            "post",
            "/api/v1/tickets",
            Some(body::<desk::tickets::NewTicket>),
            None,
        ),
        (
            "get",
            "/api/v1/public/tickets/{number}",
            None,
            Some(query::<tickets::TokenQuery>),
        ),
        (
            "post",
            "/api/v1/public/tickets/{number}/rating",
            Some(body::<tickets::Rating>),
            Some(query::<tickets::TokenQuery>),
        ),
        (
            "get",
            "/api/v1/tickets",
            None,
            Some(query::<tickets::ListQuery>),
        ),
        (
            "post",
            "/api/v1/tickets/{id}/extension",
            Some(body::<tickets::Extension>),
            None,
        ),
        (
            "post",
            "/api/v1/tickets/{id}/answer",
            Some(body::<tickets::Answer>),
            None,
        ),
    ]
};

/// The Rust type of each operation's success answer, from which its schema is derived.
/// Issue 17: every JSON answer gets one; the answers still built as untyped JSON are
/// counted by [`untyped_answers`] and may only decrease.
const ANSWERS: &[(&str, &str, SchemaOf)] = {
    use desk::objections::Objection;
    use desk::tickets::Ticket;
    use governance::accounts::Institution;
    use governance::applications::Application;
    use governance::identity::Caller;
    use governance::products::Product;
    use governance::review::Decision;
    use workbench::own_data::OwnTable;
    use workbench::workspace::Job;
    &[
        ("get", "/healthz", body::<super::Health>),
        ("get", "/readyz", body::<super::Health>),
        (
            "post",
            "/api/v1/public/persons",
            body::<super::persons::PersonRegistered>,
        ),
        (
            "post",
            "/api/v1/me/authorisations",
            body::<super::persons::Granted>,
        ),
        (
            "get",
            "/api/v1/me/authorisations",
            body::<super::persons::Authorisations>,
        ),
        (
            "get",
            "/api/v1/persons/{subject}/records",
            body::<super::persons::PersonRecords>,
        ),
        (
            "get",
            "/api/v1/public/subjects",
            body::<super::disclosure::SearchResults>,
        ),
        (
            "get",
            "/api/v1/public/subjects/{uscc}",
            body::<super::disclosure::ByCode>,
        ),
        (
            "get",
            "/api/v1/public/subjects/{uscc}/records",
            body::<super::disclosure::SubjectRecords>,
        ),
        (
            "post",
            "/api/v1/public/subjects/{uscc}/reports",
            body::<::public::report::Report>,
        ),
        (
            "post",
            "/api/v1/persons/{subject}/reports",
            body::<::public::report::Report>,
        ),
        (
            "get",
            "/api/v1/public/reports/verify",
            body::<super::disclosure::ReportVerification>,
        ),
        (
            "post",
            "/api/v1/public/reports/{number}/document-check",
            body::<super::disclosure::DocumentCheck>,
        ),
        (
            "get",
            "/api/v1/public/special/{list}",
            body::<super::disclosure::SpecialPage>,
        ),
        (
            "get",
            "/api/v1/public/sectors",
            list::<super::disclosure::Sector>,
        ),
        (
            "get",
            "/api/v1/public/sectors/{sector}",
            body::<super::disclosure::SectorPage>,
        ),
        ("get", "/api/v1/quality", body::<super::Quality>),
        (
            "get",
            "/api/v1/institutions/{id}/tables",
            body::<platform::jobs::Tables>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/own-tables",
            body::<super::own_data::Imported>,
        ),
        (
            "get",
            "/api/v1/products/{id}",
            body::<platform::review::ProductView>,
        ),
        (
            "get",
            "/api/v1/public/products",
            list::<governance::products::PublicProduct>,
        ),
        (
            "get",
            "/api/v1/objections",
            body::<super::service::ObjectionLedger>,
        ),
        ("post", "/api/v1/users", body::<super::service::UserCreated>),
        (
            "post",
            "/api/v1/applicants",
            body::<super::service::UserCreated>,
        ),
        (
            "post",
            "/api/v1/verifications",
            body::<super::service::VerificationIssued>,
        ),
        (
            "get",
            "/api/v1/verifications",
            list::<super::service::VerificationListed>,
        ),
        (
            "get",
            "/api/v1/catalog",
            list::<super::applications::CatalogTable>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/aggregate",
            released::<workbench::gate::AggregateFigures>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/evaluation",
            released::<workbench::gate::EvaluationFigures>,
        ),
        (
            "get",
            "/api/v1/institutions/{id}/usage",
            body::<platform::jobs::Usage>,
        ),
        (
            "post",
            "/api/v1/releases/trace",
            list::<workbench::gate::Traced>,
        ),
        (
            "get",
            "/api/v1/releases",
            list::<workbench::gate::LedgerEntry>,
        ),
        (
            "get",
            "/api/v1/institutions/{id}/releases",
            list::<workbench::gate::LedgerEntry>,
        ),
        ("get", "/api/v1/audit", list::<storage::audit::Entry>),
        (
            "get",
            "/api/v1/audit/verification",
            body::<super::audit::Verification>,
        ),
        ("get", "/api/v1/me", body::<Caller>),
        (
            "get",
            "/api/v1/institutions/{id}/reports",
            body::<super::institutions::Reports>,
        ),
        (
            "get",
            "/api/v1/calendar/years",
            body::<super::calendar::CalendarYears>,
        ),
        (
            "post",
            "/api/v1/calendar/years",
            body::<super::calendar::YearAdded>,
        ),
        (
            "post",
            "/api/v1/applications/{id}/reviewers",
            body::<super::review::Assigned>,
        ),
        (
            "post",
            "/api/v1/products/{id}/reviewers",
            body::<super::review::Assigned>,
        ),
        (
            "post",
            "/api/v1/applications/{id}/reviews",
            body::<super::review::Reviewed>,
        ),
        (
            "get",
            "/api/v1/applications/{id}/reviews",
            body::<platform::review::Reviews>,
        ),
        (
            "put",
            "/api/v1/me/affiliations",
            body::<super::review::Affiliated>,
        ),
        (
            "get",
            "/api/v1/me/assignments",
            list::<platform::review::Assignment>,
        ),
        (
            "post",
            "/api/v1/products/{id}/reviews",
            body::<super::products::ProductReviewed>,
        ),
        (
            "post",
            "/api/v1/institutions",
            body::<super::institutions::OpenedBatch>,
        ),
        (
            "get",
            "/api/v1/institutions",
            list::<super::institutions::InstitutionSummary>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/suspend",
            body::<super::institutions::Changed>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/terminate",
            body::<super::institutions::Changed>,
        ),
        (
            "post",
            "/api/v1/public/objections",
            body::<super::service::ObjectionReceipt>,
        ),
        (
            "post",
            "/api/v1/objections",
            body::<super::service::ObjectionReceipt>,
        ),
        (
            "post",
            "/api/v1/public/tickets",
            body::<super::tickets::TicketReceipt>,
        ),
        (
            "post",
            "/api/v1/tickets",
            body::<super::tickets::TicketReceipt>,
        ),
        ("get", "/api/v1/tickets", body::<super::tickets::TicketList>),
        (
            "get",
            "/api/v1/users",
            list::<governance::identity::UserInfo>,
        ),
        (
            "post",
            "/api/v1/users/{id}/disable",
            body::<super::service::Administered>,
        ),
        (
            "post",
            "/api/v1/users/{id}/enable",
            body::<super::service::Administered>,
        ),
        (
            "post",
            "/api/v1/users/{id}/revoke-credentials",
            body::<super::service::Administered>,
        ),
        (
            "post",
            "/api/v1/users/{id}/reset-second-factor",
            body::<super::service::Administered>,
        ),
        (
            "post",
            "/api/v1/sessions",
            body::<super::sessions::LoggedIn>,
        ),
        (
            "post",
            "/api/v1/me/recovery-codes",
            body::<super::sessions::RecoveryCodes>,
        ),
        (
            "put",
            "/api/v1/me/password",
            body::<super::sessions::PasswordChanged>,
        ),
        (
            "get",
            "/api/v1/api-keys",
            list::<governance::identity::CredentialInfo>,
        ),
        (
            "post",
            "/api/v1/sessions/second-factor",
            body::<governance::second_factor::Enrolment>,
        ),
        (
            "post",
            "/api/v1/me/second-factor",
            body::<governance::second_factor::Enrolment>,
        ),
        (
            "post",
            "/api/v1/api-keys",
            body::<governance::identity::Issued>,
        ),
        (
            "post",
            "/api/v1/api-keys/{id}/rotate",
            body::<governance::identity::Issued>,
        ),
        ("post", "/api/v1/applications", body::<Application>),
        (
            "post",
            "/api/v1/applications/{id}/evidence",
            body::<governance::evidence::EvidenceFile>,
        ),
        ("post", "/api/v1/institutions/{id}/jobs", body::<Job>),
        ("get", "/api/v1/institutions/{id}/jobs", list::<Job>),
        ("get", "/api/v1/applications", list::<Application>),
        (
            "get",
            "/api/v1/applications/{id}/evidence",
            list::<governance::evidence::EvidenceFile>,
        ),
        (
            "get",
            "/api/v1/reports/overdue",
            list::<governance::progress::Overdue>,
        ),
        (
            "get",
            "/api/v1/institutions/{id}/evaluations",
            list::<governance::progress::Evaluation>,
        ),
        (
            "get",
            "/api/v1/institutions/{id}/models",
            list::<workbench::models::ModelInfo>,
        ),
        (
            "get",
            "/api/v1/institutions/{id}/own-tables",
            list::<OwnTable>,
        ),
        ("get", "/api/v1/institutions/{id}/products", list::<Product>),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/cancel",
            body::<Job>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/jobs/{job}/sample",
            body::<workbench::gate::Sample>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/models",
            body::<workbench::models::ModelInfo>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/products",
            body::<Product>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/reports",
            body::<governance::progress::ProgressReport>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/evaluations",
            body::<governance::progress::Evaluation>,
        ),
        ("get", "/api/v1/applications/{id}", body::<Application>),
        ("put", "/api/v1/applications/{id}", body::<Application>),
        (
            "post",
            "/api/v1/applications/{id}/submit",
            body::<Application>,
        ),
        (
            "post",
            "/api/v1/applications/{id}/decision",
            body::<Decision>,
        ),
        ("get", "/api/v1/institutions/{id}", body::<Institution>),
        (
            "patch",
            "/api/v1/institutions/{id}/quotas",
            body::<governance::accounts::Quotas>,
        ),
        (
            "post",
            "/api/v1/institutions/{id}/reinstate",
            body::<Institution>,
        ),
        ("get", "/api/v1/institutions/{id}/jobs/{job}", body::<Job>),
        (
            "put",
            "/api/v1/institutions/{id}/own-tables/{table}/sharing",
            body::<OwnTable>,
        ),
        (
            "put",
            "/api/v1/institutions/{id}/own-tables/{table}/sensitivity",
            body::<OwnTable>,
        ),
        ("post", "/api/v1/products/{id}/decision", body::<Product>),
        (
            "get",
            "/api/v1/public/objections/{number}",
            body::<Objection>,
        ),
        ("get", "/api/v1/objections/{id}", body::<Objection>),
        (
            "post",
            "/api/v1/objections/{id}/resolution",
            body::<Objection>,
        ),
        (
            "post",
            "/api/v1/objections/{id}/acceptance",
            body::<Objection>,
        ),
        ("get", "/api/v1/public/tickets/{number}", body::<Ticket>),
        (
            "post",
            "/api/v1/public/tickets/{number}/rating",
            body::<Ticket>,
        ),
        ("post", "/api/v1/tickets/{id}/extension", body::<Ticket>),
        ("post", "/api/v1/tickets/{id}/answer", body::<Ticket>),
    ]
};

/// Success answers that are not JSON: files and text.
const NOT_JSON: &[(&str, &str)] = &[
    ("get", "/metrics"),
    ("get", "/api/v1/applications/{id}/evidence/{file}"),
    ("get", "/api/v1/verifications/{id}/letter"),
];

/// The other forms a JSON answer comes in, chosen by `?format=`.
const ALTERNATIVES: &[(&str, &str, &[&str])] = &[
    (
        "post",
        "/api/v1/institutions/{id}/jobs/{job}/sample",
        &["text/csv", "application/vnd.apache.parquet"],
    ),
    (
        "post",
        "/api/v1/public/subjects/{uscc}/reports",
        &["text/html", "application/pdf"],
    ),
    (
        "post",
        "/api/v1/persons/{subject}/reports",
        &["text/html", "application/pdf"],
    ),
];

fn alternatives(op: &Op) -> &'static [&'static str] {
    ALTERNATIVES
        .iter()
        .find(|(m, p, _)| *m == op.method && *p == op.path)
        .map_or(&[], |(_, _, types)| *types)
}

fn answer(op: &Op) -> Option<SchemaOf> {
    ANSWERS
        .iter()
        .find(|(m, p, _)| *m == op.method && *p == op.path)
        .map(|(_, _, a)| *a)
}

/// Operations answering JSON on success whose answer has no schema yet.
pub fn untyped_answers() -> Vec<String> {
    OPS.iter()
        .filter(|op| {
            op.ok != 204 && answer(op).is_none() && !NOT_JSON.contains(&(op.method, op.path))
        })
        .map(|op| format!("{} {}", op.method, op.path))
        .collect()
}

fn typed(op: &Op) -> (Option<SchemaOf>, Option<ParamsOf>) {
    TYPED
        .iter()
        .find(|(m, p, _, _)| *m == op.method && *p == op.path)
        .map_or((None, None), |(_, _, b, q)| (*b, *q))
}

/// Operations whose JSON body has no schema, and the typed parts that name no
/// operation: for the test that keeps the contract whole.
pub fn untyped() -> Vec<String> {
    let mut missing: Vec<String> = OPS
        .iter()
        .filter(|op| op.body.is_some_and(|(t, _)| t == JSON) && typed(op).0.is_none())
        .map(|op| format!("{} {}: its JSON body has no schema", op.method, op.path))
        .collect();
    let mut schemas = Schemas::default();
    for op in OPS {
        if let (Some(body), _) = typed(op) {
            body(&mut schemas);
        }
        if let Some(answer) = answer(op) {
            answer(&mut schemas);
        }
    }
    missing.extend(
        schemas.clashes.iter().map(|name| {
            format!("two types are described as {name}: name one with #[schema(as = …)]")
        }),
    );
    let typed = TYPED.iter().map(|(m, p, _, _)| (m, p));
    let answers = ANSWERS.iter().map(|(m, p, _)| (m, p));
    for (method, path) in typed.chain(answers) {
        if !OPS
            .iter()
            .any(|op| op.method == *method && op.path == *path)
        {
            missing.push(format!("{method} {path}: typed but not an operation"));
        }
    }
    missing
}

/// The query parameters `method path` declares, by name.
pub fn query_parameters(method: &str, path: &str) -> Vec<String> {
    OPS.iter()
        .find(|op| op.method == method && op.path == path)
        .and_then(|op| typed(op).1)
        .map(|params| {
            params()
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every documented (method, path), for the test that compares them with the router.
pub fn operations() -> Vec<(&'static str, &'static str)> {
    OPS.iter().map(|o| (o.method, o.path)).collect()
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": { "type": "string", "description": "Stable machine-readable code." },
                "message": { "type": "string", "description": "What went wrong and what to do, for people." },
                "field": { "type": "string", "description": "The field at fault, as a JSON path." },
                "details": { "description": "Every item at fault, where there are several." },
                "request_id": { "type": "string" }
            }
        }}
    })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = Schemas::default();
    for op in OPS {
        let (body_schema, query_params) = typed(op);
        let mut responses = serde_json::Map::new();
        responses.insert(
            op.ok.to_string(),
            match answer(op) {
                Some(schema) => {
                    let mut content = json!({ JSON: { "schema": schema(&mut schemas) } });
                    for media_type in alternatives(op) {
                        content[*media_type] = json!({
                            "schema": { "type": "string", "contentMediaType": media_type }
                        });
                    }
                    json!({ "description": "Success.", "content": content })
                }
                None => json!({ "description": "Success." }),
            },
        );
        let mut errors: Vec<(u16, &str)> = op.errors.to_vec();
        if op.body.is_some_and(|(t, _)| t == JSON) {
            errors.extend([
                (400, "malformed_json"),
                (413, "body_too_large"),
                (415, "unsupported_media_type"),
                (422, "invalid_body"),
                (422, "invalid_field"),
            ]);
        }
        // A query is read strictly: an unknown parameter or a value of the wrong type is
        // 400 invalid_query, a value out of range 422 invalid_field.
        if query_params.is_some() {
            errors.extend([(400, "invalid_query"), (422, "invalid_field")]);
        }
        if op.auth {
            errors.extend(AUTH);
        }
        if op.path.starts_with("/api/v1/public/") && !errors.contains(&(429, "rate_limited")) {
            errors.push((429, "rate_limited"));
        }
        // Only for bugs; the message says nothing of internals and the request id
        // finds the log entry.
        errors.push((500, "internal"));
        let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
        for (status, code) in errors {
            let codes = by_status.entry(status).or_default();
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        for (status, codes) in by_status {
            responses.insert(
                status.to_string(),
                json!({
                    "description": format!("error.code: {}", codes.join(", ")),
                    "content": { JSON: { "schema": { "$ref": "#/components/schemas/Error" } } }
                }),
            );
        }
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        params.extend(query_params.map(|q| q()).unwrap_or_default());
        let mut operation = json!({
            "tags": [op.tag],
            "summary": op.summary,
            "parameters": params,
            "responses": responses,
        });
        if op.auth {
            operation["security"] = json!([{ "bearer": [] }]);
        }
        if let Some((media_type, description)) = op.body {
            let schema = match body_schema {
                Some(schema) => schema(&mut schemas),
                // A file's bytes.
                None => json!({ "type": "string", "contentMediaType": media_type }),
            };
            operation["requestBody"] = json!({
                "required": true,
                "description": description,
                "content": { media_type: { "schema": schema } }
            });
        }
        paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|o| o.insert(op.method.into(), operation));
    }
    let mut components = schemas.described;
    components.insert("Error".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "creditpool API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The product pool's gateway: accounts, applications, review, institutions, workspaces, the public query module and oversight. Conventions: base path /api/v1; JSON in and out with snake_case fields; times are RFC 3339; ids are opaque strings. Authenticate with Authorization: Bearer <token> (a session token from POST /api/v1/sessions, or an API key). Errors are {\"error\": {code, message, field?, details?, request_id}} with a stable code: 400 malformed, 401 not authenticated, 403 not allowed, 404 not found or not yours, 409 state conflict, 413 too large, 415 wrong media type, 422 invalid field, 429 quota or rate, 5xx only for bugs. Lists take ?limit= (1-500, default 50) and an opaque ?cursor=, and answer {items, next_cursor}. Long work (jobs) answers 202 with a resource to poll. Every response carries x-request-id, the id in the logs and the audit log. Request bodies and query parameters are described by schemas derived from the server's own types, and unknown fields and parameters are refused."
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "A session token (POST /api/v1/sessions) or an API key." } },
            "schemas": Value::Object(components)
        }
    })
}
