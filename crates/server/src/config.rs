//! Settings: defaults, then `chorus.toml`, then `CHORUS_*` environment
//! variables, then command-line flags — later sources win.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Every setting, after merging all sources. A key this list does not
/// know (a misspelt one in `chorus.toml`) is an error, not ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub http_addr: SocketAddr,
    pub base_url: Option<String>,
    pub log_format: LogFormat,
    pub db_max_connections: usize,
    pub max_body_bytes: usize,
    pub max_avatar_bytes: usize,
    pub session_days: i64,
    pub invitation_days: i64,
    pub trust_proxy_headers: bool,
    pub trusted_proxy_hops: usize,
    pub login_max_failures_per_account_address: i64,
    pub login_max_failures_per_account: i64,
    pub login_max_failures_per_address: i64,
    pub login_window_minutes: i64,
    pub shutdown_grace_seconds: u64,
    pub fanout_inline_max: i64,
    pub fold_deliveries_at: usize,
    pub job_lease_seconds: u64,
    pub stream_cache_mib: usize,
    pub live_per_member: usize,
    pub writes_per_minute: u32,
    pub request_timeout_seconds: u64,
    pub query_count_header: bool,
    pub metrics_token: Option<String>,
    pub mail_relay: Option<String>,
    pub mail_from: Option<String>,
    pub mail_domain: Option<String>,
    pub smtp_addr: SocketAddr,
    pub smtp_max_bytes: usize,
    pub smtp_tls_cert: Option<PathBuf>,
    pub smtp_tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./chorus-data"),
            database_url: None,
            http_addr: "127.0.0.1:8080".parse().expect("valid address"),
            base_url: None,
            log_format: LogFormat::Text,
            db_max_connections: 8,
            max_body_bytes: 1024 * 1024,
            max_avatar_bytes: 2 * 1024 * 1024,
            session_days: 30,
            invitation_days: 7,
            trust_proxy_headers: false,
            trusted_proxy_hops: 1,
            login_max_failures_per_account_address: 5,
            login_max_failures_per_account: 50,
            login_max_failures_per_address: 20,
            login_window_minutes: 15,
            shutdown_grace_seconds: 20,
            fanout_inline_max: 500,
            fold_deliveries_at: 500_000,
            job_lease_seconds: 15,
            stream_cache_mib: 32,
            live_per_member: 20,
            writes_per_minute: 120,
            request_timeout_seconds: 30,
            query_count_header: false,
            metrics_token: None,
            mail_relay: None,
            mail_from: None,
            mail_domain: None,
            smtp_addr: "127.0.0.1:2525".parse().expect("valid address"),
            smtp_max_bytes: 10 * 1024 * 1024,
            smtp_tls_cert: None,
            smtp_tls_key: None,
        }
    }
}

impl Settings {
    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => format!("sqlite://{}", self.data_dir.join("chorus.db").display()),
        }
    }

    /// The address people use in links, without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
            _ => format!("http://{}", self.http_addr),
        }
    }

    /// The host part of space and reply addresses: `mail_domain`, else the
    /// host of the base URL.
    pub fn mail_domain(&self) -> String {
        match &self.mail_domain {
            Some(d) if !d.trim().is_empty() => d.trim().to_ascii_lowercase(),
            _ => host_of(&self.base_url()).unwrap_or_else(|| "localhost".into()),
        }
    }

    /// The sender of Chorus's mail: `mail_from`, else `chorus@<host of the
    /// base URL>`.
    pub fn mail_from(&self) -> String {
        match &self.mail_from {
            Some(f) if !f.trim().is_empty() => f.trim().to_owned(),
            _ => format!(
                "chorus@{}",
                host_of(&self.base_url()).unwrap_or_else(|| "localhost".into())
            ),
        }
    }

    /// Cookies are marked Secure when people reach Chorus over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url().starts_with("https://")
    }
}

/// The host name in a base URL ([`Settings::base_url`]:
/// `chorus.example.com`), which names this server in mail domains and
/// calendar event ids; None when the base URL has no host.
pub fn host_of(base_url: &str) -> Option<String> {
    url::Url::parse(base_url)
        .ok()?
        .host_str()
        .map(str::to_owned)
}

