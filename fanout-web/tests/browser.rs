//! A real browser: headless Chromium (Debian's, obtained by the test if missing, driven by
//! `puppeteer-core`) opens the gateway's dashboard, whose `EventSource` follows one key's
//! stream; the server drops the connection mid-stream; the browser reconnects by itself with
//! `Last-Event-ID`; the page ends up holding every sequence number exactly once. Then the
//! dashboard's screenshot is checked not blank.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::js::{chromium, finish, spawn_node};
use common::{Ev, PATIENCE};
use fanout::HistoryBus;
use fanout_web::{Gateway, Grant, Refusal};
use serde_json::Value;

/// Waits (bounded) until `ready` holds.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_reconnects_with_last_event_id_and_holds_every_number_once() {
    let chromium = chromium();
    let bus = HistoryBus::<Ev>::builder(10_000).build().unwrap();
    // The hook records each stream request's Last-Event-ID (the browser's own header).
    let requests: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let recorded = Arc::clone(&requests);
    let auth = move |parts: &axum::http::request::Parts| -> Result<Grant<u32>, Refusal> {
        if parts.uri.path() == "/events" {
            let id = parts
                .headers
                .get("last-event-id")
                .map(|v| v.to_str().unwrap().to_owned());
            recorded.lock().unwrap().push(id);
        }
        Ok(Grant::everything())
    };
    let gateway = Gateway::builder(bus.clone(), auth)
        .retry(Duration::from_millis(200))
        .build()
        .unwrap();
    let addr = common::serve(gateway.router()).await;
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fanout-web-dashboard.png");
    let chromium_arg = chromium.to_str().unwrap().to_owned();
    let url = format!("http://{addr}/dashboard?key=1");
    let shot = screenshot.to_str().unwrap().to_owned();
    let patience = (2 * PATIENCE.as_millis()).to_string();
    let page = tokio::task::spawn_blocking(move || {
        finish(spawn_node(
            "browser.mjs",
            &[&chromium_arg, &url, "300", &shot, &patience],
        ))
    });

    let requests_made = || requests.lock().unwrap().len();
    until("the page's EventSource connected", || {
        gateway.connections() == 1
    })
    .await;
    // Key 1 takes the odd numbers, key 2 (never on this page) the even ones.
    let publish = |range: std::ops::Range<u64>| {
        for n in range {
            bus.publish(Ev::a(1, n)).unwrap();
            bus.publish(Ev::a(2, n)).unwrap();
        }
    };
    publish(0..100);
    let streamed = |name: &str, at_least: u64| {
        bus.stats()
            .subscribers
            .iter()
            .any(|s| s.name == name && s.received >= at_least)
    };
    until("the first 100 events were streamed", || {
        streamed("sse-1", 100)
    })
    .await;
    gateway.disconnect_all(); // mid-stream: the server drops the connection
    publish(100..200); // while the browser is away
    until("the browser reconnected", || {
        requests_made() >= 2 && gateway.connections() == 1
    })
    .await;
    publish(200..300);

    let out = page.await.unwrap();
    let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["timeout"], Value::Null, "{report:#}");
    let seen = &report["seen"];
    let ids: Vec<u64> = seen["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (0..300).map(|n| 2 * n + 1).collect();
    assert_eq!(
        ids, expected,
        "every sequence number of key 1 exactly once, in order"
    );
    assert_eq!(seen["gaps"], serde_json::json!([]));
    assert!(seen["opens"].as_u64().unwrap() >= 2, "{seen}");
    let requests = requests.lock().unwrap().clone();
    assert_eq!(
        requests[0], None,
        "the first connection has no Last-Event-ID"
    );
    let resumed_after: u64 = requests[1]
        .as_deref()
        .expect("the reconnect carried Last-Event-ID")
        .parse()
        .unwrap();
    assert!(
        ids.contains(&resumed_after) && resumed_after < 200,
        "resumed after {resumed_after}"
    );
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");

    // The dashboard rendered: its table and counts, and a screenshot that is not blank.
    let text = report["text"].as_str().unwrap();
    assert!(
        text.contains("sse-2"),
        "the reconnected stream's subscriber is listed: {text}"
    );
    assert!(text.contains("300 events"), "{text}");
    let colours = &report["colours"];
    assert_eq!(
        (colours["width"].as_u64(), colours["height"].as_u64()),
        (Some(1100), Some(720))
    );
    assert!(colours["distinct"].as_u64().unwrap() > 50, "{colours}");
    assert!(
        colours["notBackground"].as_f64().unwrap() > 0.05,
        "{colours}"
    );
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
}
