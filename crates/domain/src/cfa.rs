//! Conversations for action (Winograd & Flores): the states of a request or
//! an offer, the acts that move it, and who may make each act. A is the
//! requester (customer), B the performer. [`apply`] is the whole table of
//! the product design; nothing else decides whether an act is allowed.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Requested,
    Offered,
    Countered,
    Promised,
    Reported,
    Completed,
    Declined,
    Withdrawn,
    Reneged,
    Cancelled,
}

impl State {
    pub const ALL: [State; 10] = [
        Self::Requested,
        Self::Offered,
        Self::Countered,
        Self::Promised,
        Self::Reported,
        Self::Completed,
        Self::Declined,
        Self::Withdrawn,
        Self::Reneged,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Offered => "offered",
            Self::Countered => "countered",
            Self::Promised => "promised",
            Self::Reported => "reported",
            Self::Completed => "completed",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Reneged => "reneged",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim())
            .ok_or_else(|| ValidationError::new("state", format!("Unknown state {s:?}.")))
    }

    /// No act can move it any more.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Declined | Self::Withdrawn | Self::Reneged | Self::Cancelled
        )
    }

    /// A promise stands: B owes the work (reported still awaits A's verdict).
    pub fn is_promise(self) -> bool {
        matches!(self, Self::Promised | Self::Reported)
    }
}

/// The acts of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Request,
    Offer,
    Promise,
    Counter,
    Accept,
    Decline,
    Withdraw,
    Report,
    Renege,
    Cancel,
    Approve,
    Reject,
}

impl Act {
    pub const ALL: [Act; 12] = [
        Self::Request,
        Self::Offer,
        Self::Promise,
        Self::Counter,
        Self::Accept,
        Self::Decline,
        Self::Withdraw,
        Self::Report,
        Self::Renege,
        Self::Cancel,
        Self::Approve,
        Self::Reject,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Offer => "offer",
            Self::Promise => "promise",
            Self::Counter => "counter",
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Withdraw => "withdraw",
            Self::Report => "report",
            Self::Renege => "renege",
            Self::Cancel => "cancel",
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "act",
                    "An act is one of request, offer, promise, counter, accept, decline, \
                     withdraw, report, renege, cancel, approve, reject.",
                )
            })
    }

    /// The act changes the terms (title, conditions, due time).
    pub fn carries_terms(self) -> bool {
        matches!(self, Self::Request | Self::Offer | Self::Counter)
    }

    /// The past-tense verb a person reads: "Bo promised".
    pub fn past(self) -> &'static str {
        match self {
            Self::Request => "requested",
            Self::Offer => "offered",
            Self::Promise => "promised",
            Self::Counter => "countered",
            Self::Accept => "accepted",
            Self::Decline => "declined",
            Self::Withdraw => "withdrew",
            Self::Report => "reported completion of",
            Self::Renege => "reneged on",
            Self::Cancel => "cancelled",
            Self::Approve => "approved",
            Self::Reject => "rejected",
        }
    }
}

/// A party of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A, the customer, who declares the work done.
    Requester,
    /// B, the one accountable performer.
    Performer,
}

impl Role {
    pub const ALL: [Role; 2] = [Self::Requester, Self::Performer];

    pub fn other(self) -> Self {
        match self {
            Self::Requester => Self::Performer,
            Self::Performer => Self::Requester,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requester => "requester",
            Self::Performer => "performer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s.trim() {
            "requester" => Ok(Self::Requester),
            "performer" => Ok(Self::Performer),
            _ => Err(ValidationError::new(
                "role",
                "A role is requester or performer.",
            )),
        }
    }
}

/// An act the table does not allow now; `allowed` lists what is possible
/// instead and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub allowed: Vec<(Act, Role)>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.allowed.is_empty() {
            return write!(f, "This conversation is closed; no act is possible.");
        }
        let list: Vec<String> = self
            .allowed
            .iter()
            .map(|(a, r)| format!("{} (by the {})", a.as_str(), r.as_str()))
            .collect();
        write!(f, "Possible now: {}.", list.join(", "))
    }
}

/// Who must act next. `turn` is the stored answerer of a counter (the
/// other states imply it); `None` for a closed conversation.
pub fn whose_turn(state: State, turn: Option<Role>) -> Option<Role> {
    match state {
        State::Requested | State::Promised => Some(Role::Performer),
        State::Offered | State::Reported => Some(Role::Requester),
        State::Countered => Some(turn.unwrap_or(Role::Requester)),
        _ => None,
    }
}

