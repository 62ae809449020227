//! Topics and topic sets: the publish-time prefilter.
//!
//! A [`Topic`] is an index in `0..64`. A [`Topics`] set is a `u64` bitmask with one bit per
//! topic. Every subscriber holds a `Topics` mask; the bus holds the union of all live masks
//! (its *interest*). A publish first tests the event's topic against the interest (one atomic
//! load), then against each subscriber's mask, so an uninterested subscriber costs a bit test and
//! nothing else.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not, Sub};

/// The number of distinct topics a bus can tell apart.
pub const TOPIC_COUNT: u8 = 64;

/// A topic: an index in `0..64` that an event maps itself to.
///
/// Build one with [`Topic::new`] at run time (it rejects 64 and above with an error) or with the
/// [`topic!`](crate::topic!) macro in constant position, where an out-of-range index is a compile
/// error.
///
/// # Examples
///
/// ```
/// use fanout::{topic, Topic};
///
/// const TOOL: Topic = topic!(0);
/// assert_eq!(TOOL.index(), 0);
/// assert_eq!(Topic::new(5).unwrap().index(), 5);
/// assert!(Topic::new(64).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "u8", into = "u8"))]
pub struct Topic(u8);

impl Topic {
    /// Makes the topic with this index, or an error when `index >= 64`.
    ///
    /// This is a `const fn`; inside a `const` item prefer [`topic!`](crate::topic!), which turns
    /// the error into a compile error.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::Topic;
    ///
    /// assert_eq!(Topic::new(63).map(Topic::index), Ok(63));
    /// let err = Topic::new(64).unwrap_err();
    /// assert_eq!(err.index(), 64);
    /// ```
    pub const fn new(index: u8) -> Result<Topic, TopicOutOfRange> {
        if index < TOPIC_COUNT {
            Ok(Topic(index))
        } else {
            Err(TopicOutOfRange {
                index: index as u32,
            })
        }
    }

    /// The index of this topic, in `0..64`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(fanout::topic!(7).index(), 7);
    /// ```
    pub const fn index(self) -> u8 {
        self.0
    }

    /// The one-bit mask of this topic.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(fanout::topic!(3).bit(), 0b1000);
    /// ```
    pub const fn bit(self) -> u64 {
        1u64 << self.0
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.0)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "topic {}", self.0)
    }
}

impl TryFrom<u8> for Topic {
    type Error = TopicOutOfRange;

    fn try_from(index: u8) -> Result<Self, Self::Error> {
        Topic::new(index)
    }
}

impl TryFrom<u32> for Topic {
    type Error = TopicOutOfRange;

    fn try_from(index: u32) -> Result<Self, Self::Error> {
        match u8::try_from(index) {
            Ok(small) => Topic::new(small),
            Err(_) => Err(TopicOutOfRange { index }),
        }
    }
}

impl TryFrom<usize> for Topic {
    type Error = TopicOutOfRange;

    fn try_from(index: usize) -> Result<Self, Self::Error> {
        match u8::try_from(index) {
            Ok(small) => Topic::new(small),
            Err(_) => Err(TopicOutOfRange {
                index: u32::try_from(index).unwrap_or(u32::MAX),
            }),
        }
    }
}

impl From<Topic> for u8 {
    fn from(topic: Topic) -> u8 {
        topic.0
    }
}

/// Makes a [`Topic`] from an index known at compile time; an index of 64 or more does not compile.
///
/// # Examples
///
/// ```
/// use fanout::{topic, Topic};
///
/// const LLM: Topic = topic!(1);
/// assert_eq!(LLM.index(), 1);
/// ```
///
/// ```compile_fail
/// const BAD: fanout::Topic = fanout::topic!(64); // error: topic index must be below 64
/// ```
#[macro_export]
macro_rules! topic {
    ($index:expr) => {
        const {
            match $crate::Topic::new($index) {
                ::core::result::Result::Ok(topic) => topic,
                ::core::result::Result::Err(_) => ::core::panic!("topic index must be below 64"),
            }
        }
    };
}

/// The error for a topic index of 64 or more.
///
/// # Examples
///
/// ```
/// let err = fanout::Topic::new(200).unwrap_err();
/// assert_eq!(err.to_string(), "topic index 200 is out of range (a bus has topics 0..64)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicOutOfRange {
    index: u32,
}

impl TopicOutOfRange {
    /// The index that was asked for.
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl fmt::Display for TopicOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "topic index {} is out of range (a bus has topics 0..{})",
            self.index, TOPIC_COUNT
        )
    }
}

impl std::error::Error for TopicOutOfRange {}

