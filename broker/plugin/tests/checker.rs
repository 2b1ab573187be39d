//! Transaction checker bindings with the real `http-tx-checker` component: a check-back
//! reaches the producer's service through the allowlisted `http-request`, and its
//! answer decides the transaction; without a grant the call is denied and the
//! transaction stays undecided.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Env, component, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_core::{MessageDraft, TxOutcome};
use weir_plugin::{BindingSpec, Grants, TargetSpec, World};

/// A one-route HTTP service answering `answer` to every request; counts requests.
async fn service(answer: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counting = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counting.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{address}"), hits)
}

fn checker(base: &str, allow: Option<&str>) -> BindingSpec {
    BindingSpec {
        name: "checker".into(),
        module: "tx".into(),
        version: None,
        target: TargetSpec::TxChecker {
            producer_group: Some("pg".into()),
            topic: None,
        },
        deadline_ms: Some(2_000),
        memory_bytes: None,
        state_bytes: None,
        config: format!("{base}/tx/{{transaction}}"),
        grants: Grants {
            publish: false,
            http_allowlist: allow.map(|a| vec![a.to_string()]).unwrap_or_default(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checker_asks_the_allowlisted_service_and_its_answer_decides() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    env.broker.create_topic("t", 1).await.unwrap();
    let (base, hits) = service("commit").await;
    env.host
        .upload("tx", World::TxChecker, component("http_tx_checker"))
        .await
        .unwrap();
    env.host
        .bind(checker(&base, Some(&format!("{base}/tx/"))))
        .await
        .unwrap();

    let (transaction, _) = env
        .broker
        .send_half("t", MessageDraft::new("paid"), Some("pg"), None)
        .await
        .unwrap();
    eventually("the commit", || {
        env.broker.describe_topic("t").unwrap().messages() == 1
    })
    .await;
    assert!(hits.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        env.broker.commit(&transaction).await.unwrap(),
        TxOutcome::Committed
    );
    let metrics = env.host.binding("checker").unwrap().metrics;
    // A second check-back may race the first one's decision; each asks the service.
    assert!(metrics.commits >= 1 && metrics.commits == metrics.http_requests);
    env.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_off_the_allowlist_is_denied_and_the_transaction_stays_undecided() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path()).await;
    env.broker.create_topic("t", 1).await.unwrap();
    let (base, hits) = service("commit").await;
    env.host
        .upload("tx", World::TxChecker, component("http_tx_checker"))
        .await
        .unwrap();
    env.host
        .bind(checker(&base, Some("http://127.0.0.1:1/tx/")))
        .await
        .unwrap();

    env.broker
        .send_half("t", MessageDraft::new("paid"), Some("pg"), None)
        .await
        .unwrap();
    eventually("denied requests", || {
        env.host.binding("checker").unwrap().metrics.http_failures >= 2
    })
    .await;
    let metrics = env.host.binding("checker").unwrap().metrics;
    assert_eq!(metrics.commits, 0);
    assert!(metrics.unknowns >= 2);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the service"
    );
    assert_eq!(env.broker.describe_topic("t").unwrap().messages(), 0);
    assert_eq!(env.broker.undecided_transactions(), 1);
    env.close().await;
}