/// THE table of the product design. `state` is `None` for a conversation
/// not yet begun. Returns the new state and whose turn it is then, or the
/// refusal with every act possible now.
pub fn apply(
    state: Option<State>,
    turn: Option<Role>,
    actor: Role,
    act: Act,
) -> Result<(State, Option<Role>), Refusal> {
    use Act as X;
    use Role::{Performer as B, Requester as A};
    use State as S;
    let next = match state {
        None => match (actor, act) {
            (A, X::Request) => Some(S::Requested),
            (B, X::Offer) => Some(S::Offered),
            _ => None,
        },
        Some(S::Requested) => match (actor, act) {
            (B, X::Promise) => Some(S::Promised),
            (B, X::Counter) => Some(S::Countered),
            (B, X::Decline) => Some(S::Declined),
            (A, X::Withdraw) => Some(S::Withdrawn),
            _ => None,
        },
        Some(S::Offered) => match (actor, act) {
            (A, X::Accept) => Some(S::Promised),
            (A, X::Counter) => Some(S::Countered),
            (A, X::Decline) => Some(S::Declined),
            (B, X::Withdraw) => Some(S::Withdrawn),
            _ => None,
        },
        Some(S::Countered) => {
            let answerer = whose_turn(S::Countered, turn).unwrap_or(A);
            match act {
                X::Accept if actor == answerer => Some(S::Promised),
                X::Counter if actor == answerer => Some(S::Countered),
                X::Decline if actor == answerer => Some(S::Declined),
                X::Withdraw if actor != answerer => Some(S::Withdrawn),
                _ => None,
            }
        }
        Some(S::Promised) => match (actor, act) {
            (B, X::Report) => Some(S::Reported),
            (B, X::Renege) => Some(S::Reneged),
            (A, X::Cancel) => Some(S::Cancelled),
            _ => None,
        },
        Some(S::Reported) => match (actor, act) {
            (A, X::Approve) => Some(S::Completed),
            (A, X::Reject) => Some(S::Promised),
            (A, X::Cancel) => Some(S::Cancelled),
            _ => None,
        },
        Some(_) => None,
    };
    match next {
        Some(new) => {
            // A counter hands the turn to the other party; every other state
            // implies whose turn it is.
            let new_turn = if new == S::Countered {
                Some(actor.other())
            } else {
                whose_turn(new, None)
            };
            Ok((new, new_turn))
        }
        None => Err(Refusal {
            allowed: allowed(state, turn),
        }),
    }
}

/// Every (act, role) the table allows now, in a stable order.
pub fn allowed(state: Option<State>, turn: Option<Role>) -> Vec<(Act, Role)> {
    let mut out = Vec::new();
    for act in Act::ALL {
        for role in Role::ALL {
            if state_accepts(state, turn, role, act) {
                out.push((act, role));
            }
        }
    }
    out
}

