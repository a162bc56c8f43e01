//! The HTTP contract, `docs/openapi.yaml`, as a check every response of the HTTP suites goes
//! through ([`super::ApiClient`] calls [`Contract::check`] on each one). A response passes when
//!
//! - its status is declared for the operation (path template + method) the request matched,
//!   or, for a request no operation matches, is the document's `NotFound` (unknown path) or
//!   `MethodNotAllowed` (known path, other method) response;
//! - its `Content-Type` is one of the declared media types, and a JSON body is valid against
//!   the declared schema (JSON Schema 2020-12, `$ref`s resolved within the document);
//! - every header the response declares `required` is present.
//!
//! Behind a gateway (API Gateway, or `javumbo-local`'s own), what the document's
//! `x-gateway-responses` declares is accepted too, on any request: the gateway answers those
//! itself, before or instead of a function.
//!
//! The document is parsed and every schema compiled once per test binary ([`contract`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use jsonschema::{Draft, Registry, Validator};
use serde_json::{Value, json};

/// The base URI the document is registered under, so `#/components/...` references resolve.
const DOC_URI: &str = "urn:javumbo:openapi";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The contract of `docs/openapi.yaml`, parsed and compiled on first use.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let path = crate::workspace_root().join("docs/openapi.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Contract::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// One response as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// Upper or lower case.
    pub method: &'a str,
    /// The path the request was routed on, relative to the API's base URL, without the query.
    pub path: &'a str,
    pub status: u16,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a [u8],
    /// The API sits behind a gateway that may answer by itself.
    pub via_gateway: bool,
    /// The server also serves the web app (`javumbo-local`): its pages on paths the API has no
    /// route for, and 405 there for other methods.
    pub serves_web: bool,
}

pub struct Contract {
    paths: Vec<PathItem>,
    not_found: ResponseSpec,
    method_not_allowed: ResponseSpec,
    gateway: BTreeMap<String, ResponseSpec>,
}

struct PathItem {
    template: String,
    /// `None` for a `{parameter}` segment.
    segments: Vec<Option<String>>,
    /// Lower-case method → status (`"200"`, `"4XX"`) → response.
    operations: BTreeMap<String, BTreeMap<String, ResponseSpec>>,
}

struct ResponseSpec {
    /// Where the response object is in the document, for messages.
    pointer: String,
    /// Media type → compiled schema (`None`: no schema, or not JSON).
    content: BTreeMap<String, Option<Validator>>,
    required_headers: Vec<String>,
}

