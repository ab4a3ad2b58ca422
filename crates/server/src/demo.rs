//! `chorus serve --demo`: fills an empty database with a sample company,
//! so a newcomer sees a living network at once. Everything is made through
//! the services, as if people had used the pages: the same rules, the same
//! activities, fan-out and notifications.

use domain::kinds::{ItemKind, SpaceRole};
use domain::{Handle, Role};

use crate::context::Ctx;
use crate::error::AppResult;
use crate::service::audience::DirectTo;
use crate::service::items::{self, ItemInput};
use crate::service::org::{self, OrgSettingsInput};
use crate::service::profiles::{self, ProfileInput, ProfileText};
use crate::service::signup::{self, SignupInput};
use crate::service::spaces::{self, SpaceInput};
use crate::service::viewer::{Auth, Viewer};
use crate::service::{comments, follows, reactions};

/// Everyone in the demo logs in with this password.
pub const PASSWORD: &str = "chorus-demo-2026";

/// (handle, name, title, team)
const PEOPLE: [(&str, &str, &str, &str); 40] = [
    (
        "ada",
        "Ada Brennan",
        "Chief Executive Officer",
        "Leadership",
    ),
    ("ben", "Ben Okafor", "VP Engineering", "Leadership"),
    ("chloe", "Chloé Martin", "Head of Design", "Design"),
    ("dev", "Dev Patel", "Staff Engineer", "Platform"),
    ("elena", "Elena Rossi", "Product Manager", "Product"),
    ("farid", "Farid Haddad", "Backend Engineer", "Platform"),
    ("grace", "Grace Kim", "Frontend Engineer", "Web"),
    (
        "hugo",
        "Hugo Lindqvist",
        "Site Reliability Engineer",
        "Platform",
    ),
    ("ines", "Inês Carvalho", "UX Researcher", "Design"),
    ("jonas", "Jonas Weber", "Sales Director", "Sales"),
    (
        "kemi",
        "Kemi Adeyemi",
        "Customer Success Lead",
        "Customer Success",
    ),
    ("liam", "Liam O'Connor", "Account Executive", "Sales"),
    ("mei", "Mei Chen", "Data Scientist", "Data"),
    ("noah", "Noah Schwartz", "Security Engineer", "Platform"),
    ("olivia", "Olivia Dubois", "Marketing Manager", "Marketing"),
    ("pablo", "Pablo García", "Mobile Engineer", "Mobile"),
    ("quinn", "Quinn Taylor", "People Partner", "People"),
    ("rosa", "Rosa Jiménez", "Finance Lead", "Finance"),
    ("sam", "Sam Nakamura", "Product Designer", "Design"),
    ("tara", "Tara Singh", "Engineering Manager", "Web"),
    ("uma", "Uma Kapoor", "QA Engineer", "Web"),
    ("victor", "Victor Petrov", "Solutions Architect", "Sales"),
    ("wen", "Wen Li", "Data Engineer", "Data"),
    ("xavier", "Xavier Moreau", "Content Strategist", "Marketing"),
    (
        "yara",
        "Yara Haddad",
        "Support Engineer",
        "Customer Success",
    ),
    (
        "zoe",
        "Zoe Fischer",
        "Chief Operating Officer",
        "Leadership",
    ),
    ("amir", "Amir Rahimi", "Backend Engineer", "Payments"),
    ("bea", "Beatriz Souza", "Product Manager", "Payments"),
    ("carl", "Carl Jensen", "Recruiter", "People"),
    ("dana", "Dana Cohen", "Legal Counsel", "Legal"),
    ("emil", "Emil Novak", "Frontend Engineer", "Web"),
    ("fatima", "Fatima Zahra", "Designer", "Design"),
    ("gus", "Gus Andersson", "Office Manager", "Operations"),
    ("hana", "Hana Sato", "Mobile Engineer", "Mobile"),
    ("ivan", "Ivan Horvat", "DevOps Engineer", "Platform"),
    (
        "julia",
        "Julia Nowak",
        "Customer Success Manager",
        "Customer Success",
    ),
    ("kofi", "Kofi Mensah", "Data Analyst", "Data"),
    ("lena", "Lena Vogel", "Technical Writer", "Product"),
    ("marco", "Marco Bianchi", "Sales Engineer", "Sales"),
    ("nina", "Nina Ivanova", "Head of Marketing", "Marketing"),
];

