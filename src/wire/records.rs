//! Decoders and encoders for every record of the protocol, each written once
//! for both encodings (see [`In`] and [`Out`]).
//!
//! Decoders accept every layout of every dialect; encoders write the layout
//! of the dialect they are given.

use std::borrow::Cow;

use super::json::Json;
use super::read::{In, PathError, SeqKind, R};
use super::write::Out;
use super::{Dialect, Format};
use crate::model::{
    ClusterEndpoint, ClusterRole, Configuration, EndpointInfo, Instance, NetworkInfo, Node,
    NodeConfig, NodeOption, NodeOutputs, NodeStatus, ResultData, ResultRecord, Role, State,
    SupervisorNodeStatus, SupervisorStatus, Value,
};

// ---- Management::Instance, Option, Configuration ---------------------------

const INSTANCE: &str = "Management::Instance";

/// zeek-client's JSON calls the listen port `port` and leaves out a host
/// of `0.0.0.0`; both are accepted.
pub(crate) fn decode_instance(v: In<'_, '_>) -> R<Instance> {
    let rec = v.record(INSTANCE, &[2, 3], &["name", "host", "listen_port", "port"])?;
    let listen_port = match rec.get_any(2, &["listen_port", "port"])? {
        Some((value, name)) => Some(value.port().map_err(|e| e.at_field(name))?),
        None => None,
    };
    let host = match v.format {
        Format::Broker => rec.req(1, "host", In::addr)?,
        Format::Plain => rec
            .opt(1, "host", In::addr)?
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
    };
    Ok(Instance {
        name: rec.req(0, "name", |v| v.string().map(str::to_owned))?,
        host,
        listen_port,
    })
}

fn encode_instance(o: Out<'_>, i: &Instance) {
    let mut rec = o.record();
    rec.field("name").string(&i.name);
    rec.field("host").addr(i.host);
    rec.opt("listen_port", i.listen_port, |o, v| o.port(v));
    rec.end();
}

fn decode_option(v: In<'_, '_>) -> R<NodeOption> {
    let rec = v.record("Management::Option", &[2], &["name", "value"])?;
    Ok(NodeOption {
        name: rec.req(0, "name", |v| v.string().map(str::to_owned))?,
        value: rec.req(1, "value", |v| v.string().map(str::to_owned))?,
    })
}

pub(crate) fn decode_configuration(v: In<'_, '_>) -> R<Configuration> {
    let rec = v.record(
        "Management::Configuration",
        &[3],
        &["id", "instances", "nodes"],
    )?;
    Ok(Configuration {
        id: rec.req(0, "id", |v| v.string().map(str::to_owned))?,
        instances: rec
            .opt(1, "instances", |v| v.seq(SeqKind::Set, decode_instance))?
            .unwrap_or_default(),
        nodes: rec
            .opt(2, "nodes", |v| v.seq(SeqKind::Set, decode_node))?
            .unwrap_or_default(),
    })
}

pub(crate) fn encode_configuration(o: Out<'_>, c: &Configuration, dialect: Dialect) {
    let mut rec = o.record();
    rec.field("id").string(&c.id);
    let mut instances = rec.field("instances").seq(SeqKind::Set);
    for instance in &c.instances {
        encode_instance(instances.item(), instance);
    }
    instances.end();
    let mut nodes = rec.field("nodes").seq(SeqKind::Set);
    for node in &c.nodes {
        encode_node(nodes.item(), node, dialect);
    }
    nodes.end();
    rec.end();
}

// ---- Management::Node -------------------------------------------------------

const NODE_FIELDS: &[&str] = &[
    "name",
    "instance",
    "role",
    "state",
    "p",
    "port",
    "scripts",
    "options",
    "interface",
    "cpu_affinity",
    "env",
    "metrics_port",
];

