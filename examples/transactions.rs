//! Transactional messages with a check-back server: a payment becomes visible to
//! consumers only once the producer's own work for it is done.
//!
//! The producer sends a **half message** (stored, invisible), does its local work, then
//! **commits** (the message is delivered) or **rolls back** (it is discarded). A producer
//! that goes quiet before deciding (it crashed, say) is asked by the broker: after the
//! half send's check-back delay, the broker POSTs a **check-back** to its producer group's
//! callback URL, and the answer (`commit`, `rollback` or `unknown`) decides.
//!
//! The walkthrough:
//!
//! 1. starts a check-back server on a free local port, answering from the producer's
//!    records, and registers the producer group `payments-producer` with its URL;
//! 2. payment 1: half message, local work succeeds, commit;
//! 3. payment 2: half message, local work fails, rollback;
//! 4. payment 3: half message, local work succeeds, but no decision is sent: one second
//!    later the broker checks back, and the server answers commit;
//! 5. waits until the broker holds no undecided payment, and reads the payments back.
//!
//! Start a broker on this machine (`weir serve`: it must reach the check-back server on
//! 127.0.0.1), then:
//!
//! ```sh
//! cargo run -p weir-examples --example transactions [BROKER_URL]
//! ```
//!
//! The broker URL is the first argument, else `WEIR_SERVER`, else
//! `http://127.0.0.1:7700`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use weir_client::{Client, OutgoingMessage};
use weir_wire::codes::TOPIC_EXISTS;

const TOPIC: &str = "payments";
const PRODUCER_GROUP: &str = "payments-producer";
/// How long after its half send an undecided payment is checked back.
const CHECK_AFTER_MS: u64 = 1000;
/// How long the broker may take to decide the undecided payment before the example
/// gives up.
const DECIDED_WITHIN: Duration = Duration::from_secs(30);

/// The producer's own records: for each transaction, whether its local work succeeded.
/// A real producer keeps this in its database, in the same local transaction as the work.
type Records = Arc<Mutex<HashMap<String, bool>>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = broker_url();
    let client = Client::builder(url.clone())
        .timeout(Some(Duration::from_secs(30)))
        .build()?;
    println!("broker: {url}");
    match client.create_topic(TOPIC, Some(2)).await {
        Ok(topic) => println!("created topic '{}'", topic.name),
        Err(err) if err.code() == Some(TOPIC_EXISTS) => println!("topic '{TOPIC}' exists"),
        Err(err) => return Err(err.into()),
    }

    let records = Records::default();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let callback_url = format!("http://{}/tx-check", listener.local_addr()?);
    tokio::spawn(serve_check_backs(listener, Arc::clone(&records)));
    let group = client
        .put_producer_group(PRODUCER_GROUP, Some(&callback_url))
        .await?;
    println!(
        "producer group '{}' is checked back at {callback_url}",
        group.name
    );

    // Payment 1: the local work succeeds, the producer commits.
    let half = send_half(&client, "payment-1", "42.00 EUR for invoice 1").await?;
    records.lock().expect("records").insert(half.clone(), true);
    let outcome = client.commit(&half).await?;
    println!("payment-1: local work done, {:?}", outcome.state);

    // Payment 2: the local work fails, the producer rolls back.
    let half = send_half(&client, "payment-2", "13.50 EUR for invoice 2").await?;
    records.lock().expect("records").insert(half.clone(), false);
    let outcome = client.rollback(&half).await?;
    println!("payment-2: local work failed, {:?}", outcome.state);

    // Payment 3: the local work succeeds, then the producer goes quiet before deciding.
    let undecided = send_half(&client, "payment-3", "99.90 EUR for invoice 3").await?;
    records
        .lock()
        .expect("records")
        .insert(undecided.clone(), true);
    println!("payment-3: local work done, no decision sent; waiting for the check-back");
    let started = Instant::now();
    while client
        .transactions(None)
        .await?
        .iter()
        .any(|tx| tx.transaction == undecided)
    {
        if started.elapsed() > DECIDED_WITHIN {
            return Err(format!("payment-3 was not decided within {DECIDED_WITHIN:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("payment-3: decided by the check-back");

    for key in ["payment-1", "payment-2", "payment-3"] {
        let found = client.messages_by_key(TOPIC, key, None).await?;
        match found.first() {
            Some(message) => println!(
                "{key}: in '{TOPIC}' as {} at queue {} offset {}",
                message.id, message.queue, message.offset
            ),
            None => println!("{key}: not in '{TOPIC}' (rolled back)"),
        }
    }
    Ok(())
}

/// Sends a half message for payment `key` and returns its transaction id.
async fn send_half(client: &Client, key: &str, body: &str) -> Result<String, Box<dyn Error>> {
    let message = OutgoingMessage::new(body.to_owned()).with_key(key);
    let half = client
        .send_half(TOPIC, &message, Some(PRODUCER_GROUP), Some(CHECK_AFTER_MS))
        .await?;
    println!("{key}: half message sent, transaction {}", half.transaction);
    Ok(half.transaction)
}

/// Answers the broker's check-backs, one HTTP/1.1 connection per task.
async fn serve_check_backs(listener: TcpListener, records: Records) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                eprintln!("check-back server: cannot accept a connection: {err}");
                continue;
            }
        };
        let records = Arc::clone(&records);
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, Arc::clone(&records)));
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("check-back server: {err}");
            }
        });
    }
}

/// One check-back: `{"transaction":"...","checks":1,"message":{...},...}` in, the
/// producer's decision out: `{"state":"commit"}`, `{"state":"rollback"}`, or
/// `{"state":"unknown"}` for a transaction it has no record of (the broker asks again
/// later).
async fn answer(
    request: Request<Incoming>,
    records: Records,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let check: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let transaction = check["transaction"].as_str().unwrap_or_default();
    let state = match records.lock().expect("records").get(transaction) {
        Some(true) => "commit",
        Some(false) => "rollback",
        None => "unknown",
    };
    println!(
        "check-back #{} for transaction {transaction}: answering {state}",
        check["checks"]
    );
    let answer = serde_json::json!({ "state": state }).to_string();
    let mut response = Response::new(Full::new(Bytes::from(answer)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// The broker URL: the first argument, else `WEIR_SERVER`, else the local default.
fn broker_url() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("WEIR_SERVER").ok())
        .unwrap_or_else(|| "http://127.0.0.1:7700".to_owned())
}
