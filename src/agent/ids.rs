//! Routing ids: [`RunId`], [`SessionId`], [`AgentId`], newtypes over a random (v4) UUID.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Serialized as its UUID string; `Display` and `FromStr` use the same hyphenated form.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new() -> Self {
                $name(Uuid::new_v4())
            }

            /// The id wrapping `uuid`.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
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
                $name(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        /// The id's UUID as a routing key (see [`crate::key`]).
        impl From<$name> for crate::Key {
            fn from(id: $name) -> crate::Key {
                crate::Key::from(id.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
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
    /// assert!("not a uuid".parse::<RunId>().is_err());
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
    /// assert_eq!(AgentId::from_uuid(uuid).as_uuid(), uuid);
    /// ```
    AgentId
);
