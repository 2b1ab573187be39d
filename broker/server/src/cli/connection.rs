//! The options shared by every client command: which broker to talk to, with which access
//! token, and how to print.
//!
//! `--server` (or `WEIR_SERVER`), `--token` (or `WEIR_TOKEN`) and `--json` are declared
//! once, as global options of `weir`: they are accepted before or after any command
//! (`weir --server URL topic list` and `weir topic list --server URL` alike). `main`
//! parses them and hands the [`Connection`] to the command it runs.

use weir_client::{Client, ClientBuilder, ClientError};

/// Where the broker is, how to authenticate, and how output is printed.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Connection {
    /// The broker's base URL.
    #[arg(
        long,
        global = true,
        env = "WEIR_SERVER",
        default_value = "http://127.0.0.1:7700",
        value_name = "URL"
    )]
    pub(crate) server: String,
    /// Access token sent as `Authorization: Bearer` by the client commands, for a broker
    /// configured with `[[auth.tokens]]`.
    #[arg(
        long,
        global = true,
        env = "WEIR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
    /// Print one JSON document instead of human-readable text.
    #[arg(long, global = true)]
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
        if let Some(token) = &self.token {
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
