//! The README's Rust snippets compile *as shown*: rustdoc runs them (see `src/readme.rs`), but it
//! also accepts what a reader's file would not: hidden `# ` lines, and statements outside a
//! function. A reader pastes a snippet into `src/main.rs`; this checks that it would build there.

/// Every ```rust block of the README, with the line it starts on.
fn rust_snippets() -> Vec<(usize, Vec<&'static str>)> {
    let readme = include_str!("../README.md");
    let mut snippets = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (n, line) in readme.lines().enumerate() {
        match current.as_mut() {
            None if line.trim() == "```rust" => current = Some((n + 1, Vec::new())),
            None => {}
            Some(_) if line.trim() == "```" => snippets.push(current.take().unwrap()),
            Some((_, body)) => body.push(line),
        }
    }
    assert!(current.is_none(), "an unterminated ```rust block");
    snippets
}

#[test]
fn the_readme_has_rust_snippets() {
    assert!(rust_snippets().len() >= 4);
}

#[test]
fn no_snippet_hides_lines_from_its_reader() {
    for (start, body) in rust_snippets() {
        for (i, line) in body.iter().enumerate() {
            let hidden = line.trim_start() == "#" || line.trim_start().starts_with("# ");
            assert!(
                !hidden,
                "README.md line {}: a hidden rustdoc line, which does not compile when pasted: {line}",
                start + 1 + i
            );
        }
    }
}

#[test]
fn every_snippet_is_a_whole_program() {
    for (start, body) in rust_snippets() {
        assert!(
            body.iter().any(|l| l.starts_with("fn main()")),
            "README.md line {start}: a snippet without `fn main()` does not compile when pasted"
        );
        // Only items at the top level: statements belong inside `fn main`.
        for (i, line) in body.iter().enumerate() {
            let statement = ["let ", "for ", "assert", "drop(", "while ", "loop "]
                .iter()
                .any(|s| line.starts_with(s));
            assert!(
                !statement,
                "README.md line {}: a statement outside a function: {line}",
                start + 1 + i
            );
        }
    }
}
