//! Routing keys: [`Key`], which one session, connection or run an event is for.
//!
//! A topic says *what kind* of event something is (64 of them, a bitmask per subscriber); a key
//! says *whose* it is: one tab among ten thousand, one run among the runs of a host. An event
//! names its key through [`Event::key`](crate::Event::key); a subscriber asks for one key, or a
//! small set of them, with [`SubscriberBuilder::key`](crate::SubscriberBuilder::key) /
//! [`keys`](crate::SubscriberBuilder::keys). The bus keeps an index from key to subscribers, built
//! with its subscriber table (an immutable snapshot, replaced on every subscribe and unsubscribe,
//! read by publishers without a lock), so that:
//!
//! - **a keyed event** (one whose `key()` is `Some(k)`) is offered to the subscribers of `k` and
//!   to the unkeyed subscribers, and to nobody else: its cost does not grow with the number of
//!   subscribers of other keys (one hash lookup instead of one filter call per subscriber);
//! - **an unkeyed event** (`key()` is `None`, the default) is offered to every subscriber, keyed
//!   or not, as on a bus without keys: a shutdown notice reaches every tab;
//! - **an unkeyed subscriber** (no `key` on its builder, the default) is offered every event,
//!   keyed or not, as before: an audit log or a metrics exporter sees everything.
//!
//! The key is a routing step *before* everything else a subscriber asks for, never instead of
//! it: an event offered to a subscriber must still match its [topics](crate::Topics) and pass
//! its [filter](crate::SubscriberBuilder::filter), and then meets its queue and its
//! [`Overflow`](crate::Overflow) policy exactly as an event on a bus without keys does (every
//! loss counted and reported as `Lagged`; `Block` waits; `Disconnect` cuts off). An event a
//! subscriber is not offered because of its key is not published *to* it: it is not counted
//! as lost, as an event of a topic it does not follow is not.
//!
//! A bus with no keyed subscriber pays nothing for keys: its publishes never call
//! [`Event::key`](crate::Event::key) (instruction counts in `BENCHMARKS.md`, issue 19).
//!
//! # Choosing keys
//!
//! A key is a 128-bit number, so a UUID (a session id, a connection id, a run id) *is* a key,
//! with no hashing and so no collision: two sessions never share a key by accident.
//! [`Key::from`] takes a `u128`, a `u64`, a `u32`, and with the `agent` feature a
//! [`uuid::Uuid`] and the agent vocabulary's ids. [`AgentEvent`](crate::agent::AgentEvent)'s key
//! is its session.
//!
//! ```
//! use fanout::{topic, Bus, Event, Key, Topic};
//!
//! #[derive(Clone, Debug, PartialEq)]
//! enum Ev {
//!     Text { tab: u64, text: &'static str },
//!     Shutdown,
//! }
//! impl Event for Ev {
//!     fn topic(&self) -> Topic {
//!         topic!(0)
//!     }
//!     fn key(&self) -> Option<Key> {
//!         match self {
//!             Ev::Text { tab, .. } => Some(Key::from(*tab)),
//!             Ev::Shutdown => None, // for everyone
//!         }
//!     }
//! }
//!
//! let bus = Bus::new();
//! let mut tab1 = bus.subscriber().key(1u64).build().unwrap();
//! let mut tab2 = bus.subscriber().key(2u64).build().unwrap();
//! bus.publish(Ev::Text { tab: 2, text: "hi" }).unwrap(); // offered to tab 2 only
//! bus.publish(Ev::Shutdown).unwrap(); // offered to both
//! assert_eq!(tab1.try_recv(), Ok(Ev::Shutdown));
//! assert_eq!(tab2.try_recv(), Ok(Ev::Text { tab: 2, text: "hi" }));
//! assert_eq!(tab2.try_recv(), Ok(Ev::Shutdown));
//! ```
//!
//! # Text form
//!
//! [`Display`](fmt::Display) writes 32 lowercase hex digits (a UUID's "simple" form, so a key made
//! from a UUID reads as that UUID without hyphens); [`FromStr`] reads 1 to 32 hex digits, or a
//! hyphenated UUID. With the `serde` feature a key is serialized as that string (a JSON number
//! cannot hold 128 bits exactly).

