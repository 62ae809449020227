//! The tests' JavaScript side: Node.js and the npm packages of `fanout-web/js/package-lock.json`
//! (`npm ci`, once per target directory), and Debian's Chromium for the browser test. Obtained
//! by the tests themselves; when one cannot be had, the test fails with what to do. Nothing is
//! skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The files of `fanout-web/js/` copied beside the installed `node_modules` (ES modules resolve
/// packages from their own directory).
const FILES: [&str; 4] = [
    "package.json",
    "package-lock.json",
    "agui_run.mjs",
    "browser.mjs",
];

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// The directory holding `node_modules` and the scripts, installed if need be.
pub fn js_dir() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static INSTALLING: Mutex<()> = Mutex::new(());
    DIR.get_or_init(|| {
        let _one = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
        install()
    })
    .clone()
    .unwrap_or_else(|why| {
        panic!("fanout-web's JavaScript tests need Node.js and npm packages: {why}")
    })
}

fn install() -> Result<PathBuf, String> {
    let node = tool("node")?;
    let npm = tool("npm")?;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fanout-web-js");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for file in FILES {
        std::fs::copy(source_dir().join(file), dir.join(file))
            .map_err(|e| format!("cannot copy {file} into {}: {e}", dir.display()))?;
    }
    let lock = std::fs::read(source_dir().join("package-lock.json")).map_err(|e| e.to_string())?;
    let stamp = dir.join("node_modules").join(".fanout-web-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return Ok(dir);
    }
    eprintln!(
        "fanout-web: npm ci in {} (node {})",
        dir.display(),
        version(&node)
    );
    let out = Command::new(&npm)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`npm ci` in {} failed ({}): {}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(&stamp, &lock).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// `name` on the `PATH`, or (as root, with apt-get) from Debian's packages.
fn tool(name: &str) -> Result<PathBuf, String> {
    if let Some(path) = on_path(name) {
        return Ok(path);
    }
    apt_install(&["nodejs", "npm"])
        .map_err(|why| format!("no `{name}` on the PATH, and installing Debian's nodejs and npm failed: {why}. Install Node.js 18 or later and npm"))?;
    on_path(name).ok_or_else(|| format!("`{name}` is still not on the PATH after apt-get install"))
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn version(tool: &Path) -> String {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// `apt-get update && apt-get install -y <packages>` (needs root and apt-get).
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    if on_path("apt-get").is_none() {
        return Err("no apt-get".into());
    }
    eprintln!("fanout-web: apt-get install {}", packages.join(" "));
    let update = Command::new("apt-get")
        .args(["update", "-qq"])
        .output()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if !update.status.success() {
        return Err(format!(
            "apt-get update failed: {}",
            String::from_utf8_lossy(&update.stderr)
        ));
    }
    let install = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if !install.status.success() {
        return Err(format!(
            "apt-get install {} failed: {}",
            packages.join(" "),
            String::from_utf8_lossy(&install.stderr)
        ));
    }
    Ok(())
}

/// Runs `node <script> <args>` in the installed directory; its stdout, or a panic with its
/// stderr.
pub fn node(script: &str, args: &[&str]) -> String {
    let dir = js_dir();
    let out = Command::new(on_path("node").expect("node was found at install"))
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {script} failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Debian's Chromium: `$FANOUT_CHROMIUM`, `chromium` on the `PATH`, or `apt-get install
/// chromium` (as root).
pub fn chromium() -> PathBuf {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("FANOUT_CHROMIUM") {
            return Ok(PathBuf::from(path));
        }
        for name in ["chromium", "chromium-browser"] {
            if let Some(path) = on_path(name) {
                return Ok(path);
            }
        }
        apt_install(&["chromium"])?;
        on_path("chromium")
            .ok_or_else(|| "`chromium` is not on the PATH after apt-get install".into())
    })
    .clone()
    .unwrap_or_else(|why| {
        panic!(
            "fanout-web's browser test needs Chromium and could not install it: {why}. Install \
             Debian's `chromium` package, or set FANOUT_CHROMIUM to a Chromium or Chrome binary"
        )
    })
}

/// Starts `node <script> <args>` in the installed directory (for a script that runs while the
/// test acts); wait with [`finish`].
pub fn spawn_node(script: &str, args: &[&str]) -> std::process::Child {
    let dir = js_dir();
    Command::new(on_path("node").expect("node was found at install"))
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node starts")
}

/// The stdout of a finished node process, or a panic with its stderr.
pub fn finish(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("node ran");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