pub(crate) fn decode_node(v: In<'_, '_>) -> R<Node> {
    let rec = v.record("Management::Node", &[10, 11], NODE_FIELDS)?;
    let p = match rec.get_any(4, &["p", "port"])? {
        Some((value, name)) => Some(value.port().map_err(|e| e.at_field(name))?),
        None => None,
    };
    Ok(Node {
        name: rec.req(0, "name", |v| v.string().map(str::to_owned))?,
        instance: rec.req(1, "instance", |v| v.string().map(str::to_owned))?,
        role: rec.req(2, "role", In::enumeration::<ClusterRole>)?,
        // zeek-client's JSON leaves the state out; it means RUNNING.
        state: rec
            .opt(3, "state", In::enumeration::<State>)?
            .unwrap_or(State::Running),
        p,
        scripts: rec.opt(5, "scripts", |v| v.strings(SeqKind::Vector))?,
        options: rec.opt(6, "options", |v| v.seq(SeqKind::Set, decode_option))?,
        interface: rec.opt(7, "interface", |v| v.string().map(str::to_owned))?,
        cpu_affinity: rec.opt(8, "cpu_affinity", In::integer)?,
        env: rec
            .opt(9, "env", |v| {
                v.string_table(|v| v.string().map(str::to_owned))
            })?
            .unwrap_or_default(),
        metrics_port: rec.opt(10, "metrics_port", In::port)?,
    })
}

pub(crate) fn encode_node(o: Out<'_>, n: &Node, dialect: Dialect) {
    let mut rec = o.record();
    rec.field("name").string(&n.name);
    rec.field("instance").string(&n.instance);
    rec.field("role").enumeration(n.role);
    rec.field("state").enumeration(n.state);
    rec.opt("p", n.p, |o, v| o.port(v));
    rec.opt("scripts", n.scripts.as_ref(), |o, s| {
        o.strings(SeqKind::Vector, s)
    });
    rec.opt("options", n.options.as_ref(), |o, options| {
        let mut set = o.seq(SeqKind::Set);
        for option in options {
            let mut r = set.item().record();
            r.field("name").string(&option.name);
            r.field("value").string(&option.value);
            r.end();
        }
        set.end();
    });
    rec.opt_str("interface", n.interface.as_ref());
    rec.opt("cpu_affinity", n.cpu_affinity, |o, v| o.integer(v));
    rec.field("env").string_table(&n.env);
    if dialect.has_metrics_port() {
        rec.opt("metrics_port", n.metrics_port, |o, v| o.port(v));
    }
    rec.end();
}

// ---- Management::NodeStatus, NodeOutputs, Result ----------------------------

const NODE_STATUS: &str = "Management::NodeStatus";
const NODE_STATUS_FIELDS: &[&str] = &[
    "node",
    "state",
    "mgmt_role",
    "cluster_role",
    "pid",
    "p",
    "metrics_port",
];

pub(crate) fn decode_node_status(v: In<'_, '_>) -> R<NodeStatus> {
    let rec = v.record(NODE_STATUS, &[6, 7], NODE_STATUS_FIELDS)?;
    Ok(NodeStatus {
        node: rec.req(0, "node", |v| v.string().map(str::to_owned))?,
        state: rec.req(1, "state", In::enumeration::<State>)?,
        mgmt_role: rec
            .opt(2, "mgmt_role", In::enumeration::<Role>)?
            .unwrap_or(Role::None),
        cluster_role: rec
            .opt(3, "cluster_role", In::enumeration::<ClusterRole>)?
            .unwrap_or(ClusterRole::None),
        pid: rec.opt(4, "pid", In::integer)?,
        p: rec.opt(5, "p", In::port)?,
        metrics_port: rec.opt(6, "metrics_port", In::port)?,
    })
}

fn encode_node_status(o: Out<'_>, s: &NodeStatus, dialect: Dialect) {
    let mut rec = o.record();
    rec.field("node").string(&s.node);
    rec.field("state").enumeration(s.state);
    rec.field("mgmt_role").enumeration(s.mgmt_role);
    rec.field("cluster_role").enumeration(s.cluster_role);
    rec.opt("pid", s.pid, |o, v| o.integer(v));
    rec.opt("p", s.p, |o, v| o.port(v));
    if dialect.has_metrics_port() {
        rec.opt("metrics_port", s.metrics_port, |o, v| o.port(v));
    }
    rec.end();
}

pub(crate) fn decode_node_outputs(v: In<'_, '_>) -> R<NodeOutputs> {
    let rec = v.record("Management::NodeOutputs", &[2], &["stdout", "stderr"])?;
    Ok(NodeOutputs {
        stdout: rec.req(0, "stdout", |v| v.string().map(str::to_owned))?,
        stderr: rec.req(1, "stderr", |v| v.string().map(str::to_owned))?,
    })
}

