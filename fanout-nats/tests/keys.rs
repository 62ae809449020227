//! Routing keys across the bridge, against a real nats-server: an exported key is a subject
//! token, an importer follows one key, and its loss is counted by that key's own numbers.

mod common;

use std::time::Duration;

use common::{connect, server, unique, wait_until, Reports};
use fanout::error::{RecvTimeoutError, TryRecvError};
use fanout::{topic, Bus, Event, Key, Topic};
use fanout_nats::sequence::{KEY_SEQUENCE_HEADER, ORIGIN_HEADER};
use fanout_nats::{
    key_token, BridgeError, Connection, Exporter, ImportStats, Importer, JetStreamExport,
    JetStreamImport,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(30);
const TOPIC: Topic = topic!(5);

/// An event of one key (or of none), numbered across all keys in publish order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Tagged {
    key: Option<u64>,
    n: u64,
}

impl Event for Tagged {
    fn topic(&self) -> Topic {
        TOPIC
    }
    fn key(&self) -> Option<Key> {
        self.key.map(Key::from)
    }
}

/// Keys 1, 2, 3 in turn, and every tenth event unkeyed: `count` events.
fn interleaved(count: u64) -> Vec<Tagged> {
    (0..count)
        .map(|n| Tagged {
            key: (n % 10 != 9).then_some(n % 3 + 1),
            n,
        })
        .collect()
}

/// A lossless core exporter of `host` under `prefix`.
fn exporter(host: &Bus<Tagged>, connection: Connection, prefix: &str) -> Exporter {
    let sub = common::lossless_view(host, 4096);
    Exporter::builder(sub, connection)
        .subject_prefix(prefix)
        .start()
        .unwrap()
}

/// Reads `view` until `expected` events came, then checks that nothing more comes.
fn read_exactly(view: &mut fanout::Subscriber<Tagged>, expected: usize) -> Vec<Tagged> {
    let mut got = Vec::with_capacity(expected);
    while got.len() < expected {
        got.push(
            view.recv_timeout(WAIT)
                .expect("every expected event arrives"),
        );
    }
    assert_eq!(
        view.recv_timeout(Duration::from_millis(300)),
        Err(RecvTimeoutError::Timeout),
        "more than the expected {expected} events"
    );
    got
}

/// The events of `got` whose key is `key`, in the order they came.
fn of_key(events: &[Tagged], key: Option<u64>) -> Vec<Tagged> {
    events.iter().filter(|e| e.key == key).cloned().collect()
}

