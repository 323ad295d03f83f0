//! The grep-able rule of security-cases 11, as a test over this crate's sources: text reaches SQL
//! only as a bound parameter. A `format!` whose format string reads as SQL (an upper-case SQL
//! keyword in it) may interpolate only the names of [`FRAGMENTS`], SQL text we wrote and never a
//! value; those names are bound only as [`BINDINGS`] says; no placeholder sits between SQL quotes;
//! and lists of values reach SQL through `id_list` alone. Anything else fails
//! `no_sql_is_built_from_values`, with the file, the line and the interpolation.

/// What a SQL format string may interpolate (a name, or a positional or named argument as
/// written, spaces and all), and why it cannot carry a value.
const FRAGMENTS: &[(&str, &str)] = &[
    ("SELECT", "a module's constant `SELECT … FROM … JOIN …`"),
    ("COLUMNS", "a module's constant column list"),
    ("columns", "COLUMNS, each with a table prefix"),
    ("V_COLUMNS", "videos.rs' constant column list, each with the table prefix `v.`"),
    ("list", "integers joined by id_list"),
    ("ids", "integers joined by id_list"),
    ("lock", "a constant locking clause, per backend"),
    ("filter", "a constant WHERE clause, or clauses that are constants or format! calls checked here"),
    ("side", "one of two column names"),
    ("order", "an ORDER BY: order_by's allow-listed output (`order: &str` parameters), or a ranking built here"),
    ("p", "a `$N` placeholder"),
    ("pi", "a `$N` placeholder"),
    ("key", "a column of videos::SEEKABLE, chosen by comparing the allow-listed order with them"),
    ("from", "`videos v`, or it joined to a full-text match whose text is a `$N` placeholder, or to a tag's rows"),
    ("tie", "one of two column names"),
    ("sort_key", "the expression of a one-term `order` (above), split from its direction"),
    ("direction", "`ASC` or `DESC`, checked where it is split from the order"),
    ("join", "a constant join keyword, per backend"),
    ("set", "id_set's constant `IN`/`= ANY` over a `$N` placeholder, per backend"),
    ("FENCE", "the constant WHERE clause of a running job's lease (jobs.rs), placeholders only"),
    ("count.clamp(1, 100)", "an integer"),
    ("start.max(0)", "an integer"),
    ("ps.join(\",\")", "`$N` placeholders"),
];

/// How the local names of [`FRAGMENTS`] (and the clauses of a filter) may be bound: wherever the
/// first text appears in code, it must go on with one of the others (string literals read as `"`
/// and blanks). A `let` of such a name in another form (a type annotation, `mut`) fails too, and
/// so does a text parameter of such a name.
const BINDINGS: &[(&str, &[&str])] = &[
    ("let columns = ", &["COLUMNS.split("]),
    ("let list = ", &["crate::id_list("]),
    ("let ids = ", &["crate::id_list("]),
    ("let lock = ", &["match db {"]),
    ("let filter = ", &["\"", "format!(", "if clauses.is_empty() {"]),
    ("clauses.push(", &["\"", "format!(", "if n { \"", "if desc {"]),
    ("let side = ", &["if as_follower { \""]),
    ("let order = ", &["match (order, rank) {"]),
    ("let p = ", &["push(&mut args, ", "push(args, "]),
    ("let pi = ", &["push(&mut args, "]),
    ("let from = ", &["match (&fts, tag_walk) {"]),
    ("let tie = ", &["if tag_walk { \""]),
    ("let join = ", &["match backend {"]),
    ("let (set, ids) = ", &["crate::id_set("]),
];

/// Upper-case words that make a format string SQL.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "FROM", "WHERE", "JOIN", "ORDER", "GROUP", "LIMIT", "OFFSET",
    "VALUES", "SET", "RETURNING", "IN", "AND", "OR", "NOT", "IS", "NULL", "LIKE", "MATCH", "ASC", "DESC",
    "EXISTS", "CREATE", "DROP", "ALTER", "TABLE", "INTO", "UNION", "HAVING", "CASE", "WHEN",
];

/// One `format!(…)` call: the line it starts on, its format string (escapes undone) and its other
/// arguments as written.
#[derive(Debug)]
struct FormatCall {
    line: usize,
    template: String,
    args: Vec<String>,
}

