//! {{plugin}}: a ward plugin written in Rust. Its commands are declared in `wit/{{name}}.wit`.

mod bindings {
    ward_sdk::generate!({
        world: "{{namespace}}:{{name}}/{{name}}@0.1.0",
        path: "wit",
    });
}

struct Plugin;

impl bindings::Guest for Plugin {
    fn greet(name: String) -> Result<String, String> {
        if name.is_empty() {
            return Err("name is empty".to_string());
        }
        ward_sdk::log::info("greet called");
        Ok(format!("Hello, {name}!"))
    }
}

bindings::export!(Plugin with_types_in bindings);