/// Three keys and unkeyed events through one exporter; an importer following key 1 gets exactly
/// key 1's events and the unkeyed ones, each in order, none of keys 2 and 3, with nothing
/// counted lost; one following key 2 without the unkeyed gets only key 2's; one following keys
/// 1 and 3 gets both, each in order, none of key 2's. The events keep
/// their keys on the importing bus (its keyed subscribers get them); the subjects carry the key.
#[test]
fn an_importer_following_one_key_gets_exactly_that_keys_events_and_counts_no_loss() {
    const COUNT: u64 = 3_000;
    let server = server();
    let reports = Reports::default();
    let prefix = unique("keys");
    let host = Bus::<Tagged>::new();
    let (tab1, tab2) = (Bus::<Tagged>::new(), Bus::<Tagged>::new());
    let mut view1 = common::lossless_view(&tab1, 1 << 13);
    // On the importing bus, the keys route as they did at the host.
    let mut keyed1 = tab1
        .subscriber()
        .capacity(1 << 13)
        .key(1u64)
        .build()
        .unwrap();
    let mut keyed3 = tab1
        .subscriber()
        .capacity(1 << 13)
        .key(3u64)
        .build()
        .unwrap();
    let mut view2 = common::lossless_view(&tab2, 1 << 13);
    let importer1 = Importer::builder(tab1.publisher(), connect(&server, &reports))
        .subject_prefix(&prefix)
        .key(1u64)
        .start()
        .unwrap();
    let importer2 = Importer::builder(tab2.publisher(), connect(&server, &reports))
        .subject_prefix(&prefix)
        .key(2u64)
        .unkeyed(false)
        .start()
        .unwrap();
    let tab13 = Bus::<Tagged>::new();
    let mut view13 = common::lossless_view(&tab13, 1 << 13);
    let importer13 = Importer::builder(tab13.publisher(), connect(&server, &reports))
        .subject_prefix(&prefix)
        .keys([1u64, 3])
        .unkeyed(false)
        .start()
        .unwrap();
    let exporter = exporter(&host, connect(&server, &reports), &prefix);

    let events = interleaved(COUNT);
    let subjects = watch_subjects(&server.url(), &format!("{prefix}.>"), 2, || {
        for event in &events {
            host.publish(event.clone()).unwrap();
        }
    });
    // The key is a subject token: 32 hex digits, or `_` for none.
    assert_eq!(
        subjects,
        [
            format!("{prefix}.{}.5", key_token(Some(Key::from(1u64)))),
            format!("{prefix}.{}.5", key_token(Some(Key::from(2u64)))),
        ]
    );

    let want1 = of_key(&events, Some(1)).len() + of_key(&events, None).len();
    let got1 = read_exactly(&mut view1, want1);
    assert_eq!(of_key(&got1, Some(1)), of_key(&events, Some(1)));
    assert_eq!(of_key(&got1, None), of_key(&events, None));
    let got2 = read_exactly(&mut view2, of_key(&events, Some(2)).len());
    assert_eq!(got2, of_key(&events, Some(2)));
    let want13 = of_key(&events, Some(1)).len() + of_key(&events, Some(3)).len();
    let got13 = read_exactly(&mut view13, want13);
    assert_eq!(of_key(&got13, Some(1)), of_key(&events, Some(1)));
    assert_eq!(of_key(&got13, Some(3)), of_key(&events, Some(3)));
    // Keys intact: tab 1's subscriber of key 1 gets key 1's and the unkeyed, key 3's only the
    // unkeyed (nothing of key 3 was imported).
    let keyed1_got = read_exactly(&mut keyed1, want1);
    assert_eq!(of_key(&keyed1_got, Some(1)), of_key(&events, Some(1)));
    assert_eq!(
        read_exactly(&mut keyed3, of_key(&events, None).len()),
        of_key(&events, None)
    );

    host.close();
    let exported = exporter.shutdown();
    assert_eq!((exported.published, exported.lost()), (COUNT, 0));
    let (imported1, imported2) = (importer1.shutdown(), importer2.shutdown());
    let summary = |s: &ImportStats| (s.received, s.published, s.lost, s.wrong_key);
    let want1 = want1 as u64;
    let want2 = got2.len() as u64;
    assert_eq!(
        summary(&imported1),
        (want1, want1, 0, 0),
        "{imported1:?} {:?}",
        reports.lines()
    );
    assert_eq!(summary(&imported2), (want2, want2, 0, 0), "{imported2:?}");
    let imported13 = importer13.shutdown();
    let want13 = want13 as u64;
    assert_eq!(
        summary(&imported13),
        (want13, want13, 0, 0),
        "{imported13:?}"
    );
}

