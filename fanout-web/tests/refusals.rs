//! Authorization and bad input, against a real HTTP client: every refusal is a clear 4xx before
//! anything is subscribed, nothing outside a grant is ever streamed, and nothing panics.

mod common;

use common::{get, open, serve, Ev, A};
use fanout::agent::AgentEvent;
use fanout::{Bus, HistoryBus};
use fanout_web::agui::{AgentRunEncoder, RunPlan};
use fanout_web::{AllowAll, Gateway, Grant, Refusal};

/// Bearer tokens: `user-<n>` may see key `n` (every topic); `ops` sees everything; `a-only-<n>`
/// sees key `n`, topic `a` only.
fn auth(request: &axum::http::request::Parts) -> Result<Grant<u32>, Refusal> {
    let token = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| {
            // or a cookie, as a browser's EventSource sends
            request
                .headers
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .and_then(|c| c.split("; ").find_map(|kv| kv.strip_prefix("token=")))
        })
        .ok_or_else(|| Refusal::Unauthenticated("no token".into()))?;
    if token == "ops" {
        return Ok(Grant::everything());
    }
    if let Some(user) = token.strip_prefix("a-only-") {
        let user = user
            .parse()
            .map_err(|_| Refusal::Forbidden("bad token".into()))?;
        return Ok(Grant::key(user).topics(A));
    }
    let user = token
        .strip_prefix("user-")
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| Refusal::Forbidden("unknown token".into()))?;
    Ok(Grant::key(user))
}

async fn gateway() -> (HistoryBus<Ev>, std::net::SocketAddr) {
    let bus = HistoryBus::builder(64).build().unwrap();
    let gateway = Gateway::builder(bus.clone(), auth).build().unwrap();
    (bus, serve(gateway.router()).await)
}

async fn refused(url: &str, headers: &[(&str, &str)], status: u16, says: &str) {
    let response = get(url, headers).await;
    assert_eq!(response.status(), status, "{url} {headers:?}");
    let body = response.text().await.unwrap();
    assert!(
        body.starts_with("fanout-web: ") && body.contains(says),
        "{body:?}"
    );
}

#[tokio::test]
async fn no_credentials_is_401_and_someone_elses_key_is_403() {
    let (bus, addr) = gateway().await;
    let events = format!("http://{addr}/events");
    refused(&events, &[], 401, "no token").await;
    refused(
        &events,
        &[("authorization", "Bearer mallory")],
        403,
        "unknown token",
    )
    .await;
    let key2 = format!("{events}?key=2");
    refused(
        &key2,
        &[("authorization", "Bearer user-1")],
        403,
        "may not follow key 2",
    )
    .await;
    let b = format!("{events}?key=7&topics=a,b");
    refused(&b, &[("authorization", "Bearer a-only-7")], 403, "topics").await;
    assert_eq!(
        bus.subscriber_count(),
        0,
        "no refused request subscribed anything"
    );
}

#[tokio::test]
async fn a_granted_stream_holds_only_its_grant() {
    let (bus, addr) = gateway().await;
    // No ?key=: the keys of the grant. A cookie works as a header does.
    let mut tab = open(
        &format!("http://{addr}/events"),
        &[("cookie", "theme=dark; token=user-1")],
    )
    .await;
    let mut narrow = open(
        &format!("http://{addr}/events"),
        &[("authorization", "Bearer a-only-2")],
    )
    .await;
    for n in 0..20 {
        bus.publish(Ev::a(n as u32 % 3, n)).unwrap();
        bus.publish(Ev::b(n as u32 % 3, n)).unwrap();
    }
    bus.publish(Ev::unkeyed(99)).unwrap();
    bus.close();
    let mut got = Vec::new();
    while let Some(frame) = tab.next().await {
        if frame.event.as_deref() == Some("close") {
            break;
        }
        got.push(frame.ev());
    }
    assert_eq!(got.len(), 2 * 7 + 1);
    assert!(
        got.iter().all(|e| e.key == Some(1) || e.key.is_none()),
        "{got:?}"
    );
    let mut narrow_got = Vec::new();
    while let Some(frame) = narrow.next().await {
        if frame.event.as_deref() == Some("close") {
            break;
        }
        narrow_got.push(frame.ev());
    }
    assert_eq!(narrow_got.len(), 6 + 1); // n = 2, 5, .., 17 on topic a, and the unkeyed one
    assert!(narrow_got
        .iter()
        .all(|e| (e.key == Some(2) || e.key.is_none()) && !e.b));
    let ops = get(
        &format!("http://{addr}/events"),
        &[("authorization", "Bearer ops")],
    )
    .await;
    assert_eq!(ops.status(), 204, "closed bus");
}