impl Contract {
    /// Parse the OpenAPI document and compile every response schema it declares.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let doc: Value = serde_norway::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(DOC_URI, doc.clone())
            .and_then(|r| r.prepare())
            .map_err(|e| format!("cannot register the document: {e}"))?;
        let loader = Loader {
            doc: &doc,
            registry: &registry,
        };
        let mut paths = Vec::new();
        let items = doc["paths"].as_object().ok_or("no `paths`")?;
        for (template, item) in items {
            let item_ptr = loader.resolve_ptr(&format!("/paths/{}", escape(template)), item)?;
            let item = loader.at(&item_ptr)?;
            let mut operations = BTreeMap::new();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let op_ptr = format!("{item_ptr}/{method}");
                let responses = op["responses"]
                    .as_object()
                    .ok_or_else(|| format!("{op_ptr}: no responses"))?;
                let mut by_status = BTreeMap::new();
                for (status, response) in responses {
                    if status == "default" {
                        // It would accept any status, which is what this check is for.
                        return Err(format!(
                            "{op_ptr}: `default` response: declare each status instead"
                        ));
                    }
                    let ptr = format!("{op_ptr}/responses/{}", escape(status));
                    by_status.insert(status.clone(), loader.response(&ptr, response)?);
                }
                operations.insert(method.to_owned(), by_status);
            }
            paths.push(PathItem {
                segments: template
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect(),
                template: template.clone(),
                operations,
            });
        }
        let component = |name: &str| {
            let ptr = format!("/components/responses/{name}");
            loader.response(&ptr, loader.at(&ptr)?)
        };
        let mut gateway = BTreeMap::new();
        if let Some(declared) = doc.get("x-gateway-responses").and_then(Value::as_object) {
            for (status, response) in declared {
                if status.parse::<u16>().is_err() {
                    continue; // `description` and other annotations
                }
                let ptr = format!("/x-gateway-responses/{}", escape(status));
                gateway.insert(status.clone(), loader.response(&ptr, response)?);
            }
        }
        Ok(Self {
            paths,
            not_found: component("NotFound")?,
            method_not_allowed: component("MethodNotAllowed")?,
            gateway,
        })
    }

    /// `Err` says what the response does wrong, naming the method, path and status.
    pub fn check(&self, x: &Exchange<'_>) -> Result<(), String> {
        let method = x.method.to_ascii_lowercase();
        if x.serves_web && self.unrouted(x.path) {
            let page = x.status == 200
                && x.headers
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/html"));
            if page || x.status == 405 {
                return Ok(());
            }
        }
        let (what, expected) = self.expected(&method, x.path);
        let own = match lookup(&expected, x.status) {
            Some(spec) => spec.check(x),
            None => Err(format!(
                "status {} is not declared for {what} (declared: {})",
                x.status,
                expected.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        };
        let Err(own) = own else { return Ok(()) };
        let gateway = if x.via_gateway {
            lookup(&self.gateway_refs(), x.status).map(|spec| spec.check(x))
        } else {
            None
        };
        let mut msg = format!(
            "contract violation: {} {} -> {}: {own}",
            x.method.to_ascii_uppercase(),
            x.path,
            x.status
        );
        match gateway {
            Some(Ok(())) => return Ok(()),
            Some(Err(g)) => {
                let _ = write!(msg, "; nor is it the gateway's own answer: {g}");
            }
            None => {}
        }
        let body = String::from_utf8_lossy(x.body);
        let cut: String = body.chars().take(500).collect();
        let _ = write!(msg, "\n  body: {cut}");
        Err(msg)
    }

    /// The responses a request may get from the API itself, and what it matched.
    fn expected<'s>(
        &'s self,
        method: &str,
        path: &str,
    ) -> (String, BTreeMap<&'s str, &'s ResponseSpec>) {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // A literal segment beats a parameter (`/api/decks/current` over `/api/decks/{id}`).
        let item = self
            .paths
            .iter()
            .filter(|p| p.matches(&segments))
            .max_by_key(|p| p.segments.iter().filter(|s| s.is_some()).count());
        match item {
            None => (
                format!("a path without a route ({path})"),
                BTreeMap::from([("404", &self.not_found)]),
            ),
            Some(item) => match item.operations.get(method) {
                None => (
                    format!(
                        "{} {} (no such operation)",
                        method.to_uppercase(),
                        item.template
                    ),
                    BTreeMap::from([("405", &self.method_not_allowed)]),
                ),
                Some(responses) => (
                    format!("{} {}", method.to_uppercase(), item.template),
                    responses.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                ),
            },
        }
    }

    /// No API route matches `path`.
    fn unrouted(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        !self.paths.iter().any(|p| p.matches(&segments))
    }

    fn gateway_refs(&self) -> BTreeMap<&str, &ResponseSpec> {
        self.gateway.iter().map(|(k, v)| (k.as_str(), v)).collect()
    }
}

/// The response declared for `status` exactly, or else for its range (`4XX`).
fn lookup<'s>(
    declared: &BTreeMap<&str, &'s ResponseSpec>,
    status: u16,
) -> Option<&'s ResponseSpec> {
    declared
        .get(status.to_string().as_str())
        .or_else(|| declared.get(format!("{}XX", status / 100).as_str()))
        .copied()
}

impl PathItem {
    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(t, s)| t.as_deref().map_or(!s.is_empty(), |lit| lit == *s))
    }
}

impl ResponseSpec {
    fn check(&self, x: &Exchange<'_>) -> Result<(), String> {
        for h in &self.required_headers {
            if !x.headers.contains_key(h.as_str()) {
                return Err(format!("header {h} is missing ({})", self.pointer));
            }
        }
        if self.content.is_empty() {
            return if x.body.is_empty() {
                Ok(())
            } else {
                Err(format!("a body where none is declared ({})", self.pointer))
            };
        }
        let media = x
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let Some(schema) = self.content.get(&media) else {
            return Err(format!(
                "content type {media:?} is not declared (declared: {}; {})",
                self.content.keys().cloned().collect::<Vec<_>>().join(", "),
                self.pointer
            ));
        };
        let Some(schema) = schema else { return Ok(()) };
        let body: Value =
            serde_json::from_slice(x.body).map_err(|e| format!("the body is not JSON ({e})"))?;
        let errors: Vec<String> = schema
            .iter_errors(&body)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("at {:?}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the body violates the schema of {}: {}",
                self.pointer,
                errors.join("; ")
            ))
        }
    }
}

struct Loader<'a> {
    doc: &'a Value,
    registry: &'a Registry<'a>,
}

