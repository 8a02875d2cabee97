//! Certificates as JSON, in the schema of the certification oracle:
//! `null` for abstain / not certified, `"inf"` for an infinite radius.

use csrs_stats::{Certificate, CostSensitiveCertificate, CurveError, HarmRadius, LevelRadius, Radius};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// How an infinite radius is written (JSON has no infinity).
const INFINITE: &str = "inf";

/// The `result` object of `certify-counts`.
///
/// `certified_cost` is the curve of `[level, radius]` pairs (null in
/// standard mode): the certified cost at ε is the first level whose radius
/// is at least ε. Radii are written with every digit, never rounded up.
#[derive(Debug, Serialize)]
pub struct CertificateJson {
    predicted: usize,
    abstain: bool,
    p_lower: f64,
    radius_std: Option<f64>,
    radius_cs: RadiusCell,
    certified_cost: Option<Curve>,
}

impl From<&Certificate> for CertificateJson {
    fn from(cert: &Certificate) -> Self {
        let cost_sensitive = cert.cost_sensitive.as_ref();
        CertificateJson {
            predicted: cert.predicted,
            abstain: cert.abstains(),
            p_lower: cert.p_lower,
            radius_std: standard_radius(cert),
            radius_cs: cost_sensitive_radius(cert),
            certified_cost: cost_sensitive.map(Curve::of),
        }
    }
}

/// The standard radius, `None` on abstain.
pub fn standard_radius(cert: &Certificate) -> Option<f64> {
    cert.standard.radius().map(Radius::get)
}

/// The cost-sensitive radius (not certified in standard mode).
pub fn cost_sensitive_radius(cert: &Certificate) -> RadiusCell {
    RadiusCell(cert.cost_sensitive.as_ref().map_or(HarmRadius::NotCertified, CostSensitiveCertificate::radius))
}

/// A radius as written: `null` when not certified, a positive number, or
/// `"inf"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusCell(pub HarmRadius);

impl Serialize for RadiusCell {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            HarmRadius::NotCertified => serializer.serialize_none(),
            HarmRadius::Certified(radius) => serializer.serialize_f64(radius.get()),
            HarmRadius::Infinite => serializer.serialize_str(INFINITE),
        }
    }
}

impl<'de> Deserialize<'de> for RadiusCell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(RadiusCell(HarmRadius::NotCertified)),
            Value::String(text) if text == INFINITE => Ok(RadiusCell(HarmRadius::Infinite)),
            other => {
                other.as_f64().and_then(Radius::new).map(|r| RadiusCell(HarmRadius::Certified(r))).ok_or_else(|| {
                    D::Error::custom(format!("radius {other}, expected a positive number, null or \"{INFINITE}\""))
                })
            }
        }
    }
}

/// A cost-sensitive certificate's curve as `[level, radius]` pairs, checked
/// when read: levels from 0, strictly increasing, radii never shrinking as
/// the level rises, and infinite at the top level only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(f64, RadiusCell)>")]
pub struct Curve(Vec<(f64, RadiusCell)>);

impl Curve {
    pub fn of(cert: &CostSensitiveCertificate) -> Self {
        Curve(cert.levels().iter().map(|level| (level.level, RadiusCell(level.radius))).collect())
    }

    fn levels(&self) -> Vec<LevelRadius> {
        self.0.iter().map(|&(level, RadiusCell(radius))| LevelRadius { level, radius }).collect()
    }

    /// The certificate this curve describes.
    pub fn certificate(&self, strongest_harmful: usize) -> CostSensitiveCertificate {
        CostSensitiveCertificate::new(self.levels(), strongest_harmful).expect("a curve is checked when built")
    }
}

impl TryFrom<Vec<(f64, RadiusCell)>> for Curve {
    type Error = CurveError;

    fn try_from(points: Vec<(f64, RadiusCell)>) -> Result<Self, CurveError> {
        let curve = Curve(points);
        CostSensitiveCertificate::new(curve.levels(), 0)?;
        Ok(curve)
    }
}
