//! Records of `csrs certify`: one certified example per line (SPEC §7).

use anyhow::{anyhow, bail};
use csrs_stats::metrics::CertifiedExample;
use csrs_stats::{Certificate, ClassCounts, CostSensitiveCertificate, Radius, StandardCertificate};
use serde::{Deserialize, Serialize};

use crate::json::{Curve, RadiusCell, cost_sensitive_radius, standard_radius};
use crate::row::{Row, check_class};

/// One certified example (SPEC §7).
#[derive(Debug, Clone, PartialEq)]
pub struct CertifyRow {
    index: usize,
    label: usize,
    /// The base model's class for the clean input (no noise).
    base_predicted: Option<usize>,
    certificate: Certificate,
    /// Estimation draws classified as the prediction.
    count_predicted: u64,
    /// Estimation draws classified as the strongest harmful class.
    count_harmful: Option<u64>,
    /// Estimation draws made: n, or fewer when drawn in rounds.
    draws: Option<u64>,
    /// How an input drawn in rounds ended; `None` for a fixed n (there was
    /// nothing to decide) and in records from before csrs recorded it.
    decision: Option<Decision>,
    seconds: f64,
}

/// How the rounds of an input drawn until a stop rule is answered
/// (`--target-radius`, `--radius-tolerance`) ended: the `decided` column,
/// `true` or `false` (empty or `null` for a fixed n, where there was
/// nothing to decide, and in records from before the column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The rule was answered: at the target radius, the input is certified
    /// or known to be out of reach of more draws.
    Decided,
    /// The draws (n) ran out first: more of them could still certify the
    /// input at the target radius.
    OutOfDraws,
}

impl CertifyRow {
    /// The row of example `index` (of class `label`) from its certificate
    /// and the estimation counts it was made from; `base_predicted` is the
    /// base model's class for the clean input, and `seconds` the time spent.
    pub fn new(
        index: usize,
        label: usize,
        base_predicted: Option<usize>,
        certificate: Certificate,
        estimation: &ClassCounts,
        seconds: f64,
    ) -> Self {
        let count_predicted = estimation.count(certificate.predicted);
        let count_harmful = certificate.cost_sensitive.as_ref().map(|cs| estimation.count(cs.strongest_harmful()));
        let draws = Some(estimation.total());
        let decision = None;
        CertifyRow {
            index,
            label,
            base_predicted,
            certificate,
            count_predicted,
            count_harmful,
            draws,
            decision,
            seconds,
        }
    }

    /// This row, of an input drawn in rounds, with how its rounds ended.
    #[must_use]
    pub fn decided(self, decision: Decision) -> Self {
        CertifyRow { decision: Some(decision), ..self }
    }

    /// The example as the metrics see it.
    pub fn example(&self) -> CertifiedExample {
        CertifiedExample {
            label: self.label,
            certificate: self.certificate.clone(),
            base_predicted: self.base_predicted,
        }
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The estimation draws made (`None` in records from before csrs
    /// recorded them).
    pub fn draws(&self) -> Option<u64> {
        self.draws
    }

    /// How the input's rounds ended (`None` for a fixed n, and in records
    /// from before csrs recorded it).
    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }
}

/// A line of certify records (SPEC §7), in column order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifyRecord {
    index: usize,
    label: usize,
    base_predicted: Option<usize>,
    predicted: usize,
    abstain: bool,
    p_lower: f64,
    radius_std: Option<f64>,
    radius_cs: RadiusCell,
    certified_cost: Option<Curve>,
    count_predicted: u64,
    harmful_class: Option<usize>,
    count_harmful: Option<u64>,
    draws: Option<u64>,
    /// `true`: decided; `false`: out of draws; `None`: a fixed n.
    decided: Option<bool>,
    seconds: f64,
}

impl Row for CertifyRow {
    type Record = CertifyRecord;

