//! Creating accounts: first-run setup with the one-time setup token, the
//! command line's `admin create-user`, and sign-up by allowed domain (a
//! link mailed to the address, then the join form; off while no mail goes
//! out). Accepting an invitation (the other way in) shares the checks here.

use domain::{DisplayName, Email, Handle, Password, Role};
use store::Tx;
use store::signup::{self as q, NewMember};

use crate::context::Ctx;
use crate::crypto;
use crate::error::{AppError, AppResult, Checks};
use crate::service::profiles::Member;

/// A new account's details, checked where they were typed.
#[derive(Debug, Clone)]
pub struct SignupInput {
    pub handle: Handle,
    pub display_name: DisplayName,
    /// None when an invitation fixes the address.
    pub email: Option<Email>,
    pub password: Password,
}

impl SignupInput {
    /// Reads what someone typed, every field at fault named at once;
    /// `email` is None where an invitation fixes the address.
    pub fn parse(
        handle: &str,
        display_name: &str,
        email: Option<&str>,
        password: &str,
    ) -> AppResult<SignupInput> {
        let mut checks = Checks::default();
        let handle = checks.check(Handle::parse(handle));
        let display_name = checks.check(DisplayName::parse(display_name));
        let email = email.map(|e| checks.check(Email::parse(e)));
        let password = checks.check(Password::parse(password));
        checks.finish()?;
        Ok(SignupInput {
            handle: handle.expect("checked"),
            display_name: display_name.expect("checked"),
            email: email.map(|e| e.expect("checked")),
            password: password.expect("checked"),
        })
    }

    /// The address of an account made without an invitation.
    fn address(&self) -> AppResult<&Email> {
        self.email
            .as_ref()
            .ok_or_else(|| AppError::invalid("email", "Enter your email address."))
    }
}

/// Turns a unique-key violation on insert into the error a person reads.
fn signup_conflict(e: store::Error) -> AppError {
    match e {
        store::Error::Conflict(store::Unique::MemberHandle) => AppError::Conflict {
            detail: "That handle is taken. Choose another.".into(),
            field: Some("handle"),
        },
        store::Error::Conflict(store::Unique::MemberEmail) => AppError::Conflict {
            detail: "There is already an account with that email address. Log in instead.".into(),
            field: Some("email"),
        },
        e => e.into(),
    }
}

/// Creates the account a checked sign-up describes, with the address and
/// role it is to have; a taken handle or address is refused as
/// [`signup_conflict`] words it.
pub(crate) async fn insert_account(
    tx: &mut Tx,
    v: &SignupInput,
    email: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> AppResult<Member> {
    q::insert_member(
        tx,
        &NewMember {
            handle: v.handle.as_str(),
            email,
            display_name: v.display_name.as_str(),
            role,
            password_hash,
        },
        now,
    )
    .await
    .map_err(signup_conflict)
}

/// True while the org has no owner and the setup link is the way in.
pub async fn setup_needed(ctx: &Ctx) -> AppResult<bool> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(!q::owner_exists(&mut c).await?)
}

/// When there is no owner yet, makes a fresh one-time setup token (any
/// earlier one stops working) and returns it.
pub async fn issue_setup_token(ctx: &Ctx) -> AppResult<Option<String>> {
    let db = &ctx.db;
    let mut tx = db.write().await?;
    if q::owner_exists(&mut tx).await? {
        return Ok(None);
    }
    let token = crypto::new_token();
    q::replace_setup_token(&mut tx, &crypto::token_hash(&token), ctx.now()).await?;
    tx.commit().await?;
    Ok(Some(token))
}

pub async fn setup_token_valid(ctx: &Ctx, token: &str) -> AppResult<bool> {
    let db = &ctx.db;
    let mut c = db.read().await?;
    Ok(!q::owner_exists(&mut c).await?
        && q::setup_token_valid(&mut c, &crypto::token_hash(token)).await?)
}

/// Creates the owner with the setup token.
pub async fn complete_setup(ctx: &Ctx, token: &str, input: &SignupInput) -> AppResult<Member> {
    let db = &ctx.db;
    let email = input.address()?;
    let hash = crypto::hash_password(input.password.as_str()).await?;
    let mut tx = db.write().await?;
    let used_up = || AppError::Gone {
        slug: "setup-done",
        detail: "This setup link is no longer valid: Chorus already has an owner, or a newer \
                 link was printed. Log in, or restart the server for a new link."
            .into(),
    };
    if q::owner_exists(&mut tx).await? {
        return Err(used_up());
    }
    if !q::take_setup_token(&mut tx, &crypto::token_hash(token)).await? {
        return Err(used_up());
    }
    let member = insert_account(
        &mut tx,
        input,
        email.as_str(),
        Role::Owner,
        &hash,
        ctx.now(),
    )
    .await?;
    // The owner typed it at first-run setup: it counts as verified.
    let member = verified(&mut tx, member, ctx.now()).await?;
    tx.commit().await?;
    Ok(member)
}

