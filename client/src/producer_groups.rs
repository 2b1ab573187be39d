//! Producer groups: who the broker asks about undecided transactions. A group with a
//! callback URL is asked by an HTTP POST of the half message, answered with
//! `{"state":"commit"|"rollback"|"unknown"}`; any group's producers can also long-poll
//! its check-backs ([`Client::poll_checks`]).

use http::Method;

use crate::endpoint::encode_component;
use crate::{Client, ClientError};

pub use weir_wire::transaction::ProducerGroup;
use weir_wire::transaction::{ProducerGroupList, PutProducerGroup};

impl Client {
    /// Creates or replaces the producer group `name`, with the URL its check-backs are
    /// POSTed to (`http://` only; `None`: producers answer through
    /// [`Client::poll_checks`]).
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` (400) for a bad name (1–127 characters of `A-Z a-z 0-9 _ -`) or
    /// URL, as [`ClientError::Api`].
    pub async fn put_producer_group(
        &self,
        name: &str,
        callback_url: Option<&str>,
    ) -> Result<ProducerGroup, ClientError> {
        let body = PutProducerGroup {
            name: name.to_owned(),
            callback_url: callback_url.map(str::to_owned),
        };
        let request = self.json_request(Method::POST, "/v1/producer-groups", &body)?;
        self.execute_json(request).await
    }

    /// All producer groups.
    pub async fn producer_groups(&self) -> Result<Vec<ProducerGroup>, ClientError> {
        let request = self.empty_request(Method::GET, "/v1/producer-groups")?;
        Ok(self
            .execute_json::<ProducerGroupList>(request)
            .await?
            .producer_groups)
    }

    /// One producer group.
    ///
    /// # Errors
    ///
    /// `PRODUCER_GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn producer_group(&self, name: &str) -> Result<ProducerGroup, ClientError> {
        self.execute_json(self.empty_request(Method::GET, &group_path(name))?)
            .await
    }

    /// Deletes a producer group: its check-backs are no longer POSTed anywhere (its
    /// transactions stay, and can still be polled for and decided).
    ///
    /// # Errors
    ///
    /// `PRODUCER_GROUP_NOT_FOUND` (404) as [`ClientError::Api`].
    pub async fn delete_producer_group(&self, name: &str) -> Result<(), ClientError> {
        self.execute(self.empty_request(Method::DELETE, &group_path(name))?)
            .await?;
        Ok(())
    }
}

fn group_path(name: &str) -> String {
    format!("/v1/producer-groups/{}", encode_component(name))
}
