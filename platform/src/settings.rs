//! How the platform is set up (the configuration file and the command line fill it in):
//! where its data and workspaces are, its defaults, the gate's secret, the public
//! side's presentation and limits.

use std::net::IpAddr;
use std::path::PathBuf;

use governance::accounts::Quotas;
use governance::progress::ReportSchedule;
use sandbox::JobLimits;
use workbench::gate::GateSettings;

/// How the platform is set up: where its data and workspaces are, and its defaults.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The public-credit data folder (checked against the catalog at start).
    pub data_dir: PathBuf,
    /// The folder holding every institution's workspace.
    pub workspaces_dir: PathBuf,
    /// Jobs running at once, platform-wide.
    pub job_slots: usize,
    /// Limits of each job.
    pub job_limits: JobLimits,
    /// The program each running job is a process of: `creditpool job-worker`, by
    /// default the running binary's own.
    pub job_worker: workbench::worker::WorkerCommand,
    /// Cores kept free of jobs for the public side and the server (the first ones it may
    /// use; jobs run on the others, or on every core when there are no others): 1 by
    /// default, 0 lets jobs run on every core.
    pub reserved_cores: usize,
    /// Quotas given to a newly opened account.
    pub default_quotas: Quotas,
    /// When progress reports are due.
    pub reports: ReportSchedule,
    /// Reviewers an application needs at least (BRIEF P3: three by default).
    pub min_reviewers: usize,
    /// The output gate: sample caps, thresholds and its secret.
    pub gate: GateSettings,
    /// Disclosure windows of the public side (BRIEF Q2).
    pub disclosure: policies::disclosure::Rules,
    /// How the public side presents itself (reports, letters).
    pub public: PublicSettings,
    /// Anonymous requests to `/api/v1/public/…` per client address.
    pub public_rate: PublicRate,
    /// The platform's own reverse proxies (addresses or networks): requests from them
    /// are attributed to the client their `X-Forwarded-For` names.
    pub trusted_proxies: Vec<Network>,
    /// The working-day calendar's shipped years; those added since are in the database.
    pub calendar: policies::calendar::Calendar,
    /// Who gives a second factor at login, and the key its secrets are sealed with.
    pub second_factor: governance::second_factor::SecondFactorSettings,
    /// Jobs may run where the kernel cannot confine their workers to their files (no
    /// Landlock); off by default, when such a server refuses to start.
    pub allow_unconfined_jobs: bool,
}

/// How the public side presents itself (BRIEF Q5, Q7).
#[derive(Clone, Debug)]
pub struct PublicSettings {
    /// The address the public reaches the platform at: report QR codes point here.
    pub base_url: String,
    /// The TrueType font (file or collection, face 0) reports and letters are set in.
    pub font: PathBuf,
    /// The issuer named on reports and letters (报告出具单位).
    pub issuer: String,
    /// Contact line of verification letters (联系人及联系方式).
    pub contact: String,
}

impl Default for PublicSettings {
    fn default() -> Self {
        PublicSettings {
            base_url: "http://127.0.0.1:8080".into(),
            font: ::public::pdf::DEFAULT_FONT.into(),
            issuer: "浙江省公共信用信息平台".into(),
            contact: "信用信息服务窗口，电话：0571-12345678".into(),
        }
    }
}

impl Settings {
    /// Defaults for data in `data_dir` and workspaces in `workspaces_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, workspaces_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            data_dir: data_dir.into(),
            workspaces_dir: workspaces_dir.into(),
            job_slots: 2,
            job_limits: JobLimits::default(),
            job_worker: workbench::worker::WorkerCommand::current_exe(),
            reserved_cores: 1,
            default_quotas: Quotas::default(),
            reports: ReportSchedule::default(),
            min_reviewers: governance::review::MIN_REVIEWERS,
            gate: GateSettings::new(workbench::gate::new_secret()),
            disclosure: policies::disclosure::Rules::default(),
            public: PublicSettings::default(),
            public_rate: PublicRate::default(),
            trusted_proxies: Vec::new(),
            calendar: policies::calendar::Calendar::builtin().clone(),
            second_factor: governance::second_factor::SecondFactorSettings::new(
                workbench::gate::new_secret(),
            ),
            allow_unconfined_jobs: false,
        }
    }
}

/// How many anonymous requests to `/api/v1/public/…` one client address may make: a
/// sustained rate and a burst (a token bucket per address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicRate {
    /// Requests a minute, sustained; 0 turns the limit off.
    pub per_minute: u32,
    /// Requests at once after a quiet spell.
    pub burst: u32,
}

impl Default for PublicRate {
    /// Ample for a person at a browser or a page of lookups; not for harvesting.
    fn default() -> Self {
        PublicRate {
            per_minute: 1_200,
            burst: 100,
        }
    }
}

/// An address or a network of them (`10.0.0.0/8`, `fd00::/8`): where the platform's
/// reverse proxies may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is in the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let bits = |a: IpAddr| match a.to_canonical() {
            IpAddr::V4(v4) => (u128::from(v4.to_bits()) << 96, 32u8, false),
            IpAddr::V6(v6) => (v6.to_bits(), 128u8, true),
        };
        let (net, width, v6) = bits(self.address);
        let (other, _, other_v6) = bits(*ip);
        if v6 != other_v6 {
            return false;
        }
        let prefix = u32::from(self.prefix.min(width));
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        net & mask == other & mask
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let bad = || format!("'{s}' is not an address or a network such as 10.0.0.0/8");
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let written: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let width: u8 = if written.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
            None => width,
        };
        let address = written.to_canonical();
        // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it maps.
        let prefix = if address.is_ipv4() && !written.is_ipv4() {
            prefix.checked_sub(96).ok_or_else(bad)?
        } else {
            prefix
        };
        if prefix == 0 {
            return Err(format!(
                "'{s}' trusts every address: any client could name its own address; list the proxies' addresses or networks"
            ));
        }
        Ok(Network { address, prefix })
    }
}

impl<'de> serde::Deserialize<'de> for Network {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Network, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
