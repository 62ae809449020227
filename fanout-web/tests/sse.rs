//! The SSE gateway against a real HTTP client on loopback: ids, resume, gap frames, lag repair,
//! keys, close, keep-alive, the connection bound, disconnect.

mod common;

use std::time::Duration;

use common::{open, serve, Ev};
use fanout::{Bus, HistoryBus};
use fanout_web::{AllowAll, Gateway};

fn history(events: usize) -> HistoryBus<Ev> {
    HistoryBus::builder(events).build().unwrap()
}

#[tokio::test]
async fn frames_carry_sequence_numbers_and_only_the_connections_key() {
    let bus = history(1024);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events?key=1"), &[]).await;
    for n in 0..10 {
        bus.publish(Ev::a(1, n)).unwrap();
        bus.publish(Ev::a(2, n)).unwrap(); // another user's: never on this stream
    }
    let frames = tab.take(10).await;
    for (n, frame) in frames.iter().enumerate() {
        assert_eq!(frame.ev(), Ev::a(1, n as u64));
        assert_eq!(
            frame.seq(),
            2 * n as u64 + 1,
            "id: is the bus's sequence number"
        );
        assert_eq!(frame.event, None);
    }
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_resumes_with_no_gap_and_no_duplicate() {
    let bus = history(1024);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let url = format!("http://{addr}/events?key=1&topics=a");
    let mut tab = open(&url, &[]).await;
    for n in 0..5 {
        bus.publish(Ev::a(1, n)).unwrap();
    }
    let last = tab.take(5).await.last().unwrap().seq();
    drop(tab); // the connection drops
    for n in 5..8 {
        bus.publish(Ev::a(1, n)).unwrap(); // missed while away
        bus.publish(Ev::a(2, n)).unwrap();
        bus.publish(Ev::b(1, n)).unwrap(); // a topic it does not follow
    }
    let mut tab = open(&url, &[("Last-Event-ID", &last.to_string())]).await;
    bus.publish(Ev::a(1, 8)).unwrap(); // live
    let got: Vec<u64> = tab.take(4).await.iter().map(|f| f.ev().n).collect();
    assert_eq!(got, [5, 6, 7, 8]);

    // `?last_event_id=` does the same for a first connection (the header wins over it).
    let mut tab = open(&format!("{url}&last_event_id={last}"), &[]).await;
    assert_eq!(tab.next().await.unwrap().ev().n, 5);
}

#[tokio::test]
async fn a_resume_beyond_the_history_starts_with_a_gap_frame() {
    let bus = history(4);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    for n in 0..10 {
        bus.publish(Ev::a(1, n)).unwrap();
    }
    let mut tab = open(&format!("http://{addr}/events"), &[("Last-Event-ID", "0")]).await;
    let gap = tab.next().await.unwrap();
    assert_eq!(gap.event.as_deref(), Some("gap"));
    assert_eq!(gap.json(), serde_json::json!({ "missed": 6 }));
    assert_eq!(gap.id, None, "a gap frame does not move Last-Event-ID");
    let seqs: Vec<u64> = tab.take(4).await.iter().map(|f| f.seq()).collect();
    assert_eq!(seqs, [7, 8, 9, 10]);
}

/// The test's runtime is single-threaded: while the test publishes without awaiting, the
/// server's stream cannot drain the connection's queue, so the queue (capacity 4) overflows
/// deterministically.
#[tokio::test]
async fn a_slow_connection_gets_what_it_lost_back_from_the_history() {
    let bus = history(1000);
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .capacity(4)
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events?key=1"), &[]).await;
    for n in 0..100 {
        bus.publish(Ev::a(1, n)).unwrap();
        bus.publish(Ev::a(2, n)).unwrap();
    }
    let frames = tab.take(100).await;
    let got: Vec<u64> = frames.iter().map(|f| f.ev().n).collect();
    assert_eq!(
        got,
        (0..100).collect::<Vec<_>>(),
        "every event once, in order, no gap"
    );
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let stats = bus.stats();
    let conn = stats
        .subscribers
        .iter()
        .find(|s| s.name == "sse-1")
        .unwrap();
    assert_eq!(conn.dropped, 96, "the queue did overflow");
    let metrics = common::get(&format!("http://{addr}/metrics"), &[]).await;
    let text = metrics.text().await.unwrap();
    assert!(text.contains("fanout_web_repaired_total 96\n"), "{text}");
}

#[tokio::test]
async fn what_the_history_no_longer_holds_is_an_exact_gap_frame() {
    let bus = history(10);
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .capacity(4)
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events"), &[]).await;
    for n in 0..100 {
        bus.publish(Ev::a(1, n)).unwrap();
    }
    let gap = tab.next().await.unwrap();
    assert_eq!(gap.event.as_deref(), Some("gap"));
    // Lost 96 (1..=96); the history still held 91..=96.
    assert_eq!(gap.json(), serde_json::json!({ "missed": 90 }));
    let seqs: Vec<u64> = tab.take(10).await.iter().map(|f| f.seq()).collect();
    assert_eq!(seqs, (91..=100).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_plain_bus_streams_without_ids_and_reports_its_gaps() {
    let bus = Bus::new();
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .capacity(4)
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events"), &[]).await;
    for n in 0..10 {
        bus.publish(Ev::a(1, n)).unwrap();
    }
    let gap = tab.next().await.unwrap();
    assert_eq!(gap.json(), serde_json::json!({ "missed": 6 }));
    let frames = tab.take(4).await;
    assert!(frames.iter().all(|f| f.id.is_none()));
    assert_eq!(
        frames.iter().map(|f| f.ev().n).collect::<Vec<_>>(),
        [6, 7, 8, 9]
    );
    // and the stream goes on
    bus.publish(Ev::a(1, 10)).unwrap();
    assert_eq!(tab.next().await.unwrap().ev().n, 10);
}

#[tokio::test]
async fn unkeyed_events_reach_every_connection_of_their_topics() {
    let bus = history(64);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let mut one = open(&format!("http://{addr}/events?key=1"), &[]).await;
    let mut two = open(&format!("http://{addr}/events?key=2&topics=b"), &[]).await;
    bus.publish(Ev::unkeyed(0)).unwrap(); // topic a: reaches one only
    bus.publish(Ev::a(2, 1)).unwrap();
    bus.publish(Ev::b(2, 2)).unwrap();
    bus.publish(Ev::a(1, 3)).unwrap();
    assert_eq!(
        one.take(2)
            .await
            .iter()
            .map(|f| f.ev().n)
            .collect::<Vec<_>>(),
        [0, 3]
    );
    assert_eq!(two.next().await.unwrap().ev().n, 2);
}

#[tokio::test]
async fn closing_the_bus_ends_every_stream_with_a_close_frame_then_204() {
    let bus = history(64);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let url = format!("http://{addr}/events");
    let mut tab = open(&url, &[]).await;
    bus.publish(Ev::a(1, 0)).unwrap();
    bus.close();
    assert_eq!(
        tab.next().await.unwrap().ev().n,
        0,
        "what was published is streamed first"
    );
    let close = tab.next().await.unwrap();
    assert_eq!(close.event.as_deref(), Some("close"));
    assert_eq!(tab.next_raw().await, None, "then the body ends");
    // A reconnecting EventSource is told to stop: 204.
    let again = common::get(&url, &[("Last-Event-ID", "1")]).await;
    assert_eq!(again.status(), 204);
}

#[tokio::test]
async fn an_idle_stream_gets_keep_alive_comments() {
    let bus = history(64);
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .keep_alive(Duration::from_millis(20))
        .retry(Duration::from_millis(250))
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events"), &[]).await;
    let first = tab.next_raw().await.unwrap();
    assert_eq!(first.retry, Some(250), "the reconnection delay comes first");
    assert!(tab.next_raw().await.unwrap().is_keep_alive());
    bus.publish(Ev::a(1, 0)).unwrap();
    assert_eq!(tab.next().await.unwrap().ev().n, 0);
}

#[tokio::test]
async fn streams_beyond_the_bound_are_refused_503_until_one_closes() {
    let bus = history(64);
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .max_connections(2)
        .keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    let url = format!("http://{addr}/events");
    let one = open(&url, &[]).await;
    let _two = open(&url, &[]).await;
    let third = common::get(&url, &[]).await;
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "1");
    assert!(third.text().await.unwrap().contains("2 streams are open"));
    assert_eq!(
        bus.subscriber_count(),
        2,
        "a refused request subscribes nothing"
    );
    drop(one);
    // The server notices at its next write (a keep-alive) and frees the place.
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while gateway.connections() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(bus.subscriber_count(), 1, "and unsubscribed");
    let _three = open(&url, &[]).await;
}

#[tokio::test]
async fn disconnect_all_ends_the_streams_without_a_close_frame() {
    let bus = history(64);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events"), &[]).await;
    bus.publish(Ev::a(1, 0)).unwrap();
    assert_eq!(tab.next().await.unwrap().ev().n, 0);
    gateway.disconnect_all();
    assert_eq!(tab.next_raw().await, None);
    assert!(!bus.is_closed());
}

#[tokio::test]
async fn metrics_and_stats_describe_every_connection() {
    let bus = history(64);
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let mut tab = open(&format!("http://{addr}/events"), &[]).await;
    bus.publish(Ev::a(1, 0)).unwrap();
    tab.next().await.unwrap();
    let text = common::get(&format!("http://{addr}/metrics"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("fanout_web_connections 1\n"), "{text}");
    assert!(text.contains("fanout_published_total 1\n"), "{text}");
    assert!(
        text.contains("fanout_subscriber_received_total{subscriber=\"sse-1\",id=\"1\"} 1\n"),
        "{text}"
    );
    let body = common::get(&format!("http://{addr}/stats.json"), &[])
        .await
        .text()
        .await
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["connections"], 1);
    assert_eq!(stats["bus"]["subscribers"][0]["name"], "sse-1");
}

#[tokio::test]
async fn a_resume_larger_than_the_connections_queue_loses_nothing_the_history_holds() {
    let bus = history(1000);
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .capacity(4)
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    for n in 0..100 {
        bus.publish(Ev::a(1, n)).unwrap();
    }
    // The replay of 100 meets a queue of 4: the 96 oldest are dropped from it, then read back.
    let mut tab = open(&format!("http://{addr}/events"), &[("Last-Event-ID", "0")]).await;
    let seqs: Vec<u64> = tab.take(100).await.iter().map(|f| f.seq()).collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
    assert_eq!(gateway.repaired(), 96);
}

#[tokio::test]
async fn under_disconnect_a_slow_connection_ends_with_an_overflowed_frame_and_can_resume() {
    let bus = history(1000);
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .capacity(4)
        .overflow(fanout::Overflow::Disconnect)
        .build()
        .unwrap();
    let addr = serve(gateway.router()).await;
    let url = format!("http://{addr}/events");
    let mut tab = open(&url, &[]).await;
    for n in 0..10 {
        bus.publish(Ev::a(1, n)).unwrap();
    }
    let mut last = 0;
    loop {
        let frame = tab
            .next()
            .await
            .expect("the overflowed frame before the end");
        match frame.event.as_deref() {
            None => last = frame.seq(),
            Some("gap") => {}
            Some("overflowed") => break,
            Some(other) => panic!("{other}"),
        }
    }
    assert_eq!(last, 4, "what was queued before the cut");
    assert_eq!(tab.next_raw().await, None);
    // The browser's reconnect resumes after the last event it got (a replay of 6 into a queue
    // of 4 cuts it off again after 4 of them; the next reconnect takes the rest).
    let mut seqs = Vec::new();
    while seqs.len() < 6 {
        let last = seqs.last().copied().unwrap_or(last).to_string();
        let mut tab = open(&url, &[("Last-Event-ID", &last)]).await;
        while seqs.len() < 6 {
            let Some(frame) = tab.next().await else { break };
            match frame.event.as_deref() {
                None => seqs.push(frame.seq()),
                Some("gap") | Some("overflowed") => {}
                Some(other) => panic!("{other}"),
            }
        }
    }
    assert_eq!(seqs, [5, 6, 7, 8, 9, 10]);
}