pub(crate) fn encode_node_outputs(o: Out<'_>, n: &NodeOutputs) {
    let mut rec = o.record();
    rec.field("stdout").string(&n.stdout);
    rec.field("stderr").string(&n.stderr);
    rec.end();
}

const RESULT: &str = "Management::Result";
const RESULT_FIELDS: &[&str] = &["reqid", "success", "instance", "data", "error", "node"];

/// Decodes a Result in either field order. Broker: the `seed` layout has a
/// string second (instance) and a bool third (success); later layouts a bool
/// second. Plain JSON is keyed by name, so the order does not matter.
pub(crate) fn decode_result(v: In<'_, '_>) -> R<ResultRecord> {
    let rec = v.record(RESULT, &[6], RESULT_FIELDS)?;
    let seed_layout = v.format == Format::Broker
        && rec.get(1, "").is_some_and(|second| {
            second.json.get("@data-type") == Some(&Json::Str(Cow::Borrowed("string")))
        });
    let (instance_at, success_at) = if seed_layout { (1, 2) } else { (2, 1) };
    Ok(ResultRecord {
        reqid: rec.req(0, "reqid", |v| v.string().map(str::to_owned))?,
        success: rec.opt(success_at, "success", In::bool)?.unwrap_or(true),
        instance: rec.opt(instance_at, "instance", |v| v.string().map(str::to_owned))?,
        data: rec.opt(3, "data", decode_result_data)?,
        error: rec.opt(4, "error", |v| v.string().map(str::to_owned))?,
        node: rec.opt(5, "node", |v| v.string().map(str::to_owned))?,
    })
}

/// Writes a Result in the dialect's layout. `seed` declares `instance` and
/// `error` as strings defaulting to `""`, so they are always written there.
pub(crate) fn encode_result(o: Out<'_>, r: &ResultRecord, dialect: Dialect) {
    let mut rec = o.record();
    rec.field("reqid").string(&r.reqid);
    if dialect == Dialect::Seed {
        rec.field("instance")
            .string(r.instance.as_deref().unwrap_or(""));
        rec.field("success").bool(r.success);
    } else {
        rec.field("success").bool(r.success);
        rec.opt_str("instance", r.instance.as_ref());
    }
    rec.opt("data", r.data.as_ref(), |o, d| {
        encode_result_data(o, d, dialect)
    });
    if dialect == Dialect::Seed {
        rec.field("error").string(r.error.as_deref().unwrap_or(""));
    } else {
        rec.opt_str("error", r.error.as_ref());
    }
    rec.opt_str("node", r.node.as_ref());
    rec.end();
}

pub(crate) fn encode_results(o: Out<'_>, results: &[ResultRecord], dialect: Dialect) {
    let mut seq = o.seq(SeqKind::Vector);
    for r in results {
        encode_result(seq.item(), r, dialect);
    }
    seq.end();
}

pub(crate) fn decode_results(v: In<'_, '_>) -> R<Vec<ResultRecord>> {
    v.seq(SeqKind::Vector, decode_result)
}

/// Decodes `any`-typed Result data: a string, a NodeOutputs record, a
/// NodeStatus vector, or else any value, kept as it came.
fn decode_result_data(v: In<'_, '_>) -> R<ResultData> {
    if let Ok(s) = v.string() {
        return Ok(ResultData::String(s.to_owned()));
    }
    let elements = match v.format {
        Format::Broker => v
            .elements(SeqKind::Vector)
            .ok()
            .map(|e| e.collect::<Vec<_>>()),
        Format::Plain => None,
    };
    let looks_like_outputs = match v.format {
        // Broker: a record is a vector; NodeOutputs is two strings.
        Format::Broker => elements
            .as_ref()
            .is_some_and(|e| e.len() == 2 && e.iter().all(|x| x.string().is_ok())),
        Format::Plain => matches!(v.json, Json::Object(m) if m.len() == 2
            && v.json.get("stdout").is_some() && v.json.get("stderr").is_some()),
    };
    if looks_like_outputs {
        if let Ok(outputs) = decode_node_outputs(v) {
            return Ok(ResultData::NodeOutputs(outputs));
        }
    }
    if let Ok(statuses) = v.seq(SeqKind::Vector, decode_node_status) {
        return Ok(ResultData::NodeStatuses(statuses));
    }
    decode_value(v).map(ResultData::Other)
}

