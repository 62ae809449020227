//! Routing ids: [`RunId`], [`SessionId`], [`AgentId`]: a UUID, or a host's own name for the
//! thing (a string of up to [`MAX_ID_NAME_LEN`] bytes), held inline so the ids stay `Copy`.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The longest host name an id holds ([`RunId::from_name`] and the others): 47 bytes of UTF-8.
///
/// Ids are held inline (so they stay `Copy` and cost no allocation on the publishing thread);
/// 47 bytes holds a UUID with a prefix (`"agent-<uuid>"`, 42 bytes) and the usual short names.
pub const MAX_ID_NAME_LEN: usize = 47;

/// A name that cannot be an id: longer than [`MAX_ID_NAME_LEN`] bytes, or empty.
///
/// # Examples
///
/// ```
/// use fanout::agent::{IdNameError, SessionId, MAX_ID_NAME_LEN};
/// let err = SessionId::from_name(&"x".repeat(MAX_ID_NAME_LEN + 1)).unwrap_err();
/// assert_eq!(err, IdNameError::TooLong { len: 48 });
/// assert_eq!(err.to_string(), "an id name is at most 47 bytes, this one has 48");
/// assert_eq!(SessionId::from_name("").unwrap_err(), IdNameError::Empty);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdNameError {
    /// The name is longer than [`MAX_ID_NAME_LEN`] bytes (`len` is its length).
    TooLong {
        /// The name's length in bytes.
        len: usize,
    },
    /// The name is empty.
    Empty,
}

impl fmt::Display for IdNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdNameError::TooLong { len } => write!(
                f,
                "an id name is at most {MAX_ID_NAME_LEN} bytes, this one has {len}"
            ),
            IdNameError::Empty => f.write_str("an id name is not empty"),
        }
    }
}

impl std::error::Error for IdNameError {}

/// What an id holds. A name that is a UUID in its canonical hyphenated form is held as that
/// UUID, so an id has one representation whichever way it was made (and its text round-trips).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Repr {
    Uuid(Uuid),
    /// `len` bytes of `bytes` are the name's UTF-8 (1..=MAX_ID_NAME_LEN); the rest are zero, so
    /// the derived `Eq`/`Hash`/`Ord` see the name alone.
    Name {
        len: u8,
        bytes: [u8; MAX_ID_NAME_LEN],
    },
}

