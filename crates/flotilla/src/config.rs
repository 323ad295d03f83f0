//! Loading the configuration: defaults, then the TOML file, then `FLOTILLA_*` variables. The
//! variable names are derived from the keys (`[jobs] concurrency` ↔ `FLOTILLA_JOBS_CONCURRENCY`),
//! and each value is parsed as the type of its key, so an error names the variable.

use std::path::{Path, PathBuf};

use flotilla_app::Config;
use toml::{Table, Value};

/// Variables with our prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["FLOTILLA_CONFIG", "FLOTILLA_TEST_PG_URL", "FLOTILLA_FAILPOINTS"];

/// A configuration that could not be loaded; the message names the file, key or variable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// The loaded configuration, and the `FLOTILLA_*` variables that matched no key (worth a warning).
pub struct Loaded {
    pub config: Config,
    pub file: Option<PathBuf>,
    pub unknown_vars: Vec<String>,
}

/// Loads from `explicit` (a `--config` argument), else `FLOTILLA_CONFIG`, else `./flotilla.toml`
/// when it exists; then applies `vars`.
pub fn load(explicit: Option<&Path>, vars: impl IntoIterator<Item = (String, String)>) -> Result<Loaded, LoadError> {
    let vars: Vec<(String, String)> = vars.into_iter().filter(|(k, _)| k.starts_with("FLOTILLA_")).collect();
    let env_file = vars.iter().find(|(k, _)| k == "FLOTILLA_CONFIG").map(|(_, v)| PathBuf::from(v));
    let file = match explicit.map(Path::to_path_buf).or(env_file) {
        Some(p) => Some(p),
        None => Some(PathBuf::from("flotilla.toml")).filter(|p| p.exists()),
    };

    let mut table = match &file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| LoadError(format!("cannot read the configuration file {}: {e}", path.display())))?;
            // Parsed as a Config first, so that a mistake is reported against the file's own lines.
            toml::from_str::<Config>(&text)
                .map_err(|e| LoadError(format!("invalid configuration file {}: {e}", path.display())))?;
            toml::from_str::<Table>(&text).map_err(|e| LoadError(format!("{}: {e}", path.display())))?
        }
        None => Table::new(),
    };

    let defaults = Table::try_from(Config::default()).map_err(|e| LoadError(e.to_string()))?;
    let mut unknown_vars = Vec::new();
    for (name, raw) in &vars {
        if NOT_KEYS.contains(&name.as_str()) {
            continue;
        }
        match find_key(&defaults, name) {
            Some((section, key, default)) => {
                let value = parse_as(default, raw).map_err(|m| LoadError(format!("{name}: {m}")))?;
                match section {
                    None => {
                        table.insert(key, value);
                    }
                    Some(s) => {
                        let entry = table.entry(s.clone()).or_insert_with(|| Value::Table(Table::new()));
                        match entry {
                            Value::Table(t) => {
                                t.insert(key, value);
                            }
                            _ => return Err(LoadError(format!("configuration key '{s}' must be a section"))),
                        }
                    }
                }
            }
            None => unknown_vars.push(name.clone()),
        }
    }
    let config: Config =
        Value::Table(table).try_into().map_err(|e| LoadError(format!("invalid configuration: {e}")))?;
    config.validate().map_err(|e| LoadError(e.to_string()))?;
    Ok(Loaded { config, file, unknown_vars })
}

/// The key a variable names: `(section, key, default value)`.
fn find_key<'a>(defaults: &'a Table, var: &str) -> Option<(Option<String>, String, &'a Value)> {
    let rest = var.strip_prefix("FLOTILLA_")?.to_ascii_lowercase();
    for (k, v) in defaults {
        match v {
            Value::Table(section) => {
                if let Some(key) = rest.strip_prefix(&format!("{k}_"))
                    && let Some(d) = section.get(key)
                {
                    return Some((Some(k.clone()), key.to_string(), d));
                }
            }
            _ if *k == rest => return Some((None, k.clone(), v)),
            _ => {}
        }
    }
    None
}

