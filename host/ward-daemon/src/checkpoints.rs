//! Signed audit checkpoints on an interval (`[audit]` in `daemon.toml`), to a directory or a
//! command of the operator's choice, so that a copy of the log's state leaves the host regularly.
//! Writing one never blocks a call: it reads the log on its own store connection.

use std::io::Write as _;
use std::sync::Arc;

use tokio::sync::watch;

use crate::Ctx;
use crate::config::{CheckpointSchedule, CheckpointSink};

/// Writes a checkpoint every `schedule.every` until shutdown; failures are logged and retried at
/// the next interval.
pub(crate) async fn run(
    ctx: Arc<Ctx>,
    schedule: CheckpointSchedule,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(schedule.every) => {}
            _ = shutdown.changed() => return,
        }
        let ctx = ctx.clone();
        let to = schedule.to.clone();
        let done = tokio::task::spawn_blocking(move || write_one(&ctx, &to)).await;
        match done {
            Ok(Ok(size)) => tracing::info!(size, "audit checkpoint written"),
            Ok(Err(e)) => tracing::warn!("audit checkpoint not written: {e:#}"),
            Err(e) => tracing::warn!("audit checkpoint not written: {e}"),
        }
    }
}

fn write_one(ctx: &Ctx, to: &CheckpointSink) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    let key = ctx.home.audit_key()?;
    let store = ward_store::Store::open(ctx.home.root())?;
    let c = ward_home::Checkpoint::make(&store, &key)?;
    let text = format!("{}\n", serde_json::to_string_pretty(&c)?);
    match to {
        CheckpointSink::Dir(dir) => {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            tmp.write_all(text.as_bytes())?;
            tmp.as_file().sync_all()?;
            let path = dir.join(format!("checkpoint-{}.json", c.size));
            tmp.persist(&path)
                .map_err(|e| e.error)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        CheckpointSink::Command(argv) => {
            let (program, args) = argv
                .split_first()
                .context("audit.checkpoint_command is empty")?;
            let mut child = std::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .with_context(|| format!("cannot run {program}"))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(text.as_bytes())?;
            }
            let status = child.wait()?;
            anyhow::ensure!(status.success(), "{program} exited with {status}");
        }
    }
    Ok(c.size)
}
