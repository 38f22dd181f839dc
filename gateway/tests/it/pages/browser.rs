//! A small browser for the router: keeps cookies, reads forms' CSRF fields.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::{App, BROWSER_UA, CLIENT};

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The first form's `csrf` field.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let at = self.body.find(marker).expect("a csrf field") + marker.len();
        let end = self.body[at..].find('"').unwrap();
        self.body[at..at + end].to_owned()
    }

    pub fn has_id(&self, id: &str) -> bool {
        self.body.contains(&format!("id=\"{id}\""))
    }

    /// The body with the entities askama escapes decoded.
    pub fn plain(&self) -> String {
        unescape(&self.body)
    }

    /// The text inside the element with `id` (up to its first child tag's
    /// end), entities decoded.
    pub fn text_of(&self, id: &str) -> String {
        let open = format!("id=\"{id}\"");
        let at = self
            .body
            .find(&open)
            .unwrap_or_else(|| panic!("no #{id}: {}", self.body));
        let start = at + self.body[at..].find('>').unwrap() + 1;
        let end = start + self.body[start..].find("</").unwrap();
        unescape(&self.body[start..end])
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` line for `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

pub struct Browser<'a> {
    pub app: &'a App,
    pub jar: BTreeMap<String, String>,
    pub client: &'static str,
    /// Sent as `Origin` on POSTs.
    pub origin: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a App) -> Self {
        Self {
            app,
            jar: BTreeMap::new(),
            client: CLIENT,
            origin: None,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None, &[]).await
    }

    /// POST a form with `fields` as they are (no CSRF field added).
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send("POST", path, Some(body), &[]).await
    }

    /// POST a form as the page `from` would: its CSRF field plus `fields`.
    pub async fn submit(&mut self, from: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = from.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POST JSON with extra headers (the page scripts' helpers).
    pub async fn post_json(&mut self, path: &str, body: &str, headers: &[(&str, &str)]) -> Page {
        self.send("POST", path, Some(body.to_owned()), headers)
            .await
    }

    /// GET where a 303 points.
    pub async fn follow(&mut self, page: &Page) -> Page {
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let to = page.location().to_owned();
        self.get(&to).await
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<String>,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::USER_AGENT, BROWSER_UA);
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header(header::COOKIE, cookies.join("; "));
        }
        if body.is_some() && extra.is_empty() {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if let (Some(origin), "POST") = (&self.origin, method) {
            builder = builder.header(header::ORIGIN, origin);
        }
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap();
        let addr: SocketAddr = self.client.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        let response = self.app.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let page = Page {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        };
        for line in page.set_cookies() {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        page
    }
}

fn unescape(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// What every HTML page must carry.
pub fn assert_html(page: &Page) {
    let h = |name: header::HeaderName| {
        page.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(h(header::CONTENT_TYPE), "text/html; charset=utf-8");
    let csp = h(header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors 'none'")
            && csp.contains("form-action 'self'")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h(header::REFERRER_POLICY), "no-referrer");
    assert_eq!(h(header::CACHE_CONTROL), "no-store");
    assert!(page.body.starts_with("<!doctype html>"), "{}", page.body);
    assert!(page.body.contains("<html lang=\"en\">") && page.body.contains("<main id=\"main\""));
    assert!(
        !page.body.contains("<script>") && !page.body.contains(" style="),
        "inline script or style: {}",
        page.body
    );
    for line in page.set_cookies() {
        assert!(
            line.contains("HttpOnly") && line.contains("SameSite="),
            "{line}"
        );
    }
}
