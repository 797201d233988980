//! Scenario keys set on the command line (`--set engine.max_num_seqs=64`, `--rate 12`):
//! what-ifs without editing the file. Each is written into the parsed table before it is
//! validated, so it meets exactly the rules a value in the file meets; an error about a key
//! set here names `--set` instead of a line of the file.

use super::{Scenario, ScenarioError};
use crate::catalog::Catalog;
use std::path::{Path, PathBuf};

/// One `key=value`: a dotted scenario key and its value (TOML: `64`, `0.9`, `true`,
/// `[0.9, 0.8]`, `{ p90 = 300 }`; anything else is a string, so `hardware.gpu=h100-sxm` needs
/// no quotes).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted key, e.g. `engine.max_num_seqs`.
    pub key: String,
    /// Its value.
    pub value: toml::Value,
}

impl Override {
    /// Parse `key=value`.
    pub fn parse(s: &str) -> Result<Override, String> {
        let Some((key, value)) = s.split_once('=') else {
            return Err(format!(
                "--set {s}: expected KEY=VALUE, e.g. --set engine.max_num_seqs=64"
            ));
        };
        let key = key.trim();
        let valid = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if key.split('.').any(|p| !valid(p)) {
            return Err(format!(
                "--set {s}: \"{key}\" is not a dotted scenario key (e.g. engine.max_num_seqs)"
            ));
        }
        let value = value.trim();
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        Ok(Override {
            key: key.to_string(),
            value: parsed,
        })
    }

    /// `workload.rate = rate`.
    pub fn rate(rate: f64) -> Override {
        Override {
            key: "workload.rate".into(),
            value: toml::Value::Float(rate),
        }
    }

    /// `workload.num_requests = n`.
    pub fn requests(n: u64) -> Override {
        Override {
            key: "workload.num_requests".into(),
            value: toml::Value::Integer(n.min(i64::MAX as u64) as i64),
        }
    }

    /// Whether an error about `key` is about this override (the key, a key inside it, or a
    /// table it is in).
    pub fn covers(&self, key: &str) -> bool {
        key == self.key
            || key.starts_with(&format!("{}.", self.key))
            || self.key.starts_with(&format!("{key}."))
    }
}

/// Set dotted `key` in `table` to `value`, creating tables on the way; `"on"` for a key that
/// holds a table keeps it as written. False (nothing set) if a key on the way holds a value
/// that is not a table.
pub fn set_key(table: &mut toml::Table, key: &str, value: &toml::Value) -> bool {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut t = table;
    for p in parts {
        let Some(inner) = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
        else {
            return false;
        };
        t = inner;
    }
    if t.get(last).is_some_and(toml::Value::is_table) && value.as_str() == Some("on") {
        return true;
    }
    t.insert(last.to_string(), value.clone());
    true
}

/// The scenario text with `overrides` written in (the text itself when there are none).
pub fn apply(text: &str, path: &Path, overrides: &[Override]) -> Result<String, ScenarioError> {
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| ScenarioError::from_toml(&e, text, path))?;
    for o in overrides {
        if !set_key(&mut table, &o.key, &o.value) {
            return Err(at_set(o, "a key on the way holds a value, not a table"));
        }
    }
    Ok(toml::to_string(&table).expect("a parsed TOML table serializes"))
}

/// An error at `--set KEY=VALUE`.
fn at_set(o: &Override, rule: &str) -> ScenarioError {
    ScenarioError::Invalid {
        path: PathBuf::from("--set"),
        line: None,
        key: o.key.clone(),
        value: o.value.to_string(),
        rule: rule.to_string(),
    }
}

/// Read a scenario file and validate it with `overrides` written in. An error about an
/// overridden key names `--set`; one the file has without them keeps its line; any other
/// (the combination's) names the file without a line.
pub fn load(
    path: &Path,
    catalog: &Catalog,
    overrides: &[Override],
) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    if overrides.is_empty() {
        return Scenario::from_str(&text, path, catalog);
    }
    let set = apply(&text, path, overrides)?;
    Scenario::from_str(&set, path, catalog).map_err(|e| {
        let about = |key: &str| overrides.iter().rev().find(|o| o.covers(key));
        match e {
            ScenarioError::Invalid { key, rule, .. }
            | ScenarioError::UnknownKey { key, rule, .. }
                if about(&key).is_some() =>
            {
                let o = about(&key).expect("checked");
                ScenarioError::Invalid {
                    path: PathBuf::from("--set"),
                    line: None,
                    value: o.value.to_string(),
                    key,
                    rule,
                }
            }
            other => match Scenario::from_str(&text, path, catalog) {
                Err(original) => original,
                Ok(_) => other.without_line(),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_toml_or_else_as_strings() {
        let o = Override::parse("engine.max_num_seqs=64").unwrap();
        assert_eq!(
            (o.key.as_str(), o.value.clone()),
            ("engine.max_num_seqs", 64.into())
        );
        assert_eq!(
            Override::parse("hardware.gpu=h100-sxm").unwrap().value,
            "h100-sxm".into()
        );
        assert_eq!(Override::parse("a.b = 0.5").unwrap().value, 0.5.into());
        assert!(Override::parse("a.b=[1, 2]").unwrap().value.is_array());
        assert!(
            Override::parse("engine.max_num_seqs")
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        assert!(
            Override::parse("engine..x=1")
                .unwrap_err()
                .contains("dotted")
        );
    }

    #[test]
    fn set_key_creates_tables_and_refuses_to_go_through_a_value() {
        let mut t: toml::Table = toml::from_str("[engine]\nmax_num_seqs = 8\n").unwrap();
        assert!(set_key(&mut t, "engine.block_size", &32.into()));
        assert!(set_key(&mut t, "tenants.a.weight", &2.into()));
        assert_eq!(t["tenants"]["a"]["weight"], 2.into());
        assert!(!set_key(&mut t, "engine.max_num_seqs.x", &1.into()));
    }
}
