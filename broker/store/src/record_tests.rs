use super::*;
use proptest::prelude::*;

fn arb_message() -> impl Strategy<Value = (String, u32, u64, i64, Message)> {
    (
        "[A-Za-z0-9_%.-]{1,40}",
        any::<u32>(),
        any::<u64>(),
        any::<i64>(),
        (
            ".{0,40}",
            prop::collection::vec(".{0,20}", 0..5),
            prop::option::of(".{1,20}"),
            prop::collection::vec((".{0,10}", ".{0,30}"), 0..5),
            prop::collection::vec(any::<u8>(), 0..300),
            any::<i64>(),
            any::<u32>(),
        ),
    )
        .prop_filter_map(
            "within limits",
            |(
                topic,
                queue,
                offset,
                store_ms,
                (id, keys, tag, properties, body, born_ms, flags),
            )| {
                let msg = Message {
                    id,
                    keys,
                    tag,
                    properties,
                    body: Bytes::from(body),
                    born_ms,
                    flags,
                };
                encoded_len(&topic, &msg).ok()?;
                Some((topic, queue, offset, store_ms, msg))
            },
        )
}

proptest! {
    #[test]
    fn round_trip((topic, queue, offset, store_ms, msg) in arb_message()) {
        let len = encoded_len(&topic, &msg).unwrap();
        let mut buf = vec![0u8; len + 7];
        encode_into(&mut buf[..len], &topic, queue, offset, store_ms, &msg).unwrap();
        let Decoded::Message(view) = decode(&buf).unwrap() else { panic!("padding") };
        prop_assert_eq!(view.total_len as usize, len);
        let stored = view.to_stored(42);
        prop_assert_eq!(stored.topic, topic);
        prop_assert_eq!(stored.queue, queue);
        prop_assert_eq!(stored.queue_offset, offset);
        prop_assert_eq!(stored.store_ms, store_ms);
        prop_assert_eq!(stored.position, 42);
        prop_assert_eq!(stored.message, msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn any_flipped_byte_is_detected(
        (topic, queue, offset, store_ms, msg) in arb_message(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let len = encoded_len(&topic, &msg).unwrap();
        let mut buf = vec![0u8; len];
        encode_into(&mut buf, &topic, queue, offset, store_ms, &msg).unwrap();
        let i = at.index(len);
        buf[i] ^= flip;
        // A corrupted length may still frame a valid-looking prefix only if the CRC
        // matched by chance; anything else must be an error.
        prop_assert!(decode(&buf).is_err());
    }
}

#[test]
fn valid_header_with_garbage_body_is_rejected() {
    let mut buf = vec![0xAAu8; 200];
    buf[..4].copy_from_slice(&100u32.to_le_bytes());
    buf[4..6].copy_from_slice(&MAGIC.to_le_bytes());
    buf[6] = VERSION;
    buf[7] = KIND_MESSAGE;
    assert_eq!(decode(&buf).unwrap_err(), DecodeError::Crc);
}

#[test]
fn padding_round_trip() {
    let mut buf = vec![0u8; 100];
    write_padding(&mut buf);
    assert!(matches!(decode(&buf), Ok(Decoded::Padding { len: 100 })));
    assert_eq!(decode(&[0u8; 20]).unwrap_err(), DecodeError::Zero);
}

#[test]
fn limits_are_named() {
    let msg = Message {
        id: "x".repeat(300),
        keys: vec![],
        tag: None,
        properties: vec![],
        body: Bytes::new(),
        born_ms: 0,
        flags: 0,
    };
    let err = encoded_len("t", &msg).unwrap_err().to_string();
    assert!(err.contains("message id"), "{err}");
}
