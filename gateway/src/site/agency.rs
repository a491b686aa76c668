//! Agency staff on the public site (BRIEF Q7, issue 18): a verification request — the
//! matter, the title of the agency's request letter and the subjects to check, one a
//! line — answered at once with what was found and the feedback letter of 附录B to
//! download; the agency's earlier letters listed. Issued and archived by the platform's
//! `issue_verification_letter`, as through the API.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::csrf::{Checked, Posted};
use super::session::SignedIn;
use super::{Chrome, Faults, PageError, moment, render_with_token};
use crate::api::{ApiError, AppState, request_id};
use ::public::verification::{Finding, Listed};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/agency/verifications",
            get(verifications).post(request_verification),
        )
        .route("/agency/verifications/{id}/letter", get(letter))
}

/// The request form as typed.
#[derive(Default)]
struct RequestFields {
    matter: String,
    letter_title: String,
    subjects: String,
}

/// A letter of the agency's, as the list shows it.
struct LetterView {
    id: String,
    number: String,
    matter: String,
    subjects: usize,
    cut_off: String,
}

#[derive(Template)]
#[template(path = "agency/verifications.html")]
struct VerificationsPage {
    chrome: Chrome,
    csrf: String,
    agency: String,
    fields: RequestFields,
    faults: Faults,
    /// The letter just issued, with what was found.
    issued: Option<Issued>,
    letters: Vec<LetterView>,
    max_subjects: usize,
}

/// A letter just issued.
struct Issued {
    id: String,
    number: String,
    cut_off: String,
    findings: Vec<Finding>,
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    caller: &governance::identity::Caller,
    fields: RequestFields,
    faults: Faults,
    issued: Option<Issued>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let letters = state
        .verifications(caller)
        .await?
        .into_iter()
        .map(|l| LetterView {
            subjects: l.results.as_array().map_or(0, Vec::len),
            cut_off: moment(&l.cut_off_at),
            id: l.id,
            number: l.number,
            matter: l.matter,
        })
        .collect();
    Ok(render_with_token(state, headers, status, |csrf| {
        VerificationsPage {
            chrome: Chrome::new("me"),
            csrf,
            agency: caller.organisation.clone().unwrap_or_default(),
            fields,
            faults,
            issued,
            letters,
            max_subjects: desk::verifications::MAX_SUBJECTS,
        }
    }))
}

/// `GET /agency/verifications`: the request form and the agency's letters.
async fn verifications(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
) -> Result<Response, PageError> {
    page(
        &state,
        &headers,
        &caller,
        RequestFields::default(),
        Faults::default(),
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct RequestForm {
    csrf: Option<String>,
    #[serde(default)]
    matter: String,
    #[serde(default)]
    letter_title: String,
    #[serde(default)]
    subjects: String,
}

impl Posted for RequestForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// The subjects typed one a line, each its name then its code (separated by spaces, a
/// tab or a comma); blank lines skipped. A line without both is kept with an empty
/// code, for the request's own check to name it.
fn subjects_of(lines: &str) -> Vec<Listed> {
    lines
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let cut = line
                .rfind(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '\t'))
                .map(|i| (i, line[i..].chars().next().map_or(1, char::len_utf8)));
            match cut {
                Some((i, width)) => Listed {
                    name: line[..i]
                        .trim()
                        .trim_end_matches([',', '，'])
                        .trim()
                        .to_owned(),
                    code: line[i + width..].trim().to_owned(),
                },
                None => Listed {
                    name: line.to_owned(),
                    code: String::new(),
                },
            }
        })
        .collect()
}

/// `POST /agency/verifications`: checks the subjects as of now and issues the feedback
/// letter, as the API does; the page shows what was found and the letter to download.
async fn request_verification(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(caller): SignedIn,
    Checked(form): Checked<RequestForm>,
) -> Result<Response, PageError> {
    let subjects = subjects_of(&form.subjects);
    let issued = state
        .issue_verification_letter(
            &caller,
            desk::verifications::Request {
                matter: &form.matter,
                letter_title: &form.letter_title,
                subjects: &subjects,
            },
            &request_id(),
        )
        .await
        .map_err(ApiError::from);
    let fields = RequestFields {
        matter: form.matter,
        letter_title: form.letter_title,
        subjects: form.subjects,
    };
    match issued {
        Ok(letter) => {
            let issued = Issued {
                id: letter.id,
                number: letter.number,
                cut_off: moment(&letter.cut_off_at),
                findings: letter.findings,
            };
            page(
                &state,
                &headers,
                &caller,
                RequestFields::default(),
                Faults::default(),
                Some(issued),
                StatusCode::CREATED,
            )
            .await
        }
        Err(error) if error.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let faults = Faults::of(&error, &["matter", "letter_title", "subjects"]);
            page(
                &state,
                &headers,
                &caller,
                fields,
                faults,
                None,
                error.status(),
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

/// `GET /agency/verifications/{id}/letter`: the archived feedback letter (PDF), for its
/// agency's staff and administrators.
async fn letter(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    Ok(crate::api::service::letter_download(
        state.verification_letter(&caller, &id).await?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_read_one_a_line_name_then_code() {
        let listed = subjects_of(
            "某某科技有限公司 91350100MA2XXXXX1X\n\n  甲 乙公司，91350100MA2YYYYY2Y \n丙公司\t91350100MA2ZZZZZ3Z\n只有名称\n",
        );
        let pairs: Vec<(&str, &str)> = listed
            .iter()
            .map(|l| (l.name.as_str(), l.code.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("某某科技有限公司", "91350100MA2XXXXX1X"),
                ("甲 乙公司", "91350100MA2YYYYY2Y"),
                ("丙公司", "91350100MA2ZZZZZ3Z"),
                ("只有名称", ""),
            ]
        );
    }
}