/// Parses a variable's text as the type of the key's default.
fn parse_as(default: &Value, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    match default {
        Value::String(_) => Ok(Value::String(raw.to_string())),
        Value::Integer(_) => {
            raw.parse::<i64>().map(Value::Integer).map_err(|_| format!("'{raw}' is not a whole number"))
        }
        Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err(format!("'{raw}' is not true or false")),
        },
        Value::Array(items) => {
            let numeric = items.first().is_none_or(|v| v.is_integer());
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if numeric {
                        s.parse::<i64>()
                            .map(Value::Integer)
                            .map_err(|_| format!("'{s}' in '{raw}' is not a whole number"))
                    } else {
                        Ok(Value::String(s.to_string()))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        other => Err(format!("cannot be set from the environment (a {})", other.type_str())),
    }
}

/// The documented example configuration, checked in as `flotilla.example.toml`.
pub const EXAMPLE: &str = include_str!("../../../flotilla.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn no_file_and_no_variables_gives_the_defaults() {
        let l = load(None, vars(&[])).unwrap();
        assert_eq!(l.config.listen, "127.0.0.1:9000");
        assert_eq!(l.config.public_url, "http://localhost:9000");
        assert_eq!(l.config.database_url(), "sqlite://./data/flotilla.db");
        assert_eq!(l.config.transcoding.resolutions, vec![240, 360, 480, 720, 1080]);
        assert_eq!(l.config.jobs.concurrency, 1);
        assert_eq!(l.config.signup, flotilla_domain::SignupMode::Closed);
        assert!(!l.config.federation.allow_private);
    }

    #[test]
    fn design_variables_override_their_keys() {
        let l = load(
            None,
            vars(&[
                ("FLOTILLA_LISTEN", "0.0.0.0:8080"),
                ("FLOTILLA_PUBLIC_URL", "https://video.example.org"),
                ("FLOTILLA_DATA_DIR", "/srv/flotilla"),
                ("FLOTILLA_DATABASE_URL", "postgres://u:p@db/flotilla"),
                ("FLOTILLA_ADMIN_PASSWORD", "s3cret-pass"),
                ("FLOTILLA_SIGNUP", "approval"),
                ("FLOTILLA_FEDERATION_ALLOW_PRIVATE", "true"),
                ("FLOTILLA_TRANSCODING_RESOLUTIONS", "360, 720"),
                ("FLOTILLA_JOBS_CONCURRENCY", "3"),
                ("FLOTILLA_SOMETHING_ELSE", "x"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        let c = l.config;
        assert_eq!(c.listen, "0.0.0.0:8080");
        assert_eq!(c.data_dir, PathBuf::from("/srv/flotilla"));
        assert_eq!(c.database_url(), "postgres://u:p@db/flotilla");
        assert_eq!(c.admin_password, "s3cret-pass");
        assert_eq!(c.signup, flotilla_domain::SignupMode::Approval);
        assert!(c.federation.allow_private);
        assert_eq!(c.transcoding.resolutions, vec![360, 720]);
        assert_eq!(c.jobs.concurrency, 3);
        assert_eq!(l.unknown_vars, vec!["FLOTILLA_SOMETHING_ELSE".to_string()]);
    }

    #[test]
    fn variables_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:7000\"\n[jobs]\nconcurrency = 2\n").unwrap();
        let l = load(Some(&path), vars(&[("FLOTILLA_JOBS_CONCURRENCY", "4")])).unwrap();
        assert_eq!(l.config.listen, "127.0.0.1:7000");
        assert_eq!(l.config.jobs.concurrency, 4);
    }

    #[test]
    fn bad_values_name_their_key_or_variable() {
        let e = load(None, vars(&[("FLOTILLA_JOBS_CONCURRENCY", "many")])).err().unwrap().0;
        assert!(e.contains("FLOTILLA_JOBS_CONCURRENCY"), "{e}");
        let e = load(None, vars(&[("FLOTILLA_SIGNUP", "sometimes")])).err().unwrap().0;
        assert!(e.contains("signup"), "{e}");
        let e = load(None, vars(&[("FLOTILLA_PUBLIC_URL", "https://x.org/sub")])).err().unwrap().0;
        assert!(e.contains("public_url"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.toml");
        std::fs::write(&path, "[jobs]\nconcurency = 2\n").unwrap();
        let e = load(Some(&path), vars(&[])).err().unwrap().0;
        assert!(e.contains("concurency"), "{e}");
    }

    #[test]
    fn the_example_file_lists_every_key_with_its_default() {
        let example: Table = toml::from_str(EXAMPLE).unwrap();
        let defaults = Table::try_from(Config::default()).unwrap();
        // database_url and admin_password default to empty strings, shown commented out.
        let mut expected = defaults.clone();
        expected.remove("database_url");
        expected.remove("admin_password");
        assert_eq!(example, expected, "flotilla.example.toml differs from Config::default()");
    }
}
