//! Network-wide member roles and the invitation policy, and what each role
//! may do to other members.
//!
//! These are permission rules only. Rules that need to count or know who
//! is acting (a member may not demote or deactivate themselves, the last
//! owner may not leave) belong to the service that has that information.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    /// An outsider who sees only the spaces they were invited to.
    Guest,
}

impl Role {
    /// Every role, most powerful first, for forms and tests.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Guest];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    pub fn parse(s: &str) -> Result<Role, ValidationError> {
        let wanted = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                ValidationError::new(
                    "role",
                    "Choose one of the roles owner, admin, member or guest.",
                )
            })
    }

    /// Owners and admins run the network.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Guests never invite: they are outsiders, and letting them bring in
    /// more outsiders would grow the network behind its admins' backs.
    pub fn can_invite(self, policy: InvitePolicy) -> bool {
        match (self, policy) {
            (Role::Guest, _) => false,
            (_, InvitePolicy::AdminsOnly) => self.is_admin(),
            (_, InvitePolicy::Anyone) => true,
        }
    }

    /// Whether a member with this role may change someone whose role is
    /// `target_current` to `new_role`.
    ///
    /// Only owners touch the owner role or other admins, so an admin can
    /// neither make themselves owner nor remove a fellow admin; admins may
    /// promote members and guests up to admin.
    pub fn can_grant(self, target_current: Role, new_role: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => {
                matches!(target_current, Role::Member | Role::Guest)
                    && matches!(new_role, Role::Admin | Role::Member | Role::Guest)
            }
            Role::Member | Role::Guest => false,
        }
    }

    /// Whether a member with this role may deactivate someone with the
    /// `target` role. Owners may deactivate anyone else (the caller keeps
    /// them from deactivating themselves); admins only members and guests.
    pub fn can_deactivate(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => matches!(target, Role::Member | Role::Guest),
            Role::Member | Role::Guest => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

/// Who may send invitations. Self-joining by allowed email domain is a
/// separate setting ([`crate::DomainList`]), independent of this policy,
/// and not in effect until a sign-up's address can be confirmed by mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitePolicy {
    /// Colleagues invite colleagues: adoption spreads without an admin.
    #[default]
    Anyone,
    AdminsOnly,
}

impl InvitePolicy {
    pub const ALL: [InvitePolicy; 2] = [InvitePolicy::Anyone, InvitePolicy::AdminsOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            InvitePolicy::Anyone => "anyone",
            InvitePolicy::AdminsOnly => "admins_only",
        }
    }

    pub fn parse(s: &str) -> Result<InvitePolicy, ValidationError> {
        let wanted = s.trim();
        InvitePolicy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                ValidationError::new(
                    "invite_policy",
                    "Choose who may invite: “anyone” or “admins_only”.",
                )
            })
    }
}

impl fmt::Display for InvitePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvitePolicy {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InvitePolicy::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::InvitePolicy::*;
    use super::Role::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
            assert_eq!(role.to_string(), role.as_str());
            assert_eq!(
                serde_json::to_string(&role).unwrap(),
                format!("\"{}\"", role.as_str())
            );
        }
        assert_eq!(Role::parse(" Admin ").unwrap(), Admin);
        let e = Role::parse("superuser").unwrap_err();
        assert_eq!(e.field, "role");
        assert!(e.message.contains("guest"));
        assert!(Role::parse("").is_err());

        for policy in InvitePolicy::ALL {
            assert_eq!(InvitePolicy::parse(policy.as_str()).unwrap(), policy);
            assert_eq!(
                serde_json::to_string(&policy).unwrap(),
                format!("\"{}\"", policy.as_str())
            );
        }
        assert_eq!(InvitePolicy::default(), Anyone);
        assert_eq!(
            serde_json::from_str::<InvitePolicy>("\"admins_only\"").unwrap(),
            AdminsOnly
        );
        assert_eq!(
            InvitePolicy::parse("nobody").unwrap_err().field,
            "invite_policy"
        );
    }

    #[test]
    fn is_admin_table() {
        let table = [
            (Owner, true),
            (Admin, true),
            (Member, false),
            (Guest, false),
        ];
        for (role, expected) in table {
            assert_eq!(role.is_admin(), expected, "{role}");
        }
    }

    #[test]
    fn can_invite_table() {
        let table = [
            (Owner, Anyone, true),
            (Admin, Anyone, true),
            (Member, Anyone, true),
            (Guest, Anyone, false),
            (Owner, AdminsOnly, true),
            (Admin, AdminsOnly, true),
            (Member, AdminsOnly, false),
            (Guest, AdminsOnly, false),
        ];
        for (role, policy, expected) in table {
            assert_eq!(role.can_invite(policy), expected, "{role} under {policy}");
        }
    }

    #[test]
    fn can_grant_table() {
        // The roles an actor may give to a target with each current role,
        // listed out in full so a change to the rules shows up here.
        let table: [(Role, Role, &[Role]); 16] = [
            (Owner, Owner, &[Owner, Admin, Member, Guest]),
            (Owner, Admin, &[Owner, Admin, Member, Guest]),
            (Owner, Member, &[Owner, Admin, Member, Guest]),
            (Owner, Guest, &[Owner, Admin, Member, Guest]),
            (Admin, Owner, &[]),
            (Admin, Admin, &[]),
            (Admin, Member, &[Admin, Member, Guest]),
            (Admin, Guest, &[Admin, Member, Guest]),
            (Member, Owner, &[]),
            (Member, Admin, &[]),
            (Member, Member, &[]),
            (Member, Guest, &[]),
            (Guest, Owner, &[]),
            (Guest, Admin, &[]),
            (Guest, Member, &[]),
            (Guest, Guest, &[]),
        ];
        for (actor, target, allowed) in table {
            for new_role in Role::ALL {
                assert_eq!(
                    actor.can_grant(target, new_role),
                    allowed.contains(&new_role),
                    "{actor} changing a {target} to {new_role}"
                );
            }
        }
    }

    #[test]
    fn can_deactivate_table() {
        let table: [(Role, &[Role]); 4] = [
            (Owner, &[Owner, Admin, Member, Guest]),
            (Admin, &[Member, Guest]),
            (Member, &[]),
            (Guest, &[]),
        ];
        for (actor, allowed) in table {
            for target in Role::ALL {
                assert_eq!(
                    actor.can_deactivate(target),
                    allowed.contains(&target),
                    "{actor} deactivating a {target}"
                );
            }
        }
    }
}
