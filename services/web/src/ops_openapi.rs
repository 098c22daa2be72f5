//! The OpenAPI 3.1 document of the `/v1` ops API (`GET /v1/openapi.json`), written out: the request
//! schemas follow the request types of `nl_domain::paper_ops`, the ExperimentSpec schema is the domain's.

use serde_json::{Value, json};

fn learning_fields() -> Value {
    json!({
        "learning_book_enabled": {"type": "boolean", "default": false},
        "experiment_id": {"type": "string"},
        "experiment_spec": {"$ref": "#/components/schemas/ExperimentSpec"},
        "learning_daily_risk_budget_pct": {"type": "string", "description": "decimal, percent of equity per UTC day"},
        "seed": {"type": "integer", "minimum": 0}
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    base
}

fn op(summary: &str, body: Option<&str>, ok: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "responses": {
            ok: {"description": "OK", "content": {"application/json": {}}},
            "400": {"description": "bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "missing or wrong bearer token"}
        }
    });
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

/// The document.
#[must_use]
pub fn document() -> Value {
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let mut spec = nl_domain::ExperimentSpec::json_schema();
    if let Some(o) = spec.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "nl ops API (learning book)", "version": "1", "description": "Paper only: nothing here places an order."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ExperimentSpec": spec,
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}, "path": {"type": "string", "description": "field path of the bad input"}}},
                "BacktestRequest": {"type": "object", "additionalProperties": false, "properties": with(json!({
                    "run_id": {"type": "string"}, "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}
                }), learning_fields())},
                "PaperSessionRequest": {"type": "object", "additionalProperties": false, "properties": with(json!({
                    "from": {"type": "string", "format": "date-time"}
                }), learning_fields())},
                "StatusRequest": {"type": "object", "additionalProperties": false, "required": ["status"], "properties": {
                    "status": {"enum": ["draft", "approved", "running", "paused", "completed", "aborted"]}, "reason": {"type": "string"}
                }}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/backtests": {"post": op("Run a backtest (replays stored decisions and snapshots)", Some("BacktestRequest"), "201"), "get": op("List backtests", None, "200")},
            "/v1/backtests/{id}": {"parameters": id, "get": op("One backtest", None, "200")},
            "/v1/paper-sessions": {"post": op("Start a paper session", Some("PaperSessionRequest"), "201"), "get": op("List paper sessions", None, "200")},
            "/v1/paper-sessions/{id}": {"parameters": id, "get": op("One paper session", None, "200")},
            "/v1/paper-sessions/{id}/stop": {"parameters": id, "post": op("Stop a paper session", None, "200")},
            "/v1/experiments": {"get": op("List experiments", None, "200"), "post": op("Create a draft experiment", Some("ExperimentSpec"), "201")},
            "/v1/experiments/{id}/status": {"parameters": id, "patch": op("One status step", Some("StatusRequest"), "200")},
            "/v1/fills": {"get": with(op("Fills", None, "200"), json!({"parameters": [
                {"name": "learning_book", "in": "query", "schema": {"type": "boolean"}},
                {"name": "experiment_id", "in": "query", "schema": {"type": "string"}},
                {"name": "run_id", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer"}}
            ]}))},
            "/v1/reports/{run_id}": {"get": with(op("Report of a run: profit and learning PnL apart", None, "200"), json!({"parameters": [
                {"name": "run_id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "group_by", "in": "query", "schema": {"type": "string", "example": "book,experiment_id,reason_code"}}
            ]}))}
        }
    })
}
