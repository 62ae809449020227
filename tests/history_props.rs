//! Property tests of the history hand-off: random publishers on threads, random subscribers that
//! join with a random `Replay` while they publish. A recorder that subscribed first gives the truth
//! (which event has which sequence number); every late subscriber must then see strictly
//! increasing sequence numbers of events it wants, never a duplicate, and no gap that is not
//! reported as an exact `Lagged`.

use std::collections::BTreeMap;
use std::thread;

use fanout::error::TryRecvError;
use fanout::history::{Replay, Sequenced};
use fanout::{Bus, Event, HistoryBus, Overflow, Subscriber, Topic, Topics};
use proptest::prelude::*;

#[derive(Clone, Debug, PartialEq)]
struct PEv {
    topic: u8,
    publisher: u8,
    index: u32,
}

impl Event for PEv {
    fn topic(&self) -> Topic {
        Topic::new(self.topic).unwrap()
    }
}

#[derive(Clone, Debug)]
enum Kind {
    None,
    Tail(usize),
    /// `Since(last_seq - back)` at the time of joining.
    SinceBack(u64),
    LastPerTopic,
}

#[derive(Clone, Debug)]
struct Late {
    /// Joins once the bus's last sequence number reaches this.
    after: u64,
    kind: Kind,
    /// Bits of topics 0..4.
    mask: u64,
    even_only: bool,
    /// Small queues overflow (`DropOldest`); large ones never do.
    small_queue: Option<usize>,
}

fn late() -> impl Strategy<Value = Late> {
    (
        0u64..200,
        prop_oneof![
            Just(Kind::None),
            (0usize..40).prop_map(Kind::Tail),
            (0u64..80).prop_map(Kind::SinceBack),
            Just(Kind::LastPerTopic),
        ],
        1u64..16,
        any::<bool>(),
        prop_oneof![Just(None), (1usize..8).prop_map(Some)],
    )
        .prop_map(|(after, kind, mask, even_only, small_queue)| Late {
            after,
            kind,
            mask,
            even_only,
            small_queue,
        })
}

/// The events a subscriber received (`Ok(seq)`) and the losses reported to it (`Err(n)`).
fn drain(
    sub: &mut Subscriber<Sequenced<PEv>>,
    truth: &mut Vec<(u64, PEv)>,
) -> Vec<Result<u64, u64>> {
    let mut items = Vec::new();
    loop {
        match sub.try_recv() {
            Ok(item) => {
                let (seq, event) = item.into_parts();
                truth.push((seq, event));
                items.push(Ok(seq));
            }
            Err(TryRecvError::Lagged(n)) => items.push(Err(n)),
            Err(TryRecvError::Empty) => unreachable!("drained after close"),
            Err(_) => return items,
        }
    }
}

