//! Rules the source tree keeps, checked by reading it (in the spirit of rust-analyzer's
//! `tidy`): imports point down the layers `docs/design.md` lists, no file grows past 500
//! lines of non-test code, and every file `docs/design.md` names exists.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_CODE_LINES: usize = 500;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn design_doc() -> String {
    let path = crate_dir().join("../../docs/design.md");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The layers of `docs/design.md`, top first: the backticked module names of each row of
/// the table between `<!-- layers:begin -->` and `<!-- layers:end -->`.
fn layers(doc: &str) -> Vec<Vec<String>> {
    let start = doc
        .find("<!-- layers:begin -->")
        .expect("layers:begin marker");
    let end = doc.find("<!-- layers:end -->").expect("layers:end marker");
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| ---"))
        .skip(1) // the header
        .map(|row| {
            let modules = row.split('|').nth(2).unwrap_or_default();
            modules
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|modules| !modules.is_empty())
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file: `span/live.rs` → `[span, live]`, `lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code before the unit tests, without comment lines.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers a path continues with after `prefix` at `rest`: one (`a` of `a::b`) or
/// the first of each group member (`{a, b::c}` → `a`, `b`).
fn following_names(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut names = Vec::new();
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if c.is_whitespace() => {}
                _ if item_start => {
                    names.push(ident(&group[i..]));
                    item_start = false;
                }
                _ => {}
            }
        }
        names.into_iter().filter(|n| !n.is_empty()).collect()
    } else {
        vec![ident(rest)]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect()
    }
}

/// `code` with the contents of string and character literals blanked out, so that braces
/// and paths inside them are not read as code.
fn blank_literals(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // Raw strings: r"…", r#"…"#, br#"…"#.
        if c == 'r' && (i == 0 || !chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == 'b') {
            let mut j = i + 1;
            while j < chars.len() && chars[j] == '#' {
                j += 1;
            }
            if j < chars.len() && chars[j] == '"' {
                let hashes = j - i - 1;
                let mut k = j + 1;
                while k < chars.len() {
                    if chars[k] == '"'
                        && chars[k + 1..].iter().take(hashes).all(|h| *h == '#')
                        && k + hashes < chars.len()
                    {
                        break;
                    }
                    k += 1;
                }
                out.push_str("r\"\"");
                i = (k + 1 + hashes).min(chars.len());
                continue;
            }
        }
        if c == '"' {
            let mut k = i + 1;
            while k < chars.len() && chars[k] != '"' {
                if chars[k] == '\\' {
                    k += 1;
                }
                k += 1;
            }
            out.push_str("\"\"");
            i = k + 1;
            continue;
        }
        // Character literals of the characters that matter: '{', '}', '"', '\''.
        if c == '\''
            && i + 2 < chars.len()
            && chars[i + 2] == '\''
            && matches!(chars[i + 1], '{' | '}' | '"')
        {
            out.push_str("' '");
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The top-level modules a file refers to through `crate::` and `super::` paths. `path`
/// is the file's module path; `super::` inside an inline `mod x { … }` refers to the
/// file's module.
fn referenced_top_modules(code: &str, path: &[String]) -> BTreeSet<String> {
    let code = blank_literals(code);
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && (bytes[i - 1] == b'$' || bytes[i - 1].is_ascii_alphanumeric()) {
            continue; // `$crate::` in macros, or a longer identifier
        }
        found.extend(following_names(&code[i + "crate::".len()..]));
    }
    let inline_depth = inline_module_depths(&code);
    for (i, _) in code.match_indices("super::") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b':') {
            continue; // counted from the first `super` of a chain
        }
        let mut rest = &code[i..];
        let mut base = path.to_vec();
        base.extend((0..inline_depth(i)).map(|_| "inline".to_owned()));
        while let Some(after) = rest.strip_prefix("super::") {
            base.pop();
            rest = after;
        }
        match base.first() {
            Some(top) => {
                found.insert(top.clone());
            }
            None => found.extend(following_names(rest)),
        }
    }
    found
}

/// For each byte offset of `code`, how many inline `mod name { … }` blocks enclose it.
fn inline_module_depths(code: &str) -> impl Fn(usize) -> usize {
    let mut depth_at = Vec::with_capacity(code.len() + 1);
    let mut stack: Vec<bool> = Vec::new();
    let mut tail = String::new();
    for c in code.chars() {
        match c {
            '{' => {
                let words: Vec<&str> = tail.split_whitespace().collect();
                let is_mod = words.len() >= 2 && words[words.len() - 2] == "mod";
                stack.push(is_mod);
                tail.clear();
            }
            '}' => {
                stack.pop();
                tail.clear();
            }
            ';' => tail.clear(),
            _ => tail.push(c),
        }
        let depth = stack.iter().filter(|m| **m).count();
        depth_at.extend(std::iter::repeat_n(depth, c.len_utf8()));
    }
    move |offset| depth_at.get(offset).copied().unwrap_or(0)
}

/// The top-level modules `lib.rs` declares.
fn declared_modules(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.to_owned())
        })
        .collect()
}

#[test]
fn imports_point_down_the_layers_of_the_design() {
    let src = crate_dir().join("src");
    let layers = layers(&design_doc());
    assert!(layers.len() >= 5, "layers in docs/design.md: {layers:?}");
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    for (i, modules) in layers.iter().enumerate() {
        for module in modules {
            assert!(
                depth.insert(module.clone(), i).is_none(),
                "`{module}` is listed in two layers of docs/design.md"
            );
        }
    }
    let declared = declared_modules(&fs::read_to_string(src.join("lib.rs")).expect("lib.rs"));
    let listed: BTreeSet<String> = depth.keys().cloned().collect();
    assert_eq!(
        declared, listed,
        "the modules lib.rs declares and the layers of docs/design.md differ"
    );

    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let path = module_path(&src, file);
        let Some(top) = path.first() else {
            continue; // lib.rs: the facade re-exports from every layer
        };
        let text = fs::read_to_string(file).expect("source file");
        let all_code = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for target in referenced_top_modules(&all_code, &path) {
            if &target == top {
                continue;
            }
            let (Some(&from), Some(&to)) = (depth.get(top), depth.get(&target)) else {
                // `crate::Name`: a type re-exported by lib.rs, which hides the layer it
                // comes from. (Lower-case names are items of the file's own module, named
                // through `super::` in its tests.)
                if target.starts_with(|c: char| c.is_ascii_uppercase()) {
                    violations.push(format!(
                        "{}: refers to `crate::{target}`; name it by its module's path",
                        file.display()
                    ));
                }
                continue;
            };
            if to <= from {
                violations.push(format!(
                    "{}: `{top}` (layer {}) imports `{target}` (layer {}), which is not below it",
                    file.strip_prefix(&src).unwrap_or(file).display(),
                    from + 1,
                    to + 1
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layers of docs/design.md:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_source_file_has_more_than_500_lines_of_code() {
    let mut files = Vec::new();
    for dir in [
        "src",
        "../mlflow-tracing-macros/src",
        "../mlflow-trace-cli/src",
    ] {
        rust_files(&crate_dir().join(dir), &mut files);
    }
    let too_long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let text = fs::read_to_string(file).expect("source file");
            let lines = code(&text).lines().count();
            (lines > MAX_CODE_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "files over {MAX_CODE_LINES} lines of non-test code:\n{}",
        too_long.join("\n")
    );
}

#[test]
fn every_file_the_design_names_exists() {
    let doc = design_doc();
    let src = crate_dir().join("src");
    let named: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            !s.contains(' ') && (s.ends_with(".rs") || s.ends_with('/')) && !s.starts_with('<')
        })
        .collect();
    assert!(named.len() > 10, "files named in docs/design.md: {named:?}");
    let missing: Vec<&&str> = named
        .iter()
        .filter(|name| {
            let root = crate_dir().join("../..").join(name);
            !(src.join(name).exists() || root.exists())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/design.md names files that do not exist: {missing:?}"
    );
}

#[test]
fn the_reader_of_imports_understands_groups_and_super() {
    let path = vec!["span".to_owned(), "live".to_owned()];
    let found = referenced_top_modules(
        "use crate::{json, keys::span as attr, model::{A, B}};\nuse super::trace::x;\n\
         let v = crate::report::warn(); $crate::ignored; use super::super::config;\n\
         let s = \"crate::setup {\"; let c = '{';\n\
         #[cfg(test)] mod tests { use super::*; use super::super::types::X; }",
        &path,
    );
    let expected: BTreeSet<String> = ["json", "keys", "model", "report", "span", "config"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(found, expected);
}

/// The test functions `docs/reliability.md` cites: `tests/<file>.rs::<name>`,
/// `cli/<file>.rs::<name>`, and unit tests as `<module path>::tests::<name>` (or a whole
/// `<module path>::tests` module).
#[test]
fn every_test_the_reliability_page_cites_exists() {
    let root = crate_dir().join("../..");
    let doc = std::fs::read_to_string(root.join("docs/reliability.md")).expect("reliability.md");
    let cited: Vec<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains("::") && !s.contains(' ') && !s.contains('('))
        .filter(|s| s.starts_with("tests/") || s.starts_with("cli/") || s.contains("::tests"))
        .collect();
    assert!(cited.len() > 20, "tests cited: {cited:?}");
    let mut missing = Vec::new();
    for citation in cited {
        let (file, name) = if let Some(rest) = citation.strip_prefix("tests/") {
            let (file, name) = rest.split_once("::").expect("file::name");
            (crate_dir().join("tests").join(file), Some(name))
        } else if let Some(rest) = citation.strip_prefix("cli/") {
            let (file, name) = rest.split_once("::").expect("file::name");
            (
                root.join("crates/mlflow-trace-cli/tests").join(file),
                Some(name),
            )
        } else {
            let (module, name) = citation.split_once("::tests").expect("module::tests");
            let base = crate_dir().join("src").join(module.replace("::", "/"));
            let file = if base.with_extension("rs").exists() {
                base.with_extension("rs")
            } else {
                base.join("mod.rs")
            };
            (file, name.strip_prefix("::"))
        };
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let found = match name {
            Some(name) => text.contains(&format!("fn {name}(")),
            None => text.contains("mod tests"),
        };
        if !found {
            missing.push(citation);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/reliability.md cites tests that do not exist: {missing:?}"
    );
}