impl Repr {
    fn from_name(name: &str) -> Result<Repr, IdNameError> {
        if let Ok(uuid) = Uuid::parse_str(name) {
            if uuid.hyphenated().to_string() == name {
                return Ok(Repr::Uuid(uuid));
            }
        }
        if name.is_empty() {
            return Err(IdNameError::Empty);
        }
        if name.len() > MAX_ID_NAME_LEN {
            return Err(IdNameError::TooLong { len: name.len() });
        }
        let mut bytes = [0u8; MAX_ID_NAME_LEN];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Repr::Name {
            len: name.len() as u8,
            bytes,
        })
    }

    fn name(&self) -> Option<&str> {
        match self {
            Repr::Uuid(_) => None,
            Repr::Name { len, bytes } => Some(
                std::str::from_utf8(&bytes[..usize::from(*len)])
                    .expect("built from a &str, cut at its length"),
            ),
        }
    }

    /// 128-bit FNV-1a of the name's bytes: stable across builds and platforms.
    fn key(&self) -> u128 {
        match self {
            Repr::Uuid(uuid) => uuid.as_u128(),
            Repr::Name { .. } => {
                const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
                const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
                let name = self.name().expect("a name");
                name.bytes()
                    .fold(OFFSET, |hash, b| (hash ^ u128::from(b)).wrapping_mul(PRIME))
            }
        }
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repr::Uuid(uuid) => fmt::Display::fmt(uuid, f),
            Repr::Name { .. } => f.write_str(self.name().expect("a name")),
        }
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// A UUID ([`new`](Self::new), [`from_uuid`](Self::from_uuid)) or, for a host with ids of
        /// its own, a name of up to [`MAX_ID_NAME_LEN`] bytes ([`from_name`](Self::from_name)).
        /// Serialized as its text (the hyphenated UUID, or the name); `Display` writes the same
        /// text, which `FromStr` and serde read back (a canonical UUID's text is that UUID's id).
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Repr);

        impl $name {
            /// A new random (v4) id.
            pub fn new() -> Self {
                $name(Repr::Uuid(Uuid::new_v4()))
            }

            /// The id wrapping `uuid`.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(Repr::Uuid(uuid))
            }

            /// The id named `name` by the host (its own string id). A name that is a UUID in
            /// canonical hyphenated form is that UUID's id.
            ///
            /// # Errors
            ///
            /// [`IdNameError`] if `name` is empty or longer than [`MAX_ID_NAME_LEN`] bytes.
            pub fn from_name(name: &str) -> Result<Self, IdNameError> {
                Repr::from_name(name).map($name)
            }

            /// The UUID inside, if the id is one (`None` for a host's name).
            pub const fn as_uuid(&self) -> Option<Uuid> {
                match self.0 {
                    Repr::Uuid(uuid) => Some(uuid),
                    Repr::Name { .. } => None,
                }
            }

            /// The host's name, if the id is one (`None` for a UUID).
            pub fn as_name(&self) -> Option<&str> {
                self.0.name()
            }
        }

        impl Default for $name {
            /// A new random id (never the nil UUID).
            fn default() -> Self {
                $name::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                $name::from_uuid(uuid)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdNameError;

            /// [`from_name`](Self::from_name).
            fn try_from(name: &str) -> Result<Self, IdNameError> {
                $name::from_name(name)
            }
        }

        /// The id as a routing key (see [`crate::key`]): a UUID's 128 bits as they are; a name's
        /// 128-bit FNV-1a hash (two names may in principle share a key: a subscriber that must
        /// never see another's events compares the id in its filter too).
        impl From<$name> for crate::Key {
            fn from(id: $name) -> crate::Key {
                crate::Key::new(id.0.key())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Repr::Uuid(_) => write!(f, concat!(stringify!($name), "({})"), self.0),
                    Repr::Name { .. } => write!(f, concat!(stringify!($name), "({:?})"), self.0.to_string()),
                }
            }
        }

        impl FromStr for $name {
            type Err = IdNameError;

            /// Reads the text `Display` writes, as serde does: a hyphenated lower-case UUID is
            /// that UUID's id, any other text is a name ([`from_name`](Self::from_name)), so a
            /// host's named ids can be addressed from a URL or a command line too.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::from_name(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::from_name(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// One run of an agent loop: from `RunStarted` to its terminal event.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::RunId;
    /// let run = RunId::new();
    /// assert_eq!(run.to_string().parse::<RunId>().unwrap(), run);
    /// assert!("".parse::<RunId>().is_err());
    ///
    /// // A host's own string id, kept as it is.
    /// let named = RunId::from_name("run-42").unwrap();
    /// assert_eq!(named.as_name(), Some("run-42"));
    /// assert_eq!("run-42".parse::<RunId>().unwrap(), named);
    /// assert_eq!(serde_json::to_string(&named).unwrap(), r#""run-42""#);
    /// assert_eq!(serde_json::from_str::<RunId>(r#""run-42""#).unwrap(), named);
    /// ```
    RunId
);

id_type!(
    /// A conversation (a user's tab, a connection): the unit of per-connection targeting.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::SessionId;
    /// assert_ne!(SessionId::new(), SessionId::new());
    /// let uuid = uuid::Uuid::new_v4();
    /// // A name that is a canonical UUID is that UUID's id.
    /// assert_eq!(SessionId::from_name(&uuid.to_string()).unwrap(), SessionId::from_uuid(uuid));
    /// ```
    SessionId
);

id_type!(
    /// An agent (one member of a multi-agent group, or the only one).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::AgentId;
    /// let uuid = uuid::Uuid::new_v4();
    /// assert_eq!(AgentId::from_uuid(uuid).as_uuid(), Some(uuid));
    /// assert_eq!(AgentId::from_name("planner").unwrap().as_uuid(), None);
    /// ```
    AgentId
);
