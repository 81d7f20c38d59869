//! Keeping secrets and unbounded provider text out of error messages and logs.

use std::error::Error as _;

use availability_core::CoreError;

/// How much of a provider's error body an error message shows: enough for Google's `reason` or
/// Graph's `code`, short enough for a log line.
pub(crate) const SNIPPET_CHARS: usize = 300;

/// The start of a body as one printable line.
pub(crate) fn snippet(body: &str, max_chars: usize) -> String {
    let mut out: String = body
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// `text` with every occurrence of the given secrets replaced. Providers sometimes echo what they
/// were sent (a refresh token in an error description); that text must not reach a message. Very
/// short values are left alone: replacing them would mangle the text and they are no real secret.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(*secret) {
            out = out.replace(*secret, "[redacted]");
        }
    }
    out
}

/// `error` with the secrets scrubbed from its message (see [`scrub`]).
pub(crate) fn scrub_core(error: CoreError, secrets: &[&str]) -> CoreError {
    match error {
        CoreError::ProviderUnavailable { integration, message } => CoreError::ProviderUnavailable {
            integration,
            message: scrub(&message, secrets),
        },
        CoreError::ProviderResponse { integration, message } => CoreError::ProviderResponse {
            integration,
            message: scrub(&message, secrets),
        },
        CoreError::NeedsReauth { integration, message } => CoreError::NeedsReauth {
            integration,
            message: scrub(&message, secrets),
        },
        CoreError::Storage(message) => CoreError::Storage(scrub(&message, secrets)),
        other => other,
    }
}

/// A reqwest error as text without its URL (a query string can carry more than a log should hold)
/// but with its causes ("connection refused"), which say what actually happened.
pub(crate) fn describe_reqwest(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_one_bounded_line() {
        assert_eq!(snippet("a\nb", 10), "a b");
        assert_eq!(snippet("abcdef", 3), "abc…");
        assert_eq!(snippet("abc", 3), "abc");
    }

    #[test]
    fn scrub_replaces_secrets() {
        assert_eq!(
            scrub("bad token rt-123456 here", &["rt-123456"]),
            "bad token [redacted] here"
        );
        assert_eq!(scrub("a b", &["a"]), "a b");
    }
}
