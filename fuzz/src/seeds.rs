//! The seed inputs of every fuzz target, made with the real encoders: the checked-in
//! corpus (`fuzz/corpus/<target>/`) starts from these, and the corpus replay of the test
//! suite runs them too. `scripts/fuzz seed` writes them out.

use weir_store::Message;

/// The seeds of `target`, or none for an unknown name.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "record" => record(),
        "batch" => batch(),
        "message_list" => message_list(),
        "receipt" => receipt(),
        "headers" => headers(),
        "json_bodies" => json_bodies(),
        _ => Vec::new(),
    }
}

fn message(id: &str, body: &[u8]) -> Message {
    Message {
        id: id.to_owned(),
        keys: Vec::new(),
        tag: None,
        properties: Vec::new(),
        body: bytes::Bytes::copy_from_slice(body),
        born_ms: 1_750_000_000_000,
        flags: 0,
    }
}

fn record() -> Vec<Vec<u8>> {
    let mut full = message("0001AB", b"{\"order\":42}");
    full.keys = vec!["order-42".into(), "customer-7".into()];
    full.tag = Some("created".into());
    full.properties = vec![
        ("weir.message-group".into(), "customer-7".into()),
        ("source".into(), "web".into()),
    ];
    full.flags = 3;
    let records = [
        ("orders", 0, 0, message("a", b"")),
        ("orders", 3, 17, message("0001AA", b"hello")),
        ("%RETRY%billing", 0, 5, full.clone()),
        ("t", u32::MAX, u64::MAX, message("x", &[0, 255, 1, 254])),
    ];
    let mut out = Vec::new();
    for (topic, queue, offset, m) in &records {
        let bytes =
            weir_store::fuzzing::encode_record(topic, *queue, *offset, 1_750_000_000_123, m)
                .expect("a seed within the limits");
        for mode in [0u8, 1] {
            let mut input = vec![mode];
            input.extend_from_slice(&bytes);
            out.push(input);
        }
    }
    for len in [12, 64] {
        let mut input = vec![0u8];
        input.extend(weir_store::fuzzing::encode_padding(len));
        out.push(input);
    }
    // A message followed by the zeros of an unwritten tail.
    let mut input = vec![1u8];
    input.extend(weir_store::fuzzing::encode_record("t", 0, 0, 1, &full).expect("seed"));
    input.extend([0u8; 16]);
    out.push(input);
    out
}

fn batch() -> Vec<Vec<u8>> {
    use weir_wire::batch::Message;
    let bare = Message {
        body: bytes::Bytes::from_static(b"hi"),
        ..Message::default()
    };
    let full = Message {
        id: Some("0001AB".into()),
        tag: Some("created".into()),
        message_group: Some("customer-7".into()),
        queue: Some(3),
        keys: vec!["order-42".into(), "k".into()],
        properties: vec![("a".into(), "1".into()), ("source".into(), "web".into())],
        body: bytes::Bytes::from_static(&[0, 1, 2, 255]),
    };
    let empty_body = Message {
        id: Some("id".into()),
        queue: Some(0),
        ..Message::default()
    };
    let batches: Vec<Vec<Message>> = vec![
        vec![],
        vec![bare.clone()],
        vec![full.clone()],
        vec![bare.clone(), full.clone(), empty_body.clone()],
        vec![empty_body; 5],
    ];
    let mut out: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| weir_wire::batch::encode(b).expect("seed").bytes.to_vec())
        .collect();
    // A count the body cannot hold.
    let mut claim = b"WRB1".to_vec();
    claim.extend(10_000u32.to_le_bytes());
    claim.extend([0u8; 4]);
    out.push(claim);
    out
}

fn message_list() -> Vec<Vec<u8>> {
    use weir_wire::message_list::{List, Message};
    let read = Message {
        id: "0001AA".into(),
        topic: "orders".into(),
        queue: 0,
        offset: 7,
        born_ms: 1_750_000_000_000,
        store_ms: 1_750_000_000_001,
        body: bytes::Bytes::from_static(b"hello"),
        ..Message::default()
    };
    let full = Message {
        id: "0001AB".into(),
        topic: "orders".into(),
        queue: 3,
        offset: 42,
        born_ms: 1000,
        store_ms: 1001,
        tag: Some("created".into()),
        message_group: Some("customer-7".into()),
        keys: vec!["order-42".into()],
        properties: vec![("source".into(), "web".into())],
        body: bytes::Bytes::from_static(&[0, 255, b'x']),
        receipt: "1.0.3.2a.1".into(),
        attempt: 2,
        first_delivery_ms: 999,
        resent: true,
    };
    let list = |next_offset, max_offset, messages| List {
        messages,
        next_offset,
        max_offset,
    };
    let lists = [
        list(0, 0, vec![]),
        list(8, 9, vec![read.clone()]),
        list(10, 20, vec![read.clone(), read.clone()]),
        list(0, 0, vec![full.clone()]),
        list(0, 0, vec![full, read]),
    ];
    let mut out: Vec<Vec<u8>> = lists
        .iter()
        .map(|l| {
            weir_wire::message_list::encode(l.messages.iter(), l.next_offset, l.max_offset)
                .expect("seed")
                .to_vec()
        })
        .collect();
    let mut claim = b"WRM1".to_vec();
    claim.extend(u32::MAX.to_le_bytes());
    claim.extend([0u8; 16]);
    out.push(claim);
    out
}

