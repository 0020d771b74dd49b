//! Atomic output: every file is written to a temporary name in its target folder and renamed; if any
//! file of a set fails, the files of that set already written are removed, so nothing half-written is
//! left behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes one file atomically (temporary file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a set of files under `dir` (created if missing): all of them, or none that were not there
/// before.
pub fn write_set(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        match write_atomic(&path, bytes) {
            Ok(()) => written.push(path),
            Err(e) => {
                for p in &written {
                    let _ = fs::remove_file(p);
                }
                return Err(e);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_set_into_a_new_folder() {
        let dir = std::env::temp_dir().join(format!("cvmsim-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let out = dir.join("a/b");
        let set = vec![
            ("x.bin".to_string(), vec![1, 2, 3]),
            ("sub/y.txt".to_string(), b"y".to_vec()),
        ];
        write_set(&out, &set).unwrap();
        assert_eq!(fs::read(out.join("x.bin")).unwrap(), vec![1, 2, 3]);
        assert_eq!(fs::read(out.join("sub/y.txt")).unwrap(), b"y");
        let leftovers: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
