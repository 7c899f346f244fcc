//! Guest SDK for ward plugins written in Rust.
//!
//! A ward plugin is a WebAssembly component built for `wasm32-wasip2` whose world includes
//! `ward:plugin/plugin@0.1.0` and exports its commands as top-level functions. This crate gives such
//! a plugin:
//!
//! - [`log`]: the `ward:plugin/log` import as plain functions (`ward_sdk::log::info("...")`);
//! - [`generate!`]: `wit_bindgen::generate!` preset to reuse this crate's `ward:plugin/log`
//!   bindings and its copy of the `wit-bindgen` runtime, so a plugin depends on `ward-sdk` only;
//! - [`wit_bindgen`]: the re-exported bindings generator, for anything the preset does not cover.
//!
//! The SDK has no host dependencies and grants nothing by itself: a plugin's authority comes only
//! from what the operator grants to its signed digest. See `README.md` for a complete example.

#![forbid(unsafe_op_in_unsafe_fn)]

/// The bindings generator this SDK was built with (`wit-bindgen` 0.61).
///
/// Re-exported so that a plugin does not need to pin a matching version of its own.
pub use wit_bindgen;

/// Bindings generated from `wit/plugin.wit` for the world `ward:plugin/plugin@0.1.0`.
///
/// Plugins normally use [`log`] instead. The module path `ward_sdk::bindings::ward::plugin::log` is
/// what [`generate!`] passes to `wit_bindgen::generate!`'s `with` option.
pub mod bindings {
    #![allow(missing_docs)]
    wit_bindgen::generate!({
        world: "ward:plugin/plugin@0.1.0",
        path: "../wit",
    });
}

/// Diagnostics from the plugin to the operator's log (`ward:plugin/log`).
///
/// Lines are attributed to the plugin by the host, truncated to a bounded length and counted
/// against the call's output limit; they never reach the caller of the command. Do not log
/// secrets or request content.
pub mod log {
    pub use crate::bindings::ward::plugin::log::Level;

    /// Records one line in the host's log at `level`.
    pub fn log(level: Level, message: &str) {
        crate::bindings::ward::plugin::log::log(level, message);
    }

    /// Records one line at [`Level::Trace`].
    pub fn trace(message: &str) {
        log(Level::Trace, message);
    }

    /// Records one line at [`Level::Debug`].
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }

    /// Records one line at [`Level::Info`].
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Records one line at [`Level::Warn`].
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Records one line at [`Level::Error`].
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// Generates bindings for a plugin's own world, reusing the SDK's `ward:plugin/log` bindings.
///
/// Takes the same braced options as [`wit_bindgen::generate!`] and adds two of its own:
/// `runtime_path` (the SDK's re-exported `wit_bindgen`) and a `with` entry mapping
/// `ward:plugin/log@0.1.0` to [`bindings::ward::plugin::log`], so the generated code and
/// [`log`] share one `Level` type and one import. Further `with` entries may be given and are
/// merged; `runtime_path` must not be given again.
///
/// The expansion names the SDK as `::ward_sdk`, so the dependency must not be renamed in the
/// plugin's `Cargo.toml`. The world must include `ward:plugin/plugin@0.1.0` (an unused `with`
/// entry is an error in `wit-bindgen`); the WIT folder holding `ward:plugin` is given with `path`.
///
/// ```ignore
/// ward_sdk::generate!({
///     inline: r#"
///         package example:hello;
///
///         world hello {
///             include ward:plugin/plugin@0.1.0;
///             export greet: func(name: string) -> string;
///         }
///     "#,
///     path: "../../wit",
/// });
///
/// struct Hello;
///
/// impl Guest for Hello {
///     fn greet(name: String) -> String {
///         ward_sdk::log::info("greeting");
///         format!("Hello, {name}!")
///     }
/// }
///
/// export!(Hello);
/// ```
#[macro_export]
macro_rules! generate {
    ({ $($options:tt)* }) => {
        $crate::wit_bindgen::generate!({
            runtime_path: "::ward_sdk::wit_bindgen::rt",
            with: {
                "ward:plugin/log@0.1.0": ::ward_sdk::bindings::ward::plugin::log,
            },
            $($options)*
        });
    };
}
