//! Scenario errors, each naming the file, the line, the dotted key, the value as written and
//! the rule: `scenarios/x.toml:8: engine.block_size = 0: must be a power of two in 1..=256`.
//! The toml crate's own errors (a wrong type, an unknown key or name) are translated into the
//! same form from the span they carry.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario that failed to load or validate; `Display` gives the whole message, starting
/// with the file (and line, where one is known).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The scenario file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// TOML syntax the parser could not place at a key: its message (with line and column).
    #[error("{}: {message}", path.display())]
    Toml {
        /// The scenario file.
        path: PathBuf,
        /// The toml crate's message.
        message: String,
    },
    /// A key the table does not have (a typo, or a key of another table).
    #[error("{}{}: {key} = {value}: {rule}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    UnknownKey {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line of the key.
        line: Option<usize>,
        /// Dotted key as written, e.g. `engine.block_sise`.
        key: String,
        /// The value as written.
        value: String,
        /// What the message says: the closest known key and every key of the table.
        rule: String,
    },
    /// A value breaks a rule.
    #[error("{}{}: {key} = {value}: {rule}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line of the key, when it is written in the file.
        line: Option<usize>,
        /// Dotted key, e.g. `engine.block_size`.
        key: String,
        /// The value as written.
        value: String,
        /// The rule and how to satisfy it.
        rule: String,
    },
}

impl ScenarioError {
    /// The same error, said of `--set` (a key the command line set): no file, no line.
    pub fn at_set(self) -> ScenarioError {
        self.relocated(Some(PathBuf::from("--set")))
    }

    /// The same error without its line (for text that is not the file as written).
    pub fn without_line(self) -> ScenarioError {
        self.relocated(None)
    }

    /// A key's error with no line, said of `path` when given.
    fn relocated(mut self, to: Option<PathBuf>) -> ScenarioError {
        if let ScenarioError::Invalid { path, line, .. }
        | ScenarioError::UnknownKey { path, line, .. } = &mut self
        {
            *line = None;
            if let Some(to) = to {
                *path = to;
            }
        }
        self
    }

    /// The toml crate's error on `text` (the file at `path`) in this module's form: the key
    /// and value found at the error's span, and its message said as a rule.
    pub fn from_toml(err: &toml::de::Error, text: &str, path: &Path) -> ScenarioError {
        let message = err.message().trim().to_string();
        let Some(span) = err.span() else {
            return ScenarioError::Toml {
                path: path.to_path_buf(),
                message: err.to_string().trim_end().to_string(),
            };
        };
        let Some((key, value)) = key_at(text, span.clone()) else {
            return ScenarioError::Toml {
                path: path.to_path_buf(),
                message: err.to_string().trim_end().to_string(),
            };
        };
        let (path, line, rule) = (
            path.to_path_buf(),
            Some(line_at(text, span.start)),
            as_rule(&message),
        );
        if message.starts_with("unknown field ") {
            ScenarioError::UnknownKey {
                path,
                line,
                key,
                value,
                rule,
            }
        } else {
            ScenarioError::Invalid {
                path,
                line,
                key,
                value,
                rule,
            }
        }
    }
}

/// 1-based line of byte `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The toml crate's messages as the rule the value breaks.
fn as_rule(message: &str) -> String {
    // "unknown variant `x`, expected one of `a`, `b`, `c`" / "expected `a` or `b`"
    if let Some(rest) = message.strip_prefix("unknown variant ")
        && let Some((_, expected)) = rest.split_once("expected ")
    {
        return format!("must be {}", choices(expected));
    }
    // "unknown field `x`, expected one of `a`, `b`" / "there are no fields"
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let name = name.trim_matches('`');
        let known = names(expected);
        if known.is_empty() {
            return format!("`{name}` is not a key here (this table takes none)");
        }
        let closest = crate::util::closest_first(name, &known);
        return format!(
            "`{name}` is not a key here; did you mean `{}`? (keys here: {})",
            closest[0],
            known.join(", ")
        );
    }
    // A table where a name is wanted (`arrival = { kind = "poisson", rate = 5 }`).
    if message.starts_with("wanted exactly 1 element") {
        return "must be a quoted name, not a table (the other settings are keys of their own \
                beside it, as in docs/scenario.md)"
            .to_string();
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!("needs `{}`", field.trim_matches('`'));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((_, expected)) = rest.split_once(", expected ")
    {
        let want = match expected {
            e if e.starts_with("i64") || e.starts_with("u64") || e.starts_with("u32") => {
                "a whole number"
            }
            e if e.starts_with("f64") => "a number",
            e if e.starts_with("a boolean") => "true or false",
            e if e.contains("string") => "a quoted string",
            e if e.contains("sequence") => "a list [...]",
            e if e.contains("map") || e.contains("struct") => "a table { ... }",
            e => e,
        };
        return format!("must be {want}");
    }
    message.to_string()
}

