//! Keeps ARCHITECTURE.md true: every source file has a `//!` header and is
//! named in the code map.

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_has_a_header_and_is_in_the_architecture_map() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let relative = file.strip_prefix(root.join("src")).unwrap().to_string_lossy().into_owned();
        assert!(text.trim_start().starts_with("//!"), "{relative} has no //! header");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let directory = relative.rsplit_once('/').map(|(dir, _)| format!("src/{dir}/"));
        let mentioned = match &directory {
            // A file in a module directory: the directory has a section and the file is named in it.
            Some(dir) => map.contains(dir.as_str()) && map.contains(&format!("`{name}`")),
            None => map.contains(&format!("src/{name}")),
        };
        assert!(mentioned, "{relative} is not in ARCHITECTURE.md");
    }
}
