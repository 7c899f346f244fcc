//! The daemon's replies as MCP tool results.
//!
//! A call that ran and returned a value is a plain result. Everything else is a result with
//! `isError: true` whose text says what happened: a WIT `err` value, a refusal or failure
//! (`kind` and message from the daemon), or a call waiting on the operator's confirmation. A
//! pending call is never shown as a success: it did not run.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};

/// Why the daemon could not give an answer.
#[derive(Debug)]
pub(crate) enum DaemonFailure {
    /// The socket could not be reached or the reply could not be read.
    Unreachable(String),
    /// The daemon refused the request or the call failed: its typed error.
    Refused {
        /// HTTP status.
        status: u16,
        /// The error kind (`token-revoked`, `invalid-arguments`, ...).
        kind: String,
        /// The daemon's message.
        message: String,
    },
}

impl DaemonFailure {
    /// Reads the typed error out of a reply whose `ok` is not `true`.
    pub(crate) fn from_reply(status: u16, body: &Value) -> DaemonFailure {
        DaemonFailure::Refused {
            status,
            kind: body["error"]["kind"]
                .as_str()
                .unwrap_or("unexpected-reply")
                .to_owned(),
            message: body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("wardd answered {status} without an error message")),
        }
    }

    /// One line for a person or an agent.
    pub(crate) fn text(&self) -> String {
        match self {
            DaemonFailure::Unreachable(why) => why.clone(),
            DaemonFailure::Refused { kind, message, .. } => {
                format!("refused by wardd: {message} ({kind})")
            }
        }
    }

    /// The failure as a tool result with `isError: true`.
    pub(crate) fn into_result(self) -> CallToolResult {
        let structured = match &self {
            DaemonFailure::Unreachable(why) => {
                json!({ "error": { "kind": "daemon-unreachable", "message": why } })
            }
            DaemonFailure::Refused {
                status,
                kind,
                message,
            } => json!({ "error": { "kind": kind, "message": message, "status": status } }),
        };
        let mut r = CallToolResult::error(vec![ContentBlock::text(self.text())]);
        r.structured_content = Some(structured);
        r
    }
}

/// A refusal made by `ward mcp` itself before anything was sent (bad tool arguments).
pub(crate) fn local_error(kind: &str, message: impl Into<String>) -> CallToolResult {
    let message = message.into();
    let mut r = CallToolResult::error(vec![ContentBlock::text(message.clone())]);
    r.structured_content = Some(json!({ "error": { "kind": kind, "message": message } }));
    r
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `POST /v1/run`'s reply as a tool result.
pub(crate) fn run_result(status: u16, body: &Value) -> CallToolResult {
    if body["pending"] == json!(true) {
        return pending_result(&body["confirmation"]);
    }
    if body.get("result").is_none() || body["ok"] != json!(true) && body.get("error").is_some() {
        return DaemonFailure::from_reply(status, body).into_result();
    }
    let ok = body["ok"] == json!(true);
    let result = &body["result"];
    let mut content = Vec::new();
    if ok {
        if !result.is_null() || (body.get("stdout").is_none() && body.get("stderr").is_none()) {
            content.push(ContentBlock::text(value_text(result)));
        }
    } else {
        content.push(ContentBlock::text(format!(
            "the command returned an error: {}",
            value_text(result.get("err").unwrap_or(result))
        )));
    }
    let mut structured = json!({ "result": result });
    for stream in ["stdout", "stderr"] {
        if let Some(text) = body[stream].as_str() {
            content.push(ContentBlock::text(format!("{stream}:\n{text}")));
            structured[stream] = json!(text);
        }
    }
    let mut r = if ok {
        CallToolResult::success(content)
    } else {
        CallToolResult::error(content)
    };
    r.structured_content = Some(structured);
    r
}

/// A call waiting on the operator: not run, with the confirmation and how it is decided.
fn pending_result(c: &Value) -> CallToolResult {
    let id = c["id"].as_str().unwrap_or("?");
    let expires = c["expires"].as_str().unwrap_or("?");
    let summary = c["summary"].as_str().unwrap_or("");
    let approve = format!("ward confirm approve {id}");
    let text = format!(
        "pending: the command has NOT run. It waits for the operator's confirmation {id} \
         (expires {expires}): {summary}\n\
         The operator approves it with `{approve}` (or refuses with `ward confirm deny {id}`). \
         Once it is approved, call this tool again with exactly the same arguments: it then runs \
         once. `confirmation_status` with id {id} tells whether it was decided."
    );
    let mut r = CallToolResult::error(vec![ContentBlock::text(text)]);
    r.structured_content = Some(json!({
        "pending": true,
        "ran": false,
        "confirmation": c,
        "operator_approves_with": approve,
    }));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &CallToolResult) -> String {
        r.content
            .iter()
            .filter_map(|c| match c {
                ContentBlock::Text(t) => Some(t.text.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn run_replies_table() {
        // (status, reply, is_error, text)
        let cases = [
            (
                200,
                json!({"ok": true, "result": "Hello, World!", "fuel": 1, "duration_ms": 0.1}),
                false,
                "Hello, World!".to_owned(),
            ),
            (
                200,
                json!({"ok": true, "result": {"x": 1}}),
                false,
                r#"{"x":1}"#.to_owned(),
            ),
            (
                200,
                json!({"ok": true, "result": null}),
                false,
                "null".to_owned(),
            ),
            (
                200,
                json!({"ok": true, "result": null, "stdout": "out\n"}),
                false,
                "stdout:\nout\n".to_owned(),
            ),
            (
                200,
                json!({"ok": false, "result": {"err": "division by zero"}}),
                true,
                "the command returned an error: division by zero".to_owned(),
            ),
            (
                400,
                json!({"ok": false, "error": {"kind": "invalid-arguments", "message": "name: expected a string"}}),
                true,
                "refused by wardd: name: expected a string (invalid-arguments)".to_owned(),
            ),
            (
                403,
                json!({"ok": false, "error": {"kind": "token-revoked", "message": "the agent token was revoked"}}),
                true,
                "refused by wardd: the agent token was revoked (token-revoked)".to_owned(),
            ),
            (
                500,
                json!({"unexpected": 1}),
                true,
                "refused by wardd: wardd answered 500 without an error message (unexpected-reply)"
                    .to_owned(),
            ),
        ];
        for (status, body, is_error, want) in cases {
            let r = run_result(status, &body);
            assert_eq!(r.is_error, Some(is_error), "{body}");
            assert_eq!(text(&r), want, "{body}");
        }
    }

    #[test]
    fn pending_is_an_error_result_that_says_it_did_not_run() {
        let r = run_result(
            202,
            &json!({"ok": false, "pending": true, "confirmation": {
                "id": "cf_12ab", "state": "pending", "expires": "2026-11-22T09:10:00Z",
                "summary": "example:guarded greet(name=\"x\") capabilities: none"}}),
        );
        assert_eq!(r.is_error, Some(true));
        let t = text(&r);
        assert!(t.starts_with("pending: the command has NOT run"), "{t}");
        assert!(t.contains("`ward confirm approve cf_12ab`"), "{t}");
        let s = r.structured_content.unwrap();
        assert_eq!(s["pending"], true);
        assert_eq!(s["ran"], false);
        assert_eq!(s["confirmation"]["id"], "cf_12ab");
        assert_eq!(s["operator_approves_with"], "ward confirm approve cf_12ab");
    }
}
