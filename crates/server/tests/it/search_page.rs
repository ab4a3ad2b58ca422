//! Search in the pages: the results page (tabs, chips, empty state, the
//! follow form), the search box's suggestions (people, spaces, topics and
//! recent searches, only what the viewer may see), and the filter boxes of
//! the directory and the admin member list.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::harness::{TestApp, expect, expect_problem};

backend_tests!(
    search_page_shows_chips_tabs_and_what_to_try,
    search_page_shows_hits_and_reads_on,
    directory_and_admin_lists_filter_by_search,
    search_suggestions_offer_people_spaces_topics_and_recent_searches,
    search_suggestions_read_the_operator_being_typed,
    search_suggestions_refuse_bad_input,
);

async fn html(app: &TestApp, path: &str) -> String {
    let res = app.page(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    // Ampersands in attributes as the templates escape them, read back.
    res.text().await.unwrap().replace("&#38;", "&")
}

async fn suggest(app: &TestApp, typed: &str) -> Value {
    let q: String = form_urlencoded::byte_serialize(typed.as_bytes()).collect();
    expect(
        app.get(&format!("/suggestions/search?q={q}")).await,
        StatusCode::OK,
    )
    .await
}

fn names(v: &Value, key: &str, field: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            if field.is_empty() {
                x.as_str().unwrap().to_owned()
            } else {
                x[field].as_str().unwrap().to_owned()
            }
        })
        .collect()
}

