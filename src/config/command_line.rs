//! redis-server's command line (Redis 7.0.15's `main()`): an optional
//! config file first, `-` to read more config from stdin (first or last),
//! then `--name value...` options that become config text appended after
//! the file, parsed as its lines. Odd forms work as in Redis: `"--port
//! 6380"` as one argument, values starting with `--` (`--port --bla` takes
//! `--bla` as the value), a bare `--save` (an empty save), words before any
//! option (appended to the first line).

use std::path::PathBuf;

use super::parse::repr;
use crate::protocol::inline::split_args;

/// What the command line asks `Config::load` to read.
#[derive(Debug, PartialEq, Eq)]
pub struct CommandLine {
    pub config_file: Option<PathBuf>,
    /// Read config text from stdin after the file.
    pub config_from_stdin: bool,
    /// Config text built from the options, one line per `--name`.
    pub options: String,
}

/// Options that take no value when the next argument is another option or
/// there is none: Redis's `--save` (an empty save) and `--sentinel`, and
/// reddish's `--json` (JSON mode on).
fn bare_value(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "--save" => Some("\"\""),
        "--sentinel" => Some(""),
        "--json" => Some("yes"),
        _ => None,
    }
}

/// Redis's argument loop in `main()`; `args` without the program name.
pub fn parse(args: &[String]) -> CommandLine {
    let mut line = CommandLine {
        config_file: None,
        config_from_stdin: false,
        options: String::new(),
    };
    let mut rest = args;
    if let Some(first) = args.first().filter(|a| !a.starts_with('-')) {
        line.config_file = Some(first.into());
        rest = &args[1..];
    }
    let first_index = args.len() - rest.len();
    let options = &mut line.options;
    // Whether the last option has its value, so a `--word` starts another.
    let mut handled_last = true;
    for (j, arg) in rest.iter().enumerate() {
        let j = j + first_index;
        if arg == "-" && (j == 0 || j == args.len() - 1) {
            line.config_from_stdin = true;
        } else if handled_last && arg.starts_with("--") {
            if !options.is_empty() {
                options.push('\n');
            }
            options.push_str(&arg[2..]);
            options.push(' ');
            // One word: the option's name alone, its values follow.
            if split_args(arg.as_bytes()).is_some_and(|words| words.len() == 1) {
                handled_last = false;
                let next_is_option = args.get(j + 1).map(|next| next.starts_with("--"));
                if let (Some(value), Some(true) | None) = (bare_value(arg), next_is_option) {
                    options.push_str(value);
                    handled_last = next_is_option.is_some();
                }
            } else {
                handled_last = true;
            }
        } else {
            options.push_str(&repr(arg.as_bytes()));
            options.push(' ');
            handled_last = true;
        }
    }
    line
}
