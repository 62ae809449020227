//! Which entries of a snapshot with a key index one event is offered to (see [`crate::key`]).
//!
//! A route is a short list of *parts*, slices of entries walked in order: first the unkeyed
//! subscribers, then, for a keyed event, the group of its key (nothing if the key has no
//! subscriber), or, for an unkeyed event, the primary entries of every group (each keyed
//! subscriber once). A snapshot without a key index has one part, its plain entry list.
//! Positions in a route are `(part, index)` pairs, so that a walk can stop and resume (the async
//! publish) and a guard can tell what was looked at (a panic in the middle of a publish).

use crate::registry::{Entry, Snapshot};
use crate::{Event, Key};

/// Where a route's second half goes, resolved once per publish (one hash lookup).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// An unkeyed event: every group's primaries.
    Everyone,
    /// A keyed event: the group in this slot of the key index, or none.
    Group(Option<usize>),
}

impl Target {
    /// The target of an event with `key` in `snapshot`.
    #[inline]
    pub(crate) fn of<E>(snapshot: &Snapshot<E>, key: Option<Key>) -> Target {
        match (&snapshot.keyed, key) {
            (Some(keyed), Some(key)) => Target::Group(keyed.slot(key).map(|slot| slot.index)),
            (Some(_), None) => Target::Everyone,
            (None, _) => Target::Group(None),
        }
    }

    /// The target of `event` in `snapshot`; calls [`Event::key`] (user code) only if the
    /// snapshot has a key index.
    #[inline]
    pub(crate) fn for_event<E: Event>(snapshot: &Snapshot<E>, event: &E) -> Target {
        match &snapshot.keyed {
            Some(_) => Target::of(snapshot, event.key()),
            None => Target::Group(None),
        }
    }
}

/// The parts of one event's route through one snapshot.
pub(crate) struct Route<'a, E> {
    snapshot: &'a Snapshot<E>,
    target: Target,
    /// The key's group, for `Target::Group(Some(_))` (resolved once).
    group: &'a [Entry<E>],
}

impl<E> Clone for Route<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Route<'_, E> {}

/// A position in a route: entry `index` of part `part`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) part: usize,
    pub(crate) index: usize,
}

impl<'a, E> Route<'a, E> {
    #[inline]
    pub(crate) fn new(snapshot: &'a Snapshot<E>, target: Target) -> Self {
        let group = match (&snapshot.keyed, target) {
            (Some(keyed), Target::Group(Some(index))) => &keyed.groups[index].entries[..],
            _ => &[],
        };
        Route {
            snapshot,
            target,
            group,
        }
    }

    /// The route of an event of key `key` (`None`: unkeyed) through a snapshot with a key index:
    /// from the hash lookup straight to the key's entries.
    #[inline]
    pub(crate) fn keyed(snapshot: &'a Snapshot<E>, key: Option<Key>) -> Self {
        let slot = match (&snapshot.keyed, key) {
            (Some(keyed), Some(key)) => keyed.slot(key),
            _ => None,
        };
        match slot {
            Some(slot) => Route {
                snapshot,
                target: Target::Group(Some(slot.index)),
                group: &slot.entries,
            },
            None => Route::new(snapshot, Target::of(snapshot, key)),
        }
    }

    /// How many parts the route has.
    #[inline]
    pub(crate) fn parts(&self) -> usize {
        match (&self.snapshot.keyed, self.target) {
            (None, _) | (Some(_), Target::Group(None)) => 1,
            (Some(_), Target::Group(Some(_))) => 2,
            (Some(keyed), Target::Everyone) => 1 + keyed.groups.len(),
        }
    }

    /// Part `part` (`< parts()`).
    #[inline]
    pub(crate) fn part(&self, part: usize) -> &'a [Entry<E>] {
        if part == 0 {
            return &self.snapshot.entries;
        }
        let Some(keyed) = &self.snapshot.keyed else {
            return &[];
        };
        match self.target {
            Target::Everyone => keyed.groups[part - 1].primaries(),
            Target::Group(Some(_)) => self.group,
            Target::Group(None) => &[],
        }
    }

    /// The entry at `pos`.
    #[inline]
    pub(crate) fn entry(&self, pos: Pos) -> &'a Entry<E> {
        &self.part(pos.part)[pos.index]
    }

    /// The first position at or after `pos` that holds an entry, `None` past the end.
    #[inline]
    pub(crate) fn settle(&self, mut pos: Pos) -> Option<Pos> {
        while pos.part < self.parts() {
            if pos.index < self.part(pos.part).len() {
                return Some(pos);
            }
            pos = Pos {
                part: pos.part + 1,
                index: 0,
            };
        }
        None
    }

    /// Every entry of the route from `from` on.
    pub(crate) fn entries_from(&self, from: Pos) -> impl Iterator<Item = &'a Entry<E>> + 'a {
        let route = *self;
        (from.part..self.parts()).flat_map(move |part| {
            let skip = if part == from.part { from.index } else { 0 };
            route.part(part).iter().skip(skip)
        })
    }
}
