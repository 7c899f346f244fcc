//! The MCP server: tools from `GET /v1/commands`, calls through `POST /v1/run`, proposals through
//! `POST /v1/proposals`, confirmation polls through `GET /v1/confirmations/{id}`. Every request
//! goes to the daemon's agent socket with the agent's token; nothing else is reached.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hyper::Method;
use rmcp::ErrorData as McpError;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::names::{CONFIRMATION_TOOL, PROPOSE_TOOL, tool_name};
use crate::reply::{DaemonFailure, local_error, run_result};
use crate::token::AgentToken;

/// Largest component `propose_capability` reads and sends, in bytes.
///
/// Threat: an agent naming a huge file (or `/dev/zero`) to exhaust `ward mcp`'s memory, or to
/// push an oversized request at the daemon.
pub const MAX_PROPOSAL_COMPONENT_BYTES: u64 = 8 * 1024 * 1024;

/// Largest examples text `propose_capability` forwards, in bytes. Threat: as above.
pub const MAX_PROPOSAL_EXAMPLES_BYTES: usize = 256 * 1024;

/// Largest total of the source files `propose_capability` forwards, in bytes. Threat: as above.
pub const MAX_PROPOSAL_SOURCE_BYTES: usize = 1024 * 1024;

/// Longest description shown for a tool, in bytes. Threat: a manifest description crowding
/// the agent's context.
const MAX_DESCRIPTION_BYTES: usize = 2048;

/// The header every WebAssembly component starts with (magic, then component-model layer).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// Where a tool's calls go.
#[derive(Debug, Clone)]
struct Target {
    plugin: String,
    command: String,
}

/// The MCP face of one agent token.
#[derive(Debug, Clone)]
pub struct WardMcp {
    socket: PathBuf,
    token: AgentToken,
    tools: Arc<Mutex<HashMap<String, Target>>>,
}