use std::fmt;
use std::str::FromStr;

/// The most keys one subscriber may ask for ([`SubscriberBuilder::keys`](crate::SubscriberBuilder::keys)).
///
/// A subscriber is entered in the key index once per key, so a key costs it one table row
/// (about 100 bytes) and every publish of that key one visit; a subscriber that needs more keys
/// than this wants its own topics, or no key and a filter.
pub const MAX_KEYS: usize = 64;

/// A routing key: which session, connection or run an event is for (see the [module docs](self)).
///
/// # Examples
///
/// ```
/// use fanout::Key;
/// let key = Key::from(42u64);
/// assert_eq!(key.get(), 42);
/// assert_eq!(key.to_string(), "0000000000000000000000000000002a");
/// assert_eq!("2a".parse::<Key>(), Ok(key));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(u128);

impl Key {
    /// The key `value`.
    pub const fn new(value: u128) -> Key {
        Key(value)
    }

    /// The key as a number.
    pub const fn get(self) -> u128 {
        self.0
    }
}

impl From<u128> for Key {
    fn from(value: u128) -> Key {
        Key(value)
    }
}

impl From<u64> for Key {
    fn from(value: u64) -> Key {
        Key(u128::from(value))
    }
}

impl From<u32> for Key {
    fn from(value: u32) -> Key {
        Key(u128::from(value))
    }
}

/// A UUID is a key as it is: its 128 bits, no hashing.
///
/// ```
/// let uuid = uuid::Uuid::new_v4();
/// let key = fanout::Key::from(uuid);
/// assert_eq!(key.get(), uuid.as_u128());
/// assert_eq!(key.to_string(), uuid.simple().to_string());
/// ```
#[cfg(feature = "agent")]
impl From<uuid::Uuid> for Key {
    fn from(uuid: uuid::Uuid) -> Key {
        Key(uuid.as_u128())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:032x})", self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// A string that is not a key: not 1 to 32 hex digits, nor a hyphenated UUID.
///
/// # Examples
///
/// ```
/// use fanout::Key;
/// assert!("".parse::<Key>().is_err());
/// assert!("xyz".parse::<Key>().is_err());
/// assert!("1".repeat(33).parse::<Key>().is_err());
/// let err = "xyz".parse::<Key>().unwrap_err();
/// assert_eq!(err.to_string(), "not a key (1 to 32 hex digits, or a hyphenated UUID): \"xyz\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseKeyError {
    input: String,
}

impl fmt::Display for ParseKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a key (1 to 32 hex digits, or a hyphenated UUID): {:?}",
            self.input
        )
    }
}

impl std::error::Error for ParseKeyError {}

impl FromStr for Key {
    type Err = ParseKeyError;

    /// Reads 1 to 32 hex digits (either case), or a hyphenated UUID
    /// (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    ///
    /// ```
    /// use fanout::Key;
    /// let key: Key = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
    /// assert_eq!(key, "67e5504410b1426f9247bb680e5fe0c8".parse().unwrap());
    /// ```
    fn from_str(s: &str) -> Result<Key, ParseKeyError> {
        let err = || ParseKeyError {
            input: s.to_owned(),
        };
        let bytes = s.as_bytes();
        let hyphenated = bytes.len() == 36
            && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| [8, 13, 18, 23].contains(&i) || b.is_ascii_hexdigit());
        let digits: String = if hyphenated {
            s.chars().filter(|&c| c != '-').collect()
        } else if (1..=32).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_hexdigit) {
            s.to_owned()
        } else {
            return Err(err());
        };
        u128::from_str_radix(&digits, 16)
            .map(Key)
            .map_err(|_| err())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The keys a subscriber asked for: sorted, without duplicates, at least one and at most
/// [`MAX_KEYS`] (checked by the builder). The first is its *primary* key (see `registry`).
pub(crate) fn normalize(mut keys: Vec<Key>) -> Result<Box<[Key]>, crate::error::BuildError> {
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Err(crate::error::BuildError::NoKeys);
    }
    if keys.len() > MAX_KEYS {
        return Err(crate::error::BuildError::TooManyKeys {
            requested: keys.len(),
        });
    }
    Ok(keys.into_boxed_slice())
}