/// The subjects of the first `count` messages on `subject` a raw subscriber sees once `go` ran.
fn watch_subjects(url: &str, subject: &str, count: usize, go: impl FnOnce()) -> Vec<String> {
    block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let mut sub = client.subscribe(subject.to_owned()).await.unwrap();
        fanout_nats::server_round_trip(&client, WAIT).await.unwrap();
        go();
        let mut subjects = Vec::new();
        while subjects.len() < count {
            let message = tokio::time::timeout(WAIT, sub.next())
                .await
                .expect("the exporter's events arrive")
                .unwrap();
            subjects.push(message.subject.to_string());
        }
        subjects
    })
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// An importer following key 1 that cannot keep up (its bus is full and nobody reads it) while
/// keys 1 and 2 flood: the client drops messages as a slow consumer, and the importer counts
/// exactly the key 1 events it never got: received + lost = key 1's events, key 2's never
/// counted.
#[test]
fn a_slow_importer_following_one_key_counts_exactly_that_keys_loss() {
    const FLOOD: u64 = 6_000;
    const TAIL: u64 = 100;
    let server = server();
    let reports = Reports::default();
    let prefix = unique("slowkey");
    let (host, tab) = (Bus::<Tagged>::new(), Bus::<Tagged>::new());
    // Nobody reads this Block queue during the flood: the importer's publisher thread blocks.
    let mut view = common::lossless_view(&tab, 16);
    let importer = Importer::builder(tab.publisher(), connect(&server, &reports))
        .subject_prefix(&prefix)
        .key(1u64)
        .subscription_capacity(64)
        .start()
        .unwrap();
    let exporter = exporter(&host, connect(&server, &reports), &prefix);
    // Keys 1 and 2 in turn: key 1 is every other event.
    for n in 0..FLOOD {
        let key = Some(n % 2 + 1);
        host.publish(Tagged { key, n }).unwrap();
    }
    assert!(wait_until(WAIT, || exporter.stats().published == FLOOD));
    assert!(
        wait_until(WAIT, || importer.stats().slow_consumer_notices > 0),
        "{:?}",
        importer.stats()
    );
    let reader = std::thread::spawn(move || {
        let mut received = 0u64;
        let mut last = None;
        loop {
            let event = view.recv_timeout(WAIT).expect("the tail arrives");
            assert_eq!(event.key, Some(1), "{event:?}");
            assert!(last.is_none_or(|l| event.n > l), "{event:?} after {last:?}");
            last = Some(event.n);
            received += 1;
            if event.n == FLOOD + TAIL - 1 {
                return received;
            }
        }
    });
    // Once the importer has worked through what survived (nothing new for 300 ms), a tail of
    // key 1 events, slowly enough not to be dropped in turn.
    let mut seen = importer.stats().received;
    assert!(wait_until(WAIT, || {
        std::thread::sleep(Duration::from_millis(300));
        let now = importer.stats().received;
        std::mem::replace(&mut seen, now) == now
    }));
    for n in FLOOD..FLOOD + TAIL {
        host.publish(Tagged { key: Some(1), n }).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let received = reader.join().unwrap();
    host.close();
    let exported = exporter.shutdown();
    let imported = importer.shutdown();
    eprintln!("slow key importer: {received} arrived, {exported:?}, {imported:?}");
    assert!(imported.lost > 0, "nothing was lost: {imported:?}");
    assert_eq!(received + imported.lost, FLOOD / 2 + TAIL, "{imported:?}");
    assert_eq!(imported.published, received);
    assert!(reports.any("never arrived"), "{:?}", reports.lines());
}

/// Headers of the first message on `subject` as a raw subscriber sees it, once `go` ran.
fn watch_headers(url: &str, subject: &str, go: impl FnOnce()) -> async_nats::HeaderMap {
    block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let mut sub = client.subscribe(subject.to_owned()).await.unwrap();
        fanout_nats::server_round_trip(&client, WAIT).await.unwrap();
        go();
        let message = tokio::time::timeout(WAIT, sub.next())
            .await
            .expect("the exporter's first event arrives")
            .unwrap();
        message.headers.expect("exporters send headers")
    })
}

/// Publishes `event` on `subject` with `headers` from a raw client, and waits until the server
/// has it.
fn publish_raw(url: &str, subject: &str, headers: &[(&str, &str)], event: &Tagged) {
    block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let mut map = async_nats::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, *value);
        }
        let payload = serde_json::to_vec(event).unwrap();
        client
            .publish_with_headers(subject.to_owned(), map, payload.into())
            .await
            .unwrap();
        fanout_nats::server_round_trip(&client, WAIT).await.unwrap();
    });
}

