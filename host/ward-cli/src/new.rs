//! `ward new`: scaffolds a plugin project in Rust, Python or JavaScript.
//!
//! Every template is embedded in the binary. A project holds its code, its `ward.toml`, its WIT
//! world (with the `ward:plugin` package this ward was built with under `wit/deps/`), a
//! `build.sh` that makes `NAME.wasm`, and a README with the build, pack, sign, install and run
//! commands. The folder is written in full under a temporary name beside it and then renamed, so
//! an error leaves nothing half-written; an existing path is never overwritten.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::Failure;
use crate::cli::{Lang, NewArgs};

/// The componentize-py version the Python template is written for (pinned in
/// `plugins/toolchains/py/requirements.txt`).
const COMPONENTIZE_PY: &str = "0.25.1";

/// The componentize-qjs version the JavaScript template is written for (pinned in
/// `plugins/toolchains/js/package-lock.json`).
const COMPONENTIZE_QJS: &str = "0.4.5";

/// The namespace of a plugin named without one.
const DEFAULT_NAMESPACE: &str = "example";

/// `ward:plugin`, copied into each project as `wit/deps/ward-plugin/plugin.wit`.
const PLUGIN_WIT: &str = include_str!("../../../wit/plugin.wit");

/// The SDK folder of the source tree this binary was built from; the default for `--sdk`.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk");

/// One file of a template: its path in the project, its text, and whether it is executable.
struct File {
    path: &'static str,
    text: &'static str,
    executable: bool,
}

const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: false,
    }
}

const fn script(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        executable: true,
    }
}

/// Files every project has; `wit/NAME.wit` is added with the project's name.
const COMMON: &[File] = &[
    file("ward.toml", include_str!("../templates/common/ward.toml")),
    file("wit/deps/ward-plugin/plugin.wit", PLUGIN_WIT),
];

const WORLD: &str = include_str!("../templates/common/world.wit");
const SHIP: &str = include_str!("../templates/common/ship.md");

