//! `latchkey backup PATH [--force]`: a consistent copy of the database made
//! with SQLite's online backup API, safe while the server runs. The copy is
//! written beside PATH under a temporary name and moved into place only
//! when complete, so PATH is never a half-written file.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::Fatal;
use crate::config::Config;
use crate::store::{SqliteStore, Store};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file).
    pub path: PathBuf,
    /// Replace PATH if it exists.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(config: &Config, args: BackupArgs) -> Result<(), Fatal> {
    let source = &config.database.path;
    if !source.exists() {
        return Err(Fatal(format!(
            "there is no database at {}; check database.path (or --config) points at the server's database",
            source.display()
        )));
    }
    if args.path.exists() && !args.force {
        return Err(Fatal(format!("{} already exists; choose a new file name or pass --force to replace it", args.path.display())));
    }
    if args.path.is_dir() {
        return Err(Fatal(format!("{} is a directory; give the backup a file name", args.path.display())));
    }
    let store = SqliteStore::open(source, 1).map_err(Fatal::from_display)?;
    let partial = partial_path(&args.path);
    let _ = std::fs::remove_file(&partial);
    if let Err(err) = store.backup_to(&partial).await {
        let _ = std::fs::remove_file(&partial);
        return Err(Fatal(format!("the backup to {} failed: {err}", args.path.display())));
    }
    let placed = if args.force {
        std::fs::rename(&partial, &args.path)
    } else {
        // A hard link fails if PATH appeared meanwhile: never overwrite.
        std::fs::hard_link(&partial, &args.path).and_then(|()| std::fs::remove_file(&partial))
    };
    if let Err(err) = placed {
        let _ = std::fs::remove_file(&partial);
        return Err(Fatal(format!("cannot move the backup into place at {}: {err}", args.path.display())));
    }
    let size = std::fs::metadata(&args.path).map(|meta| meta.len()).unwrap_or(0);
    tracing::info!(event = "backup_written", path = %args.path.display(), bytes = size, "backup written");
    println!("backup written to {} ({size} bytes)", args.path.display());
    Ok(())
}

/// `dir/.name.partial` beside the target, on the same file system.
fn partial_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    path.with_file_name(format!(".{name}.partial"))
}
