//! The public copy endpoints: `GET /copy` (the form), `POST /copy` (a form
//! post, answered with a page) and `POST /v1/copy` (JSON). The rule lives
//! in [`crate::copy`]; this layer decodes the body (axum's `Form` and
//! `Bytes`, within [`BodyLimit::COPY`]: [`CopyForm`], [`CopyJson`]),
//! derives the client key from the connection, and shapes the answer.
//!
//! **Equal time.** Every `POST` answer, whatever it says, is held until
//! [`MIN_ANSWER`] after the request arrived ([`equal_time`], a layer
//! outside the concurrency limit, so a held answer holds no turn), so a copy found (which decodes
//! a document) and a copy not found (which does not) leave the server
//! after the same time, and the response time does not tell whether a
//! reference exists. The floor is well above the work itself (a lookup by
//! reference and, when found, one document decode take milliseconds); if
//! the work ever exceeds it, that request is slower, and the floor should
//! be raised.
//!
//! No address, reference or date is logged or put in a metric label.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::body::{BodyLimit, Bounded, refusal};
use super::edge::ClientAddr;
use super::{AppState, HttpError, blocking};
use crate::copy::{self, Channel, CopyError, CopyRequest, MAX_FIELD_LEN, RecordCopy, page};

/// The shortest time any `POST` answer takes (see the module docs).
pub const MIN_ANSWER: Duration = Duration::from_millis(300);

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The JSON request of `POST /v1/copy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    pub reference: String,
    pub date: String,
}

/// Headers every copy answer carries: nothing cached, nothing sniffed,
/// nothing loaded or run but the inline style.
fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn html(status: StatusCode, page: String) -> Response {
    harden((status, axum::response::Html(page)).into_response())
}

/// `GET /copy`: the empty form.
pub async fn form() -> Response {
    html(StatusCode::OK, page::form_page(None, "", ""))
}

/// Holds every `POST` answer until [`MIN_ANSWER`] after the request
/// arrived (see the module docs).
pub async fn equal_time(request: Request, next: Next) -> Response {
    let started = tokio::time::Instant::now();
    let post = request.method() == Method::POST;
    let response = next.run(request).await;
    if post {
        tokio::time::sleep_until(started + MIN_ANSWER).await;
    }
    response
}

/// `POST /copy`: a form post; answers with the copy or the form again.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    client: Option<Extension<ClientAddr>>,
    CopyForm { reference, date }: CopyForm,
) -> Response {
    let missing = if reference.trim().is_empty() {
        Some("Enter the reference from your receipt.")
    } else if date.trim().is_empty() {
        Some("Enter the date of the stop.")
    } else {
        None
    };
    if let Some(missing) = missing {
        let e = HttpError::malformed(missing);
        return html(
            e.status(),
            page::form_page(Some(e.message()), &reference, &date),
        );
    }
    let found = lookup(
        &state,
        client_of(&state, client),
        reference.clone(),
        date.clone(),
        Channel::Web,
    )
    .await;
    match found {
        Ok(copy) => html(StatusCode::OK, page::copy_page(&copy)),
        Err(e) => {
            let (status, message) = (status_of(&e), e.to_string());
            // The uniform answer shows the empty form, so its body
            // is the same whatever was typed.
            let page = if matches!(e, CopyError::NotFound) {
                page::form_page(Some(&message), "", "")
            } else {
                page::form_page(Some(&message), &reference, &date)
            };
            with_retry_after(html(status, page), &e)
        }
    }
}

/// `POST /v1/copy`: JSON in, the [`RecordCopy`] or an `ErrorBody` out.
pub async fn api(
    State(state): State<Arc<AppState>>,
    client: Option<Extension<ClientAddr>>,
    CopyJson(body): CopyJson,
) -> Response {
    match lookup(
        &state,
        client_of(&state, client),
        body.reference,
        body.date,
        Channel::Api,
    )
    .await
    {
        Ok(copy) => harden(axum::Json(copy).into_response()),
        Err(e) => with_retry_after(
            harden(HttpError::new(status_of(&e), e.code(), e.to_string()).into_response()),
            &e,
        ),
    }
}

fn status_of(e: &CopyError) -> StatusCode {
    match e {
        CopyError::BadReference | CopyError::BadDate(_) => StatusCode::BAD_REQUEST,
        CopyError::NotFound => StatusCode::NOT_FOUND,
        CopyError::ClientThrottled { .. } | CopyError::ReferenceLocked { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        CopyError::Storage(_) | CopyError::Document(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn with_retry_after(mut response: Response, e: &CopyError) -> Response {
    if let Some(seconds) = e.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn lookup(
    state: &Arc<AppState>,
    client: String,
    reference: String,
    date: String,
    channel: Channel,
) -> Result<RecordCopy, CopyError> {
    let state = state.clone();
    let result = blocking(move || {
        Ok(copy::request_copy(
            state.storage.as_ref(),
            &state.config.retention,
            state.now(),
            CopyRequest {
                reference: &reference,
                date: &date,
                client: &client,
                channel,
            },
            &state.throttled,
        ))
    })
    .await;
    let result = result.unwrap_or_else(|_| {
        Err(CopyError::Storage(crate::storage::StorageError::backend(
            "the lookup did not finish",
        )))
    });
    match &result {
        Err(CopyError::Storage(e)) => tracing::error!(error = %e, "copy lookup failed"),
        Err(CopyError::Document(e)) => {
            tracing::error!(error = %e, "copy: stored record unreadable")
        }
        Ok(_) | Err(_) => {}
    }
    result
}

/// The client key of the request (see [`copy::client_key`]): its address
/// as [`super::edge`] decided it, under the store's shared salt.
fn client_of(state: &AppState, client: Option<Extension<ClientAddr>>) -> String {
    state
        .salt
        .client_key(client.map(|Extension(ClientAddr(addr))| addr))
}

/// The copy form as typed, decoded by axum's `Form` (as browsers encode
/// it) within [`BodyLimit::COPY`]. Refused (400, the empty form again):
/// a field other than `reference` and `date`, a field twice, a value
/// over [`MAX_FIELD_LEN`], bytes that are not UTF-8 once decoded; 415 for
/// another content type, 413 past the limit. A missing field is empty.
pub struct CopyForm {
    pub reference: String,
    pub date: String,
}

/// A refused form: the form page again, empty, with the reason.
pub struct FormRefused(HttpError);

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        html(
            self.0.status(),
            page::form_page(Some(self.0.message()), "", ""),
        )
    }
}

impl<S: Send + Sync> FromRequest<S> for CopyForm {
    type Rejection = FormRefused;

    async fn from_request(request: Request, state: &S) -> Result<Self, FormRefused> {
        let limit = BodyLimit::COPY;
        let Form(fields) = Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(|rejection| {
                FormRefused(match rejection {
                    FormRejection::InvalidFormContentType(_) => {
                        unsupported("application/x-www-form-urlencoded")
                    }
                    FormRejection::BytesRejection(rejection) => refusal(&rejection, limit),
                    _ => HttpError::malformed("The form could not be read."),
                })
            })?;
        form_fields(fields).map_err(FormRefused)
    }
}

/// The fields of a decoded form (see [`CopyForm`]).
fn form_fields(fields: Vec<(String, String)>) -> Result<CopyForm, HttpError> {
    let (mut reference, mut date) = (None, None);
    for (name, value) in fields {
        // Decoding replaces bytes that are not UTF-8; they are refused.
        if name.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
            return Err(HttpError::malformed("The form could not be read."));
        }
        let slot = match name.as_str() {
            "reference" => &mut reference,
            "date" => &mut date,
            _ => {
                return Err(HttpError::malformed(
                    "The form has a field it should not have.",
                ));
            }
        };
        if slot.is_some() {
            return Err(HttpError::malformed("The form has a field twice."));
        }
        if value.chars().count() > MAX_FIELD_LEN {
            return Err(HttpError::malformed(
                "That is too long for a reference or a date: check what you typed.",
            ));
        }
        *slot = Some(value);
    }
    Ok(CopyForm {
        reference: reference.unwrap_or_default(),
        date: date.unwrap_or_default(),
    })
}

/// The JSON request of `POST /v1/copy`, within [`BodyLimit::COPY`]:
/// `application/json` or no type (415 otherwise), exactly the two fields
/// of [`CopyBody`], each at most [`MAX_FIELD_LEN`] (400 otherwise). A
/// refusal carries the copy answers' headers.
pub struct CopyJson(pub CopyBody);

/// A refused JSON request: the `ErrorBody`, hardened.
pub struct JsonRefused(HttpError);

impl IntoResponse for JsonRefused {
    fn into_response(self) -> Response {
        harden(self.0.into_response())
    }
}

impl<S: Send + Sync> FromRequest<S> for CopyJson {
    type Rejection = JsonRefused;

    async fn from_request(request: Request, state: &S) -> Result<Self, JsonRefused> {
        check_json_type(request.headers()).map_err(JsonRefused)?;
        let Bounded(bytes) = Bounded::from_request(request, state)
            .await
            .map_err(JsonRefused)?;
        let body: CopyBody = serde_json::from_slice(&bytes).map_err(|_| {
            JsonRefused(HttpError::malformed(
                "Send a JSON object with exactly two text fields: \"reference\" and \"date\" (YYYY-MM-DD).",
            ))
        })?;
        if body.reference.chars().count() > MAX_FIELD_LEN
            || body.date.chars().count() > MAX_FIELD_LEN
        {
            return Err(JsonRefused(HttpError::malformed(
                "That is too long for a reference or a date.",
            )));
        }
        Ok(CopyJson(body))
    }
}

fn unsupported(expected: &str) -> HttpError {
    HttpError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        format!("Send the request as {expected}."),
    )
}

/// `application/json` (any parameters, any case) or no content type.
fn check_json_type(headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" {
        Ok(())
    } else {
        Err(unsupported("application/json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn form_fields_are_the_two_once_each_in_utf8() {
        let form = form_fields(pairs(&[("reference", "K3F9"), ("date", "a b&c")])).unwrap();
        assert_eq!((&*form.reference, &*form.date), ("K3F9", "a b&c"));
        let empty = form_fields(Vec::new()).unwrap();
        assert!(empty.reference.is_empty() && empty.date.is_empty());
        for bad in [
            pairs(&[("reference", "\u{FFFD}")]),
            pairs(&[("\u{FFFD}", "1")]),
            pairs(&[("name", "Jo")]),
            pairs(&[("date", "1"), ("date", "2")]),
            pairs(&[("reference", &"A".repeat(MAX_FIELD_LEN + 1))]),
        ] {
            assert_eq!(form_fields(bad).err().unwrap().status(), 400);
        }
    }
}