const RUST: &[File] = &[
    file(
        "Cargo.toml",
        include_str!("../templates/rust/Cargo.toml.in"),
    ),
    file("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
    script("build.sh", include_str!("../templates/rust/build.sh")),
    file("README.md", include_str!("../templates/rust/README.md")),
    file(".gitignore", include_str!("../templates/rust/gitignore")),
];

const PYTHON: &[File] = &[
    file("app.py", include_str!("../templates/python/app.py")),
    script("build.sh", include_str!("../templates/python/build.sh")),
    file("README.md", include_str!("../templates/python/README.md")),
    file(".gitignore", include_str!("../templates/python/gitignore")),
];

const JS: &[File] = &[
    file("app.js", include_str!("../templates/js/app.js")),
    file(
        "package.json",
        include_str!("../templates/js/package.json.in"),
    ),
    script("build.sh", include_str!("../templates/js/build.sh")),
    file("README.md", include_str!("../templates/js/README.md")),
    file(".gitignore", include_str!("../templates/js/gitignore")),
];

pub(crate) fn new(args: NewArgs) -> Result<(), Failure> {
    let (namespace, name) = plugin_name(&args.name).map_err(Failure::usage)?;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => PathBuf::from(&name),
    };
    let sdk = match args.lang {
        Lang::Rust => Some(sdk_path(args.sdk.as_deref()).map_err(Failure::usage)?),
        Lang::Python | Lang::Js => None,
    };
    let vars = Vars {
        plugin: format!("{namespace}:{name}"),
        world: format!("{namespace}:{name}/{name}@0.1.0"),
        lib: name.replace('-', "_"),
        sdk: sdk.as_deref().map(toml_escape).unwrap_or_default(),
        namespace,
        name,
    };
    let files = match args.lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
    };
    write_project(&dir, &vars, files).map_err(Failure::usage)?;
    eprintln!(
        "created {} ({}) in {}\nnext: cd {} && see README.md (build: sh build.sh)",
        vars.plugin,
        args.lang.label(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// The values a template refers to as `{{key}}`.
struct Vars {
    plugin: String,
    namespace: String,
    name: String,
    world: String,
    lib: String,
    sdk: String,
}

impl Vars {
    fn render(&self, text: &str) -> String {
        text.replace("{{plugin}}", &self.plugin)
            .replace("{{namespace}}", &self.namespace)
            .replace("{{name}}", &self.name)
            .replace("{{world}}", &self.world)
            .replace("{{lib}}", &self.lib)
            .replace("{{sdk}}", &self.sdk)
            .replace("{{componentize_py}}", COMPONENTIZE_PY)
            .replace("{{componentize_qjs}}", COMPONENTIZE_QJS)
    }
}

/// Splits and checks `namespace:name` (or `name`, in the default namespace). Both parts must be
/// plugin-name identifiers whose every `-`-separated word starts with a letter, so that they are
/// also WIT, crate and file names.
fn plugin_name(text: &str) -> anyhow::Result<(String, String)> {
    let full = if text.contains(':') {
        text.to_owned()
    } else {
        format!("{DEFAULT_NAMESPACE}:{text}")
    };
    let parsed = ward_manifest::PluginName::parse(&full)
        .map_err(|message| anyhow::anyhow!("invalid plugin name: {message}"))?;
    for (what, part) in [("namespace", &parsed.namespace), ("name", &parsed.name)] {
        if ward_values::WIT_KEYWORDS.contains(&part.as_str()) {
            bail!(
                "invalid plugin name: the {what} '{part}' is a WIT keyword: choose another, \
                 such as my-{part}"
            );
        }
        if let Some(word) = part
            .split('-')
            .find(|word| !word.starts_with(|c: char| c.is_ascii_lowercase()))
        {
            bail!(
                "invalid plugin name: the {what} '{part}' has the word '{word}', which does not \
                 start with a letter a-z (WIT requires it)"
            );
        }
    }
    Ok((parsed.namespace, parsed.name))
}

/// The absolute path of the ward-sdk folder for a Rust project: `--sdk`, or the SDK of the
/// source tree this ward was built from. It must hold ward-sdk's Cargo.toml.
fn sdk_path(given: Option<&Path>) -> anyhow::Result<String> {
    let (dir, hint) = match given {
        Some(dir) => (dir.to_path_buf(), "--sdk"),
        None => (
            PathBuf::from(BUILT_SDK),
            "the SDK of the source tree ward was built from; pass --sdk PATH to a ward \
             checkout's sdk folder",
        ),
    };
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {} ({hint})", manifest.display()))?;
    if !text
        .lines()
        .any(|line| line.trim() == "name = \"ward-sdk\"")
    {
        bail!(
            "{} is not ward-sdk's Cargo.toml ({hint})",
            manifest.display()
        );
    }
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    dir.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not valid UTF-8", dir.display()))
}

/// `text` as the inside of a TOML basic string.
fn toml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Writes every file under a temporary folder beside `dir`, then renames it to `dir`.
fn write_project(dir: &Path, vars: &Vars, files: &[File]) -> anyhow::Result<()> {
    if dir.symlink_metadata().is_ok() {
        bail!(
            "{} already exists: choose another NAME or --dir",
            dir.display()
        );
    }
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".ward-new-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
    let mut all: Vec<(String, String, bool)> = Vec::new();
    for f in COMMON.iter().chain(files) {
        let mut text = vars.render(f.text);
        if f.path == "README.md" {
            text.push_str(&vars.render(SHIP));
        }
        all.push((f.path.to_owned(), text, f.executable));
    }
    all.push((format!("wit/{}.wit", vars.name), vars.render(WORLD), false));
    for (path, text, executable) in &all {
        let target = staging.path().join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot create {}", folder.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
        if *executable {
            make_executable(&target)?;
        }
    }
    std::fs::rename(staging.path(), dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    // The staging folder is now `dir`; nothing is left to clean up.
    let _ = staging.keep();
    Ok(())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn plugin_names_are_checked_and_defaulted() {
        assert_eq!(
            plugin_name("greeter").unwrap(),
            ("example".to_owned(), "greeter".to_owned())
        );
        assert_eq!(
            plugin_name("acme:my-tool").unwrap(),
            ("acme".to_owned(), "my-tool".to_owned())
        );
        for (bad, says) in [
            ("Greeter", "uppercase"),
            ("a:b:c", "invalid plugin name"),
            ("tool-2x", "the word '2x'"),
            ("../evil", "invalid plugin name"),
            ("", "invalid plugin name"),
            ("type", "WIT keyword"),
            ("record:tool", "WIT keyword"),
        ] {
            let err = plugin_name(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn toml_escape_keeps_the_path_one_string() {
        assert_eq!(toml_escape(r#"C:\a "b""#), r#"C:\\a \"b\""#);
        assert_eq!(toml_escape("a\nb"), "a\\u000Ab");
    }

    #[test]
    fn every_placeholder_is_filled() {
        let vars = Vars {
            plugin: "acme:tool".into(),
            namespace: "acme".into(),
            name: "tool".into(),
            world: "acme:tool/tool@0.1.0".into(),
            lib: "tool".into(),
            sdk: "/sdk".into(),
        };
        for f in COMMON.iter().chain(RUST).chain(PYTHON).chain(JS) {
            let text = vars.render(f.text);
            assert!(!text.contains("{{"), "{} keeps a placeholder", f.path);
        }
        assert!(!vars.render(WORLD).contains("{{"));
        assert!(!vars.render(SHIP).contains("{{"));
    }

    #[test]
    fn an_existing_folder_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("keep"), "mine").unwrap();
        let vars = Vars {
            plugin: "acme:p".into(),
            namespace: "acme".into(),
            name: "p".into(),
            world: "acme:p/p@0.1.0".into(),
            lib: "p".into(),
            sdk: String::new(),
        };
        let err = write_project(&dir, &vars, PYTHON).unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join("keep")).unwrap(), "mine");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
