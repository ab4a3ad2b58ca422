//! The `chorus` command line: `serve`, `migrate` and `admin …`.

use std::io::IsTerminal;

use clap::{Parser, Subcommand};

use crate::app::{self, App};
use crate::config::{LogFormat, Settings, SettingsArgs};
use crate::service::invitations::{self, InviteInput};
use crate::service::signup::{self, SignupInput};
use crate::service::{org, profiles, viewer};

#[derive(Debug, Parser)]
#[command(
    name = "chorus",
    version,
    about = "Chorus: a self-hosted social network for work"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first)
    Serve(ServeArgs),
    /// Bring the database schema up to date and exit
    Migrate(SettingsArgs),
    /// Manage members and invitations from the command line
    Admin {
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Bring a mail archive into a space
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import an mbox file (mboxo or mboxrd) into a space, as history:
    /// threads become items and their replies comments, at their original
    /// dates, by the members whose addresses sent them (other senders are
    /// shown by name and address). Nobody is notified or mailed. Importing
    /// the same file again adds nothing.
    Mbox {
        /// The mbox file
        file: std::path::PathBuf,
        /// The slug of the space to import into (it must exist)
        #[arg(long)]
        space: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Fill an empty database with a sample company (people, spaces,
    /// posts) and print how to log in
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a member (the password is read from CHORUS_PASSWORD, or asked for)
    CreateUser {
        #[arg(long)]
        handle: String,
        #[arg(long)]
        email: String,
        /// Display name
        #[arg(long)]
        name: String,
        /// owner, admin, member or guest
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Change a member's role (owner, admin, member, guest)
    SetRole { handle: String, role: String },
    /// Deactivate a member: they can no longer log in; their content stays
    Deactivate {
        handle: String,
        /// Reactivate instead
        #[arg(long)]
        undo: bool,
    },
    /// Invite someone by email and print the one-time link
    Invite {
        email: String,
        /// member, guest or admin
        #[arg(long, default_value = "member")]
        role: String,
        /// Who the invitation is from (default: the first owner)
        #[arg(long)]
        by: Option<String>,
    },
    /// List members
    ListUsers,
    /// Rebuild the search index: queued as a background job that a running
    /// server does in batches beside its work (progress in its log), or
    /// with --now done here, printing progress
    Reindex {
        /// Rebuild it in this process now instead of queueing it
        #[arg(long)]
        now: bool,
    },
}

/// Prints a line for the person who started the server. A closed stdout
/// (say, a supervisor that stopped reading) must not take the server down,
/// so errors are ignored rather than panicking as `println!` would.
macro_rules! say {
    () => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(load(&args.settings)?, args.demo).await,
        Command::Migrate(args) => {
            let settings = load(&args)?;
            init_logging(settings.log_format);
            let db = app::open_db(&settings).await?;
            println!(
                "The database at {} is at schema version {}.",
                db.redacted_url(),
                store::migrate::latest()
            );
            db.close().await;
            Ok(())
        }
        Command::Admin { settings, command } => {
            let settings = load(&settings)?;
            admin(&settings, command).await
        }
        Command::Import {
            command:
                ImportCommand::Mbox {
                    file,
                    space,
                    settings,
                },
        } => {
            let settings = load(&settings)?;
            import_mbox(&settings, &file, &space).await
        }
    }
}

fn load(args: &SettingsArgs) -> anyhow::Result<Settings> {
    args.load().map_err(anyhow::Error::msg)
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    init_logging(settings.log_format);
    // Every live connection is a socket: raise the soft limit on open
    // files to what the system allows.
    if let Err(e) = rlimit::increase_nofile_limit(1 << 20) {
        tracing::warn!(error = %e, "could not raise the open-file limit");
    }
    let mut app = App::build(settings).await?;
    if std::env::var_os("CHORUS_TEST_JOB_KINDS").is_some() {
        crate::jobs::kinds::register_test_kinds(app.jobs_mut());
    }
    let addr = app.local_addr();
    let smtp = app.smtp_addr();
    let base = app.state().ctx.base_url.clone();
    tracing::info!(%addr, %smtp, database = app.state().ctx.db.redacted_url(), "Chorus is listening");
    say!("Chorus is running at {base} (listening on {addr}).");
    say!(
        "It takes mail for @{} on {smtp}.",
        app.state().ctx.settings.mail_domain()
    );
    if demo {
        say!("Filling the demo company (this takes a few seconds)…");
        if crate::demo::fill(&app.state().ctx).await? {
            say!("{}", crate::demo::logins());
        } else {
            say!("The database already has members, so --demo left it as it is.");
        }
    }
    if let Some(link) = app.setup_link().await? {
        say!();
        say!("No owner yet. Open this one-time link to create the first account:");
        say!();
        say!("    {link}");
        say!();
    }
    app.run(app::shutdown_signal()).await
}

async fn admin(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let ctx = crate::context::Ctx::new(app::open_db(settings).await?, settings.clone());
    let result = async {
        match command {
            AdminCommand::CreateUser {
                handle,
                email,
                name,
                role,
            } => {
                let role = domain::Role::parse(&role)?;
                let password = read_password()?;
                let input = SignupInput::parse(&handle, &name, Some(&email), &password)?;
                let m = signup::create_member(&ctx, &input, role).await?;
                println!(
                    "Created @{} ({}) as {}.",
                    m.handle,
                    m.email,
                    m.role.as_str()
                );
            }
            AdminCommand::SetRole { handle, role } => {
                let actor = viewer::system_actor(&ctx).await?;
                let handle = profiles::handle_named(&handle)?;
                let m = org::set_role(&ctx, &actor, &handle, domain::Role::parse(&role)?).await?;
                println!("@{} is now {}.", m.handle, m.role.as_str());
            }
            AdminCommand::Deactivate { handle, undo } => {
                let actor = viewer::system_actor(&ctx).await?;
                let handle = profiles::handle_named(&handle)?;
                let m = org::set_deactivated(&ctx, &actor, &handle, !undo).await?;
                println!(
                    "@{} is {}.",
                    m.handle,
                    if m.deactivated_at.is_some() {
                        "deactivated"
                    } else {
                        "active"
                    }
                );
            }
            AdminCommand::Invite { email, role, by } => {
                let actor = match by {
                    Some(h) => viewer::act_as(&ctx, &profiles::handle_named(&h)?).await?,
                    None => viewer::system_actor(&ctx).await?,
                };
                let input = InviteInput::parse(&email, Some(&role), None)?;
                let (inv, url) = invitations::invite(&ctx, &actor, &input).await?;
                println!(
                    "Invited {} as {}. Send them this one-time link:",
                    inv.email,
                    inv.role.as_str()
                );
                println!("{url}");
            }
            AdminCommand::Reindex { now: false } => {
                let (id, new) = crate::service::search::queue_reindex(&ctx).await?;
                if new {
                    println!(
                        "Queued the rebuild of the search index as job #{id}: a running \
                         `chorus serve` does it in batches and logs its progress."
                    );
                } else {
                    println!(
                        "A rebuild of the search index is already queued or running (job #{id})."
                    );
                }
            }
            AdminCommand::Reindex { now: true } => {
                let mut r = crate::service::search::Reindex::default();
                let total = crate::service::search::index_size(&ctx).await?;
                println!("Rebuilding the search index ({total} entries)…");
                loop {
                    let mut tx = ctx.db.write().await?;
                    let more = crate::service::search::reindex_step(&mut tx, &mut r).await?;
                    tx.commit().await?;
                    if !more {
                        break;
                    }
                    if r.batches % 20 == 0 {
                        println!("  {:?}: past id {}", r.phase, r.after);
                    }
                }
                println!("Rebuilt the search index in {} batches.", r.batches);
            }
            AdminCommand::ListUsers => {
                let actor = viewer::system_actor(&ctx).await?;
                let mut after: Option<String> = None;
                println!(
                    "{:<24} {:<32} {:<8} {:<12} name",
                    "handle", "email", "role", "status"
                );
                loop {
                    let page = profiles::list_members(&ctx, &actor, after.as_deref(), 100).await?;
                    for m in &page {
                        println!(
                            "{:<24} {:<32} {:<8} {:<12} {}",
                            format!("@{}", m.handle),
                            m.email,
                            m.role.as_str(),
                            if m.deactivated_at.is_some() {
                                "deactivated"
                            } else {
                                "active"
                            },
                            m.display_name
                        );
                    }
                    if page.len() < 100 {
                        break;
                    }
                    after = page.last().map(|m| m.handle.clone());
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    ctx.db.close().await;
    result
}

/// A progress bar on stderr, drawn only when it is a terminal.
struct Bar(indicatif::ProgressBar);

impl crate::service::import::Progress for Bar {
    fn scanned(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }

    fn writing(&self, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_style(
            indicatif::ProgressStyle::with_template(
                "Importing {bar:30} {pos}/{len} messages, {per_sec}, {eta} left",
            )
            .expect("a valid template"),
        );
    }

    fn wrote(&self) {
        self.0.inc(1);
    }
}

async fn import_mbox(
    settings: &Settings,
    file: &std::path::Path,
    space: &str,
) -> anyhow::Result<()> {
    use crate::service::import;
    let ctx = crate::context::Ctx::new(app::open_db(settings).await?, settings.clone());
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "Reading {bar:30} {bytes}/{total_bytes}, {bytes_per_sec}, {eta} left",
        )
        .expect("a valid template"),
    );
    let started = std::time::Instant::now();
    let result = import::import_mbox(&ctx, file, space, &Bar(bar.clone())).await;
    bar.finish_and_clear();
    ctx.db.close().await;
    let s = result?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "Imported {} into {space} in {secs:.1} s ({:.0} messages/s).",
        file.display(),
        s.read as f64 / secs.max(0.001)
    );
    println!("  messages read:    {}", s.read);
    println!("  threads (items):  {}", s.items);
    println!("  comments:         {}", s.comments);
    println!(
        "  authors:          {} matched to members, {} unknown (shown by name and address)",
        s.matched_authors, s.unknown_authors
    );
    println!("  skipped:          {}", s.skipped_total());
    for (reason, (n, examples)) in &s.skipped {
        println!("    {n} {reason}: {}", examples.join(", "));
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("CHORUS_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    eprint!("Password for the new member (at least 10 characters; it is shown as you type): ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
