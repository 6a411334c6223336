//! The master key file (`--master-key-file`): the key under which the engine keeps the
//! organization keys it holds (contract section 7).
//!
//! The file holds the 256-bit key as 64 hexadecimal characters (surrounding whitespace, such as
//! a final newline, is ignored); a file of exactly 32 bytes is taken as the raw key. When the
//! file does not exist it is created with a key from the operating system's random source,
//! readable and writable by the owner only (mode 0600), and never replaced afterwards: the
//! database's held keys open only with it.

use chat_core::crypto::SecretKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The default place of the master key file: beside the database, named after it.
pub fn default_path(db: &Path) -> PathBuf {
    let mut name = db
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "chat.db".into());
    name.push(".master-key");
    db.with_file_name(name)
}

/// Reads the master key, creating the file first when it does not exist.
pub fn load_or_create(path: &Path) -> Result<SecretKey, String> {
    match std::fs::read(path) {
        Ok(bytes) => parse(&Zeroizing::new(bytes))
            .map_err(|why| format!("the master key file {} {why}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        )),
    }
}

fn parse(bytes: &[u8]) -> Result<SecretKey, &'static str> {
    let mut key = Zeroizing::new([0u8; 32]);
    if let Ok(raw) = <&[u8; 32]>::try_from(bytes)
        && !raw.iter().all(u8::is_ascii_hexdigit)
    {
        key.copy_from_slice(raw);
        return Ok(SecretKey::from_bytes(&key));
    }
    let text = bytes.trim_ascii();
    if text.len() != 64 || hex::decode_to_slice(text, &mut key[..]).is_err() {
        return Err("must hold 64 hexadecimal characters (a 256-bit key)");
    }
    Ok(SecretKey::from_bytes(&key))
}

fn create(path: &Path) -> Result<SecretKey, String> {
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut key[..])
        .map_err(|e| format!("cannot draw a master key from the system's random source: {e}"))?;
    let mut text = Zeroizing::new(hex::encode(&key[..]));
    text.push('\n');
    let mut options = std::fs::OpenOptions::new();
    // `create_new`: never overwrite a key file another process made meanwhile.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a master key file");
            Ok(SecretKey::from_bytes(&key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path),
        Err(e) => Err(format!(
            "cannot create the master key file {}: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_created_owner_only_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(&dir.path().join("chat.db"));
        assert_eq!(path, dir.path().join("chat.db.master-key"));
        let created = load_or_create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim_end().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_or_create(&path).unwrap(), created);
    }

    #[test]
    fn hex_and_raw_files_are_read_and_anything_else_refused() {
        let dir = tempfile::tempdir().unwrap();
        let hex_file = dir.path().join("hex");
        std::fs::write(&hex_file, format!("  {}\n", "ab".repeat(32))).unwrap();
        let raw_file = dir.path().join("raw");
        std::fs::write(&raw_file, [0xab; 32]).unwrap();
        assert_eq!(
            load_or_create(&hex_file).unwrap(),
            load_or_create(&raw_file).unwrap()
        );
        let short = dir.path().join("short");
        std::fs::write(&short, "abcd\n").unwrap();
        let err = load_or_create(&short).unwrap_err();
        assert!(err.contains("64 hexadecimal"), "{err}");
    }
}
