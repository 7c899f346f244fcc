//! `ward-sign`: keys, signing and verification of ward plugins, for publishers and CI.
//!
//! Exit codes: 0 success; 1 verification failed or the input was refused (bad or missing
//! signature, policy not met, insecure key file, wrong passphrase); 2 usage or I/O error.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use ward_signing::{
    KeyError, MAX_ENVELOPE_SIZE, MAX_KEY_FILE_SIZE, PublicKey, SecretKey, TrustPolicy, VerifyError,
    inspect, read_secret_file, sign, sign_detached, strip,
};
use zeroize::Zeroizing;

/// Largest component read. Threat: a path to a huge file or a device filling memory.
const MAX_COMPONENT_SIZE: u64 = 256 * 1024 * 1024;
/// Environment variable that may hold a secret key file's contents (for CI).
const KEY_ENV: &str = "WARD_SIGNING_KEY";
/// Plugin name used by `verify --key` when no `--plugin` is given (a single key has scope `*`).
const ANY_PLUGIN: &str = "any:plugin";

#[derive(Parser)]
#[command(
    name = "ward-sign",
    version,
    about = "Sign and verify ward plugins (WebAssembly components)"
)]
struct Cli {
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Never prompt; fail instead (implied when the CI variable is set).
    #[arg(long, global = true)]
    non_interactive: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub (OpenSSH line).
    Keygen {
        /// Path prefix of the two files.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Store the secret key without a passphrase (tests only).
        #[arg(long)]
        unencrypted: bool,
    },
    /// Sign a component (embedded signature, added to any already there, or detached).
    Sign {
        /// Secret key file; without it the key is read from WARD_SIGNING_KEY.
        #[arg(long)]
        key: Option<PathBuf>,
        #[command(flatten)]
        pass: PassArgs,
        /// Component to sign.
        input: PathBuf,
        /// Output: the signed component, or with --detached the .sig file (added to if it exists).
        #[arg(short, long)]
        output: PathBuf,
        /// Write a detached signature instead of embedding it.
        #[arg(long)]
        detached: bool,
    },
    /// Verify a component's signatures against one key or a trust store.
    Verify {
        /// Public key that must have signed (ward .pub, wasmsign2 .pub or `ed25519:<hex>` file).
        #[arg(long, conflicts_with = "trust", required_unless_present = "trust")]
        key: Option<PathBuf>,
        /// Trust store (TOML) whose policy must be met.
        #[arg(long)]
        trust: Option<PathBuf>,
        /// Plugin name `ns:name` the policy is applied to (required with --trust).
        #[arg(long)]
        plugin: Option<String>,
        /// Detached signature file.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Component to verify.
        input: PathBuf,
    },
    /// Show a component's digest and signatures without verifying them.
    Inspect {
        /// Detached signature file.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Component to inspect.
        input: PathBuf,
    },
    /// Remove the signature section.
    Strip {
        /// Component to strip.
        input: PathBuf,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Args)]
struct PassArgs {
    /// Read the passphrase from this environment variable instead of the terminal.
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
}