impl WardMcp {
    /// A server talking to the agent socket at `socket` with `token`.
    pub fn new(socket: PathBuf, token: AgentToken) -> WardMcp {
        WardMcp {
            socket,
            token,
            tools: Arc::default(),
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), DaemonFailure> {
        ward_daemon::client::request(
            &self.socket,
            method,
            path,
            Some(self.token.expose()),
            body,
        )
        .await
        .map(|(s, v)| (s.as_u16(), v))
        .map_err(|e| {
            DaemonFailure::Unreachable(format!(
                "cannot reach wardd on {}: {e} (is the daemon running? the operator starts it with `ward daemon`)",
                self.socket.display()
            ))
        })
    }

    /// Asks the daemon which commands the token allows and rebuilds the tool table.
    async fn fetch_tools(&self) -> Result<Vec<Tool>, DaemonFailure> {
        let (status, body) = self.request(Method::GET, "/v1/commands", None).await?;
        if body["ok"] != json!(true) {
            return Err(DaemonFailure::from_reply(status, &body));
        }
        let mut tools = Vec::new();
        let mut table: HashMap<String, Target> = HashMap::new();
        for c in body["commands"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let (Some(plugin), Some(command)) = (c["plugin"].as_str(), c["command"].as_str())
            else {
                continue;
            };
            let Some(schema) = input_schema(&c["schema"]) else {
                tracing::warn!(
                    "{plugin} {command}: no usable argument schema; not offered as a tool"
                );
                continue;
            };
            let name = tool_name(plugin, command, &|n| table.contains_key(n));
            let mut tool = Tool::new(name.clone(), description(c), schema);
            tool.title = Some(ward_policy::text::sanitize_line(
                &format!("{plugin} {command}"),
                MAX_DESCRIPTION_BYTES,
            ));
            if c["confirm"] == json!(true) {
                tool.annotations = Some(ToolAnnotations::default().read_only(false));
            }
            table.insert(
                name,
                Target {
                    plugin: plugin.to_owned(),
                    command: command.to_owned(),
                },
            );
            tools.push(tool);
        }
        tools.push(propose_tool());
        tools.push(confirmation_tool());
        *self.tools.lock().unwrap_or_else(|e| e.into_inner()) = table;
        Ok(tools)
    }

    fn lookup(&self, name: &str) -> Option<Target> {
        self.tools
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    async fn call(&self, name: &str, args: JsonObject) -> Result<CallToolResult, McpError> {
        if name == PROPOSE_TOOL {
            return Ok(self.propose(&args).await);
        }
        if name == CONFIRMATION_TOOL {
            return Ok(self.confirmation(&args).await);
        }
        let target = match self.lookup(name) {
            Some(t) => t,
            None => {
                // Not listed yet (or listed by an earlier token state): ask the daemon again.
                if let Err(f) = self.fetch_tools().await {
                    return Ok(f.into_result());
                }
                match self.lookup(name) {
                    Some(t) => t,
                    None => {
                        // Refused here, but decided and audited by the daemon: a run of what the
                        // agent asked for, which no token's scope covers (a tool name is never a
                        // plugin name), is an audited `out-of-scope` denial.
                        let body = json!({ "plugin": name, "command": name, "args": {} });
                        let _ = self.request(Method::POST, "/v1/run", Some(&body)).await;
                        return Err(McpError::invalid_params(
                            format!(
                                "unknown tool {name}: it is not a command this agent token may run"
                            ),
                            None,
                        ));
                    }
                }
            }
        };
        let body = json!({
            "plugin": target.plugin,
            "command": target.command,
            "args": Value::Object(args),
        });
        Ok(
            match self.request(Method::POST, "/v1/run", Some(&body)).await {
                Ok((status, reply)) => run_result(status, &reply),
                Err(f) => f.into_result(),
            },
        )
    }

    async fn propose(&self, args: &JsonObject) -> CallToolResult {
        let body = match proposal_body(args) {
            Ok(b) => b,
            Err(message) => return local_error("invalid-proposal", message),
        };
        match self
            .request(Method::POST, "/v1/proposals", Some(&body))
            .await
        {
            Ok((_, reply)) if reply["ok"] == json!(true) => {
                let id = reply["id"].as_str().unwrap_or("?");
                let mut r = CallToolResult::success(vec![ContentBlock::text(format!(
                    "proposal {id} submitted and pending the operator's review (examples passed: {}); \
                     nothing is installed or granted until the operator approves it with \
                     `ward proposals approve {id}`. Report: {}",
                    reply["examples_passed"], reply["report"]
                ))]);
                r.structured_content = Some(reply);
                r
            }
            Ok((status, reply)) => DaemonFailure::from_reply(status, &reply).into_result(),
            Err(f) => f.into_result(),
        }
    }

    async fn confirmation(&self, args: &JsonObject) -> CallToolResult {
        let Some(id) = args.get("id").and_then(Value::as_str) else {
            return local_error(
                "invalid-arguments",
                "id: expected the confirmation id (cf_...) as a string",
            );
        };
        let well_formed = id.len() <= 128
            && id.starts_with("cf_")
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return local_error(
                "invalid-arguments",
                "id: not a confirmation id (expected cf_ followed by letters and digits)",
            );
        }
        match self
            .request(Method::GET, &format!("/v1/confirmations/{id}"), None)
            .await
        {
            Ok((_, reply)) if reply["ok"] == json!(true) => {
                let c = &reply["confirmation"];
                let state = c["state"].as_str().unwrap_or("unknown");
                let next = match state {
                    "approved" => {
                        "approved: call the tool again with exactly the same arguments; it runs once"
                    }
                    "pending" => "still waiting for the operator",
                    "used" => "already used: the approved call ran",
                    _ => "it will not run; a new call asks for a new confirmation",
                };
                let mut r = CallToolResult::success(vec![ContentBlock::text(format!(
                    "confirmation {id} is {state} ({next}): {}",
                    c["summary"].as_str().unwrap_or("")
                ))]);
                r.structured_content = Some(c.clone());
                r
            }
            Ok((status, reply)) => DaemonFailure::from_reply(status, &reply).into_result(),
            Err(f) => f.into_result(),
        }
    }
}

/// The daemon's schema as an MCP `inputSchema` (always an object): a command-line program's
/// argument array becomes the `argv` property; an unsupported command has none.
fn input_schema(schema: &Value) -> Option<JsonObject> {
    match schema {
        Value::Object(o) if o.get("type") == Some(&json!("object")) => Some(o.clone()),
        Value::Object(o) if o.get("type") == Some(&json!("array")) => {
            let mut items = o.clone();
            let draft = items.remove("$schema");
            let mut wrapped = json!({
                "type": "object",
                "properties": { "argv": Value::Object(items) },
                "required": ["argv"],
                "additionalProperties": false,
            });
            if let Some(d) = draft {
                wrapped["$schema"] = d;
            }
            wrapped.as_object().cloned()
        }
        _ => None,
    }
}

fn description(c: &Value) -> String {
    let mut text = c["description"].as_str().unwrap_or("").trim().to_owned();
    if let Some(sig) = c["signature"].as_str() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str("WIT: ");
        text.push_str(sig);
    }
    if c["confirm"] == json!(true) {
        text.push_str(
            "\n\nNeeds the operator's confirmation: a call first answers pending with a \
             confirmation id, and runs once the operator approved it and the same call is made again.",
        );
    }
    ward_policy::text::sanitize(&cut(&text, MAX_DESCRIPTION_BYTES), true)
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn object_schema(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

fn propose_tool() -> Tool {
    let mut t = Tool::new(
        PROPOSE_TOOL,
        "Propose a new capability: submit an unsigned WebAssembly component with its manifest \
         embedded (`ward pack`) for the operator to review. ward reports its imports, the \
         capabilities it asks for and the difference from the installed version, and runs its \
         examples in a sandbox with nothing granted. Nothing is installed or granted until the \
         operator approves it. Give exactly one of component_path or component_base64.",
        object_schema(json!({
            "type": "object",
            "properties": {
                "component_path": {
                    "type": "string",
                    "description": "path of the .wasm component, as seen by the ward mcp process"
                },
                "component_base64": {
                    "type": "string",
                    "description": "the component's bytes, base64 (standard alphabet)"
                },
                "examples": {
                    "type": ["object", "string"],
                    "description": "the examples: the examples file's JSON form ({\"example\": [{\"command\", \"args\", \"expect\"}], optional HTTP fixtures}), or the file's text (TOML or JSON)"
                },
                "source": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "the component's source files, path -> text, for the report's source diff"
                }
            },
            "additionalProperties": false
        })),
    );
    t.annotations = Some(
        ToolAnnotations::default()
            .read_only(false)
            .destructive(false),
    );
    t
}

fn confirmation_tool() -> Tool {
    let mut t = Tool::new(
        CONFIRMATION_TOOL,
        "Tell whether a confirmation a call is waiting on was decided: pending, approved, \
         denied, expired or used. Only the operator approves or denies.",
        object_schema(json!({
            "type": "object",
            "properties": {
                "id": { "type": "string", "description": "the confirmation id (cf_...)" }
            },
            "required": ["id"],
            "additionalProperties": false
        })),
    );
    t.annotations = Some(ToolAnnotations::default().read_only(true));
    t
}

/// The body of `POST /v1/proposals`: `component_base64`, and `examples` (the examples file's
/// JSON form) and `source` (path -> text) when given.
fn proposal_body(args: &JsonObject) -> Result<Value, String> {
    let component = proposal_component(args)?;
    let mut body = json!({
        "component_base64": base64::engine::general_purpose::STANDARD.encode(&component),
    });
    match args.get("examples") {
        None | Some(Value::Null) => {}
        Some(e) => body["examples"] = examples_json(e)?,
    }
    match args.get("source") {
        None | Some(Value::Null) => {}
        Some(Value::Object(files)) => {
            let mut total = 0usize;
            for (path, text) in files {
                let Some(text) = text.as_str() else {
                    return Err(format!("source: {path} must map to the file's text"));
                };
                total = total.saturating_add(path.len() + text.len());
            }
            if total > MAX_PROPOSAL_SOURCE_BYTES {
                return Err(format!(
                    "source is larger than {MAX_PROPOSAL_SOURCE_BYTES} bytes"
                ));
            }
            body["source"] = Value::Object(files.clone());
        }
        Some(_) => return Err("source must be an object: file path -> text".to_owned()),
    }
    Ok(body)
}

/// The examples as the daemon takes them (the examples file's JSON form): an object as is, or
/// the text of an examples file, JSON or TOML.
fn examples_json(e: &Value) -> Result<Value, String> {
    match e {
        Value::Object(_) => {
            if e.to_string().len() > MAX_PROPOSAL_EXAMPLES_BYTES {
                return Err(format!(
                    "examples is larger than {MAX_PROPOSAL_EXAMPLES_BYTES} bytes"
                ));
            }
            Ok(e.clone())
        }
        Value::String(text) => {
            if text.len() > MAX_PROPOSAL_EXAMPLES_BYTES {
                return Err(format!(
                    "examples is larger than {MAX_PROPOSAL_EXAMPLES_BYTES} bytes"
                ));
            }
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
                return Ok(v);
            }
            toml::from_str::<Value>(text)
                .map_err(|err| format!("examples is neither a JSON object nor TOML: {err}"))
        }
        _ => {
            Err("examples must be an object or the examples file's text (TOML or JSON)".to_owned())
        }
    }
}

