//! Certificates as JSON, in the schema of the certification oracle:
//! `null` for abstain / not certified, `"inf"` for an infinite radius.

use csrs_stats::{Certificate, HarmRadius};
use serde_json::{Value, json};

/// The `result` object of `certify-counts`: `predicted`, `abstain`,
/// `p_lower`, `radius_std`, `radius_cs`, `certified_cost`.
///
/// `certified_cost` is the curve of `[level, radius]` pairs (null in
/// standard mode): the certified cost at ε is the first level whose radius
/// is at least ε. Radii are written with every digit, never rounded up.
pub(crate) fn certificate(cert: &Certificate) -> Value {
    let cost_sensitive = cert.cost_sensitive.as_ref();
    json!({
        "predicted": cert.predicted,
        "abstain": cert.abstains(),
        "p_lower": cert.p_lower,
        "radius_std": cert.standard.radius().map_or(Value::Null, |r| json!(r.get())),
        "radius_cs": cost_sensitive.map_or(Value::Null, |cs| harm_radius(cs.radius())),
        "certified_cost": cost_sensitive.map(|cs| {
            cs.levels().iter().map(|level| json!([level.level, harm_radius(level.radius)])).collect::<Vec<_>>()
        }),
    })
}

fn harm_radius(radius: HarmRadius) -> Value {
    match radius {
        HarmRadius::NotCertified => Value::Null,
        HarmRadius::Certified(r) => json!(r.get()),
        HarmRadius::Infinite => json!("inf"),
    }
}

/// The certificate fields of a record read back: the inverse of
/// [`certificate`] (plus the strongest harmful class, which records keep).
pub(crate) fn parse_certificate(
    cells: &serde_json::Map<String, Value>,
    strongest_harmful: Option<usize>,
) -> anyhow::Result<Certificate> {
    use anyhow::{anyhow, bail};
    use csrs_stats::{CostSensitiveCertificate, LevelRadius, Radius, StandardCertificate};

    let radius = |value: &Value| -> anyhow::Result<HarmRadius> {
        match value {
            Value::Null => Ok(HarmRadius::NotCertified),
            Value::String(s) if s == "inf" => Ok(HarmRadius::Infinite),
            other => other
                .as_f64()
                .and_then(Radius::new)
                .map(HarmRadius::Certified)
                .ok_or_else(|| anyhow!("radius {other}, expected a positive number, null or \"inf\"")),
        }
    };
    let predicted = crate::records::unsigned(cells, "predicted")? as usize;
    let p_lower = crate::records::optional_number(cells, "p_lower")?.ok_or_else(|| anyhow!("`p_lower` is missing"))?;
    let standard = match crate::records::optional_number(cells, "radius_std")? {
        None => StandardCertificate::Abstain,
        Some(r) => {
            StandardCertificate::Certified(Radius::new(r).ok_or_else(|| anyhow!("radius_std {r} is not positive"))?)
        }
    };
    let cost_sensitive = match cells.get("certified_cost") {
        None | Some(Value::Null) => None,
        Some(Value::Array(curve)) => {
            let levels = curve
                .iter()
                .map(|point| match point.as_array().map(Vec::as_slice) {
                    Some([level, r]) => Ok(LevelRadius {
                        level: level.as_f64().ok_or_else(|| anyhow!("level {level} is not a number"))?,
                        radius: radius(r)?,
                    }),
                    _ => bail!("certified_cost point {point}, expected [level, radius]"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let strongest_harmful = strongest_harmful.ok_or_else(|| anyhow!("`harmful_class` is missing"))?;
            Some(CostSensitiveCertificate::new(levels, strongest_harmful).map_err(|e| anyhow!("certified_cost: {e}"))?)
        }
        Some(other) => bail!("certified_cost is {other}, expected a list of [level, radius]"),
    };
    Ok(Certificate { predicted, p_lower, standard, cost_sensitive })
}
