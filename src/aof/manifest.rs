//! The AOF manifest (Redis 7.0's `aofManifest`): which files of
//! `appenddirname` make up the append-only file, one line per file,
//! `file <name> seq <n> type <b|h|i>`, the base first, then history files,
//! then the incremental files in order. Written to a temp file, fsynced and
//! renamed, as Redis's `writeAofManifestFile`.

use std::io::Write;
use std::path::Path;

/// A file's role: `b` the base (a snapshot), `h` history (kept until
/// deleted after a rewrite), `i` an incremental file of commands.
pub const BASE: u8 = b'b';
pub const HISTORY: u8 = b'h';
pub const INCR: u8 = b'i';

/// Redis's `MANIFEST_MAX_LINE`.
const MAX_LINE: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: i64,
    pub kind: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    pub history: Vec<FileInfo>,
    pub incr: Vec<FileInfo>,
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// A manifest Redis would refuse: the line (number and text) and why.
#[derive(Debug)]
pub struct Invalid {
    pub line: Option<(usize, String)>,
    pub why: &'static str,
}

impl Manifest {
    /// Redis's `aofLoadManifestFromFile`, with its checks and messages.
    pub fn parse(text: &[u8]) -> Result<Manifest, Invalid> {
        let mut m = Manifest::default();
        let mut max_seq = 0;
        if text.is_empty() {
            return Err(Invalid {
                line: None,
                why: "Found an empty AOF manifest",
            });
        }
        let mut rest = text;
        let mut number = 0;
        while !rest.is_empty() {
            // fgets reads at most MAX_LINE bytes at a time.
            let take = rest.len().min(MAX_LINE);
            let end = rest[..take].iter().position(|&b| b == b'\n').map(|i| i + 1);
            let raw = &rest[..end.unwrap_or(take)];
            rest = &rest[raw.len()..];
            number += 1;
            if raw.first() == Some(&b'#') {
                continue;
            }
            let line = String::from_utf8_lossy(raw.trim_ascii()).into_owned();
            let fail = |why| Invalid {
                line: Some((number, line.clone())),
                why,
            };
            if end.is_none() {
                return Err(fail("The AOF manifest file contains too long line"));
            }
            if line.is_empty() {
                return Err(fail("Invalid AOF manifest file format"));
            }
            let args = crate::protocol::inline::split_args(raw.trim_ascii())
                .filter(|a| a.len() >= 6 && a.len() % 2 == 0)
                .ok_or_else(|| fail("Invalid AOF manifest file format"))?;
            let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
            for pair in args.chunks(2) {
                let key = pair[0].to_ascii_lowercase();
                match key.as_slice() {
                    b"file" => {
                        let n = String::from_utf8_lossy(&pair[1]).into_owned();
                        if n.contains(['/', '\\']) {
                            return Err(fail("File can't be a path, just a filename"));
                        }
                        name = Some(n);
                    }
                    b"seq" => seq = crate::number::atoi(&pair[1]),
                    b"type" => kind = pair[1].first().copied().unwrap_or(0),
                    _ => {}
                }
            }
            let Some(name) = name.filter(|_| seq != 0 && kind != 0) else {
                return Err(fail("Invalid AOF manifest file format"));
            };
            let info = FileInfo { name, seq, kind };
            match kind {
                BASE => {
                    if m.base.is_some() {
                        return Err(fail("Found duplicate base file information"));
                    }
                    m.base_seq = seq;
                    m.base = Some(info);
                }
                HISTORY => m.history.push(info),
                INCR => {
                    if seq <= max_seq {
                        return Err(fail("Found a non-monotonic sequence number"));
                    }
                    max_seq = seq;
                    m.incr_seq = seq;
                    m.incr.push(info);
                }
                _ => return Err(fail("Unknown AOF file type")),
            }
        }
        Ok(m)
    }