/// `` `a`, `b`, `c` `` (or `` one of `a`, `b` `` / `` `a` or `b` ``) → `"a", "b" or "c"`.
fn choices(expected: &str) -> String {
    let names = names(expected);
    match names.as_slice() {
        [] => expected.to_string(),
        [one] => format!("\"{one}\""),
        [init @ .., last] => format!(
            "{} or \"{last}\"",
            init.iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The backquoted names in a serde "expected ..." list.
fn names(expected: &str) -> Vec<String> {
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The dotted key whose value (or whose name) `span` covers, and the text there: the
/// table header above the line (`[[x]]` entries numbered, `x[1]`), the keys and inline tables
/// on the line up to the span, or the key the span itself names.
fn key_at(text: &str, span: Range<usize>) -> Option<(String, String)> {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let mut path: Vec<String> = table_above(text, line_start);
    let before = &text[line_start..start];
    let mut stack: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut token = String::new();
    let mut in_string = false;
    for c in before.chars() {
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '=' => {
                current = Some(token.trim().trim_matches('"').to_string());
                token.clear();
            }
            '{' => {
                stack.extend(current.take());
                token.clear();
            }
            '}' => {
                stack.pop();
                token.clear();
            }
            ',' => {
                current = None;
                token.clear();
            }
            _ => token.push(c),
        }
    }
    let spanned = text.get(span.clone()).unwrap_or("").trim().to_string();
    let value = match current {
        Some(k) => {
            stack.push(k);
            spanned
        }
        None => {
            // The span is a key name (an unknown key): its value follows the `=`.
            let name = spanned.trim_matches('"');
            if name.is_empty() || name.contains(['=', '{', '\n']) {
                return None;
            }
            stack.extend(
                name.split('.')
                    .map(|p| p.trim().trim_matches('"').to_string()),
            );
            let rest = &text[span.end.min(line_end)..line_end];
            rest.split_once('=')
                .map_or("", |(_, v)| v)
                .split('#')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }
    };
    path.extend(stack);
    Some((path.join("."), value))
}

/// The table a line belongs to: the last `[header]` above it, as key parts (`[[x]]` as
/// `x[i]`, its 0-based entry).
fn table_above(text: &str, line_start: usize) -> Vec<String> {
    let mut header: Option<(String, bool)> = None;
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for line in text[..line_start].lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("[[") {
            let name = rest.split("]]").next().unwrap_or("").trim().to_string();
            *counts.entry(name.clone()).or_default() += 1;
            header = Some((name, true));
        } else if let Some(rest) = t.strip_prefix('[') {
            header = Some((
                rest.split(']').next().unwrap_or("").trim().to_string(),
                false,
            ));
        }
    }
    match header {
        None => Vec::new(),
        Some((name, false)) => name.split('.').map(|p| p.trim().to_string()).collect(),
        Some((name, true)) => {
            let i = counts[&name] - 1;
            let mut parts: Vec<String> = name.split('.').map(|p| p.trim().to_string()).collect();
            if let Some(last) = parts.last_mut() {
                *last = format!("{last}[{i}]");
            }
            parts
        }
    }
}

/// Line (1-based) where `key` is set inside `[table]` (`table = ""`: before any header), or
/// written as the dotted `table.key` at the top. A line-oriented search, enough for the
/// hand-written files scenarios are; `None` when the key is not written (a default). Used by
/// `planner plan` for its `[plan]` table, which it reads as plain TOML values.
pub fn line_of(text: &str, table: &str, key: &str) -> Option<usize> {
    let dotted = format!("{table}.{key}");
    let mut current = "";
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix('[') {
            current = rest.split(']').next().unwrap_or("").trim();
            continue;
        }
        let Some((k, _)) = t.split_once('=') else {
            continue;
        };
        let k: String = k
            .split('.')
            .map(|p| p.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join(".");
        if (current == table && k == key) || (current.is_empty() && k == dotted) {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(
        text: &str,
        span: Range<usize>,
        message: &str,
    ) -> (Option<usize>, String, String, String) {
        let (key, value) = key_at(text, span.clone()).unwrap();
        (
            Some(line_at(text, span.start)),
            key,
            value,
            as_rule(message),
        )
    }

    #[test]
    fn keys_and_values_are_found_at_the_span() {
        let text = "seed = 1\n[engine]\nscheduler = \"fifo\"\n[workload]\nprompt = { dist = \"fixd\", value = 1 }\n";
        let at = |needle: &str| {
            let s = text.find(needle).unwrap();
            s..s + needle.len()
        };
        assert_eq!(
            translate(
                text,
                at("\"fifo\""),
                "unknown variant `fifo`, expected one of `static`, `continuous`, `chunked_prefill`"
            ),
            (
                Some(3),
                "engine.scheduler".into(),
                "\"fifo\"".into(),
                "must be \"static\", \"continuous\" or \"chunked_prefill\"".into()
            )
        );
        assert_eq!(
            translate(
                text,
                at("\"fixd\""),
                "unknown variant `fixd`, expected `fixed` or `lognormal`"
            ),
            (
                Some(5),
                "workload.prompt.dist".into(),
                "\"fixd\"".into(),
                "must be \"fixed\" or \"lognormal\"".into()
            )
        );
        let (_, key, value, _) = translate(text, at("{ dist"), "missing field `sigma`");
        assert_eq!(
            (key.as_str(), value.starts_with("{ dist")),
            ("workload.prompt", true)
        );
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let text = "[engine]\nblock_sise = 16  # typo\n";
        let s = text.find("block_sise").unwrap();
        let (line, key, value, rule) = translate(
            text,
            s..s + 10,
            "unknown field `block_sise`, expected one of `scheduler`, `block_size`, `max_queue`",
        );
        assert_eq!(
            (line, key.as_str(), value.as_str()),
            (Some(2), "engine.block_sise", "16")
        );
        assert_eq!(
            rule,
            "`block_sise` is not a key here; did you mean `block_size`? (keys here: scheduler, block_size, max_queue)"
        );
    }

    #[test]
    fn array_of_tables_entries_are_numbered() {
        let text = "[[workload.tenants]]\nname = \"a\"\n[[workload.tenants]]\nshare = \"x\"\n";
        let s = text.find("\"x\"").unwrap();
        let (_, key, _, rule) =
            translate(text, s..s + 3, "invalid type: string \"x\", expected f64");
        assert_eq!(
            (key.as_str(), rule.as_str()),
            ("workload.tenants[1].share", "must be a number")
        );
    }

    #[test]
    fn line_of_finds_keys_in_their_table() {
        let text = "seed = 1\n[engine]  # knobs\n\"block_size\" = 8\n[workload]\nblock_size = 3\n";
        assert_eq!(line_of(text, "engine", "block_size"), Some(3));
        assert_eq!(line_of(text, "workload", "block_size"), Some(5));
        assert_eq!(line_of(text, "", "seed"), Some(1));
        assert_eq!(line_of(text, "engine", "seed"), None);
        assert_eq!(
            line_of("engine.max_queue = 2\n", "engine", "max_queue"),
            Some(1)
        );
    }
}