fn encode_result_data(o: Out<'_>, data: &ResultData, dialect: Dialect) {
    match data {
        ResultData::String(s) => o.string(s),
        ResultData::NodeOutputs(n) => encode_node_outputs(o, n),
        ResultData::NodeStatuses(statuses) => {
            let mut seq = o.seq(SeqKind::Vector);
            for s in statuses {
                encode_node_status(seq.item(), s, dialect);
            }
            seq.end();
        }
        ResultData::Other(value) => o.value(value),
    }
}

/// Any value. Broker values keep their exact type; plain JSON maps to the
/// nearest Zeek type.
pub(crate) fn decode_value(v: In<'_, '_>) -> R<Value> {
    match v.format {
        Format::Plain => Ok(plain_value(v.json)),
        Format::Broker => {
            let tag = match v.json.get("@data-type") {
                Some(Json::Str(tag)) => tag.as_ref(),
                _ => return Err(PathError::new("expected a Broker value")),
            };
            let data = v
                .json
                .get("data")
                .ok_or_else(|| PathError::new("Broker value without data"))?;
            let text = || match data {
                Json::Str(s) => Ok(s.to_string()),
                _ => Err(PathError::new(format!(
                    "expected string data for Broker {tag}"
                ))),
            };
            Ok(match tag {
                "none" => Value::None,
                "boolean" => Value::Bool(v.bool()?),
                "count" => Value::Count(v.count()?),
                "integer" => Value::Integer(v.integer()?),
                "real" => match data {
                    Json::Float(f) => Value::Real(*f),
                    Json::Unsigned(n) => Value::Real(*n as f64),
                    Json::Signed(n) => Value::Real(*n as f64),
                    _ => return Err(PathError::new("expected a number for Broker real")),
                },
                "string" => Value::String(text()?),
                "enum-value" => Value::Enum(text()?),
                "address" => Value::Address(v.addr()?),
                "subnet" => Value::Subnet(text()?),
                "port" => Value::Port(v.port()?),
                "timespan" => Value::Timespan(text()?),
                "timestamp" => Value::Timestamp(text()?),
                "vector" => Value::Vector(v.seq(SeqKind::Vector, decode_value)?),
                "set" => Value::Set(v.seq(SeqKind::Set, decode_value)?),
                "table" => {
                    let Json::Array(entries) = data else {
                        return Err(PathError::new("expected an array for Broker table"));
                    };
                    let mut table = Vec::with_capacity(entries.len());
                    for (i, entry) in entries.iter().enumerate() {
                        let (Some(key), Some(value)) = (entry.get("key"), entry.get("value"))
                        else {
                            return Err(PathError::new(
                                "expected a {\"key\": ..., \"value\": ...} entry",
                            )
                            .at_index(i));
                        };
                        let key = decode_value(In::new(key, Format::Broker))
                            .map_err(|e| e.at_index(i))?;
                        let value = decode_value(In::new(value, Format::Broker))
                            .map_err(|e| e.at_index(i))?;
                        table.push((key, value));
                    }
                    Value::Table(table)
                }
                other => {
                    let other = crate::text::escape_for_message(other);
                    return Err(PathError::new(format!("unknown Broker type '{other}'")));
                }
            })
        }
    }
}

fn plain_value(json: &Json<'_>) -> Value {
    match json {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Unsigned(n) => Value::Count(*n),
        Json::Signed(n) => Value::Integer(*n),
        Json::Float(f) => Value::Real(*f),
        Json::Str(s) => Value::String(s.to_string()),
        Json::Array(items) => Value::Vector(items.iter().map(plain_value).collect()),
        Json::Object(members) => Value::Table(
            members
                .iter()
                .map(|(k, v)| (Value::String(k.to_string()), plain_value(v)))
                .collect(),
        ),
    }
}

// ---- Supervisor records -----------------------------------------------------

const CLUSTER_ENDPOINT_FIELDS: &[&str] = &[
    "role",
    "host",
    "p",
    "interface",
    "pcap_file",
    "metrics_port",
];

