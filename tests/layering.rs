//! The crate's modules form layers, and imports only go downward.
//!
//! The order is read from the module doc of `src/lib.rs` (its one doc line
//! made only of backquoted module names, `,` and `<`, lowest first; a `,`
//! joins modules of one layer), so the documented order and the checked
//! one cannot drift apart. Every top-level module `src/lib.rs` declares
//! must be in it, and nothing else.
//!
//! Then every `crate::` path in `src/**/*.rs` (in `use` items and in
//! expressions, groups such as `crate::{a, b}` included) and every
//! `super::` path that climbs to the crate root is checked: it may name a
//! module of its own layer or a lower one. Comments and string literals
//! are skipped (an intra-doc link upward is no dependency). `#[cfg(test)]`
//! code is held to the same rule; nothing needs an exemption. Not checked:
//! `src/lib.rs` itself (the root declares and re-exports every layer) and
//! `src/bin/` (separate crates, which use the library as any user does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layer of each top-level module, 0 the lowest, from the doc line.
fn parse_order(lib: &str) -> Result<BTreeMap<String, usize>, String> {
    let mut found = Vec::new();
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.contains('<')
            && doc.contains('`')
            && doc
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_`,< ".contains(c))
        {
            found.push(doc.to_owned());
        }
    }
    let [line] = found.as_slice() else {
        return Err(format!(
            "src/lib.rs must have exactly one module doc line like \
             `text`, `sys` < `model` < ... (found {})",
            found.len()
        ));
    };
    let mut order = BTreeMap::new();
    for (layer, names) in line.split('<').enumerate() {
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            if name.is_empty() {
                return Err(format!("an empty module name in `{line}`"));
            }
            if order.insert(name.to_owned(), layer).is_some() {
                return Err(format!("{name} is named twice in `{line}`"));
            }
        }
    }
    Ok(order)
}

/// The top-level modules `src/lib.rs` declares (`mod x;`, `pub mod x;`,
/// `pub(crate) mod x;`).
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            rest.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|name| name.trim().to_owned())
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Dollar,
    Other,
}

/// The tokens of Rust source with their lines, comments and literals left
/// out. Just enough lexing for paths: strings (raw, byte, escaped), char
/// literals and lifetimes, nested block comments.
fn tokens(src: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to].iter().filter(|c| **c == '\n').count();
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            count_lines(start, i.min(chars.len()), &mut line);
        } else if c == '"' || ((c == 'r' || c == 'b') && starts_string(&chars, i)) {
            let start = i;
            i = skip_string(&chars, i);
            count_lines(start, i.min(chars.len()), &mut line);
            out.push((line, Token::Other));
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 3; // the quote, the backslash and the escaped character
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1; // a lifetime: its name follows as an identifier
            }
            out.push((line, Token::Other));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((line, Token::Ident(chars[start..i].iter().collect())));
        } else if c == ':' && next == Some(':') {
            out.push((line, Token::PathSep));
            i += 2;
        } else {
            out.push((
                line,
                match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    ',' => Token::Comma,
                    '$' => Token::Dollar,
                    _ => Token::Other,
                },
            ));
            i += 1;
        }
    }
    out
}

/// Whether a string literal starts at `i` with a prefix (`r"`, `r#"`,
/// `b"`, `br"`, `br#"`).
fn starts_string(chars: &[char], i: usize) -> bool {
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return false; // inside an identifier such as `for` or `str`
    }
    let mut j = i;
    if chars[j] == 'b' {
        j += 1;
        if chars.get(j) == Some(&'"') {
            return true;
        }
    }
    if chars.get(j) != Some(&'r') {
        return false;
    }
    j += 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

/// The index just past the string literal starting at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    if chars[i] == 'b' {
        i += 1;
    }
    if chars[i] == 'r' {
        i += 1;
        let mut hashes = 0;
        while chars[i] == '#' {
            hashes += 1;
            i += 1;
        }
        i += 1; // the opening quote
        while i < chars.len() {
            if chars[i] == '"' && chars[i + 1..].iter().take(hashes).all(|c| *c == '#') {
                let end = i + 1 + hashes;
                if end <= chars.len() {
                    return end;
                }
            }
            i += 1;
        }
        return i;
    }
    i += 1; // the opening quote
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// One use of a top-level module: its line and name.
#[derive(Debug, PartialEq)]
struct Use {
    line: usize,
    module: String,
}

