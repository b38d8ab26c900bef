//! The quickstart: one agent, a four-node cluster, every event in and out.
//!
//! ```text
//! cargo run --release --example quickstart                 # real processes
//! cargo run --release --example quickstart -- --simulated  # the engine alone
//!     [--dialect zeek7] [--encoding broker|plain] [--transcript FILE] [--verbose]
//! ```
//!
//! By default the agent runs its four nodes as real processes with its
//! built-in process supervisor: Zeek when it is installed (`zeek` on PATH,
//! else the Zeek of the `zeek-config` on PATH, else /opt/zeek/bin/zeek),
//! else this repository's stand-in node program. It deploys them, shows `get_nodes`,
//! kills a worker and shows the crash noticed and healed, then stands by.
//!
//! `--simulated` runs the engine alone and plays the Supervisor and the
//! nodes itself: deploy, check-ins, get_nodes, a `get_id_value` dispatch, a
//! restart, standby. `--transcript FILE` writes every event the agent sends
//! there, one JSON text per line (CI checks them with zeek-client).
//!
//! Either way the program checks its own outcome and exits with status 1
//! if the agent did not do what it should.

mod find_zeek;
mod real;
mod simulated;

use std::process::ExitCode;

use serde_json::Value;
use zeek_mgmt_agent::{Dialect, Encoding};

pub struct Options {
    simulated: bool,
    dialect: Dialect,
    encoding: Encoding,
    transcript: Option<String>,
    verbose: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        simulated: false,
        dialect: Dialect::Zeek7,
        encoding: Encoding::Broker,
        transcript: None,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--simulated" => options.simulated = true,
            "--dialect" => {
                let v = value("--dialect")?;
                options.dialect = Dialect::parse(&v).ok_or(format!("unknown dialect '{v}'"))?;
            }
            "--encoding" => {
                options.encoding = match value("--encoding")?.as_str() {
                    "broker" => Encoding::Broker,
                    "plain" => Encoding::Plain,
                    other => return Err(format!("unknown encoding '{other}'")),
                }
            }
            "--transcript" => options.transcript = Some(value("--transcript")?),
            "--verbose" => options.verbose = true,
            "-h" | "--help" => {
                return Err(
                    "usage: quickstart [--simulated] [--dialect seed|zeek5|zeek6|zeek7] \
                            [--encoding broker|plain] [--transcript FILE] [--verbose]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if options.transcript.is_some() && !options.simulated {
        return Err("--transcript goes with --simulated".into());
    }
    Ok(options)
}

/// Prints one event (plain JSON) as `name(arg=value, ...)`, records as Zeek
/// record literals, vectors of records one per line.
pub fn print_event(now_ms: u64, from: &str, to: &str, plain_json: &str) {
    let top = match serde_json::from_str::<Ordered>(plain_json) {
        Ok(Ordered::Object(top)) => top,
        _ => Vec::new(),
    };
    let member = |key: &str| top.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let name = match member("event") {
        Some(Ordered::Scalar(name)) => name,
        _ => String::new(),
    };
    let args = match member("args") {
        Some(Ordered::Object(args)) => args,
        _ => Vec::new(),
    };
    let mut inline = Vec::new();
    let mut listed = Vec::new();
    for (arg, value) in args {
        match value {
            Ordered::Array(items) if items.iter().any(|i| matches!(i, Ordered::Object(_))) => {
                listed.extend(items)
            }
            other => inline.push(format!("{arg}={}", other.render(1))),
        }
    }
    println!(
        "{now_ms:>6}ms  {from} -> {to}: {}({})",
        name.trim_matches('"'),
        inline.join(", ")
    );
    for item in listed {
        println!("{:>8}    {}", "", item.render(1));
    }
}

/// Plain JSON kept in document order, for printing records field by field
/// in their declaration order.
#[derive(Clone)]
enum Ordered {
    Scalar(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar(Value::from(v).to_string()))
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar("null".into()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Ordered, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Ordered::Object(fields))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Ordered {
    /// Zeek-record-like text; nested containers that would make a line
    /// unreadable are summarized.
    fn render(&self, depth: usize) -> String {
        let full = match self {
            Ordered::Scalar(text) => return text.clone(),
            Ordered::Object(fields) => match &fields[..] {
                [(p, Ordered::Scalar(port)), (q, Ordered::Scalar(proto))]
                    if p == "port" && q == "proto" =>
                {
                    return format!("{port}/{}", proto.trim_matches('"'));
                }
                _ => {
                    let fields: Vec<String> = fields
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.render(depth + 1)))
                        .collect();
                    format!("[{}]", fields.join(", "))
                }
            },
            Ordered::Array(items) => {
                let items: Vec<String> = items.iter().map(|v| v.render(depth + 1)).collect();
                format!("[{}]", items.join(", "))
            }
        };
        let count = |n: usize, what: &str| format!("[{n} {what}{}]", if n == 1 { "" } else { "s" });
        match self {
            Ordered::Array(items) if depth > 1 && full.len() > 60 => count(items.len(), "item"),
            Ordered::Object(fields) if depth > 1 && full.len() > 60 => count(fields.len(), "field"),
            _ => full,
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let outcome = if options.simulated {
        simulated::run(options)
    } else {
        real::run(&options)
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quickstart: {message}");
            ExitCode::FAILURE
        }
    }
}
