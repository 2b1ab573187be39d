//! Dedup filter bindings: the business identity of a message, from a
//! `dedup-filter-plugin`.
//!
//! [`PluginFilters`] is the core's [`DedupFilter`] hook: for a send to a topic with a
//! running send-side filter binding, and for deliveries to a group with a running
//! consume-side one, it asks the plugin for each message's key, in one blocking call per
//! batch. The core keeps the table of keys seen and decides what a duplicate is (see
//! `weir_core::dedup`). A failed call gives the batch no keys: a broken filter lets
//! messages through rather than dropping them.

use std::sync::{Arc, Weak};

use weir_core::dedup::{DedupFuture, DedupScope};
use weir_core::{DedupFilter, DedupKeys, Delivery, MessageDraft};

use crate::checker::with_instance;
use crate::live::LiveBinding;
use crate::metrics::Count;
use crate::plugin_host::Inner;
use crate::wit::types;
use crate::{BindingTarget, convert};

/// Routes dedup-key questions to dedup-filter bindings.
pub(crate) struct PluginFilters {
    /// Weak: the broker holds its hook, and the host holds the broker.
    inner: Weak<Inner>,
}

impl PluginFilters {
    pub(crate) fn new(inner: Weak<Inner>) -> Self {
        Self { inner }
    }
}

impl DedupFilter for PluginFilters {
    fn send_keys<'a>(&'a self, topic: &'a str, drafts: &'a [MessageDraft]) -> DedupFuture<'a> {
        Box::pin(async move {
            let inner = self.inner.upgrade()?;
            let live = filter(&inner, DedupScope::Topic(topic))?;
            let now = crate::host::now_ms();
            let messages = drafts
                .iter()
                .map(|draft| types::Message {
                    id: draft.id.clone().unwrap_or_default(),
                    topic: topic.to_string(),
                    queue: draft.queue.unwrap_or(0),
                    offset: 0,
                    keys: draft.keys.clone(),
                    tag: draft.tag.clone(),
                    message_group: draft.message_group.clone(),
                    properties: draft.properties.clone(),
                    body: draft.body.to_vec(),
                    born_ms: draft.born_ms.unwrap_or(now),
                    attempt: 0,
                })
                .collect();
            Some(keys(&inner, live, messages).await)
        })
    }

    fn delivery_keys<'a>(&'a self, group: &'a str, deliveries: &'a [Delivery]) -> DedupFuture<'a> {
        Box::pin(async move {
            let inner = self.inner.upgrade()?;
            let live = filter(&inner, DedupScope::Group(group))?;
            let messages = deliveries.iter().map(convert::delivery).collect();
            Some(keys(&inner, live, messages).await)
        })
    }

    fn duplicates_found(&self, scope: DedupScope<'_>, count: u64) {
        if let Some(inner) = self.inner.upgrade()
            && let Some(live) = filter(&inner, scope)
        {
            live.counters.add(Count::Duplicate, count);
        }
    }
}

/// The running dedup-filter binding of a topic or group.
fn filter(inner: &Inner, scope: DedupScope<'_>) -> Option<Arc<LiveBinding>> {
    inner
        .bindings
        .read()
        .values()
        .filter(|live| live.is_running())
        .find(|live| match (&live.config.target, scope) {
            (BindingTarget::DedupFilter { topic, .. }, DedupScope::Topic(t)) => {
                topic.as_deref() == Some(t)
            }
            (BindingTarget::DedupFilter { group, .. }, DedupScope::Group(g)) => {
                group.as_deref() == Some(g)
            }
            _ => false,
        })
        .cloned()
}

/// The keys of a batch, from one call on one instance.
async fn keys(
    inner: &Arc<Inner>,
    live: Arc<LiveBinding>,
    messages: Vec<types::Message>,
) -> DedupKeys {
    let window_ms = match &live.config.target {
        BindingTarget::DedupFilter { window_ms, .. } => *window_ms,
        _ => 0,
    };
    let count = messages.len();
    let answer = with_instance(inner, &live, count, move |instance, config| {
        messages
            .iter()
            .map(|message| instance.dedup_key(config, message))
            .collect::<Result<Vec<_>, _>>()
    })
    .await;
    let keys = match answer {
        Ok(keys) => {
            let found = keys.iter().flatten().count() as u64;
            live.counters.add(Count::Key, found);
            keys
        }
        Err(error) => {
            tracing::warn!(
                binding = live.name(),
                %error,
                "dedup filter call failed; its messages are not deduplicated"
            );
            vec![None; count]
        }
    };
    DedupKeys { window_ms, keys }
}