/// Why sign-up by allowed domain is not in effect. A sign-up's address must
/// be confirmed by mail before its account exists: otherwise anyone could
/// sign up as `ceo@<allowed domain>`, or take the address of someone with a
/// pending invitation. Without a relay no link can be mailed, so the
/// allowed domains are kept (an admin may set them) but nobody signs up by
/// them.
pub const DOMAIN_SIGNUP_OFF: &str =
    "needs outgoing mail, which is not set up here (no mail relay is set)";

fn signup_off() -> AppError {
    AppError::Forbidden(format!(
        "Signing up with a work address is off: confirming the address {DOMAIN_SIGNUP_OFF}. \
         Ask a member to invite you."
    ))
}

/// Signing up without an invitation, first step: checks that the address
/// is at an allowed domain and mails it a one-time link (24 hours) to the
/// join form. The answer is the same whether or not the address already
/// has an account or an invitation: an existing member's address gets a
/// mail saying they have an account and how to reset the password. At
/// most three mails an hour go to one address; past that nothing more is
/// sent, and the answer is the same.
pub async fn start_signup(ctx: &Ctx, email: &Email) -> AppResult<()> {
    use store::addresses::{self as links, Purpose};
    let org = crate::service::org::org_settings(ctx).await?;
    if !org.signup_open() {
        return Err(signup_off());
    }
    if !org.signup_domains.contains(email.domain()) {
        return Err(AppError::invalid(
            "email",
            if org.signup_domains.as_slice().is_empty() {
                format!(
                    "{} is invitation-only: ask a member to invite you.",
                    org.org_name
                )
            } else {
                format!(
                    "Only addresses at {} can sign up here. Use your work address, or ask a \
                     member to invite you.",
                    org.signup_domains.as_slice().join(", ")
                )
            },
        ));
    }
    let now = ctx.now();
    let hour = 3_600_000_000;
    let mut tx = ctx.db.write().await?;
    if links::links_since(&mut tx, Purpose::Signup, email.as_str(), now - hour).await? >= 3 {
        return Ok(());
    }
    // An existing member's link carries their id: its mail says they have
    // an account, and the link opens no join form.
    let member = store::profiles::member_by_email(&mut tx, email.as_str())
        .await?
        .map(|m| m.id);
    let id = links::insert_link(
        &mut tx,
        Purpose::Signup,
        member,
        email.as_str(),
        now + crate::service::addresses::VERIFY_HOURS * hour,
        now,
    )
    .await?;
    store::mail::enqueue(
        &mut tx,
        &crate::service::mail::MailJob::Link { link: id },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The address a sign-up link was mailed to, while it can be used.
pub async fn open_signup(ctx: &Ctx, token: &str) -> AppResult<String> {
    let link =
        crate::service::addresses::open_link(ctx, token, store::addresses::Purpose::Signup).await?;
    if link.member_id.is_some() {
        return Err(AppError::Gone {
            slug: "link-used",
            detail: "This address already has an account: log in, or reset your password from \
                     the login page."
                .into(),
        });
    }
    Ok(link.email)
}

/// Signing up, second step: the join form sent with the mailed link's
/// token creates the member (role member) with the address verified.
pub async fn complete_signup(ctx: &Ctx, token: &str, input: &SignupInput) -> AppResult<Member> {
    let org = crate::service::org::org_settings(ctx).await?;
    if !org.signup_open() {
        return Err(signup_off());
    }
    let link =
        crate::service::addresses::open_link(ctx, token, store::addresses::Purpose::Signup).await?;
    if link.member_id.is_some() {
        open_signup(ctx, token).await?;
    }
    let hash = crypto::hash_password(input.password.as_str()).await?;
    let now = ctx.now();
    let mut tx = ctx.db.write().await?;
    if !store::addresses::use_link(&mut tx, link.id, now).await? {
        return Err(AppError::Gone {
            slug: "link-used",
            detail: "This link was already used: log in, or sign up again for a new one.".into(),
        });
    }
    let member = insert_account(&mut tx, input, &link.email, Role::Member, &hash, now).await?;
    let member = verified(&mut tx, member, now).await?;
    tx.commit().await?;
    Ok(member)
}

/// Creates a member directly (the `admin create-user` command).
pub async fn create_member(ctx: &Ctx, input: &SignupInput, role: Role) -> AppResult<Member> {
    let db = &ctx.db;
    let email = input.address()?;
    let hash = crypto::hash_password(input.password.as_str()).await?;
    let mut tx = db.write().await?;
    let member = insert_account(&mut tx, input, email.as_str(), role, &hash, ctx.now()).await?;
    // An admin typed the address: it counts as verified.
    let member = verified(&mut tx, member, ctx.now()).await?;
    tx.commit().await?;
    Ok(member)
}

/// The member with their address marked verified.
async fn verified(tx: &mut Tx, member: Member, now: i64) -> AppResult<Member> {
    crate::service::addresses::mark_verified(tx, member.id, now).await?;
    Ok(store::profiles::member_by_id(tx, member.id)
        .await?
        .ok_or(store::Error::NotFound)?)
}
