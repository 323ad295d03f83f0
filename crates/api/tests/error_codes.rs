//! Every error `code` the server can send is documented in docs/API-CONVENTIONS.md: codes are a
//! contract with clients, so a new one without documentation fails here.

use std::path::Path;

/// String literals that follow the places codes are written: `bad_request(`, `code:`,
/// `ApiError::new(StatusCode::X,`, and `=> "…"` arms of the code mappings.
fn codes_in(src: &str) -> Vec<String> {
    let flat: String = src.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    for marker in ["bad_request(", "code: ", "=> "] {
        for (i, _) in flat.match_indices(marker) {
            if let Some(code) = literal_at(&flat[i + marker.len()..]) {
                out.push(code);
            }
        }
    }
    for (i, _) in flat.match_indices("ApiError::new(") {
        let rest = &flat[i..];
        if let Some(comma) = rest.find(", ")
            && let Some(code) = literal_at(&rest[comma + 2..])
        {
            out.push(code);
        }
    }
    out
}

/// A `"snake_case"` literal at the start of `s` (at least one underscore, or a known one-word code).
fn literal_at(s: &str) -> Option<String> {
    let s = s.trim_start().strip_prefix('"')?;
    let end = s.find('"')?;
    let word = &s[..end];
    let is_code = !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    (is_code && (word.contains('_') || matches!(word, "conflict" | "forbidden"))).then(|| word.to_string())
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_error_code_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let docs = std::fs::read_to_string(root.join("docs/API-CONVENTIONS.md")).unwrap();
    let mut files = Vec::new();
    sources(&root.join("crates/app/src"), &mut files);
    sources(&root.join("crates/api/src"), &mut files);
    let mut codes: Vec<String> = files.iter().flat_map(|f| codes_in(f)).collect();
    codes.sort();
    codes.dedup();
    assert!(codes.len() >= 15, "the scan found too few codes, it is broken: {codes:?}");
    for must in ["invalid_grant", "missing_token", "method_not_allowed", "unsupported_grant_type", "too_many_requests"]
    {
        assert!(codes.iter().any(|c| c == must), "the scan missed {must}: {codes:?}");
    }
    let undocumented: Vec<&String> = codes.iter().filter(|c| !docs.contains(&format!("| `{c}` |"))).collect();
    assert!(undocumented.is_empty(), "error codes missing from docs/API-CONVENTIONS.md: {undocumented:?}");
}