/// The component bytes of a proposal: read from `component_path` or decoded from
/// `component_base64`, bounded, and checked to be a component.
fn proposal_component(args: &JsonObject) -> Result<Vec<u8>, String> {
    if let Some(k) = args.keys().find(|k| {
        !["component_path", "component_base64", "examples", "source"].contains(&k.as_str())
    }) {
        return Err(format!(
            "unknown argument {k}: expected component_path or component_base64, examples and source"
        ));
    }
    let bytes = match (args.get("component_path"), args.get("component_base64")) {
        (Some(Value::String(p)), None) => read_component(Path::new(p))?,
        (None, Some(Value::String(b))) => {
            if b.len() as u64 > MAX_PROPOSAL_COMPONENT_BYTES.div_ceil(3) * 4 + 4 {
                return Err(format!(
                    "component_base64 holds more than {MAX_PROPOSAL_COMPONENT_BYTES} bytes"
                ));
            }
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| format!("component_base64 is not valid base64: {e}"))?
        }
        (None, None) => return Err("give component_path or component_base64".to_owned()),
        (Some(_), Some(_)) => {
            return Err("give only one of component_path and component_base64".to_owned());
        }
        _ => return Err("component_path and component_base64 must be strings".to_owned()),
    };
    if bytes.len() as u64 > MAX_PROPOSAL_COMPONENT_BYTES {
        return Err(format!(
            "the component is larger than {MAX_PROPOSAL_COMPONENT_BYTES} bytes"
        ));
    }
    if !bytes.starts_with(&COMPONENT_HEADER) {
        return Err(
            "not a WebAssembly component (a proposal is a component with its manifest embedded: see `ward pack`)"
                .to_owned(),
        );
    }
    Ok(bytes)
}

