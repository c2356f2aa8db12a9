//! `GET /api/v1/openapi.json`: every machine-facing route is in it, everything in it is served,
//! and what a route answers is a status it documents. (That the document is valid OpenAPI 3.1,
//! and that real answers match its schemas, is checked against the specification's JSON Schema
//! in the browser tests' `openapi.spec.ts`.)

use crate::common::*;
use crate::triggers::{setup, token};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The routes the API and the webhooks serve, as the issue and the README list them.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/agents"),
    ("post", "/api/v1/agents/{agent_id}/runs"),
    ("get", "/api/v1/runs/{run_id}"),
    ("get", "/api/v1/escalations"),
    ("get", "/api/v1/escalations/{id}"),
    ("post", "/api/v1/escalations/{id}/respond"),
    ("post", "/api/v1/escalations/{id}/dismiss"),
    ("post", "/hooks/{id}"),
    ("get", "/api/v1/openapi.json"),
];

async fn document(app: &TestApp) -> Value {
    let res = client()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.expect("the document is JSON")
}

/// Every `$ref` in `v`.
fn refs<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_every_route_and_each_answers_only_what_it_documents() {
    watch_this_test();
    let (app, owner, team, _) = setup().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Flare API");
    let paths = doc["paths"].as_object().expect("paths");

    // Every route is in it, with an operation id, and the token routes name the bearer scheme.
    for (method, path) in ROUTES {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the document"))[*method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        assert!(
            op["operationId"].is_string(),
            "{method} {path}: no operationId"
        );
        if path.starts_with("/api/v1/") && !path.ends_with("openapi.json") {
            assert_eq!(op["security"][0]["token"], serde_json::json!([]), "{path}");
            assert!(
                op["responses"]["401"].is_object(),
                "{path} documents no 401"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    // Every reference points at a schema the document has.
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 10, "{found:?}");
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} points nowhere"
        );
    }

    // Everything in it is served: without a token (or signature) each operation answers with
    // a status it documents, in the one error shape, and never the pages' 404 or a 405.
    let read = token(&app, &owner, "api", &team, "Reader").await;
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            operations += 1;
            assert!(
                ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not listed here"
            );
            let url = app.url(&path.replace(['{', '}'], ""));
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = "{\"message\": \"hi\", \"guidance\": \"go\"}";
            let r = Reply::read(
                client()
                    .request(m.clone(), &url)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
            let status = r.status.as_u16().to_string();
            assert!(
                op["responses"][&status].is_object(),
                "{method} {path} answered {status}, which it does not document: {:?}",
                r.body
            );
            if path.ends_with("openapi.json") {
                assert_eq!(r.body["openapi"], "3.1.0");
                continue;
            }
            assert!(r.status.is_client_error(), "{method} {path}: {}", r.status);
            assert!(r.body["error"].is_string(), "{method} {path}: {:?}", r.body);
            // A read token on a route that changes something: refused, and documented.
            if path.starts_with("/api/v1/") && method == "post" {
                let r = Reply::read(
                    client()
                        .request(m, &url)
                        .header("authorization", format!("Bearer {read}"))
                        .header("content-type", "application/json")
                        .body(body),
                )
                .await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {:?}", r.body);
                assert!(
                    op["responses"]["403"].is_object(),
                    "{path} documents no 403"
                );
            }
        }
    }
    assert_eq!(operations, ROUTES.len());
}