/// (slug, name, visibility, description, member handles; the first is admin)
const SPACES: [(&str, &str, &str, &str, &[&str]); 8] = [
    (
        "announcements",
        "Announcements",
        "open",
        "Company news from leadership and every team. **Follow it**: the important things land here first.",
        &["ada", "zoe", "ben", "quinn", "nina", "rosa"],
    ),
    (
        "engineering",
        "Engineering",
        "open",
        "How we build: architecture, incidents, tooling, and the occasional rant about flaky tests.",
        &[
            "ben", "dev", "farid", "grace", "hugo", "noah", "pablo", "tara", "uma", "wen", "amir",
            "emil", "hana", "ivan",
        ],
    ),
    (
        "design-review",
        "Design review",
        "open",
        "Share work in progress early. Critique the work, not the person.",
        &["chloe", "ines", "sam", "fatima", "elena", "grace", "emil"],
    ),
    (
        "water-cooler",
        "Water cooler",
        "open",
        "Lunch plans, pets, music, weekend photos. No work talk required.",
        &[
            "gus", "ada", "liam", "olivia", "pablo", "hana", "kemi", "marco", "yara", "carl",
            "mei", "sam",
        ],
    ),
    (
        "customer-voice",
        "Customer voice",
        "open",
        "What customers tell us: feedback, wins, churn reasons. Tag with #feedback.",
        &[
            "kemi", "julia", "yara", "jonas", "liam", "victor", "marco", "elena", "bea",
        ],
    ),
    (
        "leadership",
        "Leadership",
        "closed",
        "The leadership team's working space. Ask to join if you need to follow along.",
        &["ada", "zoe", "ben", "nina", "rosa", "jonas"],
    ),
    (
        "hiring",
        "Hiring committee",
        "closed",
        "Open roles, interview loops and offers.",
        &["quinn", "carl", "tara", "ben", "chloe"],
    ),
    (
        "project-falcon",
        "Project Falcon",
        "secret",
        "Confidential: the partnership we are negotiating. Do not forward.",
        &["ada", "zoe", "dana", "victor"],
    ),
];

const POSTS: [&str; 24] = [
    "Shipped the new onboarding flow to 10% of sign-ups. Early numbers look good: activation up 4 points. #onboarding",
    "Reminder: the quarterly all-hands is on Thursday at 16:00. Bring questions! @{a} will host the Q&A.",
    "Postmortem for Tuesday's outage is up. Root cause: a connection pool that never gave connections back. Fix is deployed. #incident",
    "Who has experience with accessibility audits? We want a second pair of eyes on the checkout. @{a} @{b}",
    "First draft of the 2026 roadmap is ready for comments. What are we missing? #roadmap",
    "Big thanks to @{a} for staying late to get the release out. You rock. 🙌",
    "We closed the deal with Northwind Traders! Three-year contract. #win",
    "Proposal: we move stand-ups to async posts here, three days a week. Thoughts?",
    "The new design tokens are merged. Colors, spacing and type now come from one place. #designsystem",
    "Customer call summary: they love the reporting, hate the export. Export gets slow over 10k rows. #feedback",
    "Lunch on Friday: tacos from the place on the corner. Who's in?",
    "Security reminder: turn on two-factor for your code host account by the end of the month. #security",
    "Draft blog post about how we test against two databases. Review welcome, @{a}.",
    "We hit 99.98% availability last month. Next target: faster deploys. #reliability",
    "Research round two is done: 8 interviews. Top theme: people don't know who sees their posts. #research",
    "Does anyone know why the staging build takes 20 minutes now? It used to be 6.",
    "New hire alert! Please welcome @{a} to the team. Say hi!",
    "Here are the slides from today's demo. The live part even worked. #demo",
    "Price change FAQ for customers is ready. @{a} can you check the legal bits?",
    "Book club: we're reading 'Understanding Computers and Cognition' next. Chapter 5 is the good one.",
    "Heads-up: the office is closed on Monday for the floor refit. Work from home.",
    "Dashboards for the payments funnel are live. Conversion from trial to paid is 11.2%. #data",
    "I'd love feedback on the mobile navigation prototype before Wednesday's review. #mobile",
    "The support queue is down to 12 open tickets, the lowest this year. Great work everyone! #support",
];

const COMMENTS: [&str; 16] = [
    "Great news, thanks for sharing!",
    "Count me in.",
    "+1, this has bitten us before.",
    "Could you say more about the trade-offs?",
    "I can help with this next week.",
    "Nice work! 🎉",
    "Do we have numbers for the last quarter to compare?",
    "Agreed. Let's try it for a month and see.",
    "I left a few comments in the doc.",
    "@{a} you might want to look at this.",
    "Thanks, that explains the spike we saw.",
    "Love it.",
    "What would it take to make this the default?",
    "I'll bring it up at the planning meeting.",
    "Seen, thanks.",
    "Can we record the session for the other time zones?",
];

const REACTIONS: [&str; 6] = ["👍", "🎉", "❤️", "😄", "🤔", "👀"];

