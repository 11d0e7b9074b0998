//! The verdict matrix: for each (on-premises prefix, Azure prefix) pair and
//! each state, the trip of the probe each way and what they add up to.

use ipnet::IpNet;
use serde::Serialize;

use super::probe::Trip;

/// What a pair's two probes add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Both directions crossed the circuit inside ESP.
    Encrypted,
    /// Both directions crossed in plaintext and no must-encrypt policy
    /// covers them: the design sends this pair over plain ExpressRoute.
    Plain,
    /// One direction inside ESP, the other in plaintext: half of every
    /// conversation leaks (and stateful firewalls see half of it).
    Asymmetric,
    /// A direction crossed in plaintext where a must-encrypt policy says
    /// it must be encrypted.
    Leak,
    /// A direction did not arrive (no route, a down link, a fail-closed
    /// policy drop, a loop).
    Blackholed,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 5] = [
        Verdict::Encrypted,
        Verdict::Plain,
        Verdict::Asymmetric,
        Verdict::Leak,
        Verdict::Blackholed,
    ];

    /// Judges a pair from its two trips.
    pub fn of(forward: &Trip, reverse: &Trip) -> Verdict {
        if !forward.arrived || !reverse.arrived {
            Verdict::Blackholed
        } else if forward.violation || reverse.violation {
            Verdict::Leak
        } else {
            match (forward.encrypted(), reverse.encrypted()) {
                (true, true) => Verdict::Encrypted,
                (false, false) => Verdict::Plain,
                _ => Verdict::Asymmetric,
            }
        }
    }

    /// True for the verdicts that fail `erdp verify` (exit code 1):
    /// asymmetric, leak, blackholed.
    pub fn fails(self) -> bool {
        matches!(
            self,
            Verdict::Asymmetric | Verdict::Leak | Verdict::Blackholed
        )
    }

    /// Its name in the matrix.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Encrypted => "encrypted",
            Verdict::Plain => "plain",
            Verdict::Asymmetric => "ASYMMETRIC",
            Verdict::Leak => "LEAK",
            Verdict::Blackholed => "BLACKHOLED",
        }
    }
}

/// One cell of the matrix: a pair in a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairResult {
    /// The state's name.
    pub state: String,
    /// The on-premises prefix.
    pub onprem: IpNet,
    /// The Azure prefix.
    pub azure: IpNet,
    /// The probe from on-premises to Azure.
    pub onprem_to_azure: Trip,
    /// The probe from Azure to on-premises.
    pub azure_to_onprem: Trip,
    /// What they add up to.
    pub verdict: Verdict,
}

impl PairResult {
    /// The pair's line in the printed matrix.
    pub fn line(&self) -> String {
        format!(
            "{:<18} {:<18} {:<40} {:<40} {}",
            self.onprem.to_string(),
            self.azure.to_string(),
            self.onprem_to_azure.path(),
            self.azure_to_onprem.path(),
            self.verdict.as_str()
        )
    }
}

/// Pairs per verdict in one state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StateTotals {
    /// The state's name.
    pub state: String,
    /// Pairs judged encrypted.
    pub encrypted: usize,
    /// Plain both ways.
    pub plain: usize,
    /// Asymmetric.
    pub asymmetric: usize,
    /// Leaks.
    pub leak: usize,
    /// Blackholed.
    pub blackholed: usize,
}

impl StateTotals {
    /// Counts `results` (the cells of state `state`).
    pub fn of<'r>(state: &str, results: impl Iterator<Item = &'r PairResult>) -> Self {
        let mut totals = StateTotals {
            state: state.to_string(),
            ..StateTotals::default()
        };
        for result in results {
            *match result.verdict {
                Verdict::Encrypted => &mut totals.encrypted,
                Verdict::Plain => &mut totals.plain,
                Verdict::Asymmetric => &mut totals.asymmetric,
                Verdict::Leak => &mut totals.leak,
                Verdict::Blackholed => &mut totals.blackholed,
            } += 1;
        }
        totals
    }

    /// Pairs with a failing verdict.
    pub fn failing(&self) -> usize {
        self.asymmetric + self.leak + self.blackholed
    }
}

/// The counts as `erdp verify` prints them: `encrypted 3, plain 0, ...`.
impl std::fmt::Display for StateTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "encrypted {}, plain {}, asymmetric {}, leak {}, blackholed {}",
            self.encrypted, self.plain, self.asymmetric, self.leak, self.blackholed
        )
    }
}
