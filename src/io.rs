//! File and stream I/O shared by every command: bounded reads of input files and the one output
//! writer (atomic for regular files, straight through for devices and FIFOs, symlinks followed,
//! no temporary file left behind on an error).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Largest input file stria reads (network specs, search spaces, cost profiles, links,
/// non-linear parameters, search metadata and checkpoints): 64 MiB. A spec of a real network is
/// a few kilobytes and a chain of 100,000 layers about 5 MB; the cap stops `/dev/zero` or a
/// wrong path from filling the memory.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads at most [`MAX_INPUT_BYTES`] of `path`; a larger file (or an endless stream) is an error
/// that names the limit.
pub fn read_capped(path: &Path) -> io::Result<Vec<u8>> {
    read_capped_with(path, MAX_INPUT_BYTES)
}

/// [`read_capped`] with another limit (tests use a small one).
pub fn read_capped_with(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(io::Error::other(format!(
            "larger than the limit of {} MiB for input files",
            limit >> 20
        )));
    }
    Ok(buf)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path) -> io::Result<String> {
    String::from_utf8(read_capped(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// What the existing path (after following symlinks) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Nothing there yet (or a dangling symlink).
    Missing,
    Regular,
    Directory,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl PathKind {
    /// The kind of `path`, following symlinks.
    pub fn of(path: &Path) -> io::Result<PathKind> {
        match std::fs::metadata(path) {
            Ok(m) => Ok(PathKind::from_type(m.file_type())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(PathKind::Missing),
            Err(e) => Err(e),
        }
    }

    fn from_type(t: std::fs::FileType) -> PathKind {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_char_device() {
                return PathKind::CharDevice;
            }
            if t.is_block_device() {
                return PathKind::BlockDevice;
            }
            if t.is_fifo() {
                return PathKind::Fifo;
            }
            if t.is_socket() {
                return PathKind::Socket;
            }
        }
        if t.is_dir() {
            PathKind::Directory
        } else {
            PathKind::Regular
        }
    }
}

/// How an output is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// A temporary file next to the target, then a rename over it: readers never see half a
    /// file and a failed write leaves the old file as it was.
    Atomic,
    /// Opened and written in place (devices such as `/dev/null` or `/dev/stdout`, FIFOs): renaming
    /// over them would replace the device node or pipe with a regular file.
    Direct,
}

/// The decision of [`write_output`]: atomic for regular files and new paths, straight through
/// for character and block devices and FIFOs, an error for directories and sockets.
pub fn write_mode(kind: PathKind) -> Result<WriteMode, &'static str> {
    match kind {
        PathKind::Missing | PathKind::Regular => Ok(WriteMode::Atomic),
        PathKind::CharDevice | PathKind::BlockDevice | PathKind::Fifo => Ok(WriteMode::Direct),
        PathKind::Directory => Err("is a directory"),
        PathKind::Socket => Err("is a socket"),
    }
}

/// The file a write to `path` lands in: `path` itself, or the final target of a symlink chain
/// (a dangling link's target is created). The link itself is never replaced.
fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = std::fs::read_link(&p)?;
                p = if t.is_absolute() {
                    t
                } else {
                    p.parent().unwrap_or(Path::new("")).join(t)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Removes the temporary file when dropped unless the write completed (every error path, panics
/// included). Only `kill -9` or a power cut can leave one behind.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The temporary name used for an atomic write of `target`: `.NAME.tmp-PID` in its directory.
pub fn temp_path(target: &Path) -> PathBuf {
    let dir = target.parent().unwrap_or(Path::new(""));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `contents` to `path`, the one output writer of stria (every file any command writes
/// goes through it). Regular files and new paths are written atomically (temporary file in the
/// same directory, then rename); character devices, block devices and FIFOs are written
/// straight through; symlinks are followed (the target is written, the link stays). Missing
/// parent directories are created. On any error the temporary file is removed.
pub fn write_output(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_output_with(path, |w| w.write_all(contents))
}

/// [`write_output`] with the contents produced by `write` (which may fail half way: the
/// temporary file is then removed and the old file left as it was).
pub fn write_output_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let target = resolve_target(path)?;
    let mode = write_mode(PathKind::of(&target)?).map_err(io::Error::other)?;
    if mode == WriteMode::Direct {
        let mut f = OpenOptions::new().write(true).open(&target)?;
        write(&mut f)?;
        return f.flush();
    }
    if let Some(dir) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = temp_path(&target);
    let mut guard = TempGuard {
        path: tmp.clone(),
        armed: true,
    };
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        write(&mut f)?;
        f.flush()?;
    }
    std::fs::rename(&tmp, &target)?;
    guard.armed = false;
    Ok(())
}

/// Creates and returns a new, empty directory `base/name`, or `base/name-2`, `base/name-3`, ...
/// when the name is taken (the creation itself claims the name, so two runs never share one).
pub fn fresh_dir(base: &Path, name: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(base)?;
    for i in 1..=100_000u32 {
        let dir = if i == 1 {
            base.join(name)
        } else {
            base.join(format!("{name}-{i}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "{}: 100000 directories named {name}-K exist already; use --output",
        base.display()
    )))
}

/// True when `e` (or an error it wraps) is a closed pipe on the other end of a write.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `text` to standard output and flushes it. Errors (a closed pipe, a full disk) are
/// returned, never a panic; see [`is_broken_pipe`].
pub fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_mode_of_every_kind() {
        assert_eq!(write_mode(PathKind::Missing), Ok(WriteMode::Atomic));
        assert_eq!(write_mode(PathKind::Regular), Ok(WriteMode::Atomic));
        assert_eq!(write_mode(PathKind::CharDevice), Ok(WriteMode::Direct));
        assert_eq!(write_mode(PathKind::BlockDevice), Ok(WriteMode::Direct));
        assert_eq!(write_mode(PathKind::Fifo), Ok(WriteMode::Direct));
        assert!(write_mode(PathKind::Directory).is_err());
        assert!(write_mode(PathKind::Socket).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn dev_null_is_a_char_device_written_directly() {
        let k = PathKind::of(Path::new("/dev/null")).unwrap();
        assert_eq!(k, PathKind::CharDevice);
        assert_eq!(write_mode(k), Ok(WriteMode::Direct));
        write_output(Path::new("/dev/null"), b"x").unwrap();
        let k = PathKind::of(Path::new("/dev/null")).unwrap();
        assert_eq!(k, PathKind::CharDevice);
    }

    #[test]
    fn fresh_dirs_are_new_and_numbered() {
        let dir = tempfile::tempdir().unwrap();
        let a = fresh_dir(dir.path(), "x").unwrap();
        let b = fresh_dir(dir.path(), "x").unwrap();
        let c = fresh_dir(dir.path(), "x").unwrap();
        assert_eq!(a, dir.path().join("x"));
        assert_eq!(b, dir.path().join("x-2"));
        assert_eq!(c, dir.path().join("x-3"));
        assert!(c.is_dir());
    }

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 2 << 20]).unwrap();
        let e = read_capped_with(&p, 1 << 20).unwrap_err();
        assert!(e.to_string().contains("limit of 1 MiB"), "{e}");
        assert_eq!(read_capped_with(&p, 2 << 20).unwrap().len(), 2 << 20);
        let e = read_capped(dir.path()).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }
}
