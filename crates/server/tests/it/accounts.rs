//! Setup, login, throttling, invitations, policy, roles, deactivation,
//! tokens, profiles and their error cases.

use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::harness::{Backend, PASSWORD, TestApp, expect, expect_problem};

backend_tests!(
    setup_creates_owner_once,
    setup_validates_and_changes_nothing,
    login_logout_and_csrf,
    login_throttled_per_account,
    login_throttled_per_address,
    invitation_accept_valid_expired_reused,
    invitation_policy_modes,
    domain_signup_policy,
    concurrent_accepts_one_wins,
    roles_and_permissions,
    deactivation_blocks_login_keeps_profile,
    api_tokens,
    profile_edits_and_avatar,
    malformed_and_oversized_bodies,
    unknown_and_hidden_things_are_404,
);

async fn setup_creates_owner_once(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    let status = expect(app.get("/setup").await, StatusCode::OK).await;
    assert_eq!(status["needed"], true);
    // Without the token nothing happens.
    let res = app
        .post(
            "/setup",
            json!({"token": "nope", "handle": "x", "display_name": "X", "email": "x@acme.test", "password": PASSWORD}),
        )
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let owner = app.setup_owner().await;
    assert_eq!(owner["role"], "owner");
    assert_eq!(owner["handle"], "owner");
    let me = expect(app.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["handle"], "owner");
    let status = expect(app.get("/setup").await, StatusCode::OK).await;
    assert_eq!(status["needed"], false);
    // A second setup is refused even with a token issued earlier.
    let res = app
        .post(
            "/setup",
            json!({"token": "whatever", "handle": "again", "display_name": "Again", "email": "again@acme.test", "password": PASSWORD}),
        )
        .await;
    expect_problem(res, StatusCode::GONE, "setup-done").await;
    app.stop().await;
}

async fn setup_validates_and_changes_nothing(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.setup_token().await;
    let res = app
        .post(
            "/setup",
            json!({"token": token, "handle": "1bad", "display_name": "", "email": "not-an-email", "password": "short"}),
        )
        .await;
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["handle", "display_name", "email", "password"] {
        assert!(fields.contains(&f), "{f} reported in {p}");
    }
    // The token still works: the failed attempt changed nothing.
    let res = app
        .post(
            "/setup",
            json!({"token": token, "handle": "ana", "display_name": "Ana", "email": "ana@acme.test", "password": PASSWORD}),
        )
        .await;
    expect(res, StatusCode::CREATED).await;
    app.stop().await;
}

