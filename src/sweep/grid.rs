//! A sweep's grid: axes over dotted scenario keys, each a list of values, a single value or a
//! `{ from, to, step }` range expanded by index (`from + k·step`, never accumulated); the grid
//! is their cartesian product, the last axis varying fastest; configuration `i` is the base
//! scenario table with its axis values written in.

/// Values one range may expand to (a typo, not a sweep, beyond this).
pub const MAX_RANGE: i64 = 1_000_000;

/// One axis: a scenario key and its values, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted scenario key, e.g. `hardware.gpu`.
    pub key: String,
    /// Values to try.
    pub values: Vec<toml::Value>,
}

/// Axes and their product.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Axes, in the order written.
    pub axes: Vec<Axis>,
}

impl Grid {
    /// Configurations: the product of the axes' lengths (`usize::MAX` on overflow).
    pub fn len(&self) -> usize {
        self.axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .unwrap_or(usize::MAX)
    }

    /// Whether the grid is empty (an axis without values).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The axis values of configuration `i`.
    pub fn values(&self, mut i: usize) -> Vec<&toml::Value> {
        let mut out = vec![&self.axes[0].values[0]; self.axes.len()];
        for (k, a) in self.axes.iter().enumerate().rev() {
            out[k] = &a.values[i % a.values.len()];
            i /= a.values.len();
        }
        out
    }

