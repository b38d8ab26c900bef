//! Validation of a configuration before the agent adopts it
//! (**beyond Zeek**, whose agent adopts whatever it receives).
//!
//! The checks and their wording follow Zeek's controller
//! (`config_validate()` in `controller/main.zeek`), plus the checks an agent
//! that starts processes needs: names safe as directory and process names,
//! scripts that cannot be taken for command-line options, environment
//! entries `execve` can carry.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ClusterRole, Configuration, Port};
use crate::wire::escape_for_message;

/// The script every cluster node loads so that it checks in with its agent.
pub const MANAGEMENT_NODE_SCRIPT: &str = "policy/frameworks/management/node";

/// Longest node name accepted, in bytes (a file name component).
pub const MAX_NODE_NAME_BYTES: usize = 255;

/// Every problem of `config`, sorted alphabetically and each reported once;
/// empty when the configuration may be adopted.
pub fn validate_configuration(config: &Configuration) -> Vec<String> {
    let mut problems = BTreeSet::new();
    let q = escape_for_message;

    let mut instance_names = BTreeSet::new();
    for instance in &config.instances {
        if !instance_names.insert(instance.name.as_str()) {
            problems.insert(format!("multiple instances named '{}'", q(&instance.name)));
        }
    }

    let mut node_names = BTreeSet::new();
    for node in &config.nodes {
        if !node_names.insert(node.name.as_str()) {
            problems.insert(format!("multiple nodes named '{}'", q(&node.name)));
        }
    }

    let collide: Vec<String> = instance_names
        .intersection(&node_names)
        .map(|n| q(n))
        .collect();
    if !collide.is_empty() {
        problems.insert(format!(
            "node and instance names collide: {}",
            collide.join(", ")
        ));
    }

    let listen_ports: BTreeMap<&str, Port> = config
        .instances
        .iter()
        .filter_map(|i| i.listen_port.map(|p| (i.name.as_str(), p)))
        .collect();
    let mut ports_in_use: BTreeSet<(&str, Port)> = BTreeSet::new();

    for node in &config.nodes {
        let name = q(&node.name);
        if let Some(reason) = unsafe_name_reason(&node.name) {
            problems.insert(format!("node name '{name}' is not allowed: {reason}"));
        }
        if !instance_names.contains(node.instance.as_str()) {
            problems.insert(format!(
                "node '{name}' has undeclared instance name '{}'",
                q(&node.instance)
            ));
        }
        if node.role == ClusterRole::None {
            problems.insert(format!("node '{name}' has no cluster role"));
        }
        for port in [node.p, node.metrics_port].into_iter().flatten() {
            if !port.is_set() {
                continue; // port 0 means "no port" and never clashes
            }
            if listen_ports.get(node.instance.as_str()) == Some(&port) {
                problems.insert(format!(
                    "node '{name}' port {port} conflicts with agent port on instance '{}'",
                    q(&node.instance)
                ));
            }
            if !ports_in_use.insert((node.instance.as_str(), port)) {
                problems.insert(format!(
                    "multiple nodes on instance '{}' using port {port}",
                    q(&node.instance)
                ));
            }
        }
        if let Some(cpu) = node.cpu_affinity {
            if cpu < 0 {
                problems.insert(format!("node '{name}' cpu_affinity {cpu} is negative"));
            }
        }
        if let Some(interface) = &node.interface {
            if let Some(reason) = unsafe_argument_reason(interface) {
                problems.insert(format!(
                    "node '{name}' interface '{}' is not allowed: {reason}",
                    q(interface)
                ));
            }
        }
        for script in node.scripts.iter().flatten() {
            if let Some(reason) = unsafe_argument_reason(script) {
                problems.insert(format!(
                    "node '{name}' script '{}' is not allowed: {reason}",
                    q(script)
                ));
            }
        }
        for (key, value) in &node.env {
            if let Some(reason) = unsafe_env_name_reason(key) {
                problems.insert(format!(
                    "node '{name}' environment variable name '{}' is not allowed: {reason}",
                    q(key)
                ));
            }
            if value.contains('\0') {
                problems.insert(format!(
                    "node '{name}' environment variable '{}' is not allowed: its value contains NUL",
                    q(key)
                ));
            }
        }
    }
    problems.into_iter().collect()
}

