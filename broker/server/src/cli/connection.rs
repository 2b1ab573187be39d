//! The flags shared by every client command: which broker to talk to, with which access
//! token, and how to print.
//!
//! `--server` (or `WEIR_SERVER`) and `--json` belong to each command. `--token` (or
//! `WEIR_TOKEN`) is a global flag of `weir`, accepted before or after the command; `main`
//! hands it over with [`use_token`] before running the command, and every client built
//! here sends it.

use std::sync::OnceLock;

use weir_client::{Client, ClientBuilder, ClientError};

/// The access token from `--token` or `WEIR_TOKEN`, set once at start.
static TOKEN: OnceLock<String> = OnceLock::new();

/// Makes every client built by [`Connection`] send `token` as its bearer token.
pub(crate) fn use_token(token: Option<String>) {
    if let Some(token) = token {
        // Called once, from `main`; a second call would change nothing.
        let _ = TOKEN.set(token);
    }
}

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
        let mut builder = configure(Client::builder(self.server.clone()));
        if let Some(token) = TOKEN.get() {
            builder = builder.token(token.clone());
        }
        builder.build().map_err(|err| match err {
            ClientError::InvalidToken(_) => anyhow::Error::new(err)
                .context("cannot use the token given by --token (or WEIR_TOKEN)"),
            other => anyhow::Error::new(other)
                .context("cannot use the broker address given by --server (or WEIR_SERVER)"),
        })
    }
}