/// A tiny deterministic random source, so every demo looks the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn viewer(m: crate::service::profiles::Member) -> Viewer {
    Viewer {
        member: m,
        auth: Auth::Token { id: 0 },
    }
}

/// Fills the sample company when the database has no members yet;
/// returns false (and changes nothing) otherwise.
pub async fn fill(ctx: &Ctx) -> AppResult<bool> {
    if !signup::setup_needed(ctx).await? {
        return Ok(false);
    }
    let mut people = Vec::new();
    for (i, (handle, name, title, team)) in PEOPLE.iter().enumerate() {
        let role = match i {
            0 => Role::Owner,
            1 | 25 => Role::Admin,
            _ => Role::Member,
        };
        let m = signup::create_member(
            ctx,
            &SignupInput::parse(
                handle,
                name,
                Some(&format!("{handle}@northwind.example")),
                PASSWORD,
            )?,
            role,
        )
        .await?;
        let v = viewer(m);
        let m = profiles::update_profile(
            ctx,
            &v,
            &ProfileInput::parse(&ProfileText {
                title: Some((*title).into()),
                team: Some((*team).into()),
                about: Some(format!(
                    "{title} in the {team} team. Ask me about anything {}.",
                    team.to_lowercase()
                )),
                ..Default::default()
            })?,
        )
        .await?;
        people.push(viewer(m));
    }
    let owner = people[0].clone();
    org::update_org_settings(
        ctx,
        &owner,
        &OrgSettingsInput {
            org_name: Some("Northwind".into()),
            ..Default::default()
        },
    )
    .await?;
    let by_handle = |h: &str| {
        people
            .iter()
            .find(|p| p.member.handle == h)
            .expect("demo handle")
            .clone()
    };
    for (slug, name, visibility, description, members) in SPACES {
        let admin = by_handle(members[0]);
        spaces::create_space(
            ctx,
            &admin,
            &SpaceInput {
                name: Some(name.into()),
                slug: Some(slug.into()),
                description: Some(description.into()),
                visibility: Some(visibility.into()),
                archived: None,
            },
        )
        .await?;
        for h in &members[1..] {
            if visibility == "open" {
                spaces::join_space(ctx, &by_handle(h), slug, "").await?;
            } else {
                spaces::add_member(ctx, &admin, slug, &Handle::parse(h)?, SpaceRole::Member)
                    .await?;
            }
        }
    }
    // Everyone not in a space joins one or two open ones.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let open: Vec<&str> = SPACES
        .iter()
        .filter(|s| s.2 == "open")
        .map(|s| s.0)
        .collect();
    for p in &people {
        for _ in 0..2 {
            let slug = open[rng.below(open.len())];
            spaces::join_space(ctx, p, slug, "").await?;
        }
    }
    // A pending request to the closed leadership space.
    spaces::join_space(
        ctx,
        &by_handle("elena"),
        "leadership",
        "I'd like to follow the roadmap discussions.",
    )
    .await?;
    // Follows: colleagues follow a handful of people.
    for p in &people {
        for _ in 0..5 {
            let other = &people[rng.below(people.len())];
            if other.id() != p.id() {
                follows::follow(ctx, p, "member", &other.member.handle, "following").await?;
            }
        }
    }
    for t in ["incident", "roadmap", "feedback"] {
        for _ in 0..6 {
            let p = &people[rng.below(people.len())];
            follows::follow(ctx, p, "topic", t, "following").await?;
        }
    }
    // Ada follows a search: what it matches comes to her home, named.
    crate::service::searches::follow(ctx, &by_handle("ada"), "deploy", Some("following")).await?;
    // Items, with comments and reactions; the last ones are the freshest.
    for n in 0..260 {
        let (slug, _, _, _, members) = SPACES[rng.below(SPACES.len())];
        let author = by_handle(members[rng.below(members.len())]);
        let mention = |rng: &mut Rng| people[rng.below(people.len())].member.handle.clone();
        let body = POSTS[rng.below(POSTS.len())]
            .replace("{a}", &mention(&mut rng))
            .replace("{b}", &mention(&mut rng));
        let input = match n % 9 {
            // Some posts on profiles and a few direct ones.
            0 => ItemInput {
                body,
                ..Default::default()
            },
            4 => ItemInput {
                to: DirectTo::handles(vec![Handle::from_trusted(mention(&mut rng))]),
                body,
                ..Default::default()
            },
            _ => ItemInput {
                space: Some(slug.into()),
                title: (n % 5 == 0).then(|| {
                    [
                        "Weekly update",
                        "Quick question",
                        "Heads-up",
                        "Proposal",
                        "Results",
                    ][rng.below(5)]
                    .to_owned()
                }),
                body,
                ack_requested: n % 23 == 0,
                ..Default::default()
            },
        };
        let Ok(id) = items::create_item(ctx, &author, &input).await else {
            // A direct post to oneself and the like: skip it.
            continue;
        };
        // Comments and reactions from people who can see it.
        let crowd: Vec<Viewer> = match &input.space {
            Some(_) => members.iter().map(|h| by_handle(h)).collect(),
            None => people.clone(),
        };
        for _ in 0..rng.below(4) {
            let who = &crowd[rng.below(crowd.len())];
            let text = COMMENTS[rng.below(COMMENTS.len())].replace("{a}", &mention(&mut rng));
            let _ = comments::add_comment(ctx, who, id, &text).await;
        }
        for _ in 0..rng.below(6) {
            let who = &crowd[rng.below(crowd.len())];
            let _ = reactions::react(ctx, who, id, None, REACTIONS[rng.below(6)], true).await;
        }
    }
    work(ctx, &by_handle).await?;
    crate::jobs::drain(
        ctx,
        crate::jobs::kinds::registry(&ctx.db),
        &[crate::jobs::kinds::FANOUT],
    )
    .await?;
    Ok(true)
}