async fn search_page_shows_chips_tabs_and_what_to_try(b: crate::harness::Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let page = html(&app, "/search?q=zqxv+from%3A%40ana+type%3Aquestion").await;
    // The chips: each part, linking to the search without it.
    for (part, without) in [
        ("zqxv", "/search?q=from%3A%40ana+type%3Aquestion"),
        ("from:@ana", "/search?q=zqxv+type%3Aquestion"),
        ("type:question", "/search?q=zqxv+from%3A%40ana"),
    ] {
        assert!(
            page.contains(&format!("href=\"{without}\" aria-label=\"Remove {part}\"")),
            "a chip for {part}: {page}"
        );
    }
    // The tabs, with their counts, keeping the query.
    for (label, href) in [
        ("Everything", "/search?q=zqxv+from%3A%40ana+type%3Aquestion"),
        (
            "Posts",
            "/search?q=zqxv+from%3A%40ana+type%3Aquestion&tab=posts",
        ),
        (
            "People",
            "/search?q=zqxv+from%3A%40ana+type%3Aquestion&tab=people",
        ),
        (
            "Spaces",
            "/search?q=zqxv+from%3A%40ana+type%3Aquestion&tab=spaces",
        ),
    ] {
        assert!(
            page.contains(&format!("href=\"{href}\"")) && page.contains(&format!(">{label} <")),
            "the {label} tab: {page}"
        );
    }
    assert!(page.contains("aria-current=\"page\">Everything"));
    // What to try when nothing was found.
    assert!(page.contains("Nothing found for “zqxv from:@ana type:question”"));
    assert!(page.contains("Check the spelling"));
    assert!(page.contains("href=\"/directory\""));
    assert!(
        page.contains("href=\"/search?q=from%3A%40ada\""),
        "operator examples"
    );
    // Following the search: the canonical text, the level, the token.
    assert!(page.contains("<form method=\"post\" action=\"/searches\""));
    assert!(
        page.contains("<input type=\"hidden\" name=\"q\" value=\"zqxv from:@ana type:question\">")
    );
    assert!(page.contains("name=\"level\" value=\"following\""));
    assert!(page.contains("name=\"csrf\" value=\""));
    // The header's box holds the search; the tab is kept.
    assert!(page.contains("id=\"q-box\" name=\"q\" value=\"zqxv from:@ana type:question\""));
    let people = html(&app, "/search?q=zqxv&tab=people").await;
    assert!(people.contains("aria-current=\"page\">People"));
    assert!(people.contains("Nothing found for “zqxv” among people"));
    // An empty search says what search does; nothing to follow.
    let empty = html(&app, "/search").await;
    assert!(empty.contains("Search posts, comments, people, spaces and topics"));
    assert!(!empty.contains("action=\"/searches\""));
    // Hostile text is a page, never an error.
    for q in [
        "%22",
        "NEAR(",
        "*",
        "%3Cscript%3E",
        "%F0%9F%98%80",
        "a%20OR%20b",
        "'%3B--",
    ] {
        html(&app, &format!("/search?q={q}")).await;
    }
    let long = "x".repeat(10_000);
    html(&app, &format!("/search?q={long}&tab=nonsense&cursor=bogus")).await;
    // Every page has the box, and a page shown logged out goes to login.
    let home = html(&app, "/").await;
    assert!(home.contains("role=\"combobox\"") && home.contains("aria-controls=\"q-list\""));
    let res = app.browser().page("/search?q=plan").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

async fn search_suggestions_offer_people_spaces_topics_and_recent_searches(
    b: crate::harness::Backend,
) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let hannah = owner.new_member("hannah", "member").await;
    expect(
        hannah
            .patch("/me", json!({"display_name": "Hannah Holt"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let bo = owner.new_member("bo", "member").await;
    let gus = owner.new_member("gus", "guest").await;
    let gone = owner.new_member("hank", "member").await;
    expect(
        owner
            .patch("/admin/members/hank", json!({"deactivated": true}))
            .await,
        StatusCode::OK,
    )
    .await;
    drop(gone);
    for (name, slug, vis) in [
        ("Hush Room", "hushroom", "secret"),
        ("Hall of Fame", "hall", "closed"),
        ("Harbor", "harbor", "open"),
    ] {
        owner
            .create_space(json!({"name": name, "slug": slug, "visibility": vis}))
            .await;
    }
    owner.add_to_space("hushroom", "hannah").await;
    owner.add_to_space("harbor", "gus").await;
    owner
        .post_item(json!({"space": "hushroom", "body": "quiet #hushplan"}))
        .await;
    owner
        .post_item(json!({"space": "harbor", "body": "boats #harbornews"}))
        .await;
    owner
        .post_item(json!({"body": "on my profile #harvest"}))
        .await;

    // A member of the secret space.
    let s = suggest(&hannah, "h").await;
    assert_eq!(s["operator"], Value::Null);
    assert_eq!(names(&s, "people", "handle"), ["hannah"], "{s}");
    let spaces = names(&s, "spaces", "slug");
    for slug in ["hushroom", "hall", "harbor"] {
        assert!(spaces.contains(&slug.to_owned()), "{slug}: {s}");
    }
    assert_eq!(
        names(&s, "topics", ""),
        ["harbornews", "harvest", "hushplan"],
        "{s}"
    );
    // By the word after the first space of a name, and by handle.
    assert_eq!(
        names(&suggest(&bo, "hol").await, "people", "handle"),
        ["hannah"]
    );
    assert_eq!(
        names(&suggest(&bo, "@hann").await, "people", "handle"),
        ["hannah"]
    );
    assert_eq!(
        names(&suggest(&bo, "Hannah H").await, "people", "handle"),
        ["hannah"]
    );
    // Another member: neither the secret space nor its topic.
    let s = suggest(&bo, "h").await;
    assert_eq!(names(&s, "spaces", "slug"), ["hall", "harbor"], "{s}");
    assert_eq!(names(&s, "topics", ""), ["harbornews", "harvest"], "{s}");
    // A guest: their own space, its topic, the people in it.
    let s = suggest(&gus, "h").await;
    assert_eq!(names(&s, "spaces", "slug"), ["harbor"], "{s}");
    assert_eq!(names(&s, "topics", ""), ["harbornews"], "{s}");
    assert!(names(&s, "people", "handle").is_empty(), "{s}");
    assert_eq!(
        names(&suggest(&gus, "o").await, "people", "handle"),
        ["owner"]
    );
    assert!(names(&suggest(&gus, "b").await, "people", "handle").is_empty());

    // Recent searches: remembered when results are shown, offered when the
    // box is empty (latest first) or by prefix, to their member alone.
    assert!(names(&suggest(&bo, "").await, "recent", "").is_empty());
    for q in [
        "harbor plans",
        "boats",
        "harbor   plans",
        "hall from:@owner",
    ] {
        let enc: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
        html(&bo, &format!("/search?q={enc}")).await;
    }
    // A next page is not a new search.
    html(&bo, "/search?q=paging&cursor=abc").await;
    let s = suggest(&bo, "").await;
    assert_eq!(
        names(&s, "recent", ""),
        ["hall from:@owner", "harbor plans", "boats"],
        "{s}"
    );
    assert!(s["people"].as_array().unwrap().is_empty());
    assert_eq!(
        names(&suggest(&bo, "HAR").await, "recent", ""),
        ["harbor plans"]
    );
    assert!(names(&suggest(&hannah, "").await, "recent", "").is_empty());
    for n in 0..12 {
        html(&bo, &format!("/search?q=word{n}")).await;
    }
    let recent = names(&suggest(&bo, "").await, "recent", "");
    assert_eq!(recent.len(), 10, "{recent:?}");
    assert_eq!(recent[0], "word11");
    owner.stop().await;
}

async fn search_suggestions_read_the_operator_being_typed(b: crate::harness::Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    owner.new_member("ines", "member").await;
    owner
        .create_space(json!({"name": "Infra", "slug": "infra"}))
        .await;
    owner
        .post_item(json!({"space": "infra", "body": "a note #incident"}))
        .await;
    let s = suggest(&owner, "budget from:@i").await;
    assert_eq!(s["operator"], "from");
    assert_eq!(names(&s, "people", "handle"), ["ines"]);
    assert!(s["spaces"].as_array().unwrap().is_empty());
    let s = suggest(&owner, "budget in:in").await;
    assert_eq!(s["operator"], "in");
    assert_eq!(names(&s, "spaces", "slug"), ["infra"]);
    assert!(s["people"].as_array().unwrap().is_empty());
    let s = suggest(&owner, "budget #inc").await;
    assert_eq!(s["operator"], "topic");
    assert_eq!(names(&s, "topics", ""), ["incident"]);
    // "in:" alone lists spaces from the start.
    assert_eq!(
        names(&suggest(&owner, "in:").await, "spaces", "slug"),
        ["infra"]
    );
    owner.stop().await;
}

async fn search_suggestions_refuse_bad_input(b: crate::harness::Backend) {
    let mut app = TestApp::spawn(b).await;
    app.setup_owner().await;
    let p = expect_problem(
        app.get("/suggestions/search?q=a&limit=5").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert!(p.to_string().contains("limit"), "{p}");
    let long = "y".repeat(501);
    let p = expect_problem(
        app.get(&format!("/suggestions/search?q={long}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "q", "{p}");
    // Hostile text is an answer, never an error.
    for q in [
        "%22",
        "NEAR(",
        "*",
        "%25",
        "_",
        "%F0%9F%98%80",
        "'%3B--",
        "%5C",
        "from:@",
        "#",
    ] {
        expect(
            app.get(&format!("/suggestions/search?q={q}")).await,
            StatusCode::OK,
        )
        .await;
    }
    let res = app.browser().get("/suggestions/search?q=a").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn search_page_shows_hits_and_reads_on(b: crate::harness::Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let ana = owner.new_member("ana", "member").await;
    owner
        .create_space(json!({"name": "Harbor", "slug": "harbor"}))
        .await;
    ana.join("harbor").await;
    let item = expect(
        owner
            .post(
                "/items",
                json!({"space": "harbor", "title": "Quokka census", "body": "The quokka count is up."}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = item["id"].as_str().unwrap().to_owned();
    ana.comment(&id, "Another quokka by the pier").await;
    let page = html(&ana, "/search?q=quokka").await;
    // The item: its title linking to it, the snippet with the word
    // marked, its space, author and time; the comment links to itself.
    assert!(
        page.contains(&format!("<a href=\"/items/{id}\">Quokka census</a>")),
        "{page}"
    );
    assert!(page.contains("<mark>quokka</mark>"), "{page}");
    assert!(
        page.contains("<span class=\"tag\">post</span> in <a href=\"/spaces/harbor\">Harbor</a>")
    );
    assert!(page.contains("<a href=\"/members/owner\">Olga Owner</a>"));
    assert!(page.contains("<span class=\"tag\">comment</span>"));
    assert!(page.contains(&format!("href=\"/items/{id}#c")), "{page}");
    assert!(page.contains("<time datetime="));
    assert!(page.contains(">Posts <span class=\"n\">2</span>"), "{page}");
    assert!(!page.contains("Nothing found"));
    // The people tab finds Ana by name.
    let people = html(&owner, "/search?q=ana&tab=people").await;
    assert!(people.contains("<a href=\"/members/ana\">"), "{people}");

    // Twenty a page, and the next page reads on from the first.
    for n in 0..23 {
        owner
            .post_item(json!({"space": "harbor", "body": format!("wombat sighting {n}")}))
            .await;
    }
    let first = html(&owner, "/search?q=wombat").await;
    assert_eq!(first.matches("class=\"hit card\"").count(), 20);
    let next = first
        .split("<a class=\"btn ghost\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a next page link")
        .to_owned();
    assert!(next.starts_with("/search?q=wombat&cursor="), "{next}");
    let second = html(&owner, &next).await;
    assert_eq!(second.matches("class=\"hit card\"").count(), 3);
    assert!(!second.contains(">Next page<"));
    let ids = |p: &str| -> Vec<String> {
        p.split("<h2 class=\"title\"><a href=\"")
            .skip(1)
            .filter_map(|r| r.split('"').next().map(str::to_owned))
            .collect()
    };
    let (a, z) = (ids(&first), ids(&second));
    assert!(a.iter().all(|x| !z.contains(x)), "pages do not overlap");
    // A cursor this server did not give: the first page again.
    let stale = html(&owner, "/search?q=wombat&cursor=bogus").await;
    assert_eq!(stale.matches("class=\"hit card\"").count(), 20);
    owner.stop().await;
}

/// The `<ul>` of a list page that holds its people, by its class.
fn list<'a>(page: &'a str, class: &str) -> &'a str {
    let start = page
        .find(class)
        .unwrap_or_else(|| panic!("{class}: {page}"));
    let rest = &page[start..];
    &rest[..rest
        .find("</ul>")
        .or_else(|| rest.find("</tbody>"))
        .unwrap()]
}

async fn directory_and_admin_lists_filter_by_search(b: crate::harness::Backend) {
    let mut owner = TestApp::spawn(b).await;
    owner.setup_owner().await;
    let hannah = owner.new_member("hannah", "member").await;
    expect(
        hannah
            .patch(
                "/me",
                json!({"display_name": "Hannah Holt", "title": "Harbor master"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    owner.new_member("bo", "member").await;
    // The directory: everyone, or whom the search finds.
    let all = html(&owner, "/directory").await;
    assert!(list(&all, "people-list").contains("@bo"));
    let found = html(&owner, "/directory?q=harbor").await;
    let people = list(&found, "people-list");
    assert!(
        people.contains("@hannah") && !people.contains("@bo"),
        "{people}"
    );
    assert!(
        found.contains("value=\"harbor\""),
        "the box keeps the filter"
    );
    assert!(found.contains("href=\"/directory\">Show everyone"));
    let none = html(&owner, "/directory?q=zqxv").await;
    assert!(none.contains("No one matches “zqxv”"));
    assert!(none.contains("href=\"/search?q=zqxv\""));
    // The admin member list.
    let admin = html(&owner, "/admin?q=hannah").await;
    let members = &admin[admin.find("id=\"members\"").unwrap()..];
    let rows = list(members, "<tbody>");
    assert!(
        rows.contains("/admin/members/hannah") && !rows.contains("/admin/members/bo"),
        "{rows}"
    );
    assert!(admin.contains("href=\"/admin#members\">Show all"));
    let admin = html(&owner, "/admin").await;
    assert!(admin.contains("/admin/members/bo"));
    owner.stop().await;
}
