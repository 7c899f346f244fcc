//! `ward mcp`: the Model Context Protocol on stdio for an agent, over the daemon's agent socket.

use anyhow::Context as _;

use crate::Failure;
use crate::cli::McpArgs;

pub(crate) fn mcp(home: &ward_home::Home, args: McpArgs) -> Result<(), Failure> {
    let env = std::env::var("WARD_TOKEN").ok();
    let token = ward_mcp::AgentToken::from_sources(env.as_deref(), args.token_file.as_deref())
        .map_err(Failure::usage)?;
    let socket = args
        .socket
        .unwrap_or_else(|| ward_daemon::DaemonConfig::new(home.root()).agent_socket());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(ward_mcp::serve_stdio(ward_mcp::WardMcp::new(socket, token)))
        .context("ward mcp")?;
    Ok(())
}