fn decode_cluster_endpoint(v: In<'_, '_>) -> R<ClusterEndpoint> {
    let rec = v.record(
        "Supervisor::ClusterEndpoint",
        &[4, 5, 6],
        CLUSTER_ENDPOINT_FIELDS,
    )?;
    Ok(ClusterEndpoint {
        role: rec.req(0, "role", In::enumeration::<ClusterRole>)?,
        host: rec.req(1, "host", In::addr)?,
        p: rec.req(2, "p", In::port)?,
        interface: rec.opt(3, "interface", |v| v.string().map(str::to_owned))?,
        pcap_file: rec.opt(4, "pcap_file", |v| v.string().map(str::to_owned))?,
        metrics_port: rec.opt(5, "metrics_port", In::port)?,
    })
}

fn encode_cluster_endpoint(o: Out<'_>, c: &ClusterEndpoint, dialect: Dialect) {
    let mut rec = o.record();
    rec.field("role").enumeration(c.role);
    rec.field("host").addr(c.host);
    rec.field("p").port(c.p);
    rec.opt_str("interface", c.interface.as_ref());
    if dialect.has_new_node_config() {
        rec.opt_str("pcap_file", c.pcap_file.as_ref());
    }
    if dialect.has_metrics_port() {
        rec.opt("metrics_port", c.metrics_port, |o, v| o.port(v));
    }
    rec.end();
}

const NODE_CONFIG_FIELDS: &[&str] = &[
    "name",
    "interface",
    "pcap_file",
    "directory",
    "stdout_file",
    "stderr_file",
    "bare_mode",
    "addl_base_scripts",
    "addl_user_scripts",
    "scripts",
    "env",
    "cpu_affinity",
    "cluster",
];

/// Positions of the NodeConfig fields in one Broker layout.
struct NodeConfigLayout {
    pcap_file: Option<usize>,
    directory: usize,
    addl_base_scripts: Option<usize>,
    addl_user_scripts: Option<usize>,
    scripts: Option<usize>,
    env: usize,
}

impl NodeConfigLayout {
    /// seed and Zeek 5.0: 10 fields; Zeek 6.1+: 12; Zeek 6.0: 13 (plus the
    /// deprecated `scripts` after `addl_user_scripts`).
    fn for_length(len: usize) -> NodeConfigLayout {
        match len {
            10 => NodeConfigLayout {
                pcap_file: None,
                directory: 2,
                addl_base_scripts: None,
                addl_user_scripts: None,
                scripts: Some(6),
                env: 7,
            },
            13 => NodeConfigLayout {
                pcap_file: Some(2),
                directory: 3,
                addl_base_scripts: Some(7),
                addl_user_scripts: Some(8),
                scripts: Some(9),
                env: 10,
            },
            _ => NodeConfigLayout {
                pcap_file: Some(2),
                directory: 3,
                addl_base_scripts: Some(7),
                addl_user_scripts: Some(8),
                scripts: None,
                env: 9,
            },
        }
    }
}

pub(crate) fn decode_node_config(v: In<'_, '_>) -> R<NodeConfig> {
    let rec = v.record("Supervisor::NodeConfig", &[10, 12, 13], NODE_CONFIG_FIELDS)?;
    let at = NodeConfigLayout::for_length(rec.len());
    let string = |v: In<'_, '_>| v.string().map(str::to_owned);
    let strings = |v: In<'_, '_>| v.strings(SeqKind::Vector);
    // Plain JSON is keyed by name: every field is looked up whatever the
    // layout, so index `usize::MAX` stands for "not in this Broker layout".
    let idx = |i: Option<usize>| {
        if v.format == Format::Plain {
            0
        } else {
            i.unwrap_or(usize::MAX)
        }
    };
    let mut scripts = rec
        .opt(idx(at.addl_user_scripts), "addl_user_scripts", strings)?
        .unwrap_or_default();
    scripts.extend(
        rec.opt(idx(at.scripts), "scripts", strings)?
            .unwrap_or_default(),
    );
    let off = at.env - 7; // fields after env shift with the layout
    Ok(NodeConfig {
        name: rec.req(0, "name", string)?,
        interface: rec.opt(1, "interface", string)?,
        pcap_file: rec.opt(idx(at.pcap_file), "pcap_file", string)?,
        directory: rec.opt(at.directory, "directory", string)?,
        stdout_file: rec.opt(at.directory + 1, "stdout_file", string)?,
        stderr_file: rec.opt(at.directory + 2, "stderr_file", string)?,
        bare_mode: rec.opt(at.directory + 3, "bare_mode", In::bool)?,
        addl_base_scripts: rec
            .opt(idx(at.addl_base_scripts), "addl_base_scripts", strings)?
            .unwrap_or_default(),
        scripts,
        env: rec
            .opt(at.env, "env", |v| v.string_table(string))?
            .unwrap_or_default(),
        cpu_affinity: rec.opt(8 + off, "cpu_affinity", In::integer)?,
        cluster: rec
            .opt(9 + off, "cluster", |v| {
                v.string_table(decode_cluster_endpoint)
            })?
            .unwrap_or_default()
            .into(),
    })
}

