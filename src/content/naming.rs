//! Name, version and architecture of a package, from its path in file
//! storage, and the per-file overrides for names no rule gets right.
//!
//! The rules, first match wins (`PATH` relative to file storage):
//!
//! 1. `…/NAME/VERSION/FILE` where `VERSION` starts with a digit (or `v` and
//!    a digit): the two directories above the file, e.g.
//!    `firefox/128.0.3/Firefox Setup.msi`. The arch comes from the file name.
//! 2. Debian packages `NAME_VERSION_ARCH.deb` and RPMs
//!    `NAME-VERSION-RELEASE.ARCH.rpm`: their own naming conventions, exactly.
//! 3. Anything else: the file name without its extension is cut into words
//!    at `-`, `_`, spaces, and dots next to a letter. The first word that
//!    starts with a digit (or `v` and a digit) begins the version; words
//!    after it that are only digits and dots (build numbers, dates) belong
//!    to it too. A word naming an architecture (`x64`, `amd64`, `arm64`,
//!    `x86_64`, `win64`, `64-bit`, …) is the arch. Installer noise
//!    (`Setup`, `Installer`, `win`, `windows`, `macos`, `bin`, `en`, `US`,
//!    …) is dropped, as is a `Setup`/`Installer` suffix of a CamelCase name
//!    (`VSCodeSetup` → `VSCode`). The name is the words before the version.
//!    No version word: the version is empty.
//!
//! # Overrides
//!
//! `FILE_STORAGE/.p2pd-names.csv` (a dot-file, so never published itself)
//! names the packages no rule gets right:
//!
//! ```text
//! path,name,version,arch
//! 7zip/7z2301-x64.msi,7zip,23.01,x64
//! tools/AcroRdrDC2400220759_en_US.exe,Acrobat Reader,24.002.20759,
//! ```
//!
//! `path` is relative to file storage; an empty cell keeps what the rules
//! found; `publish --name/--version` still win over both.

use std::collections::HashMap;

/// What a package is called: name, version (may be empty) and arch (empty
/// when the file name does not say).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Naming {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// File name of the overrides table at the root of file storage.
pub const OVERRIDES_FILE: &str = ".p2pd-names.csv";

/// Architecture words, lowercase. Compound ones (`x86_64`, `64-bit`) are
/// matched before the file name is cut into words.
const ARCHES: &[&str] = &[
    "x64",
    "x86",
    "amd64",
    "arm64",
    "aarch64",
    "i386",
    "i686",
    "x86_64",
    "x86-64",
    "win64",
    "win32",
    "armhf",
    "armv7l",
    "armv7",
    "arm",
    "noarch",
    "ia32",
    "64bit",
    "32bit",
    "64-bit",
    "32-bit",
    "ppc64le",
    "s390x",
    "universal",
];

/// Words that say how a package is delivered, not what it is.
const NOISE: &[&str] = &[
    "setup",
    "installer",
    "install",
    "win",
    "windows",
    "macos",
    "mac",
    "osx",
    "linux",
    "bin",
    "en",
    "us",
    "en-us",
    "full",
    "offline",
    "online",
    "release",
];

/// Extensions dropped from the file name (a `.tar` before `.gz` too); any
/// other last extension with a letter in it is dropped as well.
fn strip_extension(file: &str) -> (&str, String) {
    let Some(dot) = file.rfind('.') else {
        return (file, String::new());
    };
    let ext = &file[dot + 1..];
    if dot == 0 || !ext.bytes().any(|b| b.is_ascii_alphabetic()) {
        return (file, String::new());
    }
    let stem = &file[..dot];
    let stem = stem
        .strip_suffix(".tar")
        .or_else(|| stem.strip_suffix(".TAR"))
        .unwrap_or(stem);
    (stem, ext.to_ascii_lowercase())
}