/// Why a node name cannot be a directory and process name, if it cannot.
pub fn unsafe_name_reason(name: &str) -> Option<String> {
    let mut reasons = Vec::new();
    if name.is_empty() {
        reasons.push("it is empty".to_owned());
    }
    if name == "." || name == ".." {
        reasons.push("it names a relative directory".to_owned());
    }
    if name.contains('/') {
        reasons.push("it contains '/'".to_owned());
    }
    if name.chars().any(char::is_whitespace) {
        reasons.push("it contains whitespace".to_owned());
    }
    if name.chars().any(char::is_control) {
        reasons.push("it contains a control character".to_owned());
    }
    if name.len() > MAX_NODE_NAME_BYTES {
        reasons.push(format!("it is longer than {MAX_NODE_NAME_BYTES} bytes"));
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// Why a string cannot be one argument of a node's command line.
fn unsafe_argument_reason(arg: &str) -> Option<&'static str> {
    if arg.is_empty() {
        Some("it is empty")
    } else if arg.starts_with('-') {
        Some("it starts with '-' and would be read as an option")
    } else if arg.contains('\0') {
        Some("it contains NUL")
    } else if arg.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

fn unsafe_env_name_reason(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.contains('=') {
        Some("it contains '='")
    } else if name.contains('\0') {
        Some("it contains NUL")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Instance, Node};

    fn instance(name: &str, port: Option<u16>) -> Instance {
        Instance {
            name: name.into(),
            host: "127.0.0.1".parse().unwrap(),
            listen_port: port.map(Port::tcp),
        }
    }

    fn node(name: &str, instance: &str, p: Option<u16>) -> Node {
        let mut n = Node::new(name, instance, ClusterRole::Worker);
        n.p = p.map(Port::tcp);
        n
    }

    fn config(instances: Vec<Instance>, nodes: Vec<Node>) -> Configuration {
        Configuration {
            id: "c".into(),
            instances,
            nodes,
        }
    }

    #[test]
    fn a_sound_configuration_has_no_problems() {
        let c = config(
            vec![instance("i1", Some(2151))],
            vec![node("m", "i1", Some(5000)), node("w", "i1", None)],
        );
        assert!(validate_configuration(&c).is_empty());
    }

    #[test]
    fn zeek_controller_checks_with_zeek_wording_sorted() {
        let c = config(
            vec![
                instance("i1", Some(2151)),
                instance("i1", None),
                instance("x", None),
            ],
            vec![
                node("x", "i1", Some(2151)),
                node("a", "nowhere", None),
                node("b", "i1", Some(5000)),
                node("c", "i1", Some(5000)),
                node("d", "i1", Some(5000)),
                node("b", "i1", None),
            ],
        );
        assert_eq!(
            validate_configuration(&c),
            vec![
                "multiple instances named 'i1'",
                "multiple nodes named 'b'",
                "multiple nodes on instance 'i1' using port 5000/tcp",
                "node 'a' has undeclared instance name 'nowhere'",
                "node 'x' port 2151/tcp conflicts with agent port on instance 'i1'",
                "node and instance names collide: x",
            ]
        );
    }

    #[test]
    fn metrics_ports_count_and_port_zero_never_clashes() {
        let mut a = node("a", "i1", Some(0));
        a.metrics_port = Some(Port::tcp(9100));
        let mut b = node("b", "i1", Some(9100));
        b.metrics_port = Some(Port::tcp(0));
        let other = node("c", "i1", Some(0));
        let c = config(vec![instance("i1", None)], vec![a, b, other]);
        assert_eq!(
            validate_configuration(&c),
            vec!["multiple nodes on instance 'i1' using port 9100/tcp"]
        );
    }

    #[test]
    fn unsafe_names_are_named_with_escapes() {
        for (name, reason) in [
            ("", "it is empty"),
            ("..", "it names a relative directory"),
            ("../../etc", "it contains '/'"),
            ("a b", "it contains whitespace"),
            ("a\u{2003}b", "it contains whitespace"),
            ("a\0b", "it contains a control character"),
            ("a\u{7f}", "it contains a control character"),
            (
                "a\u{85}",
                "it contains whitespace, it contains a control character",
            ),
        ] {
            assert_eq!(
                unsafe_name_reason(name).as_deref(),
                Some(reason),
                "{name:?}"
            );
        }
        assert_eq!(unsafe_name_reason(&"n".repeat(255)), None);
        assert!(unsafe_name_reason(&"n".repeat(256))
            .unwrap()
            .contains("255 bytes"));
        let c = config(vec![instance("i1", None)], vec![node("a\nb", "i1", None)]);
        assert_eq!(
            validate_configuration(&c),
            vec!["node name 'a\\nb' is not allowed: it contains whitespace, it contains a control character"]
        );
    }

    #[test]
    fn arguments_and_environment_that_a_process_cannot_take() {
        let mut n = node("w", "i1", None);
        n.scripts = Some(vec!["-e".into(), "local".into(), "a\0b".into()]);
        n.interface = Some("".into());
        n.env.insert("A=B".into(), "1".into());
        n.env.insert("OK".into(), "x\0y".into());
        n.cpu_affinity = Some(-1);
        let c = config(vec![instance("i1", None)], vec![n]);
        assert_eq!(
            validate_configuration(&c),
            vec![
                "node 'w' cpu_affinity -1 is negative",
                "node 'w' environment variable 'OK' is not allowed: its value contains NUL",
                "node 'w' environment variable name 'A=B' is not allowed: it contains '='",
                "node 'w' interface '' is not allowed: it is empty",
                "node 'w' script '-e' is not allowed: it starts with '-' and would be read as an option",
                "node 'w' script 'a\\u0000b' is not allowed: it contains NUL",
            ]
        );
    }
}
