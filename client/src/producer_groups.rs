//! Producer groups: who the broker asks about undecided transactions. A group with a
//! callback URL is asked by an HTTP POST of the half message, answered with
//! `{"state":"commit"|"rollback"|"unknown"}`; any group's producers can also long-poll
//! its check-backs ([`Client::poll_checks`]).

use http::Method;
use serde::{Deserialize, Serialize};

use crate::endpoint::encode_component;
use crate::{Client, ClientError};

/// A producer group as the broker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerGroup {
    /// The name half sends give as their producer group.
    pub name: String,
    /// Where check-backs are POSTed, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// When it was created (or last replaced), in ms since the Unix epoch.
    pub created_ms: i64,
}

#[derive(Serialize)]
struct PutProducerGroup<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
}

#[derive(Deserialize)]
struct ProducerGroupList {
    producer_groups: Vec<ProducerGroup>,
}

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
        let body = PutProducerGroup { name, callback_url };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn put_omits_a_missing_callback() {
        let body = PutProducerGroup {
            name: "shop",
            callback_url: None,
        };
        assert_eq!(serde_json::to_value(&body).unwrap(), json!({"name":"shop"}));
    }

    #[test]
    fn list_decodes() {
        let list: ProducerGroupList = serde_json::from_value(json!({"producer_groups":[
            {"name":"a","callback_url":"http://127.0.0.1:9000/check","created_ms":1},
            {"name":"b","created_ms":2}]}))
        .unwrap();
        assert_eq!(
            list.producer_groups[0].callback_url.as_deref(),
            Some("http://127.0.0.1:9000/check")
        );
        assert_eq!(list.producer_groups[1].callback_url, None);
    }
}
