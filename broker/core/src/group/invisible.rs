//! Changing the invisible time of a live delivery: a consumer that needs longer keeps
//! the message from being redelivered. The delivery gets a new sequence number, so its
//! old receipt stops working and the new one is answered.

use super::consumption::Consumption;
use super::cursor::Refusal;
use super::journal::{Entry, Event, Kind};
use super::receipt::Receipt;
use super::spec::check_invisible;
use super::state::Group;
use crate::broker::now_ms;
use crate::{Broker, CoreError};

impl Broker {
    /// Gives a live delivery a new invisible time from now; returns its new receipt (the
    /// old one stops working).
    pub async fn change_invisible(
        &self,
        group: &str,
        receipt: &str,
        invisible_ms: u64,
    ) -> Result<String, CoreError> {
        check_invisible(invisible_ms)?;
        let group = self.groups().get(group)?;
        let parsed = group.parse_receipt(receipt)?;
        let consumption = self.consumption(&group)?;
        let (new, end) = consumption.change_invisible(&group, receipt, parsed, invisible_ms)?;
        self.wait_durable(end).await?;
        Ok(new)
    }
}

impl Consumption<'_> {
    /// The locked step of a change of invisible time; returns the new receipt and the
    /// commitlog end of its journal record.
    fn change_invisible(
        &self,
        group: &Group,
        text: &str,
        receipt: Receipt,
        invisible_ms: u64,
    ) -> Result<(String, u64), CoreError> {
        let now = now_ms();
        let config = group.config();
        let seq = self.groups.next_seq();
        let until = now.saturating_add(invisible_ms as i64);
        let mut inner = group.lock();
        let cursor = inner
            .cursors
            .get_mut(&(receipt.member, receipt.source))
            .ok_or_else(|| Group::expired(text))?;
        cursor
            .change_invisible(receipt.offset, receipt.seq, now, seq, until)
            .map_err(|Refusal::Expired| Group::expired(text))?;
        let mut event = Event::new(
            Kind::Invisible,
            &config.name,
            config.incarnation,
            receipt.member,
        );
        event.entries.push(Entry {
            source: receipt.source,
            offset: receipt.offset,
            seq,
            time: until,
            ..Entry::default()
        });
        let end = self.append_events(&[event])?;
        let new = Receipt { seq, ..receipt };
        Ok((new.to_string(), end))
    }
}
