//! Zeek enums of the management framework, written with their scope
//! (`Supervisor::WORKER`, `Management::RUNNING`) as Zeek and Broker do.

/// Common behaviour of the Zeek enums the agent speaks.
pub trait ZeekEnum: Sized + Copy + 'static {
    /// The Zeek module the enum lives in (`Management`, `Supervisor`).
    const SCOPE: &'static str;
    /// The Zeek type name, for error messages.
    const TYPE_NAME: &'static str;
    /// Every value, in declaration order.
    const ALL: &'static [Self];

    /// The bare Zeek name of the value (`WORKER`).
    fn name(self) -> &'static str;

    /// The scoped name (`Supervisor::WORKER`).
    fn scoped(self) -> String {
        format!("{}::{}", Self::SCOPE, self.name())
    }

    /// Parses the scoped name, or the bare name in any case (as zeek-client
    /// writes it in JSON).
    fn parse(text: &str) -> Option<Self> {
        match text.split_once("::") {
            Some((scope, bare)) if scope == Self::SCOPE => {
                Self::ALL.iter().copied().find(|v| v.name() == bare)
            }
            Some(_) => None,
            None => Self::ALL
                .iter()
                .copied()
                .find(|v| v.name().eq_ignore_ascii_case(text)),
        }
    }
}

macro_rules! zeek_enum {
    ($(#[$meta:meta])* $ty:ident, $scope:literal, $type_name:literal, { $($(#[$vmeta:meta])* $variant:ident => $name:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty {
            $($(#[$vmeta])* $variant),+
        }

        impl ZeekEnum for $ty {
            const SCOPE: &'static str = $scope;
            const TYPE_NAME: &'static str = $type_name;
            const ALL: &'static [Self] = &[$($ty::$variant),+];

            fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }
    };
}

zeek_enum!(
    /// `Supervisor::ClusterRole`: the role a Zeek process plays in the cluster.
    ClusterRole, "Supervisor", "Supervisor::ClusterRole", {
        None => "NONE",
        Logger => "LOGGER",
        Manager => "MANAGER",
        Proxy => "PROXY",
        Worker => "WORKER",
    }
);

zeek_enum!(
    /// `Management::State`: the run state of a cluster node.
    State, "Management", "Management::State", {
        /// Not yet running.
        Pending => "PENDING",
        /// Running and operating normally (it checked in).
        Running => "RUNNING",
        /// Explicitly stopped.
        Stopped => "STOPPED",
        /// Failed to start, permanently halted.
        Failed => "FAILED",
        /// Crashed, will be restarted.
        Crashed => "CRASHED",
        /// Not known.
        Unknown => "UNKNOWN",
    }
);

zeek_enum!(
    /// `Management::Role`: a process's role in cluster management.
    Role, "Management", "Management::Role", {
        None => "NONE",
        Agent => "AGENT",
        Controller => "CONTROLLER",
        Node => "NODE",
    }
);

impl ClusterRole {
    /// Position in the start order loggers -> manager -> proxies -> workers
    /// (ZeekControl's order; Zeek issue #2479).
    pub fn start_stage(self) -> usize {
        match self {
            ClusterRole::Logger => 0,
            ClusterRole::Manager => 1,
            ClusterRole::Proxy => 2,
            ClusterRole::Worker | ClusterRole::None => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_and_bare_names_parse() {
        assert_eq!(
            ClusterRole::parse("Supervisor::WORKER"),
            Some(ClusterRole::Worker)
        );
        assert_eq!(ClusterRole::parse("WORKER"), Some(ClusterRole::Worker));
        assert_eq!(ClusterRole::parse("worker"), Some(ClusterRole::Worker));
        assert_eq!(State::parse("Management::RUNNING"), Some(State::Running));
        assert_eq!(State::parse("running"), Some(State::Running));
    }

    #[test]
    fn wrong_scope_or_case_inside_scope_is_refused() {
        assert_eq!(ClusterRole::parse("Management::WORKER"), None);
        assert_eq!(ClusterRole::parse("Supervisor::worker"), None);
        assert_eq!(State::parse("Management::BOGUS"), None);
        assert_eq!(State::parse(""), None);
    }

    #[test]
    fn scoped_names_round_trip() {
        for role in ClusterRole::ALL {
            assert_eq!(ClusterRole::parse(&role.scoped()), Some(*role));
        }
        for state in State::ALL {
            assert_eq!(State::parse(&state.scoped()), Some(*state));
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(&role.scoped()), Some(*role));
        }
    }
}
