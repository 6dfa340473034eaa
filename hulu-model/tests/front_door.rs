//! The crate doc's example (compiled as a `no_run` doctest) is the README's Rust example, line
//! for line, so the README cannot drift from code that compiles.

fn readme_example() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("```rust\n")
        .expect("a Rust block in the README")
        + 8;
    let end = start + readme[start..].find("```").expect("a closed block");
    readme[start..end].lines().map(str::to_string).collect()
}

fn crate_doc_example() -> Vec<String> {
    let lib = include_str!("../src/lib.rs");
    let doc: Vec<&str> = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| {
            l.strip_prefix("//! ")
                .unwrap_or(l.trim_start_matches("//!"))
        })
        .collect();
    let open = doc
        .iter()
        .position(|l| *l == "```no_run")
        .expect("a no_run example");
    let close = open + 1 + doc[open + 1..].iter().position(|l| *l == "```").unwrap();
    doc[open + 1..close]
        .iter()
        .filter(|l| !l.starts_with("# ") && **l != "#")
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn the_crate_doc_example_is_the_readme_example() {
    let readme = readme_example();
    assert!(readme.len() > 10, "{readme:?}");
    assert_eq!(crate_doc_example(), readme);
}