/// Where the literal or comment starting at `i` ends (exclusive), if one starts there: strings,
/// raw strings, byte strings, char literals, line and block comments.
fn skip_literal(s: &[u8], i: usize) -> Option<usize> {
    let at = |k: usize| s.get(k).copied().unwrap_or(0);
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    match at(i) {
        b'/' if at(i + 1) == b'/' => Some((i..s.len()).find(|&k| s[k] == b'\n').unwrap_or(s.len())),
        b'/' if at(i + 1) == b'*' => {
            let (mut depth, mut k) = (0, i);
            while k < s.len() {
                if at(k) == b'/' && at(k + 1) == b'*' {
                    depth += 1;
                    k += 2;
                } else if at(k) == b'*' && at(k + 1) == b'/' {
                    depth -= 1;
                    k += 2;
                    if depth == 0 {
                        return Some(k);
                    }
                } else {
                    k += 1;
                }
            }
            Some(s.len())
        }
        b'"' => {
            let mut k = i + 1;
            while k < s.len() && s[k] != b'"' {
                k += if s[k] == b'\\' { 2 } else { 1 };
            }
            Some(k + 1)
        }
        b'r' | b'b' if i == 0 || !ident(at(i - 1)) => {
            // b"…" and b'…' are a string and a char; r"…", r#"…"#, br"…" raw strings; anything else
            // (r#ident, a name) is code.
            if at(i) == b'b' && matches!(at(i + 1), b'"' | b'\'') {
                return skip_literal(s, i + 1);
            }
            let start = match (at(i), at(i + 1)) {
                (b'r', _) => i + 1,
                (b'b', b'r') => i + 2,
                _ => return None,
            };
            let hashes = (start..s.len()).take_while(|&k| s[k] == b'#').count();
            if at(start + hashes) != b'"' {
                return None;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let body = start + hashes + 1;
            Some(s[body..].windows(close.len()).position(|w| w == close).map_or(s.len(), |p| body + p + close.len()))
        }
        // A char literal ('x', '\n', '\'', '\u{..}', 'é'), not a lifetime ('a, '_).
        b'\'' if at(i + 1) == b'\\' => Some((i + 3..s.len()).find(|&k| s[k] == b'\'').map_or(s.len(), |k| k + 1)),
        b'\'' => {
            let next = &s[i + 1..(i + 5).min(s.len())];
            let valid = std::str::from_utf8(next)
                .unwrap_or_else(|e| std::str::from_utf8(&next[..e.valid_up_to()]).expect("valid up to there"));
            let c = valid.chars().next()?;
            (at(i + 1 + c.len_utf8()) == b'\'').then_some(i + 2 + c.len_utf8())
        }
        _ => None,
    }
}

/// The value of a string literal as written in source (`"…"` or `r#"…"#`), escapes undone.
fn string_value(lit: &str) -> Option<String> {
    let lit = lit.trim();
    if let Some(raw) = lit.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let fence = "#".repeat(hashes);
        let body = raw.strip_prefix(&fence)?.strip_prefix('"')?.strip_suffix(&fence)?.strip_suffix('"')?;
        return Some(body.to_string());
    }
    let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            // A line continuation: the newline and the next line's indentation are not in the text.
            '\n' => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'u' => {
                let code: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&code, 16).ok()?)?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Every `format!(…)` call in `src` outside comments and literals.
fn format_calls(src: &str) -> Vec<FormatCall> {
    let s = src.as_bytes();
    let mut calls = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if let Some(end) = skip_literal(s, i) {
            i = end;
            continue;
        }
        let starts_call =
            s[i..].starts_with(b"format!(") && (i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == b'_'));
        if !starts_call {
            i += 1;
            continue;
        }
        let line = src[..i].matches('\n').count() + 1;
        // The arguments, split at the commas outside brackets and literals.
        let (mut args, mut depth, mut k, mut from) = (Vec::new(), 0usize, i + "format!(".len(), i + "format!(".len());
        while k < s.len() {
            if let Some(end) = skip_literal(s, k) {
                k = end;
                continue;
            }
            match s[k] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth > 0 => depth -= 1,
                b')' => break,
                b',' if depth == 0 => {
                    args.push(src[from..k].trim().to_string());
                    from = k + 1;
                }
                _ => {}
            }
            k += 1;
        }
        let last = src[from..k.min(s.len())].trim();
        if !last.is_empty() {
            args.push(last.to_string());
        }
        if let Some(template) = args.first().and_then(|a| string_value(a)) {
            calls.push(FormatCall { line, template, args: args[1..].to_vec() });
        }
        // On past the name only: a format! among the arguments is a call of its own.
        i += "format!(".len();
    }
    calls
}

/// Whether a format string reads as SQL.
fn is_sql(template: &str) -> bool {
    template.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').any(|w| KEYWORDS.contains(&w))
}

