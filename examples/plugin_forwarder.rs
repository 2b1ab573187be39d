//! A WebAssembly plugin end to end: uploads the `forwarder` consumer plugin, binds it to
//! the topic `greetings`, sends a few messages, and reads what the plugin published to
//! `greetings-loud`: each greeting upper-cased, with the id of the message it came from.
//!
//! The plugin runs inside the broker, in a consumer group the binding creates
//! (`loud-forwarder`); it acks each message once its copy is published. Its metrics
//! (messages handled, acked, published) are part of the binding's status.
//!
//! Build the plugins and start a broker (`weir serve`), then:
//!
//! ```sh
//! (cd plugins && cargo build --release --target wasm32-wasip2)
//! cargo run -p weir-examples --example plugin_forwarder [BROKER_URL [FORWARDER_WASM]]
//! ```
//!
//! The broker URL is the first argument, else `WEIR_SERVER`, else
//! `http://127.0.0.1:7700`; the component is the second argument, else
//! `WEIR_FORWARDER_WASM`, else `plugins/target/wasm32-wasip2/release/forwarder.wasm` of
//! this repository.

use std::collections::BTreeSet;
use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use weir_client::{BindingRequest, Client, OutgoingMessage, PluginWorld};
use weir_wire::codes::{BINDING_EXISTS, TOPIC_EXISTS};

const TOPIC: &str = "greetings";
const OUTPUT_TOPIC: &str = "greetings-loud";
const MODULE: &str = "forwarder";
const BINDING: &str = "greetings-loud";
const GROUP: &str = "loud-forwarder";
/// The forwarder's config: where to publish, and how to change each message on the way.
const CONFIG: &str =
    r#"{"to":"greetings-loud","uppercase":true,"origin_property":"forwarded-from"}"#;
const GREETINGS: [&str; 3] = ["hello", "bonjour", "hallo"];
/// How long the plugin may take to forward the greetings before the example gives up.
const FORWARDED_WITHIN: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = broker_url();
    let client = Client::builder(url.clone())
        .timeout(Some(Duration::from_secs(60)))
        .build()?;
    println!("broker: {url}");
    for (topic, queues) in [(TOPIC, 2), (OUTPUT_TOPIC, 1)] {
        match client.create_topic(topic, Some(queues)).await {
            Ok(topic) => println!("created topic '{}'", topic.name),
            Err(err) if err.code() == Some(TOPIC_EXISTS) => println!("topic '{topic}' exists"),
            Err(err) => return Err(err.into()),
        }
    }

    // The broker validates the component against the world it claims and compiles it
    // once; uploading other bytes under the same name adds a version.
    let path = component_path();
    let component = std::fs::read(&path).map_err(|err| {
        format!(
            "cannot read {} ({err}); build the plugins first: \
             cd plugins && cargo build --release --target wasm32-wasip2",
            path.display()
        )
    })?;
    let upload = client
        .upload_module(MODULE, PluginWorld::Consumer, component)
        .await?;
    println!(
        "uploaded module '{}' version {} ({} bytes, compiled in {} ms)",
        upload.module.name, upload.module.version, upload.module.size, upload.module.compile_ms
    );

    // A consumer binding: the plugin consumes the group on the topic, and may publish.
    let binding = BindingRequest::consumer(BINDING, MODULE, TOPIC, GROUP)
        .config(CONFIG)
        .publish(true);
    match client.bind(&binding).await {
        Ok(bound) => println!(
            "bound '{}': module '{}' on {}",
            bound.name,
            bound.module,
            bound.target.describe()
        ),
        Err(err) if err.code() == Some(BINDING_EXISTS) => println!("binding '{BINDING}' exists"),
        Err(err) => return Err(err.into()),
    }

    let mut sent = BTreeSet::new();
    for greeting in GREETINGS {
        let result = client.send(TOPIC, &OutgoingMessage::new(greeting)).await?;
        println!("sent '{greeting}' as {}", result.id);
        sent.insert(result.id);
    }

    // Read the output topic until every greeting came through.
    let started = Instant::now();
    let mut forwarded = BTreeSet::new();
    let mut next_offset = 0;
    while forwarded.len() < sent.len() {
        if started.elapsed() > FORWARDED_WITHIN {
            return Err(format!("the plugin did not forward within {FORWARDED_WITHIN:?}").into());
        }
        let read = client
            .read_queue(OUTPUT_TOPIC, 0, next_offset, Some(100))
            .await?;
        next_offset = read.next_offset;
        for message in &read.messages {
            let Some(origin) = message.properties.get("forwarded-from") else {
                continue;
            };
            if sent.contains(origin) && forwarded.insert(origin.clone()) {
                println!(
                    "'{OUTPUT_TOPIC}' got '{}' (from {origin})",
                    String::from_utf8_lossy(&message.body)
                );
            }
        }
        if read.messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // The plugin acks each message once its copy is published: the group drains.
    while client.lag(GROUP, None).await?.total > 0 {
        if started.elapsed() > FORWARDED_WITHIN {
            return Err(format!("the plugin did not ack within {FORWARDED_WITHIN:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("group '{GROUP}' has every greeting acked");

    let status = client.binding(BINDING).await?;
    let metrics = &status.metrics;
    println!(
        "binding '{BINDING}' is {}: {} calls, {} messages, {} acked, {} published",
        status.run.as_str(),
        metrics.calls,
        metrics.messages,
        metrics.acked,
        metrics.published
    );
    Ok(())
}

/// The broker URL: the first argument, else `WEIR_SERVER`, else the local default.
fn broker_url() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WEIR_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:7700".to_owned())
}

/// The forwarder component: the second argument, else `WEIR_FORWARDER_WASM`, else the
/// one the plugin workspace of this repository builds.
fn component_path() -> PathBuf {
    std::env::args()
        .nth(2)
        .or_else(|| std::env::var("WEIR_FORWARDER_WASM").ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../plugins/target/wasm32-wasip2/release/forwarder.wasm")
        })
}