/// A set of topics: a `u64` bitmask with one bit per [`Topic`].
///
/// # Examples
///
/// ```
/// use fanout::{topic, Topic, Topics};
///
/// const TOOL: Topic = topic!(0);
/// const LLM: Topic = topic!(1);
/// const DELTA: Topic = topic!(7);
///
/// let ui = TOOL | LLM | DELTA;
/// let audit = Topics::ALL - DELTA;
/// assert!(ui.contains(DELTA));
/// assert!(!audit.contains(DELTA));
/// assert_eq!([TOOL, LLM].into_iter().collect::<Topics>(), TOOL | LLM);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Topics(u64);

impl Topics {
    /// Every topic.
    pub const ALL: Topics = Topics(u64::MAX);
    /// No topic: a subscriber with this mask receives nothing until [`set_topics`] widens it.
    ///
    /// [`set_topics`]: crate::Subscriber::set_topics
    pub const NONE: Topics = Topics(0);

    /// The set whose bitmask is `bits` (bit `i` stands for topic `i`).
    pub const fn from_bits(bits: u64) -> Topics {
        Topics(bits)
    }

    /// The bitmask of this set.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The set holding just `topic`.
    pub const fn only(topic: Topic) -> Topics {
        Topics(topic.bit())
    }

    /// Whether `topic` is in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Topics};
    /// assert!(Topics::ALL.contains(topic!(63)));
    /// assert!(!Topics::NONE.contains(topic!(0)));
    /// ```
    pub const fn contains(self, topic: Topic) -> bool {
        self.0 & topic.bit() != 0
    }

    /// This set with `topic` added.
    pub const fn with(self, topic: Topic) -> Topics {
        Topics(self.0 | topic.bit())
    }

    /// This set with `topic` removed.
    pub const fn without(self, topic: Topic) -> Topics {
        Topics(self.0 & !topic.bit())
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many topics the set holds.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The topics in the set, lowest index first.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Topics};
    /// let set = topic!(2) | topic!(9);
    /// let indices: Vec<u8> = set.iter().map(|t| t.index()).collect();
    /// assert_eq!(indices, [2, 9]);
    /// ```
    pub fn iter(self) -> TopicsIter {
        TopicsIter { bits: self.0 }
    }
}

impl fmt::Debug for Topics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Topics::ALL {
            return f.write_str("Topics(ALL)");
        }
        f.write_str("Topics")?;
        f.debug_set()
            .entries(self.iter().map(Topic::index))
            .finish()
    }
}

impl From<Topic> for Topics {
    fn from(topic: Topic) -> Topics {
        Topics::only(topic)
    }
}

impl FromIterator<Topic> for Topics {
    fn from_iter<I: IntoIterator<Item = Topic>>(iter: I) -> Topics {
        iter.into_iter().fold(Topics::NONE, Topics::with)
    }
}

impl IntoIterator for Topics {
    type Item = Topic;
    type IntoIter = TopicsIter;

    fn into_iter(self) -> TopicsIter {
        self.iter()
    }
}

impl<T: Into<Topics>> BitOr<T> for Topics {
    type Output = Topics;

    fn bitor(self, rhs: T) -> Topics {
        Topics(self.0 | rhs.into().0)
    }
}

impl<T: Into<Topics>> BitOr<T> for Topic {
    type Output = Topics;

    fn bitor(self, rhs: T) -> Topics {
        Topics(self.bit() | rhs.into().0)
    }
}

impl<T: Into<Topics>> BitOrAssign<T> for Topics {
    fn bitor_assign(&mut self, rhs: T) {
        self.0 |= rhs.into().0;
    }
}

impl<T: Into<Topics>> BitAnd<T> for Topics {
    type Output = Topics;

    fn bitand(self, rhs: T) -> Topics {
        Topics(self.0 & rhs.into().0)
    }
}

impl<T: Into<Topics>> Sub<T> for Topics {
    type Output = Topics;

    fn sub(self, rhs: T) -> Topics {
        Topics(self.0 & !rhs.into().0)
    }
}

impl Not for Topics {
    type Output = Topics;

    fn not(self) -> Topics {
        Topics(!self.0)
    }
}

/// The iterator of [`Topics::iter`].
#[derive(Clone, Debug)]
pub struct TopicsIter {
    bits: u64,
}

impl Iterator for TopicsIter {
    type Item = Topic;

    fn next(&mut self) -> Option<Topic> {
        if self.bits == 0 {
            return None;
        }
        let index = self.bits.trailing_zeros() as u8;
        self.bits &= self.bits - 1;
        Some(Topic(index))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bits.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for TopicsIter {}