fn run(publishers: Vec<Vec<u8>>, history: usize, lates: Vec<Late>) -> Result<(), TestCaseError> {
    let total: usize = publishers.iter().map(Vec::len).sum();
    let bus: HistoryBus<PEv> = Bus::builder().history(history).build().unwrap();
    let mut recorder = bus
        .subscriber()
        .capacity(total.max(1))
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let joiner = {
        let bus = bus.clone();
        let lates = lates.clone();
        thread::spawn(move || {
            let mut joined = Vec::new();
            for late in lates {
                let target = late.after.min(total as u64);
                while bus.last_seq() < target {
                    thread::yield_now();
                }
                let replay = match late.kind {
                    Kind::None => Replay::None,
                    Kind::Tail(k) => Replay::Tail(k),
                    Kind::SinceBack(back) => Replay::Since(bus.last_seq().saturating_sub(back)),
                    Kind::LastPerTopic => Replay::LastPerTopic,
                };
                let mut builder = bus
                    .subscriber()
                    .topics(Topics::from_bits(late.mask))
                    .replay(replay)
                    .capacity(late.small_queue.unwrap_or(total.max(1)));
                if late.even_only {
                    builder = builder.filter(|e: &PEv| e.index % 2 == 0);
                }
                joined.push((late, replay, builder.build().unwrap()));
            }
            joined
        })
    };
    let handles: Vec<_> = publishers
        .into_iter()
        .enumerate()
        .map(|(p, topics)| {
            let publisher = bus.publisher();
            thread::spawn(move || {
                for (index, topic) in topics.into_iter().enumerate() {
                    let event = PEv {
                        topic,
                        publisher: p as u8,
                        index: index as u32,
                    };
                    publisher.publish(event).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let joined = joiner.join().unwrap();
    bus.close();

    // The truth: every sequence number 1..=total, each once, each publisher's events in order.
    let mut recorded = Vec::new();
    let items = drain(&mut recorder, &mut recorded);
    prop_assert!(items.iter().all(Result::is_ok));
    let seqs: Vec<u64> = recorded.iter().map(|(seq, _)| *seq).collect();
    prop_assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
    let truth: BTreeMap<u64, PEv> = recorded.into_iter().collect();

    for (late, replay, mut sub) in joined {
        let wants =
            |e: &PEv| late.mask & (1 << e.topic) != 0 && (!late.even_only || e.index % 2 == 0);
        let wanted: Vec<u64> = truth
            .iter()
            .filter(|(_, e)| wants(e))
            .map(|(seq, _)| *seq)
            .collect();
        let mut got = Vec::new();
        let items = drain(&mut sub, &mut got);
        // Strictly increasing (so never a duplicate), each the event the bus numbered so, wanted.
        for pair in got.windows(2) {
            prop_assert!(pair[0].0 < pair[1].0, "not increasing: {:?}", items);
        }
        for (seq, event) in &got {
            prop_assert_eq!(Some(event), truth.get(seq));
            prop_assert!(wants(event));
        }
        let ok: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
        let lagged: u64 = items.iter().filter_map(|i| i.err()).sum();
        let history_whole = history >= total; // nothing ever fell out of the history
        let queue_whole = late.small_queue.is_none();
        match replay {
            Replay::Since(s) if history_whole => {
                // Everything wanted after `s`, each received or reported lost, a loss never
                // reported after an event that came later than it.
                let after: Vec<u64> = wanted.iter().copied().filter(|&w| w > s).collect();
                prop_assert_eq!(ok.len() as u64 + lagged, after.len() as u64, "{:?}", items);
                let (mut received, mut reported) = (0u64, 0u64);
                for item in &items {
                    match item {
                        Err(n) => reported += n,
                        Ok(seq) => {
                            let before = after.iter().filter(|&&w| w < *seq).count() as u64;
                            prop_assert!(received + reported >= before, "late Lagged: {:?}", items);
                            received += 1;
                        }
                    }
                }
                if queue_whole {
                    prop_assert_eq!(ok, after);
                }
            }
            Replay::Since(s) if queue_whole => {
                // The history may have lost the oldest: one exact report of the sequence numbers
                // it no longer holds, then every wanted event from there on.
                prop_assert!(items.iter().skip(1).all(Result::is_ok), "{:?}", items);
                let after: Vec<u64> = wanted.iter().copied().filter(|&w| w > s + lagged).collect();
                prop_assert_eq!(ok, after);
            }
            Replay::None | Replay::Tail(_) if queue_whole => {
                // A gapless suffix of what it wants, nothing lost.
                prop_assert_eq!(lagged, 0);
                if let Some(&first) = ok.first() {
                    let suffix: Vec<u64> = wanted.iter().copied().filter(|&w| w >= first).collect();
                    prop_assert_eq!(&ok, &suffix);
                }
                if let Replay::Tail(k) = replay {
                    // The last `k` it wanted at the join (all of them, if fewer) plus all later.
                    if history_whole {
                        prop_assert!(ok.len() >= k.min(wanted.len()), "{:?}", items);
                    }
                }
            }
            Replay::LastPerTopic if queue_whole => {
                // At most one replayed event per topic, then a gapless suffix of what it wants.
                prop_assert_eq!(lagged, 0);
                let is_suffix = |j: usize| {
                    ok.get(j).map_or(true, |&first| {
                        let suffix: Vec<u64> =
                            wanted.iter().copied().filter(|&w| w >= first).collect();
                        ok[j..] == suffix[..]
                    })
                };
                let j = (0..=ok.len()).find(|&j| is_suffix(j)).unwrap_or(ok.len());
                let mut topics: Vec<u8> = got[..j].iter().map(|(_, e)| e.topic).collect();
                topics.sort_unstable();
                topics.dedup();
                prop_assert_eq!(
                    topics.len(),
                    j,
                    "two replayed events of one topic: {:?}",
                    got
                );
            }
            _ => {
                // Overflowing queue on a history that lost events: received + lost still never
                // exceeds what it could want.
                prop_assert!(ok.len() <= wanted.len());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn late_subscribers_see_increasing_gapless_sequences(
        publishers in prop::collection::vec(prop::collection::vec(0u8..4, 0..70), 1..4),
        history in 1usize..260,
        lates in prop::collection::vec(late(), 1..6),
    ) {
        run(publishers, history, lates)?;
    }
}