pub(crate) fn encode_node_config(o: Out<'_>, c: &NodeConfig, dialect: Dialect) {
    let mut rec = o.record();
    rec.field("name").string(&c.name);
    rec.opt_str("interface", c.interface.as_ref());
    if dialect.has_new_node_config() {
        rec.opt_str("pcap_file", c.pcap_file.as_ref());
    }
    rec.opt_str("directory", c.directory.as_ref());
    rec.opt_str("stdout_file", c.stdout_file.as_ref());
    rec.opt_str("stderr_file", c.stderr_file.as_ref());
    rec.opt("bare_mode", c.bare_mode, |o, v| o.bool(v));
    if dialect.has_new_node_config() {
        rec.field("addl_base_scripts")
            .strings(SeqKind::Vector, &c.addl_base_scripts);
        rec.field("addl_user_scripts")
            .strings(SeqKind::Vector, &c.scripts);
    } else {
        // Before Zeek 6.1 there is one list; base scripts load first.
        rec.field("scripts").strings(
            SeqKind::Vector,
            c.addl_base_scripts.iter().chain(&c.scripts),
        );
    }
    rec.field("env").string_table(&c.env);
    rec.opt("cpu_affinity", c.cpu_affinity, |o, v| o.integer(v));
    let mut cluster = rec.field("cluster").table();
    for (name, endpoint) in c.cluster.iter() {
        encode_cluster_endpoint(cluster.entry(name), endpoint, dialect);
    }
    cluster.end();
    rec.end();
}

pub(crate) fn decode_supervisor_status(v: In<'_, '_>) -> R<SupervisorStatus> {
    let rec = v.record("Supervisor::Status", &[1], &["nodes"])?;
    let nodes = rec
        .opt(0, "nodes", |v| {
            v.string_table(|v| {
                let rec = v.record("Supervisor::NodeStatus", &[1, 2], &["node", "pid"])?;
                Ok(SupervisorNodeStatus {
                    node: rec.req(0, "node", decode_node_config)?,
                    pid: rec.opt(1, "pid", In::integer)?,
                })
            })
        })?
        .unwrap_or_default();
    Ok(SupervisorStatus { nodes })
}

pub(crate) fn encode_supervisor_status(o: Out<'_>, s: &SupervisorStatus, dialect: Dialect) {
    let mut rec = o.record();
    let mut nodes = rec.field("nodes").table();
    for (name, status) in &s.nodes {
        let mut ns = nodes.entry(name).record();
        encode_node_config(ns.field("node"), &status.node, dialect);
        ns.opt("pid", status.pid, |o, v| o.integer(v));
        ns.end();
    }
    nodes.end();
    rec.end();
}

// ---- Broker::EndpointInfo -----------------------------------------------------

pub(crate) fn decode_endpoint_info(v: In<'_, '_>) -> R<EndpointInfo> {
    let rec = v.record("Broker::EndpointInfo", &[1, 2], &["id", "network"])?;
    Ok(EndpointInfo {
        id: rec.req(0, "id", |v| v.string().map(str::to_owned))?,
        network: rec.opt(1, "network", |v| {
            let rec = v.record("Broker::NetworkInfo", &[2], &["address", "bound_port"])?;
            Ok(NetworkInfo {
                address: rec.req(0, "address", |v| v.string().map(str::to_owned))?,
                bound_port: rec.req(1, "bound_port", In::port)?,
            })
        })?,
    })
}

pub(crate) fn encode_endpoint_info(o: Out<'_>, e: &EndpointInfo) {
    let mut rec = o.record();
    rec.field("id").string(&e.id);
    rec.opt("network", e.network.as_ref(), |o, n| {
        let mut r = o.record();
        r.field("address").string(&n.address);
        r.field("bound_port").port(n.bound_port);
        r.end();
    });
    rec.end();
}
