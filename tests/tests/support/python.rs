//! Independent reference implementations from PyPI for the end-to-end tests: Python's `icalendar`
//! (reads the .ics files and feeds), `prometheus_client` (reads /metrics), `standardwebhooks`
//! (verifies outgoing webhook signatures) and `openapi-spec-validator` (validates the OpenAPI
//! document), in a virtualenv made once
//! under `$CARGO_TARGET_DIR/platform-peers/venv` (or `<workspace>/target/...`) under a file lock,
//! so parallel test binaries do not race. A machine without Python or PyPI prints
//! `SKIPPED <what>: <why>` and the test passes, unless `REQUIRE_PYTHON_PEERS=1` (CI) makes it fail.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// What the virtualenv holds, pinned so every machine parses with the same reference.
pub const PINNED_PACKAGES: [&str; 4] = [
    "icalendar==7.3.2",
    "prometheus_client==0.26.0",
    "standardwebhooks==1.1.0",
    "openapi-spec-validator==0.9.0",
];

/// The environment variable that turns a missing Python or PyPI into a failure (CI sets it).
pub const REQUIRE_VAR: &str = "REQUIRE_PYTHON_PEERS";

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        // This package lives in <workspace>/tests.
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr
        .chars()
        .skip(stderr.chars().count().saturating_sub(600))
        .collect();
    Err(format!("{command:?} failed ({}): {tail}", output.status))
}

fn make_venv() -> Result<PathBuf, String> {
    let dir = target_dir().join("platform-peers");
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("venv.lock"))
        .map_err(|e| format!("the venv lock: {e}"))?;
    // File::lock is Rust 1.89; the server already needs 1.89 through provider-caldav (whose
    // rust-version says so, for the same lock), so these tests ask nothing new of the toolchain.
    #[allow(clippy::incompatible_msrv)]
    let locked = lock.lock();
    locked.map_err(|e| format!("locking the venv: {e}"))?;
    let root = dir.join("venv");
    let python = root.join("bin").join("python");
    let marker = root.join("platform-peers-ready");
    let wanted = PINNED_PACKAGES.join("\n");
    if fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(python);
    }
    let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    run(Command::new(&system).args(["-m", "venv", "--clear"]).arg(&root))
        .map_err(|e| format!("no usable Python venv: {e}"))?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PINNED_PACKAGES))
    .map_err(|e| format!("pip could not install {PINNED_PACKAGES:?}: {e}"))?;
    let mut file = File::create(&marker).map_err(|e| e.to_string())?;
    file.write_all(wanted.as_bytes()).map_err(|e| e.to_string())?;
    Ok(python)
}

/// The venv's python, or None after printing `SKIPPED {what}: {why}` on a machine without
/// Python or PyPI (a panic instead when REQUIRE_PYTHON_PEERS=1).
pub fn python_or_skip(what: &str) -> Option<PathBuf> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match VENV.get_or_init(make_venv) {
        Ok(python) => Some(python.clone()),
        Err(why) => {
            if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                panic!("{what} needs Python's reference parsers, and {REQUIRE_VAR}=1: {why}");
            }
            println!("SKIPPED {what}: {why}");
            None
        }
    }
}

/// Runs `script` with `input` on stdin and returns what it printed (JSON), panicking with its
/// stderr when it fails (the reference refused the input).
pub fn run_script(python: &Path, script: &str, input: &str) -> serde_json::Value {
    let mut child = Command::new(python)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Python reference refused the input: {}\n--- input ---\n{input}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Reads an iCalendar text with Python's `icalendar`: {method, events:[{uid, sequence, status,
/// start, end (UTC, RFC 3339), summary, description}]}.
pub const ICALENDAR_READER: &str = r#"
import json, sys
from datetime import timezone
from icalendar import Calendar
data = sys.stdin.buffer.read()
cal = Calendar.from_ical(data)
def text(v):
    return None if v is None else str(v)
def utc(v):
    return v.dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
events = []
for ev in cal.walk("VEVENT"):
    events.append({
        "uid": text(ev.get("UID")),
        "sequence": int(ev.get("SEQUENCE")) if ev.get("SEQUENCE") is not None else None,
        "status": text(ev.get("STATUS")),
        "start": utc(ev.get("DTSTART")),
        "end": utc(ev.get("DTEND")),
        "summary": text(ev.get("SUMMARY")),
        "description": text(ev.get("DESCRIPTION")),
    })
print(json.dumps({"method": text(cal.get("METHOD")), "version": text(cal.get("VERSION")), "events": events}))
"#;

/// Reads a Prometheus text exposition with `prometheus_client`'s parser: [{name, labels, value}]
/// for every sample, and the families' types.
pub const PROMETHEUS_READER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
types = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        samples.append({"name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps({"types": types, "samples": samples}))
"#;