#[tokio::test]
async fn malformed_input_is_400_with_the_reason() {
    let (bus, addr) = gateway().await;
    let ops = [("authorization", "Bearer ops")];
    let events = format!("http://{addr}/events");
    let bad_id = [("authorization", "Bearer ops"), ("last-event-id", "12abc")];
    refused(&events, &bad_id, 400, "malformed Last-Event-ID \"12abc\"").await;
    let negative = [("authorization", "Bearer ops"), ("last-event-id", "-1")];
    refused(&events, &negative, 400, "malformed Last-Event-ID").await;
    refused(
        &format!("{events}?last_event_id=x"),
        &ops,
        400,
        "malformed Last-Event-ID",
    )
    .await;
    refused(
        &format!("{events}?topics=a,zzz"),
        &ops,
        400,
        "unknown topic \"zzz\" (known: a, b)",
    )
    .await;
    refused(
        &format!("{events}?topics=a,,b"),
        &ops,
        400,
        "empty topic name",
    )
    .await;
    refused(&format!("{events}?topics="), &ops, 400, "empty topic name").await;
    refused(
        &format!("{events}?key=alice"),
        &ops,
        400,
        "malformed key \"alice\"",
    )
    .await;
    refused(&format!("{events}?kee=1"), &ops, 400, "bad query string").await;
    refused(
        &format!("{events}?key=1&key=2"),
        &ops,
        400,
        "bad query string",
    )
    .await;
    refused(&format!("{events}?key=%FF"), &ops, 400, "").await;
    // A cursor the bus has not given (a server that restarted): 409, the client decides.
    let future = [("authorization", "Bearer ops"), ("last-event-id", "5")];
    refused(
        &events,
        &future,
        409,
        "beyond this bus's last sequence number 0",
    )
    .await;
    assert_eq!(bus.subscriber_count(), 0);
    // The server is still there.
    let _tab = open(&events, &ops).await;
}

#[tokio::test]
async fn a_plain_bus_refuses_to_resume() {
    let bus = Bus::<Ev>::new();
    let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
    let addr = serve(gateway.router()).await;
    let url = format!("http://{addr}/events");
    refused(&url, &[("last-event-id", "3")], 400, "keeps no history").await;
}

/// A host whose plan refuses a thread named "forbidden" and names the thread's session key.
fn agui_gateway() -> Gateway<AgentEvent> {
    let bus = Bus::<AgentEvent>::new();
    let host = |input: fanout_web::agui::RunAgentInput, _: &axum::http::request::Parts| {
        if input.thread_id == "forbidden" {
            return Err(Refusal::Forbidden("not your thread".into()));
        }
        let session = fanout::agent::SessionId::new();
        let run = fanout::agent::RunId::new();
        Ok(RunPlan::new(
            session,
            AgentRunEncoder::for_input(&input, run),
            || {},
        ))
    };
    Gateway::builder(bus, AllowAll)
        .body_limit(1000)
        .agui(host)
        .build()
        .unwrap()
}

async fn post(url: &str, content_type: &str, body: String) -> reqwest::Response {
    common::client()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn bad_agui_bodies_are_4xx() {
    let addr = serve(agui_gateway().router()).await;
    let url = format!("http://{addr}/agui");
    let json = "application/json";
    let ok = r#"{"threadId":"t","runId":"r","messages":[]}"#;
    let check = |response: reqwest::Response, status: u16, says: &'static str| async move {
        assert_eq!(response.status(), status);
        let body = response.text().await.unwrap();
        assert!(body.contains(says), "{body}");
    };
    check(
        post(&url, "text/plain", ok.into()).await,
        415,
        "application/json",
    )
    .await;
    check(
        post(&url, json, "{not json".into()).await,
        400,
        "not a RunAgentInput",
    )
    .await;
    check(
        post(&url, json, r#"{"threadId":"t"}"#.into()).await,
        400,
        "missing field `runId`",
    )
    .await;
    let robot = r#"{"threadId":"t","runId":"r","messages":[{"id":"m","role":"robot"}]}"#;
    check(
        post(&url, json, robot.into()).await,
        400,
        "unknown variant `robot`",
    )
    .await;
    let big = format!(
        r#"{{"threadId":"{}","runId":"r","messages":[]}}"#,
        "x".repeat(2000)
    );
    check(post(&url, json, big).await, 413, "larger than 1000 bytes").await;
    let forbidden = r#"{"threadId":"forbidden","runId":"r","messages":[]}"#;
    check(
        post(&url, json, forbidden.into()).await,
        403,
        "not your thread",
    )
    .await;
    // A chunked body over the limit (no Content-Length) is refused too.
    let chunks =
        futures_util::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![b' '; 100])));
    let response = common::client()
        .post(&url)
        .header("content-type", json)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // GET is not the method.
    assert_eq!(get(&url, &[]).await.status(), 405);
}