fn receipt() -> Vec<Vec<u8>> {
    [
        "0.0.0.0.0",
        "deadbeef.3.7.1e240.ffffffffffffffff",
        "1.0.r.2a.1",
        "ffffffffffffffff.ffffffff.fffffffe.ffffffffffffffff.ffffffffffffffff",
        "00A.0.0.0.0",
        "1.2.3.4",
        "1.2.3.4.5.6",
        "1.2.ffffffff.4.5",
    ]
    .iter()
    .map(|r| r.as_bytes().to_vec())
    .collect()
}

fn headers() -> Vec<Vec<u8>> {
    [
        "weir-tag: created\n\nhello",
        "weir-message-id: 0001AB\nweir-keys: order-42, customer-7,,\nweir-tag: t\n\
         weir-message-group: customer-7\nweir-queue: 3\nweir-prop-source: web\n\
         weir-prop-a: 1\n\n{\"order\":42}",
        "weir-delay-ms: 1000\n\nlater",
        "weir-deliver-at: 1750000060000\n\nat",
        "weir-delay-level: 3\n\nlevel",
        "weir-transaction: half\nweir-producer-group: shop\nweir-tx-check-after-ms: 6000\n\nhalf",
        "weir-transaction: half\nweir-delay-ms: 5\n\n",
        "weir-producer-group: shop\n\n",
        "weir-tag: a\nweir-tag: b\n\n",
        "weir-queue: x\n\n",
        "content-type: text/plain\n\n\x00\x01",
    ]
    .iter()
    .map(|h| h.as_bytes().to_vec())
    .collect()
}

fn json_bodies() -> Vec<Vec<u8>> {
    let bodies: &[(u8, &str)] = &[
        (0, r#"{"name":"orders","queues":8}"#),
        (0, r#"{"name":"bad name!"}"#),
        (1, r#"{"queues":16}"#),
        (
            2,
            r#"{"body":"hello","keys":["k1"],"tag":"t","properties":{"a":"1"}}"#,
        ),
        (
            2,
            r#"{"body_base64":"AAEC","id":"0001AB","message_group":"g","queue":1}"#,
        ),
        (2, r#"{"body":"x","delay_ms":1000}"#),
        (
            2,
            r#"{"body":"x","transaction":"half","producer_group":"shop"}"#,
        ),
        (
            3,
            r#"[{"body":"a"},{"body_base64":"YQ==","deliver_at":1750000060000}]"#,
        ),
        (
            4,
            r#"{"name":"g","topic":"orders","mode":"clustering","fifo":false,"max_attempts":16,"invisible_ms":60000,"backoff_ms":[10000,30000],"filter":"*"}"#,
        ),
        (5, r#"{"max":32,"wait_ms":0,"invisible_ms":60000}"#),
        (6, r#"{"receipts":["1.0.3.2a.1"]}"#),
        (7, r#"{"receipts":["1.0.r.2a.1"],"delay_ms":1000}"#),
        (8, r#"{"receipt":"1.0.3.2a.1","invisible_ms":30000}"#),
        (9, r#"{"to":"earliest"}"#),
        (10, r#"{"queue":0,"offset":5}"#),
        (11, r#"{}"#),
        (
            12,
            r#"{"name":"shop","callback_url":"http://127.0.0.1:9000/check"}"#,
        ),
        (
            13,
            r#"{"name":"b","module":"ack_all","target":{"consumer":{"topic":"orders","group":"g"}}}"#,
        ),
        (5, ""),
        (6, "{\"receipts\":[\"\u{0}\"]}"),
    ];
    bodies
        .iter()
        .map(|(route, body)| {
            let mut input = vec![*route];
            input.extend_from_slice(body.as_bytes());
            input
        })
        .collect()
}