/// On a followed key's subject, a message with the genuine origin and key stream and
/// `Fanout-Key-Seq: <start>-18446744073709551615` costs only itself (implausible, reported, not
/// delivered, nothing lost or duplicate after it); a well-formed event of another key sent there
/// is dropped as the wrong key, so it never reaches the importing bus.
#[test]
fn a_forged_key_sequence_number_costs_only_itself() {
    const BEFORE: u64 = 6;
    const AFTER: u64 = 200;
    let server = server();
    let reports = Reports::default();
    let prefix = unique("forgedkey");
    let (host, tab) = (Bus::<Tagged>::new(), Bus::<Tagged>::new());
    let mut view = common::lossless_view(&tab, 1024);
    let importer = Importer::builder(tab.publisher(), connect(&server, &reports))
        .subject_prefix(&prefix)
        .key(1u64)
        .unkeyed(false)
        .start()
        .unwrap();
    let exporter = exporter(&host, connect(&server, &reports), &prefix);
    let key1 = format!("{prefix}.{}.>", key_token(Some(Key::from(1u64))));
    let headers = watch_headers(&server.url(), &key1, || {
        for n in 0..BEFORE {
            host.publish(Tagged {
                key: Some(n % 2 + 1),
                n,
            })
            .unwrap();
        }
    });
    let origin = headers.get(ORIGIN_HEADER).unwrap().as_str().to_owned();
    // Key 1's first event: its stream starts at the exporter's first number, 1.
    let number = headers
        .get(KEY_SEQUENCE_HEADER)
        .unwrap()
        .as_str()
        .to_owned();
    assert_eq!(number, "1-1");
    let forged_number = "1-18446744073709551615";
    assert!(wait_until(WAIT, || importer.stats().published == BEFORE / 2));

    let subject = format!("{prefix}.{}.5", key_token(Some(Key::from(1u64))));
    let forged = Tagged {
        key: Some(1),
        n: 999_999,
    };
    publish_raw(
        &server.url(),
        &subject,
        &[
            (ORIGIN_HEADER, origin.as_str()),
            (KEY_SEQUENCE_HEADER, forged_number),
        ],
        &forged,
    );
    // Another key's event on key 1's subject, with no headers.
    let intruder = Tagged {
        key: Some(2),
        n: 888_888,
    };
    publish_raw(&server.url(), &subject, &[], &intruder);
    assert!(wait_until(WAIT, || importer.stats().received == BEFORE / 2 + 2));

    for n in BEFORE..BEFORE + AFTER {
        host.publish(Tagged {
            key: Some(n % 2 + 1),
            n,
        })
        .unwrap();
    }
    let expected: Vec<Tagged> = (0..BEFORE + AFTER)
        .filter(|n| n % 2 == 0)
        .map(|n| Tagged { key: Some(1), n })
        .collect();
    let got = read_exactly(&mut view, expected.len());
    assert_eq!(got, expected);
    host.close();
    exporter.shutdown();
    let imported = importer.shutdown();
    assert_eq!(view.try_recv(), Err(TryRecvError::Empty));
    let genuine = expected.len() as u64;
    assert_eq!(
        (
            imported.received,
            imported.published,
            imported.implausible,
            imported.wrong_key,
            imported.lost,
            imported.duplicates
        ),
        (genuine + 2, genuine, 1, 1, 0, 0),
        "{imported:?} {:?}",
        reports.lines()
    );
    assert!(
        reports.any("dropped #18446744073709551615 from exporter"),
        "{:?}",
        reports.lines()
    );
    assert!(
        reports.any("is not one this importer follows"),
        "{:?}",
        reports.lines()
    );
}