/// Requests and offers between the people `--demo` prints first, left in
/// the states a newcomer meets (waiting on me, promised, reported, a
/// progress report asked for, done), and a few to-dos, so My work is not
/// empty on the first visit.
async fn work(ctx: &Ctx, by_handle: &dyn Fn(&str) -> Viewer) -> AppResult<()> {
    use crate::service::requests::{self as rq, ActInput, RequestInput, TermsInput, TodoInput};
    let day = |d: i64| {
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(24 * d))
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    // (asker, kind, other, title, conditions, due in days, acts as (who, act))
    type Play<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        i64,
        &'a [(&'a str, &'a str)],
    );
    let plays: [Play; 6] = [
        (
            "ada",
            "request",
            "ben",
            "Q3 engineering plan",
            "One page: goals, staffing, risks.",
            5,
            &[],
        ),
        (
            "ben",
            "request",
            "dev",
            "Migrate billing to the new queue",
            "No lost events; a runbook.",
            10,
            &[("dev", "promise")],
        ),
        (
            "chloe",
            "request",
            "ben",
            "Review the onboarding mock-ups",
            "Comments on every screen.",
            2,
            &[("ben", "promise"), ("ben", "report")],
        ),
        (
            "ben",
            "request",
            "elena",
            "Pricing page copy",
            "Approved by legal.",
            1,
            &[("elena", "promise"), ("ben", "ask_progress")],
        ),
        (
            "elena",
            "offer",
            "ben",
            "Run the customer interviews",
            "Ten interviews, written up.",
            7,
            &[],
        ),
        (
            "ben",
            "request",
            "farid",
            "Fix the flaky login test",
            "Green ten runs in a row.",
            1,
            &[
                ("farid", "promise"),
                ("farid", "report"),
                ("ben", "approve"),
            ],
        ),
    ];
    for (asker, kind, other, title, conditions, due, acts) in plays {
        let input = RequestInput {
            kind: ItemKind::conversation(kind)?,
            to: vec![Handle::parse(other)?],
            space: None,
            terms: TermsInput {
                title: Some(title.into()),
                conditions: Some(conditions.into()),
                due: Some(day(due)),
            },
            message: None,
        };
        let Ok(ids) = rq::create(ctx, &by_handle(asker), &input).await else {
            continue;
        };
        for id in ids {
            for (who, act) in acts {
                let _ = rq::act(
                    ctx,
                    &by_handle(who),
                    id,
                    &ActInput {
                        act: (*act).into(),
                        ..Default::default()
                    },
                )
                .await;
            }
        }
    }
    for (who, title, shared) in [
        ("ben", "Write the hiring plan for Q3", true),
        ("ben", "Book the team offsite venue", false),
        ("ada", "Prepare the board update", false),
    ] {
        let _ = rq::create_todo(
            ctx,
            &by_handle(who),
            &TodoInput {
                title: Some(title.into()),
                due: Some(day(3)),
                shared: Some(shared),
                ..Default::default()
            },
        )
        .await;
    }
    Ok(())
}

/// What `--demo` prints: how to log in.
pub fn logins() -> String {
    let mut s = format!(
        "Demo company \"Northwind\" created: {} people, {} spaces. Everyone's password is {PASSWORD}\n",
        PEOPLE.len(),
        SPACES.len()
    );
    s.push_str("Log in, for example, as:\n");
    for (h, n, t, _) in PEOPLE.iter().take(6) {
        s.push_str(&format!("    {h:<8} {n} ({t})\n"));
    }
    s
}