fn read_component(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown} is not a regular file"));
    }
    if meta.len() > MAX_PROPOSAL_COMPONENT_BYTES {
        return Err(format!(
            "{shown} is larger than {MAX_PROPOSAL_COMPONENT_BYTES} bytes"
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PROPOSAL_COMPONENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(bytes)
}

impl ServerHandler for WardMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("ward", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "ward runs signed WebAssembly plugins in a sandbox. Each tool is a command this \
                 agent token may run; its arguments are checked against the command's WIT types. \
                 A command that needs the operator's confirmation answers pending: it has not run. \
                 propose_capability submits a new component for the operator's review. Agents \
                 cannot install, grant, approve or confirm anything.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        match self.fetch_tools().await {
            Ok(tools) => Ok(ListToolsResult::with_all_items(tools)),
            Err(f) => {
                tracing::warn!("tools/list refused: {}", f.text());
                Err(McpError::internal_error(f.text(), None))
            }
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        self.call(&request.name, args)
            .await
            .map(CallToolResponse::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn input_schemas_table() {
        let func = json!({"$schema": "d", "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
        assert_eq!(Value::Object(input_schema(&func).unwrap()), func);
        let cli = json!({"$schema": "d", "description": "argv", "type": "array", "items": {"type": "string"}});
        assert_eq!(
            Value::Object(input_schema(&cli).unwrap()),
            json!({"$schema": "d", "type": "object", "additionalProperties": false, "required": ["argv"],
                   "properties": {"argv": {"description": "argv", "type": "array", "items": {"type": "string"}}}})
        );
        assert!(input_schema(&json!(false)).is_none());
        assert!(input_schema(&json!({"type": "string"})).is_none());
    }

    #[test]
    fn descriptions_are_sanitized_and_bounded() {
        let d = description(&json!({
            "description": "Say hello\u{1b}[2J\u{202e}", "signature": "greet: func(name: string) -> string",
            "confirm": true,
        }));
        assert!(
            d.starts_with("Say hello\u{fffd}[2J\u{fffd}\n\nWIT: greet: func"),
            "{d}"
        );
        assert!(d.contains("Needs the operator's confirmation"));
        let long = description(&json!({"description": "é".repeat(3000)}));
        assert!(long.len() <= MAX_DESCRIPTION_BYTES + '…'.len_utf8());
    }

    #[test]
    fn proposal_components_table() {
        let dir = tempfile::tempdir().unwrap();
        let comp = dir.path().join("c.wasm");
        let mut bytes = COMPONENT_HEADER.to_vec();
        bytes.extend_from_slice(b"rest");
        std::fs::write(&comp, &bytes).unwrap();
        let core = dir.path().join("core.wasm");
        std::fs::write(&core, [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]).unwrap();
        let secret = dir.path().join("id_ed25519");
        std::fs::write(&secret, "-----BEGIN OPENSSH PRIVATE KEY-----").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);

        let p = |v: Value| proposal_component(&obj(v));
        assert_eq!(p(json!({"component_path": comp})).unwrap(), bytes);
        assert_eq!(
            p(json!({"component_base64": b64, "examples": "x"})).unwrap(),
            bytes
        );
        let not_component = "not a WebAssembly component (a proposal is a component with its manifest embedded: see `ward pack`)";
        assert_eq!(
            p(json!({"component_path": core})).unwrap_err(),
            not_component
        );
        assert_eq!(
            p(json!({"component_path": secret})).unwrap_err(),
            not_component
        );
        assert_eq!(
            p(json!({})).unwrap_err(),
            "give component_path or component_base64"
        );
        assert_eq!(
            p(json!({"component_path": comp, "component_base64": b64})).unwrap_err(),
            "give only one of component_path and component_base64"
        );
        assert!(
            p(json!({"component_path": dir.path()}))
                .unwrap_err()
                .ends_with("is not a regular file")
        );
        assert!(
            p(json!({"component_base64": "!!"}))
                .unwrap_err()
                .starts_with("component_base64 is not valid base64")
        );
        assert!(
            p(json!({"component_path": 1}))
                .unwrap_err()
                .contains("must be strings")
        );
        assert!(
            p(json!({"component_path": comp, "grant": true}))
                .unwrap_err()
                .starts_with("unknown argument grant")
        );
        let big = "A".repeat((MAX_PROPOSAL_COMPONENT_BYTES as usize / 3) * 4 + 100);
        // The body the daemon takes: base64 component, examples in JSON form, source files.
        let body = proposal_body(&obj(json!({
            "component_path": comp,
            "examples": "[[example]]\ncommand = \"greet\"\nargs = { name = \"Ada\" }\nexpect = \"Hello, Ada!\"\n",
            "source": {"src/lib.rs": "fn main() {}"},
        })))
        .unwrap();
        assert_eq!(body["component_base64"], b64.as_str());
        assert_eq!(
            body["examples"],
            json!({"example": [{"command": "greet", "args": {"name": "Ada"}, "expect": "Hello, Ada!"}]})
        );
        assert_eq!(body["source"], json!({"src/lib.rs": "fn main() {}"}));
        let same = proposal_body(&obj(json!({"component_base64": b64,
            "examples": r#"{"example": [{"command": "greet", "args": {"name": "Ada"}, "expect": "Hello, Ada!"}]}"#})))
        .unwrap();
        assert_eq!(same["examples"], body["examples"]);
        let err = |v: Value| proposal_body(&obj(v)).unwrap_err();
        assert!(
            err(json!({"component_base64": b64, "examples": "[[nope"}))
                .starts_with("examples is neither a JSON object nor TOML")
        );
        assert!(
            err(json!({"component_base64": b64, "examples": 3}))
                .starts_with("examples must be an object")
        );
        assert_eq!(
            err(json!({"component_base64": b64, "source": {"a": 1}})),
            "source: a must map to the file's text"
        );
        assert!(err(json!({"component_base64": b64, "source": {"a": "x".repeat(MAX_PROPOSAL_SOURCE_BYTES)}})).starts_with("source is larger"));
        assert!(
            p(json!({"component_base64": big}))
                .unwrap_err()
                .contains("holds more than")
        );
    }
}
