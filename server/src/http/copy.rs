//! The public copy endpoints: `GET /copy` (the form), `POST /copy` (a form
//! post, answered with a page) and `POST /v1/copy` (JSON). The rule lives
//! in [`crate::copy`]; this layer bounds and decodes the body, derives the
//! client key from the connection, and shapes the answer.
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

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::edge::ClientAddr;
use super::{AppState, HttpError, blocking, read_body};
use crate::copy::{self, Channel, CopyError, CopyRequest, MAX_FIELD_LEN, RecordCopy, page};

/// The shortest time any `POST` answer takes (see the module docs).
pub const MIN_ANSWER: Duration = Duration::from_millis(300);
/// Largest accepted body: a reference and a date need a few dozen bytes.
pub const MAX_BODY: usize = 2 * 1024;

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
pub async fn submit(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match read_form(request).await {
        Err(e) => html(e.status(), page::form_page(Some(e.message()), "", "")),
        Ok(Err((e, reference, date))) => html(
            e.status(),
            page::form_page(Some(e.message()), &reference, &date),
        ),
        Ok(Ok((client, reference, date))) => {
            match lookup(
                &state,
                client,
                reference.clone(),
                date.clone(),
                Channel::Web,
            )
            .await
            {
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
    }
}

/// `POST /v1/copy`: JSON in, the [`Copy`] or an `ErrorBody` out.
pub async fn api(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match read_json(request).await {
        Err(e) => harden(e.into_response()),
        Ok((client, body)) => {
            match lookup(&state, client, body.reference, body.date, Channel::Api).await {
                Ok(copy) => harden(axum::Json(copy).into_response()),
                Err(e) => with_retry_after(
                    harden(HttpError::new(status_of(&e), e.code(), e.to_string()).into_response()),
                    &e,
                ),
            }
        }
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
/// as [`super::edge`] decided it.
pub(super) fn client_of(request: &Request) -> String {
    copy::client_key(
        request
            .extensions()
            .get::<ClientAddr>()
            .map(|ClientAddr(addr)| *addr),
    )
}

/// Reads a body of at most [`MAX_BODY`] bytes whose type is `expected`
/// (415 otherwise; a missing type is refused too, except for JSON).
async fn read_bounded(
    request: Request,
    expected: &str,
    missing_ok: bool,
) -> Result<(String, Vec<u8>), HttpError> {
    let client = client_of(&request);
    let (parts, body) = request.into_parts();
    check_type(&parts.headers, expected, missing_ok)?;
    let bytes = read_body(
        &parts.headers,
        body,
        MAX_BODY,
        "send only the reference and the date",
    )
    .await?;
    Ok((client, bytes))
}

fn check_type(headers: &HeaderMap, expected: &str, missing_ok: bool) -> Result<(), HttpError> {
    let unsupported = || {
        HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("Send the request as {expected}."),
        )
    };
    match headers.get(header::CONTENT_TYPE) {
        None if missing_ok => Ok(()),
        None => Err(unsupported()),
        Some(value) => {
            let essence = value
                .to_str()
                .map_err(|_| unsupported())?
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence == expected {
                Ok(())
            } else {
                Err(unsupported())
            }
        }
    }
}

/// Outer error: nothing to show again. Inner error: the form is shown
/// again with what was typed.
type FormResult = Result<(String, String, String), (HttpError, String, String)>;

async fn read_form(request: Request) -> Result<FormResult, HttpError> {
    let (client, bytes) = read_bounded(request, "application/x-www-form-urlencoded", false).await?;
    let fields = parse_form(&bytes)?;
    let mut reference = None;
    let mut date = None;
    for (name, value) in fields {
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
    let (reference, date) = (reference.unwrap_or_default(), date.unwrap_or_default());
    if reference.trim().is_empty() || date.trim().is_empty() {
        let missing = if reference.trim().is_empty() {
            "Enter the reference from your receipt."
        } else {
            "Enter the date of the stop."
        };
        return Ok(Err((HttpError::malformed(missing), reference, date)));
    }
    Ok(Ok((client, reference, date)))
}

async fn read_json(request: Request) -> Result<(String, CopyBody), HttpError> {
    let (client, bytes) = read_bounded(request, "application/json", true).await?;
    let body: CopyBody = serde_json::from_slice(&bytes).map_err(|_| {
        HttpError::malformed(
            "Send a JSON object with exactly two text fields: \"reference\" and \"date\" (YYYY-MM-DD).",
        )
    })?;
    if body.reference.chars().count() > MAX_FIELD_LEN || body.date.chars().count() > MAX_FIELD_LEN {
        return Err(HttpError::malformed(
            "That is too long for a reference or a date.",
        ));
    }
    Ok((client, body))
}

/// Decodes `application/x-www-form-urlencoded` (the `form_urlencoded`
/// crate, as browsers encode). Bytes that are not UTF-8 once decoded are
/// refused rather than replaced.
fn parse_form(bytes: &[u8]) -> Result<Vec<(String, String)>, HttpError> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(bytes).into_owned().collect();
    if fields
        .iter()
        .any(|(name, value)| name.contains('\u{FFFD}') || value.contains('\u{FFFD}'))
    {
        return Err(HttpError::malformed("The form could not be read."));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_as_browsers_encode_them() {
        let fields = parse_form(b"reference=K3F9-QW2H&&date=2026-11-28&x=a+b%26c").unwrap();
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[2], ("x".into(), "a b&c".into()));
        assert!(parse_form(b"reference=%C3").is_err());
        assert!(parse_form(b"%FF=1").is_err());
    }
}
