//! Keeps the documentation true: the codemap names every workspace member, the README's
//! test command is the one CI runs, every requirement cited exists in the brief, every
//! path a document names exists, and no document points outside the repository.

use std::fs;
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn workspace_members() -> Vec<String> {
    let manifest: toml::Table = fs::read_to_string(repo_root().join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("toml");
    manifest["workspace"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m.as_str().expect("string").to_owned())
        .collect()
}

#[test]
fn the_codemap_describes_every_workspace_member() {
    let architecture =
        fs::read_to_string(repo_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let codemap = architecture
        .split("## Codemap")
        .nth(1)
        .expect("a '## Codemap' section");
    let codemap = codemap.split("\n## ").next().unwrap_or(codemap);
    let members = workspace_members();
    assert!(members.len() >= 6);
    for member in members {
        let heading = format!("### `{member}`");
        let section = codemap
            .split("### ")
            .find(|s| s.starts_with(&heading[4..]))
            .unwrap_or_else(|| panic!("ARCHITECTURE.md codemap has no '{heading}' paragraph"));
        assert!(
            section.contains("**Invariant"),
            "{member}: codemap paragraph states no invariant"
        );
        assert!(
            section.contains("**API boundary"),
            "{member}: codemap paragraph states no API boundary"
        );
    }
}

#[test]
fn the_readme_opens_with_the_two_commands_and_ci_runs_the_second() {
    let readme = fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let blocks: Vec<&str> = readme.split("```").skip(1).step_by(2).collect();
    assert!(blocks.len() >= 2, "README has fewer than two code blocks");
    let first = blocks[0].lines().skip(1).collect::<Vec<_>>().join("\n");
    let second = blocks[1].lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        first.contains("demo"),
        "the first command should run the demo: {first}"
    );
    let test_command = second.trim();
    assert!(!test_command.is_empty());
    let ci = fs::read_to_string(repo_root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.contains(test_command),
        ".ci/run does not run the README's test command `{test_command}`"
    );
}

#[test]
fn every_requirement_cited_in_docs_exists_in_the_brief() {
    let brief = fs::read_to_string(repo_root().join("docs/brief.md")).expect("docs/brief.md");
    let docs = ["README.md", "ARCHITECTURE.md", "docs/sample-data.md"]
        .iter()
        .filter_map(|d| fs::read_to_string(repo_root().join(d)).ok())
        .collect::<String>();
    for id in docs
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            (2..=3).contains(&w.len())
                && (w.starts_with('P') || w.starts_with('Q'))
                && w[1..].bytes().all(|b| b.is_ascii_digit())
        })
    {
        assert!(
            brief.contains(&format!("**{id} ")),
            "docs cite {id}, which BRIEF.md does not define"
        );
    }
}

/// Nothing in the repository points outside it: the documents, and the API's own
/// description of its conventions, name only files the repository holds.
#[test]
fn the_documents_point_only_inside_the_repository() {
    let mut documents = vec![
        repo_root().join("README.md"),
        repo_root().join("ARCHITECTURE.md"),
        repo_root().join("gateway/src/api/openapi.rs"),
    ];
    documents.extend(
        fs::read_dir(repo_root().join("docs"))
            .expect("docs/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md")),
    );
    assert!(documents.len() > 5, "{documents:?}");
    for document in documents {
        let text = fs::read_to_string(&document).expect("a document");
        for outside in [
            "../shared",
            "shared/BRIEF",
            "shared/API-CONVENTIONS",
            "seeds/",
        ] {
            assert!(
                !text.contains(outside),
                "{} points outside the repository ({outside})",
                document.display()
            );
        }
    }
    for named in ["docs/brief.md", "docs/api-conventions.md"] {
        assert!(repo_root().join(named).is_file(), "{named}");
    }
}

/// Every path of the repository a document names in backticks exists: a file moved or
/// renamed takes its mentions with it.
#[test]
fn the_documents_name_only_paths_that_exist() {
    let root = repo_root();
    // The folders at the top of the repository: a backticked word starting with one of
    // them and a slash is a path of the repository. Build output and run-time folders
    // (`target/`, a demo's `data/`) are not the repository's.
    let tops: Vec<String> = fs::read_dir(&root)
        .expect("the repository")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !["target", "data", "workspaces", ".git"].contains(&name.as_str()))
        .map(|name| format!("{name}/"))
        .collect();
    assert!(tops.contains(&"workbench/".to_owned()), "{tops:?}");
    let mut documents = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    documents.extend(
        fs::read_dir(root.join("docs"))
            .expect("docs/")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md")),
    );
    let mut checked = 0;
    let mut missing = Vec::new();
    for document in &documents {
        let text = fs::read_to_string(document).expect("a document");
        for (i, piece) in text.split('`').enumerate() {
            // Odd pieces are inside backticks.
            if i % 2 == 0 || !tops.iter().any(|t| piece.starts_with(t.as_str())) {
                continue;
            }
            if piece.contains(char::is_whitespace) || piece.contains('<') {
                continue; // a command line or a pattern, not a path
            }
            // A glob names its folder; an anchor or a line number is not part of the file.
            let path = piece.split(['*', '#']).next().unwrap_or(piece);
            let path = path.split(':').next().unwrap_or(path);
            checked += 1;
            if !root.join(path).exists() {
                missing.push(format!("{}: `{piece}`", document.display()));
            }
        }
    }
    assert!(checked > 50, "only {checked} paths found in the documents");
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}
