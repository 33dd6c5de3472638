//! The published figures over HTTP, for anyone: `GET /figures` (the page,
//! or `format=csv|json`) and `GET /figures/searches` (the month's searches
//! in police.uk's CSV or JSON). The rules live in [`crate::figures`]; this
//! layer checks the query (at most [`MAX_QUERY`] bytes; only `month`,
//! `station` and `format`, each once), calls [`crate::figures::view`] off
//! the runtime, and shapes the answer. A refusal is a precise 4xx: as the
//! page with the message for HTML, as the JSON `ErrorBody` otherwise.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, HttpError, blocking};
use crate::audit::actor;
use crate::figures::page::{PageRequest, refusal_page};
use crate::figures::view::{self, Format, Rendered};
use crate::figures::{FiguresError, Month, check_station};

/// The longest query string looked at.
pub const MAX_QUERY: usize = 512;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The query of both endpoints, checked (the month as typed is kept
/// beside it, to show again on a refusal page).
struct Asked {
    month: Option<Month>,
    station: Option<String>,
    format: Format,
}

/// The query checked, with the month as typed and the format a refusal
/// is given in: the `format` asked for wherever it stands in the query
/// (when it is one), else `default`.
fn parse(query: Option<&str>, default: Format) -> (String, Format, Result<Asked, FiguresError>) {
    let query = query.unwrap_or("");
    let refusal_format = (query.len() <= MAX_QUERY)
        .then(|| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "format")
                .and_then(|(_, value)| Format::parse(&value).ok())
        })
        .flatten()
        .unwrap_or(default);
    let mut month_text = String::new();
    let result = (|| {
        if query.len() > MAX_QUERY {
            return Err(FiguresError::BadQuery(format!(
                "the query is longer than {MAX_QUERY} bytes"
            )));
        }
        let (mut month, mut station, mut format) = (None, None, None);
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "month" => &mut month,
                "station" => &mut station,
                "format" => &mut format,
                _ => {
                    return Err(FiguresError::BadQuery(
                        "only month, station and format may be given".into(),
                    ));
                }
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(FiguresError::BadQuery(format!("{key} is given twice")));
            }
        }
        month_text = month.clone().unwrap_or_default();
        Ok(Asked {
            month: month
                .filter(|m| !m.is_empty())
                .map(|m| Month::parse(&m))
                .transpose()?,
            station: station
                .filter(|s| !s.trim().is_empty())
                .map(|s| check_station(&s))
                .transpose()?,
            format: format
                .filter(|f| !f.is_empty())
                .map(|f| Format::parse(&f))
                .transpose()?
                .unwrap_or(default),
        })
    })();
    (month_text, refusal_format, result)
}

fn status_of(e: &FiguresError) -> StatusCode {
    match e {
        FiguresError::BadMonth(_)
        | FiguresError::BadStation(_)
        | FiguresError::BadFormat(_)
        | FiguresError::BadQuery(_) => StatusCode::BAD_REQUEST,
        FiguresError::NotPublished { .. } | FiguresError::UnknownStation(_) => {
            StatusCode::NOT_FOUND
        }
        FiguresError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

fn refused(e: FiguresError, format: Format, month_text: &str) -> Response {
    let status = status_of(&e);
    if let FiguresError::Storage(inner) = e {
        return harden(HttpError::from(inner).into_response());
    }
    let response = match format {
        Format::Html => {
            let page = refusal_page(
                &PageRequest {
                    month: month_text,
                    month_title: "",
                    station: None,
                    stations: &[],
                },
                &e.to_string(),
            );
            (status, axum::response::Html(page)).into_response()
        }
        _ => HttpError::new(status, e.code(), e.to_string()).into_response(),
    };
    harden(response)
}

fn answer(rendered: Rendered) -> Response {
    let mut response = (StatusCode::OK, rendered.body).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(rendered.format.content_type()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(name) = rendered.filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    // A published month never changes.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    harden(response)
}

async fn serve(state: Arc<AppState>, query: Option<String>, searches: bool) -> Response {
    let default = if searches { Format::Csv } else { Format::Html };
    let (month_text, refusal_format, asked) = parse(query.as_deref(), default);
    let asked = match asked {
        Ok(a) => a,
        Err(e) => return refused(e, refusal_format, &asked_month(&month_text)),
    };
    let format = asked.format;
    let work = blocking(move || {
        let now = state.now();
        let month = asked.month.unwrap_or_else(|| Month::latest_published(now));
        let storage = state.storage.as_ref();
        let station = asked.station.as_deref();
        Ok(if searches {
            view::searches(storage, month, station, asked.format, now, actor::PUBLIC)
        } else {
            view::figures(storage, month, station, asked.format, now, actor::PUBLIC)
        })
    })
    .await;
    match work {
        Ok(Ok(rendered)) => answer(rendered),
        Ok(Err(e)) => refused(e, format, &asked_month(&month_text)),
        Err(e) => harden(e.into_response()),
    }
}

fn asked_month(text: &str) -> String {
    text.chars().take(7).collect()
}

/// `GET /figures`.
pub async fn figures(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    serve(state, query, false).await
}

/// `GET /figures/searches`.
pub async fn searches(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    serve(state, query, true).await
}