/// Settings as flags; each also reads from `CHORUS_<NAME>` and `chorus.toml`.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct SettingsArgs {
    /// TOML file with settings (keys as below, e.g. `http_addr = "0.0.0.0:8080"`)
    /// [env: CHORUS_CONFIG] [default: ./chorus.toml when it exists]
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Directory for the SQLite database and other local files
    /// [env: CHORUS_DATA_DIR] [default: ./chorus-data]
    #[arg(long, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,

    /// Database: `sqlite://<path>` or `postgres://user:password@host/db`
    /// [env: CHORUS_DATABASE_URL] [default: SQLite file chorus.db in the data directory]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,

    /// Address and port the web server listens on
    /// [env: CHORUS_HTTP_ADDR] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<SocketAddr>,

    /// The address people use to reach Chorus, for links in pages and mails;
    /// https here makes cookies Secure
    /// [env: CHORUS_BASE_URL] [default: http://<http_addr>]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,

    /// Log format [env: CHORUS_LOG_FORMAT] [default: text]; the level comes from RUST_LOG
    #[arg(long, value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,

    /// Database connections (SQLite: readers; PostgreSQL: the pool)
    /// [env: CHORUS_DB_MAX_CONNECTIONS] [default: 8]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_max_connections: Option<usize>,

    /// Largest request body accepted, in bytes [env: CHORUS_MAX_BODY_BYTES] [default: 1048576]
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,

    /// Largest avatar upload, in bytes [env: CHORUS_MAX_AVATAR_BYTES] [default: 2097152]
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_avatar_bytes: Option<usize>,

    /// Days a login lasts without use [env: CHORUS_SESSION_DAYS] [default: 30]
    #[arg(long, value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_days: Option<i64>,

    /// Days an invitation link stays valid [env: CHORUS_INVITATION_DAYS] [default: 7]
    #[arg(long, value_name = "DAYS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_days: Option<i64>,

    /// Take the client address from X-Forwarded-For (only behind a proxy you run)
    /// [env: CHORUS_TRUST_PROXY_HEADERS] [default: false]
    #[arg(long, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_proxy_headers: Option<bool>,

    /// With trust_proxy_headers: how many proxies you run in front of Chorus,
    /// each appending the address it saw to X-Forwarded-For; the client is
    /// the entry this many places from the right (entries further left are
    /// the client's own say)
    /// [env: CHORUS_TRUSTED_PROXY_HOPS] [default: 1]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxy_hops: Option<usize>,

    /// Failed logins to one account from one client address within the
    /// window before that address is throttled for that account
    /// [env: CHORUS_LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS] [default: 5]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_max_failures_per_account_address: Option<i64>,

    /// Failed logins to one account from all addresses within the window
    /// before every login to it waits (a backstop against guessing from many
    /// addresses) [env: CHORUS_LOGIN_MAX_FAILURES_PER_ACCOUNT] [default: 50]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_max_failures_per_account: Option<i64>,

    /// Failed logins per client address within the window before it is throttled
    /// [env: CHORUS_LOGIN_MAX_FAILURES_PER_ADDRESS] [default: 20]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_max_failures_per_address: Option<i64>,

    /// The login throttling window, in minutes [env: CHORUS_LOGIN_WINDOW_MINUTES] [default: 15]
    #[arg(long, value_name = "MINUTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_window_minutes: Option<i64>,

    /// Seconds to let in-flight requests finish on shutdown
    /// [env: CHORUS_SHUTDOWN_GRACE_SECONDS] [default: 20]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_seconds: Option<u64>,

    /// Posts reach up to this many followers' home streams within the
    /// request; bigger audiences are delivered in the background in batches
    /// [env: CHORUS_FANOUT_INLINE_MAX] [default: 500]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fanout_inline_max: Option<i64>,

    /// SQLite: home deliveries are logged and kept in memory, and folded
    /// into the home inboxes once this many are held (or every five
    /// minutes); more per fold writes fewer pages and keeps more memory,
    /// about 30 bytes each [env: CHORUS_FOLD_DELIVERIES_AT] [default: 500000]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fold_deliveries_at: Option<usize>,

    /// A background job's lease, in seconds: the node running it renews it
    /// every third of that, and a job whose node stopped renewing (it was
    /// killed, or lost the database) runs elsewhere once the lease has run
    /// out [env: CHORUS_JOB_LEASE_SECONDS] [default: 15]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_lease_seconds: Option<u64>,

    /// SQLite: memory for stream entries rendered once and shown again on
    /// other pages, in MiB; 0 renders every entry afresh
    /// [env: CHORUS_STREAM_CACHE_MIB] [default: 32]
    #[arg(long, value_name = "MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_cache_mib: Option<usize>,

    /// Live connections (open streams and unread badges) one member may
    /// hold; past it, their oldest closes [env: CHORUS_LIVE_PER_MEMBER]
    /// [default: 20]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_per_member: Option<usize>,

    /// Writes (unsafe requests) one member may make per minute, in bursts
    /// of as many; past it the answer is 429 with Retry-After; 0 for no
    /// limit [env: CHORUS_WRITES_PER_MINUTE] [default: 120]
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writes_per_minute: Option<u32>,

    /// A request that has not answered after this many seconds gets 503
    /// (live streams are not cut: their answer starts at once)
    /// [env: CHORUS_REQUEST_TIMEOUT_SECONDS] [default: 30]
    #[arg(long, value_name = "SECONDS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_seconds: Option<u64>,

    /// Answer every request with `X-Query-Count`, the number of database
    /// statements it ran (for tests and profiling)
    /// [env: CHORUS_QUERY_COUNT_HEADER] [default: false]
    #[arg(long, value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_count_header: Option<bool>,

    /// /metrics answers only requests that send `Authorization: Bearer
    /// <this token>`; without it, only requests from this machine's
    /// loopback addresses [env: CHORUS_METRICS_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,

    /// Where mail goes out: `smtp://host:port` (STARTTLS when offered) or
    /// `smtps://user:password@host:port`; without it no mail is sent
    /// [env: CHORUS_MAIL_RELAY]
    #[arg(long, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_relay: Option<String>,

    /// The From address of Chorus's mail
    /// [env: CHORUS_MAIL_FROM] [default: chorus@<host of base_url>]
    #[arg(long, value_name = "ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,

    /// The host part of space and reply addresses (`launch@<this>`)
    /// [env: CHORUS_MAIL_DOMAIN] [default: the host of base_url]
    #[arg(long, value_name = "HOST")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_domain: Option<String>,

    /// Address and port the SMTP listener takes mail on
    /// [env: CHORUS_SMTP_ADDR] [default: 127.0.0.1:2525]
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_addr: Option<SocketAddr>,

    /// The largest message the SMTP listener takes, in bytes (larger: 552)
    /// [env: CHORUS_SMTP_MAX_BYTES] [default: 10485760]
    #[arg(long, value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_max_bytes: Option<usize>,

    /// PEM certificate chain for the SMTP listener's STARTTLS (with
    /// smtp_tls_key; without both, STARTTLS is not offered)
    /// [env: CHORUS_SMTP_TLS_CERT]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_tls_cert: Option<PathBuf>,

    /// PEM private key for the SMTP listener's STARTTLS
    /// [env: CHORUS_SMTP_TLS_KEY]
    #[arg(long, value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_tls_key: Option<PathBuf>,
}

impl SettingsArgs {
    /// Merges defaults, the TOML file, the environment and these flags.
    pub fn load(&self) -> Result<Settings, String> {
        let file = self
            .config
            .clone()
            .or_else(|| std::env::var_os("CHORUS_CONFIG").map(PathBuf::from));
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match &file {
            Some(path) if !path.exists() => {
                return Err(format!(
                    "the settings file {} does not exist; create it or leave out --config",
                    path.display()
                ));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if std::path::Path::new("chorus.toml").exists() => {
                figment = figment.merge(Toml::file_exact("chorus.toml"))
            }
            None => {}
        }
        // Only the environment variables that name a setting: other
        // programs' CHORUS_* variables are none of the settings' business.
        let known: Vec<String> = match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(keys)) => keys.keys().cloned().collect(),
            _ => Vec::new(),
        };
        figment = figment
            .merge(
                Env::prefixed("CHORUS_")
                    .ignore(&["config"])
                    .filter(move |k| known.iter().any(|n| k.as_str().eq_ignore_ascii_case(n))),
            )
            .merge(Serialized::defaults(self));
        figment
            .extract()
            .map_err(|e| format!("invalid settings: {e}"))
    }
}
