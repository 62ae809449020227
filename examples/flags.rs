//! The examples' command-line flags: a table of [`Flag`]s, checked values, `--help`, and errors
//! that name the flag. Shared by `agent_loop` and `async_ui` (`mod flags;` in each).

/// One command-line flag of a program whose settings are a `C`.
pub struct Flag<C> {
    pub name: &'static str,
    /// The value's placeholder in the help (`N`, `X`, `PATH`), or `None` for a switch.
    pub value: Option<&'static str>,
    pub help: &'static str,
    /// Checks the value (`""` for a switch) and stores it.
    pub set: fn(&mut C, &str) -> Result<(), String>,
}

/// What the command line asked for.
pub enum Command<C> {
    Run(C),
    Help,
}

/// `v` as a number in `(low, high]`.
#[allow(dead_code)] // async_ui has whole numbers only
pub fn number(v: &str, low: f64, high: f64) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x > low && x <= high => Ok(x),
        Ok(_) if high == f64::MAX => Err(format!("{v:?} is not above {low}")),
        Ok(_) => Err(format!("{v:?} is not in ({low}, {high}]")),
        Err(_) => Err(format!("{v:?} is not a number")),
    }
}

/// `v` as a whole number in `low..=high`.
pub fn whole(v: &str, low: usize, high: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        Ok(_) => Err(format!("{v:?} is not in {low}..={high}")),
        Err(_) => Err(format!("{v:?} is not a whole number")),
    }
}

/// The help text: `intro`, then one line (or more, at `\n` in its help) per flag.
pub fn usage<C>(intro: &str, flags: &[Flag<C>]) -> String {
    let mut text = String::from(intro);
    for flag in flags {
        let name = format!("{} {}", flag.name, flag.value.unwrap_or(""));
        let help = flag.help.replace('\n', &format!("\n{:20}", ""));
        text.push_str(&format!("  {name:<18}{help}\n"));
    }
    text.push_str(&format!("  {:<18}{}", "-h, --help", "this help"));
    text
}

/// Parses `args` (without the program name) into settings that start as `C::default()`.
/// Flags are `--name VALUE` or `--name=VALUE`; `program` names the program in errors.
pub fn parse<C: Default>(
    program: &str,
    flags: &[Flag<C>],
    args: impl IntoIterator<Item = String>,
) -> Result<Command<C>, String> {
    let mut config = C::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        if !arg.starts_with("--") {
            return Err(format!(
                "unexpected argument {arg:?}: {program} takes only flags"
            ));
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let flag = flags
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("unknown flag {name}"))?;
        let value = match (flag.value, inline) {
            (None, None) => String::new(),
            (None, Some(_)) => return Err(format!("{name} takes no value")),
            (Some(_), Some(value)) => value,
            (Some(placeholder), None) => match args.next() {
                Some(value) if !value.starts_with("--") => value,
                _ => return Err(format!("{name} needs a value ({name} {placeholder})")),
            },
        };
        (flag.set)(&mut config, &value).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(Command::Run(config))
}