    /// `key=value key=value …` for configuration `i`.
    pub fn label(&self, i: usize) -> String {
        self.axes
            .iter()
            .zip(self.values(i))
            .map(|(a, v)| format!("{}={}", a.key, show(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A short name for configuration `i` (chart legends): each axis value by the last part
    /// of its key (`kv`, `prefix`, `chunk`, `seqs` for the common engine keys), GPUs by name
    /// and TP as `TP2`, switches as `key`/`no key`: `h100-sxm TP1 kv=fp8 prefix`.
    pub fn short_label(&self, i: usize) -> String {
        // The common engine keys by the word their engines' users say.
        fn word(last: &str) -> &str {
            match last {
                "enable_prefix_caching" => "prefix",
                "kv_cache_dtype" => "kv",
                "max_num_batched_tokens" => "chunk",
                "max_num_seqs" => "seqs",
                "gpu_memory_utilization" => "util",
                other => other,
            }
        }
        let mut parts: Vec<(u8, String)> = self
            .axes
            .iter()
            .zip(self.values(i))
            .map(|(a, v)| {
                let last = word(a.key.rsplit('.').next().unwrap_or(&a.key));
                match (a.key.as_str(), v) {
                    ("model.name", _) => (0, show(v)),
                    ("hardware.replicas", _) => (1, format!("{}×", show(v))),
                    ("hardware.gpu", _) => (2, show(v)),
                    ("hardware.tp", _) => (3, format!("TP{}", show(v))),
                    (_, toml::Value::Boolean(true)) => (4, last.to_string()),
                    (_, toml::Value::Boolean(false)) => (4, format!("no {last}")),
                    _ => (4, format!("{last}={}", show(v))),
                }
            })
            .collect();
        // Model, fleet, GPU and TP first, then the rest in axis order.
        parts.sort_by_key(|(rank, _)| *rank);
        parts
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Configuration `i` written into `base`.
    pub fn configure(&self, base: &toml::Table, i: usize) -> toml::Table {
        configure(base, &self.axes, &self.values(i))
    }
}

/// Expand an axis value: a list, a `{ from, to, step }` range (by index: `from + k·step`,
/// integers when all three are), or one value.
pub fn expand(v: &toml::Value) -> Result<Vec<toml::Value>, String> {
    use toml::Value as V;
    match v {
        V::Array(a) => Ok(a.clone()),
        V::Table(t) if t.contains_key("from") => {
            let get = |k: &str| t.get(k).ok_or_else(|| format!("a range needs `{k}`"));
            if let Some(k) = t
                .keys()
                .find(|k| !["from", "to", "step"].contains(&k.as_str()))
            {
                return Err(format!(
                    "unknown range key `{k}` (a range is {{ from, to, step }})"
                ));
            }
            let (from, to, step) = (get("from")?, get("to")?, get("step")?);
            if let (V::Integer(f), V::Integer(t), V::Integer(s)) = (from, to, step) {
                if *s <= 0 || t < f {
                    return Err("a range needs step > 0 and to ≥ from".into());
                }
                let n = (t - f) / s + 1;
                if n > MAX_RANGE {
                    return Err(format!("the range has {n} values"));
                }
                return Ok((0..n).map(|k| V::Integer(f + k * s)).collect());
            }
            let num = |v: &V| match v {
                V::Integer(i) => Some(*i as f64),
                V::Float(x) => Some(*x),
                _ => None,
            };
            let (Some(f), Some(t), Some(s)) = (num(from), num(to), num(step)) else {
                return Err("from, to and step must be numbers".into());
            };
            if !(s > 0.0 && t >= f && f.is_finite() && t.is_finite()) {
                return Err("a range needs step > 0 and to ≥ from".into());
            }
            // By index, with a tolerance so `to` itself is included despite rounding.
            let n = ((t - f) / s + 1e-9).floor() as i64 + 1;
            if n > MAX_RANGE {
                return Err(format!("the range has {n} values"));
            }
            Ok((0..n).map(|k| V::Float(f + k as f64 * s)).collect())
        }
        other => Ok(vec![other.clone()]),
    }
}

/// Whether dotted `key` holds a table in `table`.
pub fn is_table_at(table: &toml::Table, key: &str) -> bool {
    let mut t = table;
    let mut parts = key.split('.').peekable();
    while let Some(p) = parts.next() {
        match t.get(p) {
            Some(toml::Value::Table(inner)) if parts.peek().is_some() => t = inner,
            Some(v) => return parts.peek().is_none() && v.is_table(),
            None => return false,
        }
    }
    false
}

/// Configuration `values` of `axes` written into `base`. The value `"off"` for a key that
/// holds a table in the scenario removes it, after every other axis is set (so
/// `"engine.speculative" = ["on", "off"]` beside an axis inside that table turns it off
/// whole); `"on"` keeps it as written.
pub fn configure(base: &toml::Table, axes: &[Axis], values: &[&toml::Value]) -> toml::Table {
    let mut table = base.clone();
    let mut off = Vec::new();
    for (a, v) in axes.iter().zip(values) {
        if is_table_at(base, &a.key) && v.as_str() == Some("off") {
            off.push(a.key.as_str());
        } else {
            set_key(&mut table, &a.key, v);
        }
    }
    for key in off {
        remove_key(&mut table, key);
    }
    table
}

/// Remove dotted `key` from `table` (nothing if it is not there).
pub fn remove_key(table: &mut toml::Table, key: &str) {
    match key.split_once('.') {
        Some((head, rest)) => {
            if let Some(inner) = table.get_mut(head).and_then(toml::Value::as_table_mut) {
                remove_key(inner, rest);
            }
        }
        None => {
            table.remove(key);
        }
    }
}

/// Set dotted `key` in `table` to `value` ([`crate::scenario::overrides::set_key`]).
pub fn set_key(table: &mut toml::Table, key: &str, value: &toml::Value) {
    let set = crate::scenario::overrides::set_key(table, key, value);
    assert!(
        set,
        "checked when the plan was read: every axis key's parents are tables"
    );
}

/// How a value reads in a configuration's label.
pub fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_by_index_and_off_removes_a_table_after_the_other_axes() {
        let v: toml::Value =
            toml::from_str::<toml::Table>("r = { from = 0.1, to = 0.3, step = 0.1 }").unwrap()["r"]
                .clone();
        let got: Vec<f64> = expand(&v)
            .unwrap()
            .iter()
            .map(|x| x.as_float().unwrap())
            .collect();
        assert_eq!(
            got.len(),
            3,
            "{got:?}: 0.3 itself is included despite rounding"
        );
        let v = toml::Value::Table(toml::from_str("from = 64\nto = 256\nstep = 64").unwrap());
        assert_eq!(expand(&v).unwrap().len(), 4);

        let base: toml::Table =
            toml::from_str("[engine]\nmax_num_seqs = 8\n[engine.speculative]\nmethod = \"ngram\"\nnum_speculative_tokens = 4\n")
                .unwrap();
        let axes = [
            Axis {
                key: "engine.speculative".into(),
                values: vec![],
            },
            Axis {
                key: "engine.speculative.num_speculative_tokens".into(),
                values: vec![],
            },
        ];
        let (on, off, two) = (
            toml::Value::from("on"),
            toml::Value::from("off"),
            toml::Value::from(2),
        );
        let t = configure(&base, &axes, &[&off, &two]);
        assert!(t["engine"].get("speculative").is_none(), "{t}");
        assert_eq!(t["engine"]["max_num_seqs"].as_integer(), Some(8));
        let t = configure(&base, &axes, &[&on, &two]);
        assert_eq!(
            t["engine"]["speculative"]["num_speculative_tokens"].as_integer(),
            Some(2)
        );
        assert_eq!(t["engine"]["speculative"]["method"].as_str(), Some("ngram"));
    }
}