/// The top-level modules a file names through `crate::` paths and through
/// `super::` paths that climb out of its top-level module. `depth` is how
/// deep the file's own module is (`src/ffi.rs` 1, `src/process/mod.rs` 1,
/// `src/process/spawn.rs` 2).
fn uses(src: &str, depth: usize) -> Vec<Use> {
    let tokens = tokens(src);
    let mut found = Vec::new();
    // Inline modules (`mod tests {`) open one level each: their brace depth.
    let mut inline: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let ident = |i: usize| match tokens.get(i) {
        Some((_, Token::Ident(name))) => Some(name.as_str()),
        _ => None,
    };
    let is = |i: usize, t: Token| tokens.get(i).map(|(_, x)| x) == Some(&t);
    let mut i = 0;
    while i < tokens.len() {
        let (line, token) = &tokens[i];
        match token {
            Token::Open => braces += 1,
            Token::Close => {
                braces = braces.saturating_sub(1);
                if inline.last() == Some(&braces) {
                    inline.pop();
                }
            }
            Token::Ident(word)
                if word == "mod" && ident(i + 1).is_some() && is(i + 2, Token::Open) =>
            {
                inline.push(braces);
            }
            Token::Ident(word) if word == "crate" && is(i + 1, Token::PathSep) => {
                if i > 0 && is(i - 1, Token::Dollar) {
                    i += 1;
                    continue; // `$crate` in a macro: its own crate, wherever used
                }
                found.extend(named_after(&tokens, i + 2).into_iter().map(|module| Use {
                    line: *line,
                    module,
                }));
            }
            Token::Ident(word)
                if word == "super"
                    && is(i + 1, Token::PathSep)
                    && !(i > 0 && is(i - 1, Token::PathSep)) =>
            {
                let mut levels = 0;
                let mut j = i;
                while ident(j) == Some("super") && is(j + 1, Token::PathSep) {
                    levels += 1;
                    j += 2;
                }
                if levels == depth + inline.len() {
                    found.extend(named_after(&tokens, j).into_iter().map(|module| Use {
                        line: *line,
                        module,
                    }));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The names a path continues with at `i`: one identifier, or the first
/// identifier of each item of a `{...}` group.
fn named_after(tokens: &[(usize, Token)], i: usize) -> Vec<String> {
    match tokens.get(i).map(|(_, t)| t) {
        Some(Token::Ident(name)) => vec![name.clone()],
        Some(Token::Open) => {
            let mut names = Vec::new();
            let mut depth = 0;
            let mut item_start = true;
            for (_, token) in &tokens[i + 1..] {
                match token {
                    Token::Open => depth += 1,
                    Token::Close if depth == 0 => break,
                    Token::Close => depth -= 1,
                    Token::Comma if depth == 0 => {
                        item_start = true;
                        continue;
                    }
                    Token::Ident(name) if depth == 0 && item_start => names.push(name.clone()),
                    _ => {}
                }
                item_start = false;
            }
            names
        }
        _ => Vec::new(),
    }
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's top-level module and the depth of its own module.
fn module_of(relative: &Path) -> (String, usize) {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.last().unwrap().trim_end_matches(".rs").to_owned();
    let top = parts[0].trim_end_matches(".rs").to_owned();
    let depth = if last == "mod" {
        parts.len() - 1
    } else {
        parts.len()
    };
    (top, depth)
}

/// The upward uses in the crate: `file:line: message` each.
fn violations(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = parse_order(&lib).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    let declared = declared_modules(&lib);
    for module in &declared {
        if !order.contains_key(module) {
            problems.push(format!(
                "src/lib.rs: module {module} is in no layer of the module doc's order"
            ));
        }
    }
    for module in order.keys() {
        if !declared.contains(module) {
            problems.push(format!(
                "src/lib.rs: the module doc's order names {module}, which is not a module"
            ));
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new("lib.rs") || relative.starts_with("bin") {
            continue;
        }
        let (module, depth) = module_of(relative);
        let Some(&layer) = order.get(&module) else {
            continue; // reported above, if lib.rs declares it
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for Use { line, module: used } in uses(&text, depth) {
            match order.get(&used) {
                Some(&used_layer) if used_layer > layer => problems.push(format!(
                    "src/{}:{line}: {module} (layer {layer}) uses {used} (layer {used_layer}), \
                     a higher layer",
                    relative.display()
                )),
                Some(_) => {}
                // Not a module: an item of the root (`crate::Time`) is
                // one of the re-exports at the top, which belong to
                // their layers; name the module instead.
                None => problems.push(format!(
                    "src/{}:{line}: crate::{used} is not a top-level module; use the path \
                     through its module, so that its layer is known",
                    relative.display()
                )),
            }
        }
    }
    problems
}

#[test]
fn imports_only_go_downward() {
    let problems = violations(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        problems.is_empty(),
        "the layers of src/lib.rs's module doc are broken:\n{}",
        problems.join("\n")
    );
}

// ---- the checker itself ----------------------------------------------------

#[test]
fn the_order_is_read_with_layers_of_several_modules() {
    let lib =
        "//! Layers:\n//!\n//! `text`, `sys` < `model` < `ffi`\n//! a < b in prose\nmod text;\n";
    let order = parse_order(lib).unwrap();
    assert_eq!(order["text"], 0);
    assert_eq!(order["sys"], 0);
    assert_eq!(order["model"], 1);
    assert_eq!(order["ffi"], 2);
    assert!(parse_order("//! no order here\n").is_err());
}

#[test]
fn modules_are_declared_in_every_visibility() {
    let lib = "pub mod engine;\nmod sys;\npub(crate) mod process;\n#[cfg(test)]\nmod x { }\n";
    assert_eq!(declared_modules(lib), ["engine", "sys", "process"]);
}

fn names(src: &str, depth: usize) -> Vec<(usize, String)> {
    uses(src, depth)
        .into_iter()
        .map(|u| (u.line, u.module))
        .collect()
}

#[test]
fn crate_paths_are_found_in_uses_groups_and_expressions() {
    let src = "use crate::model::Time;\n\
               use crate::{engine::Engine, wire::{self, Event}};\n\
               fn f() { crate::runtime::go(); }\n\
               pub(crate) fn g() {}\n";
    assert_eq!(
        names(src, 1),
        [
            (1, "model".to_owned()),
            (2, "engine".to_owned()),
            (2, "wire".to_owned()),
            (3, "runtime".to_owned())
        ]
    );
}

#[test]
fn comments_strings_and_macro_crates_are_not_uses() {
    let src = "//! [`crate::wire`]\n\
               /* crate::ffi /* nested */ crate::ffi */\n\
               const A: &str = \"crate::ffi\";\n\
               const B: &str = r#\"crate::ffi \"quoted\"\"#;\n\
               const C: char = '\"'; fn f<'a>(_: &'a str) {}\n\
               macro_rules! m { () => { $crate::ffi::x() } }\n\
               use crate::text;\n";
    assert_eq!(names(src, 1), [(7, "text".to_owned())]);
}

#[test]
fn super_paths_count_when_they_climb_to_the_root() {
    // In src/process/mod.rs (depth 1): `super::` is the root.
    let src = "use super::supervisor::Report;\nuse self::x::y;\n";
    assert_eq!(names(src, 1), [(1, "supervisor".to_owned())]);
    // In src/process/spawn.rs (depth 2): `super::` is `process` itself.
    assert!(names("use super::keep;\n", 2).is_empty());
    assert_eq!(
        names("use super::super::runtime::X;\n", 2),
        [(1, "runtime".to_owned())]
    );
    // Inside an inline module one level more is needed.
    let src = "mod tests {\n use super::x;\n use super::super::ffi::y;\n}\nuse super::engine;\n";
    assert_eq!(
        names(src, 1),
        [(3, "ffi".to_owned()), (5, "engine".to_owned())]
    );
}

#[test]
fn an_upward_use_is_reported_with_file_and_line() {
    let root = std::env::temp_dir().join(format!("zma-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("src/low")).unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        "//! `low` < `high`\npub mod high;\npub mod low;\n",
    )
    .unwrap();
    std::fs::write(root.join("src/high.rs"), "use crate::low::x;\n").unwrap();
    std::fs::write(
        root.join("src/low/mod.rs"),
        "mod inner;\nuse crate::low::x;\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/low/inner.rs"),
        "fn f() {}\n\nfn g() { crate::high::h(); }\n",
    )
    .unwrap();
    assert_eq!(
        violations(&root),
        ["src/low/inner.rs:3: low (layer 0) uses high (layer 1), a higher layer"]
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_order_and_the_declared_modules_must_agree() {
    let root = std::env::temp_dir().join(format!("zma-layering-order-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        "//! `low` < `gone`\npub mod low;\nmod new;\n",
    )
    .unwrap();
    std::fs::write(root.join("src/low.rs"), "").unwrap();
    std::fs::write(root.join("src/new.rs"), "use crate::low;\n").unwrap();
    assert_eq!(
        violations(&root),
        [
            "src/lib.rs: module new is in no layer of the module doc's order",
            "src/lib.rs: the module doc's order names gone, which is not a module"
        ]
    );
    std::fs::remove_dir_all(&root).unwrap();
}