/// Through JetStream: the exporter's stream still covers `<prefix>.>` (now keyed subjects), and
/// a durable consumer following key 2 reads exactly key 2's and the unkeyed events, in order,
/// with nothing counted lost (by the exporter's numbers it would wait out a gap after every
/// event of another key and then count it lost).
#[test]
fn a_jetstream_importer_following_one_key_reads_exactly_that_key_in_order() {
    const COUNT: u64 = 600;
    let server = server();
    let reports = Reports::default();
    let stream = unique("KEYS");
    let (host, tab) = (Bus::<Tagged>::new(), Bus::<Tagged>::new());
    let sub = common::lossless_view(&host, 1024);
    let exporter = Exporter::builder(sub, connect(&server, &reports))
        .subject_prefix(&stream)
        .jetstream(JetStreamExport::new(&stream))
        .start()
        .unwrap();
    let events = interleaved(COUNT);
    for event in &events {
        host.publish(event.clone()).unwrap();
    }
    host.close();
    let exported = exporter.shutdown();
    assert_eq!((exported.acknowledged, exported.lost()), (COUNT, 0));

    let mut view = common::lossless_view(&tab, 1024);
    let importer = Importer::builder(tab.publisher(), connect(&server, &reports))
        .subject_prefix(&stream)
        .jetstream(JetStreamImport::new(&stream, "tab2"))
        .key(2u64)
        .start()
        .unwrap();
    let expected: Vec<Tagged> = events
        .iter()
        .filter(|e| e.key.is_none() || e.key == Some(2))
        .cloned()
        .collect();
    // One consumer: the stream's order, across the key and the unkeyed events too.
    assert_eq!(read_exactly(&mut view, expected.len()), expected);
    let want = expected.len() as u64;
    assert!(wait_until(WAIT, || importer.stats().acknowledged == want));
    let imported = importer.shutdown();
    assert_eq!(
        (
            imported.received,
            imported.published,
            imported.lost,
            imported.duplicates
        ),
        (want, want, 0, 0),
        "{imported:?} {:?}",
        reports.lines()
    );
}

/// Keys that cannot be followed are a clear error at start, before any connection.
#[test]
fn keys_that_cannot_be_followed_are_a_clear_error() {
    let bus = Bus::<Tagged>::new();
    // Nothing listens here: each error comes before a connection is tried.
    let connection =
        || Connection::new("nats://127.0.0.1:1").connect_timeout(Duration::from_millis(300));
    let config_error = |result: Result<Importer, BridgeError>| match result {
        Err(BridgeError::Config(why)) => why,
        other => panic!("not a config error: {other:?}"),
    };
    let why = config_error(
        Importer::builder(bus.publisher(), connection())
            .keys(Vec::<u64>::new())
            .start(),
    );
    assert!(why.contains("empty set of keys"), "{why}");
    let why = config_error(
        Importer::builder(bus.publisher(), connection())
            .keys(0..65u64)
            .start(),
    );
    assert!(why.contains("65 keys"), "{why}");
    let why = config_error(
        Importer::builder(bus.publisher(), connection())
            .subject("agent.>")
            .key(1u64)
            .start(),
    );
    assert!(why.contains("explicit subject"), "{why}");
    let why = config_error(
        Importer::builder(bus.publisher(), connection())
            .subject_prefix("has space")
            .key(1u64)
            .start(),
    );
    assert!(why.contains("not a valid subject prefix"), "{why}");
    let why = config_error(
        Importer::builder(bus.publisher(), connection())
            .jetstream(JetStreamImport::new("S", "d").filter_subject("s.>"))
            .key(1u64)
            .start(),
    );
    assert!(why.contains("filter_subject"), "{why}");
    // Duplicates count once: 64 distinct keys (given twice) are fine, and the error is then the
    // connection's.
    let err = Importer::builder(bus.publisher(), connection())
        .keys((0..64u64).chain(0..64u64))
        .start()
        .unwrap_err();
    assert!(matches!(err, BridgeError::Connect { .. }), "{err:?}");
}