/// An error that means "refused" (exit 1) rather than "could not run" (exit 2).
#[derive(Debug)]
struct Refused(anyhow::Error);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(e: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Refused(e.into()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let interactive = !cli.non_interactive && std::env::var_os("CI").is_none();
    let result = match cli.cmd {
        Cmd::Keygen {
            out,
            pass,
            unencrypted,
        } => keygen(&out, &pass, unencrypted, interactive, cli.json),
        Cmd::Sign {
            key,
            pass,
            input,
            output,
            detached,
        } => sign_cmd(
            key.as_deref(),
            &pass,
            &input,
            &output,
            detached,
            interactive,
            cli.json,
        ),
        Cmd::Verify {
            key,
            trust,
            plugin,
            signature,
            input,
        } => verify_cmd(
            key.as_deref(),
            trust.as_deref(),
            plugin.as_deref(),
            signature.as_deref(),
            &input,
            cli.json,
        ),
        Cmd::Inspect { signature, input } => inspect_cmd(signature.as_deref(), &input, cli.json),
        Cmd::Strip { input, output } => strip_cmd(&input, &output),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("ward-sign: {e:#}");
            if e.downcast_ref::<Refused>().is_some() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.write_all(b"\n")?;
    stdout.flush()?;
    Ok(())
}

fn read_component(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_capped(path, MAX_COMPONENT_SIZE)
}

/// Reads at most `max` bytes; a larger file is refused rather than loaded.
fn read_capped(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut data = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("reading {}", path.display()))?;
    if data.len() as u64 > max {
        return Err(refused(anyhow!(
            "{} is larger than {max} bytes",
            path.display()
        )));
    }
    Ok(data)
}

/// Reads a detached signature file (an envelope, bounded like an embedded one).
fn read_signature(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_capped(path, MAX_ENVELOPE_SIZE as u64)
}

/// Writes through a temporary file in the same directory, then renames: never a half-written file.
fn write_atomic(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn passphrase(
    pass: &PassArgs,
    interactive: bool,
    confirm: bool,
) -> anyhow::Result<Zeroizing<String>> {
    if let Some(var) = &pass.passphrase_env {
        let value = Zeroizing::new(
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?,
        );
        if value.is_empty() {
            bail!("environment variable {var} is empty");
        }
        return Ok(value);
    }
    if !interactive || !std::io::stderr().is_terminal() {
        bail!("a passphrase is needed and no terminal is available; pass --passphrase-env VAR");
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("passphrase: ").context("reading the passphrase")?,
    );
    if first.is_empty() {
        bail!("empty passphrase; use --unencrypted for a test key");
    }
    if confirm {
        let second = Zeroizing::new(
            rpassword::prompt_password("passphrase (again): ").context("reading the passphrase")?,
        );
        if first != second {
            bail!("passphrases differ");
        }
    }
    Ok(first)
}

fn key_error(e: KeyError) -> anyhow::Error {
    match e {
        KeyError::InsecurePermissions { .. } | KeyError::WrongPassphrase => refused(e),
        other => other.into(),
    }
}

fn keygen(
    prefix: &Path,
    pass: &PassArgs,
    unencrypted: bool,
    interactive: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let key_path = with_suffix(prefix, "key");
    let pub_path = with_suffix(prefix, "pub");
    for p in [&key_path, &pub_path] {
        if p.exists() {
            bail!("{} already exists; choose another --out", p.display());
        }
    }
    let passphrase = if unencrypted {
        eprintln!(
            "ward-sign: warning: {} is stored WITHOUT a passphrase; use such keys only in tests",
            key_path.display()
        );
        None
    } else {
        Some(passphrase(pass, interactive, true)?)
    };
    let key = SecretKey::generate()?;
    key.write_file(&key_path, passphrase.as_deref().map(String::as_str))?;
    let pk = key.public_key();
    let line = pk.to_openssh();
    std::fs::write(&pub_path, format!("{line}\n"))
        .with_context(|| format!("writing {}", pub_path.display()))?;
    if json {
        out(&json!({
            "key_id": pk.key_id().to_string(),
            "public_key": line,
            "public_key_file": pub_path,
            "secret_key_file": key_path,
            "encrypted": !unencrypted,
        })
        .to_string())?;
    } else {
        out(&format!("key id {}\n{line}", pk.key_id()))?;
        eprintln!("wrote {} and {}", key_path.display(), pub_path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn load_secret_key(
    key: Option<&Path>,
    pass: &PassArgs,
    interactive: bool,
) -> anyhow::Result<SecretKey> {
    let from_env = std::env::var_os(KEY_ENV).filter(|v| !v.is_empty());
    let contents = match (key, from_env) {
        (Some(_), Some(_)) => bail!("both --key and {KEY_ENV} are set; use one"),
        (Some(path), None) => read_secret_file(path).map_err(key_error)?,
        (None, Some(v)) => Zeroizing::new(
            v.into_string()
                .map_err(|_| anyhow!("{KEY_ENV} is not utf-8"))?
                .into_bytes(),
        ),
        (None, None) => bail!("no signing key: pass --key FILE or set {KEY_ENV}"),
    };
    let encrypted = SecretKey::is_encrypted(&contents)?;
    let passphrase = if encrypted {
        Some(passphrase(pass, interactive, false)?)
    } else {
        None
    };
    SecretKey::from_file_contents(&contents, passphrase.as_deref().map(String::as_str))
        .map_err(key_error)
}

fn sign_cmd(
    key: Option<&Path>,
    pass: &PassArgs,
    input: &Path,
    output: &Path,
    detached: bool,
    interactive: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let component = read_component(input)?;
    let key = load_secret_key(key, pass, interactive)?;
    let digest = ward_signing::digest(&component).map_err(refused)?;
    if detached {
        let existing = if output.exists() {
            Some(read_signature(output)?)
        } else {
            None
        };
        let sig = sign_detached(&component, existing.as_deref(), &key).map_err(refused)?;
        write_atomic(output, &sig)?;
    } else {
        let signed = sign(&component, &key).map_err(refused)?;
        write_atomic(output, &signed)?;
    }
    let key_id = key.public_key().key_id();
    if json {
        out(
            &json!({ "digest": digest, "key_id": key_id.to_string(), "output": output })
                .to_string(),
        )?;
    } else {
        out(&format!("{digest} signed by {key_id}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_cmd(
    key: Option<&Path>,
    trust: Option<&Path>,
    plugin: Option<&str>,
    signature: Option<&Path>,
    input: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let plugin = match (plugin, trust) {
        (Some(p), _) => p,
        (None, None) => ANY_PLUGIN,
        (None, Some(_)) => bail!("--trust needs --plugin NS:NAME to choose the rule and scope"),
    };
    let policy = match (key, trust) {
        (Some(k), None) => {
            let data = read_capped(k, MAX_KEY_FILE_SIZE as u64)?;
            TrustPolicy::single_key(
                PublicKey::parse(&data).with_context(|| format!("reading {}", k.display()))?,
            )
        }
        (None, Some(t)) => TrustPolicy::load(t)?,
        _ => bail!("pass exactly one of --key and --trust"),
    };
    let component = read_component(input)?;
    let sig = match signature {
        Some(p) => Some(read_signature(p)?),
        None => None,
    };
    let result = match &sig {
        Some(s) => ward_signing::verify_detached(&component, s, &policy, plugin),
        None => ward_signing::verify(&component, &policy, plugin),
    };
    match result {
        Ok(v) => {
            if json {
                let mut value = serde_json::to_value(v.report())?;
                value["verified"] = json!(true);
                out(&value.to_string())?;
            } else {
                out(&format!("verified {}", v.report().summary()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::Refused(report)) => {
            if json {
                let mut value = serde_json::to_value(&report)?;
                value["verified"] = json!(false);
                out(&value.to_string())?;
            }
            Err(refused(anyhow!(
                "verification failed: {}",
                report.summary()
            )))
        }
        Err(VerifyError::Policy(e)) => Err(e.into()),
        Err(e) => {
            if json {
                out(&json!({ "verified": false, "error": e.to_string() }).to_string())?;
            }
            Err(refused(anyhow!("verification failed: {e}")))
        }
    }
}

fn inspect_cmd(signature: Option<&Path>, input: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let component = read_component(input)?;
    let sig = match signature {
        Some(p) => Some(read_signature(p)?),
        None => None,
    };
    let info = inspect(&component, sig.as_deref()).map_err(refused)?;
    if json {
        out(&serde_json::to_string(&info)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "digest       {}\nsize         {} bytes, {} sections\nsigned range {}..{}\nmanifest     {}\n",
        info.digest,
        info.size,
        info.sections,
        info.signed_range.start,
        info.signed_range.end,
        if info.has_manifest { "yes" } else { "no" },
    );
    if info.hash_sets.is_empty() {
        text.push_str("signatures   none\n");
    }
    for (i, set) in info.hash_sets.iter().enumerate() {
        text.push_str(&format!(
            "hash set {i}   {} hash(es), {}\n",
            set.hashes.len(),
            if set.covers_content {
                "covers this content"
            } else {
                "does NOT cover this content"
            }
        ));
        for id in &set.claimed_key_ids {
            text.push_str(&format!(
                "  signature  claimed key id {}\n",
                id.as_deref().unwrap_or("(none)")
            ));
        }
    }
    text.push_str("(key ids above are claims; `ward-sign verify` checks them)");
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn strip_cmd(input: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let component = read_component(input)?;
    let stripped = strip(&component).map_err(refused)?;
    write_atomic(output, &stripped)?;
    Ok(ExitCode::SUCCESS)
}