    /// Redis's `getAofManifestAsString`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for info in self.base.iter().chain(&self.history).chain(&self.incr) {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                repr_if_needed(&info.name),
                info.seq,
                info.kind as char
            ));
        }
        out
    }

    /// A new base file's name; the old base becomes history (Redis's
    /// `getNewBaseFileNameAndMarkPreAsHistory`).
    pub fn new_base(&mut self, filename: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = HISTORY;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let suffix = if rdb { "rdb" } else { "aof" };
        let name = format!("{filename}.{}.base.{suffix}", self.base_seq);
        self.base = Some(FileInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: BASE,
        });
        name
    }

    /// A new incremental file's name, appended to the list
    /// (`getNewIncrAofName`).
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incr.push(FileInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: INCR,
        });
        name
    }

    /// The incremental files but the last (`keep_last`, the one being
    /// written) become history (`markRewrittenIncrAofAsHistory`).
    pub fn incr_to_history(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last).min(self.incr.len());
        let moved: Vec<FileInfo> = self.incr.drain(..self.incr.len() - keep).collect();
        for mut info in moved {
            info.kind = HISTORY;
            self.history.insert(0, info);
        }
    }

    /// Writes the manifest as `<filename>.manifest` in `dir`: a temp file,
    /// fsync, rename, then the directory fsynced (Redis's
    /// `writeAofManifestFile`, with its log lines).
    pub fn persist(&self, dir: &Path, filename: &str) -> std::io::Result<()> {
        let name = format!("{filename}.manifest");
        let temp_name = format!("temp-{filename}.manifest");
        let temp = dir.join(&temp_name);
        let mut f = std::fs::File::create(&temp).inspect_err(|e| {
            tracing::warn!("Can't open the AOF manifest file {temp_name}: {e}");
        })?;
        f.write_all(self.render().as_bytes()).inspect_err(|e| {
            tracing::warn!(
                "Error trying to write the temporary AOF manifest file {temp_name}: {e}"
            );
        })?;
        f.sync_data().inspect_err(|e| {
            tracing::warn!("Fail to fsync the temp AOF file {temp_name}: {e}.");
        })?;
        std::fs::rename(&temp, dir.join(&name)).inspect_err(|e| {
            tracing::warn!(
                "Error trying to rename the temporary AOF manifest file {temp_name} into {name}: {e}"
            );
        })?;
        crate::util::sync_dir_of(&dir.join(&name))
            .inspect_err(|e| tracing::warn!("Fail to fsync AOF directory {name}: {e}."))
    }
}

/// A file name as the manifest writes it: bare, or quoted with escapes
/// when it has blanks, quotes or unprintable bytes (`sdsneedsrepr`,
/// `sdscatrepr`).
fn repr_if_needed(name: &str) -> String {
    let needs = name
        .bytes()
        .any(|b| matches!(b, b'\\' | b'"') || !b.is_ascii_graphic());
    if !needs {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for b in name.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b as char),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_rotates_as_redis_names_files() {
        let mut m = Manifest::default();
        assert_eq!(
            m.new_base("appendonly.aof", true),
            "appendonly.aof.1.base.rdb"
        );
        assert_eq!(m.new_incr("appendonly.aof"), "appendonly.aof.1.incr.aof");
        assert_eq!(
            m.render(),
            "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        m.new_incr("appendonly.aof");
        m.new_base("appendonly.aof", false);
        m.incr_to_history(true);
        assert_eq!(
            m.render(),
            "file appendonly.aof.2.base.aof seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.rdb seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(Manifest::parse(m.render().as_bytes()).unwrap(), m);
    }

    #[test]
    fn bad_manifests_are_refused_with_redis_reasons() {
        let why = |t: &str| Manifest::parse(t.as_bytes()).unwrap_err().why;
        assert_eq!(why(""), "Found an empty AOF manifest");
        assert_eq!(why("file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(
            why("file a/b seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            why("file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            why("file a seq 2 type i\nfile b seq 1 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(why("file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            why("file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        assert_eq!(repr_if_needed("a b"), "\"a b\"");
    }
}