fn is_versionish(word: &str) -> bool {
    let w = word
        .strip_prefix('v')
        .or_else(|| word.strip_prefix('V'))
        .unwrap_or(word);
    w.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

fn is_arch(word: &str) -> bool {
    ARCHES.contains(&word.to_ascii_lowercase().as_str())
}

fn is_noise(word: &str) -> bool {
    NOISE.contains(&word.to_ascii_lowercase().as_str())
}

/// Only digits and dots: a build number or a date part.
fn is_numeric(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The words of a file stem with the separator before each (`""` for the
/// first). Compound arch words stay whole.
fn words(stem: &str) -> Vec<(&str, &str)> {
    let b = stem.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut sep_start = 0;
    let mut i = 0;
    while i < b.len() {
        // A compound arch word starting at a word start stays one word.
        if i == start
            && let Some(len) = ["x86_64", "x86-64", "64-bit", "32-bit"]
                .iter()
                .find(|c| {
                    stem.get(i..i + c.len())
                        .is_some_and(|s| s.eq_ignore_ascii_case(c))
                        && b.get(i + c.len())
                            .is_none_or(|&n| matches!(n, b'-' | b'_' | b' ' | b'.'))
                })
                .map(|c| c.len())
        {
            i += len;
            continue;
        }
        let c = b[i];
        let split_dot = c == b'.'
            && (i == 0
                || !b[i - 1].is_ascii_digit()
                || !b.get(i + 1).is_some_and(u8::is_ascii_digit));
        if matches!(c, b'-' | b'_' | b' ') || split_dot {
            if i > start {
                out.push((&stem[sep_start..start], &stem[start..i]));
                sep_start = i;
            }
            i += 1;
            start = i;
            continue;
        }
        i += 1;
    }
    if start < b.len() {
        out.push((&stem[sep_start..start], &stem[start..]));
    }
    out
}

/// Name, version and arch of the package at `path` (relative,
/// `/`-separated), by the rules in the module documentation.
pub fn from_path(path: &str) -> Naming {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let file = parts.last().copied().unwrap_or(path);
    let from_file = from_file_name(file);
    if parts.len() >= 3 && is_versionish(parts[parts.len() - 2]) {
        let n = parts.len();
        return Naming {
            name: parts[n - 3].to_string(),
            version: parts[n - 2].to_string(),
            arch: from_file.arch,
        };
    }
    from_file
}

/// Rules 2 and 3 on a file name alone.
pub fn from_file_name(file: &str) -> Naming {
    let (stem, ext) = strip_extension(file);
    if ext == "deb" {
        let f: Vec<&str> = stem.split('_').collect();
        if let [name, version, arch] = f[..] {
            return Naming {
                name: name.into(),
                version: version.into(),
                arch: arch.into(),
            };
        }
    }
    if ext == "rpm"
        && let Some((nvr, arch)) = stem.rsplit_once('.')
        && is_arch(arch)
    {
        let f: Vec<&str> = nvr.rsplitn(3, '-').collect();
        if let [release, version, name] = f[..] {
            return Naming {
                name: name.into(),
                version: format!("{version}-{release}"),
                arch: arch.into(),
            };
        }
    }
    let words = words(stem);
    let mut n = Naming::default();
    let mut in_version = false;
    let mut version_done = false;
    for (sep, w) in words {
        if is_arch(w) {
            if n.arch.is_empty() {
                n.arch = w.to_string();
            }
            in_version = false;
            continue;
        }
        if in_version && is_numeric(w) {
            n.version.push_str(sep);
            n.version.push_str(w);
            continue;
        }
        if in_version {
            in_version = false;
            version_done = true;
        }
        if !version_done && !n.name.is_empty() && is_versionish(w) {
            let w = w.strip_prefix(['v', 'V']).unwrap_or(w);
            n.version = w.to_string();
            in_version = true;
            continue;
        }
        if is_noise(w) || version_done {
            continue;
        }
        if !n.name.is_empty() {
            n.name.push_str(sep);
        }
        n.name.push_str(w);
    }
    for suffix in ["Setup", "Installer"] {
        if let Some(s) = n.name.strip_suffix(suffix)
            && s.len() >= 2
            && !s.ends_with([' ', '-', '_', '.'])
        {
            n.name = s.to_string();
        }
    }
    if n.name.is_empty() {
        n.name = stem.to_string();
    }
    n
}

/// One row of the overrides table; `None` keeps what the rules found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Override {
    pub name: Option<String>,
    pub version: Option<String>,
    pub arch: Option<String>,
}

/// The overrides table, by storage path.
#[derive(Debug, Clone, Default)]
pub struct Overrides(HashMap<String, Override>);

#[derive(Debug, thiserror::Error)]
#[error("{OVERRIDES_FILE}, line {line}: {message}")]
pub struct OverrideError {
    pub line: usize,
    pub message: String,
}

impl Overrides {
    /// Parses the table: a header with `path` and any of `name`,
    /// `version`, `arch` (any order, any case), `,` or `;` between fields.
    pub fn parse(bytes: &[u8]) -> Result<Overrides, OverrideError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let delimiter = crate::topology::import::delimiter_of(bytes);
        let mut rd = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(bytes);
        let bad = |line: usize, message: String| OverrideError { line, message };
        let header = rd
            .headers()
            .map_err(|e| bad(1, e.to_string()))?
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect::<Vec<_>>();
        let col = |n: &str| header.iter().position(|h| h == n);
        let path_col = col("path").ok_or_else(|| {
            bad(
                1,
                "the header needs a 'path' column and any of name, version, arch".into(),
            )
        })?;
        let (name, version, arch) = (col("name"), col("version"), col("arch"));
        let mut out = HashMap::new();
        for rec in rd.records() {
            let rec =
                rec.map_err(|e| bad(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            let cell = |c: Option<usize>| {
                c.and_then(|c| rec.get(c))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let Some(path) = cell(Some(path_col)) else {
                if rec.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                return Err(bad(line, "the path is empty".into()));
            };
            let path = path.trim_start_matches("./").to_string();
            let o = Override {
                name: cell(name),
                version: cell(version),
                arch: cell(arch),
            };
            if out.insert(path.clone(), o).is_some() {
                return Err(bad(line, format!("'{path}' is listed twice; keep one row")));
            }
        }
        Ok(Overrides(out))
    }

    /// The naming of `path`: the rules, then this table's cells on top.
    pub fn naming(&self, path: &str) -> Naming {
        let mut n = from_path(path);
        if let Some(o) = self.0.get(path) {
            if let Some(v) = &o.name {
                n.name = v.clone();
            }
            if let Some(v) = &o.version {
                n.version = v.clone();
            }
            if let Some(v) = &o.arch {
                n.arch = v.clone();
            }
        }
        n
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real-world installer names and what an admin expects to see.
    #[test]
    fn real_world_installer_names() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, &str)] = &[
            // path, name, version, arch
            ("Firefox Setup 128.0.msi", "Firefox", "128.0", ""),
            ("7zip-23.01-x64.msi", "7zip", "23.01", "x64"),
            ("7zip/23.01/7z2301-x64.msi", "7zip", "23.01", "x64"),
            ("firefox/128.0.3/Firefox Setup.msi", "firefox", "128.0.3", ""),
            ("python-3.12.4-amd64.exe", "python", "3.12.4", "amd64"),
            ("node-v20.15.0-x64.msi", "node", "20.15.0", "x64"),
            ("VSCodeSetup-x64-1.90.0.exe", "VSCode", "1.90.0", "x64"),
            ("Git-2.45.2-64-bit.exe", "Git", "2.45.2", "64-bit"),
            ("npp.8.6.8.Installer.x64.exe", "npp", "8.6.8", "x64"),
            ("PowerShell-7.4.3-win-x64.msi", "PowerShell", "7.4.3", "x64"),
            ("jdk-21_windows-x64_bin.msi", "jdk", "21", "x64"),
            ("putty-64bit-0.81-installer.msi", "putty", "0.81", "64bit"),
            ("vlc-3.0.21-win64.exe", "vlc", "3.0.21", "win64"),
            ("LibreOffice_24.2.4_Win_x86-64.msi", "LibreOffice", "24.2.4", "x86-64"),
            ("TortoiseGit-2.15.0.0-64bit.msi", "TortoiseGit", "2.15.0.0", "64bit"),
            ("KeePass-2.57-Setup.exe", "KeePass", "2.57", ""),
            ("gimp-2.10.38-setup.exe", "gimp", "2.10.38", ""),
            ("Slack-4.38.125-macOS.dmg", "Slack", "4.38.125", ""),
            ("GoogleChrome-127.0.6533.73.pkg", "GoogleChrome", "127.0.6533.73", ""),
            ("python-3.12.4-macos11.pkg", "python", "3.12.4", ""),
            ("zoomusInstallerFull.pkg", "zoomusInstallerFull", "", ""),
            ("code_1.90.0-1718015432_amd64.deb", "code", "1.90.0-1718015432", "amd64"),
            ("firefox_128.0+build1-0ubuntu0.24.04.1_amd64.deb", "firefox", "128.0+build1-0ubuntu0.24.04.1", "amd64"),
            ("google-chrome-stable_current_amd64.deb", "google-chrome-stable", "current", "amd64"),
            ("slack-4.38.125-0.1.el8.x86_64.rpm", "slack", "4.38.125-0.1.el8", "x86_64"),
            ("firefox-128.0-1.fc40.aarch64.rpm", "firefox", "128.0-1.fc40", "aarch64"),
            ("Microsoft.WindowsTerminal_1.20.11381.0_x64.msix", "Microsoft.WindowsTerminal", "1.20.11381.0", "x64"),
            ("Microsoft.WindowsTerminal_1.20.11381.0_8wekyb3d8bbwe.msixbundle", "Microsoft.WindowsTerminal", "1.20.11381.0", ""),
            ("Teams_windows_x64.msi", "Teams", "", "x64"),
            ("openjdk-22.0.1_windows-x64_bin.zip", "openjdk", "22.0.1", "x64"),
            ("inkscape-1.3.2_2023-11-25_091e20e-x64.msi", "inkscape", "1.3.2_2023-11-25", "x64"),
            ("vendor/tool_2.1.tar.gz", "tool", "2.1", ""),
            ("apps/firefox/128/x.exe", "firefox", "128", ""),
            ("tools/putty/putty-64bit-0.81-installer.msi", "putty", "0.81", "64bit"),
            ("agent-1.2", "agent", "1.2", ""),
            ("readme.txt", "readme", "", ""),
            ("x-y.msi", "x-y", "", ""),
            ("OneDriveSetup.exe", "OneDrive", "", ""),
        ];
        let mut wrong = Vec::new();
        for &(path, name, version, arch) in cases {
            let got = from_path(path);
            let want = Naming {
                name: name.into(),
                version: version.into(),
                arch: arch.into(),
            };
            if got != want {
                wrong.push(format!("{path}: got {got:?}, want {want:?}"));
            }
        }
        assert!(cases.len() >= 20);
        assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    }

    #[test]
    fn overrides_win_over_the_rules_cell_by_cell() {
        let o = Overrides::parse(
            b"\xEF\xBB\xBFPath;Name;Version;Arch\r\n\
              7zip/7z2301-x64.msi;7zip;23.01;\r\n\
              ;;;\r\n",
        )
        .unwrap();
        assert_eq!(
            o.naming("7zip/7z2301-x64.msi"),
            Naming {
                name: "7zip".into(),
                version: "23.01".into(),
                arch: "x64".into()
            }
        );
        assert_eq!(o.naming("other-1.0.msi").name, "other");
        let e = Overrides::parse(b"name,version\nx,1\n").unwrap_err();
        assert!(e.to_string().contains("'path' column"), "{e}");
        let e = Overrides::parse(b"path,name\na.msi,A\na.msi,B\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().contains("listed twice"), "{e}");
    }
}