impl Loader<'_> {
    fn at(&self, ptr: &str) -> Result<&Value, String> {
        self.doc
            .pointer(ptr)
            .ok_or_else(|| format!("nothing at #{ptr}"))
    }

    /// Where `value` (found at `ptr`) really is: itself, or what its `$ref` names.
    fn resolve_ptr(&self, ptr: &str, value: &Value) -> Result<String, String> {
        let (mut ptr, mut value) = (ptr.to_owned(), value);
        for _ in 0..16 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                return Ok(ptr);
            };
            let target = target
                .strip_prefix('#')
                .ok_or_else(|| format!("{ptr}: only references within the document: {target}"))?;
            ptr = target.to_owned();
            value = self.at(&ptr)?;
        }
        Err(format!("{ptr}: reference loop"))
    }

    fn response(&self, ptr: &str, response: &Value) -> Result<ResponseSpec, String> {
        let ptr = self.resolve_ptr(ptr, response)?;
        let response = self.at(&ptr)?;
        let mut content = BTreeMap::new();
        if let Some(media) = response.get("content").and_then(Value::as_object) {
            for (media_type, entry) in media {
                let json_media = media_type == "application/json" || media_type.ends_with("+json");
                let validator = match entry.get("schema") {
                    Some(_) if json_media => {
                        let schema_ptr = format!("{ptr}/content/{}/schema", escape(media_type));
                        Some(self.compile(&schema_ptr)?)
                    }
                    _ => None,
                };
                content.insert(media_type.to_ascii_lowercase(), validator);
            }
        }
        let mut required_headers = Vec::new();
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let hptr = format!("{ptr}/headers/{}", escape(name));
                let header = self.at(&self.resolve_ptr(&hptr, header)?)?;
                if header.get("required") == Some(&Value::Bool(true)) {
                    required_headers.push(name.to_ascii_lowercase());
                }
            }
        }
        Ok(ResponseSpec {
            pointer: format!("#{ptr}"),
            content,
            required_headers,
        })
    }

    /// The schema at `ptr`, compiled in place, so its `$ref`s resolve against the document.
    fn compile(&self, ptr: &str) -> Result<Validator, String> {
        let schema = json!({ "$ref": format!("{DOC_URI}#{}", fragment(ptr)) });
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(self.registry)
            .build(&schema)
            .map_err(|e| format!("the schema at #{ptr} does not compile: {e}"))
    }
}