    /// Records from before csrs recorded the base model's prediction, the
    /// draws made, and how rounds ended.
    const LATER_COLUMNS: &'static [&'static str] = &["base_predicted", "draws", "decided"];

    fn check_classes(&self, classes: usize) -> anyhow::Result<()> {
        check_class("label", self.label, classes)?;
        if let Some(base) = self.base_predicted {
            check_class("base_predicted", base, classes)?;
        }
        check_class("predicted", self.certificate.predicted, classes)?;
        match &self.certificate.cost_sensitive {
            Some(cs) => check_class("harmful_class", cs.strongest_harmful(), classes),
            None => Ok(()),
        }
    }

    fn index(&self) -> usize {
        self.index
    }

    fn to_record(&self) -> CertifyRecord {
        let cert = &self.certificate;
        let cost_sensitive = cert.cost_sensitive.as_ref();
        CertifyRecord {
            index: self.index,
            label: self.label,
            base_predicted: self.base_predicted,
            predicted: cert.predicted,
            abstain: cert.abstains(),
            p_lower: cert.p_lower,
            radius_std: standard_radius(cert),
            radius_cs: cost_sensitive_radius(cert),
            certified_cost: cost_sensitive.map(Curve::of),
            count_predicted: self.count_predicted,
            harmful_class: cost_sensitive.map(CostSensitiveCertificate::strongest_harmful),
            count_harmful: self.count_harmful,
            draws: self.draws,
            decided: self.decision.map(|decision| decision == Decision::Decided),
            seconds: self.seconds,
        }
    }

    fn from_record(record: CertifyRecord) -> anyhow::Result<Self> {
        if !(0.0..=1.0).contains(&record.p_lower) {
            bail!("p_lower: {}, expected a probability in [0, 1]", record.p_lower);
        }
        if record.harmful_class.is_none() && record.count_harmful.is_some() {
            bail!("count_harmful: given, but harmful_class is null");
        }
        let standard = match record.radius_std {
            None => StandardCertificate::Abstain,
            Some(r) => StandardCertificate::Certified(
                Radius::new(r).ok_or_else(|| anyhow!("radius_std: {r}, expected a positive number or null"))?,
            ),
        };
        if record.abstain != (standard == StandardCertificate::Abstain) {
            bail!("abstain: {}, but radius_std is {:?}", record.abstain, record.radius_std);
        }
        let cost_sensitive = match (&record.certified_cost, record.harmful_class) {
            (None, None) => None,
            (Some(curve), Some(harmful)) => Some(curve.certificate(harmful)),
            (Some(_), None) => bail!("harmful_class: null, but certified_cost has a curve"),
            (None, Some(_)) => bail!("harmful_class: given, but certified_cost is null"),
        };
        let certificate =
            Certificate { predicted: record.predicted, p_lower: record.p_lower, standard, cost_sensitive };
        if record.radius_cs != cost_sensitive_radius(&certificate) {
            bail!("radius_cs: {:?}, but certified_cost gives another radius", record.radius_cs.0);
        }
        Ok(CertifyRow {
            index: record.index,
            label: record.label,
            base_predicted: record.base_predicted,
            certificate,
            count_predicted: record.count_predicted,
            count_harmful: record.count_harmful,
            draws: record.draws,
            decision: record.decided.map(|decided| if decided { Decision::Decided } else { Decision::OutOfDraws }),
            seconds: record.seconds,
        })
    }
}

/// The rows whose draws ran out before their stop rule was answered, when
/// any row records how its rounds ended (none does for a fixed n, nor in
/// records from before csrs recorded it).
pub fn out_of_draws(rows: &[CertifyRow]) -> Option<usize> {
    rows.iter()
        .any(|row| row.decision.is_some())
        .then(|| rows.iter().filter(|row| row.decision == Some(Decision::OutOfDraws)).count())
}

/// The estimation draws per row on average, when every row records them.
pub fn mean_draws(rows: &[CertifyRow]) -> Option<f64> {
    let draws: Option<u64> = rows.iter().map(|row| row.draws).sum();
    draws.filter(|_| !rows.is_empty()).map(|draws| draws as f64 / rows.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::field_names;
    use crate::json::CertificateJson;

    /// Records carry the certificate under the keys `certify-counts` gives
    /// it, in the same order (two types, one schema).
    #[test]
    fn records_hold_the_certificate_keys_of_certify_counts() {
        let radius = Radius::new(0.5).unwrap();
        let cert = Certificate {
            predicted: 1,
            p_lower: 0.9,
            standard: StandardCertificate::Certified(radius),
            cost_sensitive: None,
        };
        let json = serde_json::to_value(CertificateJson::from(&cert)).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let columns = field_names::<CertifyRecord>();
        let start = columns.iter().position(|c| *c == keys[0]).unwrap();
        assert_eq!(&columns[start..start + keys.len()], keys);
    }
}
