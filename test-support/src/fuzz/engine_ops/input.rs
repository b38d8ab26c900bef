//! The raw fuzz input of a scenario: the bytes `Arbitrary` reads back as it.

use super::model::*;

/// Writes the bytes `Arbitrary` (arbitrary 1.x, derived) reads back as a
/// given value: integers little-endian, `bool` as one byte, enum variants
/// as a `u32` scaled to the variant count, collections as a "one more"
/// byte before each element and a final 0 (none at the very end, where
/// `arbitrary_take_rest` reads until the input runs out). The fuzz target
/// checks the inverse on every scenario it writes as a seed.
struct Bytes(Vec<u8>);

impl Bytes {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }

    /// Variant `index` of `count`: the least `x` with `x * count >> 32 == index`.
    fn variant(&mut self, index: u64, count: u64) {
        let x = (index << 32).div_ceil(count);
        self.0
            .extend_from_slice(&u32::try_from(x).unwrap_or(u32::MAX).to_le_bytes());
    }

    fn choice<T: Copy + PartialEq>(&mut self, all: &[T], v: T) {
        let index = all.iter().position(|c| *c == v).unwrap_or(0);
        self.variant(index as u64, all.len() as u64);
    }

    fn seq<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Bytes, &T), terminated: bool) {
        for item in items {
            self.bool(true);
            each(self, item);
        }
        if terminated {
            self.bool(false);
        }
    }
}

const DIALECTS: [DialectChoice; 4] = [
    DialectChoice::Seed,
    DialectChoice::Zeek5,
    DialectChoice::Zeek6,
    DialectChoice::Zeek7,
];
const OUTS: [OutChoice; 3] = [OutChoice::Auto, OutChoice::Broker, OutChoice::Plain];
const INS: [InChoice; 3] = [InChoice::Broker, InChoice::Plain, InChoice::Alternate];
const ROLES: [RoleChoice; 5] = [
    RoleChoice::None,
    RoleChoice::Logger,
    RoleChoice::Manager,
    RoleChoice::Proxy,
    RoleChoice::Worker,
];
const OUTCOMES: [Outcome; 2] = [Outcome::Ok, Outcome::Fail];
const REPORTS: [ReportKind; 5] = [
    ReportKind::Spawned,
    ReportKind::Ready,
    ReportKind::Crashed,
    ReportKind::Failed,
    ReportKind::Output,
];
const ANSWERS: [AnswerKind; 4] = [
    AnswerKind::Created,
    AnswerKind::Destroyed,
    AnswerKind::Restarted,
    AnswerKind::Status,
];
/// The number of [`Op`] variants.
const OPS: u64 = 16;

impl Scenario {
    /// The raw fuzz input this scenario is parsed from (a seed for the
    /// fuzzer made from a saved scenario).
    pub fn to_fuzz_input(&self) -> Vec<u8> {
        let mut b = Bytes(Vec::new());
        let s = &self.setup;
        b.bool(s.host_supervisor);
        b.choice(&DIALECTS, s.dialect);
        b.choice(&OUTS, s.outbound);
        b.choice(&INS, s.inbound);
        b.u8(s.request_timeout);
        b.u8(s.stage_wait);
        b.u8(s.supervisor_timeout);
        b.seq(&self.ops, |b, op| op.write(b), false);
        b.0
    }
}

impl Op {
    fn write(&self, b: &mut Bytes) {
        let nums = |b: &mut Bytes, v: &[u8]| b.seq(v, |b, n| b.u8(*n), true);
        match self {
            Op::Deploy {
                reqid,
                config,
                force,
                set_configuration,
            } => {
                b.variant(0, OPS);
                b.u8(*reqid);
                b.u8(config.id);
                b.bool(config.listen_port);
                b.seq(
                    &config.nodes,
                    |b, n| {
                        b.u8(n.name);
                        b.choice(&ROLES, n.role);
                        b.u8(n.instance);
                        b.u8(n.port);
                        b.bool(n.metrics_port);
                        b.u8(n.scripts);
                    },
                    true,
                );
                b.bool(*force);
                b.bool(*set_configuration);
            }
            Op::GetNodes { reqid } => {
                b.variant(1, OPS);
                b.u8(*reqid);
            }
            Op::Dispatch { reqid, nodes } => {
                b.variant(2, OPS);
                b.u8(*reqid);
                nums(b, nodes);
            }
            Op::Restart { reqid, nodes } => {
                b.variant(3, OPS);
                b.u8(*reqid);
                nums(b, nodes);
            }
            Op::Welcome { reqid } => {
                b.variant(4, OPS);
                b.u8(*reqid);
            }
            Op::Standby { reqid } => {
                b.variant(5, OPS);
                b.u8(*reqid);
            }
            Op::Answer { which, outcome } => {
                b.variant(6, OPS);
                b.u8(*which);
                b.choice(&OUTCOMES, *outcome);
            }
            Op::Drop { which } => {
                b.variant(7, OPS);
                b.u8(*which);
            }
            Op::StaleAnswer {
                which,
                kind,
                outcome,
            } => {
                b.variant(8, OPS);
                b.u8(*which);
                b.choice(&ANSWERS, *kind);
                b.choice(&OUTCOMES, *outcome);
            }
            Op::Hello { node } => {
                b.variant(9, OPS);
                b.u8(*node);
            }
            Op::Report { node, kind } => {
                b.variant(10, OPS);
                b.u8(*node);
                b.choice(&REPORTS, *kind);
            }
            Op::DispatchAnswer {
                which,
                node,
                success,
            } => {
                b.variant(11, OPS);
                b.u8(*which);
                b.u8(*node);
                b.bool(*success);
            }
            Op::Peer { supervisor, lost } => {
                b.variant(12, OPS);
                b.bool(*supervisor);
                b.bool(*lost);
            }
            Op::Advance { ms, fire } => {
                b.variant(13, OPS);
                b.u16(*ms);
                b.bool(*fire);
            }
            Op::FireDue => b.variant(14, OPS),
            Op::Foreign { kind } => {
                b.variant(15, OPS);
                b.u8(*kind);
            }
        }
    }
}
