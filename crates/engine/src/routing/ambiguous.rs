//! A request whose host or path can be read several ways that select different policies: the
//! filter's answer must not depend on how the upstream reads it, so it is denied (enforced),
//! or counted as a would-be denial (when no candidate policy enforces).

use std::fmt;

use super::{Config, PolicyId};
use crate::mode::Mode;
use crate::policy::Policy;

/// Which part of the request had several readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AmbiguousPart {
    /// The `:authority`.
    Host,
    /// The `:path`.
    Path,
    /// Both.
    HostAndPath,
}

impl AmbiguousPart {
    /// The part with several readings (the path when neither is said to: a path read with case
    /// folded is still the path).
    pub(crate) fn of(host: bool, path: bool) -> AmbiguousPart {
        match (host, path) {
            (true, true) => AmbiguousPart::HostAndPath,
            (true, false) => AmbiguousPart::Host,
            (false, _) => AmbiguousPart::Path,
        }
    }
}

/// The readings of the request selected these different policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguous {
    /// What had several readings.
    pub(crate) part: AmbiguousPart,
    /// The policies the readings selected, in the order found (two or more).
    pub(crate) candidates: Vec<PolicyId>,
    /// `Enforce` when some candidate enforces (the request is denied), else `Shadow` (it would
    /// be: counted and logged, nothing changed).
    pub mode: Mode,
}

impl Ambiguous {
    /// The selection among `candidates`: the one policy when all readings agree, or when every
    /// candidate is `off` (none acts, so the readings cannot make the answer differ).
    pub(super) fn check(
        config: &Config,
        candidates: Vec<PolicyId>,
        part: AmbiguousPart,
    ) -> Result<(PolicyId, &Policy), Ambiguous> {
        let modes = || candidates.iter().map(|id| config.policy(*id).mode());
        match candidates.first() {
            Some(first) if candidates.len() == 1 || modes().all(|m| m == Mode::Off) => {
                Ok((*first, config.policy(*first)))
            }
            _ => {
                let mode = if modes().any(|m| m == Mode::Enforce) { Mode::Enforce } else { Mode::Shadow };
                Err(Ambiguous { part, candidates, mode })
            }
        }
    }

    /// Words for logs and `cors-lint explain`.
    pub fn describe<'a>(&'a self, config: &'a Config) -> impl fmt::Display + 'a {
        Described { ambiguous: self, config }
    }
}

struct Described<'a> {
    ambiguous: &'a Ambiguous,
    config: &'a Config,
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = match self.ambiguous.part {
            AmbiguousPart::Host => "host",
            AmbiguousPart::Path => "path",
            AmbiguousPart::HostAndPath => "host and path",
        };
        write!(f, "ambiguous {part}: its readings select ")?;
        for (i, id) in self.ambiguous.candidates.iter().enumerate() {
            let sep = if i == 0 { "" } else { " and " };
            write!(f, "{sep}{}", self.config.policy(*id).name())?;
        }
        Ok(())
    }
}