/// What each placeholder of `call` interpolates: `(source, quoted)`, the source a name or an
/// argument as written (spaces collapsed), `quoted` when the placeholder sits inside an SQL
/// string (after an odd number of `'`).
fn interpolations(call: &FormatCall) -> Vec<(String, bool)> {
    let collapse = |a: &str| a.split_whitespace().collect::<Vec<_>>().join(" ");
    let named = |a: &str| {
        let (name, expr) = a.split_once('=')?;
        let name = name.trim();
        let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        (is_name && !expr.starts_with('=')).then(|| (name.to_string(), collapse(expr)))
    };
    let positional: Vec<String> = call.args.iter().filter(|a| named(a).is_none()).map(|a| collapse(a)).collect();
    let mut out = Vec::new();
    let (t, mut next) = (call.template.as_bytes(), 0);
    let mut i = 0;
    while i < t.len() {
        match (t[i], t.get(i + 1)) {
            (b'{', Some(b'{')) | (b'}', Some(b'}')) => i += 2,
            (b'{', _) => {
                let end = call.template[i..].find('}').map_or(t.len(), |e| i + e);
                let arg = call.template[i + 1..end].split(':').next().unwrap_or_default().trim();
                let source = if arg.is_empty() {
                    next += 1;
                    positional.get(next - 1).cloned().unwrap_or_else(|| "<missing argument>".into())
                } else if let Ok(n) = arg.parse::<usize>() {
                    positional.get(n).cloned().unwrap_or_else(|| "<missing argument>".into())
                } else {
                    call.args
                        .iter()
                        .find_map(|a| named(a).filter(|(n, _)| n == arg))
                        .map_or(arg.to_string(), |(_, e)| e)
                };
                let quotes = t[..i].iter().filter(|&&c| c == b'\'').count();
                out.push((source, quotes % 2 == 1));
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// `src` with every comment blanked and every literal's content blanked (a string reads `"   "`),
/// the lines where they were: the code that the line rules read.
fn code_only(src: &str) -> String {
    let s = src.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match skip_literal(s, i) {
            Some(end) => {
                let end = end.min(s.len());
                let comment = s[i] == b'/';
                let char_literal = s[i] == b'\'' || s[i..].starts_with(b"b'");
                let quote = if char_literal { b'\'' } else { b'"' };
                for (k, &c) in s.iter().enumerate().take(end).skip(i) {
                    let edge = !comment && (k == i || k + 1 == end);
                    out.push(match c {
                        b'\n' => b'\n',
                        _ if edge => quote,
                        _ => b' ',
                    });
                }
                i = end;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("ASCII or the source's own UTF-8")
}

/// Every breach of the rule in one source file, as `file:line: what`.
fn check_source(file: &str, src: &str) -> Vec<String> {
    let mut breaches = Vec::new();
    for call in format_calls(src) {
        if !is_sql(&call.template) {
            continue;
        }
        for (source, quoted) in interpolations(&call) {
            let at = format!("{file}:{}", call.line);
            if quoted {
                breaches.push(format!("{at}: a value between SQL quotes: {{{source}}} in {:?}", call.template));
            } else if !FRAGMENTS.iter().any(|(name, _)| *name == source) {
                breaches.push(format!(
                    "{at}: `{source}` interpolated into SQL: bind it as a parameter (or, for SQL text we \
                     write, add it to FRAGMENTS with why it cannot carry a value): {:?}",
                    call.template
                ));
            }
        }
    }
    let locals: Vec<&str> = BINDINGS.iter().filter_map(|(p, _)| p.strip_prefix("let ")?.strip_suffix(" = ")).collect();
    let code_text = code_only(src);
    let at_boundary = |code: &str, k: usize| {
        k == 0 || !(code.as_bytes()[k - 1].is_ascii_alphanumeric() || code.as_bytes()[k - 1] == b'_')
    };
    for (n, line) in code_text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        let code = line.trim_start();
        for (prefix, allowed) in BINDINGS {
            for (k, _) in code.match_indices(prefix).filter(|(k, _)| at_boundary(code, *k)) {
                let rest = &code[k + prefix.len()..];
                if !allowed.iter().any(|a| rest.starts_with(a)) {
                    breaches.push(format!("{at}: `{}` bound another way than {allowed:?}: {code}", prefix.trim()));
                }
            }
        }
        for name in &locals {
            let other_let = [format!("let mut {name} "), format!("let {name}:"), format!("let mut {name}:")];
            if other_let.iter().any(|l| code.starts_with(l.as_str())) {
                breaches.push(format!("{at}: `{name}` is a SQL fragment name; bind it as `let {name} = …`: {code}"));
            }
            // A text parameter of that name would come from anywhere; `order` alone is taken on
            // trust: its callers pass order_by's output.
            for ty in ["&str", "String", "&'", "impl ", "Option<", "&String", "Cow<"] {
                let param = format!("{name}: {ty}");
                let hit = code.match_indices(&param).any(|(k, _)| at_boundary(code, k));
                if hit && !(*name == "order" && ty == "&str") && !code.starts_with("let ") {
                    breaches.push(format!("{at}: a text parameter named `{name}` (a SQL fragment name): {code}"));
                }
            }
        }
        let list_by_hand = code.contains(".map(i64::to_string)") || code.contains(".map(|i| i.to_string())");
        if list_by_hand && !code_text.contains("pub(crate) fn id_list") {
            breaches.push(format!("{at}: join ids with id_list: {code}"));
        }
    }
    breaches
}

#[test]
fn no_sql_is_built_from_values() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            files += 1;
            breaches.extend(check_source(&path.display().to_string(), &std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(files >= 10, "the sources were not found in {}", dir.display());
    assert!(breaches.is_empty(), "SQL built from values:\n{}", breaches.join("\n"));
}

/// The rule sees what it must: each line below breaks it in one way and is caught; the lines
/// that keep it are not; and every fragment name is still in use (a stale entry would be a hole).
#[test]
fn the_rule_catches_each_way_of_building_sql_from_a_value() {
    let bad = [
        (r#"let sql = format!("SELECT {COLUMNS} FROM users WHERE name = {name}");"#, "`name`"),
        (r#"let sql = format!("DELETE FROM t WHERE id IN ({})", names.join(","));"#, "`names.join(\",\")`"),
        (r#"let sql = format!("SELECT 1 FROM t LIMIT {n}", n = query.count);"#, "`query.count`"),
        (r#"let sql = format!("SELECT 1 FROM t WHERE a = {0}", host);"#, "`host`"),
        ("let sql = format!(\n    \"SELECT x FROM t \\\n     WHERE y = {y:?}\"\n);", "`y`"),
        (r##"let sql = format!(r#"UPDATE t SET a = {text}"#);"##, "`text`"),
        (r#"let sql = format!("SELECT 1 FROM t WHERE a = '{list}'");"#, "between SQL quotes"),
        ("let list = request.ids.clone();", "`let list =` bound another way"),
        ("let filter = params.q;", "`let filter =` bound another way"),
        ("clauses.push(user_text);", "`clauses.push(` bound another way"),
        ("let p: &str = name;", "bind it as `let p = …`"),
        ("pub async fn f(e: Exec<'_>, filter: &str) -> Result<()> {", "a text parameter named `filter`"),
        ("let s = ids.iter().map(i64::to_string).collect::<Vec<_>>();", "id_list"),
    ];
    for (line, why) in bad {
        let found = check_source("plant.rs", line);
        assert!(found.iter().any(|b| b.contains(why)), "not caught ({why}): {line}\n{found:?}");
    }
    let good = [
        r#"let sql = format!("SELECT {COLUMNS} FROM users WHERE username = $1");"#,
        r#"let sql = format!("{SELECT} WHERE c.id IN ({list}) ORDER BY {order}, c.id LIMIT $1");"#,
        r#"format!("SELECT {columns} FROM v LIMIT {count}", count = count.clamp(1, 100))"#,
        r#"let msg = format!("cannot open {path}: {e}");"#,
        r#"// format!("SELECT * FROM t WHERE a = {value}")"#,
        r#"let doc = "format!(\"SELECT {value}\")";"#,
        r#"let c = '"'; let sql = format!("SELECT {COLUMNS} FROM t"); let q = '{';"#,
        "pub async fn list(e: Exec<'_>, page: Page, order: &str) -> Result<()> {",
        "let list = crate::id_list(ids);",
    ];
    for line in good {
        assert_eq!(check_source("good.rs", line), Vec::<String>::new(), "{line}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("sql_rule.rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let used: Vec<String> = format_calls(&sources)
        .iter()
        .filter(|c| is_sql(&c.template))
        .flat_map(|c| interpolations(c).into_iter().map(|(s, _)| s))
        .collect();
    for (name, why) in FRAGMENTS {
        assert!(used.iter().any(|u| u == name), "FRAGMENTS lists `{name}` ({why}), which no SQL uses: remove it");
    }
}
