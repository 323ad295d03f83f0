//! Embeds the built web client (`web/build`) in release builds, so the one binary deploys the
//! whole site. Debug builds embed nothing (they serve `http.web_dir`), so editing the client does
//! not rebuild this crate during development.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "br") {
            // Brotli siblings are never served (gzip is): not embedded.
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path.canonicalize().unwrap_or(path.clone())));
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../../web/build");
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let mut files = Vec::new();
    if release {
        if root.join("index.html").is_file() {
            println!("cargo:rerun-if-changed={}", root.display());
            walk(&root, &root, &mut files);
            files.sort();
        } else {
            println!("cargo:warning=web/build is missing: this binary has no web client (run `make run`)");
        }
    }
    let mut code = String::from("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in files {
        code.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it")).join("web_assets.rs");
    fs::write(out, code).expect("OUT_DIR is writable");
}
