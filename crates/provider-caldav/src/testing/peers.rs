//! Radicale and Xandikos, run from a cached virtualenv on free loopback ports.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use availability_domain::Secret;
use http::Uri;
use libdav::caldav::{CalendarComponent, CreateCalendar};
use provider_http::HttpPolicy;
use tempfile::TempDir;

use crate::transport::{origin, BasicAuth, PolicyClient};

/// What the virtualenv holds, pinned so every machine runs the same servers and reference.
pub const PINNED_PACKAGES: [&str; 4] = [
    "radicale==3.9.0",
    "xandikos==0.4.10",
    "icalendar==7.3.2",
    "recurring-ical-events==3.8.2",
];

/// The cached virtualenv.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    root: PathBuf,
}

impl PythonEnv {
    /// The venv's python.
    pub fn python(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }

    /// A program the venv installed (`radicale`, `xandikos`).
    pub fn program(&self, name: &str) -> PathBuf {
        self.root.join("bin").join(name)
    }
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        // This crate lives in <workspace>/crates/provider-caldav.
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("..")
            .join("target"),
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let tail: String = String::from_utf8_lossy(&output.stderr)
            .chars()
            .rev()
            .take(600)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Err(format!("{command:?} failed ({}): {tail}", output.status))
    }
}

/// The virtualenv, made on first use (python3 -m venv, pip install of [`PINNED_PACKAGES`])
/// under a file lock; later calls and other test binaries find it ready.
pub fn python_env() -> Result<PythonEnv, String> {
    static ENV: OnceLock<Result<PythonEnv, String>> = OnceLock::new();
    ENV.get_or_init(make_python_env).clone()
}

fn make_python_env() -> Result<PythonEnv, String> {
    let dir = target_dir().join("caldav-peers");
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("venv.lock"))
        .map_err(|e| format!("the venv lock: {e}"))?;
    lock.lock().map_err(|e| format!("locking the venv: {e}"))?;
    let root = dir.join("venv");
    let marker = root.join("caldav-peers-ready");
    let wanted = PINNED_PACKAGES.join("\n");
    if fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(PythonEnv { root });
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    run(Command::new(&python).args(["-m", "venv", "--clear"]).arg(&root))
        .map_err(|e| format!("no usable Python venv: {e}"))?;
    let env = PythonEnv { root };
    run(Command::new(env.python())
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PINNED_PACKAGES))
    .map_err(|e| format!("pip could not install the CalDAV peers: {e}"))?;
    let mut file = File::create(&marker).map_err(|e| e.to_string())?;
    file.write_all(wanted.as_bytes()).map_err(|e| e.to_string())?;
    Ok(env)
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts `program args` under a Python guard that ends it when this test process ends (a
/// static server is never dropped, and an orphaned server would outlive the test run).
fn spawn_guarded(env: &PythonEnv, program: &Path, args: &[String], log: &Path) -> Result<Child, String> {
    const GUARD: &str = r#"
import os, subprocess, sys, time
parent = os.getppid()
child = subprocess.Popen(sys.argv[1:], stdout=sys.stdout, stderr=sys.stderr)
while child.poll() is None and os.getppid() == parent:
    time.sleep(0.2)
child.terminate()
try:
    child.wait(5)
except Exception:
    child.kill()
"#;
    let log = File::create(log).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    Command::new(env.python())
        .arg("-c")
        .arg(GUARD)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", program.display()))
}

fn wait_for_port(port: u16, child: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let output = fs::read_to_string(log).unwrap_or_default();
            return Err(format!("the server exited ({status}): {output}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("the server did not listen on port {port} within 30 s"))
}

/// A client for setup requests (MKCALENDAR) with a short budget.
fn setup_client(username: &str, password: &str) -> Result<PolicyClient, String> {
    let policy = HttpPolicy::default();
    let client = policy.client().map_err(|e| e.to_string())?;
    Ok(PolicyClient::new(
        client,
        Arc::new(policy),
        BasicAuth {
            username: username.to_owned(),
            password: Secret::new(password.to_owned()),
        },
    ))
}

async fn make_calendar(base: &str, username: &str, password: &str, path: &str, name: &str) -> Result<String, String> {
    let http = setup_client(username, password)?;
    let base_uri: Uri = base.parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let components = [CalendarComponent::VEvent];
    let request = CreateCalendar::new(path)
        .with_display_name(name)
        .with_components(&components);
    http.run(&origin(&base_uri).map_err(|e| e.to_string())?, &request)
        .await
        .map_err(|e| format!("MKCALENDAR {path}: {e}"))?;
    Ok(format!("{}{}", base.trim_end_matches('/'), path))
}

/// One Radicale (htpasswd authentication, plain passwords, no login cache, so a changed
/// password takes effect at once).
#[derive(Debug)]
pub struct Radicale {
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
    htpasswd: PathBuf,
    users: Mutex<Vec<(String, String)>>,
    _child: Mutex<Child>,
    _storage: TempDir,
}

impl Radicale {
    fn start(env: &PythonEnv) -> Result<Self, String> {
        let storage = TempDir::new().map_err(|e| e.to_string())?;
        let htpasswd = storage.path().join("users");
        fs::write(&htpasswd, "").map_err(|e| e.to_string())?;
        let port = free_port()?;
        let log = storage.path().join("radicale.log");
        let args: Vec<String> = vec![
            "--server-hosts".into(),
            format!("127.0.0.1:{port}"),
            "--storage-filesystem-folder".into(),
            storage.path().join("collections").display().to_string(),
            "--auth-type".into(),
            "htpasswd".into(),
            "--auth-htpasswd-filename".into(),
            htpasswd.display().to_string(),
            "--auth-htpasswd-encryption".into(),
            "plain".into(),
            "--no-auth-htpasswd-cache".into(),
            "--no-auth-cache-logins".into(),
            "--auth-delay".into(),
            "0".into(),
            "--logging-level".into(),
            "warning".into(),
        ];
        let mut child = spawn_guarded(env, &env.program("radicale"), &args, &log)?;
        wait_for_port(port, &mut child, &log)?;
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}/"),
            htpasswd,
            users: Mutex::new(Vec::new()),
            _child: Mutex::new(child),
            _storage: storage,
        })
    }

    /// Replaces the users file in one step: Radicale reads it on every request, and a file
    /// truncated and then written would, for a moment, let nobody in (a test adding a user
    /// would refuse another test's requests).
    fn write_users(&self, users: &[(String, String)]) -> Result<(), String> {
        let text: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        let next = self.htpasswd.with_extension("next");
        fs::write(&next, text).map_err(|e| e.to_string())?;
        fs::rename(&next, &self.htpasswd).map_err(|e| e.to_string())
    }

    /// Adds a user (tests use one user each, so they never see each other's calendars).
    pub fn add_user(&self, username: &str, password: &str) -> Result<(), String> {
        let mut users = self.users.lock().map_err(|e| e.to_string())?;
        users.retain(|(u, _)| u != username);
        users.push((username.to_owned(), password.to_owned()));
        self.write_users(&users)
    }

    /// Changes a user's password on the server (as revoking an app-specific password does).
    pub fn set_password(&self, username: &str, password: &str) -> Result<(), String> {
        self.add_user(username, password)
    }

    /// The principal URL of a user.
    pub fn principal_url(&self, username: &str) -> String {
        format!("{}{username}/", self.base_url)
    }

    /// Creates a calendar (VEVENT) `slug` of `username`, returns its URL.
    pub async fn create_calendar(
        &self,
        username: &str,
        password: &str,
        slug: &str,
        name: &str,
    ) -> Result<String, String> {
        make_calendar(
            &self.base_url,
            username,
            password,
            &format!("/{username}/{slug}/"),
            name,
        )
        .await
    }
}

