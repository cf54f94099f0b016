//! The web UI's static files (`src/ui/`), embedded in the binary and served at `/` and
//! `/assets/...` with a strict Content-Security-Policy (docs/ui.md). They are plain
//! files: no build step, no external origin.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "src/ui/"]
struct Assets;

/// Scripts, styles, images and API calls from this origin only; no inline script or
/// style, no frames, no plugins, forms posting nowhere but here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    // index.html is served at `/` only; nothing else under src/ui/ is private.
    if file == "index.html" {
        return not_found();
    }
    serve(&file, &headers)
}

fn not_found() -> Response {
    with_security_headers((StatusCode::NOT_FOUND, "Not found").into_response())
}

/// The file with an ETag of its content; `no-cache` makes a browser revalidate each use,
/// so an upgraded binary's files are picked up at once while unchanged ones cost a 304.
fn serve(file: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = Assets::get(file) else {
        return not_found();
    };
    let etag = format!("\"{}\"", hex::encode(&asset.metadata.sha256_hash()[..16]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Body::from(asset.data.into_owned()).into_response();
        let mime = asset.metadata.mimetype();
        let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        };
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type).expect("a mime type"),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    with_security_headers(response)
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Every embedded file with its size, for the size budget test.
pub fn files() -> Vec<(String, usize)> {
    Assets::iter()
        .map(|name| {
            let size = Assets::get(&name).map_or(0, |f| f.data.len());
            (name.into_owned(), size)
        })
        .collect()
}