fn state_accepts(state: Option<State>, turn: Option<Role>, actor: Role, act: Act) -> bool {
    // Mirrors `apply` without recursion into the refusal list.
    use Act as X;
    use Role::{Performer as B, Requester as A};
    use State as S;
    match state {
        None => matches!((actor, act), (A, X::Request) | (B, X::Offer)),
        Some(S::Requested) => matches!(
            (actor, act),
            (B, X::Promise | X::Counter | X::Decline) | (A, X::Withdraw)
        ),
        Some(S::Offered) => matches!(
            (actor, act),
            (A, X::Accept | X::Counter | X::Decline) | (B, X::Withdraw)
        ),
        Some(S::Countered) => {
            let answerer = whose_turn(S::Countered, turn).unwrap_or(A);
            match act {
                X::Accept | X::Counter | X::Decline => actor == answerer,
                X::Withdraw => actor != answerer,
                _ => false,
            }
        }
        Some(S::Promised) => matches!((actor, act), (B, X::Report | X::Renege) | (A, X::Cancel)),
        Some(S::Reported) => {
            matches!((actor, act), (A, X::Approve | X::Reject | X::Cancel))
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Act as X;
    use Role::{Performer as B, Requester as A};
    use State as S;

    /// The table of the design, row by row: (from, turn, who, act) → (to, turn).
    /// `turn` in `from` matters only for `countered`.
    type Row = (Option<S>, Option<Role>, Role, X, S, Option<Role>);

    fn table() -> Vec<Row> {
        vec![
            (None, None, A, X::Request, S::Requested, Some(B)),
            (None, None, B, X::Offer, S::Offered, Some(A)),
            (
                Some(S::Requested),
                None,
                B,
                X::Promise,
                S::Promised,
                Some(B),
            ),
            (
                Some(S::Requested),
                None,
                B,
                X::Counter,
                S::Countered,
                Some(A),
            ),
            (Some(S::Requested), None, B, X::Decline, S::Declined, None),
            (Some(S::Requested), None, A, X::Withdraw, S::Withdrawn, None),
            (Some(S::Offered), None, A, X::Accept, S::Promised, Some(B)),
            (Some(S::Offered), None, A, X::Counter, S::Countered, Some(B)),
            (Some(S::Offered), None, A, X::Decline, S::Declined, None),
            (Some(S::Offered), None, B, X::Withdraw, S::Withdrawn, None),
            // countered, A to answer (B countered)
            (
                Some(S::Countered),
                Some(A),
                A,
                X::Accept,
                S::Promised,
                Some(B),
            ),
            (
                Some(S::Countered),
                Some(A),
                A,
                X::Counter,
                S::Countered,
                Some(B),
            ),
            (
                Some(S::Countered),
                Some(A),
                A,
                X::Decline,
                S::Declined,
                None,
            ),
            (
                Some(S::Countered),
                Some(A),
                B,
                X::Withdraw,
                S::Withdrawn,
                None,
            ),
            // countered, B to answer (A countered)
            (
                Some(S::Countered),
                Some(B),
                B,
                X::Accept,
                S::Promised,
                Some(B),
            ),
            (
                Some(S::Countered),
                Some(B),
                B,
                X::Counter,
                S::Countered,
                Some(A),
            ),
            (
                Some(S::Countered),
                Some(B),
                B,
                X::Decline,
                S::Declined,
                None,
            ),
            (
                Some(S::Countered),
                Some(B),
                A,
                X::Withdraw,
                S::Withdrawn,
                None,
            ),
            (Some(S::Promised), None, B, X::Report, S::Reported, Some(A)),
            (Some(S::Promised), None, B, X::Renege, S::Reneged, None),
            (Some(S::Promised), None, A, X::Cancel, S::Cancelled, None),
            (Some(S::Reported), None, A, X::Approve, S::Completed, None),
            (Some(S::Reported), None, A, X::Reject, S::Promised, Some(B)),
            (Some(S::Reported), None, A, X::Cancel, S::Cancelled, None),
        ]
    }

    fn starts() -> Vec<(Option<S>, Option<Role>)> {
        let mut v = vec![(None, None)];
        for s in S::ALL {
            if s == S::Countered {
                v.push((Some(s), Some(A)));
                v.push((Some(s), Some(B)));
            } else {
                v.push((Some(s), whose_turn(s, None)));
            }
        }
        v
    }

    #[test]
    fn every_state_actor_act_combination() {
        let table = table();
        let mut checked = 0;
        for (state, turn) in starts() {
            let from_table: Vec<(Act, Role)> = table
                .iter()
                .filter(|r| r.0 == state && (state != Some(S::Countered) || r.1 == turn))
                .map(|r| (r.3, r.2))
                .collect();
            for actor in Role::ALL {
                for act in Act::ALL {
                    checked += 1;
                    let row = table.iter().find(|r| {
                        r.0 == state
                            && (state != Some(S::Countered) || r.1 == turn)
                            && r.2 == actor
                            && r.3 == act
                    });
                    match (row, apply(state, turn, actor, act)) {
                        (Some(r), Ok(got)) => {
                            assert_eq!(got, (r.4, r.5), "{state:?} {actor:?} {act:?}")
                        }
                        (None, Err(refusal)) => {
                            let mut want = from_table.clone();
                            want.sort_by_key(|(a, r)| (*a as u8, *r as u8));
                            let mut got = refusal.allowed.clone();
                            got.sort_by_key(|(a, r)| (*a as u8, *r as u8));
                            assert_eq!(got, want, "{state:?} {actor:?} {act:?}");
                        }
                        (row, got) => panic!(
                            "{state:?} {turn:?} {actor:?} {act:?}: table {row:?}, got {got:?}"
                        ),
                    }
                }
            }
        }
        // 12 starting points × 2 roles × 12 acts
        assert_eq!(checked, 12 * 2 * 12);
    }

    #[test]
    fn closed_states_allow_nothing_and_have_no_turn() {
        for s in S::ALL.into_iter().filter(|s| s.is_closed()) {
            assert_eq!(whose_turn(s, None), None);
            assert!(allowed(Some(s), None).is_empty());
            let refusal = apply(Some(s), None, A, X::Approve).unwrap_err();
            assert!(refusal.to_string().contains("closed"));
        }
    }

    #[test]
    fn refusal_names_acts_and_roles() {
        let r = apply(Some(S::Requested), Some(B), A, X::Promise).unwrap_err();
        let text = r.to_string();
        assert!(text.contains("promise (by the performer)"), "{text}");
        assert!(text.contains("withdraw (by the requester)"), "{text}");
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()).unwrap(), s);
        }
        for a in Act::ALL {
            assert_eq!(Act::parse(a.as_str()).unwrap(), a);
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Act::parse("approve ").is_ok());
        assert!(Act::parse("nudge").is_err());
    }
}