/// One Xandikos (no authentication: it only offers Basic auth over TLS). Its principal is
/// `/user/`, its calendar home `/user/calendars/`, with a default calendar `calendar`.
#[derive(Debug)]
pub struct Xandikos {
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
    _child: Mutex<Child>,
    _storage: TempDir,
}

impl Xandikos {
    fn start(env: &PythonEnv) -> Result<Self, String> {
        let storage = TempDir::new().map_err(|e| e.to_string())?;
        let port = free_port()?;
        let log = storage.path().join("xandikos.log");
        let args: Vec<String> = vec![
            "serve".into(),
            "-d".into(),
            storage.path().join("data").display().to_string(),
            "--defaults".into(),
            "-l".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        let mut child = spawn_guarded(env, &env.program("xandikos"), &args, &log)?;
        wait_for_port(port, &mut child, &log)?;
        Ok(Self {
            base_url: format!("http://127.0.0.1:{port}/"),
            _child: Mutex::new(child),
            _storage: storage,
        })
    }

    /// The principal URL.
    pub fn principal_url(&self) -> String {
        format!("{}user/", self.base_url)
    }

    /// Creates a calendar (VEVENT) `slug` in the calendar home, returns its URL.
    pub async fn create_calendar(&self, slug: &str, name: &str) -> Result<String, String> {
        make_calendar(
            &self.base_url,
            "anyone",
            "unused",
            &format!("/user/calendars/{slug}/"),
            name,
        )
        .await
    }
}

/// Why a peer is not there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// This machine cannot have it (no Python, no venv module, PyPI unreachable): a test may
    /// skip (see [`super::peers_or_skip`]).
    Unavailable(String),
    /// It was installed but did not start: always a failure.
    Broken(String),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "unavailable: {why}"),
            Self::Broken(why) => write!(f, "broken: {why}"),
        }
    }
}

/// The test binary's Radicale, started on first use (blocks while the venv is made).
pub fn radicale() -> Result<&'static Radicale, PeerError> {
    static SERVER: OnceLock<Result<Radicale, PeerError>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let env = python_env().map_err(PeerError::Unavailable)?;
            Radicale::start(&env).map_err(PeerError::Broken)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The test binary's Xandikos, started on first use (blocks while the venv is made).
pub fn xandikos() -> Result<&'static Xandikos, PeerError> {
    static SERVER: OnceLock<Result<Xandikos, PeerError>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let env = python_env().map_err(PeerError::Unavailable)?;
            Xandikos::start(&env).map_err(PeerError::Broken)
        })
        .as_ref()
        .map_err(Clone::clone)
}
