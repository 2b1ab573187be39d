//! The flags shared by every client command: which broker to talk to, and how to print.

use anyhow::Context as _;
use weir_client::{Client, ClientBuilder};

/// Where the broker is and how output is printed; flattened into every client command.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Connection {
    /// The broker's base URL.
    #[arg(
        long,
        env = "WEIR_SERVER",
        default_value = "http://127.0.0.1:7700",
        value_name = "URL"
    )]
    pub(crate) server: String,
    /// Print one JSON document instead of human-readable text.
    #[arg(long)]
    pub(crate) json: bool,
}

impl Connection {
    /// A client for `--server`, with the default settings.
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        self.client_with(|builder| builder)
    }

    /// A client for `--server`, with settings changed by `configure`.
    pub(crate) fn client_with(
        &self,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> anyhow::Result<Client> {
        configure(Client::builder(self.server.clone()))
            .build()
            .context("cannot use the broker address given by --server (or WEIR_SERVER)")
    }
}
