//! Producing and consuming with `weir-client`: creates the topic `orders`, sends five
//! orders, then the consumer group `billing` receives them, handles each and acks it.
//!
//! Start a broker (`weir serve`), then:
//!
//! ```sh
//! cargo run -p weir-examples --example producer_consumer [BROKER_URL]
//! ```
//!
//! The broker URL is the first argument, else `WEIR_SERVER`, else
//! `http://127.0.0.1:7700`. Running it again sends five more orders and consumes those.

use std::error::Error;
use std::time::Duration;

use weir_client::{Client, NewGroup, OutgoingMessage};
use weir_wire::codes::{GROUP_EXISTS, TOPIC_EXISTS};

const TOPIC: &str = "orders";
const GROUP: &str = "billing";
const ORDERS: u64 = 5;
/// How long the consumer may take for the orders before the example gives up.
const CONSUME_WITHIN: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = broker_url();
    let client = Client::builder(url.clone())
        .timeout(Some(Duration::from_secs(30)))
        .build()?;
    println!("broker: {url}");

    match client.create_topic(TOPIC, Some(4)).await {
        Ok(topic) => println!(
            "created topic '{}' with {} queues",
            topic.name, topic.queues
        ),
        Err(err) if err.code() == Some(TOPIC_EXISTS) => println!("topic '{TOPIC}' exists"),
        Err(err) => return Err(err.into()),
    }
    // A group sees the messages sent after it was created ("latest"), or every message
    // of the topic ("earliest").
    let group = NewGroup::new(GROUP, TOPIC).from("earliest").max_attempts(5);
    match client.create_group(&group).await {
        Ok(group) => println!("created group '{}' on '{}'", group.name, group.topic),
        Err(err) if err.code() == Some(GROUP_EXISTS) => println!("group '{GROUP}' exists"),
        Err(err) => return Err(err.into()),
    }

    for n in 1..=ORDERS {
        // The key finds the message again (`weir get --key`); messages are spread over
        // the topic's queues.
        let order = OutgoingMessage::new(format!("order {n} created"))
            .with_key(format!("order-{n}"))
            .with_tag("created");
        let sent = client.send(TOPIC, &order).await?;
        println!(
            "sent order {n}: id {} in queue {} at offset {}",
            sent.id, sent.queue, sent.offset
        );
    }

    // The consumer loop receives batches, calls the handler on each message, and acks
    // the messages it returned `Ok` for (an `Err` nacks: the message comes again after
    // the group's backoff, and after its last attempt goes to the dead-letter queue).
    let consumer = client
        .consumer(GROUP)
        .max(16)
        .wait_ms(1000)
        .limit(ORDERS)
        .run(async |message| {
            println!(
                "received {} (queue {}, attempt {}): {}",
                message.id,
                message.queue,
                message.attempt,
                message.body_str().unwrap_or("<binary>")
            );
            Ok::<(), String>(())
        });
    let stats = tokio::time::timeout(CONSUME_WITHIN, consumer)
        .await
        .map_err(|_| format!("the orders did not arrive within {CONSUME_WITHIN:?}"))??;
    println!("handled {} orders, acked {}", stats.handled, stats.acked);

    let lag = client.lag(GROUP, None).await?;
    println!("group '{GROUP}' has {} messages left to consume", lag.total);
    Ok(())
}

/// The broker URL: the first argument, else `WEIR_SERVER`, else the local default.
fn broker_url() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WEIR_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:7700".to_owned())
}