/// A key as one JSON-pointer token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment: percent-encode what a fragment may not hold (`{id}`).
fn fragment(ptr: &str) -> String {
    let mut out = String::with_capacity(ptr.len());
    for b in ptr.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The checker itself, on the real document: what it lets through and what it stops.

    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

    use super::*;

    fn headers(ct: &str, session: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        if session {
            h.insert("x-session-id", HeaderValue::from_static("s1"));
        }
        h
    }

    fn check(method: &str, path: &str, status: u16, body: Value) -> Result<(), String> {
        check_with(method, path, status, body, false)
    }

    fn check_with(
        method: &str,
        path: &str,
        status: u16,
        body: Value,
        via_gateway: bool,
    ) -> Result<(), String> {
        let h = headers("application/json", true);
        let body = serde_json::to_vec(&body).unwrap();
        contract().check(&Exchange {
            method,
            path,
            status,
            headers: &h,
            body: &body,
            via_gateway,
            serves_web: false,
        })
    }

    #[test]
    fn a_good_answer_passes() {
        let card = json!({"cardId": 1, "noteId": 2, "deckId": 3, "front": "f", "back": "b",
                          "queue": 0, "due": 4, "session_id": "s1",
                          "questionHtml": "f [anki:play:q:0]", "answerHtml": "a", "css": "",
                          "questionAvTags": [{"kind": "sound", "filename": "f.mp3"}],
                          "answerAvTags": [], "noteType": "Basic", "noteTypeId": 5,
                          "renderStatus": "ok"});
        check("GET", "/api/cards/1", 200, card.clone()).unwrap();
        let mut unknown_status = card;
        unknown_status["renderStatus"] = "fine".into();
        assert!(check("GET", "/api/cards/1", 200, unknown_status).is_err());
        check("GET", "/api/health", 200, json!({"status": "ok"})).unwrap();
        check(
            "GET",
            "/api/review",
            200,
            json!({"message": "No cards in this deck"}),
        )
        .unwrap();
        let e = check(
            "GET",
            "/api/review",
            200,
            json!({"message": "x", "cardId": 1}),
        )
        .unwrap_err();
        assert!(e.contains("violates"), "neither a card nor a message: {e}");
        check(
            "PUT",
            "/register",
            405,
            json!({"error": "method not allowed"}),
        )
        .unwrap();
        check("GET", "/nope", 404, json!({"error": "Not found"})).unwrap();
    }

    #[test]
    fn a_renamed_field_fails_with_the_path_status_and_reason() {
        let card = json!({"card_Id": 1, "noteId": 2, "deckId": 3, "front": "f", "back": "b",
                          "queue": 0, "due": 4, "session_id": "s1"});
        let e = check("GET", "/api/cards/1", 200, card).unwrap_err();
        assert!(e.contains("GET /api/cards/1 -> 200"), "{e}");
        assert!(e.contains("cardId"), "{e}");
    }

    #[test]
    fn a_wrong_type_or_value_fails() {
        let e = check("GET", "/api/health", 200, json!({"status": "down"})).unwrap_err();
        assert!(e.contains("violates"), "{e}");
        let e = check("POST", "/api/session/flush", 200, json!({"success": 1})).unwrap_err();
        assert!(e.contains("violates"), "{e}");
    }

    #[test]
    fn an_undeclared_status_fails() {
        let e = check("GET", "/api/health", 500, json!({"error": "x"})).unwrap_err();
        assert!(e.contains("status 500 is not declared"), "{e}");
        let e = check("GET", "/api/decks", 418, json!({"error": "x"})).unwrap_err();
        assert!(e.contains("not declared for GET /api/decks"), "{e}");
    }

    #[test]
    fn the_web_app_answers_only_where_the_api_has_no_route_and_only_on_javumbo_local() {
        let html = headers("text/html; charset=utf-8", false);
        let page = b"<!doctype html>".to_vec();
        let ex = |path, serves_web| Exchange {
            method: "GET",
            path,
            status: 200,
            headers: &html,
            body: &page,
            via_gateway: true,
            serves_web,
        };
        assert!(contract().check(&ex("/", true)).is_ok());
        assert!(contract().check(&ex("/", false)).is_err());
        // An API route answering with a page is still a violation.
        assert!(contract().check(&ex("/api/decks", true)).is_err());
    }

    #[test]
    fn unrouted_requests_get_404_or_405_only() {
        let e = check("GET", "/nope", 400, json!({"error": "x"})).unwrap_err();
        assert!(e.contains("without a route"), "{e}");
        let e = check("PATCH", "/api/decks", 404, json!({"error": "x"})).unwrap_err();
        assert!(e.contains("no such operation"), "{e}");
        // A literal path segment wins over a parameter.
        check(
            "PUT",
            "/api/decks/current",
            200,
            json!({"message": "m", "session_id": "s"}),
        )
        .unwrap();
    }

    #[test]
    fn errors_must_be_json_errors() {
        let e = check("GET", "/api/decks", 401, json!({"message": "x"})).unwrap_err();
        assert!(e.contains("error"), "{e}");
        let h = headers("text/plain", false);
        let e = contract()
            .check(&Exchange {
                method: "GET",
                path: "/api/decks",
                status: 401,
                headers: &h,
                body: b"nope",
                via_gateway: false,
                serves_web: false,
            })
            .unwrap_err();
        assert!(e.contains("content type \"text/plain\""), "{e}");
    }

    #[test]
    fn a_required_header_must_be_there() {
        let h = headers("application/json", false);
        let body = serde_json::to_vec(&json!({"decks": [], "session_id": "s"})).unwrap();
        let e = contract()
            .check(&Exchange {
                method: "GET",
                path: "/api/decks",
                status: 200,
                headers: &h,
                body: &body,
                via_gateway: false,
                serves_web: false,
            })
            .unwrap_err();
        assert!(e.contains("x-session-id"), "{e}");
    }

    #[test]
    fn the_gateway_answers_only_behind_a_gateway() {
        let gw = json!({"message": "Not Found"});
        assert!(check("PATCH", "/api/decks", 404, gw.clone()).is_err());
        check_with("PATCH", "/api/decks", 404, gw.clone(), true).unwrap();
        check_with("GET", "/nope", 404, gw, true).unwrap();
        let e = check_with("GET", "/nope", 404, json!({"msg": 1}), true).unwrap_err();
        assert!(e.contains("gateway"), "{e}");
    }

    #[test]
    fn the_loader_refuses_a_default_response() {
        let doc = r#"
openapi: 3.1.0
paths:
  /x:
    get:
      responses:
        default: {description: anything}
components:
  responses:
    NotFound: {description: n}
    MethodNotAllowed: {description: m}
"#;
        let e = Contract::from_yaml(doc).err().expect("refused");
        assert!(e.contains("default"), "{e}");
    }

    #[test]
    fn fragments_are_escaped() {
        assert_eq!(
            fragment("/paths/~1api~1cards~1{id}/get"),
            "/paths/~1api~1cards~1%7Bid%7D/get"
        );
        assert_eq!(escape("application/json"), "application~1json");
    }
}