async fn login_logout_and_csrf(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let mut other = app.browser();
    expect_problem(
        other.get("/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let res = other
        .post(
            "/session",
            json!({"login": "owner", "password": "wrong password!"}),
        )
        .await;
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Handle in any case, or email, both work.
    let body = other.login("OWNER@acme.test", PASSWORD).await;
    assert_eq!(body["member"]["handle"], "owner");
    other.login("@Owner", PASSWORD).await;
    // The cookie is HttpOnly and SameSite=Lax.
    let res = app
        .browser()
        .post("/session", json!({"login": "owner", "password": PASSWORD}))
        .await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http has no Secure cookies"
    );
    // Unsafe requests with the cookie need the CSRF header.
    let csrf = other.csrf.take();
    let res = other.patch("/me", json!({"title": "Boss"})).await;
    expect_problem(res, StatusCode::FORBIDDEN, "csrf").await;
    other.csrf = csrf;
    let me = expect(
        other.patch("/me", json!({"title": "Boss"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["title"], "Boss");
    expect(other.delete("/session").await, StatusCode::NO_CONTENT).await;
    expect_problem(
        other.get("/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // The first session is unaffected.
    expect(app.get("/me").await, StatusCode::OK).await;
    app.stop().await;
}

async fn login_throttled_per_account(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let other = app.browser();
    for _ in 0..5 {
        let res = other
            .post(
                "/session",
                json!({"login": "owner", "password": "wrong password!"}),
            )
            .await;
        expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Now even the right password is refused, with Retry-After.
    let res = other
        .post("/session", json!({"login": "owner", "password": PASSWORD}))
        .await;
    assert!(res.headers().contains_key("retry-after"));
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    app.stop().await;
}

async fn login_throttled_per_address(b: Backend) {
    let mut app = TestApp::spawn_with(b, |s| s.login_max_failures_per_address = 3).await;
    app.setup_owner().await;
    let other = app.browser();
    for i in 0..3 {
        let res = other
            .post(
                "/session",
                json!({"login": format!("nobody{i}"), "password": "wrong password!"}),
            )
            .await;
        expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let res = other
        .post("/session", json!({"login": "owner", "password": PASSWORD}))
        .await;
    expect_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    app.stop().await;
}

async fn invitation_accept_valid_expired_reused(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let token = app.invite("bo@acme.test", "member").await;
    let preview = expect(
        app.browser()
            .get(&format!("/invitations/{token}/accept"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(preview["email"], "bo@acme.test");
    assert_eq!(preview["inviter_handle"], "owner");
    let bo = app.browser();
    let accept = json!({"handle": "bo", "display_name": "Bo", "password": PASSWORD});
    let body = expect(
        bo.post(&format!("/invitations/{token}/accept"), accept.clone())
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(body["member"]["role"], "member");
    assert_eq!(body["member"]["handle"], "bo");
    expect(bo.get("/me").await, StatusCode::OK).await;
    // Reused: refused, nothing created.
    let again = json!({"handle": "bo2", "display_name": "Bo Two", "password": PASSWORD});
    let res = app
        .browser()
        .post(&format!("/invitations/{token}/accept"), again)
        .await;
    expect_problem(res, StatusCode::GONE, "invitation-used").await;
    expect_problem(
        app.get("/members/bo2").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // Unknown token.
    let res = app
        .browser()
        .post("/invitations/not-a-token/accept", accept)
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    // Expired: a server whose invitations last no time at all… use the
    // database clock instead: invitations expire after invitation_days.
    let expired_app = {
        let mut a = TestApp::spawn_with(b, |s| s.invitation_days = 0).await;
        a.setup_owner().await;
        a
    };
    let token = expired_app.invite("cy@acme.test", "member").await;
    // invitation_days 0 is clamped to one day; move the expiry into the past.
    expire_all_invitations(&expired_app).await;
    let res = expired_app
        .browser()
        .post(
            &format!("/invitations/{token}/accept"),
            json!({"handle": "cy", "display_name": "Cy", "password": PASSWORD}),
        )
        .await;
    expect_problem(res, StatusCode::GONE, "invitation-expired").await;
    // Revoked.
    let res = app
        .post("/invitations", json!({"email": "dee@acme.test"}))
        .await;
    let inv = expect(res, StatusCode::CREATED).await;
    let t = inv["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    expect(
        app.delete(&format!("/invitations/{}", inv["id"].as_str().unwrap()))
            .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let res = app
        .browser()
        .post(
            &format!("/invitations/{t}/accept"),
            json!({"handle": "dee", "display_name": "Dee", "password": PASSWORD}),
        )
        .await;
    expect_problem(res, StatusCode::GONE, "invitation-revoked").await;
    // The list shows each one's state.
    let list = expect(app.get("/invitations").await, StatusCode::OK).await;
    let states: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["revoked", "accepted"]);
    // Inviting an existing member is a conflict.
    let res = app
        .post("/invitations", json!({"email": "BO@acme.test"}))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    expired_app.stop().await;
    app.stop().await;
}

async fn expire_all_invitations(app: &TestApp) {
    let db = crate::harness::open_db(&app.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    tx.execute("UPDATE invitations SET expires_at = 1", store::params![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
}

async fn invitation_policy_modes(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let member = app.new_member("mia", "member").await;
    // Anyone (the default): a member invites.
    member.invite("friend1@acme.test", "member").await;
    // A member cannot invite an admin.
    let res = member
        .post(
            "/invitations",
            json!({"email": "x@acme.test", "role": "admin"}),
        )
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Nobody is invited as owner.
    let res = app
        .post(
            "/invitations",
            json!({"email": "x@acme.test", "role": "owner"}),
        )
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Admins only.
    let s = expect(
        app.patch("/admin/settings", json!({"invite_policy": "admins_only"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["invite_policy"], "admins_only");
    let res = member
        .post("/invitations", json!({"email": "friend2@acme.test"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    app.invite("friend2@acme.test", "member").await;
    // Guests never invite.
    let guest = app.new_member("gus", "guest").await;
    let res = guest
        .post("/invitations", json!({"email": "friend3@acme.test"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // Members cannot change the policy.
    let res = member
        .patch("/admin/settings", json!({"invite_policy": "anyone"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .patch("/admin/settings", json!({"invite_policy": "everybody"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    app.stop().await;
}

async fn domain_signup_policy(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    // The first step of sign-up takes the work address only.
    let signup = |_h: &str, e: &str| json!({"email": e});
    // Off without domains.
    let res = app
        .browser()
        .post("/signup", signup("newbie", "newbie@acme.test"))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // The domains are kept, normalised, but not in effect until Chorus can
    // confirm an address by mail (no relay here).
    let s = expect(
        app.patch(
            "/admin/settings",
            json!({"signup_domains": "acme.test, Example.org"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(s["signup_domains"], json!(["acme.test", "example.org"]));
    assert_eq!(s["signup_domains_in_effect"], false);
    for (h, e) in [
        ("outsider", "out@elsewhere.test"),
        ("sub", "sub@mail.acme.test"),
        ("newbie", "newbie@acme.test"),
    ] {
        let res = app.browser().post("/signup", signup(h, e)).await;
        expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Nothing was created.
    let res = app
        .browser()
        .post(
            "/session",
            json!({"login": "newbie@acme.test", "password": PASSWORD}),
        )
        .await;
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .patch("/admin/settings", json!({"signup_domains": "not a domain"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    app.stop().await;
}

async fn concurrent_accepts_one_wins(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let accept = |app: &TestApp, token: String, handle: String| {
        let other = app.browser();
        async move {
            other
                .post(
                    &format!("/invitations/{token}/accept"),
                    json!({"handle": handle, "display_name": "A", "password": PASSWORD}),
                )
                .await
        }
    };
    for round in 0..3 {
        // Same handle, different invitations.
        let handle = format!("same{round}");
        let (ta, tb) = (
            app.invite(&format!("a{round}@acme.test"), "member").await,
            app.invite(&format!("b{round}@acme.test"), "member").await,
        );
        let (ra, rb) = tokio::join!(
            accept(&app, ta, handle.clone()),
            accept(&app, tb, handle.to_uppercase())
        );
        let mut statuses = [ra.status(), rb.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
        let loser = if ra.status() == StatusCode::CONFLICT {
            ra
        } else {
            rb
        };
        let p = expect_problem(loser, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(p["errors"][0]["field"], "handle");
        // Two invitations for one address, different handles.
        let (ta, tb) = (
            app.invite(&format!("e{round}@acme.test"), "member").await,
            app.invite(&format!("E{round}@ACME.test"), "member").await,
        );
        let (ra, rb) = tokio::join!(
            accept(&app, ta, format!("e{round}a")),
            accept(&app, tb, format!("e{round}b"))
        );
        let mut statuses = [ra.status(), rb.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    }
    app.stop().await;
}

async fn roles_and_permissions(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let admin = app.new_member("adam", "admin").await;
    let member = app.new_member("mo", "member").await;
    app.new_member("gia", "guest").await;
    let me = expect(admin.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["role"], "admin");
    // Members cannot administer.
    let res = member
        .patch("/admin/members/gia", json!({"role": "member"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    expect_problem(
        member.get("/admin/settings").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Admins promote members and guests, but cannot make owners or touch the owner.
    let m = expect(
        admin
            .patch("/admin/members/gia", json!({"role": "member"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(m["role"], "member");
    let res = admin
        .patch("/admin/members/mo", json!({"role": "owner"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = admin
        .patch("/admin/members/owner", json!({"role": "member"}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // The only owner cannot step down.
    let res = app
        .patch("/admin/members/owner", json!({"role": "admin"}))
        .await;
    expect_problem(res, StatusCode::CONFLICT, "conflict").await;
    // The owner makes another owner, who may then step down.
    let m = expect(
        app.patch("/admin/members/adam", json!({"role": "owner"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(m["role"], "owner");
    expect(
        admin
            .patch("/admin/members/owner", json!({"role": "admin"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let res = app
        .patch("/admin/members/mo", json!({"role": "boss"}))
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = app
        .patch("/admin/members/nobody", json!({"role": "member"}))
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    // Guests do not see email addresses; members do.
    let guest = app.new_member("gwen", "guest").await;
    let seen = expect(guest.get("/members/mo").await, StatusCode::OK).await;
    assert!(seen["email"].is_null());
    let seen = expect(member.get("/members/adam").await, StatusCode::OK).await;
    assert_eq!(seen["email"], "adam@acme.test");
    app.stop().await;
}

async fn deactivation_blocks_login_keeps_profile(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let dan = app.new_member("dan", "member").await;
    let token = expect(
        dan.post("/tokens", json!({"name": "script"})).await,
        StatusCode::CREATED,
    )
    .await;
    let secret = token["secret"].as_str().unwrap().to_owned();
    let m = expect(
        app.patch("/admin/members/dan", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(m["deactivated"], true);
    // The live session, the token and a new login all stop working.
    expect_problem(
        dan.get("/me").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .browser()
        .post("/session", json!({"login": "dan", "password": PASSWORD}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    // The profile stays.
    let seen = expect(app.get("/members/dan").await, StatusCode::OK).await;
    assert_eq!(seen["deactivated"], true);
    // Reactivated, they log in again.
    expect(
        app.patch("/admin/members/dan", json!({"deactivated": false}))
            .await,
        StatusCode::OK,
    )
    .await;
    app.browser().login("dan", PASSWORD).await;
    // Nobody deactivates themselves; members deactivate nobody.
    let res = app
        .patch("/admin/members/owner", json!({"deactivated": true}))
        .await;
    expect_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    app.stop().await;
}

async fn api_tokens(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let res = app.post("/tokens", json!({"name": ""})).await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let t = expect(
        app.post("/tokens", json!({"name": "laptop"})).await,
        StatusCode::CREATED,
    )
    .await;
    let secret = t["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(t["prefix"].as_str().unwrap()));
    let list = expect(app.get("/tokens").await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(
        list["items"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    // Bearer works without cookies or CSRF.
    let bare = reqwest::Client::new();
    let res = bare
        .patch(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .json(&json!({"team": "Ops"}))
        .send()
        .await
        .unwrap();
    let me = expect(res, StatusCode::OK).await;
    assert_eq!(me["team"], "Ops");
    // Its use is noted in memory and written in the background; a
    // graceful stop writes what is left, and the owner sees it.
    let app = app.restart(|_| {}).await;
    let list = expect(app.get("/tokens").await, StatusCode::OK).await;
    assert!(list["items"][0]["last_used_at"].is_string(), "{list}");
    let page = app.page("/settings").await.text().await.unwrap();
    assert!(page.contains("last used"), "the settings page says when");
    // GET /me with a bearer token and nothing else.
    let me_with = |token: &str| bare.get(app.url("/api/v1/me")).bearer_auth(token).send();
    let res = me_with("chorus_wrong").await.unwrap();
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Used again: on SQLite the member now comes from the token cache.
    let res = me_with(&secret).await.unwrap();
    expect(res, StatusCode::OK).await;
    // Revoke: the token stops working at once; revoking again is a 404.
    let id = t["id"].as_str().unwrap();
    expect(
        app.delete(&format!("/tokens/{id}")).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let res = me_with(&secret).await.unwrap();
    expect_problem(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_problem(
        app.delete(&format!("/tokens/{id}")).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    // Someone else's token is not found either.
    let other = app.new_member("otto", "member").await;
    let t2 = expect(
        other.post("/tokens", json!({"name": "x"})).await,
        StatusCode::CREATED,
    )
    .await;
    let res = app
        .delete(&format!("/tokens/{}", t2["id"].as_str().unwrap()))
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    // Deactivated by another process on the same database (`chorus admin
    // deactivate` beside the running server): the cached token stops
    // working too, once the server has looked for outside commits.
    let secret2 = t2["secret"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let res = me_with(&secret2).await.unwrap();
        expect(res, StatusCode::OK).await;
    }
    let db = crate::harness::open_db(&app.database_url, 1).await;
    let mut tx = db.write().await.unwrap();
    tx.execute(
        "UPDATE members SET deactivated_at = $1 WHERE handle = 'otto'",
        store::params![store::now_micros()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.close().await;
    let mut status = StatusCode::OK;
    for _ in 0..40 {
        status = me_with(&secret2).await.unwrap().status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a member deactivated from outside loses their token within two seconds"
    );
    app.stop().await;
}

async fn profile_edits_and_avatar(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let me = expect(
        app.patch(
            "/me",
            json!({"display_name": "  Olga   Owner-Smith ", "title": "CEO", "team": "Leadership",
            "about": "Hello **world** <script>alert(1)</script>", "time_zone": "Europe/Berlin"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["display_name"], "Olga Owner-Smith");
    assert_eq!(me["time_zone"], "Europe/Berlin");
    let html = me["about_html"].as_str().unwrap();
    assert!(html.contains("<strong>world</strong>"), "{html}");
    test_support::safety::assert_safe_html(html);
    // Bad values: all reported, nothing changed.
    let res = app
        .patch(
            "/me",
            json!({"display_name": "", "time_zone": "Mars/Olympus", "title": "x".repeat(200)}),
        )
        .await;
    let p = expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 3, "{p}");
    let me = expect(app.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["title"], "CEO");
    // Password change: wrong current password refused; then the new one works.
    let res = app
        .put(
            "/me/password",
            json!({"current_password": "nope nope nope", "new_password": "another good one"}),
        )
        .await;
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    expect(
        app.put(
            "/me/password",
            json!({"current_password": PASSWORD, "new_password": "another good one"}),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    app.browser().login("owner", "another good one").await;
    // Avatar: a real PNG is accepted and served; text and oversize are not.
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbaImage::from_pixel(1, 1, image::Rgba([200, 30, 30, 128]))
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let png: &[u8] = &png.into_inner();
    let put = |body: Vec<u8>| {
        app.client
            .put(app.url("/api/v1/me/avatar"))
            .header("x-csrf-token", app.csrf.clone().unwrap())
            .header("content-type", "image/png")
            .body(body)
            .send()
    };
    let me = expect(put(png.to_vec()).await.unwrap(), StatusCode::OK).await;
    let avatar = me["avatar_url"].as_str().unwrap().to_owned();
    let res = app.get(&avatar).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    // Served re-encoded: the same pixel, not the same bytes.
    let served = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (1, 1));
    let res = put(b"<svg onload=alert(1)>".to_vec()).await.unwrap();
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let mut big = png.to_vec();
    big.resize(3 * 1024 * 1024, 0);
    let res = put(big).await.unwrap();
    let status = res.status();
    assert!(
        status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    let me = expect(app.get("/me").await, StatusCode::OK).await;
    assert_eq!(
        me["avatar_url"],
        avatar.as_str(),
        "failed uploads change nothing"
    );
    expect(app.delete("/me/avatar").await, StatusCode::NO_CONTENT).await;
    let me = expect(app.get("/me").await, StatusCode::OK).await;
    assert!(me["avatar_url"].is_null());
    app.stop().await;
}

async fn malformed_and_oversized_bodies(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let send = |body: &'static str, ct: &'static str| {
        app.client
            .patch(app.url("/api/v1/me"))
            .header("x-csrf-token", app.csrf.clone().unwrap())
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = send("{\"title\": \"x\",\n \"team\": }", "application/json")
        .await
        .unwrap();
    let p = expect_problem(res, StatusCode::BAD_REQUEST, "malformed-json").await;
    assert!(
        p["detail"].as_str().unwrap().contains("line 2"),
        "says where: {p}"
    );
    let res = send("{\"title\": 5}", "application/json").await.unwrap();
    expect_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let res = send("title=x", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    expect_problem(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    let huge = format!("{{\"about\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let res = app
        .client
        .patch(app.url("/api/v1/me"))
        .header("x-csrf-token", app.csrf.clone().unwrap())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_problem(res, StatusCode::PAYLOAD_TOO_LARGE, "too-large").await;
    let me = expect(app.get("/me").await, StatusCode::OK).await;
    assert_eq!(me["title"], "");
    app.stop().await;
}

async fn unknown_and_hidden_things_are_404(b: Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    expect_problem(
        app.get("/no/such/thing").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.get("/members/ghost").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let member = app.new_member("nia", "member").await;
    // Someone else's invitation is not found, not forbidden.
    let inv = expect(
        app.post("/invitations", json!({"email": "z@acme.test"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let res = member
        .delete(&format!("/invitations/{}", inv["id"].as_str().unwrap()))
        .await;
    expect_problem(res, StatusCode::NOT_FOUND, "not-found").await;
    let res = app.get("/members?before=%%%").await;
    expect_problem(res, StatusCode::BAD_REQUEST, "bad-cursor").await;
    app.stop().await;
}
