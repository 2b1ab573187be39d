//! Dedup filter bindings: the business identity of a message, from a
//! `dedup-filter-plugin`.
//!
//! The broker keeps the table of keys seen (check-and-set within the binding's window);
//! the plugin only says what a message's key is. The core does not call filters yet:
//! [`PluginHost::send_dedup_key`] and [`PluginHost::delivery_dedup_key`] are what its
//! send-side and consume-side hooks will call. A failed call answers the error; the hook
//! decides (the safe choice is to treat the message as not a duplicate).

use weir_core::{Delivery, MessageDraft};

use crate::bindings::types;
use crate::checker::with_instance;
use crate::live::LiveBinding;
use crate::metrics::Count;
use crate::{BindingTarget, CallError, PluginHost, convert};

impl PluginHost {
    /// The dedup key of a message about to be sent to `topic`, from the topic's running
    /// send-side filter; `None` when the topic has none. Also answers the filter's
    /// window, ms.
    pub async fn send_dedup_key(
        &self,
        topic: &str,
        draft: &MessageDraft,
    ) -> Option<(u64, Result<Option<String>, CallError>)> {
        let live = self.filter(|t, _| t == Some(topic))?;
        let message = types::Message {
            id: draft.id.clone().unwrap_or_default(),
            topic: topic.to_string(),
            queue: draft.queue.unwrap_or(0),
            offset: 0,
            keys: draft.keys.clone(),
            tag: draft.tag.clone(),
            message_group: draft.message_group.clone(),
            properties: draft.properties.clone(),
            body: draft.body.to_vec(),
            born_ms: draft.born_ms.unwrap_or_else(crate::host::now_ms),
            attempt: 0,
        };
        Some(self.dedup_key(live, message).await)
    }

    /// The dedup key of a delivery to `group`, from the group's running consume-side
    /// filter; `None` when the group has none. Also answers the filter's window, ms.
    pub async fn delivery_dedup_key(
        &self,
        group: &str,
        delivery: &Delivery,
    ) -> Option<(u64, Result<Option<String>, CallError>)> {
        let live = self.filter(|_, g| g == Some(group))?;
        Some(self.dedup_key(live, convert::delivery(delivery)).await)
    }

    fn filter(
        &self,
        matches: impl Fn(Option<&str>, Option<&str>) -> bool,
    ) -> Option<std::sync::Arc<LiveBinding>> {
        self.inner
            .bindings
            .read()
            .values()
            .filter(|live| live.is_running())
            .find(|live| match &live.config.target {
                BindingTarget::DedupFilter { topic, group, .. } => {
                    matches(topic.as_deref(), group.as_deref())
                }
                _ => false,
            })
            .cloned()
    }

    async fn dedup_key(
        &self,
        live: std::sync::Arc<LiveBinding>,
        message: types::Message,
    ) -> (u64, Result<Option<String>, CallError>) {
        let window = match &live.config.target {
            BindingTarget::DedupFilter { window_ms, .. } => *window_ms,
            _ => 0,
        };
        let key = with_instance(&self.inner, &live, move |instance, config| {
            instance.dedup_key(config, &message)
        })
        .await;
        if let Ok(Some(_)) = &key {
            live.counters.add(Count::Key, 1);
        }
        (window, key)
    }
}
